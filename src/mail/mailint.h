/*
 * mailint.h: what the files of the mail module share (internal; the unit
 * tests include it too).
 *
 *   rewrite.c    doorman's headers on a mail, on raw bytes
 *   mail.c       one message to a record, with GMime
 *   linkedin.c   LinkedIn's notification mails: sender, card, note, links
 *   mailbox.c    mbox and Maildir sources (mailbox.h)
 */
#ifndef DM_MAILINT_H
#define DM_MAILINT_H

#include "core.h"

/* The most bytes a record field read from a mail holds (like max_field). */
#define DM_MAIL_MAX_TEXT ((size_t)1 << 20)

/*
 * dm_mail_envelope() is the length of an mbox "From " line that starts
 * `msg` (with its line break), or 0 when there is none.
 */
size_t dm_mail_envelope(const char *msg, size_t len);

/*
 * What mail.c decoded from one message, for linkedin.c.  Every string is
 * valid UTF-8 without NUL, "" when the mail has none; header values are
 * one line, text has LF line ends.
 */
typedef struct dm_mail_view {
    const char *from_name; /* display name of the first From: mailbox */
    const char *from_addr; /* its address */
    const char *to;        /* display name (else address) of the first To: */
    const char *subject;
    const char *sent_at; /* ISO 8601 (UTC, "Z"), "" when Date: is missing or unreadable */
    const char *text;    /* the chosen body text (text/plain, else HTML made text) */
    size_t text_len;
    const char *html; /* an HTML part's source, when the mail has one; may be "" */
    size_t html_len;
} dm_mail_view;

/*
 * dm_linkedin_kind() tells whether a mail is one of LinkedIn's notification
 * mails doorman reads: DM_KIND_INVITATION, DM_KIND_MESSAGE, or
 * DM_KIND_EMAIL for any other mail (a LinkedIn newsletter included).
 */
dm_kind dm_linkedin_kind(const dm_mail_view *v);

/*
 * dm_linkedin_fill() sets the fields of `rec` (already cleared, kind set)
 * from a notification mail: from.name, from.headline, from.url, message,
 * mutual, subject, to, sent_at, id.  *facts gets DM_FACT_NO_URL for a
 * message whose mail has no profile link.
 */
dm_status dm_linkedin_fill(const dm_mail_view *v, dm_record *rec, unsigned *facts);

/*
 * dm_linkedin_url() writes the canonical form of a LinkedIn profile URL
 * into `out` (the tracking query, "/comm" and a trailing slash dropped;
 * https://www.linkedin.com/in/SLUG), or the URL without its query and
 * fragment when it is another kind of link.  Returns DM_OK, DM_ENOMEM or
 * DM_ETOOLARGE.
 */
dm_status dm_linkedin_url(const char *url, size_t len, dm_buf *out);

/*
 * dm_mail_clean() appends s[0..n) to `b` as valid UTF-8 without NUL: an
 * invalid byte or a NUL becomes U+FFFD, CR LF and lone CR become LF; with
 * `oneline`, every C0 control and DEL becomes a space.  Stops at b->max,
 * on a character boundary: text past the limit is dropped, not an error.
 * Returns DM_OK or DM_ENOMEM.
 */
dm_status dm_mail_clean(dm_buf *b, const char *s, size_t n, int oneline);

#endif
