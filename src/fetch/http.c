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
        char *end;
        long s = strtol(line + 12, &end, 10);
        h->retry_after = end != line + 12 && s >= 0 ? s : 1;
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

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
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

static dm_status set_auth(dm_httpsrc *h, dm_error *err)
{
    const dm_mapping *m = h->map;
    if (m->auth == DM_AUTH_NONE)
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
    if (!secret) {
        secret = getenv(m->auth_env);
        if (!secret || !*secret)
            return fail(h, err, DM_EINVAL,
                        "the environment variable %s (the mapping's auth.env) is not set",
                        m->auth_env);
    }
    if (m->auth == DM_AUTH_BEARER) {
        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, secret);
    } else {
        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h->curl, CURLOPT_USERPWD, secret);
    }
    return DM_OK;
}

/*
 * fetch() gets h->url into h->body, retrying what may pass.  Returns DM_OK
 * with a 2xx JSON body, else an error naming the URL, page and reason.
 */
static dm_status fetch(dm_httpsrc *h, dm_error *err)
{
    const dm_mapping *m = h->map;
    long delay = m->retry_base_ms;
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

/* next_of() sets h->next from a page (root: the parsed body, or NULL). */
static dm_status next_of(dm_httpsrc *h, json_t *root, size_t nitems, dm_error *err)
{
    const dm_mapping *m = h->map;
    dm_free(h->next);
    h->next = NULL;
    char q[1024];
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
        snprintf(q, sizeof q, "%s=%s", m->next_param, enc ? enc : "");
        curl_free(enc);
        break;
    }
    case DM_PAGING_OFFSET:
        if ((long)nitems < m->limit)
            return DM_OK;
        h->offset += m->limit;
        snprintf(q, sizeof q, "%s=%ld&%s=%ld", m->next_param, h->offset,
                 m->limit_param ? m->limit_param : "limit", m->limit);
        break;
    }
    if (!(h->next = resolve(h, NULL, q)))
        return DM_ENOMEM;
    return DM_OK;
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
        st = next_of(h, NULL, 1, err);
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
        json_array_foreach(items, i, it)
        {
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
    if (h->feed->len == 0)
        return DM_OK; /* an empty page: nothing to read */
    dm_input in = {buf_read, h, h->name};
    st = dm_json_open(&in, h->max_record, &h->json, err);
    if (st != DM_OK && err) {
        char text[DM_ERROR_TEXT_MAX - 32];
        snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1,
                 err->text[0] ? err->text : dm_strerror(st));
        snprintf(err->text, sizeof err->text, "page %ld: %s", h->page, text);
    }
    return st;
}

dm_status dm_http_open(const char *url, size_t max_record, dm_httpsrc **out, dm_error *err)
{
    dm_httpsrc *h = dm_calloc(1, sizeof *h);
    if (!h)
        return DM_ENOMEM;
    h->max_record = max_record;
    h->page = 1;
    dm_status st = DM_OK;
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
    if (h->map->paging == DM_PAGING_OFFSET) {
        char q[512];
        snprintf(q, sizeof q, "%s=0&%s=%ld", h->map->next_param,
                 h->map->limit_param ? h->map->limit_param : "limit", h->map->limit);
        h->url = resolve(h, NULL, q);
    } else {
        h->url = dm_strdup(h->base);
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
    if (h->map->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->map->cacert);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->map->max_bytes);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    st = set_auth(h, err);
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
    dm_free(h);
}
