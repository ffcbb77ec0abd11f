// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_integer_sched.c - the comparison shapes the scheduler leans on,
 * against plain arithmetic: a < k and a >= k for constants whose low digits
 * are zero (dropped items) and whose high digits are zero (blocks summed into
 * one "all zero" item; k = 4^j, where the block holding k's 1 joins them), at
 * 8 and 16 bits; and the labelled argmin carrying
 * its labels packed two bits per block, with labels beyond 8 bits (a cluster
 * of more than 256 members), ties and every key flagged; sharded rounds (a
 * shard's winner with its key, the merge) and sharded batch rounds (a shard's
 * top k with keys, the merge of k-lists against the unsharded k replicas). Slow: every
 * operation bootstraps; the value sets are kept small.
 */
#include <stdio.h>
#include <stdlib.h>

#include <veil/fhe.h>

#include "vtest.h"

static veil_fhe_client *ck;
static veil_fhe_server *sk;
static veil_fhe_public *pk;

static veil_fhe_ct *enc(unsigned w, uint64_t v)
{
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    if (veil_fhe_encrypt(ck, w, v, &ct, &err) != 0)
        fprintf(stderr, "encrypt: %s\n", err.msg);
    return ct;
}

static uint64_t dec(const veil_fhe_ct *ct)
{
    veil_err err = {0};
    uint64_t v = ~0ull;
    if (!ct || veil_fhe_decrypt(ck, ct, &v, &err) != 0)
        fprintf(stderr, "decrypt: %s\n", ct ? err.msg : "no ciphertext");
    return v;
}

static void check_cmp(unsigned w, veil_fhe_ct *a, uint64_t x, uint64_t k)
{
    veil_err err = {0};
    veil_fhe_ct *lt = NULL, *ge = NULL;
    CHECK_EQ_INT(veil_fhe_scalar(sk, VEIL_FHE_LT_SCALAR, a, k, &lt, &err), 0);
    CHECK_EQ_INT(veil_fhe_scalar(sk, VEIL_FHE_GE_SCALAR, a, k, &ge, &err), 0);
    uint64_t got_lt = dec(lt), got_ge = dec(ge);
    if (got_lt != (x < k) || got_ge != (x >= k))
        fprintf(stderr, "%u bits: x=%llu k=%llu: lt %llu ge %llu\n", w, (unsigned long long)x,
                (unsigned long long)k, (unsigned long long)got_lt, (unsigned long long)got_ge);
    CHECK_EQ_U64(got_lt, x < k);
    CHECK_EQ_U64(got_ge, x >= k);
    veil_fhe_ct_free(lt);
    veil_fhe_ct_free(ge);
}

static void test_lt_scalar_trimmed(void)
{
    /* constants: zero, low zero digits (16, 0x40, 0x100, 0x1000), a single high
     * digit, the top bit, all ones */
    static const uint64_t k8[] = {0, 1, 16, 0x40, 0x80, 0xFF};
    static const uint64_t x8[] = {0, 15, 16, 17, 0x40, 0xFF};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(x8); i++) {
        veil_fhe_ct *a = enc(8, x8[i]);
        for (size_t j = 0; j < VEIL_ARRAY_LEN(k8); j++)
            check_cmp(8, a, x8[i], k8[j]);
        veil_fhe_ct_free(a);
    }
    static const uint64_t k16[] = {16, 50, 0x1000, 0x8000};
    static const uint64_t x16[] = {0, 16, 49, 0x0FFF, 0x1000, 0xFFFF};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(x16); i++) {
        veil_fhe_ct *a = enc(16, x16[i]);
        for (size_t j = 0; j < VEIL_ARRAY_LEN(k16); j++)
            check_cmp(16, a, x16[i], k16[j]);
        veil_fhe_ct_free(a);
    }
}

/* k = 4^j: a < k is "blocks j.. all zero", the block holding k's 1 summed
 * with those above (8 and 16 bits, values on both sides of each power); a
 * 16-bit a < 256 is one PBS, a < 1 at most three. */
static void test_lt_scalar_powers_of_four(void)
{
    static const uint64_t k8[] = {1, 4, 16, 64};
    static const uint64_t x8[] = {0, 1, 3, 4, 15, 16, 63, 64, 0xFF};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(x8); i++) {
        veil_fhe_ct *a = enc(8, x8[i]);
        for (size_t j = 0; j < VEIL_ARRAY_LEN(k8); j++)
            check_cmp(8, a, x8[i], k8[j]);
        veil_fhe_ct_free(a);
    }
    static const uint64_t k16[] = {1, 4, 64, 256, 1024, 4096, 16384};
    static const uint64_t x16[] = {0, 1, 255, 256, 1023, 4096, 16383, 16384, 0xFFFF};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(x16); i++) {
        veil_fhe_ct *a = enc(16, x16[i]);
        for (size_t j = 0; j < VEIL_ARRAY_LEN(k16); j++)
            check_cmp(16, a, x16[i], k16[j]);
        veil_fhe_ct_free(a);
    }
    veil_err err = {0};
    veil_fhe_ct *a = enc(16, 300), *lt = NULL;
    uint64_t p0 = veil_fhe_server_pbs_count(sk);
    CHECK_EQ_INT(veil_fhe_scalar(sk, VEIL_FHE_LT_SCALAR, a, 256, &lt, &err), 0);
    CHECK_EQ_U64(veil_fhe_server_pbs_count(sk) - p0, 1);
    veil_fhe_ct_free(lt);
    p0 = veil_fhe_server_pbs_count(sk);
    CHECK_EQ_INT(veil_fhe_scalar(sk, VEIL_FHE_LT_SCALAR, a, 1, &lt, &err), 0);
    CHECK(veil_fhe_server_pbs_count(sk) - p0 <= 3);
    CHECK_EQ_U64(dec(lt), 0);
    veil_fhe_ct_free(lt);
    veil_fhe_ct_free(a);
}

/* Keys (flag block on top: >= 0x4000 is infeasible) with labels up to 65535. */
static void check_argmin(const uint64_t *x, const uint64_t *labels, size_t n)
{
    veil_fhe_ct **c = calloc(n, sizeof *c);
    CHECK(c != NULL);
    if (!c)
        return;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        c[i] = enc(16, x[i]);
        if (x[i] < x[best])
            best = i;
    }
    veil_err err = {0};
    veil_fhe_ct *idx = NULL, *found = NULL;
    CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)c, labels, n, 16, &idx,
                                         &found, &err),
                 0);
    CHECK_EQ_U64(dec(idx), labels[best]);
    CHECK_EQ_U64(dec(found), x[best] < 0x4000);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(found);
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(c[i]);
    free(c);
}

static void test_argmin_packed_labels(void)
{
    const uint64_t keys[] = {900, 37, 0x4000 | 5, 37, 2000, 36};
    const uint64_t wide[] = {300, 65535, 257, 40000, 4, 1023};
    check_argmin(keys, wide, 6); /* the last key (label 1023) */
    const uint64_t tie[] = {0x4000, 37, 37, 0xC001};
    const uint64_t labels[] = {65534, 700, 12, 256};
    check_argmin(tie, labels, 4); /* the tie: the earlier position (label 700) */
    const uint64_t none[] = {0x4001, 0x8000, 0x4000};
    const uint64_t nl[] = {513, 258, 4095};
    check_argmin(none, nl, 3); /* all flagged: not found */
}

static void setup(void)
{
    veil_err err = {0};
    if (!ck && veil_fhe_keygen(&ck, &sk, &pk, 0, &err) != 0) {
        fprintf(stderr, "keygen: %s\n", err.msg);
        exit(1);
    }
}

static void test_lt_scalar(void)
{
    setup();
    test_lt_scalar_trimmed();
    test_lt_scalar_powers_of_four();
}

static void test_argmin_labels(void)
{
    setup();
    test_argmin_packed_labels();
}

/* A sharded round's merge: 12 keys in 3 shards of 4 (labels: node indices
 * above 256), each shard's (index, found, key) from veil_fhe_argmin_keyed,
 * merged by veil_fhe_argmin_merge; the result must be the unsharded argmin:
 * the smallest key, ties to the earlier shard (the lower index). Shard 1 is
 * all flagged; shards 0 and 2 tie on the minimum. */
static void merge_case(const uint64_t *x, size_t n_shards, size_t per)
{
    size_t n = n_shards * per;
    uint64_t labels[16];
    veil_fhe_ct *k[16], *sidx[4], *sfound[4], *skey[4];
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        labels[i] = 300 + 7 * i;
        k[i] = enc(16, x[i]);
        if (x[i] < x[best])
            best = i;
    }
    veil_err err = {0};
    uint64_t pbs = 0;
    for (size_t sh = 0; sh < n_shards; sh++) {
        CHECK_EQ_INT(veil_fhe_argmin_keyed(sk, (const veil_fhe_ct *const *)&k[sh * per],
                                           &labels[sh * per], per, 16, &sidx[sh], &sfound[sh],
                                           &skey[sh], &pbs, &err),
                     0);
        size_t sb = sh * per; /* the shard's own winner */
        for (size_t i = sh * per; i < (sh + 1) * per; i++)
            if (x[i] < x[sb])
                sb = i;
        CHECK_EQ_U64(dec(sidx[sh]), labels[sb]);
        CHECK_EQ_U64(dec(skey[sh]), x[sb]);
        CHECK_EQ_U64(dec(sfound[sh]), x[sb] < 0x4000);
        CHECK(pbs > 0);
    }
    veil_fhe_ct *idx = NULL, *found = NULL, *key = NULL;
    CHECK_EQ_INT(veil_fhe_argmin_merge(sk, (const veil_fhe_ct *const *)skey,
                                       (const veil_fhe_ct *const *)sidx, n_shards, &idx, &found,
                                       &key, &pbs, &err),
                 0);
    CHECK_EQ_U64(dec(idx), labels[best]);
    CHECK_EQ_U64(dec(found), x[best] < 0x4000);
    CHECK_EQ_U64(dec(key), x[best]);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(found);
    veil_fhe_ct_free(key);
    for (size_t sh = 0; sh < n_shards; sh++) {
        veil_fhe_ct_free(sidx[sh]);
        veil_fhe_ct_free(sfound[sh]);
        veil_fhe_ct_free(skey[sh]);
    }
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(k[i]);
}

static void test_shard_merge(void)
{
    setup();
    const uint64_t x[12] = {900,    37,     0x4000, 2000,    /* shard 0: 37 at 1 */
                            0x4003, 0x8000, 0xC000, 0x4001,  /* shard 1: none */
                            37,     4000,   38,     0x4002}; /* shard 2: ties 37 */
    merge_case(x, 3, 4);
    const uint64_t none[4] = {0x4000, 0x4001, 0x8000, 0xC002};
    merge_case(none, 2, 2); /* nothing feasible anywhere: not found */
    veil_err err = {0};
    veil_fhe_ct *a = enc(16, 1), *i8 = enc(8, 1), *i16 = enc(16, 2), *o1, *o2, *o3;
    const veil_fhe_ct *keys[2] = {a, a}, *mixed[2] = {i8, i16};
    CHECK_EQ_INT(veil_fhe_argmin_merge(sk, keys, mixed, 2, &o1, &o2, &o3, NULL, &err), -1);
    CHECK(o1 == NULL && o3 == NULL);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(i8);
    veil_fhe_ct_free(i16);
}

/* k replicas in one evaluation against k rounds that exclude the nodes
 * already chosen (the plaintext rule of veil_sched_replicas over the keys):
 * ties to the lowest position, flagged keys never found, and once nothing
 * feasible is left every later replica is not found. */
static void check_replicas(const uint64_t *x, const uint64_t *labels, size_t n, unsigned width,
                           size_t k)
{
    veil_fhe_ct *c[8], *idx[8], *found[8];
    for (size_t i = 0; i < n; i++)
        c[i] = enc(16, x[i]);
    veil_err err = {0};
    uint64_t pbs = 0;
    CHECK_EQ_INT(veil_fhe_argmin_replicas(sk, (const veil_fhe_ct *const *)c, labels, n, width, k,
                                          idx, found, &pbs, &err),
                 0);
    bool chosen[8] = {0}, done = false;
    for (size_t r = 0; r < k; r++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!chosen[i] && (best == n || x[i] < x[best]))
                best = i;
        bool want_found = !done && best < n && x[best] < 0x4000;
        CHECK_EQ_U64(dec(found[r]), want_found);
        if (want_found) {
            CHECK_EQ_U64(dec(idx[r]), labels[best]);
            chosen[best] = true;
        } else {
            done = true;
        }
        veil_fhe_ct_free(idx[r]);
        veil_fhe_ct_free(found[r]);
    }
    CHECK(pbs > 0);
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(c[i]);
}

static void test_replicas_one_round(void)
{
    setup();
    const uint64_t x[6] = {50, 20, 0x4000 | 3, 20, 70, 0x8000};
    const uint64_t labels[6] = {10, 11, 12, 13, 14, 15};
    check_replicas(x, labels, 6, 8, 5); /* 11, 13, 10, 14, then none */
    const uint64_t w[4] = {5, 0x4000, 7, 5};
    const uint64_t wide[4] = {300, 65535, 1024, 4097};
    check_replicas(w, wide, 4, 16, 3); /* 300, 4097, 1024: 16-bit labels */
    veil_err err = {0};
    veil_fhe_ct *a = enc(16, 1), *i1[2], *f1[2];
    const veil_fhe_ct *one[1] = {a};
    const uint64_t big[1] = {70000};
    CHECK_EQ_INT(veil_fhe_argmin_replicas(sk, one, big, 1, 32, 1, i1, f1, NULL, &err), -1);
    CHECK_EQ_INT(veil_fhe_argmin_replicas(sk, one, labels, 1, 8, 0, i1, f1, NULL, &err), -1);
    veil_fhe_ct_free(a);
}

/* The plaintext k replicas over x (veil_sched_replicas over the keys): the
 * k smallest (key, position) among the feasible keys, -1 once none is left. */
static void replicas_spec(const uint64_t *x, size_t n, size_t k, long *want)
{
    bool chosen[16] = {0};
    for (size_t r = 0; r < k; r++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!chosen[i] && x[i] < 0x4000 && (best == n || x[i] < x[best]))
                best = i;
        want[r] = best < n ? (long)best : -1;
        if (best < n)
            chosen[best] = true;
    }
}

/* One shard's top k (veil_fhe_argmin_replicas_keyed): its k-list appended to
 * skey / sidx at position sh k + r, checked against the shard's own spec. */
static void shard_top_k(const uint64_t *x, veil_fhe_ct **k_ct, const uint64_t *labels,
                        size_t per, size_t k, veil_fhe_ct **sidx, veil_fhe_ct **skey,
                        uint64_t *pbs)
{
    veil_err err = {0};
    veil_fhe_ct *found[8] = {0};
    long want[8];
    CHECK_EQ_INT(veil_fhe_argmin_replicas_keyed(sk, (const veil_fhe_ct *const *)k_ct, labels,
                                                per, 16, k, sidx, found, skey, pbs, &err),
                 0);
    replicas_spec(x, per, k, want);
    for (size_t r = 0; r < k; r++) {
        CHECK_EQ_U64(dec(found[r]), want[r] >= 0);
        if (want[r] >= 0) {
            CHECK_EQ_U64(dec(sidx[r]), labels[want[r]]);
            CHECK_EQ_U64(dec(skey[r]), x[want[r]]); /* the original key */
        } else {
            CHECK(dec(skey[r]) >= 0x4000); /* infeasible: loses every merge match */
        }
        veil_fhe_ct_free(found[r]);
    }
}

/* Sharded batch rounds: n_shards shards of `per` keys (labels: node indices
 * above 256), each shard's k-list from veil_fhe_argmin_replicas_keyed, merged
 * by veil_fhe_argmin_merge_replicas: equal to the unsharded k replicas. The
 * merge's PBS must not exceed max_pbs (replica j compares only the ranks <= j:
 * docs/SCHEDULING.md). */
static void merge_k_case(const uint64_t *x, size_t n_shards, size_t per, size_t k, uint64_t max_pbs)
{
    size_t n = n_shards * per, m = n_shards * k;
    uint64_t labels[16], pbs = 0, shard_pbs = 0;
    veil_fhe_ct *c[16], *sidx[24], *skey[24], *idx[8], *found[8];
    for (size_t i = 0; i < n; i++) {
        labels[i] = 300 + 7 * i;
        c[i] = enc(16, x[i]);
    }
    for (size_t sh = 0; sh < n_shards; sh++) {
        shard_top_k(&x[sh * per], &c[sh * per], &labels[sh * per], per, k, &sidx[sh * k],
                    &skey[sh * k], &pbs);
        shard_pbs = pbs > shard_pbs ? pbs : shard_pbs;
    }
    veil_err err = {0};
    CHECK_EQ_INT(veil_fhe_argmin_merge_replicas(sk, (const veil_fhe_ct *const *)skey,
                                                (const veil_fhe_ct *const *)sidx, m, k, idx, found,
                                                &pbs, &err),
                 0);
    long want[8];
    replicas_spec(x, n, k, want);
    for (size_t r = 0; r < k; r++) {
        CHECK_EQ_U64(dec(found[r]), want[r] >= 0);
        if (want[r] >= 0)
            CHECK_EQ_U64(dec(idx[r]), labels[want[r]]);
        veil_fhe_ct_free(idx[r]);
        veil_fhe_ct_free(found[r]);
    }
    printf("# merge of %zu shards x %zu keys, k = %zu: %llu PBS (a shard's top k: <= %llu)\n",
           n_shards, per, k, (unsigned long long)pbs, (unsigned long long)shard_pbs);
    CHECK(pbs > 0 && pbs <= max_pbs);
    for (size_t i = 0; i < m; i++) {
        veil_fhe_ct_free(sidx[i]);
        veil_fhe_ct_free(skey[i]);
    }
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(c[i]);
}

static void test_shard_merge_replicas(void)
{
    setup();
    const uint64_t x[12] = {900,    37,     0x4000, 2000,    /* shard 0: 37, 900, 2000 */
                            0x4003, 0x8000, 0xC000, 0x4001,  /* shard 1: none */
                            37,     4000,   38,     0x4002}; /* shard 2: ties 37 */
    merge_k_case(x, 3, 4, 2, 181); /* 37 at 1, 37 at 8: the tie across shards */
    merge_k_case(x, 3, 4, 3, 415); /* then 38 at 10 (666 PBS over all ranks) */
    const uint64_t few[12] = {0x4000, 5,      0x8000, 5,       /* two feasible, tied */
                              0x4003, 0x8000, 0xC000, 0x4001,  /* none */
                              0x4002, 0xC000, 0x4003, 0x4004}; /* none */
    merge_k_case(few, 3, 4, 3, 415); /* fewer feasible than k: the third not found */
    const uint64_t rank_tie[8] = {5, 9,      0x4000, 0x4001,  /* shard 0: 5, then 9 (rank 1) */
                                  9, 0x4002, 20,     0x8000}; /* shard 1: 9 (rank 0), 20 */
    merge_k_case(rank_tie, 2, 4, 2, 181); /* 9 at 1 before 9 at 4: shard-major, not rank-major */
    veil_err err = {0};
    veil_fhe_ct *a = enc(16, 1), *i8 = enc(8, 1), *i16 = enc(16, 2), *o1[2], *o2[2];
    const veil_fhe_ct *keys[2] = {a, a}, *mixed[2] = {i8, i16};
    CHECK_EQ_INT(veil_fhe_argmin_merge_replicas(sk, keys, mixed, 2, 2, o1, o2, NULL, &err), -1);
    CHECK(o1[0] == NULL && o2[1] == NULL);
    CHECK_EQ_INT(veil_fhe_argmin_merge_replicas(sk, keys, mixed, 2, 0, o1, o2, NULL, &err), -1);
    const veil_fhe_ct *three[3] = {a, a, a}, *idx3[3] = {i16, i16, i16};
    CHECK_EQ_INT(veil_fhe_argmin_merge_replicas(sk, three, idx3, 3, 2, o1, o2, NULL, &err), -1);
    CHECK(o1[0] == NULL && o2[1] == NULL); /* 3 candidates are no whole lists of 2 */
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(i8);
    veil_fhe_ct_free(i16);
}

VTEST_MAIN(VTEST(test_lt_scalar), VTEST(test_argmin_labels), VTEST(test_shard_merge),
           VTEST(test_replicas_one_round), VTEST(test_shard_merge_replicas))
