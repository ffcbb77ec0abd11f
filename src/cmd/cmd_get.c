// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_get.c - `veil get nodes|jobs|assignments|anchors [-o json]`: tables
 * (or JSON) read from the local node's HTTP API (api.listen, bearer token
 * from api.token_file or <data_dir>/api.token). Nodes show identity,
 * organization, liveness and last telemetry epoch (-o json: also the size
 * of the last telemetry ciphertext message this node keeps) - never
 * telemetry values;
 * jobs and assignments as the node's API trims them (hook H4 of
 * docs/THREAT_MODEL.md: of its own jobs whether each replica is placed,
 * not where; another member's job only as decided/undecided; an
 * assignment's node only where this node runs the replica).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/node.h>

#include "cli.h"

struct column {
    const char *header;
    const char *key;
    int width;    /* printed width; 0 = last column, unpadded */
    int truncate; /* show at most this many characters (ids, hashes); 0 = all */
};

static void print_cell(json_t *v, const struct column *col, bool last)
{
    char text[256];
    if (json_is_string(v))
        snprintf(text, sizeof text, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(text, sizeof text, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(text, sizeof text, "-");
    if (!text[0])
        snprintf(text, sizeof text, "-");
    if (col->truncate && (int)strlen(text) > col->truncate)
        text[col->truncate] = '\0';
    if (last)
        printf("%s\n", text);
    else
        printf("%-*s ", col->width, text);
}

static void print_table(json_t *rows, const struct column *cols, size_t n_cols)
{
    for (size_t c = 0; c < n_cols; c++)
        if (c + 1 == n_cols)
            printf("%s\n", cols[c].header);
        else
            printf("%-*s ", cols[c].width, cols[c].header);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c < n_cols; c++)
            print_cell(json_object_get(row, cols[c].key), &cols[c], c + 1 == n_cols);
    }
}

static const struct column node_cols[] = {
    {"PEER ID", "peer_id", 54, 0},
    {"ORGANIZATION", "organization", 16, 0},
    {"ALIVE", "alive", 5, 0},
    {"LAST EPOCH", "last_telemetry_epoch", 0, 0},
};
static const struct column job_cols[] = {
    {"ID", "id", 12, 12},         {"NAME", "name", 24, 0},   {"REPLICAS", "replicas", 8, 0},
    {"RUNNING", "running", 7, 0}, {"STATE", "state", 20, 0}, {"SUBMITTER", "submitter", 0, 0},
};
static const struct column assignment_cols[] = {
    {"JOB", "job_id", 12, 12},  {"REPLICA", "replica", 7, 0}, {"EPOCH", "epoch", 8, 0},
    {"PLACED", "placed", 6, 0}, {"NODE", "node", 54, 0},      {"COMMITMENT", "commitment", 0, 16},
};
static const struct column anchor_cols[] = {
    {"COMMITMENT", "commitment", 16, 16},
    {"EPOCH", "epoch", 8, 0},
    {"ROOT", "root", 16, 16},
    {"TX", "tx_hash", 0, 0},
};

/* `veil get overlay`: the node's VeilNet view (GET /v1/overlay), as JSON or
 * as its address, then one line per peer and per replica. */
static int get_overlay(struct veil_cli_ctx *ctx, bool json)
{
    veil_err err = {0};
    struct veil_api_client client;
    if (veil_api_client_init(&client, ctx->config, &err) != 0)
        return veil_cli_fail(&err);
    json_t *o = NULL;
    int rc = veil_api_client_call(&client, "GET", "/v1/overlay", NULL, 0, NULL, (void **)&o, &err);
    veil_api_client_clear(&client);
    if (rc != 0)
        return veil_cli_fail(&err);
    if (json) {
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s ? s : "{}");
        free(s);
        json_decref(o);
        return VEIL_EXIT_OK;
    }
    printf("realm %s address %s\n", json_string_value(json_object_get(o, "realm")) ?: "-",
           json_string_value(json_object_get(o, "ipv4")) ?: "-");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(o, "peers"), i, row)
    {
        json_t *rev = json_object_get(row, "revoked");
        printf("peer %s %s%s\n", json_string_value(json_object_get(row, "peer")) ?: "-",
               json_string_value(json_object_get(row, "ipv4")) ?: "-",
               json_is_true(rev) ? " revoked" : "");
    }
    json_array_foreach(json_object_get(o, "replicas"), i, row)
        printf("replica %s %s\n", json_string_value(json_object_get(row, "name")) ?: "-",
               json_string_value(json_object_get(row, "ipv4")) ?: "-");
    json_decref(o);
    return VEIL_EXIT_OK;
}

static int run_get(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                return veil_cli_usage_error("veil get", "%s", err.msg);
            break;
        case 'j':
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil get", "bad option");
        }
    }
    if (optind + 1 != argc)
        return veil_cli_usage_error("veil get",
                                    "expected one of nodes, jobs, assignments, anchors, overlay");
    const char *what = argv[optind];
    if (strcmp(what, "overlay") == 0)
        return get_overlay(ctx, json);
    const struct column *cols;
    size_t n_cols;
    if (strcmp(what, "nodes") == 0)
        cols = node_cols, n_cols = VEIL_ARRAY_LEN(node_cols);
    else if (strcmp(what, "jobs") == 0)
        cols = job_cols, n_cols = VEIL_ARRAY_LEN(job_cols);
    else if (strcmp(what, "assignments") == 0)
        cols = assignment_cols, n_cols = VEIL_ARRAY_LEN(assignment_cols);
    else if (strcmp(what, "anchors") == 0)
        cols = anchor_cols, n_cols = VEIL_ARRAY_LEN(anchor_cols);
    else
        return veil_cli_usage_error("veil get",
                                    "unknown resource '%s' (nodes, jobs, assignments, "
                                    "anchors, overlay)",
                                    what);
    struct veil_api_client client;
    if (veil_api_client_init(&client, ctx->config, &err) != 0)
        return veil_cli_fail(&err);
    char path[64];
    snprintf(path, sizeof path, "/v1/%s", what);
    json_t *answer = NULL;
    int rc = veil_api_client_call(&client, "GET", path, NULL, 0, NULL, (void **)&answer, &err);
    veil_api_client_clear(&client);
    if (rc != 0)
        return veil_cli_fail(&err);
    json_t *rows = json_object_get(answer, what);
    if (!json_is_array(rows)) {
        json_decref(answer);
        veil_err_set(&err, VEIL_E_PROTOCOL, "local API answer has no '%s' list", what);
        return veil_cli_fail(&err);
    }
    if (json) {
        char *s = json_dumps(rows, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s ? s : "[]");
        free(s);
    } else {
        print_table(rows, cols, n_cols);
    }
    json_decref(answer);
    return VEIL_EXIT_OK;
}

const struct veil_cli_command veil_cmd_get = {
    .name = "get",
    .summary = "list nodes, jobs, assignments, anchors or the overlay of the local node",
    .usage = "Usage: veil get nodes|jobs|assignments|anchors|overlay [-o json|text]\n\n"
             "Reads the local node's HTTP API (api.listen, default 127.0.0.1:7070) with the\n"
             "bearer token in api.token_file (default <data_dir>/api.token) and prints a\n"
             "table, or the JSON list with -o json. Nodes show peer ID, organization,\n"
             "liveness and last telemetry epoch (-o json also the size in bytes of the last\n"
             "telemetry ciphertext message this node keeps of each, last_telemetry_bytes);\n"
             "telemetry values are never shown.\n"
             "Jobs and assignments: of this node's own jobs, whether each replica is\n"
             "placed (PLACED) and its state, never where (NODE and COMMITMENT only on the\n"
             "node running it); of another member's job only the replicas this node runs\n"
             "and whether it is decided (STATE decided/undecided). Overlay: this node's\n"
             "VeilNet address, its peers and sessions, and the overlay name and address\n"
             "of each replica it runs (nodes with overlay.enabled).\n",
    .run = run_get,
};
