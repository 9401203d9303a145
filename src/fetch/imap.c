/*
 * imap.c: an IMAP folder as a source, through libcurl's IMAP
 * (docs/sources.md, "IMAP mailboxes").
 *
 * One easy handle, so one connection and one login for the whole run:
 *
 *   1. root URL, custom "EXAMINE folder"      -> UIDVALIDITY, UIDNEXT
 *   2. folder URL, custom "UID SEARCH keys"   -> the UIDs to read
 *   3. folder URL, custom "UID SEARCH UNSEEN" -> which of them were unseen
 *   4. per UID: "folder;UID=n" (libcurl: UID FETCH n BODY[]) -> the message,
 *      then "UID STORE n -FLAGS.SILENT (\Seen)" when it was unseen.
 *
 * Why not BODY.PEEK: libcurl's URL fetch always asks for BODY[], and a
 * custom "UID FETCH n BODY.PEEK[]" hands back only the first line of the
 * response, not the literal that holds the message.  So reading sets
 * \Seen and step 4 takes it back; a client that reads the same message in
 * between may see the flag come and go.
 *
 * Marking (dm_imap_mark(), `doorman triage --flag-declined/--move-declined`)
 * acts on the mail just returned, after step 4: "UID STORE n +FLAGS.SILENT
 * (flag)", then "UID MOVE n folder" when the server has MOVE, else "UID COPY",
 * "UID STORE n +FLAGS.SILENT (\Deleted)" and "UID EXPUNGE n" (UIDPLUS: only
 * that UID is expunged, never another client's \Deleted mail).  A server with
 * neither is refused before any mail is read (dm_imap_check_target()).
 */
#include "fetch/imap.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RESP_MAX ((size_t)16 << 20) /* a search answer: about 2M UIDs */
#define MAX_UIDS ((size_t)1 << 22)
#define MAX_FLAG 64    /* bytes of a flag name */
#define MAX_FOLDER 512 /* bytes of a folder name to move to */

enum { CAP_MOVE = 1, CAP_UIDPLUS = 2 };

struct dm_imap {
    CURL *curl;
    char *root;       /* "imap://[user@]host:port/": for libcurl, never shown */
    char *folder_url; /* root + the folder as the URL wrote it */
    char *folder;     /* decoded */
    char *shown;      /* "imap://host:port/FOLDER": errors and record sources */
    char *search;
    char *password;
    uint32_t *uids;
    size_t n, next;
    uint32_t *unseen; /* sorted */
    size_t nunseen;
    uint32_t uidvalidity, uidnext, last;
    uint32_t cur;  /* the UID dm_imap_next() returned last; 0: none */
    int cur_moved; /* ... and it was moved away */
    int caps;      /* CAP_* once asked; -1 before */
    char *target;  /* the folder to move to, checked to exist */
    CURLcode last_rc;
    size_t max_message;
    dm_progress_fn progress;
    void *progress_ud;
    char *progress_name;
    uint64_t records;
    dm_buf body;
    int overflow;
    int global; /* curl_global_init() done */
    dm_mailbox_report_fn report;
    void *ud;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- the URL ---------------------------------------------------------------- */

static int is_loopback(const char *host, size_t n)
{
    if ((n == 9 && dm_ascii_ncasecmp(host, "localhost", 9) == 0) ||
        (n == 5 && !memcmp(host, "[::1]", 5)))
        return 1;
    return n >= 4 && memcmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") >= n;
}

/* decode() URL-decodes s[0..n) into a new string; refuses control bytes. */
static dm_status decode(const char *s, size_t n, char **out)
{
    int len = 0;
    char *d = curl_easy_unescape(NULL, s, (int)n, &len);
    if (!d)
        return DM_ENOMEM;
    for (int i = 0; i < len; i++) {
        if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f) {
            curl_free(d);
            return DM_EINVAL;
        }
    }
    *out = dm_strdup(d);
    curl_free(d);
    return *out ? DM_OK : DM_ENOMEM;
}

/*
 * url -> scheme "://" [user "@"] host [":" port] ["/" folder] ["?" search]
 */
static dm_status parse_url(dm_imap *im, const char *url, char **user, int *tls, int *loopback,
                           dm_error *err)
{
    dm_status st = DM_OK;
    char *shown_src = NULL;
    size_t sl;
    if (dm_ascii_ncasecmp(url, "imaps://", 8) == 0)
        *tls = 1, sl = 8;
    else if (dm_ascii_ncasecmp(url, "imap://", 7) == 0)
        *tls = 0, sl = 7;
    else
        return dm_error_set(err, DM_EINVAL, "imap", 0, 0, "not an imap:// or imaps:// URL");
    const char *auth = url + sl;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    const char *host = at ? at + 1 : auth;
    size_t hlen = (size_t)(auth + alen - host);
    char scheme[9] = {0};
    memcpy(scheme, *tls ? "imaps://" : "imap://", *tls ? 8 : 7);
    /* errors name the URL without what precedes the host */
    if (dm_buf_printf(&im->body, "%s%.*s", scheme, (int)hlen, host) != DM_OK)
        return DM_ENOMEM;
    shown_src = dm_buf_steal(&im->body);
    if (!shown_src)
        return DM_ENOMEM;
    if (at && memchr(auth, ':', (size_t)(at - auth))) {
        st = dm_error_set(err, DM_EINVAL, shown_src, 0, 0,
                          "a password in the URL is refused (it shows in the process list): "
                          "use $%s or netrc",
                          DM_IMAP_PASSWORD_ENV);
        goto out;
    }
    if (hlen == 0 || memchr(host, ';', hlen)) {
        st = dm_error_set(err, DM_EINVAL, shown_src, 0, 0, "no host in the URL");
        goto out;
    }
    if (strchr(auth, '#')) {
        st = dm_error_set(err, DM_EINVAL, shown_src, 0, 0, "a fragment (#) in an IMAP URL");
        goto out;
    }
    if (at) {
        st = decode(auth, (size_t)(at - auth), user);
        if (st != DM_OK)
            goto bad;
    }
    /* the host without the port decides whether plain text is allowed */
    size_t hn = hlen;
    if (host[0] == '[') {
        const char *rb = memchr(host, ']', hlen);
        hn = rb ? (size_t)(rb - host) + 1 : hlen;
    } else {
        const char *colon = memchr(host, ':', hlen);
        if (colon)
            hn = (size_t)(colon - host);
    }
    *loopback = is_loopback(host, hn);

    const char *path = auth + alen;
    if (*path == '/')
        path++;
    size_t plen = strcspn(path, "?#");
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (memchr(path, ';', plen)) {
        st = dm_error_set(err, DM_EINVAL, shown_src, 0, 0,
                          "the URL names a message (;UID=...): give the folder only");
        goto out;
    }
    if (plen == 0)
        path = "INBOX", plen = 5;
    st = decode(path, plen, &im->folder);
    if (st != DM_OK)
        goto bad;
    if (strpbrk(im->folder, "\"\\")) {
        st = dm_error_set(err, DM_EINVAL, shown_src, 0, 0,
                          "a folder name with a quote or a backslash is not supported");
        goto out;
    }
    const char *q = path + strcspn(path, "?#");
    if (*q == '?' && q[1]) {
        st = decode(q + 1, strcspn(q + 1, "#"), &im->search);
        if (st != DM_OK)
            goto bad;
    } else {
        im->search = dm_strdup(DM_IMAP_DEFAULT_SEARCH);
        if (!im->search) {
            st = DM_ENOMEM;
            goto out;
        }
    }
    /* the user stays in the URLs libcurl gets (as the URL wrote it): with
     * CURLOPT_USERNAME set, libcurl would not look in netrc */
    if (dm_buf_printf(&im->body, "%s%.*s/", scheme, (int)(auth + alen - auth), auth) != DM_OK ||
        !(im->root = dm_buf_steal(&im->body)) ||
        dm_buf_printf(&im->body, "%s%.*s", im->root, (int)plen, path) != DM_OK ||
        !(im->folder_url = dm_buf_steal(&im->body)) ||
        dm_buf_printf(&im->body, "%s%.*s/%s", scheme, (int)hlen, host, im->folder) != DM_OK ||
        !(im->shown = dm_buf_steal(&im->body))) {
        st = DM_ENOMEM;
        goto out;
    }
    goto out;
bad:
    if (st != DM_ENOMEM)
        st = dm_error_set(err, DM_EINVAL, shown_src, 0, 0, "a control character in the URL");
out:
    dm_free(shown_src);
    return st;
}

/* ---- credentials -------------------------------------------------------------- */

/*
 * check_netrc() refuses a netrc file that others may read, as ftp(1) does:
 * it holds passwords.  A missing file is fine (libcurl then logs in
 * without a password, and the server says no).
 */
static dm_status check_netrc(dm_imap *im, const char *file, dm_error *err)
{
    struct stat sb;
    if (stat(file, &sb) != 0)
        return DM_OK;
    if (sb.st_mode & (S_IRWXG | S_IRWXO))
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                            "the netrc file %s can be read by others (mode %03o): "
                            "chmod 600 it",
                            file, (unsigned)(sb.st_mode & 0777));
    return DM_OK;
}

/* ---- requests ----------------------------------------------------------------- */

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    dm_imap *im = ud;
    size_t len = size * n;
    if (dm_buf_add(&im->body, p, len) != DM_OK) {
        im->overflow = 1;
        return 0;
    }
    return len;
}

/*
 * request() runs one request: `url`, with `custom` as the IMAP command when
 * not NULL; the answer (custom: the untagged lines) in im->body, at most
 * `max` bytes.  DM_ETOOLARGE past it, DM_EIO with libcurl's reason.
 */
static dm_status request(dm_imap *im, const char *url, const char *custom, size_t max,
                         dm_error *err)
{
    dm_buf_reset(&im->body);
    im->body.max = max;
    im->overflow = 0;
    im->errbuf[0] = '\0';
    curl_easy_setopt(im->curl, CURLOPT_URL, url);
    curl_easy_setopt(im->curl, CURLOPT_CUSTOMREQUEST, custom);
    CURLcode rc = curl_easy_perform(im->curl);
    im->last_rc = rc;
    if (rc == CURLE_OK)
        return DM_OK;
    if (im->overflow)
        return DM_ETOOLARGE;
    if (rc == CURLE_OUT_OF_MEMORY)
        return DM_ENOMEM;
    const char *why = im->errbuf[0] ? im->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_REMOTE_FILE_NOT_FOUND && !custom) {
        if (strstr(im->errbuf, "UIDVALIDITY"))
            return dm_error_set(err, DM_EIO, im->shown, 0, 0,
                                "the folder's UIDVALIDITY changed during the run; run again");
        return DM_ENOENT; /* no such UID (any more): the caller skips it */
    }
    /* Dovecot answers a fetch of a message whose file vanished (expunged
     * by another client since the search) with a FETCH libcurl cannot
     * parse: that message is skipped, the next fetch reconnects */
    if (rc == CURLE_WEIRD_SERVER_REPLY && !custom)
        return DM_ENOENT;
    if (rc == CURLE_QUOTE_ERROR && custom)
        return dm_error_set(err, DM_EIO, im->shown, 0, 0,
                            "the server refused \"%.60s\" (no such folder, or a bad search?)",
                            custom);
    if (custom)
        return dm_error_set(err, DM_EIO, im->shown, 0, 0, "IMAP %.*s failed: %s",
                            (int)strcspn(custom, " "), custom, why);
    return dm_error_set(err, DM_EIO, im->shown, 0, 0, "%s", why);
}

/* resp_code() finds "[NAME n]" in an answer; 0 when absent. */
static uint32_t resp_code(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    if (!p)
        return 0;
    p += strlen(name);
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || *end != ']' || v > UINT32_MAX)
        return 0;
    return (uint32_t)v;
}

static int cmp_uid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * parse_search() reads the numbers of every "* SEARCH n n n" line of
 * im->body into a new sorted array (without duplicates).
 */
static dm_status parse_search(dm_imap *im, uint32_t **out, size_t *count, dm_error *err)
{
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    dm_status st = DM_OK;
    const char *p = im->body.data ? im->body.data : "";
    while (*p) {
        size_t ll = strcspn(p, "\n");
        if (ll >= 8 && dm_ascii_ncasecmp(p, "* SEARCH", 8) == 0) {
            const char *q = p + 8, *end = p + ll;
            while (q < end) {
                while (q < end && (*q == ' ' || *q == '\r'))
                    q++;
                if (q >= end)
                    break;
                char *e;
                unsigned long u = strtoul(q, &e, 10);
                if (e == q || u == 0 || u > UINT32_MAX) {
                    st = dm_error_set(err, DM_EIO, im->shown, 0, 0,
                                      "the server's SEARCH answer is not a list of UIDs");
                    goto out;
                }
                if (n == cap) {
                    if (cap >= MAX_UIDS) {
                        st = dm_error_set(err, DM_ETOOLARGE, im->shown, 0, 0,
                                          "the search found more than %zu messages: narrow it",
                                          MAX_UIDS);
                        goto out;
                    }
                    size_t nc = cap ? cap * 2 : 64;
                    uint32_t *nv = dm_realloc(v, nc * sizeof *v);
                    if (!nv) {
                        st = DM_ENOMEM;
                        goto out;
                    }
                    v = nv, cap = nc;
                }
                v[n++] = (uint32_t)u;
                q = e;
            }
        }
        p += ll;
        if (*p)
            p++;
    }
    if (n > 1) {
        qsort(v, n, sizeof *v, cmp_uid);
        size_t w = 1;
        for (size_t i = 1; i < n; i++)
            if (v[i] != v[w - 1])
                v[w++] = v[i];
        n = w;
    }
out:
    if (st != DM_OK) {
        dm_free(v);
        return st;
    }
    *out = v;
    *count = n;
    return DM_OK;
}

static dm_status search(dm_imap *im, const dm_imap_opts *o, dm_error *err)
{
    dm_status st;
    uint32_t from = 0;
    if (o && o->uidvalidity && o->uidvalidity == im->uidvalidity) {
        from = o->since_uid;
        im->last = o->since_uid;
    }
    dm_buf cmd;
    dm_buf_init(&cmd, 64 * 1024);
    if (from)
        st = dm_buf_printf(&cmd, "UID SEARCH UID %lu:* (%s)", (unsigned long)from + 1, im->search);
    else
        st = dm_buf_printf(&cmd, "UID SEARCH %s", im->search);
    if (st != DM_OK) {
        st = dm_error_set(err, st, im->shown, 0, 0, "the search is too long");
        goto out;
    }
    st = request(im, im->folder_url, cmd.data, RESP_MAX, err);
    if (st == DM_OK)
        st = parse_search(im, &im->uids, &im->n, err);
    /* "n:*" always holds the highest UID, even one below n */
    while (st == DM_OK && im->n > 0 && im->uids[0] <= from) {
        memmove(im->uids, im->uids + 1, (im->n - 1) * sizeof *im->uids);
        im->n--;
    }
    if (st == DM_OK && im->n > 0) {
        st = request(im, im->folder_url, "UID SEARCH UNSEEN", RESP_MAX, err);
        if (st == DM_OK)
            st = parse_search(im, &im->unseen, &im->nunseen, err);
    }
    if (st == DM_ETOOLARGE)
        st = dm_error_set(err, st, im->shown, 0, 0, "the server's SEARCH answer is over %zu bytes",
                          RESP_MAX);
out:
    dm_buf_free(&cmd);
    return st;
}

/* ---- the source --------------------------------------------------------------- */

dm_status dm_imap_open(const char *url, const dm_imap_opts *opts, dm_mailbox_report_fn report,
                       void *ud, dm_imap **out, dm_error *err)
{
    if (!url || !out)
        return dm_error_set(err, DM_EINVAL, "imap", 0, 0, "no URL given");
    dm_imap *im = dm_calloc(1, sizeof *im);
    if (!im)
        return DM_ENOMEM;
    dm_buf_init(&im->body, RESP_MAX);
    im->report = report;
    im->ud = ud;
    im->caps = -1;
    if (opts && opts->progress) {
        im->progress = opts->progress;
        im->progress_ud = opts->progress_ud;
        im->progress_name = dm_strdup(opts->progress_name ? opts->progress_name : url);
        if (!im->progress_name) {
            dm_free(im);
            return DM_ENOMEM;
        }
    }
    im->max_message = opts && opts->max_message ? opts->max_message : DM_MAILBOX_MAX_MESSAGE;
    char *user = NULL;
    int tls = 0, loopback = 0;
    dm_status st = parse_url(im, url, &user, &tls, &loopback, err);
    if (st != DM_OK)
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        st = DM_ENOMEM;
        goto out;
    }
    im->global = 1; /* counted: dm_imap_free() gives it back */
    if (!(im->curl = curl_easy_init())) {
        st = DM_ENOMEM;
        goto out;
    }
    CURL *c = im->curl;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, im->errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, im);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                     opts && opts->connect_timeout > 0 ? opts->connect_timeout : 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, opts && opts->timeout > 0 ? opts->timeout : 120L);
    /* a server that stops sending mid-message */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = opts && opts->cacert ? opts->cacert : getenv(DM_IMAP_CACERT_ENV);
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    /* plain text only on loopback; elsewhere imap:// must STARTTLS */
    if (!tls && !loopback)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    /* the config file's, else the environment's, else netrc */
    const char *pw =
        opts && opts->password && *opts->password ? opts->password : getenv(DM_IMAP_PASSWORD_ENV);
    if (pw && *pw) {
        im->password = dm_strdup(pw);
        if (!im->password) {
            st = DM_ENOMEM;
            goto out;
        }
        curl_easy_setopt(c, CURLOPT_PASSWORD, im->password);
    } else {
        const char *nf = opts && opts->netrc_file ? opts->netrc_file : getenv("NETRC");
        char home_netrc[4096];
        if (!nf || !*nf) {
            const char *home = getenv("HOME");
            nf = NULL;
            if (home && *home &&
                (size_t)snprintf(home_netrc, sizeof home_netrc, "%s/.netrc", home) <
                    sizeof home_netrc)
                nf = home_netrc;
        }
        if (nf) {
            st = check_netrc(im, nf, err);
            if (st != DM_OK)
                goto out;
            curl_easy_setopt(c, CURLOPT_NETRC_FILE, nf);
        }
        curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
    }

    dm_buf cmd;
    dm_buf_init(&cmd, 4096);
    st = dm_buf_printf(&cmd, "EXAMINE \"%s\"", im->folder);
    if (st == DM_OK)
        st = request(im, im->root, cmd.data, RESP_MAX, err);
    dm_buf_free(&cmd);
    if (st == DM_ETOOLARGE)
        st = dm_error_set(err, st, im->shown, 0, 0, "the folder name is too long");
    if (st != DM_OK)
        goto out;
    im->uidvalidity = resp_code(im->body.data, "[UIDVALIDITY ");
    im->uidnext = resp_code(im->body.data, "[UIDNEXT ");
    if (!im->uidvalidity) {
        st = dm_error_set(err, DM_EIO, im->shown, 0, 0,
                          "the server did not report the folder's UIDVALIDITY");
        goto out;
    }
    /* what marking needs is checked before any mail is read */
    if (opts && (opts->flag || opts->move_to)) {
        st = dm_imap_check_target(im, opts->flag, opts->move_to, err);
        if (st != DM_OK)
            goto out;
    }
    st = search(im, opts, err);
out:
    dm_free(user);
    if (st != DM_OK) {
        dm_imap_free(im);
        return st;
    }
    *out = im;
    return DM_OK;
}

static int was_unseen(const dm_imap *im, uint32_t uid)
{
    return im->nunseen && bsearch(&uid, im->unseen, im->nunseen, sizeof uid, cmp_uid) != NULL;
}

static dm_status skip(dm_imap *im, const char *where, dm_status code, const char *text)
{
    dm_error e;
    dm_error_clear(&e);
    dm_error_set(&e, code, where, 0, 0, "%s", text);
    if (im->report && im->report(im->ud, DM_SEV_ERROR, &e) != DM_OK)
        return DM_ESTRICT;
    return DM_OK;
}

/* progress() tells the caller after each mail fetched, skipped ones too. */
static void progress(dm_imap *im)
{
    if (!im->progress)
        return;
    dm_progress p = {im->progress_name, "mail", im->next, im->n, im->records, im->n};
    im->progress(im->progress_ud, &p);
}

dm_status dm_imap_next(dm_imap *im, dm_record *rec, dm_error *err)
{
    char url[DM_ERROR_SOURCE_MAX + 4096];
    char where[DM_ERROR_SOURCE_MAX];
    im->cur = 0;
    im->cur_moved = 0;
    while (im->next < im->n) {
        uint32_t uid = im->uids[im->next++];
        /* RFC 5092: a UID means something only with its UIDVALIDITY, and
         * libcurl refuses the fetch when the folder's has changed since */
        snprintf(where, sizeof where, "%s;UIDVALIDITY=%lu/;UID=%lu", im->shown,
                 (unsigned long)im->uidvalidity, (unsigned long)uid);
        if ((size_t)snprintf(url, sizeof url, "%s;UIDVALIDITY=%lu/;UID=%lu", im->folder_url,
                             (unsigned long)im->uidvalidity, (unsigned long)uid) >= sizeof url)
            return dm_error_set(err, DM_ETOOLARGE, im->shown, 0, 0, "the URL is too long");
        dm_status st = request(im, url, NULL, im->max_message, err);
        if (st == DM_OK && im->body.len > 0)
            st = dm_mail_record(im->body.data, im->body.len, where, rec, err);
        else if (st == DM_OK)
            st = DM_ENOENT; /* expunged between the search and the fetch */
        if (was_unseen(im, uid) && (st == DM_OK || st == DM_ETOOLARGE)) {
            /* take back the \Seen the fetch set (see the top of the file) */
            char store[96];
            snprintf(store, sizeof store, "UID STORE %lu -FLAGS.SILENT (\\Seen)",
                     (unsigned long)uid);
            dm_status rst = request(im, im->folder_url, store, RESP_MAX, err);
            if (rst != DM_OK)
                return rst;
        }
        if (st == DM_ETOOLARGE || st == DM_ENOENT) {
            char text[160];
            if (st == DM_ETOOLARGE)
                snprintf(text, sizeof text,
                         "the message is over the limit of %zu bytes; message skipped",
                         im->max_message);
            else
                snprintf(text, sizeof text, "the message is gone (expunged?); skipped");
            if (skip(im, where, st, text) != DM_OK)
                return dm_error_set(err, DM_ESTRICT, where, 0, 0, "%s", text);
            if (uid > im->last)
                im->last = uid;
            progress(im);
            continue;
        }
        if (st != DM_OK)
            return st;
        if (uid > im->last)
            im->last = uid;
        im->cur = uid;
        im->records++;
        progress(im);
        return DM_OK;
    }
    return DM_END;
}

/* ---- marking ---------------------------------------------------------------- */

/*
 * flag -> '\' system-flag | atom     (RFC 3501 flag-keyword / flag-extension)
 * atom -> any printable ASCII but SP ( ) { % * " \ ]
 */
static dm_status check_flag(const dm_imap *im, const char *flag, dm_error *err)
{
    static const char *const system[] = {"Answered", "Flagged", "Deleted", "Seen", "Draft"};
    const char *a = flag[0] == '\\' ? flag + 1 : flag;
    if (!*a)
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0, "an empty flag name");
    for (const char *p = flag; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f)
            return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                                "a flag name must be printable ASCII (a keyword such as "
                                "$Declined, or a system flag such as \\Flagged)");
    }
    if (strlen(flag) > MAX_FLAG || strpbrk(a, " (){%*\"\\]"))
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                            "\"%.*s\" is not an IMAP flag: use a keyword such as $Declined "
                            "(no spaces, parentheses, quotes, %%, *, ], {), or a system flag "
                            "such as \\Flagged",
                            MAX_FLAG + 1, flag);
    if (a != flag) {
        for (size_t i = 0; i < sizeof system / sizeof *system; i++)
            if (dm_ascii_ncasecmp(a, system[i], strlen(system[i]) + 1) == 0)
                return DM_OK;
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                            "\"%s\" is not a system flag one may set: \\Answered, \\Flagged, "
                            "\\Deleted, \\Seen or \\Draft (or a keyword such as $Declined)",
                            flag);
    }
    return DM_OK;
}

/* check_folder() refuses a folder name that cannot be sent as a quoted
 * string, or the folder being read. */
static dm_status check_folder(const dm_imap *im, const char *folder, dm_error *err)
{
    if (!*folder)
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0, "an empty folder name to move to");
    for (const char *p = folder; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80)
            return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                                "the folder name to move to is not ASCII: non-ASCII folder "
                                "names (modified UTF-7) are not supported");
        if (c < 0x20 || c == 0x7f)
            return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                                "a control character in the folder name to move to");
    }
    if (strlen(folder) > MAX_FOLDER)
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                            "the folder name to move to is over %d bytes", MAX_FOLDER);
    int inbox = dm_ascii_ncasecmp(folder, "INBOX", 6) == 0 &&
                dm_ascii_ncasecmp(im->folder, "INBOX", 6) == 0;
    if (inbox || strcmp(folder, im->folder) == 0)
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                            "the folder to move to, \"%s\", is the folder being read", folder);
    return DM_OK;
}

/* quote() appends `s` as an IMAP quoted string (checked by check_folder()). */
static dm_status quote(dm_buf *b, const char *s)
{
    dm_status st = dm_buf_add(b, "\"", 1);
    for (; st == DM_OK && *s; s++) {
        if (*s == '"' || *s == '\\')
            st = dm_buf_add(b, "\\", 1);
        if (st == DM_OK)
            st = dm_buf_add(b, s, 1);
    }
    return st == DM_OK ? dm_buf_add(b, "\"", 1) : st;
}

/* host_len() is the length of "HOST[:PORT]" in im->shown. */
static int host_len(const dm_imap *im)
{
    const char *h = strstr(im->shown, "://");
    h = h ? h + 3 : im->shown;
    return (int)strcspn(h, "/");
}

/* capabilities() asks the server once what it can do (after the login:
 * what it offers before may differ). */
static dm_status capabilities(dm_imap *im, dm_error *err)
{
    if (im->caps >= 0)
        return DM_OK;
    dm_status st = request(im, im->root, "CAPABILITY", RESP_MAX, err);
    if (st != DM_OK)
        return st;
    im->caps = 0;
    const char *p = im->body.data ? im->body.data : "";
    while (*p) {
        size_t ll = strcspn(p, "\n");
        if (ll >= 12 && dm_ascii_ncasecmp(p, "* CAPABILITY", 12) == 0) {
            const char *q = p + 12, *end = p + ll;
            while (q < end) {
                q += strspn(q, " \r");
                size_t tl = strcspn(q, " \r\n");
                if (q + tl > end)
                    tl = (size_t)(end - q);
                if (tl == 4 && dm_ascii_ncasecmp(q, "MOVE", 4) == 0)
                    im->caps |= CAP_MOVE;
                else if (tl == 7 && dm_ascii_ncasecmp(q, "UIDPLUS", 7) == 0)
                    im->caps |= CAP_UIDPLUS;
                q += tl ? tl : 1;
            }
        }
        p += ll;
        if (*p)
            p++;
    }
    return DM_OK;
}

dm_status dm_imap_check_target(dm_imap *im, const char *flag, const char *folder, dm_error *err)
{
    if (!im)
        return dm_error_set(err, DM_EINVAL, "imap", 0, 0, "no IMAP source");
    dm_status st = DM_OK;
    dm_buf cmd;
    dm_buf_init(&cmd, 4096);
    if (flag && (st = check_flag(im, flag, err)) != DM_OK)
        goto out;
    if (!folder || (im->target && strcmp(im->target, folder) == 0))
        goto out;
    if ((st = check_folder(im, folder, err)) != DM_OK)
        goto out;
    /* STATUS leaves the selected folder (and its \Recent flags) alone */
    if ((st = dm_buf_printf(&cmd, "STATUS ")) != DM_OK || (st = quote(&cmd, folder)) != DM_OK ||
        (st = dm_buf_printf(&cmd, " (MESSAGES)")) != DM_OK)
        goto out;
    dm_error e;
    dm_error_clear(&e);
    st = request(im, im->root, cmd.data, RESP_MAX, &e);
    if (st == DM_EIO && im->last_rc == CURLE_QUOTE_ERROR) {
        st = dm_error_set(err, DM_ENOENT, im->shown, 0, 0,
                          "folder \"%s\" does not exist on %.*s; create it first", folder,
                          host_len(im), strstr(im->shown, "://") + 3);
        goto out;
    }
    if (st != DM_OK) {
        if (err && e.code)
            *err = e;
        goto out;
    }
    if ((st = capabilities(im, err)) != DM_OK)
        goto out;
    if (!(im->caps & (CAP_MOVE | CAP_UIDPLUS))) {
        st = dm_error_set(err, DM_EINVAL, im->shown, 0, 0,
                          "the server can neither MOVE nor UID EXPUNGE (UIDPLUS): doorman "
                          "cannot move a mail without expunging others'");
        goto out;
    }
    dm_free(im->target);
    if (!(im->target = dm_strdup(folder)))
        st = DM_ENOMEM;
out:
    if (st == DM_ETOOLARGE || (st == DM_ENOMEM && err && !err->code))
        st = dm_error_set(err, st, im->shown, 0, 0, "%s", dm_strerror(st));
    dm_buf_free(&cmd);
    return st;
}

/* mark_request() runs one command of dm_imap_mark(); a refusal names what
 * was refused ("to move the mail to ..."), not the command. */
static dm_status mark_request(dm_imap *im, const char *cmd, const char *what, dm_error *err)
{
    dm_error e;
    dm_error_clear(&e);
    dm_status st = request(im, im->folder_url, cmd, RESP_MAX, &e);
    if (st == DM_EIO && im->last_rc == CURLE_QUOTE_ERROR)
        return dm_error_set(err, DM_EIO, im->shown, 0, 0, "the server refused %s (UID %lu): %.80s",
                            what, (unsigned long)im->cur, cmd);
    if (st != DM_OK && err && e.code)
        *err = e;
    return st;
}

dm_status dm_imap_mark(dm_imap *im, const char *flag, const char *folder, dm_error *err)
{
    if (!im)
        return dm_error_set(err, DM_EINVAL, "imap", 0, 0, "no IMAP source");
    if (!im->cur)
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0, "no mail read to mark");
    if (im->cur_moved)
        return dm_error_set(err, DM_EINVAL, im->shown, 0, 0, "the mail was moved already");
    dm_status st = dm_imap_check_target(im, flag, folder, err);
    if (st != DM_OK)
        return st;
    unsigned long uid = im->cur;
    dm_buf cmd;
    dm_buf_init(&cmd, 4096);
    /* the fetch's \Seen was taken back in dm_imap_next(): the flags the
     * mail carries now are the ones it had, and MOVE or COPY keeps them */
    if (flag) {
        if ((st = dm_buf_printf(&cmd, "UID STORE %lu +FLAGS.SILENT (%s)", uid, flag)) != DM_OK ||
            (st = mark_request(im, cmd.data, "to flag the mail", err)) != DM_OK)
            goto out;
    }
    if (folder && (im->caps & CAP_MOVE)) {
        dm_buf_reset(&cmd);
        if ((st = dm_buf_printf(&cmd, "UID MOVE %lu ", uid)) != DM_OK ||
            (st = quote(&cmd, folder)) != DM_OK ||
            (st = mark_request(im, cmd.data, "to move the mail", err)) != DM_OK)
            goto out;
        im->cur_moved = 1;
    } else if (folder) {
        dm_buf_reset(&cmd);
        if ((st = dm_buf_printf(&cmd, "UID COPY %lu ", uid)) != DM_OK ||
            (st = quote(&cmd, folder)) != DM_OK ||
            (st = mark_request(im, cmd.data, "to copy the mail", err)) != DM_OK)
            goto out;
        dm_buf_reset(&cmd);
        if ((st = dm_buf_printf(&cmd, "UID STORE %lu +FLAGS.SILENT (\\Deleted)", uid)) != DM_OK ||
            (st = mark_request(im, cmd.data, "to delete the copied mail", err)) != DM_OK)
            goto out;
        dm_buf_reset(&cmd);
        if ((st = dm_buf_printf(&cmd, "UID EXPUNGE %lu", uid)) != DM_OK ||
            (st = mark_request(im, cmd.data, "to expunge the copied mail", err)) != DM_OK)
            goto out;
        im->cur_moved = 1;
    }
out:
    if (st == DM_ETOOLARGE || (st == DM_ENOMEM && err && !err->code))
        st = dm_error_set(err, st, im->shown, 0, 0, "%s", dm_strerror(st));
    dm_buf_free(&cmd);
    return st;
}

void dm_imap_free(dm_imap *im)
{
    if (!im)
        return;
    if (im->curl)
        curl_easy_cleanup(im->curl);
    if (im->global)
        curl_global_cleanup();
    if (im->password) {
        memset(im->password, 0, strlen(im->password));
        dm_free(im->password);
    }
    dm_buf_free(&im->body);
    dm_free(im->uids);
    dm_free(im->unseen);
    dm_free(im->root);
    dm_free(im->folder_url);
    dm_free(im->folder);
    dm_free(im->shown);
    dm_free(im->search);
    dm_free(im->target);
    dm_free(im->progress_name);
    dm_free(im);
}

uint32_t dm_imap_uidvalidity(const dm_imap *im)
{
    return im->uidvalidity;
}
uint32_t dm_imap_uidnext(const dm_imap *im)
{
    return im->uidnext;
}
uint32_t dm_imap_last_uid(const dm_imap *im)
{
    return im->last;
}
size_t dm_imap_found(const dm_imap *im)
{
    return im->n;
}
