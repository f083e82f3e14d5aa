/*
 * vmdesc: the JSON description QEMU writes after the EOF token, and a
 * small strict JSON parser for it.
 *
 * Stream layout (FORMAT.md sections 1.3 and 6):
 *
 *     ... 00 (EOF) | 06 | be32 L | L bytes of JSON, no NUL
 *
 *     {"configuration": {...},            only with send-configuration
 *      "page_size": 4096,
 *      "devices": [                       one per FULL section, in order
 *        {"name": "timer", "instance_id": 0,
 *         "vmsd_name": "timer", "version": 2,
 *         "fields": [{"name": "x", "type": "int64", "size": 8}, ...],
 *         "subsections": [{"vmsd_name": "timer/y", "version": 1,
 *                          "fields": [...], "subsections": [...]}]},
 *        {"name": "old", "instance_id": 0, "size": N,   old-style devices
 *         "fields": [{"name": "data", "type": "buffer", "size": N}]}]}
 *
 * Parsing is two steps.  First the whole input is checked and turned into
 * a flat node table (jdoc) by an iterative parser with an explicit stack of
 * VMDESC_MAX_DEPTH frames; decoded strings go to one pool that can never be
 * longer than the input.  Then the vmdesc is read off the table.
 *
 * Body size of a device (what vmstate_save_state_v writes):
 *   sum over "fields" of the bytes each entry stands for, plus for each
 *   "subsections" entry 1 (0x05) + 1 (length) + strlen(vmsd_name) + 4
 *   (version) + that subsection's own body, recursively.
 * A field entry's "size" is what one element wrote, nested struct data and
 * struct subsections included, so "struct" objects are not descended into.
 * Arrays appear either as one entry per element (each entry may carry
 * "index"; the last one has none) or, when QEMU can "compress" them, as one
 * entry with "array_len" describing the first element only; that entry
 * stands for array_len elements of the same size.
 * Arrays of pointers with NULL elements (QEMU >= 10.0) split into several
 * consecutive entries of the same name, NULL runs typed "nullptr" (1 byte
 * each); see sum_group() for how those are counted.
 * The old-style form {"size": N, "fields": [{"name": "data", "size": N}]}
 * is a device saved by a save_state callback: N raw bytes.
 */
#include "vmdesc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "grow.h"

#define JNONE SIZE_MAX

enum jtype {
    JT_NULL,
    JT_FALSE,
    JT_TRUE,
    JT_NUM,
    JT_STR,
    JT_ARR,
    JT_OBJ,
};

struct jnode {
    enum jtype type;
    size_t off;        /* position of the value in the input */
    size_t next;       /* next sibling, or JNONE */
    size_t child;      /* first element or member, or JNONE */
    size_t key;        /* object member: key, in the pool */
    size_t key_len;
    size_t val;        /* string: pool position; number: input position */
    size_t val_len;
};

struct jdoc {
    const uint8_t *in;
    size_t len;
    uint64_t base;
    bool build;            /* false: only check, store nothing */
    struct jnode *nodes;
    size_t nnodes;
    size_t cap;
    char *pool;            /* decoded strings (at most LEN bytes) */
    size_t pool_len;
};

struct jframe {
    size_t node;
    size_t last;           /* last child linked so far, or JNONE */
    bool is_obj;
};

static int jfail(const struct jdoc *d, struct fr_err *err, size_t pos,
                 const char *what)
{
    return fr_fail(err, FR_E_CORRUPT, d->base + pos, "vmdesc: %s", what);
}

static size_t skip_ws(const struct jdoc *d, size_t p)
{
    while (p < d->len && (d->in[p] == ' ' || d->in[p] == '\t' ||
                          d->in[p] == '\n' || d->in[p] == '\r')) {
        p++;
    }
    return p;
}

/* Append a node; *IDX is JNONE when not building. */
static int new_node(struct jdoc *d, enum jtype type, size_t off,
                    size_t *idx, struct fr_err *err)
{
    struct jnode *n;

    *idx = JNONE;
    if (!d->build) {
        return 0;
    }
    if (d->nnodes == d->cap) {
        /* every node takes at least one input byte: cap at LEN + 1 */
        size_t ncap = d->cap ? d->cap * 2 : 64;
        struct jnode *nn;

        if (ncap > d->len + 1) {
            ncap = d->len + 1;
        }
        if (ncap <= d->nnodes) {
            return fr_fail(err, FR_E_CORRUPT, d->base + off,
                           "vmdesc: too many json values");
        }
        nn = realloc(d->nodes, ncap * sizeof(*nn));
        if (!nn) {
            return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                           "vmdesc: out of memory");
        }
        d->nodes = nn;
        d->cap = ncap;
    }
    n = &d->nodes[d->nnodes];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->off = off;
    n->next = JNONE;
    n->child = JNONE;
    *idx = d->nnodes++;
    return 0;
}

static void pool_put(struct jdoc *d, const uint8_t *s, size_t n)
{
    if (d->build) {
        memcpy(d->pool + d->pool_len, s, n);
        d->pool_len += n;
    }
}

static int hex4(const uint8_t *s, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        uint8_t c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/*
 * The input ends inside the hex digits of a \u escape that start at HEX:
 * report bad digits where there are some, else the early end.
 */
static int bad_hex_tail(const struct jdoc *d, size_t hex,
                        struct fr_err *err)
{
    for (size_t i = hex; i < d->len; i++) {
        uint8_t c = d->in[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F'))) {
            return jfail(d, err, hex - 2, "invalid \\u escape in string");
        }
    }
    return jfail(d, err, d->len, "unterminated string");
}

/* Length of the valid UTF-8 sequence at S (at most AVAIL bytes), or 0. */
static size_t utf8_len(const uint8_t *s, size_t avail)
{
    uint8_t c = s[0];
    uint8_t lo = 0x80, hi = 0xbf;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;          /* no overlong forms */
        } else if (c == 0xed) {
            hi = 0x9f;          /* no UTF-16 surrogates */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;          /* nothing above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (avail < n) {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Parse the string at *P (on its opening quote) into the pool.  An escape
 * never decodes to more bytes than it occupies, so the pool stays <= LEN.
 */
static int parse_string(struct jdoc *d, size_t *p, size_t *s_off,
                        size_t *s_len, struct fr_err *err)
{
    size_t i = *p + 1;

    *s_off = d->pool_len;
    for (;;) {
        uint8_t c;

        if (i >= d->len) {
            return jfail(d, err, d->len, "unterminated string");
        }
        c = d->in[i];
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return jfail(d, err, i, "control character in string");
        }
        if (c >= 0x80) {
            size_t n = utf8_len(d->in + i, d->len - i);
            if (!n) {
                return jfail(d, err, i, "invalid utf-8 in string");
            }
            pool_put(d, d->in + i, n);
            i += n;
            continue;
        }
        if (c != '\\') {
            pool_put(d, &c, 1);
            i++;
            continue;
        }
        if (i + 1 >= d->len) {
            return jfail(d, err, d->len, "unterminated string");
        }
        c = d->in[i + 1];
        if (c == 'u') {
            uint32_t cp, lo;
            uint8_t u[4];
            size_t rem;

            if (d->len - i < 6) {
                return bad_hex_tail(d, i + 2, err);
            }
            if (hex4(d->in + i + 2, &cp) < 0) {
                return jfail(d, err, i, "invalid \\u escape in string");
            }
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return jfail(d, err, i, "unpaired surrogate in string");
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* a high surrogate must be followed by a \u low one */
                rem = d->len - i - 6;
                if ((rem >= 1 && d->in[i + 6] != '\\') ||
                    (rem >= 2 && d->in[i + 7] != 'u')) {
                    return jfail(d, err, i, "unpaired surrogate in string");
                }
                if (rem < 6) {
                    return bad_hex_tail(d, i + 8, err);
                }
                if (hex4(d->in + i + 8, &lo) < 0) {
                    return jfail(d, err, i + 6,
                                 "invalid \\u escape in string");
                }
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return jfail(d, err, i, "unpaired surrogate in string");
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            pool_put(d, u, utf8_put(u, cp));
            i += 6;
            continue;
        }
        switch (c) {
        case '"':
        case '\\':
        case '/':
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        default:
            return jfail(d, err, i, "invalid escape in string");
        }
        pool_put(d, &c, 1);
        i += 2;
    }
    *s_len = d->pool_len - *s_off;
    *p = i + 1;
    return 0;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Check the number at *P (RFC 8259 grammar) and move past it. */
static int parse_number(struct jdoc *d, size_t *p, struct fr_err *err)
{
    size_t i = *p;

    if (d->in[i] == '-') {
        i++;
    }
    if (i >= d->len) {
        return jfail(d, err, d->len, "unexpected end of input in number");
    }
    if (d->in[i] == '0') {
        i++;
        if (i < d->len && is_digit(d->in[i])) {
            return jfail(d, err, *p, "leading zero in number");
        }
    } else if (is_digit(d->in[i])) {
        while (i < d->len && is_digit(d->in[i])) {
            i++;
        }
    } else {
        return jfail(d, err, i, "invalid number");
    }
    if (i < d->len && d->in[i] == '.') {
        i++;
        if (i >= d->len) {
            return jfail(d, err, d->len,
                         "unexpected end of input in number");
        }
        if (!is_digit(d->in[i])) {
            return jfail(d, err, i, "invalid number");
        }
        while (i < d->len && is_digit(d->in[i])) {
            i++;
        }
    }
    if (i < d->len && (d->in[i] == 'e' || d->in[i] == 'E')) {
        i++;
        if (i < d->len && (d->in[i] == '+' || d->in[i] == '-')) {
            i++;
        }
        if (i >= d->len) {
            return jfail(d, err, d->len,
                         "unexpected end of input in number");
        }
        if (!is_digit(d->in[i])) {
            return jfail(d, err, i, "invalid number");
        }
        while (i < d->len && is_digit(d->in[i])) {
            i++;
        }
    }
    *p = i;
    return 0;
}

static int parse_literal(struct jdoc *d, size_t *p, const char *word,
                         struct fr_err *err)
{
    size_t n = strlen(word);
    size_t avail = d->len - *p;

    if (avail < n) {
        if (memcmp(d->in + *p, word, avail) == 0) {
            return jfail(d, err, d->len, "unexpected end of input");
        }
        return jfail(d, err, *p, "invalid literal");
    }
    if (memcmp(d->in + *p, word, n) != 0) {
        return jfail(d, err, *p, "invalid literal");
    }
    *p += n;
    return 0;
}

/* Link node IDX (with member key KEY/KEY_LEN) under frame F. */
static void link_child(struct jdoc *d, struct jframe *f, size_t idx,
                       size_t key, size_t key_len)
{
    if (!d->build) {
        return;
    }
    if (f->is_obj) {
        d->nodes[idx].key = key;
        d->nodes[idx].key_len = key_len;
    }
    if (f->last == JNONE) {
        d->nodes[f->node].child = idx;
    } else {
        d->nodes[f->last].next = idx;
    }
    f->last = idx;
}

/* Parse "key" : at *P (after whitespace), leaving *P on the value. */
static int parse_key(struct jdoc *d, size_t *p, size_t *key,
                     size_t *key_len, struct fr_err *err)
{
    if (*p >= d->len) {
        return jfail(d, err, d->len, "unexpected end of input in object");
    }
    if (d->in[*p] != '"') {
        return jfail(d, err, *p, "expected string key in object");
    }
    if (parse_string(d, p, key, key_len, err) < 0) {
        return -1;
    }
    *p = skip_ws(d, *p);
    if (*p >= d->len) {
        return jfail(d, err, d->len, "unexpected end of input in object");
    }
    if (d->in[*p] != ':') {
        return jfail(d, err, *p, "expected ':' after key in object");
    }
    *p = skip_ws(d, *p + 1);
    return 0;
}

/*
 * Parse the string, number or literal at *P and link it under PARENT
 * (NULL at top level) with member key KEY/KEY_LEN.
 */
static int parse_scalar(struct jdoc *d, size_t *p, struct jframe *parent,
                        size_t key, size_t key_len, struct fr_err *err)
{
    size_t start = *p, s_off = 0, s_len = 0, idx;
    uint8_t c = d->in[start];
    enum jtype t;
    int ret;

    if (c == '"') {
        t = JT_STR;
        ret = parse_string(d, p, &s_off, &s_len, err);
    } else if (c == '-' || is_digit(c)) {
        t = JT_NUM;
        ret = parse_number(d, p, err);
        s_off = start;
        s_len = *p - start;
    } else if (c == 't') {
        t = JT_TRUE;
        ret = parse_literal(d, p, "true", err);
    } else if (c == 'f') {
        t = JT_FALSE;
        ret = parse_literal(d, p, "false", err);
    } else if (c == 'n') {
        t = JT_NULL;
        ret = parse_literal(d, p, "null", err);
    } else if (c == ']' && parent && !parent->is_obj) {
        return jfail(d, err, start, "trailing comma in array");
    } else {
        return jfail(d, err, start, "expected a value");
    }
    if (ret < 0 || new_node(d, t, start, &idx, err) < 0) {
        return -1;
    }
    if (d->build) {
        d->nodes[idx].val = s_off;
        d->nodes[idx].val_len = s_len;
    }
    if (parent) {
        link_child(d, parent, idx, key, key_len);
    }
    return 0;
}

/* Parse exactly one JSON value filling D (node 0 is the root). */
static int json_parse(struct jdoc *d, struct fr_err *err)
{
    struct jframe st[VMDESC_MAX_DEPTH];
    int depth = 0;
    size_t p = skip_ws(d, 0);
    size_t key = 0, key_len = 0;

    if (d->build) {
        d->pool = malloc(d->len ? d->len : 1);
        if (!d->pool) {
            return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                           "vmdesc: out of memory");
        }
    }
    if (p >= d->len) {
        return jfail(d, err, d->len, d->len ? "no json value" :
                     "empty input");
    }
    for (;;) {
        size_t idx;
        uint8_t c;

        /* one value at P */
        if (p >= d->len) {
            return jfail(d, err, d->len, "unexpected end of input");
        }
        c = d->in[p];
        if (c == '{' || c == '[') {
            if (depth == VMDESC_MAX_DEPTH) {
                return jfail(d, err, p, "nesting deeper than 64 levels");
            }
            if (new_node(d, c == '{' ? JT_OBJ : JT_ARR, p, &idx, err)) {
                return -1;
            }
            if (depth > 0) {
                link_child(d, &st[depth - 1], idx, key, key_len);
            }
            st[depth].node = idx;
            st[depth].last = JNONE;
            st[depth].is_obj = c == '{';
            depth++;
            p = skip_ws(d, p + 1);
            if (p >= d->len || d->in[p] != (c == '{' ? '}' : ']')) {
                if (c == '{' && parse_key(d, &p, &key, &key_len, err) < 0) {
                    return -1;
                }
                continue;           /* on to the first member */
            }
            depth--;                /* empty container */
            p++;
        } else if (parse_scalar(d, &p, depth ? &st[depth - 1] : NULL,
                                key, key_len, err) < 0) {
            return -1;
        }

        /* after a value: close containers until one wants more */
        for (;;) {
            struct jframe *f;

            p = skip_ws(d, p);
            if (depth == 0) {
                if (p != d->len) {
                    return jfail(d, err, p,
                                 "unexpected data after the json value");
                }
                return 0;
            }
            f = &st[depth - 1];
            if (p >= d->len) {
                return jfail(d, err, d->len, f->is_obj ?
                             "unexpected end of input in object" :
                             "unexpected end of input in array");
            }
            if (d->in[p] == ',') {
                p = skip_ws(d, p + 1);
                if (f->is_obj) {
                    if (p < d->len && d->in[p] == '}') {
                        return jfail(d, err, p, "trailing comma in object");
                    }
                    if (parse_key(d, &p, &key, &key_len, err) < 0) {
                        return -1;
                    }
                }
                break;
            }
            if (d->in[p] == (f->is_obj ? '}' : ']')) {
                p++;
                depth--;
                continue;
            }
            return jfail(d, err, p, f->is_obj ?
                         "expected ',' or '}' in object" :
                         "expected ',' or ']' in array");
        }
    }
}

static void jdoc_free(struct jdoc *d)
{
    free(d->nodes);
    free(d->pool);
    d->nodes = NULL;
    d->pool = NULL;
}

int vmdesc_check_json(const uint8_t *buf, size_t len, uint64_t base_off,
                      struct fr_err *err)
{
    struct jdoc d = { .in = buf, .len = len, .base = base_off };

    return json_parse(&d, err);
}

/* ---- reading the vmdesc off the node table ---- */

struct vsum {
    uint64_t total;
    bool known;
};

static const struct jnode *jnode_at(const struct jdoc *d, size_t idx)
{
    return idx == JNONE ? NULL : &d->nodes[idx];
}

/* Member KEY of object OBJ (the last one if repeated), or NULL. */
static const struct jnode *jget(const struct jdoc *d,
                                const struct jnode *obj, const char *key)
{
    size_t klen = strlen(key);
    const struct jnode *found = NULL;

    for (const struct jnode *n = jnode_at(d, obj->child); n;
         n = jnode_at(d, n->next)) {
        if (n->key_len == klen && memcmp(d->pool + n->key, key, klen) == 0) {
            found = n;
        }
    }
    return found;
}

static bool jstr_eq(const struct jdoc *d, const struct jnode *n,
                    const char *s)
{
    size_t l = strlen(s);

    return n && n->type == JT_STR && n->val_len == l &&
           memcmp(d->pool + n->val, s, l) == 0;
}

/* Read number N (member KEY) as an integer in [0, MAX]. */
static int jnum_u64(const struct jdoc *d, const struct jnode *n,
                    const char *key, uint64_t max, uint64_t *out,
                    struct fr_err *err)
{
    const uint8_t *s = d->in + n->val;
    uint64_t v = 0;

    if (n->type != JT_NUM) {
        return fr_fail(err, FR_E_CORRUPT, d->base + n->off,
                       "vmdesc: '%s' is not a number", key);
    }
    if (s[0] == '-') {
        return fr_fail(err, FR_E_CORRUPT, d->base + n->off,
                       "vmdesc: '%s' is negative", key);
    }
    for (size_t i = 0; i < n->val_len; i++) {
        if (!is_digit(s[i])) {
            return fr_fail(err, FR_E_CORRUPT, d->base + n->off,
                           "vmdesc: '%s' is not an integer", key);
        }
    }
    for (size_t i = 0; i < n->val_len; i++) {
        if (ckd_mul_u64(&v, v, 10) ||
            ckd_add_u64(&v, v, (uint64_t)(s[i] - '0')) || v > max) {
            return fr_fail(err, FR_E_CORRUPT, d->base + n->off,
                           "vmdesc: '%s' is larger than %" PRIu64,
                           key, max);
        }
    }
    *out = v;
    return 0;
}

/* Optional integer member: *HAS says whether it was there. */
static int jget_u64(const struct jdoc *d, const struct jnode *obj,
                    const char *key, uint64_t max, bool *has, uint64_t *out,
                    struct fr_err *err)
{
    const struct jnode *n = jget(d, obj, key);

    *has = n != NULL;
    *out = 0;
    return n ? jnum_u64(d, n, key, max, out, err) : 0;
}

static int expect_type(const struct jdoc *d, const struct jnode *n,
                       enum jtype t, const char *what, struct fr_err *err)
{
    if (n->type == t) {
        return 0;
    }
    return fr_fail(err, FR_E_CORRUPT, d->base + n->off, "vmdesc: %s", what);
}

static void vsum_add(struct vsum *s, uint64_t v)
{
    if (ckd_add_u64(&s->total, s->total, v)) {
        s->known = false;
    }
}

/* Add COUNT elements of SIZE bytes each. */
static void vsum_add_n(struct vsum *s, uint64_t count, uint64_t size)
{
    uint64_t v;

    if (ckd_mul_u64(&v, count, size)) {
        s->known = false;
        return;
    }
    vsum_add(s, v);
}

/* What one "fields" entry says. */
struct vfield {
    const struct jnode *name;  /* string node, or NULL */
    bool is_null;              /* "type": "nullptr" */
    bool has_index;
    bool has_len;
    uint64_t len;              /* "array_len" */
    bool has_size;
    uint64_t size;
};

static int vfield_read(const struct jdoc *d, const struct jnode *n,
                       struct vfield *f, struct fr_err *err)
{
    uint64_t ignored;

    memset(f, 0, sizeof(*f));
    if (expect_type(d, n, JT_OBJ, "'fields' entry is not an object",
                    err)) {
        return -1;
    }
    f->name = jget(d, n, "name");
    if (f->name && f->name->type != JT_STR) {
        f->name = NULL;
    }
    f->is_null = jstr_eq(d, jget(d, n, "type"), "nullptr");
    if (jget_u64(d, n, "index", UINT64_MAX, &f->has_index, &ignored, err) ||
        jget_u64(d, n, "array_len", UINT64_MAX, &f->has_len, &f->len,
                 err) ||
        jget_u64(d, n, "size", UINT64_MAX, &f->has_size, &f->size, err)) {
        return -1;
    }
    return 0;
}

static bool vfield_same_name(const struct jdoc *d, const struct vfield *a,
                             const struct vfield *b)
{
    return a->name && b->name && a->name->val_len == b->name->val_len &&
           memcmp(d->pool + a->name->val, d->pool + b->name->val,
                  a->name->val_len) == 0;
}

/*
 * Count a run of K > 1 consecutive entries with the same name, starting at
 * FIRST.  QEMU only writes such runs for one field:
 *  - one entry per element ("index"-ed arrays; also arrays of pointers that
 *    cannot be compressed, where NULL entries may carry a meaningless
 *    "array_len"): each entry is exactly one element;
 *  - an array of pointers that can be compressed, split at NULL/non-NULL
 *    changes: entries alternate between "nullptr" and the real type and each
 *    stands for its "array_len" (or 1) elements, except that a leading
 *    non-NULL entry is written with the whole array's length, so it stands
 *    for array_len minus what the later entries cover.
 * No "index" and strict alternation means the second case.
 */
static int sum_group(const struct jdoc *d, const struct jnode *first,
                     size_t k, struct vsum *s, struct fr_err *err)
{
    struct vfield f0, f, prev;
    const struct jnode *n;
    bool per_element;
    uint64_t rest = 0;

    if (vfield_read(d, first, &f0, err)) {
        return -1;
    }
    per_element = f0.has_index;
    prev = f0;
    n = jnode_at(d, first->next);
    for (size_t i = 1; i < k; i++, n = jnode_at(d, n->next)) {
        if (vfield_read(d, n, &f, err)) {
            return -1;
        }
        if (f.has_index || f.is_null == prev.is_null) {
            per_element = true;
        }
        if (ckd_add_u64(&rest, rest, f.has_len ? f.len : 1)) {
            s->known = false;
        }
        prev = f;
    }
    n = first;
    for (size_t i = 0; i < k; i++, n = jnode_at(d, n->next)) {
        uint64_t count;

        if (vfield_read(d, n, &f, err)) {
            return -1;
        }
        if (!f.has_size) {
            s->known = false;
            continue;
        }
        if (per_element) {
            count = 1;
        } else if (i == 0 && !f.is_null) {
            if (!f.has_len || f.len <= rest) {
                s->known = false;
                continue;
            }
            count = f.len - rest;
        } else {
            count = f.has_len ? f.len : 1;
        }
        vsum_add_n(s, count, f.size);
    }
    return 0;
}

static int sum_fields(const struct jdoc *d, const struct jnode *arr,
                      struct vsum *s, struct fr_err *err)
{
    const struct jnode *n = jnode_at(d, arr->child);

    while (n) {
        struct vfield f0, f;
        const struct jnode *end = jnode_at(d, n->next);
        size_t k = 1;

        if (vfield_read(d, n, &f0, err)) {
            return -1;
        }
        while (end) {
            if (vfield_read(d, end, &f, err)) {
                return -1;
            }
            if (!vfield_same_name(d, &f0, &f)) {
                break;
            }
            k++;
            end = jnode_at(d, end->next);
        }
        if (k > 1) {
            if (sum_group(d, n, k, s, err)) {
                return -1;
            }
        } else if (!f0.has_size) {
            s->known = false;
        } else {
            vsum_add_n(s, f0.has_len ? f0.len : 1, f0.size);
        }
        n = end;
    }
    return 0;
}

/*
 * Sum a vmstate description DESC (a device or a subsection object): its
 * fields, then its subsections with their 0x05, length, name and version
 * framing.  Recursion follows "subsections" nesting, so it is bounded by
 * VMDESC_MAX_DEPTH / 2.
 */
static int sum_vmsd(const struct jdoc *d, const struct jnode *desc,
                    struct vsum *s, struct fr_err *err)
{
    const struct jnode *fields = jget(d, desc, "fields");
    const struct jnode *subs = jget(d, desc, "subsections");

    if (!fields) {
        s->known = false;
    } else if (expect_type(d, fields, JT_ARR, "'fields' is not an array",
                           err) ||
               sum_fields(d, fields, s, err)) {
        return -1;
    }
    if (!subs) {
        return 0;
    }
    if (expect_type(d, subs, JT_ARR, "'subsections' is not an array",
                    err)) {
        return -1;
    }
    for (const struct jnode *sub = jnode_at(d, subs->child); sub;
         sub = jnode_at(d, sub->next)) {
        const struct jnode *name;

        if (expect_type(d, sub, JT_OBJ,
                        "'subsections' entry is not an object", err)) {
            return -1;
        }
        name = jget(d, sub, "vmsd_name");
        if (!name) {
            s->known = false;
        } else if (expect_type(d, name, JT_STR,
                               "'vmsd_name' is not a string", err)) {
            return -1;
        } else if (name->val_len > 255) {
            /* QEMU frames the name with a u8 length: cannot be loaded */
            s->known = false;
        } else {
            vsum_add(s, 2 + (uint64_t)name->val_len + 4);
        }
        if (sum_vmsd(d, sub, s, err)) {
            return -1;
        }
    }
    return 0;
}

static int read_dev(const struct jdoc *d, const struct jnode *n,
                    struct vmdesc_dev *dev, struct fr_err *err)
{
    const struct jnode *name, *inst;
    uint64_t v, old_size;
    bool has_old_size;
    struct vsum s = { 0, true };

    if (expect_type(d, n, JT_OBJ, "'devices' entry is not an object",
                    err)) {
        return -1;
    }
    name = jget(d, n, "name");
    if (!name) {
        return fr_fail(err, FR_E_CORRUPT, d->base + n->off,
                       "vmdesc: device has no 'name'");
    }
    if (expect_type(d, name, JT_STR, "'name' is not a string", err)) {
        return -1;
    }
    if (memchr(d->pool + name->val, 0, name->val_len)) {
        return fr_fail(err, FR_E_CORRUPT, d->base + name->off,
                       "vmdesc: 'name' contains a nul character");
    }
    inst = jget(d, n, "instance_id");
    if (!inst) {
        return fr_fail(err, FR_E_CORRUPT, d->base + n->off,
                       "vmdesc: device has no 'instance_id'");
    }
    if (jnum_u64(d, inst, "instance_id", UINT32_MAX, &v, err)) {
        return -1;
    }
    if (jget_u64(d, n, "size", UINT64_MAX, &has_old_size, &old_size, err)) {
        return -1;
    }
    if (!jget(d, n, "fields") && has_old_size) {
        s.total = old_size;
    } else if (sum_vmsd(d, n, &s, err)) {
        return -1;
    } else if (has_old_size && s.known && s.total != old_size) {
        s.known = false;    /* old-style "size" disagrees with "fields" */
    }

    dev->name = malloc(name->val_len + 1);
    if (!dev->name) {
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                       "vmdesc: out of memory");
    }
    memcpy(dev->name, d->pool + name->val, name->val_len);
    dev->name[name->val_len] = '\0';
    dev->instance_id = (uint32_t)v;
    dev->size_known = s.known;
    dev->size = s.known ? s.total : 0;
    return 0;
}

static int read_vmdesc(const struct jdoc *d, struct vmdesc *out,
                       struct fr_err *err)
{
    const struct jnode *root = &d->nodes[0];
    const struct jnode *devs;
    uint64_t v;
    bool has;
    size_t count = 0;

    if (expect_type(d, root, JT_OBJ, "top level is not an object", err)) {
        return -1;
    }
    if (jget_u64(d, root, "page_size", UINT32_MAX, &has, &v, err)) {
        return -1;
    }
    out->page_size = (uint32_t)v;
    out->has_configuration = jget(d, root, "configuration") != NULL;
    devs = jget(d, root, "devices");
    if (!devs) {
        return fr_fail(err, FR_E_CORRUPT, d->base + root->off,
                       "vmdesc: no 'devices' array");
    }
    if (expect_type(d, devs, JT_ARR, "'devices' is not an array", err)) {
        return -1;
    }
    for (const struct jnode *n = jnode_at(d, devs->child); n;
         n = jnode_at(d, n->next)) {
        count++;
    }
    if (count) {
        out->devs = calloc(count, sizeof(*out->devs));
        if (!out->devs) {
            return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                           "vmdesc: out of memory");
        }
    }
    for (const struct jnode *n = jnode_at(d, devs->child); n;
         n = jnode_at(d, n->next)) {
        if (read_dev(d, n, &out->devs[out->ndevs], err)) {
            return -1;
        }
        out->ndevs++;
    }
    return 0;
}

int vmdesc_parse(const uint8_t *buf, size_t len, uint64_t base_off,
                 struct vmdesc *out, struct fr_err *err)
{
    struct jdoc d = { .in = buf, .len = len, .base = base_off,
                      .build = true };
    int ret;

    memset(out, 0, sizeof(*out));
    ret = json_parse(&d, err);
    if (ret == 0) {
        ret = read_vmdesc(&d, out, err);
    }
    jdoc_free(&d);
    if (ret < 0) {
        vmdesc_free(out);
    }
    return ret;
}

void vmdesc_free(struct vmdesc *vd)
{
    for (size_t i = 0; i < vd->ndevs; i++) {
        free(vd->devs[i].name);
    }
    free(vd->devs);
    memset(vd, 0, sizeof(*vd));
}

/* ---- field layouts ------------------------------------------------------ */

/* Whether entry N is followed by an entry of the same name: one field
 * split into several entries, whose places depend on the data. */
static int split_field(const struct jdoc *d, const struct jnode *n,
                       const struct vfield *f, bool *split,
                       struct fr_err *err)
{
    const struct jnode *next = jnode_at(d, n->next);
    struct vfield g;

    *split = f->has_index;
    if (!next || *split) {
        return 0;
    }
    if (vfield_read(d, next, &g, err)) {
        return -1;
    }
    *split = vfield_same_name(d, f, &g);
    return 0;
}

/* Append a field named PREFIX "." NAME (or just NAME without PREFIX). */
static int layout_add(const struct jdoc *d, struct vmdesc_layout *l,
                      const struct vmdesc_field *prefix,
                      const struct jnode *name, struct vmdesc_field v,
                      struct fr_err *err)
{
    size_t plen = prefix ? strlen(prefix->name) + 1 : 0;
    struct vmdesc_field *nf;

    /* at most one field per JSON node: bounded by the input */
    nf = fr_room_for_one(l->fields, l->nfields, sizeof(*nf));
    if (!nf) {
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                       "vmdesc: out of memory");
    }
    l->fields = nf;
    v.name = malloc(plen + name->val_len + 1);
    if (!v.name) {
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                       "vmdesc: out of memory");
    }
    if (prefix) {
        memcpy(v.name, prefix->name, plen - 1);
        v.name[plen - 1] = '.';
    }
    memcpy(v.name + plen, d->pool + name->val, name->val_len);
    v.name[plen + name->val_len] = '\0';
    l->fields[l->nfields++] = v;
    return 0;
}

/*
 * The members of struct field F (its "struct" description SDESC), as
 * places in the body: in an array of structs, a member is one value per
 * element, so members that are arrays themselves are left out there.
 */
static int layout_members(const struct jdoc *d, const struct jnode *sdesc,
                          const struct vmdesc_field *f,
                          struct vmdesc_layout *l, struct fr_err *err)
{
    const struct jnode *fields = jget(d, sdesc, "fields");
    uint64_t off = 0;

    if (!fields || fields->type != JT_ARR) {
        return 0;
    }
    for (const struct jnode *n = jnode_at(d, fields->child); n;
         n = jnode_at(d, n->next)) {
        struct vfield g;
        struct vmdesc_field v;
        uint64_t count, bytes;
        bool split;

        if (vfield_read(d, n, &g, err) || split_field(d, n, &g, &split, err)) {
            return -1;
        }
        count = g.has_len ? g.len : 1;
        if (split || !g.has_size || ckd_mul_u64(&bytes, count, g.size) ||
            bytes > f->size - off) {
            break;
        }
        if (g.name && !g.is_null && (f->count == 1 || count == 1)) {
            v.offset = f->offset + off;
            v.size = g.size;
            v.count = f->count == 1 ? count : f->count;
            v.stride = f->count == 1 ? g.size : f->size;
            if (layout_add(d, l, f, g.name, v, err)) {
                return -1;
            }
        }
        off += bytes;
    }
    return 0;
}

/* The leading fields of device DEV into L. */
static int layout_dev(const struct jdoc *d, const struct jnode *dev,
                      struct vmdesc_layout *l, struct fr_err *err)
{
    const struct jnode *fields = jget(d, dev, "fields");
    uint64_t off = 0;

    if (!fields || fields->type != JT_ARR) {
        return 0;
    }
    for (const struct jnode *n = jnode_at(d, fields->child); n;
         n = jnode_at(d, n->next)) {
        struct vfield f;
        struct vmdesc_field v;
        const struct jnode *sdesc;
        uint64_t bytes, end;
        bool split;

        if (vfield_read(d, n, &f, err) || split_field(d, n, &f, &split, err)) {
            return -1;
        }
        v.count = f.has_len ? f.len : 1;
        if (split || !f.has_size ||
            ckd_mul_u64(&bytes, v.count, f.size) ||
            ckd_add_u64(&end, off, bytes)) {
            break;
        }
        if (f.name && !f.is_null) {
            v.offset = off;
            v.size = v.stride = f.size;
            if (layout_add(d, l, NULL, f.name, v, err)) {
                return -1;
            }
            /* a copy: adding members may move the table */
            v = l->fields[l->nfields - 1];
            sdesc = jget(d, n, "struct");
            if (jstr_eq(d, jget(d, n, "type"), "struct") && sdesc &&
                sdesc->type == JT_OBJ &&
                layout_members(d, sdesc, &v, l, err)) {
                return -1;
            }
        }
        off = end;
    }
    return 0;
}

int vmdesc_layouts(const uint8_t *buf, size_t len, uint64_t base_off,
                   const char *name, struct vmdesc_layout **out, size_t *n,
                   struct fr_err *err)
{
    struct jdoc d = { .in = buf, .len = len, .base = base_off,
                      .build = true };
    struct vmdesc_layout *l = NULL;
    const struct jnode *devs;
    size_t count = 0, done = 0;
    int ret = -1;

    *out = NULL;
    *n = 0;
    if (json_parse(&d, err)) {
        goto out;
    }
    devs = jget(&d, &d.nodes[0], "devices");
    if (d.nodes[0].type != JT_OBJ || !devs || devs->type != JT_ARR) {
        fr_fail(err, FR_E_CORRUPT, base_off, "vmdesc: no 'devices' array");
        goto out;
    }
    for (const struct jnode *dev = jnode_at(&d, devs->child); dev;
         dev = jnode_at(&d, dev->next)) {
        count += dev->type == JT_OBJ && jstr_eq(&d, jget(&d, dev, "name"),
                                                name);
    }
    l = count ? calloc(count, sizeof(*l)) : NULL;
    if (count && !l) {
        fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "vmdesc: out of memory");
        goto out;
    }
    for (const struct jnode *dev = jnode_at(&d, devs->child); dev;
         dev = jnode_at(&d, dev->next)) {
        const struct jnode *inst;
        uint64_t v;

        if (dev->type != JT_OBJ ||
            !jstr_eq(&d, jget(&d, dev, "name"), name)) {
            continue;
        }
        done++;
        inst = jget(&d, dev, "instance_id");
        if (!inst) {
            fr_fail(err, FR_E_CORRUPT, base_off + dev->off,
                    "vmdesc: device has no 'instance_id'");
            goto out;
        }
        if (jnum_u64(&d, inst, "instance_id", UINT32_MAX, &v, err) ||
            layout_dev(&d, dev, &l[done - 1], err)) {
            goto out;
        }
        l[done - 1].instance_id = (uint32_t)v;
    }
    *out = l;
    *n = count;
    l = NULL;
    ret = 0;
out:
    vmdesc_layouts_free(l, done);
    jdoc_free(&d);
    return ret;
}

void vmdesc_layouts_free(struct vmdesc_layout *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        for (size_t j = 0; j < l[i].nfields; j++) {
            free(l[i].fields[j].name);
        }
        free(l[i].fields);
    }
    free(l);
}

const struct vmdesc_field *vmdesc_field_find(const struct vmdesc_layout *l,
                                             const char *name)
{
    for (size_t i = 0; i < l->nfields; i++) {
        if (strcmp(l->fields[i].name, name) == 0) {
            return &l->fields[i];
        }
    }
    return NULL;
}

bool vmdesc_field_u64(const struct vmdesc_layout *l, const char *name,
                      uint64_t i, const uint8_t *body, size_t len,
                      uint64_t *out)
{
    const struct vmdesc_field *f = vmdesc_field_find(l, name);
    uint64_t off, v = 0;

    if (!f || i >= f->count || f->size == 0 || f->size > 8 ||
        (f->stride && i > (UINT64_MAX - f->offset) / f->stride)) {
        return false;
    }
    off = f->offset + i * f->stride;
    if (off > len || f->size > len - off) {
        return false;
    }
    for (uint64_t k = 0; k < f->size; k++) {
        v = v << 8 | body[off + k];
    }
    *out = v;
    return true;
}

bool vmdesc_read(struct vmdesc_reader *r, const char *name, uint64_t i,
                 uint64_t *out)
{
    if (vmdesc_field_u64(r->l, name, i, r->body, r->len, out)) {
        return true;
    }
    if (!r->missing) {
        r->missing = name;
    }
    return false;
}
