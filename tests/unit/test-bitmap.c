/*
 * Unit tests for the lazily allocated page bitmap: set, clear, test and
 * count across chunk boundaries, the search for the next bit of a value,
 * and the bounded range check (fr_bitmap_any) at word and chunk edges,
 * compared with a plain loop over fr_bitmap_test.
 */
#include "bitmap.h"

#include <stdlib.h>

#include "unit.h"

#define NBITS ((uint64_t)3 * FR_BITMAP_CHUNK_BITS + 100)

/* fr_bitmap_any the slow way. */
static bool any_slow(const struct fr_bitmap *b, uint64_t from, uint64_t to,
                     bool value)
{
    for (uint64_t i = from; i < to && i < b->nbits; i++) {
        if (fr_bitmap_test(b, i) == value) {
            return true;
        }
    }
    return false;
}

static void check_ranges(const struct fr_bitmap *b, const uint64_t *at,
                         size_t nat)
{
    static const uint64_t lens[] = { 0, 1, 2, 63, 64, 65, 130, 4096 };

    for (size_t i = 0; i < nat; i++) {
        for (int d = -2; d <= 2; d++) {
            uint64_t from = at[i] + (uint64_t)d;
            for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
                for (int v = 0; v < 2; v++) {
                    bool want = any_slow(b, from, from + lens[l], v);
                    bool got = fr_bitmap_any(b, from, from + lens[l], v);
                    if (want != got) {
                        UNIT_FAIL("any(%llu, +%llu, %d): %d, want %d",
                                  (unsigned long long)from,
                                  (unsigned long long)lens[l], v, got, want);
                    }
                    unit_checks++;
                }
            }
        }
    }
}

int main(void)
{
    struct fr_bitmap b;
    const uint64_t c = FR_BITMAP_CHUNK_BITS;
    const uint64_t set[] = { 0, 63, 64, 127, c - 1, c, 2 * c + 5,
                             NBITS - 1 };
    const uint64_t probe[] = { 2, 62, 64, 126, 200, c - 3, c, c + 64,
                               2 * c, 2 * c + 3, NBITS - 3, NBITS - 1 };

    EXPECT_TRUE(fr_bitmap_init(&b, NBITS) == 0);
    EXPECT_EQ_U64(fr_bitmap_count(&b), 0);
    EXPECT_EQ_U64(fr_bitmap_next(&b, 0, true), NBITS);
    EXPECT_EQ_U64(fr_bitmap_next(&b, 5, false), 5);
    EXPECT_TRUE(!fr_bitmap_any(&b, 0, NBITS, true));
    EXPECT_TRUE(fr_bitmap_any(&b, 0, NBITS, false));
    check_ranges(&b, probe, sizeof(probe) / sizeof(probe[0]));

    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
        EXPECT_TRUE(fr_bitmap_set(&b, set[i]) == 0);
    }
    EXPECT_EQ_U64(fr_bitmap_count(&b), sizeof(set) / sizeof(set[0]));
    EXPECT_TRUE(fr_bitmap_test(&b, c) && !fr_bitmap_test(&b, c + 1));
    EXPECT_EQ_U64(fr_bitmap_next(&b, 1, true), 63);
    EXPECT_EQ_U64(fr_bitmap_next(&b, 128, true), c - 1);
    EXPECT_EQ_U64(fr_bitmap_next(&b, c + 1, true), 2 * c + 5);
    EXPECT_EQ_U64(fr_bitmap_next(&b, 63, false), 65);
    check_ranges(&b, set, sizeof(set) / sizeof(set[0]));
    check_ranges(&b, probe, sizeof(probe) / sizeof(probe[0]));

    /* a run of set bits across a word and a chunk edge, then cleared */
    for (uint64_t i = c - 70; i < c + 70; i++) {
        EXPECT_TRUE(fr_bitmap_set(&b, i) == 0);
    }
    EXPECT_TRUE(!fr_bitmap_any(&b, c - 70, c + 70, false));
    EXPECT_TRUE(fr_bitmap_any(&b, c - 71, c + 70, false));
    EXPECT_EQ_U64(fr_bitmap_next(&b, c - 70, false), c + 70);
    fr_bitmap_clear(&b, c);
    EXPECT_TRUE(fr_bitmap_any(&b, c - 70, c + 70, false));
    EXPECT_EQ_U64(fr_bitmap_next(&b, c - 70, false), c);
    check_ranges(&b, probe, sizeof(probe) / sizeof(probe[0]));

    /* ranges past the end stop at the end */
    EXPECT_TRUE(!fr_bitmap_any(&b, NBITS, NBITS + 100, true));
    EXPECT_TRUE(fr_bitmap_any(&b, NBITS - 1, NBITS + 100, true));
    fr_bitmap_free(&b);
    return unit_done();
}
