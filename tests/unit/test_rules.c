/*
 * test_rules.c: the rule language (src/rules/lexer.c, parser.c, compile.c,
 * eval.c).
 *
 * Rule text is written to a file in a scratch folder and loaded with
 * dm_ruleset_load(), its diagnostics collected, so that each check reads
 * like the spec:
 *
 *   assert_rule_error(src, DM_ESYNTAX, line, col, "text")  the one error
 *   assert_rule_errors(src, {code, line, col, "text"}...)  every error, in order
 *   assert_rule_warning(src, line, col, "text")            loads, with this warning
 *   assert_rule_ok(src)                                    no error, no warning
 *   assert_rule_hits(src, field, text)                     some rule fires
 *   assert_rule_misses(src, field, text)                   none fires
 *   assert_fired(rs, rec, ctx, "A B")                      exactly these rules, in order
 *
 * Every rule source below is laid out so that line and column can be read
 * off it: four spaces of indent, one item a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"
#include "rules.h" /* the shipped rules' tests, rule by rule */
#include "testalloc.h"

/* ---- a scratch folder for rule files ---------------------------------------------- */

static char tmpdir[256];

static int group_setup(void **state)
{
    (void)state;
    return scratch_mkdtemp(tmpdir, sizeof tmpdir, "rules");
}

static int group_teardown(void **state)
{
    (void)state;
    return scratch_rmtree(tmpdir);
}

/* tmp_path() names a file of the scratch folder (a few live at once). */
static const char *tmp_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static void write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash > dir + strlen(tmpdir)) {
        *slash = '\0';
        mkdir(dir, 0700); /* one level of subfolder is all the tests use */
    }
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* ---- loading with every diagnostic collected ---------------------------------------- */

#define MAX_DIAGS 32

typedef struct diag {
    dm_severity sev;
    dm_error e;
} diag;

typedef struct diags {
    size_t n, errors, warnings;
    diag d[MAX_DIAGS];
} diags;

static int collect(void *ud, dm_severity sev, const dm_error *e)
{
    diags *d = ud;
    if (sev == DM_SEV_ERROR)
        d->errors++;
    else
        d->warnings++;
    if (d->n < MAX_DIAGS)
        d->d[d->n++] = (diag){sev, *e};
    return 0;
}

static void show_diags(const diags *d)
{
    if (d->n == 0)
        print_error("  (no diagnostics)\n");
    for (size_t i = 0; i < d->n; i++)
        print_error("  %s:%d:%d: %s [%s]: %s\n", d->d[i].e.source, d->d[i].e.line, d->d[i].e.column,
                    d->d[i].sev == DM_SEV_ERROR ? "error" : "warning", dm_strerror(d->d[i].e.code),
                    d->d[i].e.text);
}

/* base() is the file name of a path, as diagnostics are compared by it. */
static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/*
 * load_paths() loads rule files and checks what must hold of any load: the
 * count of errors agrees with the callback, *out is set only on success.
 */
static dm_status load_paths(const char *const *paths, size_t n, diags *d, dm_ruleset **out)
{
    memset(d, 0, sizeof *d);
    dm_rules_opts o = {.diag = collect, .diag_ud = d};
    dm_ruleset *rs = NULL;
    size_t nerrors = 12345;
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_load(paths, n, &o, &rs, &nerrors, &err);
    assert_int_equal(nerrors, d->errors);
    if (st == DM_OK) {
        assert_non_null(rs);
        assert_int_equal(d->errors, 0);
    } else {
        assert_null(rs);
        assert_int_equal(err.code, st);
        if (st == DM_ESYNTAX)
            assert_true(d->errors > 0);
    }
    *out = rs;
    return st;
}

static dm_status load_text(const char *src, diags *d, dm_ruleset **out)
{
    write_file("t.rules", src);
    const char *path = tmp_path("t.rules");
    return load_paths(&path, 1, d, out);
}

typedef struct experr {
    dm_status code;
    int line, col;
    const char *text; /* a fragment of the message */
} experr;

static int diag_is(const diag *g, dm_severity sev, const experr *w, const char *file)
{
    return g->sev == sev && g->e.code == w->code && g->e.line == w->line && g->e.column == w->col &&
           strstr(g->e.text, w->text) != NULL && strcmp(base(g->e.source), file) == 0;
}

/* check_errors(): the load fails with exactly these errors, in this order. */
static void check_errors(const char *src, const experr *w, size_t nw, const char *file, int line)
{
    diags d;
    dm_ruleset *rs;
    dm_status st = load_text(src, &d, &rs);
    int ok = st == DM_ESYNTAX && d.errors == nw;
    size_t k = 0;
    for (size_t i = 0; ok && i < d.n; i++) {
        if (d.d[i].sev != DM_SEV_ERROR)
            continue;
        ok = diag_is(&d.d[i], DM_SEV_ERROR, &w[k], "t.rules");
        k++;
    }
    if (!ok) {
        print_error("load returned %s with %zu errors; wanted %zu errors:\n", dm_strerror(st),
                    d.errors, nw);
        for (size_t i = 0; i < nw; i++)
            print_error("  t.rules:%d:%d: error [%s]: ...%s...\n", w[i].line, w[i].col,
                        dm_strerror(w[i].code), w[i].text);
        print_error("got:\n");
        show_diags(&d);
        dm_ruleset_free(rs);
        _fail(file, line);
    }
}

#define assert_rule_error(src, code, line, col, text)                                              \
    check_errors(src, (const experr[]){{code, line, col, text}}, 1, __FILE__, __LINE__)
#define assert_rule_errors(src, ...)                                                               \
    check_errors(src, (const experr[]){__VA_ARGS__},                                               \
                 sizeof((const experr[]){__VA_ARGS__}) / sizeof(experr), __FILE__, __LINE__)

/* check_warning(): the load succeeds, with (present) or without (!present) this warning. */
static void check_warning(const char *src, int present, int wline, int wcol, const char *text,
                          const char *file, int line)
{
    diags d;
    dm_ruleset *rs;
    dm_status st = load_text(src, &d, &rs);
    int found = 0;
    for (size_t i = 0; i < d.n; i++) {
        const experr w = {DM_OK, wline, wcol, text};
        if (present ? diag_is(&d.d[i], DM_SEV_WARNING, &w, "t.rules")
                    : d.d[i].sev == DM_SEV_WARNING && strstr(d.d[i].e.text, text))
            found = 1;
    }
    dm_ruleset_free(rs);
    if (st != DM_OK || found != present) {
        if (present)
            print_error("load returned %s; wanted a warning at %d:%d: ...%s...; got:\n",
                        dm_strerror(st), wline, wcol, text);
        else
            print_error("load returned %s; wanted no warning like ...%s...; got:\n",
                        dm_strerror(st), text);
        show_diags(&d);
        _fail(file, line);
    }
}

#define assert_rule_warning(src, line, col, text)                                                  \
    check_warning(src, 1, line, col, text, __FILE__, __LINE__)
#define assert_no_warning(src, text) check_warning(src, 0, 0, 0, text, __FILE__, __LINE__)

static void check_ok(const char *src, const char *file, int line)
{
    diags d;
    dm_ruleset *rs;
    dm_status st = load_text(src, &d, &rs);
    dm_ruleset_free(rs);
    if (st != DM_OK || d.n != 0) {
        print_error("load returned %s; wanted no diagnostic at all; got:\n", dm_strerror(st));
        show_diags(&d);
        _fail(file, line);
    }
}

#define assert_rule_ok(src) check_ok(src, __FILE__, __LINE__)

/* ---- evaluating ---------------------------------------------------------------------- */

/* load_ok() loads rules that must have no error (warnings are allowed). */
static dm_ruleset *load_ok_at(const char *src, const char *file, int line)
{
    diags d;
    dm_ruleset *rs;
    if (load_text(src, &d, &rs) != DM_OK) {
        print_error("the rules do not load:\n");
        show_diags(&d);
        _fail(file, line);
    }
    return rs;
}

#define load_ok(src) load_ok_at(src, __FILE__, __LINE__)

static dm_record *record(dm_kind kind, int field, const char *text)
{
    dm_record *rec;
    assert_int_equal(dm_record_create(&rec), DM_OK);
    dm_record_set_kind(rec, kind);
    if (text)
        assert_int_equal(dm_record_set(rec, (dm_field)field, text, strlen(text)), DM_OK);
    return rec;
}

/* names() lists the rules of a result: "A B", or "" when none fired. */
static const char *names(const dm_result *res)
{
    static char buf[1024];
    buf[0] = '\0';
    for (size_t i = 0; i < res->nhits; i++) {
        if (i)
            strncat(buf, " ", sizeof buf - strlen(buf) - 1);
        strncat(buf, res->hits[i].name, sizeof buf - strlen(buf) - 1);
    }
    return buf;
}

static void check_fired(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                        const char *want_names, const char *file, int line)
{
    dm_result res;
    dm_result_init(&res);
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_eval(rs, rec, ctx, &res, &err);
    if (st != DM_OK || strcmp(names(&res), want_names) != 0) {
        print_error("eval returned %s (%s); fired \"%s\", wanted \"%s\"\n", dm_strerror(st),
                    err.text, names(&res), want_names);
        dm_result_free(&res);
        _fail(file, line);
    }
    dm_result_free(&res);
}

#define assert_fired(rs, rec, ctx, want) check_fired(rs, rec, ctx, want, __FILE__, __LINE__)

/* assert_rule_hits(src, field, text): some rule of src fires on an invitation with field=text */
static void check_hits(const char *src, int field, const char *text, int hit, const char *file,
                       int line)
{
    dm_ruleset *rs = load_ok_at(src, file, line);
    dm_record *rec = record(DM_KIND_INVITATION, field, text);
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    int got = res.nhits > 0;
    if (got != hit)
        print_error("%s: \"%s\" fired \"%s\"\n", dm_field_name((dm_field)field), text, names(&res));
    dm_result_free(&res);
    dm_record_free(rec);
    dm_ruleset_free(rs);
    if (got != hit)
        _fail(file, line);
}

#define assert_rule_hits(src, field, text) check_hits(src, field, text, 1, __FILE__, __LINE__)
#define assert_rule_misses(src, field, text) check_hits(src, field, text, 0, __FILE__, __LINE__)

/* ONE(items): a rule R whose body is items, starting on line 4, column 5. */
#define ONE(items)                                                                                 \
    "rule R {\n"                                                                                   \
    "    describe \"r\"\n"                                                                         \
    "    score 1\n"                                                                                \
    "    " items "\n"                                                                              \
    "}\n"

#define M DM_FIELD_MESSAGE

/* ==== lexer and parser errors ========================================================== */

static void test_missing_lbrace(void **state)
{
    (void)state;
    /* the body is parsed anyway: one missing brace is one error */
    assert_rule_error("rule A\n"
                      "    describe \"a\"\n"
                      "    score 3\n"
                      "    when message =~ /a/\n"
                      "}\n",
                      DM_ESYNTAX, 2, 5, "expected '{', found 'describe'");
    assert_rule_error("rule A (\n", DM_ESYNTAX, 1, 8, "expected '{', found '('");
    /* what follows a rule that cannot be read is not taken for top-level items */
    assert_rule_errors("rule 1bad {\n"
                       "    describe \"a\"\n"
                       "    score 3\n"
                       "    when message =~ /a/\n"
                       "}\n"
                       "rule B {\n"
                       "    score 3\n"
                       "}\n",
                       {DM_ESYNTAX, 1, 6, "bad number '1bad'"},
                       {DM_ESYNTAX, 6, 6, "rule B has no 'when' and no 'meta'"},
                       {DM_ESYNTAX, 6, 6, "rule B has no describe"});
}

static void test_missing_rbrace(void **state)
{
    (void)state;
    assert_rule_error("rule A {\n"
                      "    describe \"a\"\n"
                      "    score 3\n"
                      "    when message =~ /a/\n",
                      DM_ESYNTAX, 1, 6, "rule A is not closed: expected '}'");
    assert_rule_error("rule A {\n"
                      "    describe \"a\"\n"
                      "    score 3\n"
                      "    when message =~ /a/\n"
                      "rule B {\n"
                      "    describe \"b\"\n"
                      "    score 1\n"
                      "    when message =~ /b/\n"
                      "}\n",
                      DM_ESYNTAX, 5, 1,
                      "expected '}' to close rule before the next rule, found 'rule'");
}

static void test_unknown_item(void **state)
{
    (void)state;
    assert_rule_error(ONE("colour red\n    when message =~ /x/"), DM_ESYNTAX, 4, 5,
                      "expected describe, score, tags, helper, when, meta, test or '}', found "
                      "'colour'");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1\n"
                      "    when message =~ /x/\n"
                      "    42\n"
                      "}\n",
                      DM_ESYNTAX, 5, 5, "found number 42");
    assert_rule_error("frobnicate\n", DM_ESYNTAX, 1, 1,
                      "expected rule, list, set, score or disable, found 'frobnicate'");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1\n"
                      "    when message =~ /x/\n"
                      "    test maybe \"x\"\n"
                      "}\n",
                      DM_ESYNTAX, 5, 10, "expected 'hit' or 'miss' after 'test', found 'maybe'");
}

static void test_unterminated(void **state)
{
    (void)state;
    assert_rule_error("rule R {\n"
                      "    describe \"no end\n"
                      "    score 1\n"
                      "    when message =~ /x/\n"
                      "}\n",
                      DM_ESYNTAX, 2, 14,
                      "unterminated string: a string ends on the line it starts");
    assert_rule_errors("rule R {\n    describe \"at the end",
                       {DM_ESYNTAX, 2, 14, "unterminated string"},
                       {DM_ESYNTAX, 1, 6, "rule R is not closed: expected '}'"});
    assert_rule_error(ONE("when message =~ /ab"), DM_ESYNTAX, 4, 21,
                      "unterminated regex: expected a closing '/' on the same line");
    /* a slash in a class or escaped does not end the regex */
    assert_rule_error(ONE("when message =~ /a[/]b\\/c"), DM_ESYNTAX, 4, 21, "unterminated regex");
    assert_rule_ok("rule R {\n"
                   "    describe \"r\"\n"
                   "    score 1\n"
                   "    when message =~ /a[/]b\\/c/\n"
                   "    test hit \"a/b/c\"\n"
                   "}\n");
}

/* what the lexer must read as PCRE2 and editors do */
static void test_lexer_details(void **state)
{
    (void)state;
    /* a byte order mark is skipped, and columns count from after it */
    assert_rule_ok("\xef\xbb\xbfrule R {\n    describe \"r\"\n    score 1\n"
                   "    when message =~ /x/\n    test hit \"x\"\n}\n");
    assert_rule_error("\xef\xbb\xbfrule 1x {\n", DM_ESYNTAX, 1, 6, "bad number '1x'");
    /* CRLF line ends */
    assert_rule_error("rule R {\r\n    describe \"r\"\r\n    score 1.2.3\r\n"
                      "    when message =~ /x/\r\n}\r\n",
                      DM_ESYNTAX, 3, 11, "bad number '1.2.3'");
    /* a ']' first in a class is a character of it, so the '/' after it is too */
    const char *cls = ONE("when message =~ /[]/]x/");
    assert_rule_hits(cls, M, "]x");
    assert_rule_hits(cls, M, "/x");
    assert_rule_misses(cls, M, "ax");
    const char *neg = ONE("when message =~ /[^]/]x/");
    assert_rule_hits(neg, M, "ax");
    assert_rule_misses(neg, M, "]x");
    /* ... and a '|' in such a class is no empty alternative */
    assert_rule_ok("rule R {\n    describe \"r\"\n    score 1\n    when message =~ /a[^]||]/\n"
                   "    test hit \"ab\"\n    test miss \"a|\"\n}\n");
    /* nor is a ${ in it a list */
    assert_rule_hits(ONE("when message =~ /[]${]x/"), M, "{x");
    /* comments run to the end of the line, not into the next */
    assert_rule_error(
        "# rule R {\nrule # a comment\n  R {\n    describe \"r\" # why\n    score 1\n"
        "    when message =~ /#x/ # a '#' in a regex is not a comment\n}\nscore R 1.2.3\n",
        DM_ESYNTAX, 8, 9, "bad number '1.2.3'");
}

static void test_bad_numbers(void **state)
{
    (void)state;
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1.2.3\n"
                      "    when message =~ /x/\n"
                      "}\n",
                      DM_ESYNTAX, 3, 11, "bad number '1.2.3'");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 5x\n"
                      "    when message =~ /x/\n"
                      "}\n",
                      DM_ESYNTAX, 3, 11, "bad number '5x'");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1.\n"
                      "    when message =~ /x/\n"
                      "}\n",
                      DM_ESYNTAX, 3, 11, "bad number: expected digits after '.'");
    assert_rule_error(ONE("when mutual > 3.5.1"), DM_ESYNTAX, 4, 19, "bad number '3.5.1'");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 101\n"
                      "    when message =~ /x/\n"
                      "}\n",
                      DM_ESYNTAX, 3, 11, "score 101 is out of range (-100 to 100)");
}

static void test_escapes(void **state)
{
    (void)state;
    assert_rule_error("rule R {\n"
                      "    describe \"a\\qb\"\n"
                      "    score 1\n"
                      "    when message =~ /x/\n"
                      "}\n",
                      DM_ESYNTAX, 2, 16, "unknown escape '\\q' in a string");
    /* the known escapes, in a test text that must hit */
    dm_ruleset *rs = load_ok("rule R {\n"
                             "    describe \"say \\\"hi\\\" \\\\ ok\"\n"
                             "    score 1\n"
                             "    when message =~ /a\\tb/r\n"
                             "    test hit \"a\\tb\"\n"
                             "}\n");
    size_t passed = 0, failed = 0;
    assert_int_equal(dm_ruleset_test(rs, NULL, NULL, &passed, &failed, NULL), DM_OK);
    assert_int_equal(passed, 1);
    assert_int_equal(failed, 0);
    dm_record *rec = record(DM_KIND_INVITATION, M, "a\tb");
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_int_equal(res.nhits, 1);
    assert_string_equal(res.hits[0].describe, "say \"hi\" \\ ok");
    dm_result_free(&res);
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

static void test_unexpected_characters(void **state)
{
    (void)state;
    assert_rule_error("@\n", DM_ESYNTAX, 1, 1, "unexpected character '@'");
    assert_rule_error(ONE("when message == /x/"), DM_ESYNTAX, 4, 18,
                      "expected =~, !~ or 'is' after a field, found '=='");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1\n"
                      "    when message =~ /x/\n"
                      "    test hit /x/\n"
                      "}\n",
                      DM_ESYNTAX, 5, 14, "unexpected character '/' (a regex goes after =~ or !~)");
    /* a byte that is not ASCII, shown as hex */
    assert_rule_error("\xc3\xa9\n", DM_ESYNTAX, 1, 1, "unexpected character '\\xc3'");
    /* invalid UTF-8 in the file: where it is */
    assert_rule_error("# ok\nrule \xff {\n", DM_ESYNTAX, 2, 6, "invalid UTF-8");
}

static void test_expected_what(void **state)
{
    (void)state;
    assert_rule_error(ONE("when message =~ \"x\""), DM_ESYNTAX, 4, 21,
                      "expected a regex /.../, found a string");
    assert_rule_error(ONE("when mutual > many"), DM_ESYNTAX, 4, 19,
                      "expected a number, found 'many'");
    assert_rule_error(ONE("when mutual =~ /3/"), DM_ESYNTAX, 4, 17,
                      "expected a comparison (== != < <= > >=), found '=~'");
    assert_rule_error(ONE("when not mutual > 3"), DM_ESYNTAX, 4, 14,
                      "'not' goes before a yes/no fact");
    assert_rule_error(ONE("when kind is robot"), DM_ESYNTAX, 4, 18,
                      "expected a kind: invitation, message or email, found 'robot'");
    assert_rule_error(ONE("when kind = invitation"), DM_ESYNTAX, 4, 15,
                      "expected 'is' after 'kind', found '='");
    assert_rule_error(ONE("when mutual = 3"), DM_ESYNTAX, 4, 17,
                      "expected a comparison (== != < <= > >=), found '='");
    assert_rule_error(ONE("when message is full"), DM_ESYNTAX, 4, 21,
                      "expected 'empty', found 'full'");
    assert_rule_error(ONE("when not message =~ /x/"), DM_ESYNTAX, 4, 10,
                      "write 'FIELD !~ /re/' rather than 'not'");
    assert_rule_error(ONE("when \"message\" =~ /x/"), DM_ESYNTAX, 4, 10,
                      "expected a field or a fact after 'when', found a string");
    assert_rule_error("rule when {\n", DM_ESYNTAX, 1, 6,
                      "'when' is a keyword and cannot be a rule name");
    assert_rule_error("rule a.b {\n", DM_ESYNTAX, 1, 6, "'a.b': a rule name has no '.' in it");
    assert_rule_error("set decline_at high\n", DM_ESYNTAX, 1, 16,
                      "expected a number, found 'high'");
    assert_rule_error("set verbose 1\n", DM_ESYNTAX, 1, 5,
                      "expected a setting: decline_at or accept_at, found 'verbose'");
    assert_rule_error("list l { \"a\" \"b\" }\n", DM_ESYNTAX, 1, 14,
                      "expected a string, ',' or '}', found a string");
    assert_rule_error("list l 3\n", DM_ESYNTAX, 1, 8,
                      "expected a file name (a string) or '{' and the entries, found number 3");
}

/* several errors in one file: each is reported, and only those (error recovery) */
static void test_error_recovery(void **state)
{
    (void)state;
    assert_rule_errors("rule A {\n"                 /* 1 */
                       "    describe \"a\"\n"       /* 2 */
                       "    score 1.2.3\n"          /* 3 */
                       "    when message =~ /a/\n"  /* 4 */
                       "}\n"                        /* 5 */
                       "rule B {\n"                 /* 6 */
                       "    describe \"b\"\n"       /* 7 */
                       "    score 1\n"              /* 8 */
                       "    when nosuch =~ /b/\n"   /* 9 */
                       "}\n"                        /* 10 */
                       "rule C {\n"                 /* 11 */
                       "    describe \"c\"\n"       /* 12 */
                       "    score 1\n"              /* 13 */
                       "    when message =~ /c/q\n" /* 14 */
                       "}\n"                        /* 15 */
                       "rule D {\n"                 /* 16 */
                       "    describe \"d\"\n"       /* 17 */
                       "    score 1\n"              /* 18 */
                       "    when message =~ /d(/\n" /* 19 */
                       "}\n",                       /* 20 */
                       {DM_ESYNTAX, 3, 11, "bad number '1.2.3'"},
                       {DM_ESYNTAX, 9, 10, "unknown field or fact 'nosuch'"},
                       {DM_ESYNTAX, 14, 24, "unknown regex flag 'q'"},
                       {DM_EREGEX, 19, 24, "regex: missing closing parenthesis"});
    /* a condition cut short does not swallow the next rule */
    assert_rule_errors("rule A {\n"
                       "    describe \"a\"\n"
                       "    score 3\n"
                       "    when message =~\n"
                       "}\n"
                       "rule B {\n"
                       "    describe \"b\"\n"
                       "    score 1\n"
                       "    when message =~ /b/\n"
                       "}\n"
                       "rule B {\n"
                       "    describe \"b\"\n"
                       "    score 1\n"
                       "    when message =~ /b/\n"
                       "}\n",
                       {DM_ESYNTAX, 5, 1, "expected a regex /.../, found '}'"},
                       {DM_ESYNTAX, 11, 6, "duplicate rule name B"});
    assert_rule_errors("rule A {\n"
                       "    describe \"a\"\n"
                       "    score 3\n"
                       "    when message =~\n"
                       "rule B {\n"
                       "    describe \"b\"\n"
                       "    score 1\n"
                       "    when message =~ /b/\n"
                       "}\n"
                       "rule B {\n"
                       "}\n",
                       {DM_ESYNTAX, 5, 1, "expected a regex /.../, found 'rule'"},
                       {DM_ESYNTAX, 5, 1, "expected '}' to close rule before the next rule"},
                       {DM_ESYNTAX, 10, 6, "duplicate rule name B"},
                       {DM_ESYNTAX, 10, 6, "rule B has no 'when' and no 'meta'"},
                       {DM_ESYNTAX, 10, 6, "rule B has no score"},
                       {DM_ESYNTAX, 10, 6, "rule B has no describe"});
    /* an item cut short by the next item: that item is still read */
    assert_rule_error("rule A {\n"
                      "    describe\n"
                      "    score 3\n"
                      "    when message =~ /a/\n"
                      "}\n",
                      DM_ESYNTAX, 3, 5, "expected a string after 'describe', found 'score'");
    /* lexer errors inside a body, then a good rule: counted once each */
    assert_rule_errors("rule A {\n"
                       "    describe \"a\\z\"\n"
                       "    score 3\n"
                       "    when message =~ /a/ %\n"
                       "}\n"
                       "rule B {\n"
                       "    describe \"b\"\n"
                       "    score 1\n"
                       "    when message =~ /b/\n"
                       "}\n",
                       {DM_ESYNTAX, 2, 16, "unknown escape '\\z'"},
                       {DM_ESYNTAX, 4, 25, "unexpected character '%'"});
}

/* ==== patterns ============================================================================= */

static void test_regex_errors(void **state)
{
    (void)state;
    /* PCRE2's offset, mapped back to the file: where the ')' is missing; PCRE2's
     * complaints are DM_EREGEX, the others DM_ESYNTAX */
    assert_rule_error(ONE("when message =~ /ab(c/"), DM_EREGEX, 4, 26,
                      "regex: missing closing parenthesis");
    /* in the middle of the pattern: the column of the bad range's end */
    assert_rule_error(ONE("when message =~ /x[b-a]y/"), DM_EREGEX, 4, 26,
                      "regex: range out of order in character class");
    assert_rule_error(ONE("when message =~ /a{2,1}/"), DM_EREGEX, 4, 27,
                      "regex: numbers out of order in {} quantifier");
    /* after a ${list}, whose expansion is longer than what was written */
    assert_rule_error("list l { \"alpha\", \"beta\", \"gamma delta\" }\n"
                      "rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1\n"
                      "    when message =~ /${l} x[b-a]/\n"
                      "}\n",
                      DM_EREGEX, 5, 31, "regex: range out of order in character class");
    assert_rule_error(ONE("when message =~ /x\\/"), DM_ESYNTAX, 4, 21, "unterminated regex");
    assert_rule_error(ONE("when message =~ /(?<n>a)(?<n>b)/"), DM_EREGEX, 4, 34,
                      "regex: two named subpatterns have the same name");
}

static void test_matches_everything(void **state)
{
    (void)state;
    assert_rule_error(ONE("when message =~ //"), DM_ESYNTAX, 4, 22,
                      "empty pattern: it matches every text");
    assert_rule_error(ONE("when message =~ /|a/"), DM_ESYNTAX, 4, 22,
                      "empty alternative: the pattern matches every text");
    assert_rule_error(ONE("when message =~ /a|/"), DM_ESYNTAX, 4, 23, "empty alternative");
    assert_rule_error(ONE("when message =~ /a||b/"), DM_ESYNTAX, 4, 24, "empty alternative");
    assert_rule_error(ONE("when message =~ /x*/"), DM_ESYNTAX, 4, 21,
                      "the pattern matches the empty string, so it matches every text");
    assert_rule_error(ONE("when message =~ /(a|)/"), DM_ESYNTAX, 4, 21, "matches the empty string");
    assert_rule_error(ONE("when message =~ /^/m"), DM_ESYNTAX, 4, 21, "matches the empty string");
    assert_rule_error(ONE("when message !~ /(?:)/"), DM_ESYNTAX, 4, 21, "matches the empty string");
    /* these do not */
    const char *fine[] = {"/a|b/", "/(|a)b/", "/[|]x/", "/a\\|/", "/(a|b)+/", "/a|(b|)c/"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "rule R {\n    describe \"r\"\n    score 1\n    when message =~ %s\n"
                 "    test miss \"zzz\"\n}\n",
                 fine[i]);
        assert_rule_ok(src);
    }
}

static void test_unknown_fields(void **state)
{
    (void)state;
    assert_rule_error(ONE("when nosuch =~ /x/"), DM_ESYNTAX, 4, 10,
                      "unknown field or fact 'nosuch' (fields: message, subject");
    assert_rule_error(ONE("when from =~ /x/"), DM_ESYNTAX, 4, 10, "unknown field or fact 'from'");
    assert_rule_error(ONE("when history.moods > 2"), DM_ESYNTAX, 4, 10,
                      "unknown field or fact 'history.moods'");
    assert_rule_error("rule R {\n"
                      "    describe \"r\"\n"
                      "    score 1\n"
                      "    when message =~ /x/\n"
                      "    test hit body \"x\"\n"
                      "}\n",
                      DM_ESYNTAX, 5, 14, "a test sets one field; 'body' is not one");
}

static void test_unknown_flags(void **state)
{
    (void)state;
    assert_rule_error(ONE("when message =~ /x/q"), DM_ESYNTAX, 4, 24,
                      "unknown regex flag 'q' (flags: i m s x r)");
    assert_rule_error(ONE("when message =~ /x/imq"), DM_ESYNTAX, 4, 26, "unknown regex flag 'q'");
    assert_rule_errors(ONE("when message =~ /x/gu"), {DM_ESYNTAX, 4, 24, "unknown regex flag 'g'"},
                       {DM_ESYNTAX, 4, 25, "unknown regex flag 'u'"});
    assert_rule_ok("rule R {\n"
                   "    describe \"r\"\n"
                   "    score 1\n"
                   "    when message =~ /x y/imsxr\n"
                   "    test hit \"xy\"\n"
                   "}\n");
}

/* ==== rules as a whole ===================================================================== */

static void test_rule_structure(void **state)
{
    (void)state;
    assert_rule_error("rule R {\n    describe \"r\"\n    when message =~ /x/\n}\n", DM_ESYNTAX, 1,
                      6, "rule R has no score (write 'score N', or 'helper'");
    assert_rule_error("rule R {\n    score 1\n    when message =~ /x/\n}\n", DM_ESYNTAX, 1, 6,
                      "rule R has no describe: reports need one");
    assert_rule_error("rule R {\n    describe \"r\"\n    score 1\n}\n", DM_ESYNTAX, 1, 6,
                      "rule R has no 'when' and no 'meta': it would never fire");
    assert_rule_error("rule H {\n    helper\n    score 1\n    when message =~ /x/\n}\n", DM_ESYNTAX,
                      1, 6, "rule H is a helper and so has no score");
    assert_rule_error(ONE("when message =~ /x/\n    describe \"again\""), DM_ESYNTAX, 5, 5,
                      "rule R has a second 'describe'");
    assert_rule_error(ONE("when message =~ /x/\n    score 2"), DM_ESYNTAX, 5, 5,
                      "rule R has a second 'score'");
    assert_rule_error("rule H {\n    helper\n    when message =~ /x/\n}\n"
                      "rule R {\n    describe \"r\"\n    score 1\n    meta H\n"
                      "    when message =~ /y/\n}\n",
                      DM_ESYNTAX, 5, 6, "rule R has both 'meta' and 'when'");
    assert_rule_error("rule H {\n    helper\n    when message =~ /x/\n}\n"
                      "rule R {\n    describe \"r\"\n    score 1\n    meta H\n    meta H\n}\n",
                      DM_ESYNTAX, 9, 5, "rule R has a second 'meta'");
}

static void test_duplicate_rules(void **state)
{
    (void)state;
    char want[600];
    snprintf(want, sizeof want, "duplicate rule name A (first defined at %s:1)",
             tmp_path("t.rules"));
    assert_rule_error("rule A {\n"
                      "    describe \"a\"\n"
                      "    score 1\n"
                      "    when message =~ /a/\n"
                      "}\n"
                      "\n"
                      "  rule A {\n"
                      "    describe \"a2\"\n"
                      "    score 2\n"
                      "    when message =~ /b/\n"
                      "}\n",
                      DM_ESYNTAX, 7, 8, want);
    /* across files: the second file's line and column, the first file named */
    write_file("one.rules", "rule A {\n    describe \"a\"\n    score 1\n    when message =~ /a/\n"
                            "    test hit \"a\"\n}\n");
    write_file("two.rules", "\nrule A {\n    describe \"a\"\n    score 1\n    when message =~ /a/\n"
                            "    test hit \"a\"\n}\n");
    const char *paths[] = {tmp_path("one.rules"), tmp_path("two.rules")};
    diags d;
    dm_ruleset *rs;
    assert_int_equal(load_paths(paths, 2, &d, &rs), DM_ESYNTAX);
    assert_int_equal(d.errors, 1);
    assert_string_equal(base(d.d[0].e.source), "two.rules");
    assert_int_equal(d.d[0].e.line, 2);
    assert_int_equal(d.d[0].e.column, 6);
    assert_non_null(strstr(d.d[0].e.text, "one.rules:1)"));
}

static void test_meta_errors(void **state)
{
    (void)state;
#define HELPERS                                                                                    \
    "rule a {\n    helper\n    when message =~ /a/\n}\n"                                           \
    "rule b {\n    helper\n    when message =~ /b/\n}\n"
    /* lines 1-8 are the helpers; the meta rule starts on line 9, its meta on line 12 */
    assert_rule_errors(HELPERS
                       "rule M {\n    describe \"m\"\n    score 1\n    meta X or a or Y\n}\n",
                       {DM_ESYNTAX, 12, 10, "meta rule M names an unknown rule 'X'"},
                       {DM_ESYNTAX, 12, 20, "meta rule M names an unknown rule 'Y'"});
    assert_rule_error(
        HELPERS "rule M {\n    describe \"m\"\n    score 1\n    meta atleast 3 of (a, b)\n}\n",
        DM_ESYNTAX, 12, 18, "atleast 3 of 2 rules can never hold");
    assert_rule_error(
        HELPERS "rule M {\n    describe \"m\"\n    score 1\n    meta atleast 0 of (a, b)\n}\n",
        DM_ESYNTAX, 12, 18, "expected a whole number of at least 1 after 'atleast'");
    assert_rule_error(HELPERS
                      "rule M {\n    describe \"m\"\n    score 1\n    meta atleast 1 of a, b\n}\n",
                      DM_ESYNTAX, 12, 23, "expected '(' and a list of rule names, found 'a'");
    assert_rule_error(HELPERS "rule M {\n    describe \"m\"\n    score 1\n    meta (a and b\n}\n",
                      DM_ESYNTAX, 13, 1, "expected ')', found '}'");
    assert_rule_error(HELPERS "rule M {\n    describe \"m\"\n    score 1\n    meta a and\n}\n",
                      DM_ESYNTAX, 13, 1,
                      "expected a rule name, 'not', 'atleast' or '(', found '}'");
    /* a cycle is one error, where it closes */
    assert_rule_error("rule A {\n    describe \"a\"\n    score 1\n    meta B\n}\n"
                      "rule B {\n    helper\n    meta a or A\n}\n"
                      "rule a {\n    helper\n    when message =~ /a/\n}\n",
                      DM_ESYNTAX, 8, 15, "meta rules form a cycle: A -> B -> A");
    assert_rule_error("rule A {\n    describe \"a\"\n    score 1\n    meta not A\n}\n", DM_ESYNTAX,
                      4, 14, "meta rule A names itself");
    assert_rule_error("rule A {\n    helper\n    meta B\n}\n"
                      "rule B {\n    helper\n    meta C\n}\n"
                      "rule C {\n    describe \"c\"\n    score 1\n    meta B\n}\n",
                      DM_ESYNTAX, 12, 10, "meta rules form a cycle: B -> C -> B");
#undef HELPERS
}

static void test_list_errors(void **state)
{
    (void)state;
    assert_rule_error(ONE("when message =~ /a ${nolist} b/"), DM_ESYNTAX, 4, 24,
                      "unknown list 'nolist'");
    assert_rule_error("list l { \"x\" }\n" ONE("when message =~ /${l - you}/"), DM_ESYNTAX, 5, 22,
                      "bad list reference '${l - you}' (write ${NAME}, ${NAME - me} or "
                      "${me.companies|name|headline|industry})");
    assert_rule_error(ONE("when message =~ /${me.colour}/"), DM_ESYNTAX, 4, 22, "'${me.colour}'");
    assert_rule_error(ONE("when message =~ /${me.name - me}/"), DM_ESYNTAX, 4, 22,
                      "bad list reference");
    assert_rule_error(ONE("when message =~ /x${l/"), DM_ESYNTAX, 4, 23,
                      "'${' without a closing '}'");
    assert_rule_error("list l { \"x\" }\nlist l { \"y\" }\n", DM_ESYNTAX, 2, 6,
                      "duplicate list name l (first defined at");
    assert_rule_error("list l { \"x\", \"\" }\n", DM_ESYNTAX, 1, 15,
                      "empty list entry: it would match everywhere");
    assert_rule_error("list l { \"x\", \"\xe2\x80\x8b\" }\n", DM_ESYNTAX, 1, 15,
                      "empty list entry");
    assert_rule_error("list rule { \"x\" }\n", DM_ESYNTAX, 1, 6,
                      "'rule' is a keyword and cannot be a list name");
    /* a ${ in a class or escaped is not a reference */
    assert_rule_ok("rule R {\n"
                   "    describe \"r\"\n"
                   "    score 1\n"
                   "    when message =~ /a[${]b|c\\${d}/\n"
                   "    test hit \"a$b\"\n"
                   "    test hit \"c${d}\"\n"
                   "}\n");
}

static void test_list_files(void **state)
{
    (void)state;
    /* relative to the rule file, wherever the current folder is */
    write_file("sub/words.list", "# cold pitches\n\ndental practice\n  law firm  \n");
    write_file("sub/r.rules", "list kinds \"words.list\"\n"
                              "rule R {\n"
                              "    describe \"r\"\n"
                              "    score 1\n"
                              "    when message =~ /your ${kinds}/\n"
                              "    test hit \"Your LAW FIRM is great\"\n"
                              "    test miss \"your law firms\"\n"
                              "}\n");
    const char *path = tmp_path("sub/r.rules");
    diags d;
    dm_ruleset *rs;
    assert_int_equal(load_paths(&path, 1, &d, &rs), DM_OK);
    assert_int_equal(d.n, 0);
    size_t passed, failed;
    assert_int_equal(dm_ruleset_test(rs, NULL, NULL, &passed, &failed, NULL), DM_OK);
    assert_int_equal(passed, 2);
    assert_int_equal(failed, 0);
    dm_record *rec = record(DM_KIND_INVITATION, M, "Your dental practice!");
    assert_fired(rs, rec, NULL, "R");
    dm_record_free(rec);
    rec = record(DM_KIND_INVITATION, M, "cold pitches");
    assert_fired(rs, rec, NULL, "");
    dm_record_free(rec);
    dm_ruleset_free(rs);

    /* a relative rule path from another current folder */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    const char *rel = "sub/r.rules";
    dm_status st = load_paths(&rel, 1, &d, &rs);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, DM_OK);
    dm_ruleset_free(rs);

    /* a missing list file: at the file name's string, naming the path tried */
    char want[700];
    snprintf(want, sizeof want, "cannot read list file %s/nope.list: No such file or directory",
             tmpdir);
    assert_rule_error("list l \"nope.list\"\n", DM_ESYNTAX, 1, 8, want);
    /* a bad line of a list file: in the list file */
    write_file("bad.list", "ok\n\xff\xfe\n");
    assert_int_equal(load_text("list l \"bad.list\"\n", &d, &rs), DM_ESYNTAX);
    assert_int_equal(d.errors, 1);
    assert_string_equal(base(d.d[0].e.source), "bad.list");
    assert_int_equal(d.d[0].e.line, 2);
    assert_string_equal(d.d[0].e.text, "invalid UTF-8");
}

static void test_override_errors(void **state)
{
    (void)state;
    assert_rule_errors("score NOPE 3\n"
                       "disable  ALSO_NOPE\n",
                       {DM_ESYNTAX, 1, 7, "score names an unknown rule 'NOPE'"},
                       {DM_ESYNTAX, 2, 10, "disable names an unknown rule 'ALSO_NOPE'"});
    assert_rule_error("rule H {\n    helper\n    when message =~ /x/\n}\n"
                      "rule M {\n    describe \"m\"\n    score 1\n    meta H\n}\n"
                      "score H 2\n",
                      DM_ESYNTAX, 10, 7, "rule H is a helper and has no score");
    assert_rule_error("score 3 R\n", DM_ESYNTAX, 1, 7, "expected rule name, found number 3");
    assert_rule_error(ONE("when message =~ /x/") "score R high\n", DM_ESYNTAX, 6, 9,
                      "expected the rule's new score, found 'high'");
    /* a new score is held to the range of a rule's own */
    assert_rule_error(ONE("when message =~ /x/") "score R -250\n", DM_ESYNTAX, 6, 9,
                      "score -250 is out of range (-100 to 100)");
}

static void test_settings(void **state)
{
    (void)state;
    diags d;
    dm_ruleset *rs;
    /* the thresholds are checked once every file is read, and the error points
     * at the later of the two settings that cross */
    assert_int_equal(load_text("# one\n  set accept_at 6\n", &d, &rs), DM_ESYNTAX);
    assert_int_equal(d.errors, 1);
    assert_int_equal(d.d[0].e.code, DM_ESYNTAX);
    assert_string_equal(base(d.d[0].e.source), "t.rules");
    assert_int_equal(d.d[0].e.line, 2);
    assert_int_equal(d.d[0].e.column, 3);
    assert_string_equal(d.d[0].e.text, "accept_at (6) must be below decline_at (5)");
    assert_int_equal(load_text("set decline_at 1\nset accept_at 1\n", &d, &rs), DM_ESYNTAX);
    assert_string_equal(d.d[0].e.text, "accept_at (1) must be below decline_at (1)");
    assert_int_equal(d.d[0].e.line, 2);
    assert_int_equal(d.d[0].e.column, 1);
    /* across files: the later file's setting, whichever of the two it is */
    write_file("thr-a.rules", "set accept_at 1\n");
    write_file("thr-b.rules", "\nset decline_at 0.5\n");
    const char *two[] = {tmp_path("thr-a.rules"), tmp_path("thr-b.rules")};
    assert_int_equal(load_paths(two, 2, &d, &rs), DM_ESYNTAX);
    assert_int_equal(d.errors, 1);
    assert_string_equal(base(d.d[0].e.source), "thr-b.rules");
    assert_int_equal(d.d[0].e.line, 2);
    assert_int_equal(d.d[0].e.column, 1);
    assert_string_equal(d.d[0].e.text, "accept_at (1) must be below decline_at (0.5)");
    /* the last setting wins */
    rs = load_ok("set decline_at 1\nset accept_at 1\nset decline_at 8.5\nset accept_at -3\n");
    assert_true(dm_ruleset_decline_at(rs) == 8.5);
    assert_true(dm_ruleset_accept_at(rs) == -3);
    dm_ruleset_free(rs);
    rs = load_ok("# nothing but a comment\n");
    assert_true(dm_ruleset_decline_at(rs) == 5);
    assert_true(dm_ruleset_accept_at(rs) == -2);
    assert_int_equal(dm_ruleset_count(rs), 0);
    dm_ruleset_free(rs);
}

static void test_missing_files(void **state)
{
    (void)state;
    const char *path = tmp_path("does-not-exist.rules");
    diags d;
    dm_ruleset *rs;
    assert_int_equal(load_paths(&path, 1, &d, &rs), DM_ESYNTAX);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.d[0].e.source, path);
    assert_int_equal(d.d[0].e.line, 0);
    assert_string_equal(d.d[0].e.text, "No such file or directory");
    /* a folder: its *.rules in name order, nothing else */
    write_file("dir/b.rules", "score A 4\n");
    write_file("dir/a.rules", "rule A {\n    describe \"a\"\n    score 1\n    when message =~ /a/\n"
                              "    test hit \"a\"\n}\n");
    write_file("dir/c.rules.bak", "this is not read\n");
    write_file("dir/.hidden.rules", "nor is this\n");
    path = tmp_path("dir");
    assert_int_equal(load_paths(&path, 1, &d, &rs), DM_OK);
    assert_int_equal(d.n, 0);
    dm_record *rec = record(DM_KIND_INVITATION, M, "a");
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_true(res.score == 4);
    dm_result_free(&res);
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

/* ==== warnings ============================================================================= */

static void test_warning_no_tests(void **state)
{
    (void)state;
    assert_rule_warning(ONE("when message =~ /x/"), 1, 6, "rule R has no tests");
    /* a disabled rule is not nagged about */
    assert_rule_ok(ONE("when message =~ /x/") "disable R\n");
}

#define NEVER(c1, c2)                                                                              \
    "rule R {\n    describe \"r\"\n    score 1\n    when " c1 "\n    when " c2                     \
    "\n    test miss \"x\"\n}\n"

static void test_warning_never_fires(void **state)
{
    (void)state;
    const char *w = "rule R can never fire: this condition contradicts the one on line 4";
    assert_rule_warning(NEVER("message is empty", "message =~ /x/"), 5, 10, w);
    assert_rule_warning(NEVER("message =~ /x/", "message is empty"), 5, 10, w);
    assert_rule_warning(NEVER("subject is empty", "subject is not empty"), 5, 10, w);
    assert_rule_warning(NEVER("kind is invitation", "kind is message"), 5, 10, w);
    assert_rule_warning(NEVER("kind is message", "kind is not message"), 5, 10, w);
    assert_rule_warning(NEVER("kind is not email", "kind is email"), 5, 10, w);
    assert_rule_warning(NEVER("not kind is message", "kind is message"), 5, 10, w);
    assert_rule_warning("rule R {\n    describe \"r\"\n    score 1\n    when kind is not email\n"
                        "    when kind is not invitation\n    when kind is not message\n"
                        "    test miss \"x\"\n}\n",
                        6, 10, "rule R can never fire: its 'kind is not' conditions leave no kind");
    assert_rule_warning(NEVER("mutual > 5", "mutual < 3"), 5, 10, w);
    assert_rule_warning(NEVER("mutual >= 5", "mutual < 5"), 5, 10, w);
    assert_rule_warning(NEVER("mutual == 2", "mutual > 2"), 5, 10, w);
    assert_rule_warning(NEVER("connected", "not connected"), 5, 10, w);
    assert_rule_warning(NEVER("not spinmail", "spinmail"), 5, 10, w);
    assert_rule_warning(NEVER("message =~ /x/", "message !~ /x/"), 5, 10, w);
    assert_rule_warning(NEVER("message !~ /x/", "message =~ /x/"), 5, 10, w);
    /* conditions that can hold together */
    assert_no_warning(NEVER("message is empty", "subject =~ /x/"), "can never fire");
    assert_no_warning(NEVER("message is empty", "message !~ /x/"), "can never fire");
    assert_no_warning(NEVER("mutual > 5", "mutual < 8"), "can never fire");
    assert_no_warning(NEVER("mutual >= 5", "mutual <= 5"), "can never fire");
    assert_no_warning(NEVER("history.incoming > 5", "mutual < 3"), "can never fire");
    assert_no_warning(NEVER("kind is invitation", "kind is not message"), "can never fire");
    assert_no_warning(NEVER("kind is not email", "kind is not message"), "can never fire");
    assert_no_warning(NEVER("connected", "not spinmail"), "can never fire");
    assert_no_warning(NEVER("message =~ /x/", "subject !~ /x/"), "can never fire");
    assert_no_warning(NEVER("message =~ /x/", "message !~ /x/r"), "can never fire");
}

static void test_warning_helper_unused(void **state)
{
    (void)state;
    assert_rule_warning("rule H {\n    helper\n    when message =~ /x/\n    test hit \"x\"\n}\n", 1,
                        6, "rule H is a helper that no meta rule uses: it can never count");
    assert_rule_ok("rule H {\n    helper\n    when message =~ /x/\n    test hit \"x\"\n}\n"
                   "rule M {\n    describe \"m\"\n    score 1\n    meta not H\n"
                   "    test hit \"y\"\n}\n");
}

static void test_lint_clean(void **state)
{
    (void)state;
    assert_rule_ok(
        "# a comment\n"
        "set decline_at 6   # trailing comment\n"
        "set accept_at -2.5\n"
        "list places { \"summit\", \"meetup\" }\n"
        "rule MET {\n"
        "    describe \"Says where you met\"\n"
        "    score -2.5\n"
        "    tags signal, accept\n"
        "    when message =~ /\\bat the ${places}/\n"
        "    test hit \"We met at the summit\"\n"
        "    test miss \"at the summits\"\n"
        "}\n"
        "rule\tTABS\t{\tdescribe \"t\" score +1 when kind is email test miss \"x\" }\r\n");
}

/* ==== evaluation =========================================================================== */

static void test_field_conditions(void **state)
{
    (void)state;
    const char *src =
        "rule IN_MSG {\n    describe \"m\"\n    score 1\n    when message =~ /lead gen/\n}\n"
        "rule IN_SUBJ {\n    describe \"s\"\n    score 1\n    when subject =~ /lead gen/\n}\n"
        "rule NO_URL {\n    describe \"u\"\n    score 1\n    when kind is message\n"
        "    when from.url !~ /linkedin\\.com/\n}\n";
    assert_rule_hits(src, M, "We do lead gen");
    assert_rule_misses(src, M, "We lead great teams");
    assert_rule_hits(src, DM_FIELD_SUBJECT, "lead gen");
    assert_rule_misses(src, DM_FIELD_FROM_NAME, "lead gen");
    dm_ruleset *rs = load_ok(src);
    dm_record *rec = record(DM_KIND_MESSAGE, DM_FIELD_SUBJECT, "LEAD GEN offer");
    assert_fired(rs, rec, NULL, "IN_SUBJ NO_URL");
    assert_int_equal(dm_record_set(rec, DM_FIELD_MESSAGE, "lead  gen", 9), DM_OK);
    assert_int_equal(dm_record_set(rec, DM_FIELD_FROM_URL, "https://www.linkedin.com/in/x", 29),
                     DM_OK);
    assert_fired(rs, rec, NULL, "IN_MSG IN_SUBJ");
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

static void test_any_and_empty(void **state)
{
    (void)state;
    const char *any = ONE("when any =~ /crypto/");
    assert_rule_hits(any, M, "crypto");
    assert_rule_hits(any, DM_FIELD_SUBJECT, "crypto");
    assert_rule_hits(any, DM_FIELD_FROM_NAME, "Crypto Carl");
    assert_rule_hits(any, DM_FIELD_FROM_HEADLINE, "crypto trader");
    assert_rule_hits(any, DM_FIELD_FROM_COMPANY, "CryptoCo crypto");
    /* `any` is the texts people write, not ids, URLs or sources */
    assert_rule_misses(any, DM_FIELD_FROM_URL, "https://x/crypto");
    assert_rule_misses(any, DM_FIELD_ID, "crypto");
    assert_rule_misses(any, DM_FIELD_SOURCE, "crypto");

    const char *empty = ONE("when message is empty");
    assert_rule_hits(empty, M, NULL);
    assert_rule_hits(empty, M, "");
    assert_rule_hits(empty, M, "  \t\n ");
    assert_rule_hits(empty, M, "\xe2\x80\x8b"); /* a zero-width space and nothing else */
    assert_rule_misses(empty, M, ".");
    assert_rule_hits(empty, DM_FIELD_SUBJECT, "only a subject");
    const char *notempty = ONE("when message is not empty");
    assert_rule_misses(notempty, M, NULL);
    assert_rule_misses(notempty, M, " ");
    assert_rule_hits(notempty, M, "hi");
    assert_rule_hits(ONE("when not message is empty"), M, "hi");
    const char *anyempty = ONE("when any is empty");
    assert_rule_hits(anyempty, DM_FIELD_FROM_URL, "https://x");
    assert_rule_misses(anyempty, DM_FIELD_FROM_COMPANY, "Acme");
}

static void test_kind(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok(
        "rule INV {\n    describe \"i\"\n    score 1\n    when kind is invitation\n}\n"
        "rule NOT_MAIL {\n    describe \"n\"\n    score 1\n    when kind is not email\n}\n"
        "rule MAIL {\n    describe \"e\"\n    score 1\n    when not kind is not email\n}\n");
    dm_record *rec = record(DM_KIND_INVITATION, M, NULL);
    assert_fired(rs, rec, NULL, "INV NOT_MAIL");
    dm_record_set_kind(rec, DM_KIND_MESSAGE);
    assert_fired(rs, rec, NULL, "NOT_MAIL");
    dm_record_set_kind(rec, DM_KIND_EMAIL);
    assert_fired(rs, rec, NULL, "MAIL");
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

static void test_numeric_and_yes_no_facts(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok(
        "rule MANY {\n    describe \"m\"\n    score 1\n    when mutual > 5\n}\n"
        "rule FEW {\n    describe \"f\"\n    score 1\n    when mutual < 3\n}\n"
        "rule NOT_TWO {\n    describe \"t\"\n    score 1\n    when mutual != 2\n}\n"
        "rule TALKED {\n    describe \"t\"\n    score 1\n    when history.messages >= 1\n}\n"
        "rule CONN {\n    describe \"c\"\n    score 1\n    when connected\n}\n"
        "rule STRANGER {\n    describe \"s\"\n    score 1\n    when not connected\n"
        "    when not spinmail\n}\n");
    dm_record *rec = record(DM_KIND_INVITATION, M, "hi");
    /* unknown mutual: every comparison is false, even != */
    assert_int_equal(dm_record_mutual(rec), -1);
    assert_fired(rs, rec, NULL, "STRANGER");
    dm_record_set_mutual(rec, 0);
    assert_fired(rs, rec, NULL, "FEW NOT_TWO STRANGER");
    dm_record_set_mutual(rec, 2);
    assert_fired(rs, rec, NULL, "FEW STRANGER");
    dm_record_set_mutual(rec, 6);
    assert_fired(rs, rec, NULL, "MANY NOT_TWO STRANGER");
    dm_record_set_mutual(rec, 5);
    dm_record_add_facts(rec, DM_FACT_CONNECTED);
    assert_fired(rs, rec, NULL, "NOT_TWO CONN");
    dm_record_free(rec);
    rec = record(DM_KIND_INVITATION, M, "hi");
    dm_record_add_facts(rec, DM_FACT_SPINMAIL);
    assert_fired(rs, rec, NULL, "");
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

static const char *const META_RULES =
    "rule a {\n    helper\n    when message =~ /alpha/\n}\n"
    "rule b {\n    helper\n    when message =~ /beta/\n}\n"
    "rule c {\n    helper\n    when message =~ /gamma/\n}\n"
    "rule ALL {\n    describe \"all\"\n    score 1\n    meta a and b and c\n}\n"
    "rule ANY {\n    describe \"any\"\n    score 1\n    meta a or b or c\n}\n"
    "rule TWO {\n    describe \"two\"\n    score 1\n    meta atleast 2 of (a, b, c)\n}\n"
    "rule NONE {\n    describe \"none\"\n    score 1\n    meta not (a or b or c)\n}\n"
    "rule MIX {\n    describe \"mix\"\n    score 1\n    meta a and not b or c\n}\n"
    "rule OF_METAS {\n    describe \"m\"\n    score 1\n    meta TWO and not ALL\n}\n";

static void test_metas(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok(META_RULES);
    static const struct {
        const char *text, *fired;
    } cases[] = {
        {"nothing", "NONE"},
        {"alpha", "ANY MIX"},
        {"beta", "ANY"},
        {"alpha beta", "ANY TWO OF_METAS"},
        {"gamma", "ANY MIX"},
        {"alpha beta gamma", "ALL ANY TWO MIX"},
        {"beta gamma", "ANY TWO MIX OF_METAS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_record *rec = record(DM_KIND_INVITATION, M, cases[i].text);
        assert_fired(rs, rec, NULL, cases[i].fired);
        dm_record_free(rec);
    }
    dm_ruleset_free(rs);
}

static void test_helpers_not_scored(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok("rule h {\n    helper\n    when message =~ /x/\n}\n"
                             "rule M {\n    describe \"m\"\n    score 2\n    meta h\n}\n");
    dm_record *rec = record(DM_KIND_INVITATION, M, "x");
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_string_equal(names(&res), "M");
    assert_true(res.score == 2);
    assert_int_equal(res.verdict, DM_VERDICT_REVIEW);
    dm_result_free(&res);
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

static void test_disable_and_rescore(void **state)
{
    (void)state;
    write_file("base.rules",
               "rule A {\n    describe \"a\"\n    score 3\n    when message =~ /lead/\n"
               "    test hit \"lead\"\n}\n"
               "rule B {\n    describe \"b\"\n    score 2\n    when message =~ /call/\n"
               "    test hit \"call\"\n}\n"
               "rule C {\n    describe \"c\"\n    score 1\n    meta A or B\n"
               "    test hit \"lead\"\n}\n");
    write_file("mine.rules", "disable A\nscore B -1.5\n");
    write_file("later.rules", "score B 4\n");
    const char *one[] = {tmp_path("base.rules")};
    const char *two[] = {tmp_path("base.rules"), tmp_path("mine.rules")};
    const char *three[] = {tmp_path("base.rules"), tmp_path("mine.rules"), tmp_path("later.rules")};
    diags d;
    dm_ruleset *rs;
    dm_record *rec = record(DM_KIND_INVITATION, M, "lead, then a call");
    dm_result res;
    dm_result_init(&res);

    assert_int_equal(load_paths(one, 1, &d, &rs), DM_OK);
    assert_int_equal(dm_ruleset_count(rs), 3);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_string_equal(names(&res), "A B C");
    assert_true(res.score == 6);
    assert_int_equal(res.verdict, DM_VERDICT_DECLINE);
    dm_ruleset_free(rs);

    assert_int_equal(load_paths(two, 2, &d, &rs), DM_OK);
    assert_int_equal(d.n, 0);
    assert_int_equal(dm_ruleset_count(rs), 2);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    /* a disabled rule does not fire, not even for a meta that names it */
    assert_string_equal(names(&res), "B C");
    assert_true(res.score == -0.5);
    assert_true(res.hits[0].score == -1.5);
    assert_int_equal(res.verdict, DM_VERDICT_REVIEW);
    dm_ruleset_free(rs);

    assert_int_equal(load_paths(three, 3, &d, &rs), DM_OK);
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_string_equal(names(&res), "B C");
    assert_true(res.score == 5);
    assert_int_equal(res.verdict, DM_VERDICT_DECLINE);
    dm_ruleset_free(rs);
    dm_result_free(&res);
    dm_record_free(rec);
}

static void test_normalization(void **state)
{
    (void)state;
    const char *src = ONE("when message =~ /lead gen|don't|leadgen|\"free\"/");
    assert_rule_hits(src, M, "\xef\xbc\xac\xef\xbd\x85\xef\xbd\x81\xef\xbd\x84 gen"); /* Ｌｅａｄ */
    assert_rule_hits(src, M, "LEAD\xc2\xa0\xc2\xa0GEN");                              /* nbsp */
    assert_rule_hits(src, M, "lead\xe2\x80\x8bgen");                                  /* ZWSP */
    assert_rule_hits(src, M, "lead\xc2\xadgen"); /* soft hyphen */
    assert_rule_hits(src, M,
                     "\xf0\x9d\x90\xa5\xf0\x9d\x90\x9e\xf0\x9d\x90\x9a\xf0\x9d\x90\x9d"
                     " gen");                       /* math bold */
    assert_rule_hits(src, M, "I don\xe2\x80\x99t"); /* ’ */
    assert_rule_hits(src, M,
                     "a \xe2\x80\x9c"
                     "free\xe2\x80\x9d call"); /* “free” */
    assert_rule_hits(src, M, "lead&nbsp;gen");
    assert_rule_misses(src, M, "leading gently");
    assert_rule_misses(src, M, "dont");
}

static void test_raw_flag(void **state)
{
    (void)state;
    const char *src = ONE("when message =~ /Lead  Gen/r");
    assert_rule_hits(src, M, "We do Lead  Gen");
    assert_rule_misses(src, M, "We do lead  gen"); /* case kept */
    assert_rule_misses(src, M, "We do Lead Gen");  /* spaces not collapsed */
    assert_rule_misses(src, M,
                       "\xef\xbc\xac"
                       "ead  Gen"); /* not normalized */
    assert_rule_hits(ONE("when message =~ /Lead/ri"), M, "lead");
    assert_rule_hits(ONE("when message =~ /\\x{200b}/r"), M, "lead\xe2\x80\x8bgen");
    assert_rule_misses(ONE("when message =~ /\\x{200b}/"), M, "lead\xe2\x80\x8bgen");
    /* the original text may hold invalid UTF-8 */
    assert_rule_hits(ONE("when message =~ /b/r"), M,
                     "a\xff"
                     "b");
}

static void test_lists(void **state)
{
    (void)state;
    const char *src =
        "list biz { \"dental practice\", \"law firm\", \"A&B co.\", \"caf\xc3\xa9\" }\n" ONE(
            "when message =~ /your ${biz}/");
    assert_rule_hits(src, M, "your dental practice");
    assert_rule_hits(src, M, "YOUR LAW FIRM");
    assert_rule_hits(src, M, "your a&b co. rocks"); /* punctuation is literal */
    assert_rule_hits(src, M, "your CAFE\xcc\x81");  /* entries are normalized like the text */
    assert_rule_misses(src, M, "your law firms");   /* whole words */
    assert_rule_misses(src, M, "your axb co");
    assert_rule_misses(src, M, "your dental");
    /* an empty list matches nothing */
    assert_rule_misses("list none { }\n" ONE("when message =~ /x|${none}/"), M, "y");
}

static dm_context *me_context(void)
{
    dm_context *ctx;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_me_set(ctx, "Dana Whitfield", "Dental practice consultant", "Dentistry"),
                     DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "Keystone Valve & Fitting Co.", 1), DM_OK);
    assert_int_equal(dm_me_add_company(ctx, "Brightsmile Dental", 0), DM_OK);
    return ctx;
}

static void test_me(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok(
        "list biz { \"dental practice\", \"law firm\", \"bakery\" }\n"
        "rule PITCH {\n    describe \"p\"\n    score 2\n    when message =~ /your ${biz - me}/\n}\n"
        "rule CO {\n    describe \"c\"\n    score -3\n    when message =~ /${me.companies}/\n}\n"
        "rule NAME {\n    describe \"n\"\n    score 0\n    when message =~ /\\bhi "
        "${me.name}/\n}\n");
    dm_context *ctx = me_context();
    assert_int_equal(dm_ruleset_bind(rs, ctx, NULL), DM_OK);
    static const struct {
        const char *text, *fired;
    } cases[] = {
        /* a dental practice consultant is pitched neither "your dental practice" ... */
        {"grow your dental practice", ""},
        /* ... but is about a law firm */
        {"grow your law firm", "PITCH"},
        {"grow your bakery", "PITCH"},
        {"we met at Keystone Valve & Fitting", "CO"},
        {"we met at KEYSTONE VALVE & FITTING CO.", "CO"},
        {"Brightsmile Dental days!", "CO"},
        {"Brightsmile Dentalware", ""},
        {"Hi Dana Whitfield", "NAME"},
        {"hi dana, long time", "NAME"},
        {"hi danae", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_record *rec = record(DM_KIND_INVITATION, M, cases[i].text);
        assert_fired(rs, rec, ctx, cases[i].fired);
        dm_record_free(rec);
    }
    /* rebinding to nobody: ${me.*} matches nothing, and ${biz - me} is the whole list */
    assert_int_equal(dm_ruleset_bind(rs, NULL, NULL), DM_OK);
    dm_record *rec = record(DM_KIND_INVITATION, M, "your dental practice at Brightsmile Dental");
    assert_fired(rs, rec, NULL, "PITCH");
    dm_record_free(rec);
    /* eval binds with its own context when nobody bound */
    dm_ruleset_free(rs);
    rs = load_ok(
        "rule CO {\n    describe \"c\"\n    score -3\n    when message =~ /${me.companies}/\n}\n");
    rec = record(DM_KIND_INVITATION, M, "ex-Brightsmile Dental");
    assert_fired(rs, rec, ctx, "CO");
    dm_record_free(rec);
    dm_ruleset_free(rs);
    dm_context_free(ctx);
}

static void test_history(void **state)
{
    (void)state;
    dm_ruleset *rs =
        load_ok("rule PITCH {\n    describe \"p\"\n    score 3\n    tags pitch\n"
                "    when message =~ /lead generation/\n}\n"
                "rule AGAIN {\n    describe \"a\"\n    score 2\n    when history.pitched\n}\n"
                "rule FRESH {\n    describe \"f\"\n    score 0\n    when not history.pitched\n}\n"
                "rule KNOWN {\n    describe \"k\"\n    score -3\n    when history.outgoing > 0\n"
                "    when not history.weak\n}\n"
                "rule WEAK {\n    describe \"w\"\n    score 0\n    when history.weak\n}\n");
    dm_context *ctx;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_me_set(ctx, "Me Myself", NULL, NULL), DM_OK);
    assert_int_equal(dm_context_add_message(ctx, "https://www.linkedin.com/in/victor",
                                            "Victor Crane", 1,
                                            "Hi! We offer lead generation for coaches."),
                     DM_OK);
    assert_int_equal(dm_context_add_message(ctx, "https://www.linkedin.com/in/nadia",
                                            "Nadia Brooks", 1, "Lovely to meet you"),
                     DM_OK);
    assert_int_equal(dm_context_add_message(ctx, "https://www.linkedin.com/in/nadia",
                                            "Nadia Brooks", 0, "Likewise!"),
                     DM_OK);
    assert_int_equal(dm_context_add_message(ctx, NULL, "Ellis Park", 0, "Hello Ellis"), DM_OK);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_int_equal(dm_ruleset_bind(rs, ctx, NULL), DM_OK);

    static const struct {
        const char *url, *name, *text, *fired;
    } cases[] = {
        /* the note is clean, but the sender pitched before */
        {"https://www.linkedin.com/in/victor/", "Victor Crane", "Hello", "AGAIN"},
        {"https://www.linkedin.com/in/victor", "V.", "We offer lead generation", "PITCH AGAIN"},
        {"https://www.linkedin.com/in/nadia", "Nadia Brooks", "Hello", "FRESH KNOWN"},
        {NULL, "Ellis Park", "Hello", "FRESH WEAK"},
        {"https://www.linkedin.com/in/someone", "Victor Crane", "Hello", "FRESH"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_record *rec = record(DM_KIND_INVITATION, M, cases[i].text);
        if (cases[i].url)
            dm_record_set(rec, DM_FIELD_FROM_URL, cases[i].url, strlen(cases[i].url));
        dm_record_set(rec, DM_FIELD_FROM_NAME, cases[i].name, strlen(cases[i].name));
        dm_context_attach(ctx, rec);
        assert_fired(rs, rec, ctx, cases[i].fired);
        /* twice: the pitched cache gives the same */
        assert_fired(rs, rec, ctx, cases[i].fired);
        dm_record_free(rec);
    }
    dm_ruleset_free(rs);
    dm_context_free(ctx);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_match_limit(void **state)
{
    (void)state;
    dm_ruleset *rs =
        load_ok("rule EVIL {\n    describe \"e\"\n    score 5\n    when message =~ /(a+)+$/\n}\n"
                "rule FINE {\n    describe \"f\"\n    score 1\n    when message =~ /aaab/\n}\n");
    size_t n = 100 * 1024;
    char *text = malloc(n + 2);
    assert_non_null(text);
    memset(text, 'a', n);
    text[n] = 'b';
    text[n + 1] = '\0';
    dm_record *rec = record(DM_KIND_INVITATION, M, text);
    dm_result res;
    dm_result_init(&res);
    double t0 = now_s();
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    double took = now_s() - t0;
    if (took > 0.5)
        fail_msg("the match took %.2f s", took);
    assert_string_equal(names(&res), "FINE");
    assert_int_equal(res.nlimited, 1);
    assert_string_equal(res.limited[0], "EVIL");
    /* the same record again, and a harmless one: the limit is per record */
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_int_equal(res.nlimited, 1);
    dm_record_free(rec);
    rec = record(DM_KIND_INVITATION, M, "aaaa");
    assert_int_equal(dm_ruleset_eval(rs, rec, NULL, &res, NULL), DM_OK);
    assert_string_equal(names(&res), "EVIL");
    assert_int_equal(res.nlimited, 0);
    /* in-rule tests that hit the limit fail */
    dm_record_free(rec);
    dm_result_free(&res);
    free(text);
    dm_ruleset_free(rs);
}

static void check_span(dm_ruleset *rs, int field, const char *text, const char *name,
                       const char *want)
{
    dm_record *rec = record(DM_KIND_INVITATION, field, text);
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_ruleset_explain(rs, rec, NULL, &res, NULL), DM_OK);
    const dm_hit *h = NULL;
    for (size_t i = 0; i < res.nhits; i++)
        if (strcmp(res.hits[i].name, name) == 0)
            h = &res.hits[i];
    if (!h)
        fail_msg("%s did not fire on \"%s\" (fired \"%s\")", name, text, names(&res));
    if (!want) {
        assert_int_equal(h->field, -1);
    } else {
        assert_int_equal(h->field, field);
        assert_true(h->start <= h->end && h->end <= strlen(text));
        if (h->end - h->start != strlen(want) || memcmp(text + h->start, want, strlen(want)))
            fail_msg("span [%zu, %zu) is \"%.*s\", wanted \"%s\"", h->start, h->end,
                     (int)(h->end - h->start), text + h->start, want);
    }
    dm_result_free(&res);
    dm_record_free(rec);
}

static void test_explain_spans(void **state)
{
    (void)state;
    dm_ruleset *rs =
        load_ok("rule LEAD {\n    describe \"l\"\n    score 3\n    when message =~ /lead gen/\n}\n"
                "rule RAW {\n    describe \"r\"\n    score 1\n    when message =~ /Gen/r\n}\n"
                "rule SUBJ {\n    describe \"s\"\n    score 1\n    when kind is invitation\n"
                "    when any =~ /urgent/\n}\n"
                "rule h {\n    helper\n    when message =~ /now/\n}\n"
                "rule META {\n    describe \"m\"\n    score 1\n    meta h\n}\n"
                "rule EMPTY {\n    describe \"e\"\n    score 1\n    when from.name is empty\n}\n");
    const char *full = "We do \xef\xbc\xac\xef\xbd\x85\xef\xbd\x81\xef\xbd\x84 gen now";
    check_span(rs, M, full, "LEAD", "\xef\xbc\xac\xef\xbd\x85\xef\xbd\x81\xef\xbd\x84 gen");
    check_span(rs, M, "Ｌｅａｄ Gen", "RAW", "Gen");
    check_span(rs, M, "LEAD\xe2\x80\x8b gen", "LEAD", "LEAD\xe2\x80\x8b gen");
    check_span(rs, M, "so   LEAD \n\t GEN!", "LEAD", "LEAD \n\t GEN");
    check_span(rs, M, "lead&nbsp;gen", "LEAD", "lead&nbsp;gen");
    check_span(rs, DM_FIELD_SUBJECT, "\xf0\x9f\x94\xa5 URGENT", "SUBJ", "URGENT");
    check_span(rs, DM_FIELD_FROM_HEADLINE, "Urgent!", "SUBJ", "Urgent");
    check_span(rs, M, "now", "META", NULL);
    check_span(rs, M, "now", "EMPTY", NULL);
    dm_ruleset_free(rs);
}

typedef struct failures {
    size_t n;
    dm_error e[8];
} failures;

static int on_failure(void *ud, dm_severity sev, const dm_error *e)
{
    failures *f = ud;
    assert_int_equal(sev, DM_SEV_ERROR);
    if (f->n < 8)
        f->e[f->n++] = *e;
    return 0;
}

static void test_rule_tests(void **state)
{
    (void)state;
    dm_ruleset *rs =
        load_ok("rule A {\n"                             /* 1 */
                "    describe \"a\"\n"                   /* 2 */
                "    score 1\n"                          /* 3 */
                "    when message =~ /lead gen/\n"       /* 4 */
                "    test hit \"We do lead gen\"\n"      /* 5 */
                "    test miss \"We do lead gen too\"\n" /* 6: fails */
                "    test miss \"leading\"\n"            /* 7 */
                "}\n"                                    /* 8 */
                "rule B {\n"                             /* 9 */
                "    describe \"b\"\n"                   /* 10 */
                "    score 1\n"                          /* 11 */
                "    when kind is message\n"             /* 12 */
                "    when subject =~ /offer/\n"          /* 13 */
                "    test hit subject \"An offer\"\n"    /* 14 */
                "  test hit \"An offer\"\n"              /* 15: fails */
                "}\n"                                    /* 16 */
                "rule C {\n    describe \"c\"\n    score 1\n    when message =~ /x/\n"
                "    test miss \"x marks it\"\n    test miss \"x\"\n}\n"
                "disable C\n"
                "rule D {\n    describe \"d\"\n    score 1\n    when message =~ /(a+)+$/\n"
                "    test miss \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"\n}\n"
                "rule E {\n    describe \"e\"\n    score 1\n    when message =~ /${me.companies}/\n"
                "    test hit \"at Acme Valve & Fitting\"\n}\n");
    failures f = {0};
    size_t passed = 99, failed = 99;
    assert_int_equal(dm_ruleset_test(rs, on_failure, &f, &passed, &failed, NULL), DM_OK);
    assert_int_equal(passed, 4);
    assert_int_equal(failed, 3);
    assert_int_equal(f.n, 3);
    assert_string_equal(base(f.e[0].source), "t.rules");
    assert_int_equal(f.e[0].line, 6);
    assert_int_equal(f.e[0].column, 5);
    assert_string_equal(f.e[0].text,
                        "rule A: expected a miss, but it fired on message \"We do lead gen too\"");
    assert_int_equal(f.e[1].line, 15);
    assert_int_equal(f.e[1].column, 3);
    assert_string_equal(f.e[1].text,
                        "rule B: expected a hit, but it did not fire on message \"An offer\"");
    assert_int_equal(f.e[2].line, 29);
    assert_int_equal(f.e[2].column, 5);
    assert_non_null(strstr(f.e[2].text, "rule D: hit the PCRE2 match limit on message"));
    /* the ruleset is left unbound and runs as before */
    dm_record *rec = record(DM_KIND_INVITATION, M, "lead gen at Acme Valve & Fitting");
    assert_fired(rs, rec, NULL, "A");
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

/* a meta's tests run as the kind its rules ask for: it has no 'when' of its own */
static void test_rule_tests_meta_kind(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok("rule h {\n    helper\n    when kind is message\n"
                             "    when message =~ /invoice/\n    test hit \"invoice\"\n}\n"
                             "rule g {\n    helper\n    when kind is email\n"
                             "    when subject =~ /re:/\n}\n"
                             "rule M {\n    describe \"m\"\n    score 1\n    meta not g and h\n"
                             "    test hit \"your invoice\"\n}\n"
                             "rule N {\n    describe \"n\"\n    score 1\n    meta M\n"
                             "    test hit \"the invoice\"\n}\n");
    size_t passed = 0, failed = 0;
    assert_int_equal(dm_ruleset_test(rs, NULL, NULL, &passed, &failed, NULL), DM_OK);
    assert_int_equal(passed, 3);
    assert_int_equal(failed, 0);
    dm_ruleset_free(rs);
}

/* T(with): a rule R whose one test, on line 4, is 'test hit with ' with ' "x"' */
#define T(with)                                                                                    \
    "rule R {\n    describe \"r\"\n    score 1\n    test hit with " with " \"x\"\n"                \
    "    when mutual > 1\n}\n"

/* the facts of a test's 'with': what lint says about them, and where */
static void test_rule_tests_with_errors(void **state)
{
    (void)state;
    /* column 19 is the first fact after "    test hit with " */
    assert_rule_error(T("mutal = 3"), DM_ESYNTAX, 4, 19, "unknown fact 'mutal' for a test");
    assert_rule_error(T("mutual = 3, mutual = 4"), DM_ESYNTAX, 4, 31,
                      "mutual is given twice in this test (first at column 19)");
    assert_rule_error(T("connected, connected"), DM_ESYNTAX, 4, 30, "connected is given twice");
    assert_rule_error(T("mutual = 2.5"), DM_ESYNTAX, 4, 28,
                      "bad number 2.5 for mutual: a whole number from 0 to 10000");
    assert_rule_error(T("history.outgoing = -1"), DM_ESYNTAX, 4, 38,
                      "bad number -1 for history.outgoing");
    assert_rule_error(T("history.incoming = 10001"), DM_ESYNTAX, 4, 38,
                      "bad number 10001 for history.incoming");
    assert_rule_error(T("mutual = 3x"), DM_ESYNTAX, 4, 28, "bad number '3x'");
    assert_rule_error(T("mutual = many"), DM_ESYNTAX, 4, 28, "expected a number, found 'many'");
    assert_rule_error(T("mutual 3"), DM_ESYNTAX, 4, 26,
                      "expected '=' after mutual, found number 3");
    assert_rule_error(T("kind = letter"), DM_ESYNTAX, 4, 26,
                      "expected a kind: invitation, message or email, found 'letter'");
    assert_rule_error(T("history.text = 3"), DM_ESYNTAX, 4, 34,
                      "expected the text of an earlier message, a string, found number 3");
    assert_rule_error(T("html = 1"), DM_ESYNTAX, 4, 24,
                      "html is a yes/no fact: name it to set it, with no '='");
    assert_rule_error(T("history.pitched"), DM_ESYNTAX, 4, 19,
                      "history.pitched cannot be set: it holds when one of the sender's earlier");
    assert_rule_error(T("connected mutual = 3"), DM_ESYNTAX, 4, 29,
                      "expected ',' between the facts after 'with', found 'mutual'");
    assert_rule_error(T("\"x\""), DM_ESYNTAX, 4, 19,
                      "expected a fact after 'with', found a string");
    /* counts that do not add up */
    assert_rule_error(T("history.messages = 3, history.incoming = 1, history.outgoing = 1"),
                      DM_ESYNTAX, 4, 19,
                      "history.messages = 3 is not history.incoming + history.outgoing (1 + 1)");
    assert_rule_error(T("history.messages = 1, history.incoming = 2"), DM_ESYNTAX, 4, 19,
                      "history.messages = 1 is fewer than the 2 incoming messages");
    assert_rule_error(T("history.text = \"a\", history.incoming = 0"), DM_ESYNTAX, 4, 39,
                      "history.incoming = 0 is fewer than the 1 history.text given");
    assert_rule_error(T("history.weak"), DM_ESYNTAX, 4, 19, "history.weak needs a history");
    /* a fact without 'with' */
    assert_rule_error("rule R {\n    describe \"r\"\n    score 1\n    test miss mutual = 3 \"x\"\n"
                      "    when mutual > 1\n}\n",
                      DM_ESYNTAX, 4, 15,
                      "a test sets one field; 'mutual' is a fact: "
                      "write 'test miss with mutual ...'");
    /* several mistakes in one list: each is reported, and the rule's other tests stand */
    assert_rule_errors("rule R {\n"                                               /* 1 */
                       "    describe \"r\"\n"                                     /* 2 */
                       "    score 1\n"                                            /* 3 */
                       "    when mutual > 1\n"                                    /* 4 */
                       "    test hit with mutal = 3, mutual = -3, kind = email \"x\"\n" /* 5 */
                       "    test hit with mutual = 3 from.name \"x\"\n"           /* 6 */
                       "}\n",
                       {DM_ESYNTAX, 5, 19, "unknown fact 'mutal'"},
                       {DM_ESYNTAX, 5, 39, "bad number -3 for mutual"});
    /* and what is right loads without a word */
    assert_rule_ok("rule R {\n    describe \"r\"\n    score 1\n    when mutual > 1\n"
                   "    test hit with kind = email, mutual = 3, history.messages = 4,\n"
                   "        history.incoming = 2, history.text = \"a\", history.weak,\n"
                   "        spinmail, no_sender_url, connected, html from.company \"x\"\n"
                   "    test miss \"x\"\n}\n");
}

/* tests with facts: the record gets them the way a run does, and a failure says them */
static void test_rule_tests_with(void **state)
{
    (void)state;
    dm_ruleset *rs = load_ok(
        "rule PITCH {\n    describe \"p\"\n    score 3\n    tags pitch\n"   /* 1-4 */
        "    when message =~ /lead generation/\n"                              /* 5 */
        "    test hit \"lead generation\"\n}\n"                                /* 6-7 */
        "rule AGAIN {\n    describe \"a\"\n    score 2\n"                      /* 8-10 */
        "    when history.pitched\n    when history.outgoing == 0\n"          /* 11-12 */
        "    test hit with history.text = \"Hi\", history.text = \"We do lead generation\" "
        "\"Hello\"\n"                                                          /* 13 */
        "    test miss with history.text = \"We do lead generation\", history.outgoing = 2 "
        "\"Hello\"\n"                                                          /* 14 */
        "    test hit with history.text = \"Nice to meet you\" \"Hello\"\n"    /* 15: fails */
        "}\n"                                                                  /* 16 */
        "rule KNOWN {\n    describe \"k\"\n    score -3\n"                     /* 17-19 */
        "    when history.outgoing > 0\n    when history.incoming >= 2\n"     /* 20-21 */
        "    when history.messages == 5\n    when not history.weak\n"         /* 22-23 */
        "    test hit with history.messages = 5, history.incoming = 2 \"Hello\"\n" /* 24 */
        "    test miss with history.messages = 5, history.incoming = 2, history.weak \"Hello\"\n"
        "    test miss with history.messages = 5, history.incoming = 2, no_sender_url "
        "\"Hello\"\n"                                                          /* 26 */
        "}\n"                                                                  /* 27 */
        "rule SPONSORED {\n    describe \"s\"\n    score 5\n"                  /* 28-30 */
        "    when kind is message\n    when spinmail\n    when not html\n"    /* 31-33 */
        "    when no_sender_url\n    when subject =~ /offer/\n"               /* 34-35 */
        "    when mutual == 0\n"                                               /* 36 */
        "    test hit with mutual = 0, spinmail, no_sender_url subject \"An offer\"\n" /* 37 */
        "    test miss with kind = email, mutual = 0, spinmail, no_sender_url subject "
        "\"An offer\"\n"                                                       /* 38 */
        "    test hit with mutual = 0, spinmail, no_sender_url, html subject \"An offer\"\n"
        "}\n"                                                                  /* 40 */
        "rule FRIEND {\n    describe \"f\"\n    score -4\n    when connected\n" /* 41-44 */
        "    when from.name =~ /dana/\n"                                       /* 45 */
        "    test hit with connected, no_sender_url from.name \"Dana Field\"\n" /* 46 */
        "    test miss with connected, history.weak, history.incoming = 1 \"Dana\"\n"
        "}\n");                                                                /* 48 */
    failures f = {0};
    size_t passed = 99, failed = 99;
    assert_int_equal(dm_ruleset_test(rs, on_failure, &f, &passed, &failed, NULL), DM_OK);
    assert_int_equal(passed, 10);
    assert_int_equal(failed, 2);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.e[0].code, DM_ESYNTAX);
    assert_string_equal(base(f.e[0].source), "t.rules");
    assert_int_equal(f.e[0].line, 15);
    assert_int_equal(f.e[0].column, 5);
    assert_string_equal(f.e[0].text, "rule AGAIN: expected a hit, but it did not fire on message "
                                     "\"Hello\" with history.text=\"Nice to meet you\"");
    assert_int_equal(f.e[1].line, 39);
    assert_int_equal(f.e[1].column, 5);
    assert_string_equal(f.e[1].text, "rule SPONSORED: expected a hit, but it did not fire on "
                                     "subject \"An offer\" with mutual=0, spinmail, "
                                     "no_sender_url, html");
    /* the tests leave nothing behind: the ruleset runs as before, with no history */
    dm_record *rec = record(DM_KIND_INVITATION, M, "Hello");
    assert_fired(rs, rec, NULL, "");
    dm_record_free(rec);
    dm_ruleset_free(rs);
}

/* every shipped rule has a test it must fire on and one it must not, and they pass */
static void test_default_rules_tested(void **state)
{
    (void)state;
    const char *path = DM_SOURCE_DIR "/rules";
    diags d;
    dm_ruleset *rs;
    assert_int_equal(load_paths(&path, 1, &d, &rs), DM_OK);
    assert_int_equal(d.n, 0); /* no warning either */
    for (size_t i = 0; i < rs->nrules; i++) {
        const rule *r = &rs->rules[i];
        size_t hits = 0, misses = 0;
        for (size_t t = 0; t < r->ntests; t++)
            r->tests[t].hit ? hits++ : misses++;
        if (!hits || !misses)
            fail_msg("rule %s (%s:%d) has %zu test hit and %zu test miss", r->name,
                     base(r->pos.file), r->pos.line, hits, misses);
    }
    failures f = {0};
    size_t passed = 0, failed = 99;
    assert_int_equal(dm_ruleset_test(rs, on_failure, &f, &passed, &failed, NULL), DM_OK);
    if (failed)
        fail_msg("%zu failed, first: %s:%d: %s", failed, base(f.e[0].source), f.e[0].line,
                 f.e[0].text);
    assert_true(passed >= 2 * rs->nrules);
    dm_ruleset_free(rs);
}

/* ==== allocation failures ================================================================= */


static const char *const CHAOS_RULES =
    "set decline_at 4\n"
    "list biz { \"dental practice\", \"law firm\", \"bakery\" }\n"
    "list more \"sub/words.list\"\n"
    "rule PITCH {\n    describe \"p\"\n    score 2\n    tags pitch\n"
    "    when message =~ /your ${biz - me}|lead gen/\n    test hit \"lead gen\"\n}\n"
    "rule MORE {\n    describe \"m\"\n    score 1\n    when any =~ /${more}/\n    test miss "
    "\"x\"\n}\n"
    "rule CO {\n    describe \"c\"\n    score -3\n    when message =~ "
    "/${me.companies}|${me.name}/\n"
    "    test miss \"x\"\n}\n"
    "rule h1 {\n    helper\n    when kind is invitation\n    when mutual < 3\n}\n"
    "rule h2 {\n    helper\n    when subject =~ /Offer/r\n}\n"
    "rule META {\n    describe \"x\"\n    score 1.5\n    meta atleast 1 of (h1, h2) and not CO\n"
    "    test miss \"x\"\n}\n"
    "rule AGAIN {\n    describe \"a\"\n    score 2\n    when history.pitched\n    test miss "
    "\"x\"\n"
    "    test hit with history.text = \"we do lead gen\", history.outgoing = 1, connected,\n"
    "        mutual = 3, no_sender_url, html \"x\"\n}\n"
    "rule OFF {\n    describe \"o\"\n    score 9\n    when message is not empty\n    test miss "
    "\"\"\n}\n"
    "disable OFF\n"
    "score MORE 0.5\n";

/* the first error of a load that failed, to show when it should not have */
static char chaos_diag[512];

static int chaos_on_diag(void *ud, dm_severity sev, const dm_error *e)
{
    (void)ud;
    if (sev == DM_SEV_ERROR && !chaos_diag[0])
        snprintf(chaos_diag, sizeof chaos_diag, "%s:%d:%d: %s", base(e->source), e->line, e->column,
                 e->text);
    return 0;
}

/*
 * one_run() loads CHAOS_RULES, binds, and explains two records; it returns
 * the first status that is not DM_OK and writes what it saw to out.
 */
static dm_status one_run(char *out, size_t outlen)
{
    dm_ruleset *rs = NULL;
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    dm_result res;
    dm_result_init(&res);
    const char *path = tmp_path("chaos.rules");
    dm_rules_opts o = {.diag = chaos_on_diag, .diag_ud = NULL};
    chaos_diag[0] = '\0';
    dm_status st = dm_ruleset_load(&path, 1, &o, &rs, NULL, NULL);
    out[0] = '\0';
    if (st == DM_OK)
        st = dm_context_create(&ctx);
    if (st == DM_OK)
        st = dm_me_set(ctx, "Dana Whitfield", "Dental practice consultant", NULL);
    if (st == DM_OK)
        st = dm_me_add_company(ctx, "Keystone Valve & Fitting Co.", 1);
    if (st == DM_OK)
        st = dm_context_add_message(ctx, "https://x/in/v", "Victor", 1, "we do lead gen");
    if (st == DM_OK)
        st = dm_context_finish(ctx, NULL);
    if (st == DM_OK)
        st = dm_ruleset_bind(rs, ctx, NULL);
    if (st == DM_OK)
        st = dm_record_create(&rec);
    static const char *const texts[] = {"Grow your law firm",
                                        "ＬＥＡＤ gen at keystone valve & fitting"};
    for (size_t i = 0; st == DM_OK && i < 2; i++) {
        dm_record_clear(rec);
        dm_record_set_kind(rec, DM_KIND_INVITATION);
        st = dm_record_set(rec, DM_FIELD_MESSAGE, texts[i], strlen(texts[i]));
        if (st == DM_OK)
            st = dm_record_set(rec, DM_FIELD_SUBJECT, "Offer", 5);
        if (st == DM_OK)
            st = dm_record_set(rec, DM_FIELD_FROM_URL, "https://x/in/v", 14);
        if (st == DM_OK) {
            dm_context_attach(ctx, rec);
            st = dm_ruleset_explain(rs, rec, ctx, &res, NULL);
        }
        if (st == DM_OK) {
            size_t l = strlen(out);
            snprintf(out + l, outlen - l, "%s=%g:", names(&res), res.score);
            for (size_t k = 0; k < res.nhits; k++) {
                l = strlen(out);
                snprintf(out + l, outlen - l, "[%d %zu %zu]", res.hits[k].field, res.hits[k].start,
                         res.hits[k].end);
            }
            l = strlen(out);
            snprintf(out + l, outlen - l, ";");
        }
    }
    if (st == DM_OK) {
        size_t passed = 0, failed = 0;
        st = dm_ruleset_test(rs, NULL, NULL, &passed, &failed, NULL);
        size_t l = strlen(out);
        if (st == DM_OK)
            snprintf(out + l, outlen - l, "tests %zu/%zu", passed, failed);
    }
    dm_result_free(&res);
    dm_record_free(rec);
    dm_context_free(ctx);
    dm_ruleset_free(rs);
    return st;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    write_file("chaos.rules", CHAOS_RULES);
    write_file("sub/words.list", "dental practice\nlaw firm\n");
    char base_out[1024], got[1024];
    mem_now = 0;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
    dm_status st = one_run(base_out, sizeof base_out);
    dm_set_alloc_funcs(NULL, NULL, NULL);
    assert_int_equal(st, DM_OK);
    assert_int_equal(mem_now, 0);
    assert_string_equal(base_out, "PITCH MORE META AGAIN=6:[9 5 18][9 10 18][-1 0 0][-1 0 0];"
                                  "PITCH CO AGAIN=1:[9 0 16][9 20 44][-1 0 0];tests 6/0");
    size_t nomem = 0;
    for (long n = 0;; n++) {
        mem_now = 0;
        injected = 0;
        fail_countdown = n;
        dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
        st = one_run(got, sizeof got);
        dm_set_alloc_funcs(NULL, NULL, NULL);
        fail_countdown = -1;
        if (mem_now != 0)
            fail_msg("failing allocation %ld leaks %zu bytes", n, mem_now);
        if (st == DM_ENOMEM) {
            assert_true(injected);
            nomem++;
        } else if (st != DM_OK || strcmp(got, base_out) != 0) {
            fail_msg("failing allocation %ld: %s, \"%s\" (wanted DM_ENOMEM, or \"%s\"); %s", n,
                     dm_strerror(st), got, base_out, chaos_diag);
        }
        if (!injected)
            break;
    }
    assert_true(nomem > 50);
}

/*
 * A bind that fails (out of memory) half way must leave the ruleset to be
 * bound again by the next eval, not run on what was freed.
 */
static void test_bind_failure_then_eval(void **state)
{
    (void)state;
    mem_now = 0;
    fail_countdown = -1;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
    dm_ruleset *rs = load_ok("list biz { \"law firm\", \"dental practice\" }\n"
                             "rule PITCH {\n    describe \"p\"\n    score 2\n"
                             "    when message =~ /your ${biz - me}/\n}\n"
                             "rule CO {\n    describe \"c\"\n    score -3\n"
                             "    when message =~ /${me.companies}/\n}\n");
    dm_context *ctx = me_context();
    dm_record *rec =
        record(DM_KIND_INVITATION, M, "your law firm, your dental practice, Brightsmile Dental");
    assert_int_equal(dm_ruleset_bind(rs, ctx, NULL), DM_OK);
    assert_fired(rs, rec, ctx, "PITCH CO");
    size_t nfail = 0;
    for (long n = 0;; n++) {
        injected = 0;
        fail_countdown = n;
        dm_status st = dm_ruleset_bind(rs, ctx, NULL);
        fail_countdown = -1;
        if (!injected) {
            assert_int_equal(st, DM_OK);
            break;
        }
        /* the literal extraction may give up on a pattern and let it always
         * run (prefilter.c): slower, but the same verdicts */
        if (st != DM_OK) {
            assert_int_equal(st, DM_ENOMEM);
            nfail++;
        }
        assert_fired(rs, rec, ctx, "PITCH CO");
    }
    assert_true(nfail > 5);
    dm_record_free(rec);
    dm_context_free(ctx);
    dm_ruleset_free(rs);
    dm_set_alloc_funcs(NULL, NULL, NULL);
    assert_int_equal(mem_now, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_lbrace),
        cmocka_unit_test(test_missing_rbrace),
        cmocka_unit_test(test_unknown_item),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_lexer_details),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_unexpected_characters),
        cmocka_unit_test(test_expected_what),
        cmocka_unit_test(test_error_recovery),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_matches_everything),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_unknown_flags),
        cmocka_unit_test(test_rule_structure),
        cmocka_unit_test(test_duplicate_rules),
        cmocka_unit_test(test_meta_errors),
        cmocka_unit_test(test_list_errors),
        cmocka_unit_test(test_list_files),
        cmocka_unit_test(test_override_errors),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_warning_no_tests),
        cmocka_unit_test(test_warning_never_fires),
        cmocka_unit_test(test_warning_helper_unused),
        cmocka_unit_test(test_lint_clean),
        cmocka_unit_test(test_field_conditions),
        cmocka_unit_test(test_any_and_empty),
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_numeric_and_yes_no_facts),
        cmocka_unit_test(test_metas),
        cmocka_unit_test(test_helpers_not_scored),
        cmocka_unit_test(test_disable_and_rescore),
        cmocka_unit_test(test_normalization),
        cmocka_unit_test(test_raw_flag),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_me),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_match_limit),
        cmocka_unit_test(test_explain_spans),
        cmocka_unit_test(test_rule_tests),
        cmocka_unit_test(test_rule_tests_meta_kind),
        cmocka_unit_test(test_rule_tests_with_errors),
        cmocka_unit_test(test_rule_tests_with),
        cmocka_unit_test(test_default_rules_tested),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_bind_failure_then_eval),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
