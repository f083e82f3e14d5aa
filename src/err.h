/*
 * Error records.  Parsers and I/O never print: they fill a caller-owned
 * struct fr_err and return -1.  The first failure recorded wins; the
 * command layer prints it once, as
 *     fixedram: FILE: offset 0xOFF: WHAT[: strerror]
 */
#ifndef FR_ERR_H
#define FR_ERR_H

#include <stdbool.h>
#include <stdint.h>

enum fr_errkind {
    FR_E_NONE = 0,
    FR_E_IO,          /* read/write/open failed (sys_errno set) */
    FR_E_NOMEM,
    FR_E_TRUNCATED,   /* input ended early */
    FR_E_CORRUPT,     /* input violates the format */
    FR_E_UNSUPPORTED, /* valid input using a feature we do not handle */
    FR_E_LIMIT,       /* input QEMU loads, that fixedram cannot read so
                       * (a pipe where offsets are needed, ...) */
    FR_E_MISMATCH,    /* inputs disagree (checksums, diff) */
    FR_E_EXISTS,      /* output exists and --force not given */
    FR_E_USAGE,       /* bad command line */
    FR_E_NOTMIG,      /* not a QEMU migration file at all */
};

#define FR_NO_OFFSET UINT64_MAX

struct fr_err {
    enum fr_errkind kind;
    int sys_errno;      /* errno for FR_E_IO, else 0 */
    uint64_t offset;    /* byte offset the problem is at, or FR_NO_OFFSET */
    char what[320];
};

/*
 * Record a failure (unless one is already recorded) and return -1.
 * OFF is a byte offset in the input, or FR_NO_OFFSET.
 */
int fr_fail(struct fr_err *err, enum fr_errkind kind, uint64_t off,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Same, for a failed system call: kind FR_E_IO and errno ERRNUM. */
int fr_fail_sys(struct fr_err *err, int errnum, uint64_t off,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline bool fr_failed(const struct fr_err *err)
{
    return err->kind != FR_E_NONE;
}

void fr_err_clear(struct fr_err *err);

/*
 * Print "fixedram: NAME: offset 0x..: what[: strerror]" on stderr.
 * NAME may be NULL.
 */
void fr_err_print(const struct fr_err *err, const char *name);

#endif
