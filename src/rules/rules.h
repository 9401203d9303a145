/*
 * rules.h: the rule language's internals: tokens, the parsed form of a
 * rule file, and the compiled ruleset.  docs/rules.md is the user's guide.
 */
#ifndef DM_RULES_H
#define DM_RULES_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "core.h"
#include "map.h"
#include "normalize.h"
#include "prefilter.h"

#include <pcre2.h>

/* ---- lexer ---------------------------------------------------------------- */

typedef enum tok_kind {
    TK_EOF = 0,
    TK_NAME,   /* rule, message, from.name, history.messages, ... */
    TK_STRING, /* "..." (text holds the unescaped value) */
    TK_NUMBER, /* 3, -2.5 */
    TK_REGEX,  /* /.../flags (text holds the pattern, flags the letters) */
    TK_VAR,    /* $name or ${name - me} outside a regex (not used today) */
    TK_LBRACE,
    TK_RBRACE,
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_MATCH,   /* =~ */
    TK_NOMATCH, /* !~ */
    TK_CMP,     /* == != < <= > >= */
    TK_ASSIGN,  /* = (in a test's 'with') */
    TK_ERROR,
} tok_kind;

typedef enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } cmp_op;

typedef struct token {
    tok_kind kind;
    int line, col; /* of the first character */
    int end_col;   /* one past the last, on the same line */
    char *text;    /* NAME, STRING, REGEX pattern, ERROR message; owned by the lexer */
    size_t len;
    char flags[8]; /* REGEX */
    int flags_col;
    int pat_col;   /* REGEX: column of the pattern's first character */
    double num;
    cmp_op cmp;
} token;

typedef struct lexer {
    const char *src, *p, *end;
    const char *file;
    int line;
    const char *line_start;
    dm_buf text; /* backing store of the current token's text */
} lexer;

void lex_init(lexer *lx, const char *file, const char *src, size_t len);
void lex_free(lexer *lx);
/* lex_next() reads the next token; `regex_ok` lets a '/' start a regex. */
void lex_next(lexer *lx, token *t, int regex_ok);

/* ---- the parsed and compiled rules ------------------------------------------ */

/* Where a thing was written: for messages "file:line:col". */
typedef struct srcpos {
    const char *file; /* interned in the ruleset: lives as long as it */
    int line, col;
} srcpos;

/* Fields a condition can look at, beyond dm_field. */
#define FIELD_ANY (-2)

/* The numbers and yes/no facts about a record that conditions can test. */
typedef enum fact_id {
    FACT_MUTUAL,           /* number; unknown makes the test false */
    FACT_HISTORY_MESSAGES, /* number */
    FACT_HISTORY_INCOMING, /* number: written by the sender */
    FACT_HISTORY_OUTGOING, /* number: written by me */
    FACT_HISTORY_PITCHED,  /* yes/no: an earlier message hit a pitch rule */
    FACT_HISTORY_WEAK,     /* yes/no: history joined on the name only */
    FACT_SPINMAIL,
    FACT_NO_SENDER_URL,
    FACT_CONNECTED,
    FACT_HTML,
    FACT_COUNT
} fact_id;

typedef enum cond_kind {
    C_MATCH,   /* field =~ /re/ */
    C_NOMATCH, /* field !~ /re/ */
    C_EMPTY,   /* field is empty (or missing) */
    C_NOTEMPTY,
    C_KIND,    /* kind is invitation */
    C_NOTKIND,
    C_NUM,     /* fact CMP number */
    C_FACT,    /* fact */
    C_NOTFACT, /* not fact */
} cond_kind;

typedef struct regex {
    char *src;         /* as written, between the slashes */
    char *expanded;    /* lists and me interpolated */
    int *colmap;       /* expanded offset -> file column */
    size_t explen;
    unsigned flags;    /* PCRE2 options */
    int raw;           /* r flag: match the original text, not the normalized one */
    int uses_me;       /* depends on the context: compiled at bind time */
    pcre2_code *code;
    int jit;           /* code was JIT-compiled: pcre2_jit_match() runs it */
    int jit_tried;     /* lazy_jit: tried to JIT-compile (may fail) */
    unsigned runs;     /* lazy_jit: matches run without JIT so far */
    int pf_id;         /* prefilter id, or -1 when it always runs */
    size_t maxlen;     /* most bytes a match consumes (SIZE_MAX: unbounded) */
    srcpos pos;        /* the opening slash */
    int pat_col;
} regex;

typedef struct cond {
    cond_kind kind;
    int field; /* dm_field, FIELD_ANY */
    regex *re;
    int num_kind; /* C_NUM / C_FACT: a fact_id */
    cmp_op cmp;
    double num;
    dm_kind rkind;
    srcpos pos;
} cond;

typedef enum expr_kind { E_REF, E_AND, E_OR, E_NOT, E_ATLEAST } expr_kind;

typedef struct expr {
    expr_kind kind;
    char *name;  /* E_REF */
    int ref;     /* E_REF: rule index, resolved at compile */
    struct expr **kids;
    size_t nkids;
    int atleast; /* E_ATLEAST */
    uint64_t *mask; /* and/or/atleast whose kids all name rules: their bits (set at bind) */
    srcpos pos;
} expr;

/*
 * What a test's 'with' gives the record (docs/rules.md, Tests): the
 * parser settles the counts, so incoming + outgoing is history.messages.
 */
/* the most a test's history counts may be (parser.c; cache.c checks it too) */
#define RTEST_COUNT_MAX 10000

typedef struct rtest_with {
    int given;       /* the test has a 'with' */
    int kind;        /* a dm_kind, or -1: the rule's */
    long mutual;     /* -1: unknown, as without 'with' */
    long incoming;   /* messages the sender wrote, texts included */
    long outgoing;   /* messages you wrote */
    char **texts;    /* history.text: the sender's earlier messages, in order */
    size_t ntexts;
    unsigned facts;  /* DM_FACT_SPINMAIL, DM_FACT_NO_URL, DM_FACT_HTML */
    int weak;        /* history.weak: the history is filed under the name only */
    int connected;   /* the sender is one of the test profile's connections */
} rtest_with;

typedef struct rtest {
    int hit; /* 1 must hit, 0 must miss */
    int field;
    char *text;
    rtest_with with;
    srcpos pos;
} rtest;

typedef struct rule {
    char *name;
    char *describe;
    double score;
    int has_score;
    int helper; /* feeds metas only: no score, never reported */
    char **tags;
    size_t ntags;
    cond *conds;
    size_t nconds;
    expr *meta; /* a meta rule: an expression over other rules */
    rtest *tests;
    size_t ntests;
    int disabled;
    int pitch; /* tagged "pitch": history.pitched runs these over past messages */
    srcpos pos;
    int order; /* evaluation order: metas after what they use */
} rule;

typedef struct rlist {
    char *name;
    char **items; /* normalized, as they will be matched */
    size_t nitems;
    srcpos pos;
} rlist;

struct dm_ruleset {
    rule *rules;
    size_t nrules, rcap;
    rlist *lists;
    size_t nlists, lcap;
    char **files; /* interned file names */
    size_t nfiles;
    double accept_at, decline_at;
    int have_accept, have_decline;
    dm_map by_name; /* rule name -> index + 1 */
    /* compiled */
    size_t *order; /* rule indexes in evaluation order */
    dm_prefilter *pf;
    size_t npf;          /* prefilter ids in use */
    uint64_t *pf_hits;   /* scratch bitset, per field */
    dm_pf_span *pf_spans; /* per field and id: where its literals were found */
    regex **pf_regex;    /* id -> regex */
    regex **always;      /* regexes that always run */
    size_t nalways;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    /* what a record runs, set at bind: rules with no prefilter gate, the
     * gated rule of each prefilter id (-1: none) and its field, the metas
     * in order; and which rules fired, in the order they were decided */
    size_t *plain, nplain;
    int *gate_rule, *gate_field;
    unsigned gate_fields; /* bit per dm_field */
    size_t *metas, nmetas;
    size_t *fired_list, nfired;
    int any_limit; /* some rule hit a PCRE2 limit on this record */
    unsigned char *fired; /* per rule: this record */
    uint64_t *fired_bits; /* the same as a bitset, for metas' masks */
    size_t fwords;        /* words in fired_bits and in each mask */
    unsigned char *limit; /* per rule: hit a PCRE2 limit on this record */
    dm_norm norm[DM_FIELD_COUNT];
    int norm_done[DM_FIELD_COUNT]; /* 1 normalized, 2 with the offset map */
    int pf_done[DM_FIELD_COUNT];
    int bound;        /* compiled against a context */
    int no_prefilter; /* every pattern runs (benchmarks) */
    int uses_pitched; /* some rule tests history.pitched */
    int in_pitched;   /* evaluating a past message for history.pitched */
    dm_map pitched;   /* history pointer (as text) -> 1 + pitched, cached */
    dm_record *tmp;   /* the record a past message is put in */
    int lazy_jit;     /* JIT a pattern once it pays (dm_rules_opts) */
    /* the compiled-rules cache (cache.h), or NULL */
    struct rules_cache *cache;
};

#endif
