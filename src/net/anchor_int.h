// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_int.h - the Anchor protocol's internals shared by src/net/anchor*.c:
 * the Noise-style symmetric state and key derivation (anchor_crypto.c), the
 * sliding replay window (anchor_replay.c) and the two-message hybrid
 * handshake (anchor_hs.c). The state machine that uses them is anchor.c.
 */
#ifndef VEIL_NET_ANCHOR_INT_H
#define VEIL_NET_ANCHOR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/pq.h>

#include "anchor_wire.h"

/* ---- symmetric state (anchor_crypto.c) ---------------------------------- */

#define ANCHOR_HASH_BYTES 32

/* Chaining key, transcript hash, current handshake key (each key is used
 * for exactly one AEAD message, at nonce 0). */
struct anchor_sym {
    uint8_t ck[ANCHOR_HASH_BYTES], h[ANCHOR_HASH_BYTES], k[32];
};

/* h = ck = HASH(protocol name), then h = HASH(h || prologue || responder id). */
void anchor_sym_init(struct anchor_sym *s, const uint8_t responder_id[VEIL_ANCHOR_KEY_BYTES]);
void anchor_sym_mix_hash(struct anchor_sym *s, const uint8_t *data, size_t len);
/* ck, k = HKDF(ck, ikm). */
void anchor_sym_mix_key(struct anchor_sym *s, const uint8_t *ikm, size_t len);
/* out (len + 16 bytes) = AEAD(k, 0, h, in); then h = HASH(h || out). */
void anchor_sym_encrypt(struct anchor_sym *s, uint8_t *out, const uint8_t *in, size_t len);
/* Inverse of anchor_sym_encrypt; -1 when the tag does not verify. */
int anchor_sym_decrypt(struct anchor_sym *s, uint8_t *out, const uint8_t *in,
                       size_t len) VEIL_WARN_UNUSED;
/* The two transport keys: HKDF(ck, h) -> (initiator->responder, responder->initiator). */
void anchor_sym_split(const struct anchor_sym *s, uint8_t i2r[32], uint8_t r2i[32]);

/* 16-byte keyed BLAKE2b MAC (mac1, mac2, cookies). */
void anchor_mac16(uint8_t out[ANCHOR_MAC_BYTES], const uint8_t *key, size_t key_len,
                  const uint8_t *data, size_t len);
/* HASH(label || identity): the mac1 key and the cookie-encryption key of a node. */
void anchor_label_key(uint8_t out[32], const char label[8],
                      const uint8_t identity[VEIL_ANCHOR_KEY_BYTES]);

/* Transport AEAD, ChaCha20-Poly1305 (RFC 8439) on OpenSSL's EVP with a
 * context from anchor_aead_new (one to seal, one to open; NULL when out of
 * memory; EVP_CIPHER_CTX_free clears it): out gets len + 16 bytes
 * (ciphertext and tag); open writes ct_len - 16 bytes and returns -1 when
 * the tag fails. anchor_aead_key installs a key in a context once; seal and
 * open then take key NULL (only the nonce changes per packet), or a key to
 * install for this packet. */
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
EVP_CIPHER_CTX *anchor_aead_new(bool seal);
int anchor_aead_key(EVP_CIPHER_CTX *c, const uint8_t key[32], bool seal) VEIL_WARN_UNUSED;
int anchor_aead_seal(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *pt, size_t len,
                     const uint8_t *aad, size_t aad_len, const uint8_t nonce[12],
                     const uint8_t *key) VEIL_WARN_UNUSED;
int anchor_aead_open(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *ct, size_t ct_len,
                     const uint8_t *aad, size_t aad_len, const uint8_t nonce[12],
                     const uint8_t *key) VEIL_WARN_UNUSED;

/* ---- replay window (anchor_replay.c) ------------------------------------ */

#define ANCHOR_REPLAY_BITS 8192 /* window = bits - 64 = 8128 packets */
struct anchor_replay {
    uint64_t top; /* greatest counter accepted */
    uint64_t words[ANCHOR_REPLAY_BITS / 64];
};
/* True if counter is inside the window and not yet seen (check before
 * decrypting; update only after the packet authenticated). */
bool anchor_replay_check(const struct anchor_replay *w, uint64_t counter);
void anchor_replay_update(struct anchor_replay *w, uint64_t counter);

/* ---- handshake (anchor_hs.c) -------------------------------------------- */

/* This node's long-term keys, derived once from its Ed25519 identity. */
struct anchor_self {
    uint8_t id_pk[VEIL_ANCHOR_KEY_BYTES], id_sk[64];
    uint8_t x_pk[32], x_sk[32]; /* X25519 form of the identity */
    uint8_t mac1_key[32];       /* HASH("mac1----" || id_pk) */
    uint8_t cookie_key[32];     /* HASH("cookie--" || id_pk) */
    uint8_t *cred;
    size_t cred_len;
    struct veil_anchor_cred_info info;
    veil_anchor_verify_fn verify;
    void *verify_ctx;
    bool classical_only; /* veil_anchor_config.bench_classical_only */
};

int anchor_self_init(struct anchor_self *self, const struct veil_anchor_local *local,
                     uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
void anchor_self_wipe(struct anchor_self *self);

/* An initiation in flight (initiator side). */
struct anchor_hs_pending {
    uint32_t local_idx;
    uint8_t e_sk[32], e_pk[32];
    uint8_t kem_ek[VEIL_MLKEM768_EK_BYTES], kem_dk[VEIL_MLKEM768_DK_BYTES];
    struct anchor_sym sym;
    uint8_t mac1[ANCHOR_MAC_BYTES]; /* of the last initiation sent (cookie replies bind it) */
};

/* The outcome of a completed handshake on either side. */
struct anchor_hs_result {
    uint8_t peer_id[VEIL_ANCHOR_KEY_BYTES];
    uint64_t timestamp; /* responder side: the initiation's timestamp */
    uint32_t remote_idx;
    uint8_t send_key[32], recv_key[32];
    struct veil_anchor_cred_info info;
};

/* Initiator: builds an initiation to peer_id into out (with mac1, and mac2
 * when a cookie is given). */
int anchor_hs_initiate(const struct anchor_self *self, const uint8_t peer_id[VEIL_ANCHOR_KEY_BYTES],
                       uint32_t local_idx, uint64_t ts, const uint8_t *cookie,
                       struct anchor_hs_pending *st, veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;

/* Responder, step 1: authenticates an initiation (the mac checks are the
 * caller's): decrypts it, checks the signature and the credential. res gets
 * the initiator's identity, credential info and timestamp; sym the state to
 * answer from. The caller then checks containment and the timestamp. */
int anchor_hs_accept(const struct anchor_self *self, const struct anchor_init *m, uint64_t now_ms,
                     struct anchor_sym *sym, struct anchor_hs_result *res,
                     veil_err *err) VEIL_WARN_UNUSED;
/* Responder, step 2: the response into out and the session keys into res. */
int anchor_hs_answer(const struct anchor_self *self, struct anchor_sym *sym,
                     const struct anchor_init *m, uint32_t local_idx, struct anchor_hs_result *res,
                     veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;

/* Initiator: authenticates a response to st from peer_id. */
int anchor_hs_finish(const struct anchor_self *self, struct anchor_hs_pending *st,
                     const uint8_t peer_id[VEIL_ANCHOR_KEY_BYTES], const struct anchor_resp *m,
                     uint64_t now_ms, struct anchor_hs_result *res, veil_err *err) VEIL_WARN_UNUSED;

#endif /* VEIL_NET_ANCHOR_INT_H */
