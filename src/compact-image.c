/*
 * Compacting a mapped-ram image file: see compact.h.  The output is the
 * input byte for byte, except in the pages regions, where only pages with
 * data under a set bit are written (the rest are holes), and in the
 * bitmaps, which lose the bits of all-zero pages.  Offsets are those of
 * the input, so headers, device state and a libvirt header need no
 * rewriting.
 */
#include "config.h"

#include "compact.h"

#include <stdlib.h>
#include <string.h>

#include "pagesrc.h"
#include "parallel.h"
#include "progress.h"
#include "zero.h"

#define RUN_PAGES 256
#define COPY_BYTES (1u << 20)

struct region {
    uint64_t start, end;
};

static int by_start(const void *a, const void *b)
{
    const struct region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The 4 KiB block at AT of N bytes, or what is left of them. */
static size_t block_len(size_t n, size_t at)
{
    return n - at < 4096 ? n - at : 4096;
}

/* Copy the input's bytes in [FROM, TO) to the same offsets, leaving holes
 * where 4 KiB blocks are zero (the gaps before 1 MiB-aligned regions). */
static int copy_range(struct savefile *in, struct fr_sink *out, uint8_t *buf,
                      uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t n = to - from < COPY_BYTES ? (size_t)(to - from) : COPY_BYTES;
        if (fr_src_pread(&in->file, buf, n, from, "file") < 0) {
            return -1;
        }
        for (size_t i = 0; i < n;) {
            /* [i, e): blocks with data; then one zero block, skipped */
            size_t e = i;
            while (e < n && !fr_is_zero(buf + e, block_len(n, e))) {
                e += block_len(n, e);
            }
            if (e > i && fr_sink_pwrite(out, buf + i, e - i, from + i) < 0) {
                return -1;
            }
            i = e < n ? e + block_len(n, e) : n;
        }
        from += n;
    }
    return 0;
}

/* Everything but the pages regions, as it is. */
static int copy_rest(struct savefile *in, struct fr_sink *out,
                     const struct ram_state *rs)
{
    struct region *r = calloc(rs->nblocks + 1, sizeof(*r));
    uint8_t *buf = malloc(COPY_BYTES);
    uint64_t at = 0, size = in->file.size;
    size_t n = 0;
    int ret = -1;

    if (!r || !buf) {
        fr_fail(&in->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        if (!b->mr_no_data) {
            r[n].start = b->mr.pages_offset;
            r[n].end = b->mr.pages_offset + b->npages * rs->page_size;
            n++;
        }
    }
    qsort(r, n, sizeof(*r), by_start);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = r[i].start < size ? r[i].start : size;
        if (s > at && copy_range(in, out, buf, at, s) < 0) {
            goto out;
        }
        at = r[i].end > at ? r[i].end : at;
    }
    if (at < size && copy_range(in, out, buf, at, size) < 0) {
        goto out;
    }
    /* as long as the input, should it end in zeros (an empty write
     * moves the end) */
    ret = fr_sink_pwrite(out, buf, 0, size);
out:
    free(r);
    free(buf);
    return ret;
}

/* Pages of one block, a range at a time from several threads. */
struct pages_job {
    struct pagesrc *ps;
    struct fr_sink *out;
    size_t block;
    uint8_t **buf;              /* per worker: RUN_PAGES pages */
    struct fr_bitmap zero;      /* pages found all-zero */
    pthread_mutex_t lock;       /* for ZERO */
    struct fr_err err;
    struct fr_progress *prog;   /* shown by worker 0 */
    uint64_t *done, total;      /* pages looked at, of all blocks */
};

/* PAGE, present, is all zero: its bit goes. */
static int note_zero(void *ctx, uint64_t page)
{
    struct pages_job *j = ctx;

    pthread_mutex_lock(&j->lock);
    int r = fr_bitmap_set(&j->zero, page);
    pthread_mutex_unlock(&j->lock);
    return r < 0 ? fr_fail(&j->err, FR_E_NOMEM, FR_NO_OFFSET,
                           "out of memory") : 0;
}

static int copy_pages(void *ctx, int worker, uint64_t first, uint64_t count)
{
    struct pages_job *j = ctx;
    const struct ram_block *b = &j->ps->sum.ram.blocks[j->block];

    if (pagesrc_copy_data(j->ps, j->block, first, count, j->buf[worker],
                          RUN_PAGES, j->out, b->mr.pages_offset, note_zero,
                          j) < 0) {
        return -1;
    }
    uint64_t done = __atomic_add_fetch(j->done, count, __ATOMIC_RELAXED);
    if (worker == 0) {
        fr_progress_update(j->prog, done, j->total);
    }
    return 0;
}

int compact_image(struct savefile *in, struct fr_sink *out, int threads,
                  struct fr_progress *prog)
{
    struct pagesrc ps;
    uint8_t *bufs[256] = { 0 };
    uint64_t done = 0, total = 0;
    int ret = -1;

    threads = threads < 1 ? 1 : threads > 256 ? 256 : threads;
    if (pagesrc_open(&ps, in, NULL) < 0) {
        goto out;
    }
    struct ram_state *rs = &ps.sum.ram;
    if (ps.materialized || !rs->mapped_ram) {
        fr_fail(&in->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "internal error: not a mapped-ram image file");
        goto out;
    }
    size_t bufsize = (size_t)RUN_PAGES * rs->page_size;
    if (fr_parallel_bufs(bufs, threads, bufsize) < 0) {
        fr_fail(&in->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto out;
    }
    if (copy_rest(in, out, rs) < 0) {
        goto out;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        total += rs->blocks[i].mr_no_data ? 0 : rs->blocks[i].npages;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        struct ram_block *b = &rs->blocks[i];
        struct pages_job j = { .ps = &ps, .out = out, .block = i,
                               .buf = bufs, .prog = prog, .done = &done,
                               .total = total };
        if (b->mr_no_data) {
            continue;
        }
        pthread_mutex_init(&j.lock, NULL);
        int r = fr_bitmap_init(&j.zero, b->npages);
        if (r == 0) {
            r = fr_parallel(b->npages, (uint64_t)RUN_PAGES * 16, threads,
                            copy_pages, &j);
        }
        pthread_mutex_destroy(&j.lock);
        /* a present page found all-zero is not present: a hole reads
         * as zeros, and QEMU itself never sets the bit of a zero page */
        for (uint64_t p = fr_bitmap_next(&j.zero, 0, true); r == 0 &&
             p < b->npages; p = fr_bitmap_next(&j.zero, p + 1, true)) {
            fr_bitmap_clear(&b->present, p);
        }
        fr_bitmap_free(&j.zero);
        if (fr_failed(&j.err) && !fr_failed(&in->err)) {
            in->err = j.err;
        }
        if (r < 0 || mapped_ram_write_bitmap(out, b, &b->present) < 0) {
            goto out;
        }
    }
    ret = 0;
out:
    fr_parallel_bufs_free(bufs, threads);
    pagesrc_close(&ps);
    return ret;
}
