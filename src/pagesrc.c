/*
 * Page access by content: see pagesrc.h.
 */
#include "config.h"

#include "pagesrc.h"

#include <string.h>

#include "convert.h"
#include "sink.h"
#include "zero.h"

/* Copy an image arriving through a pipe into K at the offsets it has in
 * the input, keeping holes: what was read before it (a libvirt header, or
 * the zeros of a file saved at an offset) is a header again, or a hole,
 * so that its absolute offsets still hold. */
static int spool(struct fr_sink *k, struct savefile *sf)
{
    struct fr_src *s = sf->src;
    size_t n;
    const uint8_t *p;

    if (sf->libvirt && libvirt_hdr_write(k, &sf->lv, sf->lv.format, true)) {
        return -1;
    }
    if (fr_src_tell(s) > fr_sink_tell(k) &&
        fr_sink_skip_to(k, fr_src_tell(s)) < 0) {
        return -1;
    }
    while ((p = fr_src_peek_upto(s, FR_SRC_BUFSIZE, &n)) && n) {
        for (size_t i = 0; i < n; i += 4096) {
            size_t c = n - i < 4096 ? n - i : 4096;
            int r = fr_is_zero(p + i, c)
                        ? fr_sink_skip_to(k, fr_sink_tell(k) + c)
                        : fr_sink_write(k, p + i, c);
            if (r < 0) {
                return -1;
            }
        }
        fr_src_consume(s, n);
    }
    return p ? 0 : -1;
}

/* Turn the rest of SF into a temporary mapped-ram image and open that. */
static int materialize(struct pagesrc *ps, bool mapped)
{
    struct savefile *sf = ps->orig;
    struct fr_sink out;
    struct fr_err out_err = { 0 };
    struct convert_opts o = { .no_container = true, .internal = true };
    int ret;

    ret = fr_sink_open_scratch(&out, &out_err);
    if (ret == 0) {
        if (mapped) {
            /* an image through a pipe: keep its bytes, holes and all */
            ret = spool(&out, sf);
        } else {
            ret = convert_stream_to_image(sf, &out, &o);
        }
    }
    if (ret == 0) {
        ret = fr_sink_commit(&out);
    } else {
        fr_sink_abort(&out);
    }
    if (ret < 0) {
        if (!fr_failed(&sf->err)) {
            sf->err = out_err;
        }
        return -1;
    }
    ps->materialized = true;
    if (savefile_open_fd(&ps->tmp, out.fd, "temporary image") < 0) {
        sf->err = ps->tmp.err;
        return -1;
    }
    return 0;
}

int pagesrc_open(struct pagesrc *ps, struct savefile *sf,
                 const struct sf_visitor *v)
{
    bool mapped;

    memset(ps, 0, sizeof(*ps));
    ps->orig = sf;
    ps->img = sf;
    struct sv_config cfg;
    if (savefile_peek_config(sf, &cfg) < 0) {
        return -1;
    }
    mapped = sv_has_cap(&cfg, "mapped-ram");
    if (!mapped || sf->src != &sf->file || !sf->file.seekable) {
        if (materialize(ps, mapped) < 0) {
            return -1;
        }
        ps->img = &ps->tmp;
    }
    if (savefile_walk(ps->img, &ps->sum, v) < 0) {
        if (ps->img != sf) {
            sf->err = ps->img->err;
        }
        return -1;
    }
    return 0;
}

int pagesrc_read(struct pagesrc *ps, size_t block, uint64_t first,
                 uint64_t n, uint8_t *buf)
{
    const struct ram_block *b = &ps->sum.ram.blocks[block];
    uint32_t psz = ps->sum.ram.page_size;
    uint64_t end = first + n;

    for (uint64_t p = first; p < end;) {
        bool present = !b->mr_no_data && fr_bitmap_test(&b->present, p);
        uint64_t e = b->mr_no_data ? end
                     : present ? fr_bitmap_span(&b->present, p, end, true,
                                                PAGESRC_READ_GAP)
                               : fr_bitmap_next(&b->present, p, true);
        if (e > end) {
            e = end;
        }
        uint8_t *dst = buf + (p - first) * psz;
        if (!present) {
            memset(dst, 0, (e - p) * psz);
        } else if (fr_src_pread(&ps->img->file, dst, (e - p) * psz,
                                b->mr.pages_offset + p * psz,
                                "ram pages") < 0) {
            if (ps->img != ps->orig) {
                ps->orig->err = ps->img->err;
            }
            return -1;
        } else {
            /* absent pages read along: whatever lies there is not theirs */
            for (uint64_t q = p + 1; q < e; q++) {
                if (!fr_bitmap_test(&b->present, q)) {
                    memset(buf + (q - first) * psz, 0, psz);
                }
            }
        }
        p = e;
    }
    return 0;
}

int pagesrc_pages(struct pagesrc *ps, size_t block, uint64_t first,
                  uint64_t n, uint8_t *buf, const uint8_t **pages)
{
    const struct ram_block *b = &ps->sum.ram.blocks[block];
    uint32_t psz = ps->sum.ram.page_size;

    if (pagesrc_read(ps, block, first, n, buf) < 0) {
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        bool present = !b->mr_no_data &&
                       fr_bitmap_test(&b->present, first + i);
        pages[i] = present ? buf + i * psz : NULL;
    }
    return 0;
}

int pagesrc_copy_data(struct pagesrc *ps, size_t block, uint64_t first,
                      uint64_t count, uint8_t *buf, uint64_t buf_pages,
                      struct fr_sink *k, uint64_t base,
                      int (*on_zero)(void *ctx, uint64_t page), void *ctx)
{
    const struct ram_block *b = &ps->sum.ram.blocks[block];
    uint32_t psz = ps->sum.ram.page_size;
    uint64_t end = first + count;

    if (b->mr_no_data) {
        return 0;
    }
    for (uint64_t p = first; p < end;) {
        if (!fr_bitmap_test(&b->present, p)) {
            /* a whole word of absent pages at once */
            bool word = p % 64 == 0 && end - p >= 64 &&
                        fr_bitmap_word(&b->present, p / 64) == 0;
            p += word ? 64 : 1;
            continue;
        }
        /* a run of present pages, as long as BUF */
        uint64_t lim = end - p < buf_pages ? end : p + buf_pages;
        uint64_t e = p + 1;
        while (e < lim && fr_bitmap_test(&b->present, e)) {
            e++;
        }
        if (pagesrc_read(ps, block, p, e - p, buf) < 0) {
            return -1;
        }
        /* write its runs of non-zero pages */
        for (uint64_t q = p; q < e;) {
            uint64_t r = q;
            while (r < e && !fr_is_zero(buf + (r - p) * psz, psz)) {
                r++;
            }
            if (k && r > q &&
                fr_sink_pwrite(k, buf + (q - p) * psz, (r - q) * psz,
                               base + q * psz) < 0) {
                return -1;
            }
            if (r < e && on_zero && on_zero(ctx, r) < 0) {
                return -1;
            }
            q = r + 1;
        }
        p = e;
    }
    return 0;
}

void pagesrc_close(struct pagesrc *ps)
{
    savefile_summary_free(&ps->sum);
    if (ps->materialized) {
        savefile_close(&ps->tmp);
        ps->materialized = false;
    }
}
