/*
 * prefilter.c: required literals of PCRE2 patterns, and an Aho-Corasick
 * automaton that finds which of them occur in a text (see prefilter.h).
 *
 * ---- Extraction --------------------------------------------------------
 *
 * A recursive-descent reader walks the pattern once and computes, for each
 * construct X, two sets of strings:
 *
 *   exact(X)  every string X can consume, when that set is small and known
 *             ("colou?r" -> {colour, color}, "[- ]" -> {"-", " "}); else none.
 *   req(X)    a set such that the text X consumes, in every match, contains
 *             one of its strings ("\bleads?\b" -> {lead}); else none.
 *
 * A branch (a sequence of items) keeps a "segment": the exact language of
 * its consecutive items since the last one it could not model exactly.  An
 * exact item extends the segment (cross product).  Anything else closes it:
 * a class it cannot enumerate, \w, ., an item under * or {0,n}, a
 * backreference, a group with no exact language.  Zero-width items (\b, ^,
 * $, lookarounds, \K) consume nothing and leave the segment alone.
 *
 * Why a closed segment is a valid req set: the items of a segment are
 * consecutive in the pattern, each consumes one string of its exact
 * language, and what consecutive items consume is contiguous in the
 * subject, so the subject contains one string of the product.
 *
 * A branch's req is its best candidate (closed segments and the req sets of
 * groups repeated at least once); "best" has the longest shortest string,
 * then the fewest strings.  An alternation's req is the union of its
 * branches' (none when a branch has none; past 64 strings, every string is
 * cut to the longest prefix length that fits, since a prefix of a string
 * that must occur must occur too); a group's exact language is the union
 * of its branches' exact languages when every branch is one segment.
 * Quantifiers: x? adds "" to exact(x); x{n} is exact(x)^n; x+ / x{n,} /
 * x{n,m} with n >= 1 extends the segment with one copy, closes it, and
 * starts the next with one copy (the first copy follows what precedes, the
 * last precedes what follows); x* and x{0,n} close the segment.
 *
 * Safety: reading something as a literal that is not one is the only way to
 * be wrong, so every construct not understood either closes the segment
 * (it consumes something unknown: always safe) or, where the reader could
 * lose track of the structure (verbs such as (*ACCEPT), conditionals,
 * callouts, unknown escapes or group kinds, a (?x) or (?-i) inside the
 * pattern), makes the whole extraction fail.  Case: the pattern is
 * caseless and the text case-folded, so ASCII letters are lowered; under
 * PCRE2_UTF the only non-ASCII characters a caseless ASCII letter matches
 * are U+212A (k) and U+017F (s), which NFKC_Casefold turns into "k" and
 * "s", so they never reach the prefilter.  Non-ASCII characters in the
 * pattern are never part of a literal.  test_prefilter.c checks all of this
 * against PCRE2 itself.
 *
 * ---- Automaton ---------------------------------------------------------
 *
 * Bytes that occur in some literal get a class each, all others share class
 * 0.  The trie is built over sorted literals (so the number of states is
 * known before allocating) as first-child/next-sibling lists.  A
 * breadth-first walk numbers the states and fills the dense table row by
 * row: a state's row is its failure state's row (complete, being
 * shallower) with its own edges on top, which resolves the failure links
 * into a full DFA without a second table.  Each state gets the sorted,
 * deduplicated ids of every literal ending there or down its failure
 * chain.  Finally the states without outputs are renumbered first, so "the
 * new state has outputs" is one compare: the scan loop is one load per byte
 * and a compare.  Up to 65536 states a cell is 16 bits (1,000 rules: about
 * 2 MB); above, 32-bit offsets premultiplied by the class count.
 */
#include "prefilter.h"
#include "cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * Literal extraction
 * ====================================================================== */

#define LIT_CAP 64   /* strings in a set */
#define LIT_MAX 48   /* bytes in a string: a longer segment is closed early */
#define CLASS_MAX 8  /* members of a class read as an exact set */
#define DEPTH_MAX 48 /* nested groups */

typedef struct lset {
    size_t n;
    struct lset *next;   /* on the parser's pool while free */
    uint32_t h[LIT_CAP]; /* FNV-1a of each string: compared before the bytes */
    unsigned char len[LIT_CAP];
    char s[LIT_CAP][LIT_MAX];
} lset;

typedef struct parser {
    const unsigned char *p, *end;
    int extended;
    int quote; /* inside \Q...\E */
    int fail;  /* gave up: the pattern has no usable set */
    /* sets freed so far, reused: a pattern makes thousands */
    struct lset *pool;
} parser;

enum { AT_END, AT_EXACT, AT_REQ, AT_OPAQUE, AT_ZERO };

typedef struct atom {
    int kind;
    lset *set; /* AT_EXACT: the exact language; AT_REQ: the req set */
    int has_w; /* w is known; otherwise the atom is one character (W_CHAR) */
    size_t w;  /* most bytes one copy consumes, W_INF: unbounded */
} atom;

typedef struct lang {
    lset *exact, *req;
    size_t w; /* most bytes a match consumes, W_INF: unbounded */
} lang;

/* Widths: one character is at most 4 bytes of UTF-8 */
#define W_CHAR 4
#define W_INF SIZE_MAX

static size_t w_add(size_t a, size_t b)
{
    return a == W_INF || b == W_INF || a > W_INF - b ? W_INF : a + b;
}

static size_t w_mul(size_t a, unsigned n)
{
    if (a == 0 || n == 0)
        return 0;
    return a == W_INF || n == UINT32_MAX || a > W_INF / n ? W_INF : a * n;
}

typedef struct quant {
    unsigned min, max; /* max UINT32_MAX: unbounded */
    int certain;       /* 0: a brace form PCRE2 versions read differently */
} quant;

typedef struct seq {
    lset *seg;  /* exact language of the open segment, {""} when empty */
    int whole;  /* the segment spans the whole branch so far */
    lset *best; /* best req candidate so far, or NULL */
} seq;

static lang parse_alt(parser *ps, int depth);
static void reduce(lset *a);

/* ---- sets of strings ---- */

#define FNV_BASIS 2166136261u

/* fnv() continues an FNV-1a hash over s[0..n): a string's hash extended by
 * a suffix is the hash of the concatenation (product() relies on it). */
static uint32_t fnv(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Sets come from the parser's pool, and go back to it: a big pattern makes
 * and drops thousands, and each is 3 KB, past malloc's small-size caches. */
static lset *lset_new(parser *ps)
{
    lset *s = ps->pool;
    if (s)
        ps->pool = s->next;
    else if (!(s = dm_malloc(sizeof *s))) {
        ps->fail = 1;
        return NULL;
    }
    s->n = 0;
    return s;
}

static void lset_free(parser *ps, lset *s)
{
    if (s) {
        s->next = ps->pool;
        ps->pool = s;
    }
}

static void pool_drain(parser *ps)
{
    while (ps->pool) {
        lset *next = ps->pool->next;
        dm_free(ps->pool);
        ps->pool = next;
    }
}

/* lset_put() adds s (hash h) unless it is there; 0, or -1 past the caps. */
static int lset_put(lset *a, const char *s, size_t len, uint32_t h)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->h[i] == h && a->len[i] == len && memcmp(a->s[i], s, len) == 0)
            return 0;
    if (a->n == LIT_CAP || len > LIT_MAX)
        return -1;
    a->h[a->n] = h;
    a->len[a->n] = (unsigned char)len;
    memcpy(a->s[a->n], s, len);
    a->n++;
    return 0;
}

/* lset_add() returns 0, or -1 when the set is full (a duplicate is fine). */
static int lset_add(lset *a, const char *s, size_t len)
{
    return lset_put(a, s, len, fnv(FNV_BASIS, s, len));
}

static lset *lset_one(parser *ps, const char *s, size_t len)
{
    lset *a = lset_new(ps);
    if (a)
        (void)lset_add(a, s, len);
    return a;
}

static lset *lset_copy(parser *ps, const lset *a)
{
    lset *s = lset_new(ps);
    if (s) {
        s->n = a->n;
        memcpy(s->h, a->h, a->n * sizeof *a->h);
        memcpy(s->len, a->len, a->n);
        memcpy(s->s, a->s, a->n * sizeof *a->s);
    }
    return s;
}

static size_t lset_minlen(const lset *a)
{
    size_t m = a->n ? LIT_MAX + 1 : 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->len[i] < m)
            m = a->len[i];
    return m;
}

static size_t lset_maxlen(const lset *a)
{
    size_t m = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->len[i] > m)
            m = a->len[i];
    return m;
}

/* lset_union() moves b into a; returns a, or NULL (both freed) past the cap. */
static lset *lset_union(parser *ps, lset *a, lset *b)
{
    if (!a || !b) {
        lset_free(ps, a);
        lset_free(ps, b);
        return NULL;
    }
    for (size_t i = 0; i < b->n; i++)
        if (lset_put(a, b->s[i], b->len[i], b->h[i]) < 0) {
            lset_free(ps, a);
            a = NULL;
            break;
        }
    lset_free(ps, b);
    return a;
}

/* product() sets *out to a x b; returns 0 (no set made) past the caps. */
static int product(parser *ps, const lset *a, const lset *b, lset **out)
{
    *out = NULL;
    if (a->n * b->n > LIT_CAP || lset_maxlen(a) + lset_maxlen(b) > LIT_MAX)
        return 0;
    lset *r = lset_new(ps);
    if (!r)
        return 0;
    char tmp[LIT_MAX];
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) {
            memcpy(tmp, a->s[i], a->len[i]);
            memcpy(tmp + a->len[i], b->s[j], b->len[j]);
            uint32_t h = fnv(a->h[i], b->s[j], b->len[j]);
            (void)lset_put(r, tmp, (size_t)a->len[i] + b->len[j], h); /* fits: n <= cap */
        }
    *out = r;
    return 1;
}

/* A string of a set seen from outside it: reduce() and req_merge() work on these. */
typedef struct sref {
    const char *s;
    size_t len;
    uint64_t bytes; /* bit (c & 63) for each byte c: a substring's bits are a subset */
} sref;

static uint64_t byte_bits(const char *s, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m |= (uint64_t)1 << ((unsigned char)s[i] & 63);
    return m;
}

static int contains(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0)
        return 1;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == nd[0] && memcmp(h + i + 1, nd + 1, nn - 1) == 0)
            return 1;
    return 0;
}

/*
 * reduce_refs() drops every string that contains a shorter one of r[0..n)
 * (a text containing it contains the shorter one, so the set says the
 * same), keeping the order of the others; returns how many are left.
 * Containment is transitive, so what is left does not depend on the order
 * strings were dropped in.  The byte bits reject most pairs at once.
 */
static size_t reduce_refs(sref *r, size_t n)
{
    /* only a shorter string can be dropped for: visit them by length */
    size_t start[LIT_MAX + 2] = {0}, by_len_s[LIT_CAP], k = 0;
    unsigned char drop_s[LIT_CAP] = {0};
    if (n < 2)
        return n;
    size_t *by_len = n <= LIT_CAP ? by_len_s : dm_malloc(n * sizeof *by_len);
    unsigned char *drop = n <= LIT_CAP ? drop_s : dm_calloc(n, 1);
    if (!by_len || !drop) { /* keeping them all is what a set without reduce says */
        if (n > LIT_CAP) {
            dm_free(by_len);
            dm_free(drop);
        }
        return n;
    }
    for (size_t i = 0; i < n; i++)
        start[r[i].len + 1]++;
    for (size_t l = 0; l <= LIT_MAX; l++)
        start[l + 1] += start[l];
    for (size_t i = 0; i < n; i++)
        by_len[start[r[i].len]++] = i; /* start[l] moves to length l's end */
    for (size_t a = 0, b = 0; a < n; a = b) { /* [a, b): one length */
        size_t len = r[by_len[a]].len;
        for (b = a; b < n && r[by_len[b]].len == len; b++) {
            const sref *x = &r[by_len[b]];
            for (size_t j = 0; j < a && !drop[by_len[b]]; j++) {
                const sref *y = &r[by_len[j]];
                drop[by_len[b]] = !(y->bytes & ~x->bytes) && contains(x->s, x->len, y->s, y->len);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!drop[i])
            r[k++] = r[i];
    if (n > LIT_CAP) {
        dm_free(by_len);
        dm_free(drop);
    }
    return k;
}

/* reduce() is reduce_refs() on a set. */
static void reduce(lset *a)
{
    sref r[LIT_CAP];
    for (size_t i = 0; i < a->n; i++)
        r[i] = (sref){a->s[i], a->len[i], byte_bits(a->s[i], a->len[i])};
    size_t k = reduce_refs(r, a->n);
    if (k == a->n)
        return;
    /* survivors keep their order, so each moves down or stays */
    for (size_t i = 0; i < k; i++) {
        size_t from = (size_t)(r[i].s - a->s[0]) / LIT_MAX;
        if (from != i) {
            a->h[i] = a->h[from];
            a->len[i] = a->len[from];
            memcpy(a->s[i], a->s[from], a->len[from]);
        }
    }
    a->n = k;
}

static int cmp_sref(const void *x, const void *y)
{
    const sref *a = x, *b = y;
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* same_cut() says whether a and b have the same first min(len, cut) bytes. */
static int same_cut(const sref *a, const sref *b, size_t cut)
{
    size_t la = a->len < cut ? a->len : cut, lb = b->len < cut ? b->len : cut;
    return la == lb && memcmp(a->s, b->s, la) == 0;
}

/*
 * req_merge() is the req set of an alternation: the union of its branches'
 * req sets.  Past the cap, every string is cut to the longest length that
 * brings the number of distinct prefixes under it (a prefix of a string
 * that must occur must occur too); NULL when even one byte is too many.
 * It sorts the union once: strings with the same prefix are then adjacent,
 * so the prefixes of a length are counted in one pass, where merging the
 * branches two by two cost a quadratic dedupe per branch.
 */
static lset *req_merge(parser *ps, lset *const *sets, size_t nsets)
{
    size_t t = 0, k = 0;
    for (size_t i = 0; i < nsets; i++)
        t += sets[i]->n;
    sref *r = dm_malloc((t ? t : 1) * sizeof *r);
    lset *out = NULL;
    if (!r) {
        ps->fail = 1;
        return NULL;
    }
    for (size_t i = 0; i < nsets; i++)
        for (size_t j = 0; j < sets[i]->n; j++)
            r[k++] =
                (sref){sets[i]->s[j], sets[i]->len[j], byte_bits(sets[i]->s[j], sets[i]->len[j])};
    qsort(r, t, sizeof *r, cmp_sref);
    k = 0;
    for (size_t i = 0; i < t; i++)
        if (k == 0 || cmp_sref(&r[k - 1], &r[i]) != 0)
            r[k++] = r[i];
    t = reduce_refs(r, k);
    size_t cut = LIT_MAX;
    if (t > LIT_CAP) {
        /* the number of distinct prefixes grows with their length */
        for (; cut > 0; cut--) {
            size_t distinct = 1;
            for (size_t i = 1; i < t && distinct <= LIT_CAP; i++)
                distinct += !same_cut(&r[i - 1], &r[i], cut);
            if (distinct <= LIT_CAP)
                break;
        }
        if (cut == 0)
            goto out;
    }
    if (!(out = lset_new(ps)))
        goto out;
    for (size_t i = 0; i < t; i++)
        if (i == 0 || !same_cut(&r[i - 1], &r[i], cut))
            (void)lset_add(out, r[i].s, r[i].len < cut ? r[i].len : cut); /* fits */
    reduce(out);
out:
    dm_free(r);
    return out;
}

/* ---- sequences ---- */

/* better(): a's shortest string is longer than b's, or as long with fewer. */
static int better(const lset *a, const lset *b)
{
    if (!b)
        return 1;
    size_t ma = lset_minlen(a), mb = lset_minlen(b);
    if (ma != mb)
        return ma > mb;
    return a->n < b->n;
}

/* offer() takes `cand`, a req candidate, and keeps it if it is the best. */
static void offer(parser *ps, seq *q, lset *cand)
{
    if (!cand)
        return;
    if (cand->n == 0 || lset_minlen(cand) == 0) { /* "" occurs in every text */
        lset_free(ps, cand);
        return;
    }
    /* reduce() never drops a shortest string, so only a tie on the
     * shortest length needs the reduced count to compare */
    if (q->best && lset_minlen(cand) < lset_minlen(q->best)) {
        lset_free(ps, cand);
        return;
    }
    reduce(cand);
    if (better(cand, q->best)) {
        lset_free(ps, q->best);
        q->best = cand;
    } else {
        lset_free(ps, cand);
    }
}

/* close_seg() makes the open segment a candidate and starts an empty one. */
static void close_seg(parser *ps, seq *q)
{
    lset *e = lset_one(ps, "", 0);
    if (!e)
        return;
    offer(ps, q, q->seg);
    q->seg = e;
    q->whole = 0;
}

/* extend() appends an exact language to the segment, closing it first when
 * the product would pass the caps. */
static void extend(parser *ps, seq *q, const lset *l)
{
    lset *r;
    if (l->n == 1 && lset_maxlen(q->seg) + l->len[0] <= LIT_MAX) {
        /* one string (a literal character, mostly): append it in place;
         * distinct strings with the same suffix stay distinct */
        lset *g = q->seg;
        for (size_t i = 0; i < g->n; i++) {
            memcpy(g->s[i] + g->len[i], l->s[0], l->len[0]);
            g->len[i] = (unsigned char)(g->len[i] + l->len[0]);
            g->h[i] = fnv(g->h[i], l->s[0], l->len[0]);
        }
        return;
    }
    if (!product(ps, q->seg, l, &r)) {
        if (ps->fail)
            return;
        close_seg(ps, q);
        if (ps->fail || !product(ps, q->seg, l, &r)) { /* {""} x l always fits */
            ps->fail = 1;
            return;
        }
    }
    lset_free(ps, q->seg);
    q->seg = r;
}

/* power() is l^n, or NULL past the caps. */
static lset *power(parser *ps, const lset *l, unsigned n)
{
    if (n > LIT_MAX)
        return NULL;
    lset *r = lset_copy(ps, l);
    for (unsigned i = 1; r && i < n; i++) {
        lset *t;
        int ok = product(ps, r, l, &t);
        lset_free(ps, r);
        r = ok ? t : NULL;
    }
    return r;
}

static void apply_exact(parser *ps, seq *q, lset *l, const quant *qu)
{
    if (!qu->certain || (qu->min == 0 && qu->max != 1)) {
        close_seg(ps, q); /* *, {0,n}: may consume nothing or anything */
        return;
    }
    if (qu->min == 0) { /* ? */
        if (lset_add(l, "", 0) < 0)
            close_seg(ps, q);
        else
            extend(ps, q, l);
        return;
    }
    if (qu->min == qu->max) {
        lset *pw = power(ps, l, qu->min);
        if (pw) {
            extend(ps, q, pw);
            lset_free(ps, pw);
            return;
        }
        if (ps->fail)
            return;
    }
    /* at least one copy: the first follows the segment, the last precedes
     * what comes next */
    extend(ps, q, l);
    if (!ps->fail)
        close_seg(ps, q);
    if (!ps->fail)
        extend(ps, q, l);
}

static void apply(parser *ps, seq *q, atom *a, const quant *qu)
{
    if (!qu->certain) { /* the braces may be literal text: what follows is apart */
        close_seg(ps, q);
        lset_free(ps, a->set);
        a->set = NULL;
        return;
    }
    switch (a->kind) {
    case AT_ZERO: break; /* consumes nothing, repeated or not */
    case AT_OPAQUE: close_seg(ps, q); break;
    case AT_REQ:
        close_seg(ps, q);
        if (!ps->fail && qu->certain && qu->min >= 1) {
            offer(ps, q, a->set);
            a->set = NULL;
        }
        break;
    case AT_EXACT: apply_exact(ps, q, a->set, qu); break;
    }
    lset_free(ps, a->set);
    a->set = NULL;
}

/* ---- lexical helpers ---- */

static int is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}
static int is_alnum(unsigned c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_xdigit(unsigned c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
static int is_space(unsigned c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}
static char lower(unsigned c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* utf8_skip() returns the end of the UTF-8 character at p, or NULL. */
static const unsigned char *utf8_skip(const unsigned char *p, const unsigned char *end)
{
    size_t n = *p >= 0xF0 && *p <= 0xF4 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC2 ? 2 : 0;
    if (n == 0 || *p > 0xF4 || (size_t)(end - p) < n)
        return NULL;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return NULL;
    return p + n;
}

/* Pattern white space under PCRE2_EXTENDED besides ASCII: NEL, LRM, RLM,
 * LS, PS.  Returns its length, or 0. */
static size_t uspace(const unsigned char *p, const unsigned char *end)
{
    if (end - p >= 2 && p[0] == 0xC2 && p[1] == 0x85)
        return 2;
    if (end - p >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
        (p[2] == 0x8E || p[2] == 0x8F || p[2] == 0xA8 || p[2] == 0xA9))
        return 3;
    return 0;
}

/* skip_past() returns the byte after the first `term` at or after p, or
 * NULL when there is none. */
static const unsigned char *skip_past(const unsigned char *p, const unsigned char *end,
                                      unsigned char term)
{
    const unsigned char *t = memchr(p, term, (size_t)(end - p));
    return t ? t + 1 : NULL;
}

/* skip_name() skips a group name and its terminator, or returns NULL. */
static const unsigned char *skip_name(const unsigned char *p, const unsigned char *end,
                                      unsigned char term)
{
    while (p < end && (is_alnum(*p) || *p == '_' || *p >= 0x80))
        p++;
    return p < end && *p == term ? p + 1 : NULL;
}

/*
 * skip_ignorable() skips what PCRE2 ignores between items: \E, an empty
 * \Q\E, (?#...) comments and, under x, white space and #-comments.  It
 * enters quote mode on \Q.
 */
static void skip_ignorable(parser *ps)
{
    while (!ps->fail && ps->p < ps->end) {
        const unsigned char *p = ps->p, *end = ps->end;
        if (end - p >= 2 && p[0] == '\\' && p[1] == 'E') {
            ps->quote = 0;
            ps->p += 2;
            continue;
        }
        if (ps->quote)
            return;
        if (end - p >= 2 && p[0] == '\\' && p[1] == 'Q') {
            ps->quote = 1;
            ps->p += 2;
            continue;
        }
        if (end - p >= 3 && p[0] == '(' && p[1] == '?' && p[2] == '#') {
            ps->p = skip_past(p + 3, end, ')');
            if (!ps->p) {
                ps->p = end;
                ps->fail = 1;
            }
            continue;
        }
        if (!ps->extended)
            return;
        if (is_space(*p)) {
            ps->p++;
            continue;
        }
        size_t u = uspace(p, end);
        if (u) {
            ps->p += u;
            continue;
        }
        if (*p != '#')
            return;
        /* A comment runs to the newline; PCRE2 builds with another newline
         * convention end it elsewhere, so any other line break gives up. */
        for (p++; p < end && *p != '\n'; p++)
            if (*p == '\r' || *p == '\v' || *p == '\f' || uspace(p, end) == 2 ||
                (uspace(p, end) == 3 && p[2] >= 0xA8)) {
                ps->fail = 1;
                return;
            }
        ps->p = p < end ? p + 1 : end;
    }
}

/*
 * brace_quant() reads a {...} quantifier at p.  Returns 0 when PCRE2 reads
 * the brace as a literal, 1 for the forms every PCRE2 reads as a quantifier
 * ({n} {n,} {n,m}), 2 for forms some versions read as a quantifier and
 * others as literal text ({,m}, spaces inside: 10.43).
 */
static int brace_quant(const unsigned char *p, const unsigned char *end, quant *q,
                       const unsigned char **after)
{
    const unsigned char *s = p + 1;
    unsigned long n1 = 0, n2 = 0;
    int d1 = 0, d2 = 0, comma = 0;
    for (; s < end && is_digit(*s); s++, d1++)
        n1 = n1 < 1000000 ? n1 * 10 + (*s - '0') : n1;
    if (d1 && s < end && *s == ',') {
        comma = 1;
        for (s++; s < end && is_digit(*s); s++, d2++)
            n2 = n2 < 1000000 ? n2 * 10 + (*s - '0') : n2;
    }
    if (d1 && s < end && *s == '}') {
        q->min = (unsigned)n1;
        q->max = !comma ? (unsigned)n1 : d2 ? (unsigned)n2 : UINT32_MAX;
        q->certain = 1;
        *after = s + 1;
        return 1;
    }
    /* the looser 10.43 syntax */
    s = p + 1;
    d1 = d2 = 0;
    while (s < end && is_space(*s))
        s++;
    while (s < end && is_digit(*s))
        s++, d1++;
    while (s < end && is_space(*s))
        s++;
    if (s < end && *s == ',') {
        for (s++; s < end && is_space(*s); s++)
            ;
        while (s < end && is_digit(*s))
            s++, d2++;
        while (s < end && is_space(*s))
            s++;
    }
    if ((d1 || d2) && s < end && *s == '}') {
        q->min = 0;
        q->max = UINT32_MAX;
        q->certain = 0;
        *after = s + 1;
        return 2;
    }
    return 0;
}

/* read_quant() reads the quantifier after an item, if any. */
static quant read_quant(parser *ps)
{
    quant q = {1, 1, 1};
    skip_ignorable(ps);
    if (ps->fail || ps->quote || ps->p >= ps->end)
        return q;
    const unsigned char *after = NULL;
    switch (*ps->p) {
    case '*': q.min = 0, q.max = UINT32_MAX, after = ps->p + 1; break;
    case '+': q.min = 1, q.max = UINT32_MAX, after = ps->p + 1; break;
    case '?': q.min = 0, q.max = 1, after = ps->p + 1; break;
    case '{':
        if (!brace_quant(ps->p, ps->end, &q, &after))
            return q;
        break;
    default: return q;
    }
    ps->p = after;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '?')) /* possessive, lazy */
        ps->p++;
    return q;
}

/* ---- items ---- */

static atom literal(parser *ps, unsigned c)
{
    atom a = {AT_OPAQUE, NULL, 1, 1};
    char ch = lower(c);
    /* caseless, k and s also match U+212A and U+017F */
    if (ch == 'k' || ch == 's')
        a.w = 3;
    if (c == 0) /* cannot be in a C string */
        return a;
    a.set = lset_one(ps, &ch, 1);
    if (a.set)
        a.kind = AT_EXACT;
    return a;
}

/* a non-ASCII character: consumed, never part of a literal */
static atom non_ascii(parser *ps)
{
    atom a = {AT_OPAQUE, NULL, 0, 0};
    ps->p = utf8_skip(ps->p, ps->end);
    if (!ps->p) {
        ps->p = ps->end;
        ps->fail = 1;
    }
    return a;
}

/* escape -> '\' ( punct | [aefnrt] | [bBAzZGK] | class-escape | ref | ... ) */
static atom parse_escape(parser *ps)
{
    atom a = {AT_OPAQUE, NULL, 0, 0};
    const unsigned char *p = ps->p, *end = ps->end;
    if (end - p < 2) {
        ps->fail = 1;
        return a;
    }
    unsigned d = p[1];
    if (d >= 0x80) {
        ps->p++;
        return non_ascii(ps);
    }
    if (!is_alnum(d)) {
        ps->p += 2;
        return literal(ps, d);
    }
    p += 2;
    if (strchr("bBAzZGK", (int)d)) { /* assertions: consume nothing */
        ps->p = p;
        a.kind = AT_ZERO;
        return a;
    }
    if (strchr("dDwWsShHvVRXC", (int)d)) { /* character types: consume something */
        ps->p = p;
        if (d == 'X' || d == 'R') { /* a grapheme cluster: any length; \R: CR LF */
            a.has_w = 1;
            a.w = d == 'X' ? W_INF : 2 * W_CHAR;
        }
        return a;
    }
    switch (d) {
    case 'a': ps->p = p; return literal(ps, 0x07);
    case 'e': ps->p = p; return literal(ps, 0x1B);
    case 'f': ps->p = p; return literal(ps, 0x0C);
    case 'n': ps->p = p; return literal(ps, 0x0A);
    case 'r': ps->p = p; return literal(ps, 0x0D);
    case 't': ps->p = p; return literal(ps, 0x09);
    case 'N': /* \N{U+hh} is a character; \N alone any non-newline */
        if (end - p >= 3 && p[0] == '{' && p[1] == 'U' && p[2] == '+')
            p = skip_past(p, end, '}');
        break;
    case 'x':
        if (p < end && *p == '{')
            p = skip_past(p, end, '}');
        else
            for (int i = 0; i < 2 && p < end && is_xdigit(*p); i++)
                p++;
        break;
    case 'o': p = p < end && *p == '{' ? skip_past(p, end, '}') : NULL; break;
    case 'c': p = p < end && *p < 0x80 ? p + 1 : NULL; break;
    case 'p':
    case 'P':
        if (p < end && *p == '{')
            p = skip_past(p, end, '}');
        else
            p = p < end && *p < 0x80 ? p + 1 : NULL;
        break;
    case 'g': /* \g{n} \g{name} \g<name> \g'name' \gn \g-n \g+n */
        a.has_w = 1, a.w = W_INF;
        if (p < end && *p == '{')
            p = skip_past(p, end, '}');
        else if (p < end && *p == '<')
            p = skip_past(p, end, '>');
        else if (p < end && *p == '\'')
            p = skip_past(p + 1, end, '\'');
        else {
            if (p < end && (*p == '+' || *p == '-'))
                p++;
            if (p >= end || !is_digit(*p))
                p = NULL;
            else
                while (p < end && is_digit(*p))
                    p++;
        }
        break;
    case 'k': /* \k<name> \k'name' \k{name} */
        a.has_w = 1, a.w = W_INF;
        if (p < end && *p == '<')
            p = skip_past(p, end, '>');
        else if (p < end && *p == '\'')
            p = skip_past(p + 1, end, '\'');
        else if (p < end && *p == '{')
            p = skip_past(p, end, '}');
        else
            p = NULL;
        break;
    default:
        if (is_digit(d)) { /* backreference or octal: consume every digit */
            a.has_w = 1, a.w = W_INF;
            while (p < end && is_digit(*p))
                p++;
            break;
        }
        p = NULL; /* an escape PCRE2 rejects, or one not modelled */
        break;
    }
    if (!p) {
        ps->fail = 1;
        p = end;
    }
    ps->p = p;
    return a;
}

/* posix_end() mirrors PCRE2's check_posix_syntax(): p is at the ':', '.' or
 * '=' after '['; returns the terminator before the closing ']', or NULL. */
static const unsigned char *posix_end(const unsigned char *p, const unsigned char *end)
{
    unsigned char term = *p++;
    for (; end - p >= 2; p++) {
        if (*p == '\\' && (p[1] == ']' || p[1] == '\\'))
            p++;
        else if ((*p == '[' && p[1] == term) || *p == ']')
            return NULL;
        else if (*p == term && p[1] == ']')
            return p;
    }
    return NULL;
}

/*
 * class -> '[' '^'? ']'? member* ']'
 * An exact set when it is small, not negated, with no range, escape class,
 * POSIX class or non-ASCII member; otherwise it consumes "something".
 */
static atom parse_class(parser *ps)
{
    atom a = {AT_OPAQUE, NULL, 0, 0};
    const unsigned char *p = ps->p + 1, *end = ps->end;
    unsigned char member[128] = {0};
    int neg = 0, ok = 1, quote = 0, first = 1, n = 0;

    for (;;) { /* PCRE2 skips these before the first real character */
        if (end - p >= 2 && p[0] == '\\' && p[1] == 'E')
            p += 2;
        else if (end - p >= 4 && memcmp(p, "\\Q\\E", 4) == 0)
            p += 4;
        else if (!neg && p < end && *p == '^')
            neg = 1, p++;
        else
            break;
    }
    for (;;) {
        if (p >= end) {
            ps->fail = 1;
            ps->p = end;
            return a;
        }
        unsigned c = *p;
        if (quote) {
            if (c == '\\' && end - p >= 2 && p[1] == 'E') {
                quote = 0;
                p += 2;
                continue;
            }
            if (c == '-')
                ok = 0;
        } else if (c == ']' && !first) {
            p++;
            break;
        } else if (c == '\\') {
            if (end - p < 2) {
                ps->fail = 1;
                ps->p = end;
                return a;
            }
            unsigned d = p[1];
            if (d == 'Q' || d == 'E') {
                quote = d == 'Q';
                p += 2;
                first = 0;
                continue;
            }
            if (d < 0x80 && !is_alnum(d)) {
                n += !member[d];
                member[d] = 1;
                p += 2;
                first = 0;
                continue;
            }
            ok = 0;
            if (d >= 0x80) {
                p++; /* the character itself, skipped below */
                c = *p;
            } else {
                if (d == 'c')
                    p += end - p >= 3 ? 3 : 2;
                else if (strchr("xopPNgk", (int)d) && end - p >= 3 && p[2] == '{')
                    p = skip_past(p + 2, end, '}');
                else
                    p += 2;
                if (!p) {
                    ps->fail = 1;
                    ps->p = end;
                    return a;
                }
                first = 0;
                continue;
            }
        } else if (c == '[' && end - p >= 3 && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            const unsigned char *t = posix_end(p + 1, end);
            if (t) {
                p = t + 2;
                ok = 0;
                first = 0;
                continue;
            }
        } else if (c == '-' && !first && !(end - p >= 2 && p[1] == ']')) {
            ok = 0; /* a range */
        }
        first = 0;
        if (c >= 0x80) {
            ok = 0;
            p = utf8_skip(p, end);
            if (!p) {
                ps->fail = 1;
                ps->p = end;
                return a;
            }
            continue;
        }
        if (c == 0) {
            ok = 0;
        } else {
            n += !member[(unsigned char)lower(c)];
            member[(unsigned char)lower(c)] = 1;
        }
        p++;
    }
    ps->p = p;
    if (!ok || neg || n == 0 || n > CLASS_MAX)
        return a;
    a.set = lset_new(ps);
    if (!a.set)
        return a;
    for (unsigned c = 1; c < 128; c++)
        if (member[c]) {
            char ch = (char)c;
            (void)lset_add(a.set, &ch, 1);
        }
    a.kind = AT_EXACT;
    return a;
}

/*
 * group -> '(' ( '?:' | '?|' | '?>' | '?<name>' | "?P<name>" | "?'name'" |
 *                '?' flags ':' | ) alt ')'
 *        | '(' ( '?=' | '?!' | '?<=' | '?<!' ) alt ')'       zero width
 *        | '(?' flags ')'                                     option setting
 *        | '(?' ( 'R' | [+-]?digits | '&' name | 'P=' name | 'P>' name ) ')'
 * Returns 1 for an option setting (no item), 0 otherwise.
 */
static int parse_group(parser *ps, int depth, atom *a)
{
    const unsigned char *p = ps->p + 1, *end = ps->end;
    int look = 0;
    a->kind = AT_OPAQUE;
    a->set = NULL;
    a->has_w = 0;
    if (p < end && *p == '*') { /* (*VERB), (*UTF), (*napla:...): not modelled */
        ps->fail = 1;
        return 0;
    }
    if (p < end && *p == '?') {
        p++;
        unsigned c = p < end ? *p : 0;
        unsigned c1 = end - p >= 2 ? p[1] : 0;
        if (c == ':' || c == '|' || c == '>') {
            p++;
        } else if (c == '=' || c == '!') {
            p++;
            look = 1;
        } else if (c == '<' && (c1 == '=' || c1 == '!')) {
            p += 2;
            look = 1;
        } else if (c == '<' && (c1 == '_' || (is_alnum(c1) && !is_digit(c1)))) {
            p = skip_name(p + 1, end, '>');
        } else if (c == 'P' && c1 == '<') {
            p = skip_name(p + 2, end, '>');
        } else if (c == '\'') {
            p = skip_name(p + 1, end, '\'');
        } else if ((c == 'P' && (c1 == '=' || c1 == '>')) || c == '&') {
            /* a named backreference or subroutine call: consumes something */
            a->has_w = 1, a->w = W_INF;
            p = skip_name(p + (c == 'P' ? 2 : 1), end, ')');
            ps->p = p ? p : end;
            ps->fail |= !p;
            return 0;
        } else if (c == 'R' || is_digit(c) || ((c == '+' || c == '-') && is_digit(c1))) {
            a->has_w = 1, a->w = W_INF;
            for (p++; p < end && is_digit(*p); p++) /* recursion */
                ;
            ps->fail |= !(p < end && *p == ')');
            ps->p = p < end ? p + 1 : end;
            return 0;
        } else {
            /* Option letters.  Caseless must stay on (the literals are
             * lowered) and x must not change (white space would change
             * meaning); m s n U J only change what we treat as opaque. */
            int negate = 0;
            for (; p < end && *p != ')' && *p != ':'; p++) {
                if (*p == '-' && !negate)
                    negate = 1;
                else if (!(*p == 'i' && !negate) && !(*p && strchr("msnUJ", *p))) {
                    ps->fail = 1;
                    return 0;
                }
            }
            if (p >= end) {
                ps->fail = 1;
                return 0;
            }
            if (*p == ')') {
                ps->p = p + 1;
                return 1;
            }
            p++;
        }
    }
    if (!p) {
        ps->fail = 1;
        ps->p = end;
        return 0;
    }
    ps->p = p;
    lang l = parse_alt(ps, depth + 1);
    if (!ps->fail && (ps->p >= end || *ps->p != ')'))
        ps->fail = 1;
    if (ps->fail) {
        lset_free(ps, l.exact);
        lset_free(ps, l.req);
        return 0;
    }
    ps->p++;
    a->has_w = 1;
    a->w = look ? 0 : l.w;
    if (look) {
        a->kind = AT_ZERO;
        lset_free(ps, l.exact);
        lset_free(ps, l.req);
    } else if (l.exact) {
        a->kind = AT_EXACT;
        a->set = l.exact;
        lset_free(ps, l.req);
    } else if (l.req) {
        a->kind = AT_REQ;
        a->set = l.req;
    }
    return 0;
}

/* atom -> literal | escape | class | group | '.' | '^' | '$'; AT_END at
 * '|', ')' or the end of the pattern. */
static atom parse_atom(parser *ps, int depth)
{
    atom a = {AT_END, NULL, 0, 0};
    for (;;) {
        skip_ignorable(ps);
        if (ps->fail || ps->p >= ps->end)
            return a;
        unsigned c = *ps->p;
        if (ps->quote) {
            if (c >= 0x80)
                return non_ascii(ps);
            ps->p++;
            return literal(ps, c);
        }
        switch (c) {
        case '|':
        case ')': return a;
        case '(':
            if (parse_group(ps, depth, &a))
                continue;
            return a;
        case '[': return parse_class(ps);
        case '.':
            a.kind = AT_OPAQUE;
            ps->p++;
            return a;
        case '^':
        case '$':
            a.kind = AT_ZERO;
            ps->p++;
            return a;
        case '\\': return parse_escape(ps);
        case '*':
        case '+':
        case '?': ps->fail = 1; return a; /* a quantifier with nothing before */
        case '{': {
            quant q;
            const unsigned char *after;
            if (brace_quant(ps->p, ps->end, &q, &after)) {
                ps->fail = 1;
                return a;
            }
            ps->p++;
            return literal(ps, c);
        }
        default:
            if (c >= 0x80)
                return non_ascii(ps);
            ps->p++;
            return literal(ps, c);
        }
    }
}

/* seq -> ( atom quant? )* */
static lang parse_seq(parser *ps, int depth)
{
    lang out = {NULL, NULL, 0};
    seq q = {lset_one(ps, "", 0), 1, NULL};
    while (!ps->fail) {
        atom a = parse_atom(ps, depth);
        if (ps->fail || a.kind == AT_END) {
            lset_free(ps, a.set);
            break;
        }
        quant qu = read_quant(ps);
        size_t w = a.kind == AT_ZERO ? 0 : a.has_w ? a.w : W_CHAR;
        /* braces PCRE2 may read as literal text: unknown */
        out.w = w_add(out.w, qu.certain ? w_mul(w, qu.max) : W_INF);
        if (!ps->fail)
            apply(ps, &q, &a, &qu);
        lset_free(ps, a.set);
    }
    if (!ps->fail && q.whole) {
        out.exact = q.seg;
        q.seg = lset_copy(ps, out.exact);
    }
    if (!ps->fail)
        close_seg(ps, &q);
    if (!ps->fail) {
        out.req = q.best;
        q.best = NULL;
    }
    lset_free(ps, q.seg);
    lset_free(ps, q.best);
    return out;
}

/* alt -> seq ( '|' seq )* */
static lang parse_alt(parser *ps, int depth)
{
    lang acc = {NULL, NULL, 0};
    if (depth > DEPTH_MAX) {
        ps->fail = 1;
        return acc;
    }
    acc = parse_seq(ps, depth);
    if (ps->fail || ps->p >= ps->end || *ps->p != '|')
        return acc;
    /* the branches' req sets, merged once at the end (req_merge) */
    lset **reqs = NULL;
    size_t nreqs = 0, cap = 0;
    int none = 0;
    lset *req = acc.req;
    acc.req = NULL;
    for (;;) {
        if (!req) {
            none = 1;
        } else if (!none) {
            if (nreqs == cap) {
                size_t nc = cap ? cap * 2 : 16;
                lset **p = dm_realloc(reqs, nc * sizeof *p);
                if (!p) {
                    ps->fail = 1;
                    lset_free(ps, req);
                    break;
                }
                reqs = p;
                cap = nc;
            }
            reqs[nreqs++] = req;
        } else {
            lset_free(ps, req);
        }
        if (ps->fail || ps->p >= ps->end || *ps->p != '|')
            break;
        ps->p++;
        lang b = parse_seq(ps, depth);
        if (b.w > acc.w)
            acc.w = b.w;
        acc.exact = lset_union(ps, acc.exact, b.exact);
        req = b.req;
    }
    if (!none && !ps->fail)
        acc.req = req_merge(ps, reqs, nreqs);
    for (size_t i = 0; i < nreqs; i++)
        lset_free(ps, reqs[i]);
    dm_free(reqs);
    return acc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dm_pattern_analyze(const char *pattern, size_t len, int extended, size_t min_len, char ***out,
                       size_t *n, size_t *max_len)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.p = (const unsigned char *)pattern;
    ps.end = ps.p + len;
    ps.extended = extended != 0;
    char **lits = NULL;
    size_t k = 0;
    int ok = 0;
    if (max_len)
        *max_len = SIZE_MAX;
    if (!pattern)
        return 0;
    lang l = parse_alt(&ps, 0);
    int parsed = !ps.fail && ps.p == ps.end; /* a stray ')' ends parse_alt early */
    if (max_len && parsed)
        *max_len = l.w;
    if (!parsed || !out || !n || !l.req)
        goto out;
    reduce(l.req);
    if (lset_minlen(l.req) < (min_len ? min_len : 1))
        goto out;
    lits = dm_calloc(l.req->n, sizeof *lits);
    if (!lits)
        goto out;
    for (k = 0; k < l.req->n; k++)
        if (!(lits[k] = dm_strndup(l.req->s[k], l.req->len[k])))
            goto out;
    qsort(lits, k, sizeof *lits, cmp_str);
    *out = lits;
    *n = k;
    lits = NULL;
    ok = 1;
out:
    dm_literals_free(lits, k);
    lset_free(&ps, l.exact);
    lset_free(&ps, l.req);
    pool_drain(&ps);
    return ok;
}

int dm_literals_extract(const char *pattern, size_t len, int extended, size_t min_len, char ***out,
                        size_t *n)
{
    if (!out || !n)
        return 0;
    return dm_pattern_analyze(pattern, len, extended, min_len, out, n, NULL);
}

size_t dm_pattern_max_len(const char *pattern, size_t len, int extended)
{
    size_t w;
    dm_pattern_analyze(pattern, len, extended, 1, NULL, NULL, &w);
    return w;
}

void dm_literals_free(char **lits, size_t n)
{
    if (!lits)
        return;
    for (size_t i = 0; i < n; i++)
        dm_free(lits[i]);
    dm_free(lits);
}

/* ======================================================================
 * Aho-Corasick automaton
 * ====================================================================== */

#define PF_MAX_BYTES ((size_t)1 << 28) /* of literals: far beyond any rule set */
#define PF_MAX16 65536                 /* states a 16-bit table can number */

typedef struct pf_lit {
    const unsigned char *s; /* set at build; the bytes are kept in pf->bytes */
    size_t off;
    uint32_t len, id;
} pf_lit;

struct dm_prefilter {
    /* literals, until dm_prefilter_build() */
    unsigned char *bytes;
    size_t nbytes, bytes_cap;
    pf_lit *lits;
    size_t nlits, lits_cap;
    int built;
    /* the automaton: states without outputs are numbered first, so "has
     * outputs" is one compare with first_out */
    uint32_t nclass, nstates, first_out;
    uint32_t maxlit; /* longest literal, in bytes */
    uint8_t cls[256];
    uint16_t *t16;       /* [state * nclass + class] = next state, or next offset when pre16 */
    int pre16;           /* t16 holds offsets (state * nclass): every offset fits 16 bits */
    uint32_t *t32;       /* [offset + class] = next offset, offsets = state * nclass */
    uint32_t *out_start; /* outputs of state first_out + k: out_ids[start[k]..start[k+1]) */
    uint32_t *out_ids;
    size_t nout_ids;
    uint32_t *always; /* ids with an empty literal: they occur in every text */
    size_t nalways;
    /* each state's failure state, numbered as the table is: what the cache
     * keeps instead of the table (dm_prefilter_save), and fail[s] < s */
    uint32_t *fail;
    /* The sparse form, restored from the cache, until the dense table is
     * worth building (dm_prefilter_adapt): the root's row, and each other
     * state's own edges (edge_start[s] .. edge_start[s + 1]); a missing
     * edge follows the failure link.  t16 and t32 are NULL meanwhile. */
    uint32_t *root;
    uint32_t *edge_start, *edge_to;
    uint8_t *edge_cls;
    int class0_resets; /* class 0 is on no edge: it always leads to the root */
    size_t scanned;    /* bytes scanned sparse so far */
    /* fail, edge_*, out_* and always point into the cache file's mapping
     * (dm_prefilter_restore with `borrow`): not ours to free */
    int borrowed;
};

dm_status dm_prefilter_create(dm_prefilter **out)
{
    if (!out)
        return DM_EINVAL;
    dm_prefilter *pf = dm_calloc(1, sizeof *pf);
    if (!pf)
        return DM_ENOMEM;
    *out = pf;
    return DM_OK;
}

static void free_literals(dm_prefilter *pf)
{
    dm_free(pf->bytes);
    dm_free(pf->lits);
    pf->bytes = NULL;
    pf->lits = NULL;
    pf->nbytes = pf->bytes_cap = pf->nlits = pf->lits_cap = 0;
}

void dm_prefilter_free(dm_prefilter *pf)
{
    if (!pf)
        return;
    free_literals(pf);
    dm_free(pf->t16);
    dm_free(pf->t32);
    dm_free(pf->root);
    if (!pf->borrowed) {
        dm_free(pf->out_start);
        dm_free(pf->out_ids);
        dm_free(pf->always);
        dm_free(pf->fail);
        dm_free(pf->edge_start);
        dm_free(pf->edge_to);
        dm_free(pf->edge_cls);
    }
    dm_free(pf);
}

dm_status dm_prefilter_add(dm_prefilter *pf, const char *lit, size_t len, unsigned id)
{
    if (!pf || pf->built || (!lit && len))
        return DM_EINVAL;
    if (len > PF_MAX_BYTES - pf->nbytes)
        return DM_ETOOLARGE;
    if (pf->nbytes + len > pf->bytes_cap) {
        size_t cap = pf->bytes_cap ? pf->bytes_cap : 256;
        while (cap < pf->nbytes + len)
            cap *= 2;
        unsigned char *b = dm_realloc(pf->bytes, cap);
        if (!b)
            return DM_ENOMEM;
        pf->bytes = b;
        pf->bytes_cap = cap;
    }
    if (pf->nlits == pf->lits_cap) {
        size_t cap = pf->lits_cap ? pf->lits_cap * 2 : 64;
        pf_lit *l = dm_realloc(pf->lits, cap * sizeof *l);
        if (!l)
            return DM_ENOMEM;
        pf->lits = l;
        pf->lits_cap = cap;
    }
    if (len)
        memcpy(pf->bytes + pf->nbytes, lit, len);
    pf->lits[pf->nlits++] = (pf_lit){NULL, pf->nbytes, (uint32_t)len, (uint32_t)id};
    pf->nbytes += len;
    return DM_OK;
}

static int cmp_lit(const void *a, const void *b)
{
    const pf_lit *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->s, y->s, n) : 0;
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* sort_unique() sorts v[0..n) and returns the number of distinct values. */
static size_t sort_unique(uint32_t *v, size_t n)
{
    if (n < 2)
        return n;
    qsort(v, n, sizeof *v, cmp_u32);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

/* The table while it is built: 16- or 32-bit cells holding state numbers. */
typedef struct table {
    uint16_t *t16;
    uint32_t *t32;
    size_t K;
} table;

static uint32_t tget(const table *t, size_t s, size_t c)
{
    return t->t16 ? t->t16[s * t->K + c] : t->t32[s * t->K + c];
}

static void tset(table *t, size_t s, size_t c, uint32_t v)
{
    if (t->t16)
        t->t16[s * t->K + c] = (uint16_t)v;
    else
        t->t32[s * t->K + c] = v;
}

static void *trow(const table *t, size_t s)
{
    return t->t16 ? (void *)(t->t16 + s * t->K) : (void *)(t->t32 + s * t->K);
}

/* shared_prefix() is how many leading bytes literal i shares with literal i - 1 (sorted). */
static size_t shared_prefix(const dm_prefilter *pf, size_t i)
{
    size_t lcp = 0;
    if (i > 0) {
        const pf_lit *l = &pf->lits[i], *m = &pf->lits[i - 1];
        while (lcp < l->len && lcp < m->len && l->s[lcp] == m->s[lcp])
            lcp++;
    }
    return lcp;
}

/*
 * dm_prefilter_build(): sort the literals and build the trie (first-child /
 * next-sibling lists: 9 bytes a state); walk it breadth first, filling each
 * state's row of the final table as a copy of its failure state's row (which
 * is complete, being shallower) with its own edges on top; merge outputs
 * down the failure links; renumber so states with outputs come last.
 */
dm_status dm_prefilter_build(dm_prefilter *pf)
{
    dm_status st = DM_ENOMEM;
    uint32_t *child = NULL, *sibling = NULL, *path = NULL, *ends = NULL, *always = NULL;
    uint32_t *own_start = NULL, *own_ids = NULL, *queue = NULL, *fail = NULL;
    uint32_t *out_start = NULL, *out_ids = NULL;
    uint8_t *label = NULL, *moved = NULL;
    void *tmp_row = NULL;
    table t = {NULL, NULL, 1};
    size_t nalways = 0, nout = 0, out_cap = 0, maxlen = 0;

    if (!pf || pf->built)
        return DM_EINVAL;

    /* byte classes; when every byte value is used there is no "other" */
    uint8_t used[256] = {0}, cls[256];
    unsigned nused = 0;
    for (size_t i = 0; i < pf->nbytes; i++)
        used[pf->bytes[i]] = 1;
    for (unsigned b = 0; b < 256; b++)
        nused += used[b];
    uint32_t K = nused == 256 ? 256 : 1;
    for (unsigned b = 0; b < 256; b++)
        cls[b] = nused == 256 ? (uint8_t)b : used[b] ? (uint8_t)K++ : 0;
    t.K = K;

    /* sorted, shared prefixes are adjacent: the state count is known */
    for (size_t i = 0; i < pf->nlits; i++)
        pf->lits[i].s = pf->bytes + pf->lits[i].off;
    if (pf->nlits)
        qsort(pf->lits, pf->nlits, sizeof *pf->lits, cmp_lit);
    size_t nstates = 1;
    for (size_t i = 0; i < pf->nlits; i++) {
        const pf_lit *l = &pf->lits[i];
        size_t lcp = shared_prefix(pf, i);
        nstates += l->len - lcp;
        nalways += l->len == 0;
        if (l->len > maxlen)
            maxlen = l->len;
    }
    if (nstates > UINT32_MAX / K) {
        st = DM_ETOOLARGE;
        goto out;
    }

    /* the trie */
    size_t nl = pf->nlits ? pf->nlits : 1;
    child = dm_calloc(nstates, sizeof *child); /* 0: none (no edge enters the root) */
    sibling = dm_malloc(nstates * sizeof *sibling);
    label = dm_malloc(nstates);
    path = dm_malloc((maxlen + 1) * sizeof *path);
    ends = dm_malloc(nl * sizeof *ends);
    always = dm_malloc((nalways ? nalways : 1) * sizeof *always);
    if (!child || !sibling || !label || !path || !ends || !always)
        goto out;
    uint32_t next = 1;
    nalways = 0;
    path[0] = 0;
    for (size_t i = 0; i < pf->nlits; i++) {
        const pf_lit *l = &pf->lits[i];
        size_t lcp = shared_prefix(pf, i);
        for (size_t j = lcp; j < l->len; j++) {
            uint32_t n = next++, parent = path[j];
            label[n] = cls[l->s[j]];
            sibling[n] = child[parent];
            child[parent] = n;
            path[j + 1] = n;
        }
        ends[i] = path[l->len];
        if (l->len == 0)
            always[nalways++] = l->id;
    }
    nalways = sort_unique(always, nalways);

    /* each trie state's own ids */
    own_start = dm_calloc(nstates + 1, sizeof *own_start);
    own_ids = dm_malloc(nl * sizeof *own_ids);
    if (!own_start || !own_ids)
        goto out;
    for (size_t i = 0; i < pf->nlits; i++)
        if (pf->lits[i].len)
            own_start[ends[i] + 1]++;
    for (size_t s = 0; s < nstates; s++)
        own_start[s + 1] += own_start[s];
    for (size_t i = 0; i < pf->nlits; i++)
        if (pf->lits[i].len)
            own_ids[own_start[ends[i]]++] = pf->lits[i].id;
    for (size_t s = nstates; s > 0; s--) /* the fill moved each start to the next */
        own_start[s] = own_start[s - 1];
    own_start[0] = 0;
    dm_free(path);
    dm_free(ends);
    path = ends = NULL;

    /* breadth first, states numbered in that order (b below) */
    if (nstates <= PF_MAX16)
        t.t16 = dm_calloc(nstates * K, sizeof *t.t16);
    else
        t.t32 = dm_calloc(nstates * K, sizeof *t.t32);
    queue = dm_malloc(nstates * sizeof *queue);
    fail = dm_calloc(nstates, sizeof *fail);
    if ((!t.t16 && !t.t32) || !queue || !fail)
        goto out;
    size_t tail = 1;
    queue[0] = 0;
    for (size_t b = 0; b < tail; b++) {
        if (b)
            memcpy(trow(&t, b), trow(&t, fail[b]), K * (t.t16 ? 2 : 4));
        for (uint32_t c = child[queue[b]]; c; c = sibling[c]) {
            fail[tail] = b ? tget(&t, fail[b], label[c]) : 0;
            tset(&t, b, label[c], (uint32_t)tail);
            queue[tail++] = c;
        }
    }
    dm_free(child);
    dm_free(sibling);
    dm_free(label);
    child = sibling = NULL;
    label = NULL;

    /* outputs, merged down the failure links (fail[b] < b: already final) */
    out_start = dm_malloc((nstates + 1) * sizeof *out_start);
    if (!out_start)
        goto out;
    for (size_t b = 0; b < nstates; b++) {
        uint32_t s = queue[b], f = fail[b];
        size_t nown = own_start[s + 1] - own_start[s];
        size_t nf = b ? out_start[f + 1] - out_start[f] : 0;
        out_start[b] = (uint32_t)nout;
        if (nout + nown + nf > UINT32_MAX) {
            st = DM_ETOOLARGE;
            goto out;
        }
        if (nout + nown + nf > out_cap) {
            size_t cap = out_cap ? out_cap : 256;
            while (cap < nout + nown + nf)
                cap *= 2;
            uint32_t *o = dm_realloc(out_ids, cap * sizeof *o);
            if (!o)
                goto out;
            out_ids = o;
            out_cap = cap;
        }
        if (nown)
            memcpy(out_ids + nout, own_ids + own_start[s], nown * sizeof *out_ids);
        if (nf)
            memcpy(out_ids + nout + nown, out_ids + out_start[f], nf * sizeof *out_ids);
        nout += sort_unique(out_ids + nout, nown + nf);
        out_start[b + 1] = (uint32_t)nout;
    }
    dm_free(own_start);
    dm_free(own_ids);
    own_start = own_ids = NULL;

    /* renumber: states without outputs first (the root among them: it has
     * none, empty literals live in `always`), each group in BFS order */
    uint32_t *perm = queue; /* reused */
    size_t nquiet = 0;
    for (size_t b = 0; b < nstates; b++)
        nquiet += out_start[b + 1] == out_start[b];
    size_t qn = 0, on = nquiet;
    for (size_t b = 0; b < nstates; b++)
        perm[b] = (uint32_t)(out_start[b + 1] == out_start[b] ? qn++ : on++);
    /* the failure links, renumbered: a state without outputs fails to one
     * without (outputs are merged down the links), a shallower one, so
     * within each group and across them fail[s] < s still holds */
    uint32_t *nfail = dm_malloc(nstates * sizeof *nfail);
    if (!nfail)
        goto out;
    for (size_t b = 0; b < nstates; b++)
        nfail[perm[b]] = b ? perm[fail[b]] : 0;
    dm_free(fail);
    fail = nfail;
    /* premultiplied offsets save a multiply per byte scanned: always in 32
     * bits, in 16 bits when the table is small enough (the usual case) */
    int pre16 = t.t16 && (size_t)nstates * K <= 65536;
    for (size_t b = 0; b < nstates; b++) /* entries first, then whole rows */
        for (size_t c = 0; c < K; c++) {
            uint32_t v = perm[tget(&t, b, c)];
            tset(&t, b, c, t.t32 || pre16 ? v * K : v);
        }
    size_t rowbytes = K * (t.t16 ? 2 : 4);
    moved = dm_calloc(nstates / 8 + 1, 1);
    tmp_row = dm_malloc(rowbytes);
    if (!moved || !tmp_row)
        goto out;
    for (size_t b = 0; b < nstates; b++) { /* follow each cycle of perm */
        if (moved[b >> 3] >> (b & 7) & 1 || perm[b] == b)
            continue;
        memcpy(tmp_row, trow(&t, b), rowbytes);
        size_t cur = b;
        do {
            size_t to = perm[cur];
            void *save = trow(&t, to);
            /* swap tmp_row (row `cur`) into place `to` */
            for (size_t k = 0; k < rowbytes; k++) {
                uint8_t x = ((uint8_t *)save)[k];
                ((uint8_t *)save)[k] = ((uint8_t *)tmp_row)[k];
                ((uint8_t *)tmp_row)[k] = x;
            }
            moved[cur >> 3] |= (uint8_t)(1u << (cur & 7));
            cur = to;
        } while (cur != b);
    }
    /* outputs of the states numbered nquiet.., in the same order */
    size_t k = 0;
    for (size_t b = 0; b < nstates; b++)
        if (out_start[b + 1] != out_start[b])
            out_start[k++] = out_start[b];
    out_start[k] = (uint32_t)nout;
    uint32_t *os = dm_realloc(out_start, (k + 1) * sizeof *os);
    if (os)
        out_start = os;
    if (nout && nout < out_cap) {
        uint32_t *o = dm_realloc(out_ids, nout * sizeof *o);
        if (o)
            out_ids = o;
    }

    memcpy(pf->cls, cls, sizeof cls);
    pf->nclass = K;
    pf->nstates = (uint32_t)nstates;
    pf->first_out = (uint32_t)nquiet;
    pf->t16 = t.t16;
    pf->pre16 = pre16;
    pf->t32 = t.t32;
    pf->out_start = out_start;
    pf->out_ids = out_ids;
    pf->nout_ids = nout;
    pf->always = always;
    pf->nalways = nalways;
    pf->fail = fail;
    t.t16 = NULL;
    t.t32 = NULL;
    out_start = out_ids = always = fail = NULL;
    pf->maxlit = 0;
    for (size_t i = 0; i < pf->nlits; i++)
        if (pf->lits[i].len > pf->maxlit)
            pf->maxlit = pf->lits[i].len;
    free_literals(pf);
    pf->built = 1;
    st = DM_OK;
out:
    dm_free(child);
    dm_free(sibling);
    dm_free(label);
    dm_free(path);
    dm_free(ends);
    dm_free(always);
    dm_free(own_start);
    dm_free(own_ids);
    dm_free(queue);
    dm_free(fail);
    dm_free(out_start);
    dm_free(out_ids);
    dm_free(moved);
    dm_free(tmp_row);
    dm_free(t.t16);
    dm_free(t.t32);
    return st;
}

static void emit_id(uint32_t id, uint64_t *hits, dm_pf_span *spans, uint32_t at,
                    uint32_t last)
{
    uint64_t bit = (uint64_t)1 << (id & 63);
    if (spans) {
        dm_pf_span *sp = &spans[id];
        if (!(hits[id >> 6] & bit)) {
            sp->first_end = at;
            sp->last_end = last;
        } else {
            if (at < sp->first_end)
                sp->first_end = at;
            if (last > sp->last_end)
                sp->last_end = last;
        }
    }
    hits[id >> 6] |= bit;
}

/* emit() reports the outputs of state first_out + k, found ending at `at`. */
static void emit(const dm_prefilter *pf, size_t k, uint64_t *hits, dm_pf_span *spans,
                 uint32_t at)
{
    for (uint32_t i = pf->out_start[k]; i < pf->out_start[k + 1]; i++)
        emit_id(pf->out_ids[i], hits, spans, at, at);
}

/*
 * The scan loop for one table layout; `premul` says whether cells hold
 * offsets (state * nclass) or states.  Each step is a load that depends on
 * the one before, so the loop is bound by memory latency, not by work: a
 * long text is cut in two halves scanned by two independent automata in
 * the same loop, which the CPU overlaps.  The second starts maxlit - 1
 * bytes before the middle, so that every occurrence ending in its half
 * starts inside what it scans; occurrences found twice are harmless
 * (emit_id keeps the earliest end).
 */
#define SCAN_LOOP(T, premul)                                                                 \
    do {                                                                                     \
        const T *t = (const T *)(cells);                                                     \
        const size_t first_off = (premul) ? first * K : first;                               \
        size_t a = 0, b = 0;                                                                 \
        const unsigned char *q = mid, *qe = end;                                             \
        for (; p < half; p++, q++) {                                                         \
            a = (premul) ? t[a + cls[*p]] : t[a * K + cls[*p]];                              \
            b = (premul) ? t[b + cls[*q]] : t[b * K + cls[*q]];                              \
            if (a >= first_off)                                                              \
                emit(pf, ((premul) ? a / K : a) - first, hits, spans,                        \
                     (uint32_t)(p - start) + 1);                                             \
            if (b >= first_off)                                                              \
                emit(pf, ((premul) ? b / K : b) - first, hits, spans,                        \
                     (uint32_t)(q - start) + 1);                                             \
        }                                                                                    \
        for (; q < qe; q++) {                                                                \
            b = (premul) ? t[b + cls[*q]] : t[b * K + cls[*q]];                              \
            if (b >= first_off)                                                              \
                emit(pf, ((premul) ? b / K : b) - first, hits, spans,                        \
                     (uint32_t)(q - start) + 1);                                             \
        }                                                                                    \
    } while (0)

/*
 * scan_sparse() is the scan over the sparse form: the classic automaton
 * walk, one state's few edges searched per step and failure links taken
 * where none matches (as many as the walk went deep, so linear overall).
 * It reaches the states the dense table would, so it reports the same.
 */
static void scan_sparse(const dm_prefilter *pf, const unsigned char *start,
                        const unsigned char *end, uint64_t *hits, dm_pf_span *spans)
{
    const uint32_t first = pf->first_out;
    uint32_t s = 0;
    for (const unsigned char *p = start; p < end; p++) {
        uint32_t c = pf->cls[*p];
        if (c == 0 && pf->class0_resets) {
            s = 0;
            continue; /* the root has no outputs */
        }
        for (;;) {
            if (s == 0) {
                s = pf->root[c];
                break;
            }
            uint32_t e = pf->edge_start[s], ee = pf->edge_start[s + 1];
            while (e < ee && pf->edge_cls[e] != c)
                e++;
            if (e < ee) {
                s = pf->edge_to[e];
                break;
            }
            s = pf->fail[s];
        }
        if (s >= first)
            emit(pf, s - first, hits, spans, (uint32_t)(p - start) + 1);
    }
}

void dm_prefilter_scan_at(const dm_prefilter *pf, const char *text, size_t len, uint64_t *hits,
                          dm_pf_span *spans)
{
    if (!pf || !hits)
        return;
    if (!pf->built) { /* misuse: report every pattern, the safe answer */
        for (size_t i = 0; i < pf->nlits; i++)
            emit_id(pf->lits[i].id, hits, spans, 0, UINT32_MAX);
        return;
    }
    for (size_t i = 0; i < pf->nalways; i++)
        emit_id(pf->always[i], hits, spans, 0, UINT32_MAX);
    if (!text)
        return;
    const unsigned char *start = (const unsigned char *)text, *p = start, *end = p + len;
    /* the first automaton scans [p, half), the second [mid, end): mid is
     * half - (maxlit - 1), or p when the text is too short to cut */
    const unsigned char *half = p, *mid = p;
    if (len >= 2 * (size_t)pf->maxlit + 32) {
        half = p + len / 2;
        mid = half - (pf->maxlit ? pf->maxlit - 1 : 0);
    }
    if (!pf->t16 && !pf->t32) {
        scan_sparse(pf, start, end, hits, spans);
        return;
    }
    const uint8_t *cls = pf->cls;
    const size_t K = pf->nclass, first = pf->first_out;
    const void *cells = pf->t16 ? (const void *)pf->t16 : (const void *)pf->t32;
    if (pf->pre16)
        SCAN_LOOP(uint16_t, 1);
    else if (pf->t16)
        SCAN_LOOP(uint16_t, 0);
    else
        SCAN_LOOP(uint32_t, 1);
}

void dm_prefilter_scan(const dm_prefilter *pf, const char *text, size_t len, uint64_t *hits)
{
    dm_prefilter_scan_at(pf, text, len, hits, NULL);
}

size_t dm_prefilter_size(const dm_prefilter *pf)
{
    if (!pf)
        return 0;
    size_t n = sizeof *pf + pf->bytes_cap + pf->lits_cap * sizeof *pf->lits;
    if (pf->built && !pf->t16 && !pf->t32) {
        n += pf->nclass * sizeof *pf->root + ((size_t)pf->nstates + 1) * sizeof *pf->edge_start;
        n += pf->edge_start[pf->nstates] * (sizeof *pf->edge_to + sizeof *pf->edge_cls);
        n += ((size_t)pf->nstates - pf->first_out + 1) * sizeof *pf->out_start;
        n += pf->nout_ids * sizeof *pf->out_ids;
        n += pf->nalways * sizeof *pf->always;
    } else if (pf->built) {
        size_t cells = (size_t)pf->nstates * pf->nclass;
        n += pf->t16 ? cells * sizeof *pf->t16 : cells * sizeof *pf->t32;
        n += ((size_t)pf->nstates - pf->first_out + 1) * sizeof *pf->out_start;
        n += pf->nout_ids * sizeof *pf->out_ids;
        n += pf->nalways * sizeof *pf->always;
    }
    return n;
}

/* ---- the cache's form (cache.h) ---------------------------------------------------- */

/* cell() is the state a table cell leads to (not an offset). */
static uint32_t cell(const dm_prefilter *pf, size_t s, size_t c)
{
    size_t K = pf->nclass;
    if (pf->t16)
        return pf->pre16 ? pf->t16[s * K + c] / (uint32_t)K : pf->t16[s * K + c];
    return pf->t32[s * K + c] / (uint32_t)K;
}

/*
 * dm_prefilter_save(): the table is some 20,000 states times 50 classes,
 * but a state's row is its failure state's row with its own edges on top
 * (how dm_prefilter_build() fills it), so the cache keeps the failure
 * links and the edges, as arrays: a tenth of the bytes, read back with a
 * few copies, and a reader that cannot be led out of the table by what it
 * reads.  A state's own edges are the cells its row has that its failure
 * state's row has not (an edge leads one deeper than the failure state's
 * cell can).
 */
dm_status dm_prefilter_save(const dm_prefilter *pf, dm_buf *out)
{
    if (!pf || !pf->built || !pf->fail)
        return DM_EINVAL;
    size_t K = pf->nclass, n = pf->nstates;
    int sparse = !pf->t16 && !pf->t32;
    uint32_t *start = dm_malloc((n + 1) * sizeof *start);
    uint32_t *to = NULL;
    uint8_t *ecls = NULL;
    size_t ne = 0, cap = 0;
    dm_status st = start ? DM_OK : DM_ENOMEM;
    for (size_t s = 0; s < n && st == DM_OK; s++) {
        uint32_t f = pf->fail[s];
        if (s ? f >= s : f != 0) {
            st = DM_EINVAL;
            break;
        }
        start[s] = (uint32_t)ne;
        if (ne + K > cap) { /* room for a whole row more */
            size_t nc = cap ? cap * 2 : 4096;
            while (nc < ne + K)
                nc *= 2;
            uint32_t *t = dm_realloc(to, nc * sizeof *t);
            uint8_t *c = t ? dm_realloc(ecls, nc) : NULL;
            if (t)
                to = t;
            if (!c) {
                st = DM_ENOMEM;
                break;
            }
            ecls = c;
            cap = nc;
        }
        if (sparse && s) {
            for (uint32_t e = pf->edge_start[s]; e < pf->edge_start[s + 1]; e++, ne++) {
                ecls[ne] = pf->edge_cls[e];
                to[ne] = pf->edge_to[e];
            }
            continue;
        }
        for (size_t c = 0; c < K; c++) {
            uint32_t v = sparse ? pf->root[c] : cell(pf, s, c);
            if (v != (s ? cell(pf, f, c) : 0)) {
                ecls[ne] = (uint8_t)c;
                to[ne++] = v;
            }
        }
    }
    if (st == DM_OK && ne >= UINT32_MAX)
        st = DM_ETOOLARGE;
    if (st == DM_OK) {
        static const unsigned char pad[4];
        size_t nstart = n - pf->first_out + 1;
        start[n] = (uint32_t)ne;
        /* numbers are 4-byte aligned from the start of `out`, so that a
         * mapped file can be read in place (dm_prefilter_restore) */
        st |= dm_buf_add(out, pad, (4 - out->len % 4) % 4);
        st |= cw_u32(out, (uint32_t)K);
        st |= cw_u32(out, pf->nstates);
        st |= cw_u32(out, pf->first_out);
        st |= cw_u32(out, pf->maxlit);
        st |= dm_buf_put(out, pf->cls, sizeof pf->cls);
        st |= dm_buf_add(out, pf->fail, n * sizeof *pf->fail);
        st |= dm_buf_add(out, start, (n + 1) * sizeof *start);
        if (ne) {
            st |= dm_buf_add(out, ecls, ne);
            st |= dm_buf_add(out, pad, (4 - out->len % 4) % 4);
            st |= dm_buf_add(out, to, ne * sizeof *to);
        }
        st |= cw_u32(out, (uint32_t)nstart);
        st |= dm_buf_add(out, pf->out_start, nstart * sizeof *pf->out_start);
        st |= cw_u32(out, (uint32_t)pf->nout_ids);
        if (pf->nout_ids)
            st |= dm_buf_add(out, pf->out_ids, pf->nout_ids * sizeof *pf->out_ids);
        st |= cw_u32(out, (uint32_t)pf->nalways);
        if (pf->nalways)
            st |= dm_buf_add(out, pf->always, pf->nalways * sizeof *pf->always);
        /* the codes are DM_OK (0), DM_ENOMEM or DM_ETOOLARGE: any of them fails */
        if (st != DM_OK)
            st = DM_ENOMEM;
    }
    dm_free(start);
    dm_free(to);
    dm_free(ecls);
    return st;
}

/*
 * densify() builds the dense table from the sparse form: each row is its
 * failure state's row (complete: fail[s] < s) with the state's edges on
 * top.  The sparse arrays go; the failure links stay (for the cache).
 */
static dm_status densify(dm_prefilter *pf)
{
    size_t K = pf->nclass, n = pf->nstates;
    uint16_t *t16 = NULL;
    uint32_t *t32 = NULL;
    int pre16 = 0, premul = 1;
    if (n <= PF_MAX16) {
        pre16 = n * K <= 65536;
        premul = pre16;
        t16 = dm_malloc(n * K * sizeof *t16);
    } else {
        t32 = dm_malloc(n * K * sizeof *t32);
    }
    if (!t16 && !t32)
        return DM_ENOMEM;
    for (size_t c = 0; c < K; c++) {
        uint32_t v = premul ? pf->root[c] * (uint32_t)K : pf->root[c];
        if (t16)
            t16[c] = (uint16_t)v;
        else
            t32[c] = v;
    }
    size_t rowbytes = K * (t16 ? sizeof *t16 : sizeof *t32);
    char *cells = t16 ? (char *)t16 : (char *)t32;
    for (size_t s = 1; s < n; s++) {
        memcpy(cells + s * rowbytes, cells + pf->fail[s] * rowbytes, rowbytes);
        for (uint32_t e = pf->edge_start[s]; e < pf->edge_start[s + 1]; e++) {
            uint32_t v = premul ? pf->edge_to[e] * (uint32_t)K : pf->edge_to[e];
            if (t16)
                t16[s * K + pf->edge_cls[e]] = (uint16_t)v;
            else
                t32[s * K + pf->edge_cls[e]] = v;
        }
    }
    pf->t16 = t16;
    pf->t32 = t32;
    pf->pre16 = pre16;
    dm_free(pf->root);
    if (!pf->borrowed) {
        dm_free(pf->edge_start);
        dm_free(pf->edge_to);
        dm_free(pf->edge_cls);
    }
    pf->root = pf->edge_start = pf->edge_to = NULL;
    pf->edge_cls = NULL;
    return DM_OK;
}

/*
 * Past this many bytes scanned, a restored automaton builds its dense
 * table: building it touches 2 MB for the default rules (about a
 * millisecond in a new process, most of it page faults), which the faster
 * scan repays after a few hundred kilobytes of text.  A filter that sees
 * one message never pays it; a batch pays it on its first records.
 */
#define PF_DENSE_AFTER ((size_t)256 << 10)

void dm_prefilter_adapt(dm_prefilter *pf, size_t len)
{
    if (!pf || !pf->built || pf->t16 || pf->t32)
        return;
    pf->scanned += len;
    if (pf->scanned >= PF_DENSE_AFTER)
        (void)densify(pf); /* out of memory: it stays sparse, and right */
}

/* align4() skips what dm_prefilter_save() padded to a 4-byte boundary. */
static void align4(crd *r)
{
    size_t pad = (4 - (uintptr_t)r->p % 4) % 4;
    if (r->bad || (size_t)(r->end - r->p) < pad)
        r->bad = 1;
    else
        r->p += pad;
}

/* take_u32s() reads n numbers: a copy, or (borrow) where they lie; NULL
 * when r is bad (no room for them) or out of memory. */
static uint32_t *take_u32s(crd *r, size_t n, int borrow)
{
    align4(r);
    if (r->bad || n > (size_t)(r->end - r->p) / sizeof(uint32_t)) {
        r->bad = 1;
        return NULL;
    }
    if (borrow) {
        const void *at = r->p;
        r->p += n * sizeof(uint32_t);
        return (uint32_t *)(uintptr_t)at; /* read only, and never freed */
    }
    uint32_t *v = dm_malloc((n ? n : 1) * sizeof *v);
    if (v)
        cr_take(r, v, n * sizeof *v);
    return v;
}

dm_status dm_prefilter_restore(crd *r, uint32_t nids, int borrow, dm_prefilter **out)
{
    align4(r);
    uint32_t K = cr_u32(r), n = cr_u32(r), first = cr_u32(r), maxlit = cr_u32(r);
    uint8_t cls[256];
    cr_take(r, cls, sizeof cls);
    if (r->bad || K == 0 || K > 256 || n == 0 || first == 0 || first > n ||
        (uint64_t)n * K > PF_MAX_BYTES)
        return DM_EFORMAT;
    for (unsigned c = 0; c < 256; c++)
        if (cls[c] >= K)
            return DM_EFORMAT;
    dm_prefilter *pf = dm_calloc(1, sizeof *pf);
    if (!pf)
        return DM_ENOMEM;
    dm_status st = DM_ENOMEM;
    memcpy(pf->cls, cls, sizeof cls);
    pf->nclass = K;
    pf->nstates = n;
    pf->first_out = first;
    pf->maxlit = maxlit;
    pf->borrowed = borrow != 0;
    pf->fail = take_u32s(r, n, borrow);
    pf->edge_start = pf->fail ? take_u32s(r, (size_t)n + 1, borrow) : NULL;
    pf->root = pf->edge_start ? dm_calloc(K, sizeof *pf->root) : NULL;
    if (!pf->root)
        goto out; /* out of memory, or a count past the end */
    st = DM_EFORMAT;
    if (pf->fail[0] != 0 || pf->edge_start[0] != 0)
        goto out;
    uint32_t bad = 0;
    for (uint32_t s = 1; s < n; s++) {
        bad |= pf->fail[s] >= s;
        bad |= pf->edge_start[s + 1] < pf->edge_start[s];
        bad |= pf->edge_start[s + 1] - pf->edge_start[s] > K;
    }
    size_t ne = pf->edge_start[n];
    if (bad || pf->edge_start[1] > K || ne > (size_t)(r->end - r->p) / 5)
        goto out;
    st = DM_ENOMEM;
    if (borrow) {
        pf->edge_cls = (uint8_t *)(uintptr_t)r->p; /* read only, and never freed */
        r->p += ne;
    } else {
        if (!(pf->edge_cls = dm_malloc(ne ? ne : 1)))
            goto out;
        cr_take(r, pf->edge_cls, ne);
    }
    if (!(pf->edge_to = take_u32s(r, ne, borrow)))
        goto out;
    st = DM_EFORMAT;
    if (r->bad)
        goto out;
    int class0 = 0; /* some edge has class 0 */
    for (size_t e = 0; e < ne; e++) {
        bad |= pf->edge_cls[e] >= K;
        bad |= pf->edge_to[e] >= n;
        class0 |= pf->edge_cls[e] == 0;
    }
    if (bad)
        goto out;
    for (uint32_t e = 0; e < pf->edge_start[1]; e++)
        pf->root[pf->edge_cls[e]] = pf->edge_to[e];
    pf->class0_resets = !class0;
    size_t nstart = cr_count(r, sizeof(uint32_t));
    if (r->bad || nstart != (size_t)n - first + 1)
        goto out;
    st = DM_ENOMEM;
    if (!(pf->out_start = take_u32s(r, nstart, borrow)))
        goto out;
    st = DM_EFORMAT;
    pf->nout_ids = cr_count(r, sizeof(uint32_t));
    if (r->bad)
        goto out;
    for (size_t i = 0; i < nstart; i++)
        if (pf->out_start[i] > pf->nout_ids || (i && pf->out_start[i] < pf->out_start[i - 1]))
            goto out;
    if (pf->out_start[nstart - 1] != pf->nout_ids)
        goto out;
    st = DM_ENOMEM;
    if (!(pf->out_ids = take_u32s(r, pf->nout_ids, borrow)))
        goto out;
    st = DM_EFORMAT;
    pf->nalways = cr_count(r, sizeof(uint32_t));
    if (r->bad)
        goto out;
    st = DM_ENOMEM;
    if (!(pf->always = take_u32s(r, pf->nalways, borrow)))
        goto out;
    st = DM_EFORMAT;
    if (r->bad)
        goto out;
    for (size_t i = 0; i < pf->nout_ids; i++)
        if (pf->out_ids[i] >= nids)
            goto out;
    for (size_t i = 0; i < pf->nalways; i++)
        if (pf->always[i] >= nids)
            goto out;
    pf->built = 1;
    *out = pf;
    return DM_OK;
out:
    if (r->bad)
        st = DM_EFORMAT;
    dm_prefilter_free(pf);
    return st;
}

/* dm_prefilter_densify() builds the dense table of a restored automaton now. */
dm_status dm_prefilter_densify(dm_prefilter *pf)
{
    if (!pf || !pf->built)
        return DM_EINVAL;
    return pf->t16 || pf->t32 ? DM_OK : densify(pf);
}
