/*
 * core/ntt128.c - the three-prime negacyclic NTT and the CRT back to
 * Z/2^128 (see ntt128.h). Butterflies after Harvey ("Faster arithmetic for
 * number-theoretic transforms", 2014): values stay below 4p < 2^64 between
 * stages and each twiddle multiplication is a Shoup product.
 */
#include "ntt128.h"

#include <stdlib.h>
#include <string.h>

#include "hot.h"

/* The primes: the three largest p < 2^62 with p = 1 mod 4096 (so a
 * primitive 4096-th root of unity exists for N = 2048). */
static const uint64_t ntt128_primes[VEIL_NTT128_PRIMES] = {
    UINT64_C(0x3fffffffffff0001),
    UINT64_C(0x3ffffffffffe8001),
    UINT64_C(0x3ffffffffffe5001),
};

static inline uint64_t mulhi64(uint64_t a, uint64_t b)
{
    return (uint64_t)(((veil_u128_t)a * b) >> 64);
}

/* w * x mod p in [0, 2p), for any x < 2^64 (w < p, w_sh = floor(w 2^64 / p)). */
static inline uint64_t mul_shoup_lazy(uint64_t x, uint64_t w, uint64_t w_sh, uint64_t p)
{
    return w * x - mulhi64(w_sh, x) * p;
}

static inline uint64_t reduce_2p(uint64_t x, uint64_t p)
{
    return x >= p ? x - p : x;
}

static uint64_t mulmod_slow(uint64_t a, uint64_t b, uint64_t p)
{
    return (uint64_t)(((veil_u128_t)a * b) % p);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t p)
{
    uint64_t r = 1;
    for (; e; e >>= 1) {
        if (e & 1)
            r = mulmod_slow(r, b, p);
        b = mulmod_slow(b, b, p);
    }
    return r;
}

static uint64_t shoup_of(uint64_t w, uint64_t p)
{
    return (uint64_t)(((veil_u128_t)w << 64) / p);
}

static size_t bitrev(size_t i, unsigned bits)
{
    size_t r = 0;
    for (unsigned b = 0; b < bits; b++)
        r |= ((i >> b) & 1) << (bits - 1 - b);
    return r;
}

/* The smallest x >= 2 whose power x^((p-1)/2N) has order exactly 2N. */
static uint64_t find_psi(uint64_t p, size_t n)
{
    for (uint64_t x = 2;; x++) {
        uint64_t psi = powmod(x, (p - 1) / (2 * n), p);
        if (powmod(psi, n, p) == p - 1)
            return psi;
    }
}

static int prime_init(struct veil_ntt128_prime *pr, uint64_t p, size_t n)
{
    unsigned bits = 0;
    while (((size_t)1 << bits) < n)
        bits++;
    pr->p = p;
    pr->r64 = (uint64_t)(((veil_u128_t)1 << 64) % p);
    pr->r64_sh = shoup_of(pr->r64, p);
    pr->one_sh = shoup_of(1, p);
    pr->n_inv = powmod(n % p, p - 2, p);
    pr->n_inv_sh = shoup_of(pr->n_inv, p);
    pr->psi = malloc(4 * n * sizeof(uint64_t));
    if (!pr->psi)
        return -1;
    pr->psi_sh = pr->psi + n;
    pr->ipsi = pr->psi + 2 * n;
    pr->ipsi_sh = pr->psi + 3 * n;
    const uint64_t psi = find_psi(p, n), ipsi = powmod(psi, p - 2, p);
    for (size_t i = 0; i < n; i++) {
        size_t e = bitrev(i, bits);
        pr->psi[i] = powmod(psi, e, p);
        pr->psi_sh[i] = shoup_of(pr->psi[i], p);
        pr->ipsi[i] = powmod(ipsi, e, p);
        pr->ipsi_sh[i] = shoup_of(pr->ipsi[i], p);
    }
    return 0;
}

int veil_ntt128_init(struct veil_ntt128 *t, size_t n, veil_err *err)
{
    memset(t, 0, sizeof *t);
    if (n < 2 || n > VEIL_NTT128_MAX_N || (n & (n - 1)))
        return veil_err_set(err, VEIL_E_INVALID, "NTT size %zu is not a power of two <= %u", n,
                            VEIL_NTT128_MAX_N);
    t->n = n;
    for (unsigned i = 0; i < VEIL_NTT128_PRIMES; i++) {
        if (prime_init(&t->pr[i], ntt128_primes[i], n) < 0) {
            veil_ntt128_free(t);
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory for NTT tables");
        }
    }
    const uint64_t p0 = ntt128_primes[0], p1 = ntt128_primes[1], p2 = ntt128_primes[2];
    t->c1 = powmod(p0 % p1, p1 - 2, p1);
    t->c1_sh = shoup_of(t->c1, p1);
    const uint64_t p01_mod_p2 = mulmod_slow(p0 % p2, p1 % p2, p2);
    t->c2 = powmod(p01_mod_p2, p2 - 2, p2);
    t->c2_sh = shoup_of(t->c2, p2);
    t->p0_mod_p2 = p0 % p2;
    t->p0_mod_p2_sh = shoup_of(t->p0_mod_p2, p2);
    t->p01 = (veil_u128_t)p0 * p1;
    t->m_mod = t->p01 * p2;
    return 0;
}

void veil_ntt128_free(struct veil_ntt128 *t)
{
    for (unsigned i = 0; i < VEIL_NTT128_PRIMES; i++)
        free(t->pr[i].psi);
    memset(t, 0, sizeof *t);
}

void veil_ntt128_from_i64(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                          const int64_t *in)
{
    const uint64_t p = t->pr[prime].p;
    for (size_t j = 0; j < t->n; j++)
        out[j] = in[j] < 0 ? p - (uint64_t)(-in[j]) : (uint64_t)in[j];
}

/* hi * 2^64 + lo mod p = hi * (2^64 mod p) + lo mod p. */
static inline uint64_t reduce_u128(const struct veil_ntt128_prime *pr, uint64_t hi, uint64_t lo)
{
    const uint64_t p = pr->p;
    uint64_t a = mul_shoup_lazy(hi, pr->r64, pr->r64_sh, p);
    uint64_t b = mul_shoup_lazy(lo, 1, pr->one_sh, p);
    uint64_t s = a + b; /* < 4p */
    s = reduce_2p(s, 2 * p);
    return reduce_2p(s, p);
}

void veil_ntt128_from_u128(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                           const veil_u128_t *in)
{
    const struct veil_ntt128_prime *pr = &t->pr[prime];
    for (size_t j = 0; j < t->n; j++)
        out[j] = reduce_u128(pr, (uint64_t)(in[j] >> 64), (uint64_t)in[j]);
}

VEIL_FHE_HOT
static void ntt_forward(uint64_t *restrict a, size_t n, const uint64_t *restrict psi,
                        const uint64_t *restrict psi_sh, uint64_t p)
{
    const uint64_t two_p = 2 * p;
    size_t t = n;
    for (size_t m = 1; m < n; m <<= 1) {
        t >>= 1;
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = psi[m + i], ws = psi_sh[m + i];
            uint64_t *restrict x = a + 2 * i * t, *restrict y = x + t;
            for (size_t j = 0; j < t; j++) {
                uint64_t u = x[j];
                u = u >= two_p ? u - two_p : u;
                const uint64_t v = mul_shoup_lazy(y[j], w, ws, p);
                x[j] = u + v;
                y[j] = u - v + two_p;
            }
        }
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t u = a[j];
        u = u >= two_p ? u - two_p : u;
        a[j] = u >= p ? u - p : u;
    }
}

VEIL_FHE_HOT
static void ntt_inverse(uint64_t *restrict a, size_t n, const uint64_t *restrict ipsi,
                        const uint64_t *restrict ipsi_sh, uint64_t n_inv, uint64_t n_inv_sh,
                        uint64_t p)
{
    const uint64_t two_p = 2 * p;
    size_t t = 1;
    for (size_t m = n >> 1; m >= 1; m >>= 1) {
        for (size_t i = 0; i < m; i++) {
            const uint64_t w = ipsi[m + i], ws = ipsi_sh[m + i];
            uint64_t *restrict x = a + 2 * i * t, *restrict y = x + t;
            for (size_t j = 0; j < t; j++) {
                const uint64_t u = x[j], v = y[j];
                uint64_t s = u + v;
                x[j] = s >= two_p ? s - two_p : s;
                y[j] = mul_shoup_lazy(u - v + two_p, w, ws, p);
            }
        }
        t <<= 1;
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t u = mul_shoup_lazy(a[j], n_inv, n_inv_sh, p);
        a[j] = u >= p ? u - p : u;
    }
}

void veil_ntt128_forward(const struct veil_ntt128 *t, unsigned prime, uint64_t *a)
{
    const struct veil_ntt128_prime *pr = &t->pr[prime];
    ntt_forward(a, t->n, pr->psi, pr->psi_sh, pr->p);
}

void veil_ntt128_inverse(const struct veil_ntt128 *t, unsigned prime, uint64_t *a)
{
    const struct veil_ntt128_prime *pr = &t->pr[prime];
    ntt_inverse(a, t->n, pr->ipsi, pr->ipsi_sh, pr->n_inv, pr->n_inv_sh, pr->p);
}

/* Each product is below p^2 < 2^124, so 16 of them fit in 128 bits before
 * the single reduction. */
void veil_ntt128_mac(const struct veil_ntt128 *t, unsigned prime, uint64_t *out,
                     const uint64_t *const *a, const uint64_t *const *b, size_t rows)
{
    const struct veil_ntt128_prime *pr = &t->pr[prime];
    for (size_t j = 0; j < t->n; j++) {
        veil_u128_t s = 0;
        for (size_t r = 0; r < rows; r++)
            s += (veil_u128_t)a[r][j] * b[r][j];
        out[j] = reduce_u128(pr, (uint64_t)(s >> 64), (uint64_t)s);
    }
}

/* Garner: X = x0 + x1 p0 + x2 p0 p1 with x_i in [0, p_i) is the residue in
 * [0, M); since |X_signed| < 2^167 is far below M/2, X is negative exactly
 * when x2 lies in the upper half of [0, p2). */
static inline veil_u128_t crt_one(const struct veil_ntt128 *t, uint64_t r0, uint64_t r1,
                                  uint64_t r2)
{
    const uint64_t p1 = t->pr[1].p, p2 = t->pr[2].p;
    const uint64_t x0 = r0;
    const uint64_t x0_1 = reduce_2p(x0, p1); /* p0 < 2 p1 */
    const uint64_t d1 = r1 >= x0_1 ? r1 - x0_1 : r1 + p1 - x0_1;
    const uint64_t x1 = reduce_2p(mul_shoup_lazy(d1, t->c1, t->c1_sh, p1), p1);
    const uint64_t x1p0 = reduce_2p(mul_shoup_lazy(x1, t->p0_mod_p2, t->p0_mod_p2_sh, p2), p2);
    const uint64_t y = reduce_2p(reduce_2p(x0, p2) + x1p0, p2); /* (x0 + x1 p0) mod p2 */
    const uint64_t d2 = r2 >= y ? r2 - y : r2 + p2 - y;
    const uint64_t x2 = reduce_2p(mul_shoup_lazy(d2, t->c2, t->c2_sh, p2), p2);
    veil_u128_t x = (veil_u128_t)x0 + (veil_u128_t)x1 * t->pr[0].p + (veil_u128_t)x2 * t->p01;
    if (x2 > p2 / 2)
        x -= t->m_mod;
    return x;
}

void veil_ntt128_crt(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res)
{
    for (size_t j = 0; j < t->n; j++)
        out[j] = crt_one(t, res[0][j], res[1][j], res[2][j]);
}

void veil_ntt128_crt_add(const struct veil_ntt128 *t, veil_u128_t *out, const uint64_t *const *res)
{
    for (size_t j = 0; j < t->n; j++)
        out[j] += crt_one(t, res[0][j], res[1][j], res[2][j]);
}
