/*
 * json.c: records in doorman's JSON schema, from JSONL or a JSON document
 * (json.h has the contract; docs/output.md the schema, as the json sinks
 * write it).
 *
 * JSONL is read a line at a time through a bounded buffer: a line over
 * max_record is reported once and skipped to its end, so memory stays
 * under max_record + one read, whatever the input.
 *
 * A document is read whole, bounded by DOC_RECORDS * max_record, then
 * walked: the outer '[', '{' and "records" by hand, and each record with
 * json_loadb(JSON_DISABLE_EOF_CHECK), which stops after one value and says
 * how far it read.  That way each record is parsed and freed in turn, and
 * an error names the line of the record it is in.
 */
#include "json.h"
#include "record.h"

#include "core.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define CHUNK 65536 /* bytes asked of the input at a time */
#define MAX_RECORD_DEFAULT ((size_t)4 << 20)
#define DOC_RECORDS 64                /* a document may be this many records long */
#define DOC_MAX_CAP ((size_t)1 << 30) /* jansson counts positions in an int */

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL)

enum mode { M_LINES, M_DOC, M_DONE };

/* Where the walk of a document is. */
enum doc_state { D_START, D_FIRST, D_NEXT, D_AFTER };

struct dm_jsonsrc {
    dm_input in;
    size_t max_record, max_doc;
    enum mode mode;
    dm_buf buf;  /* JSONL: what is read and not yet consumed; document: all of it */
    size_t pos;  /* the next byte of buf to look at */
    size_t scan; /* JSONL: bytes from pos known to hold no newline */
    int eof;
    char *chunk;    /* CHUNK bytes for reading */
    int line;       /* JSONL: lines consumed; document: the line at pos */
    int column;     /* document: the column (code points) at pos */
    int skipping;   /* JSONL: dropping the rest of a line that was too long */
    int bad_record; /* document: the error was in one record, the walk can go on */
    size_t first;   /* the offset of the first non-blank line, and its number */
    int first_line;
    int first_long; /* that line is over max_record: a document, or one record too large */
    enum doc_state state;
    int in_object; /* the array is the "records" member of an object */
    size_t index;  /* the next record's index in the array, from 0 */
    dm_buf scratch;
};

/* ---- errors ---- */

/* fail() fills `err` with the input's name; control bytes in the text become '?'. */
static dm_status fail(const dm_jsonsrc *j, dm_error *err, dm_status code, int line, int column,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static dm_status fail(const dm_jsonsrc *j, dm_error *err, dm_status code, int line, int column,
                      const char *fmt, ...)
{
    if (!err || err->code != DM_OK)
        return code;
    char text[DM_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    return dm_error_set(err, code, j->in.name, line, column, "%s", text);
}

/* ---- reading ---- */

/*
 * fill() appends up to CHUNK more bytes to buf, or sets eof.  When buf is
 * full it asks for one byte, to tell a full buffer from one that overflows.
 */
static dm_status fill(dm_jsonsrc *j, dm_error *err)
{
    size_t room = j->buf.max - j->buf.len;
    long n = j->in.read(j->in.ud, j->chunk, room == 0 ? 1 : room < CHUNK ? room : CHUNK, err);
    if (n < 0) {
        /* the input knows what failed, not what it is called */
        if (err && err->code == DM_EIO && !err->source[0])
            snprintf(err->source, sizeof err->source, "%s", j->in.name);
        return fail(j, err, DM_EIO, 0, 0, "read error");
    }
    if (n == 0) {
        j->eof = 1;
        return DM_OK;
    }
    dm_status st = dm_buf_add(&j->buf, j->chunk, (size_t)n);
    if (st == DM_ETOOLARGE)
        return fail(j, err, st, 0, 0, "the JSON document is over %zu bytes", j->max_doc);
    if (st != DM_OK)
        return fail(j, err, st, 0, 0, "%s", dm_strerror(st));
    return DM_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The byte offset past a leading UTF-8 byte order mark. */
static size_t bom_len(const dm_buf *b)
{
    return b->len >= 3 && memcmp(b->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/*
 * next_line() returns the next line (without its CR LF) in *p, *n: valid
 * until the next call.  DM_END at the end; DM_ETOOLARGE for a line over
 * max_record, which is then skipped.
 */
static dm_status next_line(dm_jsonsrc *j, const char **p, size_t *n, dm_error *err)
{
    for (;;) {
        char *start = j->buf.data + j->pos;
        size_t avail = j->buf.len - j->pos;
        char *nl = avail > j->scan ? memchr(start + j->scan, '\n', avail - j->scan) : NULL;
        size_t len;
        if (nl) {
            len = (size_t)(nl - start);
            j->pos += len + 1;
        } else if (j->eof || (j->skipping && avail)) {
            if (!avail)
                return DM_END;
            len = avail;
            j->pos += len;
            if (!j->eof) { /* the middle of a line being dropped */
                j->scan = 0;
                continue;
            }
        } else if (avail > j->max_record + 1) {
            /* over the limit with no end in sight: report it, then drop it */
            j->skipping = 1;
            j->pos = j->buf.len;
            j->scan = 0;
            return fail(j, err, DM_ETOOLARGE, j->line + 1, 0, "the line is over %zu bytes",
                        j->max_record);
        } else {
            j->scan = avail;
            /* keep only the unconsumed tail, then read more */
            memmove(j->buf.data, start, avail);
            j->buf.len = avail;
            j->pos = 0;
            dm_status st = fill(j, err);
            if (st != DM_OK)
                return st;
            continue;
        }
        j->scan = 0;
        j->line++;
        if (j->skipping) {
            j->skipping = 0;
            continue;
        }
        if (len && start[len - 1] == '\r')
            len--;
        if (len > j->max_record)
            return fail(j, err, DM_ETOOLARGE, j->line, 0, "the line is over %zu bytes",
                        j->max_record);
        *p = start;
        *n = len;
        return DM_OK;
    }
}

/* ---- one record ---- */

static dm_status add_extra(dm_record *rec, const char *name, json_t *v)
{
    if (json_is_string(v))
        return dm_record_add_extra(rec, name, json_string_value(v), json_string_length(v));
    /* other values are kept as their compact JSON text */
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    char small[256];
    size_t need = json_dumpb(v, NULL, 0, flags);
    char *text = need <= sizeof small ? small : dm_malloc(need);
    if (!need || !text)
        return DM_ENOMEM;
    json_dumpb(v, text, need, flags);
    dm_status st = dm_record_add_extra(rec, name, text, need);
    if (text != small)
        dm_free(text);
    return st;
}

static dm_status set_string(dm_record *rec, dm_field f, json_t *v)
{
    return dm_record_set(rec, f, json_string_value(v), json_string_length(v));
}

/* A member of the record, or of "from" when `from` is set: its field, if it has one. */
static int field_of(const char *key, int from)
{
    static const struct {
        const char *key;
        dm_field f;
        int from;
    } fields[] = {
        {"id", DM_FIELD_ID, 0},
        {"direction", DM_FIELD_DIRECTION, 0},
        {"to", DM_FIELD_TO, 0},
        {"sent_at", DM_FIELD_SENT_AT, 0},
        {"subject", DM_FIELD_SUBJECT, 0},
        {"message", DM_FIELD_MESSAGE, 0},
        {"source", DM_FIELD_SOURCE, 0},
        {"name", DM_FIELD_FROM_NAME, 1},
        {"headline", DM_FIELD_FROM_HEADLINE, 1},
        {"company", DM_FIELD_FROM_COMPANY, 1},
        {"url", DM_FIELD_FROM_URL, 1},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].from == from && strcmp(fields[i].key, key) == 0)
            return (int)fields[i].f;
    return -1;
}

/*
 * record -> '{' member* '}'; each member sets a field, is ignored (what the
 * sinks add: verdict, score, rules, history), or becomes an extra.  null
 * counts as missing.
 */
static dm_status to_record(dm_jsonsrc *j, json_t *obj, dm_record *rec, int line, dm_error *err)
{
    const char *key;
    json_t *v;
    dm_status st = DM_OK;
    json_object_foreach(obj, key, v)
    {
        int f = field_of(key, 0);
        if (json_is_null(v)) {
            continue;
        } else if (f >= 0) {
            if (!json_is_string(v))
                return fail(j, err, DM_EFORMAT, line, 0, "\"%s\" must be a string", key);
            st = set_string(rec, (dm_field)f, v);
        } else if (strcmp(key, "kind") == 0) {
            int k = json_is_string(v) ? dm_kind_lookup(json_string_value(v)) : -1;
            if (k < 0)
                return fail(j, err, DM_EFORMAT, line, 0,
                            "\"kind\" must be \"invitation\", \"message\" or \"email\"");
            dm_record_set_kind(rec, (dm_kind)k);
        } else if (strcmp(key, "from") == 0) {
            if (!json_is_object(v))
                return fail(j, err, DM_EFORMAT, line, 0, "\"from\" must be an object");
            const char *fkey;
            json_t *fv;
            json_object_foreach(v, fkey, fv)
            {
                int ff = field_of(fkey, 1);
                if (json_is_null(fv)) {
                    continue;
                } else if (ff < 0) {
                    dm_buf_reset(&j->scratch);
                    st = dm_buf_printf(&j->scratch, "from.%s", fkey);
                    if (st == DM_OK)
                        st = add_extra(rec, j->scratch.data, fv);
                } else if (!json_is_string(fv)) {
                    return fail(j, err, DM_EFORMAT, line, 0, "\"from.%s\" must be a string", fkey);
                } else {
                    st = set_string(rec, (dm_field)ff, fv);
                }
                if (st != DM_OK)
                    break;
            }
        } else if (strcmp(key, "mutual") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return fail(j, err, DM_EFORMAT, line, 0,
                            "\"mutual\" must be a whole number, 0 or more");
            json_int_t n = json_integer_value(v);
            dm_record_set_mutual(rec, n > LONG_MAX ? LONG_MAX : (long)n);
        } else if (strcmp(key, "facts") == 0) {
            size_t i;
            json_t *fact;
            if (!json_is_array(v))
                return fail(j, err, DM_EFORMAT, line, 0, "\"facts\" must be an array");
            json_array_foreach(v, i, fact)
            {
                unsigned bit = json_is_string(fact) ? dm_fact_lookup(json_string_value(fact)) : 0;
                if (!bit)
                    return fail(j, err, DM_EFORMAT, line, 0,
                                "\"facts\" holds something that is not a known fact");
                dm_record_add_facts(rec, bit);
            }
        } else if (strcmp(key, "extra") == 0) {
            const char *ekey;
            json_t *ev;
            if (!json_is_object(v))
                return fail(j, err, DM_EFORMAT, line, 0, "\"extra\" must be an object");
            json_object_foreach(v, ekey, ev)
            {
                if ((st = add_extra(rec, ekey, ev)) != DM_OK)
                    break;
            }
        } else if (strcmp(key, "verdict") == 0 || strcmp(key, "score") == 0 ||
                   strcmp(key, "rules") == 0 || strcmp(key, "history") == 0) {
            continue;
        } else {
            st = add_extra(rec, key, v);
        }
        if (st != DM_OK)
            break;
    }
    if (st != DM_OK)
        return fail(j, err, st, line, 0, "%s", dm_strerror(st));
    return DM_OK;
}

/* Records without a source or an id get them made (json.h). */
static dm_status fill_defaults(dm_jsonsrc *j, dm_record *rec)
{
    dm_status st = DM_OK;
    if (!dm_record_get(rec, DM_FIELD_SOURCE)) {
        dm_buf_reset(&j->scratch);
        st = j->mode == M_LINES ? dm_buf_printf(&j->scratch, "%s:%d", j->in.name, j->line)
                                : dm_buf_printf(&j->scratch, "%s#%zu", j->in.name, j->index - 1);
        if (st == DM_OK)
            st = dm_record_set(rec, DM_FIELD_SOURCE, j->scratch.data, j->scratch.len);
    }
    if (st == DM_OK && !dm_record_get(rec, DM_FIELD_ID)) {
        /* as the export reader does: who + "@" + when, stable across runs */
        const char *url = dm_record_get(rec, DM_FIELD_FROM_URL);
        const char *when = dm_record_get(rec, DM_FIELD_SENT_AT);
        if (url && when)
            st = dm_record_set_id(rec, url, when);
        else
            st = dm_record_set(rec, DM_FIELD_ID, dm_record_get(rec, DM_FIELD_SOURCE),
                               dm_record_len(rec, DM_FIELD_SOURCE));
    }
    return st;
}

static dm_status from_value(dm_jsonsrc *j, json_t *v, dm_record *rec, int line, dm_error *err)
{
    if (!json_is_object(v))
        return fail(j, err, DM_EFORMAT, line, 0, "a record must be a JSON object");
    dm_status st = to_record(j, v, rec, line, err);
    if (st == DM_OK && (st = fill_defaults(j, rec)) != DM_OK)
        return fail(j, err, st, line, 0, "%s", dm_strerror(st));
    return st;
}

/* ---- JSONL ---- */

static dm_status lines_next(dm_jsonsrc *j, dm_record *rec, dm_error *err)
{
    for (;;) {
        const char *p = NULL;
        size_t n = 0;
        dm_status st = next_line(j, &p, &n, err);
        if (st != DM_OK)
            return st;
        if (j->line == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3, n -= 3;
        size_t i = 0;
        while (i < n && is_blank(p[i]))
            i++;
        if (i == n)
            continue;

        size_t bad = dm_utf8_check(p, n);
        if (bad < n) {
            int col = 1;
            for (size_t k = 0; k < bad; k++)
                col += ((unsigned char)p[k] & 0xC0) != 0x80;
            return fail(j, err, DM_EUTF8, j->line, col, "invalid UTF-8");
        }
        json_error_t e;
        json_t *v = json_loadb(p, n, JSON_ALLOW_NUL, &e);
        if (!v)
            return fail(j, err, DM_ESYNTAX, j->line, e.column, "%s", e.text);
        st = from_value(j, v, rec, j->line, err);
        json_decref(v);
        return st;
    }
}

/* ---- a document ---- */

/* advance() moves pos on by `n` bytes, keeping line and column. */
static void advance(dm_jsonsrc *j, size_t n)
{
    const unsigned char *s = (const unsigned char *)j->buf.data + j->pos;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            j->line++, j->column = 1;
        else if ((s[i] & 0xC0) != 0x80)
            j->column++;
    }
    j->pos += n;
}

/* peek() skips whitespace and returns the next byte, or EOF at the end. */
static int peek(dm_jsonsrc *j)
{
    size_t n = 0;
    while (j->pos + n < j->buf.len && is_blank(j->buf.data[j->pos + n]))
        n++;
    advance(j, n);
    return j->pos < j->buf.len ? (unsigned char)j->buf.data[j->pos] : EOF;
}

static dm_status doc_syntax(dm_jsonsrc *j, dm_error *err, const char *what)
{
    return fail(j, err, DM_ESYNTAX, j->line, j->column, "%s", what);
}

/* value() parses one JSON value at pos into *out (the caller decrefs it). */
static dm_status value(dm_jsonsrc *j, json_t **out, dm_error *err)
{
    json_error_t e;
    json_t *v = json_loadb(j->buf.data + j->pos, j->buf.len - j->pos, LOAD_FLAGS, &e);
    if (v) {
        advance(j, (size_t)e.position);
        *out = v;
        return DM_OK;
    }
    if (json_error_code(&e) == json_error_invalid_utf8) {
        /* jansson points at the string; the first bad byte from here is the one */
        advance(j, dm_utf8_check(j->buf.data + j->pos, j->buf.len - j->pos));
        return fail(j, err, DM_EUTF8, j->line, j->column, "invalid UTF-8");
    }
    int line = j->line + e.line - 1;
    int column = e.line == 1 ? j->column + e.column - 1 : e.column;
    return fail(j, err, DM_ESYNTAX, line, column, "%s", e.text);
}

/* member_key() reads `"key" :` at pos into the scratch buffer. */
static dm_status member_key(dm_jsonsrc *j, dm_error *err)
{
    json_t *k = NULL;
    if (peek(j) != '"')
        return doc_syntax(j, err, "string or '}' expected");
    dm_status st = value(j, &k, err);
    if (st != DM_OK)
        return st;
    dm_buf_reset(&j->scratch);
    st = dm_buf_add(&j->scratch, json_string_value(k), json_string_length(k));
    json_decref(k);
    if (st != DM_OK)
        return fail(j, err, st, j->line, j->column, "%s", dm_strerror(st));
    if (peek(j) != ':')
        return doc_syntax(j, err, "':' expected");
    advance(j, 1);
    return DM_OK;
}

static dm_status skip_value(dm_jsonsrc *j, dm_error *err)
{
    json_t *v = NULL;
    peek(j);
    dm_status st = value(j, &v, err);
    json_decref(v);
    return st;
}

/* records_member() walks the object at pos to the '[' of its "records" member, past it. */
static dm_status records_member(dm_jsonsrc *j, dm_error *err)
{
    dm_status st;
    advance(j, 1); /* '{' */
    j->in_object = 1;
    for (;;) {
        if (peek(j) == '}')
            return fail(j, err, DM_EFORMAT, j->line, j->column,
                        "the object has no \"records\" array");
        if ((st = member_key(j, err)) != DM_OK)
            return st;
        if (strcmp(j->scratch.data, "records") == 0)
            break;
        if ((st = skip_value(j, err)) != DM_OK)
            return st;
        int c = peek(j);
        if (c != ',' && c != '}')
            return doc_syntax(j, err, "',' or '}' expected");
        if (c == ',')
            advance(j, 1);
    }
    if (peek(j) != '[')
        return fail(j, err, DM_EFORMAT, j->line, j->column, "\"records\" must be an array");
    advance(j, 1);
    return DM_OK;
}

/*
 * to_lines() turns a document that was JSONL after all (its first line one
 * record over max_record) back into JSONL, going on after that line.
 */
static dm_status to_lines(dm_jsonsrc *j, dm_error *err)
{
    const char *nl = memchr(j->buf.data + j->first, '\n', j->buf.len - j->first);
    j->mode = M_LINES;
    j->pos = nl ? (size_t)(nl - j->buf.data) + 1 : j->buf.len;
    j->scan = 0;
    j->line = j->first_line;
    if (j->buf.max < j->max_record + 2 + CHUNK)
        j->buf.max = j->max_record + 2 + CHUNK;
    return fail(j, err, DM_ETOOLARGE, j->first_line, 0, "the line is over %zu bytes",
                j->max_record);
}

/*
 * document -> '[' record (',' record)* ']'
 *           | '{' (member ',')* '"records"' ':' '[' ... ']' (',' member)* '}'
 * Each call reads up to one record; members other than "records" are skipped.
 */
static dm_status doc_next(dm_jsonsrc *j, dm_record *rec, dm_error *err)
{
    dm_status st;
    int c;
    switch (j->state) {
    case D_START:
        c = peek(j);
        if (c == '[') {
            advance(j, 1);
        } else if (c == '{') {
            /* a long first line that leads to no "records" array was one record */
            st = records_member(j, j->first_long ? NULL : err);
            if (st != DM_OK)
                return j->first_long ? to_lines(j, err) : st;
        } else if (c == EOF) {
            return DM_END; /* only whitespace */
        } else {
            return fail(j, err, DM_EFORMAT, j->line, j->column,
                        "expected an array of records or an object with \"records\"");
        }
        j->state = D_FIRST;
        /* fall through */
    case D_FIRST:
    case D_NEXT:
        c = peek(j);
        if (c == ']') {
            advance(j, 1);
            j->state = D_AFTER;
            return doc_next(j, rec, err);
        }
        if (j->state == D_NEXT) {
            if (c != ',')
                return doc_syntax(j, err, "',' or ']' expected");
            advance(j, 1);
            peek(j);
        }
        j->state = D_NEXT;
        {
            int line = j->line;
            size_t start = j->pos;
            json_t *v = NULL;
            if ((st = value(j, &v, err)) != DM_OK)
                return st;
            j->index++;
            if (j->pos - start > j->max_record)
                st = fail(j, err, DM_ETOOLARGE, line, 0, "the record is over %zu bytes",
                          j->max_record);
            else
                st = from_value(j, v, rec, line, err);
            json_decref(v);
            /* a bad record is skipped: the next call goes on after it */
            j->bad_record = st != DM_OK;
            return st;
        }
    case D_AFTER:
        while (j->in_object) {
            c = peek(j);
            if (c == '}') {
                advance(j, 1);
                j->in_object = 0;
            } else if (c == ',') {
                advance(j, 1);
                if ((st = member_key(j, err)) != DM_OK || (st = skip_value(j, err)) != DM_OK)
                    return st;
            } else {
                return doc_syntax(j, err, "',' or '}' expected");
            }
        }
        if (peek(j) != EOF)
            return doc_syntax(j, err, "end of file expected");
        return DM_END;
    }
    return DM_END;
}

/* ---- opening: JSONL or a document? ---- */

/*
 * detect() reads until the first non-blank line is whole and decides:
 * JSONL when that line alone is a complete object (one that is not itself
 * a document, with a "records" array) or a broken one that does not run
 * on; a document otherwise.  A first line over max_record is not parsed
 * whole (it may be a big one-line document): it is taken for a document,
 * and doc_next() goes back to JSONL when it has no "records" array.
 */
static dm_status detect(dm_jsonsrc *j, dm_error *err)
{
    size_t i = 0, seen = 0; /* bytes looked at for blanks, for the newline */
    int bom = -1;           /* the BOM's length once known */
    j->first_line = 1;
    for (;;) {
        if (bom < 0 &&
            (j->buf.len >= 3 || j->eof || memcmp(j->buf.data, "\xEF\xBB\xBF", j->buf.len) != 0))
            i = (size_t)(bom = (int)bom_len(&j->buf));
        for (; bom >= 0 && i < j->buf.len && is_blank(j->buf.data[i]); i++)
            j->first_line += j->buf.data[i] == '\n';
        if (bom >= 0 && i < j->buf.len) {
            j->first = i;
            if (j->buf.data[i] != '{') {
                j->mode = M_DOC;
                return DM_OK;
            }
            if (seen < i)
                seen = i;
            const char *p = j->buf.data + i;
            const char *nl = memchr(j->buf.data + seen, '\n', j->buf.len - seen);
            size_t n = nl ? (size_t)(nl - p) : j->buf.len - i;
            seen = j->buf.len;
            if (n > j->max_record + 1) { /* + 1: a CR may end the line */
                j->first_long = 1;
                j->mode = M_DOC;
                return DM_OK;
            }
            if (nl || j->eof) {
                json_error_t e;
                json_t *v = json_loadb(p, n, JSON_ALLOW_NUL, &e);
                int doc = v ? json_is_array(json_object_get(v, "records"))
                            : json_error_code(&e) == json_error_premature_end_of_input;
                json_decref(v);
                j->mode = doc ? M_DOC : M_LINES;
                return DM_OK;
            }
        }
        if (j->eof) { /* nothing but whitespace */
            j->mode = M_LINES;
            return DM_OK;
        }
        dm_status st = fill(j, err);
        if (st != DM_OK)
            return st;
    }
}

/* doc_load() reads the rest of the document. */
static dm_status doc_load(dm_jsonsrc *j, dm_error *err)
{
    dm_status st = DM_OK;
    while (st == DM_OK && !j->eof)
        st = fill(j, err);
    j->pos = bom_len(&j->buf);
    j->line = j->column = 1;
    return st;
}

dm_status dm_json_open(const dm_input *in, size_t max_record, dm_jsonsrc **out, dm_error *err)
{
    if (!in || !in->read || !out)
        return dm_error_set(err, DM_EINVAL, in ? in->name : NULL, 0, 0, "no input");
    dm_jsonsrc *j = dm_calloc(1, sizeof *j);
    if (!j)
        return DM_ENOMEM;
    j->in = *in;
    if (!j->in.name)
        j->in.name = "<json>";
    j->max_record = max_record ? max_record : MAX_RECORD_DEFAULT;
    if (j->max_record > DOC_MAX_CAP / 2)
        j->max_record = DOC_MAX_CAP / 2;
    j->max_doc =
        j->max_record <= DOC_MAX_CAP / DOC_RECORDS ? j->max_record * DOC_RECORDS : DOC_MAX_CAP;
    dm_buf_init(&j->buf, j->max_doc);
    dm_buf_init(&j->scratch, 0);
    j->chunk = dm_malloc(CHUNK);
    /* allocated now, so that buf.data is never NULL */
    dm_status st = j->chunk ? dm_buf_add(&j->buf, "", 0) : DM_ENOMEM;
    if (st == DM_OK)
        st = detect(j, err);
    if (st == DM_OK && j->mode == M_DOC)
        st = doc_load(j, err);
    if (st == DM_OK && j->mode == M_LINES) {
        /* lines may be up to max_record, plus CR LF, plus what one read brings */
        j->buf.max = j->max_record + 2 + CHUNK;
        if (j->buf.len > j->buf.max)
            j->buf.max = j->buf.len;
    }
    if (st != DM_OK) {
        dm_json_free(j);
        return st;
    }
    *out = j;
    return DM_OK;
}

void dm_json_free(dm_jsonsrc *j)
{
    if (!j)
        return;
    dm_buf_free(&j->buf);
    dm_buf_free(&j->scratch);
    dm_free(j->chunk);
    dm_free(j);
}

dm_status dm_json_next(dm_jsonsrc *j, dm_record *rec, dm_error *err)
{
    if (!j || !rec)
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "dm_json_next: bad argument");
    dm_record_clear(rec);
    if (j->mode == M_DONE)
        return DM_END;
    j->bad_record = 0;
    dm_status st = j->mode == M_LINES ? lines_next(j, rec, err) : doc_next(j, rec, err);
    /*
     * After the end or a fatal error there is nothing more to read.  In a
     * document only a bad record can be skipped: a syntax error anywhere
     * leaves nothing after it to trust.
     */
    if (st != DM_OK && (!dm_status_recoverable(st) || (j->mode == M_DOC && !j->bad_record)))
        j->mode = M_DONE;
    return st;
}
