// SPDX-License-Identifier: Apache-2.0
/*
 * th_internal.h - what the files of src/threshold/ share, and what its unit
 * tests and fuzzers reach: arithmetic in GF(16) and GR(2^128, 4) (gr.c), the
 * robust opening of a degree-t sharing (rs.c: Gao decoding over GF(16) and
 * Hensel lifting), PRSS sets and masks (prss.c), and the share structure
 * (share.c). Nothing outside src/threshold/, its tests, fuzzers and benches
 * includes this header.
 */
#ifndef VEIL_TH_INTERNAL_H
#define VEIL_TH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/threshold.h>

/* ---- GF(16) = F2[X]/(X^4 + X + 1): an element is 4 bits, bit k = X^k ---- */
uint8_t th_gf16_mul(uint8_t a, uint8_t b);
uint8_t th_gf16_inv(uint8_t a); /* a != 0 */

/* ---- GR(2^128, 4) = Z_2^128[X]/(X^4 + X + 1) ---- */
typedef veil_th_gr th_gr;

static inline th_gr th_gr_zero(void)
{
    th_gr r = {{0, 0, 0, 0}};
    return r;
}
static inline th_gr th_gr_const(veil_u128 v)
{
    th_gr r = {{v, 0, 0, 0}};
    return r;
}
th_gr th_gr_add(th_gr a, th_gr b);
th_gr th_gr_sub(th_gr a, th_gr b);
th_gr th_gr_mul(th_gr a, th_gr b);
th_gr th_gr_scale(th_gr a, veil_u128 k); /* k embedded as a constant */
bool th_gr_eq(th_gr a, th_gr b);
/* The GF(16) element lifted to coefficients in {0, 1}. */
th_gr th_gr_lift(uint8_t g);
/* Reduction mod 2 into GF(16). */
uint8_t th_gr_mod2(th_gr a);
/* Bit `bit` of every coefficient, as a GF(16) element. */
uint8_t th_gr_bit(th_gr a, unsigned bit);
/* A coefficient's wire form (16 bytes, little endian) in the share and
 * partial formats; failures latch in the buffer or reader. */
void th_put_u128(veil_buf *b, veil_u128 v);
veil_u128 th_read_u128(veil_reader *r);
/* Inverse of a unit (an element that is non-zero mod 2); -1 if not a unit. */
VEIL_WARN_UNUSED int th_gr_inv(th_gr a, th_gr *out);
/* The evaluation point of holder i (1..15): the GF(16) element i, lifted. */
th_gr th_gr_point(unsigned i);
/* p[0] + p[1] x + ... + p[deg] x^deg. */
th_gr th_gr_poly_eval(const th_gr *p, unsigned deg, th_gr x);

/* ---- robust opening (rs.c) ---- */
/* Gao decoding over GF(16): m points (distinct xs), a polynomial of degree
 * <= deg agreeing with all but at most floor((m - deg - 1) / 2) of them.
 * Writes its coefficients into f[0..deg]; -1 if there is none. */
VEIL_WARN_UNUSED int th_gao_decode(const uint8_t *xs, const uint8_t *ys, unsigned m, unsigned deg,
                                   uint8_t *f);

/* Opens a degree-t sharing over GR(2^128, 4): idx[0..m) holder indices (1..15,
 * distinct), ys their values. On success *secret is the shared value, from
 * the degree-t polynomial that agrees exactly with at least 2t + 1 of the
 * values; *agree gets the bitmask (bit i-1) of holders it matches. Returns -1
 * when there is no such polynomial to be found (too few consistent values):
 * never a value supported by fewer than 2t + 1 of them. */
VEIL_WARN_UNUSED int th_robust_open(const uint8_t *idx, const th_gr *ys, unsigned m, unsigned t,
                                    th_gr *secret, uint32_t *agree);

/* ---- PRSS (prss.c) ---- */
#define TH_PRSS_KEY_SIZE 32
/* C(n, k) for n <= 15. */
unsigned th_binom(unsigned n, unsigned k);
/* The sets of size n - t as bitmasks (bit i-1 = holder i), increasing; sets
 * has room for C(n, t). Returns the count. */
unsigned th_prss_sets(unsigned n, unsigned t, uint16_t *sets);
/* f_A(alpha_i) for the degree-t polynomial with f_A(0) = 1 vanishing at the
 * points of the holders outside A; i must be in A. */
th_gr th_prss_lambda(uint16_t set, unsigned n, unsigned i);
/* The set's mask for (digest, block): uniform in [-2^110, 2^110) as a
 * 128-bit two's complement word. */
veil_u128 th_prss_value(const uint8_t key[TH_PRSS_KEY_SIZE],
                        const uint8_t digest[VEIL_TH_DIGEST_SIZE], uint32_t block);

/* ---- shares (share.c) ---- */
struct veil_th_share {
    veil_th_public pub;
    unsigned index;
    uint8_t sk[VEIL_TH_SK_SIZE];
    th_gr *s;       /* VEIL_SQ_LWE_DIM shares of the key coefficients */
    unsigned nsets; /* C(n - 1, t): the PRSS sets holding this holder */
    uint16_t *sets;
    uint8_t (*keys)[TH_PRSS_KEY_SIZE];
    th_gr *lambda; /* f_A(alpha_index) per set */
};

/* Parses a share's plaintext (after unsealing) for the holder whose Ed25519
 * secret key is sk. The fuzzers call this directly. */
VEIL_WARN_UNUSED int th_share_parse_plain(const uint8_t *data, size_t len,
                                          const uint8_t sk[VEIL_TH_SK_SIZE], veil_th_share **out,
                                          veil_err *err);
/* This holder's share of the block's flooding mask. */
th_gr th_share_mask(const veil_th_share *sh, const uint8_t digest[VEIL_TH_DIGEST_SIZE],
                    uint32_t block);

/* Blocks of a squashed integer of `width` bits; 0 for an invalid width. */
uint32_t th_blocks_for_width(uint32_t width);
/* Whether a partial's block count fits its width in either squashed encoding
 * (the digest it signs binds the ciphertext's exact encoding). */
int th_blocks_ok(uint32_t width, uint32_t nblocks);

#endif /* VEIL_TH_INTERNAL_H */
