/*
 * test_normalize.c: text as rules see it (src/rules/normalize.c).
 *
 * DM_NORM_BENCH=1 test_normalize times, instead of testing, the
 * normalization of a million ASCII notes and of notes with some non-ASCII
 * text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "core.h"
#include "rules/normalize.h"

/* check_map() checks what every map must hold: in range, never going back. */
static void check_map(const dm_norm *n, size_t orig_len)
{
    size_t len = n->text.len;
    assert_non_null(n->map);
    assert_int_equal(n->map[len], orig_len);
    assert_int_equal(n->orig_len, orig_len);
    for (size_t i = 0; i < len; i++) {
        if (n->map[i] >= orig_len)
            fail_msg("map[%zu] = %zu, past the original (%zu bytes)", i, n->map[i], orig_len);
        if (i > 0 && n->map[i] < n->map[i - 1])
            fail_msg("map[%zu] = %zu goes back from %zu", i, n->map[i], n->map[i - 1]);
        size_t os, oe;
        dm_norm_span(n, i, i + 1, &os, &oe);
        if (os != n->map[i] || oe <= os || oe > orig_len)
            fail_msg("span of byte %zu is [%zu, %zu), map says %zu", i, os, oe, n->map[i]);
    }
}

/* normalized() normalizes s with the map and checks the result is valid. */
static void normalized(dm_norm *n, const char *s, size_t len)
{
    assert_int_equal(dm_normalize(n, s, len, 1), DM_OK);
    assert_int_equal(n->text.data[n->text.len], '\0');
    assert_int_equal(dm_utf8_check(n->text.data, n->text.len), n->text.len);
    check_map(n, len);
}

/* hex() shows s for a failure message, escaping what is not printable ASCII. */
typedef struct shown {
    char s[2048];
} shown;

static shown hex(const char *s, size_t len)
{
    shown r;
    char *out = r.s;
    size_t k = 0;
    for (size_t i = 0; i < len && k + 5 < sizeof r.s; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\')
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, sizeof r.s - k, "\\x%02X", c);
    }
    out[k] = '\0';
    return r;
}

/* ---- input -> normalized text ---- */

typedef struct norm_case {
    const char *in;
    const char *out;
} norm_case;

/* clang-format off */
static const norm_case cases[] = {
    /* ASCII: lower case, whitespace collapsed and trimmed */
    {"", ""},
    {" ", ""},
    {" \t\r\n\v\f ", ""},
    {"Hello   World\n\nX", "hello world x"},
    {"  Lead Gen  ", "lead gen"},
    {"\tTab\r\nbed\v\f", "tab bed"},
    {"ABC xyz 0123 !?#$%", "abc xyz 0123 !?#$%"},
    {"a & b && c&d", "a & b && c&d"},

    /* look-alike letters (step 3) */
    {"ｌｅａｄ ｇｅｎ", "lead gen"},
    {"ＬＥＡＤ\u3000ＧＥＮ", "lead gen"},
    {"𝐥𝐞𝐚𝐝 𝐠𝐞𝐧𝐞𝐫𝐚𝐭𝐢𝐨𝐧", "lead generation"},
    {"𝐋𝐄𝐀𝐃 𝘨𝘦𝘯 𝕝𝕖𝕒𝕕", "lead gen lead"},
    {"ﬁnance ﬂow", "finance flow"},
    {"ＡＢＣ－１２３", "abc-123"},
    {"Ⅻ ① ㎏ ™", "xii 1 kg tm"},
    {"\u212A\u2126\u212B", "kωå"}, /* Kelvin, Ohm and Angstrom signs */
    {"\u01C5", "dž"},

    /* case folding */
    {"José", "josé"},
    {"JOSÉ", "josé"},
    {"Jose\u0301", "jos\u00E9"}, /* composed */
    {"STRASSE", "strasse"},
    {"Straße", "strasse"},
    {"STRA\u1E9EE", "strasse"},
    {"ΚΑΛΗΜΈΡΑ", "καλημέρα"},
    {"ΟΔΥΣΣΕΥΣ Οδυσσεύς", "οδυσσευσ οδυσσεύσ"},
    {"ПРИВЕТ Мир", "привет мир"},
    {"İstanbul", "i\u0307stanbul"},

    /* invisible characters (step 4) */
    {"le\u200Bad", "lead"},
    {"l\u200Ce\u200Da\u200E\u200Fd", "lead"},
    {"g\u2060e\u2061n\u2062\u2063\u2064", "gen"},
    {"\uFEFFlead", "lead"},
    {"co\u00ADoperate", "cooperate"},
    {" \u200B ", ""},
    {"a \u200B b", "a b"},

    /* folded to ASCII (step 5) */
    {"I’m", "i'm"},
    {"‘quoted’ ‚low‛", "'quoted' 'low'"},
    {"“Hi” „x‟", "\"hi\" \"x\""},
    {"5′ 6″ ‵", "5' 6'' '"},
    {"—", "-"},
    {"a–b—c", "a-b-c"},
    {"‐‑‒–—―−", "-------"},
    {"wait…", "wait..."},

    /* Unicode spaces (step 5) and whitespace (step 6) */
    {"a\u00A0b\u2003c\u3000d\u2028e\xC2\x85" "f\u2029g\u202Fh\u205Fi\u1680j", "a b c d e f g h i j"},
    {"\u00A0\u3000 x \u2009", "x"},
    {"\u00A0\u00A0", ""},

    /* composition and canonical order */
    {"\u1112\u1161\u11AB\uD55C", "\uD55C\uD55C"},
    {"\u1E0B\u0323", "\u1E0D\u0307"},
    {"q\u0307\u0323", "q\u0323\u0307"},
    {"<\u0338 =\u0338", "\u226E \u2260"},
    {"\u0B47\u0B3E", "\u0B4B"},
    {"e\u200B\u0301", "e\u0301"}, /* NFKC first, removal after: not composed */
    {"\u0301x", "\u0301x"},
    {"a \u0301", "a \u0301"},

    /* HTML entities (step 1) */
    {"&amp;", "&"},
    {"Tom &amp; Jerry &lt;3 &gt; &quot;x&quot; &apos;y&apos;", "tom & jerry <3 > \"x\" 'y'"},
    {"a&nbsp;&nbsp;b", "a b"},
    {"&nbsp;x&nbsp;", "x"},
    {"&hellip;&mdash;&ndash;", "...--"},
    {"I&rsquo;m &lsquo;x&rsquo; &ldquo;y&rdquo;", "i'm 'x' \"y\""},
    {"&#65;&#x42;&#X43;&#x2019;&#233;", "abc'é"},
    {"&#x1F600;&#128512;", "😀😀"},
    {"[&#0;][&#xD800;][&#x110000;][&#99999999999;]",
     "[\uFFFD][\uFFFD][\uFFFD][\uFFFD]"},
    {"&#xFF21;&#x1D41A;", "aa"},
    {"a&#10;&#9;b", "a b"},
    {"e&#x301;", "\u00E9"},
    {"&lt;\u0338", "\u226E"},
    {"&amp;lt;", "&lt;"}, /* decoded once */
    {"&foo; &AMP; &amp &#; &#x; &#12 &#x1g; & ;", "&foo; &amp; &amp &#; &#x; &#12 &#x1g; & ;"},
    {"&hellipx; &abcdefghij; &", "&hellipx; &abcdefghij; &"},

    /* invalid UTF-8 (step 2): U+FFFD per bad sequence */
    {"a\xFF" "b", "a\uFFFDb"},
    {"\xC3", "\uFFFD"},
    {"\xC3(", "\uFFFD("},
    {"\xE2\x82", "\uFFFD"},
    {"\xE2\x82" "x", "\uFFFDx"},
    {"\xF0\x9F\x98" "x", "\uFFFDx"},
    {"\xC0\x80", "\uFFFD\uFFFD"},                     /* overlong */
    {"\xE0\x80\xAF", "\uFFFD\uFFFD\uFFFD"},           /* overlong */
    {"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"},           /* surrogate */
    {"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, /* past U+10FFFF */
    {"\x80\xBF", "\uFFFD\uFFFD"},
    {"\xF5\xFE\xFF", "\uFFFD\uFFFD\uFFFD"},
    {"x\xE2\x80\x99\xE2\x80", "x'\uFFFD"},
};
/* clang-format on */

static void test_cases(void **state)
{
    (void)state;
    dm_norm n;
    dm_norm_init(&n, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const norm_case *k = &cases[i];
        size_t len = strlen(k->in);
        for (int with_map = 0; with_map <= 1; with_map++) {
            if (with_map)
                normalized(&n, k->in, len);
            else
                assert_int_equal(dm_normalize(&n, k->in, len, 0), DM_OK);
            if (n.text.len != strlen(k->out) || memcmp(n.text.data, k->out, n.text.len) != 0)
                fail_msg("case %zu \"%s\": got \"%s\", expected \"%s\"", i, hex(k->in, len).s,
                         hex(n.text.data, n.text.len).s, hex(k->out, strlen(k->out)).s);
        }
    }
    dm_norm_free(&n);
}

/* ---- the offset map ---- */

typedef struct span_case {
    const char *in;
    const char *norm; /* the first occurrence of this in the normalized text */
    const char *orig; /* ... maps back to the first occurrence of this in the input */
} span_case;

/* clang-format off */
static const span_case spans[] = {
    {"Ｈｉ ＬＥＡＤ gen", "lead gen", "ＬＥＡＤ gen"},
    {"Ｈｉ ＬＥＡＤ gen", "hi", "Ｈｉ"},
    {"a &amp; b", "&", "&amp;"},
    {"a &amp; b", "a & b", "a &amp; b"},
    {"ﬁnance", "f", "ﬁ"},
    {"ﬁnance", "i", "ﬁ"},
    {"ﬁnance", "nance", "nance"},
    {"Jose\u0301 Díaz", "\u00E9", "e\u0301"},
    {"Jose\u0301 Díaz", "í", "í"},
    {"JOSÉ", "josé", "JOSÉ"},
    {"lead\u200B gen", "lead", "lead"},
    {"lead\u200B gen", "d g", "d\u200B g"},
    {"  lead  ", "lead", "lead"},
    {"Hello   World", "o w", "o   W"},
    {"I&rsquo;m", "'", "&rsquo;"},
    {"I&rsquo;m", "i'm", "I&rsquo;m"},
    {"x \xFF y", "\uFFFD", "\xFF"},
    {"x \xE2\x82 y", "\uFFFD", "\xE2\x82"},
    {"wait&hellip;", "..", "&hellip;"},
    {"wait…", "t...", "t…"},
    {"STRA\u1E9EE", "ss", "\u1E9E"},
    {"Straße", "ss", "ß"},
    {"\u1E0B\u0323!", "\u1E0D", "\u1E0B\u0323"},
    {"\u1112\u1161\u11AB", "\uD55C", "\u1112\u1161\u11AB"},
    {"e&#x301; x", "\u00E9", "e&#x301;"},
    {"a&nbsp;&nbsp;b", " ", "&nbsp;&nbsp;"},
    {"𝐥𝐞𝐚𝐝", "ea", "𝐞𝐚"},
};
/* clang-format on */

static void test_spans(void **state)
{
    (void)state;
    dm_norm n;
    dm_norm_init(&n, 0);
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        const span_case *k = &spans[i];
        normalized(&n, k->in, strlen(k->in));
        const char *at = strstr(n.text.data, k->norm);
        if (!at)
            fail_msg("span %zu: \"%s\" not in \"%s\"", i, k->norm, n.text.data);
        size_t start = (size_t)(at - n.text.data), os, oe;
        dm_norm_span(&n, start, start + strlen(k->norm), &os, &oe);
        size_t want = (size_t)(strstr(k->in, k->orig) - k->in);
        if (os != want || oe != want + strlen(k->orig))
            fail_msg("span %zu: \"%s\" in \"%s\" maps to [%zu, %zu) \"%.*s\", expected [%zu, %zu)",
                     i, k->norm, k->in, os, oe, (int)(oe - os), k->in + os, want,
                     want + strlen(k->orig));
    }
    dm_norm_free(&n);
}

static void test_map_values(void **state)
{
    (void)state;
    dm_norm n;
    dm_norm_init(&n, 0);

    /* "a &amp; b" -> "a & b" */
    normalized(&n, "a &amp; b", 9);
    assert_string_equal(n.text.data, "a & b");
    static const size_t amp[] = {0, 1, 2, 7, 8, 9};
    for (size_t i = 0; i <= 5; i++)
        assert_int_equal(n.map[i], amp[i]);

    /* every byte of a multi-byte result maps to its character */
    normalized(&n, "xÉ\u00A0ﬁ", 8);
    assert_string_equal(n.text.data, "xé fi");
    static const size_t fi[] = {0, 1, 1, 3, 5, 5, 8};
    for (size_t i = 0; i <= 6; i++)
        assert_int_equal(n.map[i], fi[i]);

    /* empty spans, spans past the end */
    size_t os, oe;
    dm_norm_span(&n, 3, 3, &os, &oe);
    assert_int_equal(os, 3);
    assert_int_equal(oe, 3);
    dm_norm_span(&n, 4, 100, &os, &oe);
    assert_int_equal(os, 5);
    assert_int_equal(oe, 8);
    dm_norm_span(&n, 100, 200, &os, &oe);
    assert_int_equal(os, 8);
    assert_int_equal(oe, 8);

    /* empty input */
    normalized(&n, "", 0);
    assert_string_equal(n.text.data, "");
    assert_int_equal(n.map[0], 0);
    normalized(&n, " \t ", 3);
    assert_string_equal(n.text.data, "");
    assert_int_equal(n.map[0], 3);

    /* without the map, a span is all of the original (never a stale map) */
    normalized(&n, "Lead Gen", 8);
    assert_int_equal(dm_normalize(&n, "  hello world  ", 15, 0), DM_OK);
    assert_string_equal(n.text.data, "hello world");
    dm_norm_span(&n, 0, 5, &os, &oe);
    assert_int_equal(os, 0);
    assert_int_equal(oe, 15);
    dm_norm_free(&n);

    dm_norm_init(&n, 0);
    assert_int_equal(dm_normalize(&n, "abc", 3, 0), DM_OK);
    assert_null(n.map);
    dm_norm_span(&n, 0, 1, &os, &oe);
    assert_int_equal(os, 0);
    assert_int_equal(oe, 3);
    dm_norm_free(&n);
}

/* ---- sizes ---- */

static void test_large_input(void **state)
{
    (void)state;
    static const char unit[] = "Hi   ＰＡＵＬ, I’m offering 𝐥𝐞𝐚𝐝 𝐠𝐞𝐧 &amp; B2B—Straße\u200B… ";
    static const char norm[] = "hi paul, i'm offering lead gen & b2b-strasse... ";
    size_t ul = strlen(unit), nl = strlen(norm), reps = 100 * 1024 / ul + 1;
    char *in = malloc(ul * reps), *want = malloc(nl * reps);
    assert_non_null(in);
    assert_non_null(want);
    for (size_t i = 0; i < reps; i++) {
        memcpy(in + i * ul, unit, ul);
        memcpy(want + i * nl, norm, nl);
    }
    dm_norm n;
    dm_norm_init(&n, 0);
    for (int with_map = 0; with_map <= 1; with_map++) {
        if (with_map)
            normalized(&n, in, ul * reps);
        else
            assert_int_equal(dm_normalize(&n, in, ul * reps, 0), DM_OK);
        assert_true(ul * reps >= 100 * 1024);
        assert_int_equal(n.text.len, nl * reps - 1); /* without the trailing space */
        assert_memory_equal(n.text.data, want, nl * reps - 1);
    }
    /* the last "lead gen" maps back to its math-bold letters */
    size_t os, oe, at = (reps - 1) * nl + 22;
    assert_memory_equal(n.text.data + at, "lead gen", 8);
    dm_norm_span(&n, at, at + 8, &os, &oe);
    assert_int_equal(os, (reps - 1) * ul + strlen("Hi   ＰＡＵＬ, I’m offering "));
    assert_memory_equal(in + os, "𝐥𝐞𝐚𝐝 𝐠𝐞𝐧", oe - os);
    assert_int_equal(oe - os, strlen("𝐥𝐞𝐚𝐝 𝐠𝐞𝐧"));
    dm_norm_free(&n);
    free(in);
    free(want);
}

static void test_too_large(void **state)
{
    (void)state;
    dm_norm n;
    dm_norm_init(&n, 8);
    assert_int_equal(dm_normalize(&n, "12345678", 8, 1), DM_OK); /* exactly the maximum */
    assert_string_equal(n.text.data, "12345678");
    assert_int_equal(dm_normalize(&n, "123456789", 9, 1), DM_ETOOLARGE);
    assert_int_equal(n.text.len, 0);
    assert_string_equal(n.text.data, "");
    size_t os, oe;
    dm_norm_span(&n, 0, 1, &os, &oe); /* no map after a failure */
    assert_int_equal(os, 0);
    assert_int_equal(oe, 0);
    assert_int_equal(dm_normalize(&n, "123456789", 9, 0), DM_ETOOLARGE);
    /* the limit is on the result, not the input */
    assert_int_equal(dm_normalize(&n, "  a     \n\n\n     b  ", 19, 1), DM_OK);
    assert_string_equal(n.text.data, "a b");
    assert_int_equal(dm_normalize(&n, "a\u200B\u200B\u200B\u200Bb", 14, 0), DM_OK);
    assert_string_equal(n.text.data, "ab");
    /* and expansions count: U+FDFA is 3 bytes in, 33 out */
    assert_int_equal(dm_normalize(&n, "\uFDFA", 3, 0), DM_ETOOLARGE);
    assert_int_equal(dm_normalize(&n, "1234567&hellip;", 15, 1), DM_ETOOLARGE);
    assert_int_equal(dm_normalize(&n, "12345&hellip;", 13, 1), DM_OK);
    assert_string_equal(n.text.data, "12345...");
    assert_int_equal(dm_normalize(&n, "1234567 x", 9, 1), DM_ETOOLARGE);
    assert_int_equal(dm_normalize(&n, "1234567 ", 8, 1), DM_OK);
    assert_string_equal(n.text.data, "1234567");
    dm_norm_free(&n);

    dm_norm_init(&n, 33);
    assert_int_equal(dm_normalize(&n, "\uFDFA", 3, 1), DM_OK);
    assert_int_equal(n.text.len, 33);
    check_map(&n, 3);
    dm_norm_free(&n);
}

/* Every maximum around the result's length: DM_ETOOLARGE exactly when it does not fit. */
static void test_every_max(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "Hello   World\n\nX, this is a longer line of plain ASCII text to copy",
        "   leading and trailing   ",
        "ＬＥＡＤ ｇｅｎ &amp; José — wait&hellip; \uFDFA ok",
        "e\u0301\u0323 x\xFF y &lt;\u0338",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = strlen(inputs[i]);
        dm_norm ref;
        dm_norm_init(&ref, 0);
        assert_int_equal(dm_normalize(&ref, inputs[i], len, 0), DM_OK);
        for (size_t max = 1; max <= ref.text.len + 2; max++) {
            for (int with_map = 0; with_map <= 1; with_map++) {
                dm_norm n;
                dm_norm_init(&n, max);
                dm_status st = dm_normalize(&n, inputs[i], len, with_map);
                if (ref.text.len > max) {
                    if (st != DM_ETOOLARGE)
                        fail_msg("input %zu, max %zu: %s", i, max, dm_strerror(st));
                } else {
                    assert_int_equal(st, DM_OK);
                    assert_int_equal(n.text.len, ref.text.len);
                    assert_memory_equal(n.text.data, ref.text.data, ref.text.len + 1);
                    if (with_map)
                        check_map(&n, len);
                }
                dm_norm_free(&n);
            }
        }
        dm_norm_free(&ref);
    }
}

/* More combining marks than the composition window holds. */
static void test_many_marks(void **state)
{
    (void)state;
    char in[2 + 300 * 2 + 2], want[2 + 299 * 2 + 2];
    size_t il = 0, wl = 0;
    in[il++] = 'A';
    memcpy(want, "\u00E1", 2);
    wl = 2;
    for (int i = 0; i < 300; i++) {
        memcpy(in + il, "\u0301", 2);
        il += 2;
        if (i > 0) {
            memcpy(want + wl, "\u0301", 2);
            wl += 2;
        }
    }
    in[il++] = 'b';
    want[wl++] = 'b';
    dm_norm n;
    dm_norm_init(&n, 0);
    normalized(&n, in, il);
    assert_int_equal(n.text.len, wl);
    assert_memory_equal(n.text.data, want, wl);
    /* alternating classes: order within the window, still valid text */
    il = 0;
    in[il++] = 'q';
    for (int i = 0; i < 150; i++) {
        memcpy(in + il, i % 2 ? "\u0307" : "\u0323", 2);
        il += 2;
    }
    normalized(&n, in, il);
    assert_int_equal(n.text.len, il);
    dm_norm_free(&n);
}

/* ---- memory: reused between calls, failures reported, nothing leaked ---- */

static long fail_countdown = -1; /* fail the allocation when it reaches 0 */
static long allocs, live;

static int take(void)
{
    if (fail_countdown == 0)
        return 0;
    if (fail_countdown > 0)
        fail_countdown--;
    allocs++;
    return 1;
}

static void *count_malloc(size_t n)
{
    void *p = take() ? malloc(n) : NULL;
    live += p != NULL;
    return p;
}

static void *count_realloc(void *p, size_t n)
{
    void *q = take() ? realloc(p, n) : NULL;
    live += q && !p;
    return q;
}

static void count_free(void *p)
{
    live -= p != NULL;
    free(p);
}

static void test_memory_reused(void **state)
{
    (void)state;
    static const char *notes[] = {
        "Hi Paul, I'd love to connect about lead generation for your agency.",
        "José — ＬＥＡＤ ｇｅｎ &amp; more… Straße ﬁnance",
        "short",
        "",
    };
    dm_norm n;
    allocs = live = 0;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
    dm_norm_init(&n, 0);
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            allocs = 0; /* steady state from here */
        for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
            for (int with_map = 0; with_map <= 1; with_map++)
                assert_int_equal(dm_normalize(&n, notes[i], strlen(notes[i]), with_map), DM_OK);
        }
    }
    assert_int_equal(allocs, 0);
    dm_norm_free(&n);
    dm_set_alloc_funcs(NULL, NULL, NULL);
    assert_int_equal(live, 0);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    /* a short note, then one that outgrows its input (U+FDFA: 3 bytes -> 33) */
    static const char a[] = "Hi Paul &amp; José";
    static const char b[] = "ＬＥＡＤ ｇｅｎ ﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺﷺ lead";
    dm_norm ref;
    dm_norm_init(&ref, 0);
    assert_int_equal(dm_normalize(&ref, b, strlen(b), 1), DM_OK);
    int saw_enomem = 0, completed = 0;
    for (long k = 0; k < 100 && !completed; k++) {
        for (int with_map = 0; with_map <= 1; with_map++) {
            dm_norm n;
            live = 0;
            dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
            fail_countdown = k;
            dm_norm_init(&n, 0);
            dm_status st = dm_normalize(&n, a, strlen(a), with_map);
            if (st == DM_OK)
                st = dm_normalize(&n, b, strlen(b), with_map);
            if (st == DM_OK) {
                assert_int_equal(n.text.len, ref.text.len);
                assert_memory_equal(n.text.data, ref.text.data, ref.text.len);
                if (with_map) {
                    check_map(&n, strlen(b));
                    assert_memory_equal(n.map, ref.map, (2 * ref.text.len + 1) * sizeof(size_t));
                    completed = 1;
                }
            } else {
                assert_int_equal(st, DM_ENOMEM);
                assert_int_equal(n.text.len, 0);
                assert_true(!n.text.data || n.text.data[0] == '\0');
                saw_enomem = 1;
                /* usable again once memory is back */
                fail_countdown = -1;
                assert_int_equal(dm_normalize(&n, b, strlen(b), with_map), DM_OK);
                assert_memory_equal(n.text.data, ref.text.data, ref.text.len + 1);
            }
            dm_norm_free(&n);
            fail_countdown = -1;
            dm_set_alloc_funcs(NULL, NULL, NULL);
            assert_int_equal(live, 0);
        }
    }
    assert_true(saw_enomem);
    assert_true(completed);
    dm_norm_free(&ref);
}

/* ---- random input ---- */

static uint32_t rng = 2463534242u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Random bytes: never a crash, always valid UTF-8, a map that never goes back. */
static void test_random_bytes(void **state)
{
    (void)state;
    static const char bias[] = "&#x;amp1 \t\nAz";
    dm_norm n, m;
    dm_norm_init(&n, 0);
    dm_norm_init(&m, 0);
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = next_rand() % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = next_rand();
            switch (r % 4) {
            case 0: buf[i] = bias[(r >> 8) % (sizeof bias - 1)]; break;
            case 1: buf[i] = (char)(0x80 | ((r >> 8) & 0x3F)); break; /* continuation */
            case 2: buf[i] = (char)(0xC2 + ((r >> 8) % 0x33)); break; /* lead */
            default: buf[i] = (char)(r >> 8); break;
            }
        }
        normalized(&n, buf, len);
        assert_int_equal(dm_normalize(&m, buf, len, 0), DM_OK);
        assert_int_equal(m.text.len, n.text.len);
        assert_memory_equal(m.text.data, n.text.data, n.text.len);
        if (n.text.len > 0 && (n.text.data[0] == ' ' || n.text.data[n.text.len - 1] == ' '))
            fail_msg("untrimmed: \"%s\"", hex(n.text.data, n.text.len).s);
        if (strstr(n.text.data, "  "))
            fail_msg("two spaces: \"%s\"", hex(n.text.data, n.text.len).s);
        size_t os, oe;
        dm_norm_span(&n, 0, n.text.len, &os, &oe);
        assert_true(os <= oe && oe <= len);
    }
    dm_norm_free(&n);
    dm_norm_free(&m);
}

/*
 * Pieces against utf8proc_map(): each piece is some input and the code
 * points steps 1 and 2 make of it.  The reference runs utf8proc_map() on the
 * whole text and then steps 4 to 6, plainly; the fast path, the composition
 * window and the ASCII letters taken back must give the same text.
 */
typedef struct piece {
    const char *in;
    const char *decoded;
} piece;

/* clang-format off */
static const piece pieces[] = {
    {"a", "a"}, {"E", "E"}, {"z", "z"}, {"Q", "Q"}, {"d", "d"}, {"q", "q"}, {"1", "1"},
    {".", "."}, {"-", "-"}, {"<", "<"}, {"=", "="}, {">", ">"},
    {" ", " "}, {"\t", "\t"}, {"\n", "\n"}, {"  ", "  "},
    {"é", "é"}, {"É", "É"}, {"\u0301", "\u0301"}, {"\u0323", "\u0323"}, {"\u0307", "\u0307"},
    {"\u0308", "\u0308"}, {"\u0338", "\u0338"}, {"\u0345", "\u0345"}, {"\u0344", "\u0344"},
    {"\u1E0B", "\u1E0B"}, {"ß", "ß"}, {"\u1E9E", "\u1E9E"}, {"ﬁ", "ﬁ"}, {"ｌ", "ｌ"},
    {"Ｅ", "Ｅ"}, {"𝐥", "𝐥"}, {"\u200B", "\u200B"}, {"\u00AD", "\u00AD"}, {"\uFEFF", "\uFEFF"},
    {"’", "’"}, {"“", "“"}, {"—", "—"}, {"−", "−"}, {"…", "…"}, {"″", "″"},
    {"\u00A0", "\u00A0"}, {"\u3000", "\u3000"}, {"\u2028", "\u2028"}, {"\xC2\x85", "\xC2\x85"},
    {"\u1112", "\u1112"}, {"\u1161", "\u1161"}, {"\u11AB", "\u11AB"}, {"한", "한"},
    {"\u0B47", "\u0B47"}, {"\u0B3E", "\u0B3E"}, {"İ", "İ"}, {"Σ", "Σ"}, {"ς", "ς"},
    {"\u2126", "\u2126"}, {"\u212A", "\u212A"}, {"\u212B", "\u212B"}, {"\u01C5", "\u01C5"},
    {"\uFDFA", "\uFDFA"}, {"\u0F73", "\u0F73"}, {"\u0F71", "\u0F71"}, {"\u0F72", "\u0F72"},
    {"\u0F80", "\u0F80"}, {"Ⅻ", "Ⅻ"}, {"\uFFFD", "\uFFFD"}, {"😀", "😀"}, {"ж", "ж"},
    {"Ж", "Ж"}, {"\u0627", "\u0627"}, {"\u0653", "\u0653"},
    {"&amp;", "&"}, {"&lt;", "<"}, {"&#x301;", "\u0301"}, {"&#65;", "A"}, {"&nbsp;", "\u00A0"},
    {"&hellip;", "…"}, {"&rsquo;", "’"}, {"&#0;", "\uFFFD"}, {"&#x1161;", "\u1161"},
    {"&foo;", "&foo;"}, {"&", "&"}, {"&amp", "&amp"}, {"&#x;", "&#x;"},
    {"\xFF", "\uFFFD"}, {"\xC0\x80", "\uFFFD\uFFFD"}, {"\xE2\x82", "\uFFFD"},
    {"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"}, {"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
    {"\xF0\x9F\x98", "\uFFFD"},
};
/* clang-format on */

/* reference() does steps 3 to 6 the slow and simple way. */
static size_t reference(const char *decoded, size_t len, char *out)
{
    utf8proc_uint8_t *nfkc = NULL;
    utf8proc_ssize_t nl =
        utf8proc_map((const utf8proc_uint8_t *)decoded, (utf8proc_ssize_t)len, &nfkc,
                     UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STABLE);
    assert_true(nl >= 0);
    size_t o = 0;
    int space = 0;
    for (utf8proc_ssize_t i = 0; i < nl;) {
        utf8proc_int32_t cp;
        i += utf8proc_iterate(nfkc + i, nl - i, &cp);
        const char *fold = NULL;
        if ((cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF ||
            cp == 0xAD)
            continue;
        if ((cp >= 0x2018 && cp <= 0x201B) || cp == 0x2032 || cp == 0x2035)
            fold = "'";
        else if (cp >= 0x201C && cp <= 0x201F)
            fold = "\"";
        else if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212)
            fold = "-";
        else if (cp == 0x2026)
            fold = "...";
        if (!fold && ((cp >= 9 && cp <= 13) || cp == ' ' || cp == 0x85 || cp == 0xA0 ||
                      cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
                      cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)) {
            space = 1;
            continue;
        }
        if (space && o > 0)
            out[o++] = ' ';
        space = 0;
        if (fold) {
            memcpy(out + o, fold, strlen(fold));
            o += strlen(fold);
        } else {
            o += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out + o);
        }
    }
    free(nfkc);
    return o;
}

static void test_against_utf8proc(void **state)
{
    (void)state;
    const size_t np = sizeof pieces / sizeof pieces[0];
    char in[1024], decoded[1024], want[4096];
    dm_norm n;
    dm_norm_init(&n, 0);
    for (int iter = 0; iter < 20000; iter++) {
        size_t il = 0, dl = 0, count = next_rand() % 40;
        for (size_t i = 0; i < count; i++) {
            const piece *p = &pieces[next_rand() % np];
            memcpy(in + il, p->in, strlen(p->in));
            il += strlen(p->in);
            memcpy(decoded + dl, p->decoded, strlen(p->decoded));
            dl += strlen(p->decoded);
        }
        size_t wl = reference(decoded, dl, want);
        normalized(&n, in, il);
        if (n.text.len != wl || memcmp(n.text.data, want, wl) != 0)
            fail_msg("\"%s\": got \"%s\", expected \"%s\"", hex(in, il).s,
                     hex(n.text.data, n.text.len).s, hex(want, wl).s);
    }
    dm_norm_free(&n);
}

/* ---- timing (DM_NORM_BENCH=1) ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(const char *what, char **notes, size_t nnotes, size_t total, int with_map)
{
    dm_norm n;
    dm_norm_init(&n, 1 << 20);
    size_t bytes = 0, out = 0;
    double t0 = now();
    for (size_t i = 0; i < total; i++) {
        const char *s = notes[i % nnotes];
        size_t len = strlen(s);
        assert_int_equal(dm_normalize(&n, s, len, with_map), DM_OK);
        bytes += len;
        out += n.text.len;
    }
    double t = now() - t0;
    print_message("%-28s %s map: %zu notes, %.1f MB, %.0f ns/note, %.2f ns/byte, %.0f MB/s\n", what,
                  with_map ? "with" : "no  ", total, (double)bytes / 1e6, t * 1e9 / (double)total,
                  t * 1e9 / (double)bytes, (double)bytes / 1e6 / t);
    assert_true(out > 0);
    dm_norm_free(&n);
}

/* note_add() appends template t to buf, a name for '@' and a company for '#'. */
static size_t note_add(char *buf, size_t at, size_t size, const char *t)
{
    static const char *const names[] = {"Paul", "Anna", "Dev", "Maria", "Kenji", "Olu"};
    static const char *const firms[] = {"Acme Corp", "Globex", "Initech", "Umbrella"};
    for (; *t && at + 16 < size; t++) {
        const char *v = *t == '@'   ? names[next_rand() % 6]
                        : *t == '#' ? firms[next_rand() % 4]
                                    : NULL;
        if (v) {
            memcpy(buf + at, v, strlen(v));
            at += strlen(v);
        } else {
            buf[at++] = *t;
        }
    }
    buf[at] = '\0';
    return at;
}

static void test_bench(void **state)
{
    (void)state;
    static const char *const ascii[] = {
        "Hi @, I came across your profile and was impressed by your work at #. ",
        "We help B2B companies like yours book more qualified meetings every month. ",
        "Would you be open to a quick 15-minute call next week to discuss lead generation?  ",
        "Hello @,\n\nI noticed we both work in software. I'd love to connect and share ideas. ",
        "Looking forward to connecting!\nBest regards,\n@ ",
        "Great to meet you at the conference last Tuesday; let's stay in touch. ",
    };
    static const char *const other[] = {
        "José from Zürich here — I’d love to connect… ",
        "ＬＥＡＤ ｇｅｎ for your agency &amp; more ",
        "Straße, München: 𝐪𝐮𝐚𝐥𝐢𝐟𝐢𝐞𝐝 𝐥𝐞𝐚𝐝𝐬 “guaranteed” ",
        "Привет! Let's connect 🙂 ",
    };
    const size_t nnotes = 10000;
    char **ascii_notes = malloc(nnotes * sizeof *ascii_notes);
    char **mixed_notes = malloc(nnotes * sizeof *mixed_notes);
    assert_non_null(ascii_notes);
    assert_non_null(mixed_notes);
    size_t total_len = 0;
    for (size_t i = 0; i < nnotes; i++) {
        char a[512] = "", m[512] = "";
        size_t al = 0, ml = 0;
        while (al < 180)
            al = note_add(a, al, sizeof a, ascii[next_rand() % 6]);
        while (ml < 180)
            ml = note_add(m, ml, sizeof m,
                          next_rand() % 3 ? ascii[next_rand() % 6] : other[next_rand() % 4]);
        total_len += al;
        ascii_notes[i] = strdup(a);
        mixed_notes[i] = strdup(m);
    }
    print_message("ASCII notes: %.0f bytes on average\n", (double)total_len / (double)nnotes);
    bench("ASCII notes", ascii_notes, nnotes, 1000000, 0);
    bench("ASCII notes", ascii_notes, nnotes, 1000000, 1);
    bench("notes with some non-ASCII", mixed_notes, nnotes, 100000, 0);
    bench("notes with some non-ASCII", mixed_notes, nnotes, 100000, 1);
    for (size_t i = 0; i < nnotes; i++) {
        free(ascii_notes[i]);
        free(mixed_notes[i]);
    }
    free(ascii_notes);
    free(mixed_notes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_map_values),
        cmocka_unit_test(test_large_input),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_every_max),
        cmocka_unit_test(test_many_marks),
        cmocka_unit_test(test_memory_reused),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_against_utf8proc),
    };
    /* the benchmark is not a test: it runs alone, when asked for */
    if (getenv("DM_NORM_BENCH")) {
        const struct CMUnitTest bench[] = {cmocka_unit_test(test_bench)};
        return cmocka_run_group_tests(bench, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
