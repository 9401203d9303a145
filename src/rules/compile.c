/*
 * compile.c: rule files to a ruleset that can run.
 *
 * Loading parses every file, then checks the whole: overrides name real
 * rules, metas name real rules and form no cycle, every pattern compiles
 * and cannot match the empty string, lists exist.  Every problem is
 * reported (with file, line and column) before the load fails, so lint
 * shows them all.  Binding to a context then compiles the patterns that
 * use ${me.*} and builds the literal prefilter over all patterns.
 */
#include "cache.h"
#include "rcompile.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RULE_FILE_MAX (4u << 20)
#define LIST_FILE_MAX (4u << 20)
#define MATCH_LIMIT 200000u
#define DEPTH_LIMIT 2000u
#define PREFILTER_MIN_LITERAL 3
/* bytes rare enough in notes that a shorter literal holding one is worth
 * gating on ("{" in /\{\{\s*first_name\s*\}\}/) */
#define PREFILTER_RARE "{}[]<>%$#|*@~^\\`=_+/"

/* ---- diagnostics -------------------------------------------------------------- */

static void diag_v(rules_build *b, dm_severity sev, dm_status code, srcpos pos, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));

static void diag_v(rules_build *b, dm_severity sev, dm_status code, srcpos pos, const char *fmt,
                   va_list ap)
{
    /* once out of memory, what is left unread or unbuilt is no user's mistake:
     * the load fails with DM_ENOMEM, without errors made up on the way */
    if (b->oom)
        return;
    dm_error e;
    memset(&e, 0, sizeof e);
    e.code = code;
    e.line = pos.line;
    e.column = pos.col;
    snprintf(e.source, sizeof e.source, "%s", pos.file ? pos.file : "");
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    if (sev == DM_SEV_ERROR)
        b->errors++;
    else
        b->warnings++;
    if (b->diag)
        b->diag(b->ud, sev, &e);
}

void rules_diag(rules_build *b, dm_severity sev, srcpos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_v(b, sev, sev == DM_SEV_ERROR ? DM_ESYNTAX : DM_OK, pos, fmt, ap);
    va_end(ap);
}

/* regex_error() reports a pattern PCRE2 would not compile: DM_EREGEX, not DM_ESYNTAX. */
static void regex_error(rules_build *b, srcpos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void regex_error(rules_build *b, srcpos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_v(b, DM_SEV_ERROR, DM_EREGEX, pos, fmt, ap);
    va_end(ap);
}

void rules_oom(rules_build *b) { b->oom = 1; }
int rules_out_of_memory(const rules_build *b) { return b->oom; }

/* ---- building ------------------------------------------------------------------ */

regex *rules_regex_new(rules_build *b, const token *t, const char *file)
{
    regex *re = dm_calloc(1, sizeof *re);
    if (!re || !(re->src = dm_strndup(t->text, t->len))) {
        dm_free(re);
        rules_oom(b);
        return NULL;
    }
    re->pos = (srcpos){file, t->line, t->col};
    re->pat_col = t->pat_col;
    re->pf_id = -1;
    /* USE_OFFSET_LIMIT: eval bounds where a prefiltered match may start */
    re->flags = PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_USE_OFFSET_LIMIT;
    int bad = 0;
    for (const char *f = t->flags; *f; f++) {
        switch (*f) {
        case 'i': break; /* text is case-folded: matching is always case-insensitive */
        case 'm': re->flags |= PCRE2_MULTILINE; break;
        case 's': re->flags |= PCRE2_DOTALL; break;
        case 'x': re->flags |= PCRE2_EXTENDED; break;
        case 'r': re->raw = 1; break;
        default:
            rules_diag(b, DM_SEV_ERROR,
                       (srcpos){file, t->line, t->flags_col + (int)(f - t->flags)},
                       "unknown regex flag '%c' (flags: i m s x r)", *f);
            bad = 1;
        }
    }
    if (re->raw && !strchr(t->flags, 'i'))
        re->flags &= ~(uint32_t)PCRE2_CASELESS; /* the original text keeps its case */
    if (re->raw)
        re->flags |= PCRE2_MATCH_INVALID_UTF;
    if (bad) {
        rules_regex_free(re);
        return NULL;
    }
    return re;
}

void rules_regex_free(regex *re)
{
    if (!re)
        return;
    dm_free(re->src);
    dm_free(re->expanded);
    dm_free(re->colmap);
    pcre2_code_free(re->code);
    dm_free(re);
}

void rules_expr_free(expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nkids; i++)
        rules_expr_free(e->kids[i]);
    dm_free(e->kids);
    dm_free(e->name);
    dm_free(e->mask);
    dm_free(e);
}

static void rule_free(rule *r)
{
    dm_free(r->name);
    dm_free(r->describe);
    for (size_t i = 0; i < r->ntags; i++)
        dm_free(r->tags[i]);
    dm_free(r->tags);
    for (size_t i = 0; i < r->nconds; i++)
        rules_regex_free(r->conds[i].re);
    dm_free(r->conds);
    rules_expr_free(r->meta);
    for (size_t i = 0; i < r->ntests; i++) {
        dm_free(r->tests[i].text);
        rules_with_free(&r->tests[i].with);
    }
    dm_free(r->tests);
}

void rules_with_free(rtest_with *w)
{
    for (size_t i = 0; i < w->ntexts; i++)
        dm_free(w->texts[i]);
    dm_free(w->texts);
    w->texts = NULL;
    w->ntexts = 0;
}

rule *rules_add_rule(rules_build *b, const char *name, srcpos pos)
{
    dm_ruleset *rs = b->rs;
    if (rs->nrules == rs->rcap) {
        size_t nc = rs->rcap ? rs->rcap * 2 : 64;
        rule *p = dm_realloc(rs->rules, nc * sizeof *p);
        if (!p) {
            rules_oom(b);
            return NULL;
        }
        rs->rules = p;
        rs->rcap = nc;
    }
    rule *r = &rs->rules[rs->nrules];
    memset(r, 0, sizeof *r);
    r->name = dm_strdup(name);
    if (!r->name) {
        rules_oom(b);
        return NULL;
    }
    r->pos = pos;
    size_t prev = (size_t)(uintptr_t)dm_map_get(&rs->by_name, name);
    if (prev) {
        const rule *first = &rs->rules[prev - 1];
        rules_diag(b, DM_SEV_ERROR, pos, "duplicate rule name %s (first defined at %s:%d)", name,
                   first->pos.file, first->pos.line);
        r->disabled = 2; /* checked, never run */
    } else if (dm_map_put(&rs->by_name, name, (void *)(uintptr_t)(rs->nrules + 1)) != 0) {
        dm_free(r->name);
        rules_oom(b);
        return NULL;
    }
    rs->nrules++;
    return r;
}

static rlist *find_list(const dm_ruleset *rs, const char *name)
{
    for (size_t i = 0; i < rs->nlists; i++)
        if (strcmp(rs->lists[i].name, name) == 0)
            return &rs->lists[i];
    return NULL;
}

rlist *rules_add_list(rules_build *b, const char *name, srcpos pos)
{
    dm_ruleset *rs = b->rs;
    rlist *prev = find_list(rs, name);
    if (prev) {
        rules_diag(b, DM_SEV_ERROR, pos, "duplicate list name %s (first defined at %s:%d)", name,
                   prev->pos.file, prev->pos.line);
        return NULL;
    }
    if (rs->nlists == rs->lcap) {
        size_t nc = rs->lcap ? rs->lcap * 2 : 8;
        rlist *p = dm_realloc(rs->lists, nc * sizeof *p);
        if (!p) {
            rules_oom(b);
            return NULL;
        }
        rs->lists = p;
        rs->lcap = nc;
    }
    rlist *l = &rs->lists[rs->nlists];
    memset(l, 0, sizeof *l);
    l->name = dm_strdup(name);
    if (!l->name) {
        rules_oom(b);
        return NULL;
    }
    l->pos = pos;
    rs->nlists++;
    return l;
}

/* Entries are stored normalized, as the text they will meet is. */
void rules_list_add(rules_build *b, rlist *l, const char *entry, srcpos pos)
{
    dm_norm n;
    dm_norm_init(&n, 4096);
    dm_status st = dm_normalize(&n, entry, strlen(entry), 0);
    if (st != DM_OK) {
        /* out of memory is no entry's fault (it read as "too long") */
        if (st == DM_ENOMEM)
            rules_oom(b);
        else
            rules_diag(b, DM_SEV_ERROR, pos, "list entry too long (4096 bytes at most)");
        dm_norm_free(&n);
        return;
    }
    if (n.text.len == 0) {
        rules_diag(b, DM_SEV_ERROR, pos, "empty list entry: it would match everywhere");
        dm_norm_free(&n);
        return;
    }
    char **p = dm_realloc(l->items, (l->nitems + 1) * sizeof *p);
    if (!p) {
        rules_oom(b);
        dm_norm_free(&n);
        return;
    }
    l->items = p;
    l->items[l->nitems] = dm_buf_steal(&n.text);
    l->nitems++;
    dm_norm_free(&n);
}

/* A list file: one entry a line; '#' starts a comment line; blank lines skipped. */
void rules_add_list_file(rules_build *b, const char *name, srcpos pos, const char *dir,
                         const char *path, srcpos path_pos)
{
    rlist *l = rules_add_list(b, name, pos);
    if (!l)
        return;
    dm_buf full;
    dm_buf_init(&full, 8192);
    dm_status st = path[0] == '/' || !dir || !*dir ? dm_buf_adds(&full, path)
                                                     : dm_buf_printf(&full, "%s/%s", dir, path);
    if (st == DM_ENOMEM) {
        rules_oom(b); /* not "cannot read list file" */
        dm_buf_free(&full);
        return;
    }
    FILE *fp = full.data ? fopen(full.data, "rb") : NULL;
    if (!fp) {
        rules_diag(b, DM_SEV_ERROR, path_pos, "cannot read list file %s: %s",
                   full.data ? full.data : path, strerror(errno));
        dm_buf_free(&full);
        return;
    }
    /* for the cache, the bytes hashed must be the bytes parsed: read them
     * once, and parse them from memory */
    dm_buf content;
    dm_buf_init(&content, LIST_FILE_MAX);
    if (b->cache) {
        char chunk[8192];
        size_t got;
        dm_status rst = DM_OK;
        while (rst == DM_OK && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
            rst = dm_buf_add(&content, chunk, got);
        int rerr = ferror(fp);
        fclose(fp);
        fp = NULL;
        if (rst == DM_ENOMEM) {
            rules_oom(b);
        } else if (rst != DM_OK || rerr) {
            rules_diag(b, DM_SEV_ERROR, path_pos, "cannot read list file %s: %s", full.data,
                       rerr ? "read error" : "larger than 4 MiB");
        } else if (content.len && !(fp = fmemopen(content.data, content.len, "rb"))) {
            rules_oom(b);
        }
        if (!fp && content.len == 0 && rst == DM_OK && !rerr)
            fp = fopen("/dev/null", "rb"); /* fmemopen() of nothing: not portable */
        if (!fp) {
            dm_buf_free(&content);
            dm_buf_free(&full);
            return;
        }
    }
    char line[4096];
    int lineno = 0;
    const char *lfile = NULL;
    /* intern the list file's name for its entries' positions */
    char **files = dm_realloc(b->rs->files, (b->rs->nfiles + 1) * sizeof *files);
    if (!files) {
        rules_oom(b); /* was skipped: the entries' errors then named no file */
        fclose(fp);
        dm_buf_free(&content);
        dm_buf_free(&full);
        return;
    }
    b->rs->files = files;
    files[b->rs->nfiles] = dm_buf_steal(&full);
    lfile = files[b->rs->nfiles++];
    if (b->cache)
        rules_cache_note(b, b->rs->nfiles - 1, content.data, content.len, 0);
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            rules_diag(b, DM_SEV_ERROR, (srcpos){lfile, lineno, 1}, "line too long");
            int c;
            while ((c = fgetc(fp)) != EOF && c != '\n')
                ;
            continue;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
            line[--n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (dm_utf8_check(s, strlen(s)) != strlen(s)) {
            rules_diag(b, DM_SEV_ERROR, (srcpos){lfile, lineno, 1}, "invalid UTF-8");
            continue;
        }
        rules_list_add(b, l, s, (srcpos){lfile, lineno, 1});
    }
    fclose(fp);
    dm_buf_free(&content);
    dm_buf_free(&full);
}

void rules_set_threshold(rules_build *b, int decline, double v, srcpos pos)
{
    b->thr_pos = pos; /* the last one loaded is the later of the two that count */
    if (decline) {
        b->rs->decline_at = v;
        b->rs->have_decline = 1;
    } else {
        b->rs->accept_at = v;
        b->rs->have_accept = 1;
    }
}

void rules_add_override(rules_build *b, const char *name, int disable, double score,
                        srcpos pos)
{
    override *p = dm_realloc(b->ovr, (b->novr + 1) * sizeof *p);
    if (!p || !(p[b->novr].name = dm_strdup(name))) {
        if (p)
            b->ovr = p;
        rules_oom(b);
        return;
    }
    b->ovr = p;
    p[b->novr].disable = disable;
    p[b->novr].score = score;
    p[b->novr].pos = pos;
    b->novr++;
}

/* ---- ${list} expansion and compiling patterns ----------------------------------- */

typedef struct expansion {
    dm_buf out;
    int *map;
    size_t mapcap;
} expansion;

static int exp_add(expansion *x, const char *s, size_t n, int col)
{
    if (x->out.len + n + 1 > x->mapcap) {
        size_t nc = (x->out.len + n + 1) * 2;
        int *p = dm_realloc(x->map, nc * sizeof *p);
        if (!p)
            return -1;
        x->map = p;
        x->mapcap = nc;
    }
    for (size_t i = 0; i < n; i++)
        x->map[x->out.len + i] = col;
    return dm_buf_add(&x->out, s, n) == DM_OK ? 0 : -1;
}

/* Add one literal entry, every ASCII punctuation escaped. */
static int exp_literal(expansion *x, const char *s, int col)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (c < 0x80 && !alnum && exp_add(x, "\\", 1, col) != 0)
            return -1;
        if (exp_add(x, s, 1, col) != 0)
            return -1;
    }
    return 0;
}

/*
 * company_len() is the length of a company's name without a legal suffix
 * ("Keystone Valve & Fitting Co." is also named "Keystone Valve & Fitting").
 */
static size_t company_len(const char *name)
{
    static const char *const suffixes[] = {" co.", " co", " inc.", " inc", " llc", " ltd.",
                                           " ltd", " gmbh", " corp.", " corp", " corporation",
                                           " company", " plc"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl + 3 && dm_ascii_casecmp(name + n - sl, suffixes[i]) == 0) {
            n -= sl;
            while (n && (name[n - 1] == ',' || name[n - 1] == ' '))
                n--;
            break;
        }
    }
    return n;
}

/* me_entries() collects the normalized entries a ${me.X} stands for. */
static int me_entries(const dm_context *ctx, const char *what, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    /* an unknown X is an error with or without a profile: checked before
     * the ctx test, or lint (which has none) let ${me.colour} through and
     * only binding to a real profile failed */
    if (strcmp(what, "companies") != 0 && strcmp(what, "name") != 0 &&
        strcmp(what, "headline") != 0 && strcmp(what, "industry") != 0)
        return -3;
    if (!ctx)
        return 0;
    const char *raw[64];
    size_t rawlen[64];
    size_t nraw = 0;
    if (strcmp(what, "companies") == 0) {
        for (size_t i = 0; i < dm_me_company_count(ctx) && nraw + 2 <= 64; i++) {
            const char *c = dm_me_company(ctx, i, NULL);
            raw[nraw] = c, rawlen[nraw++] = strlen(c);
            size_t cl = company_len(c);
            if (cl != strlen(c))
                raw[nraw] = c, rawlen[nraw++] = cl;
        }
    } else if (strcmp(what, "name") == 0) {
        const char *nm = dm_me_name(ctx);
        if (nm && *nm) {
            raw[nraw] = nm, rawlen[nraw++] = strlen(nm);
            size_t first = strcspn(nm, " ");
            if (first >= 3 && first < strlen(nm))
                raw[nraw] = nm, rawlen[nraw++] = first;
        }
    } else {
        const char *t = what[0] == 'h' ? dm_me_headline(ctx) : dm_me_industry(ctx);
        if (t && *t)
            raw[nraw] = t, rawlen[nraw++] = strlen(t);
    }
    char **items = dm_calloc(nraw ? nraw : 1, sizeof *items);
    if (!items)
        return -1;
    dm_norm nm;
    dm_norm_init(&nm, 1 << 16);
    int rc = 0;
    for (size_t i = 0; i < nraw && rc == 0; i++) {
        dm_status st = dm_normalize(&nm, raw[i], rawlen[i], 0);
        if (st == DM_ETOOLARGE || (st == DM_OK && nm.text.len == 0))
            continue;
        /* out of memory fails the bind: it used to drop the entry and
         * bind "successfully" to a profile with a company missing */
        if (st != DM_OK || !(items[*n] = dm_strdup(nm.text.data)))
            rc = -1;
        else
            (*n)++;
    }
    dm_norm_free(&nm);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            dm_free(items[i]);
        dm_free(items);
        *n = 0;
        return rc;
    }
    *out = items;
    return 0;
}

static void free_items(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dm_free(items[i]);
    dm_free(items);
}

/* contains_word() is 1 when `needle` occurs in `hay` with no word character around it. */
static int contains_word(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        unsigned char before = p == hay ? ' ' : (unsigned char)p[-1];
        unsigned char after = (unsigned char)p[nl];
        int wb = (before >= 'a' && before <= 'z') || (before >= '0' && before <= '9');
        int wa = (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9');
        if (!wb && !wa)
            return 1;
    }
    return 0;
}

/*
 * expand_var() writes what ${NAME}, ${NAME - me} or ${me.X} stands for:
 * (?<!\w)(?:e1|e2|...)(?!\w), or (?!) for an empty set, which never matches.
 * Returns 0, -1 out of memory, -2 unknown list, -3 bad syntax.
 */
static int expand_var(const dm_ruleset *rs, const char *var, const dm_context *ctx,
                      int *uses_me, expansion *x, int col)
{
    char name[128];
    int minus_me = 0;
    snprintf(name, sizeof name, "%s", var);
    char *dash = strchr(name, '-');
    if (dash) {
        char *rest = dash + 1;
        while (*rest == ' ')
            rest++;
        if (strcmp(rest, "me") != 0)
            return -3;
        minus_me = 1;
        *dash = '\0';
    }
    size_t nl = strlen(name);
    while (nl && name[nl - 1] == ' ')
        name[--nl] = '\0';
    char *nm = name;
    while (*nm == ' ')
        nm++;
    char **items = NULL, **owned = NULL;
    size_t nitems = 0;
    if (strncmp(nm, "me.", 3) == 0) {
        if (minus_me)
            return -3;
        *uses_me = 1;
        int rc = me_entries(ctx, nm + 3, &owned, &nitems);
        if (rc != 0)
            return rc;
        items = owned;
    } else {
        const rlist *l = find_list(rs, nm);
        if (!l)
            return -2;
        items = l->items;
        nitems = l->nitems;
    }
    dm_buf mine;
    dm_buf_init(&mine, 0);
    int rc = 0;
    if (minus_me) {
        *uses_me = 1;
        /* what "me" is about: headline, industry and companies, normalized;
         * out of memory fails (it used to leave entries in that are not) */
        dm_norm n;
        dm_norm_init(&n, 1 << 16);
        const char *parts[3] = {ctx ? dm_me_headline(ctx) : NULL,
                                ctx ? dm_me_industry(ctx) : NULL, NULL};
        size_t nparts = 2 + (ctx ? dm_me_company_count(ctx) : 0);
        for (size_t i = 0; i < nparts && rc == 0; i++) {
            const char *t = i < 2 ? parts[i] : dm_me_company(ctx, i - 2, NULL);
            if (!t)
                continue;
            dm_status st = dm_normalize(&n, t, strlen(t), 0);
            if (st == DM_ETOOLARGE)
                continue;
            if (st != DM_OK || dm_buf_adds(&mine, n.text.data) != DM_OK ||
                dm_buf_addc(&mine, '|') != DM_OK)
                rc = -1;
        }
        dm_norm_free(&n);
    }
    size_t used = 0;
    rc |= exp_add(x, "(?<!\\w)(?:", 10, col);
    for (size_t i = 0; i < nitems && rc == 0; i++) {
        if (minus_me && mine.data && contains_word(mine.data, items[i]))
            continue;
        if (used++)
            rc |= exp_add(x, "|", 1, col);
        rc |= exp_literal(x, items[i], col);
    }
    if (!used)
        /* never matches; the literal after the failing lookahead gives the prefilter
         * something to gate on, so an empty ${me.companies} costs nothing per record */
        rc |= exp_add(x, "(?!)doormanemptyset", 18, col);
    rc |= exp_add(x, ")(?!\\w)", 7, col);
    dm_buf_free(&mine);
    free_items(owned, owned ? nitems : 0);
    return rc ? -1 : 0;
}

/*
 * empty_branch() finds a top-level alternative that is empty (an empty
 * pattern, a leading or trailing '|', or '||'): such a pattern matches
 * every text.  Returns the offset of the '|' (or 0), or -1 when none.
 */
static long empty_branch(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    int depth = 0, in_class = 0;
    size_t branch_start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\') {
            i++;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = 0;
            continue;
        }
        if (c == '[') {
            in_class = 1;
            if (i + 1 < n && p[i + 1] == '^') /* "[^]|]": the ']' is in it too */
                i++;
            if (i + 1 < n && p[i + 1] == ']')
                i++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            depth--;
        } else if (c == '|' && depth == 0) {
            if (i == branch_start)
                return (long)i;
            if (i + 1 == n)
                return (long)i;
            branch_start = i + 1;
        }
    }
    return -1;
}

/* Returns 0, -1 for a pattern that does not compile, -2 out of memory (rcompile.h). */
int rules_compile_regex(rules_build *b, dm_ruleset *rs, regex *re, const dm_context *ctx)
{
    expansion x;
    memset(&x, 0, sizeof x);
    dm_buf_init(&x.out, 1 << 20);
    const char *s = re->src;
    size_t n = strlen(s);
    int in_class = 0, rc = 0;
    size_t class_body = 0; /* a ']' here is in the class: "[]${x}]" (PCRE2) */
    re->uses_me = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int col = re->pat_col + (int)i;
        if (s[i] == '\\' && i + 1 < n) {
            rc = exp_add(&x, s + i, 2, col);
            i++;
            continue;
        }
        if (in_class && s[i] == ']' && i != class_body) {
            in_class = 0;
        } else if (!in_class && s[i] == '[') {
            in_class = 1;
            class_body = i + 1 + (i + 1 < n && s[i + 1] == '^');
        }
        if (!in_class && s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            const char *close = strchr(s + i + 2, '}');
            if (!close) {
                if (b)
                    rules_diag(b, DM_SEV_ERROR, (srcpos){re->pos.file, re->pos.line, col},
                               "'${' without a closing '}'");
                rc = -4;
                break;
            }
            char var[128];
            snprintf(var, sizeof var, "%.*s", (int)(close - (s + i + 2)), s + i + 2);
            int e = expand_var(rs, var, ctx, &re->uses_me, &x, col);
            if (e == -2 || e == -3) {
                if (b)
                    rules_diag(b, DM_SEV_ERROR, (srcpos){re->pos.file, re->pos.line, col},
                               e == -2 ? "unknown list '%s'"
                                       : "bad list reference '${%s}' (write ${NAME}, "
                                         "${NAME - me} or ${me.companies|name|headline|"
                                         "industry})",
                               var);
                rc = -4;
                break;
            }
            rc = e;
            i = (size_t)(close - s);
            continue;
        }
        rc = exp_add(&x, s + i, 1, col);
    }
    if (rc == -1 || rules_out_of_memory(b ? b : &(rules_build){0})) {
        if (b)
            rules_oom(b);
        dm_buf_free(&x.out);
        dm_free(x.map);
        return -2; /* out of memory: bind says DM_ENOMEM, not DM_EREGEX */
    }
    if (rc != 0) {
        dm_buf_free(&x.out);
        dm_free(x.map);
        return -1;
    }
    dm_free(re->expanded);
    dm_free(re->colmap);
    re->explen = x.out.len;
    re->expanded = dm_buf_steal(&x.out);
    re->colmap = x.map;
    if (!re->expanded) {
        if (b)
            rules_oom(b);
        return -2;
    }
    long eb = empty_branch(re->src, n);
    if (eb >= 0) {
        if (b)
            rules_diag(b, DM_SEV_ERROR,
                       (srcpos){re->pos.file, re->pos.line, re->pat_col + (int)eb},
                       n == 0 ? "empty pattern: it matches every text"
                              : "empty alternative: the pattern matches every text");
        return -1;
    }
    int ec;
    PCRE2_SIZE off;
    /* Only the whole match is used, and a capturing group costs the
     * interpreter a copy of its offsets at every backtracking point (the
     * default rules have 600 of them: 17% of matching a 10 KB mail).  A
     * pattern that names groups by number (\1, (?1), (?(1)...)) does not
     * compile without them: it keeps them, and its errors are its own. */
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re->expanded, re->explen,
                                     re->flags | PCRE2_NO_AUTO_CAPTURE, &ec, &off, NULL);
    if (!code)
        code = pcre2_compile((PCRE2_SPTR)re->expanded, re->explen, re->flags, &ec, &off, NULL);
    if (!code) {
        if (b) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            int col = re->pat_col;
            if (re->explen && off < re->explen)
                col = re->colmap[off];
            else if (re->explen)
                col = re->colmap[re->explen - 1] + 1;
            regex_error(b, (srcpos){re->pos.file, re->pos.line, col}, "regex: %s",
                        (const char *)msg);
        }
        return -1;
    }
    /* a pattern that matches the empty string matches every text */
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int empty = md && pcre2_match(code, (PCRE2_SPTR) "", 0, 0, 0, md, NULL) >= 0;
    pcre2_match_data_free(md);
    if (empty) {
        if (b)
            rules_diag(b, DM_SEV_ERROR, re->pos,
                       "the pattern matches the empty string, so it matches every text");
        pcre2_code_free(code);
        return -1;
    }
    /* without JIT, the interpreter runs (lazy_jit: eval compiles it when it
     * is worth it, see match_field()) */
    re->jit = !rs->lazy_jit && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    re->jit_tried = 0;
    re->runs = 0;
    pcre2_code_free(re->code);
    re->code = code;
    return 0;
}

/* ---- whole-ruleset checks -------------------------------------------------------- */

static int rule_index(const dm_ruleset *rs, const char *name)
{
    size_t i = (size_t)(uintptr_t)dm_map_get(&rs->by_name, name);
    return i ? (int)i - 1 : -1;
}

static void resolve_expr(rules_build *b, expr *e, const rule *owner)
{
    if (!e)
        return;
    if (e->kind == E_REF) {
        e->ref = rule_index(b->rs, e->name);
        if (e->ref < 0)
            rules_diag(b, DM_SEV_ERROR, e->pos, "meta rule %s names an unknown rule '%s'",
                       owner->name, e->name);
        else if (&b->rs->rules[e->ref] == owner)
            rules_diag(b, DM_SEV_ERROR, e->pos, "meta rule %s names itself", owner->name);
    }
    for (size_t i = 0; i < e->nkids; i++)
        resolve_expr(b, e->kids[i], owner);
}

/* visit() orders rules so that a meta comes after every rule it names. */
static int visit(rules_build *b, size_t i, unsigned char *state, size_t *out, size_t *nout,
                 size_t *stack, size_t depth);

static int visit_expr(rules_build *b, const expr *e, unsigned char *state, size_t *out,
                      size_t *nout, size_t *stack, size_t depth)
{
    if (e->kind == E_REF && e->ref >= 0) {
        if (state[e->ref] == 1) {
            /* a rule naming itself: resolve_expr() said so already, and one
             * mistake is one error */
            if (depth > 0 && stack[depth - 1] == (size_t)e->ref)
                return -1;
            /* a cycle: name it, from where it starts */
            char path[DM_ERROR_TEXT_MAX] = "";
            size_t k = 0;
            while (k < depth && stack[k] != (size_t)e->ref)
                k++;
            for (; k < depth; k++) {
                strncat(path, b->rs->rules[stack[k]].name, sizeof path - strlen(path) - 1);
                strncat(path, " -> ", sizeof path - strlen(path) - 1);
            }
            strncat(path, e->name, sizeof path - strlen(path) - 1);
            rules_diag(b, DM_SEV_ERROR, e->pos, "meta rules form a cycle: %s", path);
            return -1;
        }
        if (visit(b, (size_t)e->ref, state, out, nout, stack, depth) != 0)
            return -1;
    }
    for (size_t i = 0; i < e->nkids; i++)
        if (visit_expr(b, e->kids[i], state, out, nout, stack, depth) != 0)
            return -1;
    return 0;
}

static int visit(rules_build *b, size_t i, unsigned char *state, size_t *out, size_t *nout,
                 size_t *stack, size_t depth)
{
    if (state[i] == 2)
        return 0;
    state[i] = 1;
    stack[depth] = i;
    rule *r = &b->rs->rules[i];
    if (r->meta && visit_expr(b, r->meta, state, out, nout, stack, depth + 1) != 0) {
        state[i] = 2;
        return -1;
    }
    state[i] = 2;
    out[(*nout)++] = i;
    return 0;
}

static void mark_used(const expr *e, unsigned char *used)
{
    if (e->kind == E_REF && e->ref >= 0)
        used[e->ref] = 1;
    for (size_t i = 0; i < e->nkids; i++)
        mark_used(e->kids[i], used);
}

/* lint_never() warns about conditions that cannot all hold together. */
static void lint_never(rules_build *b, const rule *r)
{
    for (size_t i = 0; i < r->nconds; i++) {
        const cond *a = &r->conds[i];
        for (size_t j = i + 1; j < r->nconds; j++) {
            const cond *c = &r->conds[j];
            int never = 0;
            if (a->kind == C_EMPTY && c->kind == C_MATCH && a->field == c->field)
                never = 1;
            else if (c->kind == C_EMPTY && a->kind == C_MATCH && a->field == c->field)
                never = 1;
            else if (a->kind == C_EMPTY && c->kind == C_NOTEMPTY && a->field == c->field)
                never = 1;
            else if (a->kind == C_NOTEMPTY && c->kind == C_EMPTY && a->field == c->field)
                never = 1;
            else if (a->kind == C_KIND && c->kind == C_KIND && a->rkind != c->rkind)
                never = 1;
            else if (((a->kind == C_KIND && c->kind == C_NOTKIND) ||
                      (a->kind == C_NOTKIND && c->kind == C_KIND)) &&
                     a->rkind == c->rkind)
                never = 1;
            else if (((a->kind == C_FACT && c->kind == C_NOTFACT) ||
                      (a->kind == C_NOTFACT && c->kind == C_FACT)) &&
                     a->num_kind == c->num_kind)
                never = 1;
            else if (((a->kind == C_MATCH && c->kind == C_NOMATCH) ||
                      (a->kind == C_NOMATCH && c->kind == C_MATCH)) && /* either order */
                     a->field == c->field && strcmp(a->re->src, c->re->src) == 0 &&
                     a->re->flags == c->re->flags && a->re->raw == c->re->raw)
                never = 1;
            else if (a->kind == C_NUM && c->kind == C_NUM && a->num_kind == c->num_kind) {
                /* the ranges a and c allow do not meet */
                double alo = -1e300, ahi = 1e300, clo = -1e300, chi = 1e300;
                const cond *q[2] = {a, c};
                double *lo[2] = {&alo, &clo}, *hi[2] = {&ahi, &chi};
                for (int k = 0; k < 2; k++) {
                    switch (q[k]->cmp) {
                    case CMP_EQ: *lo[k] = *hi[k] = q[k]->num; break;
                    case CMP_LT: *hi[k] = q[k]->num - 1e-9; break;
                    case CMP_LE: *hi[k] = q[k]->num; break;
                    case CMP_GT: *lo[k] = q[k]->num + 1e-9; break;
                    case CMP_GE: *lo[k] = q[k]->num; break;
                    case CMP_NE: break;
                    }
                }
                never = alo > chi || clo > ahi;
            }
            if (never)
                rules_diag(b, DM_SEV_WARNING, c->pos,
                           "rule %s can never fire: this condition contradicts the one on "
                           "line %d",
                           r->name, a->pos.line);
        }
    }
    /* 'kind is not' every kind there is (a 'kind is' among them was warned about above) */
    unsigned excluded = 0, all = (1u << DM_KIND_COUNT) - 1;
    for (size_t i = 0; i < r->nconds; i++)
        if (r->conds[i].kind == C_KIND)
            return;
    for (size_t i = 0; i < r->nconds; i++) {
        if (r->conds[i].kind != C_NOTKIND || (excluded | (1u << r->conds[i].rkind)) == excluded)
            continue;
        excluded |= 1u << r->conds[i].rkind;
        if (excluded == all)
            rules_diag(b, DM_SEV_WARNING, r->conds[i].pos,
                       "rule %s can never fire: its 'kind is not' conditions leave no kind",
                       r->name);
    }
}

static dm_status check(rules_build *b)
{
    dm_ruleset *rs = b->rs;
    /* overrides, in the order the files gave them: later ones win */
    for (size_t i = 0; i < b->novr; i++) {
        int k = rule_index(rs, b->ovr[i].name);
        if (k < 0) {
            rules_diag(b, DM_SEV_ERROR, b->ovr[i].pos, "%s names an unknown rule '%s'",
                       b->ovr[i].disable ? "disable" : "score", b->ovr[i].name);
            continue;
        }
        rule *r = &rs->rules[k];
        if (b->ovr[i].disable) {
            r->disabled = 1;
        } else if (r->helper) {
            rules_diag(b, DM_SEV_ERROR, b->ovr[i].pos, "rule %s is a helper and has no score",
                       r->name);
        } else {
            r->score = b->ovr[i].score;
        }
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        rule *r = &rs->rules[i];
        resolve_expr(b, r->meta, r);
        for (size_t k = 0; k < r->nconds; k++) {
            if (r->conds[k].re)
                rules_compile_regex(b, rs, r->conds[k].re, NULL);
            if ((r->conds[k].kind == C_FACT || r->conds[k].kind == C_NOTFACT) &&
                r->conds[k].num_kind == FACT_HISTORY_PITCHED)
                rs->uses_pitched = 1;
        }
        lint_never(b, r);
        if (!r->ntests && !r->disabled)
            rules_diag(b, DM_SEV_WARNING, r->pos, "rule %s has no tests", r->name);
        if (rules_out_of_memory(b))
            return DM_ENOMEM;
    }
    /* evaluation order and cycles */
    unsigned char *state = dm_calloc(rs->nrules + 1, 1);
    size_t *stack = dm_calloc(rs->nrules + 1, sizeof *stack);
    rs->order = dm_calloc(rs->nrules + 1, sizeof *rs->order);
    unsigned char *used = dm_calloc(rs->nrules + 1, 1);
    if (!state || !stack || !rs->order || !used) {
        dm_free(state);
        dm_free(stack);
        dm_free(used);
        return DM_ENOMEM;
    }
    size_t nout = 0;
    for (size_t i = 0; i < rs->nrules; i++)
        visit(b, i, state, rs->order, &nout, stack, 0);
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i].meta)
            mark_used(rs->rules[i].meta, used);
    for (size_t i = 0; i < rs->nrules; i++) {
        const rule *r = &rs->rules[i];
        if (r->helper && !used[i] && !r->disabled)
            rules_diag(b, DM_SEV_WARNING, r->pos,
                       "rule %s is a helper that no meta rule uses: it can never count",
                       r->name);
    }
    dm_free(state);
    dm_free(stack);
    dm_free(used);
    return DM_OK;
}

/* ---- loading ----------------------------------------------------------------------- */

static const char *intern_file(dm_ruleset *rs, const char *path)
{
    char **p = dm_realloc(rs->files, (rs->nfiles + 1) * sizeof *p);
    if (!p)
        return NULL;
    rs->files = p;
    p[rs->nfiles] = dm_strdup(path);
    return p[rs->nfiles] ? p[rs->nfiles++] : NULL;
}

static dm_status load_file(rules_build *b, const char *path)
{
    const char *file = intern_file(b->rs, path);
    if (!file)
        return DM_ENOMEM;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        rules_diag(b, DM_SEV_ERROR, (srcpos){file, 0, 0}, "cannot read: %s", strerror(errno));
        return DM_OK;
    }
    dm_buf text;
    dm_buf_init(&text, RULE_FILE_MAX);
    char chunk[8192];
    size_t n;
    dm_status st = DM_OK;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 && st == DM_OK)
        st = dm_buf_add(&text, chunk, n);
    int rerr = ferror(fp);
    fclose(fp);
    if (st == DM_ETOOLARGE || rerr) {
        rules_diag(b, DM_SEV_ERROR, (srcpos){file, 0, 0},
                   rerr ? "read error" : "rule file larger than 4 MiB");
        dm_buf_free(&text);
        return DM_OK;
    }
    if (st != DM_OK) {
        dm_buf_free(&text);
        return st;
    }
    size_t bad = dm_utf8_check(text.data ? text.data : "", text.len);
    if (bad < text.len) {
        int line = 1;
        const char *ls = text.data;
        for (size_t i = 0; i < bad; i++)
            if (text.data[i] == '\n')
                line++, ls = text.data + i + 1;
        rules_diag(b, DM_SEV_ERROR, (srcpos){file, line, (int)(text.data + bad - ls) + 1},
                   "invalid UTF-8");
        dm_buf_free(&text);
        return DM_OK;
    }
    if (b->cache)
        rules_cache_note(b, b->rs->nfiles - 1, text.data, text.len, 1);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    rules_parse(b, file, dir, text.data ? text.data : "", text.len);
    dm_buf_free(&text);
    return b->oom ? DM_ENOMEM : DM_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rules_path_files(const char *path, char ***out, size_t *n)
{
    struct stat sb;
    *out = NULL;
    *n = 0;
    if (stat(path, &sb) != 0)
        return -1;
    char **names = NULL;
    size_t k = 0;
    if (!S_ISDIR(sb.st_mode)) {
        if (!(names = dm_malloc(sizeof *names)) || !(names[0] = dm_strdup(path))) {
            dm_free(names);
            errno = ENOMEM;
            return -1;
        }
        *out = names;
        *n = 1;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 6, ".rules") != 0 || de->d_name[0] == '.')
            continue;
        char **p = dm_realloc(names, (k + 1) * sizeof *p);
        if (!p) {
            rc = -1;
            break;
        }
        names = p;
        dm_buf full;
        dm_buf_init(&full, 0);
        if (dm_buf_printf(&full, "%s/%s", path, de->d_name) != DM_OK) {
            rc = -1;
            break;
        }
        names[k++] = dm_buf_steal(&full);
    }
    closedir(d);
    if (rc != 0) {
        for (size_t i = 0; i < k; i++)
            dm_free(names[i]);
        dm_free(names);
        errno = ENOMEM;
        return -1;
    }
    if (names)
        qsort(names, k, sizeof *names, cmp_str);
    *out = names;
    *n = k;
    return 0;
}

/* A folder: its *.rules files in name order. */
static dm_status load_path(rules_build *b, const char *path)
{
    char **names;
    size_t n;
    if (rules_path_files(path, &names, &n) != 0) {
        if (errno == ENOMEM)
            return DM_ENOMEM;
        const char *file = intern_file(b->rs, path);
        rules_diag(b, DM_SEV_ERROR, (srcpos){file ? file : "", 0, 0}, "%s", strerror(errno));
        return DM_OK;
    }
    dm_status st = DM_OK;
    for (size_t i = 0; i < n && st == DM_OK; i++)
        st = load_file(b, names[i]);
    for (size_t i = 0; i < n; i++)
        dm_free(names[i]);
    dm_free(names);
    return st;
}

DM_API void dm_ruleset_free(dm_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(&rs->rules[i]);
    dm_free(rs->rules);
    for (size_t i = 0; i < rs->nlists; i++) {
        dm_free(rs->lists[i].name);
        for (size_t k = 0; k < rs->lists[i].nitems; k++)
            dm_free(rs->lists[i].items[k]);
        dm_free(rs->lists[i].items);
    }
    dm_free(rs->lists);
    for (size_t i = 0; i < rs->nfiles; i++)
        dm_free(rs->files[i]);
    dm_free(rs->files);
    dm_map_free(&rs->by_name, NULL);
    dm_map_free(&rs->pitched, NULL);
    dm_free(rs->order);
    dm_prefilter_free(rs->pf);
    dm_free(rs->pf_hits);
    dm_free(rs->pf_spans);
    dm_free(rs->pf_regex);
    dm_free(rs->always);
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mctx);
    dm_free(rs->fired);
    dm_free(rs->fired_bits);
    dm_free(rs->limit);
    dm_free(rs->plain);
    dm_free(rs->gate_rule);
    dm_free(rs->gate_field);
    dm_free(rs->metas);
    dm_free(rs->fired_list);
    for (int f = 0; f < DM_FIELD_COUNT; f++)
        dm_norm_free(&rs->norm[f]);
    dm_record_free(rs->tmp); /* made by history.pitched; it leaked here */
    rules_cache_free(rs->cache);
    dm_free(rs);
}

DM_API dm_status dm_ruleset_load(const char *const *paths, size_t npaths,
                                 const dm_rules_opts *opts, dm_ruleset **out, size_t *nerrors,
                                 dm_error *err)
{
    rules_cache *cache = NULL;
    if (opts && opts->cache_dir && *opts->cache_dir) {
        /* out of memory here only means no cache */
        cache = rules_cache_open(opts->cache_dir, paths, npaths);
        dm_ruleset *cached = NULL;
        if (cache && rules_cache_load(cache, paths, npaths, opts->lazy_jit, &cached) == DM_OK) {
            if (nerrors)
                *nerrors = 0;
            *out = cached;
            return DM_OK;
        }
    }
    dm_ruleset *rs = dm_calloc(1, sizeof *rs);
    if (!rs) {
        rules_cache_free(cache);
        return DM_ENOMEM;
    }
    rs->decline_at = 5;
    rs->accept_at = -2;
    rs->cache = cache; /* freed with rs from here on */
    rules_build b;
    memset(&b, 0, sizeof b);
    b.rs = rs;
    b.cache = cache;
    if (opts) {
        b.diag = opts->diag;
        b.ud = opts->diag_ud;
        rs->lazy_jit = opts->lazy_jit != 0;
    }
    dm_status st = DM_OK;
    for (size_t i = 0; i < npaths && st == DM_OK; i++)
        st = load_path(&b, paths[i]);
    if (st == DM_OK && !b.oom)
        st = check(&b);
    if (st == DM_OK && b.oom)
        st = DM_ENOMEM;
    if (st == DM_OK && rs->accept_at >= rs->decline_at) {
        rules_diag(&b, DM_SEV_ERROR, b.thr_pos,
                   "accept_at (%g) must be below decline_at (%g)", rs->accept_at,
                   rs->decline_at);
    }
    for (size_t i = 0; i < b.novr; i++)
        dm_free(b.ovr[i].name);
    dm_free(b.ovr);
    if (nerrors)
        *nerrors = b.errors;
    if (st == DM_OK && b.errors)
        st = dm_error_set(err, DM_ESYNTAX, npaths ? paths[0] : "", 0, 0,
                          "%zu error%s in the rules", b.errors, b.errors == 1 ? "" : "s");
    if (st != DM_OK) {
        if (st == DM_ENOMEM)
            dm_error_set(err, DM_ENOMEM, NULL, 0, 0, "out of memory");
        dm_ruleset_free(rs);
        return st;
    }
    *out = rs;
    return DM_OK;
}

/* ---- binding to a context: me-patterns and the prefilter ---------------------------- */

void rules_collect_regex(dm_ruleset *rs, regex ***all, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < rs->nrules; i++)
        for (size_t k = 0; k < rs->rules[i].nconds; k++)
            count += rs->rules[i].conds[k].re != NULL;
    *all = dm_calloc(count + 1, sizeof **all);
    *n = 0;
    if (!*all)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        for (size_t k = 0; k < rs->rules[i].nconds; k++)
            if (rs->rules[i].conds[k].re)
                (*all)[(*n)++] = rs->rules[i].conds[k].re;
}

/*
 * worth_gating() says whether a pattern's literals make a useful gate:
 * each must be PREFILTER_MIN_LITERAL bytes long or hold a rare byte; a
 * pattern with a common short literal ("a") may as well always run.
 */
static int worth_gating(char **lits, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(lits[i]) < PREFILTER_MIN_LITERAL && !strpbrk(lits[i], PREFILTER_RARE))
            return 0;
    return n > 0;
}

/*
 * masks() gives each and/or/atleast node whose kids all name rules the
 * bitset of those rules, so that eval decides it with a few word
 * operations instead of walking the kids (a meta like "any pitch" names
 * twenty rules, and every record evaluates every meta).
 */
static int masks(const dm_ruleset *rs, expr *e)
{
    for (size_t i = 0; i < e->nkids; i++)
        if (masks(rs, e->kids[i]) != 0)
            return -1;
    dm_free(e->mask);
    e->mask = NULL;
    if (e->kind != E_AND && e->kind != E_OR && e->kind != E_ATLEAST)
        return 0;
    for (size_t i = 0; i < e->nkids; i++)
        if (e->kids[i]->kind != E_REF || e->kids[i]->ref < 0)
            return 0;
    if (!(e->mask = dm_calloc(rs->fwords, sizeof *e->mask)))
        return -1;
    for (size_t i = 0; i < e->nkids; i++) {
        size_t r = (size_t)e->kids[i]->ref;
        uint64_t bit = (uint64_t)1 << (r % 64);
        if (e->mask[r / 64] & bit) { /* a name given twice counts twice: walk the kids */
            dm_free(e->mask);
            e->mask = NULL;
            return 0;
        }
        e->mask[r / 64] |= bit;
    }
    return 0;
}

/*
 * plan() decides what a record runs.  A rule one of whose conditions is a
 * prefiltered pattern on one field cannot fire unless that pattern's
 * literal occurs there: it is "gated" and runs only when the prefilter
 * says so, which keeps the cost of a record close to the cost of the rules
 * that can match, however many rules there are.
 */
static dm_status plan(dm_ruleset *rs)
{
    dm_free(rs->plain);
    dm_free(rs->gate_rule);
    dm_free(rs->gate_field);
    dm_free(rs->metas);
    dm_free(rs->fired_list);
    dm_free(rs->fired_bits);
    rs->fwords = rs->nrules / 64 + 1;
    rs->fired_bits = dm_calloc(rs->fwords, sizeof *rs->fired_bits);
    rs->plain = dm_calloc(rs->nrules + 1, sizeof *rs->plain);
    rs->metas = dm_calloc(rs->nrules + 1, sizeof *rs->metas);
    rs->fired_list = dm_calloc(rs->nrules + 1, sizeof *rs->fired_list);
    rs->gate_rule = dm_calloc(rs->npf + 1, sizeof *rs->gate_rule);
    rs->gate_field = dm_calloc(rs->npf + 1, sizeof *rs->gate_field);
    if (!rs->plain || !rs->metas || !rs->fired_list || !rs->gate_rule || !rs->gate_field ||
        !rs->fired_bits)
        return DM_ENOMEM;
    for (size_t i = 0; i < rs->npf; i++)
        rs->gate_rule[i] = -1;
    rs->nplain = rs->nmetas = 0;
    rs->gate_fields = 0;
    for (size_t k = 0; k < rs->nrules; k++) {
        size_t i = rs->order[k];
        const rule *r = &rs->rules[i];
        if (r->disabled)
            continue;
        if (r->meta) {
            rs->metas[rs->nmetas++] = i;
            if (masks(rs, r->meta) != 0)
                return DM_ENOMEM;
            continue;
        }
        int gated = 0;
        for (size_t c = 0; c < r->nconds && !gated; c++) {
            const cond *cd = &r->conds[c];
            if (cd->kind == C_MATCH && cd->field >= 0 && cd->re && cd->re->pf_id >= 0) {
                rs->gate_rule[cd->re->pf_id] = (int)i;
                rs->gate_field[cd->re->pf_id] = cd->field;
                rs->gate_fields |= 1u << cd->field;
                gated = 1;
            }
        }
        if (!gated)
            rs->plain[rs->nplain++] = i;
    }
    return DM_OK;
}

/* rules_bind_finish() plans what a record runs and makes eval's scratch space. */
dm_status rules_bind_finish(dm_ruleset *rs)
{
    dm_status st = plan(rs);
    if (st != DM_OK)
        return st;
    size_t words = rs->npf / 64 + 1;
    dm_free(rs->pf_hits);
    rs->pf_hits = dm_calloc(words * DM_FIELD_COUNT, sizeof *rs->pf_hits);
    dm_free(rs->pf_spans);
    rs->pf_spans = dm_calloc((rs->npf + 1) * DM_FIELD_COUNT, sizeof *rs->pf_spans);
    if (!rs->md)
        rs->md = pcre2_match_data_create(8, NULL);
    if (!rs->mctx)
        rs->mctx = pcre2_match_context_create(NULL);
    dm_free(rs->fired);
    dm_free(rs->limit);
    rs->fired = dm_calloc(rs->nrules + 1, 1);
    rs->limit = dm_calloc(rs->nrules + 1, 1);
    if (!rs->pf_hits || !rs->pf_spans || !rs->md || !rs->mctx || !rs->fired || !rs->limit)
        return DM_ENOMEM;
    pcre2_set_match_limit(rs->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(rs->mctx, DEPTH_LIMIT);
    for (int f = 0; f < DM_FIELD_COUNT; f++)
        if (!rs->norm[f].text.max)
            dm_norm_init(&rs->norm[f], 64u << 20);
    dm_map_free(&rs->pitched, NULL); /* keyed by history: another context, other keys */
    return DM_OK;
}

dm_status rules_bind(dm_ruleset *rs, const dm_context *ctx, dm_error *err)
{
    regex **all;
    size_t n;
    /* unbound until this bind succeeds: a bind that fails half way (out of
     * memory) leaves the prefilter freed, and eval must bind again rather
     * than run on it */
    rs->bound = 0;
    if (rs->cache)
        rs->cache->snap = 0; /* what follows replaces the cached bound state */
    rules_collect_regex(rs, &all, &n);
    if (!all)
        return DM_ENOMEM;
    dm_status st = DM_OK;
    for (size_t i = 0; i < n && st == DM_OK; i++) {
        int rc = all[i]->uses_me ? rules_compile_regex(NULL, rs, all[i], ctx) : 0;
        if (rc == -2)
            st = DM_ENOMEM;
        else if (rc != 0)
            st = dm_error_set(err, DM_EREGEX, all[i]->pos.file, all[i]->pos.line,
                              all[i]->pos.col, "cannot compile the pattern with me's profile");
    }
    dm_prefilter_free(rs->pf);
    rs->pf = NULL;
    dm_free(rs->pf_regex);
    dm_free(rs->pf_hits);
    rs->pf_hits = NULL;
    rs->nalways = 0;
    rs->npf = 0;
    rs->pf_regex = dm_calloc(n + 1, sizeof *rs->pf_regex);
    dm_free(rs->always);
    rs->always = dm_calloc(n + 1, sizeof *rs->always);
    if (st == DM_OK && (!rs->pf_regex || !rs->always || dm_prefilter_create(&rs->pf) != DM_OK))
        st = DM_ENOMEM;
    for (size_t i = 0; i < n && st == DM_OK; i++) {
        regex *re = all[i];
        char **lits = NULL;
        size_t nl = 0;
        size_t maxlen = SIZE_MAX;
        re->pf_id = -1;
        if (!re->raw && re->code && !rs->no_prefilter &&
            dm_pattern_analyze(re->expanded, re->explen, (re->flags & PCRE2_EXTENDED) != 0, 1,
                               &lits, &nl, &maxlen) &&
            worth_gating(lits, nl)) {
            re->pf_id = (int)rs->npf;
            re->maxlen = maxlen;
            rs->pf_regex[rs->npf++] = re;
            for (size_t k = 0; k < nl && st == DM_OK; k++)
                st = dm_prefilter_add(rs->pf, lits[k], strlen(lits[k]), (unsigned)re->pf_id);
            dm_literals_free(lits, nl);
        } else {
            dm_literals_free(lits, nl);
            rs->always[rs->nalways++] = re;
        }
    }
    if (st == DM_OK)
        st = dm_prefilter_build(rs->pf);
    if (st == DM_OK)
        st = rules_bind_finish(rs);
    dm_free(all);
    if (st == DM_OK)
        rs->bound = 1;
    else if (st == DM_ENOMEM)
        dm_error_set(err, DM_ENOMEM, NULL, 0, 0, "out of memory");
    return st;
}

DM_API dm_status dm_ruleset_bind(dm_ruleset *rs, const dm_context *ctx, dm_error *err)
{
    return rs->cache ? rules_cache_bind(rs, ctx, err) : rules_bind(rs, ctx, err);
}

DM_API void dm_ruleset_set_prefilter(dm_ruleset *rs, int on)
{
    rs->no_prefilter = !on;
    rs->bound = 0;
}
