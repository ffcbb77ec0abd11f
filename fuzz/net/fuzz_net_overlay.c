// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_net_overlay.c - libFuzzer target for the TUN overlay's packet
 * parsers (src/net/overlay_pkt.c): the first byte picks whether the rest is
 * a frame read from a TUN with a virtio-net header or a bare packet; it is
 * cut into segments (which must each fit the output buffer and carry
 * readable addresses when it is IP), the segments are coalesced back, and
 * the inner addresses of the input are read as a decrypted packet would be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[OVERLAY_SEG_BUF], frame[OVERLAY_FRAME_MAX];
    if (size < 1)
        return 0;
    bool vnet = data[0] & 1;
    struct overlay_segs s = {.buf = buf};
    struct overlay_addrs ad;
    (void)overlay_pkt_addrs(data + 1, size - 1, &ad);
    if (overlay_segment(data + 1, size - 1, vnet, &s) != 0)
        return 0;
    const uint8_t *pkts[OVERLAY_SEG_MAX];
    size_t total = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.off[i] + s.len[i] > OVERLAY_SEG_BUF)
            abort();
        pkts[i] = buf + s.off[i];
        total += s.len[i];
        (void)overlay_pkt_addrs(pkts[i], s.len[i], &ad);
    }
    if (total > OVERLAY_SEG_BUF)
        abort();
    for (size_t i = 0; i < s.n;) {
        size_t k = overlay_coalesce_count(pkts + i, s.len + i, s.n - i);
        if (k == 0 || i + k > s.n ||
            overlay_coalesce_write(pkts + i, s.len + i, k, frame) > OVERLAY_FRAME_MAX)
            abort();
        i += k;
    }
    return 0;
}
