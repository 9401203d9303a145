/*
 * csv.h: a streaming RFC 4180 reader.
 *
 * Quoted fields may hold commas, CR/LF and doubled quotes; rows end in LF
 * or CRLF; a leading UTF-8 BOM is dropped; empty lines are skipped.  Field
 * and row sizes are bounded.  A bad row (unterminated quote, text after a
 * closing quote, invalid UTF-8, a field over the limit) is reported and
 * consumed, and the next call resumes after it, so one bad row never costs
 * the rest of the file.
 *
 * The details:
 * - Lines are counted by LF (CRLF is one line end).  Columns are 1-based
 *   byte columns within their physical line, not counting a BOM.
 * - An error's line and column are where the problem is, so that an editor
 *   jumps to it: for a problem on a later line of a multi-line row, that
 *   later line, and the text then adds "in the row starting at line R".
 *   dm_csv_line() still gives the row's first line.  A row over max_row is
 *   reported at its first line with column 0.
 * - Lenient where it is harmless: a quote inside an unquoted field and a
 *   lone CR outside quotes are data; a final row needs no line end.
 * - Text after a closing quote ("abc"x) is DM_ESYNTAX.  A NUL byte is
 *   DM_EUTF8 ("NUL byte at column C"): no field ever holds one, so fields
 *   are safe as C strings.
 * - max_field counts a field's bytes after unquoting; max_row the row's raw
 *   bytes without its line end.  Over either, the rest of the row is
 *   scanned without being stored.
 * - A stray quote: when a row that runs past its first line inside a quote
 *   turns out to have text after a closing quote on a later line, or the
 *   input ends inside the quote, the quote that ran past the first line is
 *   taken for a stray one that swallowed the lines after it.  The row is
 *   reported at that quote as "unterminated quoted field (opened at column
 *   C)", and parsing resumes at the physical line after the row's first
 *   line, so the rows it swallowed come out.  That outranks the row's other
 *   problems.  It needs the row's bytes from its second line to where the
 *   stray quote showed, which are kept up to max_row: a row found out later
 *   than that is reported as it is (its first problem, or the quote open at
 *   the end) and consumed whole.  A multi-line row with only other problems
 *   (too large, invalid UTF-8) is consumed whole: its quotes paired up.
 * - Resuming parses a line again at most once: lines that a resumed row
 *   showed to lie inside its quote each end at their own line end when they
 *   start a row (which is what parsing them in full would come to).
 * - Otherwise only the first problem of a row is reported.
 * - The same input gives the same rows and errors however the dm_input
 *   splits it into reads.  DM_EIO and DM_ENOMEM name the line of the row
 *   being read, with column 0.
 * - Memory: the row's fields (up to max_row + max_field) and the kept bytes
 *   (up to max_row + 64 KiB, twice over after a resume), whatever the input.
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
 * DM_ETOOLARGE: `err` has the input's name and the line and column of the
 * problem; dm_csv_line() the row's first line), or DM_EIO / DM_ENOMEM,
 * after which the reader is done.
 */
dm_status dm_csv_next(dm_csv *c, dm_error *err);

size_t dm_csv_nfields(const dm_csv *c);
/* The i-th field of the current row, NUL-terminated; *len may be NULL. */
const char *dm_csv_field(const dm_csv *c, size_t i, size_t *len);
/* The physical line on which the current row starts (1-based). */
int dm_csv_line(const dm_csv *c);

#endif
