/*
 * A thread writing queued buffers in order: see wqueue.h.
 */
#include "config.h"

#include "wqueue.h"

static void *wq_main(void *arg)
{
    struct fr_wqueue *q = arg;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->njobs && !q->stop) {
            pthread_cond_wait(&q->cond, &q->lock);
        }
        if (!q->njobs) {
            break;
        }
        struct fr_wq_job j = q->jobs[q->head];
        bool skip = q->failed;
        pthread_mutex_unlock(&q->lock);
        int r = skip ? -1 : q->write(j.target, j.p, j.n, j.off);
        pthread_mutex_lock(&q->lock);
        q->failed |= r < 0;
        q->head = (q->head + 1) % FR_WQ_MAX;
        q->njobs--;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

bool fr_wq_start(struct fr_wqueue *q, fr_wq_write_fn *write, int depth)
{
    *q = (struct fr_wqueue){ .write = write, .depth = depth };
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->threaded = pthread_create(&q->thread, NULL, wq_main, q) == 0;
    if (!q->threaded) {
        pthread_cond_destroy(&q->cond);
        pthread_mutex_destroy(&q->lock);
    }
    return q->threaded;
}

int fr_wq_put(struct fr_wqueue *q, void *target, const void *p, size_t n,
              int64_t off)
{
    pthread_mutex_lock(&q->lock);
    int tail = (q->head + q->njobs) % FR_WQ_MAX;
    q->jobs[tail] = (struct fr_wq_job){ target, p, n, off };
    q->njobs++;
    pthread_cond_broadcast(&q->cond);
    /* the caller's next buffer is free once fewer than DEPTH are queued */
    while (q->njobs == q->depth && !q->failed) {
        pthread_cond_wait(&q->cond, &q->lock);
    }
    int ret = q->failed ? -1 : 0;
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int fr_wq_drain(struct fr_wqueue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->njobs) {
        pthread_cond_wait(&q->cond, &q->lock);
    }
    int ret = q->failed ? -1 : 0;
    pthread_mutex_unlock(&q->lock);
    return ret;
}

void fr_wq_stop(struct fr_wqueue *q)
{
    if (!q->threaded) {
        return;
    }
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    q->threaded = false;
}
