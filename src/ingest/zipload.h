/*
 * zipload.h: libzip, loaded when the first zip is opened rather than at
 * start-up.  libzip pulls in libcrypto and libbz2, whose loading costs
 * about a millisecond of every process start, and a mail filter starts
 * once per mail and never opens a zip.  source.c includes this after
 * <zip.h>: its zip_* calls go to dm_zip_* forwarders, which call into
 * libzip.so once dm_zip_load() has succeeded.
 */
#ifndef DM_ZIPLOAD_H
#define DM_ZIPLOAD_H
#include <stddef.h>
#include <zip.h>

/* dm_zip_load() loads libzip once (thread-safe); 0 on success, else -1
 * with the reason in why. */
int dm_zip_load(char *why, size_t n);

zip_t *dm_zip_open(const char *path, int flags, int *errorp);
void dm_zip_discard(zip_t *z);
void dm_zip_stat_init(zip_stat_t *st);
int dm_zip_stat(zip_t *z, const char *name, zip_flags_t flags, zip_stat_t *st);
const char *dm_zip_strerror(zip_t *z);
zip_file_t *dm_zip_fopen(zip_t *z, const char *name, zip_flags_t flags);
zip_int64_t dm_zip_fread(zip_file_t *f, void *buf, zip_uint64_t n);
const char *dm_zip_file_strerror(zip_file_t *f);
int dm_zip_fclose(zip_file_t *f);
zip_int64_t dm_zip_get_num_entries(zip_t *z, zip_flags_t flags);
const char *dm_zip_get_name(zip_t *z, zip_uint64_t i, zip_flags_t flags);
void dm_zip_error_init_with_code(zip_error_t *e, int code);
const char *dm_zip_error_strerror(zip_error_t *e);
void dm_zip_error_fini(zip_error_t *e);

#define zip_open dm_zip_open
#define zip_discard dm_zip_discard
#define zip_stat_init dm_zip_stat_init
#define zip_stat dm_zip_stat
#define zip_strerror dm_zip_strerror
#define zip_fopen dm_zip_fopen
#define zip_fread dm_zip_fread
#define zip_file_strerror dm_zip_file_strerror
#define zip_fclose dm_zip_fclose
#define zip_get_num_entries dm_zip_get_num_entries
#define zip_get_name dm_zip_get_name
#define zip_error_init_with_code dm_zip_error_init_with_code
#define zip_error_strerror dm_zip_error_strerror
#define zip_error_fini dm_zip_error_fini
#endif
