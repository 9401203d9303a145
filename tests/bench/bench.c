/*
 * bench.c: doorman-bench, the throughput and memory benchmark.
 *
 *     doorman-bench [-n N] [--keep] PATH_TO_DOORMAN [EXTRA ARGS...]
 *
 * Writes a synthetic Invitations.csv of N incoming rows (default 1,000,000)
 * to a fresh temporary folder, runs `doorman triage FILE --format jsonl
 * [EXTRA ARGS...]` on it with standard output to /dev/null, and reports the
 * wall time, the CPU time (user + sys), records and note megabytes per CPU
 * second and the peak resident set, then checks them against the targets.
 *
 * The file is the same for a given N on every run (fixed-seed PRNG), so runs
 * can be compared.  It is standalone on purpose: it needs neither libdoorman
 * nor its dependencies, only POSIX (and wait4(), which Linux and the BSDs
 * have), so it measures the binary exactly as users run it.
 *
 * Then the rule-count scaling: on SCALE_ROWS rows, the cost per record with
 * 100 and with 1,000 generated rules, with the literal prefilter and
 * without it (--no-prefilter), and the ratio 1,000 : 100 rules.
 *
 * Then start-up (docs/integration.md, "Start-up time"): the whole-process
 * wall time of `doorman mail` on a 10 KB message with the default rules,
 * the median of many runs, cold (no compiled-rules cache: the run compiles
 * and writes it) and warm (read from the cache), against the 5 ms target,
 * beside `doorman --version` (what starting any process with doorman's
 * libraries costs).  The throughput and scaling runs above use no cache
 * (DOORMAN_NO_CACHE), so that they measure compiling as before; every run
 * gets a cache folder and an empty config folder of its own.
 *
 * Exit status: 0 when doorman succeeded and the targets were met (or not
 * judged: below 100,000 rows start-up time dominates), 1 when doorman or
 * the benchmark failed, 2 on a usage error, 3 when doorman succeeded but
 * missed a target.  The folder is removed in every case unless --keep.
 *
 * "MB" in the output is 2^20 bytes.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* wait4() */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TARGET_RECORDS_PER_CPU_S 200000.0 /* with the default rules */
#define TARGET_SCALE_RATIO 3.0            /* 1,000 rules cost < 3x 100 rules */
#define TARGET_STARTUP_MS 5.0             /* doorman mail, 10 KB, default rules, warm */
#define STARTUP_MESSAGE 10240             /* bytes */
#define STARTUP_RUNS 60                   /* runs of each kind; the median counts */
#define SCALE_ROWS 100000ULL
#define TARGET_PEAK_RSS_MB 64.0
#define DEFAULT_ROWS 1000000ULL
#define JUDGE_MIN_ROWS 100000ULL
#define JUDGE_MIN_ROWS_TEXT "100000"
#define MB (1024.0 * 1024.0)
#define NOTE_MAX 8192
#define ROW_MAX (2 * NOTE_MAX + 1024)

static const char *const header =
    "From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n";
static const char *const me_name = "Gideon Marsh";
static const char *const me_first = "Gideon";
static const char *const me_url = "https://www.linkedin.com/in/gideon-marsh-frontline";

/* ------------------------------------------------------------------ */
/* A fixed-seed PRNG (splitmix64): the same file for the same N.       */
/* ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* rng_below() returns a number in [0, n). */
static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng_next() % n);
}

/* rng_percent() is 1 with probability pct/100. */
static int rng_percent(unsigned pct)
{
    return rng_below(100) < pct;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rng_below((unsigned)COUNT(a))])

/* ------------------------------------------------------------------ */
/* Material for rows: invented names and sentences.                    */
/* ------------------------------------------------------------------ */

struct name {
    const char *text, *slug;
};

static const struct name first_names[] = {
    {"Aaron", "aaron"},
    {"Abigail", "abigail"},
    {"Adebayo", "adebayo"},
    {"Aiko", "aiko"},
    {"Alejandro", "alejandro"},
    {"Amara", "amara"},
    {"Anders", "anders"},
    {"Anjali", "anjali"},
    {"Bianca", "bianca"},
    {"Brandon", "brandon"},
    {"Carmen", "carmen"},
    {"Chidi", "chidi"},
    {"Chloé", "chloe"},
    {"Connor", "connor"},
    {"Dalia", "dalia"},
    {"Darnell", "darnell"},
    {"Elif", "elif"},
    {"Emeka", "emeka"},
    {"Erin", "erin"},
    {"Farah", "farah"},
    {"Finn", "finn"},
    {"Gabriela", "gabriela"},
    {"Hana", "hana"},
    {"Hiroshi", "hiroshi"},
    {"Imani", "imani"},
    {"Ingrid", "ingrid"},
    {"Jamal", "jamal"},
    {"Jessica", "jessica"},
    {"José", "jose"},
    {"Kai", "kai"},
    {"Katarzyna", "katarzyna"},
    {"Lars", "lars"},
    {"Leila", "leila"},
    {"Liam", "liam"},
    {"Łukasz", "lukasz"},
    {"Mariana", "mariana"},
    {"Mei", "mei"},
    {"Mohammed", "mohammed"},
    {"Nadia", "nadia"},
    {"Noah", "noah"},
    {"Olu", "olu"},
    {"Priya", "priya"},
    {"Rafael", "rafael"},
    {"Renée", "renee"},
    {"Rohan", "rohan"},
    {"Sakura", "sakura"},
    {"Sean", "sean"},
    {"Sofia", "sofia"},
    {"Tariq", "tariq"},
    {"Thandiwe", "thandiwe"},
    {"Tomás", "tomas"},
    {"Uma", "uma"},
    {"Valentina", "valentina"},
    {"Wei", "wei"},
    {"Xavier", "xavier"},
    {"Yara", "yara"},
    {"Yusuf", "yusuf"},
    {"Zoë", "zoe"},
};

static const struct name last_names[] = {
    {"Abernathy", "abernathy"},
    {"Achebe", "achebe"},
    {"Alvarez", "alvarez"},
    {"Bergström", "bergstrom"},
    {"Brennan", "brennan"},
    {"Castillo", "castillo"},
    {"Chen", "chen"},
    {"Dubois", "dubois"},
    {"Eriksen", "eriksen"},
    {"Fitzgerald", "fitzgerald"},
    {"García", "garcia"},
    {"Haddad", "haddad"},
    {"Hoffmann", "hoffmann"},
    {"Ivanova", "ivanova"},
    {"Jackson", "jackson"},
    {"Kaur", "kaur"},
    {"Kowalski", "kowalski"},
    {"Lindqvist", "lindqvist"},
    {"Mbeki", "mbeki"},
    {"McAllister", "mcallister"},
    {"Moreau", "moreau"},
    {"Müller", "muller"},
    {"Nakamura", "nakamura"},
    {"Nguyễn", "nguyen"},
    {"O'Brien", "obrien"},
    {"Okafor", "okafor"},
    {"Olsen", "olsen"},
    {"Patel", "patel"},
    {"Petrov", "petrov"},
    {"Quinn", "quinn"},
    {"Ramírez", "ramirez"},
    {"Rossi", "rossi"},
    {"Santos", "santos"},
    {"Schultz", "schultz"},
    {"Singh", "singh"},
    {"Sørensen", "sorensen"},
    {"Tanaka", "tanaka"},
    {"Thompson", "thompson"},
    {"Van der Berg", "van-der-berg"},
    {"Vargas", "vargas"},
    {"Walsh", "walsh"},
    {"Wright", "wright"},
    {"Yilmaz", "yilmaz"},
    {"Zhang", "zhang"},
};

/* Invented companies, events, topics: fillers for the genuine notes. */
static const char *const companies[] = {
    "Keystone Valve & Fitting", "Ridgeline Staffing Solutions", "Brandywine Castings",
    "Conestoga Foods",          "Red Rose Packaging",           "Northgate Distribution",
    "Whitman Tool & Die",       "Susquehanna Logistics",        "Hanover Precision Components",
};
static const char *const events[] = {
    "the Midwest Manufacturing Leadership Summit",
    "the Lean Frontline Forum",
    "the Susquehanna Valley talent development breakfast",
    "your 'Leading Through Change' workshop",
    "the plant managers' roundtable in York",
    "the Supervisor Bootcamp in Harrisburg",
};
static const char *const topics[] = {
    "shift-handover checklists", "supervisor turnover",           "the mentoring circle",
    "five-minute huddles",       "first difficult conversations", "promoting from the floor",
};
static const char *const articles[] = {
    "Connected vs Connecting",
    "Invest in Impact, Not Training",
    "Why new supervisors quit in month nine",
    "The huddle is the job",
};

/* A note: an opener, body sentences of one kind, maybe a closer. */
static const char *const openers[] = {
    "Hi %F,", "Hello %F,", "Hi %F!", "Dear %F,", "%F,", "Hey %F,", "Good morning %F,",
};
static const char *const bot_openers[] = {
    "Hi {first_name},",
    "Hi ,",
    "Hello {{firstName}},",
    "Hello dear,",
};
static const char *const pitch[] = {
    "I reviewed your profile and found you pretty interesting.",
    "I came across your profile and would love to connect.",
    "I'd love to add you to my network.",
    "We provide lead generation services for consulting firms like yours.",
    "We help B2B companies book 20+ qualified appointments every month with done-for-you "
    "appointment setting.",
    "Get 5-10 more B2B sales opportunities a month in under 90 days, managed with AI in 30 mins "
    "a day.",
    "Our team builds websites, mobile apps and custom software at 40% lower cost.",
    "Our SEO experts can get you to page 1 of Google for \"leadership consulting\" in 30 days, "
    "guaranteed.",
    "I help coaches get 10 new clients every month without paid ads.",
    "We can scale your revenue to 7 figures with our proven 3-step system.",
    "Our virtual assistants handle email, scheduling and bookkeeping from $6/hour.",
    "Outsourcing is the smartest way to grow your business.",
    "I love what you're doing with your amazing dental practice!",
    "Would you be open to a quick 15-minute call this week?",
    "Grab a slot here: https://calendly.com/growth-partner/15min",
    "My clients earn 25% weekly returns with crypto and forex, zero risk.",
    "I am a recruiter for a confidential client with a remote role at $95/hr, no interview "
    "needed.",
    "Please send your CV and WhatsApp number.",
    "Business coaching could double your pipeline by Q2, let's talk.",
};
static const char *const genuine[] = {
    "We worked together at %C when you ran the supervisor training program.",
    "We overlapped at %C for a couple of years, I was on second shift.",
    "Great meeting you at %E last week.",
    "Your session at %E was the best hour of the day.",
    "I read your article \"%A\" twice and it made me rethink how I use LinkedIn.",
    "I was in %E in October, thank you, my team noticed the difference.",
    "Following up on our messages about %T.",
    "We sat at the same table at %E and talked about %T.",
    "Thanks for the call on Tuesday, connecting as promised.",
    "I'm an HR manager at %C and would like to trade notes on %T.",
    "You placed me in my first supervisor job through %C, and I'm plant manager now.",
    "A colleague at %C passed along your name.",
    "I'd like to keep the conversation about %T going.",
};
static const char *const closers[] = {
    "Thanks!",     "Best, %S",           "Looking forward to connecting.",
    "Cheers, %S",  "Have a great week.", "\U0001F642",
    "Regards, %S",
};

/* ------------------------------------------------------------------ */
/* Building rows                                                       */
/* ------------------------------------------------------------------ */

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n >= o->cap)
        n = o->cap - 1 - o->len; /* truncate: only NOTE_MAX/ROW_MAX-sized builds */
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* expand() writes `tmpl` with %F (me), %S (the sender), %C, %E, %T, %A filled. */
static void expand(struct out *o, const char *tmpl, const char *sender)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '%' || !p[1]) {
            put(o, p, 1);
            continue;
        }
        switch (*++p) {
        case 'F': puts_(o, me_first); break;
        case 'S': puts_(o, sender); break;
        case 'C': puts_(o, PICK(companies)); break;
        case 'E': puts_(o, PICK(events)); break;
        case 'T': puts_(o, PICK(topics)); break;
        case 'A': puts_(o, PICK(articles)); break;
        default: put(o, p - 1, 2); break;
        }
    }
}

/*
 * make_note() writes a note into `o`: a pitch (a third of them from a bot
 * with an unfilled opener) or a genuine note, 1 to 4 sentences, parts
 * joined with the double space the export leaves for a line break, now and
 * then a real newline, and about one in a hundred far longer than
 * LinkedIn's 300 characters, to exercise the readers' buffers.
 */
static void make_note(struct out *o, const char *sender)
{
    int is_pitch = rng_percent(55);
    unsigned nsent = 1 + rng_below(4);
    if (rng_percent(1))
        nsent = 12 + rng_below(20);
    const char *sep = rng_percent(50) ? "  " : " ";

    if (is_pitch && rng_percent(30))
        puts_(o, PICK(bot_openers));
    else
        expand(o, PICK(openers), sender);
    const char *prev = NULL;
    for (unsigned i = 0; i < nsent; i++) {
        const char *s;
        do /* no sentence twice in a row */
            s = is_pitch ? PICK(pitch) : PICK(genuine);
        while (s == prev);
        prev = s;
        puts_(o, rng_percent(3) ? "\n" : sep);
        expand(o, s, sender);
    }
    if (rng_percent(40)) {
        puts_(o, sep);
        expand(o, PICK(closers), sender);
    }
}

/* csv_field() appends `s` as one RFC 4180 field, quoted only when it must be. */
static void csv_field(struct out *o, const char *s, size_t n)
{
    if (strcspn(s, ",\"\r\n") >= n) {
        put(o, s, n);
        return;
    }
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            put(o, "\"", 1);
        put(o, s + i, 1);
    }
    put(o, "\"", 1);
}

/* make_row() writes one INCOMING row; returns the note's length in bytes. */
static size_t make_row(struct out *row, struct out *note, uint64_t seq)
{
    const struct name *first = &PICK(first_names);
    const struct name *last = &PICK(last_names);
    char buf[256];

    row->len = 0;
    note->len = 0;
    note->p[0] = '\0';

    int n = snprintf(buf, sizeof buf, "%s %s", first->text, last->text);
    csv_field(row, buf, (size_t)n);
    put(row, ",", 1);
    puts_(row, me_name);

    /* "M/D/YY, H:MM AM": 2024 to 2026, the export's own quoted format */
    unsigned month = 1 + rng_below(12), day = 1 + rng_below(28), year = 24 + rng_below(3);
    unsigned hour = 1 + rng_below(12), minute = rng_below(60);
    n = snprintf(buf, sizeof buf, ",\"%u/%u/%02u, %u:%02u %s\",", month, day, year, hour, minute,
                 rng_percent(50) ? "AM" : "PM");
    put(row, buf, (size_t)n);

    if (rng_percent(60)) {
        make_note(note, first->text);
        csv_field(row, note->p, note->len);
    }
    n = snprintf(buf, sizeof buf, ",INCOMING,https://www.linkedin.com/in/%s-%s-%06" PRIx64 ",%s\n",
                 first->slug, last->slug, (seq * 2654435761u) & 0xffffffu, me_url);
    put(row, buf, (size_t)n);
    return note->len;
}

/* ------------------------------------------------------------------ */
/* Running doorman                                                     */
/* ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: doorman-bench [-n N] [--keep] PATH_TO_DOORMAN [EXTRA ARGS...]\n"
            "  -n N     rows to generate (default %llu)\n"
            "  --keep   keep the temporary folder and its Invitations.csv\n"
            "  --no-scale  skip the 100 / 1,000 generated rules runs\n"
            "  --startup-runs N  runs of each start-up measure (default %d; 0 skips it)\n"
            "runs: doorman triage FILE --format jsonl [EXTRA ARGS...] > /dev/null\n"
            "      doorman mail < a 10 KB message, cold and warm (start-up)\n",
            (unsigned long long)DEFAULT_ROWS, STARTUP_RUNS);
}

/* show_tail() copies the last `max` bytes of the file at `path` to stderr. */
static void show_tail(const char *path, long max)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long size = ftell(fp);
        if (size > max) {
            fseek(fp, size - max, SEEK_SET);
            fputs("...\n", stderr);
        } else {
            fseek(fp, 0, SEEK_SET);
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
            fwrite(buf, 1, n, stderr);
    }
    fclose(fp);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* gen_csv() writes `rows` rows to `path`; returns the note bytes, or -1. */
static long long gen_csv(const char *path, unsigned long long rows, char *row_buf,
                         char *note_buf, unsigned long long *with_note)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "doorman-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    rng_state = 0x9e3779b97f4a7c15ULL; /* the same rows for the same N */
    struct out row = {row_buf, 0, ROW_MAX}, note = {note_buf, 0, NOTE_MAX};
    unsigned long long note_bytes = 0;
    *with_note = 0;
    fputs(header, fp);
    for (unsigned long long i = 0; i < rows; i++) {
        size_t n = make_row(&row, &note, i);
        note_bytes += n;
        *with_note += n > 0;
        fwrite(row.p, 1, row.len, fp);
    }
    if (fclose(fp) != 0) {
        fprintf(stderr, "doorman-bench: writing %s: %s\n", path, strerror(errno));
        return -1;
    }
    return (long long)note_bytes;
}

/* Words for generated rules: most never occur in the notes, as with real rules. */
static const char *const gen_words[] = {
    "acquisition", "affiliate", "bespoke",  "blockchain", "branding",  "bundle",
    "campaign",    "cashback",  "chatbot",  "cloud",      "cohort",    "conversion",
    "coupon",      "dashboard", "discount", "dropship",   "ebook",     "enterprise",
    "franchise",   "funnel",    "giveaway", "headhunter", "influencer", "invoice",
    "landing",     "licensing", "loyalty",  "magnet",     "membership", "merch",
    "newsletter",  "onboarding", "payroll", "platform",   "podcast",   "portfolio",
    "premium",     "promo",     "referral", "reseller",   "retargeting", "saas",
    "sponsorship", "subscription", "template", "trial",   "upsell",    "webinar",
    "whitelabel",  "wholesale", "growth",   "business",   "clients",   "revenue",
};
#define NGEN (sizeof gen_words / sizeof gen_words[0])

/* gen_rules() writes `n` rules like real ones: a phrase with alternatives. */
static int gen_rules(const char *path, unsigned n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "doorman-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    rng_state = 0x2545f4914f6cdd1dULL;
    for (unsigned i = 0; i < n; i++) {
        const char *a = gen_words[rng_below(NGEN)], *b = gen_words[rng_below(NGEN)];
        const char *c = gen_words[rng_below(NGEN)], *d = gen_words[rng_below(NGEN)];
        fprintf(fp,
                "rule GEN_%u {\n    describe \"generated rule %u\"\n    score 0.1\n"
                "    when message =~ /\\b(%s|%s)[- ]?%s(s|ing)? %u\\b|\\b%s %s plan %u\\b/\n"
                "    test hit \"%s %s %u\"\n    test miss \"nothing\"\n}\n",
                i, i, a, b, c, i, d, a, i, a, c, i);
    }
    if (fclose(fp) != 0)
        return -1;
    return 0;
}

struct run_result {
    double wall, cpu, rss_mb;
};

/* Standard input of the runs: /dev/null, or a file (start-up). */
static const char *run_stdin = "/dev/null";

/* run() runs doorman with `args` (NULL-terminated), stdout to /dev/null. */
static int run(const char *doorman, char **args, const char *err_path, int keep,
               struct run_result *r)
{
    double start = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "doorman-bench: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        int errfd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open(run_stdin, O_RDONLY);
        if (devnull < 0 || errfd < 0 || in < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
            dup2(errfd, STDERR_FILENO) < 0 || dup2(in, STDIN_FILENO) < 0)
            _exit(126);
        close(in);
        close(devnull);
        close(errfd);
        execvp(doorman, args);
        fprintf(stderr, "doorman-bench: cannot run %s: %s\n", doorman, strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "doorman-bench: wait4: %s\n", strerror(errno));
            return -1;
        }
    }
    r->wall = now_s() - start;
    r->cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    r->rss_mb = (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "doorman-bench: doorman was killed by signal %d (%s)\n",
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            fprintf(stderr, "doorman-bench: doorman exited with status %d\n",
                    WEXITSTATUS(status));
        fprintf(stderr, "doorman-bench: its standard error:\n");
        show_tail(err_path, 4096);
        if (!keep)
            fprintf(stderr, "doorman-bench: run again with --keep to keep its input\n");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Start-up: doorman mail on one 10 KB message                         */
/* ------------------------------------------------------------------ */

/*
 * gen_message() writes a 10 KB mail: an ordinary sender's pitch, the kind
 * of message a filter sees most, as text/plain, lines of at most 72.
 */
static int gen_message(const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "doorman-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    rng_state = 0x853c49e6748fea9bULL;
    char buf[NOTE_MAX];
    struct out body = {buf, 0, sizeof buf};
    long n = fprintf(fp,
                     "Return-Path: <kyle@growth-partner.example>\n"
                     "Received: from mail.growth-partner.example (mail.growth-partner.example "
                     "[203.0.113.7])\n\tby mx.example.com (Postfix) with ESMTPS id 4Tz8Xk2m1Pz9\n"
                     "\tfor <gideon@example.com>; Tue, 10 Feb 2026 14:14:23 +0000 (UTC)\n"
                     "Date: Tue, 10 Feb 2026 09:14:22 -0500\n"
                     "From: Kyle Brandt <kyle@growth-partner.example>\n"
                     "To: %s <gideon@example.com>\n"
                     "Message-ID: <20260210141422.4213357@growth-partner.example>\n"
                     "Subject: Quick question about your pipeline\n"
                     "MIME-Version: 1.0\n"
                     "Content-Type: text/plain; charset=UTF-8\n"
                     "Content-Transfer-Encoding: 8bit\n\n",
                     me_name);
    size_t col = 0;
    while (n < STARTUP_MESSAGE) {
        body.len = 0;
        expand(&body, rng_percent(50) ? PICK(pitch) : PICK(genuine), "Kyle");
        for (char *w = strtok(buf, " \n"); w && n < STARTUP_MESSAGE; w = strtok(NULL, " \n")) {
            size_t wl = strlen(w);
            if (col && col + 1 + wl > 72) {
                n += fputc('\n', fp) != EOF;
                col = 0;
            } else if (col) {
                n += fputc(' ', fp) != EOF;
                col++;
            }
            n += (long)fwrite(w, 1, wl, fp);
            col += wl;
        }
    }
    fputc('\n', fp);
    if (fclose(fp) != 0) {
        fprintf(stderr, "doorman-bench: writing %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* clear_cache() removes the compiled-rules cache files of `dir`. */
static void clear_cache(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
}

/*
 * time_runs() runs args `runs` times (the cache cleared before each when
 * `cold`) and sets the median and the fastest wall time, in ms.  Returns
 * 0, or -1 when a run failed.
 */
static int time_runs(const char *doorman, char **args, const char *err_path, int keep, int runs,
                     const char *cache, int cold, double *median, double *best)
{
    double *t = calloc((size_t)runs, sizeof *t);
    if (!t)
        return -1;
    struct run_result r;
    for (int i = 0; i < runs; i++) {
        if (cold)
            clear_cache(cache);
        if (run(doorman, args, err_path, keep, &r) != 0) {
            free(t);
            return -1;
        }
        t[i] = r.wall * 1e3;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    *median = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    *best = t[0];
    free(t);
    return 0;
}

/*
 * startup() measures doorman mail on a 10 KB message: cold, warm, and
 * doorman --version beside them.  Returns 1 when the warm median meets the
 * target, 0 when not, -1 when a run failed.
 */
static int startup(const char *doorman, const char *dir, const char *err_path, int keep,
                   int runs, char *msg_path, size_t msg_cap, char *cache, size_t cache_cap)
{
    snprintf(msg_path, msg_cap, "%s/message.eml", dir);
    snprintf(cache, cache_cap, "%s/cache/doorman", dir);
    if (gen_message(msg_path) != 0)
        return -1;
    char xdg[4300];
    snprintf(xdg, sizeof xdg, "%s/cache", dir);
    setenv("XDG_CACHE_HOME", xdg, 1);
    unsetenv("DOORMAN_NO_CACHE");
    run_stdin = msg_path;
    char *version[] = {(char *)doorman, "--version", NULL};
    char *help[] = {(char *)doorman, "mail", "--help", NULL};
    char *mail[] = {(char *)doorman, "mail", NULL};
    struct run_result r;
    if (run(doorman, help, err_path, keep, &r) != 0) {
        fprintf(stderr, "doorman-bench: this doorman has no 'mail' command\n");
        return -1;
    }
    double vmed, vbest, cmed, cbest, wmed, wbest;
    if (time_runs(doorman, version, err_path, keep, runs, cache, 0, &vmed, &vbest) != 0 ||
        time_runs(doorman, mail, err_path, keep, runs, cache, 1, &cmed, &cbest) != 0 ||
        time_runs(doorman, mail, err_path, keep, 1, cache, 0, &wmed, &wbest) != 0 ||
        time_runs(doorman, mail, err_path, keep, runs, cache, 0, &wmed, &wbest) != 0)
        return -1;
    run_stdin = "/dev/null";
    int pass = wmed < TARGET_STARTUP_MS;
    printf("start-up, doorman mail on a %d-byte message, default rules, median of %d runs "
           "(fastest):\n",
           STARTUP_MESSAGE, runs);
    printf("  cold (compiles, writes the cache): %6.2f ms (%.2f)\n", cmed, cbest);
    printf("  warm (reads the cache):            %6.2f ms (%.2f)\n", wmed, wbest);
    printf("  doorman --version (process, libraries): %.2f ms (%.2f)\n", vmed, vbest);
    printf("target: warm < %.0f ms: %s\n", TARGET_STARTUP_MS, pass ? "PASS" : "FAIL");
    fflush(stdout);
    return pass;
}

int main(int argc, char **argv)
{
    unsigned long long rows = DEFAULT_ROWS;
    int keep = 0, argi = 1, rc = 1, scale = 1, startup_runs = STARTUP_RUNS;
    char dir[4096] = "", csv_path[4200] = "", err_path[4200] = "", scale_csv[4200] = "";
    char rules100[4200] = "", rules1000[4200] = "", empty_csv[4200] = "";
    char msg_path[4200] = "", cache_dir[4200] = "", cache_root[4200] = "", config[4200] = "";
    char *row_buf = NULL, *note_buf = NULL;
    char **child_argv = NULL;

    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        const char *a = argv[argi];
        if (strcmp(a, "--") == 0) {
            argi++;
            break;
        } else if (strcmp(a, "--keep") == 0) {
            keep = 1;
        } else if (strcmp(a, "--no-scale") == 0) {
            scale = 0;
        } else if (strcmp(a, "--startup-runs") == 0 && argi + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++argi], &end, 10);
            if (*end || v < 0 || v > 100000) {
                fprintf(stderr, "doorman-bench: --startup-runs wants a number\n");
                return 2;
            }
            startup_runs = (int)v;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strncmp(a, "-n", 2) == 0) {
            const char *v = a[2] ? a + 2 : (argi + 1 < argc ? argv[++argi] : NULL);
            char *end = NULL;
            errno = 0;
            rows = v ? strtoull(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || rows == 0 || v[0] == '-') {
                fprintf(stderr, "doorman-bench: -n wants a positive number\n");
                return 2;
            }
        } else {
            fprintf(stderr, "doorman-bench: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (argi >= argc) {
        usage(stderr);
        return 2;
    }
    const char *doorman = argv[argi++];

    /* ---- generate ------------------------------------------------- */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/doorman-bench.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "doorman-bench: mkdtemp %s: %s\n", dir, strerror(errno));
        dir[0] = '\0';
        goto out;
    }
    snprintf(csv_path, sizeof csv_path, "%s/Invitations.csv", dir);
    /* no user rules or config; the compiled-rules cache off until start-up */
    snprintf(config, sizeof config, "%s/config", dir);
    snprintf(cache_root, sizeof cache_root, "%s/cache", dir);
    setenv("XDG_CONFIG_HOME", config, 1);
    setenv("XDG_CACHE_HOME", cache_root, 1);
    setenv("DOORMAN_NO_CACHE", "1", 1);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    row_buf = malloc(ROW_MAX);
    note_buf = malloc(NOTE_MAX);
    if (!row_buf || !note_buf)
        goto out;
    unsigned long long with_note = 0;
    double t0 = now_s();
    long long note_bytes = gen_csv(csv_path, rows, row_buf, note_buf, &with_note);
    if (note_bytes < 0)
        goto out;
    printf("generated %s: %llu rows (%llu with a note), %.1f MB, note text %.1f MB, in %.2f s\n",
           csv_path, rows, with_note, (double)file_size(csv_path) / MB,
           (double)note_bytes / MB, now_s() - t0);
    fflush(stdout);

    /* ---- the default rules ---------------------------------------- */
    int nextra = argc - argi;
    child_argv = calloc((size_t)nextra + 16, sizeof *child_argv);
    if (!child_argv)
        goto out;
    child_argv[0] = (char *)doorman;
    child_argv[1] = "triage";
    child_argv[2] = csv_path;
    child_argv[3] = "--format";
    child_argv[4] = "jsonl";
    for (int i = 0; i < nextra; i++)
        child_argv[5 + i] = argv[argi + i];
    struct run_result r;
    if (run(doorman, child_argv, err_path, keep, &r) != 0)
        goto out;

    double cpu_floor = r.cpu > 1e-6 ? r.cpu : 1e-6;
    double rps = (double)rows / cpu_floor;
    double mbps = (double)note_bytes / MB / cpu_floor;
    int pass = rps >= TARGET_RECORDS_PER_CPU_S && r.rss_mb < TARGET_PEAK_RSS_MB;
    /* Below this many records start-up (rules, regexes) dominates the CPU time. */
    int judged = rows >= JUDGE_MIN_ROWS;
    printf("default rules: records: %llu   note text: %.1f MB\n", rows, (double)note_bytes / MB);
    printf("wall: %.2f s   cpu: %.2f s   records/s (cpu): %.0f   MB/s: %.1f   peak RSS: %.1f MB\n",
           r.wall, r.cpu, rps, mbps, r.rss_mb);
    printf("targets: >= %.0f records/s, peak RSS < %.0f MB: %s\n", TARGET_RECORDS_PER_CPU_S,
           TARGET_PEAK_RSS_MB,
           !judged ? "not judged below " JUDGE_MIN_ROWS_TEXT " records"
           : pass  ? "PASS"
                   : "FAIL");
    long errsize = file_size(err_path);
    if (errsize > 0) {
        printf("doorman wrote %ld bytes to standard error; the end of it:\n", errsize);
        fflush(stdout);
        show_tail(err_path, 1024);
    }
    fflush(stdout);

    /* ---- the cost of more rules ---------------------------------- */
    int scale_pass = 1;
    if (scale) {
        unsigned long long srows = rows < SCALE_ROWS ? rows : SCALE_ROWS;
        snprintf(scale_csv, sizeof scale_csv, "%s/scale.csv", dir);
        snprintf(rules100, sizeof rules100, "%s/r100.rules", dir);
        snprintf(rules1000, sizeof rules1000, "%s/r1000.rules", dir);
        if (gen_csv(scale_csv, srows, row_buf, note_buf, &with_note) < 0 ||
            gen_rules(rules100, 100) != 0 || gen_rules(rules1000, 1000) != 0)
            goto out;
        /* a header-only file measures start-up (loading and compiling the rules),
         * which is taken off so that the figures are the cost per record */
        snprintf(empty_csv, sizeof empty_csv, "%s/empty.csv", dir);
        if (gen_csv(empty_csv, 0, row_buf, note_buf, &with_note) < 0)
            goto out;
        double us[2][2]; /* [prefilter on/off][100/1000] */
        const char *files[2] = {rules100, rules1000};
        for (int pf = 0; pf < 2; pf++) {
            for (int k = 0; k < 2; k++) {
                char *a[12] = {(char *)doorman, "triage", empty_csv, "--format", "jsonl",
                               "--no-default-rules", "--rules", (char *)files[k],
                               pf ? "--no-prefilter" : NULL, NULL};
                struct run_result st;
                if (run(doorman, a, err_path, keep, &st) != 0)
                    goto out;
                a[2] = scale_csv;
                if (run(doorman, a, err_path, keep, &r) != 0)
                    goto out;
                double per = r.cpu - st.cpu > 0 ? r.cpu - st.cpu : 0;
                us[pf][k] = per * 1e6 / (double)srows;
                printf("%4d rules, prefilter %s: %.2f us/record (start-up %.2f s, peak RSS "
                       "%.1f MB)\n",
                       k ? 1000 : 100, pf ? "off" : "on ", us[pf][k], st.cpu, r.rss_mb);
                fflush(stdout);
            }
        }
        double ratio_on = us[0][1] / us[0][0], ratio_off = us[1][1] / us[1][0];
        scale_pass = ratio_on < TARGET_SCALE_RATIO;
        printf("1000 rules cost %.2fx 100 rules with the prefilter (%.2fx without); "
               "target < %.0fx: %s\n",
               ratio_on, ratio_off, TARGET_SCALE_RATIO, scale_pass ? "PASS" : "FAIL");
    }
    /* ---- start-up --------------------------------------------------- */
    int startup_pass = 1;
    if (startup_runs > 0) {
        int sp = startup(doorman, dir, err_path, keep, startup_runs, msg_path, sizeof msg_path,
                         cache_dir, sizeof cache_dir);
        if (sp < 0)
            goto out;
        startup_pass = sp;
    }
    rc = (pass || !judged) && scale_pass && startup_pass ? 0 : 3;

out:
    free(row_buf);
    free(note_buf);
    free(child_argv);
    if (dir[0]) {
        if (keep) {
            printf("kept %s\n", dir);
        } else {
            const char *files[] = {csv_path,  err_path,  scale_csv, rules100,
                                   rules1000, empty_csv, msg_path};
            for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
                if (files[i][0])
                    unlink(files[i]);
            if (cache_dir[0]) {
                clear_cache(cache_dir);
                rmdir(cache_dir);
            }
            rmdir(cache_root);
            if (rmdir(dir) != 0)
                fprintf(stderr, "doorman-bench: rmdir %s: %s\n", dir, strerror(errno));
        }
    }
    return rc;
}
