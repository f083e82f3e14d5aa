/*
 * Work split by page ranges between threads: see parallel.h.
 */
#include "config.h"

#include "parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define MAX_THREADS 256

struct pool {
    uint64_t n, chunk;
    fr_piece_fn fn;
    void *ctx;
    uint64_t next;              /* first page not yet taken */
    bool failed;
    pthread_mutex_t lock;
};

struct worker {
    struct pool *pool;
    int index;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->pool;

    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint64_t first = p->next;
        bool stop = p->failed || first >= p->n;
        if (!stop) {
            p->next = p->n - first > p->chunk ? first + p->chunk : p->n;
        }
        uint64_t end = p->next;
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            return NULL;
        }
        if (p->fn(p->ctx, w->index, first, end - first) < 0) {
            pthread_mutex_lock(&p->lock);
            p->failed = true;
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
    }
}

int fr_parallel(uint64_t n, uint64_t chunk, int threads, fr_piece_fn fn,
                void *ctx)
{
    struct pool p = { .n = n, .chunk = chunk ? chunk : 1, .fn = fn,
                      .ctx = ctx };
    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started = 1;

    if (threads < 1) {
        threads = 1;
    }
    if (threads > MAX_THREADS) {
        threads = MAX_THREADS;
    }
    pthread_mutex_init(&p.lock, NULL);
    for (int t = 0; t < threads; t++) {
        w[t] = (struct worker){ .pool = &p, .index = t };
    }
    /* no more threads than pieces */
    for (int t = 1; t < threads && (uint64_t)t * p.chunk < n; t++) {
        if (pthread_create(&tid[t], NULL, work, &w[t]) != 0) {
            break;
        }
        started = t + 1;
    }
    work(&w[0]);
    for (int t = 1; t < started; t++) {
        pthread_join(tid[t], NULL);
    }
    pthread_mutex_destroy(&p.lock);
    return p.failed ? -1 : 0;
}

int fr_parallel_bufs(uint8_t **bufs, int threads, size_t size)
{
    for (int t = 0; t < threads; t++) {
        /* aligned for O_DIRECT reads (--bypass-cache) */
        if (!(bufs[t] = aligned_alloc(4096, (size + 4095) & ~(size_t)4095))) {
            return -1;
        }
    }
    return 0;
}

void fr_parallel_bufs_free(uint8_t **bufs, int threads)
{
    for (int t = 0; t < threads; t++) {
        free(bufs[t]);
        bufs[t] = NULL;
    }
}
