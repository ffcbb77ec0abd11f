// SPDX-License-Identifier: Apache-2.0
/* fuzz_fhe_public_key.c - libFuzzer target for veil_fhe_public_key_load (serialize.c). */
#include "fuzz_fhe_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    struct veil_fhe_public_key *pk = NULL;
    if (veil_fhe_public_key_load(data, size, NULL, &pk, &err) == 0)
        veil_fhe_public_key_free(pk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fhe_run(data, size, load_one);
    return 0;
}
