/*
 * fr-mkstream.c - deterministic generator of synthetic QEMU migration files
 *
 * This program owns the test data of fixedram.  It writes classic
 * sequential migration streams, mapped-ram images and libvirt save images
 * that follow the on-disk formats of QEMU 10.0 (see FORMAT.md), and
 * optionally the facts a test should expect about them (--expect) and the
 * final guest content of every RAM block (--dump-dir).
 *
 * It is a second, independent implementation of the formats: it includes
 * nothing from src/ on purpose, so that a bug in the tool and the same bug
 * in the generator cannot cancel out.  It links with libc and libzstd only.
 *
 * Output layout (classic stream):
 *
 *   "QEVM" be32 3 | 07 config [05 capabilities] | [08 advise]
 *   01 START ram: be64 total|MEM_SIZE, blocks, [flush], EOS | 7e footer
 *   02 PART ram: page records ... EOS | 7e footer      (--parts of them,
 *                                                      then later rounds)
 *   [08 000b 0000 switchover] | 03 END ram: records EOS | 7e footer
 *                                                      (a PART with
 *                                                      --no-ram-end)
 *   04 FULL device ... | 7e footer  (one per device) | 00 EOF
 *   06 be32 len vmdesc-JSON          (the file ends here)
 *
 * Mapped-ram: every block in START is followed by a 28-byte header, its
 * bitmap, a hole up to the next 1 MiB boundary of the absolute file offset
 * and the pages region; PART/END carry only EOS.  libvirt wrapping puts a
 * 92-byte header, the domain XML, a cookie and 64 KiB of padding first.
 *
 * Everything is a function of the options and --seed: the same command
 * line always yields byte-identical files.
 */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define PROG "fr-mkstream"
#define PAGE_SIZE 4096u
#define PAGE_BITS 12
#define MIB (1024u * 1024u)
#define EXIT_USAGE 64

/* QEMU savevm tokens */
#define TOK_EOF 0x00
#define TOK_START 0x01
#define TOK_PART 0x02
#define TOK_END 0x03
#define TOK_FULL 0x04
#define TOK_SUBSECTION 0x05
#define TOK_VMDESC 0x06
#define TOK_CONFIG 0x07
#define TOK_COMMAND 0x08
#define TOK_FOOTER 0x7e

#define CMD_POSTCOPY_ADVISE 3
#define CMD_SWITCHOVER_START 11

/* RAM page-record flags */
#define RF_ZERO 0x002u
#define RF_MEM_SIZE 0x004u
#define RF_PAGE 0x008u
#define RF_EOS 0x010u
#define RF_CONTINUE 0x020u
#define RF_XBZRLE 0x040u
#define RF_COMPRESS 0x100u
#define RF_MULTIFD_FLUSH 0x200u

#define MR_HDR_SIZE 28
#define LV_HDR_SIZE 92
#define LV_PADDING 65536u
#define MAX_ROUNDS 3

/* last record of a page, which decides what a restore ends up with */
enum page_state {
    PS_ABSENT = 0,
    PS_PAGE,
    PS_ZERO,
    PS_XBZRLE,
};

/* what a later-round operation does to the page it picks */
enum op_kind {
    OP_PAGE_DATA,   /* PAGE with new content over a data page */
    OP_ZERO_DATA,   /* a data page becomes zero */
    OP_PAGE_ZERO,   /* a zero page gets data */
    OP_XBZ_DATA,    /* XBZRLE over a page last sent as PAGE */
    OP_XBZ_ZERO,    /* XBZRLE over a page last sent as ZERO */
    OP_XBZ_CHAIN,   /* XBZRLE over an earlier XBZRLE result */
};

enum lv_format {
    LV_NONE = -1,
    LV_RAW = 0,
    LV_GZIP = 1,
    LV_BZIP2 = 2,
    LV_XZ = 3,
    LV_LZOP = 4,
    LV_ZSTD = 5,
    LV_SPARSE = 6,
};

static const char *const lv_names[] = {
    "raw", "gzip", "bzip2", "xz", "lzop", "zstd", "sparse",
};

struct block {
    char *name;
    size_t name_len;
    uint64_t length;
    uint64_t npages;
    uint64_t first;         /* global index of page 0 */
    uint64_t mr_addr;
    bool ignored;
    uint8_t *mem;           /* current guest content */
    uint8_t *state;         /* enum page_state per page */
    uint64_t hdr_off;       /* mapped-ram, absolute file offsets */
    uint64_t bitmap_off;
    uint64_t pages_off;
};

struct device {
    uint32_t id;
    char *name;
    uint32_t instance;
    uint32_t version;
    const uint8_t *body;
    size_t size;
    bool early;             /* --devices-from: came before ram's START */
};

struct op {
    enum op_kind kind;
    uint64_t gidx;          /* global page index */
};

struct rng {
    uint64_t s;
};

/* buffered writer with an absolute position, flushed with pwrite */
struct sink {
    int fd;
    uint64_t pos;
    size_t len;
    uint8_t buf[1 << 16];
};

struct strbuf {
    char *p;
    size_t len;
    size_t cap;
};

struct opts {
    bool mapped;
    bool layout_given;
    uint64_t seed;
    const char *machine;
    bool machine_given;
    bool machine_owned;     /* taken (allocated) from --devices-from */
    const char *blocks;
    unsigned zero_percent;
    uint64_t zero_run;      /* mean first-pass zero run; 0 = independent */
    int low_entropy;        /* % of data pages low-entropy; -1 = legacy */
    uint64_t resend;
    uint64_t xbzrle;
    unsigned ndevices;
    bool devices_given;
    const char *devices_from;
    bool footers;
    bool config;
    bool vmdesc;
    bool switchover;
    bool advise;
    char **caps;
    size_t ncaps;
    char **ignored;
    size_t nignored;
    unsigned parts;
    bool multifd_flush;
    bool no_ram_end;
    uint64_t base_offset;
    enum lv_format libvirt;
    bool lv_partial;
    bool lv_swapped;
    const char *domain;
    bool zstd;
    bool truncate_given;
    uint64_t truncate_to;
    const char *expect;
    const char *dump_dir;
    const char *output;
};

struct counts {
    uint64_t page;
    uint64_t zero;
    uint64_t xbzrle;
    uint64_t resent;
};

struct gen {
    struct opts *o;
    struct block *blocks;
    size_t nblocks;
    uint64_t ram_total;
    uint64_t total_pages;   /* pages of non-ignored blocks */
    struct device *devs;
    size_t ndevs;
    uint32_t ram_id;
    uint8_t *from_buf;      /* --devices-from: the file, bodies point in */
    char *vmdesc_copy;      /* --devices-from: verbatim JSON */
    size_t vmdesc_copy_len;
    char **caps;            /* as written in the configuration */
    size_t ncaps;
    bool ignore_shared;
    struct rng ram_rng;
    struct rng dev_rng;
    bool in_zero_run;       /* --zero-run: state of the first pass */
    struct sink *out;
    int last_block;         /* for CONTINUE; persists across sections */
    uint32_t *mark;         /* round stamp per global page */
    struct counts rec;
};

/* ---- errors and small helpers ---------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                     noreturn));
static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
    exit(EXIT_USAGE);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        die("out of memory (%zu bytes)", n);
    }
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p) {
        die("out of memory (%zu x %zu bytes)", n, size);
    }
    return p;
}

static void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);

    if (!p) {
        die("out of memory (%zu bytes)", n);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void be16enc(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32enc(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void be64enc(uint8_t *p, uint64_t v)
{
    be32enc(p, (uint32_t)(v >> 32));
    be32enc(p + 4, (uint32_t)v);
}

static void le32enc(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t be16dec(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32dec(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64dec(const uint8_t *p)
{
    return (uint64_t)be32dec(p) << 32 | be32dec(p + 4);
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* ---- PRNG (splitmix64: tiny, seedable, good enough) ------------------ */

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

static void rng_fill(struct rng *r, uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t v = rng_next(r);

        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = rng_next(r);

        memcpy(p, &v, n);
    }
}

/* ---- string buffer --------------------------------------------------- */

static void sb_addn(struct strbuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        sb->cap = (sb->len + n + 1) * 2;
        sb->p = xrealloc(sb->p, sb->cap);
    }
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
}

static void sb_add(struct strbuf *sb, const char *s)
{
    sb_addn(sb, s, strlen(s));
}

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;
    char small[256];

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        die("vsnprintf failed");
    }
    if ((size_t)n < sizeof(small)) {
        sb_addn(sb, small, (size_t)n);
        return;
    }
    {
        char *big = xmalloc((size_t)n + 1);

        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sb_addn(sb, big, (size_t)n);
        free(big);
    }
}

/* a JSON string literal, quotes included */
static void sb_json_str(struct strbuf *sb, const char *s)
{
    sb_add(sb, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            sb_printf(sb, "\\%c", c);
        } else if (c < 0x20) {
            sb_printf(sb, "\\u%04x", c);
        } else {
            sb_addn(sb, s, 1);
        }
    }
    sb_add(sb, "\"");
}

/* XML text with the five special characters escaped */
static void sb_xml_text(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            sb_add(sb, "&lt;");
            break;
        case '>':
            sb_add(sb, "&gt;");
            break;
        case '&':
            sb_add(sb, "&amp;");
            break;
        case '\'':
            sb_add(sb, "&apos;");
            break;
        case '"':
            sb_add(sb, "&quot;");
            break;
        default:
            sb_addn(sb, s, 1);
            break;
        }
    }
}

/* ---- file output ----------------------------------------------------- */

static void pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;

    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("write error at offset %" PRIu64 ": %s", off,
                strerror(errno));
        }
        if (w == 0) {
            die("write error at offset %" PRIu64 ": short write", off);
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

static void write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("write error: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

static size_t read_full(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("read error: %s", strerror(errno));
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return got;
}

static void sk_flush(struct sink *s)
{
    if (s->len) {
        pwrite_all(s->fd, s->buf, s->len, s->pos - s->len);
        s->len = 0;
    }
}

static void sk_put(struct sink *s, const void *data, size_t n)
{
    const uint8_t *p = data;

    while (n) {
        size_t room = sizeof(s->buf) - s->len;
        size_t k = n < room ? n : room;

        memcpy(s->buf + s->len, p, k);
        s->len += k;
        s->pos += k;
        p += k;
        n -= k;
        if (s->len == sizeof(s->buf)) {
            sk_flush(s);
        }
    }
}

static void sk_seek(struct sink *s, uint64_t pos)
{
    sk_flush(s);
    s->pos = pos;
}

static void sk_u8(struct sink *s, uint8_t v)
{
    sk_put(s, &v, 1);
}

static void sk_be16(struct sink *s, uint16_t v)
{
    uint8_t b[2];

    be16enc(b, v);
    sk_put(s, b, 2);
}

static void sk_be32(struct sink *s, uint32_t v)
{
    uint8_t b[4];

    be32enc(b, v);
    sk_put(s, b, 4);
}

static void sk_be64(struct sink *s, uint64_t v)
{
    uint8_t b[8];

    be64enc(b, v);
    sk_put(s, b, 8);
}

/* counted string: u8 len + bytes */
static void sk_cstr(struct sink *s, const char *str, size_t n)
{
    sk_u8(s, (uint8_t)n);
    sk_put(s, str, n);
}

static uint64_t fd_size(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        die("fstat: %s", strerror(errno));
    }
    return (uint64_t)st.st_size;
}

/* an anonymous scratch file, removed when closed */
static int temp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    int fd;

    if (!dir || !*dir) {
        dir = "/tmp";
    }
    path = xmalloc(strlen(dir) + 32);
    sprintf(path, "%s/fr-mkstream.XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0) {
        die("cannot create a temporary file in %s: %s", dir,
            strerror(errno));
    }
    unlink(path);
    free(path);
    return fd;
}

/* ---- option parsing helpers ------------------------------------------ */

static uint64_t parse_u64(const char *opt, const char *s, bool suffix)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    errno = 0;
    if (!isdigit((unsigned char)*s)) {
        usage_error("%s: invalid number '%s'", opt, s);
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        v = strtoull(s + 2, &end, 16);
        if (end == s + 2) {
            usage_error("%s: invalid number '%s'", opt, s);
        }
    } else {
        v = strtoull(s, &end, 10);
    }
    if (errno) {
        usage_error("%s: invalid number '%s'", opt, s);
    }
    if (suffix && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            mul = 1024;
            break;
        case 'M':
            mul = MIB;
            break;
        case 'G':
            mul = 1024ull * MIB;
            break;
        default:
            usage_error("%s: invalid size '%s'", opt, s);
        }
        end++;
        if (toupper((unsigned char)*end) == 'I' &&
            toupper((unsigned char)end[1]) == 'B') {
            end += 2;
        }
    }
    if (*end) {
        usage_error("%s: invalid number '%s'", opt, s);
    }
    if (v > UINT64_MAX / mul) {
        usage_error("%s: number too large '%s'", opt, s);
    }
    return (uint64_t)v * mul;
}

/* split "a,b,c" and append the pieces to *list */
static void add_list(char ***list, size_t *n, const char *s)
{
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (len) {
            *list = xrealloc(*list, (*n + 1) * sizeof(**list));
            (*list)[(*n)++] = xstrndup(s, len);
        }
        s += len;
        if (*s == ',') {
            s++;
        }
    }
}

static bool in_list(char **list, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!strcmp(list[i], s)) {
            return true;
        }
    }
    return false;
}

/* realistic MemoryRegion.addr of the usual pc blocks (x-ignore-shared) */
static uint64_t guess_mr_addr(const char *name, uint64_t length)
{
    if (!strcmp(name, "pc.bios")) {
        return 0x100000000ull - length;
    }
    if (!strcmp(name, "pc.rom")) {
        return 0xc0000;
    }
    return 0;
}

static void parse_blocks(struct gen *g)
{
    const char *s = g->o->blocks;
    uint64_t gidx = 0;

    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char *item = xstrndup(s, len);
        char *colon = strrchr(item, ':');
        struct block *b;

        if (!colon || colon == item) {
            usage_error("--blocks: expected NAME:SIZE, got '%s'", item);
        }
        *colon = '\0';
        if (strlen(item) > 255) {
            usage_error("--blocks: block name longer than 255 bytes");
        }
        g->blocks = xrealloc(g->blocks,
                             (g->nblocks + 1) * sizeof(*g->blocks));
        b = &g->blocks[g->nblocks];
        memset(b, 0, sizeof(*b));
        b->name = xstrndup(item, strlen(item));
        b->name_len = strlen(item);
        b->length = parse_u64("--blocks", colon + 1, true);
        if (b->length == 0 || b->length % PAGE_SIZE) {
            usage_error("--blocks: size of '%s' must be a non-zero "
                        "multiple of 4096", b->name);
        }
        if (b->length > ((uint64_t)1 << 40)) {
            usage_error("--blocks: block '%s' is too large", b->name);
        }
        if (g->nblocks > 0) {
            size_t i;

            for (i = 0; i < g->nblocks; i++) {
                if (!strcmp(g->blocks[i].name, b->name)) {
                    usage_error("--blocks: duplicate block '%s'", b->name);
                }
            }
        }
        b->npages = b->length / PAGE_SIZE;
        b->mr_addr = guess_mr_addr(b->name, b->length);
        g->nblocks++;
        free(item);
        s += len;
        if (*s == ',') {
            s++;
        }
    }
    if (g->nblocks == 0) {
        usage_error("--blocks: no blocks given");
    }
    for (size_t i = 0; i < g->nblocks; i++) {
        struct block *b = &g->blocks[i];

        b->ignored = in_list(g->o->ignored, g->o->nignored, b->name);
        g->ram_total += b->length;
        if (!b->ignored) {
            b->first = gidx;
            gidx += b->npages;
        }
    }
    for (size_t i = 0; i < g->o->nignored; i++) {
        bool found = false;

        for (size_t j = 0; j < g->nblocks; j++) {
            found = found || !strcmp(g->blocks[j].name, g->o->ignored[i]);
        }
        if (!found) {
            usage_error("--ignored: no block named '%s'", g->o->ignored[i]);
        }
    }
    g->total_pages = gidx;
}

/* ---- synthetic devices ----------------------------------------------- */

struct dev_tmpl {
    uint32_t id;
    const char *name;
    uint32_t instance;
    uint32_t version;
};

/* the FULL sections of QEMU 10.0 "-M pc -nodefaults", in stream order */
static const struct dev_tmpl dev_table[] = {
    { 0, "timer", 0, 2 },
    { 3, "cpu_common", 0, 1 },
    { 4, "cpu", 0, 12 },
    { 5, "kvm-tpr-opt", 0, 1 },
    { 6, "apic", 0, 3 },
    { 7, "0000:00:00.0/I440FX", 0, 3 },
    { 8, "PCIHost", 0, 1 },
    { 9, "PCIBUS", 0, 1 },
    { 10, "fw_cfg", 0, 2 },
    { 11, "dma", 0, 1 },
    { 12, "dma", 1, 1 },
    { 13, "mc146818rtc", 0, 3 },
    { 14, "0000:00:01.1/ide", 0, 3 },
    { 15, "i2c_bus", 0, 1 },
    { 16, "0000:00:01.3/piix4_pm", 0, 3 },
    { 17, "0000:00:01.0/PIIX3", 0, 3 },
    { 18, "i8259", 0, 1 },
    { 19, "i8259", 1, 1 },
    { 20, "ioapic", 0, 3 },
    { 21, "hpet", 0, 2 },
    { 22, "i8254", 0, 3 },
    { 23, "pcspk", 0, 1 },
    { 24, "fdc", 0, 2 },
    { 25, "ps2kbd", 0, 3 },
    { 26, "ps2mouse", 0, 2 },
    { 27, "pckbd", 0, 3 },
    { 28, "vmmouse", 0, 0 },
    { 29, "port92", 0, 1 },
    { 38, "acpi_build", 0, 1 },
};

static const struct dev_tmpl dev_last = { 39, "globalstate", 0, 1 };

#define DEV_TABLE_LEN (sizeof(dev_table) / sizeof(dev_table[0]))

/*
 * N devices: the first N-1 of the table (then invented ones), and
 * "globalstate" last, as in QEMU.  Bodies are random with varied sizes;
 * the largest one carries fake footers of its own id in the middle.
 */
static void make_devices(struct gen *g)
{
    unsigned n = g->o->ndevices;
    size_t big = 0;

    g->ram_id = 1;
    g->ndevs = n;
    g->devs = xcalloc(n, sizeof(*g->devs));
    for (unsigned i = 0; i < n; i++) {
        struct device *d = &g->devs[i];
        uint8_t *body;
        uint64_t pick = rng_below(&g->dev_rng, 10);

        if (i + 1 == n) {
            d->id = dev_last.id;
            d->name = xstrndup(dev_last.name, strlen(dev_last.name));
            d->instance = dev_last.instance;
            d->version = dev_last.version;
        } else if (i < DEV_TABLE_LEN) {
            d->id = dev_table[i].id;
            d->name = xstrndup(dev_table[i].name,
                               strlen(dev_table[i].name));
            d->instance = dev_table[i].instance;
            d->version = dev_table[i].version;
        } else {
            char name[64];

            snprintf(name, sizeof(name), "fr-dev.%u", i);
            d->id = 40 + (i - (unsigned)DEV_TABLE_LEN) * 2;
            d->name = xstrndup(name, strlen(name));
            d->instance = i % 3;
            d->version = 1 + i % 5;
        }
        /* sizes: some tiny (even empty), most small, a few large */
        if (pick == 0) {
            d->size = (size_t)rng_below(&g->dev_rng, 3);
        } else if (pick < 7) {
            d->size = 1 + (size_t)rng_below(&g->dev_rng, 400);
        } else {
            d->size = 400 + (size_t)rng_below(&g->dev_rng, 4601);
        }
        if (i == 2 && d->size < 64) {
            d->size = 64 + (size_t)rng_below(&g->dev_rng, 2000);
        }
        body = xmalloc(d->size);
        rng_fill(&g->dev_rng, body, d->size);
        /* realistic-ish: many vmstate bytes are zero */
        for (size_t k = 0; k < d->size; k++) {
            if (rng_below(&g->dev_rng, 3) == 0) {
                body[k] = 0;
            }
        }
        /* no accidental footers: only the deliberate ones below */
        for (size_t k = 0; k + 5 <= d->size; k++) {
            if (body[k] == TOK_FOOTER && be32dec(body + k + 1) == d->id) {
                body[k] = TOK_FOOTER + 1;
            }
        }
        d->body = body;
        if (d->size > g->devs[big].size) {
            big = i;
        }
    }
    if (n > 0 && g->devs[big].size < 64) {
        struct device *d = &g->devs[big];
        uint8_t *body = xrealloc((void *)d->body, 64);

        rng_fill(&g->dev_rng, body + d->size, 64 - d->size);
        d->size = 64;
        d->body = body;
    }
    if (n > 0) {
        /* fake footers: 7e be32(own id) + a byte that is no next token */
        struct device *d = &g->devs[big];
        uint8_t *body = (uint8_t *)d->body;
        size_t at = d->size / 2 - 8;

        body[at] = TOK_FOOTER;
        be32enc(body + at + 1, d->id);
        body[at + 5] = 0x55;
        at = d->size / 4;
        body[at] = TOK_FOOTER;
        be32enc(body + at + 1, d->id);
        body[at + 5] = TOK_VMDESC;
    }
}

/* ---- minimal JSON reader (for a real vmdesc) ------------------------- */

struct jv {
    char type;              /* o a s n t f z */
    long long num;
    char *str;
    size_t n;
    struct jv *kids;
    char **keys;
};

struct jparse {
    const char *p;
    const char *end;
};

static void j_ws(struct jparse *jp)
{
    while (jp->p < jp->end && strchr(" \t\r\n", *jp->p)) {
        jp->p++;
    }
}

static bool j_str(struct jparse *jp, char **out)
{
    struct strbuf sb = { 0 };

    if (jp->p >= jp->end || *jp->p != '"') {
        return false;
    }
    jp->p++;
    sb_add(&sb, "");
    while (jp->p < jp->end && *jp->p != '"') {
        if (*jp->p == '\\') {
            jp->p++;
            if (jp->p >= jp->end) {
                break;
            }
            if (*jp->p == 'u') {
                jp->p = jp->end - jp->p > 4 ? jp->p + 4 : jp->end - 1;
                sb_add(&sb, "?");
            } else {
                const char *from = "\"\\/bfnrt";
                const char *to = "\"\\/\b\f\n\r\t";
                const char *k = strchr(from, *jp->p);

                sb_addn(&sb, k ? to + (k - from) : jp->p, 1);
            }
            jp->p++;
        } else {
            sb_addn(&sb, jp->p, 1);
            jp->p++;
        }
    }
    if (jp->p >= jp->end) {
        free(sb.p);
        return false;
    }
    jp->p++;
    *out = sb.p;
    return true;
}

static bool j_value(struct jparse *jp, struct jv *v, int depth)
{
    memset(v, 0, sizeof(*v));
    j_ws(jp);
    if (jp->p >= jp->end || depth > 64) {
        return false;
    }
    if (*jp->p == '{' || *jp->p == '[') {
        bool obj = *jp->p == '{';
        char close = obj ? '}' : ']';

        v->type = obj ? 'o' : 'a';
        jp->p++;
        j_ws(jp);
        if (jp->p < jp->end && *jp->p == close) {
            jp->p++;
            return true;
        }
        for (;;) {
            char *key = NULL;

            v->kids = xrealloc(v->kids, (v->n + 1) * sizeof(*v->kids));
            v->keys = xrealloc(v->keys, (v->n + 1) * sizeof(*v->keys));
            v->keys[v->n] = NULL;
            if (obj) {
                j_ws(jp);
                if (!j_str(jp, &key)) {
                    return false;
                }
                j_ws(jp);
                if (jp->p >= jp->end || *jp->p != ':') {
                    free(key);
                    return false;
                }
                jp->p++;
            }
            v->keys[v->n] = key;
            if (!j_value(jp, &v->kids[v->n], depth + 1)) {
                v->n++;
                return false;
            }
            v->n++;
            j_ws(jp);
            if (jp->p < jp->end && *jp->p == ',') {
                jp->p++;
                continue;
            }
            if (jp->p < jp->end && *jp->p == close) {
                jp->p++;
                return true;
            }
            return false;
        }
    }
    if (*jp->p == '"') {
        v->type = 's';
        return j_str(jp, &v->str);
    }
    if (*jp->p == '-' || isdigit((unsigned char)*jp->p)) {
        char *end;

        v->type = 'n';
        v->num = strtoll(jp->p, &end, 10);
        jp->p = end;
        while (jp->p < jp->end && strchr("0123456789.eE+-", *jp->p)) {
            jp->p++;
        }
        return true;
    }
    if (jp->end - jp->p >= 4 && !strncmp(jp->p, "true", 4)) {
        v->type = 't';
        jp->p += 4;
        return true;
    }
    if (jp->end - jp->p >= 5 && !strncmp(jp->p, "false", 5)) {
        v->type = 'f';
        jp->p += 5;
        return true;
    }
    if (jp->end - jp->p >= 4 && !strncmp(jp->p, "null", 4)) {
        v->type = 'z';
        jp->p += 4;
        return true;
    }
    return false;
}

static void jv_free(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->kids[i]);
        free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->str);
}

static const struct jv *jv_get(const struct jv *o, const char *key)
{
    if (!o || o->type != 'o') {
        return NULL;
    }
    for (size_t i = 0; i < o->n; i++) {
        if (o->keys[i] && !strcmp(o->keys[i], key)) {
            return &o->kids[i];
        }
    }
    return NULL;
}

/*
 * Bytes a vmstate section (or subsection) occupies on the wire according
 * to its vmdesc description: fields' sizes (times array_len), plus for
 * every subsection 05 + u8 len + name + be32 version + its own content.
 */
static long long vmdesc_size(const struct jv *o)
{
    const struct jv *fields = jv_get(o, "fields");
    const struct jv *subs = jv_get(o, "subsections");
    long long sum = 0;

    if (fields && fields->type == 'a') {
        for (size_t i = 0; i < fields->n; i++) {
            const struct jv *sz = jv_get(&fields->kids[i], "size");
            const struct jv *al = jv_get(&fields->kids[i], "array_len");

            if (sz && sz->type == 'n') {
                sum += sz->num * (al && al->type == 'n' ? al->num : 1);
            }
        }
    } else {
        const struct jv *sz = jv_get(o, "size");

        if (sz && sz->type == 'n') {
            sum += sz->num;
        }
    }
    if (subs && subs->type == 'a') {
        for (size_t i = 0; i < subs->n; i++) {
            const struct jv *nm = jv_get(&subs->kids[i], "vmsd_name");

            sum += 2 + 4 + (nm && nm->str ? (long long)strlen(nm->str) : 0);
            sum += vmdesc_size(&subs->kids[i]);
        }
    }
    return sum;
}

/* ---- --devices-from: copy device state out of a real stream ---------- */

struct rd {
    const uint8_t *d;
    uint64_t size;
    uint64_t p;
    const char *path;
};

static void rd_need(struct rd *r, uint64_t n)
{
    if (r->p > r->size || r->size - r->p < n) {
        die("%s: offset 0x%" PRIx64 ": truncated stream", r->path, r->p);
    }
}

static uint8_t rd_u8(struct rd *r)
{
    rd_need(r, 1);
    return r->d[r->p++];
}

static uint16_t rd_be16(struct rd *r)
{
    uint16_t v;

    rd_need(r, 2);
    v = be16dec(r->d + r->p);
    r->p += 2;
    return v;
}

static uint32_t rd_be32(struct rd *r)
{
    uint32_t v;

    rd_need(r, 4);
    v = be32dec(r->d + r->p);
    r->p += 4;
    return v;
}

static uint64_t rd_be64(struct rd *r)
{
    uint64_t v;

    rd_need(r, 8);
    v = be64dec(r->d + r->p);
    r->p += 8;
    return v;
}

static char *rd_cstr(struct rd *r)
{
    uint8_t n = rd_u8(r);
    char *s;

    rd_need(r, n);
    s = xstrndup((const char *)r->d + r->p, n);
    r->p += n;
    return s;
}

static bool rd_footer(struct rd *r, uint32_t id)
{
    if (r->size - r->p >= 5 && r->d[r->p] == TOK_FOOTER &&
        be32dec(r->d + r->p + 1) == id) {
        r->p += 5;
        return true;
    }
    return false;
}

/* skip one ram section body (classic records or mapped-ram block list) */
static void rd_skip_ram(struct rd *r, bool ign, bool mapped, bool *have_last)
{
    for (;;) {
        uint64_t at = r->p;
        uint64_t w = rd_be64(r);
        unsigned fl = (unsigned)(w & (PAGE_SIZE - 1));
        uint64_t total;

        if (fl & RF_MEM_SIZE) {
            total = w & ~(uint64_t)(PAGE_SIZE - 1);
            while (total) {
                char *name = rd_cstr(r);
                uint64_t len = rd_be64(r);

                free(name);
                if (ign) {
                    rd_be64(r);
                }
                if (mapped) {
                    uint64_t bo, po;

                    rd_need(r, MR_HDR_SIZE);
                    bo = be64dec(r->d + r->p + 12);
                    po = be64dec(r->d + r->p + 20);
                    r->p += MR_HDR_SIZE;
                    if (bo || po) {
                        r->p = po + len;
                    }
                }
                if (len > total) {
                    die("%s: offset 0x%" PRIx64 ": bad ram block list",
                        r->path, at);
                }
                total -= len;
            }
            continue;
        }
        if (fl == RF_EOS) {
            return;
        }
        if (fl == RF_MULTIFD_FLUSH) {
            continue;
        }
        if (fl & RF_CONTINUE) {
            if (!*have_last) {
                die("%s: offset 0x%" PRIx64 ": CONTINUE without a block",
                    r->path, at);
            }
            fl &= ~RF_CONTINUE;
        } else {
            free(rd_cstr(r));
            *have_last = true;
        }
        if (fl == RF_ZERO) {
            rd_u8(r);
        } else if (fl == RF_PAGE) {
            rd_need(r, PAGE_SIZE);
            r->p += PAGE_SIZE;
        } else if (fl == RF_XBZRLE) {
            uint16_t n;

            rd_u8(r);
            n = rd_be16(r);
            rd_need(r, n);
            r->p += n;
        } else if (fl == RF_COMPRESS) {
            uint32_t n = rd_be32(r);

            rd_need(r, n);
            r->p += n;
        } else {
            die("%s: offset 0x%" PRIx64 ": unknown ram flags 0x%x",
                r->path, at, fl);
        }
    }
}

/* a FULL/START header at r->p parses and looks plausible */
static bool plausible_header(const struct rd *r, uint64_t p)
{
    uint8_t n;

    if (r->size - p < 15) {
        return false;
    }
    n = r->d[p + 5];
    if (n == 0 || r->size - p < 14u + n) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!isprint(r->d[p + 6 + i])) {
            return false;
        }
    }
    return true;
}

/* footer scan: 7e be32(id) followed by a plausible next token */
static uint64_t scan_footer(const struct rd *r, uint64_t from, uint32_t id)
{
    for (uint64_t q = from; q + 5 <= r->size; q++) {
        uint8_t nb;

        if (r->d[q] != TOK_FOOTER || be32dec(r->d + q + 1) != id) {
            continue;
        }
        if (q + 5 == r->size) {
            return q;
        }
        nb = r->d[q + 5];
        if (nb == TOK_EOF || nb == TOK_COMMAND || nb == TOK_PART ||
            nb == TOK_END) {
            return q;
        }
        if ((nb == TOK_START || nb == TOK_FULL) &&
            plausible_header(r, q + 5)) {
            return q;
        }
    }
    die("%s: no footer for section %" PRIu32 " after offset 0x%" PRIx64,
        r->path, id, from);
}

static void load_devices_from(struct gen *g)
{
    const char *path = g->o->devices_from;
    struct rd r = { .path = path };
    int fd = open(path, O_RDONLY);
    uint8_t *buf;
    uint64_t vpos = 0, vlen = 0;
    struct jv vm = { 0 };
    const struct jv *vdevs = NULL;
    size_t vidx = 0;
    bool ign = false, mapped = false, have_last = false;
    bool seen_ram = false;

    if (fd < 0) {
        die("%s: %s", path, strerror(errno));
    }
    r.size = fd_size(fd);
    buf = xmalloc(r.size);
    if (read_full(fd, buf, r.size) != r.size) {
        die("%s: short read", path);
    }
    close(fd);
    r.d = buf;

    /* the vmdesc sits at the end: 00 06 be32(L) '{' ... end of file */
    for (uint64_t q = r.size >= 7 ? r.size - 7 : 0; q > 8; q--) {
        if (r.d[q] == TOK_EOF && r.d[q + 1] == TOK_VMDESC &&
            r.d[q + 6] == '{' && be32dec(r.d + q + 2) == r.size - q - 6) {
            struct jparse jp;

            vpos = q + 6;
            vlen = r.size - vpos;
            jp.p = (const char *)r.d + vpos;
            jp.end = jp.p + vlen;
            if (!j_value(&jp, &vm, 0)) {
                die("%s: offset 0x%" PRIx64 ": bad vmdesc JSON", path, vpos);
            }
            vdevs = jv_get(&vm, "devices");
            break;
        }
    }
    if (vpos) {
        g->vmdesc_copy = xstrndup((const char *)r.d + vpos, vlen);
        g->vmdesc_copy_len = vlen;
    }

    if (rd_be32(&r) != 0x5145564d || rd_be32(&r) != 3) {
        die("%s: not a QEMU migration stream (QEVM v3)", path);
    }
    if (r.p < r.size && r.d[r.p] == TOK_CONFIG) {
        uint32_t n;

        r.p++;
        n = rd_be32(&r);
        rd_need(&r, n);
        if (!g->o->machine_given) {
            g->o->machine = xstrndup((const char *)r.d + r.p, n);
            g->o->machine_owned = true;
        }
        r.p += n;
        while (r.p < r.size && r.d[r.p] == TOK_SUBSECTION) {
            char *name;

            r.p++;
            name = rd_cstr(&r);
            rd_be32(&r);
            if (!strcmp(name, "configuration/capabilities")) {
                uint32_t c = rd_be32(&r);

                for (uint32_t i = 0; i < c; i++) {
                    char *cap = rd_cstr(&r);

                    ign = ign || !strcmp(cap, "x-ignore-shared");
                    mapped = mapped || !strcmp(cap, "mapped-ram");
                    free(cap);
                }
            } else if (!strcmp(name, "configuration/target-page-bits")) {
                rd_be32(&r);
            } else if (!strcmp(name, "configuration/uuid")) {
                rd_need(&r, 16);
                r.p += 16;
            } else {
                die("%s: unknown configuration subsection '%s'", path, name);
            }
            free(name);
        }
    }

    for (;;) {
        uint64_t at = r.p;
        uint8_t t = rd_u8(&r);

        if (t == TOK_EOF) {
            break;
        }
        if (t == TOK_COMMAND) {
            uint16_t clen;

            rd_be16(&r);
            clen = rd_be16(&r);
            rd_need(&r, clen);
            r.p += clen;
            continue;
        }
        if (t == TOK_PART || t == TOK_END) {
            uint32_t id = rd_be32(&r);

            if (!seen_ram || id != g->ram_id) {
                die("%s: offset 0x%" PRIx64 ": unsupported live section "
                    "%" PRIu32, path, at, id);
            }
            rd_skip_ram(&r, ign, mapped, &have_last);
            rd_footer(&r, id);
            continue;
        }
        if (t == TOK_START || t == TOK_FULL) {
            uint32_t id = rd_be32(&r);
            char *name = rd_cstr(&r);
            uint32_t inst = rd_be32(&r);
            uint32_t ver = rd_be32(&r);
            struct device *d;
            uint64_t size = 0;
            bool ok = false;

            if (t == TOK_START) {
                if (strcmp(name, "ram")) {
                    die("%s: offset 0x%" PRIx64 ": unsupported live "
                        "section '%s'", path, at, name);
                }
                g->ram_id = id;
                seen_ram = true;
                free(name);
                rd_skip_ram(&r, ign, mapped, &have_last);
                rd_footer(&r, id);
                continue;
            }
            /* the vmdesc size, confirmed by the footer where it says */
            if (vdevs && vdevs->type == 'a' && vidx < vdevs->n) {
                const struct jv *e = &vdevs->kids[vidx];
                const struct jv *nm = jv_get(e, "name");
                const struct jv *in = jv_get(e, "instance_id");
                long long sz = vmdesc_size(e);

                if (nm && nm->str && !strcmp(nm->str, name) && in &&
                    in->num == inst && sz >= 0 &&
                    (uint64_t)sz <= r.size - r.p) {
                    uint64_t q = r.p + (uint64_t)sz;

                    ok = r.size - q >= 5 && r.d[q] == TOK_FOOTER &&
                         be32dec(r.d + q + 1) == id;
                    size = (uint64_t)sz;
                }
                vidx++;
            }
            if (!ok) {
                uint64_t q = scan_footer(&r, r.p, id);

                if (vdevs) {
                    fprintf(stderr, PROG ": %s: section '%s': vmdesc size "
                            "not confirmed by a footer; using the footer\n",
                            path, name);
                }
                size = q - r.p;
            }
            g->devs = xrealloc(g->devs, (g->ndevs + 1) * sizeof(*g->devs));
            d = &g->devs[g->ndevs++];
            d->id = id;
            d->name = name;
            d->instance = inst;
            d->version = ver;
            d->body = r.d + r.p;
            d->size = (size_t)size;
            d->early = !seen_ram;
            r.p += size;
            if (!rd_footer(&r, id)) {
                die("%s: offset 0x%" PRIx64 ": section '%s' has no footer",
                    path, r.p, name);
            }
            continue;
        }
        die("%s: offset 0x%" PRIx64 ": unexpected token 0x%02x", path, at, t);
    }
    if (vdevs && vdevs->type == 'a' && vidx != vdevs->n) {
        fprintf(stderr, PROG ": %s: vmdesc lists %zu devices, stream has "
                "%zu\n", path, vdevs->n, g->ndevs);
    }
    jv_free(&vm);
    g->from_buf = buf;      /* freed last: the device bodies point in */
}

/* ---- page content ---------------------------------------------------- */

/*
 * a plausible non-zero page: random, sparse words, text or counters.
 * @low_pct < 0 picks one of the four kinds at random (the historical mix);
 * otherwise the page is low-entropy (one of the last three kinds, at
 * random) with probability @low_pct percent, random bytes else.
 */
static void fill_page(struct rng *r, uint8_t *p, uint64_t gidx, int low_pct)
{
    uint64_t kind;

    if (low_pct < 0) {
        kind = rng_below(r, 4);
    } else if (rng_below(r, 100) < (uint64_t)low_pct) {
        kind = 1 + rng_below(r, 3);
    } else {
        kind = 0;
    }

    if (kind == 0) {
        rng_fill(r, p, PAGE_SIZE);
    } else if (kind == 1) {
        unsigned n = 1 + (unsigned)rng_below(r, 24);

        memset(p, 0, PAGE_SIZE);
        for (unsigned i = 0; i < n; i++) {
            uint64_t v = rng_next(r);

            memcpy(p + rng_below(r, PAGE_SIZE / 8) * 8, &v, 8);
        }
    } else if (kind == 2) {
        char line[80];
        int len = snprintf(line, sizeof(line),
                           "fr-mkstream page %" PRIu64 " tag %04x\n", gidx,
                           (unsigned)rng_below(r, 0x10000));

        for (size_t i = 0; i < PAGE_SIZE; i++) {
            p[i] = (uint8_t)line[i % (size_t)len];
        }
    } else {
        uint32_t base = (uint32_t)rng_next(r);

        for (size_t i = 0; i < PAGE_SIZE; i += 4) {
            le32enc(p + i, base + (uint32_t)i);
        }
    }
    if (all_zero(p, PAGE_SIZE)) {
        p[rng_below(r, PAGE_SIZE)] = (uint8_t)(1 + rng_below(r, 255));
    }
}

/* ULEB128 limited to two bytes, as QEMU's uleb128_encode_small */
static size_t uleb_small(uint8_t *out, size_t v)
{
    if (v <= 0x7f) {
        out[0] = (uint8_t)v;
        return 1;
    }
    out[0] = (uint8_t)((v & 0x7f) | 0x80);
    out[1] = (uint8_t)(v >> 7);
    return 2;
}

/*
 * XBZRLE delta of @cur against @old, as QEMU's xbzrle_encode_buffer emits
 * it: alternating maximal runs of equal (zrun) and different (nzrun)
 * bytes, the first zrun possibly 0, no trailing zrun.  Returns the
 * encoded length, 0 if unchanged, or >PAGE_SIZE if it would not fit.
 */
static size_t xbz_encode(const uint8_t *old, const uint8_t *cur,
                         uint8_t *dst, size_t dlen)
{
    size_t i = 0, d = 0;

    while (i < PAGE_SIZE) {
        size_t z = 0, nz = 0, start;

        while (i < PAGE_SIZE && old[i] == cur[i]) {
            z++;
            i++;
        }
        if (i == PAGE_SIZE) {
            break;
        }
        if (d + 4 > dlen) {
            return dlen + 1;
        }
        d += uleb_small(dst + d, z);
        start = i;
        while (i < PAGE_SIZE && old[i] != cur[i]) {
            nz++;
            i++;
        }
        d += uleb_small(dst + d, nz);
        if (d + nz > dlen) {
            return dlen + 1;
        }
        memcpy(dst + d, cur + start, nz);
        d += nz;
    }
    return d;
}

/* change a few short runs of @p to new non-zero values */
static void mutate_page(struct rng *r, uint8_t *p, unsigned variant)
{
    unsigned runs = 1 + (unsigned)rng_below(r, 6);

    for (unsigned k = 0; k < runs; k++) {
        size_t off = (size_t)rng_below(r, PAGE_SIZE);
        size_t len = 1 + (size_t)rng_below(r, 40);

        if (k == 0 && variant % 4 == 0) {
            off = 0;            /* starts with zrun 0 */
        } else if (k == 0 && variant % 4 == 1) {
            off = PAGE_SIZE - len;  /* nzrun reaching the page end */
        } else if (k == 0 && variant % 4 == 2) {
            len = 200 + (size_t)rng_below(r, 100);  /* 2-byte ULEB */
        }
        if (off + len > PAGE_SIZE) {
            len = PAGE_SIZE - off;
        }
        for (size_t i = off; i < off + len; i++) {
            uint8_t v = (uint8_t)(1 + rng_below(r, 255));

            if (v == p[i]) {
                v = (uint8_t)(v % 255 + 1);
            }
            p[i] = v;
        }
    }
}

/* ---- RAM section writing --------------------------------------------- */

static struct block *gidx_block(struct gen *g, uint64_t gidx, uint64_t *page)
{
    for (size_t i = 0; i < g->nblocks; i++) {
        struct block *b = &g->blocks[i];

        if (!b->ignored && gidx >= b->first && gidx < b->first + b->npages) {
            *page = gidx - b->first;
            return b;
        }
    }
    die("internal error: page %" PRIu64 " out of range", gidx);
}

static void section_header(struct gen *g, uint8_t type, uint32_t id,
                           const char *name, uint32_t inst, uint32_t ver)
{
    struct sink *s = g->out;

    sk_u8(s, type);
    sk_be32(s, id);
    if (type == TOK_START || type == TOK_FULL) {
        sk_cstr(s, name, strlen(name));
        sk_be32(s, inst);
        sk_be32(s, ver);
    }
}

static void section_footer(struct gen *g, uint32_t id)
{
    if (g->o->footers) {
        sk_u8(g->out, TOK_FOOTER);
        sk_be32(g->out, id);
    }
}

static void command(struct gen *g, uint16_t cmd)
{
    sk_u8(g->out, TOK_COMMAND);
    sk_be16(g->out, cmd);
    sk_be16(g->out, 0);
}

/* be64 offset|flags, with CONTINUE or the block's idstr */
static void record_header(struct gen *g, size_t bi, uint64_t page,
                          unsigned flags)
{
    struct block *b = &g->blocks[bi];

    if (g->last_block == (int)bi) {
        flags |= RF_CONTINUE;
    }
    sk_be64(g->out, page * PAGE_SIZE | flags);
    if (!(flags & RF_CONTINUE)) {
        sk_cstr(g->out, b->name, b->name_len);
        g->last_block = (int)bi;
    }
}

static size_t block_index(struct gen *g, const struct block *b)
{
    return (size_t)(b - g->blocks);
}

static void emit_page(struct gen *g, struct block *b, uint64_t page)
{
    record_header(g, block_index(g, b), page, RF_PAGE);
    sk_put(g->out, b->mem + page * PAGE_SIZE, PAGE_SIZE);
    b->state[page] = PS_PAGE;
    g->rec.page++;
}

static void emit_zero(struct gen *g, struct block *b, uint64_t page)
{
    record_header(g, block_index(g, b), page, RF_ZERO);
    sk_u8(g->out, 0);
    b->state[page] = PS_ZERO;
    g->rec.zero++;
}

/* mapped-ram: the page's data goes to its slot in the pages region */
static void mapped_write(struct gen *g, struct block *b, uint64_t page)
{
    sk_flush(g->out);
    pwrite_all(g->out->fd, b->mem + page * PAGE_SIZE, PAGE_SIZE,
               b->pages_off + page * PAGE_SIZE);
}

/* the START body: MEM_SIZE, block list (mapped-ram layout), EOS */
static void ram_start(struct gen *g)
{
    struct sink *s = g->out;

    section_header(g, TOK_START, g->ram_id, "ram", 0, 4);
    sk_be64(s, g->ram_total | RF_MEM_SIZE);
    for (size_t i = 0; i < g->nblocks; i++) {
        struct block *b = &g->blocks[i];

        sk_cstr(s, b->name, b->name_len);
        sk_be64(s, b->length);
        if (g->ignore_shared) {
            sk_be64(s, b->mr_addr);
        }
        if (!g->o->mapped) {
            continue;
        }
        b->hdr_off = s->pos;
        if (b->ignored) {
            b->bitmap_off = 0;
            b->pages_off = 0;
        } else {
            uint64_t bmsize = (b->npages + 63) / 64 * 8;

            b->bitmap_off = b->hdr_off + MR_HDR_SIZE;
            b->pages_off = round_up(b->bitmap_off + bmsize, MIB);
        }
        sk_be32(s, 1);
        sk_be64(s, PAGE_SIZE);
        sk_be64(s, b->bitmap_off);
        sk_be64(s, b->pages_off);
        if (!b->ignored) {
            sk_seek(s, b->pages_off + b->length);
        }
    }
    if (g->o->multifd_flush) {
        sk_be64(s, RF_MULTIFD_FLUSH);
    }
    sk_be64(s, RF_EOS);
    section_footer(g, g->ram_id);
}

/* mapped-ram bitmaps: written at completion, set bit = data valid */
static void mapped_bitmaps(struct gen *g)
{
    sk_flush(g->out);
    for (size_t i = 0; i < g->nblocks; i++) {
        struct block *b = &g->blocks[i];
        size_t bmsize = (size_t)((b->npages + 63) / 64 * 8);
        uint8_t *bm;

        if (b->ignored) {
            continue;
        }
        bm = xcalloc(bmsize, 1);
        for (uint64_t p = 0; p < b->npages; p++) {
            if (b->state[p] == PS_PAGE) {
                bm[p / 8] |= (uint8_t)(1u << (p % 8));
            }
        }
        pwrite_all(g->out->fd, bm, bmsize, b->bitmap_off);
        free(bm);
    }
}

/*
 * --zero-run=N: whether the next first-pass page is zero.  A two-state
 * chain: a zero run ends after each page with probability 1/N (runs are
 * geometric, mean N pages) and a data run with probability
 * Z / (N * (100 - Z)) (mean N * (100 - Z) / Z pages), so that Z percent
 * (--zero-percent) of the pages are zero in the long run.  The first
 * page starts a zero run with probability Z percent.
 */
static bool next_in_zero_run(struct gen *g, uint64_t done)
{
    struct rng *r = &g->ram_rng;
    uint64_t z = g->o->zero_percent, n = g->o->zero_run;

    if (z == 0 || z == 100) {
        return z == 100;
    }
    if (done == 0) {
        g->in_zero_run = rng_below(r, 100) < z;
    } else if (g->in_zero_run) {
        g->in_zero_run = rng_below(r, n) != 0;
    } else {
        g->in_zero_run = rng_below(r, n * (100 - z)) < z;
    }
    return g->in_zero_run;
}

/* the first pass: every page of every non-ignored block, in order;
 * @done counts the pages before this one */
static void first_pass_page(struct gen *g, struct block *b, uint64_t page,
                            uint64_t done)
{
    uint8_t *p = b->mem + page * PAGE_SIZE;
    bool zero;

    if (g->o->zero_run) {
        zero = next_in_zero_run(g, done);
    } else {
        zero = rng_below(&g->ram_rng, 100) < g->o->zero_percent;
    }
    if (!zero) {
        fill_page(&g->ram_rng, p, b->first + page, g->o->low_entropy);
    }
    if (g->o->mapped) {
        b->state[page] = zero ? PS_ZERO : PS_PAGE;
        if (!zero) {
            mapped_write(g, b, page);
        }
    } else if (zero) {
        emit_zero(g, b, page);
    } else {
        emit_page(g, b, page);
    }
}

static bool op_fits(enum op_kind k, uint8_t st)
{
    switch (k) {
    case OP_PAGE_DATA:
    case OP_ZERO_DATA:
        return st == PS_PAGE || st == PS_XBZRLE;
    case OP_PAGE_ZERO:
    case OP_XBZ_ZERO:
        return st == PS_ZERO;
    case OP_XBZ_DATA:
        return st == PS_PAGE;
    case OP_XBZ_CHAIN:
        return st == PS_XBZRLE;
    }
    return false;
}

/* a random page (not yet used in this round) that suits @k, or -1 */
static int64_t pick_page(struct gen *g, enum op_kind k, uint32_t round)
{
    uint64_t start;
    struct block *b;
    uint64_t page;

    if (g->total_pages == 0) {
        return -1;
    }
    for (int tries = 0; tries < 64; tries++) {
        uint64_t gi = rng_below(&g->ram_rng, g->total_pages);

        b = gidx_block(g, gi, &page);
        if (g->mark[gi] != round && op_fits(k, b->state[page])) {
            return (int64_t)gi;
        }
    }
    start = rng_below(&g->ram_rng, g->total_pages);
    for (uint64_t n = 0; n < g->total_pages; n++) {
        uint64_t gi = (start + n) % g->total_pages;

        b = gidx_block(g, gi, &page);
        if (g->mark[gi] != round && op_fits(k, b->state[page])) {
            return (int64_t)gi;
        }
    }
    return -1;
}

static int cmp_op(const void *a, const void *b)
{
    const struct op *x = a, *y = b;

    return x->gidx < y->gidx ? -1 : x->gidx > y->gidx;
}

/* apply one later-round operation to the model and the output */
static void apply_op(struct gen *g, const struct op *op, unsigned variant)
{
    uint64_t page;
    struct block *b = gidx_block(g, op->gidx, &page);
    uint8_t *p = b->mem + page * PAGE_SIZE;
    uint8_t old[PAGE_SIZE];
    uint8_t enc[PAGE_SIZE + 8];
    size_t n;

    g->rec.resent += g->o->mapped ? 0 : 1;
    switch (op->kind) {
    case OP_PAGE_DATA:
    case OP_PAGE_ZERO:
        fill_page(&g->ram_rng, p, op->gidx, g->o->low_entropy);
        if (g->o->mapped) {
            b->state[page] = PS_PAGE;
            mapped_write(g, b, page);
        } else {
            emit_page(g, b, page);
        }
        return;
    case OP_ZERO_DATA:
        /* mapped-ram: the bit clears, the stale data stays in the file */
        memset(p, 0, PAGE_SIZE);
        if (g->o->mapped) {
            b->state[page] = PS_ZERO;
        } else {
            emit_zero(g, b, page);
        }
        return;
    case OP_XBZ_DATA:
    case OP_XBZ_ZERO:
    case OP_XBZ_CHAIN:
        memcpy(old, p, PAGE_SIZE);
        mutate_page(&g->ram_rng, p, variant);
        n = xbz_encode(old, p, enc, PAGE_SIZE);
        if (n == 0 || n > PAGE_SIZE) {
            /* as QEMU: too big a delta is sent as a whole page */
            emit_page(g, b, page);
            return;
        }
        record_header(g, block_index(g, b), page, RF_XBZRLE);
        sk_u8(g->out, 1);
        sk_be16(g->out, (uint16_t)n);
        sk_put(g->out, enc, n);
        b->state[page] = PS_XBZRLE;
        g->rec.xbzrle++;
        return;
    }
}

/*
 * Later rounds: --resend and --xbzrle operations spread over up to
 * MAX_ROUNDS rounds; inside a round every page appears once, in block
 * and page order, as after a dirty-bitmap sync.  Plain XBZRLE ops come
 * first and chained ones (every third) last, so that an earlier round
 * has produced XBZRLE pages for them.
 * Returns the number of rounds; rounds[r] / rlen[r] describe each.
 */
static unsigned plan_rounds(struct gen *g, struct op ***rounds, size_t **rlen)
{
    uint64_t total = g->o->resend + g->o->xbzrle;
    enum op_kind *kinds;
    unsigned nrounds;
    uint64_t per, k = 0;

    if (total == 0) {
        return 0;
    }
    if (g->total_pages == 0) {
        die("internal error: no pages to send again");
    }
    kinds = xmalloc(total * sizeof(*kinds));
    for (uint64_t i = 0; i < g->o->xbzrle; i++) {
        static const enum op_kind xk[] = { OP_XBZ_DATA, OP_XBZ_ZERO };

        if (i % 3 != 2) {
            kinds[k++] = xk[i % 3];
        }
    }
    for (uint64_t i = 0; i < g->o->resend; i++) {
        static const enum op_kind rk[] = {
            OP_PAGE_DATA, OP_ZERO_DATA, OP_PAGE_ZERO,
        };

        kinds[k++] = rk[i % 3];
    }
    while (k < total) {
        kinds[k++] = OP_XBZ_CHAIN;
    }
    nrounds = total < MAX_ROUNDS ? (unsigned)total : MAX_ROUNDS;
    per = (total + nrounds - 1) / nrounds;
    if (per > g->total_pages) {
        per = g->total_pages;
        nrounds = (unsigned)((total + per - 1) / per);
    }
    *rounds = xcalloc(nrounds, sizeof(**rounds));
    *rlen = xcalloc(nrounds, sizeof(**rlen));
    for (unsigned r = 0; r < nrounds; r++) {
        (*rounds)[r] = xcalloc(per, sizeof(struct op));
    }
    /* the ops are picked when their round is played (state-dependent) */
    k = 0;
    for (unsigned r = 0; r < nrounds; r++) {
        for (uint64_t i = 0; i < per && k < total; i++, k++) {
            (*rounds)[r][i].kind = kinds[k];
            (*rlen)[r]++;
        }
    }
    free(kinds);
    return nrounds;
}

/* choose pages for round @r (state at round start) and sort them */
static void pick_round(struct gen *g, struct op *ops, size_t n, uint32_t r)
{
    static const enum op_kind fb_resend[] = {
        OP_PAGE_DATA, OP_PAGE_ZERO, OP_ZERO_DATA,
    };
    static const enum op_kind fb_xbz[] = {
        OP_XBZ_DATA, OP_XBZ_ZERO, OP_XBZ_CHAIN,
    };
    bool none[OP_XBZ_CHAIN + 1] = { false };

    /* a kind without candidates stays so for the rest of the round */
    for (size_t i = 0; i < n; i++) {
        bool xbz = ops[i].kind >= OP_XBZ_DATA;
        const enum op_kind *fb = xbz ? fb_xbz : fb_resend;
        int64_t gi = -1;

        if (!none[ops[i].kind]) {
            gi = pick_page(g, ops[i].kind, r + 1);
            none[ops[i].kind] = gi < 0;
        }
        for (int f = 0; gi < 0 && f < 3; f++) {
            if (none[fb[f]]) {
                continue;
            }
            gi = pick_page(g, fb[f], r + 1);
            none[fb[f]] = gi < 0;
            if (gi >= 0) {
                ops[i].kind = fb[f];
            }
        }
        if (gi < 0) {
            die("not enough pages for the requested later-round records");
        }
        ops[i].gidx = (uint64_t)gi;
        g->mark[gi] = r + 1;
    }
    qsort(ops, n, sizeof(*ops), cmp_op);
}

static void ram_eos(struct gen *g)
{
    sk_be64(g->out, RF_EOS);
}

/* START, PARTs, [SWITCHOVER], END of the ram section */
static void ram_sections(struct gen *g)
{
    struct op **rounds = NULL;
    size_t *rlen = NULL;
    unsigned nrounds;
    uint64_t done = 0, per_part;
    unsigned xvariant = 0;
    size_t bi = 0;
    uint64_t page = 0;
    size_t end_from = 0;

    for (size_t i = 0; i < g->nblocks; i++) {
        struct block *b = &g->blocks[i];

        b->mem = xcalloc(b->npages, PAGE_SIZE);
        b->state = xcalloc(b->npages, 1);
    }
    g->mark = xcalloc(g->total_pages ? g->total_pages : 1, sizeof(*g->mark));
    g->last_block = -1;
    ram_start(g);

    /* first pass over --parts PART sections */
    per_part = (g->total_pages + g->o->parts - 1) / g->o->parts;
    for (unsigned part = 0; part < g->o->parts; part++) {
        uint64_t stop = done + per_part;

        section_header(g, TOK_PART, g->ram_id, NULL, 0, 0);
        while (done < stop && bi < g->nblocks) {
            struct block *b = &g->blocks[bi];

            if (b->ignored || page == b->npages) {
                bi++;
                page = 0;
                continue;
            }
            first_pass_page(g, b, page++, done);
            done++;
        }
        if (g->o->multifd_flush && part + 1 == g->o->parts) {
            sk_be64(g->out, RF_MULTIFD_FLUSH);
        }
        ram_eos(g);
        section_footer(g, g->ram_id);
    }

    /* later rounds: all but the last in PARTs, the last one in END */
    nrounds = plan_rounds(g, &rounds, &rlen);
    for (unsigned r = 0; r + 1 < nrounds; r++) {
        pick_round(g, rounds[r], rlen[r], r);
        section_header(g, TOK_PART, g->ram_id, NULL, 0, 0);
        for (size_t i = 0; i < rlen[r]; i++) {
            apply_op(g, &rounds[r][i], xvariant);
            xvariant += rounds[r][i].kind >= OP_XBZ_DATA;
        }
        if (g->o->multifd_flush) {
            sk_be64(g->out, RF_MULTIFD_FLUSH);
        }
        ram_eos(g);
        section_footer(g, g->ram_id);
    }
    if (nrounds > 0) {
        unsigned r = nrounds - 1;

        pick_round(g, rounds[r], rlen[r], r);
        /* a single round: its first half in a PART, the rest in END */
        if (nrounds == 1) {
            end_from = (rlen[r] + 1) / 2;
            section_header(g, TOK_PART, g->ram_id, NULL, 0, 0);
            for (size_t i = 0; i < end_from; i++) {
                apply_op(g, &rounds[r][i], xvariant);
                xvariant += rounds[r][i].kind >= OP_XBZ_DATA;
            }
            ram_eos(g);
            section_footer(g, g->ram_id);
        }
    }
    if (g->o->switchover) {
        command(g, CMD_SWITCHOVER_START);
    }
    section_header(g, g->o->no_ram_end ? TOK_PART : TOK_END, g->ram_id,
                   NULL, 0, 0);
    if (nrounds > 0) {
        unsigned r = nrounds - 1;

        for (size_t i = end_from; i < rlen[r]; i++) {
            apply_op(g, &rounds[r][i], xvariant);
            xvariant += rounds[r][i].kind >= OP_XBZ_DATA;
        }
    }
    if (g->o->multifd_flush) {
        sk_be64(g->out, RF_MULTIFD_FLUSH);
    }
    ram_eos(g);
    section_footer(g, g->ram_id);
    if (g->o->mapped) {
        mapped_bitmaps(g);
    }
    for (unsigned r = 0; r < nrounds; r++) {
        free(rounds[r]);
    }
    free(rounds);
    free(rlen);
}

/* ---- configuration, devices, vmdesc ---------------------------------- */

static void write_config(struct gen *g)
{
    struct sink *s = g->out;
    static const char sub[] = "configuration/capabilities";

    sk_u8(s, TOK_CONFIG);
    sk_be32(s, (uint32_t)strlen(g->o->machine));
    sk_put(s, g->o->machine, strlen(g->o->machine));
    if (g->ncaps == 0) {
        return;
    }
    sk_u8(s, TOK_SUBSECTION);
    sk_cstr(s, sub, strlen(sub));
    sk_be32(s, 1);
    sk_be32(s, (uint32_t)g->ncaps);
    for (size_t i = 0; i < g->ncaps; i++) {
        sk_cstr(s, g->caps[i], strlen(g->caps[i]));
    }
}

static void write_device(struct gen *g, const struct device *d)
{
    section_header(g, TOK_FULL, d->id, d->name, d->instance, d->version);
    sk_put(g->out, d->body, d->size);
    section_footer(g, d->id);
}

/* vmdesc in QEMU's JSON writer style (", " and ": " separators) */
static void make_vmdesc(struct gen *g, struct strbuf *sb)
{
    if (g->vmdesc_copy) {
        sb_addn(sb, g->vmdesc_copy, g->vmdesc_copy_len);
        return;
    }
    sb_add(sb, "{");
    if (g->o->config) {
        sb_printf(sb, "\"configuration\": {\"vmsd_name\": \"configuration\", "
                  "\"version\": 1, \"fields\": [{\"name\": \"len\", "
                  "\"type\": \"uint32\", \"size\": 4}, {\"name\": \"name\", "
                  "\"type\": \"buffer\", \"size\": %zu}]",
                  strlen(g->o->machine));
        if (g->ncaps) {
            sb_printf(sb, ", \"subsections\": [{\"vmsd_name\": "
                      "\"configuration/capabilities\", \"version\": 1, "
                      "\"fields\": [{\"name\": \"caps_count\", \"type\": "
                      "\"uint32\", \"size\": 4}, {\"name\": "
                      "\"capabilities\", ");
            if (g->ncaps > 1) {
                sb_printf(sb, "\"array_len\": %zu, ", g->ncaps);
            }
            sb_printf(sb, "\"type\": \"capability\", \"size\": %zu}]}]",
                      1 + strlen(g->caps[0]));
        }
        sb_add(sb, "}, ");
    }
    sb_printf(sb, "\"page_size\": %u, \"devices\": [", PAGE_SIZE);
    for (size_t i = 0; i < g->ndevs; i++) {
        const struct device *d = &g->devs[i];

        sb_add(sb, i ? ", {\"name\": " : "{\"name\": ");
        sb_json_str(sb, d->name);
        sb_printf(sb, ", \"instance_id\": %" PRIu32 ", \"size\": %zu, "
                  "\"fields\": [{\"name\": \"data\", \"size\": %zu, "
                  "\"type\": \"buffer\"}]}", d->instance, d->size, d->size);
    }
    sb_add(sb, "]}");
}

/* the whole QEMU stream, starting at g->out->pos; returns its end */
static uint64_t write_stream(struct gen *g)
{
    struct sink *s = g->out;

    sk_be32(s, 0x5145564d);
    sk_be32(s, 3);
    if (g->o->config) {
        write_config(g);
    }
    if (g->o->advise) {
        command(g, CMD_POSTCOPY_ADVISE);
    }
    for (size_t i = 0; i < g->ndevs; i++) {
        if (g->devs[i].early) {
            write_device(g, &g->devs[i]);
        }
    }
    ram_sections(g);
    for (size_t i = 0; i < g->ndevs; i++) {
        if (!g->devs[i].early) {
            write_device(g, &g->devs[i]);
        }
    }
    sk_u8(s, TOK_EOF);
    if (g->o->vmdesc) {
        struct strbuf sb = { 0 };

        make_vmdesc(g, &sb);
        sk_u8(s, TOK_VMDESC);
        sk_be32(s, (uint32_t)sb.len);
        sk_put(s, sb.p, sb.len);
        free(sb.p);
    }
    sk_flush(s);
    return s->pos;
}

/* ---- libvirt header and compression ---------------------------------- */

static void libvirt_data(struct gen *g, struct strbuf *xml,
                         struct strbuf *cookie)
{
    uint64_t u = g->o->seed * 0x9e3779b97f4a7c15ULL;

    sb_add(xml, "<domain type='kvm'>\n  <name>");
    sb_xml_text(xml, g->o->domain);
    sb_printf(xml, "</name>\n  <uuid>%08x-%04x-4%03x-8%03x-%012" PRIx64
              "</uuid>\n", (unsigned)(u >> 32), (unsigned)(u >> 16 & 0xffff),
              (unsigned)(u & 0xfff), (unsigned)(u >> 20 & 0xfff),
              (uint64_t)((u ^ 0x5eed) & 0xffffffffffffull));
    sb_printf(xml, "  <memory unit='KiB'>%" PRIu64 "</memory>\n"
              "  <currentMemory unit='KiB'>%" PRIu64 "</currentMemory>\n"
              "  <vcpu placement='static'>1</vcpu>\n  <os>\n"
              "    <type arch='x86_64' machine='",
              g->ram_total / 1024, g->ram_total / 1024);
    sb_xml_text(xml, g->o->machine);
    sb_add(xml, "'>hvm</type>\n  </os>\n  <devices>\n"
           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
           "  </devices>\n</domain>\n");
    sb_add(cookie, "<cookie>\n  <cpu mode='custom' match='exact' "
           "check='full'>\n    <model fallback='forbid'>qemu64</model>\n"
           "  </cpu>\n</cookie>\n");
}

static void put_u32_order(uint8_t *p, uint32_t v, bool swapped)
{
    if (swapped) {
        be32enc(p, v);
    } else {
        le32enc(p, v);
    }
}

/* the 92-byte header, XML, cookie and padding; returns the payload offset */
static uint64_t write_libvirt_header(struct gen *g, int fd)
{
    struct strbuf xml = { 0 }, cookie = { 0 };
    uint8_t hdr[LV_HDR_SIZE] = { 0 };
    uint64_t data_len;
    uint8_t *data;

    libvirt_data(g, &xml, &cookie);
    data_len = xml.len + 1 + cookie.len + 1 + LV_PADDING;
    memcpy(hdr, g->o->lv_partial ? "LibvirtQemudPart" : "LibvirtQemudSave",
           16);
    put_u32_order(hdr + 16, 2, g->o->lv_swapped);
    put_u32_order(hdr + 20, (uint32_t)data_len, g->o->lv_swapped);
    put_u32_order(hdr + 24, 1, g->o->lv_swapped);
    put_u32_order(hdr + 28, (uint32_t)g->o->libvirt, g->o->lv_swapped);
    put_u32_order(hdr + 32, (uint32_t)(xml.len + 1), g->o->lv_swapped);
    data = xcalloc(data_len, 1);
    memcpy(data, xml.p, xml.len);
    memcpy(data + xml.len + 1, cookie.p, cookie.len);
    pwrite_all(fd, hdr, sizeof(hdr), 0);
    pwrite_all(fd, data, data_len, LV_HDR_SIZE);
    free(data);
    free(xml.p);
    free(cookie.p);
    return LV_HDR_SIZE + data_len;
}

/* compress @in (from offset 0, @len bytes) with libzstd to @out at @off */
static void zstd_copy(int in, uint64_t len, int out, uint64_t off)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    size_t isz = ZSTD_CStreamInSize(), osz = ZSTD_CStreamOutSize();
    uint8_t *ib = xmalloc(isz), *ob = xmalloc(osz);
    uint64_t done = 0;

    if (!cc) {
        die("ZSTD_createCCtx failed");
    }
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setPledgedSrcSize(cc, len);
    for (;;) {
        size_t n = (size_t)(len - done < isz ? len - done : isz);
        bool last;
        ZSTD_inBuffer zin;

        if (n && (size_t)pread(in, ib, n, (off_t)done) != n) {
            die("read error on the temporary file");
        }
        done += n;
        last = done == len;
        zin = (ZSTD_inBuffer){ ib, n, 0 };
        for (;;) {
            ZSTD_outBuffer zout = { ob, osz, 0 };
            size_t rem = ZSTD_compressStream2(cc, &zout, &zin,
                                              last ? ZSTD_e_end
                                                   : ZSTD_e_continue);

            if (ZSTD_isError(rem)) {
                die("zstd: %s", ZSTD_getErrorName(rem));
            }
            pwrite_all(out, ob, zout.pos, off);
            off += zout.pos;
            if (last ? rem == 0 : zin.pos == zin.size) {
                break;
            }
        }
        if (last) {
            break;
        }
    }
    ZSTD_freeCCtx(cc);
    free(ib);
    free(ob);
}

/* pipe @in through an external compressor into @out at @off */
static void program_copy(enum lv_format f, int in, int out, uint64_t off)
{
    static const char *const argv_gzip[] = { "gzip", "-c", NULL };
    static const char *const argv_bzip2[] = { "bzip2", "-c", NULL };
    static const char *const argv_xz[] = { "xz", "-c", "-3", NULL };
    static const char *const argv_lzop[] = { "lzop", "-c", NULL };
    const char *const *argv = f == LV_GZIP    ? argv_gzip
                              : f == LV_BZIP2 ? argv_bzip2
                              : f == LV_XZ    ? argv_xz
                                              : argv_lzop;
    /* gzip and lzop record the input's mtime: make it fixed */
    struct timespec ts[2] = { { 1700000000, 0 }, { 1700000000, 0 } };
    pid_t pid;
    int status;

    futimens(in, ts);
    if (lseek(in, 0, SEEK_SET) < 0 || lseek(out, (off_t)off, SEEK_SET) < 0) {
        die("lseek: %s", strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0) {
            _exit(127);
        }
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, PROG ": cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            die("waitpid: %s", strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        die("%s failed", argv[0]);
    }
}

/* ---- expect JSON and dumps ------------------------------------------- */

static void write_expect(struct gen *g)
{
    struct strbuf sb = { 0 };
    FILE *f;

    sb_add(&sb, "{\"format\":");
    sb_add(&sb, g->o->mapped ? "\"mapped-ram\"" : "\"stream\"");
    sb_add(&sb, ",\"machine\":");
    if (g->o->config) {
        sb_json_str(&sb, g->o->machine);
    } else {
        sb_add(&sb, "null");
    }
    sb_add(&sb, ",\"capabilities\":[");
    for (size_t i = 0; i < g->ncaps; i++) {
        sb_add(&sb, i ? "," : "");
        sb_json_str(&sb, g->caps[i]);
    }
    sb_printf(&sb, "],\"page_size\":%u,\"container\":", PAGE_SIZE);
    if (g->o->libvirt == LV_NONE) {
        sb_add(&sb, "null");
    } else {
        sb_printf(&sb, "{\"type\":\"libvirt\",\"format\":\"%s\","
                  "\"complete\":%s,\"domain\":", lv_names[g->o->libvirt],
                  g->o->lv_partial ? "false" : "true");
        sb_json_str(&sb, g->o->domain);
        sb_add(&sb, "}");
    }
    sb_printf(&sb, ",\"compression\":%s,\"ram_total\":%" PRIu64
              ",\"ramblocks\":[", g->o->zstd ? "\"zstd\"" : "null",
              g->ram_total);
    for (size_t i = 0; i < g->nblocks; i++) {
        const struct block *b = &g->blocks[i];
        uint64_t n[4] = { 0 };

        for (uint64_t p = 0; p < b->npages; p++) {
            n[b->state[p]]++;
        }
        sb_add(&sb, i ? ",{\"name\":" : "{\"name\":");
        sb_json_str(&sb, b->name);
        sb_printf(&sb, ",\"length\":%" PRIu64 ",\"present\":%" PRIu64
                  ",\"zero\":%" PRIu64 ",\"absent\":%" PRIu64 "}",
                  b->length, n[PS_PAGE] + n[PS_XBZRLE], n[PS_ZERO],
                  n[PS_ABSENT]);
    }
    sb_printf(&sb, "],\"records\":{\"page\":%" PRIu64 ",\"zero\":%" PRIu64
              ",\"xbzrle\":%" PRIu64 ",\"resent\":%" PRIu64 "},"
              "\"devices\":[", g->rec.page, g->rec.zero, g->rec.xbzrle,
              g->rec.resent);
    for (size_t i = 0; i < g->ndevs; i++) {
        const struct device *d = &g->devs[i];

        sb_printf(&sb, "%s{\"id\":%" PRIu32 ",\"name\":", i ? "," : "",
                  d->id);
        sb_json_str(&sb, d->name);
        sb_printf(&sb, ",\"instance\":%" PRIu32 ",\"version\":%" PRIu32
                  ",\"size\":%zu}", d->instance, d->version, d->size);
    }
    sb_printf(&sb, "],\"vmdesc\":%s}\n", g->o->vmdesc ? "true" : "false");

    f = fopen(g->o->expect, "w");
    if (!f) {
        die("%s: %s", g->o->expect, strerror(errno));
    }
    fwrite(sb.p, 1, sb.len, f);
    if (fclose(f) != 0) {
        die("%s: write error", g->o->expect);
    }
    free(sb.p);
}

static void write_dumps(struct gen *g)
{
    const char *dir = g->o->dump_dir;

    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        die("%s: %s", dir, strerror(errno));
    }
    for (size_t i = 0; i < g->nblocks; i++) {
        const struct block *b = &g->blocks[i];
        char *path = xmalloc(strlen(dir) + 16);
        int fd;

        sprintf(path, "%s/%03zu.ram", dir, i);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0) {
            die("%s: %s", path, strerror(errno));
        }
        pwrite_all(fd, b->mem, b->length, 0);
        if (close(fd) < 0) {
            die("%s: %s", path, strerror(errno));
        }
        free(path);
    }
}

/* release everything (keeps sanitizer leak reports meaningful) */
static void gen_free(struct gen *g)
{
    for (size_t i = 0; i < g->nblocks; i++) {
        free(g->blocks[i].name);
        free(g->blocks[i].mem);
        free(g->blocks[i].state);
    }
    free(g->blocks);
    for (size_t i = 0; i < g->ndevs; i++) {
        free(g->devs[i].name);
        if (!g->from_buf) {
            free((void *)g->devs[i].body);
        }
    }
    free(g->devs);
    free(g->from_buf);
    free(g->vmdesc_copy);
    free(g->caps);
    free(g->mark);
    free(g->out);
    for (size_t i = 0; i < g->o->ncaps; i++) {
        free(g->o->caps[i]);
    }
    free(g->o->caps);
    for (size_t i = 0; i < g->o->nignored; i++) {
        free(g->o->ignored[i]);
    }
    free(g->o->ignored);
    if (g->o->machine_owned) {
        free((void *)g->o->machine);
    }
}

/* ---- command line ---------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"Usage: " PROG " [OPTIONS] OUTPUT\n"
"Write a synthetic, deterministic QEMU migration file to OUTPUT ('-' =\n"
"standard output, classic streams only).\n"
"\n"
"  --layout=stream|mapped-ram   file layout (default stream)\n"
"  --seed=N                     PRNG seed (default 1)\n"
"  --machine=NAME               machine type (default pc-i440fx-10.0)\n"
"  --blocks=NAME:SIZE[,...]     RAM blocks in order; SIZE takes K/M/G and\n"
"                               is a multiple of 4096\n"
"  --zero-percent=P             share of zero pages in the first pass (60)\n"
"  --zero-run=N                 first-pass zero pages come in runs of N\n"
"                               pages on average (geometric), data pages\n"
"                               in between; default: each page is zero\n"
"                               on its own with probability P\n"
"  --low-entropy-percent=P      share of data pages (first pass and\n"
"                               --resend) that are low-entropy: a few\n"
"                               words in zeros, a repeated text line or\n"
"                               counters; the rest random bytes (default:\n"
"                               one of these four kinds at random)\n"
"  --resend=N                   N later-round re-sends (mapped-ram: pages\n"
"                               rewritten in place or zeroed, stale data\n"
"                               kept)\n"
"  --xbzrle=N                   N XBZRLE records (stream only)\n"
"  --devices=N                  N synthetic device sections (default 6)\n"
"  --devices-from=FILE          copy device sections, ram section id and\n"
"                               vmdesc from a real QEMU stream FILE\n"
"  --no-footers                 no section footers\n"
"  --no-config                  no configuration section\n"
"  --no-vmdesc                  no VMDESCRIPTION after EOF\n"
"  --switchover, --no-switchover  SWITCHOVER_START before END (default on)\n"
"  --advise                     POSTCOPY_ADVISE (len 0) after configuration\n"
"  --caps=NAME[,NAME...]        extra capabilities (e.g. x-ignore-shared)\n"
"  --ignored=NAME[,NAME...]     with x-ignore-shared: blocks without pages\n"
"  --parts=N                    first pass over N PART sections (default 3)\n"
"  --multifd-flush              MULTIFD_FLUSH records (stream only)\n"
"  --no-ram-end                 the last ram section is a PART: no END\n"
"  --base-offset=N              stream starts at file offset N\n"
"  --libvirt=FORMAT             libvirt save header; FORMAT is raw, zstd,\n"
"                               sparse, gzip, bzip2, xz or lzop\n"
"  --libvirt-partial            'LibvirtQemudPart' magic (incomplete save)\n"
"  --libvirt-swapped            libvirt header integers big-endian\n"
"  --domain=NAME                libvirt domain name (default fr-test)\n"
"  --zstd                       zstd-compress the whole output (stream)\n"
"  --truncate=N                 cut the output to N bytes at the end\n"
"  --expect=FILE                write the expected facts as JSON\n"
"  --dump-dir=DIR               write DIR/NNN.ram, final content per block\n"
"  --help                       show this help\n"
"\n"
"Exit status: 0 success, 1 failure, 64 bad command line.\n");
}

enum {
    O_LAYOUT = 256, O_SEED, O_MACHINE, O_BLOCKS, O_ZERO, O_ZERO_RUN,
    O_LOW_ENTROPY, O_RESEND, O_XBZRLE,
    O_DEVICES, O_DEVICES_FROM, O_NO_FOOTERS, O_NO_CONFIG, O_NO_VMDESC,
    O_SWITCHOVER, O_NO_SWITCHOVER, O_ADVISE, O_CAPS, O_IGNORED, O_PARTS,
    O_MULTIFD_FLUSH, O_NO_RAM_END, O_BASE_OFFSET, O_LIBVIRT, O_LV_PARTIAL,
    O_LV_SWAPPED,
    O_DOMAIN, O_ZSTD, O_TRUNCATE, O_EXPECT, O_DUMP_DIR, O_HELP,
};

static const struct option long_opts[] = {
    { "layout", required_argument, NULL, O_LAYOUT },
    { "seed", required_argument, NULL, O_SEED },
    { "machine", required_argument, NULL, O_MACHINE },
    { "blocks", required_argument, NULL, O_BLOCKS },
    { "zero-percent", required_argument, NULL, O_ZERO },
    { "zero-run", required_argument, NULL, O_ZERO_RUN },
    { "low-entropy-percent", required_argument, NULL, O_LOW_ENTROPY },
    { "resend", required_argument, NULL, O_RESEND },
    { "xbzrle", required_argument, NULL, O_XBZRLE },
    { "devices", required_argument, NULL, O_DEVICES },
    { "devices-from", required_argument, NULL, O_DEVICES_FROM },
    { "no-footers", no_argument, NULL, O_NO_FOOTERS },
    { "no-config", no_argument, NULL, O_NO_CONFIG },
    { "no-vmdesc", no_argument, NULL, O_NO_VMDESC },
    { "switchover", no_argument, NULL, O_SWITCHOVER },
    { "no-switchover", no_argument, NULL, O_NO_SWITCHOVER },
    { "advise", no_argument, NULL, O_ADVISE },
    { "caps", required_argument, NULL, O_CAPS },
    { "ignored", required_argument, NULL, O_IGNORED },
    { "parts", required_argument, NULL, O_PARTS },
    { "multifd-flush", no_argument, NULL, O_MULTIFD_FLUSH },
    { "no-ram-end", no_argument, NULL, O_NO_RAM_END },
    { "base-offset", required_argument, NULL, O_BASE_OFFSET },
    { "libvirt", required_argument, NULL, O_LIBVIRT },
    { "libvirt-partial", no_argument, NULL, O_LV_PARTIAL },
    { "libvirt-swapped", no_argument, NULL, O_LV_SWAPPED },
    { "domain", required_argument, NULL, O_DOMAIN },
    { "zstd", no_argument, NULL, O_ZSTD },
    { "truncate", required_argument, NULL, O_TRUNCATE },
    { "expect", required_argument, NULL, O_EXPECT },
    { "dump-dir", required_argument, NULL, O_DUMP_DIR },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

static void parse_args(struct opts *o, int argc, char **argv)
{
    int c;

    *o = (struct opts){
        .seed = 1,
        .machine = "pc-i440fx-10.0",
        .blocks = "pc.ram:4M,/rom@etc/acpi/tables:128K,pc.bios:256K,"
                  "/rom@etc/acpi/rsdp:4K",
        .zero_percent = 60,
        .low_entropy = -1,
        .ndevices = 6,
        .footers = true,
        .config = true,
        .vmdesc = true,
        .switchover = true,
        .parts = 3,
        .libvirt = LV_NONE,
        .domain = "fr-test",
    };
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case O_LAYOUT:
            if (!strcmp(optarg, "stream")) {
                o->mapped = false;
            } else if (!strcmp(optarg, "mapped-ram")) {
                o->mapped = true;
            } else {
                usage_error("--layout: expected stream or mapped-ram");
            }
            o->layout_given = true;
            break;
        case O_SEED:
            o->seed = parse_u64("--seed", optarg, false);
            break;
        case O_MACHINE:
            if (strlen(optarg) == 0) {
                usage_error("--machine: empty name");
            }
            o->machine = optarg;
            o->machine_given = true;
            break;
        case O_BLOCKS:
            o->blocks = optarg;
            break;
        case O_ZERO:
            o->zero_percent = (unsigned)parse_u64("--zero-percent", optarg,
                                                  false);
            if (o->zero_percent > 100) {
                usage_error("--zero-percent: must be 0..100");
            }
            break;
        case O_ZERO_RUN:
            o->zero_run = parse_u64("--zero-run", optarg, false);
            if (o->zero_run < 1 || o->zero_run > (UINT64_C(1) << 40)) {
                usage_error("--zero-run: must be 1..2^40 pages");
            }
            break;
        case O_LOW_ENTROPY: {
            uint64_t v = parse_u64("--low-entropy-percent", optarg, false);

            if (v > 100) {
                usage_error("--low-entropy-percent: must be 0..100");
            }
            o->low_entropy = (int)v;
            break;
        }
        case O_RESEND:
            o->resend = parse_u64("--resend", optarg, false);
            break;
        case O_XBZRLE:
            o->xbzrle = parse_u64("--xbzrle", optarg, false);
            break;
        case O_DEVICES:
            o->ndevices = (unsigned)parse_u64("--devices", optarg, false);
            if (o->ndevices > 10000) {
                usage_error("--devices: at most 10000");
            }
            o->devices_given = true;
            break;
        case O_DEVICES_FROM:
            o->devices_from = optarg;
            break;
        case O_NO_FOOTERS:
            o->footers = false;
            break;
        case O_NO_CONFIG:
            o->config = false;
            break;
        case O_NO_VMDESC:
            o->vmdesc = false;
            break;
        case O_SWITCHOVER:
            o->switchover = true;
            break;
        case O_NO_SWITCHOVER:
            o->switchover = false;
            break;
        case O_ADVISE:
            o->advise = true;
            break;
        case O_CAPS:
            add_list(&o->caps, &o->ncaps, optarg);
            break;
        case O_IGNORED:
            add_list(&o->ignored, &o->nignored, optarg);
            break;
        case O_PARTS:
            o->parts = (unsigned)parse_u64("--parts", optarg, false);
            if (o->parts < 1 || o->parts > 100000) {
                usage_error("--parts: must be 1..100000");
            }
            break;
        case O_MULTIFD_FLUSH:
            o->multifd_flush = true;
            break;
        case O_NO_RAM_END:
            o->no_ram_end = true;
            break;
        case O_BASE_OFFSET:
            o->base_offset = parse_u64("--base-offset", optarg, true);
            break;
        case O_LIBVIRT:
            o->libvirt = LV_NONE;
            for (int i = 0; i <= LV_SPARSE; i++) {
                if (!strcmp(optarg, lv_names[i])) {
                    o->libvirt = (enum lv_format)i;
                }
            }
            if (o->libvirt == LV_NONE) {
                usage_error("--libvirt: unknown format '%s'", optarg);
            }
            break;
        case O_LV_PARTIAL:
            o->lv_partial = true;
            break;
        case O_LV_SWAPPED:
            o->lv_swapped = true;
            break;
        case O_DOMAIN:
            o->domain = optarg;
            break;
        case O_ZSTD:
            o->zstd = true;
            break;
        case O_TRUNCATE:
            o->truncate_to = parse_u64("--truncate", optarg, true);
            o->truncate_given = true;
            break;
        case O_EXPECT:
            o->expect = optarg;
            break;
        case O_DUMP_DIR:
            o->dump_dir = optarg;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            if (optopt >= O_LAYOUT) {
                usage_error("option '%s' needs an argument", argv[optind - 1]);
            }
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        usage_error("expected exactly one OUTPUT");
    }
    o->output = argv[optind];
}

/* reject contradictory options; fill implied ones */
static void check_args(struct opts *o)
{
    bool ign = in_list(o->caps, o->ncaps, "x-ignore-shared");

    if (o->libvirt == LV_SPARSE) {
        if (o->layout_given && !o->mapped) {
            usage_error("--libvirt=sparse needs --layout=mapped-ram");
        }
        o->mapped = true;
    } else if (o->libvirt != LV_NONE && o->mapped) {
        usage_error("--libvirt=%s wraps a classic stream; use "
                    "--libvirt=sparse for mapped-ram", lv_names[o->libvirt]);
    }
    if ((o->lv_partial || o->lv_swapped) && o->libvirt == LV_NONE) {
        usage_error("--libvirt-partial/--libvirt-swapped need --libvirt");
    }
    if (o->zstd && (o->mapped || o->libvirt != LV_NONE)) {
        usage_error("--zstd compresses a plain classic stream only");
    }
    if (o->base_offset &&
        (o->libvirt != LV_NONE || o->zstd)) {
        usage_error("--base-offset cannot be combined with --libvirt or "
                    "--zstd");
    }
    if (o->mapped && (o->xbzrle || o->multifd_flush)) {
        usage_error("--xbzrle and --multifd-flush are for streams only");
    }
    if (o->mapped && !strcmp(o->output, "-")) {
        usage_error("a mapped-ram image cannot be written to standard "
                    "output");
    }
    if (in_list(o->caps, o->ncaps, "mapped-ram") && !o->mapped) {
        usage_error("--caps=mapped-ram: use --layout=mapped-ram");
    }
    if (o->nignored && !ign) {
        usage_error("--ignored needs --caps=x-ignore-shared");
    }
    if (o->devices_from && o->devices_given) {
        usage_error("--devices and --devices-from exclude each other");
    }
    for (size_t i = 0; i < o->ncaps; i++) {
        if (strlen(o->caps[i]) > 255) {
            usage_error("--caps: name longer than 255 bytes");
        }
    }
}

/* capability list as written: given order, duplicates dropped,
 * mapped-ram appended for the mapped-ram layout */
static void make_caps(struct gen *g)
{
    struct opts *o = g->o;

    g->caps = xcalloc(o->ncaps + 1, sizeof(*g->caps));
    if (!o->config) {
        return;
    }
    for (size_t i = 0; i < o->ncaps; i++) {
        if (!in_list(g->caps, g->ncaps, o->caps[i])) {
            g->caps[g->ncaps++] = o->caps[i];
        }
    }
    if (o->mapped && !in_list(g->caps, g->ncaps, "mapped-ram")) {
        g->caps[g->ncaps++] = "mapped-ram";
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    struct gen g = { 0 };
    bool to_stdout;
    bool compress;
    int final_fd, stream_fd;
    uint64_t base, end;

    parse_args(&o, argc, argv);
    check_args(&o);
    g.o = &o;
    g.ignore_shared = in_list(o.caps, o.ncaps, "x-ignore-shared");
    g.ram_rng.s = o.seed ^ 0x52414d2d52414d21ULL;
    g.dev_rng.s = o.seed ^ 0x444556494345532bULL;
    parse_blocks(&g);
    if (o.devices_from) {
        load_devices_from(&g);
    } else {
        make_devices(&g);
    }
    make_caps(&g);
    if (o.resend + o.xbzrle > 0 && g.total_pages == 0) {
        usage_error("--resend/--xbzrle: no pages to send again");
    }

    to_stdout = !strcmp(o.output, "-");
    if (to_stdout && isatty(1)) {
        usage_error("refusing to write binary data to a terminal");
    }
    compress = o.zstd || (o.libvirt >= LV_GZIP && o.libvirt <= LV_ZSTD);
    if (to_stdout) {
        final_fd = temp_fd();
    } else {
        final_fd = open(o.output, O_RDWR | O_CREAT | O_TRUNC, 0666);
        if (final_fd < 0) {
            die("%s: %s", o.output, strerror(errno));
        }
    }
    base = o.base_offset;
    if (o.libvirt != LV_NONE) {
        base = write_libvirt_header(&g, final_fd);
    }
    stream_fd = compress ? temp_fd() : final_fd;
    g.out = xcalloc(1, sizeof(*g.out));
    g.out->fd = stream_fd;
    g.out->pos = compress ? 0 : base;
    end = write_stream(&g);
    if (ftruncate(stream_fd, (off_t)end) < 0) {
        die("ftruncate: %s", strerror(errno));
    }
    if (compress) {
        if (o.zstd || o.libvirt == LV_ZSTD) {
            zstd_copy(stream_fd, end, final_fd, base);
        } else {
            program_copy(o.libvirt, stream_fd, final_fd, base);
        }
        close(stream_fd);
    }
    if (o.truncate_given && o.truncate_to < fd_size(final_fd)) {
        if (ftruncate(final_fd, (off_t)o.truncate_to) < 0) {
            die("ftruncate: %s", strerror(errno));
        }
    }
    if (to_stdout) {
        uint64_t size = fd_size(final_fd), off = 0;
        uint8_t *buf = xmalloc(1 << 20);

        while (off < size) {
            size_t n = (size_t)(size - off < (1 << 20) ? size - off
                                                        : (1 << 20));

            if ((size_t)pread(final_fd, buf, n, (off_t)off) != n) {
                die("read error on the temporary file");
            }
            write_all(1, buf, n);
            off += n;
        }
        free(buf);
    }
    if (close(final_fd) < 0) {
        die("%s: %s", o.output, strerror(errno));
    }
    if (o.expect) {
        write_expect(&g);
    }
    if (o.dump_dir) {
        write_dumps(&g);
    }
    gen_free(&g);
    return 0;
}
