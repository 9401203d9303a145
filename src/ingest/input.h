/*
 * input.h: a byte stream that a reader pulls from, whether a file, standard
 * input or an entry of a zip archive, so that the CSV and JSON readers do
 * not know where their bytes come from.
 */
#ifndef DM_INPUT_H
#define DM_INPUT_H

#include "doorman.h"

#include <stdio.h>

typedef struct dm_input {
    /* Reads up to `n` bytes into `buf`: returns the count, 0 at the end, or
     * -1 on a read error (with `err` filled). */
    long (*read)(void *ud, char *buf, size_t n, dm_error *err);
    void *ud;
    /* The name errors show: "Invitations.csv", "export.zip:Invitations.csv". */
    const char *name;
} dm_input;

/* dm_input_file() makes an input reading `fp` (not closed by the input). */
void dm_input_file(dm_input *in, FILE *fp, const char *name);

#endif
