/*
 * Compacting a classic stream in two passes over the input, without a
 * copy of guest RAM (all-zero pages become ZERO records, as QEMU sends
 * them): the first pass finds the pages sent more than once
 * (one bit per page, beside the walk's own map of pages sent) and the ram
 * sections with such records; the second copies everything through,
 * records of pages sent once included, in their order.  The final copies
 * of the others follow as records at the end of the last ram section:
 * read from the input again, its sections with resent records last one
 * first (a page already written is skipped), or, for XBZRLE deltas and
 * zstd inputs, placed in a temporary image (place.h) as they pass.
 */
/*
 * Compacting a mapped-ram image file keeps its layout and bytes: only the
 * pages with data under a set bit are copied (the rest of each pages
 * region is a hole), and the bitmaps lose the bits of all-zero pages.
 */
#ifndef FR_COMPACT_H
#define FR_COMPACT_H

#include "convert.h"

/*
 * Compact the classic stream IN (freshly opened from PATH, a regular
 * file: PATH is opened again for the second pass) into OUT (not
 * committed).  O->zstd compresses the output; O->no_container drops a
 * libvirt header.  Returns 0, or -1 with the error in IN->err or OUT->err.
 */
int compact_stream(struct savefile *in, const char *path, struct fr_sink *out,
                   const struct convert_opts *o);

/*
 * Compact the mapped-ram image file IN (freshly opened, seekable and not
 * compressed) into OUT (not committed) at the same offsets, reading pages
 * with THREADS threads and showing the pages looked at on PROG.  Returns
 * 0, or -1 with the error in IN->err or OUT->err.
 */
int compact_image(struct savefile *in, struct fr_sink *out, int threads,
                  struct fr_progress *prog);

#endif
