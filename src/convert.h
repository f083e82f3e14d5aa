/*
 * Conversion between the two RAM layouts, keeping everything else byte for
 * byte: classic stream -> mapped-ram image, and mapped-ram image -> classic
 * stream.  The libvirt wrapper (if any) is carried over with the image
 * format changed to match.
 */
#ifndef FR_CONVERT_H
#define FR_CONVERT_H

#include <stdbool.h>

#include "progress.h"
#include "savefile.h"
#include "sink.h"

struct convert_opts {
    bool zstd;                  /* image-to-stream: compress the stream */
    int zstd_level;
    int threads;                /* zstd worker threads */
    bool no_container;          /* drop the libvirt header */
    uint64_t sparse_size;       /* stream-to-image: bytes of zero pages
                                 * that make a hole (0: one page) */
    bool internal;              /* a temporary image only fixedram reads:
                                 * x-ignore-shared allowed, no holes punched
                                 * for pages that became zero */
    struct fr_progress *progress;
};

/*
 * Convert the classic stream IN into a mapped-ram image in OUT (a regular
 * file: pages are written at their offsets).  Returns 0, or -1 with the
 * error in IN->err (input problems) or OUT->err (output problems).
 * OUT is not committed.
 */
int convert_stream_to_image(struct savefile *in, struct fr_sink *out,
                            const struct convert_opts *o);

/*
 * Convert the mapped-ram image IN (seekable) into a classic stream in OUT
 * (a file or a pipe).  Same conventions.
 */
int convert_image_to_stream(struct savefile *in, struct fr_sink *out,
                            const struct convert_opts *o);

/*
 * The start of an output stream for the input IN: its libvirt header
 * (unless O->no_container; format raw, or zstd with O->zstd, and then the
 * rest compressed), the magic, and the configuration CFG (when present)
 * without capability DROP (when not NULL).
 */
int convert_start_stream(struct savefile *in, struct fr_sink *out,
                         const struct convert_opts *o,
                         const struct sv_config *cfg, const char *drop);

/*
 * For a stream whose ram section has no PART or END: a PART of its own,
 * to go before EOF, with the page records that EMIT(OPAQUE) writes.  SUM
 * is the input's summary so far.
 */
int convert_ram_part(struct fr_sink *out, const struct sf_summary *sum,
                     int (*emit)(void *opaque), void *opaque);

#endif
