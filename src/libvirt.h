/*
 * libvirt save images (virsh save, managed save): a 92-byte header in the
 * writer's byte order, the domain XML and a cookie, then the QEMU stream.
 *
 *   0  char[16] magic    "LibvirtQemudSave" (complete) or
 *                        "LibvirtQemudPart" (being written / unfinished)
 *  16  u32 version       2 (1 = very old, never compressed)
 *  20  u32 data_len      bytes of XML + cookie + padding after the header
 *  24  u32 was_running
 *  28  u32 format        enum libvirt_format
 *  32  u32 cookie_offset offset of the cookie in the data area, 0 = none
 *  36  u32[14] unused    zero
 *  92  data area: XML\0 [cookie\0] padding; QEMU payload at 92 + data_len
 */
#ifndef FR_LIBVIRT_H
#define FR_LIBVIRT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "io.h"

#define LIBVIRT_HDR_SIZE 92
#define LIBVIRT_MAGIC_LEN 16
#define LIBVIRT_MAGIC_SAVE "LibvirtQemudSave"
#define LIBVIRT_MAGIC_PART "LibvirtQemudPart"
/* libvirt reserves data_len for XML edits; refuse absurd sizes. */
#define LIBVIRT_MAX_DATA_LEN (64u << 20)

enum libvirt_format {
    LIBVIRT_FMT_RAW = 0,
    LIBVIRT_FMT_GZIP,
    LIBVIRT_FMT_BZIP2,
    LIBVIRT_FMT_XZ,
    LIBVIRT_FMT_LZOP,
    LIBVIRT_FMT_ZSTD,
    LIBVIRT_FMT_SPARSE,
    LIBVIRT_FMT_COUNT
};

struct libvirt_hdr {
    bool complete;          /* Save magic (true) or Part magic (false) */
    bool swapped;           /* integers were in the other byte order */
    uint32_t version;
    uint32_t data_len;
    uint32_t was_running;
    uint32_t format;
    uint32_t cookie_offset;
    char *xml;              /* domain XML, NUL-terminated, malloc'd */
    char *cookie;           /* cookie XML or NULL, malloc'd */
    char domain[256];       /* <name> from the XML, "" if not found */
    uint64_t payload_offset;    /* 92 + data_len */
};

/* True if P (at least 16 bytes) starts with either libvirt magic. */
bool libvirt_probe(const uint8_t *p);

/*
 * Read the header and data area from S (positioned at the magic), leaving
 * S at the payload.  Returns 0, or -1 with the error in S->err.
 */
int libvirt_hdr_read(struct fr_src *s, struct libvirt_hdr *h);

void libvirt_hdr_free(struct libvirt_hdr *h);

/* "raw", "gzip", ... or NULL for an unknown value. */
const char *libvirt_format_name(uint32_t format);

/* The decompressor libvirt runs for FORMAT ({"gzip", "-dc", NULL}), or
 * NULL when the payload is not compressed by an external program. */
const char *const *libvirt_format_decompressor(uint32_t format);

struct fr_sink;

/*
 * Write H's header and data area (XML at 0, cookie at cookie_offset, zero
 * padding up to data_len) with image format FORMAT.  Unless COMPLETE, the
 * magic is "LibvirtQemudPart" and libvirt_hdr_complete() flips it to Save
 * once the payload is complete (libvirt refuses Part images).
 */
int libvirt_hdr_write(struct fr_sink *k, const struct libvirt_hdr *h,
                      uint32_t format, bool complete);

/* Rewrite the magic at offset 0 as "LibvirtQemudSave". */
int libvirt_hdr_complete(struct fr_sink *k);

#endif
