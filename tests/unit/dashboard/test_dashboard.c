// SPDX-License-Identifier: Apache-2.0
/*
 * test_dashboard.c - the dashboard's server side: every embedded asset is
 * served with its type and nothing outside /ui/ is; /v1/jobs/validate answers
 * exactly what the job spec validator says (the message `veil job validate`
 * prints); /v1/anchors/verify checks its body before anything else and
 * answers 503 when veild passed no chain views; the methods are enforced;
 * /v1/network shows the overlay's status with only this node's replicas;
 * the dashboard cache answers from memory while its chain view is failing or
 * blocked (a stopped RPC), with the value's age and a stale marker, and
 * queues inclusion checks (202 until answered); veild's snapshot is trimmed
 * to this node's view of each replica (hook H4) and sizes the members'
 * telemetry; a replica's logs are served only on the node running it, as the
 * last N lines of its output.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../../vtest.h"
#include "dashboard.h"

static unsigned route(const char *method, const char *url, const char *body, json_t **reply)
{
    struct veil_dash_request r = {.method = method,
                                  .url = url,
                                  .self = "12D3KooWself",
                                  .body = (const uint8_t *)body,
                                  .body_len = body ? strlen(body) : 0};
    unsigned code = 0;
    void *out = NULL;
    if (!veil_dashboard_route(&r, &code, &out))
        return 0;
    *reply = out;
    return code;
}

static void test_assets(void)
{
    const struct veil_dash_asset *index = veil_dashboard_asset("/ui/");
    CHECK(index != NULL);
    if (index) {
        CHECK_EQ_STR(index->name, "index.html");
        CHECK_CONTAINS(index->content_type, "text/html");
        CHECK(index->len > 100 && memcmp(index->data, "<!doctype html>", 15) == 0);
        CHECK_EQ_INT(index->data[index->len], 0);
    }
    const struct veil_dash_asset *js = veil_dashboard_asset("/ui/app.js");
    CHECK(js && strstr(js->content_type, "javascript"));
    CHECK(veil_dashboard_asset("/ui/app.css") != NULL);
    CHECK(veil_dashboard_asset("/ui/../api.token") == NULL);
    CHECK(veil_dashboard_asset("/ui/missing.html") == NULL);
    CHECK(veil_dashboard_asset("/v1/jobs") == NULL);
    CHECK(veil_dashboard_asset("/ui") == NULL);
}

static void test_validate(void)
{
    const char *bad = "name: x\nimage: busybox:1\nresources: {memory: 64Q}\n";
    json_t *reply = NULL;
    CHECK_EQ_INT(route("POST", "/v1/jobs/validate", bad, &reply), 400);
    struct veil_job_spec spec;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&spec, bad, strlen(bad), "spec", &err), -1);
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "error")), err.msg);
    CHECK_EQ_STR(err.msg, "spec:3: resources.memory: \"64Q\" is not a quantity (e.g. 64Mi)");
    json_decref(reply);

    const char *good = "name: x\nimage: busybox:1\nresources: {cpu: 100m, memory: 64Mi}\n";
    CHECK_EQ_INT(route("POST", "/v1/jobs/validate", good, &reply), 200);
    CHECK(json_is_true(json_object_get(reply, "valid")));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(reply, "spec"), "name")), "x");
    json_decref(reply);

    CHECK_EQ_INT(route("POST", "/v1/jobs/validate", "", &reply), 400);
    json_decref(reply);
    CHECK_EQ_INT(route("GET", "/v1/jobs/validate", NULL, &reply), 405);
    json_decref(reply);
}

static void test_verify_and_views(void)
{
    json_t *reply = NULL;
    const char *job = "{\"job\":\""
                      "0123456789abcdef0123456789abcdef"
                      "0123456789abcdef0123456789abcdef\",\"replica\":0}";
    CHECK_EQ_INT(route("POST", "/v1/anchors/verify", job, &reply), 503);
    json_decref(reply);
    const char *bads[] = {"",
                          "{",
                          "[]",
                          "{\"job\":\"AB\",\"replica\":0}",
                          "{\"job\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                          "abcdeF\",\"replica\":0}",
                          "{\"job\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                          "abcdef\",\"replica\":-1}",
                          "{\"job\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                          "abcdef\",\"replica\":64}"};
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        CHECK_EQ_INT(route("POST", "/v1/anchors/verify", bads[i], &reply), 400);
        json_decref(reply);
    }
    CHECK_EQ_INT(route("GET", "/v1/cluster", NULL, &reply), 200);
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "self")), "12D3KooWself");
    CHECK(json_is_null(json_object_get(reply, "policy")));
    CHECK(json_is_string(json_object_get(reply, "policy_error")));
    json_decref(reply);
    CHECK_EQ_INT(route("GET", "/v1/network", NULL, &reply), 200);
    CHECK(json_is_false(json_object_get(reply, "running")));
    json_decref(reply);
    CHECK_EQ_INT(route("POST", "/v1/network", NULL, &reply), 405);
    json_decref(reply);
    CHECK_EQ_INT(route("GET", "/v1/nodes", NULL, &reply), 0); /* not the dashboard's */
}

/* The Network page: the overlay role's status with only this node's own
 * replicas (H4), or the reason there is none. */
static void test_network(void)
{
    char dir[] = "/tmp/veil-dash-net.XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/overlay", dir);
    CHECK_EQ_INT(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/overlay/status.json", dir);
    static const char status[] =
        "{\"realm\":\"c1\",\"ipv4\":\"10.77.0.1\",\"peers\":[{\"peer\":\"12D3KooWother\","
        "\"ipv4\":\"10.77.0.2\",\"revoked\":false}],\"replicas\":[{\"job\":\"aa\",\"replica\":0,"
        "\"name\":\"0.web.c1\",\"node\":\"12D3KooWself\",\"ipv4\":\"10.77.0.1\"},{\"job\":\"aa\","
        "\"replica\":1,\"name\":\"1.web.c1\",\"node\":\"12D3KooWother\",\"ipv4\":\"10.77.0.2\"}],"
        "\"sessions\":{\"handshakes_completed\":1,\"handshakes_initiated\":1}}";
    veil_err err = {0};
    CHECK_EQ_INT(veil_file_write_atomic(path, status, strlen(status), 0600, &err), 0);
    veil_config cfg;
    CHECK_EQ_INT(
        veil_config_init(&cfg, veil_config_default_keys, veil_config_default_keys_len, &err), 0);
    CHECK_EQ_INT(veil_config_set(&cfg, "data_dir", dir, VEIL_CONFIG_FROM_FLAG, "test", &err), 0);
    struct veil_dash_request r = {
        .node_cfg = &cfg, .self = "12D3KooWself", .method = "GET", .url = "/v1/network"};
    unsigned code = 0;
    void *out = NULL;
    CHECK(veil_dashboard_route(&r, &code, &out));
    json_t *reply = out;
    CHECK_EQ_INT(code, 200);
    CHECK(json_is_true(json_object_get(reply, "running")));
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "ipv4")), "10.77.0.1");
    json_t *reps = json_object_get(reply, "replicas");
    CHECK_EQ_INT(json_array_size(reps), 1); /* the other node's replica is not shown */
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(reps, 0), "name")), "0.web.c1");
    json_decref(reply);
    CHECK_EQ_INT(unlink(path), 0);
    CHECK(veil_dashboard_route(&r, &code, &out)); /* no status: the reason */
    reply = out;
    CHECK(json_is_false(json_object_get(reply, "running")));
    CHECK_CONTAINS(json_string_value(json_object_get(reply, "reason")), "no overlay");
    json_decref(reply);
    snprintf(path, sizeof path, "%s/overlay", dir);
    CHECK_EQ_INT(rmdir(path), 0);
    CHECK_EQ_INT(rmdir(dir), 0);
    veil_config_free(&cfg);
}

/* ---- the cache, with a chain view the test drives ---------------------------- */

enum fake_mode { FAKE_OK, FAKE_FAIL, FAKE_BLOCK };
/* The stand-in for veild's chain views (the function pointer has no user
 * data): the RPC answering, refusing, or hanging like a SIGSTOPped node. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum fake_mode mode;
    int blocked; /* calls waiting in FAKE_BLOCK */
    char dir[64];
} fake = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, FAKE_OK, 0, ""};

static void fake_set(enum fake_mode m)
{
    pthread_mutex_lock(&fake.mu);
    fake.mode = m;
    pthread_cond_broadcast(&fake.cv);
    pthread_mutex_unlock(&fake.mu);
}

static unsigned fake_chain(const veil_config *cfg, veil_store *store, const char *what,
                           const char *job_hex, int n, void **reply)
{
    (void)cfg, (void)store, (void)job_hex;
    if (strcmp(what, "container") == 0) {
        *reply = json_pack("{s:s, s:{s:s}}", "dir", fake.dir, "container", "status", "exited");
        return 200;
    }
    pthread_mutex_lock(&fake.mu);
    fake.blocked++;
    while (fake.mode == FAKE_BLOCK)
        pthread_cond_wait(&fake.cv, &fake.mu);
    fake.blocked--;
    bool ok = fake.mode == FAKE_OK;
    pthread_mutex_unlock(&fake.mu);
    if (!ok) {
        *reply = json_pack("{s:s}", "error", "connection refused");
        return 502;
    }
    if (strcmp(what, "policy") == 0)
        *reply = json_pack("{s:i}", "version", 3);
    else if (strcmp(what, "dispute_count") == 0)
        *reply = json_pack("{s:i}", "count", 2);
    else if (strcmp(what, "dispute") == 0 && n == 1)
        *reply = json_pack("{s:i, s:s}", "id", 1, "status", "open");
    else if (strcmp(what, "verify") == 0)
        *reply = json_pack("{s:b}", "included", 1);
    else {
        *reply = json_pack("{s:s}", "error", "another cluster's dispute");
        return 404;
    }
    return 200;
}

static void nap(void)
{
    nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
}

struct seeded {
    char dir[64];
    veil_store *store;
    veil_config cfg;
    struct veil_dash_cache *cache;
};
#define JOB_MINE  "1111111111111111111111111111111111111111111111111111111111111111"
#define JOB_OTHER "2222222222222222222222222222222222222222222222222222222222222222"

static void place(veil_store *s, const char *job, uint32_t replica, const char *node)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_set_state(s, job, replica, VEIL_REPLICA_SCHEDULING, NULL, &err),
                 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(s, job, replica, VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err),
        0);
    struct veil_store_assignment a = {.replica = replica, .epoch = 5};
    snprintf(a.job_id, sizeof a.job_id, "%s", job);
    snprintf(a.node, sizeof a.node, "%s", node);
    memset(a.output_digest, 'a', 64);
    memset(a.commitment, 'c', 63);
    a.commitment[63] = (char)('0' + replica);
    memset(a.signature, 'b', 128);
    CHECK_EQ_INT(veil_store_assignment_record(s, &a, &err), 0);
}

/* This node (self) submitted JOB_MINE: replica 0 runs here, replica 1 on
 * "other"; "other" submitted JOB_OTHER, placed on "third". */
static void seed(struct seeded *sd)
{
    veil_err err = {0};
    snprintf(sd->dir, sizeof sd->dir, "/tmp/veil-dash-cache.XXXXXX");
    CHECK(mkdtemp(sd->dir) != NULL);
    CHECK_EQ_INT(veil_store_open(&sd->store, sd->dir, &err), 0);
    CHECK_EQ_INT(
        veil_store_job_insert(sd->store, JOB_MINE, "mine", "{}", "12D3KooWself", "00", 2, &err), 0);
    CHECK_EQ_INT(
        veil_store_job_insert(sd->store, JOB_OTHER, "theirs", "{}", "12D3KooWother", "00", 1, &err),
        0);
    place(sd->store, JOB_MINE, 0, "12D3KooWself");
    place(sd->store, JOB_MINE, 1, "12D3KooWother");
    place(sd->store, JOB_OTHER, 0, "12D3KooWthird");
    CHECK_EQ_INT(
        veil_config_init(&sd->cfg, veil_config_default_keys, veil_config_default_keys_len, &err),
        0);
    struct veil_dash_cache_opts o = {.period_ms = 100, .verify_fresh_ms = 60000};
    CHECK_EQ_INT(veil_dash_cache_start(&sd->cache, &sd->cfg, sd->store, fake_chain, &o, &err), 0);
}

static void unseed(struct seeded *sd)
{
    fake_set(FAKE_OK);
    veil_dash_cache_stop(sd->cache);
    veil_store_close(sd->store);
    veil_config_free(&sd->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sd->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

static unsigned droute(struct seeded *sd, const char *method, const char *url, const char *body,
                       json_t **reply)
{
    struct veil_dash_request r = {.store = sd->store,
                                  .node_cfg = &sd->cfg,
                                  .chain = fake_chain,
                                  .cache = sd->cache,
                                  .self = "12D3KooWself",
                                  .method = method,
                                  .url = url,
                                  .body = (const uint8_t *)body,
                                  .body_len = body ? strlen(body) : 0};
    unsigned code = 0;
    void *out = NULL;
    CHECK(veil_dashboard_route(&r, &code, &out));
    *reply = out;
    return code;
}

/* Polls /v1/cluster (each call returns at once: the cache answers) until
 * policy_stale is `stale`; false after 20 s. */
static bool policy_becomes(struct seeded *sd, bool stale)
{
    for (int i = 0; i < 4000; i++) {
        json_t *reply = NULL;
        CHECK_EQ_INT(droute(sd, "GET", "/v1/cluster", NULL, &reply), 200);
        bool have =
            json_object_get(reply, "policy") && !json_is_null(json_object_get(reply, "policy"));
        bool is = json_is_true(json_object_get(reply, "policy_stale"));
        json_decref(reply);
        if (have && is == stale)
            return true;
        nap();
    }
    return false;
}

static void test_cache_chain(void)
{
    struct seeded sd;
    seed(&sd);
    json_t *reply = NULL;
    CHECK(policy_becomes(&sd, false));
    CHECK_EQ_INT(droute(&sd, "GET", "/v1/cluster", NULL, &reply), 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(reply, "policy"), "version")),
                 3);
    CHECK(json_is_integer(json_object_get(reply, "policy_age_ms")));
    CHECK(json_object_get(reply, "policy_error") == NULL);
    json_decref(reply);

    /* the RPC hangs: the refresher waits in it, and every answer still
     * comes at once, from the cache, until it says the value is stale; the
     * last policy stays */
    fake_set(FAKE_BLOCK);
    bool waiting = false;
    for (int i = 0; i < 4000 && !waiting; i++) {
        pthread_mutex_lock(&fake.mu);
        waiting = fake.blocked == 1;
        pthread_mutex_unlock(&fake.mu);
        if (!waiting)
            nap();
    }
    CHECK(waiting);
    CHECK(policy_becomes(&sd, true));
    CHECK_EQ_INT(droute(&sd, "GET", "/v1/cluster", NULL, &reply), 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(reply, "policy"), "version")),
                 3);
    json_decref(reply);
    /* the RPC refuses: stale with its error */
    fake_set(FAKE_FAIL);
    for (int i = 0; i < 4000; i++) {
        CHECK_EQ_INT(droute(&sd, "GET", "/v1/cluster", NULL, &reply), 200);
        bool said = json_is_string(json_object_get(reply, "policy_error"));
        if (said)
            break;
        json_decref(reply);
        reply = NULL;
        nap();
    }
    CHECK(json_is_true(json_object_get(reply, "policy_stale")));
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "policy_error")), "connection refused");
    json_decref(reply);
    fake_set(FAKE_OK);
    CHECK(policy_becomes(&sd, false));

    /* disputes: dispute 1 is this cluster's, 2 another's */
    for (int i = 0; i < 4000; i++) {
        CHECK_EQ_INT(droute(&sd, "GET", "/v1/disputes", NULL, &reply), 200);
        if (json_array_size(json_object_get(reply, "disputes")) == 1 &&
            json_is_false(json_object_get(reply, "stale")))
            break;
        json_decref(reply);
        reply = NULL;
        nap();
    }
    json_t *d = json_array_get(json_object_get(reply, "disputes"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "id")), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(d, "status")), "open");
    CHECK(json_is_false(json_object_get(reply, "stale")));
    json_decref(reply);
    CHECK_EQ_INT(droute(&sd, "POST", "/v1/disputes", NULL, &reply), 405);
    json_decref(reply);

    /* an inclusion check: queued (202), then the refresher's answer */
    const char *body = "{\"job\":\"" JOB_MINE "\",\"replica\":0}";
    unsigned code = droute(&sd, "POST", "/v1/anchors/verify", body, &reply);
    CHECK_EQ_INT(code, 202);
    CHECK(json_is_true(json_object_get(reply, "pending")));
    for (int i = 0; i < 4000 && code == 202; i++) {
        json_decref(reply);
        nap();
        code = droute(&sd, "POST", "/v1/anchors/verify", body, &reply);
    }
    CHECK_EQ_INT(code, 200);
    CHECK(json_is_true(json_object_get(reply, "included")));
    CHECK(json_is_integer(json_object_get(reply, "age_ms")));
    json_decref(reply);
    /* replica 1 runs elsewhere: refused before any check (H4) */
    body = "{\"job\":\"" JOB_MINE "\",\"replica\":1}";
    CHECK_EQ_INT(droute(&sd, "POST", "/v1/anchors/verify", body, &reply), 404);
    json_decref(reply);
    unseed(&sd);
}

/* veild's snapshot: rounds trimmed per replica, telemetry sizes on nodes. */
static void test_cache_daemon_view(void)
{
    struct seeded sd;
    seed(&sd);
    json_t *view = json_loads(
        "{\"members\": {\"12D3KooWself\": {\"epoch\": 7, \"bytes\": 1234}},"
        " \"rounds\": {\"" JOB_MINE "\": [{\"replica\": 0, \"attempt\": 1, \"schedulers\": "
        "[\"12D3KooWa\"], \"agreed_digest\": \"aa\"}, {\"replica\": 1, \"attempt\": 2,"
        " \"agreed_digest\": \"bb\"}], \"" JOB_OTHER "\": [{\"replica\": 0,"
        " \"agreed_digest\": \"cc\"}]}}",
        0, NULL);
    CHECK(view != NULL);
    veil_dash_cache_set_daemon_view(sd.cache, view);
    veil_err err = {0};
    json_t *mine = veil_dash_job_rounds(sd.cache, sd.store, "12D3KooWself", JOB_MINE, &err);
    CHECK_EQ_INT(json_array_size(mine), 2);
    /* replica 0 runs here: in full; replica 1 runs elsewhere: no digest */
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(mine, 0), "agreed_digest")),
                 "aa");
    CHECK(json_object_get(json_array_get(mine, 1), "agreed_digest") == NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(mine, 1), "attempt")), 2);
    json_decref(mine);
    json_t *theirs = veil_dash_job_rounds(sd.cache, sd.store, "12D3KooWself", JOB_OTHER, &err);
    CHECK_EQ_INT(json_array_size(theirs), 0); /* another member's job, not run here */
    json_decref(theirs);
    /* "other" runs replica 1 of JOB_MINE: that round alone, in full */
    json_t *runner = veil_dash_job_rounds(sd.cache, sd.store, "12D3KooWother", JOB_MINE, &err);
    CHECK_EQ_INT(json_array_size(runner), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(runner, 0), "agreed_digest")),
                 "bb");
    json_decref(runner);
    CHECK(veil_dash_job_rounds(sd.cache, sd.store, "12D3KooWself", "33", &err) == NULL);

    json_t *rows =
        json_loads("[{\"peer_id\": \"12D3KooWself\"}, {\"peer_id\": \"12D3KooWx\"}]", 0, NULL);
    veil_dash_cache_annotate_nodes(sd.cache, rows);
    CHECK_EQ_INT(
        json_integer_value(json_object_get(json_array_get(rows, 0), "last_telemetry_bytes")), 1234);
    CHECK_EQ_INT(
        json_integer_value(json_object_get(json_array_get(rows, 0), "last_telemetry_bytes_epoch")),
        7);
    CHECK(json_is_null(json_object_get(json_array_get(rows, 1), "last_telemetry_bytes")));
    json_decref(rows);
    unseed(&sd);
}

/* GET /v1/jobs/{id}/replicas/{n}/logs: only a replica this node runs, the
 * last N lines of its output. */
static void test_logs(void)
{
    struct seeded sd;
    seed(&sd);
    snprintf(fake.dir, sizeof fake.dir, "%s", sd.dir);
    char path[128];
    snprintf(path, sizeof path, "%s/stdout.log", sd.dir);
    veil_err err = {0};
    static const char out[] = "one\ntwo\nthree\n";
    CHECK_EQ_INT(veil_file_write_atomic(path, out, strlen(out), 0600, &err), 0);
    json_t *reply = NULL;
    struct veil_dash_request r = {.store = sd.store,
                                  .node_cfg = &sd.cfg,
                                  .chain = fake_chain,
                                  .cache = sd.cache,
                                  .self = "12D3KooWself",
                                  .method = "GET",
                                  .url = "/v1/jobs/" JOB_MINE "/replicas/0/logs",
                                  .tail = "2"};
    unsigned code = 0;
    void *o = NULL;
    CHECK(veil_dashboard_route(&r, &code, &o));
    reply = o;
    CHECK_EQ_INT(code, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "stdout")), "two\nthree\n");
    CHECK_EQ_STR(json_string_value(json_object_get(reply, "stderr")), "");
    CHECK(json_is_true(json_object_get(reply, "truncated")));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(reply, "container"), "status")),
                 "exited");
    json_decref(reply);
    r.tail = "0";
    CHECK(veil_dashboard_route(&r, &code, &o));
    CHECK_EQ_INT(code, 400);
    json_decref(o);
    r.tail = NULL;
    static const char *const not_here[] = {"/v1/jobs/" JOB_MINE "/replicas/1/logs",
                                           "/v1/jobs/" JOB_OTHER "/replicas/0/logs"};
    for (size_t i = 0; i < 2; i++) { /* elsewhere (H4) */
        r.url = not_here[i];
        CHECK(veil_dashboard_route(&r, &code, &o));
        CHECK_EQ_INT(code, 404);
        json_decref(o);
    }
    static const char *const bad[] = {
        "/v1/jobs/" JOB_MINE "/replicas/64/logs", "/v1/jobs/" JOB_MINE "/replicas/01/logs",
        "/v1/jobs/" JOB_MINE "/replicas//logs", "/v1/jobs/" JOB_MINE "/replicas/0/../logs",
        "/v1/jobs/abc/replicas/0/logs"};
    for (size_t i = 0; i < 5; i++) {
        r.url = bad[i];
        CHECK(veil_dashboard_route(&r, &code, &o));
        CHECK_EQ_INT(code, 400);
        json_decref(o);
    }
    r.url = "/v1/jobs/" JOB_MINE "/replicas/0/logs";
    r.method = "POST";
    CHECK(veil_dashboard_route(&r, &code, &o));
    CHECK_EQ_INT(code, 405);
    json_decref(o);
    fake.dir[0] = '\0';
    unseed(&sd);
}

VTEST_MAIN(VTEST(test_assets), VTEST(test_verify_and_views), VTEST(test_validate),
           VTEST(test_network), VTEST(test_cache_chain), VTEST(test_cache_daemon_view),
           VTEST(test_logs))
