/*
 * source.c: dm_source, the one entry point of the ingest stage.
 *
 * A source is a LinkedIn export (a folder or the zip itself), one CSV file
 * of the export recognised by its header, a JSON or JSONL file in
 * doorman's record schema, or "-" for JSONL on standard input; an
 * http:// or https:// URL is a JSON API read page by page (src/fetch/http.c).
 *
 * Opening a source reads its context files at once (Profile.csv and
 * Positions.csv into "me", Connections.csv into the connected set,
 * messages.csv into the context, where its rows wait for
 * dm_context_finish() to know who me is and make the history of them), so
 * that every record read later, from any source, can be joined with them.
 * Records are then streamed: Invitations.csv row by row, then (with
 * --messages) the incoming messages.
 */
#include "core.h"
#include "csv.h"
#include "export.h"
#include "fetch/imap.h"
#include "fetch/fetch.h"
#include "input.h"
#include "json.h"
#include "mail/mailbox.h"
#include "map.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "zipload.h" /* libzip is loaded on first use */

#define DEFAULT_MAX_ENTRY ((uint64_t)256 << 20)

/* One file of the export, open for reading from a folder or a zip. */
typedef struct xfile {
    char name[DM_ERROR_SOURCE_MAX]; /* as errors show it */
    FILE *fp;
    zip_file_t *zf;
    uint64_t limit, nread; /* zip entries: uncompressed bytes allowed, read */
    dm_status rcode;       /* why a read of a zip entry failed */
    dm_input in;
} xfile;

struct dm_source {
    dm_ingest_opts opts;
    dm_context *ctx;
    char *path;
    int is_dir;
    zip_t *zip;
    size_t skipped;
    /* What the source yields, in order. */
    char *inv_file;  /* an Invitations.csv: path or zip entry name */
    char *msg_file;  /* a messages.csv to triage (with opts.messages) */
    int stage;       /* 0 invitations, 1 messages, 2 done */
    dm_export_reader *reader;
    dm_export_env env; /* the readers keep its address */
    dm_export_env env_again; /* for the second reading of messages.csv */
    xfile cur;
    int cur_open;
    /* JSON / JSONL */
    FILE *json_fp;
    xfile json_in;
    dm_jsonsrc *json;
    /* mbox or Maildir (src/mail/mailbox.c) */
    dm_mailbox *mailbox;
    /* an http:// or https:// JSON API (src/fetch/http.c) */
    dm_httpsrc *http;
    /* an imap:// or imaps:// folder (src/fetch/imap.c) */
    dm_imap *imap;
};

/* ---- files inside a folder or a zip --------------------------------------- */

static long zip_read_cb(void *ud, char *buf, size_t n, dm_error *err)
{
    xfile *f = ud;
    zip_int64_t got = zip_fread(f->zf, buf, n);
    if (got < 0) {
        f->rcode = DM_EZIP;
        dm_error_set(err, DM_EZIP, f->name, 0, 0, "cannot read: %s", zip_file_strerror(f->zf));
        return -1;
    }
    f->nread += (uint64_t)got;
    if (f->nread > f->limit) {
        f->rcode = DM_ETOOLARGE;
        dm_error_set(err, DM_ETOOLARGE, f->name, 0, 0,
                     "entry is larger than the limit of %llu bytes; refusing it (zip bomb?)",
                     (unsigned long long)f->limit);
        return -1;
    }
    return (long)got;
}

/*
 * read_status() gives back why reading a zip entry failed: the CSV reader
 * reports every failed read as DM_EIO, which would pass a damaged archive
 * (DM_EZIP) or an entry over the limit (DM_ETOOLARGE) off as a disk error.
 */
static dm_status read_status(const xfile *f, dm_status st, dm_error *err)
{
    if (st != DM_EIO || f->rcode == DM_OK)
        return st;
    if (err && err->code == DM_EIO)
        err->code = f->rcode;
    return f->rcode;
}

static void xfile_close(xfile *f)
{
    if (f->fp && f->fp != stdin)
        fclose(f->fp);
    if (f->zf)
        zip_fclose(f->zf);
    f->fp = NULL;
    f->zf = NULL;
}

/* Base name of a zip entry or path. */
static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/*
 * find_entry() finds a file of the export by its name, case-insensitively
 * and in any sub-folder (zips made by hand add a top folder).  For a
 * folder it looks at the top level only.  Sets *out to a malloc'd name:
 * the path or the zip entry, or NULL when there is none.  Returns DM_OK or
 * DM_ENOMEM: running out of memory must not pass for a missing file, which
 * would silently drop Profile.csv or the like.
 */
static dm_status find_entry(dm_source *s, const char *want, char **out)
{
    *out = NULL;
    if (s->zip) {
        zip_int64_t n = zip_get_num_entries(s->zip, 0);
        for (zip_int64_t i = 0; i < n; i++) {
            const char *nm = zip_get_name(s->zip, (zip_uint64_t)i, 0);
            if (nm && dm_ascii_casecmp(base_name(nm), want) == 0) {
                *out = dm_strdup(nm);
                return *out ? DM_OK : DM_ENOMEM;
            }
        }
        return DM_OK;
    }
    /* folder: try the name as given, then the other common capitalisation */
    dm_buf b;
    dm_buf_init(&b, 4096);
    const char *variants[2] = {want, NULL};
    char alt[64];
    snprintf(alt, sizeof alt, "%s", want);
    alt[0] = (char)(alt[0] >= 'a' && alt[0] <= 'z' ? alt[0] - 32 : dm_ascii_lower(alt[0]));
    variants[1] = alt;
    dm_status rc = DM_OK;
    /* "export/" names the same folder as "export": no "export//Invitations.csv" */
    int dirlen = (int)strlen(s->path);
    while (dirlen > 0 && s->path[dirlen - 1] == '/')
        dirlen--;
    for (int v = 0; v < 2 && rc == DM_OK; v++) {
        dm_buf_reset(&b);
        rc = dm_buf_printf(&b, "%.*s/%s", dirlen, s->path, variants[v]);
        struct stat st;
        if (rc == DM_OK && stat(b.data, &st) == 0 && S_ISREG(st.st_mode)) {
            *out = dm_buf_steal(&b);
            return DM_OK;
        }
    }
    dm_buf_free(&b);
    return rc;
}

static dm_status xfile_open(dm_source *s, const char *file, xfile *f, dm_error *err)
{
    memset(f, 0, sizeof *f);
    if (s->zip) {
        snprintf(f->name, sizeof f->name, "%s:%s", s->path, file);
        zip_stat_t zs;
        zip_stat_init(&zs);
        if (zip_stat(s->zip, file, 0, &zs) != 0)
            return dm_error_set(err, DM_EZIP, f->name, 0, 0, "cannot stat entry: %s",
                                zip_strerror(s->zip));
        f->limit = s->opts.max_entry ? s->opts.max_entry : DEFAULT_MAX_ENTRY;
        if ((zs.valid & ZIP_STAT_SIZE) && zs.size > f->limit)
            return dm_error_set(err, DM_ETOOLARGE, f->name, 0, 0,
                                "entry is %llu bytes uncompressed, over the limit of %llu; "
                                "refusing it (zip bomb?)",
                                (unsigned long long)zs.size, (unsigned long long)f->limit);
        f->zf = zip_fopen(s->zip, file, 0);
        if (!f->zf)
            return dm_error_set(err, DM_EZIP, f->name, 0, 0, "cannot open entry: %s",
                                zip_strerror(s->zip));
        f->in.read = zip_read_cb;
        f->in.ud = f;
        f->in.name = f->name;
        return DM_OK;
    }
    snprintf(f->name, sizeof f->name, "%s", file);
    f->fp = fopen(file, "rb");
    if (!f->fp)
        return dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, file, 0, 0, "%s",
                            strerror(errno));
    dm_input_file(&f->in, f->fp, f->name);
    return DM_OK;
}

/* ---- diagnostics ------------------------------------------------------------ */

/* report() passes a problem to the caller's callback; returns DM_ESTRICT
 * when the callback asks to stop. */
static dm_status report(dm_source *s, dm_severity sev, const dm_error *e)
{
    if (sev == DM_SEV_ERROR)
        s->skipped++;
    if (s->opts.diag && s->opts.diag(s->opts.diag_ud, sev, e) != 0)
        return DM_ESTRICT;
    return DM_OK;
}

static dm_status report_cb(void *ud, dm_severity sev, const dm_error *e)
{
    return report(ud, sev, e);
}

/*
 * report_again_cb() serves the messages stage, which reads messages.csv a
 * second time, after it was loaded as context: its bad rows were reported
 * and counted then, so they are skipped quietly now.  Warnings go on, since
 * only this reading looks at the dates.
 */
static dm_status report_again_cb(void *ud, dm_severity sev, const dm_error *e)
{
    if (sev == DM_SEV_ERROR)
        return DM_OK;
    return report(ud, sev, e);
}

/* ---- reading one export CSV through the export module ----------------------- */

/*
 * read_context_file() reads one context file (Profile, Positions,
 * Connections, messages) fully into the context.
 */
static dm_status read_context_file(dm_source *s, const char *file, dm_export_kind want,
                                   dm_error *err)
{
    xfile f;
    dm_status st = xfile_open(s, file, &f, err);
    if (st != DM_OK) {
        xfile_close(&f);
        return st;
    }
    dm_export_reader *r = NULL;
    st = dm_export_reader_open(&f.in, &s->env, want, &r, err);
    if (st == DM_OK)
        st = dm_export_reader_load(r, err);
    st = read_status(&f, st, err);
    dm_export_reader_free(r);
    xfile_close(&f);
    return st;
}

static dm_status open_stage_file(dm_source *s, const char *file, dm_export_kind kind,
                                 dm_error *err)
{
    dm_status st = xfile_open(s, file, &s->cur, err);
    if (st != DM_OK) {
        xfile_close(&s->cur);
        return st;
    }
    s->cur_open = 1;
    /* a messages.csv read as records was loaded as context before */
    const dm_export_env *env = kind == DM_EXPORT_MESSAGES ? &s->env_again : &s->env;
    return dm_export_reader_open(&s->cur.in, env, kind, &s->reader, err);
}

static void close_stage_file(dm_source *s)
{
    dm_export_reader_free(s->reader);
    s->reader = NULL;
    if (s->cur_open)
        xfile_close(&s->cur);
    s->cur_open = 0;
}

/* ---- opening ---------------------------------------------------------------- */

static dm_status open_export(dm_source *s, dm_error *err)
{
    static const struct {
        const char *name;
        dm_export_kind kind;
    } context_files[] = {
        {"Profile.csv", DM_EXPORT_PROFILE},
        {"Positions.csv", DM_EXPORT_POSITIONS},
        {"Connections.csv", DM_EXPORT_CONNECTIONS},
        {"messages.csv", DM_EXPORT_MESSAGES},
    };
    dm_status st = DM_OK;
    for (size_t i = 0; i < sizeof context_files / sizeof context_files[0]; i++) {
        char *file;
        st = find_entry(s, context_files[i].name, &file);
        if (st != DM_OK)
            return st;
        if (!file)
            continue;
        st = read_context_file(s, file, context_files[i].kind, err);
        if (st == DM_OK && context_files[i].kind == DM_EXPORT_MESSAGES && s->opts.messages)
            s->msg_file = file;
        else
            dm_free(file);
        if (st != DM_OK)
            return st;
    }
    st = find_entry(s, "Invitations.csv", &s->inv_file);
    if (st != DM_OK)
        return st;
    if (!s->inv_file && !s->msg_file) {
        char *msgs;
        st = find_entry(s, "messages.csv", &msgs);
        if (st != DM_OK)
            return st;
        int has_msgs = msgs != NULL;
        dm_free(msgs);
        return dm_error_set(err, DM_EFORMAT, s->path, 0, 0,
                            has_msgs ? "no Invitations.csv here; add --messages to triage the "
                                       "messages"
                                     : "no Invitations.csv or messages.csv here; is this a "
                                       "LinkedIn data export?");
    }
    return DM_OK;
}

static dm_status open_zip(dm_source *s, dm_error *err)
{
    int zerr = 0;
    char why[256];
    if (dm_zip_load(why, sizeof why) != 0)
        return dm_error_set(err, DM_EZIP, s->path, 0, 0, "cannot read zip files: %s", why);
    s->zip = zip_open(s->path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!s->zip) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        dm_error_set(err, DM_EZIP, s->path, 0, 0, "cannot open the zip: %s",
                     zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return DM_EZIP;
    }
    return open_export(s, err);
}

/*
 * open_single_csv() reads the header of a lone CSV file to learn which
 * file of the export it is, then either loads it as context or sets it up
 * as the source of records.
 */
static dm_status open_single_csv(dm_source *s, dm_error *err)
{
    xfile f;
    dm_export_kind kind;
    dm_status st = xfile_open(s, s->path, &f, err);
    if (st == DM_OK)
        st = dm_export_sniff(&f.in, &kind, err);
    xfile_close(&f);
    if (st != DM_OK)
        return st;
    switch (kind) {
    case DM_EXPORT_INVITATIONS:
        s->inv_file = dm_strdup(s->path);
        return s->inv_file ? DM_OK : DM_ENOMEM;
    case DM_EXPORT_MESSAGES:
        st = read_context_file(s, s->path, kind, err);
        if (st == DM_OK && s->opts.messages) {
            s->msg_file = dm_strdup(s->path);
            if (!s->msg_file)
                return DM_ENOMEM;
        }
        return st;
    default:
        return read_context_file(s, s->path, kind, err);
    }
}

static dm_status open_json(dm_source *s, FILE *fp, dm_error *err)
{
    s->json_fp = fp;
    snprintf(s->json_in.name, sizeof s->json_in.name, "%s",
             fp == stdin ? "<stdin>" : s->path);
    dm_input_file(&s->json_in.in, fp, s->json_in.name);
    return dm_json_open(&s->json_in.in, s->opts.max_row, &s->json, err);
}

/* Sniff a file's first bytes: zip, JSON, or CSV. */
static dm_status open_file(dm_source *s, dm_error *err)
{
    FILE *fp = fopen(s->path, "rb");
    if (!fp)
        return dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, s->path, 0, 0, "%s",
                            strerror(errno));
    unsigned char head[8] = {0};
    size_t n = fread(head, 1, sizeof head, fp);
    size_t i = 0;
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF)
        i = 3;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) {
        fclose(fp);
        return open_zip(s, err);
    }
    if (n >= 4 && memcmp(head, "PK\x05\x06", 4) == 0) {
        fclose(fp);
        return dm_error_set(err, DM_EZIP, s->path, 0, 0, "the zip archive is empty");
    }
    if (i < n && (head[i] == '{' || head[i] == '[')) {
        rewind(fp);
        return open_json(s, fp, err);
    }
    fclose(fp);
    if (n == 0)
        return dm_error_set(err, DM_EFORMAT, s->path, 0, 0, "the file is empty");
    return open_single_csv(s, err);
}

/*
 * imap_cursor_opts() adds to `io` what the caller gave for an IMAP folder:
 * the cursor of an earlier run ("uidvalidity:V last_uid:N": only UIDs above
 * N are read while the folder's UIDVALIDITY is still V) and the config
 * file's password for the URL.
 */
static dm_status imap_cursor_opts(dm_source *s, const char *path, dm_imap_opts *io, dm_error *err)
{
    const char *cur = s->opts.cursor;
    if (cur && *cur) {
        unsigned long uv = 0, last = 0;
        int used = 0;
        if (sscanf(cur, "uidvalidity:%lu last_uid:%lu%n", &uv, &last, &used) != 2 ||
            cur[used] != '\0' || uv == 0 || uv > UINT32_MAX || last > UINT32_MAX)
            return dm_error_set(err, DM_EINVAL, path, 0, 0,
                                "the stored cursor '%.64s' is not an IMAP cursor "
                                "(uidvalidity:V last_uid:N)",
                                cur);
        io->uidvalidity = (uint32_t)uv;
        io->since_uid = (uint32_t)last;
    }
    const char *pw = NULL;
    dm_status st = dm_config_secret(s->opts.config, "password", path, &pw, err);
    if (st != DM_OK)
        return st;
    io->password = pw;
    return DM_OK;
}

DM_API dm_status dm_source_open(const char *path, const dm_ingest_opts *opts, dm_context *ctx,
                                dm_source **out, dm_error *err)
{
    if (!path || !ctx || !out)
        return dm_error_set(err, DM_EINVAL, path, 0, 0, "no source given");
    dm_source *s = dm_calloc(1, sizeof *s);
    if (!s)
        return DM_ENOMEM;
    if (opts)
        s->opts = *opts;
    s->ctx = ctx;
    s->env = (dm_export_env){&s->opts, ctx, report_cb, s};
    s->env_again = (dm_export_env){&s->opts, ctx, report_again_cb, s};
    s->path = dm_strdup(path);
    dm_status st = s->path ? DM_OK : DM_ENOMEM;
    /* mailboxes: "mbox:PATH", "maildir:PATH", or a path of their shape */
    dm_mailbox_kind mk = DM_MAILBOX_NONE;
    const char *mpath = path;
    int is_imap = dm_ascii_ncasecmp(path, "imap://", 7) == 0 ||
                  dm_ascii_ncasecmp(path, "imaps://", 8) == 0;
    if (is_imap || dm_http_is_url(path))
        mk = DM_MAILBOX_NONE;
    else if (strncmp(path, "mbox:", 5) == 0)
        mk = DM_MAILBOX_MBOX, mpath = path + 5;
    else if (strncmp(path, "maildir:", 8) == 0)
        mk = DM_MAILBOX_MAILDIR, mpath = path + 8;
    else if (strcmp(path, "-") != 0)
        mk = dm_mailbox_sniff(path);
    if (st == DM_OK && is_imap) {
        dm_imap_opts io = {.max_message = s->opts.max_message,
                           .cacert = s->opts.cacert,
                           .progress = s->opts.progress,
                           .progress_ud = s->opts.progress_ud,
                           .progress_name = path};
        st = imap_cursor_opts(s, path, &io, err);
        if (st == DM_OK)
            st = dm_imap_open(path, &io, report_cb, s, &s->imap, err);
    } else if (st == DM_OK && mk != DM_MAILBOX_NONE) {
        st = dm_mailbox_open(mpath, mk, s->opts.max_message, report_cb, s, &s->mailbox, err);
    } else if (st == DM_OK) {
        struct stat sb;
        if (dm_http_is_url(path)) {
            const char *cur = s->opts.cursor, *secret = NULL;
            dm_http_opts ho = {
                .max_record = s->opts.max_row,
                .cacert = s->opts.cacert,
                .since = cur && strncmp(cur, "since:", 6) == 0 ? cur + 6 : NULL,
                .progress = s->opts.progress,
                .progress_ud = s->opts.progress_ud,
            };
            /* the config file's token for the URL (docs/sources.md, "Credentials") */
            st = dm_config_secret(s->opts.config, "token", path, &secret, err);
            ho.secret = secret;
            if (st == DM_OK)
                st = dm_http_open(path, &ho, &s->http, err);
        } else if (strcmp(path, "-") == 0) {
            st = open_json(s, stdin, err);
        } else if (stat(path, &sb) != 0) {
            st = dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, path, 0, 0, "%s",
                              strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            s->is_dir = 1;
            st = open_export(s, err);
        } else {
            st = open_file(s, err);
        }
    }
    if (st != DM_OK) {
        dm_source_free(s);
        return st;
    }
    *out = s;
    return DM_OK;
}

DM_API void dm_source_free(dm_source *s)
{
    if (!s)
        return;
    close_stage_file(s);
    dm_mailbox_free(s->mailbox);
    dm_imap_free(s->imap);
    dm_json_free(s->json);
    dm_http_free(s->http);
    if (s->json_fp && s->json_fp != stdin)
        fclose(s->json_fp);
    if (s->zip)
        zip_discard(s->zip);
    dm_free(s->inv_file);
    dm_free(s->msg_file);
    dm_free(s->path);
    dm_free(s);
}

DM_API size_t dm_source_skipped(const dm_source *s) { return s->skipped; }

DM_API int dm_source_imap_cursor(const dm_source *s, int64_t *uidvalidity, int64_t *last_uid)
{
    if (!s->imap)
        return 0;
    if (uidvalidity)
        *uidvalidity = dm_imap_uidvalidity(s->imap);
    if (last_uid)
        *last_uid = dm_imap_last_uid(s->imap);
    return 1;
}

DM_API int dm_source_cursor(const dm_source *s, char *buf, size_t n)
{
    if (n)
        buf[0] = '\0';
    if (s->imap) {
        uint32_t last = dm_imap_last_uid(s->imap);
        if (!last || !n)
            return 0;
        int w = snprintf(buf, n, "uidvalidity:%lu last_uid:%lu",
                         (unsigned long)dm_imap_uidvalidity(s->imap), (unsigned long)last);
        if (w < 0 || (size_t)w >= n) {
            buf[0] = '\0';
            return 0;
        }
        return 1;
    }
    if (s->http)
        return dm_http_cursor(s->http, buf, n);
    return 0;
}

/* ---- reading records -------------------------------------------------------- */

static dm_status next_json(dm_source *s, dm_record *rec, dm_error *err)
{
    for (;;) {
        dm_error e;
        dm_error_clear(&e);
        dm_status st = s->http ? dm_http_next(s->http, rec, &e) : dm_json_next(s->json, rec, &e);
        if (st == DM_OK) {
            dm_context_attach(s->ctx, rec);
            return DM_OK;
        }
        if (st == DM_END)
            return DM_END;
        if (!dm_status_recoverable(st)) {
            if (err)
                *err = e;
            return st;
        }
        if (report(s, DM_SEV_ERROR, &e) != DM_OK) {
            if (err)
                *err = e;
            return DM_ESTRICT;
        }
    }
}

DM_API dm_status dm_source_next(dm_source *s, dm_record *rec, dm_error *err)
{
    /* the history must be settled before a record is joined with it; once
     * it is, this costs nothing */
    dm_status fst = dm_context_finish(s->ctx, err);
    if (fst != DM_OK)
        return fst;
    if (s->json || s->http)
        return next_json(s, rec, err);
    if (s->imap) {
        dm_status st = dm_imap_next(s->imap, rec, err);
        if (st == DM_OK)
            dm_context_attach(s->ctx, rec);
        return st;
    }
    if (s->mailbox) {
        dm_status st = dm_mailbox_next(s->mailbox, rec, err);
        if (st == DM_OK)
            dm_context_attach(s->ctx, rec);
        return st;
    }
    for (;;) {
        if (!s->reader) {
            const char *file = NULL;
            dm_export_kind kind = DM_EXPORT_INVITATIONS;
            if (s->stage == 0) {
                file = s->inv_file;
            } else if (s->stage == 1) {
                file = s->msg_file;
                kind = DM_EXPORT_MESSAGES;
            } else {
                return DM_END;
            }
            if (!file) {
                s->stage++;
                continue;
            }
            dm_status st = read_status(&s->cur, open_stage_file(s, file, kind, err), err);
            if (st != DM_OK) {
                close_stage_file(s);
                s->stage = 2;
                return st;
            }
        }
        dm_status st = read_status(&s->cur, dm_export_reader_next(s->reader, rec, err), err);
        if (st == DM_OK) {
            dm_context_attach(s->ctx, rec);
            return DM_OK;
        }
        close_stage_file(s);
        if (st != DM_END) {
            s->stage = 2;
            return st;
        }
        s->stage++;
    }
}

/* ---- marking IMAP mails (docs/sources.md, "IMAP mailboxes") ----------------- */

DM_API dm_status dm_source_imap_mark(dm_source *s, const char *flag, const char *folder,
                                     dm_error *err)
{
    if (!s || !s->imap)
        return dm_error_set(err, DM_EINVAL, s ? s->path : NULL, 0, 0,
                            "only the mails of an imap:// or imaps:// source can be flagged "
                            "or moved");
    return dm_imap_mark(s->imap, flag, folder, err);
}

DM_API dm_status dm_source_imap_check_mark(dm_source *s, const char *flag, const char *folder,
                                           dm_error *err)
{
    if (!s || !s->imap)
        return dm_error_set(err, DM_EINVAL, s ? s->path : NULL, 0, 0,
                            "only the mails of an imap:// or imaps:// source can be flagged "
                            "or moved");
    return dm_imap_check_target(s->imap, flag, folder, err);
}
