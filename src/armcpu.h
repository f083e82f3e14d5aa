/*
 * armcpu: the registers of an Arm vCPU (qemu-system-aarch64 or
 * qemu-system-arm), read from its "cpu" section body by the names QEMU's
 * vmstate gives them (target/arm/machine.c: env.xregs, env.pc, cpsr, ...,
 * and the system registers in cpreg_vmstate_indexes/values).
 */
#ifndef FR_ARMCPU_H
#define FR_ARMCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdesc.h"

/* The system registers shown, found by their encoding (op0, op1, CRn,
 * CRm, op2) among the vCPU's coprocessor registers. */
#define ARM_NSYSREGS 10

struct arm_cpu {
    bool aarch64;               /* PSTATE.nRW clear: AArch64 state */
    uint64_t x[31];             /* X0..X30 */
    uint64_t sp;                /* the current SP (xregs[31]) */
    uint64_t pc;
    uint32_t pstate;            /* PSTATE, or CPSR in AArch32 state */
    uint32_t r[16];             /* R0..R15 in AArch32 state */
    uint64_t sp_el[4], elr_el[4];   /* as QEMU last banked them */
    bool has_sysreg[ARM_NSYSREGS];
    uint64_t sysreg[ARM_NSYSREGS];
};

/* Names of the system registers, lower case ("sctlr_el1", ...). */
extern const char *const arm_sysreg_names[ARM_NSYSREGS];

/* Whether layout L describes an Arm vCPU (it has env.xregs). */
bool arm_cpu_is(const struct vmdesc_layout *l);

/*
 * Read the registers from BODY[0..LEN) as layout L places them.
 * @return 0, or -1 with *MISSING naming the first register field that L
 * lacks or that lies past LEN.  System registers that are not there are
 * left out (has_sysreg).
 */
int arm_cpu_read(const struct vmdesc_layout *l, const uint8_t *body,
                 size_t len, struct arm_cpu *cpu, const char **missing);

/* "EL1h", "EL0t", ... in AArch64 state; "usr", "svc", ... in AArch32. */
const char *arm_cpu_mode(const struct arm_cpu *cpu, char *buf, size_t size);

#endif
