/*
 * export.c: the CSV files of a LinkedIn data export, to records and context.
 *
 * Columns are mapped by name (case-insensitively), never by position: the
 * column set changes between exports.  Each file's header is found by
 * scanning its first rows, since Connections.csv starts with a preamble
 * that re-saved files lack.
 */
#include "export.h"

#include "context.h"
#include "core.h"
#include "csv.h"
#include "record.h"
#include "text.h"

#include <stdarg.h>
#include <string.h>

#define HEADER_SCAN_ROWS 16

/* Every column any export file has that doorman reads by name. */
enum role {
    R_FROM, R_TO, R_SENT_AT, R_MESSAGE, R_DIRECTION, R_INVITER_URL, R_INVITEE_URL,
    R_CONV_ID, R_SENDER_URL, R_RECIPIENT_URLS, R_DATE, R_SUBJECT, R_CONTENT, R_FOLDER,
    R_DRAFT,
    R_FIRST_NAME, R_LAST_NAME, R_URL, R_HEADLINE, R_INDUSTRY, R_CONNECTED_ON,
    R_COMPANY_NAME, R_TITLE, R_FINISHED_ON,
    R_COUNT
};

static const char *const role_column[R_COUNT] = {
    [R_FROM] = "From",
    [R_TO] = "To",
    [R_SENT_AT] = "Sent At",
    [R_MESSAGE] = "Message",
    [R_DIRECTION] = "Direction",
    [R_INVITER_URL] = "inviterProfileUrl",
    [R_INVITEE_URL] = "inviteeProfileUrl",
    [R_CONV_ID] = "CONVERSATION ID",
    [R_SENDER_URL] = "SENDER PROFILE URL",
    [R_RECIPIENT_URLS] = "RECIPIENT PROFILE URLS",
    [R_DATE] = "Date",
    [R_SUBJECT] = "Subject",
    [R_CONTENT] = "Content",
    [R_FOLDER] = "Folder",
    [R_DRAFT] = "IS MESSAGE DRAFT",
    [R_FIRST_NAME] = "First Name",
    [R_LAST_NAME] = "Last Name",
    [R_URL] = "URL",
    [R_HEADLINE] = "Headline",
    [R_INDUSTRY] = "Industry",
    [R_CONNECTED_ON] = "Connected On",
    [R_COMPANY_NAME] = "Company Name",
    [R_TITLE] = "Title",
    [R_FINISHED_ON] = "Finished On",
};

/* The columns that identify each file: all must be in its header. */
static const struct {
    dm_export_kind kind;
    enum role need[4];
    int nneed;
} signatures[] = {
    /* most specific first: Profile and Connections share the name columns */
    {DM_EXPORT_INVITATIONS, {R_FROM, R_TO, R_SENT_AT, R_DIRECTION}, 4},
    {DM_EXPORT_MESSAGES, {R_CONV_ID, R_FROM, R_DATE, R_CONTENT}, 4},
    {DM_EXPORT_MESSAGES, {R_FROM, R_TO, R_DATE, R_CONTENT}, 4}, /* 2018 */
    {DM_EXPORT_CONNECTIONS, {R_FIRST_NAME, R_LAST_NAME, R_CONNECTED_ON}, 3},
    {DM_EXPORT_PROFILE, {R_FIRST_NAME, R_LAST_NAME, R_HEADLINE}, 3},
    {DM_EXPORT_POSITIONS, {R_COMPANY_NAME, R_TITLE}, 2},
};

/* Columns turned into record fields; the others of a record file become extras. */
static const enum role used_invitation[] = {R_FROM, R_TO, R_SENT_AT, R_MESSAGE, R_DIRECTION,
                                            R_INVITER_URL};
static const enum role used_message[] = {R_FROM, R_TO, R_SENDER_URL, R_DATE, R_SUBJECT,
                                         R_CONTENT, R_DIRECTION};

static const char *const kind_files[DM_EXPORT_KIND_COUNT] = {
    "Invitations.csv", "messages.csv", "Connections.csv", "Profile.csv", "Positions.csv"};

struct dm_export_reader {
    const dm_input *in;
    const dm_export_env *env;
    dm_export_kind kind;
    dm_csv *csv;
    size_t ncols;
    char **cols;          /* header names */
    int idx[R_COUNT];     /* column of each role, -1 when absent */
    unsigned char *extra; /* per column: 1 when kept as an extra */
    dm_buf scratch;       /* HTML to text, ids */
    int bad_date;         /* this row's column whose date could not be read, or -1 */
    dm_error warned;      /* the last warning, for err when it stopped the run */
};

const char *dm_export_kind_name(dm_export_kind k)
{
    return (unsigned)k < DM_EXPORT_KIND_COUNT ? kind_files[k] : "?";
}

static dm_csv_opts csv_opts_of(const dm_ingest_opts *o)
{
    dm_csv_opts c = {0, 0};
    if (o) {
        c.max_field = o->max_field;
        c.max_row = o->max_row;
    }
    return c;
}

/* Trimmed, case-insensitive comparison of a header cell with a column name. */
static int column_is(const char *cell, const char *name)
{
    while (*cell == ' ' || *cell == '\t')
        cell++;
    size_t n = strlen(cell);
    while (n && (cell[n - 1] == ' ' || cell[n - 1] == '\t'))
        n--;
    return n == strlen(name) && dm_ascii_ncasecmp(cell, name, n) == 0;
}

static int find_column(const dm_csv *csv, enum role r)
{
    for (size_t i = 0; i < dm_csv_nfields(csv); i++)
        if (column_is(dm_csv_field(csv, i, NULL), role_column[r]))
            return (int)i;
    return -1;
}

/* classify() returns the kind whose signature the current row matches, or -1. */
static int classify(const dm_csv *csv)
{
    for (size_t s = 0; s < sizeof signatures / sizeof signatures[0]; s++) {
        int ok = 1;
        for (int k = 0; k < signatures[s].nneed && ok; k++)
            ok = find_column(csv, signatures[s].need[k]) >= 0;
        if (ok)
            return (int)signatures[s].kind;
    }
    return -1;
}

/*
 * scan_header() reads rows until one is a header doorman knows.  Bad rows
 * before it (the preamble is free text) are not reported.
 */
static dm_status scan_header(dm_csv *csv, const char *name, int *kind, dm_error *err)
{
    for (int row = 0; row < HEADER_SCAN_ROWS; row++) {
        dm_error e;
        dm_error_clear(&e);
        dm_status st = dm_csv_next(csv, &e);
        if (st == DM_END)
            break;
        if (st != DM_OK) {
            if (dm_status_recoverable(st))
                continue;
            if (err)
                *err = e;
            return st;
        }
        *kind = classify(csv);
        if (*kind >= 0)
            return DM_OK;
    }
    return dm_error_set(err, DM_EFORMAT, name, 0, 0,
                        "no header doorman knows in the first %d rows; expected the header of "
                        "Invitations.csv, messages.csv, Connections.csv, Profile.csv or "
                        "Positions.csv",
                        HEADER_SCAN_ROWS);
}

dm_status dm_export_sniff(const dm_input *in, dm_export_kind *kind, dm_error *err)
{
    dm_csv *csv = NULL;
    dm_csv_opts co = {0, 0};
    dm_status st = dm_csv_open(in, &co, &csv);
    int k = -1;
    if (st == DM_OK)
        st = scan_header(csv, in->name, &k, err);
    dm_csv_free(csv);
    if (st == DM_OK)
        *kind = (dm_export_kind)k;
    return st;
}

void dm_export_reader_free(dm_export_reader *r)
{
    if (!r)
        return;
    dm_csv_free(r->csv);
    /* cols may be NULL with ncols set: its allocation failed in open */
    for (size_t i = 0; r->cols && i < r->ncols; i++)
        dm_free(r->cols[i]);
    dm_free(r->cols);
    dm_free(r->extra);
    dm_buf_free(&r->scratch);
    dm_free(r);
}

static int role_used(const enum role *used, size_t n, const int *idx, size_t col)
{
    for (size_t i = 0; i < n; i++)
        if (idx[used[i]] == (int)col)
            return 1;
    return 0;
}

dm_status dm_export_reader_open(const dm_input *in, const dm_export_env *env,
                                dm_export_kind want, dm_export_reader **out, dm_error *err)
{
    dm_export_reader *r = dm_calloc(1, sizeof *r);
    if (!r)
        return DM_ENOMEM;
    r->in = in;
    r->env = env;
    r->kind = want;
    r->bad_date = -1;
    dm_buf_init(&r->scratch, 0);
    dm_csv_opts co = csv_opts_of(env->opts);
    int kind = -1;
    dm_status st = dm_csv_open(in, &co, &r->csv);
    if (st == DM_OK)
        st = scan_header(r->csv, in->name, &kind, err);
    if (st == DM_OK && kind != (int)want)
        st = dm_error_set(err, DM_EFORMAT, in->name, dm_csv_line(r->csv), 0,
                          "this is the header of %s, not of %s", kind_files[kind],
                          kind_files[want]);
    if (st == DM_OK) {
        r->ncols = dm_csv_nfields(r->csv);
        r->cols = dm_calloc(r->ncols, sizeof *r->cols);
        r->extra = dm_calloc(r->ncols, 1);
        if (!r->cols || !r->extra)
            st = DM_ENOMEM;
        for (size_t i = 0; st == DM_OK && i < r->ncols; i++) {
            r->cols[i] = dm_strdup(dm_csv_field(r->csv, i, NULL));
            if (!r->cols[i])
                st = DM_ENOMEM;
        }
        for (int k = 0; k < R_COUNT; k++)
            r->idx[k] = find_column(r->csv, (enum role)k);
        for (size_t i = 0; st == DM_OK && i < r->ncols; i++) {
            if (want == DM_EXPORT_INVITATIONS)
                r->extra[i] = !role_used(used_invitation,
                                         sizeof used_invitation / sizeof used_invitation[0],
                                         r->idx, i);
            else if (want == DM_EXPORT_MESSAGES)
                r->extra[i] = !role_used(used_message,
                                         sizeof used_message / sizeof used_message[0], r->idx,
                                         i);
        }
    }
    if (st != DM_OK) {
        dm_export_reader_free(r);
        return st;
    }
    *out = r;
    return DM_OK;
}

/* ---- rows ------------------------------------------------------------------- */

/* cell() returns the role's cell of the current row, "" when the column is absent. */
static const char *cell(const dm_export_reader *r, enum role k, size_t *len)
{
    if (r->idx[k] < 0) {
        if (len)
            *len = 0;
        return "";
    }
    return dm_csv_field(r->csv, (size_t)r->idx[k], len);
}

/*
 * next_row() reads the next good row.  Rows the CSV reader rejects and rows
 * with the wrong number of fields are reported and skipped.  Returns DM_OK,
 * DM_END, DM_ESTRICT or a fatal code.
 */
static dm_status next_row(dm_export_reader *r, dm_error *err)
{
    for (;;) {
        dm_error e;
        dm_error_clear(&e);
        dm_status st = dm_csv_next(r->csv, &e);
        if (st == DM_OK && dm_csv_nfields(r->csv) != r->ncols) {
            /* a lone cell of spaces or tabs is a blank line, not a row: the CSV
             * reader skips only empty lines, and one of "   " is no bad row */
            const char *lone = dm_csv_field(r->csv, 0, NULL);
            if (dm_csv_nfields(r->csv) == 1 && lone[strspn(lone, " \t\r")] == '\0')
                continue;
            st = dm_error_set(&e, DM_ESYNTAX, r->in->name, dm_csv_line(r->csv), 0,
                              "expected %zu fields as in the header, found %zu; row skipped",
                              r->ncols, dm_csv_nfields(r->csv));
        } else if (dm_status_recoverable(st)) {
            size_t n = strlen(e.text);
            if (n + 14 < sizeof e.text)
                memcpy(e.text + n, "; row skipped", 14);
        }
        if (st == DM_OK || st == DM_END)
            return st;
        if (!dm_status_recoverable(st)) {
            if (err)
                *err = e;
            return st;
        }
        if (r->env->report(r->env->ud, DM_SEV_ERROR, &e) != DM_OK) {
            if (err)
                *err = e;
            return DM_ESTRICT;
        }
    }
}

static dm_status warn(dm_export_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static dm_status warn(dm_export_reader *r, const char *fmt, ...)
{
    char text[DM_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    dm_error_clear(&r->warned);
    dm_error_set(&r->warned, DM_ESYNTAX, r->in->name, dm_csv_line(r->csv), 0, "%s", text);
    return r->env->report(r->env->ud, DM_SEV_WARNING, &r->warned);
}

/*
 * stopped() passes on `st`; when a warning made the callback stop the run,
 * it names that warning in `err`, as next_row() names a bad row, so that the
 * caller of a DM_ESTRICT always learns where it stopped.
 */
static dm_status stopped(const dm_export_reader *r, dm_status st, dm_error *err)
{
    const dm_error *w = &r->warned;
    if (st == DM_ESTRICT && w->code != DM_OK)
        dm_error_set(err, w->code, w->source, w->line, w->column, "%s", w->text);
    return st;
}

/* Set a record field from a cell; an empty cell leaves the field missing. */
static dm_status set_cell(dm_record *rec, dm_field f, const char *s, size_t len)
{
    return len ? dm_record_set(rec, f, s, len) : DM_OK;
}

/*
 * set_date() converts a cell to ISO 8601.  A date it cannot read is kept as
 * an extra: add_extras() adds its column with the others, so that it keeps
 * the file's column name ("DATE", not "Date") and its place in input order.
 */
static dm_status set_date(dm_export_reader *r, dm_record *rec, enum role k, char *iso,
                          size_t isosz)
{
    size_t len;
    const char *s = cell(r, k, &len);
    iso[0] = '\0';
    if (!len)
        return DM_OK;
    if (dm_date_iso(s, iso, isosz) == DM_OK)
        return dm_record_set(rec, DM_FIELD_SENT_AT, iso, strlen(iso));
    r->bad_date = r->idx[k];
    return warn(r, "cannot read the date \"%s\"; kept as it is in the extra columns", s);
}

static dm_status add_extras(dm_export_reader *r, dm_record *rec)
{
    for (size_t i = 0; i < r->ncols; i++) {
        if (!r->extra[i] && (int)i != r->bad_date)
            continue;
        size_t len;
        const char *v = dm_csv_field(r->csv, i, &len);
        dm_status st = dm_record_add_extra(rec, r->cols[i], v, len);
        if (st != DM_OK)
            return st;
    }
    return DM_OK;
}

static dm_status set_source(dm_export_reader *r, dm_record *rec)
{
    char src[DM_ERROR_SOURCE_MAX + 16];
    int n = snprintf(src, sizeof src, "%s:%d", r->in->name, dm_csv_line(r->csv));
    return dm_record_set(rec, DM_FIELD_SOURCE, src, (size_t)n < sizeof src ? (size_t)n : 0);
}

/* lower_dir() maps "INCOMING"/"OUTGOING" to the record's lower-case words. */
static const char *lower_dir(const char *d)
{
    if (dm_ascii_casecmp(d, "INCOMING") == 0)
        return "incoming";
    if (dm_ascii_casecmp(d, "OUTGOING") == 0)
        return "outgoing";
    return NULL;
}

static dm_status invitation_record(dm_export_reader *r, dm_record *rec, int *skip)
{
    size_t len;
    const char *dir = cell(r, R_DIRECTION, NULL);
    const char *ldir = lower_dir(dir);
    *skip = 0;
    if (ldir && strcmp(ldir, "outgoing") == 0 && !r->env->opts->outgoing) {
        *skip = 1;
        return DM_OK;
    }
    dm_record_clear(rec);
    dm_record_set_kind(rec, DM_KIND_INVITATION);
    r->bad_date = -1;
    char iso[40];
    dm_status st = set_date(r, rec, R_SENT_AT, iso, sizeof iso);
    const char *s;
    if (st == DM_OK) {
        s = cell(r, R_FROM, &len);
        st = set_cell(rec, DM_FIELD_FROM_NAME, s, len);
    }
    if (st == DM_OK) {
        s = cell(r, R_TO, &len);
        st = set_cell(rec, DM_FIELD_TO, s, len);
    }
    if (st == DM_OK) {
        s = cell(r, R_MESSAGE, &len);
        st = set_cell(rec, DM_FIELD_MESSAGE, s, len);
    }
    if (st == DM_OK) {
        s = cell(r, R_INVITER_URL, &len);
        st = set_cell(rec, DM_FIELD_FROM_URL, s, len);
    }
    if (st == DM_OK && *dir) {
        if (!ldir)
            st = warn(r, "unknown Direction \"%s\"; kept as it is", dir);
        if (st == DM_OK)
            st = dm_record_set(rec, DM_FIELD_DIRECTION, ldir ? ldir : dir,
                               strlen(ldir ? ldir : dir));
    }
    if (st == DM_OK) {
        /* the other party names the invitation: the inviter, or for mine the invitee */
        int mine = ldir && strcmp(ldir, "outgoing") == 0;
        const char *who = cell(r, mine ? R_INVITEE_URL : R_INVITER_URL, NULL);
        if (!*who)
            who = cell(r, mine ? R_TO : R_FROM, NULL);
        st = dm_record_set_id(rec, who, *iso ? iso : cell(r, R_SENT_AT, NULL));
    }
    if (st == DM_OK)
        st = set_source(r, rec);
    if (st == DM_OK)
        st = add_extras(r, rec);
    return st;
}

/* ---- messages ----------------------------------------------------------------- */

/*
 * file_dir() tells who wrote the current row where the file says so: 1 the
 * peer (incoming), 0 me, -1 it does not say.  2018 exports say so in
 * Direction or Folder "SENT"; later ones only name the sender.
 */
static int file_dir(const dm_export_reader *r)
{
    const char *d = lower_dir(cell(r, R_DIRECTION, NULL));
    if (d)
        return strcmp(d, "incoming") == 0;
    if (dm_ascii_casecmp(cell(r, R_FOLDER, NULL), "SENT") == 0)
        return 0;
    return -1;
}

/*
 * message_dir() tells who wrote the current row: the file, else the sender
 * compared with me as dm_context_finish() settled it, the same test that
 * filed the row in the history.  -1 when nobody can tell.
 */
static int message_dir(const dm_export_reader *r, const char *from)
{
    int d = file_dir(r);
    if (d >= 0)
        return d;
    int mine = dm_context_is_me(r->env->ctx, from);
    return mine < 0 ? -1 : !mine;
}

static int is_draft(const dm_export_reader *r)
{
    return dm_ascii_casecmp(cell(r, R_DRAFT, NULL), "Yes") == 0;
}

/* message_text() puts the text of the current row's content in r->scratch. */
static dm_status message_text(dm_export_reader *r, unsigned *facts)
{
    size_t len;
    const char *s = cell(r, R_CONTENT, &len);
    dm_buf_reset(&r->scratch);
    if (dm_looks_html(s, len))
        return dm_html_to_text(s, len, &r->scratch, facts);
    return dm_buf_add(&r->scratch, s, len);
}

/*
 * load_messages() hands every message but drafts to the context, where it
 * waits for dm_context_finish(): whose history it adds to depends on who
 * wrote it, and that on who me is, which a Profile.csv opened later may say.
 */
static dm_status load_messages(dm_export_reader *r, dm_error *err)
{
    dm_status st;
    while ((st = next_row(r, err)) == DM_OK) {
        if (is_draft(r))
            continue;
        unsigned facts = 0;
        st = message_text(r, &facts);
        if (st != DM_OK)
            break;
        dm_pending m = {
            .from = cell(r, R_FROM, NULL),
            .from_url = cell(r, R_SENDER_URL, NULL),
            .to = cell(r, R_TO, NULL),
            .to_urls = cell(r, R_RECIPIENT_URLS, NULL),
            .conv = cell(r, R_CONV_ID, NULL),
            .text = r->scratch.data ? r->scratch.data : "",
            .dir = file_dir(r),
        };
        st = dm_context_add_pending(r->env->ctx, &m);
        if (st != DM_OK)
            break;
    }
    return st == DM_END ? DM_OK : st;
}

static dm_status message_record(dm_export_reader *r, dm_record *rec, int *skip)
{
    const char *from = cell(r, R_FROM, NULL);
    int dir = message_dir(r, from);
    *skip = dir == 0 || is_draft(r);
    if (*skip)
        return DM_OK;
    dm_record_clear(rec);
    dm_record_set_kind(rec, DM_KIND_MESSAGE);
    r->bad_date = -1;
    unsigned facts = 0;
    size_t len;
    const char *s;
    char iso[40];
    dm_status st = set_date(r, rec, R_DATE, iso, sizeof iso);
    if (st == DM_OK)
        st = dm_record_set(rec, DM_FIELD_DIRECTION, "incoming", 8);
    if (st == DM_OK)
        st = set_cell(rec, DM_FIELD_FROM_NAME, from, strlen(from));
    if (st == DM_OK) {
        s = cell(r, R_SENDER_URL, &len);
        st = set_cell(rec, DM_FIELD_FROM_URL, s, len);
        if (!len && r->idx[R_SENDER_URL] >= 0) /* 2018 exports have no URLs at all */
            facts |= DM_FACT_NO_URL;
    }
    if (st == DM_OK) {
        s = cell(r, R_TO, &len);
        st = set_cell(rec, DM_FIELD_TO, s, len);
    }
    if (st == DM_OK) {
        s = cell(r, R_SUBJECT, &len);
        st = set_cell(rec, DM_FIELD_SUBJECT, s, len);
    }
    if (st == DM_OK)
        st = message_text(r, &facts);
    if (st == DM_OK)
        st = set_cell(rec, DM_FIELD_MESSAGE, r->scratch.data, r->scratch.len);
    if (st == DM_OK) {
        /* the id: the conversation and the time, else the sender and the time */
        const char *conv = cell(r, R_CONV_ID, NULL);
        const char *who = *conv ? conv : *cell(r, R_SENDER_URL, NULL) ? cell(r, R_SENDER_URL, NULL)
                                                                     : from;
        st = dm_record_set_id(rec, who, *iso ? iso : cell(r, R_DATE, NULL));
    }
    if (st == DM_OK)
        st = set_source(r, rec);
    if (st == DM_OK)
        st = add_extras(r, rec);
    dm_record_add_facts(rec, facts);
    return st;
}

/* ---- context files -------------------------------------------------------------- */

static dm_status join_name(dm_buf *b, const char *first, const char *last)
{
    dm_buf_reset(b);
    dm_status st = dm_buf_adds(b, first);
    if (st == DM_OK && *first && *last)
        st = dm_buf_addc(b, ' ');
    if (st == DM_OK)
        st = dm_buf_adds(b, last);
    return st;
}

static dm_status load_context(dm_export_reader *r, dm_error *err)
{
    dm_context *ctx = r->env->ctx;
    dm_status st;
    int done_profile = 0;
    while ((st = next_row(r, err)) == DM_OK) {
        switch (r->kind) {
        case DM_EXPORT_PROFILE:
            if (done_profile++)
                break; /* one profile; later rows are not me */
            st = join_name(&r->scratch, cell(r, R_FIRST_NAME, NULL), cell(r, R_LAST_NAME, NULL));
            if (st == DM_OK)
                st = dm_me_set(ctx, r->scratch.len ? r->scratch.data : NULL,
                               *cell(r, R_HEADLINE, NULL) ? cell(r, R_HEADLINE, NULL) : NULL,
                               *cell(r, R_INDUSTRY, NULL) ? cell(r, R_INDUSTRY, NULL) : NULL);
            break;
        case DM_EXPORT_POSITIONS:
            st = dm_me_add_company(ctx, cell(r, R_COMPANY_NAME, NULL),
                                   *cell(r, R_FINISHED_ON, NULL) == '\0');
            break;
        case DM_EXPORT_CONNECTIONS:
            st = join_name(&r->scratch, cell(r, R_FIRST_NAME, NULL), cell(r, R_LAST_NAME, NULL));
            if (st == DM_OK) {
                st = dm_context_add_connection(ctx, cell(r, R_URL, NULL), r->scratch.data);
                if (st == DM_EINVAL)
                    st = warn(r, "a connection with neither URL nor name%s; ignored", "");
            }
            break;
        default:
            st = DM_EINVAL;
        }
        if (st != DM_OK)
            return st;
    }
    return st == DM_END ? DM_OK : st;
}

dm_status dm_export_reader_load(dm_export_reader *r, dm_error *err)
{
    if (r->kind == DM_EXPORT_MESSAGES)
        return load_messages(r, err);
    if (r->kind == DM_EXPORT_INVITATIONS)
        return dm_error_set(err, DM_EINVAL, r->in->name, 0, 0, "not a context file");
    return stopped(r, load_context(r, err), err);
}

dm_status dm_export_reader_next(dm_export_reader *r, dm_record *rec, dm_error *err)
{
    for (;;) {
        dm_status st = next_row(r, err);
        if (st != DM_OK)
            return st;
        int skip = 0;
        if (r->kind == DM_EXPORT_INVITATIONS)
            st = invitation_record(r, rec, &skip);
        else if (r->kind == DM_EXPORT_MESSAGES)
            st = message_record(r, rec, &skip);
        else
            return dm_error_set(err, DM_EINVAL, r->in->name, 0, 0, "not a file of records");
        if (st != DM_OK)
            return stopped(r, st, err);
        if (!skip)
            return DM_OK;
    }
}
