// SPDX-License-Identifier: Apache-2.0
/*
 * core/ntt128.c - the two-prime negacyclic NTT over limb-split operands and
 * the CRT back to Z/2^128 (see ntt128.h). Butterflies after Harvey ("Faster
 * arithmetic for number-theoretic transforms", 2014): values stay below
 * 4p < 2^53 between stages and each twiddle multiplication is a Shoup
 * product.
 *
 * Scalar code for every step, AVX-512F/DQ kernels (transforms,
 * multiply-accumulate, base-2^24 digits, CRT) and, in ntt128_ifma.c, IFMA
 * kernels (transforms, multiply-accumulate), picked at init from the CPU.
 * All of them return canonical residues of the same exact results, so they
 * produce the same words (test_fhe_squash_core compares them); the kernels
 * only change the speed.
 */
#include "ntt128.h"

#include <stdlib.h>
#include <string.h>

#include "hot.h"
#include "ntt128_simd.h"

/* The primes: the two largest p < 2^51 with p = 1 mod 4096 (so a
 * primitive 4096-th root of unity exists for N = 2048); M = p0 p1 > 2^101.99. */
static const uint64_t ntt128_primes[VEIL_NTT128_PRIMES] = {
    UINT64_C(0x7ffffffff5001),
    UINT64_C(0x7ffffffff3001),
};

static inline uint64_t mulhi64(uint64_t a, uint64_t b)
{
    return (uint64_t)(((veil_u128_t)a * b) >> 64);
}

/* w * x mod p in [0, 2p), for any x < 2^64 (w < p, w_sh = floor(w 2^64 / p)). */
static inline uint64_t mul_shoup_lazy(uint64_t x, uint64_t w, uint64_t w_sh, uint64_t p)
{
    return w * x - mulhi64(w_sh, x) * p;
}

static inline uint64_t reduce_2p(uint64_t x, uint64_t p)
{
    return x >= p ? x - p : x;
}

static uint64_t mulmod_slow(uint64_t a, uint64_t b, uint64_t p)
{
    return (uint64_t)(((veil_u128_t)a * b) % p);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t p)
{
    uint64_t r = 1;
    for (; e; e >>= 1) {
        if (e & 1)
            r = mulmod_slow(r, b, p);
        b = mulmod_slow(b, b, p);
    }
    return r;
}

static uint64_t shoup_of(uint64_t w, uint64_t p)
{
    return (uint64_t)(((veil_u128_t)w << 64) / p);
}

/* floor(w * 2^52 / p): the companion of w for IFMA's 52-bit products. */
static uint64_t shoup52_of(uint64_t w, uint64_t p)
{
    return (uint64_t)(((veil_u128_t)w << 52) / p);
}

static size_t bitrev(size_t i, unsigned bits)
{
    size_t r = 0;
    for (unsigned b = 0; b < bits; b++)
        r |= ((i >> b) & 1) << (bits - 1 - b);
    return r;
}

/* The smallest x >= 2 whose power x^((p-1)/2N) has order exactly 2N. */
static uint64_t find_psi(uint64_t p, size_t n)
{
    for (uint64_t x = 2;; x++) {
        uint64_t psi = powmod(x, (p - 1) / (2 * n), p);
        if (powmod(psi, n, p) == p - 1)
            return psi;
    }
}

static int prime_init(struct veil_ntt128_prime *pr, uint64_t p, size_t n)
{
    unsigned bits = 0;
    while (((size_t)1 << bits) < n)
        bits++;
    pr->p = p;
    pr->r64 = (uint64_t)(((veil_u128_t)1 << 64) % p);
    pr->r64_sh = shoup_of(pr->r64, p);
    pr->one_sh = shoup_of(1, p);
    pr->r52 = (UINT64_C(1) << 52) % p;
    pr->r52_sh52 = shoup52_of(pr->r52, p);
    pr->n_inv = powmod(n % p, p - 2, p);
    pr->n_inv_sh = shoup_of(pr->n_inv, p);
    pr->n_inv_sh52 = shoup52_of(pr->n_inv, p);
    pr->psi = malloc(6 * n * sizeof(uint64_t));
    if (!pr->psi)
        return -1;
    pr->psi_sh = pr->psi + n;
    pr->psi_sh52 = pr->psi + 2 * n;
    pr->ipsi = pr->psi + 3 * n;
    pr->ipsi_sh = pr->psi + 4 * n;
    pr->ipsi_sh52 = pr->psi + 5 * n;
    const uint64_t psi = find_psi(p, n), ipsi = powmod(psi, p - 2, p);
    for (size_t i = 0; i < n; i++) {
        size_t e = bitrev(i, bits);
        pr->psi[i] = powmod(psi, e, p);
        pr->psi_sh[i] = shoup_of(pr->psi[i], p);
        pr->psi_sh52[i] = shoup52_of(pr->psi[i], p);
        pr->ipsi[i] = powmod(ipsi, e, p);
        pr->ipsi_sh[i] = shoup_of(pr->ipsi[i], p);
        pr->ipsi_sh52[i] = shoup52_of(pr->ipsi[i], p);
    }
    return 0;
}

int veil_ntt128_init(struct veil_ntt128 *t, size_t n, veil_err *err)
{
    memset(t, 0, sizeof *t);
    if (n < 2 || n > VEIL_NTT128_MAX_N || (n & (n - 1)))
        return veil_err_set(err, VEIL_E_INVALID, "NTT size %zu is not a power of two <= %u", n,
                            VEIL_NTT128_MAX_N);
    t->n = n;
#if NTT128_AVX512
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        t->simd = __builtin_cpu_supports("avx512ifma") ? VEIL_NTT128_IFMA : VEIL_NTT128_AVX512;
#endif
    for (unsigned i = 0; i < VEIL_NTT128_PRIMES; i++) {
        /* limb_residues and the IFMA kernels rely on 2^51 - 2^16 < p < 2^51 */
        if (ntt128_primes[i] >= (UINT64_C(1) << 51) ||
            ntt128_primes[i] <= (UINT64_C(1) << 51) - (UINT64_C(1) << 16)) {
            veil_ntt128_free(t);
            return veil_err_set(err, VEIL_E_INTERNAL, "NTT prime out of range");
        }
        if (prime_init(&t->pr[i], ntt128_primes[i], n) < 0) {
            veil_ntt128_free(t);
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory for NTT tables");
        }
    }
    const uint64_t p0 = ntt128_primes[0], p1 = ntt128_primes[1];
    t->c1 = powmod(p0 % p1, p1 - 2, p1);
    t->c1_sh = shoup_of(t->c1, p1);
    t->c1_sh52 = shoup52_of(t->c1, p1);
    t->m = (veil_u128_t)p0 * p1;
    return 0;
}

void veil_ntt128_free(struct veil_ntt128 *t)
{
    for (unsigned i = 0; i < VEIL_NTT128_PRIMES; i++)
        free(t->pr[i].psi);
    memset(t, 0, sizeof *t);
}

VEIL_FHE_HOT
static void from_i64(uint64_t *restrict out, const int64_t *restrict in, size_t n, uint64_t p)
{
    for (size_t j = 0; j < n; j++)
        out[j] = (uint64_t)in[j] + (in[j] < 0 ? p : 0);
}

void veil_ntt128_from_i64(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                          const int64_t *in)
{
    from_i64(out, in, t->n, t->pr[prime].p);
}

/* hi * 2^64 + lo mod p = hi * (2^64 mod p) + lo mod p. */
static inline uint64_t reduce_u128(const struct veil_ntt128_prime *pr, uint64_t hi, uint64_t lo)
{
    const uint64_t p = pr->p;
    uint64_t a = mul_shoup_lazy(hi, pr->r64, pr->r64_sh, p);
    uint64_t b = mul_shoup_lazy(lo, 1, pr->one_sh, p);
    uint64_t s = a + b; /* < 4p */
    s = reduce_2p(s, 2 * p);
    return reduce_2p(s, p);
}

/* Limb 0 of a word is its low half read as signed, limb 1 the high half
 * plus the low half's sign bit (so that L0 + 2^64 L1 = word mod 2^128).
 * With p = 2^51 - d (d < 2^16, checked by init), an unsigned l = h 2^51 + m
 * is m + h d < 2^51 + 2^29 < 2p mod p; a negative limb also loses 2^64
 * mod p. */
VEIL_FHE_HOT
static void limb_residues(uint64_t *restrict out, const veil_u128_t *restrict in, size_t n,
                          unsigned limb, uint64_t p, uint64_t r64)
{
    const uint64_t d = (UINT64_C(1) << 51) - p, m51 = (UINT64_C(1) << 51) - 1;
    for (size_t j = 0; j < n; j++) {
        const uint64_t lo = (uint64_t)in[j], hi = (uint64_t)(in[j] >> 64);
        const uint64_t l = limb == 0 ? lo : hi + (lo >> 63);
        uint64_t u = (l & m51) + (l >> 51) * d;
        u = u >= p ? u - p : u;
        const uint64_t neg = r64 & (0 - (l >> 63));
        out[j] = u >= neg ? u - neg : u + p - neg;
    }
}

void veil_ntt128_from_u128(const struct veil_ntt128 *t, unsigned limb, unsigned prime,
                           uint64_t *out, const veil_u128_t *in)
{
    limb_residues(out, in, t->n, limb, t->pr[prime].p, t->pr[prime].r64);
}

/* ---- scalar butterflies (every CPU) ----
 * Forward: Cooley-Tukey stages with half-size t = n/2 .. 1 (m = n / 2t
 * groups, twiddle psi[m + i]); inputs and outputs of a stage below 4p.
 * Inverse: Gentleman-Sande stages t = 1 .. n/2, values below 2p. */
VEIL_FHE_HOT
static void fwd_stages(uint64_t *restrict a, size_t n, size_t t_from, const uint64_t *restrict psi,
                       const uint64_t *restrict psi_sh, uint64_t p)
{
    const uint64_t two_p = 2 * p;
    for (size_t t = t_from; t >= 1; t >>= 1) {
        const size_t m = n / (2 * t);
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = psi[m + i], ws = psi_sh[m + i];
            uint64_t *restrict x = a + 2 * i * t, *restrict y = x + t;
            for (size_t j = 0; j < t; j++) {
                uint64_t u = x[j];
                u = u >= two_p ? u - two_p : u;
                const uint64_t v = mul_shoup_lazy(y[j], w, ws, p);
                x[j] = u + v;
                y[j] = u - v + two_p;
            }
        }
    }
}

static void fwd_final(uint64_t *restrict a, size_t n, uint64_t p)
{
    const uint64_t two_p = 2 * p;
    for (size_t j = 0; j < n; j++) {
        uint64_t u = a[j];
        u = u >= two_p ? u - two_p : u;
        a[j] = u >= p ? u - p : u;
    }
}

VEIL_FHE_HOT
static void inv_stages(uint64_t *restrict a, size_t n, size_t t_below,
                       const uint64_t *restrict ipsi, const uint64_t *restrict ipsi_sh, uint64_t p)
{
    const uint64_t two_p = 2 * p;
    for (size_t t = 1; t < t_below && t < n; t <<= 1) {
        const size_t m = n / (2 * t);
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = ipsi[m + i], ws = ipsi_sh[m + i];
            uint64_t *restrict x = a + 2 * i * t, *restrict y = x + t;
            for (size_t j = 0; j < t; j++) {
                const uint64_t u = x[j], v = y[j];
                const uint64_t s = u + v;
                x[j] = s >= two_p ? s - two_p : s;
                y[j] = mul_shoup_lazy(u - v + two_p, w, ws, p);
            }
        }
    }
}

static void inv_final(uint64_t *restrict a, size_t n, uint64_t n_inv, uint64_t n_inv_sh, uint64_t p)
{
    for (size_t j = 0; j < n; j++) {
        uint64_t u = mul_shoup_lazy(a[j], n_inv, n_inv_sh, p);
        a[j] = u >= p ? u - p : u;
    }
}

static void mac_scalar(const struct veil_ntt128_prime *pr, size_t n, uint64_t *out,
                       const uint64_t *const *a, const uint64_t *const *b, size_t rows)
{
    for (size_t j = 0; j < n; j++) {
        veil_u128_t s = 0;
        for (size_t r = 0; r < rows; r++)
            s += (veil_u128_t)a[r][j] * b[r][j];
        out[j] = reduce_u128(pr, (uint64_t)(s >> 64), (uint64_t)s);
    }
}

#if NTT128_AVX512
/* ---- AVX-512 butterflies (x86-64 with AVX-512F/DQ, chosen at run time) ----
 * The same integer operations as the scalar code on 8 lanes (64-bit high
 * products built from four 32x32 products), so the words are identical: the
 * stages with t >= 8 run here, the short ones in the scalar code. */

AVX512_TARGET static inline __m512i v_mulhi(__m512i a, __m512i b)
{
    const __m512i lo32 = _mm512_set1_epi64(0xffffffff);
    const __m512i ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
    const __m512i p00 = _mm512_mul_epu32(a, b), p01 = _mm512_mul_epu32(a, bh);
    const __m512i p10 = _mm512_mul_epu32(ah, b), p11 = _mm512_mul_epu32(ah, bh);
    const __m512i mid =
        _mm512_add_epi64(_mm512_add_epi64(_mm512_srli_epi64(p00, 32), _mm512_and_si512(p01, lo32)),
                         _mm512_and_si512(p10, lo32));
    return _mm512_add_epi64(_mm512_add_epi64(p11, _mm512_add_epi64(_mm512_srli_epi64(p01, 32),
                                                                   _mm512_srli_epi64(p10, 32))),
                            _mm512_srli_epi64(mid, 32));
}

/* w * x - floor(w_sh * x / 2^64) * p: the lazy Shoup product, in [0, 2p). */
AVX512_TARGET static inline __m512i v_shoup(__m512i x, __m512i w, __m512i w_sh, __m512i p)
{
    return _mm512_sub_epi64(_mm512_mullo_epi64(w, x), _mm512_mullo_epi64(v_mulhi(w_sh, x), p));
}

AVX512_TARGET static void fwd_stages_avx512(uint64_t *a, size_t n, const uint64_t *psi,
                                            const uint64_t *psi_sh, uint64_t p)
{
    const __m512i vp = _mm512_set1_epi64((long long)p), v2p = _mm512_set1_epi64((long long)(2 * p));
    for (size_t t = n / 2; t >= 8; t >>= 1) {
        const size_t m = n / (2 * t);
        for (size_t i = 0; i < m; i++) {
            const __m512i w = _mm512_set1_epi64((long long)psi[m + i]);
            const __m512i ws = _mm512_set1_epi64((long long)psi_sh[m + i]);
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j += 8) {
                const __m512i u = v_csub(_mm512_loadu_si512(x + j), v2p);
                const __m512i v = v_shoup(_mm512_loadu_si512(y + j), w, ws, vp);
                _mm512_storeu_si512(x + j, _mm512_add_epi64(u, v));
                _mm512_storeu_si512(y + j, _mm512_add_epi64(_mm512_sub_epi64(u, v), v2p));
            }
        }
    }
}

AVX512_TARGET static void inv_stages_avx512(uint64_t *a, size_t n, const uint64_t *ipsi,
                                            const uint64_t *ipsi_sh, uint64_t p)
{
    const __m512i vp = _mm512_set1_epi64((long long)p), v2p = _mm512_set1_epi64((long long)(2 * p));
    for (size_t t = 8; t < n; t <<= 1) {
        const size_t m = n / (2 * t);
        for (size_t i = 0; i < m; i++) {
            const __m512i w = _mm512_set1_epi64((long long)ipsi[m + i]);
            const __m512i ws = _mm512_set1_epi64((long long)ipsi_sh[m + i]);
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j += 8) {
                const __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
                _mm512_storeu_si512(x + j, v_csub(_mm512_add_epi64(u, v), v2p));
                const __m512i d = _mm512_add_epi64(_mm512_sub_epi64(u, v), v2p);
                _mm512_storeu_si512(y + j, v_shoup(d, w, ws, vp));
            }
        }
    }
}

/* Forward (Cooley-Tukey) and inverse (Gentleman-Sande) butterflies differ,
 * so the two stage loops stay separate; they share the gather and scatter. */
AVX512_TARGET static void fwd_short_avx512(uint64_t *a, size_t n, const uint64_t *psi,
                                           const uint64_t *psi_sh, uint64_t p)
{
    const __m512i vp = _mm512_set1_epi64((long long)p), v2p = _mm512_set1_epi64((long long)(2 * p));
    for (size_t t = 4; t >= 1; t >>= 1) {
        struct short_stage st;
        short_stage_init(&st, t);
        const size_t m = n / (2 * t);
        for (size_t b = 0; b < n; b += 16) {
            const size_t g = m + b / (2 * t);
            const struct short_block k = short_gather(a + b, &st, psi + g, psi_sh + g);
            const __m512i u = v_csub(k.x, v2p), v = v_shoup(k.y, k.w, k.ws, vp);
            const __m512i x2 = _mm512_add_epi64(u, v);
            const __m512i y2 = _mm512_add_epi64(_mm512_sub_epi64(u, v), v2p);
            short_scatter(a + b, &st, x2, y2);
        }
    }
}

AVX512_TARGET static void inv_short_avx512(uint64_t *a, size_t n, const uint64_t *ipsi,
                                           const uint64_t *ipsi_sh, uint64_t p)
{
    const __m512i vp = _mm512_set1_epi64((long long)p), v2p = _mm512_set1_epi64((long long)(2 * p));
    for (size_t t = 1; t <= 4; t <<= 1) {
        struct short_stage st;
        short_stage_init(&st, t);
        const size_t m = n / (2 * t);
        for (size_t b = 0; b < n; b += 16) {
            const size_t g = m + b / (2 * t);
            const struct short_block k = short_gather(a + b, &st, ipsi + g, ipsi_sh + g);
            const __m512i x2 = v_csub(_mm512_add_epi64(k.x, k.y), v2p);
            const __m512i d = _mm512_add_epi64(_mm512_sub_epi64(k.x, k.y), v2p);
            short_scatter(a + b, &st, x2, v_shoup(d, k.w, k.ws, vp));
        }
    }
}

AVX512_TARGET static void fwd_final_avx512(uint64_t *a, size_t n, uint64_t p)
{
    const __m512i vp = _mm512_set1_epi64((long long)p), v2p = _mm512_set1_epi64((long long)(2 * p));
    for (size_t j = 0; j < n; j += 8)
        _mm512_storeu_si512(a + j, v_csub(v_csub(_mm512_loadu_si512(a + j), v2p), vp));
}

AVX512_TARGET static void inv_final_avx512(uint64_t *a, size_t n, uint64_t n_inv, uint64_t n_inv_sh,
                                           uint64_t p)
{
    const __m512i vp = _mm512_set1_epi64((long long)p);
    const __m512i w = _mm512_set1_epi64((long long)n_inv),
                  ws = _mm512_set1_epi64((long long)n_inv_sh);
    for (size_t j = 0; j < n; j += 8)
        _mm512_storeu_si512(a + j, v_csub(v_shoup(_mm512_loadu_si512(a + j), w, ws, vp), vp));
}

/* 128-bit sums of 64x64 products per lane (carry from the low half), then
 * hi * (2^64 mod p) + lo reduced as reduce_u128 does. */
AVX512_TARGET static void mac_avx512(const struct veil_ntt128_prime *pr, size_t n, uint64_t *out,
                                     const uint64_t *const *a, const uint64_t *const *b,
                                     size_t rows)
{
    const __m512i vp = _mm512_set1_epi64((long long)pr->p);
    const __m512i v2p = _mm512_set1_epi64((long long)(2 * pr->p));
    const __m512i r64 = _mm512_set1_epi64((long long)pr->r64);
    const __m512i r64_sh = _mm512_set1_epi64((long long)pr->r64_sh);
    const __m512i one = _mm512_set1_epi64(1), one_sh = _mm512_set1_epi64((long long)pr->one_sh);
    for (size_t j = 0; j < n; j += 8) {
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        for (size_t r = 0; r < rows; r++) {
            const __m512i x = _mm512_loadu_si512(a[r] + j), y = _mm512_loadu_si512(b[r] + j);
            _mm_prefetch((const char *)(b[r] + j + 64), _MM_HINT_T0); /* the key streams */
            const __m512i plo = _mm512_mullo_epi64(x, y);
            lo = _mm512_add_epi64(lo, plo);
            const __mmask8 carry = _mm512_cmplt_epu64_mask(lo, plo);
            hi = _mm512_add_epi64(hi, v_mulhi(x, y));
            hi = _mm512_mask_add_epi64(hi, carry, hi, one);
        }
        const __m512i s =
            _mm512_add_epi64(v_shoup(hi, r64, r64_sh, vp), v_shoup(lo, one, one_sh, vp));
        _mm512_storeu_si512(out + j, v_csub(v_csub(s, v2p), vp));
    }
}

/* Gadget digits for base 2^24 and 3 levels, 8 coefficients at a time, with
 * veil_pbs128_decompose's rounding and tie rule: with t = v + 2^55 (128
 * bits), the 72-bit rounded state is t >> 56, its upper 48 bits t_hi >> 16;
 * digits are sign-extended 24-bit fields with a carry into the next. */
AVX512_TARGET static __m512i digit24(__m512i raw, __m512i tie_src, __m512i *carry)
{
    const __m512i half = _mm512_set1_epi64(1LL << 23), base = _mm512_set1_epi64(1LL << 24);
    const __m512i neg_half = _mm512_set1_epi64(-(1LL << 23)), one = _mm512_set1_epi64(1);
    __m512i d = _mm512_mask_sub_epi64(raw, _mm512_cmpge_epu64_mask(raw, half), raw, base);
    const __mmask8 tie =
        _mm512_cmpeq_epi64_mask(d, neg_half) & _mm512_test_epi64_mask(tie_src, one);
    d = _mm512_mask_mov_epi64(d, tie, half);
    *carry = _mm512_maskz_mov_epi64(_mm512_cmplt_epi64_mask(d, _mm512_setzero_si512()), one);
    return d;
}

/* The three digits of 8 words (low and high halves in lo, hi lanes) as
 * residues modulo p, stored at res[j] + i (row 0: the most significant). */
AVX512_TARGET static inline void digits8_store(__m512i lo, __m512i hi, __m512i vp,
                                               uint64_t *const *res, size_t i)
{
    const __m512i m24 = _mm512_set1_epi64((1LL << 24) - 1), one = _mm512_set1_epi64(1);
    const __m512i r55 = _mm512_set1_epi64(1LL << 55), zero = _mm512_setzero_si512();
    const __m512i tlo = _mm512_add_epi64(lo, r55);
    const __m512i thi = _mm512_mask_add_epi64(hi, _mm512_cmplt_epu64_mask(tlo, lo), hi, one);
    const __m512i top_tie = _mm512_srli_epi64(lo, 55);
    __m512i c0, c1, c2;
    const __m512i raw0 = _mm512_and_si512(
        _mm512_or_si512(_mm512_srli_epi64(tlo, 56), _mm512_slli_epi64(thi, 8)), m24);
    __m512i st1 = _mm512_srli_epi64(thi, 16);
    const __m512i d0 = digit24(raw0, st1, &c0);
    st1 = _mm512_add_epi64(st1, c0);
    __m512i st2 = _mm512_srli_epi64(st1, 24);
    const __m512i d1 = digit24(_mm512_and_si512(st1, m24), st2, &c1);
    st2 = _mm512_add_epi64(st2, c1);
    const __m512i d2 = digit24(_mm512_and_si512(st2, m24), top_tie, &c2);
    const __m512i d[3] = {d2, d1, d0}; /* row 0: the most significant digit */
    for (unsigned j = 0; j < 3; j++) {
        const __mmask8 negative = _mm512_cmplt_epi64_mask(d[j], zero);
        _mm512_storeu_si512(res[j] + i, _mm512_mask_add_epi64(d[j], negative, d[j], vp));
    }
}

/* 8 words at v as low and high lanes. */
struct lohi {
    __m512i lo, hi;
};

AVX512_TARGET static inline struct lohi load8_u128(const veil_u128_t *v)
{
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i A = _mm512_loadu_si512(v), B = _mm512_loadu_si512(v + 4);
    return (struct lohi){_mm512_permutex2var_epi64(A, even, B),
                         _mm512_permutex2var_epi64(A, odd, B)};
}

AVX512_TARGET static void digits_24x3_avx512(const struct veil_ntt128 *t, unsigned prime,
                                             const veil_u128_t *v, uint64_t *const *res)
{
    const __m512i vp = _mm512_set1_epi64((long long)t->pr[prime].p);
    for (size_t i = 0; i < t->n; i += 8) {
        const struct lohi x = load8_u128(v + i);
        digits8_store(x.lo, x.hi, vp, res, i);
    }
}

/* (X^r a - a) on the 8 coefficients from i whose sources a[i - r'] (mod
 * n, r' = r mod n) do not wrap: neg says whether they enter negated. */
AVX512_TARGET static inline struct lohi rot_diff8(const veil_u128_t *a, size_t i, size_t src,
                                                  int neg)
{
    const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
    struct lohi x = load8_u128(a + src);
    const struct lohi y = load8_u128(a + i);
    if (neg) { /* 0 - x over 128 bits */
        const __mmask8 borrow = _mm512_cmpneq_epu64_mask(x.lo, zero);
        x.hi = _mm512_mask_sub_epi64(_mm512_sub_epi64(zero, x.hi), borrow,
                                     _mm512_sub_epi64(zero, x.hi), one);
        x.lo = _mm512_sub_epi64(zero, x.lo);
    }
    const __mmask8 borrow = _mm512_cmplt_epu64_mask(x.lo, y.lo);
    const __m512i hi = _mm512_sub_epi64(x.hi, y.hi);
    return (struct lohi){_mm512_sub_epi64(x.lo, y.lo), _mm512_mask_sub_epi64(hi, borrow, hi, one)};
}

/* The digits of X^r a - a (r < 2n) without writing the difference out:
 * blocks of 8 whose sources wrap around (at most one) go through a scalar
 * copy of the 8 differences. */
AVX512_TARGET static void rot_digits_24x3_avx512(const struct veil_ntt128 *t, unsigned prime,
                                                 const veil_u128_t *a, size_t r,
                                                 uint64_t *const *res)
{
    const size_t n = t->n, rr = r % n;
    const int neg_r = r >= n;
    const __m512i vp = _mm512_set1_epi64((long long)t->pr[prime].p);
    for (size_t i = 0; i < n; i += 8) {
        struct lohi d;
        if (i + 8 <= rr || i >= rr) {
            const int wrapped = i < rr; /* sources a[i - rr + n]: one more negation */
            d = rot_diff8(a, i, wrapped ? i + n - rr : i - rr, wrapped ^ neg_r);
        } else {
            veil_u128_t tmp[8];
            for (size_t k = 0; k < 8; k++) {
                const size_t c = i + k;
                const veil_u128_t x = c < rr ? (veil_u128_t)0 - a[c + n - rr] : a[c - rr];
                tmp[k] = (neg_r ? (veil_u128_t)0 - x : x) - a[c];
            }
            d = load8_u128(tmp);
        }
        digits8_store(d.lo, d.hi, vp, res, i);
    }
}

/* Garner's CRT (crt_signed) on 8 coefficients: X = x0 + x1 p0 (- M when
 * negative) in 128-bit lanes (low and high words apart). */
struct v128 {
    __m512i lo, hi;
};

AVX512_TARGET static inline struct v128 crt2_avx512(const struct veil_ntt128 *t, __m512i r0,
                                                    __m512i r1)
{
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i p0 = _mm512_set1_epi64((long long)t->pr[0].p);
    const __m512i p1 = _mm512_set1_epi64((long long)t->pr[1].p);
    const __m512i p1_half = _mm512_set1_epi64((long long)(t->pr[1].p / 2));
    const __m512i c1 = _mm512_set1_epi64((long long)t->c1),
                  c1s = _mm512_set1_epi64((long long)t->c1_sh);
    const __m512i d1 = v_csub(_mm512_sub_epi64(_mm512_add_epi64(r1, p1), v_csub(r0, p1)), p1);
    const __m512i x1 = v_csub(v_shoup(d1, c1, c1s, p1), p1);
    struct v128 x;
    x.lo = _mm512_add_epi64(r0, _mm512_mullo_epi64(x1, p0));
    x.hi = _mm512_mask_add_epi64(v_mulhi(x1, p0), _mm512_cmplt_epu64_mask(x.lo, r0),
                                 v_mulhi(x1, p0), one);
    const __mmask8 neg = _mm512_cmpgt_epu64_mask(x1, p1_half);
    const __m512i m_lo = _mm512_set1_epi64((long long)(uint64_t)t->m);
    const __m512i m_hi = _mm512_set1_epi64((long long)(uint64_t)(t->m >> 64));
    const __mmask8 borrow = neg & _mm512_cmplt_epu64_mask(x.lo, m_lo);
    x.lo = _mm512_mask_sub_epi64(x.lo, neg, x.lo, m_lo);
    x.hi = _mm512_mask_sub_epi64(x.hi, neg, x.hi, m_hi);
    x.hi = _mm512_mask_sub_epi64(x.hi, borrow, x.hi, one);
    return x;
}

/* out += X0 + 2^64 X1 (only X1's low word matters). */
AVX512_TARGET static void crt_add_avx512(const struct veil_ntt128 *t, veil_u128_t *out,
                                         const uint64_t *const *res, size_t from, size_t to)
{
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i lo_half = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i hi_half = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    const __m512i one = _mm512_set1_epi64(1);
    for (size_t j = from; j < to; j += 8) {
        const struct v128 x0 =
            crt2_avx512(t, _mm512_loadu_si512(res[0] + j), _mm512_loadu_si512(res[1] + j));
        const struct v128 x1 =
            crt2_avx512(t, _mm512_loadu_si512(res[2] + j), _mm512_loadu_si512(res[3] + j));
        const __m512i A = _mm512_loadu_si512(out + j), B = _mm512_loadu_si512(out + j + 4);
        const __m512i olo = _mm512_permutex2var_epi64(A, even, B);
        __m512i ohi = _mm512_permutex2var_epi64(A, odd, B);
        const __m512i nlo = _mm512_add_epi64(olo, x0.lo);
        ohi = _mm512_add_epi64(ohi, _mm512_add_epi64(x0.hi, x1.lo));
        ohi = _mm512_mask_add_epi64(ohi, _mm512_cmplt_epu64_mask(nlo, olo), ohi, one);
        _mm512_storeu_si512(out + j, _mm512_permutex2var_epi64(nlo, lo_half, ohi));
        _mm512_storeu_si512(out + j + 4, _mm512_permutex2var_epi64(nlo, hi_half, ohi));
    }
}
#endif

int veil_ntt128_digits_24x3(const struct veil_ntt128 *t, unsigned prime, const veil_u128_t *v,
                            uint64_t *const *res)
{
#if NTT128_AVX512
    if (t->simd >= VEIL_NTT128_AVX512 && t->n % 8 == 0) {
        digits_24x3_avx512(t, prime, v, res);
        return 1;
    }
#endif
    (void)t;
    (void)prime;
    (void)v;
    (void)res;
    return 0;
}

int veil_ntt128_rot_digits_24x3(const struct veil_ntt128 *t, unsigned prime, const veil_u128_t *a,
                                size_t r, uint64_t *const *res)
{
#if NTT128_AVX512
    if (t->simd >= VEIL_NTT128_AVX512 && t->n % 8 == 0 && r < 2 * t->n) {
        rot_digits_24x3_avx512(t, prime, a, r, res);
        return 1;
    }
#endif
    (void)t;
    (void)prime;
    (void)a;
    (void)r;
    (void)res;
    return 0;
}

static void ntt_forward(const struct veil_ntt128 *t, const struct veil_ntt128_prime *pr,
                        uint64_t *a, const void *pf, size_t pf_bytes)
{
#if NTT128_AVX512
    if (t->simd == VEIL_NTT128_IFMA && t->n >= 16) {
        veil_ntt128_ifma_forward(pr, t->n, a, pf, pf_bytes);
        return;
    }
    if (t->simd == VEIL_NTT128_AVX512 && t->n >= 16) {
        fwd_stages_avx512(a, t->n, pr->psi, pr->psi_sh, pr->p);
        fwd_short_avx512(a, t->n, pr->psi, pr->psi_sh, pr->p);
        fwd_final_avx512(a, t->n, pr->p);
        return;
    }
#endif
    (void)pf; /* only the IFMA transform prefetches */
    (void)pf_bytes;
    fwd_stages(a, t->n, t->n / 2, pr->psi, pr->psi_sh, pr->p);
    fwd_final(a, t->n, pr->p);
}

static void ntt_inverse(const struct veil_ntt128 *t, const struct veil_ntt128_prime *pr,
                        uint64_t *a)
{
#if NTT128_AVX512
    if (t->simd == VEIL_NTT128_IFMA && t->n >= 16) {
        veil_ntt128_ifma_inverse(pr, t->n, a);
        return;
    }
    if (t->simd == VEIL_NTT128_AVX512 && t->n >= 16) {
        inv_short_avx512(a, t->n, pr->ipsi, pr->ipsi_sh, pr->p);
        inv_stages_avx512(a, t->n, pr->ipsi, pr->ipsi_sh, pr->p);
        inv_final_avx512(a, t->n, pr->n_inv, pr->n_inv_sh, pr->p);
        return;
    }
#endif
    inv_stages(a, t->n, t->n, pr->ipsi, pr->ipsi_sh, pr->p);
    inv_final(a, t->n, pr->n_inv, pr->n_inv_sh, pr->p);
}

void veil_ntt128_forward(const struct veil_ntt128 *t, unsigned prime, uint64_t *a)
{
    ntt_forward(t, &t->pr[prime], a, NULL, 0);
}

void veil_ntt128_forward_prefetch(const struct veil_ntt128 *t, unsigned prime, uint64_t *a,
                                  const void *pf, size_t pf_bytes)
{
    ntt_forward(t, &t->pr[prime], a, pf, pf_bytes);
}

void veil_ntt128_inverse(const struct veil_ntt128 *t, unsigned prime, uint64_t *a)
{
    ntt_inverse(t, &t->pr[prime], a);
}

/* Each product is below p^2 < 2^102, so the 128-bit sums never overflow;
 * the IFMA kernel's bound is 15 rows (ntt128_ifma.c). */
void veil_ntt128_mac(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                     const uint64_t *const *a, const uint64_t *const *b, size_t rows)
{
#if NTT128_AVX512
    if (t->simd == VEIL_NTT128_IFMA && t->n % 8 == 0) {
        veil_ntt128_ifma_mac(&t->pr[prime], t->n, out, a, b, rows);
        return;
    }
    if (t->simd == VEIL_NTT128_AVX512 && t->n % 8 == 0) {
        mac_avx512(&t->pr[prime], t->n, out, a, b, rows);
        return;
    }
#endif
    mac_scalar(&t->pr[prime], t->n, out, a, b, rows);
}

/* Garner: X = x0 + x1 p0 with x0 = r0, x1 in [0, p1) is the residue in
 * [0, M); since |X_signed| < M/2 - p0, X is negative exactly when x1 lies
 * in the upper half of [0, p1). Returned as a 128-bit two's complement. */
static inline veil_u128_t crt_signed(const struct veil_ntt128 *t, uint64_t r0, uint64_t r1)
{
    const uint64_t p1 = t->pr[1].p;
    const uint64_t x0_1 = reduce_2p(r0, p1); /* p0 < 2 p1 */
    const uint64_t d1 = r1 >= x0_1 ? r1 - x0_1 : r1 + p1 - x0_1;
    const uint64_t x1 = reduce_2p(mul_shoup_lazy(d1, t->c1, t->c1_sh, p1), p1);
    veil_u128_t x = (veil_u128_t)r0 + (veil_u128_t)x1 * t->pr[0].p;
    if (x1 > p1 / 2)
        x -= t->m;
    return x;
}

static inline veil_u128_t crt_word(const struct veil_ntt128 *t, const uint64_t *const *res,
                                   size_t j)
{
    const veil_u128_t x0 = crt_signed(t, res[0][j], res[1][j]);
    const veil_u128_t x1 = crt_signed(t, res[2][j], res[3][j]);
    return x0 + (x1 << 64);
}

void veil_ntt128_crt(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res)
{
    for (size_t j = 0; j < t->n; j++)
        out[j] = crt_word(t, res, j);
}

void veil_ntt128_crt_add(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res)
{
    veil_ntt128_crt_add_part(t, out, res, 0, t->n);
}

void veil_ntt128_crt_add_part(const struct veil_ntt128 *t, veil_u128_t *out,
                              const uint64_t *const *res, size_t from, size_t to)
{
#if NTT128_AVX512
    if (t->simd == VEIL_NTT128_IFMA && from % 8 == 0 && to % 8 == 0) {
        veil_ntt128_ifma_crt_add(t, out, res, from, to);
        return;
    }
    if (t->simd >= VEIL_NTT128_AVX512 && from % 8 == 0 && to % 8 == 0) {
        crt_add_avx512(t, out, res, from, to);
        return;
    }
#endif
    for (size_t j = from; j < to; j++)
        out[j] += crt_word(t, res, j);
}
