// SPDX-License-Identifier: Apache-2.0
/*
 * net_sock.h - the UDP socket chores every Anchor host shares (the libuv
 * adapter anchor_udp.c, the TUN overlay, the embedded agent): an IP text and
 * port as a sockaddr, and a bound datagram socket with the port it got.
 * Private to src/net.
 */
#ifndef VEIL_NET_SOCK_H
#define VEIL_NET_SOCK_H

#include <stdint.h>
#include <sys/socket.h>

#include <veil/base.h>

/* IPv4 or IPv6 text plus port -> *ss (zeroed first) and its length; -1 when
 * ip is neither. */
int net_sockaddr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss,
                       socklen_t *len) VEIL_WARN_UNUSED;

/* A datagram socket of ip's family (extra socket(2) type flags in
 * type_flags, e.g. SOCK_NONBLOCK), close-on-exec, bound to ip:port (0: any
 * port); *fd, *family and *bound_port (the port the kernel gave) are set.
 * `who` prefixes the error ("overlay", "embed", "anchor udp"). On failure
 * the socket, if any, is left in *fd for the caller's teardown. */
int net_udp_bind(const char *who, const char *ip, uint16_t port, int type_flags, int *fd,
                 int *family, uint16_t *bound_port, veil_err *err) VEIL_WARN_UNUSED;

#endif
