// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_logs.c - `veil logs [-f] NAME`: a container's stdout and stderr from
 * its (rotated) log files; -f follows until the container ends.
 */
#include <getopt.h>
#include <stdio.h>

#include <veil/runtime.h>

#include "cli.h"

enum { OPT_DATA_DIR = 1000 };

static int run_logs(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"data-dir", required_argument, NULL, OPT_DATA_DIR},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL;
    bool follow = false;
    int c;
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            follow = true;
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        default:
            return veil_cli_usage_error("veil logs", "bad option");
        }
    }
    if (optind != argc - 1)
        return veil_cli_usage_error("veil logs", "expected one container name or id");
    veil_err err = {0};
    struct veil_runtime_config rcfg;
    if (veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        return veil_cli_fail(&err);
    fflush(stdout);
    int lrc = rcfg.docker_socket ? veil_docker_logs(rcfg.docker_socket, argv[optind], follow, &err)
                                 : veil_container_logs(&rcfg.runtime, argv[optind], follow, &err);
    if (lrc != 0)
        return veil_cli_fail(&err);
    return VEIL_EXIT_OK;
}

const struct veil_cli_command veil_cmd_logs = {
    .name = "logs",
    .summary = "print a container's output",
    .usage = "Usage: veil logs [-f] [--data-dir DIR] NAME\n\n"
             "Prints the container's stdout (to stdout) and stderr (to stderr), rotated\n"
             "files first. -f, --follow keeps printing until the container ends.\n",
    .run = run_logs,
};
