/*
 * prefilter.h: skip the patterns that cannot match, before PCRE2 runs.
 *
 * PCRE2 alone scans every pattern over every text, so the cost of a record
 * grows with the number of rules.  Most patterns need some literal text to
 * match ("lead gen" needs "lead"; /seo|web ?design/ needs "seo" or "web");
 * a single Aho-Corasick pass over the text finds which of all those
 * literals occur, and only the patterns with a literal present (plus the
 * few with no usable literal) go to PCRE2.  rspamd and Rust's regex crate
 * do the same.
 *
 * Text reaching the prefilter is normalized (case-folded), so literals are
 * extracted lower-cased and matched byte for byte.
 */
#ifndef DM_PREFILTER_H
#define DM_PREFILTER_H

#include "core.h"

/*
 * dm_literals_extract() finds a set of literals at least one of which
 * every match of `pattern` (PCRE2 syntax, compiled case-insensitively)
 * must contain.  On success *out is an array of *n NUL-terminated
 * lower-case strings (free with dm_literals_free) and the function returns
 * 1; it returns 0 when there is no such set worth using (a branch with no
 * literal of at least `min_len` bytes, or syntax it does not understand):
 * the pattern must then always run.  Never wrong in the unsafe direction:
 * when in doubt, it returns 0.  `extended` is the x flag.
 */
int dm_literals_extract(const char *pattern, size_t len, int extended, size_t min_len,
                        char ***out, size_t *n);
void dm_literals_free(char **lits, size_t n);

/*
 * dm_pattern_max_len() bounds how many bytes of normalized (case-folded
 * UTF-8) text one match of `pattern` consumes, or returns SIZE_MAX when it
 * cannot tell (an unbounded repeat, a backreference, syntax it does not
 * model).  With it, a match cannot start more than that many bytes before
 * the end of the first occurrence of one of the pattern's required
 * literals, so PCRE2 may start there (see dm_prefilter_scan_at).
 */
size_t dm_pattern_max_len(const char *pattern, size_t len, int extended);

/*
 * dm_pattern_analyze() is both of the above from one reading of the
 * pattern: it returns what dm_literals_extract() returns (when `out` and
 * `n` are not NULL) and sets *max_len (when not NULL) to what
 * dm_pattern_max_len() returns.  Binding a ruleset needs both for every
 * pattern, and reading a big pattern is most of the cost.
 */
int dm_pattern_analyze(const char *pattern, size_t len, int extended, size_t min_len, char ***out,
                       size_t *n, size_t *max_len);

/* An Aho-Corasick automaton over literals, each tagged with a pattern id. */
typedef struct dm_prefilter dm_prefilter;

dm_status dm_prefilter_create(dm_prefilter **out);
void dm_prefilter_free(dm_prefilter *pf);
/* dm_prefilter_add() adds `lit` for pattern `id` (ids are small dense ints). */
dm_status dm_prefilter_add(dm_prefilter *pf, const char *lit, size_t len, unsigned id);
/* dm_prefilter_build() freezes the automaton; call once, after every add. */
dm_status dm_prefilter_build(dm_prefilter *pf);
/*
 * dm_prefilter_scan() sets bit `id` in `hits` (an array of at least
 * (max id / 64 + 1) words, cleared by the caller) for every pattern one of
 * whose literals occurs in text[0..len).
 */
void dm_prefilter_scan(const dm_prefilter *pf, const char *text, size_t len, uint64_t *hits);
/*
 * Where an id's literals were found: `first_end` is the offset just past
 * the earliest-ending occurrence, `last_end` just past the latest-ending
 * one (0 and UINT32_MAX for an id with an empty literal: it occurs
 * everywhere).  A match holds one occurrence, so it starts before
 * last_end, and it ends at or after first_end.
 */
typedef struct dm_pf_span {
    uint32_t first_end, last_end;
} dm_pf_span;

/*
 * dm_prefilter_scan_at() is dm_prefilter_scan() that also fills spans[id]
 * for each id whose bit it sets (spans has an entry per id; entries of ids
 * whose bit stays clear are left alone).  For a bit already set in `hits`
 * the entry is widened by what the scan finds.
 */
void dm_prefilter_scan_at(const dm_prefilter *pf, const char *text, size_t len, uint64_t *hits,
                          dm_pf_span *spans);
/* Memory the automaton holds, in bytes (for the benchmark's report). */
size_t dm_prefilter_size(const dm_prefilter *pf);

/*
 * The compiled-rules cache (cache.h).  dm_prefilter_save() appends a built
 * automaton to `out`: its failure links and edges, from which
 * dm_prefilter_restore() rebuilds the same table.  The restore checks
 * every number it reads (states, classes, pattern ids below `nids`) and
 * fails with DM_EFORMAT on anything out of range.  With `borrow` the
 * arrays are used where they lie (a mapped file, which must then outlive
 * the automaton) instead of copied; the bytes must start 4-byte aligned
 * where `out` started.
 */
struct crd;
dm_status dm_prefilter_save(const dm_prefilter *pf, dm_buf *out);
dm_status dm_prefilter_restore(struct crd *r, uint32_t nids, int borrow, dm_prefilter **out);
/*
 * A restored automaton starts sparse: cheap to load (the dense table of
 * the default rules is 2 MB, a millisecond of page faults in a new
 * process), slower per byte, same results.  dm_prefilter_adapt() is told
 * how many bytes each scan read and builds the dense table once they add
 * up to a few hundred KB; dm_prefilter_densify() builds it now.  Either
 * is a no-op on a dense automaton.
 */
void dm_prefilter_adapt(dm_prefilter *pf, size_t len);
dm_status dm_prefilter_densify(dm_prefilter *pf);

#endif
