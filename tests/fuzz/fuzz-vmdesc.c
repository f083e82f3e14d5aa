/*
 * Fuzz target: the vmdesc JSON parser.  vmdesc_parse on the input, and
 * vmdesc_check_json (the same grammar without building a node table) as
 * a cross-check: the two must agree on syntax errors, and a vmdesc that
 * parses must be well-formed JSON.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "vmdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vmdesc vd;
    struct fr_err perr = { 0 }, cerr = { 0 };
    const uint64_t base = 0x1000;
    int p = vmdesc_parse(data, size, base, &vd, &perr);
    int c = vmdesc_check_json(data, size, base, &cerr);

    FUZZ_ASSERT((p < 0) == fr_failed(&perr));
    FUZZ_ASSERT((c < 0) == fr_failed(&cerr));
    if (c < 0) {
        /* a syntax error: parse must report the very same one */
        FUZZ_ASSERT(p < 0);
        FUZZ_ASSERT(cerr.kind == FR_E_CORRUPT);
        FUZZ_ASSERT(cerr.offset >= base && cerr.offset <= base + size);
        if (perr.kind != FR_E_NOMEM) {
            FUZZ_ASSERT(perr.offset == cerr.offset);
            FUZZ_ASSERT(strcmp(perr.what, cerr.what) == 0);
        }
    }
    if (p < 0) {
        FUZZ_ASSERT(perr.kind == FR_E_CORRUPT || perr.kind == FR_E_NOMEM);
        FUZZ_ASSERT(perr.offset == FR_NO_OFFSET ||
                    (perr.offset >= base && perr.offset <= base + size));
        FUZZ_ASSERT(vd.devs == NULL && vd.ndevs == 0);
        return 0;
    }
    FUZZ_ASSERT(vd.ndevs == 0 || vd.devs != NULL);
    FUZZ_ASSERT(vd.ndevs <= size);
    for (size_t i = 0; i < vd.ndevs; i++) {
        FUZZ_ASSERT(vd.devs[i].name != NULL);
        FUZZ_ASSERT(strlen(vd.devs[i].name) < size);
        FUZZ_ASSERT(vd.devs[i].size_known || vd.devs[i].size == 0);
    }
    vmdesc_free(&vd);
    FUZZ_ASSERT(vd.devs == NULL && vd.ndevs == 0);
    return 0;
}
