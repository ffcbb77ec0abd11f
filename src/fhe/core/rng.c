// SPDX-License-Identifier: Apache-2.0
/*
 * core/rng.c - ChaCha20-stream CSPRNG and the TFHE samplers (see rng.h).
 */
#include "rng.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/base.h>

static const uint8_t veil_fhe_zero_block[VEIL_FHE_RNG_BUF];

/* libsodium must be initialised before randombytes is used from several
 * threads; it also selects the fastest ChaCha20 code. Idempotent. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static void sodium_init_once(void)
{
    if (sodium_init() < 0)
        abort(); /* no CSPRNG: no key or ciphertext may be produced */
}

static void rng_refill(struct veil_fhe_rng *r)
{
    crypto_stream_chacha20_xor_ic(r->buf, veil_fhe_zero_block, VEIL_FHE_RNG_BUF, r->nonce,
                                  r->next_block, r->key);
    r->next_block += VEIL_FHE_RNG_BUF / 64;
    r->pos = 0;
}

void veil_fhe_rng_init(struct veil_fhe_rng *r, const uint8_t seed[VEIL_FHE_SEED_LEN],
                       uint64_t stream)
{
    pthread_once(&sodium_once, sodium_init_once);
    memcpy(r->key, seed, VEIL_FHE_SEED_LEN);
    for (int i = 0; i < 8; i++)
        r->nonce[i] = (uint8_t)(stream >> (8 * i));
    r->next_block = 0;
    r->pos = VEIL_FHE_RNG_BUF;
}

void veil_fhe_rng_init_random(struct veil_fhe_rng *r)
{
    uint8_t seed[VEIL_FHE_SEED_LEN];
    veil_random_bytes(seed, sizeof seed);
    veil_fhe_rng_init(r, seed, 0);
    veil_memzero(seed, sizeof seed);
}

void veil_fhe_random_seed(uint8_t out[VEIL_FHE_SEED_LEN])
{
    pthread_once(&sodium_once, sodium_init_once);
    veil_random_bytes(out, VEIL_FHE_SEED_LEN);
}

void veil_fhe_rng_wipe(struct veil_fhe_rng *r)
{
    veil_memzero(r, sizeof *r);
}

uint64_t veil_fhe_rng_u64(struct veil_fhe_rng *r)
{
    if (r->pos + 8 > VEIL_FHE_RNG_BUF)
        rng_refill(r);
    const uint8_t *p = r->buf + r->pos;
    r->pos += 8;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void veil_fhe_rng_uniform(struct veil_fhe_rng *r, uint64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = veil_fhe_rng_u64(r);
}

void veil_fhe_rng_binary(struct veil_fhe_rng *r, uint64_t *out, size_t n)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 64 == 0)
            bits = veil_fhe_rng_u64(r);
        out[i] = bits & 1;
        bits >>= 1;
    }
}

/* TUniform(2^b): draw b+2 uniform bits x; (x >> 1) + (x & 1) is then
 * uniform on [0, 2^(b+1)] except that both ends have half the weight; shift
 * by 2^b to centre it (TFHE-rs, core_crypto/commons/math/random/t_uniform.rs). */
uint64_t veil_fhe_rng_tuniform(struct veil_fhe_rng *r, unsigned log2_bound)
{
    uint64_t x = veil_fhe_rng_u64(r) & ((UINT64_C(1) << (log2_bound + 2)) - 1);
    return (x >> 1) + (x & 1) - (UINT64_C(1) << log2_bound);
}

void veil_fhe_rng_tuniform_add(struct veil_fhe_rng *r, uint64_t *inout, size_t n,
                               unsigned log2_bound)
{
    for (size_t i = 0; i < n; i++)
        inout[i] += veil_fhe_rng_tuniform(r, log2_bound);
}

double veil_fhe_tuniform_variance(unsigned log2_bound)
{
    double b = (double)(UINT64_C(1) << log2_bound);
    return (2.0 * b * b + 1.0) / 6.0;
}

void veil_fhe_seed_derive(uint8_t out[VEIL_FHE_SEED_LEN], const uint8_t seed[VEIL_FHE_SEED_LEN],
                          const char *label)
{
    crypto_generichash_state st;
    pthread_once(&sodium_once, sodium_init_once);
    crypto_generichash_init(&st, NULL, 0, VEIL_FHE_SEED_LEN);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
    crypto_generichash_update(&st, seed, VEIL_FHE_SEED_LEN);
    crypto_generichash_final(&st, out, VEIL_FHE_SEED_LEN);
    veil_memzero(&st, sizeof st);
}
