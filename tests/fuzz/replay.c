/*
 * replay: run one fuzz target (linked in: fuzz-savevm.c, ...) over files,
 * without libFuzzer.  Every argument is a file, or a directory searched
 * recursively (entries in name order, hidden ones skipped).  Each input is
 * copied to a buffer of exactly its size, so that a sanitizer build reports
 * any read past its end.  This is the regression driver "make check" runs
 * over tests/fuzz/corpus/<target>/ (see replay.sh), after zstd's
 * tests/fuzz/regression_driver.c.
 *
 *   replay-savevm [-v] FILE|DIR...
 *
 * Exit status: 0 when every input ran (a crash aborts the program), 1 when
 * an input could not be read or none was found, 64 on a bad command line.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int verbose;
static unsigned long nrun;
static int status;

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f) {
        return -1;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        errno = EIO;
        return -1;
    }
    fclose(f);
    /* exactly LEN bytes (at least 1 for malloc) */
    *data = malloc(len ? len : 1);
    if (!*data) {
        free(buf);
        errno = ENOMEM;
        return -1;
    }
    if (len) {
        memcpy(*data, buf, len);
    }
    free(buf);
    *size = len;
    return 0;
}

static void run_file(const char *path)
{
    uint8_t *data;
    size_t size;

    if (read_file(path, &data, &size) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        status = 1;
        return;
    }
    if (verbose) {
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    nrun++;
}

static int skip_dot(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static void run_path(const char *path)
{
    struct stat st;
    struct dirent **ents;
    int n;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        status = 1;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    n = scandir(path, &ents, skip_dot, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        status = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + 1 + strlen(ents[i]->d_name) + 1;
        char *sub = malloc(len);
        if (!sub) {
            fprintf(stderr, "replay: out of memory\n");
            exit(1);
        }
        snprintf(sub, len, "%s/%s", path, ents[i]->d_name);
        run_path(sub);
        free(sub);
        free(ents[i]);
    }
    free(ents);
}

int main(int argc, char **argv)
{
    int first = 1;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        first = 2;
    }
    if (first >= argc || strcmp(argv[first], "--help") == 0 ||
        argv[first][0] == '-') {
        fprintf(stderr, "usage: %s [-v] FILE|DIR...\n", argv[0]);
        return 64;
    }
    for (int i = first; i < argc; i++) {
        run_path(argv[i]);
    }
    if (nrun == 0) {
        fprintf(stderr, "replay: no input found\n");
        status = 1;
    }
    printf("%s: %lu inputs ran\n", argv[0], nrun);
    return status;
}
