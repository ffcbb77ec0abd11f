// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_sched_ops.c - the FHE operations the placement circuit uses
 * (veil_fhe_sum_bits(_masked), veil_fhe_flag_top, veil_fhe_argmin_labeled,
 * veil_fhe_argmin_node_keys, veil_fhe_truncate) against a plaintext oracle, their PBS costs (the
 * circuit's budget depends on them), byte-identical results for 1 and 2
 * threads, and their operand errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/fhe.h>

#include "vtest.h"

static veil_fhe_client *ck;
static veil_fhe_server *sk;

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void setup(void)
{
    if (ck)
        return;
    veil_err err = {0};
    if (veil_fhe_keygen(&ck, &sk, NULL, 0, &err) != 0) {
        fprintf(stderr, "keygen: %s\n", err.msg);
        exit(1);
    }
}

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

static uint64_t pbs(void)
{
    return veil_fhe_server_pbs_count(sk);
}

static uint64_t field_sum(const uint64_t *x, size_t n, unsigned shift, unsigned bits)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += shift >= 64 ? 0 : (x[i] >> shift) & ((1ull << bits) - 1);
    return s;
}

static void test_sum_bits(void)
{
    setup();
    static const struct {
        unsigned width, shift, bits;
        size_t n;
    } cases[] = {
        {16, 4, 12, 2}, {16, 4, 12, 1}, {16, 0, 12, 4}, {16, 0, 14, 1},
        {16, 6, 10, 3}, {8, 2, 4, 3},   {32, 8, 16, 2}, {16, 16, 2, 2},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        uint64_t x[4];
        veil_fhe_ct *c[4];
        for (size_t i = 0; i < cases[t].n; i++) {
            x[i] = rnd() & ((1ull << cases[t].width) - 1);
            if (i == 0)
                x[i] |= (1ull << cases[t].width) - 1; /* saturated: every carry */
            c[i] = enc(cases[t].width, x[i]);
        }
        veil_err err = {0};
        veil_fhe_ct *out = NULL;
        uint64_t p0 = pbs();
        CHECK_EQ_INT(veil_fhe_sum_bits(sk, (const veil_fhe_ct *const *)c, cases[t].n,
                                       cases[t].shift, cases[t].bits, &out, &err),
                     0);
        uint64_t cost = pbs() - p0;
        CHECK_EQ_U64(dec(out), field_sum(x, cases[t].n, cases[t].shift, cases[t].bits));
        CHECK_EQ_INT(veil_fhe_ct_width(out), cases[t].width);
        if (cases[t].n == 1)
            CHECK_EQ_U64(cost, 0); /* one field: block moves only */
        if (t == 0)
            CHECK(cost <= 13); /* the 16-node budget counts on ~12 */
        veil_fhe_ct_free(out);
        for (size_t i = 0; i < cases[t].n; i++)
            veil_fhe_ct_free(c[i]);
    }
}

static void test_sum_bits_masked(void)
{
    setup();
    for (size_t n = 1; n <= 4; n++) {
        uint64_t x[4], m[4], want = 0;
        veil_fhe_ct *c[4], *mc[4];
        for (size_t i = 0; i < n; i++) {
            x[i] = rnd() & 0xFFFF;
            m[i] = rnd() & 1;
            if (m[i])
                want += (x[i] >> 4) & 0xFFF;
            c[i] = enc(16, x[i]);
            mc[i] = enc(1, m[i]);
        }
        veil_err err = {0};
        veil_fhe_ct *out = NULL;
        uint64_t p0 = pbs();
        CHECK_EQ_INT(veil_fhe_sum_bits_masked(sk, (const veil_fhe_ct *const *)c,
                                              (const veil_fhe_ct *const *)mc, n, 4, 12, &out, &err),
                     0);
        uint64_t cost = pbs() - p0;
        CHECK_EQ_U64(dec(out), want);
        if (n == 1)
            CHECK_EQ_U64(cost, 6); /* one PBS per field block */
        /* the result's top block is known zero: it takes flags */
        veil_fhe_ct *flagged = NULL, *f = enc(1, 1);
        CHECK_EQ_INT(veil_fhe_flag_top(sk, out, (const veil_fhe_ct *const *)&f, 1, &flagged, &err),
                     0);
        CHECK_EQ_U64(dec(flagged), want + 0x4000);
        veil_fhe_ct_free(flagged);
        veil_fhe_ct_free(f);
        veil_fhe_ct_free(out);
        for (size_t i = 0; i < n; i++) {
            veil_fhe_ct_free(c[i]);
            veil_fhe_ct_free(mc[i]);
        }
    }
    /* a mask must be a boolean */
    veil_fhe_ct *a = enc(16, 1), *out = NULL;
    const veil_fhe_ct *vals[1] = {a}, *masks[1] = {a};
    veil_err err = {0};
    CHECK_EQ_INT(veil_fhe_sum_bits_masked(sk, vals, masks, 1, 4, 12, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "not a boolean");
    veil_fhe_ct_free(a);
}

/* veil_fhe_sum_weighted: sum_i w_i (x_i mod 2^bits) with boolean operands
 * counting their value, on saturated and random fields, the weights the
 * weighted placement uses (latency 0..16, load 0..4, the unmeasured flag
 * 2^13); the result takes flags; an overflowing bound is refused. */
static void test_sum_weighted(void)
{
    setup();
    static const uint64_t wsets[][6] = {
        {16, 4, 4, 4, 4, 8192}, {1, 1, 0, 0, 0, 8192}, {3, 2, 2, 2, 2, 8192},
        {0, 1, 1, 0, 0, 8192},  {7, 0, 0, 0, 0, 8192}, {13, 3, 1, 2, 4, 8192},
    };
    for (size_t t = 0; t < sizeof wsets / sizeof wsets[0]; t++) {
        uint64_t x[6], want = 0;
        veil_fhe_ct *c[6];
        for (size_t i = 0; i < 6; i++) {
            bool is_bool = i == 5;
            x[i] = is_bool ? rnd() & 1 : rnd() & 0xFFFF;
            if (t == 0)
                x[i] = is_bool ? 1 : 0xFFFF; /* the bound itself: every carry */
            want += wsets[t][i] * (is_bool ? x[i] : x[i] & 0xFF);
            c[i] = enc(is_bool ? 1 : 16, x[i]);
        }
        veil_err err = {0};
        veil_fhe_ct *out = NULL;
        uint64_t p0 = pbs();
        CHECK_EQ_INT(
            veil_fhe_sum_weighted(sk, (const veil_fhe_ct *const *)c, wsets[t], 6, 8, &out, &err),
            0);
        uint64_t cost = pbs() - p0;
        CHECK_EQ_U64(dec(out), want);
        CHECK_EQ_INT(veil_fhe_ct_width(out), 16);
        CHECK(cost <= 60); /* the weighted policy's budget: ~11-51 measured */
        printf("# sum_weighted case %zu: %llu PBS\n", t, (unsigned long long)cost);
        veil_fhe_ct *flagged = NULL, *f = enc(1, 1);
        CHECK_EQ_INT(veil_fhe_flag_top(sk, out, (const veil_fhe_ct *const *)&f, 1, &flagged, &err),
                     0);
        CHECK_EQ_U64(dec(flagged), want + 0x4000);
        veil_fhe_ct_free(flagged);
        veil_fhe_ct_free(f);
        veil_fhe_ct_free(out);
        for (size_t i = 0; i < 6; i++)
            veil_fhe_ct_free(c[i]);
    }
    /* the bound: 258 x 255 does not fit 16 bits (257 x 255 does) */
    veil_fhe_ct *a = enc(16, 1), *out = NULL;
    const veil_fhe_ct *vals[1] = {a};
    const uint64_t big[1] = {258};
    veil_err err = {0};
    CHECK_EQ_INT(veil_fhe_sum_weighted(sk, vals, big, 1, 8, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "overflows");
    veil_fhe_ct_free(a);
}

static void test_flag_top(void)
{
    setup();
    uint64_t x = 0x2ABC; /* below 2^14 after the field sum */
    veil_fhe_ct *v = enc(16, x), *val = NULL;
    veil_err err = {0};
    CHECK_EQ_INT(veil_fhe_sum_bits(sk, (const veil_fhe_ct *const *)&v, 1, 0, 14, &val, &err), 0);
    for (size_t n = 0; n <= 6; n++) {
        veil_fhe_ct *f[6];
        unsigned set = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned b = (unsigned)(rnd() & 1);
            set += b;
            f[i] = enc(1, b);
        }
        veil_fhe_ct *out = NULL;
        uint64_t p0 = pbs();
        CHECK_EQ_INT(veil_fhe_flag_top(sk, val, (const veil_fhe_ct *const *)f, n, &out, &err), 0);
        /* fresh flags have noise 1: five fit one sum (max_noise_level 5) */
        CHECK_EQ_U64(pbs() - p0, n <= 3 ? 0 : n <= 5 ? 1 : 2);
        CHECK_EQ_U64(dec(out), x + (1u << 14) * (set < 3 ? set : 3));
        veil_fhe_ct_free(out);
        for (size_t i = 0; i < n; i++)
            veil_fhe_ct_free(f[i]);
    }
    /* A value whose top block may be non-zero is refused. */
    veil_fhe_ct *out = NULL, *b = enc(1, 1);
    CHECK_EQ_INT(veil_fhe_flag_top(sk, v, (const veil_fhe_ct *const *)&b, 1, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "top block");
    /* A non-boolean flag is refused. */
    CHECK_EQ_INT(veil_fhe_flag_top(sk, val, (const veil_fhe_ct *const *)&v, 1, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "not a boolean");
    CHECK(out == NULL);
    veil_fhe_ct_free(b);
    veil_fhe_ct_free(v);
    veil_fhe_ct_free(val);
}

static void test_argmin_labeled(void)
{
    setup();
    static const size_t sizes[] = {1, 2, 5, 7};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        uint64_t x[7], labels[7];
        veil_fhe_ct *c[7];
        for (size_t i = 0; i < n; i++) {
            /* small values: ties; some flagged (>= 2^14) */
            x[i] = rnd() % 4 == 0 ? 0xC000 | (rnd() & 0xFF) : rnd() % 6;
            labels[i] = 3 * i + 40 + t;
            c[i] = enc(16, x[i]);
        }
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (x[i] < x[best])
                best = i;
        veil_err err = {0};
        veil_fhe_ct *idx = NULL, *found = NULL;
        CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)c, labels, n, 16, &idx,
                                             &found, &err),
                     0);
        if (!idx)
            fprintf(stderr, "argmin of %zu: %s\n", n, err.msg);
        CHECK_EQ_U64(dec(idx), labels[best]);
        CHECK_EQ_U64(dec(found), x[best] < 0x4000);
        CHECK_EQ_INT(veil_fhe_ct_width(idx), 16);
        CHECK_EQ_INT(veil_fhe_ct_width(found), 1);
        veil_fhe_ct_free(idx);
        veil_fhe_ct_free(found);
        /* every key flagged: not found */
        if (n == 2) {
            veil_fhe_ct *g[2] = {enc(16, 0x4000), enc(16, 0xFFFF)};
            CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)g, labels, 2, 8,
                                                 &idx, &found, &err),
                         0);
            CHECK_EQ_U64(dec(found), 0);
            CHECK_EQ_U64(dec(idx), labels[0]);
            veil_fhe_ct_free(idx);
            veil_fhe_ct_free(found);
            veil_fhe_ct_free(g[0]);
            veil_fhe_ct_free(g[1]);
        }
        for (size_t i = 0; i < n; i++)
            veil_fhe_ct_free(c[i]);
    }
}

/* Keys whose high blocks are trivially zero in every input (8-bit priority
 * codes in 16-bit keys, flags on top): those columns are skipped, which the
 * PBS count shows, and the result is still the oracle's. */
static void test_argmin_zero_columns(void)
{
    setup();
    enum { K = 5 };
    uint64_t x[K] = {200, 17, 17, 255, 3}, flags[K] = {0, 0, 1, 0, 1}, labels[K];
    veil_fhe_ct *raw[K], *field[K], *key[K], *flag[K];
    veil_err err = {0};
    for (int i = 0; i < K; i++) {
        labels[i] = (uint64_t)i;
        raw[i] = enc(16, x[i] | 0xAB00); /* the high byte is not part of the code */
        CHECK_EQ_INT(
            veil_fhe_sum_bits(sk, (const veil_fhe_ct *const *)&raw[i], 1, 0, 8, &field[i], &err),
            0);
        flag[i] = enc(1, flags[i]);
        CHECK_EQ_INT(
            veil_fhe_flag_top(sk, field[i], (const veil_fhe_ct *const *)&flag[i], 1, &key[i], &err),
            0);
    }
    /* fields only: 4 live columns of 8, every top block zero -> found = 1 */
    veil_fhe_ct *idx = NULL, *found = NULL;
    uint64_t p0 = pbs();
    CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)field, labels, K, 16, &idx,
                                         &found, &err),
                 0);
    uint64_t narrow = pbs() - p0;
    CHECK_EQ_U64(dec(idx), 4);
    CHECK_EQ_U64(dec(found), 1);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(found);
    /* flagged keys: columns 4..6 skipped; node 4 (3) and 2 (17) are flagged */
    p0 = pbs();
    CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)key, labels, K, 16, &idx,
                                         &found, &err),
                 0);
    uint64_t flagged = pbs() - p0;
    CHECK_EQ_U64(dec(idx), 1);
    CHECK_EQ_U64(dec(found), 1);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(found);
    /* the same values as full 16-bit keys cost more */
    p0 = pbs();
    CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)raw, labels, K, 16, &idx,
                                         &found, &err),
                 0);
    uint64_t wide = pbs() - p0;
    CHECK_EQ_U64(dec(idx), 4);
    CHECK(narrow < flagged && flagged < wide);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(found);
    for (int i = 0; i < K; i++) {
        veil_fhe_ct_free(raw[i]);
        veil_fhe_ct_free(field[i]);
        veil_fhe_ct_free(key[i]);
        veil_fhe_ct_free(flag[i]);
    }
}

static void test_truncate(void)
{
    setup();
    veil_fhe_ct *a = enc(16, 0xAB5C), *t = NULL, *ne = NULL, *b = enc(1, 1);
    veil_err err = {0};
    uint64_t p0 = pbs();
    CHECK_EQ_INT(veil_fhe_truncate(sk, a, 8, &t, &err), 0);
    CHECK_EQ_U64(pbs() - p0, 0);
    CHECK_EQ_INT(veil_fhe_ct_width(t), 8);
    CHECK_EQ_U64(dec(t), 0x5C);
    /* an 8-bit comparison with a constant is cheaper than the 16-bit one */
    p0 = pbs();
    CHECK_EQ_INT(veil_fhe_scalar(sk, VEIL_FHE_NE_SCALAR, t, 0x5C, &ne, &err), 0);
    CHECK_EQ_U64(dec(ne), 0);
    CHECK(pbs() - p0 <= 3);
    veil_fhe_ct_free(ne);
    veil_fhe_ct *same = NULL;
    CHECK_EQ_INT(veil_fhe_truncate(sk, a, 16, &same, &err), 0);
    CHECK_EQ_U64(dec(same), 0xAB5C);
    veil_fhe_ct_free(same);
    veil_fhe_ct *bad = NULL;
    CHECK_EQ_INT(veil_fhe_truncate(sk, t, 16, &bad, &err), -1); /* widening */
    CHECK_CONTAINS(err.msg, "truncate");
    CHECK_EQ_INT(veil_fhe_truncate(sk, b, 8, &bad, &err), -1);  /* a boolean */
    CHECK_EQ_INT(veil_fhe_truncate(sk, a, 12, &bad, &err), -1); /* no such width */
    CHECK(bad == NULL);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(t);
    veil_fhe_ct_free(b);
}

static void digest(const veil_fhe_ct *ct, uint8_t out[VEIL_FHE_DIGEST_SIZE])
{
    veil_err err = {0};
    memset(out, 0, VEIL_FHE_DIGEST_SIZE);
    CHECK_EQ_INT(veil_fhe_ct_digest(ct, out, &err), 0);
}

/* The same ops at 1 and 2 threads give byte-identical ciphertexts (redundant
 * schedulers compare digests). */
static void test_thread_determinism(void)
{
    setup();
    veil_fhe_ct *a = enc(16, 0xF123), *b = enc(16, 0x0FFF), *f = enc(1, 1), *g = enc(1, 0);
    uint8_t d[2][4][VEIL_FHE_DIGEST_SIZE];
    veil_err err = {0};
    for (int run = 0; run < 2; run++) {
        CHECK_EQ_INT(veil_fhe_server_set_threads(sk, run ? 2 : 1, &err), 0);
        const veil_fhe_ct *ab[2] = {a, b};
        veil_fhe_ct *s = NULL, *t = NULL, *idx = NULL, *found = NULL;
        CHECK_EQ_INT(veil_fhe_sum_bits(sk, ab, 2, 4, 12, &s, &err), 0);
        const veil_fhe_ct *fl[4] = {f, g, f, f};
        CHECK_EQ_INT(veil_fhe_flag_top(sk, s, fl, 4, &t, &err), 0);
        const veil_fhe_ct *keys[3] = {t, a, s};
        const uint64_t labels[3] = {7, 8, 9};
        CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, keys, labels, 3, 16, &idx, &found, &err), 0);
        CHECK_EQ_U64(dec(idx), 9);
        CHECK_EQ_U64(dec(found), 1);
        digest(t, d[run][0]);
        digest(idx, d[run][1]);
        digest(found, d[run][2]);
        const veil_fhe_ct *masks[2] = {f, g};
        veil_fhe_ct *sm = NULL;
        CHECK_EQ_INT(veil_fhe_sum_bits_masked(sk, ab, masks, 2, 4, 12, &sm, &err), 0);
        CHECK_EQ_U64(dec(sm), 0xF12);
        digest(sm, d[run][3]);
        veil_fhe_ct_free(sm);
        veil_fhe_ct_free(s);
        veil_fhe_ct_free(t);
        veil_fhe_ct_free(idx);
        veil_fhe_ct_free(found);
    }
    CHECK_EQ_MEM(d[0], d[1], sizeof d[0]);
    CHECK_EQ_INT(veil_fhe_server_set_threads(sk, 0, &err), 0);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
    veil_fhe_ct_free(f);
    veil_fhe_ct_free(g);
}

static void test_operand_errors(void)
{
    setup();
    veil_fhe_ct *a = enc(16, 5), *b8 = enc(8, 5), *t = enc(1, 1), *out = NULL, *out2 = NULL;
    const veil_fhe_ct *five[5] = {a, a, a, a, a};
    veil_err err = {0};
    /* 5 x (2^14 - 1) does not fit 16 bits */
    CHECK_EQ_INT(veil_fhe_sum_bits(sk, five, 5, 0, 14, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "overflows");
    CHECK_EQ_INT(veil_fhe_sum_bits(sk, five, 2, 3, 12, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "even");
    CHECK_EQ_INT(veil_fhe_sum_bits(sk, five, 0, 0, 12, &out, &err), -1);
    const veil_fhe_ct *mixed[2] = {a, b8};
    CHECK_EQ_INT(veil_fhe_sum_bits(sk, mixed, 2, 0, 4, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "widths differ");
    const veil_fhe_ct *bools[1] = {t};
    CHECK_EQ_INT(veil_fhe_sum_bits(sk, bools, 1, 0, 2, &out, &err), -1);
    CHECK(out == NULL);
    const uint64_t labels[2] = {1, 300};
    const veil_fhe_ct *two[2] = {a, a};
    CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, two, labels, 2, 8, &out, &out2, &err), -1);
    CHECK_CONTAINS(err.msg, "does not fit");
    CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, two, labels, 0, 16, &out, &out2, &err), -1);
    CHECK(out == NULL && out2 == NULL);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b8);
    veil_fhe_ct_free(t);
}

/* Node keys (a score below 2^14 - 1, or 0xFFFF): veil_fhe_argmin_node_keys
 * gives the plaintext argmin's index and found over them in both found
 * modes (under 16 keys: the top block carried; from 16: the low blocks
 * read), and (full) argmin_labeled's result for more PBS; ties, every key
 * infeasible, 16382 winning against infeasible keys. */
static void check_node_keys(const uint64_t *x, const uint64_t *labels, size_t n, bool full)
{
    veil_fhe_ct *c[20];
    for (size_t i = 0; i < n; i++)
        c[i] = enc(16, x[i]);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] < x[best])
            best = i;
    veil_err err = {0};
    veil_fhe_ct *idx = NULL, *found = NULL;
    uint64_t p0 = pbs();
    CHECK_EQ_INT(veil_fhe_argmin_node_keys(sk, (const veil_fhe_ct *const *)c, labels, n, 8, &idx,
                                           &found, &err),
                 0);
    uint64_t cheap = pbs() - p0;
    CHECK_EQ_U64(dec(found), x[best] < 0x4000);
    if (x[best] < 0x4000)
        CHECK_EQ_U64(dec(idx), labels[best]);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(found);
    if (full) {
        p0 = pbs();
        CHECK_EQ_INT(veil_fhe_argmin_labeled(sk, (const veil_fhe_ct *const *)c, labels, n, 8, &idx,
                                             &found, &err),
                     0);
        uint64_t cost = pbs() - p0;
        fprintf(stderr, "# node keys, %zu: %llu PBS (argmin_labeled %llu)\n", n,
                (unsigned long long)cheap, (unsigned long long)cost);
        CHECK(cheap < cost);
        CHECK_EQ_U64(dec(found), x[best] < 0x4000);
        if (x[best] < 0x4000)
            CHECK_EQ_U64(dec(idx), labels[best]);
        veil_fhe_ct_free(idx);
        veil_fhe_ct_free(found);
    }
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(c[i]);
}

static void test_argmin_node_keys(void)
{
    setup();
    static const size_t sizes[] = {1, 3, 6, 17};
    for (size_t t = 0; t < VEIL_ARRAY_LEN(sizes); t++) {
        size_t n = sizes[t];
        uint64_t x[20], labels[20];
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd();
            x[i] = r % 3 == 0 ? 0xFFFF : r % 3 == 1 ? (r >> 8) % 16381 : (r >> 8) % 4;
            labels[i] = 7 * i + 1 + t;
        }
        check_node_keys(x, labels, n, n == 6);
        if (n == 17) { /* the largest non-sentinel value, tied, against infeasible keys */
            for (size_t i = 0; i < n; i++)
                x[i] = i == 5 || i == 16 ? 16382 : 0xFFFF;
            check_node_keys(x, labels, n, false);
        }
    }
    uint64_t none[16], nl[16];
    for (size_t i = 0; i < 16; i++) {
        none[i] = 0xFFFF;
        nl[i] = i;
    }
    check_node_keys(none, nl, 16, false); /* nobody feasible: not found */
}

VTEST_MAIN(VTEST(test_sum_bits), VTEST(test_sum_bits_masked), VTEST(test_sum_weighted),
           VTEST(test_flag_top), VTEST(test_argmin_labeled), VTEST(test_argmin_zero_columns),
           VTEST(test_argmin_node_keys), VTEST(test_truncate), VTEST(test_thread_determinism),
           VTEST(test_operand_errors))
