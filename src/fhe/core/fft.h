// SPDX-License-Identifier: Apache-2.0
/*
 * core/fft.h - negacyclic FFT over R = Z[X]/(X^N + 1) in double precision
 * (private). A real polynomial of degree < N maps to N/2 complex values: fold
 * a_j + i*a_{j+N/2}, twist by w^j (w = exp(i*pi/N)), then an N/2-point
 * complex FFT (Veil's own, fft.c: the same bits on every CPU). The outputs
 * are a(eta) at N/2 roots eta of X^N + 1 (one of each conjugate pair), in a
 * fixed order, so products in R are pointwise products. Fourier polynomials
 * are N doubles in split layout: N/2 real parts, then N/2 imaginary parts.
 */
#ifndef VEIL_FHE_CORE_FFT_H
#define VEIL_FHE_CORE_FFT_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

struct veil_fhe_fft;

/* The shared transform for size N (a power of two, 128..65536). Thread-safe;
 * the tables live until exit. */
int veil_fhe_fft_get(size_t n, const struct veil_fhe_fft **out, veil_err *err);
size_t veil_fhe_fft_size(const struct veil_fhe_fft *f);

/* Memory for Fourier polynomials and scratch: 64-byte aligned (2 MiB-aligned
 * and backed by huge pages where the kernel can, from 2 MiB on). Scratch for
 * one transform is N doubles. */
void *veil_fhe_aligned_alloc(size_t bytes);
void veil_fhe_aligned_free(void *p);

/* out (N doubles, aligned) <- FFT of in, read as signed 64-bit integers. */
void veil_fhe_fft_forward_i64(const struct veil_fhe_fft *f, double *out, const int64_t *in,
                              double *scratch);
/* Same with torus words read as signed (two's complement) integers. */
void veil_fhe_fft_forward_torus(const struct veil_fhe_fft *f, double *out, const uint64_t *in,
                                double *scratch);
/* acc[j] += round(inverse FFT of in)[j] mod 2^64. `in` is clobbered. */
void veil_fhe_fft_backward_add(const struct veil_fhe_fft *f, uint64_t *acc, double *in,
                               double *scratch);
/* acc += a * b pointwise (Fourier domain, N doubles each). */
void veil_fhe_fourier_mul_acc(size_t n, double *acc, const double *a, const double *b);

#endif /* VEIL_FHE_CORE_FFT_H */
