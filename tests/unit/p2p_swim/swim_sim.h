// SPDX-License-Identifier: Apache-2.0
/*
 * swim_sim.h - a deterministic network simulator for the SWIM state machine
 * (owned by the SWIM tests; also used by bench/p2p_swim). Virtual time in
 * milliseconds, per-packet latency and random loss from a seeded generator,
 * members that can be killed (silently stop), restarted, or cut off from
 * each other. Nothing here reads a clock or touches the network.
 */
#ifndef VEIL_TEST_SWIM_SIM_H
#define VEIL_TEST_SWIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/swim.h>

struct swim_sim;

typedef void (*swim_sim_event_fn)(struct swim_sim *sim, size_t node,
                                  const struct veil_swim_event *ev, void *ctx);
/* Return true to drop a packet from -> to (on top of random loss). */
typedef bool (*swim_sim_drop_fn)(struct swim_sim *sim, size_t from, size_t to, void *ctx);

struct swim_sim_node {
    veil_swim *sw;
    bool up;
    char id[32];
    uint64_t rng;
    uint64_t restarts;
};

struct swim_sim_msg {
    uint64_t at, seq;
    size_t from, to;
    uint8_t *data;
    size_t len;
};

struct swim_sim {
    struct veil_swim_config cfg;
    size_t n;
    struct swim_sim_node *nodes;
    uint64_t now;
    uint64_t rng;
    uint32_t loss_percent;
    uint32_t latency_min_ms, latency_max_ms;
    struct swim_sim_msg *heap;
    size_t heap_len, heap_cap;
    uint64_t msg_seq;
    swim_sim_event_fn on_event;
    void *event_ctx;
    swim_sim_drop_fn drop;
    void *drop_ctx;
    /* Totals over the network (sent = handed to the network, before loss). */
    uint64_t packets_sent, bytes_sent, packets_lost, handle_errors;
};

/* Creates n members named "node-000".. (not yet joined). */
int swim_sim_init(struct swim_sim *sim, size_t n, const struct veil_swim_config *cfg, uint64_t seed,
                  uint32_t loss_percent);
void swim_sim_free(struct swim_sim *sim);
/* Every member i > 0 joins through member 0. */
void swim_sim_join_all(struct swim_sim *sim);
/* Runs until virtual time t (inclusive). */
void swim_sim_run_until(struct swim_sim *sim, uint64_t t);
/* Stops a member silently (a crash): it sends and receives nothing more. */
void swim_sim_kill(struct swim_sim *sim, size_t i);
/* Starts a fresh state machine for member i with the given incarnation,
 * joining through member `seed`. */
int swim_sim_restart(struct swim_sim *sim, size_t i, uint32_t incarnation, size_t seed);
/* The state member `observer` holds about member `subject` (-1 if unknown). */
int swim_sim_state_of(const struct swim_sim *sim, size_t observer, size_t subject);
/* Index of the member named by an id, or (size_t)-1. */
size_t swim_sim_index(const struct swim_sim *sim, const uint8_t *id, size_t len);
uint64_t swim_sim_rand(uint64_t *state);

#endif /* VEIL_TEST_SWIM_SIM_H */
