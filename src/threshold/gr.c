/*
 * gr.c - arithmetic in GF(16) = F2[X]/(X^4 + X + 1) and in the Galois ring
 * GR(2^128, 4) = Z_2^128[X]/(X^4 + X + 1), whose residue field it is. Shamir
 * shares of the squashing key live in the ring: its exceptional set (the 15
 * non-zero GF(16) elements lifted to coefficients in {0, 1}) gives points whose
 * pairwise differences are units, which Z_2^128 alone cannot offer.
 * All operations are branch-free on the data (shares are secret).
 */
#include "th_internal.h"

uint8_t th_gf16_mul(uint8_t a, uint8_t b)
{
    unsigned r = 0;
    for (unsigned k = 0; k < 4; k++)
        r ^= (unsigned)(a & 15u) * ((b >> k) & 1u) << k;
    /* reduce bits 6..4 with X^4 = X + 1 */
    for (unsigned k = 6; k >= 4; k--)
        r ^= ((r >> k) & 1u) * (0x13u << (k - 4));
    return (uint8_t)(r & 15u);
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
