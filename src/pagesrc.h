/*
 * The final guest content of every RAM page of a save file, in page order,
 * whatever its layout: a mapped-ram image is read where it lies; a classic
 * stream (or an image arriving through a pipe) is first turned into a
 * temporary, unlinked mapped-ram image, so that resent and XBZRLE pages
 * are resolved and memory stays bounded whatever the guest size.
 */
#ifndef FR_PAGESRC_H
#define FR_PAGESRC_H

#include <stdbool.h>
#include <stdint.h>

#include "savefile.h"
#include "sink.h"

struct pagesrc {
    struct savefile *orig;      /* what the user named */
    struct savefile tmp;        /* the materialised image, if any */
    bool materialized;
    struct savefile *img;       /* the image the pages are read from */
    struct sf_summary sum;      /* its walk: blocks, bitmaps, devices */
};

/*
 * Open SF (freshly opened, nothing read yet) for page access.  V, when not
 * NULL, sees the walk of the image (device bodies, tokens).  Temporary
 * files go to $TMPDIR (default /var/tmp).  Errors end up in SF->err.
 */
int pagesrc_open(struct pagesrc *ps, struct savefile *sf,
                 const struct sf_visitor *v);

/*
 * Read N pages of block BLOCK starting at page FIRST into BUF: the data of
 * present pages, zeros for the others.  Runs of present pages are read
 * with up to PAGESRC_READ_GAP absent pages between them in one pread.
 * Returns 0, or -1 with the error in the original savefile's err.
 */
#define PAGESRC_READ_GAP 8

int pagesrc_read(struct pagesrc *ps, size_t block, uint64_t first,
                 uint64_t n, uint8_t *buf);

/*
 * pagesrc_read, and then point PAGES[i] at page FIRST+i in BUF, or NULL
 * where the page is absent (zero): such pages need no look.
 */
int pagesrc_pages(struct pagesrc *ps, size_t block, uint64_t first,
                  uint64_t n, uint8_t *buf, const uint8_t **pages);

/*
 * Copy the pages of [FIRST, FIRST+COUNT) of block BLOCK that hold data
 * (present and not all zero) to K, at BASE + page * page size, reading
 * them through BUF (BUF_PAGES pages); the rest stay holes.  K NULL: only
 * look.  ON_ZERO, when not NULL, is told each present page found all zero
 * (-1 from it stops the copy; it may clear the page's bit).  Several
 * threads may copy at once, each with its own BUF.
 * Returns 0, or -1 with the error in the original savefile or K.
 */
int pagesrc_copy_data(struct pagesrc *ps, size_t block, uint64_t first,
                      uint64_t count, uint8_t *buf, uint64_t buf_pages,
                      struct fr_sink *k, uint64_t base,
                      int (*on_zero)(void *ctx, uint64_t page), void *ctx);

void pagesrc_close(struct pagesrc *ps);

/* The block list and page size. */
static inline const struct ram_state *pagesrc_ram(const struct pagesrc *ps)
{
    return &ps->sum.ram;
}

#endif
