/*
 * Placing page records at fixed offsets: see place.h.
 */
#include "config.h"

#include "place.h"

#include <stdlib.h>
#include <string.h>

#include "lookahead.h"
#include "xbzrle.h"
#include "zero.h"

/* Bytes of pages per buffer, and the largest page size. */
#define BUF_BYTES (1u << 20)
#define MAX_PAGE 65536

static int no_memory(struct placer *pl)
{
    return fr_fail(pl->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
}

int placer_init(struct placer *pl, const struct ram_state *rs,
                struct fr_err *err)
{
    memset(pl, 0, sizeof(*pl));
    pl->err = err;
    pl->page_size = rs->page_size;
    pl->cap = BUF_BYTES > rs->page_size ? BUF_BYTES : rs->page_size;
    pl->nblocks = rs->nblocks;
    pl->sink = calloc(rs->nblocks + 1, sizeof(*pl->sink));
    pl->base = calloc(rs->nblocks + 1, sizeof(*pl->base));
    pl->split = malloc((rs->nblocks + 1) * sizeof(*pl->split));
    pl->split_base = calloc(rs->nblocks + 1, sizeof(*pl->split_base));
    pl->bits = calloc(rs->nblocks + 1, sizeof(*pl->bits));
    pl->batch = calloc(PLACER_BUFS, sizeof(*pl->batch));
    pl->page = malloc(MAX_PAGE);
    if (!pl->sink || !pl->base || !pl->split || !pl->split_base ||
        !pl->bits || !pl->batch || !pl->page) {
        return no_memory(pl);
    }
    for (size_t i = 0; i <= rs->nblocks; i++) {
        pl->split[i] = UINT64_MAX;
    }
    for (int i = 0; i < PLACER_BUFS; i++) {
        /* aligned for --bypass-cache (O_DIRECT) */
        pl->batch[i].buf = aligned_alloc(4096, pl->cap);
        if (!pl->batch[i].buf) {
            return no_memory(pl);
        }
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        if (fr_bitmap_init(&pl->bits[i], rs->blocks[i].npages) < 0) {
            return no_memory(pl);
        }
    }
    return 0;
}

/* Where PAGE of BLOCK goes in its sink. */
static uint64_t page_offset(const struct placer *pl, size_t block,
                            uint64_t page)
{
    uint64_t base = page < pl->split[block] ? pl->base[block]
                                            : pl->split_base[block];
    return base + page * pl->page_size;
}

/* Write the runs of batch TARGET, whose bytes are P. */
static int write_batch(void *target, const void *p, size_t n, int64_t off)
{
    const struct placer_batch *b = target;
    const uint8_t *at = p;
    (void)n;
    (void)off;

    for (size_t i = 0; i < b->nseg; i++) {
        if (fr_sink_pwrite(b->seg[i].sink, at, b->seg[i].len,
                           b->seg[i].off) < 0) {
            return -1;
        }
        at += b->seg[i].len;
    }
    return 0;
}

/* With a writer thread, the thread that parses the input only fills
 * buffers (wqueue.h), one job per buffer however short its runs.  Writes
 * keep their order: a later copy of a page is never overtaken by an
 * earlier one. */
void placer_start_writer(struct placer *pl)
{
    fr_wq_start(&pl->wq, write_batch, PLACER_BUFS);
}

/* Hand the buffer over to be written, and go on with the next. */
static int submit_batch(struct placer *pl)
{
    struct placer_batch *b = &pl->batch[pl->cur];
    int ret;

    if (!b->nseg) {
        return 0;
    }
    if (!pl->wq.threaded) {
        ret = write_batch(b, b->buf, pl->fill, 0);
        b->nseg = 0;
    } else {
        ret = fr_wq_put(&pl->wq, b, b->buf, pl->fill, 0);
        pl->cur = (pl->cur + 1) % PLACER_BUFS;
        pl->batch[pl->cur].nseg = 0;
    }
    pl->fill = 0;
    return ret;
}

/* Close the open run; submit the buffer when it is full (or at once
 * without a writer thread). */
static int close_run(struct placer *pl)
{
    struct placer_batch *b = &pl->batch[pl->cur];

    if (!pl->run_count) {
        return 0;
    }
    b->seg[b->nseg].sink = pl->sink[pl->run_block];
    b->seg[b->nseg].off = page_offset(pl, pl->run_block, pl->run_start);
    b->seg[b->nseg].len = pl->run_count * pl->page_size;
    b->nseg++;
    pl->fill += pl->run_count * pl->page_size;
    pl->run_count = 0;
    /* without a writer thread, nothing is gained by waiting */
    if (!pl->wq.threaded || b->nseg == PLACER_SEGS ||
        pl->fill + pl->page_size > pl->cap) {
        return submit_batch(pl);
    }
    return 0;
}

int placer_flush(struct placer *pl)
{
    if (!pl->batch) {
        return 0;       /* never set up: the stream had no block list */
    }
    if (close_run(pl) < 0 || submit_batch(pl) < 0) {
        return -1;
    }
    return pl->wq.threaded ? fr_wq_drain(&pl->wq) : 0;
}

/* Queue DATA (NULL: zeros) for writing at PAGE. */
static int queue(struct placer *pl, size_t block, uint64_t page,
                 const uint8_t *data)
{
    uint32_t ps = pl->page_size;

    if (pl->run_count && (block != pl->run_block ||
                          page != pl->run_start + pl->run_count ||
                          page == pl->split[block] ||
                          pl->fill + (pl->run_count + 1) * ps > pl->cap)) {
        if (close_run(pl) < 0) {
            return -1;
        }
    }
    if (!pl->run_count) {
        pl->run_block = block;
        pl->run_start = page;
    }
    uint8_t *dst = pl->batch[pl->cur].buf + pl->fill + pl->run_count * ps;
    if (data) {
        memcpy(dst, data, ps);
    } else {
        memset(dst, 0, ps);
    }
    pl->run_count++;
    pl->tail_block = block;
    pl->tail_end = page + 1;
    return 0;
}

/* A gap of fewer than MIN_HOLE pages after the page queued last, before
 * PAGE, goes out as zeros: one write and one extent instead of two.  Not
 * where a bit is set: the data written there before stays. */
static int fill_gap(struct placer *pl, size_t block, uint64_t page)
{
    uint64_t from = pl->tail_end;

    if (!from || block != pl->tail_block || page <= from ||
        page - from >= pl->min_hole ||
        fr_bitmap_any(&pl->bits[block], from, page, true)) {
        return 0;
    }
    for (uint64_t p = from; p < page; p++) {
        if (queue(pl, block, p, NULL) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The page's data is DATA (non-zero): queue it for writing. */
static int store(struct placer *pl, size_t block, uint64_t page,
                 const uint8_t *data)
{
    if ((pl->min_hole > 1 && fill_gap(pl, block, page) < 0) ||
        queue(pl, block, page, data) < 0) {
        return -1;
    }
    return fr_bitmap_set(&pl->bits[block], page) < 0 ? no_memory(pl) : 0;
}

/* The page is zero now: clear its bit, and overwrite the data written
 * before with zeros (punching a hole instead costs a file system
 * transaction, and a wait for the page's writeback, per page). */
static int make_zero(struct placer *pl, size_t block, uint64_t page)
{
    if (!fr_bitmap_test(&pl->bits[block], page)) {
        return 0;
    }
    fr_bitmap_clear(&pl->bits[block], page);
    return pl->keep_stale ? 0 : queue(pl, block, page, NULL);
}

/* Place the page's last copy, which the lookahead found, instead of REC. */
static int place_last(struct placer *pl, const struct ram_record *rec)
{
    const uint8_t *data;
    bool zero, data_before;

    if (lookahead_last(pl->la, rec, pl->page_size, pl->page, &zero,
                       &data_before, &data) < 0) {
        return -1;
    }
    if (!zero && !fr_is_zero(data, pl->page_size)) {
        return store(pl, rec->block, rec->page, data);
    }
    /* The page ends zero.  Placing every copy in turn leaves zeros where
     * a copy before the last had data, a hole elsewhere; so does this, and
     * the file's allocation does not depend on when the lookahead got
     * ready: copies placed before then wrote their data or zeros already
     * (make_zero sees a bit still set), and REC and the copies after it
     * are known here.  Zeros also keep a run of data pages in one write. */
    if ((ram_record_has_data(rec) || data_before) && !pl->keep_stale) {
        fr_bitmap_clear(&pl->bits[rec->block], rec->page);
        return queue(pl, rec->block, rec->page, NULL);
    }
    return make_zero(pl, rec->block, rec->page);
}

int placer_record(struct placer *pl, const struct ram_record *rec)
{
    uint32_t ps = pl->page_size;
    const uint8_t *data = rec->data;

    if (rec->block >= pl->nblocks || !pl->sink[rec->block]) {
        return 0;
    }
    switch (pl->la ? lookahead_check(pl->la, rec) : LA_PLACE) {
    case LA_SKIP:
        return 0;
    case LA_LAST:
        return place_last(pl, rec);
    case LA_PLACE:
        break;
    }
    if (rec->kind == RAM_XBZRLE) {
        /* the delta applies to the page as the destination has it now */
        size_t bad;
        const char *why;
        if (placer_flush(pl) < 0) {
            return -1;
        }
        if (fr_bitmap_test(&pl->bits[rec->block], rec->page)) {
            if (fr_sink_pread(pl->sink[rec->block], pl->page, ps,
                              page_offset(pl, rec->block, rec->page)) < 0) {
                return -1;
            }
        } else {
            memset(pl->page, 0, ps);
        }
        xbzrle_decode(rec->data, rec->len, pl->page, ps, &bad, &why);
        data = pl->page;
    }
    if (rec->kind == RAM_ZERO || fr_is_zero(data, ps)) {
        return make_zero(pl, rec->block, rec->page);
    }
    return store(pl, rec->block, rec->page, data);
}

void placer_free(struct placer *pl)
{
    fr_wq_stop(&pl->wq);
    for (int i = 0; pl->batch && i < PLACER_BUFS; i++) {
        free(pl->batch[i].buf);
    }
    free(pl->batch);
    if (pl->bits) {
        for (size_t i = 0; i < pl->nblocks; i++) {
            fr_bitmap_free(&pl->bits[i]);
        }
    }
    free(pl->bits);
    free(pl->sink);
    free(pl->base);
    free(pl->split);
    free(pl->split_base);
    free(pl->page);
    memset(pl, 0, sizeof(*pl));
}
