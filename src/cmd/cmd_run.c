// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_run.c - `veil run`: run a container from an image (pulled first if
 * the store does not have it) under memory, CPU and pids limits, attached
 * (output printed, exit code passed through) or detached. Uses the Docker
 * Engine API instead of runc when docker.socket is configured.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/runtime.h>

#include "cli.h"

enum {
    OPT_DATA_DIR = 1000,
    OPT_CPUS,
    OPT_CPU_SHARES,
    OPT_MEMORY,
    OPT_PIDS,
    OPT_RESTART,
    OPT_HOSTNAME,
    OPT_READ_ONLY,
    OPT_NETWORK,
    OPT_LOG_MAX,
    OPT_JSON,
};

static const char *const path = "veil run";

int main_run_dummy(void);

static int parse_mount(const char *spec, struct veil_mount_spec *m)
{
    /* SRC:DST[:ro|rw] */
    char *copy = strdup(spec);
    if (!copy)
        return -1;
    char *dst = strchr(copy, ':');
    if (!dst) {
        free(copy);
        return -1;
    }
    *dst++ = '\0';
    char *mode = strchr(dst, ':');
    if (mode) {
        *mode++ = '\0';
        if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0) {
            free(copy);
            return -1;
        }
    }
    m->source = copy;
    m->destination = dst;
    m->readonly = mode && strcmp(mode, "ro") == 0;
    return 0;
}

static int run_run(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"cpus", required_argument, NULL, OPT_CPUS},
                                         {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
                                         {"memory", required_argument, NULL, OPT_MEMORY},
                                         {"pids", required_argument, NULL, OPT_PIDS},
                                         {"env", required_argument, NULL, 'e'},
                                         {"restart", required_argument, NULL, OPT_RESTART},
                                         {"detach", no_argument, NULL, 'd'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"workdir", required_argument, NULL, 'w'},
                                         {"hostname", required_argument, NULL, OPT_HOSTNAME},
                                         {"read-only", no_argument, NULL, OPT_READ_ONLY},
                                         {"volume", required_argument, NULL, 'v'},
                                         {"network", required_argument, NULL, OPT_NETWORK},
                                         {"log-max-size", required_argument, NULL, OPT_LOG_MAX},
                                         {"data-dir", required_argument, NULL, OPT_DATA_DIR},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    struct veil_run_request req = {0};
    const char *data_dir = NULL;
    bool detach = false, json = false;
    char **env = calloc((size_t)argc + 1, sizeof *env);
    struct veil_mount_spec *mounts = calloc((size_t)argc + 1, sizeof *mounts);
    if (!env || !mounts) {
        free(env);
        free(mounts);
        return VEIL_EXIT_FAILURE;
    }
    req.env = env;
    req.mounts = mounts;
    veil_err err = {0};
    int rc = VEIL_EXIT_OK;
    int c;
    /* '+': stop at the image reference; what follows is the command. */
    while (rc == VEIL_EXIT_OK &&
           (c = getopt_long(argc, argv, "+n:e:du:w:v:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            req.name = optarg;
            break;
        case OPT_CPUS: {
            char *end;
            req.cpus = strtod(optarg, &end);
            if (*end || end == optarg || !(req.cpus > 0) || req.cpus > 1024)
                rc = veil_cli_usage_error(path, "--cpus wants a positive number, e.g. 0.5");
            break;
        }
        case OPT_CPU_SHARES: {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v < 2 || v > 262144)
                rc = veil_cli_usage_error(path, "--cpu-shares wants 2..262144");
            req.cpu_shares = v;
            break;
        }
        case OPT_MEMORY:
            if (veil_parse_size(optarg, &req.memory_bytes, &err) != 0 ||
                req.memory_bytes < (6u << 20))
                rc = veil_cli_usage_error(path, "--memory: %s",
                                          err.msg[0] ? err.msg : "at least 6m");
            break;
        case OPT_PIDS: {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 4194304)
                rc = veil_cli_usage_error(path, "--pids wants a number >= 1");
            req.pids_limit = v;
            break;
        }
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=')
                rc = veil_cli_usage_error(path, "-e wants KEY=VALUE");
            else
                env[req.n_env++] = optarg;
            break;
        case OPT_RESTART:
            if (veil_restart_policy_parse(optarg, &req.restart, &req.max_retries, &err) != 0)
                rc = veil_cli_usage_error(path, "%s", err.msg);
            break;
        case 'd':
            detach = true;
            break;
        case 'u':
            req.user = optarg;
            break;
        case 'w':
            req.cwd = optarg;
            break;
        case OPT_HOSTNAME:
            req.hostname = optarg;
            break;
        case OPT_READ_ONLY:
            req.readonly_rootfs = true;
            break;
        case 'v':
            if (parse_mount(optarg, &mounts[req.n_mounts]) != 0)
                rc = veil_cli_usage_error(path, "-v wants /HOST/PATH:/CONTAINER/PATH[:ro]");
            else
                req.n_mounts++;
            break;
        case OPT_NETWORK:
            if (strcmp(optarg, "host") == 0)
                req.host_network = true;
            else if (strcmp(optarg, "none") != 0)
                rc = veil_cli_usage_error(path, "--network wants none or host");
            break;
        case OPT_LOG_MAX:
            if (veil_parse_size(optarg, &req.log_max_bytes, &err) != 0 || req.log_max_bytes < 1024)
                rc = veil_cli_usage_error(path, "--log-max-size: at least 1k");
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                rc = veil_cli_usage_error(path, "%s", err.msg);
            break;
        case OPT_JSON:
            json = true;
            break;
        default:
            rc = veil_cli_usage_error(path, "bad option");
            break;
        }
    }
    if (rc == VEIL_EXIT_OK && optind >= argc)
        rc = veil_cli_usage_error(path, "expected an image reference");
    struct veil_runtime_config rcfg;
    if (rc == VEIL_EXIT_OK && veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        rc = veil_cli_fail(&err);
    if (rc != VEIL_EXIT_OK)
        goto out;
    const char *image = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    req.args = argv + optind;
    req.n_args = (size_t)(argc - optind);

    struct veil_container_info info;
    int exit_code = 0;
    if (rcfg.docker_socket) {
        req.image = image;
        if (veil_docker_run(rcfg.docker_socket, &req, !detach, &info, &exit_code, &err) != 0) {
            rc = veil_cli_fail(&err);
            goto out;
        }
    } else {
        /* Use the stored image, pulling it first if the store lacks it. */
        struct veil_image_info img;
        if (veil_image_lookup(rcfg.data_dir, image, &img, &err) != 0) {
            struct veil_image_ref ref;
            if (err.code != VEIL_E_NOTFOUND || veil_image_ref_parse(image, &ref, &err) != 0 ||
                veil_image_pull(rcfg.data_dir, &ref, &rcfg.registry, &img, &err) != 0) {
                rc = veil_cli_fail(&err);
                goto out;
            }
        }
        req.image = img.name;
        int r = veil_container_run(&rcfg.runtime, &req, !detach, &info, &exit_code, &err);
        veil_image_info_free(&img);
        if (r != 0) {
            rc = veil_cli_fail(&err);
            goto out;
        }
    }
    if (detach) {
        if (json) {
            json_t *j = json_pack("{s:s, s:s, s:s}", "id", info.id, "name", info.name, "status",
                                  veil_container_status_name(info.status));
            char *s = json_dumps(j, 0);
            puts(s);
            free(s);
            json_decref(j);
        } else {
            printf("%s\n", info.id);
        }
        rc = VEIL_EXIT_OK;
    } else {
        if (info.oom_killed)
            fprintf(stderr, "veil: container %s was OOM-killed (memory limit exceeded)\n",
                    info.name);
        rc = exit_code;
    }
out:
    for (size_t i = 0; i < req.n_mounts; i++)
        free(mounts[i].source);
    free(mounts);
    free(env);
    return rc;
}

const struct veil_cli_command veil_cmd_run = {
    .name = "run",
    .summary = "run a container from an image",
    .usage = "Usage: veil run [options] REF [--] [CMD ARGS...]\n\n"
             "Runs REF (pulled first if the store lacks it) with runc (runtime.engine),\n"
             "or through the Docker Engine API when docker.socket is set. Attached runs\n"
             "print the container's output and exit with its exit code (137 and a\n"
             "message when the kernel OOM-killed it).\n\n"
             "  --name NAME          container name (default veil-<id>)\n"
             "  --cpus X             CPU quota in cores (0.5 = half a core)\n"
             "  --cpu-shares N       relative CPU weight\n"
             "  --memory SIZE        memory limit (64m, 1g), no swap beyond it\n"
             "  --pids N             maximum number of processes\n"
             "  -e, --env K=V        environment variable (repeatable)\n"
             "  --restart POLICY     never (default), on-failure[:N] or always\n"
             "  -d, --detach         run in the background and print the id\n"
             "  -u, --user U[:G]     user (name or id from the image)\n"
             "  -w, --workdir DIR    working directory\n"
             "  --hostname NAME      hostname (default: the container name)\n"
             "  --read-only          read-only root filesystem\n"
             "  -v, --volume SRC:DST[:ro]  bind mount (repeatable)\n"
             "  --network none|host  own empty network namespace (default) or the host's\n"
             "  --log-max-size SIZE  rotate stdout/stderr logs at this size (default 10m)\n"
             "  --data-dir DIR       node data directory (env VEIL_DATA_DIR)\n"
             "  -o json, --json      machine-readable output (detached runs)\n",
    .run = run_run,
};
