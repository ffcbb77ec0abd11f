// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_fixture.h - what the unit tests of veild's round and catch-up
 * rules share (test_round_life.c, test_holder_votes.c,
 * test_catchup_history.c): a daemon with no network (no gossip, members or
 * keys) over its own real store in a temporary directory, its config at the
 * defaults and a loop of its own; fresh Ed25519 peer IDs; job IDs of one
 * repeated byte; the newest assignment epoch a store holds. Header only:
 * every function is static inline, so a test uses what it needs.
 */
#ifndef VEIL_TEST_DAEMON_FIXTURE_H
#define VEIL_TEST_DAEMON_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../../src/node/daemon_core.h"
#include "../../vtest.h"

struct node {
    veil_daemon *d;
    veil_config cfg;
    uv_loop_t loop;
    char dir[48];
};

/* A daemon over a store in /tmp/veil-<tag>-XXXXXX, telemetry epochs of
 * interval_ms, cluster 1, commitments hashed with BLAKE2b (any hash will do
 * here), and a peer ID of its own. */
static inline void fixture_open(struct node *n, const char *tag, uint64_t interval_ms)
{
    veil_err err = {0};
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/veil-%s-XXXXXX", tag);
    CHECK(mkdtemp(n->dir) != NULL);
    n->d = calloc(1, sizeof *n->d);
    CHECK(n->d != NULL);
    CHECK_EQ_INT(veil_store_open(&n->d->store, n->dir, &err), 0);
    CHECK_EQ_INT(veil_config_init(&n->cfg, NULL, 0, &err), 0); /* every key at its default */
    CHECK_EQ_INT(uv_loop_init(&n->loop), 0);
    n->d->cfg = &n->cfg;
    n->d->loop = &n->loop;
    n->d->interval_ms = interval_ms;
    n->d->keccak.fn = veil_hash256_blake2b;
    n->d->cluster_id = 1;
}

/* Runs what the loop still holds (nothing may be left queued), then frees
 * the daemon's tables and store and removes the directory. */
static inline void fixture_close(struct node *n)
{
    CHECK_EQ_INT(uv_run(&n->loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(uv_loop_close(&n->loop), 0);
    round_table_free(&n->d->rounds); /* and the rounds' vote tables */
    watch_list_free(&n->d->watched);
    veil_store_close(n->d->store);
    veil_config_free(&n->cfg);
    free(n->d);
    char cmd[80];
    snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* The peer ID of a fresh Ed25519 key; pk and sk may be NULL. */
static inline void fixture_new_peer(veil_p2p_peer_id *id, uint8_t pk[32], uint8_t sk[64])
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

/* The node's own peer ID and its text form. */
static inline void fixture_identity(struct node *n)
{
    CHECK_EQ_INT(veil_crypto_init(NULL), 0);
    fixture_new_peer(&n->d->self, NULL, NULL);
    CHECK(veil_p2p_peer_id_to_text(&n->d->self, n->d->self_text, sizeof n->d->self_text) > 0);
}

/* A job ID of 32 bytes `tag` and its hex. */
static inline void fixture_job_id(uint8_t id[32], char hex[65], uint8_t tag)
{
    memset(id, tag, 32);
    veil_hex_encode(hex, 65, id, 32);
}

/* The epoch of the newest assignment of (job, replica) the store holds (one
 * must be there). */
static inline uint64_t fixture_latest_epoch(struct node *n, const char *hex, uint32_t replica)
{
    uint64_t e = 0;
    bool found = false;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_assignment_latest_epoch(n->d->store, hex, replica, &e, &found, &err),
                 0);
    CHECK(found);
    return e;
}

#endif
