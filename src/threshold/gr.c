// SPDX-License-Identifier: Apache-2.0
/*
 * gr.c - arithmetic in GF(16) = F2[X]/(X^4 + X + 1) and in the Galois ring
 * GR(2^128, 4) = Z_2^128[X]/(X^4 + X + 1), whose residue field it is. Shamir
 * shares of the squashing key live in the ring: its exceptional set (the 15
 * non-zero GF(16) elements lifted to coefficients in {0, 1}) gives points whose
 * pairwise differences are units, which Z_2^128 alone cannot offer.
 * Ring operations are branch-free on the data (shares are secret); GF(16)
 * (a multiplication table) only ever sees public values: evaluation points
 * and the residues of opened partial decryptions. Also the wire form of a
 * ring coefficient that the share and partial formats use.
 */
#include "th_internal.h"

/* clang-format off */
static const uint8_t gf16_mul_table[16][16] = {
    { 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
    { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15},
    { 0,  2,  4,  6,  8, 10, 12, 14,  3,  1,  7,  5, 11,  9, 15, 13},
    { 0,  3,  6,  5, 12, 15, 10,  9, 11,  8, 13, 14,  7,  4,  1,  2},
    { 0,  4,  8, 12,  3,  7, 11, 15,  6,  2, 14, 10,  5,  1, 13,  9},
    { 0,  5, 10, 15,  7,  2, 13,  8, 14, 11,  4,  1,  9, 12,  3,  6},
    { 0,  6, 12, 10, 11, 13,  7,  1,  5,  3,  9, 15, 14,  8,  2,  4},
    { 0,  7, 14,  9, 15,  8,  1,  6, 13, 10,  3,  4,  2,  5, 12, 11},
    { 0,  8,  3, 11,  6, 14,  5, 13, 12,  4, 15,  7, 10,  2,  9,  1},
    { 0,  9,  1,  8,  2, 11,  3, 10,  4, 13,  5, 12,  6, 15,  7, 14},
    { 0, 10,  7, 13, 14,  4,  9,  3, 15,  5,  8,  2,  1, 11,  6, 12},
    { 0, 11,  5, 14, 10,  1, 15,  4,  7, 12,  2,  9, 13,  6,  8,  3},
    { 0, 12, 11,  7,  5,  9, 14,  2, 10,  6,  1, 13, 15,  3,  4,  8},
    { 0, 13,  9,  4,  1, 12,  8,  5,  2, 15, 11,  6,  3, 14, 10,  7},
    { 0, 14, 15,  1, 13,  3,  2, 12,  9,  7,  6,  8,  4, 10, 11,  5},
    { 0, 15, 13,  2,  9,  6,  4, 11,  1, 14, 12,  3,  8,  7,  5, 10},
};
/* clang-format on */

uint8_t th_gf16_mul(uint8_t a, uint8_t b)
{
    return gf16_mul_table[a & 15u][b & 15u];
}

uint8_t th_gf16_inv(uint8_t a)
{
    /* a^14 = a^-1 in the multiplicative group of order 15 */
    uint8_t a2 = th_gf16_mul(a, a), a4 = th_gf16_mul(a2, a2), a8 = th_gf16_mul(a4, a4);
    return th_gf16_mul(th_gf16_mul(a8, a4), a2);
}

th_gr th_gr_add(th_gr a, th_gr b)
{
    for (unsigned k = 0; k < 4; k++)
        a.c[k] += b.c[k];
    return a;
}

th_gr th_gr_sub(th_gr a, th_gr b)
{
    for (unsigned k = 0; k < 4; k++)
        a.c[k] -= b.c[k];
    return a;
}

th_gr th_gr_mul(th_gr a, th_gr b)
{
    veil_u128 c[7] = {0};
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 4; j++)
            c[i + j] += a.c[i] * b.c[j];
    /* X^4 = -X - 1, X^5 = -X^2 - X, X^6 = -X^3 - X^2 */
    th_gr r;
    r.c[0] = c[0] - c[4];
    r.c[1] = c[1] - c[4] - c[5];
    r.c[2] = c[2] - c[5] - c[6];
    r.c[3] = c[3] - c[6];
    return r;
}

th_gr th_gr_scale(th_gr a, veil_u128 k)
{
    for (unsigned i = 0; i < 4; i++)
        a.c[i] *= k;
    return a;
}

bool th_gr_eq(th_gr a, th_gr b)
{
    veil_u128 d = 0;
    for (unsigned k = 0; k < 4; k++)
        d |= a.c[k] ^ b.c[k];
    return d == 0;
}

th_gr th_gr_lift(uint8_t g)
{
    th_gr r;
    for (unsigned k = 0; k < 4; k++)
        r.c[k] = (g >> k) & 1u;
    return r;
}

uint8_t th_gr_bit(th_gr a, unsigned bit)
{
    uint8_t g = 0;
    for (unsigned k = 0; k < 4; k++)
        g |= (uint8_t)(((unsigned)(a.c[k] >> bit) & 1u) << k);
    return g;
}

uint8_t th_gr_mod2(th_gr a)
{
    return th_gr_bit(a, 0);
}

int th_gr_inv(th_gr a, th_gr *out)
{
    uint8_t r = th_gr_mod2(a);
    if (r == 0)
        return -1;
    /* Newton: x <- x (2 - a x) doubles the number of correct low bits; from
     * the residue-field inverse (1 bit), 7 steps reach 128. */
    th_gr x = th_gr_lift(th_gf16_inv(r));
    for (unsigned step = 0; step < 7; step++)
        x = th_gr_mul(x, th_gr_sub(th_gr_const(2), th_gr_mul(a, x)));
    if (!th_gr_eq(th_gr_mul(a, x), th_gr_const(1)))
        return -1;
    *out = x;
    return 0;
}

th_gr th_gr_point(unsigned i)
{
    return th_gr_lift((uint8_t)(i & 15u));
}

th_gr th_gr_poly_eval(const th_gr *p, unsigned deg, th_gr x)
{
    th_gr acc = p[deg];
    for (unsigned k = deg; k-- > 0;)
        acc = th_gr_add(th_gr_mul(acc, x), p[k]);
    return acc;
}

uint32_t th_blocks_for_width(uint32_t width)
{
    switch (width) {
    case 1:
        return 1;
    case 8:
    case 16:
    case 32:
    case 64:
        return width / 2;
    default:
        return 0;
    }
}

int th_blocks_ok(uint32_t width, uint32_t nblocks)
{
    return nblocks != 0 && (nblocks == veil_sq_blocks_for(width, VEIL_SQ_ENC_BLOCKS) ||
                            nblocks == veil_sq_blocks_for(width, VEIL_SQ_ENC_PACKED));
}

/* ---- wire form of a coefficient: 16 bytes, little endian ---- */

void th_put_u128(veil_buf *b, veil_u128 v)
{
    uint8_t *p = veil_buf_extend(b, 16);
    if (!p)
        return; /* latched in b */
    for (unsigned k = 0; k < 16; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

veil_u128 th_read_u128(veil_reader *r)
{
    const uint8_t *p = veil_read_borrow(r, 16);
    veil_u128 v = 0;
    if (!p)
        return 0; /* latched in r */
    for (unsigned k = 0; k < 16; k++)
        v |= (veil_u128)p[k] << (8 * k);
    return v;
}
