// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_stop.c - `veil stop NAME...`: SIGTERM, SIGKILL after a timeout, then
 * the runtime state, cgroups and rootfs mount are released.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <veil/runtime.h>

#include "cli.h"

enum { OPT_DATA_DIR = 1000 };

static int run_stop(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"time", required_argument, NULL, 't'},
                                         {"data-dir", required_argument, NULL, OPT_DATA_DIR},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL;
    int64_t timeout_ms = 10000;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (veil_parse_duration_ms(optarg, &timeout_ms, &err) != 0 || timeout_ms < 0)
                return veil_cli_usage_error("veil stop", "-t wants a duration (10s, 500ms)");
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        default:
            return veil_cli_usage_error("veil stop", "bad option");
        }
    }
    if (optind >= argc)
        return veil_cli_usage_error("veil stop", "expected a container name or id");
    struct veil_runtime_config rcfg;
    if (veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        return veil_cli_fail(&err);
    for (int i = optind; i < argc; i++) {
        int src = rcfg.docker_socket
                      ? veil_docker_stop(rcfg.docker_socket, argv[i], timeout_ms, &err)
                      : veil_container_stop(&rcfg.runtime, argv[i], timeout_ms, &err);
        if (src != 0)
            return veil_cli_fail(&err);
        printf("%s\n", argv[i]);
    }
    return VEIL_EXIT_OK;
}

const struct veil_cli_command veil_cmd_stop = {
    .name = "stop",
    .summary = "stop containers",
    .usage = "Usage: veil stop [-t DURATION] [--data-dir DIR] NAME...\n\n"
             "Sends SIGTERM, then SIGKILL to every process after -t (default 10s), and\n"
             "releases the container's runtime state, cgroups and rootfs mount. A stopped\n"
             "container is not restarted by its restart policy.\n",
    .run = run_stop,
};
