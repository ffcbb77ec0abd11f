// SPDX-License-Identifier: Apache-2.0
/* fuzz_bundle.c - the cluster bundle parser (src/node/daemon_bundle.c). */
#include <stddef.h>
#include <stdint.h>

#include "../../src/node/daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_bundle b;
    veil_err err = {0};
    if (veil_bundle_parse(&b, (const char *)data, size, "/nonexistent", &err) == 0)
        veil_bundle_free(&b);
    return 0;
}
