// SPDX-License-Identifier: Apache-2.0
/*
 * veil/overlay.h - VeilNet's system mode: the Anchor protocol behind a TUN
 * interface (src/net/overlay*.c).
 *
 * veil_overlay_start() creates a TUN interface (IFF_TUN | IFF_NO_PI, with
 * IFF_VNET_HDR and TSO/checksum offloads where the kernel allows, and
 * kernel GRO on what it writes where IFF_NAPI is allowed), gives it this
 * node's overlay addresses (the IPv4 address the realm's pool gave the node,
 * and an IPv6 address derived from the realm and the node's identity),
 * routes the realm's IPv4 pool and IPv6 prefix to it, sets its MTU to the
 * underlay's minus the Anchor overhead, and moves packets between it and one
 * UDP socket on two threads (one per direction):
 *   - TUN -> peer: a read of up to 64 KiB (a TSO packet from the kernel) is
 *     cut into MTU-sized TCP segments here, each encrypted by the Anchor
 *     state machine for the peer that owns the destination address, and the
 *     run leaves as one UDP GSO message (sendmmsg);
 *   - peer -> TUN: recvmmsg with UDP GRO, each datagram opened by the state
 *     machine; a decrypted packet is written to the TUN only when its source
 *     address is the sending peer's own overlay address (no spoofing).
 * The state machine sits behind one mutex; the system calls run outside it,
 * so the two directions use both cores. Flow control: the UDP socket
 * blocks the sending thread when its buffer is full, which backs up the
 * TUN queue and the sender's TCP; receive buffers are enlarged.
 *
 * Needs CAP_NET_ADMIN (run it as root or in a network namespace one owns).
 */
#ifndef VEIL_OVERLAY_H
#define VEIL_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes an overlay packet grows by on the underlay: Anchor header and tag,
 * UDP and an IPv6 header (so one MTU works on either underlay family). */
#define VEIL_OVERLAY_UNDERLAY_OVERHEAD (VEIL_ANCHOR_DATA_OVERHEAD + 8 + 40)

struct veil_overlay_config {
    const char *ifname;      /* interface name, e.g. "veil0" (at most 15 characters) */
    const char *realm;       /* the realm: its IPv6 prefix is derived from it */
    const uint8_t *identity; /* this node's Ed25519 public key (the anchor's): its IPv6 address */
    const char *ipv4;        /* this node's address from the realm's pool, e.g. "10.77.0.1" */
    unsigned ipv4_prefix;    /* the pool's prefix length, e.g. 16 (the route to the tunnel) */
    const char *bind_ip;     /* underlay address of the UDP socket, e.g. "0.0.0.0" */
    uint16_t port;           /* underlay UDP port, 0 = any free one */
    unsigned underlay_mtu;   /* 0 = 1500; the interface's MTU is this minus the overhead */
    bool no_offload;         /* true: plain IFF_TUN | IFF_NO_PI, one packet per read */
};

/* What the overlay did (the Anchor state machine's counters are separate:
 * veil_overlay_anchor_stats). */
struct veil_overlay_stats {
    uint64_t tun_reads, tun_read_packets, tun_writes, tun_write_errors;
    uint64_t gso_packets_in; /* TSO packets read from the TUN and cut here */
    uint64_t udp_send_calls, udp_recv_calls, udp_datagrams_out, udp_datagrams_in;
    uint64_t no_route;    /* TUN packets to an address no peer owns */
    uint64_t spoofed;     /* decrypted packets whose source is not the peer's */
    uint64_t malformed;   /* TUN packets that could not be parsed or cut */
    uint64_t filtered;    /* decrypted packets the ingress rules refused */
    uint64_t kinds_in;    /* non-IP datagrams (relay cells, probes) handed to the kind handler */
    uint64_t kinds_out;   /* non-IP datagrams sent (veil_overlay_send_kind) */
    uint64_t relayed_out; /* TUN packets handed to the egress hook (a relayed peer) */
    uint64_t relayed_in;  /* packets that arrived through a relay and entered the TUN */
};

/* One ingress rule (veil_overlay_set_rules): packets from `peer` (all zero
 * = any peer of the realm), of protocol `proto` (0 = any; for 6/TCP and
 * 17/UDP only destination ports port_lo..port_hi), to dst_v4/dst_prefix
 * (prefix 0 = any destination, e.g. one container's address behind the
 * node with /32). */
struct veil_overlay_rule {
    uint8_t peer[VEIL_ANCHOR_KEY_BYTES];
    uint8_t proto;
    uint16_t port_lo, port_hi;
    uint8_t dst_v4[4];
    uint8_t dst_prefix;
};

typedef struct veil_overlay veil_overlay;

/* Creates and configures the interface and starts both threads. Takes
 * ownership of `a` (freed by veil_overlay_stop, also on failure here). */
veil_overlay *veil_overlay_start(const struct veil_overlay_config *cfg, veil_anchor *a,
                                 veil_err *err) VEIL_WARN_UNUSED;
/* Stops the threads, closes the interface (which removes it) and the
 * socket, frees everything. */
void veil_overlay_stop(veil_overlay *o);

uint16_t veil_overlay_port(const veil_overlay *o);
/* The interface's MTU and whether the kernel took the offloads. */
unsigned veil_overlay_mtu(const veil_overlay *o);
bool veil_overlay_offload(const veil_overlay *o);

/* A peer: its identity, the IPv4 address the realm's pool gave it (its
 * IPv6 address is derived) and its underlay endpoint. */
int veil_overlay_add_peer(veil_overlay *o, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                          const char *ipv4, const char *endpoint_ip, uint16_t endpoint_port,
                          veil_err *err) VEIL_WARN_UNUSED;
/* Revocation: ends every session of the peer and forgets its addresses. */
void veil_overlay_remove_peer(veil_overlay *o, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES]);
/* Guardian commands, applied under the overlay's lock at once. */
int veil_overlay_set_credential(veil_overlay *o, const uint8_t *cred, size_t cred_len,
                                veil_err *err) VEIL_WARN_UNUSED;
void veil_overlay_invalidate_keys(veil_overlay *o);
/* Ingress policy, replaced as a whole under the lock. enforce = false (the
 * default): every packet from a peer's own address enters. enforce = true:
 * default deny - a decrypted packet enters only when it answers something
 * (a TCP segment other than a lone SYN, an ICMP echo reply or error) or a
 * rule allows it; the others are counted in `filtered`. Copies the rules. */
int veil_overlay_set_rules(veil_overlay *o, bool enforce, const struct veil_overlay_rule *rules,
                           size_t n, veil_err *err) VEIL_WARN_UNUSED;

void veil_overlay_get_stats(veil_overlay *o, struct veil_overlay_stats *out);
void veil_overlay_anchor_stats(veil_overlay *o, struct veil_anchor_stats *out);

/* The IPv6 overlay address of `identity` in `realm`: the /48 ULA prefix
 * fd00::/8 + 40 bits of BLAKE2b("veil-realm-v6" || realm), subnet 0, and
 * the first 64 bits of BLAKE2b("veil-node-v6" || identity) as interface
 * identifier. */
void veil_overlay_ipv6_of(const char *realm, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                          uint8_t out[16]);

/* Non-IP kinds of overlay datagrams (VeilNet routing, src/route/): the first
 * plaintext byte of an Anchor datagram tells them from IP packets (whose
 * first nibble is 4 or 6). Relay cells are kind 1, as in the embedded agent
 * (include/veil/embed.h); routing probes kind 2. */
#define VEIL_OVERLAY_KIND_CELL  1
#define VEIL_OVERLAY_KIND_PROBE 2
#define VEIL_OVERLAY_KIND_MAX   0x3f

/* Called on an overlay thread, without the overlay's lock, for every
 * decrypted datagram of a non-IP kind (msg[0] is the kind, len >= 1): it may
 * send (veil_overlay_send_kind) and deliver (veil_overlay_deliver); it must
 * not block. `msg` is valid during the call only. */
typedef void (*veil_overlay_kind_fn)(void *ctx, veil_overlay *o,
                                     const uint8_t from[VEIL_ANCHOR_KEY_BYTES], const uint8_t *msg,
                                     size_t len);
/* Called on the TUN thread, without the lock, for each TUN packet whose
 * destination is a peer marked relayed (veil_overlay_set_relayed): the hook
 * wraps it (an onion DATA cell) and sends it with veil_overlay_send_kind. */
typedef void (*veil_overlay_egress_fn)(void *ctx, veil_overlay *o,
                                       const uint8_t dst[VEIL_ANCHOR_KEY_BYTES], const uint8_t *pkt,
                                       size_t len);
/* Installs both hooks (NULL = none: non-IP datagrams are dropped, relayed
 * peers get nothing). Set them before traffic flows. */
void veil_overlay_set_hooks(veil_overlay *o, veil_overlay_kind_fn kind,
                            veil_overlay_egress_fn egress, void *ctx);
/* Sends one non-IP datagram (msg[0] = kind, 1..VEIL_OVERLAY_KIND_MAX) to a
 * peer over its Anchor session (held while a handshake runs). */
int veil_overlay_send_kind(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                           const uint8_t *msg, size_t len, veil_err *err) VEIL_WARN_UNUSED;
/* relayed = true: TUN packets for the peer go to the egress hook instead of
 * its direct session (which stays, for probes). */
int veil_overlay_set_relayed(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                             bool relayed, veil_err *err) VEIL_WARN_UNUSED;
/* An IP packet from peer `src` that arrived through a relay: the same checks
 * as a direct one (its source is src's own overlay address, the ingress
 * rules), then the TUN. */
int veil_overlay_deliver(veil_overlay *o, const uint8_t src[VEIL_ANCHOR_KEY_BYTES],
                         const uint8_t *pkt, size_t len, veil_err *err) VEIL_WARN_UNUSED;
/* Hole punching: sends to the peer at `addr` (opaque sockaddr bytes, e.g. a
 * reflexive address from its routing summary) from now on and starts a
 * handshake there at once. */
int veil_overlay_punch(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                       const uint8_t *addr, size_t addr_len, veil_err *err) VEIL_WARN_UNUSED;
/* Where the peer's last authenticated packet came from (its reflexive
 * address, opaque sockaddr bytes); its length, 0 when unknown. */
size_t veil_overlay_peer_endpoint(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                                  uint8_t out[VEIL_ANCHOR_ADDR_MAX]);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_OVERLAY_H */
