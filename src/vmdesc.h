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

/*
 * Where a value sits in a device's section body: one of the device's own
 * fields, or a member of a struct field, named "FIELD.MEMBER" (for
 * example "env.segs.base").  Element I of COUNT is SIZE bytes at
 * OFFSET + I * STRIDE, big-endian as vmstate writes integers.
 */
struct vmdesc_field {
    char *name;            /* malloc'd */
    uint64_t offset;
    uint64_t stride;
    uint64_t count;
    uint64_t size;
};

/* The fields of one device whose places the description fixes. */
struct vmdesc_layout {
    uint32_t instance_id;
    struct vmdesc_field *fields;
    size_t nfields;
};

/*
 * For every device named NAME in the vmdesc BUF[0..LEN) (already checked
 * by vmdesc_parse), list its leading fields and their places: the fields
 * in order up to the first one whose place depends on the data (a field
 * without a size, or one split into several entries), and the members of
 * struct fields up to the first member without a size.  Subsections are
 * not listed.  Error offsets are BASE_OFF plus the position in BUF.
 * @return 0 with *OUT (free with vmdesc_layouts_free) and *N set, or -1
 * with ERR filled (FR_E_CORRUPT or FR_E_NOMEM).
 */
int vmdesc_layouts(const uint8_t *buf, size_t len, uint64_t base_off,
                   const char *name, struct vmdesc_layout **out, size_t *n,
                   struct fr_err *err);
void vmdesc_layouts_free(struct vmdesc_layout *l, size_t n);

/* Field NAME of L, or NULL. */
const struct vmdesc_field *vmdesc_field_find(const struct vmdesc_layout *l,
                                             const char *name);

/*
 * Element I of field NAME of L, read from the section body BODY[0..LEN)
 * as a big-endian integer of the field's size (1 to 8 bytes).  Returns
 * false when L has no such element, or it lies past LEN.
 */
bool vmdesc_field_u64(const struct vmdesc_layout *l, const char *name,
                      uint64_t i, const uint8_t *body, size_t len,
                      uint64_t *out);

/* Reads fields of one section body and remembers the first one missing,
 * so that a decoder can read them all and then say what was not there. */
struct vmdesc_reader {
    const struct vmdesc_layout *l;
    const uint8_t *body;
    size_t len;
    const char *missing;        /* the first NAME not found, or NULL */
};

/* vmdesc_field_u64 on R's body; NAME must outlive R (it is kept). */
bool vmdesc_read(struct vmdesc_reader *r, const char *name, uint64_t i,
                 uint64_t *out);

#endif
