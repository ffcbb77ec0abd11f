// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_integer_ops.c - encrypted radix operations against a plaintext oracle
 * (slow: every operation bootstraps). Edge values (0, max, equal operands,
 * overflow wrap) and random values at 8 and 16 bits, a sample at 32 and 64 bits,
 * argmin/argmax with ties (rule: the lowest index wins), public-key inputs,
 * identical bytes for 1 and 2 threads, and errors for mismatched operands.
 * The cases are split over three ctest entries (same source, case names as args).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/fhe.h>

#include "vtest.h"

static veil_fhe_client *ck;
static veil_fhe_server *sk;
static veil_fhe_public *pk;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) /* deterministic test values (splitmix64) */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void setup(void)
{
    if (ck)
        return;
    veil_err err = {0};
    if (veil_fhe_keygen(&ck, &sk, &pk, 0, &err) != 0) {
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

static int report(const char *what, unsigned w, uint64_t x, uint64_t y, uint64_t got, uint64_t want)
{
    if (got == want)
        return 1;
    fprintf(stderr, "%s (%u bits) x=%llu y=%llu: got %llu want %llu\n", what, w,
            (unsigned long long)x, (unsigned long long)y, (unsigned long long)got,
            (unsigned long long)want);
    return 0;
}

static void check_binop(enum veil_fhe_binop op, const char *name, unsigned w, veil_fhe_ct *a,
                        veil_fhe_ct *b, uint64_t x, uint64_t y, uint64_t want)
{
    veil_err err = {0};
    veil_fhe_ct *o = NULL;
    int rc = veil_fhe_binop(sk, op, a, b, &o, &err);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    CHECK(report(name, w, x, y, dec(o), want));
    veil_fhe_ct_free(o);
}

static void check_scalar(enum veil_fhe_scalar_op op, const char *name, unsigned w, veil_fhe_ct *a,
                         uint64_t x, uint64_t k, uint64_t want)
{
    veil_err err = {0};
    veil_fhe_ct *o = NULL;
    int rc = veil_fhe_scalar(sk, op, a, k, &o, &err);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", name, err.msg);
    CHECK(report(name, w, x, k, dec(o), want));
    veil_fhe_ct_free(o);
}

/* Every operation on one pair (x, y) of width w. full = 0 skips the costlier ones. */
static void check_pair(unsigned w, uint64_t x, uint64_t y, int full)
{
    uint64_t m = mask_of(w);
    veil_fhe_ct *a = enc(w, x), *b = enc(w, y);
    check_binop(VEIL_FHE_ADD, "add", w, a, b, x, y, (x + y) & m);
    check_binop(VEIL_FHE_SUB, "sub", w, a, b, x, y, (x - y) & m);
    check_binop(VEIL_FHE_LT, "lt", w, a, b, x, y, x < y);
    check_binop(VEIL_FHE_EQ, "eq", w, a, b, x, y, x == y);
    check_binop(VEIL_FHE_MIN, "min", w, a, b, x, y, x < y ? x : y);
    if (full) {
        check_binop(VEIL_FHE_AND, "and", w, a, b, x, y, x & y);
        check_binop(VEIL_FHE_OR, "or", w, a, b, x, y, x | y);
        check_binop(VEIL_FHE_XOR, "xor", w, a, b, x, y, x ^ y);
        check_binop(VEIL_FHE_MAX, "max", w, a, b, x, y, x > y ? x : y);
        check_binop(VEIL_FHE_NE, "ne", w, a, b, x, y, x != y);
        check_binop(VEIL_FHE_LE, "le", w, a, b, x, y, x <= y);
        check_binop(VEIL_FHE_GT, "gt", w, a, b, x, y, x > y);
        check_binop(VEIL_FHE_GE, "ge", w, a, b, x, y, x >= y);
    }
    uint64_t k = y; /* scalars: reuse y, which covers 0, max and random */
    check_scalar(VEIL_FHE_ADD_SCALAR, "add_scalar", w, a, x, k, (x + k) & m);
    check_scalar(VEIL_FHE_SUB_SCALAR, "sub_scalar", w, a, x, k, (x - k) & m);
    check_scalar(VEIL_FHE_EQ_SCALAR, "eq_scalar", w, a, x, k, x == k);
    check_scalar(VEIL_FHE_LT_SCALAR, "lt_scalar", w, a, x, k, x < k);
    if (full) {
        check_scalar(VEIL_FHE_NE_SCALAR, "ne_scalar", w, a, x, k, x != k);
        check_scalar(VEIL_FHE_LE_SCALAR, "le_scalar", w, a, x, k, x <= k);
        check_scalar(VEIL_FHE_GT_SCALAR, "gt_scalar", w, a, x, k, x > k);
        check_scalar(VEIL_FHE_GE_SCALAR, "ge_scalar", w, a, x, k, x >= k);
    }
    uint64_t km = full ? k : (k & 0xff);
    check_scalar(VEIL_FHE_MUL_SCALAR, "mul_scalar", w, a, x, km, (x * km) & m);
    unsigned sh = (unsigned)(y % (w + 1));
    check_scalar(VEIL_FHE_SHL, "shl", w, a, x, sh, sh >= w ? 0 : (x << sh) & m);
    check_scalar(VEIL_FHE_SHR, "shr", w, a, x, sh, sh >= w ? 0 : x >> sh);
    veil_err err = {0};
    veil_fhe_ct *o = NULL;
    CHECK(veil_fhe_neg(sk, a, &o, &err) == 0);
    CHECK(report("neg", w, x, 0, dec(o), (0 - x) & m));
    veil_fhe_ct_free(o);
    CHECK(veil_fhe_not(sk, a, &o, &err) == 0);
    CHECK(report("not", w, x, 0, dec(o), ~x & m));
    veil_fhe_ct_free(o);
    veil_fhe_ct *c = enc(1, x & 1);
    CHECK(veil_fhe_select(sk, c, a, b, &o, &err) == 0);
    CHECK(report("select", w, x, y, dec(o), (x & 1) ? x : y));
    veil_fhe_ct_free(o);
    veil_fhe_ct_free(c);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
}

static void check_width(unsigned w, int n_random)
{
    setup();
    uint64_t m = mask_of(w);
    uint64_t r = rnd() & m;
    const uint64_t edges[][2] = {{0, 0}, {m, m}, {m, 1}, {0, m}, {m / 2 + 1, m / 2}, {r, r}};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(edges); i++)
        check_pair(w, edges[i][0], edges[i][1], 1);
    for (int i = 0; i < n_random; i++)
        check_pair(w, rnd() & m, rnd() & m, 1);
}

static void test_ops_8(void)
{
    check_width(8, 3);
}

static void test_ops_16(void)
{
    check_width(16, 2);
}

static void test_ops_32_64(void)
{
    setup();
    check_pair(32, rnd() & 0xffffffffu, rnd() & 0xffffffffu, 0);
    check_pair(32, 0xffffffffu, 0x80000000u, 0);
    check_pair(64, rnd(), rnd(), 0);
    check_pair(64, ~0ull, 1, 0);
}

static void test_bool_ops(void)
{
    setup();
    for (uint64_t x = 0; x < 2; x++) {
        for (uint64_t y = 0; y < 2; y++) {
            veil_fhe_ct *a = enc(1, x), *b = enc(1, y);
            check_binop(VEIL_FHE_AND, "bool and", 1, a, b, x, y, x & y);
            check_binop(VEIL_FHE_OR, "bool or", 1, a, b, x, y, x | y);
            check_binop(VEIL_FHE_XOR, "bool xor", 1, a, b, x, y, x ^ y);
            check_binop(VEIL_FHE_EQ, "bool eq", 1, a, b, x, y, x == y);
            /* Results of bitwise ops are booleans again (degree 1): they chain,
             * and serialize/deserialize as booleans. */
            veil_err err = {0};
            veil_fhe_ct *or1 = NULL, *or2 = NULL;
            CHECK(veil_fhe_binop(sk, VEIL_FHE_OR, a, b, &or1, &err) == 0);
            CHECK(veil_fhe_binop(sk, VEIL_FHE_OR, or1, a, &or2, &err) == 0);
            CHECK(report("bool or(or(a, b), a)", 1, x, y, dec(or2), x | y));
            veil_buf ser;
            veil_buf_init(&ser);
            veil_fhe_ct *back = NULL;
            CHECK(or1 && veil_fhe_ct_serialize(or1, &ser, &err) == 0);
            CHECK(veil_fhe_ct_deserialize(ser.data, ser.len, &back, &err) == 0);
            CHECK(report("bool or reloaded", 1, x, y, dec(back), x | y));
            veil_buf_free(&ser);
            veil_fhe_ct_free(back);
            veil_fhe_ct_free(or1);
            veil_fhe_ct_free(or2);
            veil_fhe_ct *o = NULL;
            CHECK(veil_fhe_not(sk, a, &o, &err) == 0);
            CHECK(report("bool not", 1, x, 0, dec(o), !x));
            veil_fhe_ct_free(o);
            veil_fhe_ct_free(a);
            veil_fhe_ct_free(b);
        }
    }
}

/* Plaintext oracle: lowest index of the extreme value. */
static size_t oracle_arg(const uint64_t *v, size_t n, int want_max)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (want_max ? v[i] > v[best] : v[i] < v[best])
            best = i;
    return best;
}

static void check_argext(unsigned w, const uint64_t *v, size_t n, int want_max)
{
    veil_fhe_ct **cts = calloc(n, sizeof *cts);
    for (size_t i = 0; i < n; i++)
        cts[i] = enc(w, v[i]);
    veil_err err = {0};
    veil_fhe_ct *idx = NULL, *val = NULL;
    int rc = veil_fhe_argext(sk, want_max, (const veil_fhe_ct *const *)cts, n, &idx, &val, &err);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "argext: %s\n", err.msg);
    size_t best = oracle_arg(v, n, want_max);
    CHECK(report(want_max ? "argmax index" : "argmin index", w, n, 0, dec(idx), best));
    CHECK(report(want_max ? "argmax value" : "argmin value", w, n, 0, dec(val), v[best]));
    CHECK(idx && veil_fhe_ct_width(idx) == 8);
    veil_fhe_ct_free(idx);
    veil_fhe_ct_free(val);
    for (size_t i = 0; i < n; i++)
        veil_fhe_ct_free(cts[i]);
    free(cts);
}

static void test_argmin_argmax(void)
{
    setup();
    const uint64_t one[] = {42};
    const uint64_t ties[] = {7, 3, 9, 3, 3, 250, 3}; /* min 3 first at 1, max at 5 */
    const uint64_t all_equal[] = {5, 5, 5, 5, 5};    /* both: index 0 */
    const uint64_t edges[] = {255, 0, 255, 0, 128};  /* min at 1, max at 0 */
    for (int mx = 0; mx < 2; mx++) {
        check_argext(8, one, 1, mx);
        check_argext(8, ties, VEIL_ARRAY_LEN(ties), mx);
        check_argext(8, all_equal, VEIL_ARRAY_LEN(all_equal), mx);
        check_argext(8, edges, VEIL_ARRAY_LEN(edges), mx);
    }
    uint64_t r[9];
    for (size_t i = 0; i < 9; i++)
        r[i] = rnd() & 0xffff;
    r[6] = r[2]; /* a tie somewhere */
    check_argext(16, r, 9, 0);
    check_argext(16, r, 9, 1);
}

/* More than 256 inputs: the index becomes an FheUint16 (here over booleans, the
 * cheapest values, so the test stays short). */
static void test_argmin_wide_index(void)
{
    setup();
    enum { N = 260, ZERO_AT = 258 };
    veil_fhe_ct **cts = calloc(N, sizeof *cts);
    for (size_t i = 0; i < N; i++)
        cts[i] = enc(1, i == ZERO_AT ? 0 : 1);
    veil_err err = {0};
    for (int mx = 0; mx < 2; mx++) {
        veil_fhe_ct *idx = NULL, *val = NULL;
        CHECK(veil_fhe_argext(sk, mx, (const veil_fhe_ct *const *)cts, N, &idx, &val, &err) == 0);
        CHECK(idx && veil_fhe_ct_width(idx) == 16);
        CHECK_EQ_U64(dec(idx), mx ? 0 : ZERO_AT);
        CHECK_EQ_U64(dec(val), mx ? 1 : 0);
        veil_fhe_ct_free(idx);
        veil_fhe_ct_free(val);
    }
    for (size_t i = 0; i < N; i++)
        veil_fhe_ct_free(cts[i]);
    free(cts);
}

static void test_public_key_inputs(void)
{
    setup();
    veil_err err = {0};
    veil_fhe_ct *a = NULL, *b = NULL, *c = NULL, *o = NULL;
    CHECK(veil_fhe_encrypt_public(pk, 16, 40000, &a, &err) == 0);
    CHECK(veil_fhe_encrypt_public(pk, 16, 1234, &b, &err) == 0);
    CHECK(veil_fhe_encrypt_public(pk, 1, 1, &c, &err) == 0);
    CHECK_EQ_U64(dec(a), 40000);
    CHECK_EQ_U64(dec(c), 1);
    check_binop(VEIL_FHE_LT, "pk lt", 16, a, b, 40000, 1234, 0);
    check_binop(VEIL_FHE_MIN, "pk min", 16, a, b, 40000, 1234, 1234);
    check_binop(VEIL_FHE_ADD, "pk add", 16, a, b, 40000, 1234, 41234);
    CHECK(veil_fhe_select(sk, c, b, a, &o, &err) == 0);
    CHECK_EQ_U64(dec(o), 1234);
    veil_fhe_ct_free(o);
    const veil_fhe_ct *v[3] = {a, b, a};
    veil_fhe_ct *idx = NULL;
    CHECK(veil_fhe_argext(sk, 0, v, 3, &idx, NULL, &err) == 0);
    CHECK_EQ_U64(dec(idx), 1);
    veil_fhe_ct_free(idx);
    CHECK(veil_fhe_encrypt_public(pk, 8, 300, &o, &err) != 0); /* does not fit */
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
    veil_fhe_ct_free(c);

    /* Several values in one compact list (what a node publishes), expanded
     * into ciphertexts the server key computes on. */
    const uint64_t vals[3] = {65535, 0, 4097};
    veil_buf list;
    veil_buf_init(&list);
    CHECK(veil_fhe_compact_encrypt(pk, 16, vals, 3, &list, &err) == 0);
    CHECK(list.len < 20000);
    veil_fhe_ct *w[3] = {NULL, NULL, NULL};
    CHECK(veil_fhe_compact_expand(list.data, list.len, 16, w, 3, &err) == 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_U64(dec(w[i]), vals[i]);
    if (w[0] && w[2])
        check_binop(VEIL_FHE_MIN, "compact min", 16, w[0], w[2], vals[0], vals[2], vals[2]);
    for (int i = 0; i < 3; i++)
        veil_fhe_ct_free(w[i]);
    /* The count and width must match the list exactly. */
    CHECK(veil_fhe_compact_expand(list.data, list.len, 16, w, 2, &err) != 0);
    CHECK_CONTAINS(err.msg, "not 2 values of 16 bits");
    CHECK(w[0] == NULL && w[1] == NULL);
    CHECK(veil_fhe_compact_expand(list.data, list.len - 1, 16, w, 3, &err) != 0);
    const uint64_t too_big[1] = {70000};
    CHECK(veil_fhe_compact_encrypt(pk, 16, too_big, 1, &list, &err) != 0);
    veil_buf_free(&list);
}

/* Trivial (public constant) operands mixed with encrypted ones, as the scheduler
 * uses them: select(c, a, 0), lt(a, NONE), and a constant that does not fit. */
static void test_trivial_operands(void)
{
    setup();
    veil_err err = {0};
    veil_fhe_ct *zero = NULL, *none = NULL, *a = enc(32, 77777), *c = enc(1, 0), *o = NULL;
    CHECK(veil_fhe_trivial(sk, 32, 0, &zero, &err) == 0);
    CHECK(veil_fhe_trivial(sk, 32, 0x3ffff, &none, &err) == 0);
    CHECK_EQ_U64(dec(none), 0x3ffff);
    CHECK(veil_fhe_select(sk, c, a, zero, &o, &err) == 0);
    CHECK_EQ_U64(dec(o), 0);
    veil_fhe_ct_free(o);
    check_binop(VEIL_FHE_LT, "lt trivial", 32, a, none, 77777, 0x3ffff, 1);
    check_binop(VEIL_FHE_ADD, "add trivial", 32, a, none, 77777, 0x3ffff, 77777 + 0x3ffff);
    CHECK(veil_fhe_scalar(sk, VEIL_FHE_EQ_SCALAR, a, 1ull << 40, &o, &err) != 0);
    CHECK_CONTAINS(err.msg, "does not fit");
    CHECK(veil_fhe_trivial(sk, 8, 256, &o, &err) != 0);
    veil_fhe_ct_free(zero);
    veil_fhe_ct_free(none);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(c);
}

static void digest_of(const veil_fhe_ct *ct, uint8_t d[32])
{
    veil_err err = {0};
    memset(d, 0, 32);
    if (ct)
        veil_fhe_ct_digest(ct, d, &err);
}

static void test_thread_determinism(void)
{
    setup();
    veil_err err = {0};
    veil_fhe_ct *a = enc(16, rnd() & 0xffff), *b = enc(16, rnd() & 0xffff), *c = enc(16, 3);
    uint8_t d[2][3][32];
    for (int t = 0; t < 2; t++) {
        CHECK(veil_fhe_server_set_threads(sk, t == 0 ? 1 : 2, &err) == 0);
        veil_fhe_ct *sum = NULL, *mn = NULL, *idx = NULL;
        CHECK(veil_fhe_binop(sk, VEIL_FHE_ADD, a, b, &sum, &err) == 0);
        CHECK(veil_fhe_binop(sk, VEIL_FHE_MIN, a, b, &mn, &err) == 0);
        const veil_fhe_ct *v[3] = {a, b, c};
        CHECK(veil_fhe_argext(sk, 0, v, 3, &idx, NULL, &err) == 0);
        digest_of(sum, d[t][0]);
        digest_of(mn, d[t][1]);
        digest_of(idx, d[t][2]);
        veil_fhe_ct_free(sum);
        veil_fhe_ct_free(mn);
        veil_fhe_ct_free(idx);
    }
    CHECK_EQ_MEM(d[0][0], d[1][0], 32);
    CHECK_EQ_MEM(d[0][1], d[1][1], 32);
    CHECK_EQ_MEM(d[0][2], d[1][2], 32);
    CHECK(veil_fhe_server_set_threads(sk, 0, &err) == 0);
    veil_fhe_ct_free(a);
    veil_fhe_ct_free(b);
    veil_fhe_ct_free(c);
}

static void test_operand_errors(void)
{
    setup();
    veil_err err = {0};
    veil_fhe_ct *a8 = enc(8, 1), *a16 = enc(16, 1), *bit = enc(1, 1), *o = NULL;
    CHECK(veil_fhe_binop(sk, VEIL_FHE_ADD, a8, a16, &o, &err) != 0);
    CHECK_CONTAINS(err.msg, "widths differ");
    CHECK(veil_fhe_binop(sk, VEIL_FHE_ADD, bit, bit, &o, &err) != 0);
    CHECK_CONTAINS(err.msg, "booleans");
    CHECK(veil_fhe_select(sk, a8, a8, a8, &o, &err) != 0);
    CHECK_CONTAINS(err.msg, "boolean");
    CHECK(veil_fhe_argext(sk, 0, NULL, 0, &o, NULL, &err) != 0);
    const veil_fhe_ct *mixed[2] = {a8, a16};
    CHECK(veil_fhe_argext(sk, 0, mixed, 2, &o, NULL, &err) != 0);
    CHECK(o == NULL);
    veil_fhe_ct_free(a8);
    veil_fhe_ct_free(a16);
    veil_fhe_ct_free(bit);
}

VTEST_MAIN(VTEST(test_ops_8), VTEST(test_ops_16), VTEST(test_ops_32_64), VTEST(test_bool_ops),
           VTEST(test_argmin_argmax), VTEST(test_public_key_inputs), VTEST(test_thread_determinism),
           VTEST(test_operand_errors), VTEST(test_trivial_operands), VTEST(test_argmin_wide_index))
