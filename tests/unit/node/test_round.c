// SPDX-License-Identifier: Apache-2.0
/*
 * test_round.c - epochs, the candidate list of a round (alive, fresh, one
 * entry per peer, sorted by peer ID), output digests and the decryptor's
 * guard (no decryption without a majority digest that matches the output;
 * never for a telemetry ciphertext); sharded rounds: the shard count, the
 * balanced consecutive ranges, the derived shard ids, and the merge of the
 * shards' winners equal to the unsharded round.
 */
#include <stdio.h>
#include <string.h>

#include <veil/node.h>

#include "vtest.h"

static struct veil_peer_id peer(uint8_t tag)
{
    struct veil_peer_id p = {.len = 38};
    static const uint8_t prefix[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    memcpy(p.bytes, prefix, 6);
    memset(p.bytes + 6, tag, 32);
    return p;
}

static void test_epochs(void)
{
    CHECK_EQ_U64(veil_epoch_of(0, 10000), 0);
    CHECK_EQ_U64(veil_epoch_of(9999, 10000), 0);
    CHECK_EQ_U64(veil_epoch_of(10000, 10000), 1);
    CHECK_EQ_U64(veil_epoch_of(1700000000123ull, 10000), 170000000);
    CHECK_EQ_U64(veil_epoch_of(5, 0), 0);
}

static void test_candidates(void)
{
    struct veil_telemetry_seen seen[] = {
        {peer(9), 100, true},    /* 0: fresh */
        {peer(3), 97, true},     /* 1: exactly max_age old: kept */
        {peer(5), 96, true},     /* 2: stale: expired */
        {peer(7), 100, false},   /* 3: dead */
        {peer(1), 101, true},    /* 4: from the future: not in this round */
        {peer(3), 99, true},     /* 5: newer entry of peer 3 supersedes 1 */
        {peer(2), 100, true},    /* 6 */
        {{.len = 0}, 100, true}, /* 7: no peer */
    };
    size_t idx[8];
    size_t n = veil_round_candidates(seen, 8, 100, VEIL_TELEMETRY_MAX_AGE_EPOCHS, idx);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(idx[0], 6); /* peer 2 */
    CHECK_EQ_INT(idx[1], 5); /* peer 3, its epoch-99 entry */
    CHECK_EQ_INT(idx[2], 0); /* peer 9 */
    /* Order of the input does not change the result. */
    struct veil_telemetry_seen rev[8];
    for (int i = 0; i < 8; i++)
        rev[i] = seen[7 - i];
    size_t idx2[8];
    CHECK_EQ_INT(veil_round_candidates(rev, 8, 100, VEIL_TELEMETRY_MAX_AGE_EPOCHS, idx2), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_MEM(&rev[idx2[i]], &seen[idx[i]], sizeof seen[0]);
    /* A newer but dead entry hides an older alive one: the peer is out. */
    struct veil_telemetry_seen d[] = {{peer(4), 100, true}, {peer(4), 101, false}};
    CHECK_EQ_INT(veil_round_candidates(d, 2, 101, 3, idx), 0);
}

static void test_guard(void)
{
    uint8_t job[32], other_job[32];
    memset(job, 0xAB, 32);
    memset(other_job, 0xCD, 32);
    const uint8_t output[] = "serialized [index, found] ciphertexts";
    const uint8_t telemetry_ct[] = "a node's telemetry ciphertext";
    struct veil_peer_id sched[3] = {peer(1), peer(2), peer(3)};
    struct veil_published_digest pub[3];
    for (int i = 0; i < 3; i++) {
        pub[i].scheduler = sched[i];
        veil_sched_output_digest(pub[i].digest, job, 0, 42, output, sizeof output);
    }
    veil_err err = {0};
    /* All agree: decrypt. */
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, pub, 3, &err), 0);
    /* 2 of 3 agree: decrypt. */
    pub[2].digest[0] ^= 1;
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, pub, 3, &err), 0);
    /* Only one vote (two schedulers down or lying): refuse. */
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, pub, 1, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK_CONTAINS(err.msg, "no majority");
    /* A telemetry ciphertext handed over as the output: refused. */
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 0, 42, telemetry_ct, sizeof telemetry_ct, sched, 3, pub, 3, &err),
        -1);
    CHECK_CONTAINS(err.msg, "does not match");
    /* Even if a majority published the digest of a telemetry ciphertext for
     * one job, it is bound to that job, replica and epoch only. */
    for (int i = 0; i < 3; i++)
        veil_sched_output_digest(pub[i].digest, job, 0, 42, telemetry_ct, sizeof telemetry_ct);
    CHECK_EQ_INT(veil_decrypt_guard(other_job, 0, 42, telemetry_ct, sizeof telemetry_ct, sched, 3,
                                    pub, 3, &err),
                 -1);
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 1, 42, telemetry_ct, sizeof telemetry_ct, sched, 3, pub, 3, &err),
        -1);
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 0, 43, telemetry_ct, sizeof telemetry_ct, sched, 3, pub, 3, &err),
        -1);
    /* Digests from peers that are not the job's schedulers do not count. */
    struct veil_published_digest outsiders[3];
    for (int i = 0; i < 3; i++) {
        outsiders[i].scheduler = peer((uint8_t)(50 + i));
        veil_sched_output_digest(outsiders[i].digest, job, 0, 42, output, sizeof output);
    }
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, outsiders, 3, &err), -1);
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, 0, sched, 3, outsiders, 3, &err), -1);
}

static void vote(struct veil_published_digest *p, struct veil_peer_id who, uint8_t digest_tag)
{
    p->scheduler = who;
    memset(p->digest, digest_tag, 32);
}

/* The decision the decryptor takes for a round that has no agreement: wait
 * while a majority can still form, retry (bounded) when it cannot or when
 * the attempt's deadline passed, give up once the attempts are spent. */
static void test_decide(void)
{
    struct veil_peer_id s[3] = {peer(1), peer(2), peer(3)};
    struct veil_published_digest p[4] = {0};
    struct veil_round_tally t;
    uint8_t agreed[32];
    const uint32_t max = VEIL_ROUND_MAX_ATTEMPTS;
    /* Nothing yet: wait; the deadline turns it into a retry. */
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 0, false, 0, max, agreed, &t), VEIL_ROUND_WAIT);
    CHECK_EQ_INT(t.voted, 0);
    CHECK_EQ_INT(t.needed, 2);
    CHECK(!t.split);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 0, true, 0, max, agreed, &t), VEIL_ROUND_RETRY);
    /* Two agree: agreed, whatever the third says or the clock. */
    vote(&p[0], s[0], 0xA1);
    vote(&p[1], s[2], 0xA1);
    memset(agreed, 0, 32);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 2, true, max - 1, max, agreed, &t), VEIL_ROUND_AGREED);
    CHECK_EQ_INT(agreed[0], 0xA1);
    CHECK_EQ_INT(t.largest, 2);
    /* Two disagree, the third has not voted: it may still side with one. */
    vote(&p[1], s[1], 0xB2);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 2, false, 0, max, NULL, &t), VEIL_ROUND_WAIT);
    CHECK_EQ_INT(t.voted, 2);
    CHECK_EQ_INT(t.largest, 1);
    CHECK(!t.split);
    /* All three differ: no majority can form: retry at once. */
    vote(&p[2], s[2], 0xC3);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 3, false, 0, max, NULL, &t), VEIL_ROUND_RETRY);
    CHECK(t.split);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 3, false, 1, max, NULL, &t), VEIL_ROUND_RETRY);
    /* The last attempt: give up instead of retrying (bounded). */
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 3, false, max - 1, max, NULL, &t), VEIL_ROUND_GIVE_UP);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 0, true, max - 1, max, NULL, &t), VEIL_ROUND_GIVE_UP);
    /* Two schedulers that disagree: split (a majority of 2 needs both). */
    CHECK_EQ_INT(veil_round_decide(s, 2, p, 2, false, 0, max, NULL, &t), VEIL_ROUND_RETRY);
    CHECK_EQ_INT(t.needed, 2);
    CHECK(t.split);
    /* One scheduler decides alone. */
    CHECK_EQ_INT(veil_round_decide(s, 1, p, 1, false, 0, max, agreed, &t), VEIL_ROUND_AGREED);
    CHECK_EQ_INT(agreed[0], 0xA1);
    /* A second digest from the same scheduler does not count twice, and
     * outsiders do not count at all. */
    vote(&p[0], s[0], 0xA1);
    vote(&p[1], s[0], 0xB2);
    vote(&p[2], peer(40), 0xB2);
    vote(&p[3], peer(41), 0xB2);
    CHECK_EQ_INT(veil_round_decide(s, 3, p, 4, false, 0, max, NULL, &t), VEIL_ROUND_WAIT);
    CHECK_EQ_INT(t.voted, 1);
    /* No scheduler at all (no live member when planned): nobody can vote. */
    CHECK_EQ_INT(veil_round_decide(s, 0, p, 0, false, 0, max, NULL, &t), VEIL_ROUND_RETRY);
    CHECK(t.split);
    /* A selection larger than any made is refused, never decided. */
    struct veil_peer_id many[VEIL_MAX_SCHEDULERS + 1];
    for (size_t i = 0; i < VEIL_ARRAY_LEN(many); i++)
        many[i] = peer((uint8_t)(60 + i));
    CHECK(veil_round_decide(many, VEIL_ARRAY_LEN(many), p, 0, false, 0, max, NULL, &t) !=
          VEIL_ROUND_AGREED);
    CHECK_EQ_STR(veil_round_verdict_name(VEIL_ROUND_GIVE_UP), "give_up");
}

/* When a scheduler may start: away from an epoch boundary, and late enough
 * that the epoch it evaluates is at least the retry's epoch_min. */
static void test_start_ms(void)
{
    const uint64_t iv = 10000, g = 300;
    CHECK_EQ_U64(veil_round_start_ms(50005000, iv, g, 0), 50005000);    /* mid-epoch: now */
    CHECK_EQ_U64(veil_round_start_ms(50000100, iv, g, 0), 50000300);    /* just after a boundary */
    CHECK_EQ_U64(veil_round_start_ms(50009800, iv, g, 0), 50010300);    /* just before one */
    CHECK_EQ_U64(veil_round_start_ms(50005000, iv, g, 4999), 50005000); /* evaluates epoch 4999 */
    CHECK_EQ_U64(veil_round_start_ms(50005000, iv, g, 5000), 50010300); /* waits for epoch 5001 */
    /* epoch_min 5001: wait for epoch 5002 to begin, plus the guard */
    CHECK_EQ_U64(veil_round_start_ms(50005000, iv, g, 5001), 50020300);
    for (uint64_t now = 50000000; now < 50030000; now += 777) {
        uint64_t t = veil_round_start_ms(now, iv, g, 5003);
        CHECK(t >= now);
        CHECK(veil_epoch_of(t, iv) - 1 >= 5003);
        CHECK(t % iv >= g && t % iv <= iv - g);
    }
    /* A short test interval keeps a window (a quarter of it). */
    uint64_t t = veil_round_start_ms(1000, 400, 300, 0);
    CHECK(t % 400 >= 100 && t % 400 <= 300);
    CHECK_EQ_U64(veil_round_start_ms(1234, 0, 300, 99), 1234);
}

/* Attempt 0's epoch is that of the moment the round was heard, whenever it
 * is admitted (issue 18: nodes admit a queued round at different moments);
 * a retry's is that of now, after epoch_min. */
static void test_plan_times(void)
{
    const uint64_t iv = 2000, g = 300, lag = 24;
    const uint64_t heard = 1000 * iv + 700; /* epoch 1000, mid-epoch */
    struct veil_round_plan p, q;
    veil_round_plan_times(heard, heard, iv, g, 0, 0, lag, &p); /* planned at once */
    CHECK_EQ_U64(p.epoch, 999);
    CHECK_EQ_U64(p.not_before_ms, heard);
    /* admitted 3 s and 40 s later (another node, a longer queue): same epoch */
    veil_round_plan_times(heard, heard + 3000, iv, g, 0, 0, lag, &q);
    CHECK_EQ_U64(q.epoch, 999);
    veil_round_plan_times(heard + 40, heard + 40000, iv, g, 0, 0, lag, &q); /* heard 40 ms later */
    CHECK_EQ_U64(q.epoch, 999);
    CHECK(q.not_before_ms < heard + 40000); /* it starts at once */
    /* heard just before a boundary: the guard moves it past (as when planned) */
    veil_round_plan_times(1001 * iv - 100, 1001 * iv + 9000, iv, g, 0, 0, lag, &q);
    CHECK_EQ_U64(q.epoch, 1000);
    /* a retry: from now, after epoch_min */
    veil_round_plan_times(heard, heard + 10000, iv, g, 1, 1004, lag, &q);
    CHECK_EQ_U64(q.epoch, 1004);
    CHECK(q.not_before_ms >= heard + 10000);
    /* heard unknown (0): from now */
    veil_round_plan_times(0, heard + 10000, iv, g, 0, 0, lag, &q);
    CHECK_EQ_U64(q.epoch, 1004);
    /* so old by now that the telemetry history is leaving it: moved onto
     * the grid of `lag` epochs, whenever each node heard of it */
    veil_round_plan_times(heard, heard + 30 * iv, iv, g, 0, 0, lag, &q); /* newest 1029 */
    CHECK_EQ_U64(q.epoch, 1008);
    veil_round_plan_times(heard - 20 * iv, heard + 30 * iv, iv, g, 0, 0, lag, &p);
    CHECK_EQ_U64(p.epoch, 1008); /* heard 40 s earlier (the others were down) */
    CHECK_EQ_U64(veil_epoch_of(p.not_before_ms, iv) - 1, p.epoch);
    CHECK(p.not_before_ms % iv >= g);
    veil_round_plan_times(heard, heard + 40 * iv, iv, g, 0, 0, lag, &p); /* newest 1039 */
    CHECK_EQ_U64(p.epoch, 1032);
}

static void test_epoch_held(void)
{
    CHECK_EQ_U64(veil_round_epoch_held(100, 110, 24), 100); /* held */
    CHECK_EQ_U64(veil_round_epoch_held(100, 124, 24), 100);
    CHECK_EQ_U64(veil_round_epoch_held(100, 125, 24), 120); /* onto the grid */
    CHECK_EQ_U64(veil_round_epoch_held(100, 149, 24), 144);
    CHECK_EQ_U64(veil_round_epoch_held(35, 90, 24), 72); /* heard at different */
    CHECK_EQ_U64(veil_round_epoch_held(61, 90, 24), 72); /* moments: one epoch */
    CHECK_EQ_U64(veil_round_epoch_held(100, 90, 24), 100); /* not behind */
    CHECK_EQ_U64(veil_round_epoch_held(100, 500, 0), 100); /* never moved */
    for (uint64_t now = 100; now < 400; now++) {
        uint64_t e = veil_round_epoch_held(100, now, 24);
        CHECK(e >= 100 && e <= now && now - e <= 24);
        CHECK(e == 100 || e % 24 == 0);
    }
}

/* The round lifecycle's transition table, cell by cell. */
static void test_lifecycle(void)
{
    enum { N, R, P, E, V, D, A, COUNT };
    _Static_assert((int)COUNT == (int)VEIL_ROUND_ST_COUNT, "one column per state");
    /* ok[from][to] */
    static const bool ok[COUNT][COUNT] = {
        /*          N  R  P  E  V  D  A */
        [N] = {0, 1, 0, 0, 0, 1, 1}, /* new: the request, or decided/abandoned unseen */
        [R] = {0, 0, 1, 0, 0, 1, 1}, /* ready: planned */
        [P] = {0, 0, 1, 1, 0, 1, 1}, /* planned: re-planned by a retry, evaluated */
        [E] = {0, 0, 1, 0, 1, 1, 1}, /* evaluating: a retry, the result, the decision */
        [V] = {0, 0, 1, 0, 0, 1, 1}, /* evaluated: a retry, the decision */
        [D] = {0, 1, 0, 0, 0, 0, 0}, /* decided: only a lost node's replica again */
        [A] = {0, 0, 0, 0, 0, 0, 0}, /* abandoned: final */
    };
    for (int f = 0; f < COUNT; f++)
        for (int t = 0; t < COUNT; t++)
            if (veil_round_transition_ok((enum veil_round_state)f, (enum veil_round_state)t) !=
                ok[f][t]) {
                fprintf(stderr, "transition %s -> %s\n",
                        veil_round_state_name((enum veil_round_state)f),
                        veil_round_state_name((enum veil_round_state)t));
                CHECK(0);
            }
    CHECK(!veil_round_transition_ok(VEIL_ROUND_ST_COUNT, VEIL_ROUND_ST_NEW));
    CHECK(!veil_round_transition_ok(VEIL_ROUND_ST_NEW, VEIL_ROUND_ST_COUNT));
    CHECK_EQ_STR(veil_round_state_name(VEIL_ROUND_ST_EVALUATING), "evaluating");
    CHECK_EQ_STR(veil_round_state_name(VEIL_ROUND_ST_COUNT), "?");
    CHECK(veil_round_state_terminal(VEIL_ROUND_ST_DECIDED));
    CHECK(veil_round_state_terminal(VEIL_ROUND_ST_ABANDONED));
    CHECK(!veil_round_state_terminal(VEIL_ROUND_ST_EVALUATED));
}

/* ---- sharded rounds ---- */

static void test_shard_count(void)
{
    CHECK_EQ_U64(veil_round_shard_count(12, 0), 1); /* no shard size: unsharded */
    CHECK_EQ_U64(veil_round_shard_count(4, 4), 1);
    CHECK_EQ_U64(veil_round_shard_count(12, 4), 3);
    CHECK_EQ_U64(veil_round_shard_count(13, 4), 4);
    CHECK_EQ_U64(veil_round_shard_count(9, 3), 3);
    CHECK_EQ_U64(veil_round_shard_count(0, 4), 1);
    CHECK_EQ_U64(veil_round_shard_count(65536, 16), VEIL_ROUND_MAX_SHARDS);
}

/* Every split tiles [0, total) with consecutive ranges whose sizes differ
 * by at most one. */
static void test_shard_range(void)
{
    for (size_t total = 0; total <= 70; total++)
        for (size_t n = 1; n <= 9; n++) {
            size_t next = 0, lo = SIZE_MAX, hi = 0;
            for (size_t s = 0; s < n; s++) {
                size_t first, end;
                veil_round_shard_range(total, n, s, &first, &end);
                CHECK_EQ_U64(first, next);
                CHECK(end >= first);
                lo = end - first < lo ? end - first : lo;
                hi = end - first > hi ? end - first : hi;
                next = end;
            }
            CHECK_EQ_U64(next, total);
            CHECK(hi - lo <= 1);
        }
    size_t first, end;
    veil_round_shard_range(10, 3, 3, &first, &end); /* out of range: empty */
    CHECK_EQ_U64(first, 10);
    CHECK_EQ_U64(end, 10);
}

static void test_shard_ids(void)
{
    uint8_t job[32], a[32], b[32];
    memset(job, 7, sizeof job);
    veil_round_shard_id(a, job, 0, 100, 3, 1);
    veil_round_shard_id(b, job, 0, 100, 3, 1);
    CHECK(memcmp(a, b, 32) == 0); /* every node derives the same id */
    CHECK(memcmp(a, job, 32) != 0);
    const uint32_t vary[][4] = {{1, 100, 3, 1}, {0, 101, 3, 1}, {0, 100, 4, 1}, {0, 100, 3, 2}};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(vary); i++) {
        veil_round_shard_id(b, job, vary[i][0], vary[i][1], vary[i][2], vary[i][3]);
        CHECK(memcmp(a, b, 32) != 0); /* a retry's epoch or another shard: another round */
    }
    job[31] ^= 1;
    veil_round_shard_id(b, job, 0, 100, 3, 1);
    CHECK(memcmp(a, b, 32) != 0);
}

static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* What the daemon computes: each balanced shard's (key, index) winner, then
 * the merge (smallest key, ties to the earlier shard) equals the unsharded
 * round, on random clusters with ties, exclusions and infeasible nodes. */
static void test_shard_merge_equals_round(void)
{
    uint64_t seed = 20;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rnd(&seed) % 40, shards = 1 + rnd(&seed) % 8;
        struct veil_telemetry_q nodes[40];
        bool excluded[40];
        memset(nodes, 0, sizeof nodes);
        for (size_t i = 0; i < n; i++) {
            for (int r = 0; r < VEIL_RES_COUNT; r++)
                nodes[i].res[r] = (uint16_t)(rnd(&seed) % 4 * 100); /* ties */
            nodes[i].region = (uint16_t)(rnd(&seed) % 3);
            excluded[i] = rnd(&seed) % 5 == 0;
        }
        struct veil_sched_request req = {.policy = (enum veil_policy)(rnd(&seed) % 2)};
        req.res[0] = (uint16_t)(rnd(&seed) % 300);
        req.region = (uint16_t)(rnd(&seed) % 3);
        struct veil_sched_result want;
        veil_err err = {0};
        CHECK(veil_sched_round(&req, nodes, excluded, n, &want, NULL, &err) == 0);
        bool have = false;
        uint32_t best = 0, index = 0;
        for (size_t s = 0; s < shards; s++) {
            size_t first, end;
            veil_round_shard_range(n, shards, s, &first, &end);
            for (size_t i = first; i < end; i++) {
                if (excluded[i])
                    continue;
                uint32_t k = veil_sched_key(&req, &nodes[i]);
                if (!have || k < best) { /* within a shard and across: earlier wins ties */
                    have = true;
                    best = k;
                    index = (uint32_t)i;
                }
            }
        }
        bool found = have && best < VEIL_SCHED_FLAG_BASE;
        CHECK_EQ_U64(found, want.found);
        if (found && want.found)
            CHECK_EQ_U64(index, want.index);
    }
}

/* Late nodes (round.c): an earlier, complete, held epoch of the same
 * attempt is adopted; a later one, one before the retry's floor, one not
 * complete yet, or one not held never is. */
static void test_epoch_adopt(void)
{
    CHECK(veil_round_epoch_adopt(100, 98, 0, 101, true));
    CHECK(veil_round_epoch_adopt(100, 90, 90, 101, true));
    CHECK(!veil_round_epoch_adopt(100, 98, 0, 101, false)); /* not in the history */
    CHECK(!veil_round_epoch_adopt(100, 101, 0, 101, true)); /* later: never */
    CHECK(!veil_round_epoch_adopt(100, 100, 0, 101, true));
    CHECK(!veil_round_epoch_adopt(100, 89, 90, 101, true)); /* before epoch_min */
    CHECK(!veil_round_epoch_adopt(100, 99, 0, 98, true));   /* not complete yet */
}

VTEST_MAIN(VTEST(test_epoch_adopt), VTEST(test_epochs), VTEST(test_candidates), VTEST(test_guard),
           VTEST(test_decide), VTEST(test_start_ms), VTEST(test_plan_times), VTEST(test_epoch_held),
           VTEST(test_lifecycle), VTEST(test_shard_count), VTEST(test_shard_range),
           VTEST(test_shard_ids), VTEST(test_shard_merge_equals_round))
