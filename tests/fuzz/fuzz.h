/*
 * The libFuzzer entry point every tests/fuzz/fuzz-*.c target defines.  The
 * same object links either with libFuzzer (-fsanitize=fuzzer, built with
 * --enable-fuzzing) or with replay.c, the standalone driver that "make
 * check" runs over tests/fuzz/corpus/<target>/.
 *
 * Targets must not keep state between calls, print, or exit: a finding is
 * a sanitizer report or an abort().
 */
#ifndef FR_FUZZ_H
#define FR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() with a message when COND is false: an internal contradiction
 * the target checks for (e.g. two decoders disagreeing). */
#define FUZZ_ASSERT(cond)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fuzz_assert_failed(__FILE__, __LINE__, #cond);                  \
        }                                                                   \
    } while (0)

#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_assert_failed(const char *file, int line,
                                      const char *what)
{
    fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", file, line, what);
    abort();
}

#endif
