// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_crossed_dial.c - two hosts that dial each other at the same time
 * end up with ONE connection, the same on both sides: the one dialled by the
 * smaller peer ID. Several rounds with fresh keys (so either side may be the
 * smaller); after both dials returned, a ping each way still goes through
 * and each host holds exactly one connection to the other, in the
 * direction the rule picks.
 */
#include <veil/p2p.h>

#include "vtest.h"

enum { ROUNDS = 6 };

struct world {
    uv_loop_t loop;
    veil_p2p_host *h[2];
    uv_timer_t tick, deadline;
    int dials_done, pings_done, pings_ok;
    int phase;
    bool timed_out;
    int closed;
};

static void on_dialed(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    struct world *w = ud;
    (void)h;
    if (!conn)
        fprintf(stderr, "  dial returned an error (crossed connection closed): %s\n",
                err ? err->msg : "?");
    w->dials_done++;
}

static void on_ping(veil_p2p_host *h, const veil_err *err, uint64_t rtt_ns, void *ud)
{
    struct world *w = ud;
    (void)h;
    (void)rtt_ns;
    w->pings_done++;
    if (!err)
        w->pings_ok++;
    else
        fprintf(stderr, "  ping failed: %s\n", err->msg);
}

static size_t conns_to(veil_p2p_host *h, veil_p2p_host *other, veil_p2p_conn **first)
{
    veil_p2p_conn *c[8];
    size_t n = veil_p2p_host_conns(h, c, 8), k = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        if (veil_p2p_peer_id_equal(veil_p2p_conn_peer(c[i]), veil_p2p_host_peer_id(other))) {
            if (k++ == 0 && first)
                *first = c[i];
        }
    return k;
}

static void tick(uv_timer_t *t)
{
    struct world *w = t->data;
    if (w->phase == 0 && w->dials_done == 2 && conns_to(w->h[0], w->h[1], NULL) == 1 &&
        conns_to(w->h[1], w->h[0], NULL) == 1) {
        for (int i = 0; i < 2; i++)
            CHECK(veil_p2p_ping(w->h[i], veil_p2p_host_peer_id(w->h[1 - i]), on_ping, w, NULL) ==
                  0);
        w->phase = 1;
    } else if (w->phase == 1 && w->pings_done == 2) {
        w->phase = 2;
        uv_stop(&w->loop);
    }
}

static void on_deadline(uv_timer_t *t)
{
    struct world *w = t->data;
    w->timed_out = true;
    uv_stop(&w->loop);
}

static void host_closed(void *ud)
{
    struct world *w = ud;
    w->closed++;
}

static int id_cmp(const veil_p2p_peer_id *a, const veil_p2p_peer_id *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->bytes, b->bytes, n);
    return r ? r : (int)a->len - (int)b->len;
}

static void one_round(int round)
{
    struct world *w = calloc(1, sizeof *w);
    CHECK(uv_loop_init(&w->loop) == 0);
    veil_p2p_multiaddr any, addr[2], full[2];
    CHECK(veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &any, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        veil_p2p_keypair kp;
        CHECK(veil_p2p_keypair_generate(&kp, NULL) == 0);
        struct veil_p2p_host_config hc;
        veil_p2p_host_config_init(&hc);
        hc.key = &kp;
        CHECK(veil_p2p_host_new(&w->loop, &hc, &w->h[i], NULL) == 0);
        veil_p2p_keypair_wipe(&kp);
        CHECK(veil_p2p_host_listen(w->h[i], &any, NULL) == 0);
        CHECK(veil_p2p_host_listen_addrs(w->h[i], &addr[i], 1) >= 1);
        CHECK(veil_p2p_multiaddr_with_peer(&addr[i], veil_p2p_host_peer_id(w->h[i]), &full[i],
                                           NULL) == 0);
    }
    /* both dials start before the loop runs: they cross */
    CHECK(veil_p2p_host_dial(w->h[0], &full[1], NULL, on_dialed, w, NULL) == 0);
    CHECK(veil_p2p_host_dial(w->h[1], &full[0], NULL, on_dialed, w, NULL) == 0);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_init(&w->loop, &w->deadline);
    w->tick.data = w->deadline.data = w;
    uv_timer_start(&w->tick, tick, 5, 5);
    uv_timer_start(&w->deadline, on_deadline, 10000, 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);

    CHECK(!w->timed_out);
    CHECK_EQ_INT(w->pings_ok, 2);
    const veil_p2p_peer_id *id0 = veil_p2p_host_peer_id(w->h[0]);
    const veil_p2p_peer_id *id1 = veil_p2p_host_peer_id(w->h[1]);
    bool zero_smaller = id_cmp(id0, id1) < 0;
    for (int i = 0; i < 2; i++) {
        veil_p2p_conn *c = NULL;
        CHECK_EQ_INT(conns_to(w->h[i], w->h[1 - i], &c), 1);
        /* kept: dialled by the smaller ID, i.e. outbound on the smaller side */
        bool i_smaller = (i == 0) == zero_smaller;
        CHECK(c && veil_p2p_conn_is_inbound(c) == !i_smaller);
    }
    fprintf(stderr, "  round %d: one connection, dialled by host %d\n", round,
            zero_smaller ? 0 : 1);

    uv_timer_stop(&w->tick);
    uv_timer_stop(&w->deadline);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->deadline, NULL);
    for (int i = 0; i < 2; i++)
        veil_p2p_host_close(w->h[i], host_closed, w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(w->closed, 2);
    CHECK(uv_loop_close(&w->loop) == 0);
    free(w);
}

static void test_crossed_dials_keep_one(void)
{
    for (int r = 0; r < ROUNDS; r++)
        one_round(r);
}

VTEST_MAIN(VTEST(test_crossed_dials_keep_one))
