// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: RFC 4648 base32 decoding is canonical: decode, re-encode, decode again. */
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[512], again[512];
    char text[1100];
    long n = veil_base32_decode(out, sizeof out, (const char *)data, size, NULL);
    if (n < 0)
        return 0;
    long m = veil_base32_encode(text, sizeof text, out, (size_t)n, true, false);
    if (m < 0 || veil_base32_decode(again, sizeof again, text, (size_t)m, NULL) != n ||
        memcmp(out, again, (size_t)n) != 0)
        abort();
    return 0;
}
