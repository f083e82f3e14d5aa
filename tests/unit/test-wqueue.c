/*
 * Unit tests for the writer thread (wqueue.h): jobs are written in the
 * order queued, each with the bytes its buffer held when it was queued
 * (a buffer is reused only once fr_wq_put says it is free), and a failed
 * write stops the ones after it and is reported by put and drain.  The
 * writer sleeps now and then so that the queue fills up; nothing checked
 * depends on timing.
 */
#include "wqueue.h"

#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#define NJOBS 200
#define BUFLEN 64

struct recorder {
    int written;                /* jobs written, in order */
    uint8_t first[NJOBS];       /* each one's first byte */
    int64_t off[NJOBS];
    int fail_at;                /* this job fails (-1: none) */
    int calls;
};

static int record(void *target, const void *p, size_t n, int64_t off)
{
    struct recorder *r = target;
    int i = r->calls++;

    if (i % 7 == 0) {
        usleep(200);
    }
    if (i == r->fail_at || n != BUFLEN) {
        return -1;
    }
    r->first[r->written] = *(const uint8_t *)p;
    r->off[r->written] = off;
    __atomic_store_n(&r->written, r->written + 1, __ATOMIC_RELEASE);
    return 0;
}

/* DEPTH buffers in turn, each filled with the job's number before it is
 * queued. */
static void check_order(int depth)
{
    struct fr_wqueue q;
    struct recorder r = { .fail_at = -1 };
    uint8_t bufs[FR_WQ_MAX][BUFLEN];

    EXPECT_TRUE(fr_wq_start(&q, record, depth));
    for (int i = 0; i < NJOBS; i++) {
        uint8_t *b = bufs[i % depth];
        memset(b, i, BUFLEN);
        EXPECT_EQ_U64(fr_wq_put(&q, &r, b, BUFLEN, (int64_t)i * 10), 0);
        /* at most DEPTH - 1 still queued: the next buffer is free */
        EXPECT_TRUE(__atomic_load_n(&r.written, __ATOMIC_ACQUIRE) >=
                    i + 1 - (depth - 1));
    }
    EXPECT_EQ_U64(fr_wq_drain(&q), 0);
    EXPECT_EQ_U64(r.written, NJOBS);
    for (int i = 0; i < NJOBS; i++) {
        EXPECT_EQ_U64(r.first[i], (uint8_t)i);
        EXPECT_EQ_U64(r.off[i], i * 10);
    }
    fr_wq_stop(&q);
}

static void check_failure(void)
{
    struct fr_wqueue q;
    struct recorder r = { .fail_at = 5 };
    uint8_t buf[BUFLEN] = { 0 };
    int failed_puts = 0;

    EXPECT_TRUE(fr_wq_start(&q, record, 2));
    for (int i = 0; i < 20; i++) {
        failed_puts += fr_wq_put(&q, &r, buf, BUFLEN, -1) < 0;
    }
    EXPECT_TRUE(failed_puts > 0);
    EXPECT_TRUE(fr_wq_drain(&q) < 0);
    EXPECT_TRUE(fr_wq_drain(&q) < 0);   /* and it stays failed */
    fr_wq_stop(&q);
    /* the jobs before the failure were written, none after it */
    EXPECT_EQ_U64(r.written, 5);
    EXPECT_EQ_U64(r.calls, 6);
}

static void check_stop(void)
{
    struct fr_wqueue q;
    struct recorder r = { .fail_at = -1 };
    uint8_t buf[BUFLEN] = { 7 };

    /* stopped with nothing queued */
    EXPECT_TRUE(fr_wq_start(&q, record, 4));
    fr_wq_stop(&q);
    fr_wq_stop(&q);             /* a second stop does nothing */
    /* stopped right after a put: the job is still written */
    EXPECT_TRUE(fr_wq_start(&q, record, 4));
    EXPECT_EQ_U64(fr_wq_put(&q, &r, buf, BUFLEN, 0), 0);
    fr_wq_stop(&q);
    EXPECT_EQ_U64(r.written, 1);
}

int main(void)
{
    check_order(2);
    check_order(3);
    check_order(FR_WQ_MAX);
    check_failure();
    check_stop();
    return unit_done();
}
