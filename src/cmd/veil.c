// SPDX-License-Identifier: Apache-2.0
/*
 * veil.c - the operator CLI's entry point: global options (--log-level,
 * --config), configuration loading, and the top-level command table
 * (generated from the src/cmd/cmd_*.c files, see CMakeLists.txt).
 *
 *   veil [--log-level L] [--config FILE] <command> [<subcommand>] [options]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.gen.h"

static const char veil_usage[] =
    "Usage: veil [--log-level LEVEL] [--config FILE] <command> [options]\n"
    "\n"
    "Veil: a confidential, decentralized container orchestrator.\n"
    "\n"
    "Global options (accepted anywhere before '--'):\n"
    "  --log-level LEVEL  error, warn, info, debug or trace (env VEIL_LOG; default warn)\n"
    "  --config FILE      YAML configuration file (env VEIL_CONFIG)\n"
    "  -h, --help         show this help\n";

static void print_help(FILE *out)
{
    size_t width = 7; /* "version" */
    for (size_t i = 0; veil_commands[i]; i++) {
        size_t n = strlen(veil_commands[i]->name);
        if (n > width)
            width = n;
    }
    fputs(veil_usage, out);
    fprintf(out, "\nCommands:\n");
    fprintf(out, "  %-*s  %s\n", (int)width, "help", "show this help, or a command's help");
    for (size_t i = 0; veil_commands[i]; i++)
        fprintf(out, "  %-*s  %s\n", (int)width, veil_commands[i]->name,
                veil_commands[i]->summary);
    fprintf(out, "\nRun 'veil <command> --help' for the options of a command.\n");
}

static const struct veil_cli_command *find_command(const char *name)
{
    for (size_t i = 0; veil_commands[i]; i++)
        if (strcmp(veil_commands[i]->name, name) == 0)
            return veil_commands[i];
    return NULL;
}

/* Removes argv[i] (and its value when `with_value`) by shifting the rest. */
static void drop_args(int *argc, char **argv, int i, int count)
{
    for (int j = i; j + count <= *argc; j++)
        argv[j] = argv[j + count];
    *argc -= count;
}

/* Pulls the global options out of argv wherever they appear before "--". */
static int take_global_options(int *argc, char **argv, const char **log_level,
                               const char **config_path)
{
    for (int i = 1; i < *argc;) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        const char **slot = NULL;
        const char *flag = NULL;
        if (strncmp(a, "--log-level", 11) == 0 && (a[11] == '\0' || a[11] == '=')) {
            slot = log_level;
            flag = "--log-level";
        } else if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
            slot = config_path;
            flag = "--config";
        }
        if (!slot) {
            i++;
            continue;
        }
        const char *eq = strchr(a, '=');
        if (eq) {
            *slot = eq + 1;
            drop_args(argc, argv, i, 1);
        } else if (i + 1 < *argc) {
            *slot = argv[i + 1];
            drop_args(argc, argv, i, 2);
        } else {
            return veil_cli_usage_error("veil", "%s needs a value", flag);
        }
    }
    return VEIL_EXIT_OK;
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    const char *log_level = NULL;
    const char *config_path = getenv("VEIL_CONFIG");

    int rc = take_global_options(&argc, argv, &log_level, &config_path);
    if (rc != VEIL_EXIT_OK)
        return rc;

    veil_log_set_level(VEIL_LOG_WARN);
    if (veil_log_init_from_env(&err) != 0)
        return veil_cli_fail(&err);
    if (log_level) {
        enum veil_log_level level;
        if (veil_log_level_parse(log_level, &level, &err) != 0)
            return veil_cli_usage_error("veil", "%s", err.msg);
        veil_log_set_level(level);
    }
    if (veil_crypto_init(&err) != 0)
        return veil_cli_fail(&err);

    if (argc < 2) {
        print_help(stderr);
        return VEIL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        print_help(stdout);
        return VEIL_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_help(stdout);
            return VEIL_EXIT_OK;
        }
        const struct veil_cli_command *cmd = find_command(argv[2]);
        if (!cmd)
            return veil_cli_usage_error("veil help", "unknown command '%s'", argv[2]);
        char *help_argv[] = {argv[2], (char *)"--help", NULL};
        char path[128];
        snprintf(path, sizeof path, "veil %s", argv[2]);
        return veil_cli_dispatch(cmd, path, 2, help_argv, NULL);
    }

    const struct veil_cli_command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "veil: unknown command '%s'\n\n", name);
        print_help(stderr);
        return VEIL_EXIT_USAGE;
    }

    veil_config config;
    if (veil_config_init(&config, veil_config_default_keys, veil_config_default_keys_len, &err) !=
        0)
        return veil_cli_fail(&err);
    if (config_path && veil_config_load_file(&config, config_path, &err) != 0) {
        veil_config_free(&config);
        return veil_cli_fail(&err);
    }
    if (veil_config_load_env(&config, NULL, &err) != 0) {
        veil_config_free(&config);
        return veil_cli_fail(&err);
    }

    struct veil_cli_ctx ctx = {.config = &config, .prog = "veil"};
    char path[128];
    snprintf(path, sizeof path, "veil %s", name);
    rc = veil_cli_dispatch(cmd, path, argc - 1, argv + 1, &ctx);
    veil_config_free(&config);
    return rc;
}
