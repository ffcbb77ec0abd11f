// SPDX-License-Identifier: Apache-2.0
/*
 * topo.c - the topology summary a node publishes on veil.<realm>.topo.<node>
 * (struct veil_route_topo): its own per-link observations, whether it
 * relays, its reflexive address and NAT kind. Strict codec: fixed magic and
 * version, every count and length bounded, no unknown flag bits, links in
 * strictly increasing peer order (one canonical encoding), nothing trailing.
 *
 * Layout (big endian): "VRT" version(1) | node(32) | seq(8) | flags(1:
 * bit0 relay_willing) | nat(1) | addr_len(1) addr | n_links(1) |
 * n_links x { peer(32) rtt_us(4) loss_ppm(4) tput_kbps(4) }.
 * Also the magic/version check the path signal codec shares (route_int.h).
 */
#include <string.h>

#include "veil/route.h"

#include "route_int.h"

static const uint8_t topo_magic[3] = {'V', 'R', 'T'};

static int check_topo(const struct veil_route_topo *t, veil_err *err)
{
    if (t->addr_len > VEIL_ANCHOR_ADDR_MAX || t->n_links > VEIL_ROUTE_TOPO_LINKS_MAX ||
        (unsigned)t->nat > VEIL_ROUTE_NAT_UNKNOWN)
        return veil_err_set(err, VEIL_E_RANGE, "topo summary: field out of range");
    for (size_t i = 0; i < t->n_links; i++) {
        if (t->links[i].loss_ppm > 1000000)
            return veil_err_set(err, VEIL_E_RANGE, "topo summary: loss over 100%%");
        if (i > 0 && memcmp(t->links[i - 1].peer, t->links[i].peer, VEIL_ANCHOR_KEY_BYTES) >= 0)
            return veil_err_set(err, VEIL_E_PARSE, "topo summary: links not strictly sorted");
        if (memcmp(t->links[i].peer, t->node, VEIL_ANCHOR_KEY_BYTES) == 0)
            return veil_err_set(err, VEIL_E_PARSE, "topo summary: link to itself");
    }
    return 0;
}

int veil_route_topo_encode(const struct veil_route_topo *t, veil_buf *out, veil_err *err)
{
    if (check_topo(t, err) != 0)
        return -1;
    veil_buf_put(out, topo_magic, sizeof topo_magic);
    veil_buf_put_u8(out, VEIL_ROUTE_TOPO_VERSION);
    veil_buf_put(out, t->node, VEIL_ANCHOR_KEY_BYTES);
    veil_buf_put_u64be(out, t->seq);
    veil_buf_put_u8(out, t->relay_willing ? 1 : 0);
    veil_buf_put_u8(out, (uint8_t)t->nat);
    veil_buf_put_u8(out, (uint8_t)t->addr_len);
    veil_buf_put(out, t->addr, t->addr_len);
    veil_buf_put_u8(out, (uint8_t)t->n_links);
    for (size_t i = 0; i < t->n_links; i++) {
        veil_buf_put(out, t->links[i].peer, VEIL_ANCHOR_KEY_BYTES);
        veil_buf_put_u32be(out, t->links[i].rtt_us);
        veil_buf_put_u32be(out, t->links[i].loss_ppm);
        veil_buf_put_u32be(out, t->links[i].tput_kbps);
    }
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "topo summary: output buffer");
    return 0;
}

static void read_links(struct veil_route_topo *t, veil_reader *r)
{
    for (size_t i = 0; i < t->n_links; i++) {
        veil_read_bytes(r, t->links[i].peer, VEIL_ANCHOR_KEY_BYTES);
        t->links[i].rtt_us = veil_read_u32be(r);
        t->links[i].loss_ppm = veil_read_u32be(r);
        t->links[i].tput_kbps = veil_read_u32be(r);
    }
}

int route_read_header(veil_reader *r, const uint8_t magic[3], uint8_t version, const char *what,
                      veil_err *err)
{
    uint8_t got[3] = {0};
    veil_read_bytes(r, got, sizeof got);
    uint8_t v = veil_read_u8(r);
    if (!veil_reader_ok(r) || memcmp(got, magic, sizeof got) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "%s: bad magic", what);
    if (v != version)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "%s: version %u", what, v);
    return 0;
}

int veil_route_topo_decode(struct veil_route_topo *t, const uint8_t *in, size_t len, veil_err *err)
{
    memset(t, 0, sizeof *t);
    if (len > VEIL_ROUTE_TOPO_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "topo summary: %zu bytes is too long", len);
    veil_reader r;
    veil_reader_init(&r, in, len);
    if (route_read_header(&r, topo_magic, VEIL_ROUTE_TOPO_VERSION, "topo summary", err) != 0)
        return -1;
    veil_read_bytes(&r, t->node, VEIL_ANCHOR_KEY_BYTES);
    t->seq = veil_read_u64be(&r);
    uint8_t flags = veil_read_u8(&r);
    uint8_t nat = veil_read_u8(&r);
    t->addr_len = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || (flags & ~1u) != 0 || nat > VEIL_ROUTE_NAT_UNKNOWN ||
        t->addr_len > VEIL_ANCHOR_ADDR_MAX)
        return veil_err_set(err, VEIL_E_PARSE, "topo summary: bad header");
    t->relay_willing = flags & 1;
    t->nat = (enum veil_route_nat)nat;
    veil_read_bytes(&r, t->addr, t->addr_len);
    t->n_links = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || t->n_links > VEIL_ROUTE_TOPO_LINKS_MAX)
        return veil_err_set(err, VEIL_E_PARSE, "topo summary: bad link count");
    read_links(t, &r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "topo summary: truncated");
    if (!veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "topo summary: %zu trailing bytes",
                            veil_reader_remaining(&r));
    return check_topo(t, err);
}

const struct veil_route_link *veil_route_topo_link(const struct veil_route_topo *t,
                                                   const uint8_t peer[VEIL_ANCHOR_KEY_BYTES])
{
    for (size_t i = 0; i < t->n_links && i < VEIL_ROUTE_TOPO_LINKS_MAX; i++)
        if (memcmp(t->links[i].peer, peer, VEIL_ANCHOR_KEY_BYTES) == 0)
            return &t->links[i];
    return NULL;
}
