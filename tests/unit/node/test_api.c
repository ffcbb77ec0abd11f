// SPDX-License-Identifier: Apache-2.0
/*
 * test_api.c - the local HTTP API, started in-process on a free loopback
 * port and driven with libcurl: bearer-token auth (401), listings, job
 * submission (201, 400 with the exact field and reason, 413), job detail
 * (200, 404), /metrics in Prometheus text format, the 0600 token file, and
 * the refusal to bind anywhere but loopback.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include <veil/node.h>

#include "vtest.h"

static char tmpdir[64];
static uint16_t port;
static char token[65];

struct response {
    long code;
    veil_buf body;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    veil_buf_put((veil_buf *)ud, ptr, size * n);
    return size * n;
}

static struct response http(const char *method, const char *path, const char *auth,
                            const char *body, size_t body_len)
{
    struct response r = {0};
    veil_buf_init(&r.body);
    CURL *c = curl_easy_init();
    char url[256], hdr[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    struct curl_slist *headers = NULL;
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", auth);
        headers = curl_slist_append(headers, hdr);
    }
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    CHECK_EQ_INT(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    veil_buf_put_u8(&r.body, 0);
    return r;
}

static json_t *body_json(struct response *r)
{
    return json_loads((const char *)r->body.data, 0, NULL);
}

static veil_store *store;
static veil_api *api;

static void start(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/veil-api-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_open(&store, tmpdir, &err), 0);
    char token_file[128];
    snprintf(token_file, sizeof token_file, "%s/api.token", tmpdir);
    struct veil_api_config cfg = {
        .listen = "127.0.0.1:0", .token_file = token_file, .submitter = "12D3KooWsubmitter"};
    int rc = veil_api_start(&api, &cfg, store, &err);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    port = veil_api_port(api);
    CHECK(port != 0);
    struct stat st;
    CHECK_EQ_INT(stat(token_file, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK_EQ_INT(veil_api_token_load_or_create(token_file, token, &err), 0);
    CHECK_EQ_INT(strlen(token), 64);
}

static void stop(void)
{
    veil_api_stop(api);
    veil_store_close(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK_EQ_INT(system(cmd), 0);
}

static void test_auth(void)
{
    struct response r = http("GET", "/v1/nodes", NULL, NULL, 0);
    CHECK_EQ_INT(r.code, 401);
    CHECK_CONTAINS((const char *)r.body.data, "\"error\"");
    veil_buf_free(&r.body);
    char wrong[65];
    memcpy(wrong, token, 65);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    r = http("GET", "/v1/nodes", wrong, NULL, 0);
    CHECK_EQ_INT(r.code, 401);
    veil_buf_free(&r.body);
    r = http("GET", "/metrics", "short", NULL, 0);
    CHECK_EQ_INT(r.code, 401);
    veil_buf_free(&r.body);
    r = http("POST", "/v1/jobs", NULL, "name: x\n", 8);
    CHECK_EQ_INT(r.code, 401);
    veil_buf_free(&r.body);
    r = http("GET", "/v1/nodes", token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR((const char *)r.body.data, "{\"nodes\":[]}\n");
    veil_buf_free(&r.body);
}

static void test_jobs(void)
{
    const char *spec = "name: web\nimage: busybox:1.36\nresources: {cpu: 250m, memory: 16Mi}\n"
                       "replicas: 2\n";
    struct response r = http("POST", "/v1/jobs", token, spec, strlen(spec));
    CHECK_EQ_INT(r.code, 201);
    json_t *j = body_json(&r);
    const char *id = json_string_value(json_object_get(j, "id"));
    CHECK(id && strlen(id) == 64);
    char id_copy[65] = {0}, nonce[33] = {0};
    if (id)
        snprintf(id_copy, sizeof id_copy, "%s", id);
    const char *nonce_text = json_string_value(json_object_get(j, "nonce"));
    CHECK(nonce_text && strlen(nonce_text) == 32);
    if (nonce_text)
        snprintf(nonce, sizeof nonce, "%s", nonce_text);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "spec"), "policy")),
                 "binpack");
    json_decref(j);
    veil_buf_free(&r.body);

    /* JSON bodies are job specs too. */
    const char *js = "{\"name\":\"api\",\"image\":\"busybox:1\"}";
    r = http("POST", "/v1/jobs", token, js, strlen(js));
    CHECK_EQ_INT(r.code, 201);
    veil_buf_free(&r.body);

    r = http("GET", "/v1/jobs", token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    j = body_json(&r);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "jobs")), 2);
    json_decref(j);
    veil_buf_free(&r.body);

    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id_copy);
    r = http("GET", path, token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    j = body_json(&r);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "name")), "web");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "nonce")), nonce);
    json_t *states = json_object_get(j, "replica_states");
    CHECK_EQ_INT(json_array_size(states), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(states, 0), "state")), "pending");
    json_decref(j);
    veil_buf_free(&r.body);

    r = http("GET", "/v1/jobs/00000000000000000000000000000000000000000000000000000000000000ff",
             token, NULL, 0);
    CHECK_EQ_INT(r.code, 404);
    veil_buf_free(&r.body);
    r = http("GET", "/v1/jobs/xyz", token, NULL, 0);
    CHECK_EQ_INT(r.code, 400);
    veil_buf_free(&r.body);

    r = http("GET", "/v1/assignments", token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR((const char *)r.body.data, "{\"assignments\":[]}\n");
    veil_buf_free(&r.body);
    r = http("GET", "/v1/anchors", token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    veil_buf_free(&r.body);
}

/* A confidential job: the node takes the redacted spec and the ciphertext
 * it commits to, stores the ciphertext, and every answer shows the request
 * as "confidential"; a plaintext confidential spec, a ciphertext that does
 * not match, or one on a public job is refused. */
static void test_confidential(void)
{
    const char *y = "name: sec\nimage: busybox:1\nresources: {cpu: 1230m, memory: 321Mi}\n"
                    "confidential: true\n";
    struct response r = http("POST", "/v1/jobs", token, y, strlen(y));
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS((const char *)r.body.data, "veil job run");
    veil_buf_free(&r.body);

    struct veil_job_spec spec;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&spec, y, strlen(y), "y", &err), 0);
    const uint8_t ct[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK_EQ_INT(veil_job_spec_redact(&spec, ct, sizeof ct, &err), 0);
    char *canon = veil_job_spec_canonical_json(&spec, &err);
    veil_job_spec_free(&spec);
    char body[1024], b64[32];
    CHECK(veil_base64url_encode(b64, sizeof b64, ct, sizeof ct, false) > 0);
    snprintf(body, sizeof body, "{\"spec\":%s,\"request_ciphertext\":\"%s\"}", canon, b64);
    r = http("POST", "/v1/jobs", token, body, strlen(body));
    CHECK_EQ_INT(r.code, 201);
    json_t *j = body_json(&r);
    char id[65] = {0};
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    veil_buf_free(&r.body);
    struct veil_store_job job;
    CHECK_EQ_INT(veil_store_job_get(store, id, &job, &err), 0);
    CHECK_EQ_INT(job.request_ct_len, sizeof ct);
    CHECK(job.request_ct && memcmp(job.request_ct, ct, sizeof ct) == 0);
    veil_store_job_free(&job);
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    r = http("GET", path, token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    CHECK_CONTAINS((const char *)r.body.data, "\"resources\":\"confidential\"");
    CHECK(!strstr((const char *)r.body.data, "1230") &&
          !strstr((const char *)r.body.data, "336592896"));
    veil_buf_free(&r.body);
    /* another ciphertext than the spec's digest names */
    snprintf(body, sizeof body, "{\"spec\":%s,\"request_ciphertext\":\"AQIDBA\"}", canon);
    r = http("POST", "/v1/jobs", token, body, strlen(body));
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS((const char *)r.body.data, "request_digest");
    veil_buf_free(&r.body);
    /* not base64url; no spec; a ciphertext on a public job */
    snprintf(body, sizeof body, "{\"spec\":%s,\"request_ciphertext\":\"*\"}", canon);
    r = http("POST", "/v1/jobs", token, body, strlen(body));
    CHECK_EQ_INT(r.code, 400);
    veil_buf_free(&r.body);
    const char *nospec = "{\"request_ciphertext\":\"AQID\"}";
    r = http("POST", "/v1/jobs", token, nospec, strlen(nospec));
    CHECK_EQ_INT(r.code, 400);
    veil_buf_free(&r.body);
    const char *pub =
        "{\"spec\":{\"name\":\"p\",\"image\":\"busybox:1\"},\"request_ciphertext\":\"AQID\"}";
    r = http("POST", "/v1/jobs", token, pub, strlen(pub));
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS((const char *)r.body.data, "not confidential");
    veil_buf_free(&r.body);
    free(canon);
}

static void test_bad_requests(void)
{
    const char *bad = "name: web\nimage: busybox:1\nresources:\n  memory: 64Q\n";
    struct response r = http("POST", "/v1/jobs", token, bad, strlen(bad));
    CHECK_EQ_INT(r.code, 400);
    json_t *j = body_json(&r);
    CHECK(j != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "error")),
                 "request:4: resources.memory: \"64Q\" is not a quantity (e.g. 64Mi)");
    json_decref(j);
    veil_buf_free(&r.body);
    r = http("POST", "/v1/jobs", token, "", 0);
    CHECK_EQ_INT(r.code, 400);
    veil_buf_free(&r.body);
    r = http("POST", "/v1/jobs", token, "{not json", 9);
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS((const char *)r.body.data, "YAML syntax error");
    veil_buf_free(&r.body);
    const char *huge_mem = "name: w\nimage: busybox:1\nresources: {memory: 64Ti}\n";
    r = http("POST", "/v1/jobs", token, huge_mem, strlen(huge_mem));
    CHECK_EQ_INT(r.code, 400);
    CHECK_CONTAINS((const char *)r.body.data, "exceeds the schedulable maximum");
    veil_buf_free(&r.body);
    static char big[VEIL_JOB_SPEC_MAX_BYTES + 100];
    memset(big, '#', sizeof big);
    r = http("POST", "/v1/jobs", token, big, sizeof big);
    CHECK_EQ_INT(r.code, 413);
    veil_buf_free(&r.body);
    r = http("DELETE", "/v1/jobs", token, NULL, 0);
    CHECK_EQ_INT(r.code, 405);
    veil_buf_free(&r.body);
    r = http("GET", "/v2/whatever", token, NULL, 0);
    CHECK_EQ_INT(r.code, 404);
    veil_buf_free(&r.body);
}

static void test_metrics(void)
{
    veil_api_note_telemetry_published(api);
    veil_api_note_telemetry_published(api);
    struct response r = http("GET", "/metrics", token, NULL, 0);
    CHECK_EQ_INT(r.code, 200);
    const char *t = (const char *)r.body.data;
    CHECK_CONTAINS(t, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ");
    CHECK_CONTAINS(t, "process_resident_memory_bytes ");
    CHECK_CONTAINS(t, "process_open_fds ");
    CHECK_CONTAINS(t, "veil_jobs 2\n");
    CHECK_CONTAINS(t, "veil_replicas{state=\"pending\"} 3\n");
    CHECK_CONTAINS(t, "veil_telemetry_epochs_published_total 2\n");
    CHECK_CONTAINS(t, "veil_http_requests_total{code=\"401\"} 4\n");
    CHECK_CONTAINS(t, "veil_http_requests_total{code=\"201\"} 2\n");
    /* Every sample line is "name{labels} value". */
    const char *line = t;
    while (*line) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        if (*line != '#') {
            const char *sp = memchr(line, ' ', (size_t)(nl - line));
            CHECK(sp != NULL && sp > line && sp + 1 < nl);
        }
        line = nl + 1;
    }
    veil_buf_free(&r.body);
}

static void test_loopback_only(void)
{
    veil_api *other;
    veil_err err = {0};
    char token_file[128];
    snprintf(token_file, sizeof token_file, "%s/api.token", tmpdir);
    struct veil_api_config cfg = {.listen = "0.0.0.0:0", .token_file = token_file};
    CHECK_EQ_INT(veil_api_start(&other, &cfg, store, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    cfg.listen = "127.0.0.1:99999";
    CHECK_EQ_INT(veil_api_start(&other, &cfg, store, &err), -1);
    /* A token file readable by others is refused. */
    CHECK_EQ_INT(chmod(token_file, 0644), 0);
    cfg.listen = "127.0.0.1:0";
    CHECK_EQ_INT(veil_api_start(&other, &cfg, store, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK_EQ_INT(chmod(token_file, 0600), 0);
}

static void run_all(void)
{
    CHECK_EQ_INT(veil_crypto_init(NULL), 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    start();
    test_auth();
    test_jobs();
    test_bad_requests();
    test_metrics();
    test_confidential(); /* after the metrics, which count the jobs above */
    test_loopback_only();
    stop();
    curl_global_cleanup();
}

VTEST_MAIN(VTEST(run_all))
