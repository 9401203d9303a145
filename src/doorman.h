/*
 * doorman.h: the public API of libdoorman, the one header users include.
 *
 * The pipeline: sources -> records -> rules -> verdict -> sinks.
 * The library never prints and never exits: every function returns a
 * dm_status and, where it can fail, fills a dm_error the caller may pass
 * as NULL.  Objects come in pairs: dm_x_create(..., dm_x **out) sets *out
 * only on success; dm_x_free(NULL) is a no-op.
 */
#ifndef DOORMAN_H
#define DOORMAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DM_BUILDING_LIBRARY) && defined(__GNUC__)
#define DM_API __attribute__((visibility("default")))
#else
#define DM_API
#endif

#define DM_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Status codes and the error struct                                   */
/* ------------------------------------------------------------------ */

typedef enum dm_status {
    DM_OK = 0,
    DM_END,       /* no more records: not an error */
    DM_ENOMEM,    /* out of memory */
    DM_EIO,       /* read or write failed */
    DM_ENOENT,    /* no such file */
    DM_EINVAL,    /* bad argument */
    DM_ESYNTAX,   /* malformed input: CSV, JSON, rule file */
    DM_EUTF8,     /* invalid UTF-8 */
    DM_ETOOLARGE, /* a field, row, entry or body over its limit */
    DM_EFORMAT,   /* the input is not of a kind doorman knows */
    DM_EZIP,      /* a zip archive could not be read */
    DM_EREGEX,    /* a pattern failed to compile or to match */
    DM_ESTRICT,   /* a bad row was found and strict mode made it fatal */
    DM_EBUSY,     /* in use by another run (the state database's source lock) */
    DM_STATUS_COUNT
} dm_status;

#define DM_ERROR_SOURCE_MAX 128
#define DM_ERROR_TEXT_MAX 256

typedef struct dm_error {
    dm_status code;
    int line, column;                 /* 1-based; 0 when not applicable */
    char source[DM_ERROR_SOURCE_MAX]; /* file name, "<stdin>", URL */
    char text[DM_ERROR_TEXT_MAX];
} dm_error;

/* dm_strerror() returns a short static description of `code`. */
DM_API const char *dm_strerror(dm_status code);

/* dm_version() returns the library's version string, DM_VERSION at build. */
DM_API const char *dm_version(void);

/*
 * Allocation hooks: every allocation of the library goes through these,
 * so that tests can fail the Nth one.  Pass NULLs to restore libc.
 */
typedef void *(*dm_malloc_fn)(size_t);
typedef void *(*dm_realloc_fn)(void *, size_t);
typedef void (*dm_free_fn)(void *);
DM_API void dm_set_alloc_funcs(dm_malloc_fn m, dm_realloc_fn r, dm_free_fn f);

/*
 * Diagnostics: problems that do not stop a run (a bad CSV row, a message
 * that cannot be joined) are reported through this callback, one call each.
 * `severity` is DM_SEV_WARNING or DM_SEV_ERROR.  An ERROR is a skipped
 * row or record; the callback returns 0 to go on or non-zero to stop the
 * run (strict mode), in which case the reader returns DM_ESTRICT.
 */
typedef enum dm_severity { DM_SEV_WARNING = 1, DM_SEV_ERROR = 2 } dm_severity;
typedef int (*dm_diag_fn)(void *ud, dm_severity sev, const dm_error *e);

/* ------------------------------------------------------------------ */
/* The record model (docs/records.md)                                  */
/* ------------------------------------------------------------------ */

typedef enum dm_kind {
    DM_KIND_INVITATION = 0,
    DM_KIND_MESSAGE,
    DM_KIND_EMAIL,
    DM_KIND_COUNT
} dm_kind;

/* The text fields of a record.  Names as in docs/records.md. */
typedef enum dm_field {
    DM_FIELD_ID = 0,
    DM_FIELD_DIRECTION, /* "incoming" | "outgoing" */
    DM_FIELD_FROM_NAME,
    DM_FIELD_FROM_HEADLINE,
    DM_FIELD_FROM_COMPANY,
    DM_FIELD_FROM_URL,
    DM_FIELD_TO,
    DM_FIELD_SENT_AT, /* ISO 8601 */
    DM_FIELD_SUBJECT,
    DM_FIELD_MESSAGE, /* the note or body text */
    DM_FIELD_SOURCE,  /* file:line, zip:entry:line, URL */
    DM_FIELD_COUNT
} dm_field;

/* Facts: yes/no properties that readers find and rules may use. */
#define DM_FACT_SPINMAIL 0x1u  /* content carried the sponsored-InMail marker */
#define DM_FACT_NO_URL 0x2u    /* the sender has no profile URL (sponsored) */
#define DM_FACT_CONNECTED 0x4u /* the sender is in Connections.csv */
#define DM_FACT_HTML 0x8u      /* the text was converted from HTML */

DM_API const char *dm_kind_name(dm_kind k);      /* "invitation", ... */
DM_API int dm_kind_lookup(const char *name);     /* -1 when unknown */
DM_API const char *dm_field_name(dm_field f);    /* "from.name", ... */
DM_API int dm_field_lookup(const char *name);    /* -1 when unknown */
DM_API const char *dm_fact_name(unsigned fact);  /* one bit: "spinmail" */
DM_API unsigned dm_fact_lookup(const char *name); /* 0 when unknown */

typedef struct dm_record dm_record;
typedef struct dm_history dm_history;

DM_API dm_status dm_record_create(dm_record **out);
DM_API void dm_record_free(dm_record *rec);
/* dm_record_clear() empties `rec` for reuse, keeping its memory. */
DM_API void dm_record_clear(dm_record *rec);

DM_API dm_kind dm_record_kind(const dm_record *rec);
DM_API void dm_record_set_kind(dm_record *rec, dm_kind k);
/* dm_record_get() returns the field's text, or NULL when it is missing. */
DM_API const char *dm_record_get(const dm_record *rec, dm_field f);
/* dm_record_len() returns the field's length in bytes (0 when missing). */
DM_API size_t dm_record_len(const dm_record *rec, dm_field f);
/* dm_record_set() copies `len` bytes of `s`; s == NULL makes it missing. */
DM_API dm_status dm_record_set(dm_record *rec, dm_field f, const char *s, size_t len);
/* mutual connections: -1 when unknown */
DM_API long dm_record_mutual(const dm_record *rec);
DM_API void dm_record_set_mutual(dm_record *rec, long n);
DM_API unsigned dm_record_facts(const dm_record *rec);
DM_API void dm_record_add_facts(dm_record *rec, unsigned facts);
/* Extra columns of the input, kept by name, in input order. */
DM_API dm_status dm_record_add_extra(dm_record *rec, const char *name, const char *value,
                                     size_t len);
DM_API size_t dm_record_extra_count(const dm_record *rec);
DM_API void dm_record_extra(const dm_record *rec, size_t i, const char **name,
                            const char **value);
/* The sender's history, set by dm_context_attach(); NULL when none. */
DM_API const dm_history *dm_record_history(const dm_record *rec);

/* ------------------------------------------------------------------ */
/* Context: "me" and the history of past conversations                 */
/* ------------------------------------------------------------------ */

typedef struct dm_context dm_context;

DM_API dm_status dm_context_create(dm_context **out);
DM_API void dm_context_free(dm_context *ctx);

/* me: the user's own profile.  Each returns NULL when unknown. */
DM_API const char *dm_me_name(const dm_context *ctx);
DM_API const char *dm_me_headline(const dm_context *ctx);
DM_API const char *dm_me_industry(const dm_context *ctx);
DM_API size_t dm_me_company_count(const dm_context *ctx);
/* dm_me_company() returns the i-th company; *current is 1 for a current one. */
DM_API const char *dm_me_company(const dm_context *ctx, size_t i, int *current);

DM_API dm_status dm_me_set(dm_context *ctx, const char *name, const char *headline,
                           const char *industry);
DM_API dm_status dm_me_add_company(dm_context *ctx, const char *company, int current);

/*
 * History per sender.  dm_context_add_message() records one message of a
 * conversation: `peer_url` and `peer_name` name the other party (not me);
 * `incoming` is 1 when the peer wrote it, `text` is what they wrote.
 */
DM_API dm_status dm_context_add_message(dm_context *ctx, const char *peer_url,
                                        const char *peer_name, int incoming, const char *text);
DM_API dm_status dm_context_add_connection(dm_context *ctx, const char *url, const char *name);
DM_API size_t dm_context_connection_count(const dm_context *ctx);
DM_API size_t dm_context_history_count(const dm_context *ctx);

/*
 * dm_context_finish() settles what needs every source open first: who "me"
 * is (Profile.csv, wherever it came from; else the person in the most
 * conversations), hence which messages are incoming, hence the history of
 * each sender.  Until then, messages.csv rows wait in the context.  Call it
 * once every source is open; dm_source_next() calls it when nobody did, so
 * the order of the sources never changes a verdict.  A second call is a
 * no-op, unless messages came in since.  Returns DM_OK, or DM_ENOMEM: the
 * history is then half made, and every later call fails the same way.
 */
DM_API dm_status dm_context_finish(dm_context *ctx, dm_error *err);

/*
 * dm_context_attach() looks up the record's sender (from.url, else the exact
 * from.name, marked as a weak join) and sets its history and the
 * DM_FACT_CONNECTED fact.  The history stays owned by the context.
 */
DM_API void dm_context_attach(const dm_context *ctx, dm_record *rec);

DM_API size_t dm_history_messages(const dm_history *h); /* exchanged, both ways */
DM_API size_t dm_history_incoming(const dm_history *h); /* written by the peer */
DM_API const char *dm_history_text(const dm_history *h, size_t i); /* i < incoming */
DM_API int dm_history_weak(const dm_history *h); /* joined on the name only */

/* ------------------------------------------------------------------ */
/* Sources                                                             */
/* ------------------------------------------------------------------ */

typedef struct dm_source dm_source;
typedef struct dm_config dm_config;

/*
 * The progress of a URL source (docs/sources.md, "Progress"): given to
 * dm_ingest_opts.progress after each page (HTTP) or mail (IMAP) fetched.
 */
typedef struct dm_progress {
    const char *source; /* the URL as given to dm_source_open() (never holds a password) */
    const char *unit;   /* "page" or "mail" */
    uint64_t done;      /* pages or mails fetched so far */
    uint64_t total;     /* pages or mails there are, when known; else 0 */
    uint64_t records;   /* records had so far */
    uint64_t records_total; /* records there are, when the source says; else 0 */
} dm_progress;
typedef void (*dm_progress_fn)(void *ud, const dm_progress *p);

typedef struct dm_ingest_opts {
    int outgoing;            /* also yield OUTGOING invitations */
    int messages;            /* also yield incoming messages as records */
    size_t max_field;        /* bytes; 0 = default (1 MiB) */
    size_t max_row;          /* bytes; 0 = default (4 MiB) */
    uint64_t max_entry;      /* zip entry, uncompressed bytes; 0 = default (256 MiB) */
    dm_diag_fn diag;         /* may be NULL: bad rows are skipped silently */
    void *diag_ud;
    size_t max_message;      /* mbox/Maildir: bytes of one message; 0 = default (10 MiB) */
    /* URL sources only (docs/sources.md) */
    const char *cursor;      /* dm_source_cursor() of an earlier complete run of this URL:
                                only what came after it is fetched; NULL: everything */
    const char *cacert;      /* a CA bundle to verify TLS with (a private CA); NULL: the
                                mapping's, else $DOORMAN_IMAP_CACERT (IMAP), else the system's */
    const dm_config *config; /* credentials for URLs (the config file's `password`/`token`
                                lines); may be NULL */
    dm_progress_fn progress; /* may be NULL */
    void *progress_ud;
} dm_ingest_opts;

/*
 * dm_source_open() opens `path`: a LinkedIn export folder or zip, one CSV
 * file of the export (recognised by its header), a JSON or JSONL file in
 * doorman's record schema, "-" for JSONL on standard input, or a mailbox:
 * "mbox:PATH", "maildir:PATH", a file starting "From " (mbox) or a folder
 * holding cur/, new/ and tmp/ (Maildir), each message a record through
 * dm_mail_record() (docs/integration.md, "Mailboxes in batch"), or a URL
 * (docs/sources.md): http:// or https:// for a JSON API (a mapping named in
 * the fragment, "#mapping=FILE"), imap:// or imaps:// for a mailbox folder,
 * read through libcurl.  Context
 * files (Profile, Positions, Connections, messages) are read into `ctx`
 * at once, so open every source, then call dm_context_finish(), before
 * reading records from any.  `ctx` must outlive the source.
 */
DM_API dm_status dm_source_open(const char *path, const dm_ingest_opts *opts, dm_context *ctx,
                                dm_source **out, dm_error *err);
/*
 * dm_source_next() fills `rec` with the next record, first finishing the
 * context if nobody did.  Returns DM_OK, DM_END at the end, DM_ESTRICT when
 * the diag callback asked to stop, or another code for an error that ends
 * this source (err says where).
 */
DM_API dm_status dm_source_next(dm_source *src, dm_record *rec, dm_error *err);
DM_API void dm_source_free(dm_source *src);
/* Rows skipped as bad so far, over all the files of this source. */
DM_API size_t dm_source_skipped(const dm_source *src);
/*
 * dm_source_imap_cursor() gives, for an imap:// or imaps:// source, its
 * folder's UIDVALIDITY and the highest UID read so far (0 when none), and
 * returns 1; for any other source it returns 0 and sets nothing.  Either
 * out may be NULL.  What a state run commits as the cursor.
 */
DM_API int dm_source_imap_cursor(const dm_source *src, int64_t *uidvalidity, int64_t *last_uid);
/*
 * dm_source_cursor() writes the cursor a later run gives back as
 * dm_ingest_opts.cursor, so that only what is newer is fetched, and returns
 * 1; it returns 0 (buf "") for a source without one: files, and an HTTP API
 * whose mapping has no "since".  IMAP: "uidvalidity:V last_uid:N"; HTTP:
 * "since:VALUE".  Store it only once the source was read to its end and
 * the output written (the state store's dm_state_commit_run()).
 */
DM_API int dm_source_cursor(const dm_source *src, char *buf, size_t n);
/*
 * dm_source_imap_mark() acts on the mail of an imap:// or imaps:// source
 * that dm_source_next() returned last: sets `flag` on it (a keyword such as
 * "$Declined", or a system flag such as "\\Flagged"; NULL: none), then moves
 * it to `folder` (NULL: it stays).  DM_EINVAL for another kind of source or
 * before any mail; DM_EIO with the server's reason.
 */
DM_API dm_status dm_source_imap_mark(dm_source *src, const char *flag, const char *folder,
                                     dm_error *err);
/*
 * dm_source_imap_check_mark() checks, before any mail is read, what
 * dm_source_imap_mark() will be asked to do: that `flag` (may be NULL) is a
 * valid IMAP flag, that `folder` (may be NULL) exists and is not the folder
 * read, and that the server can move a single mail (MOVE, or UIDPLUS).
 * DM_EINVAL (a bad flag or name, another kind of source), DM_ENOENT (no
 * such folder) or DM_EIO, with the reason in `err`.
 */
DM_API dm_status dm_source_imap_check_mark(dm_source *src, const char *flag, const char *folder,
                                           dm_error *err);

/* ------------------------------------------------------------------ */
/* Rules and verdicts                                                  */
/* ------------------------------------------------------------------ */

typedef enum dm_verdict {
    DM_VERDICT_ACCEPT = 0,
    DM_VERDICT_REVIEW,
    DM_VERDICT_DECLINE,
    DM_VERDICT_COUNT
} dm_verdict;

DM_API const char *dm_verdict_name(dm_verdict v); /* "accept", ... */
DM_API int dm_verdict_lookup(const char *name);   /* -1 when unknown */

typedef struct dm_hit {
    const char *name;     /* owned by the ruleset */
    double score;
    const char *describe; /* owned by the ruleset */
    int field;            /* the dm_field a pattern matched in; -1 when none */
    size_t start, end;    /* the match, as byte offsets in that field's original text */
} dm_hit;

typedef struct dm_result {
    dm_verdict verdict;
    double score;
    size_t nhits;
    dm_hit *hits; /* in rule order */
    size_t cap;
    /* rules whose pattern hit PCRE2's match or depth limit on this record:
     * they count as not matched */
    const char **limited;
    size_t nlimited, limcap;
} dm_result;

DM_API void dm_result_init(dm_result *res);
DM_API void dm_result_free(dm_result *res);

typedef struct dm_ruleset dm_ruleset;

typedef struct dm_rules_opts {
    /* every error and warning of the rule files, one call each (file,
     * line and column in the dm_error); may be NULL */
    dm_diag_fn diag;
    void *diag_ud;
    /* Start-up (docs/integration.md, "Start-up time"); zero for neither. */
    /* lazy_jit: compile a pattern to machine code (PCRE2's JIT) only once
     * it has a long text to scan or has run many times, instead of every
     * pattern at load: for a ruleset that sees one message, or a few, JIT
     * compiling costs more than it saves.  Verdicts are the same. */
    int lazy_jit;
    /* cache_dir: a folder for compiled rulesets (made if missing).  A load
     * whose rule and list files, load paths and doorman and PCRE2 builds
     * match a cached one reads it instead of compiling (without warnings:
     * only a load without errors is cached), and a bind with the same
     * profile (me) as the cached one then does no work; otherwise the load
     * compiles and the bind writes the cache.  Verdicts are the same. */
    const char *cache_dir;
} dm_rules_opts;

/* What the compiled-rules cache did for a ruleset (dm_ruleset_cache_status). */
typedef enum dm_cache_status {
    DM_CACHE_OFF = 0, /* no cache_dir */
    DM_CACHE_MISS,    /* compiled from the files; not (yet) written */
    DM_CACHE_HIT,     /* read from the cache */
    DM_CACHE_WRITTEN, /* compiled, bound, and written to the cache */
    DM_CACHE_FAILED,  /* compiled and bound, but the cache could not be written */
} dm_cache_status;

/*
 * dm_ruleset_load() reads rule files (docs/rules.md) in order: each path a
 * file, or a folder whose *.rules files are read in name order.  Later
 * files may re-score or disable rules of earlier ones.  Every problem is
 * reported through opts->diag (an error's code is DM_EREGEX for a pattern
 * PCRE2 does not compile, DM_ESYNTAX for the others); when any is an
 * error, the load fails with DM_ESYNTAX and *nerrors (may be NULL) says
 * how many.  The caller owns *out and frees it with dm_ruleset_free().
 */
DM_API dm_status dm_ruleset_load(const char *const *paths, size_t npaths,
                                 const dm_rules_opts *opts, dm_ruleset **out, size_t *nerrors,
                                 dm_error *err);
DM_API void dm_ruleset_free(dm_ruleset *rs);
/* dm_ruleset_cache_status() says whether `rs` came from the cache (dm_rules_opts.cache_dir). */
DM_API dm_cache_status dm_ruleset_cache_status(const dm_ruleset *rs);

/*
 * dm_ruleset_bind() prepares `rs` for records joined with `ctx` (may be
 * NULL): patterns using ${me.*} are compiled with the user's profile, and
 * the literal prefilter is built.  Call it after the context is loaded;
 * dm_ruleset_eval() binds with its own ctx when nobody did.
 */
DM_API dm_status dm_ruleset_bind(dm_ruleset *rs, const dm_context *ctx, dm_error *err);
/*
 * dm_ruleset_set_prefilter() turns the literal prefilter off (0) or on (1,
 * the default) before the next bind.  Results are the same either way;
 * only the speed differs, which is what the benchmark measures with it.
 */
DM_API void dm_ruleset_set_prefilter(dm_ruleset *rs, int on);
DM_API double dm_ruleset_decline_at(const dm_ruleset *rs);
DM_API double dm_ruleset_accept_at(const dm_ruleset *rs);
/* dm_ruleset_count() is the number of rules that run (not disabled). */
DM_API size_t dm_ruleset_count(const dm_ruleset *rs);
/*
 * dm_ruleset_pattern_stats() tells how many patterns the prefilter guards
 * and how many always run, and returns the prefilter's size in bytes.
 */
DM_API size_t dm_ruleset_pattern_stats(const dm_ruleset *rs, size_t *filtered, size_t *always);

/*
 * dm_ruleset_eval() runs every rule over `rec` (with `ctx` for me and
 * history) and fills `res` (reused between calls).  Not thread-safe on one
 * ruleset: it owns the match scratch space.  dm_ruleset_explain() does the
 * same and also fills each hit's field and span, at some cost.
 */
DM_API dm_status dm_ruleset_eval(dm_ruleset *rs, const dm_record *rec, const dm_context *ctx,
                                 dm_result *res, dm_error *err);
DM_API dm_status dm_ruleset_explain(dm_ruleset *rs, const dm_record *rec,
                                    const dm_context *ctx, dm_result *res, dm_error *err);

/*
 * dm_ruleset_test() runs every rule's own tests (test hit / test miss)
 * against the documented test profile; each failure goes to `cb` with the
 * test's file and line.  Leaves `rs` unbound.
 */
DM_API dm_status dm_ruleset_test(dm_ruleset *rs, dm_diag_fn cb, void *ud, size_t *passed,
                                 size_t *failed, dm_error *err);

/* dm_verdict_for() maps a score to a verdict with the two thresholds. */
DM_API dm_verdict dm_verdict_for(double score, double accept_at, double decline_at);

/* ------------------------------------------------------------------ */
/* Sinks (output formats)                                              */
/* ------------------------------------------------------------------ */

typedef enum dm_format {
    DM_FORMAT_TABLE = 0,
    DM_FORMAT_JSON,
    DM_FORMAT_JSONL,
    DM_FORMAT_CSV,
    DM_FORMAT_COUNT
} dm_format;

DM_API const char *dm_format_name(dm_format f);
DM_API int dm_format_lookup(const char *name); /* -1 when unknown */

/* Where a sink writes: returns 0 on success, non-zero on a write error. */
typedef int (*dm_write_fn)(void *ud, const char *buf, size_t len);

typedef struct dm_sink_opts {
    dm_write_fn write;
    void *write_ud;
    int color;    /* table: ANSI colour */
    int width;    /* table: terminal width in columns; 0 = 100 */
} dm_sink_opts;

typedef struct dm_summary {
    size_t counts[DM_VERDICT_COUNT];
    size_t total;   /* records decided */
    size_t skipped; /* bad rows or records skipped */
    size_t shown;   /* records written (after --only) */
} dm_summary;

typedef struct dm_sink dm_sink;

DM_API dm_status dm_sink_create(dm_format fmt, const dm_sink_opts *opts, dm_sink **out);
/* dm_sink_write() writes one decided record (or buffers it, for table/json). */
DM_API dm_status dm_sink_write(dm_sink *s, const dm_record *rec, const dm_result *res,
                               dm_error *err);
/* dm_sink_finish() writes what is buffered and the summary, where the format has one. */
DM_API dm_status dm_sink_finish(dm_sink *s, const dm_summary *sum, dm_error *err);
DM_API void dm_sink_free(dm_sink *s);

/* ------------------------------------------------------------------ */
/* Mail (src/mail/, docs/integration.md)                               */
/* ------------------------------------------------------------------ */

/*
 * dm_mail_record() reads one RFC 5322 message (raw bytes, LF or CRLF) into
 * `rec` (cleared first).  A LinkedIn notification mail (invitations@,
 * messages-noreply@ and the other senders in docs/records.md) becomes an
 * invitation or message record with the sender's name, headline, note and
 * profile URL taken from the mail; any other mail becomes an email record
 * (from, subject, decoded text).  MIME is decoded with GMime.  `source`
 * (may be NULL) becomes the record's source field.  Never fails on a
 * malformed message: what can be read is read; DM_ENOMEM and DM_ETOOLARGE
 * are the errors.
 */
DM_API dm_status dm_mail_record(const char *msg, size_t len, const char *source, dm_record *rec,
                                dm_error *err);
/*
 * Threads: dm_mail_record() may run in many threads at once (GMime is set
 * up once, under a lock, by the first call).  dm_mail_shutdown() releases
 * GMime's global state at exit, when no other thread is in the mail API.
 * A later dm_mail_record() sets GMime up again, but GMime 3.2 then leaks a
 * few hundred bytes: call it once, at the end.
 */
DM_API void dm_mail_shutdown(void);

/* The headers doorman adds to a mail. */
typedef enum dm_mail_header {
    DM_MAIL_VERDICT = 0, /* X-Doorman-Verdict: accept|review|decline */
    DM_MAIL_SCORE,       /* X-Doorman-Score: 7.5 */
    DM_MAIL_RULES,       /* X-Doorman-Rules: NAME1, NAME2 */
    DM_MAIL_HEADER_COUNT
} dm_mail_header;

DM_API const char *dm_mail_header_name(dm_mail_header h); /* "X-Doorman-Verdict", ... */
/*
 * dm_mail_header_value() writes the unfolded value of header `h` for `res`
 * into buf (NUL-terminated, printable ASCII only); returns its length, or
 * the length it would need when cap is too small (like snprintf).
 */
DM_API size_t dm_mail_header_value(const dm_result *res, dm_mail_header h, char *buf, size_t cap);
/* dm_mail_is_own_header() is 1 for a header name doorman owns (X-Doorman-*, any case). */
DM_API int dm_mail_is_own_header(const char *name, size_t len);

/*
 * dm_mail_rewrite() writes `msg` through `write`: every incoming
 * X-Doorman-* header removed (with its continuation lines), doorman's
 * headers for `res` added at the end of the header block (folded when
 * long, with the line ending the message uses), everything else byte for
 * byte.  res NULL: only the removal.  The header block ends at the first
 * empty line (an mbox "From " first line is not part of it), or at the
 * end of a message that is all header lines ending in a line break; a
 * message whose header block has no end gets no headers (forged ones are
 * still removed), and an empty one writes nothing.  Nothing is written
 * before doorman's headers are made: on DM_ENOMEM the caller can pass the
 * message on unchanged.  Returns DM_EIO when `write` fails.
 */
DM_API dm_status dm_mail_rewrite(const char *msg, size_t len, const dm_result *res,
                                 dm_write_fn write, void *ud, dm_error *err);

/* ------------------------------------------------------------------ */
/* Config: the user's profile for mail mode and the milter             */
/* (src/ingest/config.c, docs/integration.md)                          */
/* ------------------------------------------------------------------ */

/*
 * The config file holds `key = value` lines: `profile = PATH` (a LinkedIn
 * export, folder or zip, or one of its CSV files; repeatable), and "me"
 * inline: `name`, `headline`, `industry`, `company` (current; repeatable),
 * `past-company` (repeatable).  Blank lines and lines starting with '#'
 * are skipped.  A relative PATH is relative to the config file's folder;
 * "~/" is $HOME.
 */
/*
 * Credentials for URL sources (docs/sources.md, "Credentials"):
 * `password URL = SECRET` (IMAP), `token URL = SECRET` (HTTP: a bearer token,
 * or "user:password" for a mapping with basic auth), and `password-env URL =
 * VARIABLE`, `token-env URL = VARIABLE` to take the secret from the
 * environment.  A line is for every source URL it is the start of (the
 * longest wins).  A file holding a secret itself must not be readable by
 * others: dm_config_load() refuses it (DM_EFORMAT).
 */
/* dm_config_create() makes an empty config (nothing about me). */
DM_API dm_status dm_config_create(dm_config **out);
/*
 * dm_config_default_path() writes where the config file is looked for,
 * $XDG_CONFIG_HOME/doorman/config or ~/.config/doorman/config, into buf.
 * Returns DM_OK, DM_ENOENT when neither variable is set, or DM_ETOOLARGE
 * when cap is too small.
 */
DM_API dm_status dm_config_default_path(char *buf, size_t cap);
/*
 * dm_config_load() reads the config file `path` (at most 64 KiB).  Returns
 * DM_OK, DM_ENOENT when there is no such file, DM_ESYNTAX for a bad line
 * (err has its line), DM_ETOOLARGE, DM_EUTF8, DM_EIO or DM_ENOMEM.  The
 * caller owns *out and frees it with dm_config_free().
 */
DM_API dm_status dm_config_load(const char *path, dm_config **out, dm_error *err);
DM_API void dm_config_free(dm_config *cfg);
/*
 * dm_config_secret() finds the secret of `kind` ("password" or "token") for
 * the source `url`: *secret is borrowed from cfg or the environment, or NULL
 * when no line is for it.  DM_EINVAL when the line's environment variable
 * is not set (err names the config file and line).  cfg may be NULL.
 */
DM_API dm_status dm_config_secret(const dm_config *cfg, const char *kind, const char *url,
                                  const char **secret, dm_error *err);
/* The profile paths (resolved), in file order; i < dm_config_profile_count(). */
DM_API size_t dm_config_profile_count(const dm_config *cfg);
DM_API const char *dm_config_profile(const dm_config *cfg, size_t i);
/* dm_config_set_profiles() replaces the profile paths with paths[0..n) (copied). */
DM_API dm_status dm_config_set_profiles(dm_config *cfg, const char *const *paths, size_t n);
/* dm_config_set_profile() replaces them with the one `path` (NULL: none). */
DM_API dm_status dm_config_set_profile(dm_config *cfg, const char *path);
/*
 * dm_config_apply() loads what the config says about the user into `ctx`:
 * each profile with dm_source_open() (so an export brings its context files
 * as in a batch run: me, connections, history), then the inline lines, which
 * win over the profile's, then dm_context_finish().  `opts` (may be NULL)
 * gives the limits and the diag callback for bad rows.  Returns DM_OK or the
 * first error of a profile (err names it).
 */
DM_API dm_status dm_config_apply(const dm_config *cfg, const dm_ingest_opts *opts,
                                 dm_context *ctx, dm_error *err);

/* ------------------------------------------------------------------ */
/* State: what doorman remembers between runs (SQLite, docs/sources.md) */
/* ------------------------------------------------------------------ */

/*
 * The state database holds, per source (a string key such as a URL), a
 * cursor (opaque text) and an IMAP UIDVALIDITY, and every record seen:
 * its id, when it was first seen, its verdict, score, the rules that
 * fired, and whether its output was delivered.  One dm_state is used by
 * one thread; several processes may share one database file (WAL mode and
 * a busy timeout serialize their writes).
 *
 * A run, exactly once (docs/sources.md, "State: what doorman remembers"):
 *
 *     dm_state_begin_run(st, source, &cursor, &uidvalidity)
 *     for each record fetched from `cursor` on:
 *         if dm_state_seen(st, id) == DM_STATE_DELIVERED: skip it
 *         format its output
 *         dm_state_record(st, &entry, &output)  staged: pending, and where
 *         write the output (one write) and flush it
 *         dm_state_deliver(st, id)              committed: delivered
 *     dm_state_commit_run(st, new_cursor, uidvalidity)
 *
 * The cursor advances only in dm_state_commit_run(), after every output
 * was written; a record is marked delivered only after its own output was
 * flushed.  A run killed anywhere leaves the cursor where it was; the rerun
 * skips the records whose delivery was committed, and those whose output
 * it finds written (dm_state_output): exactly once into files.  Into a
 * pipe, the one record a killed run was writing may come out twice.
 */
typedef struct dm_state dm_state;

#define DM_STATE_SCHEMA_VERSION 1
#define DM_STATE_MAX_KEY 2048    /* a source key, a record id (bytes) */
#define DM_STATE_MAX_TEXT 16384  /* a cursor, the rules that fired (bytes) */

/*
 * dm_state_open() opens the state database at `path`, creating it with
 * mode 0600 (and its missing folders with 0700) when it does not exist.
 * It refuses (DM_EINVAL) a database that others may read or write, and
 * (DM_EFORMAT) one whose schema is newer than this doorman's; an older
 * schema is migrated.  Returns DM_OK, DM_EIO, DM_EINVAL, DM_EFORMAT or
 * DM_ENOMEM; err names the path.  The caller owns *out and frees it with
 * dm_state_close().
 */
DM_API dm_status dm_state_open(const char *path, dm_state **out, dm_error *err);
/* dm_state_close() closes the database; a run not committed stays as it was. */
DM_API void dm_state_close(dm_state *st);
/* dm_state_schema_version() is the database's schema version (PRAGMA user_version). */
DM_API int dm_state_schema_version(const dm_state *st);

/*
 * dm_state_begin_run() starts a run on `source` (created when new) and
 * gives its cursor (NULL when none was committed yet; valid until the next
 * call on `st`) and its UIDVALIDITY (0 when none).  Either out may be NULL.
 * The run holds the source's lock (a byte of "PATH.lock", an open file
 * description lock, so the system drops it when the process dies, even by
 * SIGKILL) until dm_state_commit_run() or dm_state_close(): a second run on
 * the same source at the same time, from this process or another, fails at
 * once with DM_EBUSY and a text saying so, rather than triaging the same new
 * records twice.
 */
DM_API dm_status dm_state_begin_run(dm_state *st, const char *source, const char **cursor,
                                    int64_t *uidvalidity, dm_error *err);

typedef enum dm_state_seen_kind {
    DM_STATE_NEW = 0,   /* never staged */
    DM_STATE_PENDING,   /* staged, its delivery not committed, its output not found */
    DM_STATE_DELIVERED  /* its output was written and that was committed */
} dm_state_seen_kind;

/*
 * dm_state_seen() tells what the run's source knows of record `id`.  A
 * pending record staged with a dm_state_output whose bytes are found in
 * its file is marked delivered there and then, and is DM_STATE_DELIVERED.
 */
DM_API dm_status dm_state_seen(dm_state *st, const char *id, dm_state_seen_kind *out,
                               dm_error *err);
/* dm_state_seen_verdict() is dm_state_seen() that also gives the verdict
 * stored for a record staged before (left as it was for DM_STATE_NEW). */
DM_API dm_status dm_state_seen_verdict(dm_state *st, const char *id, dm_state_seen_kind *out,
                                       dm_verdict *verdict, dm_error *err);

/* A record as stored; strings are NUL-terminated UTF-8. */
typedef struct dm_state_entry {
    const char *source;  /* ignored by dm_state_record(): the run's source */
    const char *id;      /* the record's id within its source */
    int64_t first_seen;  /* Unix seconds; 0 in dm_state_record(): now */
    dm_verdict verdict;
    double score;
    const char *rules;   /* the rules that fired, e.g. "PITCH_STACK,NO_NOTE"; NULL: "" */
    int delivered;       /* set by the store, ignored by dm_state_record() */
} dm_state_entry;

/*
 * Where a record's output is about to be written, when that is a regular
 * file: `bytes[0..len)` at byte `offset` of `path` (an absolute path, or
 * one the rerun will resolve the same way).  It lets a rerun tell whether
 * a run killed between writing the output and committing its delivery did
 * write it (the bytes are there): the record then counts as delivered and
 * is not produced again.  Write the bytes with one write(2).
 */
typedef struct dm_state_output {
    const char *path;
    int64_t offset;
    const void *bytes;
    size_t len;
} dm_state_output;

#define DM_STATE_MAX_OUTPUT (1024 * 1024) /* bytes of one record's output */

/*
 * dm_state_record() stages `e` in the current run, committed at once as
 * pending (a record already known keeps its first_seen and its delivered
 * flag; its verdict, score and rules are updated).  `out` (may be NULL:
 * a pipe or a terminal) says where its output is about to be written.
 * DM_ETOOLARGE when a string or the output is over its limit.
 */
DM_API dm_status dm_state_record(dm_state *st, const dm_state_entry *e,
                                 const dm_state_output *out, dm_error *err);
/*
 * dm_state_deliver() marks record `id` of the run delivered, in its own
 * transaction: call it right after the record's output was flushed.
 * DM_ENOENT when the run did not stage it.
 */
DM_API dm_status dm_state_deliver(dm_state *st, const char *id, dm_error *err);
/*
 * dm_state_commit_run() ends the run in one transaction: every record the
 * run staged is marked delivered and the source's cursor becomes
 * `new_cursor` (NULL keeps it) and its UIDVALIDITY `uidvalidity` (0 keeps
 * it).  Call it only after the run's output was written and flushed.
 */
DM_API dm_status dm_state_commit_run(dm_state *st, const char *new_cursor, int64_t uidvalidity,
                                     dm_error *err);
/*
 * dm_state_reset_source() forgets `source`'s cursor and every record seen
 * from it, and sets its UIDVALIDITY to `uidvalidity` (0: none), in one
 * transaction: what an IMAP UIDVALIDITY change calls for.
 */
DM_API dm_status dm_state_reset_source(dm_state *st, const char *source, int64_t uidvalidity,
                                       dm_error *err);

/* History: past verdicts, oldest first, filtered by what is set. */
typedef struct dm_state_filter {
    int verdict;         /* a dm_verdict, or -1 for any */
    int64_t since;       /* first_seen >= since (Unix seconds; 0: no bound) */
    int64_t until;       /* first_seen < until (0: no bound) */
    const char *source;  /* exactly this source (NULL: any) */
    int delivered_only;  /* 1: only records whose delivery was committed */
} dm_state_filter;

typedef struct dm_state_query dm_state_query;

/*
 * dm_state_query_create() starts a history query (`f` may be NULL: every
 * record).  The caller owns *out and frees it with dm_state_query_free()
 * before closing `st`.
 */
DM_API dm_status dm_state_query_create(dm_state *st, const dm_state_filter *f,
                                       dm_state_query **out, dm_error *err);
/*
 * dm_state_query_next() fills `e` with the next record; its strings are
 * valid until the next call.  Returns DM_OK, DM_END after the last, or an
 * error.
 */
DM_API dm_status dm_state_query_next(dm_state_query *q, dm_state_entry *e, dm_error *err);
DM_API void dm_state_query_free(dm_state_query *q);

#ifdef __cplusplus
}
#endif

#endif /* DOORMAN_H */
