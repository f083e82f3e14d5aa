/*
 * fixedram diff A B: compare the guest RAM of two save files of any
 * layout.  Exit status as cmp and qemu-img compare: 0 same, 1 different,
 * 2 trouble.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cmd.h"
#include "digest.h"
#include "exit.h"
#include "output.h"
#include "pagecmp.h"
#include "physmap.h"
#include "zero.h"

#define CHUNK_PAGES 256

struct diff_args {
    const char *path[2];
    int npaths;
    const char *snapshot[2];    /* -l: A's then B's, or one for both */
    int nsnapshots;
    enum fr_output output;
    bool physical;              /* also give guest-physical addresses */
    uint64_t max_below_4g;
};

struct side {
    struct savefile sf;
    struct pagesrc ps;          /* its pages by index, unless DIRECT */
    bool direct;                /* a stream compared record by record */
    struct sf_summary sum;      /* DIRECT: its walk */
    struct fr_bitmap *differs;  /* DIRECT: per block, sent pages that
                                 * differ from the other side's */
    const struct ram_state *ram;
    struct digest_devices dev;
    struct sf_visitor vis;
    struct digest_result r;
};

enum { OPT_OUTPUT = 0x100, OPT_PHYSICAL, OPT_BELOW_4G };

static const struct argp_option options[] = {
    { "output", OPT_OUTPUT, "FORMAT", 0,
      "Output format: human (default) or json", 0 },
    { "quiet", 'q', NULL, 0,
      "Print nothing when the guest RAM is the same (the exit status "
      "tells)", 0 },
    { "physical", OPT_PHYSICAL, NULL, 0,
      "Also give where each differing range of the machine's RAM lies in "
      "the guest-physical address space of A's machine (x86 pc and q35, "
      "arm virt, pseries, s390-ccw-virtio)", 0 },
    FR_BELOW_4G_OPTION(OPT_BELOW_4G),
    FR_SNAPSHOT_OPTION,
    { 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
    struct diff_args *a = state->input;

    switch (key) {
    case 'q':
        fr_quiet = true;
        return 0;
    case 'l':
        if (a->nsnapshots == 2) {
            argp_error(state, "--snapshot given more than twice");
        }
        a->snapshot[a->nsnapshots++] = arg;
        return 0;
    case OPT_OUTPUT:
        if (fr_output_parse(arg, &a->output) < 0) {
            argp_error(state, "invalid output format '%s' (human or json)",
                       arg);
        }
        return 0;
    case OPT_PHYSICAL:
        a->physical = true;
        return 0;
    case OPT_BELOW_4G:
        a->max_below_4g = fr_parse_size(state, arg);
        return 0;
    case ARGP_KEY_ARG:
        if (a->npaths == 2) {
            argp_error(state, "too many arguments");
        }
        a->path[a->npaths++] = arg;
        return 0;
    case ARGP_KEY_END:
        if (a->npaths < 2) {
            argp_error(state, "expected two files");
        }
        if (strcmp(a->path[0], "-") == 0 && strcmp(a->path[1], "-") == 0) {
            argp_error(state, "only one of the files can be '-'");
        }
        if (a->max_below_4g && !a->physical) {
            argp_error(state, "--max-ram-below-4g goes with --physical");
        }
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static const struct argp diff_argp = {
    options, parse_opt, "A B",
    "Compare the guest RAM of two save files, whatever their layout: "
    "blocks only in one of them, blocks whose length differs, and per "
    "block the ranges of pages whose content differs.  Zero and absent "
    "pages compare equal.  Whether the device state differs is reported "
    "too, but does not change the verdict.  One file may be '-'."
    "\v"
    "Exit status (as cmp): 0 same guest RAM, 1 different, 2 trouble "
    "(unreadable or invalid input), 64 bad command line.",
    NULL, NULL, NULL
};

struct block_diff {
    const char *name;
    long a, b;                  /* block index on each side, -1 if none */
    uint64_t len_a, len_b;
    uint64_t pages;             /* differing pages */
    size_t nranges;             /* runs of them */
    struct fr_bitmap differs;   /* which: a bit per page, not a list, to
                                 * stay bounded however they alternate */
};

/* PAGE differs; pages come in ascending order. */
static int add_page(struct block_diff *d, uint64_t page)
{
    if (!page || !fr_bitmap_test(&d->differs, page - 1)) {
        d->nranges++;
    }
    d->pages++;
    return fr_bitmap_set(&d->differs, page);
}

/* The next run of differing pages at or after FROM: *START and the page
 * after it; false when there is none. */
static bool next_range(const struct block_diff *d, uint64_t from,
                       uint64_t *start, uint64_t *end)
{
    *start = fr_bitmap_next(&d->differs, from, true);
    if (*start >= d->differs.nbits) {
        return false;
    }
    *end = fr_bitmap_next(&d->differs, *start, false);
    return true;
}

/* The next piece of the guest-physical range of bytes [START, END) of
 * A's block BLOCK after piece *AT of MAP: its address in *ADDR and its
 * length in *LEN; false when there is none.  Start with *AT = 0. */
static bool next_guest_piece(const struct physmap *map, long block,
                             uint64_t start, uint64_t end, size_t *at,
                             uint64_t *addr, uint64_t *len)
{
    for (; map && *at < map->n; ++*at) {
        const struct physmap_piece *p = &map->piece[*at];
        uint64_t lo = start > p->offset ? start : p->offset;
        uint64_t hi = end < p->offset + p->len ? end : p->offset + p->len;
        if ((long)p->block == block && lo < hi) {
            *addr = p->addr + (lo - p->offset);
            *len = hi - lo;
            ++*at;
            return true;
        }
    }
    return false;
}

static bool any_present(const struct ram_block *b, uint64_t p, uint64_t n)
{
    return !b->mr_no_data && fr_bitmap_any(&b->present, p, p + n, true);
}

/* Both sides by pages: returns 0, -1 or -2 (side 0 or 1 failed), or -3
 * (out of memory). */
static int compare_block(struct side *s, struct block_diff *d,
                         uint8_t *ba, uint8_t *bb)
{
    const struct ram_block *a = &s[0].ram->blocks[d->a];
    const struct ram_block *b = &s[1].ram->blocks[d->b];
    uint32_t psz = s[0].ram->page_size;
    uint64_t n = a->npages < b->npages ? a->npages : b->npages;
    const uint8_t *pa[CHUNK_PAGES], *pb[CHUNK_PAGES];

    if (fr_bitmap_init(&d->differs, n) < 0) {
        return -3;
    }
    for (uint64_t p = 0; p < n; p += CHUNK_PAGES) {
        uint64_t c = n - p < CHUNK_PAGES ? n - p : CHUNK_PAGES;
        if (!any_present(a, p, c) && !any_present(b, p, c)) {
            continue;   /* zero on both sides */
        }
        if (pagesrc_pages(&s[0].ps, (size_t)d->a, p, c, ba, pa) < 0) {
            return -1;
        }
        if (pagesrc_pages(&s[1].ps, (size_t)d->b, p, c, bb, pb) < 0) {
            return -2;
        }
        for (uint64_t i = 0; i < c; i++) {
            if (fr_pages_differ(pa[i], pb[i], psz) &&
                add_page(d, p + i) < 0) {
                return -3;
            }
        }
    }
    return 0;
}

/* Side DS compared record by record (pagecmp) with the other side: its
 * sent pages differ as its bits say; the pages it never sent are zero.
 * Returns as compare_block. */
static int compare_direct(struct side *s, int ds, struct block_diff *d,
                          uint8_t *buf)
{
    long ia = ds == 0 ? d->a : d->b, ib = ds == 0 ? d->b : d->a;
    const struct ram_block *a = &s[ds].ram->blocks[ia];
    const struct ram_block *b = &s[!ds].ram->blocks[ib];
    const struct fr_bitmap *differs = &s[ds].differs[ia];
    uint32_t psz = s[0].ram->page_size;
    uint64_t n = a->npages < b->npages ? a->npages : b->npages;
    const uint8_t *theirs[CHUNK_PAGES];

    if (fr_bitmap_init(&d->differs, n) < 0) {
        return -3;
    }
    for (uint64_t p = 0; p < n; p += CHUNK_PAGES) {
        uint64_t c = n - p < CHUNK_PAGES ? n - p : CHUNK_PAGES;
        bool read = false;
        if (!fr_bitmap_any(differs, p, p + c, true) && !any_present(b, p, c)) {
            continue;   /* no sent page differs, none unsent has data */
        }
        for (uint64_t i = 0; i < c; i++) {
            bool differ = false;
            if (fr_bitmap_test(&a->sent, p + i)) {
                differ = fr_bitmap_test(differs, p + i);
            } else if (any_present(b, p + i, 1)) {
                if (!read && pagesrc_pages(&s[!ds].ps, (size_t)ib, p, c, buf,
                                           theirs) < 0) {
                    return ds ? -1 : -2;
                }
                read = true;
                differ = fr_pages_differ(theirs[i], NULL, psz);
            }
            if (differ && add_page(d, p + i) < 0) {
                return -3;
            }
        }
    }
    return 0;
}

static void print_human(const struct diff_args *a, struct block_diff *d,
                        size_t nd, uint32_t psz, const struct physmap *map,
                        bool dev_same, bool same)
{
    char s1[32], s2[32];

    for (size_t i = 0; i < nd; i++) {
        if (d[i].a < 0 || d[i].b < 0) {
            printf("ram block '%s': only in %s (%s)\n", d[i].name,
                   a->path[d[i].a < 0],
                   fr_human_size(d[i].a < 0 ? d[i].len_b : d[i].len_a, s1,
                                 sizeof(s1)));
            continue;
        }
        if (d[i].len_a != d[i].len_b) {
            printf("ram block '%s': length %s in %s, %s in %s\n", d[i].name,
                   fr_human_size(d[i].len_a, s1, sizeof(s1)), a->path[0],
                   fr_human_size(d[i].len_b, s2, sizeof(s2)), a->path[1]);
        }
        if (d[i].pages) {
            printf("ram block '%s': %" PRIu64 " pages differ in %zu "
                   "ranges\n", d[i].name, d[i].pages, d[i].nranges);
            uint64_t st, end;
            for (uint64_t p = 0; next_range(&d[i], p, &st, &end); p = end) {
                uint64_t addr, len;
                size_t at = 0;
                printf("  0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " pages)",
                       st * psz, end * psz - 1, end - st);
                for (const char *sep = " at guest ";
                     next_guest_piece(map, d[i].a, st * psz, end * psz, &at,
                                      &addr, &len);
                     sep = ", ") {
                    printf("%s0x%" PRIx64 "-0x%" PRIx64, sep, addr,
                           addr + len - 1);
                }
                putchar('\n');
            }
        }
    }
    printf("device state %s\n", dev_same ? "is the same" : "differs");
    printf("%s and %s: %s\n", a->path[0], a->path[1],
           same ? "same guest RAM" : "guest RAM differs");
}

static void print_json(const struct diff_args *a, struct block_diff *d,
                       size_t nd, uint32_t psz, const struct physmap *map,
                       bool dev_same, bool same)
{
    struct fr_json j;

    fr_json_init(&j, stdout);
    fr_json_begin_object(&j, NULL);
    fr_json_string(&j, "a", a->path[0]);
    fr_json_string(&j, "b", a->path[1]);
    fr_json_bool(&j, "same", same);
    fr_json_bool(&j, "device_state_same", dev_same);
    fr_json_begin_array(&j, "ramblocks");
    for (size_t i = 0; i < nd; i++) {
        const char *status = d[i].a < 0 ? "only-in-b"
                             : d[i].b < 0 ? "only-in-a"
                             : d[i].len_a != d[i].len_b ? "resized"
                             : d[i].pages ? "different" : "same";
        fr_json_begin_object(&j, NULL);
        fr_json_string(&j, "name", d[i].name);
        fr_json_string(&j, "status", status);
        if (d[i].a >= 0) {
            fr_json_u64(&j, "length_a", d[i].len_a);
        }
        if (d[i].b >= 0) {
            fr_json_u64(&j, "length_b", d[i].len_b);
        }
        fr_json_u64(&j, "differing_pages", d[i].pages);
        fr_json_begin_array(&j, "ranges");
        uint64_t st, end;
        for (uint64_t p = 0; next_range(&d[i], p, &st, &end); p = end) {
            fr_json_begin_object(&j, NULL);
            fr_json_u64(&j, "start", st * psz);
            fr_json_u64(&j, "length", (end - st) * psz);
            uint64_t addr, len;
            size_t at = 0;
            bool listed = false;
            while (next_guest_piece(map, d[i].a, st * psz, end * psz, &at,
                                    &addr, &len)) {
                if (!listed) {
                    fr_json_begin_array(&j, "guest_physical");
                    listed = true;
                }
                fr_json_begin_object(&j, NULL);
                fr_json_u64(&j, "address", addr);
                fr_json_u64(&j, "length", len);
                fr_json_end_object(&j);
            }
            if (listed) {
                fr_json_end_array(&j);
            }
            fr_json_end_object(&j);
        }
        fr_json_end_array(&j);
        fr_json_end_object(&j);
    }
    fr_json_end_array(&j);
    fr_json_end_object(&j);
    fr_json_finish(&j);
}

/* Can SF be compared record by record: a classic stream in a file, which
 * can be read again if it has XBZRLE pages?  Returns 1, 0, or -1 on
 * error. */
static int can_go_direct(struct savefile *sf)
{
    struct sv_config cfg;

    if (savefile_peek_config(sf, &cfg) < 0) {
        return -1;
    }
    return !sv_has_cap(&cfg, "mapped-ram") && sf->file.seekable;
}

/* Compare side I's records with the other side's pages; a stream with
 * XBZRLE pages is opened again and read by pages instead.  Returns -1, or
 * the side that failed. */
static int go_direct(struct side *s, int i, const char *path)
{
    struct side *me = &s[i];
    int r = pagecmp_stream(&me->sf, &s[!i].ps, &me->vis, &me->sum,
                           &me->differs);
    if (r < 0) {
        return fr_failed(&s[!i].sf.err) ? !i : i;
    }
    if (r == 0) {
        me->ram = &me->sum.ram;
        return -1;
    }
    savefile_summary_free(&me->sum);
    memset(&me->sum, 0, sizeof(me->sum));
    const char *snapshot = me->sf.snapshot_sel;
    savefile_close(&me->sf);
    XXH3_128bits_reset(me->dev.state);
    me->dev.body_len = 0;
    me->direct = false;
    if (savefile_open(&me->sf, path, snapshot) < 0 ||
        pagesrc_open(&me->ps, &me->sf, &me->vis) < 0) {
        return i;
    }
    me->ram = pagesrc_ram(&me->ps);
    return -1;
}

/* Input I's snapshot: given twice, the first is A's and the second B's;
 * given once, it is for each input that is a qcow2 image (A's if none). */
static const char *snapshot_of(const struct diff_args *a, int i)
{
    if (a->nsnapshots == 2) {
        return a->snapshot[i];
    }
    if (a->nsnapshots == 0 || savefile_is_qcow2(a->path[i])) {
        return a->snapshot[0];
    }
    if (i == 0 && !savefile_is_qcow2(a->path[1])) {
        return a->snapshot[0];  /* for the error it gives */
    }
    return NULL;
}

static int run_diff(int argc, char **argv)
{
    struct diff_args a = { .output = FR_OUTPUT_HUMAN };
    struct side s[2];
    struct block_diff *d = NULL;
    size_t nd = 0;
    struct sv_config cfg_a;
    struct physmap map = { 0 };
    uint8_t *ba = NULL, *bb = NULL;
    int ret = FR_EXIT_DIFF_TROUBLE;
    int bad = -1;

    memset(s, 0, sizeof(s));
    argp_parse(&diff_argp, argc, argv, 0, NULL, &a);
    for (int i = 0; i < 2; i++) {
        if (digest_devices_init(&s[i].dev, &s[i].vis) < 0 ||
            savefile_open(&s[i].sf, a.path[i], snapshot_of(&a, i)) < 0) {
            bad = i;
            goto out;
        }
    }
    if (a.physical && savefile_peek_config(&s[0].sf, &cfg_a) < 0) {
        bad = 0;
        goto out;
    }
    /* one classic stream file is compared where its records lie */
    for (int i = 0; i < 2 && !s[0].direct; i++) {
        int r = can_go_direct(&s[i].sf);
        if (r < 0) {
            bad = i;
            goto out;
        }
        s[i].direct = r;
    }
    for (int i = 0; i < 2; i++) {
        if (s[i].direct) {
            continue;
        }
        if (pagesrc_open(&s[i].ps, &s[i].sf, &s[i].vis) < 0) {
            bad = i;
            goto out;
        }
        s[i].ram = pagesrc_ram(&s[i].ps);
    }
    for (int i = 0; i < 2; i++) {
        if (s[i].direct && (bad = go_direct(s, i, a.path[i])) >= 0) {
            goto out;
        }
    }
    const struct ram_state *ra = s[0].ram, *rb = s[1].ram;
    if (ra->page_size != rb->page_size) {
        fprintf(stderr, "fixedram: %s and %s have different page sizes\n",
                a.path[0], a.path[1]);
        goto out;
    }
    if (a.physical &&
        physmap_build(&map, &cfg_a, ra, a.max_below_4g, &s[0].sf.err) < 0) {
        bad = 0;
        goto out;
    }
    d = calloc(ra->nblocks + rb->nblocks + 1, sizeof(*d));
    ba = malloc((size_t)CHUNK_PAGES * ra->page_size);
    bb = malloc((size_t)CHUNK_PAGES * ra->page_size);
    if (!d || !ba || !bb) {
        fprintf(stderr, "fixedram: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < ra->nblocks; i++) {
        d[nd].name = ra->blocks[i].name;
        d[nd].a = (long)i;
        d[nd].len_a = ra->blocks[i].length;
        d[nd].b = ram_find_block(rb, ra->blocks[i].name);
        if (d[nd].b >= 0) {
            d[nd].len_b = rb->blocks[d[nd].b].length;
        }
        nd++;
    }
    for (size_t i = 0; i < rb->nblocks; i++) {
        if (ram_find_block(ra, rb->blocks[i].name) < 0) {
            d[nd].name = rb->blocks[i].name;
            d[nd].a = -1;
            d[nd].b = (long)i;
            d[nd].len_b = rb->blocks[i].length;
            nd++;
        }
    }
    bool same = true;
    for (size_t i = 0; i < nd; i++) {
        if (d[i].a < 0 || d[i].b < 0) {
            same = false;
            continue;
        }
        int r = s[0].direct ? compare_direct(s, 0, &d[i], ba)
                : s[1].direct ? compare_direct(s, 1, &d[i], ba)
                              : compare_block(s, &d[i], ba, bb);
        if (r < 0) {
            bad = r == -1 ? 0 : r == -2 ? 1 : -1;
            if (r == -3) {
                fprintf(stderr, "fixedram: out of memory\n");
            }
            goto out;
        }
        same &= d[i].len_a == d[i].len_b && d[i].pages == 0;
    }
    for (int i = 0; i < 2; i++) {
        if (digest_compute_devices(&s[i].dev, &s[i].r.devices) < 0) {
            fprintf(stderr, "fixedram: out of memory\n");
            goto out;
        }
    }
    bool dev_same = strcmp(s[0].r.devices.hex, s[1].r.devices.hex) == 0;
    if (a.output == FR_OUTPUT_JSON) {
        print_json(&a, d, nd, ra->page_size, a.physical ? &map : NULL,
                   dev_same, same);
    } else if (!fr_quiet || !same) {
        print_human(&a, d, nd, ra->page_size, a.physical ? &map : NULL,
                    dev_same, same);
    }
    ret = same ? FR_EXIT_OK : FR_EXIT_DIFF_DIFFERENT;
out:
    if (bad >= 0) {
        fr_report(&s[bad].sf.err, a.path[bad]);
    }
    for (size_t i = 0; i < nd; i++) {
        fr_bitmap_free(&d[i].differs);
    }
    free(d);
    physmap_free(&map);
    free(ba);
    free(bb);
    for (int i = 0; i < 2; i++) {
        if (s[i].dev.state) {
            XXH3_freeState(s[i].dev.state);
        }
        pagecmp_free(s[i].differs, s[i].sum.ram.nblocks);
        savefile_summary_free(&s[i].sum);
        pagesrc_close(&s[i].ps);
        savefile_close(&s[i].sf);
    }
    return ret;
}

const struct fr_cmd fr_cmd_diff = {
    .name = "diff",
    .summary = "compare the guest RAM of two save files (exit as cmp)",
    .run = run_diff,
};
