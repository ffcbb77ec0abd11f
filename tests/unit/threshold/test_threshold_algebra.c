// SPDX-License-Identifier: Apache-2.0
/*
 * test_threshold_algebra.c - the algebra under threshold decryption: GF(16)
 * and GR(2^128, 4) arithmetic (ring laws, X^4 + X + 1 = 0, inverses of every
 * difference of exceptional points, non-units refused), Shamir sharing and
 * reconstruction, and the robust opening with 0..t corrupted shares (in low,
 * high and single bits, so every Hensel level is exercised) and with too few
 * shares (it refuses, never a wrong value).
 */
#include "th_test_util.h"
#include "vtest.h"

static th_gr rand_gr(void)
{
    th_gr g;
    veil_random_bytes(g.c, sizeof g.c);
    return g;
}

static void test_gf16(void)
{
    for (unsigned a = 0; a < 16; a++) {
        CHECK_EQ_INT(th_gf16_mul((uint8_t)a, 1), a);
        CHECK_EQ_INT(th_gf16_mul((uint8_t)a, 0), 0);
        if (a)
            CHECK_EQ_INT(th_gf16_mul((uint8_t)a, th_gf16_inv((uint8_t)a)), 1);
        for (unsigned b = 0; b < 16; b++) {
            CHECK_EQ_INT(th_gf16_mul((uint8_t)a, (uint8_t)b), th_gf16_mul((uint8_t)b, (uint8_t)a));
            for (unsigned c = 0; c < 16; c++)
                CHECK_EQ_INT(th_gf16_mul(th_gf16_mul((uint8_t)a, (uint8_t)b), (uint8_t)c),
                             th_gf16_mul((uint8_t)a, th_gf16_mul((uint8_t)b, (uint8_t)c)));
        }
    }
    /* X^4 = X + 1: X = 2, X^4 = 3 */
    uint8_t x2 = th_gf16_mul(2, 2);
    CHECK_EQ_INT(th_gf16_mul(x2, x2), 3);
}

static void test_gr_laws(void)
{
    for (unsigned k = 0; k < 200; k++) {
        th_gr a = rand_gr(), b = rand_gr(), c = rand_gr();
        CHECK(th_gr_eq(th_gr_mul(th_gr_mul(a, b), c), th_gr_mul(a, th_gr_mul(b, c))));
        CHECK(th_gr_eq(th_gr_mul(a, b), th_gr_mul(b, a)));
        CHECK(th_gr_eq(th_gr_mul(a, th_gr_add(b, c)), th_gr_add(th_gr_mul(a, b), th_gr_mul(a, c))));
        CHECK(th_gr_eq(th_gr_sub(th_gr_add(a, b), b), a));
        CHECK(th_gr_eq(th_gr_mul(a, th_gr_const(1)), a));
        veil_u128 s = th_test_rand128();
        CHECK(th_gr_eq(th_gr_scale(a, s), th_gr_mul(a, th_gr_const(s))));
        /* reduction mod 2 is a ring morphism onto GF(16) */
        CHECK_EQ_INT(th_gr_mod2(th_gr_mul(a, b)), th_gf16_mul(th_gr_mod2(a), th_gr_mod2(b)));
        th_gr inv;
        if (th_gr_mod2(a) != 0) {
            CHECK(th_gr_inv(a, &inv) == 0);
            CHECK(th_gr_eq(th_gr_mul(a, inv), th_gr_const(1)));
        } else {
            CHECK(th_gr_inv(a, &inv) != 0);
        }
    }
    th_gr x = th_gr_lift(2), x2 = th_gr_mul(x, x);
    th_gr sum = th_gr_add(th_gr_add(th_gr_mul(x2, x2), x), th_gr_const(1));
    CHECK(th_gr_eq(sum, th_gr_zero()));
    th_gr inv;
    CHECK(th_gr_inv(th_gr_const(2), &inv) != 0);
    CHECK(th_gr_inv(th_gr_zero(), &inv) != 0);
}

static void test_exceptional_set(void)
{
    for (unsigned i = 1; i <= 15; i++) {
        th_gr inv;
        CHECK(th_gr_inv(th_gr_point(i), &inv) == 0);
        for (unsigned j = 1; j <= 15; j++) {
            if (i == j)
                continue;
            th_gr d = th_gr_sub(th_gr_point(i), th_gr_point(j));
            CHECK(th_gr_inv(d, &inv) == 0);
            CHECK(th_gr_eq(th_gr_mul(d, inv), th_gr_const(1)));
        }
    }
}

/* A random degree-t sharing of secret at holders 1..n. */
static void share_poly(th_gr secret, unsigned n, unsigned t, th_gr *poly, th_gr *ys)
{
    poly[0] = secret;
    for (unsigned k = 1; k <= t; k++)
        poly[k] = rand_gr();
    for (unsigned i = 1; i <= n; i++)
        ys[i - 1] = th_gr_poly_eval(poly, t, th_gr_point(i));
}

static void test_shamir(void)
{
    static const unsigned shapes[][2] = {{3, 1}, {4, 1}, {7, 2}, {10, 3}, {13, 4}, {15, 4}};
    for (size_t s = 0; s < VEIL_ARRAY_LEN(shapes); s++) {
        unsigned n = shapes[s][0], t = shapes[s][1];
        th_gr poly[5], ys[15], got;
        uint8_t idx[15];
        for (unsigned i = 0; i < n; i++)
            idx[i] = (uint8_t)(i + 1);
        th_gr secret = rand_gr();
        share_poly(secret, n, t, poly, ys);
        uint32_t agree = 0;
        CHECK(th_robust_open(idx, ys, n, t, &got, &agree) == 0);
        CHECK(th_gr_eq(got, secret));
        CHECK_EQ_U64(agree, (1u << n) - 1);
        /* the last 2t + 1 holders alone */
        unsigned off = n - (2 * t + 1);
        CHECK(th_robust_open(idx + off, ys + off, 2 * t + 1, t, &got, &agree) == 0);
        CHECK(th_gr_eq(got, secret));
    }
}

/* Adds a non-zero error: all bits, one high bit, or one low bit. */
static th_gr corrupt(th_gr y, unsigned kind)
{
    th_gr e = th_gr_zero();
    switch (kind % 3) {
    case 0:
        e = rand_gr();
        break;
    case 1:
        e.c[veil_random_uniform(4)] = (veil_u128)1 << (64 + veil_random_uniform(64));
        break;
    default:
        e.c[veil_random_uniform(4)] = (veil_u128)1 << veil_random_uniform(64);
        break;
    }
    if (th_gr_eq(e, th_gr_zero()))
        e.c[0] = 1;
    return th_gr_add(y, e);
}

/* k answers among n holders with `bad` <= t corrupted ones: the opening
 * either gives the secret and names exactly the corrupted holders, or
 * refuses; it must succeed when k - bad >= 2t + 1 (then bad is also within
 * Reed-Solomon's (k - t - 1) / 2). */
static void check_decode(unsigned n, unsigned t, unsigned k, unsigned bad, unsigned kind)
{
    th_gr poly[5], all[15], ys[15], got;
    uint8_t idx[15], order[15];
    for (unsigned i = 0; i < n; i++)
        order[i] = (uint8_t)(i + 1);
    for (unsigned i = n; i > 1; i--) { /* random subset of k holders */
        unsigned j = veil_random_uniform(i);
        uint8_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    th_gr secret = rand_gr();
    share_poly(secret, n, t, poly, all);
    uint32_t liars = 0;
    for (unsigned j = 0; j < k; j++) {
        idx[j] = order[j];
        ys[j] = all[order[j] - 1];
        if (j < bad) {
            ys[j] = corrupt(ys[j], kind + j);
            liars |= 1u << (order[j] - 1);
        }
    }
    uint32_t agree = 0;
    int rc = th_robust_open(idx, ys, k, t, &got, &agree);
    if (k - bad >= 2 * t + 1)
        CHECK(rc == 0);
    if (rc == 0) {
        CHECK(th_gr_eq(got, secret));
        uint32_t answered = 0;
        for (unsigned j = 0; j < k; j++)
            answered |= 1u << (idx[j] - 1);
        CHECK_EQ_U64(agree, answered & ~liars);
    }
}

static void test_decoder_corrections(void)
{
    static const unsigned shapes[][2] = {{4, 1}, {5, 1}, {7, 2}, {10, 3}, {13, 4}, {15, 4}};
    for (size_t s = 0; s < VEIL_ARRAY_LEN(shapes); s++) {
        unsigned n = shapes[s][0], t = shapes[s][1];
        for (unsigned k = 2 * t + 1; k <= n; k++)
            for (unsigned bad = 0; bad <= t; bad++)
                for (unsigned kind = 0; kind < 6; kind++)
                    check_decode(n, t, k, bad, kind);
    }
}

static void test_decoder_too_few(void)
{
    th_gr poly[5], ys[15], p;
    uint8_t idx[15];
    for (unsigned i = 0; i < 15; i++)
        idx[i] = (uint8_t)(i + 1);
    uint32_t agree = 1;
    /* n = 4, t = 1: two answers are too few */
    share_poly(rand_gr(), 4, 1, poly, ys);
    CHECK(th_robust_open(idx, ys, 2, 1, &p, &agree) != 0);
    CHECK_EQ_U64(agree, 0);
    /* three answers with one liar: only 2 agree, so refuse (never a wrong value) */
    for (unsigned trial = 0; trial < 50; trial++) {
        share_poly(rand_gr(), 4, 1, poly, ys);
        ys[trial % 3] = corrupt(ys[trial % 3], trial);
        CHECK(th_robust_open(idx, ys, 3, 1, &p, &agree) != 0);
    }
    /* n = 13, t = 4: 9 answers with 1 liar cannot be corrected: refuse */
    for (unsigned trial = 0; trial < 20; trial++) {
        share_poly(rand_gr(), 13, 4, poly, ys);
        ys[trial % 9] = corrupt(ys[trial % 9], trial);
        CHECK(th_robust_open(idx, ys, 9, 4, &p, &agree) != 0);
    }
}

static void test_gao_direct(void)
{
    /* GF(16) Reed-Solomon: 15 points, degree 4, up to 5 errors corrected */
    uint8_t xs[15], ys[15], f[5], g[5];
    for (unsigned trial = 0; trial < 100; trial++) {
        for (unsigned k = 0; k < 5; k++)
            f[k] = (uint8_t)veil_random_uniform(16);
        for (unsigned i = 0; i < 15; i++) {
            xs[i] = (uint8_t)(i + 1);
            uint8_t acc = 0;
            for (unsigned k = 5; k-- > 0;)
                acc = (uint8_t)(th_gf16_mul(acc, xs[i]) ^ f[k]);
            ys[i] = acc;
        }
        for (unsigned e = 0; e < trial % 6; e++)
            ys[(e * 7 + trial) % 15] ^= (uint8_t)(1 + veil_random_uniform(15));
        CHECK(th_gao_decode(xs, ys, 15, 4, g) == 0);
        CHECK_EQ_MEM(f, g, 5);
    }
}

VTEST_MAIN(VTEST(test_gf16), VTEST(test_gr_laws), VTEST(test_exceptional_set), VTEST(test_shamir),
           VTEST(test_gao_direct), VTEST(test_decoder_corrections), VTEST(test_decoder_too_few))
