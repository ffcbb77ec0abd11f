// SPDX-License-Identifier: Apache-2.0
/* fuzz_fhe_squash_key.c - libFuzzer target for veil_sq_key_deserialize
 * (squash_io.c): every check before the 271 MB body (header, kind,
 * parameter set, length, digest, the key's shape) on arbitrary input. */
#include <veil/squash.h>

#include "fuzz_fhe_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_sq_key *key = NULL;
    if (veil_sq_key_deserialize(data, size, 1, &key, &err) == 0)
        veil_sq_key_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fhe_run(data, size, load_one);
    return 0;
}
