// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_core.c - fast tests of the TFHE core (core/): CSPRNG streams and
 * samplers, gadget decomposition, polynomial arithmetic against a naive
 * reference, the negacyclic FFT, LWE/GLWE encryption, sample extraction,
 * keyswitching, external product and PBS on small toy shapes, the thread
 * pool and the parameter table. Full-size PBS tests are in test_fhe_pbs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fft.h"
#include "core/lwe.h"
#include "core/pbs.h"
#include "core/rng.h"
#include "params.h"
#include "threadpool.h"
#include "vtest.h"

static const uint8_t seed_a[32] = {0xa5, 1, 2, 3};

static void test_rng_streams(void)
{
    struct veil_fhe_rng r1, r2, r3;
    veil_fhe_rng_init(&r1, seed_a, 5);
    veil_fhe_rng_init(&r2, seed_a, 5);
    veil_fhe_rng_init(&r3, seed_a, 6);
    uint64_t a[600], b[600], c[600];
    veil_fhe_rng_uniform(&r1, a, 600);
    veil_fhe_rng_uniform(&r2, b, 600);
    veil_fhe_rng_uniform(&r3, c, 600);
    CHECK_EQ_MEM(a, b, sizeof a);
    CHECK(memcmp(a, c, sizeof a) != 0);
    /* Two fresh random streams differ. */
    struct veil_fhe_rng x, y;
    veil_fhe_rng_init_random(&x);
    veil_fhe_rng_init_random(&y);
    CHECK(veil_fhe_rng_u64(&x) != veil_fhe_rng_u64(&y));
    veil_fhe_rng_wipe(&x);
    veil_fhe_rng_wipe(&y);
}

static void test_tuniform(void)
{
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 1);
    const unsigned b = 3;
    long counts[17] = {0};
    const int total = 200000;
    double sum_sq = 0;
    for (int i = 0; i < total; i++) {
        int64_t v = (int64_t)veil_fhe_rng_tuniform(&r, b);
        CHECK(v >= -8 && v <= 8);
        if (v < -8 || v > 8)
            return;
        counts[v + 8]++;
        sum_sq += (double)(v * v);
    }
    /* Ends at half weight: 1/32 each, interior 1/16 each. */
    CHECK(fabs((double)counts[0] / total - 1.0 / 32) < 0.004);
    CHECK(fabs((double)counts[16] / total - 1.0 / 32) < 0.004);
    CHECK(fabs((double)counts[8] / total - 1.0 / 16) < 0.005);
    double var = sum_sq / total;
    CHECK(fabs(var / veil_fhe_tuniform_variance(b) - 1.0) < 0.03);
    /* Binary keys are 0/1 and balanced. */
    uint64_t bits[4096];
    veil_fhe_rng_binary(&r, bits, 4096);
    int ones = 0;
    for (int i = 0; i < 4096; i++) {
        CHECK(bits[i] <= 1);
        ones += (int)bits[i];
    }
    CHECK(ones > 1800 && ones < 2300);
}

static void test_decomposition(void)
{
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 2);
    const unsigned shapes[][2] = {{4, 4}, {23, 1}, {10, 2}, {8, 8}, {2, 3}};
    for (size_t s = 0; s < 5; s++) {
        unsigned bl = shapes[s][0], lv = shapes[s][1];
        double digit_sum[64] = {0};
        const int count = 20000;
        for (int i = 0; i < count; i++) {
            uint64_t v = veil_fhe_rng_u64(&r);
            if (i == 0)
                v = UINT64_MAX;
            int64_t d[64];
            veil_fhe_decompose(v, bl, lv, d);
            uint64_t sum = 0;
            for (unsigned t = 0; t < lv; t++) {
                CHECK(d[t] >= -(INT64_C(1) << (bl - 1)) && d[t] <= (INT64_C(1) << (bl - 1)));
                digit_sum[t] += (double)d[t];
                /* d[t] is the level (lv - t), weight 2^(64 - (lv-t)*bl). */
                sum += (uint64_t)d[t] << (64 - (lv - t) * bl);
            }
            unsigned keep = bl * lv;
            uint64_t closest = veil_fhe_decomp_round(v, bl, lv) << (64 - keep);
            CHECK_EQ_U64(sum, closest);
            /* The rounding error is at most half a step. */
            int64_t err = (int64_t)(v - closest);
            uint64_t mag = err < 0 ? (uint64_t)0 - (uint64_t)err : (uint64_t)err;
            if (keep < 64)
                CHECK(mag <= (UINT64_C(1) << (63 - keep)));
        }
        /* Zero-mean digits (ties split both ways): the mean of uniform digits
         * has a standard error of about B / sqrt(12 * count). */
        for (unsigned t = 0; t < lv; t++) {
            double mean = digit_sum[t] / count;
            double se = (double)(UINT64_C(1) << bl) / sqrt(12.0 * count);
            CHECK(fabs(mean) < 5 * se);
        }
    }
    /* Ties both ways: 2^63 - 2^40 rounds (base 2^23, one level) to the tie
     * 2^22 from below, 2^63 + 2^39 from above. */
    int64_t one[1];
    veil_fhe_decompose((UINT64_C(1) << 63) - (UINT64_C(1) << 39), 23, 1, one);
    CHECK_EQ_INT(one[0], INT64_C(1) << 22);
    veil_fhe_decompose((UINT64_C(1) << 63) + (UINT64_C(1) << 39), 23, 1, one);
    CHECK_EQ_INT(one[0], -(INT64_C(1) << 22));
    /* Modulus switch rounds to the nearest multiple of 2^64/2N. */
    CHECK_EQ_U64(veil_fhe_mod_switch(0, 12), 0);
    CHECK_EQ_U64(veil_fhe_mod_switch(UINT64_C(1) << 52, 12), 1);
    CHECK_EQ_U64(veil_fhe_mod_switch((UINT64_C(1) << 51) - 1, 12), 0);
    CHECK_EQ_U64(veil_fhe_mod_switch(UINT64_MAX, 12), 0);
}

/* Naive negacyclic product, any a and b. */
static void naive_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    memset(out, 0, n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            uint64_t prod = a[i] * b[j];
            if (i + j < n)
                out[i + j] += prod;
            else
                out[i + j - n] -= prod;
        }
}

static void test_poly_arith(void)
{
    const size_t n = 64;
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 3);
    uint64_t a[64], s[64], want[64], got[64], rot[64], xr[64];
    veil_fhe_rng_uniform(&r, a, n);
    veil_fhe_rng_binary(&r, s, n);
    naive_mul(want, a, s, n);
    veil_fhe_poly_mul_binary(got, a, s, n);
    CHECK_EQ_MEM(got, want, sizeof got);
    for (size_t rr = 0; rr < 2 * n; rr += 13) {
        veil_fhe_poly_rotate(rot, a, n, rr);
        memset(xr, 0, sizeof xr);
        uint64_t mono[64] = {0};
        if (rr < n)
            mono[rr] = 1;
        else
            mono[rr - n] = UINT64_MAX; /* X^r = -X^(r-N) */
        naive_mul(xr, mono, a, n);
        CHECK_EQ_MEM(rot, xr, sizeof rot);
    }
}

static void test_fft_product(void)
{
    veil_err err = {0};
    const struct veil_fhe_fft *f = NULL;
    CHECK(veil_fhe_fft_get(100, &f, &err) < 0);
    CHECK(veil_fhe_fft_get(64, &f, &err) < 0);
    CHECK(veil_fhe_fft_get(128, &f, &err) == 0);
    const size_t n = 128;
    double *fa = veil_fhe_aligned_alloc(n * 8), *fb = veil_fhe_aligned_alloc(n * 8),
           *acc = veil_fhe_aligned_alloc(n * 8), *tmp = veil_fhe_aligned_alloc(n * 8);
    int64_t a[128];
    uint64_t b[128], want[128], got[128];
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 4);
    for (size_t i = 0; i < n; i++) {
        a[i] = (int64_t)(veil_fhe_rng_u64(&r) % 2001) - 1000;
        b[i] = (veil_fhe_rng_u64(&r) % 2001) - 1000;
    }
    naive_mul(want, (const uint64_t *)(const void *)a, b, n);
    veil_fhe_fft_forward_i64(f, fa, a, tmp);
    veil_fhe_fft_forward_torus(f, fb, b, tmp);
    memset(acc, 0, n * 8);
    veil_fhe_fourier_mul_acc(n, acc, fa, fb);
    memset(got, 0, sizeof got);
    veil_fhe_fft_backward_add(f, got, acc, tmp);
    CHECK_EQ_MEM(got, want, sizeof got); /* small values: exact */

    /* N = 512: the row FFTs have no final radix-2 stage (log2 R even). */
    {
        const size_t n5 = 512;
        const struct veil_fhe_fft *f5 = NULL;
        CHECK(veil_fhe_fft_get(n5, &f5, &err) == 0);
        double *xa = veil_fhe_aligned_alloc(n5 * 8), *xb = veil_fhe_aligned_alloc(n5 * 8),
               *xacc = veil_fhe_aligned_alloc(n5 * 8), *xtmp = veil_fhe_aligned_alloc(n5 * 8);
        int64_t *ia = malloc(n5 * 8);
        uint64_t *ib = malloc(n5 * 8), *iw = malloc(n5 * 8), *ig = calloc(n5, 8);
        for (size_t i = 0; i < n5; i++) {
            ia[i] = (int64_t)(veil_fhe_rng_u64(&r) % 2001) - 1000;
            ib[i] = (veil_fhe_rng_u64(&r) % 2001) - 1000;
        }
        naive_mul(iw, (const uint64_t *)(const void *)ia, ib, n5);
        veil_fhe_fft_forward_i64(f5, xa, ia, xtmp);
        veil_fhe_fft_forward_torus(f5, xb, ib, xtmp);
        memset(xacc, 0, n5 * 8);
        veil_fhe_fourier_mul_acc(n5, xacc, xa, xb);
        veil_fhe_fft_backward_add(f5, ig, xacc, xtmp);
        CHECK_EQ_MEM(ig, iw, n5 * 8);
        veil_fhe_aligned_free(xa);
        veil_fhe_aligned_free(xb);
        veil_fhe_aligned_free(xacc);
        veil_fhe_aligned_free(xtmp);
        free(ia);
        free(ib);
        free(iw);
        free(ig);
    }

    /* Full size, PBS magnitudes (digits 2^22 x torus words): close, not exact. */
    const size_t N = 2048;
    CHECK(veil_fhe_fft_get(N, &f, &err) == 0);
    double *ga = veil_fhe_aligned_alloc(N * 8), *gb = veil_fhe_aligned_alloc(N * 8),
           *gacc = veil_fhe_aligned_alloc(N * 8), *gtmp = veil_fhe_aligned_alloc(N * 8);
    int64_t *da = malloc(N * 8);
    uint64_t *tb = malloc(N * 8), *gwant = malloc(N * 8), *ggot = calloc(N, 8);
    for (size_t i = 0; i < N; i++) {
        da[i] = (int64_t)(veil_fhe_rng_u64(&r) >> 41) - (INT64_C(1) << 22);
        tb[i] = veil_fhe_rng_u64(&r);
    }
    naive_mul(gwant, (const uint64_t *)(const void *)da, tb, N);
    veil_fhe_fft_forward_i64(f, ga, da, gtmp);
    veil_fhe_fft_forward_torus(f, gb, tb, gtmp);
    memset(gacc, 0, N * 8);
    veil_fhe_fourier_mul_acc(N, gacc, ga, gb);
    veil_fhe_fft_backward_add(f, ggot, gacc, gtmp);
    uint64_t worst = 0;
    for (size_t i = 0; i < N; i++) {
        int64_t e = (int64_t)(ggot[i] - gwant[i]);
        uint64_t m = e < 0 ? (uint64_t)0 - (uint64_t)e : (uint64_t)e;
        if (m > worst)
            worst = m;
    }
    fprintf(stderr, "FFT product worst error 2^%.1f\n", log2((double)worst + 1));
    CHECK(worst < (UINT64_C(1) << 50)); /* vs a 2^64 torus; PBS model says ~2^44 */
    veil_fhe_aligned_free(fa);
    veil_fhe_aligned_free(fb);
    veil_fhe_aligned_free(acc);
    veil_fhe_aligned_free(tmp);
    veil_fhe_aligned_free(ga);
    veil_fhe_aligned_free(gb);
    veil_fhe_aligned_free(gacc);
    veil_fhe_aligned_free(gtmp);
    free(da);
    free(tb);
    free(gwant);
    free(ggot);
}

static int64_t torus_diff(uint64_t a, uint64_t b)
{
    return (int64_t)(a - b);
}

static void test_lwe_glwe(void)
{
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 7);
    const size_t n = 100;
    uint64_t key[100], ct[101];
    veil_fhe_rng_binary(&r, key, n);
    const uint64_t mu = UINT64_C(5) << 59;
    veil_fhe_lwe_encrypt(ct, key, n, mu, 20, &r, &r);
    CHECK(llabs(torus_diff(veil_fhe_lwe_phase(ct, key, n), mu)) <= (INT64_C(1) << 20));

    /* GLWE k=2, N=64: phase = message + small noise; extraction gives coefficient 0. */
    const size_t k = 2, N = 64;
    uint64_t gkey[128], msg[64], gct[192], phase[64], lwe[129];
    veil_fhe_rng_binary(&r, gkey, k * N);
    for (size_t i = 0; i < N; i++)
        msg[i] = (uint64_t)i << 58;
    veil_fhe_glwe_encrypt(gct, gkey, k, N, msg, 10, &r, &r);
    veil_fhe_glwe_phase(phase, gct, gkey, k, N);
    for (size_t i = 0; i < N; i++)
        CHECK(llabs(torus_diff(phase[i], msg[i])) <= 1024);
    veil_fhe_glwe_sample_extract(lwe, gct, k, N);
    CHECK(llabs(torus_diff(veil_fhe_lwe_phase(lwe, gkey, k * N), msg[0])) <= 1024);
    /* extraction of any coefficient */
    for (size_t idx = 0; idx < N; idx += 7) {
        veil_fhe_glwe_sample_extract_at(lwe, gct, k, N, idx);
        CHECK(llabs(torus_diff(veil_fhe_lwe_phase(lwe, gkey, k * N), msg[idx])) <= 1024);
    }
}

static void test_keyswitch(void)
{
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 8);
    const size_t in_dim = 256, out_dim = 64;
    const unsigned bl = 4, lv = 4;
    uint64_t *in_key = malloc(in_dim * 8), *out_key = malloc(out_dim * 8);
    uint64_t *ksk = malloc(in_dim * lv * (out_dim + 1) * 8);
    uint32_t *ksk32 = malloc(in_dim * lv * (out_dim + 1) * 4);
    veil_fhe_rng_binary(&r, in_key, in_dim);
    veil_fhe_rng_binary(&r, out_key, out_dim);
    for (size_t i = 0; i < in_dim; i++)
        for (unsigned j = 0; j < lv; j++) {
            uint64_t *row = ksk + (i * lv + j) * (out_dim + 1);
            veil_fhe_lwe_encrypt(row, out_key, out_dim, in_key[i] << (64 - (j + 1) * bl), 30, &r,
                                 &r);
            for (size_t c = 0; c <= out_dim; c++)
                ksk32[(i * lv + j) * (out_dim + 1) + c] = veil_fhe_round_to_u32(row[c]);
        }
    uint64_t ct[257], out[65], out32[65];
    uint32_t acc[65];
    for (uint64_t m = 0; m < 16; m++) {
        veil_fhe_lwe_encrypt(ct, in_key, in_dim, m << 59, 20, &r, &r);
        veil_fhe_lwe_keyswitch(out, ct, ksk, in_dim, out_dim, bl, lv);
        veil_fhe_lwe_keyswitch32(out32, ct, ksk32, in_dim, out_dim, bl, lv, acc);
        /* Decomposition keeps 16 bits: error <= in_dim/2 * 2^47 plus KSK noise. */
        int64_t e = torus_diff(veil_fhe_lwe_phase(out, out_key, out_dim), m << 59);
        int64_t e32 = torus_diff(veil_fhe_lwe_phase(out32, out_key, out_dim), m << 59);
        CHECK(llabs(e) < (INT64_C(1) << 56));
        CHECK(llabs(e32) < (INT64_C(1) << 56));
        CHECK(llabs(e - e32) < (INT64_C(1) << 44)); /* 32-bit key rounding is negligible */
        /* The batch keyswitch cut into word ranges (as the pool runs it) gives
         * the same words as the whole one, whatever the cuts. */
        static const size_t cuts[][4] = {
            {0, 65, 65, 65}, {0, 16, 48, 65}, {0, 1, 64, 65}, {0, 32, 32, 65}};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            uint64_t part[65];
            uint32_t pacc[65];
            uint64_t *outs[1] = {part};
            const uint64_t *ins[1] = {ct};
            uint32_t *accs[1] = {pacc};
            memset(part, 0xa5, sizeof part);
            for (size_t t = 0; t < 3; t++)
                veil_fhe_lwe_keyswitch32_batch_range(outs, ins, 1, ksk32, in_dim, out_dim, bl, lv,
                                                     accs, cuts[k][t], cuts[k][t + 1]);
            CHECK_EQ_MEM(part, out32, sizeof part);
        }
    }
    free(in_key);
    free(out_key);
    free(ksk);
    free(ksk32);
}

/* Toy PBS: n=16 small key, GLWE dimension k, N=256, 4 messages with a
 * padding bit. */
static void toy_pbs(size_t k, unsigned base_log, unsigned level)
{
    struct veil_fhe_bsk_shape s = {
        .lwe_dim = 16, .k = k, .poly = 256, .base_log = base_log, .level = level};
    const struct veil_fhe_fft *f = NULL;
    CHECK(veil_fhe_fft_get(s.poly, &f, NULL) == 0);
    struct veil_fhe_rng r;
    veil_fhe_rng_init(&r, seed_a, 9);
    uint64_t small[16], glwe_key[512];
    veil_fhe_rng_binary(&r, small, 16);
    veil_fhe_rng_binary(&r, glwe_key, k * 256);
    const size_t gw = veil_fhe_ggsw_words(&s);
    uint64_t *ggsw = malloc(gw * 8);
    double *bsk = veil_fhe_aligned_alloc(s.lwe_dim * gw * 8),
           *tmp = veil_fhe_aligned_alloc(256 * 8);
    for (size_t i = 0; i < s.lwe_dim; i++) {
        veil_fhe_ggsw_encrypt(ggsw, &s, glwe_key, small[i], 17, &r, &r);
        veil_fhe_ggsw_to_fourier(f, &s, bsk + i * gw, ggsw, tmp);
    }
    /* LUT f(x) = (x + 1) mod 4 over boxes of N/4, centred by half a box. */
    const uint64_t delta = UINT64_C(1) << 61;
    uint64_t lut[768] = {0}, raw[256];
    for (size_t i = 0; i < 256; i++)
        raw[i] = (((i / 64) + 1) % 4) * delta;
    for (size_t j = 0; j < 256; j++)
        lut[k * 256 + j] = j + 32 < 256 ? raw[j + 32] : (uint64_t)0 - raw[j + 32 - 256];
    struct veil_fhe_pbs_scratch sc;
    CHECK(veil_fhe_pbs_scratch_init(&sc, &s, NULL) == 0);
    uint64_t in[17], out[513];
    for (int rep = 0; rep < 3; rep++)
        for (uint64_t m = 0; m < 4; m++) {
            veil_fhe_lwe_encrypt(in, small, 16, m * delta, 40, &r, &r);
            veil_fhe_pbs(f, &s, bsk, in, lut, out, &sc);
            uint64_t ph = veil_fhe_lwe_phase(out, glwe_key, k * 256);
            uint64_t dec = ((ph + delta / 2) / delta) % 4;
            CHECK_EQ_U64(dec, (m + 1) % 4);
            CHECK(llabs(torus_diff(ph, ((m + 1) % 4) * delta)) < (INT64_C(1) << 50));
        }
    veil_fhe_pbs_scratch_free(&sc);
    free(ggsw);
    veil_fhe_aligned_free(bsk);
    veil_fhe_aligned_free(tmp);
}

static void test_toy_pbs(void)
{
    toy_pbs(1, 23, 1); /* the fused k=1, level-1 path */
    toy_pbs(1, 12, 2); /* the generic path: two levels */
    toy_pbs(2, 20, 1); /* the generic path: k = 2 */
}

struct pool_job {
    unsigned *hits;
    struct veil_threadpool *pool;
    unsigned *inner;
};

static void count_item(void *arg, size_t i)
{
    struct pool_job *job = arg;
    job->hits[i] += 1;
}

static void inner_item(void *arg, size_t i)
{
    unsigned *c = arg;
    c[i] += 1;
}

static void nested_item(void *arg, size_t i)
{
    struct pool_job *job = arg;
    job->hits[i] += 1;
    veil_threadpool_for(job->pool, 4, inner_item, job->inner + 4 * i);
}

static void test_threadpool(void)
{
    veil_err err = {0};
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct veil_threadpool *pool = NULL;
        CHECK(veil_threadpool_create(&pool, threads, &err) == 0);
        CHECK_EQ_INT(veil_threadpool_size(pool), threads);
        unsigned hits[1000] = {0}, inner[40] = {0};
        struct pool_job job = {hits, pool, inner};
        for (int round = 0; round < 5; round++)
            veil_threadpool_for(pool, 1000, count_item, &job);
        int ok = 1;
        for (int i = 0; i < 1000; i++)
            ok &= hits[i] == 5;
        CHECK(ok);
        veil_threadpool_for(pool, 10, nested_item, &job);
        ok = 1;
        for (int i = 0; i < 40; i++)
            ok &= inner[i] == 1;
        CHECK(ok);
        veil_threadpool_for(pool, 0, count_item, &job);
        veil_threadpool_destroy(pool);
    }
    unsigned hits[3] = {0};
    struct pool_job job = {hits, NULL, NULL};
    veil_threadpool_for(NULL, 3, count_item, &job);
    CHECK(hits[0] == 1 && hits[2] == 1);
    CHECK_EQ_INT(veil_threadpool_size(NULL), 1);
    setenv("VEIL_THREADS", "3", 1);
    struct veil_threadpool *pool = NULL;
    CHECK(veil_threadpool_create(&pool, 0, &err) == 0);
    CHECK_EQ_INT(veil_threadpool_size(pool), 3);
    veil_threadpool_destroy(pool);
    unsetenv("VEIL_THREADS");
}

static void test_params(void)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    CHECK_EQ_INT(p->lwe_dim, 918);
    CHECK_EQ_INT(p->glwe_dim, 1);
    CHECK_EQ_INT(p->poly_size, 2048);
    CHECK_EQ_INT(p->lwe_noise_log2, 45);
    CHECK_EQ_INT(p->glwe_noise_log2, 17);
    CHECK_EQ_INT(p->pbs_base_log, 23);
    CHECK_EQ_INT(p->pbs_level, 1);
    CHECK_EQ_INT(p->ks_base_log, 4);
    CHECK_EQ_INT(p->ks_level, 4);
    CHECK_EQ_U64(p->message_modulus, 4);
    CHECK_EQ_U64(p->carry_modulus, 4);
    CHECK_EQ_INT(p->max_noise_level, 5);
    CHECK_EQ_U64(veil_fhe_delta(p), UINT64_C(1) << 59);
    CHECK(veil_fhe_params_by_id(p->id) == p);
    CHECK(veil_fhe_params_by_id(999) == NULL);
    veil_err err = {0};
    const struct veil_fhe_params *q = NULL;
    CHECK(veil_fhe_params_lookup(999, &q, &err) < 0);
    CHECK_CONTAINS(err.msg, "unknown FHE parameter set");
}

VTEST_MAIN(VTEST(test_rng_streams), VTEST(test_tuniform), VTEST(test_decomposition),
           VTEST(test_poly_arith), VTEST(test_fft_product), VTEST(test_lwe_glwe),
           VTEST(test_keyswitch), VTEST(test_toy_pbs), VTEST(test_threadpool), VTEST(test_params))
