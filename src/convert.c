/*
 * Layout conversion: classic stream <-> mapped-ram image.
 *
 * Both directions walk the input once (savefile_walk) and copy every
 * non-RAM byte as it streams past: configuration (with the mapped-ram
 * capability added or removed), device sections, commands (but those
 * sv_cmd_needs_peer names, with the postcopy page sizes of the block
 * list), EOF, vmdesc.
 * Only the ram section is rewritten:
 *
 *   stream -> image: the block list is laid out as QEMU lays it out; each
 *   page record is placed at its fixed offset (place.h: the last copy
 *   wins, XBZRLE applied, zero pages get a clear bit and a hole); the
 *   bitmaps are written at the end, as QEMU does.  With x-ignore-shared,
 *   the blocks never sent (those QEMU ignored) get no bitmap and no pages,
 *   as in QEMU 11's images; a first reading of the file finds them.
 *
 *   image -> stream: the block list goes in START; all pages go in the
 *   first PART (or END), as PAGE records for non-zero pages and ZERO
 *   records for the rest, read with large preads from the pages regions.
 */
#include "config.h"

#include "convert.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "endian.h"
#include "lookahead.h"
#include "place.h"
#include "zero.h"

/* image -> stream: bytes of pages read with one pread, written with one
 * writev. */
#define CHUNK_BYTES (1u << 20)
/* Gaps of clear bits up to this many pages are read with the pages around
 * them. */
#define GAP_PAGES 16

struct conv {
    struct savefile *in;
    struct fr_sink *out;
    const struct convert_opts *o;
    struct sf_summary *sum;
    bool libvirt_out;
    /* stream -> image */
    struct placer pl;
    struct lookahead *la;
    bool *sent;                 /* x-ignore-shared: per block, any page */
    size_t nsent;
    /* image -> stream */
    bool pages_done;
    uint64_t pages_total, pages_seen;
    uint64_t chunk;             /* pages read and written at a time */
    uint8_t *chunkbuf;          /* their data */
    uint8_t *hdr;               /* their record headers */
    size_t hlen;
    struct iovec *iov;          /* what the next writev writes */
    int niov;
};

static int write_container(struct conv *c, uint32_t format)
{
    if (!c->libvirt_out) {
        return 0;
    }
    return libvirt_hdr_write(c->out, &c->in->lv, format, !c->out->seekable);
}

/* ---- shared token handling ----------------------------------------------- */

static int copy_body(void *opaque, const uint8_t *p, size_t n)
{
    struct conv *c = opaque;
    return fr_sink_write(c->out, p, n);
}

static int copy_token(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct conv *c = opaque;
    (void)is_ram;
    if (t->type == SV_COMMAND && sv_cmd_needs_peer(t->cmd, t->cmd_len)) {
        return 0;       /* for a destination taking part in a migration */
    }
    return sv_write_token(c->out, t);
}

static int copy_vmdesc(void *opaque, const uint8_t *json, uint64_t len)
{
    struct conv *c = opaque;
    return len ? sv_write_vmdesc(c->out, json, len) : 0;
}

/* The output has no POSTCOPY_ADVISE with page sizes (copy_token), so its
 * block list must not have the page sizes that go with it. */
static void forget_postcopy_page_sizes(struct ram_state *rs)
{
    for (size_t i = 0; i < rs->nblocks; i++) {
        rs->blocks[i].has_page_size = false;
    }
}

static int end_section(struct conv *c, const struct sv_token *t, bool is_ram)
{
    if (is_ram && ram_write_eos(c->out) < 0) {
        return -1;
    }
    return sv_write_footer(c->out, c->sum->sv.footers, t->sec);
}

/* ---- stream -> image ----------------------------------------------------- */

static int s2i_opened(void *opaque, struct sv_reader *sv, struct ram_state *rs)
{
    struct conv *c = opaque;
    struct fr_err *err = &c->in->err;

    if (rs->mapped_ram) {
        return fr_fail(err, FR_E_UNSUPPORTED, c->in->stream_offset,
                       "the input is already a mapped-ram image (use "
                       "image-to-stream)");
    }
    if (rs->ignore_shared && !c->o->internal && !c->sent) {
        return fr_fail(err, FR_E_UNSUPPORTED, c->in->stream_offset,
                       "an x-ignore-shared stream is converted from a file, "
                       "not a pipe (the blocks QEMU ignored are known only "
                       "at its end)");
    }
    if (write_container(c, LIBVIRT_FMT_SPARSE) < 0 ||
        sv_write_header(c->out) < 0) {
        return -1;
    }
    return sv->cfg.present ? sv_write_config(c->out, &sv->cfg, "mapped-ram",
                                             NULL)
                           : 0;
}

static int s2i_blocks(void *opaque, struct ram_state *rs)
{
    struct conv *c = opaque;

    if (placer_init(&c->pl, rs, c->out->err) < 0) {
        return -1;
    }
    c->pl.keep_stale = c->o->internal;
    c->pl.min_hole = (c->o->sparse_size + rs->page_size - 1) / rs->page_size;
    c->pl.la = c->la;
    forget_postcopy_page_sizes(rs);
    if (c->o->threads > 1) {
        placer_start_writer(&c->pl);
    }
    if (c->sent && c->nsent != rs->nblocks) {
        return fr_fail(&c->in->err, FR_E_CORRUPT, FR_NO_OFFSET,
                       "the file changed while it was read");
    }
    for (size_t i = 0; c->sent && i < rs->nblocks; i++) {
        rs->blocks[i].mr_no_data = !c->sent[i];
    }
    /* writing the list lays the blocks out */
    if (ram_write_mapped_list(c->out, rs) < 0) {
        return -1;
    }
    uint64_t end = fr_sink_tell(c->out);
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        c->pl.sink[i] = c->out;
        c->pl.base[i] = b->mr.pages_offset;
        if (b->mr.pages_offset + b->npages * rs->page_size > end) {
            end = b->mr.pages_offset + b->npages * rs->page_size;
        }
    }
    fr_sink_size_hint(c->out, end);
    return 0;
}

static int s2i_record(void *opaque, struct ram_state *rs,
                      const struct ram_record *rec)
{
    struct conv *c = opaque;

    savefile_progress(c->in, rs, c->o->progress);
    if (rs->blocks[rec->block].mr_no_data) {
        /* it has no pages region to take the page */
        return fr_fail(&c->in->err, FR_E_CORRUPT, rec->offset,
                       "page of block '%s', which the first reading found "
                       "without pages: the file changed while it was read",
                       rs->blocks[rec->block].name);
    }
    return placer_record(&c->pl, rec);
}

static int s2i_token_end(void *opaque, const struct sv_token *t, bool is_ram)
{
    return end_section(opaque, t, is_ram);
}

static int scan_blocks(void *opaque, struct ram_state *rs)
{
    struct conv *c = opaque;

    free(c->sent);
    c->nsent = rs->nblocks;
    c->sent = calloc(rs->nblocks + 1, sizeof(*c->sent));
    return c->sent ? 0
                   : fr_fail(&c->in->err, FR_E_NOMEM, FR_NO_OFFSET,
                             "out of memory");
}

static int scan_record(void *opaque, struct ram_state *rs,
                       const struct ram_record *rec)
{
    struct conv *c = opaque;
    (void)rs;
    c->sent[rec->block] = true;
    return 0;
}

/*
 * An x-ignore-shared stream lists the blocks QEMU ignored but sends none
 * of their pages; the image must lay them out without pages before the
 * first page comes.  Read the file once more to find them (c->sent).
 * Returns 0 (c->sent stays NULL for other streams, or for a pipe, which
 * s2i_opened refuses), or -1 with the error in IN's err.
 */
static int find_sent_blocks(struct savefile *in, struct conv *c)
{
    struct savefile again;
    struct sv_config cfg;
    struct sf_summary sum;
    const struct sf_visitor v = {
        .opaque = c,
        .untracked = true,      /* which blocks, not which pages */
        .ram = { .opaque = c, .blocks = scan_blocks, .record = scan_record },
    };
    int ret;

    if (savefile_peek_config(in, &cfg) < 0) {
        return -1;
    }
    if (!sv_has_cap(&cfg, "x-ignore-shared")) {
        return 0;
    }
    if (savefile_reopen(in, &again) < 0) {
        if (fr_failed(&again.err)) {
            in->err = again.err;
        }
        savefile_close(&again);
        return fr_failed(&in->err) ? -1 : 0;
    }
    ret = savefile_walk(&again, &sum, &v);
    if (ret < 0) {
        in->err = again.err;    /* the same file, the same offsets */
    }
    savefile_summary_free(&sum);
    savefile_close(&again);
    return ret;
}

int convert_stream_to_image(struct savefile *in, struct fr_sink *out,
                            const struct convert_opts *o)
{
    struct sf_summary sum;
    struct conv c = {
        .in = in, .out = out, .o = o, .sum = &sum,
        .libvirt_out = in->libvirt && !o->no_container,
    };
    const struct sf_visitor v = {
        .opaque = &c,
        .untracked = true,      /* the placer has the bits */
        .opened = s2i_opened,
        .token = copy_token,
        .device_body = copy_body,
        .token_end = s2i_token_end,
        .vmdesc = copy_vmdesc,
        .ram = { .opaque = &c, .blocks = s2i_blocks, .record = s2i_record },
    };
    int ret = -1;

    if (!out->seekable) {
        fr_fail(out->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "a mapped-ram image must be written to a regular file, not "
                "a pipe");
        return -1;
    }
    if (!o->internal && find_sent_blocks(in, &c) < 0) {
        free(c.sent);
        return -1;
    }
    /* a thread of its own: with one, pages are placed as they come */
    c.la = o->threads > 1 ? lookahead_start(in, LOOKAHEAD_MAX_SLOTS) : NULL;
    if (savefile_walk(in, &sum, &v) < 0 || placer_flush(&c.pl) < 0) {
        goto out;
    }
    if (!sum.have_ram) {
        fr_fail(&in->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "the stream has no ram section");
        goto out;
    }
    for (size_t i = 0; i < c.pl.nblocks; i++) {
        if (!sum.ram.blocks[i].mr_no_data &&
            mapped_ram_write_bitmap(out, &sum.ram.blocks[i], &c.pl.bits[i]) <
                0) {
            goto out;
        }
    }
    if (c.libvirt_out && libvirt_hdr_complete(out) < 0) {
        goto out;
    }
    ret = 0;
out:
    placer_free(&c.pl);
    lookahead_free(c.la);
    free(c.sent);
    savefile_summary_free(&sum);
    return ret;
}

/* ---- image -> stream ----------------------------------------------------- */

int convert_start_stream(struct savefile *in, struct fr_sink *out,
                         const struct convert_opts *o,
                         const struct sv_config *cfg, const char *drop)
{
    uint32_t format = o->zstd ? LIBVIRT_FMT_ZSTD : LIBVIRT_FMT_RAW;

    if (in->libvirt && !o->no_container &&
        libvirt_hdr_write(out, &in->lv, format, !out->seekable) < 0) {
        return -1;
    }
    if (o->zstd && fr_sink_start_zstd(out, o->zstd_level, o->threads) < 0) {
        return -1;
    }
    if (sv_write_header(out) < 0) {
        return -1;
    }
    return cfg->present ? sv_write_config(out, cfg, NULL, drop) : 0;
}

static int i2s_opened(void *opaque, struct sv_reader *sv, struct ram_state *rs)
{
    struct conv *c = opaque;
    struct fr_err *err = &c->in->err;

    if (!rs->mapped_ram) {
        return fr_fail(err, FR_E_UNSUPPORTED, c->in->stream_offset,
                       "the input is a classic stream, not a mapped-ram "
                       "image (use stream-to-image)");
    }
    if (c->in->src != &c->in->file || !c->in->file.seekable) {
        return fr_fail(err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "image-to-stream needs a seekable input file: "
                       "mapped-ram pages are read at their offsets");
    }
    return convert_start_stream(c->in, c->out, c->o, &sv->cfg, "mapped-ram");
}

static int i2s_blocks(void *opaque, struct ram_state *rs)
{
    struct conv *c = opaque;

    for (size_t i = 0; i < rs->nblocks; i++) {
        c->pages_total += rs->blocks[i].npages;
    }
    /* a page header is 8 bytes, a ZERO record 9; a page and its header
     * take two iovecs, plus one for what precedes them */
    c->chunk = CHUNK_BYTES / rs->page_size;
    c->chunkbuf = aligned_alloc(4096, CHUNK_BYTES);     /* for O_DIRECT */
    c->hdr = malloc(c->chunk * 9);
    c->iov = malloc((2 * c->chunk + 1) * sizeof(*c->iov));
    if (!c->chunkbuf || !c->hdr || !c->iov) {
        return fr_fail(c->out->err, FR_E_NOMEM, FR_NO_OFFSET,
                       "out of memory");
    }
    forget_postcopy_page_sizes(rs);
    return ram_write_block_list(c->out, rs);
}

/* Queue N bytes at P for the next writev, merged with the previous piece
 * when they are adjacent in memory. */
static void iov_add(struct conv *c, const void *p, size_t n)
{
    struct iovec *last = c->niov ? &c->iov[c->niov - 1] : NULL;

    if (last && (const uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += n;
        return;
    }
    c->iov[c->niov].iov_base = (void *)p;
    c->iov[c->niov].iov_len = n;
    c->niov++;
}

static int iov_flush(struct conv *c)
{
    int ret = c->niov ? fr_sink_writev(c->out, c->iov, c->niov) : 0;

    c->niov = 0;
    c->hlen = 0;
    return ret;
}

/*
 * Read the pages of [FROM, TO) of block B whose bit is set into c->chunkbuf
 * (page FROM first).  Runs of set bits with short gaps between them are
 * read with one pread: reading a few unneeded pages costs less than a
 * system call more.
 */
static int read_present(struct conv *c, const struct ram_block *b,
                        uint64_t from, uint64_t to)
{
    const struct fr_bitmap *bm = &b->present;
    uint64_t ps = c->sum->ram.page_size;
    uint64_t p = fr_bitmap_next(bm, from, true);

    while (p < to) {
        uint64_t e = fr_bitmap_next(bm, p, false);
        uint64_t next = e < to ? fr_bitmap_next(bm, e, true) : to;
        while (next < to && next - e <= GAP_PAGES) {
            e = fr_bitmap_next(bm, next, false);
            next = e < to ? fr_bitmap_next(bm, e, true) : to;
        }
        e = e < to ? e : to;
        if (fr_src_pread(&c->in->file, c->chunkbuf + (p - from) * ps,
                         (size_t)((e - p) * ps),
                         b->mr.pages_offset + p * ps, "pages") < 0) {
            return -1;
        }
        p = next;
    }
    return 0;
}

/*
 * Records for pages [FROM, TO) of block B: PAGE for set bits over non-zero
 * data, ZERO for the rest.  The pages are written from where they were
 * read, between their record headers, with one writev.
 */
static int emit_chunk(struct conv *c, const struct ram_block *b,
                      uint64_t from, uint64_t to, bool *named)
{
    uint64_t ps = c->sum->ram.page_size;
    static const uint8_t zero_fill;

    if (read_present(c, b, from, to) < 0) {
        return -1;
    }
    for (uint64_t p = from; p < to; p++) {
        const uint8_t *pg = c->chunkbuf + (p - from) * ps;
        bool data = fr_bitmap_test(&b->present, p) && !fr_is_zero(pg, ps);
        unsigned flags = data ? RAM_FLAG_PAGE : RAM_FLAG_ZERO;
        uint8_t *h = c->hdr + c->hlen;

        if (!*named) {
            /* the block's first record names it */
            if (iov_flush(c) < 0 ||
                ram_write_record(c->out, p * ps, flags, b->name,
                                 data ? pg : &zero_fill,
                                 data ? ps : 1) < 0) {
                return -1;
            }
            *named = true;
            continue;
        }
        fr_be64enc(h, p * ps | flags | RAM_FLAG_CONTINUE);
        if (data) {
            c->hlen += 8;
            iov_add(c, h, 8);
            iov_add(c, pg, ps);
        } else {
            h[8] = 0;
            c->hlen += 9;
            iov_add(c, h, 9);
        }
    }
    return iov_flush(c);
}

static int emit_pages(void *opaque)
{
    struct conv *c = opaque;
    const struct ram_state *rs = &c->sum->ram;

    c->pages_done = true;
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        bool named = false;
        if (b->mr_no_data) {
            continue;
        }
        for (uint64_t p = 0; p < b->npages; p += c->chunk) {
            uint64_t e = b->npages - p < c->chunk ? b->npages : p + c->chunk;
            if (emit_chunk(c, b, p, e, &named) < 0) {
                return -1;
            }
            c->pages_seen += e - p;
            if (c->o->progress) {
                fr_progress_update(c->o->progress, c->pages_seen,
                                   c->pages_total);
            }
        }
    }
    return 0;
}

static int i2s_token(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct conv *c = opaque;

    if (t->type == SV_EOF && c->sum->have_ram && !c->pages_done &&
        convert_ram_part(c->out, c->sum, emit_pages, c) < 0) {
        return -1;
    }
    return copy_token(opaque, t, is_ram);
}

static int i2s_token_end(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct conv *c = opaque;

    if (is_ram && t->type != SV_START && !c->pages_done &&
        emit_pages(c) < 0) {
        return -1;
    }
    return end_section(c, t, is_ram);
}

int convert_ram_part(struct fr_sink *out, const struct sf_summary *sum,
                     int (*emit)(void *opaque), void *opaque)
{
    struct sv_section sec = { .id = sum->ram_section_id };
    struct sv_token part = { .type = SV_PART, .sec = &sec };

    if (sv_write_token(out, &part) < 0 || emit(opaque) < 0 ||
        ram_write_eos(out) < 0) {
        return -1;
    }
    return sv_write_footer(out, sum->sv.footers, &sec);
}

int convert_image_to_stream(struct savefile *in, struct fr_sink *out,
                            const struct convert_opts *o)
{
    struct sf_summary sum;
    struct conv c = {
        .in = in, .out = out, .o = o, .sum = &sum,
        .libvirt_out = in->libvirt && !o->no_container,
    };
    const struct sf_visitor v = {
        .opaque = &c,
        .untracked = true,
        .opened = i2s_opened,
        .token = i2s_token,
        .device_body = copy_body,
        .token_end = i2s_token_end,
        .vmdesc = copy_vmdesc,
        .ram = { .opaque = &c, .blocks = i2s_blocks },
    };
    int ret = -1;

    if (savefile_walk(in, &sum, &v) < 0) {
        goto out;
    }
    if (!sum.have_ram) {
        fr_fail(&in->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "the stream has no ram section");
        goto out;
    }
    if (c.libvirt_out && out->seekable && libvirt_hdr_complete(out) < 0) {
        goto out;
    }
    ret = 0;
out:
    free(c.chunkbuf);
    free(c.hdr);
    free(c.iov);
    savefile_summary_free(&sum);
    return ret;
}
