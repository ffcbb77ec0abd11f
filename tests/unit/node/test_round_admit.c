// SPDX-License-Identifier: Apache-2.0
/*
 * test_round_admit.c - admission and pacing of scheduling rounds
 * (src/node/daemon_tables.c; chaos finding 5, overload): a burst of ready
 * rounds larger than ROUND_ADMIT_MAX is admitted first come, first served,
 * never more than ROUND_ADMIT_MAX in flight, and every round is admitted
 * once earlier ones settle (none is dropped); a round whose decision a node
 * missed stops holding a slot after the stale time; the decryptor's
 * deadline follows the measured evaluation time; a retry's backoff is
 * bounded and the same for every node; the rule that makes a round place
 * all of a job's replicas at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_tables.h"
#include "../../vtest.h"

#define STALE 120000u

static void job_id(uint8_t out[32], unsigned n)
{
    memset(out, 0, 32);
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    out[31] = 0x5a;
}

/* A ready round with its request, as intake leaves it. */
static struct round *ready_round(struct round_table *t, unsigned n, uint64_t now)
{
    uint8_t id[32];
    job_id(id, n);
    struct round *r = round_table_add(t, id, 0, now);
    CHECK(r != NULL);
    struct veil_sched_request req = {0};
    CHECK_EQ_INT(round_set_req(r, &req, NULL, 0), 0);
    r->replicas = 1;
    veil_err err = {0};
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_READY, now, &err), 0);
    return r;
}

/* What veil_daemon_plan_round does with the admission verdict. */
static bool try_plan(struct round_table *t, struct round *r, uint64_t now)
{
    if (!round_table_admit(t, r, now, STALE))
        return false;
    veil_err err = {0};
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_PLANNED, now, &err), 0);
    r->planned_ms = now;
    return true;
}

/* The rounds tick: every ready round asks, in table order. */
static void tick(struct round_table *t, uint64_t now)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i]->state == VEIL_ROUND_ST_READY)
            (void)try_plan(t, t->v[i], now);
}

static void settle(struct round *r, uint64_t now)
{
    veil_err err = {0};
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_DECIDED, now, &err), 0);
}

/* Two nodes hear a burst of 10 jobs (in the same order) and settle rounds
 * as the decisions arrive: both admit the same rounds at the same steps,
 * never more than ROUND_ADMIT_MAX in flight, in arrival order, and all 10
 * are eventually planned. */
static void test_burst_fifo_bounded(void)
{
    struct round_table a = {0}, b = {0};
    const unsigned burst = 10;
    uint64_t now = 1000000;
    struct round *ra[10], *rb[10];
    for (unsigned j = 0; j < burst; j++) {
        ra[j] = ready_round(&a, j, now);
        rb[j] = ready_round(&b, j, now);
        (void)try_plan(&a, ra[j], now); /* intake plans at once when it can */
        (void)try_plan(&b, rb[j], now);
    }
    CHECK_EQ_INT(round_table_in_flight(&a, now, STALE), ROUND_ADMIT_MAX);
    CHECK_EQ_INT(round_table_queued(&a), burst - ROUND_ADMIT_MAX);
    unsigned planned_order[10], n_planned = 0;
    for (unsigned j = 0; j < burst; j++)
        if (ra[j]->state == VEIL_ROUND_ST_PLANNED)
            planned_order[n_planned++] = j;
    CHECK_EQ_INT(n_planned, ROUND_ADMIT_MAX);
    for (unsigned k = 0; k < n_planned; k++)
        CHECK_EQ_INT(planned_order[k], k); /* the first ones that came */
    /* a job arriving later waits behind the queue even when a slot is free */
    unsigned decided = 0;
    for (unsigned step = 0; step < 3 * burst && decided < burst; step++) {
        now += 5000;
        /* the oldest planned round settles on both nodes */
        for (unsigned j = 0; j < burst; j++)
            if (ra[j]->state == VEIL_ROUND_ST_PLANNED) {
                CHECK(rb[j]->state == VEIL_ROUND_ST_PLANNED);
                settle(ra[j], now);
                settle(rb[j], now);
                decided++;
                break;
            }
        tick(&a, now);
        tick(&b, now);
        CHECK(round_table_in_flight(&a, now, STALE) <= ROUND_ADMIT_MAX);
        for (unsigned j = 0; j < burst; j++)
            CHECK_EQ_INT(ra[j]->state, rb[j]->state); /* the same rule, the same result */
        /* first come, first served: a planned round never follows a queued one */
        for (unsigned j = 1; j < burst; j++)
            CHECK(!(ra[j]->state == VEIL_ROUND_ST_PLANNED &&
                    ra[j - 1]->state == VEIL_ROUND_ST_READY));
    }
    CHECK_EQ_INT(decided, burst); /* every round was admitted, none dropped */
    CHECK_EQ_INT(round_table_queued(&a), 0);
    round_table_free(&a);
    round_table_free(&b);
}

/* A late arrival does not overtake the queue when a slot frees. */
static void test_no_overtaking(void)
{
    struct round_table t = {0};
    uint64_t now = 50000;
    struct round *r[ROUND_ADMIT_MAX + 2];
    for (unsigned j = 0; j < ROUND_ADMIT_MAX + 1; j++) {
        r[j] = ready_round(&t, j, now);
        (void)try_plan(&t, r[j], now);
    }
    CHECK(r[ROUND_ADMIT_MAX]->state == VEIL_ROUND_ST_READY);
    settle(r[0], now + 1);
    struct round *late = ready_round(&t, 99, now + 2);
    CHECK(!try_plan(&t, late, now + 2)); /* the queued one goes first */
    CHECK(try_plan(&t, r[ROUND_ADMIT_MAX], now + 2));
    CHECK(!try_plan(&t, late, now + 2)); /* full again */
    round_table_free(&t);
}

/* A round in flight whose decision this node missed stops holding a slot
 * after the stale time; a retried (planned) round is never held back. */
static void test_stale_and_retry(void)
{
    struct round_table t = {0};
    uint64_t now = 10000;
    struct round *r[ROUND_ADMIT_MAX + 1];
    for (unsigned j = 0; j < ROUND_ADMIT_MAX + 1; j++) {
        r[j] = ready_round(&t, j, now);
        (void)try_plan(&t, r[j], now);
    }
    CHECK(r[ROUND_ADMIT_MAX]->state == VEIL_ROUND_ST_READY);
    CHECK(round_table_admit(&t, r[0], now, STALE)); /* planned: a retry re-plans it */
    tick(&t, now + STALE - 1);
    CHECK(r[ROUND_ADMIT_MAX]->state == VEIL_ROUND_ST_READY);
    tick(&t, now + STALE);
    CHECK(r[ROUND_ADMIT_MAX]->state == VEIL_ROUND_ST_PLANNED);
    round_table_free(&t);
}

/* A sharded round and its shard rounds hold one admission slot: a round
 * planned as 3 shards still leaves room for two more jobs, and its shards
 * free it when it settles. */
static void test_shards_one_slot(void)
{
    struct round_table t = {0};
    uint64_t now = 70000;
    struct round *parent = ready_round(&t, 1, now);
    CHECK(try_plan(&t, parent, now));
    struct round *kids[3];
    for (unsigned s = 0; s < 3; s++) {
        kids[s] = ready_round(&t, 100 + s, now); /* as plan_children plans them */
        kids[s]->replicas = 0;
        CHECK(round_is_shard(kids[s]));
        veil_err err = {0};
        CHECK_EQ_INT(round_move(kids[s], VEIL_ROUND_ST_PLANNED, now, &err), 0);
        kids[s]->planned_ms = now;
    }
    CHECK(!round_is_shard(parent));
    CHECK_EQ_INT(round_table_in_flight(&t, now, STALE), 1);
    struct round *other[ROUND_ADMIT_MAX];
    for (unsigned j = 0; j < ROUND_ADMIT_MAX; j++)
        other[j] = ready_round(&t, 10 + j, now);
    for (unsigned j = 0; j + 1 < ROUND_ADMIT_MAX; j++)
        CHECK(try_plan(&t, other[j], now));                /* the shards took no slot */
    CHECK(!try_plan(&t, other[ROUND_ADMIT_MAX - 1], now)); /* the window is full */
    CHECK_EQ_INT(round_table_in_flight(&t, now, STALE), ROUND_ADMIT_MAX);
    settle(parent, now + 1);
    CHECK(try_plan(&t, other[ROUND_ADMIT_MAX - 1], now + 1));
    round_table_free(&t);
}

static void test_pace_deadline(void)
{
    struct round_pace p = {0};
    CHECK_EQ_U64(round_pace_deadline_ms(&p, 60000), 60000); /* nothing measured: the base */
    round_pace_sample(&p, 2000);
    CHECK_EQ_U64(p.eval_ms, 2000);
    CHECK_EQ_U64(round_pace_deadline_ms(&p, 60000), 60000); /* fast: the base */
    for (int i = 0; i < 20; i++)
        round_pace_sample(&p, 30000); /* a loaded machine: 30 s per evaluation */
    CHECK(p.eval_ms > 29000 && p.eval_ms <= 30000);
    /* a full queue of evaluations fits twice in the deadline */
    CHECK(round_pace_deadline_ms(&p, 60000) >= 2 * ROUND_ADMIT_MAX * 29000ull);
    for (int i = 0; i < 40; i++)
        round_pace_sample(&p, 1000); /* the load went away: the deadline comes back */
    CHECK_EQ_U64(round_pace_deadline_ms(&p, 60000), 60000);
}

static void test_backoff(void)
{
    CHECK_EQ_U64(round_retry_backoff_epochs(0, 4000, 2000), 0);
    CHECK_EQ_U64(round_retry_backoff_epochs(1, 4000, 2000), 2);
    CHECK_EQ_U64(round_retry_backoff_epochs(2, 4000, 2000), 4);
    CHECK_EQ_U64(round_retry_backoff_epochs(3, 4000, 2000), 8);
    CHECK_EQ_U64(round_retry_backoff_epochs(9, 4000, 2000), 8);  /* bounded */
    CHECK_EQ_U64(round_retry_backoff_epochs(1, 3000, 10000), 1); /* at least one epoch */
    CHECK_EQ_U64(round_retry_backoff_epochs(1, 3000, 0), 0);
}

/* Catch-up passes: soon after a member returns, at least CATCHUP_GAP_MS
 * apart however many return, every CATCHUP_PERIOD_MS otherwise. */
static void test_catchup_clock(void)
{
    struct catchup_clock c = {0};
    uint64_t t = 1000000;
    CHECK(!catchup_due(&c, t)); /* the first periodic pass is a period away */
    CHECK(catchup_due(&c, t + CATCHUP_PERIOD_MS));
    t += CATCHUP_PERIOD_MS;
    catchup_soon(&c, t + 1); /* returns right after a pass: not before the gap */
    catchup_soon(&c, t + 2);
    CHECK(!catchup_due(&c, t + CATCHUP_GAP_MS - 1));
    CHECK(catchup_due(&c, t + CATCHUP_GAP_MS));
    CHECK(!catchup_due(&c, t + CATCHUP_GAP_MS + 1)); /* once */
    t += CATCHUP_GAP_MS;
    catchup_soon(&c, t + 60000);
    CHECK(catchup_due(&c, t + 60000 + CATCHUP_SOON_MS));
    t += 60000 + CATCHUP_SOON_MS;
    catchup_follow_up(&c, t);
    CHECK(!catchup_due(&c, t + CATCHUP_GAP_MS - 1));
    CHECK(catchup_due(&c, t + CATCHUP_GAP_MS));
}

/* The batch-round rule (issue 20: a job's replicas in one round): only
 * replica 0 of a job of 2..64 replicas, sharded or not (session 9: a sharded
 * round merges its shards' k-lists), while none of its replicas is placed; a
 * replica rescheduled later (one placed already) gets an ordinary round. Threshold clusters too: their key holders decide a
 * batch round like the designated decryptor (test_holder_votes). */
static void test_batch_rule(void)
{
    CHECK_EQ_INT(round_batch_size(0, 3, false), 3); /* sharded or not (the shards' k-lists) */
    CHECK_EQ_INT(round_batch_size(0, VEIL_SCHED_MAX_REPLICAS, false), VEIL_SCHED_MAX_REPLICAS);
    CHECK_EQ_INT(round_batch_size(0, 1, false), 1); /* one replica */
    CHECK_EQ_INT(round_batch_size(0, 0, false), 1); /* a shard round: its parent's k */
    CHECK_EQ_INT(round_batch_size(1, 3, false), 1); /* a later replica */
    CHECK_EQ_INT(round_batch_size(0, 3, true), 1);  /* rescheduled */
    CHECK_EQ_INT(round_batch_size(0, VEIL_SCHED_MAX_REPLICAS + 1, false), 1);
}

VTEST_MAIN(VTEST(test_batch_rule), VTEST(test_catchup_clock), VTEST(test_burst_fifo_bounded),
           VTEST(test_no_overtaking), VTEST(test_stale_and_retry), VTEST(test_shards_one_slot),
           VTEST(test_pace_deadline), VTEST(test_backoff))
