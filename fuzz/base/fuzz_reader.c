// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the bounds-checked reader never reads past its input. */
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_reader r;
    veil_reader_init(&r, data, size);
    while (veil_reader_ok(&r) && !veil_reader_at_end(&r)) {
        switch (veil_read_u8(&r) % 6) {
        case 0: (void)veil_read_uvarint(&r); break;
        case 1: (void)veil_read_u32be(&r); break;
        case 2: { veil_reader sub = veil_read_sub(&r, veil_read_u8(&r)); (void)veil_read_u64le(&sub); break; }
        case 3: (void)veil_read_borrow(&r, veil_read_u16be(&r)); break;
        case 4: veil_reader_skip(&r, veil_read_uvarint(&r)); break;
        default: (void)veil_read_u16le(&r); break;
        }
    }
    return 0;
}
