// SPDX-License-Identifier: Apache-2.0
/*
 * bench_net_anchor_udp.c - one-way Anchor throughput between two processes
 * over 127.0.0.1 through the UDP adapter: the parent seals 1400-byte
 * datagrams in batches of 64 and writes each batch with one sendmmsg; the
 * child reads with recvmmsg, opens them and counts what arrives (UDP: what
 * the receiver cannot keep up with is lost, so the goodput is measured at
 * the receiver). Prints one JSON line: goodput, packets/s, the loss, both
 * sides' CPU seconds and the Gbit/s each side would move per CPU second
 * (the figure that holds on a shared, loaded machine).
 * Usage: bench_net_anchor_udp [SECONDS, default 2].
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include <veil/anchor.h>

#define PAYLOAD 1400

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int accept_own_realm(void *ctx, const uint8_t *cred, size_t len, const uint8_t id[32],
                            uint64_t now_ms, struct veil_anchor_cred_info *out, veil_err *err)
{
    (void)ctx;
    (void)now_ms;
    if (len != 32 || memcmp(cred, id, 32) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "credential");
    snprintf(out->realm, sizeof out->realm, "bench");
    out->n_taints = 0;
    return 0;
}

struct ident {
    uint8_t pk[32], sk[64];
};

static veil_anchor_udp *start(uv_loop_t *loop, struct ident *id, uint8_t seed_byte,
                              veil_anchor_udp_event_fn fn, void *ud)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_ed25519_seed_keypair(id->pk, id->sk, seed);
    struct veil_anchor_local local = {.cred = id->pk, .cred_len = 32,
                                      .verify = accept_own_realm};
    memcpy(local.identity_pk, id->pk, 32);
    memcpy(local.identity_sk, id->sk, 64);
    veil_err err = {0};
    veil_anchor *a = veil_anchor_new(NULL, &local, 0, &err);
    struct veil_anchor_udp_config cfg = {.bind_ip = "127.0.0.1", .on_event = fn, .user_data = ud};
    veil_anchor_udp *u = a ? veil_anchor_udp_start(loop, a, &cfg, &err) : NULL;
    if (!u) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    return u;
}

/* ---- receiver (child) ---------------------------------------------------- */

struct rx {
    uv_loop_t *loop;
    uint64_t packets, bytes;
    double first, last;
};

static void rx_event(veil_anchor_udp *u, const struct veil_anchor_event *ev, void *ud)
{
    (void)u;
    struct rx *r = ud;
    if (ev->type != VEIL_ANCHOR_EV_DATA)
        return;
    if (ev->len == 4 && memcmp(ev->data, "quit", 4) == 0) {
        uv_stop(r->loop);
        return;
    }
    if (ev->len != PAYLOAD)
        return;
    double t = clock_s(CLOCK_MONOTONIC);
    if (r->packets == 0)
        r->first = t;
    r->last = t;
    r->packets++;
    r->bytes += ev->len;
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

struct rx_result {
    uint64_t packets, bytes, recv_calls, datagrams_in;
    double seconds, cpu;
};

static int run_receiver(int port_fd, int result_fd)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rx r = {.loop = &loop};
    struct ident id;
    veil_anchor_udp *u = start(&loop, &id, 0xb0, rx_event, &r);
    uint16_t port = veil_anchor_udp_port(u);
    if (write(port_fd, &port, sizeof port) != (ssize_t)sizeof port)
        return 1;
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, stop_loop, 60000, 0);
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    uv_run(&loop, UV_RUN_DEFAULT);
    struct veil_anchor_udp_stats st;
    veil_anchor_udp_get_stats(u, &st);
    struct rx_result res = {r.packets, r.bytes, st.recv_calls, st.datagrams_in, r.last - r.first,
                            clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0};
    if (write(result_fd, &res, sizeof res) != (ssize_t)sizeof res)
        return 1;
    veil_anchor_udp_close(u);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}

/* ---- sender (parent) ----------------------------------------------------- */

static void tx_event(veil_anchor_udp *u, const struct veil_anchor_event *ev, void *ud)
{
    (void)u;
    if (ev->type == VEIL_ANCHOR_EV_UP)
        *(bool *)ud = true;
}

static void send_quit(veil_anchor_udp *u, uv_loop_t *loop, const uint8_t *peer)
{
    for (int i = 0; i < 20; i++) {
        if (veil_anchor_udp_send(u, peer, (const uint8_t *)"quit", 4, NULL) != 0)
            break;
        usleep(20000);
        uv_run(loop, UV_RUN_NOWAIT);
    }
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    int port_pipe[2], result_pipe[2];
    if (sodium_init() < 0 || pipe(port_pipe) != 0 || pipe(result_pipe) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0)
        _exit(run_receiver(port_pipe[1], result_pipe[1]));
    uint16_t port = 0;
    if (read(port_pipe[0], &port, sizeof port) != (ssize_t)sizeof port)
        return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    bool up = false;
    struct ident me, peer;
    uint8_t seed[32];
    memset(seed, 0xb0, sizeof seed);
    crypto_sign_ed25519_seed_keypair(peer.pk, peer.sk, seed);
    veil_anchor_udp *u = start(&loop, &me, 0xa0, tx_event, &up);
    if (veil_anchor_udp_add_peer(u, peer.pk, "127.0.0.1", port, NULL) != 0 ||
        veil_anchor_udp_send(u, peer.pk, (const uint8_t *)"hi", 2, NULL) != 0)
        return 1;
    for (int i = 0; i < 500 && !up; i++) {
        usleep(10000);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    static uint8_t payload[PAYLOAD];
    randombytes_buf(payload, sizeof payload);
    veil_anchor *a = veil_anchor_udp_anchor(u);
    uint64_t sent = 0;
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t now = (uint64_t)(clock_s(CLOCK_REALTIME) * 1000);
    while (up && clock_s(CLOCK_MONOTONIC) - t0 < secs) {
        for (int i = 0; i < VEIL_ANCHOR_UDP_BATCH; i++)
            if (veil_anchor_send(a, peer.pk, payload, sizeof payload, now, NULL) == 0)
                sent++;
        veil_anchor_udp_flush(u);
        if ((sent & 1023) == 0)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    double tx_cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    send_quit(u, &loop, peer.pk);
    struct rx_result r = {0};
    if (read(result_pipe[0], &r, sizeof r) != (ssize_t)sizeof r)
        kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct veil_anchor_udp_stats st;
    veil_anchor_udp_get_stats(u, &st);
    double gbit = r.seconds > 0 ? (double)r.bytes * 8 / r.seconds / 1e9 : 0;
    printf("{\"bench\": \"net_anchor_udp\", \"payload_bytes\": %d, \"sent\": %llu, "
           "\"received\": %llu, \"loss_pct\": %.1f, \"goodput_gbit_s\": %.2f, "
           "\"received_per_s\": %.0f, \"sender_cpu_s\": %.2f, \"receiver_cpu_s\": %.2f, "
           "\"seconds\": %.2f, \"datagrams_per_sendmmsg\": %.1f, \"gso_messages\": %llu, "
           "\"datagrams_per_recvmmsg\": %.1f, "
           "\"sender_gbit_per_cpu_s\": %.2f, \"receiver_gbit_per_cpu_s\": %.2f}\n",
           PAYLOAD, (unsigned long long)sent, (unsigned long long)r.packets,
           sent ? 100.0 * (double)(sent - r.packets) / (double)sent : 0.0, gbit,
           r.seconds > 0 ? (double)r.packets / r.seconds : 0.0, tx_cpu, r.cpu, r.seconds,
           st.send_calls ? (double)st.datagrams_out / (double)st.send_calls : 0.0,
           (unsigned long long)st.gso_messages,
           r.recv_calls ? (double)r.datagrams_in / (double)r.recv_calls : 0.0, tx_cpu > 0 ? (double)sent * PAYLOAD * 8 / tx_cpu / 1e9 : 0.0,
           r.cpu > 0 ? (double)r.bytes * 8 / r.cpu / 1e9 : 0.0);
    veil_anchor_udp_close(u);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
