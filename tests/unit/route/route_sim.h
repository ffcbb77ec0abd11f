// SPDX-License-Identifier: Apache-2.0
/*
 * route_sim.h - a seeded, discrete-time (1 ms) simulation of one source with
 * several candidate paths to a destination, driving the real path selector
 * (veil_route_sel): probes the selector asks for are delivered after the
 * path's RTT (plus jitter) or reported lost after the probe timeout, with
 * the path's loss rate; a path can go down, and its RTT can change. Used by
 * the unit tests and by bench/route (figures).
 */
#ifndef VEIL_ROUTE_SIM_H
#define VEIL_ROUTE_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "veil/route.h"

#define SIM_PATHS           8
#define SIM_PENDING         4096
#define SIM_TIMEOUT_MS      300
#define SIM_DOWN_PENALTY_US 1000000 /* latency charged for a ms sent into a dead path */

struct sim_path {
    uint64_t rtt_us;
    uint32_t jitter_us; /* uniform extra delay in [0, jitter) */
    uint32_t loss_ppm;
    bool up;
};

struct sim_event {
    uint64_t at_ms;
    uint32_t path;
    bool delivered;
    uint64_t rtt_us;
};

struct sim {
    struct veil_route_sel sel;
    struct sim_path paths[SIM_PATHS];
    uint32_t n_paths;
    uint64_t rng;
    uint64_t now_ms;
    struct sim_event pending[SIM_PENDING];
    uint32_t n_pending;
    /* Traffic accounting: one unit per ms on the chosen path. */
    uint64_t chosen_latency_us;           /* sum over ms of the chosen path's true RTT */
    uint64_t fixed_latency_us[SIM_PATHS]; /* the same had one path been used throughout */
    uint64_t oracle_latency_us;           /* the best path at every ms */
    uint64_t ms_counted;
};

/* priors: NULL or n_paths prior RTTs (0 = none). Returns 0 or -1. */
int sim_init(struct sim *s, uint64_t seed, const struct sim_path *paths, uint32_t n_paths,
             const uint64_t *priors);
/* Advances the simulation by ms milliseconds. Returns 0 or -1. */
int sim_run(struct sim *s, uint64_t ms);
/* The selector's current path, or -1. */
int sim_current(const struct sim *s);
/* The path with the lowest true RTT among those up. */
int sim_best(const struct sim *s);
/* Runs until the current path is up, at most limit_ms; returns the time it took or UINT64_MAX. */
uint64_t sim_run_until_up(struct sim *s, uint64_t limit_ms);

/* The scenario the tests and the bench share: four paths of 40, 25, 60 and
 * 30 ms (2 ms jitter, 1% loss), all up. */
extern const struct sim_path sim_four[4];
/* Changing links on sim_four: phase (mod 4) sets each path's RTT (a relay
 * gets loaded, another recovers). */
void sim_four_phase(struct sim *s, int phase);

#endif /* VEIL_ROUTE_SIM_H */
