/*
 * Placing page records at fixed offsets: see place.h.
 */
#include "config.h"

#include "place.h"

#include <stdlib.h>
#include <string.h>

#include "xbzrle.h"
#include "zero.h"

/* Pages coalesced into one write. */
#define RUN_PAGES 256
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
    pl->nblocks = rs->nblocks;
    pl->sink = calloc(rs->nblocks + 1, sizeof(*pl->sink));
    pl->base = calloc(rs->nblocks + 1, sizeof(*pl->base));
    pl->bits = calloc(rs->nblocks + 1, sizeof(*pl->bits));
    /* aligned for --bypass-cache (O_DIRECT) */
    pl->run = aligned_alloc(4096, (size_t)RUN_PAGES * MAX_PAGE);
    pl->page = malloc(MAX_PAGE);
    if (!pl->sink || !pl->base || !pl->bits || !pl->run || !pl->page) {
        return no_memory(pl);
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        if (fr_bitmap_init(&pl->bits[i], rs->blocks[i].npages) < 0) {
            return no_memory(pl);
        }
    }
    return 0;
}

int placer_flush(struct placer *pl)
{
    if (!pl->run_count) {
        return 0;
    }
    uint64_t off = pl->base[pl->run_block] + pl->run_start * pl->page_size;
    if (fr_sink_pwrite(pl->sink[pl->run_block], pl->run,
                       pl->run_count * pl->page_size, off) < 0) {
        return -1;
    }
    pl->run_count = 0;
    return 0;
}

/* The page's data is DATA (non-zero): queue it for writing. */
static int store(struct placer *pl, size_t block, uint64_t page,
                 const uint8_t *data)
{
    if (pl->run_count && (block != pl->run_block ||
                          page != pl->run_start + pl->run_count ||
                          pl->run_count == RUN_PAGES)) {
        if (placer_flush(pl) < 0) {
            return -1;
        }
    }
    if (!pl->run_count) {
        pl->run_block = block;
        pl->run_start = page;
    }
    memcpy(pl->run + pl->run_count * pl->page_size, data, pl->page_size);
    pl->run_count++;
    return fr_bitmap_set(&pl->bits[block], page) < 0 ? no_memory(pl) : 0;
}

/* The page is zero now: clear its bit, and drop data written before. */
static int make_zero(struct placer *pl, size_t block, uint64_t page)
{
    if (!fr_bitmap_test(&pl->bits[block], page)) {
        return 0;
    }
    if (placer_flush(pl) < 0) {
        return -1;
    }
    fr_bitmap_clear(&pl->bits[block], page);
    if (pl->keep_stale) {
        return 0;
    }
    return fr_sink_punch(pl->sink[block],
                         pl->base[block] + page * pl->page_size,
                         pl->page_size);
}

int placer_record(struct placer *pl, const struct ram_record *rec)
{
    uint32_t ps = pl->page_size;
    const uint8_t *data = rec->data;

    if (rec->block >= pl->nblocks || !pl->sink[rec->block]) {
        return 0;
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
                              pl->base[rec->block] + rec->page * ps) < 0) {
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
    if (pl->bits) {
        for (size_t i = 0; i < pl->nblocks; i++) {
            fr_bitmap_free(&pl->bits[i]);
        }
    }
    free(pl->bits);
    free(pl->sink);
    free(pl->base);
    free(pl->run);
    free(pl->page);
    memset(pl, 0, sizeof(*pl));
}
