/*
 * fixedram extract: one raw file per RAMBlock, exactly the block's length,
 * sparse where the guest page is zero or absent.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "exit.h"
#include "pagesrc.h"
#include "sink.h"
#include "zero.h"

#define CHUNK_PAGES 256
#define MAX_SELECT 256

struct extract_args {
    const char *path;
    const char *dir;
    const char *blocks[MAX_SELECT];
    size_t nblocks;
    bool force;
};

enum { OPT_BLOCK = 0x100, OPT_OUTPUT_DIR };

static const struct argp_option options[] = {
    { "output-dir", 'o', "DIR", 0,
      "Write the files into DIR (created with its parents if missing; "
      "required)", 0 },
    { "block", 'b', "NAME", 0,
      "Extract only this RAMBlock (repeatable; default: all)", 0 },
    { "force", 'f', NULL, 0, "Overwrite existing files", 0 },
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct extract_args *a = state->input;

    switch (key) {
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
    "resolved), sparse where pages are zero or absent.  File names are "
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

static int write_block(struct pagesrc *ps, size_t bi, struct fr_sink *k,
                       uint8_t *buf)
{
    const struct ram_state *rs = pagesrc_ram(ps);
    const struct ram_block *b = &rs->blocks[bi];
    uint32_t psz = rs->page_size;

    for (uint64_t p = b->mr_no_data ? b->npages
                                    : fr_bitmap_next(&b->present, 0, true);
         p < b->npages; p = fr_bitmap_next(&b->present, p, true)) {
        uint64_t e = fr_bitmap_next(&b->present, p, false);
        while (p < e) {
            uint64_t n = e - p < CHUNK_PAGES ? e - p : CHUNK_PAGES;
            if (pagesrc_read(ps, bi, p, n, buf) < 0) {
                return -1;
            }
            /* keep present-but-zero pages sparse too */
            for (uint64_t i = 0; i < n;) {
                uint64_t j = i;
                while (j < n && !fr_is_zero(buf + j * psz, psz)) {
                    j++;
                }
                if (j > i && fr_sink_pwrite(k, buf + i * psz, (j - i) * psz,
                                            (p + i) * psz) < 0) {
                    return -1;
                }
                i = j + 1;
            }
            p += n;
        }
    }
    return fr_sink_skip_to(k, b->length);
}

static int run_extract(int argc, char **argv)
{
    struct extract_args a = { 0 };
    struct savefile sf;
    struct pagesrc ps;
    uint8_t *buf = NULL;
    char (*used)[300] = NULL;
    int ret = FR_EXIT_FAIL;

    memset(&ps, 0, sizeof(ps));
    argp_parse(&extract_argp, argc, argv, 0, NULL, &a);
    if (savefile_open(&sf, a.path) < 0 || pagesrc_open(&ps, &sf, NULL) < 0) {
        ret = fr_report(&sf.err, a.path);
        goto out;
    }
    const struct ram_state *rs = pagesrc_ram(&ps);
    for (size_t i = 0; i < a.nblocks; i++) {
        if (ram_find_block(rs, a.blocks[i]) < 0) {
            fprintf(stderr, "fixedram: %s: no ram block '%s'\n", a.path,
                    a.blocks[i]);
            goto out;
        }
    }
    if (make_dirs(a.dir) < 0) {
        fprintf(stderr, "fixedram: %s: cannot create directory: %s\n",
                a.dir, strerror(errno));
        goto out;
    }
    buf = malloc((size_t)CHUNK_PAGES * rs->page_size);
    used = calloc(rs->nblocks ? rs->nblocks : 1, sizeof(*used));
    if (!buf || !used) {
        fprintf(stderr, "fixedram: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < rs->nblocks; i++) {
        const struct ram_block *b = &rs->blocks[i];
        struct fr_sink k;
        struct fr_err err = { 0 };
        char path[4096];
        bool want = a.nblocks == 0;

        for (size_t j = 0; j < a.nblocks; j++) {
            want |= strcmp(a.blocks[j], b->name) == 0;
        }
        safe_name(b->name, used, i, used[i], sizeof(used[i]));
        if (!want) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", a.dir, used[i]);
        if (fr_sink_open(&k, path, a.force, &err) < 0 ||
            write_block(&ps, i, &k, buf) < 0 || fr_sink_commit(&k) < 0) {
            fr_sink_abort(&k);
            ret = fr_failed(&sf.err) ? fr_report(&sf.err, a.path)
                                     : fr_report(&err, path);
            goto out;
        }
        if (!fr_quiet) {
            printf("%s\t%s\t%llu\n", used[i], b->name,
                   (unsigned long long)b->length);
        }
    }
    ret = FR_EXIT_OK;
out:
    free(buf);
    free(used);
    pagesrc_close(&ps);
    savefile_close(&sf);
    return ret;
}

const struct fr_cmd fr_cmd_extract = {
    .name = "extract",
    .summary = "write the guest RAM of each RAMBlock to a raw file",
    .run = run_extract,
};
