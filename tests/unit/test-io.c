/*
 * Unit tests for io: fr_src over memory, a regular file, a pipe, zstd and
 * an external decompressor (gzip).  Peek/peek_upto/consume across the
 * 1 MiB window boundary, truncation offsets and messages, the sticky
 * error, forward and backward seeks, positioned reads, a file truncated
 * while read, and the error paths of the zstd and filter backends.
 */
#include "extents.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "build.h"
#include "sink.h"
#include "unit.h"

#define W FR_SRC_BUFSIZE
#define DATA_LEN ((size_t)3 * W + 12345)

static uint8_t *data;           /* DATA_LEN bytes of a non-periodic pattern */

static void make_data(void)
{
    data = malloc(DATA_LEN);
    if (!data) {
        abort();
    }
    for (size_t i = 0; i < DATA_LEN; i++) {
        data[i] = (uint8_t)(i * 131u + (i >> 8) * 7u + (i >> 20) + (i >> 3));
    }
}

static uint64_t be_at(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* fork(), with our buffered output flushed first so that the child does
 * not print it again; aborts when fork fails. */
static pid_t fork_child(void)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        abort();
    }
    return pid;
}

/* The wait status of child PID. */
static int wait_child(pid_t pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* Consume from the current position up to offset TO in odd-sized steps,
 * checking every byte against EXPECT. */
static void skip_to(struct fr_src *s, const uint8_t *expect, uint64_t to)
{
    while (fr_src_tell(s) < to) {
        uint64_t at = fr_src_tell(s);
        size_t step = to - at < 65521 ? (size_t)(to - at) : 65521;
        size_t avail;
        const uint8_t *p = fr_src_peek_upto(s, step, &avail);
        if (!p || avail != step) {
            UNIT_FAIL("skip_to: short peek at 0x%" PRIx64, at);
            return;
        }
        if (memcmp(p, expect + at, step) != 0) {
            UNIT_FAIL("skip_to: wrong data at 0x%" PRIx64, at);
            return;
        }
        fr_src_consume(s, step);
    }
}

/* After a failure: every read fails, the error does not change. */
static void check_sticky(struct fr_src *s)
{
    struct fr_err saved = *s->err;
    uint8_t b[4] = { 1, 2, 3, 4 };
    uint8_t zero[4] = { 0 };
    uint8_t v8 = 9;
    uint16_t v16 = 9;
    uint32_t v32 = 9;
    uint64_t v64 = 9;
    size_t avail = 99;
    uint64_t at = fr_src_tell(s);

    EXPECT_TRUE(fr_src_failed(s));
    EXPECT_TRUE(fr_src_peek(s, 1) == NULL);
    EXPECT_TRUE(fr_src_peek_upto(s, 1, &avail) == NULL);
    EXPECT_EQ_U64(avail, 0);
    EXPECT_TRUE(fr_src_read(s, b, sizeof(b), "after error") == -1);
    EXPECT_MEM(b, zero, sizeof(b));
    EXPECT_TRUE(fr_src_u8(s, &v8, "x") == -1);
    EXPECT_TRUE(fr_src_be16(s, &v16, "x") == -1);
    EXPECT_TRUE(fr_src_be32(s, &v32, "x") == -1);
    EXPECT_TRUE(fr_src_be64(s, &v64, "x") == -1);
    EXPECT_EQ_U64(v8, 0);
    EXPECT_EQ_U64(v16, 0);
    EXPECT_EQ_U64(v32, 0);
    EXPECT_EQ_U64(v64, 0);
    EXPECT_TRUE(!fr_src_at_end(s));
    EXPECT_TRUE(fr_src_seek(s, at, "x") == -1);
    EXPECT_TRUE(fr_src_pread(s, b, 1, 0, "x") == -1);
    EXPECT_EQ_U64(fr_src_tell(s), at);
    EXPECT_EQ_U64(s->err->kind, saved.kind);
    EXPECT_EQ_U64(s->err->offset, saved.offset);
    EXPECT_EQ_STR(s->err->what, saved.what);
}

/*
 * Walk a source that yields data[0..len) from its start: peek/consume
 * across the window boundary, a multi-MiB read, integer reads, and a
 * truncated read at the end (which leaves the source failed).  WINDOWED:
 * the source has a 1 MiB window (everything but memory).
 */
static void check_walk(struct fr_src *s, size_t len, bool windowed)
{
    const uint8_t *p;
    size_t avail;
    uint8_t *tmp = malloc(2 * W);
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64, at;

    if (!tmp) {
        abort();
    }
    EXPECT_EQ_U64(fr_src_tell(s), 0);
    p = fr_src_peek(s, 16);
    EXPECT_TRUE(p && memcmp(p, data, 16) == 0);
    EXPECT_EQ_U64(fr_src_tell(s), 0);

    /* Up to 5 bytes before the first window boundary, then across it. */
    skip_to(s, data, W - 5);
    EXPECT_EQ_U64(fr_src_tell(s), W - 5);
    p = fr_src_peek(s, 10);
    EXPECT_TRUE(p && memcmp(p, data + W - 5, 10) == 0);
    p = fr_src_peek(s, W);
    EXPECT_TRUE(p && memcmp(p, data + W - 5, W) == 0);
    if (windowed) {
        /* N > window: never satisfiable, but not an error either. */
        EXPECT_TRUE(fr_src_peek(s, W + 1) == NULL);
        EXPECT_TRUE(!fr_src_failed(s));
        p = fr_src_peek_upto(s, W + 100, &avail);
        EXPECT_TRUE(p != NULL);
        EXPECT_EQ_U64(avail, W);
    }
    p = fr_src_peek_upto(s, 3, &avail);
    EXPECT_TRUE(p && avail == 3 && memcmp(p, data + W - 5, 3) == 0);
    fr_src_consume(s, 3);
    EXPECT_EQ_U64(fr_src_tell(s), W - 2);

    /* A read larger than the window, crossing two boundaries. */
    at = fr_src_tell(s);
    EXPECT_TRUE(fr_src_read(s, tmp, W + W / 2 + 7, "big read") == 0);
    EXPECT_MEM(tmp, data + at, W + W / 2 + 7);
    at += W + W / 2 + 7;
    EXPECT_EQ_U64(fr_src_tell(s), at);

    /* Integers, big-endian. */
    EXPECT_TRUE(fr_src_u8(s, &v8, "u8") == 0);
    EXPECT_EQ_U64(v8, data[at]);
    EXPECT_TRUE(fr_src_be16(s, &v16, "be16") == 0);
    EXPECT_EQ_U64(v16, be_at(data + at + 1, 2));
    EXPECT_TRUE(fr_src_be32(s, &v32, "be32") == 0);
    EXPECT_EQ_U64(v32, be_at(data + at + 3, 4));
    EXPECT_TRUE(fr_src_be64(s, &v64, "be64") == 0);
    EXPECT_EQ_U64(v64, be_at(data + at + 7, 8));
    EXPECT_EQ_U64(fr_src_tell(s), at + 15);

    /* The end: 7 bytes left, a peek of 8 is NULL without an error. */
    skip_to(s, data, len - 7);
    p = fr_src_peek_upto(s, 100, &avail);
    EXPECT_TRUE(p != NULL);
    EXPECT_EQ_U64(avail, 7);
    EXPECT_TRUE(p && memcmp(p, data + len - 7, 7) == 0);
    EXPECT_TRUE(fr_src_peek(s, 8) == NULL);
    EXPECT_TRUE(!fr_src_failed(s));
    EXPECT_TRUE(!fr_src_at_end(s));

    /* Truncated read: the 7 bytes are copied, the rest zeroed. */
    memset(tmp, 0xaa, 8);
    EXPECT_TRUE(fr_src_read(s, tmp, 8, "tail") == -1);
    EXPECT_EQ_U64(s->err->kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(s->err->offset, len);
    EXPECT_EQ_STR(s->err->what, "truncated tail: expected 8 bytes, got 7");
    EXPECT_MEM(tmp, data + len - 7, 7);
    EXPECT_EQ_U64(tmp[7], 0);
    check_sticky(s);
    free(tmp);
}

/* ---- memory -------------------------------------------------------------- */

static void test_mem(void)
{
    struct fr_err err;
    struct fr_src s;
    uint8_t b[8];
    uint32_t v32;
    size_t avail;

    fr_err_clear(&err);
    fr_src_open_mem(&s, data, DATA_LEN, &err);
    EXPECT_TRUE(!s.seekable);
    EXPECT_TRUE(!s.decompressed);
    check_walk(&s, DATA_LEN, false);

    /* A clean end: at_end, then a read of 1 is truncated at the end. */
    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 10, &err);
    EXPECT_TRUE(fr_src_read(&s, b, 6, "x") == 0);
    EXPECT_TRUE(!fr_src_at_end(&s));
    EXPECT_TRUE(fr_src_be32(&s, &v32, "x") == 0);
    EXPECT_EQ_U64(v32, be_at(data + 6, 4));
    EXPECT_TRUE(fr_src_at_end(&s));
    EXPECT_TRUE(!fr_src_failed(&s));
    EXPECT_TRUE(fr_src_read(&s, b, 0, "nothing") == 0);
    EXPECT_TRUE(fr_src_be32(&s, &v32, "field") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, 10);
    EXPECT_EQ_STR(err.what, "truncated field: expected 4 bytes, got 0");
    check_sticky(&s);

    /* Consuming more than the window holds is clamped to it. */
    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 10, &err);
    fr_src_consume(&s, 100);
    EXPECT_EQ_U64(fr_src_tell(&s), 10);
    EXPECT_TRUE(fr_src_at_end(&s));
    EXPECT_TRUE(!fr_src_failed(&s));

    /* A be64 whose second half is missing. */
    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 6, &err);
    uint64_t v64 = 1;
    EXPECT_TRUE(fr_src_be64(&s, &v64, "word") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, 6);
    EXPECT_EQ_STR(err.what, "truncated word: expected 4 bytes, got 2");

    /* Seeks on memory: forward within, forward past the end, backward. */
    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 1000, &err);
    EXPECT_TRUE(fr_src_seek(&s, 500, "x") == 0);
    EXPECT_EQ_U64(fr_src_tell(&s), 500);
    EXPECT_TRUE(fr_src_seek(&s, 500, "x") == 0);
    EXPECT_TRUE(fr_src_seek(&s, 1000, "x") == 0);
    EXPECT_TRUE(fr_src_at_end(&s));
    EXPECT_TRUE(fr_src_seek(&s, 1001, "thing") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, 1000);
    EXPECT_EQ_STR(err.what, "thing at offset 0x3e9 is past the end of "
                  "the input");
    check_sticky(&s);

    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 1000, &err);
    EXPECT_TRUE(fr_src_seek(&s, 500, "x") == 0);
    EXPECT_TRUE(fr_src_seek(&s, 499, "back") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_LIMIT);
    EXPECT_EQ_U64(err.offset, 500);
    EXPECT_TRUE(strstr(err.what, "not seekable") != NULL);
    check_sticky(&s);

    /* Positioned reads need a file. */
    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 1000, &err);
    EXPECT_TRUE(fr_src_pread(&s, b, 4, 8, "bitmap") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_LIMIT);
    EXPECT_EQ_U64(err.offset, 8);
    EXPECT_TRUE(strstr(err.what, "bitmap") != NULL);

    /* An empty buffer, non-NULL pointer. */
    fr_err_clear(&err);
    fr_src_open_mem(&s, data, 0, &err);
    EXPECT_TRUE(fr_src_at_end(&s));
    EXPECT_TRUE(fr_src_peek_upto(&s, 5, &avail) != NULL);
    EXPECT_EQ_U64(avail, 0);
    EXPECT_TRUE(fr_src_read(&s, b, 1, "byte") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, 0);
}

/* An empty memory source made from a NULL pointer behaves like any other
 * empty input: at its end, and a read is TRUNCATED (not a silent -1). */
static void test_mem_null(void)
{
    struct fr_err err;
    struct fr_src s;
    uint8_t b[1];

    fr_err_clear(&err);
    fr_src_open_mem(&s, NULL, 0, &err);
    EXPECT_TRUE(fr_src_at_end(&s));
    EXPECT_TRUE(fr_src_read(&s, b, 1, "byte") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
}

/* ---- regular file -------------------------------------------------------- */

static char tmpname[] = "/tmp/fr-test-io-XXXXXX";

static int make_file(void)
{
    size_t done = 0;
    int fd;

    memcpy(tmpname + sizeof(tmpname) - 7, "XXXXXX", 6);  /* a new name */
    fd = mkstemp(tmpname);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    while (done < DATA_LEN) {
        ssize_t w = write(fd, data + done, DATA_LEN - done);
        if (w <= 0) {
            perror("write");
            abort();
        }
        done += (size_t)w;
    }
    return fd;
}

static void test_file(int fd)
{
    struct fr_err err;
    struct fr_src s;
    uint8_t *tmp = malloc(W);
    const uint8_t *p;

    if (!tmp) {
        abort();
    }
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(s.seekable);
    EXPECT_EQ_U64(s.size, DATA_LEN);
    check_walk(&s, DATA_LEN, true);
    fr_src_close(&s);

    /* Seeks: forward past the window, backward, to the end, past it. */
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    p = fr_src_peek(&s, 100);
    EXPECT_TRUE(p && memcmp(p, data, 100) == 0);
    EXPECT_TRUE(fr_src_seek(&s, 2 * W + 3, "x") == 0);
    EXPECT_EQ_U64(fr_src_tell(&s), 2 * W + 3);
    p = fr_src_peek(&s, 64);
    EXPECT_TRUE(p && memcmp(p, data + 2 * W + 3, 64) == 0);
    EXPECT_TRUE(fr_src_seek(&s, 5, "x") == 0);
    EXPECT_EQ_U64(fr_src_tell(&s), 5);
    EXPECT_TRUE(fr_src_read(&s, tmp, W, "x") == 0);
    EXPECT_MEM(tmp, data + 5, W);
    EXPECT_TRUE(fr_src_seek(&s, W - 1, "x") == 0);
    p = fr_src_peek(&s, 2);
    EXPECT_TRUE(p && memcmp(p, data + W - 1, 2) == 0);
    EXPECT_TRUE(fr_src_seek(&s, DATA_LEN, "x") == 0);
    EXPECT_TRUE(fr_src_at_end(&s));
    EXPECT_TRUE(!fr_src_failed(&s));
    EXPECT_TRUE(fr_src_seek(&s, DATA_LEN - 3, "x") == 0);
    p = fr_src_peek(&s, 3);
    EXPECT_TRUE(p && memcmp(p, data + DATA_LEN - 3, 3) == 0);
    EXPECT_TRUE(fr_src_seek(&s, DATA_LEN + 1, "region") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, DATA_LEN);
    EXPECT_TRUE(strstr(err.what, "region") != NULL);
    check_sticky(&s);
    fr_src_close(&s);

    /* pread: anywhere, without moving; short at the end. */
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(fr_src_seek(&s, 77, "x") == 0);
    EXPECT_TRUE(fr_src_pread(&s, tmp, 100, W - 50, "x") == 0);
    EXPECT_MEM(tmp, data + W - 50, 100);
    EXPECT_TRUE(fr_src_pread(&s, tmp, W, 3, "x") == 0);
    EXPECT_MEM(tmp, data + 3, W);
    EXPECT_TRUE(fr_src_pread(&s, tmp, 10, DATA_LEN - 10, "x") == 0);
    EXPECT_MEM(tmp, data + DATA_LEN - 10, 10);
    EXPECT_EQ_U64(fr_src_tell(&s), 77);
    p = fr_src_peek(&s, 4);
    EXPECT_TRUE(p && memcmp(p, data + 77, 4) == 0);
    EXPECT_TRUE(fr_src_pread(&s, tmp, 20, DATA_LEN - 10, "pages") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, DATA_LEN);
    EXPECT_EQ_STR(err.what, "truncated pages: file ends after 10 of 20 "
                  "bytes");
    check_sticky(&s);
    fr_src_close(&s);

    /* pread entirely past the end. */
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(fr_src_pread(&s, tmp, 1, DATA_LEN + 4096, "x") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, DATA_LEN + 4096);
    fr_src_close(&s);
    free(tmp);
}

/* The allocated ranges of a sparse file with more islands than one
 * FIEMAP batch holds, found whole and in order, clipped to the range
 * asked for. */
static void test_extents(void)
{
    char name[] = "/tmp/fr-test-io-XXXXXX";
    const uint64_t n = 1500, gap = 3 * 4096;
    struct fr_extents x;
    uint64_t from, to, k = 0;
    bool in_order = true;
    int fd = mkstemp(name);

    for (uint64_t i = 0; fd >= 0 && i < n; i++) {
        if (pwrite(fd, data, 4096, (off_t)(i * gap)) != 4096) {
            perror("test file");
            abort();
        }
    }
    /* from the middle of the first island to inside the last one */
    fr_extents_init(&x, fd, 2048, (n - 1) * gap + 1024);
    while (fr_extents_next(&x, &from, &to)) {
        uint64_t want = k * gap;
        in_order &= from == (k ? want : 2048) &&
                    to == (k == n - 1 ? want + 1024 : want + 4096);
        k++;
    }
    fr_extents_free(&x);
    EXPECT_EQ_U64(k, n);
    EXPECT_TRUE(in_order);
    close(fd);
    unlink(name);
}

/* A file that another program truncates while it is read ends early: a
 * short peek, and a clean truncation error for a read. */
static void test_file_shrinks(void)
{
    struct fr_err err;
    struct fr_src s;
    uint8_t *tmp = malloc(2 * W);
    int fd = make_file();

    fr_err_clear(&err);
    EXPECT_TRUE(tmp && fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(fr_src_peek(&s, 100) != NULL);
    EXPECT_TRUE(ftruncate(fd, W + 100) == 0);
    EXPECT_TRUE(fr_src_read(&s, tmp, 2 * W, "pages") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, W + 100);
    EXPECT_MEM(tmp, data, W + 100);
    fr_src_close(&s);
    close(fd);
    unlink(tmpname);
    free(tmp);
}

/* Read errors and bad descriptors are FR_E_IO with errno. */
static void test_fd_errors(void)
{
    struct fr_err err;
    struct fr_src s;
    int dfd;

    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, 987, &err) == -1);
    EXPECT_EQ_U64(err.kind, FR_E_IO);
    EXPECT_EQ_U64(err.sys_errno, EBADF);
    fr_src_close(&s);

    dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    EXPECT_TRUE(dfd >= 0);
    if (dfd < 0) {
        return;
    }
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, dfd, &err) == 0);
    EXPECT_TRUE(!s.seekable);
    EXPECT_TRUE(fr_src_peek(&s, 1) == NULL);
    EXPECT_EQ_U64(err.kind, FR_E_IO);
    EXPECT_EQ_U64(err.sys_errno, EISDIR);
    EXPECT_EQ_U64(err.offset, 0);
    check_sticky(&s);
    fr_src_close(&s);
    close(dfd);
}

/* ---- pipe ---------------------------------------------------------------- */

/* Fork a child that writes data[0..len) into a pipe in odd-sized chunks;
 * returns the read end. */
static int start_writer(const uint8_t *p, size_t len, pid_t *pid)
{
    static const size_t chunks[] = { 1, 7, 4093, 65537, 3, 100003, 2 };
    int fds[2];

    if (pipe(fds) < 0) {
        perror("pipe");
        abort();
    }
    *pid = fork_child();
    if (*pid == 0) {
        size_t done = 0, k = 0;
        signal(SIGPIPE, SIG_IGN);
        close(fds[0]);
        while (done < len) {
            size_t n = chunks[k++ % (sizeof(chunks) / sizeof(*chunks))];
            if (n > len - done) {
                n = len - done;
            }
            ssize_t w = write(fds[1], p + done, n);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                _exit(1);
            }
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

static void stop_writer(int fd, pid_t pid)
{
    close(fd);
    wait_child(pid);
}

static void test_pipe(void)
{
    struct fr_err err;
    struct fr_src s;
    const uint8_t *p;
    uint8_t b[16];
    pid_t pid;
    int fd;

    /* The common walk, ending in a truncated read. */
    fd = start_writer(data, DATA_LEN, &pid);
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(!s.seekable);
    check_walk(&s, DATA_LEN, true);
    fr_src_close(&s);
    stop_writer(fd, pid);

    /* Forward seeks read and discard; backward seeks are refused. */
    fd = start_writer(data, DATA_LEN, &pid);
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    p = fr_src_peek(&s, 10);
    EXPECT_TRUE(p && memcmp(p, data, 10) == 0);
    EXPECT_TRUE(fr_src_seek(&s, 2 * W + 17, "x") == 0);
    EXPECT_EQ_U64(fr_src_tell(&s), 2 * W + 17);
    p = fr_src_peek(&s, 100);
    EXPECT_TRUE(p && memcmp(p, data + 2 * W + 17, 100) == 0);
    EXPECT_TRUE(fr_src_seek(&s, 2 * W + 50, "x") == 0);
    EXPECT_TRUE(fr_src_read(&s, b, 16, "x") == 0);
    EXPECT_MEM(b, data + 2 * W + 50, 16);
    EXPECT_TRUE(fr_src_pread(&s, b, 4, 0, "x") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_LIMIT);
    fr_src_close(&s);
    stop_writer(fd, pid);

    fd = start_writer(data, DATA_LEN, &pid);
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(fr_src_seek(&s, W + 1, "x") == 0);
    EXPECT_TRUE(fr_src_seek(&s, W, "bitmap") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_LIMIT);
    EXPECT_EQ_U64(err.offset, W + 1);
    EXPECT_TRUE(strstr(err.what, "bitmap") != NULL);
    EXPECT_TRUE(strstr(err.what, "not seekable") != NULL);
    check_sticky(&s);
    fr_src_close(&s);
    stop_writer(fd, pid);

    /* A forward seek past the end of a pipe. */
    fd = start_writer(data, DATA_LEN, &pid);
    fr_err_clear(&err);
    EXPECT_TRUE(fr_src_open_fd(&s, fd, &err) == 0);
    EXPECT_TRUE(fr_src_seek(&s, DATA_LEN + 5, "x") == -1);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, DATA_LEN);
    EXPECT_EQ_U64(fr_src_tell(&s), DATA_LEN);
    check_sticky(&s);
    fr_src_close(&s);
    stop_writer(fd, pid);
}

/* ---- zstd ---------------------------------------------------------------- */

static size_t zcompress(uint8_t *dst, size_t cap, const uint8_t *src,
                        size_t n, bool checksum)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t r;

    if (!c) {
        abort();
    }
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0);
    r = ZSTD_compress2(c, dst, cap, src, n);
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(r)) {
        fprintf(stderr, "ZSTD_compress2: %s\n", ZSTD_getErrorName(r));
        abort();
    }
    return r;
}

/*
 * Read OUTER up to EXPLEN bytes or its end or first error; returns the
 * bytes read.  *SAME (if not NULL) tells whether they match EXPECT;
 * without SAME a mismatch is a failed check.
 */
static size_t drain_cmp(struct fr_src *outer, const uint8_t *expect,
                        size_t explen, bool *same)
{
    size_t total = 0, avail;
    const uint8_t *p;
    bool ok = true;

    while (total < explen &&
           (p = fr_src_peek_upto(outer, explen - total < W ? explen - total
                                                           : W,
                                 &avail)) &&
           avail) {
        if (ok && memcmp(p, expect + total, avail) != 0) {
            ok = false;
            if (!same) {
                UNIT_FAIL("drain: unexpected data at %zu", total);
            }
        }
        fr_src_consume(outer, avail);
        total += avail;
    }
    if (same) {
        *same = ok;
    }
    return total;
}

static size_t drain(struct fr_src *outer, const uint8_t *expect,
                    size_t explen)
{
    return drain_cmp(outer, expect, explen, NULL);
}

static void test_zstd(void)
{
    size_t cap = ZSTD_compressBound(DATA_LEN) + 64;
    uint8_t *z = malloc(cap * 2);
    struct fr_err err;
    struct fr_src in, out;
    size_t zlen, z2, n;
    bool same;

    if (!z) {
        abort();
    }
    zlen = zcompress(z, cap, data, DATA_LEN, false);

    /* Round trip, with the common walk over the decompressed bytes. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    EXPECT_TRUE(out.decompressed);
    EXPECT_TRUE(out.err == &err);
    check_walk(&out, DATA_LEN, true);
    fr_src_close(&out);

    /* Read everything: a clean end after the frame. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    EXPECT_EQ_U64(drain(&out, data, DATA_LEN), DATA_LEN);
    EXPECT_TRUE(!fr_src_failed(&out));
    EXPECT_TRUE(fr_src_at_end(&out));
    EXPECT_EQ_U64(fr_src_tell(&out), DATA_LEN);
    EXPECT_EQ_U64(fr_src_tell(&in), zlen);
    fr_src_close(&out);

    /* Two frames back to back decompress to the concatenation. */
    z2 = zcompress(z + zlen, cap, data + 1000, 5000, false);
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen + z2, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    EXPECT_EQ_U64(drain(&out, data, DATA_LEN), DATA_LEN);
    {
        uint8_t tail[5000];
        EXPECT_TRUE(fr_src_read(&out, tail, 5000, "second frame") == 0);
        EXPECT_MEM(tail, data + 1000, 5000);
    }
    EXPECT_TRUE(fr_src_at_end(&out));
    EXPECT_TRUE(!fr_src_failed(&out));
    fr_src_close(&out);

    /* A truncated frame: the data so far, then FR_E_TRUNCATED at the end
     * of the compressed input. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen / 2, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    n = drain(&out, data, DATA_LEN);
    EXPECT_TRUE(n < DATA_LEN);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, zlen / 2);
    EXPECT_EQ_STR(err.what, "truncated zstd frame");
    check_sticky(&out);
    fr_src_close(&out);

    /* Cut one byte short, and an empty input. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen - 1, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    drain(&out, data, DATA_LEN);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, zlen - 1);
    fr_src_close(&out);

    fr_err_clear(&err);
    fr_src_open_mem(&in, z, 0, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    EXPECT_TRUE(fr_src_peek(&out, 1) == NULL);
    EXPECT_EQ_U64(err.kind, FR_E_TRUNCATED);
    EXPECT_EQ_U64(err.offset, 0);
    fr_src_close(&out);

    /* Not zstd at all (bad magic): corrupt. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, data, 4096, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    EXPECT_TRUE(fr_src_peek(&out, 1) == NULL);
    EXPECT_EQ_U64(err.kind, FR_E_CORRUPT);
    EXPECT_TRUE(strncmp(err.what, "bad zstd data: ", 15) == 0);
    EXPECT_TRUE(err.offset <= 4096);
    check_sticky(&out);
    fr_src_close(&out);

    /* Garbage after a complete frame: all the data, then corrupt. */
    memcpy(z + zlen, "garbage!garbage!", 16);
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen + 16, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    EXPECT_EQ_U64(drain(&out, data, DATA_LEN), DATA_LEN);
    EXPECT_TRUE(!fr_src_failed(&out));
    EXPECT_TRUE(fr_src_peek(&out, 1) == NULL);
    EXPECT_EQ_U64(err.kind, FR_E_CORRUPT);
    EXPECT_TRUE(err.offset >= zlen && err.offset <= zlen + 16);
    fr_src_close(&out);

    /* Corrupted data inside the frame (content checksum on). */
    zlen = zcompress(z, cap, data, DATA_LEN, true);
    z[zlen / 2] ^= 0x5a;
    z[zlen / 2 + 1] ^= 0xa5;
    fr_err_clear(&err);
    fr_src_open_mem(&in, z, zlen, &err);
    EXPECT_TRUE(fr_src_open_zstd(&out, &in) == 0);
    n = drain_cmp(&out, data, DATA_LEN, &same);
    EXPECT_TRUE(n < DATA_LEN || !same);
    if (!fr_src_failed(&out)) {
        EXPECT_TRUE(fr_src_peek(&out, 1) == NULL);
    }
    EXPECT_EQ_U64(err.kind, FR_E_CORRUPT);
    EXPECT_TRUE(strncmp(err.what, "bad zstd data: ", 15) == 0);
    EXPECT_TRUE(err.offset <= zlen);
    fr_src_close(&out);

    /* zstd over a pipe: the window of the inner source is refilled. */
    {
        pid_t pid;
        int fd;
        struct fr_src pin;

        zlen = zcompress(z, cap, data, DATA_LEN, true);
        fd = start_writer(z, zlen, &pid);
        fr_err_clear(&err);
        EXPECT_TRUE(fr_src_open_fd(&pin, fd, &err) == 0);
        EXPECT_TRUE(fr_src_open_zstd(&out, &pin) == 0);
        EXPECT_EQ_U64(drain(&out, data, DATA_LEN), DATA_LEN);
        EXPECT_TRUE(fr_src_at_end(&out));
        EXPECT_TRUE(!fr_src_failed(&out));
        fr_src_close(&out);
        fr_src_close(&pin);
        stop_writer(fd, pid);
    }
    free(z);
}

/* ---- external decompressor ----------------------------------------------- */

static bool have_prog(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (!path) {
        path = "/usr/bin:/bin";
    }
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len && len + strlen(prog) + 2 < sizeof(buf)) {
            memcpy(buf, path, len);
            buf[len] = '/';
            strcpy(buf + len + 1, prog);
            if (access(buf, X_OK) == 0) {
                return true;
            }
        }
        path += len + (path[len] == ':');
    }
    return false;
}

static int saved_stderr = -1;

/* The filter program inherits stderr: silence its complaints about the
 * corrupt inputs we feed it. */
static void quiet_children(bool on)
{
    if (on) {
        int nfd = open("/dev/null", O_WRONLY);
        fflush(stderr);
        saved_stderr = dup(2);
        if (nfd >= 0) {
            dup2(nfd, 2);
            close(nfd);
        }
    } else if (saved_stderr >= 0) {
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
    }
}

static const char *const gzip_d[] = { "gzip", "-dc", NULL };

/* Run gzip -dc over P[0..N) and expect it to fail with FR_E_CORRUPT. */
static void check_gzip_fails(const uint8_t *p, size_t n)
{
    struct fr_err err;
    struct fr_src in, out;

    fr_err_clear(&err);
    fr_src_open_mem(&in, p, n, &err);
    quiet_children(true);
    EXPECT_TRUE(fr_src_open_filter(&out, &in, gzip_d) == 0);
    quiet_children(false);
    drain_cmp(&out, data, DATA_LEN, NULL);
    if (!fr_src_failed(&out)) {
        EXPECT_TRUE(fr_src_peek(&out, 1) == NULL);
    }
    EXPECT_EQ_U64(err.kind, FR_E_CORRUPT);
    EXPECT_TRUE(strstr(err.what, "'gzip -dc' failed") != NULL);
    EXPECT_TRUE(strstr(err.what, "exit status 1") != NULL);
    fr_src_close(&out);
}

/*
 * gzip gives up on a non-gzip input at once.  When that input is larger
 * than a pipe buffer the reader must still see the failure (not hang):
 * run it in a child in its own process group with a time limit.
 */
static void check_gzip_early_exit(void)
{
    size_t n = W;
    pid_t pid;
    int status;

    pid = fork_child();
    if (pid == 0) {
        setpgid(0, 0);
        alarm(1);
        unit_failures = 0;
        check_gzip_fails(data, n);
        _exit(unit_failures ? 1 : 0);
    }
    setpgid(pid, pid);
    status = wait_child(pid);
    unit_checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        UNIT_FAIL("gzip -dc over %zu bytes of non-gzip data: %s", n,
                  WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM
                      ? "hung (killed after 1 s)" : "checks failed");
    }
    /* Whatever it started (gzip, the feeder) may be left blocked. */
    kill(-pid, SIGKILL);
}

static void test_filter(void)
{
    static const char *const gzip_c[] = { "gzip", "-c", "-n", NULL };
    static const char *const missing[] = { "fixedram-no-such-program",
                                           "-dc", NULL };
    struct fr_err err;
    struct fr_src in, out;
    struct bb gz = { 0 };
    const uint8_t *p;
    size_t avail;

    /* A missing program is unsupported and named (checked first: it
     * needs no gzip). */
    fr_err_clear(&err);
    fr_src_open_mem(&in, data, 100, &err);
    fr_src_consume(&in, 10);
    memset(&out, 0, sizeof(out));
    EXPECT_TRUE(fr_src_open_filter(&out, &in, missing) == -1);
    EXPECT_EQ_U64(err.kind, FR_E_UNSUPPORTED);
    EXPECT_EQ_U64(err.offset, 10);
    EXPECT_TRUE(strstr(err.what, "'fixedram-no-such-program'") != NULL);
    fr_src_close(&out);

    if (!have_prog("gzip")) {
        printf("note: gzip is not in PATH; skipping the gzip filter "
               "tests\n");
        return;
    }

    /* Compress with the filter itself (gzip -c), then decompress. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, data, DATA_LEN, &err);
    EXPECT_TRUE(fr_src_open_filter(&out, &in, gzip_c) == 0);
    while ((p = fr_src_peek_upto(&out, W, &avail)) && avail) {
        bb_bytes(&gz, p, avail);
        fr_src_consume(&out, avail);
    }
    EXPECT_TRUE(!fr_src_failed(&out));
    EXPECT_TRUE(gz.len > 18 && gz.p[0] == 0x1f && gz.p[1] == 0x8b);
    fr_src_close(&out);

    fr_err_clear(&err);
    fr_src_open_mem(&in, gz.p, gz.len, &err);
    EXPECT_TRUE(fr_src_open_filter(&out, &in, gzip_d) == 0);
    EXPECT_TRUE(out.decompressed);
    check_walk(&out, DATA_LEN, true);
    fr_src_close(&out);

    fr_err_clear(&err);
    fr_src_open_mem(&in, gz.p, gz.len, &err);
    EXPECT_TRUE(fr_src_open_filter(&out, &in, gzip_d) == 0);
    EXPECT_EQ_U64(drain(&out, data, DATA_LEN), DATA_LEN);
    EXPECT_TRUE(fr_src_at_end(&out));
    EXPECT_TRUE(!fr_src_failed(&out));
    fr_src_close(&out);

    /* Closing a filter before its end reaps the children. */
    fr_err_clear(&err);
    fr_src_open_mem(&in, gz.p, gz.len, &err);
    EXPECT_TRUE(fr_src_open_filter(&out, &in, gzip_d) == 0);
    p = fr_src_peek(&out, 100);
    EXPECT_TRUE(p && memcmp(p, data, 100) == 0);
    fr_src_close(&out);
    bb_free(&gz);

    /* A small gzip member, then broken copies of it (all of them fit in
     * a pipe buffer, so gzip's early exit cannot block the feeder). */
    fr_err_clear(&err);
    fr_src_open_mem(&in, data, 20000, &err);
    EXPECT_TRUE(fr_src_open_filter(&out, &in, gzip_c) == 0);
    while ((p = fr_src_peek_upto(&out, W, &avail)) && avail) {
        bb_bytes(&gz, p, avail);
        fr_src_consume(&out, avail);
    }
    fr_src_close(&out);
    EXPECT_TRUE(gz.len > 18 && gz.len < 16384);

    gz.p[gz.len - 6] ^= 0xff;                   /* CRC-32 */
    check_gzip_fails(gz.p, gz.len);
    gz.p[gz.len - 6] ^= 0xff;
    check_gzip_fails(gz.p, gz.len / 2);         /* truncated */
    gz.p[0] = 'x';                              /* not gzip */
    check_gzip_fails(gz.p, gz.len);
    bb_free(&gz);

    check_gzip_early_exit();
}

int main(void)
{
    int fd;

    make_data();
    test_mem();
    test_mem_null();
    fd = make_file();
    test_file(fd);
    close(fd);
    unlink(tmpname);
    test_file_shrinks();
    test_extents();
    test_fd_errors();
    test_pipe();
    test_zstd();
    test_filter();
    free(data);
    return unit_done();
}
