// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_squash_core.c - the exact 128-bit arithmetic under noise
 * squashing (core/ntt128.c, core/pbs128.c) and the squashed-ciphertext
 * format (squash_io.c), on small inputs (fast, also under ASan):
 *   - NTT products of signed digit polynomials and 128-bit polynomials,
 *     summed over 9 rows, equal the schoolbook negacyclic product mod 2^128,
 *     including the largest magnitudes the bound allows (CRT sign recovery);
 *   - the 128-bit gadget decomposition recomposes the rounded value;
 *   - a toy 128-bit PBS (n = 8, k = 2, N = 256) maps every 4-bit block value
 *     v of a 64-bit LWE ciphertext to v * 2^123, and a GGSW rebuilt from its
 *     mask seed and saved bodies is word-for-word the generated one;
 *   - every kernel level (scalar, AVX-512, IFMA) and 1-3 threads sharing a
 *     batch give the same words: transforms, multiply-accumulate, digits,
 *     CRT, and three full-size CMux steps of three blocks;
 *   - decoding and recomposition of block values;
 *   - squashed ciphertexts round-trip through serialization, their digest
 *     tracks every word, and truncated, oversized, corrupted or wrong-kind
 *     input is refused with a specific message.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/squash.h>

#include "core/lwe.h"
#include "core/ntt128.h"
#include "core/pbs128.h"
#include "core/rng.h"
#include "serialize.h"
#include "squash_internal.h"
#include "vtest.h"

static const uint8_t test_seed[32] = {7, 1, 2, 3};

static veil_u128_t rand_u128(struct veil_fhe_rng *r)
{
    uint64_t lo = veil_fhe_rng_u64(r), hi = veil_fhe_rng_u64(r);
    return ((veil_u128_t)hi << 64) | lo;
}

/* out += d * k (negacyclic, mod 2^128), schoolbook. */
static void schoolbook_acc(veil_u128_t *out, const int64_t *d, const veil_u128_t *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const veil_u128_t di = (veil_u128_t)(__int128)d[i];
        for (size_t j = 0; j < n; j++) {
            const veil_u128_t prod = di * k[j];
            if (i + j < n)
                out[i + j] += prod;
            else
                out[i + j - n] -= prod;
        }
    }
}

/* Sum over `rows` of NTT products vs schoolbook; extreme = the largest
 * magnitudes (digits -2^23; words whose two signed limbs are both -2^63,
 * or 2^128 - 1). */
static void check_products(size_t n, size_t rows, int extreme)
{
    enum { P = VEIL_NTT128_PRIMES, CH = VEIL_NTT128_CHANNELS };
    struct veil_ntt128 t;
    veil_err err;
    CHECK(veil_ntt128_init(&t, n, &err) == 0);
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, n * 16 + rows + (size_t)extreme);
    int64_t *d = malloc(rows * n * sizeof *d);
    veil_u128_t *k = malloc(rows * n * sizeof *k);
    veil_u128_t *want = calloc(n, sizeof *want), *got = calloc(n, sizeof *got);
    uint64_t *dn = malloc(rows * P * n * 8), *kn = malloc(rows * CH * n * 8);
    uint64_t *o = malloc(CH * n * 8);
    const veil_u128_t both_min = ((veil_u128_t)(UINT64_MAX >> 1) << 64) | (UINT64_C(1) << 63);
    for (size_t i = 0; i < rows * n; i++) {
        d[i] = extreme
                   ? -(INT64_C(1) << 23)
                   : (int64_t)(veil_fhe_rng_u64(&rng) % (UINT64_C(1) << 24)) - (INT64_C(1) << 23);
        k[i] = extreme == 1 ? both_min : extreme == 2 ? ~(veil_u128_t)0 : rand_u128(&rng);
    }
    for (size_t r = 0; r < rows; r++)
        schoolbook_acc(want, d + r * n, k + r * n, n);
    for (size_t r = 0; r < rows; r++) {
        for (unsigned pr = 0; pr < P; pr++) {
            veil_ntt128_from_i64(&t, pr, dn + (r * P + pr) * n, d + r * n);
            veil_ntt128_forward(&t, pr, dn + (r * P + pr) * n);
        }
        for (unsigned ch = 0; ch < CH; ch++) {
            veil_ntt128_from_u128(&t, ch / P, ch % P, kn + (r * CH + ch) * n, k + r * n);
            veil_ntt128_forward(&t, ch % P, kn + (r * CH + ch) * n);
        }
    }
    const uint64_t *res[CH];
    for (unsigned ch = 0; ch < CH; ch++) {
        const uint64_t *a[16], *b[16];
        for (size_t r = 0; r < rows; r++) {
            a[r] = dn + (r * P + ch % P) * n;
            b[r] = kn + (r * CH + ch) * n;
        }
        veil_ntt128_mac(&t, ch % P, o + ch * n, a, b, rows);
        veil_ntt128_inverse(&t, ch % P, o + ch * n);
        res[ch] = o + ch * n;
    }
    veil_ntt128_crt(&t, got, res);
    CHECK(memcmp(got, want, n * sizeof *got) == 0);
    /* crt_add accumulates */
    veil_ntt128_crt_add(&t, got, res);
    for (size_t j = 0; j < n; j++)
        want[j] *= 2;
    CHECK(memcmp(got, want, n * sizeof *got) == 0);
    free(d);
    free(k);
    free(want);
    free(got);
    free(dn);
    free(kn);
    free(o);
    veil_ntt128_free(&t);
}

static void test_ntt_products(void)
{
    check_products(16, 1, 0);
    check_products(64, 9, 0);
    check_products(2048, 2, 0);
    check_products(64, 9, 1);
    check_products(2048, 9, 1);
    check_products(256, 9, 2);
    check_products(2048, 15, 1); /* the largest row count the bound allows */
    veil_err err;
    struct veil_ntt128 t;
    CHECK(veil_ntt128_init(&t, 3000, &err) == -1);
    CHECK_CONTAINS(err.msg, "power of two");
}

/* The vector kernels (AVX-512, IFMA: those this CPU and build have) give
 * the same words as the scalar code: transforms, multiply-accumulate (at
 * the largest residues and row count too), inverse. */
static void compare_paths(struct veil_ntt128 *t, int level, int extreme)
{
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 4242 + (uint64_t)extreme);
    enum { N = 2048, ROWS = 15 };
    uint64_t *in = malloc(2 * ROWS * N * 8), *x = malloc(2 * ROWS * N * 8),
             *y = malloc(2 * ROWS * N * 8);
    uint64_t ox[N], oy[N];
    for (unsigned pr = 0; pr < VEIL_NTT128_PRIMES; pr++) {
        for (size_t i = 0; i < 2 * ROWS * N; i++)
            in[i] = extreme ? t->pr[pr].p - 1 : veil_fhe_rng_u64(&rng) % t->pr[pr].p;
        memcpy(x, in, 2 * ROWS * N * 8);
        memcpy(y, in, 2 * ROWS * N * 8);
        const uint64_t *ax[ROWS], *bx[ROWS], *ay[ROWS], *by[ROWS];
        t->simd = level;
        for (size_t r = 0; r < 2 * ROWS; r++)
            veil_ntt128_forward(t, pr, x + r * N);
        t->simd = VEIL_NTT128_SCALAR;
        for (size_t r = 0; r < 2 * ROWS; r++)
            veil_ntt128_forward(t, pr, y + r * N);
        CHECK(memcmp(x, y, 2 * ROWS * N * 8) == 0);
        for (size_t r = 0; r < ROWS; r++) {
            /* extreme: multiply the untransformed p - 1 words themselves */
            ax[r] = (extreme ? in : x) + r * N;
            bx[r] = (extreme ? in : x) + (ROWS + r) * N;
            ay[r] = (extreme ? in : y) + r * N;
            by[r] = (extreme ? in : y) + (ROWS + r) * N;
        }
        t->simd = level;
        veil_ntt128_mac(t, pr, ox, ax, bx, ROWS);
        veil_ntt128_inverse(t, pr, ox);
        veil_ntt128_inverse(t, pr, x);
        t->simd = VEIL_NTT128_SCALAR;
        veil_ntt128_mac(t, pr, oy, ay, by, ROWS);
        veil_ntt128_inverse(t, pr, oy);
        veil_ntt128_inverse(t, pr, y);
        CHECK(memcmp(ox, oy, sizeof ox) == 0);
        CHECK(memcmp(x, y, N * 8) == 0);
        CHECK(memcmp(x, in, N * 8) == 0); /* inverse(forward(v)) = v */
    }
    free(in);
    free(x);
    free(y);
}

/* The vectorized digits (base 2^24, 3 levels) equal the scalar
 * decomposition, ties and carries included. */
static void compare_digits(struct veil_ntt128 *t)
{
    enum { N = 2048 };
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 555);
    veil_u128_t *v = malloc(N * sizeof *v);
    static const uint32_t fields[4] = {0x800000, 0x7fffff, 0, 0xffffff};
    for (size_t i = 0; i < N; i++) {
        v[i] = rand_u128(&rng);
        if (i % 2) { /* digit fields at the tie and wrap points, low bits at the rounding tie */
            veil_u128_t st = 0;
            for (int f = 0; f < 3; f++) {
                uint64_t r = veil_fhe_rng_u64(&rng);
                st |= (veil_u128_t)(r % 3 == 0 ? (r >> 8) & 0xffffff : fields[r % 4]) << (24 * f);
            }
            veil_u128_t low =
                (veil_fhe_rng_u64(&rng) & 1) ? (veil_u128_t)1 << 55 : rand_u128(&rng) >> 72;
            v[i] = (st << 56) | low;
        }
    }
    enum { R = 3 * VEIL_NTT128_PRIMES };
    uint64_t *fast = malloc(R * N * 8), *slow = malloc(R * N * 8);
    uint64_t *rf[R], *rs[R];
    for (int j = 0; j < R; j++) {
        rf[j] = fast + j * N;
        rs[j] = slow + j * N;
    }
    for (unsigned pr = 0; pr < VEIL_NTT128_PRIMES; pr++) {
        uint64_t *per_prime[3] = {rf[0 * VEIL_NTT128_PRIMES + pr], rf[1 * VEIL_NTT128_PRIMES + pr],
                                  rf[2 * VEIL_NTT128_PRIMES + pr]};
        CHECK(veil_ntt128_digits_24x3(t, pr, v, per_prime) == 1);
    }
    int64_t *dig = malloc(3 * N * sizeof *dig);
    for (size_t i = 0; i < N; i++) {
        int64_t d[3];
        veil_pbs128_decompose(v[i], 24, 3, d);
        for (int j = 0; j < 3; j++)
            dig[j * N + i] = d[2 - j];
    }
    for (int j = 0; j < 3; j++)
        for (unsigned pr = 0; pr < VEIL_NTT128_PRIMES; pr++)
            veil_ntt128_from_i64(t, pr, rs[j * VEIL_NTT128_PRIMES + pr], dig + j * N);
    CHECK(memcmp(fast, slow, R * N * 8) == 0);
    free(v);
    free(fast);
    free(slow);
    free(dig);
}

/* The digits of X^r a - a read straight from a (the rotation fused into
 * the vector decomposition) equal the rotation done apart and the scalar
 * decomposition, for rotations on and off a multiple of 8, wrapping and
 * negated (r >= N), at both primes. */
static void compare_rot_digits(struct veil_ntt128 *t)
{
    enum { N = 2048 };
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 556);
    veil_u128_t *a = malloc(N * sizeof *a), *diff = malloc(N * sizeof *diff);
    for (size_t i = 0; i < N; i++)
        a[i] = rand_u128(&rng);
    a[5] = 0; /* a zero source: the 128-bit negation's borrow */
    uint64_t *fast = malloc(3 * N * 8), *slow = malloc(3 * N * 8);
    int64_t *dig = malloc(3 * N * sizeof *dig);
    static const size_t rots[] = {0, 1, 5, 8, 13, 1000, 2047, 2048, 2049, 2053, 3000, 4095};
    for (size_t k = 0; k < sizeof rots / sizeof rots[0]; k++) {
        const size_t r = rots[k], rr = r % N;
        for (size_t c = 0; c < N; c++) {
            const veil_u128_t x = c < rr ? (veil_u128_t)0 - a[c + N - rr] : a[c - rr];
            diff[c] = (r >= N ? (veil_u128_t)0 - x : x) - a[c];
        }
        for (size_t i = 0; i < N; i++) {
            int64_t d[3];
            veil_pbs128_decompose(diff[i], 24, 3, d);
            for (int j = 0; j < 3; j++)
                dig[j * N + i] = d[2 - j];
        }
        for (unsigned pr = 0; pr < VEIL_NTT128_PRIMES; pr++) {
            uint64_t *rf[3] = {fast, fast + N, fast + 2 * N};
            CHECK(veil_ntt128_rot_digits_24x3(t, pr, a, r, rf) == 1);
            for (int j = 0; j < 3; j++)
                veil_ntt128_from_i64(t, pr, slow + j * N, dig + j * N);
            CHECK(memcmp(fast, slow, 3 * N * 8) == 0);
        }
    }
    free(a);
    free(diff);
    free(fast);
    free(slow);
    free(dig);
}

/* The vectorized CRT (added into 128-bit words) equals the scalar one on
 * any residues, including the largest and the negative half. */
static void compare_crt(struct veil_ntt128 *t)
{
    enum { N = 2048, CH = VEIL_NTT128_CHANNELS };
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 556);
    uint64_t *r = malloc(CH * N * 8);
    veil_u128_t *fast = malloc(N * sizeof *fast), *slow = malloc(N * sizeof *slow);
    for (size_t i = 0; i < N; i++) {
        for (unsigned ch = 0; ch < CH; ch++) {
            const uint64_t p = t->pr[ch % VEIL_NTT128_PRIMES].p, x = veil_fhe_rng_u64(&rng);
            r[ch * N + i] = i % 8 == 0 ? p - 1 : i % 8 == 1 ? 0 : x % p;
        }
        fast[i] = slow[i] = rand_u128(&rng);
    }
    const uint64_t *res[CH];
    for (unsigned ch = 0; ch < CH; ch++)
        res[ch] = r + ch * N;
    const int saved = t->simd;
    veil_ntt128_crt_add(t, fast, res);
    t->simd = VEIL_NTT128_SCALAR;
    veil_ntt128_crt_add(t, slow, res);
    t->simd = saved;
    CHECK(memcmp(fast, slow, N * sizeof *fast) == 0);
    free(r);
    free(fast);
    free(slow);
}

static void test_code_paths_identical(void)
{
    struct veil_ntt128 t;
    veil_err err;
    CHECK(veil_ntt128_init(&t, 2048, &err) == 0);
    const int best = t.simd;
    static const char *const names[] = {"scalar only", "AVX-512", "AVX-512 IFMA"};
    fprintf(stderr, "kernels: %s\n", names[best]);
    for (int level = VEIL_NTT128_AVX512; level <= best; level++) {
        compare_paths(&t, level, 0);
        compare_paths(&t, level, 1);
    }
    t.simd = best;
    if (best) {
        compare_digits(&t);
        compare_rot_digits(&t);
        compare_crt(&t);
    }
    t.simd = VEIL_NTT128_SCALAR;
    uint64_t *none[3 * VEIL_NTT128_PRIMES] = {0};
    CHECK(veil_ntt128_digits_24x3(&t, 0, NULL, none) == 0); /* scalar: the caller decomposes */
    CHECK(veil_ntt128_rot_digits_24x3(&t, 0, NULL, 1, none) == 0);
    veil_ntt128_free(&t);
}

static void test_decompose(void)
{
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 99);
    for (int it = 0; it < 20000; it++) {
        veil_u128_t v = rand_u128(&rng);
        if (it < 4) /* ties and wrap-around */
            v = it == 0 ? ~(veil_u128_t)0 : (veil_u128_t)it << 55;
        int64_t dig[3];
        veil_pbs128_decompose(v, 24, 3, dig);
        veil_u128_t sum = 0;
        for (unsigned i = 0; i < 3; i++) {
            CHECK(dig[i] >= -(INT64_C(1) << 23) && dig[i] <= (INT64_C(1) << 23));
            sum += (veil_u128_t)(__int128)dig[i] << (128 - (3 - i) * 24);
        }
        const veil_u128_t rounded = ((v + ((veil_u128_t)1 << 55)) >> 56) << 56;
        if (sum != rounded) {
            CHECK(sum == rounded);
            break;
        }
    }
}

/* ---- toy PBS ---- */

#define TOY_N   256
#define TOY_LWE 8

static void test_toy_pbs(void)
{
    struct veil_pbs128_shape s = {
        .lwe_dim = TOY_LWE, .k = 2, .poly = TOY_N, .base_log = 24, .level = 3, .noise_log2 = 30};
    struct veil_ntt128 t;
    veil_err err;
    CHECK(veil_ntt128_init(&t, TOY_N, &err) == 0);
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 1234);
    uint8_t glwe_key[2 * TOY_N];
    uint64_t small_key[TOY_LWE], bits[2 * TOY_N];
    veil_fhe_rng_binary(&rng, bits, 2 * TOY_N);
    for (size_t i = 0; i < 2 * TOY_N; i++)
        glwe_key[i] = (uint8_t)bits[i];
    veil_fhe_rng_binary(&rng, small_key, TOY_LWE);
    small_key[0] = 1; /* at least one CMux that rotates */
    uint64_t kntt[2 * VEIL_NTT128_PRIMES * TOY_N];
    veil_pbs128_key_ntt(&t, &s, glwe_key, kntt);
    const size_t words = veil_pbs128_ggsw_words(&s), rows = veil_pbs128_rows(&s);
    uint64_t *bsk = malloc(TOY_LWE * words * 8), *again = malloc(words * 8);
    veil_u128_t *bodies = malloc(rows * TOY_N * sizeof *bodies);
    struct veil_pbs128_scratch sc;
    CHECK(veil_pbs128_scratch_init(&sc, &s, &err) == 0);
    for (size_t i = 0; i < TOY_LWE; i++) {
        struct veil_fhe_rng mask, noise, mask2;
        veil_fhe_rng_init(&mask, test_seed, 100 + i);
        veil_fhe_rng_init(&noise, test_seed, 200 + i);
        veil_pbs128_ggsw_encrypt(&t, &s, glwe_key, kntt, (unsigned)small_key[i], &mask, &noise,
                                 bsk + i * words, bodies, &sc);
        /* a key file stores the bodies; the masks come back from the seed */
        veil_u128_t *back = malloc(rows * TOY_N * sizeof *back);
        veil_pbs128_ggsw_bodies(&t, &s, bsk + i * words, back, &sc);
        CHECK(memcmp(back, bodies, rows * TOY_N * sizeof *back) == 0);
        veil_fhe_rng_init(&mask2, test_seed, 100 + i);
        veil_pbs128_ggsw_expand(&t, &s, &mask2, back, again);
        CHECK(memcmp(again, bsk + i * words, words * 8) == 0);
        free(back);
    }
    veil_u128_t lut[TOY_N];
    veil_sq_build_lut(lut, TOY_N);
    for (unsigned v = 0; v < 16; v++) {
        uint64_t lwe[TOY_LWE + 1];
        veil_fhe_lwe_encrypt(lwe, small_key, TOY_LWE, (uint64_t)v << 59, 40, &rng, &rng);
        const uint64_t *lwes[1] = {lwe};
        veil_pbs128_blind_rotate_batch(&t, &s, bsk, lwes, lut, 1, &sc);
        veil_u128_t mask_out[2 * TOY_N], body;
        veil_pbs128_sample_extract(mask_out, &body, sc.acc, 2, TOY_N);
        veil_u128_t dot = 0;
        for (size_t i = 0; i < 2 * TOY_N; i++)
            dot += mask_out[i] * glwe_key[i];
        const veil_u128_t phase = body - dot;
        CHECK_EQ_INT(veil_sq_decode_block(phase), v);
        const __int128 e = (__int128)(phase - ((veil_u128_t)v << 123));
        CHECK(e < ((__int128)1 << 70) && e > -((__int128)1 << 70));
    }
    veil_pbs128_scratch_free(&sc);
    free(bsk);
    free(again);
    free(bodies);
    veil_ntt128_free(&t);
}

/* ---- full-size CMux steps: every code path and thread count ---- */

struct team_run {
    struct veil_pbs128_team *tm;
    pthread_t th;
};

static void *team_thread(void *arg)
{
    veil_pbs128_team_work(((struct team_run *)arg)->tm);
    return NULL;
}

/* Blind rotation of `count` LWE ciphertexts through the first `steps`
 * GGSWs of bsk (N = 2048, k = 2: the squashing shape) on `threads`
 * threads with kernel level `simd`; the accumulators go to acc. */
static void rotate_with(struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                        const uint64_t *bsk, const uint64_t *const *lwes, size_t count, int simd,
                        unsigned threads, veil_u128_t *acc)
{
    const size_t words = (s->k + 1) * s->poly;
    struct veil_pbs128_scratch sc[3];
    veil_err err;
    for (size_t c = 0; c < count; c++)
        CHECK(veil_pbs128_scratch_init(&sc[c], s, &err) == 0);
    const int saved = t->simd;
    t->simd = simd;
    veil_u128_t lut[2048];
    veil_sq_build_lut(lut, s->poly);
    struct veil_pbs128_team tm;
    veil_pbs128_team_init(&tm, t, s, bsk, lwes, lut, count, sc);
    struct team_run run[4];
    for (unsigned i = 1; i < threads; i++) {
        run[i].tm = &tm;
        CHECK(pthread_create(&run[i].th, NULL, team_thread, &run[i]) == 0);
    }
    veil_pbs128_team_work(&tm);
    for (unsigned i = 1; i < threads; i++)
        pthread_join(run[i].th, NULL);
    t->simd = saved;
    for (size_t c = 0; c < count; c++) {
        memcpy(acc + c * words, sc[c].acc, words * sizeof *acc);
        veil_pbs128_scratch_free(&sc[c]);
    }
}

/* Three CMux steps of three blocks at the real size with GGSWs of random
 * residues (exactness does not depend on them): the scalar code on one
 * thread, then every vector level this CPU has on 1, 2 and 3 threads, give
 * the same accumulators word for word. */
static void test_cmux_paths_and_threads(void)
{
    struct veil_pbs128_shape s = {
        .lwe_dim = 3, .k = 2, .poly = 2048, .base_log = 24, .level = 3, .noise_log2 = 30};
    struct veil_ntt128 t;
    veil_err err;
    CHECK(veil_ntt128_init(&t, s.poly, &err) == 0);
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 777);
    const size_t words = veil_pbs128_ggsw_words(&s), stride = veil_pbs128_stride(&s);
    uint64_t *bsk = malloc(s.lwe_dim * words * 8);
    for (size_t i = 0; i < s.lwe_dim * words; i++) {
        const size_t ch = (i / stride) % VEIL_NTT128_CHANNELS;
        bsk[i] = veil_fhe_rng_u64(&rng) % t.pr[ch % VEIL_NTT128_PRIMES].p;
    }
    enum { COUNT = 3 };
    uint64_t lwe[COUNT][4];
    const uint64_t *lwes[COUNT];
    for (size_t c = 0; c < COUNT; c++) {
        for (size_t i = 0; i < 4; i++)
            lwe[c][i] = veil_fhe_rng_u64(&rng);
        lwes[c] = lwe[c];
    }
    lwe[1][1] = 0; /* a step that does not rotate */
    const size_t acc_words = COUNT * (s.k + 1) * s.poly;
    veil_u128_t *want = malloc(acc_words * sizeof *want), *got = malloc(acc_words * sizeof *got);
    rotate_with(&t, &s, bsk, lwes, COUNT, VEIL_NTT128_SCALAR, 1, want);
    for (int simd = VEIL_NTT128_SCALAR; simd <= t.simd; simd++) {
        for (unsigned threads = 1; threads <= 3; threads++) {
            if (simd == VEIL_NTT128_SCALAR && threads == 1)
                continue;
            rotate_with(&t, &s, bsk, lwes, COUNT, simd, threads, got);
            CHECK(memcmp(got, want, acc_words * sizeof *got) == 0);
        }
    }
    free(want);
    free(got);
    free(bsk);
    veil_ntt128_free(&t);
}

static void test_decode_recompose(void)
{
    const veil_u128_t d = (veil_u128_t)1 << 123;
    CHECK_EQ_INT(veil_sq_decode_block(0), 0);
    CHECK_EQ_INT(veil_sq_decode_block(5 * d + d / 2 - 1), 5);
    CHECK_EQ_INT(veil_sq_decode_block(5 * d + d / 2), 6);
    CHECK_EQ_INT(veil_sq_decode_block(15 * d), 15);
    CHECK_EQ_INT(veil_sq_decode_block((veil_u128_t)0 - 1), 0);
    const unsigned vals[8] = {3, 2, 1, 0, 7, 3, 3, 3};
    CHECK_EQ_U64(veil_sq_recompose(vals, 4, 8, VEIL_SQ_ENC_BLOCKS), 0x1bu);
    CHECK_EQ_U64(veil_sq_recompose(vals, 8, 16, VEIL_SQ_ENC_BLOCKS), 0xff1bu);
    CHECK_EQ_U64(veil_sq_recompose(vals, 1, 1, VEIL_SQ_ENC_BLOCKS), 1u);
    /* packed: 4-bit digits */
    CHECK_EQ_U64(veil_sq_recompose(vals, 2, 8, VEIL_SQ_ENC_PACKED), 0x23u);
    CHECK_EQ_U64(veil_sq_recompose(vals, 4, 16, VEIL_SQ_ENC_PACKED), 0x0123u);
    CHECK_EQ_U64(veil_sq_recompose(vals, 8, 32, VEIL_SQ_ENC_PACKED), 0x33370123u);
    CHECK_EQ_U64(veil_sq_recompose(vals, 1, 1, VEIL_SQ_ENC_PACKED), 1u);
    CHECK_EQ_INT(veil_sq_blocks_for(8, VEIL_SQ_ENC_PACKED), 2);
    CHECK_EQ_INT(veil_sq_blocks_for(64, VEIL_SQ_ENC_PACKED), 16);
    CHECK_EQ_INT(veil_sq_blocks_for(1, VEIL_SQ_ENC_PACKED), 1);
    CHECK_EQ_INT(veil_sq_blocks_for(8, VEIL_SQ_ENC_BLOCKS), 4);
    CHECK_EQ_INT(veil_sq_blocks_for(8, 2), 0);
    CHECK_EQ_INT(veil_sq_blocks_for(12, VEIL_SQ_ENC_BLOCKS), 0);
}

/* ---- squashed ciphertext files ---- */

static void make_ct(veil_sq_ct *ct, uint32_t width, uint32_t encoding)
{
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, test_seed, 77 + width);
    ct->width = width;
    ct->encoding = encoding;
    ct->nblocks = veil_sq_blocks_for(width, encoding);
    ct->blocks = calloc(ct->nblocks, sizeof *ct->blocks);
    for (uint32_t b = 0; b < ct->nblocks; b++) {
        for (size_t i = 0; i < VEIL_SQ_LWE_DIM; i++)
            ct->blocks[b].a[i] = rand_u128(&rng);
        ct->blocks[b].b = rand_u128(&rng);
    }
}

static void test_ct_serialization(void)
{
    veil_err err;
    const uint32_t widths[] = {1, 8, 16, 1, 8, 16};
    for (size_t w = 0; w < 6; w++) {
        veil_sq_ct ct, back;
        make_ct(&ct, widths[w], w < 3 ? VEIL_SQ_ENC_BLOCKS : VEIL_SQ_ENC_PACKED);
        veil_buf b;
        veil_buf_init(&b);
        CHECK(veil_sq_ct_serialize(&ct, &b, &err) == 0);
        CHECK(veil_sq_ct_deserialize(b.data, b.len, &back, &err) == 0);
        CHECK_EQ_INT(back.width, ct.width);
        CHECK_EQ_INT(back.nblocks, ct.nblocks);
        CHECK_EQ_INT(back.encoding, ct.encoding);
        CHECK(memcmp(back.blocks, ct.blocks, ct.nblocks * sizeof *ct.blocks) == 0);
        uint8_t d1[32], d2[32];
        CHECK(veil_sq_ct_digest(&ct, d1, &err) == 0);
        if (ct.width == 1) { /* the encoding alone changes the digest */
            back.encoding ^= 1;
            CHECK(veil_sq_ct_digest(&back, d2, &err) == 0);
            CHECK(memcmp(d1, d2, 32) != 0);
            back.encoding ^= 1;
        }
        back.blocks[ct.nblocks - 1].a[4095] ^= (veil_u128_t)1 << 127;
        CHECK(veil_sq_ct_digest(&back, d2, &err) == 0);
        CHECK(memcmp(d1, d2, 32) != 0);
        veil_sq_ct_clear(&back);
        /* truncated, oversized, corrupted */
        CHECK(veil_sq_ct_deserialize(b.data, b.len - 1, &back, &err) == -1);
        CHECK_CONTAINS(err.msg, "truncated");
        CHECK(back.blocks == NULL);
        CHECK(veil_sq_ct_deserialize(b.data, 10, &back, &err) == -1);
        uint8_t *big = malloc(b.len + 1);
        memcpy(big, b.data, b.len);
        big[b.len] = 0;
        CHECK(veil_sq_ct_deserialize(big, b.len + 1, &back, &err) == -1);
        CHECK_CONTAINS(err.msg, "trailing");
        big[100] ^= 1;
        CHECK(veil_sq_ct_deserialize(big, b.len, &back, &err) == -1);
        CHECK_CONTAINS(err.msg, "corrupted");
        free(big);
        veil_buf_free(&b);
        veil_sq_ct_clear(&ct);
    }
    /* a wrong block count under a valid digest */
    veil_buf b;
    veil_buf_init(&b);
    size_t start = veil_fhe_container_begin(&b, VEIL_SQ_KIND_CT, 1);
    veil_buf_put_u32le(&b, 8);
    veil_buf_put_u32le(&b, 3);
    CHECK(veil_fhe_container_end(&b, start, &err) == 0);
    veil_sq_ct back;
    CHECK(veil_sq_ct_deserialize(b.data, b.len, &back, &err) == -1);
    CHECK_CONTAINS(err.msg, "3 blocks");
    /* packed 8 bits in 4 blocks (the unpacked count), an unknown encoding */
    veil_buf_reset(&b);
    start = veil_fhe_container_begin(&b, VEIL_SQ_KIND_CT, 1);
    veil_buf_put_u16le(&b, 8);
    veil_buf_put_u16le(&b, VEIL_SQ_ENC_PACKED);
    veil_buf_put_u32le(&b, 4);
    CHECK(veil_fhe_container_end(&b, start, &err) == 0);
    CHECK(veil_sq_ct_deserialize(b.data, b.len, &back, &err) == -1);
    CHECK_CONTAINS(err.msg, "expected 2");
    veil_buf_reset(&b);
    start = veil_fhe_container_begin(&b, VEIL_SQ_KIND_CT, 1);
    veil_buf_put_u16le(&b, 8);
    veil_buf_put_u16le(&b, 7);
    veil_buf_put_u32le(&b, 4);
    CHECK(veil_fhe_container_end(&b, start, &err) == 0);
    CHECK(veil_sq_ct_deserialize(b.data, b.len, &back, &err) == -1);
    CHECK_CONTAINS(err.msg, "encoding 7");
    veil_buf_reset(&b);
    start = veil_fhe_container_begin(&b, VEIL_SQ_KIND_KEY, 1);
    CHECK(veil_fhe_container_end(&b, start, &err) == 0);
    CHECK(veil_sq_ct_deserialize(b.data, b.len, &back, &err) == -1);
    CHECK_CONTAINS(err.msg, "holds a squashing key");
    veil_sq_key *key = NULL;
    CHECK(veil_sq_key_deserialize(b.data, b.len, 1, &key, &err) == -1);
    CHECK_CONTAINS(err.msg, "truncated");
    veil_buf_reset(&b);
    start = veil_fhe_container_begin(&b, VEIL_SQ_KIND_KEY, 1);
    for (int i = 0; i < 6; i++)
        veil_buf_put_u32le(&b, 1);
    CHECK(veil_fhe_container_end(&b, start, &err) == 0);
    CHECK(veil_sq_key_deserialize(b.data, b.len, 1, &key, &err) == -1);
    CHECK_CONTAINS(err.msg, "parameters");
    CHECK(key == NULL);
    veil_buf_free(&b);
}

VTEST_MAIN(VTEST(test_ntt_products), VTEST(test_code_paths_identical), VTEST(test_decompose),
           VTEST(test_toy_pbs), VTEST(test_cmux_paths_and_threads), VTEST(test_decode_recompose),
           VTEST(test_ct_serialization))
