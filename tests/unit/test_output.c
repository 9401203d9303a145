/*
 * test_output.c: the sinks (src/output/, docs/output.md): exact text of
 * each format, JSON validity, streaming, cleaning, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "doorman.h"
#include "output/output.h"

/* ---- where the sinks write: memory ---- */

typedef struct capture {
    char *data;
    size_t len;
    int calls;   /* write callbacks so far */
    int fail_at; /* the call that fails, 0 = none */
} capture;

static int cap_write(void *ud, const char *buf, size_t len)
{
    capture *c = ud;
    c->calls++;
    if (c->fail_at && c->calls >= c->fail_at)
        return -1;
    c->data = realloc(c->data, c->len + len + 1);
    assert_non_null(c->data);
    memcpy(c->data + c->len, buf, len);
    c->len += len;
    c->data[c->len] = '\0';
    return 0;
}

static const char *cap_text(const capture *c)
{
    return c->data ? c->data : "";
}

static void cap_free(capture *c)
{
    free(c->data);
    memset(c, 0, sizeof *c);
}

static size_t count_lines(const capture *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->len; i++)
        n += c->data[i] == '\n';
    return n;
}

/* ---- records and results ---- */

typedef struct spec {
    dm_kind kind;
    const char *f[DM_FIELD_COUNT];
    long mutual; /* 0 = unknown; n > 0 = n - 1 mutual connections */
    unsigned facts;
    const char *extras[8]; /* name, value, name, value, ... */
} spec;

static dm_record *mkrec(const spec *s)
{
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    dm_record_set_kind(r, s->kind);
    for (int i = 0; i < DM_FIELD_COUNT; i++)
        if (s->f[i])
            assert_int_equal(dm_record_set(r, (dm_field)i, s->f[i], strlen(s->f[i])), DM_OK);
    dm_record_set_mutual(r, s->mutual - 1);
    dm_record_add_facts(r, s->facts);
    for (size_t i = 0; i + 1 < 8 && s->extras[i]; i += 2)
        assert_int_equal(
            dm_record_add_extra(r, s->extras[i], s->extras[i + 1], strlen(s->extras[i + 1])),
            DM_OK);
    return r;
}

static dm_result mkres(dm_verdict v, double score, const dm_hit *hits, size_t n)
{
    dm_result r;
    dm_result_init(&r);
    r.verdict = v;
    r.score = score;
    r.hits = (dm_hit *)hits;
    r.nhits = n;
    return r;
}

static const dm_hit ann_hits[] = {
    {"pitch-words", 5, "sales language", -1, 0, 0},
    {"no-history", 2.5, "never talked", -1, 0, 0},
};

/* Ann: every field, hits, facts, history (3 messages, 2 from her), an extra. */
static dm_record *ann(dm_context **ctx)
{
    spec s = {
        .kind = DM_KIND_INVITATION,
        .f = {[DM_FIELD_ID] = "inv-1",
              [DM_FIELD_SOURCE] = "Invitations.csv:2",
              [DM_FIELD_FROM_NAME] = "Ann Lee",
              [DM_FIELD_FROM_HEADLINE] = "CTO at Acme",
              [DM_FIELD_FROM_COMPANY] = "Acme",
              [DM_FIELD_FROM_URL] = "https://www.linkedin.com/in/annlee",
              [DM_FIELD_DIRECTION] = "incoming",
              [DM_FIELD_TO] = "Me Myself",
              [DM_FIELD_SENT_AT] = "2026-02-12T11:44:00",
              [DM_FIELD_SUBJECT] = "Hello",
              [DM_FIELD_MESSAGE] = "Hi \"you\"\nline2"},
        .mutual = 13,
        .facts = DM_FACT_SPINMAIL | DM_FACT_CONNECTED,
        .extras = {"FOLDER", "INBOX"},
    };
    dm_record *r = mkrec(&s);
    assert_int_equal(dm_context_create(ctx), DM_OK);
    const char *url = "https://www.linkedin.com/in/annlee";
    assert_int_equal(dm_context_add_message(*ctx, url, "Ann Lee", 1, "hello"), DM_OK);
    assert_int_equal(dm_context_add_message(*ctx, url, "Ann Lee", 0, "hi"), DM_OK);
    assert_int_equal(dm_context_add_message(*ctx, url, "Ann Lee", 1, "buy"), DM_OK);
    dm_context_attach(*ctx, r);
    assert_non_null(dm_record_history(r));
    return r;
}

/* Bo: a message with a sender name only, no hits. */
static dm_record *bo(void)
{
    spec s = {.kind = DM_KIND_MESSAGE, .f = {[DM_FIELD_FROM_NAME] = "Bo"}};
    return mkrec(&s);
}

#define ANN_JSON                                                                                   \
    "{\"id\":\"inv-1\",\"kind\":\"invitation\",\"source\":\"Invitations.csv:2\","                  \
    "\"verdict\":\"decline\",\"score\":7.5,\"rules\":[{\"name\":\"pitch-words\",\"score\":5,"      \
    "\"describe\":\"sales language\"},{\"name\":\"no-history\",\"score\":2.5,"                     \
    "\"describe\":\"never talked\"}],\"from\":{\"name\":\"Ann Lee\",\"headline\":\"CTO at "        \
    "Acme\",\"company\":\"Acme\",\"url\":\"https://www.linkedin.com/in/annlee\"},"                 \
    "\"direction\":\"incoming\",\"to\":\"Me Myself\",\"sent_at\":\"2026-02-12T11:44:00\","         \
    "\"subject\":\"Hello\",\"message\":\"Hi \\\"you\\\"\\nline2\",\"mutual\":12,"                  \
    "\"facts\":[\"spinmail\",\"connected\"],\"history\":{\"messages\":3,\"incoming\":2,"           \
    "\"weak\":false},\"extra\":{\"FOLDER\":\"INBOX\"}}"

#define BO_JSON                                                                                    \
    "{\"kind\":\"message\",\"verdict\":\"accept\",\"score\":-2.25,\"rules\":[],"                   \
    "\"from\":{\"name\":\"Bo\"}}"

/*
 * run() writes `n` records through a new sink of `fmt` and finishes it with
 * `sum` (NULL: the sink's own counts).  Returns the first failing status.
 */
static dm_status run(dm_format fmt, int width, int color, dm_record **recs, const dm_result *res,
                     size_t n, const dm_summary *sum, capture *out)
{
    dm_sink_opts o = {cap_write, out, color, width};
    dm_sink *s = NULL;
    dm_error err;
    dm_error_clear(&err);
    dm_status st = dm_sink_create(fmt, &o, &s);
    if (st != DM_OK)
        return st;
    for (size_t i = 0; st == DM_OK && i < n; i++)
        st = dm_sink_write(s, recs[i], &res[i], &err);
    if (st == DM_OK)
        st = dm_sink_finish(s, sum, &err);
    dm_sink_free(s);
    return st;
}

/* Ann declined at 7.5, Bo accepted at -2.25. */
typedef struct pair {
    dm_context *ctx;
    dm_record *recs[2];
    dm_result res[2];
} pair;

static void pair_make(pair *p)
{
    p->recs[0] = ann(&p->ctx);
    p->recs[1] = bo();
    p->res[0] = mkres(DM_VERDICT_DECLINE, 7.5, ann_hits, 2);
    p->res[1] = mkres(DM_VERDICT_ACCEPT, -2.25, NULL, 0);
}

static void pair_free(pair *p)
{
    dm_record_free(p->recs[0]);
    dm_record_free(p->recs[1]);
    dm_context_free(p->ctx);
}

/* ---- names and scores ---- */

static void test_format_names(void **state)
{
    (void)state;
    static const char *names[] = {"table", "json", "jsonl", "csv"};
    for (int i = 0; i < DM_FORMAT_COUNT; i++) {
        assert_string_equal(dm_format_name((dm_format)i), names[i]);
        assert_int_equal(dm_format_lookup(names[i]), i);
    }
    assert_null(dm_format_name(DM_FORMAT_COUNT));
    assert_int_equal(dm_format_lookup("JSON"), -1);
    assert_int_equal(dm_format_lookup("yaml"), -1);
    assert_int_equal(dm_format_lookup(""), -1);
    assert_int_equal(dm_format_lookup(NULL), -1);
}

static void test_score_format(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {7.5, "7.5"},
        {3, "3"},
        {-2.25, "-2.25"},
        {0, "0"},
        {-0.0, "0"},
        {-0.001, "0"},
        {0.004, "0"},
        {0.005, "0.01"},
        {1.999, "2"},
        {10, "10"},
        {100.1, "100.1"},
        {-100.05, "-100.05"},
        {0.1, "0.1"},
        {0.07, "0.07"},
        {-7, "-7"},
        {123456.78, "123456.78"},
        {1e15, "1000000000000000"},
        {NAN, "0"},
        {INFINITY, "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[DM_OUT_SCORE_MAX];
        size_t n = dm_out_score(cases[i].v, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

/* ---- jsonl ---- */

static void test_jsonl_exact(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_JSONL, 0, 0, p.recs, p.res, 2, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out), ANN_JSON "\n" BO_JSON "\n");
    cap_free(&out);
    pair_free(&p);
}

/* Each record goes out in one write as it arrives; finish writes nothing. */
static void test_jsonl_streams(void **state)
{
    (void)state;
    dm_record *r = bo();
    dm_result res = mkres(DM_VERDICT_ACCEPT, -2.25, NULL, 0);
    capture out = {0};
    dm_sink_opts o = {cap_write, &out, 0, 0};
    dm_sink *s = NULL;
    assert_int_equal(dm_sink_create(DM_FORMAT_JSONL, &o, &s), DM_OK);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(dm_sink_write(s, r, &res, NULL), DM_OK);
        assert_int_equal(out.calls, i);
        assert_int_equal(count_lines(&out), (size_t)i);
    }
    size_t len = out.len;
    assert_int_equal(dm_sink_finish(s, NULL, NULL), DM_OK);
    assert_int_equal(out.len, len);
    assert_int_equal(out.calls, 5);
    dm_sink_free(s);
    cap_free(&out);
    dm_record_free(r);
}

/* Control characters are escaped, invalid UTF-8 becomes U+FFFD, the rest stays. */
static void test_jsonl_escapes(void **state)
{
    (void)state;
    spec sp = {.kind = DM_KIND_EMAIL,
               .f = {[DM_FIELD_FROM_NAME] = "Z\xC3\xB6\xE6\x97\xA5 \xF0\x9F\x98\x80",
                     [DM_FIELD_MESSAGE] = "a\x01"
                                          "b\xFF"
                                          "c\x1B[0m\t\\/\r\x7F\xC2\x9B\xC2\xA9\xC3"}};
    dm_record *r = mkrec(&sp);
    dm_hit hit = {"x\"y", -1, NULL, -1, 0, 0};
    dm_result res = mkres(DM_VERDICT_REVIEW, 0.5, &hit, 1);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_JSONL, 0, 0, &r, &res, 1, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        "{\"kind\":\"email\",\"verdict\":\"review\",\"score\":0.5,"
                        "\"rules\":[{\"name\":\"x\\\"y\",\"score\":-1}],"
                        "\"from\":{\"name\":\"Z\xC3\xB6\xE6\x97\xA5 \xF0\x9F\x98\x80\"},"
                        "\"message\":\"a\\u0001b\xEF\xBF\xBD"
                        "c\\u001b[0m\\t\\\\/\\r\x7F"
                        "\xC2\x9B\xC2\xA9\xEF\xBF\xBD\"}\n");
    /* and jansson agrees it is JSON */
    json_error_t e;
    json_t *v = json_loads(cap_text(&out), 0, &e);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "message")),
                        "a\x01"
                        "b\xEF\xBF\xBD"
                        "c\x1B[0m\t\\/\r\x7F\xC2\x9B\xC2\xA9\xEF\xBF\xBD");
    json_decref(v);
    cap_free(&out);
    dm_record_free(r);
}

/* Empty strings are present (""), NULs inside a field are escaped, weak history shows. */
static void test_jsonl_edges(void **state)
{
    (void)state;
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    assert_int_equal(dm_record_set(r, DM_FIELD_FROM_NAME, "Nul\0l", 5), DM_OK);
    assert_int_equal(dm_record_set(r, DM_FIELD_MESSAGE, "", 0), DM_OK);
    dm_record_set_mutual(r, 0);
    dm_record_add_facts(r, 0x80000000u); /* no name: not written */
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    /* joined on the name ("Nul" as C sees it): a weak join */
    assert_int_equal(dm_context_add_message(ctx, NULL, "Nul", 1, "x"), DM_OK);
    dm_context_attach(ctx, r);
    dm_result res = mkres(DM_VERDICT_REVIEW, 1e-9, NULL, 0);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_JSONL, 0, 0, &r, &res, 1, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        "{\"kind\":\"invitation\",\"verdict\":\"review\",\"score\":0,"
                        "\"rules\":[],\"from\":{\"name\":\"Nul\\u0000l\"},\"message\":\"\","
                        "\"mutual\":0,\"history\":{\"messages\":1,\"incoming\":1,"
                        "\"weak\":true}}\n");
    cap_free(&out);
    dm_record_free(r);
    dm_context_free(ctx);
}

/* ---- json ---- */

static void test_json_exact(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    capture out = {0};
    dm_summary sum = {.counts = {1, 1, 1}, .total = 3, .skipped = 2, .shown = 2};
    assert_int_equal(run(DM_FORMAT_JSON, 0, 0, p.recs, p.res, 2, &sum, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        "{\"records\": [\n" ANN_JSON ",\n" BO_JSON "\n], \"summary\": "
                        "{\"total\":3,\"accept\":1,\"review\":1,\"decline\":1,\"skipped\":2}}\n");

    json_error_t e;
    json_t *doc = json_loads(cap_text(&out), 0, &e);
    assert_non_null(doc);
    json_t *recs = json_object_get(doc, "records");
    assert_int_equal(json_array_size(recs), 2);
    json_t *a = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(a, "verdict")), "decline");
    assert_true(json_number_value(json_object_get(a, "score")) == 7.5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "from"), "url")),
                        "https://www.linkedin.com/in/annlee");
    json_t *rules = json_object_get(a, "rules");
    assert_int_equal(json_array_size(rules), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 1), "describe")),
                        "never talked");
    json_t *sm = json_object_get(doc, "summary");
    assert_int_equal(json_integer_value(json_object_get(sm, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(sm, "skipped")), 2);
    json_decref(doc);
    cap_free(&out);
    pair_free(&p);
}

static void test_json_empty(void **state)
{
    (void)state;
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_JSON, 0, 0, NULL, NULL, 0, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out), "{\"records\": [], \"summary\": {\"total\":0,\"accept\":0,"
                                        "\"review\":0,\"decline\":0,\"skipped\":0}}\n");
    json_error_t e;
    json_t *doc = json_loads(cap_text(&out), 0, &e);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "records")), 0);
    json_decref(doc);
    cap_free(&out);
}

/* The records stream: each one is written before the next arrives. */
static void test_json_streams(void **state)
{
    (void)state;
    dm_record *r = bo();
    dm_result res = mkres(DM_VERDICT_ACCEPT, -2.25, NULL, 0);
    capture out = {0};
    dm_sink_opts o = {cap_write, &out, 0, 0};
    dm_sink *s = NULL;
    assert_int_equal(dm_sink_create(DM_FORMAT_JSON, &o, &s), DM_OK);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(dm_sink_write(s, r, &res, NULL), DM_OK);
        assert_int_equal(out.calls, i);
    }
    assert_string_equal(cap_text(&out), "{\"records\": [\n" BO_JSON ",\n" BO_JSON ",\n" BO_JSON);
    assert_int_equal(dm_sink_finish(s, NULL, NULL), DM_OK);
    json_error_t e;
    json_t *doc = json_loads(cap_text(&out), 0, &e);
    assert_non_null(doc);
    json_t *sm = json_object_get(doc, "summary");
    assert_int_equal(json_integer_value(json_object_get(sm, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(sm, "accept")), 3);
    json_decref(doc);
    dm_sink_free(s);
    cap_free(&out);
    dm_record_free(r);
}

/* ---- csv ---- */

#define CSV_HEAD                                                                                   \
    "id,kind,source,verdict,score,from_name,from_url,from_headline,from_company,sent_at,"          \
    "message,rules\r\n"

static void test_csv_exact(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_CSV, 0, 0, p.recs, p.res, 2, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        CSV_HEAD "inv-1,invitation,Invitations.csv:2,decline,7.5,Ann Lee,"
                                 "https://www.linkedin.com/in/annlee,CTO at Acme,Acme,"
                                 "2026-02-12T11:44:00,\"Hi \"\"you\"\"\nline2\","
                                 "pitch-words;no-history\r\n"
                                 ",message,,accept,-2.25,Bo,,,,,,\r\n");
    cap_free(&out);
    pair_free(&p);
}

/*
 * Quoting: comma, quote, CR, LF; invalid UTF-8 replaced; control characters
 * but TAB, CR and LF become '?'; a rule name with a comma.
 */
static void test_csv_quoting(void **state)
{
    (void)state;
    static const struct {
        const char *name, *want;
    } cases[] = {
        {"plain", "plain"},
        {"Lee, Ann", "\"Lee, Ann\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"cr\rhere", "\"cr\rhere\""},
        {"lf\n", "\"lf\n\""},
        {" spaced ", " spaced "},
        {"semi;colon", "semi;colon"},
        {"bad\xFFutf8", "bad\xEF\xBF\xBDutf8"},
        {"\"bad\xC3\"", "\"\"\"bad\xEF\xBF\xBD\"\"\""},
        {"esc\x1B[31m bel\x07 del\x7F tab\t", "esc?[31m bel? del? tab\t"},
        {"c1\xC2\x9B copy\xC2\xA9 \\", "c1? copy\xC2\xA9 \\"},
        {"nul-free\x01\"", "\"nul-free?\"\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spec sp = {.f = {[DM_FIELD_FROM_NAME] = cases[i].name}};
        dm_record *r = mkrec(&sp);
        dm_hit hits[] = {{"a,b", 1, NULL, -1, 0, 0}, {"c", 2, NULL, -1, 0, 0}};
        dm_result res = mkres(DM_VERDICT_REVIEW, 3, hits, 2);
        capture out = {0};
        assert_int_equal(run(DM_FORMAT_CSV, 0, 0, &r, &res, 1, NULL, &out), DM_OK);
        char want[256];
        snprintf(want, sizeof want, CSV_HEAD ",invitation,,review,3,%s,,,,,,\"a,b;c\"\r\n",
                 cases[i].want);
        assert_string_equal(cap_text(&out), want);
        cap_free(&out);
        dm_record_free(r);
    }
}

static void test_csv_empty(void **state)
{
    (void)state;
    capture out = {0};
    dm_summary sum = {.total = 4, .counts = {4, 0, 0}, .shown = 0, .skipped = 1};
    assert_int_equal(run(DM_FORMAT_CSV, 0, 0, NULL, NULL, 0, &sum, &out), DM_OK);
    assert_string_equal(cap_text(&out), CSV_HEAD);
    cap_free(&out);
}

/* ---- table ---- */

/*
 * At width 60: VERDICT 7 + SCORE 6 + 4 gaps of 2 leave 39 columns; FROM and
 * WHY get at most 30% (11) each: FROM is 7 ("Ann Lee"), WHY 11 (cut), NOTE 21.
 */
#define TABLE_HEAD "VERDICT   SCORE  FROM     WHY          NOTE\n"
#define TABLE_ANN "decline     7.5  Ann Lee  pitch-word\xE2\x80\xA6  Hi \"you\" line2\n"
#define TABLE_BO "accept    -2.25  Bo       -            (no note)\n"

static void test_table_exact(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_TABLE, 60, 0, p.recs, p.res, 2, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        TABLE_HEAD TABLE_ANN TABLE_BO "2 records: 1 accept, 0 review, 1 decline\n");
    cap_free(&out);
    pair_free(&p);
}

static void test_table_color(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    capture out = {0};
    dm_summary sum = {.counts = {1, 0, 1}, .total = 2, .shown = 2};
    assert_int_equal(run(DM_FORMAT_TABLE, 60, 1, p.recs, p.res, 2, &sum, &out), DM_OK);
    assert_string_equal(cap_text(&out), TABLE_HEAD
                        "\033[31mdecline\033[0m     7.5  Ann Lee  pitch-word\xE2\x80\xA6  "
                        "Hi \"you\" line2\n"
                        "\033[32maccept\033[0m    -2.25  Bo       -            (no note)\n"
                        "2 records: 1 accept, 0 review, 1 decline\n");
    cap_free(&out);

    /* review is yellow */
    dm_result res = mkres(DM_VERDICT_REVIEW, 1, NULL, 0);
    assert_int_equal(run(DM_FORMAT_TABLE, 60, 1, &p.recs[1], &res, 1, NULL, &out), DM_OK);
    assert_non_null(strstr(cap_text(&out), "\033[33mreview\033[0m "));
    cap_free(&out);
    pair_free(&p);
}

/* The default width is 100: FROM and WHY at their natural widths, NOTE the rest. */
static void test_table_default_width(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_TABLE, 0, 0, p.recs, p.res, 2, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        "VERDICT   SCORE  FROM     WHY                      NOTE\n"
                        "decline     7.5  Ann Lee  pitch-words, no-history  Hi \"you\" line2\n"
                        "accept    -2.25  Bo       -                        (no note)\n"
                        "2 records: 1 accept, 0 review, 1 decline\n");
    cap_free(&out);
    pair_free(&p);
}

/*
 * Width 40 leaves 19 columns: FROM at most 5, WHY 3 ("-"), NOTE 11.  Cuts
 * fall between code points, never inside one, and a space before the cut
 * is dropped.
 */
static void test_table_utf8_truncation(void **state)
{
    (void)state;
    static const struct {
        const char *name, *note, *want;
    } cases[] = {
        {"\xC3\x85ngstr\xC3\xB6m", /* Ångström: 8 code points */
         "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\xA1\xE3\x83\x83\xE3\x82\xBB"
         "\xE3\x83\xBC\xE3\x82\xB8\xE3\x81\xA7\xE3\x81\x99", /* 日本語のメッセージです: 11 */
         "review        1  \xC3\x85ngs\xE2\x80\xA6  -    "
         "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\xA1\xE3\x83\x83\xE3\x82\xBB"
         "\xE3\x83\xBC\xE3\x82\xB8\xE3\x81\xA7\xE3\x81\x99\n"},
        {"Abc Defgh",
         "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
         "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
         "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80",
         "review        1  Abc\xE2\x80\xA6   -    "
         "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
         "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
         "\xE2\x80\xA6\n"},
        {"Jo", "a  b\n\n c", "review        1  Jo    -    a b c\n"},
        {"", "   ", "review        1  -     -    (no note)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spec sp = {.f = {[DM_FIELD_FROM_NAME] = cases[i].name, [DM_FIELD_MESSAGE] = cases[i].note}};
        dm_record *r = mkrec(&sp);
        dm_result res = mkres(DM_VERDICT_REVIEW, 1, NULL, 0);
        capture out = {0};
        assert_int_equal(run(DM_FORMAT_TABLE, 40, 0, &r, &res, 1, NULL, &out), DM_OK);
        const char *text = cap_text(&out);
        assert_int_equal(dm_utf8_check(text, out.len), out.len);
        const char *row = strchr(text, '\n') + 1;
        const char *end = strstr(row, "1 record: ");
        assert_non_null(end);
        assert_int_equal((size_t)(end - row), strlen(cases[i].want));
        assert_memory_equal(row, cases[i].want, strlen(cases[i].want));
        cap_free(&out);
        dm_record_free(r);
    }
}

/* FROM falls back to the URL, then "-"; rule names join with ", ". */
static void test_table_fallbacks(void **state)
{
    (void)state;
    spec sp = {.f = {[DM_FIELD_FROM_URL] = "https://x.example/in/u", [DM_FIELD_MESSAGE] = ""}};
    dm_record *r = mkrec(&sp);
    dm_hit hits[] = {{"a", 1, NULL, -1, 0, 0}, {"b", 1, NULL, -1, 0, 0}, {"c", 1, NULL, -1, 0, 0}};
    dm_result res = mkres(DM_VERDICT_DECLINE, 3, hits, 3);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_TABLE, 100, 0, &r, &res, 1, NULL, &out), DM_OK);
    assert_string_equal(cap_text(&out),
                        "VERDICT   SCORE  FROM                    WHY      NOTE\n"
                        "decline       3  https://x.example/in/u  a, b, c  (no note)\n"
                        "1 record: 0 accept, 0 review, 1 decline\n");
    cap_free(&out);
    dm_record_free(r);
}

/* Nothing a terminal acts on gets through: C0, ESC, DEL, C1, bidi overrides. */
static void test_table_control_chars(void **state)
{
    (void)state;
    spec sp = {.f = {[DM_FIELD_FROM_NAME] = "Eve\x1B[31mRed\x1B]0;pwn\x07",
                     [DM_FIELD_MESSAGE] = "a\r\nb\tc\x07"
                                          "d\x7F"
                                          "e\xC2\x9B"
                                          "f\xE2\x80\xAE"
                                          "g\xFFh\xE2\x80\xA8i\x00j"}};
    dm_record *r = mkrec(&sp);
    dm_hit hit = {"rule\x1B[2J", 1, NULL, -1, 0, 0};
    dm_result res = mkres(DM_VERDICT_DECLINE, 9, &hit, 1);
    capture out = {0};
    assert_int_equal(run(DM_FORMAT_TABLE, 100, 0, &r, &res, 1, NULL, &out), DM_OK);
    assert_string_equal(
        cap_text(&out),
        "VERDICT   SCORE  FROM"
        "                 "
        "WHY"
        "       "
        "NOTE\n"
        "decline       9  Eve?[31mRed?]0;pwn?  rule?[2J  a b c?d?e?f?g\xEF\xBF\xBDh i\n"
        "1 record: 0 accept, 0 review, 1 decline\n");
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        assert_true(c == '\n' || (c >= 0x20 && c != 0x7F));
    }
    cap_free(&out);

    /* with colour on, the only escapes are the sink's own */
    assert_int_equal(run(DM_FORMAT_TABLE, 100, 1, &r, &res, 1, NULL, &out), DM_OK);
    size_t esc = 0;
    for (size_t i = 0; i < out.len; i++)
        esc += out.data[i] == '\033';
    assert_int_equal(esc, 2);
    cap_free(&out);
    dm_record_free(r);
}

static void test_table_summary(void **state)
{
    (void)state;
    static const struct {
        dm_summary sum;
        const char *want;
    } cases[] = {
        {{{5, 4, 3}, 12, 0, 12}, "12 records: 5 accept, 4 review, 3 decline\n"},
        {{{5, 4, 3}, 12, 2, 12}, "12 records: 5 accept, 4 review, 3 decline, 2 skipped\n"},
        {{{5, 4, 3}, 12, 2, 3}, "12 records: 5 accept, 4 review, 3 decline, 2 skipped, 3 shown\n"},
        {{{0, 0, 1}, 1, 0, 0}, "1 record: 0 accept, 0 review, 1 decline, 0 shown\n"},
        {{{0, 0, 0}, 0, 0, 0}, "0 records: 0 accept, 0 review, 0 decline\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capture out = {0};
        assert_int_equal(run(DM_FORMAT_TABLE, 0, 0, NULL, NULL, 0, &cases[i].sum, &out), DM_OK);
        assert_string_equal(cap_text(&out), cases[i].want); /* no header without rows */
        cap_free(&out);
    }
}

/*
 * The first 1000 rows are held to measure FROM; after that each row goes
 * out as it comes, with the widths already fixed.
 */
static void test_table_streams_after_1000(void **state)
{
    (void)state;
    capture out = {0};
    dm_sink_opts o = {cap_write, &out, 0, 0};
    dm_sink *s = NULL;
    dm_result res = mkres(DM_VERDICT_ACCEPT, 0, NULL, 0);
    assert_int_equal(dm_sink_create(DM_FORMAT_TABLE, &o, &s), DM_OK);
    for (int i = 0; i < 1003; i++) {
        char name[32];
        snprintf(name, sizeof name, i < 1000 ? "P%d" : "Longer name %d", i);
        spec sp = {.f = {[DM_FIELD_FROM_NAME] = name, [DM_FIELD_MESSAGE] = "n"}};
        dm_record *r = mkrec(&sp);
        assert_int_equal(dm_sink_write(s, r, &res, NULL), DM_OK);
        dm_record_free(r);
        if (i < 999)
            assert_int_equal(out.len, 0);
        else
            assert_int_equal(count_lines(&out), (size_t)i + 2); /* header + rows */
    }
    const char *text = cap_text(&out);
    assert_non_null(strstr(text, "\naccept        0  P999  -    n\n"));
    assert_non_null(strstr(text, "\naccept        0  Lon\xE2\x80\xA6  -    n\n"));
    assert_int_equal(dm_sink_finish(s, NULL, NULL), DM_OK);
    assert_int_equal(count_lines(&out), 1005);
    assert_non_null(strstr(cap_text(&out), "\n1003 records: 1003 accept, 0 review, 0 decline\n"));
    dm_sink_free(s);
    cap_free(&out);
}

/* ---- errors ---- */

static void assert_error(const dm_error *e, dm_status code, const char *text)
{
    assert_int_equal(e->code, code);
    assert_int_equal(e->line, 0);
    assert_int_equal(e->column, 0);
    assert_string_equal(e->source, "");
    assert_string_equal(e->text, text);
}

/* A failing write callback is DM_EIO, then and for every later call. */
static void test_write_errors(void **state)
{
    (void)state;
    static const struct {
        dm_format fmt;
        int fail_at;
        int fails_in_write; /* else in finish */
        const char *text;
    } cases[] = {
        {DM_FORMAT_JSONL, 1, 1, "cannot write the jsonl output: the write callback failed"},
        {DM_FORMAT_JSONL, 2, 1, "cannot write the jsonl output: the write callback failed"},
        {DM_FORMAT_JSON, 2, 1, "cannot write the json output: the write callback failed"},
        {DM_FORMAT_JSON, 3, 0, "cannot write the json output: the write callback failed"},
        {DM_FORMAT_CSV, 1, 1, "cannot write the csv output: the write callback failed"},
        {DM_FORMAT_TABLE, 1, 0, "cannot write the table output: the write callback failed"},
        {DM_FORMAT_TABLE, 4, 0, "cannot write the table output: the write callback failed"},
    };
    pair p;
    pair_make(&p);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capture out = {.fail_at = cases[i].fail_at};
        dm_sink_opts o = {cap_write, &out, 0, 0};
        dm_sink *s = NULL;
        dm_error err;
        dm_error_clear(&err);
        assert_int_equal(dm_sink_create(cases[i].fmt, &o, &s), DM_OK);
        dm_status st = DM_OK;
        for (int k = 0; st == DM_OK && k < 2; k++)
            st = dm_sink_write(s, p.recs[k], &p.res[k], &err);
        if (st == DM_OK) {
            assert_false(cases[i].fails_in_write);
            st = dm_sink_finish(s, NULL, &err);
        } else {
            assert_true(cases[i].fails_in_write);
            /* every later call fails at once, without writing */
            int calls = out.calls;
            dm_error again;
            dm_error_clear(&again);
            char want[DM_ERROR_TEXT_MAX];
            snprintf(want, sizeof want, "cannot write the %s output: an earlier write failed",
                     dm_format_name(cases[i].fmt));
            assert_int_equal(dm_sink_write(s, p.recs[0], &p.res[0], &again), DM_EIO);
            assert_error(&again, DM_EIO, want);
            assert_int_equal(out.calls, calls);
        }
        assert_int_equal(st, DM_EIO);
        assert_error(&err, DM_EIO, cases[i].text);
        dm_sink_free(s);
        cap_free(&out);
    }
    pair_free(&p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    capture out = {0};
    dm_sink_opts o = {cap_write, &out, 0, 0};
    dm_sink_opts nowrite = {NULL, NULL, 0, 0};
    dm_sink *s = NULL;
    assert_int_equal(dm_sink_create(DM_FORMAT_COUNT, &o, &s), DM_EINVAL);
    assert_int_equal(dm_sink_create((dm_format)-1, &o, &s), DM_EINVAL);
    assert_int_equal(dm_sink_create(DM_FORMAT_JSON, NULL, &s), DM_EINVAL);
    assert_int_equal(dm_sink_create(DM_FORMAT_JSON, &nowrite, &s), DM_EINVAL);
    assert_null(s);
    dm_sink_free(NULL);

    dm_record *r = bo();
    dm_result bad = mkres((dm_verdict)7, 0, NULL, 0);
    dm_result nohits = mkres(DM_VERDICT_ACCEPT, 0, NULL, 2);
    dm_result ok = mkres(DM_VERDICT_ACCEPT, 0, NULL, 0);
    dm_error err;
    assert_int_equal(dm_sink_create(DM_FORMAT_JSONL, &o, &s), DM_OK);
    dm_error_clear(&err);
    assert_int_equal(dm_sink_write(s, r, &bad, &err), DM_EINVAL);
    assert_error(&err, DM_EINVAL, "dm_sink_write: bad argument");
    assert_int_equal(dm_sink_write(s, r, &nohits, NULL), DM_EINVAL);
    assert_int_equal(dm_sink_write(s, NULL, &ok, NULL), DM_EINVAL);
    assert_int_equal(dm_sink_write(NULL, r, &ok, NULL), DM_EINVAL);
    dm_record_set_kind(r, DM_KIND_COUNT);
    assert_int_equal(dm_sink_write(s, r, &ok, NULL), DM_EINVAL);
    dm_record_set_kind(r, DM_KIND_MESSAGE);
    assert_int_equal(out.len, 0);

    assert_int_equal(dm_sink_finish(s, NULL, NULL), DM_OK);
    dm_error_clear(&err);
    assert_int_equal(dm_sink_write(s, r, &ok, &err), DM_EINVAL);
    assert_error(&err, DM_EINVAL, "dm_sink_write: sink already finished");
    assert_int_equal(dm_sink_finish(s, NULL, NULL), DM_EINVAL);
    assert_int_equal(dm_sink_finish(NULL, NULL, NULL), DM_EINVAL);
    dm_sink_free(s);
    cap_free(&out);
    dm_record_free(r);
}

/* ---- failing allocations ---- */

static long alloc_left; /* allocations until one fails; < 0 = never */

static void *chaos_malloc(size_t n)
{
    if (alloc_left >= 0 && alloc_left-- == 0)
        return NULL;
    return malloc(n);
}

static void *chaos_realloc(void *p, size_t n)
{
    if (alloc_left >= 0 && alloc_left-- == 0)
        return NULL;
    return realloc(p, n);
}

/* Failing the Nth allocation gives DM_ENOMEM, never a crash or a leak. */
static void test_alloc_failures(void **state)
{
    (void)state;
    pair p;
    pair_make(&p);
    for (int fmt = 0; fmt < DM_FORMAT_COUNT; fmt++) {
        int succeeded = 0;
        for (long n = 0; n < 200 && !succeeded; n++) {
            capture out = {0};
            alloc_left = n;
            dm_set_alloc_funcs(chaos_malloc, chaos_realloc, free);
            dm_status st = run((dm_format)fmt, 60, 0, p.recs, p.res, 2, NULL, &out);
            dm_set_alloc_funcs(NULL, NULL, NULL);
            assert_true(st == DM_OK || st == DM_ENOMEM);
            succeeded = st == DM_OK;
            cap_free(&out);
        }
        assert_true(succeeded);
    }
    pair_free(&p);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_score_format),
        cmocka_unit_test(test_jsonl_exact),
        cmocka_unit_test(test_jsonl_streams),
        cmocka_unit_test(test_jsonl_escapes),
        cmocka_unit_test(test_jsonl_edges),
        cmocka_unit_test(test_json_exact),
        cmocka_unit_test(test_json_empty),
        cmocka_unit_test(test_json_streams),
        cmocka_unit_test(test_csv_exact),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_empty),
        cmocka_unit_test(test_table_exact),
        cmocka_unit_test(test_table_color),
        cmocka_unit_test(test_table_default_width),
        cmocka_unit_test(test_table_utf8_truncation),
        cmocka_unit_test(test_table_fallbacks),
        cmocka_unit_test(test_table_control_chars),
        cmocka_unit_test(test_table_summary),
        cmocka_unit_test(test_table_streams_after_1000),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_alloc_failures),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
