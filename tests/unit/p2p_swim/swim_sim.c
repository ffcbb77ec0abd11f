// SPDX-License-Identifier: Apache-2.0
/*
 * swim_sim.c - deterministic network simulator for the SWIM state machine
 * (see swim_sim.h). A binary heap of in-flight packets ordered by delivery
 * time (ties by send order); members' timers run exactly at their deadlines.
 */
#include "swim_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t swim_sim_rand(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t node_rng(void *ctx)
{
    return swim_sim_rand((uint64_t *)ctx);
}

static bool msg_before(const struct swim_sim_msg *a, const struct swim_sim_msg *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct swim_sim *sim, struct swim_sim_msg m)
{
    if (sim->heap_len == sim->heap_cap) {
        size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 256;
        struct swim_sim_msg *p = realloc(sim->heap, cap * sizeof *p);
        if (!p) {
            free(m.data);
            return;
        }
        sim->heap = p;
        sim->heap_cap = cap;
    }
    size_t i = sim->heap_len++;
    sim->heap[i] = m;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!msg_before(&sim->heap[i], &sim->heap[parent]))
            break;
        struct swim_sim_msg t = sim->heap[i];
        sim->heap[i] = sim->heap[parent];
        sim->heap[parent] = t;
        i = parent;
    }
}

static struct swim_sim_msg heap_pop(struct swim_sim *sim)
{
    struct swim_sim_msg top = sim->heap[0];
    sim->heap[0] = sim->heap[--sim->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < sim->heap_len && msg_before(&sim->heap[l], &sim->heap[best]))
            best = l;
        if (r < sim->heap_len && msg_before(&sim->heap[r], &sim->heap[best]))
            best = r;
        if (best == i)
            break;
        struct swim_sim_msg t = sim->heap[i];
        sim->heap[i] = sim->heap[best];
        sim->heap[best] = t;
        i = best;
    }
    return top;
}

size_t swim_sim_index(const struct swim_sim *sim, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < sim->n; i++)
        if (strlen(sim->nodes[i].id) == len && memcmp(sim->nodes[i].id, id, len) == 0)
            return i;
    return (size_t)-1;
}

/* Moves a member's queued packets onto the network and its events to the
 * observer. */
static void drain(struct swim_sim *sim, size_t i)
{
    struct swim_sim_node *node = &sim->nodes[i];
    struct veil_swim_packet p;
    while (veil_swim_pop_packet(node->sw, &p)) {
        const uint8_t *dest = p.to_id_len ? p.to_id : p.to_addr;
        size_t dest_len = p.to_id_len ? p.to_id_len : p.to_addr_len;
        size_t to = swim_sim_index(sim, dest, dest_len);
        sim->packets_sent++;
        sim->bytes_sent += p.len;
        bool lost = to == (size_t)-1 ||
                    (sim->loss_percent && swim_sim_rand(&sim->rng) % 100 < sim->loss_percent) ||
                    (sim->drop && sim->drop(sim, i, to, sim->drop_ctx));
        if (lost) {
            sim->packets_lost++;
            veil_swim_packet_clear(&p);
            continue;
        }
        uint32_t span = sim->latency_max_ms - sim->latency_min_ms + 1;
        struct swim_sim_msg m = {.at = sim->now + sim->latency_min_ms +
                                       swim_sim_rand(&sim->rng) % span,
                                 .seq = sim->msg_seq++,
                                 .from = i,
                                 .to = to,
                                 .data = p.data,
                                 .len = p.len};
        heap_push(sim, m);
    }
    struct veil_swim_event ev;
    while (veil_swim_pop_event(node->sw, &ev))
        if (sim->on_event)
            sim->on_event(sim, i, &ev, sim->event_ctx);
}

static veil_swim *make_node(struct swim_sim *sim, size_t i, uint32_t incarnation)
{
    struct veil_swim_config cfg = sim->cfg;
    cfg.initial_incarnation = incarnation;
    struct swim_sim_node *node = &sim->nodes[i];
    size_t len = strlen(node->id);
    return veil_swim_new(&cfg, (const uint8_t *)node->id, len, (const uint8_t *)node->id, len,
                         (const uint8_t *)"role=test", 9, node_rng, &node->rng, sim->now, NULL);
}

int swim_sim_init(struct swim_sim *sim, size_t n, const struct veil_swim_config *cfg, uint64_t seed,
                  uint32_t loss_percent)
{
    memset(sim, 0, sizeof *sim);
    if (cfg)
        sim->cfg = *cfg;
    else
        veil_swim_config_default(&sim->cfg);
    sim->n = n;
    sim->rng = seed;
    sim->loss_percent = loss_percent;
    sim->latency_min_ms = 1;
    sim->latency_max_ms = 3;
    sim->nodes = calloc(n, sizeof *sim->nodes);
    if (!sim->nodes)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct swim_sim_node *node = &sim->nodes[i];
        snprintf(node->id, sizeof node->id, "node-%03zu", i);
        node->rng = swim_sim_rand(&sim->rng);
        node->sw = make_node(sim, i, 0);
        if (!node->sw)
            return -1;
        node->up = true;
    }
    return 0;
}

void swim_sim_free(struct swim_sim *sim)
{
    for (size_t i = 0; i < sim->n; i++)
        veil_swim_free(sim->nodes[i].sw);
    free(sim->nodes);
    for (size_t i = 0; i < sim->heap_len; i++)
        free(sim->heap[i].data);
    free(sim->heap);
    memset(sim, 0, sizeof *sim);
}

void swim_sim_join_all(struct swim_sim *sim)
{
    const char *seed = sim->nodes[0].id;
    for (size_t i = 1; i < sim->n; i++) {
        veil_swim_join(sim->nodes[i].sw, (const uint8_t *)seed, strlen(seed), (const uint8_t *)seed,
                       strlen(seed), sim->now, NULL);
        drain(sim, i);
    }
}

void swim_sim_run_until(struct swim_sim *sim, uint64_t t)
{
    for (;;) {
        uint64_t next = UINT64_MAX;
        if (sim->heap_len)
            next = sim->heap[0].at;
        for (size_t i = 0; i < sim->n; i++) {
            if (!sim->nodes[i].up)
                continue;
            uint64_t d = veil_swim_next_deadline(sim->nodes[i].sw);
            if (d < next)
                next = d;
        }
        if (next > t)
            break;
        if (next > sim->now)
            sim->now = next;
        while (sim->heap_len && sim->heap[0].at <= sim->now) {
            struct swim_sim_msg m = heap_pop(sim);
            struct swim_sim_node *dst = &sim->nodes[m.to];
            if (dst->up && sim->nodes[m.from].up) {
                const char *from = sim->nodes[m.from].id;
                if (veil_swim_handle(dst->sw, (const uint8_t *)from, strlen(from), m.data, m.len,
                                     sim->now, NULL) != 0)
                    sim->handle_errors++;
                drain(sim, m.to);
            }
            free(m.data);
        }
        for (size_t i = 0; i < sim->n; i++) {
            if (!sim->nodes[i].up)
                continue;
            if (veil_swim_next_deadline(sim->nodes[i].sw) <= sim->now) {
                veil_swim_tick(sim->nodes[i].sw, sim->now);
                drain(sim, i);
            }
        }
    }
    if (sim->now < t)
        sim->now = t;
}

void swim_sim_kill(struct swim_sim *sim, size_t i)
{
    sim->nodes[i].up = false;
}

int swim_sim_restart(struct swim_sim *sim, size_t i, uint32_t incarnation, size_t seed)
{
    struct swim_sim_node *node = &sim->nodes[i];
    veil_swim_free(node->sw);
    node->sw = make_node(sim, i, incarnation);
    if (!node->sw)
        return -1;
    node->up = true;
    node->restarts++;
    const char *s = sim->nodes[seed].id;
    veil_swim_join(node->sw, (const uint8_t *)s, strlen(s), (const uint8_t *)s, strlen(s), sim->now,
                   NULL);
    drain(sim, i);
    return 0;
}

int swim_sim_state_of(const struct swim_sim *sim, size_t observer, size_t subject)
{
    struct veil_swim_member m;
    const char *id = sim->nodes[subject].id;
    if (!veil_swim_member_find(sim->nodes[observer].sw, (const uint8_t *)id, strlen(id), &m))
        return -1;
    return (int)m.state;
}
