// SPDX-License-Identifier: Apache-2.0
/*
 * bench_schedule.c - the encrypted scheduling round as veild runs it (owned
 * by the veild integration): N nodes' telemetry encrypted as compact lists
 * under the cluster public key, expanded, one round of the policy circuit
 * over the FHE library, the output decrypted with the client key and checked
 * against the plaintext oracle. Prints one JSON object per node count.
 *
 *   bench_schedule KEYDIR [N...]   (KEYDIR from 'veil fhe keygen -o KEYDIR';
 *                                   default N: 4 8 16)
 * Env BENCH_POLICY=binpack|spread|priority|lowest-latency (to landmark 0)|weighted
 * (to landmark 0, weights BENCH_WEIGHTS=W:L, default 1:1),
 * BENCH_THREADS (0 = all cores),
 * BENCH_CONFIDENTIAL=1 (the request encrypted by the submitter as one compact
 * list, expanded and evaluated with veil_daemon_schedule_confidential).
 * compute_path_s is everything a job's submit -> assignment computes: one
 * scheduler expanding the N telemetry lists, the round, and the decryptor's
 * decryption (the network hops on the way - gossip of the job, the digest,
 * the output stream and the signed assignment - are not in it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <veil/fhe.h>
#include <veil/node.h>

#include "../../src/node/daemon_sched.h"
#include "bench_keys.h"

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_schedule: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_schedule KEYDIR [N...]\n");
        return 2;
    }
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0)
        return die(&err);
    char path[4096];
    snprintf(path, sizeof path, "%s/public.key", argv[1]);
    veil_fhe_public *pk = NULL;
    if (veil_fhe_public_load(path, &pk, &err) != 0)
        return die(&err);
    veil_fhe_server *sk;
    veil_fhe_client *ck;
    const char *th = getenv("BENCH_THREADS");
    snprintf(path, sizeof path, "%s/server.key", argv[1]);
    if (veil_fhe_server_load(path, th ? (unsigned)atoi(th) : 0, &sk, &err) != 0)
        return die(&err);
    snprintf(path, sizeof path, "%s/client.key", argv[1]);
    if (veil_fhe_client_load(path, &ck, &err) != 0)
        return die(&err);
    const char *pol = getenv("BENCH_POLICY");
    struct veil_sched_request req = {0};
    req.policy = !pol                                 ? VEIL_POLICY_BINPACK
                 : strcmp(pol, "spread") == 0         ? VEIL_POLICY_SPREAD
                 : strcmp(pol, "priority") == 0       ? VEIL_POLICY_PRIORITY
                 : strcmp(pol, "lowest-latency") == 0 ? VEIL_POLICY_LATENCY
                 : strcmp(pol, "weighted") == 0       ? VEIL_POLICY_WEIGHTED
                                                      : VEIL_POLICY_BINPACK;
    const char *wts = getenv("BENCH_WEIGHTS");
    unsigned lw = 1, ld = 1;
    if (req.policy == VEIL_POLICY_WEIGHTED && wts &&
        (sscanf(wts, "%u:%u", &lw, &ld) != 2 || lw > VEIL_WEIGHT_LATENCY_MAX ||
         ld > VEIL_WEIGHT_LOAD_MAX)) {
        fprintf(stderr, "bench_schedule: BENCH_WEIGHTS=%s is not W:L (0..%d, 0..%d)\n", wts,
                VEIL_WEIGHT_LATENCY_MAX, VEIL_WEIGHT_LOAD_MAX);
        return 2;
    }
    req.latency_weight = req.policy == VEIL_POLICY_WEIGHTED ? (uint8_t)lw : 0;
    req.load_weight = req.policy == VEIL_POLICY_WEIGHTED ? (uint8_t)ld : 0;
    req.res[VEIL_RES_CPU] = 50;    /* 500m */
    req.res[VEIL_RES_MEMORY] = 16; /* 64Mi */
    const char *conf_env = getenv("BENCH_CONFIDENTIAL");
    req.confidential = conf_env && strcmp(conf_env, "1") == 0;
    veil_fhe_ct *req_words[VEIL_DAEMON_REQUEST_WORDS] = {0};
    size_t req_bytes = 0;
    if (req.confidential) {
        veil_buf rb;
        veil_buf_init(&rb);
        if (veil_daemon_request_encrypt(pk, &req, &rb, &err) != 0 ||
            veil_daemon_request_expand(rb.data, rb.len, req_words, &err) != 0)
            return die(&err);
        req_bytes = rb.len;
        veil_buf_free(&rb);
    }
    static const size_t def_ns[] = {4, 8, 16};
    size_t n_ns = argc > 2 ? (size_t)(argc - 2) : 3;
    int bad = 0;
    srand(7);
    for (size_t t = 0; t < n_ns; t++) {
        size_t n = argc > 2 ? strtoul(argv[2 + t], NULL, 10) : def_ns[t];
        if (n == 0 || n > VEIL_SCHED_MAX_NODES)
            continue;
        struct veil_telemetry_q *q = calloc(n, sizeof *q);
        veil_fhe_ct **words = calloc(n * VEIL_TELEMETRY_WORDS, sizeof *words);
        size_t bytes = 0;
        double t_enc = 0, t_exp = 0;
        for (size_t i = 0; i < n; i++) {
            q[i].res[VEIL_RES_CPU] = (uint16_t)(rand() % 400);
            q[i].res[VEIL_RES_MEMORY] = (uint16_t)(rand() % 2048);
            q[i].res[VEIL_RES_DISK] = (uint16_t)(rand() % 100);
            q[i].priority = (uint16_t)(rand() % 256);
            bool lat = req.policy == VEIL_POLICY_LATENCY || req.policy == VEIL_POLICY_WEIGHTED;
            for (int s = 0; s < VEIL_LATENCY_SLOTS; s++) /* the other policies: as before */
                q[i].latency[s] =
                    lat ? (uint16_t)(1 + rand() % VEIL_LATENCY_MAX) : VEIL_LATENCY_UNKNOWN;
            uint16_t w[VEIL_TELEMETRY_WORDS];
            veil_telemetry_to_words(&q[i], w);
            veil_buf ct;
            veil_buf_init(&ct);
            double t0 = now_s();
            if (veil_daemon_telemetry_encrypt(pk, w, &ct, &err) != 0)
                return die(&err);
            double t1 = now_s();
            if (veil_daemon_telemetry_expand(ct.data, ct.len, &words[i * VEIL_TELEMETRY_WORDS],
                                             &err) != 0)
                return die(&err);
            t_exp += now_s() - t1;
            t_enc += t1 - t0;
            bytes = ct.len;
            veil_buf_free(&ct);
        }
        veil_buf out;
        veil_buf_init(&out);
        bool none;
        struct veil_sched_ops ops = {0};
        uint64_t pbs0 = veil_fhe_server_pbs_count(sk);
        double t0 = now_s(), c0 = cpu_s();
        if ((req.confidential
                 ? veil_daemon_schedule_confidential(sk, &req, req_words, words, n, NULL, &out,
                                                     &none, &ops, &err)
                 : veil_daemon_schedule(sk, &req, words, n, NULL, &out, &none, &ops, &err)) != 0)
            return die(&err);
        double t_round = now_s() - t0, c_round = cpu_s() - c0;
        uint32_t index = 0;
        bool found = false;
        double d0 = now_s();
        if (!none && veil_daemon_output_decrypt(ck, out.data, out.len, &index, &found, &err) != 0)
            return die(&err);
        double t_dec = now_s() - d0;
        struct veil_sched_result want;
        if (veil_sched_round(&req, q, NULL, n, &want, NULL, &err) != 0)
            return die(&err);
        bool match = want.found == found && (!found || want.index == index);
        bad |= !match;
        if (!match)
            fprintf(stderr,
                    "bench_schedule: %zu nodes: circuit (found %d, index %u), oracle (found %d, "
                    "index %u)\n",
                    n, found, index, want.found, want.index);
        printf("{\"nodes\":%zu,\"policy\":\"%s\",\"weights\":\"%u:%u\",\"confidential\":%s,"
               "\"request_bytes\":%zu,"
               "\"resources\":2,\"round_s\":%.3f,\"round_cpu_s\":%.3f,"
               "\"decrypt_ms\":%.2f,\"compute_path_s\":%.3f,"
               "\"telemetry_bytes\":%zu,\"encrypt_ms\":%.2f,\"expand_ms\":%.2f,\"pbs\":%llu,"
               "\"fhe_ops\":%llu,\"output_bytes\":%zu,\"threads\":%u,\"matches_oracle\":%s}\n",
               n, veil_policy_name(req.policy), (unsigned)req.latency_weight,
               (unsigned)req.load_weight, req.confidential ? "true" : "false", req_bytes, t_round,
               c_round, 1000 * t_dec, t_exp + t_round + t_dec, bytes, 1000 * t_enc / (double)n,
               1000 * t_exp / (double)n, (unsigned long long)(veil_fhe_server_pbs_count(sk) - pbs0),
               (unsigned long long)veil_sched_ops_total(&ops), out.len, veil_fhe_server_threads(sk),
               match ? "true" : "false");
        fflush(stdout);
        veil_buf_free(&out);
        for (size_t i = 0; i < n * VEIL_TELEMETRY_WORDS; i++)
            veil_fhe_ct_free(words[i]);
        free(words);
        free(q);
    }
    for (int w = 0; w < VEIL_DAEMON_REQUEST_WORDS; w++)
        veil_fhe_ct_free(req_words[w]);
    veil_fhe_server_free(sk);
    veil_fhe_client_free(ck);
    veil_fhe_public_free(pk);
    return bad ? 1 : 0;
}
