// SPDX-License-Identifier: Apache-2.0
/*
 * bench_fhe_squash.c - noise-squashing figures (issue 11), one JSON line:
 * squashing-key generation time (on `threads`), key size in memory and on
 * disk, save and load time, the squash of one block (a FheBool) on one
 * thread, the squash of a scheduler output (an FheUint8 index and the found
 * FheBool) on 2 threads unpacked (5 squashed blocks) and packed (3), and the
 * whole threshold decryption of a scheduler output at n = 4, t = 1 on 2
 * threads: packed squash, the 4 holders' partial decryptions (in sequence,
 * in this process) and the combine; the same with both ciphertexts squashed
 * in one batch (veil_sq_squash_compact_batch: one pass over the key for
 * the 3 blocks), which is what a key holder runs. Usage:
 *   bench_fhe_squash [reps] [keygen_threads] [tmpdir]
 * (defaults 3, 2, /tmp); the minimum and median wall time of reps and the
 * smallest CPU time are printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <veil/fhe.h>
#include <veil/squash.h>
#include <veil/threshold.h>

#include "squash_internal.h" /* veil_sq_squash_compact_batch */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (every thread): on a loaded machine the
 * wall time includes waiting for a core, this does not. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_fhe_squash: %s\n", err->msg);
    return 1;
}

#define MAX_REPS 32
#define TH_N     4
#define TH_T     1

/* The threshold side of the bench: n holders' opened shares of the squashing
 * secret and the dealing's public material. */
struct holders {
    veil_th_public pub;
    veil_th_share *share[TH_N];
};

/* One timed figure: minimum and median wall time, smallest CPU time. */
struct timing {
    double min_s, med_s, cpu_s;
};

/* What one repetition does: squash the cts (packed or not), then, when h is
 * set, every holder's partial decryption of each and the combine, which must
 * give want[i]. */
struct work {
    veil_sq_key *key;
    veil_fhe_server *sk;
    veil_fhe_ct *const *cts;
    const uint64_t *want;
    size_t n;
    int packed; /* 0: blocks, 1: packed, 2: compact batch of all n */
    const struct holders *h;
};

static int decrypt_threshold(const struct holders *h, const veil_sq_ct *sq, uint64_t want,
                             veil_err *err)
{
    veil_th_partial parts[TH_N];
    for (unsigned i = 0; i < TH_N; i++)
        if (veil_th_partial_decrypt(h->share[i], sq, &parts[i], err) != 0)
            return -1;
    veil_th_result res;
    if (veil_th_combine(&h->pub, sq, parts, TH_N, &res, err) != 0)
        return -1;
    if (res.value != want)
        return veil_err_set(err, VEIL_E_INVALID, "combined %llu, expected %llu",
                            (unsigned long long)res.value, (unsigned long long)want);
    return 0;
}

/* Every ciphertext of w in one batch, then the threshold side. */
static int run_batch(const struct work *w, veil_err *err)
{
    veil_sq_ct out[2];
    if (w->n > 2)
        return veil_err_set(err, VEIL_E_INVALID, "bench batch of at most 2");
    if (veil_sq_squash_compact_batch(w->key, w->sk, (const veil_fhe_ct *const *)w->cts, w->n, out,
                                     err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (rc == 0 && w->h)
            rc = decrypt_threshold(w->h, &out[i], w->want[i], err);
        veil_sq_ct_clear(&out[i]);
    }
    return rc;
}

static int run_once(const struct work *w, veil_err *err)
{
    if (w->packed == 2)
        return run_batch(w, err);
    for (size_t i = 0; i < w->n; i++) {
        veil_sq_ct out;
        int rc = w->packed ? veil_sq_squash_packed(w->key, w->sk, w->cts[i], &out, err)
                           : veil_sq_squash(w->key, w->sk, w->cts[i], &out, err);
        if (rc == 0 && w->h)
            rc = decrypt_threshold(w->h, &out, w->want[i], err);
        veil_sq_ct_clear(&out);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Runs w reps times with the key's pool at `threads`. */
static int time_work(const struct work *w, unsigned threads, int reps, struct timing *out,
                     veil_err *err)
{
    double t[MAX_REPS];
    out->cpu_s = 1e30;
    if (veil_sq_key_set_threads(w->key, threads, err) < 0)
        return -1;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s(), c0 = cpu_s();
        if (run_once(w, err) < 0)
            return -1;
        t[r] = now_s() - t0;
        if (cpu_s() - c0 < out->cpu_s)
            out->cpu_s = cpu_s() - c0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    out->min_s = t[0];
    out->med_s = t[reps / 2];
    return 0;
}

/* Deals the squashing secret to TH_N fresh holder identities and opens
 * every share (what the ceremony and the holders do). */
static int deal(const veil_sq_secret *secret, struct holders *h, veil_err *err)
{
    uint8_t pk[TH_N][VEIL_TH_PK_SIZE], skey[TH_N][VEIL_TH_SK_SIZE];
    veil_buf sealed[TH_N];
    for (unsigned i = 0; i < TH_N; i++) {
        crypto_sign_keypair(pk[i], skey[i]);
        veil_buf_init(&sealed[i]);
    }
    int rc = veil_th_deal(secret, TH_N, TH_T, (const uint8_t(*)[VEIL_TH_PK_SIZE])pk, &h->pub,
                          sealed, err);
    for (unsigned i = 0; rc == 0 && i < TH_N; i++)
        rc = veil_th_share_open(sealed[i].data, sealed[i].len, skey[i], &h->share[i], err);
    for (unsigned i = 0; i < TH_N; i++)
        veil_buf_free(&sealed[i]);
    sodium_memzero(skey, sizeof skey);
    return rc;
}

static void print_timing(const char *name, const struct timing *t, int last)
{
    printf("\"%s_min_s\":%.4f,\"%s_median_s\":%.4f,\"%s_cpu_s\":%.4f%s", name, t->min_s, name,
           t->med_s, name, t->cpu_s, last ? "" : ",");
}

/* Saves the key under tmp, loads it back on `threads`: the file's size and
 * the times. */
static int save_and_load(const veil_sq_key *key, const char *tmp, unsigned threads, double *save_s,
                         double *load_s, double *load_cpu_s, long long *file_bytes, veil_err *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bench_fhe_squash.%d.key", tmp, (int)getpid());
    double t0 = now_s();
    if (veil_sq_key_save(key, path, err) < 0)
        return -1;
    *save_s = now_s() - t0;
    struct stat st;
    *file_bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    veil_sq_key *loaded = NULL;
    t0 = now_s();
    const double c0 = cpu_s();
    const int rc = veil_sq_key_load(path, threads, &loaded, err);
    *load_s = now_s() - t0;
    *load_cpu_s = cpu_s() - c0;
    unlink(path);
    veil_sq_key_free(loaded);
    return rc;
}

/* The "only" modes: one figure, its JSON line. */
static int run_only(const char *only, const struct work *w_block, const struct work *w_batch,
                    int reps)
{
    veil_err err;
    struct timing t;
    const int block = strcmp(only, "block") == 0;
    if (!block && strcmp(only, "batch") != 0) {
        fprintf(stderr, "bench_fhe_squash: unknown mode %s (block or batch)\n", only);
        return 1;
    }
    if (time_work(block ? w_block : w_batch, block ? 1 : 2, reps, &t, &err) < 0)
        return die(&err);
    printf("{\"bench\":\"fhe_squash\",\"reps\":%d,", reps);
    print_timing(block ? "squash_block_1t" : "threshold_decrypt_sched_output_batch_2t", &t, 1);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    unsigned kg_threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    const char *tmp = argc > 3 ? argv[3] : "/tmp";
    const char *only = argc > 4 ? argv[4] : NULL;
    if (reps < 1 || reps > MAX_REPS)
        reps = 3;
    veil_err err;
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    if (veil_fhe_keygen(&ck, &sk, NULL, kg_threads, &err) < 0)
        return die(&err);
    veil_sq_secret secret;
    veil_sq_key *key = NULL;
    double t0 = now_s(), c0 = cpu_s();
    if (veil_sq_keygen(ck, NULL, kg_threads, &secret, &key, &err) < 0)
        return die(&err);
    const double keygen_s = now_s() - t0, keygen_cpu_s = cpu_s() - c0;
    double save_s = 0, load_s = 0, load_cpu_s = 0;
    long long file_bytes = -1;
    if (!only &&
        save_and_load(key, tmp, kg_threads, &save_s, &load_s, &load_cpu_s, &file_bytes, &err) < 0)
        return die(&err);

    veil_fhe_ct *found = NULL, *index = NULL;
    if (veil_fhe_encrypt(ck, 1, 1, &found, &err) < 0 ||
        veil_fhe_encrypt(ck, 8, 0xa7, &index, &err) < 0)
        return die(&err);
    struct holders h = {0};
    if (veil_crypto_init(&err) < 0 || deal(&secret, &h, &err) < 0)
        return die(&err);
    veil_memzero(&secret, sizeof secret);
    veil_fhe_ct *const one[1] = {found};
    veil_fhe_ct *const sched[2] = {index, found};
    static const uint64_t want[2] = {0xa7, 1};
    struct timing block, plain, packed, whole, batch;
    const struct work w_block = {key, sk, one, want + 1, 1, 0, NULL};
    const struct work w_plain = {key, sk, sched, want, 2, 0, NULL};
    const struct work w_packed = {key, sk, sched, want, 2, 1, NULL};
    const struct work w_whole = {key, sk, sched, want, 2, 1, &h};
    const struct work w_batch = {key, sk, sched, want, 2, 2, &h};
    int rc = 0;
    if (only) {
        rc = run_only(only, &w_block, &w_batch, reps);
        goto out;
    }
    /* the scheduler output's two ciphertexts are squashed one after the
     * other, as the key holder does */
    if (time_work(&w_block, 1, reps, &block, &err) < 0 ||
        time_work(&w_plain, 2, reps, &plain, &err) < 0 ||
        time_work(&w_packed, 2, reps, &packed, &err) < 0 ||
        time_work(&w_whole, 2, reps, &whole, &err) < 0 ||
        time_work(&w_batch, 2, reps, &batch, &err) < 0)
        return die(&err);
    printf("{\"bench\":\"fhe_squash\",\"reps\":%d,\"keygen_threads\":%u,\"keygen_s\":%.3f,"
           "\"keygen_cpu_s\":%.3f,\"key_memory_bytes\":%zu,\"key_file_bytes\":%lld,"
           "\"key_save_s\":%.3f,\"key_load_s\":%.3f,\"key_load_cpu_s\":%.3f,",
           reps, kg_threads, keygen_s, keygen_cpu_s, veil_sq_key_size(key), file_bytes, save_s,
           load_s, load_cpu_s);
    print_timing("squash_block_1t", &block, 0);
    print_timing("squash_sched_output_2t", &plain, 0);
    print_timing("squash_sched_output_packed_2t", &packed, 0);
    printf("\"threshold_n\":%d,\"threshold_t\":%d,", TH_N, TH_T);
    print_timing("threshold_decrypt_sched_output_2t", &whole, 0);
    print_timing("threshold_decrypt_sched_output_batch_2t", &batch, 0);
    printf("\"note\":\"wall times include waiting for a core on a shared machine\"}\n");
out:
    for (unsigned i = 0; i < TH_N; i++)
        veil_th_share_free(h.share[i]);
    veil_fhe_ct_free(found);
    veil_fhe_ct_free(index);
    veil_sq_key_free(key);
    veil_fhe_client_free(ck);
    veil_fhe_server_free(sk);
    return rc;
}
