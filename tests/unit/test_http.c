/*
 * test_http.c: the HTTP JSON source's pieces that need no server
 * (src/fetch/): JSON Pointers, loading a mapping and every error of it,
 * turning an item into a record, URLs that are refused, and a transfer to a
 * closed loopback port with its retries.  The server-side behaviour is in
 * tests/e2e/test_http.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "doorman.h"
#include "fetch/fetch.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dm-test-http.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* write_file() writes `text` to a file in tmpdir with `mode`; returns its path (static). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[128];
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
    assert_mapping_error("{\"auth\": {\"type\": \"bearer\"}}", 0600, DM_EFORMAT, 0,
                         "mapping: \"auth\" needs \"env\" (an environment variable) or "
                         "\"secret\"");
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
    assert_int_equal(dm_http_open("http://me:hunter2@127.0.0.1:1/x", 0, &h, &err), DM_EINVAL);
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
    assert_int_equal(dm_http_open(url, 0, &h, &err), DM_EIO);
    assert_null(h);
    assert_int_equal(err.code, DM_EIO);
    assert_string_equal(err.source, "http://127.0.0.1:1/list");
    assert_true(strncmp(err.text, "page 1: ", 8) == 0);
    assert_non_null(strstr(err.text, "(after 3 attempts)"));
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
