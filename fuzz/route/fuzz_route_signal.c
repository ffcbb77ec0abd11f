// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_route_signal.c - libFuzzer target for the `path` subject's signal
 * decoder (src/route/signal.c): arbitrary bytes are refused or decode into
 * a signal whose encoding is exactly the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veil/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_route_signal s;
    if (veil_route_signal_decode(&s, data, size, NULL) != 0)
        return 0;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_route_signal_encode(&s, &b, NULL) != 0 || b.len != size || memcmp(b.data, data, size))
        abort();
    veil_buf_free(&b);
    return 0;
}
