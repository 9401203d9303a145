/*
 * csv.h: a streaming RFC 4180 reader.
 *
 * Quoted fields may hold commas, CR/LF and doubled quotes; rows end in LF
 * or CRLF; a leading UTF-8 BOM is dropped; empty lines are skipped.  Field
 * and row sizes are bounded.  A bad row (unterminated quote, text after a
 * closing quote, invalid UTF-8, a field over the limit) is reported and
 * consumed, and the next call resumes at the row after it, so one bad row
 * never costs the rest of the file.
 *
 * The details:
 * - Lines are counted by LF (CRLF is one line end).  Columns are 1-based
 *   byte columns within their physical line, not counting a BOM.  When the
 *   problem lies on a later line of a multi-line row, err->line still names
 *   the row's first line and the text says "at line L, column C".
 * - Lenient where it is harmless: a quote inside an unquoted field and a
 *   lone CR outside quotes are data; a final row needs no line end.
 * - Text after a closing quote ("abc"x) is DM_ESYNTAX.  A NUL byte is
 *   DM_EUTF8 ("NUL byte at column C"): no field ever holds one, so fields
 *   are safe as C strings.
 * - max_field counts a field's bytes after unquoting; max_row the row's raw
 *   bytes without its line end.  Over either, the rest of the row is
 *   scanned without being stored (column 0 for a row over max_row).
 * - A quoted field still open at the end of the input is reported at its
 *   row's first line, and parsing resumes at the physical line after it,
 *   unless the row was over max_row.  Only the first problem of a row is
 *   reported, except that an open quote at the end outranks the others.
 * - The same input gives the same rows and errors however the dm_input
 *   splits it into reads.  DM_EIO and DM_ENOMEM name the line of the row
 *   being read, with column 0.
 */
#ifndef DM_CSV_H
#define DM_CSV_H

#include "input.h"

typedef struct dm_csv dm_csv;

typedef struct dm_csv_opts {
    size_t max_field; /* bytes; 0 = 1 MiB */
    size_t max_row;   /* bytes; 0 = 4 MiB */
} dm_csv_opts;

/* dm_csv_open() reads from `in`, which must outlive the reader. */
dm_status dm_csv_open(const dm_input *in, const dm_csv_opts *opts, dm_csv **out);
void dm_csv_free(dm_csv *c);

/*
 * dm_csv_next() reads the next row.  Returns DM_OK with a row, DM_END, a
 * recoverable code for a bad row that was skipped (DM_ESYNTAX, DM_EUTF8,
 * DM_ETOOLARGE: `err` has the input's name, the row's first line and the
 * column of the problem), or DM_EIO / DM_ENOMEM, after which the reader
 * is done.
 */
dm_status dm_csv_next(dm_csv *c, dm_error *err);

size_t dm_csv_nfields(const dm_csv *c);
/* The i-th field of the current row, NUL-terminated; *len may be NULL. */
const char *dm_csv_field(const dm_csv *c, size_t i, size_t *len);
/* The physical line on which the current row starts (1-based). */
int dm_csv_line(const dm_csv *c);

#endif
