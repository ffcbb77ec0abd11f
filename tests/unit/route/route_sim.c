// SPDX-License-Identifier: Apache-2.0
/*
 * route_sim.c - the seeded simulation described in route_sim.h.
 */
#include <string.h>

#include "route_sim.h"

#define MS(x) ((uint64_t)(x)*1000)

const struct sim_path sim_four[4] = {
    {MS(40), 2000, 10000, true},
    {MS(25), 2000, 10000, true},
    {MS(60), 2000, 10000, true},
    {MS(30), 2000, 10000, true},
};

void sim_four_phase(struct sim *s, int phase)
{
    static const uint64_t rtts[4][4] = {
        {MS(40), MS(25), MS(60), MS(30)},
        {MS(40), MS(80), MS(60), MS(30)},
        {MS(20), MS(80), MS(35), MS(45)},
        {MS(50), MS(22), MS(35), MS(45)},
    };
    for (int i = 0; i < 4; i++)
        s->paths[i].rtt_us = rtts[phase % 4][i];
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int sim_init(struct sim *s, uint64_t seed, const struct sim_path *paths, uint32_t n_paths,
             const uint64_t *priors)
{
    memset(s, 0, sizeof *s);
    if (n_paths > SIM_PATHS)
        return -1;
    s->rng = seed;
    s->n_paths = n_paths;
    memcpy(s->paths, paths, n_paths * sizeof *paths);
    if (veil_route_sel_init(&s->sel, NULL, NULL) != 0)
        return -1;
    for (uint32_t i = 0; i < n_paths; i++)
        if (veil_route_sel_add(&s->sel, i, priors ? priors[i] : 0, 0, NULL) != 0)
            return -1;
    return 0;
}

int sim_current(const struct sim *s)
{
    uint32_t id;
    return veil_route_sel_current(&s->sel, &id, NULL) == 0 ? (int)id : -1;
}

int sim_best(const struct sim *s)
{
    int best = -1;
    for (uint32_t i = 0; i < s->n_paths; i++)
        if (s->paths[i].up && (best < 0 || s->paths[i].rtt_us < s->paths[best].rtt_us))
            best = (int)i;
    return best;
}

static int send_probe(struct sim *s, uint32_t id)
{
    if (s->n_pending == SIM_PENDING)
        return -1;
    const struct sim_path *p = &s->paths[id];
    struct sim_event *ev = &s->pending[s->n_pending++];
    bool lost = !p->up || splitmix(&s->rng) % 1000000 < p->loss_ppm;
    uint64_t rtt = p->rtt_us + (p->jitter_us ? splitmix(&s->rng) % p->jitter_us : 0);
    ev->path = id;
    ev->delivered = !lost;
    ev->rtt_us = rtt;
    ev->at_ms = s->now_ms + (lost ? SIM_TIMEOUT_MS : (rtt + 999) / 1000);
    return 0;
}

static int deliver_due(struct sim *s)
{
    for (uint32_t i = 0; i < s->n_pending;) {
        struct sim_event ev = s->pending[i];
        if (ev.at_ms > s->now_ms) {
            i++;
            continue;
        }
        s->pending[i] = s->pending[--s->n_pending];
        if (veil_route_sel_report(&s->sel, ev.path, ev.delivered, ev.rtt_us, s->now_ms, NULL) != 0)
            return -1;
    }
    return 0;
}

static void account(struct sim *s)
{
    int cur = sim_current(s), best = sim_best(s);
    uint64_t lat = cur < 0 || !s->paths[cur].up ? SIM_DOWN_PENALTY_US : s->paths[cur].rtt_us;
    s->chosen_latency_us += lat;
    s->oracle_latency_us += best < 0 ? SIM_DOWN_PENALTY_US : s->paths[best].rtt_us;
    for (uint32_t i = 0; i < s->n_paths; i++)
        s->fixed_latency_us[i] += s->paths[i].up ? s->paths[i].rtt_us : SIM_DOWN_PENALTY_US;
    s->ms_counted++;
}

static int step(struct sim *s)
{
    if (deliver_due(s) != 0)
        return -1;
    uint32_t due[VEIL_ROUTE_PATHS_MAX];
    size_t n = veil_route_sel_due(&s->sel, s->now_ms, due, VEIL_ROUTE_PATHS_MAX);
    for (size_t i = 0; i < n; i++)
        if (send_probe(s, due[i]) != 0)
            return -1;
    account(s);
    s->now_ms++;
    return 0;
}

int sim_run(struct sim *s, uint64_t ms)
{
    for (uint64_t i = 0; i < ms; i++)
        if (step(s) != 0)
            return -1;
    return 0;
}

uint64_t sim_run_until_up(struct sim *s, uint64_t limit_ms)
{
    for (uint64_t t = 0; t <= limit_ms; t++) {
        int cur = sim_current(s);
        if (cur >= 0 && s->paths[cur].up)
            return t;
        if (step(s) != 0)
            return UINT64_MAX;
    }
    return UINT64_MAX;
}
