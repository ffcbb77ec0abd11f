// SPDX-License-Identifier: Apache-2.0
/* fuzz_fhe_squash_ct.c - libFuzzer target for veil_sq_ct_deserialize
 * (squash_io.c): squashed ciphertexts arrive from other key holders. A
 * parsed ciphertext is serialized again and must reproduce the input. */
#include <veil/squash.h>

#include "fuzz_fhe_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_sq_ct ct;
    if (veil_sq_ct_deserialize(data, size, &ct, &err) != 0)
        return;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_sq_ct_serialize(&ct, &b, &err) != 0 || b.len != size || memcmp(b.data, data, size))
        abort(); /* the format is canonical: a parsed file re-serializes to itself */
    veil_buf_free(&b);
    veil_sq_ct_clear(&ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fhe_run(data, size, load_one);
    return 0;
}
