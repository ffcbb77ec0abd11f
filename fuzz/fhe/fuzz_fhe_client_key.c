// SPDX-License-Identifier: Apache-2.0
/* fuzz_fhe_client_key.c - libFuzzer target for veil_fhe_client_key_load (serialize.c). */
#include "fuzz_fhe_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    struct veil_shortint_client_key *ck = NULL;
    if (veil_fhe_client_key_load(data, size, NULL, &ck, &err) == 0)
        veil_fhe_client_key_free(ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fhe_run(data, size, load_one);
    return 0;
}
