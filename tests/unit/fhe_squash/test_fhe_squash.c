// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_squash.c - noise squashing end to end through the public API
 * (include/veil/squash.h) with one fresh 64-bit key set and one seeded
 * squashing key shared by every case:
 *   - every 4-bit block value v (message and carry) squashes to v * 2^123:
 *     the 16 blocks of an FheUint32 are replaced by shortint encryptions of
 *     0..15 and squashed in one call;
 *   - FheBool, FheUint8 and FheUint16 values (edges and middles) decrypt
 *     with the squashing secret after the squash;
 *   - the squashed noise of every block above, measured against the
 *     theoretical variance (docs/NOISE_SQUASHING.md): within a factor 3,
 *     and every |e| below 2^VEIL_SQ_LOG_NOISE_BOUND; then every coefficient
 *     of two blind-rotation outputs (4096 samples of the same noise):
 *     within a factor 2, as test_fhe_noise;
 *   - the packed encoding (two blocks per squashed block): the same values
 *     decrypt from half the squashed blocks, each block's 4-bit value
 *     lo + 4 hi checked and its noise recorded; blocks whose carries are not
 *     clean are refused, and the compact squash then falls back to one block
 *     per squash;
 *   - the squashed bits (digests) are identical with 1, 2 and 3 threads, in
 *     both encodings;
 *   - a batch of ciphertexts squashed in one pass over the key gives each
 *     the same bits as its own compact squash;
 *   - the key saved and loaded squashes to the same digest; truncated,
 *     corrupted and wrong-kind key files are refused with clear errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <veil/fhe.h>
#include <veil/squash.h>

#include "core/lwe.h"
#include "core/pbs128.h"
#include "integer.h"
#include "keys.h"
#include "shortint.h"
#include "squash_internal.h"
#include "api_internal.h"
#include "vtest.h"

static veil_fhe_client *g_ck;
static veil_fhe_server *g_sk;
static veil_sq_key *g_key;
static veil_sq_secret g_secret;
static double g_err2_sum; /* squared phase errors of every checked block */
static size_t g_err_n;
static double g_err_max;

static const uint8_t sq_seed[32] = {0x5a, 0x11};

/* Squashed noise variance in absolute units (q = 2^128): n CMux steps, each
 * adding the GGSW noise times the digits and the decomposition rounding
 * error times the GLWE key (docs/NOISE_SQUASHING.md). The NTT is exact: no
 * floating-point term. */
static double theoretical_variance(void)
{
    const double n = 918, k = 2, N = 2048, l = 3, B = ldexp(1.0, 24);
    const double var_bsk = (ldexp(1.0, 61) + 1.0) / 6.0;
    const double key_term = l * (k + 1.0) * N * (B * B / 12.0 + 1.0 / 6.0) * var_bsk;
    const double drop2 = ldexp(1.0, 2 * (128 - 72)); /* (q / B^l)^2 */
    const double gadget = (k * N / 2.0) * (1.0 / 48.0 + drop2 / 24.0) + drop2 / 24.0;
    return n * (key_term + gadget);
}

static void setup(void)
{
    veil_err err;
    if (g_key)
        return;
    CHECK(veil_fhe_keygen(&g_ck, &g_sk, NULL, 2, &err) == 0);
    CHECK(veil_sq_keygen(g_ck, sq_seed, 2, &g_secret, &g_key, &err) == 0);
    CHECK(veil_sq_key_size(g_key) > ((size_t)1 << 30));
}

/* Checks block i of sq against value v and records its noise. */
static void check_block(const veil_sq_ct *sq, uint32_t i, unsigned v)
{
    const veil_u128 phase = veil_sq_block_phase(&g_secret, &sq->blocks[i]);
    CHECK_EQ_INT(veil_sq_decode_block(phase), v);
    const __int128 e = (__int128)(phase - ((veil_u128)v << VEIL_SQ_LOG_DELTA));
    const double ed = (double)e;
    g_err2_sum += ed * ed;
    g_err_n++;
    if (fabs(ed) > g_err_max)
        g_err_max = fabs(ed);
}

static void test_every_block_value(void)
{
    setup();
    veil_err err;
    veil_fhe_ct *ct = NULL;
    CHECK(veil_fhe_encrypt(g_ck, 32, 0, &ct, &err) == 0);
    const struct veil_fhe_params *params = NULL;
    struct veil_radix *r = (struct veil_radix *)veil_fhe_ct_radix(ct, &params);
    const struct veil_shortint_client_key *sck = veil_fhe_client_key_of(g_ck);
    CHECK_EQ_INT(r->n_blocks, 16);
    for (unsigned v = 0; v < 16; v++)
        CHECK(veil_shortint_encrypt(sck, v, &r->blocks[v], &err) == 0);
    veil_sq_ct sq;
    CHECK(veil_sq_squash(g_key, g_sk, ct, &sq, &err) == 0);
    CHECK_EQ_INT(sq.nblocks, 16);
    CHECK_EQ_INT(sq.width, 32);
    for (unsigned v = 0; v < 16; v++)
        check_block(&sq, v, v);
    veil_sq_ct_clear(&sq);
    veil_fhe_ct_free(ct);
}

static void roundtrip(unsigned width, uint64_t value)
{
    veil_err err;
    veil_fhe_ct *ct = NULL;
    veil_sq_ct sq;
    CHECK(veil_fhe_encrypt(g_ck, width, value, &ct, &err) == 0);
    CHECK(veil_sq_squash(g_key, g_sk, ct, &sq, &err) == 0);
    uint64_t got = ~value;
    CHECK(veil_sq_decrypt(&g_secret, &sq, &got, &err) == 0);
    CHECK_EQ_U64(got, value);
    for (uint32_t i = 0; i < sq.nblocks; i++)
        check_block(&sq, i, (unsigned)(value >> (2 * i)) & 3u);
    veil_sq_ct_clear(&sq);
    veil_fhe_ct_free(ct);
}

static void test_integers(void)
{
    setup();
    roundtrip(1, 0);
    roundtrip(1, 1);
    roundtrip(8, 255);
    roundtrip(8, 0x5a);
    roundtrip(16, 0xe41b); /* every 2-bit value in both bytes */
}

static void roundtrip_packed(unsigned width, uint64_t value)
{
    veil_err err;
    veil_fhe_ct *ct = NULL;
    veil_sq_ct sq;
    CHECK(veil_fhe_encrypt(g_ck, width, value, &ct, &err) == 0);
    CHECK(veil_sq_squash_packed(g_key, g_sk, ct, &sq, &err) == 0);
    CHECK_EQ_INT(sq.encoding, VEIL_SQ_ENC_PACKED);
    CHECK_EQ_INT(sq.nblocks, width == 1 ? 1 : width / 4);
    uint64_t got = ~value;
    CHECK(veil_sq_decrypt(&g_secret, &sq, &got, &err) == 0);
    CHECK_EQ_U64(got, value);
    for (uint32_t i = 0; i < sq.nblocks; i++)
        check_block(&sq, i, (unsigned)(value >> (4 * i)) & 15u);
    veil_sq_ct_clear(&sq);
    veil_fhe_ct_free(ct);
}

static void test_packed(void)
{
    setup();
    roundtrip_packed(1, 1);
    roundtrip_packed(8, 0xa7);
    roundtrip_packed(16, 0xe41b);
    veil_err err;
    veil_fhe_ct *ct = NULL;
    veil_sq_ct sq;
    CHECK(veil_fhe_encrypt(g_ck, 8, 3, &ct, &err) == 0);
    const struct veil_fhe_params *params = NULL;
    struct veil_radix *r = (struct veil_radix *)veil_fhe_ct_radix(ct, &params);
    CHECK(veil_sq_squash_compact(g_key, g_sk, ct, &sq, &err) == 0);
    CHECK_EQ_INT(sq.encoding, VEIL_SQ_ENC_PACKED);
    veil_sq_ct_clear(&sq);
    r->blocks[1].degree = 4; /* a carry that may be set */
    CHECK(veil_sq_squash_packed(g_key, g_sk, ct, &sq, &err) == -1);
    CHECK_CONTAINS(err.msg, "carry is not clean");
    CHECK(sq.blocks == NULL);
    /* compact falls back to one block per squash, and the value survives */
    uint64_t got = 0;
    CHECK(veil_sq_squash_compact(g_key, g_sk, ct, &sq, &err) == 0);
    CHECK_EQ_INT(sq.encoding, VEIL_SQ_ENC_BLOCKS);
    CHECK_EQ_INT(sq.nblocks, 4);
    CHECK(veil_sq_decrypt(&g_secret, &sq, &got, &err) == 0);
    CHECK_EQ_U64(got, 3);
    veil_sq_ct_clear(&sq);
    r->blocks[1].degree = 3;
    r->blocks[2].noise_level = 2; /* packed with block 3: 4 x 1 + 2 above 5 */
    CHECK(veil_sq_squash_packed(g_key, g_sk, ct, &sq, &err) == -1);
    CHECK_CONTAINS(err.msg, "noise level");
    veil_fhe_ct_free(ct);
}

static void test_noise(void)
{
    setup();
    const double var = g_err_n ? g_err2_sum / (double)g_err_n : 0;
    const double theory = theoretical_variance();
    fprintf(stderr, "squashed noise: %zu blocks, variance 2^%.2f (theory 2^%.2f), max |e| 2^%.2f\n",
            g_err_n, log2(var), log2(theory), log2(g_err_max));
    CHECK(g_err_n >= 30);
    CHECK(var > theory / 3 && var < theory * 3); /* ~34 samples: loose; tight below */
    CHECK(g_err_max < ldexp(1.0, VEIL_SQ_LOG_NOISE_BOUND));
}

/* Every coefficient of the blind rotation's output GLWE carries the same
 * noise as the extracted coefficient 0 (the test polynomial's boxes hold
 * multiples of 2^123): 2 x 2048 samples give the variance to a few percent. */
static double glwe_noise_sum2(const veil_u128 *acc, size_t *count)
{
    const size_t n = VEIL_SQ_POLY;
    veil_u128 *phase = malloc(n * sizeof *phase);
    memcpy(phase, acc + 2 * n, n * sizeof *phase);
    for (size_t c = 0; c < 2; c++) {
        const veil_u128 *a = acc + c * n;
        for (size_t t = 0; t < n; t++) {
            if (!g_secret.s[c * n + t])
                continue;
            for (size_t i = 0; i < n - t; i++)
                phase[i + t] -= a[i];
            for (size_t i = n - t; i < n; i++)
                phase[i + t - n] += a[i];
        }
    }
    double sum2 = 0;
    const veil_u128 half = (veil_u128)1 << (VEIL_SQ_LOG_DELTA - 1);
    for (size_t j = 0; j < n; j++) {
        const veil_u128 nearest = ((phase[j] + half) >> VEIL_SQ_LOG_DELTA) << VEIL_SQ_LOG_DELTA;
        const double e = (double)(__int128)(phase[j] - nearest);
        sum2 += e * e;
        if (fabs(e) > g_err_max)
            g_err_max = fabs(e);
    }
    free(phase);
    *count += n;
    return sum2;
}

static void test_noise_all_coefficients(void)
{
    setup();
    veil_err err;
    veil_fhe_ct *ct = NULL;
    CHECK(veil_fhe_encrypt(g_ck, 8, 0x5a, &ct, &err) == 0);
    const struct veil_fhe_params *params = NULL;
    const struct veil_radix *r = veil_fhe_ct_radix(ct, &params);
    const struct veil_shortint_server_key *ssk = veil_fhe_server_key_of(g_sk);
    const struct veil_fhe_params *p = ssk->params;
    uint64_t lwe[1024];
    uint32_t ks_acc[1024];
    struct veil_pbs128_scratch sc;
    CHECK(veil_pbs128_scratch_init(&sc, &g_key->shape, &err) == 0);
    double sum2 = 0;
    size_t count = 0;
    for (size_t b = 0; b < 2; b++) {
        veil_fhe_lwe_keyswitch32(lwe, r->blocks[b].data, ssk->ksk32, veil_fhe_big_lwe_dim(p),
                                 p->lwe_dim, p->ks_base_log, p->ks_level, ks_acc);
        const uint64_t *lwes[1] = {lwe};
        veil_pbs128_blind_rotate_batch(&g_key->ntt, &g_key->shape, g_key->bsk, lwes, g_key->lut, 1,
                                       &sc);
        sum2 += glwe_noise_sum2(sc.acc, &count);
    }
    const double var = sum2 / (double)count, theory = theoretical_variance();
    fprintf(stderr, "blind-rotation noise: %zu coefficients, variance 2^%.3f (theory 2^%.3f)\n",
            count, log2(var), log2(theory));
    CHECK(var > theory / 2 && var < theory * 2); /* 3 runs: 0.79-0.92 x theory */
    CHECK(g_err_max < ldexp(1.0, VEIL_SQ_LOG_NOISE_BOUND));
    veil_pbs128_scratch_free(&sc);
    veil_fhe_ct_free(ct);
}

static void digest_with(unsigned threads, int packed, const veil_fhe_ct *ct, uint8_t out[32])
{
    veil_err err;
    veil_sq_ct sq;
    CHECK(veil_sq_key_set_threads(g_key, threads, &err) == 0);
    CHECK_EQ_INT(veil_sq_key_threads(g_key), threads);
    if (packed)
        CHECK(veil_sq_squash_packed(g_key, g_sk, ct, &sq, &err) == 0);
    else
        CHECK(veil_sq_squash(g_key, g_sk, ct, &sq, &err) == 0);
    CHECK(veil_sq_ct_digest(&sq, out, &err) == 0);
    veil_sq_ct_clear(&sq);
}

static void test_threads_identical(void)
{
    setup();
    veil_err err;
    veil_fhe_ct *ct = NULL;
    CHECK(veil_fhe_encrypt(g_ck, 8, 0xc3, &ct, &err) == 0);
    for (int packed = 0; packed < 2; packed++) {
        uint8_t d1[32], d2[32], d3[32];
        digest_with(1, packed, ct, d1);
        digest_with(2, packed, ct, d2);
        digest_with(3, packed, ct, d3);
        CHECK(memcmp(d1, d2, 32) == 0);
        CHECK(memcmp(d1, d3, 32) == 0);
    }
    veil_fhe_ct_free(ct);
}

/* The batch squash (one pass over the key for several ciphertexts) gives
 * each ciphertext exactly what its own compact squash gives: a packable
 * FheUint8, an FheBool and an FheUint8 whose carry forces one block per
 * squash, on 2 threads (the blocks of all three share each CMux step). */
static void test_batch(void)
{
    setup();
    veil_err err;
    veil_fhe_ct *cts[3] = {NULL, NULL, NULL};
    CHECK(veil_fhe_encrypt(g_ck, 8, 0x5e, &cts[0], &err) == 0);
    CHECK(veil_fhe_encrypt(g_ck, 1, 1, &cts[1], &err) == 0);
    CHECK(veil_fhe_encrypt(g_ck, 8, 0x81, &cts[2], &err) == 0);
    const struct veil_fhe_params *params = NULL;
    struct veil_radix *r = (struct veil_radix *)veil_fhe_ct_radix(cts[2], &params);
    r->blocks[3].degree = 4; /* not packable: compact squashes one block at a time */
    CHECK(veil_sq_key_set_threads(g_key, 2, &err) == 0);
    veil_sq_ct outs[3];
    CHECK(veil_sq_squash_compact_batch(g_key, g_sk, (const veil_fhe_ct *const *)cts, 3, outs,
                                       &err) == 0);
    static const uint64_t want[3] = {0x5e, 1, 0x81};
    static const uint32_t enc[3] = {VEIL_SQ_ENC_PACKED, VEIL_SQ_ENC_PACKED, VEIL_SQ_ENC_BLOCKS};
    for (int i = 0; i < 3; i++) {
        veil_sq_ct one;
        uint8_t d_batch[32], d_one[32];
        uint64_t got = 0;
        CHECK(veil_sq_squash_compact(g_key, g_sk, cts[i], &one, &err) == 0);
        CHECK_EQ_INT(outs[i].encoding, enc[i]);
        CHECK(veil_sq_ct_digest(&outs[i], d_batch, &err) == 0);
        CHECK(veil_sq_ct_digest(&one, d_one, &err) == 0);
        CHECK(memcmp(d_batch, d_one, 32) == 0);
        CHECK(veil_sq_decrypt(&g_secret, &outs[i], &got, &err) == 0);
        CHECK_EQ_U64(got, want[i]);
        veil_sq_ct_clear(&one);
        veil_sq_ct_clear(&outs[i]);
    }
    CHECK(veil_sq_squash_compact_batch(g_key, g_sk, (const veil_fhe_ct *const *)cts, 0, outs,
                                       &err) == -1);
    CHECK_CONTAINS(err.msg, "squash batch holds");
    veil_fhe_ct *many[VEIL_SQ_BATCH_MAX_CTS + 1];
    for (size_t i = 0; i <= VEIL_SQ_BATCH_MAX_CTS; i++)
        many[i] = cts[1];
    veil_sq_ct many_out[VEIL_SQ_BATCH_MAX_CTS + 1];
    CHECK(veil_sq_squash_compact_batch(g_key, g_sk, (const veil_fhe_ct *const *)many,
                                       VEIL_SQ_BATCH_MAX_CTS + 1, many_out, &err) == -1);
    CHECK_CONTAINS(err.msg, "squash batch holds");
    for (int i = 0; i < 3; i++)
        veil_fhe_ct_free(cts[i]);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
}

static void test_key_files(void)
{
    setup();
    veil_err err;
    char dir[] = "/tmp/veil-squash-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/squash.key", dir);
    snprintf(bad, sizeof bad, "%s/bad.key", dir);
    CHECK(veil_sq_key_save(g_key, path, &err) == 0);
    veil_fhe_ct *ct = NULL;
    CHECK(veil_fhe_encrypt(g_ck, 1, 1, &ct, &err) == 0);
    uint8_t before[32], after[32];
    digest_with(2, 0, ct, before);
    /* the loaded key replaces the generated one (one 1.2 GB key at a time) */
    veil_sq_key_free(g_key);
    g_key = NULL;
    CHECK(veil_sq_key_load(path, 2, &g_key, &err) == 0);
    if (g_key)
        digest_with(2, 0, ct, after);
    CHECK(memcmp(before, after, 32) == 0);
    veil_fhe_ct_free(ct);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK(veil_file_read(path, (size_t)1 << 30, &data, &len, &err) == 0);
    veil_sq_key *k = NULL;
    write_file(bad, data, len - 1000);
    CHECK(veil_sq_key_load(bad, 1, &k, &err) == -1);
    CHECK_CONTAINS(err.msg, "truncated");
    data[len / 2] ^= 0x40;
    write_file(bad, data, len);
    CHECK(veil_sq_key_load(bad, 1, &k, &err) == -1);
    CHECK_CONTAINS(err.msg, "corrupted");
    CHECK(veil_sq_key_load("/nonexistent/squash.key", 1, &k, &err) == -1);
    CHECK(k == NULL);
    free(data);
    veil_fhe_ct *c8 = NULL;
    veil_buf b;
    veil_buf_init(&b);
    CHECK(veil_fhe_encrypt(g_ck, 8, 1, &c8, &err) == 0);
    CHECK(veil_fhe_ct_serialize(c8, &b, &err) == 0);
    write_file(bad, b.data, b.len);
    CHECK(veil_sq_key_load(bad, 1, &k, &err) == -1);
    CHECK_CONTAINS(err.msg, "not a squashing key");
    veil_buf_free(&b);
    veil_fhe_ct_free(c8);
    unlink(path);
    unlink(bad);
    rmdir(dir);
}

static void test_teardown(void)
{
    veil_sq_key_free(g_key);
    veil_fhe_client_free(g_ck);
    veil_fhe_server_free(g_sk);
    veil_memzero(&g_secret, sizeof g_secret);
    g_key = NULL;
}

VTEST_MAIN(VTEST(test_every_block_value), VTEST(test_integers), VTEST(test_packed),
           VTEST(test_noise), VTEST(test_noise_all_coefficients), VTEST(test_threads_identical),
           VTEST(test_batch), VTEST(test_key_files), VTEST(test_teardown))
