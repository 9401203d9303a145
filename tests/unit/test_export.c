/*
 * test_export.c: the LinkedIn export reader and dm_source (src/ingest/export.c,
 * src/ingest/source.c).
 *
 * Most cases are folders under tests/data/export/<case>/: an export (or a few
 * loose files), an `args` file with one run a line, and an `expected` file with
 * the transcript of each run: everything the source hands out, record by
 * record and field by field, every diagnostic with all of its fields, and the
 * context ("me", connections, history) it read.  A run that opens the folder
 * itself (".") is also run over two zips of the same files, built here: one
 * with the files at the root, one with them under a top folder; the zips must
 * give the same transcript with their own names in the sources.
 *
 *   args:     PATH... [--outgoing] [--messages] [--strict] [--strict-all]
 *             [--max-field=N] [--max-row=N] [--max-entry=N]
 *             PATH is "." for the case folder, else a file in it.  Several
 *             PATHs are opened in turn into one context, which is then
 *             finished (dm_context_finish), and read in turn, as the CLI
 *             does.  --strict stops at the first bad row, as the CLI does;
 *             --strict-all stops at warnings too.  Without an args file: one
 *             run, ".".
 *   expected: "== ARGS" then the transcript, for each line of args.  The
 *             case folder shows as DIR.
 *
 * A mismatch writes the whole transcript to <case>.actual in the current
 * folder, to diff against the expected file.
 *
 * The rest are tests written out below: zips (layouts, names in any case,
 * the size limit, truncated, corrupt and lying archives), folder paths, and
 * allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core.h"
#include "testalloc.h" /* and testutil.h */

#define CASES DM_TEST_DATA "/export"
#define PATHMAX 1024
#define RUN_PATHS 8 /* sources of one run */

/* ---- strings (sbuf: testutil.h) ---- */

/* sb_quote() adds `s` in double quotes, C-escaped, so that line breaks show. */
static void sb_quote(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            sb_add(b, "\\n", 2);
        else if (c == '\r')
            sb_add(b, "\\r", 2);
        else if (c == '\t')
            sb_add(b, "\\t", 2);
        else if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            sb_printf(b, "\\x%02X", c);
        else
            sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
}


/* sb_replace() replaces every `from` in `b` by `to`. */
static void sb_replace(sbuf *b, const char *from, const char *to)
{
    if (!b->s || !*from)
        return;
    sbuf out = {0};
    size_t fl = strlen(from);
    const char *p = b->s, *hit;
    while ((hit = strstr(p, from)) != NULL) {
        sb_add(&out, p, (size_t)(hit - p));
        sb_add(&out, to, strlen(to));
        p = hit + fl;
    }
    sb_add(&out, p, strlen(p));
    sb_free(b);
    *b = out;
}

/* ---- files ---- */

static char tmpdir[256];

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    sbuf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        sb_add(&b, chunk, n);
    fclose(fp);
    if (!b.s)
        sb_add(&b, "", 0);
    if (len)
        *len = b.len;
    return b.s;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void tmp_path(char *out, size_t outsz, const char *name)
{
    snprintf(out, outsz, "%s/%s", tmpdir, name);
}

/* ---- zips, written with libzip ---- */

typedef struct entry {
    const char *name;
    const char *data;
    size_t len;
} entry;

/* write_zip() writes `n` entries to `path`; stored uncompressed when `store`. */
static void write_zip(const char *path, const entry *e, size_t n, int store)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        if (e[i].len == 0 && e[i].name[strlen(e[i].name) - 1] == '/') {
            assert_true(zip_dir_add(za, e[i].name, ZIP_FL_ENC_UTF_8) >= 0);
            continue;
        }
        zip_source_t *src = zip_source_buffer(za, e[i].data, e[i].len, 0);
        assert_non_null(src);
        zip_int64_t idx = zip_file_add(za, e[i].name, src, ZIP_FL_ENC_UTF_8);
        if (idx < 0) {
            zip_source_free(src);
            fail_msg("zip_file_add %s: %s", e[i].name, zip_strerror(za));
        }
        if (store)
            assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
    }
    if (zip_close(za) != 0)
        fail_msg("zip_close %s: %s", path, zip_strerror(za));
}

/* The files of a case folder, but its args and expected: sorted by name. */
typedef struct files {
    entry e[32];
    char *names[32];
    size_t n;
} files;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static void files_load(files *f, const char *dir, const char *prefix)
{
    memset(f, 0, sizeof *f);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char path[PATHMAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || strcmp(de->d_name, "args") == 0 ||
            strcmp(de->d_name, "expected") == 0)
            continue;
        assert_true(f->n < 32);
        size_t nl = strlen(prefix) + strlen(de->d_name) + 1;
        f->names[f->n] = malloc(nl);
        snprintf(f->names[f->n], nl, "%s%s", prefix, de->d_name);
        f->e[f->n].name = f->names[f->n];
        f->e[f->n].data = read_file(path, &f->e[f->n].len);
        assert_non_null(f->e[f->n].data);
        f->n++;
    }
    closedir(d);
    qsort(f->e, f->n, sizeof f->e[0], by_name);
}

static void files_free(files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->e[i].data);
        free(f->names[i]);
    }
    memset(f, 0, sizeof *f);
}

/* zip_case() zips the files of a case folder, under `prefix` ("" or "top/"). */
static void zip_case(const char *zpath, const char *dir, const char *prefix)
{
    files f;
    files_load(&f, dir, prefix);
    entry all[33];
    size_t n = 0;
    if (*prefix)
        all[n++] = (entry){prefix, "", 0}; /* the folder's own entry, as zip tools write it */
    memcpy(all + n, f.e, f.n * sizeof f.e[0]);
    write_zip(zpath, all, n + f.n, 0);
    files_free(&f);
}

/* ---- transcripts ---- */

static const char *status_name(dm_status st)
{
    static const char *const names[DM_STATUS_COUNT] = {
        "DM_OK",     "DM_END",     "DM_ENOMEM",  "DM_EIO",       "DM_ENOENT",
        "DM_EINVAL", "DM_ESYNTAX", "DM_EUTF8",   "DM_ETOOLARGE", "DM_EFORMAT",
        "DM_EZIP",   "DM_EREGEX",  "DM_ESTRICT",
    };
    return (unsigned)st < DM_STATUS_COUNT ? names[st] : "?";
}

static void put_error(sbuf *b, const dm_error *e)
{
    sb_printf(b, "%s at ", status_name(e->code));
    sb_quote(b, e->source);
    sb_printf(b, ":%d:%d: ", e->line, e->column);
    sb_quote(b, e->text);
    sb_add(b, "\n", 1);
}

static void put_context(sbuf *b, const dm_context *ctx)
{
    const char *me[3] = {dm_me_name(ctx), dm_me_headline(ctx), dm_me_industry(ctx)};
    const char *label[3] = {"me.name", "me.headline", "me.industry"};
    for (int i = 0; i < 3; i++) {
        if (me[i]) {
            sb_printf(b, "%s: ", label[i]);
            sb_quote(b, me[i]);
            sb_add(b, "\n", 1);
        }
    }
    for (size_t i = 0; i < dm_me_company_count(ctx); i++) {
        int current = -1;
        const char *c = dm_me_company(ctx, i, &current);
        assert_non_null(c);
        assert_true(current == 0 || current == 1);
        sb_add(b, "me.company: ", 12);
        sb_quote(b, c);
        sb_printf(b, " %s\n", current ? "current" : "past");
    }
    assert_null(dm_me_company(ctx, dm_me_company_count(ctx), NULL));
    sb_printf(b, "connections: %zu\nhistories: %zu\n", dm_context_connection_count(ctx),
              dm_context_history_count(ctx));
}

static void put_record(sbuf *b, const dm_record *rec)
{
    sb_printf(b, "record:\n  kind: %s\n", dm_kind_name(dm_record_kind(rec)));
    for (int f = 0; f < DM_FIELD_COUNT; f++) {
        const char *v = dm_record_get(rec, (dm_field)f);
        if (!v) {
            assert_int_equal(dm_record_len(rec, (dm_field)f), 0);
            continue;
        }
        assert_int_equal(dm_record_len(rec, (dm_field)f), strlen(v));
        /* an empty cell is a missing field, never an empty one */
        assert_true(*v != '\0');
        sb_printf(b, "  %s: ", dm_field_name((dm_field)f));
        sb_quote(b, v);
        sb_add(b, "\n", 1);
    }
    if (dm_record_mutual(rec) != -1)
        sb_printf(b, "  mutual: %ld\n", dm_record_mutual(rec));
    unsigned facts = dm_record_facts(rec);
    if (facts) {
        sb_add(b, "  facts:", 8);
        for (unsigned bit = 1; bit; bit <<= 1) {
            if (facts & bit) {
                const char *name = dm_fact_name(bit);
                assert_non_null(name);
                sb_printf(b, " %s", name);
            }
        }
        sb_add(b, "\n", 1);
    }
    for (size_t i = 0; i < dm_record_extra_count(rec); i++) {
        const char *name, *value;
        dm_record_extra(rec, i, &name, &value);
        assert_non_null(name);
        assert_non_null(value);
        sb_add(b, "  extra: ", 9);
        sb_quote(b, name);
        sb_add(b, " = ", 3);
        sb_quote(b, value);
        sb_add(b, "\n", 1);
    }
    const dm_history *h = dm_record_history(rec);
    if (h) {
        sb_printf(b, "  history: %zu messages, %zu incoming, %s\n", dm_history_messages(h),
                  dm_history_incoming(h), dm_history_weak(h) ? "weak" : "strong");
        size_t i;
        for (i = 0; dm_history_text(h, i); i++) {
            sb_add(b, "  history.text: ", 16);
            sb_quote(b, dm_history_text(h, i));
            sb_add(b, "\n", 1);
        }
        assert_true(i <= dm_history_incoming(h));
    }
}

/* One run: what it opens and how. */
typedef struct run {
    char path[RUN_PATHS][PATHMAX];
    size_t npaths;
    dm_ingest_opts opts;
    int strict; /* 1: stop at errors, 2: at warnings too */
} run;

typedef struct diag_log {
    sbuf *out;
    int strict;
    size_t errors;
} diag_log;

static int on_diag(void *ud, dm_severity sev, const dm_error *e)
{
    diag_log *d = ud;
    assert_true(sev == DM_SEV_WARNING || sev == DM_SEV_ERROR);
    assert_true(e->code != DM_OK);
    sb_add(d->out, sev == DM_SEV_ERROR ? "error: " : "warning: ", sev == DM_SEV_ERROR ? 7 : 9);
    put_error(d->out, e);
    if (sev == DM_SEV_ERROR)
        d->errors++;
    return d->strict == 2 || (d->strict == 1 && sev == DM_SEV_ERROR);
}

/*
 * transcript() opens the sources of `r` into one context, finishes it, and
 * reads each source to its end into `out`.  Returns the status the run ended
 * with (DM_END when all went well).
 */
static dm_status transcript(const run *r, sbuf *out)
{
    diag_log dl = {out, r->strict, 0};
    dm_ingest_opts o = r->opts;
    o.diag = on_diag;
    o.diag_ud = &dl;
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    dm_source *src[RUN_PATHS] = {0};
    dm_error err;
    dm_error_clear(&err);
    dm_status st = dm_context_create(&ctx);
    if (st == DM_OK)
        st = dm_record_create(&rec);
    if (st != DM_OK) {
        sb_printf(out, "create: %s\n", status_name(st));
        goto out;
    }
    for (size_t i = 0; i < r->npaths; i++) {
        st = dm_source_open(r->path[i], &o, ctx, &src[i], &err);
        if (st != DM_OK) {
            assert_null(src[i]);
            /* err says why; out of memory may leave it empty, but says nothing else */
            if (st == DM_ENOMEM)
                assert_true(err.code == DM_OK || err.code == DM_ENOMEM);
            else
                assert_int_not_equal(err.code, DM_OK);
            sb_printf(out, "open: %s, err ", status_name(st));
            put_error(out, &err);
            goto out;
        }
        sb_add(out, "open: DM_OK\n", 12);
        assert_int_equal(err.code, DM_OK);
    }
    /* every source is open: settle me and the history, as the CLI does */
    st = dm_context_finish(ctx, &err);
    if (st != DM_OK) {
        assert_int_equal(err.code, st);
        sb_printf(out, "finish: %s, err ", status_name(st));
        put_error(out, &err);
        goto out;
    }
    assert_int_equal(err.code, DM_OK);
    /* a second time it has nothing left to do */
    size_t histories = dm_context_history_count(ctx);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    assert_int_equal(dm_context_history_count(ctx), histories);
    put_context(out, ctx);
    for (size_t i = 0; i < r->npaths; i++) {
        for (;;) {
            dm_error_clear(&err);
            st = dm_source_next(src[i], rec, &err);
            if (st != DM_OK)
                break;
            assert_int_equal(err.code, DM_OK);
            put_record(out, rec);
        }
        if (st != DM_END)
            break;
        assert_int_equal(err.code, DM_OK);
        /* and it stays there */
        assert_int_equal(dm_source_next(src[i], rec, &err), DM_END);
    }
    if (st == DM_END) {
        sb_add(out, "next: DM_END\n", 13);
    } else {
        sb_printf(out, "next: %s, err ", status_name(st));
        put_error(out, &err);
    }
    if (st == DM_ENOMEM)
        assert_true(err.code == DM_OK || err.code == DM_ENOMEM);
    else if (st != DM_END)
        assert_int_not_equal(err.code, DM_OK);
    /* every row reported as an error is a row skipped, and no other */
    size_t skipped = 0;
    for (size_t i = 0; i < r->npaths; i++)
        skipped += dm_source_skipped(src[i]);
    assert_int_equal(skipped, dl.errors);
    sb_printf(out, "skipped: %zu\n", skipped);
out:
    for (size_t i = 0; i < r->npaths; i++)
        dm_source_free(src[i]);
    dm_record_free(rec);
    dm_context_free(ctx);
    return st;
}

/* parse_run() reads one line of an args file. */
static void parse_run(run *r, const char *dir, const char *line)
{
    memset(r, 0, sizeof *r);
    char buf[PATHMAX];
    snprintf(buf, sizeof buf, "%s", line);
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (strncmp(w, "--", 2) != 0) {
            assert_true(r->npaths < RUN_PATHS);
            char *p = r->path[r->npaths++];
            if (strcmp(w, ".") == 0)
                snprintf(p, PATHMAX, "%s", dir);
            else
                snprintf(p, PATHMAX, "%s/%s", dir, w);
        } else if (strcmp(w, "--outgoing") == 0) {
            r->opts.outgoing = 1;
        } else if (strcmp(w, "--messages") == 0) {
            r->opts.messages = 1;
        } else if (strcmp(w, "--strict") == 0) {
            r->strict = 1;
        } else if (strcmp(w, "--strict-all") == 0) {
            r->strict = 2;
        } else if (strncmp(w, "--max-field=", 12) == 0) {
            r->opts.max_field = strtoul(w + 12, NULL, 10);
        } else if (strncmp(w, "--max-row=", 10) == 0) {
            r->opts.max_row = strtoul(w + 10, NULL, 10);
        } else if (strncmp(w, "--max-entry=", 12) == 0) {
            r->opts.max_entry = strtoull(w + 12, NULL, 10);
        } else {
            fail_msg("%s/args: unknown word \"%s\"", dir, w);
        }
    }
    assert_true(r->npaths > 0);
}

/* compare() fails with the first line where `got` and `want` differ. */
static void compare(const char *what, const char *got, const char *want, const char *case_name,
                    const char *whole)
{
    if (strcmp(got, want) == 0)
        return;
    int line = 1;
    const char *g = got, *w = want;
    while (*g && *g == *w) {
        if (*g == '\n')
            line++;
        g++, w++;
    }
    while (g > got && g[-1] != '\n')
        g--, w--;
    char actual[300];
    snprintf(actual, sizeof actual, "%s.actual", case_name);
    write_file(actual, whole, strlen(whole));
    fail_msg("%s: transcript differs at its line %d:\n  got:  %.*s\n  want: %.*s\n"
             "(the whole transcript is in %s)",
             what, line, (int)strcspn(g, "\n"), g, (int)strcspn(w, "\n"), w, actual);
}

/* section() returns the text of the "== HEAD" section of `expected` (malloc'd). */
static char *section(const char *expected, const char *head)
{
    size_t hl = strlen(head);
    for (const char *p = expected; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, "== ", 3) != 0 || strncmp(p + 3, head, hl) != 0 || p[3 + hl] != '\n')
            continue;
        const char *start = p + 4 + hl, *end = start;
        while (*end && strncmp(end, "== ", 3) != 0)
            end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
        return strndup(start, (size_t)(end - start));
    }
    return NULL;
}

static size_t runs_checked;

static void run_case(const char *name)
{
    char dir[512], path[PATHMAX];
    snprintf(dir, sizeof dir, "%s/%s", CASES, name);
    snprintf(path, sizeof path, "%s/args", dir);
    char *args = read_file(path, NULL);
    if (!args)
        args = strdup(".\n");
    snprintf(path, sizeof path, "%s/expected", dir);
    char *expected = read_file(path, NULL);
    sbuf whole = {0};
    int missing = 0;

    for (char *line = args, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == '#' || *line == '\0')
            continue;
        run r;
        parse_run(&r, dir, line);
        sbuf got = {0};
        transcript(&r, &got);
        sb_replace(&got, dir, "DIR");
        sb_printf(&whole, "== %s\n", line);
        sb_add(&whole, got.s, got.len);

        char *want = expected ? section(expected, line) : NULL;
        char what[PATHMAX + 600];
        snprintf(what, sizeof what, "case %s, run \"%s\"", name, line);
        if (!want) {
            missing = 1;
        } else {
            compare(what, got.s, want, name, whole.s);
            runs_checked++;
        }

        /* the same files in a zip, at its root and under a top folder */
        if (want && r.npaths == 1 && strcmp(r.path[0], dir) == 0) {
            static const char *const prefixes[] = {"", "top/"};
            for (size_t p = 0; p < 2; p++) {
                char zpath[PATHMAX];
                tmp_path(zpath, sizeof zpath, "case.zip");
                zip_case(zpath, dir, prefixes[p]);
                run z = r;
                snprintf(z.path[0], sizeof z.path[0], "%s", zpath);
                sbuf zgot = {0};
                transcript(&z, &zgot);
                char from[PATHMAX + 8];
                snprintf(from, sizeof from, "%s:%s", zpath, prefixes[p]);
                sb_replace(&zgot, from, "DIR/");
                sb_replace(&zgot, zpath, "DIR");
                snprintf(what, sizeof what, "case %s, run \"%s\", zipped%s%s", name, line,
                         *prefixes[p] ? " under " : "", prefixes[p]);
                compare(what, zgot.s ? zgot.s : "", want, name, zgot.s ? zgot.s : "");
                runs_checked++;
                sb_free(&zgot);
                unlink(zpath);
            }
        }
        free(want);
        sb_free(&got);
    }
    if (missing) {
        char actual[300];
        snprintf(actual, sizeof actual, "%s.actual", name);
        write_file(actual, whole.s, whole.len);
        fail_msg("case %s: no expected transcript for some runs; see %s", name, actual);
    }
    sb_free(&whole);
    free(expected);
    free(args);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_cases(void **state)
{
    (void)state;
    DIR *d = opendir(CASES);
    assert_non_null(d);
    char *names[128];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        assert_true(n < 128);
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_str);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
    print_message("%zu export cases, %zu runs\n", n, runs_checked);
}

/* ---- sources opened by hand ---- */

/* A context, a record and a source over `path`, for the tests below. */
typedef struct opened {
    dm_context *ctx;
    dm_record *rec;
    dm_source *src;
    dm_error err;
    dm_status st;
} opened;

static void open_source(opened *o, const char *path, const dm_ingest_opts *opts)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(dm_context_create(&o->ctx), DM_OK);
    assert_int_equal(dm_record_create(&o->rec), DM_OK);
    dm_error_clear(&o->err);
    o->st = dm_source_open(path, opts, o->ctx, &o->src, &o->err);
    if (o->st != DM_OK)
        assert_null(o->src);
}

static void close_source(opened *o)
{
    dm_source_free(o->src);
    dm_record_free(o->rec);
    dm_context_free(o->ctx);
}

/* next() reads one record into o->rec; returns the status. */
static dm_status next(opened *o)
{
    dm_error_clear(&o->err);
    return dm_source_next(o->src, o->rec, &o->err);
}

static void assert_error(const dm_error *e, dm_status code, const char *source, int line,
                         int column, const char *text)
{
    if (e->code != code || strcmp(e->source, source) != 0 || e->line != line ||
        e->column != column || strcmp(e->text, text) != 0)
        fail_msg("got %s at %s:%d:%d: \"%s\"\nwant %s at %s:%d:%d: \"%s\"", status_name(e->code),
                 e->source, e->line, e->column, e->text, status_name(code), source, line, column,
                 text);
}

static const entry *find(const files *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0)
            return &f->e[i];
    fail_msg("no %s", name);
    return NULL;
}

/* The export at the root of the zip or in a top folder: the source names the entry. */
static void test_zip_layouts(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"", "Basic_LinkedInDataExport_02-14-2026/"};
    for (size_t p = 0; p < 2; p++) {
        char zpath[PATHMAX], want[PATHMAX + 64];
        tmp_path(zpath, sizeof zpath, "Basic_LinkedInDataExport_02-14-2026.zip");
        zip_case(zpath, CASES "/current", prefixes[p]);
        opened o;
        open_source(&o, zpath, NULL);
        assert_int_equal(o.st, DM_OK);
        assert_string_equal(dm_me_name(o.ctx), "Gideon Marsh");
        assert_int_equal(dm_context_connection_count(o.ctx), 2);
        /* the messages wait for dm_context_finish(), which the first next() calls */
        assert_int_equal(dm_context_history_count(o.ctx), 0);
        static const int lines[] = {2, 3, 5, 9, 11, 12};
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
            assert_int_equal(next(&o), DM_OK);
            assert_int_equal(dm_context_history_count(o.ctx), 3);
            snprintf(want, sizeof want, "%s:%sInvitations.csv:%d", zpath, prefixes[p], lines[i]);
            assert_string_equal(dm_record_get(o.rec, DM_FIELD_SOURCE), want);
        }
        assert_int_equal(next(&o), DM_END);
        assert_int_equal(o.err.code, DM_OK);
        close_source(&o);
        unlink(zpath);
    }
}

/* Names are matched case-insensitively in a zip: Messages.csv, PROFILE.CSV. */
static void test_zip_capitalised(void **state)
{
    (void)state;
    files f;
    files_load(&f, CASES "/current", "");
    entry e[] = {
        {"Invitations.csv", find(&f, "Invitations.csv")->data, find(&f, "Invitations.csv")->len},
        {"Messages.csv", find(&f, "messages.csv")->data, find(&f, "messages.csv")->len},
        {"PROFILE.CSV", find(&f, "Profile.csv")->data, find(&f, "Profile.csv")->len},
    };
    char zpath[PATHMAX], want[PATHMAX + 64];
    tmp_path(zpath, sizeof zpath, "caps.zip");
    write_zip(zpath, e, 3, 0);
    opened o;
    open_source(&o, zpath, &(dm_ingest_opts){.messages = 1});
    assert_int_equal(o.st, DM_OK);
    assert_string_equal(dm_me_name(o.ctx), "Gideon Marsh");
    assert_int_equal(dm_me_company_count(o.ctx), 0); /* no Positions.csv */
    assert_int_equal(dm_context_finish(o.ctx, &o.err), DM_OK);
    assert_int_equal(dm_context_history_count(o.ctx), 3);
    size_t invitations = 0, messages = 0;
    static const int message_lines[] = {3, 4, 7, 8};
    dm_status st;
    while ((st = next(&o)) == DM_OK) {
        if (dm_record_kind(o.rec) == DM_KIND_INVITATION) {
            invitations++;
            continue;
        }
        assert_int_equal(dm_record_kind(o.rec), DM_KIND_MESSAGE);
        assert_true(messages < 4);
        snprintf(want, sizeof want, "%s:Messages.csv:%d", zpath, message_lines[messages++]);
        assert_string_equal(dm_record_get(o.rec, DM_FIELD_SOURCE), want);
    }
    assert_int_equal(st, DM_END);
    assert_int_equal(invitations, 6);
    assert_int_equal(messages, 4);
    close_source(&o);
    files_free(&f);
    unlink(zpath);
}

/* An entry over max_entry is refused before a byte of it is inflated. */
static void test_zip_too_large(void **state)
{
    (void)state;
    files f;
    files_load(&f, CASES "/current", "");
    const entry *inv = find(&f, "Invitations.csv"), *msgs = find(&f, "messages.csv");
    char zpath[PATHMAX], src[PATHMAX + 32], text[256];
    tmp_path(zpath, sizeof zpath, "big.zip");

    /* Invitations.csv, read record by record: the limit is found at the first */
    write_zip(zpath, inv, 1, 0);
    snprintf(src, sizeof src, "%s:Invitations.csv", zpath);
    opened o;
    open_source(&o, zpath, &(dm_ingest_opts){.max_entry = inv->len - 1});
    assert_int_equal(o.st, DM_OK);
    assert_int_equal(next(&o), DM_ETOOLARGE);
    snprintf(text, sizeof text,
             "entry is %zu bytes uncompressed, over the limit of %zu; refusing it (zip bomb?)",
             inv->len, inv->len - 1);
    assert_error(&o.err, DM_ETOOLARGE, src, 0, 0, text);
    assert_int_equal(next(&o), DM_END); /* the source is done */
    close_source(&o);

    /* at the limit exactly it is read */
    open_source(&o, zpath, &(dm_ingest_opts){.max_entry = inv->len});
    assert_int_equal(o.st, DM_OK);
    size_t n = 0;
    while (next(&o) == DM_OK)
        n++;
    assert_int_equal(o.err.code, DM_OK);
    assert_int_equal(n, 6);
    close_source(&o);

    /* messages.csv, a context file: the source does not open */
    entry both[2] = {*inv, *msgs};
    write_zip(zpath, both, 2, 0);
    snprintf(src, sizeof src, "%s:messages.csv", zpath);
    open_source(&o, zpath, &(dm_ingest_opts){.max_entry = msgs->len - 1});
    assert_int_equal(o.st, DM_ETOOLARGE);
    snprintf(text, sizeof text,
             "entry is %zu bytes uncompressed, over the limit of %zu; refusing it (zip bomb?)",
             msgs->len, msgs->len - 1);
    assert_error(&o.err, DM_ETOOLARGE, src, 0, 0, text);
    close_source(&o);
    files_free(&f);
    unlink(zpath);
}

static void put_le32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

/*
 * A zip bomb whose headers lie: they declare a small entry, so the check of
 * the declared size passes, and the limit must hold while inflating.
 */
static void test_zip_lying_size(void **state)
{
    (void)state;
    files f;
    files_load(&f, CASES "/current", "");
    const entry *inv = find(&f, "Invitations.csv");
    char zpath[PATHMAX], src[PATHMAX + 32];
    tmp_path(zpath, sizeof zpath, "bomb.zip");
    write_zip(zpath, inv, 1, 0);
    size_t len;
    char *data = read_file(zpath, &len);
    int patched = 0;
    for (size_t i = 0; i + 46 <= len; i++) {
        if (memcmp(data + i, "PK\x03\x04", 4) == 0) /* local header: size at 22 */
            put_le32(data + i + 22, 100), patched++;
        else if (memcmp(data + i, "PK\x01\x02", 4) == 0) /* central header: size at 24 */
            put_le32(data + i + 24, 100), patched++;
    }
    assert_int_equal(patched, 2);
    write_file(zpath, data, len);
    free(data);

    opened o;
    open_source(&o, zpath, &(dm_ingest_opts){.max_entry = 200});
    assert_int_equal(o.st, DM_OK);
    snprintf(src, sizeof src, "%s:Invitations.csv", zpath);
    dm_status st;
    while ((st = next(&o)) == DM_OK)
        ;
    assert_int_equal(st, DM_ETOOLARGE);
    assert_int_equal(o.err.code, DM_ETOOLARGE);
    assert_string_equal(o.err.source, src);
    assert_int_equal(o.err.column, 0);
    assert_string_equal(o.err.text,
                        "entry is larger than the limit of 200 bytes; refusing it (zip bomb?)");
    close_source(&o);
    files_free(&f);
    unlink(zpath);
}

/* A zip cut short anywhere has lost its central directory: DM_EZIP at open. */
static void test_zip_truncated(void **state)
{
    (void)state;
    char zpath[PATHMAX], cut[PATHMAX];
    tmp_path(zpath, sizeof zpath, "whole.zip");
    tmp_path(cut, sizeof cut, "cut.zip");
    zip_case(zpath, CASES "/current", "");
    size_t len;
    char *data = read_file(zpath, &len);
    assert_non_null(data);
    assert_true(len > 1000);

    write_file(cut, data, len / 2);
    opened o;
    open_source(&o, cut, NULL);
    assert_int_equal(o.st, DM_EZIP);
    assert_error(&o.err, DM_EZIP, cut, 0, 0, "cannot open the zip: Not a zip archive");
    close_source(&o);

    for (size_t n = 4; n < len; n += n < len - 64 ? 61 : 1) {
        write_file(cut, data, n);
        open_source(&o, cut, NULL);
        if (o.st != DM_EZIP)
            fail_msg("cut at %zu of %zu bytes: %s (%s)", n, len, status_name(o.st), o.err.text);
        assert_int_equal(o.err.code, DM_EZIP);
        assert_string_equal(o.err.source, cut);
        assert_int_equal(strncmp(o.err.text, "cannot open the zip: ", 21), 0);
        assert_true(strlen(o.err.text) > 21);
        close_source(&o);
    }
    free(data);
    unlink(zpath);
    unlink(cut);
}

/* An entry whose bytes were damaged: its CRC fails while it is read. */
static void test_zip_corrupt_entry(void **state)
{
    (void)state;
    char zpath[PATHMAX], src[PATHMAX + 32];
    tmp_path(zpath, sizeof zpath, "corrupt.zip");
    files f;
    files_load(&f, CASES "/current", "");
    write_zip(zpath, f.e, f.n, 1); /* stored, so the text is there to damage */
    files_free(&f);
    size_t len;
    char *data = read_file(zpath, &len);
    char *hit = NULL;
    for (size_t i = 0; !hit && i + 11 <= len; i++)
        if (memcmp(data + i, "Kyle Brandt", 11) == 0)
            hit = data + i;
    assert_non_null(hit);
    hit[0] = 'X';
    write_file(zpath, data, len);
    free(data);

    opened o;
    open_source(&o, zpath, NULL);
    assert_int_equal(o.st, DM_OK);
    dm_status st;
    while ((st = next(&o)) == DM_OK)
        ;
    snprintf(src, sizeof src, "%s:Invitations.csv", zpath);
    assert_int_equal(st, DM_EZIP);
    assert_int_equal(o.err.code, DM_EZIP);
    assert_string_equal(o.err.source, src);
    assert_int_equal(o.err.column, 0);
    assert_string_equal(o.err.text, "cannot read: CRC error");
    close_source(&o);
    unlink(zpath);
}

/* Files that start like a zip and are not one. */
static void test_zip_junk(void **state)
{
    (void)state;
    char zpath[PATHMAX];
    tmp_path(zpath, sizeof zpath, "junk.zip");
    char junk[256] = "PK\x03\x04";
    for (size_t i = 4; i < sizeof junk; i++)
        junk[i] = (char)(i * 37 + 11);
    write_file(zpath, junk, sizeof junk);
    opened o;
    open_source(&o, zpath, NULL);
    assert_int_equal(o.st, DM_EZIP);
    assert_error(&o.err, DM_EZIP, zpath, 0, 0, "cannot open the zip: Not a zip archive");
    close_source(&o);

    /* an empty archive is nothing but its end record */
    char empty[22] = "PK\x05\x06";
    write_file(zpath, empty, sizeof empty);
    open_source(&o, zpath, NULL);
    assert_int_equal(o.st, DM_EZIP);
    assert_error(&o.err, DM_EZIP, zpath, 0, 0, "the zip archive is empty");
    close_source(&o);
    unlink(zpath);
}

static void test_empty_folder(void **state)
{
    (void)state;
    char dir[PATHMAX];
    tmp_path(dir, sizeof dir, "empty");
    assert_int_equal(mkdir(dir, 0700), 0);
    opened o;
    open_source(&o, dir, NULL);
    assert_int_equal(o.st, DM_EFORMAT);
    assert_error(&o.err, DM_EFORMAT, dir, 0, 0,
                 "no Invitations.csv or messages.csv here; is this a LinkedIn data export?");
    close_source(&o);
    rmdir(dir);
}

/* "export/" is the folder "export": the sources do not say "export//Invitations.csv". */
static void test_folder_trailing_slash(void **state)
{
    (void)state;
    static const char *const paths[] = {CASES "/current/", CASES "/current//"};
    for (size_t i = 0; i < 2; i++) {
        opened o;
        open_source(&o, paths[i], NULL);
        assert_int_equal(o.st, DM_OK);
        assert_string_equal(dm_me_name(o.ctx), "Gideon Marsh");
        assert_int_equal(next(&o), DM_OK);
        assert_string_equal(dm_record_get(o.rec, DM_FIELD_SOURCE),
                            CASES "/current/Invitations.csv:2");
        close_source(&o);
    }
}

/*
 * Nobody calls dm_context_finish(): the first dm_source_next() does, so
 * Profile.csv opened after messages.csv still says who me is.
 */
static void test_finish_by_next(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    dm_source *src[3] = {NULL, NULL, NULL};
    static const char *const names[3] = {"messages.csv", "Profile.csv", "Invitations.csv"};
    dm_ingest_opts opts = {.messages = 1};
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_record_create(&rec), DM_OK);
    for (size_t i = 0; i < 3; i++) {
        char path[PATHMAX];
        snprintf(path, sizeof path, "%s/one-conversation/%s", CASES, names[i]);
        assert_int_equal(dm_source_open(path, &opts, ctx, &src[i], &err), DM_OK);
    }
    assert_int_equal(dm_context_history_count(ctx), 0); /* the messages wait */
    /* the invitations first: Omar's has the history of his conversation with me */
    assert_int_equal(dm_source_next(src[2], rec, &err), DM_OK);
    assert_string_equal(dm_record_get(rec, DM_FIELD_FROM_NAME), "Omar Haddad");
    const dm_history *h = dm_record_history(rec);
    assert_int_equal(dm_history_messages(h), 2);
    assert_int_equal(dm_history_incoming(h), 1);
    assert_string_equal(dm_history_text(h, 0),
                        "Hi Lena, could you share the audit checklist from your talk?");
    assert_string_equal(dm_me_name(ctx), "Lena Vogel");
    assert_int_equal(dm_context_history_count(ctx), 1);
    /* the one message record is Omar's; mine is not a record */
    assert_int_equal(dm_source_next(src[0], rec, &err), DM_OK);
    assert_string_equal(dm_record_get(rec, DM_FIELD_FROM_NAME), "Omar Haddad");
    assert_string_equal(dm_record_get(rec, DM_FIELD_DIRECTION), "incoming");
    assert_int_equal(dm_source_next(src[0], rec, &err), DM_END);
    assert_int_equal(err.code, DM_OK);
    for (size_t i = 0; i < 3; i++)
        dm_source_free(src[i]);
    dm_record_free(rec);
    dm_context_free(ctx);
}

static void test_open_args(void **state)
{
    (void)state;
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    dm_source *src = (dm_source *)&ctx;
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_source_open(NULL, NULL, ctx, &src, &err), DM_EINVAL);
    assert_error(&err, DM_EINVAL, "", 0, 0, "no source given");
    assert_ptr_equal(src, (dm_source *)&ctx); /* untouched on failure */
    dm_error_clear(&err);
    assert_int_equal(dm_source_open(CASES "/current", NULL, NULL, &src, &err), DM_EINVAL);
    assert_int_equal(err.code, DM_EINVAL);
    assert_int_equal(dm_source_open(CASES "/current", NULL, ctx, NULL, NULL), DM_EINVAL);
    assert_ptr_equal(src, (dm_source *)&ctx);
    dm_source_free(NULL);
    dm_context_free(ctx);
}

/* ---- allocation failures: DM_ENOMEM or the same result, never a crash or a leak ---- */


static void fail_each_allocation(const run *r)
{
    sbuf base = {0};
    mem_now = 0;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
    assert_int_equal(transcript(r, &base), DM_END);
    dm_set_alloc_funcs(NULL, NULL, NULL);
    assert_int_equal(mem_now, 0);

    size_t nomem = 0;
    for (long n = 0;; n++) {
        sbuf got = {0};
        mem_now = 0;
        injected = 0;
        fail_countdown = n;
        dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
        dm_status st = transcript(r, &got);
        dm_set_alloc_funcs(NULL, NULL, NULL);
        fail_countdown = -1;
        if (mem_now != 0)
            fail_msg("%s: failing allocation %ld leaks %zu bytes", r->path[0], n, mem_now);
        if (st == DM_ENOMEM) {
            assert_true(injected);
            nomem++;
        } else if (st != DM_END || strcmp(got.s, base.s) != 0) {
            /* a failure that was swallowed: the run went on with less */
            compare("failing an allocation", got.s, base.s, "alloc", got.s);
            fail_msg("%s: failing allocation %ld: %s", r->path[0], n, status_name(st));
        }
        sb_free(&got);
        if (!injected)
            break; /* this run had fewer allocations than n: all were tried */
    }
    assert_true(nomem > 100);
    print_message("%s: %zu allocations failed in turn, each DM_ENOMEM\n", r->path[0], nomem);
    sb_free(&base);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    run r;
    parse_run(&r, CASES "/current", ". --outgoing --messages");
    fail_each_allocation(&r);
    parse_run(&r, CASES "/messages-only", ". --messages");
    fail_each_allocation(&r);
    parse_run(&r, CASES "/one-conversation", "messages.csv Invitations.csv Profile.csv --messages");
    fail_each_allocation(&r);

    char zpath[PATHMAX];
    tmp_path(zpath, sizeof zpath, "alloc.zip");
    zip_case(zpath, CASES "/current", "top/");
    parse_run(&r, CASES "/current", ". --messages");
    snprintf(r.path[0], sizeof r.path[0], "%s", zpath);
    fail_each_allocation(&r);
    unlink(zpath);
}

int main(void)
{
    if (scratch_mkdtemp(tmpdir, sizeof tmpdir, "export") != 0) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),           cmocka_unit_test(test_zip_layouts),
        cmocka_unit_test(test_zip_capitalised), cmocka_unit_test(test_zip_too_large),
        cmocka_unit_test(test_zip_truncated),   cmocka_unit_test(test_zip_corrupt_entry),
        cmocka_unit_test(test_zip_lying_size),  cmocka_unit_test(test_zip_junk),
        cmocka_unit_test(test_empty_folder),    cmocka_unit_test(test_folder_trailing_slash),
        cmocka_unit_test(test_open_args),       cmocka_unit_test(test_finish_by_next),
        cmocka_unit_test(test_alloc_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    scratch_rmtree(tmpdir);
    return rc;
}
