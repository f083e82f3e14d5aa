/*
 * Where guest RAM sits in the guest-physical address space.  A save file
 * holds RAM per RAMBlock; the machine type decides where the machine's
 * RAM (its default block, or libvirt's NUMA blocks ram-node0, ram-node1,
 * ... laid end to end) appears to the guest: on x86 (pc, q35) split
 * around the PCI hole below 4 GiB, elsewhere at one fixed base.  The
 * rules are QEMU's own (hw/i386/pc_piix.c, pc_q35.c, hw/arm/virt.c, ...);
 * nothing in the file records the result.
 */
#ifndef FR_PHYSMAP_H
#define FR_PHYSMAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ram.h"
#include "savevm.h"

/* LEN bytes of block BLOCK, from byte OFFSET, at guest address ADDR. */
struct physmap_piece {
    size_t block;
    uint64_t offset;
    uint64_t addr;
    uint64_t len;
};

struct physmap {
    size_t n;                   /* pieces, in address order */
    struct physmap_piece *piece;
    uint64_t end;               /* the highest address + 1 */
};

/*
 * Map the RAM of machine CFG->machine with blocks RS.  MAX_BELOW_4G is
 * x86's max-ram-below-4g machine property (0: the default).  Returns 0,
 * or -1 with ERR saying why the map is unknown (FR_E_UNSUPPORTED) and
 * MAP empty.  physmap_free releases a map built.
 */
int physmap_build(struct physmap *map, const struct sv_config *cfg,
                  const struct ram_state *rs, uint64_t max_below_4g,
                  struct fr_err *err);

void physmap_free(struct physmap *map);

#endif
