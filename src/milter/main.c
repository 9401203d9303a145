/*
 * main.c: doorman-milter, doorman in Postfix or Sendmail (libmilter).
 *
 * Options, logging, start-up and shutdown; the callbacks are in filter.c.
 * The rules are found and loaded as the CLI does (src/cli/rules_cli.c is
 * compiled into this program), so `doorman triage` and the milter read the
 * same rules.  The library never prints: this file logs for it.
 */
#include "cli.h"
#include "milter.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

milter_conf g_conf;

const char *dm_cli_prog = "doorman-milter";

/* ---- logging --------------------------------------------------------------- */

static int log_syslog; /* else stderr */

void mlog(int prio, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_syslog) {
        syslog(prio, "%s", line);
        return;
    }
    const char *level = prio <= LOG_ERR ? "error: " : prio == LOG_WARNING ? "warning: " : "";
    /* one write per line: lines of concurrent connections do not interleave */
    fprintf(stderr, "%s: %s%s\n", dm_cli_prog, level, line);
}

/* cli_msg() and cli_error() are what rules_cli.c reports rule errors with. */
void cli_msg(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mlog(LOG_ERR, "%s", line);
}

void cli_error(const dm_error *e, const char *severity)
{
    char where[DM_ERROR_SOURCE_MAX + 32] = "";
    if (e->source[0]) {
        if (e->line > 0 && e->column > 0)
            snprintf(where, sizeof where, "%s:%d:%d: ", e->source, e->line, e->column);
        else if (e->line > 0)
            snprintf(where, sizeof where, "%s:%d: ", e->source, e->line);
        else
            snprintf(where, sizeof where, "%s: ", e->source);
    }
    int prio = severity && strcmp(severity, "warning") == 0 ? LOG_WARNING : LOG_ERR;
    /* mlog() names the level itself */
    mlog(prio, "%s%s", where, e->text[0] ? e->text : dm_strerror(e->code));
}

/* ---- options ----------------------------------------------------------------- */

static void usage(FILE *fp)
{
    fputs("usage: doorman-milter -p SOCKET [OPTIONS]\n"
          "\n"
          "Triage mail in Postfix or Sendmail: add X-Doorman-Verdict, X-Doorman-Score and\n"
          "X-Doorman-Rules to each message and remove forged ones.  Never refuses mail\n"
          "unless --on-decline says so.\n"
          "\n"
          "options:\n"
          "  -p, --socket SPEC       where to listen: inet:PORT@HOST, inet6:PORT@HOST or\n"
          "                          unix:PATH (local:PATH)\n"
          "  -f, --foreground        stay in the foreground and log to stderr\n"
          "      --syslog            log to syslog (LOG_MAIL) even in the foreground\n"
          "      --pidfile FILE      write the daemon's process id to FILE\n"
          "      --rules PATH        rules to layer on the defaults (repeatable)\n"
          "      --no-default-rules  use only the --rules given\n"
          "      --profile PATH      the user's LinkedIn export (folder or zip), or one of its\n"
          "                          CSV files: who \"me\" is (replaces the config's)\n"
          "      --config FILE       the config file (default: $XDG_CONFIG_HOME/doorman/config)\n"
          "      --on-decline WHAT   besides the headers, for a decline: none (default),\n"
          "                          quarantine, reject (550 5.7.1) or tempfail (451 4.7.1)\n"
          "      --max-size BYTES    largest message scanned (default 10M; K, M, G); a larger\n"
          "                          one passes without a verdict\n"
          "      --timeout SECONDS   how long to wait for the MTA (default 300)\n"
          "      --backlog N         listen(2) backlog (default: libmilter's)\n"
          "      --rulesets N        rulesets evaluating at once (default: 1 per 4 CPUs, 1-8)\n"
          "  -q, --quiet             log only problems, not a line per message\n"
          "  -V, --version           print the version\n"
          "  -h, --help              show this help\n"
          "\n"
          "See 'man doorman-milter' and docs/integration.md for the Postfix and Sendmail lines.\n",
          fp);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || v == 0)
        return -1;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (*end || v > (SIZE_MAX >> shift) / 2)
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int valid_socket(const char *spec)
{
    static const char *const kinds[] = {"inet:", "inet6:", "unix:", "local:"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(spec, kinds[i], strlen(kinds[i])) == 0 && spec[strlen(kinds[i])])
            return 1;
    return 0;
}

enum {
    OPT_SYSLOG = 256,
    OPT_PIDFILE,
    OPT_RULES,
    OPT_NO_DEFAULT_RULES,
    OPT_PROFILE,
    OPT_CONFIG,
    OPT_ON_DECLINE,
    OPT_MAX_SIZE,
    OPT_TIMEOUT,
    OPT_BACKLOG,
    OPT_RULESETS,
};

struct options {
    char *socket;
    int foreground, syslog;
    const char *pidfile;
    const char **rules;
    size_t nrules;
    int defaults;
    const char *profile, *config;
    long timeout, backlog, rulesets;
};

/* Returns -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 'p'},
        {"foreground", no_argument, NULL, 'f'},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"pidfile", required_argument, NULL, OPT_PIDFILE},
        {"rules", required_argument, NULL, OPT_RULES},
        {"no-default-rules", no_argument, NULL, OPT_NO_DEFAULT_RULES},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"on-decline", required_argument, NULL, OPT_ON_DECLINE},
        {"max-size", required_argument, NULL, OPT_MAX_SIZE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"backlog", required_argument, NULL, OPT_BACKLOG},
        {"rulesets", required_argument, NULL, OPT_RULESETS},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":p:fqVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p': o->socket = optarg; break;
        case 'f': o->foreground = 1; break;
        case OPT_SYSLOG: o->syslog = 1; break;
        case OPT_PIDFILE: o->pidfile = optarg; break;
        case OPT_RULES: o->rules[o->nrules++] = optarg; break;
        case OPT_NO_DEFAULT_RULES: o->defaults = 0; break;
        case OPT_PROFILE: o->profile = optarg; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_ON_DECLINE:
            if (strcmp(optarg, "none") == 0)
                g_conf.on_decline = ACTION_NONE;
            else if (strcmp(optarg, "quarantine") == 0)
                g_conf.on_decline = ACTION_QUARANTINE;
            else if (strcmp(optarg, "reject") == 0)
                g_conf.on_decline = ACTION_REJECT;
            else if (strcmp(optarg, "tempfail") == 0)
                g_conf.on_decline = ACTION_TEMPFAIL;
            else {
                cli_msg("--on-decline takes none, quarantine, reject or tempfail, not '%s'",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_MAX_SIZE:
            if (parse_size(optarg, &g_conf.max_size) != 0) {
                cli_msg("--max-size takes a size in bytes (suffixes K, M, G), not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_TIMEOUT:
            if (parse_int(optarg, 1, 86400, &o->timeout) != 0) {
                cli_msg("--timeout takes seconds, 1 to 86400, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_BACKLOG:
            if (parse_int(optarg, 1, 65535, &o->backlog) != 0) {
                cli_msg("--backlog takes a number, 1 to 65535, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_RULESETS:
            if (parse_int(optarg, 1, 256, &o->rulesets) != 0) {
                cli_msg("--rulesets takes a number, 1 to 256, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q': g_conf.quiet = 1; break;
        case 'V': printf("doorman-milter %s\n", dm_version()); return EXIT_RAN;
        case 'h': usage(stdout); return EXIT_RAN;
        case ':':
            cli_msg("option '%s' needs a value; see 'doorman-milter --help'", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            cli_msg("unknown option '%s'; see 'doorman-milter --help'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_msg("unexpected argument '%s'; see 'doorman-milter --help'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!o->socket) {
        cli_msg("no socket: give -p inet:PORT@HOST or -p unix:PATH");
        return EXIT_USAGE;
    }
    if (!valid_socket(o->socket)) {
        cli_msg("-p takes inet:PORT@HOST, inet6:PORT@HOST or unix:PATH, not '%s'", o->socket);
        return EXIT_USAGE;
    }
    return -1;
}

/* ---- start-up -------------------------------------------------------------------- */

static int on_profile_diag(void *ud, dm_severity sev, const dm_error *e)
{
    (void)ud;
    cli_error(e, sev == DM_SEV_ERROR ? "error" : "warning");
    return 0;
}

/*
 * load_profile() fills g_conf.ctx with who the user is, as `doorman mail`
 * does: the config file (--config, else the default one when it exists),
 * with --profile in place of its profile lines.
 */
static int load_profile(const char *config, const char *profile)
{
    if (dm_context_create(&g_conf.ctx) != DM_OK)
        return EXIT_INTERNAL;
    dm_config *cfg = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = DM_ENOENT;
    char path[4096];
    if (config)
        st = dm_config_load(config, &cfg, &err);
    else if (dm_config_default_path(path, sizeof path) == DM_OK)
        st = dm_config_load(path, &cfg, &err);
    if (st == DM_ENOENT && !config) {
        /* no config file is no error: nothing is known about me */
        memset(&err, 0, sizeof err);
        st = dm_config_create(&cfg);
    }
    if (st == DM_OK && profile)
        st = dm_config_set_profile(cfg, profile);
    if (st == DM_OK) {
        dm_ingest_opts io;
        memset(&io, 0, sizeof io);
        io.diag = on_profile_diag;
        st = dm_config_apply(cfg, &io, g_conf.ctx, &err);
    }
    dm_config_free(cfg);
    if (st != DM_OK) {
        error_fill(&err, st, config ? config : profile ? profile : "");
        cli_error(&err, "error");
        return st == DM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
    }
    if (profile && !dm_me_name(g_conf.ctx))
        mlog(LOG_WARNING, "%s: no profile found in it: rules about \"me\" will not match", profile);
    return EXIT_RAN;
}

/*
 * default_rulesets(): one ruleset for every 4 processors, 1 to 8.  An
 * evaluation is about 6 us of the about 300 us of CPU a message costs the
 * milter (MIME parsing, the protocol, libmilter's threads), so one ruleset
 * is busy at most a fiftieth of the time per processor; each copy costs
 * about 4 MB.  docs/doorman-milter.8 has the figures.
 */
static long default_rulesets(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = (n + 3) / 4;
    return n < 1 ? 1 : n > 8 ? 8 : n;
}

/*
 * absolute() makes `path` absolute (into buf), after `skip` bytes of prefix
 * ("unix:"): the daemon changes to "/", and libmilter removes its unix
 * socket at exit, as the pid file is removed, by the name it was given.
 */
static const char *absolute(const char *path, size_t skip, char *buf, size_t cap)
{
    char cwd[4096];
    if (path[skip] == '/' || !getcwd(cwd, sizeof cwd))
        return path;
    int n = snprintf(buf, cap, "%.*s%s/%s", (int)skip, path, cwd, path + skip);
    return n > 0 && (size_t)n < cap ? buf : path;
}

static int write_pidfile(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0) {
        mlog(LOG_ERR, "%s: cannot write the pid file: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * no_nagle() turns Nagle's algorithm off on the socket libmilter listens on
 * (the connections it accepts inherit it on Linux and the BSDs).  At the end
 * of a message libmilter writes each header change as a small packet of its
 * own while the MTA, waiting for the final reply, acknowledges late: with
 * Nagle on, every message after the first change waits for that delayed
 * ACK, 40 ms on Linux.  libmilter has no call for its socket, so it is
 * found as the process's one listening TCP socket.
 */
static void no_nagle(void)
{
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 0; fd < (max > 0 && max < 65536 ? max : 1024); fd++) {
        int on = 0;
        socklen_t len = sizeof on;
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on ||
            getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
            continue;
        on = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
            mlog(LOG_WARNING, "cannot turn Nagle's algorithm off: %s", strerror(errno));
    }
}

/*
 * wait_idle() gives connections still open when smfi_main() returned a
 * few seconds to finish before the shared state is freed under them.
 */
static int wait_idle(void)
{
    for (int i = 0; i < 50 && filter_active() > 0; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return filter_active() == 0;
}

int main(int argc, char **argv)
{
    struct options o;
    memset(&o, 0, sizeof o);
    o.defaults = 1;
    o.timeout = 300;
    o.rules = calloc((size_t)argc + 1, sizeof *o.rules);
    if (!o.rules)
        return EXIT_INTERNAL;
    g_conf.max_size = 10u << 20;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        goto out_rules;
    if (!o.foreground || o.syslog) {
        openlog(dm_cli_prog, LOG_PID, LOG_MAIL);
    }

    rc = load_profile(o.config, o.profile);
    if (rc != EXIT_RAN)
        goto out_ctx;
    size_t nrulesets = (size_t)(o.rulesets ? o.rulesets : default_rulesets());
    rc = pool_init(&g_conf.pool, nrulesets, o.rules, o.nrules, o.defaults, g_conf.ctx);
    if (rc != EXIT_RAN)
        goto out_ctx;

    char sockbuf[4200], pidbuf[4200];
    size_t skip = strncmp(o.socket, "unix:", 5) == 0 || strncmp(o.socket, "local:", 6) == 0
                      ? strchr(o.socket, ':') + 1 - o.socket
                      : 0;
    if (skip)
        o.socket = (char *)absolute(o.socket, skip, sockbuf, sizeof sockbuf);
    if (o.pidfile)
        o.pidfile = absolute(o.pidfile, 0, pidbuf, sizeof pidbuf);
    struct smfiDesc desc;
    filter_describe(&desc, g_conf.on_decline);
    rc = EXIT_USAGE;
    if (smfi_setconn(o.socket) != MI_SUCCESS || smfi_settimeout((int)o.timeout) != MI_SUCCESS ||
        (o.backlog && smfi_setbacklog((int)o.backlog) != MI_SUCCESS)) {
        cli_msg("%s: libmilter refused the socket or a setting", o.socket);
        goto out_pool;
    }
    if (smfi_register(desc) != MI_SUCCESS) {
        cli_msg("libmilter refused to register the filter");
        rc = EXIT_INTERNAL;
        goto out_pool;
    }
    /* open the socket now, while errors still reach the terminal; a stale
     * unix socket left by a previous run is removed */
    if (smfi_opensocket(true) != MI_SUCCESS) {
        cli_msg("%s: cannot listen there (in use, or no permission?)", o.socket);
        goto out_pool;
    }
    no_nagle();
    if (!o.foreground) {
        if (daemon(0, 0) != 0) {
            cli_msg("cannot become a daemon: %s", strerror(errno));
            rc = EXIT_INTERNAL;
            goto out_pool;
        }
        log_syslog = 1;
    } else if (o.syslog)
        log_syslog = 1;
    if (o.pidfile && write_pidfile(o.pidfile) != 0) {
        rc = EXIT_INTERNAL;
        goto out_pool;
    }
    /* The mail module sets GMime up on its first call (under a lock, so any
     * thread may be first); one call here does it before libmilter starts
     * its threads, and shows at once that the module works. */
    static const char tiny[] = "Subject: x\r\n\r\nx\r\n";
    dm_record *warm = NULL;
    if (dm_record_create(&warm) != DM_OK ||
        dm_mail_record(tiny, sizeof tiny - 1, NULL, warm, NULL) != DM_OK) {
        dm_record_free(warm);
        mlog(LOG_ERR, "the mail module does not work: cannot read a message");
        rc = EXIT_INTERNAL;
        goto out_pool;
    }
    dm_record_free(warm);
    signal(SIGPIPE, SIG_IGN);
    /* libmilter's own thread waits for these (sigwait) once smfi_main() runs;
     * blocked from here, one that comes in between waits for it instead of
     * killing the process before it says it stopped */
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGHUP);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, NULL);
    mlog(LOG_INFO, "listening on %s: %zu rules, %zu rulesets, on decline: %s, max size %zu",
         o.socket, dm_ruleset_count(g_conf.pool.all[0]), g_conf.pool.n,
         g_conf.on_decline == ACTION_REJECT       ? "reject"
         : g_conf.on_decline == ACTION_TEMPFAIL   ? "tempfail"
         : g_conf.on_decline == ACTION_QUARANTINE ? "quarantine"
                                                  : "headers only",
         g_conf.max_size);

    int mrc = smfi_main();
    rc = mrc == MI_SUCCESS ? EXIT_RAN : EXIT_INTERNAL;
    if (!wait_idle()) {
        /* a connection is still inside a callback: leave the memory to exit */
        mlog(LOG_WARNING, "stopping with %u connection(s) still open", filter_active());
        goto out_rules;
    }
    mlog(LOG_INFO, "stopped (%lu evaluation(s) waited for a ruleset)", g_conf.pool.waits);
    dm_mail_shutdown();
    if (o.pidfile)
        unlink(o.pidfile);
out_pool:
    pool_free(&g_conf.pool);
out_ctx:
    dm_context_free(g_conf.ctx);
    g_conf.ctx = NULL;
out_rules:
    free(o.rules);
    return rc;
}
