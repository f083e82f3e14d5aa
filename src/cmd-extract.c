/*
 * fixedram extract: one raw file per RAMBlock, exactly the block's length,
 * sparse where the guest page is zero or absent; or, with --physical, one
 * file of guest-physical memory (physmap.h).
 *
 * Either way each block's bytes go to pieces of a file (struct outputs).
 * A classic stream is read once, its records placed straight into the
 * files (place.h): they are the only copy of guest RAM ever made.  An
 * image is copied range by range, by --threads workers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "exit.h"
#include "lookahead.h"
#include "pagesrc.h"
#include "parallel.h"
#include "physmap.h"
#include "place.h"
#include "progress.h"
#include "sink.h"

#define CHUNK_PAGES 256
#define MAX_SELECT 256

struct extract_args {
    const char *path;
    const char *snapshot;
    const char *dir;
    const char *physical;
    uint64_t max_below_4g;
    const char *blocks[MAX_SELECT];
    size_t nblocks;
    bool force, no_sync, bypass_cache, progress;
    int threads;
};

enum {
    OPT_NO_SYNC = 0x100,
    OPT_THREADS,
    OPT_BYPASS_CACHE,
    OPT_PHYSICAL,
    OPT_BELOW_4G,
};

static const struct argp_option options[] = {
    { "output-dir", 'o', "DIR", 0,
      "Write the files into DIR (created with its parents if missing)", 0 },
    { "block", 'b', "NAME", 0,
      "Extract only this RAMBlock (repeatable; default: all)", 0 },
    { "physical", OPT_PHYSICAL, "OUTPUT", 0,
      "Instead, write guest-physical memory to OUTPUT: byte N is the guest's "
      "RAM at address N, holes where the guest has none (x86 pc and q35, "
      "arm virt, pseries, s390-ccw-virtio)", 0 },
    FR_BELOW_4G_OPTION(OPT_BELOW_4G),
    { "force", 'f', NULL, 0, "Overwrite existing files", 0 },
    { "progress", 'p', NULL, 0, "Show progress on standard error", 0 },
    { "no-sync", OPT_NO_SYNC, NULL, 0,
      "Do not fsync the files before renaming them into place (faster; a "
      "system crash soon after can leave them empty or partial)", 0 },
    { "threads", OPT_THREADS, "N", 0,
      "Threads (default: the number of CPUs, at most 8): an image's pages "
      "are copied by N threads; from 2, a stream's pages are written from a "
      "thread of its own, and a stream file is read ahead from another to "
      "write each resent page once; the files are the same for any N", 0 },
    { "bypass-cache", OPT_BYPASS_CACHE, NULL, 0, FR_BYPASS_CACHE_HELP, 0 },
    { "quiet", 'q', NULL, 0, "Do not list the files on standard output",
      0 },
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct extract_args *a = state->input;

    switch (key) {
    case 'l':
        a->snapshot = arg;
        return 0;
    case 'q':
        fr_quiet = true;
        return 0;
    case 'o':
        a->dir = arg;
        return 0;
    case 'b':
        if (a->nblocks == MAX_SELECT) {
            argp_error(state, "too many --block options");
        }
        a->blocks[a->nblocks++] = arg;
        return 0;
    case 'f':
        a->force = true;
        return 0;
    case 'p':
        a->progress = true;
        return 0;
    case OPT_NO_SYNC:
        a->no_sync = true;
        return 0;
    case OPT_THREADS:
        a->threads = fr_parse_threads(state, arg);
        return 0;
    case OPT_BYPASS_CACHE:
        a->bypass_cache = true;
        return 0;
    case OPT_PHYSICAL:
        a->physical = arg;
        return 0;
    case OPT_BELOW_4G:
        a->max_below_4g = fr_parse_size(state, arg);
        return 0;
    case ARGP_KEY_ARG:
        if (a->path) {
            argp_error(state, "too many arguments");
        }
        a->path = arg;
        return 0;
    case ARGP_KEY_END:
        if (!a->path) {
            argp_error(state, "no input file given");
        }
        if (!a->dir == !a->physical) {
            argp_error(state, "give one of --output-dir and --physical");
        }
        if (a->physical && a->nblocks) {
            argp_error(state, "--block does not go with --physical");
        }
        if (a->max_below_4g && !a->physical) {
            argp_error(state, "--max-ram-below-4g goes with --physical");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp extract_argp = {
    options, parse_opt, "--output-dir=DIR FILE\n--physical=OUTPUT FILE",
    "Write the guest RAM of each RAMBlock of FILE (any layout, '-' for "
    "standard input) to its own raw file in DIR: exactly the block's "
    "length, the final content of every page (resent and XBZRLE pages "
    "resolved), sparse where pages are zero or absent (a page zeroed "
    "after it was sent is written as zeros).  File names are "
    "the block names with every character outside [A-Za-z0-9._-] replaced "
    "by '_', made unique with a numeric suffix; the mapping is printed on "
    "standard output, one line per block: FILE<TAB>BLOCK<TAB>LENGTH."
    "\v"
    "With --physical, the machine's RAM blocks (pc.ram, mach-virt.ram, ..., "
    "or libvirt's NUMA blocks ram-node0, ram-node1, ...) are placed where "
    "QEMU maps them for the machine type and RAM size, which is what "
    "pmemsave and memory forensics tools see; on x86 the RAM beneath the "
    "legacy video and ROM windows (640 KiB to 1 MiB) is kept.  Other "
    "blocks (firmware, video memory, hotplugged memory) are left out.  "
    "The map is printed on standard output, one line per piece: "
    "ADDRESS<TAB>LENGTH<TAB>BLOCK<TAB>OFFSET.\n\n"
    "Exit status: 0 success, 1 failure, 64 bad command line.",
    NULL, NULL, NULL
};

/* BLOCK's file name in OUT: safe for a path, unique among USED. */
static void safe_name(const char *block, char used[][300], size_t nused,
                      char *out, size_t size)
{
    char base[260];
    size_t i;

    for (i = 0; block[i] && i < sizeof(base) - 1; i++) {
        char c = block[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        base[i] = ok ? c : '_';
    }
    base[i] = '\0';
    if (base[0] == '.' || base[0] == '\0') {
        base[0] = base[0] ? '_' : 'b';
    }
    snprintf(out, size, "%s", base);
    for (unsigned n = 2;; n++) {
        bool clash = false;
        for (size_t k = 0; k < nused; k++) {
            clash |= strcmp(used[k], out) == 0;
        }
        if (!clash) {
            return;
        }
        snprintf(out, size, "%s.%u", base, n);
    }
}

/* mkdir -p DIR */
static int make_dirs(const char *dir)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0777) < 0 && errno != EEXIST) {
                return -1;
            }
            *p = c;
            if (!c) {
                return 0;
            }
        }
    }
}

/* The files being written: one per wanted block, or the --physical one;
 * PLACE says where each block's bytes go in them. */
struct outputs {
    const struct extract_args *a;
    size_t nfiles;
    struct fr_sink *sink;
    struct fr_err *err;
    char (*name)[300];          /* as listed: unique among blocks */
    char (*path)[4096];         /* "": no file */
    uint64_t *length;
    bool *open;                 /* to commit or abort */
    size_t *file;               /* per block: its file, or SIZE_MAX */
    struct physmap place;       /* pieces of blocks, at file offsets */
};

/* Open file F at PATH, to be its LENGTH bytes long.  Returns 0, or -1
 * with the error in its err. */
static int open_file(struct outputs *o, size_t f, const char *path,
                     const struct stat *input)
{
    struct fr_sink *k = &o->sink[f];

    if (fr_sink_open(k, path, o->a->force, &o->err[f]) < 0) {
        fr_sink_abort(k);
        return -1;
    }
    o->open[f] = true;
    fr_sink_inherit_mode(k, input);
    k->durable = !o->a->no_sync;
    fr_sink_size_hint(k, o->length[f]);
    return 0;
}

/* Per-block files: each wanted block whole, at offset 0 of its own. */
static int open_block_files(struct outputs *o, const struct ram_state *rs,
                            const struct stat *input, struct fr_err *err)
{
    const struct extract_args *a = o->a;

    o->place.piece = calloc(rs->nblocks + 1, sizeof(*o->place.piece));
    if (!o->place.piece) {
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    for (size_t i = 0; i < a->nblocks; i++) {
        if (ram_find_block(rs, a->blocks[i]) < 0) {
            return fr_fail(err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                           "no ram block '%s'", a->blocks[i]);
        }
    }
    if (make_dirs(a->dir) < 0) {
        return fr_fail_sys(err, errno, FR_NO_OFFSET,
                           "cannot create directory %s", a->dir);
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        bool want = a->nblocks == 0;
        for (size_t j = 0; j < a->nblocks; j++) {
            want |= strcmp(a->blocks[j], b->name) == 0;
        }
        safe_name(b->name, o->name, i, o->name[i], sizeof(o->name[i]));
        if (!want) {
            continue;
        }
        snprintf(o->path[i], sizeof(o->path[i]), "%s/%s", a->dir,
                 o->name[i]);
        o->length[i] = b->length;
        o->file[i] = i;
        o->place.piece[o->place.n++] =
            (struct physmap_piece){ i, 0, 0, b->length };
        if (open_file(o, i, o->path[i], input) < 0) {
            return -1;
        }
    }
    return 0;
}

/* --physical: the machine's RAM blocks, where the guest sees them. */
static int open_physical(struct outputs *o, const struct sv_config *cfg,
                         const struct ram_state *rs,
                         const struct stat *input, struct fr_err *err)
{
    const struct extract_args *a = o->a;

    if (physmap_build(&o->place, cfg, rs, a->max_below_4g, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < o->place.n; i++) {
        o->file[o->place.piece[i].block] = 0;
    }
    snprintf(o->name[0], sizeof(o->name[0]), "%s", a->physical);
    snprintf(o->path[0], sizeof(o->path[0]), "%s", a->physical);
    o->length[0] = o->place.end;
    return open_file(o, 0, a->physical, input);
}

/* Name and open the files for the blocks of RS.  Returns 0, or -1 with
 * the error in ERR (a missing --block, an unknown layout) or in an
 * output's err. */
static int outputs_open(struct outputs *o, const struct extract_args *a,
                        const struct sv_config *cfg,
                        const struct ram_state *rs, const struct stat *input,
                        struct fr_err *err)
{
    size_t n = rs->nblocks + 1;

    o->a = a;
    o->nfiles = a->physical ? 1 : rs->nblocks;
    o->sink = calloc(n, sizeof(*o->sink));
    o->err = calloc(n, sizeof(*o->err));
    o->name = calloc(n, sizeof(*o->name));
    o->path = calloc(n, sizeof(*o->path));
    o->length = calloc(n, sizeof(*o->length));
    o->open = calloc(n, sizeof(*o->open));
    o->file = malloc(n * sizeof(*o->file));
    if (!o->sink || !o->err || !o->name || !o->path || !o->length ||
        !o->open || !o->file) {
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        o->sink[i].fd = -1;
        o->file[i] = SIZE_MAX;
    }
    return a->physical ? open_physical(o, cfg, rs, input, err)
                       : open_block_files(o, rs, input, err);
}

/* BLOCK's file, or NULL when it is not extracted. */
static struct fr_sink *sink_of(struct outputs *o, size_t block)
{
    return o->file[block] == SIZE_MAX ? NULL : &o->sink[o->file[block]];
}

/* Give every file its length and put them in place, all written and
 * synced before the first is renamed; end PROG; print the mapping. */
static int outputs_commit(struct outputs *o, const struct ram_state *rs,
                          struct fr_progress *prog)
{
    for (size_t i = 0; i < o->nfiles; i++) {
        if (o->open[i] && (fr_sink_skip_to(&o->sink[i], o->length[i]) < 0 ||
                           fr_sink_prepare(&o->sink[i]) < 0)) {
            return -1;
        }
    }
    for (size_t i = 0; i < o->nfiles; i++) {
        if (o->open[i] && fr_sink_commit(&o->sink[i]) < 0) {
            o->open[i] = false;
            return -1;
        }
        o->open[i] = false;     /* done: nothing to abort */
    }
    fr_progress_done(prog);
    for (size_t i = 0; !fr_quiet && i < o->place.n; i++) {
        const struct physmap_piece *p = &o->place.piece[i];
        const char *block = rs->blocks[p->block].name;
        if (o->a->physical) {
            printf("0x%016llx\t%llu\t%s\t0x%llx\n",
                   (unsigned long long)p->addr, (unsigned long long)p->len,
                   block, (unsigned long long)p->offset);
        } else {
            printf("%s\t%s\t%llu\n", o->name[p->block], block,
                   (unsigned long long)p->len);
        }
    }
    for (size_t i = 0; !fr_quiet && i < rs->nblocks; i++) {
        uint64_t present, zero, absent;
        ram_block_counts(rs, &rs->blocks[i], &present, &zero, &absent);
        if (o->file[i] != SIZE_MAX && absent &&
            absent == rs->blocks[i].npages) {
            /* zeros that are not the guest's: say so */
            fprintf(stderr, "fixedram: %s: note: block '%s' has no pages in "
                    "the file (x-ignore-shared: they stay in shared "
                    "memory); %s holds zeros for it\n", o->a->path,
                    rs->blocks[i].name, o->name[o->file[i]]);
        }
    }
    return 0;
}

/* Report the first output error, if any.  Returns the exit status, or -1
 * when no output failed. */
static int outputs_report(const struct outputs *o)
{
    for (size_t i = 0; i < o->nfiles; i++) {
        if (o->err && fr_failed(&o->err[i])) {
            return fr_report(&o->err[i], o->path[i]);
        }
    }
    return -1;
}

static void outputs_close(struct outputs *o)
{
    for (size_t i = 0; o->open && i < o->nfiles; i++) {
        if (o->open[i]) {
            fr_sink_abort(&o->sink[i]);
        }
    }
    free(o->sink);
    free(o->err);
    free(o->name);
    free(o->path);
    free(o->length);
    free(o->open);
    free(o->file);
    physmap_free(&o->place);
}

/* ---- classic streams: place the records as they come ---------------- */

struct from_stream {
    struct outputs out;
    struct placer pl;
    struct lookahead *la;
    const struct extract_args *a;
    const struct sv_config *cfg;
    struct savefile *sf;
    struct fr_progress *prog;
};

static int stream_blocks(void *opaque, struct ram_state *rs)
{
    struct from_stream *x = opaque;
    const struct physmap *place = &x->out.place;

    if (outputs_open(&x->out, x->a, x->cfg, rs, &x->sf->st, &x->sf->err) <
            0 ||
        placer_init(&x->pl, rs, &x->sf->err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        x->pl.sink[i] = sink_of(&x->out, i);
    }
    /* a block's first piece sets its base, a second one its split
     * (offsets wrap around: only the sums count) */
    for (size_t i = 0; i < place->n; i++) {
        const struct physmap_piece *p = &place->piece[i];
        if (i > 0 && place->piece[i - 1].block == p->block) {
            x->pl.split[p->block] = p->offset / rs->page_size;
            x->pl.split_base[p->block] = p->addr - p->offset;
        } else {
            x->pl.base[p->block] = p->addr - p->offset;
        }
    }
    x->pl.la = x->la;
    if (x->a->threads > 1) {
        placer_start_writer(&x->pl);
    }
    return 0;
}

static int stream_record(void *opaque, struct ram_state *rs,
                         const struct ram_record *rec)
{
    struct from_stream *x = opaque;

    savefile_progress(x->sf, rs, x->prog);
    return placer_record(&x->pl, rec);
}

static int extract_stream(struct savefile *sf, const struct extract_args *a,
                          const struct sv_config *cfg,
                          struct fr_progress *prog)
{
    struct from_stream x = { .a = a, .cfg = cfg, .sf = sf, .prog = prog };
    struct sf_summary sum;
    const struct sf_visitor v = {
        .ram = { .opaque = &x, .blocks = stream_blocks,
                 .record = stream_record },
    };
    int ret = FR_EXIT_OK;

    /* a thread of its own: with one, pages are placed as they come */
    x.la = a->threads > 1 ? lookahead_start(sf, LOOKAHEAD_MAX_SLOTS) : NULL;
    if (savefile_walk(sf, &sum, &v) < 0 || placer_flush(&x.pl) < 0 ||
        (!sum.have_ram && fr_fail(&sf->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                                  "the stream has no ram section") < 0) ||
        outputs_commit(&x.out, &sum.ram, prog) < 0) {
        ret = outputs_report(&x.out);
        if (ret < 0) {
            ret = fr_report(&sf->err, a->path);
        }
    }
    placer_free(&x.pl);
    lookahead_free(x.la);
    outputs_close(&x.out);
    savefile_summary_free(&sum);
    return ret;
}

/* ---- images: copy range by range ------------------------------------ */

struct from_image {
    struct pagesrc *ps;
    struct outputs *out;
    const struct physmap_piece *piece;  /* being copied */
    uint8_t **buf;              /* per worker */
    struct fr_progress *prog;   /* shown by worker 0 */
    uint64_t done, total;       /* pages, of the blocks extracted */
};

/* Copy pages [FIRST, FIRST+COUNT) of the piece, leaving zero pages out. */
static int copy_range(void *ctx, int worker, uint64_t first, uint64_t count)
{
    struct from_image *x = ctx;
    const struct physmap_piece *p = x->piece;
    uint64_t page0 = p->offset / pagesrc_ram(x->ps)->page_size;

    if (pagesrc_copy_data(x->ps, p->block, page0 + first, count,
                          x->buf[worker], CHUNK_PAGES,
                          sink_of(x->out, p->block), p->addr - p->offset,
                          NULL, NULL) < 0) {
        return -1;
    }
    uint64_t done = __atomic_add_fetch(&x->done, count, __ATOMIC_RELAXED);
    if (worker == 0) {
        fr_progress_update(x->prog, done, x->total);
    }
    return 0;
}

static int extract_image(struct savefile *sf, const struct extract_args *a,
                         const struct sv_config *cfg,
                         struct fr_progress *prog)
{
    struct pagesrc ps;
    struct outputs out = { 0 };
    uint8_t *bufs[256] = { 0 };
    struct from_image x = { .ps = &ps, .out = &out, .buf = bufs,
                            .prog = prog };
    int ret = FR_EXIT_FAIL;

    if (pagesrc_open(&ps, sf, NULL) < 0) {
        ret = fr_report(&sf->err, a->path);
        goto done;
    }
    const struct ram_state *rs = pagesrc_ram(&ps);
    if (outputs_open(&out, a, cfg, rs, &sf->st, &sf->err) < 0) {
        goto report;
    }
    if (fr_parallel_bufs(bufs, a->threads,
                         (size_t)CHUNK_PAGES * rs->page_size) < 0) {
        fr_fail(&sf->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto report;
    }
    for (size_t i = 0; i < out.place.n; i++) {
        const struct physmap_piece *p = &out.place.piece[i];
        x.total += rs->blocks[p->block].mr_no_data ? 0
                                                   : p->len / rs->page_size;
    }
    for (size_t i = 0; i < out.place.n; i++) {
        x.piece = &out.place.piece[i];
        if (!rs->blocks[x.piece->block].mr_no_data &&
            fr_parallel(x.piece->len / rs->page_size, CHUNK_PAGES,
                        a->threads, copy_range, &x) < 0) {
            goto report;
        }
    }
    if (outputs_commit(&out, rs, prog) == 0) {
        ret = FR_EXIT_OK;
        goto done;
    }
report:
    ret = outputs_report(&out);
    if (ret < 0) {
        ret = fr_report(&sf->err, a->path);
    }
done:
    fr_parallel_bufs_free(bufs, a->threads);
    outputs_close(&out);
    pagesrc_close(&ps);
    return ret;
}

static int run_extract(int argc, char **argv)
{
    struct extract_args a = { 0 };
    struct savefile sf;
    struct sv_config cfg;
    struct fr_progress prog;
    int ret;

    argp_parse(&extract_argp, argc, argv, 0, NULL, &a);
    if (!a.threads) {
        a.threads = fr_default_threads();
    }
    if (savefile_open(&sf, a.path, a.snapshot) == 0) {
        fr_sink_protect(&sf.st);
    }
    fr_progress_init(&prog, a.progress && !fr_quiet);
    if (fr_failed(&sf.err) || savefile_peek_config(&sf, &cfg) < 0) {
        ret = fr_report(&sf.err, a.path);
    } else if (sv_has_cap(&cfg, "mapped-ram")) {
        if (a.bypass_cache) {
            fr_src_bypass_cache(&sf.file, a.path);
        }
        ret = extract_image(&sf, &a, &cfg, &prog);
    } else {
        ret = extract_stream(&sf, &a, &cfg, &prog);
    }
    savefile_close(&sf);
    return ret;
}

const struct fr_cmd fr_cmd_extract = {
    .name = "extract",
    .summary = "write the guest RAM of each RAMBlock to a raw file",
    .run = run_extract,
};
