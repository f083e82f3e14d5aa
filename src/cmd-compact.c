/*
 * fixedram compact: drop what a restore never uses.
 *
 * A classic stream keeps only the last copy of each page (XBZRLE resolved,
 * ZERO records for all-zero pages, as QEMU sends them): read twice
 * (compact.h), or from a pipe through a temporary mapped-ram image and
 * back.  A mapped-ram image file loses the data under cleared bitmap bits
 * and its all-zero pages: it keeps its layout and only the pages with data
 * are copied (compact.h); with --in-place, the new bitmap is made durable
 * first and only then are holes punched, so that a crash at any point
 * leaves a valid image.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "compact.h"
#include "convert.h"
#include "exit.h"
#include "output.h"
#include "pagesrc.h"

struct compact_args {
    const char *input, *output;
    const char *snapshot;
    bool force, in_place, progress, quiet, no_sync, bypass_cache;
    int threads;
};

enum { OPT_NO_SYNC = 0x100, OPT_THREADS, OPT_BYPASS_CACHE };

static const struct argp_option options[] = {
    { "force", 'f', NULL, 0, "Overwrite OUTPUT if it exists", 0 },
    { "in-place", 'i', NULL, 0,
      "Compact a mapped-ram image in place (hole punching only)", 0 },
    { "progress", 'p', NULL, 0, "Show progress on standard error", 0 },
    { "quiet", 'q', NULL, 0, "Print nothing but errors", 0 },
    { "no-sync", OPT_NO_SYNC, NULL, 0,
      "Do not fsync OUTPUT before renaming it into place (faster; a system "
      "crash soon after can leave it empty or partial)", 0 },
    { "threads", OPT_THREADS, "N", 0,
      "Threads (default: the number of CPUs, at most 8): they read an "
      "image's pages; from 2, a stream's output is written behind; zstd "
      "output uses N workers; the output is the same for any N", 0 },
    { "bypass-cache", OPT_BYPASS_CACHE, NULL, 0, FR_BYPASS_CACHE_HELP, 0 },
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct compact_args *a = state->input;

    switch (key) {
    case 'l':
        a->snapshot = arg;
        return 0;
    case 'f':
        a->force = true;
        return 0;
    case 'i':
        a->in_place = true;
        return 0;
    case 'p':
        a->progress = true;
        return 0;
    case 'q':
        a->quiet = true;
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
        if (!a->input) {
            a->input = arg;
        } else if (!a->output) {
            a->output = arg;
        } else {
            argp_error(state, "too many arguments");
        }
        return 0;
    case ARGP_KEY_END:
        if (!a->input) {
            argp_error(state, "no input file given");
        }
        if (a->in_place == (a->output != NULL)) {
            argp_error(state, a->in_place
                                  ? "--in-place takes no OUTPUT"
                                  : "expected INPUT OUTPUT (or --in-place)");
        }
        if (a->in_place && strcmp(a->input, "-") == 0) {
            argp_error(state, "--in-place needs a file");
        }
        if (a->in_place && a->no_sync) {
            argp_error(state, "--in-place always syncs: its safety rests "
                       "on the new bitmap being durable before any hole");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp compact_argp = {
    options, parse_opt, "INPUT OUTPUT\n--in-place IMAGE",
    "Drop what a restore never uses, keeping the layout.  A classic stream "
    "keeps only the last copy of each page (XBZRLE pages resolved to full "
    "pages, all-zero pages as ZERO records, as QEMU sends them); device "
    "state and the libvirt header stay as they are.  A mapped-ram image "
    "loses the data left under cleared bitmap bits and its all-zero pages "
    "(their bits are cleared, as QEMU does), and is trimmed to holes.  "
    "Reports the bytes and allocated blocks saved.  Compacting a compacted "
    "file changes nothing."
    "\v"
    "--in-place rewrites only the bitmaps of the image, makes them durable "
    "(fsync), and then punches holes: a crash at any point leaves a valid "
    "image.  Without it, OUTPUT appears only when complete.\n\n"
    "Exit status: 0 success, 1 failure, 64 bad command line.",
    NULL, NULL, NULL
};

/* Convert the stream IN into a temporary image, and open that. */
static int through_temp(struct savefile *in, struct savefile *tmp,
                        const struct convert_opts *o)
{
    struct fr_sink k;
    struct fr_err err = { 0 };
    struct convert_opts io = *o;

    io.internal = true;         /* our own temporary file */
    if (fr_sink_open_scratch(&k, &err) < 0 ||
        convert_stream_to_image(in, &k, &io) < 0 ||
        fr_sink_commit(&k) < 0) {
        fr_sink_abort(&k);
        if (!fr_failed(&in->err)) {
            in->err = err;
        }
        return -1;
    }
    if (savefile_open_fd(tmp, k.fd, "temporary file") < 0) {
        in->err = tmp->err;
        return -1;
    }
    return 0;
}

static void report_sizes(const char *what, const struct stat *a,
                         const struct stat *b)
{
    char s1[32], s2[32], s3[32], s4[32], s5[32];
    int64_t saved = ((int64_t)a->st_blocks - (int64_t)b->st_blocks) * 512;

    if (!S_ISREG(a->st_mode)) {         /* read from a pipe */
        printf("%s: %s, allocated %s\n", what,
               fr_human_size((uint64_t)b->st_size, s2, sizeof(s2)),
               fr_human_size((uint64_t)b->st_blocks * 512, s4, sizeof(s4)));
        return;
    }

    printf("%s: %s -> %s, allocated %s -> %s: %s%s saved\n", what,
           fr_human_size((uint64_t)a->st_size, s1, sizeof(s1)),
           fr_human_size((uint64_t)b->st_size, s2, sizeof(s2)),
           fr_human_size((uint64_t)a->st_blocks * 512, s3, sizeof(s3)),
           fr_human_size((uint64_t)b->st_blocks * 512, s4, sizeof(s4)),
           saved < 0 ? "-" : "",
           fr_human_size((uint64_t)(saved < 0 ? -saved : saved), s5,
                         sizeof(s5)));
}

static int compact_copy(struct compact_args *a)
{
    struct savefile in, tmp;
    struct fr_sink out;
    struct fr_err out_err = { 0 };
    struct fr_progress prog;
    struct convert_opts o = { .progress = &prog, .threads = a->threads };
    bool mapped;
    struct stat st_out;
    int ret;

    memset(&tmp, 0, sizeof(tmp));
    tmp.fd = -1;
    if (savefile_open(&in, a->input, a->snapshot) < 0) {
        ret = fr_report(&in.err, a->input);
        savefile_close(&in);
        return ret;
    }
    if (a->bypass_cache) {
        fr_src_bypass_cache(&in.file, a->input);
    }
    fr_sink_protect(&in.st);
    if (fr_sink_open(&out, a->output, a->force, &out_err) < 0) {
        ret = fr_report(&out_err, a->output);
        fr_sink_abort(&out);
        savefile_close(&in);
        return ret;
    }
    fr_sink_inherit_mode(&out, &in.st);
    out.durable = !a->no_sync;
    if (a->threads > 1) {
        fr_sink_write_behind(&out);
    }
    if (in.st.st_size > 0) {
        /* about the input's size (more with XBZRLE pages decoded) */
        fr_sink_size_hint(&out, (uint64_t)in.st.st_size);
    }
    fr_progress_init(&prog, a->progress && !a->quiet && !fr_quiet);
    /* keep a zstd-compressed stream compressed */
    o.zstd = in.compression && strcmp(in.compression, "zstd") == 0;
    o.zstd_level = 3;
    /* a stream goes to an image and back, an image to a stream and back */
    struct sv_config cfg;
    ret = savefile_peek_config(&in, &cfg);
    mapped = sv_has_cap(&cfg, "mapped-ram");
    if (ret == 0 && !mapped && strcmp(a->input, "-") != 0) {
        /* two passes over the file, no temporary image */
        ret = compact_stream(&in, a->input, &out, &o);
        goto done;
    }
    if (ret == 0 && mapped && in.src == &in.file && in.file.seekable) {
        /* the same layout, fewer pages */
        ret = compact_image(&in, &out, a->threads, &prog);
        goto done;
    }
    if (ret == 0 && mapped) {
        /* its pages are read at their offsets */
        ret = fr_fail(&in.err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                      "compacting a mapped-ram image needs a seekable, "
                      "uncompressed file, not a pipe");
    }
    if (ret == 0 && sv_has_cap(&cfg, "x-ignore-shared")) {
        /* through the other layout, the pages of its shared blocks
         * would come back as ZERO records */
        ret = fr_fail(&in.err, FR_E_UNSUPPORTED, in.stream_offset,
                      "compacting x-ignore-shared streams from a pipe is "
                      "not supported");
    }
    /* a stream from a pipe: to a temporary image, and back */
    if (ret == 0) {
        ret = through_temp(&in, &tmp, &o);
    }
    if (ret == 0) {
        ret = convert_image_to_stream(&tmp, &out, &o);
    }
    if (ret < 0 && fr_failed(&tmp.err) && !fr_failed(&in.err)) {
        in.err = tmp.err;
    }
done:
    if (ret == 0 && (ret = fr_sink_commit(&out)) == 0) {
        fr_progress_done(&prog);
        if (!a->quiet && !fr_quiet && stat(a->output, &st_out) == 0) {
            report_sizes(a->output, &in.st, &st_out);
        }
        ret = FR_EXIT_OK;
    } else {
        fr_sink_abort(&out);
        ret = fr_failed(&in.err) ? fr_report(&in.err, a->input)
                                 : fr_report(&out_err, a->output);
    }
    savefile_close(&tmp);
    savefile_close(&in);
    return ret;
}

/* A present page found all zero loses its bit. */
struct zeroed {
    struct fr_bitmap *present;
    bool changed;
};

static int clear_zero(void *ctx, uint64_t page)
{
    struct zeroed *z = ctx;

    fr_bitmap_clear(z->present, page);
    z->changed = true;
    return 0;
}

/* --in-place: clear the bits of all-zero pages, make the bitmaps durable,
 * then punch holes under every clear bit. */
static int compact_in_place(struct compact_args *a)
{
    struct savefile sf;
    struct pagesrc ps;
    struct fr_err err = { 0 };
    struct fr_sink k = { .name = a->input, .fd = -1, .seekable = true,
                         .err = &err };
    struct stat before, after;
    uint8_t *buf = NULL;
    int ret = FR_EXIT_FAIL;

    memset(&ps, 0, sizeof(ps));
    if (savefile_open(&sf, a->input, a->snapshot) < 0) {
        goto report;
    }
    if (a->bypass_cache) {
        fr_src_bypass_cache(&sf.file, a->input);
    }
    if (sf.src != &sf.file || !sf.file.seekable) {
        fr_fail(&sf.err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "--in-place works on uncompressed mapped-ram images only");
        goto report;
    }
    if (pagesrc_open(&ps, &sf, NULL) < 0) {
        goto report;
    }
    if (ps.materialized) {
        fr_fail(&sf.err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                "--in-place works on mapped-ram images only (this is a "
                "classic stream: compact it into a new file)");
        goto report;
    }
    k.fd = open(a->input, O_RDWR | O_CLOEXEC);
    if (k.fd < 0) {
        fr_fail_sys(&sf.err, errno, FR_NO_OFFSET, "cannot open for writing");
        goto report;
    }
    /* sizes after any pending writeback: a freshly written file's block
     * count is an estimate until then */
    if (fsync(k.fd) < 0 || fstat(k.fd, &before) < 0) {
        fr_fail_sys(&sf.err, errno, FR_NO_OFFSET, "fsync failed");
        goto report;
    }
    struct ram_state *rs = &ps.sum.ram;
    uint32_t psz = rs->page_size;
    buf = aligned_alloc(4096, 256 * (size_t)psz);   /* for O_DIRECT */
    if (!buf) {
        fr_fail(&sf.err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
        goto report;
    }
    /* 1. new bitmaps: all-zero pages are not present */
    for (size_t i = 0; i < rs->nblocks; i++) {
        struct ram_block *b = &rs->blocks[i];
        if (b->mr_no_data) {
            continue;
        }
        struct zeroed z = { &b->present, false };
        if (pagesrc_copy_data(&ps, i, 0, b->npages, buf, 256, NULL, 0,
                              clear_zero, &z) < 0) {
            goto report;
        }
        /* an unchanged bitmap stays as it is: rewriting it would allocate
         * the blocks of its zero bytes where a sparse copy left holes */
        if (z.changed && mapped_ram_write_bitmap(&k, b, &b->present) < 0) {
            goto report_out;
        }
    }
    /* 2. durable before anything is deallocated */
    if (fdatasync(k.fd) < 0) {
        fr_fail_sys(&err, errno, FR_NO_OFFSET, "fdatasync failed");
        goto report_out;
    }
    /* 3. holes under every clear bit */
    for (size_t i = 0; i < rs->nblocks; i++) {
        struct ram_block *b = &rs->blocks[i];
        if (b->mr_no_data) {
            continue;
        }
        for (uint64_t p = fr_bitmap_next(&b->present, 0, false);
             p < b->npages; p = fr_bitmap_next(&b->present, p, false)) {
            uint64_t e = fr_bitmap_next(&b->present, p, true);
            off_t data = lseek(k.fd, (off_t)(b->mr.pages_offset + p * psz),
                               SEEK_DATA);
            if (data >= 0 &&
                (uint64_t)data < b->mr.pages_offset + e * psz &&
                fr_sink_punch(&k, b->mr.pages_offset + p * psz,
                              (e - p) * psz) < 0) {
                goto report_out;
            }
            p = e;
        }
    }
    if (fsync(k.fd) < 0 || fstat(k.fd, &after) < 0) {
        fr_fail_sys(&err, errno, FR_NO_OFFSET, "fsync failed");
        goto report_out;
    }
    if (!a->quiet && !fr_quiet) {
        report_sizes(a->input, &before, &after);
    }
    ret = FR_EXIT_OK;
    goto done;
report_out:
    ret = fr_report(&err, a->input);
    goto done;
report:
    ret = fr_report(&sf.err, a->input);
done:
    if (k.fd >= 0) {
        close(k.fd);
    }
    free(buf);
    pagesrc_close(&ps);
    savefile_close(&sf);
    return ret;
}

static int run_compact(int argc, char **argv)
{
    struct compact_args a = { 0 };

    argp_parse(&compact_argp, argc, argv, 0, NULL, &a);
    if (!a.threads) {
        a.threads = fr_default_threads();
    }
    return a.in_place ? compact_in_place(&a) : compact_copy(&a);
}

const struct fr_cmd fr_cmd_compact = {
    .name = "compact",
    .summary = "drop resent pages, stale data and zero pages from a file",
    .run = run_compact,
};
