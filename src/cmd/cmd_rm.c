// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_rm.c - `veil rm [-f] NAME...`: delete stopped containers (their
 * bundle, writable layer and logs).
 */
#include <getopt.h>
#include <stdio.h>

#include <veil/runtime.h>

#include "cli.h"

enum { OPT_DATA_DIR = 1000 };

static int run_rm(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"data-dir", required_argument, NULL, OPT_DATA_DIR},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        default:
            return veil_cli_usage_error("veil rm", "bad option");
        }
    }
    if (optind >= argc)
        return veil_cli_usage_error("veil rm", "expected a container name or id");
    veil_err err = {0};
    struct veil_runtime_config rcfg;
    if (veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        return veil_cli_fail(&err);
    for (int i = optind; i < argc; i++) {
        int rrc = rcfg.docker_socket ? veil_docker_remove(rcfg.docker_socket, argv[i], force, &err)
                                     : veil_container_remove(&rcfg.runtime, argv[i], force, &err);
        if (rrc != 0)
            return veil_cli_fail(&err);
        printf("%s\n", argv[i]);
    }
    return VEIL_EXIT_OK;
}

const struct veil_cli_command veil_cmd_rm = {
    .name = "rm",
    .summary = "remove containers",
    .usage = "Usage: veil rm [-f] [--data-dir DIR] NAME...\n\n"
             "Removes stopped containers; -f, --force stops running ones first.\n",
    .run = run_rm,
};
