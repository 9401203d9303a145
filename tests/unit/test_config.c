/*
 * test_config.c: the config file of mail mode and the milter
 * (src/ingest/config.c): what each line sets, where the file is looked for,
 * every error with its line and column, the profile paths, applying it
 * to a context (an export as profile, inline lines winning), and every
 * allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "testalloc.h"

#define EXPORT DM_SOURCE_DIR "/examples/export"

static char dir[256]; /* a scratch folder per test */

static int setup(void **state)
{
    (void)state;
    return scratch_setup(dir, sizeof dir, "config");
}

static int teardown(void **state)
{
    (void)state;
    return scratch_teardown(dir); /* fails on a leak */
}

/* write_file() writes n bytes to DIR/name and returns its path (static). */
static const char *write_file(const char *name, const char *text, size_t n)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    fclose(fp);
    return path;
}

static const char *write_config(const char *text)
{
    return write_file("config", text, strlen(text));
}

/* assert_config_error() loads `text` and checks every field of the error. */
static void assert_config_error(const char *text, size_t n, dm_status code, int line, int col,
                                const char *msg)
{
    const char *path = write_file("config", text, n);
    dm_config *cfg = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_load(path, &cfg, &err), code);
    assert_null(cfg);
    assert_int_equal(err.code, code);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, col);
    assert_string_equal(err.source, path);
    assert_string_equal(err.text, msg);
}

/* apply() loads `text` and applies it to a new context, which it returns. */
static dm_context *apply(const char *text)
{
    dm_config *cfg = NULL;
    dm_context *ctx = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_load(write_config(text), &cfg, &err), DM_OK);
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    assert_int_equal(dm_config_apply(cfg, NULL, ctx, &err), DM_OK);
    assert_int_equal(err.code, DM_OK);
    dm_config_free(cfg);
    return ctx;
}

static void assert_company(const dm_context *ctx, size_t i, const char *name, int current)
{
    int cur = -1;
    assert_string_equal(dm_me_company(ctx, i, &cur), name);
    assert_int_equal(cur, current);
}

/* ---- what the lines set ------------------------------------------------------------- */

static void test_inline_me(void **state)
{
    (void)state;
    dm_context *ctx = apply("\xef\xbb\xbf# the user\r\n"
                            "\r\n"
                            "  name   =  Gideon Marsh  \r\n"
                            "headline = Consultant | Ask me about #leadership = change\r\n"
                            "\tindustry=Business Consulting and Services\n"
                            "company = Ironwood Leadership Partners\n"
                            "past-company = Keystone Valve & Fitting Co.\n"
                            "   # indented comment = not a key\n"
                            "name = Gideon R. Marsh\n"
                            "company = Ridgeline Staffing Solutions"); /* no final newline */
    assert_string_equal(dm_me_name(ctx), "Gideon R. Marsh");           /* the later line wins */
    assert_string_equal(dm_me_headline(ctx), "Consultant | Ask me about #leadership = change");
    assert_string_equal(dm_me_industry(ctx), "Business Consulting and Services");
    assert_int_equal(dm_me_company_count(ctx), 3);
    assert_company(ctx, 0, "Ironwood Leadership Partners", 1);
    assert_company(ctx, 1, "Keystone Valve & Fitting Co.", 0);
    assert_company(ctx, 2, "Ridgeline Staffing Solutions", 1);
    dm_context_free(ctx);
}

static void test_empty_file(void **state)
{
    (void)state;
    dm_context *ctx = apply("");
    assert_null(dm_me_name(ctx));
    assert_null(dm_me_headline(ctx));
    assert_int_equal(dm_me_company_count(ctx), 0);
    dm_context_free(ctx);
}

static void test_profile_paths(void **state)
{
    (void)state;
    assert_int_equal(setenv("HOME", "/home/gideon", 1), 0);
    dm_config *cfg = NULL;
    const char *path = write_config("profile = export.zip\n"
                                    "profile = sub/Profile.csv\n"
                                    "profile = /srv/exports/current\n"
                                    "profile = ~/Downloads/export.zip\n"
                                    "profile = ~\n");
    assert_int_equal(dm_config_load(path, &cfg, NULL), DM_OK);
    assert_int_equal(dm_config_profile_count(cfg), 5);
    char want[600];
    snprintf(want, sizeof want, "%s/export.zip", dir);
    assert_string_equal(dm_config_profile(cfg, 0), want); /* beside the config file */
    snprintf(want, sizeof want, "%s/sub/Profile.csv", dir);
    assert_string_equal(dm_config_profile(cfg, 1), want);
    assert_string_equal(dm_config_profile(cfg, 2), "/srv/exports/current");
    assert_string_equal(dm_config_profile(cfg, 3), "/home/gideon/Downloads/export.zip");
    assert_string_equal(dm_config_profile(cfg, 4), "/home/gideon");
    assert_null(dm_config_profile(cfg, 5));

    /* --profile: replaces them all, as given */
    const char *two[] = {"a/Profile.csv", "a/Positions.csv"};
    assert_int_equal(dm_config_set_profiles(cfg, two, 2), DM_OK);
    assert_int_equal(dm_config_profile_count(cfg), 2);
    assert_string_equal(dm_config_profile(cfg, 0), "a/Profile.csv");
    assert_string_equal(dm_config_profile(cfg, 1), "a/Positions.csv");
    assert_int_equal(dm_config_set_profile(cfg, "export"), DM_OK);
    assert_int_equal(dm_config_profile_count(cfg), 1);
    assert_string_equal(dm_config_profile(cfg, 0), "export");
    assert_int_equal(dm_config_set_profile(cfg, NULL), DM_OK);
    assert_int_equal(dm_config_profile_count(cfg), 0);
    dm_config_free(cfg);

    /* a file named without a folder: relative to the current one */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(dm_config_load("config", &cfg, NULL), DM_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(dm_config_profile(cfg, 0), "./export.zip");
    dm_config_free(cfg);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    assert_config_error("name = A\nheadline\n", 18, DM_ESYNTAX, 2, 1, "expected KEY = VALUE");
    assert_config_error("name = A\n  colour = green\n", 26, DM_ESYNTAX, 2, 3,
                        "unknown key 'colour' (known: profile, name, headline, industry, "
                        "company, past-company, password, password-env, token, token-env)");
    assert_config_error("Name = A\n", 9, DM_ESYNTAX, 1, 1,
                        "unknown key 'Name' (known: profile, name, headline, industry, "
                        "company, past-company, password, password-env, token, token-env)");
    assert_config_error("= A\n", 4, DM_ESYNTAX, 1, 1,
                        "unknown key '' (known: profile, name, headline, industry, company, "
                        "past-company, password, password-env, token, token-env)");
    assert_config_error("# ok\n\ncompany =   \n", 19, DM_ESYNTAX, 3, 1, "company has no value");
    assert_config_error("name = A\0B\n", 11, DM_ESYNTAX, 0, 0, "the config file holds a NUL byte");
    assert_config_error("name = Jos\xe9\n", 11, DM_EUTF8, 0, 0, "invalid UTF-8 at byte 11");

    /* over 64 KiB */
    size_t big = (64 << 10) + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    assert_config_error(text, big, DM_ETOOLARGE, 0, 0, "the config file is over 64 KiB");
    free(text);

    /* a profile with ~ and no HOME to expand it */
    unsetenv("HOME");
    assert_config_error("profile = ~/export.zip\n", 23, DM_ESYNTAX, 1, 1,
                        "profile starts with ~ but HOME is not set");

    /* no such file: DM_ENOENT, which a caller of the default path takes as "none" */
    char path[512];
    snprintf(path, sizeof path, "%s/nothing-here", dir);
    dm_config *cfg = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_load(path, &cfg, &err), DM_ENOENT);
    assert_null(cfg);
    assert_int_equal(err.code, DM_ENOENT);
    assert_int_equal(err.line, 0);
    assert_string_equal(err.source, path);
    assert_string_equal(err.text, "No such file or directory");
}

static void test_default_path(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(setenv("XDG_CONFIG_HOME", "/x/cfg", 1), 0);
    assert_int_equal(setenv("HOME", "/home/g", 1), 0);
    assert_int_equal(dm_config_default_path(buf, sizeof buf), DM_OK);
    assert_string_equal(buf, "/x/cfg/doorman/config");
    assert_int_equal(setenv("XDG_CONFIG_HOME", "", 1), 0); /* empty: as if unset */
    assert_int_equal(dm_config_default_path(buf, sizeof buf), DM_OK);
    assert_string_equal(buf, "/home/g/.config/doorman/config");
    assert_int_equal(dm_config_default_path(buf, 10), DM_ETOOLARGE);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_int_equal(dm_config_default_path(buf, sizeof buf), DM_ENOENT);
}

/* ---- applying it ----------------------------------------------------------------------- */

static void test_apply_export(void **state)
{
    (void)state;
    dm_context *ctx = apply("profile = " EXPORT "\n");
    /* the export's context, as a batch run reads it: me, connections, history */
    assert_string_equal(dm_me_name(ctx), "Gideon Marsh");
    assert_string_equal(dm_me_industry(ctx), "Business Consulting and Services");
    assert_int_equal(dm_me_company_count(ctx), 3);
    assert_company(ctx, 0, "Ironwood Leadership Partners", 1);
    assert_company(ctx, 1, "Ridgeline Staffing Solutions", 0);
    assert_company(ctx, 2, "Keystone Valve & Fitting Co.", 0);
    assert_int_equal(dm_context_connection_count(ctx), 30);
    assert_true(dm_context_history_count(ctx) > 0);
    dm_context_free(ctx);

    /* inline lines win over the profile's; companies add to its */
    ctx = apply("name = G. Marsh\nprofile = " EXPORT "/Profile.csv\n"
                "company = Acme Plant Services\n");
    assert_string_equal(dm_me_name(ctx), "G. Marsh");
    assert_non_null(strstr(dm_me_headline(ctx), "Frontline Leadership Consultant"));
    assert_int_equal(dm_me_company_count(ctx), 1); /* no Positions.csv read */
    assert_company(ctx, 0, "Acme Plant Services", 1);
    assert_int_equal(dm_context_connection_count(ctx), 0);
    assert_int_equal(dm_context_history_count(ctx), 0);
    dm_context_free(ctx);
}

static void test_apply_bad_profile(void **state)
{
    (void)state;
    dm_config *cfg = NULL;
    dm_context *ctx = NULL;
    dm_error err;
    assert_int_equal(dm_config_load(write_config("profile = missing\n"), &cfg, NULL), DM_OK);
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_apply(cfg, NULL, ctx, &err), DM_ENOENT);
    assert_int_equal(err.code, DM_ENOENT);
    assert_string_equal(err.source, dm_config_profile(cfg, 0));
    assert_string_equal(err.text, "No such file or directory");
    dm_context_free(ctx);

    /* a folder that is no export */
    assert_int_equal(dm_config_set_profile(cfg, dir), DM_OK);
    assert_int_equal(dm_context_create(&ctx), DM_OK);
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_apply(cfg, NULL, ctx, &err), DM_EFORMAT);
    assert_int_equal(err.code, DM_EFORMAT);
    assert_string_equal(err.source, dir);
    assert_string_equal(err.text,
                        "no Invitations.csv or messages.csv here; is this a LinkedIn data export?");
    dm_context_free(ctx);
    dm_config_free(cfg);
}

/* ---- credentials for URL sources ----------------------------------------------- */

/* One source URL and the secret the config gives it (NULL: none). */
struct cred_case {
    const char *kind, *url, *want;
};

static const char cred_text[] =
    "# secrets\n"
    "password imaps://me@mail.example.org = correct horse = battery  \n"
    "password imaps://me@mail.example.org/Work = work-pw\n"
    "token https://api.example.org/ = tok-root\n"
    "token https://api.example.org/v2 = tok-v2\n"
    "token   https://x.example/list?a=b&c=d   =   tok-q\n"
    "token-env https://env.example = DM_TEST_TOKEN\n"
    "token https://dup.example = first\n"
    "token https://dup.example = second\n";

static const struct cred_case cred_cases[] = {
    {"password", "imaps://me@mail.example.org/INBOX", "correct horse = battery"},
    {"password", "imaps://me@mail.example.org", "correct horse = battery"},
    {"password", "imaps://me@mail.example.org/Work", "work-pw"},       /* the longest */
    {"password", "imaps://me@mail.example.org/Workshop", "correct horse = battery"}, /* a boundary */
    {"password", "IMAPS://me@MAIL.example.org/INBOX", "correct horse = battery"},
    {"password", "imaps://you@mail.example.org/INBOX", NULL},
    {"password", "imaps://me@mail.example.org.evil/INBOX", NULL},
    {"token", "imaps://me@mail.example.org/INBOX", NULL}, /* another kind */
    {"password", "https://api.example.org/inv", NULL},
    {"token", "https://api.example.org/inv?page=2", "tok-root"},
    {"token", "https://api.example.org/v2/inv", "tok-v2"},
    {"token", "https://api.example.org/v2", "tok-v2"},
    {"token", "https://api.example.org/v20/inv", "tok-root"},
    {"token", "https://api.example.org", NULL}, /* the line's URL is longer */
    {"token", "https://x.example/list?a=b&c=d&page=3", "tok-q"},
    {"token", "https://env.example/inv#mapping=m.json", "from-the-env"},
    {"token", "https://dup.example/x", "second"}, /* of equal ones, the last */
};

static void test_credentials(void **state)
{
    (void)state;
    const char *path = write_config(cred_text);
    dm_config *cfg = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    /* a file holding secrets that others may read: refused, naming the first such line */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(dm_config_load(path, &cfg, &err), DM_EFORMAT);
    assert_null(cfg);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 1);
    assert_string_equal(err.text, "this line holds a secret, but others may read the file "
                                  "(mode 0640); refusing it (chmod 600 it)");
    assert_int_equal(chmod(path, 0600), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_load(path, &cfg, &err), DM_OK);
    assert_int_equal(setenv("DM_TEST_TOKEN", "from-the-env", 1), 0);
    for (size_t i = 0; i < sizeof cred_cases / sizeof *cred_cases; i++) {
        const struct cred_case *c = &cred_cases[i];
        const char *got = (const char *)1;
        memset(&err, 0, sizeof err);
        assert_int_equal(dm_config_secret(cfg, c->kind, c->url, &got, &err), DM_OK);
        if (!c->want && got)
            fail_msg("case %zu (%s %s): got '%s', want none", i, c->kind, c->url, got);
        if (c->want && (!got || strcmp(got, c->want) != 0))
            fail_msg("case %zu (%s %s): got '%s', want '%s'", i, c->kind, c->url,
                     got ? got : "(none)", c->want);
    }
    /* the variable a -env line names is not set: an error naming the line */
    assert_int_equal(unsetenv("DM_TEST_TOKEN"), 0);
    const char *got = NULL;
    memset(&err, 0, sizeof err);
    assert_int_equal(dm_config_secret(cfg, "token", "https://env.example/", &got, &err), DM_EINVAL);
    assert_null(got);
    assert_string_equal(err.source, path);
    assert_int_equal(err.line, 7);
    assert_string_equal(err.text, "the environment variable DM_TEST_TOKEN (token-env) is not set");
    dm_config_free(cfg);
    /* no config: no secret */
    got = (const char *)1;
    assert_int_equal(dm_config_secret(NULL, "token", "https://api.example.org/", &got, NULL), DM_OK);
    assert_null(got);

    /* -env lines only: the file may be readable */
    path = write_config("password-env imaps://me@h = PW\n");
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(dm_config_load(path, &cfg, NULL), DM_OK);
    dm_config_free(cfg);
}

static void test_credential_errors(void **state)
{
    (void)state;
    assert_config_error("token https://a.example s3cret\n", 31, DM_ESYNTAX, 1, 1,
                        "expected token URL = VALUE");
    assert_config_error("name = A\n  password = x\n", 24, DM_ESYNTAX, 2, 3,
                        "expected password URL = VALUE");
    assert_config_error("token-env api.example.org = X\n", 30, DM_ESYNTAX, 1, 11,
                        "expected a URL such as imaps://me@mail.example.com or "
                        "https://api.example.com/");
    assert_config_error("token https://a.example =   \n", 29, DM_ESYNTAX, 1, 1, "token has no value");
    /* a word that only starts like one is an unknown key */
    assert_config_error("tokens = x\n", 11, DM_ESYNTAX, 1, 1,
                        "unknown key 'tokens' (known: profile, name, headline, industry, "
                        "company, past-company, password, password-env, token, token-env)");
}

/* Every allocation of loading and applying may fail: DM_ENOMEM, nothing leaked. */
static void test_alloc_failures(void **state)
{
    (void)state;
    const char *path = write_config("profile = " EXPORT "\nname = G\nheadline = H\n"
                                    "industry = I\ncompany = C\npast-company = P\n"
                                    "password imaps://me@h = pw\ntoken-env https://a/ = T\n");
    assert_int_equal(chmod(path, 0600), 0);
    int failed = 0;
    for (long n = 0;; n++) {
        dm_config *cfg = NULL;
        dm_context *ctx = NULL;
        injected = 0;
        fail_countdown = n;
        dm_status st = dm_config_load(path, &cfg, NULL);
        if (st == DM_OK)
            st = dm_context_create(&ctx);
        if (st == DM_OK)
            st = dm_config_apply(cfg, NULL, ctx, NULL);
        fail_countdown = -1;
        dm_context_free(ctx);
        dm_config_free(cfg);
        assert_int_equal(mem_allocs, 0);
        if (!injected) {
            assert_int_equal(st, DM_OK);
            break;
        }
        assert_int_equal(st, DM_ENOMEM);
        failed++;
    }
    assert_true(failed > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inline_me, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_bad_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
