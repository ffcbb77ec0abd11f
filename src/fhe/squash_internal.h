// SPDX-License-Identifier: Apache-2.0
/*
 * squash_internal.h - what the noise-squashing files (squash.c, squash_io.c)
 * share (private to src/fhe/): the squashing key's layout, its fixed
 * parameters and the container kinds of its files. The accessors into
 * api.c's handles are api_internal.h's.
 */
#ifndef VEIL_FHE_SQUASH_INTERNAL_H
#define VEIL_FHE_SQUASH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/fhe.h>
#include <veil/squash.h>

#include "core/ntt128.h"
#include "core/pbs128.h"
#include "core/rng.h"
#include "serialize.h"

struct veil_shortint_client_key;
struct veil_shortint_server_key;
struct veil_radix;
struct veil_threadpool;

/* Container kinds (reserved in serialize.h's list, same header and digest). */
#define VEIL_SQ_KIND_KEY VEIL_FHE_KIND_SQUASH_KEY
#define VEIL_SQ_KIND_CT  VEIL_FHE_KIND_SQUASHED

/* The squashing parameters (include/veil/squash.h): k = 2, N = 2048,
 * TUniform(2^30), base_log 24, level 3, over the 918-word small key. */
#define VEIL_SQ_GLWE_DIM  2u
#define VEIL_SQ_POLY      2048u
#define VEIL_SQ_NOISE_LOG 30u
#define VEIL_SQ_BASE_LOG  24u
#define VEIL_SQ_LEVEL     3u

struct veil_sq_key {
    struct veil_pbs128_shape shape;
    struct veil_ntt128 ntt;
    uint8_t mask_seed[VEIL_FHE_SEED_LEN]; /* regenerates every GGSW mask */
    uint64_t *bsk;                        /* lwe_dim NTT-domain GGSWs */
    veil_u128_t lut[VEIL_SQ_POLY];        /* test polynomial: v -> v * 2^123 */
    struct veil_threadpool *pool;
};

/* The test polynomial (N words) mapping block value v in [0, 16) to
 * v * 2^VEIL_SQ_LOG_DELTA. */
void veil_sq_build_lut(veil_u128_t *lut, size_t n);
/* The shape for the default 64-bit parameter set. */
void veil_sq_shape_default(struct veil_pbs128_shape *s);
/* An empty key (tables, LUT, pool of `threads`, bsk allocated, not filled). */
VEIL_WARN_UNUSED int veil_sq_key_alloc(unsigned threads, veil_sq_key **out, veil_err *err);

/* veil_sq_keygen for the small LWE key itself (lwe_dim words, 0 or 1). */
VEIL_WARN_UNUSED int veil_sq_keygen_small(const uint64_t *small_key, const uint8_t seed[32],
                                          unsigned threads, veil_sq_secret *secret,
                                          veil_sq_key **key, veil_err *err);
/* veil_sq_squash on the layers below the high-level handles. */
VEIL_WARN_UNUSED int veil_sq_squash_radix(const veil_sq_key *key,
                                          const struct veil_shortint_server_key *sk,
                                          const struct veil_radix *in, veil_sq_ct *out,
                                          veil_err *err);
VEIL_WARN_UNUSED int veil_sq_squash_radix_packed(const veil_sq_key *key,
                                                 const struct veil_shortint_server_key *sk,
                                                 const struct veil_radix *in, veil_sq_ct *out,
                                                 veil_err *err);

/* The most ciphertexts and blocks one squash batch takes (two scheduler
 * outputs' worth and more: an FheUint64 unpacked is 32 blocks). */
#define VEIL_SQ_BATCH_MAX_CTS    8u
#define VEIL_SQ_BATCH_MAX_BLOCKS 32u

#endif /* VEIL_FHE_SQUASH_INTERNAL_H */
