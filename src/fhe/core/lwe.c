// SPDX-License-Identifier: Apache-2.0
/*
 * core/lwe.c - LWE / GLWE encryption, keyswitch, polynomial helpers and
 * sample extraction (see lwe.h). Plain loops written so the compiler can
 * vectorize them; all arithmetic wraps mod 2^64.
 */
#include "lwe.h"

#include <string.h>

#include "hot.h"

uint64_t veil_fhe_lwe_phase(const uint64_t *ct, const uint64_t *key, size_t n)
{
    uint64_t dot = 0;
    for (size_t i = 0; i < n; i++)
        dot += ct[i] * key[i];
    return ct[n] - dot;
}

void veil_fhe_lwe_encrypt(uint64_t *ct, const uint64_t *key, size_t n, uint64_t mu,
                          unsigned noise_log2, struct veil_fhe_rng *mask_rng,
                          struct veil_fhe_rng *noise_rng)
{
    veil_fhe_rng_uniform(mask_rng, ct, n);
    uint64_t dot = 0;
    for (size_t i = 0; i < n; i++)
        dot += ct[i] * key[i];
    ct[n] = dot + mu + veil_fhe_rng_tuniform(noise_rng, noise_log2);
}

/* Keyswitch (TFHE-rs keyswitch_lwe_ciphertext): out = (0, b) - sum_i sum_j
 * d_ij(a_i) * KSK[i][j]; the phase is then b - <a, s_in> + KS noise. */
void veil_fhe_lwe_keyswitch(uint64_t *out, const uint64_t *in, const uint64_t *ksk, size_t in_dim,
                            size_t out_dim, unsigned base_log, unsigned level)
{
    const size_t stride = out_dim + 1;
    memset(out, 0, stride * sizeof *out);
    out[out_dim] = in[in_dim];
    int64_t digits[64];
    for (size_t i = 0; i < in_dim; i++) {
        veil_fhe_decompose(in[i], base_log, level, digits);
        /* digits[0] is the least significant level (j = level-1). */
        for (unsigned t = 0; t < level; t++) {
            const uint64_t d = (uint64_t)digits[t];
            const uint64_t *row = ksk + (i * level + (level - 1 - t)) * stride;
            for (size_t c = 0; c < stride; c++)
                out[c] -= d * row[c];
        }
    }
}

VEIL_FHE_HOT
static void ks32_rows4(uint32_t *restrict acc, const uint32_t *restrict rows, size_t stride,
                       size_t len, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3)
{
    const uint32_t *restrict r0 = rows, *restrict r1 = rows + stride,
                             *restrict r2 = rows + 2 * stride, *restrict r3 = rows + 3 * stride;
    for (size_t c = 0; c < len; c++)
        acc[c] += d0 * r0[c] + d1 * r1[c] + d2 * r2[c] + d3 * r3[c];
}

VEIL_FHE_HOT
static void ks32_row(uint32_t *restrict acc, const uint32_t *restrict row, size_t len, uint32_t d)
{
    for (size_t c = 0; c < len; c++)
        acc[c] += d * row[c];
}

void veil_fhe_lwe_keyswitch32(uint64_t *out, const uint64_t *in, const uint32_t *ksk32,
                              size_t in_dim, size_t out_dim, unsigned base_log, unsigned level,
                              uint32_t *acc)
{
    const size_t stride = out_dim + 1;
    memset(acc, 0, stride * sizeof *acc);
    int64_t digits[64];
    for (size_t i = 0; i < in_dim; i++) {
        veil_fhe_decompose(in[i], base_log, level, digits);
        const uint32_t *rows = ksk32 + i * level * stride;
        /* digits[t] pairs with row j = level-1-t (row 0 is the most significant). */
        if (level == 4) {
            ks32_rows4(acc, rows, stride, stride, (uint32_t)digits[3], (uint32_t)digits[2],
                       (uint32_t)digits[1], (uint32_t)digits[0]);
        } else {
            for (unsigned t = 0; t < level; t++)
                ks32_row(acc, rows + (level - 1 - t) * stride, stride, (uint32_t)digits[t]);
        }
    }
    for (size_t c = 0; c < out_dim; c++)
        out[c] = (uint64_t)((uint32_t)0 - acc[c]) << 32;
    out[out_dim] = in[in_dim] - ((uint64_t)acc[out_dim] << 32);
}

VEIL_FHE_HOT
static void poly_mul_binary_acc(uint64_t *restrict out, const uint64_t *restrict a,
                                const uint64_t *restrict s, size_t n)
{
    /* out += sum_{j: s_j = 1} X^j * a, negacyclic. */
    for (size_t j = 0; j < n; j++) {
        if (!s[j])
            continue;
        for (size_t i = 0; i < n - j; i++)
            out[i + j] += a[i];
        for (size_t i = n - j; i < n; i++)
            out[i + j - n] -= a[i];
    }
}

void veil_fhe_lwe_keyswitch32_batch(uint64_t *const *outs, const uint64_t *const *ins, size_t count,
                                    const uint32_t *ksk32, size_t in_dim, size_t out_dim,
                                    unsigned base_log, unsigned level, uint32_t *const *accs)
{
    veil_fhe_lwe_keyswitch32_batch_range(outs, ins, count, ksk32, in_dim, out_dim, base_log, level,
                                         accs, 0, out_dim + 1);
}

/* Every output word is an independent sum mod 2^32 over the key rows, so a
 * range of words costs its share of the key traffic and gives the same
 * words as the whole keyswitch. */
void veil_fhe_lwe_keyswitch32_batch_range(uint64_t *const *outs, const uint64_t *const *ins,
                                          size_t count, const uint32_t *ksk32, size_t in_dim,
                                          size_t out_dim, unsigned base_log, unsigned level,
                                          uint32_t *const *accs, size_t lo, size_t hi)
{
    const size_t stride = out_dim + 1;
    if (hi > stride)
        hi = stride;
    if (lo >= hi)
        return;
    const size_t len = hi - lo;
    for (size_t c = 0; c < count; c++)
        memset(accs[c] + lo, 0, len * sizeof(uint32_t));
    int64_t digits[64];
    for (size_t i = 0; i < in_dim; i++) {
        const uint32_t *rows = ksk32 + i * level * stride + lo;
        for (size_t c = 0; c < count; c++) {
            veil_fhe_decompose(ins[c][i], base_log, level, digits);
            if (level == 4) {
                ks32_rows4(accs[c] + lo, rows, stride, len, (uint32_t)digits[3],
                           (uint32_t)digits[2], (uint32_t)digits[1], (uint32_t)digits[0]);
            } else {
                for (unsigned t = 0; t < level; t++)
                    ks32_row(accs[c] + lo, rows + (level - 1 - t) * stride, len,
                             (uint32_t)digits[t]);
            }
        }
    }
    const size_t mask_hi = hi < out_dim ? hi : out_dim;
    for (size_t c = 0; c < count; c++) {
        for (size_t j = lo; j < mask_hi; j++)
            outs[c][j] = (uint64_t)((uint32_t)0 - accs[c][j]) << 32;
        if (hi == stride)
            outs[c][out_dim] = ins[c][in_dim] - ((uint64_t)accs[c][out_dim] << 32);
    }
}

void veil_fhe_poly_mul_binary_acc(uint64_t *out, const uint64_t *a, const uint64_t *s, size_t n)
{
    poly_mul_binary_acc(out, a, s, n);
}

void veil_fhe_poly_mul_binary(uint64_t *out, const uint64_t *a, const uint64_t *s, size_t n)
{
    memset(out, 0, n * sizeof *out);
    veil_fhe_poly_mul_binary_acc(out, a, s, n);
}

void veil_fhe_poly_rotate(uint64_t *out, const uint64_t *in, size_t n, size_t r)
{
    int neg = 0;
    if (r >= n) {
        r -= n;
        neg = 1;
    }
    const uint64_t sign_hi = neg ? UINT64_MAX : 0; /* applied to out[r..n) */
    const uint64_t sign_lo = ~sign_hi;             /* applied to out[0..r) */
    for (size_t j = 0; j < r; j++)
        out[j] = (in[j + n - r] ^ sign_lo) - sign_lo;
    for (size_t j = r; j < n; j++)
        out[j] = (in[j - r] ^ sign_hi) - sign_hi;
}

void veil_fhe_glwe_phase(uint64_t *phase, const uint64_t *ct, const uint64_t *key, size_t k,
                         size_t n)
{
    memcpy(phase, ct + k * n, n * sizeof *phase);
    for (size_t j = 0; j < k; j++) {
        /* phase -= A_j * S_j */
        const uint64_t *a = ct + j * n, *s = key + j * n;
        for (size_t t = 0; t < n; t++) {
            if (!s[t])
                continue;
            for (size_t i = 0; i < n - t; i++)
                phase[i + t] -= a[i];
            for (size_t i = n - t; i < n; i++)
                phase[i + t - n] += a[i];
        }
    }
}

void veil_fhe_glwe_encrypt(uint64_t *ct, const uint64_t *key, size_t k, size_t n,
                           const uint64_t *mu, unsigned noise_log2, struct veil_fhe_rng *mask_rng,
                           struct veil_fhe_rng *noise_rng)
{
    uint64_t *body = ct + k * n;
    veil_fhe_rng_uniform(mask_rng, ct, k * n);
    memset(body, 0, n * sizeof *body);
    for (size_t j = 0; j < k; j++)
        veil_fhe_poly_mul_binary_acc(body, ct + j * n, key + j * n, n);
    veil_fhe_rng_tuniform_add(noise_rng, body, n, noise_log2);
    if (mu)
        for (size_t i = 0; i < n; i++)
            body[i] += mu[i];
}

/* Coefficient 0 of A_j * S_j is A_j[0] S_j[0] - sum_{t>=1} A_j[N-t] S_j[t]. */
void veil_fhe_glwe_sample_extract(uint64_t *lwe, const uint64_t *glwe, size_t k, size_t n)
{
    for (size_t j = 0; j < k; j++) {
        const uint64_t *a = glwe + j * n;
        uint64_t *out = lwe + j * n;
        out[0] = a[0];
        for (size_t t = 1; t < n; t++)
            out[t] = (uint64_t)0 - a[n - t];
    }
    lwe[k * n] = glwe[k * n];
}

/* Coefficient t of A_j * S_j is sum_{i<=t} A_j[t-i] S_j[i] - sum_{i>t} A_j[N+t-i] S_j[i]. */
void veil_fhe_glwe_sample_extract_at(uint64_t *lwe, const uint64_t *glwe, size_t k, size_t n,
                                     size_t index)
{
    for (size_t j = 0; j < k; j++) {
        const uint64_t *a = glwe + j * n;
        uint64_t *out = lwe + j * n;
        for (size_t i = 0; i <= index; i++)
            out[i] = a[index - i];
        for (size_t i = index + 1; i < n; i++)
            out[i] = (uint64_t)0 - a[n + index - i];
    }
    lwe[k * n] = glwe[k * n + index];
}
