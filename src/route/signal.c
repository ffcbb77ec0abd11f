// SPDX-License-Identifier: Apache-2.0
/*
 * signal.c - NAT traversal over Master: the `path` subject's signalling
 * messages (punch offers and answers, relay requests) with a strict codec,
 * and the classification of this node's NAT from the reflexive addresses
 * its peers report (the same address to every peer: punchable; a different
 * one per peer: symmetric, so a pair with it falls back to a relay).
 *
 * Layout (big endian): "VRS" version(1) | type(1) | src(32) | dst(32) |
 * nonce(8) | at_ms(8) | nat(1) | addr_len(1) addr. Nothing trailing.
 */
#include <string.h>

#include "veil/route.h"

#include "route_int.h"

static const uint8_t sig_magic[3] = {'V', 'R', 'S'};
#define SIG_VERSION 1

static bool addr_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

enum veil_route_nat veil_route_nat_classify(const uint8_t *local, size_t local_len,
                                            const struct veil_route_reflex *seen, size_t n)
{
    if (n == 0)
        return VEIL_ROUTE_NAT_UNKNOWN;
    bool all_local = true, all_same = true;
    for (size_t i = 0; i < n; i++) {
        size_t len = seen[i].addr_len > VEIL_ANCHOR_ADDR_MAX ? 0 : seen[i].addr_len;
        all_local = all_local && addr_eq(seen[i].addr, len, local, local_len);
        all_same = all_same && addr_eq(seen[i].addr, len, seen[0].addr, seen[0].addr_len);
    }
    if (all_local)
        return VEIL_ROUTE_NAT_NONE;
    if (!all_same)
        return VEIL_ROUTE_NAT_SYMMETRIC;
    return n >= 2 ? VEIL_ROUTE_NAT_CONE : VEIL_ROUTE_NAT_UNKNOWN;
}

static bool sig_valid(const struct veil_route_signal *s)
{
    return s->type >= VEIL_ROUTE_SIG_PUNCH_OFFER && s->type <= VEIL_ROUTE_SIG_RELAY_NO &&
           (unsigned)s->nat <= VEIL_ROUTE_NAT_UNKNOWN && s->addr_len <= VEIL_ANCHOR_ADDR_MAX &&
           memcmp(s->src, s->dst, VEIL_ANCHOR_KEY_BYTES) != 0;
}

int veil_route_signal_encode(const struct veil_route_signal *s, veil_buf *out, veil_err *err)
{
    if (!sig_valid(s))
        return veil_err_set(err, VEIL_E_INVALID, "path signal: invalid fields");
    veil_buf_put(out, sig_magic, sizeof sig_magic);
    veil_buf_put_u8(out, SIG_VERSION);
    veil_buf_put_u8(out, (uint8_t)s->type);
    veil_buf_put(out, s->src, VEIL_ANCHOR_KEY_BYTES);
    veil_buf_put(out, s->dst, VEIL_ANCHOR_KEY_BYTES);
    veil_buf_put_u64be(out, s->nonce);
    veil_buf_put_u64be(out, s->at_ms);
    veil_buf_put_u8(out, (uint8_t)s->nat);
    veil_buf_put_u8(out, (uint8_t)s->addr_len);
    veil_buf_put(out, s->addr, s->addr_len);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "path signal: output buffer");
    return 0;
}

int veil_route_signal_decode(struct veil_route_signal *s, const uint8_t *in, size_t len,
                             veil_err *err)
{
    memset(s, 0, sizeof *s);
    if (len > VEIL_ROUTE_SIGNAL_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "path signal: %zu bytes is too long", len);
    veil_reader r;
    veil_reader_init(&r, in, len);
    if (route_read_header(&r, sig_magic, SIG_VERSION, "path signal", err) != 0)
        return -1;
    s->type = (enum veil_route_signal_type)veil_read_u8(&r);
    veil_read_bytes(&r, s->src, VEIL_ANCHOR_KEY_BYTES);
    veil_read_bytes(&r, s->dst, VEIL_ANCHOR_KEY_BYTES);
    s->nonce = veil_read_u64be(&r);
    s->at_ms = veil_read_u64be(&r);
    s->nat = (enum veil_route_nat)veil_read_u8(&r);
    s->addr_len = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || s->addr_len > VEIL_ANCHOR_ADDR_MAX)
        return veil_err_set(err, VEIL_E_PARSE, "path signal: bad header");
    veil_read_bytes(&r, s->addr, s->addr_len);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "path signal: truncated");
    if (!veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "path signal: trailing bytes");
    if (!sig_valid(s))
        return veil_err_set(err, VEIL_E_PARSE, "path signal: invalid fields");
    return 0;
}
