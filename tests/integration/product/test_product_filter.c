// SPDX-License-Identifier: Apache-2.0
/*
 * test_product_filter.c - the overlay's ingress rules
 * (src/net/overlay_filter.c) on hand-built packets: a lone TCP SYN needs a
 * rule (port range, protocol, peer, destination prefix all checked), other
 * TCP segments and ICMP echo replies pass as answers, an echo request and
 * UDP need rules, IPv6 packets are classified too, truncated and
 * non-IP packets never pass.
 */
#include <string.h>

#include "overlay_filter.h"
#include "vtest.h"

static const uint8_t peer_a[32] = {1}, peer_b[32] = {2};

/* IPv4 (20-byte header) to 10.77.0.5, then `l4` of `n` bytes. */
static size_t v4(uint8_t *p, uint8_t proto, const uint8_t *l4, size_t n)
{
    memset(p, 0, 20);
    p[0] = 0x45;
    p[9] = proto;
    memcpy(p + 12, (const uint8_t[]){10, 77, 0, 1}, 4);
    memcpy(p + 16, (const uint8_t[]){10, 77, 0, 5}, 4);
    memcpy(p + 20, l4, n);
    return 20 + n;
}

static size_t tcp(uint8_t *p, uint16_t port, uint8_t flags)
{
    uint8_t h[20] = {0x9c, 0x40, (uint8_t)(port >> 8), (uint8_t)port};
    h[12] = 0x50;
    h[13] = flags;
    return v4(p, 6, h, sizeof h);
}

static void test_tcp(void)
{
    uint8_t p[64];
    struct veil_overlay_rule r = {.proto = 6, .port_lo = 8080, .port_hi = 8081};
    size_t n = tcp(p, 8080, 0x02);
    CHECK(!overlay_filter_allows(NULL, 0, peer_a, p, n)); /* SYN, no rule */
    CHECK(overlay_filter_allows(&r, 1, peer_a, p, n));
    n = tcp(p, 8082, 0x02);
    CHECK(!overlay_filter_allows(&r, 1, peer_a, p, n));
    n = tcp(p, 9090, 0x12); /* SYN-ACK: an answer */
    CHECK(overlay_filter_allows(NULL, 0, peer_a, p, n));
    n = tcp(p, 9090, 0x10); /* ACK */
    CHECK(overlay_filter_allows(NULL, 0, peer_a, p, n));
    n = tcp(p, 8080, 0x02);
    CHECK(!overlay_filter_allows(&r, 1, peer_a, p, n - 8)); /* truncated */
    memcpy(r.peer, peer_b, 32);
    CHECK(!overlay_filter_allows(&r, 1, peer_a, p, n));
    CHECK(overlay_filter_allows(&r, 1, peer_b, p, n));
    memset(r.peer, 0, 32);
    memcpy(r.dst_v4, (const uint8_t[]){10, 77, 0, 5}, 4);
    r.dst_prefix = 32;
    CHECK(overlay_filter_allows(&r, 1, peer_a, p, n));
    r.dst_v4[3] = 6;
    CHECK(!overlay_filter_allows(&r, 1, peer_a, p, n));
    r.dst_prefix = 24;
    CHECK(overlay_filter_allows(&r, 1, peer_a, p, n));
}

static void test_icmp_udp(void)
{
    uint8_t p[64];
    const uint8_t echo[8] = {8}, reply[8] = {0}, udp[8] = {0, 53, 0, 53, 0, 8};
    struct veil_overlay_rule icmp = {.proto = 1}, dns = {.proto = 17, .port_lo = 53, .port_hi = 53};
    size_t n = v4(p, 1, echo, sizeof echo);
    CHECK(!overlay_filter_allows(NULL, 0, peer_a, p, n));
    CHECK(overlay_filter_allows(&icmp, 1, peer_a, p, n));
    CHECK(!overlay_filter_allows(&dns, 1, peer_a, p, n));
    n = v4(p, 1, reply, sizeof reply);
    CHECK(overlay_filter_allows(NULL, 0, peer_a, p, n));
    n = v4(p, 17, udp, sizeof udp);
    CHECK(!overlay_filter_allows(&icmp, 1, peer_a, p, n));
    CHECK(overlay_filter_allows(&dns, 1, peer_a, p, n));
}

static void test_v6_and_junk(void)
{
    uint8_t p[80] = {0x60};
    p[6] = 58;   /* ICMPv6 */
    p[40] = 128; /* echo request */
    CHECK(!overlay_filter_allows(NULL, 0, peer_a, p, 48));
    p[40] = 129;
    CHECK(overlay_filter_allows(NULL, 0, peer_a, p, 48));
    p[6] = 6;
    p[42] = 0x1f, p[43] = 0x90; /* port 8080 */
    p[53] = 0x02;
    struct veil_overlay_rule r = {.proto = 6, .port_lo = 8080, .port_hi = 8080};
    CHECK(overlay_filter_allows(&r, 1, peer_a, p, 60));
    r.dst_prefix = 8; /* an IPv4 destination rule never matches IPv6 */
    CHECK(!overlay_filter_allows(&r, 1, peer_a, p, 60));
    uint8_t junk[20] = {0x20};
    struct veil_overlay_rule any = {0};
    CHECK(!overlay_filter_allows(&any, 1, peer_a, junk, sizeof junk));
    CHECK(!overlay_filter_allows(&any, 1, peer_a, junk, 0));
    uint8_t badihl[40] = {0x44};
    CHECK(!overlay_filter_allows(&any, 1, peer_a, badihl, sizeof badihl));
}

VTEST_MAIN(VTEST(test_tcp), VTEST(test_icmp_udp), VTEST(test_v6_and_junk))
