/*
 * sink.c: the sink object every format shares (docs/output.md): format
 * names, argument checks, counting, the write callback, and the text
 * helpers the formats use (scores, UTF-8 repair, JSON strings).
 */
#include "output.h"

#include <math.h>
#include <string.h>

/* Wider tables are clamped: buffered rows keep cells of up to this many code points. */
#define TABLE_WIDTH_DEFAULT 100
#define TABLE_WIDTH_MAX 512

static const char *const format_names[DM_FORMAT_COUNT] = {
    [DM_FORMAT_TABLE] = "table",
    [DM_FORMAT_JSON] = "json",
    [DM_FORMAT_JSONL] = "jsonl",
    [DM_FORMAT_CSV] = "csv",
};

static const struct dm_sink_ops *const format_ops[DM_FORMAT_COUNT] = {
    [DM_FORMAT_TABLE] = &dm_out_table_ops,
    [DM_FORMAT_JSON] = &dm_out_json_ops,
    [DM_FORMAT_JSONL] = &dm_out_jsonl_ops,
    [DM_FORMAT_CSV] = &dm_out_csv_ops,
};

DM_API const char *dm_format_name(dm_format f)
{
    return (unsigned)f < DM_FORMAT_COUNT ? format_names[f] : NULL;
}

DM_API int dm_format_lookup(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < DM_FORMAT_COUNT; i++)
        if (strcmp(format_names[i], name) == 0)
            return i;
    return -1;
}

/* After a failed write every call fails: half a record may be out already. */
static dm_status earlier_failure(const dm_sink *s, dm_error *err)
{
    return dm_error_set(err, DM_EIO, NULL, 0, 0,
                        "cannot write the %s output: an earlier write failed",
                        format_names[s->fmt]);
}

DM_API dm_status dm_sink_create(dm_format fmt, const dm_sink_opts *opts, dm_sink **out)
{
    if ((unsigned)fmt >= DM_FORMAT_COUNT || !opts || !opts->write || !out)
        return DM_EINVAL;
    dm_sink *s = dm_calloc(1, sizeof *s);
    if (!s)
        return DM_ENOMEM;
    s->ops = format_ops[fmt];
    s->fmt = fmt;
    s->opts = *opts;
    if (s->opts.width <= 0)
        s->opts.width = TABLE_WIDTH_DEFAULT;
    if (s->opts.width > TABLE_WIDTH_MAX)
        s->opts.width = TABLE_WIDTH_MAX;
    dm_buf_init(&s->buf, DM_OUT_RECORD_MAX);
    dm_status st = s->ops->init ? s->ops->init(s) : DM_OK;
    if (st != DM_OK) {
        dm_sink_free(s);
        return st;
    }
    *out = s;
    return DM_OK;
}

DM_API dm_status dm_sink_write(dm_sink *s, const dm_record *rec, const dm_result *res,
                               dm_error *err)
{
    if (!s || !rec || !res || (unsigned)res->verdict >= DM_VERDICT_COUNT ||
        (unsigned)dm_record_kind(rec) >= DM_KIND_COUNT || (res->nhits && !res->hits))
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "dm_sink_write: bad argument");
    if (s->finished)
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "dm_sink_write: sink already finished");
    if (s->failed)
        return earlier_failure(s, err);
    dm_status st = s->ops->write(s, rec, res, err);
    if (st == DM_OK) {
        s->written++;
        s->counts[res->verdict]++;
    }
    return st;
}

DM_API dm_status dm_sink_finish(dm_sink *s, const dm_summary *sum, dm_error *err)
{
    if (!s)
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "dm_sink_finish: no sink");
    if (s->finished)
        return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "dm_sink_finish: sink already finished");
    s->finished = 1;
    if (s->failed)
        return earlier_failure(s, err);
    /* Without a summary from the caller, what this sink saw is the summary. */
    dm_summary own;
    if (!sum) {
        memset(&own, 0, sizeof own);
        memcpy(own.counts, s->counts, sizeof own.counts);
        own.total = own.shown = s->written;
        sum = &own;
    }
    return s->ops->finish(s, sum, err);
}

DM_API void dm_sink_free(dm_sink *s)
{
    if (!s)
        return;
    if (s->ops->release)
        s->ops->release(s);
    dm_buf_free(&s->buf);
    dm_free(s);
}

/* ---- helpers for the formats ---- */

dm_status dm_out_emit(dm_sink *s, const char *p, size_t n, dm_error *err)
{
    if (s->failed)
        return earlier_failure(s, err);
    if (n == 0)
        return DM_OK;
    if (s->opts.write(s->opts.write_ud, p, n) != 0) {
        s->failed = 1;
        return dm_error_set(err, DM_EIO, NULL, 0, 0,
                            "cannot write the %s output: the write callback failed",
                            format_names[s->fmt]);
    }
    return DM_OK;
}

dm_status dm_out_flush(dm_sink *s, dm_error *err)
{
    dm_status st = dm_out_emit(s, s->buf.data, s->buf.len, err);
    dm_buf_reset(&s->buf);
    return st;
}

dm_status dm_out_fail(dm_sink *s, dm_status st, dm_error *err)
{
    dm_buf_reset(&s->buf);
    if (st == DM_ETOOLARGE)
        return dm_error_set(err, st, NULL, 0, 0,
                            "cannot write the %s output: a record's text is over %zu MiB",
                            format_names[s->fmt], DM_OUT_RECORD_MAX >> 20);
    return dm_error_set(err, st, NULL, 0, 0, "cannot write the %s output: %s", format_names[s->fmt],
                        dm_strerror(st));
}

size_t dm_out_score(double v, char *out)
{
    if (!isfinite(v))
        v = 0;
    if (fabs(v) >= 1e15) /* no cents left to show */
        return (size_t)snprintf(out, DM_OUT_SCORE_MAX, "%.0f", v);
    long long c = llround(v * 100.0);
    char tmp[DM_OUT_SCORE_MAX];
    size_t n = 0;
    unsigned long long u = c < 0 ? (unsigned long long)-c : (unsigned long long)c;
    unsigned cents = (unsigned)(u % 100);
    u /= 100;
    /* digits backwards into tmp, then copy forwards */
    if (cents) {
        if (cents % 10)
            tmp[n++] = (char)('0' + cents % 10);
        tmp[n++] = (char)('0' + cents / 10);
        tmp[n++] = '.';
    }
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (c < 0)
        tmp[n++] = '-';
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

dm_status dm_out_escape(dm_buf *b, const char *s, size_t n, dm_out_esc_fn esc)
{
    /* `bad` is the next invalid UTF-8 byte; plain runs are copied whole. */
    size_t bad = dm_utf8_check(s, n), run = 0, i = 0;
    while (i < n) {
        /* skip 8 plain bytes at a time: no high bit, no control, no '"' or '\\' */
        while (i + 8 <= n && i + 8 <= bad) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
            uint64_t special = ((w - ones * 0x20) | ((q - ones) & ~q) | ((bs - ones) & ~bs) |
                                (w + ones) | w) &
                               high;
            if (special)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        const char *rep = tmp;
        size_t replen = 0, used = 1;
        if (i == bad) {
            rep = DM_OUT_FFFD, replen = 3;
            bad = i + 1 + dm_utf8_check(s + i + 1, n - i - 1);
        } else if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F || c == 0xC2) {
            used = esc(s, n, i, tmp, &replen);
        } else {
            used = 0;
        }
        if (!used) {
            i++;
            continue;
        }
        dm_status st = dm_buf_put(b, s + run, i - run);
        if (st == DM_OK)
            st = dm_buf_put(b, rep, replen);
        if (st != DM_OK)
            return st;
        i += used;
        run = i;
    }
    return dm_buf_put(b, s + run, i - run);
}

/* JSON: escapes for '"', '\\' and C0 controls; everything else as it is. */
static size_t json_esc(const char *s, size_t n, size_t i, char out[8], size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[i];
    (void)n;
    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    out[0] = '\\';
    *len = 2;
    switch (c) {
    case '"': out[1] = '"'; break;
    case '\\': out[1] = '\\'; break;
    case '\n': out[1] = 'n'; break;
    case '\r': out[1] = 'r'; break;
    case '\t': out[1] = 't'; break;
    case '\b': out[1] = 'b'; break;
    case '\f': out[1] = 'f'; break;
    default:
        memcpy(out + 1, "u00", 3);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        *len = 6;
    }
    return 1;
}

dm_status dm_out_json_string(dm_buf *b, const char *s, size_t n)
{
    if (!s)
        return dm_buf_add(b, "\"\"", 2);
    dm_status st = dm_buf_addc(b, '"');
    if (st == DM_OK)
        st = dm_out_escape(b, s, n, json_esc);
    if (st == DM_OK)
        st = dm_buf_addc(b, '"');
    return st;
}
