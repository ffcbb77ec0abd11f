// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_tables.h - private to veild's node daemon: the tables a node keeps
 * in memory, each growing with the load (no fixed caps): the rounds it takes
 * part in (one per job replica, its lifecycle an enum veil_round_state), the
 * containers it watches, and the ids of the jobs it announced. Pure data
 * structures (no I/O, no daemon), unit-tested in tests/unit/veild.
 */
#ifndef VEIL_NODE_DAEMON_TABLES_H
#define VEIL_NODE_DAEMON_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <veil/base.h>
#include <veil/node.h>

#include "daemon.h"

#define ROUND_MAX_DIGESTS 16

/* Plans (epochs) of one attempt a node publishes its key for (daemon_keys.c). */
#define ROUND_KEY_EPOCHS 3

/* One replica's scheduling round, as this node takes part in it. Its
 * lifecycle is `state` alone; the other fields are the data it carries. */
struct round {
    enum veil_round_state state;
    uint64_t changed_ms; /* wall clock of the last state change (pruning) */
    uint8_t job_id[32];
    char job_hex[65];
    uint32_t replica, replicas;
    /* a batch round (round_batch_size >= 2, fixed at each planning): replica
     * 0's round places replicas 0..batch-1 at once; 0 or 1: its own replica */
    uint32_t batch;
    /* the job's request (a confidential job: req holds no values, req_ct
     * does); known from ready on, and kept by a round decided before the
     * job reached this node only once the job arrives */
    bool have_req;
    struct veil_sched_request req;
    uint8_t *req_ct;
    size_t req_ct_len;
    bool i_schedule; /* this node is one of the round's schedulers */
    struct veil_peer_id schedulers[VEIL_MAX_SCHEDULERS];
    size_t n_schedulers;
    struct veil_published_digest digests[ROUND_MAX_DIGESTS];
    uint64_t digest_epochs[ROUND_MAX_DIGESTS];
    size_t n_digests;
    struct {
        struct veil_peer_id from;
        uint64_t epoch;
        uint8_t *data;
        size_t len;
    } outputs[VEIL_MAX_SCHEDULERS];
    size_t n_outputs;
    struct veil_peer_id chosen; /* decided: the node (len 0: unschedulable) */
    uint64_t not_before_ms;
    /* retries (the decryptor's ROUND_RETRY): digests and outputs of epochs
     * before epoch_min belong to an earlier attempt and are ignored */
    uint32_t attempt, work_attempt;
    uint64_t epoch_min;
    /* wall clock when this node last moved the round to ready (its request
     * known, attempt 0 about to be planned, before any wait for admission):
     * attempt 0 evaluates the epoch of this moment (veil_round_plan_times) */
    uint64_t heard_ms;
    uint64_t planned_ms, resend_ms;
    /* the submitter's re-announcements while undecided: how many, and when
     * the next may go (the gap doubles each time) */
    uint32_t reannounced;
    uint64_t reannounce_ms;
    bool test_split; /* TEST ONLY: see veil_daemon.test_split_job */
    /* node-computed keys (daemon_keys.c), fixed at each planning: the round
     * is an argmin over the candidates' published keys; the PBS of this
     * node's last evaluation (logged) */
    bool keys, eval_keys;      /* eval_keys: this node's last evaluation ran over keys */
    uint64_t pbs, eval_cpu_ms; /* and the process's CPU time while it ran */
    /* the epochs of attempt key_attempt this node published its key for
     * (its own plan's, and the plans of others' keys it answered) */
    uint32_t key_attempt;
    uint8_t n_key_epochs;
    uint64_t key_epochs[ROUND_KEY_EPOCHS];
    /* admission (round_table_admit): a ready round waits in the queue, in
     * the order it first asked (queued_seq, 0 = not queued), until fewer
     * than ROUND_ADMIT_MAX rounds are in flight; queue_noted: its replica
     * note says so */
    uint64_t queued_seq;
    bool queue_noted;
    uint64_t eval_start_ms; /* wall clock: this node's evaluation began */
    /* the runner of a replica that ended: when it may report that end again
     * to a node still scheduling it (veil_daemon_report_final) */
    uint64_t final_report_ms;
    /* the deciding node: when it may tell a late scheduler again that the
     * round was given up (veil_daemon_add_digest, the final ROUND_RETRY) */
    uint64_t final_verdict_ms;
    /* a node holding the round planned past its deadline with no digest at
     * all: when it may ask for the round's outcome again, and how often it
     * asked (veil_daemon_outcome_query_due, at most ROUND_QUERY_MAX) */
    uint64_t query_ms;
    uint32_t queries;
    /* threshold clusters: the round's partials and holders' votes
     * (struct holder_round, daemon_holder.h), and whether a worker is
     * squashing this round's output (the round is then never freed) */
    void *th;
    bool holder_busy;
    /* the computation on the worker thread; `busy` while the worker owns
     * the inputs and `output` (the round is then never freed) */
    bool busy;
    uint64_t epoch;
    size_t n_cands;
    struct veil_peer_id *cands;
    uint8_t **lists;
    size_t *list_lens;
    bool *excluded;
    veil_buf output; /* candidates || FHE output */
    int work_rc;
    veil_err work_err;
    uv_work_t work;
    veil_daemon *d;
};

/* Moves a round along its lifecycle (veil_round_transition_ok), stamping
 * changed_ms; a terminal round drops the outputs and inputs it no longer
 * needs. -1 (nothing changed) when the move is not allowed. */
VEIL_WARN_UNUSED int round_move(struct round *r, enum veil_round_state to, uint64_t now_ms,
                                veil_err *err);
/* Gives a round its job's request (a confidential one: a copy of the
 * request ciphertext). */
VEIL_WARN_UNUSED int round_set_req(struct round *r, const struct veil_sched_request *req,
                                   const uint8_t *ct, size_t ct_len);
/* Back to attempt 0 with no digest or output (a replica rescheduled). */
void round_reset_attempts(struct round *r);
void round_free_work(struct round *r);
void round_free_outputs(struct round *r);

/* The submitter's re-announcements of an undecided round: the first one
 * period after planning, then the gap doubles up to 4 periods; after `max`
 * of them STOP comes once (to be reported), then WAIT for good. */
enum round_announce_step { ROUND_ANNOUNCE_WAIT, ROUND_ANNOUNCE_SEND, ROUND_ANNOUNCE_STOP };
enum round_announce_step round_reannounce_step(struct round *r, uint64_t now_ms, uint32_t max);
/* One was sent at now_ms: counts it and sets the next time. */
void round_reannounce_sent(struct round *r, uint64_t now_ms, uint64_t period_ms);
#define ROUND_REANNOUNCE_MAX_GAP                                                                   \
    4 /* periods: a decryptor back from an outage waits at most this                               \
       */

/* The measured wall time of one evaluation on this node (an exponentially
 * weighted mean, 1/4 weight to each new sample). */
struct round_pace {
    uint64_t eval_ms; /* 0: nothing measured yet */
    uint32_t samples;
};

/* The rounds, by (job, replica). Rounds are heap objects: their addresses
 * stay valid while the table grows (a worker item points at one). */
struct round_table {
    struct round **v;
    size_t n, cap;
    uint64_t queue_seq;        /* the last queued_seq handed out */
    struct round_pace pace;    /* this node's evaluations (the decryptor's deadline adapts) */
    void (*free_th)(void *th); /* frees a round's `th` (NULL: none are used) */
};
struct round *round_table_get(const struct round_table *t, const uint8_t job_id[32],
                              uint32_t replica);
/* A new round (state new); NULL when out of memory. */
struct round *round_table_add(struct round_table *t, const uint8_t job_id[32], uint32_t replica,
                              uint64_t now_ms);
/* True when every round of the job in the table is decided or abandoned. */
bool round_table_job_settled(const struct round_table *t, const uint8_t job_id[32]);
/* Drops the rounds that have not changed for retention_ms and are either
 * settled with their whole job, or new (digests of a job this node never
 * heard of). Never a busy round, never a round of a job still in progress
 * (its decided replicas name the nodes later replicas must avoid). Returns
 * how many went. */
size_t round_table_prune(struct round_table *t, uint64_t now_ms, uint64_t retention_ms);
/* Frees every round that is not busy (all of them once no work is in flight). */
void round_table_free(struct round_table *t);

/* ---- admission and pacing (chaos finding 5: overload) ----
 * Every node keeps every round and plans it the same way, so admission is
 * the same rule on every node: at most ROUND_ADMIT_MAX rounds are in flight
 * (planned, evaluating or evaluated, and planned less than `stale_ms` ago:
 * one whose decision this node missed stops counting); a ready round beyond
 * that waits, first come first served, and is planned when one settles
 * (the decisions reach every node within milliseconds, so they admit the
 * same round in the same epoch). A scheduler's queue is then at most
 * ROUND_ADMIT_MAX evaluations, which the decryptor's deadline allows for
 * (round_pace_deadline_ms). */
#define ROUND_ADMIT_MAX 3
/* A shard round of a sharded round (issue 20): it has the job's request but
 * no replica of its own (replicas == 0). */
bool round_is_shard(const struct round *r);
/* Rounds in flight (as above); a sharded round counts once, its shard
 * rounds not at all. */
size_t round_table_in_flight(const struct round_table *t, uint64_t now_ms, uint64_t stale_ms);
/* Ready rounds waiting for admission. */
size_t round_table_queued(const struct round_table *t);
/* Whether the ready round r may be planned now: a slot is free and no
 * round queued before it is still waiting. Gives r its place in the queue
 * the first time it asks. */
bool round_table_admit(struct round_table *t, struct round *r, uint64_t now_ms, uint64_t stale_ms);

/* ---- replicas in one round (issue 20, docs/SCHEDULING.md) ----
 * The rule every node applies when it plans a round, so that schedulers and
 * the decryptor agree on the output's k: a job's replica 0, of a job asking
 * 2..VEIL_SCHED_MAX_REPLICAS replicas, while no replica of the job is placed
 * yet (a replica rescheduled later gets an ordinary round), is a batch round
 * placing all of them, sharded or not (decided by the designated decryptor,
 * which merges the shards' k-lists, or by the key holders alike): returns
 * `replicas` then, else 1. A shard round has no replicas of its own (1): its
 * k is its parent's. */
uint32_t round_batch_size(uint32_t replica, uint32_t replicas, bool any_placed);

void round_pace_sample(struct round_pace *p, uint64_t ms);
/* The decryptor's deadline for an attempt: `base_ms`, or twice the time a
 * scheduler needs to work through a full queue when that is longer (on a
 * loaded machine one evaluation takes tens of seconds; a retry then would
 * only throw work away). */
uint64_t round_pace_deadline_ms(const struct round_pace *p, uint64_t base_ms);
/* The epochs a retry for a deadline waits before its new attempt begins
 * (attempt >= 1): one resend period, doubling, at most 4; a pure function of
 * the retry message, so every node plans the same epoch. */
uint64_t round_retry_backoff_epochs(uint32_t attempt, uint64_t period_ms, uint64_t interval_ms);

/* A container this node started and watches until it ends. */
struct watched {
    uint8_t job_id[32];
    char job_hex[65];
    uint32_t replica;
    char name[128];
};
struct watch_list {
    struct watched *v;
    size_t n, cap;
};
/* Adds (or keeps, when the name is there already). */
VEIL_WARN_UNUSED int watch_list_add(struct watch_list *l, const uint8_t job_id[32],
                                    const char *job_hex, uint32_t replica, const char *name,
                                    veil_err *err);
void watch_list_remove(struct watch_list *l, size_t i);
void watch_list_free(struct watch_list *l);

/* Container starts that failed on this node, each tried again by the
 * executor after a growing delay before it is failed for good
 * (daemon_exec.c). A fixed table: a start that finds it full fails at once. */
#define START_RETRY_MAX 64
struct start_retry {
    char job_hex[65];
    uint32_t replica;
    unsigned failures; /* failed tries so far */
    uint64_t next_ms;  /* uv_now time before which it is not tried */
};
struct start_retries {
    struct start_retry v[START_RETRY_MAX];
    size_t n;
};

/* A set of 64-hex-digit ids (the jobs this node announced). */
struct id_set {
    char (*v)[65];
    size_t n, cap;
};
bool id_set_has(const struct id_set *s, const char *id);
VEIL_WARN_UNUSED int id_set_add(struct id_set *s, const char *id, veil_err *err);
void id_set_clear(struct id_set *s);
void id_set_free(struct id_set *s);

/* ---- catch-up passes (issue 18): when this node asks the members for
 * what it lacks of their jobs (daemon_sync.c). A member coming back asks
 * for a pass soon; one also runs every CATCHUP_PERIOD_MS (a node whose disk
 * filled while it stayed alive learns what it missed); one whose answers
 * announced jobs again is followed by another (their assignments); passes
 * are at least CATCHUP_GAP_MS apart. */
#define CATCHUP_SOON_MS   5000 /* a returning member joins the mesh first */
#define CATCHUP_GAP_MS    10000
#define CATCHUP_PERIOD_MS 60000
struct catchup_clock {
    uint64_t next_ms; /* wall clock of the next pass (0: not scheduled yet) */
    uint64_t last_ms; /* of the last one */
};
void catchup_soon(struct catchup_clock *c, uint64_t now_ms);
/* True when a pass is due now; it is then counted as started. */
bool catchup_due(struct catchup_clock *c, uint64_t now_ms);
/* A pass's answers announced jobs again: one more pass for their decisions. */
void catchup_follow_up(struct catchup_clock *c, uint64_t now_ms);

#endif /* VEIL_NODE_DAEMON_TABLES_H */
