/*
 * Compacting a classic stream in two passes: see compact.h.
 */
#include "config.h"

#include "compact.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "place.h"
#include "zero.h"

/* Pages of resent blocks read back at a time. */
#define BACK_PAGES 256
/* Ram sections with resent records we remember, at most. */
#define MAX_RESEND_SECTIONS (1u << 18)

/* A ram section that holds resent records: where its body starts, and
 * the block a CONTINUE record at its start refers to. */
struct resend_section {
    uint64_t body;
    long last_block;
};

struct compactor {
    struct savefile *in;        /* the pass being walked */
    struct savefile *first_in;  /* pass 1's: read again */
    struct fr_sink *out;
    const struct convert_opts *o;
    struct sf_summary *sum;
    struct sf_summary *first;   /* pass 1's walk: pages sent */
    size_t nblocks;
    struct fr_bitmap *resent;   /* per block: sent more than once */
    uint64_t nresent;
    /* pass 1: the sections to read the final copies from again */
    struct resend_section *rsec, cur;
    size_t nrsec;
    uint64_t resent_before;     /* resent records before this section */
    bool no_read_back;          /* a START with them, or too many */
    /* pass 2, reading the final copies back from the input */
    bool read_back;
    struct fr_bitmap *done;     /* per block: final copy written */
    struct fr_bitmap *pending;  /* ... in the section being read */
    uint64_t *lo, *hi;          /* per block: pending pages [lo, hi] */
    /* pass 2, otherwise (XBZRLE needs the content before) */
    struct fr_sink scratch;     /* final content of resent pages */
    struct fr_err scratch_err;
    bool scratch_open;
    struct placer pl;
    size_t named;               /* block named last in this section */
    bool resent_done;
    uint8_t *buf;
};

static int no_memory(struct fr_err *err)
{
    return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
}

/* ---- pass 1: which pages are resent ------------------------------------ */

static int find_blocks(void *opaque, struct ram_state *rs)
{
    struct compactor *c = opaque;

    c->nblocks = rs->nblocks;
    c->resent = calloc(rs->nblocks + 1, sizeof(*c->resent));
    if (!c->resent) {
        return no_memory(&c->in->err);
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        if (fr_bitmap_init(&c->resent[i], rs->blocks[i].npages) < 0) {
            return no_memory(&c->in->err);
        }
    }
    return 0;
}

static int find_record(void *opaque, struct ram_state *rs,
                       const struct ram_record *rec)
{
    struct compactor *c = opaque;
    (void)rs;

    /* the walk keeps which pages were sent (its "sent" bitmaps) */
    if (!rec->resent || fr_bitmap_test(&c->resent[rec->block], rec->page)) {
        return 0;
    }
    c->nresent++;
    return fr_bitmap_set(&c->resent[rec->block], rec->page) < 0
               ? no_memory(&c->in->err)
               : 0;
}

/* Remember each ram section that holds resent records: their final
 * copies are read from there again, the last section first. */
static int find_section(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct compactor *c = opaque;

    if (is_ram) {
        c->cur.body = t->body_offset;
        c->cur.last_block = c->first->ram.last_block;
        c->resent_before = c->first->ram.n_resent;
    }
    return 0;
}

static int found_section(void *opaque, const struct sv_token *t,
                         bool is_ram)
{
    struct compactor *c = opaque;

    if (!is_ram || c->first->ram.n_resent == c->resent_before ||
        c->no_read_back) {
        return 0;
    }
    /* in a START, reading it again would read the block list again */
    if (t->type == SV_START || c->nrsec == MAX_RESEND_SECTIONS) {
        c->no_read_back = true;
        return 0;
    }
    struct resend_section *r = fr_room_for_one(c->rsec, c->nrsec,
                                               sizeof(*r));
    if (!r) {
        return no_memory(&c->in->err);
    }
    c->rsec = r;
    c->rsec[c->nrsec++] = c->cur;
    return 0;
}

/* ---- pass 2: copy through ---------------------------------------------- */

static int opened(void *opaque, struct sv_reader *sv, struct ram_state *rs)
{
    struct compactor *c = opaque;

    (void)rs;
    return convert_start_stream(c->in, c->out, c->o, &sv->cfg, NULL);
}

static int copy_blocks(void *opaque, struct ram_state *rs)
{
    struct compactor *c = opaque;
    uint64_t base = 0;

    if (rs->nblocks != c->nblocks) {
        return fr_fail(&c->in->err, FR_E_CORRUPT, FR_NO_OFFSET,
                       "the file changed between two reads");
    }
    if (c->read_back) {
        c->done = calloc(rs->nblocks + 1, sizeof(*c->done));
        c->pending = calloc(rs->nblocks + 1, sizeof(*c->pending));
        c->lo = calloc(rs->nblocks + 1, sizeof(*c->lo));
        c->hi = calloc(rs->nblocks + 1, sizeof(*c->hi));
        if (!c->done || !c->pending || !c->lo || !c->hi) {
            return no_memory(&c->in->err);
        }
        for (size_t i = 0; i < rs->nblocks; i++) {
            if (fr_bitmap_init(&c->done[i], rs->blocks[i].npages) < 0 ||
                fr_bitmap_init(&c->pending[i], rs->blocks[i].npages) < 0) {
                return no_memory(&c->in->err);
            }
            c->lo[i] = UINT64_MAX;
        }
        return ram_write_block_list(c->out, rs);
    }
    if (fr_sink_open_scratch(&c->scratch, &c->scratch_err) < 0) {
        return -1;
    }
    c->scratch_open = true;
    if (placer_init(&c->pl, rs, &c->scratch_err) < 0) {
        return -1;
    }
    c->pl.keep_stale = true;    /* its bits say what holds data */
    for (size_t i = 0; i < rs->nblocks; i++) {
        c->pl.sink[i] = &c->scratch;
        c->pl.base[i] = base;
        base += rs->blocks[i].npages * rs->page_size;
    }
    return ram_write_block_list(c->out, rs);
}

/* One record, naming the block when it is not the one named last.  An
 * all-zero page goes as a ZERO record, as QEMU sends it (a stream saved
 * with zero-page-detection=none carries them as full pages). */
static int put_record(struct compactor *c, size_t block, uint64_t page,
                      bool zero, const uint8_t *data)
{
    const struct ram_state *rs = &c->sum->ram;
    static const uint8_t fill;

    zero = zero || fr_is_zero(data, rs->page_size);
    unsigned flags = zero ? RAM_FLAG_ZERO : RAM_FLAG_PAGE;

    if (c->named == block) {
        flags |= RAM_FLAG_CONTINUE;
    }
    c->named = block;
    return ram_write_record(c->out, page * rs->page_size, flags,
                            rs->blocks[block].name, zero ? &fill : data,
                            zero ? 1 : rs->page_size);
}

static int copy_record(void *opaque, struct ram_state *rs,
                       const struct ram_record *rec)
{
    struct compactor *c = opaque;

    savefile_progress(c->in, rs, c->o->progress);
    if (rec->block < c->nblocks &&
        fr_bitmap_test(&c->resent[rec->block], rec->page)) {
        return c->read_back ? 0 : placer_record(&c->pl, rec);
    }
    if (rec->kind == RAM_XBZRLE || rec->block >= c->nblocks ||
        !fr_bitmap_test(&c->first->ram.blocks[rec->block].sent,
                        rec->page)) {
        return fr_fail(&c->in->err, FR_E_CORRUPT, rec->offset,
                       "the file changed between two reads");
    }
    return put_record(c, rec->block, rec->page, rec->kind == RAM_ZERO,
                      rec->data);
}

/* A record of the section read again: the final copy of its page, unless
 * a later section had it. */
static int put_final(void *opaque, struct ram_state *rs,
                     const struct ram_record *rec)
{
    struct compactor *c = opaque;
    size_t b = rec->block;
    (void)rs;

    if (b >= c->nblocks || !fr_bitmap_test(&c->resent[b], rec->page) ||
        fr_bitmap_test(&c->done[b], rec->page)) {
        return 0;
    }
    if (rec->kind == RAM_XBZRLE) {
        return fr_fail(&c->first_in->err, FR_E_CORRUPT, rec->offset,
                       "the file changed between two reads");
    }
    if (fr_bitmap_set(&c->pending[b], rec->page) < 0) {
        return no_memory(&c->first_in->err);
    }
    c->lo[b] = rec->page < c->lo[b] ? rec->page : c->lo[b];
    c->hi[b] = rec->page > c->hi[b] ? rec->page : c->hi[b];
    /* a page twice in one section: both go, in order; the last wins */
    return put_record(c, b, rec->page, rec->kind == RAM_ZERO, rec->data);
}

/* The pages of the section just read are done. */
static int settle_pending(struct compactor *c)
{
    for (size_t b = 0; b < c->nblocks; b++) {
        if (c->lo[b] == UINT64_MAX) {
            continue;           /* none in this block */
        }
        for (uint64_t w = c->lo[b] / 64; w <= c->hi[b] / 64; w++) {
            uint64_t v = fr_bitmap_word(&c->pending[b], w);
            uint64_t done = fr_bitmap_word(&c->done[b], w);
            if (v && (fr_bitmap_set_word(&c->done[b], w, done | v) < 0 ||
                      fr_bitmap_set_word(&c->pending[b], w, 0) < 0)) {
                return no_memory(&c->first_in->err);
            }
        }
        c->lo[b] = UINT64_MAX;
        c->hi[b] = 0;
    }
    return 0;
}

/* The final copies of resent pages, read from the input again: the ram
 * sections that hold resent records, the last one first. */
static int read_back_final(struct compactor *c)
{
    struct ram_state *rs = &c->first->ram;
    struct fr_src *s = c->first_in->src;
    const struct ram_visitor v = { .opaque = c, .record = put_final };
    int ret = 0;

    rs->track_pages = false;
    rs->visitor = &v;
    for (size_t i = c->nrsec; i-- > 0 && ret == 0;) {
        rs->last_block = c->rsec[i].last_block;
        if (fr_src_seek(s, c->rsec[i].body, "ram section") < 0 ||
            ram_read_section(rs, s) < 0 || settle_pending(c) < 0) {
            ret = -1;
        }
    }
    rs->visitor = NULL;
    return ret;
}

/* The final content of every resent page, as records. */
static int put_resent(void *opaque)
{
    struct compactor *c = opaque;
    const struct ram_state *rs = &c->sum->ram;
    uint32_t ps = rs->page_size;

    c->resent_done = true;
    if (!c->nresent) {
        return 0;
    }
    if (c->read_back) {
        return read_back_final(c);
    }
    if (placer_flush(&c->pl) < 0) {
        return -1;
    }
    for (size_t i = 0; i < c->nblocks; i++) {
        const struct fr_bitmap *bm = &c->resent[i];
        for (uint64_t p = fr_bitmap_next(bm, 0, true); p < rs->blocks[i].npages;
             p = fr_bitmap_next(bm, p, true)) {
            uint64_t e = fr_bitmap_next(bm, p, false);
            e = e - p > BACK_PAGES ? p + BACK_PAGES : e;
            if (fr_sink_pread(&c->scratch, c->buf, (e - p) * ps,
                              c->pl.base[i] + p * ps) < 0) {
                return -1;
            }
            for (uint64_t q = p; q < e; q++) {
                bool zero = !fr_bitmap_test(&c->pl.bits[i], q);
                if (put_record(c, i, q, zero, c->buf + (q - p) * ps) < 0) {
                    return -1;
                }
            }
            p = e;
        }
    }
    return 0;
}

static int copy_token(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct compactor *c = opaque;

    c->named = SIZE_MAX;        /* each section names its first block */
    /* no ram END section: the resent pages go in a PART before EOF */
    if (t->type == SV_EOF && c->sum->have_ram && !c->resent_done &&
        c->nresent && convert_ram_part(c->out, c->sum, put_resent, c) < 0) {
        return -1;
    }
    (void)is_ram;
    return sv_write_token(c->out, t);
}

static int copy_body(void *opaque, const uint8_t *p, size_t n)
{
    struct compactor *c = opaque;
    return fr_sink_write(c->out, p, n);
}

static int end_token(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct compactor *c = opaque;

    if (is_ram && t->type == SV_END && put_resent(c) < 0) {
        return -1;
    }
    if (is_ram && ram_write_eos(c->out) < 0) {
        return -1;
    }
    return sv_write_footer(c->out, c->sum->sv.footers, t->sec);
}

static int copy_vmdesc(void *opaque, const uint8_t *json, uint64_t len)
{
    struct compactor *c = opaque;
    return len ? sv_write_vmdesc(c->out, json, len) : 0;
}

int compact_stream(struct savefile *in, const char *path, struct fr_sink *out,
                   const struct convert_opts *o)
{
    struct compactor c = { .in = in, .out = out, .o = o };
    struct sf_summary sum1, sum2;
    struct savefile again;
    const struct sf_visitor find = {
        .opaque = &c,
        .token = find_section,
        .token_end = found_section,
        .ram = { .opaque = &c, .blocks = find_blocks,
                 .record = find_record },
    };
    const struct sf_visitor copy = {
        .opaque = &c,
        .untracked = true,
        .opened = opened,
        .token = copy_token,
        .device_body = copy_body,
        .token_end = end_token,
        .vmdesc = copy_vmdesc,
        .ram = { .opaque = &c, .blocks = copy_blocks,
                 .record = copy_record },
    };
    int ret = -1;

    memset(&sum1, 0, sizeof(sum1));
    memset(&sum2, 0, sizeof(sum2));
    memset(&again, 0, sizeof(again));
    again.fd = -1;
    c.first = &sum1;
    c.first_in = in;
    if (savefile_walk(in, &sum1, &find) < 0) {
        goto out;
    }
    /* Without XBZRLE, a final copy is whole where it lies in the input;
     * otherwise each copy goes to a scratch image, deltas applied. */
    c.read_back = !c.no_read_back && !sum1.ram.n_xbzrle &&
                  in->src == &in->file && in->file.seekable;
    /* the scratch image's pages are read back through it */
    c.buf = c.read_back ? NULL : malloc((size_t)BACK_PAGES * 65536);
    if (!c.read_back && !c.buf) {
        no_memory(&in->err);
        goto out;
    }
    if (savefile_open(&again, path, in->snapshot_sel) < 0) {
        in->err = again.err;
        goto out;
    }
    c.in = &again;
    c.sum = &sum2;
    if (savefile_walk(&again, &sum2, &copy) < 0) {
        if (!fr_failed(&in->err)) {     /* else reading back failed */
            in->err = fr_failed(&again.err) ? again.err : c.scratch_err;
        }
        goto out;
    }
    if (!sum2.have_ram) {
        fr_fail(&in->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "the stream has no ram section");
        goto out;
    }
    if (in->libvirt && !o->no_container && out->seekable &&
        libvirt_hdr_complete(out) < 0) {
        goto out;
    }
    ret = 0;
out:
    if (ret < 0 && fr_failed(&c.scratch_err) && !fr_failed(&in->err)) {
        in->err = c.scratch_err;
    }
    for (size_t i = 0; i < c.nblocks; i++) {
        if (c.resent) {
            fr_bitmap_free(&c.resent[i]);
        }
        if (c.done && c.pending) {
            fr_bitmap_free(&c.done[i]);
            fr_bitmap_free(&c.pending[i]);
        }
    }
    free(c.resent);
    free(c.done);
    free(c.pending);
    free(c.lo);
    free(c.hi);
    free(c.rsec);
    free(c.buf);
    placer_free(&c.pl);
    if (c.scratch_open) {
        fr_sink_abort(&c.scratch);
    }
    savefile_summary_free(&sum1);
    savefile_summary_free(&sum2);
    savefile_close(&again);
    return ret;
}
