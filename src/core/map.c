/* map.c: a string-keyed open-addressing hash map with linear probing. */
#include "map.h"

#include "core.h"

#include <string.h>

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

void dm_map_init(dm_map *m) { memset(m, 0, sizeof *m); }

void dm_map_free(dm_map *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) {
            dm_free(m->slots[i].key);
            if (free_value)
                free_value(m->slots[i].value);
        }
    }
    dm_free(m->slots);
    dm_map_init(m);
}

static struct dm_map_slot *find(const dm_map *m, const char *key)
{
    size_t i = hash(key) & (m->cap - 1);
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

void *dm_map_get(const dm_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct dm_map_slot *s = find(m, key);
    return s->key ? s->value : NULL;
}

static int grow(dm_map *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    struct dm_map_slot *old = m->slots;
    size_t oc = m->cap;
    m->slots = dm_calloc(nc, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return -1;
    }
    m->cap = nc;
    for (size_t i = 0; i < oc; i++)
        if (old[i].key)
            *find(m, old[i].key) = old[i];
    dm_free(old);
    return 0;
}

int dm_map_put(dm_map *m, const char *key, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return -1;
    struct dm_map_slot *s = find(m, key);
    if (!s->key) {
        s->key = dm_strdup(key);
        if (!s->key)
            return -1;
        m->len++;
    }
    s->value = value;
    return 0;
}
