// SPDX-License-Identifier: Apache-2.0
/*
 * core/ntt128_ifma.c - the AVX-512 IFMA kernels of the 128-bit NTT
 * (ntt128.h): forward and inverse transforms and the NTT-domain
 * multiply-accumulate, on 8 lanes with 52-bit products (vpmadd52luq /
 * vpmadd52huq). Chosen by ntt128.c at run time on CPUs with AVX-512 IFMA.
 *
 * Every prime is below 2^51, so a value kept below 2p fits the 52 bits an
 * IFMA multiplier reads. The butterflies reduce both outputs to [0, 2p)
 * (the scalar code lets them grow to 4p), and every transform ends with
 * canonical residues in [0, p): the same words as the scalar code, since
 * both compute the exact transform.
 */
#include "ntt128_simd.h"

#if NTT128_AVX512

/* x * w mod p in [0, 2p) for x < 2^52, w < p, w_sh = floor(w 2^52 / p):
 * q = floor(x w_sh / 2^52) is floor(x w / p) or one less, so
 * x w - q p in [0, 2p) < 2^52 is exact in the low 52 bits. neg_p is
 * 2^52 - p: lo52(x w) + lo52(q (2^52 - p)) = x w - q p mod 2^52. */
IFMA_TARGET static inline __m512i shoup52(__m512i x, __m512i w, __m512i w_sh, __m512i neg_p)
{
    const __m512i zero = _mm512_setzero_si512(), m52 = _mm512_set1_epi64((1LL << 52) - 1);
    const __m512i q = _mm512_madd52hi_epu64(zero, x, w_sh);
    const __m512i xw = _mm512_madd52lo_epu64(zero, x, w);
    return _mm512_and_si512(_mm512_madd52lo_epu64(xw, q, neg_p), m52);
}

/* 2^52 - p, the constant shoup52 takes. */
IFMA_TARGET static inline __m512i neg_p52(const struct veil_ntt128_prime *pr)
{
    return _mm512_set1_epi64((long long)((UINT64_C(1) << 52) - pr->p));
}

/* For a, b in [0, 2p): a + b and a - b, both in [0, 2p) (unsigned min
 * picks the one of s, s - 2p / d, d + 2p that did not wrap or overflow
 * 2p). */
IFMA_TARGET static inline __m512i add2p(__m512i a, __m512i b, __m512i p2)
{
    const __m512i s = _mm512_add_epi64(a, b);
    return _mm512_min_epu64(s, _mm512_sub_epi64(s, p2));
}

IFMA_TARGET static inline __m512i sub2p(__m512i a, __m512i b, __m512i p2)
{
    const __m512i d = _mm512_sub_epi64(a, b);
    return _mm512_min_epu64(d, _mm512_add_epi64(d, p2));
}

/* Cooley-Tukey butterfly on values in [0, 2p): x + w y, x - w y, both in
 * [0, 2p). np: 2^52 - p (shoup52's constant), p2: 2p. */
IFMA_TARGET static inline void ct52(__m512i *x, __m512i *y, __m512i w, __m512i ws, __m512i np,
                                    __m512i p2)
{
    const __m512i v = shoup52(*y, w, ws, np);
    const __m512i u = *x;
    *x = add2p(u, v, p2);
    *y = sub2p(u, v, p2);
}

/* Gentleman-Sande butterfly on values in [0, 2p): x + y, w (x - y), both
 * in [0, 2p); np and p2 as for ct52. */
IFMA_TARGET static inline void gs52(__m512i *x, __m512i *y, __m512i w, __m512i ws, __m512i np,
                                    __m512i p2)
{
    const __m512i u = *x, v = *y;
    *x = add2p(u, v, p2);
    *y = shoup52(sub2p(u, v, p2), w, ws, np);
}

/* Memory the caller will read soon, prefetched a cache line at a time
 * between butterflies so that the reads overlap the arithmetic. The hint
 * is T2 (outer levels, not L1): a CMux step prefetches a whole GGSW
 * (1.78 MB) during its forward transforms, which as T0 pushed the
 * transforms' own words out of L1; T2 took less CPU per block in 6 of 7
 * alternated pairs on the loaded machine (about -6%; -1% in whole-bench
 * alternations: NOISE_SQUASHING.md). */
struct pf_cursor {
    const char *p, *end;
};

static inline void pf_step(struct pf_cursor *c)
{
    if (c->p < c->end) {
        _mm_prefetch(c->p, _MM_HINT_T2);
        c->p += 64;
    }
}

IFMA_TARGET static void fwd_long(uint64_t *a, size_t n, const struct veil_ntt128_prime *pr,
                                 struct pf_cursor *pf)
{
    const __m512i np = neg_p52(pr);
    const __m512i v2p = _mm512_set1_epi64((long long)(2 * pr->p));
    for (size_t t = n / 2; t >= 8; t >>= 1) {
        const size_t m = n / (2 * t);
        for (size_t i = 0; i < m; i++) {
            const __m512i w = _mm512_set1_epi64((long long)pr->psi[m + i]);
            const __m512i ws = _mm512_set1_epi64((long long)pr->psi_sh52[m + i]);
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j += 8) {
                pf_step(pf);
                pf_step(pf);
                __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
                ct52(&u, &v, w, ws, np, v2p);
                _mm512_storeu_si512(x + j, u);
                _mm512_storeu_si512(y + j, v);
            }
        }
    }
}

/* ---- the stages t = 4, 2, 1 fused on 16 words (two vectors) ----
 * In "arrangement t" the x vector holds, in increasing order, the 8 of the
 * 16 positions e with e mod 2t < t (the x inputs of stage t's butterflies)
 * and the y vector the others; lane k's twiddle is that of group k / t.
 * Arrangement 8 is the natural order (x: words 0-7, y: words 8-15). The
 * three stages run in registers, moving from one arrangement to the next
 * with one permutex2var per vector (index < 8: x's lane, else 8 + y's
 * lane). Moving between 8 and 4, 4 and 2, 2 and 1 is the same permutation
 * either way; test_fhe_squash_core checks the results against the scalar
 * transforms. */
static const long long perm_8_4[2][8] = {{0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15}};
static const long long perm_4_2[2][8] = {{0, 1, 8, 9, 4, 5, 12, 13}, {2, 3, 10, 11, 6, 7, 14, 15}};
static const long long perm_2_1[2][8] = {{0, 8, 2, 10, 4, 12, 6, 14}, {1, 9, 3, 11, 5, 13, 7, 15}};
static const long long perm_1_8[2][8] = {{0, 8, 1, 9, 2, 10, 3, 11}, {4, 12, 5, 13, 6, 14, 7, 15}};
static const long long perm_8_1[2][8] = {{0, 2, 4, 6, 8, 10, 12, 14}, {1, 3, 5, 7, 9, 11, 13, 15}};
/* lane -> group offsets k / 4 and k / 2 */
static const long long tw_lanes[2][8] = {{0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 2, 2, 3, 3}};

struct perm {
    __m512i x, y;
};

IFMA_TARGET static inline struct perm perm_load(const long long p[2][8])
{
    return (struct perm){_mm512_loadu_si512(p[0]), _mm512_loadu_si512(p[1])};
}

IFMA_TARGET static inline void rearrange(struct perm p, __m512i *x, __m512i *y)
{
    const __m512i nx = _mm512_permutex2var_epi64(*x, p.x, *y);
    *y = _mm512_permutex2var_epi64(*x, p.y, *y);
    *x = nx;
}

/* Stage t's twiddles (t = 4, 2, 1) for the 16-word block at b: lane k gets
 * tw[n/(2t) + b/(2t) + k/t] (tw + n/(2t) + b/(2t) has 8 entries left). */
IFMA_TARGET static inline __m512i stage_tw(const uint64_t *tw, size_t n, size_t b, size_t t,
                                           __m512i lanes4, __m512i lanes2)
{
    const __m512i v = _mm512_loadu_si512(tw + n / (2 * t) + b / (2 * t));
    return t == 1 ? v : _mm512_permutexvar_epi64(t == 4 ? lanes4 : lanes2, v);
}

/* Forward stages t = 4, 2, 1; leaves canonical residues. */
IFMA_TARGET static void fwd_short(uint64_t *a, size_t n, const struct veil_ntt128_prime *pr)
{
    const __m512i vp = _mm512_set1_epi64((long long)pr->p), np = neg_p52(pr);
    const __m512i v2p = _mm512_set1_epi64((long long)(2 * pr->p));
    const __m512i l4 = _mm512_loadu_si512(tw_lanes[0]), l2 = _mm512_loadu_si512(tw_lanes[1]);
    const struct perm to4 = perm_load(perm_8_4), to2 = perm_load(perm_4_2);
    const struct perm to1 = perm_load(perm_2_1), back = perm_load(perm_1_8);
    for (size_t b = 0; b < n; b += 16) {
        __m512i x = _mm512_loadu_si512(a + b), y = _mm512_loadu_si512(a + b + 8);
        rearrange(to4, &x, &y);
        ct52(&x, &y, stage_tw(pr->psi, n, b, 4, l4, l2), stage_tw(pr->psi_sh52, n, b, 4, l4, l2),
             np, v2p);
        rearrange(to2, &x, &y);
        ct52(&x, &y, stage_tw(pr->psi, n, b, 2, l4, l2), stage_tw(pr->psi_sh52, n, b, 2, l4, l2),
             np, v2p);
        rearrange(to1, &x, &y);
        ct52(&x, &y, stage_tw(pr->psi, n, b, 1, l4, l2), stage_tw(pr->psi_sh52, n, b, 1, l4, l2),
             np, v2p);
        x = v_csub(x, vp);
        y = v_csub(y, vp);
        rearrange(back, &x, &y);
        _mm512_storeu_si512(a + b, x);
        _mm512_storeu_si512(a + b + 8, y);
    }
}

void veil_ntt128_ifma_forward(const struct veil_ntt128_prime *pr, size_t n, uint64_t *a,
                              const void *pf, size_t pf_bytes)
{
    struct pf_cursor c = {pf, (const char *)pf + (pf ? pf_bytes : 0)};
    fwd_long(a, n, pr, &c);
    fwd_short(a, n, pr);
}

/* Inverse stages t = 1, 2, 4. */
IFMA_TARGET static void inv_short(uint64_t *a, size_t n, const struct veil_ntt128_prime *pr)
{
    const __m512i np = neg_p52(pr), v2p = _mm512_set1_epi64((long long)(2 * pr->p));
    const __m512i l4 = _mm512_loadu_si512(tw_lanes[0]), l2 = _mm512_loadu_si512(tw_lanes[1]);
    const struct perm to1 = perm_load(perm_8_1), to2 = perm_load(perm_2_1);
    const struct perm to4 = perm_load(perm_4_2), back = perm_load(perm_8_4);
    for (size_t b = 0; b < n; b += 16) {
        __m512i x = _mm512_loadu_si512(a + b), y = _mm512_loadu_si512(a + b + 8);
        rearrange(to1, &x, &y);
        gs52(&x, &y, stage_tw(pr->ipsi, n, b, 1, l4, l2), stage_tw(pr->ipsi_sh52, n, b, 1, l4, l2),
             np, v2p);
        rearrange(to2, &x, &y);
        gs52(&x, &y, stage_tw(pr->ipsi, n, b, 2, l4, l2), stage_tw(pr->ipsi_sh52, n, b, 2, l4, l2),
             np, v2p);
        rearrange(to4, &x, &y);
        gs52(&x, &y, stage_tw(pr->ipsi, n, b, 4, l4, l2), stage_tw(pr->ipsi_sh52, n, b, 4, l4, l2),
             np, v2p);
        rearrange(back, &x, &y);
        _mm512_storeu_si512(a + b, x);
        _mm512_storeu_si512(a + b + 8, y);
    }
}

/* Stages t = 8 .. n/2; the last one (one group, twiddle ipsi[1]) also
 * multiplies by N^-1 and leaves canonical residues. */
IFMA_TARGET static void inv_long(uint64_t *a, size_t n, const struct veil_ntt128_prime *pr)
{
    const __m512i vp = _mm512_set1_epi64((long long)pr->p), np = neg_p52(pr);
    const __m512i v2p = _mm512_set1_epi64((long long)(2 * pr->p));
    for (size_t t = 8; t < n / 2; t <<= 1) {
        const size_t m = n / (2 * t);
        for (size_t i = 0; i < m; i++) {
            const __m512i w = _mm512_set1_epi64((long long)pr->ipsi[m + i]);
            const __m512i ws = _mm512_set1_epi64((long long)pr->ipsi_sh52[m + i]);
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (size_t j = 0; j < t; j += 8) {
                __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
                gs52(&u, &v, w, ws, np, v2p);
                _mm512_storeu_si512(x + j, u);
                _mm512_storeu_si512(y + j, v);
            }
        }
    }
    const __m512i w = _mm512_set1_epi64((long long)pr->ipsi[1]);
    const __m512i ws = _mm512_set1_epi64((long long)pr->ipsi_sh52[1]);
    const __m512i ni = _mm512_set1_epi64((long long)pr->n_inv);
    const __m512i nis = _mm512_set1_epi64((long long)pr->n_inv_sh52);
    uint64_t *x = a, *y = a + n / 2;
    for (size_t j = 0; j < n / 2; j += 8) {
        __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
        gs52(&u, &v, w, ws, np, v2p);
        _mm512_storeu_si512(x + j, v_csub(shoup52(u, ni, nis, np), vp));
        _mm512_storeu_si512(y + j, v_csub(shoup52(v, ni, nis, np), vp));
    }
}

void veil_ntt128_ifma_inverse(const struct veil_ntt128_prime *pr, size_t n, uint64_t *a)
{
    inv_short(a, n, pr);
    inv_long(a, n, pr);
}

/* S = sum a_r b_r over rows <= 15 with a_r, b_r < p < 2^51: the low and
 * high 52-bit halves of the products are summed apart (lo < 15 * 2^52,
 * hi < 15 p^2 / 2^52 < 8p), hi is brought below 2p, lo's carries move into
 * it (still below 2^52), and S = hi * 2^52 + lo mod p with 2^52 mod p. */
/* Words ahead that the multiply-accumulate prefetches of each key row: the
 * key streams from memory. */
#define MAC_PREFETCH 256

/* The constants of the multiply-accumulate's reduction. */
struct mac_ctx {
    __m512i vp, np, v2p, v4p, r52, r52s, m52;
};

IFMA_TARGET static inline struct mac_ctx mac_ctx_init(const struct veil_ntt128_prime *pr)
{
    struct mac_ctx c;
    c.vp = _mm512_set1_epi64((long long)pr->p);
    c.np = neg_p52(pr);
    c.v2p = _mm512_set1_epi64((long long)(2 * pr->p));
    c.v4p = _mm512_set1_epi64((long long)(4 * pr->p));
    c.r52 = _mm512_set1_epi64((long long)pr->r52);
    c.r52s = _mm512_set1_epi64((long long)pr->r52_sh52);
    c.m52 = _mm512_set1_epi64((1LL << 52) - 1);
    return c;
}

/* hi * 2^52 + lo mod p, canonical (lo < 15 * 2^52, hi < 8p). */
IFMA_TARGET static inline __m512i mac_reduce(__m512i lo, __m512i hi, const struct mac_ctx *c)
{
    hi = v_csub(v_csub(hi, c->v4p), c->v2p);
    hi = _mm512_add_epi64(hi, _mm512_srli_epi64(lo, 52));
    const __m512i l = v_csub(_mm512_and_si512(lo, c->m52), c->v2p);
    const __m512i s = _mm512_add_epi64(shoup52(hi, c->r52, c->r52s, c->np), l);
    return v_csub(v_csub(s, c->v2p), c->vp);
}

IFMA_TARGET void veil_ntt128_ifma_mac(const struct veil_ntt128_prime *pr, size_t n, uint64_t *out,
                                      const uint64_t *const *a, const uint64_t *const *b,
                                      size_t rows)
{
    const struct mac_ctx c = mac_ctx_init(pr);
    for (size_t j = 0; j < n; j += 8) {
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        for (size_t r = 0; r < rows; r++) {
            const __m512i x = _mm512_loadu_si512(a[r] + j), y = _mm512_loadu_si512(b[r] + j);
            _mm_prefetch((const char *)(b[r] + j + MAC_PREFETCH), _MM_HINT_T0);
            lo = _mm512_madd52lo_epu64(lo, x, y);
            hi = _mm512_madd52hi_epu64(hi, x, y);
        }
        _mm512_storeu_si512(out + j, mac_reduce(lo, hi, &c));
    }
}

/* ---- Garner's CRT with 52-bit products ----
 * X = r0 + x1 p0 with x1 = (r1 - r0) p0^-1 mod p1 (a Shoup product with
 * c1's 52-bit companion), minus M when x1 is in the upper half of [0, p1)
 * (ntt128.c's crt_signed): the 102-bit x1 p0 comes from the low and high
 * 52-bit halves of one IFMA product pair. */
struct crt_ctx {
    __m512i p1, np1, c1, c1s, p1_half, p0, m_lo, m_hi, one, zero;
};

IFMA_TARGET static inline struct crt_ctx crt_ctx_init(const struct veil_ntt128 *t)
{
    struct crt_ctx c;
    c.p1 = _mm512_set1_epi64((long long)t->pr[1].p);
    c.np1 = neg_p52(&t->pr[1]);
    c.c1 = _mm512_set1_epi64((long long)t->c1);
    c.c1s = _mm512_set1_epi64((long long)t->c1_sh52);
    c.p1_half = _mm512_set1_epi64((long long)(t->pr[1].p / 2));
    c.p0 = _mm512_set1_epi64((long long)t->pr[0].p);
    c.m_lo = _mm512_set1_epi64((long long)(uint64_t)t->m);
    c.m_hi = _mm512_set1_epi64((long long)(uint64_t)(t->m >> 64));
    c.one = _mm512_set1_epi64(1);
    c.zero = _mm512_setzero_si512();
    return c;
}

/* The signed limb product X of residues r0, r1 as 128-bit lanes (lo, hi);
 * hi is only computed when want_hi. */
IFMA_TARGET static inline void crt52(const struct crt_ctx *c, __m512i r0, __m512i r1, int want_hi,
                                     __m512i *lo, __m512i *hi)
{
    const __m512i x0_1 = v_csub(r0, c->p1); /* p0 < 2 p1 */
    const __m512i d1 = v_csub(_mm512_sub_epi64(_mm512_add_epi64(r1, c->p1), x0_1), c->p1);
    const __m512i x1 = v_csub(shoup52(d1, c->c1, c->c1s, c->np1), c->p1);
    const __m512i l = _mm512_madd52lo_epu64(r0, x1, c->p0); /* r0 + low 52 bits: < 2^53 */
    const __m512i h52 = _mm512_madd52hi_epu64(c->zero, x1, c->p0);
    const __mmask8 neg = _mm512_cmpgt_epu64_mask(x1, c->p1_half);
    __m512i x_lo = _mm512_add_epi64(l, _mm512_slli_epi64(h52, 52));
    if (want_hi) {
        __m512i x_hi = _mm512_srli_epi64(h52, 12);
        x_hi = _mm512_mask_add_epi64(x_hi, _mm512_cmplt_epu64_mask(x_lo, l), x_hi, c->one);
        const __mmask8 borrow = neg & _mm512_cmplt_epu64_mask(x_lo, c->m_lo);
        x_hi = _mm512_mask_sub_epi64(x_hi, neg, x_hi, c->m_hi);
        *hi = _mm512_mask_sub_epi64(x_hi, borrow, x_hi, c->one);
    }
    *lo = _mm512_mask_sub_epi64(x_lo, neg, x_lo, c->m_lo);
}

/* out[j] += X0 + 2^64 X1 on [from, to) (multiples of 8). */
IFMA_TARGET void veil_ntt128_ifma_crt_add(const struct veil_ntt128 *t, veil_u128_t *out,
                                          const uint64_t *const *res, size_t from, size_t to)
{
    const struct crt_ctx c = crt_ctx_init(t);
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i lo_half = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i hi_half = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    for (size_t j = from; j < to; j += 8) {
        __m512i x0_lo, x0_hi, x1_lo, unused;
        crt52(&c, _mm512_loadu_si512(res[0] + j), _mm512_loadu_si512(res[1] + j), 1, &x0_lo,
              &x0_hi);
        crt52(&c, _mm512_loadu_si512(res[2] + j), _mm512_loadu_si512(res[3] + j), 0, &x1_lo,
              &unused);
        const __m512i A = _mm512_loadu_si512(out + j), B = _mm512_loadu_si512(out + j + 4);
        const __m512i olo = _mm512_permutex2var_epi64(A, even, B);
        __m512i ohi = _mm512_permutex2var_epi64(A, odd, B);
        const __m512i nlo = _mm512_add_epi64(olo, x0_lo);
        ohi = _mm512_add_epi64(ohi, _mm512_add_epi64(x0_hi, x1_lo));
        ohi = _mm512_mask_add_epi64(ohi, _mm512_cmplt_epu64_mask(nlo, olo), ohi, c.one);
        _mm512_storeu_si512(out + j, _mm512_permutex2var_epi64(nlo, lo_half, ohi));
        _mm512_storeu_si512(out + j + 4, _mm512_permutex2var_epi64(nlo, hi_half, ohi));
    }
}

#else
typedef int veil_ntt128_ifma_none; /* ISO C: a translation unit declares something */
#endif
