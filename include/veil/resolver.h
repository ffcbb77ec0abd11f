// SPDX-License-Identifier: Apache-2.0
/*
 * veil/resolver.h - the node's small overlay name resolver
 * (src/net/resolver.c): a DNS responder (RFC 1035, UDP) that answers A
 * queries for the names of the replicas the node knows -
 * `<replica>.<job>.<cluster>` - with their overlay IPv4 addresses, and
 * nothing else: NXDOMAIN for an unknown name, an empty answer for other
 * types of a known name, no recursion, no answer at all to a malformed
 * packet or to anything but one standard query.
 *
 * veil_dns_answer is the pure part (a query in, a response out);
 * veil_dns_server runs it on one UDP socket with one thread and a name
 * table the host replaces as replicas come and go.
 */
#ifndef VEIL_RESOLVER_H
#define VEIL_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_DNS_NAME_MAX 253 /* characters of a name, without the final dot */
#define VEIL_DNS_MSG_MAX  512 /* bytes of a query or an answer (plain UDP DNS) */
#define VEIL_DNS_TTL_S    5   /* replicas move: answers are short-lived */

struct veil_dns_entry {
    char name[VEIL_DNS_NAME_MAX + 1]; /* lower case, no final dot: "0.web.c42" */
    uint8_t ipv4[4];
};

/* The response to `query` in out (cap >= VEIL_DNS_MSG_MAX): its length, or
 * 0 when the query deserves no answer (malformed, a response, not one
 * question of class IN). Names match case-insensitively. */
size_t veil_dns_answer(const struct veil_dns_entry *table, size_t n, const uint8_t *query,
                       size_t len, uint8_t *out, size_t cap);

typedef struct veil_dns_server veil_dns_server;

/* Binds bind_ip:port (0 = any free port) and starts answering. */
veil_dns_server *veil_dns_server_start(const char *bind_ip, uint16_t port,
                                       veil_err *err) VEIL_WARN_UNUSED;
uint16_t veil_dns_server_port(const veil_dns_server *s);
/* Replaces the whole name table (copied). */
int veil_dns_server_set(veil_dns_server *s, const struct veil_dns_entry *table, size_t n,
                        veil_err *err) VEIL_WARN_UNUSED;
void veil_dns_server_stop(veil_dns_server *s);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_RESOLVER_H */
