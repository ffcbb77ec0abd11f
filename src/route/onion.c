// SPDX-License-Identifier: Apache-2.0
/*
 * onion.c - the source's side of a multi-hop path: the SETUP cell that
 * gives each hop (relays, then the destination) its own key and its next
 * hop in a layer only that hop can open, and DATA cells sealed for the
 * destination, then wrapped in one keystream layer per relay (the ciphers:
 * route_cipher.c). Cell formats and the key schedule: docs/ROUTING.md.
 */
#include <sodium.h>
#include <string.h>

#include "route_int.h"

int route_hop_keys(const uint8_t dh[32], const uint8_t eph_pk[32], const uint8_t hop_pk[32],
                   uint8_t setup_key[32], uint8_t data_key[32])
{
    static const char label[] = "veil-route-hop-v2";
    uint8_t out[64];
    crypto_generichash_state st;
    if (crypto_generichash_init(&st, NULL, 0, sizeof out) != 0)
        return -1;
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, dh, 32);
    crypto_generichash_update(&st, eph_pk, 32);
    crypto_generichash_update(&st, hop_pk, 32);
    crypto_generichash_final(&st, out, sizeof out);
    memcpy(setup_key, out, 32);
    memcpy(data_key, out + 32, 32);
    sodium_memzero(out, sizeof out);
    sodium_memzero(&st, sizeof st);
    return 0;
}

void route_layer_ad(uint8_t ad[9], uint8_t type, uint64_t id)
{
    ad[0] = type;
    for (int i = 0; i < 8; i++)
        ad[1 + i] = (uint8_t)(id >> (56 - 8 * i));
}

void route_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* The plaintext of one hop's layer. */
static void put_layer_plain(uint8_t pt[ROUTE_LAYER_PLAIN], bool terminal,
                            const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], uint64_t next_id,
                            const struct veil_route_limits *l)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_put_u8(&b, terminal ? ROUTE_LAYER_TERMINAL : ROUTE_LAYER_FORWARD);
    veil_buf_put(&b, peer, VEIL_ANCHOR_KEY_BYTES);
    veil_buf_put_u64be(&b, next_id);
    veil_buf_put_u64be(&b, l->max_bytes);
    veil_buf_put_u32be(&b, l->rate_bytes_s);
    veil_buf_put_u32be(&b, l->idle_ms);
    memset(pt, 0, ROUTE_LAYER_PLAIN);
    if (veil_buf_ok(&b) && b.len <= ROUTE_LAYER_PLAIN)
        memcpy(pt, b.data, b.len);
    veil_buf_free(&b);
}

int route_src_mac(uint8_t mac[ROUTE_LAYER_MAC], const uint8_t x_sk[32], const uint8_t x_pk[32],
                  const uint8_t src_ed[32], const uint8_t dst_ed[32], const uint8_t eph_pk[32],
                  uint64_t in_id, const uint8_t pt[ROUTE_LAYER_USED])
{
    static const char label[] = "veil-route-src-v1";
    uint8_t ss[32], key[32], id[8];
    crypto_generichash_state st;
    int rc = -1;
    if (crypto_scalarmult(ss, x_sk, x_pk) != 0)
        goto out;
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, ss, sizeof ss);
    crypto_generichash_update(&st, src_ed, 32);
    crypto_generichash_update(&st, dst_ed, 32);
    crypto_generichash_final(&st, key, sizeof key);
    route_put_u64(id, in_id);
    crypto_generichash_init(&st, key, sizeof key, ROUTE_LAYER_MAC);
    crypto_generichash_update(&st, eph_pk, 32);
    crypto_generichash_update(&st, id, sizeof id);
    crypto_generichash_update(&st, pt, ROUTE_LAYER_USED);
    crypto_generichash_final(&st, mac, ROUTE_LAYER_MAC);
    rc = 0;
out:
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    sodium_memzero(&st, sizeof st);
    return rc;
}

/* Seals hop i's layer into `layer` (VEIL_ROUTE_LAYER_BYTES) for the link
 * id `in_id`; keeps the hop's data key in o->keys[i]. src_x_sk (the
 * source's static X25519 secret) is given for the destination's layer
 * only: its MAC goes into pt before sealing. */
static int seal_layer(struct veil_route_onion *o, size_t i, const uint8_t hop_ed[32],
                      uint64_t in_id, const uint8_t *src_x_sk, const uint8_t src_ed[32],
                      uint8_t pt[ROUTE_LAYER_PLAIN], uint8_t *layer, veil_err *err)
{
    uint8_t hop_x[32], eph_sk[32], dh[32], setup_key[32], ad[9];
    int rc = -1;
    if (crypto_sign_ed25519_pk_to_curve25519(hop_x, hop_ed) != 0) {
        veil_err_set(err, VEIL_E_CRYPTO, "onion: hop %zu has no valid identity key", i);
        goto out;
    }
    crypto_box_keypair(layer, eph_sk);
    if (crypto_scalarmult(dh, eph_sk, hop_x) != 0 ||
        route_hop_keys(dh, layer, hop_x, setup_key, o->keys[i]) != 0 ||
        (src_x_sk && route_src_mac(pt + ROUTE_LAYER_USED, src_x_sk, hop_x, src_ed, hop_ed, layer,
                                   in_id, pt) != 0)) {
        veil_err_set(err, VEIL_E_CRYPTO, "onion: key agreement with hop %zu failed", i);
        goto out;
    }
    static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    route_layer_ad(ad, VEIL_ROUTE_CELL_SETUP, in_id);
    crypto_aead_chacha20poly1305_ietf_encrypt(layer + 32, NULL, pt, ROUTE_LAYER_PLAIN, ad,
                                              sizeof ad, NULL, zero_nonce, setup_key);
    rc = 0;
out:
    sodium_memzero(eph_sk, sizeof eph_sk);
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(setup_key, sizeof setup_key);
    return rc;
}

int veil_route_onion_build(struct veil_route_onion *o, const uint8_t src_sk[64],
                           const struct veil_route_hop *hops, size_t n,
                           const struct veil_route_limits *limits, uint8_t *cell, veil_err *err)
{
    memset(o, 0, sizeof *o);
    if (n == 0 || n > VEIL_ROUTE_HOPS_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "onion: %zu hops (1..%d)", n, VEIL_ROUTE_HOPS_MAX);
    const uint8_t *src = src_sk + 32; /* libsodium: seed || public key */
    uint8_t src_x[32];
    if (crypto_sign_ed25519_sk_to_curve25519(src_x, src_sk) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "onion: unusable source key");
    uint64_t ids[VEIL_ROUTE_HOPS_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        ids[i] = veil_random_u64();
    cell[0] = VEIL_ROUTE_CELL_SETUP;
    route_put_u64(cell + 1, ids[0]);
    uint8_t *layers = cell + 9;
    randombytes_buf(layers, VEIL_ROUTE_HOPS_MAX * VEIL_ROUTE_LAYER_BYTES);
    uint8_t pt[ROUTE_LAYER_PLAIN];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool terminal = i + 1 == n;
        put_layer_plain(pt, terminal, terminal ? src : hops[i + 1].identity, ids[i + 1], limits);
        rc = seal_layer(o, i, hops[i].identity, ids[i], terminal ? src_x : NULL, src, pt,
                        layers + i * VEIL_ROUTE_LAYER_BYTES, err);
    }
    /* the layers' plaintext names every hop and the source: not left on
     * the stack */
    veil_memzero(pt, sizeof pt);
    veil_memzero(src_x, sizeof src_x);
    if (rc != 0) {
        veil_route_onion_wipe(o);
        return -1;
    }
    o->n_hops = n;
    memcpy(o->first_hop, hops[0].identity, VEIL_ANCHOR_KEY_BYTES);
    o->first_id = ids[0];
    o->counter = 1;
    return 0;
}

int veil_route_onion_wrap(struct veil_route_onion *o, const uint8_t *payload, size_t len,
                          uint8_t *out, size_t out_cap, size_t *out_len, veil_err *err)
{
    size_t total = VEIL_ROUTE_DATA_HEADER + len + VEIL_ROUTE_LAYER_TAG;
    if (o->n_hops == 0)
        return veil_err_set(err, VEIL_E_STATE, "onion: path not built");
    if (total > out_cap || total > VEIL_ROUTE_CELL_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "onion: %zu-byte cell does not fit", total);
    if (o->counter == UINT64_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "onion: counter exhausted, rebuild the path");
    if (!o->cipher && !(o->cipher = route_cipher_new(true)))
        return veil_err_set(err, VEIL_E_NOMEM, "onion: no cipher context");
    uint64_t ctr = o->counter++;
    uint8_t *body = out + VEIL_ROUTE_DATA_HEADER;
    /* sealed straight from payload into the cell; one that overlaps the
     * cell elsewhere is moved first (EVP refuses partly overlapping runs) */
    const uint8_t *in = payload;
    uintptr_t p = (uintptr_t)payload, b = (uintptr_t)body;
    if (p != b && p < b + len && b < p + len) {
        memmove(body, payload, len);
        in = body;
    }
    /* the destination's layer innermost, then the relays' from the last */
    int rc = route_cipher_seal(o->cipher, o->keys[o->n_hops - 1], ctr, body, in, len);
    for (size_t i = o->n_hops - 1; rc == 0 && i-- > 0;)
        rc = route_cipher_xor(o->cipher, o->keys[i], ctr, body, body, len + VEIL_ROUTE_LAYER_TAG);
    if (rc != 0) {
        veil_memzero(body, len + VEIL_ROUTE_LAYER_TAG);
        return veil_err_set(err, VEIL_E_CRYPTO, "onion: data layer failed");
    }
    out[0] = VEIL_ROUTE_CELL_DATA;
    route_put_u64(out + 1, o->first_id);
    route_put_u64(out + 9, ctr);
    *out_len = total;
    return 0;
}

void veil_route_onion_wipe(struct veil_route_onion *o)
{
    route_cipher_free(o->cipher);
    sodium_memzero(o, sizeof *o);
}
