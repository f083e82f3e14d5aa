/*
 * A thread that writes queued buffers, one after the other, in the order
 * they were queued, while the caller fills the next buffer: the writes
 * (and the page cache and file system work behind them) happen on another
 * CPU.  The write-behind of a sequential output and the placer's
 * positioned writes both go through one.
 */
#ifndef FR_WQUEUE_H
#define FR_WQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FR_WQ_MAX 4

/* Write N bytes of P to TARGET at OFF (< 0: sequentially).  Returns 0, or
 * -1 with the failure kept where TARGET keeps its errors. */
typedef int fr_wq_write_fn(void *target, const void *p, size_t n,
                           int64_t off);

struct fr_wq_job {
    void *target;
    const void *p;
    size_t n;
    int64_t off;
};

struct fr_wqueue {
    fr_wq_write_fn *write;
    int depth;                  /* buffers the caller rotates through */
    bool threaded;              /* the thread runs: fr_wq_start worked */
    bool stop, failed;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct fr_wq_job jobs[FR_WQ_MAX];
    int head, njobs;
};

/*
 * Start Q's thread, for a caller that rotates through DEPTH buffers (2 to
 * FR_WQ_MAX).  Returns true; false when no thread could start, and then Q
 * must not be used (the caller writes in place: only slower).
 */
bool fr_wq_start(struct fr_wqueue *q, fr_wq_write_fn *write, int depth);

/*
 * Queue the write of N bytes of P to TARGET at OFF.  When it returns, the
 * buffer queued DEPTH - 1 calls before this one is free again.  Returns
 * 0, or -1 once any write has failed (nothing more is written then).
 */
int fr_wq_put(struct fr_wqueue *q, void *target, const void *p, size_t n,
              int64_t off);

/* Wait until everything queued is written.  Returns 0, or -1 once any
 * write has failed. */
int fr_wq_drain(struct fr_wqueue *q);

/* Drain Q and end its thread. */
void fr_wq_stop(struct fr_wqueue *q);

#endif
