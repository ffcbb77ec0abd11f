// SPDX-License-Identifier: Apache-2.0
/*
 * route_int.h - helpers shared by the onion source (onion.c) and the relay
 * (relay.c): the per-hop key schedule, the DATA layers' ciphers
 * (route_cipher.c), the layer's associated data and the layer plaintext
 * layout; and the header check of the topo summary and path
 * signal codecs (topo.c, signal.c). Not a public API.
 */
#ifndef VEIL_ROUTE_INT_H
#define VEIL_ROUTE_INT_H

#include "veil/route.h"

/* A sealed layer is eph_pk(32) || AEAD(plaintext(ROUTE_LAYER_PLAIN)) tag(16). */
#define ROUTE_LAYER_PLAIN (VEIL_ROUTE_LAYER_BYTES - 32 - 16)
/* kind(1) peer(32) next_id(8) max_bytes(8) rate(4) idle(4) | source MAC
 * (16: the destination's layer only, zero in a relay's) | zero. */
#define ROUTE_LAYER_USED     57
#define ROUTE_LAYER_MAC      16
#define ROUTE_LAYER_FORWARD  1
#define ROUTE_LAYER_TERMINAL 2

/* BLAKE2b-512("veil-route-hop-v2" || dh || eph_pk || hop_pk) split in two. */
int route_hop_keys(const uint8_t dh[32], const uint8_t eph_pk[32], const uint8_t hop_pk[32],
                   uint8_t setup_key[32], uint8_t data_key[32]) VEIL_WARN_UNUSED;
/* The source's MAC in the destination's layer: BLAKE2b-128 keyed by
 * BLAKE2b-256("veil-route-src-v1" || X25519(source, destination) || src_ed
 * || dst_ed) over eph_pk || link id || the layer's first ROUTE_LAYER_USED
 * plaintext bytes. x_sk is one side's X25519 secret, x_pk the other's
 * public key (the agreement is the same from both ends). */
int route_src_mac(uint8_t mac[ROUTE_LAYER_MAC], const uint8_t x_sk[32], const uint8_t x_pk[32],
                  const uint8_t src_ed[32], const uint8_t dst_ed[32], const uint8_t eph_pk[32],
                  uint64_t in_id, const uint8_t pt[ROUTE_LAYER_USED]) VEIL_WARN_UNUSED;
void route_layer_ad(uint8_t ad[9], uint8_t type, uint64_t id);
void route_put_u64(uint8_t *p, uint64_t v);

/* DATA cell layers (route_cipher.c), through reused OpenSSL contexts:
 * route_cipher_new(seal) makes the contexts of a source (seal) or a relay
 * (open); NULL when out of memory. _xor applies a relay's layer (AES-256-CTR
 * keystream, in == out allowed); _seal writes len + VEIL_ROUTE_LAYER_TAG
 * bytes (the destination's layer); _open checks and strips it (clen >=
 * the tag), wiping out when the tag is wrong. Nonce: 0^4 || ctr. */
struct veil_route_cipher *route_cipher_new(bool seal);
void route_cipher_free(struct veil_route_cipher *c);
int route_cipher_xor(struct veil_route_cipher *c, const uint8_t key[32], uint64_t ctr, uint8_t *out,
                     const uint8_t *in, size_t len) VEIL_WARN_UNUSED;
int route_cipher_seal(struct veil_route_cipher *c, const uint8_t key[32], uint64_t ctr,
                      uint8_t *out, const uint8_t *in, size_t len) VEIL_WARN_UNUSED;
int route_cipher_open(struct veil_route_cipher *c, const uint8_t key[32], uint64_t ctr,
                      uint8_t *out, const uint8_t *in, size_t clen) VEIL_WARN_UNUSED;

/* Reads a codec's 3-byte magic and version byte; the errors name `what`
 * ("<what>: bad magic", "<what>: version N"). */
int route_read_header(veil_reader *r, const uint8_t magic[3], uint8_t version, const char *what,
                      veil_err *err) VEIL_WARN_UNUSED;

#endif /* VEIL_ROUTE_INT_H */
