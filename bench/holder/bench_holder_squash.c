// SPDX-License-Identifier: Apache-2.0
/*
 * bench_holder_squash.c - what a batch round adds to a key holder's work
 * (issue 20, docs/BENCHMARKS.md "Threshold batch rounds"): the squash of a
 * scheduler output of k (index, found) pairs - an FheUint8 node index and
 * the FheBool found bit per replica - by veil_holder_squash_pairs, the code
 * the holders run (three pairs per pass over the squashing key), for k = 1
 * up to K. One JSON line: per k the minimum and median wall time and the
 * smallest CPU time of `reps` squashes, the squashed blocks, and the 1-minute
 * load average (the machine may be shared: read CPU next to wall).
 * Usage: bench_holder_squash [reps] [threads] [K]   (defaults 3, 2, 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <veil/fhe.h>
#include <veil/squash.h>

#include "daemon_holder.h"

#define MAX_REPS  16
#define MAX_PAIRS 8

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_holder_squash: %s\n", err->msg);
    return 1;
}

struct timing {
    double min_s, med_s, cpu_s;
    uint32_t blocks;
};

/* reps squashes of the first k pairs. */
static int time_pairs(const veil_sq_key *key, veil_fhe_server *sk, veil_fhe_ct *const *ci,
                      veil_fhe_ct *const *cf, uint32_t k, int reps, struct timing *t, veil_err *err)
{
    double wall[MAX_REPS];
    t->cpu_s = 1e9;
    for (int r = 0; r < reps; r++) {
        veil_sq_ct out[2 * MAX_PAIRS] = {0};
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        int rc = veil_holder_squash_pairs(key, sk, ci, cf, k, out, err);
        wall[r] = clock_s(CLOCK_MONOTONIC) - w0;
        double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        t->cpu_s = cpu < t->cpu_s ? cpu : t->cpu_s;
        t->blocks = 0;
        for (uint32_t i = 0; i < 2 * k; i++) {
            t->blocks += out[i].nblocks;
            veil_sq_ct_clear(&out[i]);
        }
        if (rc != 0)
            return -1;
    }
    qsort(wall, (size_t)reps, sizeof *wall, cmp_double);
    t->min_s = wall[0];
    t->med_s = wall[reps / 2];
    return 0;
}

static double loadavg(void)
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

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    int kmax = argc > 3 ? atoi(argv[3]) : 3;
    if (reps < 1 || reps > MAX_REPS || threads < 1 || kmax < 1 || kmax > MAX_PAIRS) {
        fprintf(stderr, "usage: bench_holder_squash [reps 1..%d] [threads] [K 1..%d]\n", MAX_REPS,
                MAX_PAIRS);
        return 2;
    }
    veil_err err = {0};
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    veil_sq_secret secret;
    veil_sq_key *key = NULL;
    veil_fhe_ct *ci[MAX_PAIRS] = {0}, *cf[MAX_PAIRS] = {0};
    if (veil_fhe_keygen(&ck, &sk, NULL, threads, &err) < 0 ||
        veil_sq_keygen(ck, NULL, threads, &secret, &key, &err) < 0)
        return die(&err);
    veil_memzero(&secret, sizeof secret);
    for (int j = 0; j < kmax; j++)
        if (veil_fhe_encrypt(ck, 8, (uint64_t)(0x11 * (j + 1)), &ci[j], &err) < 0 ||
            veil_fhe_encrypt(ck, 1, 1, &cf[j], &err) < 0)
            return die(&err);
    if (veil_sq_key_set_threads(key, threads, &err) < 0)
        return die(&err);
    printf("{\"bench\":\"holder_squash\",\"reps\":%d,\"threads\":%u,\"pairs\":[", reps, threads);
    for (int k = 1; k <= kmax; k++) {
        struct timing t = {0};
        if (time_pairs(key, sk, ci, cf, (uint32_t)k, reps, &t, &err) < 0)
            return die(&err);
        printf("%s{\"k\":%d,\"blocks\":%u,\"min_s\":%.3f,\"med_s\":%.3f,\"cpu_s\":%.3f}",
               k > 1 ? "," : "", k, t.blocks, t.min_s, t.med_s, t.cpu_s);
        fflush(stdout);
    }
    printf("],\"loadavg_1m\":%.2f}\n", loadavg());
    for (int j = 0; j < kmax; j++) {
        veil_fhe_ct_free(ci[j]);
        veil_fhe_ct_free(cf[j]);
    }
    veil_sq_key_free(key);
    veil_fhe_server_free(sk);
    veil_fhe_client_free(ck);
    return 0;
}
