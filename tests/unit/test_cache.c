/*
 * test_cache.c: the compiled-rules cache (src/rules/cache.c) and what
 * start-up rests on: lazy JIT, the prefilter's saved and sparse forms.
 *
 * What must hold (docs/integration.md, "Start-up time"):
 *   - a ruleset read from the cache gives exactly the verdicts, scores,
 *     hits and spans of a fresh load: over texts, over the bundled example
 *     export, and the rules' own tests pass on it;
 *   - any change of what was compiled (a rule or list file, the files a
 *     folder holds, the load paths, the profile ${me.*} reads) is a miss;
 *   - a truncated or corrupted file is ignored (the load compiles) and
 *     never crashes, nor does one whose checksum was made to match;
 *   - the file is written atomically, mode 0600, its folder made 0700;
 *   - out of memory anywhere fails cleanly or falls back.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache.h"
#include "core.h"
#include "rules.h"
#include "testalloc.h"

/* ---- scratch files ------------------------------------------------------------------ */

static char tmpdir[256];

static int group_setup(void **state)
{
    (void)state;
    return scratch_mkdtemp(tmpdir, sizeof tmpdir, "cache");
}

static int group_teardown(void **state)
{
    (void)state;
    return scratch_rmtree(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char bufs[16][512];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static void mkdirs_for(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = dir + strlen(tmpdir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(dir, 0700);
        *s = '/';
    }
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    mkdirs_for(path);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void write_file(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

/* copy_rules() copies a rules folder (its .rules files, and the .list files of lists/) to `to`. */
static void copy_rules(const char *from, const char *to)
{
    const char *sub[] = {"", "/lists"};
    for (int k = 0; k < 2; k++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s%s", from, sub[k]);
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t l = strlen(de->d_name);
            if (de->d_name[0] == '.' || l < 6 ||
                (strcmp(de->d_name + l - 6, ".rules") != 0 &&
                 strcmp(de->d_name + l - 5, ".list") != 0))
                continue;
            char src[1024], dst[1024];
            snprintf(src, sizeof src, "%s/%s", dir, de->d_name);
            snprintf(dst, sizeof dst, "%s%s/%s", to, sub[k], de->d_name);
            size_t n;
            unsigned char *data = read_all(src, &n);
            write_bytes(dst, data, n);
            free(data);
        }
        closedir(d);
    }
}

/* cache_file() is the one cache file in `dir`, or "" when there is none; it
 * also fails the test when a temporary file was left behind. */
static const char *cache_file(const char *dir)
{
    static char path[1024];
    path[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return path;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".rules-", 7) == 0)
            fail_msg("temporary file %s left in the cache folder", de->d_name);
        if (strncmp(de->d_name, "rules-", 6) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            n++;
        }
    }
    closedir(d);
    if (n > 1)
        fail_msg("%d cache files in %s, wanted one", n, dir);
    return path;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "rules-", 6) == 0;
    if (d)
        closedir(d);
    return n;
}

/* ---- loading and running ---------------------------------------------------------- */

static dm_ruleset *load(const char *const *paths, size_t n, const char *cache_dir, int lazy)
{
    dm_rules_opts o = {.cache_dir = cache_dir, .lazy_jit = lazy};
    dm_ruleset *rs = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_load(paths, n, &o, &rs, NULL, &err);
    if (st != DM_OK)
        fail_msg("load: %s: %s", dm_strerror(st), err.text);
    return rs;
}

static dm_ruleset *load1(const char *path, const char *cache_dir, int lazy)
{
    return load(&path, 1, cache_dir, lazy);
}

static dm_context *profile(const char *company)
{
    dm_context *ctx = NULL;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(
        dm_me_set(ctx, "Gideon Marsh", "Plant manager at a valve maker", "Industrial Automation"),
        DM_OK);
    assert_int_equal(dm_me_add_company(ctx, company, 1), DM_OK);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    return ctx;
}

static void bind_ok(dm_ruleset *rs, const dm_context *ctx)
{
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_bind(rs, ctx, &err);
    if (st != DM_OK)
        fail_msg("bind: %s: %s", dm_strerror(st), err.text);
}

/* A long message, dense with what the default rules look for: `cap` bytes. */
static char *long_text_of(size_t cap)
{
    static const char *const words[] = {
        "hi",         "gideon",  "I",        "came",      "across",  "your",      "profile",
        "we",         "help",    "coaches",  "get",       "more",    "qualified", "leads",
        "every",      "month",   "with",     "our",       "proven",  "system",    "quick",
        "call",       "next",    "week",     "to",        "scale",   "business",  "thanks",
        "for",        "the",     "call",     "on",        "tuesday", "at",        "keystone",
        "valve",      "seo",     "websites", "marketing", "startup", "whatsapp",  "crypto",
        "investment", "returns", "dear",     "friend",    ".",       "\n"};
    size_t n = 0;
    char *s = malloc(cap + 64);
    assert_non_null(s);
    uint64_t x = 42;
    while (n < cap) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        const char *w = words[(x >> 33) % (sizeof words / sizeof *words)];
        n += (size_t)sprintf(s + n, "%s ", w);
    }
    s[cap] = '\0';
    return s;
}

/* the 10 KB a mail filter sees */
static char *long_text(void)
{
    return long_text_of(10240);
}

static const char *const texts[] = {
    "Hi Gideon, I help coaches get 10 new clients a month with my proven system. "
    "Open to a quick 15 minute call?",
    "Thanks for the call on Tuesday about the valve retrofit at Keystone Valve & Fitting.",
    "We worked together at Keystone Valve back in 2019, would love to reconnect.",
    "Dear friend, I have an investment opportunity with guaranteed returns, contact me on "
    "WhatsApp",
    "Your website looks outdated. We do SEO and web design for dental practices.",
    "",
    "Ｈｅｌｌｏ {{first_name}}, I saw your profile and ...",
};

/*
 * run_all() explains every text (and the long one) with rs bound to ctx
 * and writes what came out: verdict, score, each hit's name, field, span.
 */
static void run_texts(dm_ruleset *rs, const dm_context *ctx, char *out, size_t cap, int quick)
{
    dm_record *rec = NULL;
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_record_create(&rec), DM_OK);
    char *big = long_text();
    size_t ntexts = sizeof texts / sizeof *texts;
    out[0] = '\0';
    for (size_t i = 0; i <= ntexts - (size_t)quick; i++) {
        const char *t = i < ntexts ? texts[i] : big;
        for (int kind = 0; kind < 3 - 2 * quick; kind++) {
            dm_record_clear(rec);
            dm_record_set_kind(rec, (dm_kind)kind);
            assert_int_equal(dm_record_set(rec, DM_FIELD_MESSAGE, t, strlen(t)), DM_OK);
            assert_int_equal(dm_record_set(rec, DM_FIELD_SUBJECT, "Quick question", 14), DM_OK);
            assert_int_equal(dm_ruleset_explain(rs, rec, ctx, &res, NULL), DM_OK);
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%zu/%d %s %g:", i, kind, dm_verdict_name(res.verdict),
                     res.score);
            for (size_t k = 0; k < res.nhits; k++) {
                l = strlen(out);
                snprintf(out + l, cap - l, " %s[%d %zu %zu]", res.hits[k].name, res.hits[k].field,
                         res.hits[k].start, res.hits[k].end);
            }
            l = strlen(out);
            snprintf(out + l, cap - l, "\n");
        }
    }
    free(big);
    dm_result_free(&res);
    dm_record_free(rec);
}

static void run_all(dm_ruleset *rs, const dm_context *ctx, char *out, size_t cap)
{
    run_texts(rs, ctx, out, cap, 0);
}

#define OUT_MAX 65536
#define DEFAULT_RULES DM_SOURCE_DIR "/rules"

/* ---- the default rules, cached and fresh ------------------------------------------- */

static void test_default_rules_hit(void **state)
{
    (void)state;
    const char *dir = tmp_path("c-default/nested/doorman"); /* made, parents too */
    dm_context *ctx = profile("Keystone Valve & Fitting Co.");
    char *fresh = malloc(OUT_MAX), *got = malloc(OUT_MAX);
    assert_true(fresh && got);

    dm_ruleset *rs = load1(DEFAULT_RULES, NULL, 0);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_OFF);
    bind_ok(rs, ctx);
    run_all(rs, ctx, fresh, OUT_MAX);
    dm_ruleset_free(rs);
    /* the texts do fire rules: a comparison of empty results would prove nothing */
    assert_non_null(strstr(fresh, "decline"));
    assert_non_null(strstr(fresh, "accept"));

    /* a miss compiles, and its bind writes the cache */
    rs = load1(DEFAULT_RULES, dir, 1);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_MISS);
    assert_string_equal(cache_file(dir), "");
    bind_ok(rs, ctx);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_WRITTEN);
    run_all(rs, ctx, got, OUT_MAX);
    assert_string_equal(got, fresh);
    dm_ruleset_free(rs);
    struct stat sb;
    assert_int_equal(stat(cache_file(dir), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    /* hits: lazy JIT, and eager */
    for (int lazy = 1; lazy >= 0; lazy--) {
        rs = load1(DEFAULT_RULES, dir, lazy);
        assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT);
        bind_ok(rs, ctx);
        assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT);
        run_all(rs, ctx, got, OUT_MAX);
        assert_string_equal(got, fresh);
        /* lazy: a text of 64 KB or more makes the patterns it runs JIT-compiled
         * (where PCRE2 has JIT), no shorter one does */
        dm_record *rec = NULL;
        dm_result res;
        dm_result_init(&res);
        assert_int_equal(dm_record_create(&rec), DM_OK);
        char *huge = long_text_of((size_t)80 << 10);
        dm_record_set_kind(rec, DM_KIND_EMAIL);
        assert_int_equal(dm_record_set(rec, DM_FIELD_MESSAGE, huge, strlen(huge)), DM_OK);
        assert_int_equal(dm_ruleset_eval(rs, rec, ctx, &res, NULL), DM_OK);
        free(huge);
        dm_result_free(&res);
        dm_record_free(rec);
        uint32_t jit = 0;
        pcre2_config(PCRE2_CONFIG_JIT, &jit);
        int njit = 0, nre = 0;
        for (size_t i = 0; i < rs->nrules; i++)
            for (size_t k = 0; k < rs->rules[i].nconds; k++)
                if (rs->rules[i].conds[k].re)
                    nre++, njit += rs->rules[i].conds[k].re->jit;
        if (jit && lazy)
            assert_true(njit > 0 && njit < nre);
        else if (jit)
            assert_int_equal(njit, nre);
        dm_ruleset_free(rs);
    }
    free(fresh);
    free(got);
    dm_context_free(ctx);
}

static void test_default_rules_tests(void **state)
{
    (void)state;
    const char *dir = tmp_path("c-tests");
    dm_ruleset *rs = load1(DEFAULT_RULES, NULL, 0);
    size_t passed = 0, failed = 0, cpassed = 0, cfailed = 0;
    assert_int_equal(dm_ruleset_test(rs, NULL, NULL, &passed, &failed, NULL), DM_OK);
    dm_ruleset_free(rs);
    assert_true(passed > 100);
    assert_int_equal(failed, 0);

    dm_context *ctx = profile("Keystone Valve & Fitting Co.");
    rs = load1(DEFAULT_RULES, dir, 1);
    bind_ok(rs, ctx); /* writes */
    dm_ruleset_free(rs);
    rs = load1(DEFAULT_RULES, dir, 1);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT);
    assert_int_equal(dm_ruleset_test(rs, NULL, NULL, &cpassed, &cfailed, NULL), DM_OK);
    assert_int_equal(cpassed, passed);
    assert_int_equal(cfailed, 0);
    /* the tests' own profile was bound meanwhile; the user's binds again */
    char *a = malloc(OUT_MAX), *b = malloc(OUT_MAX);
    assert_true(a && b);
    bind_ok(rs, ctx);
    run_all(rs, ctx, a, OUT_MAX);
    dm_ruleset_free(rs);
    rs = load1(DEFAULT_RULES, NULL, 0);
    bind_ok(rs, ctx);
    run_all(rs, ctx, b, OUT_MAX);
    dm_ruleset_free(rs);
    assert_string_equal(a, b);
    free(a);
    free(b);
    dm_context_free(ctx);
}

/* export_run() triages the bundled example export (messages too) and writes every verdict. */
static void export_run(dm_ruleset *rs, char *out, size_t cap, size_t *nrecords)
{
    dm_context *ctx = NULL;
    dm_source *src = NULL;
    dm_record *rec = NULL;
    dm_result res;
    dm_result_init(&res);
    dm_ingest_opts io;
    memset(&io, 0, sizeof io);
    io.messages = 1;
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_source_open(DM_SOURCE_DIR "/examples/export", &io, ctx, &src, NULL), DM_OK);
    assert_int_equal(dm_context_finish(ctx, NULL), DM_OK);
    bind_ok(rs, ctx);
    assert_int_equal(dm_record_create(&rec), DM_OK);
    out[0] = '\0';
    *nrecords = 0;
    dm_status st;
    while ((st = dm_source_next(src, rec, NULL)) == DM_OK) {
        assert_int_equal(dm_ruleset_explain(rs, rec, ctx, &res, NULL), DM_OK);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s %g:", dm_verdict_name(res.verdict), res.score);
        for (size_t k = 0; k < res.nhits; k++) {
            l = strlen(out);
            snprintf(out + l, cap - l, " %s[%d %zu %zu]", res.hits[k].name, res.hits[k].field,
                     res.hits[k].start, res.hits[k].end);
        }
        l = strlen(out);
        snprintf(out + l, cap - l, "\n");
        (*nrecords)++;
    }
    assert_int_equal(st, DM_END);
    dm_result_free(&res);
    dm_record_free(rec);
    dm_source_free(src);
    dm_context_free(ctx);
}

static void test_example_export(void **state)
{
    (void)state;
    const char *dir = tmp_path("c-export");
    char *fresh = malloc(OUT_MAX), *got = malloc(OUT_MAX);
    size_t n = 0, m = 0;
    assert_true(fresh && got);
    dm_ruleset *rs = load1(DEFAULT_RULES, NULL, 0);
    export_run(rs, fresh, OUT_MAX, &n);
    dm_ruleset_free(rs);
    assert_true(n >= 41);
    rs = load1(DEFAULT_RULES, dir, 1);
    export_run(rs, got, OUT_MAX, &m); /* the export's profile: written with it */
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_WRITTEN);
    dm_ruleset_free(rs);
    assert_string_equal(got, fresh);
    rs = load1(DEFAULT_RULES, dir, 1);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT);
    export_run(rs, got, OUT_MAX, &m);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT); /* the same profile */
    dm_ruleset_free(rs);
    assert_int_equal(m, n);
    assert_string_equal(got, fresh);
    free(fresh);
    free(got);
}

/* ---- what makes a miss -------------------------------------------------------------- */

static const char *const MINE_RULES =
    "list mine \"lists/mine.list\"\n"
    "rule MINE {\n    describe \"from my list\"\n    score 3\n"
    "    when message =~ /\\b${mine}\\b/\n    test hit \"a widget here\"\n}\n"
    "rule MY_COMPANY {\n    describe \"names my company\"\n    score -4\n"
    "    when message =~ /${me.companies}/\n    test miss \"nothing\"\n}\n";

/* fired() loads `paths` through the cache in `dir`, binds to ctx and
 * returns the status and the rules one text fires ("NAME NAME"). */
static const char *fired(const char *const *paths, size_t n, const char *dir, const dm_context *ctx,
                         const char *text, dm_cache_status *status)
{
    static char buf[1024];
    dm_ruleset *rs = load(paths, n, dir, 1);
    bind_ok(rs, ctx);
    *status = dm_ruleset_cache_status(rs);
    dm_record *rec = NULL;
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_record_create(&rec), DM_OK);
    dm_record_set_kind(rec, DM_KIND_INVITATION);
    assert_int_equal(dm_record_set(rec, DM_FIELD_MESSAGE, text, strlen(text)), DM_OK);
    assert_int_equal(dm_ruleset_eval(rs, rec, ctx, &res, NULL), DM_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < res.nhits; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "",
                 res.hits[i].name);
    dm_result_free(&res);
    dm_record_free(rec);
    dm_ruleset_free(rs);
    return buf;
}

#define assert_fired(paths, n, dir, ctx, text, want, want_status)                                  \
    do {                                                                                           \
        dm_cache_status st_;                                                                       \
        assert_string_equal(fired(paths, n, dir, ctx, text, &st_), want);                          \
        assert_int_equal(st_, want_status);                                                        \
    } while (0)

static void test_invalidation(void **state)
{
    (void)state;
    const char *rules = tmp_path("r-inval");
    const char *dir = tmp_path("c-inval");
    char path[600], list[600], extra[600];
    snprintf(path, sizeof path, "%s/50-settings.rules", rules);
    write_file(path, "set decline_at 6\n"); /* a second file before the one that changes */
    snprintf(path, sizeof path, "%s/zz-mine.rules", rules);
    snprintf(list, sizeof list, "%s/lists/mine.list", rules);
    snprintf(extra, sizeof extra, "%s/zz-extra.rules", rules);
    write_file(path, MINE_RULES);
    write_file(list, "widget\n");
    dm_context *acme = profile("Acme Gears Inc."), *globex = profile("Globex");
    const char *text = "a widget and a gadget from Acme Gears";
    const char *paths[] = {rules};

    assert_fired(paths, 1, dir, acme, text, "MINE MY_COMPANY", DM_CACHE_WRITTEN);
    assert_fired(paths, 1, dir, acme, text, "MINE MY_COMPANY", DM_CACHE_HIT);
    /* the same bytes written again: still the same content */
    write_file(list, "widget\n");
    assert_fired(paths, 1, dir, acme, text, "MINE MY_COMPANY", DM_CACHE_HIT);
    /* a list file changes */
    write_file(list, "gadget\n");
    assert_fired(paths, 1, dir, acme, "a widget", "", DM_CACHE_WRITTEN);
    assert_fired(paths, 1, dir, acme, "a gadget", "MINE", DM_CACHE_HIT);
    /* a rule file changes (a score, so no rule name shows it: the verdict does) */
    dm_ruleset *rs = load1(rules, dir, 1);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT);
    dm_ruleset_free(rs);
    char *text2 = strdup(MINE_RULES);
    assert_non_null(text2);
    char *score = strstr(text2, "score 3");
    score[6] = '7';
    write_file(path, text2);
    free(text2);
    rs = load1(rules, dir, 1);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_MISS);
    bind_ok(rs, acme);
    dm_record *rec = NULL;
    dm_result res;
    dm_result_init(&res);
    assert_int_equal(dm_record_create(&rec), DM_OK);
    dm_record_set_kind(rec, DM_KIND_INVITATION);
    assert_int_equal(dm_record_set(rec, DM_FIELD_MESSAGE, "a gadget", 8), DM_OK);
    assert_int_equal(dm_ruleset_eval(rs, rec, acme, &res, NULL), DM_OK);
    assert_true(res.score == 7);
    dm_ruleset_free(rs);
    rs = load1(rules, dir, 1);
    assert_int_equal(dm_ruleset_cache_status(rs), DM_CACHE_HIT);
    assert_int_equal(dm_ruleset_eval(rs, rec, acme, &res, NULL), DM_OK);
    assert_true(res.score == 7);
    dm_ruleset_free(rs);
    dm_result_free(&res);
    dm_record_free(rec);
    /* a rule file appears in the folder, then goes */
    write_file(extra, "rule EXTRA {\n    describe \"x\"\n    score 1\n"
                      "    when message =~ /gadget/\n    test hit \"gadget\"\n}\n");
    assert_fired(paths, 1, dir, acme, "a gadget", "EXTRA MINE", DM_CACHE_WRITTEN);
    assert_fired(paths, 1, dir, acme, "a gadget", "EXTRA MINE", DM_CACHE_HIT);
    assert_int_equal(unlink(extra), 0);
    assert_fired(paths, 1, dir, acme, "a gadget", "MINE", DM_CACHE_WRITTEN);
    /* the profile: another company, the bind compiles and rewrites */
    assert_fired(paths, 1, dir, globex, "hello from Globex", "MY_COMPANY", DM_CACHE_WRITTEN);
    assert_fired(paths, 1, dir, globex, "hello from Globex", "MY_COMPANY", DM_CACHE_HIT);
    assert_fired(paths, 1, dir, acme, "hello from Globex", "", DM_CACHE_WRITTEN);
    assert_fired(paths, 1, dir, acme, "Acme Gears", "MY_COMPANY", DM_CACHE_HIT);
    /* other load paths: a file of their own */
    assert_int_equal(count_files(dir), 1);
    dm_rules_opts o = {.cache_dir = dir};
    const char *bad[] = {rules, path};
    rs = NULL;
    size_t nerr = 0;
    /* zz-mine.rules twice: duplicates, an error; errors are never cached */
    assert_int_equal(dm_ruleset_load(bad, 2, &o, &rs, &nerr, NULL), DM_ESYNTAX);
    assert_true(nerr > 0);
    assert_int_equal(count_files(dir), 1);
    char other[600];
    snprintf(other, sizeof other, "%s/other.rules", tmp_path("r-other"));
    write_file(other, "rule OTHER {\n    describe \"o\"\n    score 2\n"
                      "    when message =~ /gizmo/\n    test hit \"gizmo\"\n}\n");
    const char *more[] = {rules, other};
    assert_fired(more, 2, dir, acme, "a gizmo", "OTHER", DM_CACHE_WRITTEN);
    assert_int_equal(count_files(dir), 2);
    assert_fired(more, 2, dir, acme, "a gizmo", "OTHER", DM_CACHE_HIT);
    assert_fired(paths, 1, dir, acme, "a gizmo", "", DM_CACHE_HIT);
    /* the same rules in another folder: the file names differ (explain and
     * the tests' messages show them), so a file of their own */
    const char *copy = tmp_path("r-copy");
    copy_rules(rules, copy);
    const char *copies[] = {copy};
    assert_fired(copies, 1, dir, acme, "a gadget", "MINE", DM_CACHE_WRITTEN);
    assert_int_equal(count_files(dir), 3);
    assert_fired(copies, 1, dir, acme, "a gadget", "MINE", DM_CACHE_HIT);
    dm_context_free(acme);
    dm_context_free(globex);
}

/* An unusable cache folder changes nothing but the status. */
static void test_unwritable(void **state)
{
    (void)state;
    const char *notdir = tmp_path("c-file");
    write_file(notdir, "a file, not a folder\n");
    const char *rules = tmp_path("r-small/small.rules");
    write_file(rules, MINE_RULES);
    write_file(tmp_path("r-small/lists/mine.list"), "widget\n");
    dm_context *ctx = profile("Acme");
    dm_cache_status st;
    assert_string_equal(fired(&rules, 1, notdir, ctx, "widget at Acme", &st), "MINE MY_COMPANY");
    assert_int_equal(st, DM_CACHE_FAILED);
    char under[600];
    snprintf(under, sizeof under, "%s/sub", notdir);
    assert_string_equal(fired(&rules, 1, under, ctx, "widget at Acme", &st), "MINE MY_COMPANY");
    assert_int_equal(st, DM_CACHE_FAILED);
    dm_context_free(ctx);
}

/* ---- damaged files ------------------------------------------------------------------ */

static const char *const SMALL_RULES =
    "set decline_at 4\n"
    "list biz { \"dental practice\", \"law firm\", \"bakery\" }\n"
    "list more \"lists/words.list\"\n"
    "rule PITCH {\n    describe \"p\"\n    score 2\n    tags pitch, sales\n"
    "    when message =~ /your ${biz - me}|lead gen|\\bseo\\b/\n    test hit \"lead gen\"\n}\n"
    "rule MORE {\n    describe \"m\"\n    score 1\n    when any =~ /${more}/\n    test miss "
    "\"x\"\n}\n"
    "rule CO {\n    describe \"c\"\n    score -3\n    when message =~ "
    "/${me.companies}|${me.name}/\n    test miss \"x\"\n}\n"
    "rule h1 {\n    helper\n    when kind is invitation\n    when mutual < 3\n}\n"
    "rule h2 {\n    helper\n    when subject =~ /Offer/r\n}\n"
    "rule META {\n    describe \"x\"\n    score 1.5\n    meta atleast 1 of (h1, h2) and not CO\n"
    "    test miss \"x\"\n}\n"
    "rule AGAIN {\n    describe \"a\"\n    score 2\n    when history.pitched\n    test miss "
    "\"x\"\n    test hit with history.text = \"we do lead gen\", history.outgoing = 1, "
    "connected,\n        mutual = 3, no_sender_url, html \"x\"\n}\n"
    "rule OFF {\n    describe \"o\"\n    score 9\n    when message is not empty\n    test miss "
    "\"\"\n}\n"
    "disable OFF\n"
    "score MORE 0.5\n";

static const char *small_rules(void)
{
    const char *path = tmp_path("r-fuzz/small.rules");
    write_file(path, SMALL_RULES);
    write_file(tmp_path("r-fuzz/lists/words.list"), "dental practice\nlaw firm\nwidget\n");
    return path;
}

/* small_run() loads through dir, binds, runs the texts; the status of the load in *status. */
static void small_run(const char *path, const char *dir, const dm_context *ctx, char *out,
                      size_t cap, dm_cache_status *status)
{
    dm_ruleset *rs = load1(path, dir, 1);
    *status = dm_ruleset_cache_status(rs);
    bind_ok(rs, ctx);
    run_texts(rs, ctx, out, cap, 1);
    dm_ruleset_free(rs);
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t z = (rnd_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* codes_at() finds the PCRE2 codes in a cache file: [*from, *to). */
static void codes_at(const unsigned char *buf, size_t n, size_t *from, size_t *to)
{
    /* pcre2_serialize_encode() starts with its magic, "PR2S" as a number */
    uint32_t magic = 0x50523253u;
    for (size_t i = CACHE_HEADER + 8; i + 4 <= n; i += 8) {
        uint32_t v;
        memcpy(&v, buf + i, 4);
        uint64_t size;
        memcpy(&size, buf + i - 8, 8);
        if (v == magic && size <= n - i) {
            *from = i;
            *to = i + size;
            return;
        }
    }
    fail_msg("no PCRE2 codes in the cache file");
}

static void reseal(unsigned char *buf, size_t n)
{
    uint64_t key;
    memcpy(&key, buf + CACHE_AT_KEY, 8);
    uint64_t sum = dm_hash64(buf + CACHE_HEADER, n - CACHE_HEADER, key);
    memcpy(buf + CACHE_AT_SUM, &sum, 8);
}

static void test_damaged_files(void **state)
{
    (void)state;
    const char *path = small_rules();
    const char *dir = tmp_path("c-fuzz");
    dm_context *ctx = profile("Keystone Valve & Fitting Co.");
    char *fresh = malloc(OUT_MAX), *got = malloc(OUT_MAX);
    assert_true(fresh && got);
    dm_cache_status st;
    small_run(path, NULL, ctx, fresh, OUT_MAX, &st);
    small_run(path, dir, ctx, got, OUT_MAX, &st);
    assert_int_equal(st, DM_CACHE_MISS);
    assert_string_equal(got, fresh);
    size_t n;
    unsigned char *good = read_all(cache_file(dir), &n);
    char file[1024];
    snprintf(file, sizeof file, "%s", cache_file(dir));
    small_run(path, dir, ctx, got, OUT_MAX, &st);
    assert_int_equal(st, DM_CACHE_HIT);
    assert_string_equal(got, fresh);
    unsigned char *bad = malloc(n);
    assert_non_null(bad);

    /* every truncation: a miss, the same verdicts, and the bind writes it back */
    size_t step = n > 4096 ? n / 2048 : 1;
    for (size_t len = 0; len < n; len += (len < 256 ? 1 : step)) {
        write_bytes(file, good, len);
        small_run(path, dir, ctx, got, OUT_MAX, &st);
        if (st != DM_CACHE_MISS)
            fail_msg("truncated to %zu of %zu bytes: status %d", len, n, st);
        assert_string_equal(got, fresh);
    }
    /* bytes changed anywhere: the checksum (or the header) says so */
    for (int i = 0; i < 400; i++) {
        memcpy(bad, good, n);
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++)
            bad[rnd() % n] ^= (unsigned char)(1 + rnd() % 255);
        if (memcmp(bad, good, n) == 0)
            continue;
        write_bytes(file, bad, n);
        small_run(path, dir, ctx, got, OUT_MAX, &st);
        if (st != DM_CACHE_MISS)
            fail_msg("mutation %d: status %d", i, st);
        assert_string_equal(got, fresh);
    }
    /* and with the checksum made to match (a file this code did not write):
     * outside the PCRE2 codes, which only the checksum vouches for, any
     * value must be refused or be harmless: no crash, under the sanitizers */
    size_t cfrom = 0, cto = 0; /* set by codes_at; -O2 cannot see it */
    codes_at(good, n, &cfrom, &cto);
    int hits = 0;
    /* DM_FUZZ_ROUNDS and DM_FUZZ_SEED run more, or others, by hand */
    int rounds = getenv("DM_FUZZ_ROUNDS") ? atoi(getenv("DM_FUZZ_ROUNDS")) : 1500;
    if (getenv("DM_FUZZ_SEED"))
        rnd_state = strtoull(getenv("DM_FUZZ_SEED"), NULL, 0);
    for (int i = 0; i < rounds; i++) {
        memcpy(bad, good, n);
        int flips = 1 + (int)(rnd() % 3);
        for (int k = 0; k < flips; k++) {
            size_t at;
            do
                at = CACHE_HEADER + rnd() % (n - CACHE_HEADER);
            while (at >= cfrom - 8 && at < cto);
            switch (rnd() % 4) {
            case 0: bad[at] ^= (unsigned char)(1u << (rnd() % 8)); break;
            case 1: bad[at] = 0xFF; break;
            case 2: bad[at] = 0; break;
            default: bad[at] = (unsigned char)rnd(); break;
            }
        }
        reseal(bad, n);
        write_bytes(file, bad, n);
        dm_ruleset *rs = load1(path, dir, 1);
        hits += dm_ruleset_cache_status(rs) == DM_CACHE_HIT;
        dm_error err;
        if (dm_ruleset_bind(rs, ctx, &err) == DM_OK) {
            run_texts(rs, ctx, got, OUT_MAX, i % 10 != 0);
            size_t passed, failed;
            (void)dm_ruleset_test(rs, NULL, NULL, &passed, &failed, NULL);
        }
        dm_ruleset_free(rs);
    }
    /* some changes are harmless (a position, a describe text): read as they are */
    assert_true(hits > 0);
    free(bad);
    free(good);
    free(fresh);
    free(got);
    dm_context_free(ctx);
}

/* A file with the right name from another program, or another format: refused. */
static void test_foreign_files(void **state)
{
    (void)state;
    const char *path = small_rules();
    const char *dir = tmp_path("c-foreign");
    dm_context *ctx = profile("Acme");
    char *fresh = malloc(OUT_MAX), *got = malloc(OUT_MAX);
    assert_true(fresh && got);
    dm_cache_status st;
    small_run(path, NULL, ctx, fresh, OUT_MAX, &st);
    small_run(path, dir, ctx, got, OUT_MAX, &st);
    char file[1024];
    snprintf(file, sizeof file, "%s", cache_file(dir));
    size_t n;
    unsigned char *good = read_all(file, &n);
    size_t at[] = {0, 8, 12, CACHE_AT_KEY, CACHE_AT_LEN};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        unsigned char *bad = malloc(n);
        assert_non_null(bad);
        memcpy(bad, good, n);
        bad[at[i]] ^= 1;
        reseal(bad, n);
        write_bytes(file, bad, n);
        small_run(path, dir, ctx, got, OUT_MAX, &st);
        assert_int_equal(st, DM_CACHE_MISS);
        assert_string_equal(got, fresh);
        free(bad);
    }
    /* a folder where the file should be; then an empty file */
    unlink(file);
    mkdir(file, 0700);
    small_run(path, dir, ctx, got, OUT_MAX, &st);
    assert_int_equal(st, DM_CACHE_MISS);
    assert_string_equal(got, fresh);
    rmdir(file);
    write_bytes(file, "", 0);
    small_run(path, dir, ctx, got, OUT_MAX, &st);
    assert_int_equal(st, DM_CACHE_MISS);
    free(good);
    free(fresh);
    free(got);
    dm_context_free(ctx);
}

/* ---- out of memory ------------------------------------------------------------------ */

static dm_status chaos_run(const char *path, const char *dir, char *out, size_t cap)
{
    dm_ruleset *rs = NULL;
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    dm_result res;
    dm_result_init(&res);
    dm_rules_opts o = {.cache_dir = dir, .lazy_jit = 1};
    out[0] = '\0';
    dm_status st = dm_ruleset_load(&path, 1, &o, &rs, NULL, NULL);
    if (st == DM_OK)
        st = dm_context_create(&ctx);
    if (st == DM_OK)
        st = dm_me_set(ctx, "Dana Whitfield", "Dental practice consultant", NULL);
    if (st == DM_OK)
        st = dm_me_add_company(ctx, "Keystone Valve & Fitting Co.", 1);
    if (st == DM_OK)
        st = dm_ruleset_bind(rs, ctx, NULL);
    if (st == DM_OK)
        st = dm_record_create(&rec);
    static const char *const some[] = {"Grow your law firm with lead gen", "keystone valve"};
    for (size_t i = 0; st == DM_OK && i < 2; i++) {
        dm_record_clear(rec);
        dm_record_set_kind(rec, DM_KIND_INVITATION);
        st = dm_record_set(rec, DM_FIELD_MESSAGE, some[i], strlen(some[i]));
        if (st == DM_OK)
            st = dm_ruleset_explain(rs, rec, ctx, &res, NULL);
        if (st == DM_OK) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%g:", res.score);
            for (size_t k = 0; k < res.nhits; k++) {
                l = strlen(out);
                snprintf(out + l, cap - l, " %s[%zu %zu]", res.hits[k].name, res.hits[k].start,
                         res.hits[k].end);
            }
        }
    }
    dm_result_free(&res);
    dm_record_free(rec);
    dm_context_free(ctx);
    dm_ruleset_free(rs);
    return st;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *path = small_rules();
    /* a warm cache (the hit path), then none (the miss and write path) */
    for (int warm = 1; warm >= 0; warm--) {
        const char *dir = tmp_path(warm ? "c-chaos-warm" : "c-chaos-cold");
        char want[2048], got[2048];
        assert_int_equal(chaos_run(path, warm ? dir : NULL, want, sizeof want), DM_OK);
        if (warm) {
            assert_int_equal(chaos_run(path, dir, got, sizeof got), DM_OK);
            assert_string_equal(got, want);
            assert_true(cache_file(dir)[0] != '\0');
        }
        size_t nomem = 0;
        for (long n = 0;; n++) {
            if (!warm)
                scratch_rmtree(dir);
            mem_now = 0;
            injected = 0;
            fail_countdown = n;
            dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
            dm_status st = chaos_run(path, dir, got, sizeof got);
            dm_set_alloc_funcs(NULL, NULL, NULL);
            fail_countdown = -1;
            if (mem_now != 0)
                fail_msg("failing allocation %ld (%s): leaks %zu bytes", n, warm ? "warm" : "cold",
                         mem_now);
            if (st == DM_ENOMEM)
                nomem++;
            else if (st != DM_OK || strcmp(got, want) != 0)
                fail_msg("failing allocation %ld (%s): %s, \"%s\" (wanted \"%s\")", n,
                         warm ? "warm" : "cold", dm_strerror(st), got, want);
            if (!injected)
                break;
        }
        assert_true(nomem > 10);
    }
}

/* ---- the prefilter's cached form ----------------------------------------------------- */

static void scan_both(const dm_prefilter *a, const dm_prefilter *b, const char *text, size_t len,
                      unsigned nids)
{
    uint64_t ha[8] = {0}, hb[8] = {0};
    dm_pf_span sa[512], sb[512];
    memset(sa, 0, sizeof sa);
    memset(sb, 0, sizeof sb);
    dm_prefilter_scan_at(a, text, len, ha, sa);
    dm_prefilter_scan_at(b, text, len, hb, sb);
    assert_memory_equal(ha, hb, sizeof ha);
    for (unsigned i = 0; i < nids; i++)
        if (ha[i / 64] >> (i % 64) & 1) {
            assert_int_equal(sa[i].first_end, sb[i].first_end);
            assert_int_equal(sa[i].last_end, sb[i].last_end);
        }
}

static void test_prefilter_roundtrip(void **state)
{
    (void)state;
    const char alpha[] = "abcde fg";
    for (int round = 0; round < 60; round++) {
        dm_prefilter *pf = NULL;
        assert_int_equal(dm_prefilter_create(&pf), DM_OK);
        unsigned nids = 1 + (unsigned)(rnd() % 300);
        size_t nlits = 1 + rnd() % 400;
        for (size_t i = 0; i < nlits; i++) {
            char lit[16];
            size_t len = round % 7 == 0 ? rnd() % 4 : 1 + rnd() % 8; /* empty ones too */
            for (size_t k = 0; k < len; k++)
                lit[k] = round % 5 == 0 ? (char)(rnd() % 256) : alpha[rnd() % 8];
            assert_int_equal(dm_prefilter_add(pf, lit, len, (unsigned)(rnd() % nids)), DM_OK);
        }
        assert_int_equal(dm_prefilter_build(pf), DM_OK);
        dm_buf b;
        dm_buf_init(&b, 1u << 30);
        assert_int_equal(dm_prefilter_save(pf, &b), DM_OK);
        crd r = {(const unsigned char *)b.data, (const unsigned char *)b.data + b.len, 0};
        dm_prefilter *back = NULL;
        assert_int_equal(dm_prefilter_restore(&r, nids, round % 2, &back), DM_OK);
        assert_ptr_equal(r.p, r.end);
        /* ids at or past nids are refused */
        crd r2 = {(const unsigned char *)b.data, (const unsigned char *)b.data + b.len, 0};
        dm_prefilter *no = NULL;
        assert_int_equal(dm_prefilter_restore(&r2, 0, round % 2, &no), DM_EFORMAT);
        char text[3000];
        for (int t = 0; t < 20; t++) {
            size_t len = rnd() % sizeof text;
            for (size_t k = 0; k < len; k++)
                text[k] = round % 5 == 0 ? (char)(rnd() % 256) : alpha[rnd() % 8];
            scan_both(pf, back, text, len, nids); /* sparse */
            if (t == 10)
                assert_int_equal(dm_prefilter_densify(back), DM_OK);
        }
        /* saved again from its own form: the same bytes */
        dm_buf b2;
        dm_buf_init(&b2, 1u << 30);
        assert_int_equal(dm_prefilter_save(back, &b2), DM_OK);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.data, b.data, b.len);
        /* damaged: refused, or a valid automaton that scans without harm */
        for (int m = 0; m < 40; m++) {
            unsigned char *bad = malloc(b.len);
            assert_non_null(bad);
            memcpy(bad, b.data, b.len);
            bad[rnd() % b.len] ^= (unsigned char)(1 + rnd() % 255);
            size_t cut = m % 5 == 0 ? rnd() % b.len : b.len;
            crd r3 = {bad, bad + cut, 0};
            dm_prefilter *x = NULL;
            if (dm_prefilter_restore(&r3, nids, m % 2, &x) == DM_OK) {
                uint64_t h[8] = {0};
                dm_pf_span sp[512];
                dm_prefilter_scan_at(x, text, sizeof text / 2, h, sp);
                assert_int_equal(dm_prefilter_densify(x), DM_OK);
                dm_prefilter_scan_at(x, text, sizeof text / 2, h, sp);
                dm_prefilter_free(x);
            }
            free(bad);
        }
        dm_buf_free(&b);
        dm_buf_free(&b2);
        dm_prefilter_free(pf);
        dm_prefilter_free(back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_rules_hit),   cmocka_unit_test(test_default_rules_tests),
        cmocka_unit_test(test_example_export),      cmocka_unit_test(test_invalidation),
        cmocka_unit_test(test_unwritable),          cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_foreign_files),       cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_prefilter_roundtrip),
    };
    if (getenv("TEST_FILTER")) /* one test: TEST_FILTER=test_invalidation */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
