/*
 * fixedram extract: one raw file per RAMBlock, exactly the block's length,
 * sparse where the guest page is zero or absent.
 *
 * A classic stream is read once, its records placed straight into the
 * block files (place.h): they are the only copy of guest RAM ever made.
 * An image is copied range by range, by --threads workers.
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
#include "place.h"
#include "progress.h"
#include "sink.h"

#define CHUNK_PAGES 256
#define MAX_SELECT 256

struct extract_args {
    const char *path;
    const char *snapshot;
    const char *dir;
    const char *blocks[MAX_SELECT];
    size_t nblocks;
    bool force, no_sync, bypass_cache, progress;
    int threads;
};

enum { OPT_NO_SYNC = 0x100, OPT_THREADS, OPT_BYPASS_CACHE };

static const struct argp_option options[] = {
    { "output-dir", 'o', "DIR", 0,
      "Write the files into DIR (created with its parents if missing; "
      "required)", 0 },
    { "block", 'b', "NAME", 0,
      "Extract only this RAMBlock (repeatable; default: all)", 0 },
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
        if (!a->dir) {
            argp_error(state, "--output-dir is required");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp extract_argp = {
    options, parse_opt, "--output-dir=DIR FILE",
    "Write the guest RAM of each RAMBlock of FILE (any layout, '-' for "
    "standard input) to its own raw file in DIR: exactly the block's "
    "length, the final content of every page (resent and XBZRLE pages "
    "resolved), sparse where pages are zero or absent (a page zeroed "
    "after it was sent is written as zeros).  File names are "
    "the block names with every character outside [A-Za-z0-9._-] replaced "
    "by '_', made unique with a numeric suffix; the mapping is printed on "
    "standard output, one line per block: FILE<TAB>BLOCK<TAB>LENGTH."
    "\v"
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

/* The files being written, one per wanted block (name NULL: not wanted). */
struct outputs {
    const struct extract_args *a;
    size_t n;
    struct fr_sink *sink;
    struct fr_err *err;
    char (*name)[300];          /* file names, unique */
    char (*path)[4096];
    bool *want;
};

/* Name every block's file, open those wanted.  Returns 0, or -1 with the
 * error in ERR (a missing --block) or in an output's err. */
static int outputs_open(struct outputs *o, const struct extract_args *a,
                        const struct ram_state *rs, const struct stat *input,
                        struct fr_err *err)
{
    o->a = a;
    o->n = rs->nblocks;
    o->sink = calloc(o->n + 1, sizeof(*o->sink));
    o->err = calloc(o->n + 1, sizeof(*o->err));
    o->name = calloc(o->n + 1, sizeof(*o->name));
    o->path = calloc(o->n + 1, sizeof(*o->path));
    o->want = calloc(o->n + 1, sizeof(*o->want));
    if (!o->sink || !o->err || !o->name || !o->path || !o->want) {
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
    for (size_t i = 0; i < o->n; i++) {
        const struct ram_block *b = &rs->blocks[i];
        o->want[i] = a->nblocks == 0;
        for (size_t j = 0; j < a->nblocks; j++) {
            o->want[i] |= strcmp(a->blocks[j], b->name) == 0;
        }
        safe_name(b->name, o->name, i, o->name[i], sizeof(o->name[i]));
        if (!o->want[i]) {
            continue;
        }
        snprintf(o->path[i], sizeof(o->path[i]), "%s/%s", a->dir,
                 o->name[i]);
        o->sink[i].fd = -1;
        if (fr_sink_open(&o->sink[i], o->path[i], a->force, &o->err[i]) <
            0) {
            o->want[i] = false;
            fr_sink_abort(&o->sink[i]);
            return -1;
        }
        fr_sink_inherit_mode(&o->sink[i], input);
        o->sink[i].durable = !a->no_sync;
        fr_sink_size_hint(&o->sink[i], b->npages * rs->page_size);
    }
    return 0;
}

/* Give every file its length and put them in place, all written and
 * synced before the first is renamed; end PROG; print the mapping. */
static int outputs_commit(struct outputs *o, const struct ram_state *rs,
                          struct fr_progress *prog)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->want[i] &&
            (fr_sink_skip_to(&o->sink[i], rs->blocks[i].length) < 0 ||
             fr_sink_prepare(&o->sink[i]) < 0)) {
            o->want[i] = false;
            return -1;
        }
    }
    for (size_t i = 0; i < o->n; i++) {
        if (o->want[i] && fr_sink_commit(&o->sink[i]) < 0) {
            o->want[i] = false;
            return -1;
        }
        o->want[i] = false;     /* done: nothing to abort */
    }
    fr_progress_done(prog);
    for (size_t i = 0; !fr_quiet && i < o->n; i++) {
        if (o->path[i][0]) {
            printf("%s\t%s\t%llu\n", o->name[i], rs->blocks[i].name,
                   (unsigned long long)rs->blocks[i].length);
        }
    }
    for (size_t i = 0; !fr_quiet && i < o->n; i++) {
        uint64_t present, zero, absent;
        ram_block_counts(rs, &rs->blocks[i], &present, &zero, &absent);
        if (o->path[i][0] && absent && absent == rs->blocks[i].npages) {
            /* zeros that are not the guest's: say so */
            fprintf(stderr, "fixedram: %s: note: block '%s' has no pages in "
                    "the file (x-ignore-shared: they stay in shared "
                    "memory); %s holds zeros\n", o->a->path,
                    rs->blocks[i].name, o->name[i]);
        }
    }
    return 0;
}

/* Report the first output error, if any.  Returns the exit status, or -1
 * when no output failed. */
static int outputs_report(const struct outputs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->err && fr_failed(&o->err[i])) {
            return fr_report(&o->err[i], o->path[i]);
        }
    }
    return -1;
}

static void outputs_close(struct outputs *o)
{
    for (size_t i = 0; o->want && i < o->n; i++) {
        if (o->want[i]) {
            fr_sink_abort(&o->sink[i]);
        }
    }
    free(o->sink);
    free(o->err);
    free(o->name);
    free(o->path);
    free(o->want);
}

/* ---- classic streams: place the records as they come ---------------- */

struct from_stream {
    struct outputs out;
    struct placer pl;
    struct lookahead *la;
    const struct extract_args *a;
    struct savefile *sf;
    struct fr_progress *prog;
};

static int stream_blocks(void *opaque, struct ram_state *rs)
{
    struct from_stream *x = opaque;

    if (outputs_open(&x->out, x->a, rs, &x->sf->st, &x->sf->err) < 0 ||
        placer_init(&x->pl, rs, &x->sf->err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        x->pl.sink[i] = x->out.want[i] ? &x->out.sink[i] : NULL;
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
                          struct fr_progress *prog)
{
    struct from_stream x = { .a = a, .sf = sf, .prog = prog };
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
    size_t block;
    uint8_t **buf;              /* per worker */
    struct fr_progress *prog;   /* shown by worker 0 */
    uint64_t done, total;       /* pages, of the blocks extracted */
};

/* Copy pages [FIRST, FIRST+COUNT) of the block, leaving zero pages out. */
static int copy_range(void *ctx, int worker, uint64_t first, uint64_t count)
{
    struct from_image *x = ctx;

    if (pagesrc_copy_data(x->ps, x->block, first, count, x->buf[worker],
                          CHUNK_PAGES, &x->out->sink[x->block], 0, NULL,
                          NULL) < 0) {
        return -1;
    }
    uint64_t done = __atomic_add_fetch(&x->done, count, __ATOMIC_RELAXED);
    if (worker == 0) {
        fr_progress_update(x->prog, done, x->total);
    }
    return 0;
}

static int extract_image(struct savefile *sf, const struct extract_args *a,
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
    if (outputs_open(&out, a, rs, &sf->st, &sf->err) < 0) {
        goto report;
    }
    if (fr_parallel_bufs(bufs, a->threads,
                         (size_t)CHUNK_PAGES * rs->page_size) < 0) {
        fr_fail(&sf->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto report;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        x.total += out.want[i] && !rs->blocks[i].mr_no_data
                       ? rs->blocks[i].npages
                       : 0;
    }
    for (x.block = 0; x.block < rs->nblocks; x.block++) {
        const struct ram_block *b = &rs->blocks[x.block];
        if (out.want[x.block] && !b->mr_no_data &&
            fr_parallel(b->npages, CHUNK_PAGES, a->threads, copy_range,
                        &x) < 0) {
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
        ret = extract_image(&sf, &a, &prog);
    } else {
        ret = extract_stream(&sf, &a, &prog);
    }
    savefile_close(&sf);
    return ret;
}

const struct fr_cmd fr_cmd_extract = {
    .name = "extract",
    .summary = "write the guest RAM of each RAMBlock to a raw file",
    .run = run_extract,
};
