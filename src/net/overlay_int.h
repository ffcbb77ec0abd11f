// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_int.h - internals of the TUN overlay shared by src/net/overlay*.c:
 * the TUN device (overlay_tun.c). The data path is overlay.c, the packet
 * work overlay_pkt.c.
 */
#ifndef VEIL_NET_OVERLAY_INT_H
#define VEIL_NET_OVERLAY_INT_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include <veil/base.h>

#include "overlay_pkt.h"

#define OVERLAY_V6_PREFIX 48

struct overlay_tun {
    int fd;
    char ifname[IFNAMSIZ];
    bool vnet; /* IFF_VNET_HDR: every read and write starts with a virtio-net header */
    bool tso;  /* the kernel hands us TSO packets to cut */
    bool napi; /* IFF_NAPI: kernel GRO on what we write */
};

/* Creates the interface (non-blocking fd); offload asks for IFF_VNET_HDR,
 * TSO and IFF_NAPI, each taken only where the kernel allows it. */
int overlay_tun_open(const char *name, bool offload, struct overlay_tun *t,
                     veil_err *err) VEIL_WARN_UNUSED;
/* MTU, up, the IPv4 address with the pool's prefix, the IPv6 address with
 * the realm's /48 (each prefix becomes a route to the interface). */
int overlay_tun_configure(const struct overlay_tun *t, const uint8_t v4[4], unsigned prefix,
                          const uint8_t v6[16], unsigned mtu, veil_err *err) VEIL_WARN_UNUSED;

#endif /* VEIL_NET_OVERLAY_INT_H */
