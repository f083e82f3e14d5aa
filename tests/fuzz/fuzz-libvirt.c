/*
 * Fuzz target: libvirt save images.  libvirt_hdr_read on the input, then,
 * as savefile_open does, the walk of the QEMU payload behind the header:
 * directly for the raw and sparse formats, through the in-process zstd
 * decoder for zstd.  gzip, bzip2, xz and lzop payloads need an external
 * program and are not walked here (the CLI mutation test covers them).
 */
#include "config.h"

#include "fuzz-walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct savefile sf;
    uint64_t limit = size;

    memset(&sf, 0, sizeof(sf));
    sf.name = "fuzz";
    sf.fd = -1;
    fr_src_open_mem(&sf.file, data, size, &sf.err);
    sf.src = &sf.file;
    if (libvirt_hdr_read(&sf.file, &sf.lv) < 0) {
        FUZZ_ASSERT(fr_failed(&sf.err));
        FUZZ_ASSERT(!sf.lv.xml && !sf.lv.cookie);
        goto out;
    }
    sf.libvirt = true;
    FUZZ_ASSERT(!fr_failed(&sf.err));
    FUZZ_ASSERT(sf.lv.xml && sf.lv.xml[0]);
    FUZZ_ASSERT(!sf.lv.cookie_offset || sf.lv.cookie);
    FUZZ_ASSERT(strlen(sf.lv.domain) < sizeof(sf.lv.domain));
    FUZZ_ASSERT(sf.lv.payload_offset == fr_src_tell(&sf.file));
    FUZZ_ASSERT(sf.lv.payload_offset <= size);
    FUZZ_ASSERT(libvirt_format_name(sf.lv.format) != NULL);
    if (libvirt_format_decompressor(sf.lv.format)) {
        goto out;
    }
    if (sf.lv.format == LIBVIRT_FMT_ZSTD) {
        if (fr_src_open_zstd(&sf.dec, &sf.file) < 0) {
            goto out;
        }
        sf.compression = "zstd";
        sf.src = &sf.dec;
        limit = UINT64_MAX;
    }
    fuzz_walk(&sf, limit);
out:
    if (sf.src == &sf.dec) {
        fr_src_close(&sf.dec);
    }
    fr_src_close(&sf.file);
    libvirt_hdr_free(&sf.lv);
    return 0;
}
