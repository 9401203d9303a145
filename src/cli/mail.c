/*
 * mail.c: `doorman mail`: a passthrough mail filter, as spamc and
 * `bogofilter -p` are (docs/integration.md).  One RFC 5322 message comes
 * in on standard input and goes out on standard output with doorman's
 * headers added; the rest of it byte for byte.
 *
 * Mail must never be lost because the filter broke.  So, as spamc does by
 * default, any failure (rules that do not load, a bad profile, a message
 * over --max-size, the --timeout) sends the message out unchanged with
 * exit 0; --tempfail exits 75 (EX_TEMPFAIL) with nothing on standard
 * output instead, and --check, which never writes the message, exits 3.
 *
 * The run has three phases.  READ: the message is read with a deadline
 * (poll), so a slow writer cannot hold us past --timeout.  DECIDE: config,
 * profile, rules, record and evaluation run under an interval timer;
 * when it fires, its handler writes the message (whole by then) with
 * write(2) and _exit()s, whatever the library was doing.  WRITE: the
 * output has begun and is not interrupted.  The handler and the main code
 * both leave DECIDE with a compare-and-swap, so exactly one of them writes.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MAIL_MAX_SIZE ((size_t)10 << 20)
#define MAIL_TIMEOUT 10.0
#define MAIL_TIMEOUT_MAX 86400.0
#define CHUNK ((size_t)64 << 10)

enum mail_mode { MODE_PASS, MODE_TEMPFAIL, MODE_CHECK };

/* --check exit codes, bogofilter's order (docs/doorman.1) */
enum { CHECK_ACCEPT = 0, CHECK_DECLINE = 1, CHECK_REVIEW = 2, CHECK_ERROR = 3 };

struct mail_opts {
    enum mail_mode mode;
    size_t max_size;
    double timeout; /* seconds; 0: no limit */
    const char *config;
    const char *profiles[32];
    size_t nprofiles;
    const char *rule_paths[32];
    size_t nrule_paths;
    int default_rules;
};

static void mail_usage(FILE *fp)
{
    fputs("usage: doorman mail [OPTIONS] < MESSAGE > MESSAGE\n"
          "\n"
          "Read one mail on standard input and write it to standard output with\n"
          "X-Doorman-Verdict, X-Doorman-Score and X-Doorman-Rules added at the end of its\n"
          "header (incoming X-Doorman-* headers are removed); nothing else changes.\n"
          "On any failure, a message over --max-size or the --timeout, the message goes\n"
          "out unchanged and the exit status is 0.\n"
          "\n"
          "options:\n"
          "  -c, --check            print only \"VERDICT SCORE\", not the message; exit 0\n"
          "                         accept, 1 decline, 2 review, 3 error\n"
          "      --tempfail         on a failure exit 75 (EX_TEMPFAIL) with nothing on\n"
          "                         standard output, instead of passing the message\n"
          "      --max-size BYTES   largest message triaged (default 10M; suffixes K, M, G)\n"
          "      --timeout SECONDS  time limit for the whole run (default 10; 0: none)\n"
          "      --profile PATH     the user's LinkedIn export (folder or zip), or one of\n"
          "                         its CSV files: who \"me\" is, and the history; repeatable\n"
          "                         (replaces the config file's profile lines)\n"
          "      --config FILE      the config file (default: $XDG_CONFIG_HOME/doorman/config)\n"
          "      --rules PATH       rules to layer on the defaults (repeatable)\n"
          "      --no-default-rules use only the --rules given\n"
          "  -h, --help             show this help\n",
          fp);
}

/* ---- the phases, and the time limit's handler ---------------------------------- */

enum { PH_READ, PH_DECIDE, PH_WRITE, PH_TIMED_OUT };
static atomic_int phase = PH_READ;
/* what the handler needs: set before the timer is armed, never changed after */
static const char *held_msg;
static size_t held_len;
static enum mail_mode held_mode;

/* write_all() writes n bytes to fd with write(2): async-signal-safe. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void note_safe(const char *s) { (void)write_all(STDERR_FILENO, s, strlen(s)); }

static void on_time_limit(int sig)
{
    (void)sig;
    int want = PH_DECIDE;
    if (!atomic_compare_exchange_strong(&phase, &want, PH_TIMED_OUT))
        return; /* the output has begun: let it finish */
    switch (held_mode) {
    case MODE_CHECK:
        note_safe("doorman: time limit reached; no verdict\n");
        _exit(CHECK_ERROR);
    case MODE_TEMPFAIL:
        note_safe("doorman: time limit reached; exit 75 (--tempfail)\n");
        _exit(EX_TEMPFAIL);
    case MODE_PASS:
        break;
    }
    note_safe("doorman: time limit reached; the message passes unchanged\n");
    _exit(write_all(STDOUT_FILENO, held_msg, held_len) == 0 ? EXIT_RAN : EX_TEMPFAIL);
}

/* set_timer() arms (seconds > 0) or disarms (0) the one-shot interval timer. */
static void set_timer(double seconds)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    if (seconds > 0) {
        it.it_value.tv_sec = (time_t)seconds;
        it.it_value.tv_usec = (suseconds_t)((seconds - (double)it.it_value.tv_sec) * 1e6);
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
            it.it_value.tv_usec = 1;
    }
    setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * start_writing() leaves DECIDE for WRITE.  Returns 0 when the main code
 * may write; otherwise the handler is writing and will exit, so wait for it.
 */
static int start_writing(void)
{
    int want = PH_DECIDE;
    if (atomic_compare_exchange_strong(&phase, &want, PH_WRITE)) {
        set_timer(0);
        return 0;
    }
    for (;;)
        pause();
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- reading the message ----------------------------------------------------------- */

enum read_result {
    READ_WHOLE,    /* the whole message is in the buffer */
    READ_OVERSIZE, /* over --max-size: the buffer, then `spill`, then the rest of stdin */
    READ_NOMEM,    /* the buffer could not grow: likewise */
    READ_SLOW,     /* the deadline passed while reading: likewise */
    READ_FAILED,   /* standard input could not be read: the message cannot go out whole */
};

struct msgbuf {
    char *data;
    size_t len, cap;
    char spill[CHUNK]; /* what came after max_size bytes; the copying buffer */
    size_t nspill;
    int read_errno;
};

/* wait_input() waits for standard input until `deadline` (0: forever):
 * 1 readable (or at its end), 0 the deadline passed. */
static int wait_input(double deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline > 0) {
            double left = deadline - now();
            if (left <= 0)
                return 0;
            ms = (int)(left * 1000) + 1;
        }
        struct pollfd p = {STDIN_FILENO, POLLIN, 0};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* let read() say what is wrong */
    }
}

/* read_some() reads into p[0..n): the count, 0 at the end, -1 an error. */
static ssize_t read_some(char *p, size_t n)
{
    ssize_t r;
    do
        r = read(STDIN_FILENO, p, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/*
 * read_message() reads standard input into m, holding at most `max` bytes
 * of it (plus one chunk that proves there is more).
 */
static enum read_result read_message(struct msgbuf *m, size_t max, double deadline)
{
    for (;;) {
        if (!wait_input(deadline))
            return READ_SLOW;
        if (m->len == max) {
            ssize_t r = read_some(m->spill, CHUNK);
            if (r == 0)
                return READ_WHOLE;
            if (r < 0) {
                m->read_errno = errno;
                return READ_FAILED;
            }
            m->nspill = (size_t)r;
            return READ_OVERSIZE;
        }
        if (m->len == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : CHUNK;
            if (cap > max || cap < m->cap)
                cap = max;
            char *d = realloc(m->data, cap);
            if (!d)
                return READ_NOMEM;
            m->data = d;
            m->cap = cap;
        }
        ssize_t r = read_some(m->data + m->len, m->cap - m->len);
        if (r == 0)
            return READ_WHOLE;
        if (r < 0) {
            m->read_errno = errno;
            return READ_FAILED;
        }
        m->len += (size_t)r;
    }
}

/*
 * pass_through() is the safe fallback once reading stopped early: what was
 * read goes out, then the rest of standard input is copied through a fixed
 * buffer, so a message of any size costs no more memory.  Returns the exit
 * code: 0, or EX_TEMPFAIL when the message could not go out whole.
 */
static int pass_through(struct msgbuf *m)
{
    if (write_all(STDOUT_FILENO, m->data, m->len) != 0 ||
        write_all(STDOUT_FILENO, m->spill, m->nspill) != 0) {
        cli_msg("cannot write the message: %s", strerror(errno ? errno : EIO));
        return EX_TEMPFAIL;
    }
    for (;;) {
        ssize_t r = read_some(m->spill, CHUNK);
        if (r == 0)
            return EXIT_RAN;
        if (r < 0) {
            cli_msg("cannot read the message: %s", strerror(errno));
            return EX_TEMPFAIL;
        }
        if (write_all(STDOUT_FILENO, m->spill, (size_t)r) != 0) {
            cli_msg("cannot write the message: %s", strerror(errno ? errno : EIO));
            return EX_TEMPFAIL;
        }
    }
}

/* ---- deciding ------------------------------------------------------------------------ */

static int on_profile_diag(void *ud, dm_severity sev, const dm_error *e)
{
    (void)ud;
    cli_error(e, sev == DM_SEV_ERROR ? "error" : "warning");
    return 0;
}

/*
 * load_profile() fills ctx with who the user is: the config file (the one
 * named by --config, else the default one when it exists), with --profile
 * in place of its profile lines.  Returns 0, or -1 after saying why.
 */
static int load_profile(const struct mail_opts *o, dm_context *ctx)
{
    dm_config *cfg = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st;
    char path[4096];
    if (o->config) {
        st = dm_config_load(o->config, &cfg, &err);
    } else if (dm_config_default_path(path, sizeof path) == DM_OK) {
        st = dm_config_load(path, &cfg, &err);
        if (st == DM_ENOENT) {
            memset(&err, 0, sizeof err);
            st = dm_config_create(&cfg);
        }
    } else {
        st = dm_config_create(&cfg);
    }
    if (st == DM_OK && o->nprofiles)
        st = dm_config_set_profiles(cfg, o->profiles, o->nprofiles);
    if (st == DM_OK) {
        dm_ingest_opts io;
        memset(&io, 0, sizeof io);
        io.diag = on_profile_diag;
        st = dm_config_apply(cfg, &io, ctx, &err);
    }
    dm_config_free(cfg);
    if (st == DM_OK)
        return 0;
    error_fill(&err, st, "");
    cli_error(&err, "error");
    return -1;
}

/*
 * mail_load_rules() loads the rules a mail is triaged with (the defaults,
 * the user's folder, then each --rules, as for triage) and binds them to
 * ctx.  Every ruleset of this command comes from here.  Returns 0, or -1
 * after saying why.
 */
static int mail_load_rules(const struct mail_opts *o, const dm_context *ctx, dm_ruleset **out)
{
    dm_ruleset *rs = NULL;
    /* start-up (rules engineer): compiled rules from the cache, JIT only
     * once it pays (docs/integration.md, "Start-up time") */
    if (cli_load_rules_cached(o->rule_paths, o->nrule_paths, o->default_rules, 1, &rs) !=
        EXIT_RAN)
        return -1;
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_ruleset_bind(rs, ctx, &err);
    if (st != DM_OK) {
        error_fill(&err, st, "");
        cli_error(&err, "error");
        dm_ruleset_free(rs);
        return -1;
    }
    *out = rs;
    return 0;
}

/*
 * decide() triages the message into res.  The hits in res point into the
 * ruleset, so the caller frees *rules once res is written.  Returns 0, or
 * -1 after saying why.
 */
static int decide(const struct mail_opts *o, const struct msgbuf *m, dm_result *res,
                  dm_ruleset **rules)
{
    dm_context *ctx = NULL;
    dm_record *rec = NULL;
    dm_error err;
    memset(&err, 0, sizeof err);
    int rc = -1;
    if (dm_context_create(&ctx) != DM_OK || dm_record_create(&rec) != DM_OK) {
        cli_msg("out of memory");
        goto out;
    }
    if (load_profile(o, ctx) != 0 || mail_load_rules(o, ctx, rules) != 0)
        goto out;
    dm_status st = dm_mail_record(m->data, m->len, "<stdin>", rec, &err);
    if (st == DM_OK) {
        dm_context_attach(ctx, rec);
        st = dm_ruleset_eval(*rules, rec, ctx, res, &err);
    }
    if (st != DM_OK) {
        error_fill(&err, st, "<stdin>");
        cli_error(&err, "error");
        goto out;
    }
    for (size_t k = 0; k < res->nlimited; k++)
        cli_msg("warning: rule %s hit the PCRE2 match limit; counted as not matched",
                res->limited[k]);
    rc = 0;
out:
    dm_record_free(rec);
    dm_context_free(ctx);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* The rewritten message goes out through a buffer, in CHUNK writes. */
struct out {
    char buf[CHUNK];
    size_t len;
    size_t sent; /* bytes handed to write(2) */
    int err;     /* errno of a failed write */
};

static int out_flush(struct out *w)
{
    if (w->err)
        return -1;
    if (write_all(STDOUT_FILENO, w->buf, w->len) != 0) {
        w->err = errno ? errno : EIO;
        return -1;
    }
    w->sent += w->len;
    w->len = 0;
    return 0;
}

static int out_write(void *ud, const char *p, size_t n)
{
    struct out *w = ud;
    while (n) {
        if (w->len == sizeof w->buf && out_flush(w) != 0)
            return -1;
        size_t k = sizeof w->buf - w->len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

/*
 * write_result() writes the message with doorman's headers; when the
 * rewrite fails before a byte went out, the message goes out unchanged.
 */
static int write_result(const struct msgbuf *m, const dm_result *res)
{
    static struct out w; /* 64 KiB: not on the stack */
    dm_error err;
    memset(&err, 0, sizeof err);
    errno = 0;
    dm_status st = dm_mail_rewrite(m->data, m->len, res, out_write, &w, &err);
    if (st == DM_OK && out_flush(&w) == 0)
        return EXIT_RAN;
    if (w.err) {
        cli_msg("cannot write the message: %s", strerror(w.err));
        return EX_TEMPFAIL;
    }
    error_fill(&err, st, "<stdin>");
    cli_error(&err, "error");
    if (w.sent) {
        cli_msg("the message was cut short; exit 75");
        return EX_TEMPFAIL;
    }
    cli_msg("the message passes unchanged");
    if (write_all(STDOUT_FILENO, m->data, m->len) != 0) {
        cli_msg("cannot write the message: %s", strerror(errno ? errno : EIO));
        return EX_TEMPFAIL;
    }
    return EXIT_RAN;
}

static int write_check(const dm_result *res)
{
    char verdict[64], score[64];
    dm_mail_header_value(res, DM_MAIL_VERDICT, verdict, sizeof verdict);
    dm_mail_header_value(res, DM_MAIL_SCORE, score, sizeof score);
    errno = 0;
    if (printf("%s %s\n", verdict, score) < 0 || fflush(stdout) != 0) {
        cli_msg("cannot write the output: %s", strerror(errno ? errno : EIO));
        return CHECK_ERROR;
    }
    switch (res->verdict) {
    case DM_VERDICT_ACCEPT: return CHECK_ACCEPT;
    case DM_VERDICT_DECLINE: return CHECK_DECLINE;
    default: return CHECK_REVIEW;
    }
}

/*
 * fallback() ends a run that could not triage the message, by the mode:
 * the message unchanged (exit 0), exit 75 and nothing, or (--check) exit 3.
 */
static int fallback(enum mail_mode mode, const struct msgbuf *m)
{
    switch (mode) {
    case MODE_CHECK:
        cli_msg("no verdict");
        return CHECK_ERROR;
    case MODE_TEMPFAIL:
        cli_msg("exit 75 (--tempfail)");
        return EX_TEMPFAIL;
    case MODE_PASS:
        break;
    }
    cli_msg("the message passes unchanged");
    if (write_all(STDOUT_FILENO, m->data, m->len) != 0) {
        cli_msg("cannot write the message: %s", strerror(errno ? errno : EIO));
        return EX_TEMPFAIL;
    }
    return EXIT_RAN;
}

/* ---- the command ------------------------------------------------------------------------ */

static int parse_timeout(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && *end == 's')
        end++;
    if (errno || end == s || *end || !(v >= 0 && v <= MAIL_TIMEOUT_MAX))
        return -1;
    *out = v;
    return 0;
}

/* parse_options() returns -1 to go on, or the exit code. */
static int parse_options(int argc, char **argv, struct mail_opts *o, int usage_code)
{
    enum { OPT_TEMPFAIL = 256, OPT_MAX_SIZE, OPT_TIMEOUT, OPT_PROFILE, OPT_CONFIG, OPT_RULES,
           OPT_NODEF };
    static const struct option longopts[] = {
        {"check", no_argument, NULL, 'c'},
        {"tempfail", no_argument, NULL, OPT_TEMPFAIL},
        {"max-size", required_argument, NULL, OPT_MAX_SIZE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"rules", required_argument, NULL, OPT_RULES},
        {"no-default-rules", no_argument, NULL, OPT_NODEF},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int check = 0, tempfail = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ch", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': check = 1; break;
        case OPT_TEMPFAIL: tempfail = 1; break;
        case OPT_MAX_SIZE:
            if (cli_parse_size(optarg, &o->max_size) != 0) {
                cli_msg("--max-size takes a size in bytes (suffixes K, M, G)");
                return usage_code;
            }
            break;
        case OPT_TIMEOUT:
            if (parse_timeout(optarg, &o->timeout) != 0) {
                cli_msg("--timeout takes a number of seconds from 0 (no limit) to %.0f",
                        MAIL_TIMEOUT_MAX);
                return usage_code;
            }
            break;
        case OPT_PROFILE:
            if (o->nprofiles == sizeof o->profiles / sizeof o->profiles[0]) {
                cli_msg("too many --profile (at most %zu)", o->nprofiles);
                return usage_code;
            }
            o->profiles[o->nprofiles++] = optarg;
            break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_RULES:
            if (o->nrule_paths == sizeof o->rule_paths / sizeof o->rule_paths[0]) {
                cli_msg("too many --rules (at most %zu)", o->nrule_paths);
                return usage_code;
            }
            o->rule_paths[o->nrule_paths++] = optarg;
            break;
        case OPT_NODEF: o->default_rules = 0; break;
        case 'h':
            mail_usage(stdout);
            return EXIT_RAN;
        case ':':
        default:
            cli_bad_option(c, argv[optind - 1], "doorman mail");
            return usage_code;
        }
    }
    if (optind < argc) {
        cli_msg("mail reads the message on standard input, not '%s'; see 'doorman mail "
                "--help'",
                argv[optind]);
        return usage_code;
    }
    if (check && tempfail) {
        cli_msg("--check and --tempfail do not go together; see 'doorman mail --help'");
        return usage_code;
    }
    if (!o->default_rules && o->nrule_paths == 0) {
        cli_msg("no rules: --no-default-rules needs --rules PATH");
        return usage_code;
    }
    o->mode = check ? MODE_CHECK : tempfail ? MODE_TEMPFAIL : MODE_PASS;
    return -1;
}

int cmd_mail(int argc, char **argv)
{
    struct mail_opts o;
    memset(&o, 0, sizeof o);
    o.max_size = MAIL_MAX_SIZE;
    o.timeout = MAIL_TIMEOUT;
    o.default_rules = 1;
    /* with --check, 2 means review: a usage error must say 3 */
    int usage_code = EXIT_USAGE;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--check") == 0 || strcmp(argv[i], "-c") == 0)
            usage_code = CHECK_ERROR;
    int rc = parse_options(argc, argv, &o, usage_code);
    if (rc >= 0)
        return rc;

    /* a reader that went away is a write error to report, not a death */
    signal(SIGPIPE, SIG_IGN);
    double deadline = o.timeout > 0 ? now() + o.timeout : 0;
    static struct msgbuf m; /* its 64 KiB buffer: not on the stack */
    dm_result res;
    dm_result_init(&res);
    dm_ruleset *rules = NULL;
    /* the buffer is never NULL when a message is triaged, even an empty
     * one; when it cannot be had, reading fails as READ_NOMEM at once */
    m.cap = o.max_size < CHUNK ? o.max_size : CHUNK;
    m.data = malloc(m.cap);
    if (!m.data)
        m.cap = 0;

    enum read_result rr = read_message(&m, o.max_size, deadline);
    if (rr == READ_FAILED) {
        cli_msg("cannot read the message: %s", strerror(m.read_errno));
        rc = o.mode == MODE_CHECK ? CHECK_ERROR : EX_TEMPFAIL;
        goto out;
    }
    if (rr != READ_WHOLE) {
        if (rr == READ_OVERSIZE)
            cli_msg("the message is over %zu bytes (--max-size)", o.max_size);
        else if (rr == READ_SLOW)
            cli_msg("time limit reached while reading the message");
        else
            cli_msg("out of memory reading the message");
        if (o.mode == MODE_PASS) {
            cli_msg("the message passes unchanged");
            rc = pass_through(&m);
        } else {
            rc = fallback(o.mode, &m);
        }
        goto out;
    }

    held_msg = m.data;
    held_len = m.len;
    held_mode = o.mode;
    atomic_store(&phase, PH_DECIDE);
    if (deadline > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_time_limit;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        double left = deadline - now();
        if (left <= 0)
            raise(SIGALRM);
        else
            set_timer(left);
    }
    int ok = decide(&o, &m, &res, &rules) == 0;
    start_writing();
    if (!ok)
        rc = fallback(o.mode, &m);
    else if (o.mode == MODE_CHECK)
        rc = write_check(&res);
    else
        rc = write_result(&m, &res);
out:
    dm_result_free(&res);
    dm_ruleset_free(rules);
    free(m.data);
    return rc;
}
