/* Progress meter: see progress.h. */
#include "config.h"

#include "progress.h"

#include <stdio.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fr_progress_init(struct fr_progress *p, bool on)
{
    p->on = on;
    p->last = -1;
    p->last_ns = 0;
    if (on) {
        fprintf(stderr, "    (0.00/100%%)\r");
    }
}

void fr_progress_update(struct fr_progress *p, uint64_t done, uint64_t total)
{
    uint64_t t;
    int pct;

    if (!p->on || !total) {
        return;
    }
    pct = (int)((done > total ? total : done) * 10000 / total);
    if (pct == p->last || (t = now_ns()) - p->last_ns < 200000000u) {
        return;
    }
    p->last = pct;
    p->last_ns = t;
    fprintf(stderr, "    (%d.%02d/100%%)\r", pct / 100, pct % 100);
}

void fr_progress_done(struct fr_progress *p)
{
    if (p->on) {
        fprintf(stderr, "    (100.00/100%%)\n");
    }
}
