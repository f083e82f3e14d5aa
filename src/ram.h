/*
 * The "ram" section (idstr "ram", version 4): the RAMBlock list and the
 * page records of classic streams, or the per-block mapped-ram regions.
 *
 * Every item starts with be64 W: W & (page_size - 1) are flags, the rest a
 * byte offset in the current block.
 *   MEM_SIZE 0x04: W = total | 4, then per block until the lengths add up:
 *       u8 L name[L] be64 used_length
 *       [be64 page_size]   postcopy advised and the block's size differs
 *       [be64 mr_addr]     x-ignore-shared
 *       [mapped-ram: be32 version be64 page_size be64 bitmap_offset
 *                    be64 pages_offset; bitmap and pages at those absolute
 *                    file offsets; next block at pages_offset + length]
 *   ZERO 0x02 + u8 0 | PAGE 0x08 + page | XBZRLE 0x40 + u8 1 be16 n delta
 *       (without CONTINUE 0x20 a counted block name precedes the payload)
 *   EOS 0x10 ends a section body; MULTIFD_FLUSH 0x200 is a barrier.
 */
#ifndef FR_RAM_H
#define FR_RAM_H

#include <stdbool.h>
#include <stdint.h>

#include "bitmap.h"
#include "io.h"

enum {
    RAM_FLAG_FULL = 0x01,
    RAM_FLAG_ZERO = 0x02,
    RAM_FLAG_MEM_SIZE = 0x04,
    RAM_FLAG_PAGE = 0x08,
    RAM_FLAG_EOS = 0x10,
    RAM_FLAG_CONTINUE = 0x20,
    RAM_FLAG_XBZRLE = 0x40,
    RAM_FLAG_HOOK = 0x80,
    RAM_FLAG_COMPRESS_PAGE = 0x100,
    RAM_FLAG_MULTIFD_FLUSH = 0x200,
};

#define MAPPED_RAM_HDR_SIZE 28
#define MAPPED_RAM_VERSION 1
#define MAPPED_RAM_ALIGN (1u << 20)
/* Largest block, and RAM total, we accept: 1 PiB (keeps page maps small). */
#define RAM_MAX_BLOCK_LEN (1ull << 50)
#define RAM_MAX_BLOCKS 4096

struct mapped_ram_hdr {
    uint32_t version;
    uint64_t page_size;
    uint64_t bitmap_offset;
    uint64_t pages_offset;
};

struct ram_block {
    char name[256];
    uint64_t length;            /* used_length in bytes */
    uint64_t npages;
    uint64_t list_offset;       /* offset of its name in the block list */
    bool has_page_size;
    uint64_t page_size;         /* postcopy per-block page size */
    bool has_mr_addr;
    uint64_t mr_addr;           /* x-ignore-shared */
    /* mapped-ram */
    uint64_t mr_offset;         /* offset of the mapped-ram header */
    struct mapped_ram_hdr mr;
    bool mr_no_data;            /* (0, 0) offsets: ignored shared block */
    uint64_t stray_bits;        /* bitmap bits set at or past npages */
    /* page state: classic: last record carried data / any record seen;
     * mapped-ram: the bitmap (sent unused) */
    struct fr_bitmap present;
    struct fr_bitmap sent;
    /* classic record counts for this block */
    uint64_t n_page, n_zero, n_xbzrle, n_resent;
};

/* One page record of a classic stream, as handed to a visitor. */
enum ram_kind { RAM_PAGE, RAM_ZERO, RAM_XBZRLE };

struct ram_record {
    enum ram_kind kind;
    size_t block;               /* index in ram_state.blocks */
    uint64_t page;              /* page index in the block */
    uint64_t offset;            /* of the record's flags word */
    const uint8_t *data;        /* PAGE: the page; XBZRLE: the delta */
    uint64_t data_offset;       /* ... and where it lies in the input */
    size_t len;                 /* bytes at DATA */
    bool resent;                /* the page was sent before */
};

struct ram_state;

struct ram_visitor {
    void *opaque;
    /* After the block list is complete (MEM_SIZE fully read). */
    int (*blocks)(void *opaque, struct ram_state *rs);
    /* Each classic page record; DATA points into the input window. */
    int (*record)(void *opaque, struct ram_state *rs,
                  const struct ram_record *rec);
    /* A mapped-ram block after its bitmap was read; the source is at the
     * end of the bitmap; the visitor may read forward (pipes) or pread. */
    int (*mapped_block)(void *opaque, struct ram_state *rs, size_t block,
                        struct fr_src *src);
};

struct ram_state {
    uint32_t page_size;
    bool mapped_ram;            /* capability mapped-ram */
    bool ignore_shared;         /* capability x-ignore-shared */
    bool postcopy_advised;      /* POSTCOPY_ADVISE with page sizes seen */
    bool track_pages;           /* keep present/sent bitmaps */
    bool have_blocks;
    uint64_t total;             /* MEM_SIZE */
    uint64_t mem_size_offset;
    struct ram_block *blocks;
    size_t nblocks;
    long last_block;            /* for CONTINUE; -1 none yet */
    /* whole-stream counts */
    uint64_t n_page, n_zero, n_xbzrle, n_resent, n_flush, n_eos;
    uint64_t n_sections;
    const struct ram_visitor *visitor;
};

/* Set up RS for a stream with PAGE_SIZE pages and the given capabilities. */
void ram_init(struct ram_state *rs, uint32_t page_size, bool mapped_ram,
              bool ignore_shared);
void ram_free(struct ram_state *rs);

/*
 * Parse one ram section body (START, PART or END) from S up to and
 * including its EOS.  Returns 0, or -1 with the error in S->err.
 */
int ram_read_section(struct ram_state *rs, struct fr_src *s);

/* Does REC, placed as it comes, put data at its page?  A PAGE that is not
 * all zero does; an XBZRLE record always does (QEMU sends a page that
 * became zero as ZERO). */
bool ram_record_has_data(const struct ram_record *rec);

/* Page counts of block B: present (data), zero and absent. */
void ram_block_counts(const struct ram_state *rs, const struct ram_block *b,
                      uint64_t *present, uint64_t *zero, uint64_t *absent);

/* Bytes of the mapped-ram bitmap of a block of NPAGES pages. */
static inline uint64_t mapped_ram_bitmap_size(uint64_t npages)
{
    return (npages + 63) / 64 * 8;
}

/* Find a block by name; -1 if none. */
long ram_find_block(const struct ram_state *rs, const char *name);

/* ---- writers ---- */

struct fr_sink;

/*
 * Write the MEM_SIZE record and the block list of RS as a classic stream
 * has it (name, length, and the per-block page size and mr_addr fields
 * when the blocks carry them).
 */
int ram_write_block_list(struct fr_sink *k, const struct ram_state *rs);

/*
 * Lay out and write the block list of a mapped-ram stream whose MEM_SIZE
 * record starts at the sink's position: per block the 28-byte header, the
 * bitmap right after it (written later, see mapped_ram_write_bitmap), and
 * the pages region at the next 1 MiB boundary of the absolute file offset.
 * Blocks marked mr_no_data (ignored shared blocks) get offsets 0 and
 * neither, as QEMU 11 writes them.  Fills each block's mr_offset and mr;
 * leaves the sink after the last pages region.
 */
int ram_write_mapped_list(struct fr_sink *k, struct ram_state *rs);

/* Write bitmap BM of block B at its bitmap_offset (LE 64-bit words). */
int mapped_ram_write_bitmap(struct fr_sink *k, const struct ram_block *b,
                            const struct fr_bitmap *bm);

/*
 * A page record: W = OFFSET | FLAGS, the block name unless CONTINUE is in
 * FLAGS, and PAYLOAD (the page for PAGE, the fill byte for ZERO).
 */
int ram_write_record(struct fr_sink *k, uint64_t offset, unsigned flags,
                     const char *block, const void *payload, size_t len);

/* End of a section body. */
int ram_write_eos(struct fr_sink *k);

#endif
