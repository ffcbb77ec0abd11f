// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_latency.h - a node's round-trip times to the cluster's latency
 * landmarks (issue 20, docs/SCHEDULING.md "Latency-aware placement"), which
 * its telemetry carries encrypted (format 2, veil/node.h). See
 * daemon_latency.c.
 */
#ifndef VEIL_NODE_DAEMON_LATENCY_H
#define VEIL_NODE_DAEMON_LATENCY_H

#include <stdbool.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/node.h>
#include <veil/p2p.h>

#define VEIL_LATENCY_PING_MS  5000u  /* one ping per landmark this often */
#define VEIL_LATENCY_STALE_MS 60000u /* no sample this long: "not measured" */

struct veil_daemon_latency;
/* One landmark slot: its peer, the smoothed RTT, the ping in flight. The
 * ping callback's user data points here, so the state must stay put (it
 * lives in the daemon's struct for the daemon's lifetime). */
struct veil_latency_slot {
    struct veil_daemon_latency *owner;
    veil_p2p_peer_id peer;
    bool self;      /* this node is the landmark: RTT the smallest unit */
    bool in_flight; /* a ping is out */
    uint64_t srtt_us, last_ms;
};
struct veil_daemon_latency {
    bool ready; /* landmarks read from the configuration */
    size_t n;   /* landmarks configured (<= VEIL_LATENCY_SLOTS) */
    struct veil_latency_slot slot[VEIL_LATENCY_SLOTS];
    uint64_t next_ping_ms, now_ms;
    unsigned failures; /* pings that failed (logged at debug) */
};

/* The landmarks: the first VEIL_LATENCY_SLOTS bootstrap multiaddrs' peer IDs
 * (libp2p.bootstrap, in the bundle's order); `self` may be one of them. */
VEIL_WARN_UNUSED int veil_daemon_latency_init(struct veil_daemon_latency *l,
                                              const veil_p2p_peer_id *self,
                                              const char *const *bootstrap, size_t n,
                                              veil_err *err);
/* Pings each landmark at most every VEIL_LATENCY_PING_MS (results arrive on
 * the loop and update the smoothed RTT: srtt += (sample - srtt) / 8). */
void veil_daemon_latency_tick(struct veil_daemon_latency *l, veil_p2p_host *host, uint64_t now_ms);
/* The smoothed RTTs in microseconds for the telemetry (0 = not measured or
 * stale, which quantizes to VEIL_LATENCY_UNKNOWN). */
void veil_daemon_latency_fill(const struct veil_daemon_latency *l, uint64_t now_ms,
                              uint32_t rtt_us[VEIL_LATENCY_SLOTS]);
/* One RTT sample for slot s (the ping callback's step; tests call it). */
void veil_daemon_latency_sample(struct veil_daemon_latency *l, size_t s, uint64_t rtt_ns,
                                uint64_t now_ms);

#endif /* VEIL_NODE_DAEMON_LATENCY_H */
