/*
 * fixedram verify: check everything the format promises and report each
 * finding with its byte offset, then a summary.  Exit status as qemu-img
 * check: 0 clean, 2 corruption, 3 only non-fatal findings (leaks), 1 the
 * check could not complete, 63 not a QEMU migration file.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "digest.h"
#include "exit.h"
#include "extents.h"
#include "output.h"
#include "pagesrc.h"
#include "parallel.h"
#include "savefile.h"
#include "zero.h"

#include <xxhash.h>

#define MAX_FINDINGS 1000

enum severity { SEV_ERROR, SEV_WARNING };

struct finding {
    enum severity sev;
    uint64_t offset;
    char what[320];
};

struct verify {
    const char *path;
    const char *snapshot;
    bool deep, bypass_cache;
    const char *checksums;
    enum fr_output output;
    int threads;
    struct finding *f;
    size_t nf, nerrors, nwarnings;
    bool incomplete;            /* I/O error: the check did not finish */
    bool notmig;
};

enum {
    OPT_OUTPUT = 0x100, OPT_CHECKSUMS, OPT_DEEP, OPT_THREADS,
    OPT_BYPASS_CACHE
};

static const struct argp_option options[] = {
    { "deep", OPT_DEEP, NULL, 0,
      "Also read every present page of an image (streams are always read "
      "whole)", 0 },
    { "checksums", OPT_CHECKSUMS, "FILE", 0,
      "Compare the content with a manifest written by 'fixedram checksum'",
      0 },
    { "output", OPT_OUTPUT, "FORMAT", 0,
      "Output format: human (default) or json", 0 },
    { "threads", OPT_THREADS, "N", 0,
      "Read pages (--deep) and hash them (--checksums) with N threads "
      "(default: the number of CPUs, at most 8); the result is the same "
      "for any N", 0 },
    { "bypass-cache", OPT_BYPASS_CACHE, NULL, 0, FR_BYPASS_CACHE_HELP, 0 },
    { "quiet", 'q', NULL, 0,
      "Print nothing when no problem is found (human output)", 0 },
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct verify *v = state->input;

    switch (key) {
    case 'l':
        v->snapshot = arg;
        return 0;
    case 'q':
        fr_quiet = true;
        return 0;
    case OPT_DEEP:
        v->deep = true;
        return 0;
    case OPT_CHECKSUMS:
        v->checksums = arg;
        return 0;
    case OPT_THREADS:
        v->threads = fr_parse_threads(state, arg);
        return 0;
    case OPT_BYPASS_CACHE:
        v->bypass_cache = true;
        return 0;
    case OPT_OUTPUT:
        if (fr_output_parse(arg, &v->output) < 0) {
            argp_error(state, "invalid output format '%s' (human or json)",
                       arg);
        }
        return 0;
    case ARGP_KEY_ARG:
        if (v->path) {
            argp_error(state, "too many arguments");
        }
        v->path = arg;
        return 0;
    case ARGP_KEY_END:
        if (!v->path) {
            argp_error(state, "no input file given");
        }
        if (v->checksums && strcmp(v->path, "-") == 0) {
            argp_error(state, "--checksums needs FILE, not standard input");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp verify_argp = {
    options, parse_opt, "FILE",
    "Check a save file: framing and section order, section ids and "
    "footers, the configuration's capabilities, the RAM block list, every "
    "page record of a stream, the headers, bitmaps and regions of a "
    "mapped-ram image, the device sections, the vmdesc JSON, the libvirt "
    "header, and what follows the stream.  Every finding is reported with "
    "its byte offset, then a summary.  FILE may be '-' for standard input."
    "\v"
    "Exit status (as qemu-img check):\n"
    "  0   no problem found\n"
    "  1   the check could not complete (I/O error)\n"
    "  2   corruption found\n"
    "  3   only non-fatal findings, such as stale data under cleared bitmap "
    "bits that 'fixedram compact' reclaims\n"
    " 63   not a QEMU migration file\n"
    " 64   bad command line",
    NULL, NULL, NULL
};

static void __attribute__((format(printf, 4, 5)))
finding(struct verify *v, enum severity sev, uint64_t off, const char *fmt,
        ...)
{
    va_list ap;

    if (sev == SEV_ERROR) {
        v->nerrors++;
    } else {
        v->nwarnings++;
    }
    if (v->nf == MAX_FINDINGS) {
        return;     /* counted, not listed */
    }
    struct finding *f = &v->f[v->nf++];
    f->sev = sev;
    f->offset = off;
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof(f->what), fmt, ap);
    va_end(ap);
}

/* A failure of the reader is a finding of its own kind. */
static void reader_failed(struct verify *v, const struct fr_err *e)
{
    switch (e->kind) {
    case FR_E_NOTMIG:
        v->notmig = true;
        finding(v, SEV_ERROR, e->offset, "%s", e->what);
        break;
    case FR_E_TRUNCATED:
    case FR_E_CORRUPT:
    case FR_E_UNSUPPORTED:      /* QEMU 10 cannot load it either */
        finding(v, SEV_ERROR, e->offset, "%s", e->what);
        break;
    default:
        v->incomplete = true;
        finding(v, SEV_ERROR, e->offset, "%s%s%s", e->what,
                e->sys_errno ? ": " : "",
                e->sys_errno ? strerror(e->sys_errno) : "");
        break;
    }
}

/* Capability names QEMU 10 knows (migration.json MigrationCapability). */
static bool known_capability(const char *name)
{
    static const char *const known[] = {
        "xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "events",
        "postcopy-ram", "x-colo", "release-ram", "return-path",
        "pause-before-switchover", "multifd", "dirty-bitmaps",
        "postcopy-blocktime", "late-block-activate", "x-ignore-shared",
        "validate-uuid", "background-snapshot", "zero-copy-send",
        "postcopy-preempt", "switchover-ack", "dirty-limit", "mapped-ram",
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++) {
        if (strcmp(known[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static void check_config(struct verify *v, const struct sf_summary *sum)
{
    const struct sv_config *cfg = &sum->sv.cfg;

    for (size_t i = 0; i < cfg->ncaps; i++) {
        if (!known_capability(cfg->caps[i])) {
            finding(v, SEV_ERROR, cfg->offset,
                    "unknown capability '%s' in the configuration (QEMU "
                    "refuses the stream)", cfg->caps[i]);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->caps[i], cfg->caps[j]) == 0) {
                finding(v, SEV_ERROR, cfg->offset,
                        "capability '%s' listed twice", cfg->caps[i]);
            }
        }
    }
}

static void check_libvirt(struct verify *v, const struct savefile *sf,
                          const struct sf_summary *sum)
{
    bool sparse = sf->lv.format == LIBVIRT_FMT_SPARSE;

    if (!sf->libvirt) {
        return;
    }
    if (!sf->lv.complete) {
        finding(v, SEV_ERROR, 0,
                "libvirt header has the 'LibvirtQemudPart' magic: the save "
                "did not finish, and libvirt refuses to restore it");
    }
    if (sparse != sum->ram.mapped_ram) {
        finding(v, SEV_ERROR, 28,
                "libvirt image format '%s' does not match the %s inside",
                libvirt_format_name(sf->lv.format),
                sum->ram.mapped_ram ? "mapped-ram image" : "classic stream");
    }
}

struct region {
    uint64_t start, end;
    char what[300];
};

static int cmp_region(const void *a, const void *b)
{
    const struct region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The regions of a mapped-ram image: overlaps, stray bits, alignment. */
static void check_mapped(struct verify *v, const struct sf_summary *sum)
{
    const struct ram_state *rs = &sum->ram;
    struct region *r = calloc(rs->nblocks * 3 + 1, sizeof(*r));
    size_t n = 0;

    if (!r) {
        v->incomplete = true;
        finding(v, SEV_ERROR, FR_NO_OFFSET, "out of memory");
        return;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        r[n].start = b->mr_offset;
        r[n].end = b->mr_offset + MAPPED_RAM_HDR_SIZE;
        snprintf(r[n++].what, sizeof(r->what), "header of '%s'", b->name);
        if (b->mr_no_data) {
            continue;
        }
        r[n].start = b->mr.bitmap_offset;
        r[n].end = b->mr.bitmap_offset + mapped_ram_bitmap_size(b->npages);
        snprintf(r[n++].what, sizeof(r->what), "bitmap of '%s'", b->name);
        r[n].start = b->mr.pages_offset;
        r[n].end = b->mr.pages_offset + b->length;
        snprintf(r[n++].what, sizeof(r->what), "pages of '%s'", b->name);
        if (b->stray_bits) {
            finding(v, SEV_ERROR, b->mr.bitmap_offset + b->npages / 8,
                    "ram block '%s': %" PRIu64 " bitmap bits set past the "
                    "end of the block (%" PRIu64 " pages)", b->name,
                    b->stray_bits, b->npages);
        }
        if (b->mr.pages_offset % MAPPED_RAM_ALIGN) {
            finding(v, SEV_WARNING, b->mr_offset + 20,
                    "ram block '%s': pages region at 0x%" PRIx64 " is not "
                    "1 MiB aligned (direct I/O restores need it)", b->name,
                    b->mr.pages_offset);
        }
    }
    qsort(r, n, sizeof(*r), cmp_region);
    /* each non-empty region against the one that reaches furthest of
     * those before it: a region inside a big one is found even when
     * others sort in between */
    size_t far = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (r[i].end <= r[i].start) {
            continue;
        }
        if (far != SIZE_MAX && r[i].start < r[far].end) {
            finding(v, SEV_ERROR, r[i].start,
                    "%s overlaps %s (0x%" PRIx64 "..0x%" PRIx64 ")",
                    r[i].what, r[far].what, r[far].start, r[far].end);
        }
        if (far == SIZE_MAX || r[i].end > r[far].end) {
            far = i;
        }
    }
    free(r);
}

/* Stale data: non-zero bytes left under cleared bits.  The file's extents
 * say where its allocated ranges are; only pages there are read. */
static void check_stale(struct verify *v, struct savefile *sf,
                        const struct sf_summary *sum)
{
    const struct ram_state *rs = &sum->ram;

    if (sf->src != &sf->file || !sf->file.seekable) {
        return;
    }
    const uint64_t chunk = 256;
    uint8_t *buf = aligned_alloc(4096, chunk * rs->page_size);  /* O_DIRECT */
    if (!buf) {
        return;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        uint64_t stale = 0, first = 0, d, h;
        struct fr_extents x;

        fr_extents_init(&x, sf->fd, b->mr.pages_offset,
                        b->mr_no_data ? 0 : b->mr.pages_offset + b->length);
        while (fr_extents_next(&x, &d, &h)) {
            uint64_t p = (d - b->mr.pages_offset) / rs->page_size;
            uint64_t e = (h - b->mr.pages_offset + rs->page_size - 1) /
                         rs->page_size;
            /* read the clear pages in this allocated range, with the few
             * present ones between them (as pagesrc_read does the other
             * way round): a live-saved image can have tens of thousands
             * of isolated clear pages among its data */
            while ((p = fr_bitmap_next(&b->present, p, false)) < e) {
                uint64_t run = fr_bitmap_span(&b->present, p,
                                              p + chunk < e ? p + chunk : e,
                                              false, PAGESRC_READ_GAP) - p;
                struct fr_err err = { 0 };
                struct fr_err *saved = sf->file.err;
                sf->file.err = &err;
                fr_src_pread(&sf->file, buf, run * rs->page_size,
                             b->mr.pages_offset + p * rs->page_size,
                             "ram pages");
                sf->file.err = saved;
                if (fr_failed(&err)) {
                    break;      /* --deep reports read errors */
                }
                for (uint64_t j = 0; j < run; j++) {
                    if (!fr_bitmap_test(&b->present, p + j) &&
                        !fr_is_zero(buf + j * rs->page_size,
                                    rs->page_size) && !stale++) {
                        first = b->mr.pages_offset +
                                (p + j) * rs->page_size;
                    }
                }
                p += run;
            }
        }
        fr_extents_free(&x);
        if (stale) {
            finding(v, SEV_WARNING, first,
                    "ram block '%s': %" PRIu64 " pages of stale data under "
                    "cleared bitmap bits ('fixedram compact' reclaims them)",
                    b->name, stale);
        }
    }
    free(buf);
}

static void check_stream(struct verify *v, const struct savefile *sf,
                         const struct sf_summary *sum)
{
    if (!sum->have_ram) {
        finding(v, SEV_ERROR, FR_NO_OFFSET, "the stream has no ram section");
    }
    for (size_t i = 0; i < sum->ncmds; i++) {
        uint16_t c = sum->cmds[i].cmd;
        uint64_t off = sum->cmds[i].offset;
        if (c == SV_CMD_POSTCOPY_LISTEN || c == SV_CMD_POSTCOPY_RUN) {
            finding(v, SEV_ERROR, off, "command %s cannot be loaded from a "
                    "file (left by a failed postcopy attempt?)",
                    sv_cmd_name(c));
        } else if (c == SV_CMD_POSTCOPY_ADVISE &&
                   sv_cmd_needs_peer(c, sum->cmds[i].len)) {
            finding(v, SEV_WARNING, off, "command postcopy-advise with page "
                    "sizes: QEMU loads this file only with capability "
                    "postcopy-ram set ('fixedram convert' leaves it out)");
        } else if (sv_cmd_needs_peer(c, sum->cmds[i].len)) {
            finding(v, SEV_WARNING, off, "command %s is for a destination "
                    "that answers (capability return-path or postcopy-ram): "
                    "the save that wrote this file reported failure, though "
                    "QEMU loads it ('fixedram convert' leaves it out)",
                    sv_cmd_name(c));
        }
    }
    if (sum->trailing) {
        finding(v, SEV_ERROR, sum->end_offset,
                "%" PRIu64 " bytes of garbage after the end of the stream",
                sum->trailing);
    }
    if (!sum->have_vmdesc) {
        finding(v, SEV_WARNING, sum->eof_offset + 1,
                "no vmdesc after the EOF marker (QEMU only warns)");
    }
    (void)sf;
}

/* Check the vmdesc JSON; the walk kept only its position. */
static void check_vmdesc(struct verify *v, struct savefile *sf,
                         const struct sf_summary *sum, const uint8_t *json,
                         uint64_t len)
{
    struct fr_err err = { 0 };
    struct vmdesc vd = { 0 };
    size_t full = 0, k = 0;

    (void)sf;
    if (!len) {
        return;
    }
    if (vmdesc_parse(json, (size_t)len, sum->vmdesc_offset + 5, &vd,
                     &err) < 0) {
        finding(v, SEV_ERROR, err.offset, "%s", err.what);
        return;
    }
    for (size_t i = 0; i < sum->ndevs; i++) {
        const struct sf_device *d = &sum->devs[i];
        const struct sv_section *sec = sf_device_section(sum, d);
        if (d->type != SV_FULL) {
            continue;
        }
        full++;
        if (k < vd.ndevs && strcmp(vd.devs[k].name, sec->idstr) == 0 &&
            vd.devs[k].instance_id == sec->instance) {
            if (vd.devs[k].size_known && vd.devs[k].size != d->body_len) {
                finding(v, SEV_WARNING, d->offset,
                        "device '%s': vmdesc says %" PRIu64 " bytes, the "
                        "section has %" PRIu64, sec->idstr, vd.devs[k].size,
                        d->body_len);
            }
            k++;
        }
    }
    if (k != full || vd.ndevs != full) {
        finding(v, SEV_WARNING, sum->vmdesc_offset,
                "vmdesc describes %zu devices, the stream has %zu device "
                "sections (QEMU does not check it)", vd.ndevs, full);
    }
    vmdesc_free(&vd);
}

struct vm_capture {
    uint8_t *json;
    uint64_t len;
};

static int capture_vmdesc(void *opaque, const uint8_t *json, uint64_t len)
{
    struct vm_capture *c = opaque;
    if (len) {
        c->json = malloc(len);
        if (c->json) {
            memcpy(c->json, json, len);
            c->len = len;
        }
    }
    return 0;
}

/* --deep for images: read every present page, by page ranges. */
struct deep {
    struct savefile *sf;
    const struct ram_block *b;
    uint32_t page_size;
    uint8_t **buf;              /* per worker, DEEP_PAGES pages */
    pthread_mutex_t lock;
    struct fr_err err;          /* the failure at the lowest offset */
};

#define DEEP_PAGES 256

static int deep_piece(void *ctx, int worker, uint64_t first, uint64_t count)
{
    struct deep *d = ctx;
    const struct ram_block *b = d->b;
    uint64_t end = first + count;

    for (uint64_t p = fr_bitmap_next(&b->present, first, true); p < end;
         p = fr_bitmap_next(&b->present, p, true)) {
        uint64_t e = fr_bitmap_span(&b->present, p, end, true,
                                    PAGESRC_READ_GAP);
        struct fr_err err = { 0 };
        if (fr_src_pread_to(&d->sf->file, d->buf[worker],
                            (e - p) * d->page_size,
                            b->mr.pages_offset + p * d->page_size,
                            "ram pages", &err) < 0) {
            /* pieces are taken in order: the lowest offset wins, as with
             * one thread */
            pthread_mutex_lock(&d->lock);
            if (!fr_failed(&d->err) || err.offset < d->err.offset) {
                d->err = err;
            }
            pthread_mutex_unlock(&d->lock);
            return -1;
        }
        p = e;
    }
    return 0;
}

static void deep_read(struct verify *v, struct savefile *sf,
                      const struct sf_summary *sum)
{
    const struct ram_state *rs = &sum->ram;
    uint8_t *bufs[256] = { 0 };
    struct deep d = { .sf = sf, .page_size = rs->page_size, .buf = bufs };

    if (sf->src != &sf->file) {
        return;
    }
    pthread_mutex_init(&d.lock, NULL);
    if (fr_parallel_bufs(bufs, v->threads,
                         (size_t)DEEP_PAGES * rs->page_size) < 0) {
        fr_fail(&d.err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    for (size_t i = 0; i < rs->nblocks && !fr_failed(&d.err); i++) {
        d.b = &rs->blocks[i];
        if (!d.b->mr_no_data) {
            fr_parallel(d.b->npages, DEEP_PAGES, v->threads, deep_piece, &d);
        }
    }
    if (fr_failed(&d.err)) {
        reader_failed(v, &d.err);
    }
    fr_parallel_bufs_free(bufs, v->threads);
    pthread_mutex_destroy(&d.lock);
}

/* ORIG is the walk of the file itself: its offsets go in the findings
 * (the page source may read a temporary image). */
static void check_checksums(struct verify *v, const struct sf_summary *orig)
{
    FILE *f = fopen(v->checksums, "r");
    struct savefile sf;
    struct pagesrc ps;
    struct digest_devices dev;
    struct sf_visitor vis;
    struct digest_result r;
    char line[600];
    bool *seen = NULL;
    bool dev_seen = false;

    memset(&ps, 0, sizeof(ps));
    if (!f) {
        v->incomplete = true;
        finding(v, SEV_ERROR, FR_NO_OFFSET, "cannot read %s: %s",
                v->checksums, strerror(errno));
        return;
    }
    if (digest_devices_init(&dev, &vis) < 0 ||
        savefile_open(&sf, v->path, v->snapshot) < 0) {
        reader_failed(v, &sf.err);
        goto out;
    }
    if (v->bypass_cache) {
        fr_src_bypass_cache(&sf.file, v->path);
    }
    if (pagesrc_open(&ps, &sf, &vis) < 0 ||
        digest_compute(&ps, &dev, v->threads, &r) < 0) {
        reader_failed(v, &sf.err);
        goto out;
    }
    const struct ram_state *rs = pagesrc_ram(&ps);
    seen = calloc(rs->nblocks + 1, sizeof(*seen));
    while (seen && fgets(line, sizeof(line), f)) {
        char *name;
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line) < 35 || line[32] != ' ' || line[33] != ' ') {
            continue;
        }
        line[32] = '\0';
        name = line + 34;
        if (strcmp(name, "@device-state") == 0) {
            dev_seen = true;
            if (strcmp(line, r.devices.hex) != 0) {
                finding(v, SEV_ERROR, FR_NO_OFFSET,
                        "device state does not match its checksum");
            }
            continue;
        }
        long b = ram_find_block(rs, name);
        if (b < 0) {
            finding(v, SEV_ERROR, FR_NO_OFFSET,
                    "ram block '%s' of the manifest is missing", name);
            continue;
        }
        seen[b] = true;
        if (strcmp(line, r.blocks[b].hex) != 0) {
            long ob = ram_find_block(&orig->ram, name);
            finding(v, SEV_ERROR,
                    ob >= 0 ? orig->ram.blocks[ob].list_offset : FR_NO_OFFSET,
                    "ram block '%s' does not match its checksum", name);
        }
    }
    for (size_t i = 0; seen && i < rs->nblocks; i++) {
        if (!seen[i]) {
            long ob = ram_find_block(&orig->ram, rs->blocks[i].name);
            finding(v, SEV_ERROR,
                    ob >= 0 ? orig->ram.blocks[ob].list_offset : FR_NO_OFFSET,
                    "ram block '%s' is not in the manifest",
                    rs->blocks[i].name);
        }
    }
    if (!dev_seen) {
        finding(v, SEV_ERROR, FR_NO_OFFSET,
                "the manifest has no @device-state line");
    }
    digest_result_free(&r);
out:
    free(seen);
    if (dev.state) {
        XXH3_freeState(dev.state);
    }
    pagesrc_close(&ps);
    savefile_close(&sf);
    fclose(f);
}

static int exit_status(const struct verify *v)
{
    if (v->notmig) {
        return FR_EXIT_VERIFY_NOTMIG;
    }
    if (v->incomplete) {
        return FR_EXIT_VERIFY_INCOMPLETE;
    }
    if (v->nerrors) {
        return FR_EXIT_VERIFY_CORRUPT;
    }
    return v->nwarnings ? FR_EXIT_VERIFY_LEAKS : FR_EXIT_OK;
}

static const char *status_name(int status)
{
    switch (status) {
    case FR_EXIT_OK:
        return "clean";
    case FR_EXIT_VERIFY_CORRUPT:
        return "corrupt";
    case FR_EXIT_VERIFY_LEAKS:
        return "warnings";
    case FR_EXIT_VERIFY_NOTMIG:
        return "not-migration-file";
    default:
        return "incomplete";
    }
}

static void report(const struct verify *v, const char *layout, int status)
{
    if (v->output == FR_OUTPUT_JSON) {
        struct fr_json j;
        fr_json_init(&j, stdout);
        fr_json_begin_object(&j, NULL);
        fr_json_string(&j, "file", v->path);
        fr_json_string(&j, "format", layout);
        fr_json_string(&j, "status", status_name(status));
        fr_json_u64(&j, "exit_status", (uint64_t)status);
        fr_json_u64(&j, "errors", v->nerrors);
        fr_json_u64(&j, "warnings", v->nwarnings);
        fr_json_begin_array(&j, "findings");
        for (size_t i = 0; i < v->nf; i++) {
            fr_json_begin_object(&j, NULL);
            fr_json_string(&j, "severity", v->f[i].sev == SEV_ERROR
                                               ? "error" : "warning");
            if (v->f[i].offset == FR_NO_OFFSET) {
                fr_json_null(&j, "offset");
            } else {
                fr_json_u64(&j, "offset", v->f[i].offset);
            }
            fr_json_string(&j, "message", v->f[i].what);
            fr_json_end_object(&j);
        }
        fr_json_end_array(&j);
        fr_json_end_object(&j);
        fr_json_finish(&j);
        return;
    }
    for (size_t i = 0; i < v->nf; i++) {
        printf("%s: %s: ", v->path,
               v->f[i].sev == SEV_ERROR ? "error" : "warning");
        if (v->f[i].offset != FR_NO_OFFSET) {
            printf("offset 0x%" PRIx64 ": ", v->f[i].offset);
        }
        printf("%s\n", v->f[i].what);
    }
    if (v->nerrors + v->nwarnings > v->nf) {
        printf("%s: ... %zu more findings not listed\n", v->path,
               v->nerrors + v->nwarnings - v->nf);
    }
    if (!fr_quiet || status) {
        printf("%s: %s%s%s: %zu errors, %zu warnings\n", v->path,
               layout ? layout : "", layout ? ", " : "", status_name(status),
               v->nerrors, v->nwarnings);
    }
}

static int run_verify(int argc, char **argv)
{
    struct verify v = { .output = FR_OUTPUT_HUMAN };
    struct savefile sf;
    struct sf_summary sum = { 0 };
    struct vm_capture cap = { 0 };
    struct sf_visitor vis = { .opaque = &cap, .vmdesc = capture_vmdesc };
    const char *layout = NULL;
    int status;

    argp_parse(&verify_argp, argc, argv, 0, NULL, &v);
    if (!v.threads) {
        v.threads = fr_default_threads();
    }
    v.f = calloc(MAX_FINDINGS, sizeof(*v.f));
    if (!v.f) {
        fprintf(stderr, "fixedram: out of memory\n");
        return FR_EXIT_VERIFY_INCOMPLETE;
    }
    if (savefile_open(&sf, v.path, v.snapshot) < 0 &&
        sf.err.kind == FR_E_USAGE) {
        /* --snapshot does not fit the file: a bad command line */
        free(v.f);
        savefile_close(&sf);
        return fr_report(&sf.err, v.path);
    }
    if (fr_failed(&sf.err)) {
        reader_failed(&v, &sf.err);
    } else if (savefile_walk(&sf, &sum, &vis) < 0) {
        reader_failed(&v, &sf.err);
        layout = savefile_layout(&sum);
    } else {
        layout = savefile_layout(&sum);
        check_config(&v, &sum);
        check_libvirt(&v, &sf, &sum);
        check_stream(&v, &sf, &sum);
        check_vmdesc(&v, &sf, &sum, cap.json, cap.len);
        if (sum.ram.mapped_ram) {
            if (v.bypass_cache) {
                fr_src_bypass_cache(&sf.file, v.path);
            }
            check_mapped(&v, &sum);
            /* stale pages lie between present ones: after the deep read,
             * its readahead has brought most of them in (a cold 2 GiB
             * image: 5,000 reads of 4 KiB, 150 ms, saved) */
            if (v.deep) {
                deep_read(&v, &sf, &sum);
            }
            check_stale(&v, &sf, &sum);
        }
        if (v.checksums) {
            check_checksums(&v, &sum);
        }
    }
    status = exit_status(&v);
    report(&v, layout, status);
    free(cap.json);
    free(v.f);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    return status;
}

const struct fr_cmd fr_cmd_verify = {
    .name = "verify",
    .summary = "check a save file; exit status as qemu-img check",
    .run = run_verify,
};
