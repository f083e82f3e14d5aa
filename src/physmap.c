/*
 * Guest-physical placement of guest RAM: see physmap.h.
 */
#include "config.h"

#include "physmap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GiB (1ull << 30)

/* QEMU 7.1 and later move x86 RAM above 4 GiB to 1 TiB when, with the
 * 64-bit PCI hole after it (32 GiB by default), it would reach AMD's
 * HyperTransport range, and only for AMD CPU models: the file does not
 * say which.  Such guests are refused. */
#define AMD_HT_START 0xfd00000000ull
#define PCI_HOLE64 (32 * GiB)

enum layout {
    I440FX,     /* pc: RAM up to 3 GiB (3.5 GiB) low, the rest at 4 GiB */
    Q35,        /* q35: up to 2 GiB (2.75 GiB) low, the rest at 4 GiB */
    FLAT,       /* all of it at BASE */
};

static const struct machine {
    const char *prefix;         /* of the machine type's full name */
    enum layout layout;
    const char *ram_id;         /* the default RAM block */
    uint64_t base;
} machines[] = {
    { "pc-q35-", Q35, "pc.ram", 0 },
    { "pc-i440fx-", I440FX, "pc.ram", 0 },
    { "pc-", I440FX, "pc.ram", 0 },             /* pc-1.0 to pc-1.3 */
    { "isapc", I440FX, "pc.ram", 0 },
    { "virt-", FLAT, "mach-virt.ram", GiB },    /* arm; riscv's is "virt" */
    { "pseries", FLAT, "ppc_spapr.ram", 0 },
    { "s390-ccw-virtio", FLAT, "s390.ram", 0 },
};

/* Machine types up to 1.7 kept their split where it fell (QEMU's
 * gigabyte_align off); later ones, and distribution ones (rhel...),
 * align it to 1 GiB. */
static bool gigabyte_align(const char *version)
{
    unsigned major, minor;

    if (sscanf(version, "%u.%u", &major, &minor) != 2) {
        return true;
    }
    return major > 1 || (major == 1 && minor >= 8);
}

/* RAM below 4 GiB, as QEMU's pc_init1 and pc_q35_init compute it. */
static uint64_t x86_below_4g(enum layout layout, const char *version,
                             uint64_t ram, uint64_t max_below_4g)
{
    uint64_t low;

    if (layout == I440FX) {
        low = max_below_4g ? max_below_4g : 0xe0000000;
        if (ram >= low && gigabyte_align(version) && low > 0xc0000000) {
            low = 0xc0000000;
        }
    } else {
        low = ram >= 0xb0000000 && gigabyte_align(version) ? 0x80000000
                                                            : 0xb0000000;
        if (max_below_4g && low > max_below_4g) {
            low = max_below_4g;
        }
    }
    return ram >= low ? low : ram;
}

#define MAX_NODES 4096

/* libvirt's NUMA blocks: "ram-node" N, or "/objects/ram-node" N for old
 * machine types.  Returns N (below MAX_NODES), or -1. */
static long numa_node(const char *name)
{
    const char *p = name;
    char *end;

    if (strncmp(p, "/objects/", 9) == 0) {
        p += 9;
    }
    if (strncmp(p, "ram-node", 8) != 0 || p[8] < '0' || p[8] > '9') {
        return -1;
    }
    long n = strtol(p + 8, &end, 10);
    return *end == '\0' && n < MAX_NODES ? n : -1;
}

/* The blocks that make up the machine's RAM, in the order QEMU lays them
 * end to end, into ORDER.  Returns how many (0: none found). */
static size_t ram_blocks(const struct ram_state *rs, const char *ram_id,
                         size_t *order)
{
    long def = ram_find_block(rs, ram_id);
    uint16_t by_node[MAX_NODES] = { 0 };    /* block index + 1 */
    size_t n = 0;

    if (def >= 0) {
        order[0] = (size_t)def;
        return 1;
    }
    for (size_t i = 0; i < rs->nblocks && i < RAM_MAX_BLOCKS; i++) {
        long node = numa_node(rs->blocks[i].name);
        if (node >= 0 && !by_node[node]) {
            by_node[node] = (uint16_t)(i + 1);
        }
    }
    /* a node without memory has no block: the numbers may skip */
    for (size_t node = 0; node < MAX_NODES; node++) {
        if (by_node[node]) {
            order[n++] = by_node[node] - 1u;
        }
    }
    return n;
}

static void add(struct physmap *map, size_t block, uint64_t offset,
                uint64_t addr, uint64_t len)
{
    if (len) {
        map->piece[map->n++] = (struct physmap_piece){ block, offset, addr,
                                                       len };
        map->end = addr + len;
    }
}

int physmap_build(struct physmap *map, const struct sv_config *cfg,
                  const struct ram_state *rs, uint64_t max_below_4g,
                  struct fr_err *err)
{
    const struct machine *m = NULL;
    const char *name = cfg->present ? cfg->machine : "";
    size_t *order = NULL, n;
    uint64_t ram = 0, low = UINT64_MAX;

    memset(map, 0, sizeof(*map));
    for (size_t i = 0; !m && i < sizeof(machines) / sizeof(*machines); i++) {
        if (strncmp(name, machines[i].prefix,
                    strlen(machines[i].prefix)) == 0) {
            m = &machines[i];
        }
    }
    if (!m) {
        return fr_fail(err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "the guest-physical layout of machine type '%s' is "
                       "not known (known: pc, q35, arm virt, pseries, "
                       "s390-ccw-virtio)", name);
    }
    if (max_below_4g && m->layout == FLAT) {
        return fr_fail(err, FR_E_USAGE, FR_NO_OFFSET,
                       "--max-ram-below-4g applies to x86 machines only, "
                       "not to '%s'", name);
    }
    if (max_below_4g % rs->page_size) {
        /* QEMU takes it, but no guest page can straddle the hole */
        return fr_fail(err, FR_E_USAGE, FR_NO_OFFSET,
                       "--max-ram-below-4g must be a multiple of the page "
                       "size (%u)", rs->page_size);
    }
    order = calloc(rs->nblocks + 1, sizeof(*order));
    map->piece = calloc(rs->nblocks + 2, sizeof(*map->piece));
    if (!order || !map->piece) {
        fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto fail;
    }
    n = ram_blocks(rs, m->ram_id, order);
    if (n == 0) {
        fr_fail(err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "no RAM block '%s', nor libvirt's NUMA blocks ram-node0, "
                "...: cannot tell which blocks are the guest's RAM",
                m->ram_id);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        ram += rs->blocks[order[i]].length;     /* each < 2^50 */
    }
    if (m->layout != FLAT) {
        low = x86_below_4g(m->layout, name + strlen(m->prefix), ram,
                           max_below_4g);
        if (4 * GiB + (ram - low) + PCI_HOLE64 > AMD_HT_START) {
            fr_fail(err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                    "guest RAM of %llu GiB: QEMU puts what lies above "
                    "4 GiB at 4 GiB or at 1 TiB, depending on the CPU "
                    "model, which the file does not record",
                    (unsigned long long)(ram / GiB));
            goto fail;
        }
    }
    /* lay the blocks end to end; on x86 what falls past LOW moves up */
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ram_block *b = &rs->blocks[order[i]];
        uint64_t below = at < low ? (low - at < b->length ? low - at
                                                           : b->length)
                                  : 0;
        add(map, order[i], 0, m->base + at, below);
        if (below < b->length) {        /* x86: the rest is past the hole */
            add(map, order[i], below, 4 * GiB + (at + below - low),
                b->length - below);
        }
        at += b->length;
    }
    free(order);
    return 0;
fail:
    free(order);
    physmap_free(map);
    return -1;
}

void physmap_free(struct physmap *map)
{
    free(map->piece);
    memset(map, 0, sizeof(*map));
}
