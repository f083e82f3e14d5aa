/*
 * Looking ahead for the last copy of resent pages: see lookahead.h.
 */
#include "config.h"

#include "lookahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A slot's value: where the last copy's data lies, its kind (enum
 * ram_kind), whether the main pass placed it, whether it has data (not a
 * zero page), and whether a copy between the first and it had data. */
#define VAL_KIND 3u
#define VAL_PLACED 4u
#define VAL_DATA 8u
#define VAL_DATA_BEFORE 16u
#define VAL_OFFSET_SHIFT 5

/* key: global page index + 1, 0 for an empty slot */
struct la_slot {
    uint64_t key, val;
};

struct lookahead {
    struct savefile sf;         /* the second reader */
    struct fr_err *err;         /* the main pass's input's */
    pthread_t thread;
    bool joined;
    atomic_bool ready;          /* the walk is done: the slots are final */
    atomic_bool stop;
    uint64_t max_slots;
    /* written by the thread until ready, then read by the main pass */
    size_t nblocks;
    uint64_t *base;             /* per block: global index of page 0 */
    struct fr_bitmap *sent;     /* per block: seen once (while walking) */
    struct la_slot *slots;
    uint64_t nslots, used;
    uint64_t records;
    struct la_slot *last;       /* lookahead_check's LA_LAST */
    struct lookahead_counts counts;
};

static uint64_t slot_index(uint64_t key, uint64_t nslots)
{
    return (key * 0x9e3779b97f4a7c15ull) >> 32 & (nslots - 1);
}

static struct la_slot *find_slot(struct la_slot *slots, uint64_t nslots,
                                 uint64_t key)
{
    uint64_t i = slot_index(key, nslots);

    while (slots[i].key && slots[i].key != key) {
        i = (i + 1) & (nslots - 1);
    }
    return &slots[i];
}

/* Twice the slots; false when at the cap or out of memory. */
static bool grow(struct lookahead *la)
{
    uint64_t n = la->nslots ? la->nslots * 2 : 1024;
    struct la_slot *s;

    n = n < la->max_slots ? n : la->max_slots;
    if (n == la->nslots || !(s = calloc(n, sizeof(*s)))) {
        return false;
    }
    for (uint64_t i = 0; i < la->nslots; i++) {
        if (la->slots[i].key) {
            *find_slot(s, n, la->slots[i].key) = la->slots[i];
        }
    }
    free(la->slots);
    la->slots = s;
    la->nslots = n;
    return true;
}

/* The last copy of global page KEY - 1 so far is VAL.  When the slots
 * are full, a page not noted yet stays unnoted: it is placed as it comes. */
static void note(struct lookahead *la, uint64_t key, uint64_t val)
{
    struct la_slot *s;

    if (la->nslots) {
        s = find_slot(la->slots, la->nslots, key);
        if (s->key) {
            /* the copy noted before is no longer the last */
            if (s->val & (VAL_DATA | VAL_DATA_BEFORE)) {
                val |= VAL_DATA_BEFORE;
            }
            s->val = val;
            return;
        }
    }
    /* at most three quarters full */
    if ((la->used + 1) * 4 > la->nslots * 3 && !grow(la)) {
        return;
    }
    s = find_slot(la->slots, la->nslots, key);
    s->key = key;
    s->val = val;
    la->used++;
}

/* ---- the thread: walk the whole stream --------------------------------- */

static int no_memory(struct lookahead *la)
{
    return fr_fail(&la->sf.err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
}

static int walk_blocks(void *opaque, struct ram_state *rs)
{
    struct lookahead *la = opaque;
    uint64_t base = 0;

    if (la->base) {             /* a second block list: give up */
        return fr_fail(&la->sf.err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "a second block list");
    }
    la->base = calloc(rs->nblocks + 1, sizeof(*la->base));
    la->sent = calloc(rs->nblocks + 1, sizeof(*la->sent));
    if (!la->base || !la->sent) {
        return no_memory(la);
    }
    la->nblocks = rs->nblocks;
    for (size_t i = 0; i < rs->nblocks; i++) {
        la->base[i] = base;
        base += rs->blocks[i].npages;
        if (fr_bitmap_init(&la->sent[i], rs->blocks[i].npages) < 0) {
            return no_memory(la);
        }
    }
    return 0;
}

static int walk_record(void *opaque, struct ram_state *rs,
                       const struct ram_record *rec)
{
    struct lookahead *la = opaque;
    (void)rs;

    if (++la->records % 4096 == 0 && atomic_load(&la->stop)) {
        return fr_fail(&la->sf.err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "no longer needed");
    }
    if (!fr_bitmap_test(&la->sent[rec->block], rec->page)) {
        return fr_bitmap_set(&la->sent[rec->block], rec->page) < 0
                   ? no_memory(la)
                   : 0;
    }
    note(la, la->base[rec->block] + rec->page + 1,
         rec->data_offset << VAL_OFFSET_SHIFT | rec->kind |
             (ram_record_has_data(rec) ? VAL_DATA : 0));
    return 0;
}

static void free_sent(struct lookahead *la)
{
    for (size_t i = 0; la->sent && i < la->nblocks; i++) {
        fr_bitmap_free(&la->sent[i]);
    }
    free(la->sent);
    la->sent = NULL;
}

static void *walk(void *opaque)
{
    struct lookahead *la = opaque;
    struct sf_summary sum;
    const struct sf_visitor v = {
        .opaque = la,
        .untracked = true,      /* one bit per page is enough: sent */
        .ram = { .opaque = la, .blocks = walk_blocks,
                 .record = walk_record },
    };
    /* the error, if any, is the main pass's to find and report */
    int ret = savefile_walk(&la->sf, &sum, &v);

    savefile_summary_free(&sum);
    free_sent(la);
    if (ret == 0 && la->base) {
        atomic_store_explicit(&la->ready, true, memory_order_release);
    }
    return NULL;
}

struct lookahead *lookahead_start(struct savefile *in, uint64_t max_slots)
{
    const char *test = getenv("FIXEDRAM_TEST_LOOKAHEAD");
    struct lookahead *la;

    if (in->src != &in->file || !S_ISREG(in->st.st_mode) ||
        (test && strcmp(test, "off") == 0)) {
        return NULL;
    }
    la = calloc(1, sizeof(*la));
    if (!la) {
        return NULL;
    }
    if (savefile_reopen(in, &la->sf) < 0) {
        savefile_close(&la->sf);
        free(la);
        return NULL;
    }
    la->err = &in->err;
    la->max_slots = max_slots;
    if (pthread_create(&la->thread, NULL, walk, la) != 0) {
        savefile_close(&la->sf);
        free(la);
        return NULL;
    }
    if (test && strcmp(test, "wait") == 0) {
        lookahead_wait(la);     /* for tests: every verdict from it */
    }
    return la;
}

/* ---- the main pass -------------------------------------------------------- */

enum la_verdict lookahead_check(struct lookahead *la,
                                const struct ram_record *rec)
{
    struct la_slot *s;

    if (!atomic_load_explicit(&la->ready, memory_order_acquire) ||
        rec->block >= la->nblocks || !la->used) {
        return LA_PLACE;
    }
    s = find_slot(la->slots, la->nslots, la->base[rec->block] + rec->page + 1);
    /* an XBZRLE last copy needs the copies before it */
    if (!s->key || (s->val & VAL_KIND) == RAM_XBZRLE) {
        return LA_PLACE;
    }
    if (s->val & VAL_PLACED) {
        la->counts.skipped++;
        return LA_SKIP;
    }
    la->counts.last++;
    s->val |= VAL_PLACED;
    la->last = s;
    return LA_LAST;
}

int lookahead_last(struct lookahead *la, const struct ram_record *rec,
                   uint32_t page_size, uint8_t *buf, bool *zero,
                   bool *data_before, const uint8_t **data)
{
    struct fr_err *err = la->err;
    uint64_t off = la->last->val >> VAL_OFFSET_SHIFT;
    size_t done = 0;

    *zero = (la->last->val & VAL_KIND) == RAM_ZERO;
    *data_before = la->last->val & VAL_DATA_BEFORE;
    *data = NULL;
    if (*zero) {
        return 0;
    }
    if (rec->kind == RAM_PAGE && rec->data_offset == off) {
        *data = rec->data;
        return 0;
    }
    la->counts.read++;
    while (done < page_size) {
        ssize_t n = pread(la->sf.fd, buf + done, page_size - done,
                          (off_t)(off + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fr_fail_sys(err, errno, off + done, "cannot read the last "
                               "copy of a resent page");
        }
        if (n == 0) {
            return fr_fail(err, FR_E_TRUNCATED, off + done, "the file "
                           "shrank while it was read");
        }
        done += (size_t)n;
    }
    *data = buf;
    return 0;
}

bool lookahead_wait(struct lookahead *la)
{
    if (!la->joined) {
        pthread_join(la->thread, NULL);
        la->joined = true;
    }
    return atomic_load(&la->ready);
}

struct lookahead_counts lookahead_counts(const struct lookahead *la)
{
    struct lookahead_counts c = la->counts;

    c.noted = atomic_load(&la->ready) ? la->used : 0;
    return c;
}

void lookahead_free(struct lookahead *la)
{
    if (!la) {
        return;
    }
    atomic_store(&la->stop, true);
    lookahead_wait(la);
    savefile_close(&la->sf);
    free_sent(la);
    free(la->base);
    free(la->slots);
    free(la);
}
