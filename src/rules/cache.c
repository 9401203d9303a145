/*
 * cache.c: the compiled-rules cache (cache.h says what and why).
 *
 * The file: a 64-byte header (magic, format, key, the profile's hash, the
 * payload's length and hash), then the payload, written field by field:
 *
 *   files      every rule and list file the load read: path, content
 *              hash, rule or list (checked before anything else is read)
 *   settings   thresholds, history.pitched in use
 *   lists      name, normalized entries, position
 *   rules      names, scores, tags, conditions (patterns with their source
 *              and expansion, prefilter id and longest match), the meta
 *              expression, the tests, positions (as an index into files)
 *   order      the evaluation order
 *   npf        prefilter ids in use
 *   codes      every pattern's PCRE2 code, pcre2_serialize_encode()d in
 *              groups, each with the indexes of its patterns (w_codes)
 *   prefilter  the automaton: failure links and edges (dm_prefilter_save),
 *              4-byte aligned, used in place from the mapped file
 *
 * The key (and the file name) is a hash of the cache format, doorman's
 * version, PCRE2's and utf8proc's versions, the word size and byte order,
 * the running executable's size and modification time (a rebuilt doorman
 * never reads what an older build wrote) and the load paths.
 */
#include "cache.h"
#include "rcompile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#define CACHE_MAX ((size_t)256 << 20)
#define CACHE_EXPR_DEPTH 256 /* a meta nested deeper is not cached */
#define NO_STR UINT32_MAX

/* ---- the hash (XXH64's construction) ------------------------------------------ */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t round64(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    return rotl(acc, 31) * P1;
}

static uint64_t merge64(uint64_t acc, uint64_t v)
{
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

uint64_t dm_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        for (; end - p >= 32; p += 32) {
            v1 = round64(v1, rd64(p));
            v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16));
            v4 = round64(v4, rd64(p + 24));
        }
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(merge64(merge64(merge64(h, v1), v2), v3), v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)n;
    for (; end - p >= 8; p += 8)
        h = rotl(h ^ round64(0, rd64(p)), 27) * P1 + P4;
    if (end - p >= 4) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        h = rotl(h ^ ((uint64_t)v * P1), 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++)
        h = rotl(h ^ (*p * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}

static uint64_t hash_str(const char *s, uint64_t seed)
{
    return s ? dm_hash64(s, strlen(s), seed) : dm_hash64("", 0, ~seed);
}

/* ---- naming the cache file ---------------------------------------------------- */

/* program_key() is what makes the program: a different one never reads the file. */
static uint64_t program_key(void)
{
    char pcre[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    uint32_t abi[4] = {CACHE_FORMAT, (uint32_t)sizeof(void *), (uint32_t)sizeof(size_t),
                       0x01020304u};
    uint64_t h = dm_hash64(abi, sizeof abi, 0);
    h = hash_str(DM_VERSION, h);
    h = hash_str(pcre, h);
    h = hash_str(utf8proc_version(), h);
    /* the build: a rebuilt doorman may parse, normalize or extract otherwise */
    struct stat sb;
    if (stat("/proc/self/exe", &sb) == 0) {
        int64_t id[4] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec,
                         (int64_t)sb.st_mtim.tv_nsec, (int64_t)sb.st_ino};
        h = dm_hash64(id, sizeof id, h);
    }
    return h;
}

static char *join_path(const char *dir, const char *name)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_buf_printf(&b, "%s/%s", dir, name) != DM_OK) {
        dm_buf_free(&b);
        return NULL;
    }
    return dm_buf_steal(&b);
}

rules_cache *rules_cache_open(const char *dir, const char *const *paths, size_t npaths)
{
    rules_cache *c = dm_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    uint64_t h = program_key();
    h = dm_hash64(&npaths, sizeof npaths, h);
    for (size_t i = 0; i < npaths; i++)
        h = hash_str(paths[i], h);
    c->key = h;
    c->status = DM_CACHE_MISS;
    char name[64];
    snprintf(name, sizeof name, "rules-%016llx.cache", (unsigned long long)h);
    c->dir = dm_strdup(dir);
    c->path = join_path(dir, name);
    if (!c->dir || !c->path) {
        rules_cache_free(c);
        return NULL;
    }
    return c;
}

void rules_cache_free(rules_cache *c)
{
    if (!c)
        return;
    if (c->map)
        munmap(c->map, c->maplen);
    dm_free(c->dir);
    dm_free(c->path);
    dm_free(c->hash);
    dm_free(c->is_rule);
    dm_free(c);
}

/* note_at() makes room for file i; 0, or -1 out of memory. */
static int note_at(rules_cache *c, size_t i)
{
    if (i < c->nhash)
        return 0;
    uint64_t *h = dm_realloc(c->hash, (i + 1) * sizeof *h);
    if (h)
        c->hash = h;
    unsigned char *r = h ? dm_realloc(c->is_rule, i + 1) : NULL;
    if (!r)
        return -1;
    c->is_rule = r;
    for (size_t k = c->nhash; k <= i; k++)
        c->is_rule[k] = 2; /* not read: such a load is not cached */
    c->nhash = i + 1;
    return 0;
}

void rules_cache_note(rules_build *b, size_t i, const void *data, size_t len, int is_rule)
{
    rules_cache *c = b->cache;
    if (!c)
        return;
    if (note_at(c, i) != 0) {
        rules_oom(b);
        return;
    }
    c->hash[i] = dm_hash64(data ? data : "", len, 0);
    c->is_rule[i] = is_rule ? 1 : 0;
}

/* ---- the profile a bind used ----------------------------------------------------- */

/* me_hash() hashes what ${me.*} and ${X - me} read of ctx; a constant when no pattern uses it. */
static uint64_t me_hash(dm_ruleset *rs, const dm_context *ctx)
{
    int uses = 0;
    for (size_t i = 0; i < rs->nrules && !uses; i++)
        for (size_t k = 0; k < rs->rules[i].nconds && !uses; k++)
            uses = rs->rules[i].conds[k].re && rs->rules[i].conds[k].re->uses_me;
    if (!uses)
        return 1;
    uint64_t h = dm_hash64("me", 2, ctx ? 7 : 11);
    if (!ctx)
        return h;
    h = hash_str(dm_me_name(ctx), h);
    h = hash_str(dm_me_headline(ctx), h);
    h = hash_str(dm_me_industry(ctx), h);
    size_t n = dm_me_company_count(ctx);
    h = dm_hash64(&n, sizeof n, h);
    for (size_t i = 0; i < n; i++)
        h = hash_str(dm_me_company(ctx, i, NULL), h);
    return h;
}

/* ---- writing ---------------------------------------------------------------------- */

typedef struct cw {
    dm_buf b;
    const dm_ruleset *rs;
    int bad;
} cw;

static void w_u8(cw *w, unsigned v)
{
    w->bad |= cw_u8(&w->b, v) != DM_OK;
}
static void w_u32(cw *w, uint32_t v)
{
    w->bad |= cw_u32(&w->b, v) != DM_OK;
}
static void w_i32(cw *w, int v)
{
    w_u32(w, (uint32_t)v);
}
static void w_u64(cw *w, uint64_t v)
{
    w->bad |= cw_u64(&w->b, v) != DM_OK;
}
static void w_i64(cw *w, long v)
{
    w_u64(w, (uint64_t)(int64_t)v);
}

static void w_f64(cw *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    w_u64(w, u);
}

static void w_str(cw *w, const char *s)
{
    if (!s) {
        w_u32(w, NO_STR);
        return;
    }
    size_t n = strlen(s);
    if (n >= NO_STR) {
        w->bad = 1;
        return;
    }
    w_u32(w, (uint32_t)n);
    w->bad |= dm_buf_put(&w->b, s, n) != DM_OK;
}

static void w_count(cw *w, size_t n)
{
    if (n >= UINT32_MAX)
        w->bad = 1;
    w_u32(w, (uint32_t)n);
}

/* A position names its file by its index in rs->files. */
static void w_pos(cw *w, srcpos p)
{
    uint32_t idx = NO_STR;
    if (p.file) {
        for (size_t i = 0; i < w->rs->nfiles && idx == NO_STR; i++)
            if (w->rs->files[i] == p.file)
                idx = (uint32_t)i;
        if (idx == NO_STR)
            w->bad = 1; /* not interned: cannot be named */
    }
    w_u32(w, idx);
    w_i32(w, p.line);
    w_i32(w, p.col);
}

static void w_regex(cw *w, const regex *re)
{
    w_str(w, re->src);
    w_str(w, re->expanded);
    if (!re->expanded || strlen(re->expanded) != re->explen || !re->code)
        w->bad = 1;
    w_u32(w, re->flags);
    w_u8(w, (unsigned)re->raw);
    w_u8(w, (unsigned)re->uses_me);
    w_i32(w, re->pf_id);
    w_u64(w, re->maxlen);
    w_pos(w, re->pos);
    w_i32(w, re->pat_col);
}

static void w_expr(cw *w, const expr *e, int depth)
{
    if (depth > CACHE_EXPR_DEPTH) {
        w->bad = 1;
        return;
    }
    w_u8(w, (unsigned)e->kind);
    w_str(w, e->name);
    w_i32(w, e->ref);
    w_i32(w, e->atleast);
    w_pos(w, e->pos);
    w_count(w, e->nkids);
    for (size_t i = 0; i < e->nkids && !w->bad; i++)
        w_expr(w, e->kids[i], depth + 1);
}

static void w_rule(cw *w, const rule *r)
{
    w_str(w, r->name);
    w_str(w, r->describe);
    w_f64(w, r->score);
    w_u8(w, (unsigned)r->has_score);
    w_u8(w, (unsigned)r->helper);
    w_u8(w, (unsigned)r->disabled);
    w_u8(w, (unsigned)r->pitch);
    w_i32(w, r->order);
    w_pos(w, r->pos);
    w_count(w, r->ntags);
    for (size_t i = 0; i < r->ntags; i++)
        w_str(w, r->tags[i]);
    w_count(w, r->nconds);
    for (size_t i = 0; i < r->nconds; i++) {
        const cond *cd = &r->conds[i];
        w_u8(w, (unsigned)cd->kind);
        w_i32(w, cd->field);
        w_i32(w, cd->num_kind);
        w_u8(w, (unsigned)cd->cmp);
        w_f64(w, cd->num);
        w_i32(w, (int)cd->rkind);
        w_pos(w, cd->pos);
        w_u8(w, cd->re != NULL);
        if (cd->re)
            w_regex(w, cd->re);
    }
    w_u8(w, r->meta != NULL);
    if (r->meta)
        w_expr(w, r->meta, 0);
    w_count(w, r->ntests);
    for (size_t i = 0; i < r->ntests; i++) {
        const rtest *t = &r->tests[i];
        w_u8(w, (unsigned)t->hit);
        w_i32(w, t->field);
        w_str(w, t->text);
        w_pos(w, t->pos);
        const rtest_with *x = &t->with;
        w_u8(w, (unsigned)x->given);
        w_i32(w, x->kind);
        w_i64(w, x->mutual);
        w_i64(w, x->incoming);
        w_i64(w, x->outgoing);
        w_count(w, x->ntexts);
        for (size_t k = 0; k < x->ntexts; k++)
            w_str(w, x->texts[k]);
        w_u32(w, x->facts);
        w_u8(w, (unsigned)x->weak);
        w_u8(w, (unsigned)x->connected);
    }
}

/* A group of codes pcre2_serialize_encode() took together (they share their tables). */
typedef struct cgroup {
    uint32_t *idx; /* which patterns, in rules_collect_regex() order */
    size_t n;
    uint8_t *bytes;
    PCRE2_SIZE size;
} cgroup;

static int encode_group(regex **all, cgroup *g)
{
    pcre2_code **codes = dm_malloc((g->n ? g->n : 1) * sizeof *codes);
    if (!codes)
        return -1;
    for (size_t i = 0; i < g->n; i++)
        codes[i] = all[g->idx[i]]->code;
    int rc = pcre2_serialize_encode((const pcre2_code **)codes, (int32_t)g->n, &g->bytes, &g->size,
                                    NULL) < 0
                 ? -1
                 : 0;
    dm_free(codes);
    return rc;
}

/*
 * w_codes() appends every pattern's PCRE2 code, in groups: the count, the
 * patterns' indexes, zeros to an 8-byte boundary, the size, the codes.
 * PCRE2 encodes together only codes that share their character tables:
 * all of them after a compile, but after a load from the cache and a bind
 * to another profile the ${me.*} patterns were compiled anew (the default
 * tables) and the others decoded (a copy), so those are two groups; one
 * group a pattern is the last resort.
 */
static void w_codes(cw *w, regex **all, size_t n)
{
    uint32_t *idx = dm_malloc((n ? n : 1) * sizeof *idx);
    cgroup *g = dm_calloc(n ? n : 1, sizeof *g);
    size_t ng = 0;
    if (!idx || !g) {
        w->bad = 1;
        goto out;
    }
    for (int plan = 0; plan < 3 && !ng; plan++) {
        size_t k = 0;
        if (plan == 0) {
            for (size_t i = 0; i < n; i++)
                idx[k++] = (uint32_t)i;
            g[ng++] = (cgroup){idx, n, NULL, 0};
        } else if (plan == 1) {
            for (int me = 0; me < 2; me++) {
                size_t from = k;
                for (size_t i = 0; i < n; i++)
                    if (all[i]->uses_me == me)
                        idx[k++] = (uint32_t)i;
                if (k > from)
                    g[ng++] = (cgroup){idx + from, k - from, NULL, 0};
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                idx[i] = (uint32_t)i;
                g[ng++] = (cgroup){idx + i, 1, NULL, 0};
            }
        }
        int ok = 1;
        for (size_t i = 0; i < ng && ok; i++)
            ok = g[i].n == 0 || encode_group(all, &g[i]) == 0;
        if (!ok) {
            for (size_t i = 0; i < ng; i++)
                if (g[i].bytes)
                    pcre2_serialize_free(g[i].bytes);
            memset(g, 0, ng * sizeof *g);
            ng = 0;
        }
    }
    if (!ng && n) {
        w->bad = 1;
        goto out;
    }
    w_count(w, ng);
    for (size_t i = 0; i < ng && !w->bad; i++) {
        w_count(w, g[i].n);
        for (size_t k = 0; k < g[i].n; k++)
            w_u32(w, g[i].idx[k]);
        while (!w->bad && w->b.len % 8)
            w_u8(w, 0);
        w_u64(w, g[i].size); /* then the codes, right after: aligned too */
        if (!w->bad && g[i].size)
            w->bad |= dm_buf_add(&w->b, g[i].bytes, g[i].size) != DM_OK;
    }
out:
    for (size_t i = 0; g && i < ng; i++)
        if (g[i].bytes)
            pcre2_serialize_free(g[i].bytes);
    dm_free(g);
    dm_free(idx);
}

static int serialize(dm_ruleset *rs, cw *w)
{
    rules_cache *c = rs->cache;
    regex **all;
    size_t n;
    if (c->nhash != rs->nfiles || !rs->pf || rs->no_prefilter)
        return -1;
    rules_collect_regex(rs, &all, &n);
    if (!all)
        return -1;
    /* the header, filled in at the end */
    static const unsigned char zero[CACHE_HEADER];
    w->bad |= dm_buf_add(&w->b, zero, sizeof zero) != DM_OK;
    w_count(w, rs->nfiles);
    for (size_t i = 0; i < rs->nfiles; i++) {
        if (c->is_rule[i] > 1)
            w->bad = 1;
        w_str(w, rs->files[i]);
        w_u64(w, c->hash[i]);
        w_u8(w, c->is_rule[i]);
    }
    w_f64(w, rs->accept_at);
    w_f64(w, rs->decline_at);
    w_u8(w, (unsigned)rs->have_accept);
    w_u8(w, (unsigned)rs->have_decline);
    w_u8(w, (unsigned)rs->uses_pitched);
    w_count(w, rs->nlists);
    for (size_t i = 0; i < rs->nlists; i++) {
        const rlist *l = &rs->lists[i];
        w_str(w, l->name);
        w_pos(w, l->pos);
        w_count(w, l->nitems);
        for (size_t k = 0; k < l->nitems; k++)
            w_str(w, l->items[k]);
    }
    w_count(w, rs->nrules);
    for (size_t i = 0; i < rs->nrules && !w->bad; i++)
        w_rule(w, &rs->rules[i]);
    for (size_t i = 0; i < rs->nrules; i++)
        w_count(w, rs->order[i]);
    w_count(w, rs->npf);
    if (!w->bad)
        w_codes(w, all, n);
    dm_free(all);
    if (!w->bad)
        w->bad |= dm_prefilter_save(rs->pf, &w->b) != DM_OK;
    return w->bad ? -1 : 0;
}

/* mkdirs() makes `dir` and its parents (mode 0700) when they are missing. */
static int mkdirs(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return S_ISDIR(sb.st_mode) ? 0 : -1;
    char *p = dm_strdup(dir);
    int rc = p ? 0 : -1;
    for (char *s = p ? p + 1 : NULL; s && rc == 0; s = strchr(s + 1, '/')) {
        char keep = *s;
        if (keep != '/' && keep != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            rc = -1;
        *s = keep;
        if (!keep)
            break;
    }
    if (rc == 0 && mkdir(dir, 0700) != 0 && errno != EEXIST)
        rc = -1;
    dm_free(p);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* cache_write() writes rs's bound state for profile hash `me`: 0, or -1. */
static int cache_write(dm_ruleset *rs, uint64_t me)
{
    rules_cache *c = rs->cache;
    cw w;
    memset(&w, 0, sizeof w);
    dm_buf_init(&w.b, CACHE_MAX);
    w.rs = rs;
    int rc = serialize(rs, &w);
    char *tmp = NULL;
    int fd = -1;
    if (rc == 0) {
        unsigned char *h = (unsigned char *)w.b.data;
        uint32_t fmt = CACHE_FORMAT, hsize = CACHE_HEADER;
        uint64_t plen = w.b.len - CACHE_HEADER;
        uint64_t sum = dm_hash64(h + CACHE_HEADER, plen, c->key);
        memcpy(h, CACHE_MAGIC, 8);
        memcpy(h + 8, &fmt, 4);
        memcpy(h + 12, &hsize, 4);
        memcpy(h + CACHE_AT_KEY, &c->key, 8);
        memcpy(h + CACHE_AT_ME, &me, 8);
        memcpy(h + CACHE_AT_LEN, &plen, 8);
        memcpy(h + CACHE_AT_SUM, &sum, 8);
        rc = mkdirs(c->dir);
    }
    if (rc == 0)
        rc = (tmp = join_path(c->dir, ".rules-XXXXXX")) ? 0 : -1;
    if (rc == 0)
        rc = (fd = mkstemp(tmp)) >= 0 ? 0 : -1;
    if (rc == 0)
        rc = fchmod(fd, 0600);
    if (rc == 0)
        rc = write_all(fd, w.b.data, w.b.len);
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    /* rename() replaces the old file at once: a reader sees one or the other */
    if (rc == 0)
        rc = rename(tmp, c->path);
    if (rc != 0 && fd >= 0)
        unlink(tmp);
    dm_free(tmp);
    dm_buf_free(&w.b);
    return rc;
}

dm_status rules_cache_bind(dm_ruleset *rs, const dm_context *ctx, dm_error *err)
{
    rules_cache *c = rs->cache;
    uint64_t me = me_hash(rs, ctx);
    if (c->snap && c->me == me && rs->pf && !rs->no_prefilter) {
        /* the cached (or last) bind was for this very profile: nothing to compile */
        rs->bound = 0;
        dm_status st = rules_bind_finish(rs);
        if (st != DM_OK)
            return dm_error_set(err, st, NULL, 0, 0, "out of memory");
        rs->bound = 1;
        return DM_OK;
    }
    dm_status st = rules_bind(rs, ctx, err);
    if (st != DM_OK || rs->no_prefilter)
        return st;
    c->snap = 1;
    c->me = me;
    c->status = cache_write(rs, me) == 0 ? DM_CACHE_WRITTEN : DM_CACHE_FAILED;
    return DM_OK;
}

DM_API dm_cache_status dm_ruleset_cache_status(const dm_ruleset *rs)
{
    return rs && rs->cache ? (dm_cache_status)rs->cache->status : DM_CACHE_OFF;
}

/* ---- reading ------------------------------------------------------------------------ */

typedef struct rdctx {
    crd r;
    dm_ruleset *rs;
    const unsigned char *base; /* the file's first byte: alignment is counted from it */
} rdctx;

static char *r_str(rdctx *x)
{
    uint32_t n = cr_u32(&x->r);
    if (x->r.bad || n == NO_STR)
        return NULL;
    if (n > (size_t)(x->r.end - x->r.p)) {
        x->r.bad = 1;
        return NULL;
    }
    char *s = dm_strndup((const char *)x->r.p, n);
    if (!s)
        x->r.bad = 1;
    x->r.p += n;
    return s;
}

/* r_str_req() is r_str() where NULL is not a valid value. */
static char *r_str_req(rdctx *x)
{
    char *s = r_str(x);
    if (!s)
        x->r.bad = 1;
    return s;
}

static int r_i32(rdctx *x)
{
    return (int)cr_u32(&x->r);
}

static double r_f64(rdctx *x)
{
    uint64_t u = cr_u64(&x->r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static srcpos r_pos(rdctx *x)
{
    srcpos p = {NULL, 0, 0};
    uint32_t idx = cr_u32(&x->r);
    p.line = r_i32(x);
    p.col = r_i32(x);
    if (idx != NO_STR) {
        if (idx < x->rs->nfiles)
            p.file = x->rs->files[idx];
        else
            x->r.bad = 1;
    }
    return p;
}

/* r_flag() reads a 0 or a 1. */
static int r_flag(rdctx *x)
{
    unsigned v = cr_u8(&x->r);
    if (v > 1)
        x->r.bad = 1;
    return (int)v;
}

/* r_field() reads a dm_field, or FIELD_ANY when `any` allows it. */
static int r_field(rdctx *x, int any)
{
    int f = r_i32(x);
    if (!((f >= 0 && f < DM_FIELD_COUNT) || (any && f == FIELD_ANY)))
        x->r.bad = 1;
    return f;
}

static regex *r_regex(rdctx *x)
{
    regex *re = dm_calloc(1, sizeof *re);
    if (!re) {
        x->r.bad = 1;
        return NULL;
    }
    re->src = r_str_req(x);
    re->expanded = r_str_req(x);
    re->explen = re->expanded ? strlen(re->expanded) : 0;
    re->flags = cr_u32(&x->r);
    re->raw = r_flag(x);
    re->uses_me = r_flag(x);
    re->pf_id = r_i32(x);
    re->maxlen = (size_t)cr_u64(&x->r);
    re->pos = r_pos(x);
    re->pat_col = r_i32(x);
    return re;
}

static expr *r_expr(rdctx *x, int depth)
{
    if (depth > CACHE_EXPR_DEPTH) {
        x->r.bad = 1;
        return NULL;
    }
    expr *e = dm_calloc(1, sizeof *e);
    if (!e) {
        x->r.bad = 1;
        return NULL;
    }
    unsigned kind = cr_u8(&x->r);
    e->kind = (expr_kind)kind;
    e->name = r_str(x);
    e->ref = r_i32(x);
    e->atleast = r_i32(x);
    e->pos = r_pos(x);
    if (kind > E_ATLEAST || (kind == E_REF && (e->ref < 0 || (size_t)e->ref >= x->rs->nrules)))
        x->r.bad = 1;
    size_t n = cr_count(&x->r, 1);
    if (kind == E_REF ? n != 0 : kind == E_NOT ? n != 1 : n == 0)
        x->r.bad = 1;
    if (!x->r.bad && n && !(e->kids = dm_calloc(n, sizeof *e->kids)))
        x->r.bad = 1;
    for (size_t i = 0; i < n && !x->r.bad; i++) {
        e->kids[i] = r_expr(x, depth + 1);
        e->nkids = i + 1;
    }
    return e;
}

static void r_rule(rdctx *x, rule *r)
{
    crd *c = &x->r;
    r->name = r_str_req(x);
    r->describe = r_str(x);
    r->score = r_f64(x);
    r->has_score = r_flag(x);
    r->helper = r_flag(x);
    r->disabled = r_flag(x);
    r->pitch = r_flag(x);
    r->order = r_i32(x);
    r->pos = r_pos(x);
    size_t n = cr_count(c, 4);
    if (!c->bad && n && !(r->tags = dm_calloc(n, sizeof *r->tags)))
        c->bad = 1;
    for (size_t i = 0; i < n && !c->bad; i++, r->ntags++)
        r->tags[i] = r_str_req(x);
    n = cr_count(c, 8);
    if (!c->bad && n && !(r->conds = dm_calloc(n, sizeof *r->conds)))
        c->bad = 1;
    for (size_t i = 0; i < n && !c->bad; i++, r->nconds++) {
        cond *cd = &r->conds[i];
        unsigned kind = cr_u8(c);
        cd->kind = (cond_kind)kind;
        cd->field = r_i32(x);
        cd->num_kind = r_i32(x);
        unsigned cmp = cr_u8(c);
        cd->cmp = (cmp_op)cmp;
        cd->num = r_f64(x);
        int rk = r_i32(x);
        cd->rkind = (dm_kind)rk;
        cd->pos = r_pos(x);
        int has_re = r_flag(x);
        if (has_re && !c->bad)
            cd->re = r_regex(x);
        /* what eval indexes with them */
        int needs_re = kind == C_MATCH || kind == C_NOMATCH;
        int fact = kind == C_NUM || kind == C_FACT || kind == C_NOTFACT;
        if (kind > C_NOTFACT || cmp > CMP_GE || rk < 0 || rk >= DM_KIND_COUNT ||
            needs_re != has_re || (fact && (cd->num_kind < 0 || cd->num_kind >= FACT_COUNT)) ||
            ((needs_re || kind == C_EMPTY || kind == C_NOTEMPTY) &&
             !((cd->field >= 0 && cd->field < DM_FIELD_COUNT) || cd->field == FIELD_ANY)))
            c->bad = 1;
    }
    if (r_flag(x) && !c->bad)
        r->meta = r_expr(x, 0);
    n = cr_count(c, 8);
    if (!c->bad && n && !(r->tests = dm_calloc(n, sizeof *r->tests)))
        c->bad = 1;
    for (size_t i = 0; i < n && !c->bad; i++, r->ntests++) {
        rtest *t = &r->tests[i];
        t->hit = r_flag(x);
        t->field = r_field(x, 0);
        t->text = r_str_req(x);
        t->pos = r_pos(x);
        rtest_with *w = &t->with;
        w->given = r_flag(x);
        w->kind = r_i32(x);
        if (w->kind < -1 || w->kind >= DM_KIND_COUNT)
            c->bad = 1;
        w->mutual = (long)(int64_t)cr_u64(c);
        w->incoming = (long)(int64_t)cr_u64(c);
        w->outgoing = (long)(int64_t)cr_u64(c);
        size_t nt = cr_count(c, 4);
        if (!c->bad && nt && !(w->texts = dm_calloc(nt, sizeof *w->texts)))
            c->bad = 1;
        for (size_t k = 0; k < nt && !c->bad; k++, w->ntexts++)
            w->texts[k] = r_str_req(x);
        w->facts = cr_u32(c);
        w->weak = r_flag(x);
        w->connected = r_flag(x);
        /* a test makes its history message by message: counts past what the
         * parser allows would make dm_ruleset_test() run for ever */
        if (w->mutual < -1 || w->mutual > RTEST_COUNT_MAX || w->incoming < 0 ||
            w->incoming > RTEST_COUNT_MAX || w->outgoing < 0 || w->outgoing > RTEST_COUNT_MAX ||
            w->incoming < (long)w->ntexts)
            c->bad = 1;
    }
}

/* read_file() reads a whole file (at most `max` bytes) into a new buffer. */
static unsigned char *read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    unsigned char *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= max &&
        (buf = dm_malloc((size_t)sb.st_size + 1)) != NULL) {
        size_t want = (size_t)sb.st_size, got = 0;
        while (got < want) {
            ssize_t k = read(fd, buf + got, want - got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (got != want) { /* it changed under us: not what was cached */
            dm_free(buf);
            buf = NULL;
        }
        *len = got;
    }
    close(fd);
    return buf;
}

/*
 * check_files() reads the files part of the payload into rs->files and
 * the cache, then checks them against what a load of `paths` would read
 * now: the same rule files, and every file with the same content.
 */
static int check_files(rdctx *x, rules_cache *c, const char *const *paths, size_t npaths)
{
    dm_ruleset *rs = x->rs;
    size_t n = cr_count(&x->r, 13);
    if (x->r.bad || !n || !(rs->files = dm_calloc(n, sizeof *rs->files)) || note_at(c, n - 1) != 0)
        return -1;
    for (size_t i = 0; i < n && !x->r.bad; i++) {
        rs->files[i] = r_str_req(x);
        rs->nfiles += rs->files[i] != NULL;
        c->hash[i] = cr_u64(&x->r);
        c->is_rule[i] = (unsigned char)r_flag(x);
    }
    if (x->r.bad)
        return -1;
    /* the rule files, in order */
    size_t next = 0;
    int rc = 0;
    for (size_t p = 0; p < npaths && rc == 0; p++) {
        char **names;
        size_t k;
        if (rules_path_files(paths[p], &names, &k) != 0)
            return -1;
        for (size_t i = 0; i < k; i++) {
            while (next < n && !c->is_rule[next])
                next++;
            if (rc == 0 && (next == n || strcmp(rs->files[next], names[i]) != 0))
                rc = -1;
            next++;
            dm_free(names[i]);
        }
        dm_free(names);
    }
    for (; rc == 0 && next < n; next++)
        if (c->is_rule[next])
            rc = -1; /* a rule file that is gone */
    /* every file, as it is now */
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = 0;
        unsigned char *data = read_file(rs->files[i], (size_t)4 << 20, &len);
        if (!data || dm_hash64(data, len, 0) != c->hash[i])
            rc = -1;
        dm_free(data);
    }
    return rc;
}

/* r_codes() decodes the PCRE2 codes into the patterns (w_codes() says how they lie). */
static int r_codes(rdctx *x, regex **all, size_t n, int lazy_jit)
{
    size_t ng = cr_count(&x->r, 16);
    if (x->r.bad || (n == 0) != (ng == 0))
        return -1;
    pcre2_code **codes = dm_calloc(n ? n : 1, sizeof *codes);
    uint32_t *idx = dm_malloc((n ? n : 1) * sizeof *idx);
    int rc = codes && idx ? 0 : -1;
    for (size_t g = 0; g < ng && rc == 0; g++) {
        size_t k = cr_count(&x->r, 4);
        if (k == 0 || k > n)
            rc = -1;
        for (size_t i = 0; i < k && rc == 0; i++) {
            idx[i] = cr_u32(&x->r);
            if (idx[i] >= n || all[idx[i]]->code)
                rc = -1; /* out of range, or in an earlier group */
        }
        while (rc == 0 && !x->r.bad && (size_t)(x->r.p - x->base) % 8)
            cr_u8(&x->r);
        uint64_t size = cr_u64(&x->r);
        if (rc != 0 || x->r.bad || size < 16 || size > (size_t)(x->r.end - x->r.p)) {
            rc = -1;
            break;
        }
        const uint8_t *bytes = x->r.p;
        x->r.p += size;
        /* the checksum vouches for the bytes: PCRE2 reads them unchecked */
        if (pcre2_serialize_get_number_of_codes(bytes) != (int32_t)k ||
            pcre2_serialize_decode(codes, (int32_t)k, bytes, NULL) != (int32_t)k) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < k; i++) {
            regex *re = all[idx[i]];
            if (re->code) { /* the same index twice in this group */
                pcre2_code_free(codes[i]);
                rc = -1;
                continue;
            }
            re->code = codes[i];
            re->jit = !lazy_jit && pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!all[i]->code)
            rc = -1;
    dm_free(codes);
    dm_free(idx);
    return rc;
}

/* restore() reads the rest of the payload (after the files) into x->rs. */
static int restore(rdctx *x, int lazy_jit)
{
    dm_ruleset *rs = x->rs;
    crd *c = &x->r;
    rs->accept_at = r_f64(x);
    rs->decline_at = r_f64(x);
    rs->have_accept = r_flag(x);
    rs->have_decline = r_flag(x);
    rs->uses_pitched = r_flag(x);
    size_t n = cr_count(c, 4);
    if (!c->bad && n && !(rs->lists = dm_calloc(n, sizeof *rs->lists)))
        return -1;
    rs->lcap = n;
    for (size_t i = 0; i < n && !c->bad; i++, rs->nlists++) {
        rlist *l = &rs->lists[i];
        l->name = r_str_req(x);
        l->pos = r_pos(x);
        size_t k = cr_count(c, 4);
        if (!c->bad && k && !(l->items = dm_calloc(k, sizeof *l->items)))
            c->bad = 1;
        for (size_t j = 0; j < k && !c->bad; j++, l->nitems++)
            l->items[j] = r_str_req(x);
    }
    n = cr_count(c, 16);
    if (c->bad || !(rs->rules = dm_calloc(n ? n : 1, sizeof *rs->rules)))
        return -1;
    rs->rcap = n;
    /* rules are counted in as they are read (so a bad one is freed), but
     * metas may name any of them: every ref is checked against n */
    rs->nrules = n;
    for (size_t i = 0; i < n && !c->bad; i++) {
        r_rule(x, &rs->rules[i]);
        if (!c->bad &&
            (rs->rules[i].disabled > 1 || !rs->rules[i].name ||
             dm_map_get(&rs->by_name, rs->rules[i].name) ||
             dm_map_put(&rs->by_name, rs->rules[i].name, (void *)(uintptr_t)(i + 1)) != 0))
            c->bad = 1;
    }
    if (c->bad)
        return -1;
    /* the evaluation order: a permutation */
    unsigned char *seen = dm_calloc(n + 1, 1);
    rs->order = dm_calloc(n + 1, sizeof *rs->order);
    if (!seen || !rs->order) {
        dm_free(seen);
        return -1;
    }
    for (size_t i = 0; i < n && !c->bad; i++) {
        uint32_t o = cr_u32(c);
        if (o >= n || seen[o])
            c->bad = 1;
        else
            seen[o] = 1, rs->order[i] = o;
    }
    dm_free(seen);
    size_t npf = cr_count(c, 0);
    if (c->bad)
        return -1;
    /* the patterns: codes, and their prefilter ids, each used once */
    regex **all;
    size_t nre;
    rules_collect_regex(rs, &all, &nre);
    if (!all)
        return -1;
    if (npf > nre) { /* an id is a pattern's */
        dm_free(all);
        return -1;
    }
    rs->pf_regex = dm_calloc(npf + 1, sizeof *rs->pf_regex);
    rs->always = dm_calloc(nre + 1, sizeof *rs->always);
    int rc = rs->pf_regex && rs->always ? 0 : -1;
    for (size_t i = 0; i < nre && rc == 0; i++) {
        regex *re = all[i];
        if (re->pf_id < -1 ||
            (re->pf_id >= 0 && ((size_t)re->pf_id >= npf || rs->pf_regex[re->pf_id])))
            rc = -1;
        else if (re->pf_id >= 0)
            rs->pf_regex[re->pf_id] = re;
        else
            rs->always[rs->nalways++] = re;
    }
    for (size_t i = 0; i < npf && rc == 0; i++)
        if (!rs->pf_regex[i])
            rc = -1;
    rs->npf = npf;
    if (rc == 0)
        rc = r_codes(x, all, nre, lazy_jit);
    dm_free(all);
    if (rc == 0 && npf > UINT32_MAX - 1)
        rc = -1;
    if (rc == 0)
        rc = dm_prefilter_restore(c, (uint32_t)npf, 1, &rs->pf) == DM_OK ? 0 : -1;
    if (rc == 0 && c->p != c->end)
        rc = -1; /* trailing bytes: not a file this code wrote */
    return rc;
}

/*
 * map_file() maps the cache file read-only.  Mapped, its pages come
 * straight from the page cache, where reading would copy them into as
 * many fresh pages (each a page fault: a few microseconds in a new process,
 * a third of a millisecond for the default rules); and the prefilter's
 * arrays are used where they lie.  The file is only ever replaced by a
 * rename, never rewritten in place, so the mapping stays whole.
 */
static unsigned char *map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    void *p = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= (off_t)CACHE_HEADER &&
        (uint64_t)sb.st_size <= CACHE_MAX) {
        *len = (size_t)sb.st_size;
        p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

dm_status rules_cache_load(rules_cache *c, const char *const *paths, size_t npaths, int lazy_jit,
                           dm_ruleset **out)
{
    size_t len = 0;
    unsigned char *buf = map_file(c->path, &len);
    if (!buf)
        return DM_ENOENT;
    dm_status st = DM_EFORMAT;
    dm_ruleset *rs = NULL;
    uint32_t fmt, hsize;
    uint64_t key, me, plen, sum;
    if (len < CACHE_HEADER || memcmp(buf, CACHE_MAGIC, 8) != 0)
        goto out;
    memcpy(&fmt, buf + 8, 4);
    memcpy(&hsize, buf + 12, 4);
    memcpy(&key, buf + CACHE_AT_KEY, 8);
    memcpy(&me, buf + CACHE_AT_ME, 8);
    memcpy(&plen, buf + CACHE_AT_LEN, 8);
    memcpy(&sum, buf + CACHE_AT_SUM, 8);
    if (fmt != CACHE_FORMAT || hsize != CACHE_HEADER || key != c->key ||
        plen != len - CACHE_HEADER || dm_hash64(buf + CACHE_HEADER, plen, key) != sum)
        goto out;
    if (!(rs = dm_calloc(1, sizeof *rs))) {
        st = DM_ENOMEM;
        goto out;
    }
    rdctx x = {{buf + CACHE_HEADER, buf + len, 0}, rs, buf};
    rs->lazy_jit = lazy_jit != 0;
    if (check_files(&x, c, paths, npaths) != 0 || restore(&x, lazy_jit) != 0 || x.r.bad)
        goto out;
    c->status = DM_CACHE_HIT;
    c->snap = 1;
    c->me = me;
    c->map = buf; /* the prefilter reads from it: unmapped with the ruleset */
    c->maplen = len;
    buf = NULL;
    rs->cache = c;
    *out = rs;
    rs = NULL;
    st = DM_OK;
out:
    dm_ruleset_free(rs); /* what was read; rules past a bad one are still zeroed */
    if (buf)
        munmap(buf, len);
    if (st != DM_OK) { /* the load compiles: what was noted is redone by its parse */
        dm_free(c->hash);
        dm_free(c->is_rule);
        c->hash = NULL;
        c->is_rule = NULL;
        c->nhash = 0;
    }
    return st;
}
