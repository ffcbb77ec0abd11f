// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_rounds.c - a scheduling round's lifecycle on this node (every node
 * keeps the rounds it hears of, whatever its roles): planning (the
 * rendezvous choice of schedulers and the epoch), the digests and outputs
 * that arrive, the decryptor's retries, the signed assignment that decides
 * it (recorded in the store, executed when it names this node, then the
 * job's next replica), rescheduling when a member dies, resuming after a
 * restart, and the periodic work of undecided rounds (re-sends, the
 * submitter's bounded re-announcements, pruning settled rounds); the
 * planning of sharded rounds (shard rounds under derived ids, each with its
 * own schedulers, settled or abandoned with their round); batch rounds (a
 * job's replicas placed by its replica 0's round: round_batch_size).
 * Issue 18: attempt 0 evaluates the epoch of the moment the round was heard
 * (heard_ms), not of its admission; a ready round whose replica is placed
 * already (taken back by its node, or decided by an assignment delivered
 * again) is settled without a slot, and so is an admitted one (planned,
 * evaluating, evaluated) once no worker holds it; a node keeps its copy of a
 * replica whose new assignment its store refused; a decided round records
 * an assignment of a later epoch (the others placed its replica again); a
 * scheduler that heard of a round late adopts the earlier epoch of the
 * others' digests before it starts (round.c "late nodes"); a node holding
 * a replica decided joins the designated decryptor's later scheduling of it
 * (reopen_if_placed_again), and the deciding node tells a scheduler still
 * evaluating a round it gave up that verdict again (resend_final_verdict).
 *
 * Rounds nobody can end (issue 18, chaos s8): a node may hold a round that
 * no scheduler evaluates (it alone missed the replica's end and rescheduled
 * it when the runner died, or resumed a round the others decided or gave
 * up), so no digest ever comes, and with it neither the runner's report
 * nor the decider's verdict (both answer digests). The rule: a node holding
 * a round planned (not a shard round) for longer than the round deadline
 * with no digest at all publishes an outcome query (a SCHED_DIGEST with
 * `ask`, no epoch and no digest, authored by itself: never counted as a
 * vote), at most once per re-send period and ROUND_QUERY_MAX times per
 * round. Every node answers a query exactly as it answers a digest, for a
 * round or replica it holds (veil_daemon_answer_outcome): the replica's
 * runner with its final report (exited or failed, once per period), the
 * deciding node with the final retry of a round it gave up (once per
 * period). Nothing new is trusted: a report counts only from the node the
 * replica is bound to, a retry only from the decryptor (or a key holder),
 * as before; the query itself changes no state anywhere. A round whose
 * replica a later assignment moved is answered by the catch-up query (the
 * missing assignment), not by this rule.
 *
 * A replica that ran to its end (issue 18, session 9, chaos short19): its
 * runner, declared dead after the replica ended and before every node heard
 * the end, is replaced by a later assignment. The rule, the same on every
 * node whatever order it hears things in: the binding follows the latest
 * assignment; an end stays an end. A later assignment naming another node
 * than the one an exited replica is bound to is recorded as the current one
 * and the replica is bound to that node, still exited, nothing started or
 * stopped (record_ended); the node it names, if it heard the end, adopts it
 * instead of running the replica again and reports it as its own
 * (veil_daemon_report_adopted_end), so that nodes holding the replica
 * assigned to it converge on exited (assigned -> exited, from the bound
 * node only). A node that never heard the end runs it again (at least once,
 * never two at a time); the others ignore that copy's reports (an end stays
 * an end, daemon_exec.c). Every node shows one runner: the latest
 * assignment's. Older assignments stay history (record_if_older).
 *
 * A round's state moves only through veil_daemon_round_move (the table of
 * veil_round_transition_ok); its data lives in struct round
 * (daemon_tables.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_policy.h"
#include "daemon_sched.h"
#include "daemon_sync.h"

#define EPOCH_GUARD_MS 300 /* rounds start this far from an epoch boundary */

struct round *veil_daemon_round(veil_daemon *d, const uint8_t job_id[32], uint32_t replica,
                                bool create)
{
    struct round *r = round_table_get(&d->rounds, job_id, replica);
    if (r || !create)
        return r;
    r = round_table_add(&d->rounds, job_id, replica, veil_daemon_wall_ms());
    if (!r) {
        veil_log(VEIL_LOG_WARN, SUB, "out of memory for a round", "rounds=%zu", d->rounds.n);
        return NULL;
    }
    r->d = d;
    return r;
}

int veil_daemon_round_move(veil_daemon *d, struct round *r, enum veil_round_state to)
{
    (void)d;
    veil_err err = {0};
    enum veil_round_state from = r->state;
    uint64_t now = veil_daemon_wall_ms();
    if (round_move(r, to, now, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "round move refused", "error=\"%s\"", err.msg);
        return -1;
    }
    /* ready is entered only from new (the job's request arrived) or decided
     * (its replica is rescheduled): either way attempt 0 begins, heard now */
    if (to == VEIL_ROUND_ST_READY)
        r->heard_ms = now;
    veil_log(VEIL_LOG_DEBUG, SUB, "round", "job=%.16s replica=%u from=%s to=%s", r->job_hex,
             r->replica, veil_round_state_name(from), veil_round_state_name(to));
    return 0;
}

void veil_daemon_store_failed(const char *what, const char *job_hex, uint32_t replica,
                              const veil_err *err)
{
    veil_log(VEIL_LOG_WARN, SUB, "store write failed", "what=%s job=%.16s replica=%u error=\"%s\"",
             what, job_hex ? job_hex : "-", replica, err->msg);
}

/* Moves a replica forward along pending|rescheduling -> scheduling ->
 * awaiting_decryption, as far as `to`. */
void veil_daemon_replica_state(veil_daemon *d, const char *job_hex, uint32_t replica,
                               enum veil_replica_state to)
{
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    veil_err err = {0};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(path); i++) {
        enum veil_replica_state cur;
        if (veil_store_replica_get_state(d->store, job_hex, replica, &cur, &err) != 0 || cur == to)
            return; /* a job this node does not hold, or there already */
        /* never backwards: a restarted node re-planning a round it had seen
         * reach awaiting_decryption leaves it there (only a retry goes back) */
        if (cur == VEIL_REPLICA_AWAITING_DECRYPTION && to == VEIL_REPLICA_SCHEDULING)
            return;
        if (veil_replica_transition_ok(cur, path[i]) &&
            veil_store_replica_set_state(d->store, job_hex, replica, path[i], NULL, &err) != 0)
            veil_daemon_store_failed("replica state", job_hex, replica, &err);
        if (path[i] == to)
            return;
    }
}

/* The request of a round from its job's spec (and, for a confidential job,
 * the request ciphertext the spec's digest names). */
int veil_daemon_round_req_from_spec(struct round *r, const struct veil_job_spec *spec,
                                    const uint8_t *ct, size_t ct_len)
{
    struct veil_sched_request req = {0};
    req.policy = spec->policy;
    req.latency_to = spec->latency_to; /* public: which landmark, not a latency */
    req.latency_weight = spec->latency_weight;
    req.load_weight = spec->load_weight;
    req.confidential = spec->redacted;
    if (!spec->redacted) {
        req.region = spec->region;
        req.zone = spec->zone;
        veil_err err = {0};
        if (veil_telemetry_quantize_request(spec, req.res, &err) != 0) {
            /* no node can ever satisfy it: the circuit over zero candidates */
            memset(req.res, 0xff, sizeof req.res);
        }
    }
    r->replicas = spec->replicas;
    return round_set_req(r, &req, ct, ct_len);
}

/* A round in flight this long without a decision here stops counting
 * against admission (this node missed its assignment or its retry). */
static uint64_t round_stale_ms(const veil_daemon *d)
{
    return 2 * veil_daemon_round_deadline_ms(d);
}

/* A ready round that admission holds back: it waits (never fails) and its
 * replica's note says so, once. */
static void round_queued(veil_daemon *d, struct round *r, uint64_t now)
{
    if (r->queue_noted)
        return;
    r->queue_noted = true;
    size_t flying = round_table_in_flight(&d->rounds, now, round_stale_ms(d));
    size_t queued = round_table_queued(&d->rounds);
    veil_log(VEIL_LOG_INFO, SUB, "round queued",
             "job=%.16s replica=%u in_flight=%zu queued=%zu max=%d", r->job_hex, r->replica, flying,
             queued, ROUND_ADMIT_MAX);
    char note[160];
    snprintf(note, sizeof note, "queued: %zu rounds in flight, %zu waiting (admission)", flying,
             queued);
    veil_err err = {0};
    if (veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err) != 0)
        veil_daemon_store_failed("replica note", r->job_hex, r->replica, &err);
}

static void plan_now(veil_daemon *d, struct round *r, uint64_t now);
static int round_req_from_store(veil_daemon *d, struct round *r);

static bool round_undecided_planned(const struct round *r)
{
    return r->state == VEIL_ROUND_ST_PLANNED || r->state == VEIL_ROUND_ST_EVALUATING ||
           r->state == VEIL_ROUND_ST_EVALUATED;
}

/* A later replica's round while replica 0's undecided batch round places
 * it (a restarted node resumes every unfinished replica): it waits, never
 * queued, and is decided by the batch's assignment. */
static bool placed_by_batch(veil_daemon *d, const struct round *r)
{
    if (r->replica == 0)
        return false;
    const struct round *b = round_table_get(&d->rounds, r->job_id, 0);
    return b && b->batch > r->replica && round_undecided_planned(b);
}

static void start_next_replica(veil_daemon *d, const struct round *prev);

/* A ready round whose replica the store shows placed already: its node took
 * it back (running again after it was rescheduled: `taken_back`), or an
 * assignment delivered again decided it (assigned, running, exited), or the
 * node bound to it reported its container failed (issue 18: a failed
 * replica's round ends here, it is never planned again; only its node's
 * report or the deciding node's final retry make a replica failed, and a
 * final retry abandons the round first). */
static bool replica_placed(veil_daemon *d, const struct round *r)
{
    enum veil_replica_state cur;
    veil_err err = {0};
    if (r->replicas == 0 ||
        veil_store_replica_get_state(d->store, r->job_hex, r->replica, &cur, &err) != 0)
        return false; /* a shard round, or a job not held here */
    return cur == VEIL_REPLICA_ASSIGNED || cur == VEIL_REPLICA_RUNNING ||
           cur == VEIL_REPLICA_EXITED || cur == VEIL_REPLICA_FAILED;
}

static void shard_children_end(veil_daemon *d, struct round *parent, enum veil_round_state to);

/* Whether a worker holds the round or one of its shard rounds (an FHE
 * evaluation, a merge, a threshold squash): it is settled only once the
 * worker has handed it back (sched_after, merge_after run on the loop). */
static bool round_in_worker(veil_daemon *d, const struct round *r)
{
    struct round *kids[VEIL_ROUND_MAX_SHARDS];
    if (r->busy || r->holder_busy)
        return true;
    size_t n = veil_daemon_shard_children(d, r, kids);
    for (size_t s = 0; s < n; s++)
        if (kids[s] && (kids[s]->busy || kids[s]->holder_busy))
            return true;
    return false;
}

/* Such a round has nothing left to place: it is decided at once with the
 * node the store binds (no evaluation, no admission slot, no decision of
 * the decryptor), logged once (the round leaves ready or its attempt), its
 * shard rounds end with it, and the job's next replica goes on. */
static void settle_placed(veil_daemon *d, struct round *r)
{
    enum veil_replica_state cur = VEIL_REPLICA_PENDING;
    enum veil_round_state from = r->state;
    char node[96] = "";
    veil_p2p_peer_id pid;
    veil_err err = {0};
    bool queued = r->queued_seq != 0;
    if (veil_store_replica_get_state(d->store, r->job_hex, r->replica, &cur, &err) != 0)
        return;
    if (from != VEIL_ROUND_ST_READY)
        shard_children_end(d, r, VEIL_ROUND_ST_DECIDED);
    if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_DECIDED) != 0)
        return;
    memset(&r->chosen, 0, sizeof r->chosen);
    if (veil_store_replica_get_node(d->store, r->job_hex, r->replica, node, sizeof node, &err) ==
            0 &&
        node[0] && veil_p2p_peer_id_parse(node, &pid, &err) == 0)
        veil_daemon_to_peer(&r->chosen, &pid);
    veil_log(VEIL_LOG_INFO, SUB, "round settled: its replica is placed already",
             "job=%.16s replica=%u state=%s node=%s queued=%d round=%s attempt=%u", r->job_hex,
             r->replica, veil_replica_state_name(cur), node[0] ? node : "-", queued,
             veil_round_state_name(from), r->attempt + 1);
    start_next_replica(d, r);
}

bool veil_daemon_round_settle_placed(veil_daemon *d, struct round *r)
{
    if (veil_daemon_round_is_shard(r) || !r->have_req ||
        (r->state != VEIL_ROUND_ST_READY && !round_undecided_planned(r)) || !replica_placed(d, r))
        return false;
    if (!round_in_worker(d, r))
        settle_placed(d, r);
    return true; /* placed: nothing may decide it, settled now or once handed back */
}

/* Chooses the round's schedulers over the members SWIM says are alive and
 * fixes the epoch it evaluates. A round planned for the first time must be
 * admitted first (round_table_admit): otherwise it stays ready, queued. A
 * round whose replica is placed already is settled instead (issue 18: it
 * waited for a slot it did not need). */
void veil_daemon_plan_round(veil_daemon *d, struct round *r)
{
    if (!r->have_req || placed_by_batch(d, r))
        return;
    if (r->state == VEIL_ROUND_ST_READY && veil_daemon_round_settle_placed(d, r))
        return;
    uint64_t now = veil_daemon_wall_ms();
    if (!round_table_admit(&d->rounds, r, now, round_stale_ms(d))) {
        round_queued(d, r, now);
        return;
    }
    plan_now(d, r, now);
}

/* ---- sharded rounds (docs/SCHEDULING.md "Sharded rounds in veild") ----
 * A round over more alive members than the shard size is split: its shards
 * are rounds of their own under derived ids (veil_round_shard_id), each
 * with its own rendezvous choice of schedulers, digests and retries; a
 * shard round is a planned round with no replicas of its own. The round
 * itself (the parent) is evaluated by nobody: the designated decryptor
 * merges the shards' vouched-for outputs and decides it. */

/* The shard size of the cluster's on-chain policy (0 = never sharded; the
 * same on every node: daemon_policy.c keeps the last read's value). */
static size_t shard_setting(veil_daemon *d)
{
    size_t size, redundancy;
    return veil_daemon_shard_policy(d, &size, &redundancy) ? size : 0;
}

/* Schedulers per shard: the policy's shardRedundancy, 1..VEIL_MAX_SCHEDULERS. */
static size_t shard_redundancy(veil_daemon *d)
{
    size_t size, redundancy;
    (void)veil_daemon_shard_policy(d, &size, &redundancy);
    return redundancy;
}

/* The shards of a round over n alive members: 1 (unsharded) without a
 * shard size, in a threshold cluster (its holders decide rounds, not one
 * decryptor) or without a known decryptor. */
static size_t round_shards(veil_daemon *d, size_t n_alive)
{
    if (d->th.cluster || !d->have_decryptor_peer)
        return 1;
    return veil_round_shard_count(n_alive, shard_setting(d));
}

bool veil_daemon_round_is_shard(const struct round *r)
{
    return round_is_shard(r);
}

size_t veil_daemon_shard_children(veil_daemon *d, const struct round *parent,
                                  struct round *kids[VEIL_ROUND_MAX_SHARDS])
{
    if (veil_daemon_round_is_shard(parent) || !parent->have_req)
        return 0;
    uint8_t id[32];
    for (uint32_t n = 2; n <= VEIL_ROUND_MAX_SHARDS; n++) {
        veil_round_shard_id(id, parent->job_id, parent->replica, parent->epoch, n, 0);
        const struct round *first = round_table_get(&d->rounds, id, 0);
        if (!first || !first->have_req)
            continue; /* none, or only heard of (another node's view of the count) */
        for (uint32_t s = 0; s < n; s++) {
            veil_round_shard_id(id, parent->job_id, parent->replica, parent->epoch, n, s);
            kids[s] = round_table_get(&d->rounds, id, 0);
        }
        return n;
    }
    return 0;
}

struct round *veil_daemon_shard_parent(veil_daemon *d, const struct round *child, size_t *shard,
                                       size_t *n_shards)
{
    if (!veil_daemon_round_is_shard(child))
        return NULL;
    for (size_t i = 0; i < d->rounds.n; i++) {
        struct round *p = d->rounds.v[i];
        struct round *kids[VEIL_ROUND_MAX_SHARDS];
        if (!round_undecided_planned(p) || veil_daemon_round_is_shard(p))
            continue; /* a decided round's shards are settled with it */
        size_t n = veil_daemon_shard_children(d, p, kids);
        for (size_t s = 0; s < n; s++)
            if (kids[s] == child) {
                *shard = s;
                *n_shards = n;
                return p;
            }
    }
    return NULL;
}

/* The shards of the parent's current plan end with it (decided: its
 * assignment settles them; re-planned: a retry's new shards replace them). */
static void shard_children_end(veil_daemon *d, struct round *parent, enum veil_round_state to)
{
    struct round *kids[VEIL_ROUND_MAX_SHARDS];
    size_t n = veil_daemon_shard_children(d, parent, kids);
    for (size_t s = 0; s < n; s++)
        if (kids[s] && !veil_round_state_terminal(kids[s]->state) &&
            veil_daemon_round_move(d, kids[s], to) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "shard round not ended", "job=%.16s shard=%zu",
                     parent->job_hex, s);
}

/* The alive members, as rounds choose their schedulers among them. */
static size_t alive_members(veil_daemon *d, struct veil_peer_id *alive)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].alive)
            veil_daemon_to_peer(&alive[n++], &d->members[i].id);
    return n;
}

/* The rendezvous choice of up to k schedulers for the round's id. */
static void choose_schedulers(veil_daemon *d, struct round *r, const struct veil_peer_id *alive,
                              size_t n, size_t k)
{
    size_t chosen[VEIL_MAX_SCHEDULERS];
    r->n_schedulers = veil_select_schedulers(r->job_id, alive, n, k, chosen);
    struct veil_peer_id self;
    veil_daemon_to_peer(&self, &d->self);
    r->i_schedule = false;
    for (size_t i = 0; i < r->n_schedulers; i++) {
        r->schedulers[i] = alive[chosen[i]];
        if (veil_daemon_peer_eq(&r->schedulers[i], &self))
            r->i_schedule = true;
    }
}

/* Fixes the epoch a (re-)planned round evaluates and its clocks. */
static void plan_times(veil_daemon *d, struct round *r, uint64_t now)
{
    /* Every scheduler must pick the same epoch: they hear of the job within
     * milliseconds of each other, so attempt 0 takes the epoch of the moment
     * this node heard of it (heard_ms), kept away from an epoch boundary,
     * however long it then waited for admission (each node admits a queued
     * round at its own moment); a retry waits for an epoch after the ones
     * the failed attempt used (veil_round_plan_times). The epoch is fixed
     * here, not when the evaluation starts: a scheduler busy with other
     * rounds evaluates later, on the same inputs (refresh_epoch moves on
     * only once those inputs left the telemetry history). */
    struct veil_round_plan plan;
    veil_round_plan_times(r->heard_ms, now, d->interval_ms, EPOCH_GUARD_MS, r->attempt,
                          r->epoch_min, ROUND_EPOCH_MAX_LAG, &plan);
    r->not_before_ms = plan.not_before_ms;
    r->epoch = plan.epoch;
    /* the attempt's clock (deadline, re-sends) starts when it may begin: a
     * retry's backoff is not counted against it */
    r->planned_ms = r->not_before_ms > now ? r->not_before_ms : now;
    r->resend_ms = r->planned_ms + veil_daemon_resend_period_ms(d);
}

/* Logs a shard's schedulers (the e2e test reads who schedules which shard). */
static void log_shard(const struct round *parent, const struct round *c, size_t s, size_t n)
{
    char who[VEIL_MAX_SCHEDULERS * 20 + 1] = "";
    size_t at = 0;
    for (size_t i = 0; i < c->n_schedulers && at + 20 < sizeof who; i++) {
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(c->schedulers[i].bytes, c->schedulers[i].len, &pid,
                                        NULL) != 0)
            continue;
        const char *text = veil_p2p_peer_id_str(&pid).s;
        size_t tl = strlen(text);
        at += (size_t)snprintf(who + at, sizeof who - at, "%s%s", i ? "," : "",
                               text + (tl > 12 ? tl - 12 : 0));
    }
    veil_log(VEIL_LOG_INFO, SUB, "shard planned",
             "job=%.16s replica=%u shard=%zu of=%zu id=%.16s epoch=%llu schedulers=%s me=%d",
             parent->job_hex, parent->replica, s, n, c->job_hex, (unsigned long long)c->epoch, who,
             c->i_schedule);
}

/* The parent's shard rounds for its current epoch, planned with it. */
static void plan_children(veil_daemon *d, struct round *parent, const struct veil_peer_id *alive,
                          size_t n_alive, size_t n)
{
    for (size_t s = 0; s < n; s++) {
        uint8_t id[32];
        veil_round_shard_id(id, parent->job_id, parent->replica, parent->epoch, (uint32_t)n,
                            (uint32_t)s);
        struct round *c = veil_daemon_round(d, id, 0, true);
        if (!c || c->state != VEIL_ROUND_ST_NEW)
            continue; /* planned already (the same plan seen twice) */
        if (round_set_req(c, &parent->req, parent->req_ct, parent->req_ct_len) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "out of memory for a shard round", "job=%.16s",
                     parent->job_hex);
            continue;
        }
        c->replicas = 0; /* a shard round: no replica of its own */
        if (veil_daemon_round_move(d, c, VEIL_ROUND_ST_READY) != 0 ||
            veil_daemon_round_move(d, c, VEIL_ROUND_ST_PLANNED) != 0)
            continue;
        choose_schedulers(d, c, alive, n_alive, shard_redundancy(d));
        c->epoch_min = parent->epoch_min;
        c->epoch = parent->epoch;
        c->not_before_ms = parent->not_before_ms;
        c->planned_ms = parent->planned_ms;
        c->resend_ms = parent->resend_ms;
        log_shard(parent, c, s, n);
        if (parent->test_split && s == 1 && c->i_schedule)
            veil_daemon_shard_test_lie(d, c); /* TEST ONLY */
    }
}

/* Whether any replica of the round's job is past its round here (assigned,
 * running, exited, failed, unschedulable or rescheduling): then no batch. */
static bool job_any_placed(veil_daemon *d, const struct round *r)
{
    for (uint32_t k = 0; k < r->replicas; k++) {
        enum veil_replica_state st;
        veil_err err = {0};
        if (veil_store_replica_get_state(d->store, r->job_hex, k, &st, &err) == 0 &&
            st != VEIL_REPLICA_PENDING && st != VEIL_REPLICA_SCHEDULING &&
            st != VEIL_REPLICA_AWAITING_DECRYPTION)
            return true;
    }
    return false;
}

/* Moves every replica the round places (a batch: all of them) forward. */
static void round_replicas_state(veil_daemon *d, const struct round *r, enum veil_replica_state to)
{
    uint32_t n = r->batch > 1 ? r->batch : 1;
    for (uint32_t k = 0; k < n; k++)
        veil_daemon_replica_state(d, r->job_hex, r->replica + k, to);
}

/* Whether this node's telemetry history holds epoch e for every alive
 * member (an entry at or before it, nothing after it dropped): then its
 * inputs for e are those the other schedulers used. */
static bool epoch_held(veil_daemon *d, uint64_t e)
{
    for (size_t i = 0; i < d->n_members; i++) {
        const struct member *m = &d->members[i];
        if (m->alive && (veil_daemon_member_evicted(m, e) ||
                         veil_daemon_member_hist_at(m, e) == TELEMETRY_HISTORY))
            return false;
    }
    return true;
}

static bool is_scheduler(const struct round *r, const struct veil_peer_id *p)
{
    for (size_t i = 0; i < r->n_schedulers; i++)
        if (veil_daemon_peer_eq(&r->schedulers[i], p))
            return true;
    return false;
}

/* Late nodes (round.c): a scheduler that has not started the round takes
 * the earliest epoch another of its schedulers published a digest for in
 * this attempt, when veil_round_epoch_adopt allows it. Unsharded rounds
 * only: a sharded round's epoch names its shard rounds. */
static void adopt_epoch(veil_daemon *d, struct round *r)
{
    struct round *kids[VEIL_ROUND_MAX_SHARDS];
    if (r->state != VEIL_ROUND_ST_PLANNED || !r->i_schedule || r->busy ||
        veil_daemon_round_is_shard(r) || veil_daemon_shard_children(d, r, kids) > 0)
        return;
    uint64_t now = veil_daemon_wall_ms(), now_e = veil_epoch_of(now, d->interval_ms);
    uint64_t newest = now_e ? now_e - 1 : 0, best = r->epoch;
    for (size_t i = 0; i < r->n_digests; i++) {
        uint64_t e = r->digest_epochs[i];
        if (e < best && is_scheduler(r, &r->digests[i].scheduler) &&
            veil_round_epoch_adopt(r->epoch, e, r->epoch_min, newest, epoch_held(d, e)))
            best = e;
    }
    if (best == r->epoch)
        return;
    veil_log(VEIL_LOG_INFO, SUB, "round epoch adopted from a scheduler's digest",
             "job=%.16s replica=%u attempt=%u epoch=%llu was=%llu", r->job_hex, r->replica,
             r->attempt + 1, (unsigned long long)best, (unsigned long long)r->epoch);
    r->epoch = best;
    uint64_t start = veil_round_start_ms((best + 1) * d->interval_ms, d->interval_ms,
                                         EPOCH_GUARD_MS, r->epoch_min);
    if (start < r->not_before_ms)
        r->not_before_ms = start; /* complete already: it may start at once */
}

/* Plans a round admitted already (or re-planned by a retry). */
static void plan_now(veil_daemon *d, struct round *r, uint64_t now)
{
    bool shard = veil_daemon_round_is_shard(r);
    if (!shard && round_undecided_planned(r))
        shard_children_end(d, r, VEIL_ROUND_ST_ABANDONED); /* a re-plan: new shards */
    if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_PLANNED) != 0)
        return;
    struct veil_peer_id alive[MAX_MEMBERS];
    size_t n = alive_members(d, alive);
    size_t n_shards = shard ? 1 : round_shards(d, n);
    plan_times(d, r, now);
    if (shard) { /* a shard's retry: its own schedulers again */
        choose_schedulers(d, r, alive, n, shard_redundancy(d));
        veil_log(VEIL_LOG_INFO, SUB, "shard re-planned", "id=%.16s attempt=%u schedulers=%zu me=%d",
                 r->job_hex, r->attempt + 1, r->n_schedulers, r->i_schedule);
        return;
    }
    /* the policy's schedFlags, like the shard size (SCHED_NO_BATCH: one
     * round per replica, as before issue 20) */
    r->batch = veil_daemon_sched_batch(d)
                   ? round_batch_size(r->replica, r->replicas, job_any_placed(d, r))
                   : 1;
    veil_daemon_keys_planned(d, r); /* node-computed keys (daemon_keys.c) */
    if (n_shards > 1) {
        /* nobody evaluates the parent: the decryptor merges its shards (its
         * one "scheduler", so that the round waits for it, never splits) */
        r->i_schedule = false;
        r->n_schedulers = 1;
        veil_daemon_to_peer(&r->schedulers[0], &d->decryptor_peer);
    } else {
        choose_schedulers(d, r, alive, n, VEIL_MAX_SCHEDULERS);
    }
    round_replicas_state(d, r, VEIL_REPLICA_SCHEDULING);
    veil_log(VEIL_LOG_INFO, SUB, "round planned",
             "job=%.16s replica=%u attempt=%u schedulers=%zu me=%d shards=%zu batch=%u "
             "in_flight=%zu queued=%zu",
             r->job_hex, r->replica, r->attempt + 1, r->n_schedulers, r->i_schedule, n_shards,
             r->batch, round_table_in_flight(&d->rounds, now, round_stale_ms(d)),
             round_table_queued(&d->rounds));
    if (n_shards > 1)
        plan_children(d, r, alive, n, n_shards);
    else
        adopt_epoch(d, r); /* digests of schedulers that heard of it earlier */
    /* outputs and digests may have arrived before this node knew the job
     * (a decryptor that just restarted) */
    veil_daemon_try_decide(d, r);
}

/* A round's new digest or output: the decryptor decides an ordinary round;
 * a shard round moves its parent's merge on instead (never decrypted on
 * its own, so never passed to the decision while the decryptor holds an
 * output of it; a shard whose digests split is retried at once). */
static void round_progress(veil_daemon *d, struct round *r)
{
    if (!veil_daemon_round_is_shard(r)) {
        veil_daemon_try_decide(d, r);
        return;
    }
    if (veil_daemon_shard_check(d, r))
        return; /* its round starts over */
    size_t s, n;
    struct round *p = veil_daemon_shard_parent(d, r, &s, &n);
    if (p)
        veil_daemon_shard_try_merge(d, p);
}

bool veil_daemon_shard_check(veil_daemon *d, struct round *r)
{
    if (!daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || !round_undecided_planned(r))
        return false;
    struct veil_round_tally t;
    if (veil_round_decide(r->schedulers, r->n_schedulers, r->digests, r->n_digests, false,
                          r->attempt, VEIL_ROUND_MAX_ATTEMPTS, NULL, &t) == VEIL_ROUND_AGREED)
        return false;
    /* the votes still possible: schedulers that have not voted and are alive */
    size_t open = 0;
    for (size_t i = 0; i < r->n_schedulers; i++) {
        bool voted = false;
        for (size_t k = 0; k < r->n_digests && !voted; k++)
            voted = veil_daemon_peer_eq(&r->digests[k].scheduler, &r->schedulers[i]);
        const struct member *m = veil_daemon_member_get(d, r->schedulers[i].bytes,
                                                        r->schedulers[i].len, false);
        open += !voted && m && m->alive;
    }
    if (t.largest + open >= t.needed)
        return false;
    size_t s, n;
    struct round *p = veil_daemon_shard_parent(d, r, &s, &n);
    veil_log(VEIL_LOG_WARN, SUB, "shard cannot agree: its round starts over",
             "id=%.16s shard=%zu voted=%zu largest=%zu still_alive=%zu needed=%zu", r->job_hex, s,
             t.voted, t.largest, open, t.needed);
    /* the whole round, not the shard alone: a shard on a later epoch would
     * no longer tile one candidate list with the others */
    veil_daemon_shard_retry(d, p ? p : r);
    return true;
}

void veil_daemon_add_output(veil_daemon *d, struct round *r, const struct veil_peer_id *from,
                            uint64_t epoch, const uint8_t *data, size_t len)
{
    if (veil_round_state_terminal(r->state) || epoch < r->epoch_min)
        return; /* decided, or an earlier attempt's */
    size_t slot = r->n_outputs;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (veil_daemon_peer_eq(&r->outputs[i].from, from)) {
            if (r->outputs[i].epoch >= epoch)
                return; /* one output per scheduler and epoch: its first */
            slot = i;   /* a newer evaluation by the same scheduler */
        }
    if (slot == VEIL_MAX_SCHEDULERS)
        return;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    if (slot < r->n_outputs)
        free(r->outputs[slot].data);
    else
        r->n_outputs++;
    r->outputs[slot].from = *from;
    r->outputs[slot].epoch = epoch;
    r->outputs[slot].data = copy;
    r->outputs[slot].len = len;
    round_progress(d, r);
}

/* A replica this node decides gave up on (abandoned here, or failed in its
 * store with the round pruned from memory): a scheduler still evaluating it
 * (it was down or cut off when the final retry went out, and resumed it)
 * would wait forever. The deciding node publishes the final retry again,
 * at most once per re-send period per round (issue 18, chaos s8: `settled`
 * VIOLATED, short20 resumed 15 minutes after it was abandoned). */
bool veil_daemon_final_verdict_due(veil_daemon *d, struct round *r, uint64_t now_ms)
{
    if (!daemon_has_role(d, VEIL_ROLE_DECRYPTOR) && !daemon_has_role(d, VEIL_ROLE_KEY_HOLDER))
        return false;
    if (veil_daemon_round_is_shard(r) || now_ms < r->final_verdict_ms)
        return false;
    enum veil_replica_state st;
    veil_err err = {0};
    bool given_up = r->state == VEIL_ROUND_ST_ABANDONED ||
                    (r->state == VEIL_ROUND_ST_NEW && !r->have_req &&
                     veil_store_replica_get_state(d->store, r->job_hex, r->replica, &st, &err) == 0 &&
                     st == VEIL_REPLICA_FAILED);
    if (given_up)
        r->final_verdict_ms = now_ms + veil_daemon_resend_period_ms(d);
    return given_up;
}

static void resend_final_verdict(veil_daemon *d, struct round *r, uint64_t now)
{
    if (!veil_daemon_final_verdict_due(d, r, now) || !d->gs)
        return; /* (no gossip host: a daemon without network, as in tests) */
    struct veil_msg_round_retry m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.attempt = VEIL_ROUND_MAX_ATTEMPTS;
    m.reason = VEIL_RETRY_DEADLINE;
    m.final = true;
    m.epoch_min = veil_epoch_of(now, d->interval_ms);
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_round_retry_encode(&msg, &m, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "round retry not encoded", "error=\"%s\"", err.msg);
    } else {
        veil_daemon_publish(d, &msg, "final round retry");
        veil_log(VEIL_LOG_INFO, SUB, "given-up round told again to a late scheduler",
                 "job=%.16s replica=%u", r->job_hex, r->replica);
    }
    veil_buf_free(&msg);
}

void veil_daemon_answer_outcome(veil_daemon *d, struct round *r, uint64_t now_ms)
{
    veil_daemon_report_final(d, r, now_ms); /* the runner: the replica's end */
    resend_final_verdict(d, r, now_ms);     /* the decider: a round it gave up */
}

bool veil_daemon_outcome_query_due(veil_daemon *d, struct round *r, uint64_t now_ms)
{
    if (!round_undecided_planned(r) || veil_daemon_round_is_shard(r) || r->n_digests > 0 ||
        r->queries >= ROUND_QUERY_MAX || now_ms < r->query_ms ||
        now_ms < r->planned_ms + veil_daemon_round_deadline_ms(d))
        return false;
    r->query_ms = now_ms + veil_daemon_resend_period_ms(d);
    r->queries++;
    return true;
}

/* Asks the nodes that know the round's outcome to say it again. */
static void ask_outcome(veil_daemon *d, struct round *r, uint64_t now)
{
    if (!veil_daemon_outcome_query_due(d, r, now) || !d->gs)
        return;
    struct veil_msg_sched_digest m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.ask = true; /* epoch and digest zero */
    veil_daemon_to_peer(&m.scheduler, &d->self);
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_sched_digest_encode(&msg, &m, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "outcome query not encoded", "error=\"%s\"", err.msg);
    } else {
        veil_daemon_publish(d, &msg, "outcome query");
        veil_log(VEIL_LOG_INFO, SUB, "round without any digest past its deadline: outcome asked",
                 "job=%.16s replica=%u asked=%u", r->job_hex, r->replica, r->queries);
    }
    veil_buf_free(&msg);
}

/* An outcome query from another node: answered for a round this node
 * holds, or a replica its store holds (a round pruned from memory is
 * created again, as a digest would); a job it never heard of creates
 * nothing. */
static void answer_query(veil_daemon *d, const struct veil_msg_sched_digest *m)
{
    struct round *r = veil_daemon_round(d, m->job_id, m->replica, false);
    if (!r) {
        char hex[65];
        enum veil_replica_state st;
        veil_err err = {0};
        veil_hex_encode(hex, sizeof hex, m->job_id, 32);
        if (veil_store_replica_get_state(d->store, hex, m->replica, &st, &err) != 0)
            return;
        r = veil_daemon_round(d, m->job_id, m->replica, true);
        if (!r)
            return;
    }
    veil_daemon_answer_outcome(d, r, veil_daemon_wall_ms());
}

void veil_daemon_add_digest(veil_daemon *d, struct round *r, const struct veil_peer_id *from,
                            uint64_t epoch, const uint8_t digest[32])
{
    /* a node still schedules a replica this node ran to its end, or a
     * round this node gave up */
    veil_daemon_answer_outcome(d, r, veil_daemon_wall_ms());
    if (veil_round_state_terminal(r->state) || epoch < r->epoch_min)
        return; /* decided, or an earlier attempt's */
    size_t slot = r->n_digests;
    for (size_t i = 0; i < r->n_digests; i++)
        if (veil_daemon_peer_eq(&r->digests[i].scheduler, from)) {
            if (r->digest_epochs[i] >= epoch)
                return; /* its first digest for this attempt counts (re-sends too) */
            slot = i;
        }
    if (slot == ROUND_MAX_DIGESTS)
        return;
    r->digests[slot].scheduler = *from;
    memcpy(r->digests[slot].digest, digest, 32);
    r->digest_epochs[slot] = epoch;
    if (slot == r->n_digests)
        r->n_digests++;
    round_replicas_state(d, r, VEIL_REPLICA_AWAITING_DECRYPTION);
    /* A scheduler admitted this round (its digest says so) while this node
     * still holds it queued (their views differed: a restart, a partition).
     * The node that decides plans it now, so that it can decide it. */
    if (r->state == VEIL_ROUND_ST_READY && r->have_req &&
        (daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || daemon_has_role(d, VEIL_ROLE_KEY_HOLDER))) {
        veil_log(VEIL_LOG_INFO, SUB, "queued round admitted: a scheduler evaluated it",
                 "job=%.16s replica=%u", r->job_hex, r->replica);
        plan_now(d, r, veil_daemon_wall_ms()); /* then tries to decide */
        return;
    }
    adopt_epoch(d, r);
    round_progress(d, r);
}

static void replica_note(veil_daemon *d, const struct round *r, enum veil_replica_state st,
                         const char *note)
{
    veil_err err = {0};
    if (veil_store_replica_set_state(d->store, r->job_hex, r->replica, st, NULL, &err) != 0)
        veil_daemon_store_failed("replica state", r->job_hex, r->replica, &err);
    if (veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err) != 0)
        veil_daemon_store_failed("replica note", r->job_hex, r->replica, &err);
}

/* A replica its node reported running or exited while its round was still
 * undecided (the node was cut off, not dead: chaos finding 2): the round's
 * retries and its end no longer move the replica. */
static bool replica_reclaimed(veil_daemon *d, const struct round *r)
{
    enum veil_replica_state cur;
    veil_err err = {0};
    return veil_store_replica_get_state(d->store, r->job_hex, r->replica, &cur, &err) == 0 &&
           (cur == VEIL_REPLICA_RUNNING || cur == VEIL_REPLICA_EXITED);
}

/* Every node obeys the decryptor's retry of a round: the attempt's digests
 * and outputs are dropped, the schedulers are chosen again from the members
 * alive now, and they evaluate at an epoch >= epoch_min (so that what an
 * earlier attempt computed can never be counted with the new one). */
/* The deciding node placed again a replica this node holds decided (issue
 * 18, chaos s8: it alone saw the replica's node die, or saw it first, and
 * the others, holding the old assignment, never evaluated its rounds, which
 * ended abandoned while they showed the replica assigned). Its retry names
 * an epoch after the newest assignment this node recorded, so it belongs to
 * a later scheduling (a retry of the scheduling that made that assignment
 * came before it: epoch_min <= the epoch it was decided at), and this node
 * joins it as if it had seen the loss itself. Only a replica assigned to
 * another node is reopened: one this node runs, or one its node reported
 * running or exited, stays (the decider settles its round once it hears
 * of it); the final retry fails the replica instead. Designated decryptor
 * only: in a threshold cluster a slow key holder may still retry a round
 * the others decided, so its retry says nothing about a later scheduling. */
static void reopen_if_placed_again(veil_daemon *d, struct round *r, const struct veil_msg_round_retry *m)
{
    enum veil_replica_state st;
    char node[VEIL_P2P_PEER_ID_TEXT_MAX];
    uint64_t epoch = 0;
    bool found = false;
    veil_err err = {0};
    if (d->th.cluster || r->state != VEIL_ROUND_ST_DECIDED || r->busy ||
        veil_daemon_round_is_shard(r) ||
        veil_store_replica_get_state(d->store, r->job_hex, r->replica, &st, &err) != 0 ||
        st != VEIL_REPLICA_ASSIGNED ||
        veil_store_replica_get_node(d->store, r->job_hex, r->replica, node, sizeof node, &err) !=
            0 ||
        strcmp(node, d->self_text) == 0 ||
        veil_store_assignment_latest_epoch(d->store, r->job_hex, r->replica, &epoch, &found,
                                           &err) != 0 ||
        !found || m->epoch_min <= epoch)
        return;
    if (m->final) {
        char note[160];
        snprintf(note, sizeof note, "failed after %u attempts to place it again", m->attempt);
        replica_note(d, r, VEIL_REPLICA_FAILED, note);
        return;
    }
    if (!r->have_req && round_req_from_store(d, r) != 0)
        return;
    if (veil_store_replica_set_state(d->store, r->job_hex, r->replica, VEIL_REPLICA_RESCHEDULING,
                                     NULL, &err) != 0) {
        veil_daemon_store_failed("replica state", r->job_hex, r->replica, &err);
        return;
    }
    round_reset_attempts(r);
    if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_READY) == 0)
        veil_log(VEIL_LOG_INFO, SUB, "rescheduling: the decider placed it again",
                 "job=%.16s replica=%u was=%s", r->job_hex, r->replica, node);
}

void veil_daemon_apply_retry(veil_daemon *d, const struct veil_msg_round_retry *m)
{
    struct round *r = veil_daemon_round(d, m->job_id, m->replica, true);
    if (!r)
        return;
    reopen_if_placed_again(d, r, m); /* a decided round joins a later scheduling */
    if (m->attempt <= r->attempt || veil_round_state_terminal(r->state))
        return; /* repeated, stale, or decided already */
    r->attempt = m->attempt;
    r->epoch_min = m->epoch_min;
    /* a deadline means the schedulers are slow (or one is gone): the next
     * attempt begins a little later, so that their queues drain first and
     * retries do not pile up; the same rule on every node (the message
     * alone decides), so they all plan the same epoch */
    if (m->reason == VEIL_RETRY_DEADLINE && !m->final)
        r->epoch_min +=
            round_retry_backoff_epochs(m->attempt, veil_daemon_resend_period_ms(d), d->interval_ms);
    r->n_digests = 0;
    round_free_outputs(r);            /* an evaluation in flight is dropped when it ends */
    if (r->th && d->rounds.free_th) { /* the attempt's partials and votes */
        d->rounds.free_th(r->th);
        r->th = NULL;
    }
    const char *why = m->reason == VEIL_RETRY_SPLIT ? "the schedulers' digests disagreed"
                                                    : "no digest majority before the deadline";
    char note[160];
    if (veil_daemon_round_is_shard(r)) { /* no replica of its own: no note */
        veil_log(VEIL_LOG_WARN, SUB, m->final ? "shard round abandoned" : "shard round retry",
                 "id=%.16s attempt=%u reason=\"%s\"", r->job_hex, m->attempt + 1, why);
        if (m->final) {
            if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_ABANDONED) != 0)
                return;
        } else if (r->have_req) {
            plan_now(d, r, veil_daemon_wall_ms());
        }
        return;
    }
    if (m->final) {
        if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_ABANDONED) != 0)
            return;
        snprintf(note, sizeof note, "failed after %u attempts: %s", m->attempt, why);
        if (!replica_reclaimed(d, r))
            replica_note(d, r, VEIL_REPLICA_FAILED, note);
        veil_log(VEIL_LOG_WARN, SUB, "round abandoned",
                 "job=%.16s replica=%u attempts=%u reason=\"%s\"", r->job_hex, r->replica,
                 m->attempt, why);
        if (r->replicas)
            start_next_replica(d, r);
        return;
    }
    snprintf(note, sizeof note, "attempt %u of %d: %s", m->attempt + 1, VEIL_ROUND_MAX_ATTEMPTS,
             why);
    if (!replica_reclaimed(d, r))
        replica_note(d, r, VEIL_REPLICA_SCHEDULING, note);
    veil_log(VEIL_LOG_WARN, SUB, "round retry",
             "job=%.16s replica=%u attempt=%u of=%d epoch_min=%llu reason=\"%s\"", r->job_hex,
             r->replica, m->attempt + 1, VEIL_ROUND_MAX_ATTEMPTS, (unsigned long long)m->epoch_min,
             why);
    /* otherwise planned when the job itself arrives; a round this node still
     * held in its queue is planned now, with every other node (the retry
     * admitted it) */
    if (r->have_req)
        plan_now(d, r, veil_daemon_wall_ms());
}

void veil_daemon_on_round_retry(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct veil_msg_round_retry m;
    veil_err err = {0};
    if (veil_msg_round_retry_decode(&m, msg->data, msg->data_len, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "bad round retry", "error=\"%s\"", err.msg);
        return;
    }
    /* only the designated decryptor (or, in a threshold cluster, a key
     * holder) runs retries (its gossip signature authenticates the author) */
    bool decryptor = d->have_decryptor_peer && msg->from_len == d->decryptor_peer.len &&
                     memcmp(msg->from, d->decryptor_peer.bytes, msg->from_len) == 0;
    if (!decryptor && !veil_daemon_holder_of(d, msg->from, msg->from_len)) {
        veil_log(VEIL_LOG_WARN, SUB, "round retry from a node other than the decryptor ignored",
                 NULL);
        return;
    }
    veil_daemon_apply_retry(d, &m);
}

void veil_daemon_on_sched_digest(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct veil_msg_sched_digest m;
    veil_err err = {0};
    if (veil_msg_sched_digest_decode(&m, msg->data, msg->data_len, &err) != 0)
        return;
    if (m.scheduler.len != msg->from_len ||
        memcmp(m.scheduler.bytes, msg->from, msg->from_len) != 0)
        return; /* a digest speaks only for its author */
    if (m.ask) {
        answer_query(d, &m); /* no result: never counted */
        return;
    }
    struct round *r = veil_daemon_round(d, m.job_id, m.replica, true);
    if (r)
        veil_daemon_add_digest(d, r, &m.scheduler, m.epoch, m.output_digest);
}

/* The job's next replica, once this one is decided or abandoned. Its round
 * is its own table entry: the decided rounds before it stay (their nodes
 * are excluded), and a replica the store shows as placed already (an old
 * assignment delivered again) is not planned twice. */
static void start_next_replica(veil_daemon *d, const struct round *prev)
{
    if (prev->replica + 1 >= prev->replicas || !prev->have_req)
        return;
    uint32_t next = prev->replica + 1;
    char job_hex[65];
    memcpy(job_hex, prev->job_hex, sizeof job_hex);
    enum veil_replica_state st;
    veil_err err = {0};
    if (veil_store_replica_get_state(d->store, job_hex, next, &st, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "next replica unknown", "job=%.16s replica=%u error=\"%s\"",
                 job_hex, next, err.msg);
        return;
    }
    if (st != VEIL_REPLICA_PENDING && st != VEIL_REPLICA_SCHEDULING &&
        st != VEIL_REPLICA_AWAITING_DECRYPTION)
        return;
    struct round *r = veil_daemon_round(d, prev->job_id, next, true);
    if (!r || (r->state != VEIL_ROUND_ST_NEW && r->state != VEIL_ROUND_ST_READY))
        return;
    if (round_set_req(r, &prev->req, prev->req_ct, prev->req_ct_len) != 0)
        return;
    r->replicas = prev->replicas;
    if (r->state == VEIL_ROUND_ST_NEW && veil_daemon_round_move(d, r, VEIL_ROUND_ST_READY) != 0)
        return;
    veil_daemon_plan_round(d, r);
}

/* The state and binding of the replica an assignment is for (false: a job
 * not held here). */
static bool replica_now(veil_daemon *d, const struct veil_store_assignment *sa,
                        enum veil_replica_state *cur, char *bound, size_t cap)
{
    veil_err err = {0};
    return veil_store_replica_get_state(d->store, sa->job_id, sa->replica, cur, &err) == 0 &&
           veil_store_replica_get_node(d->store, sa->job_id, sa->replica, bound, cap, &err) == 0;
}

/* A later round's assignment changes nothing for a replica that its node
 * (reporting it was never lost, only cut off: chaos finding 2) runs under
 * the same binding, nor for one that ran to its end on the node it names
 * (or an unschedulable one: it names none). A running replica assigned to
 * another node moves there (its old node stops its copy); one that ran to
 * its end elsewhere is ended_elsewhere's. A superseded assignment is still
 * recorded, as the replica's current one: the decryptor anchors its
 * commitment, which only the node it names shows (hook H4). */
static bool assignment_superseded(enum veil_replica_state cur, const char *bound,
                                  const struct veil_store_assignment *sa)
{
    if (cur != VEIL_REPLICA_EXITED && cur != VEIL_REPLICA_RUNNING)
        return false;
    return strcmp(bound, sa->node) == 0 || (cur == VEIL_REPLICA_EXITED && sa->node[0] == '\0');
}

/* Issue 18 (session 9, chaos short19): the binding follows the latest
 * assignment; an end stays an end. A replica that ran to its end on one
 * node, declared dead before every node heard the end, is placed again; a
 * later assignment naming another node is recorded as the current one AND
 * the replica is bound to that node, still exited: starting and stopping
 * nothing (the earlier copy ended). Before, each node kept the binding it
 * had, so the node that ran it and the node that ran it again both showed
 * themselves its runner (`consistent` VIOLATED). Every node applies the
 * same rule whatever order it hears things in, so all show one runner, the
 * latest assignment's. */
static bool ended_elsewhere(enum veil_replica_state cur, const char *bound,
                            const struct veil_store_assignment *sa)
{
    return cur == VEIL_REPLICA_EXITED && sa->node[0] && strcmp(bound, sa->node) != 0;
}

/* The node the assignment names adopts the end it heard instead of running
 * the replica again, and reports it as its own (daemon_exec.c,
 * veil_daemon_report_adopted_end), so that the nodes holding the replica
 * assigned to it converge on exited. A node that never heard the end runs
 * it again (at least once, never two at a time); the others, bound to it
 * already, ignore its `running` (daemon_exec.c). */
static void record_ended(veil_daemon *d, struct round *r, const struct veil_store_assignment *sa,
                         const char *was)
{
    veil_err err = {0};
    if (veil_store_assignment_record_ended(d->store, sa, &err) != 0) {
        veil_daemon_store_failed("assignment", sa->job_id, sa->replica, &err);
        return;
    }
    bool mine = strcmp(sa->node, d->self_text) == 0;
    veil_log(VEIL_LOG_INFO, SUB,
             "assignment recorded: the replica ended already; bound to the new assignment's node",
             "job=%.16s replica=%u node=%s was=%s epoch=%llu here=%s", sa->job_id, sa->replica,
             sa->node, was[0] ? was : "-", (unsigned long long)sa->epoch, mine ? "true" : "false");
    if (mine)
        veil_daemon_report_adopted_end(d, r, veil_daemon_wall_ms());
}

/* The store's row of a signed assignment (its node as text, its
 * commitment). */
static int assignment_row(veil_daemon *d, const struct veil_msg_assignment *a,
                          struct veil_store_assignment *sa, veil_err *err)
{
    memset(sa, 0, sizeof *sa);
    veil_hex_encode(sa->job_id, sizeof sa->job_id, a->job_id, 32);
    sa->replica = a->replica;
    if (a->schedulable) {
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(a->node.bytes, a->node.len, &pid, err) != 0)
            return -1;
        veil_p2p_peer_id_to_text(&pid, sa->node, sizeof sa->node);
    }
    veil_hex_encode(sa->output_digest, sizeof sa->output_digest, a->output_digest, 32);
    sa->epoch = a->epoch;
    veil_hex_encode(sa->signature, sizeof sa->signature, a->signature, 64);
    uint8_t commitment[32];
    veil_assignment_commitment(commitment, &d->keccak, d->cluster_id, a->job_id, a->replica,
                               a->schedulable ? &a->node : NULL, a->output_digest, a->epoch);
    veil_hex_encode(sa->commitment, sizeof sa->commitment, commitment, 32);
    return 0;
}

/* An assignment of an earlier epoch than one the store holds for its
 * replica is history (chaos s8: a node that had missed the later one, its
 * disk full, answered the older one as the latest in catch-ups; the nodes
 * that took it bound the replica back to its old node, whose copy was
 * stopped, and the replica's new node stopped its own: it ran nowhere).
 * Its row is kept (the node it names shows its commitment, H4, and the
 * catch-up brings a node the older assignments naming it, daemon_catchup.c);
 * nothing else changes: not the binding, not the round, not a container.
 * True when `a` was such. */
static bool record_if_older(veil_daemon *d, const struct veil_msg_assignment *a)
{
    struct veil_store_assignment sa;
    uint64_t latest;
    bool found = false, added = false;
    veil_err err = {0};
    if (assignment_row(d, a, &sa, &err) != 0 ||
        veil_store_assignment_latest_epoch(d->store, sa.job_id, a->replica, &latest, &found,
                                           &err) != 0 ||
        !found || a->epoch >= latest)
        return false;
    if (veil_store_assignment_add(d->store, &sa, &added, &err) != 0)
        veil_daemon_store_failed("assignment", sa.job_id, a->replica, &err);
    veil_log(added ? VEIL_LOG_INFO : VEIL_LOG_DEBUG, SUB,
             added ? "assignment recorded as history: a later one is the replica's current one"
                   : "assignment held already: a later one is the replica's current one",
             "job=%.16s replica=%u node=%s epoch=%llu current_epoch=%llu", sa.job_id, a->replica,
             a->schedulable ? sa.node : "unschedulable", (unsigned long long)a->epoch,
             (unsigned long long)latest);
    return true;
}

void veil_daemon_record_assignment(veil_daemon *d, struct round *r,
                                   const struct veil_msg_assignment *a)
{
    veil_err err = {0};
    struct veil_store_assignment sa;
    if (assignment_row(d, a, &sa, &err) != 0)
        return;
    enum veil_replica_state cur;
    if (veil_store_replica_get_state(d->store, sa.job_id, a->replica, &cur, &err) != 0) {
        /* the job's announcement was missed (down, cut off, disk full): the
         * round stays open, so the submitter's catch-up (the job, then this
         * assignment again) is recorded */
        veil_log(VEIL_LOG_WARN, SUB, "assignment of a job not held here: awaiting its catch-up",
                 "job=%.16s replica=%u error=\"%s\"", sa.job_id, a->replica, err.msg);
        return;
    }
    /* decided already: the assignment arrives again (catch-up) after this
     * node failed to store it (disk full); it is recorded now */
    bool again = r->state == VEIL_ROUND_ST_DECIDED;
    if (record_if_older(d, a))
        return;
    if (!again && veil_daemon_round_move(d, r, VEIL_ROUND_ST_DECIDED) != 0)
        return;
    shard_children_end(d, r, VEIL_ROUND_ST_DECIDED); /* its shards' work is done */
    memset(&r->chosen, 0, sizeof r->chosen);
    if (a->schedulable)
        r->chosen = a->node;
    char bound[96];
    bool held = replica_now(d, &sa, &cur, bound, sizeof bound);
    if (held && ended_elsewhere(cur, bound, &sa)) {
        record_ended(d, r, &sa, bound);
    } else if (held && assignment_superseded(cur, bound, &sa)) {
        /* the running container is kept (never a second copy), the state
         * and binding stay; the row makes this the replica's current one */
        bool added = false;
        if (veil_store_assignment_add(d->store, &sa, &added, &err) != 0)
            veil_daemon_store_failed("assignment", sa.job_id, a->replica, &err);
        veil_log(added ? VEIL_LOG_INFO : VEIL_LOG_DEBUG, SUB,
                 added ? "assignment recorded: the replica already ran or runs there"
                       : "assignment held already: the replica already ran or runs there",
                 "job=%.16s replica=%u node=%s epoch=%llu", sa.job_id, a->replica,
                 a->schedulable ? sa.node : "unschedulable", (unsigned long long)a->epoch);
    } else {
        veil_daemon_replica_state(d, sa.job_id, a->replica, VEIL_REPLICA_AWAITING_DECRYPTION);
        bool stored = veil_store_assignment_record(d->store, &sa, &err) == 0;
        if (!stored)
            veil_daemon_store_failed("assignment", sa.job_id, a->replica, &err);
        veil_log(VEIL_LOG_INFO, SUB, "assignment", "job=%.16s replica=%u node=%s", sa.job_id,
                 a->replica, a->schedulable ? sa.node : "unschedulable");
        struct veil_peer_id self;
        veil_daemon_to_peer(&self, &d->self);
        if (a->schedulable && veil_daemon_peer_eq(&a->node, &self))
            veil_daemon_execute_assignment(d, a->job_id, sa.job_id, a->replica);
        else if (stored)
            veil_daemon_release_replica(d, sa.job_id, a->replica);
        else /* the store still binds it here (it refused, e.g., running ->
              * unschedulable): the copy this node runs is kept */
            veil_log(VEIL_LOG_WARN, SUB, "assignment not recorded: this node's copy is kept",
                     "job=%.16s replica=%u", sa.job_id, a->replica);
    }
    /* in single mode the anchorer sends it at once; batches (and every other
     * node's look on chain) wait for the anchor tick */
    if (d->anchorer.sender && !d->anchorer.batch)
        veil_anchorer_tick(&d->anchorer, veil_daemon_wall_ms());
    if (r->replicas && !again && r->batch <= 1) /* a batch placed them all */
        start_next_replica(d, r);
}

/* A decided round whose assignment this node never stored (its write
 * failed): the replica is still before `assigned` here. */
static bool assignment_unstored(veil_daemon *d, const struct veil_msg_assignment *a)
{
    char job_hex[65];
    enum veil_replica_state cur;
    veil_err err = {0};
    veil_hex_encode(job_hex, sizeof job_hex, a->job_id, 32);
    return veil_store_replica_get_state(d->store, job_hex, a->replica, &cur, &err) == 0 &&
           (cur == VEIL_REPLICA_PENDING || cur == VEIL_REPLICA_SCHEDULING ||
            cur == VEIL_REPLICA_AWAITING_DECRYPTION);
}

/* An assignment of a later epoch than every one this node recorded for the
 * replica: the others placed it again while this node's round was decided
 * (chaos s7: a runner restarted while its replica was rescheduled heard the
 * job again, its round was decided from the store, and the new assignment,
 * binding the replica to it again, was dropped as recorded; its commitment
 * was anchored, and no node showed it). Older ones delivered again are not.
 * With none recorded, every one is later (chaos s8: a node killed as it was
 * chosen settled its round from the replica's running report, with no
 * assignment stored, and then dropped each catch-up answer as recorded). */
static bool assignment_later(veil_daemon *d, const struct veil_msg_assignment *a)
{
    char job_hex[65];
    uint64_t latest;
    bool found;
    veil_err err = {0};
    veil_hex_encode(job_hex, sizeof job_hex, a->job_id, 32);
    if (veil_store_assignment_latest_epoch(d->store, job_hex, a->replica, &latest, &found, &err) !=
        0) {
        veil_log(VEIL_LOG_WARN, SUB, "store read failed",
                 "what=latest assignment job=%.16s replica=%u error=\"%s\"", job_hex, a->replica,
                 err.msg);
        return false;
    }
    return !found || a->epoch > latest;
}

bool veil_daemon_assignment_news(veil_daemon *d, const struct veil_msg_assignment *a)
{
    return assignment_unstored(d, a) || assignment_later(d, a);
}

void veil_daemon_on_assignment(veil_daemon *d, const uint8_t *data, size_t len)
{
    struct veil_msg_assignment a;
    veil_err err = {0};
    if (veil_msg_assignment_decode(&a, data, len, &err) != 0)
        return;
    if (d->th.cluster) {
        veil_daemon_holder_on_assignment(d, &a); /* t + 1 holders must agree */
        return;
    }
    if (!d->have_decryptor_peer)
        return;
    uint8_t pk[32];
    if (veil_p2p_peer_id_ed25519_key(&d->decryptor_peer, pk, &err) != 0 ||
        veil_assignment_verify(&a, d->cluster_id, pk, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment refused", "error=\"%s\"", err.msg);
        return;
    }
    if (record_if_older(d, &a))
        return; /* history, whatever this node's round is doing */
    struct round *r = veil_daemon_round(d, a.job_id, a.replica, true);
    if (!r || (r->state == VEIL_ROUND_ST_DECIDED && !assignment_unstored(d, &a) &&
               !assignment_later(d, &a)))
        return; /* already recorded */
    veil_daemon_record_assignment(d, r, &a);
}

/* Gives a round its job's request from the store (the job's spec, and a
 * confidential job's request ciphertext). */
static int round_req_from_store(veil_daemon *d, struct round *r)
{
    struct veil_store_job job;
    veil_err err = {0};
    if (veil_store_job_get(d->store, r->job_hex, &job, &err) != 0)
        return -1;
    struct veil_job_spec spec;
    int rc = veil_job_spec_parse(&spec, job.spec_json, strlen(job.spec_json), "job", &err);
    if (rc == 0) {
        rc = veil_daemon_round_req_from_spec(r, &spec, job.request_ct, job.request_ct_len);
        veil_job_spec_free(&spec);
    }
    veil_store_job_free(&job);
    return rc;
}

struct lost_walk {
    veil_daemon *d;
    const struct member *m;
};

/* One replica the store moved to rescheduling: if its node is the lost
 * member, its round runs again from attempt 0 (the dead member is no
 * candidate any more: rounds use live members only). */
static int reschedule_one(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    struct lost_walk *w = ctx;
    veil_daemon *d = w->d;
    uint8_t job_id[32];
    if (!node || strcmp(node, w->m->text) != 0 ||
        veil_hex_decode(job_id, 32, job_hex, strlen(job_hex), false, NULL) != 32)
        return 0;
    struct round *r = veil_daemon_round(d, job_id, replica, true);
    if (!r || r->busy || (!r->have_req && round_req_from_store(d, r) != 0))
        return 0;
    if (r->state != VEIL_ROUND_ST_DECIDED && r->state != VEIL_ROUND_ST_NEW)
        return 0; /* being scheduled already */
    round_reset_attempts(r);
    if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_READY) != 0)
        return 0;
    veil_log(VEIL_LOG_INFO, SUB, "rescheduling", "job=%.16s replica=%u lost=%s", r->job_hex,
             replica, w->m->text);
    veil_daemon_plan_round(d, r);
    return 0;
}

/* A member died: the replicas the store moved to rescheduling (assigned or
 * running there) are placed again. The store, not the round table, says
 * which: a round pruned from memory long ago is rescheduled all the same. */
void veil_daemon_reschedule_lost(veil_daemon *d, const struct member *m)
{
    struct lost_walk w = {d, m};
    veil_err err = {0};
    if (veil_store_each_replica(d->store, VEIL_REPLICA_RESCHEDULING, reschedule_one, &w, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "replicas to reschedule not read", "error=\"%s\"", err.msg);
}

/* A restarted node resumes the rounds its store left unfinished: ready now,
 * planned once the mesh has formed. */
static int resume_replica(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    (void)node;
    veil_daemon *d = ctx;
    uint8_t job_id[32];
    if (veil_hex_decode(job_id, 32, job_hex, strlen(job_hex), false, NULL) != 32)
        return 0;
    struct round *r = veil_daemon_round(d, job_id, replica, true);
    if (r && r->state == VEIL_ROUND_ST_NEW && round_req_from_store(d, r) == 0 &&
        veil_daemon_round_move(d, r, VEIL_ROUND_ST_READY) == 0)
        veil_log(VEIL_LOG_INFO, SUB, "resuming", "job=%.16s replica=%u", job_hex, replica);
    return 0;
}

void veil_daemon_resume_rounds(veil_daemon *d)
{
    static const enum veil_replica_state unfinished[] = {
        VEIL_REPLICA_SCHEDULING, VEIL_REPLICA_AWAITING_DECRYPTION, VEIL_REPLICA_RESCHEDULING};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(unfinished); i++) {
        veil_err err = {0};
        if (veil_store_each_replica(d->store, unfinished[i], resume_replica, d, &err) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "unfinished replicas not read", "state=%s error=\"%s\"",
                     veil_replica_state_name(unfinished[i]), err.msg);
    }
}

/* The submitter re-announces an undecided job (the decryptor may have been
 * down, or have restarted and lost what it held in memory), with a growing
 * gap, at most jobs.reannounce_max times; then it says so in the log and in
 * the replica's note (`veil job status`). */
static void reannounce(veil_daemon *d, struct round *r, uint64_t now)
{
    enum round_announce_step s = round_reannounce_step(r, now, d->reannounce_max);
    if (s == ROUND_ANNOUNCE_WAIT)
        return;
    if (s == ROUND_ANNOUNCE_STOP) {
        char note[160];
        snprintf(note, sizeof note,
                 "undecided after %u re-announcements: no more (jobs.reannounce_max)",
                 r->reannounced);
        veil_err err = {0};
        if (veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err) != 0)
            veil_daemon_store_failed("replica note", r->job_hex, r->replica, &err);
        veil_log(VEIL_LOG_WARN, SUB, "job re-announcements stopped",
                 "job=%.16s replica=%u reannounced=%u", r->job_hex, r->replica, r->reannounced);
        return;
    }
    int rc = veil_daemon_publish_job(d, r->job_hex, false);
    if (rc == 0)
        round_reannounce_sent(r, now, veil_daemon_resend_period_ms(d));
    else if (rc > 0)
        r->reannounce_ms = UINT64_MAX; /* not this node's job: never */
    else
        r->reannounce_ms = now + veil_daemon_resend_period_ms(d); /* failed: try again */
}

/* An undecided round, every tick: schedulers re-send their result and the
 * submitter re-announces the job, each on its own period. */
static void round_tick(veil_daemon *d, struct round *r, uint64_t now)
{
    if (veil_daemon_round_is_shard(r))
        r->reannounce_ms = UINT64_MAX; /* its parent's job is re-announced, not it */
    if (r->reannounce_ms == 0)
        r->reannounce_ms = r->planned_ms + veil_daemon_resend_period_ms(d);
    reannounce(d, r, now);
    ask_outcome(d, r, now);
    if (now < r->resend_ms)
        return;
    r->resend_ms = now + veil_daemon_resend_period_ms(d);
    if (r->i_schedule && r->state == VEIL_ROUND_ST_EVALUATED && r->work_rc == 0 &&
        r->output.len > 0 && r->epoch >= r->epoch_min)
        veil_daemon_publish_result(d, r, false);
}

void veil_daemon_rounds_tick(veil_daemon *d, uint64_t now_ms)
{
    /* the table may grow while a round is planned (a decision starts the
     * next replica): walk by index and re-read the count */
    if (now_ms >= d->resume_at_ms)
        for (size_t i = 0; i < d->rounds.n; i++)
            if (d->rounds.v[i]->state == VEIL_ROUND_ST_READY)
                veil_daemon_plan_round(d, d->rounds.v[i]);
    for (size_t i = 0; i < d->rounds.n; i++)
        if (round_undecided_planned(d->rounds.v[i]) &&
            !veil_daemon_round_settle_placed(d, d->rounds.v[i]))
            round_tick(d, d->rounds.v[i], now_ms);
    veil_daemon_catchup_tick(d, now_ms); /* what this node lacks of the members' jobs */
    veil_daemon_keys_tick(d, now_ms);    /* node keys whose words were not final at planning */
    size_t dropped = round_table_prune(&d->rounds, now_ms, d->round_retention_ms);
    if (dropped)
        veil_log(VEIL_LOG_DEBUG, SUB, "settled rounds dropped from memory",
                 "dropped=%zu rounds=%zu", dropped, d->rounds.n);
}

/* The earliest batch epoch a round still undecided could land in: a round
 * evaluates the epoch before the one it starts in, and starts no earlier
 * than it was planned for (not_before_ms). The sender holds those batches
 * so that they are complete when they go out. */
static void anchor_hold(veil_daemon *d)
{
    uint64_t hold = UINT64_MAX;
    for (size_t i = 0; i < d->rounds.n; i++) {
        const struct round *r = d->rounds.v[i];
        if (!round_undecided_planned(r))
            continue;
        uint64_t e = veil_epoch_of(r->not_before_ms, d->interval_ms);
        uint64_t b = veil_anchor_batch_epoch(e ? e - 1 : 0, d->interval_ms, d->anchorer.batch_ms);
        if (b < hold)
            hold = b;
    }
    d->anchorer.hold_batch = hold;
}

/* ---- anchoring takeover (issue 18) ----
 * The order of anchorers, the same on every node: the primary ones (the
 * designated decryptor; in a threshold cluster the key holders by index,
 * holder 1 the sender), then every other member by peer ID. A node stands
 * in while every node before it is dead as SWIM sees it. */

static bool peer_is(const veil_p2p_peer_id *a, const veil_p2p_peer_id *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static int peer_order(const veil_p2p_peer_id *a, const veil_p2p_peer_id *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    return c ? c : (int)a->len - (int)b->len;
}

static bool peer_alive(veil_daemon *d, const veil_p2p_peer_id *p)
{
    const struct member *m = veil_daemon_member_get(d, p->bytes, p->len, false);
    return m && m->alive;
}

/* The primary anchorers in order; 0 when there is none to stand in for. */
static size_t anchor_primaries(veil_daemon *d, const veil_p2p_peer_id **out)
{
    size_t n = 0;
    if (d->th.cluster)
        for (unsigned i = 0; i < d->th.pub.n && i < VEIL_TH_MAX_HOLDERS; i++)
            out[n++] = &d->th.peers[i];
    else if (d->have_decryptor_peer)
        out[n++] = &d->decryptor_peer;
    return n;
}

static bool anchor_acting(veil_daemon *d)
{
    const veil_p2p_peer_id *prim[VEIL_TH_MAX_HOLDERS];
    size_t np = anchor_primaries(d, prim);
    if (np == 0 || d->anchorer.sender)
        return false;
    for (size_t i = 0; i < np; i++) {
        if (peer_is(prim[i], &d->self))
            return true; /* a primary whose predecessors are all dead */
        if (peer_alive(d, prim[i]))
            return false;
    }
    for (size_t i = 0; i < d->n_members; i++) {
        const struct member *m = &d->members[i];
        bool primary = false;
        for (size_t k = 0; k < np; k++)
            primary |= peer_is(prim[k], &m->id);
        if (!primary && m->alive && !peer_is(&m->id, &d->self) && peer_order(&m->id, &d->self) < 0)
            return false;
    }
    return true;
}

/* A stand-in waits two batch epochs (at least 20 s) past the sender's time. */
#define ANCHOR_TAKEOVER_MIN_MS 20000

void veil_daemon_anchor_tick(veil_daemon *d, uint64_t now_ms)
{
    anchor_hold(d);
    struct veil_anchorer *a = &d->anchorer;
    bool acting = anchor_acting(d);
    if (acting != a->acting)
        veil_log(acting ? VEIL_LOG_WARN : VEIL_LOG_INFO, SUB,
                 acting ? "anchor sender down: this node stands in"
                        : "anchor sender back: this node stands by",
                 NULL);
    a->acting = acting;
    a->takeover_ms =
        2 * a->batch_ms > ANCHOR_TAKEOVER_MIN_MS ? 2 * a->batch_ms : ANCHOR_TAKEOVER_MIN_MS;
    veil_anchorer_tick(a, now_ms);
    veil_daemon_proof_tick(d, now_ms); /* proofs of batches this node could not rebuild */
}
