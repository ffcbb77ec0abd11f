// SPDX-License-Identifier: Apache-2.0
/*
 * bench_threshold_round.c - what threshold decryption adds to a scheduling
 * round (issue 11), against the designated decryptor it replaces: both
 * decrypt the same scheduler output (the chosen index as FheUint8 and the
 * found bit, the format of daemon_sched.c). The designated decryptor
 * decrypts it with the client key; a key holder squashes both ciphertexts,
 * makes its signed partial decryptions, and combines 2t + 1 of them. Holders
 * work in parallel, so the added latency of a round is one squash + one
 * partial decryption + one combine (+ one gossip hop) minus the designated
 * decryption. Prints one JSON line.
 *
 *   bench_threshold_round [N T]   (default 4 1; VEIL_THREADS sets the pool)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/fhe.h>
#include <veil/squash.h>
#include <veil/threshold.h>

#include "../../src/node/daemon_sched.h"

#define REPS 3

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of every thread of the process: what a squash costs whatever
 * else the machine runs (wall time is what a round waits). */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_threshold_round: %s\n", err->msg);
    return 1;
}

/* The scheduler output's FHE part: u32be len || index ct || u32be len || found ct. */
static int make_output(const veil_fhe_client *ck, veil_buf *out, veil_fhe_ct **cts, veil_err *err)
{
    if (veil_fhe_encrypt(ck, 8, 2, &cts[0], err) != 0 ||
        veil_fhe_encrypt(ck, 1, 1, &cts[1], err) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        veil_buf one;
        veil_buf_init(&one);
        if (veil_fhe_ct_serialize(cts[i], &one, err) != 0) {
            veil_buf_free(&one);
            return -1;
        }
        veil_buf_put_u32be(out, (uint32_t)one.len);
        veil_buf_put(out, one.data, one.len);
        veil_buf_free(&one);
    }
    return 0;
}

struct holders {
    unsigned n, t;
    veil_th_public pub;
    veil_th_share *share[VEIL_TH_MAX_HOLDERS];
};

static int deal(const veil_sq_secret *secret, struct holders *h, veil_err *err)
{
    uint8_t pk[VEIL_TH_MAX_HOLDERS][VEIL_TH_PK_SIZE], sk[VEIL_TH_MAX_HOLDERS][VEIL_TH_SK_SIZE];
    veil_buf sealed[VEIL_TH_MAX_HOLDERS];
    for (unsigned i = 0; i < h->n; i++) {
        crypto_sign_keypair(pk[i], sk[i]);
        veil_buf_init(&sealed[i]);
    }
    int rc = veil_th_deal(secret, h->n, h->t, (const uint8_t(*)[VEIL_TH_PK_SIZE])pk, &h->pub,
                          sealed, err);
    for (unsigned i = 0; i < h->n && rc == 0; i++)
        rc = veil_th_share_open(sealed[i].data, sealed[i].len, sk[i], &h->share[i], err);
    for (unsigned i = 0; i < h->n; i++)
        veil_buf_free(&sealed[i]);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int main(int argc, char **argv)
{
    struct holders h = {.n = argc > 2 ? (unsigned)atoi(argv[1]) : 4,
                        .t = argc > 2 ? (unsigned)atoi(argv[2]) : 1};
    veil_err err = {0};
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    veil_fhe_public *pk = NULL;
    veil_sq_key *sq = NULL;
    veil_sq_secret secret;
    if (sodium_init() < 0 || veil_th_check_params(h.n, h.t, &err) != 0 ||
        veil_fhe_keygen(&ck, &sk, &pk, 0, &err) != 0 ||
        veil_sq_keygen(ck, NULL, 0, &secret, &sq, &err) != 0 || deal(&secret, &h, &err) != 0)
        return die(&err);
    sodium_memzero(&secret, sizeof secret);
    veil_buf out;
    veil_buf_init(&out);
    veil_fhe_ct *cts[2] = {NULL, NULL};
    if (make_output(ck, &out, cts, &err) != 0)
        return die(&err);
    double designated[REPS], squash[REPS], squash_cpu[REPS], partial[REPS], combine[REPS];
    uint64_t value = 0;
    for (int rep = 0; rep < REPS; rep++) {
        uint32_t index = 0;
        bool found = false;
        double t0 = now_ms();
        if (veil_daemon_output_decrypt(ck, out.data, out.len, &index, &found, &err) != 0)
            return die(&err);
        designated[rep] = now_ms() - t0;
        veil_sq_ct sct[2] = {{0}, {0}};
        t0 = now_ms();
        double c0 = cpu_ms();
        for (int i = 0; i < 2; i++)
            if (veil_sq_squash_compact(sq, sk, cts[i], &sct[i], &err) != 0)
                return die(&err);
        squash[rep] = now_ms() - t0;
        squash_cpu[rep] = cpu_ms() - c0;
        static veil_th_partial parts[2][VEIL_TH_MAX_HOLDERS];
        for (unsigned k = 0; k < h.n; k++) {
            t0 = now_ms();
            for (int i = 0; i < 2; i++)
                if (veil_th_partial_decrypt(h.share[k], &sct[i], &parts[i][k], &err) != 0)
                    return die(&err);
            if (k == 0)
                partial[rep] = now_ms() - t0;
        }
        veil_th_result res;
        t0 = now_ms();
        for (int i = 0; i < 2; i++)
            if (veil_th_combine(&h.pub, &sct[i], parts[i], h.n, &res, &err) != 0)
                return die(&err);
            else if (i == 0)
                value = res.value;
        combine[rep] = now_ms() - t0;
        veil_sq_ct_clear(&sct[0]);
        veil_sq_ct_clear(&sct[1]);
        if (value != index)
            return die(&(veil_err){.msg = "threshold and designated decryption differ"});
    }
    double d = median(designated, REPS), s = median(squash, REPS), p = median(partial, REPS),
           c = median(combine, REPS);
    printf("{\"bench\":\"threshold_round\",\"n\":%u,\"t\":%u,\"threads\":%u,\"blocks\":5,"
           "\"designated_decrypt_ms\":%.2f,\"squash_ms\":%.1f,\"squash_cpu_ms\":%.1f,"
           "\"partial_ms\":%.2f,"
           "\"combine_ms\":%.2f,\"added_ms\":%.1f,\"sq_key_mb\":%zu,"
           "\"note\":\"scheduler output = FheUint8 index + FheBool found; holders in parallel: "
           "added = squash + partial + combine - designated (plus one gossip hop)\"}\n",
           h.n, h.t, veil_sq_key_threads(sq), d, s, median(squash_cpu, REPS), p, c, s + p + c - d,
           veil_sq_key_size(sq) >> 20);
    for (unsigned k = 0; k < h.n; k++)
        veil_th_share_free(h.share[k]);
    veil_fhe_ct_free(cts[0]);
    veil_fhe_ct_free(cts[1]);
    veil_buf_free(&out);
    veil_sq_key_free(sq);
    veil_fhe_client_free(ck);
    veil_fhe_server_free(sk);
    veil_fhe_public_free(pk);
    return 0;
}
