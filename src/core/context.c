/*
 * context.c: what is not a record but shapes a verdict: "me" (the user's
 * own profile) and, per sender, the history of past conversations and
 * whether they are already a connection.
 */
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

struct dm_context {
    char *me_name, *me_headline, *me_industry;
    struct company *companies;
    size_t ncompanies;
    dm_map by_url, by_name;   /* history */
    dm_map conn_url, conn_name; /* connections (value unused) */
};

DM_API dm_status dm_context_create(dm_context **out)
{
    dm_context *c = dm_calloc(1, sizeof *c);
    if (!c)
        return DM_ENOMEM;
    *out = c;
    return DM_OK;
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
 * url_key() reduces a profile URL to a join key: no scheme, no "www.",
 * no query or fragment, no trailing slash, lower case.  The export writes
 * the same profile as "https://www.linkedin.com/in/x" in one file and
 * "http://linkedin.com/in/x/" in another.
 */
static char *url_key(const char *url)
{
    if (!url || !*url)
        return NULL;
    const char *p = url;
    const char *sep = strstr(p, "://");
    if (sep)
        p = sep + 3;
    if (dm_ascii_ncasecmp(p, "www.", 4) == 0)
        p += 4;
    size_t n = strcspn(p, "?#");
    while (n && p[n - 1] == '/')
        n--;
    if (!n)
        return NULL;
    char *k = dm_strndup(p, n);
    if (k)
        for (char *q = k; *q; q++)
            *q = dm_ascii_lower(*q);
    return k;
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
    char *key = url_key(peer_url);
    dm_history *h;
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
    char *key = url_key(url);
    int rc = 0;
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

DM_API void dm_context_attach(const dm_context *c, dm_record *rec)
{
    const char *url = dm_record_get(rec, DM_FIELD_FROM_URL);
    const char *name = dm_record_get(rec, DM_FIELD_FROM_NAME);
    rec->history = NULL;
    char *key = url_key(url);
    if (key) {
        rec->history = dm_map_get(&c->by_url, key);
        if (dm_map_get(&c->conn_url, key))
            rec->facts |= DM_FACT_CONNECTED;
        dm_free(key);
    }
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
