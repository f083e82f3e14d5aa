/*
 * XBZRLE page deltas (QEMU migration/xbzrle.c format):
 *   ( uleb128 zrun  uleb128 nzrun  nzrun literal bytes )+
 * zrun bytes are unchanged, nzrun bytes replace the old ones; each ULEB128
 * has at most 2 bytes here (values < 16384).  Only the first zrun may be 0,
 * every nzrun is >= 1, and the runs stay inside the page.
 */
#ifndef FR_XBZRLE_H
#define FR_XBZRLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Apply the LEN-byte delta ENC to PAGE (PAGE_SIZE bytes) in place; with
 * PAGE NULL only check the encoding.  Returns 0, or -1 with *BAD set to
 * the offset in ENC of the problem and *WHY to a static message.
 */
int xbzrle_decode(const uint8_t *enc, size_t len, uint8_t *page,
                  size_t page_size, size_t *bad, const char **why);

#endif
