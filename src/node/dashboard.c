// SPDX-License-Identifier: Apache-2.0
/*
 * dashboard.c - the operators' web dashboard, server side (issue 19): which
 * embedded asset a URL names, and the dashboard's /v1 endpoints:
 *   POST /v1/jobs/validate  a job spec checked exactly as `veil job validate`
 *                           checks it (the same C validator, the same messages)
 *   GET  /v1/cluster        the chain's policy, as the dashboard cache last
 *                           read it (its age, `policy_stale`)
 *   GET  /v1/disputes       this cluster's disputes on the registry contract
 *   POST /v1/anchors/verify {"job": ID, "replica": N} checked by the contract
 *                           off the API's thread (202 until the answer is in),
 *                           for a replica this node runs (api.c's view, hook
 *                           H4: the proof pins the chosen node)
 *   GET  /v1/network        this node's VeilNet overlay (address, peers, sessions, its replicas)
 *   GET  /v1/jobs/{id}/replicas/{n}/logs[?tail=N]
 *                           the container status and the last lines of the
 *                           output of a replica this node runs (H4: 404 for
 *                           any other)
 * and the trimming of a job's rounds (veild's snapshot) to what this node
 * may see. Every answer is JSON; nothing here holds a telemetry value or a
 * secret, and nothing here waits on the chain.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (!r->chain || !r->node_cfg || !r->store || !r->cache)
        return error_reply(503, "this node's API has no chain views (veild did not pass them)",
                           reply);
    unsigned seen = replica_visible(r, id, replica, reply);
    if (seen != 200)
        return seen;
    return veil_dash_cache_verify(r->cache, id, replica, reply);
}

/* The policy as the cache last read it (never an RPC on this thread). */
static unsigned cluster_view(const struct veil_dash_request *r, void **reply)
{
    json_t *out = json_pack("{s:s}", "self", r->self ? r->self : "");
    if (out)
        veil_dash_cache_policy(r->chain && r->node_cfg ? r->cache : NULL, out);
    *reply = out;
    return 200;
}

static unsigned disputes_view(const struct veil_dash_request *r, void **reply)
{
    *reply = veil_dash_cache_disputes(r->chain && r->node_cfg ? r->cache : NULL);
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

/* ---- a replica's container and output ------------------------------------ */

#define LOGS_TAIL_DEFAULT 100
#define LOGS_TAIL_MAX     1000
#define LOGS_BYTES_MAX    (64 * 1024) /* read from the end of each stream */
#define LOGS_PATH_MAX     4200

static bool is_logs_url(const char *url)
{
    size_t n = strlen(url);
    return strncmp(url, "/v1/jobs/", 9) == 0 && n > 5 && strcmp(url + n - 5, "/logs") == 0;
}

/* "/v1/jobs/<64 hex>/replicas/<n>/logs", n < VEIL_JOB_MAX_REPLICAS. */
static bool parse_logs_url(const char *url, char id[65], int *replica)
{
    const char *p = url + 9;
    if (strspn(p, "0123456789abcdef") != 64 || strncmp(p + 64, "/replicas/", 10) != 0)
        return false;
    memcpy(id, p, 64);
    id[64] = '\0';
    p += 74;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 4 || (digits > 1 && p[0] == '0') ||
        strcmp(p + digits, "/logs") != 0)
        return false;
    *replica = atoi(p);
    return *replica < VEIL_JOB_MAX_REPLICAS;
}

/* ?tail=N: 1..LOGS_TAIL_MAX lines (absent: the default). */
static int parse_tail(const char *text, int *lines)
{
    *lines = LOGS_TAIL_DEFAULT;
    if (!text)
        return 0;
    size_t n = strspn(text, "0123456789");
    if (n == 0 || n > 4 || text[n] != '\0')
        return -1;
    *lines = atoi(text);
    return *lines >= 1 && *lines <= LOGS_TAIL_MAX ? 0 : -1;
}

/* Text as a JSON string; output that is not UTF-8 has its high bytes
 * shown as '?'. */
static json_t *text_json(char *buf, size_t n)
{
    json_t *s = json_stringn(buf, n);
    if (s)
        return s;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] >= 0x80 || buf[i] == '\0')
            buf[i] = '?';
    return json_stringn(buf, n);
}

/* The last `lines` lines of at most the last LOGS_BYTES_MAX bytes of
 * `path` ("" when it does not exist); *cut when something was left out. */
static json_t *tail_file(const char *path, int lines, bool *cut)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return json_string("");
    }
    off_t from = st.st_size > LOGS_BYTES_MAX ? st.st_size - LOGS_BYTES_MAX : 0;
    char *buf = malloc(LOGS_BYTES_MAX);
    ssize_t got = buf ? pread(fd, buf, LOGS_BYTES_MAX, from) : -1;
    close(fd);
    if (got < 0) {
        free(buf);
        return NULL;
    }
    size_t start = 0, end = (size_t)got;
    int seen = 0;
    for (size_t i = end; i > 0; i--)
        if (buf[i - 1] == '\n' && i != end && ++seen == lines) {
            start = i;
            break;
        }
    *cut = *cut || from > 0 || start > 0;
    json_t *out = text_json(buf + start, end - start);
    free(buf);
    return out;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Whether this node runs replica `replica` of job `id` now: the replica's
 * row in its view names this node (hook H4: only the runner sees that). */
static bool runs_here(const struct veil_dash_request *r, const char *id, int replica, veil_err *err)
{
    json_t *job = veil_api_job_view(r->store, r->self ? r->self : "", id, err), *row;
    size_t i;
    bool here = false;
    json_array_foreach(json_object_get(job, "replica_states"), i, row) here =
        here || (json_integer_value(json_object_get(row, "replica")) == replica && r->self &&
                 *r->self && str_eq(json_string_value(json_object_get(row, "node")), r->self));
    json_decref(job);
    return here;
}

/* GET /v1/jobs/{id}/replicas/{n}/logs: the container's status and the end
 * of its own output, for a replica this node runs. */
static unsigned replica_logs(const struct veil_dash_request *r, void **reply)
{
    char id[65];
    int replica = 0, lines = 0;
    if (!parse_logs_url(r->url, id, &replica))
        return error_reply(400, "expected /v1/jobs/<64 lowercase hex>/replicas/<n>/logs", reply);
    if (parse_tail(r->tail, &lines) != 0)
        return error_reply(400, "tail: a number of lines, 1..1000", reply);
    veil_err err = {0};
    if (!r->store || !r->node_cfg)
        return error_reply(503, "this node's API has no store or config", reply);
    if (!runs_here(r, id, replica, &err))
        return error_reply(err.code == VEIL_E_NOTFOUND ? 404
                           : err.code                  ? 500
                                                       : 404,
                           err.code ? err.msg
                                    : "this replica does not run on this node (its logs are "
                                      "served by the node running it)",
                           reply);
    if (!r->chain)
        return error_reply(503, "this node's API has no runtime view (veild did not pass it)",
                           reply);
    json_t *ct = NULL;
    unsigned code = r->chain(r->node_cfg, r->store, "container", id, replica, (void **)&ct);
    const char *dir = json_string_value(json_object_get(ct, "dir"));
    if (code != 200 || !dir) {
        *reply = ct ? ct : json_pack("{s:s}", "error", "no container view");
        return code == 200 ? 500 : code;
    }
    bool cut = false;
    char path[LOGS_PATH_MAX];
    snprintf(path, sizeof path, "%s/stdout.log", dir);
    json_t *out = tail_file(path, lines, &cut);
    snprintf(path, sizeof path, "%s/stderr.log", dir);
    json_t *errs = tail_file(path, lines, &cut);
    json_t *info = json_incref(json_object_get(ct, "container"));
    json_decref(ct);
    *reply =
        json_pack("{s:s, s:i, s:i, s:o*, s:o*, s:o*, s:b}", "job", id, "replica", replica, "tail",
                  lines, "container", info, "stdout", out, "stderr", errs, "truncated", cut);
    return 200;
}

/* ---- a job's rounds, trimmed ------------------------------------------------ */

static const char *replica_node(json_t *job, json_int_t replica)
{
    json_t *row;
    size_t i;
    json_array_foreach(json_object_get(job, "replica_states"), i, row)
    {
        if (json_integer_value(json_object_get(row, "replica")) == replica)
            return json_string_value(json_object_get(row, "node"));
    }
    return NULL;
}

void *veil_dash_job_rounds(struct veil_dash_cache *c, veil_store *store, const char *self,
                           const char *id_hex, veil_err *err)
{
    json_t *job = veil_store_job_json(store, id_hex, err);
    if (!job)
        return NULL;
    const char *submitter = json_string_value(json_object_get(job, "submitter"));
    json_t *rounds = veil_dash_cache_job_rounds(c, id_hex);
    for (size_t i = 0; rounds && i < json_array_size(rounds);) {
        json_t *row = json_array_get(rounds, i);
        const char *node = replica_node(job, json_integer_value(json_object_get(row, "replica")));
        enum veil_privacy_view v =
            veil_api_view_for(self ? self : "", submitter ? submitter : "", node);
        if (v == VEIL_PRIVACY_VIEW_NONE) {
            json_array_remove(rounds, i);
            continue;
        }
        if (v == VEIL_PRIVACY_VIEW_PLACED)
            json_object_del(row, "agreed_digest");
        i++;
    }
    json_decref(job);
    if (!rounds)
        veil_err_set(err, VEIL_E_NOMEM, "job %.16s: out of memory", id_hex);
    return rounds;
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
    else if (strcmp(r->url, "/v1/disputes") == 0)
        *code = get ? disputes_view(r, reply) : error_reply(405, "use GET", reply);
    else if (is_logs_url(r->url))
        *code = get ? replica_logs(r, reply) : error_reply(405, "use GET", reply);
    else
        return false;
    if (!*reply) {
        *reply = json_pack("{s:s}", "error", "out of memory");
        *code = 500;
    }
    return true;
}
