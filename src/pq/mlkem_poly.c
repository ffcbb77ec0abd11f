// SPDX-License-Identifier: Apache-2.0
/*
 * mlkem_poly.c - ML-KEM's polynomial layer (FIPS 203 sections 4.2.1, 4.2.2,
 * 4.3): arithmetic mod q = 3329, the NTT and its inverse, multiplication in
 * the NTT domain, SampleNTT and SamplePolyCBD, ByteEncode/ByteDecode,
 * Compress/Decompress.
 *
 * Constant time: reductions and divisions by q are a multiplication by
 * floor(2^32 / q), one subtraction and a masked correction; no secret value
 * selects a branch or a table entry (the zeta tables are indexed by loop
 * position only). SampleNTT rejects values on public input (the seed rho).
 */
#include <string.h>

#include <veil/base.h>

#include "mlkem_internal.h"

#define BARRETT_M 1290167u /* floor(2^32 / q) */
#define INV128 3303u       /* 128^-1 mod q */

/* 17^BitRev7(i) mod q. */
static const uint16_t zetas[128] = {
    1, 1729, 2580, 3289, 2642, 630, 1897, 848, 1062, 1919, 193, 797, 2786, 3260, 569, 1746,
    296, 2447, 1339, 1476, 3046, 56, 2240, 1333, 1426, 2094, 535, 2882, 2393, 2879, 1974, 821,
    289, 331, 3253, 1756, 1197, 2304, 2277, 2055, 650, 1977, 2513, 632, 2865, 33, 1320, 1915,
    2319, 1435, 807, 452, 1438, 2868, 1534, 2402, 2647, 2617, 1481, 648, 2474, 3110, 1227, 910,
    17, 2761, 583, 2649, 1637, 723, 2288, 1100, 1409, 2662, 3281, 233, 756, 2156, 3015, 3050,
    1703, 1651, 2789, 1789, 1847, 952, 1461, 2687, 939, 2308, 2437, 2388, 733, 2337, 268, 641,
    1584, 2298, 2037, 3220, 375, 2549, 2090, 1645, 1063, 319, 2773, 757, 2099, 561, 2466, 2594,
    2804, 1092, 403, 1026, 1143, 2150, 2775, 886, 1722, 1212, 1874, 1029, 2110, 2935, 885, 2154,
};

/* 17^(2 BitRev7(i) + 1) mod q: the base-case multiplication's gamma_i. */
static const uint16_t gammas[128] = {
    17, 3312, 2761, 568, 583, 2746, 2649, 680, 1637, 1692, 723, 2606, 2288, 1041, 1100, 2229,
    1409, 1920, 2662, 667, 3281, 48, 233, 3096, 756, 2573, 2156, 1173, 3015, 314, 3050, 279,
    1703, 1626, 1651, 1678, 2789, 540, 1789, 1540, 1847, 1482, 952, 2377, 1461, 1868, 2687, 642,
    939, 2390, 2308, 1021, 2437, 892, 2388, 941, 733, 2596, 2337, 992, 268, 3061, 641, 2688,
    1584, 1745, 2298, 1031, 2037, 1292, 3220, 109, 375, 2954, 2549, 780, 2090, 1239, 1645, 1684,
    1063, 2266, 319, 3010, 2773, 556, 757, 2572, 2099, 1230, 561, 2768, 2466, 863, 2594, 735,
    2804, 525, 1092, 2237, 403, 2926, 1026, 2303, 1143, 2186, 2150, 1179, 2775, 554, 886, 2443,
    1722, 1607, 1212, 2117, 1874, 1455, 1029, 2300, 2110, 1219, 2935, 394, 885, 2444, 2154, 1175,
};

/* floor(v / q) for any 32-bit v: the estimate is low by at most one. */
static uint32_t div_q(uint32_t v)
{
    uint32_t t = (uint32_t)(((uint64_t)v * BARRETT_M) >> 32);
    uint32_t r = v - t * MLKEM_Q; /* in [0, 2q) */
    return t + (((uint32_t)(MLKEM_Q - 1) - r) >> 31);
}

/* a - q if a >= q, for a < 2q. */
static uint16_t cond_sub_q(uint32_t a)
{
    uint32_t r = a - MLKEM_Q;
    r += MLKEM_Q & (0u - (r >> 31));
    return (uint16_t)r;
}

uint16_t mlkem_reduce(uint32_t x)
{
    uint32_t t = (uint32_t)(((uint64_t)x * BARRETT_M) >> 32);
    return cond_sub_q(x - t * MLKEM_Q);
}

static uint16_t mulq(uint32_t a, uint32_t b)
{
    return mlkem_reduce(a * b);
}

void mlkem_ntt(mlkem_poly *f)
{
    unsigned i = 1;
    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            uint32_t zeta = zetas[i++];
            for (unsigned j = start; j < start + len; j++) {
                uint32_t t = mulq(zeta, f->c[j + len]);
                f->c[j + len] = cond_sub_q(f->c[j] + MLKEM_Q - t);
                f->c[j] = cond_sub_q(f->c[j] + t);
            }
        }
    }
}

void mlkem_invntt(mlkem_poly *f)
{
    unsigned i = 127;
    for (unsigned len = 2; len <= 128; len <<= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            uint32_t zeta = zetas[i--];
            for (unsigned j = start; j < start + len; j++) {
                uint32_t t = f->c[j];
                f->c[j] = cond_sub_q(t + f->c[j + len]);
                f->c[j + len] = mulq(zeta, f->c[j + len] + MLKEM_Q - t);
            }
        }
    }
    for (unsigned j = 0; j < MLKEM_N; j++)
        f->c[j] = mulq(f->c[j], INV128);
}

void mlkem_basemul_acc(mlkem_poly *acc, const mlkem_poly *a, const mlkem_poly *b)
{
    for (unsigned i = 0; i < MLKEM_N / 2; i++) {
        uint32_t a0 = a->c[2 * i], a1 = a->c[2 * i + 1];
        uint32_t b0 = b->c[2 * i], b1 = b->c[2 * i + 1];
        uint32_t c0 = mlkem_reduce(a0 * b0 + (uint32_t)mulq(a1, b1) * gammas[i]);
        uint32_t c1 = mlkem_reduce(a0 * b1 + a1 * b0);
        acc->c[2 * i] = cond_sub_q(acc->c[2 * i] + c0);
        acc->c[2 * i + 1] = cond_sub_q(acc->c[2 * i + 1] + c1);
    }
}

void mlkem_poly_add(mlkem_poly *r, const mlkem_poly *a)
{
    for (unsigned j = 0; j < MLKEM_N; j++)
        r->c[j] = cond_sub_q((uint32_t)r->c[j] + a->c[j]);
}

void mlkem_poly_sub(mlkem_poly *r, const mlkem_poly *a)
{
    for (unsigned j = 0; j < MLKEM_N; j++)
        r->c[j] = cond_sub_q((uint32_t)r->c[j] + MLKEM_Q - a->c[j]);
}

/* Takes candidates from buf[from, len) three bytes at a time; returns how
 * many coefficients are filled (starting at `have`) and advances *from. */
static unsigned take_uniform(mlkem_poly *out, unsigned have, const uint8_t *buf, size_t len,
                             size_t *from)
{
    size_t p = *from;
    while (have < MLKEM_N && p + 3 <= len) {
        uint16_t d1 = (uint16_t)(buf[p] | ((buf[p + 1] & 0x0f) << 8));
        uint16_t d2 = (uint16_t)((buf[p + 1] >> 4) | (buf[p + 2] << 4));
        p += 3;
        if (d1 < MLKEM_Q)
            out->c[have++] = d1;
        if (d2 < MLKEM_Q && have < MLKEM_N)
            out->c[have++] = d2;
    }
    *from = p;
    return have;
}

/* SHAKE128's rate is 168 bytes; 5 blocks give 560 candidates for 256
 * coefficients accepted with probability q/4096 (about 455 expected), and
 * a rare shortfall re-squeezes 16 blocks (the stream is prefix-stable). */
#define XOF_BLOCK 168
void mlkem_sample_ntt(struct mlkem_hash *h, mlkem_poly *out, const uint8_t rho[32], uint8_t j,
                      uint8_t i)
{
    uint8_t buf[16 * XOF_BLOCK];
    size_t from = 0;
    mlkem_xof(h, buf, 5 * XOF_BLOCK, rho, j, i);
    unsigned have = take_uniform(out, 0, buf, 5 * XOF_BLOCK, &from);
    if (have < MLKEM_N) {
        mlkem_xof(h, buf, sizeof buf, rho, j, i);
        have = take_uniform(out, have, buf, sizeof buf, &from);
    }
    if (have < MLKEM_N) {
        h->failed = true; /* beyond any realistic probability; never a partial poly */
        memset(out, 0, sizeof *out);
    }
}

void mlkem_sample_cbd2(struct mlkem_hash *h, mlkem_poly *out, const uint8_t s[32], uint8_t n)
{
    uint8_t buf[128];
    mlkem_prf(h, buf, s, n);
    for (unsigned i = 0; i < MLKEM_N; i++) {
        uint32_t b = (uint32_t)(buf[i >> 1] >> (4 * (i & 1)));
        uint32_t x = (b & 1) + ((b >> 1) & 1);
        uint32_t y = ((b >> 2) & 1) + ((b >> 3) & 1);
        out->c[i] = cond_sub_q(x + MLKEM_Q - y);
    }
    veil_memzero(buf, sizeof buf);
}

/* Little-endian bit packing through a 64-bit accumulator: how many bytes
 * move at each step depends only on d and the position, never on values. */
void mlkem_encode(uint8_t *out, const mlkem_poly *f, unsigned d)
{
    uint64_t acc = 0;
    unsigned nbits = 0;
    size_t pos = 0;
    for (unsigned i = 0; i < MLKEM_N; i++) {
        acc |= (uint64_t)f->c[i] << nbits;
        nbits += d;
        while (nbits >= 8) {
            out[pos++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
}

/* The 256 d-bit values of in, unreduced, into v. */
static void unpack(uint32_t v[MLKEM_N], const uint8_t *in, unsigned d)
{
    uint64_t acc = 0, mask = (1u << d) - 1;
    unsigned nbits = 0;
    size_t pos = 0;
    for (unsigned i = 0; i < MLKEM_N; i++) {
        while (nbits < d) {
            acc |= (uint64_t)in[pos++] << nbits;
            nbits += 8;
        }
        v[i] = (uint32_t)(acc & mask);
        acc >>= d;
        nbits -= d;
    }
}

void mlkem_decode(mlkem_poly *f, const uint8_t *in, unsigned d)
{
    uint32_t v[MLKEM_N];
    unpack(v, in, d);
    for (unsigned i = 0; i < MLKEM_N; i++)
        f->c[i] = d == 12 ? cond_sub_q(v[i]) : (uint16_t)v[i];
    veil_memzero(v, sizeof v);
}

uint32_t mlkem_decode12_check(mlkem_poly *f, const uint8_t in[MLKEM_POLY_BYTES])
{
    uint32_t v[MLKEM_N], bad = 0;
    unpack(v, in, 12);
    for (unsigned i = 0; i < MLKEM_N; i++) {
        bad |= ((uint32_t)(MLKEM_Q - 1) - v[i]) >> 31;
        f->c[i] = cond_sub_q(v[i]);
    }
    return bad;
}

void mlkem_compress(mlkem_poly *f, unsigned d)
{
    uint32_t mask = (1u << d) - 1;
    for (unsigned i = 0; i < MLKEM_N; i++)
        f->c[i] = (uint16_t)(div_q(((uint32_t)f->c[i] << d) + MLKEM_Q / 2) & mask);
}

void mlkem_decompress(mlkem_poly *f, unsigned d)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        f->c[i] = (uint16_t)(((uint32_t)f->c[i] * MLKEM_Q + (1u << (d - 1))) >> d);
}
