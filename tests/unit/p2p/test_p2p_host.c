// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_host.c (p2p core) - two hosts on one libuv loop over 127.0.0.1:
 * dial + identify (protocol lists), ping, perf both ways, a custom protocol
 * with half-close, refused protocols, window exhaustion with a paused
 * reader, a dial expecting the wrong peer ID, a peer lying about its key,
 * and the connection gater.
 */
#include <string.h>

#include "p2p_internal.h"
#include "vtest.h"

struct fixture {
    uv_loop_t loop;
    veil_p2p_keypair ka, kb;
    veil_p2p_host *a, *b;
    veil_p2p_multiaddr b_addr; /* with /p2p/ */
    veil_p2p_conn *conn;       /* a's connection to b */
    veil_err dial_err;
    bool dial_done;
    int identified_a;
    bool b_saw_echo_proto;
    bool refuse_all;
    veil_p2p_stream *held; /* b's side of a /test/hold stream */
    size_t held_bytes;
    bool held_closed;
    int disconnects_a;
};

static void run_until(struct fixture *f, bool *flag, int max_ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)max_ms * 1000000u;
    while (!*flag && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_identified(veil_p2p_host *h, veil_p2p_conn *c, const struct veil_p2p_peer_info *info,
                          void *ud)
{
    (void)h;
    (void)c;
    struct fixture *f = ud;
    f->identified_a++;
    for (size_t i = 0; i < info->n_protocols; i++)
        if (strcmp(info->protocols[i], "/test/echo/1.0.0") == 0)
            f->b_saw_echo_proto = true;
}

static void on_disconnected_a(veil_p2p_host *h, veil_p2p_conn *c, void *ud)
{
    (void)h;
    (void)c;
    ((struct fixture *)ud)->disconnects_a++;
}

static bool gater(veil_p2p_host *h, const veil_p2p_peer_id *peer, const veil_p2p_multiaddr *remote,
                  bool inbound, void *ud)
{
    (void)h;
    (void)peer;
    (void)remote;
    (void)inbound;
    struct fixture *f = ud;
    return !f->refuse_all;
}

/* /test/echo/1.0.0: echoes everything, closes after the remote does. */
static void echo_data(veil_p2p_stream *s, const uint8_t *d, size_t n, void *ud)
{
    (void)ud;
    veil_p2p_stream_write(s, d, n, NULL, NULL, NULL);
}
static void echo_eof(veil_p2p_stream *s, void *ud)
{
    (void)ud;
    veil_p2p_stream_close_write(s, NULL);
}
static void echo_close(veil_p2p_stream *s, const veil_err *e, void *ud)
{
    (void)s;
    (void)e;
    (void)ud;
}
static const struct veil_p2p_stream_callbacks echo_cbs = {echo_data, echo_eof, NULL, echo_close};
static void echo_handler(veil_p2p_stream *s, const char *proto, void *ud)
{
    (void)proto;
    veil_p2p_stream_set_callbacks(s, &echo_cbs, ud);
}

/* /test/hold/1.0.0: starts paused; counts what it receives. */
static void hold_data(veil_p2p_stream *s, const uint8_t *d, size_t n, void *ud)
{
    (void)s;
    (void)d;
    ((struct fixture *)ud)->held_bytes += n;
}
static void hold_eof(veil_p2p_stream *s, void *ud)
{
    (void)ud;
    veil_p2p_stream_close_write(s, NULL);
}
static void hold_close(veil_p2p_stream *s, const veil_err *e, void *ud)
{
    (void)s;
    (void)e;
    ((struct fixture *)ud)->held_closed = true;
}
static const struct veil_p2p_stream_callbacks hold_cbs = {hold_data, hold_eof, NULL, hold_close};
static void hold_handler(veil_p2p_stream *s, const char *proto, void *ud)
{
    (void)proto;
    struct fixture *f = ud;
    f->held = s;
    veil_p2p_stream_set_callbacks(s, &hold_cbs, ud);
    veil_p2p_stream_pause_read(s, true);
}

static void dial_cb(veil_p2p_host *h, veil_p2p_conn *c, const veil_err *err, void *ud)
{
    (void)h;
    struct fixture *f = ud;
    f->conn = c;
    if (err)
        f->dial_err = *err;
    f->dial_done = true;
}

static void setup_cfg(struct fixture *f, bool b_lies, uint64_t keepalive_ms, uint64_t negotiate_ms);
static void setup(struct fixture *f, bool b_lies)
{
    setup_cfg(f, b_lies, 0, 0);
}

static void setup_cfg(struct fixture *f, bool b_lies, uint64_t keepalive_ms, uint64_t negotiate_ms)
{
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    veil_p2p_keypair_generate(&f->ka, NULL);
    veil_p2p_keypair_generate(&f->kb, NULL);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &f->ka;
    if (keepalive_ms)
        cfg.keepalive_ms = keepalive_ms;
    if (negotiate_ms)
        cfg.negotiate_timeout_ms = negotiate_ms;
    CHECK_EQ_INT(veil_p2p_host_new(&f->loop, &cfg, &f->a, NULL), 0);
    cfg.key = &f->kb;
    cfg.gater = gater;
    cfg.gater_data = f;
    CHECK_EQ_INT(veil_p2p_host_new(&f->loop, &cfg, &f->b, NULL), 0);
    veil_p2p_host_test_lie_about_key(f->b, b_lies);
    veil_p2p_multiaddr la;
    veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &la, NULL);
    CHECK_EQ_INT(veil_p2p_host_listen(f->b, &la, NULL), 0);
    veil_p2p_multiaddr bound;
    CHECK_EQ_INT(veil_p2p_host_listen_addrs(f->b, &bound, 1), 1);
    veil_p2p_multiaddr_with_peer(&bound, veil_p2p_host_peer_id(f->b), &f->b_addr, NULL);
    CHECK_EQ_INT(veil_p2p_host_set_handler(f->b, "/test/echo/1.0.0", echo_handler, f, NULL), 0);
    CHECK_EQ_INT(veil_p2p_host_set_handler(f->b, "/test/hold/1.0.0", hold_handler, f, NULL), 0);
    struct veil_p2p_events ev = {.on_identified = on_identified,
                                 .on_disconnected = on_disconnected_a};
    CHECK(veil_p2p_host_add_listener(f->a, &ev, f, NULL) > 0);
}

static void closed(void *ud)
{
    (*(int *)ud)++;
}

static void teardown(struct fixture *f)
{
    int n = 0;
    veil_p2p_host_close(f->a, closed, &n);
    veil_p2p_host_close(f->b, closed, &n);
    for (int i = 0; i < 1000 && n < 2; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    CHECK_EQ_INT(n, 2);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
}

static void connect_ab(struct fixture *f)
{
    CHECK_EQ_INT(veil_p2p_host_dial(f->a, &f->b_addr, NULL, dial_cb, f, NULL), 0);
    run_until(f, &f->dial_done, 5000);
    CHECK(f->conn != NULL);
}

struct ping_res {
    bool done;
    int ok;
    uint64_t rtt;
};
static void ping_cb(veil_p2p_host *h, const veil_err *err, uint64_t rtt, void *ud)
{
    (void)h;
    struct ping_res *r = ud;
    r->done = true;
    r->ok = err == NULL;
    r->rtt = rtt;
    if (err)
        fprintf(stderr, "ping: %s\n", err->msg);
}

static void test_connect_identify_ping(void)
{
    struct fixture f;
    setup(&f, false);
    connect_ab(&f);
    CHECK(veil_p2p_peer_id_equal(veil_p2p_conn_peer(f.conn), veil_p2p_host_peer_id(f.b)));
    bool identified = false;
    for (int i = 0; i < 500 && !identified; i++) {
        uv_run(&f.loop, UV_RUN_ONCE);
        identified = f.identified_a > 0;
    }
    CHECK(f.b_saw_echo_proto);
    CHECK(veil_p2p_conn_supports(f.conn, VEIL_P2P_PROTO_PING));
    CHECK(veil_p2p_conn_supports(f.conn, VEIL_P2P_PROTO_IDENTIFY_PUSH));
    const struct veil_p2p_peer_info *info = veil_p2p_conn_peer_info(f.conn);
    CHECK(info && info->n_listen_addrs == 1);
    for (int k = 0; k < 3; k++) {
        struct ping_res r = {0};
        CHECK_EQ_INT(veil_p2p_ping(f.a, veil_p2p_host_peer_id(f.b), ping_cb, &r, NULL), 0);
        run_until(&f, &r.done, 5000);
        CHECK(r.ok);
        CHECK(r.rtt > 0);
    }
    /* a second dial reuses the connection */
    veil_p2p_conn *first = f.conn;
    f.dial_done = false;
    CHECK_EQ_INT(veil_p2p_host_dial(f.a, &f.b_addr, NULL, dial_cb, &f, NULL), 0);
    run_until(&f, &f.dial_done, 5000);
    CHECK(f.conn == first);
    /* identify push: b adds a protocol, a learns it */
    f.b_saw_echo_proto = false;
    veil_p2p_host_remove_handler(f.b, "/test/echo/1.0.0");
    veil_p2p_host_set_handler(f.b, "/test/echo/1.0.0", echo_handler, &f, NULL);
    int before = f.identified_a;
    for (int i = 0; i < 500 && f.identified_a < before + 2; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK(f.identified_a >= before + 1);
    CHECK(f.b_saw_echo_proto);
    teardown(&f);
}

struct echo_client {
    veil_buf got;
    bool eof, closed, open_done, open_failed;
    veil_err err;
    veil_p2p_stream *s;
    size_t to_send;
};
static void ec_data(veil_p2p_stream *s, const uint8_t *d, size_t n, void *ud)
{
    (void)s;
    struct echo_client *ec = ud;
    veil_buf_put(&ec->got, d, n);
}
static void ec_eof(veil_p2p_stream *s, void *ud)
{
    (void)s;
    ((struct echo_client *)ud)->eof = true;
}
static void ec_close(veil_p2p_stream *s, const veil_err *e, void *ud)
{
    (void)s;
    struct echo_client *ec = ud;
    ec->closed = true;
    if (e)
        ec->err = *e;
}
static const struct veil_p2p_stream_callbacks ec_cbs = {ec_data, ec_eof, NULL, ec_close};
static void ec_opened(veil_p2p_stream *s, const char *proto, const veil_err *err, void *ud)
{
    struct echo_client *ec = ud;
    ec->open_done = true;
    ec->s = s;
    if (!s) {
        ec->open_failed = true;
        ec->err = *err;
        return;
    }
    CHECK(strncmp(proto, "/test/", 6) == 0);
    veil_p2p_stream_set_callbacks(s, &ec_cbs, ec);
}

static void test_streams(void)
{
    struct fixture f;
    setup(&f, false);
    connect_ab(&f);
    /* first proposal refused, second accepted */
    static const char *const protos[] = {"/nope/1.0.0", "/test/echo/1.0.0"};
    struct echo_client ec;
    memset(&ec, 0, sizeof ec);
    veil_buf_init(&ec.got);
    CHECK_EQ_INT(veil_p2p_conn_new_stream(f.conn, protos, 2, ec_opened, &ec, NULL), 0);
    run_until(&f, &ec.open_done, 5000);
    CHECK(ec.s != NULL);
    /* 3 MiB through 256 KiB windows, then half-close */
    size_t total = 3u << 20;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    CHECK_EQ_INT(veil_p2p_stream_write(ec.s, data, total, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(veil_p2p_stream_close_write(ec.s, NULL), 0);
    run_until(&f, &ec.closed, 10000);
    CHECK(ec.eof);
    CHECK(ec.got.len == total && memcmp(ec.got.data, data, total) == 0);
    CHECK_EQ_INT(ec.err.code, 0);
    veil_buf_free(&ec.got);

    /* refused protocol */
    static const char *const none[] = {"/nope/1.0.0"};
    memset(&ec, 0, sizeof ec);
    CHECK_EQ_INT(veil_p2p_conn_new_stream(f.conn, none, 1, ec_opened, &ec, NULL), 0);
    run_until(&f, &ec.open_done, 5000);
    CHECK(ec.open_failed);
    CHECK_EQ_INT(ec.err.code, VEIL_E_UNSUPPORTED);

    /* window exhaustion: a paused reader stops the sender at the window */
    static const char *const hold[] = {"/test/hold/1.0.0"};
    memset(&ec, 0, sizeof ec);
    CHECK_EQ_INT(veil_p2p_conn_new_stream(f.conn, hold, 1, ec_opened, &ec, NULL), 0);
    run_until(&f, &ec.open_done, 5000);
    CHECK(ec.s != NULL && f.held != NULL);
    CHECK_EQ_INT(veil_p2p_stream_write(ec.s, data, total, NULL, NULL, NULL), 0);
    for (int i = 0; i < 300; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(f.held_bytes, 0);
    /* the window (256 KiB minus the negotiation bytes) went out, no more */
    CHECK(veil_p2p_stream_write_queued(ec.s) >= total - VEIL_YAMUX_INITIAL_WINDOW);
    CHECK(veil_p2p_stream_write_queued(ec.s) <= total - VEIL_YAMUX_INITIAL_WINDOW + 64);
    veil_p2p_stream_pause_read(f.held, false);
    CHECK_EQ_INT(veil_p2p_stream_close_write(ec.s, NULL), 0);
    run_until(&f, &ec.closed, 10000);
    CHECK_EQ_U64(f.held_bytes, total);
    CHECK(f.held_closed);
    free(data);
    teardown(&f);
}

struct perf_res {
    bool done;
    bool ok;
    struct veil_p2p_perf_result r;
};
static void perf_cb(veil_p2p_host *h, const veil_err *err, const struct veil_p2p_perf_result *r,
                    void *ud)
{
    (void)h;
    struct perf_res *p = ud;
    p->done = true;
    p->ok = err == NULL;
    if (r)
        p->r = *r;
    if (err)
        fprintf(stderr, "perf: %s\n", err->msg);
}

static void test_perf(void)
{
    struct fixture f;
    setup(&f, false);
    connect_ab(&f);
    struct perf_res p = {0};
    CHECK_EQ_INT(
        veil_p2p_perf(f.a, veil_p2p_host_peer_id(f.b), 5u << 20, 7u << 20, perf_cb, &p, NULL), 0);
    run_until(&f, &p.done, 20000);
    CHECK(p.ok);
    CHECK_EQ_U64(p.r.upload_bytes, 5u << 20);
    CHECK_EQ_U64(p.r.download_bytes, 7u << 20);
    teardown(&f);
}

static void test_wrong_peer_and_liar(void)
{
    struct fixture f;
    /* dialing b while expecting someone else */
    setup(&f, false);
    veil_p2p_keypair other;
    veil_p2p_keypair_generate(&other, NULL);
    veil_p2p_peer_id other_id;
    veil_p2p_peer_id_from_ed25519(other.public_key, &other_id);
    CHECK_EQ_INT(veil_p2p_host_dial(f.a, &f.b_addr, &other_id, dial_cb, &f, NULL), 0);
    run_until(&f, &f.dial_done, 5000);
    CHECK(f.conn == NULL);
    CHECK_EQ_INT(f.dial_err.code, VEIL_E_MISMATCH);
    teardown(&f);

    /* b signs a different static key than the one it uses */
    setup(&f, true);
    CHECK_EQ_INT(veil_p2p_host_dial(f.a, &f.b_addr, NULL, dial_cb, &f, NULL), 0);
    run_until(&f, &f.dial_done, 5000);
    CHECK(f.conn == NULL);
    CHECK_EQ_INT(f.dial_err.code, VEIL_E_CRYPTO);
    CHECK_CONTAINS(f.dial_err.msg, "static key");
    teardown(&f);

    /* b's gater refuses a */
    setup(&f, false);
    f.refuse_all = true;
    CHECK_EQ_INT(veil_p2p_host_dial(f.a, &f.b_addr, NULL, dial_cb, &f, NULL), 0);
    run_until(&f, &f.dial_done, 5000);
    CHECK(f.conn == NULL);
    teardown(&f);
}

static void frame(veil_buf *b, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    veil_yamux_put_header(b, type, flags, id, len);
}

/* Injects frames "from b" into a's connection; returns true if a dropped it. */
static bool inject_kills(struct fixture *f, const veil_buf *b)
{
    int before = f->disconnects_a;
    veil_p2p_conn_test_inject(f->conn, b->data, b->len);
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    return f->disconnects_a > before;
}

static void reconnect(struct fixture *f)
{
    f->dial_done = false;
    f->conn = NULL;
    for (int i = 0; i < 50; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    connect_ab(f);
}

static void test_malformed_yamux(void)
{
    struct fixture f;
    setup(&f, false);
    connect_ab(&f);
    for (int i = 0; i < 100; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    veil_buf b;
    veil_buf_init(&b);
    uint8_t *zeros = calloc(1, 300000);

    /* a ping is answered, the connection stays */
    frame(&b, VEIL_YAMUX_PING, VEIL_YAMUX_SYN, 0, 77);
    CHECK(!inject_kills(&f, &b));
    /* bad version */
    veil_buf_reset(&b);
    veil_buf_put(&b, "\x01\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", 12);
    CHECK(inject_kills(&f, &b));
    reconnect(&f);
    /* a data frame larger than any window */
    veil_buf_reset(&b);
    frame(&b, VEIL_YAMUX_DATA, 0, 1, VEIL_YAMUX_INITIAL_WINDOW + 1);
    CHECK(inject_kills(&f, &b));
    reconnect(&f);
    /* a stream opened with the wrong parity (a dialed: remote ids are even) */
    veil_buf_reset(&b);
    frame(&b, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, 5, 0);
    CHECK(inject_kills(&f, &b));
    reconnect(&f);
    /* window exhaustion: 2 x 200 KiB on a fresh stream overruns 256 KiB */
    veil_buf_reset(&b);
    /* (the stream negotiates a paused protocol so no window comes back) */
    CHECK_EQ_INT(veil_p2p_host_set_handler(f.a, "/test/hold/1.0.0", hold_handler, &f, NULL), 0);
    veil_buf neg;
    veil_buf_init(&neg);
    veil_mss_put_line(&neg, VEIL_MSS_HEADER);
    veil_mss_put_line(&neg, "/test/hold/1.0.0");
    frame(&b, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, 1000, 0);
    frame(&b, VEIL_YAMUX_DATA, 0, 1000, 200000);
    veil_buf_put(&b, neg.data, neg.len);
    veil_buf_put(&b, zeros, 200000 - neg.len);
    veil_buf_free(&neg);
    frame(&b, VEIL_YAMUX_DATA, 0, 1000, 200000);
    veil_buf_put(&b, zeros, 200000);
    CHECK(inject_kills(&f, &b));
    reconnect(&f);
    /* send-window overflow */
    veil_buf_reset(&b);
    frame(&b, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, 1002, 0);
    frame(&b, VEIL_YAMUX_WINDOW_UPDATE, 0, 1002, 0xffffffffu);
    CHECK(inject_kills(&f, &b));
    reconnect(&f);
    /* stream backlog: 300 SYNs; those over the limit are reset, the
     * connection survives */
    veil_buf_reset(&b);
    for (uint32_t i = 0; i < 300; i++)
        frame(&b, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, 2000 + 2 * i, 0);
    CHECK(!inject_kills(&f, &b));
    CHECK(veil_p2p_conn_stream_count(f.conn) <= 256);
    /* go-away from the remote closes */
    veil_buf_reset(&b);
    frame(&b, VEIL_YAMUX_GO_AWAY, 0, 0, VEIL_YAMUX_GOAWAY_NORMAL);
    CHECK(inject_kills(&f, &b));
    /* the host still serves after all that */
    reconnect(&f);
    struct ping_res r = {0};
    CHECK_EQ_INT(veil_p2p_ping(f.a, veil_p2p_host_peer_id(f.b), ping_cb, &r, NULL), 0);
    run_until(&f, &r.done, 5000);
    CHECK(r.ok);
    free(zeros);
    veil_buf_free(&b);
    teardown(&f);
}

/* A remote that opens a stream and never negotiates is reset. */
static void test_negotiate_timeout(void)
{
    struct fixture f;
    setup_cfg(&f, false, 0, 50);
    connect_ab(&f);
    for (int i = 0; i < 100; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    size_t before = veil_p2p_conn_stream_count(f.conn);
    veil_buf b;
    veil_buf_init(&b);
    veil_yamux_put_header(&b, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, 4000, 0);
    veil_p2p_conn_test_inject(f.conn, b.data, b.len);
    CHECK_EQ_INT(veil_p2p_conn_stream_count(f.conn), before + 1);
    uint64_t end = uv_hrtime() + 3000000000u;
    while (veil_p2p_conn_stream_count(f.conn) > before && uv_hrtime() < end)
        uv_run(&f.loop, UV_RUN_ONCE);
    CHECK_EQ_INT(veil_p2p_conn_stream_count(f.conn), before);
    CHECK_EQ_INT(f.disconnects_a, 0);
    veil_buf_free(&b);
    teardown(&f);
}

static void test_keepalive(void)
{
    struct fixture f;
    setup_cfg(&f, false, 20, 0);
    connect_ab(&f);
    uint64_t end = uv_hrtime() + 300000000u;
    while (uv_hrtime() < end)
        uv_run(&f.loop, UV_RUN_ONCE);
    CHECK_EQ_INT(f.disconnects_a, 0);
    CHECK(veil_p2p_host_find_conn(f.a, veil_p2p_host_peer_id(f.b)) == f.conn);
    teardown(&f);
}

/* A TCP server that accepts and never speaks. */
static void silent_accept(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    uv_tcp_init(server->loop, c);
    if (uv_accept(server, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, (uv_close_cb)free);
        return;
    }
    server->data = c;
}

static void test_handshake_timeout(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t server;
    uv_tcp_init(&loop, &server);
    server.data = NULL;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_bind(&server, (struct sockaddr *)&sa, 0);
    uv_listen((uv_stream_t *)&server, 8, silent_accept);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    veil_p2p_multiaddr ma;
    veil_p2p_multiaddr_from_sockaddr((struct sockaddr *)&ss, &ma, NULL);
    veil_p2p_keypair k;
    veil_p2p_keypair_generate(&k, NULL);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &k;
    cfg.handshake_timeout_ms = 200;
    veil_p2p_host *h;
    CHECK_EQ_INT(veil_p2p_host_new(&loop, &cfg, &h, NULL), 0);
    struct fixture f;
    memset(&f, 0, sizeof f);
    CHECK_EQ_INT(veil_p2p_host_dial(h, &ma, NULL, dial_cb, &f, NULL), 0);
    uint64_t t0 = uv_hrtime();
    while (!f.dial_done && uv_hrtime() - t0 < 5000000000u)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK(f.dial_done && f.conn == NULL);
    CHECK_EQ_INT(f.dial_err.code, VEIL_E_TIMEOUT);
    int n = 1;
    veil_p2p_host_close(h, closed, &n);
    if (server.data)
        uv_close((uv_handle_t *)server.data, (uv_close_cb)free);
    uv_close((uv_handle_t *)&server, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* Many concurrent echo streams of different sizes; every third one is reset
 * half way by the client. All others must echo exactly. */
struct many {
    struct fixture *f;
    int done, ok, reset;
    uint8_t *data;
};
struct many_stream {
    struct many *m;
    veil_p2p_stream *s;
    size_t size, got;
    bool mismatch, resetting;
    int idx;
};
static void ms_data(veil_p2p_stream *s, const uint8_t *d, size_t n, void *ud)
{
    struct many_stream *ms = ud;
    if (ms->got + n > ms->size || memcmp(d, ms->m->data + ms->got, n) != 0)
        ms->mismatch = true;
    ms->got += n;
    if (ms->resetting && ms->got >= ms->size / 2) {
        ms->m->reset++;
        ms->m->done++;
        veil_p2p_stream_reset(s);
        free(ms);
    }
}
static void ms_eof(veil_p2p_stream *s, void *ud)
{
    (void)s;
    (void)ud;
}
static void ms_close(veil_p2p_stream *s, const veil_err *e, void *ud)
{
    (void)s;
    struct many_stream *ms = ud;
    if (!e && !ms->mismatch && ms->got == ms->size)
        ms->m->ok++;
    ms->m->done++;
    free(ms);
}
static const struct veil_p2p_stream_callbacks ms_cbs = {ms_data, ms_eof, NULL, ms_close};
static void ms_opened(veil_p2p_stream *s, const char *proto, const veil_err *err, void *ud)
{
    (void)proto;
    (void)err;
    struct many_stream *ms = ud;
    if (!s) {
        ms->m->done++;
        free(ms);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &ms_cbs, ms);
    veil_p2p_stream_write(s, ms->m->data, ms->size, NULL, NULL, NULL);
    veil_p2p_stream_close_write(s, NULL);
}

static void test_many_streams(void)
{
    struct fixture f;
    setup(&f, false);
    connect_ab(&f);
    struct many m = {.f = &f};
    size_t max = 300000;
    m.data = malloc(max);
    for (size_t i = 0; i < max; i++)
        m.data[i] = (uint8_t)(i * 31 + 7);
    static const char *const protos[] = {"/test/echo/1.0.0"};
    int n = 200, resets = 0;
    for (int i = 0; i < n; i++) {
        struct many_stream *ms = calloc(1, sizeof *ms);
        ms->m = &m;
        ms->idx = i;
        ms->size = (size_t)(i * 7919) % max + 1;
        ms->resetting = i % 3 == 0 && ms->size > 16;
        resets += ms->resetting;
        CHECK_EQ_INT(veil_p2p_conn_new_stream(f.conn, protos, 1, ms_opened, ms, NULL), 0);
    }
    uint64_t end = uv_hrtime() + 20000000000u;
    while (m.done < n && uv_hrtime() < end)
        uv_run(&f.loop, UV_RUN_ONCE);
    CHECK_EQ_INT(m.done, n);
    CHECK_EQ_INT(m.reset, resets);
    CHECK_EQ_INT(m.ok, n - resets);
    /* the connection is still healthy and the streams are gone */
    for (int i = 0; i < 100; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK(veil_p2p_conn_stream_count(f.conn) <= 2);
    struct ping_res r = {0};
    CHECK_EQ_INT(veil_p2p_ping(f.a, veil_p2p_host_peer_id(f.b), ping_cb, &r, NULL), 0);
    run_until(&f, &r.done, 5000);
    CHECK(r.ok);
    free(m.data);
    teardown(&f);
}

/* /dns4/localhost resolves through uv_getaddrinfo. */
static void test_dns_dial(void)
{
    struct fixture f;
    setup(&f, false);
    char host[64];
    uint16_t port;
    int family;
    CHECK_EQ_INT(veil_p2p_multiaddr_tcp_target(&f.b_addr, host, sizeof host, &port, &family, NULL),
                 0);
    char text[256];
    snprintf(text, sizeof text, "/dns4/localhost/tcp/%u/p2p/%s", port,
             veil_p2p_peer_id_str(veil_p2p_host_peer_id(f.b)).s);
    veil_p2p_multiaddr ma;
    CHECK_EQ_INT(veil_p2p_multiaddr_parse(text, &ma, NULL), 0);
    CHECK_EQ_INT(veil_p2p_host_dial(f.a, &ma, NULL, dial_cb, &f, NULL), 0);
    run_until(&f, &f.dial_done, 5000);
    CHECK(f.conn != NULL);
    teardown(&f);
}

/* b allows one connection per peer and two in all. */
static void test_limits(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    veil_p2p_keypair kb, ka, kc;
    veil_p2p_keypair_generate(&kb, NULL);
    veil_p2p_keypair_generate(&ka, NULL);
    veil_p2p_keypair_generate(&kc, NULL);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &kb;
    cfg.max_connections_per_peer = 1;
    cfg.max_connections = 2;
    veil_p2p_host *b, *a1, *a2, *c1, *d1;
    CHECK_EQ_INT(veil_p2p_host_new(&loop, &cfg, &b, NULL), 0);
    veil_p2p_host_config_init(&cfg);
    cfg.key = &ka;
    veil_p2p_host_new(&loop, &cfg, &a1, NULL);
    veil_p2p_host_new(&loop, &cfg, &a2, NULL); /* same identity as a1 */
    cfg.key = &kc;
    veil_p2p_host_new(&loop, &cfg, &c1, NULL);
    veil_p2p_keypair kd;
    veil_p2p_keypair_generate(&kd, NULL);
    cfg.key = &kd;
    veil_p2p_host_new(&loop, &cfg, &d1, NULL);
    veil_p2p_multiaddr la, bound;
    veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &la, NULL);
    CHECK_EQ_INT(veil_p2p_host_listen(b, &la, NULL), 0);
    veil_p2p_host_listen_addrs(b, &bound, 1);
    veil_p2p_host *clients[4] = {a1, a2, c1, d1};
    struct fixture r[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(veil_p2p_host_dial(clients[i], &bound, NULL, dial_cb, &r[i], NULL), 0);
        uint64_t t0 = uv_hrtime();
        while (!r[i].dial_done && uv_hrtime() - t0 < 5000000000u)
            uv_run(&loop, UV_RUN_ONCE);
        /* let b finish its side (the refusal closes the socket) */
        for (int k = 0; k < 20; k++)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK(r[0].conn != NULL); /* a1: first of its peer */
    CHECK(r[2].conn != NULL); /* c1: second connection in all */
    veil_p2p_conn *bc[8];
    size_t n = veil_p2p_host_conns(b, bc, 8);
    CHECK_EQ_INT(n, 2);
    /* a2 (same peer as a1) and d1 (over the total) were refused by b: their
     * connections were closed right after the handshake */
    for (int k = 0; k < 100; k++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(veil_p2p_host_conns(a2, bc, 8) == 0);
    CHECK(veil_p2p_host_conns(d1, bc, 8) == 0);
    int open = 5;
    veil_p2p_host *all[5] = {b, a1, a2, c1, d1};
    for (int i = 0; i < 5; i++)
        veil_p2p_host_close(all[i], closed, &open);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(open, 10);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

VTEST_MAIN(VTEST(test_connect_identify_ping), VTEST(test_streams), VTEST(test_perf),
           VTEST(test_wrong_peer_and_liar), VTEST(test_malformed_yamux), VTEST(test_keepalive),
           VTEST(test_negotiate_timeout), VTEST(test_handshake_timeout), VTEST(test_limits),
           VTEST(test_dns_dial), VTEST(test_many_streams))
