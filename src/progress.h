/*
 * Progress on stderr in the style of qemu-img convert -p:
 * "    (42.00/100%)\r", a few updates a second at most.
 */
#ifndef FR_PROGRESS_H
#define FR_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct fr_progress {
    bool on;
    int last;                   /* hundredths of a percent shown last */
    uint64_t last_ns;
};

void fr_progress_init(struct fr_progress *p, bool on);
void fr_progress_update(struct fr_progress *p, uint64_t done,
                        uint64_t total);
/* Show 100% and end the line. */
void fr_progress_done(struct fr_progress *p);

#endif
