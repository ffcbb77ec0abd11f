// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_select.c - the path selector (src/route/select.c) driven by a
 * seeded simulated network (route_sim.c): it converges to the best path,
 * fails over within 2 s of simulated time when the path in use dies, does
 * not flap between equal paths, keeps latency within 5% of the best fixed
 * path while link quality changes, keeps probing bounded, sees a path come
 * back, starts from priors, and refuses bad calls.
 */
#include "route_sim.h"
#include "vtest.h"

#define MS(x) ((uint64_t)(x)*1000)

/* Runs in 10 ms slices; returns the last time the choice was not the best. */
static uint64_t last_wrong(struct sim *s, uint64_t ms)
{
    uint64_t last = 0;
    for (uint64_t t = 0; t < ms; t += 10) {
        CHECK_EQ_INT(sim_run(s, 10), 0);
        if (sim_current(s) != sim_best(s))
            last = s->now_ms;
    }
    return last;
}

static void test_converges(void)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sim s;
        CHECK_EQ_INT(sim_init(&s, seed, sim_four, 4, NULL), 0);
        uint64_t last = last_wrong(&s, 30000);
        CHECK_EQ_INT(sim_current(&s), 1);
        CHECK(last < 5000);
    }
}

static void test_failover_under_2s(void)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sim s;
        CHECK_EQ_INT(sim_init(&s, seed, sim_four, 4, NULL), 0);
        CHECK_EQ_INT(sim_run(&s, 20000 + seed * 37), 0);
        CHECK_EQ_INT(sim_current(&s), 1);
        s.paths[1].up = false; /* the relay on path 1 dies */
        uint64_t took = sim_run_until_up(&s, 5000);
        CHECK(took < 2000);
        CHECK_EQ_INT(sim_current(&s), 3); /* the next best, not any live one */
        CHECK_EQ_INT(sim_run(&s, 5000), 0);
        CHECK_EQ_INT(sim_current(&s), 3);
    }
}

static void test_no_flapping_between_equal_paths(void)
{
    static const struct sim_path eq[] = {
        {MS(30), 6000, 5000, true},
        {MS(30), 6000, 5000, true},
        {MS(31), 6000, 5000, true},
        {MS(70), 2000, 5000, true},
    };
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sim s;
        CHECK_EQ_INT(sim_init(&s, seed, eq, 4, NULL), 0);
        CHECK_EQ_INT(sim_run(&s, 5000), 0);
        uint64_t before = s.sel.switches;
        CHECK(sim_current(&s) >= 0 && sim_current(&s) <= 2);
        CHECK_EQ_INT(sim_run(&s, 120000), 0);
        CHECK_EQ_U64(s.sel.switches, before);
    }
}

static void test_regret_changing_links(void)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct sim s;
        CHECK_EQ_INT(sim_init(&s, seed, sim_four, 4, NULL), 0);
        for (int phase = 0; phase < 8; phase++) {
            sim_four_phase(&s, phase);
            CHECK_EQ_INT(sim_run(&s, 15000), 0);
        }
        uint64_t best_fixed = UINT64_MAX;
        for (int i = 0; i < 4; i++)
            if (s.fixed_latency_us[i] < best_fixed)
                best_fixed = s.fixed_latency_us[i];
        fprintf(stderr, "regret seed %llu: chosen %llu fixed %llu oracle %llu\n",
                (unsigned long long)seed, (unsigned long long)s.chosen_latency_us,
                (unsigned long long)best_fixed, (unsigned long long)s.oracle_latency_us);
        CHECK(s.chosen_latency_us * 100 <= best_fixed * 105);
        /* and close to the oracle that knows the best path at every ms */
        CHECK(s.chosen_latency_us * 100 <= s.oracle_latency_us * 120);
    }
}

static void test_probes_bounded_when_stable(void)
{
    struct sim s;
    CHECK_EQ_INT(sim_init(&s, 9, sim_four, 4, NULL), 0);
    CHECK_EQ_INT(sim_run(&s, 30000), 0);
    uint64_t before = s.sel.probes;
    CHECK_EQ_INT(sim_run(&s, 60000), 0);
    double per_s = (double)(s.sel.probes - before) / 60.0;
    /* the path in use at 5/s plus three spares at about 1/8 s each */
    fprintf(stderr, "probes per second when stable: %.2f\n", per_s);
    CHECK(per_s <= 5.6);
    CHECK(per_s >= 5.0);
}

/* The fastest path drops 30% of packets: the clean, slightly slower one
 * wins (loss inflates the cost), and the choice does not flip back. */
static void test_avoids_lossy_path(void)
{
    static const struct sim_path lossy[] = {
        {MS(20), 2000, 300000, true},
        {MS(28), 2000, 0, true},
        {MS(60), 2000, 0, true},
    };
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct sim s;
        CHECK_EQ_INT(sim_init(&s, seed, lossy, 3, NULL), 0);
        CHECK_EQ_INT(sim_run(&s, 30000), 0);
        CHECK_EQ_INT(sim_current(&s), 1);
        uint64_t before = s.sel.switches;
        CHECK_EQ_INT(sim_run(&s, 60000), 0);
        CHECK_EQ_INT(sim_current(&s), 1);
        CHECK_EQ_U64(s.sel.switches, before);
    }
}

static void test_dead_path_comes_back(void)
{
    struct sim s;
    CHECK_EQ_INT(sim_init(&s, 4, sim_four, 4, NULL), 0);
    CHECK_EQ_INT(sim_run(&s, 10000), 0);
    s.paths[1].up = false;
    CHECK_EQ_INT(sim_run(&s, 3000), 0);
    CHECK_EQ_U64(veil_route_sel_cost(&s.sel, 1), UINT64_MAX);
    s.paths[1].up = true;
    CHECK_EQ_INT(sim_run(&s, 10000), 0);
    CHECK(veil_route_sel_cost(&s.sel, 1) != UINT64_MAX);
    CHECK_EQ_INT(sim_current(&s), 1);
}

static void test_priors_cold_start(void)
{
    struct veil_route_sel sel;
    veil_err err;
    uint32_t id = 99;
    CHECK_EQ_INT(veil_route_sel_init(&sel, NULL, &err), 0);
    CHECK_EQ_INT(veil_route_sel_current(&sel, &id, &err), -1);
    CHECK_EQ_INT(veil_route_sel_add(&sel, 7, MS(50), 0, &err), 0);
    CHECK_EQ_INT(veil_route_sel_add(&sel, 8, 0, 0, &err), 0);
    uint32_t due[4];
    CHECK_EQ_INT(veil_route_sel_due(&sel, 0, due, 4), 2);
    CHECK_EQ_INT(veil_route_sel_current(&sel, &id, &err), 0);
    CHECK_EQ_INT(id, 7);
    /* own samples replace the prior: 8 measures 10 ms, 7 measures 45 ms */
    CHECK_EQ_INT(veil_route_sel_report(&sel, 8, true, MS(10), 10, &err), 0);
    CHECK_EQ_INT(veil_route_sel_report(&sel, 7, true, MS(45), 45, &err), 0);
    CHECK_EQ_U64(veil_route_sel_cost(&sel, 7), MS(45));
    (void)veil_route_sel_due(&sel, 3000, due, 4); /* hold time passed */
    CHECK_EQ_INT(veil_route_sel_current(&sel, &id, &err), 0);
    CHECK_EQ_INT(id, 8);
}

static void test_api_errors(void)
{
    struct veil_route_sel sel;
    struct veil_route_sel_config cfg;
    veil_err err;
    veil_route_sel_config_default(&cfg);
    cfg.probe_idle_max_ms = 1;
    CHECK_EQ_INT(veil_route_sel_init(&sel, &cfg, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_INVALID);
    CHECK_EQ_INT(veil_route_sel_init(&sel, NULL, &err), 0);
    for (uint32_t i = 0; i < VEIL_ROUTE_PATHS_MAX; i++)
        CHECK_EQ_INT(veil_route_sel_add(&sel, i, 0, 0, &err), 0);
    CHECK_EQ_INT(veil_route_sel_add(&sel, 100, 0, 0, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_EQ_INT(veil_route_sel_add(&sel, 3, 0, 0, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_EXISTS);
    CHECK_EQ_INT(veil_route_sel_remove(&sel, 3, &err), 0);
    CHECK_EQ_INT(veil_route_sel_remove(&sel, 3, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_INT(veil_route_sel_report(&sel, 3, true, 1, 0, &err), -1);
    CHECK_EQ_U64(veil_route_sel_cost(&sel, 3), UINT64_MAX);
}

VTEST_MAIN(VTEST(test_converges), VTEST(test_failover_under_2s),
           VTEST(test_no_flapping_between_equal_paths), VTEST(test_regret_changing_links),
           VTEST(test_probes_bounded_when_stable), VTEST(test_avoids_lossy_path),
           VTEST(test_dead_path_comes_back), VTEST(test_priors_cold_start), VTEST(test_api_errors))
