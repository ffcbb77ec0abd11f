// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_route_topo.c - libFuzzer target for the `topo` summary decoder
 * (src/route/topo.c): arbitrary bytes must be refused or decoded into a
 * summary whose encoding is exactly the input (one canonical form).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veil/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct veil_route_topo t;
    if (veil_route_topo_decode(&t, data, size, NULL) != 0)
        return 0;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_route_topo_encode(&t, &b, NULL) != 0 || b.len != size || memcmp(b.data, data, size))
        abort();
    veil_buf_free(&b);
    return 0;
}
