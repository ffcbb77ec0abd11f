// SPDX-License-Identifier: Apache-2.0
/*
 * select.c - the per-destination path selector (veil_route_sel): discounted
 * RTT/loss estimates per candidate path, a bounded probe schedule (the path
 * in use every probe_active_ms, spare paths backing off to probe_idle_max_ms
 * while nothing changes), immediate failover when the path in use stops
 * answering, and hysteresis (switch only to a path clearly better for a
 * while). Clock-free, I/O-free, no randomness. Rationale: docs/ROUTING.md.
 */
#include <string.h>

#include "veil/route.h"

#define PPM            1000000u
#define LOSS_FLOOR_PPM 30000u /* 3% */
#define LOSS_PSEUDO 8u

void veil_route_sel_config_default(struct veil_route_sel_config *cfg)
{
    cfg->probe_active_ms = 200;
    cfg->probe_idle_min_ms = 500;
    cfg->probe_idle_max_ms = 8000;
    cfg->dead_after_losses = 3;
    cfg->switch_ratio_pct = 90;
    cfg->switch_min_gain_us = 2000;
    cfg->switch_hold_ms = 2000;
    cfg->rtt_tau_ms = 2000;
    cfg->loss_shift = 6;
}

int veil_route_sel_init(struct veil_route_sel *sel, const struct veil_route_sel_config *cfg,
                        veil_err *err)
{
    memset(sel, 0, sizeof *sel);
    if (cfg)
        sel->cfg = *cfg;
    else
        veil_route_sel_config_default(&sel->cfg);
    const struct veil_route_sel_config *c = &sel->cfg;
    if (c->probe_active_ms == 0 || c->probe_idle_min_ms == 0 ||
        c->probe_idle_max_ms < c->probe_idle_min_ms || c->dead_after_losses == 0 ||
        c->switch_ratio_pct == 0 || c->switch_ratio_pct > 100 || c->rtt_tau_ms == 0 ||
        c->loss_shift > 16)
        return veil_err_set(err, VEIL_E_INVALID, "route selector: inconsistent configuration");
    sel->current = -1;
    sel->candidate = -1;
    return 0;
}

static int find(const struct veil_route_sel *sel, uint32_t id)
{
    for (int i = 0; i < VEIL_ROUTE_PATHS_MAX; i++)
        if (sel->paths[i].used && sel->paths[i].id == id)
            return i;
    return -1;
}

static uint64_t cost_of(const struct veil_route_path_state *p)
{
    if (!p->used || !p->alive || p->srtt_us == 0)
        return UINT64_MAX;
    /* RTT inflated by loss: a lost packet costs about three more RTTs
     * (timeout and resend) before it arrives. Loss under LOSS_FLOOR_PPM is
     * not counted: one or two lost probes among the last ~64 cannot be told
     * apart from chance, and counting them makes equal paths flap. */
    uint64_t loss = p->loss_ppm > LOSS_FLOOR_PPM ? p->loss_ppm - LOSS_FLOOR_PPM : 0;
    return p->srtt_us + p->srtt_us * 3 * loss / PPM;
}

uint64_t veil_route_sel_cost(const struct veil_route_sel *sel, uint32_t id)
{
    int i = find(sel, id);
    return i < 0 ? UINT64_MAX : cost_of(&sel->paths[i]);
}

int veil_route_sel_add(struct veil_route_sel *sel, uint32_t id, uint64_t prior_rtt_us,
                       uint64_t now_ms, veil_err *err)
{
    if (find(sel, id) >= 0)
        return veil_err_set(err, VEIL_E_EXISTS, "route selector: path %u already present", id);
    for (int i = 0; i < VEIL_ROUTE_PATHS_MAX; i++) {
        struct veil_route_path_state *p = &sel->paths[i];
        if (p->used)
            continue;
        memset(p, 0, sizeof *p);
        p->used = true;
        p->id = id;
        p->srtt_us = prior_rtt_us;
        /* A prior alone makes a path usable (cold start) but it is probed
         * right away and its own samples replace the prior. */
        p->alive = prior_rtt_us != 0;
        p->idle_period_ms = sel->cfg.probe_idle_min_ms;
        p->next_probe_ms = now_ms;
        return 0;
    }
    return veil_err_set(err, VEIL_E_LIMIT, "route selector: more than %d paths",
                        VEIL_ROUTE_PATHS_MAX);
}

int veil_route_sel_remove(struct veil_route_sel *sel, uint32_t id, veil_err *err)
{
    int i = find(sel, id);
    if (i < 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "route selector: no path %u", id);
    sel->paths[i].used = false;
    if (sel->current == i)
        sel->current = -1;
    if (sel->candidate == i)
        sel->candidate = -1;
    return 0;
}

/* The cheapest live path other than `skip`, or -1. */
static int best_other(const struct veil_route_sel *sel, int skip)
{
    int best = -1;
    uint64_t best_cost = UINT64_MAX;
    for (int i = 0; i < VEIL_ROUTE_PATHS_MAX; i++) {
        uint64_t c = i == skip ? UINT64_MAX : cost_of(&sel->paths[i]);
        if (c < best_cost)
            best = i, best_cost = c;
    }
    return best;
}

static void switch_to(struct veil_route_sel *sel, int i, uint64_t now_ms)
{
    if (sel->current != i)
        sel->switches++;
    if (sel->current >= 0 && sel->paths[sel->current].used) {
        struct veil_route_path_state *old = &sel->paths[sel->current];
        old->idle_period_ms = sel->cfg.probe_idle_min_ms;
        old->next_probe_ms = now_ms + old->idle_period_ms;
    }
    sel->current = i;
    sel->candidate = -1;
    if (i >= 0 && sel->paths[i].next_probe_ms > now_ms + sel->cfg.probe_active_ms)
        sel->paths[i].next_probe_ms = now_ms + sel->cfg.probe_active_ms;
}

/* Hysteresis: leave a live current path only for one that costs under
 * switch_ratio_pct of it and at least switch_min_gain_us less, throughout
 * switch_hold_ms. A dead (or missing) current path is left at once. */
static void reevaluate(struct veil_route_sel *sel, uint64_t now_ms)
{
    int cur = sel->current;
    if (cur < 0 || cost_of(&sel->paths[cur]) == UINT64_MAX) {
        switch_to(sel, best_other(sel, -1), now_ms);
        return;
    }
    int b = best_other(sel, cur);
    uint64_t cc = cost_of(&sel->paths[cur]);
    uint64_t bc = b < 0 ? UINT64_MAX : cost_of(&sel->paths[b]);
    bool clearly = bc != UINT64_MAX && bc * 100 < cc * sel->cfg.switch_ratio_pct &&
                   cc - bc >= sel->cfg.switch_min_gain_us;
    if (!clearly) {
        sel->candidate = -1;
        return;
    }
    if (sel->candidate != b) {
        sel->candidate = b;
        sel->candidate_since_ms = now_ms;
        if (sel->paths[b].next_probe_ms > now_ms + sel->cfg.probe_active_ms)
            sel->paths[b].next_probe_ms = now_ms + sel->cfg.probe_active_ms;
    }
    if (now_ms - sel->candidate_since_ms >= sel->cfg.switch_hold_ms)
        switch_to(sel, b, now_ms);
}

/* Spare paths are probed soon again after the path in use lost a packet,
 * so that failover picks from fresh estimates. */
static void refresh_spares(struct veil_route_sel *sel, int skip, uint64_t now_ms)
{
    for (int i = 0; i < VEIL_ROUTE_PATHS_MAX; i++) {
        struct veil_route_path_state *p = &sel->paths[i];
        if (!p->used || i == skip)
            continue;
        p->idle_period_ms = sel->cfg.probe_idle_min_ms;
        if (p->next_probe_ms > now_ms)
            p->next_probe_ms = now_ms;
    }
}

/* The RTT estimate is discounted in time, not per sample: a sample taken
 * dt after the previous one weighs min(1, dt / rtt_tau_ms), so the path in
 * use (sampled often) is smoothed while a spare path probed every few
 * seconds takes its fresh sample almost whole. */
static void blend_rtt(struct veil_route_sel *sel, struct veil_route_path_state *p, uint64_t rtt,
                      uint64_t now_ms)
{
    uint64_t dt = now_ms > p->last_sample_ms ? now_ms - p->last_sample_ms : 0;
    uint64_t tau = sel->cfg.rtt_tau_ms;
    if (dt >= tau)
        p->srtt_us = rtt;
    else if (rtt >= p->srtt_us)
        p->srtt_us += (rtt - p->srtt_us) * dt / tau;
    else
        p->srtt_us -= (p->srtt_us - rtt) * dt / tau;
    if (p->srtt_us == 0)
        p->srtt_us = 1;
}

/* Loss rate: the mean of the outcomes so far plus LOSS_PSEUDO clean
 * pseudo-outcomes (one early loss reads as ~11%, not 100%), until 2^loss_shift
 * outcomes; then an exponential average of weight 2^-loss_shift. A spare path
 * probed every few seconds thus shows its real loss after a handful of
 * probes instead of looking clean until dozens have been sent. */
static void blend_loss(struct veil_route_sel *sel, struct veil_route_path_state *p, bool lost)
{
    uint32_t cap = 1u << sel->cfg.loss_shift;
    uint32_t n = p->loss_samples + 1 + LOSS_PSEUDO;
    if (n > cap)
        n = cap;
    int64_t target = lost ? PPM : 0, cur = p->loss_ppm;
    p->loss_ppm = (uint32_t)(cur + (target - cur) / (int64_t)n);
    if (p->loss_samples < cap)
        p->loss_samples++;
}

static void observe_delivered(struct veil_route_sel *sel, struct veil_route_path_state *p,
                              uint64_t rtt_us, uint64_t now_ms)
{
    uint64_t rtt = rtt_us ? rtt_us : 1;
    if (!p->alive && p->sampled) {
        /* back from the dead: its outage says nothing of its quality now */
        p->sampled = false;
        p->loss_ppm = 0;
        p->loss_samples = 0;
    }
    if (!p->sampled)
        p->srtt_us = rtt;
    else
        blend_rtt(sel, p, rtt, now_ms);
    p->last_sample_ms = now_ms;
    p->sampled = true;
    p->alive = true;
    p->losses_in_row = 0;
    blend_loss(sel, p, false);
}

static void observe_lost(struct veil_route_sel *sel, struct veil_route_path_state *p)
{
    blend_loss(sel, p, true);
    if (p->losses_in_row < UINT32_MAX)
        p->losses_in_row++;
    if (p->losses_in_row >= sel->cfg.dead_after_losses)
        p->alive = false;
}

int veil_route_sel_report(struct veil_route_sel *sel, uint32_t id, bool delivered, uint64_t rtt_us,
                          uint64_t now_ms, veil_err *err)
{
    int i = find(sel, id);
    if (i < 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "route selector: no path %u", id);
    struct veil_route_path_state *p = &sel->paths[i];
    /* Spare paths are re-measured soon when the path in use degrades: two
     * losses in a row, or a sample half again above its estimate. */
    bool degraded =
        delivered ? p->sampled && rtt_us > p->srtt_us + p->srtt_us / 2 : p->losses_in_row + 1 >= 2;
    if (delivered)
        observe_delivered(sel, p, rtt_us, now_ms);
    else
        observe_lost(sel, p);
    if (i == sel->current && degraded)
        refresh_spares(sel, i, now_ms);
    reevaluate(sel, now_ms);
    return 0;
}

/* Next probe of path i: the path in use keeps the active period; a spare
 * path that answered doubles its period up to the cap; one that did not
 * answer (or is dead) stays at the minimum so a recovery is seen soon. */
static void schedule_next(struct veil_route_sel *sel, int i, uint64_t now_ms)
{
    struct veil_route_path_state *p = &sel->paths[i];
    if (i == sel->current || i == sel->candidate) {
        /* the path in use, and a candidate during its hold time */
        p->next_probe_ms = now_ms + sel->cfg.probe_active_ms;
        return;
    }
    p->next_probe_ms = now_ms + p->idle_period_ms;
    /* back off only once the path looks clean, or its loss is well known */
    bool settled =
        p->loss_ppm <= LOSS_FLOOR_PPM || p->loss_samples >= (1u << sel->cfg.loss_shift);
    if (p->alive && p->losses_in_row == 0 && settled) {
        uint32_t doubled = p->idle_period_ms * 2;
        p->idle_period_ms =
            doubled > sel->cfg.probe_idle_max_ms ? sel->cfg.probe_idle_max_ms : doubled;
    } else {
        p->idle_period_ms = sel->cfg.probe_idle_min_ms;
    }
}

size_t veil_route_sel_due(struct veil_route_sel *sel, uint64_t now_ms, uint32_t *out, size_t cap)
{
    reevaluate(sel, now_ms);
    size_t n = 0;
    for (int i = 0; i < VEIL_ROUTE_PATHS_MAX && n < cap; i++) {
        struct veil_route_path_state *p = &sel->paths[i];
        if (!p->used || p->next_probe_ms > now_ms)
            continue;
        out[n++] = p->id;
        sel->probes++;
        schedule_next(sel, i, now_ms);
    }
    return n;
}

int veil_route_sel_current(const struct veil_route_sel *sel, uint32_t *id, veil_err *err)
{
    if (sel->current < 0 || cost_of(&sel->paths[sel->current]) == UINT64_MAX)
        return veil_err_set(err, VEIL_E_NOTFOUND, "route selector: no live path");
    *id = sel->paths[sel->current].id;
    return 0;
}
