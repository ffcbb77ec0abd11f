// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_net_filter.c - the overlay's ingress classifier
 * (src/net/overlay_filter.c) on arbitrary decrypted packets, against a
 * fixed rule set (a TCP port range, any ICMP, a /24 destination).
 */
#include <stdint.h>

#include "overlay_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct veil_overlay_rule rules[] = {
        {.proto = 6, .port_lo = 80, .port_hi = 8080},
        {.proto = 1},
        {.proto = 17, .port_lo = 53, .port_hi = 53, .dst_v4 = {10, 77, 0, 0}, .dst_prefix = 24},
        {.peer = {1}, .dst_v4 = {10, 0, 0, 0}, .dst_prefix = 8},
    };
    static const uint8_t peer[32] = {1};
    (void)overlay_filter_allows(rules, 4, peer, data, size);
    return 0;
}
