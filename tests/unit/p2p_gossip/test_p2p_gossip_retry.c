// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_gossip_retry.c - failure injection for gossipsub's outbound
 * stream: host A runs gossipsub; host B offers /meshsub/1.1.0 through a test
 * handler that resets the first RESETS pubsub streams A opens and then reads
 * A's RPCs. B never opens a pubsub stream of its own, so A can only reach B
 * by retrying: the test passes when B receives A's subscription RPC over a
 * retried stream, and A's retry count is at least RESETS. (Before the
 * bounded retry with backoff, A dropped B after three immediate reopens.)
 */
#include <veil/gossipsub.h>
#include <veil/p2p.h>

#include "vtest.h"

enum { RESETS = 4 };

struct world {
    uv_loop_t loop;
    veil_p2p_host *a, *b;
    veil_gossipsub *gs;
    uv_timer_t tick, deadline;
    int streams_seen;
    int rpcs_received;
    bool saw_topic;
    bool timed_out;
    int closed_hosts;
    veil_p2p_lp_reader rd;
};

static void b_on_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    struct world *w = ud;
    (void)s;
    CHECK_EQ_INT(veil_p2p_lp_reader_feed(&w->rd, data, len, NULL), 0);
    const uint8_t *msg;
    size_t n;
    while (veil_p2p_lp_reader_next(&w->rd, &msg, &n, NULL) == 1) {
        w->rpcs_received++;
        /* the first RPC carries A's subscription to topic "retry-topic" */
        for (size_t i = 0; i + 11 <= n; i++)
            if (memcmp(msg + i, "retry-topic", 11) == 0)
                w->saw_topic = true;
    }
}

static void b_on_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    (void)err;
    (void)ud;
}

static void b_on_stream(veil_p2p_stream *s, const char *protocol, void *ud)
{
    struct world *w = ud;
    (void)protocol;
    if (++w->streams_seen <= RESETS) {
        veil_p2p_stream_reset(s); /* the injected failure */
        return;
    }
    static const struct veil_p2p_stream_callbacks cbs = {.on_data = b_on_data,
                                                         .on_close = b_on_close};
    veil_p2p_lp_reader_free(&w->rd);
    veil_p2p_lp_reader_init(&w->rd, 1 << 20);
    veil_p2p_stream_set_callbacks(s, &cbs, w);
}

static void on_msg(void *ctx, const struct veil_gs_message *m)
{
    (void)ctx;
    (void)m;
}

static void tick(uv_timer_t *t)
{
    struct world *w = t->data;
    if (w->saw_topic)
        uv_stop(&w->loop);
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
    w->closed_hosts++;
}

static void on_dialed(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)h;
    (void)ud;
    CHECK(conn != NULL);
    if (!conn)
        fprintf(stderr, "dial failed: %s\n", err ? err->msg : "?");
}

static veil_p2p_host *new_host(struct world *w)
{
    veil_p2p_keypair kp;
    CHECK(veil_p2p_keypair_generate(&kp, NULL) == 0);
    struct veil_p2p_host_config hc;
    veil_p2p_host_config_init(&hc);
    hc.key = &kp;
    veil_p2p_host *h = NULL;
    veil_err err;
    CHECK(veil_p2p_host_new(&w->loop, &hc, &h, &err) == 0);
    veil_p2p_keypair_wipe(&kp);
    return h;
}

static void test_retry_after_reset_streams(void)
{
    struct world *w = calloc(1, sizeof *w);
    CHECK(uv_loop_init(&w->loop) == 0);
    veil_p2p_lp_reader_init(&w->rd, 1 << 20);
    w->a = new_host(w);
    w->b = new_host(w);
    veil_err err;
    veil_p2p_multiaddr any, b_addr, b_full;
    CHECK(veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &any, NULL) == 0);
    CHECK(veil_p2p_host_listen(w->b, &any, &err) == 0);
    CHECK(veil_p2p_host_set_handler(w->b, VEIL_GS_PROTO_MESHSUB_11, b_on_stream, w, &err) == 0);

    struct veil_gs_config gcfg;
    veil_gs_config_default(&gcfg);
    gcfg.heartbeat_ms = 100;
    CHECK(veil_gossipsub_attach(w->a, &gcfg, &w->gs, &err) == 0);
    CHECK(veil_gossipsub_subscribe(w->gs, "retry-topic", on_msg, NULL, &err) == 0);

    CHECK(veil_p2p_host_listen_addrs(w->b, &b_addr, 1) >= 1);
    CHECK(veil_p2p_multiaddr_with_peer(&b_addr, veil_p2p_host_peer_id(w->b), &b_full, NULL) ==
          0);
    CHECK(veil_p2p_host_dial(w->a, &b_full, NULL, on_dialed, NULL, &err) == 0);

    uv_timer_init(&w->loop, &w->tick);
    uv_timer_init(&w->loop, &w->deadline);
    w->tick.data = w->deadline.data = w;
    uv_timer_start(&w->tick, tick, 20, 20);
    uv_timer_start(&w->deadline, on_deadline, 20000, 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);

    CHECK(!w->timed_out);
    CHECK(w->saw_topic);
    CHECK(w->streams_seen == RESETS + 1);
    CHECK(veil_gossipsub_stream_retries(w->gs) >= RESETS);
    fprintf(stderr, "  streams=%d retries=%llu rpcs=%d\n", w->streams_seen,
            (unsigned long long)veil_gossipsub_stream_retries(w->gs), w->rpcs_received);

    uv_timer_stop(&w->tick);
    uv_timer_stop(&w->deadline);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->deadline, NULL);
    veil_gossipsub_detach(w->gs);
    veil_p2p_host_close(w->a, host_closed, w);
    veil_p2p_host_close(w->b, host_closed, w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(w->closed_hosts, 2);
    CHECK(uv_loop_close(&w->loop) == 0);
    veil_p2p_lp_reader_free(&w->rd);
    free(w);
}

VTEST_MAIN(VTEST(test_retry_after_reset_streams))
