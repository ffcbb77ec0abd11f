// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_pkt.c - the TUN overlay's packet work (overlay_pkt.h): virtio-net
 * header, Internet checksums, TSO segmentation, inner addresses.
 *
 * Checksums are summed as little-endian 32-bit loads into a 64-bit
 * accumulator and folded; the one's-complement sum does not depend on the
 * byte order it is taken in, so the folded result is only byte-swapped to
 * network order at the end.
 */
#include <string.h>

#include "overlay_pkt.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_FIN      0x01
#define TCP_PSH      0x08
#define TCP_CWR      0x80

static void put16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32be(uint8_t *p, uint32_t v)
{
    put16be(p, (uint16_t)(v >> 16));
    put16be(p + 2, (uint16_t)v);
}

static uint32_t get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t sum_add(uint64_t acc, const uint8_t *p, size_t n)
{
    while (n >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        acc += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        acc += (uint32_t)p[0] | (uint32_t)p[1] << 8;
        p += 2;
        n -= 2;
    }
    if (n)
        acc += p[0];
    return acc;
}

/* Folds a little-endian sum and returns it in network order as a value
 * (high byte first when stored with put16be). */
static uint16_t sum_fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)((acc & 0xff) << 8 | acc >> 8);
}

static uint16_t csum_finish(uint64_t acc)
{
    return (uint16_t)~sum_fold(acc);
}

/* The pseudo-header sum of a TCP/UDP packet of l4_len bytes. */
static uint64_t pseudo_sum(const uint8_t *ip, int family, uint8_t proto, size_t l4_len)
{
    uint8_t tail[8] = {0};
    uint64_t acc;
    if (family == 4) {
        acc = sum_add(0, ip + 12, 8);
        tail[1] = proto;
        put16be(tail + 2, (uint16_t)l4_len);
        return sum_add(acc, tail, 4);
    }
    acc = sum_add(0, ip + 8, 32);
    put32be(tail, (uint32_t)l4_len);
    tail[7] = proto;
    return sum_add(acc, tail, 8);
}

/* Family, transport protocol and transport offset of an IP packet. */
struct ip_info {
    int family;
    uint8_t proto;
    size_t l4;
};

static int ip_info(const uint8_t *pkt, size_t len, struct ip_info *out)
{
    veil_reader r;
    veil_reader_init(&r, pkt, len);
    uint8_t vihl = veil_read_u8(&r);
    if (!veil_reader_ok(&r))
        return -1;
    if (vihl >> 4 == 4) {
        out->family = 4;
        out->l4 = (size_t)(vihl & 15) * 4;
        veil_reader_skip(&r, 8);
        out->proto = veil_read_u8(&r);
        veil_reader_skip(&r, 10); /* checksum, addresses */
        if (out->l4 < 20)
            veil_reader_fail(&r);
    } else if (vihl >> 4 == 6) {
        out->family = 6;
        out->l4 = 40;
        veil_reader_skip(&r, 5);
        out->proto = veil_read_u8(&r);
        veil_reader_skip(&r, 33);
    } else {
        return -1;
    }
    return veil_reader_ok(&r) && out->l4 <= len ? 0 : -1;
}

int overlay_pkt_addrs(const uint8_t *pkt, size_t len, struct overlay_addrs *out)
{
    struct ip_info ii;
    if (ip_info(pkt, len, &ii) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->family = ii.family;
    size_t at = ii.family == 4 ? 12 : 8, n = ii.family == 4 ? 4 : 16;
    memcpy(out->src, pkt + at, n);
    memcpy(out->dst, pkt + at + n, n);
    return 0;
}

static int read_vnet(veil_reader *r, struct overlay_vnet *h)
{
    h->flags = veil_read_u8(r);
    h->gso_type = veil_read_u8(r);
    h->hdr_len = veil_read_u16le(r);
    h->gso_size = veil_read_u16le(r);
    h->csum_start = veil_read_u16le(r);
    h->csum_offset = veil_read_u16le(r);
    return veil_reader_ok(r) ? 0 : -1;
}

/* A packet without segmentation: copied, its partial checksum completed. */
static int one_packet(const struct overlay_vnet *h, const uint8_t *pkt, size_t len,
                      struct overlay_segs *out)
{
    memcpy(out->buf, pkt, len);
    if (h->flags & OVERLAY_VNET_F_NEEDS_CSUM) {
        size_t at = (size_t)h->csum_start + h->csum_offset;
        if (h->csum_start >= len || at + 2 > len)
            return -1;
        uint16_t c = csum_finish(sum_add(0, out->buf + h->csum_start, len - h->csum_start));
        if (c == 0 && h->csum_offset == 6)
            c = 0xffff; /* UDP: 0 means "no checksum" */
        put16be(out->buf + at, c);
    }
    out->off[0] = 0;
    out->len[0] = len;
    out->n = 1;
    return 0;
}

/* Writes segment i (chunk payload bytes at payload offset i * mss) of a TSO
 * packet whose headers are hdr bytes long; returns its length. */
static size_t write_segment(uint8_t *o, const uint8_t *pkt, const struct ip_info *ii, size_t hdr,
                            size_t mss, size_t i, size_t nseg, size_t chunk)
{
    memcpy(o, pkt, hdr);
    memcpy(o + hdr, pkt + hdr + i * mss, chunk);
    size_t len = hdr + chunk;
    if (ii->family == 4) {
        put16be(o + 2, (uint16_t)len);
        put16be(o + 4, (uint16_t)(((uint16_t)pkt[4] << 8 | pkt[5]) + i));
        o[10] = o[11] = 0;
        put16be(o + 10, csum_finish(sum_add(0, o, ii->l4)));
    } else {
        put16be(o + 4, (uint16_t)(len - 40));
    }
    uint8_t *tcp = o + ii->l4;
    put32be(tcp + 4, get32be(pkt + ii->l4 + 4) + (uint32_t)(i * mss));
    if (i + 1 < nseg)
        tcp[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
    if (i > 0)
        tcp[13] &= (uint8_t)~TCP_CWR;
    tcp[16] = tcp[17] = 0;
    uint64_t acc = pseudo_sum(o, ii->family, IPPROTO_TCP_, len - ii->l4);
    put16be(tcp + 16, csum_finish(sum_add(acc, tcp, len - ii->l4)));
    return len;
}

static int tso_packet(const struct overlay_vnet *h, const uint8_t *pkt, size_t len,
                      struct overlay_segs *out)
{
    struct ip_info ii;
    int want = (h->gso_type & ~OVERLAY_GSO_ECN) == OVERLAY_GSO_TCPV4 ? 4 : 6;
    if (ip_info(pkt, len, &ii) != 0 || ii.family != want || ii.proto != IPPROTO_TCP_ ||
        ii.l4 + 20 > len || h->gso_size == 0)
        return -1;
    size_t hdr = ii.l4 + (size_t)(pkt[ii.l4 + 12] >> 4) * 4;
    if (hdr < ii.l4 + 20 || hdr > len)
        return -1;
    size_t payload = len - hdr, mss = h->gso_size;
    size_t nseg = payload ? (payload + mss - 1) / mss : 1;
    if (nseg > OVERLAY_SEG_MAX || nseg * hdr + payload > OVERLAY_SEG_BUF)
        return -1;
    size_t pos = 0;
    for (size_t i = 0; i < nseg; i++) {
        size_t chunk = payload - i * mss < mss ? payload - i * mss : mss;
        out->off[i] = pos;
        out->len[i] = write_segment(out->buf + pos, pkt, &ii, hdr, mss, i, nseg, chunk);
        pos += out->len[i];
    }
    out->n = nseg;
    return 0;
}

int overlay_segment(const uint8_t *frame, size_t len, bool vnet, struct overlay_segs *out)
{
    struct overlay_vnet h;
    memset(&h, 0, sizeof h);
    veil_reader r;
    veil_reader_init(&r, frame, len);
    out->n = 0;
    if (vnet && read_vnet(&r, &h) != 0)
        return -1;
    size_t plen = veil_reader_remaining(&r);
    const uint8_t *pkt = veil_read_borrow(&r, plen);
    if (!pkt || plen == 0 || plen > OVERLAY_FRAME_MAX - OVERLAY_VNET_HDR_LEN)
        return -1;
    if ((h.gso_type & ~OVERLAY_GSO_ECN) == OVERLAY_GSO_NONE)
        return one_packet(&h, pkt, plen, out);
    if ((h.gso_type & ~OVERLAY_GSO_ECN) != OVERLAY_GSO_TCPV4 &&
        (h.gso_type & ~OVERLAY_GSO_ECN) != OVERLAY_GSO_TCPV6)
        return -1;
    return tso_packet(&h, pkt, plen, out);
}

bool overlay_ipv4_header_ok(const uint8_t *pkt, size_t len)
{
    struct ip_info ii;
    return ip_info(pkt, len, &ii) == 0 && ii.family == 4 &&
           sum_fold(sum_add(0, pkt, ii.l4)) == 0xffff;
}

bool overlay_l4_checksum_ok(const uint8_t *pkt, size_t len)
{
    struct ip_info ii;
    if (ip_info(pkt, len, &ii) != 0 || (ii.proto != IPPROTO_TCP_ && ii.proto != IPPROTO_UDP_))
        return false;
    uint64_t acc = pseudo_sum(pkt, ii.family, ii.proto, len - ii.l4);
    return sum_fold(sum_add(acc, pkt + ii.l4, len - ii.l4)) == 0xffff;
}

/* ---- receive coalescing ---------------------------------------------------- */

#define TCP_ACK            0x10
#define COALESCE_MAX_BYTES 65000

/* A TCP packet that may join a coalesced run: plain IPv4 (no options, not
 * a fragment) or IPv6 without extension headers, only ACK/PSH set, data. */
struct tcp_view {
    int family;
    size_t l4, hdr, payload;
    uint32_t seq;
    uint8_t flags;
};

static bool tcp_view(const uint8_t *p, size_t len, struct tcp_view *v)
{
    struct ip_info ii;
    if (ip_info(p, len, &ii) != 0 || ii.proto != IPPROTO_TCP_ || ii.l4 + 20 > len)
        return false;
    if (ii.family == 4 && (ii.l4 != 20 || ((size_t)p[2] << 8 | p[3]) != len ||
                           (((unsigned)p[6] << 8 | p[7]) & 0x3fff) != 0))
        return false;
    if (ii.family == 6 && ((size_t)p[4] << 8 | p[5]) + 40 != len)
        return false;
    v->family = ii.family;
    v->l4 = ii.l4;
    v->hdr = ii.l4 + (size_t)(p[ii.l4 + 12] >> 4) * 4;
    if (v->hdr < ii.l4 + 20 || v->hdr >= len)
        return false;
    v->payload = len - v->hdr;
    v->seq = get32be(p + ii.l4 + 4);
    v->flags = p[ii.l4 + 13];
    return (v->flags & (uint8_t) ~(TCP_ACK | TCP_PSH)) == 0 && (v->flags & TCP_ACK);
}

/* Same flow and headers that may merge: addresses, ports, ack, window,
 * options, and the IP fields GRO also insists on. */
static bool same_flow(const uint8_t *a, const struct tcp_view *va, const uint8_t *b,
                      const struct tcp_view *vb)
{
    if (va->family != vb->family || va->hdr != vb->hdr)
        return false;
    if (va->family == 4 &&
        (a[1] != b[1] || a[6] != b[6] || a[8] != b[8] || memcmp(a + 12, b + 12, 8) != 0))
        return false;
    if (va->family == 6 && (memcmp(a, b, 4) != 0 || memcmp(a + 6, b + 6, 34) != 0))
        return false;
    const uint8_t *ta = a + va->l4, *tb = b + vb->l4;
    return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 4) == 0 &&
           memcmp(ta + 14, tb + 14, 2) == 0 && memcmp(ta + 20, tb + 20, va->hdr - va->l4 - 20) == 0;
}

size_t overlay_coalesce_count(const uint8_t *const *pkts, const size_t *lens, size_t n)
{
    struct tcp_view first, prev, v;
    if (n == 0 || !tcp_view(pkts[0], lens[0], &first) || (first.flags & TCP_PSH))
        return n ? 1 : 0;
    prev = first;
    size_t k = 1, total = lens[0];
    while (k < n && k < OVERLAY_SEG_MAX && tcp_view(pkts[k], lens[k], &v) &&
           same_flow(pkts[0], &first, pkts[k], &v) && v.seq == prev.seq + (uint32_t)prev.payload &&
           v.payload <= first.payload && prev.payload == first.payload && !(prev.flags & TCP_PSH) &&
           total + v.payload <= COALESCE_MAX_BYTES) {
        total += v.payload;
        prev = v;
        k++;
    }
    return k;
}

size_t overlay_coalesce_write(const uint8_t *const *pkts, const size_t *lens, size_t k,
                              uint8_t *out)
{
    struct tcp_view v;
    memset(out, 0, OVERLAY_VNET_HDR_LEN);
    if (k == 1 || !tcp_view(pkts[0], lens[0], &v)) {
        memcpy(out + OVERLAY_VNET_HDR_LEN, pkts[0], lens[0]);
        return OVERLAY_VNET_HDR_LEN + lens[0];
    }
    uint8_t *p = out + OVERLAY_VNET_HDR_LEN;
    size_t len = v.hdr;
    memcpy(p, pkts[0], v.hdr);
    for (size_t i = 0; i < k; i++) {
        size_t pay = lens[i] - v.hdr;
        memcpy(p + len, pkts[i] + v.hdr, pay);
        len += pay;
    }
    p[v.l4 + 13] |= pkts[k - 1][v.l4 + 13] & TCP_PSH;
    if (v.family == 4) {
        put16be(p + 2, (uint16_t)len);
        p[10] = p[11] = 0;
        put16be(p + 10, csum_finish(sum_add(0, p, 20)));
    } else {
        put16be(p + 4, (uint16_t)(len - 40));
    }
    /* partial checksum: the pseudo-header sum, completed by the kernel */
    put16be(p + v.l4 + 16, sum_fold(pseudo_sum(p, v.family, IPPROTO_TCP_, len - v.l4)));
    out[0] = OVERLAY_VNET_F_NEEDS_CSUM;
    out[1] = v.family == 4 ? OVERLAY_GSO_TCPV4 : OVERLAY_GSO_TCPV6;
    uint16_t fields[4] = {(uint16_t)v.hdr, (uint16_t)v.payload, (uint16_t)v.l4, 16};
    for (int i = 0; i < 4; i++) {
        out[2 + 2 * i] = (uint8_t)fields[i];
        out[3 + 2 * i] = (uint8_t)(fields[i] >> 8);
    }
    return OVERLAY_VNET_HDR_LEN + len;
}
