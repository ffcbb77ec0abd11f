// SPDX-License-Identifier: Apache-2.0
/*
 * api.c - the node's local HTTP JSON API (libmicrohttpd), served from the
 * state store: GET /v1/nodes, /v1/jobs, /v1/jobs/{id}, /v1/assignments,
 * /v1/anchors, POST /v1/jobs (a job spec, YAML or JSON, validated) and
 * GET /metrics (Prometheus text exposition format 0.0.4); the dashboard's
 * pages under /ui/ and its endpoints (dashboard.c, docs/DASHBOARD.md).
 *
 * What it shows of a job depends on who this node is to the job (hook H4 of
 * docs/THREAT_MODEL.md, the rule in privacy.c): the submitter's node sees
 * its own jobs in full (placed, where, state); a node that runs a replica
 * sees that replica; any other node sees that the job exists and whether it
 * is decided, never the chosen node, its state history or its assignments.
 *
 * It binds to 127.0.0.1 only and every request but the dashboard's static
 * files must carry "Authorization: Bearer <token>", the token being the content of a 0600
 * file created on first start from the CSPRNG. Token comparison hashes both
 * sides with BLAKE2b and compares the digests in constant time, so neither
 * the content nor the length of the token leaks through timing.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include <veil/node.h>
#include <veil/privacy.h>

#include "dashboard.h"

#define API_BODY_MAX  VEIL_JOB_SPEC_MAX_BYTES
#define API_TOKEN_HEX 64

/* Status codes counted for /metrics. */
static const unsigned counted_codes[] = {200, 201, 400, 401, 404, 405, 409, 413, 500};
#define N_CODES (sizeof counted_codes / sizeof counted_codes[0])

struct veil_api {
    struct MHD_Daemon *daemon;
    veil_store *store;
    uint8_t token_hash[32];
    char submitter[96];
    uint16_t port;
    const veil_config *node_cfg; /* the dashboard's chain views (optional) */
    veil_api_dash_chain_fn dash_chain;
    struct veil_dash_cache *dash; /* chain views off this thread, veild's snapshot */
    _Atomic uint64_t requests[N_CODES];
    _Atomic uint64_t telemetry_published;
};

struct request {
    veil_buf body;
    bool too_large;
};

int veil_api_token_load_or_create(const char *path, char token[65], veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    veil_err rerr = {0};
    if (veil_key_file_read(path, 1024, &data, &len, &rerr) == 0) {
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
            len--;
        bool ok =
            len == API_TOKEN_HEX && strspn((const char *)data, "0123456789abcdef") >= API_TOKEN_HEX;
        if (ok) {
            memcpy(token, data, API_TOKEN_HEX);
            token[API_TOKEN_HEX] = '\0';
        }
        veil_memzero(data, len);
        free(data);
        if (!ok)
            return veil_err_set(err, VEIL_E_PARSE, "%s: not an API token (64 hex digits)", path);
        return 0;
    }
    if (rerr.code != VEIL_E_NOTFOUND) {
        if (err)
            *err = rerr;
        return -1;
    }
    uint8_t raw[32];
    veil_random_bytes(raw, sizeof raw);
    veil_hex_encode(token, 65, raw, sizeof raw);
    veil_memzero(raw, sizeof raw);
    char line[API_TOKEN_HEX + 1];
    memcpy(line, token, API_TOKEN_HEX);
    line[API_TOKEN_HEX] = '\n';
    int rc = veil_key_file_write(path, line, sizeof line, err);
    veil_memzero(line, sizeof line);
    return rc;
}

static void count_request(veil_api *api, unsigned code)
{
    for (size_t i = 0; i < N_CODES; i++)
        if (counted_codes[i] == code)
            atomic_fetch_add(&api->requests[i], 1);
}

static enum MHD_Result send_text(veil_api *api, struct MHD_Connection *c, unsigned code,
                                 const char *content_type, char *text /* freed */)
{
    if (!text)
        return MHD_NO; /* out of memory: drop the connection */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"veil\"");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    count_request(api, code);
    return ret;
}

static enum MHD_Result send_json(veil_api *api, struct MHD_Connection *c, unsigned code,
                                 json_t *value /* stolen */)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(value);
    if (!text)
        return send_text(api, c, 500, "application/json", strdup("{\"error\":\"internal error\"}"));
    size_t n = strlen(text);
    char *nl = realloc(text, n + 2);
    if (nl) {
        nl[n] = '\n';
        nl[n + 1] = '\0';
        text = nl;
    }
    return send_text(api, c, code, "application/json", text);
}

static enum MHD_Result send_error(veil_api *api, struct MHD_Connection *c, unsigned code,
                                  const char *msg)
{
    return send_json(api, c, code, json_pack("{s:s}", "error", msg));
}

static bool authorized(veil_api *api, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    const char *tok = h + 7;
    uint8_t got[32];
    crypto_generichash(got, sizeof got, (const uint8_t *)tok, strlen(tok), NULL, 0);
    return veil_memeq_ct(got, api->token_hash, sizeof got);
}

static uint64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0; /* minus the directory stream itself */
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static json_t *job_view(veil_store *store, const char *self, const char *id, veil_err *err);

/* Replicas by state over those this node may see (hook H4): a count over
 * every stored replica would tell how other members' jobs fared. */
static int count_visible_replicas(veil_store *store, const char *self,
                                  uint64_t counts[VEIL_REPLICA_STATE_COUNT], veil_err *err)
{
    memset(counts, 0, VEIL_REPLICA_STATE_COUNT * sizeof counts[0]);
    json_t *jobs = veil_store_list_json(store, "jobs", err), *row, *st;
    size_t i, k;
    int rc = jobs ? 0 : -1;
    json_array_foreach(jobs, i, row)
    {
        json_t *job =
            rc == 0 ? job_view(store, self, json_string_value(json_object_get(row, "id")), err)
                    : NULL;
        if (!job)
            rc = -1;
        json_array_foreach(json_object_get(job, "replica_states"), k, st)
        {
            const char *name = json_string_value(json_object_get(st, "state"));
            for (int s = 0; name && s < VEIL_REPLICA_STATE_COUNT; s++)
                if (strcmp(name, veil_replica_state_name((enum veil_replica_state)s)) == 0)
                    counts[s]++;
        }
        json_decref(job);
    }
    json_decref(jobs);
    return rc;
}

static enum MHD_Result serve_metrics(veil_api *api, struct MHD_Connection *c)
{
    veil_buf b;
    veil_buf_init(&b);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    veil_buf_printf(&b,
                    "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                    "seconds.\n# TYPE process_cpu_seconds_total counter\n"
                    "process_cpu_seconds_total %.6f\n",
                    cpu);
    veil_buf_printf(&b,
                    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                    "# TYPE process_resident_memory_bytes gauge\n"
                    "process_resident_memory_bytes %llu\n",
                    (unsigned long long)rss_bytes());
    veil_buf_printf(&b,
                    "# HELP process_open_fds Number of open file descriptors.\n"
                    "# TYPE process_open_fds gauge\nprocess_open_fds %llu\n",
                    (unsigned long long)count_fds());
    uint64_t counts[VEIL_REPLICA_STATE_COUNT], jobs = 0;
    veil_err err = {0};
    if (count_visible_replicas(api->store, api->submitter, counts, &err) != 0 ||
        veil_store_count(api->store, "jobs", &jobs, &err) != 0) {
        veil_buf_free(&b);
        return send_error(api, c, 500, err.msg);
    }
    veil_buf_printf(&b,
                    "# HELP veil_jobs Jobs known to this node.\n# TYPE veil_jobs gauge\n"
                    "veil_jobs %llu\n",
                    (unsigned long long)jobs);
    veil_buf_printf(&b, "# HELP veil_replicas Job replicas this node may see (its own jobs', "
                        "the ones it runs) by state.\n"
                        "# TYPE veil_replicas gauge\n");
    for (int s = 0; s < VEIL_REPLICA_STATE_COUNT; s++)
        veil_buf_printf(&b, "veil_replicas{state=\"%s\"} %llu\n",
                        veil_replica_state_name((enum veil_replica_state)s),
                        (unsigned long long)counts[s]);
    veil_buf_printf(&b,
                    "# HELP veil_telemetry_epochs_published_total Encrypted telemetry epochs "
                    "this node published.\n# TYPE veil_telemetry_epochs_published_total "
                    "counter\nveil_telemetry_epochs_published_total %llu\n",
                    (unsigned long long)atomic_load(&api->telemetry_published));
    veil_buf_printf(&b, "# HELP veil_http_requests_total Local API requests by status code.\n"
                        "# TYPE veil_http_requests_total counter\n");
    for (size_t i = 0; i < N_CODES; i++)
        veil_buf_printf(&b, "veil_http_requests_total{code=\"%u\"} %llu\n", counted_codes[i],
                        (unsigned long long)atomic_load(&api->requests[i]));
    veil_buf_put_u8(&b, 0);
    if (!veil_buf_ok(&b)) {
        veil_buf_free(&b);
        return send_error(api, c, 500, "out of memory");
    }
    /* The response owns the text. */
    char *text = (char *)b.data;
    b.data = NULL;
    return send_text(api, c, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

/* A confidential job arrives as {"spec": <redacted spec>,
 * "request_ciphertext": "<base64url>"}: the request is encrypted by the
 * submitter (`veil job run`), so this node never sees its values. Returns 1
 * when the body is such an envelope (then *spec_text and *ct are malloc'ed),
 * 0 when it is a plain spec, -1 with err on a malformed envelope. */
static int confidential_envelope(const uint8_t *body, size_t len, char **spec_text, uint8_t **ct,
                                 size_t *ct_len, veil_err *err)
{
    *spec_text = NULL;
    *ct = NULL;
    *ct_len = 0;
    json_t *root = json_loadb((const char *)body, len, 0, NULL);
    if (!json_is_object(root) || !json_object_get(root, "request_ciphertext")) {
        json_decref(root);
        return 0;
    }
    int rc = -1;
    const char *b64 = json_string_value(json_object_get(root, "request_ciphertext"));
    json_t *spec = json_object_get(root, "spec");
    if (!b64 || !json_is_object(spec) || json_object_size(root) != 2) {
        veil_err_set(err, VEIL_E_INVALID,
                     "confidential job: expected {\"spec\": {...}, \"request_ciphertext\": "
                     "\"<base64url>\"}");
        goto out;
    }
    size_t n = strlen(b64);
    if (n == 0 || n / 4 * 3 > VEIL_MSG_MAX_BYTES) {
        veil_err_set(err, VEIL_E_RANGE,
                     "confidential job: request_ciphertext empty or over %d bytes",
                     VEIL_MSG_MAX_BYTES);
        goto out;
    }
    *ct = malloc(n / 4 * 3 + 3);
    *spec_text = json_dumps(spec, JSON_COMPACT);
    if (!*ct || !*spec_text) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    long m = veil_base64url_decode(*ct, n / 4 * 3 + 3, b64, n, err);
    if (m <= 0) {
        veil_err_wrap(err, "confidential job: request_ciphertext");
        goto out;
    }
    *ct_len = (size_t)m;
    rc = 1;
out:
    if (rc < 0) {
        free(*ct);
        free(*spec_text);
        *ct = NULL;
        *spec_text = NULL;
    }
    json_decref(root);
    return rc;
}

static enum MHD_Result submit_job(veil_api *api, struct MHD_Connection *c, struct request *req)
{
    struct veil_job_spec spec;
    veil_err err = {0};
    if (req->body.len == 0)
        return send_error(api, c, 400, "empty body: expected a job spec (YAML or JSON)");
    char *spec_text = NULL;
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    int env = confidential_envelope(req->body.data, req->body.len, &spec_text, &ct, &ct_len, &err);
    if (env < 0)
        return send_error(api, c, 400, err.msg);
    int prc = env ? veil_job_spec_parse(&spec, spec_text, strlen(spec_text), "request", &err)
                  : veil_job_spec_parse(&spec, (const char *)req->body.data, req->body.len,
                                        "request", &err);
    free(spec_text);
    if (prc != 0) {
        free(ct);
        return send_error(api, c, 400, err.msg);
    }
    /* A node never takes a confidential request in plaintext, and a redacted
     * spec must come with exactly the ciphertext it commits to. */
    uint8_t digest[32];
    if (ct)
        veil_job_request_digest(digest, ct, ct_len);
    const char *refusal =
        spec.confidential && !spec.redacted
            ? "a confidential job's request is encrypted by the submitter: use 'veil job run' "
              "(this node must never receive its resources or constraints in plaintext)"
        : spec.redacted && !ct ? "a redacted confidential spec needs its request_ciphertext"
        : !spec.redacted && ct ? "request_ciphertext given for a job that is not confidential"
        : ct && !veil_memeq_ct(digest, spec.request_digest, 32)
            ? "request_ciphertext does not match the spec's request_digest"
            : NULL;
    if (refusal) {
        free(ct);
        veil_job_spec_free(&spec);
        return send_error(api, c, 400, refusal);
    }
    uint16_t quantized[VEIL_RES_COUNT];
    if (veil_telemetry_quantize_request(&spec, quantized, &err) != 0) {
        veil_job_spec_free(&spec);
        return send_error(api, c, 400, err.msg);
    }
    uint8_t nonce[VEIL_JOB_NONCE_LEN], id[32];
    veil_random_bytes(nonce, sizeof nonce);
    char *canon = veil_job_spec_canonical_json(&spec, &err);
    if (!canon || veil_job_id(id, &spec, (const uint8_t *)api->submitter, strlen(api->submitter),
                              nonce, &err) != 0) {
        free(canon);
        free(ct);
        veil_job_spec_free(&spec);
        return send_error(api, c, 500, err.msg);
    }
    char id_hex[65], nonce_hex[2 * VEIL_JOB_NONCE_LEN + 1];
    veil_hex_encode(id_hex, sizeof id_hex, id, sizeof id);
    veil_hex_encode(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
    int rc = veil_store_job_insert_ct(api->store, id_hex, spec.name, canon, api->submitter,
                                      nonce_hex, spec.replicas, ct, ct_len, &err);
    free(ct);
    veil_job_spec_free(&spec);
    if (rc != 0) {
        free(canon);
        return send_error(api, c, err.code == VEIL_E_EXISTS ? 409 : 500, err.msg);
    }
    json_t *spec_json = json_loads(canon, 0, NULL);
    free(canon);
    veil_log(VEIL_LOG_INFO, "api", "job submitted", "job=%s", id_hex);
    return send_json(api, c, 201,
                     json_pack("{s:s, s:s, s:s, s:o}", "id", id_hex, "nonce", nonce_hex,
                               "submitter", api->submitter, "spec",
                               spec_json ? spec_json : json_null()));
}

/* The dashboard's pages are public static files (no data, no token): the
 * token reaches the page in the URL fragment, never sent to a server, and
 * the page sends it as a bearer token with every /v1 request. */
static enum MHD_Result serve_asset(veil_api *api, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Location", "/ui/");
        enum MHD_Result ret = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ret;
    }
    const struct veil_dash_asset *a = veil_dashboard_asset(url);
    if (!a)
        return send_error(api, c, 404, "no such dashboard file");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", a->content_type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                            "base-uri 'none'; frame-ancestors 'none'; form-action 'none'");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    count_request(api, 200);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* H4: each job as this node may see it.                                     */
/* ------------------------------------------------------------------------ */

/* This node's view of one replica placed on `chosen` ("" or NULL: none),
 * the rule of veil_privacy_view_of: the runner FULL, the submitter PLACED
 * (placed or not, never where), anyone else NONE. An unschedulable row is
 * FULL to its submitter: with no node chosen, its commitment, signature
 * and digest pin nothing the submitter does not know, and its anchor stays
 * checkable. */
static enum veil_privacy_view view_for(const char *self, const char *submitter, const char *chosen)
{
    const char *c = chosen ? chosen : "";
    enum veil_privacy_view v =
        veil_privacy_view_of((const uint8_t *)self, strlen(self), (const uint8_t *)submitter,
                             strlen(submitter), (const uint8_t *)c, strlen(c));
    return v == VEIL_PRIVACY_VIEW_PLACED && !c[0] ? VEIL_PRIVACY_VIEW_FULL : v;
}

enum veil_privacy_view veil_api_view_for(const char *self, const char *submitter,
                                         const char *chosen)
{
    return view_for(self, submitter, chosen);
}

static const char *str_field(json_t *row, const char *key)
{
    const char *v = json_string_value(json_object_get(row, key));
    return v ? v : "";
}

/* One assignment row under view `v`, with "placed" (a node was chosen: the
 * one bit the submitter is owed). PLACED also loses output_digest: with the
 * job, replica and epoch it would let the submitter recompute each member's
 * unsalted commitment and find it in /v1/anchors. Returns as
 * veil_privacy_redact_assignment. */
static int trim_assignment(json_t *row, enum veil_privacy_view v)
{
    bool placed = str_field(row, "node")[0] != '\0';
    if (v == VEIL_PRIVACY_VIEW_PLACED)
        (void)json_object_del(row, "output_digest");
    if (v != VEIL_PRIVACY_VIEW_NONE &&
        json_object_set_new(row, "placed", json_boolean(placed)) != 0)
        return -1;
    return veil_privacy_redact_assignment(row, v);
}

/* Drops the assignment rows of `rows` that `self` must not see and trims
 * the others (trim_assignment). The job's submitter is `submitter`, or,
 * when that is NULL, looked up by job_id in `by_job`. */
static int trim_assignments(json_t *rows, const char *self, const char *submitter, json_t *by_job)
{
    for (size_t i = 0; i < json_array_size(rows);) {
        json_t *row = json_array_get(rows, i);
        const char *sub =
            submitter ? submitter
                      : json_string_value(json_object_get(by_job, str_field(row, "job_id")));
        int r = trim_assignment(row, view_for(self, sub ? sub : "", str_field(row, "node")));
        if (r < 0 || (r == 1 && json_array_remove(rows, i) != 0))
            return -1;
        if (r == 0)
            i++;
    }
    return 0;
}

/* Keeps the container rows of `rows` whose replica this node runs. */
static int keep_replicas(json_t *rows, const bool *runs, size_t n)
{
    for (size_t i = 0; i < json_array_size(rows);) {
        json_int_t r = json_integer_value(json_object_get(json_array_get(rows, i), "replica"));
        if (r >= 0 && (size_t)r < n && runs[r])
            i++;
        else if (json_array_remove(rows, i) != 0)
            return -1;
    }
    return 0;
}

/* The job's anchors rebuilt by commitment, one per assignment row of
 * `asg` (not trimmed yet) that `by_com` (GET /v1/anchors' rows by
 * commitment; NULL: none) holds, as `self` may see it: FULL the store's
 * anchor row (replica, epoch, root, tx_hash, proof), PLACED its replica,
 * epoch and "anchored" (its transaction is out) alone (root, transaction
 * and proof would pin the commitment, and so the node), NONE nothing. The
 * store's own anchor rows of a job carry no commitment, so a rescheduled
 * replica's anchors could not be told apart there. */
static json_t *job_anchors(json_t *asg, json_t *by_com, const char *self, const char *submitter)
{
    json_t *out = json_array(), *row;
    size_t i;
    json_array_foreach(by_com && out ? asg : NULL, i, row)
    {
        json_t *an = json_object_get(by_com, str_field(row, "commitment"));
        enum veil_privacy_view v = view_for(self, submitter, str_field(row, "node"));
        if (!an || v == VEIL_PRIVACY_VIEW_NONE)
            continue;
        json_t *rep = json_object_get(row, "replica");
        json_t *keep =
            v == VEIL_PRIVACY_VIEW_FULL
                ? json_pack("{s:O, s:O, s:O, s:O, s:O}", "replica", rep, "epoch",
                            json_object_get(an, "epoch"), "root", json_object_get(an, "root"),
                            "tx_hash", json_object_get(an, "tx_hash"), "proof",
                            json_object_get(an, "proof"))
                : json_pack("{s:O, s:O, s:b}", "replica", rep, "epoch",
                            json_object_get(an, "epoch"), "anchored",
                            str_field(an, "tx_hash")[0] != '\0');
        if (!keep || json_array_append_new(out, keep) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* GET /v1/anchors' rows by commitment. */
static json_t *anchors_by_commitment(veil_store *store, veil_err *err)
{
    json_t *all = veil_store_list_json(store, "anchors", err), *by = json_object(), *row;
    size_t i;
    int rc = all && by ? 0 : -1;
    json_array_foreach(rc == 0 ? all : NULL, i,
                       row) if (json_object_set(by, str_field(row, "commitment"), row) != 0) rc =
        -1;
    json_decref(all);
    if (rc != 0) {
        json_decref(by);
        if (all)
            veil_err_set(err, VEIL_E_NOMEM, "anchors: out of memory");
        return NULL;
    }
    return by;
}

/* Trims one job (veil_store_job_json's object) to this node's view and adds
 * "view" ("submitter", "runner" or "none") and "decided". The submitter's
 * node sees each replica PLACED (state, attempts, notes, that it is
 * anchored; never the node, signature or commitment) unless it runs that
 * replica itself; a runner sees its replicas FULL, the rest NONE. */
static int redact_job(json_t *job, const char *self, json_t *by_com)
{
    const char *submitter = str_field(job, "submitter");
    json_t *states = json_object_get(job, "replica_states");
    size_t n = json_array_size(states);
    bool decided = true, any = false;
    bool *runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs)
        return -1;
    bool mine = strcmp(submitter, self) == 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *row = json_array_get(states, i);
        decided = decided && !veil_replica_state_name_undecided(str_field(row, "state"));
        enum veil_privacy_view v = view_for(self, submitter, str_field(row, "node"));
        runs[i] = v == VEIL_PRIVACY_VIEW_FULL;
        any = any || (runs[i] && str_field(row, "node")[0]);
        rc = veil_privacy_redact_replica_state(row, v);
    }
    json_t *anchors =
        rc == 0 ? job_anchors(json_object_get(job, "assignments"), by_com, self, submitter) : NULL;
    if (!anchors || json_object_set_new(job, "anchors", anchors) != 0 ||
        trim_assignments(json_object_get(job, "assignments"), self, submitter, NULL) != 0 ||
        (!mine && keep_replicas(json_object_get(job, "containers"), runs, n) != 0))
        rc = -1;
    free(runs);
    const char *view = mine ? "submitter" : any ? "runner" : "none";
    if (rc != 0 || json_object_set_new(job, "view", json_string(view)) != 0 ||
        json_object_set_new(job, "decided", json_boolean(decided)) != 0)
        return -1;
    return 0;
}

/* The job as this node may see it; with `anchors` its anchors too (GET
 * /v1/jobs/{id}), else an empty list (the jobs list and /metrics need
 * none). */
static json_t *job_view_of(veil_store *store, const char *self, const char *id, bool anchors,
                           veil_err *err)
{
    json_t *by_com = anchors ? anchors_by_commitment(store, err) : NULL;
    if (anchors && !by_com)
        return NULL;
    json_t *job = veil_store_job_json(store, id, err);
    if (job && redact_job(job, self, by_com) != 0) {
        json_decref(job);
        job = NULL;
        veil_err_set(err, VEIL_E_NOMEM, "job %.16s: out of memory trimming its view", id);
    }
    json_decref(by_com);
    return job;
}

static json_t *job_view(veil_store *store, const char *self, const char *id, veil_err *err)
{
    return job_view_of(store, self, id, false, err);
}

void *veil_api_job_view(veil_store *store, const char *self, const char *id_hex, veil_err *err)
{
    return job_view_of(store, self, id_hex, true, err);
}

/* A row of GET /v1/jobs for a job this node did not submit: its state is
 * only decided/undecided, "running" counts the replicas running here. */
static int redact_job_row(veil_store *store, const char *self, json_t *row, veil_err *err)
{
    if (strcmp(str_field(row, "submitter"), self) == 0)
        return json_object_set_new(row, "view", json_string("submitter")) == 0
                   ? 0
                   : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    json_t *job = job_view(store, self, str_field(row, "id"), err);
    if (!job)
        return -1;
    json_int_t running = 0;
    json_t *st;
    size_t i;
    json_array_foreach(json_object_get(job, "replica_states"), i, st) running +=
        strcmp(str_field(st, "state"), "running") == 0;
    bool decided = json_is_true(json_object_get(job, "decided"));
    int rc = json_object_set_new(row, "state", json_string(decided ? "decided" : "undecided")) |
             json_object_set_new(row, "running", json_integer(running)) |
             json_object_set(row, "view", json_object_get(job, "view"));
    json_decref(job);
    return rc == 0 ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

/* The assignment list: each row trimmed by its job's submitter. */
static int trim_assignment_list(veil_store *store, const char *self, json_t *list, veil_err *err)
{
    json_t *jobs = veil_store_list_json(store, "jobs", err), *by_job = json_object(), *row;
    size_t i;
    int rc = jobs && by_job ? 0 : -1;
    json_array_foreach(rc == 0 ? jobs : NULL, i,
                       row) if (json_object_set(by_job, str_field(row, "id"),
                                                json_object_get(row, "submitter")) != 0) rc = -1;
    if (rc == 0 && trim_assignments(list, self, NULL, by_job) != 0)
        rc = -1;
    if (rc != 0 && jobs)
        veil_err_set(err, VEIL_E_NOMEM, "assignments: out of memory trimming the view");
    json_decref(jobs);
    json_decref(by_job);
    return rc;
}

/* GET /v1/{nodes,jobs,assignments,anchors} as this node may see them (the
 * nodes and the anchors' commitments, hashes, need no trimming). */
static json_t *collection_view(veil_store *store, const char *self, const char *what, veil_err *err)
{
    json_t *list = veil_store_list_json(store, what, err), *row;
    if (!list)
        return NULL;
    size_t i;
    int rc = 0;
    if (strcmp(what, "jobs") == 0)
        json_array_foreach(list, i, row) if (rc == 0) rc = redact_job_row(store, self, row, err);
    if (strcmp(what, "assignments") == 0)
        rc = trim_assignment_list(store, self, list, err);
    if (rc != 0) {
        json_decref(list);
        return NULL;
    }
    return list;
}

static bool is_job_id(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    veil_api *api = cls;
    struct request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        veil_buf_init(&req->body);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (req->body.len + *upload_data_size > API_BODY_MAX)
            req->too_large = true;
        else
            veil_buf_put(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (get && (strcmp(url, "/") == 0 || strncmp(url, "/ui", 3) == 0))
        return serve_asset(api, c, url);
    if (!authorized(api, c))
        return send_error(api, c, 401, "missing or wrong bearer token");
    if (req->too_large)
        return send_error(api, c, 413, "request body larger than 64 KiB");
    if (!veil_buf_ok(&req->body))
        return send_error(api, c, 500, "out of memory");
    struct veil_dash_request dr = {
        .store = api->store,
        .node_cfg = api->node_cfg,
        .chain = api->dash_chain,
        .cache = api->dash,
        .self = api->submitter,
        .method = method,
        .url = url,
        .tail = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tail"),
        .body = req->body.data,
        .body_len = req->body.len};
    unsigned dcode = 0;
    void *dreply = NULL;
    if (veil_dashboard_route(&dr, &dcode, &dreply))
        return send_json(api, c, dcode, dreply);

    if (strcmp(url, "/metrics") == 0)
        return get ? serve_metrics(api, c) : send_error(api, c, 405, "use GET");
    if (strcmp(url, "/v1/jobs") == 0) {
        if (post)
            return submit_job(api, c, req);
        if (!get)
            return send_error(api, c, 405, "use GET or POST");
    }
    static const char *const collections[] = {"nodes", "jobs", "assignments", "anchors"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(collections); i++) {
        char path[32];
        snprintf(path, sizeof path, "/v1/%s", collections[i]);
        if (strcmp(url, path) != 0)
            continue;
        if (!get)
            return send_error(api, c, 405, "use GET");
        veil_err err = {0};
        json_t *list = collection_view(api->store, api->submitter, collections[i], &err);
        if (!list)
            return send_error(api, c, 500, err.msg);
        if (strcmp(collections[i], "nodes") == 0) /* + last telemetry size (veild's snapshot) */
            veil_dash_cache_annotate_nodes(api->dash, list);
        return send_json(api, c, 200, json_pack("{s:o}", collections[i], list));
    }
    if (strncmp(url, "/v1/jobs/", 9) == 0) {
        if (!get)
            return send_error(api, c, 405, "use GET");
        const char *id = url + 9;
        if (!is_job_id(id))
            return send_error(api, c, 400, "job id must be 64 lowercase hex digits");
        veil_err err = {0};
        json_t *job = job_view_of(api->store, api->submitter, id, true, &err);
        json_t *rounds =
            job ? veil_dash_job_rounds(api->dash, api->store, api->submitter, id, &err) : NULL;
        if (!job || !rounds) {
            json_decref(job);
            return send_error(api, c, err.code == VEIL_E_NOTFOUND ? 404 : 500, err.msg);
        }
        json_object_set_new(job, "rounds", rounds); /* veild's rounds, trimmed (H4) */
        return send_json(api, c, 200, job);
    }
    if (strcmp(url, "/v1/overlay") == 0) { /* this node's VeilNet view (api_overlay.c) */
        if (!get)
            return send_error(api, c, 405, "use GET");
        veil_err err = {0};
        json_t *o =
            api->node_cfg ? veil_api_overlay_status(api->node_cfg, api->submitter, &err) : NULL;
        if (!api->node_cfg)
            veil_err_set(&err, VEIL_E_NOTFOUND, "this node runs no overlay");
        return o ? send_json(api, c, 200, o) : send_error(api, c, 404, err.msg);
    }
    return send_error(api, c, 404, "no such endpoint");
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct request *req = *con_cls;
    if (req) {
        veil_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

static int parse_listen(const char *listen, struct sockaddr_in *sa, veil_err *err)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return veil_err_set(err, VEIL_E_INVALID, "api.listen '%s': expected 127.0.0.1:PORT",
                            listen);
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host)
        return veil_err_set(err, VEIL_E_INVALID, "api.listen '%s': bad host", listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "api.listen '%s': the local API binds to 127.0.0.1 only", listen);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return veil_err_set(err, VEIL_E_INVALID, "api.listen '%s': bad port", listen);
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
}

int veil_api_start(veil_api **out, const struct veil_api_config *cfg, veil_store *store,
                   veil_err *err)
{
    struct sockaddr_in sa;
    if (parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:7070", &sa, err) != 0)
        return -1;
    if (!cfg->token_file)
        return veil_err_set(err, VEIL_E_INVALID, "api.token_file is not set");
    veil_api *api = calloc(1, sizeof *api);
    if (!api)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    char token[65];
    if (veil_api_token_load_or_create(cfg->token_file, token, err) != 0) {
        free(api);
        return -1;
    }
    crypto_generichash(api->token_hash, sizeof api->token_hash, (const uint8_t *)token,
                       API_TOKEN_HEX, NULL, 0);
    veil_memzero(token, sizeof token);
    api->store = store;
    api->node_cfg = cfg->node_cfg;
    api->dash_chain = cfg->dash_chain;
    if (veil_dash_cache_start(&api->dash, cfg->node_cfg, store, cfg->dash_chain, NULL, err) != 0) {
        veil_memzero(api->token_hash, sizeof api->token_hash);
        free(api);
        return -1;
    }
    snprintf(api->submitter, sizeof api->submitter, "%s", cfg->submitter ? cfg->submitter : "");
    api->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                                   NULL, handle, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                                   MHD_OPTION_NOTIFY_COMPLETED, request_done, api, MHD_OPTION_END);
    if (!api->daemon) {
        veil_dash_cache_stop(api->dash);
        free(api);
        return veil_err_set(err, VEIL_E_IO, "local API: cannot listen on 127.0.0.1:%u",
                            (unsigned)ntohs(sa.sin_port));
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : ntohs(sa.sin_port);
    veil_log(VEIL_LOG_INFO, "api", "listening", "addr=127.0.0.1:%u", (unsigned)api->port);
    *out = api;
    return 0;
}

uint16_t veil_api_port(const veil_api *api)
{
    return api->port;
}

struct veil_dash_cache *veil_api_dash_cache(veil_api *api)
{
    return api ? api->dash : NULL;
}

void veil_api_note_telemetry_published(veil_api *api)
{
    atomic_fetch_add(&api->telemetry_published, 1);
}

void veil_api_stop(veil_api *api)
{
    if (!api)
        return;
    MHD_stop_daemon(api->daemon);
    veil_dash_cache_stop(api->dash);
    veil_memzero(api->token_hash, sizeof api->token_hash);
    free(api);
}
