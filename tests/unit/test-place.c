/*
 * Unit tests for the placer (place.h) with and without a lookahead
 * (lookahead.h): a hand-built classic stream whose later rounds resend
 * pages every way (data to data, data to zero, zero to data, zero to
 * zero, a page that turns all-zero, twice in one section, three copies,
 * an XBZRLE last copy, a full page after an XBZRLE one), in two blocks
 * with the same page numbers, is placed into a scratch image; each page
 * must hold its last content and carry the right bit, whichever way it
 * was placed, and the same pages must be allocated (a page that ends
 * zero is a hole unless a copy before the last had data), whenever the
 * lookahead gets ready.  With the lookahead waited for, the counts say
 * that the last copies were placed early; with too few slots, the pages
 * left out are placed as they come.
 */
#include "config.h"

#include "lookahead.h"
#include "place.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build.h"
#include "unit.h"

#define RAM_ID 2u
#define PS 4096u
#define RAM_PAGES 64u
#define VGA_PAGES 8u
#define NPAGES (RAM_PAGES + VGA_PAGES)

/* The guest as the stream leaves it: per global page (pc.ram, then
 * vga.vram). */
static uint8_t model[NPAGES][PS];

static const char *block_name(unsigned g)
{
    return g < RAM_PAGES ? "pc.ram" : "vga.vram";
}

static uint64_t block_off(unsigned g)
{
    return (uint64_t)(g < RAM_PAGES ? g : g - RAM_PAGES) * PS;
}

static void put_record(struct bb *b, unsigned g, unsigned flags)
{
    bb_be64(b, block_off(g) | flags);
    bb_str(b, block_name(g));
}

static void put_page(struct bb *b, unsigned g, uint8_t seed)
{
    put_record(b, g, 0x08);
    for (unsigned i = 0; i < PS; i++) {
        model[g][i] = (uint8_t)(seed + i * 7u + g);
    }
    model[g][0] |= 1;           /* never all zero */
    bb_bytes(b, model[g], PS);
}

static void put_zero(struct bb *b, unsigned g)
{
    put_record(b, g, 0x02);
    bb_u8(b, 0);
    memset(model[g], 0, PS);
}

/* A full page of zeros: a data record that leaves the page zero. */
static void put_zero_data(struct bb *b, unsigned g)
{
    put_record(b, g, 0x08);
    memset(model[g], 0, PS);
    bb_bytes(b, model[g], PS);
}

/* An XBZRLE delta that sets the page's first byte to 0xfa. */
static void put_xbzrle(struct bb *b, unsigned g)
{
    static const uint8_t delta[] = { 0x00, 0x01, 0xfa };

    put_record(b, g, 0x40);
    bb_u8(b, 0x01);
    bb_be16(b, sizeof(delta));
    bb_bytes(b, delta, sizeof(delta));
    model[g][0] = 0xfa;
}

static void end_section(struct bb *b)
{
    bb_be64(b, 0x10);
    put_footer(b, RAM_ID);
}

/* The stream, and what the lookahead should count: resent pages, last
 * copies placed early, read from the file, copies skipped. */
static void build(struct bb *b, struct lookahead_counts *want)
{
    const unsigned vga1 = RAM_PAGES + 1;

    memset(model, 0, sizeof(model));
    put_hdr(b);
    put_config(b, "pc-i440fx-10.0");
    put_open(b, 0x01, RAM_ID, "ram", 0, 4);
    bb_be64(b, (uint64_t)NPAGES * PS | 0x04);
    bb_str(b, "pc.ram");
    bb_be64(b, (uint64_t)RAM_PAGES * PS);
    bb_str(b, "vga.vram");
    bb_be64(b, (uint64_t)VGA_PAGES * PS);
    end_section(b);

    /* first round: every page, every fifth one zero */
    put_cont(b, 0x02, RAM_ID);
    for (unsigned g = 0; g < NPAGES; g++) {
        if (g % 5 == 0) {
            put_zero(b, g);
        } else {
            put_page(b, g, 1);
        }
    }
    end_section(b);

    /* second round */
    put_cont(b, 0x02, RAM_ID);
    put_page(b, 1, 2);          /* data to data (three copies in all) */
    put_zero(b, 2);             /* data to zero */
    put_page(b, 3, 2);          /* twice in this section: the second wins */
    put_page(b, 3, 3);
    put_page(b, 5, 2);          /* zero to data */
    put_xbzrle(b, 7);           /* an XBZRLE last copy */
    put_xbzrle(b, 8);           /* ... then a full page */
    put_zero(b, 10);            /* zero to zero */
    put_zero_data(b, 11);       /* data that turns all zero */
    put_page(b, 13, 2);         /* data to data to zero */
    put_page(b, vga1, 2);       /* page 1 of the other block */
    put_page(b, 15, 2);         /* zero to data to zero */
    put_zero_data(b, 20);       /* zero to all-zero data to zero */
    end_section(b);

    /* third round, in the END section */
    put_cont(b, 0x03, RAM_ID);
    put_page(b, 1, 4);
    put_page(b, 8, 4);
    put_zero(b, 12);            /* data to zero, by ZERO record */
    put_zero(b, 13);
    put_zero(b, 15);
    put_zero(b, 20);
    end_section(b);
    bb_u8(b, 0x00);             /* EOF */

    /* resent: 1 2 3 5 7 8 10 11 12 13 vga1 15 20; 7 ends XBZRLE: placed
     * as met */
    want->noted = 13;
    want->last = 12;
    /* data not in the record met first: 1 3 5 8 11 vga1 */
    want->read = 6;
    /* 1: 2, 2: 1, 3: 2, 5: 1, 8: 2, 10: 1, 11: 1, 12: 1, 13: 2, vga1: 1,
     * 15: 2, 20: 2 */
    want->skipped = 18;
}

struct run {
    struct placer pl;
    struct fr_sink scratch;
    struct fr_err err;
    struct lookahead *la;
    uint64_t records, switch_at;
};

static int on_blocks(void *opaque, struct ram_state *rs)
{
    struct run *r = opaque;
    uint64_t base = 0;

    if (placer_init(&r->pl, rs, &r->err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        r->pl.sink[i] = &r->scratch;
        r->pl.base[i] = base;
        base += rs->blocks[i].npages * PS;
    }
    return 0;
}

static int on_record(void *opaque, struct ram_state *rs,
                     const struct ram_record *rec)
{
    struct run *r = opaque;
    (void)rs;
    /* as when the lookahead's walk ends there */
    if (r->records++ == r->switch_at) {
        r->pl.la = r->la;
    }
    return placer_record(&r->pl, rec);
}

/* Place the stream in FILE, with a lookahead of MAX_SLOTS slots (0: none)
 * waited for and used from record SWITCH_AT on; check every page; note in
 * ALLOC which pages the image allocates; return the lookahead's counts. */
static struct lookahead_counts place(const char *file, uint64_t max_slots,
                                     uint64_t switch_at, bool alloc[NPAGES],
                                     int line)
{
    struct run r = { .switch_at = switch_at };
    struct savefile sf;
    struct sf_summary sum;
    const struct sf_visitor v = {
        .ram = { .opaque = &r, .blocks = on_blocks, .record = on_record },
    };
    struct lookahead_counts c = { 0 };
    static uint8_t got[PS];

    if (savefile_open(&sf, file, NULL) < 0 ||
        fr_sink_open_scratch(&r.scratch, &r.err) < 0) {
        UNIT_FAIL("line %d: cannot open", line);
        return c;
    }
    if (max_slots) {
        r.la = lookahead_start(&sf, max_slots);
        EXPECT_TRUE(r.la != NULL);
        EXPECT_TRUE(r.la && lookahead_wait(r.la));
    }
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, &v), 0);
    EXPECT_EQ_U64(placer_flush(&r.pl), 0);
    for (unsigned g = 0; g < NPAGES && r.pl.bits; g++) {
        size_t blk = g < RAM_PAGES ? 0 : 1;
        uint64_t page = block_off(g) / PS;
        bool data = memcmp(model[g], (uint8_t[PS]){ 0 }, PS) != 0;

        if (fr_sink_pread(&r.scratch, got, PS, (uint64_t)g * PS) < 0) {
            UNIT_FAIL("line %d: cannot read page %u back", line, g);
            break;
        }
        if (memcmp(got, model[g], PS) != 0) {
            UNIT_FAIL("line %d: page %u does not hold its last content",
                      line, g);
        }
        if (fr_bitmap_test(&r.pl.bits[blk], page) != data) {
            UNIT_FAIL("line %d: page %u: bit %d, data %d", line, g,
                      fr_bitmap_test(&r.pl.bits[blk], page), data);
        }
        off_t at = (off_t)g * PS;
        alloc[g] = lseek(r.scratch.fd, at, SEEK_DATA) == at;
    }
    if (r.la) {
        c = lookahead_counts(r.la);
    }
    placer_free(&r.pl);
    lookahead_free(r.la);
    fr_sink_abort(&r.scratch);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    return c;
}

/* Copy the file NAME into FD (a child's job); returns an exit status. */
static int copy_to_fd(const char *name, int fd)
{
    static uint8_t buf[65536];
    int in = open(name, O_RDONLY);
    ssize_t n;

    while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
        if (write(fd, buf, (size_t)n) != n) {
            return 1;
        }
    }
    return in < 0;
}

static void test_lookahead(void)
{
    struct bb b = { 0 };
    struct lookahead_counts want, c;
    char name[] = "/tmp/fr-test-place-XXXXXX";
    int fd = mkstemp(name);
    struct savefile sf;

    build(&b, &want);
    if (fd < 0 || write(fd, b.p, b.len) != (ssize_t)b.len) {
        UNIT_FAIL("cannot write %s", name);
        return;
    }
    close(fd);

    /* each copy placed as it comes */
    bool alloc[NPAGES], alloc_la[NPAGES];
    place(name, 0, 0, alloc, __LINE__);
    EXPECT_TRUE(alloc[2]);      /* data to zero: zeros over the data */
    EXPECT_TRUE(alloc[15]);     /* zero to data to zero: the same */
    /* (where the file system reports holes at all) */
    if (!alloc[0]) {            /* a zero page sent once */
        EXPECT_TRUE(!alloc[10]);        /* zero to zero: a hole */
        EXPECT_TRUE(!alloc[20]);        /* no copy had data: a hole */
    }

    /* the same allocation whenever the lookahead gets ready (past the
     * last record, never) */
    for (uint64_t at = 0; at < 2 * NPAGES; at++) {
        place(name, LOOKAHEAD_MAX_SLOTS, at, alloc_la, __LINE__);
        for (unsigned g = 0; g < NPAGES; g++) {
            if (alloc_la[g] != alloc[g]) {
                UNIT_FAIL("lookahead ready at record %" PRIu64 ": page %u "
                          "allocated %d, without it %d", at, g, alloc_la[g],
                          alloc[g]);
            }
        }
    }

    c = place(name, LOOKAHEAD_MAX_SLOTS, 0, alloc_la, __LINE__);
    EXPECT_EQ_U64(c.noted, want.noted);
    EXPECT_EQ_U64(c.last, want.last);
    EXPECT_EQ_U64(c.read, want.read);
    EXPECT_EQ_U64(c.skipped, want.skipped);

    /* ready after the first round, which was placed as it came: the last
     * copies go where the second copies are met (data over data, zeros
     * over data, bits cleared) */
    c = place(name, LOOKAHEAD_MAX_SLOTS, NPAGES, alloc_la, __LINE__);
    EXPECT_EQ_U64(c.last, 12);
    EXPECT_EQ_U64(c.read, 3);   /* 1 3 8 */
    EXPECT_EQ_U64(c.skipped, 6);        /* 3, then 1 8 13 15 20 in END */

    /* four slots hold three pages (1, 2 and 3); the others as they come */
    c = place(name, 4, 0, alloc_la, __LINE__);
    EXPECT_EQ_U64(c.noted, 3);
    EXPECT_EQ_U64(c.last, 3);
    EXPECT_EQ_U64(c.read, 2);
    EXPECT_EQ_U64(c.skipped, 5);

    /* only a file: a pipe is read once, as it comes */
    int fds[2];
    pid_t pid;
    EXPECT_TRUE(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(copy_to_fd(name, fds[1]));
    }
    close(fds[1]);
    EXPECT_EQ_U64(savefile_open_fd(&sf, fds[0], "pipe"), 0);
    EXPECT_TRUE(lookahead_start(&sf, LOOKAHEAD_MAX_SLOTS) == NULL);
    savefile_close(&sf);
    waitpid(pid, NULL, 0);

    unlink(name);
    bb_free(&b);
}

int main(void)
{
    test_lookahead();
    return unit_done();
}
