/*
 * RAM section parser: MEM_SIZE block list, classic page records, and the
 * mapped-ram per-block header and bitmap.  See ram.h for the layout.
 */
#include "config.h"

#include "ram.h"

#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "endian.h"
#include "sink.h"
#include "xbzrle.h"
#include "zero.h"

void ram_init(struct ram_state *rs, uint32_t page_size, bool mapped_ram,
              bool ignore_shared)
{
    memset(rs, 0, sizeof(*rs));
    rs->page_size = page_size;
    rs->mapped_ram = mapped_ram;
    rs->ignore_shared = ignore_shared;
    rs->last_block = -1;
}

void ram_free(struct ram_state *rs)
{
    for (size_t i = 0; i < rs->nblocks; i++) {
        fr_bitmap_free(&rs->blocks[i].present);
        fr_bitmap_free(&rs->blocks[i].sent);
    }
    free(rs->blocks);
    rs->blocks = NULL;
    rs->nblocks = 0;
}

long ram_find_block(const struct ram_state *rs, const char *name)
{
    for (size_t i = 0; i < rs->nblocks; i++) {
        if (strcmp(rs->blocks[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

void ram_block_counts(const struct ram_state *rs, const struct ram_block *b,
                      uint64_t *present, uint64_t *zero, uint64_t *absent)
{
    *present = fr_bitmap_count(&b->present);
    if (rs->mapped_ram) {
        *zero = b->mr_no_data ? 0 : b->npages - *present;
        *absent = b->mr_no_data ? b->npages : 0;
    } else {
        uint64_t sent = fr_bitmap_count(&b->sent);
        *zero = sent - *present;
        *absent = b->npages - sent;
    }
}

static int read_name(struct fr_src *s, char out[256], const char *what)
{
    uint64_t at = fr_src_tell(s);
    uint8_t len;

    if (fr_src_u8(s, &len, what) < 0 || fr_src_read(s, out, len, what) < 0) {
        return -1;
    }
    out[len] = '\0';
    if (len == 0 || strlen(out) != len) {
        return fr_fail(s->err, FR_E_CORRUPT, at, "%s is %s", what,
                       len ? "not a valid string" : "empty");
    }
    return 0;
}

/* Read block B's bitmap (LE 64-bit words, bit i = page i) into b->present. */
static int read_bitmap(struct ram_state *rs, struct fr_src *s,
                       struct ram_block *b)
{
    uint64_t size = mapped_ram_bitmap_size(b->npages);
    uint64_t off = b->mr.bitmap_offset;
    uint8_t buf[65536];
    uint64_t w = 0;

    (void)rs;
    if (s->seekable && !fr_in_bounds(off, size, s->size)) {
        return fr_fail(s->err, FR_E_TRUNCATED, b->mr_offset + 12,
                       "ram block '%s': bitmap at 0x%llx (%llu bytes) "
                       "extends past the end of the file", b->name,
                       (unsigned long long)off, (unsigned long long)size);
    }
    /* Normally the bitmap follows the header; anywhere else needs pread. */
    bool sequential = off >= fr_src_tell(s);
    if (sequential && fr_src_seek(s, off, "bitmap") < 0) {
        return -1;
    }
    for (uint64_t done = 0; done < size;) {
        size_t n = size - done < sizeof(buf) ? (size_t)(size - done)
                                               : sizeof(buf);
        int r = sequential ? fr_src_read(s, buf, n, "mapped-ram bitmap")
                           : fr_src_pread(s, buf, n, off + done,
                                          "mapped-ram bitmap");
        if (r < 0) {
            return -1;
        }
        for (size_t i = 0; i < n; i += 8, w++) {
            uint64_t v = fr_le64dec(buf + i);
            uint64_t first = w * 64;
            if (first + 64 > b->npages) {
                uint64_t keep = b->npages > first ? b->npages - first : 0;
                uint64_t mask = keep >= 64 ? ~0ull : (1ull << keep) - 1;
                b->stray_bits += (uint64_t)__builtin_popcountll(v & ~mask);
                v &= mask;
            }
            if (fr_bitmap_set_word(&b->present, w, v) < 0) {
                return fr_fail(s->err, FR_E_NOMEM, off + done + i,
                               "out of memory for the bitmap of '%s'",
                               b->name);
            }
        }
        done += n;
    }
    return 0;
}

static int read_mapped_block(struct ram_state *rs, struct fr_src *s,
                             struct ram_block *b, size_t idx)
{
    uint8_t h[MAPPED_RAM_HDR_SIZE];
    uint64_t end;

    b->mr_offset = fr_src_tell(s);
    if (fr_src_read(s, h, sizeof(h), "mapped-ram header") < 0) {
        return -1;
    }
    b->mr.version = fr_be32dec(h);
    b->mr.page_size = fr_be64dec(h + 4);
    b->mr.bitmap_offset = fr_be64dec(h + 12);
    b->mr.pages_offset = fr_be64dec(h + 20);
    if (b->mr.version > MAPPED_RAM_VERSION) {
        return fr_fail(s->err, FR_E_UNSUPPORTED, b->mr_offset,
                       "ram block '%s': mapped-ram header version %u is "
                       "not supported (at most %d)", b->name,
                       b->mr.version, MAPPED_RAM_VERSION);
    }
    if (b->mr.page_size != rs->page_size) {
        return fr_fail(s->err, FR_E_CORRUPT, b->mr_offset + 4,
                       "ram block '%s': mapped-ram page size %llu differs "
                       "from the stream's %u", b->name,
                       (unsigned long long)b->mr.page_size, rs->page_size);
    }
    if (b->mr.bitmap_offset == 0 && b->mr.pages_offset == 0) {
        b->mr_no_data = true;   /* ignored shared block (QEMU >= 11.0) */
        return 0;
    }
    if (b->mr.pages_offset % rs->page_size) {
        return fr_fail(s->err, FR_E_CORRUPT, b->mr_offset + 20,
                       "ram block '%s': pages offset 0x%llx is not aligned "
                       "to the page size", b->name,
                       (unsigned long long)b->mr.pages_offset);
    }
    if (ckd_add_u64(&end, b->mr.pages_offset, b->length) ||
        ckd_add_u64(&end, b->mr.bitmap_offset,
                    mapped_ram_bitmap_size(b->npages))) {
        return fr_fail(s->err, FR_E_CORRUPT, b->mr_offset + 12,
                       "ram block '%s': region offsets overflow", b->name);
    }
    if (read_bitmap(rs, s, b) < 0) {
        return -1;
    }
    if (rs->visitor && rs->visitor->mapped_block &&
        rs->visitor->mapped_block(rs->visitor->opaque, rs, idx, s) < 0) {
        return -1;
    }
    /* The next block header (or the EOS) follows the pages region. */
    return fr_src_seek(s, b->mr.pages_offset + b->length,
                       "end of the pages region");
}

static int read_block_list(struct ram_state *rs, struct fr_src *s,
                           uint64_t total, uint64_t at)
{
    uint64_t left = total;
    size_t cap = 0;

    if (rs->have_blocks) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "second RAM block list (MEM_SIZE) in the stream");
    }
    /* bounds the page maps of all blocks together, whatever the file says */
    if (total > RAM_MAX_BLOCK_LEN) {
        return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                       "RAM total 0x%llx is over 1 PiB",
                       (unsigned long long)total);
    }
    if (rs->postcopy_advised && rs->ignore_shared) {
        /* both fields are optional be64s: their order cannot be told */
        return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                       "postcopy page sizes together with x-ignore-shared "
                       "cannot be parsed unambiguously");
    }
    rs->total = total;
    rs->mem_size_offset = at;
    while (left) {
        struct ram_block *b;
        uint64_t bat = fr_src_tell(s);
        const uint8_t *p;

        if (rs->nblocks == RAM_MAX_BLOCKS) {
            return fr_fail(s->err, FR_E_UNSUPPORTED, bat,
                           "more than %d RAM blocks", RAM_MAX_BLOCKS);
        }
        if (rs->nblocks == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            b = realloc(rs->blocks, ncap * sizeof(*b));
            if (!b) {
                return fr_fail(s->err, FR_E_NOMEM, bat, "out of memory");
            }
            rs->blocks = b;
            cap = ncap;
        }
        b = &rs->blocks[rs->nblocks];
        memset(b, 0, sizeof(*b));
        b->list_offset = bat;
        if (read_name(s, b->name, "ram block name") < 0 ||
            fr_src_be64(s, &b->length, "ram block length") < 0) {
            return -1;
        }
        if (ram_find_block(rs, b->name) >= 0) {
            return fr_fail(s->err, FR_E_CORRUPT, bat,
                           "ram block '%s' listed twice", b->name);
        }
        if (b->length % rs->page_size || b->length > RAM_MAX_BLOCK_LEN) {
            return fr_fail(s->err, FR_E_CORRUPT, fr_src_tell(s) - 8,
                           "ram block '%s': bad length 0x%llx (not a "
                           "multiple of the %u-byte page, or over 1 PiB)",
                           b->name, (unsigned long long)b->length,
                           rs->page_size);
        }
        if (b->length > left) {
            return fr_fail(s->err, FR_E_CORRUPT, fr_src_tell(s) - 8,
                           "ram block '%s': length 0x%llx exceeds what is "
                           "left of the MEM_SIZE total (0x%llx)", b->name,
                           (unsigned long long)b->length,
                           (unsigned long long)left);
        }
        b->npages = b->length / rs->page_size;
        rs->nblocks++;
        if (fr_bitmap_init(&b->present, b->npages) < 0 ||
            fr_bitmap_init(&b->sent, rs->mapped_ram ? 0 : b->npages) < 0) {
            return fr_fail(s->err, FR_E_NOMEM, bat,
                           "out of memory for the page map of '%s'", b->name);
        }
        /* With postcopy advised, blocks whose page size differs carry it:
         * a be64 power of two of at least two pages, which neither a block
         * name (non-zero first byte) nor a flags word can look like. */
        if (rs->postcopy_advised && (p = fr_src_peek(s, 8))) {
            uint64_t v = fr_be64dec(p);
            if (v >= 2ull * rs->page_size && !(v & (v - 1))) {
                b->has_page_size = true;
                b->page_size = v;
                fr_src_consume(s, 8);
            }
        }
        if (rs->ignore_shared) {
            b->has_mr_addr = true;
            if (fr_src_be64(s, &b->mr_addr, "memory region address") < 0) {
                return -1;
            }
        }
        if (rs->mapped_ram && read_mapped_block(rs, s, b, rs->nblocks - 1)) {
            return -1;
        }
        left -= b->length;
    }
    rs->have_blocks = true;
    if (rs->visitor && rs->visitor->blocks &&
        rs->visitor->blocks(rs->visitor->opaque, rs) < 0) {
        return -1;
    }
    return fr_src_failed(s) ? -1 : 0;
}

static int read_record(struct ram_state *rs, struct fr_src *s,
                       uint64_t at, uint64_t addr, unsigned flags)
{
    struct ram_record rec = { .offset = at };
    struct ram_block *b;

    if (rs->mapped_ram) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "page record (flags 0x%x) in a mapped-ram stream",
                       flags);
    }
    if (!rs->have_blocks) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "page record before the RAM block list");
    }
    if (flags & RAM_FLAG_CONTINUE) {
        if (rs->last_block < 0) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "page record continues a block, but no block "
                           "was named before");
        }
        rec.block = (size_t)rs->last_block;
    } else {
        char name[256];
        uint64_t nat = fr_src_tell(s);
        long i;
        if (read_name(s, name, "ram block name") < 0) {
            return -1;
        }
        i = ram_find_block(rs, name);
        if (i < 0) {
            return fr_fail(s->err, FR_E_CORRUPT, nat,
                           "page record for unknown ram block '%s'", name);
        }
        rec.block = (size_t)i;
    }
    b = &rs->blocks[rec.block];
    if (addr >= b->length) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "page offset 0x%llx is outside ram block '%s' "
                       "(length 0x%llx)", (unsigned long long)addr,
                       b->name, (unsigned long long)b->length);
    }
    rec.page = addr / rs->page_size;

    switch (flags & ~RAM_FLAG_CONTINUE) {
    case RAM_FLAG_ZERO: {
        uint8_t fill;
        if (fr_src_u8(s, &fill, "zero page") < 0) {
            return -1;
        }
        if (fill) {
            return fr_fail(s->err, FR_E_CORRUPT, fr_src_tell(s) - 1,
                           "zero page record with fill byte 0x%02x", fill);
        }
        rec.kind = RAM_ZERO;
        b->n_zero++;
        rs->n_zero++;
        break;
    }
    case RAM_FLAG_PAGE:
        rec.kind = RAM_PAGE;
        rec.len = rs->page_size;
        rec.data_offset = fr_src_tell(s);
        rec.data = fr_src_peek(s, rs->page_size);
        if (!rec.data) {
            if (!fr_src_failed(s)) {
                fr_fail(s->err, FR_E_TRUNCATED, fr_src_tell(s),
                        "truncated page of ram block '%s'", b->name);
            }
            return -1;
        }
        b->n_page++;
        rs->n_page++;
        break;
    case RAM_FLAG_XBZRLE: {
        uint8_t hdr[3];
        uint64_t hat = fr_src_tell(s);
        size_t bad;
        const char *why;
        if (fr_src_read(s, hdr, 3, "xbzrle header") < 0) {
            return -1;
        }
        if (hdr[0] != 1) {
            return fr_fail(s->err, FR_E_CORRUPT, hat,
                           "xbzrle page with encoding 0x%02x (expected 1)",
                           hdr[0]);
        }
        rec.len = fr_be16dec(hdr + 1);
        if (rec.len > rs->page_size) {
            return fr_fail(s->err, FR_E_CORRUPT, hat + 1,
                           "xbzrle delta of %zu bytes is larger than a "
                           "page", rec.len);
        }
        rec.data_offset = fr_src_tell(s);
        rec.data = fr_src_peek(s, rec.len);
        if (!rec.data) {
            if (!fr_src_failed(s)) {
                fr_fail(s->err, FR_E_TRUNCATED, fr_src_tell(s),
                        "truncated xbzrle delta");
            }
            return -1;
        }
        if (xbzrle_decode(rec.data, rec.len, NULL, rs->page_size, &bad,
                          &why) < 0) {
            return fr_fail(s->err, FR_E_CORRUPT, hat + 3 + bad,
                           "bad xbzrle delta: %s", why);
        }
        rec.kind = RAM_XBZRLE;
        b->n_xbzrle++;
        rs->n_xbzrle++;
        break;
    }
    default:
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "unknown combination of RAM flags 0x%x", flags);
    }

    if (rs->track_pages) {
        rec.resent = fr_bitmap_test(&b->sent, rec.page);
        if (rec.resent) {
            b->n_resent++;
            rs->n_resent++;
        }
        if (fr_bitmap_set(&b->sent, rec.page) < 0 ||
            (rec.kind != RAM_ZERO &&
             fr_bitmap_set(&b->present, rec.page) < 0)) {
            return fr_fail(s->err, FR_E_NOMEM, at,
                           "out of memory for page map");
        }
        if (rec.kind == RAM_ZERO) {
            fr_bitmap_clear(&b->present, rec.page);
        }
    }
    rs->last_block = (long)rec.block;
    if (rs->visitor && rs->visitor->record &&
        rs->visitor->record(rs->visitor->opaque, rs, &rec) < 0) {
        return -1;
    }
    fr_src_consume(s, rec.len * (rec.kind != RAM_ZERO));
    return 0;
}

int ram_read_section(struct ram_state *rs, struct fr_src *s)
{
    rs->n_sections++;
    for (;;) {
        uint64_t at = fr_src_tell(s);
        const uint8_t *p = fr_src_peek(s, 8);
        uint64_t w, addr;
        unsigned flags;

        if (!p) {
            if (!fr_src_failed(s)) {
                fr_fail(s->err, FR_E_TRUNCATED, at,
                        "truncated ram section: expected a page record "
                        "or end of section");
            }
            return -1;
        }
        w = fr_be64dec(p);
        fr_src_consume(s, 8);
        flags = (unsigned)(w & (rs->page_size - 1));
        addr = w & ~(uint64_t)(rs->page_size - 1);

        switch (flags) {
        case RAM_FLAG_EOS:
            rs->n_eos++;
            return 0;
        case RAM_FLAG_MEM_SIZE:
            if (read_block_list(rs, s, addr, at) < 0) {
                return -1;
            }
            continue;
        case RAM_FLAG_MULTIFD_FLUSH:
            if (rs->mapped_ram) {
                return fr_fail(s->err, FR_E_CORRUPT, at,
                               "multifd flush in a mapped-ram stream");
            }
            rs->n_flush++;
            continue;
        default:
            break;
        }
        if (flags & RAM_FLAG_COMPRESS_PAGE) {
            return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                           "compressed page record: the legacy 'compress' "
                           "capability (QEMU 2.4 to 9.0) is not supported");
        }
        if (flags & RAM_FLAG_HOOK) {
            return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                           "RAM hook record (RDMA migration) is not "
                           "supported");
        }
        if (flags & RAM_FLAG_FULL) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "obsolete FULL page flag");
        }
        if (read_record(rs, s, at, addr, flags) < 0) {
            return -1;
        }
    }
}

/* ---- writers ------------------------------------------------------------- */

static int put_be64(struct fr_sink *k, uint64_t v)
{
    uint8_t b[8];
    fr_be64enc(b, v);
    return fr_sink_write(k, b, 8);
}

static int put_block_entry(struct fr_sink *k, const struct ram_block *b)
{
    uint8_t len = (uint8_t)strlen(b->name);

    if (fr_sink_write(k, &len, 1) < 0 || fr_sink_write(k, b->name, len) < 0 ||
        put_be64(k, b->length) < 0) {
        return -1;
    }
    if (b->has_page_size && put_be64(k, b->page_size) < 0) {
        return -1;
    }
    if (b->has_mr_addr && put_be64(k, b->mr_addr) < 0) {
        return -1;
    }
    return 0;
}

int ram_write_block_list(struct fr_sink *k, const struct ram_state *rs)
{
    if (put_be64(k, rs->total | RAM_FLAG_MEM_SIZE) < 0) {
        return -1;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        if (put_block_entry(k, &rs->blocks[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

int ram_write_mapped_list(struct fr_sink *k, struct ram_state *rs)
{
    if (put_be64(k, rs->total | RAM_FLAG_MEM_SIZE) < 0) {
        return -1;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        struct ram_block *b = &rs->blocks[i];
        uint8_t h[MAPPED_RAM_HDR_SIZE];
        uint64_t end;

        if (put_block_entry(k, b) < 0) {
            return -1;
        }
        b->mr_offset = fr_sink_tell(k);
        b->mr.version = MAPPED_RAM_VERSION;
        b->mr.page_size = rs->page_size;
        fr_be32enc(h, b->mr.version);
        fr_be64enc(h + 4, b->mr.page_size);
        if (b->mr_no_data) {
            /* as QEMU 11 lays out an ignored block: no bitmap, no pages */
            b->mr.bitmap_offset = b->mr.pages_offset = 0;
            memset(h + 12, 0, 16);
            if (fr_sink_write(k, h, sizeof(h)) < 0) {
                return -1;
            }
            continue;
        }
        b->mr.bitmap_offset = b->mr_offset + MAPPED_RAM_HDR_SIZE;
        if (ckd_align_up(&b->mr.pages_offset,
                         b->mr.bitmap_offset +
                             mapped_ram_bitmap_size(b->npages),
                         MAPPED_RAM_ALIGN) ||
            ckd_add_u64(&end, b->mr.pages_offset, b->length)) {
            return fr_fail(k->err, FR_E_CORRUPT, FR_NO_OFFSET,
                           "ram block '%s' does not fit in a file",
                           b->name);
        }
        fr_be64enc(h + 12, b->mr.bitmap_offset);
        fr_be64enc(h + 20, b->mr.pages_offset);
        if (fr_sink_write(k, h, sizeof(h)) < 0 ||
            fr_sink_skip_to(k, end) < 0) {
            return -1;
        }
    }
    return 0;
}

int mapped_ram_write_bitmap(struct fr_sink *k, const struct ram_block *b,
                            const struct fr_bitmap *bm)
{
    uint64_t words = mapped_ram_bitmap_size(b->npages) / 8;
    uint8_t buf[65536];
    uint64_t off = b->mr.bitmap_offset;
    size_t n = 0;

    for (uint64_t w = 0; w < words; w++) {
        fr_le64enc(buf + n, fr_bitmap_word(bm, w));
        n += 8;
        if (n == sizeof(buf) || w + 1 == words) {
            if (fr_sink_pwrite(k, buf, n, off) < 0) {
                return -1;
            }
            off += n;
            n = 0;
        }
    }
    return 0;
}

int ram_write_record(struct fr_sink *k, uint64_t offset, unsigned flags,
                     const char *block, const void *payload, size_t len)
{
    uint8_t hdr[8 + 1 + 255];
    size_t n = 8;

    fr_be64enc(hdr, offset | flags);
    if (!(flags & RAM_FLAG_CONTINUE)) {
        size_t l = strlen(block);
        hdr[n++] = (uint8_t)l;
        memcpy(hdr + n, block, l);
        n += l;
    }
    if (fr_sink_write(k, hdr, n) < 0) {
        return -1;
    }
    return len ? fr_sink_write(k, payload, len) : 0;
}

int ram_write_eos(struct fr_sink *k)
{
    return put_be64(k, RAM_FLAG_EOS);
}

bool ram_record_has_data(const struct ram_record *rec)
{
    return rec->kind == RAM_XBZRLE ||
           (rec->kind == RAM_PAGE && !fr_is_zero(rec->data, rec->len));
}
