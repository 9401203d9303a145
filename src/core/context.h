/*
 * context.h: what the readers of the export hand the context beyond the
 * public dm_context_* calls (internal).
 *
 * A message of messages.csv cannot be filed when it is read: whose history
 * it adds to depends on who wrote it, and in the current export only the
 * sender's name says so, compared with "me", who may come from a
 * Profile.csv opened later.  So its rows wait in the context until
 * dm_context_finish().
 */
#ifndef DM_CONTEXT_H
#define DM_CONTEXT_H

#include "doorman.h"

/* One message of messages.csv; NULL strings count as empty. */
typedef struct dm_pending {
    const char *from, *from_url; /* FROM, SENDER PROFILE URL */
    const char *to, *to_urls;    /* TO, RECIPIENT PROFILE URLS */
    const char *conv;            /* CONVERSATION ID ("" in 2018 exports) */
    const char *text;            /* the text of CONTENT */
    int dir; /* 1 incoming, 0 outgoing, where the file says so; -1: FROM is compared with me */
} dm_pending;

/* dm_context_add_pending() copies `m` to wait for dm_context_finish(). */
dm_status dm_context_add_pending(dm_context *ctx, const dm_pending *m);

/*
 * dm_context_is_me() tells whether `name` is me: 1 yes, 0 no, -1 when me is
 * not known.  Names are compared without surrounding spaces, ASCII
 * case-insensitively.  dm_context_finish() files the pending messages by it
 * and the reader of message records skips mine by it, so the two agree.
 */
int dm_context_is_me(const dm_context *ctx, const char *name);

#endif
