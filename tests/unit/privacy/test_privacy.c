// SPDX-License-Identifier: Apache-2.0
/*
 * test_privacy.c - unit tests of src/node/privacy.c (issue 12): capacity
 * classes (checked against the real plaintext placement policy: outcomes
 * depend only on class indices, and a placement never over-commits), the
 * outcome budget ledger, constraint isolation and outcome redaction.
 */
#include <jansson.h>

#include <veil/node.h>
#include <veil/privacy.h>

#include "vtest.h"

static struct veil_privacy_policy pol(uint32_t num, uint32_t den)
{
    struct veil_privacy_policy p;
    veil_privacy_policy_default(&p);
    p.ratio_num = num;
    p.ratio_den = den;
    return p;
}

static void test_policy_check(void)
{
    veil_err err = {0};
    struct veil_privacy_policy p;
    veil_privacy_policy_default(&p);
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), 0);
    CHECK_EQ_INT(veil_privacy_hidden_bp(&p), 3333); /* x2 classes: nothing known within 33% */
    p = pol(5, 3);
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), 0);
    CHECK_EQ_INT(veil_privacy_hidden_bp(&p), 2500);
    p = pol(6, 5);
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), -1);
    CHECK_CONTAINS(err.msg, "below 5/4");
    p = pol(2, 0);
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), -1);
    p = pol(0, 0);
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), 0);
    CHECK_EQ_INT(veil_privacy_hidden_bp(&p), 0);
    veil_privacy_policy_default(&p);
    p.period_s = 0;
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), -1);
    veil_privacy_policy_default(&p);
    p.min_label_members = 0;
    CHECK_EQ_INT(veil_privacy_policy_check(&p, &err), -1);
}

static void test_classes(void)
{
    struct veil_privacy_policy p = pol(2, 1);
    CHECK_EQ_INT(veil_privacy_class_down(&p, 0), 0);
    CHECK_EQ_INT(veil_privacy_class_down(&p, 1), 1);
    CHECK_EQ_INT(veil_privacy_class_down(&p, 3), 2);
    CHECK_EQ_INT(veil_privacy_class_down(&p, 1000), 512);
    CHECK_EQ_INT(veil_privacy_class_down(&p, 0xFFFF), 32768);
    CHECK_EQ_INT(veil_privacy_class_next(&p, 1000), 1024);
    CHECK_EQ_INT(veil_privacy_class_next(&p, 0xFFFF), 0xFFFF);
    struct veil_privacy_policy off = pol(0, 0);
    CHECK_EQ_INT(veil_privacy_class_down(&off, 1234), 1234);
    uint16_t res[4] = {400, 1000, 20, 3};
    veil_privacy_class_res(&p, res, 4);
    CHECK(res[0] == 256 && res[1] == 512 && res[2] == 16 && res[3] == 2);
    /* every ratio: bounded below v, monotone, and each class (from 16 units
     * on) spans a ratio of at least (q - 1 unit), so no value in it is known
     * within hidden_bp */
    const uint32_t ratios[][2] = {{2, 1}, {5, 3}, {7, 4}, {5, 4}};
    for (size_t k = 0; k < 4; k++) {
        p = pol(ratios[k][0], ratios[k][1]);
        uint16_t prev = 0;
        bool ok = true;
        for (uint32_t v = 0; v <= 0xFFFF; v++) {
            uint16_t c = veil_privacy_class_down(&p, (uint16_t)v);
            ok = ok && c <= v && c >= prev;
            prev = c;
            uint32_t next = veil_privacy_class_next(&p, (uint16_t)v);
            if (v >= 16 && next < 0xFFFF)
                ok = ok && c < next && (uint64_t)next * p.ratio_den >= (uint64_t)c * p.ratio_num;
        }
        CHECK(ok);
    }
}

/* The real plaintext policy (veil_sched_round: the oracle of the encrypted
 * circuit) on class-rounded memory: for random clusters, moving one node's
 * free memory anywhere inside its class changes no outcome of any request
 * (so outcomes carry the class index and nothing finer), and every
 * placement fits the node's true free memory. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static int place(const uint16_t *mem, size_t n, uint16_t r, enum veil_policy policy,
                 const struct veil_privacy_policy *p, bool *found)
{
    struct veil_telemetry_q q[8];
    memset(q, 0, sizeof q);
    for (size_t i = 0; i < n; i++) {
        q[i].res[VEIL_RES_CPU] = 400;
        q[i].res[VEIL_RES_MEMORY] = veil_privacy_class_down(p, mem[i]);
        q[i].res[VEIL_RES_DISK] = 1000;
    }
    struct veil_sched_request req = {0};
    req.res[VEIL_RES_CPU] = 1;
    req.res[VEIL_RES_MEMORY] = r;
    req.policy = policy;
    struct veil_sched_result out;
    veil_err err = {0};
    if (veil_sched_round(&req, q, NULL, n, &out, NULL, &err) != 0)
        return -2;
    *found = out.found;
    return out.found ? (int)out.index : -1;
}

static void test_classes_against_policy(void)
{
    struct veil_privacy_policy p = pol(2, 1);
    bool outcomes_same = true, fits = true;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 2 + rnd(4);
        uint16_t mem[8], moved[8];
        for (size_t i = 0; i < n; i++)
            mem[i] = (uint16_t)(16 + rnd(8000));
        memcpy(moved, mem, sizeof mem);
        size_t t = rnd((uint32_t)n);
        uint16_t lo = veil_privacy_class_down(&p, mem[t]);
        uint32_t hi = veil_privacy_class_next(&p, mem[t]) - 1;
        moved[t] = (uint16_t)(lo + rnd(hi - lo + 1));
        for (int j = 0; j < 40; j++) {
            uint16_t r = (uint16_t)(1 + rnd(9000));
            enum veil_policy pl = j % 2 ? VEIL_POLICY_SPREAD : VEIL_POLICY_BINPACK;
            bool f1 = false, f2 = false;
            int a = place(mem, n, r, pl, &p, &f1), b = place(moved, n, r, pl, &p, &f2);
            outcomes_same = outcomes_same && a == b && f1 == f2 && a != -2;
            if (a >= 0)
                fits = fits && mem[a] >= r;
        }
    }
    CHECK(outcomes_same);
    CHECK(fits);
    /* without classes the same move is visible: the attack's premise */
    struct veil_privacy_policy off = pol(0, 0);
    uint16_t m1[2] = {1000, 3000}, m2[2] = {1001, 3000};
    bool f1, f2;
    CHECK(place(m1, 2, 1001, VEIL_POLICY_BINPACK, &off, &f1) !=
          place(m2, 2, 1001, VEIL_POLICY_BINPACK, &off, &f2));
}

static struct veil_privacy_slot slot(uint8_t member, uint64_t period, uint32_t seq, uint8_t job)
{
    struct veil_privacy_slot s;
    memset(&s, 0, sizeof s);
    memset(s.member, member, 20);
    s.member_len = 20;
    s.period = period;
    s.seq = seq;
    memset(s.job_id, job, sizeof s.job_id);
    return s;
}

static void test_budget(void)
{
    struct veil_privacy_policy p;
    veil_privacy_policy_default(&p);
    p.outcomes_per_period = 3;
    p.period_s = 100;
    struct veil_privacy_used store[8];
    struct veil_privacy_ledger l = {store, 0, 8};
    veil_err why = {0}, err = {0};
    enum veil_privacy_verdict v;
    uint64_t now = 1000; /* period 10 */
    for (uint32_t s = 0; s < 3; s++) {
        struct veil_privacy_slot x = slot(1, 10, s, (uint8_t)(s + 1));
        CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &x, now, &v, &why, &err), 0);
        CHECK_EQ_INT(v, VEIL_PRIVACY_ACCEPT);
    }
    CHECK_EQ_INT(veil_privacy_budget_next(&l, &p, slot(1, 0, 0, 0).member, 20, 10), 3);
    CHECK_EQ_INT(veil_privacy_budget_next(&l, &p, slot(2, 0, 0, 0).member, 20, 10), 0);
    struct veil_privacy_slot over = slot(1, 10, 3, 9);
    CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &over, now, &v, &why, &err), 0);
    CHECK_EQ_INT(v, VEIL_PRIVACY_OVER_BUDGET);
    CHECK_CONTAINS(why.msg, "member 0101010101010101... period 10 slot 3");
    CHECK_CONTAINS(why.msg, "budget of 3 outcomes per 100 s");
    struct veil_privacy_slot again = slot(1, 10, 1, 2); /* a re-announcement */
    CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &again, now, &v, &why, &err), 0);
    CHECK_EQ_INT(v, VEIL_PRIVACY_REPEAT);
    struct veil_privacy_slot eq = slot(1, 10, 1, 7); /* same slot, another job */
    CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &eq, now, &v, &why, &err), 0);
    CHECK_EQ_INT(v, VEIL_PRIVACY_REUSED);
    CHECK_CONTAINS(why.msg, "equivocation");
    struct veil_privacy_slot old = slot(1, 8, 0, 5);
    CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &old, now, &v, &why, &err), 0);
    CHECK_EQ_INT(v, VEIL_PRIVACY_STALE);
    /* another member has its own budget; the next period starts afresh and
     * the ledger forgets periods before the previous one */
    struct veil_privacy_slot other = slot(2, 10, 0, 11);
    CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &other, now, &v, &why, &err), 0);
    CHECK_EQ_INT(v, VEIL_PRIVACY_ACCEPT);
    struct veil_privacy_slot later = slot(1, 12, 0, 12);
    CHECK_EQ_INT(veil_privacy_budget_charge(&l, &p, &later, 1200, &v, &why, &err), 0);
    CHECK_EQ_INT(v, VEIL_PRIVACY_ACCEPT);
    CHECK_EQ_INT(l.n, 1);
    /* a full ledger fails loudly instead of accepting unrecorded */
    struct veil_privacy_ledger tiny = {store, 0, 1};
    struct veil_privacy_slot a = slot(3, 12, 0, 1), b = slot(3, 12, 1, 2);
    CHECK_EQ_INT(veil_privacy_budget_charge(&tiny, &p, &a, 1200, &v, &why, &err), 0);
    CHECK_EQ_INT(veil_privacy_budget_charge(&tiny, &p, &b, 1200, &v, &why, &err), -1);
    CHECK_CONTAINS(err.msg, "ledger full");
    struct veil_privacy_slot bad = slot(3, 12, 0, 1);
    bad.member_len = 0;
    CHECK_EQ_INT(veil_privacy_budget_charge(&tiny, &p, &bad, 1200, &v, &why, &err), -1);
    /* two nodes fed the same slots in another order refuse the same jobs */
    struct veil_privacy_used s1[8], s2[8];
    struct veil_privacy_ledger l1 = {s1, 0, 8}, l2 = {s2, 0, 8};
    int refused1 = 0, refused2 = 0;
    for (uint32_t i = 0; i < 5; i++) {
        struct veil_privacy_slot x = slot(4, 10, i, (uint8_t)i),
                                 y = slot(4, 10, 4 - i, (uint8_t)(4 - i));
        CHECK_EQ_INT(veil_privacy_budget_charge(&l1, &p, &x, now, &v, &why, &err), 0);
        refused1 += v == VEIL_PRIVACY_OVER_BUDGET ? (1 << i) : 0;
        CHECK_EQ_INT(veil_privacy_budget_charge(&l2, &p, &y, now, &v, &why, &err), 0);
        refused2 += v == VEIL_PRIVACY_OVER_BUDGET ? (1 << (4 - i)) : 0;
    }
    CHECK_EQ_INT(refused1, refused2);
    CHECK_EQ_INT(refused1, (1 << 3) | (1 << 4));
}

static void test_constraints(void)
{
    struct veil_privacy_policy p;
    veil_privacy_policy_default(&p); /* k = 2 */
    struct veil_privacy_labels m[3] = {{1, 1}, {1, 2}, {2, 1}};
    veil_err err = {0};
    CHECK_EQ_INT(veil_privacy_label_matches(m, 3, 1, 0), 2);
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 0, 0, &err), 0);
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 1, 0, &err), 0); /* two members */
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 0, 1, &err), 0);
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 9, 0, &err), 0);  /* nobody */
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 2, 0, &err), -1); /* one node */
    CHECK_CONTAINS(err.msg, "region=2 zone=0 selects fewer than 2 members");
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 1, 2, &err), -1);
    p.min_label_members = 1;
    CHECK_EQ_INT(veil_privacy_constraint_check(&p, m, 3, 1, 2, &err), 0);
}

static void test_views(void)
{
    const uint8_t a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, c[3] = {7, 8, 9};
    CHECK_EQ_INT(veil_privacy_view_of(a, 3, a, 3, b, 3), VEIL_PRIVACY_VIEW_PLACED);
    CHECK_EQ_INT(veil_privacy_view_of(b, 3, a, 3, b, 3), VEIL_PRIVACY_VIEW_FULL);
    CHECK_EQ_INT(veil_privacy_view_of(c, 3, a, 3, b, 3), VEIL_PRIVACY_VIEW_NONE);
    CHECK_EQ_INT(veil_privacy_view_of(a, 3, a, 3, a, 3), VEIL_PRIVACY_VIEW_FULL);
    CHECK_EQ_INT(veil_privacy_view_of(a, 3, a, 3, NULL, 0), VEIL_PRIVACY_VIEW_PLACED);
    CHECK_EQ_INT(veil_privacy_view_of(c, 3, a, 3, NULL, 0), VEIL_PRIVACY_VIEW_NONE);
    CHECK_EQ_INT(veil_privacy_view_of(NULL, 0, NULL, 0, NULL, 0), VEIL_PRIVACY_VIEW_NONE);
}

static void test_redact_rows(void)
{
    const char *text = "{\"job_id\":\"ab\",\"replica\":0,\"epoch\":7,\"node\":\"12D3KooWX\","
                       "\"output_digest\":\"dd\",\"signature\":\"ss\",\"commitment\":\"cc\"}";
    json_t *a = json_loads(text, 0, NULL);
    CHECK(a != NULL);
    CHECK_EQ_INT(veil_privacy_redact_assignment(a, VEIL_PRIVACY_VIEW_FULL), 0);
    CHECK(json_object_get(a, "node") != NULL);
    CHECK_EQ_INT(veil_privacy_redact_assignment(a, VEIL_PRIVACY_VIEW_NONE), 1);
    CHECK_EQ_INT(veil_privacy_redact_assignment(a, VEIL_PRIVACY_VIEW_PLACED), 0);
    char *out = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(out, "{\"epoch\":7,\"job_id\":\"ab\",\"output_digest\":\"dd\",\"replica\":0}");
    free(out);
    json_decref(a);
    json_t *r =
        json_loads("{\"replica\":1,\"state\":\"assigned\",\"node\":\"12D3KooWX\"}", 0, NULL);
    CHECK_EQ_INT(veil_privacy_redact_replica_state(r, VEIL_PRIVACY_VIEW_PLACED), 0);
    out = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(out, "{\"replica\":1,\"state\":\"assigned\"}");
    free(out);
    CHECK_EQ_INT(veil_privacy_redact_replica_state(r, VEIL_PRIVACY_VIEW_NONE), 0);
    out = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(out, "{\"replica\":1}");
    free(out);
    json_decref(r);
    json_t *arr = json_array();
    CHECK_EQ_INT(veil_privacy_redact_assignment(arr, VEIL_PRIVACY_VIEW_FULL), -1);
    CHECK_EQ_INT(veil_privacy_redact_replica_state(arr, VEIL_PRIVACY_VIEW_FULL), -1);
    json_decref(arr);
}

VTEST_MAIN(VTEST(test_policy_check), VTEST(test_classes), VTEST(test_classes_against_policy),
           VTEST(test_budget), VTEST(test_constraints), VTEST(test_views), VTEST(test_redact_rows))
