/*
 * core.h: internal helpers shared by every stage: allocation hooks,
 * bounded buffers (curl's dynbuf), error filling, UTF-8 checks.
 * Not installed; modules and unit tests include it.
 */
#ifndef DM_CORE_H
#define DM_CORE_H

#include "doorman.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Allocation, through the hooks of dm_set_alloc_funcs(). */
void *dm_malloc(size_t n);
void *dm_calloc(size_t n, size_t size);
void *dm_realloc(void *p, size_t n);
void dm_free(void *p);
char *dm_strdup(const char *s);
char *dm_strndup(const char *s, size_t n);

/*
 * dm_buf: a growable byte buffer with a hard maximum.  The content is
 * always NUL-terminated.  Appending past `max` fails with DM_ETOOLARGE and
 * leaves the buffer as it was.
 */
typedef struct dm_buf {
    char *data;
    size_t len, cap, max;
} dm_buf;

void dm_buf_init(dm_buf *b, size_t max);
void dm_buf_free(dm_buf *b);
void dm_buf_reset(dm_buf *b); /* len = 0, memory kept */
dm_status dm_buf_add(dm_buf *b, const void *p, size_t n);
/* dm_buf_put() is dm_buf_add() with the common case inline: it fits. */
static inline dm_status dm_buf_put(dm_buf *b, const void *p, size_t n)
{
    if (n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return DM_OK;
    }
    return dm_buf_add(b, p, n);
}
dm_status dm_buf_addc(dm_buf *b, char c);
dm_status dm_buf_adds(dm_buf *b, const char *s);
dm_status dm_buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dm_buf_steal() hands the content to the caller (never NULL on DM_OK). */
char *dm_buf_steal(dm_buf *b);

/*
 * dm_error_set() fills `err` (may be NULL) unless it already holds an
 * error: the first error wins.  Returns `code` so callers can
 * `return dm_error_set(...)`.
 */
dm_status dm_error_set(dm_error *err, dm_status code, const char *source, int line, int column,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void dm_error_clear(dm_error *err);

/*
 * dm_utf8_check() returns the byte offset of the first invalid UTF-8
 * sequence in s[0..n), or n when all of it is valid.
 */
size_t dm_utf8_check(const char *s, size_t n);

/*
 * dm_status_recoverable() is 1 for the codes a reader returns when it
 * skipped one bad row or record and can go on.
 */
static inline int dm_status_recoverable(dm_status s)
{
    return s == DM_ESYNTAX || s == DM_EUTF8 || s == DM_ETOOLARGE || s == DM_EFORMAT;
}

/* ASCII helpers that do not depend on the locale. */
int dm_ascii_casecmp(const char *a, const char *b);
int dm_ascii_ncasecmp(const char *a, const char *b, size_t n);
char dm_ascii_lower(char c);

#endif
