/*
 * Fuzz target: the whole walk of a classic QEMU migration stream held in
 * memory (savevm framing, configuration, commands, device-body delimiting,
 * the RAM block list and page records, XBZRLE checks, vmdesc).  The input
 * is a file as it would be on disk, starting at the QEVM magic.
 */
#include "config.h"

#include "fuzz-walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct savefile sf;

    memset(&sf, 0, sizeof(sf));
    sf.name = "fuzz";
    sf.fd = -1;
    fr_src_open_mem(&sf.file, data, size, &sf.err);
    sf.src = &sf.file;
    fuzz_walk(&sf, size);
    fr_src_close(&sf.file);
    fuzz_walk_fd(data, size);
    return 0;
}
