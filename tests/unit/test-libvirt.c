/*
 * Unit tests for the libvirt save image header: Save/Part magic, native
 * and byte-swapped integers, version/length/format/cookie validation, the
 * XML and cookie, domain name extraction, payload offset, every
 * truncation, the format tables, and savefile_open on whole images (raw,
 * zstd and gzip payloads).
 */
#include "libvirt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "build.h"
#include "savefile.h"
#include "unit.h"

#define HDR 92u

static const char xml1[] =
    "<domain type='kvm'>\n"
    "  <name>guest-1</name>\n"
    "  <uuid>4a1f2a6c-0000-4000-8000-000000000001</uuid>\n"
    "  <devices><disk><name>not-this</name></disk></devices>\n"
    "</domain>\n";
static const char cookie1[] = "<cookie>\n  <cpu mode='custom'/>\n</cookie>\n";

/* Append a 92-byte header; SWAP writes the integers big-endian (the other
 * byte order than this little-endian reader's native one). */
static void put_lvhdr(struct bb *b, const char *magic, uint32_t version,
                      uint32_t data_len, uint32_t running, uint32_t format,
                      uint32_t cookie, bool swap)
{
    uint32_t v[5] = { version, data_len, running, format, cookie };

    bb_bytes(b, magic, 16);
    for (int i = 0; i < 5; i++) {
        if (swap) {
            bb_be32(b, v[i]);
        } else {
            bb_le32(b, v[i]);
        }
    }
    bb_fill(b, 0, 14 * 4);
}

/* Data area: XML, NUL, [cookie at COOKIE_OFF, NUL], zero padding to LEN. */
static void put_data(struct bb *b, const char *xml, const char *cookie,
                     uint32_t cookie_off, uint32_t len)
{
    size_t base = b->len;

    bb_bytes(b, xml, strlen(xml) + 1);
    if (cookie) {
        bb_pad_to(b, base + cookie_off);
        bb_bytes(b, cookie, strlen(cookie) + 1);
    }
    bb_pad_to(b, base + len);
}

/* Read a header from the first N bytes of P after SKIP bytes. */
static int read_n(const uint8_t *p, size_t n, size_t skip,
                  struct libvirt_hdr *h, struct fr_err *err,
                  uint64_t *tell)
{
    uint8_t *copy = malloc(n ? n : 1);
    struct fr_src s;
    int r;

    if (!copy) {
        abort();
    }
    if (n) {
        memcpy(copy, p, n);
    }
    fr_err_clear(err);
    fr_src_open_mem(&s, copy, n, err);
    fr_src_consume(&s, skip);
    r = libvirt_hdr_read(&s, h);
    *tell = fr_src_tell(&s);
    free(copy);
    return r;
}

static int read_bb(const struct bb *b, struct libvirt_hdr *h,
                   struct fr_err *err)
{
    uint64_t tell;
    return read_n(b->p, b->len, 0, h, err, &tell);
}

static void expect_bad(const struct bb *b, enum fr_errkind kind,
                       uint64_t off, const char *what, int line)
{
    struct libvirt_hdr h;
    struct fr_err err;
    int fails = unit_failures;

    EXPECT_EQ_U64(read_bb(b, &h, &err), (uint64_t)-1);
    EXPECT_EQ_U64(err.kind, kind);
    EXPECT_EQ_U64(err.offset, off);
    EXPECT_TRUE(strstr(err.what, what) != NULL);
    EXPECT_TRUE(h.xml == NULL && h.cookie == NULL);
    if (unit_failures != fails) {
        UNIT_FAIL("  (called from line %d: offset 0x%" PRIx64 ": %s)", line,
                  err.offset, err.what);
        unit_failures--;
    }
    libvirt_hdr_free(&h);
}

#define EXPECT_BAD(b, kind, off, what)                                  \
    expect_bad((b), (kind), (off), (what), __LINE__)

static void test_good(void)
{
    struct bb b = { 0 };
    struct libvirt_hdr h;
    struct fr_err err;
    uint64_t tell;
    uint32_t clen = (uint32_t)strlen(xml1) + 1;
    uint32_t dlen = clen + (uint32_t)strlen(cookie1) + 1 + 65536;

    /* Save magic, native order, no cookie, odd data length. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 333, 1, LIBVIRT_FMT_RAW, 0, false);
    put_data(&b, xml1, NULL, 0, 333);
    bb_bytes(&b, "QEVM", 4);
    EXPECT_EQ_U64(read_n(b.p, b.len, 0, &h, &err, &tell), 0);
    EXPECT_TRUE(h.complete);
    EXPECT_TRUE(!h.swapped);
    EXPECT_EQ_U64(h.version, 2);
    EXPECT_EQ_U64(h.data_len, 333);
    EXPECT_EQ_U64(h.was_running, 1);
    EXPECT_EQ_U64(h.format, LIBVIRT_FMT_RAW);
    EXPECT_EQ_U64(h.cookie_offset, 0);
    EXPECT_EQ_STR(h.xml, xml1);
    EXPECT_TRUE(h.cookie == NULL);
    EXPECT_EQ_STR(h.domain, "guest-1");
    EXPECT_EQ_U64(h.payload_offset, HDR + 333);
    EXPECT_EQ_U64(tell, HDR + 333);
    EXPECT_TRUE(libvirt_probe(b.p));
    libvirt_hdr_free(&h);
    libvirt_hdr_free(&h);       /* idempotent */
    bb_free(&b);

    /* Part magic, byte-swapped, with a cookie and libvirt's 64 KiB of
     * padding; the header read from offset 10 of its input. */
    bb_fill(&b, 0xee, 10);
    put_lvhdr(&b, LIBVIRT_MAGIC_PART, 2, dlen, 0, LIBVIRT_FMT_ZSTD, clen,
              true);
    put_data(&b, xml1, cookie1, clen, dlen);
    EXPECT_EQ_U64(read_n(b.p, b.len, 10, &h, &err, &tell), 0);
    EXPECT_TRUE(!h.complete);
    EXPECT_TRUE(h.swapped);
    EXPECT_EQ_U64(h.version, 2);
    EXPECT_EQ_U64(h.data_len, dlen);
    EXPECT_EQ_U64(h.was_running, 0);
    EXPECT_EQ_U64(h.format, LIBVIRT_FMT_ZSTD);
    EXPECT_EQ_U64(h.cookie_offset, clen);
    EXPECT_EQ_STR(h.xml, xml1);
    EXPECT_EQ_STR(h.cookie, cookie1);
    EXPECT_EQ_STR(h.domain, "guest-1");
    EXPECT_EQ_U64(h.payload_offset, 10 + HDR + dlen);
    EXPECT_EQ_U64(tell, 10 + HDR + dlen);
    EXPECT_TRUE(libvirt_probe(b.p + 10));
    libvirt_hdr_free(&h);

    /* Every truncation of it is TRUNCATED at the cut. */
    for (size_t n = 10; n < b.len; n += n < 10 + HDR + clen + 100 ? 1 : 997) {
        EXPECT_EQ_U64(read_n(b.p, n, 10, &h, &err, &tell), (uint64_t)-1);
        EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
        EXPECT_EQ_U64(err.offset, n);
        EXPECT_TRUE(h.xml == NULL);
        libvirt_hdr_free(&h);
    }
    EXPECT_EQ_U64(read_n(b.p, b.len - 1, 10, &h, &err, &tell),
                  (uint64_t)-1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    bb_free(&b);

    /* Version 1, native; each format 0..6 in version 2, both orders. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 1, 64, 0, LIBVIRT_FMT_RAW, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 64);
    EXPECT_EQ_U64(read_bb(&b, &h, &err), 0);
    EXPECT_EQ_U64(h.version, 1);
    EXPECT_EQ_STR(h.domain, "");
    libvirt_hdr_free(&h);
    bb_free(&b);
    for (uint32_t f = 0; f < LIBVIRT_FMT_COUNT; f++) {
        for (int swap = 0; swap < 2; swap++) {
            put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 1, f, 0, swap);
            put_data(&b, "<domain/>", NULL, 0, 16);
            EXPECT_EQ_U64(read_bb(&b, &h, &err), 0);
            EXPECT_EQ_U64(h.format, f);
            EXPECT_EQ_U64(h.swapped, swap);
            EXPECT_EQ_U64(h.data_len, 16);
            EXPECT_EQ_U64(h.payload_offset, HDR + 16);
            libvirt_hdr_free(&h);
            bb_free(&b);
        }
    }

    /* A cookie right after the XML, and at the last byte of the area. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 40, 0, 0, 10, false);
    put_data(&b, "<domain/>", "<c/>", 10, 40);
    EXPECT_EQ_U64(read_bb(&b, &h, &err), 0);
    EXPECT_EQ_STR(h.xml, "<domain/>");
    EXPECT_EQ_STR(h.cookie, "<c/>");
    libvirt_hdr_free(&h);
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 40, 0, 0, 39, false);
    put_data(&b, "<domain/>", NULL, 0, 40);
    EXPECT_EQ_U64(read_bb(&b, &h, &err), 0);
    EXPECT_EQ_STR(h.cookie, "");
    libvirt_hdr_free(&h);
    bb_free(&b);
}

static void test_domain_name(void)
{
    static const struct {
        const char *xml;
        const char *name;
    } cases[] = {
        { "<domain><name>a</name></domain>", "a" },
        { "<domain><name></name></domain>", "" },
        { "<domain><name>open", "" },
        { "<domain><uuid/></domain>", "" },
        { "<domain>\n<name>vm with spaces</name>\n</domain>",
          "vm with spaces" },
    };
    struct bb b = { 0 };
    struct libvirt_hdr h;
    struct fr_err err;
    char xml[600];

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 600, 0, 0, 0, false);
        put_data(&b, cases[i].xml, NULL, 0, 600);
        EXPECT_EQ_U64(read_bb(&b, &h, &err), 0);
        EXPECT_EQ_STR(h.domain, cases[i].name);
        libvirt_hdr_free(&h);
        bb_free(&b);
    }

    /* 255 characters fit, 256 do not. */
    for (size_t len = 255; len <= 256; len++) {
        snprintf(xml, sizeof(xml), "<domain><name>%0*d</name></domain>",
                 (int)len, 7);
        put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 600, 0, 0, 0, false);
        put_data(&b, xml, NULL, 0, 600);
        EXPECT_EQ_U64(read_bb(&b, &h, &err), 0);
        EXPECT_EQ_U64(strlen(h.domain), len == 255 ? 255 : 0);
        libvirt_hdr_free(&h);
        bb_free(&b);
    }
}

static void test_bad(void)
{
    struct bb b = { 0 };
    struct libvirt_hdr h;
    struct fr_err err;
    uint64_t tell;

    /* Not a libvirt image. */
    put_lvhdr(&b, "LibvirtQemudXXXX", 2, 16, 0, 0, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_NOTMIG, 0, "bad magic");
    EXPECT_TRUE(!libvirt_probe(b.p));
    bb_free(&b);

    /* Version 3 (either order), 0, and a swapped version 0x300. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 3, 16, 0, 0, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_UNSUPPORTED, 16, "version 3 ");
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 3, 16, 0, 0, 0, true);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_UNSUPPORTED, 16, "version 3 ");
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 0, 16, 0, 0, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_UNSUPPORTED, 16, "version 0");
    bb_free(&b);

    /* data_len 0 and absurdly large, in both orders. */
    for (int swap = 0; swap < 2; swap++) {
        put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 0, 0, 0, 0, swap);
        EXPECT_BAD(&b, FR_E_CORRUPT, 20, "data length 0");
        bb_free(&b);
        put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, (64u << 20) + 1, 0, 0, 0, swap);
        EXPECT_BAD(&b, FR_E_CORRUPT, 20, "data length");
        bb_free(&b);
    }

    /* Format 7 and beyond. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 7, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_UNSUPPORTED, 28, "format 7");
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 7, 0, true);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_UNSUPPORTED, 28, "format 7");
    bb_free(&b);

    /* Version 1 images are never compressed. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 1, 16, 0, 1, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_CORRUPT, 28, "version 1");
    bb_free(&b);

    /* Cookie offset at or past the end of the data area. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 0, 16, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_CORRUPT, 32, "cookie offset 16");
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 0, 0xffffffff, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_CORRUPT, 32, "cookie offset");
    bb_free(&b);

    /* XML without a NUL (no cookie: in the whole area; with a cookie:
     * before the cookie), and an empty XML. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 0, 0, false);
    bb_fill(&b, 'x', 16);
    EXPECT_BAD(&b, FR_E_CORRUPT, HDR, "not NUL-terminated");
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 32, 0, 0, 9, false);
    put_data(&b, "<domain/>", "<c/>", 9, 32);
    EXPECT_BAD(&b, FR_E_CORRUPT, HDR, "not NUL-terminated");
    bb_free(&b);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 0, 0, false);
    put_data(&b, "", NULL, 0, 16);
    EXPECT_BAD(&b, FR_E_CORRUPT, HDR, "empty");
    bb_free(&b);

    /* Errors are relative to where the header starts. */
    bb_fill(&b, 0, 7);
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, 16, 0, 9, 0, false);
    put_data(&b, "<domain/>", NULL, 0, 16);
    EXPECT_EQ_U64(read_n(b.p, b.len, 7, &h, &err, &tell), (uint64_t)-1);
    EXPECT_EQ_U64(err.kind, FR_E_UNSUPPORTED);
    EXPECT_EQ_U64(err.offset, 7 + 28);
    libvirt_hdr_free(&h);
    bb_free(&b);

    /* An empty input. */
    EXPECT_EQ_U64(read_n((const uint8_t *)"", 0, 0, &h, &err, &tell),
                  (uint64_t)-1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, 0);
}

static void test_formats(void)
{
    static const char *const names[] = {
        "raw", "gzip", "bzip2", "xz", "lzop", "zstd", "sparse",
    };
    const char *const *d;

    for (uint32_t f = 0; f < LIBVIRT_FMT_COUNT; f++) {
        EXPECT_EQ_STR(libvirt_format_name(f), names[f]);
    }
    EXPECT_TRUE(libvirt_format_name(7) == NULL);
    EXPECT_TRUE(libvirt_format_name(UINT32_MAX) == NULL);

    EXPECT_TRUE(libvirt_format_decompressor(LIBVIRT_FMT_RAW) == NULL);
    EXPECT_TRUE(libvirt_format_decompressor(LIBVIRT_FMT_ZSTD) == NULL);
    EXPECT_TRUE(libvirt_format_decompressor(LIBVIRT_FMT_SPARSE) == NULL);
    EXPECT_TRUE(libvirt_format_decompressor(7) == NULL);
    EXPECT_TRUE(libvirt_format_decompressor(UINT32_MAX) == NULL);
    d = libvirt_format_decompressor(LIBVIRT_FMT_GZIP);
    EXPECT_TRUE(d && d[0] && d[1] && !d[2]);
    if (d) {
        EXPECT_EQ_STR(d[0], "gzip");
        EXPECT_EQ_STR(d[1], "-dc");
    }
    d = libvirt_format_decompressor(LIBVIRT_FMT_BZIP2);
    EXPECT_TRUE(d && d[0] && d[1] && !d[2]);
    if (d) {
        EXPECT_EQ_STR(d[0], "bzip2");
        EXPECT_EQ_STR(d[1], "-dc");
    }
    d = libvirt_format_decompressor(LIBVIRT_FMT_XZ);
    EXPECT_TRUE(d && d[0] && d[1] && !d[2]);
    if (d) {
        EXPECT_EQ_STR(d[0], "xz");
        EXPECT_EQ_STR(d[1], "-dc");
    }
    d = libvirt_format_decompressor(LIBVIRT_FMT_LZOP);
    EXPECT_TRUE(d && d[0] && d[1] && d[2] && !d[3]);
    if (d) {
        EXPECT_EQ_STR(d[0], "lzop");
        EXPECT_EQ_STR(d[1], "-dc");
        EXPECT_EQ_STR(d[2], "--ignore-warn");
    }
}

/* ---- whole images through savefile_open ---------------------------------- */

/* A tiny QEVM stream: header, EOF, vmdesc. */
static void put_stream(struct bb *b)
{
    put_hdr(b);
    put_config(b, "pc-i440fx-10.0");
    bb_u8(b, 0x00);
    put_vmdesc(b, "{\"page_size\":4096,\"devices\":[]}");
}

static void write_file(const struct bb *b, char *name)
{
    int fd = mkstemp(name);
    size_t done = 0;

    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    while (done < b->len) {
        ssize_t r = write(fd, b->p + done, b->len - done);
        if (r <= 0) {
            perror("write");
            abort();
        }
        done += (size_t)r;
    }
    close(fd);
}

static bool have_gzip(void)
{
    return access("/usr/bin/gzip", X_OK) == 0 ||
           access("/bin/gzip", X_OK) == 0;
}

static void test_images(void)
{
    struct bb st = { 0 }, b = { 0 };
    struct savefile sf;
    struct sf_summary sum;
    char name[32];
    uint32_t dlen = 1000;
    uint64_t pay = HDR + dlen;

    put_stream(&st);

    /* raw: the stream follows the data area, offsets are file offsets. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, dlen, 1, LIBVIRT_FMT_RAW, 0, false);
    put_data(&b, xml1, NULL, 0, dlen);
    bb_bytes(&b, st.p, st.len);
    strcpy(name, "/tmp/fr-test-lv-XXXXXX");
    write_file(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
    EXPECT_TRUE(sf.libvirt);
    EXPECT_TRUE(sf.compression == NULL);
    EXPECT_EQ_STR(sf.lv.domain, "guest-1");
    EXPECT_EQ_U64(sf.stream_offset, pay);
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
    EXPECT_EQ_STR(sum.sv.cfg.machine, "pc-i440fx-10.0");
    EXPECT_EQ_U64(sum.sv.cfg.offset, pay + 8);
    EXPECT_EQ_U64(sum.eof_offset, pay + 27);
    EXPECT_TRUE(sum.have_vmdesc);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);

    /* zstd (format 5): decompressed in process. */
    {
        size_t cap = ZSTD_compressBound(st.len);
        uint8_t *z = malloc(cap);
        size_t zl;

        if (!z) {
            abort();
        }
        zl = ZSTD_compress(z, cap, st.p, st.len, 3);
        EXPECT_TRUE(!ZSTD_isError(zl));
        put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, dlen, 0, LIBVIRT_FMT_ZSTD, 0,
                  true);
        put_data(&b, xml1, NULL, 0, dlen);
        bb_bytes(&b, z, zl);
        free(z);
    }
    strcpy(name, "/tmp/fr-test-lv-XXXXXX");
    write_file(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
    EXPECT_TRUE(sf.libvirt && sf.lv.swapped);
    EXPECT_TRUE(sf.compression && strcmp(sf.compression, "zstd") == 0);
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
    EXPECT_TRUE(sum.have_vmdesc);
    EXPECT_EQ_U64(sum.eof_offset, 27);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);

    /* zstd declared, raw stream inside: the payload is not zstd. */
    put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, dlen, 0, LIBVIRT_FMT_ZSTD, 0, false);
    put_data(&b, xml1, NULL, 0, dlen);
    bb_bytes(&b, st.p, st.len);
    strcpy(name, "/tmp/fr-test-lv-XXXXXX");
    write_file(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), (uint64_t)-1);
    EXPECT_EQ_U64(sf.err.kind, FR_E_CORRUPT);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);

    /* A libvirt image whose header is cut short. */
    put_lvhdr(&b, LIBVIRT_MAGIC_PART, 2, dlen, 0, LIBVIRT_FMT_RAW, 0, false);
    put_data(&b, xml1, NULL, 0, 100);
    strcpy(name, "/tmp/fr-test-lv-XXXXXX");
    write_file(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), (uint64_t)-1);
    EXPECT_EQ_U64(sf.err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(sf.err.offset, b.len);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);

    /* gzip (format 1), through the external program when installed. */
    if (!have_gzip()) {
        printf("note: gzip not found; skipping the gzip image test\n");
        bb_free(&st);
        return;
    }
    {
        static const char *const gz[] = { "gzip", "-c", "-n", NULL };
        struct fr_err err;
        struct fr_src in, out;
        const uint8_t *p;
        size_t avail;

        put_lvhdr(&b, LIBVIRT_MAGIC_SAVE, 2, dlen, 0, LIBVIRT_FMT_GZIP, 0,
                  false);
        put_data(&b, xml1, NULL, 0, dlen);
        fr_err_clear(&err);
        fr_src_open_mem(&in, st.p, st.len, &err);
        EXPECT_TRUE(fr_src_open_filter(&out, &in, gz) == 0);
        while ((p = fr_src_peek_upto(&out, 65536, &avail)) && avail) {
            bb_bytes(&b, p, avail);
            fr_src_consume(&out, avail);
        }
        EXPECT_TRUE(!fr_src_failed(&out));
        fr_src_close(&out);
    }
    strcpy(name, "/tmp/fr-test-lv-XXXXXX");
    write_file(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
    EXPECT_TRUE(sf.compression && strcmp(sf.compression, "gzip") == 0);
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
    EXPECT_TRUE(sum.have_vmdesc);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);
    bb_free(&st);
}

int main(void)
{
    test_good();
    test_domain_name();
    test_bad();
    test_formats();
    test_images();
    return unit_done();
}
