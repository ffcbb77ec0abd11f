// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_route_relay.c - libFuzzer target for the relay's cell handling
 * (src/route/relay.c): a relay and the path's destination with one path
 * already set up (from a fixed source, so data cells with its path ids reach
 * the relay's keystream layer, the destination's AEAD and the replay
 * windows) handle arbitrary bytes from their previous hop and from a
 * stranger; each must refuse, forward or deliver within its output buffer,
 * never more.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veil/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fixture {
    uint8_t src_pk[32], src_sk[64], relay_pk[32], relay_sk[64], dst_pk[32], dst_sk[64];
    struct veil_route_relay relay, dst;
    uint8_t setup[VEIL_ROUTE_SETUP_BYTES];
    uint8_t dst_setup[VEIL_ROUTE_SETUP_BYTES]; /* as the relay forwards it */
};

static struct fixture *fixture(void)
{
    static struct fixture f;
    static int ready;
    if (ready)
        return &f;
    uint8_t seed[32] = {1};
    if (sodium_init() < 0)
        abort();
    crypto_sign_seed_keypair(f.src_pk, f.src_sk, seed);
    seed[0] = 2;
    crypto_sign_seed_keypair(f.relay_pk, f.relay_sk, seed);
    seed[0] = 3;
    crypto_sign_seed_keypair(f.dst_pk, f.dst_sk, seed);
    struct veil_route_hop h[2];
    memcpy(h[0].identity, f.relay_pk, 32), memcpy(h[1].identity, f.dst_pk, 32);
    struct veil_route_limits lim = {1u << 30, 1u << 30, 1000};
    struct veil_route_onion o;
    if (veil_route_onion_build(&o, f.src_sk, h, 2, &lim, f.setup, NULL) != 0)
        abort();
    veil_route_onion_wipe(&o);
    ready = 1;
    return &f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fixture *f = fixture();
    static uint8_t out[VEIL_ROUTE_CELL_MAX];
    struct veil_route_action act;
    if (veil_route_relay_init(&f->relay, NULL, f->relay_sk, NULL) != 0 ||
        veil_route_relay_init(&f->dst, NULL, f->dst_sk, NULL) != 0)
        abort();
    if (veil_route_relay_handle(&f->relay, f->src_pk, f->setup, sizeof f->setup, 0, f->dst_setup,
                                sizeof f->dst_setup, &act, NULL) != 0 ||
        veil_route_relay_handle(&f->dst, f->relay_pk, f->dst_setup, sizeof f->dst_setup, 0, out,
                                sizeof out, &act, NULL) != 0)
        abort();
    /* the last byte picks the node (bit 1: the destination) and the previous
     * hop (bit 0: a stranger); a data cell's path id points at the live path
     * when the input asks */
    bool at_dst = size && (data[size - 1] & 2);
    const uint8_t *live_id = at_dst ? f->dst_setup + 1 : f->setup + 1;
    static uint8_t cell[VEIL_ROUTE_CELL_MAX + 1];
    size_t n = size > sizeof cell ? sizeof cell : size;
    memcpy(cell, data, n);
    if (n >= 9 && cell[0] == VEIL_ROUTE_CELL_DATA && (cell[1] & 0x80))
        memcpy(cell + 1, live_id, 8);
    const uint8_t *prev = (n && (data[n - 1] & 1)) ? f->dst_pk : at_dst ? f->relay_pk : f->src_pk;
    struct veil_route_relay *node = at_dst ? &f->dst : &f->relay;
    if (veil_route_relay_handle(node, prev, cell, n, 1, out, sizeof out, &act, NULL) == 0 &&
        (act.out_len > sizeof out || act.deliver != at_dst))
        abort();
    (void)veil_route_relay_expire(&f->relay, 5000);
    veil_route_relay_wipe(&f->relay);
    veil_route_relay_wipe(&f->dst);
    return 0;
}
