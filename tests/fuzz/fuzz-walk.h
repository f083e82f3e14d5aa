/*
 * Shared by the walk targets (fuzz-savevm, fuzz-mappedram, fuzz-libvirt):
 * run savefile_walk on SF's source and check what must hold of any walk,
 * successful or not, before freeing the summary.
 */
#ifndef FR_FUZZ_WALK_H
#define FR_FUZZ_WALK_H

#include <string.h>

#include "fuzz.h"
#include "savefile.h"

/* Page-state invariants of every block that was listed. */
static inline void fuzz_check_ram(const struct ram_state *rs)
{
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        uint64_t present, zero, absent, n = 0;

        FUZZ_ASSERT(b->name[0] != '\0');
        FUZZ_ASSERT(strlen(b->name) < sizeof(b->name));
        FUZZ_ASSERT(b->npages == b->length / rs->page_size);
        ram_block_counts(rs, b, &present, &zero, &absent);
        FUZZ_ASSERT(present <= b->npages);
        FUZZ_ASSERT(present + zero + absent == b->npages);
        if (present > 4096) {
            continue;
        }
        /* every set bit lies inside the block */
        for (uint64_t p = fr_bitmap_next(&b->present, 0, true);
             p < b->npages; p = fr_bitmap_next(&b->present, p + 1, true)) {
            FUZZ_ASSERT(fr_bitmap_test(&b->present, p));
            n++;
        }
        FUZZ_ASSERT(n == present);
    }
}

/*
 * Walk SF (its src set up by the caller).  LIMIT bounds the offsets the
 * walk may report (the input size, or UINT64_MAX for decompressed data).
 * Returns the walk's result.
 */
static inline int fuzz_walk(struct savefile *sf, uint64_t limit)
{
    struct sf_summary sum;
    int r = savefile_walk(sf, &sum, NULL);

    /* -1 exactly when an error was recorded */
    FUZZ_ASSERT((r < 0) == fr_failed(&sf->err));
    if (r == 0) {
        FUZZ_ASSERT(sum.have_eof);
        FUZZ_ASSERT(sum.end_offset <= limit);
        FUZZ_ASSERT(!sum.have_vmdesc || sum.vmdesc_offset < limit);
    }
    for (size_t i = 0; i < sum.ndevs; i++) {
        FUZZ_ASSERT(sum.devs[i].body_offset <= limit);
        FUZZ_ASSERT(sum.devs[i].body_len <= limit);
    }
    fuzz_check_ram(&sum.ram);
    savefile_summary_free(&sum);
    return r;
}

/*
 * Walk the same bytes once more through a file descriptor (a memfd, which
 * is a regular, seekable file): the path the CLI takes on regular files,
 * where the vmdesc is found up front and delimits device bodies, bitmaps
 * may be read with pread, and backward seeks work.
 */
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>

/* A memory file (regular, seekable) holding the SIZE bytes at DATA. */
static inline int fuzz_memfd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    size_t done = 0;

    FUZZ_ASSERT(fd >= 0);
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        FUZZ_ASSERT(n > 0);
        done += (size_t)n;
    }
    return fd;
}

static inline void fuzz_walk_fd(const uint8_t *data, size_t size)
{
    struct savefile sf;
    int fd = fuzz_memfd(data, size);

    memset(&sf, 0, sizeof(sf));
    sf.name = "fuzz";
    sf.fd = fd;
    if (fr_src_open_fd(&sf.file, fd, &sf.err) == 0) {
        FUZZ_ASSERT(sf.file.seekable && sf.file.size == size);
        sf.src = &sf.file;
        fuzz_walk(&sf, size);
    }
    fr_src_close(&sf.file);
    close(fd);
}
#else
static inline void fuzz_walk_fd(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
}
#endif

#endif
