// SPDX-License-Identifier: Apache-2.0
/*
 * keys.h - TFHE keys (private to src/fhe/): the client key (secret), the
 * server key (Fourier bootstrapping key + keyswitching key), the compact
 * public key and compact ciphertext lists.
 *
 * Generation is deterministic for a given seed and multi-threaded: every
 * GGSW / keyswitch row draws its mask from its own ChaCha20 stream of a
 * public mask seed and its noise from its own stream of a secret noise
 * seed, so the thread count never changes a byte. Because masks are
 * regenerated from the mask seed, the serialized server and public keys
 * carry only the seed and the bodies (TFHE-rs calls this a seeded or
 * compressed key).
 */
#ifndef VEIL_FHE_KEYS_H
#define VEIL_FHE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#include "core/fft.h"
#include "core/pbs.h"
#include "core/rng.h"
#include "params.h"
#include "shortint.h"

struct veil_threadpool;

/* Secret key. Freed with veil_fhe_client_key_free (wipes). */
struct veil_shortint_client_key {
    const struct veil_fhe_params *params;
    uint64_t *small_key; /* lwe_dim words, each 0 or 1 */
    uint64_t *big_key;   /* glwe_dim * poly_size words, 0 or 1: GLWE key = big LWE key */
};

/* Evaluation key. Read-only after generation/load: safe to share between
 * threads. */
struct veil_shortint_server_key {
    const struct veil_fhe_params *params;
    const struct veil_fhe_fft *fft;
    struct veil_fhe_bsk_shape bsk_shape;
    uint8_t mask_seed[VEIL_FHE_SEED_LEN];
    double *bsk_fourier;  /* lwe_dim Fourier GGSWs */
    uint64_t *bsk_bodies; /* lwe_dim * (k+1)*level rows * N: row bodies (for saving) */
    uint64_t *ksk_bodies; /* big_dim * ks_level: KSK bodies (masks come from mask_seed) */
    uint32_t *ksk32;      /* big_dim * ks_level rows of lwe_dim+1 words: the KSK rounded to
                             32 bits (veil_fhe_lwe_keyswitch32) */
};

/* Compact public key: an RLWE sample (a, b = a*S + e) over Z/2^64[X]/(X^M+1)
 * with M = k*N, under the big key read as one polynomial of degree M. */
struct veil_fhe_public_key {
    const struct veil_fhe_params *params;
    uint8_t mask_seed[VEIL_FHE_SEED_LEN];
    uint64_t *a; /* M words, regenerated from mask_seed */
    uint64_t *b; /* M words */
};

/* Compact ciphertext list: one RLWE encryption (mask, body) of M words
 * carrying `count` <= M message blocks (values < message_modulus) in the
 * body's first coefficients. */
struct veil_fhe_compact_list {
    const struct veil_fhe_params *params;
    size_t count;
    uint64_t *mask; /* M words */
    uint64_t *body; /* M words */
};

/* ---- client key ---- */
/* seed NULL: from the system CSPRNG (production); a fixed seed is for tests. */
int veil_fhe_client_key_generate(struct veil_shortint_client_key **out,
                                 const struct veil_fhe_params *p,
                                 const uint8_t seed[VEIL_FHE_SEED_LEN], veil_err *err);
void veil_fhe_client_key_free(struct veil_shortint_client_key *ck);
/* Allocates an empty key for p (loaders fill it). */
int veil_fhe_client_key_alloc(struct veil_shortint_client_key **out,
                              const struct veil_fhe_params *p, veil_err *err);

/* ---- server key ---- */
/* seed NULL: random. pool NULL: this thread only. Same seed, same bytes. */
int veil_fhe_server_key_generate(struct veil_shortint_server_key **out,
                                 const struct veil_shortint_client_key *ck,
                                 const uint8_t seed[VEIL_FHE_SEED_LEN],
                                 struct veil_threadpool *pool, veil_err *err);
void veil_fhe_server_key_free(struct veil_shortint_server_key *sk);
/* Allocates a key for p with zero bodies (loaders fill mask_seed,
 * bsk_bodies and ksk_bodies, then call veil_fhe_server_key_expand). */
int veil_fhe_server_key_alloc(struct veil_shortint_server_key **out,
                              const struct veil_fhe_params *p, veil_err *err);
/* Regenerates masks from mask_seed and builds the Fourier BSK and the
 * 32-bit KSK from the stored bodies. */
int veil_fhe_server_key_expand(struct veil_shortint_server_key *sk, struct veil_threadpool *pool,
                               veil_err *err);
/* Words of the KSK bodies (big_dim * ks_level) and of the BSK bodies. */
size_t veil_fhe_server_key_ksk_rows(const struct veil_fhe_params *p);
size_t veil_fhe_server_key_bsk_body_words(const struct veil_fhe_params *p);
/* Bytes held in memory by a server key (Fourier BSK + 32-bit KSK + bodies). */
size_t veil_fhe_server_key_memory(const struct veil_fhe_params *p);

/* ---- compact public key ---- */
int veil_fhe_public_key_generate(struct veil_fhe_public_key **out,
                                 const struct veil_shortint_client_key *ck,
                                 const uint8_t seed[VEIL_FHE_SEED_LEN], veil_err *err);
void veil_fhe_public_key_free(struct veil_fhe_public_key *pk);
int veil_fhe_public_key_alloc(struct veil_fhe_public_key **out, const struct veil_fhe_params *p,
                              veil_err *err);
/* Recomputes a from mask_seed (after loading). */
void veil_fhe_public_key_expand(struct veil_fhe_public_key *pk);

/* ---- compact lists ---- */
/* Encrypts values[0..count) (each < message_modulus, count <= k*N) with the
 * public key. */
int veil_fhe_compact_list_encrypt(struct veil_fhe_compact_list **out,
                                  const struct veil_fhe_public_key *pk, const uint64_t *values,
                                  size_t count, veil_err *err);
int veil_fhe_compact_list_alloc(struct veil_fhe_compact_list **out, const struct veil_fhe_params *p,
                                size_t count, veil_err *err);
void veil_fhe_compact_list_free(struct veil_fhe_compact_list *list);
/* Block `index` as a shortint ciphertext (out already initialised for the
 * list's params); degree message_modulus - 1. */
int veil_fhe_compact_list_expand(const struct veil_fhe_compact_list *list, size_t index,
                                 struct veil_shortint_ct *out, veil_err *err);

/* The phase error of `ct` against the plaintext m (signed, in torus units
 * of 2^-64), computed with the client key: for noise measurements. */
int64_t veil_fhe_noise_of(const struct veil_shortint_client_key *ck,
                          const struct veil_shortint_ct *ct, uint64_t m);

#endif /* VEIL_FHE_KEYS_H */
