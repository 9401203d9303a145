/*
 * test_state.c: the state database (src/state/state.c): created private,
 * refused when others may read it, schema versions (newer refused, older
 * migrated), a run's cursor and records, a run that dies before its
 * commit, UIDVALIDITY resets, the history query and its filters, limits,
 * allocation failures, several processes writing at once, and the key
 * guarantee: runs killed with SIGKILL at random moments, then rerun, give
 * every record, and repeat only the one record a killed run was writing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "testalloc.h"

static char dir[256]; /* a scratch folder per test */

static int setup(void **state)
{
    (void)state;
    return scratch_setup(dir, sizeof dir, "state");
}

static int teardown(void **state)
{
    (void)state;
    return scratch_teardown(dir); /* fails on a leak */
}

/* db_path() is DIR/name, in one of 8 static buffers used in turn. */
static const char *db_path(const char *name)
{
    static char paths[8][512];
    static unsigned next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    return path;
}

static dm_state *open_ok(const char *path)
{
    dm_state *st = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_open(path, &st, &err), DM_OK);
    assert_int_equal(err.code, DM_OK);
    assert_non_null(st);
    return st;
}

/* assert_open_error() checks every field of the error of opening `path`. */
static void assert_open_error(const char *path, dm_status code, const char *text)
{
    dm_state *st = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_open(path, &st, &err), code);
    assert_null(st);
    assert_int_equal(err.code, code);
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_string_equal(err.source, path);
    assert_string_equal(err.text, text);
}

/* sql() runs `text` on the database at `path` behind doorman's back. */
static void sql(const char *path, const char *text)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* sql_int() is the integer the query `text` returns. */
static long sql_int(const char *path, const char *text)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_prepare_v2(db, text, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long v = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void stage(dm_state *st, const char *id, dm_verdict v, double score, const char *rules,
                  int64_t when)
{
    dm_state_entry e = {.id = id, .verdict = v, .score = score, .rules = rules, .first_seen = when};
    assert_int_equal(dm_state_record(st, &e, NULL, NULL), DM_OK);
}

static dm_state_seen_kind seen(dm_state *st, const char *id)
{
    dm_state_seen_kind k = (dm_state_seen_kind)-1;
    assert_int_equal(dm_state_seen(st, id, &k, NULL), DM_OK);
    return k;
}

/* ---- the file ------------------------------------------------------------------------ */

static void test_create_private(void **state)
{
    (void)state;
    const char *path = db_path("a/b/state.db");
    mode_t old = umask(0); /* the modes must not come from the umask */
    dm_state *st = open_ok(path);
    umask(old);
    assert_int_equal(dm_state_schema_version(st), DM_STATE_SCHEMA_VERSION);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(stat(db_path("a/b"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_int_equal(stat(db_path("a"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    /* a write makes the WAL file: private too */
    assert_int_equal(dm_state_begin_run(st, "https://api.example/inv", NULL, NULL, NULL), DM_OK);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    dm_state_close(st);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_journal_mode"
                                   " WHERE journal_mode = 'wal'"),
                     1);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), DM_STATE_SCHEMA_VERSION);
    /* opened again: the same database */
    st = open_ok(path);
    dm_state_close(st);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM source"), 1);
}

static void test_refuse_readable(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state_close(open_ok(path));
    assert_int_equal(chmod(path, 0644), 0);
    assert_open_error(path, DM_EINVAL,
                      "the state database may be read or written by others (mode 0644);"
                      " make it private with chmod 600");
    assert_int_equal(chmod(path, 0620), 0);
    assert_open_error(path, DM_EINVAL,
                      "the state database may be read or written by others (mode 0620);"
                      " make it private with chmod 600");
    assert_int_equal(chmod(path, 0600), 0);
    dm_state_close(open_ok(path));
    /* a folder is not a database */
    assert_int_equal(mkdir(db_path("d"), 0700), 0);
    assert_open_error(db_path("d"), DM_EINVAL, "the state database is not a file");
    /* no path */
    dm_state *st = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_open("", &st, &err), DM_EINVAL);
    assert_string_equal(err.text, "no state database path");
    assert_null(st);
}

static void test_not_sqlite(void **state)
{
    (void)state;
    const char *path = db_path("junk.db");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    assert_open_error(path, DM_EFORMAT,
                      "state database: PRAGMA journal_mode = WAL: file is not a database");
}

static void test_schema_newer_refused(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state_close(open_ok(path));
    sql(path, "PRAGMA user_version = 7");
    assert_open_error(path, DM_EFORMAT,
                      "the state database has schema version 7, newer than this doorman"
                      " knows (1): use a newer doorman, or another --state file");
    /* left as it was */
    assert_int_equal(sql_int(path, "PRAGMA user_version"), 7);
}

static void test_schema_migrated(void **state)
{
    (void)state;
    /* an existing private SQLite file at version 0 (made by something older) */
    const char *path = db_path("old.db");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    sql(path, "CREATE TABLE unrelated(x); INSERT INTO unrelated VALUES (42)");
    dm_state *st = open_ok(path);
    assert_int_equal(dm_state_schema_version(st), 1);
    assert_int_equal(dm_state_begin_run(st, "s", NULL, NULL, NULL), DM_OK);
    stage(st, "r1", DM_VERDICT_ACCEPT, -3, "FOLLOW_UP", 0);
    dm_state_close(st);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), 1);
    assert_int_equal(sql_int(path, "SELECT x FROM unrelated"), 42);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM record"), 1);
}

/* ---- runs ------------------------------------------------------------------------------ */

static void test_run_cursor(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    const char *src = "imaps://me@mail.example/INBOX";
    dm_state *st = open_ok(path);
    const char *cursor = "not set";
    int64_t uv = -1;
    assert_int_equal(dm_state_begin_run(st, src, &cursor, &uv, NULL), DM_OK);
    assert_null(cursor);
    assert_int_equal(uv, 0);
    assert_int_equal(seen(st, "uid:1"), DM_STATE_NEW);
    stage(st, "uid:1", DM_VERDICT_DECLINE, 14.5, "PITCH_STACK,PITCH_PILL", 1000);
    assert_int_equal(seen(st, "uid:1"), DM_STATE_PENDING);
    assert_int_equal(dm_state_deliver(st, "uid:1", NULL), DM_OK);
    assert_int_equal(seen(st, "uid:1"), DM_STATE_DELIVERED);
    /* the stored verdict comes with it */
    dm_state_seen_kind kind = DM_STATE_NEW;
    dm_verdict v = DM_VERDICT_ACCEPT;
    assert_int_equal(dm_state_seen_verdict(st, "uid:1", &kind, &v, NULL), DM_OK);
    assert_int_equal(kind, DM_STATE_DELIVERED);
    assert_int_equal(v, DM_VERDICT_DECLINE);
    v = DM_VERDICT_ACCEPT; /* a record never seen: left as it was */
    assert_int_equal(dm_state_seen_verdict(st, "uid:404", &kind, &v, NULL), DM_OK);
    assert_int_equal(kind, DM_STATE_NEW);
    assert_int_equal(v, DM_VERDICT_ACCEPT);
    /* staging a delivered record again (re-triage) keeps it delivered and first seen */
    stage(st, "uid:1", DM_VERDICT_REVIEW, 1, "NO_NOTE", 2000);
    assert_int_equal(seen(st, "uid:1"), DM_STATE_DELIVERED);
    assert_int_equal(dm_state_seen_verdict(st, "uid:1", &kind, &v, NULL), DM_OK);
    assert_int_equal(v, DM_VERDICT_REVIEW); /* the verdict of the latest triage */
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_deliver(st, "uid:2", &err), DM_ENOENT);
    assert_string_equal(err.text, "state database: record uid:2 was not staged in this run");
    assert_string_equal(err.source, path);
    assert_int_equal(dm_state_commit_run(st, "uidvalidity:123 last_uid:45", 123, NULL), DM_OK);
    /* the run is over */
    memset(&err, 0, sizeof err);
    dm_state_seen_kind k;
    assert_int_equal(dm_state_seen(st, "uid:1", &k, &err), DM_EINVAL);
    assert_string_equal(err.text, "state database: no run was begun (dm_state_begin_run)");
    dm_state_close(st);

    st = open_ok(path);
    assert_int_equal(dm_state_begin_run(st, src, &cursor, &uv, NULL), DM_OK);
    assert_string_equal(cursor, "uidvalidity:123 last_uid:45");
    assert_int_equal(uv, 123);
    assert_int_equal(seen(st, "uid:1"), DM_STATE_DELIVERED);
    /* NULL and 0 keep cursor and UIDVALIDITY */
    assert_int_equal(dm_state_commit_run(st, NULL, 0, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(st, src, &cursor, &uv, NULL), DM_OK);
    assert_string_equal(cursor, "uidvalidity:123 last_uid:45");
    assert_int_equal(uv, 123);
    /* another source knows nothing of it */
    assert_int_equal(dm_state_begin_run(st, "https://other", &cursor, &uv, NULL), DM_OK);
    assert_null(cursor);
    assert_int_equal(seen(st, "uid:1"), DM_STATE_NEW);
    dm_state_close(st);
    assert_int_equal(sql_int(path, "SELECT first_seen FROM record WHERE rid = 'uid:1'"), 1000);
    assert_int_equal(sql_int(path, "SELECT score FROM record WHERE rid = 'uid:1'"), 1);
}

static void test_run_dies_before_commit(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state *st = open_ok(path);
    assert_int_equal(dm_state_begin_run(st, "src", NULL, NULL, NULL), DM_OK);
    stage(st, "a", DM_VERDICT_ACCEPT, -8, "", 0);
    assert_int_equal(dm_state_commit_run(st, "cursor-1", 0, NULL), DM_OK);

    /* the next run stages b and c, delivers b, and never commits */
    assert_int_equal(dm_state_begin_run(st, "src", NULL, NULL, NULL), DM_OK);
    stage(st, "b", DM_VERDICT_ACCEPT, -8, "", 0);
    assert_int_equal(dm_state_deliver(st, "b", NULL), DM_OK);
    stage(st, "c", DM_VERDICT_DECLINE, 9, "", 0);
    dm_state_close(st);

    st = open_ok(path);
    const char *cursor = NULL;
    assert_int_equal(dm_state_begin_run(st, "src", &cursor, NULL, NULL), DM_OK);
    assert_string_equal(cursor, "cursor-1"); /* did not advance */
    assert_int_equal(seen(st, "a"), DM_STATE_DELIVERED);
    assert_int_equal(seen(st, "b"), DM_STATE_DELIVERED);
    assert_int_equal(seen(st, "c"), DM_STATE_PENDING); /* produced again */
    /* batch mode: the commit delivers what this run staged, not c (not re-staged) */
    stage(st, "d", DM_VERDICT_REVIEW, 0, "", 0);
    assert_int_equal(dm_state_commit_run(st, "cursor-2", 0, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(st, "src", &cursor, NULL, NULL), DM_OK);
    assert_string_equal(cursor, "cursor-2");
    assert_int_equal(seen(st, "d"), DM_STATE_DELIVERED);
    assert_int_equal(seen(st, "c"), DM_STATE_PENDING);
    dm_state_close(st);
}

/* write_at() writes `text` at the end of DIR/name and returns the offset it was written at. */
static int64_t write_at(const char *name, const char *text)
{
    int fd = open(db_path(name), O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    int64_t off = lseek(fd, 0, SEEK_END);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return off;
}

static void stage_out(dm_state *st, const char *id, const char *out, int64_t off, const char *text)
{
    dm_state_entry e = {.id = id, .verdict = DM_VERDICT_ACCEPT};
    dm_state_output o = {.path = out, .offset = off, .bytes = text, .len = strlen(text)};
    assert_int_equal(dm_state_record(st, &e, &o, NULL), DM_OK);
}

static void test_output_witness(void **state)
{
    (void)state;
    char path[512], out[512];
    snprintf(path, sizeof path, "%s", db_path("state.db"));
    snprintf(out, sizeof out, "%s", db_path("out.jsonl"));
    dm_state *st = open_ok(path);
    assert_int_equal(dm_state_begin_run(st, "src", NULL, NULL, NULL), DM_OK);
    write_at("out.jsonl", "{\"id\":\"x\"}\n");
    /* a: written, not committed; b: staged, never written; c: other bytes there */
    stage_out(st, "a", out, 11, "{\"id\":\"a\"}\n");
    assert_int_equal(write_at("out.jsonl", "{\"id\":\"a\"}\n"), 11);
    stage_out(st, "b", out, 22, "{\"id\":\"b\"}\n");
    stage_out(st, "c", out, 0, "{\"id\":\"c\"}\n");
    /* d: its output goes where nothing can be checked */
    stage(st, "d", DM_VERDICT_ACCEPT, 0, "", 0);
    stage_out(st, "e", db_path("gone"), 0, "e\n");
    dm_state_close(st); /* killed: no deliver, no commit */

    st = open_ok(path);
    assert_int_equal(dm_state_begin_run(st, "src", NULL, NULL, NULL), DM_OK);
    assert_int_equal(seen(st, "a"), DM_STATE_DELIVERED);
    assert_int_equal(seen(st, "b"), DM_STATE_PENDING);
    assert_int_equal(seen(st, "c"), DM_STATE_PENDING);
    assert_int_equal(seen(st, "d"), DM_STATE_PENDING);
    assert_int_equal(seen(st, "e"), DM_STATE_PENDING);
    dm_state_close(st);
    assert_int_equal(sql_int(path, "SELECT delivered FROM record WHERE rid = 'a'"), 1);
    /* a file cut short before the bytes end */
    assert_int_equal(truncate(out, 20), 0);
    st = open_ok(path);
    assert_int_equal(dm_state_begin_run(st, "src", NULL, NULL, NULL), DM_OK);
    stage_out(st, "f", out, 11, "{\"id\":\"a\"}\n");
    assert_int_equal(seen(st, "f"), DM_STATE_PENDING);

    dm_error err;
    memset(&err, 0, sizeof err);
    dm_state_entry e = {.id = "g", .verdict = DM_VERDICT_ACCEPT};
    dm_state_output o = {.path = out, .offset = -1, .bytes = "x", .len = 1};
    assert_int_equal(dm_state_record(st, &e, &o, &err), DM_EINVAL);
    assert_string_equal(err.text, "a bad record output");
    memset(&err, 0, sizeof err);
    o = (dm_state_output){.path = out, .bytes = "x", .len = DM_STATE_MAX_OUTPUT + 1};
    assert_int_equal(dm_state_record(st, &e, &o, &err), DM_ETOOLARGE);
    assert_string_equal(err.text, "state database: a record's output is longer than 1048576 bytes");
    dm_state_close(st);
}

static void test_uidvalidity_reset(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state *st = open_ok(path);
    assert_int_equal(dm_state_begin_run(st, "imap://box", NULL, NULL, NULL), DM_OK);
    stage(st, "1", DM_VERDICT_ACCEPT, -1, "", 0);
    stage(st, "2", DM_VERDICT_ACCEPT, -1, "", 0);
    assert_int_equal(dm_state_commit_run(st, "last_uid:2", 100, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(st, "imap://other", NULL, NULL, NULL), DM_OK);
    stage(st, "1", DM_VERDICT_ACCEPT, -1, "", 0);
    assert_int_equal(dm_state_commit_run(st, "last_uid:1", 7, NULL), DM_OK);

    /* the server says UIDVALIDITY 200: the folder is read again from nothing */
    const char *cursor = NULL;
    int64_t uv = 0;
    assert_int_equal(dm_state_begin_run(st, "imap://box", &cursor, &uv, NULL), DM_OK);
    assert_int_equal(uv, 100);
    assert_int_equal(dm_state_reset_source(st, "imap://box", 200, NULL), DM_OK);
    assert_int_equal(seen(st, "1"), DM_STATE_NEW);
    assert_int_equal(seen(st, "2"), DM_STATE_NEW);
    stage(st, "1", DM_VERDICT_REVIEW, 0, "", 0);
    assert_int_equal(dm_state_commit_run(st, "last_uid:1", 0, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(st, "imap://box", &cursor, &uv, NULL), DM_OK);
    assert_string_equal(cursor, "last_uid:1");
    assert_int_equal(uv, 200);
    /* the other source is untouched */
    assert_int_equal(dm_state_begin_run(st, "imap://other", &cursor, &uv, NULL), DM_OK);
    assert_string_equal(cursor, "last_uid:1");
    assert_int_equal(uv, 7);
    assert_int_equal(seen(st, "1"), DM_STATE_DELIVERED);
    /* resetting a source never seen creates it */
    assert_int_equal(dm_state_reset_source(st, "imap://new", 5, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(st, "imap://new", &cursor, &uv, NULL), DM_OK);
    assert_null(cursor);
    assert_int_equal(uv, 5);
    dm_state_close(st);
}

/* ---- history ----------------------------------------------------------------------------- */

/* assert_history() checks that the query `f` gives exactly the ids `want`, in order. */
static void assert_history(dm_state *st, const dm_state_filter *f, const char *want)
{
    dm_state_query *q = NULL;
    assert_int_equal(dm_state_query_create(st, f, &q, NULL), DM_OK);
    char got[512] = "";
    dm_state_entry e;
    dm_status rc;
    while ((rc = dm_state_query_next(q, &e, NULL)) == DM_OK) {
        if (*got)
            strcat(got, " ");
        strcat(got, e.id);
    }
    assert_int_equal(rc, DM_END);
    dm_state_query_free(q);
    assert_string_equal(got, want);
}

static void test_history(void **state)
{
    (void)state;
    dm_state *st = open_ok(db_path("state.db"));
    assert_int_equal(dm_state_begin_run(st, "https://a", NULL, NULL, NULL), DM_OK);
    stage(st, "a1", DM_VERDICT_ACCEPT, -8, "FOLLOW_UP,GIVES_REASON", 1000);
    stage(st, "a2", DM_VERDICT_DECLINE, 14.5, "PITCH_STACK", 3000);
    assert_int_equal(dm_state_commit_run(st, "c", 0, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(st, "https://b", NULL, NULL, NULL), DM_OK);
    stage(st, "b1", DM_VERDICT_DECLINE, 9, "BOT_TEMPLATE", 2000);
    stage(st, "b2", DM_VERDICT_REVIEW, 0.5, NULL, 4000); /* never delivered */

    /* every field of one entry */
    dm_state_filter f = {.verdict = DM_VERDICT_ACCEPT};
    dm_state_query *q = NULL;
    dm_state_entry e;
    assert_int_equal(dm_state_query_create(st, &f, &q, NULL), DM_OK);
    assert_int_equal(dm_state_query_next(q, &e, NULL), DM_OK);
    assert_string_equal(e.source, "https://a");
    assert_string_equal(e.id, "a1");
    assert_int_equal(e.first_seen, 1000);
    assert_int_equal(e.verdict, DM_VERDICT_ACCEPT);
    assert_true(e.score == -8);
    assert_string_equal(e.rules, "FOLLOW_UP,GIVES_REASON");
    assert_int_equal(e.delivered, 1);
    assert_int_equal(dm_state_query_next(q, &e, NULL), DM_END);
    dm_state_query_free(q);

    assert_history(st, NULL, "a1 b1 a2 b2"); /* oldest first */
    assert_history(st, &(dm_state_filter){.verdict = DM_VERDICT_DECLINE}, "b1 a2");
    assert_history(st, &(dm_state_filter){.verdict = -1, .since = 2000}, "b1 a2 b2");
    assert_history(st, &(dm_state_filter){.verdict = -1, .until = 3000}, "a1 b1");
    assert_history(st, &(dm_state_filter){.verdict = -1, .since = 1500, .until = 3500}, "b1 a2");
    assert_history(st, &(dm_state_filter){.verdict = -1, .source = "https://b"}, "b1 b2");
    assert_history(st, &(dm_state_filter){.verdict = -1, .delivered_only = 1}, "a1 a2");
    assert_history(
        st,
        &(dm_state_filter){
            .verdict = DM_VERDICT_DECLINE, .source = "https://a", .since = 1, .until = 5000},
        "a2");
    assert_history(st, &(dm_state_filter){.verdict = -1, .source = "nowhere"}, "");

    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_query_create(st, &(dm_state_filter){.verdict = 3}, &q, &err),
                     DM_EINVAL);
    assert_string_equal(err.text, "a bad verdict in the filter");
    dm_state_close(st);
}

/* ---- limits and bad arguments -------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state *st = open_ok(path);
    char *big = malloc(DM_STATE_MAX_TEXT + 2);
    assert_non_null(big);
    memset(big, 'k', DM_STATE_MAX_TEXT + 1);
    big[DM_STATE_MAX_TEXT + 1] = '\0';
    dm_error err;

    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_begin_run(st, big, NULL, NULL, &err), DM_ETOOLARGE);
    assert_string_equal(err.text, "state database: a source key is longer than 2048 bytes");
    assert_string_equal(err.source, path);

    big[DM_STATE_MAX_KEY] = '\0'; /* exactly at the limit: fine */
    assert_int_equal(dm_state_begin_run(st, big, NULL, NULL, NULL), DM_OK);
    stage(st, big, DM_VERDICT_ACCEPT, 0, NULL, 0);
    big[DM_STATE_MAX_KEY] = 'k';

    memset(&err, 0, sizeof err);
    dm_state_entry e = {.id = big, .verdict = DM_VERDICT_ACCEPT};
    assert_int_equal(dm_state_record(st, &e, NULL, &err), DM_ETOOLARGE);
    assert_string_equal(err.text, "state database: a record id is longer than 2048 bytes");

    memset(&err, 0, sizeof err);
    e = (dm_state_entry){.id = "x", .verdict = DM_VERDICT_ACCEPT, .rules = big};
    assert_int_equal(dm_state_record(st, &e, NULL, &err), DM_ETOOLARGE);
    assert_string_equal(err.text,
                        "state database: the rules that fired is longer than 16384 bytes");

    memset(&err, 0, sizeof err);
    e = (dm_state_entry){.id = "x", .verdict = DM_VERDICT_COUNT};
    assert_int_equal(dm_state_record(st, &e, NULL, &err), DM_EINVAL);
    assert_string_equal(err.text, "no record id or a bad verdict");

    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_commit_run(st, big, 0, &err), DM_ETOOLARGE);
    assert_string_equal(err.text, "state database: a cursor is longer than 16384 bytes");
    /* the run goes on after a refused commit */
    big[DM_STATE_MAX_TEXT] = '\0';
    assert_int_equal(dm_state_commit_run(st, big, 0, NULL), DM_OK);
    free(big);

    memset(&err, 0, sizeof err);
    e = (dm_state_entry){.id = "x", .verdict = DM_VERDICT_ACCEPT};
    assert_int_equal(dm_state_record(st, &e, NULL, &err), DM_EINVAL); /* no run */
    assert_string_equal(err.text, "state database: no run was begun (dm_state_begin_run)");
    dm_state_close(st);
    dm_state_close(NULL);
    dm_state_query_free(NULL);
}

/* ---- allocation failures ------------------------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state_close(open_ok(db_path("seed.db")));
    /* fail each allocation of a whole session in turn, on a new and an existing database */
    for (int pass = 0; pass < 2; pass++) {
        int done = 0;
        for (long n = 0; !done && n < 100; n++) {
            if (pass == 0)
                unlink(path);
            dm_state *st = NULL;
            dm_state_query *q = NULL;
            dm_error err;
            memset(&err, 0, sizeof err);
            injected = 0;
            fail_countdown = n;
            dm_status rc = dm_state_open(path, &st, &err);
            if (rc == DM_OK)
                rc = dm_state_begin_run(st, "src", NULL, NULL, &err);
            if (rc == DM_OK) {
                assert_int_equal(dm_state_commit_run(st, "cursor with text", 0, &err), DM_OK);
                rc = dm_state_begin_run(st, "src", NULL, NULL, &err);
            }
            if (rc == DM_OK)
                rc = dm_state_query_create(st, NULL, &q, &err);
            fail_countdown = -1;
            if (rc == DM_OK) {
                assert_false(injected);
                done = 1;
            } else {
                assert_true(injected);
                assert_int_equal(rc, DM_ENOMEM);
                assert_int_equal(err.code, DM_ENOMEM);
                assert_string_equal(err.text, "out of memory");
            }
            dm_state_query_free(q);
            dm_state_close(st);
            assert_int_equal(mem_allocs, 0);
        }
        assert_true(done);
    }
}

/* ---- two processes at once ---------------------------------------------------------------------
 */

#define WRITERS 4
#define WRITES 300

static void test_concurrent_writers(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    dm_state_close(open_ok(path));
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            dm_state *st = NULL;
            int ok = dm_state_open(path, &st, NULL) == DM_OK;
            char src[32], id[32];
            /* half on a source of its own, half on one all the writers share */
            for (int i = 0; ok && i < WRITES; i++) {
                snprintf(src, sizeof src, i % 2 ? "shared" : "own-%d", w);
                snprintf(id, sizeof id, "w%d-%d", w, i);
                dm_state_entry e = {.id = id, .verdict = DM_VERDICT_REVIEW, .score = i};
                /* a run on a source another writer is running waits its turn */
                dm_status b;
                while ((b = dm_state_begin_run(st, src, NULL, NULL, NULL)) == DM_EBUSY)
                    usleep(200);
                ok = b == DM_OK && dm_state_record(st, &e, NULL, NULL) == DM_OK &&
                     dm_state_deliver(st, id, NULL) == DM_OK &&
                     dm_state_commit_run(st, id, 0, NULL) == DM_OK;
            }
            dm_state_close(st);
            _exit(ok ? 0 : 1);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(sql_int(path, "SELECT count(*) FROM record"), WRITERS * WRITES);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM record WHERE delivered = 1"),
                     WRITERS * WRITES);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM source"), WRITERS + 1);
    assert_int_equal(sql_int(path, "SELECT runs FROM source WHERE key = 'shared'"),
                     WRITERS * WRITES / 2);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_integrity_check"
                                   " WHERE integrity_check = 'ok'"),
                     1);
}

/* ---- two runs on one source at once --------------------------------------------------------- */

static void test_source_lock(void **state)
{
    (void)state;
    const char *path = db_path("state.db");
    const char *a = "imaps://me@mail.example/INBOX", *b = "https://api.example/inv";
    dm_state *one = open_ok(path), *two = open_ok(path);
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_state_begin_run(one, a, NULL, NULL, NULL), DM_OK);
    /* the same source from another handle, in this process: refused at once */
    assert_int_equal(dm_state_begin_run(two, a, NULL, NULL, &err), DM_EBUSY);
    assert_int_equal(err.code, DM_EBUSY);
    assert_string_equal(err.source, path);
    assert_string_equal(err.text, "another doorman run is reading imaps://me@mail.example/INBOX "
                                  "with this state database; try again when it has ended");
    /* nothing of the refused run happened */
    assert_int_equal(sql_int(path, "SELECT runs FROM source WHERE key = 'imaps://me@mail.example/INBOX'"), 1);
    /* another source beside it */
    assert_int_equal(dm_state_begin_run(two, b, NULL, NULL, NULL), DM_OK);
    /* the same handle again (a UIDVALIDITY reset begins anew): its own lock */
    assert_int_equal(dm_state_begin_run(one, a, NULL, NULL, NULL), DM_OK);
    /* a committed run lets the next one in */
    assert_int_equal(dm_state_commit_run(one, "c1", 0, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(two, a, NULL, NULL, NULL), DM_OK); /* b's lock let go */
    assert_int_equal(dm_state_begin_run(one, b, NULL, NULL, NULL), DM_OK);
    assert_int_equal(dm_state_begin_run(one, a, NULL, NULL, &err), DM_EBUSY);
    /* closing lets go too */
    dm_state_close(two);
    assert_int_equal(dm_state_begin_run(one, a, NULL, NULL, NULL), DM_OK);
    dm_state_close(one);
    struct stat sb;
    char lock[600];
    snprintf(lock, sizeof lock, "%s.lock", path);
    assert_int_equal(stat(lock, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* another process holds it, and is killed: the lock goes with it */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dm_state *st = NULL;
        int ok = dm_state_open(path, &st, NULL) == DM_OK &&
                 dm_state_begin_run(st, a, NULL, NULL, NULL) == DM_OK;
        (void)!write(ready[1], ok ? "y" : "n", 1);
        pause();
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    one = open_ok(path);
    assert_int_equal(dm_state_begin_run(one, a, NULL, NULL, NULL), DM_EBUSY);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(dm_state_begin_run(one, a, NULL, NULL, NULL), DM_OK);
    dm_state_close(one);
    close(ready[0]);
    close(ready[1]);
}

/* ---- killed at random moments, then rerun ---------------------------------------------------- */

#define RECORDS 400
#define COMMIT_EVERY 37
#ifndef KILLS
#define KILLS 20
#endif
#ifndef PACE_US
#define PACE_US 100 /* -DPACE_US=0 makes the kill land in the write window often */
#endif

/*
 * child_run() is a run as the CLI will make it: records come from a
 * source in order from the cursor (here, the numbers after it); each
 * record not yet delivered is staged, its output written (write(2): no
 * buffer to lose) and its delivery committed; the cursor is committed
 * every COMMIT_EVERY records and at the end.  A record found pending was
 * being written when a run was killed: its id goes to `doubt` too.  With
 * `witness`, each record says where its output goes (dm_state_output), as
 * the CLI does for a file; without, the output might as well be a pipe.
 */
static int child_run(const char *path, const char *out, const char *doubt, int witness)
{
    int64_t offset = 0;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int dfd = open(doubt, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dm_state *st = NULL;
    if (fd < 0 || dfd < 0 || dm_state_open(path, &st, NULL) != DM_OK)
        return 1;
    const char *cursor = NULL;
    if (dm_state_begin_run(st, "https://api.example/invitations", &cursor, NULL, NULL) != DM_OK)
        return 1;
    int i = cursor ? atoi(cursor) : 0;
    for (int n = 1; i < RECORDS; i++, n++) {
        char id[32], line[48];
        snprintf(id, sizeof id, "rec-%d", i);
        int len = snprintf(line, sizeof line, "%s\n", id);
        dm_state_seen_kind k;
        if (dm_state_seen(st, id, &k, NULL) != DM_OK)
            return 1;
        if (k == DM_STATE_DELIVERED)
            continue;
        usleep(PACE_US); /* fetching the record and running the rules */
        if (k == DM_STATE_PENDING && write(dfd, line, (size_t)len) != len)
            return 1;
        dm_state_entry e = {.id = id, .verdict = (dm_verdict)(i % 3), .score = i, .rules = "R"};
        dm_state_output o = {.path = out, .offset = offset, .bytes = line, .len = (size_t)len};
        if (dm_state_record(st, &e, witness ? &o : NULL, NULL) != DM_OK ||
            write(fd, line, (size_t)len) != len || dm_state_deliver(st, id, NULL) != DM_OK)
            return 1;
        offset += len;
        if (n % COMMIT_EVERY == 0) {
            char c[16];
            snprintf(c, sizeof c, "%d", i + 1);
            if (dm_state_commit_run(st, c, 0, NULL) != DM_OK ||
                dm_state_begin_run(st, "https://api.example/invitations", NULL, NULL, NULL) !=
                    DM_OK)
                return 1;
        }
    }
    char c[16];
    snprintf(c, sizeof c, "%d", RECORDS);
    if (dm_state_commit_run(st, c, 0, NULL) != DM_OK)
        return 1;
    dm_state_close(st);
    close(fd);
    close(dfd);
    return 0;
}

/* count_lines() adds each "rec-N" line of `path` to counts[N]. */
static void count_lines(const char *path, int *counts)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return; /* killed before it opened it */
    char line[64];
    while (fgets(line, sizeof line, fp)) {
        int n = -1;
        if (sscanf(line, "rec-%d\n", &n) != 1)
            fail_msg("%s: a bad line: %s", path, line);
        assert_true(n >= 0 && n < RECORDS);
        counts[n]++;
    }
    fclose(fp);
}

/*
 * kill_round() runs child_run() on a new database again and again, killing
 * it at a random moment until `kills` kills landed or a run finished, then
 * lets a run finish; it checks the outputs of every run, concatenated, and
 * returns how many runs were killed.
 */
static int kill_round(int witness, int round, long run_us, int kills)
{
    char path[512], name[64];
    snprintf(name, sizeof name, "r%d.state.db", round);
    snprintf(path, sizeof path, "%s", db_path(name));
    dm_state_close(open_ok(path));
    int runs = 0, killed = 0, finished = 0;
    while (!finished) {
        char outp[512], doubtp[512];
        snprintf(name, sizeof name, "r%d.out.%d", round, runs);
        snprintf(outp, sizeof outp, "%s", db_path(name));
        snprintf(name, sizeof name, "r%d.doubt.%d", round, runs);
        snprintf(doubtp, sizeof doubtp, "%s", db_path(name));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_run(path, outp, doubtp, witness));
        runs++;
        if (killed < kills) {
            /* a random moment of what is left to do: start-up, records, commits */
            long left = sql_int(path, "SELECT count(*) FROM record WHERE delivered = 1");
            long span = 1000 + run_us * (RECORDS - left) / RECORDS;
            usleep((useconds_t)(rand() % span));
            kill(pid, SIGKILL);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status)) {
            assert_int_equal(WTERMSIG(status), SIGKILL);
            killed++;
        } else {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
            finished = 1; /* it produced what was left: the end */
        }
        assert_true(runs < 10 * KILLS);
    }

    /* every output, concatenated */
    int counts[RECORDS] = {0}, doubts[RECORDS] = {0};
    for (int r = 0; r < runs; r++) {
        snprintf(name, sizeof name, "r%d.out.%d", round, r);
        count_lines(db_path(name), counts);
        snprintf(name, sizeof name, "r%d.doubt.%d", round, r);
        count_lines(db_path(name), doubts);
    }
    int repeated = 0, doubted = 0;
    for (int i = 0; i < RECORDS; i++) {
        if (counts[i] < 1 || (witness && counts[i] != 1))
            fail_msg("round %d: rec-%d was written %d times", round, i, counts[i]);
        /* a repeat is only ever a record a killed run was writing, found pending */
        assert_true(counts[i] - 1 <= doubts[i]);
        repeated += counts[i] - 1;
        doubted += doubts[i];
    }
    /* a killed run leaves at most one record pending: the one it was writing */
    assert_true(doubted <= killed);
    print_message("round %d: %d runs, %d killed, %d records in doubt, %d written twice\n", round,
                  runs, killed, doubted, repeated);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM record WHERE delivered = 1"), RECORDS);
    assert_int_equal(sql_int(path, "SELECT cursor FROM source"), RECORDS);
    return killed;
}

/* kill_and_rerun() plays rounds of kill_round() until KILLS runs were killed. */
static void kill_and_rerun(int witness)
{
    /* how long one whole run takes, to kill within it */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(
        child_run(db_path("probe.db"), db_path("probe.out"), db_path("probe.doubt"), witness), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long run_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int killed = 0, round = 0;
    while (killed < KILLS) {
        killed += kill_round(witness, round++, run_us, KILLS - killed);
        assert_true(round < 50);
    }
}

/* Into files: every record exactly once. */
static void test_kill_and_rerun_file(void **state)
{
    (void)state;
    kill_and_rerun(1);
}

/* Into a pipe: every record, and a repeat only of a record a killed run was writing. */
static void test_kill_and_rerun_pipe(void **state)
{
    (void)state;
    kill_and_rerun(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_newer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_dies_before_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_witness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uidvalidity_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_and_rerun_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_and_rerun_pipe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
