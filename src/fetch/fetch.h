/*
 * fetch.h: sources pulled over the network (docs/sources.md).
 *
 * HTTP(S) JSON APIs through libcurl: a URL is read in doorman's own record
 * schema (json.h), or, with a mapping file, as any JSON listing whose items
 * the mapping turns into records.  Pages are fetched one at a time; only
 * the current page is held in memory.
 *
 * A mapping is named in the URL's fragment, which is never sent to the
 * server:  https://api.example/inv#mapping=examples/mappings/linkedin-voyager.json
 */
#ifndef DM_FETCH_H
#define DM_FETCH_H

#include "doorman.h"

#include <jansson.h>
#include <stddef.h>
#include <time.h>

/* How the next page is found. */
typedef enum dm_paging {
    DM_PAGING_NONE,   /* one page */
    DM_PAGING_BODY,   /* a URL in the body, at next.pointer */
    DM_PAGING_LINK,   /* the Link header's rel="next" */
    DM_PAGING_CURSOR, /* a cursor in the body (next.pointer) sent as next.param */
    DM_PAGING_OFFSET, /* next.param=OFFSET&next.limit_param=LIMIT */
} dm_paging;

typedef enum dm_auth {
    DM_AUTH_NONE,
    DM_AUTH_BEARER, /* Authorization: Bearer SECRET */
    DM_AUTH_BASIC,  /* SECRET is "user:password" */
    DM_AUTH_NETRC,  /* a netrc file (auth.file, else ~/.netrc) */
} dm_auth;

/* One record field and where its value comes from. */
typedef struct dm_mapfield {
    char *key;   /* the record's JSON key: "message", "from.name" */
    char **ptrs; /* JSON Pointers; values found are joined with sep */
    size_t nptrs;
    char *sep;    /* " " by default */
    char *value;  /* a constant instead of pointers */
    char *prefix; /* put before a value found: "https://www.linkedin.com/in/" */
    int epoch_ms; /* the value is epoch milliseconds: written as ISO 8601 UTC */
    int integer;  /* the value is a count (mutual) */
} dm_mapfield;

typedef struct dm_mapping {
    char *items; /* JSON Pointer to the items array; NULL: doorman's own schema */
    dm_mapfield *fields;
    size_t nfields;
    dm_paging paging;
    char *next_pointer; /* BODY, CURSOR */
    char *next_param;   /* CURSOR, OFFSET */
    char *limit_param;  /* OFFSET */
    long limit;         /* OFFSET: page size; a shorter page is the last */
    long max_pages;
    /* an incremental listing and its size */
    char *since_pointer; /* "since.pointer": the cursor's value in each item (record) */
    char *since_param;   /* "since.param": the query parameter it is sent back as */
    char *total_pointer; /* "total": the number of items in the listing, in each page */
    /* transfer */
    long connect_timeout_ms, timeout_ms;
    long retries, retry_base_ms, retry_max_ms;
    long retry_total_ms; /* all attempts at one page, waits included */
    long max_redirects;
    size_t max_bytes;
    char *cacert;
    /* credentials: never printed */
    dm_auth auth;
    char *auth_env; /* the environment variable holding the secret */
    char *secret;   /* inline in the mapping (the file must be private) */
    char *netrc;
} dm_mapping;

/* dm_mapping_defaults() fills `m` with doorman's own schema and the default limits. */
void dm_mapping_defaults(dm_mapping *m);

/*
 * dm_mapping_load() reads a mapping file (JSON).  Returns DM_OK, DM_ENOENT,
 * DM_EIO, DM_ESYNTAX (bad JSON: err has line and column), DM_EFORMAT (a
 * member of the wrong kind, or a secret in a file others may read) or
 * DM_ENOMEM.  The caller frees *out with dm_mapping_free().
 */
dm_status dm_mapping_load(const char *path, dm_mapping **out, dm_error *err);
void dm_mapping_free(dm_mapping *m);

/* dm_json_pointer() resolves an RFC 6901 pointer in `root`: borrowed, or NULL. */
json_t *dm_json_pointer(json_t *root, const char *ptr);

/*
 * dm_mapping_apply() makes a record object in doorman's schema from one
 * item.  A pointer that finds nothing leaves its field missing.  Returns a
 * new reference, or NULL when out of memory.
 */
json_t *dm_mapping_apply(const dm_mapping *m, json_t *item);

/* dm_http_is_url() says whether `path` is an http:// or https:// URL. */
int dm_http_is_url(const char *path);

typedef struct dm_httpsrc dm_httpsrc;

/* What dm_http_open() takes besides the URL. */
typedef struct dm_http_opts {
    size_t max_record;       /* bytes of one record; 0: the default */
    const char *cacert;      /* a CA bundle (PEM); overrides the mapping's "http.cacert" */
    const char *secret;      /* from doorman's config file, never printed: used when the
                                mapping gives none itself (no auth.env, no auth.secret), as
                                a bearer token when the mapping has no auth or auth
                                "bearer", as "user:password" for auth "basic" */
    const char *since;       /* the cursor value of an earlier run (the text after
                                "since:" of dm_http_cursor()), or NULL */
    dm_progress_fn progress; /* may be NULL: called after each page */
    void *progress_ud;
} dm_http_opts;

/*
 * dm_http_open() fetches the first page of `url` (a "#mapping=FILE"
 * fragment names a mapping).  `opts` may be NULL.  Errors name the URL in
 * err->source and the page in the text.  The caller frees *out with
 * dm_http_free().
 */
dm_status dm_http_open(const char *url, const dm_http_opts *opts, dm_httpsrc **out,
                       dm_error *err);

/*
 * dm_http_cursor() writes "since:VALUE" to buf (n bytes) and returns 1 when
 * the mapping has "since" and a value was seen in the items read so far, or
 * opts.since was given (kept when nothing newer came); else it writes ""
 * and returns 0 (also when the cursor does not fit in n bytes).
 */
int dm_http_cursor(const dm_httpsrc *h, char *buf, size_t n);

/*
 * dm_http_retry_after() reads a Retry-After header value (RFC 9110
 * 10.2.3): delta-seconds, or an HTTP-date (IMF-fixdate, or the obsolete
 * RFC 850 and asctime forms) made into seconds from `now`, 0 when it is
 * past.  Returns -1 when `value` is neither.  Locale plays no part.
 */
long dm_http_retry_after(const char *value, time_t now);

/* dm_http_next() is dm_json_next() across every page. */
dm_status dm_http_next(dm_httpsrc *h, dm_record *rec, dm_error *err);
void dm_http_free(dm_httpsrc *h);

#endif
