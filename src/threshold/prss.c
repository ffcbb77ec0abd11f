// SPDX-License-Identifier: Apache-2.0
/*
 * prss.c - pseudo-random secret sharing of the flooding masks (Cramer,
 * Damgard, Ishai; as zama-ai/threshold-fhe's PRSS). The dealer gives every
 * holder a PRF key for each set A of n - t holders it belongs to. For a
 * ciphertext digest and block, each set's key yields r_A, uniform in
 * [-2^110, 2^110); holder i's share of the mask sum_A r_A is
 * sum_{A containing i} r_A f_A(alpha_i), where f_A is the degree-t polynomial
 * with f_A(0) = 1 vanishing on the t holders outside A. Any t holders miss at
 * least one set's key (the honest complement), so that r_A hides the
 * squashed noise; the sum stays below C(n, t) 2^110 (docs/THRESHOLD.md).
 */
#include <sodium.h>
#include <string.h>

#include "th_internal.h"

unsigned th_binom(unsigned n, unsigned k)
{
    if (k > n)
        return 0;
    unsigned r = 1;
    for (unsigned i = 1; i <= k; i++)
        r = r * (n - k + i) / i; /* exact: r * (n-k+i) is divisible by i */
    return r;
}

unsigned th_prss_sets(unsigned n, unsigned t, uint16_t *sets)
{
    unsigned count = 0;
    for (unsigned mask = 1; mask < (1u << n); mask++)
        if ((unsigned)__builtin_popcount(mask) == n - t)
            sets[count++] = (uint16_t)mask;
    return count;
}

th_gr th_prss_lambda(uint16_t set, unsigned n, unsigned i)
{
    th_gr acc = th_gr_const(1), xi = th_gr_point(i);
    for (unsigned j = 1; j <= n; j++) {
        if (set & (1u << (j - 1)))
            continue;
        th_gr xj = th_gr_point(j), inv;
        /* (alpha_i - alpha_j) / (0 - alpha_j): alpha_j is a unit */
        if (th_gr_inv(th_gr_sub(th_gr_zero(), xj), &inv) != 0)
            return th_gr_zero(); /* unreachable: every point is a unit */
        acc = th_gr_mul(acc, th_gr_mul(th_gr_sub(xi, xj), inv));
    }
    return acc;
}

veil_u128 th_prss_value(const uint8_t key[TH_PRSS_KEY_SIZE],
                        const uint8_t digest[VEIL_TH_DIGEST_SIZE], uint32_t block)
{
    static const char domain[] = "veil/threshold/prss/v1";
    uint8_t msg[sizeof domain + VEIL_TH_DIGEST_SIZE + 4], out[16];
    memcpy(msg, domain, sizeof domain);
    memcpy(msg + sizeof domain, digest, VEIL_TH_DIGEST_SIZE);
    for (unsigned k = 0; k < 4; k++)
        msg[sizeof domain + VEIL_TH_DIGEST_SIZE + k] = (uint8_t)(block >> (8 * k));
    crypto_generichash(out, sizeof out, msg, sizeof msg, key, TH_PRSS_KEY_SIZE);
    veil_u128 x = 0;
    for (unsigned k = 0; k < 16; k++)
        x |= (veil_u128)out[k] << (8 * k);
    veil_memzero(out, sizeof out);
    const veil_u128 half = (veil_u128)1 << VEIL_TH_LOG_MASK;
    x &= (half << 1) - 1; /* uniform in [0, 2^111) */
    return x - half;      /* uniform in [-2^110, 2^110), two's complement */
}

th_gr th_share_mask(const veil_th_share *sh, const uint8_t digest[VEIL_TH_DIGEST_SIZE],
                    uint32_t block)
{
    th_gr acc = th_gr_zero();
    for (unsigned k = 0; k < sh->nsets; k++) {
        veil_u128 r = th_prss_value(sh->keys[k], digest, block);
        acc = th_gr_add(acc, th_gr_scale(sh->lambda[k], r));
        r = 0;
    }
    return acc;
}
