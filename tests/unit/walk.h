/*
 * Walking a hand-built file in memory, for the reader tests: the walk, and
 * EXPECT_FAIL for a walk that must fail with a given kind, offset and
 * message.
 */
#ifndef FR_TEST_WALK_H
#define FR_TEST_WALK_H

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "savefile.h"
#include "unit.h"

struct walk {
    struct savefile sf;
    struct sf_summary sum;
    uint8_t *copy;
    int r;
};

/* Walk the first N bytes of P (copied into an exact-size buffer). */
static int walk_n(struct walk *w, const uint8_t *p, size_t n)
{
    memset(&w->sf, 0, sizeof(w->sf));
    w->sf.name = "mem";
    w->copy = malloc(n ? n : 1);
    if (!w->copy) {
        abort();
    }
    if (n) {
        memcpy(w->copy, p, n);
    }
    fr_src_open_mem(&w->sf.file, w->copy, n, &w->sf.err);
    w->sf.src = &w->sf.file;
    w->r = savefile_walk(&w->sf, &w->sum, NULL);
    return w->r;
}

static int walk(struct walk *w, const struct bb *b)
{
    return walk_n(w, b->p, b->len);
}

static void walk_done(struct walk *w)
{
    savefile_summary_free(&w->sum);
    free(w->copy);
    w->copy = NULL;
}

/* The walk of B fails with KIND at offset OFF; WHAT (if not NULL) is a
 * substring of the message.  LINE is the caller's, for the report. */
static void expect_fail(const struct bb *b, enum fr_errkind kind,
                        uint64_t off, const char *what, int line)
{
    struct walk w;
    int fails = unit_failures;

    EXPECT_EQ_U64(walk(&w, b), (uint64_t)-1);
    EXPECT_EQ_U64(w.sf.err.kind, kind);
    EXPECT_EQ_U64(w.sf.err.offset, off);
    if (what) {
        EXPECT_TRUE(strstr(w.sf.err.what, what) != NULL);
    }
    if (unit_failures != fails) {
        UNIT_FAIL("  (called from line %d: offset 0x%" PRIx64 ": %s)", line,
                  w.sf.err.offset, w.sf.err.what);
        unit_failures--;
    }
    walk_done(&w);
}

#define EXPECT_FAIL(b, kind, off, what)                                 \
    expect_fail((b), (kind), (off), (what), __LINE__)

#endif
