// SPDX-License-Identifier: Apache-2.0
/*
 * test_tables.c - veild's in-memory tables (src/node/daemon_tables.c): the
 * round table keeps every replica's round of a multi-replica job however
 * many rounds the node has seen (issue 18: past 64 rounds the old fixed
 * table recycled a decided round, possibly the previous replica's own, and
 * the next replica was never planned), prunes only settled jobs, moves
 * rounds only along the lifecycle; the watch list and the announced set
 * hold hundreds of entries (issue 20: no caps of 64); the submitter's
 * re-announcements are bounded, with a growing gap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_tables.h"
#include "../../vtest.h"

static void job_id(uint8_t out[32], unsigned n)
{
    memset(out, 0, 32);
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    out[31] = 0xa5;
}

static void fake_peer(struct veil_peer_id *p, unsigned n)
{
    memset(p, 0, sizeof *p);
    p->len = 38;
    p->bytes[6] = (uint8_t)n;
    p->bytes[7] = (uint8_t)(n >> 8);
}

/* Drives one round from new to decided, as a node taking part would. */
static void decide(struct round *r, unsigned node, uint64_t now)
{
    veil_err err = {0};
    if (r->state == VEIL_ROUND_ST_NEW)
        CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_READY, now, &err), 0);
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_PLANNED, now, &err), 0);
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_EVALUATING, now, &err), 0);
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_EVALUATED, now, &err), 0);
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_DECIDED, now, &err), 0);
    fake_peer(&r->chosen, node);
}

/* 150 jobs of 3 replicas, one after the other as start_next_replica plans
 * them: 450 rounds, far over the old 64. Each next replica gets a fresh
 * round, and the previous replicas' rounds are still there with their
 * request and their chosen node. */
static void test_multi_replica_over_64_rounds(void)
{
    struct round_table t = {0};
    struct veil_sched_request req = {0};
    req.res[0] = 7;
    veil_err err = {0};
    const unsigned jobs = 150, replicas = 3;
    for (unsigned j = 0; j < jobs; j++) {
        uint8_t id[32];
        job_id(id, j);
        for (unsigned k = 0; k < replicas; k++) {
            CHECK(round_table_get(&t, id, k) == NULL);
            struct round *r = round_table_add(&t, id, k, 1000);
            CHECK(r != NULL);
            if (!r)
                return;
            CHECK_EQ_INT(r->state, VEIL_ROUND_ST_NEW);
            CHECK_EQ_INT(round_set_req(r, &req, NULL, 0), 0);
            r->replicas = replicas;
            CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_READY, 1000, &err), 0);
            /* the earlier replicas of this job are intact: decided, with
             * their node (what the exclusion and the next replica need) */
            for (unsigned p = 0; p < k; p++) {
                struct round *prev = round_table_get(&t, id, p);
                CHECK(prev != NULL && prev != r);
                if (!prev)
                    continue;
                CHECK_EQ_INT(prev->state, VEIL_ROUND_ST_DECIDED);
                CHECK(prev->have_req);
                CHECK_EQ_INT(prev->req.res[0], 7);
                CHECK_EQ_INT(prev->chosen.bytes[6], (uint8_t)(j * replicas + p));
            }
            decide(r, j * replicas + k, 1000);
        }
    }
    CHECK_EQ_U64(t.n, (uint64_t)jobs * replicas);
    round_table_free(&t);
}

/* Pruning drops settled jobs' rounds and stale new rounds, never a job
 * still in progress (its decided replicas name the nodes to avoid) nor a
 * round a worker holds. */
static void test_prune(void)
{
    struct round_table t = {0};
    veil_err err = {0};
    uint8_t a[32], b[32], c[32];
    job_id(a, 1);
    job_id(b, 2);
    job_id(c, 3);
    /* job a: replica 0 decided, replica 1 still planned */
    struct round *a0 = round_table_add(&t, a, 0, 0);
    struct round *a1 = round_table_add(&t, a, 1, 0);
    /* job b: both replicas decided or abandoned */
    struct round *b0 = round_table_add(&t, b, 0, 0);
    struct round *b1 = round_table_add(&t, b, 1, 0);
    /* job c: only digests seen (new), one busy decided round */
    struct round *c0 = round_table_add(&t, c, 0, 0);
    struct round *c1 = round_table_add(&t, c, 1, 0);
    CHECK(a0 && a1 && b0 && b1 && c0 && c1);
    if (!(a0 && a1 && b0 && b1 && c0 && c1))
        return;
    decide(a0, 1, 0);
    CHECK_EQ_INT(round_move(a1, VEIL_ROUND_ST_READY, 0, &err), 0);
    CHECK_EQ_INT(round_move(a1, VEIL_ROUND_ST_PLANNED, 0, &err), 0);
    decide(b0, 2, 0);
    CHECK_EQ_INT(round_move(b1, VEIL_ROUND_ST_ABANDONED, 0, &err), 0);
    CHECK_EQ_INT(round_move(c1, VEIL_ROUND_ST_DECIDED, 0, &err), 0);
    c1->busy = true;
    CHECK(!round_table_job_settled(&t, a));
    CHECK(round_table_job_settled(&t, b));
    /* nothing before the retention time */
    CHECK_EQ_U64(round_table_prune(&t, 500, 1000), 0);
    CHECK_EQ_U64(t.n, 6);
    /* after it: b0, b1 and c0 go; a0 (job a unsettled) and c1 (busy) stay */
    CHECK_EQ_U64(round_table_prune(&t, 5000, 1000), 3);
    CHECK_EQ_U64(t.n, 3);
    CHECK(round_table_get(&t, a, 0) == a0);
    CHECK(round_table_get(&t, a, 1) == a1);
    CHECK(round_table_get(&t, c, 1) == c1);
    CHECK(round_table_get(&t, b, 0) == NULL);
    c1->busy = false;
    round_table_free(&t);
}

/* 200 rounds of distinct jobs at once (a node's backlog): all kept. */
static void test_200_rounds(void)
{
    struct round_table t = {0};
    for (unsigned j = 0; j < 200; j++) {
        uint8_t id[32];
        job_id(id, 1000 + j);
        CHECK(round_table_add(&t, id, 0, 0) != NULL);
    }
    CHECK_EQ_U64(t.n, 200);
    for (unsigned j = 0; j < 200; j++) {
        uint8_t id[32];
        job_id(id, 1000 + j);
        struct round *r = round_table_get(&t, id, 0);
        CHECK(r != NULL && memcmp(r->job_id, id, 32) == 0);
    }
    round_table_free(&t);
}

/* A refused move changes nothing; a terminal round drops its outputs. */
static void test_moves(void)
{
    struct round_table t = {0};
    veil_err err = {0};
    uint8_t id[32];
    job_id(id, 9);
    struct round *r = round_table_add(&t, id, 0, 0);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(round_move(r, VEIL_ROUND_ST_EVALUATING, 1, &err) != 0); /* new -> evaluating */
    CHECK_EQ_INT(err.code, VEIL_E_STATE);
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_NEW);
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_READY, 2, &err), 0);
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_PLANNED, 3, &err), 0);
    r->outputs[0].data = malloc(10);
    r->outputs[0].len = 10;
    r->n_outputs = 1;
    r->n_digests = 2;
    CHECK_EQ_INT(round_move(r, VEIL_ROUND_ST_ABANDONED, 4, &err), 0);
    CHECK_EQ_U64(r->n_outputs, 0);
    CHECK_EQ_U64(r->n_digests, 0);
    CHECK_EQ_U64(r->changed_ms, 4);
    CHECK(round_move(r, VEIL_ROUND_ST_READY, 5, &err) != 0); /* abandoned is final */
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_ABANDONED);
    round_table_free(&t);
}

/* 200 containers watched (the old list stopped at 64: the 65th container's
 * exit went unseen). */
static void test_watch_200(void)
{
    struct watch_list l = {0};
    veil_err err = {0};
    uint8_t id[32];
    job_id(id, 5);
    for (unsigned i = 0; i < 200; i++) {
        char name[64];
        snprintf(name, sizeof name, "veil-%016x-%u", i, i);
        CHECK_EQ_INT(watch_list_add(&l, id, "00", i, name, &err), 0);
    }
    CHECK_EQ_U64(l.n, 200);
    CHECK_EQ_INT(watch_list_add(&l, id, "00", 7, "veil-0000000000000007-7", &err), 0);
    CHECK_EQ_U64(l.n, 200); /* the same container once */
    bool seen[200] = {0};
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].replica < 200)
            seen[l.v[i].replica] = true;
    for (unsigned i = 0; i < 200; i++)
        CHECK(seen[i]);
    watch_list_remove(&l, 0);
    CHECK_EQ_U64(l.n, 199);
    watch_list_free(&l);
}

/* 200 announced jobs, none forgotten (the old list started over at 64 and
 * announced every pending job again). */
static void test_announced_200(void)
{
    struct id_set s = {0};
    veil_err err = {0};
    char id[65];
    for (unsigned i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "%064x", i);
        CHECK_EQ_INT(id_set_add(&s, id, &err), 0);
    }
    CHECK_EQ_INT(id_set_add(&s, id, &err), 0);
    CHECK_EQ_U64(s.n, 200);
    for (unsigned i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "%064x", i);
        CHECK(id_set_has(&s, id));
    }
    CHECK(!id_set_has(&s, "ff"));
    id_set_free(&s);
}

/* An undecided job is re-announced at most `max` times, with a gap that
 * doubles up to 4 periods, and the stop is reported exactly once. */
static void test_reannounce_bounded(void)
{
    struct round r;
    memset(&r, 0, sizeof r);
    const uint64_t period = 4000;
    const uint32_t max = 6;
    r.reannounce_ms = period;
    unsigned sends = 0, stops = 0;
    uint64_t last = 0, last_gap = 0;
    for (uint64_t now = 0; now < 3600 * 1000; now += 200) {
        enum round_announce_step s = round_reannounce_step(&r, now, max);
        if (s == ROUND_ANNOUNCE_STOP)
            stops++;
        if (s != ROUND_ANNOUNCE_SEND)
            continue;
        if (sends > 0) {
            uint64_t gap = now - last;
            CHECK(gap >= last_gap);
            CHECK(gap <= ROUND_REANNOUNCE_MAX_GAP * period);
            last_gap = gap;
        }
        last = now;
        sends++;
        round_reannounce_sent(&r, now, period);
    }
    CHECK_EQ_INT(sends, max);
    CHECK_EQ_INT(stops, 1);
    CHECK_EQ_U64(last_gap, ROUND_REANNOUNCE_MAX_GAP * period);
    CHECK_EQ_INT(r.reannounced, max);
}

VTEST_MAIN(VTEST(test_multi_replica_over_64_rounds), VTEST(test_prune), VTEST(test_200_rounds),
           VTEST(test_moves), VTEST(test_watch_200), VTEST(test_announced_200),
           VTEST(test_reannounce_bounded))
