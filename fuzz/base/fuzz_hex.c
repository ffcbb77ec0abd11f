// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: strict hex decoding; whatever decodes re-encodes to the same digits. */
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[512], again[512];
    char text[1100];
    long n = veil_hex_decode(out, sizeof out, (const char *)data, size, true, NULL);
    if (n < 0)
        return 0;
    if (veil_hex_encode(text, sizeof text, out, (size_t)n) < 0)
        abort();
    if (veil_hex_decode(again, sizeof again, text, strlen(text), false, NULL) != n ||
        memcmp(out, again, (size_t)n) != 0)
        abort();
    return 0;
}
