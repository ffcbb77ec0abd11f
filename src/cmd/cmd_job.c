// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_job.c - `veil job ...`: `validate FILE` checks a job spec strictly and
 * prints its canonical JSON form (or the exact field, line and reason it was
 * refused for); `run FILE`, `ls` and `status ID` talk to the local node's
 * HTTP API; `logs ID` and `stop ID` act on a replica this node runs (veild
 * names it veil-<first 16 hex of the job id>-<replica> in the runtime).
 * `run --confidential` (or `confidential: true` in the spec) encrypts the
 * request here, under the cluster public key, and sends the node only the
 * ciphertext and a redacted spec: no node ever sees the values.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/fhe.h>
#include <veil/node.h>
#include <veil/runtime.h>

#include "../node/daemon_sched.h"
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

/* The body of a confidential submission: {"spec": <redacted spec>,
 * "request_ciphertext": "<base64url>"}; the request (resources and label
 * constraints) is encrypted under the cluster public key named by
 * zama.public_key_file, then wiped from this process. */
static int confidential_body(struct veil_job_spec *spec, const veil_config *cfg, char **body,
                             veil_err *err)
{
    struct veil_sched_request req = {0};
    req.policy = spec->policy;
    req.confidential = true;
    req.region = spec->region;
    req.zone = spec->zone;
    if (veil_telemetry_quantize_request(spec, req.res, err) != 0)
        return -1;
    const char *pk_path = veil_config_str(cfg, "zama.public_key_file", NULL);
    if (!pk_path)
        return veil_err_set(err, VEIL_E_INVALID,
                            "a confidential job needs the cluster public key: set "
                            "zama.public_key_file (veil node join writes it)");
    veil_fhe_public *pk = NULL;
    veil_buf ct;
    veil_buf_init(&ct);
    int rc = veil_fhe_public_load(pk_path, &pk, err);
    if (rc != 0)
        veil_err_wrap(err, "zama.public_key_file");
    else
        rc = veil_daemon_request_encrypt(pk, &req, &ct, err);
    veil_memzero(&req, sizeof req);
    if (pk)
        veil_fhe_public_free(pk);
    if (rc == 0)
        rc = veil_job_spec_redact(spec, ct.data, ct.len, err);
    char *canon = rc == 0 ? veil_job_spec_canonical_json(spec, err) : NULL;
    size_t b64_cap = veil_base64url_encoded_len(ct.len, false) + 1;
    char *b64 = canon ? malloc(b64_cap) : NULL;
    if (canon && !b64)
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    json_t *spec_json = canon ? json_loads(canon, 0, NULL) : NULL;
    *body = NULL;
    if (b64 && spec_json && veil_base64url_encode(b64, b64_cap, ct.data, ct.len, false) > 0) {
        json_t *env = json_pack("{s:O, s:s}", "spec", spec_json, "request_ciphertext", b64);
        *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
        json_decref(env);
    }
    json_decref(spec_json);
    free(b64);
    free(canon);
    veil_buf_free(&ct);
    if (!*body && !err->code)
        veil_err_set(err, VEIL_E_NOMEM, "cannot encode the confidential submission");
    return *body ? 0 : -1;
}

static int run_run(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"confidential", no_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    bool json = false, confidential = false;
    veil_err err = {0};
    int c, rc;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                return veil_cli_usage_error("veil job run", "%s", err.msg);
            break;
        case 'j':
            json = true;
            break;
        case 'c':
            confidential = true;
            break;
        default:
            return veil_cli_usage_error("veil job run", "bad option");
        }
    }
    if (optind + 1 != argc)
        return veil_cli_usage_error("veil job run", "expected one FILE");
    const char *path = argv[optind];
    uint8_t *data;
    size_t len;
    /* Validate locally first, so errors name the file and its lines. */
    struct veil_job_spec spec;
    if (veil_job_spec_load(&spec, path, &err) != 0)
        return veil_cli_fail(&err);
    if (spec.redacted) {
        veil_job_spec_free(&spec);
        veil_err_set(&err, VEIL_E_INVALID,
                     "%s: a redacted spec has no request to encrypt (give the spec with its "
                     "resources and constraints)",
                     path);
        return veil_cli_fail(&err);
    }
    if (confidential || spec.confidential) {
        spec.confidential = true;
        char *body = NULL;
        rc = confidential_body(&spec, ctx->config, &body, &err);
        veil_job_spec_free(&spec);
        if (rc != 0)
            return veil_cli_fail(&err);
        data = (uint8_t *)body;
        len = strlen(body);
    } else {
        veil_job_spec_free(&spec);
        if (veil_file_read(path, VEIL_JOB_SPEC_MAX_BYTES, &data, &len, &err) != 0)
            return veil_cli_fail(&err);
    }
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
        printf("%-64s %-24s %-8s %-7s %s\n", "ID", "NAME", "REPLICAS", "RUNNING", "STATE");
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j)
        {
            /* STATE: the least advanced replica's (e.g. awaiting_decryption
             * while the decryptor is away) */
            const char *state = json_string_value(json_object_get(j, "state"));
            printf("%-64s %-24s %-8" JSON_INTEGER_FORMAT " %-7" JSON_INTEGER_FORMAT " %s\n",
                   json_string_value(json_object_get(j, "id")),
                   json_string_value(json_object_get(j, "name")),
                   json_integer_value(json_object_get(j, "replicas")),
                   json_integer_value(json_object_get(j, "running")), state ? state : "-");
        }
    }
    json_decref(answer);
    return VEIL_EXIT_OK;
}

/* What the node shows of a job (hook H4 of docs/THREAT_MODEL.md): its
 * submitter's node whether each replica is placed, never where; a runner
 * only the replicas it runs; anyone else that the job exists. */
static void print_view(json_t *job)
{
    const char *view = json_string_value(json_object_get(job, "view"));
    const char *decided = json_is_true(json_object_get(job, "decided")) ? "decided" : "undecided";
    if (view && strcmp(view, "submitter") == 0)
        printf("  your job: each replica's state is shown; where a replica runs only on the node "
               "running it (reach it by name: veil-%.16s-<replica>)\n",
               json_string_value(json_object_get(job, "id")));
    else if (view && strcmp(view, "runner") == 0)
        printf("  another member's job (%s): this node sees only the replicas it runs\n", decided);
    else if (view && strcmp(view, "none") == 0)
        printf("  another member's job (%s): where it runs is shown only to the nodes running it\n",
               decided);
}

/* One anchor row: in full on the node running the replica, its existence
 * alone on the submitter's node (no root: the proof would pin the node). */
static void print_anchor(json_t *r)
{
    const char *root = json_string_value(json_object_get(r, "root"));
    if (!root) {
        printf("  anchor replica %" JSON_INTEGER_FORMAT ": epoch %" JSON_INTEGER_FORMAT
               " %s (root, transaction and proof on the node running it)\n",
               json_integer_value(json_object_get(r, "replica")),
               json_integer_value(json_object_get(r, "epoch")),
               json_is_true(json_object_get(r, "anchored")) ? "anchored" : "being anchored");
        return;
    }
    /* an empty tx hash: the anchor is being sent (intent recorded) */
    const char *tx = json_string_value(json_object_get(r, "tx_hash"));
    char *proof = json_dumps(json_object_get(r, "proof"), JSON_COMPACT);
    printf("  anchor replica %" JSON_INTEGER_FORMAT ": epoch %" JSON_INTEGER_FORMAT
           " root 0x%s tx %s\n    inclusion proof (siblings, leaf first): %s\n",
           json_integer_value(json_object_get(r, "replica")),
           json_integer_value(json_object_get(r, "epoch")), root, tx && tx[0] ? tx : "pending",
           proof ? proof : "[]");
    free(proof);
}

/* One round as veild holds it in memory (GET /v1/jobs/{id}'s "rounds",
 * trimmed to this node's view by the API). */
static void print_round(json_t *r)
{
    printf("  round replica %" JSON_INTEGER_FORMAT ": %s, attempt %" JSON_INTEGER_FORMAT
           " of %" JSON_INTEGER_FORMAT ", digests %" JSON_INTEGER_FORMAT
           " voted, %" JSON_INTEGER_FORMAT " agree, %" JSON_INTEGER_FORMAT " needed\n",
           json_integer_value(json_object_get(r, "replica")),
           json_string_value(json_object_get(r, "state")) ?: "?",
           json_integer_value(json_object_get(r, "attempt")),
           json_integer_value(json_object_get(r, "max_attempts")),
           json_integer_value(json_object_get(r, "voted")),
           json_integer_value(json_object_get(r, "largest")),
           json_integer_value(json_object_get(r, "needed")));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r, "schedulers"), i, p)
        printf("    scheduler %s\n", json_string_value(p) ?: "?");
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
        if (json_is_true(json_object_get(json_object_get(job, "spec"), "confidential")))
            printf("  request: confidential (encrypted by the submitter; nodes never see it)\n");
        print_view(job);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(job, "replica_states"), i, r)
        {
            if (!json_object_get(r, "state"))
                continue; /* a replica this node neither submitted nor runs */
            const char *node = json_string_value(json_object_get(r, "node"));
            const char *note = json_string_value(json_object_get(r, "note"));
            json_int_t attempts = json_integer_value(json_object_get(r, "attempts"));
            const char *state = json_string_value(json_object_get(r, "state"));
            printf("  replica %" JSON_INTEGER_FORMAT ": %s%s%s",
                   json_integer_value(json_object_get(r, "replica")), state ? state : "?",
                   node ? " on " : "", node ? node : "");
            if (state && strcmp(state, "awaiting_decryption") == 0)
                printf(" (scheduler results are in; waiting for the designated decryptor)");
            if (attempts > 1)
                printf(" [attempt %" JSON_INTEGER_FORMAT "]", attempts);
            if (note && note[0])
                printf(" - %s", note);
            printf("\n");
        }
        json_array_foreach(json_object_get(job, "anchors"), i, r) print_anchor(r);
        json_array_foreach(json_object_get(job, "rounds"), i, r) print_round(r);
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
                     "replica %lu of job %.16s... does not run on this node (its logs are "
                     "on the node running it)",
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
    .usage = "Usage: veil job run [-o json|text] [--confidential] FILE\n\n"
             "Validates FILE like 'veil job validate', then submits it to the local node's\n"
             "HTTP API (api.listen, token from api.token_file or <data_dir>/api.token) and\n"
             "prints the job ID (or the node's answer as JSON with -o json).\n"
             "--confidential (or 'confidential: true' in FILE) encrypts the resources and\n"
             "label constraints here under the cluster public key (zama.public_key_file):\n"
             "nodes schedule on the ciphertext and list the job's request as\n"
             "\"confidential\".\n",
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
             "Shows each replica's state and the job's anchors. Where a replica runs, its\n"
             "anchor (epoch, Merkle root, transaction) and proof are shown only on the node\n"
             "running it; its submitter's node shows whether it is placed, its state and\n"
             "notes, and that it is anchored. Of another member's job, a node shows only\n"
             "the replicas it runs, or else that the job exists and whether it is decided.\n"
             "-o json adds the spec, assignments and containers.\n",
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
