/*
 * context.c: what is not a record but shapes a verdict: "me" (the user's
 * own profile) and, per sender, the history of past conversations and
 * whether they are already a connection.
 */
#include "context.h"

#include "core.h"
#include "map.h"
#include "record.h"

#include <string.h>

/* How many of a peer's own messages are kept as text; the count goes on. */
#define HISTORY_TEXTS_MAX 64

struct dm_history {
    size_t messages, incoming;
    int weak;
    size_t ntexts;
    char *texts[HISTORY_TEXTS_MAX];
};

struct company {
    char *name;
    int current;
};

/* A message waiting for dm_context_finish(): one allocation, the strings in data. */
typedef struct pending {
    const char *from, *from_url, *to, *to_urls, *conv, *text;
    int dir; /* 1 incoming, 0 outgoing, -1 compare FROM with me */
    char data[];
} pending;

struct dm_context {
    char *me_name, *me_headline, *me_industry;
    struct company *companies;
    size_t ncompanies;
    dm_map by_url, by_name;   /* history */
    dm_map conn_url, conn_name; /* connections (value unused) */
    pending **pending;          /* messages not yet filed, in input order */
    size_t npending, pending_cap;
    dm_status broken; /* what a finish that failed returned: the history is half made */
};

DM_API dm_status dm_context_create(dm_context **out)
{
    dm_context *c = dm_calloc(1, sizeof *c);
    if (!c)
        return DM_ENOMEM;
    *out = c;
    return DM_OK;
}

static void pending_clear(dm_context *c)
{
    for (size_t i = 0; i < c->npending; i++)
        dm_free(c->pending[i]);
    dm_free(c->pending);
    c->pending = NULL;
    c->npending = c->pending_cap = 0;
}

static void history_free(void *p)
{
    dm_history *h = p;
    for (size_t i = 0; i < h->ntexts; i++)
        dm_free(h->texts[i]);
    dm_free(h);
}

DM_API void dm_context_free(dm_context *c)
{
    if (!c)
        return;
    dm_free(c->me_name);
    dm_free(c->me_headline);
    dm_free(c->me_industry);
    for (size_t i = 0; i < c->ncompanies; i++)
        dm_free(c->companies[i].name);
    dm_free(c->companies);
    dm_map_free(&c->by_url, history_free);
    dm_map_free(&c->by_name, history_free);
    dm_map_free(&c->conn_url, NULL);
    dm_map_free(&c->conn_name, NULL);
    pending_clear(c);
    dm_free(c);
}

DM_API const char *dm_me_name(const dm_context *c) { return c->me_name; }
DM_API const char *dm_me_headline(const dm_context *c) { return c->me_headline; }
DM_API const char *dm_me_industry(const dm_context *c) { return c->me_industry; }
DM_API size_t dm_me_company_count(const dm_context *c) { return c->ncompanies; }

DM_API const char *dm_me_company(const dm_context *c, size_t i, int *current)
{
    if (i >= c->ncompanies)
        return NULL;
    if (current)
        *current = c->companies[i].current;
    return c->companies[i].name;
}

static dm_status replace(char **slot, const char *v)
{
    if (!v)
        return DM_OK;
    char *d = dm_strdup(v);
    if (!d)
        return DM_ENOMEM;
    dm_free(*slot);
    *slot = d;
    return DM_OK;
}

DM_API dm_status dm_me_set(dm_context *c, const char *name, const char *headline,
                           const char *industry)
{
    if (replace(&c->me_name, name) || replace(&c->me_headline, headline) ||
        replace(&c->me_industry, industry))
        return DM_ENOMEM;
    return DM_OK;
}

DM_API dm_status dm_me_add_company(dm_context *c, const char *company, int current)
{
    if (!company || !*company)
        return DM_OK;
    for (size_t i = 0; i < c->ncompanies; i++) {
        if (dm_ascii_casecmp(c->companies[i].name, company) == 0) {
            c->companies[i].current |= current;
            return DM_OK;
        }
    }
    struct company *p = dm_realloc(c->companies, (c->ncompanies + 1) * sizeof *p);
    if (!p)
        return DM_ENOMEM;
    c->companies = p;
    p[c->ncompanies].name = dm_strdup(company);
    if (!p[c->ncompanies].name)
        return DM_ENOMEM;
    p[c->ncompanies++].current = current ? 1 : 0;
    return DM_OK;
}

/*
 * url_norm() finds the part of a profile URL that is its join key: no
 * scheme, no "www.", no query or fragment, no trailing slash; the key is
 * that part lower-cased.  The export writes the same profile as
 * "https://www.linkedin.com/in/x" in one file and "http://linkedin.com/in/x/"
 * in another.  Returns the part's length (0: no key) and its start in *start.
 */
static size_t url_norm(const char *url, const char **start)
{
    if (!url || !*url)
        return 0;
    const char *p = url;
    size_t head = strcspn(p, ":/?#");
    if (strncmp(p + head, "://", 3) == 0 && head > 0) /* a scheme, not "://" in a query */
        p += head + 3;
    if (dm_ascii_ncasecmp(p, "www.", 4) == 0)
        p += 4;
    size_t n = strcspn(p, "?#");
    while (n && p[n - 1] == '/')
        n--;
    *start = p;
    return n;
}

/*
 * url_key() sets *key to the join key of `url`, malloc'd, or to NULL when
 * it has none.  Out of memory is DM_ENOMEM, not "no key": that would file
 * the person under their name instead, a weak join, silently.
 */
static dm_status url_key(const char *url, char **key)
{
    const char *p;
    size_t n = url_norm(url, &p);
    *key = NULL;
    if (!n)
        return DM_OK;
    *key = dm_strndup(p, n);
    if (!*key)
        return DM_ENOMEM;
    for (char *q = *key; *q; q++)
        *q = dm_ascii_lower(*q);
    return DM_OK;
}

/*
 * find_url() looks `url` up in `m` by its join key.  It does not allocate for
 * a URL of a sane length: dm_context_attach() cannot report a failure, and a
 * key that could not be allocated there silently cost a record its history
 * and its connected fact.
 */
static void *find_url(const dm_map *m, const char *url)
{
    const char *p;
    size_t n = url_norm(url, &p);
    char small[512];
    if (!n || n >= sizeof small)
        return NULL; /* no profile URL is this long */
    for (size_t i = 0; i < n; i++)
        small[i] = dm_ascii_lower(p[i]);
    small[n] = '\0';
    return dm_map_get(m, small);
}

static dm_history *history_for(dm_map *m, const char *key, int weak)
{
    dm_history *h = dm_map_get(m, key);
    if (h)
        return h;
    h = dm_calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->weak = weak;
    if (dm_map_put(m, key, h) != 0) {
        dm_free(h);
        return NULL;
    }
    return h;
}

DM_API dm_status dm_context_add_message(dm_context *c, const char *peer_url,
                                        const char *peer_name, int incoming, const char *text)
{
    char *key;
    dm_history *h;
    if (url_key(peer_url, &key) != DM_OK)
        return DM_ENOMEM;
    if (key) {
        h = history_for(&c->by_url, key, 0);
        dm_free(key);
    } else if (peer_name && *peer_name) {
        h = history_for(&c->by_name, peer_name, 1);
    } else {
        return DM_EINVAL; /* nobody to join on */
    }
    if (!h)
        return DM_ENOMEM;
    h->messages++;
    if (incoming) {
        h->incoming++;
        if (text && h->ntexts < HISTORY_TEXTS_MAX) {
            h->texts[h->ntexts] = dm_strdup(text);
            if (!h->texts[h->ntexts])
                return DM_ENOMEM;
            h->ntexts++;
        }
    }
    return DM_OK;
}

DM_API dm_status dm_context_add_connection(dm_context *c, const char *url, const char *name)
{
    char *key;
    int rc = 0;
    if (url_key(url, &key) != DM_OK)
        return DM_ENOMEM;
    if (key) {
        rc = dm_map_put(&c->conn_url, key, c);
        dm_free(key);
    } else if (name && *name) {
        rc = dm_map_put(&c->conn_name, name, c);
    } else {
        return DM_EINVAL;
    }
    return rc ? DM_ENOMEM : DM_OK;
}

DM_API size_t dm_context_connection_count(const dm_context *c)
{
    return c->conn_url.len + c->conn_name.len;
}

DM_API size_t dm_context_history_count(const dm_context *c)
{
    return c->by_url.len + c->by_name.len;
}

/* ---- messages waiting for me ------------------------------------------------ */

dm_status dm_context_add_pending(dm_context *c, const dm_pending *m)
{
    const char *src[6] = {m->from, m->from_url, m->to, m->to_urls, m->conv, m->text};
    size_t len[6], total = 0;
    for (int i = 0; i < 6; i++) {
        if (!src[i])
            src[i] = "";
        len[i] = strlen(src[i]);
        total += len[i] + 1;
    }
    if (c->npending == c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap * 2 : 64;
        pending **q = dm_realloc(c->pending, cap * sizeof *q);
        if (!q)
            return DM_ENOMEM;
        c->pending = q;
        c->pending_cap = cap;
    }
    pending *p = dm_malloc(sizeof *p + total);
    if (!p)
        return DM_ENOMEM;
    const char **dst[6] = {&p->from, &p->from_url, &p->to, &p->to_urls, &p->conv, &p->text};
    char *d = p->data;
    for (int i = 0; i < 6; i++) {
        memcpy(d, src[i], len[i] + 1);
        *dst[i] = d;
        d += len[i] + 1;
    }
    p->dir = m->dir;
    c->pending[c->npending++] = p;
    return DM_OK;
}

/* trim() drops the spaces and tabs around s[0..*len); returns the new start. */
static const char *trim(const char *s, size_t *len)
{
    while (*len && (*s == ' ' || *s == '\t'))
        s++, (*len)--;
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        (*len)--;
    return s;
}

/* me() returns me's name trimmed, its length in *len: 0 when me is not known. */
static const char *me(const dm_context *c, size_t *len)
{
    *len = c->me_name ? strlen(c->me_name) : 0;
    return trim(c->me_name ? c->me_name : "", len);
}

int dm_context_is_me(const dm_context *c, const char *name)
{
    size_t ml;
    const char *m = me(c, &ml);
    if (!ml)
        return -1;
    size_t nl = name ? strlen(name) : 0;
    const char *n = trim(name ? name : "", &nl);
    return nl == ml && dm_ascii_ncasecmp(n, m, ml) == 0;
}

/*
 * recipients: the people one message went to.  RECIPIENT PROFILE URLS and
 * TO list them in the same order, comma-separated; but TO is a list only
 * when RECIPIENT PROFILE URLS is one, since a single name may hold a comma
 * ("Jane Doe, MBA").  Without URLs (2018 exports) TO is one name.  The guess
 * of me and the history of my messages both walk them this one way.
 */
typedef struct recipients {
    const char *urls, *names;
    int list;
} recipients;

static void recipients_init(recipients *it, const pending *p)
{
    it->urls = p->to_urls;
    it->names = p->to;
    it->list = strchr(p->to_urls, ',') != NULL;
}

/* next_recipient() gives the next URL and name, trimmed, either maybe empty; 0 at the end. */
static int next_recipient(recipients *it, const char **url, size_t *ulen, const char **name,
                          size_t *nlen)
{
    if (!*it->urls && !*it->names)
        return 0;
    size_t ul = it->list ? strcspn(it->urls, ",") : strlen(it->urls);
    size_t nl = it->list ? strcspn(it->names, ",") : strlen(it->names);
    *ulen = ul;
    *nlen = nl;
    *url = trim(it->urls, ulen);
    *name = trim(it->names, nlen);
    it->urls += ul + (it->urls[ul] == ',');
    it->names += nl + (it->names[nl] == ',');
    return 1;
}

/* What guess_me() counts, per person: conversations and messages. */
typedef struct tally {
    dm_map convs, msgs, seen;
    dm_buf key, best;
    size_t best_convs, best_msgs;
} tally;

/*
 * count_person() counts `name` (len bytes, trimmed) once more in `msgs` and,
 * the first time it shows in conversation `conv`, in `convs`; `best` keeps
 * whoever leads on (conversations, messages), the first to get there on a tie.
 */
static dm_status count_person(tally *t, const char *conv, const char *name, size_t len)
{
    name = trim(name, &len);
    if (!len)
        return DM_OK;
    dm_buf *k = &t->key;
    dm_buf_reset(k);
    dm_status st = dm_buf_add(k, name, len);
    size_t new_conv = 1;
    if (st == DM_OK && *conv) {
        /* once per conversation: the key is the name, a separator, the conversation */
        st = dm_buf_addc(k, '\x1f');
        if (st == DM_OK)
            st = dm_buf_adds(k, conv);
        if (st == DM_OK && dm_map_get(&t->seen, k->data))
            new_conv = 0;
        else if (st == DM_OK && dm_map_put(&t->seen, k->data, &t->seen) != 0)
            st = DM_ENOMEM;
        if (st == DM_OK)
            k->data[len] = '\0';
    }
    if (st != DM_OK)
        return st;
    size_t nc = (size_t)(uintptr_t)dm_map_get(&t->convs, k->data) + new_conv;
    size_t nm = (size_t)(uintptr_t)dm_map_get(&t->msgs, k->data) + 1;
    if (dm_map_put(&t->convs, k->data, (void *)(uintptr_t)nc) != 0 ||
        dm_map_put(&t->msgs, k->data, (void *)(uintptr_t)nm) != 0)
        return DM_ENOMEM;
    if (nc > t->best_convs || (nc == t->best_convs && nm > t->best_msgs)) {
        t->best_convs = nc;
        t->best_msgs = nm;
        dm_buf_reset(&t->best);
        st = dm_buf_add(&t->best, name, len);
    }
    return st;
}

/*
 * guess_me() names me when no Profile.csv said who: the person who takes
 * part in the most conversations (me is in all of them).  A tie (one
 * conversation only: nobody can tell) goes to the most messages, then to
 * who got there first, the sender of the oldest message of a one-to-one
 * conversation, as the export lists the newest first.  It counts each name
 * of a TO list: counting messages alone, with "Me, Other" as one name, a
 * peer who wrote a lot in one group conversation outnumbered me.  A message
 * without a conversation id (2018) is a conversation of its own.  Sets
 * me's name, when anybody was named.
 */
static dm_status guess_me(dm_context *c)
{
    tally t;
    memset(&t, 0, sizeof t);
    dm_map_init(&t.convs);
    dm_map_init(&t.msgs);
    dm_map_init(&t.seen);
    dm_buf_init(&t.key, 0);
    dm_buf_init(&t.best, 0);
    dm_status st = DM_OK;
    for (size_t i = 0; st == DM_OK && i < c->npending; i++) {
        const pending *p = c->pending[i];
        st = count_person(&t, p->conv, p->from, strlen(p->from));
        recipients it;
        recipients_init(&it, p);
        const char *url, *name;
        size_t ul, nl;
        while (st == DM_OK && next_recipient(&it, &url, &ul, &name, &nl))
            st = count_person(&t, p->conv, name, nl);
    }
    if (st == DM_OK && t.best.len)
        st = replace(&c->me_name, t.best.data);
    dm_map_free(&t.convs, NULL);
    dm_map_free(&t.msgs, NULL);
    dm_map_free(&t.seen, NULL);
    dm_buf_free(&t.key);
    dm_buf_free(&t.best);
    return st;
}

/*
 * add_outgoing() adds one of my messages to the history of each recipient.
 * `b` is scratch space for the URL and the name, each NUL-terminated.
 */
static dm_status add_outgoing(dm_context *c, const pending *p, dm_buf *b)
{
    recipients it;
    recipients_init(&it, p);
    const char *url, *name;
    size_t ul, nl;
    while (next_recipient(&it, &url, &ul, &name, &nl)) {
        if (!ul && !nl)
            continue;
        dm_buf_reset(b);
        dm_status st = dm_buf_add(b, url, ul);
        if (st == DM_OK)
            st = dm_buf_addc(b, '\0');
        if (st == DM_OK)
            st = dm_buf_add(b, name, nl);
        if (st == DM_OK)
            st = dm_context_add_message(c, b->data, b->data + ul + 1, 0, NULL);
        if (st != DM_OK && st != DM_EINVAL) /* EINVAL: nobody to join on, go on */
            return st;
    }
    return DM_OK;
}

DM_API dm_status dm_context_finish(dm_context *c, dm_error *err)
{
    dm_status st = c->broken;
    if (st == DM_OK && c->npending) {
        size_t ml;
        me(c, &ml);
        if (!ml) /* no Profile.csv in any source: guess */
            st = guess_me(c);
        dm_buf b;
        dm_buf_init(&b, 0);
        for (size_t i = 0; st == DM_OK && i < c->npending; i++) {
            const pending *p = c->pending[i];
            int incoming = p->dir >= 0 ? p->dir : dm_context_is_me(c, p->from) != 1;
            if (incoming)
                st = dm_context_add_message(c, p->from_url, p->from, 1, p->text);
            else
                st = add_outgoing(c, p, &b);
            if (st == DM_EINVAL) /* nobody named: nothing to join, nothing lost */
                st = DM_OK;
        }
        dm_buf_free(&b);
        pending_clear(c);
        c->broken = st;
    }
    if (st != DM_OK)
        return dm_error_set(err, st, NULL, 0, 0, "cannot file the messages in the history: %s",
                            dm_strerror(st));
    return DM_OK;
}

DM_API void dm_context_attach(const dm_context *c, dm_record *rec)
{
    const char *url = dm_record_get(rec, DM_FIELD_FROM_URL);
    const char *name = dm_record_get(rec, DM_FIELD_FROM_NAME);
    rec->history = find_url(&c->by_url, url);
    if (find_url(&c->conn_url, url))
        rec->facts |= DM_FACT_CONNECTED;
    if (name && *name) {
        if (!rec->history)
            rec->history = dm_map_get(&c->by_name, name);
        if (!(rec->facts & DM_FACT_CONNECTED) && !url && dm_map_get(&c->conn_name, name))
            rec->facts |= DM_FACT_CONNECTED;
    }
}

DM_API size_t dm_history_messages(const dm_history *h) { return h ? h->messages : 0; }
DM_API size_t dm_history_incoming(const dm_history *h) { return h ? h->incoming : 0; }
DM_API int dm_history_weak(const dm_history *h) { return h ? h->weak : 0; }

DM_API const char *dm_history_text(const dm_history *h, size_t i)
{
    return h && i < h->ntexts ? h->texts[i] : NULL;
}
