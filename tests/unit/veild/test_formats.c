// SPDX-License-Identifier: Apache-2.0
/*
 * test_formats.c - the veild wiring's own formats: the cluster bundle
 * (parse, required fields, bad values, save/load round trip) and the
 * scheduler output the decryptor reads (candidates, none flag, strictness).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/node/daemon.h"
#include "../../../src/node/daemon_sched.h"
#include "../../vtest.h"

static const char good[] =
    "{\"version\":1,\"name\":\"t\",\"rpc_url\":\"http://127.0.0.1:8545\",\"chain_id\":31337,"
    "\"contract\":\"0x5FbDB2315678afecb367f032d93F642f64180aa3\",\"cluster_id\":7,"
    "\"decryptor\":\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\",\"fhe_key_hash\":\"0x01\","
    "\"public_key\":\"public.key\",\"server_key\":\"/abs/server.key\","
    "\"bootstrap\":[\"/ip4/127.0.0.1/tcp/1/p2p/x\",\"/ip4/127.0.0.1/tcp/2/p2p/y\"]}";

static void test_bundle_parse(void)
{
    struct veil_bundle b;
    veil_err err = {0};
    CHECK_EQ_INT(veil_bundle_parse(&b, good, strlen(good), "/dir", &err), 0);
    CHECK_EQ_U64(b.cluster_id, 7);
    CHECK_EQ_U64(b.chain_id, 31337);
    CHECK_EQ_STR(b.public_key, "/dir/public.key");
    CHECK_EQ_STR(b.server_key, "/abs/server.key");
    CHECK_EQ_INT((int)b.n_bootstrap, 2);
    /* adding a known address is a no-op */
    CHECK_EQ_INT(veil_bundle_add_bootstrap(&b, "/ip4/127.0.0.1/tcp/1/p2p/x", &err), 0);
    CHECK_EQ_INT((int)b.n_bootstrap, 2);
    veil_bundle_free(&b);
}

static void expect_fail(const char *text, const char *needle)
{
    struct veil_bundle b;
    veil_err err = {0};
    CHECK_EQ_INT(veil_bundle_parse(&b, text, strlen(text), "/dir", &err), -1);
    CHECK_CONTAINS(err.msg, needle);
}

static void test_bundle_errors(void)
{
    expect_fail("[]", "not a JSON object");
    expect_fail("{\"version\":2}", "version 2");
    expect_fail("{\"version\":1}", "missing \"rpc_url\"");
    expect_fail("{\"version\":1,\"rpc_url\":5}", "\"rpc_url\" is not a string");
    char *bad = strdup(good);
    char *p = strstr(bad, "0x5FbDB");
    p[2] = 'z'; /* not hex */
    expect_fail(bad, "bundle");
    free(bad);
    expect_fail("{\"version\":1,\"rpc_url\":\"u\",\"chain_id\":1,\"contract\":"
                "\"0x5FbDB2315678afecb367f032d93F642f64180aa3\",\"cluster_id\":1,\"decryptor\":"
                "\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\",\"fhe_key_hash\":\"0x\","
                "\"public_key\":\"p\",\"server_key\":\"s\",\"bootstrap\":[5]}",
                "bootstrap[0]");
}

static void test_bundle_roundtrip(void)
{
    char dir[] = "/tmp/veil-test-bundle.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct veil_bundle b;
    veil_err err = {0};
    CHECK_EQ_INT(veil_bundle_parse(&b, good, strlen(good), dir, &err), 0);
    CHECK_EQ_INT(veil_bundle_add_bootstrap(&b, "/ip4/127.0.0.1/tcp/3/p2p/z", &err), 0);
    CHECK_EQ_INT(veil_bundle_save(&b, dir, &err), 0);
    struct veil_bundle c;
    CHECK_EQ_INT(veil_bundle_load(&c, dir, &err), 0);
    CHECK_EQ_STR(c.public_key, b.public_key);
    CHECK_EQ_STR(c.contract, b.contract);
    CHECK_EQ_INT((int)c.n_bootstrap, 3);
    CHECK_EQ_STR(c.bootstrap[2], "/ip4/127.0.0.1/tcp/3/p2p/z");
    veil_bundle_free(&b);
    veil_bundle_free(&c);
    char f[256];
    snprintf(f, sizeof f, "%s/%s", dir, VEIL_BUNDLE_FILE);
    unlink(f);
    rmdir(dir);
}

static void test_output_parse(void)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_put_u32be(&b, 2);
    veil_buf_put_u8(&b, 3);
    veil_buf_put(&b, "abc", 3);
    veil_buf_put_u8(&b, 2);
    veil_buf_put(&b, "de", 2);
    veil_buf_put_u8(&b, 0);
    veil_buf_put(&b, "FHE", 3);
    struct veil_peer_id *c;
    size_t n;
    bool none;
    const uint8_t *fhe;
    size_t fl;
    veil_err err = {0};
    CHECK_EQ_INT(veil_daemon_output_parse(b.data, b.len, &c, &n, &none, &fhe, &fl, &err), 0);
    CHECK_EQ_INT((int)n, 2);
    CHECK(!none);
    CHECK_EQ_INT(c[1].len, 2);
    CHECK_EQ_MEM(c[1].bytes, "de", 2);
    CHECK_EQ_INT((int)fl, 3);
    free(c);
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < b.len - 3; cut++)
        CHECK_EQ_INT(veil_daemon_output_parse(b.data, cut, &c, &n, &none, &fhe, &fl, &err), -1);
    /* "none" with trailing bytes is refused; a zero-length peer too */
    b.data[4 + 1 + 3 + 1 + 2] = 1;
    CHECK_EQ_INT(veil_daemon_output_parse(b.data, b.len, &c, &n, &none, &fhe, &fl, &err), -1);
    b.data[4] = 0;
    CHECK_EQ_INT(veil_daemon_output_parse(b.data, b.len, &c, &n, &none, &fhe, &fl, &err), -1);
    veil_buf_free(&b);
    /* an absurd candidate count */
    uint8_t big[5] = {0xff, 0xff, 0xff, 0xff, 0};
    CHECK_EQ_INT(veil_daemon_output_parse(big, 5, &c, &n, &none, &fhe, &fl, &err), -1);
}

static void test_output_msg(void)
{
    uint8_t m[44 + 2] = {0};
    m[35] = 3; /* replica */
    m[43] = 9; /* epoch */
    uint8_t job[32];
    uint32_t replica;
    uint64_t epoch;
    const uint8_t *out;
    size_t ol;
    veil_err err = {0};
    CHECK_EQ_INT(veil_daemon_output_msg_parse(m, sizeof m, job, &replica, &epoch, &out, &ol, &err),
                 0);
    CHECK_EQ_INT((int)replica, 3);
    CHECK_EQ_U64(epoch, 9);
    CHECK_EQ_INT((int)ol, 2);
    CHECK_EQ_INT(veil_daemon_output_msg_parse(m, 43, job, &replica, &epoch, &out, &ol, &err), -1);
}

/* A threshold cluster's bundle: the dealing's public material and the
 * squashing key resolve like the other key files, survive a save, and come
 * together or not at all. */
static void test_bundle_threshold(void)
{
    char text[1024];
    snprintf(text, sizeof text,
             "%.*s,\"threshold_public\":\"threshold.pub\","
             "\"squash_key\":\"/abs/squash.key\"}",
             (int)(strlen(good) - 1), good);
    struct veil_bundle b;
    veil_err err = {0};
    CHECK_EQ_INT(veil_bundle_parse(&b, text, strlen(text), "/dir", &err), 0);
    CHECK_EQ_STR(b.threshold_public, "/dir/threshold.pub");
    CHECK_EQ_STR(b.squash_key, "/abs/squash.key");
    char dir[] = "/tmp/veil-test-bundle-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(b.threshold_public, sizeof b.threshold_public, "%s/threshold.pub", dir);
    CHECK_EQ_INT(veil_bundle_save(&b, dir, &err), 0);
    veil_bundle_free(&b);
    CHECK_EQ_INT(veil_bundle_load(&b, dir, &err), 0);
    CHECK(strstr(b.threshold_public, "/threshold.pub") != NULL);
    CHECK_EQ_STR(b.squash_key, "/abs/squash.key");
    veil_bundle_free(&b);
    char path[512];
    snprintf(path, sizeof path, "%s/bundle.json", dir);
    unlink(path);
    rmdir(dir);
    snprintf(text, sizeof text, "%.*s,\"squash_key\":\"s\"}", (int)(strlen(good) - 1), good);
    expect_fail(text, "go together");
    /* the designated decryptor's bundle has neither */
    CHECK_EQ_INT(veil_bundle_parse(&b, good, strlen(good), "/dir", &err), 0);
    CHECK_EQ_STR(b.threshold_public, "");
    veil_bundle_free(&b);
}

VTEST_MAIN(VTEST(test_bundle_parse), VTEST(test_bundle_errors), VTEST(test_bundle_roundtrip),
           VTEST(test_output_parse), VTEST(test_output_msg), VTEST(test_bundle_threshold))
