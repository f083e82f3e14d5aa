/*
 * Comparing a classic stream with another save file's pages: see
 * pagecmp.h.  Records of consecutive pages are gathered into runs (their
 * data copied: the reader's buffer moves on), the other side's pages of a
 * run are read in one go, and each page's bit is set or cleared: a resent
 * page's last copy decides.
 */
#include "config.h"

#include "pagecmp.h"

#include <stdlib.h>
#include <string.h>

#include "zero.h"

#define RUN_PAGES 256

struct pagecmp {
    struct pagesrc *other;
    struct fr_err *err;         /* the stream's */
    uint32_t page_size;
    size_t nblocks;
    long *peer;                 /* per block: OTHER's block, or -1 */
    struct fr_bitmap *differs;
    bool xbzrle;
    /* the run being gathered */
    size_t run_block;
    uint64_t run_start, run_len;
    const uint8_t *run_data[RUN_PAGES]; /* NULL: a zero page */
    uint8_t *buf;               /* OTHER's pages of the run, if read */
    uint8_t *mine;              /* the run's own pages */
    const uint8_t *theirs[RUN_PAGES];
};

static int no_memory(struct pagecmp *c)
{
    return fr_fail(c->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
}

static int pc_blocks(void *opaque, struct ram_state *rs)
{
    struct pagecmp *c = opaque;
    const struct ram_state *o = pagesrc_ram(c->other);

    if (rs->page_size != o->page_size) {
        return fr_fail(c->err, FR_E_MISMATCH, FR_NO_OFFSET,
                       "the files have different page sizes");
    }
    c->page_size = rs->page_size;
    c->nblocks = rs->nblocks;
    c->peer = calloc(rs->nblocks + 1, sizeof(*c->peer));
    c->differs = calloc(rs->nblocks + 1, sizeof(*c->differs));
    c->buf = malloc((size_t)RUN_PAGES * rs->page_size);
    c->mine = malloc((size_t)RUN_PAGES * rs->page_size);
    if (!c->peer || !c->differs || !c->buf || !c->mine) {
        return no_memory(c);
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        c->peer[i] = ram_find_block(o, rs->blocks[i].name);
        if (fr_bitmap_init(&c->differs[i], rs->blocks[i].npages) < 0) {
            return no_memory(c);
        }
    }
    return 0;
}

/* Compare the run with OTHER's pages. */
static int run_flush(struct pagecmp *c)
{
    uint32_t ps = c->page_size;
    struct fr_bitmap *d = &c->differs[c->run_block];

    if (!c->run_len) {
        return 0;
    }
    if (pagesrc_pages(c->other, (size_t)c->peer[c->run_block], c->run_start,
                      c->run_len, c->buf, c->theirs) < 0) {
        return -1;
    }
    for (uint64_t i = 0; i < c->run_len; i++) {
        bool differ = fr_pages_differ(c->run_data[i], c->theirs[i], ps);
        if (!differ) {
            fr_bitmap_clear(d, c->run_start + i);
        } else if (fr_bitmap_set(d, c->run_start + i) < 0) {
            return no_memory(c);
        }
    }
    c->run_len = 0;
    return 0;
}

static int pc_record(void *opaque, struct ram_state *rs,
                     const struct ram_record *rec)
{
    struct pagecmp *c = opaque;
    long peer = c->peer[rec->block];

    (void)rs;
    if (rec->kind == RAM_XBZRLE) {
        c->xbzrle = true;
        return -1;      /* stop the walk: the caller goes another way */
    }
    if (peer < 0 ||
        rec->page >= pagesrc_ram(c->other)->blocks[peer].npages) {
        return 0;       /* nothing to compare it with */
    }
    if (c->run_len && (rec->block != c->run_block ||
                       rec->page != c->run_start + c->run_len ||
                       c->run_len == RUN_PAGES) && run_flush(c) < 0) {
        return -1;
    }
    if (!c->run_len) {
        c->run_block = rec->block;
        c->run_start = rec->page;
    }
    if (rec->kind == RAM_ZERO) {
        c->run_data[c->run_len++] = NULL;
    } else {
        uint8_t *mine = c->mine + c->run_len * c->page_size;
        c->run_data[c->run_len++] = memcpy(mine, rec->data, c->page_size);
    }
    return 0;
}

int pagecmp_stream(struct savefile *sf, struct pagesrc *other,
                   const struct sf_visitor *v, struct sf_summary *sum,
                   struct fr_bitmap **differs)
{
    struct pagecmp c = { .other = other, .err = &sf->err };
    struct sf_visitor walk = { 0 };
    int ret;

    if (v) {
        walk = *v;
    }
    walk.ram = (struct ram_visitor){ .opaque = &c, .blocks = pc_blocks,
                                     .record = pc_record };
    ret = savefile_walk(sf, sum, &walk);
    if (ret == 0 && !sum->ram.mapped_ram) {
        ret = run_flush(&c);
    } else if (ret == 0) {
        ret = fr_fail(&sf->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                      "internal error: not a classic stream");
    } else if (c.xbzrle) {
        ret = 1;
    }
    free(c.peer);
    free(c.buf);
    free(c.mine);
    if (ret != 0) {
        pagecmp_free(c.differs, c.nblocks);
        c.differs = NULL;
    }
    *differs = c.differs;
    return ret;
}

void pagecmp_free(struct fr_bitmap *differs, size_t nblocks)
{
    if (differs) {
        for (size_t i = 0; i < nblocks; i++) {
            fr_bitmap_free(&differs[i]);
        }
    }
    free(differs);
}
