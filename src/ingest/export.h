/*
 * export.h: the files of a LinkedIn data export (../docs/records.md says
 * how each maps to records and context).  Each reader finds its file's
 * header by scanning for it, maps columns by name, and reports bad rows
 * through the environment's callback.
 */
#ifndef DM_EXPORT_H
#define DM_EXPORT_H

#include "input.h"

typedef enum dm_export_kind {
    DM_EXPORT_INVITATIONS = 0,
    DM_EXPORT_MESSAGES,
    DM_EXPORT_CONNECTIONS,
    DM_EXPORT_PROFILE,
    DM_EXPORT_POSITIONS,
    DM_EXPORT_KIND_COUNT
} dm_export_kind;

typedef struct dm_export_env {
    const dm_ingest_opts *opts;
    dm_context *ctx;
    /* A bad row (DM_SEV_ERROR, skipped) or a warning; returns DM_ESTRICT to stop. */
    dm_status (*report)(void *ud, dm_severity sev, const dm_error *e);
    void *ud;
} dm_export_env;

typedef struct dm_export_reader dm_export_reader;

const char *dm_export_kind_name(dm_export_kind k); /* "Invitations.csv", ... */

/* dm_export_sniff() reads the start of `in` and tells which file it is. */
dm_status dm_export_sniff(const dm_input *in, dm_export_kind *kind, dm_error *err);

/*
 * dm_export_reader_open() reads up to the header of `in`, which must be of
 * kind `want` (DM_EFORMAT otherwise).  `in` and `env` must outlive it.
 */
dm_status dm_export_reader_open(const dm_input *in, const dm_export_env *env,
                                dm_export_kind want, dm_export_reader **out, dm_error *err);
/* dm_export_reader_load() reads a context file to its end into env->ctx. */
dm_status dm_export_reader_load(dm_export_reader *r, dm_error *err);
/*
 * dm_export_reader_next() yields the next record of an Invitations.csv or
 * (incoming messages) messages.csv: DM_OK, DM_END, DM_ESTRICT, or a fatal
 * code.  Bad rows are reported and skipped inside.
 */
dm_status dm_export_reader_next(dm_export_reader *r, dm_record *rec, dm_error *err);
void dm_export_reader_free(dm_export_reader *r);

#endif
