// SPDX-License-Identifier: Apache-2.0
/*
 * core/pbs.c - GGSW encryption, external product, CMux blind rotation and
 * PBS (see pbs.h). The bootstrapping key stays in the Fourier domain; the
 * loop over the n GGSWs allocates nothing and always performs the same
 * floating-point operations in the same order, whatever thread runs it.
 */
#include "pbs.h"

#include <string.h>

#include "hot.h"
#include "lwe.h"

void veil_fhe_ggsw_encrypt(uint64_t *ggsw, const struct veil_fhe_bsk_shape *s,
                           const uint64_t *glwe_key, uint64_t m, unsigned noise_log2,
                           struct veil_fhe_rng *mask_rng, struct veil_fhe_rng *noise_rng)
{
    const size_t k = s->k, n = s->poly, row_words = (k + 1) * n;
    for (size_t c = 0; c <= k; c++) {
        for (unsigned j = 0; j < s->level; j++) {
            uint64_t *row = ggsw + (c * s->level + j) * row_words;
            veil_fhe_glwe_encrypt(row, glwe_key, k, n, NULL, noise_log2, mask_rng, noise_rng);
            const uint64_t g = UINT64_C(1) << (64 - (j + 1) * s->base_log);
            uint64_t *body = row + k * n;
            if (!m)
                continue;
            if (c == k) {
                body[0] += m * g;
            } else {
                const uint64_t *key = glwe_key + c * n;
                for (size_t t = 0; t < n; t++)
                    body[t] -= m * g * key[t];
            }
        }
    }
}

void veil_fhe_ggsw_to_fourier(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                              double *out, const uint64_t *ggsw, double *scratch)
{
    const size_t polys = (s->k + 1) * s->level * (s->k + 1);
    for (size_t p = 0; p < polys; p++)
        veil_fhe_fft_forward_torus(fft, out + p * s->poly, ggsw + p * s->poly, scratch);
}

int veil_fhe_pbs_scratch_init(struct veil_fhe_pbs_scratch *sc, const struct veil_fhe_bsk_shape *s,
                              veil_err *err)
{
    const size_t k = s->k, n = s->poly;
    memset(sc, 0, sizeof *sc);
    sc->acc = veil_fhe_aligned_alloc((k + 1) * n * sizeof(uint64_t));
    sc->diff = veil_fhe_aligned_alloc(n * sizeof(uint64_t));
    sc->digits = veil_fhe_aligned_alloc(s->level * n * sizeof(int64_t));
    sc->fin = veil_fhe_aligned_alloc(n * sizeof(double));
    sc->fout = veil_fhe_aligned_alloc((k + 2) * n * sizeof(double));
    sc->tmp = veil_fhe_aligned_alloc(n * sizeof(double));
    sc->lwe = veil_fhe_aligned_alloc((s->lwe_dim + 1) * sizeof(uint64_t));
    sc->ks_acc = veil_fhe_aligned_alloc((s->lwe_dim + 1) * sizeof(uint32_t));
    if (!sc->acc || !sc->diff || !sc->digits || !sc->fin || !sc->fout || !sc->tmp || !sc->lwe ||
        !sc->ks_acc) {
        veil_fhe_pbs_scratch_free(sc);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for PBS scratch");
    }
    return 0;
}

void veil_fhe_pbs_scratch_free(struct veil_fhe_pbs_scratch *sc)
{
    veil_fhe_aligned_free(sc->acc);
    veil_fhe_aligned_free(sc->diff);
    veil_fhe_aligned_free(sc->digits);
    veil_fhe_aligned_free(sc->fin);
    veil_fhe_aligned_free(sc->fout);
    veil_fhe_aligned_free(sc->tmp);
    veil_fhe_aligned_free(sc->lwe);
    veil_fhe_aligned_free(sc->ks_acc);
    memset(sc, 0, sizeof *sc);
}

/* The level-1 digit of v (veil_fhe_decompose with one level, written with
 * integer arithmetic only so that it vectorizes): sign-extended rounded top
 * bits, with a tie (-B/2) turned into +B/2 when the first bit rounded away is
 * 1. */
static inline int64_t digit1(uint64_t v, unsigned shift, uint64_t half, uint64_t neg_half)
{
    uint64_t d = (uint64_t)((int64_t)(((v + half) >> shift) << shift) >> shift);
    uint64_t t = d - neg_half;                  /* 0 exactly on a tie */
    uint64_t tie = ((t - 1) & ~t) >> 63;        /* 1 iff t == 0 */
    uint64_t flip = tie & (v >> (shift - 1));   /* & 1 implied: tie is 0 or 1 */
    return (int64_t)(d + (flip << (64 - shift)));
}

/* digits[t] = the single (level 1) signed gadget digit of (X^r a - a)[t]. */
VEIL_FHE_HOT
static void rotate_sub_digits1(int64_t *restrict digits, const uint64_t *restrict a, size_t n,
                               size_t r, unsigned base_log)
{
    const unsigned shift = 64 - base_log;
    const uint64_t half = UINT64_C(1) << (shift - 1);
    const uint64_t neg_half = (uint64_t)0 - (UINT64_C(1) << (base_log - 1));
    uint64_t sign_hi = 0; /* for t >= r: X^r a [t] = +-a[t-r] */
    if (r >= n) {
        r -= n;
        sign_hi = UINT64_MAX;
    }
    const uint64_t sign_lo = ~sign_hi; /* for t < r: -+a[t+n-r] */
    for (size_t t = 0; t < r; t++) {
        uint64_t v = ((a[t + n - r] ^ sign_lo) - sign_lo) - a[t];
        digits[t] = digit1(v, shift, half, neg_half);
    }
    for (size_t t = r; t < n; t++) {
        uint64_t v = ((a[t - r] ^ sign_hi) - sign_hi) - a[t];
        digits[t] = digit1(v, shift, half, neg_half);
    }
}

/* k = 1, level 1: o0 = f0*B(0,0) + f1*B(1,0), o1 = f0*B(0,1) + f1*B(1,1)
 * (complex, split layout: N/2 real parts then N/2 imaginary parts); B(row,
 * col) is the GGSW's Fourier polynomial. */
VEIL_FHE_HOT
static void fourier_mac_2x2(double *restrict o0, double *restrict o1, const double *restrict f0,
                            const double *restrict f1, const double *restrict ggsw, size_t n)
{
    const size_t m = n / 2;
    const double *restrict b00 = ggsw, *restrict b01 = ggsw + n, *restrict b10 = ggsw + 2 * n,
                           *restrict b11 = ggsw + 3 * n;
    for (size_t j = 0; j < m; j++) {
        const double f0r = f0[j], f0i = f0[j + m], f1r = f1[j], f1i = f1[j + m];
        o0[j] = (f0r * b00[j] - f0i * b00[j + m]) + (f1r * b10[j] - f1i * b10[j + m]);
        o0[j + m] = (f0r * b00[j + m] + f0i * b00[j]) + (f1r * b10[j + m] + f1i * b10[j]);
        o1[j] = (f0r * b01[j] - f0i * b01[j + m]) + (f1r * b11[j] - f1i * b11[j + m]);
        o1[j + m] = (f0r * b01[j + m] + f0i * b01[j]) + (f1r * b11[j + m] + f1i * b11[j]);
    }
}

/* acc += GGSW ⊡ (X^r acc - acc): one CMux step selecting X^r acc when the
 * GGSW encrypts 1 and acc when it encrypts 0. */
static void cmux_rotate(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                        const double *ggsw, size_t r, struct veil_fhe_pbs_scratch *sc)
{
    const size_t k = s->k, n = s->poly, level = s->level;
    const unsigned base_log = s->base_log;
    const size_t fpoly = n; /* doubles per Fourier polynomial */
    if (k == 1 && level == 1) {
        /* The default parameters: 2 forward FFTs, one fused multiply-add pass
         * over the 4 Fourier polynomials, 2 inverse FFTs. */
        double *f0 = sc->fin, *f1 = sc->fout + 2 * n; /* fout has room for 2 polys + f1 */
        rotate_sub_digits1(sc->digits, sc->acc, n, r, base_log);
        veil_fhe_fft_forward_i64(fft, f0, sc->digits, sc->tmp);
        rotate_sub_digits1(sc->digits, sc->acc + n, n, r, base_log);
        veil_fhe_fft_forward_i64(fft, f1, sc->digits, sc->tmp);
        fourier_mac_2x2(sc->fout, sc->fout + n, f0, f1, ggsw, n);
        veil_fhe_fft_backward_add(fft, sc->acc, sc->fout, sc->tmp);
        veil_fhe_fft_backward_add(fft, sc->acc + n, sc->fout + n, sc->tmp);
        return;
    }
    memset(sc->fout, 0, (k + 1) * n * sizeof(double));
    for (size_t c = 0; c <= k; c++) {
        const uint64_t *a = sc->acc + c * n;
        /* diff = X^r a - a, then gadget-decompose every coefficient. */
        veil_fhe_poly_rotate(sc->diff, a, n, r);
        int64_t dig[64];
        for (size_t t = 0; t < n; t++) {
            veil_fhe_decompose(sc->diff[t] - a[t], base_log, (unsigned)level, dig);
            for (size_t j = 0; j < level; j++)
                sc->digits[j * n + t] = dig[level - 1 - j]; /* j = 0: most significant */
        }
        for (size_t j = 0; j < level; j++) {
            veil_fhe_fft_forward_i64(fft, sc->fin, sc->digits + j * n, sc->tmp);
            const double *row = ggsw + (c * level + j) * (k + 1) * fpoly;
            for (size_t col = 0; col <= k; col++)
                veil_fhe_fourier_mul_acc(n, sc->fout + col * fpoly, sc->fin, row + col * fpoly);
        }
    }
    for (size_t col = 0; col <= k; col++)
        veil_fhe_fft_backward_add(fft, sc->acc + col * n, sc->fout + col * fpoly, sc->tmp);
}

static unsigned log2_of_2n(const struct veil_fhe_bsk_shape *s)
{
    unsigned log2_2n = 0;
    while (((size_t)1 << log2_2n) < 2 * s->poly)
        log2_2n++;
    return log2_2n;
}

/* acc <- X^{-b~} * lut */
static void blind_rotate_init(const struct veil_fhe_bsk_shape *s, const uint64_t *lwe,
                              const uint64_t *lut, struct veil_fhe_pbs_scratch *sc)
{
    const size_t k = s->k, n = s->poly, two_n = 2 * n;
    const size_t b = (size_t)veil_fhe_mod_switch_centered_body(lwe, s->lwe_dim, log2_of_2n(s));
    const size_t start = (two_n - b) % two_n;
    for (size_t c = 0; c <= k; c++)
        veil_fhe_poly_rotate(sc->acc + c * n, lut + c * n, n, start);
}

void veil_fhe_blind_rotate(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                           const double *bsk_fourier, const uint64_t *lwe, const uint64_t *lut,
                           struct veil_fhe_pbs_scratch *sc)
{
    const unsigned log2_2n = log2_of_2n(s);
    blind_rotate_init(s, lwe, lut, sc);
    const size_t ggsw_doubles = veil_fhe_ggsw_fourier_doubles(s);
    for (size_t i = 0; i < s->lwe_dim; i++) {
        const size_t r = (size_t)veil_fhe_mod_switch(lwe[i], log2_2n);
        if (r == 0)
            continue; /* X^0 acc - acc = 0: the CMux leaves acc unchanged */
        cmux_rotate(fft, s, bsk_fourier + i * ggsw_doubles, r, sc);
    }
}

/* The same blind rotations for `count` ciphertexts, GGSW-major: each GGSW
 * is read from memory once and reused from cache for every ciphertext.
 * Every accumulator sees exactly the operations of veil_fhe_blind_rotate,
 * so the results are identical to one-at-a-time rotation. */
void veil_fhe_blind_rotate_batch(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                                 const double *bsk_fourier, const uint64_t *const *lwes,
                                 const uint64_t *const *luts, size_t count,
                                 struct veil_fhe_pbs_scratch *scs)
{
    const unsigned log2_2n = log2_of_2n(s);
    for (size_t c = 0; c < count; c++)
        blind_rotate_init(s, lwes[c], luts[c], &scs[c]);
    const size_t ggsw_doubles = veil_fhe_ggsw_fourier_doubles(s);
    for (size_t i = 0; i < s->lwe_dim; i++) {
        const double *ggsw = bsk_fourier + i * ggsw_doubles;
        for (size_t c = 0; c < count; c++) {
            const size_t r = (size_t)veil_fhe_mod_switch(lwes[c][i], log2_2n);
            if (r != 0)
                cmux_rotate(fft, s, ggsw, r, &scs[c]);
        }
    }
}

void veil_fhe_pbs(const struct veil_fhe_fft *fft, const struct veil_fhe_bsk_shape *s,
                  const double *bsk_fourier, const uint64_t *lwe, const uint64_t *lut,
                  uint64_t *out, struct veil_fhe_pbs_scratch *sc)
{
    veil_fhe_blind_rotate(fft, s, bsk_fourier, lwe, lut, sc);
    veil_fhe_glwe_sample_extract(out, sc->acc, s->k, s->poly);
}
