// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_net_peer_record.c - the signed overlay peer record decoder
 * (src/net/overlay_peer.c) on arbitrary bytes (length, family, addresses,
 * signature); a record that decodes always names an endpoint port.
 */
#include <stdint.h>
#include <stdlib.h>

#include <veil/overlay_peer.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_overlay_peer_record r;
    veil_err err = {0};
    if (veil_overlay_peer_record_decode(data, size, &r, &err) == 0 && r.endpoint_port == 0)
        abort(); /* a decoded record always names a port */
    return 0;
}
