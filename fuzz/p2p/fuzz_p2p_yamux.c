// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_yamux.c (p2p core) - yamux frame headers: a byte stream parsed
 * as header + body sequences the way the session reads them, with the
 * data-length bound checked before a body is awaited.
 */
#include "p2p_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (size - pos >= VEIL_YAMUX_HEADER_LEN) {
        veil_yamux_header h;
        if (veil_yamux_parse_header(data + pos, &h, NULL) != 0)
            break;
        if (h.version != 0 || h.type > VEIL_YAMUX_GO_AWAY)
            __builtin_trap();
        size_t body = h.type == VEIL_YAMUX_DATA ? h.length : 0;
        if (body > VEIL_YAMUX_INITIAL_WINDOW)
            break;
        if (size - pos - VEIL_YAMUX_HEADER_LEN < body)
            break;
        pos += VEIL_YAMUX_HEADER_LEN + body;
    }
    return 0;
}
