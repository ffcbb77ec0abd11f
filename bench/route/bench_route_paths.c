// SPDX-License-Identifier: Apache-2.0
/*
 * bench_route_paths.c - VeilNet routing figures, one JSON object per line:
 * failover time after the relay in use dies, convergence time to the best
 * path, regret over a run with changing link quality (all from the seeded
 * simulation in tests/unit/route/route_sim.c driving the real selector),
 * probe and control overhead per node per second, and onion throughput
 * through one and two relays (real cells, real relay state, one core, no
 * network). Usage: bench_route_paths [seeds]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route_sim.h"

#define MS(x) ((uint64_t)(x)*1000)

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int failover(int seeds)
{
    uint64_t t[256];
    for (int i = 0; i < seeds; i++) {
        struct sim s;
        if (sim_init(&s, (uint64_t)i + 1, sim_four, 4, NULL) != 0 ||
            sim_run(&s, 20000 + (uint64_t)i * 97) != 0)
            return -1;
        s.paths[sim_current(&s)].up = false;
        t[i] = sim_run_until_up(&s, 10000);
    }
    qsort(t, (size_t)seeds, sizeof t[0], cmp_u64);
    printf("{\"bench\":\"route_failover\",\"seeds\":%d,\"median_ms\":%llu,\"max_ms\":%llu,"
           "\"goal_ms\":2000}\n",
           seeds, (unsigned long long)t[seeds / 2], (unsigned long long)t[seeds - 1]);
    return 0;
}

/* Time until the choice settles on the best path for good: without priors,
 * with priors from topo summaries that rank the paths right, and with priors
 * that rank them wrong (the worst first). */
static int convergence(int seeds, const char *label, const uint64_t *pri)
{
    uint64_t t[256];
    for (int i = 0; i < seeds; i++) {
        struct sim s;
        if (sim_init(&s, (uint64_t)i + 1, sim_four, 4, pri) != 0)
            return -1;
        uint64_t last = 0;
        for (int k = 0; k < 3000; k++) {
            if (sim_run(&s, 10) != 0)
                return -1;
            if (sim_current(&s) != sim_best(&s))
                last = s.now_ms;
        }
        t[i] = last;
    }
    qsort(t, (size_t)seeds, sizeof t[0], cmp_u64);
    printf("{\"bench\":\"route_convergence\",\"priors\":\"%s\",\"seeds\":%d,\"median_ms\":%llu,"
           "\"max_ms\":%llu}\n",
           label, seeds, (unsigned long long)t[seeds / 2], (unsigned long long)t[seeds - 1]);
    return 0;
}

/* A spare path improves (40 -> 15 ms) on a settled network: how long until
 * it carries the traffic (exploration backoff plus the hold time). */
static int adoption(int seeds)
{
    uint64_t t[256];
    for (int i = 0; i < seeds; i++) {
        struct sim s;
        if (sim_init(&s, (uint64_t)i + 1, sim_four, 4, NULL) != 0 ||
            sim_run(&s, 20000 + (uint64_t)i * 211) != 0)
            return -1;
        s.paths[0].rtt_us = MS(15);
        uint64_t k = 0;
        while (sim_current(&s) != 0 && k < 30000) {
            if (sim_run(&s, 1) != 0)
                return -1;
            k++;
        }
        t[i] = k;
    }
    qsort(t, (size_t)seeds, sizeof t[0], cmp_u64);
    printf("{\"bench\":\"route_adopt_better_path\",\"seeds\":%d,\"median_ms\":%llu,"
           "\"max_ms\":%llu}\n",
           seeds, (unsigned long long)t[seeds / 2], (unsigned long long)t[seeds - 1]);
    return 0;
}

static int regret(int seeds)
{
    double worst_fixed = -1e9, worst_oracle = -1e9, sum_fixed = 0, sum_oracle = 0;
    double probes_per_s = 0;
    for (int i = 0; i < seeds; i++) {
        struct sim s;
        if (sim_init(&s, (uint64_t)i + 1, sim_four, 4, NULL) != 0)
            return -1;
        for (int phase = 0; phase < 8; phase++) {
            sim_four_phase(&s, phase);
            if (sim_run(&s, 15000) != 0)
                return -1;
        }
        uint64_t best = UINT64_MAX;
        for (int p = 0; p < 4; p++)
            best = s.fixed_latency_us[p] < best ? s.fixed_latency_us[p] : best;
        double rf = 100.0 * ((double)s.chosen_latency_us / (double)best - 1.0);
        double ro = 100.0 * ((double)s.chosen_latency_us / (double)s.oracle_latency_us - 1.0);
        sum_fixed += rf, sum_oracle += ro;
        worst_fixed = rf > worst_fixed ? rf : worst_fixed;
        worst_oracle = ro > worst_oracle ? ro : worst_oracle;
        probes_per_s += (double)s.sel.probes / 120.0;
    }
    printf("{\"bench\":\"route_regret\",\"seeds\":%d,\"run_s\":120,\"phase_s\":15,"
           "\"extra_latency_vs_best_fixed_pct\":%.1f,\"worst_vs_best_fixed_pct\":%.1f,"
           "\"extra_latency_vs_oracle_pct\":%.1f,\"worst_vs_oracle_pct\":%.1f,"
           "\"probes_per_s_changing\":%.2f,\"goal_pct\":5}\n",
           seeds, sum_fixed / seeds, worst_fixed, sum_oracle / seeds, worst_oracle,
           probes_per_s / seeds);
    return 0;
}

/* Probes per destination per second on a stable network, and the bytes on
 * the wire they and the topo summaries cost (a probe: 48-byte payload +
 * Anchor transport 32 + UDP/IPv4 28; a summary of 8 links every 10 s,
 * NATS PUB framing ~60 bytes). */
static int overhead(void)
{
    struct sim s;
    if (sim_init(&s, 7, sim_four, 4, NULL) != 0 || sim_run(&s, 30000) != 0)
        return -1;
    uint64_t before = s.sel.probes;
    if (sim_run(&s, 120000) != 0)
        return -1;
    double pps = (double)(s.sel.probes - before) / 120.0;
    struct veil_route_topo t;
    memset(&t, 0, sizeof t);
    t.n_links = 8;
    t.addr_len = 6;
    for (size_t i = 0; i < t.n_links; i++)
        memset(t.links[i].peer, (int)i + 1, 32);
    veil_buf b;
    veil_buf_init(&b);
    if (veil_route_topo_encode(&t, &b, NULL) != 0)
        return -1;
    double topo_bps = (double)(b.len + 60) / 10.0;
    printf(
        "{\"bench\":\"route_overhead\",\"paths_per_destination\":4,\"probes_per_s_per_dest\":%.2f,"
        "\"probe_bytes_per_s_per_dest\":%.0f,\"topo_summary_bytes\":%zu,"
        "\"topo_bytes_per_s_per_node\":%.1f}\n",
        pps, pps * (48 + 32 + 28), b.len, topo_bps);
    veil_buf_free(&b);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Cells of 1400 bytes from the source through n relays to the destination;
 * Gbit/s by wall time, and by the process's CPU time (the comparable figure
 * on a loaded machine). */
static int throughput(size_t relays, size_t cells)
{
    static struct veil_route_relay node[VEIL_ROUTE_HOPS_MAX];
    uint8_t pk[VEIL_ROUTE_HOPS_MAX + 1][32], sk[VEIL_ROUTE_HOPS_MAX + 1][64], seed[32] = {0};
    size_t n = relays + 1;
    struct veil_route_relay_config cfg;
    veil_route_relay_config_default(&cfg);
    cfg.cap.rate_bytes_s = UINT32_MAX, cfg.cap.max_bytes = UINT64_MAX;
    struct veil_route_hop h[VEIL_ROUTE_HOPS_MAX];
    for (size_t i = 0; i <= n; i++) {
        seed[0] = (uint8_t)(i + 1);
        crypto_sign_seed_keypair(pk[i], sk[i], seed);
        if (i > 0 && (veil_route_relay_init(&node[i - 1], &cfg, sk[i], NULL) != 0))
            return -1;
        if (i > 0)
            memcpy(h[i - 1].identity, pk[i], 32);
    }
    struct veil_route_limits lim = {UINT64_MAX, UINT32_MAX, 60000};
    struct veil_route_onion o;
    static uint8_t a[VEIL_ROUTE_SETUP_BYTES + 2048], b[VEIL_ROUTE_SETUP_BYTES + 2048];
    struct veil_route_action act;
    if (veil_route_onion_build(&o, sk[0], h, n, &lim, a, NULL) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (veil_route_relay_handle(&node[i], i ? pk[i] : pk[0], a, VEIL_ROUTE_SETUP_BYTES, 0, b,
                                    sizeof b, &act, NULL) != 0)
            return -1;
        memcpy(a, b, VEIL_ROUTE_SETUP_BYTES);
    }
    static uint8_t payload[1400];
    double t0 = now_s(), c0 = cpu_s(), relay0 = 0;
    for (size_t c = 0; c < cells; c++) {
        size_t len;
        if (veil_route_onion_wrap(&o, payload, sizeof payload, a, sizeof a, &len, NULL) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            double h0 = i == 0 ? now_s() : 0;
            if (veil_route_relay_handle(&node[i], i ? pk[i] : pk[0], a, len, 1, b, sizeof b, &act,
                                        NULL) != 0)
                return -1;
            if (i == 0)
                relay0 += now_s() - h0;
            memcpy(a, b, act.out_len);
            len = act.out_len;
        }
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    printf("{\"bench\":\"route_onion_throughput\",\"relays\":%zu,\"payload_bytes\":1400,"
           "\"cells\":%zu,\"gbit_s_one_core_all_hops\":%.2f,\"gbit_s_per_cpu_all_hops\":%.2f,"
           "\"gbit_s_first_relay_alone\":%.2f,\"us_per_cell_first_relay\":%.3f,"
           "\"note\":\"source+relays+destination crypto in one process, no network\"}\n",
           relays, cells, (double)cells * 1400 * 8 / dt / 1e9,
           (double)cells * 1400 * 8 / dc / 1e9, (double)cells * 1400 * 8 / relay0 / 1e9,
           relay0 / (double)cells * 1e6);
    veil_route_onion_wipe(&o);
    for (size_t i = 0; i < n; i++)
        veil_route_relay_wipe(&node[i]);
    return 0;
}

int main(int argc, char **argv)
{
    static const uint64_t right[] = {MS(45), MS(28), MS(55), MS(33)};
    static const uint64_t wrong[] = {MS(20), MS(60), MS(10), MS(40)};
    int seeds = argc > 1 ? atoi(argv[1]) : 20;
    if (seeds < 1 || seeds > 256 || sodium_init() < 0)
        return 2;
    if (failover(seeds) || convergence(seeds, "none", NULL) || convergence(seeds, "right", right) ||
        convergence(seeds, "misleading", wrong) || adoption(seeds) || regret(seeds) || overhead() ||
        throughput(1, 100000) || throughput(2, 100000)) {
        fprintf(stderr, "bench_route_paths: failed\n");
        return 1;
    }
    return 0;
}
