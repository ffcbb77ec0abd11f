// SPDX-License-Identifier: Apache-2.0
/*
 * bench_pbs.c - TFHE core figures printed as JSON: key generation time
 * (client, server single-thread and on the pool), keyswitch, PBS and
 * KS+PBS latency on one thread (wall and thread-CPU time), a batch of 16
 * KS+PBS on one thread (CPU time per PBS) and on the pool, memory per key and
 * per ciphertext, and the size of every serialized object. Usage: bench_pbs
 * [iterations]   (default 50)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/lwe.h"
#include "core/pbs.h"
#include "keys.h"
#include "serialize.h"
#include "shortint.h"
#include "threadpool.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t f_double(uint64_t x, void *arg)
{
    (void)arg;
    return 2 * x;
}

/* CPU time of this thread: robust when other processes share the cores. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
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

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 50;
    if (iters < 1)
        iters = 1;
    const struct veil_fhe_params *p = veil_fhe_params_default();
    veil_err err = {0};
    struct veil_threadpool *pool = NULL;
    if (veil_threadpool_create(&pool, 0, &err) < 0) {
        fprintf(stderr, "bench_pbs: %s\n", err.msg);
        return 1;
    }
    struct veil_shortint_client_key *ck = NULL;
    struct veil_shortint_server_key *sk1 = NULL, *sk = NULL;
    double t0 = now_s();
    if (veil_fhe_client_key_generate(&ck, p, NULL, &err) < 0)
        goto fail;
    double t_ck = now_s() - t0;
    t0 = now_s();
    if (veil_fhe_server_key_generate(&sk1, ck, NULL, NULL, &err) < 0)
        goto fail;
    double t_sk1 = now_s() - t0;
    veil_fhe_server_key_free(sk1);
    t0 = now_s();
    if (veil_fhe_server_key_generate(&sk, ck, NULL, pool, &err) < 0)
        goto fail;
    double t_skn = now_s() - t0;

    struct veil_shortint_ct ct;
    struct veil_shortint_lut lut;
    struct veil_fhe_pbs_scratch sc;
    if (veil_shortint_ct_init(&ct, p, &err) < 0 ||
        veil_shortint_lut_init(&lut, p, f_double, NULL, &err) < 0 ||
        veil_fhe_pbs_scratch_init(&sc, &sk->bsk_shape, &err) < 0)
        goto fail;
    if (veil_shortint_encrypt(ck, 3, &ct, &err) < 0)
        goto fail;
    double *ks = malloc(sizeof(double) * (size_t)iters),
           *pbs = malloc(sizeof(double) * (size_t)iters),
           *both = malloc(sizeof(double) * (size_t)iters),
           *both_cpu = malloc(sizeof(double) * (size_t)iters);
    if (!ks || !pbs || !both || !both_cpu)
        goto fail;
    uint64_t *out = malloc((veil_fhe_big_lwe_dim(p) + 1) * sizeof(uint64_t));
    if (!out)
        goto fail;
    for (int i = 0; i < iters; i++) {
        t0 = now_s();
        veil_fhe_lwe_keyswitch32(sc.lwe, ct.data, sk->ksk32, veil_fhe_big_lwe_dim(p), p->lwe_dim,
                                 p->ks_base_log, p->ks_level, sc.ks_acc);
        double t1 = now_s();
        veil_fhe_pbs(sk->fft, &sk->bsk_shape, sk->bsk_fourier, sc.lwe, lut.acc, out, &sc);
        double t2 = now_s();
        ks[i] = (t1 - t0) * 1e3;
        pbs[i] = (t2 - t1) * 1e3;
    }
    int correct = 1;
    for (int i = 0; i < iters; i++) {
        if (veil_shortint_encrypt(ck, (uint64_t)i % 8, &ct, &err) < 0)
            goto fail;
        t0 = now_s();
        double c0 = cpu_s();
        if (veil_shortint_apply_lut(sk, &ct, &lut, &err) < 0)
            goto fail;
        both_cpu[i] = (cpu_s() - c0) * 1e3;
        both[i] = (now_s() - t0) * 1e3;
        correct &= veil_shortint_decrypt(ck, &ct) == (2 * ((uint64_t)i % 8)) % 16;
    }
    printf("{\"bench\": \"fhe_pbs\", \"params\": \"%s\", \"threads\": %u, "
           "\"iterations\": %d, ",
           p->name, veil_threadpool_size(pool), iters);
    printf("\"client_keygen_ms\": %.3f, \"server_keygen_1thread_ms\": %.1f, "
           "\"server_keygen_pool_ms\": %.1f, ",
           t_ck * 1e3, t_sk1 * 1e3, t_skn * 1e3);
    const double both_med = median(both, iters), both_min = both[0]; /* sorted by median() */
    printf("\"ks_ms_median\": %.3f, \"pbs_ms_median\": %.3f, "
           "\"ks_pbs_ms_median\": %.3f, "
           "\"ks_pbs_cpu_ms_median\": %.3f, \"ks_pbs_ms_min\": %.3f, ",
           median(ks, iters), median(pbs, iters), both_med, median(both_cpu, iters), both_min);
    size_t words = veil_fhe_big_lwe_dim(p) + 1;
    printf("\"server_key_memory_bytes\": %zu, \"client_key_memory_bytes\": %zu, "
           "\"shortint_ct_bytes\": %zu, \"small_lwe_ct_bytes\": %zu, "
           "\"public_key_memory_bytes\": %zu, \"compact_list_bytes\": %zu, ",
           veil_fhe_server_key_memory(p), (p->lwe_dim + veil_fhe_big_lwe_dim(p)) * sizeof(uint64_t),
           words * 8, ((size_t)p->lwe_dim + 1) * 8, 2 * veil_fhe_big_lwe_dim(p) * sizeof(uint64_t),
           2 * veil_fhe_big_lwe_dim(p) * sizeof(uint64_t));
    /* A batch of 16 independent KS+PBS on the pool (VEIL_THREADS or all cores).
     */
    enum { BATCH = 16 };
    struct veil_shortint_ct bct[BATCH];
    struct veil_shortint_ct *bptr[BATCH];
    const struct veil_shortint_lut *bl[BATCH];
    for (int i = 0; i < BATCH; i++) {
        if (veil_shortint_ct_init(&bct[i], p, &err) < 0 ||
            veil_shortint_encrypt(ck, (uint64_t)i % 8, &bct[i], &err) < 0)
            goto fail;
        bptr[i] = &bct[i];
        bl[i] = &lut;
    }
    double c_batch1 = cpu_s();
    if (veil_shortint_apply_lut_batch(sk, bptr, bl, BATCH, NULL, &err) < 0)
        goto fail;
    c_batch1 = cpu_s() - c_batch1;
    for (int i = 0; i < BATCH; i++)
        if (veil_shortint_encrypt(ck, (uint64_t)i % 8, &bct[i], &err) < 0)
            goto fail;
    t0 = now_s();
    if (veil_shortint_apply_lut_batch(sk, bptr, bl, BATCH, pool, &err) < 0)
        goto fail;
    double t_batch = now_s() - t0;
    for (int i = 0; i < BATCH; i++) {
        correct &= veil_shortint_decrypt(ck, &bct[i]) == (2 * ((uint64_t)i % 8)) % 16;
        veil_shortint_ct_free(&bct[i]);
    }
    printf("\"batch16_1thread_cpu_ms_per_pbs\": %.3f, ", c_batch1 * 1e3 / BATCH);
    printf("\"batch16_pool_ms\": %.1f, \"batch16_pbs_per_s\": %.1f, ", t_batch * 1e3,
           BATCH / t_batch);

    /* Serialized sizes. */
    struct veil_fhe_public_key *pk = NULL;
    struct veil_fhe_compact_list *list = NULL;
    uint64_t vals[8] = {1, 2, 3, 0, 1, 2, 3, 0};
    if (veil_fhe_public_key_generate(&pk, ck, NULL, &err) < 0 ||
        veil_fhe_compact_list_encrypt(&list, pk, vals, 8, &err) < 0)
        goto fail;
    veil_buf b;
    veil_buf_init(&b);
    size_t sz_ck, sz_sk, sz_pk, sz_list8, sz_block;
    t0 = now_s();
    veil_fhe_client_key_save(ck, &b, &err);
    sz_ck = b.len;
    veil_buf_reset(&b);
    veil_fhe_server_key_save(sk, &b, &err);
    sz_sk = b.len;
    double t_save = now_s() - t0;
    struct veil_shortint_server_key *loaded = NULL;
    t0 = now_s();
    if (veil_fhe_server_key_load(b.data, b.len, p, pool, &loaded, &err) < 0)
        goto fail;
    double t_load = now_s() - t0;
    veil_fhe_server_key_free(loaded);
    veil_buf_reset(&b);
    veil_fhe_public_key_save(pk, &b, &err);
    sz_pk = b.len;
    veil_buf_reset(&b);
    veil_fhe_compact_list_save(list, &b, &err);
    sz_list8 = b.len;
    veil_buf_reset(&b);
    veil_fhe_shortint_save(p, &ct, &b, &err);
    sz_block = b.len;
    veil_buf_free(&b);
    printf("\"file_bytes\": {\"client_key\": %zu, \"server_key\": %zu, "
           "\"public_key\": %zu, "
           "\"compact_list_8_blocks\": %zu, \"shortint_block\": %zu}, ",
           sz_ck, sz_sk, sz_pk, sz_list8, sz_block);
    printf("\"server_key_save_ms\": %.1f, \"server_key_load_pool_ms\": %.1f, ", t_save * 1e3,
           t_load * 1e3);
    veil_fhe_compact_list_free(list);
    veil_fhe_public_key_free(pk);
    printf("\"correct\": %s}\n", correct ? "true" : "false");
    free(ks);
    free(pbs);
    free(both);
    free(both_cpu);
    free(out);
    veil_fhe_pbs_scratch_free(&sc);
    veil_shortint_lut_free(&lut);
    veil_shortint_ct_free(&ct);
    veil_fhe_server_key_free(sk);
    veil_fhe_client_key_free(ck);
    veil_threadpool_destroy(pool);
    return correct ? 0 : 1;
fail:
    fprintf(stderr, "bench_pbs: %s\n", err.msg);
    return 1;
}
