/*
 * Placing classic page records at fixed offsets: the engine behind
 * stream-to-image and extract.  Each record lands at BASE[block] + page *
 * page_size in SINK[block] (blocks without a sink are skipped), or at
 * SPLIT_BASE[block] + page * page_size from page SPLIT[block] on (a block
 * split around a hole in the guest-physical address space); runs of
 * contiguous pages go out in one pwrite; the last copy of a page wins
 * (with a lookahead, it is placed where the page is met first);
 * XBZRLE deltas apply to the page as already written (read back); zero
 * pages are not written (holes), except in a gap of fewer than MIN_HOLE
 * pages between data, written as zeros so that the data goes out in one
 * run; a page that becomes zero after it was written is overwritten with
 * zeros.  One bit per page says what holds data.
 */
#ifndef FR_PLACE_H
#define FR_PLACE_H

#include <stdbool.h>
#include <stdint.h>

#include "bitmap.h"
#include "ram.h"
#include "sink.h"
#include "wqueue.h"

struct lookahead;

#define PLACER_BUFS FR_WQ_MAX
#define PLACER_SEGS 256

/* Runs of pages, one after the other in BUF, each written at OFF of its
 * SINK: a buffer's worth goes to the writer in one job. */
struct placer_batch {
    uint8_t *buf;
    size_t nseg;
    struct {
        struct fr_sink *sink;
        uint64_t off;
        size_t len;
    } seg[PLACER_SEGS];
};

struct placer {
    uint32_t page_size;
    size_t nblocks;
    struct fr_sink **sink;      /* per block, or NULL: skip its records */
    uint64_t *base;             /* per block: offset of page 0 */
    uint64_t *split;            /* per block: pages from this one on */
    uint64_t *split_base;       /* ... go at split_base + page * size */
    struct fr_bitmap *bits;     /* per block: the page holds data */
    bool keep_stale;            /* a clear bit is enough: write nothing */
    uint64_t min_hole;          /* pages: a shorter gap between data is
                                 * written as zeros (0 or 1: none is) */
    struct placer_batch *batch; /* PLACER_BUFS: being filled, queued */
    int cur;                    /* the one being filled */
    size_t fill, cap;           /* its bytes in closed runs; its size */
    size_t run_block;           /* the open run: at buf + fill */
    uint64_t run_start, run_count;
    size_t tail_block;          /* just past the page queued last */
    uint64_t tail_end;          /* (0: none queued yet) */
    uint8_t *page;
    struct fr_err *err;         /* for out-of-memory */
    struct lookahead *la;       /* or NULL: set by the caller */
    struct fr_wqueue wq;        /* the writer thread, when started */
};

/* Set up PL for the blocks of RS; the caller then fills SINK and BASE,
 * and SPLIT and SPLIT_BASE for a split block (SPLIT starts as UINT64_MAX).
 * Returns 0, or -1 with ERR set. */
int placer_init(struct placer *pl, const struct ram_state *rs,
                struct fr_err *err);

/* Write from a thread of its own from now on (the results are the same). */
void placer_start_writer(struct placer *pl);

/* Place one record.  Returns 0, or -1 (error in the sink's err, or ERR). */
int placer_record(struct placer *pl, const struct ram_record *rec);

/* Write what is still queued, and wait until it is written (nothing for
 * a placer that placer_init never set up). */
int placer_flush(struct placer *pl);

void placer_free(struct placer *pl);

#endif
