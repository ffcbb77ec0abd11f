// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_latency.c - the node's RTT to each of the cluster's latency
 * landmarks (the first VEIL_LATENCY_SLOTS bootstrap peers of the bundle, one
 * per region in a multi-region cluster), measured with libp2p pings
 * (/ipfs/ping/1.0.0) over the connections the node already keeps, smoothed
 * as TCP smooths RTT (1/8 gain) and handed to the telemetry, which encrypts
 * them (format 2; docs/SCHEDULING.md "Latency-aware placement"). State is
 * caller-owned (struct veil_daemon_latency in the daemon); nothing here
 * touches the loop except through veil_p2p_ping.
 */
#include <string.h>

#include "daemon_latency.h"

#define SUB "latency"

int veil_daemon_latency_init(struct veil_daemon_latency *l, const veil_p2p_peer_id *self,
                             const char *const *bootstrap, size_t n, veil_err *err)
{
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < n && l->n < VEIL_LATENCY_SLOTS; i++) {
        veil_p2p_multiaddr ma;
        struct veil_latency_slot *s = &l->slot[l->n];
        if (veil_p2p_multiaddr_parse(bootstrap[i], &ma, err) != 0 ||
            veil_p2p_multiaddr_peer_id(&ma, &s->peer, err) != 0)
            return veil_err_wrap(err, "latency landmark %zu (%s)", i, bootstrap[i]);
        s->owner = l;
        s->self = self && veil_p2p_peer_id_equal(&s->peer, self);
        l->n++;
    }
    l->ready = true;
    return 0;
}

void veil_daemon_latency_sample(struct veil_daemon_latency *l, size_t s, uint64_t rtt_ns,
                                uint64_t now_ms)
{
    if (s >= l->n)
        return;
    struct veil_latency_slot *slot = &l->slot[s];
    uint64_t us = rtt_ns / 1000 ? rtt_ns / 1000 : 1;
    if (!slot->last_ms || !slot->srtt_us)
        slot->srtt_us = us; /* the first sample sets it */
    else if (us >= slot->srtt_us)
        slot->srtt_us += (us - slot->srtt_us) / 8;
    else
        slot->srtt_us -= (slot->srtt_us - us) / 8;
    slot->last_ms = now_ms ? now_ms : 1;
}

static void on_ping(veil_p2p_host *host, const veil_err *err, uint64_t rtt_ns, void *user_data)
{
    (void)host;
    struct veil_latency_slot *slot = user_data;
    struct veil_daemon_latency *l = slot->owner;
    slot->in_flight = false;
    if (err && err->code != VEIL_OK) {
        l->failures++;
        veil_log(VEIL_LOG_DEBUG, SUB, "landmark ping failed", "slot=%td error=\"%s\"",
                 slot - l->slot, err->msg);
        return;
    }
    veil_daemon_latency_sample(l, (size_t)(slot - l->slot), rtt_ns, l->now_ms);
}

void veil_daemon_latency_tick(struct veil_daemon_latency *l, veil_p2p_host *host, uint64_t now_ms)
{
    l->now_ms = now_ms;
    if (!l->ready || now_ms < l->next_ping_ms)
        return;
    l->next_ping_ms = now_ms + VEIL_LATENCY_PING_MS;
    for (size_t s = 0; s < l->n; s++) {
        struct veil_latency_slot *slot = &l->slot[s];
        if (slot->self) { /* the landmark itself: the smallest RTT there is */
            veil_daemon_latency_sample(l, s, 1000ull * VEIL_LATENCY_UNIT_US / 2, now_ms);
            continue;
        }
        if (!host || slot->in_flight || !veil_p2p_host_find_conn(host, &slot->peer))
            continue; /* not connected: no sample, it goes stale */
        veil_err err = {0};
        slot->in_flight = veil_p2p_ping(host, &slot->peer, on_ping, slot, &err) == 0;
        if (!slot->in_flight)
            veil_log(VEIL_LOG_DEBUG, SUB, "landmark ping not sent", "slot=%zu error=\"%s\"", s,
                     err.msg);
    }
}

void veil_daemon_latency_fill(const struct veil_daemon_latency *l, uint64_t now_ms,
                              uint32_t rtt_us[VEIL_LATENCY_SLOTS])
{
    for (size_t s = 0; s < VEIL_LATENCY_SLOTS; s++) {
        const struct veil_latency_slot *slot = &l->slot[s];
        bool fresh = s < l->n && slot->last_ms && now_ms - slot->last_ms <= VEIL_LATENCY_STALE_MS;
        rtt_us[s] = !fresh ? 0 : slot->srtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)slot->srtt_us;
    }
}
