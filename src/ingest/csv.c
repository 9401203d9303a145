/*
 * csv.c: a streaming RFC 4180 reader (csv.h).
 *
 * The reader pulls 64 KiB at a time from its dm_input and runs a small
 * state machine over the window.  Inside a field it scans with a table
 * lookup until a byte that matters, then copies the whole span at once, so
 * the steady state costs one memcpy per field and no allocation: the field
 * buffer, the offset table and the raw-row buffer are reused from row to
 * row and grow only up to the limits.
 *
 * Positions are 64-bit stream offsets (the window's offset plus the
 * pointer's distance into it), so a column is "offset - start of its
 * line + 1" whatever window the line began in.  A resume (below) parses
 * bytes again under their own offsets.
 *
 * Resuming.  A row that runs past its first line end inside a quoted field
 * may be one whose quote was never meant to close there: a stray quote
 * pairs with a quote of a later line and swallows the rows in between.
 * Two things give that away: text after a closing quote on a later line
 * (the "closing" quote was the next row's opening one), or the end of the
 * input inside the quote.  Either way the reader reports the quote that
 * crossed the first line end as unterminated and parses again from the
 * physical line after the row's first line.  Any other problem (too large,
 * invalid UTF-8) of a row that then ends cleanly is the row's own: it is
 * skipped whole, so a legitimate 50 MB note is one error, not thousands of
 * rows made of its lines.
 *
 * For that, the raw bytes of the row after its first line are kept (up to
 * max_row) when a refill would drop them; a row whose evidence comes later
 * than max_row bytes after its first line is not resumed.  Usually the row
 * lies within one window and a resume only moves the pointer back; else
 * the kept bytes and the rest of the window become the new window, at most
 * max_row + READ_SIZE bytes.
 *
 * Resuming costs no more than linear time.  The failed row showed that each
 * of its line ends up to the failure point E lies inside a quote; a row
 * started again on one of those lines whose own first line end lies inside
 * a quote is then in the same state as the failed row from that byte on,
 * so it would fail at E too, and be resumed on the line after its first.
 * The reader takes that short cut (the "shadow" up to E): such a row is
 * reported at its first line end at once.  So each line is parsed again at
 * most once, as the first line of a row, and the rows and errors are the
 * same as without the short cut.
 *
 * Limits are checked where the outcome does not depend on how the input
 * is chunked: a field's size as its bytes are added, the row's size at
 * each field's end.  That bounds the memory of a row by max_row +
 * max_field, and a row reports the same error whatever the read sizes.
 */
#include "csv.h"

#include "core.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define READ_SIZE (64 * 1024)
#define DEFAULT_MAX_FIELD ((size_t)1 << 20)
#define DEFAULT_MAX_ROW ((size_t)4 << 20)

enum state {
    ST_FIELD,    /* at the first byte of a field */
    ST_PLAIN,    /* inside an unquoted field */
    ST_CR,       /* after a CR outside quotes: CRLF ends the row */
    ST_QUOTED,   /* inside a quoted field */
    ST_QUOTE,    /* after a quote inside a quoted field: "" or its end */
    ST_QUOTE_CR, /* after a closing quote and a CR */
};

struct dm_csv {
    const dm_input *in;
    size_t max_field, max_row;

    /* The window: bytes p..lim are not parsed yet.  wbase is the pointer
     * that stream offset wpos corresponds to. */
    char *rbuf;
    const char *p, *lim, *wbase;
    uint64_t wpos;
    bool started, eof;
    dm_status fatal; /* DM_EIO or DM_ENOMEM: the reader is done */
    dm_error fatal_err;

    int line;            /* physical line of the byte at p */
    uint64_t line_start; /* stream offset of that line's first byte */

    /* The current row: fields back to back in fbuf, each NUL-terminated,
     * foff[i] where the i-th starts. */
    int row_line;
    uint64_t row_start;
    char *fbuf;
    size_t flen, fcap;
    size_t *foff;
    size_t nf, nfcap;

    /* The field being read. */
    size_t fstart; /* its first byte in fbuf */
    int fline, fcol;
    bool fquoted;

    /* Whether the row ran past its first line end inside a quote; if so,
     * the column of that quote and where the row's second line starts. */
    bool crossed;
    int cross_col;
    uint64_t line2_off;
    const char *line2_ptr; /* in the window, until the first refill after it */

    /* The raw bytes of the row from its second line on, as far as saved. */
    char *raw;
    size_t rawlen, rawcap;
    bool raw_started, raw_over;
    const char *raw_mark; /* where the row's unsaved bytes start in the window */
    char *replay;         /* the buffer being parsed again, after a resume */
    size_t replaycap;

    /* Line ends before this offset lay inside the quote of a row that was
     * resumed: see "shadow" above. */
    uint64_t shadow_end;

    /* The first problem of the current row and where it is. */
    dm_status rerr;
    int rline, rcol;
    char rtext[DM_ERROR_TEXT_MAX];
};

/* Bytes that end a span of an unquoted field or a quoted one. */
static const unsigned char plain_stop[256] = {[','] = 1, ['\n'] = 1, ['\r'] = 1};
static const unsigned char quoted_stop[256] = {['"'] = 1, ['\n'] = 1};

static inline uint64_t off(const dm_csv *c, const char *q)
{
    return c->wpos + (uint64_t)(q - c->wbase);
}

static int col_at(const dm_csv *c, uint64_t o)
{
    uint64_t col = o - c->line_start + 1;
    return col > INT_MAX ? INT_MAX : (int)col;
}

static inline void newline(dm_csv *c, const char *lf)
{
    if (c->line < INT_MAX)
        c->line++;
    c->line_start = off(c, lf) + 1;
}

/* where() writes "column C", or, for a problem on a later line of a
 * multi-line row, "line L, column C, in the row starting at line R". */
static void where(char *dst, size_t n, const dm_csv *c, int line, int col)
{
    if (line == c->row_line)
        snprintf(dst, n, "column %d", col);
    else
        snprintf(dst, n, "line %d, column %d, in the row starting at line %d", line, col,
                 c->row_line);
}

/* row_error() notes the row's first problem, at physical line:col. */
static void row_error(dm_csv *c, dm_status code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void row_error(dm_csv *c, dm_status code, int line, int col, const char *fmt, ...)
{
    if (c->rerr != DM_OK)
        return;
    c->rerr = code;
    c->rline = line;
    c->rcol = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->rtext, sizeof c->rtext, fmt, ap);
    va_end(ap);
}

static dm_status set_fatal(dm_csv *c, dm_status code, const char *text)
{
    c->fatal = code;
    dm_error_clear(&c->fatal_err);
    dm_error_set(&c->fatal_err, code, c->in->name, c->row_line, 0, "%s", text);
    c->nf = 0;
    return code;
}

static dm_status report_fatal(const dm_csv *c, dm_error *err)
{
    const dm_error *e = &c->fatal_err;
    return dm_error_set(err, e->code, e->source, e->line, e->column, "%s", e->text);
}

/* grow() makes room for `need` bytes, doubling, but not past `most` (when
 * need is within it), so that a bounded buffer stays within its bound. */
static dm_status grow(char **buf, size_t *cap, size_t need, size_t most)
{
    if (need <= *cap)
        return DM_OK;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > most && need <= most)
        ncap = most;
    char *nb = dm_realloc(*buf, ncap);
    if (!nb)
        return DM_ENOMEM;
    *buf = nb;
    *cap = ncap;
    return DM_OK;
}

/* ---- UTF-8 ---- */

/* utf8_seq() is the length of the valid sequence starting at s, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    if (b >= 0xC2 && b <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((b == 0xE0 && s[1] < 0xA0) || (b == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, surrogate */
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((b == 0xF0 && s[1] < 0x90) || (b == 0xF4 && s[1] >= 0x90))
            return 0; /* overlong, over U+10FFFF */
        return 4;
    }
    return 0;
}

/*
 * text_check() returns the offset of the first byte that is a NUL or starts
 * an invalid UTF-8 sequence, or n.  Eight ASCII bytes at a time, as nearly
 * every field is plain ASCII.
 */
static size_t text_check(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if ((v & high) || ((v - ones) & ~v & high))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (s[i] == 0)
            return i;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

/* ---- fields and rows ---- */

static void begin_field(dm_csv *c, uint64_t at)
{
    c->fstart = c->flen;
    c->fline = c->line;
    c->fcol = col_at(c, at);
    c->fquoted = false;
}

static void begin_row(dm_csv *c, const char *p)
{
    c->nf = 0;
    c->flen = 0;
    c->crossed = false;
    c->rawlen = 0;
    c->raw_started = false;
    c->raw_over = false;
    c->raw_mark = p;
    c->rerr = DM_OK;
    c->row_line = c->line;
    c->row_start = off(c, p);
}

/* add() appends n bytes to the field, or marks the row too large. */
static dm_status add(dm_csv *c, const char *s, size_t n)
{
    if (c->rerr != DM_OK || n == 0)
        return DM_OK;
    if (n > c->max_field - (c->flen - c->fstart)) {
        char at[128] = "";
        if (c->fline != c->row_line) {
            char w[96];
            where(w, sizeof w, c, c->fline, c->fcol);
            snprintf(at, sizeof at, " (it starts at %s)", w);
        }
        row_error(c, DM_ETOOLARGE, c->fline, c->fcol, "field %zu is larger than %zu bytes%s",
                  c->nf + 1, c->max_field, at);
        return DM_OK;
    }
    if (c->flen + n + 1 > c->fcap && grow(&c->fbuf, &c->fcap, c->flen + n + 1, SIZE_MAX) != DM_OK)
        return DM_ENOMEM;
    memcpy(c->fbuf + c->flen, s, n);
    c->flen += n;
    return DM_OK;
}

/*
 * locate() finds the physical line and column of byte k of the field's
 * content: it counts the line ends before it, and, in a quoted field, adds
 * one for each quote on its line (each was written doubled) and one for
 * the opening quote.
 */
static void locate(const dm_csv *c, const char *s, size_t k, int *line, int *col)
{
    size_t ls = 0;
    int l = c->fline;
    for (size_t i = 0; i < k; i++)
        if (s[i] == '\n') {
            l++;
            ls = i + 1;
        }
    uint64_t extra = 0;
    if (c->fquoted)
        for (size_t i = ls; i < k; i++)
            extra += s[i] == '"';
    uint64_t cl = (uint64_t)(k - ls) + extra + 1;
    if (ls == 0)
        cl += (uint64_t)c->fcol - 1 + (c->fquoted ? 1 : 0);
    *line = l;
    *col = cl > INT_MAX ? INT_MAX : (int)cl;
}

/* end_field() ends the field whose raw bytes end before offset `end`. */
static dm_status end_field(dm_csv *c, uint64_t end)
{
    if (c->rerr != DM_OK)
        return DM_OK;
    const char *s = c->fbuf + c->fstart;
    size_t n = c->flen - c->fstart;
    size_t bad = text_check(s, n);
    if (bad < n) {
        int line, col;
        char at[96];
        locate(c, s, bad, &line, &col);
        where(at, sizeof at, c, line, col);
        row_error(c, DM_EUTF8, line, col, "%s at %s", s[bad] ? "invalid UTF-8" : "NUL byte", at);
        return DM_OK;
    }
    if (end - c->row_start > c->max_row) {
        row_error(c, DM_ETOOLARGE, c->row_line, 0, "row is larger than %zu bytes", c->max_row);
        return DM_OK;
    }
    if (c->flen + 1 > c->fcap && grow(&c->fbuf, &c->fcap, c->flen + 1, SIZE_MAX) != DM_OK)
        return DM_ENOMEM;
    if (c->nf == c->nfcap) {
        size_t ncap = c->nfcap * 2;
        size_t *nb = dm_realloc(c->foff, ncap * sizeof *nb);
        if (!nb)
            return DM_ENOMEM;
        c->foff = nb;
        c->nfcap = ncap;
    }
    c->fbuf[c->flen++] = '\0';
    c->foff[c->nf++] = c->fstart;
    return DM_OK;
}

/* finish_row() hands out the row, or its error. */
static dm_status finish_row(dm_csv *c, dm_error *err)
{
    if (c->rerr == DM_OK)
        return DM_OK;
    c->nf = 0;
    return dm_error_set(err, c->rerr, c->in->name, c->rline, c->rcol, "%s", c->rtext);
}

/*
 * save_raw() keeps the row's bytes up to p, as p is about to be refilled;
 * the bytes up to the row's first line end are of no use to a resume.
 */
static dm_status save_raw(dm_csv *c, const char *p)
{
    const char *from = c->raw_mark;
    c->raw_mark = p;
    if (!c->crossed || c->raw_over)
        return DM_OK;
    if (!c->raw_started) {
        from = c->line2_ptr; /* the row's first line ended in this window */
        c->raw_started = true;
    }
    size_t n = (size_t)(p - from);
    if (n == 0)
        return DM_OK;
    if (n > c->max_row - c->rawlen) {
        c->raw_over = true; /* the row is too large to parse again */
        return DM_OK;
    }
    if (grow(&c->raw, &c->rawcap, c->rawlen + n, c->max_row + READ_SIZE) != DM_OK)
        return DM_ENOMEM;
    memcpy(c->raw + c->rawlen, from, n);
    c->rawlen += n;
    return DM_OK;
}

/* ---- input ---- */

static dm_status read_some(dm_csv *c, char *buf, size_t n, size_t *got)
{
    dm_error e;
    dm_error_clear(&e);
    long r = c->in->read(c->in->ud, buf, n, &e);
    if (r < 0 || (unsigned long)r > n)
        return set_fatal(c, DM_EIO, e.code != DM_OK ? e.text : "read error");
    *got = (size_t)r;
    return DM_OK;
}

/* start() fills the window with at least 3 bytes, to drop a BOM. */
static dm_status start(dm_csv *c)
{
    size_t have = 0, got;
    while (have < 3) {
        if (read_some(c, c->rbuf + have, READ_SIZE - have, &got) != DM_OK)
            return c->fatal;
        if (got == 0) {
            c->eof = true;
            break;
        }
        have += got;
    }
    c->wbase = c->p = c->rbuf;
    c->lim = c->rbuf + have;
    c->wpos = 0;
    if (have >= 3 && memcmp(c->rbuf, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3;
    c->line = 1;
    c->line_start = off(c, c->p);
    c->started = true;
    return DM_OK;
}

/* refill() reads the next window: DM_OK, DM_END at the end, or DM_EIO. */
static dm_status refill(dm_csv *c)
{
    if (c->eof)
        return DM_END;
    c->wpos += (uint64_t)(c->lim - c->wbase);
    c->wbase = c->p = c->lim = c->rbuf;
    size_t got;
    if (read_some(c, c->rbuf, READ_SIZE, &got) != DM_OK)
        return c->fatal;
    if (got == 0) {
        c->eof = true;
        return DM_END;
    }
    c->lim = c->rbuf + got;
    return DM_OK;
}

/*
 * cross() notes that the row runs past its first line end, the LF at `lf`,
 * inside the quoted field being read (which opened on that first line).
 * Returns true when that line end lies in the shadow of a resumed row: this
 * row would then fail as that one did and is to be ended here at once.
 * Not inlined: that keeps the quoted-field scan a tight loop.
 */
static bool cross(dm_csv *c, const char *lf) __attribute__((noinline));

static bool cross(dm_csv *c, const char *lf)
{
    c->crossed = true;
    c->cross_col = c->fcol;
    c->line2_ptr = lf + 1;
    c->line2_off = off(c, lf) + 1;
    return off(c, lf) < c->shadow_end;
}

/* cross_error() reports the quote that crossed the row's first line end. */
static dm_status cross_error(dm_csv *c, dm_error *err)
{
    c->rerr = DM_OK; /* this one explains any other problem of the row */
    row_error(c, DM_ESYNTAX, c->row_line, c->cross_col,
              "unterminated quoted field (opened at column %d)", c->cross_col);
    return finish_row(c, err);
}

/*
 * resumable() says whether the row, found bad at the byte at offset `at`,
 * can be parsed again from its second line: that needs its raw bytes up to
 * `at`, and the kept ones never go past the window that holds `at`.
 */
static bool resumable(const dm_csv *c, uint64_t at)
{
    return c->crossed && !c->raw_over && at - c->line2_off <= c->max_row;
}

/*
 * resume() ends a row that resumable() allowed and that failed at offset
 * `at`: it reports the quote that crossed the row's first line end, and
 * makes the next call parse from the row's second line, either by moving
 * back in the window or by making the kept bytes and the unparsed rest of
 * the window the new window.
 */
static dm_status resume(dm_csv *c, uint64_t at, dm_error *err)
{
    c->shadow_end = at;
    if (!c->raw_started) {
        c->p = c->line2_ptr; /* no refill since: it is still in the window */
    } else {
        size_t tail = (size_t)(c->lim - c->raw_mark);
        if (grow(&c->raw, &c->rawcap, c->rawlen + tail, c->max_row + READ_SIZE) != DM_OK) {
            set_fatal(c, DM_ENOMEM, "out of memory");
            return report_fatal(c, err);
        }
        if (tail)
            memcpy(c->raw + c->rawlen, c->raw_mark, tail);
        size_t len = c->rawlen + tail;
        char *t = c->replay;
        size_t tcap = c->replaycap;
        c->replay = c->raw;
        c->replaycap = c->rawcap;
        c->raw = t;
        c->rawcap = tcap;
        c->rawlen = 0;
        c->wbase = c->p = c->replay;
        c->lim = c->replay + len;
        c->wpos = c->line2_off;
    }
    c->line = c->row_line < INT_MAX ? c->row_line + 1 : INT_MAX;
    c->line_start = c->line2_off;
    return cross_error(c, err);
}

/* at_eof() ends the row the input ended in, or returns DM_END. */
static dm_status at_eof(dm_csv *c, enum state st, dm_error *err)
{
    uint64_t end = off(c, c->p);
    dm_status s = DM_OK;
    switch (st) {
    case ST_FIELD:
        if (c->nf == 0 && end == c->row_start)
            return DM_END;
        begin_field(c, end);
        s = end_field(c, end);
        break;
    case ST_CR:
    case ST_QUOTE_CR:
        if (st == ST_CR && c->nf == 0 && end - c->row_start == 1)
            return DM_END; /* a lone CR is an empty line */
        end--;             /* a CR before the end of the input ends the row */
        s = end_field(c, end);
        break;
    case ST_PLAIN:
    case ST_QUOTE: s = end_field(c, end); break;
    case ST_QUOTED: {
        if (resumable(c, end))
            return resume(c, end, err);
        /* too large to parse again: the open quote outranks other problems */
        char at[96];
        where(at, sizeof at, c, c->fline, c->fcol);
        c->rerr = DM_OK;
        row_error(c, DM_ESYNTAX, c->fline, c->fcol, "unterminated quoted field (opened at %s)", at);
        return finish_row(c, err);
    }
    }
    if (s != DM_OK) {
        set_fatal(c, s, "out of memory");
        return report_fatal(c, err);
    }
    return finish_row(c, err);
}

/* ---- the reader ---- */

dm_status dm_csv_open(const dm_input *in, const dm_csv_opts *opts, dm_csv **out)
{
    if (!in || !in->read || !out)
        return DM_EINVAL;
    dm_csv *c = dm_calloc(1, sizeof *c);
    if (!c)
        return DM_ENOMEM;
    c->in = in;
    c->max_field = opts && opts->max_field ? opts->max_field : DEFAULT_MAX_FIELD;
    c->max_row = opts && opts->max_row ? opts->max_row : DEFAULT_MAX_ROW;
    c->rbuf = dm_malloc(READ_SIZE);
    c->fcap = 1024;
    c->fbuf = dm_malloc(c->fcap);
    c->nfcap = 32;
    c->foff = dm_malloc(c->nfcap * sizeof *c->foff);
    if (!c->rbuf || !c->fbuf || !c->foff) {
        dm_csv_free(c);
        return DM_ENOMEM;
    }
    c->line = c->row_line = 1;
    *out = c;
    return DM_OK;
}

void dm_csv_free(dm_csv *c)
{
    if (!c)
        return;
    dm_free(c->rbuf);
    dm_free(c->fbuf);
    dm_free(c->foff);
    dm_free(c->raw);
    dm_free(c->replay);
    dm_free(c);
}

/*
 * row   -> field (',' field)* ('\n' | '\r\n' | EOF)
 * field -> '"' ([^"] | '""')* '"' | [^,\r\n]*
 */
dm_status dm_csv_next(dm_csv *c, dm_error *err)
{
    if (c->fatal != DM_OK)
        return report_fatal(c, err);
    if (!c->started && start(c) != DM_OK)
        return report_fatal(c, err);

    const char *p = c->p, *lim = c->lim;
    enum state st = ST_FIELD;
    dm_status s = DM_OK;
    uint64_t end;
    begin_row(c, p);

    for (;;) {
        if (p == lim) {
            c->p = p;
            if (save_raw(c, p) != DM_OK) {
                s = DM_ENOMEM;
                goto fail;
            }
            dm_status r = refill(c);
            c->raw_mark = c->p;
            if (r == DM_END)
                return at_eof(c, st, err);
            if (r != DM_OK)
                return report_fatal(c, err);
            p = c->p;
            lim = c->lim;
            continue;
        }
        switch (st) {
        case ST_FIELD:
            begin_field(c, off(c, p));
            switch (*p) {
            case '"':
                c->fquoted = true;
                p++;
                st = ST_QUOTED;
                break;
            case ',':
                s = end_field(c, off(c, p));
                p++;
                break;
            case '\n':
                if (c->nf == 0 && off(c, p) == c->row_start) {
                    newline(c, p); /* an empty line */
                    begin_row(c, ++p);
                    break;
                }
                end = off(c, p);
                s = end_field(c, end);
                goto row_end;
            case '\r':
                p++;
                st = ST_CR;
                break;
            default: st = ST_PLAIN; break;
            }
            break;

        case ST_PLAIN: {
            const char *q = p;
            while (p < lim && !plain_stop[(unsigned char)*p])
                p++;
            s = add(c, q, (size_t)(p - q));
            if (s != DM_OK || p == lim)
                break;
            if (*p == ',') {
                s = end_field(c, off(c, p));
                p++;
                st = ST_FIELD;
            } else if (*p == '\n') {
                end = off(c, p);
                s = end_field(c, end);
                goto row_end;
            } else {
                p++;
                st = ST_CR;
            }
            break;
        }

        case ST_CR:
            if (*p == '\n') {
                if (c->nf == 0 && off(c, p) - c->row_start == 1) {
                    newline(c, p); /* an empty line ending in CRLF */
                    begin_row(c, ++p);
                    st = ST_FIELD;
                    break;
                }
                end = off(c, p) - 1;
                s = end_field(c, end);
                goto row_end;
            }
            s = add(c, "\r", 1); /* a lone CR is data */
            st = ST_PLAIN;
            break;

        case ST_QUOTED: {
            const char *q = p;
            for (;;) {
                while (p < lim && !quoted_stop[(unsigned char)*p])
                    p++;
                if (p == lim || *p == '"')
                    break;
                if (!c->crossed && cross(c, p)) {
                    newline(c, p++); /* in a shadow: the row is its first line */
                    c->p = p;
                    return cross_error(c, err);
                }
                newline(c, p++);
            }
            s = add(c, q, (size_t)(p - q));
            if (s != DM_OK || p == lim)
                break;
            p++;
            st = ST_QUOTE;
            break;
        }

        case ST_QUOTE:
            switch (*p) {
            case '"':
                s = add(c, "\"", 1);
                p++;
                st = ST_QUOTED;
                break;
            case ',':
                s = end_field(c, off(c, p));
                p++;
                st = ST_FIELD;
                break;
            case '\n':
                end = off(c, p);
                s = end_field(c, end);
                goto row_end;
            case '\r':
                p++;
                st = ST_QUOTE_CR;
                break;
            default: {
                /* after the row's first line: the quote that ran past it most
                 * likely swallowed the lines up to here */
                if (resumable(c, off(c, p)))
                    return resume(c, off(c, p), err);
                unsigned char ch = (unsigned char)*p;
                int col = col_at(c, off(c, p));
                char at[96];
                where(at, sizeof at, c, c->line, col);
                if (ch >= 0x20 && ch < 0x7F)
                    row_error(c, DM_ESYNTAX, c->line, col,
                              "unexpected character '%c' after closing quote at %s", ch, at);
                else
                    row_error(c, DM_ESYNTAX, c->line, col,
                              "unexpected byte 0x%02X after closing quote at %s", ch, at);
                st = ST_PLAIN; /* read on to the end of the row */
                break;
            }
            }
            break;

        case ST_QUOTE_CR:
            if (*p == '\n') {
                end = off(c, p) - 1;
                s = end_field(c, end);
                goto row_end;
            } else {
                if (resumable(c, off(c, p))) /* known bad here, past the CR */
                    return resume(c, off(c, p), err);
                char at[96];
                int col = col_at(c, off(c, p) - 1);
                where(at, sizeof at, c, c->line, col);
                row_error(c, DM_ESYNTAX, c->line, col,
                          "unexpected byte 0x0D after closing quote at %s", at);
                st = ST_PLAIN;
            }
            break;
        }
        if (s != DM_OK)
            goto fail;
    }

row_end:
    if (s != DM_OK)
        goto fail;
    newline(c, p++);
    c->p = p;
    return finish_row(c, err);

fail:
    c->p = p;
    set_fatal(c, s, "out of memory");
    return report_fatal(c, err);
}

size_t dm_csv_nfields(const dm_csv *c)
{
    return c->nf;
}

const char *dm_csv_field(const dm_csv *c, size_t i, size_t *len)
{
    if (i >= c->nf) {
        if (len)
            *len = 0;
        return NULL;
    }
    size_t start = c->foff[i];
    size_t stop = i + 1 < c->nf ? c->foff[i + 1] : c->flen;
    if (len)
        *len = stop - start - 1;
    return c->fbuf + start;
}

int dm_csv_line(const dm_csv *c)
{
    return c->row_line;
}
