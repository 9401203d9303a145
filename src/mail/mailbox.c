/*
 * mailbox.c: mbox (mboxrd) and Maildir sources (mailbox.h).
 *
 * An mbox is read as a stream, a line at a time (a line longer than 64 KiB
 * in pieces), never whole; only the message being read is held:
 *
 *   mbox      -> message*
 *   message   -> from_line line* blank?    the blank line before the next
 *                                          From_ line belongs to the mbox
 *   from_line -> "From " ... LF            first in the file, or after a
 *                                          blank line
 *
 * mboxrd: a line of a message matching ^>+"From " loses one '>' (writers
 * add one to each such line, so a body's "From " cannot split a message).
 * A message over the size limit is scanned past to the next From_ line,
 * reported with its offset, and counted as skipped: nothing is dropped
 * silently.  Each record's source is "PATH:OFFSET", the byte offset of its
 * From_ line.
 *
 * A Maildir's messages are the files of cur/ and new/ (tmp/ holds
 * deliveries in progress; names starting with '.' are not messages), in
 * the byte order of their names, which start with the delivery time; cur/
 * comes before new/ for equal names.  The names are listed when the
 * Maildir is opened (memory grows with their number, a feature's need);
 * each record's source is "PATH/cur/NAME" or "PATH/new/NAME".
 */
#include "mailbox.h"
#include "mailint.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RBUF ((size_t)256 << 10) /* the read buffer */
#define PIECE ((size_t)64 << 10) /* the longest piece of a line looked at whole */
#define NO_MESSAGE UINT64_MAX

struct dm_mailbox {
    dm_mailbox_kind kind;
    char *path; /* as given; a Maildir's without its trailing '/' */
    size_t max;
    dm_mailbox_report_fn report;
    void *ud;
    dm_buf msg; /* the message being read */
    dm_buf src; /* its place: the record's source */
    /* mbox */
    FILE *fp;
    char *rbuf;
    size_t rpos, rlen;
    uint64_t rbase; /* the file offset of rbuf[0] */
    int eof;
    int at_start;     /* the next piece starts a line */
    int in_envelope;  /* the rest of a From_ line is still to be skipped */
    uint64_t from_at; /* the From_ line of the next message, or NO_MESSAGE */
    /* Maildir */
    char **names; /* "cur/NAME", "new/NAME", in reading order */
    size_t nnames, next;
};

/* ---- telling a mailbox by its shape ------------------------------------------ */

static int is_dir(const char *base, const char *sub)
{
    char p[4096];
    struct stat st;
    int n = snprintf(p, sizeof p, "%s/%s", base, sub);
    return n > 0 && (size_t)n < sizeof p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

dm_mailbox_kind dm_mailbox_sniff(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return DM_MAILBOX_NONE;
    if (S_ISDIR(st.st_mode))
        return is_dir(path, "cur") && is_dir(path, "new") && is_dir(path, "tmp")
                   ? DM_MAILBOX_MAILDIR
                   : DM_MAILBOX_NONE;
    if (!S_ISREG(st.st_mode))
        return DM_MAILBOX_NONE;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return DM_MAILBOX_NONE;
    char head[5];
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return n == 5 && memcmp(head, "From ", 5) == 0 ? DM_MAILBOX_MBOX : DM_MAILBOX_NONE;
}

/* ---- reporting a skipped message ------------------------------------------------ */

/*
 * skip() reports the message at mb->src as skipped.  The text repeats the
 * place, since a long path may not leave room for it in e.source.
 */
static dm_status skip(dm_mailbox *mb, dm_status code, dm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static dm_status skip(dm_mailbox *mb, dm_status code, dm_error *err, const char *fmt, ...)
{
    dm_error e;
    dm_error_clear(&e);
    e.code = code;
    snprintf(e.source, sizeof e.source, "%s", mb->src.data ? mb->src.data : mb->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    va_end(ap);
    dm_status st = mb->report ? mb->report(mb->ud, DM_SEV_ERROR, &e) : DM_OK;
    if (st != DM_OK) {
        if (err && err->code == DM_OK)
            *err = e;
        return DM_ESTRICT;
    }
    return DM_OK;
}

/* ---- mbox -------------------------------------------------------------------------- */

static dm_status fill(dm_mailbox *mb, dm_error *err)
{
    if (mb->rpos) {
        memmove(mb->rbuf, mb->rbuf + mb->rpos, mb->rlen - mb->rpos);
        mb->rbase += mb->rpos;
        mb->rlen -= mb->rpos;
        mb->rpos = 0;
    }
    size_t got = fread(mb->rbuf + mb->rlen, 1, RBUF - mb->rlen, mb->fp);
    mb->rlen += got;
    if (got == 0) {
        if (ferror(mb->fp))
            return dm_error_set(err, DM_EIO, mb->path, 0, 0, "cannot read: %s", strerror(errno));
        mb->eof = 1;
    }
    return DM_OK;
}

/*
 * piece() hands out the next piece of the file: a line with its LF, or
 * the first PIECE bytes of a longer line (then the next ones), or the
 * file's last bytes.  *off is its offset.  DM_END at the end of the file.
 */
static dm_status piece(dm_mailbox *mb, const char **p, size_t *n, uint64_t *off, int *start,
                       dm_error *err)
{
    for (;;) {
        size_t avail = mb->rlen - mb->rpos;
        size_t look = avail < PIECE ? avail : PIECE;
        const char *s = mb->rbuf + mb->rpos;
        const char *nl = memchr(s, '\n', look);
        if (nl || avail >= PIECE || mb->eof) {
            if (!avail)
                return DM_END;
            *n = nl ? (size_t)(nl - s) + 1 : look;
            *p = s;
            *off = mb->rbase + mb->rpos;
            *start = mb->at_start;
            mb->rpos += *n;
            mb->at_start = s[*n - 1] == '\n';
            return DM_OK;
        }
        dm_status st = fill(mb, err);
        if (st != DM_OK)
            return st;
    }
}

static int is_blank(const char *p, size_t n)
{
    return (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static int is_from(const char *p, size_t n)
{
    return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* add() keeps a piece of the message, or counts it once the message is over the limit. */
static dm_status add(dm_mailbox *mb, const char *p, size_t n, uint64_t *size)
{
    *size += n;
    if (*size > mb->max) {
        dm_buf_reset(&mb->msg);
        return DM_OK;
    }
    dm_status st = dm_buf_add(&mb->msg, p, n);
    return st == DM_ETOOLARGE ? DM_OK : st;
}

/*
 * read_mbox() reads the message whose From_ line starts at mb->from_at into
 * mb->msg (*size: its bytes, which may be over the limit) and finds the
 * next From_ line.
 */
static dm_status read_mbox(dm_mailbox *mb, uint64_t *size, dm_error *err)
{
    size_t held = 0; /* a blank line, which the next From_ line makes the mbox's */
    dm_buf_reset(&mb->msg);
    *size = 0;
    mb->from_at = NO_MESSAGE;
    for (;;) {
        const char *p;
        size_t n;
        uint64_t off;
        int start;
        dm_status st = piece(mb, &p, &n, &off, &start, err);
        if (st == DM_END)
            return DM_OK;
        if (st != DM_OK)
            return st;
        if (mb->in_envelope) {
            mb->in_envelope = !mb->at_start;
            continue;
        }
        if (start && held && is_from(p, n)) {
            mb->from_at = off;
            mb->in_envelope = !mb->at_start;
            return DM_OK;
        }
        if (held) {
            st = add(mb, held == 2 ? "\r\n" : "\n", held, size);
            held = 0;
            if (st != DM_OK)
                return st;
        }
        if (start && is_blank(p, n)) {
            held = n;
            continue;
        }
        if (start && p[0] == '>') {
            /* mboxrd: ">From " was "From ", ">>From " was ">From " */
            size_t k = 0;
            while (k < n && p[k] == '>')
                k++;
            if (is_from(p + k, n - k))
                p++, n--;
        }
        st = add(mb, p, n, size);
        if (st != DM_OK)
            return st;
    }
}

static dm_status open_mbox(dm_mailbox *mb, dm_error *err)
{
    mb->fp = fopen(mb->path, "rb");
    if (!mb->fp)
        return dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, mb->path, 0, 0, "%s",
                            strerror(errno));
    mb->rbuf = dm_malloc(RBUF);
    if (!mb->rbuf)
        return DM_ENOMEM;
    mb->at_start = 1;
    mb->from_at = NO_MESSAGE;
    const char *p;
    size_t n;
    uint64_t off;
    int start;
    dm_status st = piece(mb, &p, &n, &off, &start, err);
    if (st == DM_END) /* an empty mbox holds no message */
        return DM_OK;
    if (st != DM_OK)
        return st;
    if (!is_from(p, n))
        return dm_error_set(err, DM_EFORMAT, mb->path, 0, 0,
                            "not an mbox: it does not start with a \"From \" line");
    mb->from_at = 0;
    mb->in_envelope = !mb->at_start;
    return DM_OK;
}

static dm_status next_mbox(dm_mailbox *mb, dm_record *rec, dm_error *err)
{
    while (mb->from_at != NO_MESSAGE) {
        uint64_t at = mb->from_at, size;
        dm_status st = read_mbox(mb, &size, err);
        if (st != DM_OK)
            return st;
        dm_buf_reset(&mb->src);
        st = dm_buf_printf(&mb->src, "%s:%llu", mb->path, (unsigned long long)at);
        if (st != DM_OK)
            return st;
        if (size > mb->max) {
            st = skip(mb, DM_ETOOLARGE, err,
                      "the message at offset %llu is %llu bytes, over the limit of %zu; "
                      "message skipped",
                      (unsigned long long)at, (unsigned long long)size, mb->max);
            if (st != DM_OK)
                return st;
            continue;
        }
        return dm_mail_record(mb->msg.data ? mb->msg.data : "", mb->msg.len, mb->src.data, rec,
                              err);
    }
    return DM_END;
}

/* ---- Maildir ------------------------------------------------------------------------- */

static int name_order(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    /* "cur/NAME" and "new/NAME": by NAME, then cur/ before new/ */
    int c = strcmp(x + 4, y + 4);
    return c ? c : strcmp(x, y);
}

static dm_status list_sub(dm_mailbox *mb, const char *sub, size_t *cap, dm_error *err)
{
    dm_buf dir;
    dm_buf_init(&dir, 1 << 16);
    dm_status st = dm_buf_printf(&dir, "%s/%s", mb->path, sub);
    if (st != DM_OK) {
        dm_buf_free(&dir);
        return st;
    }
    DIR *d = opendir(dir.data);
    if (!d) {
        st = dm_error_set(err, errno == ENOENT ? DM_ENOENT : DM_EIO, dir.data, 0, 0,
                          "cannot read the Maildir folder: %s", strerror(errno));
        dm_buf_free(&dir);
        return st;
    }
    struct dirent *e;
    while (st == DM_OK && (errno = 0, e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (mb->nnames == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            char **nn = dm_realloc(mb->names, ncap * sizeof *nn);
            if (!nn) {
                st = DM_ENOMEM;
                break;
            }
            mb->names = nn;
            *cap = ncap;
        }
        size_t len = strlen(e->d_name);
        char *nm = dm_malloc(len + 5);
        if (!nm) {
            st = DM_ENOMEM;
            break;
        }
        memcpy(nm, sub, 3);
        nm[3] = '/';
        memcpy(nm + 4, e->d_name, len + 1);
        mb->names[mb->nnames++] = nm;
    }
    if (st == DM_OK && errno)
        st = dm_error_set(err, DM_EIO, dir.data, 0, 0, "cannot read the Maildir folder: %s",
                          strerror(errno));
    closedir(d);
    dm_buf_free(&dir);
    return st;
}

static dm_status open_maildir(dm_mailbox *mb, dm_error *err)
{
    size_t n = strlen(mb->path);
    while (n > 1 && mb->path[n - 1] == '/')
        mb->path[--n] = '\0';
    size_t cap = 0;
    dm_status st = list_sub(mb, "cur", &cap, err);
    if (st == DM_OK)
        st = list_sub(mb, "new", &cap, err);
    if (st == DM_OK && mb->nnames)
        qsort(mb->names, mb->nnames, sizeof *mb->names, name_order);
    return st;
}

/* read_file() reads one message file into mb->msg; *size is its size. */
static dm_status read_file(dm_mailbox *mb, FILE *fp, uint64_t *size)
{
    char buf[1 << 16];
    size_t got;
    dm_buf_reset(&mb->msg);
    *size = 0;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0) {
        dm_status st = add(mb, buf, got, size);
        if (st != DM_OK)
            return st;
    }
    return ferror(fp) ? DM_EIO : DM_OK;
}

static dm_status next_maildir(dm_mailbox *mb, dm_record *rec, dm_error *err)
{
    while (mb->next < mb->nnames) {
        const char *nm = mb->names[mb->next++];
        dm_buf_reset(&mb->src);
        dm_status st = dm_buf_printf(&mb->src, "%s/%s", mb->path, nm);
        if (st != DM_OK)
            return st;
        struct stat sb;
        FILE *fp = NULL;
        uint64_t size = 0;
        int e = 0;
        /* a message can go between the listing and now (a reader moved it
         * from new/ to cur/): that is reported, not fatal */
        if (stat(mb->src.data, &sb) != 0)
            e = errno;
        else if (!S_ISREG(sb.st_mode))
            continue; /* a folder or the like: not a message */
        else if ((fp = fopen(mb->src.data, "rb")) == NULL)
            e = errno;
        else if ((uint64_t)sb.st_size > mb->max)
            size = (uint64_t)sb.st_size;
        else if ((st = read_file(mb, fp, &size)) == DM_EIO)
            e = errno ? errno : EIO;
        if (fp)
            fclose(fp);
        if (st == DM_ENOMEM)
            return st;
        if (e)
            st = skip(mb, DM_EIO, err, "cannot read %s: %s; message skipped", nm, strerror(e));
        else if (size > mb->max)
            st = skip(mb, DM_ETOOLARGE, err,
                      "the message %s is %llu bytes, over the limit of %zu; message skipped", nm,
                      (unsigned long long)size, mb->max);
        else
            return dm_mail_record(mb->msg.data ? mb->msg.data : "", mb->msg.len, mb->src.data, rec,
                                  err);
        if (st != DM_OK)
            return st;
    }
    return DM_END;
}

/* ---- the object ------------------------------------------------------------------------- */

dm_status dm_mailbox_open(const char *path, dm_mailbox_kind kind, size_t max_message,
                          dm_mailbox_report_fn report, void *ud, dm_mailbox **out, dm_error *err)
{
    if (!path || !out || (kind != DM_MAILBOX_MBOX && kind != DM_MAILBOX_MAILDIR))
        return dm_error_set(err, DM_EINVAL, path, 0, 0, "no mailbox given");
    dm_mailbox *mb = dm_calloc(1, sizeof *mb);
    if (!mb)
        return DM_ENOMEM;
    mb->kind = kind;
    mb->max = max_message ? max_message : DM_MAILBOX_MAX_MESSAGE;
    mb->report = report;
    mb->ud = ud;
    /* one byte over the limit tells a message that is over it */
    dm_buf_init(&mb->msg, mb->max);
    dm_buf_init(&mb->src, (size_t)1 << 16);
    mb->path = dm_strdup(path);
    dm_status st = mb->path ? DM_OK : DM_ENOMEM;
    if (st == DM_OK)
        st = kind == DM_MAILBOX_MBOX ? open_mbox(mb, err) : open_maildir(mb, err);
    if (st != DM_OK) {
        if (st == DM_ENOMEM)
            dm_error_set(err, st, path, 0, 0, "%s", dm_strerror(st));
        dm_mailbox_free(mb);
        return st;
    }
    *out = mb;
    return DM_OK;
}

dm_status dm_mailbox_next(dm_mailbox *mb, dm_record *rec, dm_error *err)
{
    dm_status st =
        mb->kind == DM_MAILBOX_MBOX ? next_mbox(mb, rec, err) : next_maildir(mb, rec, err);
    if (st == DM_ENOMEM)
        dm_error_set(err, st, mb->src.data ? mb->src.data : mb->path, 0, 0, "%s", dm_strerror(st));
    return st;
}

void dm_mailbox_free(dm_mailbox *mb)
{
    if (!mb)
        return;
    if (mb->fp)
        fclose(mb->fp);
    dm_free(mb->rbuf);
    for (size_t i = 0; i < mb->nnames; i++)
        dm_free(mb->names[i]);
    dm_free(mb->names);
    dm_buf_free(&mb->msg);
    dm_buf_free(&mb->src);
    dm_free(mb->path);
    dm_free(mb);
}
