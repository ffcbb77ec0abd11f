// SPDX-License-Identifier: Apache-2.0
/*
 * swim.c - the SWIM + Lifeguard membership state machine (no I/O, no clock).
 *
 * Owned by the SWIM part of the p2p subsystem; public API in veil/swim.h,
 * wire format in swim_wire.{h,c}.
 *
 * Where the rules come from:
 *   - SWIM (Das et al., DSN 2002) s.3-4: one probe per protocol period to a
 *     member chosen round-robin over a shuffled list (s.4.3), ping-req through
 *     k members when the direct ack does not come (s.3.1), the suspicion
 *     sub-protocol with incarnation numbers (s.4.2) and infection-style
 *     dissemination piggybacked on protocol messages (s.4.1).
 *   - Lifeguard (Dadgar et al., 2018): Local Health Multiplier (s.4.1: a
 *     score raised by failed probes with missing nacks and by refuting a
 *     suspicion about ourselves, lowered by successful probes; it stretches
 *     the probe interval and timeout), Local Health Aware Suspicion (s.4.2:
 *     timeout starts at max = 6 x min and falls as log(c+1)/log(k+1) with
 *     c independent confirmations, k = suspicion_mult - 2), buddy system and
 *     nacks from ping-req relays (s.4.3: relays nack at 80% of the timeout;
 *     a probe of a suspect carries the suspicion so it can refute at once).
 *   - hashicorp/memberlist (LAN profile): parameter values, retransmit limit
 *     mult x ceil(log10(n+1)), suspicion min = mult x max(1, log10 n) x
 *     interval, gossip fan-out 3 every 200 ms, push-pull every 30 s scaled
 *     for clusters above 32 members, dead state sync entries merged as
 *     suspicions, dead members gossiped to and kept for 30 s.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/swim.h>

#include "swim_wire.h"

#define SWIM_MAX_RELAYS     1024  /* pending ping-req relays we serve */
#define SWIM_MAX_QUEUED     16384 /* queued packets / events before dropping */
#define SWIM_MAX_CONFIRMERS 16

struct suspicion {
    uint64_t start_ms, min_ms, max_ms, deadline_ms;
    uint32_t k, n_confirm;
    size_t n_seen;
    size_t seen_len[SWIM_MAX_CONFIRMERS + 1];
    uint8_t seen[SWIM_MAX_CONFIRMERS + 1][VEIL_SWIM_ID_MAX];
};

struct member {
    size_t id_len, addr_len, meta_len;
    uint8_t id[VEIL_SWIM_ID_MAX];
    uint8_t addr[VEIL_SWIM_ADDR_MAX];
    uint8_t meta[VEIL_SWIM_META_MAX];
    uint32_t incarnation;
    enum veil_swim_state state;
    uint64_t state_change_ms;
    struct suspicion *susp;
};

struct bcast {
    size_t id_len;
    uint8_t id[VEIL_SWIM_ID_MAX];
    uint8_t *data;
    size_t len;
    uint32_t transmits;
    uint64_t order;
    bool self_leave;
};

struct relay {
    uint32_t my_seq, their_seq;
    uint64_t nack_ms, expire_ms;
    bool nacked;
    size_t req_id_len, req_addr_len;
    uint8_t req_id[VEIL_SWIM_ID_MAX];
    uint8_t req_addr[VEIL_SWIM_ADDR_MAX];
};

struct probe {
    bool active, indirect_sent;
    uint32_t seq, expected_nacks, nacks;
    uint64_t ack_deadline_ms, end_ms;
    size_t target_len;
    uint8_t target[VEIL_SWIM_ID_MAX];
};

struct veil_swim {
    struct veil_swim_config cfg;
    veil_swim_rng_fn rng;
    void *rng_ctx;

    struct member **members; /* [0] is this node */
    size_t n_members, cap_members;

    struct member **probe_order; /* shuffled round-robin list */
    size_t n_probe_order, probe_index;
    struct probe probe;
    uint32_t next_seq;
    uint32_t awareness; /* Lifeguard LHM score */

    uint64_t next_probe_ms, next_gossip_ms, next_push_pull_ms;
    bool leaving, leave_flushed;

    struct bcast *bcasts;
    size_t n_bcasts, cap_bcasts;
    uint64_t bcast_order;

    struct relay *relays;
    size_t n_relays, cap_relays;

    struct veil_swim_packet *packets;
    size_t n_packets, head_packets, cap_packets;
    struct veil_swim_event *events;
    size_t n_events, head_events, cap_events;

    struct veil_swim_stats stats;
};

/* ------------------------------------------------------------------------ */
/* Configuration and derived timing                                         */
/* ------------------------------------------------------------------------ */

/* Natural logarithm for x > 0, so veil_p2p needs no libm: x = m * 2^e with
 * m in [1, 2), ln m = 2 atanh((m - 1) / (m + 1)) as a series (|t| <= 1/3,
 * so 20 terms are exact to double precision). */
static double swim_ln(double x)
{
    if (x <= 0.0)
        return 0.0;
    int e = 0;
    while (x >= 2.0) {
        x /= 2.0;
        e++;
    }
    while (x < 1.0) {
        x *= 2.0;
        e--;
    }
    double t = (x - 1.0) / (x + 1.0), t2 = t * t, term = t, sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= t2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

static double swim_log10(double x)
{
    return swim_ln(x) / 2.30258509299404568402;
}

static double swim_log2(double x)
{
    return swim_ln(x) / 0.69314718055994530942;
}

/* Smallest integer >= x for x >= 0 (within a tiny tolerance for values that
 * are integers up to rounding). */
static double swim_ceil(double x)
{
    double i = (double)(uint64_t)x;
    return x - i > 1e-9 ? i + 1.0 : i;
}

void veil_swim_config_default(struct veil_swim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->probe_interval_ms = 1000;
    cfg->probe_timeout_ms = 500;
    cfg->indirect_checks = 3;
    cfg->suspicion_mult = 4;
    cfg->suspicion_max_mult = 6;
    cfg->retransmit_mult = 4;
    cfg->gossip_interval_ms = 200;
    cfg->gossip_nodes = 3;
    cfg->push_pull_interval_ms = 30000;
    cfg->awareness_max_mult = 8;
    cfg->gossip_to_dead_ms = 30000;
    cfg->max_packet_bytes = 1400;
    cfg->initial_incarnation = 0;
}

const char *veil_swim_state_name(enum veil_swim_state s)
{
    switch (s) {
    case VEIL_SWIM_ALIVE:
        return "alive";
    case VEIL_SWIM_SUSPECT:
        return "suspect";
    case VEIL_SWIM_DEAD:
        return "dead";
    case VEIL_SWIM_LEFT:
        return "left";
    }
    return "unknown";
}

const char *veil_swim_event_name(enum veil_swim_event_type t)
{
    switch (t) {
    case VEIL_SWIM_EV_JOIN:
        return "join";
    case VEIL_SWIM_EV_UPDATE:
        return "update";
    case VEIL_SWIM_EV_SUSPECT:
        return "suspect";
    case VEIL_SWIM_EV_ALIVE:
        return "alive";
    case VEIL_SWIM_EV_DEAD:
        return "dead";
    case VEIL_SWIM_EV_LEAVE:
        return "leave";
    }
    return "unknown";
}

/* memberlist retransmitLimit: mult * ceil(log10(n + 1)). */
uint32_t veil_swim_retransmit_limit(const struct veil_swim_config *cfg, size_t n_members)
{
    double scale = swim_ceil(swim_log10((double)n_members + 1.0));
    return cfg->retransmit_mult * (uint32_t)scale;
}

/* memberlist suspicionTimeout: mult * max(1, log10(n)) * interval. */
uint64_t veil_swim_suspicion_min_ms(const struct veil_swim_config *cfg, size_t n_members)
{
    double node_scale = n_members > 1 ? swim_log10((double)n_members) : 0.0;
    if (node_scale < 1.0)
        node_scale = 1.0;
    /* Rounded to the millisecond: log10(100) may come out a hair under 2. */
    return (uint64_t)((double)cfg->suspicion_mult * node_scale * (double)cfg->probe_interval_ms +
                      0.5);
}

uint64_t veil_swim_suspicion_max_ms(const struct veil_swim_config *cfg, size_t n_members)
{
    return (uint64_t)cfg->suspicion_max_mult * veil_swim_suspicion_min_ms(cfg, n_members);
}

static uint32_t suspicion_k(const struct veil_swim_config *cfg, size_t n_members)
{
    uint32_t k = cfg->suspicion_mult > 2 ? cfg->suspicion_mult - 2 : 0;
    if (n_members < 2 || n_members - 2 < k)
        k = 0;
    if (k > SWIM_MAX_CONFIRMERS)
        k = SWIM_MAX_CONFIRMERS;
    return k;
}

static uint64_t suspicion_timeout(uint64_t min_ms, uint64_t max_ms, uint32_t k, uint32_t c)
{
    if (k < 1)
        return min_ms;
    /* Lifeguard s.4.2: max - (max - min) * log(c + 1) / log(k + 1), floored at min. */
    double frac = swim_ln((double)c + 1.0) / swim_ln((double)k + 1.0);
    double t = (double)max_ms - frac * (double)(max_ms - min_ms);
    if (t < (double)min_ms)
        t = (double)min_ms;
    return (uint64_t)t;
}

uint64_t veil_swim_suspicion_timeout_ms(const struct veil_swim_config *cfg, size_t n_members,
                                        uint32_t confirmations)
{
    uint64_t min_ms = veil_swim_suspicion_min_ms(cfg, n_members);
    return suspicion_timeout(min_ms, (uint64_t)cfg->suspicion_max_mult * min_ms,
                             suspicion_k(cfg, n_members), confirmations);
}

static uint64_t scaled(const veil_swim *sw, uint32_t ms)
{
    return (uint64_t)ms * (sw->awareness + 1);
}

static void awareness_apply(veil_swim *sw, int delta)
{
    int64_t v = (int64_t)sw->awareness + delta;
    int64_t max = sw->cfg.awareness_max_mult > 0 ? (int64_t)sw->cfg.awareness_max_mult - 1 : 0;
    if (v < 0)
        v = 0;
    if (v > max)
        v = max;
    sw->awareness = (uint32_t)v;
}

static uint64_t push_pull_interval(const veil_swim *sw)
{
    /* memberlist pushPullScale: beyond 32 members, stretch by
     * ceil(log2(n) - log2(32)) + 1 so the cluster-wide sync load stays flat. */
    size_t n = sw->n_members;
    uint64_t base = sw->cfg.push_pull_interval_ms;
    if (n <= 32)
        return base;
    double mult = swim_ceil(swim_log2((double)n) - 5.0) + 1.0;
    return (uint64_t)(mult * (double)base);
}

static uint64_t rand_u64(veil_swim *sw)
{
    return sw->rng ? sw->rng(sw->rng_ctx) : veil_random_u64();
}

static size_t rand_below(veil_swim *sw, size_t n)
{
    return n ? (size_t)(rand_u64(sw) % n) : 0;
}

/* ------------------------------------------------------------------------ */
/* Members                                                                  */
/* ------------------------------------------------------------------------ */

static bool id_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static struct member *find_member(const veil_swim *sw, const uint8_t *id, size_t id_len)
{
    for (size_t i = 0; i < sw->n_members; i++) {
        struct member *m = sw->members[i];
        if (id_eq(m->id, m->id_len, id, id_len))
            return m;
    }
    return NULL;
}

static bool is_self(const veil_swim *sw, const struct member *m)
{
    return m == sw->members[0];
}

static bool is_live(const struct member *m)
{
    return m->state == VEIL_SWIM_ALIVE || m->state == VEIL_SWIM_SUSPECT;
}

size_t veil_swim_live_count(const veil_swim *sw)
{
    size_t n = 0;
    for (size_t i = 0; i < sw->n_members; i++)
        n += is_live(sw->members[i]);
    return n;
}

static void member_fill(struct veil_swim_member *out, const struct member *m)
{
    out->id = m->id;
    out->id_len = m->id_len;
    out->addr = m->addr;
    out->addr_len = m->addr_len;
    out->meta = m->meta;
    out->meta_len = m->meta_len;
    out->incarnation = m->incarnation;
    out->state = m->state;
    out->state_change_ms = m->state_change_ms;
}

static struct member *add_member(veil_swim *sw, const uint8_t *id, size_t id_len)
{
    if (sw->n_members >= VEIL_SWIM_MAX_MEMBERS)
        return NULL;
    if (sw->n_members == sw->cap_members) {
        size_t cap = sw->cap_members ? sw->cap_members * 2 : 16;
        struct member **p = realloc(sw->members, cap * sizeof *p);
        if (!p)
            return NULL;
        sw->members = p;
        sw->cap_members = cap;
    }
    struct member *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    memcpy(m->id, id, id_len);
    m->id_len = id_len;
    sw->members[sw->n_members++] = m;
    return m;
}

static void clear_suspicion(struct member *m)
{
    free(m->susp);
    m->susp = NULL;
}

/* ------------------------------------------------------------------------ */
/* Output queues                                                            */
/* ------------------------------------------------------------------------ */

static void emit_event(veil_swim *sw, enum veil_swim_event_type type, const struct member *m,
                       uint64_t now_ms)
{
    if (sw->head_events == sw->n_events)
        sw->head_events = sw->n_events = 0;
    if (sw->n_events - sw->head_events >= SWIM_MAX_QUEUED)
        return;
    if (sw->n_events == sw->cap_events) {
        if (sw->head_events > 0) {
            memmove(sw->events, sw->events + sw->head_events,
                    (sw->n_events - sw->head_events) * sizeof *sw->events);
            sw->n_events -= sw->head_events;
            sw->head_events = 0;
        } else {
            size_t cap = sw->cap_events ? sw->cap_events * 2 : 16;
            struct veil_swim_event *p = realloc(sw->events, cap * sizeof *p);
            if (!p)
                return;
            sw->events = p;
            sw->cap_events = cap;
        }
    }
    struct veil_swim_event *e = &sw->events[sw->n_events++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->at_ms = now_ms;
    e->incarnation = m->incarnation;
    e->id_len = m->id_len;
    memcpy(e->id, m->id, m->id_len);
    e->addr_len = m->addr_len;
    memcpy(e->addr, m->addr, m->addr_len);
    e->meta_len = m->meta_len;
    memcpy(e->meta, m->meta, m->meta_len);
}

bool veil_swim_pop_event(veil_swim *sw, struct veil_swim_event *out)
{
    if (sw->head_events >= sw->n_events)
        return false;
    *out = sw->events[sw->head_events++];
    return true;
}

/* Takes ownership of the buffer's bytes. */
static void queue_packet(veil_swim *sw, const uint8_t *to_id, size_t to_id_len,
                         const uint8_t *to_addr, size_t to_addr_len, veil_buf *b)
{
    if (!veil_buf_ok(b) || sw->n_packets - sw->head_packets >= SWIM_MAX_QUEUED) {
        veil_buf_free(b);
        return;
    }
    if (sw->head_packets == sw->n_packets)
        sw->head_packets = sw->n_packets = 0;
    if (sw->n_packets == sw->cap_packets) {
        if (sw->head_packets > 0) {
            memmove(sw->packets, sw->packets + sw->head_packets,
                    (sw->n_packets - sw->head_packets) * sizeof *sw->packets);
            sw->n_packets -= sw->head_packets;
            sw->head_packets = 0;
        } else {
            size_t cap = sw->cap_packets ? sw->cap_packets * 2 : 16;
            struct veil_swim_packet *p = realloc(sw->packets, cap * sizeof *p);
            if (!p) {
                veil_buf_free(b);
                return;
            }
            sw->packets = p;
            sw->cap_packets = cap;
        }
    }
    struct veil_swim_packet *p = &sw->packets[sw->n_packets++];
    memset(p, 0, offsetof(struct veil_swim_packet, to_id));
    p->to_id_len = to_id_len;
    if (to_id_len)
        memcpy(p->to_id, to_id, to_id_len);
    p->to_addr_len = to_addr_len;
    if (to_addr_len)
        memcpy(p->to_addr, to_addr, to_addr_len);
    p->data = b->data;
    p->len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    sw->stats.packets_sent++;
    sw->stats.bytes_sent += p->len;
}

bool veil_swim_pop_packet(veil_swim *sw, struct veil_swim_packet *out)
{
    if (sw->head_packets >= sw->n_packets)
        return false;
    *out = sw->packets[sw->head_packets++];
    return true;
}

void veil_swim_packet_clear(struct veil_swim_packet *p)
{
    free(p->data);
    p->data = NULL;
    p->len = 0;
}

/* ------------------------------------------------------------------------ */
/* Broadcast queue (memberlist TransmitLimitedQueue)                        */
/* ------------------------------------------------------------------------ */

static void bcast_remove_at(veil_swim *sw, size_t i)
{
    if (sw->bcasts[i].self_leave)
        sw->leave_flushed = true;
    free(sw->bcasts[i].data);
    sw->bcasts[i] = sw->bcasts[--sw->n_bcasts];
}

/* Queues an update about `m`; a newer update about the same member replaces
 * any older one still queued. */
static void queue_update(veil_swim *sw, const struct swim_update *u, bool self_leave)
{
    for (size_t i = 0; i < sw->n_bcasts; i++) {
        if (id_eq(sw->bcasts[i].id, sw->bcasts[i].id_len, u->id.p, u->id.len)) {
            bool was_leave = sw->bcasts[i].self_leave;
            free(sw->bcasts[i].data);
            sw->bcasts[i] = sw->bcasts[--sw->n_bcasts];
            if (was_leave)
                self_leave = true;
            break;
        }
    }
    if (sw->n_bcasts == sw->cap_bcasts) {
        size_t cap = sw->cap_bcasts ? sw->cap_bcasts * 2 : 16;
        struct bcast *p = realloc(sw->bcasts, cap * sizeof *p);
        if (!p)
            return;
        sw->bcasts = p;
        sw->cap_bcasts = cap;
    }
    veil_buf b;
    veil_buf_init(&b);
    swim_put_update(&b, u);
    if (!veil_buf_ok(&b)) {
        veil_buf_free(&b);
        return;
    }
    struct bcast *bc = &sw->bcasts[sw->n_bcasts++];
    memset(bc, 0, sizeof *bc);
    bc->id_len = u->id.len;
    memcpy(bc->id, u->id.p, u->id.len);
    bc->data = b.data;
    bc->len = b.len;
    bc->order = ++sw->bcast_order;
    bc->self_leave = self_leave;
}

static void queue_alive(veil_swim *sw, const struct member *m)
{
    struct swim_update u = {.kind = SWIM_UPD_ALIVE,
                            .id = {m->id, m->id_len},
                            .addr = {m->addr, m->addr_len},
                            .meta = {m->meta, m->meta_len},
                            .incarnation = m->incarnation};
    queue_update(sw, &u, false);
}

static void queue_suspect_or_dead(veil_swim *sw, enum swim_update_kind kind, const struct member *m,
                                  const uint8_t *from, size_t from_len, bool self_leave)
{
    struct swim_update u = {.kind = kind,
                            .id = {m->id, m->id_len},
                            .from = {from, from_len},
                            .incarnation = m->incarnation};
    queue_update(sw, &u, self_leave);
}

static int bcast_cmp(const void *a, const void *b)
{
    const struct bcast *x = *(const struct bcast *const *)a;
    const struct bcast *y = *(const struct bcast *const *)b;
    /* Fewest transmissions first, then newest first (memberlist's order). */
    if (x->transmits != y->transmits)
        return x->transmits < y->transmits ? -1 : 1;
    if (x->order != y->order)
        return x->order > y->order ? -1 : 1;
    return 0;
}

/* Appends "count | updates" filling at most `budget` bytes; counts each
 * included queued update as one transmission. `extra` (may be NULL) is an
 * encoded update sent first and outside the queue. Returns the number of
 * queued updates appended. */
static size_t put_piggyback_extra(veil_swim *sw, veil_buf *out, size_t budget,
                                  const veil_buf *extra)
{
    size_t n_sel = 0, used = 2; /* the count: a uvarint below 2^14 */
    size_t n_extra = extra && extra->len ? 1 : 0;
    if (n_extra)
        used += extra->len;
    struct bcast **order = NULL;
    if (sw->n_bcasts > 0)
        order = malloc(sw->n_bcasts * sizeof *order);
    if (!order) {
        veil_buf_put_uvarint(out, n_extra);
        if (n_extra)
            veil_buf_put(out, extra->data, extra->len);
        return 0;
    }
    for (size_t i = 0; i < sw->n_bcasts; i++)
        order[i] = &sw->bcasts[i];
    qsort(order, sw->n_bcasts, sizeof *order, bcast_cmp);
    bool *take = calloc(sw->n_bcasts, sizeof *take);
    if (!take) {
        free(order);
        veil_buf_put_uvarint(out, n_extra);
        if (n_extra)
            veil_buf_put(out, extra->data, extra->len);
        return 0;
    }
    for (size_t i = 0; i < sw->n_bcasts && n_sel + n_extra < SWIM_MAX_PIGGYBACK; i++) {
        if (used + order[i]->len > budget)
            continue;
        take[order[i] - sw->bcasts] = true;
        used += order[i]->len;
        n_sel++;
    }
    veil_buf_put_uvarint(out, n_sel + n_extra);
    if (n_extra)
        veil_buf_put(out, extra->data, extra->len);
    /* Emit the selection in priority order. */
    for (size_t i = 0; i < sw->n_bcasts; i++) {
        struct bcast *bc = order[i];
        if (take[bc - sw->bcasts]) {
            veil_buf_put(out, bc->data, bc->len);
            bc->transmits++;
        }
    }
    free(order);
    free(take);
    uint32_t limit = veil_swim_retransmit_limit(&sw->cfg, sw->n_members);
    for (size_t i = 0; i < sw->n_bcasts;) {
        if (sw->bcasts[i].transmits >= limit)
            bcast_remove_at(sw, i);
        else
            i++;
    }
    return n_sel;
}

static size_t put_piggyback(veil_swim *sw, veil_buf *out, size_t budget)
{
    return put_piggyback_extra(sw, out, budget, NULL);
}

static size_t piggyback_budget(const veil_swim *sw, const veil_buf *b)
{
    size_t max = sw->cfg.max_packet_bytes;
    return b->len < max ? max - b->len : 1;
}

/* Sends a message whose header and body are in b, adding piggybacked updates. */
static void send_with_piggyback(veil_swim *sw, const uint8_t *to_id, size_t to_id_len,
                                const uint8_t *to_addr, size_t to_addr_len, veil_buf *b)
{
    put_piggyback(sw, b, piggyback_budget(sw, b));
    queue_packet(sw, to_id, to_id_len, to_addr, to_addr_len, b);
}

static void send_to_member(veil_swim *sw, const struct member *m, veil_buf *b)
{
    send_with_piggyback(sw, m->id, m->id_len, m->addr, m->addr_len, b);
}

static void send_ack(veil_swim *sw, enum swim_msg_type type, uint32_t seq, const uint8_t *to_id,
                     size_t to_id_len)
{
    const struct member *m = find_member(sw, to_id, to_id_len);
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, type);
    swim_put_seq(&b, seq);
    send_with_piggyback(sw, to_id, to_id_len, m ? m->addr : NULL, m ? m->addr_len : 0, &b);
}

/* ------------------------------------------------------------------------ */
/* Membership rules (SWIM s.4.2, memberlist aliveNode/suspectNode/deadNode) */
/* ------------------------------------------------------------------------ */

static void refute(veil_swim *sw, uint32_t accused_incarnation)
{
    struct member *self = sw->members[0];
    uint32_t inc =
        accused_incarnation >= self->incarnation ? accused_incarnation : self->incarnation;
    if (inc == UINT32_MAX)
        return; /* cannot go higher; nothing sane left to do */
    self->incarnation = inc + 1;
    sw->stats.refutations++;
    /* Lifeguard s.4.1: having to refute means our own health may be poor. */
    awareness_apply(sw, 1);
    queue_alive(sw, self);
}

static void alive_node(veil_swim *sw, const struct swim_update *u, uint64_t now_ms)
{
    struct member *m = find_member(sw, u->id.p, u->id.len);
    if (m && is_self(sw, m)) {
        if (sw->leaving || u->incarnation < m->incarnation)
            return;
        bool same = u->incarnation == m->incarnation &&
                    id_eq(m->addr, m->addr_len, u->addr.p, u->addr.len) &&
                    id_eq(m->meta, m->meta_len, u->meta.p, u->meta.len);
        if (!same)
            refute(sw, u->incarnation);
        return;
    }
    if (!m) {
        m = add_member(sw, u->id.p, u->id.len);
        if (!m)
            return;
        memcpy(m->addr, u->addr.p, u->addr.len);
        m->addr_len = u->addr.len;
        memcpy(m->meta, u->meta.p, u->meta.len);
        m->meta_len = u->meta.len;
        m->incarnation = u->incarnation;
        m->state = VEIL_SWIM_ALIVE;
        m->state_change_ms = now_ms;
        emit_event(sw, VEIL_SWIM_EV_JOIN, m, now_ms);
        queue_alive(sw, m);
        return;
    }
    if (u->incarnation <= m->incarnation)
        return;
    enum veil_swim_state old = m->state;
    bool changed = !id_eq(m->addr, m->addr_len, u->addr.p, u->addr.len) ||
                   !id_eq(m->meta, m->meta_len, u->meta.p, u->meta.len);
    memcpy(m->addr, u->addr.p, u->addr.len);
    m->addr_len = u->addr.len;
    memcpy(m->meta, u->meta.p, u->meta.len);
    m->meta_len = u->meta.len;
    m->incarnation = u->incarnation;
    clear_suspicion(m);
    if (old != VEIL_SWIM_ALIVE) {
        m->state = VEIL_SWIM_ALIVE;
        m->state_change_ms = now_ms;
    }
    if (old == VEIL_SWIM_DEAD || old == VEIL_SWIM_LEFT)
        emit_event(sw, VEIL_SWIM_EV_JOIN, m, now_ms);
    else if (old == VEIL_SWIM_SUSPECT)
        emit_event(sw, VEIL_SWIM_EV_ALIVE, m, now_ms);
    if (changed && old != VEIL_SWIM_DEAD && old != VEIL_SWIM_LEFT)
        emit_event(sw, VEIL_SWIM_EV_UPDATE, m, now_ms);
    queue_alive(sw, m);
}

/* Records `from` as having suspected m; returns true for a new independent
 * confirmation (which shortens the timeout). */
static bool suspicion_confirm(struct suspicion *s, const uint8_t *from, size_t from_len)
{
    if (s->n_confirm >= s->k)
        return false;
    for (size_t i = 0; i < s->n_seen; i++)
        if (id_eq(s->seen[i], s->seen_len[i], from, from_len))
            return false;
    memcpy(s->seen[s->n_seen], from, from_len);
    s->seen_len[s->n_seen++] = from_len;
    s->n_confirm++;
    s->deadline_ms = s->start_ms + suspicion_timeout(s->min_ms, s->max_ms, s->k, s->n_confirm);
    return true;
}

static void suspect_node(veil_swim *sw, const uint8_t *id, size_t id_len, uint32_t incarnation,
                         const uint8_t *from, size_t from_len, uint64_t now_ms)
{
    struct member *m = find_member(sw, id, id_len);
    if (!m || incarnation < m->incarnation)
        return;
    if (m->state == VEIL_SWIM_SUSPECT && m->susp) {
        if (suspicion_confirm(m->susp, from, from_len))
            queue_suspect_or_dead(sw, SWIM_UPD_SUSPECT, m, from, from_len, false);
        return;
    }
    if (m->state != VEIL_SWIM_ALIVE)
        return;
    if (is_self(sw, m)) {
        if (!sw->leaving)
            refute(sw, incarnation);
        return;
    }
    struct suspicion *s = calloc(1, sizeof *s);
    if (!s)
        return;
    size_t n = veil_swim_live_count(sw);
    s->k = suspicion_k(&sw->cfg, n);
    s->min_ms = veil_swim_suspicion_min_ms(&sw->cfg, n);
    s->max_ms = (uint64_t)sw->cfg.suspicion_max_mult * s->min_ms;
    s->start_ms = now_ms;
    s->deadline_ms = now_ms + suspicion_timeout(s->min_ms, s->max_ms, s->k, 0);
    /* The first accuser is not a confirmation. */
    memcpy(s->seen[0], from, from_len);
    s->seen_len[0] = from_len;
    s->n_seen = 1;
    m->susp = s;
    m->incarnation = incarnation;
    m->state = VEIL_SWIM_SUSPECT;
    m->state_change_ms = now_ms;
    sw->stats.suspicions_started++;
    emit_event(sw, VEIL_SWIM_EV_SUSPECT, m, now_ms);
    queue_suspect_or_dead(sw, SWIM_UPD_SUSPECT, m, from, from_len, false);
}

static void dead_node(veil_swim *sw, const uint8_t *id, size_t id_len, uint32_t incarnation,
                      const uint8_t *from, size_t from_len, uint64_t now_ms)
{
    struct member *m = find_member(sw, id, id_len);
    if (!m || incarnation < m->incarnation)
        return;
    if (m->state == VEIL_SWIM_DEAD || m->state == VEIL_SWIM_LEFT)
        return;
    if (is_self(sw, m)) {
        if (!sw->leaving)
            refute(sw, incarnation);
        return;
    }
    bool left = id_eq(id, id_len, from, from_len);
    clear_suspicion(m);
    m->incarnation = incarnation;
    m->state = left ? VEIL_SWIM_LEFT : VEIL_SWIM_DEAD;
    m->state_change_ms = now_ms;
    emit_event(sw, left ? VEIL_SWIM_EV_LEAVE : VEIL_SWIM_EV_DEAD, m, now_ms);
    queue_suspect_or_dead(sw, SWIM_UPD_DEAD, m, from, from_len, false);
}

static void apply_update(veil_swim *sw, const struct swim_update *u, uint64_t now_ms)
{
    switch (u->kind) {
    case SWIM_UPD_ALIVE:
        alive_node(sw, u, now_ms);
        break;
    case SWIM_UPD_SUSPECT:
        suspect_node(sw, u->id.p, u->id.len, u->incarnation, u->from.p, u->from.len, now_ms);
        break;
    case SWIM_UPD_DEAD:
        dead_node(sw, u->id.p, u->id.len, u->incarnation, u->from.p, u->from.len, now_ms);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Construction                                                             */
/* ------------------------------------------------------------------------ */

veil_swim *veil_swim_new(const struct veil_swim_config *cfg, const uint8_t *id, size_t id_len,
                         const uint8_t *addr, size_t addr_len, const uint8_t *meta, size_t meta_len,
                         veil_swim_rng_fn rng, void *rng_ctx, uint64_t now_ms, veil_err *err)
{
    if (!id || id_len == 0 || id_len > VEIL_SWIM_ID_MAX) {
        veil_err_set(err, VEIL_E_INVALID, "swim: member id must be 1..%d bytes", VEIL_SWIM_ID_MAX);
        return NULL;
    }
    if (addr_len > VEIL_SWIM_ADDR_MAX || meta_len > VEIL_SWIM_META_MAX || (addr_len && !addr) ||
        (meta_len && !meta)) {
        veil_err_set(err, VEIL_E_RANGE, "swim: address (max %d) or metadata (max %d) too long",
                     VEIL_SWIM_ADDR_MAX, VEIL_SWIM_META_MAX);
        return NULL;
    }
    struct veil_swim_config c;
    if (cfg)
        c = *cfg;
    else
        veil_swim_config_default(&c);
    if (c.probe_interval_ms == 0 || c.probe_timeout_ms == 0 ||
        c.probe_timeout_ms > c.probe_interval_ms || c.gossip_interval_ms == 0 ||
        c.suspicion_mult == 0 || c.suspicion_max_mult == 0 || c.retransmit_mult == 0 ||
        c.awareness_max_mult == 0 || c.max_packet_bytes < 64) {
        veil_err_set(err, VEIL_E_INVALID,
                     "swim: invalid configuration (zero interval or "
                     "multiplier, or probe timeout above the interval)");
        return NULL;
    }
    veil_swim *sw = calloc(1, sizeof *sw);
    if (!sw) {
        veil_err_set(err, VEIL_E_NOMEM, "swim: out of memory");
        return NULL;
    }
    sw->cfg = c;
    sw->rng = rng;
    sw->rng_ctx = rng_ctx;
    struct member *self = add_member(sw, id, id_len);
    if (!self) {
        free(sw);
        veil_err_set(err, VEIL_E_NOMEM, "swim: out of memory");
        return NULL;
    }
    if (addr_len)
        memcpy(self->addr, addr, addr_len);
    self->addr_len = addr_len;
    if (meta_len)
        memcpy(self->meta, meta, meta_len);
    self->meta_len = meta_len;
    self->incarnation = c.initial_incarnation;
    self->state = VEIL_SWIM_ALIVE;
    self->state_change_ms = now_ms;
    sw->next_seq = (uint32_t)rand_u64(sw);
    /* Spread the timers of nodes started together. */
    sw->next_probe_ms = now_ms + rand_below(sw, c.probe_interval_ms);
    sw->next_gossip_ms = now_ms + rand_below(sw, c.gossip_interval_ms);
    sw->next_push_pull_ms =
        now_ms + c.push_pull_interval_ms + rand_below(sw, c.push_pull_interval_ms / 4 + 1);
    return sw;
}

void veil_swim_free(veil_swim *sw)
{
    if (!sw)
        return;
    for (size_t i = 0; i < sw->n_members; i++) {
        clear_suspicion(sw->members[i]);
        free(sw->members[i]);
    }
    free(sw->members);
    free(sw->probe_order);
    for (size_t i = 0; i < sw->n_bcasts; i++)
        free(sw->bcasts[i].data);
    free(sw->bcasts);
    free(sw->relays);
    for (size_t i = sw->head_packets; i < sw->n_packets; i++)
        free(sw->packets[i].data);
    free(sw->packets);
    free(sw->events);
    free(sw);
}

/* ------------------------------------------------------------------------ */
/* State sync (push-pull)                                                   */
/* ------------------------------------------------------------------------ */

static void send_push_pull(veil_swim *sw, const uint8_t *to_id, size_t to_id_len,
                           const uint8_t *to_addr, size_t to_addr_len, uint8_t flags)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PUSH_PULL);
    veil_buf_put_u8(&b, flags);
    veil_buf_put_uvarint(&b, sw->n_members);
    for (size_t i = 0; i < sw->n_members; i++) {
        const struct member *m = sw->members[i];
        struct swim_member_rec rec = {.id = {m->id, m->id_len},
                                      .addr = {m->addr, m->addr_len},
                                      .meta = {m->meta, m->meta_len},
                                      .incarnation = m->incarnation,
                                      .state = m->state};
        swim_put_member(&b, &rec);
    }
    veil_buf_put_uvarint(&b, 0); /* no piggyback on state syncs */
    queue_packet(sw, to_id, to_id_len, to_addr, to_addr_len, &b);
}

static void merge_state(veil_swim *sw, struct swim_msg *msg, const uint8_t *from_id,
                        size_t from_id_len, uint64_t now_ms)
{
    const struct member *self = sw->members[0];
    struct swim_member_rec rec;
    while (swim_msg_next_member(msg, &rec)) {
        switch (rec.state) {
        case VEIL_SWIM_ALIVE: {
            struct swim_update u = {.kind = SWIM_UPD_ALIVE,
                                    .id = rec.id,
                                    .addr = rec.addr,
                                    .meta = rec.meta,
                                    .incarnation = rec.incarnation};
            alive_node(sw, &u, now_ms);
            break;
        }
        case VEIL_SWIM_LEFT:
            dead_node(sw, rec.id.p, rec.id.len, rec.incarnation, rec.id.p, rec.id.len, now_ms);
            break;
        case VEIL_SWIM_DEAD:
        case VEIL_SWIM_SUSPECT:
            /* memberlist mergeState: a remote "dead" may be stale, so it only
             * makes us suspect (and lets the member refute). */
            if (id_eq(rec.id.p, rec.id.len, self->id, self->id_len))
                suspect_node(sw, rec.id.p, rec.id.len, rec.incarnation, from_id, from_id_len,
                             now_ms);
            else
                suspect_node(sw, rec.id.p, rec.id.len, rec.incarnation, self->id, self->id_len,
                             now_ms);
            break;
        }
    }
}

int veil_swim_join(veil_swim *sw, const uint8_t *id, size_t id_len, const uint8_t *addr,
                   size_t addr_len, uint64_t now_ms, veil_err *err)
{
    (void)now_ms;
    if (id_len > VEIL_SWIM_ID_MAX || addr_len > VEIL_SWIM_ADDR_MAX ||
        (id_len == 0 && addr_len == 0))
        return veil_err_set(err, VEIL_E_INVALID, "swim: join needs a seed id or address");
    send_push_pull(sw, id, id_len, addr, addr_len, SWIM_PP_JOIN);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Probing                                                                  */
/* ------------------------------------------------------------------------ */

static void reap_and_shuffle(veil_swim *sw, uint64_t now_ms)
{
    /* Forget members dead or left for longer than gossip_to_dead (kept until
     * then so that state syncs and gossip still carry their fate). */
    for (size_t i = 1; i < sw->n_members;) {
        struct member *m = sw->members[i];
        if (!is_live(m) && now_ms >= m->state_change_ms + sw->cfg.gossip_to_dead_ms) {
            clear_suspicion(m);
            free(m);
            sw->members[i] = sw->members[--sw->n_members];
        } else {
            i++;
        }
    }
    free(sw->probe_order);
    sw->probe_order = NULL;
    sw->n_probe_order = sw->probe_index = 0;
    if (sw->n_members <= 1)
        return;
    sw->probe_order = malloc((sw->n_members - 1) * sizeof *sw->probe_order);
    if (!sw->probe_order)
        return;
    for (size_t i = 1; i < sw->n_members; i++)
        sw->probe_order[sw->n_probe_order++] = sw->members[i];
    for (size_t i = sw->n_probe_order; i > 1; i--) {
        size_t j = rand_below(sw, i);
        struct member *t = sw->probe_order[i - 1];
        sw->probe_order[i - 1] = sw->probe_order[j];
        sw->probe_order[j] = t;
    }
}

static struct member *next_probe_target(veil_swim *sw, uint64_t now_ms)
{
    for (int pass = 0; pass < 2; pass++) {
        while (sw->probe_index < sw->n_probe_order) {
            struct member *m = sw->probe_order[sw->probe_index++];
            if (is_live(m))
                return m;
        }
        reap_and_shuffle(sw, now_ms);
    }
    return NULL;
}

static void start_probe(veil_swim *sw, uint64_t now_ms)
{
    struct member *t = next_probe_target(sw, now_ms);
    if (!t)
        return;
    struct probe *p = &sw->probe;
    memset(p, 0, sizeof *p);
    p->active = true;
    p->seq = sw->next_seq++;
    memcpy(p->target, t->id, t->id_len);
    p->target_len = t->id_len;
    p->ack_deadline_ms = now_ms + scaled(sw, sw->cfg.probe_timeout_ms);
    p->end_ms = now_ms + scaled(sw, sw->cfg.probe_interval_ms);
    sw->stats.probes++;
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING);
    swim_put_ping(&b, p->seq, t->id, t->id_len);
    if (t->state != VEIL_SWIM_SUSPECT) {
        send_to_member(sw, t, &b);
        return;
    }
    /* Lifeguard s.4.3 buddy system: a suspect learns of the suspicion from
     * the very probe, so it can refute at once instead of waiting for the
     * rumour to reach it. */
    const struct member *self = sw->members[0];
    struct swim_update u = {.kind = SWIM_UPD_SUSPECT,
                            .id = {t->id, t->id_len},
                            .from = {self->id, self->id_len},
                            .incarnation = t->incarnation};
    veil_buf extra;
    veil_buf_init(&extra);
    swim_put_update(&extra, &u);
    put_piggyback_extra(sw, &b, piggyback_budget(sw, &b), &extra);
    veil_buf_free(&extra);
    queue_packet(sw, t->id, t->id_len, t->addr, t->addr_len, &b);
}

static void send_indirect_probes(veil_swim *sw, const struct member *target)
{
    struct probe *p = &sw->probe;
    p->indirect_sent = true;
    size_t n_cand = 0;
    struct member **cand = malloc(sw->n_members * sizeof *cand);
    if (!cand)
        return;
    for (size_t i = 1; i < sw->n_members; i++) {
        struct member *m = sw->members[i];
        if (m->state == VEIL_SWIM_ALIVE && m != target)
            cand[n_cand++] = m;
    }
    for (uint32_t k = 0; k < sw->cfg.indirect_checks && n_cand > 0; k++) {
        size_t j = rand_below(sw, n_cand);
        struct member *relay = cand[j];
        cand[j] = cand[--n_cand];
        veil_buf b;
        veil_buf_init(&b);
        swim_put_header(&b, SWIM_MSG_PING_REQ);
        swim_put_ping_req(&b, p->seq, target->id, target->id_len, target->addr, target->addr_len);
        send_to_member(sw, relay, &b);
        p->expected_nacks++;
        sw->stats.indirect_probes++;
    }
    free(cand);
}

static void finish_failed_probe(veil_swim *sw, uint64_t now_ms)
{
    struct probe *p = &sw->probe;
    p->active = false;
    /* Lifeguard s.4.1 (memberlist probeNode): with relays, every missing nack
     * counts against our own health; without, any failed probe does. */
    if (p->expected_nacks > 0) {
        if (p->nacks < p->expected_nacks)
            awareness_apply(sw, (int)(p->expected_nacks - p->nacks));
    } else {
        awareness_apply(sw, 1);
    }
    /* Suspect it, or confirm an existing suspicion (Lifeguard: our own
     * failed probe is an independent confirmation). */
    struct member *t = find_member(sw, p->target, p->target_len);
    if (!t || !is_live(t))
        return;
    const struct member *self = sw->members[0];
    suspect_node(sw, t->id, t->id_len, t->incarnation, self->id, self->id_len, now_ms);
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                */
/* ------------------------------------------------------------------------ */

static void handle_ack(veil_swim *sw, uint32_t seq, bool nack)
{
    struct probe *p = &sw->probe;
    if (p->active && p->seq == seq) {
        if (nack) {
            p->nacks++;
        } else {
            p->active = false;
            awareness_apply(sw, -1);
        }
        return;
    }
    if (nack)
        return;
    for (size_t i = 0; i < sw->n_relays; i++) {
        struct relay *r = &sw->relays[i];
        if (r->my_seq == seq) {
            veil_buf b;
            veil_buf_init(&b);
            swim_put_header(&b, SWIM_MSG_ACK);
            swim_put_seq(&b, r->their_seq);
            send_with_piggyback(sw, r->req_id, r->req_id_len, r->req_addr, r->req_addr_len, &b);
            sw->relays[i] = sw->relays[--sw->n_relays];
            return;
        }
    }
}

static void handle_ping_req(veil_swim *sw, const struct swim_msg *msg, const uint8_t *from_id,
                            size_t from_id_len, uint64_t now_ms)
{
    /* Only relay to members we know: otherwise any peer could make us dial
     * an arbitrary address. The address used is the one the membership
     * holds, not the one in the request. */
    const struct member *t = find_member(sw, msg->target_id.p, msg->target_id.len);
    if (!t || is_self(sw, t) || !is_live(t) || sw->n_relays >= SWIM_MAX_RELAYS)
        return;
    if (sw->n_relays == sw->cap_relays) {
        size_t cap = sw->cap_relays ? sw->cap_relays * 2 : 8;
        struct relay *p = realloc(sw->relays, cap * sizeof *p);
        if (!p)
            return;
        sw->relays = p;
        sw->cap_relays = cap;
    }
    const struct member *req = find_member(sw, from_id, from_id_len);
    struct relay *r = &sw->relays[sw->n_relays++];
    memset(r, 0, sizeof *r);
    r->my_seq = sw->next_seq++;
    r->their_seq = msg->seq;
    /* Lifeguard s.4.3: nack at 80% of the probe timeout so the requester can
     * tell "target silent" from "my own links are failing". */
    r->nack_ms = now_ms + (uint64_t)sw->cfg.probe_timeout_ms * 8 / 10;
    r->expire_ms = now_ms + sw->cfg.probe_timeout_ms;
    memcpy(r->req_id, from_id, from_id_len);
    r->req_id_len = from_id_len;
    if (req) {
        memcpy(r->req_addr, req->addr, req->addr_len);
        r->req_addr_len = req->addr_len;
    }
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING);
    swim_put_ping(&b, r->my_seq, msg->target_id.p, msg->target_id.len);
    send_to_member(sw, t, &b);
}

int veil_swim_handle(veil_swim *sw, const uint8_t *from_id, size_t from_id_len, const uint8_t *data,
                     size_t len, uint64_t now_ms, veil_err *err)
{
    if (!from_id || from_id_len == 0 || from_id_len > VEIL_SWIM_ID_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "swim: sender id must be 1..%d bytes",
                            VEIL_SWIM_ID_MAX);
    struct swim_msg msg;
    if (swim_msg_decode(&msg, data, len, err) != 0) {
        sw->stats.malformed++;
        return -1;
    }
    sw->stats.packets_received++;
    sw->stats.bytes_received += len;
    const struct member *self = sw->members[0];

    switch (msg.type) {
    case SWIM_MSG_PING:
        /* A ping for another id (a stale address) is not ours to answer. */
        if (id_eq(msg.target_id.p, msg.target_id.len, self->id, self->id_len))
            send_ack(sw, SWIM_MSG_ACK, msg.seq, from_id, from_id_len);
        break;
    case SWIM_MSG_ACK:
        handle_ack(sw, msg.seq, false);
        break;
    case SWIM_MSG_NACK:
        handle_ack(sw, msg.seq, true);
        break;
    case SWIM_MSG_PING_REQ:
        handle_ping_req(sw, &msg, from_id, from_id_len, now_ms);
        break;
    case SWIM_MSG_PUSH_PULL:
        if (!(msg.pp_flags & SWIM_PP_REPLY) && !sw->leaving) {
            const struct member *m = find_member(sw, from_id, from_id_len);
            send_push_pull(sw, from_id, from_id_len, m ? m->addr : NULL, m ? m->addr_len : 0,
                           SWIM_PP_REPLY);
        }
        merge_state(sw, &msg, from_id, from_id_len, now_ms);
        break;
    case SWIM_MSG_GOSSIP:
        break;
    }
    struct swim_update u;
    while (swim_msg_next_update(&msg, &u))
        apply_update(sw, &u, now_ms);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */
/* ------------------------------------------------------------------------ */

static void gossip(veil_swim *sw, uint64_t now_ms)
{
    if (sw->n_bcasts == 0 || sw->n_members <= 1)
        return;
    size_t n_cand = 0;
    struct member **cand = malloc(sw->n_members * sizeof *cand);
    if (!cand)
        return;
    for (size_t i = 1; i < sw->n_members; i++) {
        struct member *m = sw->members[i];
        bool recently_dead = !is_live(m) && now_ms < m->state_change_ms + sw->cfg.gossip_to_dead_ms;
        if (is_live(m) || recently_dead)
            cand[n_cand++] = m;
    }
    for (uint32_t k = 0; k < sw->cfg.gossip_nodes && n_cand > 0 && sw->n_bcasts > 0; k++) {
        size_t j = rand_below(sw, n_cand);
        struct member *to = cand[j];
        cand[j] = cand[--n_cand];
        veil_buf b;
        veil_buf_init(&b);
        swim_put_header(&b, SWIM_MSG_GOSSIP);
        size_t n = put_piggyback(sw, &b, piggyback_budget(sw, &b));
        if (n == 0) {
            veil_buf_free(&b);
            break;
        }
        queue_packet(sw, to->id, to->id_len, to->addr, to->addr_len, &b);
    }
    free(cand);
}

static void push_pull_tick(veil_swim *sw)
{
    size_t n_alive = 0;
    for (size_t i = 1; i < sw->n_members; i++)
        n_alive += sw->members[i]->state == VEIL_SWIM_ALIVE;
    if (n_alive == 0)
        return;
    size_t pick = rand_below(sw, n_alive);
    for (size_t i = 1; i < sw->n_members; i++) {
        struct member *m = sw->members[i];
        if (m->state != VEIL_SWIM_ALIVE)
            continue;
        if (pick-- == 0) {
            send_push_pull(sw, m->id, m->id_len, m->addr, m->addr_len, 0);
            return;
        }
    }
}

void veil_swim_tick(veil_swim *sw, uint64_t now_ms)
{
    struct probe *p = &sw->probe;
    if (p->active && !p->indirect_sent && now_ms >= p->ack_deadline_ms) {
        struct member *t = find_member(sw, p->target, p->target_len);
        if (t && is_live(t))
            send_indirect_probes(sw, t);
        else
            p->active = false;
    }
    if (p->active && now_ms >= p->end_ms)
        finish_failed_probe(sw, now_ms);
    if (!sw->leaving && now_ms >= sw->next_probe_ms) {
        if (p->active)
            finish_failed_probe(sw, now_ms);
        start_probe(sw, now_ms);
        sw->next_probe_ms = now_ms + scaled(sw, sw->cfg.probe_interval_ms);
    }

    for (size_t i = 0; i < sw->n_relays;) {
        struct relay *r = &sw->relays[i];
        if (!r->nacked && now_ms >= r->nack_ms) {
            r->nacked = true;
            veil_buf b;
            veil_buf_init(&b);
            swim_put_header(&b, SWIM_MSG_NACK);
            swim_put_seq(&b, r->their_seq);
            send_with_piggyback(sw, r->req_id, r->req_id_len, r->req_addr, r->req_addr_len, &b);
            r = &sw->relays[i];
        }
        if (now_ms >= r->expire_ms)
            sw->relays[i] = sw->relays[--sw->n_relays];
        else
            i++;
    }

    const struct member *self = sw->members[0];
    for (size_t i = 1; i < sw->n_members; i++) {
        struct member *m = sw->members[i];
        if (m->state == VEIL_SWIM_SUSPECT && m->susp && now_ms >= m->susp->deadline_ms) {
            /* Suspicion timed out: declare dead on our own authority. */
            clear_suspicion(m);
            m->state = VEIL_SWIM_DEAD;
            m->state_change_ms = now_ms;
            emit_event(sw, VEIL_SWIM_EV_DEAD, m, now_ms);
            queue_suspect_or_dead(sw, SWIM_UPD_DEAD, m, self->id, self->id_len, false);
        }
    }

    if (now_ms >= sw->next_gossip_ms) {
        gossip(sw, now_ms);
        sw->next_gossip_ms = now_ms + sw->cfg.gossip_interval_ms;
    }
    if (sw->cfg.push_pull_interval_ms && now_ms >= sw->next_push_pull_ms) {
        if (!sw->leaving)
            push_pull_tick(sw);
        sw->next_push_pull_ms = now_ms + push_pull_interval(sw);
    }
}

uint64_t veil_swim_next_deadline(const veil_swim *sw)
{
    uint64_t t = sw->next_gossip_ms;
#define SWIM_MIN(x)                                                                                \
    do {                                                                                           \
        if ((x) < t)                                                                               \
            t = (x);                                                                               \
    } while (0)
    if (!sw->leaving)
        SWIM_MIN(sw->next_probe_ms);
    if (sw->cfg.push_pull_interval_ms)
        SWIM_MIN(sw->next_push_pull_ms);
    const struct probe *p = &sw->probe;
    if (p->active) {
        if (!p->indirect_sent)
            SWIM_MIN(p->ack_deadline_ms);
        SWIM_MIN(p->end_ms);
    }
    for (size_t i = 0; i < sw->n_relays; i++) {
        if (!sw->relays[i].nacked)
            SWIM_MIN(sw->relays[i].nack_ms);
        SWIM_MIN(sw->relays[i].expire_ms);
    }
    for (size_t i = 1; i < sw->n_members; i++)
        if (sw->members[i]->susp)
            SWIM_MIN(sw->members[i]->susp->deadline_ms);
#undef SWIM_MIN
    return t;
}

/* ------------------------------------------------------------------------ */
/* Local node changes                                                       */
/* ------------------------------------------------------------------------ */

int veil_swim_set_meta(veil_swim *sw, const uint8_t *meta, size_t meta_len, uint64_t now_ms,
                       veil_err *err)
{
    (void)now_ms;
    if (meta_len > VEIL_SWIM_META_MAX || (meta_len && !meta))
        return veil_err_set(err, VEIL_E_RANGE, "swim: metadata of %zu bytes exceeds %d", meta_len,
                            VEIL_SWIM_META_MAX);
    struct member *self = sw->members[0];
    if (self->incarnation == UINT32_MAX)
        return veil_err_set(err, VEIL_E_STATE, "swim: incarnation exhausted");
    if (meta_len)
        memcpy(self->meta, meta, meta_len);
    self->meta_len = meta_len;
    self->incarnation++;
    queue_alive(sw, self);
    return 0;
}

void veil_swim_leave(veil_swim *sw, uint64_t now_ms)
{
    if (sw->leaving)
        return;
    struct member *self = sw->members[0];
    sw->leaving = true;
    sw->probe.active = false;
    self->state = VEIL_SWIM_LEFT;
    self->state_change_ms = now_ms;
    /* memberlist Leave: a dead message about ourselves, from ourselves. */
    queue_suspect_or_dead(sw, SWIM_UPD_DEAD, self, self->id, self->id_len, true);
    if (veil_swim_live_count(sw) == 0)
        sw->leave_flushed = true;
}

bool veil_swim_leave_flushed(const veil_swim *sw)
{
    return sw->leaving && sw->leave_flushed;
}

/* ------------------------------------------------------------------------ */
/* Views                                                                    */
/* ------------------------------------------------------------------------ */

size_t veil_swim_member_count(const veil_swim *sw)
{
    return sw->n_members;
}

bool veil_swim_member_at(const veil_swim *sw, size_t i, struct veil_swim_member *out)
{
    if (i >= sw->n_members)
        return false;
    member_fill(out, sw->members[i]);
    return true;
}

bool veil_swim_member_find(const veil_swim *sw, const uint8_t *id, size_t id_len,
                           struct veil_swim_member *out)
{
    const struct member *m = find_member(sw, id, id_len);
    if (!m)
        return false;
    member_fill(out, m);
    return true;
}

uint32_t veil_swim_incarnation(const veil_swim *sw)
{
    return sw->members[0]->incarnation;
}

uint32_t veil_swim_health_score(const veil_swim *sw)
{
    return sw->awareness;
}

void veil_swim_get_stats(const veil_swim *sw, struct veil_swim_stats *out)
{
    *out = sw->stats;
}
