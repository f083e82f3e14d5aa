/*
 * vmdesc: the JSON device description (QEMU_VM_VMDESCRIPTION) that QEMU
 * appends after the EOF token of a precopy stream, and the strict JSON
 * parser it is read with.  See FORMAT.md section 6.
 *
 * The parser is RFC 8259 JSON, bounded by the given length (no NUL
 * termination assumed), with nesting limited to VMDESC_MAX_DEPTH.  It
 * never recurses and allocates at most a constant factor of the input
 * size.
 */
#ifndef FR_VMDESC_H
#define FR_VMDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Deepest accepted nesting of arrays and objects. */
#define VMDESC_MAX_DEPTH 64

struct vmdesc_dev {
    char *name;            /* "name" (the section idstr), malloc'd */
    uint32_t instance_id;  /* "instance_id" */
    uint64_t size;         /* body size in bytes computed from the fields */
    bool size_known;       /* false if the description could not be summed */
};

struct vmdesc {
    uint32_t page_size;        /* "page_size", 0 if absent */
    bool has_configuration;    /* a "configuration" key was present */
    struct vmdesc_dev *devs;   /* "devices", in order */
    size_t ndevs;
};

/*
 * Check that BUF[0..LEN) is exactly one well-formed JSON value, with
 * optional whitespace around it.
 * @return 0, or -1 with ERR filled (FR_E_CORRUPT, offset BASE_OFF plus the
 * position of the problem; FR_E_NOMEM never happens here).
 */
int vmdesc_check_json(const uint8_t *buf, size_t len, uint64_t base_off,
                      struct fr_err *err);

/*
 * Parse a vmdesc: well-formed JSON whose top level is an object with a
 * "devices" array of objects, each with a string "name" and a number
 * "instance_id".  Unknown keys are ignored.  Each device's section body
 * size is summed from its "fields" and "subsections" as QEMU writes them
 * (FORMAT.md section 6); when the description cannot be summed (missing
 * sizes, overflow, shapes QEMU does not produce) size_known is false.
 * Error offsets are BASE_OFF plus the position in BUF.
 * @return 0 with OUT filled (the caller frees it with vmdesc_free), or -1
 * with ERR filled (FR_E_CORRUPT or FR_E_NOMEM) and OUT left empty.
 */
int vmdesc_parse(const uint8_t *buf, size_t len, uint64_t base_off,
                 struct vmdesc *out, struct fr_err *err);

/* Free what vmdesc_parse stored in VD and empty it.  VD may be empty. */
void vmdesc_free(struct vmdesc *vd);

#endif
