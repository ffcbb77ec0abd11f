// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_carry.c - the carry plan of radix addition and subtraction
 * (integer.c propagate: group carries looked ahead, carries inside a group
 * rippled through two-function LUTs) and the level placement of the PBS
 * graph (integer.c place_jobs). Carry chains start at every block and cross
 * every group boundary; results are checked against plain arithmetic and
 * must be byte-identical on 1, 2 and 3 threads (the placement depends on the
 * pool size, the bits must not). The PBS count and depth of the plan are
 * pinned: they are what the FheUint16 add figure in docs/BENCHMARKS.md rests
 * on, and a change to them must be deliberate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/fhe.h>

#include "vtest.h"

static veil_fhe_client *ck;
static veil_fhe_server *sk;

static void setup(void)
{
    if (ck)
        return;
    veil_err err = {0};
    if (veil_fhe_keygen(&ck, &sk, NULL, 2, &err) != 0) {
        fprintf(stderr, "keygen: %s\n", err.msg);
        exit(1);
    }
}

static uint64_t mask_of(unsigned w)
{
    return w == 64 ? ~0ull : (1ull << w) - 1;
}

static veil_fhe_ct *enc(unsigned w, uint64_t v)
{
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    if (veil_fhe_encrypt(ck, w, v & mask_of(w), &ct, &err) != 0)
        fprintf(stderr, "encrypt: %s\n", err.msg);
    return ct;
}

/* a OP b (already encrypted as ca, cb) on `threads` threads: checks the
 * value, returns the digest of the result. */
static void eval_ct(unsigned w, int sub, const veil_fhe_ct *ca, const veil_fhe_ct *cb, uint64_t a,
                    uint64_t b, unsigned threads, uint8_t digest[VEIL_FHE_DIGEST_SIZE],
                    uint64_t *pbs, uint64_t *rounds)
{
    veil_err err = {0};
    veil_fhe_ct *out = NULL;
    CHECK(veil_fhe_server_set_threads(sk, threads, &err) == 0);
    uint64_t p0 = veil_fhe_server_pbs_count(sk), r0 = veil_fhe_server_pbs_rounds(sk);
    CHECK(veil_fhe_binop(sk, sub ? VEIL_FHE_SUB : VEIL_FHE_ADD, ca, cb, &out, &err) == 0);
    if (pbs)
        *pbs = veil_fhe_server_pbs_count(sk) - p0;
    if (rounds)
        *rounds = veil_fhe_server_pbs_rounds(sk) - r0;
    uint64_t got = 0, want = (sub ? a - b : a + b) & mask_of(w);
    CHECK(out && veil_fhe_decrypt(ck, out, &got, &err) == 0);
    if (got != want)
        fprintf(stderr, "u%u %s: %llx %c %llx = %llx, want %llx\n", w, sub ? "sub" : "add",
                (unsigned long long)a, sub ? '-' : '+', (unsigned long long)b,
                (unsigned long long)got, (unsigned long long)want);
    CHECK_EQ_U64(got, want);
    memset(digest, 0, VEIL_FHE_DIGEST_SIZE);
    CHECK(out && veil_fhe_ct_digest(out, digest, &err) == 0);
    veil_fhe_ct_free(out);
}

/* a OP b on each of the thread counts in `threads` (0-terminated): the
 * results must decrypt right and be byte-identical. */
static void eval_all(unsigned w, int sub, uint64_t a, uint64_t b, const unsigned *threads,
                     uint64_t *pbs, uint64_t *rounds)
{
    veil_fhe_ct *ca = enc(w, a), *cb = enc(w, b);
    CHECK(ca && cb);
    uint8_t first[VEIL_FHE_DIGEST_SIZE], d[VEIL_FHE_DIGEST_SIZE];
    for (size_t t = 0; ca && cb && threads[t]; t++) {
        uint64_t p = 0, r = 0;
        eval_ct(w, sub, ca, cb, a, b, threads[t], t == 0 ? first : d, &p, &r);
        if (t == 0) {
            if (pbs)
                *pbs = p;
            if (rounds)
                *rounds = r;
            continue;
        }
        CHECK_EQ_MEM(first, d, sizeof d);
        /* the placement on levels depends on the pool, the plan does not */
        if (pbs)
            CHECK_EQ_U64(p, *pbs);
        if (rounds)
            CHECK_EQ_U64(r, *rounds);
    }
    veil_fhe_ct_free(ca);
    veil_fhe_ct_free(cb);
}

static const unsigned threads_123[] = {1, 2, 3, 0};
static const unsigned threads_12[] = {1, 2, 0};

/* PBS count and rounds of add per width: the plan (12 PBS in 6 rounds for
 * FheUint16, where looking every carry ahead took 16 in 5). */
static void test_plan_counts(void)
{
    setup();
    static const struct {
        unsigned w;
        uint64_t pbs, rounds;
    } plan[] = {{8, 7, 3}, {16, 12, 6}, {32, 35, 6}, {64, 77, 9}};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        uint64_t pbs = 0, rounds = 0;
        eval_all(plan[i].w, 0, 0x0123456789abcdefull, 0xfedcba9876543210ull, threads_12, &pbs,
                 &rounds);
        CHECK_EQ_U64(pbs, plan[i].pbs);
        CHECK_EQ_U64(rounds, plan[i].rounds);
        eval_all(plan[i].w, 1, 0x0123456789abcdefull, 0xfedcba9876543210ull, threads_12, &pbs,
                 &rounds);
        CHECK_EQ_U64(pbs, plan[i].pbs);
        CHECK_EQ_U64(rounds, plan[i].rounds);
    }
}

/* Carry chains of every length from every block, on 1, 2 and 3 threads. */
static void check_chains(unsigned w)
{
    const unsigned blocks = w / 2;
    const uint64_t m = mask_of(w);
    for (unsigned k = 0; k < blocks; k++) {
        uint64_t one = 1ull << (2 * k);
        /* generate at block k (3 + 1 or 2 + 2), then propagate (3) to the top */
        uint64_t cases[][3] = {
            {m, one, 0},                               /* a carry from block k to the top and out */
            {m & ~(one - 1), 2 * one, 0},              /* 2 + 3 at block k, zeros below */
            {(m ^ (3 * one)) | (2 * one), 2 * one, 0}, /* 2 + 2 at block k, 3s above */
            {0, one, 1},                               /* a borrow from block k to the top */
            {one << 2 & m, one, 1},                    /* a borrow across one block */
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            eval_all(w, (int)cases[c][2], cases[c][0], cases[c][1], threads_123, NULL, NULL);
    }
}

static void test_chains_16(void)
{
    setup();
    check_chains(16);
}

/* FheUint32: several lookahead groups (resolve_carries over group states). */
static void test_chains_32_sample(void)
{
    setup();
    const uint64_t m = mask_of(32);
    static const uint64_t pairs[][2] = {
        {0xffffffffull, 1},          {0xfffffff0ull, 0x10},       {0x3fffffffull, 0x40000000ull},
        {0xffff0000ull, 0x00010000}, {0x0000ffffull, 0xffff0001}, {0x12345678ull, 0xedcba988ull},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        eval_all(32, 0, pairs[i][0], pairs[i][1], threads_12, NULL, NULL);
        eval_all(32, 1, pairs[i][1] & m, pairs[i][0], threads_12, NULL, NULL);
    }
    CHECK(veil_fhe_server_set_threads(sk, 0, NULL) == 0);
}

/* A graph whose levels the placement does refill on two threads (FheUint16
 * times 7: its 8 levels cost 18 two-thread rounds of PBS at the earliest
 * levels, 17 as placed): same bits, same number of levels on 1, 2 and 3
 * threads. */
static void test_placement_scalar_mul(void)
{
    setup();
    veil_err err = {0};
    veil_fhe_ct *a = enc(16, 12345);
    uint8_t first[VEIL_FHE_DIGEST_SIZE], d[VEIL_FHE_DIGEST_SIZE];
    uint64_t rounds0 = 0;
    for (size_t t = 0; a && threads_123[t]; t++) {
        veil_fhe_ct *out = NULL;
        uint64_t got = 0;
        CHECK(veil_fhe_server_set_threads(sk, threads_123[t], &err) == 0);
        uint64_t r0 = veil_fhe_server_pbs_rounds(sk);
        CHECK(veil_fhe_scalar(sk, VEIL_FHE_MUL_SCALAR, a, 7, &out, &err) == 0);
        uint64_t rounds = veil_fhe_server_pbs_rounds(sk) - r0;
        CHECK(out && veil_fhe_decrypt(ck, out, &got, &err) == 0);
        CHECK_EQ_U64(got, (12345u * 7u) & 0xffff);
        CHECK(out && veil_fhe_ct_digest(out, t == 0 ? first : d, &err) == 0);
        if (t == 0)
            rounds0 = rounds;
        else
            CHECK_EQ_MEM(first, d, sizeof d);
        CHECK_EQ_U64(rounds, rounds0);
        veil_fhe_ct_free(out);
    }
    veil_fhe_ct_free(a);
    CHECK(veil_fhe_server_set_threads(sk, 0, NULL) == 0);
}

int main(int argc, char **argv)
{
    static const struct vtest_case cases[] = {VTEST(test_plan_counts), VTEST(test_chains_16),
                                              VTEST(test_chains_32_sample),
                                              VTEST(test_placement_scalar_mul)};
    int rc = vtest_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    veil_fhe_server_free(sk);
    veil_fhe_client_free(ck);
    return rc;
}
