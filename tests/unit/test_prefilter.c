/*
 * test_prefilter.c: the prefilter (src/rules/prefilter.c): literal
 * extraction from PCRE2 patterns and the Aho-Corasick automaton.
 *
 * The extraction is checked three ways:
 *   - exact expected sets for hand-picked patterns;
 *   - a property test against PCRE2 itself: for every (pattern, text) pair
 *     PCRE2 matches, the text must contain one of the extracted literals.
 *     Patterns come from a table of realistic rules and from a random
 *     grammar that also produces a matching sample for each pattern;
 *   - end to end: automaton + PCRE2 on the candidates gives the same
 *     verdicts as PCRE2 on every rule.
 * The automaton is checked against a naive substring search.
 *
 * DM_PF_BENCH=1 in the environment also runs the timing benchmark and
 * prints its figures (scan MB/s, build time and memory).
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
#include "prefilter.h"

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

static unsigned rnd(unsigned n) { return n ? (unsigned)(rnd64() % n) : 0; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pcre2_code *re_compile(const char *pat, int extended)
{
    int err;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_CASELESS | PCRE2_UTF | (extended ? PCRE2_EXTENDED : 0);
    return pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
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
            fprintf(stderr, "%s:%d: /%s/ gave %zu literals (first \"%s\"), expected none\n",
                    file, line, pat, n, n ? got[0] : "");
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
