/* sources.c: opening the sources a command reads, and finding one record. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void error_fill(dm_error *e, dm_status st, const char *source)
{
    if (e->code != DM_OK)
        return;
    e->code = st;
    snprintf(e->source, sizeof e->source, "%s", source);
    snprintf(e->text, sizeof e->text, "%s", dm_strerror(st));
}

static int on_quiet_diag(void *ud, dm_severity sev, const dm_error *e)
{
    (void)ud;
    cli_error(e, sev == DM_SEV_ERROR ? "error" : "warning");
    return 0;
}

int cli_open_sources(char **paths, int n, const dm_ingest_opts *io, const char *const *cursors,
                     dm_context *ctx, dm_source **srcs)
{
    int rc = EXIT_RAN;
    dm_error err;
    /* Open every source first: each loads its context files at once. */
    for (int i = 0; i < n; i++) {
        memset(&err, 0, sizeof err);
        dm_ingest_opts o = *io;
        if (cursors)
            o.cursor = cursors[i];
        dm_status st = dm_source_open(paths[i], &o, ctx, &srcs[i], &err);
        if (st == DM_ESTRICT) {
            /* a bad row of a context file, already named by the diag callback */
            cli_msg("stopped at the first bad row (--strict)");
            return EXIT_INPUT;
        }
        if (st != DM_OK) {
            error_fill(&err, st, paths[i]);
            cli_error(&err, NULL);
            rc = st == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
        }
    }
    if (rc != EXIT_RAN)
        return rc;
    /* every source is open: now who "me" is, hence the history, is settled */
    memset(&err, 0, sizeof err);
    dm_status st = dm_context_finish(ctx, &err);
    if (st != DM_OK) {
        error_fill(&err, st, "");
        cli_error(&err, NULL);
        rc = st == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
    }
    return rc;
}

int cli_find_record(char **paths, int n, int messages, dm_context *ctx, dm_record *rec,
                    const char *id)
{
    dm_ingest_opts io;
    memset(&io, 0, sizeof io);
    io.messages = messages;
    io.outgoing = 1;
    io.diag = on_quiet_diag;
    dm_source **srcs = calloc((size_t)n, sizeof *srcs);
    if (!srcs)
        return EXIT_INTERNAL;
    int rc = cli_open_sources(paths, n, &io, NULL, ctx, srcs);
    int found = 0;
    for (int i = 0; i < n && rc == EXIT_RAN && !found; i++) {
        dm_error err;
        memset(&err, 0, sizeof err);
        dm_status st;
        while ((st = dm_source_next(srcs[i], rec, &err)) == DM_OK) {
            const char *rid = dm_record_get(rec, DM_FIELD_ID);
            if (rid && strcmp(rid, id) == 0) {
                found = 1;
                break;
            }
        }
        if (!found && st != DM_END) {
            cli_error(&err, "error");
            rc = EXIT_INPUT;
        }
    }
    for (int i = 0; i < n; i++)
        dm_source_free(srcs[i]);
    free(srcs);
    if (rc == EXIT_RAN && !found) {
        cli_msg("no record with id '%s' (ids are in the output of 'doorman triage -f jsonl'; "
                "messages need --messages)",
                id);
        rc = EXIT_INPUT;
    }
    return rc;
}
