// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_ps.c - `veil ps [-a]`: the node's containers, from the state files
 * their supervisors keep (so a new CLI process sees what an earlier one
 * started).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <veil/runtime.h>

#include "cli.h"

enum { OPT_DATA_DIR = 1000, OPT_JSON };

static int run_ps(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                         {"data-dir", required_argument, NULL, OPT_DATA_DIR},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL;
    bool all = false, json = false;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "ao:", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = true;
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                return veil_cli_usage_error("veil ps", "%s", err.msg);
            break;
        case OPT_JSON:
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil ps", "bad option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error("veil ps", "unexpected argument '%s'", argv[optind]);
    struct veil_runtime_config rcfg;
    if (veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        return veil_cli_fail(&err);
    struct veil_container_info *list;
    size_t n;
    int lrc = rcfg.docker_socket ? veil_docker_list(rcfg.docker_socket, all, &list, &n, &err)
                                 : veil_container_list(&rcfg.runtime, all, &list, &n, &err);
    if (lrc != 0)
        return veil_cli_fail(&err);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const struct veil_container_info *ci = &list[i];
            json_array_append_new(
                arr,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:i, s:I, s:I, s:I, s:i}", "id",
                          ci->id, "name", ci->name, "image", ci->image, "command", ci->command,
                          "status", veil_container_status_name(ci->status), "exit_code",
                          ci->exit_code, "oom_killed", ci->oom_killed, "restarts", ci->restarts,
                          "created", (json_int_t)ci->created, "started", (json_int_t)ci->started,
                          "finished", (json_int_t)ci->finished, "pid", ci->pid));
        }
        char *s = json_dumps(arr, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(arr);
    } else {
        printf("%-12s %-24s %-36s %-20s %s\n", "ID", "NAME", "IMAGE", "STATUS", "COMMAND");
        for (size_t i = 0; i < n; i++) {
            const struct veil_container_info *ci = &list[i];
            char status[64];
            if (ci->status == VEIL_CT_EXITED || ci->status == VEIL_CT_STOPPED)
                snprintf(status, sizeof status, "%s (%d)%s", veil_container_status_name(ci->status),
                         ci->exit_code, ci->oom_killed ? " OOM" : "");
            else
                snprintf(status, sizeof status, "%s", veil_container_status_name(ci->status));
            printf("%-12.12s %-24s %-36s %-20s %.40s\n", ci->id, ci->name, ci->image, status,
                   ci->command);
        }
    }
    free(list);
    return VEIL_EXIT_OK;
}

const struct veil_cli_command veil_cmd_ps = {
    .name = "ps",
    .summary = "list containers",
    .usage = "Usage: veil ps [-a] [--data-dir DIR] [-o json]\n\n"
             "Lists running containers (-a: also exited and stopped ones) with their exit\n"
             "codes and whether they were OOM-killed. With docker.socket set (env\n"
             "VEIL_DOCKER_SOCKET), lists the engine's containers that veil created.\n",
    .run = run_ps,
};
