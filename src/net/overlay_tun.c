// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_tun.c - the TUN interface of the overlay (overlay_int.h): opening
 * /dev/net/tun with the offloads the kernel takes, and configuring the
 * interface with ioctls (addresses with their prefixes, which also routes
 * the realm's pool and IPv6 prefix to it, MTU, up). No netlink, no `ip`.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "overlay_int.h"

#ifndef IFF_NAPI
#define IFF_NAPI 0x0010
#endif

/* linux/ipv6.h's struct in6_ifreq (that header clashes with netinet/in.h) */
struct overlay_in6_ifreq {
    struct in6_addr addr;
    uint32_t prefixlen;
    int ifindex;
};

static int tun_try(const char *name, short flags, char ifname[IFNAMSIZ])
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = flags;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
    return fd;
}

/* TSO (IPv4 and IPv6) with checksum offload, else nothing: a kernel that
 * refuses TSO gets plain packets (the virtio-net header stays, zero). */
static bool set_offloads(int fd)
{
    unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    if (ioctl(fd, TUNSETOFFLOAD, off) == 0)
        return true;
    (void)ioctl(fd, TUNSETOFFLOAD, 0u);
    return false;
}

int overlay_tun_open(const char *name, bool offload, struct overlay_tun *t, veil_err *err)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    if (!name || strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
        return veil_err_set(err, VEIL_E_INVALID, "overlay: bad interface name");
    short base = IFF_TUN | IFF_NO_PI;
    if (offload) {
        /* kernel GRO on what we write (IFF_NAPI) where allowed */
        t->fd = tun_try(name, base | IFF_VNET_HDR | IFF_NAPI, t->ifname);
        t->napi = t->fd >= 0;
        if (t->fd < 0)
            t->fd = tun_try(name, base | IFF_VNET_HDR, t->ifname);
        t->vnet = t->fd >= 0;
    }
    if (t->fd < 0)
        t->fd = tun_try(name, base, t->ifname);
    if (t->fd < 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: cannot create TUN %s: %s", name,
                            strerror(errno));
    int hdr = OVERLAY_VNET_HDR_LEN;
    if (t->vnet && ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) != 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: TUNSETVNETHDRSZ: %s", strerror(errno));
    t->tso = t->vnet && set_offloads(t->fd);
    return 0;
}

static int if_ioctl(int family, unsigned long req, struct ifreq *ifr, const char *what,
                    veil_err *err)
{
    int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: socket: %s", strerror(errno));
    int rc = ioctl(s, req, ifr);
    int e = errno;
    close(s);
    if (rc != 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: %s %s: %s", what, ifr->ifr_name, strerror(e));
    return 0;
}

static int set_ipv4(const char *ifname, const uint8_t v4[4], unsigned prefix, veil_err *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, v4, 4);
    if (if_ioctl(AF_INET, SIOCSIFADDR, &ifr, "set IPv4 address", err) != 0)
        return -1;
    uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
    sin = (struct sockaddr_in *)&ifr.ifr_netmask;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, &mask, 4);
    return if_ioctl(AF_INET, SIOCSIFNETMASK, &ifr, "set IPv4 prefix", err);
}

/* Duplicate address detection would hold the address back for a second;
 * the address is derived from the identity, so it is skipped (best effort). */
static void no_dad(const char *ifname)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_dad", ifname);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("0\n", f);
        fclose(f);
    }
}

static int set_ipv6(const char *ifname, const uint8_t v6[16], veil_err *err)
{
    no_dad(ifname);
    struct overlay_in6_ifreq r6;
    memset(&r6, 0, sizeof r6);
    memcpy(&r6.addr, v6, 16);
    r6.prefixlen = OVERLAY_V6_PREFIX;
    r6.ifindex = (int)if_nametoindex(ifname);
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: IPv6 socket: %s", strerror(errno));
    int rc = r6.ifindex ? ioctl(s, SIOCSIFADDR, &r6) : -1;
    int e = errno;
    close(s);
    if (rc != 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: set IPv6 address on %s: %s", ifname,
                            strerror(e));
    return 0;
}

static int set_up(const char *ifname, unsigned mtu, veil_err *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    ifr.ifr_mtu = (int)mtu;
    if (if_ioctl(AF_INET, SIOCSIFMTU, &ifr, "set MTU", err) != 0)
        return -1;
    ifr.ifr_qlen = 1000;
    (void)if_ioctl(AF_INET, SIOCSIFTXQLEN, &ifr, "set queue length", NULL);
    if (if_ioctl(AF_INET, SIOCGIFFLAGS, &ifr, "get flags", err) != 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return if_ioctl(AF_INET, SIOCSIFFLAGS, &ifr, "bring up", err);
}

int overlay_tun_configure(const struct overlay_tun *t, const uint8_t v4[4], unsigned prefix,
                          const uint8_t v6[16], unsigned mtu, veil_err *err)
{
    if (set_up(t->ifname, mtu, err) != 0 || set_ipv4(t->ifname, v4, prefix, err) != 0 ||
        set_ipv6(t->ifname, v6, err) != 0)
        return -1;
    return 0;
}
