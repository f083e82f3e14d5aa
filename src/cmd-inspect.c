/*
 * fixedram inspect: what a save file holds, at a glance (human) or as
 * stable JSON for scripts.  The JSON keys are documented in fixedram(1).
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "armcpu.h"
#include "cmd.h"
#include "cpus.h"
#include "exit.h"
#include "output.h"
#include "physmap.h"
#include "savefile.h"
#include "x86cpu.h"

struct inspect_opts {
    enum fr_output output;
    bool map;
    bool cpus;
    int show;                   /* 0, OPT_XML or OPT_VMDESC */
    const char *path;
    const char *snapshot;
};

enum { OPT_OUTPUT = 0x100, OPT_XML, OPT_VMDESC, OPT_CPUS };

static const struct argp_option options[] = {
    { "output", OPT_OUTPUT, "FORMAT", 0,
      "Output format: human (default) or json", 0 },
    { "map", 'm', NULL, 0,
      "Also list, per RAM block, the extents of present, zero and absent "
      "pages", 0 },
    { "cpus", OPT_CPUS, NULL, 0,
      "Also show the registers of each x86 or Arm vCPU (general, control "
      "and system registers), as QEMU's 'info registers' prints them", 0 },
    { "xml", OPT_XML, NULL, 0,
      "Print only the domain XML of a libvirt save image, as stored", 0 },
    { "vmdesc", OPT_VMDESC, NULL, 0,
      "Print only QEMU's vmdesc JSON (the device state description), as "
      "stored", 0 },
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct inspect_opts *o = state->input;

    switch (key) {
    case 'l':
        o->snapshot = arg;
        return 0;
    case OPT_OUTPUT:
        if (fr_output_parse(arg, &o->output) < 0) {
            argp_error(state, "invalid output format '%s' (human or json)",
                       arg);
        }
        return 0;
    case 'm':
        o->map = true;
        return 0;
    case OPT_CPUS:
        o->cpus = true;
        return 0;
    case OPT_XML:
    case OPT_VMDESC:
        if (o->show && o->show != key) {
            argp_error(state, "--xml and --vmdesc cannot be combined");
        }
        o->show = key;
        return 0;
    case ARGP_KEY_ARG:
        if (o->path) {
            argp_error(state, "too many arguments");
        }
        o->path = arg;
        return 0;
    case ARGP_KEY_END:
        if (!o->path) {
            argp_error(state, "no input file given");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp inspect_argp = {
    options, parse_opt, "FILE",
    "Show what a QEMU migration file holds: container, layout, machine, "
    "capabilities, the oldest QEMU that restores it, RAM blocks with their "
    "present, zero and absent pages, where the guest sees its RAM, device "
    "sections and trailing data.  "
    "FILE may be '-' for standard input."
    "\v"
    "Exit status: 0 success, 1 the file could not be read or is invalid, "
    "64 bad command line.",
    NULL, NULL, NULL
};

enum page_state { PG_PRESENT, PG_ZERO, PG_ABSENT };
static const char *const state_names[] = { "present", "zero", "absent" };

static enum page_state page_state(const struct ram_state *rs,
                                  const struct ram_block *b, uint64_t i)
{
    if (rs->mapped_ram && b->mr_no_data) {
        return PG_ABSENT;
    }
    if (fr_bitmap_test(&b->present, i)) {
        return PG_PRESENT;
    }
    if (rs->mapped_ram || fr_bitmap_test(&b->sent, i)) {
        return PG_ZERO;
    }
    return PG_ABSENT;
}

/* The end of the run of pages in the same state as page I. */
static uint64_t extent_end(const struct ram_state *rs,
                           const struct ram_block *b, uint64_t i,
                           enum page_state st)
{
    if (rs->mapped_ram && b->mr_no_data) {
        return b->npages;
    }
    switch (st) {
    case PG_PRESENT:
        return fr_bitmap_next(&b->present, i, false);
    case PG_ZERO: {
        uint64_t e = fr_bitmap_next(&b->present, i, true);
        if (!rs->mapped_ram) {
            uint64_t u = fr_bitmap_next(&b->sent, i, false);
            e = u < e ? u : e;
        }
        return e;
    }
    default:
        return fr_bitmap_next(&b->sent, i, true);
    }
}

/*
 * The oldest QEMU that can restore the file: the destination must know the
 * machine type (named with the version that brought it, as
 * pc-i440fx-11.1), and the layout must be one it loads (mapped-ram from
 * 9.0; with x-ignore-shared from 11.0).  Returns false when nothing says,
 * else the version as MAJOR * 100 + MINOR in *VER and its reason in WHY.
 */
static bool min_qemu(const struct sv_config *cfg, const struct ram_state *rs,
                     unsigned *ver, char *why, size_t size)
{
    unsigned major, minor;
    int end = 0;
    const char *dash = cfg->present ? strrchr(cfg->machine, '-') : NULL;

    *ver = 0;
    if (dash && sscanf(dash + 1, "%3u.%3u%n", &major, &minor, &end) == 2 &&
        dash[1 + end] == '\0' && dash[1] >= '0' && dash[1] <= '9') {
        *ver = major * 100 + minor;
        snprintf(why, size, "machine type %s", cfg->machine);
    }
    if (rs->mapped_ram) {
        bool ign = sv_has_cap(cfg, "x-ignore-shared");
        unsigned need = ign ? 1100 : 900;
        if (need > *ver) {
            *ver = need;
            snprintf(why, size, "mapped-ram%s",
                     ign ? " with x-ignore-shared" : "");
        }
    }
    return *ver != 0;
}

static void uuid_string(const uint8_t *u, char out[37])
{
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
             u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* ---- --xml and --vmdesc ------------------------------------------------- */

/* TEXT as stored, ending with a newline. */
static void print_text(const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
    if (!len || text[len - 1] != '\n') {
        putchar('\n');
    }
}

static int print_vmdesc(void *opaque, const uint8_t *json, uint64_t len)
{
    bool *found = opaque;

    if (len) {
        print_text((const char *)json, (size_t)len);
        *found = true;
    }
    return 0;
}

/* The domain XML (no walk needed) or the vmdesc JSON of SF. */
static int show_stored(struct savefile *sf, struct sf_summary *sum, int what)
{
    bool found = false;
    const struct sf_visitor v = { .opaque = &found, .vmdesc = print_vmdesc };

    if (what == OPT_XML) {
        if (!sf->libvirt || !sf->lv.xml) {
            return fr_fail(&sf->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                           "not a libvirt save image: no domain XML");
        }
        print_text(sf->lv.xml, strlen(sf->lv.xml));
        return 0;
    }
    if (savefile_walk(sf, sum, &v) < 0) {
        return -1;
    }
    if (!found) {
        return fr_fail(&sf->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "the stream has no vmdesc JSON");
    }
    return 0;
}

/* ---- --cpus -------------------------------------------------------------- */

/* The registers of one vCPU, of either architecture. */
struct vcpu {
    bool arm;
    struct x86_cpu x86;
    struct arm_cpu a;
};

/*
 * Read the registers of vCPU section C of CS into V.  Returns NULL, or
 * why they cannot be read (in BUF or a constant).
 */
static const char *cpu_registers(const struct cpus *cs,
                                 const struct cpu_section *c, struct vcpu *v,
                                 char *buf, size_t size)
{
    const char *missing;
    int r;

    if (!cs->have_vmdesc) {
        return "the file has no vmdesc JSON to place them";
    }
    if (cs->layout_failed) {
        snprintf(buf, size, "%s (at 0x%" PRIx64 ")", cs->layout_err.what,
                 cs->layout_err.offset);
        return buf;
    }
    if (!c->layout) {
        return "the vmdesc does not describe this vCPU";
    }
    v->arm = arm_cpu_is(c->layout);
    r = v->arm ? arm_cpu_read(c->layout, c->body, c->kept, &v->a, &missing)
               : x86_cpu_read(c->layout, c->body, c->kept, &v->x86,
                              &missing);
    if (r == 0) {
        return NULL;
    }
    if (!vmdesc_field_find(c->layout, missing)) {
        snprintf(buf, size, "neither an x86 nor an Arm vCPU (no field %s)",
                 missing);
    } else if (c->kept < c->body_len) {
        snprintf(buf, size, "field %s lies past the first %d bytes",
                 missing, CPUS_KEEP);
    } else {
        snprintf(buf, size, "field %s cannot be read from the section's "
                 "%" PRIu64 " bytes", missing, c->body_len);
    }
    return buf;
}

static void json_seg(struct fr_json *j, const char *key,
                     const struct x86_seg *seg)
{
    fr_json_begin_object(j, key);
    fr_json_u64(j, "selector", seg->selector);
    fr_json_u64(j, "base", seg->base);
    fr_json_u64(j, "limit", seg->limit);
    fr_json_u64(j, "flags", seg->flags);
    fr_json_end_object(j);
}

static void json_x86(struct fr_json *j, const struct x86_cpu *cpu)
{
    fr_json_string(j, "arch", cpu->wide ? "x86_64" : "i386");
    fr_json_string(j, "mode", x86_cpu_mode(cpu));
    fr_json_u64(j, "cpl", x86_cpu_cpl(cpu));
    fr_json_begin_object(j, "registers");
    for (unsigned r = 0; r < (cpu->wide ? X86_NREGS : 8u); r++) {
        fr_json_u64(j, x86_reg_names[r], cpu->regs[r]);
    }
    fr_json_u64(j, "rip", cpu->rip);
    fr_json_u64(j, "rflags", cpu->rflags);
    fr_json_u64(j, "cr0", cpu->cr0);
    fr_json_u64(j, "cr2", cpu->cr2);
    fr_json_u64(j, "cr3", cpu->cr3);
    fr_json_u64(j, "cr4", cpu->cr4);
    if (cpu->has_efer) {
        fr_json_u64(j, "efer", cpu->efer);
    }
    fr_json_end_object(j);
    fr_json_begin_object(j, "segments");
    for (unsigned r = 0; r < X86_NSEGS; r++) {
        json_seg(j, x86_seg_names[r], &cpu->segs[r]);
    }
    if (cpu->has_tables) {
        json_seg(j, "ldt", &cpu->ldt);
        json_seg(j, "tr", &cpu->tr);
        json_seg(j, "gdt", &cpu->gdt);
        json_seg(j, "idt", &cpu->idt);
    }
    fr_json_end_object(j);
}

static void json_arm(struct fr_json *j, const struct arm_cpu *cpu)
{
    char name[16], mode[16];

    fr_json_string(j, "arch", cpu->aarch64 ? "aarch64" : "arm");
    fr_json_string(j, "mode", arm_cpu_mode(cpu, mode, sizeof(mode)));
    fr_json_begin_object(j, "registers");
    if (cpu->aarch64) {
        for (unsigned r = 0; r < 31; r++) {
            snprintf(name, sizeof(name), "x%u", r);
            fr_json_u64(j, name, cpu->x[r]);
        }
        fr_json_u64(j, "sp", cpu->sp);
        fr_json_u64(j, "pc", cpu->pc);
        fr_json_u64(j, "pstate", cpu->pstate);
    } else {
        for (unsigned r = 0; r < 16; r++) {
            snprintf(name, sizeof(name), "r%u", r);
            fr_json_u64(j, name, cpu->r[r]);
        }
        fr_json_u64(j, "cpsr", cpu->pstate);
    }
    for (unsigned r = 0; r < 4; r++) {
        snprintf(name, sizeof(name), "sp_el%u", r);
        fr_json_u64(j, name, cpu->sp_el[r]);
    }
    for (unsigned r = 1; r < 4; r++) {
        snprintf(name, sizeof(name), "elr_el%u", r);
        fr_json_u64(j, name, cpu->elr_el[r]);
    }
    fr_json_end_object(j);
    fr_json_begin_object(j, "system_registers");
    for (unsigned r = 0; r < ARM_NSYSREGS; r++) {
        if (cpu->has_sysreg[r]) {
            fr_json_u64(j, arm_sysreg_names[r], cpu->sysreg[r]);
        }
    }
    fr_json_end_object(j);
}

static void json_cpus(struct fr_json *j, const struct cpus *cs)
{
    fr_json_begin_array(j, "cpus");
    for (size_t i = 0; i < cs->n; i++) {
        const struct cpu_section *c = &cs->cpu[i];
        struct vcpu v;
        char buf[400];
        const char *why = cpu_registers(cs, c, &v, buf, sizeof(buf));

        fr_json_begin_object(j, NULL);
        fr_json_u64(j, "instance", c->instance_id);
        fr_json_u64(j, "body_offset", c->body_offset);
        if (why) {
            fr_json_null(j, "arch");
            fr_json_string(j, "error", why);
        } else if (v.arm) {
            json_arm(j, &v.a);
        } else {
            json_x86(j, &v.x86);
        }
        fr_json_end_object(j);
    }
    fr_json_end_array(j);
    fr_json_u64(j, "cpus_not_listed", cs->unkept);
}

/* One register in QEMU's "info registers" style: NAME=hex, 16 digits for
 * a 64-bit vCPU, 8 otherwise. */
static void print_reg(const struct x86_cpu *cpu, const char *name,
                      uint64_t v, const char *sep)
{
    printf("%s=%0*" PRIx64 "%s", name, cpu->wide ? 16 : 8, v, sep);
}

static void print_seg(const struct x86_cpu *cpu, const char *name,
                      const struct x86_seg *seg)
{
    printf("  %s=%04" PRIx32 " %0*" PRIx64 " %08" PRIx32 " %08" PRIx32 "\n",
           name, seg->selector, cpu->wide ? 16 : 8, seg->base, seg->limit,
           seg->flags);
}

/* The registers of CPU as QEMU's "info registers" lays them out (without
 * its decoded flags), 64-bit names for a 64-bit vCPU. */
static void print_x86(const struct x86_cpu *cpu)
{
    static const int order[16] = {
        X86_RAX, X86_RBX, X86_RCX, X86_RDX, X86_RSI, X86_RDI, X86_RBP,
        X86_RSP, 8, 9, 10, 11, 12, 13, 14, 15,
    };
    static const char *const wide[16] = {
        "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
        "R8 ", "R9 ", "R10", "R11", "R12", "R13", "R14", "R15",
    };
    static const char *const narrow[8] = {
        "EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP",
    };
    static const char *const segs[X86_NSEGS] = {
        "ES ", "CS ", "SS ", "DS ", "FS ", "GS ",
    };
    unsigned n = cpu->wide ? 16 : 8;

    for (unsigned i = 0; i < n; i++) {
        printf("%s", i % 4 ? "" : "  ");
        print_reg(cpu, cpu->wide ? wide[i] : narrow[i], cpu->regs[order[i]],
                  i % 4 == 3 ? "\n" : " ");
    }
    printf("  ");
    print_reg(cpu, cpu->wide ? "RIP" : "EIP", cpu->rip, " ");
    printf("%s=%08" PRIx64 "\n", cpu->wide ? "RFL" : "EFL", cpu->rflags);
    for (unsigned i = 0; i < X86_NSEGS; i++) {
        print_seg(cpu, segs[i], &cpu->segs[i]);
    }
    if (cpu->has_tables) {
        print_seg(cpu, "LDT", &cpu->ldt);
        print_seg(cpu, "TR ", &cpu->tr);
        printf("  GDT=     %0*" PRIx64 " %08" PRIx32 "\n", cpu->wide ? 16 : 8,
               cpu->gdt.base, cpu->gdt.limit);
        printf("  IDT=     %0*" PRIx64 " %08" PRIx32 "\n", cpu->wide ? 16 : 8,
               cpu->idt.base, cpu->idt.limit);
    }
    printf("  CR0=%08" PRIx64 " ", cpu->cr0);
    print_reg(cpu, "CR2", cpu->cr2, " ");
    print_reg(cpu, "CR3", cpu->cr3, " ");
    printf("CR4=%08" PRIx64 "\n", cpu->cr4);
    if (cpu->has_efer) {
        printf("  EFER=%016" PRIx64 "\n", cpu->efer);
    }
}

/* The same for an Arm vCPU: QEMU's layout for the general registers, then
 * the banked stack pointers and link registers, and the system registers
 * found. */
static void print_arm(const struct arm_cpu *cpu)
{
    unsigned col = 0;

    if (cpu->aarch64) {
        printf("   PC=%016" PRIx64 " ", cpu->pc);
        for (unsigned i = 0; i < 31; i++) {
            printf("%sX%02u=%016" PRIx64 "%s", (i + 2) % 3 == 1 ? "  " : "",
                   i, cpu->x[i], (i + 2) % 3 ? " " : "\n");
        }
        printf(" SP=%016" PRIx64 "\n  PSTATE=%08" PRIx32 "\n", cpu->sp,
               cpu->pstate);
    } else {
        for (unsigned i = 0; i < 16; i++) {
            printf("%sR%02u=%08" PRIx32 "%s", i % 4 ? "" : "  ", i,
                   cpu->r[i], i % 4 == 3 ? "\n" : " ");
        }
        printf("  PSR=%08" PRIx32 "\n", cpu->pstate);
    }
    printf("  SP_EL0=%016" PRIx64 " SP_EL1=%016" PRIx64 " SP_EL2=%016"
           PRIx64 "\n  ELR_EL1=%016" PRIx64 " ELR_EL2=%016" PRIx64 "\n",
           cpu->sp_el[0], cpu->sp_el[1], cpu->sp_el[2], cpu->elr_el[1],
           cpu->elr_el[2]);
    for (unsigned i = 0; i < ARM_NSYSREGS; i++) {
        if (!cpu->has_sysreg[i]) {
            continue;
        }
        printf("%s", col ? "" : "  ");
        for (const char *p = arm_sysreg_names[i]; *p; p++) {
            putchar(toupper((unsigned char)*p));
        }
        printf("=%016" PRIx64 "%s", cpu->sysreg[i], col == 2 ? "\n" : " ");
        col = (col + 1) % 3;
    }
    if (col) {
        putchar('\n');
    }
}

static void print_cpus(const struct cpus *cs)
{
    printf("\nvCPU sections:   %zu", cs->n);
    if (cs->unkept) {
        printf(" (%" PRIu64 " more, not shown)", cs->unkept);
    }
    putchar('\n');
    for (size_t i = 0; i < cs->n; i++) {
        const struct cpu_section *c = &cs->cpu[i];
        struct vcpu v;
        char buf[400], mode[16];
        const char *why = cpu_registers(cs, c, &v, buf, sizeof(buf));

        printf("vCPU %" PRIu32 " (body at 0x%" PRIx64 "): ", c->instance_id,
               c->body_offset);
        if (why) {
            printf("registers unknown: %s\n", why);
        } else if (v.arm) {
            printf("%s, %s\n", v.a.aarch64 ? "aarch64" : "arm",
                   arm_cpu_mode(&v.a, mode, sizeof(mode)));
            print_arm(&v.a);
        } else {
            printf("%s, %s mode, CPL %u\n", v.x86.wide ? "x86_64" : "i386",
                   x86_cpu_mode(&v.x86), x86_cpu_cpl(&v.x86));
            print_x86(&v.x86);
        }
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_extents(struct fr_json *j, const struct ram_state *rs,
                         const struct ram_block *b)
{
    fr_json_begin_array(j, "extents");
    for (uint64_t i = 0; i < b->npages;) {
        enum page_state st = page_state(rs, b, i);
        uint64_t e = extent_end(rs, b, i, st);
        fr_json_begin_object(j, NULL);
        fr_json_u64(j, "start", i * rs->page_size);
        fr_json_u64(j, "length", (e - i) * rs->page_size);
        fr_json_string(j, "state", state_names[st]);
        if (rs->mapped_ram && st == PG_PRESENT) {
            fr_json_u64(j, "offset", b->mr.pages_offset + i * rs->page_size);
        }
        fr_json_end_object(j);
        i = e;
    }
    fr_json_end_array(j);
}

/* Where the guest sees its RAM, by QEMU's default rules (physmap.h), or
 * null where they are not known. */
static void json_physical(struct fr_json *j, const struct sv_config *cfg,
                          const struct ram_state *rs)
{
    struct physmap pm;
    struct fr_err err = { 0 };

    if (physmap_build(&pm, cfg, rs, 0, &err) < 0) {
        fr_json_null(j, "physical_map");
        return;
    }
    fr_json_begin_array(j, "physical_map");
    for (size_t i = 0; i < pm.n; i++) {
        fr_json_begin_object(j, NULL);
        fr_json_u64(j, "address", pm.piece[i].addr);
        fr_json_u64(j, "length", pm.piece[i].len);
        fr_json_string(j, "block", rs->blocks[pm.piece[i].block].name);
        fr_json_u64(j, "offset", pm.piece[i].offset);
        fr_json_end_object(j);
    }
    fr_json_end_array(j);
    physmap_free(&pm);
}

static void print_physical(const struct sv_config *cfg,
                           const struct ram_state *rs)
{
    struct physmap pm;
    struct fr_err err = { 0 };

    if (physmap_build(&pm, cfg, rs, 0, &err) < 0) {
        return;
    }
    for (size_t i = 0; i < pm.n; i++) {
        const struct physmap_piece *p = &pm.piece[i];
        printf("%s0x%016" PRIx64 "-0x%016" PRIx64 " %s +0x%" PRIx64 "\n",
               i ? "                 " : "\nguest-physical:  ", p->addr,
               p->addr + p->len - 1, rs->blocks[p->block].name, p->offset);
    }
    physmap_free(&pm);
}

static void json_block(struct fr_json *j, const struct ram_state *rs,
                       const struct ram_block *b, bool map)
{
    uint64_t present, zero, absent;

    ram_block_counts(rs, b, &present, &zero, &absent);
    fr_json_begin_object(j, NULL);
    fr_json_string(j, "name", b->name);
    fr_json_u64(j, "length", b->length);
    fr_json_u64(j, "pages", b->npages);
    fr_json_u64(j, "present", present);
    fr_json_u64(j, "zero", zero);
    fr_json_u64(j, "absent", absent);
    if (b->has_page_size) {
        fr_json_u64(j, "page_size", b->page_size);
    }
    if (b->has_mr_addr) {
        fr_json_u64(j, "mr_addr", b->mr_addr);
    }
    if (rs->mapped_ram) {
        fr_json_u64(j, "header_offset", b->mr_offset);
        fr_json_u64(j, "mapped_ram_version", b->mr.version);
        fr_json_u64(j, "bitmap_offset", b->mr.bitmap_offset);
        fr_json_u64(j, "pages_offset", b->mr.pages_offset);
        fr_json_u64(j, "stray_bits", b->stray_bits);
    } else {
        fr_json_begin_object(j, "records");
        fr_json_u64(j, "page", b->n_page);
        fr_json_u64(j, "zero", b->n_zero);
        fr_json_u64(j, "xbzrle", b->n_xbzrle);
        fr_json_u64(j, "resent", b->n_resent);
        fr_json_end_object(j);
    }
    if (map) {
        json_extents(j, rs, b);
    }
    fr_json_end_object(j);
}

static void json_snapshot(struct fr_json *j, const char *key,
                          const struct qcow2_snapshot *sn)
{
    fr_json_begin_object(j, key);
    fr_json_string(j, "id", sn->id);
    fr_json_string(j, "name", sn->name);
    fr_json_u64(j, "date", sn->date_sec);
    fr_json_u64(j, "vm_clock_ns", sn->vm_clock_nsec);
    fr_json_u64(j, "vmstate_size", sn->vmstate_size);
    fr_json_u64(j, "disk_size", sn->disk_size);
    fr_json_end_object(j);
}

static void json_qcow2(struct fr_json *j, const struct savefile *sf)
{
    const struct qcow2 *q = &sf->qcow2;

    fr_json_begin_object(j, "container");
    fr_json_string(j, "type", "qcow2");
    fr_json_u64(j, "version", q->version);
    fr_json_u64(j, "cluster_size", 1ull << q->cluster_bits);
    fr_json_bool(j, "extended_l2", q->extended_l2);
    fr_json_u64(j, "disk_size", q->disk_size);
    json_snapshot(j, "snapshot", sf->snapshot);
    fr_json_begin_array(j, "snapshots");
    for (uint32_t i = 0; i < q->nsnaps; i++) {
        json_snapshot(j, NULL, &q->snaps[i]);
    }
    fr_json_end_array(j);
    fr_json_end_object(j);
}

static void print_json(const struct savefile *sf, const struct sf_summary *sum,
                       bool map, const struct cpus *cs)
{
    const struct sv_config *cfg = &sum->sv.cfg;
    const struct ram_state *rs = &sum->ram;
    bool regular = S_ISREG(sf->st.st_mode);
    struct fr_json j;

    fr_json_init(&j, stdout);
    fr_json_begin_object(&j, NULL);
    fr_json_string(&j, "file", sf->name);
    if (regular) {
        fr_json_u64(&j, "file_size", (uint64_t)sf->st.st_size);
        fr_json_u64(&j, "allocated_size", (uint64_t)sf->st.st_blocks * 512);
    } else {
        fr_json_null(&j, "file_size");
        fr_json_null(&j, "allocated_size");
    }
    if (sf->libvirt) {
        fr_json_begin_object(&j, "container");
        fr_json_string(&j, "type", "libvirt");
        fr_json_string(&j, "format", libvirt_format_name(sf->lv.format));
        fr_json_bool(&j, "complete", sf->lv.complete);
        fr_json_u64(&j, "version", sf->lv.version);
        fr_json_string(&j, "byte_order", sf->lv.swapped ? "swapped"
                                                        : "native");
        fr_json_bool(&j, "was_running", sf->lv.was_running != 0);
        fr_json_string(&j, "domain", sf->lv.domain);
        fr_json_u64(&j, "xml_length", strlen(sf->lv.xml));
        fr_json_bool(&j, "cookie", sf->lv.cookie != NULL);
        fr_json_u64(&j, "data_length", sf->lv.data_len);
        fr_json_u64(&j, "payload_offset", sf->lv.payload_offset);
        fr_json_end_object(&j);
    } else if (sf->is_qcow2) {
        json_qcow2(&j, sf);
    } else {
        fr_json_null(&j, "container");
    }
    fr_json_string(&j, "compression", sf->compression);
    fr_json_string(&j, "format", savefile_layout(sum));
    fr_json_u64(&j, "stream_offset", sf->stream_offset);
    fr_json_u64(&j, "version", sum->sv.version);
    fr_json_string(&j, "machine", cfg->present ? cfg->machine : NULL);
    fr_json_begin_array(&j, "capabilities");
    for (size_t i = 0; i < cfg->ncaps; i++) {
        fr_json_string(&j, NULL, cfg->caps[i]);
    }
    fr_json_end_array(&j);
    if (cfg->has_uuid) {
        char u[37];
        uuid_string(cfg->uuid, u);
        fr_json_string(&j, "uuid", u);
    } else {
        fr_json_null(&j, "uuid");
    }
    unsigned ver;
    char why[SV_MAX_MACHINE + 32], v[16];
    if (min_qemu(cfg, rs, &ver, why, sizeof(why))) {
        snprintf(v, sizeof(v), "%u.%u", ver / 100, ver % 100);
        fr_json_begin_object(&j, "min_qemu");
        fr_json_string(&j, "version", v);
        fr_json_string(&j, "reason", why);
        fr_json_end_object(&j);
    } else {
        fr_json_null(&j, "min_qemu");
    }
    fr_json_u64(&j, "page_size", rs->page_size);
    fr_json_u64(&j, "ram_total", rs->total);
    json_physical(&j, cfg, rs);
    fr_json_begin_array(&j, "ramblocks");
    for (size_t i = 0; i < rs->nblocks; i++) {
        json_block(&j, rs, &rs->blocks[i], map);
    }
    fr_json_end_array(&j);
    fr_json_begin_object(&j, "records");
    fr_json_u64(&j, "page", rs->n_page);
    fr_json_u64(&j, "zero", rs->n_zero);
    fr_json_u64(&j, "xbzrle", rs->n_xbzrle);
    fr_json_u64(&j, "resent", rs->n_resent);
    fr_json_u64(&j, "multifd_flush", rs->n_flush);
    fr_json_end_object(&j);
    fr_json_u64(&j, "ram_sections", rs->n_sections);
    fr_json_begin_array(&j, "devices");
    for (size_t i = 0; i < sum->ndevs; i++) {
        const struct sf_device *d = &sum->devs[i];
        const struct sv_section *sec = sf_device_section(sum, d);
        fr_json_begin_object(&j, NULL);
        fr_json_u64(&j, "id", sec->id);
        fr_json_string(&j, "name", sec->idstr);
        fr_json_u64(&j, "instance", sec->instance);
        fr_json_u64(&j, "version", sec->version);
        fr_json_string(&j, "type", sv_type_name(d->type));
        fr_json_u64(&j, "offset", d->offset);
        fr_json_u64(&j, "size", d->body_len);
        fr_json_string(&j, "delimited_by", d->delim == SV_DELIM_VMDESC
                                               ? "vmdesc" : "footer");
        fr_json_end_object(&j);
    }
    fr_json_end_array(&j);
    fr_json_u64(&j, "devices_not_listed", sum->devs_unlisted);
    fr_json_u64(&j, "device_bytes", sum->device_bytes);
    fr_json_begin_array(&j, "commands");
    for (size_t i = 0; i < sum->ncmds; i++) {
        fr_json_begin_object(&j, NULL);
        fr_json_string(&j, "name", sv_cmd_name(sum->cmds[i].cmd));
        fr_json_u64(&j, "cmd", sum->cmds[i].cmd);
        fr_json_u64(&j, "length", sum->cmds[i].len);
        fr_json_u64(&j, "offset", sum->cmds[i].offset);
        fr_json_end_object(&j);
    }
    fr_json_end_array(&j);
    fr_json_u64(&j, "commands_not_listed", sum->cmds_unlisted);
    fr_json_bool(&j, "section_footers", sum->sv.footers == SV_FOOTERS_ON);
    fr_json_u64(&j, "eof_offset", sum->eof_offset);
    if (sum->have_vmdesc) {
        fr_json_begin_object(&j, "vmdesc");
        fr_json_u64(&j, "offset", sum->vmdesc_offset);
        fr_json_u64(&j, "length", sum->vmdesc_len);
        fr_json_end_object(&j);
    } else {
        fr_json_null(&j, "vmdesc");
    }
    fr_json_u64(&j, "stream_end", sum->end_offset);
    fr_json_u64(&j, "trailing_bytes", sum->trailing);
    if (cs) {
        json_cpus(&j, cs);
    }
    fr_json_end_object(&j);
    fr_json_finish(&j);
}

/* ---- human --------------------------------------------------------------- */

static void print_map(const struct ram_state *rs, const struct ram_block *b)
{
    printf("\n%s:\n  %-18s %-18s %-8s %s\n", b->name, "START", "LENGTH",
           "STATE", rs->mapped_ram ? "FILE OFFSET" : "");
    for (uint64_t i = 0; i < b->npages;) {
        enum page_state st = page_state(rs, b, i);
        uint64_t e = extent_end(rs, b, i, st);
        printf("  0x%-16" PRIx64 " 0x%-16" PRIx64 " %-8s", i * rs->page_size,
               (e - i) * rs->page_size, state_names[st]);
        if (rs->mapped_ram && st == PG_PRESENT) {
            printf(" 0x%" PRIx64, b->mr.pages_offset + i * rs->page_size);
        }
        putchar('\n');
        i = e;
    }
}

/* One line per device section: an iterative one (START, then PART and END
 * sections, which QEMU may send in every iteration: once per ram section
 * with the dirty-bitmaps capability) with the bytes and count of its
 * listed parts, START included.  Returns 0, or -1 when out of memory. */
static int print_devices(const struct sf_summary *sum)
{
    size_t nsecs = sum->sv.nsecs, nlines = 0, niter = 0;
    uint64_t *parts = calloc(2 * nsecs + 1, sizeof(*parts));
    uint64_t *bytes = parts + nsecs, nparts = sum->devs_unlisted;

    if (!parts) {
        return -1;
    }
    for (size_t i = 0; i < sum->ndevs; i++) {
        const struct sf_device *d = &sum->devs[i];
        parts[d->sec]++;
        bytes[d->sec] += d->body_len;
        nlines += d->type == SV_FULL || d->type == SV_START;
        niter += d->type == SV_START;
        nparts += d->type != SV_FULL;
    }
    printf("\ndevice sections: %zu", nlines);
    if (niter) {
        printf(" (%zu iterative, in %" PRIu64 " parts)", niter, nparts);
    }
    printf(", %" PRIu64 " bytes%s\n", sum->device_bytes,
           sum->vmdesc_used ? " (sized by vmdesc)" : "");
    for (size_t i = 0; i < sum->ndevs; i++) {
        const struct sf_device *d = &sum->devs[i];
        const struct sv_section *sec = sf_device_section(sum, d);
        if (d->type != SV_FULL && d->type != SV_START) {
            continue;   /* counted in its START's line */
        }
        printf("  %4u %-32s inst %-3u v%-3u %8" PRIu64 " bytes at 0x%"
               PRIx64, sec->id, sec->idstr, sec->instance, sec->version,
               bytes[d->sec], d->offset);
        if (d->type == SV_START) {
            printf(", %" PRIu64 " parts", parts[d->sec]);
        }
        putchar('\n');
    }
    if (sum->devs_unlisted) {
        printf("  (%" PRIu64 " more part and end sections, not listed)\n",
               sum->devs_unlisted);
    }
    free(parts);
    return 0;
}

static void print_qcow2(const struct savefile *sf)
{
    const struct qcow2 *q = &sf->qcow2;
    const struct qcow2_snapshot *sn = sf->snapshot;
    char a[32], b[32], date[32] = "?";
    time_t t = (time_t)sn->date_sec;
    struct tm tm;

    if (gmtime_r(&t, &tm)) {
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
    printf("container:       qcow2 image, version %u, %s clusters%s, "
           "%s disk\n", q->version,
           fr_human_size(1ull << q->cluster_bits, a, sizeof(a)),
           q->extended_l2 ? " (extended L2)" : "",
           fr_human_size(q->disk_size, b, sizeof(b)));
    printf("snapshot:        %s '%s', taken %s, VM clock %.3f s "
           "(%u of %u hold a VM state)\n", sn->id, sn->name, date,
           (double)sn->vm_clock_nsec / 1e9, qcow2_vmstate_count(q),
           q->nsnaps);
    printf("VM state:        %" PRIu64 " bytes (%s; offsets below are in "
           "it)\n", sn->vmstate_size,
           fr_human_size(sn->vmstate_size, a, sizeof(a)));
}

static int print_human(const struct savefile *sf,
                       const struct sf_summary *sum, bool map,
                       const struct cpus *cs)
{
    const struct sv_config *cfg = &sum->sv.cfg;
    const struct ram_state *rs = &sum->ram;
    char a[32], b[32];

    printf("file:            %s\n", sf->name);
    if (S_ISREG(sf->st.st_mode)) {
        printf("file size:       %" PRIu64 " bytes (%s), %s allocated\n",
               (uint64_t)sf->st.st_size,
               fr_human_size((uint64_t)sf->st.st_size, a, sizeof(a)),
               fr_human_size((uint64_t)sf->st.st_blocks * 512, b,
                             sizeof(b)));
    }
    if (sf->libvirt) {
        printf("container:       libvirt save image, format %s, %s, "
               "domain '%s'%s\n", libvirt_format_name(sf->lv.format),
               sf->lv.complete ? "complete" : "INCOMPLETE (Part magic)",
               sf->lv.domain, sf->lv.was_running ? ", was running" : "");
        printf("libvirt header:  version %u, %u bytes of XML data, QEMU "
               "stream at 0x%" PRIx64 "\n", sf->lv.version, sf->lv.data_len,
               sf->lv.payload_offset);
    }
    if (sf->is_qcow2) {
        print_qcow2(sf);
    }
    if (sf->compression) {
        printf("compression:     %s (offsets below are in the decompressed "
               "stream)\n", sf->compression);
    }
    printf("layout:          %s\n", rs->mapped_ram ? "mapped-ram image"
                                                   : "classic stream");
    printf("machine:         %s\n", cfg->present ? cfg->machine
                                                 : "(no configuration)");
    printf("capabilities:   ");
    for (size_t i = 0; i < cfg->ncaps; i++) {
        printf(" %s", cfg->caps[i]);
    }
    printf("%s\n", cfg->ncaps ? "" : " (none)");
    unsigned ver;
    char why[SV_MAX_MACHINE + 32];
    if (min_qemu(cfg, rs, &ver, why, sizeof(why))) {
        printf("restores in:     QEMU %u.%u or later (%s)\n", ver / 100,
               ver % 100, why);
    }
    printf("page size:       %u\n", rs->page_size);
    printf("ram:             %s in %zu blocks\n",
           fr_human_size(rs->total, a, sizeof(a)), rs->nblocks);
    if (!rs->mapped_ram) {
        printf("page records:    %" PRIu64 " page, %" PRIu64 " zero, %"
               PRIu64 " xbzrle, %" PRIu64 " resent, in %" PRIu64
               " ram sections\n", rs->n_page, rs->n_zero, rs->n_xbzrle,
               rs->n_resent, rs->n_sections);
    }
    printf("\n  %-28s %12s %10s %10s %10s\n", "RAM BLOCK", "LENGTH",
           "PRESENT", "ZERO", "ABSENT");
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *blk = &rs->blocks[i];
        uint64_t p, z, ab;
        ram_block_counts(rs, blk, &p, &z, &ab);
        printf("  %-28s %12s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
               blk->name, fr_human_size(blk->length, a, sizeof(a)), p, z,
               ab);
    }
    print_physical(cfg, rs);
    if (print_devices(sum) < 0) {
        return -1;
    }
    for (size_t i = 0; i < sum->ncmds; i++) {
        printf("command:         %s at 0x%" PRIx64 "\n",
               sv_cmd_name(sum->cmds[i].cmd), sum->cmds[i].offset);
    }
    if (sum->cmds_unlisted) {
        printf("command:         (%" PRIu64 " more, not listed)\n",
               sum->cmds_unlisted);
    }
    if (sum->have_vmdesc) {
        printf("vmdesc:          %" PRIu64 " bytes of JSON at 0x%" PRIx64
               "\n", sum->vmdesc_len, sum->vmdesc_offset);
    } else {
        printf("vmdesc:          none\n");
    }
    if (sum->trailing) {
        printf("trailing data:   %" PRIu64 " bytes after the stream\n",
               sum->trailing);
    }
    if (cs) {
        print_cpus(cs);
    }
    if (map) {
        for (size_t i = 0; i < rs->nblocks; i++) {
            print_map(rs, &rs->blocks[i]);
        }
    }
    return 0;
}

static int run_inspect(int argc, char **argv)
{
    struct inspect_opts o = { .output = FR_OUTPUT_HUMAN };
    struct savefile sf;
    struct sf_summary sum = { 0 };
    struct cpus cpus = { 0 };
    struct sf_visitor v;
    int ret = FR_EXIT_OK;

    argp_parse(&inspect_argp, argc, argv, 0, NULL, &o);
    if (savefile_open(&sf, o.path, o.snapshot) < 0) {
        ret = fr_report(&sf.err, o.path);
    } else if (o.show) {
        if (show_stored(&sf, &sum, o.show) < 0) {
            ret = fr_report(&sf.err, o.path);
        }
    } else {
        if (o.cpus) {
            cpus_visitor(&cpus, &sf, &sum, &v);
        }
        if (savefile_walk(&sf, &sum, o.cpus ? &v : NULL) < 0) {
            ret = fr_report(&sf.err, o.path);
        } else if (o.output == FR_OUTPUT_JSON) {
            print_json(&sf, &sum, o.map, o.cpus ? &cpus : NULL);
        } else if (print_human(&sf, &sum, o.map, o.cpus ? &cpus : NULL) < 0) {
            fr_fail(&sf.err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
            ret = fr_report(&sf.err, o.path);
        }
    }
    cpus_free(&cpus);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    return ret;
}

const struct fr_cmd fr_cmd_inspect = {
    .name = "inspect",
    .summary = "show what a save file holds (--output=json for scripts)",
    .run = run_inspect,
};
