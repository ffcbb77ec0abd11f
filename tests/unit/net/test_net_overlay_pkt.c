// SPDX-License-Identifier: Apache-2.0
/*
 * test_net_overlay_pkt.c - the TUN overlay's packet work (src/net/
 * overlay_pkt.c) on synthetic packets: a TSO packet (IPv4 and IPv6, with
 * TCP timestamps) cut into segments with valid IP and TCP checksums, the
 * right lengths, IDs, sequence numbers and flags; the segments coalesced
 * back into one TSO frame carrying the same payload, which cuts into the
 * same segments again; partial UDP checksums completed; runs broken by a
 * sequence gap or another flow; malformed frames refused; inner addresses.
 */
#include <sodium.h>

#include "overlay_pkt.h"
#include "vtest.h"

#define MSS     1368
#define PAYLOAD 10000
#define TCP_HDR 32

static uint8_t g_payload[PAYLOAD];

static void fill_payload(void)
{
    static const uint8_t seed[randombytes_SEEDBYTES] = {7};
    randombytes_buf_deterministic(g_payload, sizeof g_payload, seed);
}

/* vnet header + IP + TCP (with a timestamps option) + payload; returns length. */
static size_t make_tso(uint8_t *f, int family, size_t payload)
{
    size_t ip = family == 4 ? 20 : 40, hdr = ip + TCP_HDR, len = hdr + payload;
    memset(f, 0, 10 + hdr);
    f[0] = OVERLAY_VNET_F_NEEDS_CSUM;
    f[1] = family == 4 ? OVERLAY_GSO_TCPV4 : OVERLAY_GSO_TCPV6;
    f[2] = (uint8_t)hdr;
    f[4] = MSS & 0xff, f[5] = MSS >> 8;
    f[6] = (uint8_t)ip;
    f[8] = 16;
    uint8_t *p = f + 10;
    if (family == 4) {
        p[0] = 0x45, p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len, p[4] = 0, p[5] = 100;
        p[6] = 0x40, p[8] = 64, p[9] = 6;
        p[12] = 10, p[13] = 77, p[15] = 1, p[16] = 10, p[17] = 77, p[19] = 2;
    } else {
        p[0] = 0x60, p[4] = (uint8_t)((len - 40) >> 8), p[5] = (uint8_t)(len - 40), p[6] = 6;
        p[7] = 64, p[8] = 0xfd, p[23] = 1, p[24] = 0xfd, p[39] = 2;
    }
    uint8_t *t = p + ip;
    t[0] = 0x9c, t[1] = 0x40, t[2] = 0x13, t[3] = 0x89; /* ports 40000 -> 5001 */
    t[4] = 0, t[5] = 0, t[6] = 0x03, t[7] = 0xe8;       /* seq 1000 */
    t[11] = 7;                                          /* ack */
    t[12] = (TCP_HDR / 4) << 4, t[13] = 0x18;           /* ACK | PSH */
    t[14] = 0x01, t[15] = 0xf5;
    t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10, t[27] = 42; /* NOP NOP TS */
    memcpy(p + hdr, g_payload, payload);
    return 10 + len;
}

static uint32_t seq_of(const uint8_t *p, size_t l4)
{
    return (uint32_t)p[l4 + 4] << 24 | (uint32_t)p[l4 + 5] << 16 | (uint32_t)p[l4 + 6] << 8 |
           p[l4 + 7];
}

static void check_family(int family)
{
    static uint8_t frame[OVERLAY_FRAME_MAX], buf[OVERLAY_SEG_BUF], buf2[OVERLAY_SEG_BUF],
        merged[OVERLAY_FRAME_MAX];
    size_t ip = family == 4 ? 20 : 40, hdr = ip + TCP_HDR;
    fill_payload();
    size_t len = make_tso(frame, family, PAYLOAD);
    struct overlay_segs s = {.buf = buf};
    CHECK_EQ_INT(overlay_segment(frame, len, true, &s), 0);
    CHECK_EQ_INT(s.n, (PAYLOAD + MSS - 1) / MSS);
    const uint8_t *pkts[OVERLAY_SEG_MAX];
    for (size_t i = 0; i < s.n; i++) {
        const uint8_t *p = buf + s.off[i];
        size_t want = i + 1 < s.n ? MSS : PAYLOAD - i * MSS;
        pkts[i] = p;
        CHECK_EQ_INT(s.len[i], hdr + want);
        CHECK(overlay_l4_checksum_ok(p, s.len[i]));
        CHECK(family == 6 || overlay_ipv4_header_ok(p, s.len[i]));
        CHECK(family == 6 || ((p[4] << 8) | p[5]) == (int)(100 + i));
        CHECK_EQ_INT(seq_of(p, ip), 1000 + i * MSS);
        CHECK_EQ_INT(p[ip + 13], i + 1 < s.n ? 0x10 : 0x18); /* PSH only on the last */
        CHECK(memcmp(p + hdr, g_payload + i * MSS, want) == 0);
    }
    /* coalesced back: one TSO frame with the same payload */
    CHECK_EQ_INT(overlay_coalesce_count(pkts, s.len, s.n), s.n);
    size_t mlen = overlay_coalesce_write(pkts, s.len, s.n, merged);
    CHECK_EQ_INT(mlen, len);
    CHECK_EQ_INT(merged[1], family == 4 ? OVERLAY_GSO_TCPV4 : OVERLAY_GSO_TCPV6);
    CHECK_EQ_INT(merged[4] | merged[5] << 8, MSS);
    CHECK(memcmp(merged + 10 + hdr, g_payload, PAYLOAD) == 0);
    CHECK_EQ_INT(merged[10 + ip + 13], 0x18);
    struct overlay_segs s2 = {.buf = buf2};
    CHECK_EQ_INT(overlay_segment(merged, mlen, true, &s2), 0);
    CHECK_EQ_INT(s2.n, s.n);
    for (size_t i = 0; i < s.n && i < s2.n; i++)
        CHECK(s2.len[i] == s.len[i] && memcmp(buf2 + s2.off[i], buf + s.off[i], s.len[i]) == 0);
    /* a sequence gap or another flow ends a run */
    if (s.n >= 4) {
        const uint8_t *gap[3] = {pkts[0], pkts[1], pkts[3]};
        size_t gl[3] = {s.len[0], s.len[1], s.len[3]};
        CHECK_EQ_INT(overlay_coalesce_count(gap, gl, 3), 2);
        memcpy(buf2, pkts[1], s.len[1]);
        buf2[ip + 1] ^= 1; /* another source port */
        const uint8_t *other[2] = {pkts[0], buf2};
        size_t ol[2] = {s.len[0], s.len[1]};
        CHECK_EQ_INT(overlay_coalesce_count(other, ol, 2), 1);
    }
    struct overlay_addrs ad;
    CHECK_EQ_INT(overlay_pkt_addrs(buf, s.len[0], &ad), 0);
    CHECK_EQ_INT(ad.family, family);
    CHECK_EQ_INT(ad.dst[family == 4 ? 3 : 15], 2);
}

static void test_tso_v4(void)
{
    check_family(4);
}

static void test_tso_v6(void)
{
    check_family(6);
}

/* A UDP packet with a partial checksum (the pseudo-header sum) is completed. */
static void test_partial_udp(void)
{
    static uint8_t f[10 + 20 + 8 + 100], buf[OVERLAY_SEG_BUF];
    memset(f, 0, sizeof f);
    f[0] = OVERLAY_VNET_F_NEEDS_CSUM, f[6] = 20, f[8] = 6;
    uint8_t *p = f + 10;
    p[0] = 0x45, p[3] = 128, p[8] = 64, p[9] = 17, p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
    p[20] = 0x12, p[22] = 0x34, p[25] = 108;
    fill_payload();
    memcpy(p + 28, g_payload, 100);
    /* seed the checksum field with the pseudo-header sum, as the kernel does */
    uint32_t sum = (10 << 8) + 1 + (10 << 8) + 2 + 17 + 108;
    sum = (sum & 0xffff) + (sum >> 16);
    p[26] = (uint8_t)(sum >> 8), p[27] = (uint8_t)sum;
    struct overlay_segs s = {.buf = buf};
    CHECK_EQ_INT(overlay_segment(f, sizeof f, true, &s), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK(overlay_l4_checksum_ok(buf, s.len[0]));
}

static void test_malformed(void)
{
    static uint8_t f[OVERLAY_FRAME_MAX], buf[OVERLAY_SEG_BUF];
    struct overlay_segs s = {.buf = buf};
    size_t len = make_tso(f, 4, PAYLOAD);
    CHECK_EQ_INT(overlay_segment(f, 9, true, &s), -1);       /* no room for the header */
    CHECK_EQ_INT(overlay_segment(f, 10 + 30, true, &s), -1); /* headers cut short */
    f[4] = f[5] = 0;                                         /* gso_size 0 */
    CHECK_EQ_INT(overlay_segment(f, len, true, &s), -1);
    len = make_tso(f, 4, PAYLOAD);
    f[1] = OVERLAY_GSO_TCPV6; /* family mismatch */
    CHECK_EQ_INT(overlay_segment(f, len, true, &s), -1);
    f[1] = 3; /* UDP fragmentation offload */
    CHECK_EQ_INT(overlay_segment(f, len, true, &s), -1);
    struct overlay_addrs ad;
    CHECK_EQ_INT(overlay_pkt_addrs((const uint8_t *)"\x45\0\0", 3, &ad), -1);
    CHECK_EQ_INT(overlay_pkt_addrs((const uint8_t *)"\x10\0\0\0", 4, &ad), -1);
}

VTEST_MAIN(VTEST(test_tso_v4), VTEST(test_tso_v6), VTEST(test_partial_udp), VTEST(test_malformed))
