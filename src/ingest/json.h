/*
 * json.h: records in doorman's own JSON schema (docs/records.md).
 *
 * Accepts a JSON document (an array of record objects, or an object with a
 * "records" array as `doorman triage --format json` writes) or JSONL (one
 * record object a line; blank lines skipped).  Which one is decided by the
 * first non-blank byte and line: JSONL when the first line alone is a
 * complete object.  Keys a record does not know are kept as extras (string
 * values as they are, other values as compact JSON text); the keys output
 * adds (verdict, score, rules) and `history` (rebuilt from the context)
 * are ignored on input.
 */
#ifndef DM_JSON_H
#define DM_JSON_H

#include "input.h"

typedef struct dm_jsonsrc dm_jsonsrc;

dm_status dm_json_open(const dm_input *in, size_t max_record, dm_jsonsrc **out, dm_error *err);
void dm_json_free(dm_jsonsrc *j);

/*
 * dm_json_next() fills `rec` (cleared first).  Returns DM_OK, DM_END, a
 * recoverable code for a bad record that was skipped (DM_ESYNTAX, DM_EUTF8,
 * DM_ETOOLARGE, DM_EFORMAT: err names the input and line, and the column
 * for a JSON syntax error), or a fatal code (DM_EIO, DM_ENOMEM; a syntax
 * error inside a whole JSON document is fatal too, as nothing after it can
 * be trusted).  Records without "source" get "NAME:LINE" (JSONL) or
 * "NAME#INDEX" (array); records without "id" get one made from from.url +
 * sent_at, else from the source.
 */
dm_status dm_json_next(dm_jsonsrc *j, dm_record *rec, dm_error *err);

#endif
