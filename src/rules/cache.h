/*
 * cache.h: the compiled-rules cache (docs/integration.md, "Start-up time").
 *
 * A filter runs once per mail, and compiling the default rules (parsing,
 * PCRE2, the literals of every pattern, the prefilter automaton) costs
 * several times what matching one message does.  With a cache folder
 * (dm_rules_opts.cache_dir), a load whose inputs match a cached one reads
 * the ruleset as it was after its bind instead: the parsed rules, the PCRE2
 * codes (pcre2_serialize_encode) and the prefilter automaton.
 *
 * The inputs are named by the file name (a hash of the load paths and of
 * what made the program: versions, word size, byte order) and checked
 * inside it: the rule files the paths give now must be the ones cached,
 * and every rule and list file must hash to what it held when it was
 * parsed.  The bound state also depends on the profile (${me.*}): it is
 * used only by a bind whose profile hashes the same.  Anything that does
 * not match, a short read, a bad checksum or a number out of range makes
 * the load compile from the files, as without a cache, and the bind write
 * a fresh one (a temporary file renamed over the old, mode 0600).
 *
 * The reader never trusts the file: every count is checked against the
 * bytes left before anything is allocated, every index against what it
 * indexes (the prefilter's states, classes and pattern ids included), so
 * that a file that lies crashes nothing.  Only PCRE2's codes, which PCRE2
 * reads unchecked, rest on the checksum alone (and on the file being the
 * user's own, mode 0600).
 */
#ifndef DM_RULES_CACHE_H
#define DM_RULES_CACHE_H

#include "core.h"

#include <stdint.h>
#include <string.h>

typedef struct dm_ruleset dm_ruleset;
typedef struct rules_build rules_build;

/*
 * The file starts with a header of CACHE_HEADER bytes: CACHE_MAGIC, the
 * format (u32), the header's size (u32), then at CACHE_AT_KEY the key, the
 * profile's hash, the payload's length and at CACHE_AT_SUM the payload's
 * dm_hash64() seeded with the key (u64 each).  cache.c describes the rest.
 */
#define CACHE_MAGIC "DMRULEC\n"
#define CACHE_FORMAT 1u
#define CACHE_HEADER 64u
#define CACHE_AT_KEY 16u
#define CACHE_AT_ME 24u
#define CACHE_AT_LEN 32u
#define CACHE_AT_SUM 40u

/* dm_hash64() is a 64-bit hash of p[0..n) (the XXH64 construction), chained by `seed`. */
uint64_t dm_hash64(const void *p, size_t n, uint64_t seed);

/* ---- writing and reading the cache's numbers -------------------------------- */

/*
 * The cache is read only by the program that wrote it (the file name and
 * the key hold the word size and byte order), so numbers are written as
 * they are in memory.
 */
static inline dm_status cw_u8(dm_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    return dm_buf_put(b, &c, 1);
}
static inline dm_status cw_u32(dm_buf *b, uint32_t v)
{
    return dm_buf_put(b, &v, sizeof v);
}
static inline dm_status cw_u64(dm_buf *b, uint64_t v)
{
    return dm_buf_put(b, &v, sizeof v);
}

/* A reader over bytes that may be anything: past the end, it reads zeros
 * and remembers it was bad. */
typedef struct crd {
    const unsigned char *p, *end;
    int bad;
} crd;

static inline int cr_take(crd *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(out, 0, n);
        return -1;
    }
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}
static inline unsigned cr_u8(crd *r)
{
    unsigned char c;
    cr_take(r, &c, 1);
    return c;
}
static inline uint32_t cr_u32(crd *r)
{
    uint32_t v;
    cr_take(r, &v, sizeof v);
    return v;
}
static inline uint64_t cr_u64(crd *r)
{
    uint64_t v;
    cr_take(r, &v, sizeof v);
    return v;
}
/* cr_count() reads a count of things at least `each` bytes long in the
 * file: more than the bytes left can hold is bad (and reads as 0). */
static inline size_t cr_count(crd *r, size_t each)
{
    uint32_t n = cr_u32(r);
    if (r->bad || (each && n > (size_t)(r->end - r->p) / each)) {
        r->bad = 1;
        return 0;
    }
    return n;
}

/* ---- the cache of one ruleset ------------------------------------------------ */

typedef struct rules_cache {
    char *dir;    /* the cache folder */
    char *path;   /* the cache file in it */
    uint64_t key; /* the program and the load paths (the file name is its hex) */
    /* per rs->files entry: its content's hash when it was parsed, and
     * whether it is a rule file (else a list file) */
    uint64_t *hash;
    unsigned char *is_rule;
    size_t nhash;
    int status; /* a dm_cache_status */
    int snap;   /* the bound state is the one for profile `me` */
    uint64_t me;
    void *map; /* the file, mapped, when the ruleset was read from it */
    size_t maplen;
} rules_cache;

/*
 * rules_cache_open() names the cache file of a load of `paths` in `dir`;
 * NULL when out of memory.
 */
rules_cache *rules_cache_open(const char *dir, const char *const *paths, size_t npaths);
void rules_cache_free(rules_cache *c);
/* rules_cache_note() records the content of the file just interned as rs->files[i]. */
void rules_cache_note(rules_build *b, size_t i, const void *data, size_t len, int is_rule);
/*
 * rules_cache_load() reads the ruleset of a load of `paths` from the
 * cache: DM_OK with *out (owning `c`), or anything else when the load must
 * compile from the files (then `c` is still the caller's).
 */
dm_status rules_cache_load(rules_cache *c, const char *const *paths, size_t npaths, int lazy_jit,
                           dm_ruleset **out);
/*
 * rules_cache_bind() is dm_ruleset_bind() for a ruleset with a cache: the
 * cached bound state when the profile matches, else a bind that then
 * writes the cache.
 */
dm_status rules_cache_bind(dm_ruleset *rs, const dm_context *ctx, dm_error *err);

#endif
