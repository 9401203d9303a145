/*
 * zipload.c: libzip through dlopen (see zipload.h).  The forwarders are
 * only reached once dm_zip_load() succeeded (source.c calls it before
 * zip_open); should one be reached without it, it answers as libzip does
 * for a failure rather than crash.
 */
#include "zipload.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define LIBZIP_SONAME "libzip.so.4"

static struct {
    zip_t *(*open)(const char *, int, int *);
    void (*discard)(zip_t *);
    void (*stat_init)(zip_stat_t *);
    int (*stat)(zip_t *, const char *, zip_flags_t, zip_stat_t *);
    const char *(*strerror)(zip_t *);
    zip_file_t *(*fopen)(zip_t *, const char *, zip_flags_t);
    zip_int64_t (*fread)(zip_file_t *, void *, zip_uint64_t);
    const char *(*file_strerror)(zip_file_t *);
    int (*fclose)(zip_file_t *);
    zip_int64_t (*get_num_entries)(zip_t *, zip_flags_t);
    const char *(*get_name)(zip_t *, zip_uint64_t, zip_flags_t);
    void (*error_init_with_code)(zip_error_t *, int);
    const char *(*error_strerror)(zip_error_t *);
    void (*error_fini)(zip_error_t *);
} z;
static int loaded; /* 1 loaded, -1 failed */
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* resolve() looks `name` up; 0 on success. */
static int resolve(void *h, const char *name, void *fnp)
{
    void *p = dlsym(h, name);
    if (!p) {
        snprintf(load_error, sizeof load_error, "%s has no %s", LIBZIP_SONAME, name);
        return -1;
    }
    memcpy(fnp, &p, sizeof p); /* object to function pointer, as POSIX allows */
    return 0;
}

static void load(void)
{
    void *h = dlopen(LIBZIP_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load %s (install libzip4): %s",
                 LIBZIP_SONAME, e ? e : "unknown error");
        loaded = -1;
        return;
    }
    int bad = resolve(h, "zip_open", &z.open) || resolve(h, "zip_discard", &z.discard) ||
              resolve(h, "zip_stat_init", &z.stat_init) || resolve(h, "zip_stat", &z.stat) ||
              resolve(h, "zip_strerror", &z.strerror) || resolve(h, "zip_fopen", &z.fopen) ||
              resolve(h, "zip_fread", &z.fread) ||
              resolve(h, "zip_file_strerror", &z.file_strerror) ||
              resolve(h, "zip_fclose", &z.fclose) ||
              resolve(h, "zip_get_num_entries", &z.get_num_entries) ||
              resolve(h, "zip_get_name", &z.get_name) ||
              resolve(h, "zip_error_init_with_code", &z.error_init_with_code) ||
              resolve(h, "zip_error_strerror", &z.error_strerror) ||
              resolve(h, "zip_error_fini", &z.error_fini);
    loaded = bad ? -1 : 1; /* the handle stays open for the life of the process */
}

int dm_zip_load(char *why, size_t n)
{
    pthread_once(&once, load);
    if (loaded == 1)
        return 0;
    if (why && n)
        snprintf(why, n, "%s", load_error);
    return -1;
}

#define READY (loaded == 1)

zip_t *dm_zip_open(const char *path, int flags, int *errorp)
{
    if (dm_zip_load(NULL, 0) != 0) {
        if (errorp)
            *errorp = ZIP_ER_INTERNAL;
        return NULL;
    }
    return z.open(path, flags, errorp);
}
void dm_zip_discard(zip_t *a)
{
    if (READY)
        z.discard(a);
}
void dm_zip_stat_init(zip_stat_t *st)
{
    if (READY)
        z.stat_init(st);
    else
        memset(st, 0, sizeof *st);
}
int dm_zip_stat(zip_t *a, const char *name, zip_flags_t flags, zip_stat_t *st)
{
    return READY ? z.stat(a, name, flags, st) : -1;
}
const char *dm_zip_strerror(zip_t *a) { return READY ? z.strerror(a) : load_error; }
zip_file_t *dm_zip_fopen(zip_t *a, const char *name, zip_flags_t flags)
{
    return READY ? z.fopen(a, name, flags) : NULL;
}
zip_int64_t dm_zip_fread(zip_file_t *f, void *buf, zip_uint64_t n)
{
    return READY ? z.fread(f, buf, n) : -1;
}
const char *dm_zip_file_strerror(zip_file_t *f) { return READY ? z.file_strerror(f) : load_error; }
int dm_zip_fclose(zip_file_t *f) { return READY ? z.fclose(f) : -1; }
zip_int64_t dm_zip_get_num_entries(zip_t *a, zip_flags_t flags)
{
    return READY ? z.get_num_entries(a, flags) : -1;
}
const char *dm_zip_get_name(zip_t *a, zip_uint64_t i, zip_flags_t flags)
{
    return READY ? z.get_name(a, i, flags) : NULL;
}
void dm_zip_error_init_with_code(zip_error_t *e, int code)
{
    if (READY)
        z.error_init_with_code(e, code);
    else
        memset(e, 0, sizeof *e);
}
const char *dm_zip_error_strerror(zip_error_t *e) { return READY ? z.error_strerror(e) : load_error; }
void dm_zip_error_fini(zip_error_t *e)
{
    if (READY)
        z.error_fini(e);
}
