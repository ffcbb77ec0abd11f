// SPDX-License-Identifier: Apache-2.0
/*
 * core/lwe.h - torus arithmetic, LWE and GLWE ciphertexts, gadget
 * decomposition, keyswitch, modulus switch and sample extraction (private).
 *
 * Conventions (TFHE, torus Z/2^64): an LWE ciphertext under key s (n binary
 * words) is n+1 words (a_0..a_{n-1}, b) with phase b - <a, s>. A GLWE
 * ciphertext under S_0..S_{k-1} (binary polynomials of size N) is k+1
 * polynomials (A_0..A_{k-1}, B) with phase B - sum A_j S_j in Z[X]/(X^N+1).
 * The "big" LWE key is the GLWE key's coefficients laid end to end.
 */
#ifndef VEIL_FHE_CORE_LWE_H
#define VEIL_FHE_CORE_LWE_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* ---- gadget decomposition with rounding ----
 * A torus value v is first rounded to its top base_log*level bits, then split
 * into `level` signed digits d_1..d_l in [-B/2, B/2] (B = 2^base_log) with
 * sum_i d_i * 2^(64 - i*base_log) == rounded(v) (mod 2^64). Digits are
 * written least significant level first: out[level-1] is d_1.
 *
 * A digit equal to B/2 can be written +B/2 or -B/2 (carrying one into the
 * next level). Always picking one side would give the digits a mean of
 * +-1/2, and with a fixed key that becomes a fixed offset of the keyswitch
 * and external-product noise (about a quarter of a 2N step here); the
 * noise analysis (TFHE-rs's) assumes zero-mean digits. So ties go to +B/2
 * when the next bit above (for the top digit: the first bit rounded away)
 * is 1, and to -B/2 otherwise: each with probability 1/2 on uniform input. */
static inline uint64_t veil_fhe_decomp_round(uint64_t v, unsigned base_log, unsigned level)
{
    unsigned shift = 64 - base_log * level;
    if (shift == 0)
        return v; /* all 64 bits kept: nothing to round */
    return (v + (UINT64_C(1) << (shift - 1))) >> shift;
}

/* The first bit rounded away by veil_fhe_decomp_round (0 if none). */
static inline uint64_t veil_fhe_decomp_dropped_bit(uint64_t v, unsigned base_log, unsigned level)
{
    unsigned shift = 64 - base_log * level;
    return shift == 0 ? 0 : (v >> (shift - 1)) & 1;
}

/* Writes digits d_l .. d_1 for the rounded value into out[0..level). */
static inline void veil_fhe_decompose(uint64_t v, unsigned base_log, unsigned level, int64_t *out)
{
    uint64_t state = veil_fhe_decomp_round(v, base_log, level);
    const uint64_t top_tie_bit = veil_fhe_decomp_dropped_bit(v, base_log, level);
    const unsigned up = 64 - base_log;
    const int64_t half = INT64_C(1) << (base_log - 1);
    for (unsigned i = 0; i < level; i++) {
        int64_t d = (int64_t)(state << up) >> up; /* sign-extend: [-B/2, B/2) */
        state >>= base_log;
        uint64_t tie_bit = i + 1 < level ? (state & 1) : top_tie_bit;
        uint64_t carry = (uint64_t)(d < 0);
        if (d == -half && tie_bit) {
            d = half;
            carry = 0;
        }
        out[i] = d;
        state += carry;
    }
}

/* ---- modulus switch 2^64 -> 2N (rounding) ---- */
static inline uint64_t veil_fhe_mod_switch(uint64_t v, unsigned log2_2n)
{
    return ((v + (UINT64_C(1) << (63 - log2_2n))) >> (64 - log2_2n)) &
           ((UINT64_C(1) << log2_2n) - 1);
}

/* Centered modulus switch of the body (TFHE-rs CenteredMeanNoiseReduction,
 * core_crypto/algorithms/modulus_switch.rs, used by the default parameter
 * set). With a uniform binary key the mask rounding errors err_i =
 * round(a_i) - a_i add sum err_i s_i to the phase, whose expectation is
 * sum err_i / 2: adding that expectation to the body before switching
 * leaves sum err_i (s_i - 1/2), half the variance. Half a post-switch step is
 * also subtracted: the switched phases that decode to box m are the
 * integers m*w - w/2 .. m*w + w/2 - 1 (w = box width), i.e. real phases in
 * [m*w - w/2 - 1/2, m*w + w/2 - 1/2); the shift makes that window symmetric
 * around m*w. Returns the switched body, in [0, 2N). */
static inline uint64_t veil_fhe_mod_switch_centered_body(const uint64_t *lwe, size_t n,
                                                         unsigned log2_2n)
{
    const unsigned shift = 64 - log2_2n;
    uint64_t sum_half_errors = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t rounded = veil_fhe_mod_switch(lwe[i], log2_2n) << shift;
        int64_t err = (int64_t)(rounded - lwe[i]);
        sum_half_errors += (uint64_t)(err / 2); /* truncates toward zero, as TFHE-rs */
    }
    const uint64_t half_step = UINT64_C(1) << (shift - 1);
    return veil_fhe_mod_switch(lwe[n] + sum_half_errors - half_step, log2_2n);
}

/* ---- LWE ---- */
uint64_t veil_fhe_lwe_phase(const uint64_t *ct, const uint64_t *key, size_t n);
/* ct (n+1 words) <- encryption of plaintext mu with TUniform(2^noise_log2)
 * noise; the mask comes from mask_rng, the noise from noise_rng (they may be
 * the same stream). */
void veil_fhe_lwe_encrypt(uint64_t *ct, const uint64_t *key, size_t n, uint64_t mu,
                          unsigned noise_log2, struct veil_fhe_rng *mask_rng,
                          struct veil_fhe_rng *noise_rng);

/* ---- keyswitching key: in_dim x level LWE ciphertexts of size out_dim+1 ----
 * ksk[(i*level + j)*(out_dim+1) ...] encrypts in_key[i] * 2^(64-(j+1)*base_log)
 * under out_key. */
void veil_fhe_lwe_keyswitch(uint64_t *out, const uint64_t *in, const uint64_t *ksk, size_t in_dim,
                            size_t out_dim, unsigned base_log, unsigned level);

/* The same keyswitch with a key held as the rounded top 32 bits of every
 * word (ksk32[r] = round(ksk[r] / 2^32)), computed mod 2^32 and shifted
 * back. Why: it halves the 60 MB the keyswitch streams per call. The extra
 * rounding error (std ~2^39 over 2048 x 4 rows) is ~2^-14 of the keyswitch
 * noise (std ~2^53) and vanishes in the modulus switch to 2N that follows;
 * TFHE-rs's KS32 parameter sets likewise keyswitch in 32 bits.
 * acc: out_dim+1 words of scratch. */
void veil_fhe_lwe_keyswitch32(uint64_t *out, const uint64_t *in, const uint32_t *ksk32,
                              size_t in_dim, size_t out_dim, unsigned base_log, unsigned level,
                              uint32_t *acc);
/* veil_fhe_lwe_keyswitch32 for count ciphertexts, key-row-major so each
 * row of the key is read from memory once for all of them (same results). */
void veil_fhe_lwe_keyswitch32_batch(uint64_t *const *outs, const uint64_t *const *ins, size_t count,
                                    const uint32_t *ksk32, size_t in_dim, size_t out_dim,
                                    unsigned base_log, unsigned level, uint32_t *const *accs);
/* The same for output words [lo, hi) only (word out_dim is the body): the
 * threads of a PBS batch (shortint.c) each keyswitch their share of the
 * words; the words come out the same whatever the cuts. */
void veil_fhe_lwe_keyswitch32_batch_range(uint64_t *const *outs, const uint64_t *const *ins,
                                          size_t count, const uint32_t *ksk32, size_t in_dim,
                                          size_t out_dim, unsigned base_log, unsigned level,
                                          uint32_t *const *accs, size_t lo, size_t hi);
static inline uint32_t veil_fhe_round_to_u32(uint64_t v)
{
    return (uint32_t)((v + (UINT64_C(1) << 31)) >> 32);
}

/* ---- polynomials ---- */
/* out = a * s in Z/2^64[X]/(X^N+1) for a binary s (exact). out must not alias. */
void veil_fhe_poly_mul_binary(uint64_t *out, const uint64_t *a, const uint64_t *s, size_t n);
void veil_fhe_poly_mul_binary_acc(uint64_t *out, const uint64_t *a, const uint64_t *s, size_t n);
/* out = X^r * in for r in [0, 2N). out must not alias in. */
void veil_fhe_poly_rotate(uint64_t *out, const uint64_t *in, size_t n, size_t r);

/* ---- GLWE ---- */
/* phase (N words) of a GLWE ciphertext ((k+1)N words). */
void veil_fhe_glwe_phase(uint64_t *phase, const uint64_t *ct, const uint64_t *key, size_t k,
                         size_t n);
/* Encrypts the polynomial mu (N words, NULL = zero). */
void veil_fhe_glwe_encrypt(uint64_t *ct, const uint64_t *key, size_t k, size_t n,
                           const uint64_t *mu, unsigned noise_log2, struct veil_fhe_rng *mask_rng,
                           struct veil_fhe_rng *noise_rng);
/* LWE ciphertext (kN+1 words) of coefficient 0 of the GLWE phase, under the
 * big key (sample extraction). */
void veil_fhe_glwe_sample_extract(uint64_t *lwe, const uint64_t *glwe, size_t k, size_t n);
/* The same for coefficient `index` (< N) of the phase. */
void veil_fhe_glwe_sample_extract_at(uint64_t *lwe, const uint64_t *glwe, size_t k, size_t n,
                                     size_t index);

#endif /* VEIL_FHE_CORE_LWE_H */
