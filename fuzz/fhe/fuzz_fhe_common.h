// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_fhe_common.h - shared driver of the TFHE loader fuzzers: each input
 * is loaded as is (exercising the container checks) and once more with its
 * trailing BLAKE2b digest recomputed, so the fuzzer also reaches the
 * payload parsing that the digest would otherwise shield.
 */
#ifndef VEIL_FUZZ_FHE_COMMON_H
#define VEIL_FUZZ_FHE_COMMON_H

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "serialize.h"

static void fuzz_fhe_run(const uint8_t *data, size_t size,
                         void (*load)(const uint8_t *data, size_t size))
{
    load(data, size);
    if (size < VEIL_FHE_HEADER_LEN + VEIL_FHE_DIGEST_LEN)
        return;
    uint8_t *copy = malloc(size);
    if (!copy)
        return;
    memcpy(copy, data, size);
    crypto_generichash(copy + size - VEIL_FHE_DIGEST_LEN, VEIL_FHE_DIGEST_LEN, copy,
                       size - VEIL_FHE_DIGEST_LEN, NULL, 0);
    load(copy, size);
    free(copy);
}

#endif /* VEIL_FUZZ_FHE_COMMON_H */
