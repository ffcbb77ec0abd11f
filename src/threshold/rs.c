// SPDX-License-Identifier: Apache-2.0
/*
 * rs.c - robust opening of a degree-t sharing over GR(2^128, 4): Reed-Solomon
 * decoding (Gao's algorithm) over the residue field GF(16), lifted bit by bit
 * to Z_2^128 (Hensel lifting, as zama-ai/kms's error_correction does), with
 * the acceptance rule that keeps a wrong value out: the opened polynomial must
 * match at least 2t + 1 of the values exactly.
 *
 * Polynomials over GF(16) are arrays of at most TH_RS_MAX coefficients,
 * lowest degree first; 15 points bound every degree involved.
 */
#include <string.h>

#include "th_internal.h"

#define TH_RS_MAX 17 /* degree <= 16: the product over 15 points plus slack */

typedef struct gpoly {
    uint8_t c[TH_RS_MAX];
    int deg; /* -1 for the zero polynomial */
} gpoly;

static void gp_norm(gpoly *p)
{
    while (p->deg >= 0 && p->c[p->deg] == 0)
        p->deg--;
}

static void gp_set_const(gpoly *p, uint8_t v)
{
    memset(p, 0, sizeof *p);
    p->c[0] = v;
    p->deg = v ? 0 : -1;
}

static uint8_t gp_eval(const gpoly *p, uint8_t x)
{
    uint8_t acc = 0;
    for (int k = p->deg; k >= 0; k--)
        acc = (uint8_t)(th_gf16_mul(acc, x) ^ p->c[k]);
    return acc;
}

/* a * b; degrees stay below TH_RS_MAX by construction. */
static void gp_mul(const gpoly *a, const gpoly *b, gpoly *out)
{
    gpoly r;
    memset(&r, 0, sizeof r);
    r.deg = (a->deg < 0 || b->deg < 0) ? -1 : a->deg + b->deg;
    if (r.deg >= TH_RS_MAX)
        r.deg = TH_RS_MAX - 1;
    for (int i = 0; i <= a->deg; i++)
        for (int j = 0; j <= b->deg && i + j < TH_RS_MAX; j++)
            r.c[i + j] ^= th_gf16_mul(a->c[i], b->c[j]);
    gp_norm(&r);
    *out = r;
}

static void gp_sub(const gpoly *a, const gpoly *b, gpoly *out) /* = add in char 2 */
{
    gpoly r;
    memset(&r, 0, sizeof r);
    for (int k = 0; k < TH_RS_MAX; k++)
        r.c[k] = a->c[k] ^ b->c[k];
    r.deg = TH_RS_MAX - 1;
    gp_norm(&r);
    *out = r;
}

/* a = q * b + r with deg r < deg b; b non-zero. */
static void gp_divmod(const gpoly *a, const gpoly *b, gpoly *q, gpoly *r)
{
    gpoly rem = *a;
    gp_set_const(q, 0);
    uint8_t lead_inv = th_gf16_inv(b->c[b->deg]);
    while (rem.deg >= b->deg) {
        int shift = rem.deg - b->deg;
        uint8_t f = th_gf16_mul(rem.c[rem.deg], lead_inv);
        q->c[shift] = f;
        if (shift > q->deg)
            q->deg = shift;
        for (int k = 0; k <= b->deg; k++)
            rem.c[k + shift] ^= th_gf16_mul(f, b->c[k]);
        gp_norm(&rem);
    }
    *r = rem;
}

/* The Lagrange interpolation of (xs, ys) and the product of (X - x_i). */
static void gp_interpolate(const uint8_t *xs, const uint8_t *ys, unsigned m, gpoly *g1, gpoly *g0)
{
    gp_set_const(g0, 1);
    gp_set_const(g1, 0);
    for (unsigned i = 0; i < m; i++) {
        gpoly lin = {.c = {xs[i], 1}, .deg = 1};
        gp_mul(g0, &lin, g0);
    }
    for (unsigned i = 0; i < m; i++) {
        gpoly basis, lin = {.c = {xs[i], 1}, .deg = 1}, rem;
        gp_divmod(g0, &lin, &basis, &rem); /* prod_{j != i} (X - x_j) */
        uint8_t scale = th_gf16_mul(ys[i], th_gf16_inv(gp_eval(&basis, xs[i])));
        for (int k = 0; k <= basis.deg; k++)
            g1->c[k] ^= th_gf16_mul(scale, basis.c[k]);
        g1->deg = TH_RS_MAX - 1;
        gp_norm(g1);
    }
}

int th_gao_decode(const uint8_t *xs, const uint8_t *ys, unsigned m, unsigned deg, uint8_t *f)
{
    if (m == 0 || m > 15 || deg + 1 > m)
        return -1;
    gpoly g0, g1;
    gp_interpolate(xs, ys, m, &g1, &g0);
    /* Partial extended Euclid on (g0, g1), tracking v with r_i = u_i g0 + v_i g1,
     * until deg r < (m + deg + 1) / 2. */
    gpoly r_prev = g0, r_cur = g1, v_prev, v_cur;
    gp_set_const(&v_prev, 0);
    gp_set_const(&v_cur, 1);
    while (r_cur.deg >= 0 && 2 * r_cur.deg >= (int)(m + deg + 1)) {
        gpoly q, r_next, t, v_next;
        gp_divmod(&r_prev, &r_cur, &q, &r_next);
        gp_mul(&q, &v_cur, &t);
        gp_sub(&v_prev, &t, &v_next);
        r_prev = r_cur;
        r_cur = r_next;
        v_prev = v_cur;
        v_cur = v_next;
    }
    if (v_cur.deg < 0)
        return -1;
    gpoly quot, rem;
    gp_divmod(&r_cur, &v_cur, &quot, &rem);
    if (rem.deg >= 0 || quot.deg > (int)deg)
        return -1;
    unsigned errors = 0;
    for (unsigned i = 0; i < m; i++)
        errors += gp_eval(&quot, xs[i]) != ys[i];
    if (2 * errors > m - deg - 1)
        return -1;
    for (unsigned k = 0; k <= deg; k++)
        f[k] = quot.c[k];
    return 0;
}

/* One Hensel step: decodes bit `bit` of the residuals of the live holders,
 * adds the correction to p, and drops holders whose bit disagreed. */
static int lift_step(const uint8_t *idx, const th_gr *ys, unsigned m, unsigned t, unsigned bit,
                     th_gr *p, uint32_t *live)
{
    uint8_t xs[15], bits[15], q[16];
    unsigned map[15], k = 0;
    for (unsigned j = 0; j < m; j++) {
        if (!(*live & (1u << j)))
            continue;
        th_gr r = th_gr_sub(ys[j], th_gr_poly_eval(p, t, th_gr_point(idx[j])));
        xs[k] = idx[j];
        bits[k] = th_gr_bit(r, bit);
        map[k++] = j;
    }
    if (th_gao_decode(xs, bits, k, t, q) != 0)
        return -1;
    for (unsigned c = 0; c <= t; c++) {
        th_gr lq = th_gr_lift(q[c]);
        for (unsigned w = 0; w < 4; w++)
            p[c].c[w] += lq.c[w] << bit;
    }
    gpoly qp = {.deg = (int)t};
    memcpy(qp.c, q, t + 1);
    for (unsigned i = 0; i < k; i++)
        if (gp_eval(&qp, xs[i]) != bits[i])
            *live &= ~(1u << map[i]);
    return 0;
}

/* Lagrange weights of the points xs[0..k) at x: w_l = prod_{l' != l} (x - x_l') / (x_l - x_l'). */
static int lagrange_at(const uint8_t *xs, unsigned k, th_gr x, th_gr *w)
{
    for (unsigned l = 0; l < k; l++) {
        th_gr num = th_gr_const(1), den = th_gr_const(1), inv;
        for (unsigned o = 0; o < k; o++) {
            if (o == l)
                continue;
            num = th_gr_mul(num, th_gr_sub(x, th_gr_point(xs[o])));
            den = th_gr_mul(den, th_gr_sub(th_gr_point(xs[l]), th_gr_point(xs[o])));
        }
        if (th_gr_inv(den, &inv) != 0)
            return -1; /* repeated point */
        w[l] = th_gr_mul(num, inv);
    }
    return 0;
}

static th_gr combine_weights(const th_gr *w, const th_gr *ys, unsigned k)
{
    th_gr acc = th_gr_zero();
    for (unsigned l = 0; l < k; l++)
        acc = th_gr_add(acc, th_gr_mul(w[l], ys[l]));
    return acc;
}

/* The common case, all answers consistent: interpolate the first t + 1 and
 * count who agrees. Fails (leaving the work to the decoder) below 2t + 1. */
static int open_fast(const uint8_t *idx, const th_gr *ys, unsigned m, unsigned t, th_gr *secret,
                     uint32_t *agree)
{
    th_gr w[VEIL_TH_MAX_HOLDERS];
    unsigned count = t + 1;
    uint32_t mask = 0;
    for (unsigned l = 0; l <= t; l++)
        mask |= 1u << (idx[l] - 1);
    for (unsigned j = t + 1; j < m; j++) {
        if (lagrange_at(idx, t + 1, th_gr_point(idx[j]), w) != 0)
            return -1;
        if (th_gr_eq(combine_weights(w, ys, t + 1), ys[j])) {
            mask |= 1u << (idx[j] - 1);
            count++;
        }
    }
    if (count < 2 * t + 1 || lagrange_at(idx, t + 1, th_gr_zero(), w) != 0)
        return -1;
    *secret = combine_weights(w, ys, t + 1);
    *agree = mask;
    return 0;
}

/* Decoding with errors: Gao over GF(16) on each bit level of the residuals,
 * lifted to Z_2^128; then the acceptance rule on the result. */
static int open_decode(const uint8_t *idx, const th_gr *ys, unsigned m, unsigned t, th_gr *secret,
                       uint32_t *agree)
{
    th_gr p[VEIL_TH_MAX_HOLDERS + 1];
    for (unsigned c = 0; c <= t; c++)
        p[c] = th_gr_zero();
    uint32_t live = (1u << m) - 1, mask = 0;
    for (unsigned bit = 0; bit < 128; bit++)
        if (lift_step(idx, ys, m, t, bit, p, &live) != 0)
            return -1;
    unsigned count = 0;
    for (unsigned j = 0; j < m; j++) {
        if (th_gr_eq(th_gr_poly_eval(p, t, th_gr_point(idx[j])), ys[j])) {
            mask |= 1u << (idx[j] - 1);
            count++;
        }
    }
    if (count < 2 * t + 1)
        return -1;
    *secret = p[0];
    *agree = mask;
    return 0;
}

int th_robust_open(const uint8_t *idx, const th_gr *ys, unsigned m, unsigned t, th_gr *secret,
                   uint32_t *agree)
{
    *agree = 0;
    if (m > VEIL_TH_MAX_HOLDERS || m < 2 * t + 1)
        return -1;
    for (unsigned j = 0; j < m; j++)
        if (idx[j] < 1 || idx[j] > VEIL_TH_MAX_HOLDERS)
            return -1;
    if (open_fast(idx, ys, m, t, secret, agree) == 0)
        return 0;
    return open_decode(idx, ys, m, t, secret, agree);
}
