/*
 * mailbox.h: mbox and Maildir sources (internal): every message of a
 * mailbox through dm_mail_record(), one at a time.  dm_source (source.c)
 * opens them for "mbox:PATH", "maildir:PATH" and paths of their shape.
 */
#ifndef DM_MAILBOX_H
#define DM_MAILBOX_H

#include "core.h"

/* The default limit of one message (dm_ingest_opts.max_message). */
#define DM_MAILBOX_MAX_MESSAGE ((size_t)10 << 20)

typedef enum dm_mailbox_kind {
    DM_MAILBOX_NONE = 0,
    DM_MAILBOX_MBOX,
    DM_MAILBOX_MAILDIR,
} dm_mailbox_kind;

/*
 * dm_mailbox_sniff() tells a mailbox by its shape: a folder holding cur/,
 * new/ and tmp/ is a Maildir, a file whose first bytes are "From " an mbox.
 */
dm_mailbox_kind dm_mailbox_sniff(const char *path);

/*
 * How a mailbox reports a message it skips (one over the size limit, a
 * Maildir file gone before it was read): severity DM_SEV_ERROR, the
 * message's place in e->source ("PATH:OFFSET", "PATH/new/NAME").  Returns
 * DM_OK to go on, DM_ESTRICT to stop.
 */
typedef dm_status (*dm_mailbox_report_fn)(void *ud, dm_severity sev, const dm_error *e);

typedef struct dm_mailbox dm_mailbox;

/*
 * dm_mailbox_open() opens the mbox file or Maildir folder `path`.
 * `max_message` is the largest message read (0: DM_MAILBOX_MAX_MESSAGE).
 * A Maildir's file names are listed (cur/ and new/) when it is opened.
 */
dm_status dm_mailbox_open(const char *path, dm_mailbox_kind kind, size_t max_message,
                          dm_mailbox_report_fn report, void *ud, dm_mailbox **out, dm_error *err);
/*
 * dm_mailbox_next() reads the next message into `rec`: DM_OK, DM_END,
 * DM_ESTRICT when the report callback asked to stop, or an error that ends
 * the mailbox (DM_EIO, DM_ENOMEM).
 */
dm_status dm_mailbox_next(dm_mailbox *mb, dm_record *rec, dm_error *err);
void dm_mailbox_free(dm_mailbox *mb);

#endif
