// SPDX-License-Identifier: Apache-2.0
/*
 * veil/overlay_peer.h - the overlay peer record (src/net/overlay_peer.c):
 * what one node tells the rest of its realm so they can add it as an
 * overlay peer - its identity, its overlay IPv4 address from the realm's
 * pool and its underlay UDP endpoint - signed by the node's own Ed25519
 * identity key. Meant for the realm's topology subject on Master
 * (veil.<realm>.topo.<node>), where NATS permissions already let only the
 * node publish; the signature additionally binds the record to the
 * identity the Anchor handshake will authenticate, and issued_ms lets a
 * receiver keep only the newest record per identity.
 *
 * Wire form (big-endian), exactly VEIL_PEER_RECORD_V4_LEN or _V6_LEN bytes:
 *   "VPR" 0x01 | identity[32] | overlay IPv4[4] | family u8 (4 or 6) |
 *   endpoint address[4 or 16] | endpoint port u16 | issued_ms u64 |
 *   Ed25519 signature[64] over everything before it
 */
#ifndef VEIL_OVERLAY_PEER_H
#define VEIL_OVERLAY_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_PEER_RECORD_V4_LEN (4 + 32 + 4 + 1 + 4 + 2 + 8 + 64)
#define VEIL_PEER_RECORD_V6_LEN (VEIL_PEER_RECORD_V4_LEN + 12)

struct veil_overlay_peer_record {
    uint8_t identity[VEIL_ANCHOR_KEY_BYTES];
    char ipv4[16];        /* overlay address, dotted quad */
    char endpoint_ip[46]; /* underlay address, IPv4 or IPv6 text */
    uint16_t endpoint_port;
    uint64_t issued_ms;
};

/* Appends the signed record; rec->identity must be the key of sk (the
 * 64-byte libsodium Ed25519 secret key). */
int veil_overlay_peer_record_encode(const struct veil_overlay_peer_record *rec,
                                    const uint8_t sk[64], veil_buf *out,
                                    veil_err *err) VEIL_WARN_UNUSED;
/* Strict: exactly one record, a valid signature by its own identity. */
int veil_overlay_peer_record_decode(const uint8_t *data, size_t len,
                                    struct veil_overlay_peer_record *out,
                                    veil_err *err) VEIL_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* VEIL_OVERLAY_PEER_H */
