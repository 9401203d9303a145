/* core.c: allocation hooks, bounded buffers, errors, UTF-8 checks. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static dm_malloc_fn hook_malloc = malloc;
static dm_realloc_fn hook_realloc = realloc;
static dm_free_fn hook_free = free;

DM_API void dm_set_alloc_funcs(dm_malloc_fn m, dm_realloc_fn r, dm_free_fn f)
{
    hook_malloc = m ? m : malloc;
    hook_realloc = r ? r : realloc;
    hook_free = f ? f : free;
}

void *dm_malloc(size_t n) { return hook_malloc(n ? n : 1); }

void *dm_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = dm_malloc(n * size);
    if (p)
        memset(p, 0, n * size > 0 ? n * size : 1);
    return p;
}

void *dm_realloc(void *p, size_t n) { return hook_realloc(p, n ? n : 1); }

void dm_free(void *p)
{
    if (p)
        hook_free(p);
}

char *dm_strndup(const char *s, size_t n)
{
    char *d = dm_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *dm_strdup(const char *s) { return s ? dm_strndup(s, strlen(s)) : NULL; }

/* ---- bounded buffer ---- */

void dm_buf_init(dm_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void dm_buf_free(dm_buf *b)
{
    dm_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void dm_buf_reset(dm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static dm_status buf_grow(dm_buf *b, size_t need)
{
    if (need > b->max)
        return DM_ETOOLARGE;
    if (need + 1 <= b->cap)
        return DM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap = cap > SIZE_MAX / 4 ? need + 1 : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = dm_realloc(b->data, cap);
    if (!p)
        return DM_ENOMEM;
    b->data = p;
    b->cap = cap;
    return DM_OK;
}

dm_status dm_buf_add(dm_buf *b, const void *p, size_t n)
{
    if (n > b->max - b->len)
        return DM_ETOOLARGE;
    dm_status st = buf_grow(b, b->len + n);
    if (st != DM_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return DM_OK;
}

dm_status dm_buf_addc(dm_buf *b, char c)
{
    if (b->len + 1 < b->cap && b->len < b->max) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return DM_OK;
    }
    return dm_buf_add(b, &c, 1);
}

dm_status dm_buf_adds(dm_buf *b, const char *s) { return dm_buf_add(b, s, strlen(s)); }

dm_status dm_buf_printf(dm_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DM_EINVAL;
    if ((size_t)n < sizeof small)
        return dm_buf_add(b, small, (size_t)n);
    if ((size_t)n > b->max - b->len)
        return DM_ETOOLARGE;
    dm_status st = buf_grow(b, b->len + (size_t)n);
    if (st != DM_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return DM_OK;
}

char *dm_buf_steal(dm_buf *b)
{
    char *p = b->data;
    if (!p)
        p = dm_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* ---- errors ---- */

static const char *const status_text[DM_STATUS_COUNT] = {
    [DM_OK] = "success",
    [DM_END] = "end of input",
    [DM_ENOMEM] = "out of memory",
    [DM_EIO] = "input/output error",
    [DM_ENOENT] = "no such file or directory",
    [DM_EINVAL] = "invalid argument",
    [DM_ESYNTAX] = "syntax error",
    [DM_EUTF8] = "invalid UTF-8",
    [DM_ETOOLARGE] = "too large",
    [DM_EFORMAT] = "unrecognised input format",
    [DM_EZIP] = "bad zip archive",
    [DM_EREGEX] = "regular expression error",
    [DM_ESTRICT] = "stopped at a bad row (strict mode)",
    [DM_EBUSY] = "in use by another run",
};

DM_API const char *dm_strerror(dm_status code)
{
    if ((unsigned)code >= DM_STATUS_COUNT)
        return "unknown error";
    return status_text[code];
}

DM_API const char *dm_version(void) { return DM_VERSION; }

void dm_error_clear(dm_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

dm_status dm_error_set(dm_error *err, dm_status code, const char *source, int line, int column,
                       const char *fmt, ...)
{
    if (!err || err->code != DM_OK)
        return code;
    err->code = code;
    err->line = line;
    err->column = column;
    snprintf(err->source, sizeof err->source, "%s", source ? source : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- UTF-8 ---- */

size_t dm_utf8_check(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, the common case, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned min;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (n - i <= need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return n;
}

char dm_ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

int dm_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = dm_ascii_lower(a[i]), y = dm_ascii_lower(b[i]);
        if (x != y)
            return (unsigned char)x - (unsigned char)y;
        if (!x)
            return 0;
    }
    return 0;
}

int dm_ascii_casecmp(const char *a, const char *b) { return dm_ascii_ncasecmp(a, b, SIZE_MAX); }
