// SPDX-License-Identifier: Apache-2.0
/*
 * core/rng.h - the CSPRNG behind every TFHE key and ciphertext (private).
 *
 * A ChaCha20 keystream (libsodium) addressed by (32-byte seed, 64-bit stream
 * id): independent streams let key generation run on many threads and still
 * give byte-identical keys for one seed. Production seeds come from
 * veil_random_bytes(); fixed seeds are for tests and for regenerating the
 * public (mask) half of seeded keys. Samplers: uniform torus words, binary
 * keys, and TUniform(b) noise (uniform on [-2^b, 2^b], both ends at half
 * weight, as TFHE-rs defines it).
 */
#ifndef VEIL_FHE_CORE_RNG_H
#define VEIL_FHE_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

#define VEIL_FHE_SEED_LEN 32
#define VEIL_FHE_RNG_BUF  2048

struct veil_fhe_rng {
    uint8_t key[VEIL_FHE_SEED_LEN];
    uint8_t nonce[8];
    uint64_t next_block; /* ChaCha20 block counter of the next refill */
    size_t pos;          /* bytes of buf already used */
    uint8_t buf[VEIL_FHE_RNG_BUF];
};

void veil_fhe_rng_init(struct veil_fhe_rng *r, const uint8_t seed[VEIL_FHE_SEED_LEN],
                       uint64_t stream);
/* A fresh stream seeded from the system CSPRNG. */
void veil_fhe_rng_init_random(struct veil_fhe_rng *r);
void veil_fhe_rng_wipe(struct veil_fhe_rng *r);
/* A fresh seed from the system CSPRNG (libsodium initialised first). */
void veil_fhe_random_seed(uint8_t out[VEIL_FHE_SEED_LEN]);

uint64_t veil_fhe_rng_u64(struct veil_fhe_rng *r);
void veil_fhe_rng_uniform(struct veil_fhe_rng *r, uint64_t *out, size_t n);
void veil_fhe_rng_binary(struct veil_fhe_rng *r, uint64_t *out, size_t n);
uint64_t veil_fhe_rng_tuniform(struct veil_fhe_rng *r, unsigned log2_bound);
void veil_fhe_rng_tuniform_add(struct veil_fhe_rng *r, uint64_t *inout, size_t n,
                               unsigned log2_bound);

/* Variance of TUniform(2^b) in absolute units: (2^(2b+1) + 1) / 6. */
double veil_fhe_tuniform_variance(unsigned log2_bound);

/* Derives a sub-seed: BLAKE2b-256(label || seed). */
void veil_fhe_seed_derive(uint8_t out[VEIL_FHE_SEED_LEN], const uint8_t seed[VEIL_FHE_SEED_LEN],
                          const char *label);

#endif /* VEIL_FHE_CORE_RNG_H */
