/*
 * Unit tests for physmap.h: where QEMU puts guest RAM for each machine
 * type it knows, by QEMU's rules for the split below 4 GiB (pc: 3.5 GiB
 * traditional, 3 GiB gigabyte-aligned from machine 1.8 on; q35: 2.75 GiB,
 * or 2 GiB for big guests; max-ram-below-4g lowering it), libvirt's NUMA
 * blocks laid end to end (a block split across the hole), fixed bases
 * elsewhere, and the refusals; and 2000 random guests (machine, block and
 * node sizes, max-ram-below-4g) keep the map's invariants.  Real QEMU
 * confirms a few of these in tests/cli/0825-qemu-physical.sh.
 */
#include "physmap.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct ram_block blocks[8];
static struct ram_state rs = { .page_size = 4096, .blocks = blocks };

/* "NAME:LEN,..." is too much parsing for a test: pairs, NULL-ended. */
static void set_blocks(const char *name, uint64_t len, ...)
{
    va_list ap;

    memset(blocks, 0, sizeof(blocks));
    rs.nblocks = 0;
    va_start(ap, len);
    while (name) {
        struct ram_block *b = &blocks[rs.nblocks++];
        snprintf(b->name, sizeof(b->name), "%s", name);
        b->length = len;
        b->npages = len / 4096;
        name = va_arg(ap, const char *);
        if (name) {
            len = va_arg(ap, uint64_t);
        }
    }
    va_end(ap);
}

static struct physmap map;
static struct fr_err err;

static int build(const char *machine, uint64_t max_below_4g)
{
    struct sv_config cfg = { .present = true };

    snprintf(cfg.machine, sizeof(cfg.machine), "%s", machine);
    physmap_free(&map);
    memset(&err, 0, sizeof(err));
    return physmap_build(&map, &cfg, &rs, max_below_4g, &err);
}

#define EXPECT_PIECE(i_, block_, off_, addr_, len_)                     \
    do {                                                                \
        EXPECT_TRUE(map.n > (i_));                                      \
        EXPECT_EQ_U64(map.piece[i_].block, (block_));                   \
        EXPECT_EQ_U64(map.piece[i_].offset, (off_));                    \
        EXPECT_EQ_U64(map.piece[i_].addr, (addr_));                     \
        EXPECT_EQ_U64(map.piece[i_].len, (len_));                       \
    } while (0)

/* pc.ram of RAM bytes on MACHINE: LOW below 4 GiB, the rest above. */
static void x86_split(const char *machine, uint64_t ram, uint64_t max,
                      uint64_t low)
{
    set_blocks("vga.vram", 16 * MiB, "pc.ram", ram, (const char *)NULL);
    EXPECT_EQ_U64(build(machine, max), 0);
    EXPECT_PIECE(0, 1, 0, 0, low);
    if (ram > low) {
        EXPECT_EQ_U64(map.n, 2);
        EXPECT_PIECE(1, 1, low, 4 * GiB, ram - low);
        EXPECT_EQ_U64(map.end, 4 * GiB + ram - low);
    } else {
        EXPECT_EQ_U64(map.n, 1);
        EXPECT_EQ_U64(map.end, ram);
    }
}

/* Random guests: whatever the machine, sizes and node order, the pieces
 * cover each RAM block once, in order, and lie end to end in address
 * order: from the base (x86: from 0 up to the hole, then from 4 GiB). */
static void random_guests(void)
{
    static const char *const machines[] = { "pc-i440fx-10.0", "pc-q35-10.0",
                                            "pc-1.5", "virt-10.0" };
    uint64_t seed = 12345;

    for (int round = 0; round < 2000; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        const char *machine = machines[(seed >> 33) % 4];
        bool x86 = machine[0] == 'p';
        unsigned nodes = (unsigned)((seed >> 40) % 5);      /* 0: no NUMA */
        memset(blocks, 0, sizeof(blocks));
        rs.nblocks = 0;
        snprintf(blocks[rs.nblocks++].name, sizeof(blocks[0].name),
                 "vga.vram");
        for (unsigned i = 0; i < (nodes ? nodes : 1); i++) {
            struct ram_block *b = &blocks[rs.nblocks++];
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            if (nodes) {    /* listed in reverse: found by number */
                snprintf(b->name, sizeof(b->name), "ram-node%u",
                         nodes - 1 - i);
            } else {
                snprintf(b->name, sizeof(b->name), "%s",
                         x86 ? "pc.ram" : "mach-virt.ram");
            }
            b->length = ((seed >> 20) % (16 * GiB / 4096) + 1) * 4096;
        }
        for (size_t i = 0; i < rs.nblocks; i++) {
            blocks[i].length += blocks[i].length ? 0 : 16 * MiB;
            blocks[i].npages = blocks[i].length / 4096;
        }
        uint64_t max = x86 && (seed & 1) ? ((seed >> 8) % (1u << 20) + 1) * 4096
                                         : 0;
        if (build(machine, max) < 0) {
            UNIT_FAIL("round %d: %s: %s", round, machine, err.what);
            continue;
        }
        /* each RAM block whole, in order, once */
        uint64_t covered[8] = { 0 };
        uint64_t low_end = 0, high_end = 4 * GiB, base = x86 ? 0 : GiB;
        for (size_t i = 0; i < map.n; i++) {
            const struct physmap_piece *p = &map.piece[i];
            EXPECT_TRUE(p->block > 0 && p->len > 0);
            EXPECT_EQ_U64(p->offset, covered[p->block]);
            covered[p->block] += p->len;
            if (x86 && p->addr >= 4 * GiB) {
                EXPECT_EQ_U64(p->addr, high_end);
                high_end += p->len;
            } else {
                EXPECT_EQ_U64(p->addr, base + low_end);
                low_end += p->len;
                EXPECT_TRUE(!x86 || low_end <= 4 * GiB);
            }
        }
        EXPECT_EQ_U64(map.end, map.piece[map.n - 1].addr +
                                   map.piece[map.n - 1].len);
        for (size_t i = 1; i < rs.nblocks; i++) {
            EXPECT_EQ_U64(covered[i], blocks[i].length);
        }
    }
}

int main(void)
{
    random_guests();
    /* pc: all low up to 3.5 GiB; above, 3 GiB low */
    x86_split("pc-i440fx-10.0", 128 * MiB, 0, 128 * MiB);
    x86_split("pc-i440fx-10.0", 0xe0000000 - 4096, 0, 0xe0000000 - 4096);
    x86_split("pc-i440fx-10.0", 0xe0000000, 0, 3 * GiB);
    x86_split("pc-i440fx-10.0", 4 * GiB, 0, 3 * GiB);
    x86_split("pc-i440fx-rhel7.6.0", 4 * GiB, 0, 3 * GiB);
    x86_split("pc-1.3", 4 * GiB, 0, 0xe0000000);          /* no align */
    x86_split("pc-i440fx-1.7", 4 * GiB, 0, 0xe0000000);
    x86_split("pc-0.15", 4 * GiB, 0, 0xe0000000);
    x86_split("pc-i440fx-2.0", 4 * GiB, 0, 3 * GiB);
    x86_split("isapc", 4 * GiB, 0, 3 * GiB);
    /* max-ram-below-4g: lowers the split; raising it works only for a
     * guest that then fits below 4 GiB */
    x86_split("pc-i440fx-10.0", 4 * GiB, 2 * GiB, 2 * GiB);
    x86_split("pc-i440fx-10.0", 512 * MiB, 384 * MiB, 384 * MiB);
    x86_split("pc-i440fx-10.0", 3968 * MiB, 4 * GiB, 3968 * MiB);
    x86_split("pc-i440fx-10.0", 4 * GiB, 4 * GiB, 3 * GiB);

    /* q35: all low below 2.75 GiB; from there, 2 GiB low */
    x86_split("pc-q35-10.0", 0xb0000000 - 4096, 0, 0xb0000000 - 4096);
    x86_split("pc-q35-10.0", 0xb0000000, 0, 2 * GiB);
    x86_split("pc-q35-rhel9.6.0", 8 * GiB, 0, 2 * GiB);
    x86_split("pc-q35-1.7", 4 * GiB, 0, 0xb0000000);
    x86_split("pc-q35-10.0", 2 * GiB, 1 * GiB, 1 * GiB);
    x86_split("pc-q35-10.0", 8 * GiB, 3 * GiB, 2 * GiB);  /* only lowers */

    /* libvirt's NUMA blocks, found in node order whatever the block
     * order; the split falls inside ram-node1 */
    set_blocks("ram-node1", 2 * GiB, "vga.vram", 16 * MiB, "ram-node0",
               2 * GiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pc-i440fx-10.0", 0), 0);
    EXPECT_EQ_U64(map.n, 3);
    EXPECT_PIECE(0, 2, 0, 0, 2 * GiB);
    EXPECT_PIECE(1, 0, 0, 2 * GiB, 1 * GiB);
    EXPECT_PIECE(2, 0, 1 * GiB, 4 * GiB, 1 * GiB);
    /* old machine types name them by their QOM path; a memory-less node
     * has no block */
    set_blocks("/objects/ram-node0", 64 * MiB, "/objects/ram-node2",
               64 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pc-q35-10.0", 0), 0);
    EXPECT_EQ_U64(map.n, 2);
    EXPECT_PIECE(0, 0, 0, 0, 64 * MiB);
    EXPECT_PIECE(1, 1, 0, 64 * MiB, 64 * MiB);

    /* a node named twice counts once, the first block found */
    set_blocks("ram-node0", 64 * MiB, "/objects/ram-node0", 32 * MiB,
               "ram-node1", 16 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pc-q35-10.0", 0), 0);
    EXPECT_EQ_U64(map.n, 2);
    EXPECT_PIECE(1, 2, 0, 64 * MiB, 16 * MiB);

    /* fixed bases */
    set_blocks("mach-virt.ram", 128 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("virt-10.0", 0), 0);
    EXPECT_EQ_U64(map.n, 1);
    EXPECT_PIECE(0, 0, 0, 1 * GiB, 128 * MiB);
    EXPECT_EQ_U64(map.end, 1 * GiB + 128 * MiB);
    set_blocks("ppc_spapr.ram", 256 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pseries-10.0", 0), 0);
    EXPECT_PIECE(0, 0, 0, 0, 256 * MiB);
    set_blocks("s390.ram", 128 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("s390-ccw-virtio-10.0", 0), 0);
    EXPECT_PIECE(0, 0, 0, 0, 128 * MiB);

    /* refusals */
    set_blocks("pc.ram", 128 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("virt", 0), -1);        /* riscv, loongarch */
    EXPECT_TRUE(err.kind == FR_E_UNSUPPORTED);
    EXPECT_TRUE(strstr(err.what, "'virt'") != NULL);
    EXPECT_EQ_U64(build("microvm", 0), -1);
    EXPECT_EQ_U64(build("virt-10.0", 0), -1);   /* no mach-virt.ram */
    EXPECT_TRUE(strstr(err.what, "mach-virt.ram") != NULL);
    set_blocks("mach-virt.ram", 128 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("virt-10.0", 1 * GiB), -1);
    EXPECT_TRUE(err.kind == FR_E_USAGE);
    set_blocks("pc.ram", 128 * MiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pc-i440fx-10.0", 64 * MiB + 512), -1);
    EXPECT_TRUE(err.kind == FR_E_USAGE);
    set_blocks("pc.ram", 1000 * GiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pc-q35-10.0", 0), -1);  /* 1 TiB: AMD's hole */
    EXPECT_TRUE(strstr(err.what, "1 TiB") != NULL);
    set_blocks("pc.ram", 900 * GiB, (const char *)NULL);
    EXPECT_EQ_U64(build("pc-q35-10.0", 0), 0);

    physmap_free(&map);
    return unit_done();
}
