// SPDX-License-Identifier: Apache-2.0
/*
 * test_telemetry_latency.c - the latency words' source (daemon_latency.c):
 * landmarks from the bootstrap list (at most four, this node among them,
 * a bad address refused), the smoothed RTT, staleness, and the words the
 * telemetry gets from it (not measured = 0 -> VEIL_LATENCY_UNKNOWN).
 */
#include <stdio.h>
#include <string.h>

#include <veil/node.h>
#include <veil/p2p.h>

#include "../../../src/node/daemon_latency.h"
#include "vtest.h"

static void peer(int k, veil_p2p_peer_id *id, char *addr, size_t cap)
{
    uint8_t pk[32];
    memset(pk, 0x11 * (k + 1), sizeof pk);
    veil_p2p_peer_id_from_ed25519(pk, id);
    snprintf(addr, cap, "/ip4/127.0.0.1/tcp/%d/p2p/%s", 4000 + k, veil_p2p_peer_id_str(id).s);
}

static void test_landmarks(void)
{
    char text[6][160];
    const char *addrs[6];
    veil_p2p_peer_id ids[6];
    for (int k = 0; k < 6; k++) {
        peer(k, &ids[k], text[k], sizeof text[k]);
        addrs[k] = text[k];
    }
    struct veil_daemon_latency l;
    veil_err err = {0};
    CHECK_EQ_INT(veil_daemon_latency_init(&l, &ids[1], addrs, 6, &err), 0);
    CHECK_EQ_INT(l.n, VEIL_LATENCY_SLOTS); /* the first four, in order */
    CHECK(veil_p2p_peer_id_equal(&l.slot[3].peer, &ids[3]));
    CHECK(l.slot[1].self && !l.slot[0].self);
    /* nothing measured: every word "unknown" */
    uint32_t rtt[VEIL_LATENCY_SLOTS];
    veil_daemon_latency_fill(&l, 1000, rtt);
    for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
        CHECK_EQ_INT(rtt[s], 0);
    /* a tick without a host: only this node's own slot gets a sample (the
     * smallest unit), and no second one before the ping period */
    veil_daemon_latency_tick(&l, NULL, 1000);
    veil_daemon_latency_fill(&l, 1000, rtt);
    CHECK_EQ_INT(rtt[0], 0);
    CHECK_EQ_INT(veil_latency_quantize(rtt[1]), 1);
    /* samples: the first sets, later ones move 1/8 of the way */
    veil_daemon_latency_sample(&l, 0, 40000000ull, 1000); /* 40 ms */
    veil_daemon_latency_sample(&l, 0, 8000000ull, 2000);  /* 8 ms */
    veil_daemon_latency_fill(&l, 2000, rtt);
    CHECK_EQ_INT(rtt[0], 36000);
    veil_daemon_latency_sample(&l, 2, 10, 2000); /* below 1 us: 1 us */
    veil_daemon_latency_sample(&l, 9, 10, 2000); /* no such slot: ignored */
    veil_daemon_latency_fill(&l, 2000, rtt);
    CHECK_EQ_INT(rtt[2], 1);
    /* stale after VEIL_LATENCY_STALE_MS without a sample */
    veil_daemon_latency_fill(&l, 2000 + VEIL_LATENCY_STALE_MS + 1, rtt);
    CHECK_EQ_INT(rtt[0], 0);
    struct veil_telemetry_raw raw = {.cpu_millis = 1};
    veil_daemon_latency_fill(&l, 2000, raw.rtt_us);
    struct veil_telemetry_q q;
    veil_telemetry_quantize_free(&raw, &q);
    CHECK_EQ_INT(q.latency[0], 360);
    CHECK_EQ_INT(q.latency[3], VEIL_LATENCY_UNKNOWN);
    /* fewer bootstrap peers than slots; none at all */
    CHECK_EQ_INT(veil_daemon_latency_init(&l, NULL, addrs, 2, &err), 0);
    CHECK_EQ_INT(l.n, 2);
    veil_daemon_latency_sample(&l, 2, 1000, 1); /* slot 2 unused: ignored */
    veil_daemon_latency_fill(&l, 1, rtt);
    CHECK_EQ_INT(rtt[2], 0);
    CHECK_EQ_INT(veil_daemon_latency_init(&l, NULL, NULL, 0, &err), 0);
    CHECK_EQ_INT(l.n, 0);
    const char *bad[] = {"/ip4/127.0.0.1/tcp/1"}; /* no peer ID */
    CHECK_EQ_INT(veil_daemon_latency_init(&l, NULL, bad, 1, &err), -1);
    CHECK_CONTAINS(err.msg, "latency landmark 0");
}

VTEST_MAIN(VTEST(test_landmarks))
