/*
 * test_csv.c: the streaming CSV reader (src/ingest/csv.c).
 *
 * Most cases are a row of the table below: an input and what the reader
 * must hand out for it, row by row and error by error, checked with every
 * read size from "all at once" down to one byte per read.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"
#include "ingest/csv.h"
#include "testalloc.h"

#define NAME "test.csv"

/* ---- inputs ---- */

/* A string served `chunk` bytes per read (0: as much as asked). */
typedef struct mem {
    const char *data;
    size_t len, pos, chunk;
    size_t fail_after; /* read error once this many bytes went out; 0: never */
} mem;

static long mem_read(void *ud, char *buf, size_t n, dm_error *err)
{
    mem *m = ud;
    if (m->fail_after && m->pos >= m->fail_after) {
        dm_error_set(err, DM_EIO, NULL, 0, 0, "read error: %s", "disk on fire");
        return -1;
    }
    size_t k = m->len - m->pos;
    if (k > n)
        k = n;
    if (m->chunk && k > m->chunk)
        k = m->chunk;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (long)k;
}

static void mem_input(dm_input *in, mem *m, const char *data, size_t len, size_t chunk)
{
    memset(m, 0, sizeof *m);
    m->data = data;
    m->len = len;
    m->chunk = chunk;
    in->read = mem_read;
    in->ud = m;
    in->name = NAME;
}

/* ---- expectations ---- */

#define MAXF 8
#define MAXEV 10

typedef struct ev {
    dm_status code;      /* DM_OK: a row */
    int row;             /* the row's first line (dm_csv_line()) */
    int line, column;    /* errors only: where the problem is */
    const char *text;    /* errors only */
    const char *f[MAXF]; /* a row's fields, NULL-terminated */
} ev;

/* The table reads best one case per line. */
/* clang-format off */
#define ROW(line, ...) {DM_OK, line, 0, 0, NULL, {__VA_ARGS__, NULL}}
#define ERR(code, line, col, text) {code, line, line, col, text, {NULL}}
/* a problem at line:col of the multi-line row that starts at `row` */
#define ERR_IN(code, row, line, col, text) {code, row, line, col, text, {NULL}}

typedef struct csv_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    size_t max_field, max_row;
    ev ev[MAXEV]; /* up to the first with row 0 */
} csv_case;

static const csv_case cases[] = {
    /* ---- good input ---- */
    {"simple", "a,b,c\n1,2,3\n", 0, 0, 0, {ROW(1, "a", "b", "c"), ROW(2, "1", "2", "3")}},
    {"no final newline", "a,b\nc,d", 0, 0, 0, {ROW(1, "a", "b"), ROW(2, "c", "d")}},
    {"crlf", "a,b\r\nc,d\r\n", 0, 0, 0, {ROW(1, "a", "b"), ROW(2, "c", "d")}},
    {"crlf after quoted", "\"a\",\"b\"\r\nc\r\n", 0, 0, 0, {ROW(1, "a", "b"), ROW(2, "c")}},
    {"bom", "\xEF\xBB\xBF" "a,b\nc\n", 0, 0, 0, {ROW(1, "a", "b"), ROW(2, "c")}},
    {"bom before a quote", "\xEF\xBB\xBF\"a\",b\n", 0, 0, 0, {ROW(1, "a", "b")}},
    {"bom only at the start", "a\n\xEF\xBB\xBF" "b\n", 0, 0, 0,
     {ROW(1, "a"), ROW(2, "\xEF\xBB\xBF" "b")}},
    {"only a bom", "\xEF\xBB\xBF", 0, 0, 0, {{0}}},
    {"empty input", "", 0, 0, 0, {{0}}},
    {"empty lines", "\n\na,b\n\n\r\nc\n\n", 0, 0, 0, {ROW(3, "a", "b"), ROW(6, "c")}},
    {"lone cr at the end", "a\n\r", 0, 0, 0, {ROW(1, "a")}},
    {"quoted comma, quote, empty", "\"a,b\",\"c\"\"d\",\"\"\n", 0, 0, 0,
     {ROW(1, "a,b", "c\"d", "")}},
    {"only doubled quotes", "\"\"\"\"\"\"\n", 0, 0, 0, {ROW(1, "\"\"")}},
    {"quoted newlines number lines", "h\n\"a\nb\nc\",x\nnext\n", 0, 0, 0,
     {ROW(1, "h"), ROW(2, "a\nb\nc", "x"), ROW(5, "next")}},
    {"quoted crlf kept", "\"a\r\nb\",c\r\nd\r\n", 0, 0, 0, {ROW(1, "a\r\nb", "c"), ROW(3, "d")}},
    {"quoted lone cr kept", "\"a\rb\",c\n", 0, 0, 0, {ROW(1, "a\rb", "c")}},
    {"unquoted lone cr kept", "a\rb,c\rd\n", 0, 0, 0, {ROW(1, "a\rb", "c\rd")}},
    {"cr before the end", "a,b\r", 0, 0, 0, {ROW(1, "a", "b")}},
    {"quoted then cr before the end", "a,\"b\"\r", 0, 0, 0, {ROW(1, "a", "b")}},
    {"bare quote kept", "ab\"c,d\"\n", 0, 0, 0, {ROW(1, "ab\"c", "d\"")}},
    {"space before a quote", " \"a\",b\n", 0, 0, 0, {ROW(1, " \"a\"", "b")}},
    {"empty fields", ",,\na,\n,b\n", 0, 0, 0,
     {ROW(1, "", "", ""), ROW(2, "a", ""), ROW(3, "", "b")}},
    {"comma before the end", "a,", 0, 0, 0, {ROW(1, "a", "")}},
    {"one empty quoted field", "\"\"\n\"\"", 0, 0, 0, {ROW(1, ""), ROW(2, "")}},
    {"quoted field before the end", "\"a\"", 0, 0, 0, {ROW(1, "a")}},
    {"utf-8", "Zo\xC3\xAB,\xE6\x97\xA5\xE6\x9C\xAC,\xF0\x9F\x98\x80\n", 0, 0, 0,
     {ROW(1, "Zo\xC3\xAB", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80")}},
    {"invitations",
     "From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n"
     "Jane Doe,Paul Smith,\"2/12/26, 11:44 AM\",\"Hi Paul,  I'd like to \"\"connect\"\".\","
     "INCOMING,https://www.linkedin.com/in/jane,https://www.linkedin.com/in/paul\n",
     0, 0, 0,
     {ROW(1, "From", "To", "Sent At", "Message", "Direction", "inviterProfileUrl",
          "inviteeProfileUrl"),
      ROW(2, "Jane Doe", "Paul Smith", "2/12/26, 11:44 AM",
          "Hi Paul,  I'd like to \"connect\".", "INCOMING", "https://www.linkedin.com/in/jane",
          "https://www.linkedin.com/in/paul")}},
    {"field at the limit", "abcd,x\n", 0, 4, 0, {ROW(1, "abcd", "x")}},
    {"row at the limit", "abc,defg\nabc,defg\r\n", 0, 0, 8,
     {ROW(1, "abc", "defg"), ROW(2, "abc", "defg")}},

    /* ---- bad rows: reported, skipped, and the rows after them still come ---- */
    {"text after closing quote", "a,\"abc\"x,b\nc,d\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 8, "unexpected character 'x' after closing quote at column 8"),
      ROW(2, "c", "d")}},
    {"quoted text after closing quote", "\"abc\"x,\"q,\nr\",z\nc\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 6, "unexpected character 'x' after closing quote at column 6"),
      ROW(3, "c")}},
    {"space after closing quote", "\"a\" ,b\nc\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 4, "unexpected character ' ' after closing quote at column 4"),
      ROW(2, "c")}},
    {"cr after closing quote", "\"a\"\rx\nb\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 4, "unexpected byte 0x0D after closing quote at column 4"),
      ROW(2, "b")}},
    {"first error of a row wins, multi-line", "\"a\"x,\"b\nc\",d\ne\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 4, "unexpected character 'x' after closing quote at column 4"),
      ROW(3, "e")}},
    {"first error of a row wins", "\"a\"x,\xFF\nb\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 4, "unexpected character 'x' after closing quote at column 4"),
      ROW(2, "b")}},
    {"invalid utf-8", "ok\nab\xFF,c\nd\n", 0, 0, 0,
     {ROW(1, "ok"), ERR(DM_EUTF8, 2, 3, "invalid UTF-8 at column 3"), ROW(3, "d")}},
    {"invalid utf-8, second field", "abc,d\xC3(\n", 0, 0, 0,
     {ERR(DM_EUTF8, 1, 6, "invalid UTF-8 at column 6")}},
    {"invalid utf-8 after bom", "\xEF\xBB\xBF\xFF\nx\n", 0, 0, 0,
     {ERR(DM_EUTF8, 1, 1, "invalid UTF-8 at column 1"), ROW(2, "x")}},
    {"overlong nul", "\xC0\x80\n", 0, 0, 0, {ERR(DM_EUTF8, 1, 1, "invalid UTF-8 at column 1")}},
    {"surrogate", "a,\xED\xA0\x80\n", 0, 0, 0, {ERR(DM_EUTF8, 1, 3, "invalid UTF-8 at column 3")}},
    {"beyond U+10FFFF", "\xF4\x90\x80\x80\n", 0, 0, 0,
     {ERR(DM_EUTF8, 1, 1, "invalid UTF-8 at column 1")}},
    {"truncated sequence", "ab\xE6\x97,c\n", 0, 0, 0,
     {ERR(DM_EUTF8, 1, 3, "invalid UTF-8 at column 3")}},
    {"truncated sequence before the end", "ab\xE6\x97", 0, 0, 0,
     {ERR(DM_EUTF8, 1, 3, "invalid UTF-8 at column 3")}},
    {"invalid utf-8 in a quoted field", "\"a\"\"\xFF\"\n", 0, 0, 0,
     {ERR(DM_EUTF8, 1, 5, "invalid UTF-8 at column 5")}},
    {"invalid utf-8 on a later line", "x,\"line1\nab\"\"\xC3(\"\nz\n", 0, 0, 0,
     {ERR_IN(DM_EUTF8, 1, 2, 5, "invalid UTF-8 at line 2, column 5, in the row starting at line 1"),
      ROW(3, "z")}},
    {"nul byte", "a\0b,c\nd\n", 8, 0, 0,
     {ERR(DM_EUTF8, 1, 2, "NUL byte at column 2"), ROW(2, "d")}},
    {"nul byte quoted", "x,\"\0\"\n", 6, 0, 0, {ERR(DM_EUTF8, 1, 4, "NUL byte at column 4")}},
    {"nul after closing quote", "\"a\"\0\n", 5, 0, 0,
     {ERR(DM_ESYNTAX, 1, 4, "unexpected byte 0x00 after closing quote at column 4")}},
    {"field too large", "abcde,x\nok\n", 0, 4, 0,
     {ERR(DM_ETOOLARGE, 1, 1, "field 1 is larger than 4 bytes"), ROW(2, "ok")}},
    {"quoted field too large", "a,\"xx\nyyyy\",b\nok\n", 0, 4, 0,
     {ERR(DM_ETOOLARGE, 1, 3, "field 2 is larger than 4 bytes"), ROW(3, "ok")}},
    {"field too large on a later line", "\"a\nb\",\"toolong\"\nok\n", 0, 4, 0,
     {ERR_IN(DM_ETOOLARGE, 1, 2, 4, "field 2 is larger than 4 bytes "
             "(it starts at line 2, column 4, in the row starting at line 1)"),
      ROW(3, "ok")}},
    {"row too large", "abc,def,ghi\nok\n", 0, 0, 8,
     {ERR(DM_ETOOLARGE, 1, 0, "row is larger than 8 bytes"), ROW(2, "ok")}},
    {"row of empty fields too large", ",,,,,,,,,,\nok\n", 0, 0, 8,
     {ERR(DM_ETOOLARGE, 1, 0, "row is larger than 8 bytes"), ROW(2, "ok")}},
    {"unterminated quote resumes", "a,b\n\"unterminated,x\nc,d\ne,f\n", 0, 0, 0,
     {ROW(1, "a", "b"), ERR(DM_ESYNTAX, 2, 1, "unterminated quoted field (opened at column 1)"),
      ROW(3, "c", "d"), ROW(4, "e", "f")}},
    {"unterminated quote mid-row", "x,y,\"abc\nd,e\nf\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 5, "unterminated quoted field (opened at column 5)"), ROW(2, "d", "e"),
      ROW(3, "f")}},
    {"unterminated quote in the last line", "a\n\"bc", 0, 0, 0,
     {ROW(1, "a"), ERR(DM_ESYNTAX, 2, 1, "unterminated quoted field (opened at column 1)")}},
    {"unterminated quote, nothing after its line", "\"abc\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)")}},
    {"unterminated quote, blank lines after it", "a\n\"bc\n\n\r\n", 0, 0, 0,
     {ROW(1, "a"), ERR(DM_ESYNTAX, 2, 1, "unterminated quoted field (opened at column 1)")}},
    {"unterminated quote after a bom", "\xEF\xBB\xBF\"a\nb\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"), ROW(2, "b")}},
    /* the row is its first line alone: its open quote is the one at column 1 */
    {"unterminated quote opened on a later line", "\"a\nb\",\"c\nd,e\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"),
      ERR(DM_ESYNTAX, 2, 4, "unterminated quoted field (opened at column 4)"), ROW(3, "d", "e")}},
    {"unterminated quote opened on a later line, too large to resume",
     "\"a\nbcdefghij\",\"c\nd,e\n", 0, 0, 8,
     {ERR_IN(DM_ESYNTAX, 1, 2, 12, "unterminated quoted field "
             "(opened at line 2, column 12, in the row starting at line 1)")}},
    {"unterminated quote, resumed rows have errors too", "\"a\nb\xFF\nc\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"),
      ERR(DM_EUTF8, 2, 2, "invalid UTF-8 at column 2"), ROW(3, "c")}},
    {"unterminated quote wins over a large field", "\"abcdefgh\nx\n", 0, 4, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"), ROW(2, "x")}},
    {"unterminated quote in a row too large to resume", "\"abc\ndefghijkl\nx\n", 0, 0, 8,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)")}},
    {"crlf lines count once", "\"a\r\nb\r\n\xFF\"\r\nc\r\n", 0, 0, 0,
     {ERR_IN(DM_EUTF8, 1, 3, 1, "invalid UTF-8 at line 3, column 1, in the row starting at line 1"),
      ROW(4, "c")}},
    {"crlf lines count once, resumed", "\"a\r\nb\r\n\"x\r\nc\r\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"), ROW(2, "b"),
      ERR(DM_ESYNTAX, 3, 1, "unterminated quoted field (opened at column 1)"), ROW(4, "c")}},

    /* ---- a stray quote swallows rows: they come out all the same ---- */
    {"quote inside an unquoted note is data",
     "Ann,Me,\"2/12/26, 11:44 AM\",He said \"hi there,IN\nBob,Me,\"2/12/26, 11:45 AM\",,IN\n",
     0, 0, 0,
     {ROW(1, "Ann", "Me", "2/12/26, 11:44 AM", "He said \"hi there", "IN"),
      ROW(2, "Bob", "Me", "2/12/26, 11:45 AM", "", "IN")}},
    /* the note's quote closes at the next row's "Sent At": text after it */
    {"stray quote swallows the next row",
     "h,s,n,d\na,\"1\",,IN\nb,\"2\",\"Hi there,IN\nc,\"3\",,IN\nd,\"4\",\"ok\",IN\n", 0, 0, 0,
     {ROW(1, "h", "s", "n", "d"), ROW(2, "a", "1", "", "IN"),
      ERR(DM_ESYNTAX, 3, 7, "unterminated quoted field (opened at column 7)"),
      ROW(4, "c", "3", "", "IN"), ROW(5, "d", "4", "ok", "IN")}},
    {"stray quote swallows several rows",
     "a,\"x\nb\nc\nd,\"e\"\nf\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 3, "unterminated quoted field (opened at column 3)"), ROW(2, "b"),
      ROW(3, "c"), ROW(4, "d", "e"), ROW(5, "f")}},
    {"text after closing quote, later line", "\"a\nbc\"d\ne\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"), ROW(2, "bc\"d"),
      ROW(3, "e")}},
    {"cr after closing quote, later line", "\"a\nb\"\rc\nd\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"),
      ROW(2, "b\"\rc"), ROW(3, "d")}},
    /* evidence of a stray quote outranks the row's other problems */
    {"stray quote after invalid utf-8", "\xFF,\"a\nb\"x\nc\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 3, "unterminated quoted field (opened at column 3)"), ROW(2, "b\"x"),
      ROW(3, "c")}},
    {"stray quote after a field too large", "abcdef,\"g\nh\"i\nj\n", 0, 4, 0,
     {ERR(DM_ESYNTAX, 1, 8, "unterminated quoted field (opened at column 8)"), ROW(2, "h\"i"),
      ROW(3, "j")}},
    /* a multi-line field that ends cleanly is the row's own: skipped whole */
    {"field too large, multi-line, skipped whole", "a,\"bcd\nefgh\",i\nj\n", 0, 4, 0,
     {ERR(DM_ETOOLARGE, 1, 3, "field 2 is larger than 4 bytes"), ROW(3, "j")}},
    /* resuming needs the row's bytes from its second line: at most max_row */
    {"stray quote too far to resume", "\"abc\ndefg\nhij\"x\nz\n", 0, 0, 8,
     {ERR_IN(DM_ESYNTAX, 1, 3, 5, "unexpected character 'x' after closing quote at "
             "line 3, column 5, in the row starting at line 1"),
      ROW(4, "z")}},
    /* a CR after a closing quote is known bad at the byte after it */
    {"stray quote and cr too far to resume", "\"abc\ndefg\nhi\"\rx\nz\n", 0, 0, 8,
     {ERR_IN(DM_ESYNTAX, 1, 3, 4, "unexpected byte 0x0D after closing quote at "
             "line 3, column 4, in the row starting at line 1"),
      ROW(4, "z")}},
    {"stray quote and cr just near enough to resume", "\"abc\ndefg\nhi\"\rx\nz\n", 0, 0, 9,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"), ROW(2, "defg"),
      ROW(3, "hi\"\rx"), ROW(4, "z")}},
    {"stray quote just near enough to resume", "\"abc\ndefg\nhi\"x\nz\n", 0, 0, 8,
     {ERR(DM_ESYNTAX, 1, 1, "unterminated quoted field (opened at column 1)"), ROW(2, "defg"),
      ROW(3, "hi\"x"), ROW(4, "z")}},
    /* resumed lines whose own quote runs on are cut at their line end */
    {"every line opens a quote", "x,\"y\nx\",\"y\nx\",\"y\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 3, "unterminated quoted field (opened at column 3)"),
      ERR(DM_ESYNTAX, 2, 4, "unterminated quoted field (opened at column 4)"),
      ERR(DM_ESYNTAX, 3, 4, "unterminated quoted field (opened at column 4)")}},
    {"every line opens a quote, then text after one", "x,\"y\nx\",\"y\n\"q\nr\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 3, "unterminated quoted field (opened at column 3)"),
      ERR(DM_ESYNTAX, 2, 4, "unterminated quoted field (opened at column 4)"),
      ERR(DM_ESYNTAX, 3, 1, "unterminated quoted field (opened at column 1)"), ROW(4, "r")}},
    /* past the failure point, rows may run on over lines again */
    {"a good multi-line row after a resume", "a,\"x\nb,\"y\nz\",c\nd\n", 0, 0, 0,
     {ERR(DM_ESYNTAX, 1, 3, "unterminated quoted field (opened at column 3)"),
      ROW(2, "b", "y\nz", "c"), ROW(4, "d")}},
};

/* clang-format on */

static const size_t chunks[] = {0, 1, 2, 3, 5, 7, 4096};

static void check_row(const ev *e, dm_csv *c, const char *what)
{
    size_t n = 0;
    while (n < MAXF && e->f[n])
        n++;
    if (dm_csv_nfields(c) != n)
        fail_msg("%s: row at line %d has %zu fields, expected %zu", what, e->row, dm_csv_nfields(c),
                 n);
    for (size_t i = 0; i < n; i++) {
        size_t len = 99;
        const char *f = dm_csv_field(c, i, &len);
        assert_non_null(f);
        assert_int_equal(len, strlen(e->f[i]));
        assert_memory_equal(f, e->f[i], len + 1); /* with its NUL */
    }
    assert_int_equal(dm_csv_line(c), e->row);
}

static void run_case(const csv_case *k, size_t chunk)
{
    dm_input in;
    mem m;
    mem_input(&in, &m, k->in, k->len ? k->len : strlen(k->in), chunk);
    dm_csv_opts opts = {k->max_field, k->max_row};
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, &opts, &c), DM_OK);
    char what[128];
    snprintf(what, sizeof what, "case \"%s\", chunk %zu", k->name, chunk);

    for (size_t i = 0; i < MAXEV && k->ev[i].row; i++) {
        const ev *e = &k->ev[i];
        dm_error err;
        dm_error_clear(&err);
        dm_status st = dm_csv_next(c, &err);
        if (st != e->code)
            fail_msg("%s: event %zu: got %s (%s), expected %s", what, i, dm_strerror(st), err.text,
                     dm_strerror(e->code));
        if (e->code == DM_OK) {
            assert_int_equal(err.code, DM_OK);
            check_row(e, c, what);
        } else {
            assert_int_equal(err.code, e->code);
            if (err.line != e->line || err.column != e->column || strcmp(err.text, e->text))
                fail_msg("%s: got %d:%d \"%s\", expected %d:%d \"%s\"", what, err.line, err.column,
                         err.text, e->line, e->column, e->text);
            assert_string_equal(err.source, NAME);
            assert_int_equal(dm_csv_line(c), e->row);
            assert_int_equal(dm_csv_nfields(c), 0);
        }
    }
    dm_error err;
    dm_error_clear(&err);
    dm_status st = dm_csv_next(c, &err);
    if (st != DM_END)
        fail_msg("%s: expected the end, got %s (%s) with %zu fields", what, dm_strerror(st),
                 err.text, dm_csv_nfields(c));
    assert_int_equal(err.code, DM_OK);
    assert_int_equal(dm_csv_next(c, &err), DM_END); /* and it stays there */
    dm_csv_free(c);
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof chunks / sizeof chunks[0]; j++)
            run_case(&cases[i], chunks[j]);
}

/* ---- the API around the rows ---- */

static void test_field_out_of_range(void **state)
{
    (void)state;
    dm_input in;
    mem m;
    mem_input(&in, &m, "a,b\n", 4, 0);
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
    assert_int_equal(dm_csv_nfields(c), 0);
    assert_null(dm_csv_field(c, 0, NULL));
    assert_int_equal(dm_csv_next(c, NULL), DM_OK); /* err may be NULL */
    assert_int_equal(dm_csv_nfields(c), 2);
    assert_string_equal(dm_csv_field(c, 1, NULL), "b");
    size_t len = 7;
    assert_null(dm_csv_field(c, 2, &len));
    assert_int_equal(len, 0);
    dm_csv_free(c);
    dm_csv_free(NULL);
}

static void test_open_args(void **state)
{
    (void)state;
    dm_csv *c = (dm_csv *)&c;
    assert_int_equal(dm_csv_open(NULL, NULL, &c), DM_EINVAL);
    assert_ptr_equal(c, (dm_csv *)&c); /* untouched on failure */
}

static void test_read_error(void **state)
{
    (void)state;
    const char *data = "a,b\nc,\"d\ne\n";
    for (size_t chunk = 1; chunk <= 4; chunk++) {
        dm_input in;
        mem m;
        mem_input(&in, &m, data, strlen(data), chunk);
        m.fail_after = 8; /* inside the quoted field of row 2 */
        dm_csv *c = NULL;
        assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
        dm_error err;
        dm_error_clear(&err);
        assert_int_equal(dm_csv_next(c, &err), DM_OK);
        assert_string_equal(dm_csv_field(c, 0, NULL), "a");
        assert_int_equal(dm_csv_next(c, &err), DM_EIO);
        assert_int_equal(err.code, DM_EIO);
        assert_string_equal(err.source, NAME);
        assert_int_equal(err.line, 2);
        assert_int_equal(err.column, 0);
        assert_string_equal(err.text, "read error: disk on fire");
        assert_int_equal(dm_csv_nfields(c), 0);
        /* the reader is done: it says so again */
        dm_error_clear(&err);
        assert_int_equal(dm_csv_next(c, &err), DM_EIO);
        assert_int_equal(err.code, DM_EIO);
        assert_string_equal(err.text, "read error: disk on fire");
        dm_csv_free(c);
    }
}

/* A callback that returns more than it was asked for is a read error too. */
static long liar_read(void *ud, char *buf, size_t n, dm_error *err)
{
    (void)ud, (void)buf, (void)err;
    return (long)n + 1;
}

static void test_read_too_much(void **state)
{
    (void)state;
    dm_input in = {liar_read, NULL, "liar"};
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_csv_next(c, &err), DM_EIO);
    assert_int_equal(err.code, DM_EIO);
    assert_string_equal(err.source, "liar");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 0);
    assert_string_equal(err.text, "read error");
    dm_csv_free(c);
}

/* ---- rows across the 64 KiB read buffer ---- */

static void test_rows_across_buffers(void **state)
{
    (void)state;
    /* 20,000 rows of two fields, one quoted with a line break: ~700 KB */
    const size_t rows = 20000;
    dm_buf b;
    dm_buf_init(&b, 0);
    assert_int_equal(dm_buf_adds(&b, "id,note\n"), DM_OK);
    for (size_t i = 0; i < rows; i++)
        assert_int_equal(dm_buf_printf(&b, "%zu,\"note \"\"%zu\"\",\nnext line\"\r\n", i, i * 7),
                         DM_OK);
    const size_t sizes[] = {0, 1, 4093, 65536};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        dm_input in;
        mem m;
        mem_input(&in, &m, b.data, b.len, sizes[s]);
        dm_csv *c = NULL;
        assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
        assert_int_equal(dm_csv_next(c, NULL), DM_OK);
        assert_string_equal(dm_csv_field(c, 1, NULL), "note");
        for (size_t i = 0; i < rows; i++) {
            char id[32], note[64];
            dm_error err;
            dm_error_clear(&err);
            assert_int_equal(dm_csv_next(c, &err), DM_OK);
            snprintf(id, sizeof id, "%zu", i);
            snprintf(note, sizeof note, "note \"%zu\",\nnext line", i * 7);
            assert_int_equal(dm_csv_nfields(c), 2);
            assert_string_equal(dm_csv_field(c, 0, NULL), id);
            assert_string_equal(dm_csv_field(c, 1, NULL), note);
            assert_int_equal(dm_csv_line(c), 2 + 2 * (int)i);
        }
        assert_int_equal(dm_csv_next(c, NULL), DM_END);
        dm_csv_free(c);
    }
    dm_buf_free(&b);
}

/* Rows with a stray quote in their note, across read buffers: each such row
 * is reported and every other row still comes out, with its line. */
static void test_stray_quotes_across_buffers(void **state)
{
    (void)state;
    const size_t rows = 20000;
    dm_buf b;
    dm_buf_init(&b, 0);
    assert_int_equal(dm_buf_adds(&b, "id,at,note\n"), DM_OK);
    for (size_t i = 0; i < rows; i++)
        assert_int_equal(dm_buf_printf(&b,
                                       i % 7 == 3 ? "%zu,\"2/%zu\",\"stray note\n"
                                                  : "%zu,\"2/%zu\",\"note,\nline 2\"\n",
                                       i, i % 28),
                         DM_OK);
    const size_t sizes[] = {0, 1, 4093, 65536};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        dm_input in;
        mem m;
        mem_input(&in, &m, b.data, b.len, sizes[s]);
        dm_csv *c = NULL;
        assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
        assert_int_equal(dm_csv_next(c, NULL), DM_OK);
        int line = 2;
        for (size_t i = 0; i < rows; i++) {
            char id[32], at[32];
            dm_error err;
            dm_error_clear(&err);
            dm_status st = dm_csv_next(c, &err);
            if (i % 7 == 3) {
                assert_int_equal(st, DM_ESYNTAX);
                assert_int_equal(err.line, line);
                assert_int_equal(dm_csv_line(c), line);
                snprintf(at, sizeof at, "%zu,\"2/%zu\",", i, i % 28);
                assert_int_equal(err.column, (int)strlen(at) + 1);
                line++;
                continue;
            }
            assert_int_equal(st, DM_OK);
            snprintf(id, sizeof id, "%zu", i);
            snprintf(at, sizeof at, "2/%zu", i % 28);
            assert_int_equal(dm_csv_nfields(c), 3);
            assert_string_equal(dm_csv_field(c, 0, NULL), id);
            assert_string_equal(dm_csv_field(c, 1, NULL), at);
            assert_string_equal(dm_csv_field(c, 2, NULL), "note,\nline 2");
            assert_int_equal(dm_csv_line(c), line);
            line += 2;
        }
        assert_int_equal(dm_csv_next(c, NULL), DM_END);
        dm_csv_free(c);
    }
    dm_buf_free(&b);
}

/*
 * Lines that each leave a quote open ('x,"y' then 'x","y' ...) make every
 * resumed row run on to the end again: parsing them again each time would
 * take quadratic time (hours here).  Each line must be reported, fast.
 */
static void quote_on_every_line(const char *tail, int tail_errors)
{
    const size_t n = 500000; /* 3 MB: under max_row, so each row is resumable */
    dm_buf b;
    dm_buf_init(&b, 0);
    assert_int_equal(dm_buf_adds(&b, "x,\"y\n"), DM_OK);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(dm_buf_adds(&b, "x\",\"y\n"), DM_OK);
    assert_int_equal(dm_buf_adds(&b, tail), DM_OK);
    dm_input in;
    mem m;
    mem_input(&in, &m, b.data, b.len, 0);
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
    clock_t t0 = clock();
    size_t errors = 0, rows = 0;
    for (;;) {
        dm_error err;
        dm_error_clear(&err);
        dm_status st = dm_csv_next(c, &err);
        if (st == DM_END)
            break;
        if (st == DM_OK) {
            rows++;
            continue;
        }
        assert_int_equal(st, DM_ESYNTAX);
        errors++;
        if (errors <= n) {
            assert_int_equal(err.line, (int)errors);
            assert_int_equal(err.column, errors == 1 ? 3 : 4);
            assert_string_equal(err.text, errors == 1
                                              ? "unterminated quoted field (opened at column 3)"
                                              : "unterminated quoted field (opened at column 4)");
        }
        if ((errors & 1023) == 0 && (double)(clock() - t0) / CLOCKS_PER_SEC > 30)
            fail_msg("still at line %zu after 30 s: quadratic?", errors);
    }
    assert_int_equal(errors, n + (size_t)tail_errors);
    assert_int_equal(rows, tail_errors ? 1 : 0);
    dm_csv_free(c);
    dm_buf_free(&b);
}

static void test_resume_cost(void **state)
{
    (void)state;
    quote_on_every_line("", 0);         /* the end of the input gives the quotes away */
    quote_on_every_line("\"q\nr\n", 1); /* text after a closing quote does */
}

/* ---- a 50 MB field costs no memory ---- */


/* A generated input: head, then `fill` copies of one byte, then tail. */
typedef struct gen {
    const char *head, *tail;
    char byte;
    uint64_t fill, pos;
    size_t chunk;
} gen;

static long gen_read(void *ud, char *buf, size_t n, dm_error *err)
{
    (void)err;
    gen *g = ud;
    size_t hl = strlen(g->head), tl = strlen(g->tail);
    uint64_t total = hl + g->fill + tl;
    size_t k = 0;
    if (n > g->chunk)
        n = g->chunk;
    while (k < n && g->pos < total) {
        if (g->pos < hl) {
            buf[k++] = g->head[g->pos++];
        } else if (g->pos < hl + g->fill) {
            uint64_t left = hl + g->fill - g->pos;
            size_t run = left < n - k ? (size_t)left : n - k;
            memset(buf + k, g->byte, run);
            k += run;
            g->pos += run;
        } else {
            buf[k++] = g->tail[g->pos - hl - g->fill];
            g->pos++;
        }
    }
    return (long)k;
}

static void big_field(const char *head, const char *tail, char byte, dm_status code, int col,
                      const char *text, int next_line, size_t max_peak)
{
    gen g = {head, tail, byte, 50u * 1000 * 1000, 0, 65521};
    dm_input in = {gen_read, &g, "big.csv"};
    mem_now = mem_peak = 0;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(dm_csv_next(c, &err), code);
    assert_int_equal(err.code, code);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, col);
    assert_string_equal(err.source, "big.csv");
    assert_string_equal(err.text, text);
    if (next_line) {
        assert_int_equal(dm_csv_next(c, &err), DM_OK);
        assert_int_equal(dm_csv_nfields(c), 2);
        assert_string_equal(dm_csv_field(c, 0, NULL), "next");
        assert_string_equal(dm_csv_field(c, 1, NULL), "row");
        assert_int_equal(dm_csv_line(c), next_line);
    }
    assert_int_equal(dm_csv_next(c, &err), DM_END);
    dm_csv_free(c);
    dm_set_alloc_funcs(NULL, NULL, NULL);
    assert_int_equal(mem_now, 0);
    if (mem_peak > max_peak)
        fail_msg("peak memory %zu bytes, expected at most %zu", mem_peak, max_peak);
}

static void test_50mb_field(void **state)
{
    (void)state;
    const size_t MiB = 1024 * 1024;
    /* the 1 MiB field limit, the 64 KiB read buffer and change */
    big_field("a,\"", "\",b\nnext,row\n", 'x', DM_ETOOLARGE, 3,
              "field 2 is larger than 1048576 bytes", 2, 2 * MiB + MiB / 4);
    big_field("a,", ",b\nnext,row\n", 'y', DM_ETOOLARGE, 3, "field 2 is larger than 1048576 bytes",
              2, 2 * MiB + MiB / 4);
    /* a row of 50 MB of commas: every field is small, the row is not; the
     * 4 MiB of the row limit are 4 Mi empty fields of 9 bytes each */
    big_field("a", "\nnext,row\n", ',', DM_ETOOLARGE, 0, "row is larger than 4194304 bytes", 2,
              48 * MiB);
    /* 50 MB of line ends inside a quote that never closes: reported, and
     * too large to parse again; the 4 MiB row limit bounds the kept bytes */
    big_field("\"", "", '\n', DM_ESYNTAX, 1, "unterminated quoted field (opened at column 1)", 0,
              7 * MiB);
}

/* A resume 3 MB after the row's first line: the kept bytes are bounded by
 * max_row (plus a read buffer), whatever the read sizes. */
static void test_resume_memory(void **state)
{
    (void)state;
    const size_t MiB = 1024 * 1024, fill = 3000000;
    const size_t chunks_[] = {65521, 4093};
    for (size_t k = 0; k < 2; k++) {
        /* 'a,"x', 3 MB of empty lines, then '"z' closes the quote and errs */
        gen g = {"a,\"x\n", "\"z\nnext,row\n", '\n', fill, 0, chunks_[k]};
        dm_input in = {gen_read, &g, "big.csv"};
        mem_now = mem_peak = 0;
        dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
        dm_csv *c = NULL;
        assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
        dm_error err;
        dm_error_clear(&err);
        assert_int_equal(dm_csv_next(c, &err), DM_ESYNTAX);
        assert_int_equal(err.line, 1);
        assert_int_equal(err.column, 3);
        assert_string_equal(err.text, "unterminated quoted field (opened at column 3)");
        /* the empty lines are skipped; '"z' opens a quote the end gives away */
        dm_error_clear(&err);
        assert_int_equal(dm_csv_next(c, &err), DM_ESYNTAX);
        assert_int_equal(err.line, (int)fill + 2);
        assert_int_equal(err.column, 1);
        assert_string_equal(err.text, "unterminated quoted field (opened at column 1)");
        assert_int_equal(dm_csv_next(c, &err), DM_OK);
        assert_string_equal(dm_csv_field(c, 0, NULL), "next");
        assert_int_equal(dm_csv_line(c), (int)fill + 3);
        assert_int_equal(dm_csv_next(c, &err), DM_END);
        dm_csv_free(c);
        dm_set_alloc_funcs(NULL, NULL, NULL);
        assert_int_equal(mem_now, 0);
        /* the kept bytes and the window made of them: 2 x (max_row + 64 KiB) at
         * most; the field buffer up to 2 MiB */
        if (mem_peak > 11 * MiB)
            fail_msg("peak memory %zu bytes, expected at most %zu", mem_peak, 11 * MiB);
    }
}

/* ---- allocation failures: reported, never a crash or a leak ---- */

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *data = "h1,h2\n\"a\nb\",c\nd,\"e\n";
    int saw_enomem = 0, completed = 0;
    for (long n = 0; n < 40 && !completed; n++) {
        dm_input in;
        mem m;
        mem_input(&in, &m, data, strlen(data), 3);
        mem_now = mem_peak = 0;
        dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
        fail_countdown = n;
        dm_csv *c = NULL;
        dm_status st = dm_csv_open(&in, &(dm_csv_opts){4096, 8192}, &c);
        if (st == DM_OK) {
            dm_error err;
            do {
                dm_error_clear(&err);
                st = dm_csv_next(c, &err);
            } while (st == DM_OK || dm_status_recoverable(st));
            if (st == DM_ENOMEM) {
                assert_int_equal(err.code, DM_ENOMEM);
                assert_string_equal(err.source, NAME);
                assert_int_equal(dm_csv_next(c, NULL), DM_ENOMEM);
            } else {
                assert_int_equal(st, DM_END);
                completed = 1;
            }
            dm_csv_free(c);
        } else {
            assert_int_equal(st, DM_ENOMEM);
            assert_null(c);
        }
        saw_enomem |= st == DM_ENOMEM;
        fail_countdown = -1;
        dm_set_alloc_funcs(NULL, NULL, NULL);
        assert_int_equal(mem_now, 0);
    }
    assert_true(saw_enomem);
    assert_true(completed);
}

/* ---- dm_input_file(): reads return what is there ---- */

/* On a pipe a read returns the bytes already written, not waiting for the
 * 64 KiB asked for: else `producer | doorman triage - | consumer` would
 * hold every answer until the producer quits.  A blocked read is killed by
 * the alarm, which fails the test. */
static void test_input_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    FILE *fp = fdopen(fds[0], "rb");
    assert_non_null(fp);
    dm_input in;
    dm_input_file(&in, fp, "<stdin>");
    alarm(20);
    assert_int_equal(write(fds[1], "a,b\n", 4), 4);
    char buf[65536];
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(in.read(in.ud, buf, sizeof buf, &err), 4);
    assert_memory_equal(buf, "a,b\n", 4);
    /* and a row comes out while the writer still has the pipe open */
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, NULL, &c), DM_OK);
    assert_int_equal(write(fds[1], "c,\"d\ne\"\n", 8), 8);
    assert_int_equal(dm_csv_next(c, &err), DM_OK);
    assert_int_equal(dm_csv_nfields(c), 2);
    assert_string_equal(dm_csv_field(c, 1, NULL), "d\ne");
    close(fds[1]);
    assert_int_equal(dm_csv_next(c, &err), DM_END);
    alarm(0);
    dm_csv_free(c);
    fclose(fp);
}

/* A signal that interrupts a read is no read error. */
static int sig_fd = -1;
static void write_on_alarm(int sig)
{
    (void)sig;
    (void)!write(sig_fd, "xyz", 3);
}

static void test_input_eintr(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    FILE *fp = fdopen(fds[0], "rb");
    assert_non_null(fp);
    dm_input in;
    dm_input_file(&in, fp, "<stdin>");
    sig_fd = fds[1];
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = write_on_alarm; /* no SA_RESTART: the read fails with EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval it = {{0, 0}, {0, 50000}};
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    char buf[64];
    dm_error err;
    dm_error_clear(&err);
    long n = in.read(in.ud, buf, sizeof buf, &err);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
    if (n != 3)
        fail_msg("read returned %ld (%s), expected 3", n, err.text);
    assert_memory_equal(buf, "xyz", 3);
    assert_int_equal(err.code, DM_OK);
    close(fds[1]);
    fclose(fp);
}

/* The input starts where the stream is, even when stdio read ahead of it. */
static void test_input_position(void **state)
{
    (void)state;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    assert_int_equal(fputs("0123456789\n", fp) >= 0, 1);
    rewind(fp);
    char head[4];
    assert_int_equal(fread(head, 1, 4, fp), 4); /* stdio buffered all 11 */
    dm_input in;
    dm_input_file(&in, fp, "t.csv");
    char buf[64];
    dm_error err;
    dm_error_clear(&err);
    assert_int_equal(in.read(in.ud, buf, sizeof buf, &err), 7);
    assert_memory_equal(buf, "456789\n", 7);
    assert_int_equal(in.read(in.ud, buf, sizeof buf, &err), 0);
    fclose(fp);
}

/* ---- junk: never a crash, never a bad field, the same whatever the reads ---- */

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* run_junk() reads everything and writes a transcript of what came out. */
static void run_junk(const char *data, size_t len, size_t chunk, const dm_csv_opts *opts,
                     dm_buf *log)
{
    dm_input in;
    mem m;
    mem_input(&in, &m, data, len, chunk);
    dm_csv *c = NULL;
    assert_int_equal(dm_csv_open(&in, opts, &c), DM_OK);
    size_t calls = 0;
    for (;;) {
        dm_error err;
        dm_error_clear(&err);
        dm_status st = dm_csv_next(c, &err);
        /* every call eats a byte; a resume parses the bytes of a row again */
        assert_true(++calls <= (len + 2) * (len + 2));
        if (st == DM_END)
            break;
        if (st == DM_OK) {
            size_t n = dm_csv_nfields(c);
            assert_true(n >= 1);
            dm_buf_printf(log, "row %d:", dm_csv_line(c));
            for (size_t i = 0; i < n; i++) {
                size_t flen;
                const char *f = dm_csv_field(c, i, &flen);
                assert_int_equal(dm_utf8_check(f, flen), flen);
                assert_null(memchr(f, '\0', flen));
                assert_true(flen <= opts->max_field);
                dm_buf_printf(log, " [%s]", f);
            }
            dm_buf_addc(log, '\n');
        } else {
            assert_true(dm_status_recoverable(st));
            assert_int_equal(err.code, st);
            assert_string_equal(err.source, NAME);
            assert_true(err.line >= 1);
            assert_true(err.column >= 0);
            dm_buf_printf(log, "error %d:%d: %s\n", err.line, err.column, err.text);
        }
    }
    dm_csv_free(c);
}

static void test_junk(void **state)
{
    (void)state;
    const char alphabet[] = "ab,\"\"\r\n\n\0\xC3\xA9\xFF\xEF\xBB\xBF";
    for (int round = 0; round < 3000; round++) {
        size_t len = next_rand() % 200;
        char *data = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            data[i] = round % 3 == 0 ? (char)(next_rand() & 0xFF)
                                     : alphabet[next_rand() % (sizeof alphabet - 1)];
        /* small limits put the edges of "too large" and "resumable" in reach */
        dm_csv_opts opts = {64, 256};
        if (round % 2) {
            opts.max_field = 1 + next_rand() % 32;
            opts.max_row = 1 + next_rand() % 48;
        }
        dm_buf whole, bytes, odd;
        dm_buf_init(&whole, 0);
        dm_buf_init(&bytes, 0);
        dm_buf_init(&odd, 0);
        run_junk(data, len, 0, &opts, &whole);
        run_junk(data, len, 1, &opts, &bytes);
        run_junk(data, len, 3, &opts, &odd);
        assert_string_equal(whole.data ? whole.data : "", bytes.data ? bytes.data : "");
        assert_string_equal(whole.data ? whole.data : "", odd.data ? odd.data : "");
        dm_buf_free(&whole);
        dm_buf_free(&bytes);
        dm_buf_free(&odd);
        free(data);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_field_out_of_range),
        cmocka_unit_test(test_open_args),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_read_too_much),
        cmocka_unit_test(test_rows_across_buffers),
        cmocka_unit_test(test_stray_quotes_across_buffers),
        cmocka_unit_test(test_resume_cost),
        cmocka_unit_test(test_50mb_field),
        cmocka_unit_test(test_resume_memory),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_junk),
        cmocka_unit_test(test_input_pipe),
        cmocka_unit_test(test_input_eintr),
        cmocka_unit_test(test_input_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
