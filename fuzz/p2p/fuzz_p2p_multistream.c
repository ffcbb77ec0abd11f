// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_multistream.c (p2p core) - multistream-select line parsing over
 * arbitrary bytes, consumed line by line as the host does.
 */
#include <string.h>

#include "p2p_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    char line[VEIL_MSS_MAX_LINE];
    while (pos < size) {
        size_t used = 0;
        int rc = veil_mss_parse_line(data + pos, size - pos, line, &used, NULL);
        if (rc != 1)
            break;
        if (used == 0 || used > size - pos || strlen(line) >= VEIL_MSS_MAX_LINE)
            __builtin_trap();
        pos += used;
    }
    return 0;
}
