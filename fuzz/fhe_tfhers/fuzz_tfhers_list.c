// SPDX-License-Identifier: Apache-2.0
/* fuzz_tfhers_list.c - libFuzzer target for the TFHE-rs CompactCiphertextList reader
 * (src/fhe/tfhers_list.c): every value expanded, and the shape the daemon asks
 * for (veil_fhe_compact_expand: six FheUint16) through the fhe.h entry point. */
#include <stdlib.h>

#include <veil/tfhers.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    veil_fhe_ct **cts = NULL;
    size_t n = 0;
    if (veil_fhe_compact_expand_tfhers_all(data, size, &cts, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++)
            veil_fhe_ct_free(cts[i]);
        free(cts);
    }
    /* the reader that also parses packed lists (no server key: refused after) */
    if (veil_fhe_compact_expand_tfhers_sk(NULL, data, size, &cts, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++)
            veil_fhe_ct_free(cts[i]);
        free(cts);
    }
    veil_fhe_ct *six[6];
    if (veil_fhe_compact_expand(data, size, 16, six, 6, &err) == 0)
        for (size_t i = 0; i < 6; i++)
            veil_fhe_ct_free(six[i]);
    return 0;
}
