/*
 * armcpu: Arm vCPU registers from a "cpu" section body.  PSTATE travels
 * as the 4-byte "cpsr" field (PSTATE in AArch64 state, CPSR in AArch32);
 * the system registers as two arrays, their KVM-style ids and values.
 */
#include "armcpu.h"

#include <stdio.h>
#include <string.h>

/* The id of an AArch64 system register in cpreg_vmstate_indexes:
 * KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG | encoding. */
#define SYSREG(op0, op1, crn, crm, op2)                                    \
    (0x6030000000130000ull | (op0) << 14 | (op1) << 11 | (crn) << 7 |     \
     (crm) << 3 | (op2))

const char *const arm_sysreg_names[ARM_NSYSREGS] = {
    "sctlr_el1", "tcr_el1", "ttbr0_el1", "ttbr1_el1", "mair_el1",
    "vbar_el1", "esr_el1", "far_el1", "tpidr_el1", "hcr_el2",
};

static const uint64_t sysreg_ids[ARM_NSYSREGS] = {
    SYSREG(3, 0, 1, 0, 0),      /* SCTLR_EL1 */
    SYSREG(3, 0, 2, 0, 2),      /* TCR_EL1 */
    SYSREG(3, 0, 2, 0, 0),      /* TTBR0_EL1 */
    SYSREG(3, 0, 2, 0, 1),      /* TTBR1_EL1 */
    SYSREG(3, 0, 10, 2, 0),     /* MAIR_EL1 */
    SYSREG(3, 0, 12, 0, 0),     /* VBAR_EL1 */
    SYSREG(3, 0, 5, 2, 0),      /* ESR_EL1 */
    SYSREG(3, 0, 6, 0, 0),      /* FAR_EL1 */
    SYSREG(3, 0, 13, 0, 4),     /* TPIDR_EL1 */
    SYSREG(3, 4, 1, 1, 0),      /* HCR_EL2 */
};

#define PSTATE_nRW (1u << 4)

bool arm_cpu_is(const struct vmdesc_layout *l)
{
    return vmdesc_field_find(l, "env.xregs") != NULL;
}

/* The system registers among the coprocessor registers' ids and values
 * (the two arrays have the same length). */
static void read_sysregs(const struct vmdesc_layout *l, const uint8_t *body,
                         size_t len, struct arm_cpu *cpu)
{
    const struct vmdesc_field *ids =
        vmdesc_field_find(l, "cpreg_vmstate_indexes");
    const struct vmdesc_field *vals =
        vmdesc_field_find(l, "cpreg_vmstate_values");

    if (!ids || !vals || ids->count != vals->count) {
        return;
    }
    for (uint64_t i = 0; i < ids->count; i++) {
        uint64_t id, v;

        if (!vmdesc_field_u64(l, "cpreg_vmstate_indexes", i, body, len,
                              &id)) {
            return;
        }
        for (unsigned k = 0; k < ARM_NSYSREGS; k++) {
            if (id == sysreg_ids[k] &&
                vmdesc_field_u64(l, "cpreg_vmstate_values", i, body, len,
                                 &v)) {
                cpu->has_sysreg[k] = true;
                cpu->sysreg[k] = v;
            }
        }
    }
}

int arm_cpu_read(const struct vmdesc_layout *l, const uint8_t *body,
                 size_t len, struct arm_cpu *cpu, const char **missing)
{
    struct vmdesc_reader r = { l, body, len, NULL };
    bool ok = true;
    uint64_t v = 0;

    memset(cpu, 0, sizeof(*cpu));
    ok &= vmdesc_read(&r, "cpsr", 0, &v);
    cpu->pstate = (uint32_t)v;
    cpu->aarch64 = !(cpu->pstate & PSTATE_nRW);
    for (unsigned i = 0; i < 16; i++) {
        ok &= vmdesc_read(&r, "env.regs", i, &v);
        cpu->r[i] = (uint32_t)v;
    }
    for (unsigned i = 0; i < 31; i++) {
        ok &= vmdesc_read(&r, "env.xregs", i, &cpu->x[i]);
    }
    ok &= vmdesc_read(&r, "env.xregs", 31, &cpu->sp);
    ok &= vmdesc_read(&r, "env.pc", 0, &cpu->pc);
    for (unsigned i = 0; i < 4; i++) {
        ok &= vmdesc_read(&r, "env.sp_el", i, &cpu->sp_el[i]);
        ok &= vmdesc_read(&r, "env.elr_el", i, &cpu->elr_el[i]);
    }
    if (!ok) {
        *missing = r.missing;
        return -1;
    }
    read_sysregs(l, body, len, cpu);
    return 0;
}

const char *arm_cpu_mode(const struct arm_cpu *cpu, char *buf, size_t size)
{
    static const struct {
        unsigned bits;
        const char *name;
    } modes[] = {
        { 0x10, "usr" }, { 0x11, "fiq" }, { 0x12, "irq" }, { 0x13, "svc" },
        { 0x16, "mon" }, { 0x17, "abt" }, { 0x1a, "hyp" }, { 0x1b, "und" },
        { 0x1f, "sys" },
    };

    if (cpu->aarch64) {
        snprintf(buf, size, "EL%u%c", (cpu->pstate >> 2) & 3,
                 cpu->pstate & 1 ? 'h' : 't');
        return buf;
    }
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if ((cpu->pstate & 0x1f) == modes[i].bits) {
            return modes[i].name;
        }
    }
    snprintf(buf, size, "mode 0x%02x", cpu->pstate & 0x1f);
    return buf;
}
