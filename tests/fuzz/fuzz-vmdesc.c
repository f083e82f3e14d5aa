/*
 * Fuzz target: the vmdesc JSON parser.  vmdesc_parse on the input, and
 * vmdesc_check_json (the same grammar without building a node table) as
 * a cross-check: the two must agree on syntax errors, and a vmdesc that
 * parses must be well-formed JSON.  Then the field layouts of its first
 * device and of "cpu" (inspect --cpus), and the x86 and Arm registers
 * read with them from the input itself as a section body.
 */
#include "config.h"

#include <string.h>

#include "armcpu.h"
#include "fuzz.h"
#include "vmdesc.h"
#include "x86cpu.h"

/* The layouts of the devices named NAME: fields in order, each inside
 * the body so far as its place says, members inside their struct. */
static void check_layouts(const uint8_t *data, size_t size, const char *name)
{
    struct vmdesc_layout *l;
    struct fr_err err = { 0 };
    size_t n;

    if (vmdesc_layouts(data, size, 0, name, &l, &n, &err) < 0) {
        FUZZ_ASSERT(err.kind == FR_E_CORRUPT || err.kind == FR_E_NOMEM);
        FUZZ_ASSERT(l == NULL && n == 0);
        return;
    }
    FUZZ_ASSERT(n <= size);
    for (size_t i = 0; i < n; i++) {
        struct x86_cpu cpu;
        struct arm_cpu arm;
        const char *missing = NULL;
        char mode[16];

        for (size_t k = 0; k < l[i].nfields; k++) {
            const struct vmdesc_field *f = &l[i].fields[k];

            FUZZ_ASSERT(f->name != NULL && vmdesc_field_find(&l[i],
                                                             f->name));
            FUZZ_ASSERT(f->count == 0 || f->size == 0 ||
                        (f->count - 1) <= (UINT64_MAX - f->offset -
                                           f->size) / (f->stride ? f->stride
                                                                 : 1));
        }
        if (x86_cpu_read(&l[i], data, size, &cpu, &missing) < 0) {
            FUZZ_ASSERT(missing != NULL);
        } else {
            (void)x86_cpu_mode(&cpu);
            FUZZ_ASSERT(x86_cpu_cpl(&cpu) <= 3);
        }
        missing = NULL;
        if (arm_cpu_read(&l[i], data, size, &arm, &missing) < 0) {
            FUZZ_ASSERT(missing != NULL);
        } else {
            FUZZ_ASSERT(strlen(arm_cpu_mode(&arm, mode, sizeof(mode))) <
                        sizeof(mode));
        }
    }
    vmdesc_layouts_free(l, n);
}

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
    if (vd.ndevs) {
        check_layouts(data, size, vd.devs[0].name);
    }
    check_layouts(data, size, "cpu");
    vmdesc_free(&vd);
    FUZZ_ASSERT(vd.devs == NULL && vd.ndevs == 0);
    return 0;
}
