/*
 * Allocated ranges of a file: see extents.h.
 */
#include "config.h"

#include "extents.h"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BATCH 512

void fr_extents_init(struct fr_extents *x, int fd, uint64_t start,
                     uint64_t end)
{
    memset(x, 0, sizeof(*x));
    x->fd = fd;
    x->next = start;
    x->end = end;
}

void fr_extents_free(struct fr_extents *x)
{
    free(x->fm);
    x->fm = NULL;
}

/* Fetch the next batch of extents from x->next; false when FIEMAP is not
 * there (x->no_fiemap set) or found nothing more. */
static bool fetch(struct fr_extents *x)
{
    if (!x->fm) {
        x->fm = malloc(sizeof(*x->fm) + BATCH * sizeof(x->fm->fm_extents[0]));
        if (!x->fm) {
            x->no_fiemap = true;
            return false;
        }
    }
    memset(x->fm, 0, sizeof(*x->fm));
    x->fm->fm_start = x->next;
    x->fm->fm_length = x->end - x->next;
    x->fm->fm_extent_count = BATCH;
    x->i = 0;
    if (ioctl(x->fd, FS_IOC_FIEMAP, x->fm) < 0) {
        x->no_fiemap = true;
        return false;
    }
    return x->fm->fm_mapped_extents > 0;
}

static bool next_by_seek(struct fr_extents *x, uint64_t *from, uint64_t *to)
{
    off_t d = lseek(x->fd, (off_t)x->next, SEEK_DATA);
    off_t h;

    if (d < 0 || (uint64_t)d >= x->end) {
        return false;
    }
    h = lseek(x->fd, d, SEEK_HOLE);
    *from = (uint64_t)d;
    *to = h < 0 || (uint64_t)h > x->end ? x->end : (uint64_t)h;
    x->next = *to;
    return true;
}

bool fr_extents_next(struct fr_extents *x, uint64_t *from, uint64_t *to)
{
    while (x->next < x->end && !x->no_fiemap) {
        if (!x->fm || x->i == x->fm->fm_mapped_extents) {
            if (x->last || !fetch(x)) {
                if (!x->no_fiemap) {
                    return false;       /* nothing more allocated */
                }
                break;
            }
        }
        const struct fiemap_extent *e = &x->fm->fm_extents[x->i++];
        uint64_t s = e->fe_logical, t = e->fe_logical + e->fe_length;
        x->last = e->fe_flags & FIEMAP_EXTENT_LAST;
        s = s > x->next ? s : x->next;
        t = t < x->end ? t : x->end;
        if (s < t) {
            *from = s;
            *to = t;
            x->next = t;
            return true;
        }
    }
    return x->next < x->end && next_by_seek(x, from, to);
}
