/* cli.h: what the subcommands of the doorman CLI share. */
#ifndef DM_CLI_H
#define DM_CLI_H

#include "doorman.h"

#include <stdio.h>

/* Exit codes (docs/doorman.1, EXIT STATUS). */
enum {
    EXIT_RAN = 0,      /* the run completed (bad rows may have been skipped) */
    EXIT_INTERNAL = 1, /* out of memory, a write error, a bug */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_INPUT = 3,    /* an input could not be read, or --strict met a bad row */
};

extern const char *dm_cli_prog;

/* Print "doorman: FILE:LINE:COL: text" (the parts that are known) on stderr. */
void cli_error(const dm_error *e, const char *severity);
/* Print "doorman: text" on stderr. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_triage(int argc, char **argv);

#endif
