/*
 * http.c: an HTTP(S) JSON API as a source of records (fetch.h; the user's
 * side is docs/sources.md).
 *
 * Each page is fetched whole into a bounded buffer (the mapping's
 * max_bytes: the transfer is aborted past it), then read: in doorman's own
 * schema by the JSON reader, or through the mapping, whose items are
 * turned into JSONL records in a second buffer.  Only one page is held at a
 * time.  Failed transfers are retried with exponential backoff and jitter
 * on network errors, 5xx and 429 (Retry-After honoured, up to
 * retry_max_ms).  TLS is always verified.  Secrets come from the
 * environment, a netrc file or a private mapping, and never reach an error
 * text: errors name the URL (which may not hold a password), the page and
 * the reason.
 */
#include "fetch.h"

#include "core.h"
#include "ingest/input.h"
#include "ingest/json.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USER_AGENT "doorman/" DM_VERSION

struct dm_httpsrc {
    dm_mapping *map;
    CURL *curl;
    char *base;  /* the URL without its fragment */
    char *url;   /* the page being read */
    char *next;  /* the next page's URL, or NULL: this is the last */
    long page;   /* from 1 */
    long offset; /* DM_PAGING_OFFSET */
    size_t max_record;
    dm_buf body;  /* the page as received */
    dm_buf lines; /* mapped pages: the page's records as JSONL */
    size_t rpos;  /* how much of the buffer the reader has had */
    const dm_buf *feed;
    dm_jsonsrc *json;
    char name[DM_ERROR_SOURCE_MAX]; /* the reader's input name */
    /* one transfer */
    int too_large;
    long retry_after; /* seconds, -1 none */
    char ctype[128];
    char link_next[2048];
    char errbuf[CURL_ERROR_SIZE];
    int failed; /* a page could not be had: the listing is over */
    /* the cursor ("since") and progress */
    char *given;    /* the URL as given to dm_http_open(): progress's source */
    char *since_in; /* dm_http_opts.since, or NULL */
    char *since_q;  /* "PARAM=VALUE" added to the first URL (and the pages built from it) */
    json_t *best;   /* the greatest "since" value seen, or NULL */
    long long total; /* items in the listing (the mapping's "total"), -1: not known */
    uint64_t records;
    dm_progress_fn progress;
    void *progress_ud;
};

int dm_http_is_url(const char *path)
{
    return strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0;
}

/* fail(): err names the page's URL; the text says which page and why. */
static dm_status fail(dm_httpsrc *h, dm_error *err, dm_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static dm_status fail(dm_httpsrc *h, dm_error *err, dm_status code, const char *fmt, ...)
{
    char text[DM_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return dm_error_set(err, code, h->url ? h->url : h->base, 0, 0, "page %ld: %s", h->page, text);
}

/* ---- one transfer ---------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    dm_httpsrc *h = ud;
    size_t len = size * n;
    if (h->body.len + len > h->map->max_bytes) {
        h->too_large = 1;
        return 0; /* aborts the transfer */
    }
    return dm_buf_add(&h->body, p, len) == DM_OK ? len : 0;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* Link: <URL>; rel="next", <URL2>; rel="prev" */
static void parse_link(dm_httpsrc *h, const char *v)
{
    while ((v = strchr(v, '<'))) {
        const char *e = strchr(v, '>');
        if (!e)
            return;
        const char *params = e + 1, *comma = strchr(params, ',');
        size_t plen = comma ? (size_t)(comma - params) : strlen(params);
        char pbuf[256];
        snprintf(pbuf, sizeof pbuf, "%.*s", (int)plen, params);
        if (strstr(pbuf, "rel=\"next\"") || strstr(pbuf, "rel=next")) {
            snprintf(h->link_next, sizeof h->link_next, "%.*s", (int)(e - v - 1), v + 1);
            return;
        }
        v = e + 1;
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    dm_httpsrc *h = ud;
    size_t len = size * n;
    char line[4096];
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
    trim(line);
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new response: a redirect's, or after 100 */
        h->retry_after = -1;
        h->ctype[0] = h->link_next[0] = '\0';
    } else if (strncasecmp(line, "Retry-After:", 12) == 0) {
        long s = dm_http_retry_after(line + 12, time(NULL));
        h->retry_after = s >= 0 ? s : 1; /* unreadable: as a short wait */
    } else if (strncasecmp(line, "Content-Type:", 13) == 0) {
        const char *v = line + 13;
        while (*v == ' ')
            v++;
        snprintf(h->ctype, sizeof h->ctype, "%.*s", (int)sizeof h->ctype - 1, v);
    } else if (strncasecmp(line, "Link:", 5) == 0) {
        parse_link(h, line + 5);
    }
    return len;
}

/* ---- Retry-After --------------------------------------------------------------- */

static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const DAYS[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const LONG_DAYS[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

/* word(): *p starts with one of `names` (n of them, ASCII case ignored): its index, p past it. */
static int word(const char **p, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (dm_ascii_ncasecmp(*p, names[i], len) == 0) {
            *p += len;
            return i;
        }
    }
    return -1;
}

/* digits(): exactly `n` ASCII digits at *p (a leading space allowed when sp): the number, or -1. */
static int digits(const char **p, int n, int sp)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c == ' ' && sp && i == 0 && n > 1)
            continue;
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static int lit(const char **p, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(*p, s, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* hms -> 2DIGIT ':' 2DIGIT ':' 2DIGIT */
static int hms(const char **p, int *hh, int *mm, int *ss)
{
    *hh = digits(p, 2, 0);
    if (*hh < 0 || !lit(p, ":") || (*mm = digits(p, 2, 0)) < 0 || !lit(p, ":") ||
        (*ss = digits(p, 2, 0)) < 0)
        return 0;
    return *hh <= 23 && *mm <= 59 && *ss <= 60;
}

/* days_from_civil(): days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

/*
 * HTTP-date  -> IMF-fixdate | rfc850-date | asctime-date
 * IMF-fixdate -> day ',' SP 2DIGIT SP month SP 4DIGIT SP hms SP 'GMT'
 * rfc850-date -> long-day ',' SP 2DIGIT '-' month '-' 2DIGIT SP hms SP 'GMT'
 * asctime-date -> day SP month SP (2DIGIT | SP DIGIT) SP hms SP 4DIGIT
 */
long dm_http_retry_after(const char *value, time_t now)
{
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    char v[64];
    if (n == 0 || n >= sizeof v)
        return -1;
    memcpy(v, p, n);
    v[n] = '\0';
    p = v;
    if (*p >= '0' && *p <= '9') { /* delta-seconds -> 1*DIGIT */
        long s = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            s = s > (LONG_MAX - 9) / 10 ? LONG_MAX : s * 10 + (*p - '0');
        return *p ? -1 : s;
    }
    int y, mon, d, hh, mm, ss;
    const char *q = p;
    if (word(&q, LONG_DAYS, 7) >= 0 && lit(&q, ", ")) { /* rfc850-date */
        if ((d = digits(&q, 2, 0)) < 0 || !lit(&q, "-") || (mon = word(&q, MONTHS, 12)) < 0 ||
            !lit(&q, "-") || (y = digits(&q, 2, 0)) < 0 || !lit(&q, " ") ||
            !hms(&q, &hh, &mm, &ss) || !lit(&q, " GMT") || *q)
            return -1;
        y += y < 70 ? 2000 : 1900;
    } else if (q = p, word(&q, DAYS, 7) < 0) {
        return -1;
    } else if (lit(&q, ", ")) { /* IMF-fixdate */
        if ((d = digits(&q, 2, 0)) < 0 || !lit(&q, " ") || (mon = word(&q, MONTHS, 12)) < 0 ||
            !lit(&q, " ") || (y = digits(&q, 4, 0)) < 0 || !lit(&q, " ") ||
            !hms(&q, &hh, &mm, &ss) || !lit(&q, " GMT") || *q)
            return -1;
    } else { /* asctime-date */
        if (!lit(&q, " ") || (mon = word(&q, MONTHS, 12)) < 0 || !lit(&q, " ") ||
            (d = digits(&q, 2, 1)) < 0 || !lit(&q, " ") || !hms(&q, &hh, &mm, &ss) ||
            !lit(&q, " ") || (y = digits(&q, 4, 0)) < 0 || *q)
            return -1;
    }
    mon++;
    if (d < 1 || d > month_days(y, mon))
        return -1;
    long long t = days_from_civil(y, mon, d) * 86400 + hh * 3600LL + mm * 60LL + ss;
    long long left = t - (long long)now;
    if (left <= 0)
        return 0;
    return left > LONG_MAX ? LONG_MAX : (long)left;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int retryable(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING: return 1;
    default: return 0;
    }
}

static int is_json_type(const char *ct)
{
    if (!*ct)
        return 1; /* none said: let the reader judge */
    for (const char *p = ct; *p && *p != ';'; p++)
        if (strncasecmp(p, "json", 4) == 0)
            return 1;
    return strncasecmp(ct, "text/plain", 10) == 0;
}

/*
 * set_auth() gives the transfer its credentials: the mapping's (auth.env,
 * auth.secret, netrc), else `config` (the config file's secret) as a
 * bearer token, or as user:password for auth "basic".
 */
static dm_status set_auth(dm_httpsrc *h, const char *config, dm_error *err)
{
    const dm_mapping *m = h->map;
    if (m->auth == DM_AUTH_NONE && !config)
        return DM_OK;
    if (m->auth == DM_AUTH_NETRC) {
        const char *file = m->netrc;
        char def[4096];
        if (!file) {
            const char *home = getenv("HOME");
            snprintf(def, sizeof def, "%s/.netrc", home ? home : "");
            file = def;
        }
        struct stat sb;
        if (stat(file, &sb) != 0)
            return fail(h, err, DM_ENOENT, "netrc file %s: %s", file, strerror(errno));
        if (sb.st_mode & (S_IRWXG | S_IRWXO))
            return fail(h, err, DM_EFORMAT,
                        "netrc file %s may be read by others; refusing it (chmod 600 it)", file);
        curl_easy_setopt(h->curl, CURLOPT_NETRC, (long)CURL_NETRC_REQUIRED);
        curl_easy_setopt(h->curl, CURLOPT_NETRC_FILE, file);
        return DM_OK;
    }
    const char *secret = m->secret;
    if (!secret && !m->auth_env) {
        secret = config;
        if (!secret || !*secret)
            return fail(h, err, DM_EINVAL,
                        "the mapping's auth has no secret (auth.env or auth.secret) and "
                        "doorman's config file gives none");
    } else if (!secret) {
        secret = getenv(m->auth_env);
        if (!secret || !*secret)
            return fail(h, err, DM_EINVAL,
                        "the environment variable %s (the mapping's auth.env) is not set",
                        m->auth_env);
    }
    if (m->auth != DM_AUTH_BASIC) {
        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, secret);
    } else {
        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h->curl, CURLOPT_USERPWD, secret);
    }
    return DM_OK;
}

/*
 * fetch() gets h->url into h->body, retrying what may pass: at most
 * `retries` times, and never waiting past retry_total_ms since the first
 * attempt.  Returns DM_OK with a 2xx JSON body, else an error naming the
 * URL, page and reason.
 */
static dm_status fetch(dm_httpsrc *h, dm_error *err)
{
    const dm_mapping *m = h->map;
    long delay = m->retry_base_ms;
    long long start = now_ms();
    for (long attempt = 0;; attempt++) {
        dm_buf_reset(&h->body);
        h->too_large = 0;
        h->retry_after = -1;
        h->ctype[0] = h->link_next[0] = h->errbuf[0] = '\0';
        curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
        CURLcode c = curl_easy_perform(h->curl);
        long status = 0;
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        char why[200];
        int again = 0;
        if (h->too_large || c == CURLE_FILESIZE_EXCEEDED)
            return fail(h, err, DM_ETOOLARGE, "the response is over %zu bytes; aborted",
                        m->max_bytes);
        if (c != CURLE_OK) {
            snprintf(why, sizeof why, "%.199s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(c));
            again = retryable(c);
            if (!again)
                return fail(h, err, c == CURLE_TOO_MANY_REDIRECTS ? DM_EFORMAT : DM_EIO, "%s", why);
        } else if (status == 429 || status >= 500) {
            snprintf(why, sizeof why, "HTTP status %ld", status);
            again = 1;
        } else if (status < 200 || status > 299) {
            return fail(h, err, DM_EIO, "HTTP status %ld", status);
        } else if (!is_json_type(h->ctype)) {
            return fail(h, err, DM_EFORMAT, "the response is %s, not JSON", h->ctype);
        } else {
            return DM_OK;
        }
        if (attempt >= m->retries)
            return fail(h, err, DM_EIO, "%s (after %ld attempt%s)", why, attempt + 1,
                        attempt ? "s" : "");
        long wait = delay + (delay > 1 ? rand() % (delay / 2 + 1) : 0); /* jitter */
        if (h->retry_after >= 0)
            wait = h->retry_after * 1000;
        if (wait > m->retry_max_ms)
            wait = m->retry_max_ms;
        long long spent = now_ms() - start;
        if (spent + wait > m->retry_total_ms)
            return fail(h, err, DM_EIO, "%s (gave up after %ld attempt%s in %.1f s)", why,
                        attempt + 1, attempt ? "s" : "", (double)spent / 1000.0);
        sleep_ms(wait);
        if (delay < m->retry_max_ms)
            delay *= 2;
    }
}

/* ---- pages ------------------------------------------------------------------ */

static long buf_read(void *ud, char *buf, size_t n, dm_error *err)
{
    (void)err;
    dm_httpsrc *h = ud;
    size_t left = h->feed->len - h->rpos;
    if (n > left)
        n = left;
    memcpy(buf, h->feed->data + h->rpos, n);
    h->rpos += n;
    return (long)n;
}

/* resolve() makes `ref` absolute against the current page's URL. */
static char *resolve(dm_httpsrc *h, const char *ref, const char *query)
{
    CURLU *u = curl_url();
    char *out = NULL, *res = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, ref ? h->url : h->base, 0) == CURLUE_OK &&
        (!ref || curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK) &&
        (!query || curl_url_set(u, CURLUPART_QUERY, query, CURLU_APPENDQUERY) == CURLUE_OK) &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
        res = dm_strdup(out);
    curl_free(out);
    curl_url_cleanup(u);
    return res;
}

/* query_param() makes "NAME=VALUE", VALUE percent-encoded (RFC 3986 unreserved kept). */
static char *query_param(const char *name, const char *value)
{
    size_t a = strlen(name), b = strlen(value);
    char *q = dm_calloc(1, a + 1 + 3 * b + 1);
    if (!q)
        return NULL;
    memcpy(q, name, a);
    char *o = q + a;
    *o++ = '=';
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = "0123456789ABCDEF"[*p >> 4];
            *o++ = "0123456789ABCDEF"[*p & 15];
        }
    }
    return q;
}

/*
 * next_of() sets h->next from a page (root: the parsed body, or NULL).
 * The pages of cursor and offset paging are built from the first URL, and
 * so keep its "since" parameter.
 */
static dm_status next_of(dm_httpsrc *h, json_t *root, size_t nitems, dm_error *err)
{
    const dm_mapping *m = h->map;
    dm_free(h->next);
    h->next = NULL;
    char q[4096];
    int qn = 0;
    switch (m->paging) {
    case DM_PAGING_NONE: return DM_OK;
    case DM_PAGING_LINK:
        if (h->link_next[0] && !(h->next = resolve(h, h->link_next, NULL)))
            return fail(h, err, DM_EFORMAT, "the Link header's next URL is not a URL");
        return DM_OK;
    case DM_PAGING_BODY: {
        const char *s = json_string_value(dm_json_pointer(root, m->next_pointer));
        if (s && *s && !(h->next = resolve(h, s, NULL)))
            return fail(h, err, DM_EFORMAT, "the next page's URL (at %s) is not a URL",
                        m->next_pointer);
        return DM_OK;
    }
    case DM_PAGING_CURSOR: {
        json_t *v = dm_json_pointer(root, m->next_pointer);
        const char *s = json_string_value(v);
        char num[32];
        if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
        }
        if (!s || !*s || !nitems)
            return DM_OK;
        char *enc = curl_easy_escape(h->curl, s, 0);
        if (!enc)
            return DM_ENOMEM;
        qn = snprintf(q, sizeof q, "%s=%s%s%s", m->next_param, enc, h->since_q ? "&" : "",
                      h->since_q ? h->since_q : "");
        curl_free(enc);
        break;
    }
    case DM_PAGING_OFFSET:
        /* a short page is the last; so is the one that reaches a known total */
        if ((long)nitems < m->limit || (h->total >= 0 && h->offset + m->limit >= h->total))
            return DM_OK;
        h->offset += m->limit;
        qn = snprintf(q, sizeof q, "%s=%ld&%s=%ld%s%s", m->next_param, h->offset,
                      m->limit_param ? m->limit_param : "limit", m->limit,
                      h->since_q ? "&" : "", h->since_q ? h->since_q : "");
        break;
    }
    if (qn < 0 || (size_t)qn >= sizeof q)
        return fail(h, err, DM_ETOOLARGE, "the next page's query is over %zu bytes",
                    sizeof q - 1);
    if (!(h->next = resolve(h, NULL, q)))
        return DM_ENOMEM;
    return DM_OK;
}

/* ---- the cursor ("since"), the total and progress ------------------------------ */

/* kind(): how a "since" value sorts: 2 a number, 1 a string, 0 not a cursor value. */
static int kind(const json_t *v)
{
    return json_is_number(v) ? 2 : json_is_string(v) ? 1 : 0;
}

/*
 * after() says whether the "since" value a sorts after b (NULL: nothing):
 * numbers by value, strings byte by byte (ISO 8601 times in one format
 * sort so), and a number after any string.
 */
static int after(const json_t *a, const json_t *b)
{
    if (!b)
        return 1;
    if (kind(a) != kind(b))
        return kind(a) > kind(b);
    if (kind(a) == 1)
        return strcmp(json_string_value(a), json_string_value(b)) > 0;
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) > json_integer_value(b);
    return json_number_value(a) > json_number_value(b);
}

/* see_item() keeps the item's "since" value when it is the greatest yet. */
static void see_item(dm_httpsrc *h, json_t *item)
{
    if (!h->map->since_pointer)
        return;
    json_t *v = dm_json_pointer(item, h->map->since_pointer);
    if (kind(v) && after(v, h->best)) {
        json_decref(h->best);
        h->best = json_incref(v);
    }
}

/* see_total() reads the mapping's "total" in a page: a whole number, 0 or more. */
static void see_total(dm_httpsrc *h, json_t *root)
{
    if (!h->map->total_pointer)
        return;
    json_t *v = dm_json_pointer(root, h->map->total_pointer);
    const char *s = json_string_value(v);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        h->total = (long long)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e18) {
        h->total = (long long)json_real_value(v);
    } else if (s && *s >= '0' && *s <= '9') {
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (!*end && !errno)
            h->total = n;
    }
}

/* see_jsonl() looks for "since" values in a JSONL page, a line at a time. */
static void see_jsonl(dm_httpsrc *h)
{
    const char *p = h->body.data, *end = p + h->body.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_error_t je;
        json_t *v = n ? json_loadb(p, n, 0, &je) : NULL;
        if (json_is_object(v))
            see_item(h, v);
        json_decref(v); /* a bad line is the reader's to report */
        p += n + 1;
    }
}

static void report_progress(dm_httpsrc *h)
{
    if (!h->progress)
        return;
    const dm_mapping *m = h->map;
    dm_progress p = {h->given, "page", (uint64_t)h->page, 0, h->records, 0};
    if (h->total >= 0) {
        p.records_total = (uint64_t)h->total;
        if (m->paging == DM_PAGING_OFFSET) {
            long long pages = h->total ? (h->total + m->limit - 1) / m->limit : 1;
            p.total = (uint64_t)(pages < m->max_pages ? pages : m->max_pages);
        }
    }
    h->progress(h->progress_ud, &p);
}

/*
 * own_page() reads what a page in doorman's own schema says beside its
 * records: the next page (body and cursor paging), the items' "since"
 * values and the total.  Only then is the page parsed here as well: it is
 * one JSON document ({"records": [...], ...} or an array), or, without
 * body or cursor paging, JSONL.  The records themselves are the reader's.
 */
static dm_status own_page(dm_httpsrc *h, dm_error *err)
{
    const dm_mapping *m = h->map;
    int in_body = m->paging == DM_PAGING_BODY || m->paging == DM_PAGING_CURSOR;
    if (!in_body && !m->since_pointer && !m->total_pointer)
        return next_of(h, NULL, 1, err);
    json_error_t je;
    json_t *root = json_loadb(h->body.data, h->body.len, JSON_ALLOW_NUL, &je);
    if (!root && in_body)
        return fail(h, err, DM_EFORMAT,
                    "the page is not one JSON document (%s at line %d, column %d); "
                    "next.type \"%s\" needs {\"records\": [...], ...} or an array, not JSONL",
                    je.text, je.line, je.column, m->paging == DM_PAGING_BODY ? "body" : "cursor");
    size_t nitems = 1;
    if (root) {
        json_t *recs = json_is_array(root) ? root : json_object_get(root, "records");
        if (json_is_array(recs)) {
            size_t i;
            json_t *it;
            json_array_foreach(recs, i, it)
                see_item(h, it);
            nitems = json_array_size(recs);
        } else if (json_is_object(root)) {
            see_item(h, root); /* one record: a JSONL page of one line */
        }
        see_total(h, root);
    } else {
        see_jsonl(h);
    }
    dm_status st = next_of(h, root, nitems, err);
    json_decref(root);
    return st;
}

/*
 * load_page() fetches h->url and sets up the reader of its records and
 * the next page's URL.
 */
static dm_status load_page(dm_httpsrc *h, dm_error *err)
{
    const dm_mapping *m = h->map;
    dm_json_free(h->json);
    h->json = NULL;
    dm_status st = fetch(h, err);
    if (st != DM_OK)
        return st;
    snprintf(h->name, sizeof h->name, "%s", h->url);
    h->rpos = 0;
    if (!m->items) {
        st = own_page(h, err);
        h->feed = &h->body;
    } else {
        json_error_t je;
        json_t *root = json_loadb(h->body.data, h->body.len, 0, &je);
        if (!root)
            return fail(h, err, DM_ESYNTAX, "invalid JSON at line %d, column %d: %s", je.line,
                        je.column, je.text);
        json_t *items = dm_json_pointer(root, m->items);
        if (!json_is_array(items)) {
            json_decref(root);
            return fail(h, err, DM_EFORMAT, "no array of items at %s", m->items);
        }
        dm_buf_reset(&h->lines);
        size_t i;
        json_t *it;
        see_total(h, root);
        json_array_foreach(items, i, it)
        {
            see_item(h, it);
            json_t *rec = dm_mapping_apply(m, it);
            if (rec && !json_object_get(rec, "source")) {
                char src[DM_ERROR_SOURCE_MAX + 32];
                snprintf(src, sizeof src, "%s#%zu", h->url, i);
                json_object_set_new(rec, "source", json_string(src));
            }
            char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
            json_decref(rec);
            if (!line) {
                st = DM_ENOMEM;
                break;
            }
            st = dm_buf_adds(&h->lines, line);
            free(line);
            if (st == DM_OK)
                st = dm_buf_addc(&h->lines, '\n');
            if (st != DM_OK)
                break;
        }
        if (st == DM_OK)
            st = next_of(h, root, json_array_size(items), err);
        json_decref(root);
        dm_buf_reset(&h->body);
        h->feed = &h->lines;
        if (st == DM_ETOOLARGE)
            return fail(h, err, st, "the page's records are over %zu bytes", h->lines.max);
    }
    if (st != DM_OK)
        return st;
    if (h->feed->len != 0) { /* else an empty page: nothing to read */
        dm_input in = {buf_read, h, h->name};
        st = dm_json_open(&in, h->max_record, &h->json, err);
        if (st != DM_OK && err) {
            char text[DM_ERROR_TEXT_MAX - 32];
            snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1,
                     err->text[0] ? err->text : dm_strerror(st));
            snprintf(err->text, sizeof err->text, "page %ld: %s", h->page, text);
        }
    }
    if (st == DM_OK)
        report_progress(h);
    return st;
}

dm_status dm_http_open(const char *url, const dm_http_opts *opts, dm_httpsrc **out,
                       dm_error *err)
{
    static const dm_http_opts none;
    if (!opts)
        opts = &none;
    dm_httpsrc *h = dm_calloc(1, sizeof *h);
    if (!h)
        return DM_ENOMEM;
    h->max_record = opts->max_record;
    h->page = 1;
    h->total = -1;
    h->progress = opts->progress;
    h->progress_ud = opts->progress_ud;
    dm_status st = DM_OK;
    if (!(h->given = dm_strdup(url)) || (opts->since && !(h->since_in = dm_strdup(opts->since)))) {
        st = DM_ENOMEM;
        goto out;
    }
    const char *hash = strchr(url, '#');
    h->base = hash ? dm_calloc(1, (size_t)(hash - url) + 1) : dm_strdup(url);
    if (!h->base) {
        st = DM_ENOMEM;
        goto out;
    }
    if (hash)
        memcpy(h->base, url, (size_t)(hash - url));
    if (hash && strncmp(hash + 1, "mapping=", 8) == 0) {
        st = dm_mapping_load(hash + 9, &h->map, err);
    } else {
        h->map = dm_calloc(1, sizeof *h->map);
        if (h->map)
            dm_mapping_defaults(h->map);
        else
            st = DM_ENOMEM;
    }
    if (st != DM_OK)
        goto out;
    /* a password in the URL would be on the command line and in every error */
    CURLU *u = curl_url();
    char *pw = NULL;
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, h->base, 0) : CURLUE_OUT_OF_MEMORY;
    int has_pw = uc == CURLUE_OK && curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK;
    curl_free(pw);
    curl_url_cleanup(u);
    if (uc != CURLUE_OK) {
        st = dm_error_set(err, DM_EINVAL, "(URL)", 0, 0, "not a valid URL: %s",
                          curl_url_strerror(uc));
        goto out;
    }
    if (has_pw) {
        st = dm_error_set(err, DM_EINVAL, "(URL)", 0, 0,
                          "the URL holds a password; give credentials through the "
                          "mapping's auth (an environment variable or netrc) instead");
        goto out;
    }
    if (h->map->since_param && h->since_in) {
        /* only what came after an earlier run: the server decides what "after" means */
        if (!(h->since_q = query_param(h->map->since_param, h->since_in))) {
            st = DM_ENOMEM;
            goto out;
        }
    }
    if (h->map->paging == DM_PAGING_OFFSET) {
        char q[4096];
        int qn = snprintf(q, sizeof q, "%s=0&%s=%ld%s%s", h->map->next_param,
                          h->map->limit_param ? h->map->limit_param : "limit", h->map->limit,
                          h->since_q ? "&" : "", h->since_q ? h->since_q : "");
        if (qn < 0 || (size_t)qn >= sizeof q) {
            st = dm_error_set(err, DM_ETOOLARGE, h->base, 0, 0,
                              "page 1: the query is over %zu bytes", sizeof q - 1);
            goto out;
        }
        h->url = resolve(h, NULL, q);
    } else {
        h->url = h->since_q ? resolve(h, NULL, h->since_q) : dm_strdup(h->base);
    }
    if (!h->url) {
        st = DM_ENOMEM;
        goto out;
    }
    dm_buf_init(&h->body, h->map->max_bytes ? h->map->max_bytes + 1 : 1);
    dm_buf_init(&h->lines, h->map->max_bytes ? 4 * h->map->max_bytes + 4096 : 4096);
    static int seeded;
    if (!seeded) {
        seeded = 1;
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
    }
    if (!(h->curl = curl_easy_init())) {
        st = DM_ENOMEM;
        goto out;
    }
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, h->map->max_redirects);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->map->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->map->timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (opts->cacert || h->map->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, opts->cacert ? opts->cacert : h->map->cacert);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->map->max_bytes);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    st = set_auth(h, opts->secret, err);
    if (st == DM_OK)
        st = load_page(h, err);
out:
    if (st != DM_OK) {
        dm_http_free(h);
        return st;
    }
    *out = h;
    return DM_OK;
}

/*
 * page_failed() ends the listing after a page could not be had: the error
 * is fatal (DM_EIO), whatever its cause, as a reader's caller skips a
 * recoverable one and asks again, and nothing after a lost page can be
 * trusted to be complete.
 */
static dm_status page_failed(dm_httpsrc *h, dm_status st, dm_error *err)
{
    h->failed = 1;
    dm_free(h->next);
    h->next = NULL;
    if (!dm_status_recoverable(st))
        return st;
    if (err && err->code == st)
        err->code = DM_EIO;
    return DM_EIO;
}

dm_status dm_http_next(dm_httpsrc *h, dm_record *rec, dm_error *err)
{
    if (h->failed)
        return DM_END;
    for (;;) {
        dm_status st = h->json ? dm_json_next(h->json, rec, err) : DM_END;
        if (st != DM_OK && st != DM_END && err && err->code == st) {
            /* the reader names the URL and line; say which page too */
            char text[DM_ERROR_TEXT_MAX - 32];
            snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1, err->text);
            snprintf(err->text, sizeof err->text, "page %ld: %s", h->page, text);
        }
        if (st == DM_OK)
            h->records++;
        if (st != DM_END)
            return st;
        if (!h->next)
            return DM_END;
        if (h->page >= h->map->max_pages)
            return page_failed(
                h, fail(h, err, DM_EFORMAT, "more than %ld pages; stopping", h->map->max_pages),
                err);
        dm_free(h->url);
        h->url = h->next;
        h->next = NULL;
        h->page++;
        st = load_page(h, err);
        if (st != DM_OK)
            return page_failed(h, st, err);
    }
}

void dm_http_free(dm_httpsrc *h)
{
    if (!h)
        return;
    dm_json_free(h->json);
    if (h->curl)
        curl_easy_cleanup(h->curl);
    dm_buf_free(&h->body);
    dm_buf_free(&h->lines);
    dm_mapping_free(h->map);
    dm_free(h->base);
    dm_free(h->url);
    dm_free(h->next);
    dm_free(h->given);
    dm_free(h->since_in);
    dm_free(h->since_q);
    json_decref(h->best);
    dm_free(h);
}

/* cursor_text(): a "since" value as the cursor writes it (num: room for a number). */
static const char *cursor_text(const json_t *v, char *num, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(num, n, "%lld", (long long)json_integer_value(v));
    else
        snprintf(num, n, "%.17g", json_real_value(v));
    return num;
}

/*
 * newer() says whether the value seen sorts after the earlier run's
 * cursor, read as a value of the same kind (an unreadable number: yes).
 */
static int newer(const json_t *best, const char *old)
{
    if (json_is_string(best))
        return strcmp(json_string_value(best), old) > 0;
    char *end;
    errno = 0;
    if (json_is_integer(best)) {
        long long n = strtoll(old, &end, 10);
        return *end || end == old || errno || json_integer_value(best) > n;
    }
    double d = strtod(old, &end);
    return *end || end == old || json_real_value(best) > d;
}

int dm_http_cursor(const dm_httpsrc *h, char *buf, size_t n)
{
    if (n)
        buf[0] = '\0';
    if (!h || !h->map->since_pointer)
        return 0;
    char num[64];
    const char *v = h->since_in;
    if (h->best && (!v || newer(h->best, v)))
        v = cursor_text(h->best, num, sizeof num);
    if (!v)
        return 0;
    int k = snprintf(buf, n, "since:%s", v);
    if (k < 0 || (size_t)k >= n) {
        if (n)
            buf[0] = '\0';
        return 0;
    }
    return 1;
}
