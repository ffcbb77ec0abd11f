// SPDX-License-Identifier: Apache-2.0
/*
 * cli.c - command dispatch and help for the `veil` program: walks the group
 * tables, answers --help, and turns errors into messages and exit codes.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

void veil_cli_reset_getopt(void)
{
    optind = 0; /* glibc: 0 also re-initialises the internal state */
    opterr = 1;
}

bool veil_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int veil_cli_usage_error(const char *path, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", path);
    return VEIL_EXIT_USAGE;
}

int veil_cli_fail(const veil_err *err)
{
    fprintf(stderr, "veil: %s\n", err && err->msg[0] ? err->msg : "failed");
    return VEIL_EXIT_FAILURE;
}

int veil_cli_parse_output(const char *text, bool *json, veil_err *err)
{
    if (strcmp(text, "json") == 0) {
        *json = true;
        return 0;
    }
    if (strcmp(text, "text") == 0 || strcmp(text, "table") == 0) {
        *json = false;
        return 0;
    }
    return veil_err_set(err, VEIL_E_INVALID, "unknown output format '%s' (json or text)", text);
}

void veil_cli_print_group(FILE *out, const char *path, const struct veil_cli_command *group)
{
    size_t width = 0;
    for (const struct veil_cli_command *const *c = group->subcommands; *c; c++) {
        size_t n = strlen((*c)->name);
        if (n > width)
            width = n;
    }
    if (group->usage)
        fputs(group->usage, out);
    else
        fprintf(out, "Usage: %s <command> [options]\n", path);
    fprintf(out, "\nCommands:\n");
    for (const struct veil_cli_command *const *c = group->subcommands; *c; c++)
        fprintf(out, "  %-*s  %s\n", (int)width, (*c)->name, (*c)->summary);
    fprintf(out, "\nRun '%s <command> --help' for a command's options.\n", path);
}

static void print_usage(FILE *out, const char *path, const struct veil_cli_command *cmd)
{
    if (cmd->usage)
        fputs(cmd->usage, out);
    else
        fprintf(out, "Usage: %s\n\n%s\n", path, cmd->summary);
}

int veil_cli_dispatch(const struct veil_cli_command *cmd, const char *path, int argc, char **argv,
                      struct veil_cli_ctx *ctx)
{
    if (cmd->subcommands == NULL) {
        if (veil_cli_wants_help(argc, argv)) {
            print_usage(stdout, path, cmd);
            return VEIL_EXIT_OK;
        }
        veil_cli_reset_getopt();
        return cmd->run(argc, argv, ctx);
    }

    if (argc < 2) {
        veil_cli_print_group(stderr, path, cmd);
        return VEIL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        veil_cli_print_group(stdout, path, cmd);
        return VEIL_EXIT_OK;
    }
    for (const struct veil_cli_command *const *c = cmd->subcommands; *c; c++) {
        if (strcmp((*c)->name, name) == 0) {
            char sub_path[256];
            snprintf(sub_path, sizeof sub_path, "%s %s", path, name);
            return veil_cli_dispatch(*c, sub_path, argc - 1, argv + 1, ctx);
        }
    }
    fprintf(stderr, "%s: unknown command '%s'\n\n", path, name);
    veil_cli_print_group(stderr, path, cmd);
    return VEIL_EXIT_USAGE;
}
