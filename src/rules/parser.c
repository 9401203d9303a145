/*
 * parser.c: rule files into the ruleset's parsed form.
 *
 * The parser does not stop at the first error (YARA, jq): it reports each
 * one with its line and column and resynchronises at the next rule item or
 * top-level keyword, so that lint shows every problem of a file at once.
 */
#include "rcompile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    lexer lx;
    token tok;
    rules_build *b;
    const char *file;
    const char *dir; /* for list files, relative to the rule file */
} parser;

/*
 * next() reads the next token.  The lexer says it ran out of memory with an
 * error token whose text is "out of memory" (lexer.c, out_of_memory()): that
 * is no syntax error, so it is flagged as such and read as the end of file.
 */
static void next(parser *ps, int regex_ok)
{
    lex_next(&ps->lx, &ps->tok, regex_ok);
    if (ps->tok.kind == TK_ERROR && strcmp(ps->tok.text, "out of memory") == 0) {
        rules_oom(ps->b);
        ps->tok.kind = TK_EOF;
        ps->tok.text = (char *)"end of file";
    }
}

static srcpos here(const parser *ps)
{
    return (srcpos){ps->file, ps->tok.line, ps->tok.col};
}

static void report_at(parser *ps, dm_severity sev, srcpos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report_at(parser *ps, dm_severity sev, srcpos pos, const char *fmt, ...)
{
    char msg[DM_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rules_diag(ps->b, sev, pos, "%s", msg);
}

/* describe the current token for "expected X, found Y" messages */
static const char *tok_desc(const token *t, char *buf, size_t n)
{
    switch (t->kind) {
    case TK_EOF: return "end of file";
    case TK_STRING: return "a string";
    case TK_NUMBER: snprintf(buf, n, "number %s", t->text); return buf;
    case TK_REGEX: return "a regex";
    case TK_ERROR: return t->text;
    case TK_NAME: snprintf(buf, n, "'%.40s'", t->text); return buf;
    default: snprintf(buf, n, "'%s'", t->text); return buf;
    }
}

/* expected() reports "expected WHAT, found X" at the current token. */
static void expected(parser *ps, const char *what)
{
    char buf[64];
    if (ps->tok.kind == TK_ERROR) {
        report_at(ps, DM_SEV_ERROR, here(ps), "%s", ps->tok.text);
        return;
    }
    report_at(ps, DM_SEV_ERROR, here(ps), "expected %s, found %s", what,
              tok_desc(&ps->tok, buf, sizeof buf));
}

static int is_kw(const token *t, const char *kw)
{
    return t->kind == TK_NAME && strcmp(t->text, kw) == 0;
}

static int is_top_kw(const token *t)
{
    return is_kw(t, "rule") || is_kw(t, "set") || is_kw(t, "list") || is_kw(t, "score") ||
           is_kw(t, "disable");
}

static int is_body_kw(const token *t)
{
    return is_kw(t, "describe") || is_kw(t, "score") || is_kw(t, "tags") ||
           is_kw(t, "helper") || is_kw(t, "when") || is_kw(t, "meta") || is_kw(t, "test");
}

static const char *const reserved[] = {"rule",  "set",  "list", "score", "disable", "describe",
                                       "tags",  "helper", "when", "meta", "test",  "and",
                                       "or",    "not",  "atleast", "of", "is",  "empty"};

static int is_reserved(const char *s)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(s, reserved[i]) == 0)
            return 1;
    return 0;
}

/* A rule or list name: letters, digits and '_', not a keyword. */
static int good_name(parser *ps, const char *what)
{
    if (ps->tok.kind != TK_NAME) {
        expected(ps, what);
        return 0;
    }
    if (strchr(ps->tok.text, '.')) {
        report_at(ps, DM_SEV_ERROR, here(ps), "'%s': a %s has no '.' in it", ps->tok.text,
                  what);
        return 0;
    }
    if (is_reserved(ps->tok.text)) {
        report_at(ps, DM_SEV_ERROR, here(ps), "'%s' is a keyword and cannot be a %s",
                  ps->tok.text, what);
        return 0;
    }
    return 1;
}

/*
 * Skip to the next top-level keyword (or the end).  Inside braces, 'score'
 * is a rule's item, not an override: stopping there after a rule whose
 * head could not be read ("rule 1bad {") turned each of its items into an
 * error of its own.
 */
static void sync_top(parser *ps)
{
    int depth = 0;
    while (ps->tok.kind != TK_EOF &&
           !(is_top_kw(&ps->tok) && (depth == 0 || !is_kw(&ps->tok, "score")))) {
        if (ps->tok.kind == TK_LBRACE)
            depth++;
        else if (ps->tok.kind == TK_RBRACE && depth > 0)
            depth--;
        next(ps, 1);
    }
}

/* skip_bad_name() steps over a name good_name() refused, so that a keyword
 * used as a name ("list rule") is not read again as the start of an item. */
static void skip_bad_name(parser *ps)
{
    if (ps->tok.kind == TK_NAME)
        next(ps, 0);
}

/* Skip to the next item of a rule body, or its closing brace. */
static void sync_body(parser *ps)
{
    while (ps->tok.kind != TK_EOF && ps->tok.kind != TK_RBRACE && !is_body_kw(&ps->tok) &&
           !is_kw(&ps->tok, "rule"))
        next(ps, 1);
}

/* ---- conditions ---------------------------------------------------------------- */

static int field_of(const char *name)
{
    if (strcmp(name, "any") == 0)
        return FIELD_ANY;
    int f = dm_field_lookup(name);
    return f;
}

static const struct {
    const char *name;
    fact_id id;
    int numeric;
} facts[] = {
    {"mutual", FACT_MUTUAL, 1},
    {"history.messages", FACT_HISTORY_MESSAGES, 1},
    {"history.incoming", FACT_HISTORY_INCOMING, 1},
    {"history.outgoing", FACT_HISTORY_OUTGOING, 1},
    {"history.pitched", FACT_HISTORY_PITCHED, 0},
    {"history.weak", FACT_HISTORY_WEAK, 0},
    {"spinmail", FACT_SPINMAIL, 0},
    {"no_sender_url", FACT_NO_SENDER_URL, 0},
    {"connected", FACT_CONNECTED, 0},
    {"html", FACT_HTML, 0},
};

static int fact_of(const char *name, int *numeric)
{
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        if (strcmp(facts[i].name, name) == 0) {
            *numeric = facts[i].numeric;
            return (int)facts[i].id;
        }
    }
    return -1;
}

const char *rules_fact_name(int id)
{
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if ((int)facts[i].id == id)
            return facts[i].name;
    return "?";
}

static const char *const field_help =
    "message, subject, from.name, from.headline, from.company, from.url, to, id, source, "
    "direction, sent_at or any";

/*
 * cond -> FIELD ('=~' | '!~') REGEX | FIELD 'is' ['not'] 'empty'
 *       | 'kind' 'is' ['not'] KIND | NUMFACT CMP NUMBER | ['not'] BOOLFACT
 * Returns 0 after reporting an error.
 */
static int parse_cond(parser *ps, cond *c)
{
    memset(c, 0, sizeof *c);
    c->pos = here(ps);
    int negated = 0;
    if (is_kw(&ps->tok, "not")) {
        negated = 1;
        next(ps, 0);
    }
    if (ps->tok.kind != TK_NAME) {
        expected(ps, "a field or a fact after 'when'");
        return 0;
    }
    char name[64];
    snprintf(name, sizeof name, "%s", ps->tok.text);
    srcpos npos = here(ps);
    int numeric = 0;
    int fact = fact_of(name, &numeric);
    if (fact >= 0) {
        next(ps, 0);
        if (numeric) {
            if (negated) {
                report_at(ps, DM_SEV_ERROR, npos,
                          "'not' goes before a yes/no fact; compare '%s' with a number instead",
                          name);
                return 0;
            }
            if (ps->tok.kind != TK_CMP) {
                expected(ps, "a comparison (== != < <= > >=)");
                return 0;
            }
            c->cmp = ps->tok.cmp;
            next(ps, 0);
            if (ps->tok.kind != TK_NUMBER) {
                expected(ps, "a number");
                return 0;
            }
            c->kind = C_NUM;
            c->num_kind = fact;
            c->num = ps->tok.num;
            next(ps, 0);
            return 1;
        }
        c->kind = negated ? C_NOTFACT : C_FACT;
        c->num_kind = fact;
        return 1;
    }
    if (strcmp(name, "kind") == 0) {
        next(ps, 0);
        if (!is_kw(&ps->tok, "is")) {
            expected(ps, "'is' after 'kind'");
            return 0;
        }
        next(ps, 0);
        int neg2 = 0;
        if (is_kw(&ps->tok, "not")) {
            neg2 = 1;
            next(ps, 0);
        }
        int k = ps->tok.kind == TK_NAME ? dm_kind_lookup(ps->tok.text) : -1;
        if (k < 0) {
            expected(ps, "a kind: invitation, message or email");
            return 0;
        }
        c->kind = (negated ^ neg2) ? C_NOTKIND : C_KIND;
        c->rkind = (dm_kind)k;
        next(ps, 0);
        return 1;
    }
    int field = field_of(name);
    if (field == -1) {
        report_at(ps, DM_SEV_ERROR, npos, "unknown field or fact '%s' (fields: %s)", name,
                  field_help);
        return 0;
    }
    c->field = field;
    next(ps, 1);
    if (ps->tok.kind == TK_MATCH || ps->tok.kind == TK_NOMATCH) {
        if (negated) {
            report_at(ps, DM_SEV_ERROR, c->pos, "%s", "write 'FIELD !~ /re/' rather than 'not'");
            return 0;
        }
        c->kind = ps->tok.kind == TK_MATCH ? C_MATCH : C_NOMATCH;
        next(ps, 1);
        if (ps->tok.kind != TK_REGEX) {
            expected(ps, "a regex /.../");
            return 0;
        }
        c->re = rules_regex_new(ps->b, &ps->tok, ps->file);
        if (!c->re)
            return 0;
        next(ps, 0);
        return 1;
    }
    if (is_kw(&ps->tok, "is")) {
        next(ps, 0);
        int neg2 = 0;
        if (is_kw(&ps->tok, "not")) {
            neg2 = 1;
            next(ps, 0);
        }
        if (!is_kw(&ps->tok, "empty")) {
            expected(ps, "'empty'");
            return 0;
        }
        c->kind = (negated ^ neg2) ? C_NOTEMPTY : C_EMPTY;
        next(ps, 0);
        return 1;
    }
    expected(ps, "=~, !~ or 'is' after a field");
    return 0;
}

/* ---- meta expressions ---------------------------------------------------------- */

static expr *parse_or(parser *ps, int depth);

static expr *new_expr(parser *ps, expr_kind k)
{
    expr *e = dm_calloc(1, sizeof *e);
    if (!e) {
        rules_oom(ps->b);
        return NULL;
    }
    e->kind = k;
    e->pos = here(ps);
    e->ref = -1;
    return e;
}

static int add_kid(parser *ps, expr *e, expr *kid)
{
    expr **p = dm_realloc(e->kids, (e->nkids + 1) * sizeof *p);
    if (!p) {
        rules_oom(ps->b);
        rules_expr_free(kid);
        return 0;
    }
    e->kids = p;
    e->kids[e->nkids++] = kid;
    return 1;
}

/* primary -> NAME | '(' expr ')' | 'atleast' NUMBER 'of' '(' NAME (',' NAME)* ')' */
static expr *parse_primary(parser *ps, int depth)
{
    if (depth > 64) {
        report_at(ps, DM_SEV_ERROR, here(ps), "%s", "expression nested too deeply");
        return NULL;
    }
    if (ps->tok.kind == TK_LPAREN) {
        next(ps, 0);
        expr *e = parse_or(ps, depth + 1);
        if (!e)
            return NULL;
        if (ps->tok.kind != TK_RPAREN) {
            expected(ps, "')'");
            rules_expr_free(e);
            return NULL;
        }
        next(ps, 0);
        return e;
    }
    if (is_kw(&ps->tok, "atleast")) {
        expr *e = new_expr(ps, E_ATLEAST);
        if (!e)
            return NULL;
        next(ps, 0);
        if (ps->tok.kind != TK_NUMBER || ps->tok.num < 1 || ps->tok.num != (int)ps->tok.num) {
            expected(ps, "a whole number of at least 1 after 'atleast'");
            rules_expr_free(e);
            return NULL;
        }
        e->atleast = (int)ps->tok.num;
        srcpos npos = here(ps);
        next(ps, 0);
        if (!is_kw(&ps->tok, "of")) {
            expected(ps, "'of'");
            rules_expr_free(e);
            return NULL;
        }
        next(ps, 0);
        if (ps->tok.kind != TK_LPAREN) {
            expected(ps, "'(' and a list of rule names");
            rules_expr_free(e);
            return NULL;
        }
        do {
            next(ps, 0);
            expr *kid = parse_or(ps, depth + 1);
            if (!kid || !add_kid(ps, e, kid)) {
                rules_expr_free(e);
                return NULL;
            }
        } while (ps->tok.kind == TK_COMMA);
        if (ps->tok.kind != TK_RPAREN) {
            expected(ps, "',' or ')'");
            rules_expr_free(e);
            return NULL;
        }
        next(ps, 0);
        if ((size_t)e->atleast > e->nkids) {
            report_at(ps, DM_SEV_ERROR, npos, "atleast %d of %zu rules can never hold",
                      e->atleast, e->nkids);
            rules_expr_free(e);
            return NULL;
        }
        return e;
    }
    if (ps->tok.kind == TK_NAME && !is_reserved(ps->tok.text) && !strchr(ps->tok.text, '.')) {
        expr *e = new_expr(ps, E_REF);
        if (!e)
            return NULL;
        e->name = dm_strdup(ps->tok.text);
        if (!e->name) {
            rules_oom(ps->b);
            rules_expr_free(e);
            return NULL;
        }
        next(ps, 0);
        return e;
    }
    expected(ps, "a rule name, 'not', 'atleast' or '('");
    return NULL;
}

static expr *parse_unary(parser *ps, int depth)
{
    if (is_kw(&ps->tok, "not")) {
        expr *e = new_expr(ps, E_NOT);
        if (!e)
            return NULL;
        next(ps, 0);
        expr *kid = parse_unary(ps, depth + 1);
        if (!kid || !add_kid(ps, e, kid)) {
            rules_expr_free(e);
            return NULL;
        }
        return e;
    }
    return parse_primary(ps, depth);
}

static expr *parse_binary(parser *ps, int depth, const char *op, expr_kind kind,
                          expr *(*sub)(parser *, int))
{
    expr *left = sub(ps, depth + 1);
    if (!left || !is_kw(&ps->tok, op))
        return left;
    expr *e = new_expr(ps, kind);
    if (!e) {
        rules_expr_free(left); /* leaked when the new node could not be made */
        return NULL;
    }
    if (!add_kid(ps, e, left)) {
        rules_expr_free(e);
        return NULL;
    }
    while (is_kw(&ps->tok, op)) {
        next(ps, 0);
        expr *kid = sub(ps, depth + 1);
        if (!kid || !add_kid(ps, e, kid)) {
            rules_expr_free(e);
            return NULL;
        }
    }
    return e;
}

static expr *parse_and(parser *ps, int depth)
{
    return parse_binary(ps, depth, "and", E_AND, parse_unary);
}

/* expr -> and ('or' and)* ; and -> unary ('and' unary)* ; unary -> 'not' unary | primary */
static expr *parse_or(parser *ps, int depth)
{
    return parse_binary(ps, depth, "or", E_OR, parse_and);
}

/* ---- rules --------------------------------------------------------------------- */

static int add_tag(parser *ps, rule *r, const char *tag)
{
    char **p = dm_realloc(r->tags, (r->ntags + 1) * sizeof *p);
    if (!p || !(p[r->ntags] = dm_strdup(tag))) {
        if (p)
            r->tags = p;
        rules_oom(ps->b);
        return 0;
    }
    r->tags = p;
    r->ntags++;
    if (strcmp(tag, "pitch") == 0)
        r->pitch = 1;
    return 1;
}

/* ---- a test's 'with': the facts of its record ----------------------------------- */

enum { W_KIND, W_MUTUAL, W_MESSAGES, W_INCOMING, W_OUTGOING, W_TEXT, W_WEAK, W_SPINMAIL,
       W_NO_URL, W_CONNECTED, W_HTML, W_COUNT };

/* what follows a name of 'with': nothing (a yes/no fact), '=' and a value */
enum { WV_YESNO, WV_COUNT, WV_KIND, WV_TEXT };

static const struct {
    const char *name;
    int value;
} withs[W_COUNT] = {
    [W_KIND] = {"kind", WV_KIND},
    [W_MUTUAL] = {"mutual", WV_COUNT},
    [W_MESSAGES] = {"history.messages", WV_COUNT},
    [W_INCOMING] = {"history.incoming", WV_COUNT},
    [W_OUTGOING] = {"history.outgoing", WV_COUNT},
    [W_TEXT] = {"history.text", WV_TEXT},
    [W_WEAK] = {"history.weak", WV_YESNO},
    [W_SPINMAIL] = {"spinmail", WV_YESNO},
    [W_NO_URL] = {"no_sender_url", WV_YESNO},
    [W_CONNECTED] = {"connected", WV_YESNO},
    [W_HTML] = {"html", WV_YESNO},
};

static const char *const with_help =
    "kind, mutual, history.messages, history.incoming, history.outgoing, history.text, "
    "history.weak, spinmail, no_sender_url, connected or html";

/* a count a test gives: the history is made message by message */
#define WITH_COUNT_MAX RTEST_COUNT_MAX

static int with_of(const char *name)
{
    for (int i = 0; i < W_COUNT; i++)
        if (strcmp(withs[i].name, name) == 0)
            return i;
    return -1;
}

static int add_with_text(parser *ps, rtest_with *w, const char *text)
{
    char **p = dm_realloc(w->texts, (w->ntexts + 1) * sizeof *p);
    if (!p || !(p[w->ntexts] = dm_strdup(text))) {
        if (p)
            w->texts = p;
        rules_oom(ps->b);
        return 0;
    }
    w->texts = p;
    w->ntexts++;
    return 1;
}

/*
 * settle_counts() makes the history counts whole: history.incoming is the
 * count given, else history.messages - history.outgoing when both are
 * given, else the number of history.text; history.outgoing is the count
 * given, else what history.messages leaves, else 0.  Returns 0 after
 * reporting counts that do not add up.
 */
static int settle_counts(parser *ps, rtest_with *w, const long *num, const srcpos *at)
{
    int gm = at[W_MESSAGES].line != 0, gi = at[W_INCOMING].line != 0,
        go = at[W_OUTGOING].line != 0;
    long m = num[W_MESSAGES], t = (long)w->ntexts;
    long in = gi ? num[W_INCOMING] : gm && go ? m - num[W_OUTGOING] : t;
    long out = go ? num[W_OUTGOING] : gm ? m - in : 0;
    if (in < t) {
        if (gi)
            report_at(ps, DM_SEV_ERROR, at[W_INCOMING],
                      "history.incoming = %ld is fewer than the %ld history.text given (each is "
                      "a message the sender wrote)",
                      in, t);
        else
            report_at(ps, DM_SEV_ERROR, at[W_MESSAGES],
                      "history.messages = %ld is fewer than history.outgoing = %ld and the %ld "
                      "history.text given",
                      m, num[W_OUTGOING], t);
        return 0;
    }
    if (out < 0 || (gm && in + out != m)) {
        if (go)
            report_at(ps, DM_SEV_ERROR, at[W_MESSAGES],
                      "history.messages = %ld is not history.incoming + history.outgoing (%ld + "
                      "%ld)",
                      m, in, out);
        else
            report_at(ps, DM_SEV_ERROR, at[W_MESSAGES],
                      "history.messages = %ld is fewer than the %ld incoming messages", m, in);
        return 0;
    }
    if (w->weak && in + out == 0) {
        report_at(ps, DM_SEV_ERROR, at[W_WEAK],
                  "history.weak needs a history: give history.messages, history.incoming, "
                  "history.outgoing or history.text");
        return 0;
    }
    w->incoming = in;
    w->outgoing = out;
    return 1;
}

/*
 * with  -> 'with' given (',' given)*
 * given -> 'kind' '=' KIND | COUNT '=' NUMBER | 'history.text' '=' STRING | YESNO
 * An unknown or repeated name and a bad count leave the list readable: they
 * are reported and reading goes on, so that lint shows them all.  Returns 0
 * after any error; w->texts is the caller's to free either way.
 */
static int parse_with(parser *ps, rtest_with *w)
{
    srcpos at[W_COUNT]; /* where each was given; line 0: it was not */
    long num[W_COUNT] = {0};
    int ok = 1;
    memset(at, 0, sizeof at);
    w->given = 1;
    w->kind = -1;
    w->mutual = -1;
    do {
        next(ps, 0); /* past 'with' or ',' */
        if (ps->tok.kind != TK_NAME) {
            expected(ps, "a fact after 'with'");
            return 0;
        }
        srcpos pos = here(ps);
        char name[64];
        snprintf(name, sizeof name, "%s", ps->tok.text);
        int id = with_of(name);
        next(ps, 0);
        if (id < 0) {
            if (strcmp(name, "history.pitched") == 0)
                report_at(ps, DM_SEV_ERROR, pos,
                          "history.pitched cannot be set: it holds when one of the sender's "
                          "earlier messages hits a pitch rule; give them as history.text = "
                          "\"...\"");
            else
                report_at(ps, DM_SEV_ERROR, pos, "unknown fact '%s' for a test (%s)", name,
                          with_help);
            ok = 0;
            if (ps->tok.kind == TK_ASSIGN) { /* skip its value, if it has one */
                next(ps, 0);
                if (ps->tok.kind == TK_NAME || ps->tok.kind == TK_NUMBER ||
                    ps->tok.kind == TK_STRING)
                    next(ps, 0);
            }
            continue;
        }
        if (at[id].line && id != W_TEXT) {
            report_at(ps, DM_SEV_ERROR, pos, "%s is given twice in this test (first at column %d)",
                      name, at[id].col);
            ok = 0;
        }
        at[id] = pos;
        if (withs[id].value == WV_YESNO) {
            if (ps->tok.kind == TK_ASSIGN) {
                report_at(ps, DM_SEV_ERROR, here(ps),
                          "%s is a yes/no fact: name it to set it, with no '='", name);
                return 0;
            }
            switch (id) {
            case W_WEAK: w->weak = 1; break;
            case W_CONNECTED: w->connected = 1; break;
            case W_SPINMAIL: w->facts |= DM_FACT_SPINMAIL; break;
            case W_NO_URL: w->facts |= DM_FACT_NO_URL; break;
            default: w->facts |= DM_FACT_HTML; break;
            }
            continue;
        }
        if (ps->tok.kind != TK_ASSIGN) {
            char what[96];
            snprintf(what, sizeof what, "'=' after %s", name);
            expected(ps, what);
            return 0;
        }
        next(ps, 0);
        if (withs[id].value == WV_KIND) {
            int k = ps->tok.kind == TK_NAME ? dm_kind_lookup(ps->tok.text) : -1;
            if (k < 0) {
                expected(ps, "a kind: invitation, message or email");
                return 0;
            }
            w->kind = k;
        } else if (withs[id].value == WV_TEXT) {
            if (ps->tok.kind != TK_STRING) {
                expected(ps, "the text of an earlier message, a string");
                return 0;
            }
            if (!add_with_text(ps, w, ps->tok.text))
                return 0;
        } else {
            if (ps->tok.kind != TK_NUMBER) {
                expected(ps, "a number");
                return 0;
            }
            double v = ps->tok.num;
            if (v < 0 || v > WITH_COUNT_MAX || v != (double)(long)v) {
                report_at(ps, DM_SEV_ERROR, here(ps),
                          "bad number %s for %s: a whole number from 0 to %d", ps->tok.text,
                          name, WITH_COUNT_MAX);
                ok = 0;
            } else {
                num[id] = (long)v;
            }
        }
        next(ps, 0);
    } while (ps->tok.kind == TK_COMMA);
    if (!ok)
        return 0;
    if (at[W_MUTUAL].line)
        w->mutual = num[W_MUTUAL];
    return settle_counts(ps, w, num, at);
}

static int parse_test_text(parser *ps, rule *r, srcpos pos, int hit, rtest_with *w);

/* test -> 'test' ('hit' | 'miss') [with] [FIELD] STRING */
static int parse_test(parser *ps, rule *r)
{
    srcpos pos = here(ps);
    next(ps, 0);
    int hit;
    if (is_kw(&ps->tok, "hit"))
        hit = 1;
    else if (is_kw(&ps->tok, "miss"))
        hit = 0;
    else {
        expected(ps, "'hit' or 'miss' after 'test'");
        return 0;
    }
    next(ps, 0);
    rtest_with w;
    memset(&w, 0, sizeof w);
    w.kind = -1;
    w.mutual = -1;
    if (is_kw(&ps->tok, "with")) {
        int ok = parse_with(ps, &w);
        if (ok && ps->tok.kind == TK_NAME &&
            (with_of(ps->tok.text) >= 0 || strcmp(ps->tok.text, "history.pitched") == 0)) {
            expected(ps, "',' between the facts after 'with'");
            ok = 0;
        }
        if (!ok) {
            rules_with_free(&w);
            return 0;
        }
    }
    int ok = parse_test_text(ps, r, pos, hit, &w);
    if (!ok)
        rules_with_free(&w);
    return ok;
}

/* the rest of a test: [FIELD] STRING; it takes `w` when it returns 1 */
static int parse_test_text(parser *ps, rule *r, srcpos pos, int hit, rtest_with *w)
{
    int field = DM_FIELD_MESSAGE;
    if (ps->tok.kind == TK_NAME) {
        field = field_of(ps->tok.text);
        if (field < 0 && !w->given &&
            (with_of(ps->tok.text) >= 0 || strcmp(ps->tok.text, "history.pitched") == 0)) {
            report_at(ps, DM_SEV_ERROR, here(ps),
                      "a test sets one field; '%s' is a fact: write 'test %s with %s ...'",
                      ps->tok.text, hit ? "hit" : "miss", ps->tok.text);
            return 0;
        }
        if (field < 0) {
            report_at(ps, DM_SEV_ERROR, here(ps), "a test sets one field; '%s' is not one (%s)",
                      ps->tok.text, field_help);
            return 0;
        }
        next(ps, 0);
    }
    if (ps->tok.kind != TK_STRING) {
        expected(ps, "the test's text, a string");
        return 0;
    }
    rtest *p = dm_realloc(r->tests, (r->ntests + 1) * sizeof *p);
    if (!p) {
        rules_oom(ps->b);
        return 0;
    }
    r->tests = p;
    rtest *t = &r->tests[r->ntests];
    t->hit = hit;
    t->field = field == FIELD_ANY ? DM_FIELD_MESSAGE : field;
    t->pos = pos;
    t->text = dm_strdup(ps->tok.text);
    if (!t->text) {
        rules_oom(ps->b);
        return 0;
    }
    t->with = *w;
    r->ntests++;
    next(ps, 0);
    return 1;
}

/*
 * What a rule body wrote, even when the item could not be read: a rule
 * whose only 'when' has an error is not also "a rule with no 'when'" (one
 * mistake, one error).
 */
typedef struct seen {
    int describe, score, cond;
} seen;

/* One item of a rule body; returns 0 after an error (the caller resyncs). */
static int parse_body_item(parser *ps, rule *r, seen *sn)
{
    srcpos pos = here(ps);
    if (is_kw(&ps->tok, "describe")) {
        next(ps, 0);
        if (sn->describe++)
            report_at(ps, DM_SEV_ERROR, pos, "rule %s has a second 'describe'", r->name);
        if (ps->tok.kind != TK_STRING) {
            expected(ps, "a string after 'describe'");
            return 0;
        }
        dm_free(r->describe);
        r->describe = dm_strdup(ps->tok.text);
        if (!r->describe) {
            rules_oom(ps->b); /* else it would read as "has no describe" */
            return 0;
        }
        next(ps, 0);
        return 1;
    }
    if (is_kw(&ps->tok, "score")) {
        next(ps, 0);
        if (sn->score++)
            report_at(ps, DM_SEV_ERROR, pos, "rule %s has a second 'score'", r->name);
        if (ps->tok.kind != TK_NUMBER) {
            expected(ps, "a number after 'score'");
            return 0;
        }
        if (ps->tok.num < -100 || ps->tok.num > 100)
            report_at(ps, DM_SEV_ERROR, here(ps), "score %s is out of range (-100 to 100)",
                      ps->tok.text);
        r->score = ps->tok.num;
        r->has_score = 1;
        next(ps, 0);
        return 1;
    }
    if (is_kw(&ps->tok, "tags")) {
        do {
            next(ps, 0);
            if (ps->tok.kind != TK_NAME) {
                expected(ps, "a tag name");
                return 0;
            }
            if (!add_tag(ps, r, ps->tok.text))
                return 0;
            next(ps, 0);
        } while (ps->tok.kind == TK_COMMA);
        return 1;
    }
    if (is_kw(&ps->tok, "helper")) {
        r->helper = 1;
        next(ps, 0);
        return 1;
    }
    if (is_kw(&ps->tok, "when")) {
        sn->cond = 1;
        next(ps, 0);
        cond c;
        if (!parse_cond(ps, &c))
            return 0;
        cond *p = dm_realloc(r->conds, (r->nconds + 1) * sizeof *p);
        if (!p) {
            rules_regex_free(c.re);
            rules_oom(ps->b);
            return 0;
        }
        r->conds = p;
        r->conds[r->nconds++] = c;
        return 1;
    }
    if (is_kw(&ps->tok, "meta")) {
        sn->cond = 1;
        if (r->meta) {
            report_at(ps, DM_SEV_ERROR, pos, "rule %s has a second 'meta'", r->name);
            return 0;
        }
        next(ps, 0);
        r->meta = parse_or(ps, 0);
        return r->meta != NULL;
    }
    if (is_kw(&ps->tok, "test"))
        return parse_test(ps, r);
    expected(ps, "describe, score, tags, helper, when, meta, test or '}'");
    return 0;
}

/* rule -> 'rule' NAME '{' body* '}' */
static void parse_rule(parser *ps)
{
    next(ps, 0);
    if (!good_name(ps, "rule name")) {
        skip_bad_name(ps);
        sync_top(ps);
        return;
    }
    rule *r = rules_add_rule(ps->b, ps->tok.text, (srcpos){ps->file, ps->tok.line, ps->tok.col});
    if (!r) {
        sync_top(ps);
        return;
    }
    next(ps, 0);
    if (ps->tok.kind != TK_LBRACE) {
        expected(ps, "'{'");
        if (!is_body_kw(&ps->tok)) {
            r->disabled = 2; /* unread: no warnings about it */
            sync_top(ps);
            return;
        }
        /* only the brace is missing: read the body, so that its items are
         * not each taken for something else */
    } else {
        next(ps, 0);
    }
    seen sn = {0, 0, 0};
    while (ps->tok.kind != TK_RBRACE && ps->tok.kind != TK_EOF) {
        if (is_kw(&ps->tok, "rule")) {
            expected(ps, "'}' to close rule before the next rule");
            return;
        }
        int line = ps->tok.line, col = ps->tok.col;
        if (!parse_body_item(ps, r, &sn)) {
            /*
             * Step over the token the item failed at only when the item
             * read nothing (an unknown word): when it stopped further on,
             * that token may start the next item, close the rule or begin
             * the next rule, and skipping it ran this rule into the next.
             */
            if (ps->tok.line == line && ps->tok.col == col)
                next(ps, 1);
            sync_body(ps);
        }
    }
    if (ps->tok.kind == TK_EOF) {
        report_at(ps, DM_SEV_ERROR, r->pos, "rule %s is not closed: expected '}'", r->name);
        return;
    }
    next(ps, 0);
    if (r->meta && r->nconds)
        report_at(ps, DM_SEV_ERROR, r->pos,
                  "rule %s has both 'meta' and 'when': a meta rule combines other rules; "
                  "put the conditions in a helper rule",
                  r->name);
    if (!r->meta && !r->nconds && !sn.cond)
        report_at(ps, DM_SEV_ERROR, r->pos, "rule %s has no 'when' and no 'meta': it would "
                                            "never fire", r->name);
    if (r->helper && sn.score)
        report_at(ps, DM_SEV_ERROR, r->pos, "rule %s is a helper and so has no score", r->name);
    if (!r->helper && !sn.score)
        report_at(ps, DM_SEV_ERROR, r->pos,
                  "rule %s has no score (write 'score N', or 'helper' for a rule that only "
                  "feeds metas)",
                  r->name);
    if (!r->helper && !sn.describe)
        report_at(ps, DM_SEV_ERROR, r->pos, "rule %s has no describe: reports need one",
                  r->name);
}

/* list -> 'list' NAME ( STRING | '{' STRING (',' STRING)* '}' ) */
static void parse_list(parser *ps)
{
    next(ps, 0);
    if (!good_name(ps, "list name")) {
        skip_bad_name(ps);
        sync_top(ps);
        return;
    }
    char name[128];
    snprintf(name, sizeof name, "%s", ps->tok.text);
    srcpos pos = here(ps);
    next(ps, 0);
    if (ps->tok.kind == TK_STRING) {
        rules_add_list_file(ps->b, name, pos, ps->dir, ps->tok.text,
                            (srcpos){ps->file, ps->tok.line, ps->tok.col});
        next(ps, 0);
        return;
    }
    if (ps->tok.kind != TK_LBRACE) {
        expected(ps, "a file name (a string) or '{' and the entries");
        sync_top(ps);
        return;
    }
    rlist *l = rules_add_list(ps->b, name, pos);
    next(ps, 0);
    while (ps->tok.kind == TK_STRING) {
        if (l)
            rules_list_add(ps->b, l, ps->tok.text, here(ps));
        next(ps, 0);
        if (ps->tok.kind != TK_COMMA)
            break;
        next(ps, 0);
    }
    if (ps->tok.kind != TK_RBRACE) {
        expected(ps, "a string, ',' or '}'");
        sync_top(ps);
        return;
    }
    next(ps, 0);
}

static void parse_item(parser *ps)
{
    srcpos pos = here(ps);
    if (is_kw(&ps->tok, "rule")) {
        parse_rule(ps);
    } else if (is_kw(&ps->tok, "list")) {
        parse_list(ps);
    } else if (is_kw(&ps->tok, "set")) {
        next(ps, 0);
        if (ps->tok.kind != TK_NAME || (strcmp(ps->tok.text, "decline_at") != 0 &&
                                        strcmp(ps->tok.text, "accept_at") != 0)) {
            expected(ps, "a setting: decline_at or accept_at");
            sync_top(ps);
            return;
        }
        int decline = strcmp(ps->tok.text, "decline_at") == 0;
        next(ps, 0);
        if (ps->tok.kind != TK_NUMBER) {
            expected(ps, "a number");
            sync_top(ps);
            return;
        }
        rules_set_threshold(ps->b, decline, ps->tok.num, pos);
        next(ps, 0);
    } else if (is_kw(&ps->tok, "score") || is_kw(&ps->tok, "disable")) {
        int disable = is_kw(&ps->tok, "disable");
        next(ps, 0);
        if (!good_name(ps, "rule name")) {
            skip_bad_name(ps);
            sync_top(ps);
            return;
        }
        char name[128];
        snprintf(name, sizeof name, "%s", ps->tok.text);
        srcpos npos = here(ps);
        next(ps, 0);
        if (disable) {
            rules_add_override(ps->b, name, 1, 0, npos);
            return;
        }
        if (ps->tok.kind != TK_NUMBER) {
            expected(ps, "the rule's new score");
            sync_top(ps);
            return;
        }
        /* the range a rule's own score has; a re-score skipped the check */
        if (ps->tok.num < -100 || ps->tok.num > 100)
            report_at(ps, DM_SEV_ERROR, here(ps), "score %s is out of range (-100 to 100)",
                      ps->tok.text);
        rules_add_override(ps->b, name, 0, ps->tok.num, npos);
        next(ps, 0);
    } else {
        expected(ps, "rule, list, set, score or disable");
        next(ps, 1);
        sync_top(ps);
    }
}

void rules_parse(rules_build *b, const char *file, const char *dir, const char *src, size_t len)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.b = b;
    ps.file = file;
    ps.dir = dir;
    lex_init(&ps.lx, file, src, len);
    next(&ps, 0);
    while (ps.tok.kind != TK_EOF && !rules_out_of_memory(b))
        parse_item(&ps);
    lex_free(&ps.lx);
}
