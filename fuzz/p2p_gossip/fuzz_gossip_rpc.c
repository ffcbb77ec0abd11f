// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_gossip_rpc.c - libFuzzer target of the gossipsub module: arbitrary
 * bytes as an RPC from a connected peer into a router that is subscribed to
 * the topic, so that decoding, StrictSign validation, IHAVE/IWANT/GRAFT/PRUNE
 * handling and the heartbeat all see hostile input.
 */
#include <veil/gossipsub.h>

#include <sodium.h>
#include <string.h>

static void sink(void *ctx, const uint8_t *peer, size_t peer_len, const uint8_t *rpc, size_t len)
{
    (void)ctx;
    (void)peer;
    (void)peer_len;
    (void)rpc;
    (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static veil_gs *gs;
    static uint8_t peer[VEIL_GS_PEER_ID_MAX];
    static size_t peer_len;
    static uint64_t now = 1000;
    if (!gs) {
        uint8_t seed[32] = {1}, pk[32], sk[64];
        if (sodium_init() < 0)
            return 0;
        crypto_sign_seed_keypair(pk, sk, seed);
        struct veil_gs_config cfg;
        veil_gs_config_default(&cfg);
        /* keep the fuzzed peer from being graylisted so every input is
         * actually processed */
        cfg.score.enabled = false;
        struct veil_gs_callbacks cb = {sink, NULL, NULL};
        if (veil_gs_new(&gs, &cfg, sk, &cb, NULL) != 0)
            return 0;
        seed[0] = 2;
        crypto_sign_seed_keypair(pk, sk, seed);
        peer_len = veil_gs_peer_id_from_pubkey(peer, pk);
        veil_gs_subscribe(gs, "veil/test", NULL, NULL, now, NULL);
        veil_gs_add_peer(gs, peer, peer_len, VEIL_GS_MESHSUB_11, false, now, NULL);
    }
    veil_err err;
    (void)veil_gs_handle_rpc(gs, peer, peer_len, data, size, now, &err);
    now += 100;
    if (now % 1000 == 0)
        veil_gs_heartbeat(gs, now);
    return 0;
}
