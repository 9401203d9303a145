/* record.h: the record's layout, shared by the modules of the library. */
#ifndef DM_RECORD_H
#define DM_RECORD_H

#include "doorman.h"

struct dm_extra {
    char *name, *value;
    size_t name_cap, value_cap;
};

struct dm_record {
    struct {
        char *s;
        size_t len, cap;
        int set;
    } f[DM_FIELD_COUNT];
    dm_kind kind;
    long mutual;
    unsigned facts;
    struct dm_extra *extras;
    size_t nextras, extra_cap;
    const dm_history *history;
};

/*
 * dm_record_set_id() sets the id that names a record across runs:
 * `who` (a profile URL, else a name or conversation) + "@" + `when`.
 * Every reader makes ids this one way.
 */
dm_status dm_record_set_id(dm_record *rec, const char *who, const char *when);

#endif
