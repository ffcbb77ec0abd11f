// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_route_probe.c - libFuzzer target for the routing probe decoder
 * (src/route/probe.c, overlay kind 2): arbitrary bytes are refused or
 * decode into a probe whose encoding is exactly the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veil/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_route_probe p;
    uint8_t out[VEIL_ROUTE_PROBE_MAX_BYTES];
    size_t n;
    if (veil_route_probe_decode(&p, data, size, NULL) != 0)
        return 0;
    if (veil_route_probe_encode(&p, out, sizeof out, &n, NULL) != 0 || n != size ||
        memcmp(out, data, size) != 0)
        abort();
    return 0;
}
