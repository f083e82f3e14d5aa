/*
 * A tiny byte builder for unit tests: append big-endian (and little-endian)
 * integers, counted strings and raw bytes to a growable buffer, and patch
 * values in place once an offset is known.
 *
 *     struct bb b = { 0 };
 *     bb_be32(&b, 0x5145564D); bb_str(&b, "ram"); ... bb_free(&b);
 *
 * Allocation failure aborts: this is test code.
 */
#ifndef FR_TEST_BUILD_H
#define FR_TEST_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bb {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* Make room for N more bytes and return a pointer to them. */
static inline uint8_t *bb_grow(struct bb *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n) {
            ncap *= 2;
        }
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            abort();
        }
        b->p = np;
        b->cap = ncap;
    }
    b->len += n;
    return b->p + b->len - n;
}

static inline void bb_u8(struct bb *b, uint8_t v)
{
    *bb_grow(b, 1) = v;
}

static inline void bb_put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

static inline void bb_put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void bb_be16(struct bb *b, uint16_t v)
{
    bb_put_be(bb_grow(b, 2), v, 2);
}

static inline void bb_be32(struct bb *b, uint32_t v)
{
    bb_put_be(bb_grow(b, 4), v, 4);
}

static inline void bb_be64(struct bb *b, uint64_t v)
{
    bb_put_be(bb_grow(b, 8), v, 8);
}

static inline void bb_le32(struct bb *b, uint32_t v)
{
    bb_put_le(bb_grow(b, 4), v, 4);
}

static inline void bb_le64(struct bb *b, uint64_t v)
{
    bb_put_le(bb_grow(b, 8), v, 8);
}

static inline void bb_bytes(struct bb *b, const void *p, size_t n)
{
    if (n) {
        memcpy(bb_grow(b, n), p, n);
    }
}

/* Counted string: u8 length, then the bytes (no NUL). */
static inline void bb_str(struct bb *b, const char *s)
{
    size_t n = strlen(s);
    bb_u8(b, (uint8_t)n);
    bb_bytes(b, s, n);
}

/* N copies of byte V. */
static inline void bb_fill(struct bb *b, uint8_t v, size_t n)
{
    if (n) {
        memset(bb_grow(b, n), v, n);
    }
}

/* Zero-fill up to absolute length OFF (no-op if already there). */
static inline void bb_pad_to(struct bb *b, size_t off)
{
    if (b->len < off) {
        bb_fill(b, 0, off - b->len);
    }
}

static inline void bb_patch_be32(struct bb *b, size_t off, uint32_t v)
{
    bb_put_be(b->p + off, v, 4);
}

static inline void bb_patch_be64(struct bb *b, size_t off, uint64_t v)
{
    bb_put_be(b->p + off, v, 8);
}

static inline void bb_free(struct bb *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* A malloc'd copy of the first N bytes of B, exactly N long (so that ASan
 * sees any read past the end). */
static inline uint8_t *bb_dup(const struct bb *b, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        abort();
    }
    if (n) {
        memcpy(p, b->p, n);
    }
    return p;
}

/* ---- QEMU migration stream pieces (see FORMAT.md section 1) -------------- */

/* File header: magic "QEVM", version 3. */
static inline void put_hdr(struct bb *b)
{
    bb_be32(b, 0x5145564D);
    bb_be32(b, 3);
}

/* CONFIGURATION token and machine name (subsections follow). */
static inline void put_config(struct bb *b, const char *machine)
{
    bb_u8(b, 0x07);
    bb_be32(b, (uint32_t)strlen(machine));
    bb_bytes(b, machine, strlen(machine));
}

/* Subsection header: 05, counted name, be32 version (payload follows). */
static inline void put_subsec(struct bb *b, const char *name,
                              uint32_t version)
{
    bb_u8(b, 0x05);
    bb_str(b, name);
    bb_be32(b, version);
}

/* configuration/capabilities with the N names in CAPS. */
static inline void put_caps(struct bb *b, const char *const *caps,
                            uint32_t n)
{
    put_subsec(b, "configuration/capabilities", 1);
    bb_be32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        bb_str(b, caps[i]);
    }
}

/* START (0x01) / FULL (0x04) header. */
static inline void put_open(struct bb *b, uint8_t type, uint32_t id,
                            const char *idstr, uint32_t inst, uint32_t ver)
{
    bb_u8(b, type);
    bb_be32(b, id);
    bb_str(b, idstr);
    bb_be32(b, inst);
    bb_be32(b, ver);
}

/* PART (0x02) / END (0x03) header. */
static inline void put_cont(struct bb *b, uint8_t type, uint32_t id)
{
    bb_u8(b, type);
    bb_be32(b, id);
}

static inline void put_footer(struct bb *b, uint32_t id)
{
    bb_u8(b, 0x7e);
    bb_be32(b, id);
}

static inline void put_cmd(struct bb *b, uint16_t cmd, uint16_t len,
                           const void *payload)
{
    bb_u8(b, 0x08);
    bb_be16(b, cmd);
    bb_be16(b, len);
    bb_bytes(b, payload, len);
}

/* VMDESCRIPTION token (after EOF). */
static inline void put_vmdesc(struct bb *b, const char *json)
{
    bb_u8(b, 0x06);
    bb_be32(b, (uint32_t)strlen(json));
    bb_bytes(b, json, strlen(json));
}

/* ---- exact-length views for truncation loops ----------------------------- */

/*
 * Under ASan, mark bytes of B as unaddressable, so that a parser given
 * the first N bytes of a big buffer is caught reading past them without
 * copying the buffer for every prefix.  Poison the tail once with
 * bb_poison(b, len, cap - len), then walk the prefixes from the longest
 * down, poisoning [n, previous n) at each step (ASan can only mark the
 * end of an 8-byte granule unaddressable, which this order respects).
 * bb_unpoison makes the whole buffer addressable again (needed before
 * growing or freeing it).
 */
#if defined(__SANITIZE_ADDRESS__)
#define BB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BB_ASAN 1
#endif
#endif
#ifdef BB_ASAN
#include <sanitizer/asan_interface.h>
#endif

static inline void bb_poison(struct bb *b, size_t off, size_t n)
{
#ifdef BB_ASAN
    if (n && off < b->cap) {
        __asan_poison_memory_region(b->p + off,
                                    n < b->cap - off ? n : b->cap - off);
    }
#else
    (void)b;
    (void)off;
    (void)n;
#endif
}

static inline void bb_unpoison(struct bb *b)
{
#ifdef BB_ASAN
    __asan_unpoison_memory_region(b->p, b->cap);
#else
    (void)b;
#endif
}

#endif
