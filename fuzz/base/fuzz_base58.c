// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: base58btc decoding round-trips exactly (the text form is unique). */
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[512];
    char text[1100];
    if (size > 700)
        return 0;
    long n = veil_base58_decode(out, sizeof out, (const char *)data, size, NULL);
    if (n < 0)
        return 0;
    long m = veil_base58_encode(text, sizeof text, out, (size_t)n);
    if (m != (long)size || memcmp(text, data, size) != 0)
        abort();
    return 0;
}
