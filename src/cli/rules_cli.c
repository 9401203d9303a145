/*
 * rules_cli.c: finding and loading the rules every command runs, and
 * `doorman rules lint|test PATH...`.
 */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DM_SOURCE_RULES_DIR
#define DM_SOURCE_RULES_DIR ""
#endif
#ifndef DM_INSTALL_RULES_DIR
#define DM_INSTALL_RULES_DIR "/usr/local/share/doorman/rules"
#endif
#ifndef DM_INSTALL_BINDIR
#define DM_INSTALL_BINDIR "/usr/local/bin"
#endif

static int is_dir(const char *p)
{
    struct stat sb;
    return p && *p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/*
 * default_rules_dir() finds the shipped rules: $DOORMAN_RULES_DIR when
 * set; the installed share folder for an installed doorman; the source
 * tree's rules/ for a doorman run from its build folder.
 */
const char *cli_default_rules_dir(void)
{
    const char *env = getenv("DOORMAN_RULES_DIR");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        char bindir[PATH_MAX];
        if (realpath(DM_INSTALL_BINDIR, bindir) && strcmp(bindir, exe) == 0 &&
            is_dir(DM_INSTALL_RULES_DIR))
            return DM_INSTALL_RULES_DIR;
    }
    if (is_dir(DM_SOURCE_RULES_DIR))
        return DM_SOURCE_RULES_DIR;
    return DM_INSTALL_RULES_DIR;
}

/* The user's own rules, layered on top when the folder exists. */
static const char *user_rules_dir(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, n, "%s/doorman/rules", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.config/doorman/rules", home);
    else
        return NULL;
    return is_dir(buf) ? buf : NULL;
}

/* print_source_line() shows the line of `file` an error is on, and a caret. */
static void print_source_line(const char *file, int line, int col)
{
    if (line <= 0)
        return;
    FILE *fp = fopen(file, "rb");
    if (!fp)
        return;
    char buf[1024];
    int ln = 1, found = 0;
    while (fgets(buf, sizeof buf, fp)) {
        size_t len = strlen(buf);
        int complete = len && buf[len - 1] == '\n';
        if (ln == line) {
            found = 1;
            break;
        }
        if (complete)
            ln++;
    }
    fclose(fp);
    if (!found)
        return;
    size_t len = strcspn(buf, "\r\n");
    buf[len] = '\0';
    /* columns count from after a byte order mark (lexer.c): so does the caret */
    char *text = buf;
    if (line == 1 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        text += 3;
    fprintf(stderr, "  %s\n", text);
    if (col <= 0)
        return;
    fputs("  ", stderr);
    /* keep tabs so the caret lines up; count UTF-8 lead bytes as one column */
    for (int i = 0; i < col - 1 && text[i]; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) == 0x80)
            continue;
        fputc(c == '\t' ? '\t' : ' ', stderr);
    }
    fputs("^\n", stderr);
}

/* set by `rules lint|test`: nothing was going to be triaged, so don't say it wasn't */
static int checking_rules;

struct rules_diag {
    int quiet_warnings;
    size_t errors, warnings;
};

static int on_rules_diag(void *ud, dm_severity sev, const dm_error *e)
{
    struct rules_diag *d = ud;
    if (sev == DM_SEV_ERROR)
        d->errors++;
    else
        d->warnings++;
    if (sev == DM_SEV_WARNING && d->quiet_warnings)
        return 0;
    cli_error(e, sev == DM_SEV_ERROR ? "error" : "warning");
    print_source_line(e->source, e->line, e->column);
    return 0;
}

/*
 * loaded_already() is 1 when `path` names the same file or folder as one of
 * paths[0..n): `rules lint rules/` in the source tree, or `--rules` with the
 * user's folder, would load every rule twice and report each as a duplicate.
 */
static int loaded_already(const char *const *paths, size_t n, const char *path)
{
    struct stat a, b, d;
    if (stat(path, &a) != 0)
        return 0;
    /* a .rules file of one of those folders ("rules lint rules/pitches.rules")
     * was read with its folder */
    int in_dir = 0;
    size_t len = strlen(path);
    if (S_ISREG(a.st_mode) && len > 6 && strcmp(path + len - 6, ".rules") == 0) {
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else
            snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
        in_dir = stat(dir, &d) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (stat(paths[i], &b) != 0)
            continue;
        if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return 1;
        if (in_dir && S_ISDIR(b.st_mode) && d.st_dev == b.st_dev && d.st_ino == b.st_ino)
            return 1;
    }
    return 0;
}

/*
 * cli_rules_cache_dir() is where compiled rules are kept (docs/integration.md,
 * "Start-up time"): $XDG_CACHE_HOME/doorman, else ~/.cache/doorman; NULL
 * when DOORMAN_NO_CACHE is set and not empty, or there is no home.
 */
const char *cli_rules_cache_dir(char *buf, size_t n)
{
    const char *off = getenv("DOORMAN_NO_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (off && *off)
        return NULL;
    if (xdg && *xdg)
        snprintf(buf, n, "%s/doorman", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.cache/doorman", home);
    else
        return NULL;
    return buf;
}

static int load_rules(const char *const *extra, size_t nextra, int defaults, int warnings,
                      const char *cache_dir, int lazy_jit, dm_ruleset **out);

int cli_load_rules(const char *const *extra, size_t nextra, int defaults, int warnings,
                   dm_ruleset **out)
{
    return load_rules(extra, nextra, defaults, warnings, NULL, 0, out);
}

int cli_load_rules_cached(const char *const *extra, size_t nextra, int defaults, int lazy_jit,
                          dm_ruleset **out)
{
    char dir[PATH_MAX];
    return load_rules(extra, nextra, defaults, 0, cli_rules_cache_dir(dir, sizeof dir),
                      lazy_jit, out);
}

static int load_rules(const char *const *extra, size_t nextra, int defaults, int warnings,
                      const char *cache_dir, int lazy_jit, dm_ruleset **out)
{
    const char *paths[64];
    size_t n = 0;
    char user[PATH_MAX];
    if (defaults) {
        paths[n++] = cli_default_rules_dir();
        const char *u = user_rules_dir(user, sizeof user);
        if (u)
            paths[n++] = u;
    }
    for (size_t i = 0; i < nextra && n < sizeof paths / sizeof paths[0]; i++)
        if (!loaded_already(paths, n, extra[i]))
            paths[n++] = extra[i];
    if (n == 0) {
        cli_msg("no rules: give --rules PATH");
        return EXIT_USAGE;
    }
    struct rules_diag d = {!warnings, 0, 0};
    dm_rules_opts o = {.diag = on_rules_diag, .diag_ud = &d, .lazy_jit = lazy_jit,
                       .cache_dir = cache_dir};
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_load(paths, n, &o, out, NULL, &err);
    if (st == DM_ENOMEM) {
        cli_msg("out of memory");
        return EXIT_INTERNAL;
    }
    if (st != DM_OK) {
        cli_msg("%zu error%s in the rules%s", d.errors, d.errors == 1 ? "" : "s",
                checking_rules ? "" : "; nothing was triaged");
        return EXIT_RULES;
    }
    return EXIT_RAN;
}

static void rules_usage(FILE *fp)
{
    fputs("usage: doorman rules lint [--no-default-rules] [PATH...]\n"
          "       doorman rules test [--no-default-rules] [PATH...]\n"
          "\n"
          "lint  checks rule files and reports every error and warning as\n"
          "      FILE:LINE:COL: error: TEXT, with the line and a caret\n"
          "test  runs every rule's own examples (test hit / test miss)\n"
          "\n"
          "PATH is a .rules file or a folder of them.  Without PATH, the default rules\n"
          "and the user's ($XDG_CONFIG_HOME/doorman/rules) are checked; with PATH and\n"
          "without --no-default-rules, PATH is layered on top of them (a PATH that is\n"
          "one of those folders is read once).  --no-default-rules needs a PATH.\n",
          fp);
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        rules_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_RAN;
    }
    const char *sub = argv[1];
    int lint = strcmp(sub, "lint") == 0, test = strcmp(sub, "test") == 0;
    if (!lint && !test) {
        cli_msg("'rules %s' is not a command; use 'rules lint' or 'rules test'", sub);
        return EXIT_USAGE;
    }
    const char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths)
        return EXIT_INTERNAL;
    size_t n = 0;
    int defaults = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--no-default-rules") == 0)
            defaults = 0;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            rules_usage(stdout);
            free(paths);
            return EXIT_RAN;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_msg("unknown option '%s'; see 'doorman rules --help'", argv[i]);
            free(paths);
            return EXIT_USAGE;
        } else
            paths[n++] = argv[i];
    }
    if (n == 0 && !defaults) {
        /* without PATH the defaults are what is checked; there are none to check */
        cli_msg("nothing to %s: --no-default-rules needs a PATH; see 'doorman rules --help'",
                sub);
        free(paths);
        return EXIT_USAGE;
    }
    dm_ruleset *rs = NULL;
    checking_rules = 1;
    int rc = cli_load_rules(paths, n, defaults, lint, &rs);
    free(paths);
    if (rc != EXIT_RAN)
        return rc;
    if (lint) {
        size_t filtered = 0, always = 0;
        dm_error berr;
        memset(&berr, 0, sizeof berr);
        if (dm_ruleset_bind(rs, NULL, &berr) == DM_OK)
            dm_ruleset_pattern_stats(rs, &filtered, &always);
        printf("%zu rules: no errors; %zu patterns, %zu behind the literal prefilter, %zu "
               "always run\n",
               dm_ruleset_count(rs), filtered + always, filtered, always);
        dm_ruleset_free(rs);
        return EXIT_RAN;
    }
    size_t passed = 0, failed = 0;
    struct rules_diag d = {0, 0, 0};
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_test(rs, on_rules_diag, &d, &passed, &failed, &err);
    dm_ruleset_free(rs);
    if (st != DM_OK) {
        cli_error(&err, "error");
        return EXIT_INTERNAL;
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? EXIT_RULES : EXIT_RAN;
}
