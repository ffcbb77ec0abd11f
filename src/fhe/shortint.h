// SPDX-License-Identifier: Apache-2.0
/*
 * shortint.h - the short-integer layer of Veil's TFHE (private to src/fhe/).
 *
 * One block = an LWE ciphertext under the big (GLWE-derived, k*N = 2048)
 * key holding message (2 bits) + carry (2 bits) + a padding bit. Operations
 * follow TFHE-rs's shortint: cheap linear ops with degree tracking, and the
 * keyswitch -> programmable bootstrap pattern (KS then PBS) that applies a
 * lookup table and resets noise. This is the contract between the core /
 * shortint code and the radix-integer code (integer.c) built on top.
 *
 * Ownership: every struct is caller-owned; *_init allocates, *_free frees
 * (and wipes secret material). Nothing here keeps global state. Results are
 * bit-identical whatever the number of threads.
 */
#ifndef VEIL_FHE_SHORTINT_H
#define VEIL_FHE_SHORTINT_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#include "params.h" /* struct veil_fhe_params, veil_fhe_params_default() */

struct veil_threadpool; /* threadpool.h */

/* One shortint block (big-key LWE ciphertext, dimension k*N, plus body). */
struct veil_shortint_ct {
    uint64_t *data;       /* params->glwe_dim * params->poly_size + 1 words */
    uint64_t degree;      /* largest plaintext value it may hold (0..15) */
    uint32_t noise_level; /* number of fresh-noise units summed (<= max_noise_level) */
};

/* A lookup table for the PBS: f over the full block space 0..(msg*carry-1),
 * encoded as a GLWE body accumulator. `degree` is max(f). */
struct veil_shortint_lut {
    uint64_t *acc; /* (glwe_dim + 1) * poly_size words, trivially encrypted */
    uint64_t degree;
};

struct veil_shortint_client_key; /* secret: LWE small key, GLWE key (as big LWE key) */
struct veil_shortint_server_key; /* Fourier bootstrapping key + keyswitching key */

/* ---- blocks ---- */
int veil_shortint_ct_init(struct veil_shortint_ct *ct, const struct veil_fhe_params *p,
                          veil_err *err);
void veil_shortint_ct_free(struct veil_shortint_ct *ct);
void veil_shortint_ct_copy(struct veil_shortint_ct *dst, const struct veil_shortint_ct *src,
                           const struct veil_fhe_params *p);

/* Encrypt/decrypt one block value (0 <= m < message_modulus * carry_modulus;
 * decrypt returns the full value including carries, rounded). */
int veil_shortint_encrypt(const struct veil_shortint_client_key *ck, uint64_t m,
                          struct veil_shortint_ct *out, veil_err *err);
uint64_t veil_shortint_decrypt(const struct veil_shortint_client_key *ck,
                               const struct veil_shortint_ct *ct);
/* A noiseless encryption of a constant (no key needed). */
void veil_shortint_trivial(const struct veil_fhe_params *p, uint64_t m,
                           struct veil_shortint_ct *out);

/* ---- linear operations (no bootstrap; caller keeps degree within bounds) ---- */
void veil_shortint_add_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                              const struct veil_shortint_ct *b);
/* a - b, adding a multiple of message_modulus to stay positive (TFHE-rs
 * "unchecked_sub" with correcting term); degree updated. */
void veil_shortint_sub_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                              const struct veil_shortint_ct *b);
void veil_shortint_scalar_add_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                                     uint64_t scalar);
void veil_shortint_scalar_mul_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                                     uint64_t scalar);
void veil_shortint_neg_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a);

/* ---- lookup tables and bootstrapping ---- */
/* Builds the accumulator for f: [0, msg*carry) -> [0, msg*carry). */
int veil_shortint_lut_init(struct veil_shortint_lut *lut, const struct veil_fhe_params *p,
                           uint64_t (*f)(uint64_t x, void *arg), void *arg, veil_err *err);
void veil_shortint_lut_free(struct veil_shortint_lut *lut);

/* ct <- f(ct) via keyswitch + PBS (noise reset, degree = lut->degree). */
int veil_shortint_apply_lut(const struct veil_shortint_server_key *sk,
                            struct veil_shortint_ct *ct, const struct veil_shortint_lut *lut,
                            veil_err *err);
/* Independent KS+PBS over many blocks, spread over the pool (NULL = this
 * thread). cts[i] <- luts[i](cts[i]). Deterministic regardless of pool size. */
int veil_shortint_apply_lut_batch(const struct veil_shortint_server_key *sk,
                                  struct veil_shortint_ct *const *cts,
                                  const struct veil_shortint_lut *const *luts, size_t n,
                                  struct veil_threadpool *pool, veil_err *err);

/* ---- two functions from one KS+PBS ("many-LUT", added by the core layer) ----
 * For an input of degree < msg*carry/2 the accumulator holds f on the lower
 * half of the boxes and g on the upper half; the blind rotation is shared
 * and sample extraction at coefficients 0 and N/2 yields f(x) and g(x).
 * Same noise as a single PBS, half the cost of two. */
struct veil_shortint_lut2 {
    uint64_t *acc;
    uint64_t degree[2]; /* max of f and of g over [0, msg*carry/2) */
};
int veil_shortint_lut2_init(struct veil_shortint_lut2 *lut, const struct veil_fhe_params *p,
                            uint64_t (*f)(uint64_t x, void *arg), void *f_arg,
                            uint64_t (*g)(uint64_t x, void *arg), void *g_arg, veil_err *err);
void veil_shortint_lut2_free(struct veil_shortint_lut2 *lut);
/* out_f <- f(in), out_g <- g(in); in->degree must be < msg*carry/2. out_f may
 * be `in`; out_g must be distinct from both. */
int veil_shortint_apply_lut2(const struct veil_shortint_server_key *sk,
                             const struct veil_shortint_ct *in, const struct veil_shortint_lut2 *lut,
                             struct veil_shortint_ct *out_f, struct veil_shortint_ct *out_g,
                             veil_err *err);

/* A mixed batch: each job is one KS+PBS with either a one-function LUT
 * (out <- lut(in)) or a two-function LUT (out <- f(in), out2 <- g(in)).
 * out may be in itself; otherwise no block may appear twice among the
 * jobs' outputs, nor as one job's output and another job's input. Runs on
 * the pool like veil_shortint_apply_lut_batch (same bits for any pool). */
struct veil_shortint_pbs_job {
    const struct veil_shortint_ct *in;
    const struct veil_shortint_lut *lut;   /* exactly one of lut and lut2 */
    const struct veil_shortint_lut2 *lut2;
    struct veil_shortint_ct *out;
    struct veil_shortint_ct *out2; /* lut2 only */
};
int veil_shortint_apply_jobs(const struct veil_shortint_server_key *sk,
                             const struct veil_shortint_pbs_job *jobs, size_t n,
                             struct veil_threadpool *pool, veil_err *err);

/* Bivariate helpers: pack a * message_modulus + b into a fresh block (a and b
 * must have degree < message_modulus), for bivariate LUTs g(a, b). */
void veil_shortint_pack_pair(const struct veil_fhe_params *p, struct veil_shortint_ct *out,
                             const struct veil_shortint_ct *a, const struct veil_shortint_ct *b);

#endif /* VEIL_FHE_SHORTINT_H */
