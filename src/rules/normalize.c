/*
 * normalize.c: text as rules see it (the steps are listed in normalize.h).
 *
 * Two paths, because almost every note is plain ASCII:
 *
 *   - ASCII bytes other than '&' go straight to the output, lower-cased,
 *     with whitespace collapsed.  NFKC with case folding of ASCII is just
 *     lower-casing, so no utf8proc call is needed.
 *   - Everything else (a non-ASCII character, a decoded entity) becomes a
 *     code point that utf8proc decomposes (COMPAT | CASEFOLD), and the
 *     decomposed code points go through a small window where they are put
 *     in canonical order and composed again, as utf8proc_map() would.
 *     The window keeps the origin of every code point, which a whole-run
 *     utf8proc_map() call could not tell us.
 *
 * A base letter and a combining mark compose, so an ASCII letter that went
 * the fast way is taken back into the window when a combining mark follows
 * it ("Jose\u0301" -> "josé").  No composition pairs take an ASCII second
 * character, and ASCII first characters (letters, '<', '=', '>') compose
 * only with combining marks, so that is the only case where the fast path
 * has to look back.
 *
 * Every output byte remembers the original character (or entity) that
 * produced it: its first byte in map[i], and, in a second array the caller
 * does not see, the end of that character.  While normalizing, the two
 * arrays are the halves of n->map; at the end the ends move to
 * map[len + 1 .. 2 * len], right after map[len] = orig_len, where
 * dm_norm_span() finds them.  When several characters make one output
 * character (composition, canonical reordering), it maps to the first and
 * ends at the end of the last, so map[] never goes backwards.
 *
 * Memory: the text and the map grow to the largest result seen and are
 * reused; the composition window lives on the stack.  No call allocates
 * once the buffers are large enough, and utf8proc is only asked about one
 * character at a time (utf8proc_map() would malloc behind our hooks).
 */
#include "normalize.h"

#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

/* Step 3: what utf8proc_map() does for NFKC with case folding, without IGNORE. */
#define NFKC_CF (UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STABLE)

/*
 * WIN_MAX bounds the composition window.  Text with more combining marks
 * than that on one letter is flushed in pieces, which can differ from full
 * NFKC only in how those marks are ordered and composed (UAX #15
 * stream-safe text has at most 30).
 * DECOMP_MAX is above the longest NFKC_CF expansion (U+FDFA, 18).
 */
#define WIN_MAX 128
#define DECOMP_MAX 32

typedef struct wcp {
    int32_t cp;
    int ccc; /* canonical combining class */
    size_t start, end;
} wcp;

typedef struct state {
    dm_norm *n;
    const unsigned char *s;
    size_t len;
    int with_map;
    char *out;  /* n->text.data */
    size_t o;   /* bytes written */
    size_t lim; /* bytes that fit: n->text.cap - 1 (room for the NUL) */
    size_t *starts, *ends;
    /* Whitespace waits until something visible follows: trailing whitespace is dropped. */
    int pend;
    size_t ws_start, ws_end;
    int prev_direct; /* the character before went the fast way: out[o - 1] */
    size_t nwin;
    wcp win[WIN_MAX];
} state;

enum { P, S, X }; /* plain, whitespace, special ('&' and every byte >= 0x80) */

/* clang-format off */
static const unsigned char classes[256] = {
    P, P, P, P, P, P, P, P, P, S, S, S, S, S, P, P, /* 00 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 10 */
    S, P, P, P, P, P, X, P, P, P, P, P, P, P, P, P, /* 20 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 30 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 40 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 50 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 60 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 70 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* 80 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* 90 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* A0 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* B0 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* C0 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* D0 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* E0 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* F0 */
};
/* clang-format on */

static inline unsigned char ascii_lower(unsigned char c)
{
    return (unsigned char)(c | (((unsigned)(c - 'A') < 26u) << 5));
}

/* ---- output buffer and map ---- */

static void map_invalidate(dm_norm *n)
{
    /* dm_norm_span() checks map[len] == orig_len before trusting the map. */
    if (n->map && n->text.len < n->map_cap)
        n->map[n->text.len] = SIZE_MAX;
}

/* map_fit() makes n->map twice the text capacity, keeping the first `used` ends. */
static dm_status map_fit(state *st, size_t used)
{
    dm_norm *n = st->n;
    size_t half = n->map_cap / 2;
    if (half < n->text.cap) {
        size_t cap = n->text.cap;
        if (cap > SIZE_MAX / (2 * sizeof(size_t)))
            return DM_ENOMEM;
        size_t *m = dm_realloc(n->map, 2 * cap * sizeof(size_t));
        if (!m)
            return DM_ENOMEM;
        memmove(m + cap, m + half, used * sizeof(size_t));
        n->map = m;
        n->map_cap = 2 * cap;
        half = cap;
    }
    st->starts = n->map;
    st->ends = n->map + half;
    return DM_OK;
}

/* room() makes space for k more output bytes (and the NUL after them). */
static dm_status room(state *st, size_t k)
{
    dm_buf *b = &st->n->text;
    if (k > b->max - st->o)
        return DM_ETOOLARGE;
    size_t need = st->o + k + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 4 ? need : cap * 2;
        if (b->max < SIZE_MAX && cap > b->max + 1)
            cap = b->max + 1;
        char *p = dm_realloc(b->data, cap);
        if (!p)
            return DM_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    st->out = b->data;
    st->lim = b->cap - 1;
    return st->with_map ? map_fit(st, st->o) : DM_OK;
}

static inline void put_byte(state *st, char c, size_t start, size_t end)
{
    if (st->with_map) {
        st->starts[st->o] = start;
        st->ends[st->o] = end;
    }
    st->out[st->o++] = c;
}

static void whitespace(state *st, size_t start, size_t end)
{
    if (!st->pend) {
        st->pend = 1;
        st->ws_start = start;
    }
    st->ws_end = end;
}

/* put() writes k visible bytes made by original bytes [start, end). */
static dm_status put(state *st, const char *p, size_t k, size_t start, size_t end)
{
    int space = st->pend && st->o > 0;
    if (st->lim - st->o < k + (size_t)space) {
        dm_status rc = room(st, k + (size_t)space);
        if (rc != DM_OK)
            return rc;
    }
    if (space)
        put_byte(st, ' ', st->ws_start, st->ws_end);
    st->pend = 0;
    for (size_t i = 0; i < k; i++)
        put_byte(st, p[i], start, end);
    return DM_OK;
}

/* ---- steps 4 to 6 for one code point out of NFKC ---- */

static dm_status emit(state *st, int32_t cp, size_t start, size_t end)
{
    char b[4];
    size_t k;
    if (cp < 0x80) {
        if (cp == ' ' || (cp >= '\t' && cp <= '\r')) {
            whitespace(st, start, end);
            return DM_OK;
        }
        b[0] = (char)cp;
        return put(st, b, 1, start, end);
    }
    /* clang-format off */
    switch (cp) {
    /* step 4: removed */
    case 0x00AD:
    case 0x200B: case 0x200C: case 0x200D: case 0x200E: case 0x200F:
    case 0x2060: case 0x2061: case 0x2062: case 0x2063: case 0x2064:
    case 0xFEFF:
        return DM_OK;
    /* step 5: folded to ASCII */
    case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x2035:
        return put(st, "'", 1, start, end);
    case 0x201C: case 0x201D: case 0x201E: case 0x201F:
        return put(st, "\"", 1, start, end);
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
    case 0x2212:
        return put(st, "-", 1, start, end);
    case 0x2026:
        return put(st, "...", 3, start, end);
    case 0x0085: case 0x00A0: case 0x1680:
    case 0x2000: case 0x2001: case 0x2002: case 0x2003: case 0x2004: case 0x2005:
    case 0x2006: case 0x2007: case 0x2008: case 0x2009: case 0x200A:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        whitespace(st, start, end);
        return DM_OK;
    default:
        break;
    }
    /* clang-format on */
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    return put(st, b, k, start, end);
}

/* ---- step 3: the composition window ---- */

/* compose_pair() is the primary composite of a + b, or -1; a is a starter. */
static int32_t compose_pair(int32_t a, int32_t b)
{
    utf8proc_int32_t buf[2] = {a, b};
    if (b < 0x300) /* the first second character is U+0300 (checked over all pairs) */
        return -1;
    if (utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE | UTF8PROC_STABLE) == 1)
        return buf[0];
    return -1;
}

/* compose() is utf8proc's canonical composition, carrying the origins along. */
static void compose(state *st)
{
    wcp *w = st->win;
    size_t wp = 0, starter = SIZE_MAX;
    int maxcc = -1;
    if (st->nwin < 2)
        return;
    for (size_t r = 0; r < st->nwin; r++) {
        wcp x = w[r];
        if (starter != SIZE_MAX && x.ccc > maxcc) {
            int32_t c = compose_pair(w[starter].cp, x.cp);
            if (c >= 0) {
                w[starter].cp = c;
                if (x.end > w[starter].end)
                    w[starter].end = x.end;
                continue;
            }
        }
        if (x.ccc) {
            if (x.ccc > maxcc)
                maxcc = x.ccc;
        } else {
            starter = wp;
            maxcc = -1;
        }
        w[wp++] = x;
    }
    st->nwin = wp;
}

/* flush() composes the window and emits it, all but a last starter when `keep`. */
static dm_status flush(state *st, int keep)
{
    compose(st);
    size_t k = st->nwin;
    if (keep && k > 0 && st->win[k - 1].ccc == 0)
        k--;
    for (size_t i = 0; i < k; i++) {
        dm_status rc = emit(st, st->win[i].cp, st->win[i].start, st->win[i].end);
        if (rc != DM_OK)
            return rc;
    }
    if (k < st->nwin)
        st->win[0] = st->win[k];
    st->nwin -= k;
    return DM_OK;
}

/* push() adds one decomposed code point, in canonical order. */
static dm_status push(state *st, int32_t cp, int ccc, size_t start, size_t end)
{
    dm_status rc = DM_OK;
    if (st->nwin > 0 && (ccc == 0 || st->nwin == WIN_MAX)) {
        /* A starter: what came before it can no longer change, but the
         * last starter may still compose with this one (Hangul, some Indic
         * vowel signs). */
        rc = flush(st, ccc == 0);
        if (rc != DM_OK)
            return rc;
    }
    size_t k = st->nwin;
    while (k > 0 && st->win[k - 1].ccc > ccc)
        k--;
    wcp x = {cp, ccc, start, end};
    if (k < st->nwin) {
        /* Reordered marks share one origin: the first start, the last end. */
        size_t lo = st->win[k].start;
        memmove(&st->win[k + 1], &st->win[k], (st->nwin - k) * sizeof(wcp));
        st->win[k] = x;
        st->nwin++;
        for (size_t i = k; i < st->nwin; i++) {
            st->win[i].start = lo;
            if (st->win[i].end > end)
                end = st->win[i].end;
        }
        for (size_t i = k; i < st->nwin; i++)
            st->win[i].end = end;
    } else {
        st->win[st->nwin++] = x;
    }
    return rc;
}

/* slow() takes one code point of the original, bytes [start, end). */
static dm_status slow(state *st, int32_t cp, size_t start, size_t end)
{
    utf8proc_int32_t d[DECOMP_MAX];
    utf8proc_ssize_t k = 1;
    int boundclass = 0;
    if (cp < 0x80) {
        d[0] = ascii_lower((unsigned char)cp);
    } else {
        k = utf8proc_decompose_char(cp, d, DECOMP_MAX, NFKC_CF, &boundclass);
        if (k < 1 || k > DECOMP_MAX) {
            d[0] = 0xFFFD;
            k = 1;
        }
    }
    int ccc0 = d[0] < 0x80 ? 0 : utf8proc_get_property(d[0])->combining_class;
    if (st->prev_direct) {
        st->prev_direct = 0;
        if (ccc0 && st->o > 0 && st->nwin == 0) {
            /* take the ASCII letter before back: the mark may compose with it */
            st->o--;
            st->win[0] = (wcp){(unsigned char)st->out[st->o], 0, start - 1, start};
            st->nwin = 1;
        }
    }
    for (utf8proc_ssize_t i = 0; i < k; i++) {
        int ccc = i == 0 ? ccc0 : utf8proc_get_property(d[i])->combining_class;
        dm_status rc = push(st, d[i], ccc, start, end);
        if (rc != DM_OK)
            return rc;
    }
    return DM_OK;
}

/* ---- steps 1 and 2: entities and UTF-8 ---- */

/*
 * entity -> '&' name ';' | '&#' digit+ ';' | '&#' ('x' | 'X') hexdigit+ ';'
 * parse_entity() returns the length of the entity at s[0] == '&' and its
 * code point, or 0 when it is not one we decode.
 */
static size_t parse_entity(const unsigned char *s, size_t len, int32_t *cp)
{
    /* clang-format off */
    static const struct {
        char name[8];
        int32_t cp;
    } named[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
        {"nbsp", 0x00A0}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
        {"rsquo", 0x2019}, {"lsquo", 0x2018}, {"rdquo", 0x201D}, {"ldquo", 0x201C},
    };
    /* clang-format on */
    size_t i = 1;
    if (i < len && s[i] == '#') {
        int hex = 0;
        uint32_t v = 0;
        size_t digits = 0;
        i++;
        if (i < len && (s[i] == 'x' || s[i] == 'X'))
            hex = 1, i++;
        for (; i < len; i++, digits++) {
            unsigned c = s[i], dv;
            if (c >= '0' && c <= '9')
                dv = c - '0';
            else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                dv = (c | 0x20) - 'a' + 10;
            else
                break;
            v = v > 0x10FFFF ? v : v * (hex ? 16 : 10) + dv; /* saturates past the range */
        }
        if (digits == 0 || i >= len || s[i] != ';')
            return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = 0xFFFD;
        *cp = (int32_t)v;
        return i + 1;
    }
    while (i < len && i < 8 && ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
        i++;
    if (i == 1 || i >= len || s[i] != ';')
        return 0;
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        if (strlen(named[k].name) == i - 1 && memcmp(named[k].name, s + 1, i - 1) == 0) {
            *cp = named[k].cp;
            return i + 1;
        }
    }
    return 0;
}

/*
 * decode_utf8() reads the character at s[0] (not ASCII) into *cp and
 * returns its length.  An invalid sequence is U+FFFD for its longest
 * start that could have been valid, or for one byte (Unicode's "maximal
 * subpart" practice, as the WHATWG decoder does).
 */
static size_t decode_utf8(const unsigned char *s, size_t len, int32_t *cp)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    int32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t k = 1; k <= need; k++) {
        if (k >= len || s[k] < lo || s[k] > hi) {
            *cp = 0xFFFD;
            return k;
        }
        v = (v << 6) | (s[k] & 0x3F);
        lo = 0x80, hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

/* ---- the two paths ---- */

/*
 * plain8() lower-cases the 8 bytes at p into *x when they can be copied as
 * they are: ASCII, no '&', no control character or line end, no two spaces
 * in a row, and no space last (a space first is fine after a visible
 * character).  SWAR: the tests are exact per byte since every byte is
 * below 0x80 once the first one passes, so no carry crosses bytes.
 */
static inline int plain8(const unsigned char *p, uint64_t *x)
{
    const uint64_t ones = 0x0101010101010101u, high = ones * 0x80, low7 = ones * 0x7F;
    uint64_t v;
    memcpy(&v, p, 8);
    if (v & high)
        return 0;
    if (~(v + ones * 0x60) & high) /* a byte below 0x20 */
        return 0;
    if (~((v ^ ones * '&') + low7) & high) /* an '&' */
        return 0;
    uint64_t spaces = ~((v ^ ones * ' ') + low7) & high;
    if ((spaces & (spaces << 8)) || p[7] == ' ')
        return 0;
    uint64_t upper = (v + ones * (0x80 - 'A')) & ~(v + ones * (0x80 - 'Z' - 1)) & high;
    *x = v | (upper >> 2);
    return 1;
}

/*
 * ascii_run() is the fast path: ASCII up to the next '&' or non-ASCII byte.
 * It keeps its counters in locals, since every store through `out` (a char
 * pointer) could otherwise change them.  A run writes at most one byte per
 * byte it reads, plus a space pending from before, which lets the inner
 * loop skip the room checks up to `stop`.
 */
static inline __attribute__((always_inline)) dm_status ascii_run(state *st, size_t *pi,
                                                                 const int with_map)
{
    const unsigned char *s = st->s;
    size_t i = *pi, from = i, len = st->len, o = st->o, lim = st->lim;
    size_t *starts = st->starts, *ends = st->ends;
    size_t ws_start = st->ws_start, ws_end = st->ws_end;
    char *out = st->out;
    int pend = st->pend;
    dm_status rc = DM_OK;
#define PUT(c, a, b)                                                                               \
    do {                                                                                           \
        if (with_map) {                                                                            \
            starts[o] = (a);                                                                       \
            ends[o] = (b);                                                                         \
        }                                                                                          \
        out[o++] = (char)(c);                                                                      \
    } while (0)
    while (i < len) {
        size_t avail = lim - o, stop = i + 1;
        unsigned char c = s[i], k = classes[c];
        if (avail > len - i) {
            stop = len;
        } else if (avail >= 2) {
            stop = i + avail - 1;
        } else if (k == P) {
            /* full: make room for this byte and the space before it */
            st->o = o;
            rc = room(st, 1 + (size_t)(pend && o > 0));
            if (rc != DM_OK)
                break;
            out = st->out, lim = st->lim, starts = st->starts, ends = st->ends;
        }
        while (i < stop) {
            c = s[i];
            k = classes[c];
            if (k == S) {
                if (!pend) {
                    pend = 1;
                    ws_start = i;
                }
                ws_end = ++i;
                continue;
            }
            if (k == X)
                goto done;
            if (pend) {
                pend = 0;
                if (o > 0)
                    PUT(' ', ws_start, ws_end);
            }
            PUT(ascii_lower(c), i, i + 1);
            i++;
            uint64_t x;
            while (stop - i >= 8 && plain8(s + i, &x)) {
                memcpy(out + o, &x, 8);
                if (with_map) {
                    for (size_t j = 0; j < 8; j++) {
                        starts[o + j] = i + j;
                        ends[o + j] = i + j + 1;
                    }
                }
                o += 8;
                i += 8;
            }
        }
    }
done:
#undef PUT
    st->o = o;
    st->pend = pend;
    st->ws_start = ws_start;
    st->ws_end = ws_end;
    if (i > from)
        st->prev_direct = classes[s[i - 1]] == P;
    *pi = i;
    return rc;
}

static inline __attribute__((always_inline)) dm_status run(state *st, const int with_map)
{
    const unsigned char *s = st->s;
    size_t i = 0, len = st->len;
    dm_status rc = DM_OK;
    while (i < len && rc == DM_OK) {
        unsigned char c = s[i];
        int32_t cp;
        size_t k;
        if (c < 0x80 && c != '&') {
            if (st->nwin > 0)
                rc = flush(st, 0);
            if (rc == DM_OK)
                rc = ascii_run(st, &i, with_map);
        } else if (c == '&' && (k = parse_entity(s + i, len - i, &cp)) > 0) {
            rc = slow(st, cp, i, i + k);
            i += k;
        } else if (c == '&') {
            /* not an entity: a plain '&' */
            if (st->nwin > 0)
                rc = flush(st, 0);
            if (rc == DM_OK)
                rc = put(st, "&", 1, i, i + 1);
            st->prev_direct = 1;
            i++;
        } else {
            k = decode_utf8(s + i, len - i, &cp);
            rc = slow(st, cp, i, i + k);
            i += k;
        }
    }
    if (rc == DM_OK && st->nwin > 0)
        rc = flush(st, 0);
    return rc;
}

/* ---- API ---- */

void dm_norm_init(dm_norm *n, size_t max)
{
    dm_buf_init(&n->text, max);
    n->map = NULL;
    n->map_cap = 0;
    n->orig_len = 0;
}

void dm_norm_free(dm_norm *n)
{
    dm_buf_free(&n->text);
    dm_free(n->map);
    n->map = NULL;
    n->map_cap = 0;
    n->orig_len = 0;
}

dm_status dm_normalize(dm_norm *n, const char *s, size_t len, int with_map)
{
    state st;
    dm_status rc;
    map_invalidate(n);
    n->text.len = 0;
    n->orig_len = 0;
    st.n = n;
    st.s = (const unsigned char *)s;
    st.len = len;
    st.with_map = with_map != 0;
    st.o = 0;
    st.pend = 0;
    st.ws_start = st.ws_end = 0;
    st.prev_direct = 0;
    st.nwin = 0;
    st.starts = st.ends = NULL;
    /* The output is rarely longer than the input: one allocation, first time only. */
    rc = room(&st, len < n->text.max ? len : n->text.max);
    if (rc == DM_OK)
        rc = st.with_map ? run(&st, 1) : run(&st, 0);
    if (rc != DM_OK) {
        if (n->text.data)
            n->text.data[0] = '\0';
        map_invalidate(n);
        return rc;
    }
    n->text.len = st.o;
    n->text.data[st.o] = '\0';
    n->orig_len = len;
    if (st.with_map) {
        /* map_fit() keeps map_cap / 2 >= text.cap > o: the ends move down. */
        memmove(n->map + st.o + 1, st.ends, st.o * sizeof(size_t));
        n->map[st.o] = len;
    } else {
        map_invalidate(n);
    }
    return DM_OK;
}

void dm_norm_span(const dm_norm *n, size_t start, size_t end, size_t *ostart, size_t *oend)
{
    size_t len = n->text.len;
    if (!n->map || n->map_cap / 2 <= len || n->map[len] != n->orig_len) {
        /* no map from the last call: all of the original is the safe answer */
        *ostart = 0;
        *oend = n->orig_len;
        return;
    }
    const size_t *starts = n->map, *ends = n->map + len + 1;
    if (end > len)
        end = len;
    if (start > end)
        start = end;
    size_t hi = starts[start];
    for (size_t i = start; i < end; i++)
        if (ends[i] > hi)
            hi = ends[i];
    *ostart = starts[start];
    *oend = hi;
}
