// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_udp.c - the Anchor state machine on a real UDP socket and a libuv
 * loop (include/veil/anchor.h, "UDP host adapter"): batched reads with
 * recvmmsg, batched writes with sendmmsg, one timer at the state machine's
 * next deadline. The socket is ours (non-blocking, watched with uv_poll),
 * so the batch system calls can be used directly.
 *
 * Segmentation offload where the kernel has it: consecutive datagrams to
 * one endpoint with one length (the last may be shorter) leave as a single
 * UDP GSO message (UDP_SEGMENT, the datagrams as its iovecs, no copy), and
 * the socket accepts GRO-coalesced datagrams (UDP_GRO), split here by the
 * segment size the kernel reports. Without either, one datagram per message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include <veil/anchor.h>

#include "net_sock.h"

#define RX_SLOT 4096          /* larger than any handshake message with a full credential */
#define RX_SLOT_GRO 65536     /* one GRO-coalesced read */
#define RX_SLOTS_GRO 16       /* reads per recvmmsg when GRO is on */
#define GSO_MAX_SEGMENTS 64   /* the kernel's UDP_MAX_SEGMENTS is at least this */
#define GSO_MAX_BYTES 65000   /* below the largest UDP payload */

struct veil_anchor_udp {
    uv_loop_t *loop;
    veil_anchor *a;
    int fd;
    uint16_t port;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
    uint64_t last_now;
    veil_anchor_udp_event_fn on_event;
    void *user_data;
    struct veil_anchor_udp_stats stats;
    bool gso, gro;
    uint8_t *rx; /* rx_slots x rx_slot bytes */
    size_t rx_slots, rx_slot;
    struct sockaddr_storage rx_addr[VEIL_ANCHOR_UDP_BATCH];
    struct mmsghdr rx_msg[VEIL_ANCHOR_UDP_BATCH];
    struct iovec rx_iov[VEIL_ANCHOR_UDP_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } rx_ctl[VEIL_ANCHOR_UDP_BATCH];
};

/* Wall-clock milliseconds, clamped so they never go backwards. */
static uint64_t now_ms(veil_anchor_udp *u)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (t < u->last_now)
        t = u->last_now;
    u->last_now = t;
    return t;
}

static void deliver_events(veil_anchor_udp *u)
{
    struct veil_anchor_event ev;
    while (veil_anchor_pop_event(u->a, &ev)) {
        if (u->on_event)
            u->on_event(u, &ev, u->user_data);
        veil_anchor_event_clear(&ev);
    }
}

static bool same_endpoint(const struct veil_anchor_datagram *x,
                          const struct veil_anchor_datagram *y)
{
    return x->to_len == y->to_len && memcmp(x->to, y->to, x->to_len) == 0;
}

/* How many datagrams from d[i] on can share one GSO message: same
 * endpoint, every one but the last exactly as long as the first. */
static int gso_run(const veil_anchor_udp *u, const struct veil_anchor_datagram *d, int i, int n)
{
    int j = i + 1;
    size_t total = d[i].len;
    while (u->gso && j < n && j - i < GSO_MAX_SEGMENTS && same_endpoint(&d[i], &d[j]) &&
           d[j - 1].len == d[i].len && d[j].len <= d[i].len && total + d[j].len <= GSO_MAX_BYTES)
        total += d[j++].len;
    return j - i;
}

/* A GSO message the kernel refused (no segmentation offload on the route):
 * GSO goes off for good and the message's datagrams go one by one. */
static void unbundle(veil_anchor_udp *u, const struct msghdr *h)
{
    u->gso = false;
    for (size_t k = 0; k < h->msg_iovlen; k++) {
        if (sendto(u->fd, h->msg_iov[k].iov_base, h->msg_iov[k].iov_len, 0, h->msg_name,
                   h->msg_namelen) < 0)
            u->stats.send_dropped++;
        u->stats.send_calls++;
    }
}

/* Writes the prepared messages; a message the kernel cannot take now
 * (EAGAIN, an unreachable endpoint) is dropped and counted per datagram. */
static void write_messages(veil_anchor_udp *u, struct mmsghdr *msg, int m)
{
    int done = 0;
    while (done < m) {
        int r = sendmmsg(u->fd, msg + done, (unsigned)(m - done), 0);
        u->stats.send_calls++;
        if (r > 0) {
            done += r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (msg[done].msg_hdr.msg_controllen > 0 && (errno == EIO || errno == EINVAL ||
                                                     errno == EOPNOTSUPP))
            unbundle(u, &msg[done].msg_hdr);
        else
            u->stats.send_dropped += msg[done].msg_hdr.msg_iovlen;
        done++;
    }
}

/* Writes up to one batch of queued datagrams; returns how many were queued. */
static int send_batch(veil_anchor_udp *u)
{
    struct veil_anchor_datagram d[VEIL_ANCHOR_UDP_BATCH];
    struct mmsghdr msg[VEIL_ANCHOR_UDP_BATCH];
    struct iovec iov[VEIL_ANCHOR_UDP_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl[VEIL_ANCHOR_UDP_BATCH];
    int n = 0, m = 0;
    while (n < VEIL_ANCHOR_UDP_BATCH && veil_anchor_pop_datagram(u->a, &d[n])) {
        iov[n] = (struct iovec){d[n].data, d[n].len};
        n++;
    }
    for (int i = 0; i < n; m++) {
        int run = gso_run(u, d, i, n);
        memset(&msg[m], 0, sizeof msg[m]);
        msg[m].msg_hdr.msg_name = d[i].to;
        msg[m].msg_hdr.msg_namelen = (socklen_t)d[i].to_len;
        msg[m].msg_hdr.msg_iov = &iov[i];
        msg[m].msg_hdr.msg_iovlen = (size_t)run;
        if (run > 1) {
            msg[m].msg_hdr.msg_control = ctl[m].buf;
            msg[m].msg_hdr.msg_controllen = sizeof ctl[m].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg[m].msg_hdr);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg = (uint16_t)d[i].len;
            memcpy(CMSG_DATA(c), &seg, sizeof seg);
            u->stats.gso_messages++;
        }
        i += run;
    }
    write_messages(u, msg, m);
    u->stats.datagrams_out += (uint64_t)n;
    for (int i = 0; i < n; i++)
        veil_anchor_datagram_clear(&d[i]);
    return n;
}

static void on_timer(uv_timer_t *t);

static void send_all(veil_anchor_udp *u)
{
    while (send_batch(u) == VEIL_ANCHOR_UDP_BATCH)
        ;
}

/* One timer, at the state machine's next deadline. */
static void rearm(veil_anchor_udp *u)
{
    uint64_t now = now_ms(u), due = veil_anchor_next_deadline(u->a);
    uint64_t wait = due > now ? due - now : 0;
    uv_timer_start(&u->timer, on_timer, wait > 3600000 ? 3600000 : wait, 0);
}

/* Sends what is queued, hands events over (their handlers may send), re-arms. */
static void settle(veil_anchor_udp *u)
{
    send_all(u);
    deliver_events(u);
    send_all(u);
    rearm(u);
}

static void on_timer(uv_timer_t *t)
{
    veil_anchor_udp *u = t->data;
    veil_anchor_tick(u->a, now_ms(u));
    settle(u);
}

/* The GRO segment size of a received message, or its whole length. */
static size_t segment_size(const struct msghdr *h, size_t len)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int seg;
            memcpy(&seg, CMSG_DATA(c), sizeof seg);
            if (seg > 0 && (size_t)seg < len)
                return (size_t)seg;
        }
    }
    return len;
}

static void prepare_rx(veil_anchor_udp *u)
{
    for (size_t i = 0; i < u->rx_slots; i++) {
        u->rx_iov[i] = (struct iovec){u->rx + i * u->rx_slot, u->rx_slot};
        memset(&u->rx_msg[i], 0, sizeof u->rx_msg[i]);
        struct msghdr *h = &u->rx_msg[i].msg_hdr;
        h->msg_name = &u->rx_addr[i];
        h->msg_namelen = sizeof u->rx_addr[i];
        h->msg_iov = &u->rx_iov[i];
        h->msg_iovlen = 1;
        h->msg_control = u->rx_ctl[i].buf;
        h->msg_controllen = sizeof u->rx_ctl[i].buf;
    }
}

/* One recvmmsg call; returns how many messages it read (each may carry
 * several GRO-coalesced datagrams). */
static int recv_batch(veil_anchor_udp *u)
{
    prepare_rx(u);
    int n = recvmmsg(u->fd, u->rx_msg, (unsigned)u->rx_slots, MSG_DONTWAIT, NULL);
    u->stats.recv_calls++;
    if (n <= 0)
        return 0;
    uint64_t now = now_ms(u);
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &u->rx_msg[i].msg_hdr;
        if (h->msg_flags & MSG_TRUNC)
            continue; /* larger than any Anchor datagram we accept */
        const uint8_t *buf = u->rx + (size_t)i * u->rx_slot;
        size_t len = u->rx_msg[i].msg_len, seg = segment_size(h, len);
        for (size_t off = 0; off < len; off += seg) {
            size_t one = len - off < seg ? len - off : seg;
            veil_anchor_recv(u->a, (const uint8_t *)&u->rx_addr[i], h->msg_namelen, buf + off, one,
                             now, NULL);
            u->stats.datagrams_in++;
        }
    }
    return n;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    veil_anchor_udp *u = p->data;
    if (status < 0 || !(events & UV_READABLE))
        return;
    /* a few batches per wake-up, sending in between, so one busy peer
     * cannot starve the loop */
    for (int round = 0; round < 8; round++) {
        int n = recv_batch(u);
        send_all(u);
        deliver_events(u);
        if ((size_t)n < u->rx_slots)
            break;
    }
    settle(u);
}

static int open_socket(veil_anchor_udp *u, const char *ip, uint16_t port, veil_err *err)
{
    int family;
    if (net_udp_bind("anchor udp", ip, port, SOCK_NONBLOCK, &u->fd, &family, &u->port, err) != 0)
        return -1;
    int buf = 4 << 20;
    (void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf); /* best effort */
    (void)setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    int one = 1;
    u->gro = setsockopt(u->fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
    u->gso = true; /* turned off by the first GSO send the kernel refuses */
    return 0;
}

veil_anchor_udp *veil_anchor_udp_start(struct uv_loop_s *loop, veil_anchor *a,
                                       const struct veil_anchor_udp_config *cfg, veil_err *err)
{
    veil_anchor_udp *u = calloc(1, sizeof *u);
    if (!u) {
        veil_err_set(err, VEIL_E_NOMEM, "anchor udp: out of memory");
        veil_anchor_free(a);
        return NULL;
    }
    u->loop = loop;
    u->a = a;
    u->fd = -1;
    u->on_event = cfg->on_event;
    u->user_data = cfg->user_data;
    if (open_socket(u, cfg->bind_ip ? cfg->bind_ip : "127.0.0.1", cfg->port, err) == 0) {
        u->rx_slots = u->gro ? RX_SLOTS_GRO : VEIL_ANCHOR_UDP_BATCH;
        u->rx_slot = u->gro ? RX_SLOT_GRO : RX_SLOT;
        u->rx = malloc(u->rx_slots * u->rx_slot);
        if (!u->rx)
            veil_err_set(err, VEIL_E_NOMEM, "anchor udp: out of memory");
    }
    if (!u->rx || uv_poll_init_socket(loop, &u->poll, u->fd) != 0) {
        if (u->fd >= 0)
            close(u->fd);
        veil_anchor_free(a);
        free(u->rx);
        free(u);
        return NULL;
    }
    uv_timer_init(loop, &u->timer);
    u->poll.data = u->timer.data = u;
    u->open_handles = 2;
    uv_poll_start(&u->poll, UV_READABLE, on_readable);
    settle(u);
    return u;
}

uint16_t veil_anchor_udp_port(const veil_anchor_udp *u)
{
    return u->port;
}

veil_anchor *veil_anchor_udp_anchor(veil_anchor_udp *u)
{
    return u->a;
}

int veil_anchor_udp_add_peer(veil_anchor_udp *u, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             const char *ip, uint16_t port, veil_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_sockaddr_parse(ip, port, &ss, &len) != 0)
        return veil_err_set(err, VEIL_E_INVALID, "anchor udp: not an IP address: %s", ip);
    return veil_anchor_add_peer(u->a, identity, (const uint8_t *)&ss, len, err);
}

int veil_anchor_udp_send(veil_anchor_udp *u, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                         const uint8_t *data, size_t len, veil_err *err)
{
    int rc = veil_anchor_send(u->a, peer, data, len, now_ms(u), err);
    send_all(u);
    rearm(u);
    return rc;
}

void veil_anchor_udp_flush(veil_anchor_udp *u)
{
    settle(u);
}

void veil_anchor_udp_get_stats(const veil_anchor_udp *u, struct veil_anchor_udp_stats *out)
{
    *out = u->stats;
}

static void on_closed(uv_handle_t *h)
{
    veil_anchor_udp *u = h->data;
    if (--u->open_handles > 0)
        return;
    close(u->fd);
    veil_anchor_free(u->a);
    free(u->rx);
    free(u);
}

void veil_anchor_udp_close(veil_anchor_udp *u)
{
    uv_poll_stop(&u->poll);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->poll, on_closed);
    uv_close((uv_handle_t *)&u->timer, on_closed);
}
