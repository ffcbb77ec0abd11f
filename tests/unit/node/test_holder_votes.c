// SPDX-License-Identifier: Apache-2.0
/*
 * test_holder_votes.c - the rules a threshold cluster's nodes apply to the
 * key holders' decisions (src/node/daemon_holder.c, daemon_decryptor.c,
 * daemon_tables.c), on veild's own code over a real store, with a daemon
 * that has no network:
 *  1. a batch output's decrypted (index, found) pairs name distinct
 *     candidates of the output, or the output is refused
 *     (veil_daemon_pairs_nodes: the designated decryptor's rule, now the
 *     key holders' too);
 *  2. a node whose round is decided already records the holders' assignment
 *     of a later epoch once t + 1 holders signed it (the replica was placed
 *     again): before, count_vote dropped every vote of a decided round, so
 *     the node never recorded where its replica went (issue 18, the rule
 *     daemon_rounds.c applies to the designated decryptor's assignments);
 *     t holders alone, an older epoch, or the same assignment again record
 *     nothing.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../../src/node/daemon_core.h"
#include "../../vtest.h"

#define HOLDERS 4

struct node {
    veil_daemon *d;
    veil_config cfg;
    uv_loop_t loop;
    char dir[40];
    uint8_t holder_sk[HOLDERS][64];
};

static void new_peer(veil_p2p_peer_id *id, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t pkb[32], skb[64];
    crypto_sign_keypair(pkb, skb);
    veil_p2p_peer_id_from_ed25519(pkb, id);
    if (pk)
        memcpy(pk, pkb, 32);
    if (sk)
        memcpy(sk, skb, 64);
    sodium_memzero(skb, sizeof skb);
}

/* A member of a threshold cluster of HOLDERS key holders with t = 1 (not a
 * holder itself: it only counts their signed assignments). */
static void node_open(struct node *n)
{
    veil_err err = {0};
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/veil-holder-votes-XXXXXX");
    CHECK(mkdtemp(n->dir) != NULL);
    n->d = calloc(1, sizeof *n->d);
    CHECK(n->d != NULL);
    CHECK_EQ_INT(veil_store_open(&n->d->store, n->dir, &err), 0);
    CHECK_EQ_INT(veil_config_init(&n->cfg, NULL, 0, &err), 0);
    CHECK_EQ_INT(uv_loop_init(&n->loop), 0);
    n->d->cfg = &n->cfg;
    n->d->loop = &n->loop;
    n->d->interval_ms = 1000;
    n->d->keccak.fn = veil_hash256_blake2b; /* commitments' hash: any will do here */
    n->d->cluster_id = 1;
    CHECK_EQ_INT(veil_crypto_init(NULL), 0);
    new_peer(&n->d->self, NULL, NULL);
    CHECK(veil_p2p_peer_id_to_text(&n->d->self, n->d->self_text, sizeof n->d->self_text) > 0);
    veil_th_public pub = {.n = HOLDERS, .t = 1};
    for (int i = 0; i < HOLDERS; i++) {
        veil_p2p_peer_id ignored;
        new_peer(&ignored, pub.holder_pk[i], n->holder_sk[i]);
    }
    veil_daemon_holder_public(n->d, &pub);
}

static void node_close(struct node *n)
{
    CHECK_EQ_INT(uv_run(&n->loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(uv_loop_close(&n->loop), 0);
    round_table_free(&n->d->rounds); /* frees the rounds' vote tables */
    watch_list_free(&n->d->watched);
    veil_store_close(n->d->store);
    veil_config_free(&n->cfg);
    sodium_memzero(n->holder_sk, sizeof n->holder_sk);
    free(n->d);
    char cmd[80];
    snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* ---- 1: the pairs of a batch output ---- */

static void test_pairs_nodes(void)
{
    struct veil_peer_id cands[3];
    for (int i = 0; i < 3; i++) {
        cands[i].len = 1;
        cands[i].bytes[0] = (uint8_t)(0xa0 + i);
    }
    const struct veil_peer_id *nodes[4];
    veil_err err = {0};
    uint32_t index[4] = {2, 0, 1, 0};
    bool found[4] = {true, true, true, false};
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), 0);
    CHECK(nodes[0] == &cands[2] && nodes[1] == &cands[0] && nodes[2] == &cands[1]);
    CHECK(nodes[3] == NULL); /* not found: unschedulable (its index is not looked at) */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, true, cands, 3, nodes, &err), 0);
    for (int j = 0; j < 4; j++)
        CHECK(nodes[j] == NULL); /* the output named no candidate */
    found[3] = true;             /* replicas 1 and 3 on one node */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), -1);
    CHECK(strstr(err.msg, "replicas 1 and 3 on one node") != NULL);
    index[3] = 3; /* no such candidate */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), -1);
    CHECK(strstr(err.msg, "index 3 of 3 candidates") != NULL);
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 0, false, cands, 3, nodes, &err), -1);
}

/* ---- 2: a later assignment of a decided round, signed by the holders ---- */

static void job_id(uint8_t id[32], char hex[65], uint8_t tag)
{
    memset(id, tag, 32);
    veil_hex_encode(hex, 65, id, 32);
}

/* Holder `holder`'s signed assignment of replica 0 to this node at `epoch`,
 * delivered as the topic delivers it. */
static void deliver_vote(struct node *n, const uint8_t id[32], uint64_t epoch, unsigned holder)
{
    struct veil_msg_assignment a = {.replica = 0, .schedulable = true, .epoch = epoch};
    memcpy(a.job_id, id, 32);
    veil_daemon_to_peer(&a.node, &n->d->self);
    memset(a.output_digest, (int)epoch, 32);
    veil_err err = {0};
    veil_buf msg;
    veil_buf_init(&msg);
    CHECK_EQ_INT(veil_assignment_sign(&a, n->d->cluster_id, n->holder_sk[holder - 1], &err), 0);
    CHECK_EQ_INT(veil_msg_assignment_encode(&msg, &a, &err), 0);
    veil_daemon_on_assignment(n->d, msg.data, msg.len);
    veil_buf_free(&msg);
}

static uint64_t latest_epoch(struct node *n, const char *hex)
{
    uint64_t e = 0;
    bool found = false;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_assignment_latest_epoch(n->d->store, hex, 0, &e, &found, &err), 0);
    CHECK(found);
    return e;
}

/* The job's replica 0 runs on this node under an assignment of epoch 7. */
static void store_running_job(struct node *n, const uint8_t id[32], const char *hex)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_job_insert(n->d->store, hex, "long", "{}", "peerS", "00", 1, &err), 0);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(path); i++)
        CHECK_EQ_INT(veil_store_replica_set_state(n->d->store, hex, 0, path[i], NULL, &err), 0);
    struct veil_store_assignment a = {.replica = 0, .epoch = 7};
    snprintf(a.job_id, sizeof a.job_id, "%s", hex);
    CHECK(veil_p2p_peer_id_to_text(&n->d->self, a.node, sizeof a.node) > 0);
    memset(a.output_digest, 'a', 64);
    memset(a.signature, 'b', 128);
    memset(a.commitment, 'c', 64);
    CHECK_EQ_INT(veil_store_assignment_record(n->d->store, &a, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n->d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err), 0);
    CHECK_EQ_INT(watch_list_add(&n->d->watched, id, hex, 0, "veil-6666666666666666-0", &err), 0);
}

static void test_later_vote_of_decided_round(void)
{
    struct node n;
    node_open(&n);
    uint8_t id[32];
    char hex[65];
    job_id(id, hex, 0x66);
    store_running_job(&n, id, hex);
    /* restarted, it hears the job again: its round is decided at once
     * while the others place the replica again */
    struct round *r = veil_daemon_round(n.d, id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_DECIDED), 0);

    deliver_vote(&n, id, 9, 1); /* t = 1 holder: not yet */
    CHECK_EQ_U64(latest_epoch(&n, hex), 7);
    deliver_vote(&n, id, 9, 3); /* t + 1: recorded, this node's copy kept */
    CHECK_EQ_U64(latest_epoch(&n, hex), 9);
    CHECK_EQ_U64(n.d->watched.n, 1);
    deliver_vote(&n, id, 9, 2); /* the other holders' votes: nothing new */
    deliver_vote(&n, id, 9, 4);
    CHECK_EQ_U64(latest_epoch(&n, hex), 9);
    deliver_vote(&n, id, 8, 1); /* an older one delivered late */
    deliver_vote(&n, id, 8, 2);
    CHECK_EQ_U64(latest_epoch(&n, hex), 9);
    /* placed again and again: the vote table makes way for later epochs */
    for (uint64_t e = 10; e < 16; e++) {
        deliver_vote(&n, id, e, 2);
        deliver_vote(&n, id, e, 4);
        CHECK_EQ_U64(latest_epoch(&n, hex), e);
    }
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    node_close(&n);
}

VTEST_MAIN(VTEST(test_pairs_nodes), VTEST(test_later_vote_of_decided_round))
