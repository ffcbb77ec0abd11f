// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_dashboard.c - `veil dashboard ...`: `url` prints the address of the
 * local node's web dashboard with its bearer token in the URL fragment (a
 * fragment is never sent to a server; the page keeps it for its requests);
 * `cluster`, `network`, `disputes` and `verify JOB REPLICA` print, as text
 * or JSON, the dashboard endpoints' data (the CLI parity of /v1/cluster,
 * /v1/network, /v1/disputes and /v1/anchors/verify; a check the node has
 * not finished yet, 202, is asked again until it has).
 */
#include <getopt.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/node.h>

#include "cli.h"

/* -o json|text; the remaining operands start at *first. */
static int parse_output(int argc, char **argv, const char *path, bool *json, int *first)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    int c;
    *json = false;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c != 'o' || veil_cli_parse_output(optarg, json, &err) != 0)
            return veil_cli_usage_error(path, "%s", c == 'o' ? err.msg : "bad option");
    }
    *first = optind;
    return VEIL_EXIT_OK;
}

static int run_url(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json;
    int first, rc = parse_output(argc, argv, "veil dashboard url", &json, &first);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (first != argc)
        return veil_cli_usage_error("veil dashboard url", "takes no operands");
    struct veil_api_client client;
    veil_err err = {0};
    if (veil_api_client_init(&client, ctx->config, &err) != 0)
        return veil_cli_fail(&err);
    char url[160];
    snprintf(url, sizeof url, "%s/ui/#token=%s", client.base_url, client.token);
    veil_api_client_clear(&client);
    if (json)
        printf("{\"url\": \"%s\"}\n", url);
    else
        printf("%s\n", url);
    veil_memzero(url, sizeof url);
    return VEIL_EXIT_OK;
}

/* One call to the local API; prints the answer as indented JSON or as
 * "key: value" lines of its top level. */
static int call_and_print(struct veil_cli_ctx *ctx, const char *method, const char *path,
                          const char *body, bool json)
{
    struct veil_api_client client;
    veil_err err = {0};
    if (veil_api_client_init(&client, ctx->config, &err) != 0)
        return veil_cli_fail(&err);
    json_t *answer = NULL;
    long status = 0;
    int rc = veil_api_client_call(&client, method, path, body, body ? strlen(body) : 0, &status,
                                  (void **)&answer, &err);
    /* 202: the node checks off its API thread; ask again (at most 30 s) */
    for (int tries = 0; rc == 0 && status == 202 && tries < 60; tries++) {
        json_decref(answer);
        answer = NULL;
        nanosleep(&(struct timespec){.tv_nsec = 500000000}, NULL);
        rc = veil_api_client_call(&client, method, path, body, body ? strlen(body) : 0, &status,
                                  (void **)&answer, &err);
    }
    veil_api_client_clear(&client);
    if (rc == 0 && status == 202) {
        json_decref(answer);
        veil_err_set(&err, VEIL_E_TIMEOUT, "the node has not heard back from the chain in 30 s");
        return veil_cli_fail(&err);
    }
    if (rc != 0)
        return veil_cli_fail(&err);
    if (json) {
        char *s = json_dumps(answer, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s ? s : "{}");
        free(s);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(answer, key, v)
        {
            char *s = json_is_string(v) ? strdup(json_string_value(v))
                                        : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s: %s\n", key, s ? s : "?");
            free(s);
        }
    }
    json_decref(answer);
    return VEIL_EXIT_OK;
}

static int run_cluster(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json;
    int first, rc = parse_output(argc, argv, "veil dashboard cluster", &json, &first);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (first != argc)
        return veil_cli_usage_error("veil dashboard cluster", "takes no operands");
    return call_and_print(ctx, "GET", "/v1/cluster", NULL, json);
}

static int run_network(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json;
    int first, rc = parse_output(argc, argv, "veil dashboard network", &json, &first);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (first != argc)
        return veil_cli_usage_error("veil dashboard network", "takes no operands");
    return call_and_print(ctx, "GET", "/v1/network", NULL, json);
}

static int run_disputes(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json;
    int first, rc = parse_output(argc, argv, "veil dashboard disputes", &json, &first);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (first != argc)
        return veil_cli_usage_error("veil dashboard disputes", "takes no operands");
    return call_and_print(ctx, "GET", "/v1/disputes", NULL, json);
}

static int run_verify(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json;
    int first, rc = parse_output(argc, argv, "veil dashboard verify", &json, &first);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (first + 2 != argc)
        return veil_cli_usage_error("veil dashboard verify", "expected JOB REPLICA");
    const char *job = argv[first];
    char *end = NULL;
    long replica = strtol(argv[first + 1], &end, 10);
    if (strlen(job) != 64 || strspn(job, "0123456789abcdef") != 64)
        return veil_cli_usage_error("veil dashboard verify", "JOB is 64 lowercase hex digits");
    if (!*argv[first + 1] || *end || replica < 0 || replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_cli_usage_error("veil dashboard verify", "REPLICA is 0..%d",
                                    VEIL_JOB_MAX_REPLICAS - 1);
    char body[128];
    snprintf(body, sizeof body, "{\"job\":\"%s\",\"replica\":%ld}", job, replica);
    return call_and_print(ctx, "POST", "/v1/anchors/verify", body, json);
}

static const struct veil_cli_command cmd_url = {
    .name = "url",
    .summary = "print the dashboard's URL with its token",
    .usage = "Usage: veil dashboard url [-o json|text]\n\n"
             "Prints http://127.0.0.1:PORT/ui/#token=TOKEN for the local node (api.listen,\n"
             "api.token_file). Open it in a browser on this machine; the token travels in\n"
             "the URL fragment, which browsers never send to a server.\n",
    .run = run_url,
};

static const struct veil_cli_command cmd_cluster = {
    .name = "cluster",
    .summary = "this node and the cluster's policy from chain (as the dashboard shows)",
    .usage = "Usage: veil dashboard cluster [-o json|text]\n\n"
             "GET /v1/cluster: this node's peer ID and the cluster's policy as the registry\n"
             "contract holds it (allowed images, scheduler policy, key holders, Guardian keys),\n"
             "as the node last read it: policy_age_ms, and policy_stale when the read failed.\n",
    .run = run_cluster,
};

static const struct veil_cli_command cmd_network = {
    .name = "network",
    .summary = "VeilNet on this node (as the dashboard shows)",
    .usage = "Usage: veil dashboard network [-o json|text]\n\nGET /v1/network.\n",
    .run = run_network,
};

static const struct veil_cli_command cmd_verify = {
    .name = "verify",
    .summary = "check a replica's anchor inclusion proof with the contract",
    .usage = "Usage: veil dashboard verify JOB REPLICA [-o json|text]\n\n"
             "POST /v1/anchors/verify: the node asks the registry contract's verifyInclusion\n"
             "about the replica's assignment commitment, batch root and proof. Exits 0 when\n"
             "the node could ask; the answer's 'included' says whether the chain agreed.\n",
    .run = run_verify,
};

static const struct veil_cli_command cmd_disputes = {
    .name = "disputes",
    .summary = "this cluster's disputes on the registry contract (as the dashboard shows)",
    .usage = "Usage: veil dashboard disputes [-o json|text]\n\n"
             "GET /v1/disputes: each dispute of this cluster (id, status open/upheld/rejected,\n"
             "votes, opener, anchor id, evidence hash) as the node last read them from the\n"
             "contract, with the age of that read and 'stale' when the chain did not answer.\n",
    .run = run_disputes,
};

static const struct veil_cli_command *const dashboard_subcommands[] = {
    &cmd_url, &cmd_cluster, &cmd_network, &cmd_disputes, &cmd_verify, NULL};

const struct veil_cli_command veil_cmd_dashboard = {
    .name = "dashboard",
    .summary = "the local node's web dashboard (URL, and its data as text or JSON)",
    .usage = "Usage: veil dashboard url|cluster|network|disputes|verify ...\n",
    .subcommands = dashboard_subcommands,
};
