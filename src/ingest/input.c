/* input.c: dm_input over a stdio stream. */
#include "input.h"

#include "core.h"

#include <errno.h>
#include <string.h>

struct file_ud {
    FILE *fp;
    const char *name;
};

static long file_read(void *ud, char *buf, size_t n, dm_error *err)
{
    FILE *fp = ud;
    size_t got = fread(buf, 1, n, fp);
    if (got == 0 && ferror(fp)) {
        dm_error_set(err, DM_EIO, NULL, 0, 0, "read error: %s", strerror(errno));
        return -1;
    }
    return (long)got;
}

void dm_input_file(dm_input *in, FILE *fp, const char *name)
{
    in->read = file_read;
    in->ud = fp;
    in->name = name;
}
