/*
 * savevm framing reader: file header, configuration section, section and
 * command tokens, footers, device-body delimiting and the trailing vmdesc.
 * See savevm.h for the layout.
 */
#include "config.h"

#include "savevm.h"

#include <stdlib.h>
#include <string.h>

#include "ckd.h"
#include "endian.h"
#include "sink.h"

/* Bytes after a footer that we look at to accept it (see token_plausible). */
#define LOOKAHEAD (1 + 4 + 1 + 255 + 4 + 4)
#define MAX_VMDESC (64u << 20)

bool sv_probe(const uint8_t *p)
{
    return fr_be32dec(p) == SV_MAGIC;
}

const char *sv_type_name(uint8_t type)
{
    switch (type) {
    case SV_EOF:
        return "eof";
    case SV_START:
        return "start";
    case SV_PART:
        return "part";
    case SV_END:
        return "end";
    case SV_FULL:
        return "full";
    case SV_COMMAND:
        return "command";
    default:
        return "unknown";
    }
}

const char *sv_cmd_name(uint16_t cmd)
{
    static const char *const names[SV_CMD_MAX] = {
        "invalid", "open-return-path", "ping", "postcopy-advise",
        "postcopy-listen", "postcopy-run", "postcopy-ram-discard",
        "packaged", "enable-colo", "postcopy-resume", "recv-bitmap",
        "switchover-start",
    };
    return cmd < SV_CMD_MAX ? names[cmd] : "unknown";
}

bool sv_cmd_needs_peer(uint16_t cmd, uint16_t len)
{
    return cmd == SV_CMD_OPEN_RETURN_PATH || cmd == SV_CMD_PING ||
           (cmd == SV_CMD_POSTCOPY_ADVISE && len != 0);
}

bool sv_has_cap(const struct sv_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ncaps; i++) {
        if (strcmp(cfg->caps[i], name) == 0) {
            return true;
        }
    }
    return false;
}

uint32_t sv_page_size(const struct sv_config *cfg)
{
    return cfg->has_page_bits ? 1u << cfg->page_bits : 4096;
}

/* ---- section table ---------------------------------------------------------
 *
 * The sections in the order they opened, and an open-addressing hash of
 * their ids (slot = index + 1; 0 is empty), kept at most half full.
 */

static size_t slot_of(const struct sv_reader *r, uint32_t id)
{
    return (id * 2654435761u) & (r->nslots - 1);
}

static struct sv_section *sec_find(struct sv_reader *r, uint32_t id)
{
    if (!r->nslots) {
        return NULL;
    }
    for (size_t i = slot_of(r, id);; i = (i + 1) & (r->nslots - 1)) {
        if (!r->slots[i]) {
            return NULL;
        }
        if (r->secs[r->slots[i] - 1].id == id) {
            return &r->secs[r->slots[i] - 1];
        }
    }
}

static void slot_put(struct sv_reader *r, uint32_t index)
{
    size_t i = slot_of(r, r->secs[index].id);
    while (r->slots[i]) {
        i = (i + 1) & (r->nslots - 1);
    }
    r->slots[i] = index + 1;
}

/* A new, zeroed section ID at the end of the table, or NULL. */
static struct sv_section *sec_add(struct sv_reader *r, uint32_t id)
{
    if (r->nsecs == r->secs_alloc) {
        size_t n = r->secs_alloc ? r->secs_alloc * 2 : 32;
        struct sv_section *secs = realloc(r->secs, n * sizeof(*secs));
        if (!secs) {
            return NULL;
        }
        r->secs = secs;
        r->secs_alloc = n;
    }
    if ((r->nsecs + 1) * 2 > r->nslots) {
        size_t n = r->nslots ? r->nslots * 2 : 64;
        uint32_t *slots = calloc(n, sizeof(*slots));
        if (!slots) {
            return NULL;
        }
        free(r->slots);
        r->slots = slots;
        r->nslots = n;
        for (uint32_t i = 0; i < r->nsecs; i++) {
            slot_put(r, i);
        }
    }
    struct sv_section *sec = &r->secs[r->nsecs];
    memset(sec, 0, sizeof(*sec));
    sec->id = id;
    slot_put(r, (uint32_t)r->nsecs++);
    return sec;
}

/* The 5 bytes of SEC's footer: 7e be32 id. */
static void footer_bytes(const struct sv_section *sec, uint8_t out[5])
{
    out[0] = SV_FOOTER;
    fr_be32enc(out + 1, sec->id);
}

/* ---- header and configuration ------------------------------------------ */

static int read_counted(struct fr_src *s, char out[256], const char *what)
{
    uint8_t len;
    if (fr_src_u8(s, &len, what) < 0 ||
        fr_src_read(s, out, len, what) < 0) {
        return -1;
    }
    out[len] = '\0';
    return 0;
}

static int read_caps(struct sv_reader *r)
{
    struct fr_src *s = r->src;
    uint64_t at = fr_src_tell(s);
    uint32_t n;

    if (fr_src_be32(s, &n, "capability count") < 0) {
        return -1;
    }
    if (n > SV_MAX_CAPS) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "configuration lists %u capabilities (at most %d "
                       "exist)", n, SV_MAX_CAPS);
    }
    for (uint32_t i = 0; i < n; i++) {
        at = fr_src_tell(s);
        if (read_counted(s, r->cfg.caps[i], "capability name") < 0) {
            return -1;
        }
        if (!r->cfg.caps[i][0]) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "empty capability name in configuration");
        }
    }
    r->cfg.ncaps = n;
    return 0;
}

static int read_config(struct sv_reader *r)
{
    struct fr_src *s = r->src;
    uint32_t len;
    uint64_t at;
    const uint8_t *p;

    r->cfg.present = true;
    r->cfg.offset = fr_src_tell(s);
    fr_src_consume(s, 1);
    at = fr_src_tell(s);
    if (fr_src_be32(s, &len, "configuration section") < 0) {
        return -1;
    }
    if (len == 0 || len > SV_MAX_MACHINE) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "configuration: bad machine type length %u", len);
    }
    if (fr_src_read(s, r->cfg.machine, len, "machine type") < 0) {
        return -1;
    }
    r->cfg.machine[len] = '\0';

    /* Subsections follow while the next byte is 05 and the name belongs
     * to "configuration"; QEMU knows exactly these three. */
    for (;;) {
        char name[256];
        uint32_t version;
        size_t n;

        p = fr_src_peek_upto(s, 2, &n);
        if (!p || n == 0 || p[0] != SV_SUBSECTION) {
            break;
        }
        if (n < 2 || !(p = fr_src_peek(s, 2 + (size_t)p[1]))) {
            return fr_fail(s->err, FR_E_TRUNCATED, fr_src_tell(s),
                           "truncated configuration subsection");
        }
        if (p[1] < strlen("configuration/") ||
            memcmp(p + 2, "configuration/", strlen("configuration/"))) {
            break;      /* not ours: QEMU would end the list here too */
        }
        at = fr_src_tell(s);
        fr_src_consume(s, 1);
        if (read_counted(s, name, "subsection name") < 0 ||
            fr_src_be32(s, &version, "subsection version") < 0) {
            return -1;
        }
        if (version != 1) {
            return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                           "configuration subsection '%s' has version %u "
                           "(expected 1)", name, version);
        }
        if (strcmp(name, "configuration/target-page-bits") == 0) {
            uint64_t bat = fr_src_tell(s);
            if (fr_src_be32(s, &r->cfg.page_bits, "target page bits") < 0) {
                return -1;
            }
            if (r->cfg.page_bits < 10 || r->cfg.page_bits > 16) {
                return fr_fail(s->err, FR_E_CORRUPT, bat,
                               "configuration: target page bits %u out of "
                               "range 10..16", r->cfg.page_bits);
            }
            r->cfg.has_page_bits = true;
        } else if (strcmp(name, "configuration/capabilities") == 0) {
            if (read_caps(r) < 0) {
                return -1;
            }
        } else if (strcmp(name, "configuration/uuid") == 0) {
            if (fr_src_read(s, r->cfg.uuid, 16, "uuid") < 0) {
                return -1;
            }
            r->cfg.has_uuid = true;
        } else {
            return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                           "unknown configuration subsection '%s'", name);
        }
    }
    r->cfg.length = fr_src_tell(s) - r->cfg.offset;
    return fr_src_failed(s) ? -1 : 0;
}

int sv_open(struct sv_reader *r, struct fr_src *s)
{
    uint8_t hdr[8];
    const uint8_t *p;

    memset(r, 0, sizeof(*r));
    r->src = s;
    r->footers = SV_FOOTERS_UNKNOWN;
    if (fr_src_read(s, hdr, sizeof(hdr), "migration stream header") < 0) {
        return -1;
    }
    if (!sv_probe(hdr)) {
        return fr_fail(s->err, FR_E_NOTMIG, fr_src_tell(s) - 8,
                       "not a QEMU migration stream (bad magic)");
    }
    r->version = fr_be32dec(hdr + 4);
    if (r->version != SV_VERSION) {
        return fr_fail(s->err, FR_E_UNSUPPORTED, fr_src_tell(s) - 4,
                       "migration stream version %u is not supported "
                       "(expected 3)", r->version);
    }
    p = fr_src_peek(s, 1);
    if (p && p[0] == SV_CONFIG) {
        return read_config(r);
    }
    return fr_src_failed(s) ? -1 : 0;
}

void sv_close(struct sv_reader *r)
{
    free(r->secs);
    free(r->slots);
    r->secs = NULL;
    r->slots = NULL;
    vmdesc_free(&r->own_vmdesc);
}

/* ---- tokens -------------------------------------------------------------- */

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static int cmd_fixed_len(uint16_t cmd)
{
    switch (cmd) {
    case SV_CMD_OPEN_RETURN_PATH:
    case SV_CMD_POSTCOPY_LISTEN:
    case SV_CMD_POSTCOPY_RUN:
    case SV_CMD_ENABLE_COLO:
    case SV_CMD_POSTCOPY_RESUME:
    case SV_CMD_SWITCHOVER_START:
        return 0;
    case SV_CMD_PING:
    case SV_CMD_PACKAGED:
        return 4;
    default:
        return -1;      /* variable */
    }
}

int sv_next(struct sv_reader *r, struct sv_token *t)
{
    struct fr_src *s = r->src;
    uint8_t type;
    uint32_t id;

    t->offset = fr_src_tell(s);
    t->sec = NULL;
    if (fr_src_at_end(s)) {
        return fr_fail(s->err, FR_E_TRUNCATED, t->offset,
                       "truncated stream: expected a section or the EOF "
                       "marker");
    }
    if (fr_src_u8(s, &type, "section type") < 0) {
        return -1;
    }
    t->type = type;
    switch (type) {
    case SV_EOF:
        break;
    case SV_START:
    case SV_FULL: {
        struct sv_section sec = { 0 };
        uint64_t at = fr_src_tell(s);
        if (fr_src_be32(s, &id, "section id") < 0 ||
            read_counted(s, sec.idstr, "section name") < 0 ||
            fr_src_be32(s, &sec.instance, "instance id") < 0 ||
            fr_src_be32(s, &sec.version, "version id") < 0) {
            return -1;
        }
        if (!sec.idstr[0] ||
            !printable((const uint8_t *)sec.idstr, strlen(sec.idstr))) {
            return fr_fail(s->err, FR_E_CORRUPT, at + 4,
                           "section %u has an empty or unprintable name",
                           id);
        }
        if (sec_find(r, id)) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "section id %u ('%s') appears twice", id,
                           sec.idstr);
        }
        if (r->nsecs >= SV_MAX_SECTIONS) {
            return fr_fail(s->err, FR_E_UNSUPPORTED, at,
                           "more than %d sections", SV_MAX_SECTIONS);
        }
        struct sv_section *n = sec_add(r, id);
        if (!n) {
            return fr_fail(s->err, FR_E_NOMEM, at, "out of memory");
        }
        memcpy(n->idstr, sec.idstr, sizeof(n->idstr));
        n->instance = sec.instance;
        n->version = sec.version;
        n->opened_by = type;
        t->sec = n;
        break;
    }
    case SV_PART:
    case SV_END: {
        uint64_t at = fr_src_tell(s);
        if (fr_src_be32(s, &id, "section id") < 0) {
            return -1;
        }
        t->sec = sec_find(r, id);
        if (!t->sec || t->sec->opened_by != SV_START) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "section %s refers to id %u, which no START "
                           "section opened", sv_type_name(type), id);
        }
        if (t->sec->ended) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "section %s for '%s' after its END",
                           sv_type_name(type), t->sec->idstr);
        }
        t->sec->ended = (type == SV_END);
        break;
    }
    case SV_COMMAND: {
        uint64_t at = fr_src_tell(s);
        if (fr_src_be16(s, &t->cmd, "command") < 0 ||
            fr_src_be16(s, &t->cmd_len, "command length") < 0) {
            return -1;
        }
        if (t->cmd == 0 || t->cmd >= SV_CMD_MAX) {
            return fr_fail(s->err, FR_E_CORRUPT, at,
                           "unknown command %u", t->cmd);
        }
        int fixed = cmd_fixed_len(t->cmd);
        if (fixed >= 0 && t->cmd_len != fixed) {
            return fr_fail(s->err, FR_E_CORRUPT, at + 2,
                           "command %s has length %u (expected %d)",
                           sv_cmd_name(t->cmd), t->cmd_len, fixed);
        }
        if (t->cmd == SV_CMD_POSTCOPY_ADVISE && t->cmd_len != 0 &&
            t->cmd_len != 16) {
            return fr_fail(s->err, FR_E_CORRUPT, at + 2,
                           "command postcopy-advise has length %u "
                           "(expected 0 or 16)", t->cmd_len);
        }
        if (fr_src_read(s, t->cmd_data, t->cmd_len, "command payload") < 0) {
            return -1;
        }
        break;
    }
    case SV_CONFIG:
        return fr_fail(s->err, FR_E_CORRUPT, t->offset,
                       "configuration section out of place");
    case SV_VMDESC:
        return fr_fail(s->err, FR_E_CORRUPT, t->offset,
                       "vmdesc before the EOF marker");
    case SV_FOOTER:
        return fr_fail(s->err, FR_E_CORRUPT, t->offset,
                       "section footer where a section should start");
    default:
        return fr_fail(s->err, FR_E_CORRUPT, t->offset,
                       "unknown section type 0x%02x", type);
    }
    t->body_offset = fr_src_tell(s);
    return 0;
}

int sv_read_footer(struct sv_reader *r, const struct sv_token *t)
{
    struct fr_src *s = r->src;
    uint64_t at = fr_src_tell(s);
    size_t n;
    const uint8_t *p = fr_src_peek_upto(s, 5, &n);
    bool is_footer = p && n > 0 && p[0] == SV_FOOTER;

    if (fr_src_failed(s)) {
        return -1;
    }
    if (r->footers == SV_FOOTERS_UNKNOWN) {
        r->footers = is_footer ? SV_FOOTERS_ON : SV_FOOTERS_OFF;
    }
    if (r->footers == SV_FOOTERS_OFF) {
        return 0;
    }
    if (n < 5) {
        return fr_fail(s->err, FR_E_TRUNCATED, at,
                       "truncated stream: missing section footer for "
                       "'%s'", t->sec->idstr);
    }
    if (!is_footer) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "missing section footer for '%s' (found byte 0x%02x)",
                       t->sec->idstr, p[0]);
    }
    if (fr_be32dec(p + 1) != t->sec->id) {
        return fr_fail(s->err, FR_E_CORRUPT, at,
                       "mismatched section id in footer: %u, expected %u "
                       "('%s')", fr_be32dec(p + 1), t->sec->id,
                       t->sec->idstr);
    }
    fr_src_consume(s, 5);
    return 0;
}

/*
 * Could P[0..N) (N < LOOKAHEAD only at the end of the input) be what
 * follows a section footer?  Only a well-formed next token is accepted, so
 * that a footer-like pattern inside device data is not taken for the end.
 */
static bool token_plausible(struct sv_reader *r, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return true;            /* truncated right after it: report later */
    }
    switch (p[0]) {
    case SV_EOF:
        return n == 1 || p[1] == SV_VMDESC;
    case SV_START:
    case SV_FULL: {
        if (n < 6 || p[5] == 0 || n < 6u + p[5] + 8) {
            return false;
        }
        return !sec_find(r, fr_be32dec(p + 1)) && printable(p + 6, p[5]);
    }
    case SV_PART:
    case SV_END: {
        struct sv_section *sec;
        if (n < 5) {
            return false;
        }
        sec = sec_find(r, fr_be32dec(p + 1));
        return sec && sec->opened_by == SV_START && !sec->ended;
    }
    case SV_COMMAND: {
        if (n < 5) {
            return false;
        }
        uint16_t cmd = fr_be16dec(p + 1);
        int fixed = cmd_fixed_len(cmd);
        return cmd > 0 && cmd < SV_CMD_MAX &&
               (fixed < 0 || fixed == fr_be16dec(p + 3));
    }
    default:
        return false;
    }
}

static int emit(sv_body_fn fn, void *opaque, const uint8_t *p, size_t n)
{
    return fn && n ? fn(opaque, p, n) : 0;
}

/* Delimit by the vmdesc's size for this device, confirmed by the footer. */
static int skip_by_vmdesc(struct sv_reader *r, const struct sv_token *t,
                          uint64_t size, sv_body_fn fn, void *opaque)
{
    struct fr_src *s = r->src;
    uint64_t left = size;

    while (left) {
        size_t avail;
        const uint8_t *p = fr_src_peek_upto(
            s, left < FR_SRC_BUFSIZE ? (size_t)left : FR_SRC_BUFSIZE, &avail);
        if (!p) {
            return -1;
        }
        if (avail == 0) {
            return fr_fail(s->err, FR_E_TRUNCATED, fr_src_tell(s),
                           "truncated device section '%s': %llu of %llu "
                           "bytes", t->sec->idstr,
                           (unsigned long long)(size - left),
                           (unsigned long long)size);
        }
        if (emit(fn, opaque, p, avail) < 0) {
            return -1;
        }
        fr_src_consume(s, avail);
        left -= avail;
    }
    if (r->footers != SV_FOOTERS_OFF) {
        const uint8_t *p = fr_src_peek(s, 5);
        uint8_t pat[5];
        footer_bytes(t->sec, pat);
        if (p && memcmp(p, pat, 5) != 0 && r->footers == SV_FOOTERS_ON) {
            return fr_fail(s->err, FR_E_CORRUPT, fr_src_tell(s),
                           "device section '%s': no footer where the vmdesc "
                           "says its %llu-byte body ends", t->sec->idstr,
                           (unsigned long long)size);
        }
    }
    return 0;
}

static int skip_by_footer(struct sv_reader *r, const struct sv_token *t,
                          sv_body_fn fn, void *opaque)
{
    struct fr_src *s = r->src;
    uint8_t pat[5];
    /* most sections are small: asking for a whole window each time would
     * refill it (and move it) once per section on a pipe */
    size_t want = 16384;

    footer_bytes(t->sec, pat);
    for (;; want = want < FR_SRC_BUFSIZE / 2 ? want * 2 : FR_SRC_BUFSIZE) {
        size_t avail, i;
        const uint8_t *p = fr_src_peek_upto(s, want, &avail);
        bool at_end;

        if (!p) {
            return -1;
        }
        at_end = avail < want && s->eof;
        for (i = 0; i + 5 <= avail; i++) {
            const uint8_t *hit = memchr(p + i, SV_FOOTER, avail - i - 4);
            if (!hit) {
                i = avail - 4;
                break;
            }
            i = (size_t)(hit - p);
            if (!at_end && avail - i - 5 < LOOKAHEAD) {
                break;          /* need more bytes to judge this one */
            }
            if (memcmp(hit, pat, 5) == 0 &&
                token_plausible(r, hit + 5,
                                avail - i - 5 < LOOKAHEAD ? avail - i - 5
                                                          : LOOKAHEAD)) {
                if (emit(fn, opaque, p, i) < 0) {
                    return -1;
                }
                fr_src_consume(s, i);
                return 0;
            }
        }
        if (at_end) {
            return fr_fail(s->err, FR_E_TRUNCATED, fr_src_tell(s) + avail,
                           "truncated stream: no footer ends device "
                           "section '%s' (id %u)", t->sec->idstr,
                           t->sec->id);
        }
        if (i > avail) {
            i = avail;
        }
        if (i == 0) {
            /* The window is full of one undecidable candidate: impossible
             * with a window larger than LOOKAHEAD, but never spin. */
            i = 1;
        }
        if (emit(fn, opaque, p, i) < 0) {
            return -1;
        }
        fr_src_consume(s, i);
    }
}

/* The vmdesc entry for this FULL section, if the vmdesc describes it. */
static const struct vmdesc_dev *vmdesc_lookup(struct sv_reader *r,
                                              const struct sv_section *sec)
{
    const struct vmdesc *vd = r->vmdesc;

    if (!vd || sec->opened_by != SV_FULL) {
        return NULL;
    }
    for (size_t k = 0; k < vd->ndevs; k++) {
        size_t i = (r->vmdesc_next + k) % vd->ndevs;
        if (vd->devs[i].instance_id == sec->instance &&
            strcmp(vd->devs[i].name, sec->idstr) == 0) {
            r->vmdesc_next = i + 1;
            return vd->devs[i].size_known ? &vd->devs[i] : NULL;
        }
    }
    return NULL;
}

/*
 * Without footers, and without a vmdesc read up front (a pipe), the device
 * sections can still be sized when the rest of the stream fits in the read
 * window: look for the vmdesc at its end.
 */
static void vmdesc_from_window(struct sv_reader *r)
{
    struct fr_src *s = r->src;
    struct fr_err err = { 0 };
    size_t n;
    const uint8_t *p = fr_src_peek_upto(s, FR_SRC_BUFSIZE, &n);

    if (!p || n == FR_SRC_BUFSIZE || !s->eof || n < 7) {
        return;
    }
    for (size_t i = n - 6; i-- > 1;) {
        if (p[i] == SV_VMDESC && p[i - 1] == SV_EOF && p[i + 5] == '{' &&
            i + 5 + (uint64_t)fr_be32dec(p + i + 1) == n) {
            if (vmdesc_parse(p + i + 5, n - i - 5, fr_src_tell(s) + i + 5,
                             &r->own_vmdesc, &err) == 0) {
                r->vmdesc = &r->own_vmdesc;
                r->vmdesc_next = 0;
            }
            return;
        }
    }
}

int sv_skip_body(struct sv_reader *r, const struct sv_token *t,
                 sv_body_fn fn, void *opaque, uint64_t *len,
                 enum sv_delim *how)
{
    struct fr_src *s = r->src;
    uint64_t start = fr_src_tell(s);
    const struct vmdesc_dev *dev;

    if (!r->vmdesc && r->footers == SV_FOOTERS_OFF) {
        vmdesc_from_window(r);
    }
    dev = vmdesc_lookup(r, t->sec);
    int ret;

    if (dev && r->footers == SV_FOOTERS_ON &&
        dev->size <= FR_SRC_BUFSIZE - 5) {
        /* QEMU goes by the footer, not by the vmdesc: a vmdesc size with
         * no footer behind it gives way to the section's footer further
         * on, if there is one (verify reports the disagreement) */
        uint8_t pat[5];
        size_t avail;
        const uint8_t *p = fr_src_peek(s, (size_t)dev->size + 5);
        footer_bytes(t->sec, pat);
        if (p && memcmp(p + dev->size, pat, 5) != 0 &&
            (p = fr_src_peek_upto(s, FR_SRC_BUFSIZE, &avail)) &&
            memmem(p, avail, pat, 5)) {
            dev = NULL;
        }
    }
    if (dev) {
        *how = SV_DELIM_VMDESC;
        ret = skip_by_vmdesc(r, t, dev->size, fn, opaque);
    } else if (r->footers == SV_FOOTERS_OFF) {
        return fr_fail(s->err, FR_E_LIMIT, start,
                       "cannot find the end of device section '%s': the "
                       "stream has no section footers and no vmdesc "
                       "describes it", t->sec->idstr);
    } else {
        *how = SV_DELIM_FOOTER;
        ret = skip_by_footer(r, t, fn, opaque);
    }
    *len = fr_src_tell(s) - start;
    return ret;
}

/* ---- vmdesc ---------------------------------------------------------- */

int sv_read_vmdesc(struct sv_reader *r, uint8_t **json, uint64_t *len,
                   uint64_t *off)
{
    struct fr_src *s = r->src;
    const uint8_t *p = fr_src_peek(s, 1);
    uint32_t n;

    *json = NULL;
    *len = 0;
    *off = fr_src_tell(s);
    if (!p || p[0] != SV_VMDESC) {
        return fr_src_failed(s) ? -1 : 0;
    }
    fr_src_consume(s, 1);
    if (fr_src_be32(s, &n, "vmdesc length") < 0) {
        return -1;
    }
    if (n == 0 || n > MAX_VMDESC) {
        return fr_fail(s->err, FR_E_CORRUPT, *off + 1,
                       "vmdesc length %u out of range", n);
    }
    *json = malloc(n);
    if (!*json) {
        return fr_fail(s->err, FR_E_NOMEM, *off, "out of memory for vmdesc");
    }
    if (fr_src_read(s, *json, n, "vmdesc") < 0) {
        free(*json);
        *json = NULL;
        return -1;
    }
    *len = n;
    return 0;
}

int sv_find_vmdesc(struct fr_src *s, uint64_t end, uint64_t *off,
                   uint64_t *len)
{
    uint64_t tail = end < MAX_VMDESC ? end : MAX_VMDESC;
    uint64_t base = end - tail;
    size_t chunk = 1u << 20;
    uint8_t *buf;

    if (tail < 7) {
        return 0;
    }
    /* Read backwards in 1 MiB steps (plus 6 bytes of overlap), looking at
     * each 06 byte for a length that reaches exactly to the end. */
    buf = malloc(chunk + 6);
    if (!buf) {
        return fr_fail(s->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    for (uint64_t hi = end; hi > base + 6;) {
        uint64_t lo = hi - base > chunk ? hi - chunk : base;
        size_t n = (size_t)(hi - lo) + (hi < end ? 6 : 0);
        if (lo + n > end) {
            n = (size_t)(end - lo);
        }
        if (fr_src_pread(s, buf, n, lo, "vmdesc search") < 0) {
            free(buf);
            return -1;
        }
        /* include the byte at hi: the 06 may sit right at a chunk end */
        for (size_t i = (size_t)(hi - lo) + (hi < end); i-- > 1;) {
            if (i + 6 > n || buf[i] != SV_VMDESC || buf[i - 1] != SV_EOF ||
                buf[i + 5] != '{') {
                continue;
            }
            uint64_t l = fr_be32dec(buf + i + 1);
            if (lo + i + 5 + l == end) {
                *off = lo + i;
                *len = l;
                free(buf);
                return 1;
            }
        }
        hi = lo;
    }
    free(buf);
    return 0;
}

/* ---- writers ------------------------------------------------------------- */

int sv_write_header(struct fr_sink *k)
{
    uint8_t h[8];
    fr_be32enc(h, SV_MAGIC);
    fr_be32enc(h + 4, SV_VERSION);
    return fr_sink_write(k, h, sizeof(h));
}

static int write_counted(struct fr_sink *k, const char *s)
{
    uint8_t len = (uint8_t)strlen(s);
    return fr_sink_write(k, &len, 1) < 0 ? -1 : fr_sink_write(k, s, len);
}

static int write_subsection(struct fr_sink *k, const char *name)
{
    uint8_t v[4];
    uint8_t type = SV_SUBSECTION;
    fr_be32enc(v, 1);
    if (fr_sink_write(k, &type, 1) < 0 || write_counted(k, name) < 0) {
        return -1;
    }
    return fr_sink_write(k, v, 4);
}

int sv_write_config(struct fr_sink *k, const struct sv_config *cfg,
                    const char *add, const char *drop)
{
    const char *caps[SV_MAX_CAPS + 1];
    size_t n = 0;
    uint8_t b[5];

    for (size_t i = 0; i < cfg->ncaps; i++) {
        if (!drop || strcmp(cfg->caps[i], drop) != 0) {
            caps[n++] = cfg->caps[i];
        }
    }
    if (add && !sv_has_cap(cfg, add)) {
        caps[n++] = add;
    }
    b[0] = SV_CONFIG;
    fr_be32enc(b + 1, (uint32_t)strlen(cfg->machine));
    if (fr_sink_write(k, b, 5) < 0 ||
        fr_sink_write(k, cfg->machine, strlen(cfg->machine)) < 0) {
        return -1;
    }
    if (cfg->has_page_bits) {
        fr_be32enc(b, cfg->page_bits);
        if (write_subsection(k, "configuration/target-page-bits") < 0 ||
            fr_sink_write(k, b, 4) < 0) {
            return -1;
        }
    }
    if (n) {
        fr_be32enc(b, (uint32_t)n);
        if (write_subsection(k, "configuration/capabilities") < 0 ||
            fr_sink_write(k, b, 4) < 0) {
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (write_counted(k, caps[i]) < 0) {
                return -1;
            }
        }
    }
    if (cfg->has_uuid) {
        if (write_subsection(k, "configuration/uuid") < 0 ||
            fr_sink_write(k, cfg->uuid, 16) < 0) {
            return -1;
        }
    }
    return 0;
}

int sv_write_token(struct fr_sink *k, const struct sv_token *t)
{
    uint8_t b[16];

    b[0] = t->type;
    switch (t->type) {
    case SV_START:
    case SV_FULL:
        fr_be32enc(b + 1, t->sec->id);
        if (fr_sink_write(k, b, 5) < 0 || write_counted(k, t->sec->idstr)) {
            return -1;
        }
        fr_be32enc(b, t->sec->instance);
        fr_be32enc(b + 4, t->sec->version);
        return fr_sink_write(k, b, 8);
    case SV_PART:
    case SV_END:
        fr_be32enc(b + 1, t->sec->id);
        return fr_sink_write(k, b, 5);
    case SV_COMMAND:
        fr_be16enc(b + 1, t->cmd);
        fr_be16enc(b + 3, t->cmd_len);
        if (fr_sink_write(k, b, 5) < 0) {
            return -1;
        }
        return fr_sink_write(k, t->cmd_data, t->cmd_len);
    default:
        return fr_sink_write(k, b, 1);
    }
}

int sv_write_footer(struct fr_sink *k, enum sv_footers footers,
                    const struct sv_section *sec)
{
    uint8_t b[5];

    if (footers != SV_FOOTERS_ON) {
        return 0;
    }
    footer_bytes(sec, b);
    return fr_sink_write(k, b, 5);
}

int sv_write_vmdesc(struct fr_sink *k, const uint8_t *json, uint64_t len)
{
    uint8_t b[5] = { SV_VMDESC };

    fr_be32enc(b + 1, (uint32_t)len);
    if (fr_sink_write(k, b, 5) < 0) {
        return -1;
    }
    return fr_sink_write(k, json, (size_t)len);
}
