// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_keys.h - node-computed keys in veild (issue 20, docs/SCHEDULING.md
 * "Node-computed keys"): the NODE_KEY message a candidate publishes for a
 * round over a public request (its key, veil_sched_node_key of its own
 * telemetry words of the round's epoch, encrypted under the cluster public
 * key), the node's history of its own published words, the table of keys
 * received, and which rounds take the key path. The parts here need no
 * daemon (daemon_keys_wire.c: caller-owned state, unit-tested in
 * test_node_keys, fuzzed by fuzz_node_key_msg); the daemon's use of them is
 * declared at the end (daemon_keys.c).
 */
#ifndef VEIL_NODE_DAEMON_KEYS_H
#define VEIL_NODE_DAEMON_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/node.h>

/* Own words kept: as many epochs as the telemetry history (daemon_core.h
 * checks they are equal), so a round that waited for admission still finds
 * the words of its epoch. */
#define NODE_KEY_WORDS_HISTORY 48
/* A one-value compact list is ~17 KB; anything far larger is no key. */
#define NODE_KEY_CT_MAX (48u * 1024u)
/* Keys held at once (~17 KB each): 256 members x 16 rounds; when full the
 * key of the oldest epoch goes first. */
#define NODE_KEY_TABLE_MAX 4096

/* NODE_KEY (cluster topic, type VEIL_MSG_NODE_KEY):
 *   u8 version | u8 type | job id (32) | replica u32be | attempt u32be |
 *   epoch u64be | u8 len | node peer ID | u32be ct len | ct (1..CT_MAX)
 * accepted only from its gossip author `node` (gossipsub StrictSign). */
struct node_key_msg {
    uint8_t job_id[32];
    uint32_t replica, attempt;
    uint64_t epoch; /* the round's planned epoch (the words are the newest not after it) */
    struct veil_peer_id node;
    const uint8_t *ct; /* borrowed (parse: points into the input) */
    size_t ct_len;
};
VEIL_WARN_UNUSED int veil_node_key_msg_encode(veil_buf *out, const struct node_key_msg *m,
                                              veil_err *err);
VEIL_WARN_UNUSED int veil_node_key_msg_parse(const uint8_t *data, size_t len,
                                             struct node_key_msg *m, veil_err *err);

/* A request for keys lost in gossip: a scheduler still missing keys of a
 * round's plan half a wait after planning asks once (node_key_wait_rule)
 * and the named nodes publish theirs again (at most NODE_KEY_RESENDS times
 * per plan). On the wire it is a NODE_KEY whose ciphertext length is 0:
 *   ... the NODE_KEY header up to the peer ID (of the asking node) |
 *   u32be 0 | u8 count (1..NODE_KEY_REQ_MAX) | count x (u8 len | peer ID)
 * accepted only from its gossip author. */
#define NODE_KEY_REQ_MAX 32
#define NODE_KEY_RESENDS 2
struct node_key_req {
    uint8_t job_id[32];
    uint32_t replica, attempt;
    uint64_t epoch;
    struct veil_peer_id from; /* the asking scheduler */
    size_t n_missing;
    struct veil_peer_id missing[NODE_KEY_REQ_MAX];
};
VEIL_WARN_UNUSED int veil_node_key_req_encode(veil_buf *out, const struct node_key_req *q,
                                              veil_err *err);
VEIL_WARN_UNUSED int veil_node_key_req_parse(const uint8_t *data, size_t len,
                                             struct node_key_req *q, veil_err *err);
/* Whether a NODE_KEY message is a request (its header parses and its
 * ciphertext length is 0); the parser decides the rest. */
bool veil_node_key_msg_is_req(const uint8_t *data, size_t len);

/* A scheduler's wait for the keys of a round's plan (planned_ms: when it
 * planned the round): GO when no key is missing, or wait_ms after planning
 * (wait_ms + wait_ms / 2 once it asked); ASK once, from wait_ms / 2 on, when
 * keys are missing and it has not asked yet; else WAIT. */
enum node_key_wait { NODE_KEY_WAIT, NODE_KEY_ASK, NODE_KEY_GO };
enum node_key_wait node_key_wait_rule(uint64_t planned_ms, uint64_t now_ms, uint64_t wait_ms,
                                      bool missing, bool asked);

/* The words this node published encrypted, by epoch (plaintext: wiped when
 * replaced and on free, never logged). */
struct node_own_words {
    struct {
        bool set;
        uint64_t epoch;
        uint16_t words[VEIL_TELEMETRY_WORDS];
    } v[NODE_KEY_WORDS_HISTORY];
};
/* Keeps the words published for `epoch` (same epoch replaces, else the
 * oldest goes). */
void node_own_words_put(struct node_own_words *h, uint64_t epoch,
                        const uint16_t words[VEIL_TELEMETRY_WORDS]);
/* The newest words not after `epoch` and at most max_age epochs older (the
 * ones every scheduler would read for this node in a round at `epoch`):
 * 0, or -1 when there are none (the node is no candidate). */
VEIL_WARN_UNUSED int node_own_words_at(const struct node_own_words *h, uint64_t epoch,
                                       uint64_t max_age, uint16_t out[VEIL_TELEMETRY_WORDS]);
void node_own_words_wipe(struct node_own_words *h);

/* Keys received (and this node's own), by (job, replica, attempt, epoch, node). */
struct node_key_entry {
    uint8_t job_id[32];
    uint32_t replica, attempt;
    uint64_t epoch;
    struct veil_peer_id node;
    uint8_t *ct;
    size_t ct_len;
    unsigned resent; /* this node's own key: times published again on request */
};
/* A round's plan (job, replica, attempt, epoch) this node asked keys for. */
#define NODE_KEY_ASKS_MAX 64
struct node_key_plan {
    uint8_t job_id[32];
    uint32_t replica, attempt;
    uint64_t epoch;
};
struct node_key_table {
    struct node_key_entry *v;
    size_t n, cap;
    /* the plans asked for (a ring: the oldest goes first), so a scheduler
     * asks once per plan */
    struct node_key_plan asks[NODE_KEY_ASKS_MAX];
    size_t n_asks, next_ask;
    /* TEST ONLY (debug.test_only_drop_first_node_key): this node's first key
     * was kept but not published, as if gossip lost it */
    bool test_dropped;
};
/* Keeps a copy of m's key (the same round and node: replaced). */
VEIL_WARN_UNUSED int node_key_table_put(struct node_key_table *t, const struct node_key_msg *m,
                                        veil_err *err);
/* The key of that round from that node, NULL when none is held. */
const struct node_key_entry *node_key_table_find(const struct node_key_table *t,
                                                 const uint8_t job_id[32], uint32_t replica,
                                                 uint32_t attempt, uint64_t epoch,
                                                 const struct veil_peer_id *node);
/* Drops the keys of (job, replica) from attempts before below_attempt
 * (UINT32_MAX: all of them, the round is over); returns how many. */
size_t node_key_table_drop(struct node_key_table *t, const uint8_t job_id[32], uint32_t replica,
                           uint32_t below_attempt);
/* Drops the keys of epochs before min_epoch; returns how many. */
size_t node_key_table_prune(struct node_key_table *t, uint64_t min_epoch);
void node_key_table_free(struct node_key_table *t);
/* Whether this node asked keys for the plan; records that it did. */
bool node_key_table_asked(const struct node_key_table *t, const struct node_key_plan *p);
void node_key_table_mark_asked(struct node_key_table *t, const struct node_key_plan *p);
/* Takes one of the NODE_KEY_RESENDS re-sends of an own key: false when
 * they are spent. */
bool node_key_resend_take(struct node_key_entry *e);
/* The key set a round uses: of the `alive` members, those whose key for
 * (job, replica, attempt, epoch) is held, in the round's candidate order
 * (veil_round_candidates: by peer ID); out[i] (room for n_alive) is
 * candidate i's entry, *n_out their count. -1 when out of memory. */
VEIL_WARN_UNUSED int node_key_candidates(const struct node_key_table *t, const uint8_t job_id[32],
                                         uint32_t replica, uint32_t attempt, uint64_t epoch,
                                         const struct veil_peer_id *alive, size_t n_alive,
                                         const struct node_key_entry **out, size_t *n_out,
                                         veil_err *err);
/* Whether a round takes the key path: a public request, in any round (one
 * replica; a batch: veil_fhe_argmin_replicas over the keys; a sharded
 * round: each shard's veil_fhe_argmin_keyed over its range of the keys,
 * merged as before). Confidential requests (the nodes do not know them)
 * keep the full circuit. Depends only on the job, which every node shares. */
bool node_key_path(bool confidential);

/* ---- in the daemon (daemon_keys.c) ---- */
struct round;
struct veil_daemon;
struct veil_gs_message;
/* Every node, when it plans a round (veil_daemon_plan_round): fixes
 * whether the round takes the key path, and publishes this node's key for
 * it once its words of the round's epoch are final. */
void veil_daemon_keys_planned(struct veil_daemon *d, struct round *r);
/* A NODE_KEY on the cluster topic. */
void veil_daemon_on_node_key(struct veil_daemon *d, const struct veil_gs_message *msg);
/* The words this node just published encrypted for `epoch`. */
void veil_daemon_keys_own_words(struct veil_daemon *d, uint64_t epoch,
                                const uint16_t words[VEIL_TELEMETRY_WORDS]);
/* This node's key for its own plans whose words were not final at
 * planning, and for the plans of the keys others published for a round it
 * holds (planned or still queued by admission: every candidate answers,
 * whenever its own admission lets it plan); the keys no round will read
 * again dropped. */
void veil_daemon_keys_tick(struct veil_daemon *d, uint64_t now_ms);
/* A scheduler may start a key round: every member it would count as a
 * candidate of the round's epoch (alive, fresh telemetry) sent its key, or
 * one telemetry interval (at least 1 s) passed since this node planned it. */
bool veil_daemon_keys_ready(struct veil_daemon *d, const struct round *r, uint64_t now_ms);
void veil_daemon_keys_free(struct veil_daemon *d);

#endif /* VEIL_NODE_DAEMON_KEYS_H */
