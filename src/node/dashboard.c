// SPDX-License-Identifier: Apache-2.0
/*
 * dashboard.c - the operators' web dashboard, server side (issue 19): which
 * embedded asset a URL names, and the dashboard's /v1 endpoints that need
 * only the store:
 *   POST /v1/jobs/validate  a job spec checked exactly as `veil job validate`
 *                           checks it (the same C validator, the same messages)
 *   GET  /v1/cluster        the chain's policy (through the chain views)
 *   POST /v1/anchors/verify {"job": ID, "replica": N} checked by the contract,
 *                           for a replica this node runs (api.c's view,
 *                           hook H4: the proof pins the chosen node)
 *   GET  /v1/network        this node's VeilNet overlay (address, peers, sessions, its replicas)
 * Every answer is JSON; nothing here holds a telemetry value or a secret.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dashboard.h"

const struct veil_dash_asset *veil_dashboard_asset(const char *url)
{
    if (strncmp(url, "/ui/", 4) != 0)
        return NULL;
    const char *name = url + 4;
    if (!*name)
        name = "index.html";
    for (size_t i = 0; i < veil_dash_assets_len; i++)
        if (strcmp(veil_dash_assets[i].name, name) == 0)
            return &veil_dash_assets[i];
    return NULL;
}

static unsigned error_reply(unsigned code, const char *msg, void **reply)
{
    *reply = json_pack("{s:s}", "error", msg);
    return code;
}

/* The spec validated as `veil job validate FILE` does: parsed strictly, then
 * its canonical form built. Errors are the validator's own messages. */
static unsigned validate_spec(const struct veil_dash_request *r, void **reply)
{
    if (r->body_len == 0)
        return error_reply(400, "empty body: expected a job spec (YAML or JSON)", reply);
    struct veil_job_spec spec;
    veil_err err = {0};
    if (veil_job_spec_parse(&spec, (const char *)r->body, r->body_len, "spec", &err) != 0) {
        *reply = json_pack("{s:b, s:s}", "valid", 0, "error", err.msg);
        return 400;
    }
    char *canon = veil_job_spec_canonical_json(&spec, &err);
    bool confidential = spec.confidential;
    veil_job_spec_free(&spec);
    if (!canon)
        return error_reply(400, err.msg, reply);
    json_t *v = json_loads(canon, 0, NULL);
    free(canon);
    if (!v)
        return error_reply(500, "canonical spec is not JSON", reply);
    *reply = json_pack("{s:b, s:b, s:o}", "valid", 1, "confidential", confidential, "spec", v);
    return 200;
}

/* Whether node r->self may see the anchor of replica `replica` of job
 * `id`: only the node running it does (its assignment row keeps "node" in
 * the job's view). The proof names the commitment, which pins the chosen
 * node, so the submitter's node is told only that the replica is anchored
 * (the job's view), and any other member nothing. */
static unsigned replica_visible(const struct veil_dash_request *r, const char *id, int replica,
                                void **reply)
{
    veil_err err = {0};
    json_t *job = veil_api_job_view(r->store, r->self ? r->self : "", id, &err);
    if (!job)
        return error_reply(err.code == VEIL_E_NOTFOUND ? 404 : 500, err.msg, reply);
    bool seen = false;
    json_t *row;
    size_t i;
    json_array_foreach(json_object_get(job, "assignments"), i, row) seen =
        seen || (json_integer_value(json_object_get(row, "replica")) == replica &&
                 json_is_string(json_object_get(row, "node")));
    json_decref(job);
    if (seen)
        return 200;
    return error_reply(404,
                       "the anchor of this replica is checked on the node running it (its "
                       "submitter's node sees only that it is anchored)",
                       reply);
}

/* Body {"job": "<64 hex>", "replica": N}. */
static unsigned verify_anchor(const struct veil_dash_request *r, void **reply)
{
    json_error_t jerr;
    json_t *b = json_loadb((const char *)r->body, r->body_len, 0, &jerr);
    const char *job = json_string_value(json_object_get(b, "job"));
    json_t *rep = json_object_get(b, "replica");
    bool ok = job && strlen(job) == 64 && strspn(job, "0123456789abcdef") == 64 &&
              json_is_integer(rep) && json_integer_value(rep) >= 0 &&
              json_integer_value(rep) < VEIL_JOB_MAX_REPLICAS;
    if (!ok) {
        json_decref(b);
        return error_reply(400,
                           "expected {\"job\": \"<64 lowercase hex>\", \"replica\": 0..."
                           "}",
                           reply);
    }
    char id[65];
    memcpy(id, job, sizeof id);
    int replica = (int)json_integer_value(rep);
    json_decref(b);
    if (!r->chain || !r->node_cfg || !r->store)
        return error_reply(503, "this node's API has no chain views (veild did not pass them)",
                           reply);
    unsigned seen = replica_visible(r, id, replica, reply);
    if (seen != 200)
        return seen;
    return r->chain(r->node_cfg, r->store, "verify", id, replica, reply);
}

static unsigned cluster_view(const struct veil_dash_request *r, void **reply)
{
    json_t *out = json_pack("{s:s}", "self", r->self ? r->self : "");
    json_t *policy = NULL;
    unsigned code = 503;
    if (r->chain && r->node_cfg)
        code = r->chain(r->node_cfg, r->store, "policy", NULL, 0, (void **)&policy);
    if (code == 200) {
        json_object_set_new(out, "policy", policy);
    } else {
        json_object_set_new(out, "policy", json_null());
        const char *why = policy ? json_string_value(json_object_get(policy, "error")) : NULL;
        json_object_set_new(out, "policy_error",
                            json_string(why ? why : "this node's API has no chain views"));
        json_decref(policy);
    }
    *reply = out;
    return 200;
}

/* VeilNet on this node: the overlay role's status (api_overlay.c), with only
 * the replicas this node runs (H4), or why there is none. */
static unsigned network_view(const struct veil_dash_request *r, void **reply)
{
    veil_err err = {0};
    json_t *o = r->node_cfg ? veil_api_overlay_status(r->node_cfg, r->self, &err) : NULL;
    if (!o) {
        *reply = json_pack("{s:b, s:s}", "running", 0, "reason",
                           r->node_cfg ? err.msg : "this node runs no overlay");
        return 200;
    }
    json_object_set_new(o, "running", json_true());
    *reply = o;
    return 200;
}

bool veil_dashboard_route(const struct veil_dash_request *r, unsigned *code, void **reply)
{
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (strcmp(r->url, "/v1/jobs/validate") == 0)
        *code = post ? validate_spec(r, reply) : error_reply(405, "use POST", reply);
    else if (strcmp(r->url, "/v1/anchors/verify") == 0)
        *code = post ? verify_anchor(r, reply) : error_reply(405, "use POST", reply);
    else if (strcmp(r->url, "/v1/cluster") == 0)
        *code = get ? cluster_view(r, reply) : error_reply(405, "use GET", reply);
    else if (strcmp(r->url, "/v1/network") == 0)
        *code = get ? network_view(r, reply) : error_reply(405, "use GET", reply);
    else
        return false;
    if (!*reply) {
        *reply = json_pack("{s:s}", "error", "out of memory");
        *code = 500;
    }
    return true;
}
