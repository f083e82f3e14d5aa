/*
 * Minimal unit-test assertions: report file and line, keep going, and make
 * the program exit non-zero at the end (libarchive style).
 *
 *     int main(void) { ...EXPECT_*...; return unit_done(); }
 */
#ifndef FR_UNIT_H
#define FR_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define UNIT_FAIL(...)                                                  \
    do {                                                                \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                   \
        fputc('\n', stderr);                                            \
        unit_failures++;                                                \
    } while (0)

#define EXPECT_TRUE(c)                                                  \
    do {                                                                \
        unit_checks++;                                                  \
        if (!(c)) {                                                     \
            UNIT_FAIL("expected true: %s", #c);                         \
        }                                                               \
    } while (0)

#define EXPECT_EQ_U64(a, b)                                             \
    do {                                                                \
        uint64_t ua_ = (uint64_t)(a), ub_ = (uint64_t)(b);              \
        unit_checks++;                                                  \
        if (ua_ != ub_) {                                               \
            UNIT_FAIL("%s == %s: 0x%" PRIx64 " != 0x%" PRIx64,          \
                      #a, #b, ua_, ub_);                                \
        }                                                               \
    } while (0)

#define EXPECT_EQ_STR(a, b)                                             \
    do {                                                                \
        const char *sa_ = (a), *sb_ = (b);                              \
        unit_checks++;                                                  \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                    \
            UNIT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,             \
                      sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");      \
        }                                                               \
    } while (0)

#define EXPECT_MEM(a, b, n)                                             \
    do {                                                                \
        unit_checks++;                                                  \
        if (memcmp((a), (b), (n)) != 0) {                               \
            UNIT_FAIL("memory %s != %s (%zu bytes)", #a, #b,            \
                      (size_t)(n));                                     \
        }                                                               \
    } while (0)

static inline int unit_done(void)
{
    printf("%d checks, %d failed\n", unit_checks, unit_failures);
    return unit_failures ? 1 : 0;
}

#endif
