/*
 * test_core.c: the core module (src/core/): allocation hooks, dm_buf,
 * errors, UTF-8 checks, the hash map, the record model, the names of
 * fields, kinds, facts and verdicts, thresholds, and the context ("me",
 * history, connections) with its joins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "context.h"
#include "core.h"
#include "map.h"
#include "record.h"
#include "testalloc.h"

/* ---- allocation accounting through the hooks ---- */


static void hooks_on(long fail_at)
{
    mem_now = 0;
    injected = 0;
    fail_countdown = fail_at;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
}

static void hooks_off(void)
{
    dm_set_alloc_funcs(NULL, NULL, NULL);
    fail_countdown = -1;
}

/* ---- allocation ---- */

static void test_alloc(void **state)
{
    (void)state;
    hooks_on(-1);
    char *p = dm_malloc(0); /* a real pointer, freeable */
    assert_non_null(p);
    dm_free(p);
    dm_free(NULL);
    assert_null(dm_calloc(SIZE_MAX / 2, 4)); /* n * size overflows */
    unsigned char *z = dm_calloc(16, 4);
    assert_non_null(z);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    dm_free(z);
    assert_null(dm_strdup(NULL));
    char *d = dm_strndup("abcdef", 3);
    assert_string_equal(d, "abc");
    dm_free(d);
    d = dm_strdup("xyz");
    assert_string_equal(d, "xyz");
    dm_free(d);
    assert_int_equal(mem_now, 0);

    fail_countdown = 0;
    assert_null(dm_malloc(8));
    assert_true(injected);
    hooks_off();
    /* back on libc */
    p = dm_malloc(8);
    assert_non_null(p);
    dm_free(p);
}

/* ---- dm_buf ---- */

static void assert_buf(const dm_buf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_non_null(b->data);
    assert_memory_equal(b->data, want, b->len + 1); /* with its NUL */
}

static void test_buf_limit(void **state)
{
    (void)state;
    dm_buf b;
    dm_buf_init(&b, 8);
    assert_int_equal(dm_buf_adds(&b, "abcd"), DM_OK);
    assert_buf(&b, "abcd");
    /* over the limit: DM_ETOOLARGE, and the content is as it was */
    assert_int_equal(dm_buf_adds(&b, "efghi"), DM_ETOOLARGE);
    assert_buf(&b, "abcd");
    assert_int_equal(dm_buf_printf(&b, "%s", "efghi"), DM_ETOOLARGE);
    assert_buf(&b, "abcd");
    char big[400];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(dm_buf_printf(&b, "%s", big), DM_ETOOLARGE); /* the long path */
    assert_buf(&b, "abcd");
    /* up to the limit exactly */
    assert_int_equal(dm_buf_adds(&b, "efgh"), DM_OK);
    assert_buf(&b, "abcdefgh");
    assert_int_equal(dm_buf_addc(&b, 'x'), DM_ETOOLARGE);
    assert_buf(&b, "abcdefgh");
    assert_int_equal(dm_buf_add(&b, "", 0), DM_OK);
    assert_int_equal(dm_buf_adds(&b, "y"), DM_ETOOLARGE);
    assert_buf(&b, "abcdefgh");
    /* reset keeps the memory and empties the text */
    char *mem = b.data;
    dm_buf_reset(&b);
    assert_buf(&b, "");
    assert_ptr_equal(b.data, mem);
    assert_int_equal(dm_buf_printf(&b, "%d-%s", 42, "ok"), DM_OK);
    assert_buf(&b, "42-ok");
    dm_buf_free(&b);
    assert_null(b.data);
    dm_buf_free(&b); /* twice is fine */

    /* the fast path of dm_buf_addc stops at the limit too */
    dm_buf_init(&b, 70);
    for (int i = 0; i < 70; i++)
        assert_int_equal(dm_buf_addc(&b, (char)('a' + i % 26)), DM_OK);
    assert_int_equal(b.len, 70);
    assert_int_equal(dm_buf_addc(&b, '!'), DM_ETOOLARGE);
    assert_int_equal(b.len, 70);
    assert_int_equal(b.data[70], '\0');
    dm_buf_free(&b);

    /* a long printf exactly at the limit, and one byte over it */
    dm_buf_init(&b, 399);
    assert_int_equal(dm_buf_printf(&b, "%s", big), DM_OK);
    assert_buf(&b, big);
    dm_buf_reset(&b);
    assert_int_equal(dm_buf_adds(&b, "+"), DM_OK);
    assert_int_equal(dm_buf_printf(&b, "%s", big), DM_ETOOLARGE);
    assert_buf(&b, "+");
    dm_buf_free(&b);
}

static void test_buf_growth(void **state)
{
    (void)state;
    hooks_on(-1);
    dm_buf b;
    dm_buf_init(&b, 0); /* 0: no limit of its own */
    char want[6000] = "";
    for (int i = 0; i < 1000; i++) {
        char item[8];
        snprintf(item, sizeof item, "%04d,", i);
        strcat(want, item);
        assert_int_equal(dm_buf_printf(&b, "%04d,", i), DM_OK);
        assert_true(b.cap > b.len);
    }
    assert_buf(&b, want);
    /* a printf longer than the small stack buffer */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dm_buf_reset(&b);
    assert_int_equal(dm_buf_printf(&b, "[%s]", big), DM_OK);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '[');
    assert_int_equal(b.data[1000], ']');
    assert_int_equal(b.data[1001], '\0');
    /* bytes, NULs included, are kept, and a NUL follows them */
    dm_buf_reset(&b);
    assert_int_equal(dm_buf_add(&b, "a\0b", 3), DM_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4);
    /* dm_buf_steal() hands the text over and leaves the buffer empty */
    char *s = dm_buf_steal(&b);
    assert_memory_equal(s, "a\0b\0", 4);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    dm_free(s);
    s = dm_buf_steal(&b); /* an empty buffer gives "" */
    assert_non_null(s);
    assert_string_equal(s, "");
    dm_free(s);
    dm_buf_free(&b);
    assert_int_equal(mem_now, 0);

    /* out of memory: DM_ENOMEM, and the content is as it was */
    dm_buf_init(&b, 0);
    assert_int_equal(dm_buf_adds(&b, "keep"), DM_OK);
    fail_countdown = 0;
    assert_int_equal(dm_buf_printf(&b, "%s", big), DM_ENOMEM);
    assert_buf(&b, "keep");
    dm_buf_free(&b);
    assert_int_equal(mem_now, 0);
    hooks_off();
}

/* ---- errors ---- */

static void test_error_set(void **state)
{
    (void)state;
    /* NULL is fine, and the code comes back */
    assert_int_equal(dm_error_set(NULL, DM_EIO, "f", 1, 2, "x"), DM_EIO);
    dm_error_clear(NULL);

    dm_error e;
    dm_error_clear(&e);
    assert_int_equal(e.code, DM_OK);
    assert_int_equal(dm_error_set(&e, DM_ESYNTAX, "rules.txt", 3, 9, "expected %s", "'{'"),
                     DM_ESYNTAX);
    assert_int_equal(e.code, DM_ESYNTAX);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 9);
    assert_string_equal(e.source, "rules.txt");
    assert_string_equal(e.text, "expected '{'");
    /* the first error wins, though the new code is returned */
    assert_int_equal(dm_error_set(&e, DM_EIO, "other", 7, 7, "later"), DM_EIO);
    assert_int_equal(e.code, DM_ESYNTAX);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 9);
    assert_string_equal(e.source, "rules.txt");
    assert_string_equal(e.text, "expected '{'");

    /* a NULL source is "", long texts are cut to fit */
    char longtext[600], longsrc[300];
    memset(longtext, 't', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    memset(longsrc, 's', sizeof longsrc - 1);
    longsrc[sizeof longsrc - 1] = '\0';
    dm_error_clear(&e);
    dm_error_set(&e, DM_EIO, NULL, 0, 0, "%s", longtext);
    assert_string_equal(e.source, "");
    assert_int_equal(strlen(e.text), DM_ERROR_TEXT_MAX - 1);
    assert_memory_equal(e.text, longtext, DM_ERROR_TEXT_MAX - 1);
    dm_error_clear(&e);
    dm_error_set(&e, DM_EIO, longsrc, 1, 1, "short");
    assert_int_equal(strlen(e.source), DM_ERROR_SOURCE_MAX - 1);
    assert_memory_equal(e.source, longsrc, DM_ERROR_SOURCE_MAX - 1);
    assert_string_equal(e.text, "short");
}

static void test_strerror(void **state)
{
    (void)state;
    for (int i = 0; i < DM_STATUS_COUNT; i++) {
        const char *s = dm_strerror((dm_status)i);
        assert_non_null(s);
        assert_true(*s);
        assert_string_not_equal(s, "unknown error");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, dm_strerror((dm_status)j));
    }
    assert_string_equal(dm_strerror(DM_OK), "success");
    assert_string_equal(dm_strerror(DM_ENOMEM), "out of memory");
    assert_string_equal(dm_strerror(DM_STATUS_COUNT), "unknown error");
    assert_string_equal(dm_strerror((dm_status)-1), "unknown error");
    assert_string_equal(dm_version(), DM_VERSION);
}

/* ---- UTF-8 ---- */

/* clang-format off */
static const struct {
    const char *name;
    const char *s;
    size_t len;
    size_t bad; /* offset of the first invalid sequence; len when valid */
} utf8_cases[] = {
    {"empty", "", 0, 0},
    {"ascii", "abc", 3, 3},
    {"nul is valid", "a\0b", 3, 3},
    {"two bytes", "\xC3\xA9", 2, 2},
    {"three bytes", "\xE2\x82\xAC", 3, 3},
    {"four bytes", "\xF0\x9F\x98\x80", 4, 4},
    {"smallest two", "\xC2\x80", 2, 2},
    {"smallest three", "\xE0\xA0\x80", 3, 3},
    {"smallest four", "\xF0\x90\x80\x80", 4, 4},
    {"U+10FFFF", "\xF4\x8F\xBF\xBF", 4, 4},
    {"around the surrogates", "\xED\x9F\xBF\xEE\x80\x80", 6, 6},
    /* overlong forms */
    {"overlong nul", "\xC0\x80", 2, 0},
    {"overlong C1", "ab\xC1\xBF", 4, 2},
    {"overlong three", "\xE0\x80\x80", 3, 0},
    {"overlong U+07FF", "\xE0\x9F\xBF", 3, 0},
    {"overlong four", "\xF0\x80\x80\x80", 4, 0},
    {"overlong U+FFFF", "\xF0\x8F\xBF\xBF", 4, 0},
    /* surrogates */
    {"high surrogate", "\xED\xA0\x80", 3, 0},
    {"low surrogate", "x\xED\xBF\xBF", 4, 1},
    /* beyond U+10FFFF */
    {"U+110000", "\xF4\x90\x80\x80", 4, 0},
    {"F5 lead", "\xF5\x80\x80\x80", 4, 0},
    {"F8 lead", "\xF8\x88\x80\x80\x80", 5, 0},
    {"FE", "ok\xFE", 3, 2},
    {"FF", "\xFF", 1, 0},
    /* truncated and broken sequences */
    {"lone continuation", "ab\x80", 3, 2},
    {"truncated two", "a\xC3", 2, 1},
    {"truncated three", "ab\xE2\x82", 4, 2},
    {"truncated four", "\xF0\x9F\x98", 3, 0},
    {"ascii in a sequence", "\xE2\x82" "A", 3, 0},
    {"lead in a sequence", "\xC3\xC3\xA9", 3, 0},
    {"bad after good", "ok\xC3\xA9\xFF", 5, 4},
    {"length bounds the check", "\xC3\xA9", 1, 0},
};
/* clang-format on */

static void test_utf8_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
        size_t got = dm_utf8_check(utf8_cases[i].s, utf8_cases[i].len);
        if (got != utf8_cases[i].bad)
            fail_msg("utf8 case \"%s\": got %zu, want %zu", utf8_cases[i].name, got,
                     utf8_cases[i].bad);
    }
}

static void test_ascii(void **state)
{
    (void)state;
    assert_int_equal(dm_ascii_casecmp("LinkedIn", "linkedin"), 0);
    assert_true(dm_ascii_casecmp("abc", "abd") < 0);
    assert_true(dm_ascii_casecmp("abd", "ABC") > 0);
    assert_true(dm_ascii_casecmp("ab", "abc") < 0);
    assert_int_equal(dm_ascii_ncasecmp("WWW.x", "www.y", 4), 0);
    assert_int_equal(dm_ascii_ncasecmp("a", "A", 100), 0);
    /* only ASCII letters fold: not the locale's, not UTF-8 */
    assert_true(dm_ascii_casecmp("\xC3\x89", "\xC3\xA9") != 0);
    assert_int_equal(dm_ascii_lower('Q'), 'q');
    assert_int_equal(dm_ascii_lower('@'), '@');
    assert_int_equal(dm_ascii_lower('['), '[');
    assert_int_equal(dm_ascii_lower((char)0xC9), (char)0xC9);
}

/* ---- dm_map ---- */

static size_t freed_values;
static void count_value(void *v)
{
    (void)v;
    freed_values++;
}

static void test_map(void **state)
{
    (void)state;
    hooks_on(-1);
    dm_map m;
    dm_map_init(&m);
    assert_null(dm_map_get(&m, "anything")); /* empty, no table yet */
    enum { N = 20000 };
    char key[32];
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "https://x/in/%lu", (unsigned long)i);
        assert_int_equal(dm_map_put(&m, key, (void *)(i + 1)), 0);
        assert_int_equal(m.len, i + 1);
        assert_true(m.len * 4 <= m.cap * 3); /* grows before it is 3/4 full */
    }
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "https://x/in/%lu", (unsigned long)i);
        assert_ptr_equal(dm_map_get(&m, key), (void *)(i + 1));
    }
    assert_null(dm_map_get(&m, "https://x/in/20000"));
    assert_null(dm_map_get(&m, "https://x/in/"));
    assert_null(dm_map_get(&m, ""));
    /* the key is copied; putting it again replaces the value */
    strcpy(key, "https://x/in/7");
    assert_int_equal(dm_map_put(&m, key, (void *)99), 0);
    key[0] = 'X';
    assert_ptr_equal(dm_map_get(&m, "https://x/in/7"), (void *)99);
    assert_int_equal(m.len, N);
    /* "" is a key like another */
    assert_int_equal(dm_map_put(&m, "", (void *)5), 0);
    assert_ptr_equal(dm_map_get(&m, ""), (void *)5);
    assert_int_equal(m.len, N + 1);
    freed_values = 0;
    dm_map_free(&m, count_value);
    assert_int_equal(freed_values, N + 1);
    assert_int_equal(m.len, 0);
    assert_null(dm_map_get(&m, "https://x/in/1"));
    dm_map_free(&m, NULL); /* freed twice: fine */
    assert_int_equal(mem_now, 0);

    /* out of memory: -1, and the map is as it was */
    assert_int_equal(dm_map_put(&m, "a", (void *)1), 0);
    fail_countdown = 0; /* the copy of the key */
    assert_int_equal(dm_map_put(&m, "b", (void *)2), -1);
    assert_int_equal(m.len, 1);
    assert_null(dm_map_get(&m, "b"));
    assert_ptr_equal(dm_map_get(&m, "a"), (void *)1);
    dm_map_free(&m, NULL);
    assert_int_equal(mem_now, 0);
    hooks_off();
}

/* ---- the record ---- */

static void assert_empty_record(const dm_record *r)
{
    for (int f = 0; f < DM_FIELD_COUNT; f++) {
        assert_null(dm_record_get(r, (dm_field)f));
        assert_int_equal(dm_record_len(r, (dm_field)f), 0);
    }
    assert_int_equal(dm_record_kind(r), DM_KIND_INVITATION);
    assert_int_equal(dm_record_mutual(r), -1);
    assert_int_equal(dm_record_facts(r), 0);
    assert_int_equal(dm_record_extra_count(r), 0);
    const char *n = "x", *v = "y";
    dm_record_extra(r, 0, &n, &v);
    assert_null(n);
    assert_null(v);
    assert_null(dm_record_history(r));
}

static void test_record_fields(void **state)
{
    (void)state;
    hooks_on(-1);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    assert_empty_record(r);

    /* every field takes its own value */
    for (int f = 0; f < DM_FIELD_COUNT; f++) {
        char v[32];
        snprintf(v, sizeof v, "value of %s", dm_field_name((dm_field)f));
        assert_int_equal(dm_record_set(r, (dm_field)f, v, strlen(v)), DM_OK);
    }
    for (int f = 0; f < DM_FIELD_COUNT; f++) {
        char v[32];
        snprintf(v, sizeof v, "value of %s", dm_field_name((dm_field)f));
        assert_string_equal(dm_record_get(r, (dm_field)f), v);
        assert_int_equal(dm_record_len(r, (dm_field)f), strlen(v));
    }
    /* len bytes are copied, no more */
    assert_int_equal(dm_record_set(r, DM_FIELD_FROM_NAME, "Jane Doe, MBA", 8), DM_OK);
    assert_string_equal(dm_record_get(r, DM_FIELD_FROM_NAME), "Jane Doe");
    assert_int_equal(dm_record_len(r, DM_FIELD_FROM_NAME), 8);
    /* an empty value is set and empty; NULL makes the field missing */
    assert_int_equal(dm_record_set(r, DM_FIELD_SUBJECT, "", 0), DM_OK);
    assert_string_equal(dm_record_get(r, DM_FIELD_SUBJECT), "");
    assert_int_equal(dm_record_set(r, DM_FIELD_SUBJECT, NULL, 5), DM_OK);
    assert_null(dm_record_get(r, DM_FIELD_SUBJECT));
    assert_int_equal(dm_record_len(r, DM_FIELD_SUBJECT), 0);
    /* a long value, then a short one: no trace of the long one */
    char big[5000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(dm_record_set(r, DM_FIELD_MESSAGE, big, strlen(big)), DM_OK);
    assert_int_equal(dm_record_len(r, DM_FIELD_MESSAGE), sizeof big - 1);
    assert_int_equal(dm_record_set(r, DM_FIELD_MESSAGE, "hi", 2), DM_OK);
    assert_memory_equal(dm_record_get(r, DM_FIELD_MESSAGE), "hi", 3);
    /* fields out of range */
    assert_int_equal(dm_record_set(r, DM_FIELD_COUNT, "x", 1), DM_EINVAL);
    assert_int_equal(dm_record_set(r, (dm_field)-1, "x", 1), DM_EINVAL);
    assert_null(dm_record_get(r, DM_FIELD_COUNT));
    assert_int_equal(dm_record_len(r, DM_FIELD_COUNT), 0);

    /* kind, mutual, facts */
    dm_record_set_kind(r, DM_KIND_EMAIL);
    assert_int_equal(dm_record_kind(r), DM_KIND_EMAIL);
    dm_record_set_mutual(r, 12);
    assert_int_equal(dm_record_mutual(r), 12);
    dm_record_set_mutual(r, -7); /* any negative is "unknown" */
    assert_int_equal(dm_record_mutual(r), -1);
    dm_record_set_mutual(r, 0);
    assert_int_equal(dm_record_mutual(r), 0);
    dm_record_add_facts(r, DM_FACT_SPINMAIL);
    dm_record_add_facts(r, DM_FACT_HTML);
    dm_record_add_facts(r, 0);
    assert_int_equal(dm_record_facts(r), DM_FACT_SPINMAIL | DM_FACT_HTML);

    /* out of memory: the old value stays */
    fail_countdown = 0;
    assert_int_equal(dm_record_set(r, DM_FIELD_TO, big, strlen(big)), DM_ENOMEM);
    assert_string_equal(dm_record_get(r, DM_FIELD_TO), "value of to");
    assert_int_equal(dm_record_len(r, DM_FIELD_TO), 11);

    dm_record_free(r);
    dm_record_free(NULL);
    assert_int_equal(mem_now, 0);

    fail_countdown = 0;
    r = (dm_record *)&r;
    assert_int_equal(dm_record_create(&r), DM_ENOMEM);
    assert_ptr_equal(r, (dm_record *)&r); /* untouched on failure */
    hooks_off();
}

static void test_record_extras(void **state)
{
    (void)state;
    hooks_on(-1);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    /* more than the first allocation holds, in input order */
    for (int i = 0; i < 20; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "col%d", i);
        snprintf(value, sizeof value, "v%d", i * i);
        assert_int_equal(dm_record_add_extra(r, name, value, strlen(value)), DM_OK);
    }
    assert_int_equal(dm_record_extra_count(r), 20);
    for (size_t i = 0; i < 20; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "col%zu", i);
        snprintf(value, sizeof value, "v%zu", i * i);
        const char *n, *v;
        dm_record_extra(r, i, &n, &v);
        assert_string_equal(n, name);
        assert_string_equal(v, value);
    }
    /* NULL is "", len bytes are copied; the same name twice is kept twice */
    assert_int_equal(dm_record_add_extra(r, "empty", NULL, 3), DM_OK);
    assert_int_equal(dm_record_add_extra(r, "col0", "abcdef", 2), DM_OK);
    const char *n, *v;
    dm_record_extra(r, 20, &n, &v);
    assert_string_equal(n, "empty");
    assert_string_equal(v, "");
    dm_record_extra(r, 21, &n, &v);
    assert_string_equal(n, "col0");
    assert_string_equal(v, "ab");
    dm_record_extra(r, 22, &n, &v);
    assert_null(n);
    assert_null(v);

    /* out of memory: the count stays */
    char big[300];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fail_countdown = 0;
    assert_int_equal(dm_record_add_extra(r, "big", big, strlen(big)), DM_ENOMEM);
    assert_int_equal(dm_record_extra_count(r), 22);
    dm_record_free(r);
    assert_int_equal(mem_now, 0);
    hooks_off();
}

/* dm_record_clear() leaves nothing of the previous record visible. */
static void test_record_clear(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(
        dm_context_add_message(ctx, "https://www.linkedin.com/in/jonathan", NULL, 1, "hello"),
        DM_OK);
    assert_int_equal(dm_context_add_connection(ctx, "https://www.linkedin.com/in/jonathan", NULL),
                     DM_OK);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    for (int f = 0; f < DM_FIELD_COUNT; f++)
        assert_int_equal(dm_record_set(r, (dm_field)f, "Jonathan Long-Name", 18), DM_OK);
    assert_int_equal(
        dm_record_set(r, DM_FIELD_FROM_URL, "https://www.linkedin.com/in/jonathan", 36), DM_OK);
    dm_record_set_kind(r, DM_KIND_MESSAGE);
    dm_record_set_mutual(r, 40);
    dm_record_add_facts(r, DM_FACT_SPINMAIL | DM_FACT_NO_URL);
    assert_int_equal(dm_record_add_extra(r, "a long column name", "a long value", 12), DM_OK);
    assert_int_equal(dm_record_add_extra(r, "second", "2", 1), DM_OK);
    dm_context_attach(ctx, r);
    assert_non_null(dm_record_history(r));
    assert_true(dm_record_facts(r) & DM_FACT_CONNECTED);

    dm_record_clear(r);
    assert_empty_record(r);

    /* shorter values in the reused memory show nothing of the longer ones */
    assert_int_equal(dm_record_set(r, DM_FIELD_FROM_NAME, "Jo", 2), DM_OK);
    assert_memory_equal(dm_record_get(r, DM_FIELD_FROM_NAME), "Jo", 3);
    assert_int_equal(dm_record_add_extra(r, "b", "2", 1), DM_OK);
    assert_int_equal(dm_record_extra_count(r), 1);
    const char *n, *v;
    dm_record_extra(r, 0, &n, &v);
    assert_memory_equal(n, "b", 2);
    assert_memory_equal(v, "2", 2);
    dm_record_extra(r, 1, &n, &v);
    assert_null(n);
    /* a record without a URL finds no history and is no connection */
    dm_context_attach(ctx, r);
    assert_null(dm_record_history(r));
    assert_int_equal(dm_record_facts(r), 0);
    dm_record_free(r);
    dm_context_free(ctx);
}

static void test_record_set_id(void **state)
{
    (void)state;
    hooks_on(-1);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    assert_int_equal(dm_record_set_id(r, "https://www.linkedin.com/in/aisha-mensah-leadgen-5e8",
                                      "2026-02-12T11:44:00"),
                     DM_OK);
    const char *want = "https://www.linkedin.com/in/aisha-mensah-leadgen-5e8@2026-02-12T11:44:00";
    assert_string_equal(dm_record_get(r, DM_FIELD_ID), want);
    assert_int_equal(dm_record_len(r, DM_FIELD_ID), strlen(want));
    /* longer than the slot, then short again */
    char who[3000], when[3000];
    memset(who, 'w', sizeof who - 1);
    who[sizeof who - 1] = '\0';
    memset(when, 't', sizeof when - 1);
    when[sizeof when - 1] = '\0';
    assert_int_equal(dm_record_set_id(r, who, when), DM_OK);
    const char *id = dm_record_get(r, DM_FIELD_ID);
    assert_int_equal(dm_record_len(r, DM_FIELD_ID), 2 * 2999 + 1);
    assert_int_equal(strlen(id), 2 * 2999 + 1);
    assert_memory_equal(id, who, 2999);
    assert_int_equal(id[2999], '@');
    assert_memory_equal(id + 3000, when, 3000);
    assert_int_equal(dm_record_set_id(r, "Jane Doe", "10/16/18, 8:36 AM"), DM_OK);
    assert_string_equal(dm_record_get(r, DM_FIELD_ID), "Jane Doe@10/16/18, 8:36 AM");
    assert_int_equal(dm_record_len(r, DM_FIELD_ID), 26);
    assert_int_equal(dm_record_set_id(r, "", ""), DM_OK);
    assert_string_equal(dm_record_get(r, DM_FIELD_ID), "@");
    dm_record_clear(r);
    assert_null(dm_record_get(r, DM_FIELD_ID));
    dm_record_free(r);
    /* out of memory when the slot must grow: DM_ENOMEM, the field stays missing */
    for (long n = 0; n < 2; n++) {
        assert_int_equal(dm_record_create(&r), DM_OK);
        fail_countdown = n;
        assert_int_equal(dm_record_set_id(r, who, when), DM_ENOMEM);
        assert_null(dm_record_get(r, DM_FIELD_ID));
        dm_record_free(r);
    }
    assert_int_equal(mem_now, 0);
    hooks_off();
}

/* ---- names ---- */

static void test_names(void **state)
{
    (void)state;
    /* clang-format off */
    static const char *const fields[DM_FIELD_COUNT] = {
        "id", "direction", "from.name", "from.headline", "from.company", "from.url", "to",
        "sent_at", "subject", "message", "source",
    };
    /* clang-format on */
    for (int f = 0; f < DM_FIELD_COUNT; f++) {
        assert_string_equal(dm_field_name((dm_field)f), fields[f]);
        assert_int_equal(dm_field_lookup(fields[f]), f);
    }
    assert_null(dm_field_name(DM_FIELD_COUNT));
    assert_null(dm_field_name((dm_field)-1));
    assert_int_equal(dm_field_lookup("from"), -1);
    assert_int_equal(dm_field_lookup(""), -1);

    static const char *const kinds[DM_KIND_COUNT] = {"invitation", "message", "email"};
    for (int k = 0; k < DM_KIND_COUNT; k++) {
        assert_string_equal(dm_kind_name((dm_kind)k), kinds[k]);
        assert_int_equal(dm_kind_lookup(kinds[k]), k);
    }
    assert_null(dm_kind_name(DM_KIND_COUNT));
    assert_int_equal(dm_kind_lookup("invitations"), -1);

    static const struct {
        unsigned bit;
        const char *name;
    } facts[] = {{DM_FACT_SPINMAIL, "spinmail"},
                 {DM_FACT_NO_URL, "no_sender_url"},
                 {DM_FACT_CONNECTED, "connected"},
                 {DM_FACT_HTML, "html"}};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        assert_string_equal(dm_fact_name(facts[i].bit), facts[i].name);
        assert_int_equal(dm_fact_lookup(facts[i].name), facts[i].bit);
    }
    assert_null(dm_fact_name(0));
    assert_null(dm_fact_name(DM_FACT_SPINMAIL | DM_FACT_HTML)); /* one bit at a time */
    assert_null(dm_fact_name(0x10));
    assert_int_equal(dm_fact_lookup("sponsored"), 0);

    static const char *const verdicts[DM_VERDICT_COUNT] = {"accept", "review", "decline"};
    for (int v = 0; v < DM_VERDICT_COUNT; v++) {
        assert_string_equal(dm_verdict_name((dm_verdict)v), verdicts[v]);
        assert_int_equal(dm_verdict_lookup(verdicts[v]), v);
    }
    assert_null(dm_verdict_name(DM_VERDICT_COUNT));
    assert_int_equal(dm_verdict_lookup("reject"), -1);
}

/* ---- thresholds ---- */

static void test_verdict_for(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct {
        double score, accept_at, decline_at;
        dm_verdict want;
    } cases[] = {
        {5.0,   0.0, 5.0, DM_VERDICT_DECLINE}, /* == decline_at declines */
        {4.99,  0.0, 5.0, DM_VERDICT_REVIEW},
        {0.0,   0.0, 5.0, DM_VERDICT_ACCEPT},  /* == accept_at accepts */
        {0.01,  0.0, 5.0, DM_VERDICT_REVIEW},
        {-3.0,  0.0, 5.0, DM_VERDICT_ACCEPT},
        {100.0, 0.0, 5.0, DM_VERDICT_DECLINE},
        {-2.0, -2.0, 3.0, DM_VERDICT_ACCEPT},
        {-1.5, -2.0, 3.0, DM_VERDICT_REVIEW},
        {3.0,  -2.0, 3.0, DM_VERDICT_DECLINE},
        {2.0,   2.0, 2.0, DM_VERDICT_DECLINE}, /* thresholds that meet: decline first */
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_verdict got = dm_verdict_for(cases[i].score, cases[i].accept_at, cases[i].decline_at);
        if (got != cases[i].want)
            fail_msg("score %g (accept at %g, decline at %g): got %s, want %s", cases[i].score,
                     cases[i].accept_at, cases[i].decline_at, dm_verdict_name(got),
                     dm_verdict_name(cases[i].want));
    }
}

/* ---- context ---- */

/* A record from `name` at `url` (either may be NULL), attached to `ctx`. */
static void attach(const dm_context *ctx, dm_record *r, const char *url, const char *name)
{
    dm_record_clear(r);
    if (url)
        assert_int_equal(dm_record_set(r, DM_FIELD_FROM_URL, url, strlen(url)), DM_OK);
    if (name)
        assert_int_equal(dm_record_set(r, DM_FIELD_FROM_NAME, name, strlen(name)), DM_OK);
    dm_context_attach(ctx, r);
}

/* clang-format off */
static const struct {
    const char *stored, *probe;
    int joins;
} url_cases[] = {
    {"https://www.linkedin.com/in/Jane-Doe/?trk=x", "http://linkedin.com/in/jane-doe", 1},
    {"https://www.linkedin.com/in/jane-doe", "HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE/", 1},
    {"https://www.linkedin.com/in/jane-doe", "linkedin.com/in/jane-doe#about", 1},
    {"https://www.linkedin.com/in/jane-doe", "www.linkedin.com/in/jane-doe///", 1},
    {"https://www.linkedin.com/in/jane-doe", "https://www.linkedin.com/in/jane-doe?a=1#b", 1},
    {"linkedin.com/in/jane-doe", "https://www.linkedin.com/in/jane-doe/", 1},
    /* "://" in a query is no scheme */
    {"https://www.linkedin.com/in/jane-doe",
     "linkedin.com/in/jane-doe?next=https://elsewhere.example/x", 1},
    {"https://www.linkedin.com/in/jane-doe", "https://www.linkedin.com/in/jane-doe-2", 0},
    {"https://www.linkedin.com/in/jane-doe", "https://www.linkedin.com/in/jane", 0},
    {"https://www.linkedin.com/in/jane-doe", "https://www.linkedin.com/company/jane-doe", 0},
};
/* clang-format on */

static void test_context_url_joins(void **state)
{
    (void)state;
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        dm_context *ctx = NULL;
        assert_int_equal(dm_context_create(&ctx), DM_OK);
        assert_int_equal(dm_context_add_message(ctx, url_cases[i].stored, "Jane Doe", 1, "hi"),
                         DM_OK);
        assert_int_equal(dm_context_add_message(ctx, url_cases[i].stored, "Jane Doe", 0, NULL),
                         DM_OK);
        assert_int_equal(dm_context_add_connection(ctx, url_cases[i].stored, "Jane Doe"), DM_OK);
        assert_int_equal(dm_context_history_count(ctx), 1);
        assert_int_equal(dm_context_connection_count(ctx), 1);
        /* another name, so that only the URL can join */
        attach(ctx, r, url_cases[i].probe, "J. Doe");
        const dm_history *h = dm_record_history(r);
        int connected = (dm_record_facts(r) & DM_FACT_CONNECTED) != 0;
        if ((h != NULL) != url_cases[i].joins || connected != url_cases[i].joins)
            fail_msg("\"%s\" and \"%s\": history %s, connected %d; want %s", url_cases[i].stored,
                     url_cases[i].probe, h ? "found" : "none", connected,
                     url_cases[i].joins ? "joined" : "not joined");
        if (h) {
            assert_int_equal(dm_history_messages(h), 2);
            assert_int_equal(dm_history_incoming(h), 1);
            assert_false(dm_history_weak(h));
            assert_string_equal(dm_history_text(h, 0), "hi");
            assert_null(dm_history_text(h, 1));
        }
        dm_context_free(ctx);
    }
    dm_record_free(r);
}

static void test_context_name_joins(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    dm_record *r = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_record_create(&r), DM_OK);
    /* sponsored InMail: no sender URL, filed under the exact name */
    assert_int_equal(dm_context_add_message(ctx, "", "Aisha Mensah", 1, "We book meetings"), DM_OK);
    assert_int_equal(dm_context_add_message(ctx, NULL, "Aisha Mensah", 1, "Still there?"), DM_OK);
    assert_int_equal(dm_context_add_message(ctx, "https://", "Aisha Mensah", 1, "Last try"),
                     DM_OK); /* a URL with nothing in it is none */
    /* someone with both a URL history and a namesake without URL */
    assert_int_equal(dm_context_add_message(ctx, "https://www.linkedin.com/in/sam-lee-1", "Sam Lee",
                                            1, "from the URL"),
                     DM_OK);
    assert_int_equal(dm_context_add_message(ctx, NULL, "Sam Lee", 1, "from the name"), DM_OK);
    assert_int_equal(dm_context_history_count(ctx), 3);
    /* nobody to join on */
    assert_int_equal(dm_context_add_message(ctx, NULL, NULL, 1, "x"), DM_EINVAL);
    assert_int_equal(dm_context_add_message(ctx, "", "", 1, "x"), DM_EINVAL);
    assert_int_equal(dm_context_add_message(ctx, "http://", NULL, 1, "x"), DM_EINVAL);
    assert_int_equal(dm_context_history_count(ctx), 3);

    /* a URL that finds nothing falls back to the name: a weak join */
    attach(ctx, r, "https://www.linkedin.com/in/aisha-mensah-leadgen-5e8", "Aisha Mensah");
    const dm_history *h = dm_record_history(r);
    assert_non_null(h);
    assert_true(dm_history_weak(h));
    assert_int_equal(dm_history_messages(h), 3);
    assert_int_equal(dm_history_incoming(h), 3);
    assert_string_equal(dm_history_text(h, 0), "We book meetings");
    assert_string_equal(dm_history_text(h, 2), "Last try");
    assert_null(dm_history_text(h, 3));
    /* without a URL at all, too */
    attach(ctx, r, NULL, "Aisha Mensah");
    assert_ptr_equal(dm_record_history(r), h);
    /* the name must match exactly */
    attach(ctx, r, NULL, "aisha mensah");
    assert_null(dm_record_history(r));
    attach(ctx, r, NULL, "Aisha Mensah ");
    assert_null(dm_record_history(r));
    attach(ctx, r, NULL, NULL);
    assert_null(dm_record_history(r));
    /* the URL's history wins over the namesake's */
    attach(ctx, r, "http://linkedin.com/in/Sam-Lee-1/", "Sam Lee");
    h = dm_record_history(r);
    assert_non_null(h);
    assert_false(dm_history_weak(h));
    assert_string_equal(dm_history_text(h, 0), "from the URL");
    attach(ctx, r, "https://www.linkedin.com/in/sam-lee-2", "Sam Lee");
    h = dm_record_history(r);
    assert_non_null(h);
    assert_true(dm_history_weak(h));
    assert_string_equal(dm_history_text(h, 0), "from the name");

    /* the history functions take NULL */
    assert_int_equal(dm_history_messages(NULL), 0);
    assert_int_equal(dm_history_incoming(NULL), 0);
    assert_false(dm_history_weak(NULL));
    assert_null(dm_history_text(NULL, 0));
    dm_record_free(r);
    dm_context_free(ctx);
}

static void test_context_history_counts(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    const char *url = "https://www.linkedin.com/in/kevin-doyle-growth";
    /* 70 messages from him, 3 from me: the first 64 of his texts are kept */
    for (int i = 0; i < 70; i++) {
        char text[32];
        snprintf(text, sizeof text, "pitch %d", i);
        assert_int_equal(dm_context_add_message(ctx, url, "Kevin Doyle", 1, text), DM_OK);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(dm_context_add_message(ctx, url, "Kevin Doyle", 0, "no thanks"), DM_OK);
    assert_int_equal(dm_context_add_message(ctx, url, "Kevin Doyle", 1, NULL), DM_OK);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    attach(ctx, r, url, "Kevin Doyle");
    const dm_history *h = dm_record_history(r);
    assert_non_null(h);
    assert_int_equal(dm_history_messages(h), 74);
    assert_int_equal(dm_history_incoming(h), 71);
    assert_string_equal(dm_history_text(h, 0), "pitch 0");
    assert_string_equal(dm_history_text(h, 63), "pitch 63");
    assert_null(dm_history_text(h, 64));
    assert_int_equal(dm_context_history_count(ctx), 1);
    dm_record_free(r);
    dm_context_free(ctx);
}

static void test_context_connected(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    dm_record *r = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_record_create(&r), DM_OK);
    assert_int_equal(dm_context_connection_count(ctx), 0);
    assert_int_equal(
        dm_context_add_connection(ctx, "http://linkedin.com/in/Priya-Raman-77/", "Priya Raman"),
        DM_OK);
    assert_int_equal(dm_context_add_connection(ctx, "", "Brian Walsh"), DM_OK);
    assert_int_equal(dm_context_add_connection(ctx, NULL, NULL), DM_EINVAL);
    assert_int_equal(dm_context_add_connection(ctx, "https://", ""), DM_EINVAL);
    /* the same person twice is one connection */
    assert_int_equal(
        dm_context_add_connection(ctx, "https://www.linkedin.com/in/priya-raman-77", "Priya"),
        DM_OK);
    assert_int_equal(dm_context_connection_count(ctx), 2);

    attach(ctx, r, "https://www.linkedin.com/in/priya-raman-77", "Priya Raman");
    assert_int_equal(dm_record_facts(r), DM_FACT_CONNECTED);
    assert_null(dm_record_history(r)); /* connected, but no messages */
    /* a connection without URL is found by the name of a record without URL */
    attach(ctx, r, NULL, "Brian Walsh");
    assert_int_equal(dm_record_facts(r), DM_FACT_CONNECTED);
    /* but a record with a URL is not taken for a namesake */
    attach(ctx, r, "https://www.linkedin.com/in/brian-walsh-99", "Brian Walsh");
    assert_int_equal(dm_record_facts(r), 0);
    /* nor a URL'd connection for a record of the same name without one */
    attach(ctx, r, NULL, "Priya Raman");
    assert_int_equal(dm_record_facts(r), 0);
    attach(ctx, r, "https://www.linkedin.com/in/someone-else", "Someone Else");
    assert_int_equal(dm_record_facts(r), 0);
    dm_record_free(r);
    dm_context_free(ctx);
}

static void test_context_me(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_null(dm_me_name(ctx));
    assert_null(dm_me_headline(ctx));
    assert_null(dm_me_industry(ctx));
    assert_int_equal(dm_me_company_count(ctx), 0);
    assert_int_equal(dm_me_set(ctx, "Gideon Marsh", "Frontline Leadership Consultant",
                               "Professional Training and Coaching"),
                     DM_OK);
    /* NULL leaves an item as it was */
    assert_int_equal(dm_me_set(ctx, NULL, "Consultant", NULL), DM_OK);
    assert_string_equal(dm_me_name(ctx), "Gideon Marsh");
    assert_string_equal(dm_me_headline(ctx), "Consultant");
    assert_string_equal(dm_me_industry(ctx), "Professional Training and Coaching");

    /* companies: each once, compared case-insensitively; current if any position is */
    assert_int_equal(dm_me_add_company(ctx, "Keystone Valve & Fitting Co.", 0), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "Ironwood Leadership Partners", 1), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "KEYSTONE VALVE & FITTING CO.", 0), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "ironwood leadership partners", 0), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "keystone valve & fitting co.", 1), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "", 1), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, NULL, 1), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "Ridgeline Staffing Solutions", 0), DM_OK);
    assert_int_equal(dm_me_company_count(ctx), 3);
    static const struct {
        const char *name;
        int current;
    } want[] = {{"Keystone Valve & Fitting Co.", 1},
                {"Ironwood Leadership Partners", 1},
                {"Ridgeline Staffing Solutions", 0}};
    for (size_t i = 0; i < 3; i++) {
        int current = -1;
        assert_string_equal(dm_me_company(ctx, i, &current), want[i].name);
        assert_int_equal(current, want[i].current);
    }
    assert_string_equal(dm_me_company(ctx, 0, NULL), want[0].name);
    int untouched = 7;
    assert_null(dm_me_company(ctx, 3, &untouched));
    assert_int_equal(untouched, 7);
    dm_context_free(ctx);
    dm_context_free(NULL);
}

/* ---- messages waiting for me: dm_context_finish() ---- */

/* pend() adds one message of messages.csv to wait in `ctx`. */
static void pend(dm_context *ctx, const char *conv, const char *from, const char *from_url,
                 const char *to, const char *to_urls, const char *text, int dir)
{
    dm_pending m = {from, from_url, to, to_urls, conv, text, dir};
    assert_int_equal(dm_context_add_pending(ctx, &m), DM_OK);
}

/* history() is what a record from `url` or `name` finds: "messages/incoming/weak", or "-". */
static const char *history(const dm_context *ctx, const char *url, const char *name)
{
    static char out[64];
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    attach(ctx, r, url, name);
    const dm_history *h = dm_record_history(r);
    if (h)
        snprintf(out, sizeof out, "%zu/%zu/%s", dm_history_messages(h), dm_history_incoming(h),
                 dm_history_weak(h) ? "weak" : "strong");
    else
        snprintf(out, sizeof out, "-");
    dm_record_free(r);
    return out;
}

#define LENA "https://www.linkedin.com/in/lena-vogel"
#define OMAR "https://www.linkedin.com/in/omar-haddad"

/* One conversation that Omar started, newest message first as the export lists them. */
static void pend_one_conversation(dm_context *ctx)
{
    pend(ctx, "2-b21hcg==", "Lena Vogel", LENA, "Omar Haddad", OMAR, "Here it is.", -1);
    pend(ctx, "2-b21hcg==", "Omar Haddad", OMAR, "Lena Vogel", LENA, "Could you share it?", -1);
}

/* Profile.csv says who me is even when it comes after messages.csv. */
static void test_context_finish_profile_later(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    dm_error err;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    pend_one_conversation(ctx);
    /* nothing is filed before finish: who wrote what is not known yet */
    assert_int_equal(dm_context_history_count(ctx), 0);
    assert_int_equal(dm_context_is_me(ctx, "Lena Vogel"), -1);
    assert_int_equal(dm_me_set(ctx, "Lena Vogel", NULL, NULL), DM_OK);
    dm_error_clear(&err);
    assert_int_equal(dm_context_finish(ctx, &err), DM_OK);
    assert_int_equal(err.code, DM_OK);
    assert_string_equal(dm_me_name(ctx), "Lena Vogel");
    assert_int_equal(dm_context_history_count(ctx), 1);
    assert_string_equal(history(ctx, OMAR, "Omar Haddad"), "2/1/strong");
    assert_string_equal(history(ctx, LENA, "Lena Vogel"), "-");
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    attach(ctx, r, OMAR, NULL);
    assert_string_equal(dm_history_text(dm_record_history(r), 0), "Could you share it?");
    assert_null(dm_history_text(dm_record_history(r), 1));
    dm_record_free(r);
    dm_context_free(ctx);

    /* without a profile, one conversation is a tie, and it goes to whoever
     * wrote first: here the peer.  That is why the profile must win. */
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    pend_one_conversation(ctx);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_string_equal(dm_me_name(ctx), "Omar Haddad");
    assert_string_equal(history(ctx, LENA, NULL), "2/1/strong");
    dm_context_free(ctx);
}

/* The guess: the person in the most conversations, counting each name of a TO list. */
static void test_context_finish_guess(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    /* Victor writes a lot in one group conversation; Nora is in two */
    for (int i = 0; i < 4; i++)
        pend(ctx, "2-group", "Victor Hale", "https://www.linkedin.com/in/victor-hale",
             "Nora Quinn, Lily Chen",
             "https://www.linkedin.com/in/nora-quinn,https://www.linkedin.com/in/lily-chen",
             "Agenda.", -1);
    pend(ctx, "2-owen", "Owen Fitz", "https://www.linkedin.com/in/owen-fitz", " Nora Quinn ",
         "https://www.linkedin.com/in/nora-quinn", "Intro.", -1);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_string_equal(dm_me_name(ctx), "Nora Quinn");
    assert_int_equal(dm_context_is_me(ctx, "  NORA quinn\t"), 1);
    assert_int_equal(dm_context_is_me(ctx, "Nora Quin"), 0);
    assert_int_equal(dm_context_is_me(ctx, NULL), 0);
    assert_string_equal(history(ctx, "https://www.linkedin.com/in/victor-hale", NULL),
                        "4/4/strong");
    assert_string_equal(history(ctx, "https://www.linkedin.com/in/owen-fitz", NULL), "1/1/strong");
    assert_int_equal(dm_context_history_count(ctx), 2);
    dm_context_free(ctx);

    /* nobody named at all: me stays unknown, nothing is filed, and that is no error */
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    pend(ctx, "", "", "", "", "", "?", -1);
    pend(ctx, NULL, NULL, NULL, NULL, NULL, NULL, -1);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_null(dm_me_name(ctx));
    assert_int_equal(dm_context_history_count(ctx), 0);
    dm_context_free(ctx);
}

/* My messages count for each recipient; TO is a list only when the URLs are. */
static void test_context_finish_recipients(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_me_set(ctx, "Paul Smith", NULL, NULL), DM_OK);
    /* one recipient whose name holds a comma */
    pend(ctx, "2-jane", "Paul Smith", "https://www.linkedin.com/in/paul", "Jane Doe, MBA",
         "https://www.linkedin.com/in/jane-doe-mba", "Coffee?", -1);
    /* two recipients, names and URLs in the same order */
    pend(ctx, "2-pair", "Paul Smith", "https://www.linkedin.com/in/paul", "Ann Lee, Bo Chan",
         "https://www.linkedin.com/in/ann-lee, https://www.linkedin.com/in/bo-chan", "Hi both", -1);
    /* no URLs (2018): TO is one name, whatever it holds */
    pend(ctx, "", "Paul Smith", "", "Doe, Jane", "", "Coffee?", 0);
    /* a recipient nobody can join on does not cost the next one its history */
    pend(ctx, "2-odd", "Paul Smith", "https://www.linkedin.com/in/paul", " , Ann Lee",
         "https://,https://www.linkedin.com/in/ann-lee", "Hi again", -1);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_string_equal(history(ctx, "https://www.linkedin.com/in/jane-doe-mba", NULL),
                        "1/0/strong");
    assert_string_equal(history(ctx, "https://www.linkedin.com/in/ann-lee", NULL), "2/0/strong");
    assert_string_equal(history(ctx, "https://www.linkedin.com/in/bo-chan", NULL), "1/0/strong");
    assert_string_equal(history(ctx, NULL, "Doe, Jane"), "1/0/weak");
    assert_string_equal(history(ctx, NULL, "MBA"), "-");
    assert_string_equal(history(ctx, NULL, "Doe"), "-");
    assert_int_equal(dm_context_history_count(ctx), 4);
    dm_context_free(ctx);
}

/* Where the file says who wrote it (2018), the file wins over the names. */
static void test_context_finish_file_direction(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_me_set(ctx, "Paul Smith", NULL, NULL), DM_OK);
    pend(ctx, "", "Marcus Bell", "", "Paul Smith", "", "Great talk!", 1);
    /* written by me under another name (a name change): the Folder said SENT */
    pend(ctx, "", "Paul R. Smith", "", "Marcus Bell", "", "Thanks!", 0);
    /* FROM is me, but the file says INCOMING: it is believed */
    pend(ctx, "", "Paul Smith", "", "Hollis Grant", "", "odd", 1);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_string_equal(history(ctx, NULL, "Marcus Bell"), "2/1/weak");
    assert_string_equal(history(ctx, NULL, "Paul Smith"), "1/1/weak");
    assert_int_equal(dm_context_history_count(ctx), 2);
    dm_context_free(ctx);
}

/* A second finish is a no-op; messages added later are filed by another one. */
static void test_context_finish_again(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK); /* nothing to do */
    pend_one_conversation(ctx);
    assert_int_equal(dm_me_set(ctx, "Lena Vogel", NULL, NULL), DM_OK);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_string_equal(history(ctx, OMAR, NULL), "2/1/strong");
    pend(ctx, "2-kurt", "Kurt Janssen", "https://www.linkedin.com/in/kurt", "Lena Vogel", LENA,
         "Hello", -1);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_string_equal(history(ctx, OMAR, NULL), "2/1/strong");
    assert_string_equal(history(ctx, "https://www.linkedin.com/in/kurt", NULL), "1/1/strong");
    dm_context_free(ctx);

    /* a finish that ran out of memory left a half-made history: it stays failed */
    hooks_on(-1);
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    pend_one_conversation(ctx);
    dm_error err;
    dm_error_clear(&err);
    fail_countdown = 0;
    dm_status st = dm_context_finish(ctx, &err);
    fail_countdown = -1;
    assert_true(injected);
    assert_int_equal(st, DM_ENOMEM);
    assert_int_equal(err.code, DM_ENOMEM);
    assert_string_equal(err.source, "");
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_string_equal(err.text, "cannot file the messages in the history: out of memory");
    dm_error_clear(&err);
    assert_int_equal(dm_context_finish(ctx, &err), DM_ENOMEM);
    assert_int_equal(err.code, DM_ENOMEM);
    dm_context_free(ctx);
    hooks_off();
    assert_int_equal(mem_now, 0);
}

/*
 * build_context() builds a context and, when all went well, writes what
 * every sender's record finds in it to `digest`, so that an allocation
 * failure that was swallowed (a weaker join, a lost connection) shows.
 */
static dm_status build_context(char *digest, size_t size, int guess)
{
    dm_context *ctx = NULL;
    dm_record *r = NULL;
    dm_status st = dm_context_create(&ctx);
    if (st == DM_OK)
        st = dm_record_create(&r);
    /* messages that wait for finish: me writes to some, in groups of two and alone */
    for (int i = 0; st == DM_OK && i < 60; i++) {
        char conv[16], peer[32], peer_url[64], to[64], to_urls[128];
        snprintf(conv, sizeof conv, "2-c%d", i % 15);
        snprintf(peer, sizeof peer, "Person %d", i % 15 + 30);
        snprintf(peer_url, sizeof peer_url, "https://www.linkedin.com/in/person-%d", i % 15 + 30);
        int group = i % 15 < 5, mine = i % 2;
        snprintf(to, sizeof to, "%s%s", mine ? peer : "Nora Quinn", group ? ", Ann Lee" : "");
        snprintf(to_urls, sizeof to_urls, "%s%s",
                 mine ? peer_url : "https://www.linkedin.com/in/nora-quinn",
                 group ? ",https://www.linkedin.com/in/ann-lee" : "");
        dm_pending m = {mine ? "Nora Quinn" : peer,
                        mine ? "https://www.linkedin.com/in/nora-quinn" : peer_url,
                        to,
                        to_urls,
                        conv,
                        "pending text",
                        -1};
        st = dm_context_add_pending(ctx, &m);
    }
    if (st == DM_OK && !guess)
        st = dm_me_set(ctx, "Nora Quinn", "Plant manager", "Manufacturing");
    for (int i = 0; st == DM_OK && i < 100; i++) {
        char url[64], name[32], text[32];
        snprintf(url, sizeof url, "https://www.linkedin.com/in/person-%d", i % 40);
        snprintf(name, sizeof name, "Person %d", i % 50);
        snprintf(text, sizeof text, "message %d", i);
        st = dm_context_add_message(ctx, i % 3 ? url : NULL, name, i % 2, text);
        if (st == DM_OK && i % 7 == 0)
            st = dm_context_add_connection(ctx, i % 2 ? url : NULL, name);
        if (st == DM_OK && i % 11 == 0)
            st = dm_me_add_company(ctx, name, i % 2);
    }
    if (st == DM_OK) {
        dm_error err;
        dm_error_clear(&err);
        st = dm_context_finish(ctx, &err);
        assert_int_equal(err.code, st);
    }
    size_t used = 0;
    digest[0] = '\0';
    for (int i = 0; st == DM_OK && i < 50; i++) {
        char url[64], name[32];
        snprintf(url, sizeof url, "http://linkedin.com/in/Person-%d/", i);
        snprintf(name, sizeof name, "Person %d", i);
        for (int with_url = 0; with_url < 2; with_url++) {
            dm_record_clear(r);
            if (with_url)
                st = dm_record_set(r, DM_FIELD_FROM_URL, url, strlen(url));
            if (st == DM_OK)
                st = dm_record_set(r, DM_FIELD_FROM_NAME, name, strlen(name));
            if (st != DM_OK)
                break;
            dm_context_attach(ctx, r);
            const dm_history *h = dm_record_history(r);
            used +=
                (size_t)snprintf(digest + used, size - used, "%zu/%zu/%d/%d ",
                                 dm_history_messages(h), dm_history_incoming(h), dm_history_weak(h),
                                 (dm_record_facts(r) & DM_FACT_CONNECTED) != 0);
            assert_true(used < size);
        }
    }
    if (st == DM_OK)
        used += (size_t)snprintf(digest + used, size - used, "| %zu %zu %zu %s",
                                 dm_context_history_count(ctx), dm_context_connection_count(ctx),
                                 dm_me_company_count(ctx), dm_me_name(ctx));
    dm_record_free(r);
    dm_context_free(ctx);
    return st;
}

/*
 * Building a context fails cleanly at every allocation: DM_ENOMEM, no leak.
 * Once with me from the profile, once guessed.
 */
static void context_alloc_failures(int guess)
{
    static char base[4096], got[4096];
    hooks_on(-1);
    assert_int_equal(build_context(base, sizeof base, guess), DM_OK);
    hooks_off();
    assert_int_equal(mem_now, 0);
    assert_non_null(strstr(base, "Nora Quinn"));
    size_t nomem = 0;
    for (long n = 0;; n++) {
        hooks_on(n);
        dm_status st = build_context(got, sizeof got, guess);
        hooks_off();
        if (mem_now != 0)
            fail_msg("failing allocation %ld leaks %zu bytes", n, mem_now);
        if (st == DM_OK) {
            if (strcmp(got, base) != 0)
                fail_msg("failing allocation %ld was swallowed:\n got  %s\n want %s", n, got, base);
            if (!injected)
                break;
        } else if (st != DM_ENOMEM) {
            fail_msg("failing allocation %ld: %s", n, dm_strerror(st));
        } else {
            nomem++;
        }
    }
    assert_true(nomem > 100);
}

static void test_context_alloc_failures(void **state)
{
    (void)state;
    context_alloc_failures(0);
    context_alloc_failures(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_utf8_check),
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_record_extras),
        cmocka_unit_test(test_record_clear),
        cmocka_unit_test(test_record_set_id),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_verdict_for),
        cmocka_unit_test(test_context_url_joins),
        cmocka_unit_test(test_context_name_joins),
        cmocka_unit_test(test_context_history_counts),
        cmocka_unit_test(test_context_connected),
        cmocka_unit_test(test_context_me),
        cmocka_unit_test(test_context_finish_profile_later),
        cmocka_unit_test(test_context_finish_guess),
        cmocka_unit_test(test_context_finish_recipients),
        cmocka_unit_test(test_context_finish_file_direction),
        cmocka_unit_test(test_context_finish_again),
        cmocka_unit_test(test_context_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
