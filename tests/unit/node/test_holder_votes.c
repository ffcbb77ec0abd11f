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

#include "daemon_fixture.h"

#define HOLDERS 4

/* the holders' signing keys (the node under test holds none) */
static uint8_t holder_sk[HOLDERS][64];

/* A member of a threshold cluster of HOLDERS key holders with t = 1 (not a
 * holder itself: it only counts their signed assignments). */
static void node_open(struct node *n)
{
    fixture_open(n, "holder-votes", 1000);
    fixture_identity(n);
    veil_th_public pub = {.n = HOLDERS, .t = 1};
    for (int i = 0; i < HOLDERS; i++) {
        veil_p2p_peer_id ignored;
        fixture_new_peer(&ignored, pub.holder_pk[i], holder_sk[i]);
    }
    veil_daemon_holder_public(n->d, &pub);
}

static void node_close(struct node *n)
{
    sodium_memzero(holder_sk, sizeof holder_sk);
    fixture_close(n);
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
    CHECK_EQ_INT(veil_assignment_sign(&a, n->d->cluster_id, holder_sk[holder - 1], &err), 0);
    CHECK_EQ_INT(veil_msg_assignment_encode(&msg, &a, &err), 0);
    veil_daemon_on_assignment(n->d, msg.data, msg.len);
    veil_buf_free(&msg);
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
    fixture_job_id(id, hex, 0x66);
    store_running_job(&n, id, hex);
    /* restarted, it hears the job again: its round is decided at once
     * while the others place the replica again */
    struct round *r = veil_daemon_round(n.d, id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_DECIDED), 0);

    deliver_vote(&n, id, 9, 1); /* t = 1 holder: not yet */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 7);
    deliver_vote(&n, id, 9, 3); /* t + 1: recorded, this node's copy kept */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    CHECK_EQ_U64(n.d->watched.n, 1);
    deliver_vote(&n, id, 9, 2); /* the other holders' votes: nothing new */
    deliver_vote(&n, id, 9, 4);
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    deliver_vote(&n, id, 8, 1); /* an older one delivered late */
    deliver_vote(&n, id, 8, 2);
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    /* placed again and again: the vote table makes way for later epochs */
    for (uint64_t e = 10; e < 16; e++) {
        deliver_vote(&n, id, e, 2);
        deliver_vote(&n, id, e, 4);
        CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), e);
    }
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    node_close(&n);
}

VTEST_MAIN(VTEST(test_pairs_nodes), VTEST(test_later_vote_of_decided_round))
