/*
 * text.h: turning what the export writes into what records hold: HTML
 * message bodies into plain text, each file's date format into ISO 8601.
 */
#ifndef DM_TEXT_H
#define DM_TEXT_H

#include "core.h"

/* The marker sponsored InMail content starts with. */
#define DM_SPINMAIL_MARKER "spinmail-quill-editor__spin-break"

/*
 * dm_html_to_text() appends the text of `html` to `out`: tags dropped,
 * <br>, </p>, </div>, </li> made line breaks, entities decoded (named,
 * decimal and hex; unknown ones kept as written), runs of blank lines
 * collapsed, leading and trailing whitespace trimmed.  *facts gets
 * DM_FACT_SPINMAIL when the marker is present.  Text that has no tag or
 * entity is copied as it is.
 */
dm_status dm_html_to_text(const char *html, size_t len, dm_buf *out, unsigned *facts);

/* dm_looks_html() is 1 when `s` holds a tag or an entity worth decoding. */
int dm_looks_html(const char *s, size_t len);

/*
 * dm_date_iso() turns any date format the LinkedIn export uses into ISO
 * 8601, written to `out` (at least 32 bytes):
 *   "2/12/26, 11:44 AM"        -> "2026-02-12T11:44:00"   (Invitations, 2018 messages)
 *   "2026-02-10 20:33:10 UTC"  -> "2026-02-10T20:33:10Z"  (messages.csv)
 *   "08 Feb 2026"              -> "2026-02-08"            (Connections.csv)
 *   "6-Feb-26"                 -> "2026-02-06"            (re-saved by a spreadsheet)
 *   "Mar 2014"                 -> "2014-03"               (Positions.csv)
 *   "2026-02-10T20:33:10Z" and other ISO 8601 text is kept as it is.
 * Two-digit years are 20YY.  Returns DM_OK, or DM_ESYNTAX when `s` is not
 * a date it knows (or not a real date: month 13, Feb 30); `out` is then "".
 */
dm_status dm_date_iso(const char *s, char *out, size_t outsz);

#endif
