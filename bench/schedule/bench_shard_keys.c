// SPDX-License-Identifier: Apache-2.0
/*
 * bench_shard_keys.c - the critical path of a sharded round with
 * node-computed keys (issue 20: "the critical path of a 1,024-node round
 * sharded 16 ways, measured as its parts"), every part measured, none
 * estimated from PBS counts:
 *   1. one node computes its key for the public request in the clear and
 *      encrypts it as a one-value compact list (every node does this at
 *      once, so one node's time is on the path);
 *   2. one shard's scheduler expands its SHARD nodes' keys and runs the
 *      keyed argmin over them, labelled with the round-wide indices at the
 *      round's index width (16 bits above 256 nodes), handing on the
 *      winner's encrypted (key, index);
 *   3. the tree of two-way merges of the SHARDS winners
 *      (veil_fhe_argmin_merge; merges nest): every merge of every level is
 *      run, a level's merges would run in parallel on separate scheduler
 *      sets, so the path holds the slowest merge of each level;
 *   4. the decryption of the merged (index, found).
 * The measured shard is one of the SHARDS winners; the other shards'
 * winners come from a keyed argmin of two candidates each (their cost is
 * off the path: shards run in parallel). The shard's winner is checked
 * against the plaintext round (veil_sched_round) and the merged result
 * against the plaintext argmin over the winners' keys. Network hops are not
 * included. Prints one JSON object with wall and CPU seconds of each part
 * (CPU: getrusage of the whole process, i.e. both worker threads) and the
 * load average at the start and the end (the machine is shared).
 *
 *   bench_shard_keys KEYDIR [SHARD [SHARDS]]   (default 64 16: 1,024 nodes)
 * Env BENCH_THREADS (0 = all cores).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/fhe.h>
#include <veil/node.h>

#include "bench_keys.h"

#define MAX_SHARDS 64

/* Wall and CPU seconds and PBS of one part. */
struct part {
    double wall, cpu;
    uint64_t pbs;
};

/* A shard's (or a merge's) encrypted winner and its plaintext key and
 * round-wide index. */
struct winner {
    veil_fhe_ct *key, *index, *found;
    uint64_t key_v, index_v;
};

static void winner_free(struct winner *w)
{
    veil_fhe_ct_free(w->key);
    veil_fhe_ct_free(w->index);
    veil_fhe_ct_free(w->found);
    w->key = w->index = w->found = NULL;
}

struct path {
    double encrypt_ms; /* one node's key: compute + compact-encrypt */
    struct part expand, shard, level[8], decrypt;
    unsigned levels, merges;
};

static int die(const veil_err *err)
{
    fprintf(stderr, "bench_shard_keys: %s\n", err->msg);
    return 1;
}

static void part_start(struct part *p)
{
    p->wall = now_s();
    p->cpu = cpu_s();
}

static void part_stop(struct part *p)
{
    p->wall = now_s() - p->wall;
    p->cpu = cpu_s() - p->cpu;
}

static void random_node(struct veil_telemetry_q *q)
{
    memset(q, 0, sizeof *q);
    q->res[VEIL_RES_CPU] = (uint16_t)(rand() % 400);
    q->res[VEIL_RES_MEMORY] = (uint16_t)(rand() % 2048);
    q->res[VEIL_RES_DISK] = (uint16_t)(rand() % 100);
}

/* Node i's published key: veil_sched_node_key in the clear, one-value
 * compact list under the cluster public key. */
static int node_key(const struct keys *k, const struct veil_sched_request *req,
                    const struct veil_telemetry_q *q, veil_buf *out, uint64_t *key_v, veil_err *err)
{
    uint16_t key = 0;
    if (veil_sched_node_key(req, q, &key, err) != 0)
        return -1;
    *key_v = key;
    return veil_fhe_compact_encrypt(k->pk, 16, key_v, 1, out, err);
}

/* The nodes' keys of one shard as its scheduler receives them (the serialized
 * lists); the first node's encryption is timed. */
static int shard_inputs(const struct keys *k, const struct veil_sched_request *req,
                        struct veil_telemetry_q *q, size_t n, veil_buf *lists, uint64_t *keys,
                        double *encrypt_ms, veil_err *err)
{
    for (size_t i = 0; i < n; i++) {
        random_node(&q[i]);
        veil_buf_init(&lists[i]);
        double t0 = now_s();
        if (node_key(k, req, &q[i], &lists[i], &keys[i], err) != 0)
            return -1;
        if (i == 0)
            *encrypt_ms = 1000 * (now_s() - t0);
    }
    return 0;
}

/* The shard's plaintext winner (the keyed argmin's spec: smallest key, ties
 * to the lowest index), checked against the full oracle round. */
static int shard_spec(const struct veil_sched_request *req, const struct veil_telemetry_q *q,
                      const uint64_t *keys, size_t n, size_t *best, veil_err *err)
{
    struct veil_sched_result want;
    *best = 0;
    for (size_t i = 1; i < n; i++)
        *best = keys[i] < keys[*best] ? i : *best;
    if (veil_sched_round(req, q, NULL, n, &want, NULL, err) != 0)
        return -1;
    bool found = keys[*best] < VEIL_SCHED_FLAG_BASE;
    if (want.found != found || (found && want.index != *best))
        return veil_err_set(err, VEIL_E_INTERNAL, "node keys' argmin differs from the oracle");
    return 0;
}

/* The measured shard (indices first..first+n of the round): expansion and
 * keyed argmin timed; its winner checked against the oracle. */
static int measured_shard(const struct keys *k, const struct veil_sched_request *req, size_t n,
                          size_t first, struct path *pt, struct winner *w, veil_err *err)
{
    struct veil_telemetry_q *q = calloc(n, sizeof *q);
    veil_buf *lists = calloc(n, sizeof *lists);
    veil_fhe_ct **cts = calloc(n, sizeof *cts);
    uint64_t *keys = calloc(n, sizeof *keys), *labels = calloc(n, sizeof *labels);
    size_t best = 0;
    int rc = q && lists && cts && keys && labels ? 0 : veil_err_set(err, VEIL_E_NOMEM, "oom");
    if (rc == 0)
        rc = shard_inputs(k, req, q, n, lists, keys, &pt->encrypt_ms, err);
    part_start(&pt->expand);
    for (size_t i = 0; i < n && rc == 0; i++) {
        labels[i] = first + i;
        rc = veil_fhe_compact_expand(lists[i].data, lists[i].len, 16, &cts[i], 1, err);
    }
    part_stop(&pt->expand);
    part_start(&pt->shard);
    if (rc == 0)
        rc = veil_fhe_argmin_keyed(k->sk, (const veil_fhe_ct *const *)cts, labels, n, 16, &w->index,
                                   &w->found, &w->key, &pt->shard.pbs, err);
    part_stop(&pt->shard);
    if (rc == 0)
        rc = shard_spec(req, q, keys, n, &best, err);
    w->key_v = rc == 0 ? keys[best] : 0;
    w->index_v = first + best;
    for (size_t i = 0; lists && i < n; i++) {
        veil_buf_free(&lists[i]);
        veil_fhe_ct_free(cts ? cts[i] : NULL);
    }
    free(q);
    free(lists);
    free(cts);
    free(keys);
    free(labels);
    return rc;
}

/* Another shard's winner (off the path): the keyed argmin of its winner's
 * key against an infeasible node, labelled inside the shard's range. */
static int other_shard(const struct keys *k, size_t shard, size_t first, struct winner *w,
                       veil_err *err)
{
    veil_fhe_ct *a = NULL, *b = NULL;
    uint64_t labels[2] = {first + (unsigned)(rand() % (int)(shard - 1)), first + shard - 1};
    bool infeasible = rand() % 4 == 0;
    w->key_v = infeasible ? VEIL_SCHED_FLAG_BASE + (unsigned)(rand() % VEIL_SCHED_FLAG_BASE)
                          : (unsigned)(rand() % 8190);
    w->index_v = labels[0];
    int rc = veil_fhe_encrypt(k->ck, 16, w->key_v, &a, err) == 0 &&
                     veil_fhe_encrypt(k->ck, 16, 0xFFFF, &b, err) == 0
                 ? 0
                 : -1;
    const veil_fhe_ct *v[2] = {a, b};
    if (rc == 0)
        rc = veil_fhe_argmin_keyed(k->sk, v, labels, 2, 16, &w->index, &w->found, &w->key, NULL,
                                   err);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
    return rc;
}

/* One two-way merge of a and b into a (b freed): a's shard is the earlier,
 * so a wins ties. */
static int merge_two(const struct keys *k, struct winner *a, struct winner *b, struct part *p,
                     veil_err *err)
{
    const veil_fhe_ct *keys[2] = {a->key, b->key}, *idx[2] = {a->index, b->index};
    struct winner m = {0};
    part_start(p);
    int rc = veil_fhe_argmin_merge(k->sk, keys, idx, 2, &m.index, &m.found, &m.key, &p->pbs, err);
    part_stop(p);
    if (rc != 0) {
        winner_free(&m);
        return -1;
    }
    bool b_wins = b->key_v < a->key_v;
    m.key_v = b_wins ? b->key_v : a->key_v;
    m.index_v = b_wins ? b->index_v : a->index_v;
    winner_free(a);
    winner_free(b);
    *a = m;
    return 0;
}

/* The merge tree over w[0..n): level by level, the path keeps each level's
 * slowest merge (its wall and CPU time) and the level's largest PBS count.
 * The result is left in w[0]. */
static int merge_tree(const struct keys *k, struct winner *w, size_t n, struct path *pt,
                      veil_err *err)
{
    for (size_t step = 1; step < n; step *= 2) {
        struct part *lv = &pt->level[pt->levels++];
        memset(lv, 0, sizeof *lv);
        for (size_t i = 0; i + step < n; i += 2 * step) {
            struct part p = {0};
            if (merge_two(k, &w[i], &w[i + step], &p, err) != 0)
                return -1;
            pt->merges++;
            uint64_t pbs = p.pbs > lv->pbs ? p.pbs : lv->pbs;
            if (p.wall > lv->wall)
                *lv = p;
            lv->pbs = pbs;
        }
    }
    return 0;
}

/* Decrypts the merged (index, found), timed, and checks them against the
 * plaintext argmin over the winners' keys. */
static int decrypt_check(const struct keys *k, const struct winner *w, struct path *pt,
                         veil_err *err)
{
    uint64_t gi = 0, gf = 0;
    part_start(&pt->decrypt);
    int rc = veil_fhe_decrypt(k->ck, w->index, &gi, err) == 0 &&
                     veil_fhe_decrypt(k->ck, w->found, &gf, err) == 0
                 ? 0
                 : -1;
    part_stop(&pt->decrypt);
    bool want_found = w->key_v < VEIL_SCHED_FLAG_BASE;
    if (rc == 0 && ((gf != 0) != want_found || (want_found && gi != w->index_v)))
        rc = veil_err_set(err, VEIL_E_INTERNAL,
                          "merged (index %llu, found %llu) differs from the plaintext "
                          "(index %llu, key %llu)",
                          (unsigned long long)gi, (unsigned long long)gf,
                          (unsigned long long)w->index_v, (unsigned long long)w->key_v);
    return rc;
}

/* Every shard's winner: shard `measured` evaluated and timed, the others
 * from two-candidate keyed argmins. */
static int winners(const struct keys *k, const struct veil_sched_request *req, size_t shard,
                   size_t shards, size_t measured, struct winner *w, struct path *pt, veil_err *err)
{
    for (size_t s = 0; s < shards; s++) {
        int rc = s == measured ? measured_shard(k, req, shard, s * shard, pt, &w[s], err)
                               : other_shard(k, shard, s * shard, &w[s], err);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void print_path(const struct path *pt, size_t shard, size_t shards, unsigned threads,
                       const double load[2])
{
    struct part sum = {0};
    const struct part *on[] = {&pt->expand, &pt->shard, &pt->decrypt};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(on); i++) {
        sum.wall += on[i]->wall;
        sum.cpu += on[i]->cpu;
        sum.pbs += on[i]->pbs;
    }
    printf("{\"bench\":\"shard_keys\",\"nodes\":%zu,\"shard\":%zu,\"shards\":%zu,"
           "\"node_key_encrypt_ms\":%.2f,\"shard_expand_s\":%.3f,\"shard_expand_cpu_s\":%.3f,"
           "\"shard_argmin_s\":%.3f,\"shard_argmin_cpu_s\":%.3f,\"shard_pbs\":%llu,"
           "\"merge_levels\":[",
           shard * shards, shard, shards, pt->encrypt_ms, pt->expand.wall, pt->expand.cpu,
           pt->shard.wall, pt->shard.cpu, (unsigned long long)pt->shard.pbs);
    for (unsigned l = 0; l < pt->levels; l++) {
        const struct part *lv = &pt->level[l];
        printf("%s{\"s\":%.3f,\"cpu_s\":%.3f,\"pbs\":%llu}", l ? "," : "", lv->wall, lv->cpu,
               (unsigned long long)lv->pbs);
        sum.wall += lv->wall;
        sum.cpu += lv->cpu;
        sum.pbs += lv->pbs;
    }
    sum.wall += pt->encrypt_ms / 1000;
    printf("],\"merges_run\":%u,\"decrypt_ms\":%.2f,\"critical_path_s\":%.3f,"
           "\"critical_path_cpu_s\":%.3f,\"critical_path_pbs\":%llu,\"threads\":%u,"
           "\"load_start\":%.2f,\"load_end\":%.2f,\"matches_oracle\":true}\n",
           pt->merges, 1000 * pt->decrypt.wall, sum.wall, sum.cpu, (unsigned long long)sum.pbs,
           threads, load[0], load[1]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_shard_keys KEYDIR [SHARD [SHARDS]]\n");
        return 2;
    }
    size_t shard = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
    size_t shards = argc > 3 ? strtoul(argv[3], NULL, 10) : 16;
    if (shard < 2 || shards < 1 || shards > MAX_SHARDS || shard * shards > VEIL_SCHED_MAX_NODES)
        return die(&(veil_err){.msg = "SHARD 2.., SHARDS 1..64, at most 65,536 nodes"});
    veil_err err = {0};
    struct keys k = {0};
    if (veil_crypto_init(&err) != 0 || load_keys(argv[1], &k, &err) != 0)
        return die(&err);
    struct veil_sched_request req = {.res = {50, 16, 0, 0}, .policy = VEIL_POLICY_BINPACK};
    struct winner w[MAX_SHARDS] = {0};
    struct path pt = {0};
    double load[2] = {0, 0};
    getloadavg(load, 1);
    srand(13);
    int rc = winners(&k, &req, shard, shards, shards / 3, w, &pt, &err) == 0 &&
                     merge_tree(&k, w, shards, &pt, &err) == 0 &&
                     decrypt_check(&k, &w[0], &pt, &err) == 0
                 ? 0
                 : -1;
    getloadavg(&load[1], 1);
    if (rc == 0)
        print_path(&pt, shard, shards, veil_fhe_server_threads(k.sk), load);
    for (size_t s = 0; s < shards; s++)
        winner_free(&w[s]);
    veil_fhe_server_free(k.sk);
    veil_fhe_client_free(k.ck);
    veil_fhe_public_free(k.pk);
    return rc == 0 ? 0 : die(&err);
}
