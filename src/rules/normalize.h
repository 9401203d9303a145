/*
 * normalize.h: text as rules see it.
 *
 * Senders dodge filters with look-alike text: fullwidth letters, math-bold
 * "𝐥𝐞𝐚𝐝 𝐠𝐞𝐧", ligatures, zero-width joiners in the middle of words, soft
 * hyphens, smart quotes, HTML entities.  Rules match the normalized text;
 * explanations show the original, through the offset map kept here.
 *
 * What normalization does, in order (docs/rules.md repeats it for users):
 *   1. HTML entities decoded (&amp; &#39; &#x2019; and the named ones).
 *   2. Invalid UTF-8 bytes replaced by U+FFFD.
 *   3. Unicode NFKC with case folding (utf8proc: COMPAT | COMPOSE |
 *      CASEFOLD | STABLE); this maps fullwidth and mathematical letters and
 *      ligatures to plain ones and lower-cases everything.
 *   4. Removed: zero-width characters (U+200B..U+200F, U+2060..U+2064,
 *      U+FEFF), soft hyphen U+00AD, combining marks left over after NFKC
 *      are kept (so "José" stays "josé").
 *   5. Folded to ASCII: smart single quotes and primes -> ', smart double
 *      quotes -> ", dashes and minus signs (U+2010..U+2015, U+2212) -> -,
 *      ellipsis -> ..., non-breaking and other Unicode spaces -> space.
 *   6. Runs of whitespace (space, tab, CR, LF, ...) collapsed to one space;
 *      leading and trailing whitespace removed.
 */
#ifndef DM_NORMALIZE_H
#define DM_NORMALIZE_H

#include "core.h"

typedef struct dm_norm {
    dm_buf text;   /* the normalized text, NUL-terminated */
    size_t *map;   /* map[i]: offset in the original of normalized byte i; map[len] = orig len */
    size_t map_cap;
    size_t orig_len;
} dm_norm;

void dm_norm_init(dm_norm *n, size_t max);
void dm_norm_free(dm_norm *n);

/*
 * dm_normalize() replaces n's content with the normalized form of
 * s[0..len).  Memory is reused between calls.  The offset map is built only
 * `with_map` (explanations need it; triage does not, and skips the cost).  Returns DM_OK, DM_ENOMEM,
 * or DM_ETOOLARGE when the result would pass the maximum given to
 * dm_norm_init().
 */
dm_status dm_normalize(dm_norm *n, const char *s, size_t len, int with_map);

/*
 * dm_norm_span() (only after dm_normalize() with_map) maps a span [start, end) of the normalized text back to
 * the original: *ostart..*oend covers every original byte that produced
 * the span (whole UTF-8 characters and whole entities).
 */
void dm_norm_span(const dm_norm *n, size_t start, size_t end, size_t *ostart, size_t *oend);

#endif
