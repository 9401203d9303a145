/*
 * table.c: the table sink, for people at a terminal (docs/output.md).
 *
 *   VERDICT  SCORE  FROM         WHY              NOTE
 *   decline    7.5  Jane Doe     pitch, no-note   I help companies like yours gr…
 *
 * VERDICT and SCORE have fixed widths; FROM, WHY and NOTE share the rest of
 * opts->width.  To align the columns the sink holds up to TABLE_ROWS rows,
 * measures FROM and WHY over them, and then streams every later row with
 * those widths, so memory stays bounded however many records come.  Width
 * is counted in code points (a wide CJK character counts as one), and
 * text over a column's width is cut at a code point and ends in "…".
 *
 * Nothing from a record reaches the terminal raw: runs of whitespace
 * (newlines too) become one space, other control characters (C0, DEL, C1,
 * bidirectional overrides) become '?', invalid UTF-8 becomes U+FFFD.
 */
#include "output.h"

#include <string.h>

#define TABLE_ROWS 1000 /* rows held to measure the columns */

#define W_VERDICT 7 /* "decline" */
#define W_SCORE 6   /* "-12.25" */
#define GAP "  "
/* The columns taken by VERDICT, SCORE and the four gaps. */
#define W_FIXED (W_VERDICT + W_SCORE + 4 * (sizeof GAP - 1))
#define W_MIN 4 /* the least FROM, WHY or NOTE get */

#define ELLIPSIS "\xE2\x80\xA6"

static const char *const colors[DM_VERDICT_COUNT] = {
    [DM_VERDICT_ACCEPT] = "\033[32m",
    [DM_VERDICT_REVIEW] = "\033[33m",
    [DM_VERDICT_DECLINE] = "\033[31m",
};
#define COLOR_RESET "\033[0m"

/* A cell's cleaned text and its length in code points. */
typedef struct cell {
    dm_buf b;
    size_t ncp;
    int space; /* a run of whitespace waits to be written as one space */
} cell;

typedef struct row {
    dm_verdict verdict;
    char score[DM_OUT_SCORE_MAX];
    cell from, why, note;
} row;

typedef struct table {
    size_t rest; /* columns for FROM, WHY and NOTE */
    size_t wfrom, wwhy, wnote;
    int measured; /* widths are fixed: rows go out as they come */
    size_t nrows;
    row *rows;   /* TABLE_ROWS, until measured */
    row scratch; /* the row being built */
} table;

/* ---- cleaning text for a terminal ---- */

/* decode() reads one code point: returns its length, or 0 for an invalid byte. */
static size_t decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (len > n || dm_utf8_check((const char *)s, len) != len)
        return 0;
    unsigned v = c & (0x7F >> len);
    for (size_t k = 1; k < len; k++)
        v = (v << 6) | (s[k] & 0x3F);
    *cp = v;
    return len;
}

static int is_space(unsigned cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* Code points a terminal may act on rather than show. */
static int is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

static void cell_reset(cell *c)
{
    dm_buf_reset(&c->b);
    c->ncp = 0;
    c->space = 0;
}

/*
 * cell_add() appends s[0..n), cleaned, until the cell holds `max` code
 * points; leading and trailing whitespace is dropped.
 */
static dm_status cell_add(cell *c, const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    dm_status st = DM_OK;
    size_t i = 0;
    while (st == DM_OK && i < n && c->ncp < max) {
        unsigned cp;
        size_t len = decode(u + i, n - i, &cp);
        const char *out = s + i;
        size_t outlen = len;
        if (len == 0) {
            out = DM_OUT_FFFD, outlen = 3, len = 1;
        } else if (is_space(cp)) {
            c->space = c->ncp > 0;
            i += len;
            continue;
        } else if (is_control(cp)) {
            out = "?", outlen = 1;
        }
        if (c->space) {
            c->space = 0;
            st = dm_buf_addc(&c->b, ' ');
            if (st != DM_OK || ++c->ncp == max)
                break;
        }
        st = dm_buf_add(&c->b, out, outlen);
        c->ncp++;
        i += len;
    }
    return st;
}

static dm_status cell_adds(cell *c, const char *s, size_t max)
{
    return cell_add(c, s, strlen(s), max);
}

static dm_status pad(dm_buf *b, size_t n)
{
    static const char spaces[] = "                                ";
    dm_status st = DM_OK;
    for (size_t k; st == DM_OK && n; n -= k) {
        k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        st = dm_buf_add(b, spaces, k);
    }
    return st;
}

/*
 * put_cell() appends `c` fitted to `w` columns: cut with "…" when longer,
 * padded with spaces when `pad_to`.
 */
static dm_status put_cell(dm_buf *b, const cell *c, size_t w, int pad_to)
{
    const char *s = c->b.data ? c->b.data : "";
    size_t ncp = c->ncp, len = c->b.len;
    dm_status st;
    if (ncp > w) {
        /* keep w - 1 code points, without trailing spaces, then the ellipsis */
        size_t keep = 0;
        for (len = 0; keep < w - 1; keep++) {
            len++;
            while (len < c->b.len && ((unsigned char)s[len] & 0xC0) == 0x80)
                len++;
        }
        while (len > 0 && s[len - 1] == ' ')
            len--, keep--;
        st = dm_buf_add(b, s, len);
        if (st == DM_OK)
            st = dm_buf_add(b, ELLIPSIS, sizeof ELLIPSIS - 1);
        ncp = keep + 1;
    } else {
        st = dm_buf_add(b, s, len);
    }
    if (st == DM_OK && pad_to && ncp < w)
        st = pad(b, w - ncp);
    return st;
}

/* ---- rows ---- */

static dm_status row_fill(row *r, size_t max, const dm_record *rec, const dm_result *res)
{
    r->verdict = res->verdict;
    dm_out_score(res->score, r->score);
    cell_reset(&r->from);
    cell_reset(&r->why);
    cell_reset(&r->note);

    dm_status st = cell_add(&r->from, dm_record_get(rec, DM_FIELD_FROM_NAME),
                            dm_record_len(rec, DM_FIELD_FROM_NAME), max);
    if (st == DM_OK && r->from.ncp == 0)
        st = cell_add(&r->from, dm_record_get(rec, DM_FIELD_FROM_URL),
                      dm_record_len(rec, DM_FIELD_FROM_URL), max);
    if (st == DM_OK && r->from.ncp == 0)
        st = cell_adds(&r->from, "-", max);

    for (size_t i = 0; st == DM_OK && i < res->nhits; i++) {
        if (i)
            st = cell_adds(&r->why, ", ", max);
        if (st == DM_OK && res->hits[i].name)
            st = cell_adds(&r->why, res->hits[i].name, max);
    }
    if (st == DM_OK && r->why.ncp == 0)
        st = cell_adds(&r->why, "-", max);

    if (st == DM_OK)
        st = cell_add(&r->note, dm_record_get(rec, DM_FIELD_MESSAGE),
                      dm_record_len(rec, DM_FIELD_MESSAGE), max);
    if (st == DM_OK && r->note.ncp == 0)
        st = cell_adds(&r->note, "(no note)", max);
    return st;
}

static void row_free(row *r)
{
    dm_buf_free(&r->from.b);
    dm_buf_free(&r->why.b);
    dm_buf_free(&r->note.b);
}

static void row_init(row *r)
{
    memset(r, 0, sizeof *r);
    dm_buf_init(&r->from.b, 0);
    dm_buf_init(&r->why.b, 0);
    dm_buf_init(&r->note.b, 0);
}

/* line() appends one line of the table: a row, or the header when `r` is NULL. */
static dm_status line(dm_sink *s, const row *r)
{
    table *t = s->impl;
    dm_buf *b = &s->buf;
    const char *verdict = r ? dm_verdict_name(r->verdict) : "VERDICT";
    const char *score = r ? r->score : "SCORE";
    size_t vlen = strlen(verdict), slen = strlen(score);
    int color = r && s->opts.color;
    dm_status st = DM_OK;

    if (color)
        st = dm_buf_adds(b, colors[r->verdict]);
    if (st == DM_OK)
        st = dm_buf_add(b, verdict, vlen);
    if (st == DM_OK && color)
        st = dm_buf_adds(b, COLOR_RESET);
    if (st == DM_OK)
        st = pad(b, W_VERDICT - vlen);
    if (st == DM_OK)
        st = dm_buf_adds(b, GAP);
    if (st == DM_OK && slen < W_SCORE)
        st = pad(b, W_SCORE - slen);
    if (st == DM_OK)
        st = dm_buf_add(b, score, slen);
    if (st == DM_OK)
        st = dm_buf_adds(b, GAP);

    if (r) {
        if (st == DM_OK)
            st = put_cell(b, &r->from, t->wfrom, 1);
        if (st == DM_OK)
            st = dm_buf_adds(b, GAP);
        if (st == DM_OK)
            st = put_cell(b, &r->why, t->wwhy, 1);
        if (st == DM_OK)
            st = dm_buf_adds(b, GAP);
        if (st == DM_OK)
            st = put_cell(b, &r->note, t->wnote, 0);
    } else {
        static const char *const titles[] = {"FROM", "WHY", "NOTE"};
        const size_t widths[] = {t->wfrom, t->wwhy, 0}; /* each at least its title */
        for (size_t i = 0; st == DM_OK && i < 3; i++) {
            size_t n = strlen(titles[i]);
            if (i)
                st = dm_buf_adds(b, GAP);
            if (st == DM_OK)
                st = dm_buf_add(b, titles[i], n);
            if (st == DM_OK && widths[i] > n)
                st = pad(b, widths[i] - n);
        }
    }
    if (st == DM_OK)
        st = dm_buf_addc(b, '\n');
    return st;
}

static dm_status emit_line(dm_sink *s, const row *r, dm_error *err)
{
    dm_status st = line(s, r);
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    return dm_out_flush(s, err);
}

/* measure() fixes the widths from the rows held, and writes the header and them. */
static dm_status measure(dm_sink *s, dm_error *err)
{
    table *t = s->impl;
    size_t nfrom = 4, nwhy = 3; /* "FROM", "WHY" */
    for (size_t i = 0; i < t->nrows; i++) {
        if (t->rows[i].from.ncp > nfrom)
            nfrom = t->rows[i].from.ncp;
        if (t->rows[i].why.ncp > nwhy)
            nwhy = t->rows[i].why.ncp;
    }
    size_t cap = t->rest * 3 / 10;
    if (cap < W_MIN)
        cap = W_MIN;
    t->wfrom = nfrom < cap ? nfrom : cap;
    t->wwhy = nwhy < cap ? nwhy : cap;
    t->wnote = t->rest - t->wfrom - t->wwhy;
    t->measured = 1;

    dm_status st = t->nrows ? emit_line(s, NULL, err) : DM_OK;
    for (size_t i = 0; st == DM_OK && i < t->nrows; i++)
        st = emit_line(s, &t->rows[i], err);
    for (size_t i = 0; i < t->nrows; i++)
        row_free(&t->rows[i]);
    dm_free(t->rows);
    t->rows = NULL;
    return st;
}

/* ---- the sink ---- */

static dm_status table_init(dm_sink *s)
{
    table *t = dm_calloc(1, sizeof *t);
    if (!t)
        return DM_ENOMEM;
    size_t width = (size_t)s->opts.width;
    t->rest = width > W_FIXED + 3 * W_MIN ? width - W_FIXED : 3 * W_MIN;
    row_init(&t->scratch);
    s->impl = t;
    return DM_OK;
}

static dm_status table_write(dm_sink *s, const dm_record *rec, const dm_result *res, dm_error *err)
{
    table *t = s->impl;
    /* A cell never needs more than one code point past the widest column. */
    size_t max = t->rest + 1;
    if (t->measured) {
        dm_status st = row_fill(&t->scratch, max, rec, res);
        if (st != DM_OK)
            return dm_out_fail(s, st, err);
        return emit_line(s, &t->scratch, err);
    }
    if (!t->rows) {
        t->rows = dm_calloc(TABLE_ROWS, sizeof *t->rows);
        if (!t->rows)
            return dm_out_fail(s, DM_ENOMEM, err);
    }
    row *r = &t->rows[t->nrows];
    if (!r->from.b.max)
        row_init(r);
    dm_status st = row_fill(r, max, rec, res);
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    if (++t->nrows == TABLE_ROWS)
        return measure(s, err);
    return DM_OK;
}

static dm_status table_finish(dm_sink *s, const dm_summary *sum, dm_error *err)
{
    table *t = s->impl;
    dm_status st = t->measured ? DM_OK : measure(s, err);
    if (st != DM_OK)
        return st;
    st = dm_buf_printf(&s->buf, "%zu record%s: %zu accept, %zu review, %zu decline", sum->total,
                       sum->total == 1 ? "" : "s", sum->counts[DM_VERDICT_ACCEPT],
                       sum->counts[DM_VERDICT_REVIEW], sum->counts[DM_VERDICT_DECLINE]);
    if (st == DM_OK && sum->skipped)
        st = dm_buf_printf(&s->buf, ", %zu skipped", sum->skipped);
    if (st == DM_OK && sum->shown != sum->total)
        st = dm_buf_printf(&s->buf, ", %zu shown", sum->shown);
    if (st == DM_OK)
        st = dm_buf_addc(&s->buf, '\n');
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    return dm_out_flush(s, err);
}

static void table_release(dm_sink *s)
{
    table *t = s->impl;
    if (!t)
        return;
    if (t->rows) {
        for (size_t i = 0; i < TABLE_ROWS; i++)
            row_free(&t->rows[i]);
        dm_free(t->rows);
    }
    row_free(&t->scratch);
    dm_free(t);
}

const struct dm_sink_ops dm_out_table_ops = {table_init, table_write, table_finish, table_release};
