// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_fhe_radix.c - libFuzzer target for the radix ciphertext loader
 * (veil_fhe_ct_deserialize -> veil_radix_load): any input must be rejected with an
 * error or load into a well-formed ciphertext, never crash or read out of bounds.
 * The container's digest is recomputed over the input so that mutations reach the
 * payload parser instead of stopping at the checksum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/fhe.h>

#include "serialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    /* as given (digest usually wrong) */
    if (veil_fhe_ct_deserialize(data, size, &ct, &err) == 0) {
        if (veil_fhe_ct_width(ct) == 0)
            abort();
        veil_fhe_ct_free(ct);
    }
    /* with a fixed-up digest, so the payload checks are exercised */
    if (size >= VEIL_FHE_HEADER_LEN + VEIL_FHE_DIGEST_LEN) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        crypto_generichash(copy + size - VEIL_FHE_DIGEST_LEN, VEIL_FHE_DIGEST_LEN, copy,
                           size - VEIL_FHE_DIGEST_LEN, NULL, 0);
        ct = NULL;
        if (veil_fhe_ct_deserialize(copy, size, &ct, &err) == 0) {
            unsigned w = veil_fhe_ct_width(ct);
            if (w != 1 && w != 8 && w != 16 && w != 32 && w != 64)
                abort();
            veil_buf b;
            veil_buf_init(&b);
            /* a loaded ciphertext serializes back to the same bytes */
            if (veil_fhe_ct_serialize(ct, &b, &err) != 0 || b.len != size ||
                memcmp(b.data, copy, size) != 0)
                abort();
            veil_buf_free(&b);
            veil_fhe_ct_free(ct);
        }
        free(copy);
    }
    return 0;
}
