/*
 * pool.c: the rulesets the milter's worker threads borrow (milter.h).
 *
 * Why a pool and not one ruleset per thread (a pthread key): libmilter's
 * worker pool hands each command of a connection to any free thread and
 * starts and stops threads as the load changes, so a per-thread ruleset
 * would be loaded (about 30 ms for the default rules) again and again and
 * freed by a key destructor at unpredictable times.  Why not a single
 * ruleset behind a mutex: that is the pool with n == 1 (--rulesets 1),
 * and the figures in docs/doorman-milter.8 compare the two.
 */
#include "cli.h"
#include "milter.h"

#include <stdlib.h>
#include <string.h>

int pool_init(rule_pool *p, size_t n, const char *const *rules, size_t nrules, int defaults,
              const dm_context *ctx)
{
    memset(p, 0, sizeof *p);
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return EXIT_INTERNAL;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return EXIT_INTERNAL;
    }
    p->all = calloc(n, sizeof *p->all);
    p->idle = calloc(n, sizeof *p->idle);
    if (!p->all || !p->idle) {
        pool_free(p);
        return EXIT_INTERNAL;
    }
    /* Every ruleset is loaded from the files at start-up, so all of them
     * are the same rules: none is loaded later from files edited since. */
    for (size_t i = 0; i < n; i++) {
        dm_ruleset *rs = NULL;
        int rc = cli_load_rules(rules, nrules, defaults, 0, &rs);
        if (rc != EXIT_RAN) {
            pool_free(p);
            return rc;
        }
        p->all[p->n++] = rs;
        dm_error err;
        memset(&err, 0, sizeof err);
        if (dm_ruleset_bind(rs, ctx, &err) != DM_OK) {
            error_fill(&err, err.code ? err.code : DM_ENOMEM, "");
            cli_error(&err, "error");
            pool_free(p);
            return EXIT_RULES;
        }
        p->idle[p->nidle++] = rs;
    }
    return EXIT_RAN;
}

dm_ruleset *pool_take(rule_pool *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->nidle == 0)
        p->waits++;
    while (p->nidle == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    dm_ruleset *rs = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    return rs;
}

void pool_give(rule_pool *p, dm_ruleset *rs)
{
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = rs;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pool_free(rule_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        dm_ruleset_free(p->all[i]);
    free(p->all);
    free(p->idle);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    memset(p, 0, sizeof *p);
}
