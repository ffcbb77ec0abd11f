// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy_boot.c - veild's start while its chain RPC is unreachable
 * (issue 18; src/node/daemon_policy.c, daemon_registry.c): which failures
 * count as unreachable (a transport failure or timeout, not a chain that
 * answered "no such cluster"), the start decision for each (the stored copy
 * only when unreachable and stored), and the real start path on a daemon
 * state whose chain client points at a closed port: with nothing stored it
 * fails as before; with a stored policy and member set it admits the stored
 * members, takes the stored policy (decryptor, version, block, shard
 * settings) and marks the node for a fresh read once the chain answers.
 * Before this, every chain read at start was fatal.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/node/daemon_core.h"
#include "../../../src/node/daemon_policy.h"
#include "../../vtest.h"

#define CLUSTER  7
#define DEAD_RPC "http://127.0.0.1:9" /* discard: nothing listens, refused */

static void test_decision(void)
{
    veil_err net = {.code = VEIL_E_NETWORK}, timeout = {.code = VEIL_E_TIMEOUT};
    veil_err revert = {.code = VEIL_E_STATE}, proto = {.code = VEIL_E_PROTOCOL};
    veil_err mismatch = {.code = VEIL_E_MISMATCH}, parse = {.code = VEIL_E_PARSE};
    CHECK(veil_daemon_chain_unreachable(&net));
    CHECK(veil_daemon_chain_unreachable(&timeout));
    CHECK(!veil_daemon_chain_unreachable(&revert));
    CHECK(!veil_daemon_chain_unreachable(NULL));
    CHECK_EQ_INT(veil_daemon_boot_source(0, NULL, false), VEIL_BOOT_CHAIN);
    CHECK_EQ_INT(veil_daemon_boot_source(0, NULL, true), VEIL_BOOT_CHAIN);
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &net, true), VEIL_BOOT_STORED);
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &timeout, true), VEIL_BOOT_STORED);
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &net, false), VEIL_BOOT_FAIL); /* first start */
    /* the chain answered: the node or cluster does not exist, a wrong chain,
     * a malformed answer: never the stored copy */
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &revert, true), VEIL_BOOT_FAIL);
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &proto, true), VEIL_BOOT_FAIL);
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &mismatch, true), VEIL_BOOT_FAIL);
    CHECK_EQ_INT(veil_daemon_boot_source(-1, &parse, true), VEIL_BOOT_FAIL);
}

/* A real refused connection is classified as unreachable; the client opens
 * over it only when told to defer the chain-id check. */
static void test_real_refusal(void)
{
    veil_chain_options co = {.rpc_url = DEAD_RPC, .expected_chain_id = 31337};
    co.rpc.retries = 0;
    co.rpc.timeout_ms = 2000;
    veil_chain_client *c = NULL;
    veil_err err = {0};
    CHECK_EQ_INT(veil_chain_client_open(&c, &co, &err), -1);
    CHECK(veil_daemon_chain_unreachable(&err));
    co.defer_chain_check = true;
    CHECK_EQ_INT(veil_chain_client_open(&c, &co, &err), 0);
    CHECK_EQ_U64(veil_chain_client_chain_id(c), 31337);
    uint64_t head;
    CHECK_EQ_INT(veil_rpc_block_number(veil_chain_client_rpc(c), &head, &err), -1);
    CHECK(veil_daemon_chain_unreachable(&err));
    veil_chain_client_close(c);
}

struct fixture {
    char dir[64];
    veil_config cfg; /* no keys: every default */
    veil_daemon *d;
};

static void fixture_open(struct fixture *f)
{
    veil_err err = {0};
    snprintf(f->dir, sizeof f->dir, "/tmp/veil-boot-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    memset(&f->cfg, 0, sizeof f->cfg);
    f->d = calloc(1, sizeof *f->d);
    CHECK(f->d != NULL);
    f->d->cfg = &f->cfg;
    f->d->loop = uv_default_loop();
    f->d->cluster_id = CLUSTER;
    CHECK_EQ_INT(veil_store_open(&f->d->store, f->dir, &err), 0);
    veil_chain_options co = {.rpc_url = DEAD_RPC, .expected_chain_id = 31337};
    co.rpc.retries = 0;
    co.rpc.timeout_ms = 2000;
    co.defer_chain_check = true;
    co.has_contract = true;
    memset(co.contract.b, 0xcc, 20);
    CHECK_EQ_INT(veil_chain_client_open(&f->d->chain, &co, &err), 0);
}

static void fixture_close(struct fixture *f)
{
    veil_daemon_policy_free(f->d);
    free(f->d->allowed);
    veil_chain_client_close(f->d->chain);
    veil_store_close(f->d->store);
    free(f->d);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* The view a previous run of the node kept: two members, a policy naming
 * the first as decryptor with sharded rounds, one round per replica. */
static void store_view(veil_store *s, const struct veil_store_chain_member m[2])
{
    veil_err err = {0};
    veil_eth_address dec;
    memcpy(dec.b, m[0].address, 20);
    uint8_t digest[1][32] = {{0xd1}};
    veil_contract_policy pol = {.image_digests = digest,
                                .n_image_digests = 1,
                                .scheduler_policy = "binpack",
                                .decryptors = &dec,
                                .n_decryptors = 1,
                                .shard_size = 8,
                                .shard_redundancy = 2,
                                .sched_flags = VEIL_POLICY_SCHED_NO_BATCH,
                                .version = 3};
    memset(pol.fhe_key_hash, 0x4b, 32);
    veil_buf abi;
    veil_buf_init(&abi);
    CHECK_EQ_INT(veil_contract_policy_encode(&pol, &abi, &err), 0);
    CHECK_EQ_INT(veil_store_chain_policy_put(s, CLUSTER, 50, abi.data, abi.len, &err), 0);
    veil_buf_free(&abi);
    CHECK_EQ_INT(veil_store_chain_members_put(s, CLUSTER, 52, m, 2, &err), 0);
}

static void test_start_from_store(void)
{
    struct fixture f;
    veil_err err = {0};
    struct veil_store_chain_member m[2];
    memset(m[0].address, 0xa1, 20);
    memset(m[0].ed25519, 0x11, 32);
    memset(m[1].address, 0xa2, 20);
    memset(m[1].ed25519, 0x22, 32);

    /* a first start: nothing stored, the same error as before */
    fixture_open(&f);
    CHECK_EQ_INT(veil_daemon_registry_load(f.d, &err), -1);
    CHECK_CONTAINS(err.msg, "reading the cluster's nodes from the registry");
    CHECK(!f.d->chain_from_store);
    veil_contract_policy pol = {0};
    uint64_t block = 0;
    CHECK_EQ_INT(veil_daemon_policy_boot(f.d, &pol, &block, &err), -1);
    CHECK_CONTAINS(err.msg, "reading the cluster policy");

    /* a restart after a run that kept the view */
    store_view(f.d->store, m);
    CHECK_EQ_INT(veil_daemon_registry_load(f.d, &err), 0);
    CHECK(f.d->chain_from_store);
    CHECK_EQ_U64(f.d->n_allowed, 2);
    CHECK_EQ_MEM(f.d->allowed[1], m[1].ed25519, 32);
    CHECK_EQ_U64(f.d->follower.next_block, 53); /* events after the stored set */
    CHECK_EQ_INT(veil_daemon_policy_boot(f.d, &pol, &block, &err), 0);
    CHECK_EQ_U64(block, 50);
    CHECK_EQ_U64(pol.version, 3);
    CHECK_EQ_U64(pol.n_decryptors, 1);
    CHECK_EQ_MEM(pol.decryptors[0].b, m[0].address, 20);
    veil_contract_policy_clear(&pol);
    uint8_t key[32];
    veil_eth_address a;
    memcpy(a.b, m[0].address, 20);
    CHECK(veil_daemon_registry_stored_key(f.d, &a, key));
    CHECK_EQ_MEM(key, m[0].ed25519, 32);
    a.b[0] ^= 1;
    CHECK(!veil_daemon_registry_stored_key(f.d, &a, key));
    /* the planner keeps the stored shard settings while the chain is away */
    size_t size = 0, red = 0;
    CHECK(veil_daemon_shard_policy(f.d, &size, &red));
    CHECK_EQ_U64(size, 8);
    CHECK_EQ_U64(red, 2);
    /* and its scheduling switches: no batch rounds, node-computed keys */
    CHECK(!veil_daemon_sched_batch(f.d));
    CHECK(veil_daemon_sched_node_keys(f.d));
    fixture_close(&f);
}

/* The registry answered at start, then the policy read failed as
 * unreachable: the stored policy, and the node reads the chain again. */
static void test_policy_only_unreachable(void)
{
    struct fixture f;
    veil_err err = {0};
    struct veil_store_chain_member m[2] = {{{1}, {2}}, {{3}, {4}}};
    fixture_open(&f);
    store_view(f.d->store, m);
    veil_contract_policy pol = {0};
    uint64_t block = 0;
    CHECK_EQ_INT(veil_daemon_policy_boot(f.d, &pol, &block, &err), 0);
    CHECK(f.d->chain_from_store);
    CHECK_EQ_U64(pol.version, 3);
    veil_contract_policy_clear(&pol);
    fixture_close(&f);
}

VTEST_MAIN(VTEST(test_decision), VTEST(test_real_refusal), VTEST(test_start_from_store),
           VTEST(test_policy_only_unreachable))
