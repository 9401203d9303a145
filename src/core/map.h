/* map.h: a string-keyed open-addressing hash map (internal). */
#ifndef DM_MAP_H
#define DM_MAP_H

#include <stddef.h>

typedef struct dm_map {
    struct dm_map_slot {
        char *key;
        void *value;
    } *slots;
    size_t cap, len;
} dm_map;

void dm_map_init(dm_map *m);
/* dm_map_free() frees the keys, and each value with `free_value` if given. */
void dm_map_free(dm_map *m, void (*free_value)(void *));
void *dm_map_get(const dm_map *m, const char *key);
/* dm_map_put() copies `key`; returns 0, or -1 when out of memory. */
int dm_map_put(dm_map *m, const char *key, void *value);

#endif
