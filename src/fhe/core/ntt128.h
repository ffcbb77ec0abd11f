// SPDX-License-Identifier: Apache-2.0
/*
 * core/ntt128.h - exact negacyclic polynomial products modulo 2^128 for the
 * noise-squashing bootstrap (private).
 *
 * A product of a polynomial with small signed coefficients (gadget digits,
 * |d| <= 2^23) and one with 128-bit coefficients, summed over up to 9 rows,
 * has integer coefficients below 9 * 2048 * 2^23 * 2^128 ~ 2^165.2 in
 * magnitude. It is computed exactly with a negacyclic NTT modulo three
 * primes p_i = 1 mod 4096 just below 2^62 (M = p0 p1 p2 ~ 2^186 > 2^167),
 * then rebuilt by Garner's CRT as a signed integer and reduced mod 2^128.
 * Everything is integer arithmetic, so the result is the same bits on every
 * CPU, code path and thread count (the 64-bit core's FFT is floating point
 * and only reproducible; this one is exact).
 *
 * NTT domain: the forward transform takes residues in [0, p) and leaves
 * them in [0, p), in bit-reversed order (Harvey's lazy butterflies with
 * Shoup multiplication inside); pointwise products in that order are
 * negacyclic products after the inverse transform.
 *
 * The tables are caller-owned (struct veil_ntt128, built by
 * veil_ntt128_init); nothing here keeps global state.
 */
#ifndef VEIL_FHE_CORE_NTT128_H
#define VEIL_FHE_CORE_NTT128_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

typedef unsigned __int128 veil_u128_t;

#define VEIL_NTT128_PRIMES 3
#define VEIL_NTT128_MAX_N  2048

/* One prime's tables: powers of psi (a primitive 2N-th root of unity) and of
 * psi^-1 in bit-reversed order, each with its Shoup companion
 * floor(w * 2^64 / p). */
struct veil_ntt128_prime {
    uint64_t p;
    uint64_t r64, r64_sh;     /* 2^64 mod p and its Shoup companion */
    uint64_t one_sh;          /* floor(2^64 / p): Shoup companion of 1 */
    uint64_t n_inv, n_inv_sh; /* N^-1 mod p */
    uint64_t *psi, *psi_sh;   /* N entries each */
    uint64_t *ipsi, *ipsi_sh;
};

struct veil_ntt128 {
    size_t n;   /* polynomial size N (power of two, <= VEIL_NTT128_MAX_N) */
    int avx512; /* 1: the AVX-512 kernels, 0: scalar code (set by init from
                   the CPU; tests clear it to compare the paths word for word) */
    struct veil_ntt128_prime pr[VEIL_NTT128_PRIMES];
    /* Garner's constants: c1 = p0^-1 mod p1, c2 = (p0 p1)^-1 mod p2 (with
     * Shoup companions), p0 mod p2, p0 p1 and M mod 2^128. */
    uint64_t c1, c1_sh, c2, c2_sh, p0_mod_p2, p0_mod_p2_sh;
    veil_u128_t p01, m_mod;
};

VEIL_WARN_UNUSED int veil_ntt128_init(struct veil_ntt128 *t, size_t n, veil_err *err);
void veil_ntt128_free(struct veil_ntt128 *t);

/* Residues of signed small integers (|v| < p) / of unsigned 128-bit words. */
void veil_ntt128_from_i64(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                          const int64_t *in);
void veil_ntt128_from_u128(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                           const veil_u128_t *in);
/* The gadget digits of the squashing parameters (base 2^24, 3 levels,
 * rounded, ties split as veil_pbs128_decompose does) of v[0..N), written as
 * residues: res[j * PRIMES + prime] receives level j's digits (j = 0 the
 * most significant) modulo that prime. Returns 1 when done here (AVX-512),
 * 0 when the caller must use the scalar decomposition. */
int veil_ntt128_digits_24x3(const struct veil_ntt128 *t, const veil_u128_t *v,
                            uint64_t *const *res);
/* In-place transforms of N residues modulo prime `prime`. */
void veil_ntt128_forward(const struct veil_ntt128 *t, unsigned prime, uint64_t *a);
void veil_ntt128_inverse(const struct veil_ntt128 *t, unsigned prime, uint64_t *a);

/* out[j] = sum_r a_r[j] * b_r[j] mod p over `rows` pairs (rows <= 16): the
 * NTT-domain multiply-accumulate of an external product. a[r], b[r]: N
 * residues in [0, p). */
void veil_ntt128_mac(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                     const uint64_t *const *a, const uint64_t *const *b, size_t rows);

/* res[i]: N residues modulo prime i of one integer polynomial X whose
 * coefficients satisfy |X_j| < M/2. out[j] (+)= X_j mod 2^128. */
void veil_ntt128_crt(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res);
void veil_ntt128_crt_add(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res);

#endif /* VEIL_FHE_CORE_NTT128_H */
