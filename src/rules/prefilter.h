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
/* Memory the automaton holds, in bytes (for the benchmark's report). */
size_t dm_prefilter_size(const dm_prefilter *pf);

#endif
