/*
 * rewrite.c: doorman's headers on a mail (dm_mail_rewrite() and the header
 * names and values the milter uses too).
 *
 * This works on the raw bytes, never through GMime: GMime re-serialises a
 * message (folding, line ends, encodings), and DKIM signatures and archive
 * checksums depend on every byte doorman does not mean to change.
 *
 * How a message is read here:
 *
 *   message   -> envelope? section (separator body)?
 *   envelope  -> "From " ... LF        an mbox From_ line: kept as it is
 *   section   -> line*                 up to the first empty line, or to the end
 *   field     -> NAME WSP* ':' ... LF (WSP ... LF)*    a header and its continuations
 *   separator -> LF | CR LF            the first empty line
 *
 * A line ends at LF; NUL, lone CR and any other byte are content.  NAME is
 * printable ASCII without ':'.  Every X-Doorman-* field of the section goes,
 * with its continuation lines.  doorman's fields are added at the end of the
 * section when the section is complete: ended by the separator, or by the
 * end of the input right after a line break when every line of the section
 * is a field or a continuation (a message that is headers only, like
 * "no_body" in SpamAssassin's corpus).  A section that never ends (no
 * separator, and a line that is not a field, or no final line break) is not
 * a header block doorman can add to: nothing is added, and only forged
 * X-Doorman-* fields are removed from it, since procmail and maildrop read
 * such a message as all header.
 */
#include "mailint.h"
#include "output/output.h"

#include <string.h>

static const char *const header_names[DM_MAIL_HEADER_COUNT] = {
    "X-Doorman-Verdict",
    "X-Doorman-Score",
    "X-Doorman-Rules",
};

#define OWN_PREFIX "x-doorman-"
#define OWN_PREFIX_LEN 10
#define FOLD_AT 78        /* columns of a header line, line end excluded */
#define RULE_NAME_MAX 200 /* a longer rule name is cut: lines stay far below 998 */
#define HEADERS_MAX ((size_t)16 << 20)

DM_API const char *dm_mail_header_name(dm_mail_header h)
{
    return (unsigned)h < DM_MAIL_HEADER_COUNT ? header_names[h] : "";
}

DM_API int dm_mail_is_own_header(const char *name, size_t len)
{
    return name && len >= OWN_PREFIX_LEN &&
           dm_ascii_ncasecmp(name, OWN_PREFIX, OWN_PREFIX_LEN) == 0;
}

/* ---- header values ------------------------------------------------------ */

/* safe_byte() keeps a rule name printable ASCII and free of the list's comma. */
static char safe_byte(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7F && c != ',' ? c : '_';
}

static size_t rule_name_len(const char *name)
{
    size_t n = strlen(name);
    return n > RULE_NAME_MAX ? RULE_NAME_MAX : n;
}

static const char *verdict_text(const dm_result *res)
{
    /* a verdict out of range is a caller's bug: it never passes for a decline */
    const char *v = dm_verdict_name(res->verdict);
    return v ? v : "review";
}

/* put() is snprintf's bookkeeping: copy what fits, count everything. */
static void put(char *buf, size_t cap, size_t *at, const char *s, size_t n)
{
    if (*at < cap) {
        size_t k = cap - *at;
        memcpy(buf + *at, s, n < k ? n : k);
    }
    *at += n;
}

DM_API size_t dm_mail_header_value(const dm_result *res, dm_mail_header h, char *buf, size_t cap)
{
    size_t at = 0;
    if (res && h == DM_MAIL_VERDICT) {
        const char *v = verdict_text(res);
        put(buf, cap, &at, v, strlen(v));
    } else if (res && h == DM_MAIL_SCORE) {
        char t[DM_OUT_SCORE_MAX];
        put(buf, cap, &at, t, dm_out_score(res->score, t));
    } else if (res && h == DM_MAIL_RULES) {
        int first = 1;
        for (size_t i = 0; i < res->nhits; i++) {
            const char *name = res->hits[i].name;
            if (!name || !*name)
                continue;
            if (!first)
                put(buf, cap, &at, ", ", 2);
            first = 0;
            size_t n = rule_name_len(name);
            for (size_t k = 0; k < n; k++) {
                char c = safe_byte(name[k]);
                put(buf, cap, &at, &c, 1);
            }
        }
    }
    if (cap)
        buf[at < cap ? at : cap - 1] = '\0';
    return at;
}

/*
 * build_headers() writes doorman's three fields, each line ended by `eol`,
 * X-Doorman-Rules folded before a name that would pass column 78 with the
 * comma after it (a name longer than a line stays whole on a line).
 */
static dm_status build_headers(const dm_result *res, const char *eol, dm_buf *b)
{
    char t[DM_OUT_SCORE_MAX];
    size_t el = strlen(eol);
    dm_status st = dm_buf_printf(b, "%s: %s", header_names[DM_MAIL_VERDICT], verdict_text(res));
    if (st == DM_OK)
        st = dm_buf_add(b, eol, el);
    if (st == DM_OK) {
        dm_out_score(res->score, t);
        st = dm_buf_printf(b, "%s: %s", header_names[DM_MAIL_SCORE], t);
    }
    if (st == DM_OK)
        st = dm_buf_add(b, eol, el);
    if (st == DM_OK)
        st = dm_buf_printf(b, "%s:", header_names[DM_MAIL_RULES]);
    size_t col = strlen(header_names[DM_MAIL_RULES]) + 1;
    int first = 1;
    for (size_t i = 0; st == DM_OK && i < res->nhits; i++) {
        const char *name = res->hits[i].name;
        if (!name || !*name)
            continue;
        size_t n = rule_name_len(name);
        /* a name followed by another ends with a comma, which must fit too */
        size_t comma = 0;
        for (size_t j = i + 1; j < res->nhits && !comma; j++)
            comma = res->hits[j].name && res->hits[j].name[0];
        if (first && col + 1 + n + comma > FOLD_AT && 1 + n + comma <= FOLD_AT) {
            /* a long first name: on a line of its own, after the colon */
            st = dm_buf_add(b, eol, el);
            if (st == DM_OK)
                st = dm_buf_addc(b, ' ');
            col = 1;
        } else if (first) {
            st = dm_buf_addc(b, ' ');
            col += 1;
        } else if (col + 2 + n + comma > FOLD_AT) {
            /* fold: the comma ends the line, the next starts with a space */
            st = dm_buf_addc(b, ',');
            if (st == DM_OK)
                st = dm_buf_add(b, eol, el);
            if (st == DM_OK)
                st = dm_buf_addc(b, ' ');
            col = 1;
        } else {
            st = dm_buf_add(b, ", ", 2);
            col += 2;
        }
        for (size_t k = 0; st == DM_OK && k < n; k++)
            st = dm_buf_addc(b, safe_byte(name[k]));
        col += n;
        first = 0;
    }
    if (st == DM_OK)
        st = dm_buf_add(b, eol, el);
    return st;
}

/* ---- the shape of a message ------------------------------------------------ */

size_t dm_mail_envelope(const char *msg, size_t len)
{
    if (len < 5 || memcmp(msg, "From ", 5) != 0)
        return 0;
    const char *nl = memchr(msg, '\n', len);
    return nl ? (size_t)(nl - msg) + 1 : 0;
}

/* line_end() is the offset just past the LF ending the line at `i`, or len. */
static size_t line_end(const char *m, size_t len, size_t i)
{
    const char *nl = memchr(m + i, '\n', len - i);
    return nl ? (size_t)(nl - m) + 1 : len;
}

static int is_empty_line(const char *m, size_t i, size_t e)
{
    return (e - i == 1 && m[i] == '\n') || (e - i == 2 && m[i] == '\r' && m[i + 1] == '\n');
}

/* field_name() is the length of the field name starting line [i, e), or 0. */
static size_t field_name(const char *m, size_t i, size_t e)
{
    size_t k = i;
    while (k < e && (unsigned char)m[k] > 0x20 && (unsigned char)m[k] < 0x7F && m[k] != ':')
        k++;
    size_t n = k - i;
    while (k < e && (m[k] == ' ' || m[k] == '\t'))
        k++;
    return n && k < e && m[k] == ':' ? n : 0;
}

typedef struct shape {
    size_t start;    /* the header section: after the envelope */
    size_t end;      /* the separator's offset, or len */
    int complete;    /* doorman's fields can be added at `end` */
    const char *eol; /* the line end they get */
} shape;

static void scan(const char *m, size_t len, shape *sh)
{
    sh->start = dm_mail_envelope(m, len);
    sh->end = len;
    sh->complete = 0;
    sh->eol = "\n";
    int all_fields = 1;
    size_t i = sh->start, last = len;
    while (i < len) {
        size_t e = line_end(m, len, i);
        if (is_empty_line(m, i, e)) {
            sh->end = i;
            sh->complete = 1;
            sh->eol = e - i == 2 ? "\r\n" : "\n";
            return;
        }
        if (m[i] == ' ' || m[i] == '\t' ? i == sh->start : !field_name(m, i, e))
            all_fields = 0;
        last = i;
        i = e;
    }
    /* the end of the input ends a section of fields whose last line is whole */
    if (len > sh->start && m[len - 1] == '\n' && all_fields) {
        sh->complete = 1;
        sh->eol = len - last >= 2 && m[len - 2] == '\r' ? "\r\n" : "\n";
    }
}

static dm_status emit(dm_write_fn write, void *ud, const char *p, size_t n, dm_error *err)
{
    if (n && write(ud, p, n) != 0)
        return dm_error_set(err, DM_EIO, NULL, 0, 0, "cannot write the mail");
    return DM_OK;
}

DM_API dm_status dm_mail_rewrite(const char *msg, size_t len, const dm_result *res,
                                 dm_write_fn write, void *ud, dm_error *err)
{
    if (!write || (!msg && len))
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "no message or no writer given");
    if (len == 0)
        return DM_OK;
    shape sh;
    scan(msg, len, &sh);
    /* doorman's fields are made before a byte goes out: a failure here
     * leaves the caller free to pass the message on unchanged */
    dm_buf add;
    dm_buf_init(&add, HEADERS_MAX);
    dm_status st = DM_OK;
    if (res && sh.complete) {
        st = build_headers(res, sh.eol, &add);
        if (st != DM_OK) {
            dm_buf_free(&add);
            return dm_error_set(err, st, NULL, 0, 0, "cannot make doorman's headers: %s",
                                dm_strerror(st));
        }
    }
    /* the section, less every X-Doorman-* field and its continuation lines */
    size_t run = 0, i = sh.start;
    int own = 0;
    while (st == DM_OK && i < sh.end) {
        size_t e = line_end(msg, sh.end, i);
        int cont = msg[i] == ' ' || msg[i] == '\t';
        if (!cont) {
            size_t n = field_name(msg, i, e);
            int now = n && dm_mail_is_own_header(msg + i, n);
            if (now && !own) /* the kept bytes before the field go out */
                st = emit(write, ud, msg + run, i - run, err);
            own = now;
        }
        /* a continuation line goes with its field */
        if (own)
            run = e;
        i = e;
    }
    if (st == DM_OK)
        st = emit(write, ud, msg + run, sh.end - run, err);
    if (st == DM_OK)
        st = emit(write, ud, add.data, add.len, err);
    if (st == DM_OK)
        st = emit(write, ud, msg + sh.end, len - sh.end, err);
    dm_buf_free(&add);
    return st;
}
