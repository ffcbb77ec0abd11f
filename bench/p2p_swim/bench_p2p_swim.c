// SPDX-License-Identifier: Apache-2.0
/*
 * bench_p2p_swim.c - SWIM + Lifeguard figures on the simulated network
 * (owned by the SWIM part of p2p): for 20 and 100 members with memberlist's
 * LAN defaults, the steady-state message load (messages and bytes sent per
 * member per second) and the failure-detection time after a crash (first
 * suspicion, first and last member to declare it dead), over several seeds.
 * Virtual time: the figures are protocol properties, independent of the
 * machine. Prints one JSON object per cluster size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_sim.h"

struct detect {
    size_t victim;
    uint64_t first_suspect, first_dead, last_dead;
    size_t n_dead;
    uint64_t false_deaths;
};

static void on_event(struct swim_sim *sim, size_t node, const struct veil_swim_event *ev, void *ctx)
{
    (void)node;
    struct detect *d = ctx;
    size_t subject = swim_sim_index(sim, ev->id, ev->id_len);
    if (subject != d->victim) {
        if (ev->type == VEIL_SWIM_EV_DEAD)
            d->false_deaths++;
        return;
    }
    if (ev->type == VEIL_SWIM_EV_SUSPECT && !d->first_suspect)
        d->first_suspect = ev->at_ms;
    if (ev->type == VEIL_SWIM_EV_DEAD) {
        if (!d->first_dead)
            d->first_dead = ev->at_ms;
        d->last_dead = ev->at_ms;
        d->n_dead++;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_size(size_t n, size_t n_seeds)
{
    struct veil_swim_config cfg;
    veil_swim_config_default(&cfg);
    const uint64_t warmup_ms = 20000, measure_ms = 60000;
    double msgs = 0, bytes = 0;
    uint64_t *suspect = calloc(n_seeds, sizeof *suspect);
    uint64_t *first = calloc(n_seeds, sizeof *first);
    uint64_t *last = calloc(n_seeds, sizeof *last);
    uint64_t false_deaths = 0, incomplete = 0;
    for (size_t s = 0; s < n_seeds; s++) {
        struct swim_sim sim;
        struct detect d;
        memset(&d, 0, sizeof d);
        d.victim = (size_t)-1;
        if (swim_sim_init(&sim, n, &cfg, 1000 + s, 0) != 0) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
        sim.on_event = on_event;
        sim.event_ctx = &d;
        swim_sim_join_all(&sim);
        swim_sim_run_until(&sim, warmup_ms);
        uint64_t p0 = sim.packets_sent, b0 = sim.bytes_sent;
        swim_sim_run_until(&sim, warmup_ms + measure_ms);
        msgs += (double)(sim.packets_sent - p0) / (double)n / (measure_ms / 1000.0);
        bytes += (double)(sim.bytes_sent - b0) / (double)n / (measure_ms / 1000.0);

        d.victim = 1 + (size_t)(swim_sim_rand(&sim.rng) % (n - 1));
        uint64_t kill_at = sim.now;
        swim_sim_kill(&sim, d.victim);
        swim_sim_run_until(&sim, kill_at + 120000);
        suspect[s] = d.first_suspect - kill_at;
        first[s] = d.first_dead - kill_at;
        last[s] = d.last_dead - kill_at;
        incomplete += d.n_dead != n - 1;
        false_deaths += d.false_deaths;
        swim_sim_free(&sim);
    }
    qsort(suspect, n_seeds, sizeof *suspect, cmp_u64);
    qsort(first, n_seeds, sizeof *first, cmp_u64);
    qsort(last, n_seeds, sizeof *last, cmp_u64);
    double mean_last = 0;
    for (size_t s = 0; s < n_seeds; s++)
        mean_last += (double)last[s] / (double)n_seeds;
    uint64_t bound =
        2 * (uint64_t)(n - 1) * cfg.probe_interval_ms + veil_swim_suspicion_max_ms(&cfg, n);
    printf("{\"bench\": \"p2p_swim_sim\", \"members\": %zu, \"runs\": %zu, "
           "\"msgs_per_member_per_s\": %.2f, \"bytes_per_member_per_s\": %.1f, "
           "\"first_suspect_ms_median\": %llu, \"first_dead_ms_median\": %llu, "
           "\"all_dead_ms_median\": %llu, \"all_dead_ms_mean\": %.0f, \"all_dead_ms_max\": %llu, "
           "\"bound_ms\": %llu, \"suspicion_min_ms\": %llu, \"suspicion_max_ms\": %llu, "
           "\"retransmit_limit\": %u, \"incomplete_runs\": %llu, \"false_deaths\": %llu}\n",
           n, n_seeds, msgs / (double)n_seeds, bytes / (double)n_seeds,
           (unsigned long long)suspect[n_seeds / 2], (unsigned long long)first[n_seeds / 2],
           (unsigned long long)last[n_seeds / 2], mean_last, (unsigned long long)last[n_seeds - 1],
           (unsigned long long)bound, (unsigned long long)veil_swim_suspicion_min_ms(&cfg, n),
           (unsigned long long)veil_swim_suspicion_max_ms(&cfg, n),
           veil_swim_retransmit_limit(&cfg, n), (unsigned long long)incomplete,
           (unsigned long long)false_deaths);
    fflush(stdout);
    free(suspect);
    free(first);
    free(last);
}

int main(void)
{
    run_size(20, 20);
    run_size(100, 10);
    return 0;
}
