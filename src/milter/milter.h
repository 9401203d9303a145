/*
 * milter.h: what the files of doorman-milter share (docs/doorman-milter.8).
 *
 * main.c    options, logging, start-up and shutdown
 * filter.c  the libmilter callbacks: one message reassembled per
 *           connection, triaged at end of message
 * pool.c    the rulesets the worker threads borrow to evaluate a record
 */
#ifndef DM_MILTER_H
#define DM_MILTER_H

#include "doorman.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

/* What a declined mail gets besides the headers (--on-decline). */
typedef enum milter_action {
    ACTION_NONE = 0, /* headers only: never refuse mail (the default) */
    ACTION_QUARANTINE,
    ACTION_REJECT,
    ACTION_TEMPFAIL,
} milter_action;

/*
 * The ruleset pool.  dm_ruleset_eval() is not thread-safe on one ruleset
 * (the ruleset owns the match scratch), and libmilter runs each command
 * of each connection on whichever worker thread is free, so a thread
 * cannot own a ruleset.  The pool holds `n` rulesets loaded and bound at
 * start-up; a worker borrows one for one evaluation and gives it back.
 * With n == 1 this is a plain mutex around eval.
 */
typedef struct rule_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dm_ruleset **all;  /* n rulesets, owned */
    dm_ruleset **idle; /* nidle of them, free to borrow */
    size_t n, nidle;
    unsigned long waits; /* borrows that had to wait: the contention */
} rule_pool;

int pool_init(rule_pool *p, size_t n, const char *const *rules, size_t nrules, int defaults,
              const dm_context *ctx);
dm_ruleset *pool_take(rule_pool *p);
void pool_give(rule_pool *p, dm_ruleset *rs);
void pool_free(rule_pool *p);

/* The settings every connection reads (set before smfi_main, then read-only). */
typedef struct milter_conf {
    milter_action on_decline;
    size_t max_size; /* bytes of header and body kept; past it, not scanned */
    int quiet;       /* log only problems, not one line per message */
    rule_pool pool;
    dm_context *ctx; /* me and the history, from --profile; NULL without */
} milter_conf;

extern milter_conf g_conf;

/* The libmilter description: callbacks and flags (filter.c). */
struct smfiDesc;
void filter_describe(struct smfiDesc *desc, milter_action on_decline);
/* Connections open now: shutdown waits for them before freeing g_conf. */
unsigned filter_active(void);

/* mlog() writes one line at `prio` (LOG_ERR, ...) to stderr or syslog. */
void mlog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * fold_header() writes `value` (one line, items separated by ", ") folded
 * for a header named `name`: a line break before the space after a comma
 * wherever the line would pass 78 columns.  The break is "\n" followed by
 * the space, which libmilter wants (no CR: the MTA adds it) and which
 * unfolds back to exactly `value`.  Returns the length written, or what
 * it would need when cap is too small (like snprintf).
 */
size_t fold_header(const char *name, const char *value, char *out, size_t cap);

#endif
