// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_guardian_nkey.c - nkey text parsing (seeds and public keys: length,
 * base32, CRC16, prefixes); a parsed key must encode back to the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <veil/guardian.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_nkey k;
    veil_err err = {0};
    char text[VEIL_NKEY_SEED_LEN + 1];
    if (veil_nkey_from_seed(&k, (const char *)data, size, &err) == 0) {
        if (veil_nkey_seed_text(&k, text, &err) != 0 || size != VEIL_NKEY_SEED_LEN ||
            memcmp(text, data, size) != 0)
            abort();
        veil_nkey_wipe(&k);
    }
    if (veil_nkey_from_public(&k, (const char *)data, size, &err) == 0) {
        veil_nkey_public_text(&k, text);
        if (size != VEIL_NKEY_PUBLIC_LEN || memcmp(text, data, size) != 0)
            abort();
    }
    return 0;
}
