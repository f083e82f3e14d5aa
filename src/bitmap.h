/*
 * One bit per guest page, allocated lazily in chunks so that a hostile
 * length in a file costs nothing until pages are really touched, and a
 * sparse guest costs only the chunks it uses.
 */
#ifndef FR_BITMAP_H
#define FR_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FR_BITMAP_CHUNK_BITS (1u << 18)     /* 32 KiB of bitmap per chunk */

struct fr_bitmap {
    uint64_t nbits;
    uint64_t nchunks;
    uint64_t **chunks;          /* NULL chunk = all bits clear */
};

/* Returns 0, or -1 when out of memory. */
int fr_bitmap_init(struct fr_bitmap *b, uint64_t nbits);
void fr_bitmap_free(struct fr_bitmap *b);

static inline bool fr_bitmap_test(const struct fr_bitmap *b, uint64_t i)
{
    const uint64_t *c = b->chunks ? b->chunks[i / FR_BITMAP_CHUNK_BITS]
                                  : NULL;
    i %= FR_BITMAP_CHUNK_BITS;
    return c && (c[i / 64] >> (i % 64)) & 1;
}

/* Set/clear bit I (I < nbits).  Setting may allocate: -1 when out of
 * memory. */
int fr_bitmap_set(struct fr_bitmap *b, uint64_t i);
void fr_bitmap_clear(struct fr_bitmap *b, uint64_t i);

/* Set the bits of 64-bit word W (bits W*64 ..) to V. */
int fr_bitmap_set_word(struct fr_bitmap *b, uint64_t w, uint64_t v);

/* The 64-bit word holding bits W*64 .. W*64+63. */
static inline uint64_t fr_bitmap_word(const struct fr_bitmap *b, uint64_t w)
{
    uint64_t bit = w * 64;
    const uint64_t *c = b->chunks ? b->chunks[bit / FR_BITMAP_CHUNK_BITS]
                                  : NULL;
    return c ? c[(bit % FR_BITMAP_CHUNK_BITS) / 64] : 0;
}

/* Number of set bits. */
uint64_t fr_bitmap_count(const struct fr_bitmap *b);

/* Does any bit in [FROM, TO) equal VALUE?  Looks at those bits only. */
bool fr_bitmap_any(const struct fr_bitmap *b, uint64_t from, uint64_t to,
                   bool value);

/* First index >= FROM whose bit equals VALUE, or nbits if none. */
uint64_t fr_bitmap_next(const struct fr_bitmap *b, uint64_t from, bool value);

/*
 * The end of a span from FROM (whose bit is VALUE) up to LIMIT at most:
 * bits of VALUE, with gaps of at most GAP other bits, ending after a bit of
 * VALUE.  For reading a run of pages along with a few pages around them
 * rather than apart: a copy of a page costs less than a system call.
 */
uint64_t fr_bitmap_span(const struct fr_bitmap *b, uint64_t from,
                        uint64_t limit, bool value, uint64_t gap);

#endif
