/*
 * testutil.h: what several unit tests share besides testalloc.h: `sbuf`, a
 * growing string that does not go through the library's allocator (so that
 * the allocation counting and failure injection of testalloc.h see only the
 * library's own).  Include after <cmocka.h>.
 */
#ifndef DM_TESTUTIL_H
#define DM_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
