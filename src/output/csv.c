/*
 * csv.c: the csv sink (docs/output.md): RFC 4180, one row per record as it
 * arrives, CRLF line ends, a header row first (even with no records), no
 * summary row.  A field is quoted when it holds a comma, a quote, CR or LF;
 * quotes inside are doubled.  The record is flattened: from.* become
 * from_*, the rule hits become their names joined by ';'.  Text is kept
 * as it is except invalid UTF-8 bytes, which become U+FFFD, and control
 * characters other than TAB, CR and LF, which become '?'.
 */
#include "output.h"

#include <string.h>

#define CSV_HEADER                                                                                 \
    "id,kind,source,verdict,score,from_name,from_url,from_headline,from_company,sent_at,"          \
    "message,rules\r\n"

/* The columns of CSV_HEADER: a record field, or one of these. */
enum { COL_KIND = DM_FIELD_COUNT, COL_VERDICT, COL_SCORE, COL_RULES };
static const int columns[] = {
    DM_FIELD_ID,
    COL_KIND,
    DM_FIELD_SOURCE,
    COL_VERDICT,
    COL_SCORE,
    DM_FIELD_FROM_NAME,
    DM_FIELD_FROM_URL,
    DM_FIELD_FROM_HEADLINE,
    DM_FIELD_FROM_COMPANY,
    DM_FIELD_SENT_AT,
    DM_FIELD_MESSAGE,
    COL_RULES,
};

static int needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return 1;
    return 0;
}

/*
 * csv_esc() doubles quotes, and turns control characters other than TAB,
 * CR and LF (the rest of C0, DEL, C1) into '?': RFC 4180 text has none, and
 * they would reach a terminal raw.
 */
static size_t csv_esc(const char *s, size_t n, size_t i, char out[8], size_t *len)
{
    unsigned char c = (unsigned char)s[i];
    out[0] = out[1] = c == '"' ? '"' : '?';
    *len = c == '"' ? 2 : 1;
    if (c == 0xC2) /* U+0080..U+009F are C2 80..C2 9F */
        return i + 1 < n && (unsigned char)s[i + 1] < 0xA0 ? 2 : 0;
    return c == '\t' || c == '\r' || c == '\n' || c == '\\' ? 0 : 1;
}

static dm_status body(dm_buf *b, const char *s, size_t n)
{
    return dm_out_escape(b, s, n, csv_esc);
}

/* dm_out_csv_field() appends one field, quoted when it must be. */
dm_status dm_out_csv_field(dm_buf *b, const char *s, size_t n)
{
    if (!s || !n)
        return DM_OK;
    if (!needs_quotes(s, n))
        return body(b, s, n);
    dm_status st = dm_buf_addc(b, '"');
    if (st == DM_OK)
        st = body(b, s, n);
    if (st == DM_OK)
        st = dm_buf_addc(b, '"');
    return st;
}

/* rules() appends the hit names joined by ';' as one field. */
static dm_status rules(dm_buf *b, const dm_result *res)
{
    int quote = 0;
    for (size_t i = 0; i < res->nhits && !quote; i++)
        quote = res->hits[i].name && needs_quotes(res->hits[i].name, strlen(res->hits[i].name));
    dm_status st = quote ? dm_buf_addc(b, '"') : DM_OK;
    for (size_t i = 0; st == DM_OK && i < res->nhits; i++) {
        if (i)
            st = dm_buf_addc(b, ';');
        if (st == DM_OK && res->hits[i].name)
            st = body(b, res->hits[i].name, strlen(res->hits[i].name));
    }
    if (st == DM_OK && quote)
        st = dm_buf_addc(b, '"');
    return st;
}

static dm_status row(dm_buf *b, const dm_record *rec, const dm_result *res)
{
    dm_status st = DM_OK;
    for (size_t i = 0; st == DM_OK && i < sizeof columns / sizeof columns[0]; i++) {
        const char *v;
        char num[DM_OUT_SCORE_MAX];
        if (i)
            st = dm_buf_addc(b, ',');
        if (st != DM_OK)
            break;
        switch (columns[i]) {
        case COL_KIND:
            v = dm_kind_name(dm_record_kind(rec));
            st = dm_out_csv_field(b, v, strlen(v));
            break;
        case COL_VERDICT:
            v = dm_verdict_name(res->verdict);
            st = dm_out_csv_field(b, v, strlen(v));
            break;
        case COL_SCORE: st = dm_buf_add(b, num, dm_out_score(res->score, num)); break;
        case COL_RULES: st = rules(b, res); break;
        default:
            st = dm_out_csv_field(b, dm_record_get(rec, (dm_field)columns[i]),
                       dm_record_len(rec, (dm_field)columns[i]));
        }
    }
    if (st == DM_OK)
        st = dm_buf_add(b, "\r\n", 2);
    return st;
}

static dm_status csv_write(dm_sink *s, const dm_record *rec, const dm_result *res, dm_error *err)
{
    dm_status st = s->written ? DM_OK : dm_buf_adds(&s->buf, CSV_HEADER);
    if (st == DM_OK)
        st = row(&s->buf, rec, res);
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    return dm_out_flush(s, err);
}

static dm_status csv_finish(dm_sink *s, const dm_summary *sum, dm_error *err)
{
    (void)sum;
    if (s->written)
        return DM_OK;
    return dm_out_emit(s, CSV_HEADER, strlen(CSV_HEADER), err);
}

const struct dm_sink_ops dm_out_csv_ops = {NULL, csv_write, csv_finish, NULL};
