/*
 * testalloc.h: allocation hooks for the unit tests (jansson's test_chaos):
 * they count the bytes in use, so a test can check that nothing leaked, and
 * fail the Nth allocation, so a test can check every DM_ENOMEM path.
 * Install them with dm_set_alloc_funcs(count_malloc, count_realloc, count_free).
 */
#ifndef DM_TESTALLOC_H
#define DM_TESTALLOC_H

#include "doorman.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h" /* scratch_mkdtemp(), scratch_rmtree() */

static size_t mem_now;           /* bytes allocated and not yet freed */
static size_t mem_peak;          /* the most mem_now has been */
static long mem_allocs;          /* blocks allocated and not yet freed */
static long fail_countdown = -1; /* fail the allocation when it hits 0 */
static int injected;             /* an allocation was failed on purpose */

static inline void *count_malloc(size_t n)
{
    if (fail_countdown >= 0 && fail_countdown-- == 0) {
        injected = 1;
        return NULL;
    }
    size_t *p = malloc(n + sizeof(max_align_t));
    if (!p)
        return NULL;
    *p = n;
    mem_now += n;
    mem_allocs++;
    if (mem_now > mem_peak)
        mem_peak = mem_now;
    return (char *)p + sizeof(max_align_t);
}

static inline void *count_realloc(void *q, size_t n)
{
    if (!q)
        return count_malloc(n);
    if (fail_countdown >= 0 && fail_countdown-- == 0) {
        injected = 1;
        return NULL;
    }
    size_t *p = (size_t *)((char *)q - sizeof(max_align_t));
    size_t old = *p;
    p = realloc(p, n + sizeof(max_align_t));
    if (!p)
        return NULL;
    *p = n;
    mem_now = mem_now - old + n;
    if (mem_now > mem_peak)
        mem_peak = mem_now;
    return (char *)p + sizeof(max_align_t);
}

static inline void count_free(void *q)
{
    if (!q)
        return;
    size_t *p = (size_t *)((char *)q - sizeof(max_align_t));
    mem_now -= *p;
    mem_allocs--;
    free(p);
}

/*
 * A cmocka setup/teardown pair for tests that work in files: scratch_setup()
 * makes a fresh folder TMPDIR/dm-NAME.XXXXXX in dir[n] and installs the
 * counting hooks; scratch_teardown() removes the folder and fails when a
 * block is still allocated (a leak).  Both return 0 on success.
 */
static inline int scratch_setup(char *dir, size_t n, const char *name)
{
    if (scratch_mkdtemp(dir, n, name) != 0)
        return -1;
    dm_set_alloc_funcs(count_malloc, count_realloc, count_free);
    mem_allocs = 0;
    return 0;
}

static inline int scratch_teardown(const char *dir)
{
    int removed = scratch_rmtree(dir) == 0;
    long leaked = mem_allocs;
    dm_set_alloc_funcs(NULL, NULL, NULL);
    if (leaked)
        fprintf(stderr, "%ld blocks leaked\n", leaked);
    return removed && leaked == 0 ? 0 : -1;
}

#endif
