/*
 * x86cpu: the registers of an x86 vCPU, read from its "cpu" section body
 * by the names QEMU's vmstate gives them (target/i386/machine.c:
 * env.regs, env.eip, env.cr[N], env.segs, ...), placed by the vmdesc.
 */
#ifndef FR_X86CPU_H
#define FR_X86CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdesc.h"

/* QEMU's order of env.regs and env.segs. */
enum { X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI,
       X86_RDI, X86_NREGS = 16 };
enum { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS, X86_NSEGS };

struct x86_seg {
    uint32_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t flags;             /* as QEMU keeps them (descriptor bits) */
};

struct x86_cpu {
    bool wide;                  /* 64-bit registers (qemu-system-x86_64) */
    uint64_t regs[X86_NREGS];   /* 8 of them without WIDE */
    uint64_t rip, rflags;
    uint64_t cr0, cr2, cr3, cr4;
    bool has_efer;
    uint64_t efer;
    bool has_hflags;
    uint32_t hflags;
    struct x86_seg segs[X86_NSEGS];
    bool has_tables;            /* LDT, TR, GDT and IDT */
    struct x86_seg ldt, tr, gdt, idt;
};

/* Names of env.regs in QEMU's order, lower case ("rax", ..., "r15"). */
extern const char *const x86_reg_names[X86_NREGS];
/* Names of env.segs ("es", ..., "gs"). */
extern const char *const x86_seg_names[X86_NSEGS];

/*
 * Read the registers from BODY[0..LEN) as layout L places them.
 * @return 0, or -1 with *MISSING naming the first register field that L
 * lacks or that lies past LEN (not an x86 vCPU, or a body cut short).
 */
int x86_cpu_read(const struct vmdesc_layout *l, const uint8_t *body,
                 size_t len, struct x86_cpu *cpu, const char **missing);

/* The operating mode: "real", "virtual-8086", "protected-16",
 * "protected-32", "compatibility" or "64-bit". */
const char *x86_cpu_mode(const struct x86_cpu *cpu);

/* The current privilege level (QEMU's hflags; SS.DPL without them). */
unsigned x86_cpu_cpl(const struct x86_cpu *cpu);

#endif
