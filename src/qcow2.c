/*
 * The VM state of a qcow2 internal snapshot; see qcow2.h.  Layout as in
 * QEMU's docs/interop/qcow2.txt: a big-endian header, a table of snapshots
 * (each with its own L1 table), L1 entries pointing to L2 tables of one
 * cluster each, L2 entries pointing to data clusters.
 */
#include "config.h"

#include "qcow2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "endian.h"

#define QCOW2_MAGIC 0x514649fbu         /* "QFI\xfb" */
#define HDR_V2_LEN 72
#define HDR_V3_LEN 104

/* Incompatible feature bits (version 3). */
#define INCOMPAT_DIRTY (1u << 0)
#define INCOMPAT_CORRUPT (1u << 1)
#define INCOMPAT_DATA_FILE (1u << 2)
#define INCOMPAT_COMPRESSION (1u << 3)
#define INCOMPAT_EXTL2 (1u << 4)
#define INCOMPAT_KNOWN (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE \
                        | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2)

#define ENTRY_OFFSET_MASK 0x00fffffffffffe00ull  /* bits 9-55 */
#define L2_COMPRESSED (1ull << 62)
#define L2_ZERO 1ull

/* QEMU's own limits (block/qcow2.h): anything larger is not its file. */
#define MAX_SNAPSHOTS 65536u
#define MAX_SNAPSHOT_EXTRA 1024u
#define MAX_L1_ENTRIES ((32u << 20) / 8u)

#define SNAP_FIXED_LEN 40

bool qcow2_probe(const uint8_t *p, size_t n)
{
    return n >= QCOW2_MAGIC_LEN && fr_be32dec(p) == QCOW2_MAGIC;
}

/* A NUL-terminated copy of N bytes, control characters shown as '?'. */
static char *printable_copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s) {
        for (size_t i = 0; i < n; i++) {
            s[i] = (p[i] < 0x20 || p[i] == 0x7f) ? '?' : (char)p[i];
        }
        s[n] = '\0';
    }
    return s;
}

/* The L2 entries per table, and the bytes one L1 entry maps, as shifts. */
static uint32_t l2_bits(const struct qcow2 *q)
{
    return q->cluster_bits - (q->extended_l2 ? 4 : 3);
}

static uint32_t l1_bits(const struct qcow2 *q)
{
    return q->cluster_bits + l2_bits(q);
}

/* Where snapshot SN's VM state starts in its guest offsets: the first L1
 * entry boundary at or past the end of its virtual disk. */
static bool vmstate_base(const struct qcow2 *q,
                         const struct qcow2_snapshot *sn, uint64_t *base)
{
    return !ckd_align_up(base, sn->disk_size, 1ull << l1_bits(q)) &&
           (*base >> l1_bits(q)) <= MAX_L1_ENTRIES;
}

static int read_header(struct qcow2 *q, struct fr_src *file,
                       uint64_t *snap_off)
{
    uint8_t h[HDR_V3_LEN];
    uint32_t hdr_len;
    uint64_t incompat;

    if (fr_src_pread(file, h, HDR_V2_LEN, 0, "qcow2 header") < 0) {
        return -1;
    }
    q->version = fr_be32dec(h + 4);
    if (q->version != 2 && q->version != 3) {
        return fr_fail(file->err, FR_E_UNSUPPORTED, 4,
                       "qcow2 version %u is not supported (2 or 3)",
                       q->version);
    }
    q->cluster_bits = fr_be32dec(h + 20);
    if (q->cluster_bits < 9 || q->cluster_bits > 21) {
        return fr_fail(file->err, FR_E_CORRUPT, 20,
                       "qcow2 cluster bits %u out of range (9 to 21)",
                       q->cluster_bits);
    }
    q->disk_size = fr_be64dec(h + 24);
    if (fr_be32dec(h + 32) != 0) {
        return fr_fail(file->err, FR_E_UNSUPPORTED, 32,
                       "encrypted qcow2 images are not supported");
    }
    q->nsnaps = fr_be32dec(h + 60);
    *snap_off = fr_be64dec(h + 64);
    if (q->nsnaps > MAX_SNAPSHOTS) {
        return fr_fail(file->err, FR_E_CORRUPT, 60,
                       "qcow2 image with %u snapshots (QEMU allows %u)",
                       q->nsnaps, MAX_SNAPSHOTS);
    }
    if (q->version == 2) {
        return 0;
    }
    if (fr_src_pread(file, h + HDR_V2_LEN, HDR_V3_LEN - HDR_V2_LEN,
                     HDR_V2_LEN, "qcow2 version 3 header") < 0) {
        return -1;
    }
    hdr_len = fr_be32dec(h + 100);
    if (hdr_len < HDR_V3_LEN) {
        return fr_fail(file->err, FR_E_CORRUPT, 100,
                       "qcow2 header length %u is below %u", hdr_len,
                       HDR_V3_LEN);
    }
    incompat = fr_be64dec(h + 72);
    if (incompat & ~(uint64_t)INCOMPAT_KNOWN) {
        return fr_fail(file->err, FR_E_UNSUPPORTED, 72,
                       "qcow2 image with unknown incompatible features "
                       "0x%llx", (unsigned long long)incompat);
    }
    if (incompat & INCOMPAT_DATA_FILE) {
        return fr_fail(file->err, FR_E_UNSUPPORTED, 72,
                       "qcow2 images with an external data file are not "
                       "supported");
    }
    q->extended_l2 = incompat & INCOMPAT_EXTL2;
    if (q->extended_l2 && q->cluster_bits < 14) {
        return fr_fail(file->err, FR_E_CORRUPT, 20,
                       "qcow2 extended L2 entries need clusters of 16 KiB "
                       "or more, not %u bytes", 1u << q->cluster_bits);
    }
    return 0;
}

/* Read the snapshot table entry at *OFF into SN and move *OFF past it. */
static int read_snapshot(const struct qcow2 *q, struct fr_src *file,
                         uint64_t *off, struct qcow2_snapshot *sn)
{
    uint8_t e[SNAP_FIXED_LEN];
    uint8_t var[MAX_SNAPSHOT_EXTRA + 2 * 65535];
    uint32_t extra;
    uint16_t id_len, name_len;
    size_t var_len;
    const uint64_t at = *off;

    if (fr_src_pread(file, e, sizeof(e), at, "qcow2 snapshot table entry")
        < 0) {
        return -1;
    }
    sn->entry_offset = at;
    sn->l1_offset = fr_be64dec(e);
    sn->l1_size = fr_be32dec(e + 8);
    id_len = fr_be16dec(e + 12);
    name_len = fr_be16dec(e + 14);
    sn->date_sec = fr_be32dec(e + 16);
    sn->date_nsec = fr_be32dec(e + 20);
    sn->vm_clock_nsec = fr_be64dec(e + 24);
    sn->vmstate_size = fr_be32dec(e + 32);
    extra = fr_be32dec(e + 36);
    sn->disk_size = q->disk_size;
    if (extra > MAX_SNAPSHOT_EXTRA) {
        return fr_fail(file->err, FR_E_CORRUPT, at + 36,
                       "qcow2 snapshot with %u bytes of extra data (QEMU "
                       "allows %u)", extra, MAX_SNAPSHOT_EXTRA);
    }
    var_len = extra + id_len + name_len;
    if (fr_src_pread(file, var, var_len, at + SNAP_FIXED_LEN,
                     "qcow2 snapshot table entry") < 0) {
        return -1;
    }
    if (extra >= 8) {
        sn->vmstate_size = fr_be64dec(var);
    }
    if (extra >= 16) {
        sn->disk_size = fr_be64dec(var + 8);
    }
    sn->id = printable_copy(var + extra, id_len);
    sn->name = printable_copy(var + extra + id_len, name_len);
    if (!sn->id || !sn->name) {
        return fr_fail(file->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    /* entries are padded to 8 bytes */
    *off = at + ((SNAP_FIXED_LEN + var_len + 7) & ~(uint64_t)7);

    if (sn->vmstate_size == 0) {
        return 0;
    }
    uint64_t base, end;
    if ((sn->l1_offset & ((1ull << q->cluster_bits) - 1)) ||
        sn->l1_size > MAX_L1_ENTRIES) {
        return fr_fail(file->err, FR_E_CORRUPT, at,
                       "qcow2 snapshot '%s': bad L1 table (offset 0x%llx, "
                       "%u entries)", sn->name,
                       (unsigned long long)sn->l1_offset, sn->l1_size);
    }
    if (!vmstate_base(q, sn, &base) ||
        ckd_add_u64(&end, base, sn->vmstate_size) ||
        ((end - 1) >> l1_bits(q)) >= sn->l1_size) {
        return fr_fail(file->err, FR_E_CORRUPT, at,
                       "qcow2 snapshot '%s': its %llu-byte VM state lies "
                       "beyond its L1 table", sn->name,
                       (unsigned long long)sn->vmstate_size);
    }
    return 0;
}

int qcow2_open(struct qcow2 *q, struct fr_src *file)
{
    uint64_t off;

    memset(q, 0, sizeof(*q));
    if (read_header(q, file, &off) < 0) {
        return -1;
    }
    if (q->nsnaps == 0) {
        return 0;
    }
    q->snaps = calloc(q->nsnaps, sizeof(*q->snaps));
    if (!q->snaps) {
        q->nsnaps = 0;
        return fr_fail(file->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    for (uint32_t i = 0; i < q->nsnaps; i++) {
        if (read_snapshot(q, file, &off, &q->snaps[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

void qcow2_free(struct qcow2 *q)
{
    for (uint32_t i = 0; i < q->nsnaps && q->snaps; i++) {
        free(q->snaps[i].id);
        free(q->snaps[i].name);
    }
    free(q->snaps);
    memset(q, 0, sizeof(*q));
}

uint32_t qcow2_vmstate_count(const struct qcow2 *q)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < q->nsnaps; i++) {
        n += q->snaps[i].vmstate_size != 0;
    }
    return n;
}

/* "1 'a', 2 'b', ..." of the snapshots with a VM state, into BUF. */
static void list_snapshots(const struct qcow2 *q, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (uint32_t i = 0; i < q->nsnaps && used < len; i++) {
        const struct qcow2_snapshot *sn = &q->snaps[i];
        if (sn->vmstate_size == 0) {
            continue;
        }
        int w = snprintf(buf + used, len - used, "%s%s '%s'",
                         used ? ", " : "", sn->id, sn->name);
        if (w < 0 || (size_t)w >= len - used) {
            snprintf(buf + used, len - used, ", ...");
            break;
        }
        used += (size_t)w;
    }
}

const struct qcow2_snapshot *qcow2_find(const struct qcow2 *q,
                                        const char *sel, struct fr_err *err)
{
    const struct qcow2_snapshot *found = NULL;
    char list[200];

    list_snapshots(q, list, sizeof(list));
    if (!sel) {
        uint32_t n = qcow2_vmstate_count(q);
        for (uint32_t i = 0; i < q->nsnaps && !found; i++) {
            if (q->snaps[i].vmstate_size) {
                found = &q->snaps[i];
            }
        }
        if (n == 1) {
            return found;
        }
        if (q->nsnaps == 0) {
            fr_fail(err, FR_E_NOTMIG, FR_NO_OFFSET,
                    "qcow2 image without snapshots, so without a VM state");
        } else if (n == 0) {
            fr_fail(err, FR_E_NOTMIG, FR_NO_OFFSET,
                    "qcow2 image without a VM state: none of its %u "
                    "snapshots holds one", q->nsnaps);
        } else {
            fr_fail(err, FR_E_USAGE, FR_NO_OFFSET,
                    "%u snapshots hold a VM state (%s): choose one with "
                    "--snapshot", n, list);
        }
        return NULL;
    }
    for (uint32_t i = 0; i < q->nsnaps && !found; i++) {
        if (strcmp(q->snaps[i].id, sel) == 0) {
            found = &q->snaps[i];
        }
    }
    for (uint32_t i = 0; i < q->nsnaps && !found; i++) {
        if (strcmp(q->snaps[i].name, sel) == 0) {
            found = &q->snaps[i];
        }
    }
    if (!found) {
        fr_fail(err, FR_E_USAGE, FR_NO_OFFSET,
                "no snapshot '%s' (snapshots with a VM state: %s)", sel,
                list[0] ? list : "none");
        return NULL;
    }
    if (found->vmstate_size == 0) {
        fr_fail(err, FR_E_NOTMIG, FR_NO_OFFSET,
                "snapshot %s '%s' holds no VM state (a disk-only snapshot)",
                found->id, found->name);
        return NULL;
    }
    return found;
}

/* ---- reading the VM state -------------------------------------------- */

struct vmstate {
    struct fr_src *file;
    uint32_t cluster_bits, l2_bits, entry_bytes;
    bool extended_l2;
    uint64_t l1_offset;
    uint32_t l1_size;
    uint64_t base, size, pos;   /* guest offsets of the VM state */
    uint64_t l1_index;          /* of the cached L2 table */
    uint64_t l2_offset;         /* its file offset; 0: none (zeros) */
    uint8_t *l2;                /* one cluster */
};

/* Make the L2 table of L1 entry L1I the cached one. */
static int load_l2(struct vmstate *v, uint64_t l1i)
{
    uint8_t e[8];
    const uint64_t at = v->l1_offset + 8 * l1i;

    v->l1_index = l1i;
    v->l2_offset = 0;
    if (l1i >= v->l1_size) {
        return 0;       /* past the table: unallocated, as QEMU reads it */
    }
    if (fr_src_pread(v->file, e, sizeof(e), at, "qcow2 L1 table") < 0) {
        return -1;
    }
    uint64_t l2 = fr_be64dec(e) & ENTRY_OFFSET_MASK;
    if (l2 == 0) {
        return 0;
    }
    if (l2 & ((1ull << v->cluster_bits) - 1)) {
        return fr_fail(v->file->err, FR_E_CORRUPT, at,
                       "qcow2 L1 entry: L2 table offset 0x%llx is not "
                       "cluster-aligned", (unsigned long long)l2);
    }
    if (fr_src_pread(v->file, v->l2, (size_t)1 << v->cluster_bits, l2,
                     "qcow2 L2 table") < 0) {
        v->l1_index = UINT64_MAX;
        return -1;
    }
    v->l2_offset = l2;
    return 0;
}

/*
 * Map guest offset G: *HOST is its file offset, or 0 where it reads as
 * zeros, for the next *RUN bytes.
 */
static int map_offset(struct vmstate *v, uint64_t g, uint64_t *host,
                      uint64_t *run)
{
    const uint64_t cs = 1ull << v->cluster_bits;
    const uint32_t l1_bits = v->cluster_bits + v->l2_bits;
    const uint64_t within = g & (cs - 1);

    if ((g >> l1_bits) != v->l1_index && load_l2(v, g >> l1_bits) < 0) {
        return -1;
    }
    *host = 0;
    if (!v->l2_offset) {
        *run = (1ull << l1_bits) - (g & ((1ull << l1_bits) - 1));
        return 0;
    }
    const uint64_t l2i = (g >> v->cluster_bits) & ((1ull << v->l2_bits) - 1);
    const uint8_t *e = v->l2 + l2i * v->entry_bytes;
    const uint64_t at = v->l2_offset + l2i * v->entry_bytes;
    const uint64_t entry = fr_be64dec(e);
    const uint64_t off = entry & ENTRY_OFFSET_MASK;
    bool data;

    if (entry & L2_COMPRESSED) {
        return fr_fail(v->file->err, FR_E_UNSUPPORTED, at,
                       "qcow2 compressed cluster in the VM state: not "
                       "supported");
    }
    if (v->extended_l2) {
        const uint32_t sc_bits = v->cluster_bits - 5;
        const uint64_t bitmap = fr_be64dec(e + 8);
        const uint32_t sc = (uint32_t)(within >> sc_bits);
        const bool alloc = (bitmap >> sc) & 1;
        if (alloc && ((bitmap >> (32 + sc)) & 1)) {
            return fr_fail(v->file->err, FR_E_CORRUPT, at,
                           "qcow2 subcluster %u both allocated and zero",
                           sc);
        }
        data = alloc;
        *run = (1ull << sc_bits) - (within & ((1ull << sc_bits) - 1));
    } else {
        data = off != 0 && !(entry & L2_ZERO);
        *run = cs - within;
    }
    if (data && (off == 0 || (off & (cs - 1)))) {
        return fr_fail(v->file->err, FR_E_CORRUPT, at,
                       "qcow2 L2 entry: cluster offset 0x%llx is not "
                       "cluster-aligned", (unsigned long long)off);
    }
    if (data) {
        *host = off + within;
    }
    return 0;
}

static ssize_t vmstate_fill(struct fr_src *s, uint8_t *buf, size_t n)
{
    struct vmstate *v = s->ctx;
    uint64_t rd_host = 0;       /* a pending read of contiguous clusters */
    size_t rd_at = 0, rd_len = 0, done = 0;

    if (n > v->size - v->pos) {
        n = (size_t)(v->size - v->pos);
    }
    while (done < n) {
        uint64_t host = 0, run = 0;
        if (map_offset(v, v->base + v->pos + done, &host, &run) < 0) {
            return -1;
        }
        size_t len = run < n - done ? (size_t)run : n - done;
        if (host && rd_len && rd_host + rd_len == host) {
            rd_len += len;
        } else {
            if (rd_len && fr_src_pread(v->file, buf + rd_at, rd_len, rd_host,
                                       "qcow2 cluster of the VM state") < 0) {
                return -1;
            }
            rd_len = 0;
            if (host) {
                rd_host = host;
                rd_at = done;
                rd_len = len;
            } else {
                memset(buf + done, 0, len);
            }
        }
        done += len;
    }
    if (rd_len && fr_src_pread(v->file, buf + rd_at, rd_len, rd_host,
                               "qcow2 cluster of the VM state") < 0) {
        return -1;
    }
    v->pos += n;
    return (ssize_t)n;
}

static void vmstate_close(struct fr_src *s)
{
    struct vmstate *v = s->ctx;

    free(v->l2);
    free(v);
}

int qcow2_open_vmstate(struct fr_src *outer, struct fr_src *file,
                       const struct qcow2 *q, const struct qcow2_snapshot *sn)
{
    struct vmstate *v = calloc(1, sizeof(*v));

    if (!v || !(v->l2 = malloc((size_t)1 << q->cluster_bits))) {
        free(v);
        return fr_fail(file->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    v->file = file;
    v->cluster_bits = q->cluster_bits;
    v->extended_l2 = q->extended_l2;
    v->entry_bytes = q->extended_l2 ? 16 : 8;
    v->l2_bits = l2_bits(q);
    v->l1_offset = sn->l1_offset;
    v->l1_size = sn->l1_size;
    v->size = sn->vmstate_size;
    v->l1_index = UINT64_MAX;
    vmstate_base(q, sn, &v->base);  /* checked by qcow2_open */
    if (fr_src_open_backend(outer, file->err, vmstate_fill, vmstate_close,
                            v) < 0) {
        free(v->l2);
        free(v);
        return -1;
    }
    return 0;
}
