// SPDX-License-Identifier: Apache-2.0
/*
 * bench_jobs.c - wall time of one veil_shortint_apply_jobs() call (one level
 * of a radix-integer PBS graph) for 1..8 jobs, on the pool (VEIL_THREADS or
 * every core) and on the calling thread alone: the figures that decide how a
 * carry plan's levels cost. Prints one JSON line. Usage: bench_jobs [reps]
 * (default 9; median and minimum of the reps are printed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "keys.h"
#include "shortint.h"
#include "threadpool.h"

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

static uint64_t f_inc(uint64_t x, void *arg)
{
    (void)arg;
    return x + 1;
}

static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

enum { MAX_JOBS = 8 };

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    if (reps < 1 || reps > 1000)
        reps = 9;
    const struct veil_fhe_params *p = veil_fhe_params_default();
    veil_err err = {0};
    struct veil_threadpool *pool = NULL;
    struct veil_shortint_client_key *ck = NULL;
    struct veil_shortint_server_key *sk = NULL;
    struct veil_shortint_lut lut = {0};
    struct veil_shortint_ct cts[MAX_JOBS] = {0};
    struct veil_shortint_pbs_job jobs[MAX_JOBS] = {0};
    double *t = calloc((size_t)reps, sizeof *t);
    int correct = 1, rc = 1;
    if (!t || veil_threadpool_create(&pool, 0, &err) < 0 ||
        veil_fhe_client_key_generate(&ck, p, NULL, &err) < 0 ||
        veil_fhe_server_key_generate(&sk, ck, NULL, pool, &err) < 0 ||
        veil_shortint_lut_init(&lut, p, f_inc, NULL, &err) < 0)
        goto out;
    for (int i = 0; i < MAX_JOBS; i++) {
        if (veil_shortint_ct_init(&cts[i], p, &err) < 0)
            goto out;
        jobs[i].in = jobs[i].out = &cts[i];
        jobs[i].lut = &lut;
    }
    printf("{\"bench\": \"fhe_jobs\", \"threads\": %u, \"reps\": %d, \"loadavg_1m_at_start\": %.2f",
           veil_threadpool_size(pool), reps, loadavg1());
    for (int on_pool = 1; on_pool >= 0; on_pool--) {
        printf(", \"%s\": {", on_pool ? "pool" : "one_thread");
        for (int n = 1; n <= MAX_JOBS; n++) {
            for (int r = 0; r < reps; r++) {
                for (int i = 0; i < n; i++)
                    if (veil_shortint_encrypt(ck, (uint64_t)(i + r) % 8, &cts[i], &err) < 0)
                        goto out;
                double t0 = now_s();
                if (veil_shortint_apply_jobs(sk, jobs, (size_t)n, on_pool ? pool : NULL, &err) < 0)
                    goto out;
                t[r] = (now_s() - t0) * 1e3;
                for (int i = 0; i < n; i++)
                    correct &= veil_shortint_decrypt(ck, &cts[i]) == (uint64_t)(i + r) % 8 + 1;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            printf("%s\"%d\": {\"ms\": %.2f, \"best_ms\": %.2f}", n > 1 ? ", " : "", n,
                   reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2, t[0]);
        }
        printf("}");
    }
    printf(", \"loadavg_1m_at_end\": %.2f, \"correct\": %s}\n", loadavg1(),
           correct ? "true" : "false");
    rc = correct ? 0 : 1;
out:
    if (err.code)
        fprintf(stderr, "bench_jobs: %s\n", err.msg);
    for (int i = 0; i < MAX_JOBS; i++)
        veil_shortint_ct_free(&cts[i]);
    veil_shortint_lut_free(&lut);
    veil_fhe_server_key_free(sk);
    veil_fhe_client_key_free(ck);
    veil_threadpool_destroy(pool);
    free(t);
    return rc;
}
