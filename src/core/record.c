/* record.c: the record model (docs/records.md). */
#include "core.h"
#include "record.h"

#include <string.h>

static const char *const field_names[DM_FIELD_COUNT] = {
    [DM_FIELD_ID] = "id",
    [DM_FIELD_DIRECTION] = "direction",
    [DM_FIELD_FROM_NAME] = "from.name",
    [DM_FIELD_FROM_HEADLINE] = "from.headline",
    [DM_FIELD_FROM_COMPANY] = "from.company",
    [DM_FIELD_FROM_URL] = "from.url",
    [DM_FIELD_TO] = "to",
    [DM_FIELD_SENT_AT] = "sent_at",
    [DM_FIELD_SUBJECT] = "subject",
    [DM_FIELD_MESSAGE] = "message",
    [DM_FIELD_SOURCE] = "source",
};

static const char *const kind_names[DM_KIND_COUNT] = {"invitation", "message", "email"};

static const struct {
    unsigned bit;
    const char *name;
} fact_names[] = {
    {DM_FACT_SPINMAIL, "spinmail"},
    {DM_FACT_NO_URL, "no_sender_url"},
    {DM_FACT_CONNECTED, "connected"},
    {DM_FACT_HTML, "html"},
};

DM_API const char *dm_field_name(dm_field f)
{
    return (unsigned)f < DM_FIELD_COUNT ? field_names[f] : NULL;
}

DM_API int dm_field_lookup(const char *name)
{
    for (int i = 0; i < DM_FIELD_COUNT; i++)
        if (strcmp(field_names[i], name) == 0)
            return i;
    return -1;
}

DM_API const char *dm_kind_name(dm_kind k)
{
    return (unsigned)k < DM_KIND_COUNT ? kind_names[k] : NULL;
}

DM_API int dm_kind_lookup(const char *name)
{
    for (int i = 0; i < DM_KIND_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
}

DM_API const char *dm_fact_name(unsigned fact)
{
    for (size_t i = 0; i < sizeof fact_names / sizeof fact_names[0]; i++)
        if (fact_names[i].bit == fact)
            return fact_names[i].name;
    return NULL;
}

DM_API unsigned dm_fact_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof fact_names / sizeof fact_names[0]; i++)
        if (strcmp(fact_names[i].name, name) == 0)
            return fact_names[i].bit;
    return 0;
}

DM_API dm_status dm_record_create(dm_record **out)
{
    dm_record *r = dm_calloc(1, sizeof *r);
    if (!r)
        return DM_ENOMEM;
    r->mutual = -1;
    *out = r;
    return DM_OK;
}

DM_API void dm_record_free(dm_record *rec)
{
    if (!rec)
        return;
    for (int i = 0; i < DM_FIELD_COUNT; i++)
        dm_free(rec->f[i].s);
    for (size_t i = 0; i < rec->extra_cap; i++) {
        dm_free(rec->extras[i].name);
        dm_free(rec->extras[i].value);
    }
    dm_free(rec->extras);
    dm_free(rec);
}

DM_API void dm_record_clear(dm_record *rec)
{
    for (int i = 0; i < DM_FIELD_COUNT; i++)
        rec->f[i].set = 0;
    /* extras keep their buffers for reuse; only the count is reset */
    rec->nextras = 0;
    rec->kind = DM_KIND_INVITATION;
    rec->mutual = -1;
    rec->facts = 0;
    rec->history = NULL;
}

DM_API dm_kind dm_record_kind(const dm_record *rec) { return rec->kind; }
DM_API void dm_record_set_kind(dm_record *rec, dm_kind k) { rec->kind = k; }

DM_API const char *dm_record_get(const dm_record *rec, dm_field f)
{
    if ((unsigned)f >= DM_FIELD_COUNT || !rec->f[f].set)
        return NULL;
    return rec->f[f].s;
}

DM_API size_t dm_record_len(const dm_record *rec, dm_field f)
{
    if ((unsigned)f >= DM_FIELD_COUNT || !rec->f[f].set)
        return 0;
    return rec->f[f].len;
}

/* Copy into a reusable slot, growing it only when needed. */
static dm_status slot_set(char **s, size_t *cap, const char *v, size_t len)
{
    if (len + 1 > *cap) {
        size_t nc = len + 1 < 32 ? 32 : len + 1;
        char *p = dm_realloc(*s, nc);
        if (!p)
            return DM_ENOMEM;
        *s = p;
        *cap = nc;
    }
    memcpy(*s, v, len);
    (*s)[len] = '\0';
    return DM_OK;
}

DM_API dm_status dm_record_set(dm_record *rec, dm_field f, const char *s, size_t len)
{
    if ((unsigned)f >= DM_FIELD_COUNT)
        return DM_EINVAL;
    if (!s) {
        rec->f[f].set = 0;
        return DM_OK;
    }
    dm_status st = slot_set(&rec->f[f].s, &rec->f[f].cap, s, len);
    if (st != DM_OK)
        return st;
    rec->f[f].len = len;
    rec->f[f].set = 1;
    return DM_OK;
}

DM_API long dm_record_mutual(const dm_record *rec) { return rec->mutual; }
DM_API void dm_record_set_mutual(dm_record *rec, long n) { rec->mutual = n < 0 ? -1 : n; }
DM_API unsigned dm_record_facts(const dm_record *rec) { return rec->facts; }
DM_API void dm_record_add_facts(dm_record *rec, unsigned facts) { rec->facts |= facts; }

DM_API dm_status dm_record_add_extra(dm_record *rec, const char *name, const char *value,
                                     size_t len)
{
    if (rec->nextras == rec->extra_cap) {
        size_t nc = rec->extra_cap ? rec->extra_cap * 2 : 8;
        struct dm_extra *p = dm_realloc(rec->extras, nc * sizeof *p);
        if (!p)
            return DM_ENOMEM;
        memset(p + rec->extra_cap, 0, (nc - rec->extra_cap) * sizeof *p);
        rec->extras = p;
        rec->extra_cap = nc;
    }
    struct dm_extra *e = &rec->extras[rec->nextras];
    dm_status st = slot_set(&e->name, &e->name_cap, name, strlen(name));
    if (st == DM_OK)
        st = slot_set(&e->value, &e->value_cap, value ? value : "", value ? len : 0);
    if (st != DM_OK)
        return st;
    rec->nextras++;
    return DM_OK;
}

DM_API size_t dm_record_extra_count(const dm_record *rec) { return rec->nextras; }

DM_API void dm_record_extra(const dm_record *rec, size_t i, const char **name, const char **value)
{
    if (i >= rec->nextras) {
        *name = *value = NULL;
        return;
    }
    *name = rec->extras[i].name;
    *value = rec->extras[i].value;
}

DM_API const dm_history *dm_record_history(const dm_record *rec) { return rec->history; }

dm_status dm_record_set_id(dm_record *rec, const char *who, const char *when)
{
    size_t a = strlen(who), b = strlen(when);
    dm_status st = slot_set(&rec->f[DM_FIELD_ID].s, &rec->f[DM_FIELD_ID].cap, who, a);
    if (st != DM_OK)
        return st;
    if (a + b + 2 > rec->f[DM_FIELD_ID].cap) {
        char *p = dm_realloc(rec->f[DM_FIELD_ID].s, a + b + 2);
        if (!p)
            return DM_ENOMEM;
        rec->f[DM_FIELD_ID].s = p;
        rec->f[DM_FIELD_ID].cap = a + b + 2;
    }
    char *id = rec->f[DM_FIELD_ID].s;
    id[a] = '@';
    memcpy(id + a + 1, when, b + 1);
    rec->f[DM_FIELD_ID].len = a + 1 + b;
    rec->f[DM_FIELD_ID].set = 1;
    return DM_OK;
}
