/* XBZRLE delta decoding and encoding: see xbzrle.h. */
#include "config.h"

#include "xbzrle.h"

#include <string.h>

/* Read a ULEB128 of at most 2 bytes at ENC[*pos]. */
static int uleb(const uint8_t *enc, size_t len, size_t *pos, uint32_t *v)
{
    if (*pos >= len) {
        return -1;
    }
    *v = enc[*pos] & 0x7f;
    if (enc[(*pos)++] & 0x80) {
        if (*pos >= len || enc[*pos] & 0x80) {
            return -1;
        }
        *v |= (uint32_t)enc[(*pos)++] << 7;
    }
    return 0;
}

int xbzrle_decode(const uint8_t *enc, size_t len, uint8_t *page,
                  size_t page_size, size_t *bad, const char **why)
{
    size_t i = 0, d = 0;

    while (i < len) {
        uint32_t zrun, nzrun;
        size_t at = i;

        /* QEMU needs at least 2 bytes before each run length */
        if (len - i < 2 || uleb(enc, len, &i, &zrun) < 0) {
            *bad = at;
            *why = "bad zero-run length";
            return -1;
        }
        if (zrun == 0 && at != 0) {
            *bad = at;
            *why = "empty zero run after the first";
            return -1;
        }
        if (zrun > page_size - d) {
            *bad = at;
            *why = "zero run goes past the end of the page";
            return -1;
        }
        d += zrun;
        at = i;
        if (len - i < 2 || uleb(enc, len, &i, &nzrun) < 0 || nzrun == 0) {
            *bad = at;
            *why = "bad data-run length";
            return -1;
        }
        if (nzrun > page_size - d || nzrun > len - i) {
            *bad = at;
            *why = "data run goes past the end of the page or the delta";
            return -1;
        }
        if (page) {
            memcpy(page + d, enc + i, nzrun);
        }
        i += nzrun;
        d += nzrun;
    }
    return 0;
}
