// SPDX-License-Identifier: Apache-2.0
/*
 * bench_keys.h - what the scheduling benchmarks share: wall and CPU clocks
 * (CPU seconds of all threads: with other work on the cores, wall time
 * swings several-fold while CPU time stays near the idle figure, so the
 * JSON reports both) and the cluster's keys from a `veil fhe keygen`
 * directory (BENCH_THREADS worker threads for the server key, 0 = one per
 * core).
 */
#ifndef VEIL_BENCH_SCHEDULE_KEYS_H
#define VEIL_BENCH_SCHEDULE_KEYS_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <veil/fhe.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct keys {
    veil_fhe_public *pk;
    veil_fhe_server *sk;
    veil_fhe_client *ck;
};

static inline int load_keys(const char *dir, struct keys *k, veil_err *err)
{
    char path[4096];
    const char *th = getenv("BENCH_THREADS");
    snprintf(path, sizeof path, "%s/public.key", dir);
    if (veil_fhe_public_load(path, &k->pk, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/server.key", dir);
    if (veil_fhe_server_load(path, th ? (unsigned)atoi(th) : 0, &k->sk, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/client.key", dir);
    return veil_fhe_client_load(path, &k->ck, err);
}

#endif /* VEIL_BENCH_SCHEDULE_KEYS_H */
