// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_anchor.h - private interface of veild's anchoring (owned by the
 * "net" part of the veild integration; see daemon_anchor.c).
 */
#ifndef VEIL_NODE_DAEMON_ANCHOR_H
#define VEIL_NODE_DAEMON_ANCHOR_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include <veil/chain.h>
#include <veil/msg_sync.h>
#include <veil/node.h>

/* A batch root anchored on chain at least `confirmations` deep, as the
 * anchorer's scans saw it (peers' proofs are checked against these). */
struct veil_anchor_root {
    uint64_t epoch;
    uint8_t root[32];
};

/* Where a pass runs (issue 18). With a loop (veild), each tick's pass runs
 * on a libuv worker over the anchorer's own store connection and the shared
 * chain client, one at a time; its results are applied on the loop thread.
 * begin/end (the daemon's count of work in flight) bracket it. Without a
 * loop (tools, tests) the pass runs at once. */
struct veil_anchor_host {
    uv_loop_t *loop;
    bool (*begin)(void *ctx); /* false: not now (stopping) */
    void (*end)(void *ctx);
    void *ctx;
};

struct veil_anchorer {
    veil_store *store;
    veil_chain_client *chain;
    veil_eth_address contract;
    uint64_t cluster_id;
    const struct veil_hasher *keccak;
    bool sender; /* the designated decryptor: the one node that sends anchors */
    /* Takeover (issue 18): every other node stands by in an order every node
     * computes the same way (the primary anchorers first, then the members
     * by peer ID); the daemon sets `acting` while every node before this one
     * is dead (SWIM). An acting node sends a batch only `takeover_ms` after
     * the primary's latest time (its delay and longest hold included), and
     * only when none is on chain for its epoch (a late commitment is the
     * primary's to send alone). */
    bool acting;
    uint64_t takeover_ms;
    /* proofs asked of peers (daemon_sync.c): one request in flight, the
     * next not before proof_ask_ms, peers taken in turn from proof_peer */
    bool proof_busy;
    uint64_t proof_ask_ms;
    size_t proof_peer;
    bool batch;           /* anchor.mode batch (else single) */
    uint64_t interval_ms; /* telemetry epoch length */
    uint64_t batch_ms;    /* anchor.batch_interval: length of a batch epoch */
    uint64_t delay_ms;    /* anchor.batch_delay: wait after a batch epoch ends */
    /* Batch epochs >= hold_batch may still get assignments (the sender has
     * rounds in flight that could land there): they wait, at most
     * max_hold_ms past their delay. UINT64_MAX: nothing in flight. */
    uint64_t hold_batch;
    uint64_t max_hold_ms;
    /* TEST ONLY (debug.test_only_anchor_crash): simulate a crash of the
     * sender right before it sends (intents recorded, nothing on chain:
     * crash_pending is set and veild exits at its next poll) or right after
     * (on chain, not recorded: exits at once). */
    enum {
        VEIL_ANCHOR_CRASH_NONE,
        VEIL_ANCHOR_CRASH_BEFORE_SEND,
        VEIL_ANCHOR_CRASH_AFTER_SEND
    } crash;
    bool crash_pending;
    /* Anchoring evidence counts only from logs at least this deep (block
     * <= head - confirmations; chain.confirmations, as the registry
     * follower): a reorg within it cannot leave a row naming a dropped
     * transaction. 0: the head counts (old behaviour, tests on a chain
     * that mines only on demand). */
    uint64_t confirmations;
    /* Chain scan: confirmed blocks below scanned_to were searched already;
     * each pass searches again the last ANCHOR_RESCAN blocks before it (an
     * assignment recorded a little after its anchor was mined is still
     * found) and the unconfirmed tail, and a restarted node searches from
     * block 0 (and then checks every recorded row's transaction). */
    uint64_t scanned_to;
    /* The last batch epoch the contract refused (BatchEpochAnchored: another
     * batch holds it): never sent again, even while that batch's log is not
     * readable yet. */
    bool refused;
    uint64_t refused_batch;
    uint64_t sent_batches; /* counters, for logs and tests */
    uint64_t sent_singles;
    /* issue 18: off the loop */
    struct veil_anchor_host host;
    bool busy;          /* a pass is on a worker */
    bool again;         /* a tick came while busy: one more pass after it */
    veil_store *wstore; /* the workers' connection to the same store */
    /* confirmed batch roots seen by the scans (kept across passes; a pass
     * collects its own in found, merged on the loop thread) */
    struct veil_anchor_root *roots, *found;
    size_t n_roots, cap_roots, n_found, cap_found;
    bool rescan; /* a peer's proof named a root not seen: scan from block 0 */
};

/* ---- proofs from peers (issue 18): a node that holds an assignment but
 * could not rebuild its batch's tree (it missed the batch's other
 * assignments) asks a peer over /veil/anchor-proof/1.0.0 (daemon_sync.c)
 * and keeps an answer only once it leads to the root anchored on chain. */
/* Up to `cap` assignments of this node whose batch is overdue (it should be
 * on chain by now) and that still have no anchor here. */
size_t veil_anchorer_missing(struct veil_anchorer *a, uint64_t now_ms, struct veil_proof_query *q,
                             size_t cap);
/* The anchors this node holds of the queried assignments (batches only). */
size_t veil_anchorer_answer(struct veil_anchorer *a, const struct veil_proof_query *q, size_t n,
                            struct veil_proof_answer *out);
/* Keeps a peer's answer: the assignment must be this node's and still
 * unanchored here, the answer's epoch its batch epoch, its proof must lead
 * from the assignment's leaf to its root, and that root must be the one a
 * BatchAnchored log of this cluster and epoch holds at least
 * `confirmations` deep, as this node's scans saw it (the depth rule of the
 * node's own evidence; no chain read here). A root not seen that deep yet
 * is refused with VEIL_E_STATE ("not confirmed yet"): the
 * assignment stays missing and is asked again; a root never seen at all
 * also asks the next pass to scan from block 0. 0 kept; -1 refused. */
VEIL_WARN_UNUSED int veil_anchorer_accept(struct veil_anchorer *a,
                                          const struct veil_proof_answer *x, veil_err *err);

/* One pass: finds on chain the anchors of every assignment in the store
 * that has none recorded yet (any node), and on the sender sends what is
 * due. Safe to call at any time; all state lives in the store and on chain,
 * so a restart loses nothing and anchors nothing twice. With a host loop
 * the pass goes to a worker (a tick while one runs asks for one more after
 * it); without, it runs at once. */
void veil_anchorer_tick(struct veil_anchorer *a, uint64_t now_ms);
/* The anchorer's own resources (the workers' store connection, the roots);
 * only once no pass is in flight. */
void veil_anchorer_free(struct veil_anchorer *a);

#endif /* VEIL_NODE_DAEMON_ANCHOR_H */
