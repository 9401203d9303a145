/*
 * rcompile.h: what the parser calls to build a ruleset, and what the
 * compiler, the matcher and the tests share.
 */
#ifndef DM_RCOMPILE_H
#define DM_RCOMPILE_H

#include "rules.h"

typedef struct override {
    char *name;
    int disable;
    double score;
    srcpos pos;
} override;

typedef struct rules_build {
    dm_ruleset *rs;
    dm_diag_fn diag;
    void *ud;
    size_t errors, warnings;
    int oom;
    override *ovr;
    size_t novr;
    srcpos thr_pos; /* the last 'set': where thresholds that cross are reported */
    /* records what each file held (cache.h), or NULL */
    struct rules_cache *cache;
} rules_build;

void rules_diag(rules_build *b, dm_severity sev, srcpos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rules_oom(rules_build *b);
int rules_out_of_memory(const rules_build *b);

/* rules_regex_new() checks the flags of a REGEX token and copies it. */
regex *rules_regex_new(rules_build *b, const token *t, const char *file);
void rules_regex_free(regex *re);
void rules_expr_free(expr *e);
/* rules_with_free() frees what a test's 'with' holds (not `w` itself). */
void rules_with_free(rtest_with *w);

rule *rules_add_rule(rules_build *b, const char *name, srcpos pos);
rlist *rules_add_list(rules_build *b, const char *name, srcpos pos);
void rules_list_add(rules_build *b, rlist *l, const char *entry, srcpos pos);
void rules_add_list_file(rules_build *b, const char *name, srcpos pos, const char *dir,
                         const char *path, srcpos path_pos);
void rules_set_threshold(rules_build *b, int decline, double v, srcpos pos);
void rules_add_override(rules_build *b, const char *name, int disable, double score,
                        srcpos pos);

/* rules_parse() parses one file's text; `dir` is its folder, for list files. */
void rules_parse(rules_build *b, const char *file, const char *dir, const char *src,
                 size_t len);

const char *rules_fact_name(int id);

/*
 * rules_compile_regex() expands ${lists} in `re` (with `ctx` for ${me.*};
 * NULL compiles a stand-in that never matches) and compiles it.  Errors
 * go to `b` when it is not NULL.  Returns 0 on success.
 */
int rules_compile_regex(rules_build *b, dm_ruleset *rs, regex *re, const dm_context *ctx);

/*
 * rules_path_files() lists the rule files a load path stands for, as the
 * load reads them: the path itself, or a folder's *.rules in name order.
 * Returns 0 with *out (free each and the array), or -1 (errno says why).
 */
int rules_path_files(const char *path, char ***out, size_t *n);

/*
 * rules_bind() is dm_ruleset_bind() without the cache: ${me.*} patterns
 * compiled with ctx, the prefilter built, the plan made.  rules_bind_finish()
 * is its last step alone, for a ruleset whose patterns and prefilter are
 * ready (read from the cache).
 */
dm_status rules_bind(dm_ruleset *rs, const dm_context *ctx, dm_error *err);
dm_status rules_bind_finish(dm_ruleset *rs);
/* rules_collect_regex() lists every pattern of rs, in rule and condition order. */
void rules_collect_regex(dm_ruleset *rs, regex ***all, size_t *n);

#endif
