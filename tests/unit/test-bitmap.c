/*
 * Unit tests for the lazily allocated page bitmap: set, clear, test and
 * count across chunk boundaries, the search for the next bit of a value,
 * the bounded range check (fr_bitmap_any) at word and chunk edges, and
 * the spans across short gaps (fr_bitmap_span), compared with plain loops
 * over fr_bitmap_test.
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

/* fr_bitmap_span the slow way: extend over each gap that is short enough
 * and followed by a bit of VALUE before LIMIT. */
static uint64_t span_slow(const struct fr_bitmap *b, uint64_t from,
                          uint64_t limit, bool value, uint64_t gap)
{
    uint64_t end = from + 1;    /* just after the last bit of VALUE */

    for (uint64_t i = from + 1; i < limit; i++) {
        if (fr_bitmap_test(b, i) == value) {
            if (i - end > gap) {
                break;
            }
            end = i + 1;
        }
    }
    /* a run of VALUE up to LIMIT ends there; a gap before LIMIT does not */
    return end;
}

static void check_spans(const struct fr_bitmap *b, uint64_t to)
{
    static const uint64_t gaps[] = { 0, 1, 2, 8, 100 };

    for (uint64_t from = 0; from < to; from++) {
        bool v = fr_bitmap_test(b, from);
        for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
            for (uint64_t limit = from + 1; limit <= to; limit += 7) {
                uint64_t want = span_slow(b, from, limit, v, gaps[g]);
                uint64_t got = fr_bitmap_span(b, from, limit, v, gaps[g]);
                if (want != got) {
                    UNIT_FAIL("span(%llu, %llu, %d, gap %llu): %llu, "
                              "want %llu", (unsigned long long)from,
                              (unsigned long long)limit, v,
                              (unsigned long long)gaps[g],
                              (unsigned long long)got,
                              (unsigned long long)want);
                }
                unit_checks++;
            }
        }
    }
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

    /* spans over gaps of 1, 2, 3, 8, 9 and 40 clear bits, and of set ones */
    struct fr_bitmap g;
    const uint64_t on[] = { 3, 4, 6, 9, 13, 14, 15, 24, 34, 35, 76, 77, 130 };
    EXPECT_TRUE(fr_bitmap_init(&g, 200) == 0);
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        EXPECT_TRUE(fr_bitmap_set(&g, on[i]) == 0);
    }
    EXPECT_EQ_U64(fr_bitmap_span(&g, 3, 200, true, 8), 25);
    EXPECT_EQ_U64(fr_bitmap_span(&g, 3, 200, true, 9), 36);
    EXPECT_EQ_U64(fr_bitmap_span(&g, 3, 200, true, 2), 10);
    EXPECT_EQ_U64(fr_bitmap_span(&g, 3, 200, true, 0), 5);
    /* a gap that reaches the limit is not taken; a run that does ends */
    EXPECT_EQ_U64(fr_bitmap_span(&g, 3, 30, true, 8), 25);
    EXPECT_EQ_U64(fr_bitmap_span(&g, 13, 15, true, 8), 15);
    EXPECT_EQ_U64(fr_bitmap_span(&g, 0, 200, false, 2), 13);
    EXPECT_EQ_U64(fr_bitmap_span(&g, 0, 200, false, 3), 200);
    check_spans(&g, 140);
    fr_bitmap_free(&g);

    /* ranges past the end stop at the end */
    EXPECT_TRUE(!fr_bitmap_any(&b, NBITS, NBITS + 100, true));
    EXPECT_TRUE(fr_bitmap_any(&b, NBITS - 1, NBITS + 100, true));
    fr_bitmap_free(&b);
    return unit_done();
}
