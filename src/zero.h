/* Is a buffer all zero?  The test every page goes through: keep it fast. */
#ifndef FR_ZERO_H
#define FR_ZERO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool fr_is_zero(const uint8_t *p, size_t n)
{
    /* compare the buffer with itself shifted by 16 bytes: memcmp is
     * vectorised, and most non-zero pages fail in the first word */
    static const uint8_t zero16[16];
    if (n < 16) {
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
    }
    return memcmp(p, zero16, 16) == 0 && memcmp(p, p + 16, n - 16) == 0;
}

/* Do two pages differ, NULL standing for a zero page? */
static inline bool fr_pages_differ(const uint8_t *a, const uint8_t *b,
                                   size_t n)
{
    if (!a || !b) {
        return a != b && !fr_is_zero(a ? a : b, n);
    }
    return memcmp(a, b, n) != 0;
}

#endif
