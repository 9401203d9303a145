/*
 * lexer.c: tokens of the rule language.
 *
 * Whitespace and newlines separate tokens and mean nothing else; '#' starts
 * a comment to the end of the line.  A '/' starts a regex only where the
 * parser expects one (after =~ or !~), so the lexer is told.
 */
#include "rules.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void lex_init(lexer *lx, const char *file, const char *src, size_t len)
{
    lx->src = lx->p = src;
    lx->end = src + len;
    lx->file = file;
    lx->line = 1;
    lx->line_start = src;
    /* a UTF-8 byte order mark (editors on Windows write one) is no token:
     * it was "unexpected character '\xef'".  Columns count from after it,
     * as editors show the line (the CLI drops it from the line it prints). */
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
        lx->p = lx->line_start = src + 3;
    dm_buf_init(&lx->text, 1 << 20);
}

void lex_free(lexer *lx) { dm_buf_free(&lx->text); }

static int col_of(const lexer *lx, const char *p) { return (int)(p - lx->line_start) + 1; }

static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '.'; }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/*
 * out_of_memory() ends the input when a token's text cannot be stored: a
 * TK_ERROR whose text is LEX_OOM, which the parser takes for what it is
 * (parser.c, next()) rather than for a syntax error, and EOF after it.
 * Before, the text was left NULL and the parser's strcmp() on it crashed.
 */
#define LEX_OOM "out of memory"

static void out_of_memory(lexer *lx, token *t)
{
    t->kind = TK_ERROR;
    t->text = (char *)LEX_OOM;
    t->len = strlen(LEX_OOM);
    lx->p = lx->end;
}

/* stored() is 1 when a dm_buf call worked; else it ends the input as above. */
static int stored(lexer *lx, token *t, dm_status st)
{
    if (st == DM_OK)
        return 1;
    out_of_memory(lx, t);
    return 0;
}

static void error(lexer *lx, token *t, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void error(lexer *lx, token *t, const char *at, const char *fmt, ...)
{
    char msg[DM_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->kind = TK_ERROR;
    t->col = col_of(lx, at);
    dm_buf_reset(&lx->text);
    if (!stored(lx, t, dm_buf_adds(&lx->text, msg)))
        return;
    t->text = lx->text.data;
    t->len = lx->text.len;
}

static void skip_space(lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->line_start = ++lx->p;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else {
            break;
        }
    }
}

/* "..." with \" \\ \n \t escapes, on one line. */
static void lex_string(lexer *lx, token *t)
{
    const char *start = lx->p++;
    dm_buf_reset(&lx->text);
    while (lx->p < lx->end && *lx->p != '"') {
        char c = *lx->p;
        if (c == '\n') {
            error(lx, t, start, "%s", "unterminated string: a string ends on the line it starts");
            return;
        }
        if (c == '\\' && lx->p + 1 < lx->end) {
            char e = lx->p[1];
            char out = e == 'n' ? '\n' : e == 't' ? '\t' : e;
            if (e != 'n' && e != 't' && e != '"' && e != '\\') {
                error(lx, t, lx->p, "unknown escape '\\%c' in a string (use \\\" \\\\ \\n \\t)",
                      e);
                return;
            }
            if (!stored(lx, t, dm_buf_addc(&lx->text, out)))
                return;
            lx->p += 2;
            continue;
        }
        dm_status st = dm_buf_addc(&lx->text, c);
        if (st == DM_ETOOLARGE) {
            error(lx, t, start, "%s", "string too long");
            return;
        }
        if (!stored(lx, t, st))
            return;
        lx->p++;
    }
    if (lx->p >= lx->end) {
        error(lx, t, start, "%s", "unterminated string");
        return;
    }
    lx->p++;
    t->kind = TK_STRING;
    t->text = lx->text.data ? lx->text.data : (char *)"";
    t->len = lx->text.len;
}

/*
 * /pattern/flags: a backslash keeps the next character (so \/ is a slash
 * in the pattern, passed to PCRE2 as \/, which it reads as a slash).
 */
static void lex_regex(lexer *lx, token *t)
{
    const char *start = lx->p++;
    dm_buf_reset(&lx->text);
    t->pat_col = col_of(lx, lx->p);
    int in_class = 0;
    const char *class_body = NULL;
    while (lx->p < lx->end && (*lx->p != '/' || in_class)) {
        char c = *lx->p;
        if (c == '\n')
            break;
        if (c == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\n') {
            dm_status st = dm_buf_add(&lx->text, lx->p, 2);
            if (st == DM_ETOOLARGE) {
                error(lx, t, start, "%s", "regex too long");
                return;
            }
            if (!stored(lx, t, st))
                return;
            lx->p += 2;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            /* a ']' first in a class ("[]/]", "[^]]") is one of its
             * characters, as PCRE2 reads it; it ended the class here, and
             * the '/' in it then ended the regex */
            class_body = lx->p + 1;
            if (class_body < lx->end && *class_body == '^')
                class_body++;
        } else if (c == ']' && in_class && lx->p != class_body) {
            in_class = 0;
        }
        dm_status st = dm_buf_addc(&lx->text, c);
        if (st == DM_ETOOLARGE) {
            error(lx, t, start, "%s", "regex too long");
            return;
        }
        if (!stored(lx, t, st))
            return;
        lx->p++;
    }
    if (lx->p >= lx->end || *lx->p != '/') {
        error(lx, t, start, "%s", "unterminated regex: expected a closing '/' on the same line");
        return;
    }
    lx->p++;
    t->flags_col = col_of(lx, lx->p);
    size_t nf = 0;
    while (lx->p < lx->end && is_name_char(*lx->p) && *lx->p != '.') {
        if (nf + 1 < sizeof t->flags)
            t->flags[nf++] = *lx->p;
        lx->p++;
    }
    t->flags[nf] = '\0';
    t->kind = TK_REGEX;
    t->text = lx->text.data ? lx->text.data : (char *)"";
    t->len = lx->text.len;
}

static void lex_number(lexer *lx, token *t)
{
    const char *start = lx->p;
    if (*lx->p == '-' || *lx->p == '+')
        lx->p++;
    while (lx->p < lx->end && is_digit(*lx->p))
        lx->p++;
    if (lx->p < lx->end && *lx->p == '.') {
        lx->p++;
        if (lx->p >= lx->end || !is_digit(*lx->p)) {
            error(lx, t, start, "%s", "bad number: expected digits after '.'");
            return;
        }
        while (lx->p < lx->end && is_digit(*lx->p))
            lx->p++;
    }
    if (lx->p < lx->end && (is_name_char(*lx->p))) {
        const char *bad = lx->p;
        while (lx->p < lx->end && is_name_char(*lx->p))
            lx->p++;
        char text[64];
        snprintf(text, sizeof text, "%.*s", (int)(lx->p - start), start);
        (void)bad;
        error(lx, t, start, "bad number '%s'", text);
        return;
    }
    char text[64];
    size_t n = (size_t)(lx->p - start);
    if (n >= sizeof text) {
        error(lx, t, start, "%s", "bad number: too many digits");
        return;
    }
    memcpy(text, start, n);
    text[n] = '\0';
    t->kind = TK_NUMBER;
    t->num = strtod(text, NULL);
    dm_buf_reset(&lx->text);
    if (!stored(lx, t, dm_buf_add(&lx->text, start, n)))
        return;
    t->text = lx->text.data;
    t->len = n;
}

void lex_next(lexer *lx, token *t, int regex_ok)
{
    skip_space(lx);
    memset(t, 0, sizeof *t);
    t->line = lx->line;
    t->col = col_of(lx, lx->p);
    if (lx->p >= lx->end) {
        t->kind = TK_EOF;
        t->text = (char *)"end of file";
        t->end_col = t->col;
        return;
    }
    const char *start = lx->p;
    char c = *lx->p;
    if (c == '"') {
        lex_string(lx, t);
    } else if (c == '/' && regex_ok) {
        lex_regex(lx, t);
    } else if (is_digit(c) || ((c == '-' || c == '+') && lx->p + 1 < lx->end &&
                               (is_digit(lx->p[1]) || lx->p[1] == '.'))) {
        lex_number(lx, t);
    } else if (is_name_start(c)) {
        while (lx->p < lx->end && is_name_char(*lx->p))
            lx->p++;
        dm_buf_reset(&lx->text);
        if (!stored(lx, t, dm_buf_add(&lx->text, start, (size_t)(lx->p - start))))
            return;
        t->kind = TK_NAME;
        t->text = lx->text.data;
        t->len = lx->text.len;
    } else {
        static const struct {
            const char *s;
            tok_kind k;
            cmp_op op;
        } punct[] = {
            {"=~", TK_MATCH, CMP_EQ}, {"!~", TK_NOMATCH, CMP_EQ}, {"==", TK_CMP, CMP_EQ},
            {"!=", TK_CMP, CMP_NE},   {"<=", TK_CMP, CMP_LE},     {">=", TK_CMP, CMP_GE},
            {"<", TK_CMP, CMP_LT},    {">", TK_CMP, CMP_GT},      {"{", TK_LBRACE, CMP_EQ},
            {"}", TK_RBRACE, CMP_EQ}, {"(", TK_LPAREN, CMP_EQ},   {")", TK_RPAREN, CMP_EQ},
            {",", TK_COMMA, CMP_EQ},  {"=", TK_ASSIGN, CMP_EQ}, /* after "==", "=~" */
        };
        for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++) {
            size_t n = strlen(punct[i].s);
            if ((size_t)(lx->end - lx->p) >= n && memcmp(lx->p, punct[i].s, n) == 0) {
                t->kind = punct[i].k;
                t->cmp = punct[i].op;
                t->text = (char *)punct[i].s;
                t->len = n;
                lx->p += n;
                t->end_col = col_of(lx, lx->p);
                return;
            }
        }
        char what[8];
        if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            snprintf(what, sizeof what, "\\x%02x", (unsigned char)c);
        else
            snprintf(what, sizeof what, "%c", c);
        lx->p++;
        error(lx, t, start, "unexpected character '%s'", what);
        if (c == '/' && t->text != (char *)LEX_OOM &&
            stored(lx, t, dm_buf_adds(&lx->text, " (a regex goes after =~ or !~)"))) {
            t->text = lx->text.data;
            t->len = lx->text.len;
        }
        return;
    }
    if (t->kind != TK_ERROR || t->col == 0)
        t->end_col = col_of(lx, lx->p);
    else
        t->end_col = col_of(lx, lx->p);
}
