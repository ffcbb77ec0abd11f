// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_lp.c (p2p core) - the uvarint-length-prefixed frame reader, fed
 * in chunks whose sizes come from the input.
 */
#include <veil/p2p.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    veil_p2p_lp_reader r;
    veil_p2p_lp_reader_init(&r, 4096);
    for (size_t pos = 0; pos < size; pos += chunk) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        veil_p2p_lp_reader_feed(&r, data + pos, n, NULL);
        const uint8_t *msg;
        size_t len;
        int rc;
        while ((rc = veil_p2p_lp_reader_next(&r, &msg, &len, NULL)) == 1)
            if (len > 4096)
                __builtin_trap();
        if (rc < 0)
            break;
    }
    veil_p2p_lp_reader_free(&r);
    return 0;
}
