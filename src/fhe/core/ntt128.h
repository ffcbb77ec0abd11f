// SPDX-License-Identifier: Apache-2.0
/*
 * core/ntt128.h - exact negacyclic polynomial products modulo 2^128 for the
 * noise-squashing bootstrap (private).
 *
 * A product of a polynomial with small signed coefficients (gadget digits,
 * |d| <= 2^23) and one with 128-bit coefficients, summed over the 9 rows of
 * an external product, is computed exactly as follows. The 128-bit operand
 * K is split into two signed 64-bit limbs, K = L0 + 2^64 L1 (mod 2^128,
 * |L| <= 2^63), and each limb product D * L is computed exactly with a
 * negacyclic NTT modulo two primes p = 1 mod 4096 just below 2^51
 * (M = p0 p1 ~ 2^102): its coefficients are below rows * N * 2^23 * 2^63
 * (= 2^100.2 for 9 rows, N = 2048), under M/2 - p0 for up to 15 rows at
 * N = 2048. Garner's CRT rebuilds each limb product as a signed integer;
 * the result is X0 + 2^64 X1 mod 2^128. The digit side is transformed once
 * per prime (2 forward NTTs per digit polynomial); the other operand (the
 * bootstrapping key) is held in 4 channels, limb l modulo prime i in
 * channel l * PRIMES + i. Primes below 2^51 keep every lazy value below
 * 2^52, the input width of AVX-512 IFMA (vpmadd52luq/huq). Everything is
 * integer arithmetic, so the result is the same bits on every CPU, code
 * path and thread count (the 64-bit core's FFT is floating point and only
 * reproducible; this one is exact).
 *
 * NTT domain: the forward transform takes residues in [0, p) and leaves
 * them in [0, p), in bit-reversed order; pointwise products in that order
 * are negacyclic products after the inverse transform. Three
 * implementations give the same words: scalar (Harvey's lazy butterflies,
 * 64-bit Shoup products), AVX-512F/DQ (the same on 8 lanes) and AVX-512
 * IFMA (52-bit Shoup products, values kept below 2p); init picks the best
 * the CPU has.
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

#define VEIL_NTT128_PRIMES   2 /* primes below 2^51 */
#define VEIL_NTT128_LIMBS    2 /* signed 64-bit limbs of a 128-bit operand */
#define VEIL_NTT128_CHANNELS (VEIL_NTT128_PRIMES * VEIL_NTT128_LIMBS)
#define VEIL_NTT128_MAX_N    2048

/* Code paths (struct veil_ntt128.simd); every one gives the same words. */
enum veil_ntt128_simd {
    VEIL_NTT128_SCALAR = 0,
    VEIL_NTT128_AVX512 = 1, /* AVX-512F/DQ: 64-bit Shoup products on 8 lanes */
    VEIL_NTT128_IFMA = 2,   /* + AVX-512 IFMA: 52-bit products */
};

/* One prime's tables: powers of psi (a primitive 2N-th root of unity) and of
 * psi^-1 in bit-reversed order, each with its Shoup companions
 * floor(w * 2^64 / p) and floor(w * 2^52 / p) (IFMA). */
struct veil_ntt128_prime {
    uint64_t p;
    uint64_t r64, r64_sh;     /* 2^64 mod p and its Shoup companion */
    uint64_t one_sh;          /* floor(2^64 / p): Shoup companion of 1 */
    uint64_t r52, r52_sh52;   /* 2^52 mod p and its 52-bit Shoup companion */
    uint64_t n_inv, n_inv_sh; /* N^-1 mod p */
    uint64_t n_inv_sh52;
    uint64_t *psi, *psi_sh, *psi_sh52; /* N entries each */
    uint64_t *ipsi, *ipsi_sh, *ipsi_sh52;
};

struct veil_ntt128 {
    size_t n; /* polynomial size N (power of two, <= VEIL_NTT128_MAX_N) */
    int simd; /* enum veil_ntt128_simd: set by init from the CPU; tests
                 lower it to compare the paths word for word */
    struct veil_ntt128_prime pr[VEIL_NTT128_PRIMES];
    /* Garner's constants: c1 = p0^-1 mod p1 (with its Shoup companion) and
     * M = p0 p1. */
    uint64_t c1, c1_sh, c1_sh52;
    veil_u128_t m;
};

VEIL_WARN_UNUSED int veil_ntt128_init(struct veil_ntt128 *t, size_t n, veil_err *err);
void veil_ntt128_free(struct veil_ntt128 *t);

/* Residues of signed small integers (|v| < p) / of limb `limb` of 128-bit
 * words (limb 0: the low word as a signed integer; limb 1: the high word
 * plus the low word's sign bit, as a signed integer). */
void veil_ntt128_from_i64(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                          const int64_t *in);
void veil_ntt128_from_u128(const struct veil_ntt128 *t, unsigned limb, unsigned prime,
                           uint64_t *out, const veil_u128_t *in);
/* The gadget digits of the squashing parameters (base 2^24, 3 levels,
 * rounded, ties split as veil_pbs128_decompose does) of v[0..N), written as
 * residues modulo prime `prime`: res[j] receives level j's digits (j = 0
 * the most significant). Returns 1 when done here (AVX-512), 0 when the
 * caller must use the scalar decomposition. */
int veil_ntt128_digits_24x3(const struct veil_ntt128 *t, unsigned prime, const veil_u128_t *v,
                            uint64_t *const *res);
/* The same digits of X^r a - a (negacyclic, r < 2N) straight from the
 * accumulator polynomial a, without writing the difference out. Returns 1
 * when done here (AVX-512), 0 when the caller must rotate and decompose. */
int veil_ntt128_rot_digits_24x3(const struct veil_ntt128 *t, unsigned prime, const veil_u128_t *a,
                                size_t r, uint64_t *const *res);
/* In-place transforms of N residues modulo prime `prime`. */
void veil_ntt128_forward(const struct veil_ntt128 *t, unsigned prime, uint64_t *a);
void veil_ntt128_inverse(const struct veil_ntt128 *t, unsigned prime, uint64_t *a);
/* The forward transform, which also prefetches pf_bytes (up to 128 KiB) at
 * pf between its butterflies (IFMA path; the others ignore it): memory the
 * caller reads next, fetched while the transform computes. */
void veil_ntt128_forward_prefetch(const struct veil_ntt128 *t, unsigned prime, uint64_t *a,
                                  const void *pf, size_t pf_bytes);

/* out[j] = sum_r a_r[j] * b_r[j] mod p over `rows` pairs (rows <= 15): the
 * NTT-domain multiply-accumulate of an external product. a[r], b[r]: N
 * residues in [0, p). */
void veil_ntt128_mac(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                     const uint64_t *const *a, const uint64_t *const *b, size_t rows);

/* res[l * PRIMES + i]: N residues modulo prime i of limb polynomial X_l,
 * whose coefficients satisfy |X_l,j| < M/2 - p0 (limb products of at most
 * 15 rows at N = 2048). out[j] (+)= X_0,j + 2^64 X_1,j mod 2^128. */
void veil_ntt128_crt(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res);
void veil_ntt128_crt_add(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res);
/* crt_add on coefficients [from, to) only. */
void veil_ntt128_crt_add_part(const struct veil_ntt128 *t, veil_u128_t *out,
                              const uint64_t *const *res, size_t from, size_t to);

#endif /* VEIL_FHE_CORE_NTT128_H */
