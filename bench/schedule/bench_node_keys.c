// SPDX-License-Identifier: Apache-2.0
/*
 * bench_node_keys.c - a round with node-computed keys (issue 20, "PBS per
 * node"): each of N nodes computes veil_sched_node_key of its own telemetry
 * for the public request (binpack, cpu + memory, as bench_schedule) and
 * encrypts it as a one-value compact list; the scheduler expands the N keys
 * and runs the labelled argmin alone (veil_fhe_argmin_node_keys, what veild
 * runs for a single round); the decrypted (index, found) is checked
 * against the full oracle round. Prints one JSON object per N, with wall and
 * CPU time (the machine is shared).
 *
 *   bench_node_keys KEYDIR [N...]   (default N: 16 64; BENCH_THREADS, 0 = all;
 *                                    BENCH_POLICY=lowest-latency for that policy)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <veil/fhe.h>
#include <veil/node.h>

#include "bench_keys.h"

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_node_keys: %s\n", err->msg);
    return 1;
}

/* One round over n random nodes; 0 when the placement matched the oracle. */
static int round_n(const struct keys *k, const struct veil_sched_request *req, size_t n,
                   veil_err *err)
{
    struct veil_telemetry_q *q = calloc(n, sizeof *q);
    veil_fhe_ct **cts = calloc(n, sizeof *cts);
    uint64_t *labels = calloc(n, sizeof *labels);
    if (!q || !cts || !labels)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    double t_enc = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        q[i].res[VEIL_RES_CPU] = (uint16_t)(rand() % 400);
        q[i].res[VEIL_RES_MEMORY] = (uint16_t)(rand() % 2048);
        q[i].latency[0] = (uint16_t)(1 + rand() % VEIL_LATENCY_MAX);
        labels[i] = i;
        uint16_t key = 0;
        double t0 = now_s();
        veil_buf b;
        veil_buf_init(&b);
        uint64_t v = 0;
        rc = veil_sched_node_key(req, &q[i], &key, err);
        v = key;
        if (rc == 0)
            rc = veil_fhe_compact_encrypt(k->pk, 16, &v, 1, &b, err);
        t_enc += now_s() - t0;
        if (rc == 0)
            rc = veil_fhe_compact_expand(b.data, b.len, 16, &cts[i], 1, err);
        veil_buf_free(&b);
    }
    veil_fhe_ct *index = NULL, *found = NULL;
    uint64_t pbs0 = veil_fhe_server_pbs_count(k->sk);
    double t0 = now_s(), c0 = cpu_s();
    if (rc == 0)
        rc = veil_fhe_argmin_node_keys(k->sk, (const veil_fhe_ct *const *)cts, labels, n,
                                     n <= 256 ? 8 : 16, &index, &found, err);
    double t_round = now_s() - t0, c_round = cpu_s() - c0;
    uint64_t pbs = veil_fhe_server_pbs_count(k->sk) - pbs0;
    uint64_t gi = 0, gf = 0;
    struct veil_sched_result want = {0};
    if (rc == 0)
        rc = veil_fhe_decrypt(k->ck, index, &gi, err) != 0 ||
                     veil_fhe_decrypt(k->ck, found, &gf, err) != 0 ||
                     veil_sched_round(req, q, NULL, n, &want, NULL, err) != 0
                 ? -1
                 : 0;
    bool match = rc == 0 && (gf != 0) == want.found && (!want.found || gi == want.index);
    if (rc == 0)
        printf("{\"nodes\":%zu,\"policy\":\"%s\",\"node_computed_keys\":true,\"pbs\":%llu,"
               "\"pbs_per_node\":%.1f,\"round_s\":%.3f,\"round_cpu_s\":%.3f,"
               "\"node_encrypt_ms\":%.2f,\"threads\":%u,\"matches_oracle\":%s}\n",
               n, veil_policy_name(req->policy), (unsigned long long)pbs, (double)pbs / (double)n,
               t_round, c_round, 1000 * t_enc / (double)n, veil_fhe_server_threads(k->sk),
               match ? "true" : "false");
    fflush(stdout);
    veil_fhe_ct_free(index);
    veil_fhe_ct_free(found);
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(cts[i]);
    free(cts);
    free(labels);
    free(q);
    if (rc == 0 && !match)
        rc = veil_err_set(err, VEIL_E_INTERNAL, "%zu nodes: the placement differs from the oracle",
                          n);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_node_keys KEYDIR [N...]\n");
        return 2;
    }
    veil_err err = {0};
    struct keys k = {0};
    if (veil_crypto_init(&err) != 0 || load_keys(argv[1], &k, &err) != 0)
        return die(&err);
    const char *pol = getenv("BENCH_POLICY");
    struct veil_sched_request req = {.res = {50, 16, 0, 0}, .policy = VEIL_POLICY_BINPACK};
    if (pol && strcmp(pol, "lowest-latency") == 0)
        req.policy = VEIL_POLICY_LATENCY;
    static const size_t def_ns[] = {16, 64};
    size_t n_ns = argc > 2 ? (size_t)(argc - 2) : 2;
    srand(7);
    int bad = 0;
    for (size_t t = 0; t < n_ns; t++) {
        size_t n = argc > 2 ? strtoul(argv[2 + t], NULL, 10) : def_ns[t];
        if (n == 0 || n > VEIL_SCHED_MAX_NODES)
            continue;
        if (round_n(&k, &req, n, &err) != 0) {
            fprintf(stderr, "bench_node_keys: %s\n", err.msg);
            bad = 1;
        }
    }
    veil_fhe_public_free(k.pk);
    veil_fhe_server_free(k.sk);
    veil_fhe_client_free(k.ck);
    return bad;
}
