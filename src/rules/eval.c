/*
 * eval.c: running a ruleset over a record, explaining the result, and the
 * rules' own tests.
 *
 * Per record, each field is normalized at most once and scanned once by
 * the literal prefilter; PCRE2 then runs only the patterns whose literals
 * occur (and the few that have none), with match and depth limits.  A rule
 * whose pattern hits a limit counts as not matched and is reported.
 */
#include "rcompile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The fields `any` stands for. */
static const dm_field any_fields[] = {DM_FIELD_MESSAGE, DM_FIELD_SUBJECT, DM_FIELD_FROM_NAME,
                                      DM_FIELD_FROM_HEADLINE, DM_FIELD_FROM_COMPANY};
#define NANY (sizeof any_fields / sizeof any_fields[0])

static void reset_record(dm_ruleset *rs)
{
    memset(rs->norm_done, 0, sizeof rs->norm_done);
    memset(rs->pf_done, 0, sizeof rs->pf_done);
}

/* norm() returns the normalized text of a field ("" when missing), made once a record. */
static const dm_norm *norm(dm_ruleset *rs, const dm_record *rec, dm_field f, int with_map,
                           dm_status *st)
{
    int want = with_map ? 2 : 1;
    if (rs->norm_done[f] < want) {
        const char *s = dm_record_get(rec, f);
        *st = dm_normalize(&rs->norm[f], s ? s : "", s ? dm_record_len(rec, f) : 0, with_map);
        if (*st != DM_OK)
            return NULL;
        rs->norm_done[f] = want;
    }
    return &rs->norm[f];
}

/* candidates() returns the prefilter's bitset for a field, scanned once a record. */
static const uint64_t *candidates(dm_ruleset *rs, dm_field f, const dm_norm *n)
{
    size_t words = rs->npf / 64 + 1;
    uint64_t *bits = rs->pf_hits + words * (size_t)f;
    if (!rs->pf_done[f]) {
        memset(bits, 0, words * sizeof *bits);
        dm_prefilter_scan_at(rs->pf, n->text.data ? n->text.data : "", n->text.len, bits,
                             rs->pf_spans + (rs->npf + 1) * (size_t)f);
        dm_prefilter_adapt(rs->pf, n->text.len); /* from the cache: dense once worth it */
        rs->pf_done[f] = 1;
    }
    return bits;
}

typedef struct span {
    int field;
    size_t start, end;
} span;

/*
 * lazy_jit: JIT compiling a pattern of the default rules costs 20-140 us.
 * Matching with PCRE2's interpreter costs about 1 us when the pattern
 * matches early in the text, as most that the prefilter lets through do,
 * and up to 15-100 us a KB for the heavy ones when it does not (JIT: 3 to
 * 5 times less).  Measured on a 10 KB mail, compiling the 50 patterns that
 * ran cost 2.2 ms and saved 0.1; so a pattern is compiled only when it has
 * run this many times (a batch) or meets a text this long (a newsletter).
 */
#define JIT_LONG_TEXT ((size_t)64 << 10)
#define JIT_AFTER_RUNS 64

/*
 * match_field() runs one pattern over one field: 1 match, 0 none, -1 a
 * limit was hit, -2 out of memory.  On a match, *sp gets the span in the
 * original text when want_span.
 */
static int match_field(dm_ruleset *rs, regex *re, const dm_record *rec, dm_field f, int want_span,
                       span *sp)
{
    const char *s;
    size_t len, from = 0, limit = PCRE2_UNSET;
    const dm_norm *n = NULL;
    if (re->raw) {
        s = dm_record_get(rec, f);
        len = dm_record_len(rec, f);
        if (!s)
            return 0;
    } else {
        dm_status st = DM_OK;
        n = norm(rs, rec, f, want_span, &st);
        if (!n)
            return -2;
        s = n->text.data ? n->text.data : "";
        len = n->text.len;
        if (re->pf_id >= 0) {
            const uint64_t *bits = candidates(rs, f, n);
            if (!(bits[re->pf_id / 64] & ((uint64_t)1 << (re->pf_id % 64))))
                return 0;
            /* a match holds one of the literals, so it starts before the
             * last one ends (the offset limit), and when its length is
             * bounded, no more than maxlen bytes before the first one ends:
             * start there, on a character boundary (lookbehinds still see
             * what precedes) */
            const dm_pf_span *at = &rs->pf_spans[(rs->npf + 1) * (size_t)f + (size_t)re->pf_id];
            if (re->maxlen < at->first_end) {
                from = at->first_end - re->maxlen;
                while (from > 0 && ((unsigned char)s[from] & 0xC0) == 0x80)
                    from--;
            }
            if (at->last_end != UINT32_MAX)
                limit = at->last_end - 1;
        }
    }
    if (rs->lazy_jit && !re->jit && !re->jit_tried && !re->raw) {
        /* lazy_jit: compile to machine code once it pays: a long text to
         * scan, or a pattern that keeps running (a batch) */
        size_t todo = (limit == PCRE2_UNSET ? len : limit + 1) - from;
        if (todo >= JIT_LONG_TEXT || ++re->runs >= JIT_AFTER_RUNS) {
            re->jit_tried = 1;
            re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
        }
    }
    pcre2_set_offset_limit(rs->mctx, limit);
    int rc = re->jit && !re->raw
                 ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, from, 0, rs->md, rs->mctx)
                 : pcre2_match(re->code, (PCRE2_SPTR)s, len, from,
                               re->raw ? 0 : PCRE2_NO_UTF_CHECK, rs->md, rs->mctx);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return -1;
    if (rc < 0)
        return 0;
    if (want_span && sp) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
        sp->field = (int)f;
        if (re->raw) {
            sp->start = ov[0];
            sp->end = ov[1];
        } else {
            dm_norm_span(n, ov[0], ov[1], &sp->start, &sp->end);
        }
    }
    return 1;
}

static int match_cond(dm_ruleset *rs, regex *re, int field, const dm_record *rec, int want_span,
                      span *sp)
{
    if (field != FIELD_ANY)
        return match_field(rs, re, rec, (dm_field)field, want_span, sp);
    int limited = 0;
    for (size_t i = 0; i < NANY; i++) {
        int m = match_field(rs, re, rec, any_fields[i], want_span, sp);
        if (m == 1 || m == -2)
            return m;
        if (m == -1)
            limited = 1;
    }
    return limited ? -1 : 0;
}

static int field_empty(dm_ruleset *rs, const dm_record *rec, int field, int *oom)
{
    if (field == FIELD_ANY) {
        for (size_t i = 0; i < NANY; i++)
            if (!field_empty(rs, rec, (int)any_fields[i], oom))
                return 0;
        return 1;
    }
    if (!dm_record_get(rec, (dm_field)field))
        return 1;
    dm_status st = DM_OK;
    const dm_norm *n = norm(rs, rec, (dm_field)field, 0, &st);
    if (!n) {
        *oom = 1;
        return 1;
    }
    return n->text.len == 0;
}

static int cmp_num(cmp_op op, double a, double b)
{
    switch (op) {
    case CMP_EQ: return a == b;
    case CMP_NE: return a != b;
    case CMP_LT: return a < b;
    case CMP_LE: return a <= b;
    case CMP_GT: return a > b;
    case CMP_GE: return a >= b;
    }
    return 0;
}

static int eval_record(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                       int want_spans, span *spans, int *oom);

/*
 * pitched() is 1 when one of the sender's earlier messages hits a rule
 * tagged "pitch".  Computed once per sender and cached.
 */
static int pitched(dm_ruleset *rs, const dm_history *h, const dm_context *ctx, int *oom)
{
    if (!h || dm_history_incoming(h) == 0 || rs->in_pitched)
        return 0;
    char key[32];
    snprintf(key, sizeof key, "%p", (const void *)h);
    uintptr_t cached = (uintptr_t)dm_map_get(&rs->pitched, key);
    if (cached)
        return (int)cached - 1;
    if (!rs->tmp && dm_record_create(&rs->tmp) != DM_OK) {
        *oom = 1;
        return 0;
    }
    int hit = 0;
    rs->in_pitched = 1;
    for (size_t i = 0; !hit && dm_history_text(h, i); i++) {
        const char *t = dm_history_text(h, i);
        dm_record_clear(rs->tmp);
        dm_record_set_kind(rs->tmp, DM_KIND_MESSAGE);
        if (dm_record_set(rs->tmp, DM_FIELD_MESSAGE, t, strlen(t)) != DM_OK) {
            *oom = 1;
            break;
        }
        reset_record(rs);
        eval_record(rs, rs->tmp, ctx, 0, NULL, oom);
        for (size_t r = 0; r < rs->nrules; r++)
            if (rs->rules[r].pitch && rs->fired[r])
                hit = 1;
    }
    rs->in_pitched = 0;
    reset_record(rs);
    if (dm_map_put(&rs->pitched, key, (void *)(uintptr_t)(hit + 1)) != 0)
        *oom = 1;
    return hit;
}

static int fact_value(dm_ruleset *rs, int fact, const dm_record *rec, const dm_context *ctx,
                      double *num, int *oom)
{
    const dm_history *h = dm_record_history(rec);
    unsigned facts = dm_record_facts(rec);
    switch ((fact_id)fact) {
    case FACT_MUTUAL:
        if (dm_record_mutual(rec) < 0)
            return -1; /* unknown: every comparison is false */
        *num = (double)dm_record_mutual(rec);
        return 0;
    case FACT_HISTORY_MESSAGES: *num = (double)dm_history_messages(h); return 0;
    case FACT_HISTORY_INCOMING: *num = (double)dm_history_incoming(h); return 0;
    case FACT_HISTORY_OUTGOING:
        *num = (double)(dm_history_messages(h) - dm_history_incoming(h));
        return 0;
    case FACT_HISTORY_PITCHED: return pitched(rs, h, ctx, oom);
    case FACT_HISTORY_WEAK: return h && dm_history_weak(h);
    case FACT_SPINMAIL: return (facts & DM_FACT_SPINMAIL) != 0;
    case FACT_NO_SENDER_URL: return (facts & DM_FACT_NO_URL) != 0;
    case FACT_CONNECTED: return (facts & DM_FACT_CONNECTED) != 0;
    case FACT_HTML: return (facts & DM_FACT_HTML) != 0;
    case FACT_COUNT: break;
    }
    return 0;
}

/* eval_cond(): 1 holds, 0 does not, -1 a limit was hit. */
static int eval_cond(dm_ruleset *rs, const cond *c, const dm_record *rec, const dm_context *ctx,
                     int want_span, span *sp, int *oom)
{
    double v = 0;
    int m;
    switch (c->kind) {
    case C_MATCH:
    case C_NOMATCH:
        m = match_cond(rs, c->re, c->field, rec, want_span && c->kind == C_MATCH, sp);
        if (m == -2) {
            *oom = 1;
            return 0;
        }
        if (m < 0)
            return -1;
        return c->kind == C_MATCH ? m : !m;
    case C_EMPTY: return field_empty(rs, rec, c->field, oom);
    case C_NOTEMPTY: return !field_empty(rs, rec, c->field, oom);
    case C_KIND: return dm_record_kind(rec) == c->rkind;
    case C_NOTKIND: return dm_record_kind(rec) != c->rkind;
    case C_NUM:
        if (fact_value(rs, c->num_kind, rec, ctx, &v, oom) != 0)
            return 0;
        return cmp_num(c->cmp, v, c->num);
    case C_FACT: return fact_value(rs, c->num_kind, rec, ctx, &v, oom) == 1;
    case C_NOTFACT: return fact_value(rs, c->num_kind, rec, ctx, &v, oom) != 1;
    }
    return 0;
}

static void set_fired(dm_ruleset *rs, size_t i)
{
    rs->fired[i] = 1;
    rs->fired_bits[i / 64] |= (uint64_t)1 << (i % 64);
    rs->fired_list[rs->nfired++] = i;
}

/* masked() counts the rules of a node's mask that fired. */
static size_t masked(const dm_ruleset *rs, const uint64_t *mask)
{
    size_t n = 0;
    for (size_t w = 0; w < rs->fwords; w++)
        for (uint64_t m = rs->fired_bits[w] & mask[w]; m; m &= m - 1)
            n++;
    return n;
}

static int eval_expr(const dm_ruleset *rs, const expr *e)
{
    if (e->mask) {
        uint64_t any = 0, all = 1;
        switch (e->kind) {
        case E_AND:
            for (size_t w = 0; w < rs->fwords; w++)
                all &= (rs->fired_bits[w] & e->mask[w]) == e->mask[w];
            return (int)all;
        case E_OR:
            for (size_t w = 0; w < rs->fwords; w++)
                any |= rs->fired_bits[w] & e->mask[w];
            return any != 0;
        case E_ATLEAST: return masked(rs, e->mask) >= (size_t)e->atleast;
        default: break;
        }
    }
    switch (e->kind) {
    case E_REF: return e->ref >= 0 && rs->fired[e->ref];
    case E_NOT: return !eval_expr(rs, e->kids[0]);
    case E_AND:
        for (size_t i = 0; i < e->nkids; i++)
            if (!eval_expr(rs, e->kids[i]))
                return 0;
        return 1;
    case E_OR:
        for (size_t i = 0; i < e->nkids; i++)
            if (eval_expr(rs, e->kids[i]))
                return 1;
        return 0;
    case E_ATLEAST: {
        int n = 0;
        for (size_t i = 0; i < e->nkids && n < e->atleast; i++)
            n += eval_expr(rs, e->kids[i]);
        return n >= e->atleast;
    }
    }
    return 0;
}

/* eval_rule() decides one rule that is not a meta: every condition must hold. */
static void eval_rule(dm_ruleset *rs, size_t i, const dm_record *rec, const dm_context *ctx,
                      int want_spans, span *spans, int *oom)
{
    const rule *r = &rs->rules[i];
    int ok = 1;
    span sp = {-1, 0, 0}, got = {-1, 0, 0};
    for (size_t c = 0; c < r->nconds && ok; c++) {
        int v = eval_cond(rs, &r->conds[c], rec, ctx, want_spans, &sp, oom);
        if (v < 0) {
            rs->limit[i] = 1;
            rs->any_limit = 1;
            ok = 0;
        } else {
            ok = v;
            if (v && want_spans && got.field < 0 && sp.field >= 0)
                got = sp;
        }
    }
    if (ok)
        set_fired(rs, i);
    if (spans)
        spans[i] = got;
}

/*
 * eval_record() fills rs->fired, rs->limit and rs->fired_list: the rules
 * without a gate, then the gated rules the prefilter names (see plan() in
 * compile.c), then the metas in order.
 */
static int eval_record(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                       int want_spans, span *spans, int *oom)
{
    memset(rs->fired, 0, rs->nrules);
    memset(rs->fired_bits, 0, rs->fwords * sizeof *rs->fired_bits);
    memset(rs->limit, 0, rs->nrules);
    rs->nfired = 0;
    rs->any_limit = 0;
    for (size_t k = 0; k < rs->nplain && !*oom; k++)
        eval_rule(rs, rs->plain[k], rec, ctx, want_spans, spans, oom);
    size_t words = rs->npf / 64 + 1;
    for (int f = 0; f < DM_FIELD_COUNT && !*oom; f++) {
        if (!(rs->gate_fields & (1u << f)) || !dm_record_get(rec, (dm_field)f))
            continue;
        dm_status st = DM_OK;
        const dm_norm *n = norm(rs, rec, (dm_field)f, want_spans, &st);
        if (!n) {
            *oom = 1;
            break;
        }
        const uint64_t *bits = candidates(rs, (dm_field)f, n);
        for (size_t w = 0; w < words && !*oom; w++) {
            for (uint64_t m = bits[w]; m; m &= m - 1) {
                size_t id = w * 64 + (size_t)__builtin_ctzll(m);
                if (id < rs->npf && rs->gate_rule[id] >= 0 && rs->gate_field[id] == f &&
                    !rs->fired[rs->gate_rule[id]])
                    eval_rule(rs, (size_t)rs->gate_rule[id], rec, ctx, want_spans, spans, oom);
            }
        }
    }
    for (size_t k = 0; k < rs->nmetas; k++) {
        size_t i = rs->metas[k];
        if (eval_expr(rs, rs->rules[i].meta))
            set_fired(rs, i);
    }
    return *oom ? -1 : 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static dm_status add_hit(dm_result *res, const rule *r, const span *sp)
{
    if (res->nhits == res->cap) {
        size_t nc = res->cap ? res->cap * 2 : 8;
        dm_hit *p = dm_realloc(res->hits, nc * sizeof *p);
        if (!p)
            return DM_ENOMEM;
        res->hits = p;
        res->cap = nc;
    }
    dm_hit *h = &res->hits[res->nhits++];
    h->name = r->name;
    h->score = r->score;
    h->describe = r->describe;
    h->field = sp ? sp->field : -1;
    h->start = sp && sp->field >= 0 ? sp->start : 0;
    h->end = sp && sp->field >= 0 ? sp->end : 0;
    res->score += r->score;
    return DM_OK;
}

static dm_status add_limited(dm_result *res, const char *name)
{
    if (res->nlimited == res->limcap) {
        size_t nc = res->limcap ? res->limcap * 2 : 4;
        const char **p = dm_realloc(res->limited, nc * sizeof *p);
        if (!p)
            return DM_ENOMEM;
        res->limited = p;
        res->limcap = nc;
    }
    res->limited[res->nlimited++] = name;
    return DM_OK;
}

static dm_status run(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                     dm_result *res, int want_spans, dm_error *err)
{
    if (!rs->bound) {
        dm_status st = dm_ruleset_bind(rs, ctx, err);
        if (st != DM_OK)
            return st;
    }
    res->nhits = 0;
    res->nlimited = 0;
    res->score = 0;
    int oom = 0;
    span *spans = NULL;
    if (want_spans) {
        spans = dm_calloc(rs->nrules + 1, sizeof *spans);
        if (!spans)
            return dm_error_set(err, DM_ENOMEM, NULL, 0, 0, "out of memory");
        /* metas match no text: their hits must say field -1, not 0 (id) */
        for (size_t i = 0; i < rs->nrules; i++)
            spans[i].field = -1;
    }
    reset_record(rs);
    if (rs->uses_pitched)
        pitched(rs, dm_record_history(rec), ctx, &oom); /* before: it reuses the scratch */
    eval_record(rs, rec, ctx, want_spans, spans, &oom);
    dm_status st = oom ? DM_ENOMEM : DM_OK;
    /* hits in rule order, from the few that fired rather than from every rule */
    qsort(rs->fired_list, rs->nfired, sizeof *rs->fired_list, cmp_size);
    for (size_t k = 0; k < rs->nfired && st == DM_OK; k++) {
        const rule *r = &rs->rules[rs->fired_list[k]];
        if (!r->helper)
            st = add_hit(res, r, spans ? &spans[rs->fired_list[k]] : NULL);
    }
    for (size_t i = 0; i < rs->nrules && st == DM_OK && rs->any_limit; i++)
        if (rs->limit[i])
            st = add_limited(res, rs->rules[i].name);
    dm_free(spans);
    reset_record(rs);
    if (st != DM_OK)
        return dm_error_set(err, st, NULL, 0, 0, "out of memory");
    res->verdict = dm_verdict_for(res->score, rs->accept_at, rs->decline_at);
    return DM_OK;
}

DM_API dm_status dm_ruleset_eval(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                                 dm_result *res, dm_error *err)
{
    return run(rs, rec, ctx, res, 0, err);
}

DM_API dm_status dm_ruleset_explain(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                                    dm_result *res, dm_error *err)
{
    return run(rs, rec, ctx, res, 1, err);
}

DM_API double dm_ruleset_decline_at(const dm_ruleset *rs) { return rs->decline_at; }
DM_API double dm_ruleset_accept_at(const dm_ruleset *rs) { return rs->accept_at; }

DM_API size_t dm_ruleset_count(const dm_ruleset *rs)
{
    size_t n = 0;
    for (size_t i = 0; i < rs->nrules; i++)
        n += !rs->rules[i].disabled;
    return n;
}

DM_API size_t dm_ruleset_pattern_stats(const dm_ruleset *rs, size_t *filtered, size_t *always)
{
    if (filtered)
        *filtered = rs->npf;
    if (always)
        *always = rs->nalways;
    return rs->pf ? dm_prefilter_size(rs->pf) : 0;
}

/* ---- the rules' own tests ------------------------------------------------------- */

/* The profile in-rule tests run against (docs/rules.md). */
static dm_status test_profile(dm_context **out)
{
    dm_context *ctx;
    dm_status st = dm_context_create(&ctx);
    if (st != DM_OK)
        return st;
    st = dm_me_set(ctx, "Pat Example", "Leadership coach for frontline supervisors",
                   "Business Consulting and Services");
    if (st == DM_OK)
        st = dm_me_add_company(ctx, "Example Leadership Partners", 1);
    if (st == DM_OK)
        st = dm_me_add_company(ctx, "Acme Valve & Fitting Co.", 0);
    if (st == DM_OK)
        st = dm_me_add_company(ctx, "Northwind Staffing Solutions", 0);
    if (st != DM_OK) {
        dm_context_free(ctx);
        return st;
    }
    *out = ctx;
    return DM_OK;
}

/*
 * meta_kind() is the kind a meta's first rule (not under a 'not') asks
 * for, or -1.  A meta has no 'when' of its own, so its tests ran as an
 * invitation, and a meta over "kind is message" helpers could not have a
 * test that hits.  Metas form no cycle once loaded; depth is a guard.
 */
static int meta_kind(const dm_ruleset *rs, const expr *e, int depth)
{
    if (depth > 64 || e->kind == E_NOT)
        return -1;
    if (e->kind == E_REF) {
        if (e->ref < 0)
            return -1;
        const rule *r = &rs->rules[e->ref];
        for (size_t i = 0; i < r->nconds; i++)
            if (r->conds[i].kind == C_KIND)
                return (int)r->conds[i].rkind;
        return r->meta ? meta_kind(rs, r->meta, depth + 1) : -1;
    }
    for (size_t i = 0; i < e->nkids; i++) {
        int k = meta_kind(rs, e->kids[i], depth + 1);
        if (k >= 0)
            return k;
    }
    return -1;
}

static dm_kind test_kind(const dm_ruleset *rs, const rule *r)
{
    for (size_t i = 0; i < r->nconds; i++)
        if (r->conds[i].kind == C_KIND)
            return r->conds[i].rkind;
    int k = r->meta ? meta_kind(rs, r->meta, 0) : -1;
    return k >= 0 ? (dm_kind)k : DM_KIND_INVITATION;
}

/* The sender of a test whose 'with' needs one (docs/rules.md, Tests). */
#define TEST_SENDER_URL "https://www.linkedin.com/in/test-sender"
#define TEST_SENDER_NAME "Test Sender"

/*
 * test_record() fills `rec` for one test: its kind, its text in its field,
 * and what its 'with' gives, the way a run gets it.  Facts a reader finds
 * (spinmail, no_sender_url, html, mutual) are set on the record as readers
 * set them; history and connections go into a context of the test's own,
 * *tctx (made here, on the test profile), message by message and reach the
 * record through dm_context_attach(), so that history.pitched runs the
 * ruleset over the history's texts as it does in triage.
 */
static dm_status test_record(const dm_ruleset *rs, const rule *r, const rtest *tc,
                             dm_record *rec, dm_context **tctx)
{
    const rtest_with *w = &tc->with;
    dm_record_clear(rec);
    dm_record_set_kind(rec, w->kind >= 0 ? (dm_kind)w->kind : test_kind(rs, r));
    dm_status st = dm_record_set(rec, (dm_field)tc->field, tc->text, strlen(tc->text));
    if (st != DM_OK || !w->given)
        return st;
    dm_record_set_mutual(rec, w->mutual);
    dm_record_add_facts(rec, w->facts);
    if (!w->connected && w->incoming + w->outgoing == 0)
        return DM_OK;
    /* the sender: a profile URL unless the record has none; the name when
     * the join is on it (no URL, or history.weak) */
    const char *url = dm_record_get(rec, DM_FIELD_FROM_URL);
    if (!url && !(w->facts & DM_FACT_NO_URL) && !w->weak) {
        url = TEST_SENDER_URL;
        st = dm_record_set(rec, DM_FIELD_FROM_URL, url, strlen(url));
    }
    if (url && !*url)
        url = NULL;
    const char *name = dm_record_get(rec, DM_FIELD_FROM_NAME);
    if (st == DM_OK && !name && (!url || w->weak)) {
        name = TEST_SENDER_NAME;
        st = dm_record_set(rec, DM_FIELD_FROM_NAME, name, strlen(name));
    }
    if (st == DM_OK)
        st = test_profile(tctx);
    /* DM_EINVAL: no URL and from.name "", nobody to join on; a run skips
     * such a message too (dm_context_finish()) */
    const char *hurl = w->weak ? NULL : url;
    for (long i = 0; st == DM_OK && i < w->incoming; i++)
        st = dm_context_add_message(*tctx, hurl, name, 1,
                                    (size_t)i < w->ntexts ? w->texts[i] : NULL);
    for (long i = 0; st == DM_OK && i < w->outgoing; i++)
        st = dm_context_add_message(*tctx, hurl, name, 0, NULL);
    if (st == DM_EINVAL)
        st = DM_OK;
    if (st == DM_OK && w->connected)
        st = dm_context_add_connection(*tctx, url, name);
    if (st == DM_EINVAL)
        st = DM_OK;
    if (st == DM_OK)
        dm_context_attach(*tctx, rec);
    return st;
}

/* desc_add() appends one item of with_desc(), after ", " when not the first. */
static void desc_add(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void desc_add(char *out, size_t n, const char *fmt, ...)
{
    size_t len = strlen(out);
    if (len + 1 >= n)
        return;
    if (strcmp(out, " with") != 0)
        len += (size_t)snprintf(out + len, n - len, ",");
    if (len + 1 >= n)
        return;
    out[len++] = ' ';
    out[len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + len, n - len, fmt, ap);
    va_end(ap);
}

/*
 * with_desc() writes a test's 'with' as it could have been written, for
 * the failure message: " with kind=message, mutual=12, connected".
 */
static void with_desc(const rtest_with *w, char *out, size_t n)
{
    out[0] = '\0';
    if (!w->given)
        return;
    snprintf(out, n, " with");
    if (w->kind >= 0)
        desc_add(out, n, "kind=%s", dm_kind_name((dm_kind)w->kind));
    if (w->mutual >= 0)
        desc_add(out, n, "mutual=%ld", w->mutual);
    if (w->incoming > (long)w->ntexts) /* else the texts say it */
        desc_add(out, n, "history.incoming=%ld", w->incoming);
    if (w->outgoing)
        desc_add(out, n, "history.outgoing=%ld", w->outgoing);
    for (size_t i = 0; i < w->ntexts; i++)
        desc_add(out, n, "history.text=\"%.40s%s\"", w->texts[i],
                 strlen(w->texts[i]) > 40 ? "..." : "");
    if (w->weak)
        desc_add(out, n, "history.weak");
    if (w->facts & DM_FACT_SPINMAIL)
        desc_add(out, n, "spinmail");
    if (w->facts & DM_FACT_NO_URL)
        desc_add(out, n, "no_sender_url");
    if (w->facts & DM_FACT_HTML)
        desc_add(out, n, "html");
    if (w->connected)
        desc_add(out, n, "connected");
}

DM_API dm_status dm_ruleset_test(dm_ruleset *rs, dm_diag_fn cb, void *ud, size_t *passed,
                                 size_t *failed, dm_error *err)
{
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    size_t ok = 0, bad = 0;
    dm_status st = test_profile(&ctx);
    if (st == DM_OK)
        st = dm_record_create(&rec);
    if (st == DM_OK) /* the test profile's bind is no user's: never cached */
        st = rules_bind(rs, ctx, err);
    int oom = 0;
    for (size_t i = 0; i < rs->nrules && st == DM_OK; i++) {
        const rule *r = &rs->rules[i];
        if (r->disabled)
            continue;
        for (size_t t = 0; t < r->ntests && st == DM_OK; t++) {
            const rtest *tc = &r->tests[t];
            dm_context *tctx = NULL;
            st = test_record(rs, r, tc, rec, &tctx);
            if (st != DM_OK) {
                dm_context_free(tctx);
                break;
            }
            /* the pitched cache is keyed by history: this test's is new */
            dm_map_free(&rs->pitched, NULL);
            reset_record(rs);
            if (dm_record_history(rec)) /* before: it reuses the scratch (run()) */
                pitched(rs, dm_record_history(rec), tctx, &oom);
            eval_record(rs, rec, tctx ? tctx : ctx, 0, NULL, &oom);
            reset_record(rs);
            dm_map_free(&rs->pitched, NULL);
            dm_context_free(tctx);
            if (oom) {
                st = DM_ENOMEM;
                break;
            }
            int fired = rs->fired[i];
            if (!rs->limit[i] && fired == tc->hit) {
                ok++;
                continue;
            }
            bad++;
            dm_error e;
            memset(&e, 0, sizeof e);
            e.code = DM_ESYNTAX;
            e.line = tc->pos.line;
            e.column = tc->pos.col;
            snprintf(e.source, sizeof e.source, "%s", tc->pos.file);
            snprintf(e.text, sizeof e.text, "rule %s: %s on %s \"%.120s\"%s", r->name,
                     rs->limit[i] ? "hit the PCRE2 match limit"
                     : tc->hit    ? "expected a hit, but it did not fire"
                                  : "expected a miss, but it fired",
                     dm_field_name((dm_field)tc->field), tc->text,
                     strlen(tc->text) > 120 ? "..." : "");
            size_t len = strlen(e.text);
            with_desc(&tc->with, e.text + len, sizeof e.text - len); /* " with ..." */
            if (cb)
                cb(ud, DM_SEV_ERROR, &e);
        }
    }
    dm_record_free(rec);
    /* leave the ruleset unbound: the next eval binds it to the caller's context */
    rs->bound = 0;
    dm_context_free(ctx);
    if (passed)
        *passed = ok;
    if (failed)
        *failed = bad;
    if (st == DM_ENOMEM)
        dm_error_set(err, DM_ENOMEM, NULL, 0, 0, "out of memory");
    return st;
}
