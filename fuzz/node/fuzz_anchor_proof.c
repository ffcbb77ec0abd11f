// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the JSON inclusion-proof reader (proofs come back from
 * the state store and the API) never crashes on any text. */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const struct veil_hasher h = {veil_hash256_blake2b, NULL};
    uint8_t root[32] = {0}, job[32] = {1}, com[32] = {2};
    bool ok;
    (void)veil_anchor_verify_json(&h, root, 7, job, com, text, &ok, NULL);
    free(text);
    return 0;
}
