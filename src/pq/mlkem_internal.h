// SPDX-License-Identifier: Apache-2.0
/*
 * mlkem_internal.h - the pieces of ML-KEM-768 (FIPS 203) below the KEM:
 * polynomial arithmetic mod q = 3329 in the NTT domain, sampling, byte
 * encoding and compression (mlkem_poly.c), and the hash functions H, G, J,
 * PRF and XOF on OpenSSL (mlkem_hash.c). Private to src/pq/.
 *
 * Every function here runs in time independent of secret inputs: reductions
 * are multiply-and-mask, never a division, a branch or a table lookup on a
 * secret. Only SampleNTT rejects on its (public) input.
 */
#ifndef VEIL_PQ_MLKEM_INTERNAL_H
#define VEIL_PQ_MLKEM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_K 3
#define MLKEM_DU 10
#define MLKEM_DV 4
#define MLKEM_POLY_BYTES 384 /* ByteEncode_12 of one polynomial */

/* Coefficients always in [0, q). */
typedef struct mlkem_poly {
    uint16_t c[MLKEM_N];
} mlkem_poly;

/* Hashing state for one operation: one OpenSSL digest context reused by
 * every call; the first failure latches and later calls do nothing, so an
 * operation checks once at its end. */
struct mlkem_hash {
    void *md_ctx; /* EVP_MD_CTX* */
    bool failed;
};

int mlkem_hash_init(struct mlkem_hash *h) VEIL_WARN_UNUSED;
void mlkem_hash_free(struct mlkem_hash *h);
/* H = SHA3-256 of a || b (b may be NULL). */
void mlkem_H(struct mlkem_hash *h, uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b,
             size_t blen);
/* G = SHA3-512 of a || b, split into out1 (first 32) and out2 (last 32). */
void mlkem_G(struct mlkem_hash *h, uint8_t out1[32], uint8_t out2[32], const uint8_t *a,
             size_t alen, const uint8_t *b, size_t blen);
/* J = SHAKE256(a || b, 32). */
void mlkem_J(struct mlkem_hash *h, uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b,
             size_t blen);
/* PRF_2(s, n) = SHAKE256(s || n, 128). */
void mlkem_prf(struct mlkem_hash *h, uint8_t out[128], const uint8_t s[32], uint8_t n);
/* SHAKE128(rho || j || i) squeezed to outlen bytes (a prefix-stable stream). */
void mlkem_xof(struct mlkem_hash *h, uint8_t *out, size_t outlen, const uint8_t rho[32], uint8_t j,
               uint8_t i);

/* Arithmetic. */
uint16_t mlkem_reduce(uint32_t x); /* x mod q, any 32-bit x */
void mlkem_ntt(mlkem_poly *f);
void mlkem_invntt(mlkem_poly *f);
/* acc += a * b in the NTT domain (MultiplyNTTs). */
void mlkem_basemul_acc(mlkem_poly *acc, const mlkem_poly *a, const mlkem_poly *b);
void mlkem_poly_add(mlkem_poly *r, const mlkem_poly *a);
void mlkem_poly_sub(mlkem_poly *r, const mlkem_poly *a); /* r -= a */

/* Sampling. SampleNTT: A_hat[i][j] from SHAKE128(rho || j || i). */
void mlkem_sample_ntt(struct mlkem_hash *h, mlkem_poly *out, const uint8_t rho[32], uint8_t j,
                      uint8_t i);
/* SamplePolyCBD_2 over PRF_2(s, n). */
void mlkem_sample_cbd2(struct mlkem_hash *h, mlkem_poly *out, const uint8_t s[32], uint8_t n);

/* ByteEncode_d / ByteDecode_d for d in 1..12 (32*d bytes). decode with d=12
 * reduces mod q; mlkem_decode12_exact reports whether any value was >= q. */
void mlkem_encode(uint8_t *out, const mlkem_poly *f, unsigned d);
void mlkem_decode(mlkem_poly *f, const uint8_t *in, unsigned d);
/* Returns 0 when every coefficient is < q (the modulus check), nonzero
 * otherwise; f receives the reduced values either way. */
uint32_t mlkem_decode12_check(mlkem_poly *f, const uint8_t in[MLKEM_POLY_BYTES]);
void mlkem_compress(mlkem_poly *f, unsigned d);
void mlkem_decompress(mlkem_poly *f, unsigned d);

#endif /* VEIL_PQ_MLKEM_INTERNAL_H */
