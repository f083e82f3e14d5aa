/* Lazily allocated bitmaps: see bitmap.h. */
#include "config.h"

#include "bitmap.h"

#include <stdlib.h>
#include <string.h>

#define WORDS_PER_CHUNK (FR_BITMAP_CHUNK_BITS / 64)

int fr_bitmap_init(struct fr_bitmap *b, uint64_t nbits)
{
    memset(b, 0, sizeof(*b));
    b->nbits = nbits;
    b->nchunks = (nbits + FR_BITMAP_CHUNK_BITS - 1) / FR_BITMAP_CHUNK_BITS;
    if (b->nchunks) {
        b->chunks = calloc(b->nchunks, sizeof(*b->chunks));
        if (!b->chunks) {
            return -1;
        }
    }
    return 0;
}

void fr_bitmap_free(struct fr_bitmap *b)
{
    for (uint64_t i = 0; i < b->nchunks && b->chunks; i++) {
        free(b->chunks[i]);
    }
    free(b->chunks);
    memset(b, 0, sizeof(*b));
}

static uint64_t *chunk_for(struct fr_bitmap *b, uint64_t bit)
{
    uint64_t **c = &b->chunks[bit / FR_BITMAP_CHUNK_BITS];
    if (!*c) {
        *c = calloc(WORDS_PER_CHUNK, sizeof(uint64_t));
    }
    return *c;
}

int fr_bitmap_set(struct fr_bitmap *b, uint64_t i)
{
    uint64_t *c = chunk_for(b, i);
    if (!c) {
        return -1;
    }
    i %= FR_BITMAP_CHUNK_BITS;
    c[i / 64] |= 1ull << (i % 64);
    return 0;
}

void fr_bitmap_clear(struct fr_bitmap *b, uint64_t i)
{
    uint64_t *c = b->chunks[i / FR_BITMAP_CHUNK_BITS];
    if (c) {
        i %= FR_BITMAP_CHUNK_BITS;
        c[i / 64] &= ~(1ull << (i % 64));
    }
}

int fr_bitmap_set_word(struct fr_bitmap *b, uint64_t w, uint64_t v)
{
    uint64_t bit = w * 64;
    uint64_t *c;

    if (!v && !b->chunks[bit / FR_BITMAP_CHUNK_BITS]) {
        return 0;
    }
    c = chunk_for(b, bit);
    if (!c) {
        return -1;
    }
    c[(bit % FR_BITMAP_CHUNK_BITS) / 64] = v;
    return 0;
}

uint64_t fr_bitmap_count(const struct fr_bitmap *b)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < b->nchunks; i++) {
        if (b->chunks[i]) {
            for (unsigned w = 0; w < WORDS_PER_CHUNK; w++) {
                n += (uint64_t)__builtin_popcountll(b->chunks[i][w]);
            }
        }
    }
    return n;
}

bool fr_bitmap_any(const struct fr_bitmap *b, uint64_t from, uint64_t to,
                   bool value)
{
    if (to > b->nbits) {
        to = b->nbits;
    }
    while (from < to) {
        uint64_t word = fr_bitmap_word(b, from / 64);
        word = (value ? word : ~word) >> (from % 64);
        uint64_t n = 64 - from % 64;
        if (n > to - from) {
            n = to - from;
            word &= (1ull << n) - 1;
        }
        if (word) {
            return true;
        }
        from += n;
    }
    return false;
}

uint64_t fr_bitmap_next(const struct fr_bitmap *b, uint64_t from, bool value)
{
    while (from < b->nbits) {
        uint64_t ci = from / FR_BITMAP_CHUNK_BITS;
        const uint64_t *c = b->chunks[ci];
        uint64_t chunk_end = (ci + 1) * FR_BITMAP_CHUNK_BITS;

        if (!c) {
            if (!value) {
                return from;
            }
            from = chunk_end;
            continue;
        }
        while (from < chunk_end && from < b->nbits) {
            uint64_t off = from % FR_BITMAP_CHUNK_BITS;
            uint64_t word = c[off / 64];
            if (!value) {
                word = ~word;
            }
            word >>= off % 64;
            if (word) {
                from += (uint64_t)__builtin_ctzll(word);
                return from < b->nbits ? from : b->nbits;
            }
            from += 64 - off % 64;
        }
    }
    return b->nbits;
}

uint64_t fr_bitmap_span(const struct fr_bitmap *b, uint64_t from,
                        uint64_t limit, bool value, uint64_t gap)
{
    for (;;) {
        uint64_t other = fr_bitmap_next(b, from, !value);
        if (other >= limit) {
            return limit;
        }
        uint64_t next = fr_bitmap_next(b, other, value);
        if (next >= limit || next - other > gap) {
            return other;
        }
        from = next;
    }
}
