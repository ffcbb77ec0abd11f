// SPDX-License-Identifier: Apache-2.0
/* fuzz_fhe_shortint.c - libFuzzer target for veil_fhe_shortint_load (serialize.c). */
#include "fuzz_fhe_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    struct veil_shortint_ct ct;
    if (veil_fhe_shortint_load(data, size, NULL, &ct, NULL, &err) == 0)
        veil_shortint_ct_free(&ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fhe_run(data, size, load_one);
    return 0;
}
