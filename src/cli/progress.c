/*
 * progress.c: the progress line of long fetches (docs/sources.md,
 * "Progress"): on stderr, only when it is a terminal, redrawn in place at
 * most ten times a second, and cleared before any other message and at the
 * end, so that nothing of it stays on the screen or reaches a file.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 100000000LL /* 0.1 s */

static struct {
    int on;
    int drawn;       /* a line is on the screen */
    long long start; /* ns, at the first report of the current source */
    long long last;  /* ns, of the last redraw */
    const char *source;
} prog;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cli_progress_enable(int on) { prog.on = on; }

void cli_progress_clear(void)
{
    if (!prog.drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    prog.drawn = 0;
}

/* progress_text() writes the figures for `p`, `secs` seconds into the source. */
static void progress_text(char *buf, size_t n, const dm_progress *p, double secs)
{
    size_t len = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__);                          \
        if (w_ > 0)                                                                                \
            len += (size_t)w_;                                                                     \
        if (len >= n)                                                                              \
            len = n - 1;                                                                           \
    } while (0)
    const char *unit = p->unit ? p->unit : "item";
    if (p->total)
        PUT("%llu/%llu %ss", (unsigned long long)p->done, (unsigned long long)p->total, unit);
    else
        PUT("%llu %s%s", (unsigned long long)p->done, unit, p->done == 1 ? "" : "s");
    PUT(", %llu record%s", (unsigned long long)p->records, p->records == 1 ? "" : "s");
    double rate = secs > 0.05 ? (double)p->records / secs : 0;
    if (rate > 0)
        PUT(", %.1f records/s", rate);
    /* ETA: by records when the source says how many, else by pages or mails */
    double left = -1;
    if (p->records_total && p->records && p->records <= p->records_total)
        left = secs * (double)(p->records_total - p->records) / (double)p->records;
    else if (p->total && p->done && p->done <= p->total)
        left = secs * (double)(p->total - p->done) / (double)p->done;
    if (left >= 0 && secs > 0.05) {
        long s = (long)(left + 0.5);
        if (s >= 3600)
            PUT(", ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        else
            PUT(", ETA %ld:%02ld", s / 60, s % 60);
    }
#undef PUT
}

void cli_progress(void *ud, const dm_progress *p)
{
    (void)ud;
    if (!prog.on)
        return;
    long long t = now_ns();
    if (p->source != prog.source) {
        prog.source = p->source;
        prog.start = t;
        prog.last = 0;
    }
    int final = p->total && p->done >= p->total;
    if (prog.last && t - prog.last < REDRAW_NS && !final)
        return;
    prog.last = t;
    char stats[160];
    progress_text(stats, sizeof stats, p, (double)(t - prog.start) / 1e9);
    /* one line, never wrapped: the source is cut to what the width leaves */
    struct winsize ws;
    int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    int room = width - 1 - (int)strlen(dm_cli_prog) - 2 - 2 - (int)strlen(stats);
    const char *src = p->source ? p->source : "";
    int slen = (int)strlen(src);
    fputs("\r\033[K", stderr);
    if (room >= 12 && slen > room)
        fprintf(stderr, "%s: ...%s: %s", dm_cli_prog, src + slen - (room - 3), stats);
    else if (room >= 12)
        fprintf(stderr, "%s: %s: %s", dm_cli_prog, src, stats);
    else
        fprintf(stderr, "%s: %.*s", dm_cli_prog, width > 12 ? width - 11 : 1, stats);
    fflush(stderr);
    prog.drawn = 1;
}
