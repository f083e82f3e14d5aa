/*
 * One command, one file, one descriptor; cmd-table.c lists them all.
 */
#ifndef FR_CMD_H
#define FR_CMD_H

#include <argp.h>
#include <stdbool.h>

#include "err.h"

struct fr_cmd {
    const char *name;
    const char *summary;        /* one line for "fixedram --help" */
    /* ARGV[0] is "fixedram NAME"; returns an exit status (exit.h). */
    int (*run)(int argc, char **argv);
};

extern const struct fr_cmd fr_cmd_checksum;
extern const struct fr_cmd fr_cmd_compact;
extern const struct fr_cmd fr_cmd_convert;
extern const struct fr_cmd fr_cmd_diff;
extern const struct fr_cmd fr_cmd_extract;
extern const struct fr_cmd fr_cmd_inspect;
extern const struct fr_cmd fr_cmd_verify;

/* The table, sorted by name, NULL-terminated. */
extern const struct fr_cmd *const fr_cmds[];

/* Global options (given before the command). */
extern bool fr_quiet;

/* Threads to use by default: the CPUs online, at most 8. */
int fr_default_threads(void);

/* The help of --bypass-cache for commands that read an image's pages. */
#define FR_BYPASS_CACHE_HELP \
    "Read an image's pages with O_DIRECT, past the page cache (buffered " \
    "where the file system refuses it)"

/* -l/--snapshot, for commands that read a save file: the internal
 * snapshot of a qcow2 image whose VM state is read (qemu-img's -l). */
#define FR_SNAPSHOT_OPTION \
    { "snapshot", 'l', "ID|NAME", 0, \
      "Read the VM state of this internal snapshot of a qcow2 image " \
      "(default: the only snapshot that has one)", 0 }

/* --max-ram-below-4g (extract, diff): KEY is the command's own. */
#define FR_BELOW_4G_OPTION(key) \
    { "max-ram-below-4g", (key), "SIZE", 0, \
      "With --physical, for an x86 guest started with -machine " \
      "max-ram-below-4g=SIZE (suffixes K, M, G)", 0 }

/* --threads=ARG: 1 to 256, else a usage error. */
int fr_parse_threads(struct argp_state *state, const char *arg);

/* A size as QEMU takes it: bytes, or with a suffix K, M or G (powers of
 * 1024), 1 to 4G; else an argp error. */
uint64_t fr_parse_size(struct argp_state *state, const char *arg);

/*
 * Report ERR about input or output NAME once, on stderr, in the house
 * format, and return the exit status for it (FR_EXIT_FAIL, or
 * FR_EXIT_USAGE for usage errors).
 */
int fr_report(const struct fr_err *err, const char *name);

#endif
