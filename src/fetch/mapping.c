/*
 * mapping.c: the mapping file of an HTTP JSON source (docs/sources.md has
 * the format), JSON Pointers, and turning one item into a record object.
 */
#include "fetch.h"

#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void dm_mapping_defaults(dm_mapping *m)
{
    memset(m, 0, sizeof *m);
    m->max_pages = 100000;
    m->connect_timeout_ms = 10000;
    m->timeout_ms = 60000;
    m->retries = 4;
    m->retry_base_ms = 500;
    m->retry_max_ms = 60000;
    m->retry_total_ms = 300000;
    m->max_redirects = 5;
    m->max_bytes = (size_t)64 << 20;
}

void dm_mapping_free(dm_mapping *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfields; i++) {
        dm_mapfield *f = &m->fields[i];
        for (size_t k = 0; k < f->nptrs; k++)
            dm_free(f->ptrs[k]);
        dm_free(f->ptrs);
        dm_free(f->key);
        dm_free(f->sep);
        dm_free(f->value);
        dm_free(f->prefix);
    }
    dm_free(m->fields);
    dm_free(m->items);
    dm_free(m->next_pointer);
    dm_free(m->next_param);
    dm_free(m->limit_param);
    dm_free(m->since_pointer);
    dm_free(m->since_param);
    dm_free(m->total_pointer);
    dm_free(m->cacert);
    dm_free(m->auth_env);
    if (m->secret) {
        memset(m->secret, 0, strlen(m->secret));
        dm_free(m->secret);
    }
    dm_free(m->netrc);
    dm_free(m);
}

json_t *dm_json_pointer(json_t *root, const char *ptr)
{
    if (!ptr || !*ptr)
        return root;
    if (*ptr != '/')
        return NULL;
    json_t *cur = root;
    char tok[256];
    const char *p = ptr + 1;
    for (;;) {
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char c = *p;
            if (c == '~' && p[1] == '0')
                c = '~', p++;
            else if (c == '~' && p[1] == '1')
                c = '/', p++;
            if (n + 1 >= sizeof tok)
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            errno = 0;
            unsigned long i = strtoul(tok, &end, 10);
            if (!n || *end || errno || (n > 1 && tok[0] == '0'))
                return NULL;
            cur = json_array_get(cur, i);
        } else {
            return NULL;
        }
        if (!cur || !*p)
            return cur;
        p++;
    }
}

/* ---- loading ------------------------------------------------------------------ */

static dm_status bad(dm_error *err, const char *path, const char *what)
{
    return dm_error_set(err, DM_EFORMAT, path, 0, 0, "mapping: %s", what);
}

static dm_status get_str(json_t *obj, const char *key, char **out, const char *path, dm_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return DM_OK;
    if (!json_is_string(v)) {
        char what[128];
        snprintf(what, sizeof what, "\"%s\" must be a string", key);
        return bad(err, path, what);
    }
    dm_free(*out);
    *out = dm_strdup(json_string_value(v));
    return *out ? DM_OK : DM_ENOMEM;
}

static dm_status get_long(json_t *obj, const char *key, long *out, const char *path, dm_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return DM_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char what[128];
        snprintf(what, sizeof what, "\"%s\" must be a whole number, 0 or more", key);
        return bad(err, path, what);
    }
    *out = (long)json_integer_value(v);
    return DM_OK;
}

static dm_status add_ptr(dm_mapfield *f, const char *p)
{
    char **n = dm_realloc(f->ptrs, (f->nptrs + 1) * sizeof *n);
    if (!n)
        return DM_ENOMEM;
    f->ptrs = n;
    if (!(f->ptrs[f->nptrs] = dm_strdup(p)))
        return DM_ENOMEM;
    f->nptrs++;
    return DM_OK;
}

/*
 * field -> POINTER | { "pointer": POINTER | "join": [POINTER...], "sep": S,
 *                      "value": CONST, "prefix": S,
 *                      "type": "epoch_ms" | "integer" | "string" }
 */
static dm_status load_field(const char *key, json_t *v, dm_mapfield *f, const char *path,
                            dm_error *err)
{
    dm_status st = DM_OK;
    if (!(f->key = dm_strdup(key)))
        return DM_ENOMEM;
    if (json_is_string(v))
        return add_ptr(f, json_string_value(v));
    if (!json_is_object(v))
        return bad(err, path, "a field must be a JSON Pointer or an object");
    json_t *p = json_object_get(v, "pointer"), *j = json_object_get(v, "join");
    if (json_is_string(p))
        st = add_ptr(f, json_string_value(p));
    if (json_is_array(j)) {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e)
        {
            if (st == DM_OK && !json_is_string(e))
                return bad(err, path, "\"join\" must list JSON Pointers");
            if (st == DM_OK)
                st = add_ptr(f, json_string_value(e));
        }
    }
    if (st == DM_OK)
        st = get_str(v, "sep", &f->sep, path, err);
    if (st == DM_OK)
        st = get_str(v, "value", &f->value, path, err);
    if (st == DM_OK)
        st = get_str(v, "prefix", &f->prefix, path, err);
    const char *type = json_string_value(json_object_get(v, "type"));
    if (type && strcmp(type, "epoch_ms") == 0)
        f->epoch_ms = 1;
    else if (type && strcmp(type, "integer") == 0)
        f->integer = 1;
    else if (type && strcmp(type, "string") != 0)
        return bad(err, path, "\"type\" must be \"string\", \"integer\" or \"epoch_ms\"");
    if (st == DM_OK && !f->nptrs && !f->value)
        return bad(err, path, "a field needs \"pointer\", \"join\" or \"value\"");
    return st;
}

static dm_status load_next(json_t *n, dm_mapping *m, const char *path, dm_error *err)
{
    if (!n)
        return DM_OK;
    if (!json_is_object(n))
        return bad(err, path, "\"next\" must be an object");
    const char *how = json_string_value(json_object_get(n, "type"));
    static const struct {
        const char *name;
        dm_paging p;
    } kinds[] = {{"none", DM_PAGING_NONE},
                 {"body", DM_PAGING_BODY},
                 {"link", DM_PAGING_LINK},
                 {"cursor", DM_PAGING_CURSOR},
                 {"offset", DM_PAGING_OFFSET}};
    size_t i = 0;
    while (how && i < sizeof kinds / sizeof kinds[0] && strcmp(kinds[i].name, how) != 0)
        i++;
    if (!how || i == sizeof kinds / sizeof kinds[0])
        return bad(err, path,
                   "\"next.type\" must be \"none\", \"body\", \"link\", \"cursor\" or \"offset\"");
    m->paging = kinds[i].p;
    dm_status st = get_str(n, "pointer", &m->next_pointer, path, err);
    if (st == DM_OK)
        st = get_str(n, "param", &m->next_param, path, err);
    if (st == DM_OK)
        st = get_str(n, "limit_param", &m->limit_param, path, err);
    if (st == DM_OK)
        st = get_long(n, "limit", &m->limit, path, err);
    if (st == DM_OK)
        st = get_long(n, "max_pages", &m->max_pages, path, err);
    if (st != DM_OK)
        return st;
    if ((m->paging == DM_PAGING_BODY || m->paging == DM_PAGING_CURSOR) && !m->next_pointer)
        return bad(err, path, "this \"next.type\" needs \"next.pointer\"");
    if ((m->paging == DM_PAGING_CURSOR || m->paging == DM_PAGING_OFFSET) && !m->next_param)
        return bad(err, path, "this \"next.type\" needs \"next.param\"");
    if (m->paging == DM_PAGING_OFFSET && m->limit <= 0)
        return bad(err, path, "\"next.type\": \"offset\" needs \"next.limit\" over 0");
    return DM_OK;
}

/* since -> { "pointer": POINTER, "param": NAME } */
static dm_status load_since(json_t *v, dm_mapping *m, const char *path, dm_error *err)
{
    if (!v)
        return DM_OK;
    if (!json_is_object(v))
        return bad(err, path, "\"since\" must be an object");
    dm_status st = get_str(v, "pointer", &m->since_pointer, path, err);
    if (st == DM_OK)
        st = get_str(v, "param", &m->since_param, path, err);
    if (st == DM_OK && (!m->since_pointer || !m->since_param))
        return bad(err, path, "\"since\" needs \"pointer\" and \"param\"");
    if (st == DM_OK && m->since_pointer[0] && m->since_pointer[0] != '/')
        return bad(err, path, "\"since.pointer\" must be a JSON Pointer (\"/...\")");
    return st;
}

static dm_status load_http(json_t *h, dm_mapping *m, const char *path, dm_error *err)
{
    if (!h)
        return DM_OK;
    if (!json_is_object(h))
        return bad(err, path, "\"http\" must be an object");
    long mb = -1;
    dm_status st = get_long(h, "connect_timeout_ms", &m->connect_timeout_ms, path, err);
    if (st == DM_OK)
        st = get_long(h, "timeout_ms", &m->timeout_ms, path, err);
    if (st == DM_OK)
        st = get_long(h, "retries", &m->retries, path, err);
    if (st == DM_OK)
        st = get_long(h, "retry_base_ms", &m->retry_base_ms, path, err);
    if (st == DM_OK)
        st = get_long(h, "retry_max_ms", &m->retry_max_ms, path, err);
    if (st == DM_OK)
        st = get_long(h, "retry_total_ms", &m->retry_total_ms, path, err);
    if (st == DM_OK)
        st = get_long(h, "max_redirects", &m->max_redirects, path, err);
    if (st == DM_OK)
        st = get_long(h, "max_bytes", &mb, path, err);
    if (st == DM_OK && mb >= 0)
        m->max_bytes = (size_t)mb;
    if (st == DM_OK)
        st = get_str(h, "cacert", &m->cacert, path, err);
    return st;
}

/*
 * auth -> { "type": "bearer" | "basic" | "netrc",
 *           "env": NAME | "secret": S | "file": NETRC }
 * A bearer or basic auth without "env" and "secret" takes the secret from
 * doorman's config file (dm_http_opts.secret) when the source is opened.
 */
static dm_status load_auth(json_t *a, dm_mapping *m, const char *path, const struct stat *sb,
                           dm_error *err)
{
    if (!a)
        return DM_OK;
    if (!json_is_object(a))
        return bad(err, path, "\"auth\" must be an object");
    const char *t = json_string_value(json_object_get(a, "type"));
    if (t && strcmp(t, "bearer") == 0)
        m->auth = DM_AUTH_BEARER;
    else if (t && strcmp(t, "basic") == 0)
        m->auth = DM_AUTH_BASIC;
    else if (t && strcmp(t, "netrc") == 0)
        m->auth = DM_AUTH_NETRC;
    else
        return bad(err, path, "\"auth.type\" must be \"bearer\", \"basic\" or \"netrc\"");
    dm_status st = get_str(a, "env", &m->auth_env, path, err);
    if (st == DM_OK)
        st = get_str(a, "file", &m->netrc, path, err);
    if (st == DM_OK && json_object_get(a, "secret")) {
        if (sb->st_mode & (S_IRWXG | S_IRWXO))
            return dm_error_set(err, DM_EFORMAT, path, 0, 0,
                                "mapping: holds a secret but others may read it; "
                                "refusing it (chmod 600 it, or name an \"env\" instead)");
        st = get_str(a, "secret", &m->secret, path, err);
    }
    /* neither "env" nor "secret": the secret of doorman's config file (dm_http_opts) */
    return st;
}

dm_status dm_mapping_load(const char *path, dm_mapping **out, dm_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, path, 0, 0, "mapping: %s",
                            strerror(errno));
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return dm_error_set(err, DM_ESYNTAX, path, je.line, je.column, "mapping: %s", je.text);
    dm_mapping *m = dm_calloc(1, sizeof *m);
    dm_status st = m ? DM_OK : DM_ENOMEM;
    if (st == DM_OK)
        dm_mapping_defaults(m);
    if (st == DM_OK && !json_is_object(root))
        st = bad(err, path, "the mapping must be a JSON object");
    if (st == DM_OK)
        st = get_str(root, "items", &m->items, path, err);
    json_t *fields = st == DM_OK ? json_object_get(root, "fields") : NULL;
    if (fields && !json_is_object(fields))
        st = bad(err, path, "\"fields\" must be an object");
    if (st == DM_OK && fields && !m->items)
        st = bad(err, path, "\"fields\" needs \"items\"");
    if (st == DM_OK && fields) {
        m->fields = dm_calloc(json_object_size(fields) + 1, sizeof *m->fields);
        if (!m->fields)
            st = DM_ENOMEM;
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v)
        {
            if (st != DM_OK)
                break;
            st = load_field(k, v, &m->fields[m->nfields++], path, err);
        }
    }
    if (st == DM_OK)
        st = load_next(json_object_get(root, "next"), m, path, err);
    if (st == DM_OK)
        st = load_since(json_object_get(root, "since"), m, path, err);
    if (st == DM_OK)
        st = get_str(root, "total", &m->total_pointer, path, err);
    if (st == DM_OK)
        st = load_http(json_object_get(root, "http"), m, path, err);
    if (st == DM_OK)
        st = load_auth(json_object_get(root, "auth"), m, path, &sb, err);
    json_decref(root);
    if (st != DM_OK) {
        dm_mapping_free(m);
        return st;
    }
    *out = m;
    return DM_OK;
}

/* ---- applying ------------------------------------------------------------------ */

/* Epoch milliseconds as ISO 8601 UTC: 2026-02-12T11:44:00Z. */
static json_t *iso_of_ms(json_int_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return NULL;
    return json_string(buf);
}

/* whole() reads a string that is all digits; 0 for anything else. */
static int whole(const char *s, long long *out)
{
    if (!s || *s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return !*end && !errno;
}

static json_t *prefixed(const dm_mapfield *f, json_t *v)
{
    if (!v || !f->prefix || !json_is_string(v))
        return v;
    size_t a = strlen(f->prefix), b = json_string_length(v);
    char *s = dm_calloc(1, a + b + 1);
    json_t *r = NULL;
    if (s) {
        memcpy(s, f->prefix, a);
        memcpy(s + a, json_string_value(v), b);
        r = json_stringn(s, a + b);
        dm_free(s);
    }
    json_decref(v);
    return r;
}

static json_t *field_value_raw(const dm_mapfield *f, json_t *item);

static json_t *field_value(const dm_mapfield *f, json_t *item)
{
    return prefixed(f, field_value_raw(f, item));
}

static json_t *field_value_raw(const dm_mapfield *f, json_t *item)
{
    if (f->value)
        return json_string(f->value);
    if (f->nptrs == 1) {
        json_t *v = dm_json_pointer(item, f->ptrs[0]);
        if (!v || json_is_null(v))
            return NULL;
        /* numbers sent as strings ("1770893040000") are common; anything
         * else is passed on as written, for the reader to report */
        long long n;
        if (f->epoch_ms && json_is_number(v))
            return iso_of_ms((json_int_t)json_number_value(v));
        if ((f->epoch_ms || f->integer) && whole(json_string_value(v), &n))
            return f->epoch_ms ? iso_of_ms((json_int_t)n) : json_integer(n);
        if (!f->integer && (json_is_integer(v) || json_is_real(v) || json_is_boolean(v))) {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            json_t *r = s ? json_string(s) : NULL;
            free(s);
            return r;
        }
        return json_incref(v);
    }
    /* a join: strings and numbers, the missing ones left out */
    dm_buf b;
    dm_buf_init(&b, (size_t)1 << 20);
    for (size_t i = 0; i < f->nptrs; i++) {
        json_t *v = dm_json_pointer(item, f->ptrs[i]);
        const char *s = json_string_value(v);
        if (!s || !*s)
            continue;
        if (b.len)
            dm_buf_adds(&b, f->sep ? f->sep : " ");
        dm_buf_adds(&b, s);
    }
    json_t *r = b.len ? json_stringn(b.data, b.len) : NULL;
    dm_buf_free(&b);
    return r;
}

json_t *dm_mapping_apply(const dm_mapping *m, json_t *item)
{
    json_t *rec = json_object();
    if (!rec)
        return NULL;
    for (size_t i = 0; i < m->nfields; i++) {
        const dm_mapfield *f = &m->fields[i];
        json_t *v = field_value(f, item);
        if (!v)
            continue;
        json_t *into = rec;
        const char *key = f->key;
        const char *dot = strchr(key, '.');
        if (dot) {
            char head[64];
            snprintf(head, sizeof head, "%.*s", (int)(dot - key), key);
            into = json_object_get(rec, head);
            if (!into) {
                into = json_object();
                if (!into || json_object_set_new(rec, head, into) != 0) {
                    json_decref(v);
                    json_decref(rec);
                    return NULL;
                }
            }
            key = dot + 1;
        }
        if (json_object_set_new(into, key, v) != 0) {
            json_decref(rec);
            return NULL;
        }
    }
    return rec;
}
