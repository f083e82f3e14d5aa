/*
 * fr_src: a buffered, forward reader over a file, a pipe, memory, or a
 * decompressor, with peek/consume, a logical offset, a sticky error, and
 * positioned reads (pread) when the input underneath is a regular file.
 *
 * Parsers only ever see a struct fr_src: they do not know whether the bytes
 * come from a file, stdin, zstd or gzip.  Every failure is recorded in the
 * source's struct fr_err and is sticky: afterwards every read fails.
 */
#ifndef FR_IO_H
#define FR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct fr_src;

/* A backend: fills BUF with up to N bytes; returns the count, 0 at the end
 * of the input, or -1 after recording an error in S->err. */
typedef ssize_t (*fr_src_fill_fn)(struct fr_src *s, uint8_t *buf, size_t n);

struct fr_src {
    uint8_t *buf;           /* window of the input */
    size_t cap;
    size_t start, end;      /* valid bytes are buf[start, end) */
    uint64_t pos;           /* logical offset of buf[start] */
    bool eof;               /* the backend reported its end */
    bool owns_buf;
    struct fr_err *err;     /* sticky: set once, never cleared */

    fr_src_fill_fn fill;
    void (*close)(struct fr_src *s);
    void *ctx;              /* backend state */

    int fd;                 /* fd backends: the descriptor, else -1 */
    bool seekable;          /* regular file: pread at any offset works */
    uint64_t size;          /* file size when seekable */
    uint64_t fd_next;       /* next offset the fd backend reads */
    bool decompressed;      /* offsets are into decompressed data */
    bool direct;            /* read through dfd: fr_src_bypass_cache */
    bool dfd_open;
    int dfd;
};

/* The window size: big enough for any single token or page we peek. */
#define FR_SRC_BUFSIZE (1u << 20)

/*
 * Make S read FD (a file, pipe or terminal).  Regular files are read with
 * pread from offset 0 and are seekable.  Returns 0, or -1 with ERR set.
 * S does not own FD.
 */
int fr_src_open_fd(struct fr_src *s, int fd, struct fr_err *err);

/*
 * If FD is a pipe, make its buffer FR_SRC_BUFSIZE instead of the default
 * 64 KiB: the two ends then meet once per MiB, not once per 64 KiB, which
 * makes a pipe about a quarter faster (exec: migrations).
 */
void fr_pipe_widen(int fd);

/* Make S read the LEN bytes at P (not copied; P must outlive S). */
void fr_src_open_mem(struct fr_src *s, const void *p, size_t len,
                     struct fr_err *err);

/*
 * Make OUTER read the zstd-decompressed content of INNER from INNER's
 * current position on.  INNER must stay alive while OUTER is used.
 */
int fr_src_open_zstd(struct fr_src *outer, struct fr_src *inner);

/*
 * Make OUTER read what the command ARGV (e.g. {"gzip", "-dc", NULL})
 * writes when fed INNER's content from its current position on, as libvirt
 * does for compressed save images.  The program's failure is an error.
 */
int fr_src_open_filter(struct fr_src *outer, struct fr_src *inner,
                       const char *const *argv);

/*
 * Make S read through FILL, a backend of the caller's with state CTX
 * (CLOSE, if not NULL, frees it), with a read buffer of its own.  Offsets
 * are the backend's (decompressed-like: S is not seekable).  Failures are
 * recorded in ERR.
 */
int fr_src_open_backend(struct fr_src *s, struct fr_err *err,
                        fr_src_fill_fn fill, void (*close)(struct fr_src *s),
                        void *ctx);

/* Release buffers and backend state (and reap filter processes). */
void fr_src_close(struct fr_src *s);

/*
 * Return a pointer to the next N bytes without consuming them, or NULL if
 * fewer than N remain (or on error).  N must be at most FR_SRC_BUFSIZE.
 * The pointer stays valid until the next call on S.
 */
const uint8_t *fr_src_peek(struct fr_src *s, size_t n);

/* Like fr_src_peek, but returns what is available up to N in *AVAIL
 * (possibly fewer at the end of the input). */
const uint8_t *fr_src_peek_upto(struct fr_src *s, size_t n, size_t *avail);

/* Drop N bytes previously peeked. */
void fr_src_consume(struct fr_src *s, size_t n);

/*
 * Read exactly N bytes into DST.  A short input is FR_E_TRUNCATED with a
 * message "truncated WHAT: expected N bytes, got M".
 */
int fr_src_read(struct fr_src *s, void *dst, size_t n, const char *what);

/* Read one byte / a big-endian integer; the same truncation rule. */
int fr_src_u8(struct fr_src *s, uint8_t *v, const char *what);
int fr_src_be16(struct fr_src *s, uint16_t *v, const char *what);
int fr_src_be32(struct fr_src *s, uint32_t *v, const char *what);
int fr_src_be64(struct fr_src *s, uint64_t *v, const char *what);

/*
 * Move to logical offset OFF.  Forward moves read and discard on pipes;
 * backward moves need a seekable input.
 */
int fr_src_seek(struct fr_src *s, uint64_t off, const char *what);

/*
 * Read N bytes at offset OFF without moving; only on seekable inputs.
 * Short reads are FR_E_TRUNCATED.
 */
int fr_src_pread(struct fr_src *s, void *dst, size_t n, uint64_t off,
                 const char *what);

/* The same, with failures in ERR, not in S: for several threads at once
 * (S's own error is not looked at). */
int fr_src_pread_to(struct fr_src *s, void *dst, size_t n, uint64_t off,
                    const char *what, struct fr_err *err);

/*
 * From now on, let fr_src_pread of whole 4096-byte blocks at 4096-aligned
 * offsets into 4096-aligned memory bypass the page cache (O_DIRECT),
 * reading PATH, the file S reads, through a descriptor of its own.  Where
 * the file system refuses O_DIRECT, at open or at the first read, reads
 * stay buffered.
 */
void fr_src_bypass_cache(struct fr_src *s, const char *path);

/* Logical offset of the next unread byte. */
static inline uint64_t fr_src_tell(const struct fr_src *s)
{
    return s->pos;
}

/* True at the clean end of the input (false on error). */
bool fr_src_at_end(struct fr_src *s);

static inline bool fr_src_failed(const struct fr_src *s)
{
    return fr_failed(s->err);
}

#endif
