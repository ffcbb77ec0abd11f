// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_yamux_session.c (p2p core) - the whole yamux session state
 * machine: two real hosts connected over 127.0.0.1 once, then every input is
 * fed to one side as decrypted bytes "from the remote" (streams, windows,
 * pings, go-away, data for the ping/identify/echo handlers). A connection the
 * input kills is re-established for the next input; the host must survive.
 */
#include <stdlib.h>
#include <string.h>

#include "p2p_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static veil_p2p_host *a, *b;
static veil_p2p_multiaddr b_addr;
static veil_p2p_conn *conn;
static bool dialing;

static void on_dial(veil_p2p_host *h, veil_p2p_conn *c, const veil_err *err, void *ud)
{
    (void)h;
    (void)err;
    (void)ud;
    conn = c;
    dialing = false;
}

static void on_disconnected(veil_p2p_host *h, veil_p2p_conn *c, void *ud)
{
    (void)h;
    (void)ud;
    if (c == conn)
        conn = NULL;
}

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
static const struct veil_p2p_stream_callbacks echo_cbs = {.on_data = echo_data, .on_eof = echo_eof};
static void echo_handler(veil_p2p_stream *s, const char *proto, void *ud)
{
    (void)proto;
    veil_p2p_stream_set_callbacks(s, &echo_cbs, ud);
}

static void setup(void)
{
    veil_crypto_init(NULL);
    uv_loop_init(&loop);
    veil_p2p_keypair ka, kb;
    uint8_t seed[32] = {1};
    veil_p2p_keypair_from_seed(&ka, seed, NULL);
    seed[0] = 2;
    veil_p2p_keypair_from_seed(&kb, seed, NULL);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &ka;
    cfg.max_connections_per_peer = 64;
    veil_p2p_host_new(&loop, &cfg, &a, NULL);
    cfg.key = &kb;
    veil_p2p_host_new(&loop, &cfg, &b, NULL);
    veil_p2p_host_set_handler(a, "/echo", echo_handler, NULL, NULL);
    veil_p2p_multiaddr la, bound;
    veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &la, NULL);
    if (veil_p2p_host_listen(b, &la, NULL) != 0)
        abort();
    veil_p2p_host_listen_addrs(b, &bound, 1);
    b_addr = bound;
    struct veil_p2p_events ev = {.on_disconnected = on_disconnected};
    veil_p2p_host_add_listener(a, &ev, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        setup();
        init = true;
    }
    for (int tries = 0; !conn && tries < 3; tries++) {
        dialing = true;
        veil_p2p_host_dial(a, &b_addr, NULL, on_dial, NULL, NULL);
        while (dialing)
            uv_run(&loop, UV_RUN_ONCE);
    }
    if (!conn)
        abort(); /* the host stopped accepting: a real failure */
    veil_p2p_conn_test_inject(conn, data, size);
    for (int i = 0; i < 4; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
