/*
 * fixedram: global options, command lookup in the table, and the final
 * check that standard output was really written.
 */
#include "config.h"

#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "exit.h"
#include "sink.h"

const char *argp_program_version = PACKAGE_STRING;
const char *argp_program_bug_address = NULL;

bool fr_quiet;

struct global {
    int argc;
    char **argv;
};

static const struct argp_option global_options[] = {
    { "quiet", 'q', NULL, 0, "Print nothing but errors", 0 },
    { 0 }
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
    struct global *g = state->input;

    (void)arg;
    switch (key) {
    case 'q':
        fr_quiet = true;
        return 0;
    case ARGP_KEY_ARG:
        return ARGP_ERR_UNKNOWN;    /* the command: hand over the rest */
    case ARGP_KEY_ARGS:
        g->argc = state->argc - state->next;
        g->argv = state->argv + state->next;
        state->next = state->argc;
        return 0;
    case ARGP_KEY_NO_ARGS:
        argp_error(state, "no command given");
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

/* Append the command list, from the table, to "fixedram --help". */
static char *global_help(int key, const char *text, void *input)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f;

    (void)input;
    if (key != ARGP_KEY_HELP_POST_DOC) {
        return (char *)text;
    }
    f = open_memstream(&buf, &size);
    if (!f) {
        return (char *)text;
    }
    fputs("Commands:\n", f);
    for (const struct fr_cmd *const *c = fr_cmds; *c; c++) {
        fprintf(f, "  %-12s %s\n", (*c)->name, (*c)->summary);
    }
    fprintf(f, "\n%s", text);
    fclose(f);
    return buf;
}

static const struct argp global_argp = {
    global_options, parse_global, "COMMAND [OPTION...] [ARG...]",
    "Inspect, verify and convert QEMU migration files: classic migration "
    "streams, mapped-ram images and libvirt save images."
    "\v"
    "Run 'fixedram COMMAND --help' for a command's options.\n\n"
    "Exit status: 0 success, 1 failure, 64 bad command line; verify and "
    "diff document their own.",
    NULL, global_help, NULL
};

int fr_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

int fr_parse_threads(struct argp_state *state, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < 1 || v > 256) {
        argp_error(state, "invalid thread count '%s' (1 to 256)", arg);
        return 1;
    }
    return (int)v;
}

uint64_t fr_parse_size(struct argp_state *state, const char *arg)
{
    static const char units[] = "KMG";
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    const char *unit = *end ? strchr(units, *end) : NULL;
    unsigned shift = 0;

    if (unit && end[1] == '\0') {
        shift = 10 * (unsigned)(unit - units + 1);
    } else if (*end) {
        v = 0;
    }
    if (*arg < '0' || *arg > '9' || v == 0 || v > (4ull << 30) >> shift) {
        argp_error(state, "invalid size '%s' (1 to 4G)", arg);
    }
    return v << shift;
}

int fr_report(const struct fr_err *err, const char *name)
{
    fr_err_print(err, name);
    return err->kind == FR_E_USAGE ? FR_EXIT_USAGE : FR_EXIT_FAIL;
}

/* Write errors on stdout (a full disk, a closed pipe) must not go
 * unnoticed: check them once, at the end. */
static int close_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
        if (errno == EPIPE) {
            return status;
        }
        fprintf(stderr, "fixedram: write error on standard output: %s\n",
                strerror(errno));
        return status ? status : FR_EXIT_FAIL;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct global g = { 0 };
    char name[64];

    argp_err_exit_status = FR_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN);
    fr_sink_catch_signals();
    argp_parse(&global_argp, argc, argv, ARGP_IN_ORDER, NULL, &g);

    for (const struct fr_cmd *const *c = fr_cmds; *c; c++) {
        if (strcmp((*c)->name, g.argv[0]) == 0) {
            snprintf(name, sizeof(name), "fixedram %s", (*c)->name);
            g.argv[0] = name;
            return close_stdout((*c)->run(g.argc, g.argv));
        }
    }
    fprintf(stderr, "fixedram: unknown command '%s'\n"
            "Try 'fixedram --help' for a list of commands.\n", g.argv[0]);
    return FR_EXIT_USAGE;
}
