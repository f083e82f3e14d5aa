/*
 * Where the last copy of each resent page lies, found ahead of time.
 *
 * A classic stream saved from a running guest sends some pages again,
 * much later.  Placing every copy where it belongs (place.h) rewrites
 * pages far behind the writer, and the file system makes that costly:
 * 4 to 15 us per page on ext4, which walks the buffer heads of the large
 * folio around it.  A second reader of the same file, on a thread of its
 * own, walks the whole stream (it only looks at record headers, so it is
 * some ten times faster than placing) and notes where each resent page's
 * last copy lies.  Once it is done, the placer writes that last copy,
 * read from the file, when it first meets the page, and skips the other
 * copies: the pages go out in the order of the first round, in long runs.
 * Pages met before then are placed as they come, as without it.
 *
 * Memory: one bit per guest page while the thread runs, and a slot of 16
 * bytes per resent page, at most LOOKAHEAD_MAX_SLOTS slots (8 MiB, kept
 * at most three quarters full); pages beyond that are placed as they
 * come.
 */
#ifndef FR_LOOKAHEAD_H
#define FR_LOOKAHEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "ram.h"
#include "savefile.h"

#define LOOKAHEAD_MAX_SLOTS (1u << 19)

struct lookahead;

/*
 * Start looking ahead in IN (opened, about to be walked by the caller),
 * with at most MAX_SLOTS slots (a power of two, LOOKAHEAD_MAX_SLOTS but
 * for tests), when IN is a regular file whose stream is not compressed;
 * else (or when out of memory, or without a thread) return NULL: a
 * lookahead is only a shortcut.  Errors reading the last copies
 * go to IN's err.  For the test suite, FIXEDRAM_TEST_LOOKAHEAD=off in the
 * environment starts none, =wait waits until the walk has ended.
 */
struct lookahead *lookahead_start(struct savefile *in, uint64_t max_slots);

/* What to do with a page record met by the main pass. */
enum la_verdict {
    LA_PLACE,   /* place it as it comes */
    LA_SKIP,    /* its page's last copy was placed already */
    LA_LAST,    /* place the page's last copy now (lookahead_last) */
};

/*
 * The verdict for REC.  LA_LAST marks the page placed: the caller must
 * then place what lookahead_last gives.
 */
enum la_verdict lookahead_check(struct lookahead *la,
                                const struct ram_record *rec);

/*
 * The last copy of REC's page after LA_LAST: *ZERO true for a zero page;
 * else its data in BUF (page size bytes), or REC's own data when REC is
 * that copy (*DATA points at it either way).  *DATA_BEFORE: a copy after
 * the page's first and before its last had data (was not a zero page).
 * Returns 0, or -1 with the error in the input's err (the file changed
 * under us).
 */
int lookahead_last(struct lookahead *la, const struct ram_record *rec,
                   uint32_t page_size, uint8_t *buf, bool *zero,
                   bool *data_before, const uint8_t **data);

/* Wait until the walk has ended; true when it succeeded (every verdict
 * from now on uses it). */
bool lookahead_wait(struct lookahead *la);

/* What it did so far: resent pages noted, last copies placed early (and
 * read from the file for that), copies skipped. */
struct lookahead_counts {
    uint64_t noted, last, read, skipped;
};
struct lookahead_counts lookahead_counts(const struct lookahead *la);

/* Stop the thread (if still running) and free LA (NULL is fine). */
void lookahead_free(struct lookahead *la);

#endif
