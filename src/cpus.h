/*
 * cpus: the vCPU sections of a save file, read while it is walked.  Every
 * "cpu" device section keeps the first bytes of its body; at the end, the
 * vmdesc JSON says where each field sits in them (vmdesc_layouts).
 */
#ifndef FR_CPUS_H
#define FR_CPUS_H

#include <stddef.h>
#include <stdint.h>

#include "savefile.h"
#include "vmdesc.h"

/* Bytes kept of each vCPU section body: the registers come first (an x86
 * vCPU's control registers end before byte 1024; an arm vCPU's system
 * registers before byte 6144 with 328 of them, as -cpu max has). */
#define CPUS_KEEP 8192
/* vCPU sections kept at most, as many as QEMU allows an x86 machine:
 * 32 MiB of bodies at worst. */
#define CPUS_MAX 4096

struct cpu_section {
    uint32_t instance_id;
    uint64_t body_offset;       /* in the stream, for messages */
    uint64_t body_len;          /* the whole body */
    uint8_t *body;              /* its first KEPT bytes */
    size_t kept;
    const struct vmdesc_layout *layout;  /* NULL: not in the vmdesc */
};

struct cpus {
    struct fr_err *err;             /* the walk's: out of memory */
    const struct sf_summary *sum;   /* of the walk, for the vmdesc offset */
    struct cpu_section *cpu;        /* in stream order */
    size_t n;
    uint64_t unkept;                /* sections past CPUS_MAX */
    bool have_vmdesc;
    bool layout_failed;             /* the vmdesc could not be read */
    struct fr_err layout_err;       /* why */
    struct vmdesc_layout *layouts;
    size_t nlayouts;
    struct cpu_section *cur;        /* the body being read, or NULL */
};

/* Set V up to collect into C during the walk of SF that fills SUM. */
void cpus_visitor(struct cpus *c, struct savefile *sf,
                  const struct sf_summary *sum, struct sf_visitor *v);
void cpus_free(struct cpus *c);

#endif
