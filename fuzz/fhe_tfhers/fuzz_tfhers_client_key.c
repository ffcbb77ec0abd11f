// SPDX-License-Identifier: Apache-2.0
/* fuzz_tfhers_client_key.c - libFuzzer target for veil_fhe_client_deserialize_tfhers
 * (TFHE-rs ClientKey, src/fhe/tfhers.c). */
#include <veil/tfhers.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_fhe_client *ck = NULL;
    if (veil_fhe_client_deserialize_tfhers(data, size, &ck, &err) == 0)
        veil_fhe_client_free(ck);
    return 0;
}
