/*
 * cmd_job.c - `veil job ...`: `validate FILE` checks a job spec strictly and
 * prints its canonical JSON form (or the exact field, line and reason it was
 * refused for); `run FILE`, `ls` and `status ID` talk to the local node's
 * HTTP API; `logs ID` and `stop ID` act on a replica this node runs (veild
 * names it veil-<first 16 hex of the job id>-<replica> in the runtime).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/node.h>
#include <veil/runtime.h>

#include "cli.h"

static int run_validate(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    bool pretty = true;
    bool json = true;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                return veil_cli_usage_error("veil job validate", "%s", err.msg);
            break;
        case 'j':
            pretty = false;
            break;
        default:
            return veil_cli_usage_error("veil job validate", "bad option");
        }
    }
    if (optind + 1 != argc)
        return veil_cli_usage_error("veil job validate", "expected one FILE");
    const char *path = argv[optind];
    struct veil_job_spec spec;
    if (veil_job_spec_load(&spec, path, &err) != 0)
        return veil_cli_fail(&err);
    char *canon = veil_job_spec_canonical_json(&spec, &err);
    veil_job_spec_free(&spec);
    if (!canon)
        return veil_cli_fail(&err);
    if (json && pretty) {
        /* -o json (the default) indents; --json prints the canonical bytes. */
        json_t *v = json_loads(canon, 0, NULL);
        char *indented = v ? json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        puts(indented ? indented : canon);
        free(indented);
        json_decref(v);
    } else if (json) {
        puts(canon);
    } else {
        printf("%s: ok\n", path);
    }
    free(canon);
    return VEIL_EXIT_OK;
}

/* Common option parsing of the API commands: -o json|text / --json. */
static int parse_output_opts(int argc, char **argv, const char *path, bool *json)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (veil_cli_parse_output(optarg, json, &err) != 0)
                return veil_cli_usage_error(path, "%s", err.msg);
            break;
        case 'j':
            *json = true;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    return VEIL_EXIT_OK;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    puts(s ? s : "null");
    free(s);
}

static int api_call(struct veil_cli_ctx *ctx, const char *method, const char *path,
                    const void *body, size_t body_len, json_t **out)
{
    veil_err err = {0};
    struct veil_api_client client;
    if (veil_api_client_init(&client, ctx->config, &err) != 0)
        return veil_cli_fail(&err);
    int rc = veil_api_client_call(&client, method, path, body, body_len, NULL, (void **)out, &err);
    veil_api_client_clear(&client);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_run(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json = false;
    int rc = parse_output_opts(argc, argv, "veil job run", &json);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (optind + 1 != argc)
        return veil_cli_usage_error("veil job run", "expected one FILE");
    const char *path = argv[optind];
    veil_err err = {0};
    uint8_t *data;
    size_t len;
    /* Validate locally first, so errors name the file and its lines. */
    struct veil_job_spec spec;
    if (veil_job_spec_load(&spec, path, &err) != 0)
        return veil_cli_fail(&err);
    veil_job_spec_free(&spec);
    if (veil_file_read(path, VEIL_JOB_SPEC_MAX_BYTES, &data, &len, &err) != 0)
        return veil_cli_fail(&err);
    json_t *answer = NULL;
    rc = api_call(ctx, "POST", "/v1/jobs", data, len, &answer);
    free(data);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (json)
        print_json(answer);
    else
        printf("job %s submitted\n", json_string_value(json_object_get(answer, "id")));
    json_decref(answer);
    return VEIL_EXIT_OK;
}

static int run_ls(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json = false;
    int rc = parse_output_opts(argc, argv, "veil job ls", &json);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (optind != argc)
        return veil_cli_usage_error("veil job ls", "takes no arguments");
    json_t *answer = NULL;
    if ((rc = api_call(ctx, "GET", "/v1/jobs", NULL, 0, &answer)) != VEIL_EXIT_OK)
        return rc;
    json_t *jobs = json_object_get(answer, "jobs");
    if (json) {
        print_json(jobs);
    } else {
        printf("%-64s %-24s %-8s %s\n", "ID", "NAME", "REPLICAS", "RUNNING");
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j)
        {
            printf("%-64s %-24s %-8" JSON_INTEGER_FORMAT " %" JSON_INTEGER_FORMAT "\n",
                   json_string_value(json_object_get(j, "id")),
                   json_string_value(json_object_get(j, "name")),
                   json_integer_value(json_object_get(j, "replicas")),
                   json_integer_value(json_object_get(j, "running")));
        }
    }
    json_decref(answer);
    return VEIL_EXIT_OK;
}

static int run_status(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool json = false;
    int rc = parse_output_opts(argc, argv, "veil job status", &json);
    if (rc != VEIL_EXIT_OK)
        return rc;
    if (optind + 1 != argc)
        return veil_cli_usage_error("veil job status", "expected one job ID");
    const char *id = argv[optind];
    if (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
        return veil_cli_usage_error("veil job status", "a job ID is 64 lowercase hex digits");
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    json_t *job = NULL;
    if ((rc = api_call(ctx, "GET", path, NULL, 0, &job)) != VEIL_EXIT_OK)
        return rc;
    if (json) {
        print_json(job);
    } else {
        printf("job %s (%s), %" JSON_INTEGER_FORMAT " replica(s)\n",
               json_string_value(json_object_get(job, "id")),
               json_string_value(json_object_get(job, "name")),
               json_integer_value(json_object_get(job, "replicas")));
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(job, "replica_states"), i, r)
        {
            const char *node = json_string_value(json_object_get(r, "node"));
            printf("  replica %" JSON_INTEGER_FORMAT ": %s%s%s\n",
                   json_integer_value(json_object_get(r, "replica")),
                   json_string_value(json_object_get(r, "state")), node ? " on " : "",
                   node ? node : "");
        }
        json_array_foreach(json_object_get(job, "anchors"), i, r)
        {
            printf("  anchor replica %" JSON_INTEGER_FORMAT ": epoch %" JSON_INTEGER_FORMAT
                   " root %s tx %s\n",
                   json_integer_value(json_object_get(r, "replica")),
                   json_integer_value(json_object_get(r, "epoch")),
                   json_string_value(json_object_get(r, "root")),
                   json_string_value(json_object_get(r, "tx_hash")));
        }
    }
    json_decref(job);
    return VEIL_EXIT_OK;
}

/* logs / stop: ID [--replica N] on the node that runs the replica. */
static int local_container(int argc, char **argv, struct veil_cli_ctx *ctx, const char *path,
                           bool *follow, char name[64], struct veil_runtime_config *rc)
{
    static const struct option opts[] = {{"replica", required_argument, NULL, 'r'},
                                         {"follow", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    unsigned long replica = 0;
    int c;
    while ((c = getopt_long(argc, argv, "r:f", opts, NULL)) != -1) {
        switch (c) {
        case 'r': {
            char *end;
            replica = strtoul(optarg, &end, 10);
            if (*end || replica >= VEIL_JOB_MAX_REPLICAS)
                return veil_cli_usage_error(path, "--replica wants 0..%d",
                                            VEIL_JOB_MAX_REPLICAS - 1);
            break;
        }
        case 'f':
            if (!follow)
                return veil_cli_usage_error(path, "bad option");
            *follow = true;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
    }
    if (optind + 1 != argc)
        return veil_cli_usage_error(path, "expected one job ID");
    const char *id = argv[optind];
    if (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
        return veil_cli_usage_error(path, "a job ID is 64 lowercase hex digits");
    snprintf(name, 64, "veil-%.16s-%lu", id, replica);
    veil_err err = {0};
    if (veil_runtime_config_load(ctx->config, NULL, rc, &err) != 0)
        return veil_cli_fail(&err);
    struct veil_container_info info;
    if (veil_container_inspect(&rc->runtime, name, &info, &err) != 0) {
        veil_err_set(&err, VEIL_E_NOTFOUND,
                     "replica %lu of job %.16s... does not run on this node (see 'veil job "
                     "status' for its node)",
                     replica, id);
        return veil_cli_fail(&err);
    }
    return -1;
}

static int run_logs(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    bool follow = false;
    char name[64];
    struct veil_runtime_config rc;
    int r = local_container(argc, argv, ctx, "veil job logs", &follow, name, &rc);
    if (r >= 0)
        return r;
    veil_err err = {0};
    fflush(stdout);
    return veil_container_logs(&rc.runtime, name, follow, &err) == 0 ? VEIL_EXIT_OK
                                                                     : veil_cli_fail(&err);
}

static int run_stop(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    char name[64];
    struct veil_runtime_config rc;
    int r = local_container(argc, argv, ctx, "veil job stop", NULL, name, &rc);
    if (r >= 0)
        return r;
    veil_err err = {0};
    if (veil_container_stop(&rc.runtime, name, 10000, &err) != 0)
        return veil_cli_fail(&err);
    printf("%s stopped\n", name);
    return VEIL_EXIT_OK;
}

static const struct veil_cli_command job_logs = {
    .name = "logs",
    .summary = "print the output of a replica this node runs",
    .usage = "Usage: veil job logs [--replica N] [-f|--follow] ID\n\n"
             "Prints the container output of replica N (default 0) of job ID when this\n"
             "node runs it (data_dir from the node's configuration); -f follows it.\n",
    .run = run_logs,
};
static const struct veil_cli_command job_stop = {
    .name = "stop",
    .summary = "stop a replica this node runs",
    .usage = "Usage: veil job stop [--replica N] ID\n\n"
             "Stops the container of replica N (default 0) of job ID on this node (SIGTERM,\n"
             "then SIGKILL after 10 s). The node reports the exit on the cluster topic.\n",
    .run = run_stop,
};

static const struct veil_cli_command job_run = {
    .name = "run",
    .summary = "submit a job spec to the local node",
    .usage = "Usage: veil job run [-o json|text] FILE\n\n"
             "Validates FILE like 'veil job validate', then submits it to the local node's\n"
             "HTTP API (api.listen, token from api.token_file or <data_dir>/api.token) and\n"
             "prints the job ID (or the node's answer as JSON with -o json).\n",
    .run = run_run,
};
static const struct veil_cli_command job_ls = {
    .name = "ls",
    .summary = "list the jobs the local node knows",
    .usage = "Usage: veil job ls [-o json|text]\n\nLists jobs with their replica counts.\n",
    .run = run_ls,
};
static const struct veil_cli_command job_status = {
    .name = "status",
    .summary = "show one job's replicas, assignments and anchors",
    .usage = "Usage: veil job status [-o json|text] ID\n\n"
             "Shows each replica's state and node and the job's anchors (epoch, Merkle\n"
             "root, transaction); -o json adds the spec, assignments, inclusion proofs\n"
             "and containers.\n",
    .run = run_status,
};

static const struct veil_cli_command job_validate = {
    .name = "validate",
    .summary = "check a job spec and print its canonical JSON form",
    .usage = "Usage: veil job validate [-o json|text] [--json] FILE\n\n"
             "Parses FILE (job.yaml) strictly: unknown fields, wrong types, bad\n"
             "quantities (Kubernetes syntax: 500m, 64Mi, 1Gi) and image references\n"
             "not pinned by @sha256: digest or tag are refused with FILE:LINE, the\n"
             "field path and the reason (exit 1). On success prints the normalized\n"
             "spec as indented JSON (-o json, the default), the exact canonical bytes\n"
             "that the job id hashes (--json), or 'FILE: ok' (-o text).\n",
    .run = run_validate,
};

static const struct veil_cli_command *const job_subcommands[] = {
    &job_validate, &job_run, &job_ls, &job_status, &job_logs, &job_stop, NULL};

const struct veil_cli_command veil_cmd_job = {
    .name = "job",
    .summary = "validate and manage jobs",
    .usage = "Usage: veil job <command> [options]\n",
    .subcommands = job_subcommands,
};
