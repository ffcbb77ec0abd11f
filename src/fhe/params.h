// SPDX-License-Identifier: Apache-2.0
/*
 * params.h - TFHE parameter sets as data (private to src/fhe/).
 *
 * A parameter set has a name and a numeric id; the id is stored in every key
 * and ciphertext container so that mixing parameter sets is detected. The
 * only set today is TFHE-rs's default PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128
 * (tfhe-rs shortint/parameters/v1_4/classic/tuniform/p_fail_2_minus_128/ks_pbs.rs).
 */
#ifndef VEIL_FHE_PARAMS_H
#define VEIL_FHE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

/* Numeric ids: stable on disk, never reuse one. */
enum {
    VEIL_FHE_PARAMS_ID_2_2_KS_PBS_TUNIFORM_2M128 = 1,
};

struct veil_fhe_params {
    const char *name;
    uint32_t id;
    uint32_t lwe_dim;         /* n: small LWE key (keyswitch output, blind-rotation input) */
    uint32_t glwe_dim;        /* k */
    uint32_t poly_size;       /* N */
    uint32_t lwe_noise_log2;  /* TUniform bound for the small LWE key: [-2^b, 2^b] */
    uint32_t glwe_noise_log2; /* TUniform bound for the GLWE key (and big-key encryption) */
    uint32_t pbs_base_log;
    uint32_t pbs_level;
    uint32_t ks_base_log;
    uint32_t ks_level;
    uint64_t message_modulus;
    uint64_t carry_modulus;
    uint32_t max_noise_level;
    double log2_p_fail;
};

/* The default (and only) set: n=918, k=1, N=2048, TUniform 45/17, PBS 23x1,
 * KS 4x4, message 4, carry 4, max noise level 5. */
const struct veil_fhe_params *veil_fhe_params_default(void);
/* NULL if the id is unknown. */
const struct veil_fhe_params *veil_fhe_params_by_id(uint32_t id);
/* Fails with a clear message if the id is unknown. */
int veil_fhe_params_lookup(uint32_t id, const struct veil_fhe_params **out, veil_err *err);

/* Derived sizes. */
static inline size_t veil_fhe_big_lwe_dim(const struct veil_fhe_params *p)
{
    return (size_t)p->glwe_dim * p->poly_size;
}
/* Plaintext scaling: one padding bit, then log2(message*carry) bits. */
static inline uint64_t veil_fhe_delta(const struct veil_fhe_params *p)
{
    return (UINT64_C(1) << 63) / (p->message_modulus * p->carry_modulus);
}

#endif /* VEIL_FHE_PARAMS_H */
