// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_squash_golden.c - the squash is the same bits on every machine,
 * CPU code path and thread count: from fixed seeds (64-bit client and
 * server keys, squashing key generated on 1 thread, an FheUint8 encrypted
 * from a fixed stream) the squashed ciphertext must hash to the digest
 * below, recorded on an AVX-512 machine (AMD EPYC) with the scalar NTT and
 * a 3-thread key generation and squash: so this test also checks that key
 * generation and squash do not depend on the thread count.
 * The arithmetic is exact integer arithmetic (core/ntt128.c), so the AVX2
 * and baseline builds (-DVEIL_FHE_CLONES_MAX_V3, -DVEIL_FHE_NO_CLONES, the
 * sanitizer build) must print the same digest. A mismatch means the squash
 * changed: key holders on different versions would stop agreeing.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <veil/squash.h>

#include "core/lwe.h"
#include "core/rng.h"
#include "integer.h"
#include "keys.h"
#include "squash_internal.h"
#include "threadpool.h"
#include "vtest.h"

static const char golden_squashed[] =
    "dc21085ebd65f44c411219068e430ceb0b7f2df46c2c3dfd66adc3f07f6f5533";
/* The same FheUint8 squashed in the packed encoding (2 blocks: 4 and 11). */
static const char golden_packed[] =
    "f11c3f51f504a6fc5b83a94dcffd73a26a78608ab842b546df95c393b620d426";

static void check_digest(const veil_sq_ct *sq, const char *what, const char *want)
{
    veil_err err;
    uint8_t d[32];
    char hex[65];
    CHECK(veil_sq_ct_digest(sq, d, &err) == 0);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    fprintf(stderr, "%s digest %s\n", what, hex);
    CHECK_EQ_STR(hex, want);
}

static void test_golden_squash(void)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    const uint8_t seed_ck[32] = {1}, seed_sk[32] = {2}, seed_sq[32] = {3}, seed_ct[32] = {4};
    veil_err err;
    struct veil_shortint_client_key *ck = NULL;
    struct veil_shortint_server_key *sk = NULL;
    struct veil_threadpool *pool = NULL;
    CHECK(veil_fhe_client_key_generate(&ck, p, seed_ck, &err) == 0);
    CHECK(veil_threadpool_create(&pool, 2, &err) == 0);
    CHECK(veil_fhe_server_key_generate(&sk, ck, seed_sk, pool, &err) == 0);
    veil_threadpool_destroy(pool);
    veil_sq_secret secret;
    veil_sq_key *key = NULL;
    CHECK(veil_sq_keygen_small(ck->small_key, seed_sq, 1, &secret, &key, &err) == 0);
    struct veil_radix r;
    CHECK(veil_radix_init(&r, p, 8, &err) == 0);
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, seed_ct, 0);
    const uint64_t value = 0xb4; /* blocks 0, 1, 3, 2 */
    for (size_t i = 0; i < r.n_blocks; i++) {
        const uint64_t m = ((value >> (2 * i)) & 3) * veil_fhe_delta(p);
        veil_fhe_lwe_encrypt(r.blocks[i].data, ck->big_key, veil_fhe_big_lwe_dim(p), m,
                             p->glwe_noise_log2, &rng, &rng);
        r.blocks[i].degree = 3;
        r.blocks[i].noise_level = 1;
    }
    veil_sq_ct sq;
    CHECK(veil_sq_squash_radix(key, sk, &r, &sq, &err) == 0);
    uint64_t got = 0;
    CHECK(veil_sq_decrypt(&secret, &sq, &got, &err) == 0);
    CHECK_EQ_U64(got, value);
    check_digest(&sq, "squashed", golden_squashed);
    veil_sq_ct_clear(&sq);
    CHECK(veil_sq_squash_radix_packed(key, sk, &r, &sq, &err) == 0);
    CHECK(veil_sq_decrypt(&secret, &sq, &got, &err) == 0);
    CHECK_EQ_U64(got, value);
    CHECK_EQ_INT(sq.nblocks, 2);
    check_digest(&sq, "packed", golden_packed);
    veil_sq_ct_clear(&sq);
    veil_radix_free(&r);
    veil_sq_key_free(key);
    veil_memzero(&secret, sizeof secret);
    veil_fhe_server_key_free(sk);
    veil_fhe_client_key_free(ck);
}

VTEST_MAIN(VTEST(test_golden_squash))
