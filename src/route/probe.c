// SPDX-License-Identifier: Apache-2.0
/*
 * probe.c - the routing probe codec (overlay kind 2, include/veil/route.h):
 * what a Conflux node sends a member over their direct Anchor session to
 * measure the link, and the member's answer carrying the reflexive address
 * it saw the probe come from (NAT classification).
 * Wire: kind (2) | type (1 ask, 2 answer) | nonce (8, big-endian)
 *       | answer only: addr_len (<= 64) | addr; nothing trailing.
 */
#include <string.h>

#include "veil/route.h"

int veil_route_probe_encode(const struct veil_route_probe *p, uint8_t *out, size_t cap,
                            size_t *out_len, veil_err *err)
{
    bool answer = p->type == VEIL_ROUTE_PROBE_ANSWER;
    if (p->type != VEIL_ROUTE_PROBE_ASK && !answer)
        return veil_err_set(err, VEIL_E_INVALID, "route probe: type %u", p->type);
    if (p->addr_len > VEIL_ANCHOR_ADDR_MAX || (!answer && p->addr_len != 0))
        return veil_err_set(err, VEIL_E_RANGE, "route probe: address of %zu bytes", p->addr_len);
    size_t n = 10 + (answer ? 1 + p->addr_len : 0);
    if (cap < n)
        return veil_err_set(err, VEIL_E_RANGE, "route probe: %zu bytes do not fit %zu", n, cap);
    out[0] = VEIL_OVERLAY_KIND_PROBE;
    out[1] = p->type;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(p->nonce >> (56 - 8 * i));
    if (answer) {
        out[10] = (uint8_t)p->addr_len;
        memcpy(out + 11, p->addr, p->addr_len);
    }
    *out_len = n;
    return 0;
}

int veil_route_probe_decode(struct veil_route_probe *p, const uint8_t *in, size_t len,
                            veil_err *err)
{
    veil_reader rd;
    memset(p, 0, sizeof *p);
    veil_reader_init(&rd, in, len);
    uint8_t kind = veil_read_u8(&rd);
    p->type = veil_read_u8(&rd);
    p->nonce = veil_read_u64be(&rd);
    if (!veil_reader_ok(&rd))
        return veil_err_set(err, VEIL_E_RANGE, "route probe: truncated");
    if (kind != VEIL_OVERLAY_KIND_PROBE ||
        (p->type != VEIL_ROUTE_PROBE_ASK && p->type != VEIL_ROUTE_PROBE_ANSWER))
        return veil_err_set(err, VEIL_E_PARSE, "route probe: kind %u type %u", kind, p->type);
    if (p->type == VEIL_ROUTE_PROBE_ANSWER) {
        p->addr_len = veil_read_u8(&rd);
        if (p->addr_len > VEIL_ANCHOR_ADDR_MAX)
            return veil_err_set(err, VEIL_E_RANGE, "route probe: address of %zu bytes",
                                p->addr_len);
        veil_read_bytes(&rd, p->addr, p->addr_len);
    }
    if (!veil_reader_ok(&rd) || !veil_reader_at_end(&rd))
        return veil_err_set(err, VEIL_E_RANGE, "route probe: truncated or trailing bytes");
    return 0;
}
