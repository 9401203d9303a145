/*
 * testutil.h: what several unit tests share besides testalloc.h: `sbuf`, a
 * growing string that does not go through the library's allocator (so that
 * the allocation counting and failure injection of testalloc.h see only the
 * library's own), and scratch folders.  Include after <cmocka.h>.
 */
#ifndef DM_TESTUTIL_H
#define DM_TESTUTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

/* sb_add() appends n bytes; s stays NUL-terminated. */
static inline void sb_add(sbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        assert_non_null(b->s);
        b->cap = cap;
    }
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static inline void sb_adds(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static inline void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    char *tmp = malloc((size_t)n + 1);
    assert_non_null(tmp);
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n);
    free(tmp);
}

static inline void sb_free(sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* scratch_mkdtemp() makes a fresh folder TMPDIR/dm-NAME.XXXXXX in dir[n]: 0, or -1. */
static inline int scratch_mkdtemp(char *dir, size_t n, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, n, "%s/dm-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    return mkdtemp(dir) ? 0 : -1;
}

/* scratch_rmtree() removes `path` and everything below it, following no
 * symbolic link: 0, or -1 when something could not be removed. */
static inline int scratch_rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return -1;
    if (!S_ISDIR(sb.st_mode))
        return remove(path);
    int rc = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        int w = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (w < 0 || (size_t)w >= sizeof sub || scratch_rmtree(sub) != 0)
            rc = -1; /* a path too long to name is not removed: the rmdir fails too */
    }
    if (d)
        closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

#endif
