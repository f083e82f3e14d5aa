/*
 * fixedram convert stream-to-image|image-to-stream INPUT OUTPUT
 *
 * The output appears only when complete (temporary file + rename); an
 * existing output needs --force; the input is never written.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "convert.h"
#include "exit.h"

struct convert_args {
    const char *direction;
    const char *input;
    const char *output;
    const char *snapshot;
    bool force;
    bool progress;
    bool quiet;
    bool bypass_cache;
    bool no_sync;
    struct convert_opts o;
    int nargs;
};

enum {
    OPT_ZSTD = 0x100, OPT_NO_CONTAINER, OPT_THREADS, OPT_BYPASS_CACHE,
    OPT_NO_SYNC
};

static const struct argp_option options[] = {
    { "force", 'f', NULL, 0, "Overwrite OUTPUT if it exists", 0 },
    { "progress", 'p', NULL, 0, "Show progress on standard error", 0 },
    { "quiet", 'q', NULL, 0, "Print nothing but errors", 0 },
    { "zstd", OPT_ZSTD, "LEVEL", OPTION_ARG_OPTIONAL,
      "image-to-stream: compress the stream with zstd (LEVEL 1-19, default "
      "3); a libvirt image gets format zstd", 0 },
    { "no-container", OPT_NO_CONTAINER, NULL, 0,
      "Write the bare QEMU stream, without the libvirt header of a libvirt "
      "input", 0 },
    { "bypass-cache", OPT_BYPASS_CACHE, NULL, 0,
      "Read (image-to-stream) or write (stream-to-image) the pages regions "
      "of the image with O_DIRECT, so that a big conversion does not push "
      "everything else out of the page cache; buffered I/O where the file "
      "system refuses O_DIRECT", 0 },
    { "no-sync", OPT_NO_SYNC, NULL, 0,
      "Do not fsync OUTPUT before renaming it into place, as cp does not "
      "(faster; a system crash soon after can leave it empty or partial)",
      0 },
    { "sparse-size", 'S', "SIZE", 0,
      "stream-to-image: leave a hole only for a run of at least SIZE bytes "
      "of zero pages (default: one page), and write shorter runs between "
      "pages with data as zeros, as qemu-img convert -S does: fewer "
      "extents, faster to write and to fsync, more disk space.  Suffixes "
      "K, M, G", 0 },
    { "threads", OPT_THREADS, "N", 0,
      "Threads (default: the number of CPUs, at most 8): from 2, "
      "stream-to-image writes pages from a thread of its own, and reads a "
      "stream file ahead from another to write each resent page once; "
      "--zstd uses N workers; the output is the same for any N", 0 },
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static int parse_int(const char *arg, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct convert_args *a = state->input;

    switch (key) {
    case 'l':
        a->snapshot = arg;
        return 0;
    case 'f':
        a->force = true;
        return 0;
    case 'p':
        a->progress = true;
        return 0;
    case 'q':
        a->quiet = true;
        return 0;
    case OPT_ZSTD:
        a->o.zstd = true;
        if (arg && parse_int(arg, 1, 19, &a->o.zstd_level) < 0) {
            argp_error(state, "invalid zstd level '%s' (1 to 19)", arg);
        }
        return 0;
    case OPT_NO_CONTAINER:
        a->o.no_container = true;
        return 0;
    case OPT_BYPASS_CACHE:
        a->bypass_cache = true;
        return 0;
    case OPT_THREADS:
        a->o.threads = fr_parse_threads(state, arg);
        return 0;
    case 'S':
        a->o.sparse_size = fr_parse_size(state, arg);
        return 0;
    case OPT_NO_SYNC:
        a->no_sync = true;
        return 0;
    case ARGP_KEY_ARG:
        switch (a->nargs++) {
        case 0:
            if (strcmp(arg, "stream-to-image") != 0 &&
                strcmp(arg, "image-to-stream") != 0) {
                argp_error(state, "unknown direction '%s' (stream-to-image "
                           "or image-to-stream)", arg);
            }
            a->direction = arg;
            return 0;
        case 1:
            a->input = arg;
            return 0;
        case 2:
            a->output = arg;
            return 0;
        default:
            argp_error(state, "too many arguments");
            return 0;
        }
    case ARGP_KEY_END:
        if (a->nargs < 3) {
            argp_error(state, "expected DIRECTION INPUT OUTPUT");
        }
        if (a->o.zstd && strcmp(a->direction, "stream-to-image") == 0) {
            argp_error(state, "--zstd applies to image-to-stream only: a "
                       "mapped-ram image must stay seekable");
        }
        if (a->o.sparse_size && strcmp(a->direction, "image-to-stream") == 0) {
            argp_error(state, "--sparse-size applies to stream-to-image "
                       "only: a stream has no holes");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp convert_argp = {
    options, parse_opt,
    "stream-to-image INPUT OUTPUT\nimage-to-stream INPUT OUTPUT",
    "Convert between the classic migration stream and the mapped-ram "
    "image, so that QEMU restores the output to exactly the guest the input "
    "holds.  Device state is copied byte for byte (the return-path and "
    "postcopy commands of a failed save are left out); RAM is rewritten in "
    "the target layout (resent pages resolved to their last copy, XBZRLE "
    "decoded, zero pages as holes, or zeros over data sent before, or ZERO "
    "records).  A libvirt save image "
    "gives a libvirt save image (format sparse, or raw/zstd)."
    "\v"
    "stream-to-image reads '-' (standard input) too, so fixedram can be "
    "QEMU's exec: peer:\n"
    "  migrate \"exec:fixedram convert stream-to-image - vm.img\"\n"
    "image-to-stream writes '-' (standard output) too:\n"
    "  qemu ... -incoming \"exec:fixedram convert image-to-stream vm.img -\"\n"
    "\n"
    "The output appears only when complete: it is written to a temporary "
    "file next to OUTPUT and renamed; on error or signal the temporary file "
    "is removed.  The input is never modified.\n"
    "\n"
    "Exit status: 0 success, 1 failure (bad input, I/O error, OUTPUT "
    "exists without --force), 64 bad command line.",
    NULL, NULL, NULL
};

static int run_convert(int argc, char **argv)
{
    struct convert_args a = { .o = { .zstd_level = 3 } };
    struct savefile in;
    struct fr_sink out = { 0 };
    struct fr_err out_err = { 0 };
    struct fr_progress progress;
    struct sv_config cfg;
    bool to_image, ignore_shared;
    int ret;

    argp_parse(&convert_argp, argc, argv, 0, NULL, &a);
    to_image = strcmp(a.direction, "stream-to-image") == 0;
    if (!a.o.threads) {
        a.o.threads = fr_default_threads();
    }
    if (savefile_open(&in, a.input, a.snapshot) < 0) {
        ret = fr_report(&in.err, a.input);
        savefile_close(&in);
        return ret;
    }
    fr_sink_protect(&in.st);
    ignore_shared = savefile_peek_config(&in, &cfg) == 0 &&
                    sv_has_cap(&cfg, "x-ignore-shared");
    if (fr_sink_open(&out, a.output, a.force, &out_err) < 0) {
        ret = fr_report(&out_err, a.output);
        fr_sink_abort(&out);
        savefile_close(&in);
        return ret;
    }
    fr_sink_inherit_mode(&out, &in.st);
    out.durable = !a.no_sync;
    if (!to_image && in.st.st_size > 0) {
        /* a stream is not much longer than the image it comes from */
        fr_sink_size_hint(&out, (uint64_t)in.st.st_size);
    }
    if (a.bypass_cache && to_image) {
        fr_sink_bypass_cache(&out);
    } else if (a.bypass_cache && strcmp(a.input, "-") != 0) {
        fr_src_bypass_cache(&in.file, a.input);
    }
    fr_progress_init(&progress, a.progress && !a.quiet && !fr_quiet);
    a.o.progress = &progress;
    ret = to_image ? convert_stream_to_image(&in, &out, &a.o)
                   : convert_image_to_stream(&in, &out, &a.o);
    if (ret == 0) {
        ret = fr_sink_commit(&out);
    } else {
        fr_sink_abort(&out);
    }
    if (ret == 0) {
        fr_progress_done(&progress);
        if (to_image && ignore_shared && !a.quiet && !fr_quiet) {
            /* QEMU 10.0 fails: "Error reading dirty bitmap" */
            fprintf(stderr, "fixedram: %s: note: QEMU loads a mapped-ram "
                    "image with x-ignore-shared from version 11.0\n",
                    a.output);
        }
        ret = FR_EXIT_OK;
    } else if (fr_failed(&in.err)) {
        ret = fr_report(&in.err, a.input);
    } else {
        ret = fr_report(&out_err, a.output);
    }
    savefile_close(&in);
    return ret;
}

const struct fr_cmd fr_cmd_convert = {
    .name = "convert",
    .summary = "convert a classic stream to a mapped-ram image or back",
    .run = run_convert,
};
