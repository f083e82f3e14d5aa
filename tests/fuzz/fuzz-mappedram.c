/*
 * Fuzz target: mapped-ram RAM block lists.  The input is placed after a
 * fixed, valid prefix: the QEVM header, a configuration announcing the
 * mapped-ram capability and the header of the ram START section (id 1,
 * "ram", instance 0, version 4), exactly as tests/gen/fr-mkstream writes
 * them for its default machine.  So the input starts with the MEM_SIZE
 * word, then block names, lengths, 28-byte mapped-ram headers, bitmaps and
 * pages, and the rest of the stream (EOS, footer, PART/END, devices, EOF,
 * vmdesc) follows as usual.
 *
 * Mapped-ram offsets are absolute file offsets: offset 91 (FUZZ_PREFIX_LEN)
 * is the first input byte.  The corpus seeds are fr-mkstream images with the
 * prefix cut off, or hand-made images whose pages sit at the next 4 KiB
 * boundary instead of 1 MiB (the parser only requires page alignment), so
 * that they stay small.  Offsets past the end of the input fail cleanly.
 */
#include "config.h"

#include <stdlib.h>

#include "fuzz-walk.h"

static const uint8_t prefix[] = {
    /* "QEVM", version 3 */
    0x51, 0x45, 0x56, 0x4d, 0x00, 0x00, 0x00, 0x03,
    /* CONFIGURATION: be32 14, "pc-i440fx-10.0" */
    0x07, 0x00, 0x00, 0x00, 0x0e,
    'p', 'c', '-', 'i', '4', '4', '0', 'f', 'x', '-', '1', '0', '.', '0',
    /* subsection "configuration/capabilities" v1: 1 capability */
    0x05, 0x1a,
    'c', 'o', 'n', 'f', 'i', 'g', 'u', 'r', 'a', 't', 'i', 'o', 'n', '/',
    'c', 'a', 'p', 'a', 'b', 'i', 'l', 'i', 't', 'i', 'e', 's',
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x0a, 'm', 'a', 'p', 'p', 'e', 'd', '-', 'r', 'a', 'm',
    /* SECTION_START id 1 "ram" instance 0 version 4 */
    0x01, 0x00, 0x00, 0x00, 0x01, 0x03, 'r', 'a', 'm',
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
};

#define FUZZ_PREFIX_LEN sizeof(prefix)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct savefile sf;
    size_t n = FUZZ_PREFIX_LEN + size;
    uint8_t *buf;

    _Static_assert(sizeof(prefix) == 91, "prefix of fr-mkstream images");
    /* exactly N bytes, so that ASan sees any read past the end */
    buf = malloc(n);
    if (!buf) {
        abort();
    }
    memcpy(buf, prefix, FUZZ_PREFIX_LEN);
    if (size) {
        memcpy(buf + FUZZ_PREFIX_LEN, data, size);
    }
    memset(&sf, 0, sizeof(sf));
    sf.name = "fuzz";
    sf.fd = -1;
    fr_src_open_mem(&sf.file, buf, n, &sf.err);
    sf.src = &sf.file;
    fuzz_walk(&sf, n);
    fr_src_close(&sf.file);
    fuzz_walk_fd(buf, n);
    free(buf);
    return 0;
}
