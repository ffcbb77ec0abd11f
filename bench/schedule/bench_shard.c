// SPDX-License-Identifier: Apache-2.0
/*
 * bench_shard.c - the critical path of a sharded scheduling round (issue 20),
 * measured as its parts on this machine: one shard's round (SHARD nodes'
 * telemetry, the policy circuit over the FHE library as veild runs it), the
 * extra PBS a shard pays to hand its winner's key on (veil_fhe_argmin_keyed
 * against veil_fhe_argmin_labeled, one match: only the last match's key
 * selects differ), the merge of SHARDS encrypted (key, index) winners
 * (veil_fhe_argmin_merge; the winners are real shard outputs, from a keyed
 * argmin each) and the decryption of the result. Shards run in
 * parallel on their own schedulers, so the critical path is one shard plus
 * the merge (one merge of every winner, or a tree of two-way merges on
 * separate scheduler sets: ceil(log2(SHARDS)) levels of one match each);
 * every part is checked against the plaintext spec.
 *
 *   bench_shard KEYDIR SHARD SHARDS   (e.g. 64 16: a 1,024-node round)
 * Env BENCH_THREADS (0 = all cores). Prints one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <veil/fhe.h>
#include <veil/node.h>

#include "../../src/node/daemon_sched.h"
#include "bench_keys.h"

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_shard: %s\n", err->msg);
    return 1;
}

/* One shard's round over n random nodes; checked against the plaintext round. */
static int shard_round(const struct keys *k, const struct veil_sched_request *req, size_t n,
                       double *t, double *cpu, uint64_t *pbs, veil_err *err)
{
    struct veil_telemetry_q *q = calloc(n, sizeof *q);
    veil_fhe_ct **words = calloc(n * VEIL_TELEMETRY_WORDS, sizeof *words);
    if (!q || !words)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        q[i].res[VEIL_RES_CPU] = (uint16_t)(rand() % 400);
        q[i].res[VEIL_RES_MEMORY] = (uint16_t)(rand() % 2048);
        q[i].res[VEIL_RES_DISK] = (uint16_t)(rand() % 100);
        uint16_t w[VEIL_TELEMETRY_WORDS];
        veil_telemetry_to_words(&q[i], w);
        veil_buf ct;
        veil_buf_init(&ct);
        if (veil_daemon_telemetry_encrypt(k->pk, w, &ct, err) != 0 ||
            veil_daemon_telemetry_expand(ct.data, ct.len, &words[i * VEIL_TELEMETRY_WORDS], err) !=
                0)
            return -1;
        veil_buf_free(&ct);
    }
    veil_buf out;
    veil_buf_init(&out);
    bool none = false;
    uint64_t p0 = veil_fhe_server_pbs_count(k->sk);
    double t0 = now_s(), c0 = cpu_s();
    int rc = veil_daemon_schedule(k->sk, req, words, n, NULL, &out, &none, NULL, err);
    *t = now_s() - t0;
    *cpu = cpu_s() - c0;
    *pbs = veil_fhe_server_pbs_count(k->sk) - p0;
    uint32_t index = 0;
    bool found = false;
    struct veil_sched_result want;
    if (rc == 0 && !none)
        rc = veil_daemon_output_decrypt(k->ck, out.data, out.len, &index, &found, err);
    if (rc == 0)
        rc = veil_sched_round(req, q, NULL, n, &want, NULL, err);
    if (rc == 0 && (want.found != found || (found && want.index != index)))
        rc = veil_err_set(err, VEIL_E_INTERNAL, "shard round differs from the oracle");
    veil_buf_free(&out);
    for (size_t i = 0; i < n * VEIL_TELEMETRY_WORDS; i++)
        veil_fhe_ct_free(words[i]);
    free(words);
    free(q);
    return rc;
}

/* PBS the key output adds to a shard's argmin (one match of two keys). */
static int key_extra(const struct keys *k, uint64_t *extra, veil_err *err)
{
    veil_fhe_ct *a = NULL, *b = NULL, *i1 = NULL, *f1 = NULL, *i2 = NULL, *f2 = NULL, *key = NULL;
    const uint64_t labels[2] = {0, 1};
    uint64_t with = 0;
    int rc = -1;
    if (veil_fhe_encrypt(k->ck, 16, 700, &a, err) == 0 &&
        veil_fhe_encrypt(k->ck, 16, 0x4000 | 5, &b, err) == 0) {
        const veil_fhe_ct *v[2] = {a, b};
        uint64_t p0 = veil_fhe_server_pbs_count(k->sk), plain = 0;
        /* the plain argmin's PBS read before the keyed one runs: whether or
         * not the server's counter also sees the keyed call's PBS */
        if (veil_fhe_argmin_labeled(k->sk, v, labels, 2, 8, &i1, &f1, err) == 0 &&
            (plain = veil_fhe_server_pbs_count(k->sk) - p0, true) &&
            veil_fhe_argmin_keyed(k->sk, v, labels, 2, 8, &i2, &f2, &key, &with, err) == 0) {
            *extra = with >= plain ? with - plain : 0;
            rc = 0;
        }
    }
    veil_fhe_ct *all[] = {a, b, i1, f1, i2, f2, key};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(all); i++)
        veil_fhe_ct_free(all[i]);
    return rc;
}

/* Shard i's output as a shard hands it on: the keyed argmin of a match
 * between its winner (key kv) and a flagged node, labelled with global
 * indices (16-bit: the blocks above the labels' bits stay trivially zero). */
static int shard_winner(const struct keys *k, size_t i, uint64_t kv, veil_fhe_ct **key,
                        veil_fhe_ct **index, veil_err *err)
{
    veil_fhe_ct *a = NULL, *b = NULL, *found = NULL;
    uint64_t labels[2] = {64 * i + (unsigned)(rand() % 32), 64 * i + 32 + (unsigned)(rand() % 32)};
    int rc = veil_fhe_encrypt(k->ck, 16, kv, &a, err) == 0 &&
                     veil_fhe_encrypt(k->ck, 16, 0xC000, &b, err) == 0
                 ? 0
                 : -1;
    const veil_fhe_ct *v[2] = {a, b};
    if (rc == 0)
        rc = veil_fhe_argmin_keyed(k->sk, v, labels, 2, 16, index, &found, key, NULL, err);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
    veil_fhe_ct_free(found);
    return rc;
}

/* The merge of s shard winners (random keys, some infeasible; 16-bit indices). */
static int merge(const struct keys *k, size_t s, double *t, uint64_t *pbs, double *t_dec,
                 veil_err *err)
{
    veil_fhe_ct **keys = calloc(s, sizeof *keys), **idx = calloc(s, sizeof *idx);
    uint64_t *kv = calloc(s, sizeof *kv);
    if (!keys || !idx || !kv)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    size_t best = 0;
    int rc = 0;
    for (size_t i = 0; i < s && rc == 0; i++) {
        kv[i] = rand() % 4 == 0 ? 0x4000u | (unsigned)(rand() % 0x3FFF) : (unsigned)(rand() % 8190);
        best = kv[i] < kv[best] ? i : best;
        rc = shard_winner(k, i, kv[i], &keys[i], &idx[i], err);
    }
    veil_fhe_ct *index = NULL, *found = NULL, *key = NULL;
    double t0 = now_s();
    if (rc == 0)
        rc = veil_fhe_argmin_merge(k->sk, (const veil_fhe_ct *const *)keys,
                                   (const veil_fhe_ct *const *)idx, s, &index, &found, &key, pbs,
                                   err);
    *t = now_s() - t0;
    uint64_t got_i = 0, got_f = 0, want_i = 0;
    double d0 = now_s();
    if (rc == 0 && (veil_fhe_decrypt(k->ck, index, &got_i, err) != 0 ||
                    veil_fhe_decrypt(k->ck, found, &got_f, err) != 0))
        rc = -1;
    *t_dec = now_s() - d0;
    if (rc == 0 && veil_fhe_decrypt(k->ck, idx[best], &want_i, err) != 0)
        rc = -1;
    if (rc == 0 && (got_f != (kv[best] < 0x4000) || got_i != want_i))
        rc = veil_err_set(err, VEIL_E_INTERNAL, "merge differs from the plaintext argmin");
    for (size_t i = 0; i < s; i++) {
        veil_fhe_ct_free(keys[i]);
        veil_fhe_ct_free(idx[i]);
    }
    veil_fhe_ct_free(index);
    veil_fhe_ct_free(found);
    veil_fhe_ct_free(key);
    free(keys);
    free(idx);
    free(kv);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_shard KEYDIR SHARD SHARDS\n");
        return 2;
    }
    veil_err err = {0};
    struct keys k = {0};
    if (veil_crypto_init(&err) != 0 || load_keys(argv[1], &k, &err) != 0)
        return die(&err);
    size_t shard = strtoul(argv[2], NULL, 10), shards = strtoul(argv[3], NULL, 10);
    if (shard == 0 || shard > 4096 || shards == 0 || shards > 4096)
        return die(&(veil_err){.msg = "SHARD and SHARDS: 1..4096"});
    struct veil_sched_request req = {.policy = VEIL_POLICY_BINPACK};
    req.res[VEIL_RES_CPU] = 50;    /* 500m */
    req.res[VEIL_RES_MEMORY] = 16; /* 64Mi */
    srand(11);
    double t_round = 0, c_round = 0, t_merge = 0, t_dec = 0;
    double t_pair = 0, t_dec2 = 0;
    uint64_t p_round = 0, p_key = 0, p_merge = 0, p_pair = 0;
    if (shard_round(&k, &req, shard, &t_round, &c_round, &p_round, &err) != 0 ||
        key_extra(&k, &p_key, &err) != 0 ||
        merge(&k, shards, &t_merge, &p_merge, &t_dec, &err) != 0 ||
        merge(&k, 2, &t_pair, &p_pair, &t_dec2, &err) != 0)
        return die(&err);
    /* merges nest: a tree of two-way merges on separate scheduler sets has
     * ceil(log2(shards)) levels on the critical path */
    unsigned levels = 0;
    while (((size_t)1 << levels) < shards)
        levels++;
    printf("{\"nodes\":%zu,\"shard\":%zu,\"shards\":%zu,\"shard_round_s\":%.3f,"
           "\"shard_round_cpu_s\":%.3f,\"shard_round_pbs\":%llu,\"shard_key_output_pbs\":%llu,"
           "\"merge_s\":%.3f,\"merge_pbs\":%llu,\"merge2_s\":%.3f,\"merge2_pbs\":%llu,"
           "\"tree_levels\":%u,\"decrypt_ms\":%.2f,\"critical_path_s\":%.3f,"
           "\"critical_path_pbs\":%llu,\"critical_path_tree_s\":%.3f,"
           "\"critical_path_tree_pbs\":%llu,\"threads\":%u,\"matches_oracle\":true}\n",
           shard * shards, shard, shards, t_round, c_round, (unsigned long long)p_round,
           (unsigned long long)p_key, t_merge, (unsigned long long)p_merge, t_pair,
           (unsigned long long)p_pair, levels, 1000 * t_dec, t_round + t_merge + t_dec,
           (unsigned long long)(p_round + p_key + p_merge), t_round + levels * t_pair + t_dec,
           (unsigned long long)(p_round + p_key + levels * p_pair), veil_fhe_server_threads(k.sk));
    veil_fhe_server_free(k.sk);
    veil_fhe_client_free(k.ck);
    veil_fhe_public_free(k.pk);
    return 0;
}
