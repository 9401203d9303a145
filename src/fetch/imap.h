/*
 * imap.h: an IMAP folder as a source (internal), through libcurl's IMAP.
 * dm_source (source.c) opens one for "imap://..." and "imaps://..." paths
 * (docs/sources.md, "IMAP mailboxes").  Each message found by the search
 * is fetched by UID and becomes a record through dm_mail_record(), with
 * source "imap://HOST[:PORT]/FOLDER;UIDVALIDITY=v/;UID=n" (RFC 5092's form;
 * never a user or a password).
 */
#ifndef DM_IMAP_H
#define DM_IMAP_H

#include "core.h"
#include "mail/mailbox.h" /* dm_mailbox_report_fn, DM_MAILBOX_MAX_MESSAGE */

#include <stdint.h>

/* The search when the URL gives none: LinkedIn's notification senders. */
#define DM_IMAP_DEFAULT_SEARCH                                                                     \
    "OR OR OR OR FROM \"invitations@linkedin.com\" FROM \"messages-noreply@linkedin.com\" "        \
    "FROM \"messaging-digest-noreply@linkedin.com\" FROM \"inmail-hit-reply@linkedin.com\" "       \
    "FROM \"hit-reply@linkedin.com\""

/* The environment variable holding the password (else netrc). */
#define DM_IMAP_PASSWORD_ENV "DOORMAN_IMAP_PASSWORD"

/* The environment variable naming a CA bundle (a private CA), when
 * dm_imap_opts.cacert is NULL; else the system's CAs. */
#define DM_IMAP_CACERT_ENV "DOORMAN_IMAP_CACERT"

typedef struct dm_imap_opts {
    size_t max_message;     /* bytes of one message; 0: DM_MAILBOX_MAX_MESSAGE */
    long connect_timeout;   /* seconds; 0: 30 */
    long timeout;           /* seconds for one request; 0: 120 */
    const char *cacert;     /* a CA bundle; NULL: $DOORMAN_IMAP_CACERT, else the system's */
    const char *netrc_file; /* NULL: $NETRC, else libcurl's ~/.netrc */
    /* A cursor from an earlier run (the state store): when `uidvalidity`
     * is the folder's, only UIDs above `since_uid` are read; when it
     * differs (the folder was recreated), the whole folder is. */
    uint32_t uidvalidity;
    uint32_t since_uid;
    /* A password (doorman's config file): used before $DOORMAN_IMAP_PASSWORD
     * and netrc; never shown.  NULL: those. */
    const char *password;
    /* What dm_imap_mark() will be asked to do, checked by dm_imap_open()
     * before any mail is read (dm_imap_check_target()): a flag to set (NULL:
     * none) and a folder to move to (NULL: none). */
    const char *flag;
    const char *move_to;
    /* Called after each mail fetched (skipped ones too): source =
     * progress_name, unit "mail", done = mails fetched so far, total = the
     * mails the search found (above since_uid), records = records returned
     * so far, records_total = total.  May be NULL. */
    dm_progress_fn progress;
    void *progress_ud;
    const char *progress_name;
} dm_imap_opts;

typedef struct dm_imap dm_imap;

/*
 * dm_imap_open() logs in, EXAMINEs the folder of `url` (its UIDVALIDITY and
 * UIDNEXT; libcurl SELECTs it after that, for the searches) and runs the search: the URL's query,
 * URL-encoded IMAP search keys ("imaps://me@host/INBOX?SUBJECT%20connect"), else
 * DM_IMAP_DEFAULT_SEARCH.  The password comes from opts->password, else
 * $DOORMAN_IMAP_PASSWORD, else netrc; a URL holding one ("user:pass@") is refused, and so is a
 * netrc file that others can read.  Plain imap:// is allowed to a loopback
 * host only; elsewhere TLS (STARTTLS) is required.  TLS is always verified.
 * opts->flag and opts->move_to are checked (dm_imap_check_target()) before
 * the search.  Skipped messages go to `report` (may be NULL).  The caller
 * owns *out.
 */
dm_status dm_imap_open(const char *url, const dm_imap_opts *opts, dm_mailbox_report_fn report,
                       void *ud, dm_imap **out, dm_error *err);
/*
 * dm_imap_next() fetches the next message found into `rec`: DM_OK, DM_END,
 * DM_ESTRICT when `report` asked to stop, or an error that ends the source
 * (DM_EIO with libcurl's reason, DM_ENOMEM).  A message over max_message is
 * reported and skipped.  Read-only: a message that was unseen is made
 * unseen again after its fetch (libcurl fetches with BODY[], which sets
 * \Seen; see docs/sources.md).
 */
dm_status dm_imap_next(dm_imap *im, dm_record *rec, dm_error *err);
/*
 * dm_imap_check_target() checks, before any mail is read, what
 * dm_imap_mark() will be asked to do: `flag` (may be NULL) must be an IMAP
 * atom, a keyword ("$Declined") or a system flag ("\Flagged"); `folder`
 * (may be NULL) must be printable ASCII, not the folder being read, and exist
 * on the server (a STATUS, which leaves the selected folder alone), and the
 * server must offer MOVE (RFC 6851) or else UIDPLUS (RFC 4315: COPY, STORE
 * \Deleted, UID EXPUNGE of that UID only).  DM_EINVAL with the reason, or
 * DM_EIO with the server's.
 */
dm_status dm_imap_check_target(dm_imap *im, const char *flag, const char *folder, dm_error *err);
/*
 * dm_imap_mark() acts on the mail dm_imap_next() returned last (by its UID):
 * "UID STORE uid +FLAGS.SILENT (flag)" when `flag` is set, then, when
 * `folder` is set, "UID MOVE uid folder" (or UID COPY, +FLAGS \Deleted,
 * UID EXPUNGE uid without MOVE).  The \Seen that the fetch set is already
 * taken back by then, so a moved mail keeps its unseen state.  DM_EINVAL
 * before any mail, after the mail was moved, or for a bad flag or folder;
 * DM_EIO with the server's reason.
 */
dm_status dm_imap_mark(dm_imap *im, const char *flag, const char *folder, dm_error *err);
void dm_imap_free(dm_imap *im);

/* The cursor to store after the run's output was written. */
uint32_t dm_imap_uidvalidity(const dm_imap *im); /* the folder's UIDVALIDITY */
uint32_t dm_imap_uidnext(const dm_imap *im);     /* UIDNEXT when examined */
uint32_t dm_imap_last_uid(const dm_imap *im);    /* the highest UID read so far, or 0 */
size_t dm_imap_found(const dm_imap *im);         /* messages the search found */

#endif
