/*
 * The VM state of a qcow2 internal snapshot, as a byte source.
 *
 * QEMU's savevm (HMP savevm, QMP snapshot-save, "virsh snapshot-create" of
 * a running domain with internal snapshots, virt-manager's snapshots)
 * writes a classic migration stream into the qcow2 image itself: into
 * clusters past the end of the virtual disk, at the first L1 entry
 * boundary after it, which only the snapshot's own L1 table maps.  This
 * module reads the image header and the snapshot table, and reads one
 * snapshot's VM state through its L1 and L2 tables: unallocated and zero
 * clusters read as zeros; compressed clusters, encryption and external
 * data files are refused by name.
 */
#ifndef FR_QCOW2_H
#define FR_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define QCOW2_MAGIC_LEN 4

struct qcow2_snapshot {
    char *id, *name;            /* NUL-terminated copies */
    uint64_t entry_offset;      /* of its snapshot table entry */
    uint64_t l1_offset;
    uint32_t l1_size;
    uint64_t vmstate_size;      /* 0: a disk-only snapshot */
    uint64_t disk_size;         /* virtual disk size when it was taken */
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
};

struct qcow2 {
    uint32_t version;           /* 2 or 3 */
    uint32_t cluster_bits;
    bool extended_l2;           /* 32 subclusters per cluster */
    uint64_t disk_size;
    struct qcow2_snapshot *snaps;
    uint32_t nsnaps;
};

/* Whether the N bytes at P start a qcow2 image. */
bool qcow2_probe(const uint8_t *p, size_t n);

/*
 * Read the header and snapshot table of the qcow2 image FILE reads (a
 * seekable source).  Returns 0, or -1 with FILE's error set.  Free Q with
 * qcow2_free either way.
 */
int qcow2_open(struct qcow2 *q, struct fr_src *file);
void qcow2_free(struct qcow2 *q);

/* The number of snapshots in Q that hold a VM state. */
uint32_t qcow2_vmstate_count(const struct qcow2 *q);

/*
 * The snapshot SEL names, matched as QEMU's loadvm does: by ID first, then
 * by name.  SEL NULL: the only snapshot with a VM state.  Returns NULL
 * with ERR set (naming the snapshots there are) when there is no such
 * snapshot, it has no VM state, or SEL is NULL and there are several.
 */
const struct qcow2_snapshot *qcow2_find(const struct qcow2 *q,
                                        const char *sel, struct fr_err *err);

/*
 * Make OUTER read the VM state of snapshot SN of Q, through FILE (which
 * must outlive OUTER).  Offsets in OUTER are offsets in the VM state;
 * errors in the qcow2 structure name file offsets and say "qcow2".
 */
int qcow2_open_vmstate(struct fr_src *outer, struct fr_src *file,
                       const struct qcow2 *q, const struct qcow2_snapshot *sn);

#endif
