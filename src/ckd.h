/*
 * Checked arithmetic for sizes and offsets that come from files.
 * Each returns true when the result overflowed (like C23 ckd_*).
 */
#ifndef FR_CKD_H
#define FR_CKD_H

#include <stdbool.h>
#include <stdint.h>

static inline bool ckd_add_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_add_overflow(a, b, r);
}

static inline bool ckd_mul_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_mul_overflow(a, b, r);
}

/* Is [off, off + len) inside [0, lim)?  No overflow possible. */
static inline bool fr_in_bounds(uint64_t off, uint64_t len, uint64_t lim)
{
    return off <= lim && lim - off >= len;
}

/* Round V up to a multiple of ALIGN (a power of two); true on overflow. */
static inline bool ckd_align_up(uint64_t *r, uint64_t v, uint64_t align)
{
    uint64_t t;
    if (ckd_add_u64(&t, v, align - 1)) {
        return true;
    }
    *r = t & ~(align - 1);
    return false;
}

#endif
