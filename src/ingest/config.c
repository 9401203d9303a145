/*
 * config.c: doorman's config file, which tells the commands that see one
 * mail at a time (`doorman mail`, doorman-milter) who the user is, since
 * they have no export on their command line:
 *
 *     # ~/.config/doorman/config
 *     profile = ~/Downloads/Basic_LinkedInDataExport_02-14-2026.zip
 *     name = Gideon Marsh
 *     company = Ironwood Leadership Partners
 *     past-company = Keystone Valve & Fitting Co.
 *
 * A profile is opened as a source (dm_source_open), so an export brings
 * the same context as in a batch run; inline lines win over it.
 */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CONFIG_MAX (64 << 10)

struct company {
    char *name;
    int current;
};

/* A credential line: `password URL = SECRET`, `token-env URL = VARIABLE`. */
struct cred {
    char *kind; /* "password" or "token" */
    char *url;  /* the start of the source URLs it is for */
    char *value;
    int env; /* value names an environment variable */
    int line;
};

struct dm_config {
    char *file; /* the config file, for errors about its lines */
    char *dir; /* the config file's folder: relative profile paths start there */
    struct cred *creds;
    size_t ncreds;
    int secret_line; /* the first line holding a secret itself, or 0 */
    char **profiles;
    size_t nprofiles;
    char *name, *headline, *industry;
    struct company *companies;
    size_t ncompanies;
};

DM_API dm_status dm_config_create(dm_config **out)
{
    dm_config *c = dm_calloc(1, sizeof *c);
    if (!c)
        return DM_ENOMEM;
    *out = c;
    return DM_OK;
}

static void free_profiles(dm_config *c)
{
    for (size_t i = 0; i < c->nprofiles; i++)
        dm_free(c->profiles[i]);
    dm_free(c->profiles);
    c->profiles = NULL;
    c->nprofiles = 0;
}

DM_API void dm_config_free(dm_config *c)
{
    if (!c)
        return;
    free_profiles(c);
    for (size_t i = 0; i < c->ncompanies; i++)
        dm_free(c->companies[i].name);
    dm_free(c->companies);
    dm_free(c->name);
    dm_free(c->headline);
    dm_free(c->industry);
    for (size_t i = 0; i < c->ncreds; i++) {
        dm_free(c->creds[i].kind);
        dm_free(c->creds[i].url);
        if (c->creds[i].value) /* a secret: not left in freed memory */
            memset(c->creds[i].value, 0, strlen(c->creds[i].value));
        dm_free(c->creds[i].value);
    }
    dm_free(c->creds);
    dm_free(c->file);
    dm_free(c->dir);
    dm_free(c);
}

DM_API dm_status dm_config_default_path(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(buf, cap, "%s/doorman/config", xdg);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.config/doorman/config", home);
    else
        return DM_ENOENT;
    return n >= 0 && (size_t)n < cap ? DM_OK : DM_ETOOLARGE;
}

DM_API size_t dm_config_profile_count(const dm_config *c)
{
    return c->nprofiles;
}

DM_API const char *dm_config_profile(const dm_config *c, size_t i)
{
    return i < c->nprofiles ? c->profiles[i] : NULL;
}

static dm_status add_profile(dm_config *c, char *path)
{
    char **p = dm_realloc(c->profiles, (c->nprofiles + 1) * sizeof *p);
    if (!p) {
        dm_free(path);
        return DM_ENOMEM;
    }
    c->profiles = p;
    p[c->nprofiles++] = path;
    return DM_OK;
}

DM_API dm_status dm_config_set_profiles(dm_config *c, const char *const *paths, size_t n)
{
    free_profiles(c);
    dm_status st = DM_OK;
    for (size_t i = 0; i < n && st == DM_OK; i++) {
        char *d = dm_strdup(paths[i]);
        st = d ? add_profile(c, d) : DM_ENOMEM;
    }
    return st;
}

DM_API dm_status dm_config_set_profile(dm_config *c, const char *path)
{
    return dm_config_set_profiles(c, &path, path ? 1 : 0);
}

static dm_status add_company(dm_config *c, const char *name, int current)
{
    struct company *p = dm_realloc(c->companies, (c->ncompanies + 1) * sizeof *p);
    if (!p)
        return DM_ENOMEM;
    c->companies = p;
    if (!(p[c->ncompanies].name = dm_strdup(name)))
        return DM_ENOMEM;
    p[c->ncompanies++].current = current;
    return DM_OK;
}

static dm_status set_string(char **slot, const char *v)
{
    char *d = dm_strdup(v);
    if (!d)
        return DM_ENOMEM;
    dm_free(*slot);
    *slot = d;
    return DM_OK;
}

/* resolve() makes a profile path of the file usable from anywhere: "~/" is
 * $HOME, a relative path starts at the config file's folder. */
static dm_status resolve(const dm_config *c, const char *v, char **out)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_status st;
    if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return DM_ENOENT;
        st = dm_buf_printf(&b, "%s%s", home, v + 1);
    } else if (v[0] != '/' && c->dir) {
        st = dm_buf_printf(&b, "%s/%s", c->dir, v);
    } else {
        st = dm_buf_adds(&b, v);
    }
    if (st != DM_OK) {
        dm_buf_free(&b);
        return st;
    }
    *out = dm_buf_steal(&b);
    return DM_OK;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* trim() drops the spaces around `v`, in place, and returns its start. */
static char *trim(char *v)
{
    while (is_space(*v))
        v++;
    char *end = v + strlen(v);
    while (end > v && is_space(end[-1]))
        end--;
    *end = '\0';
    return v;
}

static const char *const cred_kinds[] = {"password", "password-env", "token", "token-env"};

/* cred_kind() gives the length of the credential word `p` starts with
 * (followed by a space), or 0. */
static size_t cred_kind(const char *p)
{
    for (size_t i = 0; i < sizeof cred_kinds / sizeof *cred_kinds; i++) {
        size_t n = strlen(cred_kinds[i]);
        if (strncmp(p, cred_kinds[i], n) == 0 && is_space(p[n]))
            return n;
    }
    return 0;
}

/* KIND URL SPACE '=' VALUE: the URL may hold '=' (a query), so it is read
 * first, up to a space */
static dm_status parse_cred(dm_config *c, char *line, char *p, size_t klen, const char *file,
                            int ln, dm_error *err)
{
    int col = (int)(p - line) + 1;
    char *u = p + klen;
    while (is_space(*u))
        u++;
    char *uend = u;
    while (*uend && !is_space(*uend)) /* a URL may hold '=': a space ends it */
        uend++;
    char *eq = uend;
    while (is_space(*eq))
        eq++;
    if (uend == u || *eq != '=')
        return dm_error_set(err, DM_ESYNTAX, file, ln, col, "expected %.*s URL = VALUE",
                            (int)klen, p);
    if (!strstr(u, "://") || strstr(u, "://") > uend)
        return dm_error_set(err, DM_ESYNTAX, file, ln, (int)(u - line) + 1,
                            "expected a URL such as imaps://me@mail.example.com or "
                            "https://api.example.com/");
    char *v = trim(eq + 1);
    if (*v == '\0')
        return dm_error_set(err, DM_ESYNTAX, file, ln, col, "%.*s has no value", (int)klen, p);
    struct cred *cr = dm_realloc(c->creds, (c->ncreds + 1) * sizeof *cr);
    if (!cr)
        return DM_ENOMEM;
    c->creds = cr;
    cr += c->ncreds;
    memset(cr, 0, sizeof *cr);
    cr->env = strncmp(p + klen - 4, "-env", 4) == 0;
    cr->kind = dm_strndup(p, cr->env ? klen - 4 : klen);
    cr->url = dm_strndup(u, (size_t)(uend - u));
    cr->value = dm_strdup(v);
    cr->line = ln;
    c->ncreds++; /* freed with the config, whole or not */
    if (!cr->kind || !cr->url || !cr->value)
        return DM_ENOMEM;
    if (!cr->env && !c->secret_line)
        c->secret_line = ln;
    return DM_OK;
}

/* line -> '#' ANY* | KEY '=' VALUE | CRED URL '=' VALUE | <blank> ; trimmed */
static dm_status parse_line(dm_config *c, char *line, const char *file, int ln, dm_error *err)
{
    char *p = line;
    while (is_space(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return DM_OK;
    size_t klen = cred_kind(p);
    if (klen)
        return parse_cred(c, line, p, klen, file, ln, err);
    char *eq = strchr(p, '=');
    if (!eq)
        return dm_error_set(err, DM_ESYNTAX, file, ln, (int)(p - line) + 1, "expected KEY = VALUE");
    char *kend = eq;
    while (kend > p && is_space(kend[-1]))
        kend--;
    *kend = '\0';
    char *v = trim(eq + 1);
    int col = (int)(p - line) + 1;
    if (*v == '\0')
        return dm_error_set(err, DM_ESYNTAX, file, ln, col, "%s has no value", p);
    if (strcmp(p, "profile") == 0) {
        char *path = NULL;
        dm_status st = resolve(c, v, &path);
        if (st == DM_ENOENT)
            return dm_error_set(err, DM_ESYNTAX, file, ln, col,
                                "profile starts with ~ but HOME is not set");
        return st == DM_OK ? add_profile(c, path) : st;
    }
    if (strcmp(p, "name") == 0)
        return set_string(&c->name, v);
    if (strcmp(p, "headline") == 0)
        return set_string(&c->headline, v);
    if (strcmp(p, "industry") == 0)
        return set_string(&c->industry, v);
    if (strcmp(p, "company") == 0)
        return add_company(c, v, 1);
    if (strcmp(p, "past-company") == 0)
        return add_company(c, v, 0);
    return dm_error_set(err, DM_ESYNTAX, file, ln, col,
                        "unknown key '%.64s' (known: profile, name, headline, industry, "
                        "company, past-company, password, password-env, token, token-env)",
                        p);
}

/* read_file() reads all of `path`, at most CONFIG_MAX bytes, NUL-terminated;
 * *mode is the file's permission bits. */
static dm_status read_file(const char *path, dm_buf *b, unsigned *mode, dm_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, path, 0, 0, "%s",
                            strerror(errno));
    struct stat sb;
    *mode = fstat(fileno(fp), &sb) == 0 ? (unsigned)(sb.st_mode & 07777) : 0777u;
    dm_status st = DM_OK;
    char chunk[4096];
    size_t n;
    while (st == DM_OK && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        st = dm_buf_add(b, chunk, n);
    if (st == DM_OK && ferror(fp))
        st = dm_error_set(err, DM_EIO, path, 0, 0, "read error");
    else if (st == DM_ETOOLARGE)
        dm_error_set(err, st, path, 0, 0, "the config file is over %d KiB", CONFIG_MAX >> 10);
    fclose(fp);
    if (st == DM_OK && b->len == 0)
        st = dm_buf_adds(b, ""); /* an empty file: still a NUL-terminated text */
    return st;
}

DM_API dm_status dm_config_load(const char *path, dm_config **out, dm_error *err)
{
    dm_config *c = NULL;
    dm_buf b;
    dm_buf_init(&b, CONFIG_MAX);
    unsigned mode = 0;
    dm_status st = read_file(path, &b, &mode, err);
    if (st == DM_OK && strlen(b.data) != b.len)
        st = dm_error_set(err, DM_ESYNTAX, path, 0, 0, "the config file holds a NUL byte");
    if (st == DM_OK) {
        size_t bad = dm_utf8_check(b.data, b.len);
        if (bad != b.len)
            st = dm_error_set(err, DM_EUTF8, path, 0, 0, "invalid UTF-8 at byte %zu", bad + 1);
    }
    if (st == DM_OK)
        st = dm_config_create(&c);
    if (st == DM_OK) {
        const char *slash = strrchr(path, '/');
        c->dir =
            slash ? dm_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : dm_strdup(".");
        c->file = dm_strdup(path);
        if (!c->dir || !c->file)
            st = DM_ENOMEM;
    }
    char *line = b.data;
    if (st == DM_OK && memcmp(line, "\xef\xbb\xbf", 3) == 0)
        line += 3;
    for (int ln = 1; st == DM_OK && line; ln++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        st = parse_line(c, line, path, ln, err);
        line = nl ? nl + 1 : NULL;
    }
    if (b.data) /* the text may hold a password */
        memset(b.data, 0, b.len);
    dm_buf_free(&b);
    if (st == DM_OK && c->secret_line && (mode & 077))
        st = dm_error_set(err, DM_EFORMAT, path, c->secret_line, 1,
                          "this line holds a secret, but others may read the file (mode %04o); "
                          "refusing it (chmod 600 it)",
                          mode);
    if (st == DM_ENOMEM)
        dm_error_set(err, st, path, 0, 0, "out of memory");
    if (st != DM_OK) {
        dm_config_free(c);
        return st;
    }
    *out = c;
    return DM_OK;
}

DM_API dm_status dm_config_apply(const dm_config *c, const dm_ingest_opts *opts, dm_context *ctx,
                                 dm_error *err)
{
    dm_status st = DM_OK;
    for (size_t i = 0; st == DM_OK && i < c->nprofiles; i++) {
        /* opening a source reads its context files into ctx at once; the
         * records are not wanted */
        dm_source *src = NULL;
        st = dm_source_open(c->profiles[i], opts, ctx, &src, err);
        dm_source_free(src);
        if (st != DM_OK && st != DM_ENOMEM)
            dm_error_set(err, st, c->profiles[i], 0, 0, "%s", dm_strerror(st));
    }
    if (st == DM_OK)
        st = dm_me_set(ctx, c->name, c->headline, c->industry);
    for (size_t i = 0; st == DM_OK && i < c->ncompanies; i++)
        st = dm_me_add_company(ctx, c->companies[i].name, c->companies[i].current);
    if (st == DM_ENOMEM)
        return dm_error_set(err, st, NULL, 0, 0, "out of memory");
    if (st == DM_OK)
        st = dm_context_finish(ctx, err);
    return st;
}

/* prefix_of() is true when the config's `pre` is the start of `url`, ending
 * where a URL part ends: "https://a.example" is not the start of
 * "https://a.example.evil/". */
static int prefix_of(const char *pre, const char *url)
{
    size_t n = strlen(pre);
    if (strncasecmp(pre, url, n) != 0)
        return 0;
    char next = url[n];
    return pre[n - 1] == '/' || next == '\0' || next == '/' || next == '?' || next == '#' ||
           (next == '&' && strchr(pre, '?')); /* more query parameters */
}

DM_API dm_status dm_config_secret(const dm_config *c, const char *kind, const char *url,
                                  const char **secret, dm_error *err)
{
    *secret = NULL;
    const struct cred *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; c && i < c->ncreds; i++) {
        const struct cred *cr = &c->creds[i];
        size_t n = strlen(cr->url);
        if (strcmp(cr->kind, kind) == 0 && prefix_of(cr->url, url) && n >= best_len) {
            best = cr; /* the longest; of equal ones, the last line */
            best_len = n;
        }
    }
    if (!best)
        return DM_OK;
    if (!best->env) {
        *secret = best->value;
        return DM_OK;
    }
    const char *v = getenv(best->value);
    if (!v || !*v)
        return dm_error_set(err, DM_EINVAL, c->file, best->line, 1,
                            "the environment variable %.64s (%s-env) is not set", best->value,
                            kind);
    *secret = v;
    return DM_OK;
}
