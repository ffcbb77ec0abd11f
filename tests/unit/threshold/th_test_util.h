// SPDX-License-Identifier: Apache-2.0
/*
 * th_test_util.h - what the threshold tests share: holder identities, a
 * random binary squashing secret, squashed blocks encrypted directly in the
 * squash.h format (b = <a, s> + v 2^123 + e, |e| < 2^70) with a chosen noise,
 * and a dealing opened for every holder.
 */
#ifndef TH_TEST_UTIL_H
#define TH_TEST_UTIL_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "th_internal.h"

struct th_fixture {
    unsigned n, t;
    uint8_t pk[VEIL_TH_MAX_HOLDERS][VEIL_TH_PK_SIZE];
    uint8_t sk[VEIL_TH_MAX_HOLDERS][VEIL_TH_SK_SIZE];
    veil_sq_secret secret;
    veil_th_public pub;
    veil_buf sealed[VEIL_TH_MAX_HOLDERS];
    veil_th_share *share[VEIL_TH_MAX_HOLDERS];
};

static inline veil_u128 th_test_rand128(void)
{
    veil_u128 v;
    veil_random_bytes(&v, sizeof v);
    return v;
}

/* Uniform noise in (-2^70, 2^70). */
static inline veil_u128 th_test_noise(void)
{
    const veil_u128 bound = (veil_u128)1 << VEIL_SQ_LOG_NOISE_BOUND;
    veil_u128 x = th_test_rand128() & ((bound << 1) - 1);
    return x == 0 ? 0 : x - bound;
}

static inline void th_test_encrypt_block(const veil_sq_secret *s, unsigned v, veil_u128 e,
                                         veil_sq_block *blk)
{
    veil_random_bytes(blk->a, sizeof blk->a);
    veil_u128 dot = 0;
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++)
        dot += blk->a[j] * s->s[j];
    blk->b = dot + ((veil_u128)v << VEIL_SQ_LOG_DELTA) + e;
}

/* A squashed integer of `width` bits holding value (block values v = 2-bit
 * digits), or explicit block values when blocks != NULL. */
static inline int th_test_encrypt(const veil_sq_secret *s, uint32_t width, uint64_t value,
                                  const unsigned *blocks, veil_sq_ct *ct)
{
    ct->width = width;
    ct->encoding = VEIL_SQ_ENC_BLOCKS;
    ct->nblocks = th_blocks_for_width(width);
    ct->blocks = calloc(ct->nblocks, sizeof *ct->blocks);
    if (!ct->blocks)
        return -1;
    for (uint32_t b = 0; b < ct->nblocks; b++) {
        unsigned v = blocks ? blocks[b] : (unsigned)((value >> (2 * b)) & 3u);
        th_test_encrypt_block(s, v, th_test_noise(), &ct->blocks[b]);
    }
    return 0;
}

/* The same value in the packed encoding (4-bit digits, squash.h). */
static inline int th_test_encrypt_packed(const veil_sq_secret *s, uint32_t width, uint64_t value,
                                         veil_sq_ct *ct)
{
    ct->width = width;
    ct->encoding = VEIL_SQ_ENC_PACKED;
    ct->nblocks = veil_sq_blocks_for(width, VEIL_SQ_ENC_PACKED);
    ct->blocks = calloc(ct->nblocks, sizeof *ct->blocks);
    if (!ct->blocks)
        return -1;
    for (uint32_t b = 0; b < ct->nblocks; b++)
        th_test_encrypt_block(s, (unsigned)((value >> (4 * b)) & 15u), th_test_noise(),
                              &ct->blocks[b]);
    return 0;
}

static inline void th_test_ct_free(veil_sq_ct *ct)
{
    free(ct->blocks);
    ct->blocks = NULL;
}

static inline int th_fixture_init(struct th_fixture *f, unsigned n, unsigned t)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->t = t;
    for (unsigned i = 0; i < n; i++)
        crypto_sign_keypair(f->pk[i], f->sk[i]);
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++)
        f->secret.s[j] = (uint8_t)(veil_random_u64() & 1);
    for (unsigned i = 0; i < n; i++)
        veil_buf_init(&f->sealed[i]);
    veil_err err = {0};
    if (veil_th_deal(&f->secret, n, t, (const uint8_t(*)[VEIL_TH_PK_SIZE])f->pk, &f->pub, f->sealed,
                     &err) != 0) {
        fprintf(stderr, "deal: %s\n", err.msg);
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        if (veil_th_share_open(f->sealed[i].data, f->sealed[i].len, f->sk[i], &f->share[i], &err) !=
            0) {
            fprintf(stderr, "open %u: %s\n", i + 1, err.msg);
            return -1;
        }
    return 0;
}

static inline void th_fixture_free(struct th_fixture *f)
{
    for (unsigned i = 0; i < f->n; i++) {
        veil_th_share_free(f->share[i]);
        veil_buf_free(&f->sealed[i]);
    }
    veil_memzero(f, sizeof *f);
}

#endif /* TH_TEST_UTIL_H */
