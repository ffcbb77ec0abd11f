// SPDX-License-Identifier: Apache-2.0
/*
 * core/ntt128_simd.h - what the vector kernels of the 128-bit NTT share
 * (private to ntt128.c and ntt128_ifma.c): whether they are built, their
 * target attributes, the conditional subtraction, the gather/scatter of
 * the short stages (t = 4, 2, 1), and the IFMA kernels' entry points.
 */
#ifndef VEIL_FHE_CORE_NTT128_SIMD_H
#define VEIL_FHE_CORE_NTT128_SIMD_H

#include "ntt128.h"

/* The vector kernels: GCC on x86-64, outside sanitizer builds and the
 * builds that test a code path without AVX-512 (as hot.h's clones). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__) && !defined(VEIL_FHE_NO_CLONES) &&                              \
    !defined(VEIL_FHE_CLONES_MAX_V3)
#define NTT128_AVX512 1
#include <immintrin.h>
#else
#define NTT128_AVX512 0
#endif

#if NTT128_AVX512
#define AVX512_TARGET __attribute__((target("avx512f,avx512dq")))
#define IFMA_TARGET   __attribute__((target("avx512f,avx512dq,avx512ifma")))

/* x >= m ? x - m : x (unsigned). */
AVX512_TARGET static inline __m512i v_csub(__m512i x, __m512i m)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

/* The stages with t = 4, 2, 1 on 16 words (two vectors) at a time: the
 * butterflies' x words are gathered into one vector and their y words into
 * another, each lane's twiddle is psi[m + group], and the results are
 * scattered back. */
struct short_stage {
    __m512i gx, gy; /* gather: 16 words -> x lanes, y lanes */
    __m512i sa, sb; /* scatter: x', y' -> first, second 8 words */
    __m512i tw;     /* lane k's group offset k / t */
};

AVX512_TARGET static inline void short_stage_init(struct short_stage *st, size_t t)
{
    long long gx[8], gy[8], sa[16], tw[8];
    size_t kx = 0, ky = 0;
    for (size_t e = 0; e < 16; e++) {
        if (e % (2 * t) < t) {
            sa[e] = (long long)kx;
            gx[kx++] = (long long)e;
        } else {
            sa[e] = (long long)(8 + ky);
            gy[ky++] = (long long)e;
        }
    }
    for (size_t k = 0; k < 8; k++)
        tw[k] = (long long)(k / t);
    st->gx = _mm512_loadu_si512(gx);
    st->gy = _mm512_loadu_si512(gy);
    st->sa = _mm512_loadu_si512(sa);
    st->sb = _mm512_loadu_si512(sa + 8);
    st->tw = _mm512_loadu_si512(tw);
}

/* One 16-word block's butterfly inputs: x and y lanes, each lane's twiddle
 * and its Shoup companion (tw, tw_sh point at the block's first group). */
struct short_block {
    __m512i x, y, w, ws;
};

AVX512_TARGET static inline struct short_block short_gather(const uint64_t *a,
                                                            const struct short_stage *st,
                                                            const uint64_t *tw,
                                                            const uint64_t *tw_sh)
{
    const __m512i A = _mm512_loadu_si512(a), B = _mm512_loadu_si512(a + 8);
    struct short_block k;
    k.x = _mm512_permutex2var_epi64(A, st->gx, B);
    k.y = _mm512_permutex2var_epi64(A, st->gy, B);
    k.w = _mm512_permutexvar_epi64(st->tw, _mm512_loadu_si512(tw));
    k.ws = _mm512_permutexvar_epi64(st->tw, _mm512_loadu_si512(tw_sh));
    return k;
}

AVX512_TARGET static inline void short_scatter(uint64_t *a, const struct short_stage *st,
                                               __m512i x2, __m512i y2)
{
    _mm512_storeu_si512(a, _mm512_permutex2var_epi64(x2, st->sa, y2));
    _mm512_storeu_si512(a + 8, _mm512_permutex2var_epi64(x2, st->sb, y2));
}

/* The IFMA kernels (ntt128_ifma.c): forward and inverse transforms and the
 * multiply-accumulate, the same results as the scalar code (the forward one
 * also prefetches pf_bytes at pf, NULL for none). */
void veil_ntt128_ifma_forward(const struct veil_ntt128_prime *pr, size_t n, uint64_t *a,
                              const void *pf, size_t pf_bytes);
void veil_ntt128_ifma_inverse(const struct veil_ntt128_prime *pr, size_t n, uint64_t *a);
void veil_ntt128_ifma_mac(const struct veil_ntt128_prime *pr, size_t n, uint64_t *out,
                          const uint64_t *const *a, const uint64_t *const *b, size_t rows);
void veil_ntt128_ifma_crt_add(const struct veil_ntt128 *t, veil_u128_t *out,
                              const uint64_t *const *res, size_t from, size_t to);
#endif

#endif /* VEIL_FHE_CORE_NTT128_SIMD_H */
