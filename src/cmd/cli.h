// SPDX-License-Identifier: Apache-2.0
/*
 * cli.h - what every `veil` command file shares: the command table entry,
 * the context handed to a command (configuration, output format), help and
 * usage printing, and dispatch of a group's subcommands.
 *
 * A command is either a leaf (`run` set) or a group (`subcommands` set, a
 * NULL-terminated table of leaves). `--help`/`-h` anywhere before `--` prints
 * the command's usage and exits 0 without running it; a usage error exits 2;
 * a failure exits 1 after printing "veil: <message>".
 */
#ifndef VEIL_CMD_CLI_H
#define VEIL_CMD_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <veil/base.h>

enum {
    VEIL_EXIT_OK = 0,
    VEIL_EXIT_FAILURE = 1,
    VEIL_EXIT_USAGE = 2,
};

struct veil_cli_ctx {
    veil_config *config; /* defaults < file < env, flags applied by commands */
    const char *prog;    /* "veil" */
};

struct veil_cli_command {
    const char *name;
    const char *summary; /* one line for the command list */
    const char *usage;   /* full help text printed by --help ("Usage: ...") */
    /* Leaf: argv[0] is the command's own name; getopt state is reset before
     * the call. Returns a VEIL_EXIT_* code. */
    int (*run)(int argc, char **argv, struct veil_cli_ctx *ctx);
    const struct veil_cli_command *const *subcommands; /* group: NULL-terminated */
};

/* Runs `cmd` (a leaf or a group) on argv (argv[0] = the command's name).
 * `path` is the command path for messages ("veil fhe"). */
int veil_cli_dispatch(const struct veil_cli_command *cmd, const char *path, int argc, char **argv,
                      struct veil_cli_ctx *ctx);
/* Prints a group's list of commands. */
void veil_cli_print_group(FILE *out, const char *path, const struct veil_cli_command *group);
/* True if -h/--help appears before a "--". */
bool veil_cli_wants_help(int argc, char **argv);
/* Reports a usage error: "veil fhe encrypt: <msg>" plus a pointer to --help;
 * returns VEIL_EXIT_USAGE. */
int veil_cli_usage_error(const char *path, const char *fmt, ...) VEIL_PRINTF(2, 3);
/* Reports a failure from `err` as "veil: <message>"; returns VEIL_EXIT_FAILURE. */
int veil_cli_fail(const veil_err *err);
/* Parses "-o json|text" values. */
int veil_cli_parse_output(const char *text, bool *json, veil_err *err);
/* Resets getopt so a command can parse its own argv. */
void veil_cli_reset_getopt(void);

#endif /* VEIL_CMD_CLI_H */
