/*
 * Output files: temporary file + rename, removed on error or signal;
 * buffered sequential writes (optionally zstd-compressed) and positioned
 * writes.  See sink.h.
 */
#include "config.h"

#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include "io.h"
#include "wqueue.h"

#define SINK_BUFSIZE (4u << 20)

/* Temporary files to remove if a signal ends the program: extract has
 * one per RAM block (at most 4096, ram.h), and a scratch file or two. */
#define MAX_TMP 4100
static char *volatile tmp_files[MAX_TMP];

static void on_signal(int sig)
{
    for (int i = 0; i < MAX_TMP; i++) {
        if (tmp_files[i]) {
            unlink(tmp_files[i]);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void fr_sink_catch_signals(void)
{
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* Inputs that no output may replace (fr_sink_protect). */
#define MAX_PROTECTED 4
static struct {
    dev_t dev;
    ino_t ino;
} protected_files[MAX_PROTECTED];
static int nprotected;

void fr_sink_protect(const struct stat *st)
{
    if (S_ISREG(st->st_mode) && nprotected < MAX_PROTECTED) {
        protected_files[nprotected].dev = st->st_dev;
        protected_files[nprotected++].ino = st->st_ino;
    }
}

static bool is_protected(const struct stat *st)
{
    for (int i = 0; i < nprotected; i++) {
        if (st->st_dev == protected_files[i].dev &&
            st->st_ino == protected_files[i].ino) {
            return true;
        }
    }
    return false;
}

/* Returns false when PATH could not be added: no slot left. */
static bool track_tmp(char *path, bool add)
{
    for (int i = 0; i < MAX_TMP; i++) {
        if (add ? !tmp_files[i] : tmp_files[i] == path) {
            tmp_files[i] = add ? path : NULL;
            return true;
        }
    }
    return !add;
}

/* A sink with no file yet, and its buffer. */
static int sink_init(struct fr_sink *k, const char *name, struct fr_err *err)
{
    memset(k, 0, sizeof(*k));
    k->name = name;
    k->err = err;
    k->fd = -1;
    k->wb_from = UINT64_MAX;
    k->mode = 0600;
    k->cap = SINK_BUFSIZE;
    k->buf = malloc(k->cap);
    return k->buf ? 0 : fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                                "out of memory");
}

void fr_sink_inherit_mode(struct fr_sink *k, const struct stat *input)
{
    k->mode = S_ISREG(input->st_mode) ? input->st_mode & 0666 : 0600;
}

int fr_sink_open(struct fr_sink *k, const char *path, bool force,
                 struct fr_err *err)
{
    struct stat st;

    if (sink_init(k, path, err) < 0) {
        return -1;
    }
    if (strcmp(path, "-") == 0) {
        if (isatty(1)) {
            return fr_fail(err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                           "refusing to write binary data to a terminal");
        }
        k->fd = 1;
        fr_pipe_widen(k->fd);
        return 0;
    }
    if (stat(path, &st) == 0) {
        if (is_protected(&st)) {
            return fr_fail(err, FR_E_EXISTS, FR_NO_OFFSET,
                           "output is the input file");
        }
        if (!S_ISREG(st.st_mode)) {
            /* a device or a FIFO: write to it directly */
            k->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (k->fd < 0) {
                return fr_fail_sys(err, errno, FR_NO_OFFSET, "cannot open");
            }
            fr_pipe_widen(k->fd);
            return 0;
        }
        if (!force) {
            return fr_fail(err, FR_E_EXISTS, FR_NO_OFFSET,
                           "output exists (use --force to overwrite it)");
        }
    }
    char *copy = strdup(path);
    k->final_path = strdup(path);
    k->tmp_path = copy ? malloc(strlen(path) + 32) : NULL;
    if (!k->tmp_path || !k->final_path) {
        free(copy);
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    /* hidden, next to the target, so that rename() is atomic */
    sprintf(k->tmp_path, "%s/.fixedram-tmp.XXXXXX", dirname(copy));
    free(copy);
    /* tracked before it exists, so that no signal can come in between */
    if (!track_tmp(k->tmp_path, true)) {
        free(k->tmp_path);
        k->tmp_path = NULL;
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET,
                       "too many outputs open at once");
    }
    k->replace = force;
    k->fd = mkostemp(k->tmp_path, O_CLOEXEC);
    if (k->fd < 0) {
        int e = errno;
        track_tmp(k->tmp_path, false);
        free(k->tmp_path);
        k->tmp_path = NULL;
        return fr_fail_sys(err, e, FR_NO_OFFSET,
                           "cannot create a temporary file next to it");
    }
    k->is_file = k->seekable = k->durable = true;
    return 0;
}

int fr_sink_open_fd(struct fr_sink *k, int fd, const char *name,
                    struct fr_err *err)
{
    int ret = sink_init(k, name, err);

    k->fd = fd;         /* owned even on failure: abort closes it */
    return ret;
}

int fr_sink_open_scratch(struct fr_sink *k, struct fr_err *err)
{
    const char *dir = getenv("TMPDIR");
    char *path;

    if (sink_init(k, "temporary file", err) < 0) {
        return -1;
    }
    if (!dir || !*dir) {
        dir = "/var/tmp";
    }
    if (asprintf(&path, "%s/fixedram-XXXXXX", dir) < 0) {
        return fr_fail(err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    /* never linked where O_TMPFILE works; else unlinked at once, so that
     * nothing is left behind whatever happens */
    k->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (k->fd < 0) {
        k->fd = mkostemp(path, O_CLOEXEC);
        if (k->fd >= 0) {
            unlink(path);
        }
    }
    free(path);
    if (k->fd < 0) {
        return fr_fail_sys(err, errno, FR_NO_OFFSET,
                           "cannot create a temporary file in %s "
                           "($TMPDIR)", dir);
    }
    k->is_file = k->seekable = k->scratch = true;
    return 0;
}

/* ---- background writeback ------------------------------------------------
 *
 * The kernel would start writing dirty pages only past its background
 * threshold (10% of RAM by default), so the fsync in fr_sink_commit would
 * find the whole output still to write, and would do the work of mapping
 * the dirty pages to blocks in our thread.  A helper thread asks for the
 * writeback (sync_file_range, which does not wait for the disk) of what
 * was written, every WRITEBACK_BYTES.  It stays WRITEBACK_LAG behind the
 * latest write: a page under writeback cannot take the next write to it
 * until the disk is done, and a run of pages is often followed by more
 * pages of the same folio.
 *
 * The helper also calls fdatasync after each WRITEBACK_FLUSH_BYTES it
 * handed to the kernel: the device's own cache (a virtual disk's host page
 * cache, say) then writes out while we go on, instead of all in the final
 * fsync.  Measured on a virtio disk, copying 1.3 GB: the final fsync took
 * 0.63 s after writeback alone, 0.02-0.2 s with these flushes.  A failed
 * fdatasync is kept and fails the output: the kernel reports a write-out
 * error only once per open file, so the final fsync would not see it.
 */

#define WRITEBACK_BYTES (32u << 20)
#define WRITEBACK_LAG (16u << 20)
#define WRITEBACK_FLUSH_BYTES (128u << 20)

struct fr_writeback {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fd;
    uint64_t from, to;          /* range to write back; empty: nothing */
    uint64_t unflushed;         /* handed to the kernel since fdatasync */
    int error;                  /* errno of a failed fdatasync, or 0 */
    bool stop;
};

static void *writeback_main(void *arg)
{
    struct fr_writeback *wb = arg;

    pthread_mutex_lock(&wb->lock);
    for (;;) {
        while (wb->from == wb->to && !wb->stop) {
            pthread_cond_wait(&wb->cond, &wb->lock);
        }
        if (wb->from == wb->to) {
            break;              /* stopped, with every range written back */
        }
        uint64_t from = wb->from, to = wb->to;
        wb->from = wb->to;
        pthread_mutex_unlock(&wb->lock);
        sync_file_range(wb->fd, (off_t)from, (off_t)(to - from),
                        SYNC_FILE_RANGE_WRITE);
        wb->unflushed += to - from;
        if (wb->unflushed >= WRITEBACK_FLUSH_BYTES) {
            wb->unflushed = 0;
            if (fdatasync(wb->fd) < 0 && !wb->error) {
                wb->error = errno;
            }
        }
        pthread_mutex_lock(&wb->lock);
    }
    pthread_mutex_unlock(&wb->lock);
    return NULL;
}

/* N bytes were written at START.  After each WRITEBACK_BYTES, hand the
 * helper the range written since it was last woken, less the last
 * WRITEBACK_LAG before this write.  (The helper starts on first use; when
 * it cannot, that only costs speed.)  Called with K->lock held. */
static void writeback_note(struct fr_sink *k, uint64_t start, size_t n)
{
    struct fr_writeback *wb = k->wb;
    uint64_t end = start + n, from, to;

    if (!k->tmp_path || !k->durable) {
        return;
    }
    k->wb_from = start < k->wb_from ? start : k->wb_from;
    k->wb_bytes += n;
    if (k->wb_bytes < WRITEBACK_BYTES ||
        end <= k->wb_from + WRITEBACK_LAG) {
        return;
    }
    from = k->wb_from;
    to = end - WRITEBACK_LAG;
    k->wb_from = to;
    k->wb_bytes = 0;
    if (!wb) {
        wb = calloc(1, sizeof(*wb));
        if (!wb) {
            return;
        }
        wb->fd = k->fd;
        pthread_mutex_init(&wb->lock, NULL);
        pthread_cond_init(&wb->cond, NULL);
        if (pthread_create(&wb->thread, NULL, writeback_main, wb) != 0) {
            pthread_cond_destroy(&wb->cond);
            pthread_mutex_destroy(&wb->lock);
            free(wb);
            return;
        }
        k->wb = wb;
    }
    pthread_mutex_lock(&wb->lock);
    if (wb->from != wb->to) {
        /* the helper has not taken the last range yet: widen it */
        from = wb->from < from ? wb->from : from;
        to = wb->to > to ? wb->to : to;
    }
    wb->from = from;
    wb->to = to;
    pthread_cond_signal(&wb->cond);
    pthread_mutex_unlock(&wb->lock);
}

/* Stop the helper, once it has handled the ranges handed to it (DISCARD:
 * drop them, the output is abandoned), so that the flushes do not depend
 * on how the threads were scheduled; returns the errno of its failed
 * fdatasync, or 0. */
static int writeback_stop(struct fr_sink *k, bool discard)
{
    struct fr_writeback *wb = k->wb;
    int error;

    if (!wb) {
        return 0;
    }
    pthread_mutex_lock(&wb->lock);
    if (discard) {
        wb->from = wb->to;
    }
    wb->stop = true;
    pthread_cond_signal(&wb->cond);
    pthread_mutex_unlock(&wb->lock);
    pthread_join(wb->thread, NULL);
    pthread_cond_destroy(&wb->cond);
    pthread_mutex_destroy(&wb->lock);
    error = wb->error;
    free(wb);
    k->wb = NULL;
    return error;
}

/* ---- writing ------------------------------------------------------------ */

/* Write the CNT buffers of IOV at OFF, or sequentially when OFF < 0, to
 * the end (IOV is used as scratch space).  Failures go to ERR. */
static int writev_all_to(struct fr_sink *k, struct iovec *iov, int cnt,
                         int64_t off, struct fr_err *err)
{
    /* sequential writes are one at a time: k->sent is stable here */
    uint64_t start = off >= 0 ? (uint64_t)off : k->sent;
    uint64_t done = 0;

    while (cnt > 0) {
        int n = cnt < IOV_MAX ? cnt : IOV_MAX;
        ssize_t w = off >= 0 ? pwritev(k->fd, iov, n, (off_t)(start + done))
                             : writev(k->fd, iov, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            int e = errno;
            pthread_mutex_lock(&k->lock);
            fr_fail_sys(err, e, FR_NO_OFFSET, "write %s failed at offset "
                        "0x%llx", k->scratch ? "to a temporary file in "
                        "$TMPDIR" : "to the output",
                        (unsigned long long)(start + done));
            pthread_mutex_unlock(&k->lock);
            return -1;
        }
        done += (uint64_t)w;
        /* drop what was written; a short write leaves part of one */
        while (cnt > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    pthread_mutex_lock(&k->lock);       /* positioned writers may be many */
    if (off >= 0 && start + done > k->high) {
        k->high = start + done;
    }
    if (off < 0) {
        k->sent += done;
    }
    writeback_note(k, start, (size_t)done);
    pthread_mutex_unlock(&k->lock);
    return 0;
}

static int write_all_to(struct fr_sink *k, const uint8_t *p, size_t n,
                        int64_t off, struct fr_err *err)
{
    struct iovec iov = { (void *)p, n };
    return writev_all_to(k, &iov, 1, off, err);
}

static int write_all(struct fr_sink *k, const uint8_t *p, size_t n,
                     int64_t off)
{
    return write_all_to(k, p, n, off, k->err);
}

/* ---- write-behind ---------------------------------------------------------
 *
 * With fr_sink_write_behind, a full buffer is handed to a thread
 * (wqueue.h) that writes it while the caller fills the other one.  One
 * buffer is in flight at a time, so the bytes reach the file in order.
 * Everything else that touches the file first waits for it (behind_drain).
 */

struct fr_behind {
    struct fr_wqueue wq;
    uint8_t *spare;             /* the buffer not being filled */
    struct fr_err err;          /* the thread's failure */
};

static int behind_write(void *target, const void *p, size_t n, int64_t off)
{
    struct fr_sink *k = target;
    return write_all_to(k, p, n, off, &k->behind->err);
}

/* The thread's failure becomes the sink's. */
static int behind_failed(struct fr_sink *k)
{
    if (!fr_failed(k->err)) {
        *k->err = k->behind->err;
    }
    return -1;
}

/* Wait until nothing is in flight. */
static int behind_drain(struct fr_sink *k)
{
    if (k->behind && fr_wq_drain(&k->behind->wq) < 0) {
        return behind_failed(k);
    }
    return 0;
}

static void behind_stop(struct fr_sink *k)
{
    struct fr_behind *b = k->behind;

    if (!b) {
        return;
    }
    behind_drain(k);
    fr_wq_stop(&b->wq);
    free(b->spare);
    free(b);
    k->behind = NULL;
}

void fr_sink_write_behind(struct fr_sink *k)
{
    struct fr_behind *b = calloc(1, sizeof(*b));

    if (!b || !(b->spare = malloc(k->cap)) ||
        !fr_wq_start(&b->wq, behind_write, 2)) {
        if (b) {
            free(b->spare);
        }
        free(b);
        return;         /* writes stay in the caller: only slower */
    }
    k->behind = b;
}

void fr_sink_size_hint(struct fr_sink *k, uint64_t n)
{
    /* without fsync there is no writeback thread, and growing the file
     * write by write is the faster way */
    if (k->tmp_path && k->durable && !k->scratch && k->is_file && !k->zstd &&
        ftruncate(k->fd, (off_t)n) == 0) {
        k->sized = true;        /* only faster: a failure changes nothing */
    }
}

/* Hand the buffer to the thread and go on with the spare one, free once
 * the buffer before is written. */
static int behind_submit(struct fr_sink *k)
{
    struct fr_behind *b = k->behind;
    uint8_t *full = k->buf;

    if (fr_wq_put(&b->wq, k, full, k->len,
                  k->is_file ? (int64_t)k->pos : -1) < 0) {
        return behind_failed(k);
    }
    k->buf = b->spare;
    b->spare = full;
    return 0;
}

/* Write the buffer out (compressing it first when asked). */
static int flush_buf(struct fr_sink *k, bool end_frame)
{
    int ret = 0;

    if (k->zstd) {
        ZSTD_inBuffer in = { k->buf, k->len, 0 };
        size_t left;
        do {
            ZSTD_outBuffer out = { k->zbuf, k->zcap, 0 };
            left = ZSTD_compressStream2(k->zstd, &out, &in,
                                        end_frame ? ZSTD_e_end
                                                  : ZSTD_e_continue);
            if (ZSTD_isError(left)) {
                return fr_fail(k->err, FR_E_IO, FR_NO_OFFSET,
                               "zstd compression failed: %s",
                               ZSTD_getErrorName(left));
            }
            if (out.pos && write_all(k, k->zbuf, out.pos, -1) < 0) {
                return -1;
            }
        } while (in.pos < in.size || (end_frame && left));
    } else if (k->len && k->behind) {
        ret = behind_submit(k);
    } else if (k->len) {
        ret = write_all(k, k->buf, k->len, k->is_file ? (int64_t)k->pos
                                                      : -1);
    }
    k->pos += k->len;
    k->len = 0;
    return ret;
}

int fr_sink_write(struct fr_sink *k, const void *p, size_t n)
{
    const uint8_t *b = p;

    if (fr_failed(k->err)) {
        return -1;
    }
    while (n) {
        size_t room = k->cap - k->len;
        size_t c = n < room ? n : room;
        memcpy(k->buf + k->len, b, c);
        k->len += c;
        b += c;
        n -= c;
        if (k->len == k->cap && flush_buf(k, false) < 0) {
            return -1;
        }
    }
    return 0;
}

int fr_sink_writev(struct fr_sink *k, struct iovec *iov, int cnt)
{
    size_t total = 0;

    if (fr_failed(k->err)) {
        return -1;
    }
    for (int i = 0; i < cnt; i++) {
        total += iov[i].iov_len;
    }
    /* little data: one more copy is cheaper than one more system call */
    if (k->zstd || total < k->cap / 16) {
        for (int i = 0; i < cnt; i++) {
            if (fr_sink_write(k, iov[i].iov_base, iov[i].iov_len) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (flush_buf(k, false) < 0 || behind_drain(k) < 0 ||
        writev_all_to(k, iov, cnt, k->is_file ? (int64_t)k->pos : -1,
                      k->err) < 0) {
        return -1;
    }
    k->pos += total;
    return 0;
}

int fr_sink_skip_to(struct fr_sink *k, uint64_t off)
{
    if (off < fr_sink_tell(k)) {
        return fr_fail(k->err, FR_E_IO, FR_NO_OFFSET,
                       "internal error: output position moves backwards");
    }
    if (!k->is_file || k->zstd) {
        /* pipes and compressed streams have no holes: write zeros */
        static const uint8_t zeros[65536];
        while (fr_sink_tell(k) < off) {
            uint64_t left = off - fr_sink_tell(k);
            if (fr_sink_write(k, zeros, left < sizeof(zeros)
                                            ? (size_t)left
                                            : sizeof(zeros)) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (flush_buf(k, false) < 0) {
        return -1;
    }
    k->pos = off;
    return 0;
}

/* O_DIRECT needs the memory, the offset and the length aligned to the
 * logical block size; 4096 covers every common device. */
#define DIRECT_ALIGN 4096u

void fr_sink_bypass_cache(struct fr_sink *k)
{
    if (!k->tmp_path || k->direct) {
        return;
    }
    /* a second descriptor: O_DIRECT on the first would apply to the
     * unaligned writes of the stream's other parts too */
    k->dfd = open(k->tmp_path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    k->direct = k->dfd >= 0;
}

static void direct_end(struct fr_sink *k)
{
    if (k->direct) {
        close(k->dfd);
        k->direct = false;
    }
}

/* Write P at OFF through the O_DIRECT descriptor.  Returns 0, -1 on error,
 * or 1 when the file system refuses direct I/O (then nothing was
 * written, and the caller writes through the page cache). */
static int direct_write(struct fr_sink *k, const uint8_t *p, size_t n,
                        uint64_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = pwrite(k->dfd, p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EINVAL && done == 0) {
            direct_end(k);
            return 1;
        }
        if (w <= 0) {
            return fr_fail_sys(k->err, w < 0 ? errno : EIO, FR_NO_OFFSET,
                               "write failed at output offset 0x%llx",
                               (unsigned long long)(off + done));
        }
        done += (size_t)w;
    }
    if (off + n > k->high) {
        k->high = off + n;
    }
    return 0;
}

int fr_sink_pwrite(struct fr_sink *k, const void *p, size_t n, uint64_t off)
{
    if (fr_failed(k->err) || behind_drain(k) < 0) {
        return -1;
    }
    if (!k->seekable) {
        return fr_fail(k->err, FR_E_UNSUPPORTED, FR_NO_OFFSET,
                       "this output must be a regular file, not a pipe");
    }
    if (k->direct && ((uintptr_t)p | n | off) % DIRECT_ALIGN == 0) {
        int r = direct_write(k, p, n, off);
        if (r <= 0) {
            return r;
        }
    }
    return write_all(k, p, n, (int64_t)off);
}

int fr_sink_pread(struct fr_sink *k, void *p, size_t n, uint64_t off)
{
    size_t done = 0;

    if (behind_drain(k) < 0) {
        return -1;
    }
    while (done < n) {
        ssize_t r = pread(k->fd, (uint8_t *)p + done, n - done,
                          (off_t)(off + done));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                /* past the end: a hole that was never written */
                memset((uint8_t *)p + done, 0, n - done);
                return 0;
            }
            return fr_fail_sys(k->err, errno, FR_NO_OFFSET,
                               "cannot read back output offset 0x%llx",
                               (unsigned long long)(off + done));
        }
        done += (size_t)r;
    }
    return 0;
}

int fr_sink_punch(struct fr_sink *k, uint64_t off, uint64_t len)
{
    if (behind_drain(k) < 0) {
        return -1;
    }
    if (fallocate(k->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)off, (off_t)len) == 0) {
        return 0;
    }
    if (errno != EOPNOTSUPP) {
        return fr_fail_sys(k->err, errno, FR_NO_OFFSET,
                           "cannot punch a hole at output offset 0x%llx",
                           (unsigned long long)off);
    }
    /* no hole punching here: write zeros instead */
    static const uint8_t zeros[65536];
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof(zeros) ? (size_t)(len - done)
                                              : sizeof(zeros);
        if (fr_sink_pwrite(k, zeros, n, off + done) < 0) {
            return -1;
        }
        done += n;
    }
    return 0;
}

int fr_sink_start_zstd(struct fr_sink *k, int level, int threads)
{
    if (flush_buf(k, false) < 0 || behind_drain(k) < 0) {
        return -1;
    }
    behind_stop(k);             /* zstd has threads of its own */
    k->zstd = ZSTD_createCCtx();
    k->zcap = ZSTD_CStreamOutSize();
    k->zbuf = malloc(k->zcap);
    if (!k->zstd || !k->zbuf) {
        return fr_fail(k->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    ZSTD_CCtx_setParameter(k->zstd, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(k->zstd, ZSTD_c_checksumFlag, 1);
    /* Even for 1: the output of zstd's threaded mode is the same for any
     * number of workers, but differs from its single-threaded mode.  (An
     * error where libzstd was built without threads: then it is always
     * single-threaded.) */
    ZSTD_CCtx_setParameter(k->zstd, ZSTD_c_nbWorkers, threads);
    if (k->sized && ftruncate(k->fd, (off_t)k->pos) == 0) {
        k->sized = false;       /* its end is where compression ends */
    }
    if (k->is_file) {
        /* compressed output is written sequentially from here on */
        if (lseek(k->fd, (off_t)k->pos, SEEK_SET) < 0) {
            return fr_fail_sys(k->err, errno, FR_NO_OFFSET, "lseek failed");
        }
        k->is_file = false;
        k->high = 0;
    }
    return 0;
}

static void release(struct fr_sink *k)
{
    if (k->zstd) {
        ZSTD_freeCCtx(k->zstd);
        k->zstd = NULL;
    }
    free(k->zbuf);
    free(k->buf);
    k->zbuf = k->buf = NULL;
}

/* Where what was written ends: sequential and positioned writes alike. */
static uint64_t written_end(const struct fr_sink *k)
{
    return k->pos > k->high ? k->pos : k->high;
}

/* Rename K's temporary file to its target; without --force, only if no
 * file took that name while K was written.  Returns 0, or -1 with errno. */
static int put_in_place(struct fr_sink *k)
{
    if (k->replace) {
        return rename(k->tmp_path, k->final_path);
    }
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, k->tmp_path, AT_FDCWD, k->final_path,
                  RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -1;
    }
#endif
    /* file systems without it: link() refuses an existing name too */
    if (link(k->tmp_path, k->final_path) == 0) {
        unlink(k->tmp_path);
        return 0;
    }
    if (errno == EEXIST) {
        return -1;
    }
    return rename(k->tmp_path, k->final_path);
}

/* Flush what is left, stop the helper threads. */
static int finish_writing(struct fr_sink *k)
{
    if (fr_failed(k->err) || flush_buf(k, k->zstd != NULL) < 0 ||
        behind_drain(k) < 0) {
        fr_sink_abort(k);
        return -1;
    }
    behind_stop(k);
    int error = writeback_stop(k, false);
    direct_end(k);
    if (error) {
        fr_fail_sys(k->err, error, FR_NO_OFFSET, "cannot write the output");
        fr_sink_abort(k);
        return -1;
    }
    return 0;
}

int fr_sink_prepare(struct fr_sink *k)
{
    uint64_t end;

    if (!k->tmp_path || k->fd < 0) {
        return 0;           /* not a named output, or prepared already */
    }
    if (finish_writing(k) < 0) {
        return -1;
    }
    end = k->zstd ? 0 : written_end(k);
    mode_t mask = umask(0);
    umask(mask);
    /* mkstemp made it 0600: give it the input's mode (inherit_mode) */
    if (((end || k->sized) && ftruncate(k->fd, (off_t)end) < 0) ||
        (k->durable && fsync(k->fd) < 0) ||
        fchmod(k->fd, k->mode & ~mask) < 0) {
        fr_fail_sys(k->err, errno, FR_NO_OFFSET, "cannot finish the output");
        fr_sink_abort(k);
        return -1;
    }
    int closed = close(k->fd);
    k->fd = -1;                 /* closed even when close fails */
    if (closed < 0) {
        fr_fail_sys(k->err, errno, FR_NO_OFFSET, "cannot finish the output");
        fr_sink_abort(k);
        return -1;
    }
    release(k);
    return 0;
}

int fr_sink_commit(struct fr_sink *k)
{
    if (k->tmp_path) {
        if (fr_sink_prepare(k) < 0) {
            return -1;
        }
        if (put_in_place(k) < 0) {
            if (errno == EEXIST) {
                fr_fail(k->err, FR_E_EXISTS, FR_NO_OFFSET, "output "
                        "appeared while it was written (use --force to "
                        "overwrite it)");
            } else {
                fr_fail_sys(k->err, errno, FR_NO_OFFSET,
                            "cannot finish the output");
            }
            fr_sink_abort(k);
            return -1;
        }
        track_tmp(k->tmp_path, false);
        free(k->tmp_path);
        free(k->final_path);
        k->tmp_path = k->final_path = NULL;
        return 0;
    }
    if (finish_writing(k) < 0) {
        return -1;
    }
    if (k->scratch) {
        if (ftruncate(k->fd, (off_t)written_end(k)) < 0) {
            fr_fail_sys(k->err, errno, FR_NO_OFFSET, "cannot finish the "
                        "temporary file");
            fr_sink_abort(k);
            return -1;
        }
        release(k);
        return 0;
    }
    /* standard output or a FIFO */
    release(k);
    if (k->fd > 2) {
        close(k->fd);
    }
    return 0;
}

void fr_sink_abort(struct fr_sink *k)
{
    behind_stop(k);         /* these two before the fd is closed */
    writeback_stop(k, true);
    direct_end(k);
    if (k->tmp_path) {
        unlink(k->tmp_path);
        track_tmp(k->tmp_path, false);
        free(k->tmp_path);
        k->tmp_path = NULL;
    }
    free(k->final_path);
    k->final_path = NULL;
    if (k->fd > 2) {
        close(k->fd);
    }
    k->fd = -1;
    release(k);
}
