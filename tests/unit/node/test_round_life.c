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
 *     settled at once, without waiting for an admission slot.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/node/daemon_core.h"
#include "../../vtest.h"

/* short epochs: admissions a few epochs apart in about a second, well
 * inside ROUND_EPOCH_MAX_LAG epochs (6 s) even on a stalled CI machine */
#define INTERVAL_MS 250

struct node {
    veil_daemon *d;
    veil_config cfg;
    uv_loop_t loop;
    char dir[40];
};

static void node_open(struct node *n)
{
    veil_err err = {0};
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/veil-round-life-XXXXXX");
    CHECK(mkdtemp(n->dir) != NULL);
    n->d = calloc(1, sizeof *n->d);
    CHECK(n->d != NULL);
    CHECK_EQ_INT(veil_store_open(&n->d->store, n->dir, &err), 0);
    CHECK_EQ_INT(veil_config_init(&n->cfg, NULL, 0, &err), 0); /* every key at its default */
    CHECK_EQ_INT(uv_loop_init(&n->loop), 0);
    n->d->cfg = &n->cfg;
    n->d->loop = &n->loop;
    n->d->interval_ms = INTERVAL_MS;
    n->d->keccak.fn = veil_hash256_blake2b; /* commitments' hash: any will do here */
}

static void node_close(struct node *n)
{
    CHECK_EQ_INT(uv_run(&n->loop, UV_RUN_DEFAULT), 0); /* nothing may be left queued */
    CHECK_EQ_INT(uv_loop_close(&n->loop), 0);
    round_table_free(&n->d->rounds);
    watch_list_free(&n->d->watched);
    veil_store_close(n->d->store);
    veil_config_free(&n->cfg);
    free(n->d);
    char cmd[80];
    snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

static void job_id(uint8_t id[32], char hex[65], uint8_t tag)
{
    memset(id, tag, 32);
    veil_hex_encode(hex, 65, id, 32);
}

/* A ready round of a one-replica job with a public request, heard now. */
static struct round *ready_round(struct node *n, uint8_t tag)
{
    uint8_t id[32];
    char hex[65];
    job_id(id, hex, tag);
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
    CHECK_EQ_U64(ra->epoch, p.epoch); /* the epoch of the moment it was heard */
    CHECK(ra->planned_ms >= ra->not_before_ms); /* its clock starts at admission */
    node_close(&a);
    node_close(&b);
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
    job_id(id, hex, 0x22);
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
    node_close(&n);
}

/* 2b: an unschedulable assignment for a replica this node runs: the store
 * refuses running -> unschedulable, and the node keeps its copy. */
static void test_unrecorded_assignment_keeps_copy(void)
{
    struct node n;
    node_open(&n);
    uint8_t id[32];
    char hex[65];
    job_id(id, hex, 0x33);
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
    node_close(&n);
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
    job_id(id, hex, 0x44);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    store_job(&n, hex, path, VEIL_ARRAY_LEN(path));
    struct round *r = ready_round(&n, 0x44);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_PLANNED), 0);
    const uint8_t none_out[5] = {0, 0, 0, 0, 1}; /* 0 candidates, found nothing */
    CHECK_EQ_INT(veil_daemon_decide_output(n.d, r, none_out, sizeof none_out, 5, 0), 1);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_PLANNED);
    CHECK_EQ_INT(replica_state(&n, hex), VEIL_REPLICA_AWAITING_DECRYPTION);
    node_close(&n);
}

VTEST_MAIN(VTEST(test_queued_round_one_epoch), VTEST(test_taken_back_round_settled),
           VTEST(test_unrecorded_assignment_keeps_copy), VTEST(test_no_candidates_not_decided))
