/* verdict.c: scores to verdicts, and the result of one evaluation. */
#include "core.h"

#include <string.h>

static const char *const verdict_names[DM_VERDICT_COUNT] = {"accept", "review", "decline"};

DM_API const char *dm_verdict_name(dm_verdict v)
{
    return (unsigned)v < DM_VERDICT_COUNT ? verdict_names[v] : NULL;
}

DM_API int dm_verdict_lookup(const char *name)
{
    for (int i = 0; i < DM_VERDICT_COUNT; i++)
        if (strcmp(verdict_names[i], name) == 0)
            return i;
    return -1;
}

/* score >= decline_at is decline, score <= accept_at is accept, review between. */
DM_API dm_verdict dm_verdict_for(double score, double accept_at, double decline_at)
{
    if (score >= decline_at)
        return DM_VERDICT_DECLINE;
    if (score <= accept_at)
        return DM_VERDICT_ACCEPT;
    return DM_VERDICT_REVIEW;
}

DM_API void dm_result_init(dm_result *res) { memset(res, 0, sizeof *res); }

DM_API void dm_result_free(dm_result *res)
{
    dm_free(res->hits);
    dm_free(res->limited);
    dm_result_init(res);
}
