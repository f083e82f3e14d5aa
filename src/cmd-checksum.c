/*
 * fixedram checksum: digests of each RAMBlock's guest-visible content and
 * of the device state, in sha256sum-style lines.  The definition is in
 * digest.h and fixedram(1): it depends on content, not on layout.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cmd.h"
#include "digest.h"
#include "exit.h"
#include "output.h"

struct checksum_args {
    const char *path;
    const char *snapshot;
    enum fr_output output;
    int threads;
    bool bypass_cache;
};

enum { OPT_OUTPUT = 0x100, OPT_THREADS, OPT_BYPASS_CACHE };

static const struct argp_option options[] = {
    { "output", OPT_OUTPUT, "FORMAT", 0,
      "Output format: human (default) or json", 0 },
    { "threads", OPT_THREADS, "N", 0,
      "Threads (default: the number of CPUs, at most 8): an image's pages "
      "are hashed by N threads", 0 },
    { "bypass-cache", OPT_BYPASS_CACHE, NULL, 0, FR_BYPASS_CACHE_HELP, 0 },
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct checksum_args *a = state->input;

    switch (key) {
    case 'l':
        a->snapshot = arg;
        return 0;
    case OPT_OUTPUT:
        if (fr_output_parse(arg, &a->output) < 0) {
            argp_error(state, "invalid output format '%s' (human or json)",
                       arg);
        }
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
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp checksum_argp = {
    options, parse_opt, "FILE",
    "Print a digest of each RAMBlock's guest-visible content and one of the "
    "device state, one line each: HEX, two spaces, the block name (the "
    "device state is '@device-state').  The digests depend on content, not "
    "layout: a classic stream, its mapped-ram conversion and that converted "
    "back print the same lines.  FILE may be '-' for standard input."
    "\v"
    "Definition (XXH3-128 throughout): a page hashes as its bytes, a zero "
    "or absent page as page-size zero bytes; a block's digest is the hash "
    "of its page hashes in page order, each as 16 big-endian bytes; the "
    "device state is the hash of every non-RAM section in stream order as "
    "u8 type, be32 instance, be32 version, u8 name length, name, body, be64 "
    "body length.\n\n"
    "Exit status: 0 success, 1 failure, 64 bad command line.",
    NULL, NULL, NULL
};

static void print(const struct checksum_args *a,
                  const struct digest_result *r)
{

    if (a->output == FR_OUTPUT_HUMAN) {
        for (size_t i = 0; i < r->nblocks; i++) {
            printf("%s  %s\n", r->blocks[i].hex, r->names[i]);
        }
        printf("%s  @device-state\n", r->devices.hex);
        return;
    }
    struct fr_json j;
    fr_json_init(&j, stdout);
    fr_json_begin_object(&j, NULL);
    fr_json_string(&j, "file", a->path);
    fr_json_string(&j, "algorithm", "xxh3-128-pages");
    fr_json_u64(&j, "page_size", r->page_size);
    fr_json_begin_array(&j, "ramblocks");
    for (size_t i = 0; i < r->nblocks; i++) {
        fr_json_begin_object(&j, NULL);
        fr_json_string(&j, "name", r->names[i]);
        fr_json_u64(&j, "length", r->lengths[i]);
        fr_json_string(&j, "digest", r->blocks[i].hex);
        fr_json_end_object(&j);
    }
    fr_json_end_array(&j);
    fr_json_string(&j, "device_state", r->devices.hex);
    fr_json_end_object(&j);
    fr_json_finish(&j);
}

static int run_checksum(int argc, char **argv)
{
    struct checksum_args a = { .output = FR_OUTPUT_HUMAN };
    struct savefile sf;
    struct pagesrc ps;
    struct digest_devices dev;
    struct sf_visitor v;
    struct digest_result r;
    int ret = FR_EXIT_OK;


    memset(&ps, 0, sizeof(ps));
    argp_parse(&checksum_argp, argc, argv, 0, NULL, &a);
    if (!a.threads) {
        a.threads = fr_default_threads();
    }
    if (savefile_open(&sf, a.path, a.snapshot) < 0) {
        ret = fr_report(&sf.err, a.path);
        savefile_close(&sf);
        return ret;
    }
    /* A classic stream file is hashed in one pass unless it has XBZRLE
     * pages (then it is read again); images, streams with XBZRLE and
     * pipes (which cannot be read again) go through the page source. */
    struct sv_config cfg;
    int direct = 1;
    if (savefile_peek_config(&sf, &cfg) == 0 &&
        !sv_has_cap(&cfg, "mapped-ram") && sf.file.seekable) {
        direct = digest_stream(&sf, &r);
        if (direct == 1) {
            savefile_close(&sf);
            if (savefile_open(&sf, a.path, a.snapshot) < 0) {
                direct = -1;
            }
        }
    }
    if (direct == 1 && a.bypass_cache) {
        fr_src_bypass_cache(&sf.file, a.path);
    }
    if (direct == 1) {
        if (digest_devices_init(&dev, &v) < 0) {
            fr_fail(&sf.err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
            direct = -1;
        } else if (pagesrc_open(&ps, &sf, &v) < 0 ||
                   digest_compute(&ps, &dev, a.threads, &r) < 0) {
            direct = -1;
        } else {
            direct = 0;
        }
        if (dev.state) {
            XXH3_freeState(dev.state);
        }
    }
    if (direct < 0) {
        ret = fr_report(&sf.err, a.path);
    } else {
        print(&a, &r);
        digest_result_free(&r);
    }
    pagesrc_close(&ps);
    savefile_close(&sf);
    return ret;
}

const struct fr_cmd fr_cmd_checksum = {
    .name = "checksum",
    .summary = "print layout-independent digests of guest RAM and devices",
    .run = run_checksum,
};
