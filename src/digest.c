/*
 * Content digests: see digest.h for the definition.  Pages are hashed in
 * chunks; within a chunk the present pages are split between threads,
 * each reading and hashing its own share, and the page hashes are then
 * fed in order into the block's running digest.
 */
#include "config.h"

#include "digest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifdef HAVE_XXH_X86DISPATCH
/* XXH3 with AVX2 or AVX-512 where the CPU has them: a quarter off the
 * checksum of a stream (SSE2 otherwise) */
#include <xxh_x86dispatch.h>
#endif

#include "endian.h"
#include "sink.h"

/* Pages per chunk: 64 MiB of 4 KiB pages, 1 MiB of page hashes. */
#define CHUNK_PAGES 16384
#define READ_PAGES 256

static void to_hex(XXH128_hash_t h, struct digest_hex *out)
{
    XXH128_canonical_t c;
    static const char digits[] = "0123456789abcdef";

    XXH128_canonicalFromHash(&c, h);
    for (int i = 0; i < 16; i++) {
        out->hex[2 * i] = digits[c.digest[i] >> 4];
        out->hex[2 * i + 1] = digits[c.digest[i] & 15];
    }
    out->hex[32] = '\0';
}

/* ---- device state -------------------------------------------------------- */

static int dev_token(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct digest_devices *d = opaque;
    uint8_t h[10];
    uint8_t len;

    if (is_ram || !t->sec) {
        return 0;
    }
    h[0] = t->type;
    fr_be32enc(h + 1, t->sec->instance);
    fr_be32enc(h + 5, t->sec->version);
    len = (uint8_t)strlen(t->sec->idstr);
    h[9] = len;
    XXH3_128bits_update(d->state, h, sizeof(h));
    XXH3_128bits_update(d->state, t->sec->idstr, len);
    d->body_len = 0;
    return 0;
}

static int dev_body(void *opaque, const uint8_t *p, size_t n)
{
    struct digest_devices *d = opaque;
    XXH3_128bits_update(d->state, p, n);
    d->body_len += n;
    return 0;
}

static int dev_token_end(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct digest_devices *d = opaque;
    uint8_t b[8];

    (void)t;
    if (!is_ram) {
        fr_be64enc(b, d->body_len);
        XXH3_128bits_update(d->state, b, 8);
    }
    return 0;
}

int digest_devices_init(struct digest_devices *d, struct sf_visitor *v)
{
    memset(v, 0, sizeof(*v));
    d->state = XXH3_createState();
    if (!d->state) {
        return -1;
    }
    XXH3_128bits_reset(d->state);
    d->body_len = 0;
    v->opaque = d;
    v->token = dev_token;
    v->device_body = dev_body;
    v->token_end = dev_token_end;
    return 0;
}

/* ---- RAM ----------------------------------------------------------------- */

struct job {
    struct pagesrc *ps;
    size_t block;
    uint64_t first, count;      /* pages of the chunk this job hashes */
    uint64_t chunk_first;
    XXH128_hash_t *hashes;      /* indexed from chunk_first */
    XXH128_hash_t zero;
    uint8_t *buf;
    int failed;
};

static void *hash_range(void *arg)
{
    struct job *j = arg;
    const struct ram_block *b = &j->ps->sum.ram.blocks[j->block];
    uint32_t psz = j->ps->sum.ram.page_size;
    uint64_t end = j->first + j->count;

    for (uint64_t p = j->first; p < end;) {
        uint64_t e;
        if (b->mr_no_data || !fr_bitmap_test(&b->present, p)) {
            e = b->mr_no_data ? end : fr_bitmap_next(&b->present, p, true);
            for (; p < e && p < end; p++) {
                j->hashes[p - j->chunk_first] = j->zero;
            }
            continue;
        }
        /* with the few absent pages between runs, in one read */
        e = fr_bitmap_span(&b->present, p,
                           end - p < READ_PAGES ? end : p + READ_PAGES, true,
                           PAGESRC_READ_GAP);
        if (pagesrc_read(j->ps, j->block, p, e - p, j->buf) < 0) {
            j->failed = 1;
            return NULL;
        }
        for (uint64_t i = 0; i < e - p; i++) {
            j->hashes[p + i - j->chunk_first] =
                fr_bitmap_test(&b->present, p + i)
                    ? XXH3_128bits(j->buf + i * psz, psz)
                    : j->zero;
        }
        p = e;
    }
    return NULL;
}

static int hash_block(struct pagesrc *ps, size_t bi, int threads,
                      struct job *jobs, XXH128_hash_t *hashes,
                      XXH128_hash_t zero, struct digest_hex *out)
{
    const struct ram_block *b = &ps->sum.ram.blocks[bi];
    XXH3_state_t *st = XXH3_createState();
    pthread_t tid[64];
    bool spawned[64];

    if (!st) {
        return fr_fail(&ps->orig->err, FR_E_NOMEM, FR_NO_OFFSET,
                       "out of memory");
    }
    XXH3_128bits_reset(st);
    for (uint64_t c = 0; c < b->npages; c += CHUNK_PAGES) {
        uint64_t n = b->npages - c < CHUNK_PAGES ? b->npages - c
                                                   : CHUNK_PAGES;
        uint64_t share = (n + (uint64_t)threads - 1) / (uint64_t)threads;
        int started = 0, failed = 0;

        for (int t = 0; t < threads && (uint64_t)t * share < n; t++) {
            struct job *j = &jobs[t];
            j->block = bi;
            j->chunk_first = c;
            j->first = c + (uint64_t)t * share;
            j->count = n - (uint64_t)t * share < share
                           ? n - (uint64_t)t * share : share;
            j->hashes = hashes;
            j->zero = zero;
            j->failed = 0;
            /* share 0 is the main thread's, as is any that cannot get a
             * thread of its own */
            spawned[t] = t > 0 &&
                         pthread_create(&tid[t], NULL, hash_range, j) == 0;
            started = t + 1;
        }
        for (int t = 0; t < started; t++) {
            if (!spawned[t]) {
                hash_range(&jobs[t]);
            }
        }
        for (int t = 0; t < started; t++) {
            if (spawned[t]) {
                pthread_join(tid[t], NULL);
            }
            failed |= jobs[t].failed;
        }
        if (failed) {
            XXH3_freeState(st);
            return -1;
        }
        for (uint64_t i = 0; i < n; i++) {
            XXH128_canonical_t canon;
            XXH128_canonicalFromHash(&canon, hashes[i]);
            XXH3_128bits_update(st, canon.digest, sizeof(canon.digest));
        }
    }
    to_hex(XXH3_128bits_digest(st), out);
    XXH3_freeState(st);
    return 0;
}

/* Room for NBLOCKS results, with the names and lengths of RS's blocks. */
static int result_init(struct digest_result *r, const struct ram_state *rs)
{
    r->blocks = calloc(rs->nblocks + 1, sizeof(*r->blocks));
    r->names = calloc(rs->nblocks + 1, sizeof(*r->names));
    r->lengths = calloc(rs->nblocks + 1, sizeof(*r->lengths));
    if (!r->blocks || !r->names || !r->lengths) {
        return -1;
    }
    r->nblocks = rs->nblocks;
    r->page_size = rs->page_size;
    for (size_t i = 0; i < rs->nblocks; i++) {
        memcpy(r->names[i], rs->blocks[i].name, sizeof(r->names[i]));
        r->lengths[i] = rs->blocks[i].length;
    }
    return 0;
}

void digest_result_free(struct digest_result *r)
{
    free(r->blocks);
    free(r->names);
    free(r->lengths);
    r->blocks = NULL;
    r->names = NULL;
    r->lengths = NULL;
    r->nblocks = 0;
}

int digest_compute_devices(struct digest_devices *d, struct digest_hex *out)
{
    if (!d->state) {
        return -1;
    }
    to_hex(XXH3_128bits_digest(d->state), out);
    XXH3_freeState(d->state);
    d->state = NULL;
    return 0;
}

int digest_compute(struct pagesrc *ps, struct digest_devices *d,
                   int threads, struct digest_result *out)
{
    const struct ram_state *rs = &ps->sum.ram;
    struct job jobs[64];
    XXH128_hash_t *hashes = malloc(CHUNK_PAGES * sizeof(*hashes));
    uint8_t *zero = calloc(1, rs->page_size);
    XXH128_hash_t zh;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (threads < 1) {
        threads = 1;
    }
    if (threads > 64) {
        threads = 64;
    }
    memset(jobs, 0, sizeof(jobs));
    if (!hashes || !zero || result_init(out, rs) < 0) {
        fr_fail(&ps->orig->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto out;
    }
    zh = XXH3_128bits(zero, rs->page_size);
    for (int t = 0; t < threads; t++) {
        jobs[t].ps = ps;
        jobs[t].buf = aligned_alloc(4096,      /* for O_DIRECT */
                                    (size_t)READ_PAGES * rs->page_size);
        if (!jobs[t].buf) {
            fr_fail(&ps->orig->err, FR_E_NOMEM, FR_NO_OFFSET,
                    "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        if (hash_block(ps, i, threads, jobs, hashes, zh,
                       &out->blocks[i]) < 0) {
            goto out;
        }
    }
    to_hex(XXH3_128bits_digest(d->state), &out->devices);
    ret = 0;
out:
    for (int t = 0; t < threads; t++) {
        free(jobs[t].buf);
    }
    free(hashes);
    free(zero);
    XXH3_freeState(d->state);
    d->state = NULL;
    if (ret < 0) {
        digest_result_free(out);
    }
    return ret;
}

/* ---- one pass over a classic stream --------------------------------------
 *
 * The hash of each page record goes into a scratch file at 16 * page (the
 * block's base added), so that a resent page's last copy simply overwrites
 * its earlier hash; ZERO records write 16 zero bytes, as a hole reads,
 * which stand for the zero page's hash.  At the end the scratch file is
 * read in page order.  Runs of consecutive pages go out in one pwrite.
 * Only XBZRLE needs the page content, and sends the walk elsewhere.
 */

#define RUN_HASHES 65536

/* The hashes of short runs of slots (the resent pages of later rounds,
 * scattered over the guest) are kept in a log and written out in slot
 * order when it fills up or the walk ends: a window of slots in one write,
 * not one write per page.  One bit per slot says which slots the log
 * holds, so that a run written at once never goes out before older
 * copies of its pages still in the log. */
#define SHORT_RUN 64
#define LOG_MAX 65536
#define LOG_WINDOW 4096

struct logent {
    uint64_t slot;
    XXH128_canonical_t hash;
};

struct dstream {
    struct digest_devices dev;
    uint32_t page_size;
    size_t nblocks;
    uint64_t *base;             /* per block: first hash slot */
    struct fr_sink scratch;
    struct fr_err scratch_err;
    bool scratch_open;
    XXH128_canonical_t *run;    /* hashes waiting to be written */
    uint64_t run_slot, run_count;
    struct logent *log;         /* short runs, not written yet */
    size_t log_len;
    struct fr_bitmap logged;    /* the slots in the log */
    struct logent *sorted;      /* the log in window order */
    uint32_t *wcount;           /* per window of slots, and one more */
    uint64_t nwin;
    XXH128_canonical_t *window; /* LOG_WINDOW hashes, read and patched */
    bool xbzrle;
};

/* Write the log's hashes into the scratch file one window of LOG_WINDOW
 * slots at a time (read, patched, written back).  A counting sort puts the
 * entries in window order and keeps their order of arrival within each
 * window, so that a later copy of a page wins.  (qsort took a tenth of the
 * time of checksum on a busy live stream.) */
static int log_apply(struct dstream *d)
{
    const size_t hsz = sizeof(XXH128_canonical_t);
    uint32_t *start = d->wcount;

    memset(start, 0, (d->nwin + 1) * sizeof(*start));
    for (size_t i = 0; i < d->log_len; i++) {
        start[d->log[i].slot / LOG_WINDOW + 1]++;
    }
    for (uint64_t w = 1; w <= d->nwin; w++) {
        start[w] += start[w - 1];
    }
    for (size_t i = 0; i < d->log_len; i++) {
        d->sorted[start[d->log[i].slot / LOG_WINDOW]++] = d->log[i];
    }
    /* start[w] is now the end of window w's entries */
    for (size_t i = 0; i < d->log_len;) {
        size_t end = start[d->sorted[i].slot / LOG_WINDOW];
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t k = i; k < end; k++) {
            lo = d->sorted[k].slot < lo ? d->sorted[k].slot : lo;
            hi = d->sorted[k].slot > hi ? d->sorted[k].slot : hi;
        }
        if (fr_sink_pread(&d->scratch, d->window, (hi - lo + 1) * hsz,
                          lo * hsz) < 0) {
            return -1;
        }
        for (; i < end; i++) {
            d->window[d->sorted[i].slot - lo] = d->sorted[i].hash;
            fr_bitmap_clear(&d->logged, d->sorted[i].slot);
        }
        if (fr_sink_pwrite(&d->scratch, d->window, (hi - lo + 1) * hsz,
                           lo * hsz) < 0) {
            return -1;
        }
    }
    d->log_len = 0;
    return 0;
}

/* Write the run of hashes: a long one at once (after the log, when that
 * holds older copies of its slots), a short one (resent pages, scattered)
 * through the log. */
static int ds_flush(struct dstream *d)
{
    uint64_t end = d->run_slot + d->run_count;
    int ret = 0;

    if (d->run_count >= SHORT_RUN) {
        if (fr_bitmap_next(&d->logged, d->run_slot, true) < end &&
            log_apply(d) < 0) {
            return -1;
        }
        ret = fr_sink_pwrite(&d->scratch, d->run,
                             d->run_count * sizeof(*d->run),
                             d->run_slot * sizeof(*d->run));
    } else {
        for (uint64_t i = 0; i < d->run_count && ret == 0; i++) {
            if (d->log_len == LOG_MAX && (ret = log_apply(d)) < 0) {
                break;
            }
            d->log[d->log_len] = (struct logent){
                .slot = d->run_slot + i,
                .hash = d->run[i] };
            d->log_len++;
            if (fr_bitmap_set(&d->logged, d->run_slot + i) < 0) {
                ret = fr_fail(&d->scratch_err, FR_E_NOMEM, FR_NO_OFFSET,
                              "out of memory");
            }
        }
    }
    d->run_count = 0;
    return ret;
}

static int ds_blocks(void *opaque, struct ram_state *rs)
{
    struct dstream *d = opaque;
    uint64_t slots = 0;

    d->page_size = rs->page_size;
    d->nblocks = rs->nblocks;
    d->base = calloc(rs->nblocks + 1, sizeof(*d->base));
    d->run = malloc(RUN_HASHES * sizeof(*d->run));
    d->log = malloc(LOG_MAX * sizeof(*d->log));
    d->window = malloc(LOG_WINDOW * sizeof(*d->window));
    if (!d->base || !d->run || !d->log || !d->window) {
        return fr_fail(&d->scratch_err, FR_E_NOMEM, FR_NO_OFFSET,
                       "out of memory");
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        d->base[i] = slots;
        slots += rs->blocks[i].npages;
    }
    /* 4 bytes per 4096 pages, and the window order of the log */
    d->nwin = slots / LOG_WINDOW + 1;
    d->wcount = calloc(d->nwin + 1, sizeof(*d->wcount));
    d->sorted = malloc(LOG_MAX * sizeof(*d->sorted));
    if (!d->wcount || !d->sorted || fr_bitmap_init(&d->logged, slots) < 0) {
        return fr_fail(&d->scratch_err, FR_E_NOMEM, FR_NO_OFFSET,
                       "out of memory");
    }
    if (fr_sink_open_scratch(&d->scratch, &d->scratch_err) < 0) {
        return -1;
    }
    d->scratch_open = true;
    rs->track_pages = false;
    return 0;
}

static int ds_record(void *opaque, struct ram_state *rs,
                     const struct ram_record *rec)
{
    struct dstream *d = opaque;
    uint64_t slot = d->base[rec->block] + rec->page;
    XXH128_canonical_t *c;

    if (rec->kind == RAM_XBZRLE) {
        d->xbzrle = true;
        return -1;      /* stop the walk: this needs the page source */
    }
    if (d->run_count && (slot != d->run_slot + d->run_count ||
                         d->run_count == RUN_HASHES) && ds_flush(d) < 0) {
        return -1;
    }
    if (!d->run_count) {
        d->run_slot = slot;
    }
    c = &d->run[d->run_count++];
    if (rec->kind == RAM_ZERO) {
        memset(c, 0, sizeof(*c));
    } else {
        XXH128_canonicalFromHash(c, XXH3_128bits(rec->data, rs->page_size));
    }
    return 0;
}

/* Digest block I from its hashes in the scratch file. */
static int ds_block_digest(struct dstream *d, const struct ram_block *b,
                           size_t i, XXH128_hash_t zero,
                           struct digest_hex *out)
{
    XXH3_state_t *st = XXH3_createState();
    XXH128_canonical_t zc, none;

    if (!st) {
        return fr_fail(&d->scratch_err, FR_E_NOMEM, FR_NO_OFFSET,
                       "out of memory");
    }
    XXH128_canonicalFromHash(&zc, zero);
    memset(&none, 0, sizeof(none));
    XXH3_128bits_reset(st);
    for (uint64_t p = 0; p < b->npages; p += RUN_HASHES) {
        uint64_t n = b->npages - p < RUN_HASHES ? b->npages - p : RUN_HASHES;
        if (fr_sink_pread(&d->scratch, d->run, n * sizeof(*d->run),
                          (d->base[i] + p) * sizeof(*d->run)) < 0) {
            XXH3_freeState(st);
            return -1;
        }
        for (uint64_t j = 0; j < n; j++) {
            if (memcmp(&d->run[j], &none, sizeof(none)) == 0) {
                d->run[j] = zc;         /* zero or never sent */
            }
        }
        XXH3_128bits_update(st, d->run, n * sizeof(*d->run));
    }
    to_hex(XXH3_128bits_digest(st), out);
    XXH3_freeState(st);
    return 0;
}

int digest_stream(struct savefile *sf, struct digest_result *out)
{
    struct dstream d = { 0 };
    struct sf_visitor v;
    struct sf_summary sum;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (digest_devices_init(&d.dev, &v) < 0) {
        return fr_fail(&sf->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    v.ram.opaque = &d;
    v.ram.blocks = ds_blocks;
    v.ram.record = ds_record;
    if (savefile_walk(sf, &sum, &v) < 0) {
        ret = d.xbzrle ? 1 : -1;
        goto out;
    }
    if (sum.ram.mapped_ram || !sum.have_ram) {
        ret = 1;
        goto out;
    }
    if (ds_flush(&d) < 0 ||
        log_apply(&d) < 0 || result_init(out, &sum.ram) < 0) {
        goto out;
    }
    uint8_t *zero = calloc(1, d.page_size);
    if (!zero) {
        goto out;
    }
    XXH128_hash_t zh = XXH3_128bits(zero, d.page_size);
    free(zero);
    for (size_t i = 0; i < d.nblocks; i++) {
        if (ds_block_digest(&d, &sum.ram.blocks[i], i, zh,
                            &out->blocks[i]) < 0) {
            goto out;
        }
    }
    to_hex(XXH3_128bits_digest(d.dev.state), &out->devices);
    ret = 0;
out:
    if (ret < 0) {
        digest_result_free(out);
        if (fr_failed(&d.scratch_err) && !fr_failed(&sf->err)) {
            sf->err = d.scratch_err;
        }
        fr_fail(&sf->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    if (d.scratch_open) {
        fr_sink_abort(&d.scratch);
    }
    free(d.base);
    free(d.run);
    free(d.log);
    free(d.sorted);
    free(d.wcount);
    free(d.window);
    fr_bitmap_free(&d.logged);
    XXH3_freeState(d.dev.state);
    savefile_summary_free(&sum);
    return ret;
}
