// SPDX-License-Identifier: Apache-2.0
/*
 * test_dashboard.c - the dashboard's server side: every embedded asset is
 * served with its type and nothing outside /ui/ is; /v1/jobs/validate answers
 * exactly what the job spec validator says (the message `veil job validate`
 * prints); /v1/anchors/verify checks its body before anything else and
 * answers 503 when veild passed no chain views; the methods are enforced;
 * /v1/network shows the overlay's status with only this node's replicas.
 */
#include <stdlib.h>
#include <stdio.h>
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

VTEST_MAIN(VTEST(test_assets), VTEST(test_verify_and_views), VTEST(test_validate),
           VTEST(test_network))
