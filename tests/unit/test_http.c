/*
 * test_http.c: the HTTP JSON source's pieces that need no server
 * (src/fetch/): JSON Pointers, loading a mapping and every error of it,
 * turning an item into a record, URLs that are refused, and a transfer to a
 * closed loopback port with its retries, the Retry-After parser; and,
 * against tests/http/server.py on loopback (started here), the "since"
 * cursor, progress, own-schema body paging and the config file's secret.
 * The rest of the server-side behaviour is in tests/e2e/test_http.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "doorman.h"
#include "fetch/fetch.h"
#include "testutil.h"

static char tmpdir[256];
static pid_t server_pid;
static char server_base[64]; /* http://127.0.0.1:PORT */

static int setup(void **state)
{
    (void)state;
    /* loopback only: never through a proxy from the environment */
    setenv("no_proxy", "127.0.0.1", 1);
    setenv("NO_PROXY", "127.0.0.1", 1);
    return scratch_mkdtemp(tmpdir, sizeof tmpdir, "http");
}

static int teardown(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    return scratch_rmtree(tmpdir);
}

/* write_file() writes `text` to a file in tmpdir with `mode`; returns its path (static). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    assert_non_null(v);
    return v;
}

#define assert_pointer_str(root, ptr, want)                                                        \
    assert_string_equal(json_string_value(dm_json_pointer(root, ptr)), want)

static void test_pointer(void **state)
{
    (void)state;
    json_t *doc = parse("{\"a\": {\"b\": [\"x\", \"y\"]}, \"c/d\": \"slash\", \"e~f\": \"tilde\","
                        " \"\": \"empty\"}");
    assert_pointer_str(doc, "/a/b/0", "x");
    assert_pointer_str(doc, "/a/b/1", "y");
    assert_pointer_str(doc, "/c~1d", "slash");
    assert_pointer_str(doc, "/e~0f", "tilde");
    assert_pointer_str(doc, "/", "empty");
    assert_ptr_equal(dm_json_pointer(doc, ""), doc);
    assert_null(dm_json_pointer(doc, "/a/b/2"));
    assert_null(dm_json_pointer(doc, "/a/b/01"));
    assert_null(dm_json_pointer(doc, "/a/b/-"));
    assert_null(dm_json_pointer(doc, "/a/nope"));
    assert_null(dm_json_pointer(doc, "/a/b/0/deeper"));
    assert_null(dm_json_pointer(doc, "a"));
    json_decref(doc);
}

static void test_is_url(void **state)
{
    (void)state;
    assert_true(dm_http_is_url("http://127.0.0.1/x"));
    assert_true(dm_http_is_url("HTTPS://example.org"));
    assert_false(dm_http_is_url("imaps://host/INBOX"));
    assert_false(dm_http_is_url("http.json"));
    assert_false(dm_http_is_url("-"));
}

static void test_unofficial_mapping(void **state)
{
    (void)state;
    dm_mapping *m = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(
        dm_mapping_load(DM_SOURCE_DIR "/examples/mappings/linkedin-unofficial.json", &m, &err),
        DM_OK);
    assert_string_equal(m->items, "/elements");
    assert_int_equal(m->paging, DM_PAGING_BODY);
    assert_string_equal(m->next_pointer, "/paging/next");
    assert_string_equal(m->total_pointer, "/paging/total");
    assert_int_equal(m->auth, DM_AUTH_BEARER);
    assert_string_equal(m->auth_env, "DOORMAN_API_TOKEN");
    json_t *item = parse(
        "{\"invitation\": {\"entityUrn\": \"urn:li:fs_relInvitation:7\", \"message\": \"Hi\","
        " \"sentTime\": 1770893040000, \"fromMember\": {\"firstName\": \"Ada\","
        " \"lastName\": \"Byron\", \"occupation\": \"Analyst\", \"publicIdentifier\": \"ada-b\"}},"
        " \"insights\": {\"sharedConnections\": {\"count\": 12}}}");
    json_t *rec = dm_mapping_apply(m, item);
    assert_non_null(rec);
    char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s,
                        "{\"direction\":\"incoming\",\"from\":{\"headline\":\"Analyst\","
                        "\"name\":\"Ada Byron\",\"url\":\"https://www.linkedin.com/in/ada-b\"},"
                        "\"id\":\"urn:li:fs_relInvitation:7\",\"kind\":\"invitation\","
                        "\"message\":\"Hi\",\"mutual\":12,\"sent_at\":\"2026-02-12T10:44:00Z\"}");
    free(s);
    json_decref(rec);
    json_decref(item);

    /* what is missing or null stays missing; a join keeps what it finds */
    item = parse("{\"invitation\": {\"message\": null, \"sentTime\": \"1770893100000\","
                 " \"fromMember\": {\"firstName\": \"Solo\"}}}");
    rec = dm_mapping_apply(m, item);
    s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"direction\":\"incoming\",\"from\":{\"name\":\"Solo\"},"
                           "\"kind\":\"invitation\",\"sent_at\":\"2026-02-12T10:45:00Z\"}");
    free(s);
    json_decref(rec);
    json_decref(item);
    dm_mapping_free(m);
}

static void test_mapping_types(void **state)
{
    (void)state;
    const char *p = write_file("types.json",
                               "{\"items\": \"\", \"fields\": {"
                               " \"from.name\": {\"join\": [\"/f\", \"/l\"], \"sep\": \", \"},"
                               " \"mutual\": {\"pointer\": \"/m\", \"type\": \"integer\"},"
                               " \"id\": \"/n\"},"
                               " \"next\": {\"type\": \"offset\", \"param\": \"start\","
                               "            \"limit\": 50},"
                               " \"http\": {\"retries\": 1, \"retry_base_ms\": 5,"
                               "            \"max_bytes\": 1000}}",
                               0644);
    dm_mapping *m = NULL;
    assert_int_equal(dm_mapping_load(p, &m, NULL), DM_OK);
    assert_int_equal(m->paging, DM_PAGING_OFFSET);
    assert_int_equal(m->limit, 50);
    assert_int_equal(m->retries, 1);
    assert_int_equal(m->retry_base_ms, 5);
    assert_int_equal(m->max_bytes, 1000);
    assert_int_equal(m->timeout_ms, 60000); /* a default */
    json_t *item = parse("{\"f\": \"Last\", \"l\": \"First\", \"m\": \"7\", \"n\": 42}");
    /* numbers as strings are read; other strings are left for the reader to report */
    json_t *odd = parse("{\"m\": \"many\", \"l\": \"Only\"}");
    json_t *orec = dm_mapping_apply(m, odd);
    char *os = json_dumps(orec, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(os, "{\"from\":{\"name\":\"Only\"},\"mutual\":\"many\"}");
    free(os);
    json_decref(orec);
    json_decref(odd);
    json_t *rec = dm_mapping_apply(m, item);
    char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"from\":{\"name\":\"Last, First\"},\"id\":\"42\",\"mutual\":7}");
    free(s);
    json_decref(rec);
    json_decref(item);
    dm_mapping_free(m);
}

/* assert_mapping_error(TEXT, MODE, CODE, LINE, WANT): loading TEXT fails so */
static void assert_mapping_error(const char *text, mode_t mode, dm_status code, int line,
                                 const char *want)
{
    const char *p = write_file("bad.json", text, mode);
    dm_mapping *m = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_mapping_load(p, &m, &err), code);
    assert_null(m);
    assert_int_equal(err.code, code);
    assert_int_equal(err.line, line);
    assert_string_equal(err.source, p);
    assert_string_equal(err.text, want);
}

static void test_mapping_errors(void **state)
{
    (void)state;
    assert_mapping_error("{\"items\": \"/x\",\n \"fields\": {,}}", 0644, DM_ESYNTAX, 2,
                         "mapping: string or '}' expected near ','");
    assert_mapping_error("[]", 0644, DM_EFORMAT, 0, "mapping: the mapping must be a JSON object");
    assert_mapping_error("{\"fields\": {\"id\": \"/id\"}}", 0644, DM_EFORMAT, 0,
                         "mapping: \"fields\" needs \"items\"");
    assert_mapping_error("{\"items\": \"\", \"fields\": {\"id\": 3}}", 0644, DM_EFORMAT, 0,
                         "mapping: a field must be a JSON Pointer or an object");
    assert_mapping_error("{\"next\": {\"type\": \"cursor\", \"param\": \"c\"}}", 0644, DM_EFORMAT,
                         0, "mapping: this \"next.type\" needs \"next.pointer\"");
    assert_mapping_error("{\"next\": {\"type\": \"pages\"}}", 0644, DM_EFORMAT, 0,
                         "mapping: \"next.type\" must be \"none\", \"body\", \"link\", "
                         "\"cursor\" or \"offset\"");
    assert_mapping_error("{\"http\": {\"retries\": -1}}", 0644, DM_EFORMAT, 0,
                         "mapping: \"retries\" must be a whole number, 0 or more");
    assert_mapping_error("{\"auth\": {\"type\": \"bearer\", \"secret\": \"hunter2\"}}", 0640,
                         DM_EFORMAT, 0,
                         "mapping: holds a secret but others may read it; refusing it (chmod "
                         "600 it, or name an \"env\" instead)");
    dm_mapping *m = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_mapping_load("/nonexistent/mapping.json", &m, &err), DM_ENOENT);
    assert_string_equal(err.text, "mapping: No such file or directory");
}

static void test_url_with_password(void **state)
{
    (void)state;
    dm_httpsrc *h = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_http_open("http://me:hunter2@127.0.0.1:1/x", NULL, &h, &err), DM_EINVAL);
    assert_null(h);
    assert_string_equal(err.source, "(URL)");
    assert_null(strstr(err.text, "hunter2"));
    assert_non_null(strstr(err.text, "the URL holds a password"));
}

/* A closed loopback port: a network error, retried, then named with URL and page. */
static void test_connection_refused(void **state)
{
    (void)state;
    const char *p = write_file("fast.json",
                               "{\"http\": {\"retries\": 2, \"retry_base_ms\": 1,"
                               " \"connect_timeout_ms\": 500}}",
                               0644);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:1/list#mapping=%s", p);
    dm_httpsrc *h = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_http_open(url, NULL, &h, &err), DM_EIO);
    assert_null(h);
    assert_int_equal(err.code, DM_EIO);
    assert_string_equal(err.source, "http://127.0.0.1:1/list");
    assert_true(strncmp(err.text, "page 1: ", 8) == 0);
    assert_non_null(strstr(err.text, "(after 3 attempts)"));
}

/* ---- Retry-After ---------------------------------------------------------------- */

static void test_retry_after(void **state)
{
    (void)state;
    time_t now = 1445412480 - 60; /* 60 s before Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(dm_http_retry_after("120", now), 120);
    assert_int_equal(dm_http_retry_after(" 0 ", now), 0);
    assert_int_equal(dm_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 60);
    assert_int_equal(dm_http_retry_after("  Wed, 21 Oct 2015 07:28:00 GMT\r\n", now), 60);
    assert_int_equal(dm_http_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now), 60);
    assert_int_equal(dm_http_retry_after("Wed Oct 21 07:28:00 2015", now), 60);
    assert_int_equal(dm_http_retry_after("Thu Oct  1 00:00:00 2015", 1443657600 - 5), 5);
    assert_int_equal(dm_http_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", now), 86400 + 60);
    assert_int_equal(dm_http_retry_after("Sun, 29 Feb 2004 00:00:00 GMT", 1078012800 - 1), 1);
    assert_int_equal(dm_http_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now), 0); /* past */
    assert_int_equal(dm_http_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);
    assert_int_equal(dm_http_retry_after("soon", now), -1);
    assert_int_equal(dm_http_retry_after("", now), -1);
    assert_int_equal(dm_http_retry_after("12s", now), -1);
    assert_int_equal(dm_http_retry_after("-5", now), -1);
    assert_int_equal(dm_http_retry_after("Wed, 21 Oct 2015 07:28:00 UTC", now), -1);
    assert_int_equal(dm_http_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now), -1);
    assert_int_equal(dm_http_retry_after("Sun, 29 Feb 2015 07:28:00 GMT", now), -1);
    assert_int_equal(dm_http_retry_after("Wed, 21 Oct 2015 24:28:00 GMT", now), -1);
    assert_int_equal(dm_http_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", now), -1);
    assert_int_equal(dm_http_retry_after("Wed, 21 Oct 2015 07:28 GMT", now), -1);
}

static void test_mapping_since(void **state)
{
    (void)state;
    const char *p = write_file("since.json",
                               "{\"since\": {\"pointer\": \"/invitation/sentTime\","
                               " \"param\": \"createdAfter\"}, \"total\": \"/paging/total\","
                               " \"http\": {\"retry_total_ms\": 1500}}",
                               0644);
    dm_mapping *m = NULL;
    assert_int_equal(dm_mapping_load(p, &m, NULL), DM_OK);
    assert_string_equal(m->since_pointer, "/invitation/sentTime");
    assert_string_equal(m->since_param, "createdAfter");
    assert_string_equal(m->total_pointer, "/paging/total");
    assert_int_equal(m->retry_total_ms, 1500);
    assert_null(m->items);
    dm_mapping_free(m);
    dm_mapping d;
    dm_mapping_defaults(&d);
    assert_int_equal(d.retry_total_ms, 300000);
    /* own schema with a next URL in the body is a mapping of its own */
    p = write_file("ownbody.json", "{\"next\": {\"type\": \"body\", \"pointer\": \"/next\"}}",
                   0644);
    assert_int_equal(dm_mapping_load(p, &m, NULL), DM_OK);
    assert_int_equal(m->paging, DM_PAGING_BODY);
    dm_mapping_free(m);
    /* auth without env or secret: the config file's secret, given when opened */
    p = write_file("noenv.json", "{\"auth\": {\"type\": \"basic\"}}", 0644);
    assert_int_equal(dm_mapping_load(p, &m, NULL), DM_OK);
    assert_int_equal(m->auth, DM_AUTH_BASIC);
    assert_null(m->auth_env);
    assert_null(m->secret);
    dm_mapping_free(m);

    assert_mapping_error("{\"since\": {\"pointer\": \"/a\"}}", 0644, DM_EFORMAT, 0,
                         "mapping: \"since\" needs \"pointer\" and \"param\"");
    assert_mapping_error("{\"since\": \"/a\"}", 0644, DM_EFORMAT, 0,
                         "mapping: \"since\" must be an object");
    assert_mapping_error("{\"since\": {\"pointer\": \"a\", \"param\": \"p\"}}", 0644,
                         DM_EFORMAT, 0,
                         "mapping: \"since.pointer\" must be a JSON Pointer (\"/...\")");
    assert_mapping_error("{\"total\": 3}", 0644, DM_EFORMAT, 0,
                         "mapping: \"total\" must be a string");
    assert_mapping_error("{\"http\": {\"retry_total_ms\": \"1s\"}}", 0644, DM_EFORMAT, 0,
                         "mapping: \"retry_total_ms\" must be a whole number, 0 or more");
}

/* ---- against tests/http/server.py -------------------------------------------------- */

/* server(): the test server's base URL, started on first use (its log: tmpdir/log). */
static const char *server(void)
{
    if (server_pid > 0)
        return server_base;
    char script[512], portf[512], logf[512];
    snprintf(script, sizeof script, "%s/tests/http/server.py", DM_SOURCE_DIR);
    snprintf(portf, sizeof portf, "%s/port", tmpdir);
    snprintf(logf, sizeof logf, "%s/log", tmpdir);
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid == 0) {
        execlp("python3", "python3", script, "--port-file", portf, "--log", logf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portf, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(server_base, sizeof server_base, "http://127.0.0.1:%d", port);
            return server_base;
        }
        int status;
        if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
            server_pid = 0;
            fail_msg("the test server (python3 %s) exited", script);
        }
        usleep(50000);
    }
    fail_msg("the test server did not start");
    return NULL;
}

/* server_log(): what the server was asked since the last call, a path and query a line. */
static const char *server_log(void)
{
    static char text[8192];
    char logf[512];
    snprintf(logf, sizeof logf, "%s/log", tmpdir);
    FILE *f = fopen(logf, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    f = fopen(logf, "w"); /* emptied for the next check */
    if (f)
        fclose(f);
    return text;
}

typedef struct seen {
    int calls;
    dm_progress p[16];
    char source[256];
} seen;

static void on_progress(void *ud, const dm_progress *p)
{
    seen *s = ud;
    assert_string_equal(p->unit, "page");
    snprintf(s->source, sizeof s->source, "%s", p->source);
    if (s->calls < 16)
        s->p[s->calls] = *p;
    s->calls++;
}

/* read_all(): the number of records of `url` with `opts`; *cursor gets dm_http_cursor(). */
static int read_all(const char *url, const dm_http_opts *opts, char *cursor, size_t n,
                    int *has_cursor)
{
    dm_httpsrc *h = NULL;
    dm_error err;
    dm_error_clear(&err);
    dm_status st = dm_http_open(url, opts, &h, &err);
    if (st != DM_OK)
        fail_msg("dm_http_open(%s): %s: %s", url, err.source, err.text);
    int count = 0;
    dm_record *rec = NULL;
    assert_int_equal(dm_record_create(&rec), DM_OK);
    while ((st = dm_http_next(h, rec, &err)) == DM_OK)
        count++;
    if (st != DM_END)
        fail_msg("dm_http_next(%s): %s: %s", url, err.source, err.text);
    *has_cursor = dm_http_cursor(h, cursor, n);
    dm_record_free(rec);
    dm_http_free(h);
    return count;
}

static const char SINCE_MAPPING[] =
    "{\"items\": \"/elements\", \"fields\": {\"id\": \"/invitation/entityUrn\","
    " \"kind\": {\"value\": \"invitation\"}, \"direction\": {\"value\": \"incoming\"},"
    " \"from.name\": \"/invitation/fromMember/firstName\"},"
    " \"next\": {\"type\": \"offset\", \"param\": \"start\", \"limit_param\": \"count\","
    " \"limit\": 2},"
    " \"since\": {\"pointer\": \"/invitation/sentTime\", \"param\": \"createdAfter\"},"
    " \"total\": \"/paging/total\"}";

/* The cursor over a mapped listing by offset, with a total: progress page by page. */
static void test_since_progress(void **state)
{
    (void)state;
    const char *base = server();
    const char *map = write_file("since-map.json", SINCE_MAPPING, 0644);
    char url[512], cur[128];
    snprintf(url, sizeof url, "%s/since#mapping=%s", base, map);
    int has;
    seen s;
    memset(&s, 0, sizeof s);
    dm_http_opts o = {.progress = on_progress, .progress_ud = &s};
    server_log();

    /* the first run: everything, the greatest sentTime as the cursor */
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 6);
    assert_int_equal(has, 1);
    assert_string_equal(cur, "since:1770893340000");
    assert_string_equal(server_log(), "/since?start=0&count=2\n/since?start=2&count=2\n"
                                      "/since?start=4&count=2\n"); /* the total ends it */
    assert_int_equal(s.calls, 3);
    assert_string_equal(s.source, url);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.p[i].done, i + 1);
        assert_int_equal(s.p[i].total, 3);
        assert_int_equal(s.p[i].records, 2 * i); /* records had when the page came */
        assert_int_equal(s.p[i].records_total, 6);
    }

    /* a later run: the param on every page built from the first URL */
    o.since = "1770893160000";
    memset(&s, 0, sizeof s);
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 3);
    assert_int_equal(has, 1);
    assert_string_equal(cur, "since:1770893340000");
    assert_string_equal(server_log(), "/since?start=0&count=2&createdAfter=1770893160000\n"
                                      "/since?start=2&count=2&createdAfter=1770893160000\n");
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.p[1].done, 2);
    assert_int_equal(s.p[1].total, 2);
    assert_int_equal(s.p[1].records, 2);
    assert_int_equal(s.p[1].records_total, 3);

    /* nothing new: the cursor stays */
    o.since = "1770893340000";
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 0);
    assert_int_equal(has, 1);
    assert_string_equal(cur, "since:1770893340000");
    assert_string_equal(server_log(), "/since?start=0&count=2&createdAfter=1770893340000\n");

    /* a server answering "at or after": the record seen again, the cursor the same */
    snprintf(url, sizeof url, "%s/since?ge=1#mapping=%s", base, map);
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 1);
    assert_string_equal(cur, "since:1770893340000");
    assert_string_equal(server_log(), "/since?ge=1&start=0&count=2&createdAfter=1770893340000\n");

    /* a cursor that does not fit is not written */
    snprintf(url, sizeof url, "%s/since#mapping=%s", base, map);
    o.since = NULL;
    assert_int_equal(read_all(url, &o, cur, 10, &has), 6);
    assert_int_equal(has, 0);
    assert_string_equal(cur, "");
    server_log();

    /* without "since" in the mapping: no cursor, whatever opts.since says */
    o.since = "5";
    o.progress = NULL;
    snprintf(url, sizeof url, "%s/own.jsonl", base);
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 3);
    assert_int_equal(has, 0);
    assert_string_equal(cur, "");
    assert_string_equal(server_log(), "/own.jsonl\n");
}

/* doorman's own schema: a next URL in the body; JSONL cannot carry one. */
static void test_own_body_paging(void **state)
{
    (void)state;
    const char *base = server();
    char map[128]; /* write_file()'s path is overwritten by the next one */
    snprintf(map, sizeof map, "%s",
             write_file("ownbody.json",
                        "{\"next\": {\"type\": \"body\", \"pointer\": \"/next\"},"
                        " \"since\": {\"pointer\": \"/sent_at\", \"param\": \"after\"}}",
                        0644));
    char url[512], cur[128];
    int has;
    seen s;
    memset(&s, 0, sizeof s);
    dm_http_opts o = {.progress = on_progress, .progress_ud = &s};
    snprintf(url, sizeof url, "%s/ownbody#mapping=%s", base, map);
    server_log();
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 3);
    assert_string_equal(server_log(), "/ownbody\n/ownbody?page=2\n/ownbody?page=3\n");
    assert_int_equal(has, 1);
    assert_string_equal(cur, "since:2026-02-13T10:00:00Z"); /* strings: the greatest */
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.p[2].done, 3);
    assert_int_equal(s.p[2].total, 0);
    assert_int_equal(s.p[2].records, 2);
    assert_int_equal(s.p[2].records_total, 0);

    /* JSONL with "since": read line by line, the param URL-encoded */
    o.since = "2026-02-11T10:00:00Z";
    const char *m2 = write_file("sincel.json",
                                "{\"since\": {\"pointer\": \"/sent_at\", \"param\": \"after\"}}",
                                0644);
    snprintf(url, sizeof url, "%s/sincel#mapping=%s", base, m2);
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 2);
    /* (libcurl's URL API may write the hex digits in either case) */
    assert_int_equal(strcasecmp(server_log(), "/sincel?after=2026-02-11T10%3A00%3A00Z\n"), 0);
    assert_string_equal(cur, "since:2026-02-13T10:00:00Z");

    /* JSONL and a next URL in the body */
    snprintf(url, sizeof url, "%s/own.jsonl#mapping=%s", base, map);
    dm_httpsrc *h = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_http_open(url, NULL, &h, &err), DM_EFORMAT);
    assert_null(h);
    assert_int_equal(err.code, DM_EFORMAT);
    char want[128];
    snprintf(want, sizeof want, "%s/own.jsonl", base);
    assert_string_equal(err.source, want);
    assert_int_equal(err.line, 0);
    assert_true(strncmp(err.text, "page 1: the page is not one JSON document (", 43) == 0);
    assert_non_null(strstr(err.text, "next.type \"body\" needs {\"records\": [...], ...} or an "
                                     "array, not JSONL"));
}

/* The config file's secret: a bearer token when the mapping names none. */
static void test_config_secret(void **state)
{
    (void)state;
    const char *base = server();
    char url[512], cur[16];
    int has;
    dm_http_opts o = {.secret = "s3cret-token"};
    snprintf(url, sizeof url, "%s/auth", base);
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 3);
    const char *map = write_file("bearer-noenv.json", "{\"auth\": {\"type\": \"bearer\"}}", 0644);
    snprintf(url, sizeof url, "%s/auth#mapping=%s", base, map);
    assert_int_equal(read_all(url, &o, cur, sizeof cur, &has), 3);
    /* the mapping's env wins over the config file */
    map = write_file("bearer-env.json",
                     "{\"auth\": {\"type\": \"bearer\", \"env\": \"DM_TEST_TOKEN\"},"
                     " \"http\": {\"retries\": 0}}",
                     0644);
    snprintf(url, sizeof url, "%s/auth#mapping=%s", base, map);
    setenv("DM_TEST_TOKEN", "wrong-token", 1);
    dm_httpsrc *h = NULL;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_http_open(url, &o, &h, &err), DM_EIO);
    assert_string_equal(err.text, "page 1: HTTP status 401");
    unsetenv("DM_TEST_TOKEN");
    /* bearer without env or secret, and none configured */
    map = write_file("bearer-none.json", "{\"auth\": {\"type\": \"bearer\"}}", 0644);
    snprintf(url, sizeof url, "%s/auth#mapping=%s", base, map);
    dm_error_clear(&err);
    assert_int_equal(dm_http_open(url, NULL, &h, &err), DM_EINVAL);
    assert_string_equal(err.text, "page 1: the mapping's auth has no secret (auth.env or "
                                  "auth.secret) and doorman's config file gives none");
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* retry_total_ms: a page that always fails is given up in time, however many retries. */
static void test_retry_total(void **state)
{
    (void)state;
    const char *base = server();
    const char *map = write_file("total.json",
                                 "{\"http\": {\"retries\": 100, \"retry_base_ms\": 200,"
                                 " \"retry_max_ms\": 400, \"retry_total_ms\": 1500}}",
                                 0644);
    char url[512], want[128];
    snprintf(url, sizeof url, "%s/always500#mapping=%s", base, map);
    dm_httpsrc *h = NULL;
    dm_error err;
    dm_error_clear(&err);
    long long t0 = mono_ms();
    assert_int_equal(dm_http_open(url, NULL, &h, &err), DM_EIO);
    long long ms = mono_ms() - t0;
    assert_null(h);
    snprintf(want, sizeof want, "%s/always500", base);
    assert_string_equal(err.source, want);
    assert_true(strncmp(err.text, "page 1: HTTP status 500 (gave up after ", 39) == 0);
    assert_non_null(strstr(err.text, " attempts in 1."));
    assert_true(ms >= 1000 && ms < 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_is_url),
        cmocka_unit_test(test_unofficial_mapping),
        cmocka_unit_test(test_mapping_types),
        cmocka_unit_test(test_mapping_errors),
        cmocka_unit_test(test_url_with_password),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_mapping_since),
        cmocka_unit_test(test_since_progress),
        cmocka_unit_test(test_own_body_paging),
        cmocka_unit_test(test_config_secret),
        cmocka_unit_test(test_retry_total),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
