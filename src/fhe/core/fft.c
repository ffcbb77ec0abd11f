// SPDX-License-Identifier: Apache-2.0
/*
 * core/fft.c - Veil's own negacyclic FFT in double precision (see fft.h).
 *
 * Why not FFTW: FFTW chooses codelets by CPU (SSE2 / AVX / AVX2 with FMA /
 * AVX-512), so the rounding of every product - and therefore the bytes of
 * every bootstrapped ciphertext - could differ between two machines.
 * Redundant schedulers compare ciphertext digests, so this transform uses
 * one fixed sequence of IEEE-754 operations: GCC vector extensions (the same
 * lane-wise adds and multiplies whether they become AVX-512, AVX2 or SSE2
 * instructions), no FMA contraction (-ffp-contract=off for core/), and
 * twiddles computed in long double and rounded once. The result is
 * bit-identical on every x86-64 CPU and any thread count.
 *
 * Algorithm (M = N/2 complex points, M = R * C, R and C powers of two >= 8):
 *   fold + twist:  z_j = (a_j + i a_{j+M}) * exp(i pi j / N)   (negacyclic -> cyclic)
 *   four-step DFT of z viewed as an R x C row-major matrix:
 *     1. size-R DIF FFTs down the columns (vectorized across the C columns;
 *        rows come out bit-reversed: radix 4 as ordered here equals two
 *        radix-2 stages),
 *     2. multiply by exp(-2 pi i j2 k1 / M),
 *     3. transpose to C x R and run size-C DIF FFTs down the columns.
 *   The outputs are a(eta_k) for the roots eta_k of X^N + 1 in a fixed
 *   permuted order; forward and inverse agree on it and pointwise products
 *   do not care. The inverse runs the inverse butterflies (x + y w*, x - y w*)
 *   in the reverse order and scales by 1/M in the untwist.
 *
 * Exactness: the inverse returns values up to ~2^95 (digit 2^22 x torus
 * 2^63 x sqrt(N)); they are reduced mod 2^64 in double arithmetic
 * (x - 2^64 round(x / 2^64) is exact for |x| < 2^116) before conversion.
 */
#include "fft.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hot.h"

typedef double v8d __attribute__((vector_size(64)));
#define V 8 /* doubles per vector */

struct veil_fhe_fft {
    size_t n;                        /* polynomial size N */
    size_t m;                        /* N/2 complex points */
    size_t rows;                     /* R */
    size_t cols;                     /* C */
    double *twist_re, *twist_im;     /* M: exp(i pi j / N) */
    double *untwist_re, *untwist_im; /* M: exp(-i pi j / N) / M */
    double *twr_re, *twr_im;         /* R: exp(-2 pi i j / R) */
    double *twc_re, *twc_im;         /* C: exp(-2 pi i j / C) */
    double *mid_re, *mid_im;         /* R x C: step-2 twiddles, row r <-> k1 = bitrev(r) */
};

#define VEIL_FHE_FFT_MAX_LOG 16
static struct veil_fhe_fft *fft_cache[VEIL_FHE_FFT_MAX_LOG + 1];
static pthread_mutex_t fft_lock = PTHREAD_MUTEX_INITIALIZER;

/* Blocks of 2 MiB and more (the 60 MB Fourier bootstrapping key, the 30 MB
 * keyswitching key) are 2 MiB-aligned and asked to be backed by huge pages:
 * every PBS streams both keys, and with 4 KiB pages that is some 20,000
 * TLB misses per PBS. Where the kernel has no huge page to give, the
 * request is ignored and nothing else changes. */
#define VEIL_FHE_HUGE_BYTES ((size_t)2 << 20)

void *veil_fhe_aligned_alloc(size_t bytes)
{
    if (bytes >= VEIL_FHE_HUGE_BYTES) {
        size_t rounded = (bytes + VEIL_FHE_HUGE_BYTES - 1) & ~(VEIL_FHE_HUGE_BYTES - 1);
        void *p = aligned_alloc(VEIL_FHE_HUGE_BYTES, rounded);
#if defined(MADV_HUGEPAGE)
        if (p)
            (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
        return p;
    }
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
    return aligned_alloc(64, rounded);
}

void veil_fhe_aligned_free(void *p)
{
    free(p);
}

static const long double veil_pi_l = 3.14159265358979323846264338327950288L;

/* exp(i * sign * pi * num / den), computed in long double, rounded once. */
static void unit_root(double *re, double *im, long double num, long double den, int sign)
{
    long double ang = veil_pi_l * num / den;
    *re = (double)cosl(ang);
    *im = (double)(sign * sinl(ang));
}

static size_t bit_reverse(size_t x, unsigned bits)
{
    size_t r = 0;
    for (unsigned b = 0; b < bits; b++)
        r |= ((x >> b) & 1) << (bits - 1 - b);
    return r;
}

static void fft_destroy(struct veil_fhe_fft *f)
{
    if (!f)
        return;
    double *arrays[] = {f->twist_re, f->twist_im, f->untwist_re, f->untwist_im, f->twr_re,
                        f->twr_im,   f->twc_re,   f->twc_im,     f->mid_re,     f->mid_im};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        veil_fhe_aligned_free(arrays[i]);
    free(f);
}

static struct veil_fhe_fft *fft_create(size_t n, unsigned lg)
{
    struct veil_fhe_fft *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    const unsigned lm = lg - 1, lr = lm / 2, lc = lm - lr;
    f->n = n;
    f->m = n / 2;
    f->rows = (size_t)1 << lr;
    f->cols = (size_t)1 << lc;
    const size_t m = f->m, R = f->rows, C = f->cols;
    f->twist_re = veil_fhe_aligned_alloc(m * sizeof(double));
    f->twist_im = veil_fhe_aligned_alloc(m * sizeof(double));
    f->untwist_re = veil_fhe_aligned_alloc(m * sizeof(double));
    f->untwist_im = veil_fhe_aligned_alloc(m * sizeof(double));
    f->twr_re = veil_fhe_aligned_alloc(R * sizeof(double));
    f->twr_im = veil_fhe_aligned_alloc(R * sizeof(double));
    f->twc_re = veil_fhe_aligned_alloc(C * sizeof(double));
    f->twc_im = veil_fhe_aligned_alloc(C * sizeof(double));
    f->mid_re = veil_fhe_aligned_alloc(m * sizeof(double));
    f->mid_im = veil_fhe_aligned_alloc(m * sizeof(double));
    if (!f->twist_re || !f->twist_im || !f->untwist_re || !f->untwist_im || !f->twr_re ||
        !f->twr_im || !f->twc_re || !f->twc_im || !f->mid_re || !f->mid_im) {
        fft_destroy(f);
        return NULL;
    }
    for (size_t j = 0; j < m; j++) {
        unit_root(&f->twist_re[j], &f->twist_im[j], (long double)j, (long double)n, 1);
        double re, im;
        unit_root(&re, &im, (long double)j, (long double)n, -1);
        f->untwist_re[j] = re / (double)m; /* exact: m is a power of two */
        f->untwist_im[j] = im / (double)m;
    }
    for (size_t j = 0; j < R; j++)
        unit_root(&f->twr_re[j], &f->twr_im[j], 2.0L * (long double)j, (long double)R, -1);
    for (size_t j = 0; j < C; j++)
        unit_root(&f->twc_re[j], &f->twc_im[j], 2.0L * (long double)j, (long double)C, -1);
    for (size_t r = 0; r < R; r++) {
        size_t k1 = bit_reverse(r, lr);
        for (size_t j2 = 0; j2 < C; j2++)
            unit_root(&f->mid_re[r * C + j2], &f->mid_im[r * C + j2],
                      2.0L * (long double)((j2 * k1) % m), (long double)m, -1);
    }
    return f;
}

int veil_fhe_fft_get(size_t n, const struct veil_fhe_fft **out, veil_err *err)
{
    unsigned lg = 0;
    while (lg <= VEIL_FHE_FFT_MAX_LOG && ((size_t)1 << lg) < n)
        lg++;
    /* M = N/2 = R*C with R, C >= 8 (one vector per row). */
    if (lg < 7 || lg > VEIL_FHE_FFT_MAX_LOG || ((size_t)1 << lg) != n)
        return veil_err_set(err, VEIL_E_INVALID, "unsupported FFT size %zu", n);
    pthread_mutex_lock(&fft_lock);
    if (!fft_cache[lg])
        fft_cache[lg] = fft_create(n, lg);
    struct veil_fhe_fft *f = fft_cache[lg];
    pthread_mutex_unlock(&fft_lock);
    if (!f)
        return veil_err_set(err, VEIL_E_NOMEM, "cannot create FFT tables for size %zu", n);
    *out = f;
    return 0;
}

size_t veil_fhe_fft_size(const struct veil_fhe_fft *f)
{
    return f->n;
}

/* Vector access through an 8-byte-aligned vector type (macros, so no vector
 * is ever passed by value across a function boundary). */
typedef double v8d_unaligned __attribute__((vector_size(64), aligned(8)));
#define vload(p)     (*(const v8d_unaligned *)(const void *)(p))
#define vstore(p, v) (*(v8d_unaligned *)(void *)(p) = (v))
#define vsplat(x)    ((v8d){(x), (x), (x), (x), (x), (x), (x), (x)})

/* Column FFTs: a rows x cols split-complex matrix (cols a multiple of 8),
 * transformed down every column, vectorized across columns. The forward
 * transform is a decimation-in-frequency FFT in radix-4 stages (one radix-2
 * stage last when log2(rows) is odd); the twiddle table holds
 * exp(-2 pi i k / rows) for k < rows. Butterflies with twiddle index 0 skip
 * the multiplications - a fixed property of the algorithm, not of the data.
 *
 * Radix-4 DIF block of length L = 4q at offset j < q (w = exp(-2 pi i / L)):
 *   s = x0 + x2, t = x1 + x3, p = x0 - x2, u = x1 - x3
 *   y0 = s + t, y1 = (s - t) w^2j, y2 = (p - i u) w^j, y3 = (p + i u) w^3j
 * stored at j, j + q, j + 2q, j + 3q. The inverse block (conjugate
 * twiddles, factor 4) is S = y0 + y1', T = y0 - y1', P = y2' + y3',
 * Q = i (y2' - y3') with y_k' = y_k w^-k.j, then x0 = S + P, x1 = T + Q,
 * x2 = S - P, x3 = T - Q. */
#define ROW(a, r) ((a) + (r)*cols)

VEIL_FHE_HOT
static void columns_dif(double *restrict re, double *restrict im, size_t rows, size_t cols,
                        const double *restrict tw_re, const double *restrict tw_im)
{
    size_t len = rows;
    for (; len >= 4; len /= 4) {
        const size_t q = len / 4, step = rows / len;
        for (size_t b = 0; b < rows; b += len) {
            for (size_t j = 0; j < q; j++) {
                double *r0 = ROW(re, b + j), *i0 = ROW(im, b + j);
                double *r1 = ROW(re, b + j + q), *i1 = ROW(im, b + j + q);
                double *r2 = ROW(re, b + j + 2 * q), *i2 = ROW(im, b + j + 2 * q);
                double *r3 = ROW(re, b + j + 3 * q), *i3 = ROW(im, b + j + 3 * q);
                const v8d w1r = vsplat(tw_re[j * step]), w1i = vsplat(tw_im[j * step]);
                const v8d w2r = vsplat(tw_re[2 * j * step]), w2i = vsplat(tw_im[2 * j * step]);
                const v8d w3r = vsplat(tw_re[3 * j * step]), w3i = vsplat(tw_im[3 * j * step]);
                for (size_t c = 0; c < cols; c += V) {
                    v8d x0r = vload(r0 + c), x0i = vload(i0 + c), x1r = vload(r1 + c),
                        x1i = vload(i1 + c), x2r = vload(r2 + c), x2i = vload(i2 + c),
                        x3r = vload(r3 + c), x3i = vload(i3 + c);
                    v8d sr = x0r + x2r, si = x0i + x2i, tr = x1r + x3r, ti = x1i + x3i;
                    v8d pr = x0r - x2r, pi = x0i - x2i, ur = x1r - x3r, ui = x1i - x3i;
                    vstore(r0 + c, sr + tr);
                    vstore(i0 + c, si + ti);
                    v8d ar = sr - tr, ai = si - ti; /* s - t */
                    v8d br = pr + ui, bi = pi - ur; /* p - i u */
                    v8d cr = pr - ui, ci = pi + ur; /* p + i u */
                    if (j == 0) {
                        vstore(r1 + c, ar);
                        vstore(i1 + c, ai);
                        vstore(r2 + c, br);
                        vstore(i2 + c, bi);
                        vstore(r3 + c, cr);
                        vstore(i3 + c, ci);
                    } else {
                        vstore(r1 + c, ar * w2r - ai * w2i);
                        vstore(i1 + c, ar * w2i + ai * w2r);
                        vstore(r2 + c, br * w1r - bi * w1i);
                        vstore(i2 + c, br * w1i + bi * w1r);
                        vstore(r3 + c, cr * w3r - ci * w3i);
                        vstore(i3 + c, cr * w3i + ci * w3r);
                    }
                }
            }
        }
    }
    if (len == 2) {
        /* Last radix-2 stage: twiddle 1. */
        for (size_t b = 0; b < rows; b += 2) {
            double *r0 = ROW(re, b), *i0 = ROW(im, b), *r1 = ROW(re, b + 1), *i1 = ROW(im, b + 1);
            for (size_t c = 0; c < cols; c += V) {
                v8d xr = vload(r0 + c), xi = vload(i0 + c), yr = vload(r1 + c), yi = vload(i1 + c);
                vstore(r0 + c, xr + yr);
                vstore(i0 + c, xi + yi);
                vstore(r1 + c, xr - yr);
                vstore(i1 + c, xi - yi);
            }
        }
    }
}

/* Inverse of columns_dif up to a factor `rows`: the stages in reverse order. */
VEIL_FHE_HOT
static void columns_dit_inverse(double *restrict re, double *restrict im, size_t rows, size_t cols,
                                const double *restrict tw_re, const double *restrict tw_im)
{
    size_t len = rows;
    while (len >= 4)
        len /= 4;
    if (len == 2) {
        for (size_t b = 0; b < rows; b += 2) {
            double *r0 = ROW(re, b), *i0 = ROW(im, b), *r1 = ROW(re, b + 1), *i1 = ROW(im, b + 1);
            for (size_t c = 0; c < cols; c += V) {
                v8d xr = vload(r0 + c), xi = vload(i0 + c), yr = vload(r1 + c), yi = vload(i1 + c);
                vstore(r0 + c, xr + yr);
                vstore(i0 + c, xi + yi);
                vstore(r1 + c, xr - yr);
                vstore(i1 + c, xi - yi);
            }
        }
        len = 2;
    }
    /* radix-4 stages of increasing length: len*4, len*16, ... up to rows */
    for (size_t L = len * 4; L <= rows; L *= 4) {
        const size_t q = L / 4, step = rows / L;
        for (size_t b = 0; b < rows; b += L) {
            for (size_t j = 0; j < q; j++) {
                double *r0 = ROW(re, b + j), *i0 = ROW(im, b + j);
                double *r1 = ROW(re, b + j + q), *i1 = ROW(im, b + j + q);
                double *r2 = ROW(re, b + j + 2 * q), *i2 = ROW(im, b + j + 2 * q);
                double *r3 = ROW(re, b + j + 3 * q), *i3 = ROW(im, b + j + 3 * q);
                const v8d w1r = vsplat(tw_re[j * step]), w1i = vsplat(tw_im[j * step]);
                const v8d w2r = vsplat(tw_re[2 * j * step]), w2i = vsplat(tw_im[2 * j * step]);
                const v8d w3r = vsplat(tw_re[3 * j * step]), w3i = vsplat(tw_im[3 * j * step]);
                for (size_t c = 0; c < cols; c += V) {
                    v8d y0r = vload(r0 + c), y0i = vload(i0 + c), y1r = vload(r1 + c),
                        y1i = vload(i1 + c), y2r = vload(r2 + c), y2i = vload(i2 + c),
                        y3r = vload(r3 + c), y3i = vload(i3 + c);
                    if (j != 0) {
                        /* y_k' = y_k * conj(w^kj) */
                        v8d t1r = y1r * w2r + y1i * w2i, t1i = y1i * w2r - y1r * w2i;
                        v8d t2r = y2r * w1r + y2i * w1i, t2i = y2i * w1r - y2r * w1i;
                        v8d t3r = y3r * w3r + y3i * w3i, t3i = y3i * w3r - y3r * w3i;
                        y1r = t1r;
                        y1i = t1i;
                        y2r = t2r;
                        y2i = t2i;
                        y3r = t3r;
                        y3i = t3i;
                    }
                    v8d sr = y0r + y1r, si = y0i + y1i, tr = y0r - y1r, ti = y0i - y1i;
                    v8d pr = y2r + y3r, pi = y2i + y3i;
                    v8d qr = y3i - y2i, qi = y2r - y3r; /* i (y2' - y3') */
                    vstore(r0 + c, sr + pr);
                    vstore(i0 + c, si + pi);
                    vstore(r1 + c, tr + qr);
                    vstore(i1 + c, ti + qi);
                    vstore(r2 + c, sr - pr);
                    vstore(i2 + c, si - pi);
                    vstore(r3 + c, tr - qr);
                    vstore(i3 + c, ti - qi);
                }
            }
        }
    }
}

/* (re, im) *= (wr, wi) elementwise (conj when `conj`). */
VEIL_FHE_HOT
static void pointwise_twiddle(double *restrict re, double *restrict im, const double *restrict wr,
                              const double *restrict wi, size_t n, int conj)
{
    if (!conj) {
        for (size_t j = 0; j < n; j++) {
            double r = re[j], i = im[j];
            re[j] = r * wr[j] - i * wi[j];
            im[j] = r * wi[j] + i * wr[j];
        }
    } else {
        for (size_t j = 0; j < n; j++) {
            double r = re[j], i = im[j];
            re[j] = r * wr[j] + i * wi[j];
            im[j] = i * wr[j] - r * wi[j];
        }
    }
}

/* dst (cols x rows) = transpose of src (rows x cols), by 8 x 8 blocks
 * transposed in registers (three rounds of two-input shuffles). */
#if defined(__clang__)
#define SHUF(a, b, i0, i1, i2, i3, i4, i5, i6, i7)                                                 \
    __builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
#else
typedef long long v8di __attribute__((vector_size(64)));
#define SHUF(a, b, i0, i1, i2, i3, i4, i5, i6, i7)                                                 \
    __builtin_shuffle(a, b, (v8di){i0, i1, i2, i3, i4, i5, i6, i7})
#endif

VEIL_FHE_HOT
static void transpose(double *restrict dst, const double *restrict src, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r += V) {
        for (size_t c = 0; c < cols; c += V) {
            const double *s0 = src + r * cols + c;
            v8d a0 = vload(s0), a1 = vload(s0 + cols), a2 = vload(s0 + 2 * cols),
                a3 = vload(s0 + 3 * cols), a4 = vload(s0 + 4 * cols), a5 = vload(s0 + 5 * cols),
                a6 = vload(s0 + 6 * cols), a7 = vload(s0 + 7 * cols);
            v8d b0 = SHUF(a0, a1, 0, 8, 2, 10, 4, 12, 6, 14),
                b1 = SHUF(a0, a1, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d b2 = SHUF(a2, a3, 0, 8, 2, 10, 4, 12, 6, 14),
                b3 = SHUF(a2, a3, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d b4 = SHUF(a4, a5, 0, 8, 2, 10, 4, 12, 6, 14),
                b5 = SHUF(a4, a5, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d b6 = SHUF(a6, a7, 0, 8, 2, 10, 4, 12, 6, 14),
                b7 = SHUF(a6, a7, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d c0 = SHUF(b0, b2, 0, 1, 8, 9, 4, 5, 12, 13),
                c2 = SHUF(b0, b2, 2, 3, 10, 11, 6, 7, 14, 15);
            v8d c1 = SHUF(b1, b3, 0, 1, 8, 9, 4, 5, 12, 13),
                c3 = SHUF(b1, b3, 2, 3, 10, 11, 6, 7, 14, 15);
            v8d c4 = SHUF(b4, b6, 0, 1, 8, 9, 4, 5, 12, 13),
                c6 = SHUF(b4, b6, 2, 3, 10, 11, 6, 7, 14, 15);
            v8d c5 = SHUF(b5, b7, 0, 1, 8, 9, 4, 5, 12, 13),
                c7 = SHUF(b5, b7, 2, 3, 10, 11, 6, 7, 14, 15);
            double *d0 = dst + c * rows + r;
            vstore(d0, SHUF(c0, c4, 0, 1, 2, 3, 8, 9, 10, 11));
            vstore(d0 + rows, SHUF(c1, c5, 0, 1, 2, 3, 8, 9, 10, 11));
            vstore(d0 + 2 * rows, SHUF(c2, c6, 0, 1, 2, 3, 8, 9, 10, 11));
            vstore(d0 + 3 * rows, SHUF(c3, c7, 0, 1, 2, 3, 8, 9, 10, 11));
            vstore(d0 + 4 * rows, SHUF(c0, c4, 4, 5, 6, 7, 12, 13, 14, 15));
            vstore(d0 + 5 * rows, SHUF(c1, c5, 4, 5, 6, 7, 12, 13, 14, 15));
            vstore(d0 + 6 * rows, SHUF(c2, c6, 4, 5, 6, 7, 12, 13, 14, 15));
            vstore(d0 + 7 * rows, SHUF(c3, c7, 4, 5, 6, 7, 12, 13, 14, 15));
        }
    }
}

VEIL_FHE_HOT
static void twist_i64(double *restrict re, double *restrict im, const int64_t *restrict in,
                      const double *restrict wr, const double *restrict wi, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        double a = (double)in[j], b = (double)in[j + m];
        re[j] = a * wr[j] - b * wi[j];
        im[j] = a * wi[j] + b * wr[j];
    }
}

/* Fourier layout: out[0..M) real parts, out[M..2M) imaginary parts. */
void veil_fhe_fft_forward_i64(const struct veil_fhe_fft *f, double *out, const int64_t *in,
                              double *scratch)
{
    const size_t m = f->m, R = f->rows, C = f->cols;
    double *re = scratch, *im = scratch + m;
    twist_i64(re, im, in, f->twist_re, f->twist_im, m);
    columns_dif(re, im, R, C, f->twr_re, f->twr_im);
    pointwise_twiddle(re, im, f->mid_re, f->mid_im, m, 0);
    transpose(out, re, R, C);
    transpose(out + m, im, R, C);
    columns_dif(out, out + m, C, R, f->twc_re, f->twc_im);
}

void veil_fhe_fft_forward_torus(const struct veil_fhe_fft *f, double *out, const uint64_t *in,
                                double *scratch)
{
    veil_fhe_fft_forward_i64(f, out, (const int64_t *)(const void *)in, scratch);
}

/* round(x) mod 2^64 as a torus word; |x| < 2^116. */
static inline uint64_t f64_to_torus(double x)
{
    static const double two64 = 18446744073709551616.0, inv_two64 = 1.0 / 18446744073709551616.0;
    double r = x - two64 * nearbyint(x * inv_two64);
    return (uint64_t)(int64_t)nearbyint(r);
}

VEIL_FHE_HOT
static void untwist_add(uint64_t *restrict acc, const double *restrict re,
                        const double *restrict im, const double *restrict wr,
                        const double *restrict wi, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        double r = re[j], i = im[j];
        acc[j] += f64_to_torus(r * wr[j] - i * wi[j]);
        acc[j + m] += f64_to_torus(r * wi[j] + i * wr[j]);
    }
}

void veil_fhe_fft_backward_add(const struct veil_fhe_fft *f, uint64_t *acc, double *in,
                               double *scratch)
{
    const size_t m = f->m, R = f->rows, C = f->cols;
    double *re = scratch, *im = scratch + m;
    columns_dit_inverse(in, in + m, C, R, f->twc_re, f->twc_im);
    transpose(re, in, C, R);
    transpose(im, in + m, C, R);
    pointwise_twiddle(re, im, f->mid_re, f->mid_im, m, 1);
    columns_dit_inverse(re, im, R, C, f->twr_re, f->twr_im);
    untwist_add(acc, re, im, f->untwist_re, f->untwist_im, m);
}

VEIL_FHE_HOT
static void fourier_mul_acc(size_t m, double *restrict acc_re, double *restrict acc_im,
                            const double *restrict a_re, const double *restrict a_im,
                            const double *restrict b_re, const double *restrict b_im)
{
    for (size_t j = 0; j < m; j++) {
        acc_re[j] += a_re[j] * b_re[j] - a_im[j] * b_im[j];
        acc_im[j] += a_re[j] * b_im[j] + a_im[j] * b_re[j];
    }
}

void veil_fhe_fourier_mul_acc(size_t n, double *acc, const double *a, const double *b)
{
    const size_t m = n / 2;
    fourier_mul_acc(m, acc, acc + m, a, a + m, b, b + m);
}
