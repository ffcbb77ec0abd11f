// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_core.h - private to veild's node daemon (src/node/daemon*.c): the
 * daemon's state, its role set (decided once at start), the periodic
 * dispatcher that runs each role's tick at its own period (daemon.c, in the
 * manner of Redis's serverCron), and the entry points each role file gives
 * the others. One file per role:
 *   daemon.c            core: start/stop, roles, keys, the cron, topic dispatch
 *   daemon_registry.c   the on-chain registry and the connection gater
 *   daemon_p2p.c        libp2p host, gossipsub, SWIM, Kademlia, bootstrap
 *   daemon_members.c    membership (SWIM) and encrypted telemetry
 *   daemon_tables.c     growable tables: rounds, watched containers, job ids
 *   daemon_rounds.c     a round's lifecycle on this node
 *   daemon_intake.c     job intake: JOB_SUBMIT, announcements with backoff
 *   daemon_scheduler.c  the scheduler role: FHE evaluation, digests, outputs
 *   daemon_keys.c       node-computed keys: NODE_KEY, own words, the key path
 *   daemon_decryptor.c  the designated decryptor: guard, decryption, retries
 *   daemon_holder.c     threshold clusters: key holders' squash, partial
 *                       decryptions, combine; every node counts holders' votes
 *   daemon_exec.c       the executor role: image policy, containers, watching
 *   daemon_anchor.c     anchoring (struct veil_anchorer, owned elsewhere)
 *   daemon_overlay.c    VeilNet overlay, peer records, names (daemon_overlay.h)
 */
#ifndef VEIL_NODE_DAEMON_CORE_H
#define VEIL_NODE_DAEMON_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include <veil/chain.h>
#include <veil/fhe.h>
#include <veil/gossipsub.h>
#include <veil/kad.h>
#include <veil/node.h>
#include <veil/p2p.h>
#include <veil/privacy.h>
#include <veil/swim.h>

#include "daemon.h"
#include "daemon_anchor.h"
#include "daemon_holder.h"
#include "daemon_intake.h"
#include "daemon_keys.h"
#include "daemon_latency.h"
#include "daemon_tables.h"

#define SUB         "daemon"
#define MAX_MEMBERS 256
/* Telemetry kept per member, by epoch: a round evaluates the epoch of the
 * moment it was heard, possibly after waiting for admission and then behind
 * the other rounds in flight (at most ROUND_ADMIT_MAX), so the history spans
 * that wait on a loaded machine (48 epochs: 96 s at the tests' 2 s
 * interval; a longer wait moves the epoch on: ROUND_EPOCH_MAX_LAG). */
#define TELEMETRY_HISTORY  48
_Static_assert(NODE_KEY_WORDS_HISTORY == TELEMETRY_HISTORY,
               "a node keeps its own words as long as the others' telemetry");
/* A queued round's epoch (that of the moment it was heard) moves forward
 * onto a grid of this many epochs once it lags further behind, so that its
 * evaluation still finds it held (veil_round_epoch_held, issue 18). */
#define ROUND_EPOCH_MAX_LAG (TELEMETRY_HISTORY / 2)
#define SCHED_OUTPUT_PROTO "/veil/sched-output/1.0.0"
#define SCHED_OUTPUT_MAX   (4u << 20)

/* The roles a node plays, decided once at start (veil_daemon.roles). */
enum veil_daemon_role {
    VEIL_ROLE_MEMBER = 1u << 0,     /* gossip, SWIM, telemetry, rounds' bookkeeping */
    VEIL_ROLE_SCHEDULER = 1u << 1,  /* holds the server key: evaluates rounds */
    VEIL_ROLE_DECRYPTOR = 1u << 2,  /* the designated decryptor: holds the client key */
    VEIL_ROLE_ANCHORER = 1u << 3,   /* sends the anchor transactions */
    VEIL_ROLE_EXECUTOR = 1u << 4,   /* runs the containers assigned to it */
    VEIL_ROLE_KEY_HOLDER = 1u << 5, /* threshold clusters: holds a key share */
};
/* "member,scheduler,..." for the start log. */
void veil_daemon_roles_text(unsigned roles, char *out, size_t cap);

struct member {
    veil_p2p_peer_id id;
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    char org[96];
    bool alive;
    uint64_t epoch; /* newest telemetry epoch seen */
    /* the last few telemetry ciphertexts (compact lists), by epoch: a round
     * at epoch E uses each member's newest one not after E */
    struct {
        uint64_t epoch;
        uint8_t *data;
        size_t len;
    } hist[TELEMETRY_HISTORY];
};

/* One periodic task of the cron: `tick` runs every `period_ms` on nodes
 * that have `role`. */
struct daemon_cron {
    const char *name;
    unsigned role;
    uint64_t period_ms;
    uint64_t next_ms; /* uv_now time of the next run */
    void (*tick)(veil_daemon *d, uint64_t now_ms /* wall clock */);
};
#define DAEMON_CRON_MAX  16
#define DAEMON_CRON_BASE 100 /* ms: the dispatcher's own period */

struct veil_daemon {
    uv_loop_t *loop;
    const veil_config *cfg;
    unsigned roles;
    veil_store *store;
    veil_api *api;
    veil_p2p_host *host;
    veil_gossipsub *gs;
    veil_swim_node *swim;
    veil_chain_client *chain;
    uint64_t cluster_id;
    char topic[64];
    veil_p2p_peer_id self;
    char self_text[VEIL_P2P_PEER_ID_TEXT_MAX];
    char org[96];
    /* the registry: Ed25519 keys of the cluster's active nodes, loaded once
     * at start and then kept current by the registry's events */
    uint8_t (*allowed)[32];
    size_t n_allowed;
    veil_log_follower follower;
    uint64_t followed_at_ms;
    bool registry_busy; /* the registry's chain read is on a worker (issue 18) */
    struct daemon_policy *policy; /* the cached on-chain policy (daemon_policy.c) */
    veil_kad *kad;
    bool kad_busy;      /* a Kademlia bootstrap is running */
    uint64_t kad_at_ms; /* when the last one started */
    unsigned kad_runs;
    FILE *gossip_dump; /* TEST ONLY: every received cluster-topic message */
    /* membership */
    struct member members[MAX_MEMBERS];
    size_t n_members;
    /* telemetry */
    veil_fhe_public *fhe_pk;
    struct veil_cpu_sampler cpu;
    bool fixed_capacity;
    struct veil_telemetry_raw fixed;
    uint64_t interval_ms;
    /* RTTs to the latency landmarks, encrypted with the telemetry */
    struct veil_daemon_latency latency;
    /* the scheduler-privacy rules (docs/THREAT_MODEL.md): capacity classes
     * applied to this node's telemetry before it is encrypted (hook H1) */
    struct veil_privacy_policy privacy;
    /* node-computed keys (daemon_keys.c): the words this node published
     * encrypted, by epoch, and the keys held for rounds on the key path */
    struct node_own_words own_words;
    struct node_key_table node_keys;
    /* TEST ONLY (debug.test_only_split_job): jobs of this name get a wrong
     * digest from this scheduler in their first attempt, so that the
     * end-to-end suite can make schedulers disagree and see the retry */
    char test_split_job[VEIL_JOB_NAME_MAX + 1];
    /* the cron */
    uv_timer_t cron_timer;
    struct daemon_cron cron[DAEMON_CRON_MAX];
    size_t n_cron;
    /* jobs */
    veil_p2p_keypair key;    /* signs assignments on the decryptor */
    veil_fhe_server *fhe_sk; /* schedulers */
    veil_fhe_client *fhe_ck; /* the decryptor */
    struct veil_holder th;   /* threshold clusters (daemon_holder.c) */
    veil_eth_address decryptor;
    veil_p2p_peer_id decryptor_peer;
    bool have_decryptor_peer;
    bool computing; /* one FHE round at a time */
    struct round_table rounds;
    uint64_t round_retention_ms; /* settled rounds are dropped from memory after this */
    uint32_t reannounce_max;     /* re-announcements of an undecided replica */
    struct id_set announced;     /* jobs this node's API accepted and announced */
    struct intake_deferrals deferred; /* jobs waiting for a readable policy (daemon_intake.c) */
    struct veil_hasher keccak;
    uint64_t resume_at_ms;
    struct catchup_clock catchup; /* catch-up queries to the members (daemon_sync.c) */
    veil_eth_address contract;
    struct veil_anchorer anchorer;
    struct watch_list watched; /* containers this node started, until they end */
    struct start_retries start_retries; /* failed starts tried again (daemon_exec.c) */
    struct veil_node_overlay *overlay; /* VeilNet (daemon_overlay.c); NULL when disabled */
    int closing_handles;
    bool stopping, handles_closed;
    int works; /* uv_queue_work items in flight (FHE rounds, container starts) */
    void (*done)(void *);
    void *done_data;
    /* issue 18: started from the stored policy and members (the chain RPC
     * was unreachable); the registry tick reads the chain again until it
     * answers (daemon_registry.c) */
    bool chain_from_store;
};

static inline bool daemon_has_role(const veil_daemon *d, unsigned role)
{
    return (d->roles & role) == role;
}

/* ---- shared helpers (daemon.c) ---- */
uint64_t veil_daemon_wall_ms(void);
bool veil_daemon_peer_eq(const struct veil_peer_id *a, const struct veil_peer_id *b);
void veil_daemon_to_peer(struct veil_peer_id *out, const veil_p2p_peer_id *in);
/* Publishes on the cluster topic; logs what failed under `what`. */
void veil_daemon_publish(veil_daemon *d, const veil_buf *msg, const char *what);
/* Dispatches a cluster-topic message to the role that handles it. */
void veil_daemon_on_topic_message(void *ctx, const struct veil_gs_message *msg);
/* Frees the daemon once its handles are closed and no work item is left. */
void veil_daemon_maybe_free(veil_daemon *d);
uint64_t veil_daemon_resend_period_ms(const veil_daemon *d);
uint64_t veil_daemon_round_deadline_ms(const veil_daemon *d);

/* ---- registry (daemon_registry.c) ---- */
VEIL_WARN_UNUSED int veil_daemon_registry_load(veil_daemon *d, veil_err *err);
bool veil_daemon_registry_gater(veil_p2p_host *host, const veil_p2p_peer_id *peer,
                                const veil_p2p_multiaddr *remote, bool inbound, void *user_data);
void veil_daemon_registry_tick(veil_daemon *d, uint64_t now_ms);

/* ---- p2p (daemon_p2p.c) ---- */
/* The node's Ed25519 identity (libp2p.key_file): signs assignments, opens
 * a key holder's share. Loaded before the keys, so that the libp2p start
 * (connections whose handshakes must not wait) comes after every slow load. */
VEIL_WARN_UNUSED int veil_daemon_identity_load(veil_daemon *d, veil_err *err);
VEIL_WARN_UNUSED int veil_daemon_p2p_start(veil_daemon *d, veil_err *err);
void veil_daemon_bootstrap_tick(veil_daemon *d, uint64_t now_ms);

/* ---- members and telemetry (daemon_members.c) ---- */
struct member *veil_daemon_member_get(veil_daemon *d, const uint8_t *id, size_t len, bool create);
void veil_daemon_member_store(veil_daemon *d, const struct member *m);
void veil_daemon_on_swim_event(veil_swim_node *node, const struct veil_swim_event *ev,
                               void *user_data);
void veil_daemon_on_telemetry(veil_daemon *d, const struct veil_gs_message *msg);
void veil_daemon_telemetry_tick(veil_daemon *d, uint64_t now_ms);
/* The member's newest telemetry entry not after `epoch` (TELEMETRY_HISTORY
 * when none); `evicted`: that epoch may have been dropped already. */
size_t veil_daemon_member_hist_at(const struct member *m, uint64_t epoch);
bool veil_daemon_member_evicted(const struct member *m, uint64_t epoch);
void veil_daemon_members_free(veil_daemon *d);

/* ---- rounds (daemon_rounds.c) ---- */
struct round *veil_daemon_round(veil_daemon *d, const uint8_t job_id[32], uint32_t replica,
                                bool create);
/* Moves a round; a move the lifecycle forbids is refused and logged. */
VEIL_WARN_UNUSED int veil_daemon_round_move(veil_daemon *d, struct round *r,
                                            enum veil_round_state to);
void veil_daemon_plan_round(veil_daemon *d, struct round *r);
/* A ready or admitted round whose replica the store shows placed (its node
 * took it back, an assignment delivered again): true, and it is decided
 * with that node now, or once no worker holds it (issue 18). */
bool veil_daemon_round_settle_placed(veil_daemon *d, struct round *r);
int veil_daemon_round_req_from_spec(struct round *r, const struct veil_job_spec *spec,
                                    const uint8_t *ct, size_t ct_len);
void veil_daemon_replica_state(veil_daemon *d, const char *job_hex, uint32_t replica,
                               enum veil_replica_state to);
void veil_daemon_add_digest(veil_daemon *d, struct round *r, const struct veil_peer_id *from,
                            uint64_t epoch, const uint8_t digest[32]);
void veil_daemon_add_output(veil_daemon *d, struct round *r, const struct veil_peer_id *from,
                            uint64_t epoch, const uint8_t *data, size_t len);
void veil_daemon_apply_retry(veil_daemon *d, const struct veil_msg_round_retry *m);
/* The deciding node (designated decryptor or key holder) gave the round up
 * (abandoned, or its replica failed in the store with the round pruned from
 * memory) and a scheduler still sends digests for it: true when the final
 * ROUND_RETRY is to go out again now (then not before a re-send period). */
bool veil_daemon_final_verdict_due(veil_daemon *d, struct round *r, uint64_t now_ms);
void veil_daemon_on_round_retry(veil_daemon *d, const struct veil_gs_message *msg);
void veil_daemon_on_sched_digest(veil_daemon *d, const struct veil_gs_message *msg);
void veil_daemon_on_assignment(veil_daemon *d, const uint8_t *data, size_t len);
/* Records an assignment this node verified (or signed). */
void veil_daemon_record_assignment(veil_daemon *d, struct round *r,
                                   const struct veil_msg_assignment *a);
/* Whether a verified assignment of a decided round is still to record: its
 * node never stored the round's (its write failed), or it is of a later
 * epoch than every one recorded (the replica was placed again). */
bool veil_daemon_assignment_news(veil_daemon *d, const struct veil_msg_assignment *a);
void veil_daemon_reschedule_lost(veil_daemon *d, const struct member *m);
void veil_daemon_resume_rounds(veil_daemon *d);
void veil_daemon_rounds_tick(veil_daemon *d, uint64_t now_ms);
void veil_daemon_anchor_tick(veil_daemon *d, uint64_t now_ms);

/* ---- intake (daemon_intake.c) ---- */
/* A JOB_SUBMIT: from (from_len bytes) is the gossip author, who must be
 * its submitter; NULL for this node's own announcement. */
void veil_daemon_on_job_submit(veil_daemon *d, const uint8_t *data, size_t len, const uint8_t *from,
                               size_t from_len);
/* Publishes the JOB_SUBMIT of a job this node's API accepted (`local`: the
 * first time, and takes it in itself). 0 when published. */
int veil_daemon_publish_job(veil_daemon *d, const char *job_hex, bool local);
void veil_daemon_intake_tick(veil_daemon *d, uint64_t now_ms);

/* ---- scheduler (daemon_scheduler.c) ---- */
void veil_daemon_publish_result(veil_daemon *d, struct round *r, bool first);
void veil_daemon_scheduler_tick(veil_daemon *d, uint64_t now_ms);

/* ---- decryptor (daemon_decryptor.c) ---- */
void veil_daemon_try_decide(veil_daemon *d, struct round *r);
/* The (index, found) of a scheduler output this node may decrypt (a
 * majority vouched for it, or it merges vouched shard outputs: n_shards >
 * 0) decrypted, the assignment signed, published and recorded. -1 (logged)
 * when the output is malformed or names no candidate; 1 (nothing signed)
 * when it was evaluated over no candidate at all: its schedulers held no
 * fresh telemetry, which is no verdict on the job (the caller retries:
 * veil_daemon_retry_no_candidates); 0 once decided. */
VEIL_WARN_UNUSED int veil_daemon_decide_output(veil_daemon *d, struct round *r,
                                               const uint8_t *out, size_t len, uint64_t epoch,
                                               size_t n_shards);
/* The next attempt of a round whose agreed output had no candidate (this
 * node decides or retries rounds: the decryptor, a key holder). */
void veil_daemon_retry_no_candidates(veil_daemon *d, struct round *r, uint64_t epoch);
void veil_daemon_decryptor_tick(veil_daemon *d, uint64_t now_ms);
void veil_daemon_on_output_stream(veil_p2p_stream *s, const char *protocol, void *user_data);

/* ---- key holders (daemon_holder.c) ---- */
void veil_daemon_holder_try(veil_daemon *d, struct round *r);
void veil_daemon_on_partial(veil_daemon *d, const struct veil_gs_message *msg);
void veil_daemon_holder_on_assignment(veil_daemon *d, const struct veil_msg_assignment *a);
void veil_daemon_holder_telemetry_probe(veil_daemon *d, const struct veil_msg_telemetry *t);

/* ---- executor (daemon_exec.c) ---- */
void veil_daemon_execute_assignment(veil_daemon *d, const uint8_t job_id[32], const char *job_hex,
                                    uint32_t replica);
void veil_daemon_on_container_status(veil_daemon *d, const uint8_t *data, size_t len,
                                     const struct veil_gs_message *msg);
void veil_daemon_rewatch_containers(veil_daemon *d);
/* A newer assignment bound the replica elsewhere: stop this node's copy. */
void veil_daemon_release_replica(veil_daemon *d, const char *job_hex, uint32_t replica);
void veil_daemon_exec_tick(veil_daemon *d, uint64_t now_ms);

/* Logs a store write that failed (every result is handled or logged). */
void veil_daemon_store_failed(const char *what, const char *job_hex, uint32_t replica,
                              const veil_err *err);

#endif /* VEIL_NODE_DAEMON_CORE_H */
