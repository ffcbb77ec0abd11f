// SPDX-License-Identifier: Apache-2.0
/*
 * test_schedule.c - the plaintext scheduling policy against an independent
 * brute-force oracle on random clusters, the tie rule, replicas on distinct
 * nodes (one round per replica, and all of them in one batch round), the op
 * counts against the documented formula, the plain op
 * semantics, and the backend contract (no leaks, determinism, errors).
 */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

#include "vtest.h"

/* Deterministic xorshift so that failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

/* The weighted policy stated directly: measured nodes first (unmeasured =
 * 4095), then W x (RTT in 1.6 ms steps) + L x load, the load being the sum
 * over the requested resources of the top 8 bits of spread's 12-bit term
 * for cpu, memory and disk, and of 255 - min(free, 255) for gpus (whole
 * GPUs; less free is more load); as one number ordered the same way. */
static uint64_t weighted_rank(const struct veil_sched_request *req,
                              const struct veil_telemetry_q *q)
{
    uint64_t lat = q->latency[req->latency_to], load = 0;
    for (int r = 0; r < VEIL_RES_COUNT; r++) {
        if (!req->res[r])
            continue;
        if (r == VEIL_RES_GPU) {
            load += 255 - (q->res[r] < 255 ? q->res[r] : 255);
            continue;
        }
        uint64_t spread_term = ((0xFFFFu - q->res[r]) >> 4) & 0xFFF;
        load += spread_term / 16;
    }
    uint64_t cost = req->latency_weight * (lat / 16) + req->load_weight * load;
    bool unmeasured = lat == VEIL_LATENCY_UNKNOWN;
    return (unmeasured ? 1ull << 32 : 0) + cost;
}

/* The policy stated directly: feasible nodes, their scores, min with lowest
 * index on ties. */
static bool brute_force(const struct veil_sched_request *req, const struct veil_telemetry_q *nodes,
                        const bool *excluded, size_t n, uint32_t *index)
{
    bool found = false;
    uint64_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (excluded[i])
            continue;
        bool feasible = true;
        for (int r = 0; r < VEIL_RES_COUNT; r++)
            feasible = feasible && nodes[i].res[r] >= req->res[r];
        /* labels: 8-bit codes, the words' high bytes ignored */
        if ((req->region & 0xFF) && (nodes[i].region & 0xFF) != (req->region & 0xFF))
            feasible = false;
        if ((req->zone & 0xFF) && (nodes[i].zone & 0xFF) != (req->zone & 0xFF))
            feasible = false;
        if (!feasible)
            continue;
        /* score: 12-bit terms (the 4 low bits of cpu/memory/disk dropped) */
        uint64_t score = 0;
        for (int r = 0; r < VEIL_RES_COUNT; r++) {
            if (!req->res[r])
                continue;
            unsigned shift = r == VEIL_RES_GPU ? 0 : 4; /* gpus: at most 4095 */
            if (req->policy == VEIL_POLICY_BINPACK)
                score += (nodes[i].res[r] >> shift) & 0xFFF;
            else if (req->policy == VEIL_POLICY_SPREAD)
                score += ((0xFFFFu - nodes[i].res[r]) >> shift) & 0xFFF;
        }
        if (req->policy == VEIL_POLICY_PRIORITY)
            score = nodes[i].priority & 0xFF;
        if (req->policy == VEIL_POLICY_LATENCY) /* RTT to the job's landmark */
            score = nodes[i].latency[req->latency_to];
        if (req->policy == VEIL_POLICY_WEIGHTED)
            score = weighted_rank(req, &nodes[i]);
        if (!found || score < best) {
            found = true;
            best = score;
            *index = (uint32_t)i;
        }
    }
    return found;
}

static uint16_t rand_res(void)
{
    switch (rnd(4)) {
    case 0:
        return (uint16_t)rnd(8); /* small: many ties and near misses */
    case 1:
        return 0xFFFF - (uint16_t)rnd(4); /* saturated */
    default:
        return (uint16_t)rnd(0x10000);
    }
}

static void random_cluster(struct veil_telemetry_q *nodes, bool *excluded, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < VEIL_RES_COUNT; r++)
            nodes[i].res[r] = rand_res();
        nodes[i].region = (uint16_t)(rnd(4) | (rnd(8) ? 0 : 0x100 * rnd(256)));
        nodes[i].zone = (uint16_t)rnd(3);
        nodes[i].priority = (uint16_t)(rnd(4) ? rnd(5) : rnd(0x10000)); /* codes wrap at 8 bits */
        for (int s = 0; s < VEIL_LATENCY_SLOTS; s++) /* ties, unmeasured, anything */
            nodes[i].latency[s] = (uint16_t)(rnd(3) == 0   ? rnd(4)
                                             : rnd(4) == 0 ? VEIL_LATENCY_UNKNOWN
                                                           : rnd(VEIL_LATENCY_MAX + 1));
        excluded[i] = rnd(8) == 0;
    }
}

static void random_request(struct veil_sched_request *req)
{
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        req->res[r] = rnd(3) == 0 ? 0 : rand_res();
    req->region = rnd(2) ? 0 : (uint16_t)(rnd(4) | (rnd(8) ? 0 : 0x100)); /* 0x100: any */
    req->zone = rnd(2) ? 0 : (uint16_t)rnd(3);
    req->policy = (enum veil_policy)rnd(VEIL_POLICY_LAST + 1);
    bool slot = req->policy == VEIL_POLICY_LATENCY || req->policy == VEIL_POLICY_WEIGHTED;
    req->latency_to = slot ? (uint8_t)rnd(VEIL_LATENCY_SLOTS) : 0;
    bool weighted = req->policy == VEIL_POLICY_WEIGHTED;
    /* the bounds themselves often: the cost's largest keys */
    req->latency_weight = !weighted     ? 0
                          : rnd(4) == 0 ? VEIL_WEIGHT_LATENCY_MAX
                                        : (uint8_t)rnd(VEIL_WEIGHT_LATENCY_MAX + 1);
    req->load_weight = !weighted     ? 0
                       : rnd(4) == 0 ? VEIL_WEIGHT_LOAD_MAX
                                     : (uint8_t)rnd(VEIL_WEIGHT_LOAD_MAX + 1);
    req->confidential = rnd(2) == 0;
}

static void test_against_brute_force(void)
{
    enum { TRIALS = 3000, MAXN = 40 };
    struct veil_telemetry_q nodes[MAXN];
    bool excluded[MAXN];
    size_t found_count = 0;
    for (int t = 0; t < TRIALS; t++) {
        size_t n = rnd(MAXN + 1);
        memset(nodes, 0, sizeof nodes);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        struct veil_sched_result res;
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, n, &res, NULL, &err), 0);
        uint32_t want = 0;
        bool want_found = brute_force(&req, nodes, excluded, n, &want);
        CHECK_EQ_INT(res.found, want_found);
        if (want_found && res.found) {
            CHECK_EQ_INT(res.index, want);
            found_count++;
        }
    }
    /* The generator must exercise both outcomes. */
    CHECK(found_count > TRIALS / 10);
    CHECK(found_count < TRIALS - TRIALS / 10);
}

static void test_replicas_against_brute_force(void)
{
    enum { TRIALS = 500, MAXN = 24 };
    struct veil_telemetry_q nodes[MAXN];
    bool excluded[MAXN], mask[MAXN];
    for (int t = 0; t < TRIALS; t++) {
        size_t n = rnd(MAXN + 1);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        uint32_t replicas = 1 + rnd(6);
        struct veil_sched_result out[8];
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_replicas(&req, nodes, excluded, n, replicas, out, NULL, &err), 0);
        memcpy(mask, excluded, sizeof mask);
        bool seen[MAXN] = {false};
        for (uint32_t k = 0; k < replicas; k++) {
            uint32_t want = 0;
            bool f = brute_force(&req, nodes, mask, n, &want);
            CHECK_EQ_INT(out[k].found, f);
            if (f && out[k].found) {
                CHECK_EQ_INT(out[k].index, want);
                CHECK(!seen[want]); /* distinct nodes */
                seen[want] = true;
                mask[want] = true;
            }
        }
    }
}

/* The spec of one-round replicas (what veil_fhe_argmin_replicas computes and
 * a multi-replica round places): replica k is the k-th smallest (key, index)
 * among the feasible nodes not excluded (key < 2^14: no failed condition),
 * so the nodes are distinct and in policy order; when fewer than `replicas`
 * are feasible the rest are unschedulable (index 0). Stated as a sort, not
 * as the oracle's repeated rounds. */
static void test_replicas_k_best(void)
{
    enum { TRIALS = 400, MAXN = 24 };
    struct veil_telemetry_q nodes[MAXN];
    bool excluded[MAXN];
    size_t partial = 0, full = 0;
    for (int t = 0; t < TRIALS; t++) {
        size_t n = rnd(MAXN + 1);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        uint32_t replicas = 1 + rnd(6);
        struct veil_sched_result out[8];
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_replicas(&req, nodes, excluded, n, replicas, out, NULL, &err), 0);
        uint32_t key[MAXN], order[MAXN], m = 0; /* feasible nodes by (key, index) */
        for (uint32_t i = 0; i < n; i++) {
            key[i] = veil_sched_key(&req, &nodes[i]);
            if (excluded[i] || key[i] >= (1u << 14))
                continue;
            uint32_t j = m++;
            for (; j > 0 && key[order[j - 1]] > key[i]; j--) /* stable: ties by index */
                order[j] = order[j - 1];
            order[j] = i;
        }
        for (uint32_t k = 0; k < replicas; k++) {
            CHECK_EQ_INT(out[k].found, k < m);
            CHECK_EQ_INT(out[k].index, k < m ? order[k] : 0);
        }
        partial += m > 0 && m < replicas;
        full += m >= replicas && replicas > 1;
    }
    CHECK(partial > 0 && full > 0); /* both outcomes exercised */
}

/* The batch round (issue 20: a job's replicas placed by one round): the
 * circuit with ARGMIN_REPLICAS over the plaintext backend equals the spec
 * veil_sched_replicas (k rounds, each excluding the nodes already chosen) on
 * random clusters with ties, exclusions, confidential requests and public
 * keys; the keys are computed once (one argmin op, not k). */
static void test_batch_round_equals_replicas(void)
{
    enum { TRIALS = 1500, MAXN = 24, MAXK = 9 };
    struct veil_telemetry_q nodes[MAXN];
    bool excluded[MAXN];
    size_t partial = 0, full = 0;
    for (int t = 0; t < TRIALS; t++) {
        size_t n = rnd(MAXN + 1);
        memset(nodes, 0, sizeof nodes);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        uint32_t k = 1 + rnd(MAXK);
        struct veil_sched_result spec[MAXK], batch[MAXK];
        struct veil_sched_ops ops = {0};
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_replicas(&req, nodes, excluded, n, k, spec, NULL, &err), 0);
        CHECK_EQ_INT(veil_sched_round_replicas(&req, nodes, excluded, n, k, batch, &ops, &err), 0);
        uint32_t found = 0;
        for (uint32_t r = 0; r < k; r++) {
            CHECK_EQ_INT(batch[r].found, spec[r].found);
            CHECK_EQ_INT(batch[r].index, spec[r].index);
            found += batch[r].found;
        }
        CHECK(ops.argmin <= 1); /* one tournament op for all k replicas */
        partial += found > 0 && found < k;
        full += found == k && k > 1;
    }
    CHECK(partial > 0 && full > 0); /* both outcomes exercised */
}

/* More replicas than feasible nodes, ties broken by the lowest index, and
 * the replica count's bounds. */
static void test_batch_round_edges(void)
{
    struct veil_telemetry_q nodes[5];
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < 5; i++)
        nodes[i].res[VEIL_RES_CPU] = nodes[i].res[VEIL_RES_MEMORY] = 100;
    nodes[1].res[VEIL_RES_CPU] = 10; /* infeasible */
    nodes[3].res[VEIL_RES_CPU] = 90; /* binpack: the tightest fit first */
    struct veil_sched_request req = {.res = {50, 10, 0, 0}, .policy = VEIL_POLICY_BINPACK};
    struct veil_sched_result out[6];
    veil_err err = {0};
    CHECK_EQ_INT(veil_sched_round_replicas(&req, nodes, NULL, 5, 6, out, NULL, &err), 0);
    const uint32_t want[4] = {3, 0, 2, 4}; /* then ties to the lowest index */
    for (int r = 0; r < 4; r++) {
        CHECK(out[r].found);
        CHECK_EQ_INT(out[r].index, want[r]);
    }
    CHECK(!out[4].found && !out[5].found); /* node 1 never: it is infeasible */
    CHECK_EQ_INT(veil_sched_round_replicas(&req, nodes, NULL, 5, 0, out, NULL, &err), -1);
    CHECK_EQ_INT(veil_sched_round_replicas(&req, nodes, NULL, 5, VEIL_SCHED_MAX_REPLICAS + 1, out,
                                           NULL, &err),
                 -1);
    /* the op itself: a flagged winner at the clamp stays there */
    uint32_t keys[3] = {0xC000, 5, 0x4000}, o1[4], o2[4];
    uint64_t labels[3] = {7, 8, 9};
    struct veil_sched_call call = {
        .op = VEIL_SCHED_OP_ARGMIN_REPLICAS, .n_args = 3, .k = 4, .labels = labels};
    CHECK_EQ_INT(veil_sched_plain_eval(&call, keys, o1, o2, &err), 0);
    /* 5 wins and becomes 0x4005; then 0x4000 (-> 0x8000), 0x4005, 0x8000 */
    const uint32_t labels_won[4] = {8, 9, 8, 9}, found_won[4] = {1, 0, 0, 0};
    for (int r = 0; r < 4; r++) {
        CHECK_EQ_INT(o1[r], labels_won[r]);
        CHECK_EQ_INT(o2[r], found_won[r]);
    }
    CHECK_EQ_INT(keys[1], 5); /* the caller's keys are not changed */
    /* three failed conditions stay three (no wrap to a feasible key) */
    uint32_t top[2] = {0xC000, 0xC001};
    call.n_args = 2;
    call.k = 3;
    CHECK_EQ_INT(veil_sched_plain_eval(&call, top, o1, o2, &err), 0);
    for (int r = 0; r < 3; r++) {
        CHECK_EQ_INT(o1[r], 7);
        CHECK_EQ_INT(o2[r], 0);
    }
}

static void test_tie_lowest_index(void)
{
    struct veil_telemetry_q nodes[5];
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < 5; i++) {
        nodes[i].res[VEIL_RES_CPU] = 100;
        nodes[i].res[VEIL_RES_MEMORY] = 100;
    }
    nodes[0].res[VEIL_RES_CPU] = 10; /* infeasible */
    struct veil_sched_request req = {.res = {50, 10, 0, 0}, .policy = VEIL_POLICY_BINPACK};
    struct veil_sched_result r;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK(r.found);
    CHECK_EQ_INT(r.index, 1);
    /* Binpack prefers the tighter fit; spread the roomier node. */
    nodes[3].res[VEIL_RES_CPU] = 60;
    nodes[4].res[VEIL_RES_CPU] = 500;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.index, 3);
    req.policy = VEIL_POLICY_SPREAD;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.index, 4);
    /* The score drops the 4 low bits: 96 and 111 tie (6), lowest index wins;
     * 95 (5) is strictly better. */
    req.policy = VEIL_POLICY_BINPACK;
    for (int i = 1; i < 5; i++)
        nodes[i].res[VEIL_RES_CPU] = 111;
    nodes[2].res[VEIL_RES_CPU] = 96;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.index, 1);
    nodes[4].res[VEIL_RES_CPU] = 95;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.index, 4);
    /* GPUs keep every bit in the score: binpack takes the node with the
     * fewest free GPUs that fit, spread the most. */
    struct veil_sched_request gpu = {.res = {0, 0, 0, 1}, .policy = VEIL_POLICY_BINPACK};
    for (int i = 0; i < 5; i++)
        nodes[i].res[VEIL_RES_GPU] = (uint16_t)(3 + i % 2);
    nodes[3].res[VEIL_RES_GPU] = 1;
    CHECK_EQ_INT(veil_sched_round(&gpu, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.index, 3);
    gpu.policy = VEIL_POLICY_SPREAD;
    CHECK_EQ_INT(veil_sched_round(&gpu, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.index, 1);
    for (int i = 0; i < 5; i++)
        nodes[i].res[VEIL_RES_GPU] = 0;
    /* Priority: lowest code wins, found even with nothing requested. */
    struct veil_sched_request prio = {.policy = VEIL_POLICY_PRIORITY};
    for (int i = 0; i < 5; i++)
        nodes[i].priority = (uint16_t)(9 - i % 3);
    CHECK_EQ_INT(veil_sched_round(&prio, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK(r.found);
    CHECK_EQ_INT(r.index, 2);
    /* Nothing fits: not found. */
    req.res[VEIL_RES_GPU] = 1;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK(!r.found);
    /* Saturated telemetry still compares correctly (score bound < NONE). */
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < VEIL_RES_COUNT; k++)
            nodes[i].res[k] = 0xFFFF;
    req.policy = VEIL_POLICY_BINPACK;
    req.res[0] = req.res[1] = req.res[2] = req.res[3] = 0; /* score 0 everywhere */
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK(r.found);
    CHECK_EQ_INT(r.index, 0);
    req.policy = VEIL_POLICY_SPREAD;
    req.res[0] = req.res[1] = req.res[2] = req.res[3] = 1;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
    CHECK(r.found);
    CHECK_EQ_INT(r.index, 0);
}

static void test_op_counts(void)
{
    /* The counted evaluation equals the closed formula, for random requests
     * (public and confidential), clusters and exclusions. */
    struct veil_telemetry_q nodes[24];
    bool excluded[24];
    for (int t = 0; t < 2000; t++) {
        size_t n = rnd(25);
        random_cluster(nodes, excluded, n);
        size_t candidates = 0;
        for (size_t i = 0; i < n; i++)
            candidates += !excluded[i];
        struct veil_sched_request req;
        random_request(&req);
        struct veil_sched_ops counted = {0}, formula;
        struct veil_sched_result r;
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, n, &r, &counted, NULL), 0);
        veil_sched_ops_formula(&req, candidates, &formula);
        CHECK_EQ_MEM(&counted, &formula, sizeof counted);
    }
    /* Hand-checked figures. Public binpack on cpu+memory, no constraints, 16
     * nodes: per node 2 lt_scalar + 2 sum_bits (each 12-bit field, free) + 1
     * sum_bits (their sum) + 1 flag_top = 6; per round 1 argmin. */
    struct veil_sched_request two = {.res = {50, 16, 0, 0}, .policy = VEIL_POLICY_BINPACK};
    struct veil_sched_ops f;
    veil_sched_ops_formula(&two, 16, &f);
    CHECK_EQ_U64(veil_sched_ops_total(&f), 6 * 16 + 1);
    CHECK_EQ_U64(f.sum_terms, 64);
    CHECK_EQ_U64(f.argmin_inputs, 16);
    /* The same request, confidential: all 4 resources and both constraints:
     * per node 4 lt + 2 truncate + 2 ne + 2 and + 4 sum_bits (fields) + 1
     * sum_masked + 1 flag_top = 16; per round 2 truncate + 6 ne_scalar + 1
     * argmin. */
    two.confidential = true;
    veil_sched_ops_formula(&two, 16, &f);
    CHECK_EQ_U64(f.lt, 64);
    CHECK_EQ_U64(f.sum_terms, 8 * 16);
    CHECK_EQ_U64(veil_sched_ops_total(&f), 16 * 16 + 9);
    veil_sched_ops_formula(&two, 0, &f);
    CHECK_EQ_U64(veil_sched_ops_total(&f), 0);
    /* Nothing requested: everything public, the first candidate wins. */
    struct veil_sched_request none = {.policy = VEIL_POLICY_SPREAD};
    struct veil_sched_ops counted = {0};
    struct veil_sched_result r;
    random_cluster(nodes, excluded, 8);
    excluded[0] = true;
    excluded[1] = false;
    CHECK_EQ_INT(veil_sched_round(&none, nodes, excluded, 8, &r, &counted, NULL), 0);
    CHECK(r.found);
    CHECK_EQ_INT(r.index, 1);
    CHECK_EQ_U64(veil_sched_ops_total(&counted), 2); /* idx and found: CONSTs */
}

/* A test backend: values are boxed, every live handle is counted, and an
 * op can be made to fail, to prove the circuit releases everything it makes
 * and propagates backend errors (what the FHE wiring relies on). */
struct veil_sched_ct {
    uint32_t x;
};
struct test_backend {
    long live;
    long ops_left;  /* fail when it reaches 0; < 0 = never */
    uint64_t trace; /* order-sensitive hash of the op sequence */
};

static int tb_eval(void *ctx, const struct veil_sched_call *call, veil_sched_ct **out,
                   veil_sched_ct **out2, veil_err *err)
{
    struct test_backend *t = ctx;
    if (t->ops_left == 0)
        return veil_err_set(err, VEIL_E_INTERNAL, "injected failure");
    if (t->ops_left > 0)
        t->ops_left--;
    uint32_t xs[64], r1 = 0, r2 = 0;
    CHECK(call->n_args <= 64);
    for (size_t i = 0; i < call->n_args && i < 64; i++)
        xs[i] = call->args[i]->x;
    /* ARGMIN and only ARGMIN has a second output */
    CHECK((out2 != NULL) == (call->op == VEIL_SCHED_OP_ARGMIN));
    if (veil_sched_plain_eval(call, xs, &r1, out2 ? &r2 : NULL, err) != 0)
        return -1;
    t->trace = t->trace * 1000003u + (uint64_t)call->op * 131u + call->k * 7u + call->k2 +
               call->n_args * 65537u;
    *out = malloc(sizeof **out);
    (*out)->x = r1;
    t->live++;
    if (out2) {
        *out2 = malloc(sizeof **out2);
        (*out2)->x = r2;
        t->live++;
    }
    return 0;
}

static void tb_release(void *ctx, veil_sched_ct *v)
{
    struct test_backend *t = ctx;
    t->live--;
    free(v);
}

static void test_backend_interface(void)
{
    enum { N = 12 };
    for (int trial = 0; trial < 200; trial++) {
        struct veil_telemetry_q nodes[N];
        bool excluded[N];
        random_cluster(nodes, excluded, N);
        struct veil_sched_request req;
        random_request(&req);
        veil_sched_ct inputs[N * VEIL_TELEMETRY_WORDS + 6];
        const veil_sched_ct *ptrs[N * VEIL_TELEMETRY_WORDS];
        for (int i = 0; i < N; i++) {
            uint16_t w[VEIL_TELEMETRY_WORDS];
            veil_telemetry_to_words(&nodes[i], w);
            for (int k = 0; k < VEIL_TELEMETRY_WORDS; k++) {
                inputs[i * VEIL_TELEMETRY_WORDS + k].x = w[k];
                ptrs[i * VEIL_TELEMETRY_WORDS + k] = &inputs[i * VEIL_TELEMETRY_WORDS + k];
            }
        }
        struct veil_sched_circuit_in in = {
            .req = &req, .node_words = ptrs, .excluded = excluded, .n_nodes = N};
        for (int w = 0; w < 6; w++) {
            inputs[N * VEIL_TELEMETRY_WORDS + w].x = w < 4    ? req.res[w]
                                                     : w == 4 ? req.region
                                                              : req.zone;
            in.req_words[w] = &inputs[N * VEIL_TELEMETRY_WORDS + w];
        }
        struct test_backend tb = {.ops_left = -1};
        struct veil_sched_backend be = {&tb, tb_eval, tb_release};
        veil_sched_ct *index = NULL, *found = NULL;
        struct veil_sched_ops ops = {0};
        veil_err err = {0};
        int rc = veil_sched_circuit(&be, &in, &index, &found, &ops, &err);
        CHECK_EQ_INT(rc, 0);
        struct veil_sched_result oracle;
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, N, &oracle, NULL, NULL), 0);
        bool any = false;
        for (int i = 0; i < N; i++)
            any |= !excluded[i];
        if (!any) {
            CHECK(index == NULL && found == NULL);
            continue;
        }
        CHECK(index && found);
        if (!index || !found)
            continue;
        CHECK_EQ_INT(found->x != 0, oracle.found);
        if (oracle.found)
            CHECK_EQ_INT(index->x, oracle.index);
        /* Only the two outputs are still alive. */
        CHECK_EQ_INT(tb.live, 2);
        tb_release(&tb, index);
        tb_release(&tb, found);
        /* Deterministic: the same inputs give the same op sequence. */
        struct test_backend tb2 = {.ops_left = -1};
        struct veil_sched_backend be2 = {&tb2, tb_eval, tb_release};
        CHECK_EQ_INT(veil_sched_circuit(&be2, &in, &index, &found, NULL, &err), 0);
        CHECK_EQ_U64(tb2.trace, tb.trace);
        tb_release(&tb2, index);
        tb_release(&tb2, found);
        /* A failure at any op: error out, nothing leaks. */
        uint64_t total = veil_sched_ops_total(&ops);
        long fail_at = total ? (long)rnd((uint32_t)total) : 0;
        struct test_backend tb3 = {.ops_left = fail_at};
        struct veil_sched_backend be3 = {&tb3, tb_eval, tb_release};
        rc = veil_sched_circuit(&be3, &in, &index, &found, NULL, &err);
        if (total > 0) {
            CHECK_EQ_INT(rc, -1);
            CHECK_CONTAINS(err.msg, "injected failure");
            CHECK(index == NULL && found == NULL);
            CHECK_EQ_INT(tb3.live, 0);
        }
    }
}

/* More than 256 members (up to the 65,536 cap): the labels and the index are
 * 16-bit; random clusters of 300 to 2,000 nodes against the brute force, and
 * one of 65,536 whose only feasible node is the last. */
static void test_many_members(void)
{
    enum { MAXN = 2000 };
    struct veil_telemetry_q *nodes = calloc(VEIL_SCHED_MAX_NODES, sizeof *nodes);
    bool *excluded = calloc(VEIL_SCHED_MAX_NODES, sizeof *excluded);
    CHECK(nodes && excluded);
    if (!nodes || !excluded)
        goto out;
    for (int t = 0; t < 6; t++) {
        size_t n = 300 + rnd(MAXN - 300);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        req.res[VEIL_RES_GPU] = 0; /* keep most of the cluster feasible */
        struct veil_sched_result res;
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, n, &res, NULL, &err), 0);
        uint32_t want = 0;
        bool want_found = brute_force(&req, nodes, excluded, n, &want);
        CHECK_EQ_INT(res.found, want_found);
        if (want_found)
            CHECK_EQ_INT(res.index, want);
    }
    memset(nodes, 0, VEIL_SCHED_MAX_NODES * sizeof *nodes);
    memset(excluded, 0, VEIL_SCHED_MAX_NODES * sizeof *excluded);
    nodes[VEIL_SCHED_MAX_NODES - 1].res[VEIL_RES_MEMORY] = 100;
    struct veil_sched_request req = {.policy = VEIL_POLICY_BINPACK};
    req.res[VEIL_RES_MEMORY] = 100;
    struct veil_sched_result res;
    veil_err err = {0};
    CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, VEIL_SCHED_MAX_NODES, &res, NULL, &err),
                 0);
    CHECK(res.found);
    CHECK_EQ_INT(res.index, VEIL_SCHED_MAX_NODES - 1);
out:
    free(nodes);
    free(excluded);
}

/* Machines beyond the old 256 GiB / 64 TiB: wide memory and disk codes
 * (veil/node.h) placed as the amounts compare. */
static void test_wide_quantities(void)
{
    const uint64_t gib = 1ull << 30;
    const uint64_t mem_gib[] = {580, 1024, 16384, 200};
    struct veil_telemetry_q nodes[4];
    bool excluded[4] = {0};
    for (size_t i = 0; i < 4; i++) {
        struct veil_telemetry_raw raw = {.cpu_millis = 64000,
                                         .memory_bytes = mem_gib[i] * gib,
                                         .disk_bytes = (i == 2 ? 1024ull * 1024 : 100) * gib};
        veil_telemetry_quantize_free(&raw, &nodes[i]);
    }
    struct veil_job_spec spec = {.cpu_millis = 1000, .memory_bytes = 1024 * gib};
    struct veil_sched_request req = {.policy = VEIL_POLICY_BINPACK};
    CHECK_EQ_INT(veil_telemetry_quantize_request(&spec, req.res, NULL), 0);
    struct veil_sched_result res;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, 4, &res, NULL, NULL), 0);
    CHECK(res.found && res.index == 1); /* binpack: the 1 TiB node, not 16 TiB */
    req.policy = VEIL_POLICY_SPREAD;
    CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, 4, &res, NULL, NULL), 0);
    CHECK(res.found && res.index == 2);
    spec.memory_bytes = 581 * gib; /* only 1 TiB and 16 TiB fit */
    req.policy = VEIL_POLICY_BINPACK;
    CHECK_EQ_INT(veil_telemetry_quantize_request(&spec, req.res, NULL), 0);
    CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, 4, &res, NULL, NULL), 0);
    CHECK(res.found && res.index == 1);
    spec.memory_bytes = 300 * gib; /* the 580 GiB node fits (it read as 256 GiB before) */
    CHECK_EQ_INT(veil_telemetry_quantize_request(&spec, req.res, NULL), 0);
    CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, 4, &res, NULL, NULL), 0);
    CHECK(res.found && res.index == 0);
    spec = (struct veil_job_spec){.disk_bytes = 1024ull * 1024 * gib}; /* 1 PiB */
    CHECK_EQ_INT(veil_telemetry_quantize_request(&spec, req.res, NULL), 0);
    CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, 4, &res, NULL, NULL), 0);
    CHECK(res.found && res.index == 2);
    uint32_t want = 0; /* and the brute force agrees */
    CHECK(brute_force(&req, nodes, excluded, 4, &want) && want == 2);
}

/* Sharded rounds give exactly the unsharded round's placement (the circuit's,
 * itself checked against the brute force above) for any shard size, with
 * ties across shard boundaries, excluded nodes and all-infeasible shards. */
static void test_sharded_equals_round(void)
{
    enum { TRIALS = 400, MAXN = 600 };
    static struct veil_telemetry_q nodes[MAXN];
    static bool excluded[MAXN];
    static const size_t sizes[] = {1, 2, 3, 16, 64, 1000};
    size_t found_count = 0;
    for (int t = 0; t < TRIALS; t++) {
        size_t n = 1 + rnd(t < 20 ? MAXN : 40);
        memset(nodes, 0, sizeof nodes);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        struct veil_sched_result want, got;
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, n, &want, NULL, &err), 0);
        found_count += want.found;
        for (size_t s = 0; s < VEIL_ARRAY_LEN(sizes); s++) {
            size_t shards = 0;
            CHECK_EQ_INT(
                veil_sched_round_sharded(&req, nodes, excluded, n, sizes[s], &got, &shards, &err),
                0);
            CHECK_EQ_INT(shards, (n + sizes[s] - 1) / sizes[s]);
            CHECK_EQ_INT(got.found, want.found);
            CHECK_EQ_INT(got.index, want.index);
        }
    }
    CHECK(found_count > TRIALS / 10 && found_count < TRIALS - TRIALS / 10);
    struct veil_sched_result r;
    struct veil_sched_request req = {.policy = VEIL_POLICY_BINPACK};
    CHECK_EQ_INT(veil_sched_round_sharded(&req, nodes, NULL, 4, 0, &r, NULL, NULL), -1);
}

/* Sharded batch rounds: each shard's top k by flagged tournaments, the
 * S k-lists merged by k tournaments flagged by position, equal the unsharded
 * k replicas (veil_sched_replicas) for every shard size 1..n and k = 1..5,
 * on random clusters with ties, exclusions and infeasible shards. */
static void test_sharded_replicas_equal_replicas(void)
{
    enum { TRIALS = 300, MAXN = 40 };
    static struct veil_telemetry_q nodes[MAXN];
    static bool excluded[MAXN];
    size_t found_some = 0, short_of_k = 0;
    for (int t = 0; t < TRIALS; t++) {
        size_t n = 1 + rnd(MAXN);
        memset(nodes, 0, sizeof nodes);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        veil_err err = {0};
        for (uint32_t k = 1; k <= 5; k++) {
            struct veil_sched_result want[5], got[5];
            CHECK_EQ_INT(veil_sched_replicas(&req, nodes, excluded, n, k, want, NULL, &err), 0);
            found_some += want[0].found;
            short_of_k += want[0].found && !want[k - 1].found;
            for (size_t size = 1; size <= n; size++) {
                size_t shards = 0;
                CHECK_EQ_INT(veil_sched_round_sharded_replicas(&req, nodes, excluded, n, size, k,
                                                               got, &shards, &err),
                             0);
                CHECK_EQ_INT(shards, (n + size - 1) / size);
                for (uint32_t r = 0; r < k; r++) {
                    CHECK_EQ_INT(got[r].found, want[r].found);
                    CHECK_EQ_INT(got[r].index, want[r].found ? want[r].index : 0);
                }
            }
        }
    }
    CHECK(found_some > TRIALS && short_of_k > TRIALS / 10);
    struct veil_sched_result r[2];
    struct veil_sched_request req = {.policy = VEIL_POLICY_BINPACK};
    CHECK_EQ_INT(veil_sched_round_sharded_replicas(&req, nodes, NULL, 4, 0, 1, r, NULL, NULL), -1);
    CHECK_EQ_INT(veil_sched_round_sharded_replicas(&req, nodes, NULL, 4, 2, 0, r, NULL, NULL), -1);
    CHECK_EQ_INT(veil_sched_round_sharded_replicas(&req, nodes, NULL, 4, 2, 65, r, NULL, NULL),
                 -1);
}

/* Lowest-latency placement: the closest feasible node to the job's
 * landmark, unmeasured nodes last, ties to the lowest index, the slot chosen
 * by latency_to; a slot out of range is refused. */
static void test_latency_placement(void)
{
    struct veil_telemetry_q nodes[5];
    memset(nodes, 0, sizeof nodes);
    static const uint16_t lat0[5] = {15, 40, 12, VEIL_LATENCY_UNKNOWN, 40};
    static const uint16_t lat1[5] = {300, 5, 90, 4, 5};
    for (int i = 0; i < 5; i++) {
        nodes[i].res[VEIL_RES_CPU] = nodes[i].res[VEIL_RES_MEMORY] = 100;
        nodes[i].latency[0] = lat0[i];
        nodes[i].latency[1] = lat1[i];
        nodes[i].latency[2] = nodes[i].latency[3] = VEIL_LATENCY_UNKNOWN;
    }
    struct veil_sched_request req = {.res = {50, 10, 0, 0}, .policy = VEIL_POLICY_LATENCY};
    struct veil_sched_result r;
    for (int conf = 0; conf < 2; conf++) {
        req.confidential = conf;
        req.latency_to = 0;
        nodes[2].res[VEIL_RES_CPU] = 100;
        CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 2);  /* 1.2 ms */
        nodes[2].res[VEIL_RES_CPU] = 10; /* the closest lacks cpu: the next one */
        CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 0);
        bool ex[5] = {true, false, true, false, false}; /* 40 and 40 tie; unmeasured last */
        CHECK_EQ_INT(veil_sched_round(&req, nodes, ex, 5, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 1);
        req.latency_to = 1; /* another landmark: node 3 */
        CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 3);
        nodes[3].res[VEIL_RES_MEMORY] = 1; /* node 3 lacks memory: 1 and 4 tie at 5 */
        CHECK_EQ_INT(veil_sched_round(&req, nodes, NULL, 5, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 1);
        nodes[3].res[VEIL_RES_MEMORY] = 100;
        CHECK_EQ_INT(veil_sched_key(&req, &nodes[3]), 4);
    }
    /* every node unmeasured: still placed (the lowest index), never refused */
    struct veil_telemetry_q blind[3];
    memset(blind, 0, sizeof blind);
    for (int i = 0; i < 3; i++) {
        blind[i].res[VEIL_RES_CPU] = blind[i].res[VEIL_RES_MEMORY] = 100;
        for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
            blind[i].latency[s] = VEIL_LATENCY_UNKNOWN;
    }
    req.latency_to = 3;
    CHECK_EQ_INT(veil_sched_round(&req, blind, NULL, 3, &r, NULL, NULL), 0);
    CHECK(r.found && r.index == 0);
    veil_err err = {0};
    req.latency_to = VEIL_LATENCY_SLOTS;
    CHECK_EQ_INT(veil_sched_round(&req, blind, NULL, 3, &r, NULL, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_INVALID);
}

/* placement: weighted against the brute force on random clusters built for
 * it (latency ties, unmeasured nodes, equal loads, the weights' bounds),
 * public and confidential; a cluster where weighted, lowest-latency and
 * binpack choose three different nodes; an unmeasured node never beats a
 * measured one, whatever its load; the largest keys fit (the bound); weights
 * out of range are refused. */
static void test_weighted_placement(void)
{
    enum { TRIALS = 2000, MAXN = 24 };
    struct veil_telemetry_q nodes[MAXN];
    bool excluded[MAXN];
    size_t found = 0, unmeasured_won = 0;
    for (int t = 0; t < TRIALS; t++) {
        size_t n = 1 + rnd(MAXN);
        random_cluster(nodes, excluded, n);
        for (size_t i = 0; i < n; i++) { /* few distinct values: ties everywhere */
            if (rnd(2))
                nodes[i].latency[0] = (uint16_t)(rnd(3) ? 16 * rnd(3) : VEIL_LATENCY_UNKNOWN);
            /* a handful of GPUs, around the 255/256 edge, or anything */
            uint16_t g = (uint16_t)(rnd(2)   ? rnd(12)
                                    : rnd(2) ? 250 + rnd(12)
                                             : nodes[i].res[VEIL_RES_GPU]);
            nodes[i].res[VEIL_RES_GPU] = g;
        }
        struct veil_sched_request req = {.policy = VEIL_POLICY_WEIGHTED};
        for (int r = 0; r < VEIL_RES_COUNT; r++)
            req.res[r] = rnd(2) ? 0 : (uint16_t)rnd(16);
        req.latency_weight = (uint8_t)rnd(VEIL_WEIGHT_LATENCY_MAX + 1);
        req.load_weight = (uint8_t)rnd(VEIL_WEIGHT_LOAD_MAX + 1);
        req.latency_to = (uint8_t)(rnd(2) ? 0 : rnd(VEIL_LATENCY_SLOTS));
        req.confidential = rnd(2) == 0;
        struct veil_sched_result res;
        veil_err err = {0};
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, n, &res, NULL, &err), 0);
        uint32_t want = 0;
        bool want_found = brute_force(&req, nodes, excluded, n, &want);
        CHECK_EQ_INT(res.found, want_found);
        if (!res.found || !want_found)
            continue;
        CHECK_EQ_INT(res.index, want);
        found++;
        unmeasured_won += nodes[res.index].latency[req.latency_to] == VEIL_LATENCY_UNKNOWN;
    }
    CHECK(found > TRIALS / 3);
    CHECK(unmeasured_won > 0); /* placed when no measured node is feasible */

    /* A close but busy node, a distant nearly full one, a mid-distance idle one */
    struct veil_telemetry_q three[4];
    memset(three, 0, sizeof three);
    const uint16_t lat[4] = {10, 800, 200, VEIL_LATENCY_UNKNOWN};
    const uint16_t cpu[4] = {300, 200, 6400, 0xFFFF}, mem[4] = {256, 128, 16384, 0xFFFF};
    for (int i = 0; i < 4; i++) {
        three[i].res[VEIL_RES_CPU] = cpu[i];
        three[i].res[VEIL_RES_MEMORY] = mem[i];
        for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
            three[i].latency[s] = lat[i];
    }
    struct veil_sched_request req = {.res = {100, 16, 0, 0}, .policy = VEIL_POLICY_LATENCY};
    struct veil_sched_result r;
    CHECK_EQ_INT(veil_sched_round(&req, three, NULL, 4, &r, NULL, NULL), 0);
    CHECK(r.found && r.index == 0); /* lowest-latency: the close one */
    req.policy = VEIL_POLICY_BINPACK;
    CHECK_EQ_INT(veil_sched_round(&req, three, NULL, 4, &r, NULL, NULL), 0);
    CHECK(r.found && r.index == 1); /* binpack: the fullest */
    req.policy = VEIL_POLICY_WEIGHTED;
    req.latency_weight = 1;
    req.load_weight = 4;
    for (int conf = 0; conf < 2; conf++) {
        req.confidential = conf;
        CHECK_EQ_INT(veil_sched_round(&req, three, NULL, 4, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 2); /* 12 + 4 (230 + 191) = 1696 */
    }
    CHECK_EQ_INT(veil_sched_key(&req, &three[2]), 1696);
    CHECK_EQ_INT(veil_sched_key(&req, &three[3]), VEIL_SCHED_COST_UNMEASURED + 255); /* idle */
    req.latency_weight = 16; /* latency counts more: the close one again */
    req.load_weight = 1;
    CHECK_EQ_INT(veil_sched_round(&req, three, NULL, 4, &r, NULL, NULL), 0);
    CHECK(r.found && r.index == 0);
    req.latency_weight = 0; /* load only: the idle unmeasured node still ranks last */
    req.load_weight = 4;
    CHECK_EQ_INT(veil_sched_round(&req, three, NULL, 4, &r, NULL, NULL), 0);
    CHECK(r.found && r.index == 2);
    bool only_d[4] = {true, true, true, false};
    CHECK_EQ_INT(veil_sched_round(&req, three, only_d, 4, &r, NULL, NULL), 0);
    CHECK(r.found && r.index == 3); /* the only candidate: placed */

    /* the bound: the largest feasible keys stay below 2^13 (measured) and
     * 2^14 (unmeasured) */
    struct veil_telemetry_q worst = {.res = {1, 1, 1, 1}};
    struct veil_sched_request big = {.res = {1, 1, 1, 1},
                                     .policy = VEIL_POLICY_WEIGHTED,
                                     .latency_weight = VEIL_WEIGHT_LATENCY_MAX,
                                     .load_weight = VEIL_WEIGHT_LOAD_MAX};
    worst.latency[0] = VEIL_LATENCY_MAX;
    /* one free GPU is a GPU load of 254 (255 needs none free: infeasible) */
    CHECK_EQ_INT(veil_sched_key(&big, &worst), 16 * 255 + 4 * (3 * 255 + 254));
    CHECK(veil_sched_key(&big, &worst) < VEIL_SCHED_COST_UNMEASURED);
    worst.latency[0] = VEIL_LATENCY_UNKNOWN;
    CHECK_EQ_INT(veil_sched_key(&big, &worst), 8192 + 16 * 255 + 4 * 1019);
    CHECK(veil_sched_key(&big, &worst) < VEIL_SCHED_FLAG_BASE);
    worst.res[VEIL_RES_GPU] = 0; /* every field at 255: the bound itself, flagged */
    CHECK_EQ_INT(veil_sched_key(&big, &worst), VEIL_SCHED_FLAG_BASE + 8192 + 8160);

    veil_err err = {0};
    uint16_t key;
    big.latency_weight = VEIL_WEIGHT_LATENCY_MAX + 1;
    CHECK_EQ_INT(veil_sched_round(&big, three, NULL, 4, &r, NULL, &err), -1);
    CHECK_CONTAINS(err.msg, "the cost must fit");
    CHECK_EQ_INT(veil_sched_node_key(&big, &three[0], &key, NULL), -1);
    big.latency_weight = 1;
    big.load_weight = VEIL_WEIGHT_LOAD_MAX + 1;
    CHECK_EQ_INT(veil_sched_round(&big, three, NULL, 4, &r, NULL, NULL), -1);
    big.load_weight = 1;
    big.latency_to = VEIL_LATENCY_SLOTS;
    CHECK_EQ_INT(veil_sched_round(&big, three, NULL, 4, &r, NULL, NULL), -1);
}

/* placement: weighted counts GPUs one by one (issue 20): two nodes alike
 * but for 1 and 6 free GPUs of 8 (the old measure, spread's top byte, read
 * both as 255 and tied to node 0) place on the one with 6 free; the GPU load is 255 -
 * min(free, 255) for every count (steps of one GPU, none from 255 on), in
 * the round, public and confidential, and in the node's own key. */
static void test_weighted_gpus(void)
{
    struct veil_telemetry_q two[2] = {{.res = {800, 512, 20, 1}, .latency = {40, 40, 40, 40}},
                                      {.res = {800, 512, 20, 6}, .latency = {40, 40, 40, 40}}};
    struct veil_sched_request req = {.res = {100, 16, 0, 1},
                                     .policy = VEIL_POLICY_WEIGHTED,
                                     .latency_weight = 1,
                                     .load_weight = 1};
    struct veil_sched_result r;
    for (int conf = 0; conf < 2; conf++) {
        req.confidential = conf;
        CHECK_EQ_INT(veil_sched_round(&req, two, NULL, 2, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 1);
    }
    req.confidential = false;
    uint16_t k0 = 0, k1 = 0;
    CHECK_EQ_INT(veil_sched_node_key(&req, &two[0], &k0, NULL), 0);
    CHECK_EQ_INT(veil_sched_node_key(&req, &two[1], &k1, NULL), 0);
    CHECK_EQ_INT(k0 - k1, 5); /* five GPUs, five steps */
    uint32_t index = 9;
    CHECK(brute_force(&req, two, (bool[2]){false, false}, 2, &index) && index == 1);

    /* the load of one GPU request alone, free 1..4095 (0 does not fit) */
    struct veil_sched_request gpu = {
        .res = {0, 0, 0, 1}, .policy = VEIL_POLICY_WEIGHTED, .load_weight = 1};
    struct veil_telemetry_q q = {.latency = {0}};
    for (uint32_t f = 1; f <= VEIL_QUANT_GPU_MAX; f++) {
        q.res[VEIL_RES_GPU] = (uint16_t)f;
        CHECK_EQ_INT(veil_sched_key(&gpu, &q), f < 255 ? 255 - f : 0);
    }
    /* 254, 255, 256 and 4095 free: 255 and above tie at no load (lowest
     * index); the round and the brute force agree */
    static const uint16_t edge[4] = {254, 255, 256, 4095};
    struct veil_telemetry_q four[4];
    memset(four, 0, sizeof four);
    for (int i = 0; i < 4; i++)
        four[i].res[VEIL_RES_GPU] = edge[i];
    for (int conf = 0; conf < 2; conf++) {
        gpu.confidential = conf;
        CHECK_EQ_INT(veil_sched_round(&gpu, four, NULL, 4, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 1);
        bool not1[4] = {false, true, false, false};
        CHECK_EQ_INT(veil_sched_round(&gpu, four, not1, 4, &r, NULL, NULL), 0);
        CHECK(r.found && r.index == 2);
        CHECK(brute_force(&gpu, four, not1, 4, &index) && index == 2);
    }
}

/* A node's own key (node-computed keys) is veil_sched_key when feasible,
 * else 0xFFFF; feasible keys stay below 2^14 - 1, so the argmin over the
 * candidates' keys (smallest, ties to the lowest index, found when below
 * 2^14) and the argmin over their low 14 bits alone (what
 * veil_fhe_argmin_node_keys compares) are the round, on random clusters
 * and public requests. */
static void test_node_keys(void)
{
    enum { TRIALS = 400, MAXN = 40 };
    struct veil_telemetry_q nodes[MAXN];
    bool excluded[MAXN];
    for (int t = 0; t < TRIALS; t++) {
        size_t n = 1 + rnd(MAXN);
        random_cluster(nodes, excluded, n);
        struct veil_sched_request req;
        random_request(&req);
        req.confidential = false;
        bool have = false;
        uint16_t best = 0, best_low = 0;
        uint32_t best_i = 0, best_low_i = 0;
        for (size_t i = 0; i < n; i++) {
            uint16_t key = 0;
            CHECK_EQ_INT(veil_sched_node_key(&req, &nodes[i], &key, NULL), 0);
            uint32_t full = veil_sched_key(&req, &nodes[i]);
            CHECK_EQ_INT(key, full < VEIL_SCHED_FLAG_BASE ? full : 0xFFFFu);
            CHECK(key == 0xFFFF || key < VEIL_SCHED_FLAG_BASE - 1);
            uint16_t low = key & (VEIL_SCHED_FLAG_BASE - 1);
            if (!excluded[i] && (!have || key < best)) {
                best = key;
                best_i = (uint32_t)i;
            }
            if (!excluded[i] && (!have || low < best_low)) {
                best_low = low;
                best_low_i = (uint32_t)i;
            }
            have = have || !excluded[i];
        }
        struct veil_sched_result r;
        CHECK_EQ_INT(veil_sched_round(&req, nodes, excluded, n, &r, NULL, NULL), 0);
        CHECK_EQ_INT(r.found, have && best < VEIL_SCHED_FLAG_BASE);
        CHECK_EQ_INT(r.found, have && best_low < VEIL_SCHED_FLAG_BASE - 1);
        if (r.found) {
            CHECK_EQ_INT(r.index, best_i);
            CHECK_EQ_INT(r.index, best_low_i);
        }
    }
    struct veil_sched_request bad = {.policy = VEIL_POLICY_LATENCY, .latency_to = 4};
    uint16_t key;
    CHECK_EQ_INT(veil_sched_node_key(&bad, &nodes[0], &key, NULL), -1);
}

static void test_limits(void)
{
    struct veil_sched_request req = {.policy = VEIL_POLICY_BINPACK};
    struct veil_sched_result r;
    veil_err err = {0};
    CHECK_EQ_INT(veil_sched_round(&req, NULL, NULL, VEIL_SCHED_MAX_NODES + 1, &r, NULL, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_EQ_INT(veil_sched_round(&req, NULL, NULL, 0, &r, NULL, &err), 0);
    CHECK(!r.found);
}

VTEST_MAIN(VTEST(test_against_brute_force), VTEST(test_replicas_against_brute_force),
           VTEST(test_replicas_k_best), VTEST(test_batch_round_equals_replicas),
           VTEST(test_batch_round_edges), VTEST(test_tie_lowest_index), VTEST(test_op_counts),
           VTEST(test_backend_interface), VTEST(test_limits), VTEST(test_many_members),
           VTEST(test_wide_quantities), VTEST(test_sharded_equals_round),
           VTEST(test_sharded_replicas_equal_replicas),
           VTEST(test_latency_placement), VTEST(test_weighted_placement), VTEST(test_weighted_gpus),
           VTEST(test_node_keys))
