/*
 * fr_sink: where a command writes its output file.
 *
 * A regular-file output is created as a temporary file in the target's
 * directory and renamed over the target only by fr_sink_commit(), after
 * everything was written and flushed; fr_sink_abort() (also run from
 * SIGINT/SIGTERM/SIGHUP handlers) removes it.  "-" is standard output,
 * refused when it is a terminal.
 *
 * Two ways to write: sequentially through a buffer (fr_sink_write, with
 * optional zstd compression underneath), and at absolute offsets
 * (fr_sink_pwrite, regular files only), which mapped-ram pages need.
 *
 * fr_sink_commit() fsyncs the file before the rename.  So that this final
 * fsync does not start writing gigabytes from scratch, a helper thread
 * starts the writeback of what is already written every few MiB: the disk
 * then works while the conversion does, and the kernel's writeback work
 * runs on another CPU.
 */
#ifndef FR_SINK_H
#define FR_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "err.h"

struct fr_sink {
    const char *name;           /* for messages */
    int fd;
    bool is_file;               /* sequential part may have holes */
    bool durable;               /* fsync before the rename (default);
                                 * false for temporary files */
    bool seekable;              /* regular file: pwrite works */
    bool scratch;               /* unlinked temporary: no rename */
    bool sized;                 /* made longer by fr_sink_size_hint */
    bool replace;               /* --force: the commit may replace a file */
    mode_t mode;                /* permission bits, before the umask */
    char *final_path;
    char *tmp_path;
    uint8_t *buf;
    size_t cap, len;
    uint64_t pos;               /* offset of the next sequential byte */
    uint64_t high;              /* highest byte written + 1 */
    uint64_t sent;              /* bytes written sequentially (pipes,
                                 * compressed output): for messages */
    struct fr_err *err;
    void *zstd;                 /* ZSTD_CCtx when compressing */
    uint8_t *zbuf;
    size_t zcap;
    bool direct;                /* dfd is open: see fr_sink_bypass_cache */
    int dfd;
    struct fr_writeback *wb;    /* background writeback thread, or NULL */
    uint64_t wb_from;           /* lowest offset written since it was */
    uint64_t wb_bytes;          /* woken, and bytes written since then */
    struct fr_behind *behind;   /* write-behind thread, or NULL */
    pthread_mutex_t lock;       /* fr_sink_pwrite from several threads:
                                 * all zero bytes is unlocked (glibc) */
};

/*
 * Catch SIGINT, SIGTERM and SIGHUP, which then remove the temporary files
 * of open sinks.  Call once, early.
 */
void fr_sink_catch_signals(void);

/*
 * From now on, refuse to open the file ST describes (an input, when it is
 * a regular file) as an output, even with force.  Up to a few inputs.
 */
void fr_sink_protect(const struct stat *st);

/*
 * Open PATH for writing ("-" = stdout).  An existing PATH is refused with
 * FR_E_EXISTS unless FORCE, and always when it is a protected input.
 * Returns 0, or -1 with ERR set.
 */
int fr_sink_open(struct fr_sink *k, const char *path, bool force,
                 struct fr_err *err);

/*
 * Give K's file the permission bits of the input ST describes, as cp
 * does, less the umask.  Without a call, or when the input is not a
 * regular file (a pipe from QEMU), it gets 0600 less the umask, as QEMU's
 * own save files: both hold guest RAM, which must not become readable to
 * more users than the input is.
 */
void fr_sink_inherit_mode(struct fr_sink *k, const struct stat *input);

/*
 * Open an unlinked scratch file in $TMPDIR (default /var/tmp), for data a
 * command reads back itself.  Nothing is renamed and nothing is synced:
 * fr_sink_commit only flushes it and hands over K->fd, which the caller
 * then owns.  Returns 0, or -1 with ERR set.
 */
int fr_sink_open_scratch(struct fr_sink *k, struct fr_err *err);

/* Write sequentially to FD (a pipe), which K then owns (closes). */
int fr_sink_open_fd(struct fr_sink *k, int fd, const char *name,
                    struct fr_err *err);

/*
 * From now on, write full buffers of sequential output from a thread of
 * its own, while the caller fills the next one (the bytes are the same).
 */
void fr_sink_write_behind(struct fr_sink *k);

/*
 * The output will be about N bytes long.  A new file output that is to be
 * fsynced is made that long now, so that the writes do not grow it one at
 * a time: on ext4 each growth is a journal update, and those queue behind
 * the block allocations of the background writeback.  The commit cuts the
 * file to what was written.  Call it after setting K->durable.
 */
void fr_sink_size_hint(struct fr_sink *k, uint64_t n);

/* Append N bytes at the sequential position. */
int fr_sink_write(struct fr_sink *k, const void *p, size_t n);

/*
 * Append the CNT buffers of IOV in order, like fr_sink_write on each.  When
 * they add up to much, they go to the file with one writev, without being
 * copied into the sink's buffer first; IOV is then used as scratch space.
 */
int fr_sink_writev(struct fr_sink *k, struct iovec *iov, int cnt);

/* Sequential position (uncompressed bytes when compressing). */
static inline uint64_t fr_sink_tell(const struct fr_sink *k)
{
    return k->pos + k->len;
}

/* Move the sequential position forward to OFF, leaving a hole. */
int fr_sink_skip_to(struct fr_sink *k, uint64_t off);

/* Write N bytes at offset OFF (regular files only, even compressed:
 * for headers rewritten at the end).  Several threads may do this at
 * once, without --bypass-cache. */
int fr_sink_pwrite(struct fr_sink *k, const void *p, size_t n, uint64_t off);

/*
 * From now on, let fr_sink_pwrite of whole 4096-byte blocks at 4096-aligned
 * offsets from 4096-aligned memory bypass the page cache (O_DIRECT), for
 * outputs larger than the cache is useful for.  Where the file system
 * refuses O_DIRECT, at open or at the first write, writes stay buffered.
 */
void fr_sink_bypass_cache(struct fr_sink *k);

/* Read back N bytes written at OFF (regular files only). */
int fr_sink_pread(struct fr_sink *k, void *p, size_t n, uint64_t off);

/* Deallocate [OFF, OFF+LEN) so it reads as zeros (regular files only). */
int fr_sink_punch(struct fr_sink *k, uint64_t off, uint64_t len);

/* Compress everything written sequentially from now on with zstd. */
int fr_sink_start_zstd(struct fr_sink *k, int level, int threads);

/*
 * Finish: end the zstd frame, flush, set the file size, fsync (unless
 * !durable), and rename the temporary file over the target (a scratch
 * file stays open).  Returns 0, or -1 (the temporary file is then
 * removed).
 */
int fr_sink_commit(struct fr_sink *k);

/*
 * All of fr_sink_commit but the rename, for a command that puts several
 * files in place together: prepare them all, then commit them all (the
 * commits then only rename).  Returns 0, or -1 (K aborted).
 */
int fr_sink_prepare(struct fr_sink *k);

/* Give up: remove the temporary file.  Safe to call twice. */
void fr_sink_abort(struct fr_sink *k);

#endif
