// SPDX-License-Identifier: Apache-2.0
/* fuzz_tfhers_public_key.c - libFuzzer target for veil_fhe_public_deserialize_tfhers
 * (TFHE-rs CompactPublicKey, src/fhe/tfhers.c); a key that loads is written back. */
#include <veil/tfhers.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_fhe_public *pk = NULL;
    if (veil_fhe_public_deserialize_tfhers(data, size, &pk, &err) == 0) {
        veil_buf b;
        veil_buf_init(&b);
        (void)veil_fhe_public_serialize_tfhers(pk, &b, &err);
        veil_buf_free(&b);
        veil_fhe_public_free(pk);
    }
    return 0;
}
