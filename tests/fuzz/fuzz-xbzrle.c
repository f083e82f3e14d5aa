/*
 * Fuzz target: XBZRLE delta decoding.  xbzrle_decode applies the input as
 * a delta to a 4096-byte page; the result is compared with a reference
 * decoder that follows QEMU's migration/xbzrle.c xbzrle_decode_buffer()
 * step by step (the loader's behaviour is the specification), and with the
 * check-only mode (PAGE NULL).
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "xbzrle.h"

#define PAGE 4096

/* QEMU's uleb128_decode_small: 1 or 2 bytes, -1 for a third. */
static int ref_uleb(const uint8_t *in, uint32_t *n)
{
    if (!(in[0] & 0x80)) {
        *n = in[0];
        return 1;
    }
    if (in[1] & 0x80) {
        return -1;
    }
    *n = (uint32_t)(in[0] & 0x7f) | (uint32_t)in[1] << 7;
    return 2;
}

/* The loader's decoder: bytes written, or -1. */
static long ref_decode(const uint8_t *src, size_t slen, uint8_t *dst,
                       size_t dlen)
{
    size_t i = 0, d = 0;
    uint32_t count;
    int r;

    while (i < slen) {
        if (slen - i < 2) {
            return -1;
        }
        r = ref_uleb(src + i, &count);
        if (r < 0 || (i && !count)) {
            return -1;
        }
        i += (size_t)r;
        d += count;
        if (d > dlen) {
            return -1;
        }
        if (slen - i < 2) {
            return -1;
        }
        r = ref_uleb(src + i, &count);
        if (r < 0 || !count) {
            return -1;
        }
        i += (size_t)r;
        if (d + count > dlen || i + count > slen) {
            return -1;
        }
        memcpy(dst + d, src + i, count);
        d += count;
        i += count;
    }
    return (long)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t page[PAGE], ref[PAGE];
    size_t bad = (size_t)-1, bad2 = (size_t)-1;
    const char *why = NULL, *why2 = NULL;
    int r, r2;
    long want;

    for (size_t i = 0; i < PAGE; i++) {
        page[i] = ref[i] = (uint8_t)(i * 7 + 1);
    }
    r = xbzrle_decode(data, size, page, PAGE, &bad, &why);
    r2 = xbzrle_decode(data, size, NULL, PAGE, &bad2, &why2);
    want = ref_decode(data, size, ref, PAGE);

    FUZZ_ASSERT(r == 0 || r == -1);
    FUZZ_ASSERT(r == r2);
    FUZZ_ASSERT((r == 0) == (want >= 0));
    if (r == 0) {
        FUZZ_ASSERT(memcmp(page, ref, PAGE) == 0);
    } else {
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
        FUZZ_ASSERT(bad <= size);
        FUZZ_ASSERT(bad == bad2 && why == why2);
    }
    return 0;
}
