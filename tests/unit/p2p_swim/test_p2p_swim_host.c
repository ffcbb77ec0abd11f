// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_swim_host.c - /veil/swim/1.0.0 over real libp2p connections:
 * four hosts on one libuv loop over 127.0.0.1 (fast SWIM timings) join
 * through a seed, detect a crashed member, see a graceful leave as a leave
 * (not a death), and survive a peer that sends garbage on the protocol.
 * Every handle is closed at the end (uv_loop_close succeeds).
 */
#include <string.h>

#include <veil/p2p.h>
#include <veil/swim.h>

#include "vtest.h"

#define N_HOSTS 4

struct member_fx {
    veil_p2p_host *host;
    veil_swim_node *swim;
    veil_p2p_peer_id id;
    int dead_seen[N_HOSTS], leave_seen[N_HOSTS], join_seen[N_HOSTS];
    bool closed;
};

struct fx {
    uv_loop_t loop;
    struct member_fx m[N_HOSTS];
    veil_p2p_host *rogue;
    bool left;
    bool rogue_open_done;
    veil_p2p_stream *rogue_stream;
};

static struct fx F;

static int index_of(const uint8_t *id, size_t len)
{
    for (int i = 0; i < N_HOSTS; i++)
        if (F.m[i].id.len == len && memcmp(F.m[i].id.bytes, id, len) == 0)
            return i;
    return -1;
}

static void on_event(veil_swim_node *node, const struct veil_swim_event *ev, void *user_data)
{
    (void)node;
    struct member_fx *m = user_data;
    int who = index_of(ev->id, ev->id_len);
    if (who < 0)
        return;
    if (ev->type == VEIL_SWIM_EV_DEAD)
        m->dead_seen[who]++;
    if (ev->type == VEIL_SWIM_EV_LEAVE)
        m->leave_seen[who]++;
    if (ev->type == VEIL_SWIM_EV_JOIN)
        m->join_seen[who]++;
}

typedef bool (*cond_fn)(void);
static bool run_until(cond_fn cond, int max_ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)max_ms * 1000000u;
    while (!cond() && uv_hrtime() < end)
        uv_run(&F.loop, UV_RUN_ONCE);
    return cond();
}

static bool all_converged(void)
{
    for (int i = 0; i < N_HOSTS; i++)
        if (veil_swim_live_count(veil_swim_node_state(F.m[i].swim)) != N_HOSTS)
            return false;
    return true;
}

static bool crash_detected(void)
{
    for (int i = 0; i < 3; i++)
        if (!F.m[i].dead_seen[3])
            return false;
    return true;
}

static bool leave_seen(void)
{
    return F.left && F.m[0].leave_seen[2] && F.m[1].leave_seen[2];
}

static bool rogue_opened(void)
{
    return F.rogue_open_done;
}

static void host_closed(void *user_data)
{
    ((struct member_fx *)user_data)->closed = true;
}

static void on_left(void *user_data)
{
    (void)user_data;
    F.left = true;
}

static veil_p2p_host *make_host(uint8_t key_byte, veil_p2p_peer_id *id_out)
{
    veil_p2p_keypair kp;
    uint8_t seed[32];
    memset(seed, key_byte, sizeof seed);
    CHECK_EQ_INT(veil_p2p_keypair_from_seed(&kp, seed, NULL), 0);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &kp;
    veil_p2p_host *h = NULL;
    CHECK_EQ_INT(veil_p2p_host_new(&F.loop, &cfg, &h, NULL), 0);
    veil_p2p_multiaddr ma;
    CHECK_EQ_INT(veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &ma, NULL), 0);
    CHECK_EQ_INT(veil_p2p_host_listen(h, &ma, NULL), 0);
    if (id_out)
        *id_out = *veil_p2p_host_peer_id(h);
    veil_p2p_keypair_wipe(&kp);
    return h;
}

static void rogue_open(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    (void)protocol;
    (void)err;
    (void)ud;
    F.rogue_stream = s;
    F.rogue_open_done = true;
}

static void rogue_dial(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)h;
    (void)err;
    (void)ud;
    static const char *const protos[] = {VEIL_SWIM_PROTOCOL_ID};
    if (!conn || veil_p2p_conn_new_stream(conn, protos, 1, rogue_open, NULL, NULL) != 0)
        F.rogue_open_done = true;
}

static void test_swim_over_libp2p(void)
{
    memset(&F, 0, sizeof F);
    CHECK_EQ_INT(uv_loop_init(&F.loop), 0);
    struct veil_swim_config sc;
    veil_swim_config_default(&sc);
    /* About 3x faster than the LAN profile so the test takes seconds. */
    sc.probe_interval_ms = 300;
    sc.probe_timeout_ms = 150;
    sc.gossip_interval_ms = 60;
    sc.push_pull_interval_ms = 6000;
    for (int i = 0; i < N_HOSTS; i++) {
        F.m[i].host = make_host((uint8_t)(0x10 + i), &F.m[i].id);
        struct veil_swim_attach_config ac = {.swim = &sc,
                                             .meta = (const uint8_t *)"zone=a",
                                             .meta_len = 6,
                                             .on_event = on_event,
                                             .user_data = &F.m[i]};
        CHECK_EQ_INT(veil_swim_attach(F.m[i].host, &ac, &F.m[i].swim, NULL), 0);
    }
    veil_p2p_multiaddr bound, full;
    char seed[VEIL_P2P_MULTIADDR_TEXT_MAX];
    CHECK_EQ_INT(veil_p2p_host_listen_addrs(F.m[0].host, &bound, 1), 1);
    CHECK_EQ_INT(veil_p2p_multiaddr_with_peer(&bound, &F.m[0].id, &full, NULL), 0);
    CHECK_EQ_INT(veil_p2p_multiaddr_to_text(&full, seed, sizeof seed, NULL), 0);
    veil_err err;
    CHECK_EQ_INT(veil_swim_node_join(F.m[0].swim, seed, &err), -1); /* itself */
    CHECK_EQ_INT(veil_swim_node_join(F.m[1].swim, "/ip4/127.0.0.1/tcp/notaport", &err), -1);
    for (int i = 1; i < N_HOSTS; i++)
        CHECK_EQ_INT(veil_swim_node_join(F.m[i].swim, seed, &err), 0);
    CHECK(run_until(all_converged, 15000));
    struct veil_swim_member mem;
    CHECK(veil_swim_member_find(veil_swim_node_state(F.m[3].swim), F.m[1].id.bytes, F.m[1].id.len,
                                &mem));
    CHECK_EQ_INT(mem.meta_len, 6);
    CHECK_EQ_INT(mem.state, VEIL_SWIM_ALIVE);

    /* A peer speaking garbage on the protocol loses its stream, nothing more. */
    F.rogue = make_host(0x77, NULL);
    CHECK_EQ_INT(veil_p2p_host_dial(F.rogue, &full, NULL, rogue_dial, NULL, NULL), 0);
    CHECK(run_until(rogue_opened, 5000));
    CHECK(F.rogue_stream != NULL);
    if (F.rogue_stream) {
        static const uint8_t junk[] = {1, 6, 1, 9, 9, 9};
        CHECK_EQ_INT(veil_p2p_stream_write_lp(F.rogue_stream, junk, sizeof junk, NULL, NULL, NULL),
                     0);
    }

    /* Crash: member 3 vanishes without a word. */
    veil_swim_detach(F.m[3].swim);
    F.m[3].swim = NULL;
    veil_p2p_host_close(F.m[3].host, host_closed, &F.m[3]);
    CHECK(run_until(crash_detected, 20000));
    struct veil_swim_stats st;
    veil_swim_get_stats(veil_swim_node_state(F.m[0].swim), &st);
    CHECK_EQ_U64(st.malformed, 1);

    /* Graceful leave: member 2 announces it; the others record a leave. */
    veil_swim_node_leave(F.m[2].swim, 3000, on_left, NULL);
    CHECK(run_until(leave_seen, 10000));
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(F.m[i].leave_seen[2], 1);
        CHECK_EQ_INT(F.m[i].dead_seen[2], 0);
        CHECK_EQ_INT(F.m[i].dead_seen[3], 1);
        CHECK_EQ_INT(F.m[i].dead_seen[0] + F.m[i].dead_seen[1], 0);
    }

    struct member_fx rogue_fx = {0};
    for (int i = 0; i < N_HOSTS; i++) {
        if (F.m[i].swim)
            veil_swim_detach(F.m[i].swim);
        if (i != 3)
            veil_p2p_host_close(F.m[i].host, host_closed, &F.m[i]);
    }
    veil_p2p_host_close(F.rogue, host_closed, &rogue_fx);
    for (int k = 0; k < 2000; k++) {
        bool all = rogue_fx.closed;
        for (int i = 0; i < N_HOSTS; i++)
            all = all && F.m[i].closed;
        if (all)
            break;
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    uv_run(&F.loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&F.loop), 0);
}

VTEST_MAIN(VTEST(test_swim_over_libp2p))
