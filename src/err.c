/* Error records: see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int __attribute__((format(printf, 5, 0)))
fail_v(struct fr_err *err, enum fr_errkind kind, int errnum, uint64_t off,
       const char *fmt, va_list ap)
{
    if (err->kind != FR_E_NONE) {
        return -1;          /* the first failure is the one that matters */
    }
    err->kind = kind;
    err->sys_errno = errnum;
    err->offset = off;
    vsnprintf(err->what, sizeof(err->what), fmt, ap);
    return -1;
}

int fr_fail(struct fr_err *err, enum fr_errkind kind, uint64_t off,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, kind, 0, off, fmt, ap);
    va_end(ap);
    return -1;
}

int fr_fail_sys(struct fr_err *err, int errnum, uint64_t off,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, FR_E_IO, errnum, off, fmt, ap);
    va_end(ap);
    return -1;
}

void fr_err_clear(struct fr_err *err)
{
    memset(err, 0, sizeof(*err));
}

void fr_err_print(const struct fr_err *err, const char *name)
{
    fputs("fixedram: ", stderr);
    if (name) {
        fprintf(stderr, "%s: ", name);
    }
    if (err->offset != FR_NO_OFFSET) {
        fprintf(stderr, "offset 0x%llx: ", (unsigned long long)err->offset);
    }
    fputs(err->what, stderr);
    if (err->sys_errno) {
        fprintf(stderr, ": %s", strerror(err->sys_errno));
    }
    fputc('\n', stderr);
}
