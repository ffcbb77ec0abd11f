// SPDX-License-Identifier: Apache-2.0
/*
 * bench_net_anchor.c - Anchor protocol core figures, one core, no sockets:
 *   - complete hybrid handshakes (initiation, response, confirmation) per
 *     second and CPU per handshake, and the part of it that is ML-KEM-768
 *     (keygen + encaps + decaps, measured alone): the difference estimates
 *     an X25519-only handshake of the same shape; and the same handshake
 *     measured with the bench-only classical switch (X25519 alone, ML-KEM
 *     skipped on both sides), for real;
 *   - transport: 1400-byte datagrams sealed by one state machine and opened
 *     by the other (send, pop, recv, event), per CPU second (both sides on
 *     one core);
 *   - heap bytes per peer with a confirmed session, on both sides.
 * Usage: bench_net_anchor [SECONDS per figure, default 1].
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/anchor.h>
#include <veil/pq.h>

static double now_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int accept_any(void *ctx, const uint8_t *cred, size_t len, const uint8_t id[32],
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

struct side {
    struct veil_anchor_local local;
    veil_anchor *a;
};

static void side_init_mode(struct side *s, bool classical)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    cfg.bench_classical_only = classical;
    crypto_sign_ed25519_keypair(s->local.identity_pk, s->local.identity_sk);
    s->local.cred = s->local.identity_pk;
    s->local.cred_len = 32;
    s->local.verify = accept_any;
    veil_err err = {0};
    s->a = veil_anchor_new(&cfg, &s->local, 1, &err);
    if (!s->a) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
}

static void side_init(struct side *s)
{
    side_init_mode(s, false);
}

/* Moves every queued datagram from `from` into `to`; returns how many. */
static int shuttle(struct side *from, struct side *to, const char *from_addr, uint64_t now)
{
    struct veil_anchor_datagram d;
    int n = 0;
    while (veil_anchor_pop_datagram(from->a, &d)) {
        veil_anchor_recv(to->a, (const uint8_t *)from_addr, 1, d.data, d.len, now, NULL);
        veil_anchor_datagram_clear(&d);
        n++;
    }
    return n;
}

static void drain(struct side *s)
{
    struct veil_anchor_event ev;
    while (veil_anchor_pop_event(s->a, &ev))
        veil_anchor_event_clear(&ev);
}

/* One complete handshake between a and b (keys invalidated first). */
static void handshake(struct side *a, struct side *b, uint64_t now)
{
    veil_anchor_invalidate_keys(a->a, now);
    veil_anchor_invalidate_keys(b->a, now);
    if (veil_anchor_connect(a->a, b->local.identity_pk, now, NULL) != 0)
        exit(1);
    shuttle(a, b, "A", now);
    shuttle(b, a, "B", now);
    shuttle(a, b, "A", now);
    drain(a);
    drain(b);
}

/* Complete handshakes per second and CPU per handshake, hybrid or (the
 * bench-only switch) X25519 alone. */
static double handshakes(double secs, bool classical, double *per_wall_s)
{
    struct side a, b;
    side_init_mode(&a, classical);
    side_init_mode(&b, classical);
    if (veil_anchor_add_peer(a.a, b.local.identity_pk, (const uint8_t *)"B", 1, NULL) != 0)
        exit(1);
    uint64_t now = 10;
    handshake(&a, &b, now++);
    long n = 0;
    double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t;
    do {
        handshake(&a, &b, now++);
        n++;
        t = now_s(CLOCK_MONOTONIC);
    } while (t - t0 < secs);
    *per_wall_s = (double)n / (t - t0);
    veil_anchor_free(a.a);
    veil_anchor_free(b.a);
    return (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)n * 1e6;
}

static void bench_handshake_modes(double secs)
{
    double hybrid_rate, classical_rate;
    double hybrid = handshakes(secs, false, &hybrid_rate);
    double classical = handshakes(secs, true, &classical_rate);
    printf("{\"bench\": \"net_anchor_handshake_modes\", \"hybrid_cpu_us\": %.1f, "
           "\"x25519_only_cpu_us\": %.1f, \"hybrid_per_s\": %.0f, \"x25519_only_per_s\": %.0f, "
           "\"hybrid_over_x25519\": %.2f}\n",
           hybrid, classical, hybrid_rate, classical_rate, hybrid / classical);
}

static void bench_handshake(double secs)
{
    struct side a, b;
    side_init(&a);
    side_init(&b);
    if (veil_anchor_add_peer(a.a, b.local.identity_pk, (const uint8_t *)"B", 1, NULL) != 0)
        exit(1);
    uint64_t now = 10;
    handshake(&a, &b, now++);
    long n = 0;
    double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t;
    do {
        handshake(&a, &b, now++);
        n++;
        t = now_s(CLOCK_MONOTONIC);
    } while (t - t0 < secs);
    double cpu_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)n * 1e6;
    /* the ML-KEM-768 part alone: keygen + encaps + decaps */
    static uint8_t ek[VEIL_MLKEM768_EK_BYTES], dk[VEIL_MLKEM768_DK_BYTES];
    uint8_t ct[VEIL_MLKEM768_CT_BYTES], ss[32];
    long m = 0;
    double k0 = now_s(CLOCK_PROCESS_CPUTIME_ID), k;
    do {
        if (veil_mlkem768_keygen(ek, dk, NULL) != 0 ||
            veil_mlkem768_encaps(ct, ss, ek, NULL) != 0 ||
            veil_mlkem768_decaps(ss, ct, dk, NULL) != 0)
            exit(1);
        m++;
        k = now_s(CLOCK_PROCESS_CPUTIME_ID);
    } while (k - k0 < secs / 2);
    double kem_us = (k - k0) / (double)m * 1e6;
    printf("{\"bench\": \"net_anchor_handshake\", \"handshakes_per_wall_s\": %.0f, "
           "\"cpu_us_per_handshake\": %.1f, \"mlkem_us_per_handshake\": %.1f, "
           "\"x25519_only_estimate_us\": %.1f, \"initiation_bytes\": %d, \"response_bytes\": %d}\n",
           (double)n / (t - t0), cpu_us, kem_us, cpu_us - kem_us, 1380 + 32, 1248 + 32);
    veil_anchor_free(a.a);
    veil_anchor_free(b.a);
}

static void bench_transport(double secs)
{
    struct side a, b;
    side_init(&a);
    side_init(&b);
    if (veil_anchor_add_peer(a.a, b.local.identity_pk, (const uint8_t *)"B", 1, NULL) != 0)
        exit(1);
    handshake(&a, &b, 10);
    static uint8_t payload[1400];
    randombytes_buf(payload, sizeof payload);
    long n = 0;
    double t0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t;
    do {
        for (int i = 0; i < 256; i++)
            if (veil_anchor_send(a.a, b.local.identity_pk, payload, sizeof payload, 11, NULL) != 0)
                exit(1);
        shuttle(&a, &b, "A", 11);
        drain(&b);
        n += 256;
        t = now_s(CLOCK_PROCESS_CPUTIME_ID);
    } while (t - t0 < secs);
    double pps = (double)n / (t - t0);
    printf("{\"bench\": \"net_anchor_transport\", \"payload_bytes\": 1400, "
           "\"packets_per_cpu_s\": %.0f, \"gbit_per_cpu_s_seal_and_open\": %.2f}\n",
           pps, pps * 1400 * 8 / 1e9);
    veil_anchor_free(a.a);
    veil_anchor_free(b.a);
}

static void bench_memory(void)
{
    enum { PEERS = 200 };
    struct side hub, *spokes = calloc(PEERS, sizeof *spokes);
    if (!spokes)
        exit(1);
    side_init(&hub);
    for (int i = 0; i < PEERS; i++)
        side_init(&spokes[i]);
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < PEERS; i++) {
        if (veil_anchor_add_peer(spokes[i].a, hub.local.identity_pk, (const uint8_t *)"H", 1,
                                 NULL) != 0 ||
            veil_anchor_connect(spokes[i].a, hub.local.identity_pk, 10, NULL) != 0)
            exit(1);
        shuttle(&spokes[i], &hub, "S", 10);
        shuttle(&hub, &spokes[i], "H", 10);
        shuttle(&spokes[i], &hub, "S", 10);
        drain(&hub);
        drain(&spokes[i]);
    }
    size_t after = mallinfo2().uordblks;
    printf("{\"bench\": \"net_anchor_memory\", \"peers\": %d, "
           "\"heap_bytes_per_peer_both_sides\": %.0f}\n",
           PEERS, (double)(after - before) / PEERS);
    for (int i = 0; i < PEERS; i++)
        veil_anchor_free(spokes[i].a);
    veil_anchor_free(hub.a);
    free(spokes);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (sodium_init() < 0)
        return 1;
    bench_handshake(secs);
    bench_handshake_modes(secs);
    bench_transport(secs);
    bench_memory();
    return 0;
}
