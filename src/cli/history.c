/*
 * history.c: `doorman history`: the verdicts past runs gave the records of
 * URL sources, from the state database (docs/sources.md, "History").
 */
#include "cli.h"
#include "output/output.h" /* strings and scores escaped as triage writes them */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void history_usage(FILE *fp)
{
    fputs("usage: doorman history [OPTIONS]\n"
          "\n"
          "List the verdicts earlier 'doorman triage URL' runs gave, oldest first.\n"
          "\n"
          "options:\n"
          "      --verdict V       only accept, review or decline\n"
          "      --since DATE      first seen on or after DATE (YYYY-MM-DD, or\n"
          "                        YYYY-MM-DDTHH:MM:SSZ, UTC, or Unix seconds)\n"
          "      --until DATE      first seen before DATE (a bare YYYY-MM-DD includes that day)\n"
          "      --source URL      only the records of this source (the URL as given to triage)\n"
          "  -f, --format FORMAT   table, json, jsonl or csv (default: table on a terminal,\n"
          "                        jsonl otherwise)\n"
          "      --state PATH      the state database (default:\n"
          "                        $XDG_STATE_HOME/doorman/state.db)\n"
          "  -h, --help            show this help\n",
          fp);
}

/* parse_date() reads DATE as Unix seconds (UTC); `day_end` moves a bare
 * day to the start of the next one.  Returns -1 when it is not a date. */
static int parse_date(const char *s, int day_end, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char *end;
    size_t n = strspn(s, "0123456789");
    if (n > 0 && s[n] == '\0' && n < 19) {
        *out = (int64_t)strtoll(s, &end, 10);
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        return -1;
    int bare = s[used] == '\0';
    if (!bare) {
        int used2 = 0;
        if ((s[used] != 'T' && s[used] != ' ') ||
            sscanf(s + used + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &used2) != 3 || used2 != 8 ||
            (s[used + 1 + used2] != '\0' && strcmp(s + used + 1 + used2, "Z") != 0))
            return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 ||
        sec < 0)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t + (bare && day_end ? 86400 : 0);
    return 0;
}

static void iso_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)t);
}

/* json_field() appends ,"key":"value" (key NULL: the value alone). */
static dm_status json_field(dm_buf *b, const char *key, const char *v)
{
    dm_status st = key ? dm_buf_printf(b, ",\"%s\":", key) : DM_OK;
    return st == DM_OK ? dm_out_json_string(b, v, strlen(v)) : st;
}

/*
 * put_entry() writes entry number i in `format`: its strings escaped as
 * `doorman triage` escapes them (output/output.h), its score as triage
 * writes scores.  Returns DM_OK or DM_ENOMEM.
 */
static dm_status put_entry(FILE *fp, int format, const dm_state_entry *e, size_t i, dm_buf *b)
{
    char when[32], score[DM_OUT_SCORE_MAX];
    iso_time(e->first_seen, when, sizeof when);
    dm_out_score(e->score, score);
    const char *v = dm_verdict_name(e->verdict);
    const char *rules = e->rules ? e->rules : "";
    dm_status st = DM_OK;
    dm_buf_reset(b);
    switch (format) {
    case DM_FORMAT_JSON:
    case DM_FORMAT_JSONL:
        st = dm_buf_printf(b, "%s{\"first_seen\":", format != DM_FORMAT_JSON ? ""
                                                     : i                      ? ",\n  "
                                                                              : "  ");
        if (st == DM_OK)
            st = json_field(b, NULL, when);
        if (st == DM_OK)
            st = json_field(b, "verdict", v);
        if (st == DM_OK)
            st = dm_buf_printf(b, ",\"score\":%s", score);
        if (st == DM_OK)
            st = json_field(b, "source", e->source);
        if (st == DM_OK)
            st = json_field(b, "id", e->id);
        if (st == DM_OK)
            st = json_field(b, "rules", rules);
        if (st == DM_OK)
            st = dm_buf_printf(b, ",\"delivered\":%s}%s", e->delivered ? "true" : "false",
                               format == DM_FORMAT_JSONL ? "\n" : "");
        break;
    case DM_FORMAT_CSV:
        st = dm_buf_printf(b, "%s,%s,%s,", when, v, score);
        if (st == DM_OK)
            st = dm_out_csv_field(b, e->source, strlen(e->source));
        if (st == DM_OK)
            st = dm_buf_addc(b, ',');
        if (st == DM_OK)
            st = dm_out_csv_field(b, e->id, strlen(e->id));
        if (st == DM_OK)
            st = dm_buf_addc(b, ',');
        if (st == DM_OK)
            st = dm_out_csv_field(b, rules, strlen(rules));
        if (st == DM_OK)
            st = dm_buf_printf(b, ",%d\r\n", e->delivered ? 1 : 0);
        break;
    default:
        st = dm_buf_printf(b, "%-20s  %-7s  %6s  %-24.24s  %s\n", when, v, score, e->id, rules);
        break;
    }
    if (st == DM_OK && b->len)
        fwrite(b->data, 1, b->len, fp);
    return st;
}

int cmd_history(int argc, char **argv)
{
    enum { OPT_VERDICT = 256, OPT_SINCE, OPT_UNTIL, OPT_SOURCE, OPT_STATE };
    static const struct option longopts[] = {
        {"verdict", required_argument, NULL, OPT_VERDICT},
        {"only", required_argument, NULL, OPT_VERDICT},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"state", required_argument, NULL, OPT_STATE},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    dm_state_filter f = {-1, 0, 0, NULL, 0};
    const char *state_opt = NULL;
    int format = -1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_VERDICT:
            f.verdict = dm_verdict_lookup(optarg);
            if (f.verdict < 0) {
                cli_msg("--verdict takes accept, review or decline");
                return EXIT_USAGE;
            }
            break;
        case OPT_SINCE:
        case OPT_UNTIL:
            if (parse_date(optarg, c == OPT_UNTIL, c == OPT_SINCE ? &f.since : &f.until) != 0) {
                cli_msg("%s takes a date: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds",
                        c == OPT_SINCE ? "--since" : "--until");
                return EXIT_USAGE;
            }
            break;
        case OPT_SOURCE: f.source = optarg; break;
        case OPT_STATE: state_opt = optarg; break;
        case 'f':
            format = dm_format_lookup(optarg);
            if (format < 0) {
                cli_msg("unknown format '%s'; use table, json, jsonl or csv", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            history_usage(stdout);
            return EXIT_RAN;
        case ':':
        default:
            cli_bad_option(c, argv[optind - 1], "doorman history");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_msg("history takes no arguments ('%s'); see 'doorman history --help'", argv[optind]);
        return EXIT_USAGE;
    }
    if (format < 0)
        format = isatty(STDOUT_FILENO) ? DM_FORMAT_TABLE : DM_FORMAT_JSONL;
    char path[PATH_MAX];
    if (cli_state_path(state_opt, path, sizeof path) != 0) {
        cli_msg("no state database: set XDG_STATE_HOME or HOME, or give --state PATH");
        return EXIT_USAGE;
    }

    int rc = EXIT_RAN;
    size_t n = 0;
    dm_buf line;
    dm_buf_init(&line, 0);
    dm_state *st = NULL;
    dm_state_query *q = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    struct stat sb;
    /* no database yet: no history, and nothing is created for asking */
    int none = stat(path, &sb) != 0 && errno == ENOENT;
    if (!none) {
        dm_status s = dm_state_open(path, &st, &err);
        if (s == DM_OK)
            s = dm_state_query_create(st, &f, &q, &err);
        if (s != DM_OK) {
            error_fill(&err, s, path);
            cli_error(&err, "error");
            rc = s == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
            goto out;
        }
    }
    if (format == DM_FORMAT_JSON)
        fputs("[\n", stdout);
    else if (format == DM_FORMAT_CSV)
        fputs("first_seen,verdict,score,source,id,rules,delivered\r\n", stdout);
    else if (format == DM_FORMAT_TABLE)
        printf("%-20s  %-7s  %6s  %-24s  %s\n", "FIRST SEEN", "VERDICT", "SCORE", "ID", "WHY");
    for (; q;) {
        dm_state_entry e;
        memset(&err, 0, sizeof err);
        dm_status s = dm_state_query_next(q, &e, &err);
        if (s == DM_END)
            break;
        if (s != DM_OK) {
            error_fill(&err, s, path);
            cli_error(&err, "error");
            rc = s == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
            break;
        }
        if (put_entry(stdout, format, &e, n++, &line) != DM_OK) {
            cli_msg("out of memory");
            rc = EXIT_INTERNAL;
            break;
        }
    }
    if (format == DM_FORMAT_JSON)
        fputs(n ? "\n]\n" : "]\n", stdout);
    else if (format == DM_FORMAT_TABLE)
        printf("%zu record%s\n", n, n == 1 ? "" : "s");
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_msg("cannot write the output: %s", strerror(errno ? errno : EIO));
        rc = EXIT_INTERNAL;
    }
out:
    dm_buf_free(&line);
    dm_state_query_free(q);
    dm_state_close(st);
    return rc;
}
