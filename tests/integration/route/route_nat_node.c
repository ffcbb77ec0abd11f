// SPDX-License-Identifier: Apache-2.0
/*
 * route_nat_node.c - the NAT traversal test's host program (run by
 * nat_netns.sh in network namespaces behind real nftables NATs).
 *
 *   route_nat_node member PORT_A PORT_B
 *       A reachable member: answers "W" with the reflexive address it saw
 *       (what peers report in VeilNet), registers names ("R" name), carries
 *       path signals between registered nodes ("S" to payload: the stand-in
 *       for Master's `path` subject in this test) and relays ("L" to payload).
 *   route_nat_node node NAME MEMBER_IP PEER
 *       Learns its reflexive address from the member's two ports, classifies
 *       its NAT (veil_route_nat_classify), sends a PUNCH_OFFER signal
 *       (veil_route_signal) to PEER through the member, reads PEER's, plans
 *       (veil_route_nat_plan); punches (both send to the other's reflexive
 *       address for up to 2 s) or goes through the member as relay. Prints
 *       "result NAME nat=... plan=... via=direct|relay" and exits 0 when the
 *       peer's hello arrived.
 * Messages are one UDP datagram: a type byte, then fields.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "veil/route.h"

#define NAME_MAX_LEN 15
#define REG_MAX      8

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int udp_bind(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    return fd;
}

/* 6-byte address form used in signals and reflexive reports. */
static void addr_pack(uint8_t out[6], const struct sockaddr_in *a)
{
    memcpy(out, &a->sin_addr.s_addr, 4);
    memcpy(out + 4, &a->sin_port, 2);
}

static void addr_unpack(struct sockaddr_in *a, const uint8_t in[6])
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    memcpy(&a->sin_addr.s_addr, in, 4);
    memcpy(&a->sin_port, in + 4, 2);
}

static long recv_from(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from, int timeout)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout) != 1)
        return -1;
    socklen_t fl = sizeof *from;
    return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &fl);
}

/* ---- member ---------------------------------------------------------------- */

struct reg {
    char name[NAME_MAX_LEN + 1];
    struct sockaddr_in addr;
};

static struct sockaddr_in *lookup(struct reg *r, size_t n, const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(r[i].name) == len && memcmp(r[i].name, name, len) == 0)
            return &r[i].addr;
    return NULL;
}

static int member(uint16_t pa, uint16_t pb)
{
    int fds[2] = {udp_bind(pa), udp_bind(pb)};
    struct reg regs[REG_MAX];
    size_t n_regs = 0;
    if (fds[0] < 0 || fds[1] < 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
        if (poll(p, 2, -1) < 1)
            continue;
        for (int k = 0; k < 2; k++) {
            uint8_t buf[1024], out[1100];
            struct sockaddr_in from;
            if (!(p[k].revents & POLLIN))
                continue;
            long n = recv_from(fds[k], buf, sizeof buf, &from, 0);
            if (n < 1)
                continue;
            if (buf[0] == 'W') { /* reflexive address report */
                out[0] = 'Y';
                addr_pack(out + 1, &from);
                (void)sendto(fds[k], out, 7, 0, (struct sockaddr *)&from, sizeof from);
            } else if (buf[0] == 'R' && n > 1 && n <= 1 + NAME_MAX_LEN && n_regs < REG_MAX) {
                memcpy(regs[n_regs].name, buf + 1, (size_t)n - 1);
                regs[n_regs].name[n - 1] = '\0';
                regs[n_regs++].addr = from;
            } else if ((buf[0] == 'S' || buf[0] == 'L') && n > 2 && buf[1] <= NAME_MAX_LEN &&
                       n >= 2 + buf[1]) {
                /* "S"/"L" name_len name payload: forwarded as the same type + payload */
                struct sockaddr_in *to = lookup(regs, n_regs, buf + 2, buf[1]);
                size_t pl = (size_t)n - 2 - buf[1];
                if (!to)
                    continue;
                out[0] = buf[0];
                memcpy(out + 1, buf + 2 + buf[1], pl);
                (void)sendto(fds[0], out, pl + 1, 0, (struct sockaddr *)to, sizeof *to);
            }
        }
    }
}

/* ---- node ------------------------------------------------------------------ */

struct node {
    int fd;
    const char *name, *peer;
    struct sockaddr_in m[2];
};

static int to_member(struct node *nd, int k, uint8_t type, const char *to, const void *pl,
                     size_t len)
{
    uint8_t buf[512];
    size_t tl = to ? strlen(to) : 0, n = 1;
    buf[0] = type;
    if (to) {
        buf[n++] = (uint8_t)tl;
        memcpy(buf + n, to, tl);
        n += tl;
    }
    memcpy(buf + n, pl, len);
    n += len;
    return sendto(nd->fd, buf, n, 0, (struct sockaddr *)&nd->m[k], sizeof nd->m[k]) < 0 ? -1 : 0;
}

/* Reflexive address as seen from each of the member's two ports. */
static int learn(struct node *nd, struct veil_route_reflex seen[2])
{
    for (int tries = 0; tries < 20; tries++) {
        int got = 0;
        for (int k = 0; k < 2; k++)
            (void)to_member(nd, k, 'W', NULL, "", 0);
        uint64_t until = now_ms() + 200;
        while (got != 3 && now_ms() < until) {
            uint8_t buf[64];
            struct sockaddr_in from;
            long n = recv_from(nd->fd, buf, sizeof buf, &from, 50);
            int k = from.sin_port == nd->m[0].sin_port ? 0 : 1;
            if (n == 7 && buf[0] == 'Y') {
                seen[k].addr_len = 6;
                memcpy(seen[k].addr, buf + 1, 6);
                got |= 1 << k;
            }
        }
        if (got == 3)
            return 0;
    }
    return -1;
}

static int exchange_offers(struct node *nd, const struct veil_route_signal *mine,
                           struct veil_route_signal *theirs)
{
    veil_buf b;
    veil_buf_init(&b);
    if (veil_route_signal_encode(mine, &b, NULL) != 0)
        return -1;
    int rc = -1;
    for (int tries = 0; tries < 50 && rc != 0; tries++) {
        (void)to_member(nd, 0, 'S', nd->peer, b.data, b.len);
        uint8_t buf[512];
        struct sockaddr_in from;
        long n = recv_from(nd->fd, buf, sizeof buf, &from, 100);
        if (n > 1 && buf[0] == 'S' &&
            veil_route_signal_decode(theirs, buf + 1, (size_t)n - 1, NULL) == 0 &&
            theirs->type == VEIL_ROUTE_SIG_PUNCH_OFFER && theirs->addr_len == 6)
            rc = 0;
    }
    /* keep offering a little so the peer gets ours even if it started later */
    for (int i = 0; i < 5; i++)
        (void)to_member(nd, 0, 'S', nd->peer, b.data, b.len);
    veil_buf_free(&b);
    return rc;
}

static bool is_hello(const uint8_t *buf, long n, const char *peer)
{
    return n == (long)(1 + strlen(peer)) && buf[0] == 'H' && memcmp(buf + 1, peer, n - 1) == 0;
}

/* Both sides send hellos to each other's reflexive address for 2 s. */
static bool punch(struct node *nd, const struct veil_route_signal *theirs)
{
    struct sockaddr_in to;
    uint8_t hello[1 + NAME_MAX_LEN];
    size_t hl = 1 + strlen(nd->name);
    bool got = false;
    addr_unpack(&to, theirs->addr);
    hello[0] = 'H';
    memcpy(hello + 1, nd->name, hl - 1);
    for (uint64_t until = now_ms() + 2000; now_ms() < until;) {
        (void)sendto(nd->fd, hello, hl, 0, (struct sockaddr *)&to, sizeof to);
        uint8_t buf[512];
        struct sockaddr_in from;
        long n = recv_from(nd->fd, buf, sizeof buf, &from, 50);
        if (n > 0 && from.sin_addr.s_addr == to.sin_addr.s_addr && is_hello(buf, n, nd->peer))
            got = true; /* keep sending until the end so the peer gets ours too */
    }
    return got;
}

static bool relay(struct node *nd)
{
    uint8_t hello[1 + NAME_MAX_LEN];
    size_t hl = 1 + strlen(nd->name);
    bool got = false;
    hello[0] = 'H';
    memcpy(hello + 1, nd->name, hl - 1);
    for (uint64_t until = now_ms() + 2000; now_ms() < until;) {
        (void)to_member(nd, 0, 'L', nd->peer, hello, hl);
        uint8_t buf[512];
        struct sockaddr_in from;
        long n = recv_from(nd->fd, buf, sizeof buf, &from, 50);
        if (n > 1 && buf[0] == 'L' && is_hello(buf + 1, n - 1, nd->peer))
            got = true;
    }
    return got;
}

static const char *nat_name(enum veil_route_nat n)
{
    static const char *const names[] = {"none", "cone", "symmetric", "unknown"};
    return names[n];
}

static int node(const char *name, const char *member_ip, const char *peer)
{
    struct node nd = {.fd = udp_bind(5000), .name = name, .peer = peer};
    if (nd.fd < 0 || strlen(name) > NAME_MAX_LEN || strlen(peer) > NAME_MAX_LEN)
        return 2;
    for (int k = 0; k < 2; k++) {
        nd.m[k].sin_family = AF_INET;
        nd.m[k].sin_port = htons((uint16_t)(4000 + k));
        if (inet_pton(AF_INET, member_ip, &nd.m[k].sin_addr) != 1)
            return 2;
    }
    struct veil_route_reflex seen[2];
    if (to_member(&nd, 0, 'R', NULL, name, strlen(name)) != 0 || learn(&nd, seen) != 0)
        return 3;
    /* the bound address is not known by name here; no host in this test is public */
    enum veil_route_nat nat = veil_route_nat_classify((const uint8_t *)"", 0, seen, 2);
    struct veil_route_signal mine = {.type = VEIL_ROUTE_SIG_PUNCH_OFFER, .nat = nat, .addr_len = 6};
    struct veil_route_signal theirs;
    memcpy(mine.addr, seen[0].addr, 6);
    memset(mine.src, name[0], 32), memset(mine.dst, peer[0], 32);
    if (exchange_offers(&nd, &mine, &theirs) != 0)
        return 4;
    enum veil_route_nat_plan plan = veil_route_nat_plan(nat, theirs.nat);
    bool direct = plan == VEIL_ROUTE_PLAN_PUNCH && punch(&nd, &theirs);
    bool ok = direct || relay(&nd);
    printf("result %s nat=%s plan=%s via=%s\n", name, nat_name(nat),
           plan == VEIL_ROUTE_PLAN_PUNCH ? "punch" : "relay",
           ok ? (direct ? "direct" : "relay") : "none");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "member") == 0)
        return member((uint16_t)atoi(argv[2]), (uint16_t)atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "node") == 0)
        return node(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: route_nat_node member PORT_A PORT_B | node NAME MEMBER_IP PEER\n");
    return 2;
}
