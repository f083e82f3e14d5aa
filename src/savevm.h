/*
 * savevm framing: the QEMU migration stream around the RAM data.
 *
 *   be32 0x5145564D "QEVM" | be32 3
 *   [07 be32 N machine[N] (05 u8 L name[L] be32 ver payload)*]   config
 *   tokens:
 *     00                                   EOF
 *     01|04 be32 id u8 L idstr be32 inst be32 ver body [7e be32 id]
 *     02|03 be32 id body [7e be32 id]      PART / END of a START
 *     08 be16 cmd be16 len payload         COMMAND
 *   after EOF: [06 be32 L json[L]]         VMDESCRIPTION
 *
 * Device bodies do not carry their length: they are delimited by the vmdesc
 * JSON's sizes when it is available, else by their section footer, whose
 * position is accepted only if a well-formed token follows it.
 */
#ifndef FR_SAVEVM_H
#define FR_SAVEVM_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "vmdesc.h"

#define SV_MAGIC 0x5145564Du
#define SV_VERSION 3u
#define SV_MAX_SECTIONS 65536  /* sections (START or FULL) per stream */

enum sv_type {
    SV_EOF = 0x00,
    SV_START = 0x01,
    SV_PART = 0x02,
    SV_END = 0x03,
    SV_FULL = 0x04,
    SV_SUBSECTION = 0x05,
    SV_VMDESC = 0x06,
    SV_CONFIG = 0x07,
    SV_COMMAND = 0x08,
    SV_FOOTER = 0x7e,
};

/* QEMU_VM_COMMAND values. */
enum sv_cmd {
    SV_CMD_OPEN_RETURN_PATH = 1,
    SV_CMD_PING = 2,
    SV_CMD_POSTCOPY_ADVISE = 3,
    SV_CMD_POSTCOPY_LISTEN = 4,
    SV_CMD_POSTCOPY_RUN = 5,
    SV_CMD_POSTCOPY_RAM_DISCARD = 6,
    SV_CMD_PACKAGED = 7,
    SV_CMD_ENABLE_COLO = 8,
    SV_CMD_POSTCOPY_RESUME = 9,
    SV_CMD_RECV_BITMAP = 10,
    SV_CMD_SWITCHOVER_START = 11,
    SV_CMD_MAX
};

#define SV_MAX_CAPS 64
#define SV_MAX_MACHINE 1024

struct sv_config {
    bool present;
    uint64_t offset;            /* of the 07 byte */
    uint64_t length;            /* bytes up to the first token */
    char machine[SV_MAX_MACHINE + 1];
    bool has_page_bits;
    uint32_t page_bits;
    size_t ncaps;
    char caps[SV_MAX_CAPS][256];
    bool has_uuid;
    uint8_t uuid[16];
};

struct sv_section {
    uint32_t id;
    char idstr[256];
    uint32_t instance;
    uint32_t version;
    uint8_t opened_by;          /* SV_START or SV_FULL */
    bool ended;                 /* END seen (START sections) */
};

struct sv_token {
    uint8_t type;               /* enum sv_type */
    uint64_t offset;            /* of the type byte */
    uint64_t body_offset;       /* first byte after the token header */
    struct sv_section *sec;     /* START/PART/END/FULL: the section */
    uint16_t cmd, cmd_len;      /* COMMAND */
    uint8_t cmd_data[65535];    /* COMMAND payload */
};

enum sv_footers { SV_FOOTERS_UNKNOWN, SV_FOOTERS_ON, SV_FOOTERS_OFF };

struct sv_reader {
    struct fr_src *src;
    uint32_t version;
    struct sv_config cfg;
    enum sv_footers footers;
    /* the sections in the order they opened (SV_MAX_SECTIONS at most);
     * a token's sec points here until the next section opens */
    struct sv_section *secs;
    size_t nsecs, secs_alloc;
    uint32_t *slots;            /* hash of their ids: index + 1 */
    size_t nslots;
    /* vmdesc found up front (seekable inputs), used to delimit devices */
    const struct vmdesc *vmdesc;
    size_t vmdesc_next;         /* device index expected next */
    struct vmdesc own_vmdesc;   /* one found in the read window */
};

/* How a device body's end was found. */
enum sv_delim { SV_DELIM_VMDESC, SV_DELIM_FOOTER };

/*
 * Read the file header and configuration section; S is at the magic.
 * Returns 0, or -1 with the error in S->err (FR_E_NOTMIG if the magic is
 * wrong).
 */
int sv_open(struct sv_reader *r, struct fr_src *s);
void sv_close(struct sv_reader *r);

/* True if P (4 bytes) is the QEVM magic. */
bool sv_probe(const uint8_t *p);

/*
 * Read the next token's header (not its body).  COMMAND payloads are read
 * whole.  Returns 0, or -1 on error.
 */
int sv_next(struct sv_reader *r, struct sv_token *t);

/* Callback that receives a device body's bytes as they stream past. */
typedef int (*sv_body_fn)(void *opaque, const uint8_t *p, size_t n);

/*
 * Consume the body of the device section T (START/PART/END/FULL of a
 * section we do not decode), passing its bytes to FN when not NULL, and
 * stop before its footer.  *LEN gets the body length, *HOW how its end was
 * found.  Fails rather than guess when the end cannot be found safely.
 */
int sv_skip_body(struct sv_reader *r, const struct sv_token *t,
                 sv_body_fn fn, void *opaque, uint64_t *len,
                 enum sv_delim *how);

/*
 * Read the footer that ends section T's body (when the stream has
 * footers).  The first footer seen decides whether the stream has them.
 */
int sv_read_footer(struct sv_reader *r, const struct sv_token *t);

/*
 * After EOF: read an optional VMDESCRIPTION.  *LEN = 0 when there is none.
 * On success the JSON is in *JSON (malloc'd), starting at *OFF.
 */
int sv_read_vmdesc(struct sv_reader *r, uint8_t **json, uint64_t *len,
                   uint64_t *off);

/*
 * Find the vmdesc at the end of a seekable input by its shape:
 * 00 06 be32(L) '{' ... with its last byte at the end of the file.
 * Returns 1 and sets *OFF (of the 06 byte) and *LEN, 0 if none, -1 on
 * I/O error.
 */
int sv_find_vmdesc(struct fr_src *s, uint64_t end, uint64_t *off,
                   uint64_t *len);

/* Name of a section type or command, for reports: "full",
 * "switchover-start". */
const char *sv_type_name(uint8_t type);
const char *sv_cmd_name(uint16_t cmd);

/*
 * Is command CMD (payload LEN bytes) one that only a destination taking
 * part in the migration acts on: OPEN_RETURN_PATH and PING (from capability
 * return-path or postcopy-ram), and POSTCOPY_ADVISE with its page sizes
 * (postcopy-ram: QEMU refuses it unless postcopy-ram is set there too; the
 * empty one of dirty-bitmaps is harmless)?  A save to a file that wrote
 * them reported failure, although the file is complete.
 */
bool sv_cmd_needs_peer(uint16_t cmd, uint16_t len);

/* Has capability NAME in the configuration? */
bool sv_has_cap(const struct sv_config *cfg, const char *name);

/* Page size from the configuration (4096 unless target-page-bits says). */
uint32_t sv_page_size(const struct sv_config *cfg);

/* ---- writers (mirror the readers above) ---- */

struct fr_sink;

/* Magic and version. */
int sv_write_header(struct fr_sink *k);

/*
 * The configuration section CFG with capability ADD appended (when not
 * NULL and not already there) and DROP removed (when not NULL).
 */
int sv_write_config(struct fr_sink *k, const struct sv_config *cfg,
                    const char *add, const char *drop);

/* A token header exactly as it was read (START/PART/END/FULL, COMMAND
 * with its payload, EOF). */
int sv_write_token(struct fr_sink *k, const struct sv_token *t);

/* The footer of section SEC, when FOOTERS says the stream has them. */
int sv_write_footer(struct fr_sink *k, enum sv_footers footers,
                    const struct sv_section *sec);

/* VMDESCRIPTION: 06 be32 LEN JSON. */
int sv_write_vmdesc(struct fr_sink *k, const uint8_t *json, uint64_t len);

#endif
