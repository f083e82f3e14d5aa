/*
 * Fuzz target: qcow2 images with internal snapshots.  The input is written
 * to a memory file (the reader needs positioned reads), its header and
 * snapshot table are read, and the VM state of every snapshot that has
 * one is read through its L1 and L2 tables (up to 4 MiB each: unallocated
 * ranges read as zeros, so a tiny input may declare petabytes), then
 * walked as a migration stream as savefile_open would.
 */
#define _GNU_SOURCE
#include "config.h"

#include "fuzz-walk.h"
#include "qcow2.h"

#define READ_CAP (4u << 20)

static void read_vmstate(struct fr_src *file, const struct qcow2 *q,
                         const struct qcow2_snapshot *sn)
{
    struct fr_src vm;
    uint64_t got = 0;
    size_t n;
    const uint8_t *p;

    if (qcow2_open_vmstate(&vm, file, q, sn) < 0) {
        return;
    }
    while (got < READ_CAP && (p = fr_src_peek_upto(&vm, 65536, &n)) && n) {
        fr_src_consume(&vm, n);
        got += n;
        FUZZ_ASSERT(fr_src_tell(&vm) == got);
    }
    FUZZ_ASSERT(got <= sn->vmstate_size);
    FUZZ_ASSERT(fr_failed(file->err) || got == sn->vmstate_size ||
                got >= READ_CAP);
    fr_src_close(&vm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_memfd(data, size);
    struct fr_err err = { 0 };
    struct fr_src file;
    struct qcow2 q;
    struct savefile sf;

    if (fr_src_open_fd(&file, fd, &err) == 0 && qcow2_open(&q, &file) == 0) {
        FUZZ_ASSERT(!fr_failed(&err));
        for (uint32_t i = 0; i < q.nsnaps; i++) {
            FUZZ_ASSERT(q.snaps[i].id && q.snaps[i].name);
            if (q.snaps[i].vmstate_size) {
                /* IDs may repeat: the first with this one is found */
                struct fr_err e = { 0 };
                const struct qcow2_snapshot *sn =
                    qcow2_find(&q, q.snaps[i].id, &e);
                FUZZ_ASSERT(sn ? strcmp(sn->id, q.snaps[i].id) == 0
                               : fr_failed(&e));
                read_vmstate(&file, &q, &q.snaps[i]);
                fr_err_clear(&err);
            }
        }
    }
    qcow2_free(&q);
    fr_src_close(&file);
    close(fd);

    /* the whole path, as the commands open a file, on a small VM state
     * (only for qcow2 images: others may start gzip and the like) */
    if (!qcow2_probe(data, size)) {
        return 0;
    }
    if (savefile_open_fd(&sf, fuzz_memfd(data, size), "fuzz") == 0 &&
        sf.is_qcow2 && sf.snapshot->vmstate_size <= READ_CAP) {
        fuzz_walk(&sf, UINT64_MAX);
    }
    savefile_close(&sf);
    return 0;
}
