// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_carrier.c - relay cells as the embedded agent's own Anchor
 * datagram kind (veil_embed_send_cell) handled by veil_route_carrier: five
 * real agents in this process over 127.0.0.1 (real Anchor sessions, the
 * test Guardian's credentials): S sends onion paths through R1 to D and
 * through R1 and R2 to D; the relays forward on their agents' I/O threads.
 * Checked: every payload arrives once, intact, from S; the relays count
 * what they forwarded and deliver nothing; no cell ever shows up as an
 * application datagram (veil_embed_recv) at a relay, at D, or at X, an agent
 * without a carrier (its cells are dropped); a replayed cell is refused.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <veil/route.h>

#include "anchor_test_cred.h"
#include "vtest.h"

enum { S, R1, R2, D, X, N };
#define N_CELLS 200

static uint8_t g_gpk[32], g_gsk[64];
static uint8_t pk[N][32], sk[N][64];
static veil_embed *ag[N];
static uint16_t port[N];

static veil_embed *start(int i)
{
    uint8_t cred[256], seed[32];
    memset(seed, 0x70 + i, sizeof seed);
    crypto_sign_seed_keypair(pk[i], sk[i], seed);
    size_t cred_len = anchor_test_cred_make(cred, "acme", "pci", pk[i], UINT64_MAX, g_gsk);
    struct veil_anchor_local local = {
        .cred = cred, .cred_len = cred_len, .verify = anchor_test_cred_verify, .verify_ctx = g_gpk};
    memcpy(local.identity_pk, pk[i], 32);
    memcpy(local.identity_sk, sk[i], 64);
    veil_anchor *a = veil_anchor_new(NULL, &local, 0, NULL);
    struct veil_embed_config cfg = {.bind_ip = "127.0.0.1"};
    veil_embed *e = a ? veil_embed_start(&cfg, a, NULL) : NULL;
    port[i] = e ? veil_embed_port(e) : 0;
    return e;
}

/* a declares b, and one datagram a -> b brings the session up. */
static bool link_up(int a, int b)
{
    char v4[32];
    uint8_t buf[64], from[32];
    snprintf(v4, sizeof v4, "10.66.0.%d", b + 1);
    if (veil_embed_add_peer(ag[a], pk[b], v4, "127.0.0.1", port[b], NULL) != 0 ||
        veil_embed_send(ag[a], pk[b], "up", 2, NULL) != 0)
        return false;
    return veil_embed_recv(ag[b], from, buf, sizeof buf, 5000, NULL) == 2 &&
           memcmp(from, pk[a], 32) == 0;
}

/* No application datagram waits at agent i. */
static bool no_datagram(int i)
{
    uint8_t buf[2048], from[32];
    return veil_embed_recv(ag[i], from, buf, sizeof buf, 50, NULL) < 0;
}

static int build(struct veil_route_onion *o, const int *via, size_t n_via)
{
    struct veil_route_hop hops[3];
    struct veil_route_limits lim = {1u << 30, 1u << 24, 30000};
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES];
    for (size_t k = 0; k < n_via; k++)
        memcpy(hops[k].identity, pk[via[k]], 32);
    memcpy(hops[n_via].identity, pk[D], 32);
    if (veil_route_onion_build(o, sk[S], hops, n_via + 1, &lim, cell, NULL) != 0)
        return -1;
    return veil_embed_send_cell(ag[S], pk[via[0]], cell, sizeof cell, NULL);
}

/* N_CELLS numbered payloads on o; D's carrier must yield each once. */
static void stream(struct veil_route_onion *o, veil_route_carrier *dc, uint8_t *last_cell,
                   size_t *last_len)
{
    uint8_t pl[600], cell[1024], got[1024], src[32];
    int seen[N_CELLS] = {0};
    for (int i = 0; i < N_CELLS; i++) {
        memset(pl, i, sizeof pl);
        CHECK_EQ_INT(veil_route_onion_wrap(o, pl, sizeof pl, cell, sizeof cell, last_len, NULL), 0);
        CHECK_EQ_INT(veil_embed_send_cell(ag[S], o->first_hop, cell, *last_len, NULL), 0);
        memcpy(last_cell, cell, *last_len);
    }
    for (int i = 0; i < N_CELLS; i++) {
        long n = veil_route_carrier_recv(dc, src, got, sizeof got, 5000, NULL);
        CHECK_EQ_INT(n, sizeof pl);
        if (n != sizeof pl)
            return;
        CHECK(memcmp(src, pk[S], 32) == 0);
        memset(pl, got[0], sizeof pl);
        CHECK(memcmp(got, pl, sizeof pl) == 0);
        seen[got[0] % N_CELLS]++;
    }
    for (int i = 0; i < N_CELLS; i++)
        CHECK_EQ_INT(seen[i], 1);
}

static void check_stats(veil_route_carrier *c, uint64_t fwd, uint64_t delivered, uint64_t refused)
{
    struct veil_route_carrier_stats st;
    veil_route_carrier_get_stats(c, &st);
    CHECK_EQ_U64(st.forwarded, fwd);
    CHECK_EQ_U64(st.delivered, delivered);
    CHECK_EQ_U64(st.refused, refused);
    CHECK_EQ_U64(st.send_failed + st.dropped, 0);
}

static void paths(veil_route_carrier *const car[N])
{
    static const int one[] = {R1}, two[] = {R1, R2};
    struct veil_route_onion o1 = {0}, o2 = {0};
    uint8_t last[1024], src[32], got[64];
    size_t last_len = 0;
    CHECK_EQ_INT(build(&o1, one, 1), 0);
    stream(&o1, car[D], last, &last_len);
    CHECK_EQ_INT(build(&o2, two, 2), 0);
    stream(&o2, car[D], last, &last_len);
    /* the last cell again: R1's replay window refuses it */
    CHECK_EQ_INT(veil_embed_send_cell(ag[S], pk[R1], last, last_len, NULL), 0);
    CHECK(veil_route_carrier_recv(car[D], src, got, sizeof got, 300, NULL) < 0);
    check_stats(car[R1], 2 + 2 * N_CELLS, 0, 1);
    check_stats(car[R2], 1 + N_CELLS, 0, 0);
    check_stats(car[D], 0, 2 * N_CELLS, 0);
    /* a cell to an agent without a carrier is dropped, not delivered */
    CHECK_EQ_INT(veil_embed_send_cell(ag[S], pk[X], last, last_len, NULL), 0);
    for (int i = R1; i < N; i++)
        CHECK(no_datagram(i));
    veil_route_onion_wipe(&o1);
    veil_route_onion_wipe(&o2);
}

static void test_carrier(void)
{
    veil_route_carrier *car[N] = {0};
    bool up = true;
    for (int i = 0; i < N; i++)
        up = up && (ag[i] = start(i)) != NULL;
    for (int i = R1; i <= D && up; i++)
        up = (car[i] = veil_route_carrier_attach(ag[i], NULL, sk[i], NULL)) != NULL;
    CHECK(up);
    up = up && link_up(S, R1) && link_up(S, X) && link_up(R1, R2) && link_up(R1, D) &&
         link_up(R2, D);
    CHECK(up);
    if (up)
        paths(car);
    for (int i = 0; i < N; i++)
        veil_embed_stop(ag[i]);
    for (int i = 0; i < N; i++)
        veil_route_carrier_free(car[i]); /* after the agents stopped */
}

static void test_all(void)
{
    uint8_t seed[32] = {9};
    if (sodium_init() < 0)
        return;
    crypto_sign_seed_keypair(g_gpk, g_gsk, seed);
    test_carrier();
}

VTEST_MAIN(VTEST(test_all))
