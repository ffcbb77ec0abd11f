// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_guardian_creds.c - .creds parsing (armour lines, the JWT and seed
 * blocks, the seed-subject match).
 */
#include <stdint.h>
#include <stdlib.h>

#include <veil/guardian.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *jwt = NULL;
    veil_nkey k;
    veil_err err = {0};
    if (veil_creds_parse((const char *)data, size, &jwt, &k, &err) == 0) {
        free(jwt);
        veil_nkey_wipe(&k);
    }
    return 0;
}
