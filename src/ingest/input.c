/*
 * input.c: dm_input over an open file.
 *
 * Reads go to the file descriptor with read(2), not through stdio: fread()
 * keeps reading until it has all it was asked for, so on a pipe it would sit
 * on the records a producer already wrote until 64 KiB more came or the
 * producer quit, and `producer | doorman triage - | consumer` would answer
 * nothing until the end.  read(2) returns what is there.
 */
#include "input.h"

#include "core.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long file_read(void *ud, char *buf, size_t n, dm_error *err)
{
    int fd = fileno((FILE *)ud);
    if (n > LONG_MAX)
        n = LONG_MAX;
    ssize_t got;
    do
        got = read(fd, buf, n);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        dm_error_set(err, DM_EIO, NULL, 0, 0, "read error: %s", strerror(errno));
        return -1;
    }
    return (long)got;
}

void dm_input_file(dm_input *in, FILE *fp, const char *name)
{
    /* A caller may have looked at the first bytes through stdio and rewound
     * (source.c sniffs a file so): the descriptor may then be past where the
     * stream is.  Put it there; nothing reads through the stream from now on. */
    off_t pos = ftello(fp);
    if (pos >= 0)
        (void)lseek(fileno(fp), pos, SEEK_SET);
    in->read = file_read;
    in->ud = fp;
    in->name = name;
}
