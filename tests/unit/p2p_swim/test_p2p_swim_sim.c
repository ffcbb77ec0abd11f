// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_swim_sim.c - SWIM + Lifeguard on a simulated network of 20
 * members in virtual time (memberlist LAN defaults):
 *   - a killed member is declared dead by every other member within the
 *     failure-detection bound computed from the parameters;
 *   - with 10% random packet loss no live member is declared dead over two
 *     simulated minutes (several seeds);
 *   - a member that rejoins with a higher incarnation is alive again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_sim.h"
#include "vtest.h"

#define N_MEMBERS 20

struct observer {
    size_t victim;
    uint64_t dead_at[N_MEMBERS]; /* when each member declared the victim dead */
    uint64_t false_deaths;       /* dead events about live members */
    uint64_t joins_after_restart[N_MEMBERS];
    bool restarted;
};

static void on_event(struct swim_sim *sim, size_t node, const struct veil_swim_event *ev, void *ctx)
{
    struct observer *o = ctx;
    size_t subject = swim_sim_index(sim, ev->id, ev->id_len);
    if (subject == (size_t)-1)
        return;
    if (ev->type == VEIL_SWIM_EV_DEAD) {
        if (subject == o->victim && !o->restarted) {
            if (!o->dead_at[node])
                o->dead_at[node] = ev->at_ms;
        } else if (sim->nodes[subject].up) {
            o->false_deaths++;
            fprintf(stderr, "false death: node %zu declared %zu dead at %llu ms\n", node, subject,
                    (unsigned long long)ev->at_ms);
        }
    }
    if (ev->type == VEIL_SWIM_EV_JOIN && subject == o->victim && o->restarted)
        o->joins_after_restart[node]++;
}

/* The failure-detection bound for a healthy cluster (LHM score 0). Each
 * member probes every other member once per round of n-1 probe intervals in
 * a freshly shuffled order, so it probes the victim within 2(n-1) intervals
 * of the crash (worst case: first in one round, last in the next) and,
 * the probe failing, suspects it by the end of that interval at the latest
 * (or earlier on hearing another member's suspicion). Its own suspicion
 * timer then fires after at most the Lifeguard maximum (suspicion_max_mult
 * x the minimum: no confirmations), so every member declares the victim
 * dead within 2(n-1) x interval + max suspicion timeout. */
static uint64_t detection_bound_ms(const struct veil_swim_config *cfg, size_t n)
{
    return 2 * (uint64_t)(n - 1) * cfg->probe_interval_ms + veil_swim_suspicion_max_ms(cfg, n);
}

static void test_killed_member_detected_within_bound(void)
{
    const uint64_t seeds[] = {1, 2, 3};
    struct veil_swim_config cfg;
    veil_swim_config_default(&cfg);
    uint64_t bound = detection_bound_ms(&cfg, N_MEMBERS);
    CHECK_EQ_U64(bound, 38000 + 31224); /* 6 x 4 x log10(20) s = 31.2 s */
    for (size_t s = 0; s < VEIL_ARRAY_LEN(seeds); s++) {
        struct swim_sim sim;
        struct observer o;
        memset(&o, 0, sizeof o);
        o.victim = 7;
        CHECK_EQ_INT(swim_sim_init(&sim, N_MEMBERS, &cfg, seeds[s], 0), 0);
        sim.on_event = on_event;
        sim.event_ctx = &o;
        swim_sim_join_all(&sim);
        swim_sim_run_until(&sim, 20000);
        for (size_t i = 0; i < N_MEMBERS; i++)
            CHECK_EQ_INT(veil_swim_live_count(sim.nodes[i].sw), N_MEMBERS);
        uint64_t killed_at = sim.now;
        swim_sim_kill(&sim, o.victim);
        swim_sim_run_until(&sim, killed_at + bound);
        uint64_t worst = 0;
        for (size_t i = 0; i < N_MEMBERS; i++) {
            if (i == o.victim)
                continue;
            CHECK(o.dead_at[i] != 0);
            /* Dead, or already forgotten after gossip_to_dead_ms. */
            int st = swim_sim_state_of(&sim, i, o.victim);
            CHECK(st == VEIL_SWIM_DEAD || st == -1);
            if (o.dead_at[i] && o.dead_at[i] - killed_at > worst)
                worst = o.dead_at[i] - killed_at;
        }
        CHECK(worst <= bound);
        CHECK_EQ_U64(o.false_deaths, 0);
        CHECK_EQ_U64(sim.handle_errors, 0);
        fprintf(stderr,
                "seed %llu: all %d members declared the victim dead after %llu ms "
                "(bound %llu ms)\n",
                (unsigned long long)seeds[s], N_MEMBERS - 1, (unsigned long long)worst,
                (unsigned long long)bound);
        swim_sim_free(&sim);
    }
}

static void test_no_false_deaths_with_10_percent_loss(void)
{
    const uint64_t seeds[] = {11, 12, 13, 14, 15};
    for (size_t s = 0; s < VEIL_ARRAY_LEN(seeds); s++) {
        struct swim_sim sim;
        struct observer o;
        memset(&o, 0, sizeof o);
        o.victim = (size_t)-1;
        CHECK_EQ_INT(swim_sim_init(&sim, N_MEMBERS, NULL, seeds[s], 0), 0);
        sim.on_event = on_event;
        sim.event_ctx = &o;
        swim_sim_join_all(&sim);
        swim_sim_run_until(&sim, 10000);
        for (size_t i = 0; i < N_MEMBERS; i++)
            CHECK_EQ_INT(veil_swim_live_count(sim.nodes[i].sw), N_MEMBERS);
        sim.loss_percent = 10;
        swim_sim_run_until(&sim, 10000 + 120000);
        CHECK_EQ_U64(o.false_deaths, 0);
        uint64_t suspicions = 0, refutations = 0, max_score = 0;
        for (size_t i = 0; i < N_MEMBERS; i++) {
            struct veil_swim_stats st;
            veil_swim_get_stats(sim.nodes[i].sw, &st);
            suspicions += st.suspicions_started;
            refutations += st.refutations;
            if (veil_swim_health_score(sim.nodes[i].sw) > max_score)
                max_score = veil_swim_health_score(sim.nodes[i].sw);
            for (size_t j = 0; j < N_MEMBERS; j++)
                CHECK(swim_sim_state_of(&sim, i, j) != VEIL_SWIM_DEAD);
        }
        fprintf(stderr,
                "seed %llu: 10%% loss for 120 s: %llu of %llu packets lost, %llu "
                "suspicions started, %llu refutations, no deaths\n",
                (unsigned long long)seeds[s], (unsigned long long)sim.packets_lost,
                (unsigned long long)sim.packets_sent, (unsigned long long)suspicions,
                (unsigned long long)refutations);
        swim_sim_free(&sim);
    }
}

static void test_rejoin_with_higher_incarnation(void)
{
    struct swim_sim sim;
    struct observer o;
    memset(&o, 0, sizeof o);
    o.victim = 5;
    CHECK_EQ_INT(swim_sim_init(&sim, N_MEMBERS, NULL, 42, 0), 0);
    sim.on_event = on_event;
    sim.event_ctx = &o;
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 10000);
    swim_sim_kill(&sim, o.victim);
    /* Restart as soon as everyone holds it dead (the record is kept for
     * gossip_to_dead_ms, 30 s). */
    for (int step = 0; step < 80; step++) {
        swim_sim_run_until(&sim, sim.now + 1000);
        size_t n_dead = 0;
        for (size_t i = 0; i < N_MEMBERS; i++)
            n_dead += i != o.victim && swim_sim_state_of(&sim, i, o.victim) == VEIL_SWIM_DEAD;
        if (n_dead == N_MEMBERS - 1)
            break;
    }
    for (size_t i = 0; i < N_MEMBERS; i++)
        if (i != o.victim)
            CHECK_EQ_INT(swim_sim_state_of(&sim, i, o.victim), VEIL_SWIM_DEAD);
    /* A fresh process starts from incarnation 0; the cluster's record of its
     * death makes it refute with a higher one, which brings it back. */
    o.restarted = true;
    CHECK_EQ_INT(swim_sim_restart(&sim, o.victim, 0, 0), 0);
    swim_sim_run_until(&sim, sim.now + 10000);
    CHECK(veil_swim_incarnation(sim.nodes[o.victim].sw) >= 1);
    for (size_t i = 0; i < N_MEMBERS; i++) {
        if (i == o.victim)
            continue;
        CHECK_EQ_INT(swim_sim_state_of(&sim, i, o.victim), VEIL_SWIM_ALIVE);
        CHECK_EQ_U64(o.joins_after_restart[i], 1);
        CHECK_EQ_INT(swim_sim_state_of(&sim, o.victim, i), VEIL_SWIM_ALIVE);
    }
    CHECK_EQ_U64(o.false_deaths, 0);
    swim_sim_free(&sim);
}

VTEST_MAIN(VTEST(test_killed_member_detected_within_bound),
           VTEST(test_no_false_deaths_with_10_percent_loss),
           VTEST(test_rejoin_with_higher_incarnation))
