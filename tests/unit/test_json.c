/*
 * test_json.c: the JSON / JSONL reader (src/ingest/json.h): detection,
 * records, defaults, every error's code, line, column, source and text,
 * recovery after a bad record, and the round trip from the json sinks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "doorman.h"
#include "ingest/json.h"

/* ---- input from memory, `step` bytes a read at most ---- */

typedef struct memin {
    const char *p;
    size_t len, pos, step;
    long fail_after;   /* fail the read that would go past this many bytes; < 0 = never */
    int fail_silently; /* fail without filling err */
} memin;

static long mem_read(void *ud, char *buf, size_t n, dm_error *err)
{
    memin *m = ud;
    if (m->fail_after >= 0 && m->pos >= (size_t)m->fail_after) {
        if (!m->fail_silently)
            dm_error_set(err, DM_EIO, NULL, 0, 0, "boom");
        return -1;
    }
    size_t k = m->len - m->pos;
    if (k > n)
        k = n;
    if (m->step && k > m->step)
        k = m->step;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

static void mem_input(dm_input *in, memin *m, const char *p, size_t len, size_t step,
                      const char *name)
{
    memset(m, 0, sizeof *m);
    m->p = p;
    m->len = len;
    m->step = step;
    m->fail_after = -1;
    in->read = mem_read;
    in->ud = m;
    in->name = name;
}

static void assert_err(const dm_error *e, dm_status code, const char *source, int line, int column,
                       const char *text)
{
    assert_int_equal(e->code, code);
    assert_string_equal(e->source, source);
    assert_int_equal(e->line, line);
    assert_int_equal(e->column, column);
    assert_string_equal(e->text, text);
}

static const char *get(const dm_record *r, dm_field f)
{
    const char *v = dm_record_get(r, f);
    return v ? v : "(missing)";
}

/* ---- data-driven: an input and what each dm_json_next() call gives ---- */

typedef struct want {
    dm_status st;
    int line, column;
    const char *text;   /* an error's text; for DM_OK the record's id */
    const char *source; /* DM_OK: the record's source, when checked */
} want;

typedef struct jcase {
    const char *name;
    const char *input;
    size_t max_record;
    want open;    /* what dm_json_open() says: DM_OK or an error */
    want next[8]; /* then each call, up to DM_END */
} jcase;

/* clang-format off */
#define REC(id) {DM_OK, 0, 0, id, NULL}
#define REC_AT(id, src) {DM_OK, 0, 0, id, src}
#define END {DM_END, 0, 0, NULL, NULL}
#define ERR(st, line, column, text) {st, line, column, text, NULL}
#define OPEN_OK {DM_OK, 0, 0, NULL, NULL}
/* clang-format on */

static const jcase cases[] = {
    {"jsonl-kind",
     "{\"id\":\"a\"}\n{\"kind\":\"robot\"}\n{\"id\":\"c\"}\n",
     0,
     OPEN_OK,
     {REC_AT("a", "t:1"),
      ERR(DM_EFORMAT, 2, 0, "\"kind\" must be \"invitation\", \"message\" or \"email\""),
      REC_AT("c", "t:3"), END}},
    {"jsonl-type",
     "{\"id\":\"a\"}\n{\"message\":5}\n{\"from\":{\"url\":true}}\n",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_EFORMAT, 2, 0, "\"message\" must be a string"),
      ERR(DM_EFORMAT, 3, 0, "\"from.url\" must be a string"), END}},
    {"jsonl-types",
     "{\"from\":\"Ann\"}\n{\"mutual\":-1}\n{\"mutual\":\"3\"}\n{\"mutual\":2.5}\n"
     "{\"facts\":\"html\"}\n{\"facts\":[\"html\",\"psychic\"]}\n{\"extra\":[]}\n",
     0,
     OPEN_OK,
     {ERR(DM_EFORMAT, 1, 0, "\"from\" must be an object"),
      ERR(DM_EFORMAT, 2, 0, "\"mutual\" must be a whole number, 0 or more"),
      ERR(DM_EFORMAT, 3, 0, "\"mutual\" must be a whole number, 0 or more"),
      ERR(DM_EFORMAT, 4, 0, "\"mutual\" must be a whole number, 0 or more"),
      ERR(DM_EFORMAT, 5, 0, "\"facts\" must be an array"),
      ERR(DM_EFORMAT, 6, 0, "\"facts\" holds something that is not a known fact"),
      ERR(DM_EFORMAT, 7, 0, "\"extra\" must be an object"), END}},
    {"jsonl-utf8",
     "{\"id\":\"a\"}\n{\"id\":\"b\xFF\"}\n{\"id\":\"\xC3\xA9\xC3\"}\n{\"id\":\"c\"}",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_EUTF8, 2, 9, "invalid UTF-8"), ERR(DM_EUTF8, 3, 9, "invalid UTF-8"),
      REC_AT("c", "t:4"), END}},
    {"jsonl-syntax",
     "{\"id\":\"a\"}\n{\"id\": }\n{\"id\":\"b\"} {}\n[1]\n\"s\"\n{\"id\":\"c\"}\n",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_ESYNTAX, 2, 8, "unexpected token near '}'"),
      ERR(DM_ESYNTAX, 3, 12, "end of file expected near '{'"),
      ERR(DM_EFORMAT, 4, 0, "a record must be a JSON object"),
      ERR(DM_ESYNTAX, 5, 3, "'[' or '{' expected near '\"s\"'"), REC("c"), END}},
    {"jsonl-broken-first-line",
     "{\"id\": }\n{\"id\":\"b\"}\n",
     0,
     OPEN_OK,
     {ERR(DM_ESYNTAX, 1, 8, "unexpected token near '}'"), REC_AT("b", "t:2"), END}},
    {"jsonl-too-large",
     "{\"id\":\"a\"}\n{\"id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n"
     "{\"id\":\"c\"}\n{\"id\":\"yyyyyyyyyyyyyy\"}",
     20,
     OPEN_OK,
     {REC("a"), ERR(DM_ETOOLARGE, 2, 0, "the line is over 20 bytes"), REC_AT("c", "t:3"),
      ERR(DM_ETOOLARGE, 4, 0, "the line is over 20 bytes"), END}},
    {"jsonl-first-line-too-large",
     "{\"id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"id\":\"b\"}\n",
     20,
     OPEN_OK,
     {ERR(DM_ETOOLARGE, 1, 0, "the line is over 20 bytes"), REC_AT("b", "t:2"), END}},
    {"jsonl-long-first-line-after-blanks",
     "\n \n{\"id\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\r\n{\"id\":\"b\"}",
     20,
     OPEN_OK,
     {ERR(DM_ETOOLARGE, 3, 0, "the line is over 20 bytes"), REC_AT("b", "t:4"), END}},
    {"jsonl-long-broken-first-line",
     "{\"id\": xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}\n{\"id\":\"b\"}\n",
     20,
     OPEN_OK,
     {ERR(DM_ETOOLARGE, 1, 0, "the line is over 20 bytes"), REC_AT("b", "t:2"), END}},
    {"jsonl-exactly-max",
     "{\"id\":\"abcdefghijklm\"}\r\n",
     22,
     OPEN_OK,
     {REC("abcdefghijklm"), END}},
    {"jsonl-blank-crlf-bom",
     "\xEF\xBB\xBF{\"id\":\"a\"}\r\n\r\n \t \n{\"id\":\"b\"}\r\n",
     0,
     OPEN_OK,
     {REC_AT("a", "t:1"), REC_AT("b", "t:4"), END}},
    {"jsonl-leading-blank-lines",
     "\n\n  \n{\"id\":\"a\"}\n",
     0,
     OPEN_OK,
     {REC_AT("a", "t:4"), END}},
    {"empty", "", 0, OPEN_OK, {END, END}},
    {"whitespace", "  \n\r\n\t", 0, OPEN_OK, {END}},
    {"array",
     "[\n  {\"id\":\"a\"},\n  5,\n  {\"id\":\"c\", \"mutual\": -1},\n  {\"id\":\"d\"}\n]\n",
     0,
     OPEN_OK,
     {REC_AT("a", "t#0"), ERR(DM_EFORMAT, 3, 0, "a record must be a JSON object"),
      ERR(DM_EFORMAT, 4, 0, "\"mutual\" must be a whole number, 0 or more"), REC_AT("d", "t#3"),
      END, END}},
    {"array-empty", " [ ] ", 0, OPEN_OK, {END}},
    {"array-syntax",
     "[\n {\"id\":\"a\"},\n {\"id\": x}\n,{\"id\":\"c\"}]",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_ESYNTAX, 3, 9, "invalid token near 'x'"), END}},
    {"array-comma",
     "[{\"id\":\"a\"} {\"id\":\"b\"}]",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_ESYNTAX, 1, 13, "',' or ']' expected"), END}},
    {"array-unterminated",
     "[{\"id\":\"a\"},\n",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_ESYNTAX, 2, 0, "unexpected token near end of file"), END}},
    {"array-trailing",
     "[{\"id\":\"a\"}] x",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_ESYNTAX, 1, 14, "end of file expected"), END}},
    {"array-record-too-large",
     "[{\"id\":\"a\"},\n{\"id\":\"bbbbbbbbbbbbbbbbbbbb\"},\n{\"id\":\"c\"}]",
     16,
     OPEN_OK,
     {REC("a"), ERR(DM_ETOOLARGE, 2, 0, "the record is over 16 bytes"), REC_AT("c", "t#2"), END}},
    {"document", /* as the json sink writes it, with a member before "records" */
     "{\"version\": 1, \"records\": [\n{\"id\":\"a\",\"verdict\":\"accept\",\"score\":1,"
     "\"rules\":[],\"history\":{\"messages\":2}},\n{\"id\":\"b\"}\n], \"summary\": "
     "{\"total\":2,\"accept\":2,\"review\":0,\"decline\":0,\"skipped\":0}}\n",
     0,
     OPEN_OK,
     {REC_AT("a", "t#0"), REC_AT("b", "t#1"), END}},
    {"document-one-line",
     "{\"records\":[{\"id\":\"a\"},{\"id\":\"b\"}]}",
     0,
     OPEN_OK,
     {REC_AT("a", "t#0"), REC_AT("b", "t#1"), END}},
    {"document-one-line-over-max-record",
     "{\"records\":[{\"id\":\"a\"},{\"id\":\"b\"}]}",
     12,
     OPEN_OK,
     {REC_AT("a", "t#0"), REC_AT("b", "t#1"), END}},
    {"document-one-line-records-last",
     "{\"summary\":{\"total\":2},\"records\":[{\"id\":\"a\"}]}",
     12,
     OPEN_OK,
     {REC_AT("a", "t#0"), END}},
    {"document-no-records",
     "{\n\"a\": [1, {\"b\": \"]\"}]\n}",
     0,
     OPEN_OK,
     {ERR(DM_EFORMAT, 3, 1, "the object has no \"records\" array"), END}},
    {"document-records-not-array",
     "{\n\"records\": 5}",
     0,
     OPEN_OK,
     {ERR(DM_EFORMAT, 2, 12, "\"records\" must be an array"), END}},
    {"document-bad-member",
     "{\n\"records\": [{\"id\":\"a\"}], 5: 1}",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_ESYNTAX, 2, 26, "string or '}' expected"), END}},
    {"document-bad-key",
     "{\n\"x\" 1, \"records\": []}",
     0,
     OPEN_OK,
     {ERR(DM_ESYNTAX, 2, 5, "':' expected"), END}},
    {"document-scalar",
     "5",
     0,
     OPEN_OK,
     {ERR(DM_EFORMAT, 1, 1, "expected an array of records or an object with \"records\""), END}},
    {"document-utf8",
     "[\n{\"id\":\"a\"},\n{\"id\":\"\xC3\xA9\xFF\"}, {\"id\":\"c\"}]",
     0,
     OPEN_OK,
     {REC("a"), ERR(DM_EUTF8, 3, 9, "invalid UTF-8"), END}},
    {"document-utf8-key",
     "{\"records\": [],\n\"\xE0\x80\": 1}",
     0,
     OPEN_OK,
     {ERR(DM_EUTF8, 2, 2, "invalid UTF-8"), END}},
    {"document-too-large",
     "[                                                                "
     "                                                                "
     "                                                                "
     "                                                                "
     "  ]",
     4,
     ERR(DM_ETOOLARGE, 0, 0, "the JSON document is over 256 bytes"),
     {END}},
};

/* run_case() reads `c` with reads of `step` bytes and checks every outcome. */
static void run_case(const jcase *c, size_t step)
{
    dm_input in;
    memin m;
    mem_input(&in, &m, c->input, strlen(c->input), step, "t");
    dm_jsonsrc *j = NULL;
    dm_error err;
    dm_error_clear(&err);
    dm_status st = dm_json_open(&in, c->max_record, &j, &err);
    if (st != c->open.st || (st != DM_OK && err.line != c->open.line))
        fail_msg("%s (step %zu): open gave %d line %d", c->name, step, st, err.line);
    if (st != DM_OK) {
        assert_err(&err, c->open.st, "t", c->open.line, c->open.column, c->open.text);
        assert_null(j);
        return;
    }
    dm_record *rec = NULL;
    assert_int_equal(dm_record_create(&rec), DM_OK);
    for (size_t i = 0; i < sizeof c->next / sizeof c->next[0]; i++) {
        const want *w = &c->next[i];
        if (i > 0 && w->st == DM_OK && !w->text)
            break; /* the rest of the list is empty */
        dm_error_clear(&err);
        st = dm_json_next(j, rec, &err);
        if (st != w->st)
            fail_msg("%s (step %zu): call %zu gave %s (%s, line %d), want %s", c->name, step, i + 1,
                     dm_strerror(st), err.text, err.line, dm_strerror(w->st));
        if (st == DM_OK) {
            assert_string_equal(get(rec, DM_FIELD_ID), w->text);
            if (w->source)
                assert_string_equal(get(rec, DM_FIELD_SOURCE), w->source);
        } else if (st != DM_END) {
            assert_err(&err, w->st, "t", w->line, w->column, w->text);
        } else {
            assert_int_equal(err.code, DM_OK);
        }
    }
    dm_record_free(rec);
    dm_json_free(j);
}

static void test_cases(void **state)
{
    (void)state;
    static const size_t steps[] = {0, 1, 3, 7};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
            run_case(&cases[i], steps[k]);
}

/* ---- records ---- */

static dm_jsonsrc *open_str(const char *s, dm_input *in, memin *m)
{
    mem_input(in, m, s, strlen(s), 0, "t.jsonl");
    dm_jsonsrc *j = NULL;
    assert_int_equal(dm_json_open(in, 0, &j, NULL), DM_OK);
    return j;
}

static void assert_extra(const dm_record *r, size_t i, const char *name, const char *value)
{
    const char *n, *v;
    dm_record_extra(r, i, &n, &v);
    assert_non_null(n);
    assert_string_equal(n, name);
    assert_string_equal(v, value);
}

static void test_record_fields(void **state)
{
    (void)state;
    const char *line =
        "{\"kind\":\"message\",\"id\":\"m1\",\"from\":{\"name\":\"A\",\"headline\":\"H\","
        "\"company\":\"C\",\"url\":\"U\",\"nick\":\"x\",\"age\":null},\"to\":\"T\","
        "\"direction\":\"incoming\",\"sent_at\":\"S\",\"subject\":\"Sub\",\"message\":\"M\\n\","
        "\"source\":\"src\",\"mutual\":3,\"facts\":[\"spinmail\",\"html\"],"
        "\"extra\":{\"FOLDER\":\"INBOX\",\"n\":5,\"e\":\"\"},\"custom\":\"v\","
        "\"obj\":{\"a\":[1, 2.5,true]},\"verdict\":\"accept\",\"score\":1,\"rules\":[],"
        "\"history\":{\"messages\":1},\"nothing\":null}\n";
    dm_input in;
    memin m;
    dm_jsonsrc *j = open_str(line, &in, &m);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    assert_int_equal(dm_json_next(j, r, NULL), DM_OK);
    assert_int_equal(dm_record_kind(r), DM_KIND_MESSAGE);
    assert_string_equal(get(r, DM_FIELD_ID), "m1");
    assert_string_equal(get(r, DM_FIELD_FROM_NAME), "A");
    assert_string_equal(get(r, DM_FIELD_FROM_HEADLINE), "H");
    assert_string_equal(get(r, DM_FIELD_FROM_COMPANY), "C");
    assert_string_equal(get(r, DM_FIELD_FROM_URL), "U");
    assert_string_equal(get(r, DM_FIELD_TO), "T");
    assert_string_equal(get(r, DM_FIELD_DIRECTION), "incoming");
    assert_string_equal(get(r, DM_FIELD_SENT_AT), "S");
    assert_string_equal(get(r, DM_FIELD_SUBJECT), "Sub");
    assert_string_equal(get(r, DM_FIELD_MESSAGE), "M\n");
    assert_string_equal(get(r, DM_FIELD_SOURCE), "src");
    assert_int_equal(dm_record_mutual(r), 3);
    assert_int_equal(dm_record_facts(r), DM_FACT_SPINMAIL | DM_FACT_HTML);
    assert_null(dm_record_history(r));
    /* unknown keys become extras, in input order; verdict, score, rules, history do not */
    assert_int_equal(dm_record_extra_count(r), 6);
    assert_extra(r, 0, "from.nick", "x");
    assert_extra(r, 1, "FOLDER", "INBOX");
    assert_extra(r, 2, "n", "5");
    assert_extra(r, 3, "e", "");
    assert_extra(r, 4, "custom", "v");
    assert_extra(r, 5, "obj", "{\"a\":[1,2.5,true]}");
    assert_int_equal(dm_json_next(j, r, NULL), DM_END);
    /* the record is cleared at each call */
    assert_null(dm_record_get(r, DM_FIELD_ID));
    assert_int_equal(dm_record_extra_count(r), 0);
    dm_record_free(r);
    dm_json_free(j);
}

/* Without "source" a record gets NAME:LINE; without "id", from.url@sent_at, else the source. */
static void test_record_defaults(void **state)
{
    (void)state;
    dm_input in;
    memin m;
    dm_jsonsrc *j =
        open_str("{}\n\n{\"from\":{\"url\":\"https://x/in/a\"},\"sent_at\":\"2026-01-02\"}\n"
                 "{\"from\":{\"url\":\"https://x/in/a\"}}\n{\"source\":\"elsewhere\"}\n",
                 &in, &m);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    static const struct {
        const char *id, *source;
    } expect[] = {
        {"t.jsonl:1", "t.jsonl:1"},
        {"https://x/in/a@2026-01-02", "t.jsonl:3"},
        {"t.jsonl:4", "t.jsonl:4"},
        {"elsewhere", "elsewhere"},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_int_equal(dm_json_next(j, r, NULL), DM_OK);
        assert_int_equal(dm_record_kind(r), DM_KIND_INVITATION);
        assert_int_equal(dm_record_mutual(r), -1);
        assert_string_equal(get(r, DM_FIELD_ID), expect[i].id);
        assert_string_equal(get(r, DM_FIELD_SOURCE), expect[i].source);
    }
    assert_int_equal(dm_json_next(j, r, NULL), DM_END);
    dm_record_free(r);
    dm_json_free(j);
}

/* Many lines read in odd-sized pieces: none lost, none split. */
static void test_many_lines(void **state)
{
    (void)state;
    enum { N = 5000 };
    size_t cap = (size_t)N * 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "{\"id\":\"r%d\",\"message\":\"%*s\"}\n", i,
                                i % 23, "");
    static const size_t steps[] = {4093, 65536 * 3, 1};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        dm_input in;
        memin m;
        mem_input(&in, &m, text, len, steps[k], "many");
        dm_jsonsrc *j = NULL;
        assert_int_equal(dm_json_open(&in, 64, &j, NULL), DM_OK);
        dm_record *r = NULL;
        assert_int_equal(dm_record_create(&r), DM_OK);
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof id, "r%d", i);
            assert_int_equal(dm_json_next(j, r, NULL), DM_OK);
            assert_string_equal(get(r, DM_FIELD_ID), id);
            assert_int_equal(dm_record_len(r, DM_FIELD_MESSAGE), (size_t)(i % 23));
        }
        assert_int_equal(dm_json_next(j, r, NULL), DM_END);
        dm_record_free(r);
        dm_json_free(j);
    }
    free(text);
}

/* A line far over the limit, across many reads, is skipped whole. */
static void test_long_line_skipped(void **state)
{
    (void)state;
    size_t big = 300000;
    char *text = malloc(big + 64);
    assert_non_null(text);
    size_t len = (size_t)sprintf(text, "{\"id\":\"a\"}\n{\"id\":\"");
    memset(text + len, 'x', big);
    len += big;
    len += (size_t)sprintf(text + len, "\"}\n{\"id\":\"c\"}\n");
    dm_input in;
    memin m;
    mem_input(&in, &m, text, len, 0, "long");
    dm_jsonsrc *j = NULL;
    assert_int_equal(dm_json_open(&in, 100, &j, NULL), DM_OK);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_json_next(j, r, &err), DM_OK);
    assert_int_equal(dm_json_next(j, r, &err), DM_ETOOLARGE);
    assert_err(&err, DM_ETOOLARGE, "long", 2, 0, "the line is over 100 bytes");
    assert_int_equal(dm_json_next(j, r, NULL), DM_OK);
    assert_string_equal(get(r, DM_FIELD_ID), "c");
    assert_string_equal(get(r, DM_FIELD_SOURCE), "long:3");
    assert_int_equal(dm_json_next(j, r, NULL), DM_END);
    dm_record_free(r);
    dm_json_free(j);
    free(text);
}

/* ---- read errors and bad arguments ---- */

static void test_read_errors(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n";
    dm_input in;
    memin m;
    dm_jsonsrc *j = NULL;
    dm_error err;

    /* at once: the open fails, with the input's name */
    mem_input(&in, &m, text, strlen(text), 4, "r.jsonl");
    m.fail_after = 0;
    dm_error_clear(&err);
    assert_int_equal(dm_json_open(&in, 0, &j, &err), DM_EIO);
    assert_null(j);
    assert_err(&err, DM_EIO, "r.jsonl", 0, 0, "boom");

    /* later: the read error ends the input */
    mem_input(&in, &m, text, strlen(text), 12, "r.jsonl");
    m.fail_after = 12;
    assert_int_equal(dm_json_open(&in, 0, &j, NULL), DM_OK);
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    assert_int_equal(dm_json_next(j, r, NULL), DM_OK);
    dm_error_clear(&err);
    assert_int_equal(dm_json_next(j, r, &err), DM_EIO);
    assert_err(&err, DM_EIO, "r.jsonl", 0, 0, "boom");
    assert_int_equal(dm_json_next(j, r, NULL), DM_END);
    dm_json_free(j);

    /* an input that fails without saying why */
    mem_input(&in, &m, text, strlen(text), 0, "r.jsonl");
    m.fail_after = 0;
    m.fail_silently = 1;
    dm_error_clear(&err);
    assert_int_equal(dm_json_open(&in, 0, &j, &err), DM_EIO);
    assert_err(&err, DM_EIO, "r.jsonl", 0, 0, "read error");

    dm_error_clear(&err);
    assert_int_equal(dm_json_open(NULL, 0, &j, &err), DM_EINVAL);
    assert_int_equal(err.code, DM_EINVAL);
    assert_int_equal(dm_json_next(NULL, r, NULL), DM_EINVAL);
    dm_json_free(NULL);
    dm_record_free(r);
}

/* ---- round trip: what the sinks write reads back into an equal record ---- */

typedef struct capture {
    char *data;
    size_t len;
} capture;

static int cap_write(void *ud, const char *buf, size_t len)
{
    capture *c = ud;
    c->data = realloc(c->data, c->len + len + 1);
    assert_non_null(c->data);
    memcpy(c->data + c->len, buf, len);
    c->len += len;
    c->data[c->len] = '\0';
    return 0;
}

static void assert_records_equal(const dm_record *a, const dm_record *b)
{
    assert_int_equal(dm_record_kind(a), dm_record_kind(b));
    for (int f = 0; f < DM_FIELD_COUNT; f++) {
        const char *x = dm_record_get(a, (dm_field)f), *y = dm_record_get(b, (dm_field)f);
        if (!x || !y) {
            if (x != y)
                fail_msg("field %s: %s vs %s", dm_field_name((dm_field)f), x ? x : "(missing)",
                         y ? y : "(missing)");
            continue;
        }
        assert_int_equal(dm_record_len(a, (dm_field)f), dm_record_len(b, (dm_field)f));
        assert_memory_equal(x, y, dm_record_len(a, (dm_field)f));
    }
    assert_int_equal(dm_record_mutual(a), dm_record_mutual(b));
    assert_int_equal(dm_record_facts(a), dm_record_facts(b));
    assert_int_equal(dm_record_extra_count(a), dm_record_extra_count(b));
    for (size_t i = 0; i < dm_record_extra_count(a); i++) {
        const char *an, *av, *bn, *bv;
        dm_record_extra(a, i, &an, &av);
        dm_record_extra(b, i, &bn, &bv);
        assert_string_equal(an, bn);
        assert_string_equal(av, bv);
    }
}

static dm_record *tricky(int which)
{
    dm_record *r = NULL;
    assert_int_equal(dm_record_create(&r), DM_OK);
    char id[16];
    snprintf(id, sizeof id, "id-%d", which);
    assert_int_equal(dm_record_set(r, DM_FIELD_ID, id, strlen(id)), DM_OK);
    assert_int_equal(dm_record_set(r, DM_FIELD_SOURCE, "in.csv:9", 8), DM_OK);
    if (which == 0) { /* every field, with text that needs escaping */
        static const char *const text[DM_FIELD_COUNT] = {
            [DM_FIELD_DIRECTION] = "incoming",
            [DM_FIELD_FROM_NAME] = "J\xC3\xB6rg \"The Closer\" M\xC3\xBCller \xF0\x9F\x9A\x80",
            [DM_FIELD_FROM_HEADLINE] = "CEO \\ Founder / \xE6\x97\xA5\xE6\x9C\xAC",
            [DM_FIELD_FROM_COMPANY] = "Acme, Inc.",
            [DM_FIELD_FROM_URL] = "https://www.linkedin.com/in/j%C3%B6rg/?x=1&y=<2>",
            [DM_FIELD_TO] = "Me",
            [DM_FIELD_SENT_AT] = "2026-02-12T11:44:00",
            [DM_FIELD_SUBJECT] = "\t tabs \x01\x1F\x7F and controls",
            [DM_FIELD_MESSAGE] = "line1\r\nline2\n\n\xE2\x80\xA8 sep \xEF\xBB\xBF bom",
        };
        for (int f = 0; f < DM_FIELD_COUNT; f++)
            if (text[f])
                assert_int_equal(dm_record_set(r, (dm_field)f, text[f], strlen(text[f])), DM_OK);
        dm_record_set_kind(r, DM_KIND_EMAIL);
        dm_record_set_mutual(r, 0);
        dm_record_add_facts(r,
                            DM_FACT_SPINMAIL | DM_FACT_NO_URL | DM_FACT_CONNECTED | DM_FACT_HTML);
        assert_int_equal(dm_record_add_extra(r, "FOLDER", "INBOX", 5), DM_OK);
        assert_int_equal(dm_record_add_extra(r, "n", "5", 1), DM_OK);
        assert_int_equal(dm_record_add_extra(r, "empty", "", 0), DM_OK);
        assert_int_equal(dm_record_add_extra(r, "json", "{\"a\":1}", 7), DM_OK);
        assert_int_equal(dm_record_add_extra(r, "from.nick", "JJ", 2), DM_OK);
    } else if (which == 1) { /* empty and NUL-holding text, a big count */
        assert_int_equal(dm_record_set(r, DM_FIELD_MESSAGE, "", 0), DM_OK);
        assert_int_equal(dm_record_set(r, DM_FIELD_FROM_NAME, "a\0b", 3), DM_OK);
        dm_record_set_kind(r, DM_KIND_MESSAGE);
        dm_record_set_mutual(r, 2147483647L);
    }
    return r;
}

static void round_trip(dm_format fmt)
{
    enum { N = 3 };
    dm_record *orig[N];
    capture out = {0};
    dm_sink_opts o = {cap_write, &out, 0, 0};
    dm_sink *s = NULL;
    dm_hit hit = {"rule", 1.5, "why", -1, 0, 0};
    dm_result res;
    dm_result_init(&res);
    res.verdict = DM_VERDICT_REVIEW;
    res.hits = &hit;
    res.nhits = 1;
    assert_int_equal(dm_sink_create(fmt, &o, &s), DM_OK);
    for (int i = 0; i < N; i++) {
        orig[i] = tricky(i);
        assert_int_equal(dm_sink_write(s, orig[i], &res, NULL), DM_OK);
    }
    assert_int_equal(dm_sink_finish(s, NULL, NULL), DM_OK);
    dm_sink_free(s);

    dm_input in;
    memin m;
    mem_input(&in, &m, out.data, out.len, 0, "rt");
    dm_jsonsrc *j = NULL;
    assert_int_equal(dm_json_open(&in, 0, &j, NULL), DM_OK);
    dm_record *back = NULL;
    assert_int_equal(dm_record_create(&back), DM_OK);
    for (int i = 0; i < N; i++) {
        dm_error err;
        dm_error_clear(&err);
        if (dm_json_next(j, back, &err) != DM_OK)
            fail_msg("record %d: %s at line %d", i, err.text, err.line);
        assert_records_equal(orig[i], back);
        dm_record_free(orig[i]);
    }
    assert_int_equal(dm_json_next(j, back, NULL), DM_END);
    dm_record_free(back);
    dm_json_free(j);
    free(out.data);
}

static void test_round_trip_jsonl(void **state)
{
    (void)state;
    round_trip(DM_FORMAT_JSONL);
}

static void test_round_trip_json(void **state)
{
    (void)state;
    round_trip(DM_FORMAT_JSON);
}

/* ---- failing allocations ---- */

static long alloc_left;

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
    static const char *const inputs[] = {
        "{\"id\":\"a\",\"from\":{\"name\":\"A\",\"x\":1},\"extra\":{\"k\":[1]},\"u\":2}\n{}\n",
        "{\"records\": [\n{\"id\":\"a\",\"z\":\"y\"},\n{}\n]}",
    };
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        int done = 0;
        for (long n = 0; n < 200 && !done; n++) {
            dm_input in;
            memin m;
            mem_input(&in, &m, inputs[k], strlen(inputs[k]), 0, "chaos");
            dm_record *r = NULL;
            assert_int_equal(dm_record_create(&r), DM_OK);
            dm_jsonsrc *j = NULL;
            alloc_left = n;
            dm_set_alloc_funcs(chaos_malloc, chaos_realloc, free);
            dm_status st = dm_json_open(&in, 0, &j, NULL);
            int got = 0;
            while (st == DM_OK) {
                st = dm_json_next(j, r, NULL);
                got += st == DM_OK;
            }
            dm_set_alloc_funcs(NULL, NULL, NULL);
            assert_true(st == DM_END || st == DM_ENOMEM);
            done = st == DM_END && got == 2;
            dm_json_free(j);
            dm_record_free(r);
        }
        assert_true(done);
    }
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_record_defaults),
        cmocka_unit_test(test_many_lines),
        cmocka_unit_test(test_long_line_skipped),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_round_trip_jsonl),
        cmocka_unit_test(test_round_trip_json),
        cmocka_unit_test(test_alloc_failures),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
