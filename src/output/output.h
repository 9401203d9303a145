/*
 * output.h: what the sinks (docs/output.md) share: the sink object and its
 * per-format operations, the one way bytes leave the library, the score
 * formatter, and text cleaning (invalid UTF-8 becomes U+FFFD).
 * Internal: sink.c, table.c, json.c and csv.c include it.
 */
#ifndef DM_OUTPUT_H
#define DM_OUTPUT_H

#include "core.h"

/* The bytes of one record's text (or one table line) a sink builds at most. */
#define DM_OUT_RECORD_MAX ((size_t)64 << 20)

/* Room for any score dm_out_score() writes, with its NUL. */
#define DM_OUT_SCORE_MAX 32

struct dm_sink_ops {
    dm_status (*init)(dm_sink *s);
    dm_status (*write)(dm_sink *s, const dm_record *rec, const dm_result *res, dm_error *err);
    /* `sum` is never NULL here: sink.c makes one from its own counts. */
    dm_status (*finish)(dm_sink *s, const dm_summary *sum, dm_error *err);
    void (*release)(dm_sink *s); /* frees `impl`; may be NULL */
};

struct dm_sink {
    const struct dm_sink_ops *ops;
    dm_format fmt;
    dm_sink_opts opts; /* width already defaulted and clamped */
    dm_buf buf;        /* one record's text, reused between records */
    size_t written;    /* records given to dm_sink_write */
    size_t counts[DM_VERDICT_COUNT];
    int finished, failed;
    void *impl; /* the format's own state */
};

extern const struct dm_sink_ops dm_out_table_ops;
extern const struct dm_sink_ops dm_out_json_ops;
extern const struct dm_sink_ops dm_out_jsonl_ops;
extern const struct dm_sink_ops dm_out_csv_ops;

/*
 * dm_out_emit() passes `n` bytes to the sink's write callback.  A failure
 * there is DM_EIO, and every later call on the sink fails at once.
 */
dm_status dm_out_emit(dm_sink *s, const char *p, size_t n, dm_error *err);

/* dm_out_flush() emits s->buf and empties it. */
dm_status dm_out_flush(dm_sink *s, dm_error *err);

/*
 * dm_out_fail() turns a status from building text (DM_ENOMEM, DM_ETOOLARGE)
 * into an error naming the format.
 */
dm_status dm_out_fail(dm_sink *s, dm_status st, dm_error *err);

/*
 * dm_out_score() writes `v` rounded to 2 decimals without trailing zeros
 * ("7.5", "3", "-2.25") into `out` (DM_OUT_SCORE_MAX bytes) and returns its
 * length.  -0 prints as "0"; NaN and infinities, which JSON cannot carry,
 * print as "0".
 */
size_t dm_out_score(double v, char *out);

/*
 * dm_out_escape() appends s[0..n) with each invalid UTF-8 byte replaced by
 * U+FFFD, and asks `esc` about each byte some format may change: C0
 * controls, '"', '\', DEL, and 0xC2 (the lead byte of the C1 controls).
 * `esc` writes the replacement into `out`, sets *len and returns how many
 * input bytes it replaces, or returns 0 to keep the byte as it is.
 */
typedef size_t (*dm_out_esc_fn)(const char *s, size_t n, size_t i, char out[8], size_t *len);
dm_status dm_out_escape(dm_buf *b, const char *s, size_t n, dm_out_esc_fn esc);

/*
 * dm_out_json_string() appends s[0..n) as a JSON string: quotes, escapes
 * for '"', '\' and C0 controls, invalid UTF-8 bytes as U+FFFD, all other
 * UTF-8 kept as it is.  A NULL `s` appends "".
 */
dm_status dm_out_json_string(dm_buf *b, const char *s, size_t n);

/*
 * dm_out_csv_field() appends s[0..n) as one RFC 4180 field: quoted when it
 * holds ',', '"', CR or LF, quotes doubled, other control characters as
 * '?', invalid UTF-8 bytes as U+FFFD.  Nothing for an empty or NULL `s`.
 */
dm_status dm_out_csv_field(dm_buf *b, const char *s, size_t n);

/* The UTF-8 of U+FFFD REPLACEMENT CHARACTER. */
#define DM_OUT_FFFD "\xEF\xBF\xBD"

#endif
