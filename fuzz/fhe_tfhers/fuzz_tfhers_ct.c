// SPDX-License-Identifier: Apache-2.0
/* fuzz_tfhers_ct.c - libFuzzer target for veil_fhe_ct_deserialize_tfhers (TFHE-rs
 * FheUint / FheBool, src/fhe/tfhers.c); a ciphertext that loads is written back. */
#include <veil/tfhers.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    if (veil_fhe_ct_deserialize_tfhers(data, size, &ct, &err) == 0) {
        veil_buf b;
        veil_buf_init(&b);
        (void)veil_fhe_ct_serialize_tfhers(ct, &b, &err);
        veil_buf_free(&b);
        veil_fhe_ct_free(ct);
    }
    return 0;
}
