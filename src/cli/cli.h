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
    EXIT_RULES = 4,    /* the rules have errors, or (rules test) a rule's test failed */
};

extern const char *dm_cli_prog;

/* Print "doorman: FILE:LINE:COL: text" (the parts that are known) on stderr. */
void cli_error(const dm_error *e, const char *severity);
/* Print "doorman: text" on stderr. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The progress line (progress.c): cli_progress() is a dm_progress_fn that
 * draws it on stderr once cli_progress_enable(1) was called (the CLI does so
 * only when stderr is a terminal); cli_progress_clear() removes it, and
 * cli_msg() and cli_error() call it before they print.
 */
void cli_progress_enable(int on);
void cli_progress(void *ud, const dm_progress *p);
void cli_progress_clear(void);
/* cli_bad_option() names what getopt_long() refused (c is ':' for a missing
 * value, anything else for an unknown option) and points at CMD's --help. */
void cli_bad_option(int c, const char *arg, const char *cmd);

int cmd_triage(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_mail(int argc, char **argv);
int cmd_history(int argc, char **argv);

/* cli_state_path() puts the state database's path in buf: `given` (--state),
 * else $XDG_STATE_HOME/doorman/state.db, else ~/.local/state/doorman/state.db.
 * Returns -1 when neither XDG_STATE_HOME nor HOME is set. */
int cli_state_path(const char *given, char *buf, size_t n);

/* The shipped rules' folder: $DOORMAN_RULES_DIR, installed, or the source tree's. */
const char *cli_default_rules_dir(void);
/*
 * cli_load_rules() loads the default rules (with `defaults`: the shipped
 * ones, then the user's folder when it exists) and then `extra`, printing
 * every error (and, with `warnings`, every warning) with its source line.
 * Returns an exit code: EXIT_RAN with *out set, or EXIT_RULES / EXIT_INTERNAL.
 */
int cli_load_rules(const char *const *extra, size_t nextra, int defaults, int warnings,
                   dm_ruleset **out);
/*
 * cli_load_rules_cached() is cli_load_rules() (warnings not shown) through
 * the compiled-rules cache in cli_rules_cache_dir(), for the commands that
 * triage (docs/integration.md, "Start-up time").  With `lazy_jit` a pattern
 * is JIT-compiled only once it meets a long text or has run many times
 * (dm_rules_opts.lazy_jit): for one message, or a few, compiling them all
 * costs more than it saves.  The verdicts are those of cli_load_rules().
 */
int cli_load_rules_cached(const char *const *extra, size_t nextra, int defaults, int lazy_jit,
                          dm_ruleset **out);
const char *cli_rules_cache_dir(char *buf, size_t n);
/* cli_parse_size() reads a byte count with an optional K, M or G suffix; 0 is refused. */
int cli_parse_size(const char *s, size_t *out);
/* error_fill() makes sure `e` says something: the library may leave it empty. */
void error_fill(dm_error *e, dm_status st, const char *source);
/* cli_open_sources() opens every source, then settles the context; source
 * i gets the cursor cursors[i] (cursors may be NULL). */
int cli_open_sources(char **paths, int n, const dm_ingest_opts *io, const char *const *cursors,
                     dm_context *ctx, dm_source **srcs);
/* cli_find_record() reads the sources until the record with id `id`. */
int cli_find_record(char **paths, int n, int messages, dm_context *ctx, dm_record *rec,
                    const char *id);

#endif
