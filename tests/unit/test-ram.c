/*
 * Unit tests for the ram section, driven through savefile_walk on memory:
 * the MEM_SIZE block list (and its errors), classic page records (PAGE,
 * ZERO, XBZRLE, CONTINUE across sections, resent pages, flush), the
 * optional per-block page_size and mr_addr fields, unsupported flags, and
 * mapped-ram (headers, bitmaps, stray bits, offsets, (0, 0) blocks),
 * including truncations of a classic and of a mapped-ram stream.
 *
 * Inputs are hand-built; each walk reads a buffer whose end ASan knows.
 */
#include "savefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "unit.h"
#include "walk.h"

#define RAM_ID 2u
#define PS 4096u

/* ---- walking ------------------------------------------------------------- */

/* Walk the first N bytes of B in place (the caller poisons the rest). */
static int walk_prefix(struct walk *w, struct bb *b, size_t n)
{
    memset(&w->sf, 0, sizeof(w->sf));
    w->sf.name = "mem";
    w->copy = NULL;
    fr_src_open_mem(&w->sf.file, b->p, n, &w->sf.err);
    w->sf.src = &w->sf.file;
    w->r = savefile_walk(&w->sf, &w->sum, NULL);
    return w->r;
}

/* Walk B, which must succeed; the summary stays in *W. */
static bool walk_ok(struct walk *w, const struct bb *b, int line)
{
    if (walk(w, b) != 0) {
        unit_checks++;
        UNIT_FAIL("walk from line %d failed: offset 0x%" PRIx64 ": %s", line,
                  w->sf.err.offset, w->sf.err.what);
        return false;
    }
    return true;
}

#define WALK_OK(w, b) walk_ok((w), (b), __LINE__)

static void expect_counts(const struct sf_summary *sum, size_t i,
                          uint64_t present, uint64_t zero, uint64_t absent,
                          int line)
{
    uint64_t p = 0, z = 0, a = 0;
    int fails = unit_failures;

    EXPECT_TRUE(i < sum->ram.nblocks);
    if (i >= sum->ram.nblocks) {
        return;
    }
    ram_block_counts(&sum->ram, &sum->ram.blocks[i], &p, &z, &a);
    EXPECT_EQ_U64(p, present);
    EXPECT_EQ_U64(z, zero);
    EXPECT_EQ_U64(a, absent);
    if (unit_failures != fails) {
        UNIT_FAIL("  (block %zu, called from line %d)", i, line);
        unit_failures--;
    }
}

#define EXPECT_COUNTS(sum, i, p, z, a)                                  \
    expect_counts((sum), (i), (p), (z), (a), __LINE__)

/* ---- stream builders ----------------------------------------------------- */

/* Header, configuration (with the N capabilities CAPS, and target page
 * bits PAGE_BITS unless 0) and the ram START header. */
static void open_ram(struct bb *b, const char *const *caps, uint32_t n,
                     uint32_t page_bits)
{
    put_hdr(b);
    put_config(b, "pc-i440fx-10.0");
    if (page_bits) {
        put_subsec(b, "configuration/target-page-bits", 1);
        bb_be32(b, page_bits);
    }
    if (n) {
        put_caps(b, caps, n);
    }
    put_open(b, 0x01, RAM_ID, "ram", 0, 4);
}

static void put_block(struct bb *b, const char *name, uint64_t len)
{
    bb_str(b, name);
    bb_be64(b, len);
}

static void put_eos(struct bb *b)
{
    bb_be64(b, 0x10);
}

/* EOS and footer. */
static void close_sec(struct bb *b)
{
    put_eos(b);
    put_footer(b, RAM_ID);
}

static void put_part(struct bb *b)
{
    put_cont(b, 0x02, RAM_ID);
}

/* A page record's flags word and (unless NAME is NULL) the block name. */
static void put_rec(struct bb *b, uint64_t off, unsigned flags,
                    const char *name)
{
    bb_be64(b, off | flags | (name ? 0 : 0x20));
    if (name) {
        bb_str(b, name);
    }
}

static void put_zero(struct bb *b, uint64_t off, const char *name)
{
    put_rec(b, off, 0x02, name);
    bb_u8(b, 0);
}

static void put_page(struct bb *b, uint64_t off, const char *name,
                     uint8_t fill, size_t ps)
{
    put_rec(b, off, 0x08, name);
    for (size_t i = 0; i < ps; i++) {
        bb_u8(b, (uint8_t)(fill + i));
    }
}

static void put_xbz(struct bb *b, uint64_t off, const char *name,
                    const void *delta, uint16_t len)
{
    put_rec(b, off, 0x40, name);
    bb_u8(b, 0x01);
    bb_be16(b, len);
    bb_bytes(b, delta, len);
}

/* The usual classic START: pc.ram (8 pages) and pc.bios (4 pages). */
static void classic_start(struct bb *b)
{
    open_ram(b, NULL, 0, 0);
    bb_be64(b, (12 * PS) | 0x04);
    put_block(b, "pc.ram", 8 * PS);
    put_block(b, "pc.bios", 4 * PS);
    close_sec(b);
}

/* ---- block list ---------------------------------------------------------- */

static void test_block_list(void)
{
    struct bb b = { 0 };
    struct walk w;
    size_t mem_at, l0, l1, l2, at;

    open_ram(&b, NULL, 0, 0);
    mem_at = b.len;
    bb_be64(&b, 0x16000 | 0x04);
    l0 = b.len;
    put_block(&b, "pc.ram", 0x10000);
    l1 = b.len;
    put_block(&b, "/rom@etc/acpi/tables", 0x2000);
    l2 = b.len;
    put_block(&b, "pc.bios", 0x4000);
    close_sec(&b);
    put_cont(&b, 0x03, RAM_ID);
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        struct ram_state *rs = &w.sum.ram;
        EXPECT_TRUE(w.sum.have_ram);
        EXPECT_EQ_U64(w.sum.ram_section_id, RAM_ID);
        EXPECT_TRUE(rs->have_blocks);
        EXPECT_TRUE(!rs->mapped_ram);
        EXPECT_EQ_U64(rs->total, 0x16000);
        EXPECT_EQ_U64(rs->mem_size_offset, mem_at);
        EXPECT_EQ_U64(rs->nblocks, 3);
        EXPECT_EQ_STR(rs->blocks[0].name, "pc.ram");
        EXPECT_EQ_U64(rs->blocks[0].length, 0x10000);
        EXPECT_EQ_U64(rs->blocks[0].npages, 16);
        EXPECT_EQ_U64(rs->blocks[0].list_offset, l0);
        EXPECT_TRUE(!rs->blocks[0].has_mr_addr);
        EXPECT_TRUE(!rs->blocks[0].has_page_size);
        EXPECT_EQ_STR(rs->blocks[1].name, "/rom@etc/acpi/tables");
        EXPECT_EQ_U64(rs->blocks[1].npages, 2);
        EXPECT_EQ_U64(rs->blocks[1].list_offset, l1);
        EXPECT_EQ_STR(rs->blocks[2].name, "pc.bios");
        EXPECT_EQ_U64(rs->blocks[2].npages, 4);
        EXPECT_EQ_U64(rs->blocks[2].list_offset, l2);
        EXPECT_EQ_U64(ram_find_block(rs, "pc.bios"), 2);
        EXPECT_EQ_U64(ram_find_block(rs, "pc.rom"), (uint64_t)-1);
        EXPECT_COUNTS(&w.sum, 0, 0, 0, 16);
        EXPECT_EQ_U64(rs->n_sections, 2);
        EXPECT_EQ_U64(rs->n_eos, 2);
        EXPECT_EQ_U64(rs->n_page + rs->n_zero + rs->n_xbzrle, 0);
    }
    walk_done(&w);
    /* Truncated anywhere in the block list: an error at the cut. */
    for (size_t n = mem_at; n < l2 + 16; n++) {
        EXPECT_EQ_U64(walk_n(&w, b.p, n), (uint64_t)-1);
        EXPECT_EQ_U64(w.sf.err.kind, FR_E_TRUNCATED);
        EXPECT_TRUE(w.sf.err.offset <= n && w.sf.err.offset + 8 >= n);
        walk_done(&w);
    }
    bb_free(&b);

    /* The lengths add up to less than the total: the EOS word is then
     * read as a block name (empty). */
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0x17000 | 0x04);
    put_block(&b, "pc.ram", 0x10000);
    put_block(&b, "pc.bios", 0x4000);
    at = b.len;
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "empty");
    bb_free(&b);

    /* ... to more than the total. */
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0x13000 | 0x04);
    put_block(&b, "pc.ram", 0x10000);
    put_block(&b, "pc.bios", 0x4000);
    at = b.len - 8;
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "exceeds what is left");
    bb_free(&b);

    /* A length that is not a multiple of the page size. */
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0x12000 | 0x04);
    put_block(&b, "pc.ram", 0x10800);
    at = b.len - 8;
    put_block(&b, "pc.bios", 0x1800);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "bad length 0x10800");
    bb_free(&b);

    /* Over 1 PiB in total: refused before any page map is made. */
    open_ram(&b, NULL, 0, 0);
    at = b.len;
    bb_be64(&b, (1ull << 51) | 0x04);
    put_block(&b, "pc.ram", 1ull << 51);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, at, "over 1 PiB");
    bb_free(&b);

    /* The same name twice. */
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0x14000 | 0x04);
    put_block(&b, "pc.ram", 0x10000);
    at = b.len;
    put_block(&b, "pc.ram", 0x4000);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "'pc.ram' listed twice");
    bb_free(&b);

    /* A name with a NUL inside. */
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0x1000 | 0x04);
    at = b.len;
    bb_u8(&b, 3);
    bb_bytes(&b, "a\0b", 3);
    bb_be64(&b, 0x1000);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "not a valid string");
    bb_free(&b);

    /* A second MEM_SIZE (in a PART). */
    classic_start(&b);
    put_part(&b);
    at = b.len;
    bb_be64(&b, 0x1000 | 0x04);
    put_block(&b, "x", 0x1000);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "second RAM block list");
    bb_free(&b);

    /* A page record before any block list. */
    open_ram(&b, NULL, 0, 0);
    at = b.len;
    put_zero(&b, 0, "pc.ram");
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "before the RAM block list");
    bb_free(&b);

    /* A MEM_SIZE total of 0: no blocks, nothing to load. */
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0x04);
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        EXPECT_EQ_U64(w.sum.ram.nblocks, 0);
        EXPECT_TRUE(w.sum.ram.have_blocks);
    }
    walk_done(&w);
    bb_free(&b);
}

/* ---- classic page records ------------------------------------------------ */

static const uint8_t xbz_ok[] = { 0x00, 0x01, 0xfa };

static void build_records(struct bb *b, size_t *eof_at)
{
    classic_start(b);
    /* Replace the START's EOS: a multifd flush after the block list. */
    b->len -= 13;
    bb_be64(b, 0x200);
    close_sec(b);

    put_part(b);
    put_zero(b, 0 * PS, "pc.ram");
    put_page(b, 1 * PS, NULL, 0x11, PS);
    put_xbz(b, 1 * PS, NULL, xbz_ok, sizeof(xbz_ok));       /* resent */
    put_page(b, 3 * PS, "pc.bios", 0x22, PS);
    put_zero(b, 0 * PS, NULL);
    bb_be64(b, 0x200);
    close_sec(b);

    put_part(b);
    put_zero(b, 2 * PS, NULL);          /* CONTINUE across sections */
    put_page(b, 0 * PS, "pc.ram", 0x33, PS);    /* ZERO then PAGE */
    put_zero(b, 1 * PS, NULL);          /* PAGE, XBZRLE then ZERO */
    close_sec(b);

    put_cmd(b, 11, 0, NULL);
    put_cont(b, 0x03, RAM_ID);
    close_sec(b);
    *eof_at = b->len;
    bb_u8(b, 0x00);
}

static void test_records(void)
{
    struct bb b = { 0 };
    struct walk w;
    size_t eof_at;

    build_records(&b, &eof_at);
    if (WALK_OK(&w, &b)) {
        struct ram_state *rs = &w.sum.ram;
        struct ram_block *ram = &rs->blocks[0], *bios = &rs->blocks[1];

        EXPECT_EQ_U64(rs->n_sections, 4);
        EXPECT_EQ_U64(rs->n_eos, 4);
        EXPECT_EQ_U64(rs->n_flush, 2);
        EXPECT_EQ_U64(rs->n_page, 3);
        EXPECT_EQ_U64(rs->n_zero, 4);
        EXPECT_EQ_U64(rs->n_xbzrle, 1);
        EXPECT_EQ_U64(rs->n_resent, 3);
        EXPECT_EQ_U64(ram->n_page, 2);
        EXPECT_EQ_U64(ram->n_zero, 2);
        EXPECT_EQ_U64(ram->n_xbzrle, 1);
        EXPECT_EQ_U64(ram->n_resent, 3);
        EXPECT_EQ_U64(bios->n_page, 1);
        EXPECT_EQ_U64(bios->n_zero, 2);
        EXPECT_EQ_U64(bios->n_resent, 0);
        /* Last record wins: ram page 0 present, page 1 zero. */
        EXPECT_COUNTS(&w.sum, 0, 1, 1, 6);
        EXPECT_TRUE(fr_bitmap_test(&ram->present, 0));
        EXPECT_TRUE(!fr_bitmap_test(&ram->present, 1));
        EXPECT_TRUE(fr_bitmap_test(&ram->sent, 1));
        EXPECT_COUNTS(&w.sum, 1, 1, 2, 1);
        EXPECT_TRUE(fr_bitmap_test(&bios->present, 3));
        EXPECT_TRUE(!fr_bitmap_test(&bios->sent, 1));
        EXPECT_EQ_U64(rs->last_block, 0);
        EXPECT_EQ_U64(w.sum.ncmds, 1);
    }
    walk_done(&w);

    /* Every truncation: an error at or before the cut (except the cut
     * right after EOF: a complete stream without vmdesc). */
    for (size_t n = 0; n < b.len; n++) {
        int r = walk_n(&w, b.p, n);
        if (n != eof_at + 1) {
            EXPECT_EQ_U64(r, (uint64_t)-1);
            EXPECT_TRUE(w.sf.err.kind != FR_E_NONE);
            EXPECT_TRUE(w.sf.err.offset <= n);
        }
        walk_done(&w);
    }
    EXPECT_EQ_U64(walk_n(&w, b.p, eof_at + 1), 0);
    walk_done(&w);
    bb_free(&b);

    /* ZERO then XBZRLE on the same page: present (the delta applies to
     * the zero page). */
    classic_start(&b);
    put_part(&b);
    put_zero(&b, 5 * PS, "pc.ram");
    put_xbz(&b, 5 * PS, NULL, xbz_ok, sizeof(xbz_ok));
    static const uint8_t xbz_multi[] = { 0x00, 0x01, 0xfa, 0x10, 0x02,
                                         0xaa, 0xbb, 0x80, 0x10, 0x01,
                                         0xcc };
    put_xbz(&b, 6 * PS, NULL, xbz_multi, sizeof(xbz_multi));
    put_xbz(&b, 7 * PS, NULL, NULL, 0);         /* empty delta */
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        EXPECT_COUNTS(&w.sum, 0, 3, 0, 5);
        EXPECT_EQ_U64(w.sum.ram.n_xbzrle, 3);
        EXPECT_EQ_U64(w.sum.ram.n_resent, 1);
    }
    walk_done(&w);
    bb_free(&b);
}

static void test_record_errors(void)
{
    struct bb b = { 0 };
    size_t at;

    /* CONTINUE with no block named before. */
    classic_start(&b);
    put_part(&b);
    at = b.len;
    put_zero(&b, 0, NULL);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "no block was named before");
    bb_free(&b);

    /* An unknown block name. */
    classic_start(&b);
    put_part(&b);
    at = b.len + 8;
    put_zero(&b, 0, "pc.rom");
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "unknown ram block 'pc.rom'");
    bb_free(&b);

    /* Offset outside the block (pc.bios has 4 pages). */
    classic_start(&b);
    put_part(&b);
    put_zero(&b, 0, "pc.bios");
    at = b.len;
    put_zero(&b, 4 * PS, NULL);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "outside ram block 'pc.bios'");
    bb_free(&b);

    /* ZERO with fill byte 1. */
    classic_start(&b);
    put_part(&b);
    put_rec(&b, PS, 0x02, "pc.ram");
    at = b.len;
    bb_u8(&b, 1);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "fill byte 0x01");
    bb_free(&b);

    /* XBZRLE: bad encoding flag, length over a page. */
    classic_start(&b);
    put_part(&b);
    put_rec(&b, PS, 0x40, "pc.ram");
    at = b.len;
    bb_u8(&b, 0x02);
    bb_be16(&b, 3);
    bb_bytes(&b, xbz_ok, 3);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "encoding 0x02");
    bb_free(&b);

    classic_start(&b);
    put_part(&b);
    put_rec(&b, PS, 0x40, "pc.ram");
    at = b.len;
    bb_u8(&b, 0x01);
    bb_be16(&b, PS + 1);
    bb_fill(&b, 0x01, PS + 1);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 1, "larger than a page");
    bb_free(&b);

    /* XBZRLE: invalid encodings, with the offset of the problem. */
    static const struct {
        const char *enc;
        uint16_t len;
        size_t bad;
        const char *why;
    } bad[] = {
        { "\x00\x01\xaa\x00\x01\xbb", 6, 3, "empty zero run" },
        { "\x05\x00", 2, 1, "bad data-run length" },
        { "\x00\xff\x7f\xaa", 4, 1, "data run goes past" },
        { "\xff\x7f\x01\xaa", 4, 0, "zero run goes past" },
        { "\x00\x05\xaa", 3, 1, "data run goes past" },
        { "\x00\x01\xaa\x05", 4, 3, "bad zero-run length" },
        { "\x80\x80\x01\x01\xaa", 5, 0, "bad zero-run length" },
        { "\x80\x20\x01\xaa", 4, 2, "data run goes past" },
        { "\x07", 1, 0, "bad zero-run length" },
        { "\x00\x01", 2, 1, "bad data-run length" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        classic_start(&b);
        put_part(&b);
        put_rec(&b, 2 * PS, 0x40, "pc.ram");
        at = b.len + 3;
        bb_u8(&b, 0x01);
        bb_be16(&b, bad[i].len);
        bb_bytes(&b, bad[i].enc, bad[i].len);
        close_sec(&b);
        bb_u8(&b, 0x00);
        EXPECT_FAIL(&b, FR_E_CORRUPT, at + bad[i].bad, bad[i].why);
        bb_free(&b);
    }

    /* Truncated page and xbzrle payloads. */
    classic_start(&b);
    put_part(&b);
    put_page(&b, 0, "pc.ram", 0, PS - 1);
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len - (PS - 1), "truncated page");
    bb_free(&b);
    classic_start(&b);
    put_part(&b);
    put_rec(&b, 0, 0x40, "pc.ram");
    bb_u8(&b, 0x01);
    bb_be16(&b, 3);
    bb_bytes(&b, xbz_ok, 2);
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len - 2, "xbzrle");
    bb_free(&b);

    /* Unsupported and invalid flag words. */
    static const struct {
        unsigned flags;
        enum fr_errkind kind;
        const char *what;
    } flags[] = {
        { 0x100, FR_E_UNSUPPORTED, "compress" },
        { 0x120, FR_E_UNSUPPORTED, "compress" },
        { 0x080, FR_E_UNSUPPORTED, "RDMA" },
        { 0x001, FR_E_CORRUPT, "obsolete FULL" },
        { 0x00a, FR_E_CORRUPT, "unknown combination of RAM flags 0xa" },
        { 0x030, FR_E_CORRUPT, "unknown combination of RAM flags 0x30" },
        { 0x020, FR_E_CORRUPT, "unknown combination of RAM flags 0x20" },
        { 0x042, FR_E_CORRUPT, "unknown combination of RAM flags 0x42" },
        { 0x400, FR_E_CORRUPT, "unknown combination of RAM flags 0x400" },
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++) {
        classic_start(&b);
        put_part(&b);
        put_zero(&b, 0, "pc.ram");
        at = b.len;
        bb_be64(&b, PS | flags[i].flags);
        if (!(flags[i].flags & 0x20)) {
            bb_str(&b, "pc.ram");
        }
        bb_fill(&b, 0, 16);
        close_sec(&b);
        bb_u8(&b, 0x00);
        EXPECT_FAIL(&b, flags[i].kind, at, flags[i].what);
        bb_free(&b);
    }

    /* A section body that never ends. */
    classic_start(&b);
    put_part(&b);
    put_zero(&b, 0, "pc.ram");
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len, "truncated ram section");
    bb_free(&b);
}

/* ---- page sizes, mr_addr, postcopy page sizes ---------------------------- */

static void test_page_bits(void)
{
    struct bb b = { 0 };
    struct walk w;

    /* 1 KiB target pages: flags are the low 10 bits; 0x400 is offset. */
    open_ram(&b, NULL, 0, 10);
    bb_be64(&b, 0x1000 | 0x04);
    put_block(&b, "pc.ram", 0x1000);
    bb_be64(&b, 0x200);
    close_sec(&b);
    put_part(&b);
    put_page(&b, 0x400, "pc.ram", 7, 1024);
    put_zero(&b, 0xc00, NULL);
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        EXPECT_EQ_U64(w.sum.ram.page_size, 1024);
        EXPECT_EQ_U64(w.sum.ram.blocks[0].npages, 4);
        EXPECT_EQ_U64(w.sum.ram.n_flush, 1);
        EXPECT_COUNTS(&w.sum, 0, 1, 1, 2);
        EXPECT_TRUE(fr_bitmap_test(&w.sum.ram.blocks[0].present, 1));
    }
    walk_done(&w);
    bb_free(&b);

    /* 64 KiB pages. */
    open_ram(&b, NULL, 0, 16);
    bb_be64(&b, 0x20000 | 0x04);
    put_block(&b, "mach-virt.ram", 0x20000);
    close_sec(&b);
    put_part(&b);
    put_page(&b, 0x10000, "mach-virt.ram", 9, 65536);
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        EXPECT_EQ_U64(w.sum.ram.page_size, 65536);
        EXPECT_COUNTS(&w.sum, 0, 1, 0, 1);
    }
    walk_done(&w);
    bb_free(&b);
}

static void test_ignore_shared(void)
{
    static const char *const caps[] = { "x-ignore-shared" };
    struct bb b = { 0 };
    struct walk w;

    open_ram(&b, caps, 1, 0);
    bb_be64(&b, 0xe000 | 0x04);
    put_block(&b, "mem", 0x8000);
    bb_be64(&b, 0);
    put_block(&b, "pc.bios", 0x4000);
    bb_be64(&b, 0xfffc0000);
    put_block(&b, "pc.rom", 0x2000);
    bb_be64(&b, 0xc0000);
    close_sec(&b);
    put_part(&b);
    put_page(&b, 0, "pc.bios", 1, PS);
    put_zero(&b, 0x1000, "pc.rom");
    put_zero(&b, 0x7000, "mem");
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        struct ram_state *rs = &w.sum.ram;
        EXPECT_TRUE(rs->ignore_shared);
        EXPECT_EQ_U64(rs->nblocks, 3);
        EXPECT_TRUE(rs->blocks[0].has_mr_addr);
        EXPECT_EQ_U64(rs->blocks[0].mr_addr, 0);
        EXPECT_EQ_U64(rs->blocks[1].mr_addr, 0xfffc0000);
        EXPECT_EQ_U64(rs->blocks[2].mr_addr, 0xc0000);
        EXPECT_COUNTS(&w.sum, 0, 0, 1, 7);
        EXPECT_COUNTS(&w.sum, 1, 1, 0, 3);
        EXPECT_COUNTS(&w.sum, 2, 0, 1, 1);
    }
    walk_done(&w);
    /* Without the capability the mr_addr fields break the list. */
    bb_free(&b);
    open_ram(&b, NULL, 0, 0);
    bb_be64(&b, 0xc000 | 0x04);
    put_block(&b, "mem", 0x8000);
    size_t at = b.len;
    bb_be64(&b, 0);
    put_block(&b, "pc.bios", 0x4000);
    bb_be64(&b, 0xfffc0000);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "empty");
    bb_free(&b);
}

static void test_postcopy(void)
{
    static const char *const caps[] = { "x-ignore-shared" };
    uint8_t advise[16] = { 0 };
    struct bb b = { 0 };
    struct walk w;

    advise[5] = 0x20;           /* be64 0x200000 (2 MiB huge pages) */
    advise[14] = 0x10;          /* be64 0x1000 */
    open_ram(&b, NULL, 0, 0);
    b.len -= 1 + 4 + 4 + 4 + 4;         /* take back the START header */
    put_cmd(&b, 3, 16, advise);
    put_open(&b, 0x01, RAM_ID, "ram", 0, 4);
    bb_be64(&b, 0x605000 | 0x04);
    put_block(&b, "pc.ram", 0x400000);
    bb_be64(&b, 0x200000);
    put_block(&b, "pc.bios", 0x4000);
    put_block(&b, "huge", 0x200000);
    bb_be64(&b, 0x40000000);
    put_block(&b, "pc.rom", 0x1000);
    close_sec(&b);
    put_part(&b);
    put_zero(&b, 0, "pc.rom");
    put_zero(&b, 0x1ff000, "huge");
    close_sec(&b);
    bb_u8(&b, 0x00);
    if (WALK_OK(&w, &b)) {
        struct ram_state *rs = &w.sum.ram;
        EXPECT_TRUE(rs->postcopy_advised);
        EXPECT_COUNTS(&w.sum, 3, 0, 1, 0);
        EXPECT_COUNTS(&w.sum, 2, 0, 1, 511);
        EXPECT_EQ_U64(rs->nblocks, 4);
        EXPECT_TRUE(rs->blocks[0].has_page_size);
        EXPECT_EQ_U64(rs->blocks[0].page_size, 0x200000);
        EXPECT_TRUE(!rs->blocks[1].has_page_size);
        EXPECT_TRUE(rs->blocks[2].has_page_size);
        EXPECT_EQ_U64(rs->blocks[2].page_size, 0x40000000);
        EXPECT_TRUE(!rs->blocks[3].has_page_size);
    }
    walk_done(&w);
    bb_free(&b);

    /* POSTCOPY_ADVISE of length 0 announces no page-size fields. */
    open_ram(&b, NULL, 0, 0);
    b.len -= 1 + 4 + 4 + 4 + 4;
    put_cmd(&b, 3, 0, NULL);
    put_open(&b, 0x01, RAM_ID, "ram", 0, 4);
    bb_be64(&b, 0x404000 | 0x04);
    put_block(&b, "pc.ram", 0x400000);
    size_t at = b.len;
    bb_be64(&b, 0x200000);
    put_block(&b, "pc.bios", 0x4000);
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "empty");
    bb_free(&b);

    /* With x-ignore-shared too, page_size and mr_addr are two optional
     * be64 fields whose presence cannot be told apart: refused by name
     * (files cannot have postcopy anyway). */
    open_ram(&b, caps, 1, 0);
    b.len -= 1 + 4 + 4 + 4 + 4;
    put_cmd(&b, 3, 16, advise);
    put_open(&b, 0x01, RAM_ID, "ram", 0, 4);
    at = b.len;
    bb_be64(&b, 0x402000 | 0x04);
    put_block(&b, "pc.ram", 0x400000);
    bb_be64(&b, 0x200000);              /* page_size */
    bb_be64(&b, 0);                     /* mr_addr */
    put_block(&b, "pc.rom", 0x2000);
    bb_be64(&b, 0x100000);              /* mr_addr only */
    close_sec(&b);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, at, "x-ignore-shared");
    bb_free(&b);
}

/* ---- mapped-ram ---------------------------------------------------------- */

#define MiB (1u << 20)

struct mr_block {
    const char *name;
    uint64_t npages;
    const uint64_t *bits;       /* set bits (may be >= npages: stray) */
    size_t nbits;
    bool no_data;               /* header with (0, 0) offsets */
    /* filled in by build_mapped */
    size_t hdr_at;
    uint64_t bitmap_off, pages_off;
};

struct mr_opts {
    bool ignore_shared;
    uint32_t version;           /* of the first block's header */
    uint64_t page_size;         /* of the first block's header */
    bool misalign;              /* first block's pages_offset + 0x800 */
    uint64_t bitmap_off;        /* override for the first block, or 0 */
    uint64_t pages_off;         /* override for the first block, or 0 */
    bool flush_in_part;         /* a MULTIFD_FLUSH in the PART */
    bool zero_in_part;          /* a ZERO record in the PART */
};

static uint64_t ram_bits[] = { 0, 1, 5, 63, 64, 99, 100, 127 };
static uint64_t bios_bits[] = { 0, 2, 40 };

static struct mr_block mr_blocks[] = {
    { "pc.ram", 100, ram_bits, 8, false, 0, 0, 0 },
    { "pc.bios", 3, bios_bits, 3, false, 0, 0, 0 },
    { "shared", 2, NULL, 0, true, 0, 0, 0 },
};
#define MR_NBLOCKS (sizeof(mr_blocks) / sizeof(*mr_blocks))

static size_t build_mapped(struct bb *b, const struct mr_opts *o)
{
    const char *caps[2];
    uint32_t ncaps = 0;
    uint64_t total = 0;
    size_t eof_at;

    if (o->ignore_shared) {
        caps[ncaps++] = "x-ignore-shared";
    }
    caps[ncaps++] = "mapped-ram";
    open_ram(b, caps, ncaps, 0);
    for (size_t i = 0; i < MR_NBLOCKS; i++) {
        total += mr_blocks[i].npages * PS;
    }
    bb_be64(b, total | 0x04);
    for (size_t i = 0; i < MR_NBLOCKS; i++) {
        struct mr_block *m = &mr_blocks[i];
        uint64_t bsize = (m->npages + 63) / 64 * 8;
        size_t bm;

        put_block(b, m->name, m->npages * PS);
        if (o->ignore_shared) {
            bb_be64(b, 0x100000 * i);
        }
        m->hdr_at = b->len;
        if (m->no_data) {
            m->bitmap_off = m->pages_off = 0;
        } else {
            m->bitmap_off = m->hdr_at + 28;
            m->pages_off = (m->bitmap_off + bsize + MiB - 1) / MiB * MiB;
        }
        bb_be32(b, i == 0 && o->version != 1 ? o->version : 1);
        bb_be64(b, i == 0 && o->page_size ? o->page_size : PS);
        bb_be64(b, i == 0 && o->bitmap_off ? o->bitmap_off : m->bitmap_off);
        bb_be64(b, i == 0 && o->pages_off ? o->pages_off
                   : m->pages_off + (i == 0 && o->misalign ? 0x800 : 0));
        if (m->no_data) {
            continue;
        }
        bm = b->len;
        bb_fill(b, 0, bsize);
        for (size_t k = 0; k < m->nbits; k++) {
            if (m->bits[k] < bsize * 8) {
                b->p[bm + m->bits[k] / 8] |= (uint8_t)(1u << m->bits[k] % 8);
            }
        }
        bb_pad_to(b, m->pages_off);
        bb_fill(b, 0, m->npages * PS);
        for (size_t k = 0; k < m->nbits; k++) {
            if (m->bits[k] < m->npages) {
                memset(b->p + m->pages_off + m->bits[k] * PS,
                       (int)(0x40 + k), PS);
            }
        }
    }
    close_sec(b);
    put_part(b);
    if (o->zero_in_part) {
        put_zero(b, 0, "pc.ram");
    }
    if (o->flush_in_part) {
        bb_be64(b, 0x200);
    }
    close_sec(b);
    put_cmd(b, 11, 0, NULL);
    put_cont(b, 0x03, RAM_ID);
    close_sec(b);
    put_open(b, 0x04, 0, "timer", 0, 2);
    bb_bytes(b, "\x00\x01\x02\x03\x04\x05\x06\x07", 8);
    put_footer(b, 0);
    eof_at = b->len;
    bb_u8(b, 0x00);
    put_vmdesc(b, "{\"page_size\":4096,\"devices\":[{\"name\":\"timer\","
               "\"instance_id\":0,\"size\":8,\"fields\":[{\"name\":"
               "\"data\",\"type\":\"buffer\",\"size\":8}]}]}");
    return eof_at;
}

static void test_mapped(void)
{
    struct bb b = { 0 };
    struct walk w;
    struct mr_opts o = { .version = 1 };
    size_t eof_at;

    eof_at = build_mapped(&b, &o);
    EXPECT_TRUE(b.len > 2 * MiB && b.len < 3 * MiB);
    if (WALK_OK(&w, &b)) {
        struct ram_state *rs = &w.sum.ram;
        EXPECT_TRUE(rs->mapped_ram);
        EXPECT_TRUE(strcmp(savefile_layout(&w.sum), "mapped-ram") == 0);
        EXPECT_EQ_U64(rs->nblocks, 3);
        for (size_t i = 0; i < 3 && i < rs->nblocks; i++) {
            EXPECT_EQ_U64(rs->blocks[i].mr_offset, mr_blocks[i].hdr_at);
            EXPECT_EQ_U64(rs->blocks[i].mr.version, 1);
            EXPECT_EQ_U64(rs->blocks[i].mr.page_size, PS);
            EXPECT_EQ_U64(rs->blocks[i].mr.bitmap_offset,
                          mr_blocks[i].bitmap_off);
            EXPECT_EQ_U64(rs->blocks[i].mr.pages_offset,
                          mr_blocks[i].pages_off);
        }
        EXPECT_EQ_U64(rs->blocks[0].mr.pages_offset, MiB);
        EXPECT_EQ_U64(rs->blocks[1].mr.pages_offset, 2 * MiB);
        EXPECT_COUNTS(&w.sum, 0, 6, 94, 0);
        EXPECT_EQ_U64(rs->blocks[0].stray_bits, 2);
        EXPECT_TRUE(fr_bitmap_test(&rs->blocks[0].present, 99));
        EXPECT_TRUE(fr_bitmap_test(&rs->blocks[0].present, 64));
        EXPECT_TRUE(!fr_bitmap_test(&rs->blocks[0].present, 98));
        EXPECT_COUNTS(&w.sum, 1, 2, 1, 0);
        EXPECT_EQ_U64(rs->blocks[1].stray_bits, 1);
        EXPECT_TRUE(rs->blocks[2].mr_no_data);
        EXPECT_TRUE(!rs->blocks[0].mr_no_data);
        EXPECT_COUNTS(&w.sum, 2, 0, 0, 2);
        EXPECT_EQ_U64(rs->n_sections, 3);
        EXPECT_EQ_U64(rs->n_page + rs->n_zero + rs->n_xbzrle, 0);
        EXPECT_EQ_U64(w.sum.ndevs, 1);
        EXPECT_TRUE(w.sum.have_vmdesc);
        EXPECT_EQ_U64(w.sum.eof_offset, eof_at);
    }
    walk_done(&w);

    /* Truncation: every cut in the first and last 8 KiB, every 4 KiB in
     * between (longest first, see bb_poison); only the cut right after
     * EOF is a complete stream. */
    size_t n_ok = 0, prev = b.len, n = b.len;
    bb_poison(&b, b.len, b.cap - b.len);
    while (n-- > 0) {
        if (n >= 8192 && b.len - n > 8192) {
            n = n / 4096 * 4096;
        }
        bb_poison(&b, n, prev - n);
        prev = n;
        int r = walk_prefix(&w, &b, n);
        if (n == eof_at + 1) {
            EXPECT_EQ_U64(r, 0);
            EXPECT_TRUE(!w.sum.have_vmdesc);
            n_ok++;
        } else {
            EXPECT_EQ_U64(r, (uint64_t)-1);
            EXPECT_TRUE(w.sf.err.kind != FR_E_NONE);
            EXPECT_TRUE(w.sf.err.offset <= n);
            if (r != -1 || w.sf.err.offset > n) {
                UNIT_FAIL("  cut at %zu: offset 0x%" PRIx64 ": %s", n,
                          w.sf.err.offset, w.sf.err.what);
            }
        }
        walk_done(&w);
    }
    bb_unpoison(&b);
    EXPECT_EQ_U64(n_ok, 1);
    bb_free(&b);

    /* With x-ignore-shared: mr_addr comes before the header. */
    o.ignore_shared = true;
    build_mapped(&b, &o);
    if (WALK_OK(&w, &b)) {
        EXPECT_EQ_U64(w.sum.ram.nblocks, 3);
        EXPECT_EQ_U64(w.sum.ram.blocks[1].mr_addr, 0x100000);
        EXPECT_EQ_U64(w.sum.ram.blocks[2].mr_addr, 0x200000);
        EXPECT_COUNTS(&w.sum, 0, 6, 94, 0);
        EXPECT_TRUE(w.sum.ram.blocks[2].mr_no_data);
    }
    walk_done(&w);
    bb_free(&b);
    o.ignore_shared = false;

    /* Header version 0 is accepted, 2 is not. */
    o.version = 0;
    build_mapped(&b, &o);
    if (WALK_OK(&w, &b)) {
        EXPECT_EQ_U64(w.sum.ram.blocks[0].mr.version, 0);
    }
    walk_done(&w);
    bb_free(&b);
    o.version = 2;
    build_mapped(&b, &o);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, mr_blocks[0].hdr_at, "version 2");
    bb_free(&b);
    o.version = 1;

    /* A header page size that differs from the stream's. */
    o.page_size = 8192;
    build_mapped(&b, &o);
    EXPECT_FAIL(&b, FR_E_CORRUPT, mr_blocks[0].hdr_at + 4, "page size");
    bb_free(&b);
    o.page_size = 0;

    /* pages_offset not 4 KiB aligned. */
    o.misalign = true;
    build_mapped(&b, &o);
    EXPECT_FAIL(&b, FR_E_CORRUPT, mr_blocks[0].hdr_at + 20, "not aligned");
    bb_free(&b);
    o.misalign = false;

    /* The bitmap past the end of the input. */
    o.bitmap_off = 64 * MiB;
    build_mapped(&b, &o);
    {
        struct walk w2;
        EXPECT_EQ_U64(walk(&w2, &b), (uint64_t)-1);
        EXPECT_EQ_U64(w2.sf.err.kind, FR_E_TRUNCATED);
        EXPECT_TRUE(strstr(w2.sf.err.what, "bitmap") != NULL);
        walk_done(&w2);
    }
    bb_free(&b);
    /* ... or behind the header (needs pread: not on this input). */
    o.bitmap_off = 8;
    build_mapped(&b, &o);
    {
        struct walk w2;
        EXPECT_EQ_U64(walk(&w2, &b), (uint64_t)-1);
        EXPECT_TRUE(w2.sf.err.kind != FR_E_NONE);
        walk_done(&w2);
    }
    bb_free(&b);
    o.bitmap_off = 0;

    /* The pages region past the end; offsets that overflow. */
    o.pages_off = 64 * MiB;
    build_mapped(&b, &o);
    {
        struct walk w2;
        EXPECT_EQ_U64(walk(&w2, &b), (uint64_t)-1);
        EXPECT_EQ_U64(w2.sf.err.kind, FR_E_TRUNCATED);
        walk_done(&w2);
    }
    bb_free(&b);
    o.pages_off = 0xfffffffffffff000ull;
    build_mapped(&b, &o);
    EXPECT_FAIL(&b, FR_E_CORRUPT, mr_blocks[0].hdr_at + 12, "overflow");
    bb_free(&b);
    o.pages_off = 0;

    /* Page records and multifd flushes have no place in mapped-ram. */
    o.zero_in_part = true;
    build_mapped(&b, &o);
    {
        struct walk w2;
        EXPECT_EQ_U64(walk(&w2, &b), (uint64_t)-1);
        EXPECT_EQ_U64(w2.sf.err.kind, FR_E_CORRUPT);
        EXPECT_TRUE(strstr(w2.sf.err.what, "in a mapped-ram stream") !=
                    NULL);
        walk_done(&w2);
    }
    bb_free(&b);
    o.zero_in_part = false;
    o.flush_in_part = true;
    build_mapped(&b, &o);
    {
        struct walk w2;
        EXPECT_EQ_U64(walk(&w2, &b), (uint64_t)-1);
        EXPECT_EQ_U64(w2.sf.err.kind, FR_E_CORRUPT);
        EXPECT_TRUE(strstr(w2.sf.err.what, "multifd flush") != NULL);
        walk_done(&w2);
    }
    bb_free(&b);
}

/* Write the first N bytes of B to a new temporary file NAME. */
static void write_tmp(const struct bb *b, size_t n, char *name)
{
    int fd = mkstemp(name);
    size_t done = 0;

    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    while (done < n) {
        ssize_t r = write(fd, b->p + done, n - done);
        if (r <= 0) {
            perror("write");
            abort();
        }
        done += (size_t)r;
    }
    close(fd);
}

/* Walk the first N bytes of B as a regular file (seekable: bitmaps and
 * pages regions are reached by seeking, the vmdesc is found up front). */
static int walk_file(const struct bb *b, size_t n, struct savefile *sf,
                     struct sf_summary *sum)
{
    char name[] = "/tmp/fr-test-ram-XXXXXX";
    int r;

    write_tmp(b, n, name);
    r = savefile_open(sf, name, NULL);
    unlink(name);
    if (r == 0) {
        r = savefile_walk(sf, sum, NULL);
    } else {
        memset(sum, 0, sizeof(*sum));
    }
    return r;
}

static void test_mapped_file(void)
{
    struct bb b = { 0 };
    struct mr_opts o = { .version = 1 };
    struct savefile sf;
    struct sf_summary sum;
    size_t eof_at;

    eof_at = build_mapped(&b, &o);
    EXPECT_EQ_U64(walk_file(&b, b.len, &sf, &sum), 0);
    EXPECT_TRUE(sf.file.seekable);
    EXPECT_TRUE(sum.vmdesc_used);
    EXPECT_EQ_U64(sum.ram.nblocks, 3);
    EXPECT_COUNTS(&sum, 0, 6, 94, 0);
    EXPECT_EQ_U64(sum.ram.blocks[0].stray_bits, 2);
    EXPECT_COUNTS(&sum, 1, 2, 1, 0);
    EXPECT_COUNTS(&sum, 2, 0, 0, 2);
    EXPECT_EQ_U64(sum.eof_offset, eof_at);
    EXPECT_EQ_U64(sum.ndevs, 1);
    savefile_summary_free(&sum);
    savefile_close(&sf);

    /* Cut in the middle of the first pages region. */
    EXPECT_EQ_U64(walk_file(&b, MiB + 5000, &sf, &sum), (uint64_t)-1);
    EXPECT_EQ_U64(sf.err.kind, FR_E_TRUNCATED);
    EXPECT_TRUE(sf.err.offset <= MiB + 5000);
    savefile_summary_free(&sum);
    savefile_close(&sf);

    /* Cut right after EOF: complete, no vmdesc. */
    EXPECT_EQ_U64(walk_file(&b, eof_at + 1, &sf, &sum), 0);
    EXPECT_TRUE(!sum.have_vmdesc);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    bb_free(&b);

    /* A bitmap past the end of the file: found by the bounds check. */
    o.bitmap_off = 64 * MiB;
    build_mapped(&b, &o);
    EXPECT_EQ_U64(walk_file(&b, b.len, &sf, &sum), (uint64_t)-1);
    EXPECT_EQ_U64(sf.err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(sf.err.offset, mr_blocks[0].hdr_at + 12);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    bb_free(&b);

    /* A bitmap elsewhere in the file, behind the current position (pc.bios
     * keeps its bitmap in the gap before pc.ram's pages): pread. */
    o.bitmap_off = 0;
    build_mapped(&b, &o);
    {
        size_t real = mr_blocks[1].bitmap_off, other = 4096;
        uint8_t bm[8];
        memcpy(bm, b.p + real, 8);
        memset(b.p + real, 0, 8);
        memcpy(b.p + other, bm, 8);
        bb_patch_be64(&b, mr_blocks[1].hdr_at + 12, other);
        EXPECT_EQ_U64(walk_file(&b, b.len, &sf, &sum), 0);
        EXPECT_COUNTS(&sum, 0, 6, 94, 0);
        EXPECT_COUNTS(&sum, 1, 2, 1, 0);
        EXPECT_EQ_U64(sum.ram.blocks[1].stray_bits, 1);
        EXPECT_EQ_U64(sum.ram.blocks[1].mr.bitmap_offset, other);
        savefile_summary_free(&sum);
        savefile_close(&sf);
        /* On memory the same stream needs a backward read: refused. */
        struct walk w;
        EXPECT_EQ_U64(walk(&w, &b), (uint64_t)-1);
        EXPECT_EQ_U64(w.sf.err.kind, FR_E_LIMIT);
        walk_done(&w);
    }
    bb_free(&b);
}

int main(void)
{
    test_block_list();
    test_records();
    test_record_errors();
    test_page_bits();
    test_ignore_shared();
    test_postcopy();
    test_mapped();
    test_mapped_file();
    return unit_done();
}
