// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_image.c - `veil image pull|ls|rm|gc`: pulling images from OCI/Docker
 * registries into the node's content store, listing, removing and
 * garbage-collecting them (src/runtime/store.c does the work).
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

/* Common options: --data-dir DIR, -o json / --json. */
static int parse_common(int argc, char **argv, const char *path, const char **data_dir, bool *json,
                        bool *quiet)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, OPT_DATA_DIR},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "o:q", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA_DIR:
            *data_dir = optarg;
            break;
        case 'o':
            if (veil_cli_parse_output(optarg, json, &err) != 0)
                return veil_cli_usage_error(path, "%s", err.msg);
            break;
        case OPT_JSON:
            *json = true;
            break;
        case 'q':
            if (quiet)
                *quiet = true;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    return VEIL_EXIT_OK;
}

static json_t *info_json(const struct veil_image_info *info)
{
    json_t *layers = json_array();
    for (size_t i = 0; i < info->n_layers; i++)
        json_array_append_new(layers, json_string(info->layers[i]));
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "name", info->name, "digest",
                     info->manifest_digest, "config", info->config_digest, "layers", layers, "size",
                     (json_int_t)info->size, "created", (json_int_t)info->created);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(j);
}

static int run_pull(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    const char *path = "veil image pull", *data_dir = NULL;
    bool json = false, quiet = false;
    int rc = parse_common(argc, argv, path, &data_dir, &json, &quiet);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (optind != argc - 1)
        return veil_cli_usage_error(path, "expected one image reference");
    veil_err err = {0};
    struct veil_image_ref ref;
    if (veil_image_ref_parse(argv[optind], &ref, &err) != 0)
        return veil_cli_usage_error(path, "%s", err.msg);
    struct veil_runtime_config rcfg;
    if (veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        return veil_cli_fail(&err);
    rcfg.registry.quiet = quiet || json;
    struct veil_image_info info;
    if (veil_image_pull(rcfg.data_dir, &ref, &rcfg.registry, &info, &err) != 0)
        return veil_cli_fail(&err);
    if (json)
        print_json(info_json(&info));
    else
        printf("%s\ndigest: %s\n", info.name, info.manifest_digest);
    veil_image_info_free(&info);
    return VEIL_EXIT_OK;
}

/* The prologue of a subcommand that takes options only: parses them and
 * loads the runtime configuration. */
static int parse_no_args(int argc, char **argv, const char *path, struct veil_cli_ctx *ctx,
                         struct veil_runtime_config *rcfg, bool *json)
{
    const char *data_dir = NULL;
    int rc = parse_common(argc, argv, path, &data_dir, json, NULL);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (optind != argc)
        return veil_cli_usage_error(path, "unexpected argument '%s'", argv[optind]);
    veil_err err = {0};
    if (veil_runtime_config_load(ctx->config, data_dir, rcfg, &err) != 0)
        return veil_cli_fail(&err);
    return VEIL_EXIT_OK;
}

static int run_ls(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json = false;
    struct veil_runtime_config rcfg;
    int rc = parse_no_args(argc, argv, "veil image ls", ctx, &rcfg, &json);
    if (rc != VEIL_EXIT_OK)
        return rc;
    veil_err err = {0};
    struct veil_image_info *list;
    size_t n;
    if (veil_image_list(rcfg.data_dir, &list, &n, &err) != 0)
        return veil_cli_fail(&err);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, info_json(&list[i]));
        print_json(arr);
    } else {
        printf("%-50s %-19s %7s %10s\n", "NAME", "DIGEST", "LAYERS", "SIZE");
        for (size_t i = 0; i < n; i++)
            printf("%-50s %.19s %7zu %10lld\n", list[i].name, list[i].manifest_digest,
                   list[i].n_layers, (long long)list[i].size);
    }
    veil_image_list_free(list, n);
    return VEIL_EXIT_OK;
}

static int run_rm(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    const char *path = "veil image rm", *data_dir = NULL;
    bool json = false;
    int rc = parse_common(argc, argv, path, &data_dir, &json, NULL);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (optind >= argc)
        return veil_cli_usage_error(path, "expected at least one image name");
    veil_err err = {0};
    struct veil_runtime_config rcfg;
    if (veil_runtime_config_load(ctx->config, data_dir, &rcfg, &err) != 0)
        return veil_cli_fail(&err);
    for (int i = optind; i < argc; i++) {
        if (veil_image_remove(rcfg.data_dir, argv[i], &err) != 0)
            return veil_cli_fail(&err);
        printf("removed %s\n", argv[i]);
    }
    return VEIL_EXIT_OK;
}

static int run_gc(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json = false;
    struct veil_runtime_config rcfg;
    int rc = parse_no_args(argc, argv, "veil image gc", ctx, &rcfg, &json);
    if (rc != VEIL_EXIT_OK)
        return rc;
    veil_err err = {0};
    struct veil_gc_stats st;
    if (veil_image_gc(rcfg.data_dir, &st, &err) != 0)
        return veil_cli_fail(&err);
    if (json)
        print_json(json_pack("{s:I, s:I, s:I}", "blobs_removed", (json_int_t)st.blobs_removed,
                             "layers_removed", (json_int_t)st.layers_removed, "bytes_freed",
                             (json_int_t)st.bytes_freed));
    else
        printf("removed %llu blobs and %llu unpacked layers, %llu bytes freed\n",
               (unsigned long long)st.blobs_removed, (unsigned long long)st.layers_removed,
               (unsigned long long)st.bytes_freed);
    return VEIL_EXIT_OK;
}

#define COMMON_HELP                                                                                \
    "  --data-dir DIR  node data directory (config data_dir, env VEIL_DATA_DIR)\n"                 \
    "  -o json, --json machine-readable output\n"

static const struct veil_cli_command image_pull = {
    .name = "pull",
    .summary = "pull an image from a registry into the content store",
    .usage =
        "Usage: veil image pull [--data-dir DIR] [-q] [-o json] REF\n\n"
        "REF is [host[:port]/]name[:tag][@sha256:DIGEST]; no host means docker.io.\n"
        "Every manifest and blob is sha256-verified before it is stored. Registries\n"
        "listed in registry.insecure (env VEIL_INSECURE_REGISTRIES, comma-separated\n"
        "host:port) are reached over plain HTTP; credentials come from the Docker\n"
        "config.json named by registry.auth_file (env VEIL_REGISTRY_AUTH_FILE).\n\n" COMMON_HELP
        "  -q, --quiet     no progress lines\n",
    .run = run_pull,
};
static const struct veil_cli_command image_ls = {
    .name = "ls",
    .summary = "list the images in the content store",
    .usage = "Usage: veil image ls [--data-dir DIR] [-o json]\n\n" COMMON_HELP,
    .run = run_ls,
};
static const struct veil_cli_command image_rm = {
    .name = "rm",
    .summary = "remove image names (content goes at the next gc)",
    .usage = "Usage: veil image rm [--data-dir DIR] NAME...\n\n"
             "NAME is a reference as pulled, or a manifest digest. Blobs and layers are\n"
             "freed by 'veil image gc' once nothing refers to them.\n\n" COMMON_HELP,
    .run = run_rm,
};
static const struct veil_cli_command image_gc = {
    .name = "gc",
    .summary = "delete blobs and layers no image or container uses",
    .usage = "Usage: veil image gc [--data-dir DIR] [-o json]\n\n" COMMON_HELP,
    .run = run_gc,
};
static const struct veil_cli_command *const image_subcommands[] = {&image_pull, &image_ls,
                                                                   &image_rm, &image_gc, NULL};

const struct veil_cli_command veil_cmd_image = {
    .name = "image",
    .summary = "pull, list, remove and garbage-collect container images",
    .usage = "Usage: veil image <pull|ls|rm|gc> [options]\n",
    .subcommands = image_subcommands,
};
