/*
 * filter.c: the libmilter callbacks of doorman-milter.
 *
 * Per connection (smfi_setpriv) the milter keeps one message at a time:
 * the headers the MTA sends, re-joined as "Name: value" lines, a blank
 * line, and the body chunks, all with CRLF line ends, in one buffer of at
 * most --max-size bytes.  Headers doorman owns (X-Doorman-*) are kept out
 * of it and counted by name instead.  At end of message the forged ones
 * are deleted (smfi_chgheader with a NULL value, from the last occurrence
 * of a name to the first, so each index still names the header it named
 * when the MTA counted), the message becomes a record (dm_mail_record),
 * a ruleset borrowed from the pool scores it, and the three headers are
 * added (smfi_addheader).  A decline may also quarantine, reject or
 * tempfail the mail (--on-decline).
 *
 * Nothing that goes wrong inside doorman refuses mail: a message over the
 * size limit, out of memory or a failing library call lets the mail pass
 * with no X-Doorman-Verdict header, as Postfix's milter_default_action =
 * accept does when the milter is down.  The forged headers are removed in
 * every case where the end of the message is reached, so an X-Doorman-*
 * header in delivered mail always comes from doorman.
 */
#include "milter.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmilter/mfapi.h>

/*
 * A header name doorman owns, seen in this message, and how many times.
 * The three doorman writes are counted in fixed slots (no allocation can
 * lose one); other X-Doorman-* names in a list, within FORGED_MAX names
 * and FORGED_BYTES of names: past that, junk names are left (and logged)
 * but never one that carries a verdict.  The MTA matches a name in any
 * letter case.
 */
typedef struct forged {
    char *name; /* as first seen */
    int count;
} forged;

#define FORGED_MAX 256
#define FORGED_BYTES (64u << 10)

typedef struct conn {
    char *msg; /* header lines, blank line, body: CRLF */
    size_t len, cap;
    int in_body;                   /* the blank line after the headers is in msg */
    int unscanned;                 /* over --max-size, or out of memory: pass it as it is */
    const char *why;               /* why it is unscanned, for the log */
    int own[DM_MAIL_HEADER_COUNT]; /* X-Doorman-Verdict, -Score, -Rules seen */
    forged *forged;                /* the other X-Doorman-* names */
    size_t nforged, forged_cap, forged_bytes;
    int forged_lost; /* occurrences past FORGED_MAX or FORGED_BYTES */
    int can_skip;    /* the MTA understands SMFIS_SKIP */
    dm_record *rec;
    dm_result res;
} conn;

/* A buffer that grew past this is given back between messages. */
#define KEEP_CAP (256u << 10)

static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned active;

unsigned filter_active(void)
{
    pthread_mutex_lock(&active_mu);
    unsigned n = active;
    pthread_mutex_unlock(&active_mu);
    return n;
}

static void active_add(int d)
{
    pthread_mutex_lock(&active_mu);
    active += (unsigned)d;
    pthread_mutex_unlock(&active_mu);
}

/* message_reset() readies `c` for the next message of the connection. */
static void message_reset(conn *c)
{
    c->len = 0;
    c->in_body = 0;
    c->unscanned = 0;
    c->why = NULL;
    if (c->cap > KEEP_CAP) {
        free(c->msg);
        c->msg = NULL;
        c->cap = 0;
    }
    memset(c->own, 0, sizeof c->own);
    for (size_t i = 0; i < c->nforged; i++)
        free(c->forged[i].name);
    c->nforged = 0;
    c->forged_bytes = 0;
    c->forged_lost = 0;
}

static void conn_free(conn *c)
{
    if (!c)
        return;
    message_reset(c);
    free(c->msg);
    free(c->forged);
    dm_record_free(c->rec);
    dm_result_free(&c->res);
    free(c);
    active_add(-1);
}

/* get_conn() returns the connection's state, made on its first use. */
static conn *get_conn(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);
    if (c)
        return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    dm_result_init(&c->res);
    if (dm_record_create(&c->rec) != DM_OK || smfi_setpriv(ctx, c) != MI_SUCCESS) {
        dm_record_free(c->rec);
        free(c);
        return NULL;
    }
    active_add(1);
    return c;
}

static void give_up(conn *c, const char *why)
{
    if (c->unscanned)
        return;
    c->unscanned = 1;
    c->why = why;
    /* the memory is not needed any more: give it back at once */
    free(c->msg);
    c->msg = NULL;
    c->len = c->cap = 0;
}

/* reserve() makes room for `more` bytes, within --max-size. */
static int reserve(conn *c, size_t more)
{
    if (c->unscanned)
        return -1;
    if (more > g_conf.max_size || c->len > g_conf.max_size - more) {
        give_up(c, "over --max-size");
        return -1;
    }
    if (c->len + more <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + more)
        cap = cap > g_conf.max_size / 2 ? g_conf.max_size : cap * 2;
    char *p = realloc(c->msg, cap);
    if (!p) {
        give_up(c, "out of memory");
        return -1;
    }
    c->msg = p;
    c->cap = cap;
    return 0;
}

static void append(conn *c, const char *s, size_t n)
{
    if (reserve(c, n) == 0) {
        memcpy(c->msg + c->len, s, n);
        c->len += n;
    }
}

/*
 * append_lines() appends `s` with every bare LF made CRLF: MTAs hand a
 * folded header value over with LF alone (Postfix) or CRLF (Sendmail).
 */
static void append_lines(conn *c, const char *s)
{
    size_t n = 0;
    for (size_t i = 0; s[i]; i++)
        n += 1 + (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'));
    if (reserve(c, n) != 0)
        return;
    char *o = c->msg + c->len;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            *o++ = '\r';
        *o++ = s[i];
    }
    c->len += n;
}

static void note_forged(conn *c, const char *name)
{
    for (int h = 0; h < DM_MAIL_HEADER_COUNT; h++)
        if (strcasecmp(dm_mail_header_name((dm_mail_header)h), name) == 0) {
            c->own[h]++;
            return;
        }
    for (size_t i = 0; i < c->nforged; i++)
        if (strcasecmp(c->forged[i].name, name) == 0) {
            c->forged[i].count++;
            return;
        }
    size_t len = strlen(name);
    if (c->nforged == FORGED_MAX || len > FORGED_BYTES - c->forged_bytes) {
        c->forged_lost++;
        return;
    }
    if (c->nforged == c->forged_cap) {
        size_t cap = c->forged_cap ? c->forged_cap * 2 : 4;
        forged *p = realloc(c->forged, cap * sizeof *p);
        if (!p) {
            c->forged_lost++;
            return;
        }
        c->forged = p;
        c->forged_cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        c->forged_lost++;
        return;
    }
    c->forged[c->nforged].name = copy;
    c->forged[c->nforged].count = 1;
    c->nforged++;
    c->forged_bytes += len;
}

static const char *queue_id(SMFICTX *ctx)
{
    const char *id = smfi_getsymval(ctx, "i");
    return id && *id ? id : "NOQUEUE";
}

/* ---- callbacks ------------------------------------------------------------ */

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    (void)f2, (void)f3;
    unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    if (g_conf.on_decline == ACTION_QUARANTINE)
        want |= SMFIF_QUARANTINE;
    if ((f0 & want) != want) {
        mlog(LOG_ERR,
             "the MTA does not let a milter add and delete headers%s: "
             "refusing the connection (the MTA's default action applies)",
             g_conf.on_decline == ACTION_QUARANTINE ? " and quarantine" : "");
        return SMFIS_REJECT;
    }
    /* Steps doorman has no use for are left out where the MTA allows it;
     * SMFIP_SKIP lets the body callback stop the body of an oversized mail. */
    unsigned long steps =
        SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP;
    *pf0 = want;
    *pf1 = f1 & steps;
    conn *c = get_conn(ctx);
    if (c)
        c->can_skip = (f1 & SMFIP_SKIP) != 0;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    (void)argv;
    conn *c = get_conn(ctx);
    if (!c) {
        mlog(LOG_ERR, "out of memory: mail passes unscanned");
        return SMFIS_ACCEPT;
    }
    message_reset(c);
    return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    conn *c = get_conn(ctx);
    if (!c) {
        mlog(LOG_ERR, "out of memory: mail passes unscanned");
        return SMFIS_ACCEPT;
    }
    if (!name || !value)
        return SMFIS_CONTINUE;
    if (dm_mail_is_own_header(name, strlen(name))) {
        note_forged(c, name);
        return SMFIS_CONTINUE;
    }
    append(c, name, strlen(name));
    append(c, ": ", 2);
    append_lines(c, value);
    append(c, "\r\n", 2);
    return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    conn *c = get_conn(ctx);
    if (!c) {
        mlog(LOG_ERR, "out of memory: mail passes unscanned");
        return SMFIS_ACCEPT;
    }
    append(c, "\r\n", 2);
    c->in_body = 1;
    return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    conn *c = get_conn(ctx);
    if (!c) {
        mlog(LOG_ERR, "out of memory: mail passes unscanned");
        return SMFIS_ACCEPT;
    }
    if (!c->in_body) {
        append(c, "\r\n", 2);
        c->in_body = 1;
    }
    append(c, (const char *)chunk, len);
    /* The rest of an oversized body is not needed: the forged headers,
     * all that is left to do, are known.  SMFIS_SKIP only when the MTA
     * offered it (SMFIP_SKIP); otherwise the chunks are read and dropped. */
    return c->unscanned && c->can_skip ? SMFIS_SKIP : SMFIS_CONTINUE;
}

/* remove_forged() deletes every X-Doorman-* header of the message. */
static int remove_forged(SMFICTX *ctx, conn *c, const char *qid)
{
    int failed = 0;
    for (int h = 0; h < DM_MAIL_HEADER_COUNT; h++)
        for (int k = c->own[h]; k >= 1; k--)
            if (smfi_chgheader(ctx, (char *)dm_mail_header_name((dm_mail_header)h), k, NULL) !=
                MI_SUCCESS)
                failed = 1;
    for (size_t i = 0; i < c->nforged; i++)
        for (int k = c->forged[i].count; k >= 1; k--)
            if (smfi_chgheader(ctx, c->forged[i].name, k, NULL) != MI_SUCCESS)
                failed = 1;
    if (failed)
        mlog(LOG_ERR, "%s: could not delete a forged X-Doorman header", qid);
    if (c->forged_lost)
        mlog(LOG_WARNING, "%s: %d X-Doorman-* headers left in: too many names", qid,
             c->forged_lost);
    return failed;
}

static size_t header_value(const dm_result *res, dm_mail_header h, char *buf, size_t cap,
                           char **heap)
{
    *heap = NULL;
    size_t n = dm_mail_header_value(res, h, buf, cap);
    if (n < cap)
        return n;
    *heap = malloc(n + 1);
    if (!*heap)
        return (size_t)-1;
    dm_mail_header_value(res, h, *heap, n + 1);
    return n;
}

/* add_headers() adds X-Doorman-Verdict, -Score and -Rules; 0 on success. */
static int add_headers(SMFICTX *ctx, const dm_result *res)
{
    for (int h = 0; h < DM_MAIL_HEADER_COUNT; h++) {
        const char *name = dm_mail_header_name((dm_mail_header)h);
        char buf[512], *heap;
        if (!name || !*name ||
            header_value(res, (dm_mail_header)h, buf, sizeof buf, &heap) == (size_t)-1)
            return -1;
        const char *value = heap ? heap : buf;
        char fbuf[1024], *fheap = NULL;
        const char *out = value;
        if (h == DM_MAIL_RULES) {
            size_t need = fold_header(name, value, fbuf, sizeof fbuf);
            out = fbuf;
            if (need >= sizeof fbuf) {
                fheap = malloc(need + 1);
                if (!fheap) {
                    free(heap);
                    return -1;
                }
                fold_header(name, value, fheap, need + 1);
                out = fheap;
            }
        }
        int rc = smfi_addheader(ctx, (char *)name, (char *)out);
        free(fheap);
        free(heap);
        if (rc != MI_SUCCESS)
            return -1;
    }
    return 0;
}

/* rules_list() copies the names of the rules that fired, for the log. */
static void rules_list(const dm_result *res, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < res->nhits && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", res->hits[i].name);
    if (!res->nhits)
        snprintf(buf, cap, "-");
}

static sfsistat on_eom(SMFICTX *ctx)
{
    conn *c = get_conn(ctx);
    const char *qid = queue_id(ctx);
    if (!c) {
        mlog(LOG_ERR, "%s: out of memory: mail passes unscanned", qid);
        return SMFIS_ACCEPT;
    }
    sfsistat ret = SMFIS_CONTINUE;
    if (remove_forged(ctx, c, qid) != 0)
        ret = SMFIS_ACCEPT;
    if (!c->in_body)
        append(c, "\r\n", 2);
    if (c->unscanned) {
        mlog(LOG_WARNING, "%s: not scanned (%s): passes without a verdict", qid, c->why);
        goto out;
    }
    dm_error err;
    memset(&err, 0, sizeof err);
    dm_status st = dm_mail_record(c->msg, c->len, qid, c->rec, &err);
    if (st == DM_OK) {
        if (g_conf.ctx)
            dm_context_attach(g_conf.ctx, c->rec);
        dm_ruleset *rs = pool_take(&g_conf.pool);
        st = dm_ruleset_eval(rs, c->rec, g_conf.ctx, &c->res, &err);
        pool_give(&g_conf.pool, rs);
    }
    if (st != DM_OK) {
        mlog(LOG_ERR, "%s: %s: passes without a verdict", qid,
             err.text[0] ? err.text : dm_strerror(st));
        ret = SMFIS_ACCEPT;
        goto out;
    }
    const char *verdict = dm_verdict_name(c->res.verdict);
    char score[32]; /* as the header writes it */
    dm_mail_header_value(&c->res, DM_MAIL_SCORE, score, sizeof score);
    const char *action = "headers";
    int declined = c->res.verdict == DM_VERDICT_DECLINE;
    if (declined && g_conf.on_decline == ACTION_REJECT) {
        action = "reject";
        smfi_setreply(ctx, "550", "5.7.1", "Message refused: doorman declined it as a cold pitch");
        ret = SMFIS_REJECT;
    } else if (declined && g_conf.on_decline == ACTION_TEMPFAIL) {
        action = "tempfail";
        smfi_setreply(ctx, "451", "4.7.1", "Message deferred: doorman declined it as a cold pitch");
        ret = SMFIS_TEMPFAIL;
    } else {
        if (add_headers(ctx, &c->res) != 0) {
            mlog(LOG_ERR, "%s: could not add the X-Doorman headers", qid);
            ret = SMFIS_ACCEPT;
            goto out;
        }
        if (declined && g_conf.on_decline == ACTION_QUARANTINE) {
            char reason[64];
            snprintf(reason, sizeof reason, "doorman: decline, score %s", score);
            action = "quarantine";
            if (smfi_quarantine(ctx, reason) != MI_SUCCESS)
                mlog(LOG_ERR, "%s: the MTA refused to quarantine the mail", qid);
        }
    }
    if (!g_conf.quiet) {
        char rules[512];
        rules_list(&c->res, rules, sizeof rules);
        mlog(LOG_INFO, "%s: verdict=%s score=%s rules=%s action=%s", qid, verdict, score, rules,
             action);
    }
out:
    message_reset(c);
    return ret;
}

static sfsistat on_abort(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);
    if (c)
        message_reset(c);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);
    if (c) {
        smfi_setpriv(ctx, NULL);
        conn_free(c);
    }
    return SMFIS_CONTINUE;
}

void filter_describe(struct smfiDesc *d, milter_action on_decline)
{
    memset(d, 0, sizeof *d);
    d->xxfi_name = "doorman-milter";
    d->xxfi_version = SMFI_VERSION;
    d->xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    if (on_decline == ACTION_QUARANTINE)
        d->xxfi_flags |= SMFIF_QUARANTINE;
    d->xxfi_envfrom = on_envfrom;
    d->xxfi_header = on_header;
    d->xxfi_eoh = on_eoh;
    d->xxfi_body = on_body;
    d->xxfi_eom = on_eom;
    d->xxfi_abort = on_abort;
    d->xxfi_close = on_close;
    d->xxfi_negotiate = on_negotiate;
}

/* ---- folding ------------------------------------------------------------------ */

size_t fold_header(const char *name, const char *value, char *out, size_t cap)
{
    size_t col = strlen(name) + 2; /* "Name: " */
    size_t n = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n + 1 < cap)                                                                           \
            out[n] = (ch);                                                                         \
        n++;                                                                                       \
    } while (0)
    const char *p = value;
    while (*p) {
        /* the next item: up to and including its comma */
        const char *item = p;
        const char *comma = strstr(p, ", ");
        size_t len = comma ? (size_t)(comma - p) + 1 : strlen(p);
        if (item != value && col + 1 + len > 78) {
            PUT('\n');
            col = 0;
        }
        if (item != value) {
            PUT(' ');
            col++;
        }
        for (size_t i = 0; i < len; i++)
            PUT(item[i]);
        col += len;
        p = item + len;
        if (*p == ' ')
            p++;
    }
#undef PUT
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}
