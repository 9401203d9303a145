/*
 * main.c: the doorman command: subcommands like git's, each in a file of
 * its own (curl's tool_*.c).  Only src/cli talks to the terminal and
 * decides exit codes; the library never prints.
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

const char *dm_cli_prog = "doorman";

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    cli_progress_clear();
    fprintf(stderr, "%s: ", dm_cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_bad_option(int c, const char *arg, const char *cmd)
{
    if (c == ':')
        cli_msg("option '%s' needs a value; see '%s --help'", arg, cmd);
    else
        cli_msg("unknown option '%s'; see '%s --help'", arg, cmd);
}

void cli_error(const dm_error *e, const char *severity)
{
    cli_progress_clear();
    fprintf(stderr, "%s: ", dm_cli_prog);
    if (e->source[0]) {
        fputs(e->source, stderr);
        if (e->line > 0) {
            fprintf(stderr, ":%d", e->line);
            if (e->column > 0)
                fprintf(stderr, ":%d", e->column);
        }
        fputs(": ", stderr);
    }
    if (severity)
        fprintf(stderr, "%s: ", severity);
    fprintf(stderr, "%s\n", e->text[0] ? e->text : dm_strerror(e->code));
}

static void usage(FILE *fp)
{
    fputs("usage: doorman [--version] [--help] COMMAND [ARGS]\n"
          "\n"
          "Triage connection requests: accept, review or decline, with reasons.\n"
          "\n"
          "commands:\n"
          "  triage SOURCE...   read requests and print a suggestion for each\n"
          "  explain TEXT       show why a text (or a record: SOURCE --id ID) gets its verdict\n"
          "  rules lint|test    check rule files; run the rules' own tests\n"
          "  mail               filter one mail on stdin to stdout, adding the verdict headers\n"
          "  history            list past verdicts of URL sources (the state database)\n"
          "\n"
          "Run 'doorman COMMAND --help' for a command's options; 'man doorman' for all.\n",
          fp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("doorman %s\n", dm_version());
        return EXIT_RAN;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_RAN;
    }
    if (strcmp(cmd, "triage") == 0)
        return cmd_triage(argc - 1, argv + 1);
    if (strcmp(cmd, "rules") == 0)
        return cmd_rules(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "mail") == 0)
        return cmd_mail(argc - 1, argv + 1);
    if (strcmp(cmd, "history") == 0)
        return cmd_history(argc - 1, argv + 1);
    cli_msg("'%s' is not a doorman command; see 'doorman --help'", cmd);
    return EXIT_USAGE;
}
