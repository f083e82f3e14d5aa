/*
 * Filling page tables ahead of a mapped reader: see prefault.h.
 */
#include "config.h"

#include "prefault.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Page tables filled per call. */
#define CHUNK (1u << 20)

struct fr_prefault {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const uint8_t *base;
    size_t len;
    /* under lock */
    size_t reader;              /* where the reader is */
    size_t done;                /* filled from reader up to here */
    bool stop;
};

static void *fill(void *arg)
{
    struct fr_prefault *pf = arg;

    pthread_mutex_lock(&pf->lock);
    while (!pf->stop) {
        /* whole pages: madvise wants an aligned start */
        size_t want = (pf->reader + PREFAULT_AHEAD) & ~(size_t)4095;
        size_t from, n;
        int r;

        want = want < pf->len ? want : pf->len;
        if (pf->done < pf->reader) {
            pf->done = pf->reader & ~(size_t)4095;
        }
        if (pf->done >= want) {
            pthread_cond_wait(&pf->cond, &pf->lock);
            continue;
        }
        from = pf->done;
        n = want - from < CHUNK ? want - from : CHUNK;
        pthread_mutex_unlock(&pf->lock);
        r = madvise((void *)(pf->base + from), n, MADV_POPULATE_READ);
        pthread_mutex_lock(&pf->lock);
        if (r < 0) {
            break;      /* before Linux 5.14, or past a shrunken end */
        }
        if (pf->done == from) {     /* else the reader went back */
            pf->done = from + n;
        }
    }
    pthread_mutex_unlock(&pf->lock);
    return NULL;
}

struct fr_prefault *fr_prefault_start(const uint8_t *base, size_t len,
                                      size_t reader)
{
    struct fr_prefault *pf = calloc(1, sizeof(*pf));

    if (!pf) {
        return NULL;
    }
    pf->base = base;
    pf->len = len;
    pf->reader = pf->done = reader & ~(size_t)4095;
    pthread_mutex_init(&pf->lock, NULL);
    pthread_cond_init(&pf->cond, NULL);
    if (pthread_create(&pf->thread, NULL, fill, pf) != 0) {
        pthread_cond_destroy(&pf->cond);
        pthread_mutex_destroy(&pf->lock);
        free(pf);
        return NULL;
    }
    return pf;
}

void fr_prefault_note(struct fr_prefault *pf, size_t reader)
{
    pthread_mutex_lock(&pf->lock);
    if (reader < pf->reader) {
        pf->done = reader & ~(size_t)4095;  /* a seek back */
    }
    pf->reader = reader;
    pthread_cond_signal(&pf->cond);
    pthread_mutex_unlock(&pf->lock);
}

void fr_prefault_stop(struct fr_prefault *pf)
{
    if (!pf) {
        return;
    }
    pthread_mutex_lock(&pf->lock);
    pf->stop = true;
    pthread_cond_signal(&pf->cond);
    pthread_mutex_unlock(&pf->lock);
    pthread_join(pf->thread, NULL);
    pthread_cond_destroy(&pf->cond);
    pthread_mutex_destroy(&pf->lock);
    free(pf);
}
