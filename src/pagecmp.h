/*
 * Comparing a classic stream with the pages of another save file where
 * the stream's records lie, without turning the stream into a temporary
 * image first: diff's fast path.
 */
#ifndef FR_PAGECMP_H
#define FR_PAGECMP_H

#include "bitmap.h"
#include "pagesrc.h"
#include "savefile.h"

/*
 * Walk the classic stream SF (freshly opened) and compare the final content
 * of each of its pages with the page of the same block name and index in
 * OTHER.  V, when not NULL, sees the walk (its RAM hooks are replaced).
 * On success SUM holds the walk (its blocks' SENT maps say which pages
 * the stream sent) and *DIFFERS one bitmap per block of SUM: set where a
 * sent page differs from OTHER's.  Pages past the end of either block are
 * not compared; pages the stream never sent are left to the caller.
 * Returns 0; 1 when the stream has XBZRLE pages, which need the page they
 * apply to (SF is then spent); or -1 with the error in SF->err (or, for
 * OTHER's pages, in OTHER's savefile).  The caller frees *DIFFERS with
 * pagecmp_free and SUM with savefile_summary_free.
 */
int pagecmp_stream(struct savefile *sf, struct pagesrc *other,
                   const struct sf_visitor *v, struct sf_summary *sum,
                   struct fr_bitmap **differs);

void pagecmp_free(struct fr_bitmap *differs, size_t nblocks);

#endif
