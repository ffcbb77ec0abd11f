// SPDX-License-Identifier: Apache-2.0
/*
 * bench_threshold.c - threshold decryption figures printed as JSON lines,
 * one per (n, t) in {(4, 1), (7, 2), (13, 4)} and squashed encoding: dealing
 * time, sealed share, public material and partial sizes, one holder's
 * partial decryption of a scheduler output (the FheUint8 node index and the
 * FheBool "found" bit: 5 squashed blocks, or 3 packed), combining n partials
 * (all honest, and with t liars), and partial + combine. Times are medians
 * on one thread (wall clock).
 * Usage: bench_threshold [iterations]   (default 20)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "th_test_util.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The scheduler output: an FheUint8 index (4 blocks) and an FheBool (1 block),
 * squashed, as one 5-block ciphertext list; combined as two integers. */
struct sched_output {
    veil_sq_ct index, found;
};

static double time_partials(struct th_fixture *f, const struct sched_output *o,
                            veil_th_partial (*parts)[VEIL_TH_MAX_HOLDERS], int iters)
{
    double *t = calloc((size_t)iters, sizeof *t);
    veil_err err = {0};
    for (int k = 0; k < iters; k++) {
        double t0 = now_s();
        if (veil_th_partial_decrypt(f->share[0], &o->index, &parts[0][0], &err) != 0 ||
            veil_th_partial_decrypt(f->share[0], &o->found, &parts[1][0], &err) != 0)
            fprintf(stderr, "partial: %s\n", err.msg);
        t[k] = now_s() - t0;
    }
    for (unsigned i = 1; i < f->n; i++)
        if (veil_th_partial_decrypt(f->share[i], &o->index, &parts[0][i], &err) != 0 ||
            veil_th_partial_decrypt(f->share[i], &o->found, &parts[1][i], &err) != 0)
            fprintf(stderr, "partial: %s\n", err.msg);
    double m = median(t, iters);
    free(t);
    return m;
}

static double time_combine(struct th_fixture *f, const struct sched_output *o,
                           veil_th_partial (*parts)[VEIL_TH_MAX_HOLDERS], int iters)
{
    double *t = calloc((size_t)iters, sizeof *t);
    veil_err err = {0};
    veil_th_result r1, r2;
    for (int k = 0; k < iters; k++) {
        double t0 = now_s();
        if (veil_th_combine(&f->pub, &o->index, parts[0], f->n, &r1, &err) != 0 ||
            veil_th_combine(&f->pub, &o->found, parts[1], f->n, &r2, &err) != 0 || r1.value != 77 ||
            r2.value != 1)
            fprintf(stderr, "combine: %s\n", err.msg);
        t[k] = now_s() - t0;
    }
    double m = median(t, iters);
    free(t);
    return m;
}

static void bench_shape(unsigned n, unsigned t, int packed, int iters)
{
    struct th_fixture f;
    double t0 = now_s();
    if (th_fixture_init(&f, n, t) != 0)
        return;
    double deal_s = now_s() - t0; /* dealing + opening every share */
    struct sched_output o;
    const int made = packed ? th_test_encrypt_packed(&f.secret, 8, 77, &o.index)
                            : th_test_encrypt(&f.secret, 8, 77, NULL, &o.index);
    if (made != 0 || th_test_encrypt(&f.secret, 1, 1, NULL, &o.found) != 0)
        return;
    static veil_th_partial parts[2][VEIL_TH_MAX_HOLDERS];
    double partial_s = time_partials(&f, &o, parts, iters);
    double combine_s = time_combine(&f, &o, parts, iters);
    /* t liars: holders 1..t compute with wrong key shares and sign the result */
    veil_err err = {0};
    for (unsigned i = 0; i < t; i++) {
        for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j += 11)
            f.share[i]->s[j].c[j % 4] += (veil_u128)1 << (j % 128);
        if (veil_th_partial_decrypt(f.share[i], &o.index, &parts[0][i], &err) != 0 ||
            veil_th_partial_decrypt(f.share[i], &o.found, &parts[1][i], &err) != 0)
            fprintf(stderr, "partial: %s\n", err.msg);
    }
    double liar_s = time_combine(&f, &o, parts, iters);
    veil_buf b;
    veil_buf_init(&b);
    size_t partial_bytes = 0, public_bytes = 0;
    if (veil_th_partial_serialize(&parts[0][n - 1], &b, &err) == 0)
        partial_bytes = b.len;
    veil_buf_reset(&b);
    if (veil_th_partial_serialize(&parts[1][n - 1], &b, &err) == 0)
        partial_bytes += b.len;
    veil_buf_reset(&b);
    if (veil_th_public_serialize(&f.pub, &b, &err) == 0)
        public_bytes = b.len;
    veil_buf_free(&b);
    printf("{\"bench\":\"threshold\",\"n\":%u,\"t\":%u,\"encoding\":\"%s\",\"blocks\":%u,"
           "\"deal_and_open_s\":%.4f,"
           "\"partial_ms\":%.3f,\"combine_ms\":%.3f,\"combine_t_liars_ms\":%.3f,"
           "\"partial_plus_combine_ms\":%.3f,\"sealed_share_bytes\":%zu,"
           "\"partial_bytes\":%zu,\"public_bytes\":%zu,\"prss_keys_per_holder\":%u}\n",
           n, t, packed ? "packed" : "blocks", o.index.nblocks + o.found.nblocks, deal_s,
           partial_s * 1e3, combine_s * 1e3, liar_s * 1e3, (partial_s + combine_s) * 1e3,
           f.sealed[0].len, partial_bytes, public_bytes, th_binom(n - 1, t));
    th_test_ct_free(&o.index);
    th_test_ct_free(&o.found);
    th_fixture_free(&f);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    if (iters < 1)
        iters = 1;
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0)
        return 1;
    static const unsigned shapes[][2] = {{4, 1}, {7, 2}, {13, 4}};
    for (size_t s = 0; s < VEIL_ARRAY_LEN(shapes); s++)
        for (int packed = 0; packed < 2; packed++)
            bench_shape(shapes[s][0], shapes[s][1], packed, iters);
    return 0;
}
