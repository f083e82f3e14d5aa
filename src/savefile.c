/*
 * Opening a save file (container and compression detection) and walking
 * the QEMU stream inside it.  See savefile.h.
 */
#include "config.h"

#include "savefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endian.h"
#include "grow.h"

/* Compression formats recognised by magic, outside a libvirt header. */
static const struct {
    const char *name;
    const uint8_t magic[6];
    size_t len;
    const char *const argv[4];
} compressors[] = {
    { "gzip", { 0x1f, 0x8b }, 2, { "gzip", "-dc", NULL } },
    { "bzip2", { 'B', 'Z', 'h' }, 3, { "bzip2", "-dc", NULL } },
    { "xz", { 0xfd, '7', 'z', 'X', 'Z', 0 }, 6, { "xz", "-dc", NULL } },
    { "lzop", { 0x89, 'L', 'Z', 'O' }, 4,
      { "lzop", "-dc", "--ignore-warn", NULL } },
};

static bool is_zstd(const uint8_t *p, size_t n)
{
    return n >= 4 && fr_le32dec(p) == 0xFD2FB528u;
}

static int push_filter(struct savefile *sf, const char *name,
                       const char *const *argv)
{
    sf->compression = name;
    if (argv) {
        if (fr_src_open_filter(&sf->dec, &sf->file, argv) < 0) {
            return -1;
        }
    } else if (fr_src_open_zstd(&sf->dec, &sf->file) < 0) {
        return -1;
    }
    sf->src = &sf->dec;
    return 0;
}

/*
 * QEMU can save at an offset (migrate "file:path,offset=N"), leaving the
 * bytes before it as they were: a hole in a new file.  Skip such leading
 * zeros, up to 16 MiB; anything else before the magic is not guessed at.
 */
static int skip_leading_zeros(struct savefile *sf)
{
    struct fr_src *s = &sf->file;
    const uint64_t limit = 16u << 20;
    size_t n;
    const uint8_t *p;

    while (fr_src_tell(s) < limit &&
           (p = fr_src_peek_upto(s, 65536, &n)) && n) {
        size_t i = 0;
        while (i < n && p[i] == 0) {
            i++;
        }
        fr_src_consume(s, i);
        if (i < n) {
            break;
        }
    }
    return fr_src_failed(s) ? -1 : 0;
}

static int open_common(struct savefile *sf);

int savefile_open(struct savefile *sf, const char *path,
                  const char *snapshot)
{
    memset(sf, 0, sizeof(*sf));
    sf->name = path;
    sf->snapshot_sel = snapshot;
    sf->fd = -1;
    if (strcmp(path, "-") == 0) {
        sf->fd = 0;
    } else {
        sf->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (sf->fd < 0) {
            return fr_fail_sys(&sf->err, errno, FR_NO_OFFSET,
                               "cannot open");
        }
        sf->own_fd = true;
    }
    return open_common(sf);
}

int savefile_open_fd(struct savefile *sf, int fd, const char *name)
{
    memset(sf, 0, sizeof(*sf));
    sf->name = name;
    sf->fd = fd;
    sf->own_fd = true;
    return open_common(sf);
}

int savefile_reopen(const struct savefile *sf, struct savefile *again)
{
    char path[64];
    int fd;

    memset(again, 0, sizeof(*again));
    again->fd = -1;
    if (!S_ISREG(sf->st.st_mode)) {
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", sf->fd);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    again->name = sf->name;
    again->fd = fd;
    again->own_fd = true;
    again->snapshot_sel = sf->snapshot_sel;
    return open_common(again);
}

bool savefile_is_qcow2(const char *path)
{
    uint8_t magic[QCOW2_MAGIC_LEN];
    int fd;
    bool yes;

    if (strcmp(path, "-") == 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return false;
    }
    yes = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
          qcow2_probe(magic, sizeof(magic));
    close(fd);
    return yes;
}

void savefile_progress(const struct savefile *sf, const struct ram_state *rs,
                       struct fr_progress *p)
{
    if (!p || (rs->n_page + rs->n_zero + rs->n_xbzrle) % 4096 != 0) {
        return;
    }
    if (sf->is_qcow2) {
        fr_progress_update(p, fr_src_tell(sf->src),
                           sf->snapshot->vmstate_size);
    } else if (S_ISREG(sf->st.st_mode)) {
        fr_progress_update(p, fr_src_tell(&sf->file),
                           (uint64_t)sf->st.st_size);
    }
}

/* Read the VM state of the chosen snapshot of the qcow2 image. */
static int open_qcow2(struct savefile *sf)
{
    if (!sf->file.seekable) {
        return fr_fail(&sf->err, FR_E_LIMIT, 0,
                       "a qcow2 image is read from a file, not a pipe: its "
                       "snapshots are found through its tables");
    }
    sf->is_qcow2 = true;
    if (qcow2_open(&sf->qcow2, &sf->file) < 0 ||
        !(sf->snapshot = qcow2_find(&sf->qcow2, sf->snapshot_sel,
                                    &sf->err)) ||
        qcow2_open_vmstate(&sf->dec, &sf->file, &sf->qcow2, sf->snapshot)
            < 0) {
        return -1;
    }
    sf->src = &sf->dec;
    return 0;
}

static int open_common(struct savefile *sf)
{
    const uint8_t *p;
    size_t n;

    if (fstat(sf->fd, &sf->st) < 0) {
        return fr_fail_sys(&sf->err, errno, FR_NO_OFFSET, "cannot stat");
    }
    if (S_ISDIR(sf->st.st_mode)) {
        return fr_fail(&sf->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "is a directory");
    }
    if (fr_src_open_fd(&sf->file, sf->fd, &sf->err) < 0) {
        return -1;
    }
    sf->src = &sf->file;

    p = fr_src_peek_upto(&sf->file, LIBVIRT_MAGIC_LEN, &n);
    if (!p) {
        return -1;
    }
    if (qcow2_probe(p, n)) {
        if (open_qcow2(sf) < 0) {
            return -1;
        }
    } else if (sf->snapshot_sel) {
        return fr_fail(&sf->err, FR_E_USAGE, FR_NO_OFFSET,
                       "--snapshot selects a snapshot of a qcow2 image, "
                       "and this is not one");
    } else if (n >= LIBVIRT_MAGIC_LEN && libvirt_probe(p)) {
        const char *const *argv;
        sf->libvirt = true;
        if (libvirt_hdr_read(&sf->file, &sf->lv) < 0) {
            return -1;
        }
        argv = libvirt_format_decompressor(sf->lv.format);
        if (argv && push_filter(sf, argv[0], argv) < 0) {
            return -1;
        }
        if (sf->lv.format == LIBVIRT_FMT_ZSTD &&
            push_filter(sf, "zstd", NULL) < 0) {
            return -1;
        }
    } else if (is_zstd(p, n)) {
        if (push_filter(sf, "zstd", NULL) < 0) {
            return -1;
        }
    } else {
        for (size_t i = 0; i < sizeof(compressors) / sizeof(*compressors);
             i++) {
            if (n >= compressors[i].len &&
                memcmp(p, compressors[i].magic, compressors[i].len) == 0) {
                if (push_filter(sf, compressors[i].name,
                                compressors[i].argv) < 0) {
                    return -1;
                }
                break;
            }
        }
    }

    if (!sf->libvirt && !sf->compression && !sf->is_qcow2 &&
        skip_leading_zeros(sf) < 0) {
        return -1;
    }
    sf->stream_offset = fr_src_tell(sf->src);
    p = fr_src_peek_upto(sf->src, 4, &n);
    if (!p) {
        return -1;
    }
    if (n < 4 || !sv_probe(p)) {
        if (sf->is_qcow2) {
            return fr_fail(&sf->err, FR_E_NOTMIG, 0,
                           "the VM state of snapshot %s '%s' is not a QEMU "
                           "migration stream", sf->snapshot->id,
                           sf->snapshot->name);
        }
        if (sf->libvirt || sf->compression) {
            return fr_fail(&sf->err, FR_E_NOTMIG, sf->stream_offset,
                           "%s%s payload is not a QEMU migration stream",
                           sf->compression ? sf->compression : "libvirt",
                           sf->compression ? "-decompressed" : "");
        }
        return fr_fail(&sf->err, FR_E_NOTMIG, 0,
                       "not a QEMU migration file (no QEVM, libvirt or "
                       "compression magic)");
    }
    return 0;
}

int savefile_peek_config(struct savefile *sf, struct sv_config *cfg)
{
    size_t n;
    const uint8_t *p = fr_src_peek_upto(sf->src, 65536, &n);
    struct fr_src mem;
    struct fr_err err = { 0 };
    struct sv_reader sv;

    if (!p) {
        return -1;
    }
    fr_src_open_mem(&mem, p, n, &err);
    if (sv_open(&sv, &mem) < 0) {
        /* let the real walk report it, with the right offset */
        memset(cfg, 0, sizeof(*cfg));
        return 0;
    }
    *cfg = sv.cfg;
    sv_close(&sv);
    return 0;
}

void savefile_close(struct savefile *sf)
{
    if (sf->src == &sf->dec) {
        fr_src_close(&sf->dec);
    }
    fr_src_close(&sf->file);
    libvirt_hdr_free(&sf->lv);
    qcow2_free(&sf->qcow2);
    if (sf->own_fd) {
        close(sf->fd);
    }
    sf->own_fd = false;
}

const char *savefile_layout(const struct sf_summary *sum)
{
    return sum->ram.mapped_ram ? "mapped-ram" : "stream";
}

void savefile_summary_free(struct sf_summary *sum)
{
    sv_close(&sum->sv);
    ram_free(&sum->ram);
    vmdesc_free(&sum->vmdesc);
    free(sum->devs);
    free(sum->cmds);
    memset(sum, 0, sizeof(*sum));
}

/* On a seekable input, find and parse the vmdesc first: its sizes
 * delimit device bodies exactly.  A missing or bad one is no error here. */
static void preload_vmdesc(struct savefile *sf, struct sf_summary *sum)
{
    struct fr_err err = { 0 };
    struct fr_src *s = sf->src;
    uint64_t off, len;
    uint8_t *json;
    int found;

    if (!s->seekable || s != &sf->file) {
        return;
    }
    s->err = &err;
    found = sv_find_vmdesc(s, s->size, &off, &len);
    if (found == 1 && (json = malloc(len))) {
        if (fr_src_pread(s, json, len, off + 5, "vmdesc") == 0 &&
            vmdesc_parse(json, len, off + 5, &sum->vmdesc, &err) == 0) {
            sum->sv.vmdesc = &sum->vmdesc;
            sum->vmdesc_used = true;
        }
        free(json);
    }
    s->err = &sf->err;
}

static int add_device(struct sf_summary *sum, const struct sv_token *t,
                      uint64_t len, enum sv_delim how, struct fr_err *err)
{
    struct sf_device *d;

    sum->device_bytes += len;
    if (t->type == SV_PART || t->type == SV_END) {
        if (sum->parts_listed == SF_MAX_LISTED) {
            sum->devs_unlisted++;
            return 0;
        }
        sum->parts_listed++;
    }
    d = fr_room_for_one(sum->devs, sum->ndevs, sizeof(*d));
    if (!d) {
        return fr_fail(err, FR_E_NOMEM, t->offset, "out of memory");
    }
    sum->devs = d;
    d = &sum->devs[sum->ndevs++];
    d->type = t->type;
    d->sec = (uint32_t)(t->sec - sum->sv.secs);
    d->offset = t->offset;
    d->body_offset = t->body_offset;
    d->body_len = len;
    d->delim = how;
    return 0;
}

static int add_command(struct sf_summary *sum, const struct sv_token *t,
                       struct fr_err *err)
{
    struct sf_command *c;

    if (sum->ncmds >= SF_MAX_LISTED) {
        sum->cmds_unlisted++;
        return 0;
    }
    c = fr_room_for_one(sum->cmds, sum->ncmds, sizeof(*c));
    if (!c) {
        return fr_fail(err, FR_E_NOMEM, t->offset, "out of memory");
    }
    sum->cmds = c;
    c = &sum->cmds[sum->ncmds++];
    c->cmd = t->cmd;
    c->len = t->cmd_len;
    c->offset = t->offset;
    return 0;
}

static int handle_command(struct savefile *sf, struct sf_summary *sum,
                          const struct sv_token *t)
{
    if (t->cmd == SV_CMD_PACKAGED) {
        return fr_fail(&sf->err, FR_E_UNSUPPORTED, t->offset,
                       "packaged command (postcopy) is not supported");
    }
    if (t->cmd == SV_CMD_POSTCOPY_ADVISE && t->cmd_len == 16) {
        sum->ram.postcopy_advised = true;
    }
    return add_command(sum, t, &sf->err);
}

static bool is_ram_section(const struct sv_section *sec)
{
    return strcmp(sec->idstr, "ram") == 0 && sec->instance == 0;
}

static int walk_section(struct savefile *sf, struct sf_summary *sum,
                        const struct sv_token *t, const struct sf_visitor *v)
{
    struct fr_src *s = sf->src;
    bool is_ram = is_ram_section(t->sec);

    if (is_ram && t->type == SV_FULL) {
        return fr_fail(&sf->err, FR_E_CORRUPT, t->offset,
                       "ram state in a FULL section");
    }
    if (is_ram && t->type == SV_START) {
        if (t->sec->version != 4) {
            return fr_fail(&sf->err, FR_E_UNSUPPORTED, t->offset,
                           "ram section version %u is not supported "
                           "(expected 4)", t->sec->version);
        }
        sum->have_ram = true;
        sum->ram_section_id = t->sec->id;
    }
    if (v && v->token && v->token(v->opaque, t, is_ram) < 0) {
        return -1;
    }
    if (is_ram) {
        if (ram_read_section(&sum->ram, s) < 0) {
            return -1;
        }
    } else {
        uint64_t len;
        enum sv_delim how;
        if (sv_skip_body(&sum->sv, t, v ? v->device_body : NULL,
                         v ? v->opaque : NULL, &len, &how) < 0 ||
            add_device(sum, t, len, how, &sf->err) < 0) {
            return -1;
        }
    }
    if (sv_read_footer(&sum->sv, t) < 0) {
        return -1;
    }
    return v && v->token_end ? v->token_end(v->opaque, t, is_ram) : 0;
}

/* Count (and consume) whatever follows the stream. */
static int count_trailing(struct savefile *sf, struct sf_summary *sum)
{
    struct fr_src *s = sf->src;

    sum->end_offset = fr_src_tell(s);
    if (s->seekable) {
        sum->trailing = s->size - sum->end_offset;
        return 0;
    }
    for (;;) {
        size_t n;
        if (!fr_src_peek_upto(s, FR_SRC_BUFSIZE, &n)) {
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        sum->trailing += n;
        fr_src_consume(s, n);
    }
}

int savefile_walk(struct savefile *sf, struct sf_summary *sum,
                  const struct sf_visitor *v)
{
    struct fr_src *s = sf->src;
    struct sv_token *t;
    int ret = -1;

    memset(sum, 0, sizeof(*sum));
    if (sv_open(&sum->sv, s) < 0) {
        return -1;
    }
    preload_vmdesc(sf, sum);
    ram_init(&sum->ram, sv_page_size(&sum->sv.cfg),
             sv_has_cap(&sum->sv.cfg, "mapped-ram"),
             sv_has_cap(&sum->sv.cfg, "x-ignore-shared"));
    sum->ram.track_pages = !(v && v->untracked);
    if (v) {
        sum->ram.visitor = &v->ram;
        if (v->opened && v->opened(v->opaque, &sum->sv, &sum->ram) < 0) {
            return -1;
        }
    }
    t = malloc(sizeof(*t));
    if (!t) {
        return fr_fail(&sf->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    for (;;) {
        if (sv_next(&sum->sv, t) < 0) {
            goto out;
        }
        if (t->type == SV_EOF) {
            sum->have_eof = true;
            sum->eof_offset = t->offset;
            if (v && v->token && v->token(v->opaque, t, false) < 0) {
                goto out;
            }
            break;
        }
        if (t->type == SV_COMMAND) {
            if (handle_command(sf, sum, t) < 0 ||
                (v && v->token && v->token(v->opaque, t, false) < 0)) {
                goto out;
            }
            continue;
        }
        if (walk_section(sf, sum, t, v) < 0) {
            goto out;
        }
    }

    uint8_t *json;
    uint64_t len, off;
    if (sv_read_vmdesc(&sum->sv, &json, &len, &off) < 0) {
        goto out;
    }
    if (len) {
        sum->have_vmdesc = true;
        sum->vmdesc_offset = off;
        sum->vmdesc_len = len;
    }
    ret = v && v->vmdesc ? v->vmdesc(v->opaque, json, len) : 0;
    free(json);
    if (ret == 0) {
        ret = count_trailing(sf, sum);
    }
out:
    free(t);
    return ret;
}
