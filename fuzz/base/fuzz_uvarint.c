// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: strict unsigned varints re-encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t v;
    int n = veil_uvarint_decode(data, size, &v);
    if (n <= 0)
        return 0;
    uint8_t enc[10];
    if (veil_uvarint_encode(enc, v) != (size_t)n || memcmp(enc, data, (size_t)n) != 0)
        abort();
    return 0;
}
