// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_gossip_host.c - gossipsub and Kademlia attached to real libp2p
 * hosts in one process on 127.0.0.1 (owned by the gossipsub and Kademlia
 * modules): three hosts, B and C dial A only; every message published
 * reaches the two others; C finds B through A's Kademlia answer, dials it
 * and B becomes one of C's pubsub peers; detaching and closing frees
 * everything (checked by ASan in the sanitizer build).
 */
#include <veil/gossipsub.h>
#include <veil/kad.h>
#include <veil/p2p.h>

#include "vtest.h"

enum { N = 3 };

struct node {
    veil_p2p_host *host;
    veil_gossipsub *gs;
    veil_kad *kad;
    int received;
    int from_count[N];
};

struct world {
    uv_loop_t loop;
    struct node n[N];
    uv_timer_t tick, deadline;
    int phase;
    bool timed_out;
    bool found_b;
    int published;
    int closed_hosts;
};

static struct world *W;

static int index_of(const uint8_t *id, size_t len)
{
    for (int i = 0; i < N; i++) {
        const veil_p2p_peer_id *p = veil_p2p_host_peer_id(W->n[i].host);
        if (p->len == len && memcmp(p->bytes, id, len) == 0)
            return i;
    }
    return -1;
}

static void on_msg(void *ctx, const struct veil_gs_message *m)
{
    struct node *nd = ctx;
    int from = index_of(m->from, m->from_len);
    CHECK(from >= 0 && &W->n[from] != nd);
    CHECK(m->data_len == 5 && memcmp(m->data, "hello", 5) == 0);
    nd->received++;
    if (from >= 0)
        nd->from_count[from]++;
}

static void on_found(veil_kad *kad, const veil_err *err, const struct veil_kad_peer *closest,
                     size_t n, void *ud)
{
    (void)kad;
    (void)ud;
    CHECK(err == NULL);
    const veil_p2p_peer_id *b = veil_p2p_host_peer_id(W->n[1].host);
    for (size_t i = 0; i < n; i++)
        if (closest[i].id_len == b->len && memcmp(closest[i].id, b->bytes, b->len) == 0)
            W->found_b = true;
}

static void on_dialed(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)h;
    (void)ud;
    CHECK(conn != NULL);
    if (!conn)
        fprintf(stderr, "dial failed: %s\n", err ? err->msg : "?");
}

static void tick(uv_timer_t *t)
{
    (void)t;
    struct world *w = W;
    switch (w->phase) {
    case 0: /* wait until A sees both and B, C see A as topic peers */
        if (veil_gossipsub_topic_peers(w->n[0].gs, "t", NULL, 0) == 2 &&
            veil_gossipsub_mesh_peers(w->n[1].gs, "t", NULL, 0) == 1 &&
            veil_gossipsub_mesh_peers(w->n[2].gs, "t", NULL, 0) == 1) {
            for (int i = 0; i < N; i++)
                CHECK(veil_gossipsub_publish(w->n[i].gs, "t", "hello", 5, NULL) == 0);
            w->phase = 1;
        }
        break;
    case 1:
        if (w->n[0].received == 2 && w->n[1].received == 2 && w->n[2].received == 2) {
            /* C knows only A; A's table has B (identify listed kad) */
            const veil_p2p_peer_id *b = veil_p2p_host_peer_id(w->n[1].host);
            CHECK(veil_kad_find_node(w->n[2].kad, b->bytes, b->len, on_found, NULL, NULL) == 0);
            w->phase = 2;
        }
        break;
    case 2:
        /* lookup done, C dialed B (dial_discovered), B is a pubsub peer */
        if (w->found_b && veil_gossipsub_topic_peers(w->n[2].gs, "t", NULL, 0) == 2) {
            w->phase = 3;
            uv_stop(&w->loop);
        }
        break;
    default:
        break;
    }
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    W->timed_out = true;
    uv_stop(&W->loop);
}

static void host_closed(void *ud)
{
    (void)ud;
    W->closed_hosts++;
}

static void test_three_hosts(void)
{
    struct world *w = calloc(1, sizeof *w);
    W = w;
    CHECK(uv_loop_init(&w->loop) == 0);
    veil_p2p_multiaddr any, a_addr, a_full;
    CHECK(veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &any, NULL) == 0);
    struct veil_gs_config gcfg;
    veil_gs_config_default(&gcfg);
    gcfg.heartbeat_ms = 100; /* quick meshes */
    for (int i = 0; i < N; i++) {
        veil_p2p_keypair kp;
        CHECK(veil_p2p_keypair_generate(&kp, NULL) == 0);
        struct veil_p2p_host_config hc;
        veil_p2p_host_config_init(&hc);
        hc.key = &kp;
        veil_err err;
        CHECK(veil_p2p_host_new(&w->loop, &hc, &w->n[i].host, &err) == 0);
        veil_p2p_keypair_wipe(&kp);
        CHECK(veil_p2p_host_listen(w->n[i].host, &any, &err) == 0);
        CHECK(veil_gossipsub_attach(w->n[i].host, &gcfg, &w->n[i].gs, &err) == 0);
        CHECK(veil_kad_attach(w->n[i].host, NULL, &w->n[i].kad, &err) == 0);
        CHECK(veil_gossipsub_subscribe(w->n[i].gs, "t", on_msg, &w->n[i], &err) == 0);
    }
    CHECK(veil_p2p_host_listen_addrs(w->n[0].host, &a_addr, 1) >= 1);
    CHECK(veil_p2p_multiaddr_with_peer(&a_addr, veil_p2p_host_peer_id(w->n[0].host), &a_full,
                                       NULL) == 0);
    for (int i = 1; i < N; i++)
        CHECK(veil_p2p_host_dial(w->n[i].host, &a_full, NULL, on_dialed, NULL, NULL) == 0);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_init(&w->loop, &w->deadline);
    uv_timer_start(&w->tick, tick, 20, 20);
    uv_timer_start(&w->deadline, on_deadline, 20000, 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    CHECK(!w->timed_out);
    CHECK_EQ_INT(w->phase, 3);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            CHECK_EQ_INT(w->n[i].from_count[j], i == j ? 0 : 1);
    CHECK(veil_kad_table_size(veil_kad_routing_table(w->n[0].kad)) == 2);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(veil_gossipsub_pending_bytes(w->n[i].gs), 0);
    /* teardown: detach the protocols, close the hosts, drain the loop */
    uv_timer_stop(&w->tick);
    uv_timer_stop(&w->deadline);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->deadline, NULL);
    for (int i = 0; i < N; i++) {
        veil_gossipsub_detach(w->n[i].gs);
        veil_kad_detach(w->n[i].kad);
        veil_p2p_host_close(w->n[i].host, host_closed, NULL);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(w->closed_hosts, N);
    CHECK(uv_loop_close(&w->loop) == 0);
    free(w);
}

VTEST_MAIN(VTEST(test_three_hosts))
