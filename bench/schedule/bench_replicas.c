// SPDX-License-Identifier: Apache-2.0
/*
 * bench_replicas.c - replicas of one job placed in one evaluation (issue 20):
 * N encrypted keys (as a round's key step leaves them: a score below 2^13,
 * some flagged infeasible), K replicas by veil_fhe_argmin_replicas against K
 * separate labelled argmins (what K rounds' last steps cost; K rounds also
 * recompute every key, ~19 PBS per node each, which one evaluation does
 * once). Every replica is checked against K rounds that exclude the chosen
 * nodes. Prints one JSON object.
 *
 *   bench_replicas KEYDIR N K     Env BENCH_THREADS (0 = all cores).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <veil/fhe.h>
#include <veil/node.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *msg)
{
    fprintf(stderr, "bench_replicas: %s\n", msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return die("usage: bench_replicas KEYDIR N K");
    size_t n = strtoul(argv[2], NULL, 10), k = strtoul(argv[3], NULL, 10);
    if (n == 0 || n > 256 || k == 0 || k > 16 || k > n)
        return die("N: 1..256, K: 1..min(16, N)");
    veil_err err = {0};
    char path[4096];
    veil_fhe_server *sk = NULL;
    veil_fhe_client *ck = NULL;
    const char *th = getenv("BENCH_THREADS");
    snprintf(path, sizeof path, "%s/server.key", argv[1]);
    if (veil_crypto_init(&err) != 0 ||
        veil_fhe_server_load(path, th ? (unsigned)atoi(th) : 0, &sk, &err) != 0)
        return die(err.msg);
    snprintf(path, sizeof path, "%s/client.key", argv[1]);
    if (veil_fhe_client_load(path, &ck, &err) != 0)
        return die(err.msg);
    veil_fhe_ct **keys = calloc(n, sizeof *keys), **idx = calloc(k, sizeof *idx),
                **found = calloc(k, sizeof *found);
    uint64_t *x = calloc(n, sizeof *x), *labels = calloc(n, sizeof *labels);
    bool *chosen = calloc(n, sizeof *chosen);
    if (!keys || !idx || !found || !x || !labels || !chosen)
        return die("out of memory");
    srand(5);
    for (size_t i = 0; i < n; i++) {
        x[i] = rand() % 5 == 0 ? 0x4000u | (unsigned)(rand() % 0x2000) : (unsigned)(rand() % 8190);
        labels[i] = i;
        if (veil_fhe_encrypt(ck, 16, x[i], &keys[i], &err) != 0)
            return die(err.msg);
    }
    uint64_t pbs_one = 0;
    double t0 = now_s();
    if (veil_fhe_argmin_replicas(sk, (const veil_fhe_ct *const *)keys, labels, n, 8, k, idx, found,
                                 &pbs_one, &err) != 0)
        return die(err.msg);
    double t_one = now_s() - t0;
    bool ok = true, done = false;
    for (size_t r = 0; r < k; r++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!chosen[i] && (best == n || x[i] < x[best]))
                best = i;
        bool want = !done && best < n && x[best] < 0x4000;
        uint64_t f = 2, ix = 0;
        if (veil_fhe_decrypt(ck, found[r], &f, &err) != 0 ||
            veil_fhe_decrypt(ck, idx[r], &ix, &err) != 0)
            return die(err.msg);
        ok = ok && f == want && (!want || ix == labels[best]);
        if (want)
            chosen[best] = true;
        else
            done = true;
    }
    /* one plain labelled argmin, as each of K rounds ends */
    veil_fhe_ct *i1 = NULL, *f1 = NULL;
    uint64_t p0 = veil_fhe_server_pbs_count(sk);
    t0 = now_s();
    if (veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)keys, labels, n, 8, &i1, &f1,
                                &err) != 0)
        return die(err.msg);
    double t_argmin = now_s() - t0;
    uint64_t pbs_argmin = veil_fhe_server_pbs_count(sk) - p0;
    printf("{\"nodes\":%zu,\"replicas\":%zu,\"one_evaluation_pbs\":%llu,\"one_evaluation_s\":%.3f,"
           "\"argmin_pbs\":%llu,\"argmin_s\":%.3f,\"k_argmins_pbs\":%llu,\"threads\":%u,"
           "\"matches_oracle\":%s}\n",
           n, k, (unsigned long long)pbs_one, t_one, (unsigned long long)pbs_argmin, t_argmin,
           (unsigned long long)(k * pbs_argmin), veil_fhe_server_threads(sk),
           ok ? "true" : "false");
    veil_fhe_ct_free(i1);
    veil_fhe_ct_free(f1);
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(keys[i]);
    for (size_t r = 0; r < k; r++) {
        veil_fhe_ct_free(idx[r]);
        veil_fhe_ct_free(found[r]);
    }
    free(keys);
    free(idx);
    free(found);
    free(x);
    free(labels);
    free(chosen);
    veil_fhe_server_free(sk);
    veil_fhe_client_free(ck);
    return ok ? 0 : 1;
}
