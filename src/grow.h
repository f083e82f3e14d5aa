/*
 * Growing an array one entry at a time, its capacity implied by its
 * length (it doubles at powers of two), so that no capacity is kept.
 */
#ifndef FR_GROW_H
#define FR_GROW_H

#include <stdlib.h>

/* ARRAY, of N entries of SIZE bytes, with room for one more, or NULL when
 * out of memory (ARRAY is then unchanged).  N must stay small enough
 * that 2 * N * SIZE fits: callers cap it. */
static inline void *fr_room_for_one(void *array, size_t n, size_t size)
{
    if (n & (n - 1)) {
        return array;
    }
    return realloc(array, (n ? n * 2 : 8) * size);
}

#endif
