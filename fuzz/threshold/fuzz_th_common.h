// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_th_common.h - the fixed identity and dealing the threshold fuzzers
 * (and make_seeds.c, which writes their seed corpora) share: holder 1 of a
 * 4-holder, t = 1 dealing has the Ed25519 key derived from FUZZ_TH_SEED.
 */
#ifndef VEIL_FUZZ_TH_COMMON_H
#define VEIL_FUZZ_TH_COMMON_H

#include <sodium.h>
#include <string.h>

#include "th_internal.h"

#define FUZZ_TH_SEED 0x42

/* Holder i's Ed25519 key pair (1..4), deterministic. */
static inline void fuzz_th_keypair(unsigned i, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    memset(seed, FUZZ_TH_SEED + (int)i, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* The public material every fuzzer verifies against (nonce fixed). */
static inline int fuzz_th_public(veil_th_public *pub)
{
    memset(pub, 0, sizeof *pub);
    pub->n = 4;
    pub->t = 1;
    uint8_t sk[64];
    for (unsigned i = 1; i <= 4; i++)
        fuzz_th_keypair(i, pub->holder_pk[i - 1], sk);
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_th_public_serialize(pub, &b, NULL);
    if (rc == 0)
        rc = veil_th_public_parse(b.data, b.len, pub, NULL);
    veil_buf_free(&b);
    return rc;
}

#endif /* VEIL_FUZZ_TH_COMMON_H */
