// SPDX-License-Identifier: Apache-2.0
/*
 * net_sock.c - address parsing and bound UDP sockets for the Anchor hosts
 * (net_sock.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "net_sock.h"

int net_sockaddr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss,
                       socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return -1;
}

int net_udp_bind(const char *who, const char *ip, uint16_t port, int type_flags, int *fd,
                 int *family, uint16_t *bound_port, veil_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_sockaddr_parse(ip, port, &ss, &len) != 0)
        return veil_err_set(err, VEIL_E_INVALID, "%s: not an IP address: %s", who, ip);
    *family = ss.ss_family;
    *fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | type_flags, 0);
    if (*fd < 0)
        return veil_err_set(err, VEIL_E_IO, "%s: socket: %s", who, strerror(errno));
    if (bind(*fd, (struct sockaddr *)&ss, len) != 0 ||
        getsockname(*fd, (struct sockaddr *)&ss, &len) != 0)
        return veil_err_set(err, VEIL_E_IO, "%s: bind %s:%u: %s", who, ip, port,
                            strerror(errno));
    *bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}
