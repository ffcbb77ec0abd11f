// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_filter.h - the overlay's ingress policy (overlay_filter.c): which
 * decrypted packets from a peer may enter the interface when the host
 * enforces rules (veil_overlay_set_rules). A pure function on bytes, read
 * through a veil_reader.
 */
#ifndef VEIL_NET_OVERLAY_FILTER_H
#define VEIL_NET_OVERLAY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/overlay.h>

/* True when the packet from `peer` may enter: a reply (a TCP segment that
 * is not a lone SYN, an ICMP/ICMPv6 echo reply or error) or a packet some
 * rule allows. Malformed packets never enter. */
bool overlay_filter_allows(const struct veil_overlay_rule *rules, size_t n,
                           const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const uint8_t *pkt,
                           size_t len);

#endif
