/*
 * x86cpu: x86 vCPU registers from a "cpu" section body.  vmstate writes
 * each integer big-endian in the size the vmdesc gives (target_ulong is 4
 * bytes in qemu-system-i386, 8 in qemu-system-x86_64).
 */
#include "x86cpu.h"

#include <stdio.h>
#include <string.h>

const char *const x86_reg_names[X86_NREGS] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

const char *const x86_seg_names[X86_NSEGS] = {
    "es", "cs", "ss", "ds", "fs", "gs",
};

/* Descriptor bits as QEMU keeps them in a segment's flags. */
#define DESC_DPL_SHIFT 13
#define DESC_L_MASK (1u << 21)
#define DESC_B_MASK (1u << 22)
#define CR0_PE 1u
#define EFLAGS_VM (1u << 17)
#define EFER_LMA (1u << 10)
#define HF_CPL_MASK 3u

/* Segment I of struct field NAME ("env.segs", "env.gdt", ...); a member
 * not found counts as NAME missing (the member names are built here). */
static bool get_seg(struct vmdesc_reader *r, const char *name,
                    uint64_t i, struct x86_seg *s)
{
    static const char *const members[4] = {
        "selector", "base", "limit", "flags",
    };
    uint64_t v[4];
    char member[32];

    for (unsigned k = 0; k < 4; k++) {
        snprintf(member, sizeof(member), "%s.%s", name, members[k]);
        if (!vmdesc_field_u64(r->l, member, i, r->body, r->len, &v[k])) {
            if (!r->missing) {
                r->missing = name;
            }
            return false;
        }
    }
    s->selector = (uint32_t)v[0];
    s->base = v[1];
    s->limit = (uint32_t)v[2];
    s->flags = (uint32_t)v[3];
    return true;
}

int x86_cpu_read(const struct vmdesc_layout *l, const uint8_t *body,
                 size_t len, struct x86_cpu *cpu, const char **missing)
{
    struct vmdesc_reader r = { l, body, len, NULL };
    const struct vmdesc_field *regs = vmdesc_field_find(l, "env.regs");
    unsigned nregs;
    bool ok = true;
    uint64_t v;

    memset(cpu, 0, sizeof(*cpu));
    cpu->wide = regs && regs->count == X86_NREGS && regs->size == 8;
    nregs = cpu->wide ? X86_NREGS : 8;
    for (unsigned i = 0; i < nregs; i++) {
        ok &= vmdesc_read(&r, "env.regs", i, &cpu->regs[i]);
    }
    ok &= vmdesc_read(&r, "env.eip", 0, &cpu->rip);
    ok &= vmdesc_read(&r, "env.eflags", 0, &cpu->rflags);
    ok &= vmdesc_read(&r, "env.cr[0]", 0, &cpu->cr0);
    ok &= vmdesc_read(&r, "env.cr[2]", 0, &cpu->cr2);
    ok &= vmdesc_read(&r, "env.cr[3]", 0, &cpu->cr3);
    ok &= vmdesc_read(&r, "env.cr[4]", 0, &cpu->cr4);
    for (unsigned i = 0; i < X86_NSEGS; i++) {
        ok &= get_seg(&r, "env.segs", i, &cpu->segs[i]);
    }
    if (!ok) {
        *missing = r.missing;
        return -1;
    }
    /* these may be absent (qemu-system-i386 has no EFER) */
    cpu->has_efer = vmdesc_read(&r, "env.efer", 0, &cpu->efer);
    cpu->has_hflags = vmdesc_read(&r, "env.hflags", 0, &v);
    cpu->hflags = (uint32_t)v;
    cpu->has_tables = get_seg(&r, "env.ldt", 0, &cpu->ldt) &&
                      get_seg(&r, "env.tr", 0, &cpu->tr) &&
                      get_seg(&r, "env.gdt", 0, &cpu->gdt) &&
                      get_seg(&r, "env.idt", 0, &cpu->idt);
    return 0;
}

const char *x86_cpu_mode(const struct x86_cpu *cpu)
{
    uint32_t cs = cpu->segs[X86_CS].flags;

    if (!(cpu->cr0 & CR0_PE)) {
        return "real";
    }
    if (cpu->has_efer && (cpu->efer & EFER_LMA)) {
        return cs & DESC_L_MASK ? "64-bit" : "compatibility";
    }
    if (cpu->rflags & EFLAGS_VM) {
        return "virtual-8086";
    }
    return cs & DESC_B_MASK ? "protected-32" : "protected-16";
}

unsigned x86_cpu_cpl(const struct x86_cpu *cpu)
{
    if (cpu->has_hflags) {
        return cpu->hflags & HF_CPL_MASK;
    }
    return (cpu->segs[X86_SS].flags >> DESC_DPL_SHIFT) & 3;
}
