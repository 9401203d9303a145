/*
 * triage.c: `doorman triage SOURCE...`: read every source, decide each
 * record, write the suggestions.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void triage_usage(FILE *fp)
{
    fputs("usage: doorman triage [OPTIONS] SOURCE...\n"
          "\n"
          "SOURCE is a LinkedIn data export (its folder or the zip itself), one CSV file of\n"
          "the export, a JSON or JSONL file of records, - for JSONL on standard input, a\n"
          "mailbox (mbox:PATH, maildir:PATH), or a URL: an http(s):// JSON API or an\n"
          "imap(s):// folder; of a URL only what is new since the last run is triaged.\n"
          "\n"
          "options:\n"
          "  -f, --format FORMAT   table, json, jsonl or csv (default: table on a terminal,\n"
          "                        jsonl otherwise)\n"
          "      --only VERDICTS   show only these verdicts (accept,review,decline)\n"
          "      --messages        also triage incoming messages from messages.csv\n"
          "      --outgoing        also read OUTGOING invitations\n"
          "      --strict          stop at the first bad row (exit 3) instead of skipping it\n"
          "      --color WHEN      auto, always or never (NO_COLOR turns it off)\n"
          "      --width N         table width (default: the terminal's, else 100)\n"
          "      --max-field BYTES largest CSV field accepted (default 1M); a CSV row or a\n"
          "                        JSON record may be 4 times that\n"
          "      --max-entry BYTES largest zip entry, uncompressed (default 256 MiB)\n"
          "      --rules PATH      rules to layer on the defaults (a .rules file or a folder;\n"
          "                        repeatable; later ones may re-score or disable rules)\n"
          "      --no-default-rules  use only the --rules given\n"
          "      --no-prefilter    run every pattern on every record (for benchmarks)\n"
          "      --state PATH      the state database for URL sources (default:\n"
          "                        $XDG_STATE_HOME/doorman/state.db); only new records\n"
          "      --all             re-triage every record of URL sources, not only new ones\n"
          "      --cacert FILE     a CA bundle to verify URL sources' TLS with (a private CA)\n"
          "      --config FILE     the config file holding credentials for URL sources\n"
          "                        (default: $XDG_CONFIG_HOME/doorman/config, when it exists)\n"
          "      --flag-declined FLAG  imap:// sources: set FLAG on each declined mail\n"
          "                        ('$Declined', '\\Flagged') once its output is written\n"
          "      --move-declined FOLDER  imap:// sources: move each declined mail to\n"
          "                        FOLDER (it must exist) once its output is written\n"
          "  -q, --quiet           do not print warnings about skipped rows\n"
          "  -h, --help            show this help\n",
          fp);
}

struct diag_state {
    int strict, quiet;
    size_t warnings, errors;
};

/* Every skipped row is named on stderr; --strict stops at the first. */
static int on_diag(void *ud, dm_severity sev, const dm_error *e)
{
    struct diag_state *d = ud;
    if (sev == DM_SEV_ERROR)
        d->errors++;
    else
        d->warnings++;
    if (sev == DM_SEV_ERROR && d->strict) {
        /* the row stops the run: it is not skipped, whatever the text says */
        static const char *const tails[] = {"; row skipped", "; message skipped"};
        dm_error e2 = *e;
        size_t n = strlen(e2.text);
        for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
            size_t k = strlen(tails[i]);
            if (n >= k && strcmp(e2.text + n - k, tails[i]) == 0)
                e2.text[n - k] = '\0';
        }
        cli_error(&e2, "error");
        return 1;
    }
    if (!d->quiet)
        cli_error(e, sev == DM_SEV_ERROR ? "error" : "warning");
    return 0;
}

static void error_clear(dm_error *e) { memset(e, 0, sizeof *e); }


/*
 * The sinks' output: straight to stdout, or, while a record of a URL source
 * is written (`capture`), into `buf`, so that the state store can be told
 * its bytes before they are written with one write(2) (docs/sources.md).
 */
struct out_state {
    int write_errno;
    int capture;
    int tty; /* stdout is a terminal: the progress line goes before a write */
    char *buf;
    size_t len, cap;
};

/* write_stdout() is the sinks' write callback; it keeps the errno of a failure. */
static int write_stdout(void *ud, const char *buf, size_t len)
{
    struct out_state *o = ud;
    if (o->capture) {
        if (o->len + len > o->cap) {
            size_t ncap = o->cap ? o->cap : 4096;
            while (ncap < o->len + len)
                ncap *= 2;
            char *nb = realloc(o->buf, ncap);
            if (!nb) {
                o->write_errno = ENOMEM;
                return -1;
            }
            o->buf = nb;
            o->cap = ncap;
        }
        memcpy(o->buf + o->len, buf, len);
        o->len += len;
        return 0;
    }
    if (o->tty)
        cli_progress_clear();
    errno = 0;
    if (fwrite(buf, 1, len, stdout) == len)
        return 0;
    o->write_errno = errno ? errno : EIO;
    return -1;
}

/* flush_capture() writes what was captured to stdout's descriptor, in one
 * write(2) when the system allows.  Returns 0, or -1 with write_errno set. */
static int flush_capture(struct out_state *o)
{
    if (o->tty)
        cli_progress_clear();
    errno = 0;
    if (fflush(stdout) != 0) {
        o->write_errno = errno ? errno : EIO;
        return -1;
    }
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = write(STDOUT_FILENO, o->buf + off, o->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            o->write_errno = n < 0 ? errno : EIO;
            return -1;
        }
        off += (size_t)n;
    }
    o->len = 0;
    return 0;
}

int cli_state_path(const char *given, char *buf, size_t n)
{
    if (given) {
        snprintf(buf, n, "%s", given);
        return 0;
    }
    const char *x = getenv("XDG_STATE_HOME");
    if (x && x[0] == '/') {
        snprintf(buf, n, "%s/doorman/state.db", x);
        return 0;
    }
    const char *home = getenv("HOME");
    if (!home || !*home)
        return -1;
    snprintf(buf, n, "%s/.local/state/doorman/state.db", home);
    return 0;
}

/* is_url_source() is true for the sources the state store tracks. */
static int is_url_source(const char *p)
{
    static const char *const schemes[] = {"http://", "https://", "imap://", "imaps://"};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (strncasecmp(p, schemes[i], strlen(schemes[i])) == 0)
            return 1;
    return 0;
}

/* is_imap_source() is true for the sources --flag-declined and
 * --move-declined act on. */
static int is_imap_source(const char *p)
{
    return strncasecmp(p, "imap://", 7) == 0 || strncasecmp(p, "imaps://", 8) == 0;
}

/*
 * mark_declined() flags or moves a declined mail of an IMAP source
 * (--flag-declined, --move-declined) once its output is written: it flushes
 * stdout first.  Other sources and verdicts: nothing.  Returns 0, or -1 with
 * the error said and *rc set: the source stops there, as a server that
 * refused once would refuse again.
 */
static int mark_declined(dm_source *src, const char *name, const char *flag,
                         const char *folder, dm_verdict verdict, int *rc)
{
    if ((!flag && !folder) || verdict != DM_VERDICT_DECLINE ||
        !dm_source_imap_cursor(src, NULL, NULL))
        return 0;
    errno = 0;
    if (fflush(stdout) != 0) {
        cli_msg("cannot write the output: %s", strerror(errno ? errno : EIO));
        *rc = EXIT_INTERNAL;
        return -1;
    }
    dm_error e;
    error_clear(&e);
    dm_status st = dm_source_imap_mark(src, flag, folder, &e);
    if (st == DM_OK)
        return 0;
    error_fill(&e, st, name);
    cli_error(&e, "error");
    if (*rc == EXIT_RAN || st == DM_ENOMEM)
        *rc = st == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
    return -1;
}

/* rules_text() joins the names of the rules that fired: "A,B,C". */
static void rules_text(const dm_result *res, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < res->nhits && len + 1 < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%s", i ? "," : "", res->hits[i].name);
        if (w < 0 || (size_t)w >= n - len) {
            buf[len] = '\0';
            break;
        }
        len += (size_t)w;
    }
}

/* sink_error() names a failed write by its cause ("No space left on device"),
 * not by the sink's "the write callback failed". */
static void sink_error(const dm_error *e, int write_errno)
{
    if (write_errno)
        cli_msg("cannot write the output: %s", strerror(write_errno));
    else
        cli_error(e, "error");
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || v == 0)
        return -1;
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    else if (*end == 'g' || *end == 'G')
        v <<= 30, end++;
    if (*end)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* parse_only() reads "accept,review" into a mask of verdicts. */
static int parse_only(const char *s, unsigned *mask)
{
    *mask = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int v = dm_verdict_lookup(tok);
        if (v < 0)
            return -1;
        *mask |= 1u << v;
    }
    return *mask ? 0 : -1;
}

static int terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    if (c && atoi(c) > 0)
        return atoi(c);
    return 0;
}

/* failed() says what went wrong with `where` (a path, a URL); returns the exit code. */
static int failed(dm_error *err, dm_status st, const char *where)
{
    error_fill(err, st, where);
    cli_error(err, "error");
    return st == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
}

/*
 * load_url_config() reads the config file for the credentials of URL
 * sources: the one --config names (which must exist), else the default
 * one when it exists.  Returns an exit code; *out may stay NULL.
 */
static int load_url_config(const char *given, dm_config **out)
{
    char path[PATH_MAX];
    if (given)
        snprintf(path, sizeof path, "%s", given);
    else if (dm_config_default_path(path, sizeof path) != DM_OK)
        return EXIT_RAN;
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_config_load(path, out, &err);
    if (st == DM_OK || (st == DM_ENOENT && !given))
        return EXIT_RAN;
    return failed(&err, st, path);
}

int cmd_triage(int argc, char **argv)
{
    enum { OPT_ONLY = 256, OPT_MESSAGES, OPT_OUTGOING, OPT_STRICT, OPT_COLOR, OPT_WIDTH,
           OPT_MAX_FIELD, OPT_MAX_ENTRY, OPT_RULES, OPT_NODEF, OPT_NOPF, OPT_STATE, OPT_ALL,
           OPT_FLAG_DECLINED, OPT_MOVE_DECLINED, OPT_CACERT, OPT_CONFIG };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"only", required_argument, NULL, OPT_ONLY},
        {"messages", no_argument, NULL, OPT_MESSAGES},
        {"outgoing", no_argument, NULL, OPT_OUTGOING},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"color", required_argument, NULL, OPT_COLOR},
        {"colour", required_argument, NULL, OPT_COLOR},
        {"width", required_argument, NULL, OPT_WIDTH},
        {"max-field", required_argument, NULL, OPT_MAX_FIELD},
        {"max-entry", required_argument, NULL, OPT_MAX_ENTRY},
        {"rules", required_argument, NULL, OPT_RULES},
        {"no-default-rules", no_argument, NULL, OPT_NODEF},
        {"no-prefilter", no_argument, NULL, OPT_NOPF},
        {"state", required_argument, NULL, OPT_STATE},
        {"all", no_argument, NULL, OPT_ALL},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"flag-declined", required_argument, NULL, OPT_FLAG_DECLINED},
        {"move-declined", required_argument, NULL, OPT_MOVE_DECLINED},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int format = -1, color = -1, width = 0;
    unsigned only = 0;
    size_t sz;
    dm_ingest_opts io;
    memset(&io, 0, sizeof io);
    struct diag_state ds = {0, 0, 0, 0};
    const char *rule_paths[32];
    size_t nrule_paths = 0;
    int default_rules = 1, prefilter = 1;
    const char *state_opt = NULL, *config_opt = NULL;
    int all = 0;
    /* --flag-declined, --move-declined: imap:// sources only */
    const char *flag_declined = NULL, *move_declined = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = dm_format_lookup(optarg);
            if (format < 0) {
                cli_msg("unknown format '%s'; use table, json, jsonl or csv", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_ONLY:
            if (parse_only(optarg, &only) != 0) {
                cli_msg("--only takes accept, review and/or decline, comma-separated");
                return EXIT_USAGE;
            }
            break;
        case OPT_MESSAGES: io.messages = 1; break;
        case OPT_OUTGOING: io.outgoing = 1; break;
        case OPT_STRICT: ds.strict = 1; break;
        case 'q': ds.quiet = 1; break;
        case OPT_COLOR:
            if (strcmp(optarg, "always") == 0)
                color = 1;
            else if (strcmp(optarg, "never") == 0)
                color = 0;
            else if (strcmp(optarg, "auto") == 0)
                color = -1;
            else {
                cli_msg("--color takes auto, always or never");
                return EXIT_USAGE;
            }
            break;
        case OPT_WIDTH:
            width = atoi(optarg);
            if (width < 40 || width > 512) {
                cli_msg("--width takes a number of columns from 40 to 512");
                return EXIT_USAGE;
            }
            break;
        case OPT_MAX_FIELD:
            if (cli_parse_size(optarg, &sz) != 0) {
                cli_msg("--max-field takes a size in bytes (suffixes K, M, G)");
                return EXIT_USAGE;
            }
            io.max_field = sz;
            io.max_row = sz * 4;
            break;
        case OPT_MAX_ENTRY:
            if (cli_parse_size(optarg, &sz) != 0) {
                cli_msg("--max-entry takes a size in bytes (suffixes K, M, G)");
                return EXIT_USAGE;
            }
            io.max_entry = sz;
            break;
        case OPT_RULES:
            if (nrule_paths == sizeof rule_paths / sizeof rule_paths[0]) {
                cli_msg("too many --rules (at most %zu)", nrule_paths);
                return EXIT_USAGE;
            }
            rule_paths[nrule_paths++] = optarg;
            break;
        case OPT_NODEF: default_rules = 0; break;
        case OPT_NOPF: prefilter = 0; break;
        case OPT_STATE: state_opt = optarg; break;
        case OPT_ALL: all = 1; break;
        case OPT_CACERT: io.cacert = optarg; break;
        case OPT_CONFIG: config_opt = optarg; break;
        case OPT_FLAG_DECLINED: flag_declined = optarg; break;
        case OPT_MOVE_DECLINED: move_declined = optarg; break;
        case 'h':
            triage_usage(stdout);
            return EXIT_RAN;
        case ':':
        default:
            cli_bad_option(c, argv[optind - 1], "doorman triage");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_msg("triage needs at least one SOURCE; see 'doorman triage --help'");
        return EXIT_USAGE;
    }
    if (flag_declined || move_declined) {
        int any_imap = 0;
        for (int i = optind; i < argc; i++)
            any_imap |= is_imap_source(argv[i]);
        if (!any_imap) {
            cli_msg("%s applies to imap:// and imaps:// sources only, and none is given",
                    flag_declined ? "--flag-declined" : "--move-declined");
            return EXIT_USAGE;
        }
    }
    int tty = isatty(STDOUT_FILENO);
    if (format < 0)
        format = tty ? DM_FORMAT_TABLE : DM_FORMAT_JSONL;
    if (color < 0)
        color = tty;
    if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
        color = 0;
    if (!width)
        width = terminal_width();
    io.diag = on_diag;
    io.diag_ud = &ds;

    int rc = EXIT_RAN, stopped = 0;
    int nsrc = argc - optind;
    dm_context *ctx = NULL;
    dm_ruleset *rules = NULL;
    dm_source **srcs = calloc((size_t)nsrc, sizeof *srcs);
    /* one state handle per URL source: each holds its own run */
    dm_state **states = calloc((size_t)nsrc, sizeof *states);
    int *ended = calloc((size_t)nsrc, sizeof *ended);
    int64_t *uvs = calloc((size_t)nsrc, sizeof *uvs);
    char **cursors = calloc((size_t)nsrc, sizeof *cursors);
    dm_config *cfg = NULL;
    struct out_state os;
    memset(&os, 0, sizeof os);
    os.tty = tty;
    char state_path[PATH_MAX], out_path[PATH_MAX];
    int out_regular = 0;
    size_t seen_before = 0;
    dm_record *rec = NULL;
    dm_sink *sink = NULL;
    dm_result res;
    dm_summary sum;
    dm_error err;
    dm_result_init(&res);
    memset(&sum, 0, sizeof sum);
    error_clear(&err);

    if (!srcs || !states || !ended || !uvs || !cursors || dm_context_create(&ctx) != DM_OK ||
        dm_record_create(&rec) != DM_OK) {
        cli_msg("out of memory");
        rc = EXIT_INTERNAL;
        goto out;
    }
    /* URL sources: a run each in the state database, begun before the
     * source is opened, so that it fetches only what came after the stored
     * cursor (docs/sources.md) */
    for (int i = 0; i < nsrc && rc == EXIT_RAN; i++) {
        const char *key = argv[optind + i];
        if (!is_url_source(key))
            continue;
        for (int j = 0; j < i && rc == EXIT_RAN; j++)
            if (strcmp(argv[optind + j], key) == 0) {
                cli_msg("%s is given twice; a URL source is read once a run", key);
                rc = EXIT_USAGE;
            }
        if (rc != EXIT_RAN)
            break;
        if (!cfg) { /* credentials: the config file's password and token lines */
            rc = load_url_config(config_opt, &cfg);
            if (rc != EXIT_RAN)
                break;
            io.config = cfg;
        }
        if (cli_state_path(state_opt, state_path, sizeof state_path) != 0) {
            cli_msg("no state database: set XDG_STATE_HOME or HOME, or give --state PATH");
            rc = EXIT_USAGE;
            break;
        }
        error_clear(&err);
        const char *cursor = NULL;
        dm_status st = dm_state_open(state_path, &states[i], &err);
        if (st == DM_OK)
            st = dm_state_begin_run(states[i], key, &cursor, &uvs[i], &err);
        if (st == DM_OK && cursor && !all && !(cursors[i] = strdup(cursor)))
            st = DM_ENOMEM;
        if (st != DM_OK)
            rc = failed(&err, st, state_path);
    }
    if (rc != EXIT_RAN)
        goto out;
    if (!ds.quiet && isatty(STDERR_FILENO)) {
        cli_progress_enable(1);
        io.progress = cli_progress;
    }
    rc = cli_open_sources(argv + optind, nsrc, &io, (const char *const *)cursors, ctx, srcs);
    cli_progress_clear();
    /* a missing folder or a bad flag is said before any mail is read */
    for (int i = 0; i < nsrc && rc == EXIT_RAN && (flag_declined || move_declined); i++) {
        if (!dm_source_imap_cursor(srcs[i], NULL, NULL))
            continue;
        error_clear(&err);
        dm_status mst = dm_source_imap_check_mark(srcs[i], flag_declined, move_declined, &err);
        if (mst != DM_OK)
            rc = failed(&err, mst, argv[optind + i]);
    }
    if (rc == EXIT_RAN)
        /* start-up: compiled rules from the cache, JIT once it pays
         * (docs/integration.md, "Start-up time") */
        rc = cli_load_rules_cached((const char *const *)rule_paths, nrule_paths, default_rules,
                                   1, &rules);
    if (rc == EXIT_RAN && !prefilter)
        dm_ruleset_set_prefilter(rules, 0);
    if (rc == EXIT_RAN && dm_ruleset_bind(rules, ctx, &err) != DM_OK) {
        cli_error(&err, "error");
        rc = EXIT_INTERNAL;
    }
    if (rc != EXIT_RAN)
        goto out;

    /* a new UIDVALIDITY: the UIDs name other mails; the folder was read
     * afresh, and what the database knows of it is forgotten */
    for (int i = 0; i < nsrc && rc == EXIT_RAN; i++) {
        int64_t cur_uv = 0;
        const char *key = argv[optind + i];
        if (!states[i] || !dm_source_imap_cursor(srcs[i], &cur_uv, NULL))
            continue;
        int64_t was = uvs[i];
        uvs[i] = cur_uv;
        if (!was || was == cur_uv)
            continue;
        if (!ds.quiet)
            cli_msg("%s: the folder's UIDVALIDITY changed (%lld, was %lld); reading it afresh",
                    key, (long long)cur_uv, (long long)was);
        error_clear(&err);
        dm_status st = dm_state_reset_source(states[i], key, cur_uv, &err);
        if (st == DM_OK)
            st = dm_state_begin_run(states[i], key, NULL, NULL, &err);
        if (st != DM_OK)
            rc = failed(&err, st, state_path);
    }
    if (rc != EXIT_RAN)
        goto out;
    {
        struct stat sb;
        char fdpath[64];
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", STDOUT_FILENO);
        out_regular = fstat(STDOUT_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) &&
                      realpath(fdpath, out_path) != NULL;
    }

    dm_sink_opts so = {write_stdout, &os, color, width};
    dm_status sst = dm_sink_create((dm_format)format, &so, &sink);
    if (sst != DM_OK) {
        cli_msg("cannot create the output: %s", dm_strerror(sst));
        rc = EXIT_INTERNAL;
        goto out;
    }
    for (int i = 0; i < nsrc && rc != EXIT_INTERNAL; i++) {
        dm_status st;
        /* Records from standard input may come one at a time from a program
         * that waits for the answer: pass each on at once, not per buffer. */
        int live = strcmp(argv[optind + i], "-") == 0;
        dm_state *sdb = states[i];
        int imap_src = dm_source_imap_cursor(srcs[i], NULL, NULL);
        for (;;) {
            error_clear(&err);
            st = dm_source_next(srcs[i], rec, &err);
            if (st != DM_OK)
                break;
            /* a mail of an IMAP folder is known by its UID (its source URL
             * holds UIDVALIDITY and UID): two mails announcing one invitation
             * are two mails; any other record by its id */
            const char *id = imap_src ? NULL : dm_record_get(rec, DM_FIELD_ID);
            if (!id || !*id)
                id = dm_record_get(rec, DM_FIELD_SOURCE);
            if (sdb && !id)
                sdb = NULL; /* nothing to know it by: triaged every time */
            if (sdb) {
                dm_state_seen_kind kind = DM_STATE_NEW;
                dm_verdict was = DM_VERDICT_REVIEW;
                error_clear(&err);
                if (dm_state_seen_verdict(sdb, id, &kind, &was, &err) != DM_OK) {
                    error_fill(&err, DM_EIO, state_path);
                    cli_error(&err, "error");
                    rc = EXIT_INTERNAL;
                    break;
                }
                if (kind == DM_STATE_DELIVERED && !all) {
                    seen_before++;
                    /* a mail whose record was written as declined, but which is
                     * still here (a run stopped between writing and marking it):
                     * marked now, not written again */
                    if (mark_declined(srcs[i], argv[optind + i], flag_declined, move_declined,
                                      was, &rc) != 0)
                        break;
                    continue;
                }
                if (kind == DM_STATE_PENDING && !all && !ds.quiet)
                    cli_msg("%s: record %s was being written when a run stopped; it is produced "
                            "again",
                            argv[optind + i], id);
            }
            error_clear(&err);
            if (dm_ruleset_eval(rules, rec, ctx, &res, &err) != DM_OK) {
                cli_error(&err, "error");
                rc = EXIT_INTERNAL;
                break;
            }
            /* a runaway pattern counts as not matched, and the user hears of it */
            for (size_t k = 0; k < res.nlimited && !ds.quiet; k++)
                cli_msg("%s: warning: rule %s hit the PCRE2 match limit; counted as not "
                        "matched",
                        dm_record_get(rec, DM_FIELD_SOURCE) ? dm_record_get(rec, DM_FIELD_SOURCE)
                                                            : "?",
                        res.limited[k]);
            sum.total++;
            sum.counts[res.verdict]++;
            int shown = !only || (only & (1u << res.verdict));
            if (shown)
                sum.shown++;
            if (sdb) {
                /* stage it, write it in one write(2), then commit its delivery */
                char rtext[DM_STATE_MAX_TEXT];
                rules_text(&res, rtext, sizeof rtext);
                dm_state_entry e = {NULL, id, 0, res.verdict, res.score, rtext, 0};
                os.capture = 1;
                os.len = 0;
                error_clear(&err);
                dm_status wst = shown ? dm_sink_write(sink, rec, &res, &err) : DM_OK;
                os.capture = 0;
                if (wst != DM_OK) {
                    sink_error(&err, os.write_errno);
                    rc = EXIT_INTERNAL;
                    break;
                }
                dm_state_output so_out = {out_path, 0, os.buf, os.len};
                int with_out = out_regular && os.len > 0 && os.len <= DM_STATE_MAX_OUTPUT;
                errno = 0;
                if (with_out && fflush(stdout) != 0) {
                    cli_msg("cannot write the output: %s", strerror(errno ? errno : EIO));
                    rc = EXIT_INTERNAL;
                    break;
                }
                if (with_out) {
                    /* O_APPEND (>>): the write goes to the end, wherever the offset is */
                    struct stat osb;
                    int fl = fcntl(STDOUT_FILENO, F_GETFL);
                    off_t pos = fl >= 0 && (fl & O_APPEND) && fstat(STDOUT_FILENO, &osb) == 0
                                    ? osb.st_size
                                    : lseek(STDOUT_FILENO, 0, SEEK_CUR);
                    with_out = pos >= 0;
                    so_out.offset = (int64_t)pos;
                }
                error_clear(&err);
                if (dm_state_record(sdb, &e, with_out ? &so_out : NULL, &err) != DM_OK) {
                    error_fill(&err, DM_EIO, state_path);
                    cli_error(&err, "error");
                    rc = EXIT_INTERNAL;
                    break;
                }
                size_t captured = os.len;
                if (os.len && flush_capture(&os) != 0) {
                    sink_error(&err, os.write_errno);
                    rc = EXIT_INTERNAL;
                    break;
                }
                /* a table or a json array is written at the end: its records
                 * are delivered by dm_state_commit_run() after that */
                int written = !shown || captured > 0;
                /* written, then marked, then delivered: a run stopped in
                 * between leaves the mail here, and the next run finds its
                 * record delivered (or produces it again) and marks it
                 * (docs/sources.md) */
                if (mark_declined(srcs[i], argv[optind + i], flag_declined, move_declined,
                                  res.verdict, &rc) != 0)
                    break;
                error_clear(&err);
                if (written && dm_state_deliver(sdb, id, &err) != DM_OK) {
                    error_fill(&err, DM_EIO, state_path);
                    cli_error(&err, "error");
                    rc = EXIT_INTERNAL;
                    break;
                }
                continue;
            }
            if (shown) {
                error_clear(&err);
                if (dm_sink_write(sink, rec, &res, &err) != DM_OK) {
                    sink_error(&err, os.write_errno);
                    rc = EXIT_INTERNAL;
                    break;
                }
                errno = 0;
                if (live && fflush(stdout) != 0) {
                    cli_msg("cannot write the output: %s", strerror(errno ? errno : EIO));
                    rc = EXIT_INTERNAL;
                    break;
                }
            }
            if (mark_declined(srcs[i], argv[optind + i], flag_declined, move_declined,
                              res.verdict, &rc) != 0)
                break;
        }
        sum.skipped += dm_source_skipped(srcs[i]);
        ended[i] = st == DM_END;
        if (st == DM_ESTRICT) {
            cli_msg("stopped at the first bad row (--strict)");
            rc = EXIT_INPUT;
            stopped = 1;
            break;
        }
        if (st != DM_END && st != DM_OK) {
            error_fill(&err, st, argv[optind + i]);
            cli_error(&err, "error");
            if (rc == EXIT_RAN)
                rc = st == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
        }
    }
    cli_progress_clear();
    error_clear(&err);
    if (rc != EXIT_INTERNAL && dm_sink_finish(sink, &sum, &err) != DM_OK) {
        sink_error(&err, os.write_errno);
        rc = EXIT_INTERNAL;
    }
    errno = 0;
    if (rc != EXIT_INTERNAL && (fflush(stdout) != 0 || ferror(stdout))) {
        cli_msg("cannot write the output: %s", strerror(errno ? errno : EIO));
        rc = EXIT_INTERNAL;
    }
    /* every output is written: the runs end, each source's cursor advances
     * when it was read to its end */
    for (int i = 0; i < nsrc && rc != EXIT_INTERNAL; i++) {
        if (!states[i])
            continue;
        char cursor[DM_STATE_MAX_TEXT];
        const char *cur = ended[i] && dm_source_cursor(srcs[i], cursor, sizeof cursor) ? cursor
                                                                                        : NULL;
        error_clear(&err);
        if (dm_state_commit_run(states[i], cur, uvs[i], &err) != DM_OK) {
            error_fill(&err, DM_EIO, state_path);
            cli_error(&err, "error");
            rc = EXIT_INTERNAL;
        }
    }
    if (seen_before && !ds.quiet)
        cli_msg("%zu record%s triaged before, skipped (--all to triage them again)", seen_before,
                seen_before == 1 ? "" : "s");
    if (sum.skipped && !ds.quiet && !stopped && format != DM_FORMAT_TABLE)
        cli_msg("%zu bad row%s skipped", sum.skipped, sum.skipped == 1 ? "" : "s");

out:
    dm_sink_free(sink);
    for (int i = 0; srcs && i < nsrc; i++)
        dm_source_free(srcs[i]);
    for (int i = 0; states && i < nsrc; i++)
        dm_state_close(states[i]);
    free(states);
    free(ended);
    free(uvs);
    for (int i = 0; cursors && i < nsrc; i++)
        free(cursors[i]);
    free(cursors);
    dm_config_free(cfg);
    free(os.buf);
    free(srcs);
    dm_record_free(rec);
    dm_result_free(&res);
    dm_ruleset_free(rules);
    dm_context_free(ctx);
    return rc;
}
