// SPDX-License-Identifier: Apache-2.0
/* fuzz_threshold_share.c - libFuzzer target for the share loaders (share.c):
 * the input is opened as a sealed share file by holder 1, and parsed as an
 * unsealed share plaintext for holder 1 (what the sealed box would hide). */
#include "fuzz_th_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pk[32], sk[64];
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            return 0;
        fuzz_th_keypair(1, pk, sk);
        ready = 1;
    }
    veil_th_share *sh = NULL;
    if (veil_th_share_open(data, size, sk, &sh, NULL) == 0)
        veil_th_share_free(sh);
    sh = NULL;
    if (th_share_parse_plain(data, size, sk, &sh, NULL) == 0)
        veil_th_share_free(sh);
    (void)veil_th_sealed_index(data, size);
    return 0;
}
