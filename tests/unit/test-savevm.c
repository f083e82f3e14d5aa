/*
 * Unit tests for savevm framing, driven through savefile_walk on memory:
 * file header, configuration section and its subsections, section tokens
 * and footers, commands, EOF and vmdesc, device-body delimiting (fake
 * footers inside bodies, streams without footers), every truncation of a
 * realistic stream, and (on a regular file) delimiting by the vmdesc.
 *
 * Inputs are hand-built byte arrays, copied into buffers of exactly their
 * length so that ASan catches any read past the end.
 */
#include "savefile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "unit.h"
#include "walk.h"

/* A ram START body: one 2-page block "pc.ram", EOS. */
static void put_ram_start_body(struct bb *b)
{
    bb_be64(b, 0x2000 | 0x4);
    bb_str(b, "pc.ram");
    bb_be64(b, 0x2000);
    bb_be64(b, 0x10);
}

/* hdr + config + ram START (id RAM_ID) with footer. */
#define RAM_ID 1u
static void put_prologue(struct bb *b, bool footers)
{
    put_hdr(b);
    put_config(b, "pc-i440fx-10.0");
    put_open(b, 0x01, RAM_ID, "ram", 0, 4);
    put_ram_start_body(b);
    if (footers) {
        put_footer(b, RAM_ID);
    }
}

/* ---- header -------------------------------------------------------------- */

static void test_header(void)
{
    struct bb b = { 0 };
    struct walk w;

    /* The smallest stream: header and EOF. */
    put_hdr(&b);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_TRUE(!w.sum.sv.cfg.present);
    EXPECT_EQ_U64(w.sum.sv.version, 3);
    EXPECT_TRUE(w.sum.have_eof);
    EXPECT_EQ_U64(w.sum.eof_offset, 8);
    EXPECT_TRUE(!w.sum.have_vmdesc);
    EXPECT_TRUE(!w.sum.have_ram);
    EXPECT_EQ_U64(w.sum.ndevs, 0);
    EXPECT_EQ_U64(w.sum.end_offset, 9);
    EXPECT_EQ_U64(w.sum.trailing, 0);
    EXPECT_EQ_U64(w.sum.ram.page_size, 4096);
    walk_done(&w);

    /* Every shorter prefix is truncated at its end. */
    for (size_t n = 0; n < b.len; n++) {
        EXPECT_EQ_U64(walk_n(&w, b.p, n), (uint64_t)-1);
        EXPECT_EQ_U64(w.sf.err.kind, FR_E_TRUNCATED);
        EXPECT_EQ_U64(w.sf.err.offset, n);
        walk_done(&w);
    }

    /* Bad magic: not a migration stream. */
    b.p[0] = 'X';
    EXPECT_FAIL(&b, FR_E_NOTMIG, 0, "bad magic");
    b.p[0] = 0x51;

    /* Version 2 is obsolete, 4 unknown. */
    bb_patch_be32(&b, 4, 2);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 4, "version 2");
    bb_patch_be32(&b, 4, 4);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 4, "version 4");
    bb_free(&b);

    /* A libvirt header is not a QEVM stream. */
    bb_bytes(&b, "LibvirtQemudSave", 16);
    EXPECT_FAIL(&b, FR_E_NOTMIG, 0, NULL);
    bb_free(&b);
}

/* ---- configuration ------------------------------------------------------- */

static const uint8_t uuid[16] = {
    0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
    0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21,
};

static void test_config(void)
{
    struct bb b = { 0 };
    struct walk w;
    size_t cfg_end, at;

    /* All three subsections, in declaration order. */
    put_hdr(&b);
    put_config(&b, "pc-i440fx-10.0");
    put_subsec(&b, "configuration/target-page-bits", 1);
    bb_be32(&b, 12);
    put_subsec(&b, "configuration/capabilities", 1);
    bb_be32(&b, 2);
    bb_str(&b, "x-ignore-shared");
    bb_str(&b, "mapped-ram");
    put_subsec(&b, "configuration/uuid", 1);
    bb_bytes(&b, uuid, 16);
    cfg_end = b.len;
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_TRUE(w.sum.sv.cfg.present);
    EXPECT_EQ_U64(w.sum.sv.cfg.offset, 8);
    EXPECT_EQ_U64(w.sum.sv.cfg.length, cfg_end - 8);
    EXPECT_EQ_STR(w.sum.sv.cfg.machine, "pc-i440fx-10.0");
    EXPECT_TRUE(w.sum.sv.cfg.has_page_bits);
    EXPECT_EQ_U64(w.sum.sv.cfg.page_bits, 12);
    EXPECT_EQ_U64(w.sum.sv.cfg.ncaps, 2);
    EXPECT_EQ_STR(w.sum.sv.cfg.caps[0], "x-ignore-shared");
    EXPECT_EQ_STR(w.sum.sv.cfg.caps[1], "mapped-ram");
    EXPECT_TRUE(w.sum.sv.cfg.has_uuid);
    EXPECT_MEM(w.sum.sv.cfg.uuid, uuid, 16);
    EXPECT_TRUE(sv_has_cap(&w.sum.sv.cfg, "mapped-ram"));
    EXPECT_TRUE(!sv_has_cap(&w.sum.sv.cfg, "multifd"));
    EXPECT_TRUE(w.sum.ram.mapped_ram);
    EXPECT_TRUE(w.sum.ram.ignore_shared);
    EXPECT_EQ_U64(w.sum.ram.page_size, 4096);
    EXPECT_EQ_U64(w.sum.eof_offset, cfg_end);
    walk_done(&w);
    /* Every truncation is an error at or before the cut. */
    for (size_t n = 0; n < cfg_end; n++) {
        EXPECT_EQ_U64(walk_n(&w, b.p, n), (uint64_t)-1);
        EXPECT_TRUE(w.sf.err.kind != FR_E_NONE);
        EXPECT_TRUE(w.sf.err.offset <= n);
        walk_done(&w);
    }
    bb_free(&b);

    /* Any order; target-page-bits 16 gives 64 KiB pages; empty cap list. */
    put_hdr(&b);
    put_config(&b, "virt-10.0");
    put_subsec(&b, "configuration/capabilities", 1);
    bb_be32(&b, 0);
    put_subsec(&b, "configuration/target-page-bits", 1);
    bb_be32(&b, 16);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_STR(w.sum.sv.cfg.machine, "virt-10.0");
    EXPECT_EQ_U64(w.sum.sv.cfg.ncaps, 0);
    EXPECT_TRUE(!w.sum.sv.cfg.has_uuid);
    EXPECT_EQ_U64(w.sum.ram.page_size, 65536);
    EXPECT_TRUE(!w.sum.ram.mapped_ram);
    walk_done(&w);
    bb_free(&b);

    /* Page bits out of range. */
    put_hdr(&b);
    put_config(&b, "virt-10.0");
    put_subsec(&b, "configuration/target-page-bits", 1);
    at = b.len;
    bb_be32(&b, 9);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "target page bits");
    bb_patch_be32(&b, at, 17);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "target page bits");
    bb_free(&b);

    /* An unknown subsection of "configuration" is fatal. */
    put_hdr(&b);
    put_config(&b, "pc-q35-10.0");
    at = b.len;
    put_subsec(&b, "configuration/foo", 1);
    bb_be32(&b, 0);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, at, "'configuration/foo'");
    bb_free(&b);

    /* Subsection version other than 1. */
    put_hdr(&b);
    put_config(&b, "pc-q35-10.0");
    at = b.len;
    put_subsec(&b, "configuration/uuid", 2);
    bb_bytes(&b, uuid, 16);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, at, "version 2");
    bb_free(&b);

    /* A subsection of another parent ends the list; its 05 byte is then an
     * unknown top-level token. */
    put_hdr(&b);
    put_config(&b, "pc-q35-10.0");
    put_subsec(&b, "configuration/uuid", 1);
    bb_bytes(&b, uuid, 16);
    at = b.len;
    put_subsec(&b, "timer/foo", 1);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "unknown section type 0x05");
    bb_free(&b);

    /* Too many capabilities, and an empty capability name. */
    put_hdr(&b);
    put_config(&b, "pc-q35-10.0");
    put_subsec(&b, "configuration/capabilities", 1);
    at = b.len;
    bb_be32(&b, 65);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "65 capabilities");
    bb_patch_be32(&b, at, 2);
    b.len = at + 4;
    bb_str(&b, "mapped-ram");
    size_t empty_at = b.len;
    bb_u8(&b, 0);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, empty_at, "empty capability");
    bb_free(&b);

    /* Machine type length 0 and over the limit. */
    put_hdr(&b);
    bb_u8(&b, 0x07);
    bb_be32(&b, 0);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, 9, "machine type length");
    bb_patch_be32(&b, 9, 1025);
    EXPECT_FAIL(&b, FR_E_CORRUPT, 9, "machine type length");
    bb_free(&b);

    /* A second configuration section. */
    put_hdr(&b);
    put_config(&b, "pc");
    at = b.len;
    put_config(&b, "pc");
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "configuration section");
    bb_free(&b);
}

/* ---- sections, footers, commands ----------------------------------------- */

/*
 * A device body of *LEN bytes that contains fake footers for ID followed
 * by: garbage, a PART for an id no START opened, (TRAP) an EOF byte not
 * followed by a vmdesc, and a FULL reusing an id; plus a footer for
 * another id.  (Without TRAP: a stream cut right after "7e id 00" is
 * indistinguishable from a complete stream without vmdesc, so the
 * truncation test leaves that one out.)
 */
static void put_tricky_body(struct bb *b, uint32_t id, size_t *len,
                            bool trap)
{
    size_t start = b->len;

    bb_bytes(b, "\x01\x02\x03", 3);
    put_footer(b, id);
    bb_bytes(b, "\xff\xee\xdd\xcc", 4);
    put_footer(b, id + 100);
    bb_u8(b, 0x00);
    put_footer(b, id);
    put_cont(b, 0x02, 4242);
    if (trap) {
        put_footer(b, id);
        bb_u8(b, 0x00);         /* EOF, but not followed by a vmdesc */
        bb_u8(b, 0x42);
    }
    put_footer(b, id);
    put_open(b, 0x04, RAM_ID, "timer", 0, 1);   /* id already used */
    bb_bytes(b, "tail", 4);
    *len = b->len - start;
}

struct dev_expect {
    uint8_t type;
    uint32_t id;
    const char *name;
    uint32_t inst, ver;
    size_t off, body_off, body_len;
};

static void check_devs(const struct sf_summary *sum,
                       const struct dev_expect *d, size_t n,
                       enum sv_delim how)
{
    EXPECT_EQ_U64(sum->ndevs, n);
    for (size_t i = 0; i < n && i < sum->ndevs; i++) {
        const struct sv_section *sec = sf_device_section(sum, &sum->devs[i]);
        EXPECT_EQ_U64(sum->devs[i].type, d[i].type);
        EXPECT_EQ_U64(sec->id, d[i].id);
        EXPECT_EQ_STR(sec->idstr, d[i].name);
        EXPECT_EQ_U64(sec->instance, d[i].inst);
        EXPECT_EQ_U64(sec->version, d[i].ver);
        EXPECT_EQ_U64(sum->devs[i].offset, d[i].off);
        EXPECT_EQ_U64(sum->devs[i].body_offset, d[i].body_off);
        EXPECT_EQ_U64(sum->devs[i].body_len, d[i].body_len);
        if (d[i].type == 0x04) {
            EXPECT_EQ_U64(sum->devs[i].delim, how);
        }
    }
}

/*
 * The realistic stream: config, ram START/PART/END with footers, a live
 * non-ram device (START/PART/END), SWITCHOVER_START, two FULL devices (one
 * with fake footers in its body), EOF and a vmdesc describing the two FULL
 * devices in the old-style form.  D gets the expected device list.
 */
static size_t build_stream(struct bb *b, struct dev_expect *d, bool footers,
                           bool vmdesc, size_t *eof_at, bool trap)
{
    size_t n = 0, tricky;

    put_prologue(b, footers);
    /* ram PART: one ZERO record. */
    put_cont(b, 0x02, RAM_ID);
    bb_be64(b, 0x1000 | 0x02);
    bb_str(b, "pc.ram");
    bb_u8(b, 0);
    bb_be64(b, 0x10);
    if (footers) {
        put_footer(b, RAM_ID);
    }
    /* A live device: START, PART, END. */
    d[n] = (struct dev_expect){ 0x01, 7, "0000:00:02.0/vfio", 0, 1, b->len,
                                0, 6 };
    put_open(b, 0x01, 7, "0000:00:02.0/vfio", 0, 1);
    d[n].body_off = b->len;
    bb_bytes(b, "abcdef", 6);
    if (footers) {
        put_footer(b, 7);
    }
    n++;
    d[n] = (struct dev_expect){ 0x02, 7, "0000:00:02.0/vfio", 0, 1, b->len,
                                b->len + 5, 3 };
    put_cont(b, 0x02, 7);
    bb_bytes(b, "ghi", 3);
    if (footers) {
        put_footer(b, 7);
    }
    n++;
    put_cmd(b, 11, 0, NULL);
    put_cont(b, 0x03, RAM_ID);
    bb_be64(b, 0x10);
    if (footers) {
        put_footer(b, RAM_ID);
    }
    d[n] = (struct dev_expect){ 0x03, 7, "0000:00:02.0/vfio", 0, 1, b->len,
                                b->len + 5, 0 };
    put_cont(b, 0x03, 7);
    if (footers) {
        put_footer(b, 7);
    }
    n++;
    /* Two FULL devices. */
    d[n] = (struct dev_expect){ 0x04, 0, "timer", 0, 2, b->len, 0, 24 };
    put_open(b, 0x04, 0, "timer", 0, 2);
    d[n].body_off = b->len;
    for (unsigned i = 0; i < 24; i++) {
        bb_u8(b, (uint8_t)(0x30 + i));
    }
    if (footers) {
        put_footer(b, 0);
    }
    n++;
    d[n] = (struct dev_expect){ 0x04, 5, "apic", 3, 4, b->len, 0, 0 };
    put_open(b, 0x04, 5, "apic", 3, 4);
    d[n].body_off = b->len;
    put_tricky_body(b, 5, &tricky, trap);
    d[n].body_len = tricky;
    if (footers) {
        put_footer(b, 5);
    }
    n++;
    *eof_at = b->len;
    bb_u8(b, 0x00);
    if (vmdesc) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"page_size\":4096,\"devices\":["
                 "{\"name\":\"timer\",\"instance_id\":0,\"size\":24,"
                 "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\","
                 "\"size\":24}]},"
                 "{\"name\":\"apic\",\"instance_id\":3,\"size\":%zu,"
                 "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\","
                 "\"size\":%zu}]}]}", tricky, tricky);
        put_vmdesc(b, json);
    }
    return n;
}

static void test_sections(void)
{
    struct bb b = { 0 };
    struct dev_expect d[8];
    struct walk w;
    size_t nd, eof_at, at;

    nd = build_stream(&b, d, true, true, &eof_at, true);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    check_devs(&w.sum, d, nd, SV_DELIM_FOOTER);
    EXPECT_EQ_U64(w.sum.sv.footers, SV_FOOTERS_ON);
    EXPECT_TRUE(w.sum.have_ram);
    EXPECT_EQ_U64(w.sum.ram_section_id, RAM_ID);
    EXPECT_EQ_U64(w.sum.ram.n_sections, 3);
    EXPECT_EQ_U64(w.sum.ram.n_zero, 1);
    EXPECT_EQ_U64(w.sum.ncmds, 1);
    EXPECT_EQ_U64(w.sum.cmds[0].cmd, 11);
    EXPECT_EQ_U64(w.sum.cmds[0].len, 0);
    EXPECT_TRUE(w.sum.have_eof);
    EXPECT_EQ_U64(w.sum.eof_offset, eof_at);
    EXPECT_TRUE(w.sum.have_vmdesc);
    EXPECT_EQ_U64(w.sum.vmdesc_offset, eof_at + 1);
    EXPECT_EQ_U64(w.sum.vmdesc_len, b.len - eof_at - 6);
    EXPECT_TRUE(!w.sum.vmdesc_used);
    EXPECT_EQ_U64(w.sum.end_offset, b.len);
    EXPECT_EQ_U64(w.sum.trailing, 0);
    walk_done(&w);

    /* Bytes after the vmdesc are counted, not parsed. */
    bb_bytes(&b, "\x00\x00\x07junk", 7);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.trailing, 7);
    EXPECT_EQ_U64(w.sum.end_offset, b.len - 7);
    walk_done(&w);
    bb_free(&b);

    /* Without a vmdesc; then garbage after EOF that is not a vmdesc. */
    nd = build_stream(&b, d, true, false, &eof_at, true);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    check_devs(&w.sum, d, nd, SV_DELIM_FOOTER);
    EXPECT_TRUE(!w.sum.have_vmdesc);
    EXPECT_EQ_U64(w.sum.end_offset, b.len);
    walk_done(&w);
    bb_free(&b);

    /* No footers and no vmdesc: the first device section cannot be
     * delimited. */
    nd = build_stream(&b, d, false, false, &eof_at, true);
    EXPECT_FAIL(&b, FR_E_LIMIT, d[0].body_off, "no section footers");
    bb_free(&b);
    /* ... nor with a vmdesc on a memory source (it is only found up front
     * on regular files), and the vfio START is never in a vmdesc. */
    nd = build_stream(&b, d, false, true, &eof_at, true);
    EXPECT_FAIL(&b, FR_E_LIMIT, d[0].body_off, "'0000:00:02.0/vfio'");
    bb_free(&b);

    /* No footers, FULL devices only, and the rest of the stream (with its
     * vmdesc) fits in the read window: the vmdesc sizes the bodies. */
    put_prologue(&b, false);
    put_open(&b, 0x04, 0, "timer", 0, 2);
    size_t t_body = b.len;
    bb_bytes(&b, "\x7e\x00\x00\x00\x00\x00\x06\x00", 8);
    put_open(&b, 0x04, 5, "apic", 3, 4);
    bb_bytes(&b, "abc", 3);
    bb_u8(&b, 0x00);
    put_vmdesc(&b, "{\"page_size\":4096,\"devices\":["
               "{\"name\":\"timer\",\"instance_id\":0,\"size\":8,"
               "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\","
               "\"size\":8}]},"
               "{\"name\":\"apic\",\"instance_id\":3,\"size\":3,"
               "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\","
               "\"size\":3}]}]}");
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.sv.footers, SV_FOOTERS_OFF);
    EXPECT_EQ_U64(w.sum.ndevs, 2);
    if (w.sum.ndevs == 2) {
        EXPECT_EQ_U64(w.sum.devs[0].body_offset, t_body);
        EXPECT_EQ_U64(w.sum.devs[0].body_len, 8);
        EXPECT_EQ_U64(w.sum.devs[0].delim, SV_DELIM_VMDESC);
        EXPECT_EQ_U64(w.sum.devs[1].body_len, 3);
    }
    walk_done(&w);
    /* ... but not when the vmdesc is cut off. */
    EXPECT_EQ_U64(walk_n(&w, b.p, b.len - 1), (uint64_t)-1);
    EXPECT_EQ_U64(w.sf.err.kind, FR_E_LIMIT);
    EXPECT_EQ_U64(w.sf.err.offset, t_body);
    walk_done(&w);
    bb_free(&b);

    /* No footers, only ram: fine. */
    put_prologue(&b, false);
    put_cmd(&b, 11, 0, NULL);
    put_cont(&b, 0x03, RAM_ID);
    bb_be64(&b, 0x10);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.sv.footers, SV_FOOTERS_OFF);
    walk_done(&w);
    bb_free(&b);

    /* Footer id mismatch. */
    put_hdr(&b);
    put_open(&b, 0x01, RAM_ID, "ram", 0, 4);
    put_ram_start_body(&b);
    at = b.len;
    put_footer(&b, RAM_ID + 1);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "mismatched section id in footer");
    bb_free(&b);

    /* A missing footer once the stream has them. */
    put_prologue(&b, true);
    put_cont(&b, 0x02, RAM_ID);
    bb_be64(&b, 0x10);
    at = b.len;
    put_cmd(&b, 11, 0, NULL);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "missing section footer for 'ram'");
    bb_free(&b);

    /* A device footer with the wrong id: the scan does not accept it, so
     * the body runs to the end of the input. */
    put_prologue(&b, true);
    put_open(&b, 0x04, 3, "timer", 0, 1);
    bb_bytes(&b, "12345678", 8);
    put_footer(&b, 4);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len, "no footer ends device section");
    bb_free(&b);

    /* PART for an id no START opened, for a FULL, after END. */
    put_prologue(&b, true);
    at = b.len + 1;
    put_cont(&b, 0x02, 99);
    bb_be64(&b, 0x10);
    put_footer(&b, 99);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "id 99");
    bb_free(&b);

    put_prologue(&b, true);
    put_open(&b, 0x04, 3, "timer", 0, 1);
    bb_bytes(&b, "1234", 4);
    put_footer(&b, 3);
    put_cont(&b, 0x02, RAM_ID);
    bb_be64(&b, 0x10);
    put_footer(&b, RAM_ID);
    at = b.len + 1;
    put_cont(&b, 0x03, 3);
    put_footer(&b, 3);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "no START");
    bb_free(&b);

    put_prologue(&b, true);
    put_cont(&b, 0x03, RAM_ID);
    bb_be64(&b, 0x10);
    put_footer(&b, RAM_ID);
    at = b.len + 1;
    put_cont(&b, 0x02, RAM_ID);
    bb_be64(&b, 0x10);
    put_footer(&b, RAM_ID);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "after its END");
    bb_free(&b);

    /* The same section id opened twice. */
    put_prologue(&b, true);
    at = b.len + 1;
    put_open(&b, 0x04, RAM_ID, "timer", 0, 1);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "appears twice");
    bb_free(&b);

    /* Empty and unprintable section names. */
    put_prologue(&b, true);
    at = b.len + 1;
    put_open(&b, 0x04, 3, "", 0, 1);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 4, "empty or unprintable");
    bb_free(&b);
    put_prologue(&b, true);
    at = b.len + 1;
    put_open(&b, 0x04, 3, "ti\x01mer", 0, 1);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 4, "empty or unprintable");
    bb_free(&b);

    /* ram in a FULL section; ram START with version 3. */
    put_hdr(&b);
    at = b.len;
    put_open(&b, 0x04, RAM_ID, "ram", 0, 4);
    put_ram_start_body(&b);
    put_footer(&b, RAM_ID);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at, "FULL");
    bb_free(&b);
    put_hdr(&b);
    at = b.len;
    put_open(&b, 0x01, RAM_ID, "ram", 0, 3);
    put_ram_start_body(&b);
    put_footer(&b, RAM_ID);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, at, "version 3");
    bb_free(&b);

    /* "ram" with another instance id is a device, not RAM. */
    put_prologue(&b, true);
    put_open(&b, 0x04, 9, "ram", 1, 4);
    bb_bytes(&b, "\x00\x00", 2);
    put_footer(&b, 9);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.ndevs, 1);
    EXPECT_EQ_U64(w.sum.ram_section_id, RAM_ID);
    walk_done(&w);
    bb_free(&b);

    /* Tokens that may not appear at top level. */
    static const struct {
        uint8_t type;
        const char *what;
    } bad_tokens[] = {
        { 0x05, "unknown section type 0x05" },
        { 0x06, "vmdesc before the EOF marker" },
        { 0x07, "configuration section out of place" },
        { 0x09, "unknown section type 0x09" },
        { 0x7e, "section footer where a section should start" },
        { 0xff, "unknown section type 0xff" },
    };
    for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(*bad_tokens); i++) {
        put_prologue(&b, true);
        at = b.len;
        bb_u8(&b, bad_tokens[i].type);
        bb_bytes(&b, "\x00\x00\x00\x01\x00", 5);
        EXPECT_FAIL(&b, FR_E_CORRUPT, at, bad_tokens[i].what);
        bb_free(&b);
    }

    /* No EOF at all. */
    put_prologue(&b, true);
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len, "expected a section");
    bb_free(&b);
}

static void test_commands(void)
{
    struct bb b = { 0 };
    struct walk w;
    size_t at;
    uint8_t advise[16] = { 0 };

    /* Valid commands, recorded in order. */
    advise[6] = 0x10;           /* be64 0x1000 host page size summary */
    advise[14] = 0x10;          /* be64 0x1000 target page size */
    put_hdr(&b);
    put_config(&b, "pc");
    put_cmd(&b, 3, 0, NULL);
    at = b.len;
    put_cmd(&b, 2, 4, "\x00\x00\x00\x01");
    put_cmd(&b, 11, 0, NULL);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.ncmds, 3);
    EXPECT_EQ_U64(w.sum.cmds[0].cmd, 3);
    EXPECT_EQ_U64(w.sum.cmds[0].offset, 8 + 5 + 2);
    EXPECT_EQ_U64(w.sum.cmds[1].cmd, 2);
    EXPECT_EQ_U64(w.sum.cmds[1].len, 4);
    EXPECT_EQ_U64(w.sum.cmds[1].offset, at);
    EXPECT_EQ_U64(w.sum.cmds[2].cmd, 11);
    EXPECT_TRUE(!w.sum.ram.postcopy_advised);
    walk_done(&w);
    bb_free(&b);

    /* POSTCOPY_ADVISE with page sizes. */
    put_hdr(&b);
    put_cmd(&b, 3, 16, advise);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_TRUE(w.sum.ram.postcopy_advised);
    EXPECT_EQ_U64(w.sum.cmds[0].len, 16);
    walk_done(&w);
    bb_free(&b);

    /* POSTCOPY_ADVISE is 0 or 16 bytes long (QEMU: "invalid length"). */
    put_hdr(&b);
    at = b.len;
    put_cmd(&b, 3, 5, advise);
    bb_u8(&b, 0x00);
    {
        struct walk w2;
        EXPECT_EQ_U64(walk(&w2, &b), (uint64_t)-1);
        EXPECT_EQ_U64(w2.sf.err.kind, FR_E_CORRUPT);
        walk_done(&w2);
    }
    bb_free(&b);

    /* Fixed-length commands with the wrong length. */
    put_hdr(&b);
    at = b.len;
    put_cmd(&b, 11, 1, "\x00");
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 3, "switchover-start has length 1");
    bb_free(&b);
    put_hdr(&b);
    at = b.len;
    put_cmd(&b, 2, 0, NULL);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 3, "ping has length 0");
    bb_free(&b);

    /* Unknown commands: 12 (past SWITCHOVER_START) and 0 (INVALID). */
    put_hdr(&b);
    at = b.len;
    put_cmd(&b, 12, 0, NULL);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 1, "unknown command 12");
    bb_free(&b);
    put_hdr(&b);
    at = b.len;
    put_cmd(&b, 0, 0, NULL);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 1, "unknown command 0");
    bb_free(&b);

    /* PACKAGED (postcopy) is not supported. */
    put_hdr(&b);
    at = b.len;
    put_cmd(&b, 7, 4, "\x00\x00\x00\x01");
    bb_u8(&b, 0x00);
    bb_u8(&b, 0x00);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, at, "packaged");
    bb_free(&b);

    /* A truncated variable-length payload. */
    put_hdr(&b);
    put_cmd(&b, 10, 7, "\x06pc.ram");
    b.len -= 3;
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len, "command payload");
    bb_free(&b);
}

static void test_vmdesc_token(void)
{
    struct bb b = { 0 };
    struct walk w;
    size_t at;

    /* A vmdesc of length 0 is corrupt. */
    put_hdr(&b);
    bb_u8(&b, 0x00);
    at = b.len;
    bb_u8(&b, 0x06);
    bb_be32(&b, 0);
    EXPECT_FAIL(&b, FR_E_CORRUPT, at + 1, "vmdesc length 0");
    bb_free(&b);

    /* Longer than what is left. */
    put_hdr(&b);
    bb_u8(&b, 0x00);
    bb_u8(&b, 0x06);
    bb_be32(&b, 100);
    bb_bytes(&b, "{}", 2);
    EXPECT_FAIL(&b, FR_E_TRUNCATED, b.len, "vmdesc");
    bb_free(&b);

    /* Not a vmdesc after EOF: trailing bytes. */
    put_hdr(&b);
    bb_u8(&b, 0x00);
    bb_bytes(&b, "\x00\x00\x00", 3);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_TRUE(!w.sum.have_vmdesc);
    EXPECT_EQ_U64(w.sum.end_offset, 9);
    EXPECT_EQ_U64(w.sum.trailing, 3);
    walk_done(&w);
    bb_free(&b);

    /* The vmdesc's content is not validated by the walk. */
    put_hdr(&b);
    bb_u8(&b, 0x00);
    put_vmdesc(&b, "not json");
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_TRUE(w.sum.have_vmdesc);
    EXPECT_EQ_U64(w.sum.vmdesc_offset, 9);
    EXPECT_EQ_U64(w.sum.vmdesc_len, 8);
    walk_done(&w);
    bb_free(&b);
}

/* Collects device body bytes handed to a visitor and compares them. */
struct body_acc {
    const uint8_t *expect;
    size_t len, got, calls;
    bool same;
};

static int body_cb(void *opaque, const uint8_t *p, size_t n)
{
    struct body_acc *a = opaque;

    a->calls++;
    if (a->got + n > a->len || memcmp(p, a->expect + a->got, n) != 0) {
        a->same = false;
    }
    a->got += n;
    return 0;
}

/* A FULL device section that is immediately followed by EOF, with and
 * without a vmdesc, and one followed by a ram PART. */
static void test_footer_scan(void)
{
    struct bb b = { 0 };
    struct walk w;
    size_t body;

    put_prologue(&b, true);
    put_open(&b, 0x04, 3, "timer", 0, 1);
    body = b.len;
    bb_bytes(&b, "\x7e\x00\x00\x00\x03\x00\x07", 7);  /* fake + EOF-ish */
    put_footer(&b, 3);
    put_cont(&b, 0x02, RAM_ID);                  /* a PART follows */
    bb_be64(&b, 0x10);
    put_footer(&b, RAM_ID);
    put_open(&b, 0x04, 4, "serial", 0, 1);
    bb_bytes(&b, "\x7e\x00\x00\x00\x04\x02\x00\x00\x00\x63", 10);
    put_footer(&b, 4);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.ndevs, 2);
    if (w.sum.ndevs == 2) {
        EXPECT_EQ_U64(w.sum.devs[0].body_offset, body);
        EXPECT_EQ_U64(w.sum.devs[0].body_len, 7);
        EXPECT_EQ_U64(w.sum.devs[1].body_len, 10);
    }
    EXPECT_EQ_U64(w.sum.ram.n_sections, 2);
    walk_done(&w);
    bb_free(&b);

    /* A body larger than the 1 MiB window, full of 0x7e bytes, with fake
     * footers straddling the window's end and inside the look-ahead; a
     * visitor receives exactly the body's bytes. */
    put_prologue(&b, true);
    put_open(&b, 0x04, 3, "vga", 0, 1);
    body = b.len;
    for (size_t i = 0; b.len < body + FR_SRC_BUFSIZE - 2; i++) {
        bb_u8(&b, i % 3 ? 0x7e : (uint8_t)(i * 7));
    }
    put_footer(&b, 3);                          /* straddles */
    bb_u8(&b, 0x7e);
    put_footer(&b, 3);                          /* then 7e: no token */
    bb_fill(&b, 0x7e, 2 * FR_SRC_BUFSIZE - b.len - 100);
    put_footer(&b, 3);
    bb_bytes(&b, "\x01\x00\x00\x00\x03", 5);   /* START, id 3 is used */
    bb_fill(&b, 0x11, 1000);
    size_t len = b.len - body;
    put_footer(&b, 3);
    bb_u8(&b, 0x00);
    put_vmdesc(&b, "{}");
    {
        struct body_acc acc = { b.p + body, len, 0, 0, true };
        struct sf_visitor v = { .opaque = &acc, .device_body = body_cb };

        memset(&w.sf, 0, sizeof(w.sf));
        w.sf.name = "mem";
        fr_src_open_mem(&w.sf.file, b.p, b.len, &w.sf.err);
        w.sf.src = &w.sf.file;
        w.copy = NULL;
        w.r = savefile_walk(&w.sf, &w.sum, &v);
        EXPECT_EQ_U64(w.r, 0);
        EXPECT_EQ_U64(w.sum.ndevs, 1);
        if (w.sum.ndevs == 1) {
            EXPECT_EQ_U64(w.sum.devs[0].body_len, len);
        }
        EXPECT_TRUE(w.sum.have_vmdesc);
        EXPECT_EQ_U64(acc.got, len);
        EXPECT_TRUE(acc.same);
        EXPECT_TRUE(acc.calls >= 2);
        walk_done(&w);
    }
    bb_free(&b);
}

/* ---- every truncation of a realistic stream ------------------------------ */

static void test_truncation(void)
{
    struct bb b = { 0 };
    struct dev_expect d[8];
    struct walk w;
    size_t eof_at, n_ok = 0, n_trunc = 0;

    build_stream(&b, d, true, true, &eof_at, false);
    for (size_t n = 0; n < b.len; n++) {
        int r = walk_n(&w, b.p, n);
        if (n == eof_at + 1) {
            EXPECT_EQ_U64(r, 0);
            EXPECT_TRUE(w.sum.have_eof);
            EXPECT_TRUE(!w.sum.have_vmdesc);
            EXPECT_EQ_U64(w.sum.ndevs, 5);
            n_ok++;
        } else {
            EXPECT_EQ_U64(r, (uint64_t)-1);
            EXPECT_TRUE(w.sf.err.kind != FR_E_NONE);
            EXPECT_TRUE(w.sf.err.offset <= n);
            if (r != -1 || w.sf.err.kind == FR_E_NONE ||
                w.sf.err.offset > n) {
                UNIT_FAIL("  prefix %zu: r %d, kind %d, offset 0x%" PRIx64
                          ": %s", n, r, (int)w.sf.err.kind,
                          w.sf.err.offset, w.sf.err.what);
            }
            n_trunc += w.sf.err.kind == FR_E_TRUNCATED;
        }
        walk_done(&w);
    }
    EXPECT_EQ_U64(n_ok, 1);
    /* Most cuts are reported as truncation. */
    EXPECT_TRUE(n_trunc * 10 >= (b.len - 1) * 9);
    bb_free(&b);

    /* A cut inside the first section footer is a truncation: the reader
     * must not conclude from the short peek that there are no footers. */
    put_prologue(&b, true);
    for (size_t cut = 1; cut < 5; cut++) {
        EXPECT_EQ_U64(walk_n(&w, b.p, b.len - cut), (uint64_t)-1);
        EXPECT_EQ_U64(w.sf.err.kind, FR_E_TRUNCATED);
        walk_done(&w);
    }
    bb_free(&b);

    /* A cut inside a configuration subsection's header is a truncation,
     * not an unknown top-level token 0x05. */
    put_hdr(&b);
    put_config(&b, "pc");
    size_t sub = b.len;
    put_subsec(&b, "configuration/uuid", 1);
    bb_bytes(&b, uuid, 16);
    bb_u8(&b, 0x00);
    static const size_t cuts[] = { 1, 2, 10 };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
        EXPECT_EQ_U64(walk_n(&w, b.p, sub + cuts[i]), (uint64_t)-1);
        EXPECT_EQ_U64(w.sf.err.kind, FR_E_TRUNCATED);
        walk_done(&w);
    }
    bb_free(&b);
}

/* ---- a regular file: the vmdesc found up front delimits devices ---------- */

static int write_tmp(const struct bb *b, char *name)
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
    return 0;
}

static void test_file_vmdesc(void)
{
    struct bb b = { 0 };
    struct dev_expect d[8];
    struct savefile sf;
    struct sf_summary sum;
    char name[] = "/tmp/fr-test-savevm-XXXXXX";
    size_t nd, eof_at;

    /* With footers: the vmdesc sizes delimit the FULL bodies. */
    nd = build_stream(&b, d, true, true, &eof_at, true);
    write_tmp(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
    EXPECT_TRUE(!sf.libvirt);
    EXPECT_TRUE(sf.compression == NULL);
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
    EXPECT_TRUE(sum.vmdesc_used);
    EXPECT_EQ_U64(sum.vmdesc.ndevs, 2);
    check_devs(&sum, d, nd, SV_DELIM_VMDESC);
    EXPECT_TRUE(sum.have_vmdesc);
    EXPECT_EQ_U64(sum.trailing, 0);
    savefile_summary_free(&sum);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);

    /* Without footers, the vmdesc is what makes the FULL sections
     * readable; the live vfio section still cannot be delimited. */
    put_prologue(&b, false);
    put_open(&b, 0x04, 0, "timer", 0, 2);
    bb_bytes(&b, "\x7e\x00\x00\x00\x00\x00\x06\x00", 8);
    put_open(&b, 0x04, 5, "apic", 3, 4);
    bb_bytes(&b, "abc", 3);
    bb_u8(&b, 0x00);
    put_vmdesc(&b, "{\"page_size\":4096,\"devices\":["
               "{\"name\":\"timer\",\"instance_id\":0,\"size\":8,"
               "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\","
               "\"size\":8}]},"
               "{\"name\":\"apic\",\"instance_id\":3,\"size\":3,"
               "\"fields\":[{\"name\":\"data\",\"type\":\"buffer\","
               "\"size\":3}]}]}");
    strcpy(name, "/tmp/fr-test-savevm-XXXXXX");
    write_tmp(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
    if (sf.err.kind) {
        UNIT_FAIL("  %s", sf.err.what);
    }
    EXPECT_EQ_U64(sum.sv.footers, SV_FOOTERS_OFF);
    EXPECT_EQ_U64(sum.ndevs, 2);
    if (sum.ndevs == 2) {
        EXPECT_EQ_U64(sum.devs[0].body_len, 8);
        EXPECT_EQ_U64(sum.devs[0].delim, SV_DELIM_VMDESC);
        EXPECT_EQ_U64(sum.devs[1].body_len, 3);
    }
    savefile_summary_free(&sum);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);

    /* The vmdesc size disagrees with the footer position: QEMU goes by
     * the footer, and so does the walk (verify warns). */
    put_prologue(&b, true);
    put_open(&b, 0x04, 0, "timer", 0, 2);
    bb_bytes(&b, "12345678", 8);
    put_footer(&b, 0);
    bb_u8(&b, 0x00);
    put_vmdesc(&b, "{\"devices\":[{\"name\":\"timer\",\"instance_id\":0,"
               "\"size\":7,\"fields\":[{\"name\":\"data\","
               "\"type\":\"buffer\",\"size\":7}]}]}");
    strcpy(name, "/tmp/fr-test-savevm-XXXXXX");
    write_tmp(&b, name);
    EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
    EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
    EXPECT_EQ_U64(sum.ndevs, 1);
    if (sum.ndevs == 1) {
        EXPECT_EQ_U64(sum.devs[0].body_len, 8);
        EXPECT_EQ_U64(sum.devs[0].delim, SV_DELIM_FOOTER);
    }
    savefile_summary_free(&sum);
    savefile_close(&sf);
    unlink(name);
    bb_free(&b);
}

/*
 * The vmdesc is found by searching backwards from the end of the file in
 * 1 MiB steps; its 06 byte may sit at any offset, including exactly on a
 * step boundary (JSON length k MiB - 5).
 */
static void test_file_vmdesc_boundary(void)
{
    static const char dev[] =
        "{\"devices\":[{\"name\":\"timer\",\"instance_id\":0,"
        "\"size\":8,\"fields\":[{\"name\":\"data\","
        "\"type\":\"buffer\",\"size\":8}]}]";
    static const size_t lens[] = { 1048570, 1048571, 1048572, 2097147 };
    char name[] = "/tmp/fr-test-savevm-XXXXXX";

    for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
        struct bb b = { 0 };
        struct savefile sf;
        struct sf_summary sum;
        size_t jl = strlen(dev);

        /* No footers: only the vmdesc can delimit the device. */
        put_prologue(&b, false);
        put_open(&b, 0x04, 0, "timer", 0, 2);
        bb_bytes(&b, "12345678", 8);
        bb_u8(&b, 0x00);
        bb_u8(&b, 0x06);
        bb_be32(&b, (uint32_t)lens[i]);
        bb_bytes(&b, dev, jl);
        bb_fill(&b, ' ', lens[i] - jl - 1);
        bb_u8(&b, '}');
        strcpy(name, "/tmp/fr-test-savevm-XXXXXX");
        write_tmp(&b, name);
        EXPECT_EQ_U64(savefile_open(&sf, name, NULL), 0);
        EXPECT_EQ_U64(savefile_walk(&sf, &sum, NULL), 0);
        EXPECT_TRUE(sum.vmdesc_used);
        if (!sum.vmdesc_used) {
            UNIT_FAIL("  vmdesc of %zu bytes not found: %s", lens[i],
                      sf.err.what);
        }
        savefile_summary_free(&sum);
        savefile_close(&sf);
        unlink(name);
        bb_free(&b);
    }
}

/* Many sections: the section table grows (rehashes) while a live
 * section's id must stay findable for its END. */
static void test_many_sections(void)
{
    struct bb b = { 0 };
    struct walk w;

    put_prologue(&b, true);
    put_open(&b, 0x01, 1000003, "dirty-bitmap", 0, 1);
    bb_bytes(&b, "x", 1);
    put_footer(&b, 1000003);
    for (uint32_t i = 0; i < 300; i++) {
        char idstr[32];
        uint32_t id = i * 7919u + 3;
        snprintf(idstr, sizeof(idstr), "dev%u", i);
        put_open(&b, 0x04, id, idstr, i, 1);
        bb_bytes(&b, "abc", 3);
        put_footer(&b, id);
    }
    put_cont(&b, 0x02, 1000003);
    bb_bytes(&b, "y", 1);
    put_footer(&b, 1000003);
    put_cont(&b, 0x03, RAM_ID);
    bb_be64(&b, 0x10);
    put_footer(&b, RAM_ID);
    put_cont(&b, 0x03, 1000003);
    put_footer(&b, 1000003);
    bb_u8(&b, 0x00);
    EXPECT_EQ_U64(walk(&w, &b), 0);
    EXPECT_EQ_U64(w.sum.ndevs, 303);
    EXPECT_EQ_U64(w.sum.sv.nsecs, 302);
    if (w.sum.ndevs == 303) {
        const struct sv_section *sec =
            sf_device_section(&w.sum, &w.sum.devs[150]);
        EXPECT_EQ_STR(sec->idstr, "dev149");
        EXPECT_EQ_U64(sec->id, 149 * 7919u + 3);
        EXPECT_EQ_U64(sf_device_section(&w.sum, &w.sum.devs[302])->id,
                      1000003);
        EXPECT_EQ_U64(w.sum.devs[301].type, 0x02);
        EXPECT_EQ_U64(w.sum.devs[302].type, 0x03);
        EXPECT_EQ_U64(w.sum.devs[302].body_len, 0);
    }
    walk_done(&w);
    bb_free(&b);
}

int main(void)
{
    test_header();
    test_config();
    test_sections();
    test_commands();
    test_vmdesc_token();
    test_footer_scan();
    test_truncation();
    test_file_vmdesc();
    test_file_vmdesc_boundary();
    test_many_sections();
    return unit_done();
}
