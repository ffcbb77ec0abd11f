// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_pkt.h - the packet work of the TUN overlay (overlay_pkt.c), pure
 * functions on bytes: the virtio-net header the TUN puts before every
 * packet with IFF_VNET_HDR, checksum completion, cutting a TSO packet into
 * MTU-sized TCP segments, and the inner IPv4/IPv6 addresses used to pick a
 * peer and to check a decrypted packet's source. Everything read from the
 * TUN or from a peer goes through a veil_reader.
 */
#ifndef VEIL_NET_OVERLAY_PKT_H
#define VEIL_NET_OVERLAY_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#define OVERLAY_VNET_HDR_LEN      10 /* struct virtio_net_hdr */
#define OVERLAY_VNET_F_NEEDS_CSUM 1
#define OVERLAY_GSO_NONE          0
#define OVERLAY_GSO_TCPV4         1
#define OVERLAY_GSO_TCPV6         4
#define OVERLAY_GSO_ECN           0x80
#define OVERLAY_SEG_MAX           256   /* segments one TSO packet may be cut into */
#define OVERLAY_FRAME_MAX         65550 /* vnet header + the largest packet */
/* bytes of output room one frame may need: every segment repeats the headers */
#define OVERLAY_SEG_BUF (OVERLAY_FRAME_MAX + OVERLAY_SEG_MAX * 128)

struct overlay_vnet {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* The packets cut from one frame: segment i is buf[off[i], off[i] + len[i]). */
struct overlay_segs {
    uint8_t *buf; /* caller's, OVERLAY_SEG_BUF bytes */
    size_t n;
    size_t off[OVERLAY_SEG_MAX], len[OVERLAY_SEG_MAX];
};

/* Source and destination of an IP packet (IPv4 addresses in the first 4
 * bytes); family is 4 or 6. */
struct overlay_addrs {
    int family;
    uint8_t src[16], dst[16];
};

int overlay_pkt_addrs(const uint8_t *pkt, size_t len, struct overlay_addrs *out) VEIL_WARN_UNUSED;

/* Turns one frame read from the TUN (with its virtio-net header when
 * `vnet`) into packets ready for the wire: a packet with a partial checksum
 * gets it completed, a TSO packet is cut into gso_size segments with
 * correct IP lengths, IDs, TCP sequence numbers, flags and checksums. -1
 * when the frame is malformed or cannot be cut. */
int overlay_segment(const uint8_t *frame, size_t len, bool vnet,
                    struct overlay_segs *out) VEIL_WARN_UNUSED;

/* Receive coalescing (GRO in user space) for writes to a TUN with
 * IFF_VNET_HDR: how many of pkts[0..n) form one run (same TCP flow and
 * headers, consecutive sequence numbers, equal-sized segments but the
 * last, only ACK/PSH, PSH only at the end); at least 1 when n > 0. */
size_t overlay_coalesce_count(const uint8_t *const *pkts, const size_t *lens, size_t n);
/* Writes a run of k packets as one frame for the TUN into out (at least
 * OVERLAY_FRAME_MAX bytes): virtio-net header (TSO, partial checksum) and
 * the merged packet; k == 1 writes the packet as it is. Returns the length. */
size_t overlay_coalesce_write(const uint8_t *const *pkts, const size_t *lens, size_t k,
                              uint8_t *out);

/* The Internet checksum of a whole IPv4 header or of a TCP/UDP packet
 * (with pseudo-header) is correct: for tests and the fuzzer. */
bool overlay_ipv4_header_ok(const uint8_t *pkt, size_t len);
bool overlay_l4_checksum_ok(const uint8_t *pkt, size_t len);

#endif /* VEIL_NET_OVERLAY_PKT_H */
