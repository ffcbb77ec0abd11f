// SPDX-License-Identifier: Apache-2.0
/*
 * test_round_life.c - three round-lifecycle causes of the long chaos run
 * (issue 18, docs/CHAOS.md), checked on veild's own round code
 * (src/node/daemon_rounds.c, daemon_decryptor.c) over a real store, with a
 * daemon that has no network (no gossip, no members, no keys):
 *  1. nodes that admit a queued round at different moments plan the same
 *     epoch (that of the moment they heard of it); before, each planned
 *     epoch_of(admission) - 1 and the schedulers' digests split;
 *  2. an agreed output evaluated over no candidate at all (no fresh
 *     telemetry) is not decided "unschedulable"; a node whose store refuses
 *     a new assignment (running -> unschedulable) keeps its copy running;
 *  3. a queued round whose replica its node took back (running again) is
 *     settled at once, without waiting for an admission slot;
 * and three of the short chaos runs after them (chaos s7):
 *  4. a node whose round is decided already (it restarted and heard the job
 *     again while its replica ran) records an assignment of a later epoch
 *     that binds the replica to it again: before, it dropped it as "already
 *     recorded", and the commitment anchored on chain matched no assignment
 *     any node showed (`anchors` VIOLATED in chaos.sh 300 20261206);
 *  5. an admitted round (planned, evaluating) whose replica its node took
 *     back is settled, but never while a worker holds it;
 *  6. a scheduler that heard of a round late (a later epoch) adopts the
 *     earlier epoch another of the round's schedulers published a digest
 *     for, before it starts evaluating, when its telemetry history holds it;
 *  7. the runner of a replica that ended reports that end again when a
 *     round for it is still scheduled somewhere (a node that learned the
 *     job late missed the exit and rescheduled it when the runner died:
 *     `settled` VIOLATED in chaos.sh 300 1823), once per re-send period;
 * and the `containers` VIOLATED (1) of chaos.sh 300 20261206 (chaos s8):
 *  8. an assignment older than the replica's latest one here (a node that
 *     missed the later one answered the older as its latest in catch-ups)
 *     is history: kept as a row, the replica's binding and its running
 *     copy untouched; before, the replica's new node stopped its copy and
 *     its old node (whose copy was stopped) was bound to it again;
 *  9. a copy stopped because its replica moved is recorded `stopped`, and
 *     a later assignment choosing the node again claims a start anew
 *     (exactly once); before, the record stayed `running` and the UNIQUE
 *     container record kept the replica from ever starting there again;
 * 10. a start while the image policy cannot be read (the chain RPC down, a
 *     first read in flight after a restart) waits, nothing claimed, and the
 *     executor tick takes it up again once the policy is read; before, the
 *     image was refused and the replica failed for a transient read error
 *     (`settled` VIOLATED (2) in this session's chaos.sh 300 20261206);
 * and two of session 8's long run (chaos.sh 1800 20261207):
 * 11. a node holding a replica decided (assigned to another node) joins the
 *     designated decryptor's later scheduling of it (a retry whose epoch_min
 *     is after the assignment it recorded): before, it ignored the retries,
 *     the decryptor's rounds found no majority and ended abandoned while
 *     the others showed the replica assigned (`consistent` VIOLATED);
 * 12. the deciding node tells a scheduler that still sends digests for a
 *     round it gave up (abandoned, or failed in its store once pruned) the
 *     final verdict again, once per re-send period (`settled` VIOLATED: a
 *     node resumed a round 15 minutes after it was abandoned).
 * and two of "rounds nobody can end" (chaos s8, issue 18):
 * 13. a runner reports a replica's FAILED end again like an exit (before:
 *     only an exit), and a node still scheduling that replica ends its
 *     round when the replica's node reports it failed (before: the round
 *     stayed planned for good);
 * 14. a node holding a round planned past its deadline with no digest at
 *     all (no scheduler evaluates it) asks for its outcome once per
 *     re-send period, at most ROUND_QUERY_MAX times, and the replica's
 *     runner answers that query with its final report as it answers a
 *     digest (the query is never counted as one); before, such a round
 *     waited forever (chaos s8, node 2 and short2).
 * and `consistent` VIOLATED (1) of chaos.sh 300 20261206 (session 9, short19):
 * 15. a replica that ran to its end, its runner declared dead before the
 *     end reached every node, placed again by a later assignment: every
 *     node binds it to the later assignment's node, still exited, starting
 *     and stopping nothing; the node named adopts the end it heard (no
 *     container) and reports it; an assigned replica's bound node may
 *     report its end directly; a replica that ended ignores, quietly, the
 *     reports of a copy run again by a node that never heard of the end.
 *     Before, each node kept its binding and two showed themselves runner.
 * and `settled` VIOLATED (5) of session 9's long run (chaos.sh 1800 20261207):
 * 16. a job held at intake (its policy unreadable) whose replica's node was
 *     declared dead: the replica went to pending (veil_store_node_lost),
 *     its round was decided already; that node, only cut off, reports the
 *     replica running: the report of the node it is still bound to takes it
 *     back, another node's does not, and a pending replica no assignment
 *     bound takes none. Before, pending -> running was refused every minute
 *     and the job stayed undecided there (long93 on node 2). (The other
 *     cause of that run, a container that ended while its node's veild was
 *     down, is e2e_run.sh's: it needs a runtime.)
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/node/daemon_intake.h"
#include "../../../src/node/daemon_policy.h"
#include "../../../src/node/daemon_sync.h"
#include "daemon_fixture.h"

/* short epochs: admissions a few epochs apart in about a second, well
 * inside ROUND_EPOCH_MAX_LAG epochs (6 s) even on a stalled CI machine */
#define INTERVAL_MS 250

static void node_open(struct node *n)
{
    fixture_open(n, "round-life", INTERVAL_MS);
}

/* A ready round of a one-replica job with a public request, heard now. */
static struct round *ready_round(struct node *n, uint8_t tag)
{
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, tag);
    struct round *r = veil_daemon_round(n->d, id, 0, true);
    CHECK(r != NULL);
    struct veil_sched_request req = {0};
    CHECK_EQ_INT(round_set_req(r, &req, NULL, 0), 0);
    r->replicas = 1;
    CHECK_EQ_INT(veil_daemon_round_move(n->d, r, VEIL_ROUND_ST_READY), 0);
    return r;
}

/* ROUND_ADMIT_MAX rounds in flight: the next ready round is queued. */
static void fill_slots(struct node *n, struct round *blockers[ROUND_ADMIT_MAX])
{
    for (int i = 0; i < ROUND_ADMIT_MAX; i++) {
        blockers[i] = ready_round(n, (uint8_t)(0xb0 + i));
        veil_daemon_plan_round(n->d, blockers[i]);
        CHECK_EQ_INT(blockers[i]->state, VEIL_ROUND_ST_PLANNED);
    }
}

static void free_slots(struct node *n, struct round *blockers[ROUND_ADMIT_MAX])
{
    for (int i = 0; i < ROUND_ADMIT_MAX; i++)
        CHECK_EQ_INT(veil_daemon_round_move(n->d, blockers[i], VEIL_ROUND_ST_DECIDED), 0);
}

/* A job of one replica in the store, moved along `path`. */
static void store_job(struct node *n, const char *hex, const enum veil_replica_state *path,
                      size_t n_path)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_job_insert(n->d->store, hex, "long", "{}", "peerS", "00", 1, &err), 0);
    for (size_t i = 0; i < n_path; i++)
        CHECK_EQ_INT(veil_store_replica_set_state(n->d->store, hex, 0, path[i], NULL, &err), 0);
}

static void store_assignment(struct node *n, const char *hex, const char *node)
{
    struct veil_store_assignment a = {.replica = 0, .epoch = 7};
    veil_err err = {0};
    snprintf(a.job_id, sizeof a.job_id, "%s", hex);
    snprintf(a.node, sizeof a.node, "%s", node);
    memset(a.output_digest, 'a', 64);
    memset(a.signature, 'b', 128);
    memset(a.commitment, 'c', 64);
    CHECK_EQ_INT(veil_store_assignment_record(n->d->store, &a, &err), 0);
}

static enum veil_replica_state replica_state(struct node *n, const char *hex)
{
    enum veil_replica_state st = VEIL_REPLICA_PENDING;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_get_state(n->d->store, hex, 0, &st, &err), 0);
    return st;
}

/* 1: two nodes hear of a round together, both hold it queued, and admit it
 * epochs apart (each when its own slots free up): one epoch for both. */
static void test_queued_round_one_epoch(void)
{
    struct node a, b;
    struct round *ba[ROUND_ADMIT_MAX], *bb[ROUND_ADMIT_MAX];
    node_open(&a);
    node_open(&b);
    fill_slots(&a, ba);
    fill_slots(&b, bb);
    struct round *ra = ready_round(&a, 0x11), *rb = ready_round(&b, 0x11);
    veil_daemon_plan_round(a.d, ra);
    veil_daemon_plan_round(b.d, rb);
    CHECK_EQ_INT(ra->state, VEIL_ROUND_ST_READY); /* queued on both */
    CHECK_EQ_INT(rb->state, VEIL_ROUND_ST_READY);
    CHECK_EQ_U64(round_table_queued(&a.d->rounds), 1);
    /* heard at the same moment (the gossip delay between two nodes is
     * test_node_round's concern: a preemption here must not split them) */
    uint64_t heard = ra->heard_ms;
    rb->heard_ms = heard;

    usleep(2 * INTERVAL_MS * 1000);
    free_slots(&a, ba);
    veil_daemon_plan_round(a.d, ra);
    CHECK_EQ_INT(ra->state, VEIL_ROUND_ST_PLANNED);
    usleep(4 * INTERVAL_MS * 1000); /* node b admits it 4 epochs later */
    free_slots(&b, bb);
    veil_daemon_plan_round(b.d, rb);
    CHECK_EQ_INT(rb->state, VEIL_ROUND_ST_PLANNED);

    CHECK_EQ_U64(ra->epoch, rb->epoch);
    struct veil_round_plan p;
    /* the daemon's 300 ms guard shrinks to a quarter of so short an interval */
    veil_round_plan_times(heard, heard + 1, INTERVAL_MS, 62, 0, 0, ROUND_EPOCH_MAX_LAG, &p);
    CHECK_EQ_U64(ra->epoch, p.epoch);           /* the epoch of the moment it was heard */
    CHECK(ra->planned_ms >= ra->not_before_ms); /* its clock starts at admission */
    fixture_close(&a);
    fixture_close(&b);
}

/* 3: a reschedule round queued behind the admission bound; its node takes
 * the replica back (running again): the round is settled at once. */
static void test_taken_back_round_settled(void)
{
    struct node n;
    struct round *blk[ROUND_ADMIT_MAX];
    node_open(&n);
    fill_slots(&n, blk);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x22);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, hex, "12D3KooWrunner");
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
                 0);
    size_t moved = 0;
    CHECK_EQ_INT(veil_store_node_lost(n.d->store, "12D3KooWrunner", &moved, &err), 0);
    CHECK_EQ_U64(moved, 1);

    struct round *r = ready_round(&n, 0x22); /* as reschedule_one makes it */
    veil_daemon_plan_round(n.d, r);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_READY); /* rescheduling: it waits, queued */
    CHECK_EQ_U64(round_table_queued(&n.d->rounds), 1);

    /* the node was only cut off: it reports the replica running again */
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING,
                                              "12D3KooWrunner", &err),
                 0);
    veil_daemon_plan_round(n.d, r); /* the rounds tick, slots still full */
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_U64(round_table_queued(&n.d->rounds), 0);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_RUNNING);
    fixture_close(&n);
}

/* 2b: an unschedulable assignment for a replica this node runs: the store
 * refuses running -> unschedulable, and the node keeps its copy. */
static void test_unrecorded_assignment_keeps_copy(void)
{
    struct node n;
    node_open(&n);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x33);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, hex, "12D3KooWself");
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
                 0);
    CHECK_EQ_INT(watch_list_add(&n.d->watched, id, hex, 0, "veil-3333333333333333-0", &err), 0);

    struct round *r = ready_round(&n, 0x33);
    struct veil_msg_assignment a = {0};
    memcpy(a.job_id, id, 32);
    a.replica = 0;
    a.schedulable = false;
    a.epoch = 9;
    veil_daemon_record_assignment(n.d, r, &a);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_RUNNING); /* refused by the store */
    CHECK_EQ_U64(n.d->watched.n, 1); /* the copy is neither stopped nor unwatched */
    fixture_close(&n);
}

/* 2a: an output over no candidate at all (no fresh telemetry) is no
 * verdict: nothing is signed, the round stays undecided (to be retried). */
static void test_no_candidates_not_decided(void)
{
    struct node n;
    node_open(&n);
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_DECRYPTOR;
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x44);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    struct round *r = ready_round(&n, 0x44);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_PLANNED), 0);
    const uint8_t none_out[5] = {0, 0, 0, 0, 1}; /* 0 candidates, found nothing */
    CHECK_EQ_INT(veil_daemon_decide_output(n.d, r, none_out, sizeof none_out, 5, 0), 1);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_PLANNED);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_AWAITING_DECRYPTION);
    fixture_close(&n);
}

/* ---- 4: a later assignment of a decided round ---- */

/* The node's own identity and the decryptor whose signatures it accepts. */
static void node_identity(struct node *n, uint8_t decryptor_sk[64])
{
    fixture_identity(n);
    fixture_new_peer(&n->d->decryptor_peer, NULL, decryptor_sk);
    n->d->have_decryptor_peer = true;
}

/* The decryptor's signed assignment of replica 0 to this node at `epoch`,
 * delivered as the topic (or a catch-up answer) delivers it. */
static void deliver_assignment(struct node *n, const uint8_t id[32], uint64_t epoch,
                               const uint8_t sk[64])
{
    struct veil_msg_assignment a = {.replica = 0, .schedulable = true, .epoch = epoch};
    memcpy(a.job_id, id, 32);
    veil_daemon_to_peer(&a.node, &n->d->self);
    memset(a.output_digest, (int)epoch, 32);
    veil_err err = {0};
    veil_buf msg;
    veil_buf_init(&msg);
    CHECK_EQ_INT(veil_assignment_sign(&a, n->d->cluster_id, sk, &err), 0);
    CHECK_EQ_INT(veil_msg_assignment_encode(&msg, &a, &err), 0);
    veil_daemon_on_assignment(n->d, msg.data, msg.len);
    veil_buf_free(&msg);
}

static void test_later_assignment_of_decided_round(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x55);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, hex, n.d->self_text); /* epoch 7: this node runs it */
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
                 0);
    CHECK_EQ_INT(watch_list_add(&n.d->watched, id, hex, 0, "veil-5555555555555555-0", &err), 0);
    /* restarted, it hears the job again: its round is decided at once
     * (daemon_intake.c mark_decided) while the others reschedule it */
    struct round *r = veil_daemon_round(n.d, id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_DECIDED), 0);

    deliver_assignment(&n, id, 9, sk); /* the reschedule round chose it again */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_RUNNING); /* its copy kept, bound here */
    CHECK_EQ_U64(n.d->watched.n, 1);
    deliver_assignment(&n, id, 8, sk); /* an older one delivered late: not the current one */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    deliver_assignment(&n, id, 9, sk); /* again: nothing new */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    fixture_close(&n);
}

/* ---- 8: an older assignment delivered again is history ---- */

/* The decryptor's signed assignment of replica 0 to `node` at `epoch`. */
static void deliver_to(struct node *n, const uint8_t id[32], uint64_t epoch,
                       const veil_p2p_peer_id *node, const uint8_t sk[64])
{
    struct veil_msg_assignment a = {.replica = 0, .schedulable = true, .epoch = epoch};
    memcpy(a.job_id, id, 32);
    veil_daemon_to_peer(&a.node, node);
    memset(a.output_digest, (int)epoch, 32);
    veil_err err = {0};
    veil_buf msg;
    veil_buf_init(&msg);
    CHECK_EQ_INT(veil_assignment_sign(&a, n->d->cluster_id, sk, &err), 0);
    CHECK_EQ_INT(veil_msg_assignment_encode(&msg, &a, &err), 0);
    veil_daemon_on_assignment(n->d, msg.data, msg.len);
    veil_buf_free(&msg);
}

static size_t assignment_rows(struct node *n)
{
    veil_err err = {0};
    json_t *rows = veil_store_list_json(n->d->store, "assignments", &err);
    CHECK(rows != NULL);
    size_t k = json_array_size(rows);
    json_decref(rows);
    return k;
}

static void bound_node(struct node *n, const char *hex, char *out, size_t cap)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_get_node(n->d->store, hex, 0, out, cap, &err), 0);
}

/* The state of the replica's container record here ("" if none). */
static void container_state(struct node *n, const char *hex, char *out, size_t cap)
{
    veil_err err = {0};
    json_t *job = veil_store_job_json(n->d->store, hex, &err), *c;
    CHECK(job != NULL);
    size_t i;
    out[0] = '\0';
    json_array_foreach(json_object_get(job, "containers"), i, c)
    {
        snprintf(out, cap, "%s", json_string_value(json_object_get(c, "state")));
    }
    json_decref(job);
}

/* A job of one replica that this node runs under the assignment of `epoch`
 * (its container record and watch entry as exec_after leaves them). */
static void running_here(struct node *n, const uint8_t id[32], const char *hex, uint64_t epoch,
                         const uint8_t sk[64])
{
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    char name[64];
    bool created = false;
    veil_err err = {0};
    store_job(n, hex, path, VEIL_ARRAY_LEN(path));
    struct round *r = veil_daemon_round(n->d, id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(n->d, r, VEIL_ROUND_ST_DECIDED), 0);
    deliver_to(n, id, epoch, &n->d->self, sk); /* the spec "{}": nothing starts */
    snprintf(name, sizeof name, "veil-%.16s-0", hex);
    CHECK_EQ_INT(veil_store_container_ensure(n->d->store, hex, 0, name, &created, &err), 0);
    CHECK(created);
    CHECK_EQ_INT(veil_store_container_set_state(n->d->store, name, "running", 0, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n->d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err), 0);
    CHECK_EQ_INT(watch_list_add(&n->d->watched, id, hex, 0, name, &err), 0);
}

static void test_older_assignment_is_history(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    veil_p2p_peer_id other;
    fixture_new_peer(&other, NULL, NULL);
    uint8_t id[32];
    char hex[65], bound[96];
    fixture_job_id(id, hex, 0x9a);
    /* the replica moved here at epoch 9 (its first node, `other`, was
     * declared dead) and runs here */
    running_here(&n, id, hex, 9, sk);
    CHECK_EQ_U64(assignment_rows(&n), 1);
    /* restarted: the round is gone; a member that missed epoch 9 (its disk
     * full) answers the catch-up with epoch 7 as its latest */
    round_table_free(&n.d->rounds);
    deliver_to(&n, id, 7, &other, sk);
    CHECK_EQ_U64(assignment_rows(&n), 2); /* kept: history */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, n.d->self_text); /* still bound here */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_RUNNING);
    CHECK_EQ_U64(n.d->watched.n, 1);   /* its copy neither stopped nor unwatched */
    deliver_to(&n, id, 7, &other, sk); /* again, with its round decided now or not */
    CHECK_EQ_U64(assignment_rows(&n), 2);
    CHECK_EQ_U64(n.d->watched.n, 1);
    fixture_close(&n);
}

/* ---- 9: a node chosen again for a replica whose copy it stopped ---- */

static void test_chosen_again_starts_anew(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    veil_p2p_peer_id other;
    fixture_new_peer(&other, NULL, NULL);
    uint8_t id[32];
    char hex[65], st[32], bound[96], name[64];
    bool again = true;
    fixture_job_id(id, hex, 0x9b);
    snprintf(name, sizeof name, "veil-%.16s-0", hex);
    running_here(&n, id, hex, 7, sk);
    CHECK(!veil_daemon_exec_claim(n.d, hex, 0, name, &again)); /* it runs: no second start */
    CHECK(!again);

    deliver_to(&n, id, 9, &other, sk); /* moved away: its copy is stopped */
    CHECK_EQ_U64(n.d->watched.n, 0);
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, "stopped");       /* the store tells the truth, not `running` */
    deliver_to(&n, id, 7, &other, sk); /* the older one again: history */
    bound_node(&n, hex, bound, sizeof bound);
    CHECK(strcmp(bound, n.d->self_text) != 0);

    /* a later round chooses this node again: the start is claimed anew,
     * once (the spec "{}" keeps veil_daemon_execute_assignment from
     * reaching the claim here: the claim is asked directly) */
    deliver_to(&n, id, 11, &n.d->self, sk);
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, n.d->self_text);
    CHECK(veil_daemon_exec_claim(n.d, hex, 0, name, &again));
    CHECK(again);
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, "created");
    CHECK(!veil_daemon_exec_claim(n.d, hex, 0, name, &again)); /* being started: once */
    CHECK(!again);

    /* a replica never started here: claimed once, as before */
    uint8_t id2[32];
    char hex2[65], name2[64];
    fixture_job_id(id2, hex2, 0x9c);
    snprintf(name2, sizeof name2, "veil-%.16s-0", hex2);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING};
    store_job(&n, hex2, path, VEIL_ARRAY_LEN(path));
    CHECK(veil_daemon_exec_claim(n.d, hex2, 0, name2, &again));
    CHECK(!again);
    CHECK(!veil_daemon_exec_claim(n.d, hex2, 0, name2, &again));
    fixture_close(&n);
}

/* ---- 10: a start waits while the image policy is unreadable ---- */

static void test_start_waits_for_policy(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    n.d->chain_from_store = true; /* no chain: the policy stays unreadable */
    uint8_t id[32];
    char hex[65], st[32];
    fixture_job_id(id, hex, 0x9d);
    veil_err err = {0};
    static const char spec[] =
        "{\"name\":\"w\",\"image\":\"127.0.0.1:9/busybox@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}";
    CHECK_EQ_INT(veil_store_job_insert(n.d->store, hex, "w", spec, "peerS", "00", 1, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_AWAITING_DECRYPTION,
                                              NULL, &err),
                 0);
    deliver_to(&n, id, 7, &n.d->self, sk);                       /* this node is chosen */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_ASSIGNED); /* not failed */
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, "");                /* nothing claimed */
    veil_daemon_exec_start_waiting(n.d); /* an executor tick, still unreadable */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_ASSIGNED);

    /* the policy is read (one that allows another image only): the tick
     * takes the start up again and the policy's verdict applies */
    veil_contract_policy pol = {.n_image_digests = 1, .version = 1};
    pol.image_digests = calloc(1, 32);
    CHECK(pol.image_digests != NULL);
    memset(pol.image_digests[0], 0xd1, 32);
    CHECK_EQ_INT(veil_daemon_policy_set(n.d, &pol, "test", &err), 0);
    veil_daemon_exec_start_waiting(n.d);
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, "refused");
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_FAILED);
    veil_daemon_policy_free(n.d);
    fixture_close(&n);
}

/* ---- 5: an admitted round whose replica was taken back ---- */

static void test_admitted_taken_back_settled(void)
{
    struct node n;
    node_open(&n);
    CHECK_EQ_INT(veil_crypto_init(NULL), 0);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x66);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, hex, "12D3KooWrunner");
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
                 0);
    size_t moved = 0;
    CHECK_EQ_INT(veil_store_node_lost(n.d->store, "12D3KooWrunner", &moved, &err), 0);
    CHECK_EQ_U64(moved, 1);
    struct round *r = ready_round(&n, 0x66); /* the reschedule round, admitted */
    veil_daemon_plan_round(n.d, r);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_PLANNED);
    for (size_t i = 0; i < 3; i++) { /* three schedulers, none has voted: the decryptor waits */
        veil_p2p_peer_id p;
        fixture_new_peer(&p, NULL, NULL);
        veil_daemon_to_peer(&r->schedulers[i], &p);
    }
    r->n_schedulers = 3;
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_DECRYPTOR; /* this node decides it */
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_EVALUATING), 0);
    r->busy = true; /* this node's worker evaluates it */

    /* its node was only cut off: it reports the replica running again */
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING,
                                              "12D3KooWrunner", &err),
                 0);
    veil_daemon_try_decide(n.d, r); /* a digest arrives: never settled under the worker */
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_EVALUATING);
    r->busy = false; /* the worker handed it back (its result is dropped) */
    veil_daemon_try_decide(n.d, r);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_RUNNING);
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 7); /* nothing signed */
    fixture_close(&n);
}

/* ---- 6: a late scheduler adopts the epoch of the others' digests ---- */

/* Three alive members (this node first), each with telemetry for every
 * epoch from 40 before now to 5 after. */
static void three_members(struct node *n)
{
    CHECK_EQ_INT(veil_crypto_init(NULL), 0);
    fixture_new_peer(&n->d->self, NULL, NULL);
    uint64_t now_e = veil_epoch_of(veil_daemon_wall_ms(), INTERVAL_MS);
    for (size_t i = 0; i < 3; i++) {
        struct member *m = &n->d->members[i];
        if (i == 0)
            m->id = n->d->self;
        else
            fixture_new_peer(&m->id, NULL, NULL);
        m->alive = true;
        for (size_t k = 0; k < 46; k++) {
            m->hist[k].epoch = now_e - 40 + k;
            m->hist[k].data = malloc(1);
            CHECK(m->hist[k].data != NULL);
            m->hist[k].len = 1;
        }
    }
    n->d->n_members = 3;
}

static void test_late_scheduler_adopts_epoch(void)
{
    struct node n;
    node_open(&n);
    three_members(&n);
    struct round *r = ready_round(&n, 0x77);
    veil_daemon_plan_round(n.d, r);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_PLANNED);
    CHECK(r->i_schedule);
    CHECK_EQ_U64(r->n_schedulers, 3);
    uint64_t mine = r->epoch;
    struct veil_peer_id other, third, stranger;
    veil_daemon_to_peer(&other, &n.d->members[1].id);
    veil_daemon_to_peer(&third, &n.d->members[2].id);
    veil_p2p_peer_id sp;
    fixture_new_peer(&sp, NULL, NULL);
    veil_daemon_to_peer(&stranger, &sp);
    uint8_t dg[32] = {1};

    /* not one of the round's schedulers, or a later epoch: the epoch stays */
    veil_daemon_add_digest(n.d, r, &stranger, mine - 2, dg);
    CHECK_EQ_U64(r->epoch, mine);
    veil_daemon_add_digest(n.d, r, &third, mine + 1, dg);
    CHECK_EQ_U64(r->epoch, mine);
    /* another scheduler heard of it earlier: this node, not started yet,
     * evaluates that epoch too */
    veil_daemon_add_digest(n.d, r, &other, mine - 2, dg);
    CHECK_EQ_U64(r->epoch, mine - 2);
    CHECK(r->not_before_ms <= veil_daemon_wall_ms());

    /* an epoch its telemetry history no longer holds: kept */
    struct round *old = ready_round(&n, 0x78);
    veil_daemon_plan_round(n.d, old);
    CHECK_EQ_INT(old->state, VEIL_ROUND_ST_PLANNED);
    uint64_t old_e = old->epoch;
    veil_daemon_add_digest(n.d, old, &other, old_e - 45, dg);
    CHECK_EQ_U64(old->epoch, old_e);
    /* once this node evaluates it, never moved */
    struct round *busy = ready_round(&n, 0x79);
    veil_daemon_plan_round(n.d, busy);
    CHECK_EQ_INT(busy->state, VEIL_ROUND_ST_PLANNED);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, busy, VEIL_ROUND_ST_EVALUATING), 0);
    uint64_t busy_e = busy->epoch;
    veil_daemon_add_digest(n.d, busy, &other, busy_e - 2, dg);
    CHECK_EQ_U64(busy->epoch, busy_e);
    veil_daemon_members_free(n.d);
    fixture_close(&n);
}

/* ---- 7: the runner reports a replica's end again ---- */

static void test_final_report_due(void)
{
    struct node n;
    node_open(&n);
    node_identity(&n, NULL);
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_EXECUTOR;
    uint8_t id[32], other_id[32];
    char hex[65], other_hex[65];
    fixture_job_id(id, hex, 0x88);
    fixture_job_id(other_id, other_hex, 0x89);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, hex, n.d->self_text);
    store_job(&n, other_hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, other_hex, "12D3KooWsomeoneelse");
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
                 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, other_hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
        0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, other_hex, 0, VEIL_REPLICA_EXITED, NULL, &err), 0);
    /* a round heard of (a digest) after a restart: created new */
    struct round *r = veil_daemon_round(n.d, id, 0, true);
    struct round *o = veil_daemon_round(n.d, other_id, 0, true);
    CHECK(r != NULL && o != NULL);
    uint64_t now = veil_daemon_wall_ms(), period = veil_daemon_resend_period_ms(n.d);
    CHECK(!veil_daemon_final_report_due(n.d, r, now)); /* still running here */
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex, 0, VEIL_REPLICA_EXITED, NULL, &err),
                 0);
    CHECK(veil_daemon_final_report_due(n.d, r, now));
    CHECK(!veil_daemon_final_report_due(n.d, r, now + 1));          /* once a period */
    CHECK(veil_daemon_final_report_due(n.d, r, now + period));      /* then again */
    CHECK(!veil_daemon_final_report_due(n.d, o, now + 2 * period)); /* it ran elsewhere */
    n.d->roles = VEIL_ROLE_MEMBER;
    CHECK(!veil_daemon_final_report_due(n.d, r, now + 3 * period)); /* not an executor */
    fixture_close(&n);
}

static void peer_text(const veil_p2p_peer_id *p, char *out, size_t cap)
{
    CHECK(veil_p2p_peer_id_to_text(p, out, cap) > 0);
}

/* ---- 11: the decryptor placed a decided replica again ---- */

static struct round *decided_round(struct node *n, uint8_t tag, const char *node)
{
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, tag);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(n, hex, node); /* epoch 7: assigned */
    struct round *r = ready_round(n, tag);
    CHECK_EQ_INT(veil_daemon_round_move(n->d, r, VEIL_ROUND_ST_DECIDED), 0);
    return r;
}

static void retry(struct node *n, const struct round *r, uint32_t attempt, uint64_t epoch_min)
{
    struct veil_msg_round_retry m = {.replica = 0,
                                     .attempt = attempt,
                                     .reason = VEIL_RETRY_SPLIT, /* no backoff */
                                     .epoch_min = epoch_min,
                                     .final = attempt >= VEIL_ROUND_MAX_ATTEMPTS};
    memcpy(m.job_id, r->job_id, 32);
    veil_daemon_apply_retry(n->d, &m);
}

static void test_decided_round_joins_reschedule(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    n.d->have_decryptor_peer = false; /* planning reads no shard policy (no chain here) */
    struct round *r = decided_round(&n, 0x61, "12D3KooWsomeoneelse");
    struct round *mine = decided_round(&n, 0x62, n.d->self_text);
    struct round *gone = decided_round(&n, 0x63, "12D3KooWsomeoneelse");

    retry(&n, r, 2, 7); /* the scheduling that decided it (epoch_min <= 7) */
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_ASSIGNED);
    n.d->th.cluster = true; /* a key holder's retry says nothing of a later scheduling */
    retry(&n, r, 2, 12);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    n.d->th.cluster = false;
    retry(&n, r, 2, 12); /* the decryptor placed it again: this node joins */
    CHECK(r->state != VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_U64(r->attempt, 2);
    CHECK_EQ_U64(r->epoch_min, 12);
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_SCHEDULING);

    retry(&n, mine, 2, 12); /* this node runs it: it stays */
    CHECK_EQ_INT(mine->state, VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_INT(replica_state(&n, mine->job_hex), VEIL_REPLICA_ASSIGNED);

    retry(&n, gone, VEIL_ROUND_MAX_ATTEMPTS, 12); /* given up: failed here too */
    CHECK_EQ_INT(gone->state, VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_INT(replica_state(&n, gone->job_hex), VEIL_REPLICA_FAILED);
    fixture_close(&n);
}

/* ---- 12: a given-up round told again to a late scheduler ---- */

static void test_final_verdict_due(void)
{
    struct node n;
    node_open(&n);
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_DECRYPTOR;
    uint8_t id[32], pruned_id[32], open_id[32];
    char hex[65], pruned_hex[65], open_hex[65];
    fixture_job_id(id, hex, 0x71);
    fixture_job_id(pruned_id, pruned_hex, 0x72);
    fixture_job_id(open_id, open_hex, 0x73);
    static const enum veil_replica_state failed[] = {VEIL_REPLICA_SCHEDULING, VEIL_REPLICA_FAILED};
    store_job(&n, hex, failed, VEIL_ARRAY_LEN(failed));
    store_job(&n, pruned_hex, failed, VEIL_ARRAY_LEN(failed));
    store_job(&n, open_hex, failed, 1); /* still scheduling */
    struct round *r = ready_round(&n, 0x71);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_ABANDONED), 0);
    /* heard of again (a late digest) after it was pruned: created new */
    struct round *p = veil_daemon_round(n.d, pruned_id, 0, true);
    struct round *o = veil_daemon_round(n.d, open_id, 0, true);
    CHECK(p != NULL && o != NULL);
    uint64_t now = veil_daemon_wall_ms(), period = veil_daemon_resend_period_ms(n.d);
    CHECK(veil_daemon_final_verdict_due(n.d, r, now));
    CHECK(!veil_daemon_final_verdict_due(n.d, r, now + 1));     /* once a period */
    CHECK(veil_daemon_final_verdict_due(n.d, r, now + period)); /* then again */
    CHECK(veil_daemon_final_verdict_due(n.d, p, now));
    CHECK(!veil_daemon_final_verdict_due(n.d, o, now)); /* not given up */
    n.d->roles = VEIL_ROLE_MEMBER;
    CHECK(!veil_daemon_final_verdict_due(n.d, p, now + 2 * period)); /* decides nothing */
    fixture_close(&n);
}

/* ---- 13: a failed end is reported again, and ends the round it reaches ---- */

/* A planned round of a replica bound to `runner` that this node rescheduled
 * (it missed the replica's end and saw its runner die). */
static struct round *rescheduled_round(struct node *n, uint8_t tag, const char *runner)
{
    uint8_t id[32];
    char hex[65];
    veil_err err = {0};
    fixture_job_id(id, hex, tag);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(n, hex, runner);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n->d->store, hex, 0, VEIL_REPLICA_RESCHEDULING, NULL, &err),
        0);
    struct round *r = ready_round(n, tag);
    veil_daemon_plan_round(n->d, r);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_PLANNED);
    CHECK_EQ_INT(replica_state(n, hex), VEIL_REPLICA_SCHEDULING);
    return r;
}

/* The container status `state` of (job, 0) as `from` publishes it. */
static void status_from(struct node *n, const struct round *r, const veil_p2p_peer_id *from,
                        enum veil_container_state state)
{
    struct veil_msg_container_status m = {.replica = 0, .state = (uint8_t)state, .exit_code = 1};
    memcpy(m.job_id, r->job_id, 32);
    veil_daemon_to_peer(&m.node, from);
    snprintf(m.container_id, sizeof m.container_id, "veil-%.16s-0", r->job_hex);
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_msg_container_status_encode(&b, &m, &err), 0);
    struct veil_gs_message g = {.from = m.node.bytes, .from_len = m.node.len};
    veil_daemon_on_container_status(n->d, b.data, b.len, &g);
    veil_buf_free(&b);
}

static void test_failed_end_reported_and_settled(void)
{
    struct node n;
    node_open(&n);
    node_identity(&n, NULL);
    n.d->have_decryptor_peer = false; /* planning reads no shard policy (no chain here) */
    veil_err err = {0};
    bool created = false;
    /* the runner: its copy failed; another replica failed by a final retry */
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_EXECUTOR;
    struct round *mine = decided_round(&n, 0x91, n.d->self_text);
    struct round *told = decided_round(&n, 0x92, n.d->self_text);
    char name[64];
    snprintf(name, sizeof name, "veil-%.16s-0", mine->job_hex);
    CHECK_EQ_INT(veil_store_container_ensure(n.d->store, mine->job_hex, 0, name, &created, &err),
                 0);
    CHECK_EQ_INT(veil_store_container_set_state(n.d->store, name, "failed", 3, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, mine->job_hex, 0, VEIL_REPLICA_FAILED, NULL, &err),
        0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, told->job_hex, 0, VEIL_REPLICA_FAILED, NULL, &err),
        0);
    uint64_t now = veil_daemon_wall_ms(), period = veil_daemon_resend_period_ms(n.d);
    CHECK(veil_daemon_final_report_due(n.d, mine, now));          /* before: only an exit */
    CHECK(!veil_daemon_final_report_due(n.d, mine, now + 1));     /* once a period */
    CHECK(veil_daemon_final_report_due(n.d, mine, now + period)); /* then again */
    CHECK(!veil_daemon_final_report_due(n.d, told, now));         /* no copy of it ended here */

    /* a node still scheduling a replica whose runner reports it failed */
    n.d->roles = VEIL_ROLE_MEMBER;
    veil_p2p_peer_id runner, other;
    char runner_text[VEIL_P2P_PEER_ID_TEXT_MAX];
    fixture_new_peer(&runner, NULL, NULL);
    fixture_new_peer(&other, NULL, NULL);
    peer_text(&runner, runner_text, sizeof runner_text);
    struct round *r = rescheduled_round(&n, 0x93, runner_text);
    status_from(&n, r, &other, VEIL_CONTAINER_FAILED); /* not its node: ignored */
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_SCHEDULING);
    CHECK(!veil_daemon_round_settle_placed(n.d, r));
    status_from(&n, r, &runner, VEIL_CONTAINER_FAILED);
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_FAILED);
    CHECK(veil_daemon_round_settle_placed(n.d, r)); /* before: planned for good */
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_FAILED); /* never re-planned */
    fixture_close(&n);
}

/* ---- 14: a round nobody evaluates asks for its outcome ---- */

/* The outcome query of (job `id`, 0) as `asker` publishes it. */
static void query_from(struct node *n, const uint8_t id[32], const veil_p2p_peer_id *asker)
{
    struct veil_msg_sched_digest m = {.replica = 0, .ask = true};
    memcpy(m.job_id, id, 32);
    veil_daemon_to_peer(&m.scheduler, asker);
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_msg_sched_digest_encode(&b, &m, &err), 0);
    struct veil_gs_message g = {
        .from = m.scheduler.bytes, .from_len = m.scheduler.len, .data = b.data, .data_len = b.len};
    veil_daemon_on_sched_digest(n->d, &g);
    veil_buf_free(&b);
}

static void exited_here(struct node *n, const char *hex)
{
    veil_err err = {0};
    CHECK_EQ_INT(
        veil_store_replica_set_state(n->d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(n->d->store, hex, 0, VEIL_REPLICA_EXITED, NULL, &err),
                 0);
}

static void test_outcome_query(void)
{
    struct node n;
    node_open(&n);
    node_identity(&n, NULL);
    n.d->have_decryptor_peer = false; /* planning reads no shard policy (no chain here) */
    veil_p2p_peer_id runner;
    char runner_text[VEIL_P2P_PEER_ID_TEXT_MAX];
    fixture_new_peer(&runner, NULL, NULL);
    peer_text(&runner, runner_text, sizeof runner_text);
    /* the asker: past the deadline with no digest, once a period, bounded */
    struct round *r = rescheduled_round(&n, 0xa1, runner_text);
    uint64_t t = r->planned_ms + veil_daemon_round_deadline_ms(n.d);
    uint64_t period = veil_daemon_resend_period_ms(n.d);
    CHECK(!veil_daemon_outcome_query_due(n.d, r, t - 1)); /* its schedulers may still answer */
    CHECK(veil_daemon_outcome_query_due(n.d, r, t));
    CHECK(!veil_daemon_outcome_query_due(n.d, r, t + 1)); /* once a period */
    for (uint32_t i = 1; i < ROUND_QUERY_MAX; i++)
        CHECK(veil_daemon_outcome_query_due(n.d, r, t + i * period));
    CHECK(!veil_daemon_outcome_query_due(n.d, r, t + ROUND_QUERY_MAX * period)); /* bounded */
    struct round *v = rescheduled_round(&n, 0xa2, runner_text);
    struct veil_peer_id sched;
    uint8_t dg[32] = {1};
    veil_daemon_to_peer(&sched, &runner);
    veil_daemon_add_digest(n.d, v, &sched, v->epoch, dg);
    CHECK(!veil_daemon_outcome_query_due(n.d, v, t + period)); /* a digest came: it is evaluated */
    CHECK_EQ_INT(veil_daemon_round_move(n.d, v, VEIL_ROUND_ST_DECIDED), 0);
    CHECK(!veil_daemon_outcome_query_due(n.d, v, t + 2 * period)); /* decided */

    /* the runner answers a query as it answers a digest, never counting it */
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_EXECUTOR;
    struct round *mine = decided_round(&n, 0xa3, n.d->self_text);
    exited_here(&n, mine->job_hex);
    query_from(&n, mine->job_id, &runner);
    CHECK(!veil_daemon_final_report_due(n.d, mine, veil_daemon_wall_ms())); /* answered now */
    CHECK_EQ_U64(mine->n_digests, 0);
    CHECK(veil_daemon_final_report_due(n.d, mine, veil_daemon_wall_ms() + period));
    /* a round pruned from memory: answered from the store */
    uint8_t id[32], unknown[32];
    char hex[65], unknown_hex[65];
    fixture_job_id(id, hex, 0xa4);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    store_assignment(&n, hex, n.d->self_text);
    exited_here(&n, hex);
    query_from(&n, id, &runner);
    struct round *p = veil_daemon_round(n.d, id, 0, false);
    CHECK(p != NULL);
    CHECK(p != NULL && !veil_daemon_final_report_due(n.d, p, veil_daemon_wall_ms()));
    /* a job this node never held: nothing created */
    fixture_job_id(unknown, unknown_hex, 0xa5);
    query_from(&n, unknown, &runner);
    CHECK(veil_daemon_round(n.d, unknown, 0, false) == NULL);
    fixture_close(&n);
}

/* ---- 15: a replica that ran to its end, placed again (session 9) ---- */

/* What the daemon logs at `level` and above while captured, in memory: the
 * reports this fixture cannot see on gossip (it has none) and the warnings
 * that must not come. */
struct log_capture {
    char *text;
    size_t len;
    FILE *mem;
    enum veil_log_level was;
};

static void log_capture_begin(struct log_capture *c, enum veil_log_level level)
{
    memset(c, 0, sizeof *c);
    c->mem = open_memstream(&c->text, &c->len);
    CHECK(c->mem != NULL);
    c->was = veil_log_get_level();
    veil_log_set_stream(c->mem);
    veil_log_set_level(level);
}

/* Ends the capture: c->text holds it (the caller frees it). */
static void log_capture_end(struct log_capture *c)
{
    veil_log_set_stream(NULL);
    veil_log_set_level(c->was);
    CHECK_EQ_INT(fclose(c->mem), 0);
    CHECK(c->text != NULL);
}

/* A job of one replica assigned at `epoch` to `runner`, as every node holds
 * it once the assignment came (`runner` may be this node: the spec "{}"
 * starts nothing). */
static void assigned_to(struct node *n, const uint8_t id[32], const char *hex, uint64_t epoch,
                        const veil_p2p_peer_id *runner, const uint8_t sk[64])
{
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(n, hex, path, VEIL_ARRAY_LEN(path));
    deliver_to(n, id, epoch, runner, sk);
    CHECK_EQ_INT(replica_state(n, hex), VEIL_REPLICA_ASSIGNED);
}

/* (a) a node that heard the replica's end from its runner A; the others
 * declared A dead before they heard it and a later assignment names B:
 * bound to B, still exited, nothing started; an older one stays history.
 * And the same on A itself (chaos short19: node 4 kept it bound to
 * itself, and both it and node 5 showed themselves its runner). */
static void test_ended_bound_to_later_node(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_EXECUTOR;
    veil_p2p_peer_id a, b;
    char a_text[VEIL_P2P_PEER_ID_TEXT_MAX], b_text[VEIL_P2P_PEER_ID_TEXT_MAX];
    fixture_new_peer(&a, NULL, NULL);
    fixture_new_peer(&b, NULL, NULL);
    peer_text(&a, a_text, sizeof a_text);
    peer_text(&b, b_text, sizeof b_text);
    uint8_t id[32];
    char hex[65], bound[96], st[32];
    fixture_job_id(id, hex, 0xc1);
    assigned_to(&n, id, hex, 7, &a, sk);
    exited_here(&n, hex); /* A's end heard */

    deliver_to(&n, id, 9, &b, sk);
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, b_text); /* before: still A */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_EXITED);
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9); /* the current one */
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, ""); /* nothing started */
    CHECK_EQ_U64(n.d->watched.n, 0);
    deliver_to(&n, id, 8, &a, sk); /* an older one: history */
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, b_text);
    CHECK_EQ_U64(assignment_rows(&n), 3);

    /* A itself: its copy exited; the later assignment names B */
    uint8_t id2[32];
    char hex2[65], name[64];
    bool created = false;
    veil_err err = {0};
    fixture_job_id(id2, hex2, 0xc2);
    snprintf(name, sizeof name, "veil-%.16s-0", hex2);
    running_here(&n, id2, hex2, 7, sk);
    CHECK_EQ_INT(veil_store_container_set_state(n.d->store, name, "exited", 0, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(n.d->store, hex2, 0, VEIL_REPLICA_EXITED, NULL, &err),
                 0);
    watch_list_remove(&n.d->watched, 0); /* as the executor tick leaves it */
    struct round *r2 = veil_daemon_round(n.d, id2, 0, false);
    CHECK(r2 != NULL);
    CHECK(veil_daemon_final_report_due(n.d, r2, veil_daemon_wall_ms())); /* its end, here */
    deliver_to(&n, id2, 9, &b, sk);
    bound_node(&n, hex2, bound, sizeof bound);
    CHECK_EQ_STR(bound, b_text); /* before: still this node */
    CHECK_EQ_INT(replica_state(&n, hex2), VEIL_REPLICA_EXITED);
    container_state(&n, hex2, st, sizeof st);
    CHECK_EQ_STR(st, "exited"); /* the record of the run that was, not stopped */
    CHECK(!veil_daemon_final_report_due(
        n.d, r2, veil_daemon_wall_ms() + 2 * veil_daemon_resend_period_ms(n.d)));
    CHECK(!veil_daemon_exec_claim(n.d, hex2, 0, name, &created)); /* nothing to start */
    fixture_close(&n);
}

/* (b) the node a later assignment names heard the replica's end from A: it
 * adopts the end (bound here, exited, no container) and reports it as its
 * own, counted as this period's final report. */
static void test_named_node_adopts_end(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    n.d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_EXECUTOR;
    veil_p2p_peer_id a;
    fixture_new_peer(&a, NULL, NULL);
    uint8_t id[32];
    char hex[65], bound[96], st[32];
    fixture_job_id(id, hex, 0xc3);
    assigned_to(&n, id, hex, 7, &a, sk);
    exited_here(&n, hex);

    struct log_capture c;
    log_capture_begin(&c, VEIL_LOG_INFO);
    deliver_to(&n, id, 9, &n.d->self, sk);
    log_capture_end(&c);
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, n.d->self_text); /* before: still A */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_EXITED);
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, ""); /* not run again */
    CHECK_EQ_U64(n.d->watched.n, 0);
    CHECK_CONTAINS(c.text, "replica's end adopted");
    CHECK(strstr(c.text, "level=warn") == NULL);
    free(c.text);
    struct round *r = veil_daemon_round(n.d, id, 0, false);
    CHECK(r != NULL);
    uint64_t now = veil_daemon_wall_ms(), period = veil_daemon_resend_period_ms(n.d);
    CHECK(!veil_daemon_final_report_due(n.d, r, now));         /* reported just now */
    CHECK(veil_daemon_final_report_due(n.d, r, now + period)); /* then as any runner's end */

    log_capture_begin(&c, VEIL_LOG_INFO);
    deliver_to(&n, id, 9, &n.d->self, sk); /* again (a catch-up): nothing new */
    log_capture_end(&c);
    CHECK(strstr(c.text, "adopted") == NULL);
    free(c.text);
    fixture_close(&n);
}

/* (c) assigned -> exited on the report of the bound node only (a short
 * container, or an adopted end); (d) an end stays an end: the node the
 * replica is now bound to runs it again (it never heard the end) and its
 * reports change nothing, quietly. */
static void test_end_reports_of_bound_node(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    veil_p2p_peer_id a, b;
    char b_text[VEIL_P2P_PEER_ID_TEXT_MAX], bound[96];
    fixture_new_peer(&a, NULL, NULL);
    fixture_new_peer(&b, NULL, NULL);
    peer_text(&b, b_text, sizeof b_text);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0xc4);
    assigned_to(&n, id, hex, 7, &a, sk);
    struct round *r = veil_daemon_round(n.d, id, 0, false);
    CHECK(r != NULL);
    status_from(&n, r, &b, VEIL_CONTAINER_EXITED); /* not its node: nothing */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_ASSIGNED);
    struct log_capture c;
    log_capture_begin(&c, VEIL_LOG_WARN);
    status_from(&n, r, &a, VEIL_CONTAINER_EXITED);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_EXITED);

    deliver_to(&n, id, 9, &b, sk); /* (a) bound to B */
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, b_text);
    status_from(&n, r, &b, VEIL_CONTAINER_RUNNING); /* B never heard the end: it runs it */
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_EXITED);
    status_from(&n, r, &b, VEIL_CONTAINER_FAILED);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_EXITED);
    status_from(&n, r, &b, VEIL_CONTAINER_EXITED);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_EXITED);
    log_capture_end(&c);
    CHECK_EQ_STR(c.text, ""); /* before: "store write failed" for running and failed */
    free(c.text);
    bound_node(&n, hex, bound, sizeof bound);
    CHECK_EQ_STR(bound, b_text);

    /* the same with the binding moved by the store alone (rule 4 whatever
     * moved it): before, a WARN "store write failed" (exited -> running) */
    uint8_t id2[32];
    char hex2[65];
    veil_err err = {0};
    fixture_job_id(id2, hex2, 0xc5);
    assigned_to(&n, id2, hex2, 7, &a, sk);
    exited_here(&n, hex2);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, hex2, 0, VEIL_REPLICA_EXITED, b_text, &err), 0);
    struct round *r2 = veil_daemon_round(n.d, id2, 0, false);
    CHECK(r2 != NULL);
    log_capture_begin(&c, VEIL_LOG_WARN);
    status_from(&n, r2, &b, VEIL_CONTAINER_RUNNING);
    status_from(&n, r2, &b, VEIL_CONTAINER_FAILED);
    log_capture_end(&c);
    CHECK_EQ_STR(c.text, "");
    free(c.text);
    CHECK_EQ_INT(replica_state(&n, hex2), VEIL_REPLICA_EXITED);
    fixture_close(&n);
}

/* ---- 16: a held job's pending replica taken back by its node's report ---- */

static void test_pending_taken_back_by_bound_node(void)
{
    struct node n;
    node_open(&n);
    node_identity(&n, NULL);
    n.d->roles = VEIL_ROLE_MEMBER;
    veil_err err = {0};
    veil_p2p_peer_id runner, other;
    char runner_text[VEIL_P2P_PEER_ID_TEXT_MAX];
    fixture_new_peer(&runner, NULL, NULL);
    fixture_new_peer(&other, NULL, NULL);
    peer_text(&runner, runner_text, sizeof runner_text);
    /* held at intake, its assignment heard meanwhile (decided), running */
    struct round *r = decided_round(&n, 0xa1, runner_text);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n.d->store, r->job_hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
        0);
    const uint8_t msg[5] = {1, 2, 3, 4, 5}, from[3] = {9, 8, 7};
    struct intake_deferred e = {.len = 5, .from_len = 3, .first_ms = 1000, .next_ms = 3000};
    snprintf(e.job_hex, sizeof e.job_hex, "%s", r->job_hex);
    CHECK_EQ_INT(intake_defer_save(n.d->store, &e, msg, from, &err), 0);
    size_t moved = 0;
    CHECK_EQ_INT(veil_store_node_lost(n.d->store, runner_text, &moved, &err), 0);
    CHECK_EQ_INT((int)moved, 1);
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_PENDING);
    status_from(&n, r, &other, VEIL_CONTAINER_RUNNING); /* not its node: ignored */
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_PENDING);
    status_from(&n, r, &runner, VEIL_CONTAINER_RUNNING); /* before: refused for good */
    CHECK_EQ_INT(replica_state(&n, r->job_hex), VEIL_REPLICA_RUNNING);
    /* a pending replica no assignment bound is nobody's to report */
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0xa2);
    store_job(&n, hex, NULL, 0);
    struct round *p = veil_daemon_round(n.d, id, 0, true);
    CHECK(p != NULL);
    status_from(&n, p, &other, VEIL_CONTAINER_RUNNING);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_PENDING);
    fixture_close(&n);
}

/* ---- 17: a start cut short by a stop is started at the next start ----
 * veild was killed after it claimed a start (the record `created`) and
 * before the start finished: the claim refused every later start, and the
 * replica stayed assigned here with nothing running (chaos s10, review). At
 * the next start the record becomes `start_failed` and the executor claims
 * it again, once; a record that ran is left alone. */
static void test_cut_short_start_started_again(void)
{
    struct node n;
    uint8_t sk[64];
    node_open(&n);
    node_identity(&n, sk);
    uint8_t id[32];
    char hex[65], st[32], name[64];
    bool again = true;
    fixture_job_id(id, hex, 0xa3);
    snprintf(name, sizeof name, "veil-%.16s-0", hex);
    assigned_to(&n, id, hex, 7, &n.d->self, sk); /* the spec "{}": nothing starts */
    CHECK(veil_daemon_exec_claim(n.d, hex, 0, name, &again)); /* a start in flight */
    CHECK(!again);
    CHECK(!veil_daemon_exec_claim(n.d, hex, 0, name, &again)); /* before: for good */

    veil_daemon_rewatch_containers(n.d); /* the next start of veild */
    container_state(&n, hex, st, sizeof st);
    CHECK_EQ_STR(st, "start_failed");
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_ASSIGNED);
    CHECK(veil_daemon_exec_claim(n.d, hex, 0, name, &again)); /* started again, once */
    CHECK(again);
    CHECK(!veil_daemon_exec_claim(n.d, hex, 0, name, &again));

    /* a replica that ran here: its record is not touched by a restart */
    uint8_t id2[32];
    char hex2[65];
    fixture_job_id(id2, hex2, 0xa4);
    running_here(&n, id2, hex2, 7, sk);
    veil_daemon_rewatch_containers(n.d);
    container_state(&n, hex2, st, sizeof st);
    CHECK_EQ_STR(st, "running");
    fixture_close(&n);
}

VTEST_MAIN(VTEST(test_queued_round_one_epoch), VTEST(test_taken_back_round_settled),
           VTEST(test_unrecorded_assignment_keeps_copy), VTEST(test_no_candidates_not_decided),
           VTEST(test_later_assignment_of_decided_round), VTEST(test_admitted_taken_back_settled),
           VTEST(test_late_scheduler_adopts_epoch), VTEST(test_final_report_due),
           VTEST(test_older_assignment_is_history), VTEST(test_chosen_again_starts_anew),
           VTEST(test_start_waits_for_policy), VTEST(test_decided_round_joins_reschedule),
           VTEST(test_final_verdict_due), VTEST(test_failed_end_reported_and_settled),
           VTEST(test_outcome_query), VTEST(test_ended_bound_to_later_node),
           VTEST(test_named_node_adopts_end), VTEST(test_end_reports_of_bound_node),
           VTEST(test_pending_taken_back_by_bound_node),
           VTEST(test_cut_short_start_started_again))
