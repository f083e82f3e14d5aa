/*
 * The allocated ranges of a file, in order: FIEMAP in batches where the
 * file system has it (one call for hundreds of ranges), SEEK_DATA and
 * SEEK_HOLE where it does not.  Unwritten (preallocated) extents count as
 * allocated: they read as zeros, so at worst a caller looks at zeros.
 */
#ifndef FR_EXTENTS_H
#define FR_EXTENTS_H

#include <stdbool.h>
#include <stdint.h>

struct fr_extents {
    int fd;
    uint64_t next, end;         /* what is left to look at */
    bool no_fiemap;             /* the file system has none */
    bool last;                  /* FIEMAP's batch holds the last extent */
    struct fiemap *fm;          /* the batch */
    uint32_t i;                 /* its next extent */
};

/* Look at [START, END) of FD. */
void fr_extents_init(struct fr_extents *x, int fd, uint64_t start,
                     uint64_t end);

/* The next allocated range, [*FROM, *TO) clipped to [START, END); false
 * when there is none (or the file cannot say). */
bool fr_extents_next(struct fr_extents *x, uint64_t *from, uint64_t *to);

void fr_extents_free(struct fr_extents *x);

#endif
