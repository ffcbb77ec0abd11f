// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_golden.c - cross-CPU reproducibility: keys generated from fixed
 * seeds, ciphertexts encrypted from a fixed stream, and KS+PBS outputs must
 * hash to the digests below, which were recorded on an AVX-512 machine. The
 * same digests come out of the AVX2 and baseline-x86-64 code paths (build
 * with -DVEIL_FHE_CLONES_MAX_V3 or -DVEIL_FHE_NO_CLONES, or run the
 * sanitizer build, to check), which is what lets redundant schedulers
 * compare ciphertext digests across machines. A mismatch here means the
 * arithmetic changed: that breaks compatibility between nodes and must be
 * deliberate (then update the digests).
 */
#include <string.h>

#include <sodium.h>

#include "core/lwe.h"
#include "core/rng.h"
#include "keys.h"
#include "serialize.h"
#include "shortint.h"
#include "vtest.h"

static const char golden_server_key[] =
    "0b42a482b34ee02b37bfd03297245f3539a055f9eb0aa44941b37d1a0cd1fc32";
static const char golden_fourier_bsk[] =
    "bc903919b71755be4d8c8cd817287a5fe9fd43ddd0f54366c01c108b7175c2a6";
static const char golden_pbs_outputs[] =
    "ead8c47f239da0bb3976a350d7bdcfbe072c03835ca1f23ebfc8b53c97bff25b";

static void hex_digest(char out[65], const void *data, size_t len)
{
    uint8_t d[32];
    crypto_generichash(d, sizeof d, data, len, NULL, 0);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static uint64_t f_square(uint64_t x, void *arg)
{
    (void)arg;
    return x * x;
}

static uint64_t f_half(uint64_t x, void *arg)
{
    (void)arg;
    return x / 2;
}

static void test_golden_digests(void)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    uint8_t seed[32];
    memset(seed, 0x11, sizeof seed);
    struct veil_shortint_client_key *ck = NULL;
    struct veil_shortint_server_key *sk = NULL;
    CHECK(veil_fhe_client_key_generate(&ck, p, seed, NULL) == 0);
    memset(seed, 0x22, sizeof seed);
    CHECK(veil_fhe_server_key_generate(&sk, ck, seed, NULL, NULL) == 0);
    if (!ck || !sk)
        return;
    char hex[65];
    veil_buf b;
    veil_buf_init(&b);
    CHECK(veil_fhe_server_key_save(sk, &b, NULL) == 0);
    hex_digest(hex, b.data, b.len);
    fprintf(stderr, "server key   %s\n", hex);
    CHECK_EQ_STR(hex, golden_server_key);
    veil_buf_free(&b);
    hex_digest(hex, sk->bsk_fourier,
               p->lwe_dim * veil_fhe_ggsw_fourier_doubles(&sk->bsk_shape) * sizeof(double));
    fprintf(stderr, "fourier bsk  %s\n", hex);
    CHECK_EQ_STR(hex, golden_fourier_bsk);

    /* Deterministic encryptions (a fixed stream instead of fresh randomness). */
    memset(seed, 0x33, sizeof seed);
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, seed, 0);
    struct veil_shortint_lut sq, half;
    CHECK(veil_shortint_lut_init(&sq, p, f_square, NULL, NULL) == 0);
    CHECK(veil_shortint_lut_init(&half, p, f_half, NULL, NULL) == 0);
    const size_t words = veil_fhe_big_lwe_dim(p) + 1;
    uint64_t *all = malloc(8 * words * sizeof(uint64_t));
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, p, NULL) == 0);
    for (uint64_t i = 0; i < 8; i++) {
        uint64_t m = (i * 5) % 16;
        veil_fhe_lwe_encrypt(ct.data, ck->big_key, veil_fhe_big_lwe_dim(p), m * veil_fhe_delta(p),
                             p->glwe_noise_log2, &rng, &rng);
        CHECK(veil_shortint_apply_lut(sk, &ct, i % 2 ? &half : &sq, NULL) == 0);
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &ct), i % 2 ? m / 2 : (m * m) % 16);
        memcpy(all + i * words, ct.data, words * sizeof(uint64_t));
    }
    hex_digest(hex, all, 8 * words * sizeof(uint64_t));
    fprintf(stderr, "pbs outputs  %s\n", hex);
    CHECK_EQ_STR(hex, golden_pbs_outputs);
    free(all);
    veil_shortint_ct_free(&ct);
    veil_shortint_lut_free(&sq);
    veil_shortint_lut_free(&half);
    veil_fhe_server_key_free(sk);
    veil_fhe_client_key_free(ck);
}

VTEST_MAIN(VTEST(test_golden_digests))
