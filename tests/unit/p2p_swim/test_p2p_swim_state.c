// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_swim_state.c - transitions of the SWIM + Lifeguard state machine:
 * probe/ack, indirect probes through relays (and their nacks), suspicion
 * turning into death after the timeout, refutation with a higher
 * incarnation, confirmations shortening the suspicion timeout, graceful
 * leave, rejoin, piggyback retransmit counts, Lifeguard local health, and
 * malformed input leaving the state untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_sim.h"
#include "swim_wire.h"
#include "vtest.h"

static uint64_t test_rng_state;
static uint64_t test_rng(void *ctx)
{
    (void)ctx;
    return swim_sim_rand(&test_rng_state);
}

#define ID(s) (const uint8_t *)(s), strlen(s)

static veil_swim *new_node(const char *id, uint64_t now)
{
    test_rng_state = 99;
    veil_err err;
    veil_swim *sw = veil_swim_new(NULL, ID(id), ID(id), NULL, 0, test_rng, NULL, now, &err);
    CHECK(sw != NULL);
    return sw;
}

static void drop_packets(veil_swim *sw)
{
    struct veil_swim_packet p;
    while (veil_swim_pop_packet(sw, &p))
        veil_swim_packet_clear(&p);
}

static void drop_events(veil_swim *sw)
{
    struct veil_swim_event ev;
    while (veil_swim_pop_event(sw, &ev)) {
    }
}

/* Feeds `sw` a state sync listing the given members as alive. */
static void feed_members(veil_swim *sw, const char *from, const char *const *ids, size_t n,
                         uint64_t now)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PUSH_PULL);
    veil_buf_put_u8(&b, SWIM_PP_REPLY);
    veil_buf_put_uvarint(&b, n);
    for (size_t i = 0; i < n; i++) {
        struct swim_member_rec rec = {.id = {ID(ids[i])}, .addr = {ID(ids[i])}};
        swim_put_member(&b, &rec);
    }
    veil_buf_put_uvarint(&b, 0);
    CHECK_EQ_INT(veil_swim_handle(sw, ID(from), b.data, b.len, now, NULL), 0);
    veil_buf_free(&b);
}

static void feed_update(veil_swim *sw, const char *sender, const struct swim_update *u,
                        uint64_t now)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_GOSSIP);
    veil_buf_put_uvarint(&b, 1);
    swim_put_update(&b, u);
    CHECK_EQ_INT(veil_swim_handle(sw, ID(sender), b.data, b.len, now, NULL), 0);
    veil_buf_free(&b);
}

static void feed_suspect(veil_swim *sw, const char *about, uint32_t inc, const char *from,
                         uint64_t now)
{
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {ID(about)}, .from = {ID(from)}, .incarnation = inc};
    feed_update(sw, from, &u, now);
}

static void feed_seq(veil_swim *sw, const char *from, enum swim_msg_type type, uint32_t seq,
                     uint64_t now)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, type);
    swim_put_seq(&b, seq);
    veil_buf_put_uvarint(&b, 0);
    CHECK_EQ_INT(veil_swim_handle(sw, ID(from), b.data, b.len, now, NULL), 0);
    veil_buf_free(&b);
}

/* Pops the next packet and decodes it; false if none. */
static bool next_packet(veil_swim *sw, struct veil_swim_packet *p, struct swim_msg *m)
{
    if (!veil_swim_pop_packet(sw, p))
        return false;
    CHECK_EQ_INT(swim_msg_decode(m, p->data, p->len, NULL), 0);
    return true;
}

static bool packet_to(const struct veil_swim_packet *p, const char *id)
{
    return p->to_id_len == strlen(id) && memcmp(p->to_id, id, p->to_id_len) == 0;
}

static bool find_event(veil_swim *sw, enum veil_swim_event_type type, const char *about,
                       struct veil_swim_event *out)
{
    struct veil_swim_event ev;
    bool found = false;
    while (veil_swim_pop_event(sw, &ev)) {
        if (!found && ev.type == type && ev.id_len == strlen(about) &&
            memcmp(ev.id, about, ev.id_len) == 0) {
            found = true;
            if (out)
                *out = ev;
        }
    }
    return found;
}

static enum veil_swim_state state_of(veil_swim *sw, const char *id)
{
    struct veil_swim_member m;
    if (!veil_swim_member_find(sw, ID(id), &m))
        return (enum veil_swim_state) - 1;
    return m.state;
}

/* Events the simulator delivered, per member (the simulator drains them). */
struct recorded {
    size_t n;
    struct {
        size_t node;
        struct veil_swim_event ev;
    } list[512];
};

static void record_event(struct swim_sim *sim, size_t node, const struct veil_swim_event *ev,
                         void *ctx)
{
    (void)sim;
    struct recorded *r = ctx;
    if (r->n < VEIL_ARRAY_LEN(r->list)) {
        r->list[r->n].node = node;
        r->list[r->n].ev = *ev;
        r->n++;
    }
}

/* The first recorded event of `type` about `about` seen by `node`, or NULL. */
static const struct veil_swim_event *recorded_find(const struct recorded *r, size_t node,
                                                   enum veil_swim_event_type type,
                                                   const char *about)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct veil_swim_event *ev = &r->list[i].ev;
        if (r->list[i].node == node && ev->type == type && ev->id_len == strlen(about) &&
            memcmp(ev->id, about, ev->id_len) == 0)
            return ev;
    }
    return NULL;
}

static void test_derived_parameters(void)
{
    struct veil_swim_config cfg;
    veil_swim_config_default(&cfg);
    CHECK_EQ_INT(cfg.probe_interval_ms, 1000);
    CHECK_EQ_INT(cfg.probe_timeout_ms, 500);
    CHECK_EQ_INT(cfg.indirect_checks, 3);
    /* retransmits: 4 x ceil(log10(n + 1)) */
    CHECK_EQ_INT(veil_swim_retransmit_limit(&cfg, 1), 4);
    CHECK_EQ_INT(veil_swim_retransmit_limit(&cfg, 9), 4);
    CHECK_EQ_INT(veil_swim_retransmit_limit(&cfg, 10), 8);
    CHECK_EQ_INT(veil_swim_retransmit_limit(&cfg, 20), 8);
    CHECK_EQ_INT(veil_swim_retransmit_limit(&cfg, 99), 8);
    CHECK_EQ_INT(veil_swim_retransmit_limit(&cfg, 100), 12);
    /* suspicion: 4 x max(1, log10 n) x 1 s, max 6x */
    CHECK_EQ_U64(veil_swim_suspicion_min_ms(&cfg, 5), 4000);
    CHECK_EQ_U64(veil_swim_suspicion_min_ms(&cfg, 10), 4000);
    CHECK_EQ_U64(veil_swim_suspicion_min_ms(&cfg, 20), 5204);
    CHECK_EQ_U64(veil_swim_suspicion_min_ms(&cfg, 100), 8000);
    CHECK_EQ_U64(veil_swim_suspicion_max_ms(&cfg, 100), 48000);
    /* Lifeguard: k = 2 confirmations bring max down to min */
    CHECK_EQ_U64(veil_swim_suspicion_timeout_ms(&cfg, 10, 0), 24000);
    CHECK_EQ_U64(veil_swim_suspicion_timeout_ms(&cfg, 10, 1), 11381);
    CHECK_EQ_U64(veil_swim_suspicion_timeout_ms(&cfg, 10, 2), 4000);
    CHECK_EQ_U64(veil_swim_suspicion_timeout_ms(&cfg, 10, 5), 4000);
    /* fewer than k + 2 members: no confirmations to wait for */
    CHECK_EQ_U64(veil_swim_suspicion_timeout_ms(&cfg, 3, 0), 4000);

    veil_err err;
    cfg.probe_timeout_ms = 2000;
    CHECK(veil_swim_new(&cfg, ID("x"), NULL, 0, NULL, 0, NULL, NULL, 0, &err) == NULL);
    CHECK(veil_swim_new(NULL, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, 0, &err) == NULL);
    uint8_t big[VEIL_SWIM_META_MAX + 1] = {0};
    CHECK(veil_swim_new(NULL, ID("x"), NULL, 0, big, sizeof big, NULL, NULL, 0, &err) == NULL);
}

/* Two members: pings are answered, nobody is suspected, health stays 0. */
static void test_probe_ack(void)
{
    struct swim_sim sim;
    CHECK_EQ_INT(swim_sim_init(&sim, 2, NULL, 5, 0), 0);
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 30000);
    for (size_t i = 0; i < 2; i++) {
        struct veil_swim_stats st;
        veil_swim_get_stats(sim.nodes[i].sw, &st);
        CHECK(st.probes >= 25);
        CHECK_EQ_U64(st.suspicions_started, 0);
        CHECK_EQ_U64(st.indirect_probes, 0);
        CHECK_EQ_INT(veil_swim_health_score(sim.nodes[i].sw), 0);
        CHECK_EQ_INT(veil_swim_live_count(sim.nodes[i].sw), 2);
    }
    /* The joiner learned the seed's metadata through the state sync. */
    struct veil_swim_member m;
    CHECK(veil_swim_member_find(sim.nodes[1].sw, ID("node-000"), &m));
    CHECK_EQ_INT(m.meta_len, 9);
    CHECK_EQ_MEM(m.meta, "role=test", 9);
    swim_sim_free(&sim);
}

/* The direct link between 0 and 1 is cut: their probes go through 2 (ping-req)
 * and succeed, so nobody is suspected. */
static bool cut_0_1(struct swim_sim *sim, size_t from, size_t to, void *ctx)
{
    (void)sim;
    (void)ctx;
    return (from == 0 && to == 1) || (from == 1 && to == 0);
}

static void test_indirect_probe(void)
{
    struct swim_sim sim;
    CHECK_EQ_INT(swim_sim_init(&sim, 3, NULL, 6, 0), 0);
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 5000);
    sim.drop = cut_0_1;
    swim_sim_run_until(&sim, 65000);
    struct veil_swim_stats st0, st1;
    veil_swim_get_stats(sim.nodes[0].sw, &st0);
    veil_swim_get_stats(sim.nodes[1].sw, &st1);
    CHECK(st0.indirect_probes > 0);
    CHECK(st1.indirect_probes > 0);
    CHECK_EQ_U64(st0.suspicions_started, 0);
    CHECK_EQ_U64(st1.suspicions_started, 0);
    for (size_t i = 0; i < 3; i++)
        CHECK_EQ_INT(veil_swim_live_count(sim.nodes[i].sw), 3);
    swim_sim_free(&sim);
}

/* A relay pings the target for the requester, forwards its ack, and sends a
 * nack at 80% of the probe timeout when the target stays silent. */
static void test_relay_ack_and_nack(void)
{
    veil_swim *r = new_node("relay", 0);
    const char *ids[] = {"req", "target"};
    feed_members(r, "req", ids, 2, 0);
    drop_packets(r);
    drop_events(r);

    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING_REQ);
    swim_put_ping_req(&b, 4242, ID("target"), ID("target"));
    veil_buf_put_uvarint(&b, 0);
    CHECK_EQ_INT(veil_swim_handle(r, ID("req"), b.data, b.len, 100, NULL), 0);
    struct veil_swim_packet p;
    struct swim_msg m;
    CHECK(next_packet(r, &p, &m));
    CHECK(packet_to(&p, "target"));
    CHECK_EQ_INT(m.type, SWIM_MSG_PING);
    uint32_t relay_seq = m.seq;
    veil_swim_packet_clear(&p);
    /* the target answers: the ack goes back to the requester with its seq */
    feed_seq(r, "target", SWIM_MSG_ACK, relay_seq, 150);
    CHECK(next_packet(r, &p, &m));
    CHECK(packet_to(&p, "req"));
    CHECK_EQ_INT(m.type, SWIM_MSG_ACK);
    CHECK_EQ_U64(m.seq, 4242);
    veil_swim_packet_clear(&p);

    /* second request, silent target: nack at +400 ms */
    CHECK_EQ_INT(veil_swim_handle(r, ID("req"), b.data, b.len, 1000, NULL), 0);
    drop_packets(r);
    veil_swim_tick(r, 1399);
    bool nacked = false;
    while (next_packet(r, &p, &m)) {
        nacked |= m.type == SWIM_MSG_NACK;
        veil_swim_packet_clear(&p);
    }
    CHECK(!nacked);
    veil_swim_tick(r, 1400);
    while (next_packet(r, &p, &m)) {
        if (m.type == SWIM_MSG_NACK) {
            nacked = true;
            CHECK(packet_to(&p, "req"));
            CHECK_EQ_U64(m.seq, 4242);
        }
        veil_swim_packet_clear(&p);
    }
    CHECK(nacked);
    veil_buf_free(&b);
    veil_swim_free(r);
}

/* In a two-member cluster (k = 0) the suspicion timeout is exactly the
 * minimum, 4 s: the survivor suspects the crashed member when a probe fails
 * and declares it dead 4 s later. */
static void test_suspect_then_dead_after_timeout(void)
{
    struct swim_sim sim;
    static struct recorded rec;
    memset(&rec, 0, sizeof rec);
    CHECK_EQ_INT(swim_sim_init(&sim, 2, NULL, 8, 0), 0);
    sim.on_event = record_event;
    sim.event_ctx = &rec;
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 5000);
    swim_sim_kill(&sim, 1);
    swim_sim_run_until(&sim, 20000);
    const struct veil_swim_event *suspect =
        recorded_find(&rec, 0, VEIL_SWIM_EV_SUSPECT, "node-001");
    const struct veil_swim_event *dead = recorded_find(&rec, 0, VEIL_SWIM_EV_DEAD, "node-001");
    CHECK(suspect != NULL && dead != NULL);
    if (suspect && dead) {
        CHECK(suspect->at_ms > 5000 && suspect->at_ms <= 5000 + 2000);
        CHECK_EQ_U64(dead->at_ms - suspect->at_ms, 4000);
    }
    CHECK_EQ_INT(state_of(sim.nodes[0].sw, "node-001"), VEIL_SWIM_DEAD);
    swim_sim_free(&sim);
}

/* A member told it is suspected refutes with a higher incarnation, which
 * clears the suspicion everywhere. */
static void test_refutation_with_higher_incarnation(void)
{
    struct swim_sim sim;
    static struct recorded rec;
    memset(&rec, 0, sizeof rec);
    CHECK_EQ_INT(swim_sim_init(&sim, 3, NULL, 9, 0), 0);
    sim.on_event = record_event;
    sim.event_ctx = &rec;
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 5000);
    veil_swim *a = sim.nodes[0].sw, *b = sim.nodes[1].sw;
    CHECK_EQ_INT(veil_swim_incarnation(a), 0);
    /* node-001 starts suspecting node-000 (as if a probe had failed) */
    feed_suspect(b, "node-000", 0, "node-002", sim.now);
    CHECK_EQ_INT(state_of(b, "node-000"), VEIL_SWIM_SUSPECT);
    CHECK(find_event(b, VEIL_SWIM_EV_SUSPECT, "node-000", NULL));
    /* a suspicion about itself reaches node-000 */
    feed_suspect(a, "node-000", 0, "node-002", sim.now);
    CHECK_EQ_INT(veil_swim_incarnation(a), 1);
    CHECK_EQ_INT(veil_swim_health_score(a), 1); /* Lifeguard: refuting costs health */
    /* an old suspicion (incarnation 0) no longer matters */
    feed_suspect(a, "node-000", 0, "node-002", sim.now);
    CHECK_EQ_INT(veil_swim_incarnation(a), 1);
    swim_sim_run_until(&sim, sim.now + 2000);
    CHECK_EQ_INT(state_of(b, "node-000"), VEIL_SWIM_ALIVE);
    CHECK(recorded_find(&rec, 1, VEIL_SWIM_EV_ALIVE, "node-000") != NULL);
    struct veil_swim_member m;
    CHECK(veil_swim_member_find(sim.nodes[2].sw, ID("node-000"), &m));
    CHECK_EQ_INT(m.incarnation, 1);
    /* a suspicion with the new incarnation sticks, a stale alive does not clear it */
    feed_suspect(b, "node-000", 1, "node-002", sim.now);
    CHECK_EQ_INT(state_of(b, "node-000"), VEIL_SWIM_SUSPECT);
    struct swim_update stale = {.kind = SWIM_UPD_ALIVE, .id = {ID("node-000")}, .incarnation = 1};
    feed_update(b, "node-002", &stale, sim.now);
    CHECK_EQ_INT(state_of(b, "node-000"), VEIL_SWIM_SUSPECT);
    swim_sim_free(&sim);
}

/* Lifeguard suspicion: with 6 members (k = 2) the timeout starts at the
 * maximum (24 s) and each independent confirmation shortens it. */
static void test_confirmations_shorten_suspicion(void)
{
    veil_swim *x = new_node("x", 0);
    const char *ids[] = {"a", "b", "c", "d", "e"};
    feed_members(x, "a", ids, 5, 0);
    drop_events(x);
    feed_suspect(x, "a", 0, "b", 1000);
    CHECK_EQ_INT(state_of(x, "a"), VEIL_SWIM_SUSPECT);
    CHECK(veil_swim_next_deadline(x) <= 1000 + 24000);
    /* the accuser repeating itself is no confirmation */
    feed_suspect(x, "a", 0, "b", 1500);
    feed_suspect(x, "a", 0, "c", 2000); /* 1st confirmation: 11.381 s */
    feed_suspect(x, "a", 0, "c", 2500); /* duplicate */
    feed_suspect(x, "a", 0, "d", 3000); /* 2nd confirmation: the minimum, 4 s */
    veil_swim_tick(x, 4999);
    CHECK_EQ_INT(state_of(x, "a"), VEIL_SWIM_SUSPECT);
    drop_events(x);
    veil_swim_tick(x, 5000);
    CHECK_EQ_INT(state_of(x, "a"), VEIL_SWIM_DEAD);
    CHECK(find_event(x, VEIL_SWIM_EV_DEAD, "a", NULL));
    veil_swim_free(x);

    /* One confirmation only: dead at start + 11381 ms, not before. */
    x = new_node("x", 0);
    feed_members(x, "a", ids, 5, 0);
    feed_suspect(x, "b", 0, "a", 1000);
    feed_suspect(x, "b", 0, "c", 1000);
    feed_suspect(x, "b", 0, "c", 1200);
    veil_swim_tick(x, 1000 + 11380);
    CHECK_EQ_INT(state_of(x, "b"), VEIL_SWIM_SUSPECT);
    veil_swim_tick(x, 1000 + 11381);
    CHECK_EQ_INT(state_of(x, "b"), VEIL_SWIM_DEAD);
    veil_swim_free(x);
}

static void test_graceful_leave(void)
{
    struct swim_sim sim;
    static struct recorded rec;
    memset(&rec, 0, sizeof rec);
    CHECK_EQ_INT(swim_sim_init(&sim, 4, NULL, 10, 0), 0);
    sim.on_event = record_event;
    sim.event_ctx = &rec;
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 5000);
    veil_swim_leave(sim.nodes[3].sw, sim.now);
    CHECK(!veil_swim_leave_flushed(sim.nodes[3].sw));
    swim_sim_run_until(&sim, sim.now + 3000);
    CHECK(veil_swim_leave_flushed(sim.nodes[3].sw));
    swim_sim_kill(&sim, 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(state_of(sim.nodes[i].sw, "node-003"), VEIL_SWIM_LEFT);
        CHECK(recorded_find(&rec, i, VEIL_SWIM_EV_LEAVE, "node-003") != NULL);
        CHECK(recorded_find(&rec, i, VEIL_SWIM_EV_DEAD, "node-003") == NULL);
    }
    /* nobody probes a member that left */
    swim_sim_run_until(&sim, sim.now + 20000);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(state_of(sim.nodes[i].sw, "node-003"), VEIL_SWIM_LEFT);
        CHECK_EQ_INT(veil_swim_live_count(sim.nodes[i].sw), 3);
        struct veil_swim_stats st;
        veil_swim_get_stats(sim.nodes[i].sw, &st);
        CHECK_EQ_U64(st.suspicions_started, 0);
    }
    swim_sim_free(&sim);
}

/* A dead member that comes back with a higher incarnation is alive again
 * (join event); an alive message with an old incarnation does not revive it. */
static void test_rejoin_higher_incarnation(void)
{
    veil_swim *x = new_node("x", 0);
    const char *ids[] = {"a", "b"};
    feed_members(x, "a", ids, 2, 0);
    struct swim_update dead = {
        .kind = SWIM_UPD_DEAD, .id = {ID("b")}, .from = {ID("a")}, .incarnation = 3};
    feed_update(x, "a", &dead, 100);
    CHECK_EQ_INT(state_of(x, "b"), VEIL_SWIM_DEAD);
    drop_events(x);
    struct swim_update alive = {
        .kind = SWIM_UPD_ALIVE, .id = {ID("b")}, .addr = {ID("b2")}, .incarnation = 3};
    feed_update(x, "b", &alive, 200);
    CHECK_EQ_INT(state_of(x, "b"), VEIL_SWIM_DEAD);
    alive.incarnation = 4;
    feed_update(x, "b", &alive, 300);
    CHECK_EQ_INT(state_of(x, "b"), VEIL_SWIM_ALIVE);
    struct veil_swim_event ev;
    CHECK(find_event(x, VEIL_SWIM_EV_JOIN, "b", &ev));
    CHECK_EQ_INT(ev.incarnation, 4);
    CHECK_EQ_INT(ev.addr_len, 2);
    CHECK_EQ_MEM(ev.addr, "b2", 2);
    veil_swim_free(x);
}

static bool carries_alive_about(struct swim_msg *m, const char *id, uint32_t inc)
{
    struct swim_update u;
    bool found = false;
    while (swim_msg_next_update(m, &u))
        if (u.kind == SWIM_UPD_ALIVE && u.id.len == strlen(id) &&
            memcmp(u.id.p, id, u.id.len) == 0 && u.incarnation == inc)
            found = true;
    return found;
}

/* An update rides on exactly retransmit_mult x ceil(log10(n + 1)) packets. */
static void test_piggyback_retransmit_count(void)
{
    const size_t sizes[] = {5, 12};
    for (size_t s = 0; s < 2; s++) {
        veil_swim *x = new_node("x", 0);
        char names[16][24];
        const char *ids[16];
        for (size_t i = 0; i < sizes[s] - 1; i++) {
            snprintf(names[i], sizeof names[i], "m%zu", i);
            ids[i] = names[i];
        }
        feed_members(x, "m0", ids, sizes[s] - 1, 0);
        CHECK_EQ_INT(veil_swim_member_count(x), sizes[s]);
        drop_packets(x);
        CHECK_EQ_INT(veil_swim_set_meta(x, (const uint8_t *)"v2", 2, 0, NULL), 0);
        uint32_t inc = veil_swim_incarnation(x);
        size_t carried = 0;
        for (uint64_t t = 0; t <= 3000; t += 10) {
            veil_swim_tick(x, t);
            struct veil_swim_packet p;
            struct swim_msg m;
            while (next_packet(x, &p, &m)) {
                carried += carries_alive_about(&m, "x", inc);
                veil_swim_packet_clear(&p);
            }
        }
        struct veil_swim_config cfg;
        veil_swim_config_default(&cfg);
        CHECK_EQ_INT(carried, veil_swim_retransmit_limit(&cfg, sizes[s]));
        CHECK_EQ_INT(carried, s == 0 ? 4 : 8);
        veil_swim_free(x);
    }
}

/* Lifeguard LHM: failed probes whose relays send no nack raise the score
 * (to at most 7), stretching the probe interval up to 8x; an answered
 * probe lowers it again. */
static void test_local_health_multiplier(void)
{
    veil_swim *x = new_node("x", 0);
    const char *ids[] = {"a", "b", "c", "d", "e"};
    feed_members(x, "a", ids, 5, 0);
    drop_packets(x);
    uint64_t ping_times[8];
    size_t n_pings = 0;
    uint32_t last_seq = 0;
    const char *last_target = NULL;
    for (uint64_t t = 0; t <= 22000 && n_pings < 8; t++) {
        if (veil_swim_next_deadline(x) > t)
            continue;
        veil_swim_tick(x, t);
        struct veil_swim_packet p;
        struct swim_msg m;
        while (next_packet(x, &p, &m)) {
            if (m.type == SWIM_MSG_PING && n_pings < 8) {
                ping_times[n_pings++] = t;
                last_seq = m.seq;
                for (size_t i = 0; i < 5; i++)
                    if (packet_to(&p, ids[i]))
                        last_target = ids[i];
            }
            veil_swim_packet_clear(&p);
        }
    }
    CHECK(n_pings >= 5);
    CHECK_EQ_INT(veil_swim_health_score(x), 7);
    /* probes 1..: score 0 -> 3 -> 6 -> 7: intervals 1, 4, 7, 8, 8 s */
    CHECK_EQ_U64(ping_times[1] - ping_times[0], 1000);
    CHECK_EQ_U64(ping_times[2] - ping_times[1], 4000);
    CHECK_EQ_U64(ping_times[3] - ping_times[2], 7000);
    CHECK_EQ_U64(ping_times[4] - ping_times[3], 8000);
    /* the latest probe is answered: the score drops by one */
    CHECK(last_target != NULL);
    if (last_target)
        feed_seq(x, last_target, SWIM_MSG_ACK, last_seq, ping_times[n_pings - 1] + 10);
    CHECK_EQ_INT(veil_swim_health_score(x), 6);
    veil_swim_free(x);

    /* With relays that nack, failed probes cost nothing. */
    x = new_node("x", 0);
    feed_members(x, "a", ids, 5, 0);
    drop_packets(x);
    size_t n_req = 0;
    for (uint64_t t = 0; t <= 3000; t++) {
        veil_swim_tick(x, t);
        struct veil_swim_packet p;
        struct swim_msg m;
        while (next_packet(x, &p, &m)) {
            if (m.type == SWIM_MSG_PING_REQ) {
                n_req++;
                char relay[8] = {0};
                memcpy(relay, p.to_id, p.to_id_len < 7 ? p.to_id_len : 7);
                feed_seq(x, relay, SWIM_MSG_NACK, m.seq, t);
            }
            veil_swim_packet_clear(&p);
        }
    }
    CHECK(n_req >= 6);
    CHECK_EQ_INT(veil_swim_health_score(x), 0);
    veil_swim_free(x);
}

/* A ping-req for an id that is not a member is ignored (no dialing of
 * addresses a peer made up). */
static void test_relay_refuses_unknown_target(void)
{
    veil_swim *r = new_node("relay", 0);
    const char *ids[] = {"req"};
    feed_members(r, "req", ids, 1, 0);
    drop_packets(r);
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING_REQ);
    swim_put_ping_req(&b, 1, ID("stranger"), ID("/ip4/10.9.9.9"));
    veil_buf_put_uvarint(&b, 0);
    CHECK_EQ_INT(veil_swim_handle(r, ID("req"), b.data, b.len, 10, NULL), 0);
    struct veil_swim_packet p;
    CHECK(!veil_swim_pop_packet(r, &p));
    veil_buf_free(&b);
    veil_swim_free(r);
}

/* New metadata travels with a new incarnation and raises update events. */
static void test_metadata_update(void)
{
    struct swim_sim sim;
    static struct recorded rec;
    memset(&rec, 0, sizeof rec);
    CHECK_EQ_INT(swim_sim_init(&sim, 5, NULL, 12, 0), 0);
    sim.on_event = record_event;
    sim.event_ctx = &rec;
    swim_sim_join_all(&sim);
    swim_sim_run_until(&sim, 5000);
    CHECK_EQ_INT(veil_swim_set_meta(sim.nodes[2].sw, (const uint8_t *)"role=gpu", 8, sim.now, NULL),
                 0);
    uint8_t big[VEIL_SWIM_META_MAX + 1] = {0};
    CHECK_EQ_INT(veil_swim_set_meta(sim.nodes[2].sw, big, sizeof big, sim.now, NULL), -1);
    swim_sim_run_until(&sim, sim.now + 2000);
    for (size_t i = 0; i < 5; i++) {
        if (i == 2)
            continue;
        const struct veil_swim_event *ev = recorded_find(&rec, i, VEIL_SWIM_EV_UPDATE, "node-002");
        CHECK(ev != NULL);
        if (ev) {
            CHECK_EQ_INT(ev->meta_len, 8);
            CHECK_EQ_MEM(ev->meta, "role=gpu", 8);
            CHECK_EQ_INT(ev->incarnation, 1);
        }
    }
    swim_sim_free(&sim);
}

/* Full state syncs: sent to a random member every push_pull_interval
 * (30 s, first one jittered by up to a quarter), answered with our own
 * state, and merged (members only a sync told us about join). */
static void test_push_pull_sync(void)
{
    veil_swim *x = new_node("x", 0);
    const char *ids[] = {"a", "b"};
    feed_members(x, "a", ids, 2, 0);
    drop_packets(x);
    uint64_t first_sync = 0;
    size_t n_members_sent = 0;
    for (uint64_t t = 0; t <= 40000 && !first_sync; t += 10) {
        veil_swim_tick(x, t);
        struct veil_swim_packet p;
        struct swim_msg m;
        while (next_packet(x, &p, &m)) {
            if (m.type == SWIM_MSG_PING) { /* keep a and b alive */
                char to[8] = {0};
                memcpy(to, p.to_id, p.to_id_len < 7 ? p.to_id_len : 7);
                feed_seq(x, to, SWIM_MSG_ACK, m.seq, t);
            }
            if (m.type == SWIM_MSG_PUSH_PULL && !first_sync) {
                first_sync = t;
                n_members_sent = m.n_members;
                CHECK_EQ_INT(m.pp_flags, 0);
            }
            veil_swim_packet_clear(&p);
        }
    }
    CHECK(first_sync >= 30000 && first_sync <= 37500);
    CHECK_EQ_INT(n_members_sent, 3);
    veil_swim_free(x);

    /* A sync request is answered with our state and merged. */
    x = new_node("x", 0);
    feed_members(x, "a", ids, 2, 0);
    drop_packets(x);
    drop_events(x);
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PUSH_PULL);
    veil_buf_put_u8(&b, 0);
    veil_buf_put_uvarint(&b, 2);
    struct swim_member_rec rec_a = {.id = {ID("a")}, .addr = {ID("a")}};
    struct swim_member_rec rec_c = {.id = {ID("c")}, .addr = {ID("c")}, .incarnation = 5};
    swim_put_member(&b, &rec_a);
    swim_put_member(&b, &rec_c);
    veil_buf_put_uvarint(&b, 0);
    CHECK_EQ_INT(veil_swim_handle(x, ID("a"), b.data, b.len, 100, NULL), 0);
    struct veil_swim_packet p;
    struct swim_msg m;
    CHECK(next_packet(x, &p, &m));
    CHECK(packet_to(&p, "a"));
    CHECK_EQ_INT(m.type, SWIM_MSG_PUSH_PULL);
    CHECK_EQ_INT(m.pp_flags, SWIM_PP_REPLY);
    CHECK_EQ_INT(m.n_members, 3); /* x, a, b: the state before the merge */
    veil_swim_packet_clear(&p);
    struct veil_swim_event ev;
    CHECK(find_event(x, VEIL_SWIM_EV_JOIN, "c", &ev));
    CHECK_EQ_INT(ev.incarnation, 5);
    CHECK_EQ_INT(veil_swim_member_count(x), 4);
    /* A reply is not answered again. */
    drop_packets(x);
    b.data[2] = SWIM_PP_REPLY;
    CHECK_EQ_INT(veil_swim_handle(x, ID("a"), b.data, b.len, 200, NULL), 0);
    bool replied = false;
    while (next_packet(x, &p, &m)) {
        replied |= m.type == SWIM_MSG_PUSH_PULL;
        veil_swim_packet_clear(&p);
    }
    CHECK(!replied);
    veil_buf_free(&b);
    veil_swim_free(x);
}

/* Lifeguard buddy system: a probe of a suspect carries the suspicion. */
static void test_buddy_system(void)
{
    veil_swim *x = new_node("x", 0);
    const char *ids[] = {"a", "b", "c"};
    feed_members(x, "a", ids, 3, 0);
    feed_suspect(x, "a", 0, "b", 10);
    drop_packets(x);
    bool carried = false, pinged = false;
    for (uint64_t t = 10; t <= 4000 && !pinged; t += 10) {
        veil_swim_tick(x, t);
        struct veil_swim_packet p;
        struct swim_msg m;
        while (next_packet(x, &p, &m)) {
            if (m.type == SWIM_MSG_PING && packet_to(&p, "a")) {
                pinged = true;
                struct swim_update u;
                CHECK(swim_msg_next_update(&m, &u));
                carried = u.kind == SWIM_UPD_SUSPECT && u.id.len == 1 && u.id.p[0] == 'a' &&
                          u.from.len == 1 && u.from.p[0] == 'x';
            }
            veil_swim_packet_clear(&p);
        }
    }
    CHECK(pinged);
    CHECK(carried);
    veil_swim_free(x);
}

/* Malformed input changes nothing and is counted. */
static void test_malformed_input_ignored(void)
{
    veil_swim *x = new_node("x", 0);
    const uint8_t junk[] = {1, SWIM_MSG_GOSSIP, 1, SWIM_UPD_ALIVE, 1, 'z', 0, 0, 5, 0xff};
    veil_err err;
    CHECK_EQ_INT(veil_swim_handle(x, ID("y"), junk, sizeof junk, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "swim:");
    CHECK_EQ_INT(veil_swim_member_count(x), 1);
    CHECK_EQ_INT(veil_swim_handle(x, NULL, 0, junk, sizeof junk, 0, &err), -1);
    struct veil_swim_stats st;
    veil_swim_get_stats(x, &st);
    CHECK_EQ_U64(st.malformed, 1);
    struct veil_swim_packet p;
    CHECK(!veil_swim_pop_packet(x, &p));
    veil_swim_free(x);
}

VTEST_MAIN(VTEST(test_derived_parameters), VTEST(test_probe_ack), VTEST(test_indirect_probe),
           VTEST(test_relay_ack_and_nack), VTEST(test_suspect_then_dead_after_timeout),
           VTEST(test_refutation_with_higher_incarnation),
           VTEST(test_confirmations_shorten_suspicion), VTEST(test_graceful_leave),
           VTEST(test_rejoin_higher_incarnation), VTEST(test_piggyback_retransmit_count),
           VTEST(test_local_health_multiplier), VTEST(test_relay_refuses_unknown_target),
           VTEST(test_metadata_update), VTEST(test_push_pull_sync), VTEST(test_buddy_system),
           VTEST(test_malformed_input_ignored))
