// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_pbs.c - full-parameter PBS tests: every 4-bit input through
 * several lookup tables, bivariate LUTs, the keyswitch on its own, batch
 * and key-generation determinism across thread counts, server-key
 * save/load, public-key ciphertexts through the PBS. Keys are generated
 * once per binary from a fixed test seed.
 */
#include <string.h>
#include <time.h>

#include "core/lwe.h"
#include "keys.h"
#include "serialize.h"
#include "shortint.h"
#include "threadpool.h"
#include "vtest.h"

static struct veil_shortint_client_key *ck;
static struct veil_shortint_server_key *sk;
static const struct veil_fhe_params *P;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void setup(void)
{
    if (ck)
        return;
    uint8_t seed[32] = {1, 2, 3};
    P = veil_fhe_params_default();
    veil_err err = {0};
    double t0 = now_s();
    CHECK(veil_fhe_client_key_generate(&ck, P, seed, &err) == 0);
    seed[0] = 9;
    seed[1] = 2;
    seed[2] = 3;
    CHECK(veil_fhe_server_key_generate(&sk, ck, seed, NULL, &err) == 0);
    fprintf(stderr, "keygen %.3f s\n", now_s() - t0);
}

static uint64_t f_identity(uint64_t x, void *arg)
{
    (void)arg;
    return x;
}
static uint64_t f_square(uint64_t x, void *arg)
{
    (void)arg;
    return (x * x) % 16;
}
static uint64_t f_msg(uint64_t x, void *arg)
{
    (void)arg;
    return x % 4;
}
static uint64_t f_carry(uint64_t x, void *arg)
{
    (void)arg;
    return x / 4;
}
static uint64_t f_const(uint64_t x, void *arg)
{
    (void)x;
    return *(uint64_t *)arg;
}

static void test_encrypt_decrypt(void)
{
    setup();
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, P, NULL) == 0);
    for (uint64_t m = 0; m < 16; m++) {
        CHECK(veil_shortint_encrypt(ck, m, &ct, NULL) == 0);
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &ct), m);
    }
    veil_err err = {0};
    CHECK(veil_shortint_encrypt(ck, 16, &ct, &err) < 0);
    veil_shortint_ct_free(&ct);
}

static void test_pbs_all_inputs(void)
{
    setup();
    uint64_t seven = 7;
    struct {
        uint64_t (*f)(uint64_t, void *);
        void *arg;
    } luts[] = {
        {f_identity, NULL}, {f_square, NULL}, {f_msg, NULL}, {f_carry, NULL}, {f_const, &seven}};
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, P, NULL) == 0);
    double t0 = now_s();
    int runs = 0;
    for (size_t l = 0; l < sizeof luts / sizeof luts[0]; l++) {
        struct veil_shortint_lut lut;
        CHECK(veil_shortint_lut_init(&lut, P, luts[l].f, luts[l].arg, NULL) == 0);
        for (uint64_t m = 0; m < 16; m++) {
            CHECK(veil_shortint_encrypt(ck, m, &ct, NULL) == 0);
            CHECK(veil_shortint_apply_lut(sk, &ct, &lut, NULL) == 0);
            runs++;
            uint64_t got = veil_shortint_decrypt(ck, &ct), want = luts[l].f(m, luts[l].arg) % 16;
            if (got != want)
                fprintf(stderr, "lut %zu input %llu: got %llu want %llu\n", l,
                        (unsigned long long)m, (unsigned long long)got, (unsigned long long)want);
            CHECK_EQ_U64(got, want);
        }
        veil_shortint_lut_free(&lut);
    }
    fprintf(stderr, "KS+PBS %.3f ms each\n", (now_s() - t0) / runs * 1e3);
    veil_shortint_ct_free(&ct);
}

static uint64_t f_bivariate(uint64_t x, void *arg)
{
    (void)arg;
    uint64_t a = x / 4, b = x % 4;
    return (a * b + (a > b)) % 16;
}

static void test_bivariate_lut(void)
{
    setup();
    struct veil_shortint_lut lut;
    CHECK(veil_shortint_lut_init(&lut, P, f_bivariate, NULL, NULL) == 0);
    struct veil_shortint_ct a, b, packed;
    CHECK(veil_shortint_ct_init(&a, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&b, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&packed, P, NULL) == 0);
    for (uint64_t x = 0; x < 4; x++)
        for (uint64_t y = 0; y < 4; y++) {
            CHECK(veil_shortint_encrypt(ck, x, &a, NULL) == 0);
            CHECK(veil_shortint_encrypt(ck, y, &b, NULL) == 0);
            veil_shortint_pack_pair(P, &packed, &a, &b);
            CHECK(veil_shortint_apply_lut(sk, &packed, &lut, NULL) == 0);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &packed), (x * y + (x > y)) % 16);
            CHECK_EQ_U64(packed.degree, lut.degree);
            CHECK_EQ_INT(packed.noise_level, 1);
        }
    /* add with carry, then extract message and carry by PBS */
    struct veil_shortint_lut lmsg, lcarry;
    CHECK(veil_shortint_lut_init(&lmsg, P, f_msg, NULL, NULL) == 0);
    CHECK(veil_shortint_lut_init(&lcarry, P, f_carry, NULL, NULL) == 0);
    CHECK(veil_shortint_encrypt(ck, 3, &a, NULL) == 0);
    CHECK(veil_shortint_encrypt(ck, 2, &b, NULL) == 0);
    veil_shortint_add_assign(P, &a, &b);
    veil_shortint_ct_copy(&packed, &a, P);
    CHECK(veil_shortint_apply_lut(sk, &a, &lmsg, NULL) == 0);
    CHECK(veil_shortint_apply_lut(sk, &packed, &lcarry, NULL) == 0);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &a), 1);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &packed), 1);
    veil_shortint_lut_free(&lmsg);
    veil_shortint_lut_free(&lcarry);
    veil_shortint_lut_free(&lut);
    veil_shortint_ct_free(&a);
    veil_shortint_ct_free(&b);
    veil_shortint_ct_free(&packed);
}

static void test_keyswitch_full(void)
{
    setup();
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, P, NULL) == 0);
    uint64_t *out = malloc((P->lwe_dim + 1) * 8);
    uint32_t *acc = malloc((P->lwe_dim + 1) * 4);
    for (uint64_t m = 0; m < 16; m++) {
        CHECK(veil_shortint_encrypt(ck, m, &ct, NULL) == 0);
        veil_fhe_lwe_keyswitch32(out, ct.data, sk->ksk32, veil_fhe_big_lwe_dim(P), P->lwe_dim,
                                 P->ks_base_log, P->ks_level, acc);
        int64_t e =
            (int64_t)(veil_fhe_lwe_phase(out, ck->small_key, P->lwe_dim) - m * veil_fhe_delta(P));
        /* KS noise: std ~2^53 from 8192 TUniform(2^45) rows, plus the 2^47 rounding */
        CHECK(llabs(e) < (INT64_C(1) << 57));
    }
    free(out);
    free(acc);
    veil_shortint_ct_free(&ct);
}

/* The same batch on 1, 2 and 3 threads, and the same blocks bootstrapped one
 * at a time, give byte-identical ciphertexts (batches are grouped, and the
 * keyswitch split into word ranges, differently depending on the pool
 * size). */
static void test_batch_determinism(void)
{
    setup();
    enum { N_CT = 7 };
    struct veil_shortint_ct a[N_CT], b[N_CT], c[N_CT], d[N_CT];
    struct veil_shortint_ct *pa[N_CT], *pb[N_CT], *pd[N_CT];
    struct veil_shortint_lut lsq, lid;
    CHECK(veil_shortint_lut_init(&lsq, P, f_square, NULL, NULL) == 0);
    CHECK(veil_shortint_lut_init(&lid, P, f_identity, NULL, NULL) == 0);
    const struct veil_shortint_lut *luts[N_CT];
    for (int i = 0; i < N_CT; i++) {
        CHECK(veil_shortint_ct_init(&a[i], P, NULL) == 0);
        CHECK(veil_shortint_ct_init(&b[i], P, NULL) == 0);
        CHECK(veil_shortint_ct_init(&c[i], P, NULL) == 0);
        CHECK(veil_shortint_ct_init(&d[i], P, NULL) == 0);
        CHECK(veil_shortint_encrypt(ck, (uint64_t)i * 3 % 16, &a[i], NULL) == 0);
        veil_shortint_ct_copy(&b[i], &a[i], P);
        veil_shortint_ct_copy(&c[i], &a[i], P);
        veil_shortint_ct_copy(&d[i], &a[i], P);
        pa[i] = &a[i];
        pb[i] = &b[i];
        pd[i] = &d[i];
        luts[i] = i % 2 ? &lsq : &lid;
    }
    struct veil_threadpool *one = NULL, *two = NULL, *three = NULL;
    CHECK(veil_threadpool_create(&one, 1, NULL) == 0);
    CHECK(veil_threadpool_create(&two, 2, NULL) == 0);
    CHECK(veil_threadpool_create(&three, 3, NULL) == 0);
    CHECK(veil_shortint_apply_lut_batch(sk, pa, luts, N_CT, one, NULL) == 0);
    CHECK(veil_shortint_apply_lut_batch(sk, pb, luts, N_CT, two, NULL) == 0);
    /* a lone block on three threads: its keyswitch is cut in three */
    CHECK(veil_shortint_apply_lut_batch(sk, pd, luts, 1, three, NULL) == 0);
    CHECK(veil_shortint_apply_lut_batch(sk, pd + 1, luts + 1, N_CT - 1, three, NULL) == 0);
    for (int i = 0; i < N_CT; i++)
        CHECK(veil_shortint_apply_lut(sk, &c[i], luts[i], NULL) == 0);
    for (int i = 0; i < N_CT; i++) {
        CHECK_EQ_MEM(a[i].data, b[i].data, (veil_fhe_big_lwe_dim(P) + 1) * 8);
        CHECK_EQ_MEM(a[i].data, c[i].data, (veil_fhe_big_lwe_dim(P) + 1) * 8);
        CHECK_EQ_MEM(a[i].data, d[i].data, (veil_fhe_big_lwe_dim(P) + 1) * 8);
        CHECK_EQ_U64(a[i].degree, luts[i]->degree);
        uint64_t m = (uint64_t)i * 3 % 16;
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &a[i]), i % 2 ? (m * m) % 16 : m);
        veil_shortint_ct_free(&a[i]);
        veil_shortint_ct_free(&b[i]);
        veil_shortint_ct_free(&c[i]);
        veil_shortint_ct_free(&d[i]);
    }
    veil_threadpool_destroy(one);
    veil_threadpool_destroy(two);
    veil_threadpool_destroy(three);
    veil_shortint_lut_free(&lsq);
    veil_shortint_lut_free(&lid);
}

/* Key generation on 1 and 2 threads, and save -> load, give the same key
 * bytes; the loaded key bootstraps to the same ciphertext bytes. */
static void test_server_key_determinism_and_load(void)
{
    setup();
    uint8_t seed[32] = {9, 2, 3};
    struct veil_threadpool *two = NULL;
    CHECK(veil_threadpool_create(&two, 2, NULL) == 0);
    struct veil_shortint_server_key *sk2 = NULL, *sk3 = NULL;
    double t0 = now_s();
    CHECK(veil_fhe_server_key_generate(&sk2, ck, seed, two, NULL) == 0);
    fprintf(stderr, "keygen (2 threads) %.3f s\n", now_s() - t0);
    veil_buf b1, b2;
    veil_buf_init(&b1);
    veil_buf_init(&b2);
    veil_err err = {0};
    CHECK(veil_fhe_server_key_save(sk, &b1, &err) == 0);
    CHECK(veil_fhe_server_key_save(sk2, &b2, &err) == 0);
    CHECK_EQ_U64(b1.len, b2.len);
    CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    fprintf(stderr, "server key file %zu bytes\n", b1.len);
    const size_t fourier = P->lwe_dim * veil_fhe_ggsw_fourier_doubles(&sk->bsk_shape);
    CHECK_EQ_MEM(sk->bsk_fourier, sk2->bsk_fourier, fourier * sizeof(double));
    t0 = now_s();
    CHECK(veil_fhe_server_key_load(b1.data, b1.len, P, two, &sk3, &err) == 0);
    fprintf(stderr, "server key load %.3f s\n", now_s() - t0);
    CHECK_EQ_MEM(sk->bsk_fourier, sk3->bsk_fourier, fourier * sizeof(double));
    CHECK_EQ_MEM(sk->ksk32, sk3->ksk32,
                 veil_fhe_server_key_ksk_rows(P) * (P->lwe_dim + 1) * sizeof(uint32_t));
    struct veil_shortint_ct x, y;
    struct veil_shortint_lut lut;
    CHECK(veil_shortint_lut_init(&lut, P, f_square, NULL, NULL) == 0);
    CHECK(veil_shortint_ct_init(&x, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&y, P, NULL) == 0);
    CHECK(veil_shortint_encrypt(ck, 3, &x, NULL) == 0);
    veil_shortint_ct_copy(&y, &x, P);
    CHECK(veil_shortint_apply_lut(sk, &x, &lut, NULL) == 0);
    CHECK(veil_shortint_apply_lut(sk3, &y, &lut, NULL) == 0);
    CHECK_EQ_MEM(x.data, y.data, (veil_fhe_big_lwe_dim(P) + 1) * 8);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &y), 9);
    /* A corrupted server key file is rejected before any expansion. */
    b1.data[1000] ^= 1;
    struct veil_shortint_server_key *bad = NULL;
    CHECK(veil_fhe_server_key_load(b1.data, b1.len, P, NULL, &bad, &err) < 0);
    CHECK_CONTAINS(err.msg, "corrupted");
    CHECK(veil_fhe_server_key_load(b1.data, b1.len - 100, P, NULL, &bad, &err) < 0);
    CHECK_CONTAINS(err.msg, "truncated");
    veil_shortint_ct_free(&x);
    veil_shortint_ct_free(&y);
    veil_shortint_lut_free(&lut);
    veil_buf_free(&b1);
    veil_buf_free(&b2);
    veil_fhe_server_key_free(sk2);
    veil_fhe_server_key_free(sk3);
    veil_threadpool_destroy(two);
}

/* Public-key (compact list) blocks go through KS+PBS like any other. */
static void test_public_key_blocks_bootstrap(void)
{
    setup();
    struct veil_fhe_public_key *pk = NULL;
    CHECK(veil_fhe_public_key_generate(&pk, ck, NULL, NULL) == 0);
    uint64_t vals[4] = {0, 1, 2, 3};
    struct veil_fhe_compact_list *list = NULL;
    CHECK(veil_fhe_compact_list_encrypt(&list, pk, vals, 4, NULL) == 0);
    struct veil_shortint_lut lut;
    CHECK(veil_shortint_lut_init(&lut, P, f_square, NULL, NULL) == 0);
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, P, NULL) == 0);
    for (size_t i = 0; i < 4; i++) {
        CHECK(veil_fhe_compact_list_expand(list, i, &ct, NULL) == 0);
        CHECK(veil_shortint_apply_lut(sk, &ct, &lut, NULL) == 0);
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &ct), vals[i] * vals[i]);
    }
    veil_shortint_ct_free(&ct);
    veil_shortint_lut_free(&lut);
    veil_fhe_compact_list_free(list);
    veil_fhe_public_key_free(pk);
}

static uint64_t f_inc(uint64_t x, void *arg)
{
    (void)arg;
    return x + 1;
}

/* Two functions from one PBS: every input below 8, both outputs exact; the
 * two-function job mixed into a batch with one-function jobs. */
static void test_many_lut(void)
{
    setup();
    struct veil_shortint_lut2 lut2;
    CHECK(veil_shortint_lut2_init(&lut2, P, f_inc, NULL, f_square, NULL, NULL) == 0);
    CHECK_EQ_U64(lut2.degree[0], 8);
    CHECK_EQ_U64(lut2.degree[1], 9); /* max of x*x mod 16 for x < 8 */
    struct veil_shortint_ct in, fo, go;
    CHECK(veil_shortint_ct_init(&in, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&fo, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&go, P, NULL) == 0);
    for (uint64_t x = 0; x < 8; x++) {
        CHECK(veil_shortint_encrypt(ck, x, &in, NULL) == 0);
        in.degree = 7;
        CHECK(veil_shortint_apply_lut2(sk, &in, &lut2, &fo, &go, NULL) == 0);
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &fo), x + 1);
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &go), (x * x) % 16);
        CHECK_EQ_U64(fo.degree, lut2.degree[0]);
        CHECK_EQ_U64(go.degree, lut2.degree[1]);
    }
    /* in place (out_f == in) */
    CHECK(veil_shortint_encrypt(ck, 5, &in, NULL) == 0);
    in.degree = 7; /* encryption of a value >= 4 claims the whole space */
    CHECK(veil_shortint_apply_lut2(sk, &in, &lut2, &in, &go, NULL) == 0);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &in), 6);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &go), 9);
    /* an input that may reach the upper half is refused */
    veil_err err = {0};
    CHECK(veil_shortint_encrypt(ck, 1, &in, NULL) == 0);
    in.degree = 8;
    CHECK(veil_shortint_apply_lut2(sk, &in, &lut2, &fo, &go, &err) < 0);
    CHECK_CONTAINS(err.msg, "degree");

    /* A mixed batch on two threads equals the jobs run one by one. */
    struct veil_shortint_lut lsq;
    CHECK(veil_shortint_lut_init(&lsq, P, f_square, NULL, NULL) == 0);
    enum { NJ = 5 };
    struct veil_shortint_ct a[NJ], a2[NJ], ref[NJ], ref2[NJ];
    struct veil_shortint_pbs_job jobs[NJ];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < NJ; i++) {
        CHECK(veil_shortint_ct_init(&a[i], P, NULL) == 0);
        CHECK(veil_shortint_ct_init(&a2[i], P, NULL) == 0);
        CHECK(veil_shortint_ct_init(&ref[i], P, NULL) == 0);
        CHECK(veil_shortint_ct_init(&ref2[i], P, NULL) == 0);
        CHECK(veil_shortint_encrypt(ck, (uint64_t)i + 1, &a[i], NULL) == 0);
        a[i].degree = 7;
        veil_shortint_ct_copy(&ref[i], &a[i], P);
        jobs[i].in = &a[i];
        jobs[i].out = &a[i];
        if (i % 2) {
            jobs[i].lut2 = &lut2;
            jobs[i].out2 = &a2[i];
            CHECK(veil_shortint_apply_lut2(sk, &ref[i], &lut2, &ref[i], &ref2[i], NULL) == 0);
        } else {
            jobs[i].lut = &lsq;
            CHECK(veil_shortint_apply_lut(sk, &ref[i], &lsq, NULL) == 0);
        }
    }
    struct veil_threadpool *two = NULL;
    CHECK(veil_threadpool_create(&two, 2, NULL) == 0);
    CHECK(veil_shortint_apply_jobs(sk, jobs, NJ, two, NULL) == 0);
    const size_t bytes = (veil_fhe_big_lwe_dim(P) + 1) * 8;
    for (int i = 0; i < NJ; i++) {
        uint64_t x = (uint64_t)i + 1;
        CHECK_EQ_MEM(a[i].data, ref[i].data, bytes);
        if (i % 2) {
            CHECK_EQ_MEM(a2[i].data, ref2[i].data, bytes);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &a[i]), x + 1);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &a2[i]), (x * x) % 16);
        } else {
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &a[i]), (x * x) % 16);
        }
        veil_shortint_ct_free(&a[i]);
        veil_shortint_ct_free(&a2[i]);
        veil_shortint_ct_free(&ref[i]);
        veil_shortint_ct_free(&ref2[i]);
    }
    /* malformed jobs are refused */
    struct veil_shortint_pbs_job bad = {.in = &in, .out = &in};
    CHECK(veil_shortint_apply_jobs(sk, &bad, 1, NULL, &err) < 0);
    CHECK_CONTAINS(err.msg, "malformed");
    veil_threadpool_destroy(two);
    veil_shortint_lut_free(&lsq);
    veil_shortint_lut2_free(&lut2);
    veil_shortint_ct_free(&in);
    veil_shortint_ct_free(&fo);
    veil_shortint_ct_free(&go);
}

VTEST_MAIN(VTEST(test_encrypt_decrypt), VTEST(test_pbs_all_inputs), VTEST(test_bivariate_lut),
           VTEST(test_keyswitch_full), VTEST(test_batch_determinism),
           VTEST(test_server_key_determinism_and_load), VTEST(test_public_key_blocks_bootstrap),
           VTEST(test_many_lut))
