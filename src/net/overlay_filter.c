// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_filter.c - the overlay's ingress policy: classifies a decrypted
 * IPv4/IPv6 packet (protocol, destination address and port, whether it
 * opens something or answers) and matches it against the host's rules.
 * Stateless: a TCP segment other than a lone SYN cannot open a connection,
 * so it passes (replies to this side's connections); opening needs a rule.
 */
#include <string.h>

#include <sodium.h>

#include "overlay_filter.h"

#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_ICMPV6 58

struct pkt_class {
    uint8_t proto;
    uint8_t dst_v4[4];
    bool v4;
    uint16_t dst_port; /* TCP/UDP */
    bool reply;        /* cannot open anything: see the top comment */
};

/* Layer 4 after the IP header: ports, TCP flags, ICMP type. */
static bool classify_l4(veil_reader *r, struct pkt_class *c)
{
    if (c->proto == PROTO_TCP || c->proto == PROTO_UDP) {
        (void)veil_read_u16be(r); /* source port */
        c->dst_port = veil_read_u16be(r);
        if (c->proto == PROTO_TCP) {
            veil_reader_skip(r, 9); /* sequence, ack, data offset */
            uint8_t flags = veil_read_u8(r);
            c->reply = !((flags & 0x02) && !(flags & 0x10)); /* SYN without ACK opens */
        }
    } else if (c->proto == PROTO_ICMP || c->proto == PROTO_ICMPV6) {
        uint8_t type = veil_read_u8(r);
        c->reply = c->proto == PROTO_ICMP ? (type == 0 || type == 3 || type == 11)
                                          : (type == 129 || type < 128);
    }
    return veil_reader_ok(r);
}

static bool classify(const uint8_t *pkt, size_t len, struct pkt_class *c)
{
    veil_reader r;
    veil_reader_init(&r, pkt, len);
    memset(c, 0, sizeof *c);
    uint8_t vihl = veil_read_u8(&r);
    if ((vihl >> 4) == 4) {
        size_t ihl = (size_t)(vihl & 0x0f) * 4;
        veil_reader_skip(&r, 8);
        c->proto = veil_read_u8(&r);
        veil_reader_skip(&r, 6); /* checksum, source */
        veil_read_bytes(&r, c->dst_v4, 4);
        c->v4 = true;
        if (ihl < 20)
            return false;
        veil_reader_skip(&r, ihl - 20);
    } else if ((vihl >> 4) == 6) {
        veil_reader_skip(&r, 5);
        c->proto = veil_read_u8(&r); /* extension headers: no port, rules by protocol only */
        veil_reader_skip(&r, 1 + 32);
    } else {
        return false;
    }
    return veil_reader_ok(&r) && classify_l4(&r, c);
}

static bool rule_matches(const struct veil_overlay_rule *rule, const uint8_t *peer,
                         const struct pkt_class *c)
{
    static const uint8_t any[VEIL_ANCHOR_KEY_BYTES];
    if (sodium_memcmp(rule->peer, any, sizeof any) != 0 &&
        sodium_memcmp(rule->peer, peer, VEIL_ANCHOR_KEY_BYTES) != 0)
        return false;
    if (rule->proto != 0 && rule->proto != c->proto)
        return false;
    if ((rule->proto == PROTO_TCP || rule->proto == PROTO_UDP) &&
        (c->dst_port < rule->port_lo || c->dst_port > rule->port_hi))
        return false;
    if (rule->dst_prefix == 0)
        return true;
    if (!c->v4 || rule->dst_prefix > 32)
        return false;
    uint32_t want = (uint32_t)rule->dst_v4[0] << 24 | (uint32_t)rule->dst_v4[1] << 16 |
                    (uint32_t)rule->dst_v4[2] << 8 | rule->dst_v4[3];
    uint32_t got = (uint32_t)c->dst_v4[0] << 24 | (uint32_t)c->dst_v4[1] << 16 |
                   (uint32_t)c->dst_v4[2] << 8 | c->dst_v4[3];
    uint32_t mask = rule->dst_prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> rule->dst_prefix);
    return (want & mask) == (got & mask);
}

bool overlay_filter_allows(const struct veil_overlay_rule *rules, size_t n,
                           const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const uint8_t *pkt,
                           size_t len)
{
    struct pkt_class c;
    if (!classify(pkt, len, &c))
        return false;
    if (c.reply)
        return true;
    for (size_t i = 0; i < n; i++)
        if (rule_matches(&rules[i], peer, &c))
            return true;
    return false;
}
