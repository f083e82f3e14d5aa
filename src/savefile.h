/*
 * A save file as a user has it: opens a path or stdin, recognises the
 * container (libvirt header, zstd/gzip/bzip2/xz/lzop compression) by its
 * magic, and walks the QEMU stream inside, RAM and device sections alike,
 * collecting what inspect, verify and the converters need.
 */
#ifndef FR_SAVEFILE_H
#define FR_SAVEFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "io.h"
#include "libvirt.h"
#include "progress.h"
#include "qcow2.h"
#include "ram.h"
#include "savevm.h"
#include "vmdesc.h"

struct savefile {
    const char *name;           /* for messages: the path, or "-" */
    int fd;
    bool own_fd;
    struct stat st;
    struct fr_err err;
    struct fr_src file;         /* the bytes of the file */
    struct fr_src dec;          /* decompressed payload, when compressed */
    struct fr_src *src;         /* where the QEMU stream is read */
    bool libvirt;
    struct libvirt_hdr lv;
    const char *compression;    /* "zstd", "gzip", ... or NULL */
    bool is_qcow2;              /* the stream is a qcow2 snapshot's VM state */
    struct qcow2 qcow2;
    const struct qcow2_snapshot *snapshot;  /* the one read */
    const char *snapshot_sel;   /* as the user named it, or NULL */
    uint64_t stream_offset;     /* of the QEVM magic, in src */
};

/* A device (non-RAM) section token as found in the stream. */
struct sf_device {
    uint8_t type;               /* SV_FULL, or SV_START/PART/END */
    uint32_t sec;               /* its section: sf_summary.sv.secs[sec] */
    uint64_t offset;            /* of the section's type byte */
    uint64_t body_offset, body_len;
    enum sv_delim delim;
};

struct sf_command {
    uint16_t cmd, len;
    uint64_t offset;
};

/* Listed PART and END device tokens, and commands, at most: more are only
 * counted, so that a file of tiny tokens cannot take memory without bound
 * (START and FULL are bounded by SV_MAX_SECTIONS). */
#define SF_MAX_LISTED 65536

/* Hooks for commands that transform a file while it is walked. */
struct sf_visitor {
    void *opaque;
    /* No present/sent bitmaps (ram_state.track_pages): the visitor keeps
     * what it needs of the pages itself. */
    bool untracked;
    /* After the header and configuration were read. */
    int (*opened)(void *opaque, struct sv_reader *sv, struct ram_state *rs);
    /* A token header; for sections, before the body. */
    int (*token)(void *opaque, const struct sv_token *t, bool is_ram);
    /* Bytes of a device section body as they stream past. */
    sv_body_fn device_body;
    /* After a section's footer (or a command, or EOF). */
    int (*token_end)(void *opaque, const struct sv_token *t, bool is_ram);
    /* The vmdesc JSON after EOF (LEN 0: none). */
    int (*vmdesc)(void *opaque, const uint8_t *json, uint64_t len);
    struct ram_visitor ram;
};

struct sf_summary {
    struct sv_reader sv;
    struct ram_state ram;
    bool have_ram;
    uint32_t ram_section_id;
    struct sf_device *devs;
    size_t ndevs;
    size_t parts_listed;        /* PART/END tokens among them */
    uint64_t devs_unlisted;     /* PART/END tokens past SF_MAX_LISTED */
    uint64_t device_bytes;      /* body bytes of all device tokens */
    struct sf_command *cmds;
    size_t ncmds;
    uint64_t cmds_unlisted;
    bool have_eof;
    uint64_t eof_offset;
    bool have_vmdesc;
    uint64_t vmdesc_offset, vmdesc_len;
    bool vmdesc_used;           /* its sizes delimited the device bodies */
    struct vmdesc vmdesc;       /* parsed when it was found up front */
    uint64_t end_offset;        /* where the stream's last byte ends */
    uint64_t trailing;          /* bytes after it */
};

/*
 * Open PATH ("-" = stdin) and position the reader at the QEMU stream.
 * SNAPSHOT (NULL: the only one) selects the internal snapshot of a qcow2
 * image whose VM state is read; for any other input it is a usage error.
 * Returns 0, or -1 with sf->err set (FR_E_NOTMIG when the file is not a
 * QEMU migration file of any kind we know).
 */
int savefile_open(struct savefile *sf, const char *path,
                  const char *snapshot);

/* Whether PATH is a qcow2 image (false for "-" and unreadable files). */
bool savefile_is_qcow2(const char *path);
void savefile_close(struct savefile *sf);

/* The same for FD, which SF then owns (closes); NAME names it in
 * messages. */
int savefile_open_fd(struct savefile *sf, int fd, const char *name);

/*
 * Open the regular file SF has open once more, into AGAIN: a second reader
 * with a file offset of its own.  Returns 0, or -1 when SF is not a
 * regular file, or the file cannot be opened again (AGAIN->err set when
 * it was opened but could not be read).  Close AGAIN either way.
 */
int savefile_reopen(const struct savefile *sf, struct savefile *again);

/*
 * From a page record visitor of a walk of SF: every 4096 records of RS,
 * show on P (NULL: none) the share of the file read so far; nothing for a
 * pipe, whose size is unknown.
 */
void savefile_progress(const struct savefile *sf, const struct ram_state *rs,
                       struct fr_progress *p);

/*
 * Without consuming anything, read the configuration at the start of the
 * stream into CFG (capabilities: sv_has_cap).  An unreadable one reads as
 * empty: the walk reports it properly.  Returns 0, or -1 on I/O error.
 */
int savefile_peek_config(struct savefile *sf, struct sv_config *cfg);

/*
 * Walk the whole stream, filling SUM (caller frees it with
 * savefile_summary_free).  V may be NULL.  On error returns -1 with
 * sf->err set; SUM then holds what was read up to the error.
 */
int savefile_walk(struct savefile *sf, struct sf_summary *sum,
                  const struct sf_visitor *v);
void savefile_summary_free(struct sf_summary *sum);

/* The section of device token D. */
static inline const struct sv_section *
sf_device_section(const struct sf_summary *sum, const struct sf_device *d)
{
    return &sum->sv.secs[d->sec];
}

/* "stream" or "mapped-ram". */
const char *savefile_layout(const struct sf_summary *sum);

#endif
