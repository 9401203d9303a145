/*
 * state.c: the state database (SQLite): per source a cursor and an IMAP
 * UIDVALIDITY, every record seen with its verdict and a delivered flag.
 *
 * Why it is shaped this way (docs/sources.md, "State: what doorman
 * remembers"): a cursor may only advance once the run's output is written,
 * and a killed run must not lose or repeat records.  So a record is staged
 * (pending) before its output is written and marked delivered, in its own
 * small transaction, right after; the cursor moves only in
 * dm_state_commit_run().  The rerun refetches from the old cursor and skips
 * what was delivered.  WAL mode and a busy timeout let two processes share
 * the file; every multi-statement change is BEGIN IMMEDIATE so two writers
 * never deadlock on a lock upgrade.
 */
#define _GNU_SOURCE /* F_OFD_SETLK: a lock the process's other handles also see */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000

enum {
    Q_SOURCE_GET,
    Q_SOURCE_ADD,
    Q_SOURCE_RUN,
    Q_SEEN,
    Q_RECORD,
    Q_DELIVER,
    Q_COMMIT_RECORDS,
    Q_COMMIT_CURSOR,
    Q_COUNT
};

static const char *const sql_text[Q_COUNT] = {
    [Q_SOURCE_GET] = "SELECT id, cursor, uidvalidity, runs FROM source WHERE key = ?1",
    [Q_SOURCE_ADD] = "INSERT OR IGNORE INTO source(key) VALUES (?1)",
    [Q_SOURCE_RUN] = "UPDATE source SET runs = runs + 1 WHERE id = ?1",
    [Q_SEEN] = "SELECT delivered, out_path, out_offset, out_len, out_hash, verdict FROM record"
               " WHERE source_id = ?1 AND rid = ?2",
    [Q_RECORD] = "INSERT INTO record(source_id, rid, first_seen, verdict, score, rules, run,"
                 " out_path, out_offset, out_len, out_hash)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                 " ON CONFLICT(source_id, rid) DO UPDATE SET verdict = excluded.verdict,"
                 " score = excluded.score, rules = excluded.rules, run = excluded.run,"
                 " out_path = excluded.out_path, out_offset = excluded.out_offset,"
                 " out_len = excluded.out_len, out_hash = excluded.out_hash",
    [Q_DELIVER] = "UPDATE record SET delivered = 1 WHERE source_id = ?1 AND rid = ?2",
    [Q_COMMIT_RECORDS] = "UPDATE record SET delivered = 1"
                         " WHERE source_id = ?1 AND run = ?2 AND delivered = 0",
    [Q_COMMIT_CURSOR] = "UPDATE source SET cursor = coalesce(?2, cursor),"
                        " uidvalidity = CASE WHEN ?3 = 0 THEN uidvalidity ELSE ?3 END,"
                        " updated = ?4 WHERE id = ?1",
};

/*
 * The migrations: step i takes a database from schema version i to i + 1.
 * A new version appends a step; older databases run every step they lack.
 */
static const char *const migrations[DM_STATE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE source ("
    " id INTEGER PRIMARY KEY,"
    " key TEXT NOT NULL UNIQUE,"
    " cursor TEXT,"
    " uidvalidity INTEGER NOT NULL DEFAULT 0,"
    " runs INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE record ("
    " source_id INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,"
    " rid TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " verdict TEXT NOT NULL,"
    " score REAL NOT NULL,"
    " rules TEXT NOT NULL DEFAULT '',"
    " run INTEGER NOT NULL,"
    " delivered INTEGER NOT NULL DEFAULT 0,"
    " out_path TEXT," /* where its output was being written (dm_state_output) */
    " out_offset INTEGER NOT NULL DEFAULT 0,"
    " out_len INTEGER NOT NULL DEFAULT 0,"
    " out_hash INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (source_id, rid));"
    "CREATE INDEX record_first_seen ON record(first_seen);",
};

struct dm_state {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q_COUNT];
    int version;
    /* the current run */
    int64_t source_id; /* 0: no run */
    int64_t run;
    char *cursor;
    /* the run's source lock: a byte of PATH.lock */
    int lock_fd; /* -1: not open */
    off_t lock_at;
    int locked;
};

struct dm_state_query {
    dm_state *st;
    sqlite3_stmt *stmt;
};

static dm_status db_error(dm_state *st, dm_error *err, const char *what)
{
    int rc = sqlite3_extended_errcode(st->db);
    dm_status code = (rc & 0xff) == SQLITE_NOMEM    ? DM_ENOMEM
                     : (rc & 0xff) == SQLITE_NOTADB ? DM_EFORMAT
                                                    : DM_EIO;
    return dm_error_set(err, code, st->path, 0, 0, "state database: %s: %s", what,
                        sqlite3_errmsg(st->db));
}

/* FNV-1a, 64 bits: enough to tell the bytes written from other bytes */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV_START 0xcbf29ce484222325ULL

/*
 * output_found() is 1 when `path` holds `len` bytes at `offset` whose
 * hash is `hash`: the output a killed run staged was written.
 */
static int output_found(const char *path, int64_t offset, int64_t len, uint64_t hash)
{
    int found = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || offset < 0 || len <= 0 ||
        sb.st_size - offset < len)
        goto out;
    uint64_t h = FNV_START;
    char chunk[4096];
    for (int64_t done = 0; done < len;) {
        size_t want =
            (size_t)(len - done < (int64_t)sizeof chunk ? len - done : (int64_t)sizeof chunk);
        ssize_t got = pread(fd, chunk, want, (off_t)(offset + done));
        if (got <= 0)
            goto out;
        h = fnv1a(h, chunk, (size_t)got);
        done += got;
    }
    found = h == hash;
out:
    close(fd);
    return found;
}

static dm_status check_len(const dm_state *st, const char *s, size_t max, const char *what,
                           dm_error *err)
{
    if (s && strlen(s) > max)
        return dm_error_set(err, DM_ETOOLARGE, st->path, 0, 0,
                            "state database: %s is longer than %zu bytes", what, max);
    return DM_OK;
}

static dm_status exec(dm_state *st, const char *sql, dm_error *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(st, err, sql);
    return DM_OK;
}

/* step_done() runs a statement that returns no rows, then resets it. */
static dm_status step_done(dm_state *st, sqlite3_stmt *s, dm_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_error(st, err, "write");
    return DM_OK;
}

/* mkdirs() creates the missing folders of `path`'s folder with mode 0700. */
static dm_status mkdirs(const char *path, dm_error *err)
{
    dm_status rc = DM_OK;
    char *dir = dm_strdup(path);
    if (!dir)
        return dm_error_set(err, DM_ENOMEM, path, 0, 0, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        goto out;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = dm_error_set(err, DM_EIO, path, 0, 0, "cannot create the folder %s: %s", dir,
                              strerror(errno));
            goto out;
        }
        *p = c;
        if (c == '\0')
            break;
    }
out:
    dm_free(dir);
    return rc;
}

/*
 * create_or_check() makes sure `path` exists with no permission for group
 * or others: a new file is created 0600 before SQLite opens it (SQLite
 * would use the umask), and SQLite gives its -wal and -shm files the
 * database's mode.
 */
static dm_status create_or_check(const char *path, dm_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return dm_error_set(err, DM_EIO, path, 0, 0, "cannot open the state database: %s",
                                strerror(errno));
        dm_status rc = mkdirs(path, err);
        if (rc != DM_OK)
            return rc;
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            return dm_error_set(err, DM_EIO, path, 0, 0, "cannot create the state database: %s",
                                strerror(errno));
        if (fd >= 0)
            close(fd);
        if (stat(path, &sb) != 0)
            return dm_error_set(err, DM_EIO, path, 0, 0, "cannot open the state database: %s",
                                strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return dm_error_set(err, DM_EINVAL, path, 0, 0, "the state database is not a file");
    if (sb.st_mode & 077)
        return dm_error_set(err, DM_EINVAL, path, 0, 0,
                            "the state database may be read or written by others (mode %04o);"
                            " make it private with chmod 600",
                            (unsigned)(sb.st_mode & 07777));
    return DM_OK;
}

static dm_status migrate(dm_state *st, dm_error *err)
{
    dm_status rc = exec(st, "BEGIN IMMEDIATE", err);
    if (rc != DM_OK)
        return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        rc = db_error(st, err, "reading the schema version");
        goto out;
    }
    int v = sqlite3_column_int(s, 0);
    if (v > DM_STATE_SCHEMA_VERSION) {
        rc = dm_error_set(err, DM_EFORMAT, st->path, 0, 0,
                          "the state database has schema version %d, newer than this doorman"
                          " knows (%d): use a newer doorman, or another --state file",
                          v, DM_STATE_SCHEMA_VERSION);
        goto out;
    }
    for (; v < DM_STATE_SCHEMA_VERSION; v++) {
        char sql[64];
        if ((rc = exec(st, migrations[v], err)) != DM_OK)
            goto out;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if ((rc = exec(st, sql, err)) != DM_OK)
            goto out;
    }
    st->version = v;
    rc = exec(st, "COMMIT", err);
out:
    sqlite3_finalize(s);
    if (rc != DM_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

DM_API dm_status dm_state_open(const char *path, dm_state **out, dm_error *err)
{
    dm_status rc = DM_OK;
    dm_state *st = NULL;
    if (!path || !*path || !out)
        return dm_error_set(err, DM_EINVAL, path, 0, 0, "no state database path");
    if ((rc = create_or_check(path, err)) != DM_OK)
        return rc;
    st = dm_calloc(1, sizeof *st);
    if (st)
        st->lock_fd = -1;
    if (!st || !(st->path = dm_strdup(path))) {
        rc = dm_error_set(err, DM_ENOMEM, path, 0, 0, "out of memory");
        goto out;
    }
    int orc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (orc != SQLITE_OK) {
        rc = dm_error_set(err, orc == SQLITE_NOMEM ? DM_ENOMEM : DM_EIO, path, 0, 0,
                          "cannot open the state database: %s",
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(orc));
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    /* journal_mode=WAL needs the write lock when switching: the busy timeout covers it */
    if ((rc = exec(st, "PRAGMA journal_mode = WAL", err)) != DM_OK ||
        (rc = exec(st, "PRAGMA synchronous = NORMAL", err)) != DM_OK ||
        (rc = exec(st, "PRAGMA foreign_keys = ON", err)) != DM_OK)
        goto out;
    /* a file that is not SQLite fails here, on its first read */
    if ((rc = migrate(st, err)) != DM_OK)
        goto out;
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(st->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i],
                               NULL) != SQLITE_OK) {
            rc = db_error(st, err, "preparing a statement");
            goto out;
        }
    *out = st;
    st = NULL;
out:
    dm_state_close(st);
    return rc;
}

DM_API void dm_state_close(dm_state *st)
{
    if (!st)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* drops the lock */
    dm_free(st->cursor);
    dm_free(st->path);
    dm_free(st);
}

DM_API int dm_state_schema_version(const dm_state *st)
{
    return st ? st->version : 0;
}

static dm_status need_run(dm_state *st, dm_error *err)
{
    if (!st->source_id)
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0,
                            "state database: no run was begun (dm_state_begin_run)");
    return DM_OK;
}

static void unlock_source(dm_state *st)
{
    if (!st->locked)
        return;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = st->lock_at;
    fl.l_len = 1;
    fcntl(st->lock_fd, F_OFD_SETLK, &fl);
    st->locked = 0;
}

/*
 * lock_source() takes the source's lock: one byte of PATH.lock, at an
 * offset made from the source key (two keys sharing a byte only make two
 * runs wait for each other), locked with an open file description lock,
 * which conflicts with every other open of the file, in this process too,
 * and goes when the process dies.  A handle holds one source's lock.
 */
static dm_status lock_source(dm_state *st, const char *source, dm_error *err)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)source; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    off_t at = (off_t)(h % 1000003u);
    if (st->locked && st->lock_at == at)
        return DM_OK;
    char lpath[4096];
    if (snprintf(lpath, sizeof lpath, "%s.lock", st->path) >= (int)sizeof lpath)
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0, "the path is too long");
    if (st->lock_fd < 0) {
        st->lock_fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (st->lock_fd < 0)
            return dm_error_set(err, DM_EIO, lpath, 0, 0, "cannot open the lock file: %s",
                                strerror(errno));
    }
    unlock_source(st); /* the handle moves on to another source */
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = at;
    fl.l_len = 1;
    if (fcntl(st->lock_fd, F_OFD_SETLK, &fl) != 0) {
        if (errno == EAGAIN || errno == EACCES)
            return dm_error_set(err, DM_EBUSY, st->path, 0, 0,
                                "another doorman run is reading %.80s with this state database; "
                                "try again when it has ended",
                                source);
        return dm_error_set(err, DM_EIO, lpath, 0, 0, "cannot lock: %s", strerror(errno));
    }
    st->locked = 1;
    st->lock_at = at;
    return DM_OK;
}

DM_API dm_status dm_state_begin_run(dm_state *st, const char *source, const char **cursor,
                                    int64_t *uidvalidity, dm_error *err)
{
    dm_status rc;
    if (!st || !source || !*source)
        return dm_error_set(err, DM_EINVAL, st ? st->path : NULL, 0, 0, "no source");
    if ((rc = check_len(st, source, DM_STATE_MAX_KEY, "a source key", err)) != DM_OK)
        return rc;
    st->source_id = 0;
    if ((rc = lock_source(st, source, err)) != DM_OK)
        return rc;
    dm_free(st->cursor);
    st->cursor = NULL;
    if ((rc = exec(st, "BEGIN IMMEDIATE", err)) != DM_OK)
        return rc;
    sqlite3_stmt *s = st->q[Q_SOURCE_ADD];
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    if ((rc = step_done(st, s, err)) != DM_OK)
        goto out;
    s = st->q[Q_SOURCE_GET];
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = db_error(st, err, "reading a source");
        goto out;
    }
    int64_t id = sqlite3_column_int64(s, 0);
    const char *c = (const char *)sqlite3_column_text(s, 1);
    int64_t uv = sqlite3_column_int64(s, 2);
    int64_t run = sqlite3_column_int64(s, 3) + 1;
    char *copy = NULL;
    if (c && !(copy = dm_strdup(c))) {
        rc = dm_error_set(err, DM_ENOMEM, st->path, 0, 0, "out of memory");
        goto out;
    }
    sqlite3_reset(s);
    s = st->q[Q_SOURCE_RUN];
    sqlite3_bind_int64(s, 1, id);
    if ((rc = step_done(st, s, err)) != DM_OK || (rc = exec(st, "COMMIT", err)) != DM_OK) {
        dm_free(copy);
        goto out;
    }
    st->source_id = id;
    st->run = run;
    st->cursor = copy;
    if (cursor)
        *cursor = copy;
    if (uidvalidity)
        *uidvalidity = uv;
out:
    sqlite3_reset(st->q[Q_SOURCE_GET]);
    if (rc != DM_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

DM_API dm_status dm_state_seen(dm_state *st, const char *id, dm_state_seen_kind *out, dm_error *err)
{
    return dm_state_seen_verdict(st, id, out, NULL, err);
}

DM_API dm_status dm_state_seen_verdict(dm_state *st, const char *id, dm_state_seen_kind *out,
                                       dm_verdict *verdict, dm_error *err)
{
    dm_status rc;
    if ((rc = need_run(st, err)) != DM_OK)
        return rc;
    if (!id || !out)
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0, "no record id");
    sqlite3_stmt *s = st->q[Q_SEEN];
    sqlite3_bind_int64(s, 1, st->source_id);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    int written = 0;
    if (r == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0) ? DM_STATE_DELIVERED : DM_STATE_PENDING;
        const char *vt = (const char *)sqlite3_column_text(s, 5);
        int v = vt ? dm_verdict_lookup(vt) : -1;
        if (verdict && v >= 0)
            *verdict = (dm_verdict)v;
        const char *path = (const char *)sqlite3_column_text(s, 1);
        /* a run was killed between writing this output and committing it */
        written = *out == DM_STATE_PENDING && path &&
                  output_found(path, sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3),
                               (uint64_t)sqlite3_column_int64(s, 4));
    } else if (r == SQLITE_DONE)
        *out = DM_STATE_NEW;
    else
        rc = db_error(st, err, "reading a record");
    sqlite3_reset(s);
    if (written) {
        s = st->q[Q_DELIVER];
        sqlite3_bind_int64(s, 1, st->source_id);
        sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
        if ((rc = step_done(st, s, err)) == DM_OK)
            *out = DM_STATE_DELIVERED;
    }
    return rc;
}

DM_API dm_status dm_state_record(dm_state *st, const dm_state_entry *e, const dm_state_output *out,
                                 dm_error *err)
{
    dm_status rc;
    if ((rc = need_run(st, err)) != DM_OK)
        return rc;
    if (!e || !e->id || !*e->id || (unsigned)e->verdict >= DM_VERDICT_COUNT)
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0, "no record id or a bad verdict");
    if ((rc = check_len(st, e->id, DM_STATE_MAX_KEY, "a record id", err)) != DM_OK ||
        (rc = check_len(st, e->rules, DM_STATE_MAX_TEXT, "the rules that fired", err)) != DM_OK)
        return rc;
    if (out && (!out->path || !*out->path || out->offset < 0 || !out->bytes || !out->len))
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0, "a bad record output");
    if (out && ((rc = check_len(st, out->path, DM_STATE_MAX_TEXT, "an output path", err)) != DM_OK))
        return rc;
    if (out && out->len > DM_STATE_MAX_OUTPUT)
        return dm_error_set(err, DM_ETOOLARGE, st->path, 0, 0,
                            "state database: a record's output is longer than %d bytes",
                            DM_STATE_MAX_OUTPUT);
    sqlite3_stmt *s = st->q[Q_RECORD];
    sqlite3_bind_int64(s, 1, st->source_id);
    sqlite3_bind_text(s, 2, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, e->first_seen ? e->first_seen : (int64_t)time(NULL));
    sqlite3_bind_text(s, 4, dm_verdict_name(e->verdict), -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 5, e->score);
    sqlite3_bind_text(s, 6, e->rules ? e->rules : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, st->run);
    if (out) {
        sqlite3_bind_text(s, 8, out->path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 9, out->offset);
        sqlite3_bind_int64(s, 10, (int64_t)out->len);
        sqlite3_bind_int64(s, 11, (int64_t)fnv1a(FNV_START, out->bytes, out->len));
    } else {
        sqlite3_bind_null(s, 8);
        for (int i = 9; i <= 11; i++)
            sqlite3_bind_int64(s, i, 0);
    }
    return step_done(st, s, err);
}

DM_API dm_status dm_state_deliver(dm_state *st, const char *id, dm_error *err)
{
    dm_status rc;
    if ((rc = need_run(st, err)) != DM_OK)
        return rc;
    if (!id)
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0, "no record id");
    sqlite3_stmt *s = st->q[Q_DELIVER];
    sqlite3_bind_int64(s, 1, st->source_id);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    if ((rc = step_done(st, s, err)) != DM_OK)
        return rc;
    if (sqlite3_changes(st->db) == 0)
        return dm_error_set(err, DM_ENOENT, st->path, 0, 0,
                            "state database: record %.100s was not staged in this run", id);
    return DM_OK;
}

DM_API dm_status dm_state_commit_run(dm_state *st, const char *new_cursor, int64_t uidvalidity,
                                     dm_error *err)
{
    dm_status rc;
    if ((rc = need_run(st, err)) != DM_OK)
        return rc;
    if ((rc = check_len(st, new_cursor, DM_STATE_MAX_TEXT, "a cursor", err)) != DM_OK)
        return rc;
    if ((rc = exec(st, "BEGIN IMMEDIATE", err)) != DM_OK)
        return rc;
    sqlite3_stmt *s = st->q[Q_COMMIT_RECORDS];
    sqlite3_bind_int64(s, 1, st->source_id);
    sqlite3_bind_int64(s, 2, st->run);
    if ((rc = step_done(st, s, err)) != DM_OK)
        goto out;
    s = st->q[Q_COMMIT_CURSOR];
    sqlite3_bind_int64(s, 1, st->source_id);
    if (new_cursor)
        sqlite3_bind_text(s, 2, new_cursor, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_int64(s, 3, uidvalidity);
    sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
    if ((rc = step_done(st, s, err)) != DM_OK)
        goto out;
    rc = exec(st, "COMMIT", err);
out:
    if (rc != DM_OK) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        st->source_id = 0; /* the run is over: another may begin */
        unlock_source(st);
    }
    return rc;
}

DM_API dm_status dm_state_reset_source(dm_state *st, const char *source, int64_t uidvalidity,
                                       dm_error *err)
{
    dm_status rc;
    if (!st || !source || !*source)
        return dm_error_set(err, DM_EINVAL, st ? st->path : NULL, 0, 0, "no source");
    if ((rc = check_len(st, source, DM_STATE_MAX_KEY, "a source key", err)) != DM_OK)
        return rc;
    sqlite3_stmt *s = NULL;
    if ((rc = exec(st, "BEGIN IMMEDIATE", err)) != DM_OK)
        return rc;
    if (sqlite3_prepare_v2(st->db,
                           "DELETE FROM record WHERE source_id ="
                           " (SELECT id FROM source WHERE key = ?1)",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = db_error(st, err, "preparing a statement");
        goto out;
    }
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    if ((rc = step_done(st, s, err)) != DM_OK)
        goto out;
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO source(key, uidvalidity, updated) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT(key) DO UPDATE SET cursor = NULL,"
                           " uidvalidity = excluded.uidvalidity, updated = excluded.updated",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = db_error(st, err, "preparing a statement");
        goto out;
    }
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, uidvalidity);
    sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
    if ((rc = step_done(st, s, err)) != DM_OK)
        goto out;
    rc = exec(st, "COMMIT", err);
out:
    sqlite3_finalize(s);
    if (rc != DM_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    else if (st->source_id) {
        /* a run begun on this source continues from nothing */
        dm_free(st->cursor);
        st->cursor = NULL;
    }
    return rc;
}

DM_API dm_status dm_state_query_create(dm_state *st, const dm_state_filter *f, dm_state_query **out,
                                       dm_error *err)
{
    static const dm_state_filter any = {.verdict = -1};
    dm_status rc = DM_OK;
    if (!st || !out)
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "no state database");
    if (!f)
        f = &any;
    if (f->verdict >= DM_VERDICT_COUNT || f->verdict < -1)
        return dm_error_set(err, DM_EINVAL, st->path, 0, 0, "a bad verdict in the filter");
    dm_state_query *q = dm_calloc(1, sizeof *q);
    if (!q)
        return dm_error_set(err, DM_ENOMEM, st->path, 0, 0, "out of memory");
    q->st = st;
    /* one statement for every filter: an unset bound is NULL, which matches all */
    static const char sql[] =
        "SELECT s.key, r.rid, r.first_seen, r.verdict, r.score, r.rules, r.delivered"
        " FROM record r JOIN source s ON s.id = r.source_id"
        " WHERE (?1 IS NULL OR r.verdict = ?1) AND (?2 IS NULL OR r.first_seen >= ?2)"
        " AND (?3 IS NULL OR r.first_seen < ?3) AND (?4 IS NULL OR s.key = ?4)"
        " AND (?5 = 0 OR r.delivered = 1)"
        " ORDER BY r.first_seen, s.key, r.rid";
    if (sqlite3_prepare_v2(st->db, sql, -1, &q->stmt, NULL) != SQLITE_OK) {
        rc = db_error(st, err, "preparing the history query");
        goto out;
    }
    if (f->verdict >= 0)
        sqlite3_bind_text(q->stmt, 1, dm_verdict_name((dm_verdict)f->verdict), -1, SQLITE_STATIC);
    if (f->since)
        sqlite3_bind_int64(q->stmt, 2, f->since);
    if (f->until)
        sqlite3_bind_int64(q->stmt, 3, f->until);
    if (f->source)
        sqlite3_bind_text(q->stmt, 4, f->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q->stmt, 5, f->delivered_only ? 1 : 0);
    *out = q;
    q = NULL;
out:
    dm_state_query_free(q);
    return rc;
}

DM_API dm_status dm_state_query_next(dm_state_query *q, dm_state_entry *e, dm_error *err)
{
    if (!q || !e)
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "no query");
    int r = sqlite3_step(q->stmt);
    if (r == SQLITE_DONE)
        return DM_END;
    if (r != SQLITE_ROW)
        return db_error(q->st, err, "reading the history");
    e->source = (const char *)sqlite3_column_text(q->stmt, 0);
    e->id = (const char *)sqlite3_column_text(q->stmt, 1);
    e->first_seen = sqlite3_column_int64(q->stmt, 2);
    int v = dm_verdict_lookup((const char *)sqlite3_column_text(q->stmt, 3));
    e->verdict = v < 0 ? DM_VERDICT_REVIEW : (dm_verdict)v;
    e->score = sqlite3_column_double(q->stmt, 4);
    e->rules = (const char *)sqlite3_column_text(q->stmt, 5);
    e->delivered = sqlite3_column_int(q->stmt, 6);
    return DM_OK;
}

DM_API void dm_state_query_free(dm_state_query *q)
{
    if (!q)
        return;
    sqlite3_finalize(q->stmt);
    dm_free(q);
}
