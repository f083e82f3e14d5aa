/*
 * LD_PRELOAD shim for the write-error tests: fdatasync fails with EIO, as
 * when the device reports a failed write-out.  Built at test time
 * (tests/cli/0220-write-errors.sh); fsync is left alone, so that only the
 * background flushes fail.
 */
#include <errno.h>

int fdatasync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}
