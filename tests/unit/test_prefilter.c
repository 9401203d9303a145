/*
 * test_prefilter.c: the prefilter (src/rules/prefilter.c): literal
 * extraction from PCRE2 patterns and the Aho-Corasick automaton.
 *
 * The extraction is checked four ways:
 *   - exact expected sets for hand-picked patterns (assert_lits);
 *   - the property, against PCRE2 itself (compiled as src/rules/compile.c
 *     does): whenever PCRE2 matches a text, the text contains one of the
 *     extracted literals.  Patterns come from a table of realistic rules
 *     with sample texts, from the project's rules/ files with their test
 *     texts (normalized), and from a random grammar that also yields a
 *     matching sample for each pattern; texts add near misses and noise;
 *   - the assumptions it rests on: which non-ASCII characters a caseless
 *     ASCII letter matches, and that the normalizer folds them;
 *   - end to end: the automaton + PCRE2 on the candidates gives the same
 *     verdicts as PCRE2 on every rule.
 * The automaton is checked against a naive substring search, and both
 * against failing allocations.
 *
 *     test_prefilter [PATTERN]        run the tests whose names match
 *     DM_PF_BENCH=1 test_prefilter    the benchmark alone (scan MB/s, build
 *                                     time and memory)
 *     DM_PF_PATTERNS=N test_prefilter the random property test with N
 *                                     patterns (default 25000)
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

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core.h"
#include "normalize.h"
#include "prefilter.h"
#include "testalloc.h"

/* ---- helpers ---- */

#define LIT_TEST_MAX 64

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd64(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static unsigned rnd(unsigned n)
{
    return n ? (unsigned)(rnd64() % n) : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the options src/rules/compile.c uses (m and s do not matter here) */
#define RE_OPTS (PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP | PCRE2_USE_OFFSET_LIMIT)

static pcre2_code *re_compile_opts(const char *pat, uint32_t opts)
{
    int err;
    PCRE2_SIZE off;
    return pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
}

static pcre2_code *re_compile(const char *pat, int extended)
{
    return re_compile_opts(pat, RE_OPTS | (extended ? PCRE2_EXTENDED : 0));
}

static int re_match(const pcre2_code *re, pcre2_match_data *md, const char *text, size_t len)
{
    return pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, NULL) >= 0;
}

static int has_literal(const char *text, size_t len, char **lits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(lits[i]);
        for (size_t j = 0; j + k <= len; j++)
            if (memcmp(text + j, lits[i], k) == 0)
                return 1;
    }
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- exact expected sets ---- */

static void check_lits(const char *pat, int extended, size_t min_len, const char **want,
                       const char *file, int line)
{
    char **got = NULL;
    size_t n = 0, nwant = 0;
    int ok = dm_literals_extract(pat, strlen(pat), extended, min_len, &got, &n);
    while (want && want[nwant])
        nwant++;
    if (!want) {
        if (ok) {
            fprintf(stderr, "%s:%d: /%s/ gave %zu literals (first \"%s\"), expected none\n", file,
                    line, pat, n, n ? got[0] : "");
            dm_literals_free(got, n);
            fail();
        }
        return;
    }
    if (!ok) {
        fprintf(stderr, "%s:%d: /%s/ gave no literals\n", file, line, pat);
        fail();
    }
    const char *sorted[LIT_TEST_MAX];
    assert_true(nwant <= LIT_TEST_MAX);
    memcpy(sorted, want, nwant * sizeof *want);
    qsort(sorted, nwant, sizeof *sorted, cmp_cstr);
    int same = n == nwant;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(got[i], sorted[i]) == 0;
    if (!same) {
        fprintf(stderr, "%s:%d: /%s/ gave {", file, line, pat);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s\"%s\"", i ? ", " : "", got[i]);
        fprintf(stderr, "}, expected {");
        for (size_t i = 0; i < nwant; i++)
            fprintf(stderr, "%s\"%s\"", i ? ", " : "", sorted[i]);
        fprintf(stderr, "}\n");
    }
    dm_literals_free(got, n);
    assert_true(same);
}

#define WANT(...) ((const char *[]){__VA_ARGS__, NULL})
#define assert_lits(pat, ...) check_lits(pat, 0, 1, WANT(__VA_ARGS__), __FILE__, __LINE__)
#define assert_lits_x(pat, ...) check_lits(pat, 1, 1, WANT(__VA_ARGS__), __FILE__, __LINE__)
#define assert_lits_min(pat, min, ...)                                                             \
    check_lits(pat, 0, min, WANT(__VA_ARGS__), __FILE__, __LINE__)
#define assert_no_lits(pat) check_lits(pat, 0, 1, NULL, __FILE__, __LINE__)
#define assert_no_lits_x(pat) check_lits(pat, 1, 1, NULL, __FILE__, __LINE__)
#define assert_no_lits_min(pat, min) check_lits(pat, 0, min, NULL, __FILE__, __LINE__)

static void test_extract_runs(void **state)
{
    (void)state;
    assert_lits("lead gen", "lead gen");
    assert_lits("Lead GEN", "lead gen");
    assert_lits("a.b", "a");
    assert_no_lits_min("a.b", 2);
    assert_lits("ab+c", "ab"); /* "ab" and "bc" tie: the first stays */
    assert_lits("abc{2,}de", "abc");
    assert_lits("x{3}yz", "xxxyz");
    assert_lits("(abc)+def", "abcdef");
    assert_lits("a\\tb", "a\tb");
    assert_lits("a\\.b\\-c\\/d\\$e\\ f", "a.b-c/d$e f");
    assert_lits("\\{\\{name\\}\\}", "{{name}}");
    assert_lits("a{b}c", "a{b}c"); /* not a quantifier: literal braces */
    assert_lits("a{,2}bc", "bc");  /* 10.42 literal, 10.43 quantifier: either way */
    assert_lits("a{ 1 }bc", "bc");
    /* after a lookahead too: in 10.42 "{ 1 }" is text between "ab" and "d" */
    assert_lits("ab(?=\\{){ 1 }d", "ab");
    assert_lits("ab(?=\\{){,2}d", "ab");
    assert_lits("ab(?=c){2}cd", "abcd"); /* a certain quantifier on zero width: nothing */
    assert_lits("\\x41bc", "bc");
    assert_lits("\\101bc", "bc");
    assert_lits("a\\N{U+41}bc", "bc");
    assert_lits("\\p{L}+abc", "abc");
    assert_lits("(a)\\1xyz", "xyz");
    assert_lits("caf\xc3\xa9", "caf"); /* non-ASCII ends the literal */
    assert_lits("r\xc3\xa9sum\xc3\xa9", "sum");
}

static void test_extract_optional(void **state)
{
    (void)state;
    assert_lits("colou?r", "color", "colour");
    assert_lits("\\blead[- ]?gen(eration)?\\b", "lead gen", "lead-gen", "leadgen");
    assert_lits("\\b(SEO|web ?design|app development)\\b", "app development", "seo", "web design",
                "webdesign");
    assert_lits("((foo|bar)baz)?qux", "qux");
    assert_lits("(foo|bar){2}baz", "barbarbaz", "barfoobaz", "foobarbaz", "foofoobaz");
    assert_lits("ab(?#x)?c", "abc", "ac"); /* the ? applies to b across the comment */
    assert_lits("\\Qa.b\\E+c", "a.b");
    assert_lits("\\bB2B (sales )?(opportunit(y|ies)|leads|pipeline)\\b", "b2b leads",
                "b2b opportunities", "b2b opportunity", "b2b pipeline", "b2b sales leads",
                "b2b sales opportunities", "b2b sales opportunity", "b2b sales pipeline");
    /* 81 combinations pass the cap: the segment is closed, the best part kept */
    assert_lits("\\b(quick|15|20)[- ]?(min(ute)?s?[- ])?(call|chat)\\b", "call", "chat");
    assert_lits("\\bI help (\\w+[ ,]+){1,5}(to )?(get|grow)\\b", "i help ");
}

static void test_extract_classes(void **state)
{
    (void)state;
    assert_lits("[ab]cd", "acd", "bcd");
    assert_lits("[AB]cd", "acd", "bcd");
    assert_lits("[^a]bc", "bc");
    assert_lits("[a-c]de", "de");
    assert_lits("x[a-]y", "x-y", "xay");
    assert_lits("x[]a]y", "x]y", "xay");
    assert_lits("x[\\]a]y", "x]y", "xay");
    assert_lits("x[[:alpha:]]yz", "yz");
    assert_lits("x[\\d]yz", "yz");
    assert_lits("x[abcdefghi]yz", "yz"); /* more than 8 members */
}

static void test_extract_alternation(void **state)
{
    (void)state;
    assert_lits("calendly\\.com|\\bcal\\.com/", "cal.com/", "calendly.com");
    assert_lits("(?<!\\w)(?:dental|law firm|chiropractic)(?!\\w)", "chiropractic", "dental",
                "law firm");
    assert_lits("(?s)start.*end|(?m)^begin", "begin", "start");
    assert_lits("(a|b(?1))c", "c");
    assert_lits("x{2,}|\\bz{3}\\b", "x", "zzz");
    assert_lits("(?<=a|bc)de", "de");
    assert_lits("(?=abc)xyz", "xyz");
    assert_lits("(?<first>dear) (?P<second>sir)|(?'third'madam)", "dear sir", "madam");
    assert_lits("(?|(dear)|(hey)) (?>sir|madam)", "dear madam", "dear sir", "hey madam", "hey sir");
    assert_lits("\\{\\{?\\s*[a-z_]+\\s*\\}?\\}|%[a-z_]{3,}%|\\[(first ?)?name\\]|"
                "^\\s*(hi|hello)\\s*[,!]",
                "%", "[first name]", "[firstname]", "[name]", "hello", "hi", "{");
    assert_no_lits_min("\\{\\{?\\s*[a-z_]+\\s*\\}?\\}|%[a-z_]{3,}%|\\[(first ?)?name\\]|"
                       "^\\s*(hi|hello)\\s*[,!]",
                       3);
    assert_lits_min("\\b(SEO|web ?design)\\b", 3, "seo", "web design", "webdesign");
    assert_no_lits_min("\\b(SEO|web ?design)\\b", 4);
    assert_no_lits("abc|");
    assert_no_lits("abc|\\w+");
    assert_lits("lead|leads|misleading", "lead"); /* the others contain "lead" */

    /* the cap: 64 strings are fine; with 65 they are cut to a common prefix
     * length that fits ("w0".."w6"), which min_len may then refuse */
    char pat[1024];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(pat + n, sizeof pat - n, "%sw%02d", i ? "|" : "", i);
    assert_lits(pat, "w0", "w1", "w2", "w3", "w4", "w5", "w6");
    assert_no_lits_min(pat, 3);
    pat[strlen(pat) - 4] = '\0'; /* drop "|w64" */
    char **lits;
    size_t k;
    assert_int_equal(dm_literals_extract(pat, strlen(pat), 0, 3, &lits, &k), 1);
    assert_int_equal(k, 64);
    assert_string_equal(lits[0], "w00");
    assert_string_equal(lits[63], "w63");
    dm_literals_free(lits, k);
    /* 60 + 11 strings: cut to the longest prefixes that fit, here 20 bytes */
    const char *web = "\\byour (web)?site (looks|is|seems|feels|appears) "
                      "(outdated|old|dated|slow|broken|tired)\\b|\\bweb ?(design|development|"
                      "developers?)\\b|\\bwebsite (re)?design\\b|\\bwordpress (developers?|"
                      "design|sites?)\\b";
    assert_int_equal(dm_literals_extract(web, strlen(web), 0, 3, &lits, &k), 1);
    assert_true(k > 32 && k <= 64);
    int cut = 0, whole = 0;
    for (size_t i = 0; i < k; i++) {
        assert_true(strlen(lits[i]) >= 9 && strlen(lits[i]) <= 20);
        cut += strcmp(lits[i], "your website looks o") == 0; /* outdated, old */
        whole += strcmp(lits[i], "web design") == 0;
    }
    assert_true(cut == 1 && whole == 1);
    dm_literals_free(lits, k);
}

static void test_extract_options(void **state)
{
    (void)state;
    assert_lits("(?i)Hello World", "hello world");
    assert_lits("a(?i)b", "ab");
    assert_lits("(?i:AB)c", "abc");
    assert_lits("(?s-m)abc", "abc");
    assert_no_lits("(?-i)abc"); /* case-sensitive literals: not modelled */
    assert_no_lits("(?^)abc");
    assert_no_lits("(?x)abc"); /* white space would change meaning */
    assert_no_lits("(?a)abc");
    assert_lits_x("lead \\s* gen  # lead gen\n | qualified\\ leads", "lead");
    assert_lits_x("web \\ ?design", "web design", "webdesign");
    assert_lits_x("a b [ ]c", "ab c");           /* a space in a class is literal under x */
    assert_lits_x("ab #c\n?d", "abd", "ad");     /* the ? applies to b across the comment */
    assert_lits_x("ab \xc2\x85?d", "abd", "ad"); /* NEL is white space under x */
    assert_no_lits_x("abc # x\r\n");             /* line ends other than \n: give up */
    assert_no_lits_x("abc # x\xe2\x80\xa8\n");
    assert_lits("ab #c", "ab #c"); /* without x, # is a character */
}

static void test_extract_gives_up(void **state)
{
    (void)state;
    assert_no_lits("a(*ACCEPT)bc");
    assert_no_lits("(*UCP)abc");
    assert_no_lits("(?(1)a|b)abc");
    assert_no_lits("(?C1)abc");
    assert_no_lits("(?*abc)");
    assert_no_lits("(abc");
    assert_no_lits("abc)");
    assert_no_lits("[abc");
    assert_no_lits("abc\\");
    assert_no_lits("*abc");
    assert_no_lits("a{2}{3}");
    assert_no_lits("\\iabc");
    assert_no_lits("");
    assert_no_lits("\\w+");
    assert_no_lits("(?=abc)");
    assert_no_lits("(?:abc)*");
    assert_no_lits("a\xff"); /* invalid UTF-8 */

    /* deep nesting is refused, not a stack overflow */
    char deep[400];
    memset(deep, '(', 150);
    memcpy(deep + 150, "abc", 3);
    memset(deep + 153, ')', 150);
    deep[303] = '\0';
    assert_no_lits(deep);
    memset(deep, '(', 20);
    memcpy(deep + 20, "abc", 3);
    memset(deep + 23, ')', 20);
    deep[43] = '\0';
    assert_lits(deep, "abc");

    /* bad arguments */
    char **lits = NULL;
    size_t n = 7;
    assert_int_equal(dm_literals_extract(NULL, 0, 0, 1, &lits, &n), 0);
    assert_int_equal(dm_literals_extract("abc", 3, 0, 1, NULL, &n), 0);
    assert_int_equal(dm_literals_extract("abc", 3, 0, 1, &lits, NULL), 0);
    assert_null(lits);
    assert_int_equal(n, 7);
    /* a length shorter than the string: only that much is the pattern */
    assert_int_equal(dm_literals_extract("abc|", 3, 0, 1, &lits, &n), 1);
    assert_int_equal(n, 1);
    assert_string_equal(lits[0], "abc");
    dm_literals_free(lits, n);
    dm_literals_free(NULL, 0);
}

/*
 * The assumption behind lower-casing literals: under CASELESS|UTF an ASCII
 * character matches nothing outside ASCII but U+212A (K) and U+017F (S),
 * which NFKC_Casefold (the normalizer) maps to "k" and "s".  Should a new
 * PCRE2 add another, this test says so.
 */
static void check_caseless_ascii(uint32_t opts)
{
    /* a caseless class matches every case variant of its members */
    pcre2_code *re = re_compile_opts("[\\x{01}-\\x{7f}]", opts);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    assert_true(re && md);
    char b[4] = "K";
    assert_true(re_match(re, md, b, 1));
    int seen = 0;
    for (uint32_t u = 0x80; u < 0x110000; u++) {
        if (u >= 0xD800 && u < 0xE000)
            continue;
        size_t n = u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
        if (n == 2) {
            b[0] = (char)(0xC0 | (u >> 6));
            b[1] = (char)(0x80 | (u & 63));
        } else if (n == 3) {
            b[0] = (char)(0xE0 | (u >> 12));
            b[1] = (char)(0x80 | ((u >> 6) & 63));
            b[2] = (char)(0x80 | (u & 63));
        } else {
            b[0] = (char)(0xF0 | (u >> 18));
            b[1] = (char)(0x80 | ((u >> 12) & 63));
            b[2] = (char)(0x80 | ((u >> 6) & 63));
            b[3] = (char)(0x80 | (u & 63));
        }
        if (re_match(re, md, b, n)) {
            if (u != 0x212A && u != 0x17F)
                fprintf(stderr, "caseless ASCII matches U+%04X\n", (unsigned)u);
            assert_true(u == 0x212A || u == 0x17F);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    pcre2_code_free(re);
    re = re_compile_opts("ks", opts); /* and the letters they pair with */
    assert_non_null(re);
    assert_true(re_match(re, md, "\xe2\x84\xaa\xc5\xbf", 5));
    pcre2_code_free(re);
    pcre2_match_data_free(md);
}

static void test_caseless_ascii_assumption(void **state)
{
    (void)state;
    check_caseless_ascii(PCRE2_CASELESS | PCRE2_UTF);
    check_caseless_ascii(PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP);

    /* ... and the normalizer maps those two (and fullwidth letters) to ASCII */
    dm_norm n;
    dm_norm_init(&n, 1024);
    const char *s = "\xe2\x84\xaa\xc5\xbf \xef\xbc\xb3\xef\xbc\xa5\xef\xbc\xaf";
    assert_int_equal(dm_normalize(&n, s, strlen(s), 0), DM_OK);
    assert_string_equal(n.text.data, "ks seo");
    dm_norm_free(&n);
}

/* ---- how long a match can be ---- */

static void test_max_len(void **state)
{
    (void)state;
    static const struct {
        const char *pat;
        int extended;
        size_t want;
    } cases[] = {
        {"abc", 0, 3},
        {"\\bfoo\\b", 0, 3},
        {"ks", 0, 6}, /* caseless k and s match U+212A and U+017F */
        {"a|bcd", 0, 3},
        {"(?:ab|c)d?", 0, 3},
        {"a{2,5}", 0, 5},
        {"a{3}b?", 0, 4},
        {"\\w{0,3}", 0, 12},
        {"[abc]", 0, 4},
        {"\xc3\xa9", 0, 4},
        {".", 0, 4},
        {"(?=xyzzy)ab", 0, 2},
        {"(?<=foo )bar", 0, 3},
        {"^a$", 0, 1},
        {"a b", 1, 2}, /* x: the space is not a character */
        {"a # comment\n b", 1, 2},
        {"\\R", 0, 8},
        {"a*", 0, SIZE_MAX},
        {"a+", 0, SIZE_MAX},
        {"a{2,}", 0, SIZE_MAX},
        {"(a)\\1", 0, SIZE_MAX},
        {"(?<n>a)\\k<n>", 0, SIZE_MAX},
        {"(a|b(?1))", 0, SIZE_MAX},
        {"\\X", 0, SIZE_MAX},
        {"(*ACCEPT)a", 0, SIZE_MAX}, /* not modelled */
        {"(abc", 0, SIZE_MAX},       /* not a pattern */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t got = dm_pattern_max_len(cases[i].pat, strlen(cases[i].pat), cases[i].extended);
        if (got != cases[i].want)
            fprintf(stderr, "/%s/: max_len %zu, want %zu\n", cases[i].pat, got, cases[i].want);
        assert_true(got == cases[i].want);
    }
    assert_true(dm_pattern_max_len(NULL, 0, 0) == SIZE_MAX);
}

/* dm_prefilter_scan_at records where each id's literals end, first and last */
static void test_scan_spans(void **state)
{
    (void)state;
    dm_prefilter *pf = NULL;
    assert_int_equal(dm_prefilter_create(&pf), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "call", 4, 0), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "quick", 5, 1), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "all", 3, 1), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "", 0, 2), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "zebra", 5, 3), DM_OK);
    assert_int_equal(dm_prefilter_build(pf), DM_OK);
    /* long enough to be scanned as two halves: occurrences in each, and
     * one ("call" at 60..64) in the overlap the second half starts in */
    const char *text = "a quick call, a quick call, then a long pause and a final call"
                       " and nothing else at all for a while, and so on and on";
    size_t len = strlen(text);
    uint64_t hits[1] = {0};
    dm_pf_span sp[4];
    for (int i = 0; i < 4; i++)
        sp[i] = (dm_pf_span){99, 99};
    dm_prefilter_scan_at(pf, text, len, hits, sp);
    assert_true(hits[0] == 0x7);
    assert_int_equal(sp[0].first_end, 12); /* "a quick call" */
    assert_int_equal(sp[0].last_end, 62);  /* "...a final call" */
    assert_int_equal(sp[1].first_end, 7);  /* "quick" ends before "all" */
    assert_int_equal(sp[1].last_end, (uint32_t)(strstr(text, "at all") - text) + 6);
    assert_int_equal(sp[2].first_end, 0); /* the empty literal: everywhere */
    assert_true(sp[2].last_end == UINT32_MAX);
    assert_int_equal(sp[3].first_end, 99); /* not found: left alone */
    /* a bit set before the scan: its span is widened, not replaced */
    hits[0] = 0x1;
    sp[0] = (dm_pf_span){5, 30};
    dm_prefilter_scan_at(pf, text, len, hits, sp);
    assert_int_equal(sp[0].first_end, 5);
    assert_int_equal(sp[0].last_end, 62);
    /* short text, one chain */
    hits[0] = 0;
    dm_prefilter_scan_at(pf, "a call, a call", 14, hits, sp);
    assert_int_equal(sp[0].first_end, 6);
    assert_int_equal(sp[0].last_end, 14);
    dm_prefilter_free(pf);
}

/* ---- the property: PCRE2 matches => the text holds an extracted literal ---- */

typedef struct oracle_stats {
    long patterns, compiled, with_lits, pairs, matched, matched_with_lits;
    long bounded, started_later; /* dm_pattern_max_len known; a match run from past 0 */
} oracle_stats;

/* last_end() is the offset just past the latest-ending literal occurrence, or 0. */
static size_t last_end(const char *text, size_t len, char **lits, size_t n)
{
    for (size_t e = len; e > 0; e--)
        for (size_t i = 0; i < n; i++) {
            size_t k = strlen(lits[i]);
            if (k <= e && memcmp(text + e - k, lits[i], k) == 0)
                return e;
        }
    return 0;
}

/* first_end() is the offset just past the earliest-ending literal occurrence, or 0. */
static size_t first_end(const char *text, size_t len, char **lits, size_t n)
{
    for (size_t e = 1; e <= len; e++)
        for (size_t i = 0; i < n; i++) {
            size_t k = strlen(lits[i]);
            if (k <= e && memcmp(text + e - k, lits[i], k) == 0)
                return e;
        }
    return 0;
}

/*
 * check_bound() checks dm_pattern_max_len against PCRE2: a match never
 * spans more bytes, and a match run as eval.c runs it (from maxlen before
 * the end of the first literal, on a character boundary, with an offset
 * limit just before the end of the last one) finds the very match a run
 * over the whole text finds.
 */
static void check_bound(const pcre2_code *re, pcre2_match_data *md, const char *pat, int extended,
                        size_t maxlen, const char *text, size_t len, char **lits, size_t n,
                        oracle_stats *st)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t s0 = ov[0], e0 = ov[1];
    if (n) { /* the offset limit alone (the pattern is compiled for it) */
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        assert_non_null(mc);
        pcre2_set_offset_limit(mc, last_end(text, len, lits, n) - 1);
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, mc);
        pcre2_match_context_free(mc);
        if (rc < 0 || ov[0] != s0 || ov[1] != e0) {
            fprintf(stderr, "UNSAFE: /%s/%s on \"%s\" with the offset limit: %d\n", pat,
                    extended ? "x" : "", text, rc);
            fail();
        }
    }
    if (maxlen == SIZE_MAX)
        return;
    if (e0 - s0 > maxlen) {
        fprintf(stderr, "UNSAFE: /%s/%s matched %zu bytes of \"%s\", max_len says %zu\n", pat,
                extended ? "x" : "", e0 - s0, text, maxlen);
        fail();
    }
    size_t at = n ? first_end(text, len, lits, n) : 0;
    if (at <= maxlen)
        return;
    size_t from = at - maxlen;
    while (from > 0 && ((unsigned char)text[from] & 0xC0) == 0x80)
        from--;
    st->started_later++;
    int rc = pcre2_match(re, (PCRE2_SPTR)text, len, from, 0, md, NULL);
    if (rc < 0 || ov[0] != s0 || ov[1] != e0) {
        fprintf(stderr, "UNSAFE: /%s/%s on \"%s\" from %zu: %d [%zu,%zu), from 0: [%zu,%zu)\n",
                pat, extended ? "x" : "", text, from, rc, (size_t)ov[0], (size_t)ov[1], s0, e0);
        fail();
    }
}

/*
 * check_pattern() extracts the literals of `pat` and, for every text PCRE2
 * matches, asserts one of them occurs in it.
 */
static void check_pattern(const char *pat, int extended, size_t min_len, char **texts,
                          size_t ntexts, oracle_stats *st)
{
    char **lits = NULL;
    size_t n = 0;
    int ok = dm_literals_extract(pat, strlen(pat), extended, min_len, &lits, &n);
    st->patterns++;
    for (size_t i = 0; ok && i < n; i++) {
        assert_true(strlen(lits[i]) >= min_len);
        for (const char *p = lits[i]; *p; p++)
            assert_false(*p >= 'A' && *p <= 'Z');
    }
    pcre2_code *re = re_compile(pat, extended);
    if (!re) {
        dm_literals_free(lits, n);
        return;
    }
    st->compiled++;
    st->with_lits += ok;
    size_t maxlen = dm_pattern_max_len(pat, strlen(pat), extended);
    st->bounded += maxlen != SIZE_MAX;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    assert_non_null(md);
    for (size_t t = 0; t < ntexts; t++) {
        size_t len = strlen(texts[t]);
        st->pairs++;
        if (!re_match(re, md, texts[t], len))
            continue;
        st->matched++;
        check_bound(re, md, pat, extended, maxlen, texts[t], len, ok ? lits : NULL, ok ? n : 0,
                    st);
        if (!ok)
            continue;
        st->matched_with_lits++;
        if (!has_literal(texts[t], len, lits, n)) {
            fprintf(stderr, "UNSAFE: /%s/%s matches \"%s\" but the literals {", pat,
                    extended ? "x" : "", texts[t]);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s\"%s\"", i ? ", " : "", lits[i]);
            fprintf(stderr, "} are not in it\n");
            fail();
        }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    dm_literals_free(lits, n);
}

/* A text pool, owned strings. */
typedef struct pool {
    char **v;
    size_t n, cap;
} pool;

static void pool_add(pool *p, const char *s, size_t len)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->v = realloc(p->v, p->cap * sizeof *p->v);
        assert_non_null(p->v);
    }
    char *d = malloc(len + 1);
    assert_non_null(d);
    memcpy(d, s, len);
    d[len] = '\0';
    p->v[p->n++] = d;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* mutate() changes one or two characters of s: delete, insert, replace, swap. */
static size_t mutate(char *out, size_t cap, const char *s, const char *alphabet)
{
    size_t n = strlen(s);
    if (n + 3 > cap)
        n = cap - 3;
    memcpy(out, s, n);
    out[n] = '\0';
    int times = 1 + (int)rnd(2);
    size_t na = strlen(alphabet);
    for (int k = 0; k < times; k++) {
        size_t i = n ? rnd((unsigned)n) : 0;
        switch (rnd(4)) {
        case 0:
            if (n) {
                memmove(out + i, out + i + 1, n - i);
                n--;
            }
            break;
        case 1:
            memmove(out + i + 1, out + i, n - i + 1);
            out[i] = alphabet[rnd((unsigned)na)];
            n++;
            break;
        case 2:
            if (n)
                out[i] = alphabet[rnd((unsigned)na)];
            break;
        default:
            if (i + 1 < n) {
                char c = out[i];
                out[i] = out[i + 1];
                out[i + 1] = c;
            }
            break;
        }
    }
    out[n] = '\0';
    return n;
}

/* The realistic rules: doorman's built-in patterns and more of their kind,
 * each with texts it should match (lower case, as the normalizer makes). */
typedef struct real_rule {
    const char *pat;
    int extended;
    const char *samples; /* '\n'-separated */
} real_rule;

// clang-format off
static const real_rule real_rules[] = {
    {"\\blead[- ]?gen(eration)?\\b|\\bqualified leads\\b", 0,
     "lead gen\nleadgen\nlead-generation\nlead generation\nqualified leads"},
    {"\\b(SEO|web ?design|app development)\\b", 0, "seo\nweb design\nwebdesign\napp development"},
    {"\\{\\{?\\s*[a-z_]+\\s*\\}?\\}|%[a-z_]{3,}%|\\[(first ?)?name\\]|^\\s*(hi|hello)\\s*[,!]", 0,
     "{{ first_name }}\n{name}\n%firstname%\n[first name]\n[name]\nhi,\nhello !"},
    {"\\{\\{?\\s*[A-Za-z_]+\\s*\\}?\\}|%[A-Z_]{3,}%|\\[(first ?)?name\\]|^\\s*(hi|hello|dear|hey)\\s*[,!]", 0,
     "{{name}}\n%first_name%\ndear,\nhey!"},
    {"(?<!\\w)(?:dental|law firm|chiropractic)(?!\\w)", 0, "dental\nlaw firm\nchiropractic"},
    {"\\bI help (\\w+[ ,]+){1,5}(to )?(get|grow)\\b", 0,
     "i help founders get\ni help small, busy teams to grow"},
    {"calendly\\.com|\\bcal\\.com/", 0, "calendly.com/x\ncal.com/me"},
    {"\\b(quick|15|20)[- ]?(min(ute)?s?[- ])?(call|chat)\\b", 0,
     "quick call\n15-minute chat\n20 mins call\n15min-call\nquickchat"},
    {"\\bappointment[- ]setting\\b|\\bbook(ed)? (more )?(meetings|appointments)\\b", 0,
     "appointment setting\nbook more meetings\nbooked appointments"},
    {"\\bB2B (sales )?(opportunit(y|ies)|leads|pipeline)\\b", 0,
     "b2b sales opportunities\nb2b leads\nb2b opportunity"},
    {"\\b(SEO|search engine optimi[sz]ation|web ?design|website (re)?design|app "
     "development|mobile apps?|first page of google)\\b", 0,
     "search engine optimization\nwebsite redesign\nmobile app\nfirst page of google"},
    {"\\b(outsourc\\w*|virtual assistants?|offshore (team|staff)|dedicated developers)\\b", 0,
     "outsourcing\nvirtual assistant\noffshore staff"},
    {"\\b(grow(ing)? your (business|practice|revenue|company)|scale your "
     "(revenue|business|company)|business coaching|(\\d+|more|new) (new )?clients (a|per|every) "
     "(month|week))\\b", 0,
     "growing your business\nscale your revenue\n10 new clients a month\nmore clients per week"},
    {"\\b(quick|short|brief|15|20|30)[- ]?(min(ute)?s?[- ])?(call|chat|zoom)\\b", 0,
     "brief zoom\n30-minute call\nshort chat"},
    {"calendly\\.com|\\bcal\\.com/|hubspot\\.com/meetings|\\bbook a (call|time|slot|meeting)\\b", 0,
     "hubspot.com/meetings/x\nbook a slot"},
    {"\\bI help (\\w+[ ,]+){1,5}(to )?(get|grow|scale|increase|generate|achieve|land|win|"
     "double|triple)\\b", 0, "i help saas founders double\ni help coaches to land"},
    {"\\b(reviewed|came across|stumbled (up)?on|went through|looked at) your "
     "(impressive |amazing |linkedin )?profile\\b", 0,
     "came across your profile\nstumbled upon your impressive profile\nlooked at your linkedin profile"},
    {"\\b(add you to|expand(ing)?|grow(ing)?) my (professional )?network\\b", 0,
     "add you to my network\nexpanding my professional network"},
    {"\\b(pretty|very|really|quite) interesting\\b|\\bimpressive "
     "(background|profile|experience|journey)\\b", 0, "pretty interesting\nimpressive journey"},
    {"\\byour (amazing|awesome|great|wonderful|incredible) "
     "(dental|medical|chiropractic|law|veterinary|real estate|insurance) "
     "(practice|clinic|office|agency|firm)\\b", 0,
     "your amazing dental practice\nyour great real estate agency"},
    {"\\b(crypto(currency)?|bitcoin|forex|trading signals|passive income|guaranteed "
     "(returns?|profits?)|investment opportunit(y|ies))\\b", 0,
     "cryptocurrency\nguaranteed returns\ninvestment opportunities"},
    {"\\b(work(ing)? from home|earn \\$?\\d[\\d,]*k?\\s*(per|a|/) ?(day|week))\\b", 0,
     "working from home\nearn $500 per day\nearn 5k/week"},
    {"\\b(we (met|worked|spoke|talked|chatted|overlapped)|worked (together|with you)|your "
     "(talk|article|book|workshop|session|presentation|keynote|newsletter|podcast|course)|your "
     "[\\w '\"]{1,40}(workshop|session|talk|keynote|course|article)|former "
     "(colleague|coworker|co-worker|manager|student)|used to "
     "work|(at|from) the [\\w ]{0,40}(conference|summit|meetup|workshop|panel|forum|webinar))\\b", 0,
     "we met\nyour great talk\nat the pycon conference\nfrom the summit\nformer co-worker"},
    {"colou?r(ful)?", 0, "color\ncolourful"},
    {"\\bre-?(engag|connect)(e|ing|ed)\\b", 0, "reconnected\nre-engaging"},
    {"(?i)\\bFREE\\s+(trial|demo|consultation)\\b", 0, "free trial\nfree  demo"},
    {"(?:\\+?\\d{1,3}[ -]?)?\\(?\\d{3}\\)?[ -]?\\d{3}[ -]?\\d{4}", 0, "(555) 123-4567"},
    {"\\b(?:https?://)?(?:www\\.)?linkedin\\.com/in/[\\w-]+", 0,
     "linkedin.com/in/bob\nhttps://www.linkedin.com/in/a-b"},
    {"\\b[\\w.+-]+@[\\w-]+\\.[a-z]{2,}\\b", 0, "bob@acme.io"},
    {"\\$\\d+(,\\d{3})*(\\.\\d\\d)?\\s*(k|million|m)?\\b", 0, "$1,000\n$5 million"},
    {"\\b(ceo|cto|founder|co-?founder)\\s+(of|at)\\b", 0, "ceo of\ncofounder at\nco-founder  of"},
    {"\\b lead [- ]? gen (eration)? \\b  # lead gen\n | \\b qualified\\ leads? \\b", 1,
     "leadgen\nlead-generation\nqualified lead"},
    {"  ( appointment | meeting ) \\s+ (setting|booking)  # x\n", 1,
     "appointment setting\nmeeting  booking"},
    {"\\b web \\  ?design \\b | \\b s e o \\b", 1, "web design\nwebdesign\nseo"},
    {"[#] \\s* hashtag | \\# growth", 1, "# hashtag\n#growth"},
    {"(?<=\\s)(?:win|earn)\\s+big(?=\\W|$)", 0, " win big!\n earn  big"},
    {"(?=.*\\bcrypto\\b)(?=.*\\binvest)", 0, "crypto invest\ninvestment in crypto"},
    {"\\b(\\w+)\\s+\\1\\b", 0, "the the"},
    {"(?<first>\\w+) (?P<second>\\w+) together", 0, "we worked together"},
    {"(?|(dear)|(hey)) (sir|madam)", 0, "dear sir\nhey madam"},
    {"\\bpartner(ship)?s? (?>with|for) (?:you|your team)", 0,
     "partnership with you\npartners for your team"},
    {"\\bno[- ]?cost\\b|\\b100% free\\b", 0, "no-cost\nnocost\n100% free"},
    {"\\b(?:guaranteed|proven)\\s+(?:results?|roi)\\b", 0, "guaranteed results\nproven roi"},
    {"\\b\\d+x (your )?(roi|revenue|sales)\\b", 0, "10x your revenue\n3x sales"},
    {"\\bdm me\\b|\\bsend (me )?a dm\\b", 0, "dm me\nsend a dm"},
    {"\\Qwww.\\E[a-z]+\\Q.com\\E", 0, "www.acme.com"},
    {"\\bsynerg(y|ies|ize|istic)\\b", 0, "synergies"},
    {"\\bhop(e|ing) (this|it) (finds|find) you (well|doing well)\\b", 0,
     "hope this finds you well\nhoping it finds you doing well"},
    {"\\blet'?s (connect|chat|talk)\\b", 0, "lets connect\nlet's chat"},
    {"\\b(?:a|an) (?:exciting|unique|exclusive) (?:opportunity|offer)\\b", 0,
     "an exciting opportunity\na unique offer"},
    {"\\bclick (here|the link|below)\\b", 0, "click here\nclick below"},
    {"\\bunsubscribe\\b|\\bopt[- ]?out\\b", 0, "unsubscribe\nopt-out\noptout"},
    {"\\b(?:bit\\.ly|tinyurl\\.com|t\\.co)/\\w+", 0, "bit.ly/abc\nt.co/x1"},
    {"\\bwhat(?:'s| is) your (?:availability|schedule)\\b", 0,
     "what's your availability\nwhat is your schedule"},
    {"\\bi(?:'m| am) (?:reaching out|writing) (?:to|because)\\b", 0,
     "i'm reaching out to\ni am writing because"},
    {"\\b(?:ai|gpt|chatgpt)[- ]?(?:powered|driven|based)\\b", 0,
     "ai-powered\ngpt based\nchatgptdriven"},
    {"\\bbest regards,?\\s*$", 0, "best regards,\nbest regards"},
    {"^(?:hi|hello|hey)\\b(?! there)", 0, "hi john\nhello"},
    {"\\bcongrat(s|ulations) on (your|the) (new )?(role|position|promotion|job)\\b", 0,
     "congrats on your new role\ncongratulations on the promotion"},
    {"\\b(?:would|do) you (?:be )?(?:open|interested) (?:to|in)\\b", 0,
     "would you be open to\ndo you interested in"},
    {"\\bx{2,}|\\bz{3}\\b", 0, "xxx\nzzz"},
    {"ab+c|d{2,4}e", 0, "abbbc\nddde"},
    {"(foo|bar){2}baz", 0, "foobarbaz\nbarbarbaz"},
    {"(?:ha){2,}!?", 0, "hahaha!\nhaha"},
    {"\\bno\\s?reply\\b|do[- ]not[- ]reply", 0, "noreply\nno reply\ndo-not-reply\ndo not reply"},
    {"caf\\x{e9}|na\\N{U+00EF}ve", 0, "caf\xc3\xa9\nna\xc3\xafve"},
    {"r\xc3\xa9sum\xc3\xa9|cv\\b", 0, "r\xc3\xa9sum\xc3\xa9\ncv"},
    {"[[:alpha:]]+ing (?#comment)now", 0, "acting now\nbooking now"},
    {"(?s)start.*end|(?m)^begin", 0, "start x end\nbegin"},
    {"\\bfree\\b.{0,20}\\b(?:trial|gift)\\b", 0, "free 30-day trial\nfree gift"},
    {"\\b(a|b|c|d|e|f|g|h)(i|j|k|l|m|n|o|p)q", 0, "aiq\nhpq"},
    {"\\b(?:[a-z]+\\.){2,}(?:io|ai|co)\\b", 0, "app.acme.io\nx.y.ai"},
    {"\\b(earn|make) (up to )?\\$?\\d+[kK]?\\+? (a|per) (day|week|month)\\b", 0,
     "earn up to $5k+ a month\nmake 300 per day"},
};
// clang-format on

#define NREAL (sizeof real_rules / sizeof *real_rules)

static const char *const filler[] = {
    "hi",
    "hello",
    "there",
    "john",
    "i",
    "saw",
    "your",
    "profile",
    "and",
    "would",
    "love",
    "to",
    "connect",
    "we",
    "help",
    "teams",
    "with",
    "the",
    "a",
    "an",
    "of",
    "at",
    "in",
    "for",
    "our",
    "great",
    "work",
    "company",
    "thanks",
    "best",
    "regards",
    "quick",
    "call",
    "lead",
    "gen",
    "leads",
    "growth",
    "chat",
    "free",
    "trial",
    "dental",
    "law",
    "firm",
    "seo",
    "web",
    "design",
    "app",
    "15",
    "20",
    "min",
    "minute",
    "minutes",
    "book",
    "meeting",
    "calendly",
    ".com",
    "cal",
    "com/",
    "b2b",
    "sales",
    "crypto",
    "forex",
    "met",
    "conference",
    "summit",
    "{",
    "}",
    "{{",
    "}}",
    "%",
    "[",
    "]",
    "name",
    "first",
    "hey",
    ",",
    "!",
    "-",
    "/",
    "$",
    "5k",
    "per",
    "day",
    "week",
    "new",
    "clients",
    "month",
    "network",
    "my",
    "add",
    "you",
    "impressive",
    "caf\xc3\xa9",
    "na\xc3\xafve",
    "\xf0\x9f\x98\x80",
    "r\xc3\xa9sum\xc3\xa9",
    "xx",
    "zz",
    "ha",
    "ab",
    "bbc",
    "dd",
    "e",
    "foo",
    "bar",
    "baz",
};
#define NFILLER (sizeof filler / sizeof *filler)

static const char *const joiners[] = {" ", " ", " ", "", "-", ", ", "  ", ". "};

static void add_sentence(pool *p, int words)
{
    char buf[512];
    size_t n = 0;
    for (int w = 0; w < words; w++) {
        const char *j = w ? joiners[rnd(sizeof joiners / sizeof *joiners)] : "";
        const char *x = filler[rnd(NFILLER)];
        if (n + strlen(j) + strlen(x) + 1 >= sizeof buf)
            break;
        n += (size_t)sprintf(buf + n, "%s%s", j, x);
    }
    pool_add(p, buf, n);
}

/* build_real_pool() makes the texts for the realistic table. */
static void build_real_pool(pool *p)
{
    const char *alphabet = "abcdeilmnorst -.,!{}[]%$/0159";
    char buf[512], tmp[512];
    for (size_t r = 0; r < NREAL; r++) {
        const char *s = real_rules[r].samples;
        while (*s) {
            size_t len = strcspn(s, "\n");
            memcpy(tmp, s, len);
            tmp[len] = '\0';
            pool_add(p, tmp, len);
            for (int k = 0; k < 4; k++) { /* in context */
                int n = snprintf(buf, sizeof buf, "%s%s%s%s%s", filler[rnd(NFILLER)],
                                 joiners[rnd(8)], tmp, joiners[rnd(8)], filler[rnd(NFILLER)]);
                pool_add(p, buf, (size_t)n);
            }
            for (int k = 0; k < 12; k++) { /* near misses */
                size_t n = mutate(buf, sizeof buf, tmp, alphabet);
                pool_add(p, buf, n);
            }
            s += len + (s[len] == '\n');
        }
    }
    for (int k = 0; k < 1500; k++)
        add_sentence(p, 1 + (int)rnd(12));
}

static void test_property_realistic(void **state)
{
    (void)state;
    pool p = {0};
    build_real_pool(&p);
    oracle_stats st = {0};
    for (size_t r = 0; r < NREAL; r++) {
        /* the table itself: each pattern compiles and matches its samples */
        pcre2_code *re = re_compile(real_rules[r].pat, real_rules[r].extended);
        if (!re)
            fprintf(stderr, "table pattern %zu does not compile\n", r);
        assert_non_null(re);
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        const char *s = real_rules[r].samples;
        while (*s) {
            size_t len = strcspn(s, "\n");
            if (!re_match(re, md, s, len))
                fprintf(stderr, "table pattern %zu misses sample \"%.*s\"\n", r, (int)len, s);
            assert_true(re_match(re, md, s, len));
            s += len + (s[len] == '\n');
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        for (size_t min_len = 1; min_len <= 3; min_len += 2)
            check_pattern(real_rules[r].pat, real_rules[r].extended, min_len, p.v, p.n, &st);
    }
    /* the test can fail: many pairs matched, most patterns had literals */
    assert_true(st.with_lits >= (long)NREAL);
    assert_true(st.matched_with_lits >= 2000);
    pool_free(&p);
}

/* ---- the project's own rules: rules/NAME.rules and their test texts ---- */

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = '\0';
    fclose(fp);
    return b;
}

/* expand_lists() writes pat with ${NAME} / ${NAME - me} replaced by an
 * alternation of rules/lists/NAME.list, quoted, and ${me.X} by two names. */
static void expand_lists(const char *pat, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        if (pat[i] == '\\' && i + 1 < len) {
            out[n++] = pat[i++];
            out[n++] = pat[i];
            continue;
        }
        if (pat[i] != '$' || i + 1 >= len || pat[i + 1] != '{') {
            out[n++] = pat[i];
            continue;
        }
        const char *close = memchr(pat + i, '}', len - i);
        assert_non_null(close);
        char name[64];
        size_t k = 0;
        for (const char *p = pat + i + 2; p < close && *p != ' ' && *p != '-' && k < 63; p++)
            name[k++] = *p;
        name[k] = '\0';
        i = (size_t)(close - pat);
        if (strncmp(name, "me.", 3) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "(?:acme corp|globex)");
            continue;
        }
        char path[512];
        snprintf(path, sizeof path, "%s/rules/lists/%s.list", DM_SOURCE_DIR, name);
        char *list = slurp(path);
        assert_non_null(list);
        n += (size_t)snprintf(out + n, cap - n, "(?:");
        int first = 1;
        char *save;
        for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            while (*line == ' ')
                line++;
            if (!*line || *line == '#')
                continue;
            n += (size_t)snprintf(out + n, cap - n, "%s\\Q%s\\E", first ? "" : "|", line);
            first = 0;
        }
        n += (size_t)snprintf(out + n, cap - n, ")");
        free(list);
    }
    assert_true(n + 1 < cap);
    out[n] = '\0';
}

static void test_property_rule_files(void **state)
{
    (void)state;
    static const char *const files[] = {"industry", "pitches", "scams", "signals", "templates"};
    pool pats = {0}, texts = {0};
    char *xp = malloc(1 << 16);
    assert_non_null(xp);
    dm_norm norm;
    dm_norm_init(&norm, 1 << 16);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/rules/%s.rules", DM_SOURCE_DIR, files[f]);
        char *src = slurp(path); /* the source tree is always there */
        if (!src)
            fail_msg("cannot read %s", path);
        char *save;
        for (char *line = strtok_r(src, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *re = strstr(line, "=~ /"), *t;
            if (re) {
                char *end = strrchr(line, '/');
                assert_true(end > re + 3);
                assert_true(strspn(end + 1, "msi") == strlen(end + 1)); /* no x, no r */
                expand_lists(re + 4, (size_t)(end - (re + 4)), xp, 1 << 16);
                pool_add(&pats, xp, strlen(xp));
            } else if ((t = strstr(line, "test hit \"")) || (t = strstr(line, "test miss \""))) {
                char *q0 = strchr(t, '"'), *q1 = strrchr(t, '"');
                size_t k = 0;
                for (char *p = q0 + 1; p < q1; p++) /* \" and \\ */
                    xp[k++] = *p == '\\' && p + 1 < q1 ? *++p : *p;
                assert_int_equal(dm_normalize(&norm, xp, k, 0), DM_OK);
                pool_add(&texts, norm.text.data, norm.text.len);
            }
        }
        free(src);
    }
    assert_true(pats.n >= 50);
    assert_true(texts.n >= 200);
    build_real_pool(&texts); /* and the realistic texts */
    oracle_stats st = {0};
    for (size_t i = 0; i < pats.n; i++)
        for (size_t min_len = 1; min_len <= 3; min_len += 2)
            check_pattern(pats.v[i], 0, min_len, texts.v, texts.n, &st);
    assert_int_equal(st.compiled, st.patterns);
    assert_true(st.with_lits >= st.patterns * 3 / 4);
    assert_true(st.matched_with_lits >= 300);
    if (getenv("DM_PF_PATTERNS"))
        fprintf(stderr,
                "rule files: %zu patterns (x2 min_len), %ld with literals, %zu texts, "
                "%ld matched pairs with literals\n",
                pats.n, st.with_lits, texts.n, st.matched_with_lits);
    dm_norm_free(&norm);
    free(xp);
    pool_free(&pats);
    pool_free(&texts);
}

/* ---- a random pattern grammar that also yields a matching sample ---- */

typedef struct gen {
    char pat[4096];
    size_t pn;
    char sam[4096];
    size_t sn;
    int groups, names, extended, full;
} gen;

static void gp(gen *g, const char *s)
{
    size_t n = strlen(s);
    if (g->pn + n >= sizeof g->pat) {
        g->full = 1;
        return;
    }
    memcpy(g->pat + g->pn, s, n + 1);
    g->pn += n;
}

static void gs_n(gen *g, const char *s, size_t n)
{
    if (g->sn + n >= sizeof g->sam) {
        g->full = 1;
        return;
    }
    memcpy(g->sam + g->sn, s, n);
    g->sn += n;
    g->sam[g->sn] = '\0';
}

static void gs(gen *g, const char *s)
{
    gs_n(g, s, strlen(s));
}

static void g_ws(gen *g)
{
    if (g->extended && rnd(3) == 0)
        gp(g, rnd(4) ? " " : rnd(2) ? "\t" : " # note (x|y\n");
}

typedef struct gclass {
    const char *pat;
    const char *members[5];
} gclass;

// clang-format off
static const gclass gclasses[] = {
    {"[ab]", {"a", "b"}},          {"[- ]", {"-", " "}},        {"[a-c]", {"a", "b", "c"}},
    {"[^a]", {"b", " ", "-"}},     {"[]a]", {"]", "a"}},        {"[a-]", {"a", "-"}},
    {"[\\-b]", {"-", "b"}},        {"[[:alpha:]]", {"c", "a"}}, {"[A]", {"a"}},
    {"[\\Q]\\E]", {"]"}},          {"[.b]", {".", "b"}},        {"[\\w]", {"c", "1"}},
    {"[\\d.]", {"1", "."}},        {"[\xc3\xa9" "a]", {"\xc3\xa9", "a"}}, {"[\\Qa-c\\E]", {"a", "-", "c"}},
    {"[--/]", {"-", ".", "/"}},    {"[\\]]", {"]"}},            {"[^]b]", {"a", "c"}},
    {"[\\E^a]", {"b"}},            {"[[.]", {"[", "."}},        {"[a\\-c]", {"a", "-", "c"}},
    {"[\\x61b]", {"a", "b"}},      {"[\\\\a]", {"\\", "a"}},    {"[ab-]", {"a", "b", "-"}},
};
static const char *const zero_width[] = {
    "\\b", "\\B", "^", "$", "(?=a)", "(?!b)", "(?<=a)", "(?<!c)", "\\A", "\\z", "\\Z", "\\G",
    "(?=[ab]|c)", "(?!)", "(?=)"
};
static const char *const group_open[] = {
    "(", "(?:", "(?>", "(?i:", "(?|", "(?m:", "(?s-m:", "(?U:",
};
static const char *const escaped[][2] = {
    {"\\.", "."}, {"\\-", "-"}, {"\\/", "/"}, {"\\$", "$"}, {"\\(", "("}, {"\\)", ")"},
    {"\\[", "["}, {"\\]", "]"}, {"\\{", "{"}, {"\\}", "}"}, {"\\|", "|"}, {"\\?", "?"},
    {"\\*", "*"}, {"\\+", "+"}, {"\\\\", "\\"}, {"\\ ", " "}, {"\\x41", "a"}, {"\\x{62}", "b"},
    {"\\101", "a"}, {"\\o{143}", "c"}, {"\\N{U+61}", "a"}, {"\\t", "\t"}, {"\\#", "#"},
    {"\\,", ","}, {"\\'", "'"}, {"\\\"", "\""}, {"\\!", "!"},
};
static const char *const char_types[][2] = {
    {"\\d", "1"}, {"\\w", "b"}, {"\\s", " "}, {".", "c"}, {"\\S", "a"}, {"\\W", "-"},
    {"\\D", "a"}, {"\\h", " "}, {"\\N", "a"}, {"\\p{L}", "b"}, {"\\pL", "c"}, {"\\X", "a"},
    {"\\R", "\n"}, {"\\P{Lu}", "a"}, {"\\v", "\n"}, {"\\H", "a"}, {"\\C", "a"},
};
// clang-format on

static void g_alt(gen *g, int depth);

static void g_item(gen *g, int depth)
{
    size_t s0 = g->sn;
    int quantifiable = 1;
    unsigned k = rnd(depth > 3 ? 20 : 26);
    char one[2] = {0, 0};
    if (k < 7) { /* letters; upper case in the pattern, lower in the text */
        one[0] = "abcabAB"[k];
        gp(g, one);
        one[0] = (char)(one[0] | 0x20);
        gs(g, one);
    } else if (k == 7) {
        gp(g, g->extended ? "\\ " : " ");
        gs(g, " ");
    } else if (k == 8) {
        const char *lit = "-,'!#%1}]"; /* no x-mode specials unless escaped */
        one[0] = lit[rnd((unsigned)strlen(lit))];
        if (one[0] == '#' && g->extended)
            gp(g, "\\");
        gp(g, one);
        gs(g, one);
    } else if (k == 9) {
        unsigned e = rnd(sizeof escaped / sizeof *escaped);
        gp(g, escaped[e][0]);
        gs(g, escaped[e][1]);
    } else if (k == 10 || k == 11) {
        const gclass *c = &gclasses[rnd(sizeof gclasses / sizeof *gclasses)];
        unsigned nm = 0;
        while (nm < 5 && c->members[nm])
            nm++;
        gp(g, c->pat);
        gs(g, c->members[rnd(nm)]);
    } else if (k == 12) {
        unsigned t = rnd(sizeof char_types / sizeof *char_types);
        gp(g, char_types[t][0]);
        gs(g, char_types[t][1]);
    } else if (k == 13) {
        gp(g, zero_width[rnd(sizeof zero_width / sizeof *zero_width)]);
        quantifiable = rnd(2) == 0 && g->pat[g->pn - 1] == ')'; /* (?=...)? is allowed */
    } else if (k == 14) {
        gp(g, "\\Q");
        const char *q = "ab.|()*+? {}#";
        int n = (int)rnd(4);
        for (int i = 0; i < n; i++) {
            one[0] = q[rnd((unsigned)strlen(q))];
            gp(g, one);
            gs(g, one);
        }
        if (rnd(5))
            gp(g, "\\E");
        else
            quantifiable = 0; /* a quote running to the end */
        if (!n)
            quantifiable = 0; /* \Q\E is nothing: the quantifier would apply before it */
    } else if (k == 15) {
        if (g->groups && rnd(2)) {
            static const char *const refs[] = {"\\1",  "\\g{1}",  "\\g1",    "\\g{-1}", "(?1)",
                                               "(?R)", "\\k<n0>", "(?P=n0)", "(?&n0)"};
            unsigned r = rnd(sizeof refs / sizeof *refs);
            if (r >= 6 && !g->names)
                r = 0;
            gp(g, refs[r]);
            if (r == 5) /* (?R) would recurse forever unless optional */
                gp(g, "?");
            quantifiable = r != 5;
        } else {
            gp(g, "\xc3\xa9"); /* a non-ASCII literal */
            gs(g, "\xc3\xa9");
        }
    } else if (k == 16) {
        static const char *const opts[] = {"(?i)", "(?s)", "(?m)", "(?-s)", "(?#c)", "(?U)"};
        gp(g, opts[rnd(sizeof opts / sizeof *opts)]);
        quantifiable = 0;
    } else if (k == 17) {
        one[0] = "{}]"[rnd(3)];
        gp(g, one[0] == '{' ? "\\{" : one); /* a bare { then a quantifier is ambiguous */
        gs(g, one);
    } else if (k == 18 || k == 19) {
        gp(g, "\xc3\xbc"); /* ü */
        gs(g, "\xc3\xbc");
        if (k == 19) {
            gp(g, "x");
            gs(g, "x");
        }
    } else if (k == 20 || k == 21) { /* a wide alternation: unions and products pass the cap */
        int nw = 5 + (int)rnd(40), pick = (int)rnd((unsigned)nw);
        gp(g, "(?:");
        for (int w = 0; w < nw; w++) {
            char word[6];
            int wl = 2 + (int)rnd(3);
            for (int j = 0; j < wl; j++)
                word[j] = "abcd"[rnd(4)];
            word[wl] = '\0';
            if (w)
                gp(g, "|");
            gp(g, word);
            if (w == pick)
                gs(g, word);
        }
        gp(g, ")");
    } else { /* a group */
        unsigned o = rnd(sizeof group_open / sizeof *group_open + 3);
        char name[32];
        if (o < sizeof group_open / sizeof *group_open) {
            gp(g, group_open[o]);
        } else {
            static const char *const open[] = {"(?<", "(?P<", "(?'"};
            unsigned f = o - (unsigned)(sizeof group_open / sizeof *group_open);
            snprintf(name, sizeof name, "%sn%d%c", open[f], g->names++, f == 2 ? '\'' : '>');
            gp(g, name);
        }
        if (o == 0 || o >= sizeof group_open / sizeof *group_open)
            g->groups++;
        g_alt(g, depth + 1);
        gp(g, ")");
    }
    if (!quantifiable || rnd(3))
        return;
    g_ws(g);
    /* the item's sample, to repeat */
    char item[1024];
    size_t in = g->sn - s0;
    if (in >= sizeof item)
        return;
    memcpy(item, g->sam + s0, in);
    static const char *const qs[] = {"?",  "*",  "+",  "{2}",    "{1,2}", "{0,1}", "{2,}", "??",
                                     "+?", "*+", "?+", "{1,3}?", "{,2}",  "{ 1 }", "{0}",  "{3}"};
    unsigned q = rnd(sizeof qs / sizeof *qs);
    gp(g, qs[q]);
    unsigned lo, hi;
    switch (q) {
    case 0:
    case 5:
    case 7:
    case 10: lo = 0, hi = 1; break;
    case 1:
    case 9: lo = 0, hi = 2; break;
    case 2:
    case 8: lo = 1, hi = 3; break;
    case 3: lo = 2, hi = 2; break;
    case 4: lo = 1, hi = 2; break;
    case 6: lo = 2, hi = 3; break;
    case 11: lo = 1, hi = 3; break;
    case 14: lo = 0, hi = 0; break;
    case 15: lo = 3, hi = 3; break;
    default: lo = 1, hi = 1; break; /* {,2} and { 1 }: literal text in 10.42 */
    }
    unsigned times = lo + rnd(hi - lo + 1);
    g->sn = s0;
    g->sam[g->sn] = '\0';
    for (unsigned i = 0; i < times; i++)
        gs_n(g, item, in);
    if (q == 12 || q == 13)
        gs(g, qs[q]);
}

static void g_seq(gen *g, int depth)
{
    int n = (int)rnd(depth > 2 ? 3 : 6);
    for (int i = 0; i < n && !g->full; i++) {
        g_ws(g);
        g_item(g, depth);
    }
    g_ws(g);
}

static void g_alt(gen *g, int depth)
{
    int n = depth > 3 ? 1 : 1 + (int)rnd(3);
    unsigned pick = rnd((unsigned)n);
    for (int b = 0; b < n && !g->full; b++) {
        if (b)
            gp(g, "|");
        size_t s0 = g->sn;
        g_seq(g, depth);
        if ((unsigned)b != pick) { /* only one branch goes into the sample */
            g->sn = s0;
            g->sam[s0] = '\0';
        }
    }
}

static void test_property_random(void **state)
{
    (void)state;
    const char *alphabet = "abc -.1]}{\xc3\xa9";
    oracle_stats st = {0};
    pool p = {0};
    long npat = getenv("DM_PF_PATTERNS") ? atol(getenv("DM_PF_PATTERNS")) : 25000;
    if (npat < 1000)
        npat = 1000;
    for (long i = 0; i < npat; i++) {
        gen *g = calloc(1, sizeof *g);
        assert_non_null(g);
        g->extended = rnd(5) == 0;
        g_alt(g, 0);
        if (g->full) {
            free(g);
            continue;
        }
        char buf[4200];
        pool_add(&p, g->sam, g->sn);
        for (int k = 0; k < 4; k++) {
            int n = snprintf(buf, sizeof buf, "%c%s%c", alphabet[rnd(9)], g->sam, alphabet[rnd(9)]);
            pool_add(&p, buf, (size_t)n);
        }
        for (int k = 0; k < 8; k++) {
            size_t n = mutate(buf, sizeof buf, g->sam, alphabet);
            pool_add(&p, buf, n);
        }
        for (int k = 0; k < 8; k++) {
            size_t n = rnd(10);
            for (size_t j = 0; j < n; j++)
                buf[j] = alphabet[rnd(10)];
            pool_add(&p, buf, n);
        }
        check_pattern(g->pat, g->extended, 1, p.v, p.n, &st);
        pool_free(&p);
        free(g);
    }
    if (getenv("DM_PF_PATTERNS") || st.matched_with_lits <= npat * 2)
        fprintf(stderr,
                "random grammar: %ld patterns, %ld compiled, %ld with literals, %ld bounded, "
                "%ld pairs, %ld matched, %ld matched with literals, %ld run from past 0\n",
                st.patterns, st.compiled, st.with_lits, st.bounded, st.pairs, st.matched,
                st.matched_with_lits, st.started_later);
    /* the test can fail: most patterns compile, many have literals and match */
    assert_true(st.compiled > st.patterns * 8 / 10);
    assert_true(st.with_lits > st.compiled / 3);
    assert_true(st.matched_with_lits > npat * 2);
    assert_true(st.bounded > st.compiled / 3);
    assert_true(st.started_later > npat / 10);
}

/* ---- the automaton ---- */

#define MAXID 2048
#define NONE 0xFFFFFFFFu

static void check_hits(const dm_prefilter *pf, const char *text, size_t len, const unsigned *want,
                       const char *file, int line)
{
    uint64_t hits[MAXID / 64 + 1] = {0}, exp[MAXID / 64 + 1] = {0};
    dm_prefilter_scan(pf, text, len, hits);
    for (size_t i = 0; want[i] != NONE; i++)
        exp[want[i] >> 6] |= (uint64_t)1 << (want[i] & 63);
    if (memcmp(hits, exp, sizeof hits) != 0) {
        fprintf(stderr, "%s:%d: \"%.*s\" hit {", file, line, (int)(len > 60 ? 60 : len), text);
        for (unsigned id = 0; id < MAXID; id++)
            if (hits[id >> 6] >> (id & 63) & 1)
                fprintf(stderr, " %u", id);
        fprintf(stderr, " }, expected {");
        for (size_t i = 0; want[i] != NONE; i++)
            fprintf(stderr, " %u", want[i]);
        fprintf(stderr, " }\n");
        fail();
    }
}

#define assert_hits(pf, text, ...)                                                                 \
    check_hits(pf, text, strlen(text), (const unsigned[]){__VA_ARGS__, NONE}, __FILE__, __LINE__)
#define assert_no_hits(pf, text)                                                                   \
    check_hits(pf, text, strlen(text), (const unsigned[]){NONE}, __FILE__, __LINE__)

static dm_prefilter *make_pf(const char *const *lits, const unsigned *ids, size_t n)
{
    dm_prefilter *pf = NULL;
    assert_int_equal(dm_prefilter_create(&pf), DM_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dm_prefilter_add(pf, lits[i], strlen(lits[i]), ids[i]), DM_OK);
    assert_int_equal(dm_prefilter_build(pf), DM_OK);
    return pf;
}

static void test_ac_small(void **state)
{
    (void)state;
    const char *lits[] = {"lead", "seo", "web design", "leadership"};
    const unsigned ids[] = {1, 2, 3, 4};
    dm_prefilter *pf = make_pf(lits, ids, 4);
    assert_hits(pf, "we do seo and web design", 2, 3);
    assert_hits(pf, "leadership", 1, 4);
    assert_hits(pf, "lead", 1);
    assert_hits(pf, "mislead the web designer", 1, 3);
    assert_no_hits(pf, "web desig");
    assert_no_hits(pf, "nothing here");
    assert_no_hits(pf, "");
    uint64_t hits[1] = {0};
    dm_prefilter_scan(pf, NULL, 0, hits);
    assert_true(hits[0] == 0);
    assert_true(dm_prefilter_size(pf) > 0);
    dm_prefilter_free(pf);
}

static void test_ac_overlaps(void **state)
{
    (void)state;
    const char *lits[] = {"he", "she", "his", "hers"};
    const unsigned ids[] = {0, 1, 2, 3};
    dm_prefilter *pf = make_pf(lits, ids, 4);
    assert_hits(pf, "ushers", 0, 1, 3);
    assert_hits(pf, "ahishers", 0, 1, 2, 3);
    assert_hits(pf, "his", 2);
    assert_hits(pf, "hhe", 0);
    assert_hits(pf, "sshe", 0, 1);
    assert_no_hits(pf, "hs ih es");
    dm_prefilter_free(pf);

    /* a literal that is a prefix or a suffix of another, and one inside */
    const char *lits2[] = {"gen", "generation", "ration", "lead gen", "a"};
    const unsigned ids2[] = {1, 2, 3, 4, 5};
    pf = make_pf(lits2, ids2, 5);
    assert_hits(pf, "lead generation", 1, 2, 3, 4, 5);
    assert_hits(pf, "generatio", 1, 5);
    assert_hits(pf, "ration", 3, 5);
    assert_hits(pf, "lead ge", 5);
    assert_hits(pf, "ge", NONE);
    dm_prefilter_free(pf);
}

static void test_ac_same_literal(void **state)
{
    (void)state;
    const char *lits[] = {"call", "call", "call", "chat", "zoom call"};
    const unsigned ids[] = {5, 9, 5, 9, 1000};
    dm_prefilter *pf = make_pf(lits, ids, 5);
    assert_hits(pf, "a quick call", 5, 9);
    assert_hits(pf, "chat", 9);
    assert_hits(pf, "zoom call", 5, 9, 1000);
    assert_hits(pf, "zoom cal", NONE);
    dm_prefilter_free(pf);
}

static void test_ac_empty_and_bytes(void **state)
{
    (void)state;
    /* no literal at all */
    dm_prefilter *pf = make_pf(NULL, NULL, 0);
    assert_no_hits(pf, "anything");
    dm_prefilter_free(pf);

    /* an empty literal occurs in every text, the empty one too */
    const char *lits[] = {"", "abc"};
    const unsigned ids[] = {7, 8};
    pf = make_pf(lits, ids, 2);
    assert_hits(pf, "", 7);
    assert_hits(pf, "xabcx", 7, 8);
    dm_prefilter_free(pf);

    /* any byte: NUL, 0xFF, UTF-8 */
    assert_int_equal(dm_prefilter_create(&pf), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "a\0b", 3, 1), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "\xff\xfe", 2, 2), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "caf\xc3\xa9", 5, 3), DM_OK);
    assert_int_equal(dm_prefilter_build(pf), DM_OK);
    check_hits(pf, "xa\0by\xff\xfe", 7, (const unsigned[]){1, 2, NONE}, __FILE__, __LINE__);
    check_hits(pf, "a\0", 2, (const unsigned[]){NONE}, __FILE__, __LINE__);
    assert_hits(pf, "un caf\xc3\xa9 noir", 3);
    assert_no_hits(pf, "un cafe noir");
    dm_prefilter_free(pf);
}

static void test_ac_large_text_and_ids(void **state)
{
    (void)state;
    size_t n = 100 * 1024;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memset(text, 'x', n);
    text[n] = '\0';
    const char *lits[] = {"needle", "xxxxy", "start", "middle"};
    const unsigned ids[] = {2000, 1999, 0, 64};
    dm_prefilter *pf = make_pf(lits, ids, 4);
    assert_no_hits(pf, text);
    memcpy(text + n - 6, "needle", 6);
    memcpy(text, "start", 5);
    memcpy(text + n / 2, "middle", 6);
    assert_hits(pf, text, 0, 64, 2000);
    text[n - 7] = 'y'; /* "xxxxy" just before "needle" */
    assert_hits(pf, text, 0, 64, 1999, 2000);
    dm_prefilter_free(pf);

    /* 2001 patterns, one literal each */
    assert_int_equal(dm_prefilter_create(&pf), DM_OK);
    for (unsigned id = 0; id <= 2000; id++) {
        char w[16];
        int k = snprintf(w, sizeof w, "<w%u>", id);
        assert_int_equal(dm_prefilter_add(pf, w, (size_t)k, id), DM_OK);
    }
    assert_int_equal(dm_prefilter_build(pf), DM_OK);
    assert_hits(pf, "<w0> <w63> <w64> <w1999><w2000> <w2001> <w12", 0, 63, 64, 1999, 2000);
    dm_prefilter_free(pf);
    free(text);
}

static void test_ac_misuse(void **state)
{
    (void)state;
    dm_prefilter *pf = NULL;
    assert_int_equal(dm_prefilter_create(NULL), DM_EINVAL);
    assert_int_equal(dm_prefilter_create(&pf), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, NULL, 3, 1), DM_EINVAL);
    assert_int_equal(dm_prefilter_add(NULL, "a", 1, 1), DM_EINVAL);
    assert_int_equal(dm_prefilter_add(pf, "abc", 3, 3), DM_OK);
    assert_int_equal(dm_prefilter_add(pf, "def", 3, 70), DM_OK);
    /* scanning before the build reports every pattern: the safe answer */
    uint64_t hits[2] = {0, 0};
    dm_prefilter_scan(pf, "nothing", 7, hits);
    assert_true(hits[0] == (uint64_t)1 << 3 && hits[1] == (uint64_t)1 << 6);
    size_t before = dm_prefilter_size(pf);
    assert_true(before > 0);
    assert_int_equal(dm_prefilter_build(pf), DM_OK);
    assert_int_equal(dm_prefilter_build(pf), DM_EINVAL);
    assert_int_equal(dm_prefilter_add(pf, "x", 1, 1), DM_EINVAL);
    assert_hits(pf, "abcdef", 3, 70);
    assert_int_equal(dm_prefilter_build(NULL), DM_EINVAL);
    dm_prefilter_scan(NULL, "abc", 3, hits);
    dm_prefilter_scan(pf, "abc", 3, NULL);
    assert_int_equal(dm_prefilter_size(NULL), 0);
    dm_prefilter_free(pf);
    dm_prefilter_free(NULL);
}

/* naive reference: which ids have a literal in the text */
typedef struct ref_lit {
    char s[16];
    size_t len;
    unsigned id;
} ref_lit;

static void naive_hits(const ref_lit *l, size_t n, const char *text, size_t len, uint64_t *hits)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j + l[i].len <= len; j++)
            if (memcmp(text + j, l[i].s, l[i].len) == 0) {
                hits[l[i].id >> 6] |= (uint64_t)1 << (l[i].id & 63);
                break;
            }
}

static void compare_random(const ref_lit *lits, size_t n, const char *alphabet, int ntexts,
                           size_t maxlen, size_t nwords)
{
    dm_prefilter *pf = NULL;
    assert_int_equal(dm_prefilter_create(&pf), DM_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dm_prefilter_add(pf, lits[i].s, lits[i].len, lits[i].id), DM_OK);
    assert_int_equal(dm_prefilter_build(pf), DM_OK);
    size_t na = strlen(alphabet);
    char *text = malloc(maxlen + 1);
    uint64_t *a = calloc(nwords, 8), *b = calloc(nwords, 8);
    assert_true(text && a && b);
    for (int t = 0; t < ntexts; t++) {
        size_t len = rnd((unsigned)maxlen + 1);
        for (size_t j = 0; j < len; j++)
            text[j] = alphabet[rnd((unsigned)na)];
        if (len && n && rnd(2)) { /* plant a literal */
            const ref_lit *l = &lits[rnd((unsigned)n)];
            if (l->len <= len)
                memcpy(text + rnd((unsigned)(len - l->len + 1)), l->s, l->len);
        }
        memset(a, 0, nwords * 8);
        memset(b, 0, nwords * 8);
        dm_prefilter_scan(pf, text, len, a);
        naive_hits(lits, n, text, len, b);
        if (memcmp(a, b, nwords * 8) != 0) {
            fprintf(stderr, "automaton and naive search differ on \"%.*s\"\n", (int)len, text);
            fail();
        }
    }
    free(text);
    free(a);
    free(b);
    dm_prefilter_free(pf);
}

static void test_ac_random_vs_naive(void **state)
{
    (void)state;
    static ref_lit lits[64];
    const char *full = "abcdefghijklmnopqrstuvwxyz -.";
    for (int set = 0; set < 1000; set++) {
        /* small alphabets make overlaps, shared prefixes and suffixes common */
        size_t na = 2 + rnd(4);
        char alphabet[8];
        memcpy(alphabet, full + rnd(20), na);
        alphabet[na] = '\0';
        size_t n = 1 + rnd(40);
        for (size_t i = 0; i < n; i++) {
            lits[i].len = 1 + rnd(6);
            for (size_t j = 0; j < lits[i].len; j++)
                lits[i].s[j] = alphabet[rnd((unsigned)na)];
            lits[i].id = rnd(130);
        }
        char text_alphabet[10];
        snprintf(text_alphabet, sizeof text_alphabet, "%sz", alphabet); /* and a stranger */
        compare_random(lits, n, text_alphabet, 20, 300, 3);
    }
}

static int cmp_ref(const void *a, const void *b)
{
    const ref_lit *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* more than 65536 states: the 32-bit table; and every byte value in use */
static void test_ac_wide(void **state)
{
    (void)state;
    size_t n = 9000;
    ref_lit *lits = calloc(n, sizeof *lits);
    assert_non_null(lits);
    for (size_t i = 0; i < n; i++) {
        lits[i].len = 10 + rnd(5);
        for (size_t j = 0; j < lits[i].len; j++)
            lits[i].s[j] = (char)('a' + rnd(26));
        lits[i].id = (unsigned)(i % 1500);
    }
    /* the automaton has one state per distinct non-empty prefix, + 1 */
    qsort(lits, n, sizeof *lits, cmp_ref);
    size_t states = 1;
    for (size_t i = 0; i < n; i++) {
        size_t lcp = 0;
        while (i && lcp < lits[i].len && lcp < lits[i - 1].len &&
               lits[i].s[lcp] == lits[i - 1].s[lcp])
            lcp++;
        states += lits[i].len - lcp;
    }
    assert_true(states > 65536);
    compare_random(lits, n, "abcdefghijklmnopqrstuvwxyz", 30, 1000, 1500 / 64 + 1);

    /* all 256 byte values: no "other" class */
    for (size_t i = 0; i < 256; i++) {
        lits[i].len = 2;
        lits[i].s[0] = (char)i;
        lits[i].s[1] = (char)(255 - i);
        lits[i].id = (unsigned)i;
    }
    char bytes[257];
    for (int i = 0; i < 256; i++)
        bytes[i] = (char)(i ? i : 1);
    bytes[256] = '\0';
    compare_random(lits, 256, bytes, 300, 3000, 4);
    free(lits);
}

/* ---- allocation failures ---- */


static void hooks_on(long fail_at)
{
    fail_countdown = fail_at;
    injected = 0;
    mem_allocs = 0;
    mem_now = mem_peak = 0;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
}

static void hooks_off(void)
{
    dm_set_alloc_funcs(NULL, NULL, NULL);
    fail_countdown = -1;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *pat = "\\b(SEO|web ?design|app development)\\b|calendly\\.com";
    int done = 0;
    for (long k = 0; !done; k++) {
        hooks_on(k);
        char **lits = NULL;
        size_t n = 0;
        int ok = dm_literals_extract(pat, strlen(pat), 0, 3, &lits, &n);
        dm_literals_free(lits, ok ? n : 0);
        long live = mem_allocs;
        done = !injected;
        hooks_off();
        assert_int_equal(live, 0);
        assert_int_equal(ok, done); /* fails exactly when an allocation did */
    }

    const char *words[] = {"lead", "seo", "web design", "", "lead gen", "he", "she"};
    done = 0;
    for (long k = 0; !done; k++) {
        hooks_on(k);
        dm_prefilter *pf = NULL;
        dm_status st = dm_prefilter_create(&pf);
        size_t added = 0;
        for (; st == DM_OK && added < 300; added++)
            st = dm_prefilter_add(pf, words[added % 7], strlen(words[added % 7]), (unsigned)added);
        if (st == DM_OK)
            st = dm_prefilter_build(pf);
        if (st != DM_OK && added == 300) { /* a failed build can be retried */
            fail_countdown = -1;
            if (dm_prefilter_build(pf) == DM_OK) {
                uint64_t hits[5] = {0};
                dm_prefilter_scan(pf, "she", 3, hits);
                assert_true(hits[0] & (uint64_t)1 << 3); /* the empty literal */
            }
        }
        dm_prefilter_free(pf);
        long live = mem_allocs;
        done = !injected;
        hooks_off();
        assert_int_equal(live, 0);
        if (done)
            assert_int_equal(st, DM_OK);
        else
            assert_true(st == DM_ENOMEM || st == DM_OK);
    }
}

/* ---- generated rule sets, notes, and the end-to-end check ---- */

// clang-format off
static const char *const bw_nouns[] = {
    "growth", "pipeline", "revenue", "marketing", "sales", "automation", "outreach", "strategy",
    "branding", "content", "analytics", "funnel", "campaign", "audience", "engagement",
    "conversion", "retention", "onboarding", "recruiting", "hiring", "payroll", "bookkeeping",
    "accounting", "compliance", "insurance", "mortgage", "realty", "coaching", "mentoring",
    "consulting", "software", "cloud", "security", "devops", "design", "video", "podcast",
    "webinar", "newsletter", "ads", "leads", "clients", "customers", "partners", "investors",
    "startup", "agency", "studio", "clinic", "practice", "firm", "network", "community",
    "platform", "solution", "service", "product", "team", "talent", "freelancer", "developer",
    "engineer", "designer", "copywriter", "assistant", "founder", "executive", "director",
    "logistics", "supply chain", "ecommerce", "dropshipping", "real estate", "wellness",
    "fitness", "nutrition", "dental", "legal", "tax", "finance", "trading", "crypto", "blockchain",
    "ai", "data", "crm", "erp", "saas", "ux", "mobile app", "website", "seo", "ppc", "email list",
};
static const char *const bw_verbs[] = {
    "grow", "scale", "boost", "increase", "double", "triple", "generate", "book", "close", "win",
    "land", "automate", "optimize", "streamline", "improve", "accelerate", "maximize", "unlock",
    "transform", "build", "launch", "fix", "audit", "manage", "outsource", "hire",
};
static const char *const bw_adjs[] = {
    "amazing", "awesome", "great", "impressive", "incredible", "exclusive", "unique", "proven",
    "guaranteed", "qualified", "targeted", "premium", "dedicated", "affordable", "custom",
    "strategic", "innovative", "leading", "trusted", "certified", "fast", "free", "top",
};
static const char *const syllables[] = {
    "ka", "lo", "mi", "ver", "tan", "zo", "bri", "dex", "ful", "gra", "hom", "jun", "pel", "qua",
    "ros", "sil", "tor", "vex", "wil", "yen", "nor", "cal", "pri", "sto",
};
static const char *const templates[] = {
    "\\b@V(ing|s)? your @N\\b",
    "\\b(@A|@A) @N\\b",
    "\\b@N[- ]?@N\\b|\\b@A @N\\b",
    "\\bI help (\\w+[ ,]+){1,5}(to )?(@V|@V)\\b",
    "(?<!\\w)(?:@N|@N @N|@N)(?!\\w)",
    "@N\\.com|\\b@N\\.io/",
    "\\b(quick|short|15|20)[- ]?(min(ute)?s?[- ])?(@N|@N)\\b",
    "\\byour (@A|@A|@A) (@N|@N) (@N|@N)\\b",
    "\\b(reviewed|came across|@V) your (@A )?@N\\b",
    "\\b@N (@N )?(@N|@N|@N)\\b",
    "\\b@V(ed)? (more )?(@N|@N)\\b",
    "\\b(\\d+|more|new) (new )?@N (a|per|every) (month|week)\\b",
    "\\b@A\\s+@N\\b",
};
static const char *const note_parts[] = {
    "hi @P, ", "hello @P! ", "i came across your profile and ", "i noticed your work on @N and ",
    "we help @N teams @V their @N. ", "would you be open to a quick chat about @N? ",
    "i'm a @N lead at @C. ", "congrats on the new role! ", "let's connect. ",
    "looking forward to learning from you. ", "i enjoyed your talk at the @N summit. ",
    "our @A @N platform helps companies @V @N. ", "thanks, @P. ", "we worked together at @C. ",
    "your @A @N practice looks great. ", "i help @N founders @V revenue. ",
    "book a call: calendly.com/@P ", "free trial of our @N tool. ", "saw your post on @N. ",
    "we are hiring a @N @N in berlin. ", "great meeting you at the meetup yesterday. ",
};
static const char *const people[] = {"john", "maria", "alex", "priya", "chen", "fatima", "lucas"};
static const char *const companies[] = {"acme", "globex", "initech", "umbrella", "hooli", "stark"};
// clang-format on

#define COUNT(a) (sizeof(a) / sizeof *(a))

static void pick_word(char *out, size_t cap, const char *const *list, size_t n)
{
    if (rnd(10) < 6) { /* a real word */
        snprintf(out, cap, "%s", list[rnd((unsigned)n)]);
        return;
    }
    size_t k = 0;
    int syl = 2 + (int)rnd(2);
    for (int i = 0; i < syl; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s", syllables[rnd(COUNT(syllables))]);
}

static size_t expand(char *out, size_t cap, const char *tpl, int note)
{
    size_t n = 0;
    char w[64];
    for (const char *p = tpl; *p && n + 64 < cap; p++) {
        if (*p != '@') {
            out[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 'N': pick_word(w, sizeof w, bw_nouns, COUNT(bw_nouns)); break;
        case 'V': pick_word(w, sizeof w, bw_verbs, COUNT(bw_verbs)); break;
        case 'A': pick_word(w, sizeof w, bw_adjs, COUNT(bw_adjs)); break;
        case 'P': snprintf(w, sizeof w, "%s", people[rnd(COUNT(people))]); break;
        default: snprintf(w, sizeof w, "%s", companies[rnd(COUNT(companies))]); break;
        }
        if (note && *p != 'P' && *p != 'C' && rnd(3) == 0) /* notes use real words more */
            snprintf(w, sizeof w, "%s",
                     *p == 'N'   ? bw_nouns[rnd(COUNT(bw_nouns))]
                     : *p == 'V' ? bw_verbs[rnd(COUNT(bw_verbs))]
                                 : bw_adjs[rnd(COUNT(bw_adjs))]);
        n += (size_t)snprintf(out + n, cap - n, "%s", w);
    }
    out[n] = '\0';
    return n;
}

static void gen_rules(pool *rules, size_t n)
{
    char buf[1024];
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (rnd(40) == 0)
            k = (size_t)snprintf(buf, sizeof buf, "%s",
                                 "\\{\\{?\\s*[a-z_]+\\s*\\}?\\}|%[a-z_]{3,}%"); /* no literal */
        else
            k = expand(buf, sizeof buf, templates[rnd(COUNT(templates))], 0);
        pool_add(rules, buf, k);
    }
}

#define NOTE_LEN 200

static void gen_notes(pool *notes, size_t n)
{
    char buf[1024], part[256];
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < NOTE_LEN) {
            size_t m = expand(part, sizeof part, note_parts[rnd(COUNT(note_parts))], 1);
            if (k + m >= sizeof buf)
                break;
            memcpy(buf + k, part, m);
            k += m;
        }
        pool_add(notes, buf, NOTE_LEN);
    }
}

/* A rule set behind a prefilter, as the matcher will use it. */
typedef struct ruleset {
    size_t n;
    pcre2_code **re;
    pcre2_match_data *md;
    unsigned *always; /* ids with no usable literal */
    size_t nalways;
    dm_prefilter *pf;
    size_t nlits, lit_bytes;
    double t_extract, t_build;
} ruleset;

static void ruleset_build(ruleset *rs, char **pats, size_t n, int jit)
{
    memset(rs, 0, sizeof *rs);
    rs->n = n;
    rs->re = calloc(n, sizeof *rs->re);
    rs->always = calloc(n, sizeof *rs->always);
    assert_true(rs->re && rs->always);
    for (size_t i = 0; i < n; i++) {
        rs->re[i] = re_compile(pats[i], 0);
        if (!rs->re[i])
            fprintf(stderr, "generated rule does not compile: %s\n", pats[i]);
        assert_non_null(rs->re[i]);
        if (jit)
            pcre2_jit_compile(rs->re[i], PCRE2_JIT_COMPLETE);
    }
    rs->md = pcre2_match_data_create(4, NULL);
    assert_int_equal(dm_prefilter_create(&rs->pf), DM_OK);
    double t0 = now_s(), te = 0;
    for (size_t i = 0; i < n; i++) {
        char **lits;
        size_t k;
        double a = now_s();
        int ok = dm_literals_extract(pats[i], strlen(pats[i]), 0, 3, &lits, &k);
        te += now_s() - a;
        if (!ok) {
            rs->always[rs->nalways++] = (unsigned)i;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            assert_int_equal(dm_prefilter_add(rs->pf, lits[j], strlen(lits[j]), (unsigned)i),
                             DM_OK);
            rs->nlits++;
            rs->lit_bytes += strlen(lits[j]);
        }
        dm_literals_free(lits, k);
    }
    double t1 = now_s();
    assert_int_equal(dm_prefilter_build(rs->pf), DM_OK);
    rs->t_build = now_s() - t1 + (t1 - t0 - te);
    rs->t_extract = te;
}

static void ruleset_free(ruleset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        pcre2_code_free(rs->re[i]);
    free(rs->re);
    free(rs->always);
    pcre2_match_data_free(rs->md);
    dm_prefilter_free(rs->pf);
}

/* candidates() fills hits with the rules to run on text; returns how many. */
static size_t candidates(const ruleset *rs, const char *text, size_t len, uint64_t *hits)
{
    size_t words = rs->n / 64 + 1, c = 0;
    memset(hits, 0, words * 8);
    dm_prefilter_scan(rs->pf, text, len, hits);
    for (size_t i = 0; i < rs->nalways; i++)
        hits[rs->always[i] >> 6] |= (uint64_t)1 << (rs->always[i] & 63);
    for (size_t w = 0; w < words; w++)
        c += (size_t)__builtin_popcountll(hits[w]);
    return c;
}

/* check_verdicts(): PCRE2 on the candidates only == PCRE2 on every rule. */
static void check_verdicts(ruleset *rs, char **texts, size_t ntexts, char **pats,
                           size_t *cand_total)
{
    uint64_t *hits = calloc(rs->n / 64 + 1, 8);
    assert_non_null(hits);
    for (size_t t = 0; t < ntexts; t++) {
        size_t len = strlen(texts[t]);
        *cand_total += candidates(rs, texts[t], len, hits);
        for (size_t i = 0; i < rs->n; i++) {
            int full = re_match(rs->re[i], rs->md, texts[t], len);
            int cand = (int)(hits[i >> 6] >> (i & 63) & 1);
            if (full && !cand) {
                fprintf(stderr, "UNSAFE: rule /%s/ matches \"%s\" but was skipped\n", pats[i],
                        texts[t]);
                fail();
            }
        }
    }
    free(hits);
}

static void test_end_to_end_realistic(void **state)
{
    (void)state;
    pool p = {0};
    build_real_pool(&p);
    ruleset rs;
    const char *pats[NREAL];
    size_t nx = 0;
    for (size_t i = 0; i < NREAL; i++)
        if (!real_rules[i].extended) /* ruleset_build() compiles without x */
            pats[nx++] = real_rules[i].pat;
    ruleset_build(&rs, (char **)pats, nx, 0);
    size_t cand = 0;
    check_verdicts(&rs, p.v, p.n, (char **)pats, &cand);
    /* the prefilter does prune: on average well under half the rules run */
    assert_true(cand < p.n * nx / 2);
    ruleset_free(&rs);
    pool_free(&p);
}

static void test_end_to_end_generated(void **state)
{
    (void)state;
    pool rules = {0}, notes = {0};
    gen_rules(&rules, 1000);
    gen_notes(&notes, 300);
    hooks_on(-1);
    ruleset rs;
    ruleset_build(&rs, rules.v, rules.n, 0);
    size_t peak = mem_peak, size = dm_prefilter_size(rs.pf);
    if (size >= 4u << 20 || peak >= 8u << 20)
        fprintf(stderr, "1000 rules: %zu literals, automaton %zu B, build peak %zu B\n", rs.nlits,
                size, peak);
    /* a few MB at most, build peak included */
    assert_true(size < 4u << 20);
    assert_true(peak < 8u << 20);
    assert_true(rs.nalways < rules.n / 10);
    size_t cand = 0;
    check_verdicts(&rs, notes.v, notes.n, rules.v, &cand);
    assert_true(cand < notes.n * rules.n / 10);
    ruleset_free(&rs);
    hooks_off(); /* after the frees: the hooks' blocks carry a header */
    pool_free(&rules);
    pool_free(&notes);
}

/* ---- the benchmark (DM_PF_BENCH=1) ---- */

static void bench_one(size_t nrules, pool *notes)
{
    pool rules = {0};
    gen_rules(&rules, nrules);
    ruleset rs;
    hooks_on(-1);
    ruleset_build(&rs, rules.v, rules.n, 1);
    size_t peak = mem_peak;
    size_t size = dm_prefilter_size(rs.pf);

    uint64_t *hits = calloc(nrules / 64 + 1, 8);
    assert_non_null(hits);
    size_t total = 0, cand = 0;
    int passes = 5;
    double t0 = now_s();
    for (int pass = 0; pass < passes; pass++)
        for (size_t i = 0; i < notes->n; i++) {
            memset(hits, 0, (nrules / 64 + 1) * 8);
            dm_prefilter_scan(rs.pf, notes->v[i], NOTE_LEN, hits);
            total += NOTE_LEN;
            cand += hits[0] & 1; /* keep the loop honest */
        }
    double t_scan = now_s() - t0;

    /* PCRE2 (JIT) on every rule vs. prefilter + PCRE2 on the candidates */
    size_t nn = notes->n < 5000 ? notes->n : 5000;
    long full_hits = 0, pre_hits = 0;
    cand = 0;
    t0 = now_s();
    for (size_t i = 0; i < nn; i++)
        for (size_t r = 0; r < rs.n; r++)
            full_hits += re_match(rs.re[r], rs.md, notes->v[i], NOTE_LEN);
    double t_full = now_s() - t0;
    t0 = now_s();
    for (size_t i = 0; i < nn; i++) {
        cand += candidates(&rs, notes->v[i], NOTE_LEN, hits);
        for (size_t w = 0; w <= nrules / 64; w++)
            for (uint64_t b = hits[w]; b; b &= b - 1) {
                size_t r = w * 64 + (size_t)__builtin_ctzll(b);
                pre_hits += re_match(rs.re[r], rs.md, notes->v[i], NOTE_LEN);
            }
    }
    double t_pre = now_s() - t0;
    assert_int_equal(full_hits, pre_hits);

    fprintf(stderr,
            "%5zu rules: %zu literals (%zu bytes), %zu rules always run; extract %.1f ms, "
            "build %.1f ms, automaton %.0f KiB, build peak %.0f KiB\n"
            "             scan %.0f MB/s (%zu notes x %d B x %d passes); "
            "%.1f candidate rules/note\n"
            "             PCRE2 all rules %.1f us/note, prefilter + candidates %.1f us/note "
            "(%.1fx)\n",
            nrules, rs.nlits, rs.lit_bytes, rs.nalways, rs.t_extract * 1e3, rs.t_build * 1e3,
            size / 1024.0, peak / 1024.0, total / t_scan / 1e6, notes->n, NOTE_LEN, passes,
            (double)cand / nn, t_full / nn * 1e6, t_pre / nn * 1e6, t_full / t_pre);
    free(hits);
    ruleset_free(&rs);
    hooks_off();
    pool_free(&rules);
}

static void test_bench(void **state)
{
    (void)state;
    pool notes = {0};
    gen_notes(&notes, 50000);
    fprintf(stderr, "sample note: \"%s\"\n", notes.v[0]);
    bench_one(100, &notes);
    bench_one(1000, &notes);
    bench_one(3000, &notes);
    pool_free(&notes);
}

/* test_prefilter [PATTERN]: run only the tests whose names match PATTERN
 * (cmocka's * and ? wildcards); DM_PF_BENCH=1 runs the benchmark instead. */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_runs),
        cmocka_unit_test(test_extract_optional),
        cmocka_unit_test(test_extract_classes),
        cmocka_unit_test(test_extract_alternation),
        cmocka_unit_test(test_extract_options),
        cmocka_unit_test(test_extract_gives_up),
        cmocka_unit_test(test_caseless_ascii_assumption),
        cmocka_unit_test(test_max_len),
        cmocka_unit_test(test_scan_spans),
        cmocka_unit_test(test_property_realistic),
        cmocka_unit_test(test_property_random),
        cmocka_unit_test(test_property_rule_files),
        cmocka_unit_test(test_ac_small),
        cmocka_unit_test(test_ac_overlaps),
        cmocka_unit_test(test_ac_same_literal),
        cmocka_unit_test(test_ac_empty_and_bytes),
        cmocka_unit_test(test_ac_large_text_and_ids),
        cmocka_unit_test(test_ac_misuse),
        cmocka_unit_test(test_ac_random_vs_naive),
        cmocka_unit_test(test_ac_wide),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_end_to_end_realistic),
        cmocka_unit_test(test_end_to_end_generated),
    };
    /* the benchmark is not a test: it runs alone, when asked for */
    if (getenv("DM_PF_BENCH")) {
        const struct CMUnitTest bench[] = {cmocka_unit_test(test_bench)};
        return cmocka_run_group_tests(bench, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
