/*
 * json.c: the json and jsonl sinks (docs/output.md).
 *
 * Both write one compact object per record, keys in a fixed order: id,
 * kind, source, verdict, score, rules, from, then the other fields that are
 * present.  Missing fields are left out, never null.  The encoder is by
 * hand rather than through jansson's tree: it is one pass over each field,
 * and each record is a single write, so nothing grows with the count.
 *
 * jsonl: one object a line, written as each record arrives; no summary.
 *
 * json: one document, {"records": [...], "summary": {...}}.  The records
 * come first and the summary last because the counts are only known at the
 * end: that way the document streams, each record written as it arrives,
 * instead of being held until dm_sink_finish().
 */
#include "output.h"

#include <stdio.h>
#include <string.h>

/* A JSON writer whose first error sticks, so building a record needs one check. */
typedef struct jw {
    dm_buf *b;
    dm_status st;
} jw;

static void raw(jw *w, const char *p, size_t n)
{
    if (w->st == DM_OK)
        w->st = dm_buf_put(w->b, p, n);
}

static void lit(jw *w, const char *s)
{
    raw(w, s, strlen(s));
}

static void str(jw *w, const char *s, size_t n)
{
    if (w->st == DM_OK)
        w->st = dm_out_json_string(w->b, s, n);
}

static void cstr(jw *w, const char *s)
{
    str(w, s, s ? strlen(s) : 0);
}

static void score(jw *w, double v)
{
    char t[DM_OUT_SCORE_MAX];
    raw(w, t, dm_out_score(v, t));
}

static void count(jw *w, unsigned long long v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", v);
    raw(w, t, (size_t)n);
}

/* `key` is the literal text before the value: ",\"to\":". */
static void field(jw *w, const char *key, const dm_record *rec, dm_field f)
{
    const char *v = dm_record_get(rec, f);
    if (!v)
        return;
    lit(w, key);
    str(w, v, dm_record_len(rec, f));
}

static void rules(jw *w, const dm_result *res)
{
    lit(w, ",\"rules\":[");
    for (size_t i = 0; i < res->nhits; i++) {
        const dm_hit *h = &res->hits[i];
        lit(w, i ? ",{\"name\":" : "{\"name\":");
        cstr(w, h->name);
        lit(w, ",\"score\":");
        score(w, h->score);
        if (h->describe) {
            lit(w, ",\"describe\":");
            cstr(w, h->describe);
        }
        lit(w, "}");
    }
    lit(w, "]");
}

static void from(jw *w, const dm_record *rec)
{
    static const struct {
        dm_field f;
        const char *key;
    } keys[] = {
        {DM_FIELD_FROM_NAME, "\"name\":"},
        {DM_FIELD_FROM_HEADLINE, "\"headline\":"},
        {DM_FIELD_FROM_COMPANY, "\"company\":"},
        {DM_FIELD_FROM_URL, "\"url\":"},
    };
    int any = 0;
    lit(w, ",\"from\":{");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!dm_record_get(rec, keys[i].f))
            continue;
        if (any++)
            lit(w, ",");
        field(w, keys[i].key, rec, keys[i].f);
    }
    lit(w, "}");
}

static void facts(jw *w, unsigned facts)
{
    int any = 0;
    for (unsigned bit = 1; bit; bit <<= 1) {
        const char *name = (facts & bit) ? dm_fact_name(bit) : NULL;
        if (!name)
            continue;
        lit(w, any++ ? "," : ",\"facts\":[");
        cstr(w, name);
    }
    if (any)
        lit(w, "]");
}

static void history(jw *w, const dm_history *h)
{
    if (!h)
        return;
    lit(w, ",\"history\":{\"messages\":");
    count(w, dm_history_messages(h));
    lit(w, ",\"incoming\":");
    count(w, dm_history_incoming(h));
    lit(w, dm_history_weak(h) ? ",\"weak\":true}" : ",\"weak\":false}");
}

static void extras(jw *w, const dm_record *rec)
{
    size_t n = dm_record_extra_count(rec);
    if (!n)
        return;
    lit(w, ",\"extra\":{");
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        dm_record_extra(rec, i, &name, &value);
        if (i)
            lit(w, ",");
        cstr(w, name);
        lit(w, ":");
        cstr(w, value);
    }
    lit(w, "}");
}

/* record_json() appends the record's object (no newline) to `b`. */
static dm_status record_json(dm_buf *b, const dm_record *rec, const dm_result *res)
{
    jw w = {b, DM_OK};
    lit(&w, "{");
    if (dm_record_get(rec, DM_FIELD_ID)) {
        field(&w, "\"id\":", rec, DM_FIELD_ID);
        lit(&w, ",");
    }
    lit(&w, "\"kind\":");
    cstr(&w, dm_kind_name(dm_record_kind(rec)));
    field(&w, ",\"source\":", rec, DM_FIELD_SOURCE);
    lit(&w, ",\"verdict\":");
    cstr(&w, dm_verdict_name(res->verdict));
    lit(&w, ",\"score\":");
    score(&w, res->score);
    rules(&w, res);
    from(&w, rec);
    field(&w, ",\"direction\":", rec, DM_FIELD_DIRECTION);
    field(&w, ",\"to\":", rec, DM_FIELD_TO);
    field(&w, ",\"sent_at\":", rec, DM_FIELD_SENT_AT);
    field(&w, ",\"subject\":", rec, DM_FIELD_SUBJECT);
    field(&w, ",\"message\":", rec, DM_FIELD_MESSAGE);
    if (dm_record_mutual(rec) >= 0) {
        lit(&w, ",\"mutual\":");
        count(&w, (unsigned long long)dm_record_mutual(rec));
    }
    facts(&w, dm_record_facts(rec));
    history(&w, dm_record_history(rec));
    extras(&w, rec);
    lit(&w, "}");
    return w.st;
}

static dm_status jsonl_write(dm_sink *s, const dm_record *rec, const dm_result *res, dm_error *err)
{
    dm_status st = record_json(&s->buf, rec, res);
    if (st == DM_OK)
        st = dm_buf_addc(&s->buf, '\n');
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    return dm_out_flush(s, err);
}

static dm_status jsonl_finish(dm_sink *s, const dm_summary *sum, dm_error *err)
{
    (void)s, (void)sum, (void)err;
    return DM_OK;
}

#define JSON_OPEN "{\"records\": ["

static dm_status json_write(dm_sink *s, const dm_record *rec, const dm_result *res, dm_error *err)
{
    dm_status st = dm_buf_adds(&s->buf, s->written ? ",\n" : JSON_OPEN "\n");
    if (st == DM_OK)
        st = record_json(&s->buf, rec, res);
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    return dm_out_flush(s, err);
}

static dm_status json_finish(dm_sink *s, const dm_summary *sum, dm_error *err)
{
    dm_status st = dm_buf_printf(
        &s->buf,
        "%s], \"summary\": {\"total\":%zu,\"accept\":%zu,\"review\":%zu,\"decline\":%zu,"
        "\"skipped\":%zu}}\n",
        s->written ? "\n" : JSON_OPEN, sum->total, sum->counts[DM_VERDICT_ACCEPT],
        sum->counts[DM_VERDICT_REVIEW], sum->counts[DM_VERDICT_DECLINE], sum->skipped);
    if (st != DM_OK)
        return dm_out_fail(s, st, err);
    return dm_out_flush(s, err);
}

const struct dm_sink_ops dm_out_jsonl_ops = {NULL, jsonl_write, jsonl_finish, NULL};
const struct dm_sink_ops dm_out_json_ops = {NULL, json_write, json_finish, NULL};
