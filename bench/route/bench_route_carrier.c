// SPDX-License-Identifier: Apache-2.0
/*
 * bench_route_carrier.c - onion throughput through real embedded agents on
 * 127.0.0.1 (real Anchor sessions, UDP, one I/O thread per agent), relay
 * cells as the agents' own datagram kind forwarded by veil_route_carrier
 * on the relays' I/O threads: direct (application datagrams S -> D, the
 * baseline), through one relay and through two. Bursts of 256 payloads of
 * 1,200 bytes, each burst waited for at D (a bounded window, so nothing
 * overflows). One JSON line per mode: payload Gbit/s, cells/s, and the
 * process CPU seconds next to the wall seconds (the machine may be shared).
 * Usage: bench_route_carrier [bursts]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/route.h>

#include "anchor_test_cred.h"

enum { S, R1, R2, D, N };
#define BURST   256
#define PAYLOAD 1200

static uint8_t g_gpk[32], g_gsk[64];
static uint8_t pk[N][32], sk[N][64];
static veil_embed *ag[N];
static veil_route_carrier *car[N];

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start(int i)
{
    uint8_t cred[256], seed[32];
    memset(seed, 0x50 + i, sizeof seed);
    crypto_sign_seed_keypair(pk[i], sk[i], seed);
    size_t cred_len = anchor_test_cred_make(cred, "acme", "pci", pk[i], UINT64_MAX, g_gsk);
    struct veil_anchor_local local = {
        .cred = cred, .cred_len = cred_len, .verify = anchor_test_cred_verify, .verify_ctx = g_gpk};
    memcpy(local.identity_pk, pk[i], 32);
    memcpy(local.identity_sk, sk[i], 64);
    veil_anchor *a = veil_anchor_new(NULL, &local, 0, NULL);
    struct veil_embed_config cfg = {.bind_ip = "127.0.0.1"};
    ag[i] = a ? veil_embed_start(&cfg, a, NULL) : NULL;
    if (!ag[i] || (i != S && !(car[i] = veil_route_carrier_attach(ag[i], NULL, sk[i], NULL))))
        return -1;
    return 0;
}

static int link_up(int a, int b)
{
    char v4[32];
    uint8_t buf[16], from[32];
    snprintf(v4, sizeof v4, "10.66.0.%d", b + 1);
    if (veil_embed_add_peer(ag[a], pk[b], v4, "127.0.0.1", veil_embed_port(ag[b]), NULL) != 0 ||
        veil_embed_send(ag[a], pk[b], "up", 2, NULL) != 0 ||
        veil_embed_recv(ag[b], from, buf, sizeof buf, 5000, NULL) != 2)
        return -1;
    return 0;
}

/* One payload S -> D on o (NULL: an application datagram straight to D). */
static int send_one(struct veil_route_onion *o, const uint8_t *pl)
{
    uint8_t cell[PAYLOAD + 128];
    size_t len;
    if (!o)
        return veil_embed_send(ag[S], pk[D], pl, PAYLOAD, NULL);
    if (veil_route_onion_wrap(o, pl, PAYLOAD, cell, sizeof cell, &len, NULL) != 0)
        return -1;
    return veil_embed_send_cell(ag[S], o->first_hop, cell, len, NULL);
}

static long recv_one(bool onion, uint8_t *buf)
{
    uint8_t from[32];
    return onion ? veil_route_carrier_recv(car[D], from, buf, PAYLOAD + 64, 2000, NULL)
                 : veil_embed_recv(ag[D], from, buf, PAYLOAD + 64, 2000, NULL);
}

static void run(const char *mode, struct veil_route_onion *o, int bursts)
{
    uint8_t pl[PAYLOAD], got[PAYLOAD + 64];
    uint64_t sent = 0, got_n = 0;
    memset(pl, 0xa5, sizeof pl);
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int b = 0; b < bursts; b++) {
        int k = 0;
        for (int i = 0; i < BURST; i++)
            sent += send_one(o, pl) == 0;
        while (k < BURST && recv_one(o != NULL, got) == PAYLOAD)
            k++;
        got_n += (uint64_t)k;
    }
    double wall = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("{\"bench\":\"route_carrier\",\"mode\":\"%s\",\"payload_bytes\":%d,\"sent\":%llu,"
           "\"delivered\":%llu,\"gbit_s\":%.3f,\"cells_s\":%.0f,\"wall_s\":%.3f,\"cpu_s\":%.3f}\n",
           mode, PAYLOAD, (unsigned long long)sent, (unsigned long long)got_n,
           (double)got_n * PAYLOAD * 8 / wall / 1e9, (double)got_n / wall, wall, cpu);
}

static int path(struct veil_route_onion *o, const int *via, size_t n)
{
    struct veil_route_hop hops[3];
    struct veil_route_limits lim = {1ull << 40, 4000000000u, 60000};
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES], got[64], from[32];
    for (size_t k = 0; k < n; k++)
        memcpy(hops[k].identity, pk[via[k]], 32);
    memcpy(hops[n].identity, pk[D], 32);
    if (veil_route_onion_build(o, sk[S], hops, n + 1, &lim, cell, NULL) != 0 ||
        veil_embed_send_cell(ag[S], pk[via[0]], cell, sizeof cell, NULL) != 0)
        return -1;
    /* one payload through, so the path exists before the clock starts */
    uint8_t one[8] = {0}, c[256];
    size_t len;
    if (veil_route_onion_wrap(o, one, sizeof one, c, sizeof c, &len, NULL) != 0 ||
        veil_embed_send_cell(ag[S], o->first_hop, c, len, NULL) != 0)
        return -1;
    return veil_route_carrier_recv(car[D], from, got, sizeof got, 5000, NULL) == 8 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int bursts = argc > 1 ? atoi(argv[1]) : 200;
    uint8_t seed[32] = {9};
    static const int one[] = {R1}, two[] = {R1, R2};
    struct veil_route_onion o1 = {0}, o2 = {0};
    if (sodium_init() < 0 || bursts < 1)
        return 2;
    crypto_sign_seed_keypair(g_gpk, g_gsk, seed);
    int rc = 1;
    bool ok = true;
    for (int i = 0; i < N && ok; i++)
        ok = start(i) == 0;
    ok = ok && link_up(S, D) == 0 && link_up(S, R1) == 0 && link_up(R1, R2) == 0 &&
         link_up(R1, D) == 0 && link_up(R2, D) == 0;
    if (ok && path(&o1, one, 1) == 0 && path(&o2, two, 2) == 0) {
        run("direct", NULL, bursts);
        run("one_relay", &o1, bursts);
        run("two_relays", &o2, bursts);
        rc = 0;
    } else {
        fprintf(stderr, "bench_route_carrier: setup failed\n");
    }
    for (int i = 0; i < N; i++)
        veil_embed_stop(ag[i]);
    for (int i = 0; i < N; i++)
        veil_route_carrier_free(car[i]);
    veil_route_onion_wipe(&o1);
    veil_route_onion_wipe(&o2);
    return rc;
}
