// SPDX-License-Identifier: Apache-2.0
/*
 * test_conflux_overlay.c - the agent's reading of the overlay names in a
 * certificate (veil_conflux_overlay_of_cert): a leaf Guardian issued gives
 * the node's pool address, the pool and the realm; leaves without a pool,
 * with an address outside it, or no certificate at all are refused.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/conflux.h>
#include <veil/guardian.h>

#include "vtest.h"

static veil_guardian *g_g;

static void setup(void)
{
    char tmpl[] = "/tmp/veil-conflux-overlay-XXXXXX", dir[64];
    veil_err err = {0};
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(dir, sizeof dir, "%s/g", tmpl);
    CHECK(veil_guardian_init(dir, NULL, &err) == 0);
    CHECK(veil_guardian_open(&g_g, dir, &err) == 0);
    CHECK(veil_guardian_realm_create(g_g, "red", NULL, &err) == 0);
    CHECK(veil_guardian_realm_set_pool(g_g, "red", "10.80.0.0/20", &err) == 0);
}

static void test_guardian_leaf(void)
{
    veil_err err = {0};
    struct veil_guardian_issued is;
    struct veil_ca_leaf leaf;
    struct veil_conflux_overlay o;
    struct veil_guardian_issue_req req = {.realm = "red", .name = "n1"};
    CHECK(veil_guardian_issue(g_g, &req, &is, &err) == 0);
    veil_guardian_issued_free(&is);
    CHECK(veil_guardian_issue_cert(g_g, "red", "n1", NULL, 600, &leaf, &err) == 0);
    CHECK(veil_conflux_overlay_of_cert(leaf.chain_pem, &o, &err) == 0);
    CHECK_EQ_STR(o.realm, "red");
    CHECK_EQ_STR(o.ipv4, "10.80.0.1");
    CHECK_EQ_STR(o.pool, "10.80.0.0/20");
    CHECK_EQ_INT(o.prefix, 20);
    veil_ca_leaf_free(&leaf);
}

static void issue_raw(const char *const *uris, size_t n_uris, const char *ip,
                      struct veil_ca_leaf *leaf)
{
    veil_err err = {0};
    const char *ips[1] = {ip};
    struct veil_ca_leaf_req req = {.common_name = "raw",
                                   .realm = "red",
                                   .node_id = "raw",
                                   .uris = uris,
                                   .n_uris = n_uris,
                                   .ips = ips,
                                   .n_ips = ip ? 1 : 0,
                                   .client_auth = true,
                                   .ttl_s = 600};
    CHECK(veil_ca_issue(veil_guardian_ca(g_g), &req, leaf, &err) == 0);
}

static void test_refusals(void)
{
    veil_err err = {0};
    struct veil_ca_leaf leaf;
    struct veil_conflux_overlay o;
    const char *pool[] = {"veil-pool:10.77.0.0/16"};
    issue_raw(NULL, 0, "10.77.0.9", &leaf); /* no pool: an older Guardian */
    CHECK(veil_conflux_overlay_of_cert(leaf.chain_pem, &o, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    veil_ca_leaf_free(&leaf);
    issue_raw(pool, 1, "10.78.0.1", &leaf); /* the address outside the pool */
    CHECK(veil_conflux_overlay_of_cert(leaf.chain_pem, &o, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_MISMATCH);
    veil_ca_leaf_free(&leaf);
    issue_raw(pool, 1, "fd00::1", &leaf); /* no IPv4 address */
    CHECK(veil_conflux_overlay_of_cert(leaf.chain_pem, &o, &err) != 0);
    veil_ca_leaf_free(&leaf);
    const char *bad[] = {"veil-pool:10.77.0.0/40"};
    issue_raw(bad, 1, "10.77.0.1", &leaf);
    CHECK(veil_conflux_overlay_of_cert(leaf.chain_pem, &o, &err) != 0);
    veil_ca_leaf_free(&leaf);
    CHECK(veil_conflux_overlay_of_cert("not a certificate", &o, &err) != 0);
    CHECK(veil_conflux_overlay_of_cert(NULL, &o, &err) != 0);
}

static void cleanup(void)
{
    veil_guardian_close(g_g);
}

VTEST_MAIN(VTEST(setup), VTEST(test_guardian_leaf), VTEST(test_refusals), VTEST(cleanup))
