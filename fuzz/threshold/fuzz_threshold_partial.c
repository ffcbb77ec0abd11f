// SPDX-License-Identifier: Apache-2.0
/* fuzz_threshold_partial.c - libFuzzer target for the partial-decryption wire
 * form and the public material (partial.c, share.c): parse, verify against
 * the fixed dealing, and re-serialize to the same bytes. */
#include <stdlib.h>

#include "fuzz_th_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static veil_th_public pub;
    static int ready;
    if (!ready) {
        if (sodium_init() < 0 || fuzz_th_public(&pub) != 0)
            return 0;
        ready = 1;
    }
    veil_th_partial p;
    if (veil_th_partial_parse(data, size, &p, NULL) == 0) {
        /* claim the partial's dealing so the signature check is reached too */
        veil_th_public claimed = pub;
        memcpy(claimed.id, p.dealing_id, sizeof claimed.id);
        (void)veil_th_partial_verify(&claimed, p.digest, p.width, p.nblocks, &p, NULL);
        veil_buf b;
        veil_buf_init(&b);
        if (veil_th_partial_serialize(&p, &b, NULL) == 0 &&
            (b.len != size || memcmp(b.data, data, size) != 0))
            abort(); /* the parse is canonical */
        veil_buf_free(&b);
    }
    veil_th_public other;
    (void)veil_th_public_parse(data, size, &other, NULL);
    return 0;
}
