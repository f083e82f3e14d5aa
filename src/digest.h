/*
 * Content digests of a save file, independent of its layout:
 *
 *   page hash    = XXH3-128 of the page's bytes (a zero or absent page
 *                  hashes as page_size zero bytes: a constant, so zero
 *                  pages cost nothing)
 *   block digest = XXH3-128 of the canonical (big-endian, 16-byte) page
 *                  hashes of the block, in page order
 *   device state = XXH3-128 over the non-RAM sections in stream order, each
 *                  as u8 type, be32 instance, be32 version, u8 name length,
 *                  name, body bytes, be64 body length
 *
 * A stream, its mapped-ram conversion and that converted back hash alike.
 */
#ifndef FR_DIGEST_H
#define FR_DIGEST_H

#include <stdint.h>

#include "pagesrc.h"

struct digest_hex {
    char hex[33];
};

struct digest_result {
    size_t nblocks;
    struct digest_hex *blocks;  /* in block order */
    char (*names)[256];         /* the blocks' names and lengths */
    uint64_t *lengths;
    uint32_t page_size;
    struct digest_hex devices;
};

/* Visitor state that hashes device sections during pagesrc_open. */
struct digest_devices {
    void *state;                /* XXH3_state_t */
    uint64_t body_len;
};

/* Set up V (and D) so that pagesrc_open hashes the device state. */
int digest_devices_init(struct digest_devices *d, struct sf_visitor *v);

/*
 * Hash every block of PS with THREADS threads, and finish the device
 * digest D.  Returns 0 (OUT filled, free with digest_result_free) or -1
 * with the error in the original savefile.
 */
int digest_compute(struct pagesrc *ps, struct digest_devices *d,
                   int threads, struct digest_result *out);

void digest_result_free(struct digest_result *r);

/*
 * One pass over a classic stream SF (freshly opened): page hashes go to a
 * temporary file (16 bytes a page, in $TMPDIR) where a resent page's last
 * copy overwrites the earlier ones.  Returns 0 with OUT filled, 1 when the stream has XBZRLE
 * pages, which need the pages themselves (SF is then spent: reopen it and
 * use digest_compute), or -1 on error (in SF->err).
 */
int digest_stream(struct savefile *sf, struct digest_result *out);

/* Finish the device digest alone into OUT (frees D's state). */
int digest_compute_devices(struct digest_devices *d, struct digest_hex *out);

#endif
