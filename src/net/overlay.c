// SPDX-License-Identifier: Apache-2.0
/*
 * overlay.c - VeilNet system mode (include/veil/overlay.h): the Anchor
 * state machine between a TUN interface and one UDP socket, on two threads
 * (TUN -> peers, peers -> TUN), with the overlay's peer table (identity,
 * IPv4 from the realm's pool, derived IPv6). The state machine and the peer
 * table are behind one mutex; reads, writes and sends happen outside it.
 * Both threads send what the state machine queued and hand its received
 * packets over; two order locks keep each queue's pops and their writes
 * together, so one flow's packets leave and reach the TUN in the order the
 * state machine queued them (a TCP sender sees no reordering).
 * Non-IP datagrams (relay cells, routing probes) go to the host's kind hook
 * and packets for relayed peers to its egress hook (VeilNet routing).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <veil/overlay.h>

#include "overlay_filter.h"
#include "net_sock.h"
#include "overlay_int.h"

#define BATCH              64    /* datagrams per sendmmsg, messages per recvmmsg */
#define RX_SLOT            65536 /* one (GRO-coalesced) UDP read */
#define RX_SLOTS           16
#define GSO_MAX_BYTES      65000
#define TUN_READS_PER_WAKE 64 /* frames read from the TUN before a flush */
#define DL_SLOT            2048 /* a relayed packet delivered within a kind batch */

struct overlay_peer {
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    uint8_t v4[4], v6[16];
    bool relayed; /* TUN packets go to the egress hook */
};

/* One thread's buffers. */
struct overlay_io {
    uint8_t *frame; /* one TUN read */
    struct overlay_segs segs;
    struct veil_anchor_datagram d[BATCH];
    struct veil_overlay_stats st; /* added to the overlay's under the lock */
    /* relayed packets the kind hook delivered during run_kinds: written
     * after it as one coalesced run, like direct packets */
    bool dl_on;
    size_t dl_n;
    const uint8_t *dl_pkts[BATCH];
    size_t dl_lens[BATCH];
    uint8_t *dl_buf; /* BATCH * DL_SLOT */
};

struct veil_overlay {
    pthread_mutex_t mu;
    /* order locks, taken before mu (send_mu inside deliver_mu, never the
     * reverse): held from a batch's pop to its sendmmsg (send_mu) or to its
     * TUN writes and kind hooks (deliver_mu), so a batch popped later never
     * leaves before one popped earlier by the other thread */
    pthread_mutex_t send_mu, deliver_mu;
    veil_anchor *a;
    struct overlay_tun tun;
    int udp, stop_fd, kick_fd; /* kick: a send from a host thread, for the rx thread to flush */
    int family;
    uint16_t port;
    unsigned mtu;
    bool gso; /* turned off (under mu) by the first GSO send the kernel refuses */
    char realm[VEIL_ANCHOR_REALM_MAX];
    uint64_t last_now;
    struct overlay_peer *peers;
    size_t n_peers, cap_peers;
    bool enforce; /* ingress rules (overlay_filter.c) */
    struct veil_overlay_rule *rules;
    size_t n_rules;
    struct veil_overlay_stats stats;
    pthread_t tx, rx;
    bool tx_on, rx_on;
    uint8_t *rx_buf;
    struct sockaddr_storage rx_addr[RX_SLOTS];
    veil_overlay_kind_fn kind_fn; /* routing hooks (set before traffic) */
    veil_overlay_egress_fn egress_fn;
    void *hook_ctx;
    struct overlay_io *tx_io, *rx_io; /* each thread's own, for deliveries from its hooks */
};

/* ---- helpers (called with mu held where they touch shared state) ------- */

static uint64_t now_locked(veil_overlay *o)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (t < o->last_now)
        t = o->last_now;
    o->last_now = t;
    return t;
}

static void stats_add(struct veil_overlay_stats *to, struct veil_overlay_stats *from)
{
    uint64_t *t = (uint64_t *)to, *f = (uint64_t *)from;
    for (size_t i = 0; i < sizeof *to / sizeof(uint64_t); i++)
        t[i] += f[i];
    memset(from, 0, sizeof *from);
}

void veil_overlay_ipv6_of(const char *realm, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                          uint8_t out[16])
{
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)"veil-realm-v6", 13);
    crypto_generichash_update(&st, (const uint8_t *)realm, strlen(realm));
    crypto_generichash_final(&st, h, sizeof h);
    memset(out, 0, 16);
    out[0] = 0xfd;
    memcpy(out + 1, h, 5);
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)"veil-node-v6", 12);
    crypto_generichash_update(&st, identity, VEIL_ANCHOR_KEY_BYTES);
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(out + 8, h, 8);
}

static const struct overlay_peer *peer_by_addr(const veil_overlay *o, int family,
                                               const uint8_t *addr)
{
    for (size_t i = 0; i < o->n_peers; i++) {
        const struct overlay_peer *p = &o->peers[i];
        if (family == 4 ? memcmp(p->v4, addr, 4) == 0 : memcmp(p->v6, addr, 16) == 0)
            return p;
    }
    return NULL;
}

static struct overlay_peer *peer_by_id(const veil_overlay *o, const uint8_t *id)
{
    for (size_t i = 0; i < o->n_peers; i++)
        if (memcmp(o->peers[i].id, id, VEIL_ANCHOR_KEY_BYTES) == 0)
            return &o->peers[i];
    return NULL;
}

/* ---- UDP side ------------------------------------------------------------ */

static bool same_endpoint(const struct veil_anchor_datagram *x,
                          const struct veil_anchor_datagram *y)
{
    return x->to_len == y->to_len && memcmp(x->to, y->to, x->to_len) == 0;
}

/* Datagrams from d[i] on that can leave as one UDP GSO message. */
static int gso_run(bool gso, const struct veil_anchor_datagram *d, int i, int n)
{
    int j = i + 1;
    size_t total = d[i].len;
    while (gso && j < n && same_endpoint(&d[i], &d[j]) && d[j - 1].len == d[i].len &&
           d[j].len <= d[i].len && total + d[j].len <= GSO_MAX_BYTES)
        total += d[j++].len;
    return j - i;
}

static void set_segment(struct msghdr *h, void *ctl, size_t ctl_len, uint16_t seg)
{
    h->msg_control = ctl;
    h->msg_controllen = ctl_len;
    struct cmsghdr *c = CMSG_FIRSTHDR(h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof seg);
    memcpy(CMSG_DATA(c), &seg, sizeof seg);
}

/* A GSO message the kernel refused: GSO goes off, its datagrams go singly. */
static void unbundle(veil_overlay *o, struct overlay_io *io, const struct msghdr *h)
{
    pthread_mutex_lock(&o->mu);
    o->gso = false;
    pthread_mutex_unlock(&o->mu);
    for (size_t k = 0; k < h->msg_iovlen; k++) {
        (void)sendto(o->udp, h->msg_iov[k].iov_base, h->msg_iov[k].iov_len, 0, h->msg_name,
                     h->msg_namelen);
        io->st.udp_send_calls++;
    }
}

static void write_messages(veil_overlay *o, struct overlay_io *io, struct mmsghdr *msg, int m)
{
    int done = 0;
    while (done < m) {
        int r = sendmmsg(o->udp, msg + done, (unsigned)(m - done), 0);
        io->st.udp_send_calls++;
        if (r > 0) {
            done += r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (msg[done].msg_hdr.msg_controllen > 0 &&
            (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP))
            unbundle(o, io, &msg[done].msg_hdr);
        done++; /* otherwise dropped, as a lossy link would */
    }
}

/* Sends n popped datagrams (runs to one endpoint as GSO messages), frees them. */
static void send_datagrams(veil_overlay *o, struct overlay_io *io, int n, bool gso)
{
    struct mmsghdr msg[BATCH];
    struct iovec iov[BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl[BATCH];
    int m = 0;
    for (int i = 0; i < n; i++)
        iov[i] = (struct iovec){io->d[i].data, io->d[i].len};
    for (int i = 0; i < n; m++) {
        int run = gso_run(gso, io->d, i, n);
        memset(&msg[m], 0, sizeof msg[m]);
        msg[m].msg_hdr.msg_name = io->d[i].to;
        msg[m].msg_hdr.msg_namelen = (socklen_t)io->d[i].to_len;
        msg[m].msg_hdr.msg_iov = &iov[i];
        msg[m].msg_hdr.msg_iovlen = (size_t)run;
        if (run > 1)
            set_segment(&msg[m].msg_hdr, ctl[m].buf, sizeof ctl[m].buf, (uint16_t)io->d[i].len);
        i += run;
    }
    write_messages(o, io, msg, m);
    io->st.udp_datagrams_out += (uint64_t)n;
    for (int i = 0; i < n; i++)
        veil_anchor_datagram_clear(&io->d[i]);
}

/* Sends everything the state machine queued, a batch at a time, in queue
 * order whichever thread calls it. */
static void flush_out(veil_overlay *o, struct overlay_io *io)
{
    pthread_mutex_lock(&o->send_mu);
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&o->mu);
        while (n < BATCH && veil_anchor_pop_datagram(o->a, &io->d[n]))
            n++;
        bool gso = o->gso;
        pthread_mutex_unlock(&o->mu);
        if (n > 0)
            send_datagrams(o, io, n, gso);
        if (n < BATCH)
            break;
    }
    pthread_mutex_unlock(&o->send_mu);
}

/* ---- TUN side ------------------------------------------------------------ */

/* One packet to a TUN without virtio-net headers. */
static void tun_write(veil_overlay *o, struct overlay_io *io, const uint8_t *pkt, size_t len)
{
    if (write(o->tun.fd, pkt, len) < 0)
        io->st.tun_write_errors++;
    else
        io->st.tun_writes++;
}

/* Whether a decrypted packet may enter: its source is the peer's own
 * overlay address (mu held). */
static bool source_ok(const veil_overlay *o, const struct veil_anchor_event *ev)
{
    struct overlay_addrs ad;
    const struct overlay_peer *p = peer_by_id(o, ev->peer);
    if (!p || overlay_pkt_addrs(ev->data, ev->len, &ad) != 0)
        return false;
    return ad.family == 4 ? memcmp(ad.src, p->v4, 4) == 0 : memcmp(ad.src, p->v6, 16) == 0;
}

/* Writes decrypted packets to the TUN: with a virtio-net header, runs of
 * one TCP flow go as one coalesced TSO frame (user-space GRO). */
static void write_packets(veil_overlay *o, struct overlay_io *io, const uint8_t **pkts,
                          const size_t *lens, size_t n)
{
    if (!o->tun.vnet) {
        for (size_t i = 0; i < n; i++)
            tun_write(o, io, pkts[i], lens[i]);
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t k = overlay_coalesce_count(pkts + i, lens + i, n - i);
        size_t len = overlay_coalesce_write(pkts + i, lens + i, k, io->frame);
        if (write(o->tun.fd, io->frame, len) < 0)
            io->st.tun_write_errors++;
        else
            io->st.tun_writes++;
        i += k;
    }
}

static bool is_kind(const struct veil_anchor_event *ev)
{
    return ev->type == VEIL_ANCHOR_EV_DATA && ev->len >= 1 && ev->data[0] >= 1 &&
           ev->data[0] <= VEIL_OVERLAY_KIND_MAX;
}

static void flush_out(veil_overlay *o, struct overlay_io *io);

/* Non-IP datagrams to the kind hook (no lock held); what it sent goes out. */
static void run_kinds(veil_overlay *o, struct overlay_io *io, struct veil_anchor_event *ev, int n)
{
    int handled = 0;
    io->dl_on = io->dl_buf != NULL;
    for (int i = 0; i < n; i++)
        if (is_kind(&ev[i]) && o->kind_fn) {
            o->kind_fn(o->hook_ctx, o, ev[i].peer, ev[i].data, ev[i].len);
            handled++;
        }
    io->dl_on = false;
    write_packets(o, io, io->dl_pkts, io->dl_lens, io->dl_n);
    io->dl_n = 0;
    io->st.kinds_in += (uint64_t)handled;
    if (handled > 0)
        flush_out(o, io);
}

/* Hands the state machine's events over, in queue order whichever thread
 * calls it: decrypted packets from their own peer's address go to the TUN,
 * non-IP kinds to the kind hook. */
static void drain_events(veil_overlay *o, struct overlay_io *io)
{
    struct veil_anchor_event ev[BATCH];
    const uint8_t *pkts[BATCH];
    size_t lens[BATCH];
    pthread_mutex_lock(&o->deliver_mu);
    for (;;) {
        int n = 0, m = 0;
        pthread_mutex_lock(&o->mu);
        while (n < BATCH && veil_anchor_pop_event(o->a, &ev[n])) {
            if (is_kind(&ev[n])) {
                n++;
                continue;
            }
            bool data = ev[n].type == VEIL_ANCHOR_EV_DATA;
            bool src = data && source_ok(o, &ev[n]);
            if (src && (!o->enforce || overlay_filter_allows(o->rules, o->n_rules, ev[n].peer,
                                                             ev[n].data, ev[n].len))) {
                pkts[m] = ev[n].data;
                lens[m++] = ev[n].len;
            } else if (src) {
                io->st.filtered++;
            } else if (data) {
                io->st.spoofed++;
            }
            n++;
        }
        pthread_mutex_unlock(&o->mu);
        write_packets(o, io, pkts, lens, (size_t)m);
        run_kinds(o, io, ev, n);
        for (int i = 0; i < n; i++)
            veil_anchor_event_clear(&ev[i]);
        if (n < BATCH)
            break;
    }
    pthread_mutex_unlock(&o->deliver_mu);
}

/* Encrypts the segments of one frame for the peer owning their destination. */
static void route_segments(veil_overlay *o, struct overlay_io *io)
{
    struct overlay_addrs ad;
    const struct overlay_segs *s = &io->segs;
    if (overlay_pkt_addrs(s->buf + s->off[0], s->len[0], &ad) != 0) {
        io->st.malformed++;
        return;
    }
    uint8_t relayed_to[VEIL_ANCHOR_KEY_BYTES];
    pthread_mutex_lock(&o->mu);
    const struct overlay_peer *p = peer_by_addr(o, ad.family, ad.dst);
    if (!p)
        io->st.no_route++;
    bool relayed = p && p->relayed && o->egress_fn;
    if (relayed)
        memcpy(relayed_to, p->id, sizeof relayed_to);
    uint64_t now = now_locked(o);
    for (size_t i = 0; p && !relayed && i < s->n; i++)
        if (veil_anchor_send(o->a, p->id, s->buf + s->off[i], s->len[i], now, NULL) != 0)
            break; /* a datagram the state machine refused: lost, as on a link */
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; relayed && i < s->n; i++)
        o->egress_fn(o->hook_ctx, o, relayed_to, s->buf + s->off[i], s->len[i]);
    if (relayed)
        io->st.relayed_out += s->n;
}

/* Reads up to TUN_READS_PER_WAKE frames; returns how many. */
static int tun_read_batch(veil_overlay *o, struct overlay_io *io)
{
    int frames = 0;
    while (frames < TUN_READS_PER_WAKE) {
        ssize_t n = read(o->tun.fd, io->frame, OVERLAY_FRAME_MAX);
        if (n <= 0)
            break;
        frames++;
        io->st.tun_reads++;
        if (overlay_segment(io->frame, (size_t)n, o->tun.vnet, &io->segs) != 0) {
            io->st.malformed++;
            continue;
        }
        io->st.tun_read_packets += io->segs.n;
        if (io->segs.n > 1)
            io->st.gso_packets_in++;
        route_segments(o, io);
        if (io->segs.n > 8)
            flush_out(o, io); /* a large frame: out at once, one GSO run */
    }
    flush_out(o, io);
    drain_events(o, io);
    return frames;
}

static bool stopping(const struct pollfd *p)
{
    return (p->revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

static void *tx_main(void *arg)
{
    veil_overlay *o = arg;
    struct overlay_io *io = calloc(1, sizeof *io);
    uint8_t *frame = malloc(OVERLAY_FRAME_MAX), *segbuf = malloc(OVERLAY_SEG_BUF);
    if (!io || !frame || !segbuf)
        goto out;
    io->frame = frame;
    io->segs.buf = segbuf;
    io->dl_buf = malloc(BATCH * DL_SLOT);
    o->tx_io = io;
    for (;;) {
        struct pollfd p[2] = {{o->stop_fd, POLLIN, 0}, {o->tun.fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (stopping(&p[0]))
            break;
        (void)tun_read_batch(o, io);
        pthread_mutex_lock(&o->mu);
        stats_add(&o->stats, &io->st);
        pthread_mutex_unlock(&o->mu);
    }
out:
    free(frame);
    free(segbuf);
    if (io)
        free(io->dl_buf);
    free(io);
    return NULL;
}

/* ---- receive thread ------------------------------------------------------ */

static int recv_batch(veil_overlay *o, struct overlay_io *io)
{
    struct mmsghdr msg[RX_SLOTS];
    struct iovec iov[RX_SLOTS];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl[RX_SLOTS];
    memset(msg, 0, sizeof msg);
    for (int i = 0; i < RX_SLOTS; i++) {
        iov[i] = (struct iovec){o->rx_buf + (size_t)i * RX_SLOT, RX_SLOT};
        msg[i].msg_hdr = (struct msghdr){.msg_name = &o->rx_addr[i],
                                         .msg_namelen = sizeof o->rx_addr[i],
                                         .msg_iov = &iov[i],
                                         .msg_iovlen = 1,
                                         .msg_control = ctl[i].buf,
                                         .msg_controllen = sizeof ctl[i].buf};
    }
    int n = recvmmsg(o->udp, msg, RX_SLOTS, MSG_DONTWAIT, NULL);
    io->st.udp_recv_calls++;
    if (n <= 0)
        return 0;
    pthread_mutex_lock(&o->mu);
    uint64_t now = now_locked(o);
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &msg[i].msg_hdr;
        size_t len = msg[i].msg_len, seg = len;
        if (h->msg_flags & MSG_TRUNC)
            continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
            int g;
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
                c->cmsg_len >= CMSG_LEN(sizeof g)) {
                memcpy(&g, CMSG_DATA(c), sizeof g);
                if (g > 0 && (size_t)g < len)
                    seg = (size_t)g;
            }
        }
        const uint8_t *buf = o->rx_buf + (size_t)i * RX_SLOT;
        for (size_t off = 0; off < len; off += seg) {
            size_t one = len - off < seg ? len - off : seg;
            (void)veil_anchor_recv(o->a, (const uint8_t *)&o->rx_addr[i], h->msg_namelen, buf + off,
                                   one, now, NULL);
            io->st.udp_datagrams_in++;
        }
    }
    pthread_mutex_unlock(&o->mu);
    return n;
}

/* Milliseconds until the state machine's next deadline (ticking it when due). */
static int tick_wait(veil_overlay *o)
{
    pthread_mutex_lock(&o->mu);
    uint64_t now = now_locked(o), due = veil_anchor_next_deadline(o->a);
    if (due <= now) {
        veil_anchor_tick(o->a, now);
        due = veil_anchor_next_deadline(o->a);
    }
    pthread_mutex_unlock(&o->mu);
    uint64_t wait = due > now ? due - now : 1;
    return wait > 1000 ? 1000 : (int)wait;
}

static void *rx_main(void *arg)
{
    veil_overlay *o = arg;
    struct overlay_io *io = calloc(1, sizeof *io);
    uint8_t *frame = malloc(OVERLAY_FRAME_MAX);
    if (!io || !frame) {
        free(io);
        free(frame);
        return NULL;
    }
    io->frame = frame;
    io->dl_buf = malloc(BATCH * DL_SLOT);
    o->rx_io = io;
    for (;;) {
        int wait = tick_wait(o);
        flush_out(o, io);
        struct pollfd p[3] = {
            {o->stop_fd, POLLIN, 0}, {o->udp, POLLIN, 0}, {o->kick_fd, POLLIN, 0}};
        if (poll(p, 3, wait) < 0 && errno != EINTR)
            break;
        if (stopping(&p[0]))
            break;
        uint64_t kicks;
        if (p[2].revents & POLLIN)
            (void)!read(o->kick_fd, &kicks, sizeof kicks);
        for (int round = 0; round < 8; round++) {
            int n = recv_batch(o, io);
            flush_out(o, io);
            drain_events(o, io);
            if (n < RX_SLOTS)
                break;
        }
        pthread_mutex_lock(&o->mu);
        stats_add(&o->stats, &io->st);
        pthread_mutex_unlock(&o->mu);
    }
    free(frame);
    free(io->dl_buf);
    free(io);
    return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static void big_buffers(int fd)
{
    int size = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

static int open_udp(veil_overlay *o, const char *ip, uint16_t port, veil_err *err)
{
    /* blocking sends: the socket's buffer is the flow control */
    if (net_udp_bind("overlay", ip, port, 0, &o->udp, &o->family, &o->port, err) != 0)
        return -1;
    big_buffers(o->udp);
    int one = 1;
    (void)setsockopt(o->udp, SOL_UDP, UDP_GRO, &one, sizeof one); /* best effort */
    return 0;
}

static int setup(veil_overlay *o, const struct veil_overlay_config *cfg,
                 const uint8_t self_id[VEIL_ANCHOR_KEY_BYTES], veil_err *err)
{
    uint8_t v4[4], v6[16];
    unsigned under = cfg->underlay_mtu ? cfg->underlay_mtu : 1500;
    if (!cfg->realm || strlen(cfg->realm) >= sizeof o->realm || !cfg->ipv4 ||
        inet_pton(AF_INET, cfg->ipv4, v4) != 1 || cfg->ipv4_prefix < 8 || cfg->ipv4_prefix > 30)
        return veil_err_set(err, VEIL_E_INVALID, "overlay: realm, IPv4 address or prefix");
    if (under < 1280 + VEIL_OVERLAY_UNDERLAY_OVERHEAD || under > 65535)
        return veil_err_set(err, VEIL_E_RANGE, "overlay: underlay MTU %u", under);
    snprintf(o->realm, sizeof o->realm, "%s", cfg->realm);
    o->mtu = under - VEIL_OVERLAY_UNDERLAY_OVERHEAD;
    veil_overlay_ipv6_of(o->realm, self_id, v6);
    o->rx_buf = malloc((size_t)RX_SLOTS * RX_SLOT);
    if (!o->rx_buf)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
    if (open_udp(o, cfg->bind_ip ? cfg->bind_ip : "0.0.0.0", cfg->port, err) != 0 ||
        overlay_tun_open(cfg->ifname, !cfg->no_offload, &o->tun, err) != 0 ||
        overlay_tun_configure(&o->tun, v4, cfg->ipv4_prefix, v6, o->mtu, err) != 0)
        return -1;
    o->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    o->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (o->stop_fd < 0 || o->kick_fd < 0)
        return veil_err_set(err, VEIL_E_IO, "overlay: eventfd: %s", strerror(errno));
    o->tx_on = pthread_create(&o->tx, NULL, tx_main, o) == 0;
    o->rx_on = o->tx_on && pthread_create(&o->rx, NULL, rx_main, o) == 0;
    if (!o->rx_on)
        return veil_err_set(err, VEIL_E_INTERNAL, "overlay: cannot start threads");
    return 0;
}

veil_overlay *veil_overlay_start(const struct veil_overlay_config *cfg, veil_anchor *a,
                                 veil_err *err)
{
    veil_overlay *o = calloc(1, sizeof *o);
    if (!o) {
        veil_anchor_free(a);
        veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
        return NULL;
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_mutex_init(&o->send_mu, NULL);
    pthread_mutex_init(&o->deliver_mu, NULL);
    o->a = a;
    o->udp = o->stop_fd = o->kick_fd = o->tun.fd = -1;
    o->gso = true;
    if (!cfg->identity) {
        veil_err_set(err, VEIL_E_INVALID, "overlay: no identity");
        veil_overlay_stop(o);
        return NULL;
    }
    if (setup(o, cfg, cfg->identity, err) != 0) {
        veil_overlay_stop(o);
        return NULL;
    }
    return o;
}

void veil_overlay_stop(veil_overlay *o)
{
    if (!o)
        return;
    uint64_t one = 1;
    if (o->stop_fd >= 0)
        (void)!write(o->stop_fd, &one, sizeof one);
    if (o->tx_on)
        pthread_join(o->tx, NULL);
    if (o->rx_on)
        pthread_join(o->rx, NULL);
    if (o->stop_fd >= 0)
        close(o->stop_fd);
    if (o->kick_fd >= 0)
        close(o->kick_fd);
    if (o->tun.fd >= 0)
        close(o->tun.fd);
    if (o->udp >= 0)
        close(o->udp);
    veil_anchor_free(o->a);
    free(o->peers);
    free(o->rules);
    free(o->rx_buf);
    pthread_mutex_destroy(&o->mu);
    pthread_mutex_destroy(&o->send_mu);
    pthread_mutex_destroy(&o->deliver_mu);
    free(o);
}

uint16_t veil_overlay_port(const veil_overlay *o)
{
    return o->port;
}

unsigned veil_overlay_mtu(const veil_overlay *o)
{
    return o->mtu;
}

bool veil_overlay_offload(const veil_overlay *o)
{
    return o->tun.tso;
}

static int add_peer_locked(veil_overlay *o, const uint8_t *id, const uint8_t v4[4],
                           const struct sockaddr_storage *ss, socklen_t len, veil_err *err)
{
    struct overlay_peer *p = peer_by_id(o, id);
    if (!p) {
        struct overlay_peer *np =
            veil_array_reserve(o->peers, &o->cap_peers, o->n_peers, sizeof *o->peers);
        if (!np)
            return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
        o->peers = np;
        p = &o->peers[o->n_peers++];
        memset(p, 0, sizeof *p); /* realloc'd memory: no stale `relayed` flag */
        memcpy(p->id, id, VEIL_ANCHOR_KEY_BYTES);
    }
    memcpy(p->v4, v4, 4);
    veil_overlay_ipv6_of(o->realm, id, p->v6);
    return veil_anchor_add_peer(o->a, id, (const uint8_t *)ss, len, err);
}

int veil_overlay_add_peer(veil_overlay *o, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                          const char *ipv4, const char *endpoint_ip, uint16_t endpoint_port,
                          veil_err *err)
{
    uint8_t v4[4];
    struct sockaddr_storage ss;
    socklen_t len;
    if (!ipv4 || inet_pton(AF_INET, ipv4, v4) != 1)
        return veil_err_set(err, VEIL_E_INVALID, "overlay: peer IPv4 address");
    if (!endpoint_ip || net_sockaddr_parse(endpoint_ip, endpoint_port, &ss, &len) != 0 ||
        ss.ss_family != o->family)
        return veil_err_set(err, VEIL_E_INVALID, "overlay: peer endpoint (same family as bind)");
    pthread_mutex_lock(&o->mu);
    int rc = add_peer_locked(o, identity, v4, &ss, len, err);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

void veil_overlay_remove_peer(veil_overlay *o, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES])
{
    pthread_mutex_lock(&o->mu);
    veil_anchor_remove_peer(o->a, identity, now_locked(o));
    struct overlay_peer *p = peer_by_id(o, identity);
    if (p)
        *p = o->peers[--o->n_peers];
    pthread_mutex_unlock(&o->mu);
}

int veil_overlay_set_credential(veil_overlay *o, const uint8_t *cred, size_t cred_len,
                                veil_err *err)
{
    pthread_mutex_lock(&o->mu);
    int rc = veil_anchor_set_credential(o->a, cred, cred_len, now_locked(o), err);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

void veil_overlay_invalidate_keys(veil_overlay *o)
{
    pthread_mutex_lock(&o->mu);
    veil_anchor_invalidate_keys(o->a, now_locked(o));
    pthread_mutex_unlock(&o->mu);
}

int veil_overlay_set_rules(veil_overlay *o, bool enforce, const struct veil_overlay_rule *rules,
                           size_t n, veil_err *err)
{
    struct veil_overlay_rule *copy = NULL;
    if (n > 0 && (copy = calloc(n, sizeof *copy)) == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: no memory for %zu rules", n);
    if (n > 0)
        memcpy(copy, rules, n * sizeof *copy);
    pthread_mutex_lock(&o->mu);
    free(o->rules);
    o->rules = copy;
    o->n_rules = n;
    o->enforce = enforce;
    pthread_mutex_unlock(&o->mu);
    return 0;
}

void veil_overlay_get_stats(veil_overlay *o, struct veil_overlay_stats *out)
{
    pthread_mutex_lock(&o->mu);
    *out = o->stats;
    pthread_mutex_unlock(&o->mu);
}

void veil_overlay_anchor_stats(veil_overlay *o, struct veil_anchor_stats *out)
{
    pthread_mutex_lock(&o->mu);
    veil_anchor_get_stats(o->a, out);
    pthread_mutex_unlock(&o->mu);
}

/* ---- routing hooks ------------------------------------------------------- */

void veil_overlay_set_hooks(veil_overlay *o, veil_overlay_kind_fn kind,
                            veil_overlay_egress_fn egress, void *ctx)
{
    pthread_mutex_lock(&o->mu);
    o->kind_fn = kind;
    o->egress_fn = egress;
    o->hook_ctx = ctx;
    pthread_mutex_unlock(&o->mu);
}

/* A send from a thread other than the overlay's own: wake the rx thread,
 * which flushes (the overlay's threads flush after their own work). */
static void kick(veil_overlay *o)
{
    pthread_t self = pthread_self();
    if ((o->tx_on && pthread_equal(self, o->tx)) || (o->rx_on && pthread_equal(self, o->rx)))
        return;
    uint64_t one = 1;
    (void)!write(o->kick_fd, &one, sizeof one);
}

int veil_overlay_send_kind(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                           const uint8_t *msg, size_t len, veil_err *err)
{
    if (len < 1 || msg[0] < 1 || msg[0] > VEIL_OVERLAY_KIND_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "overlay: not a non-IP kind");
    pthread_mutex_lock(&o->mu);
    int rc = veil_anchor_send(o->a, peer, msg, len, now_locked(o), err);
    if (rc == 0)
        o->stats.kinds_out++;
    pthread_mutex_unlock(&o->mu);
    if (rc == 0)
        kick(o);
    return rc;
}

int veil_overlay_set_relayed(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                             bool relayed, veil_err *err)
{
    pthread_mutex_lock(&o->mu);
    struct overlay_peer *p = peer_by_id(o, peer);
    if (p)
        p->relayed = relayed;
    pthread_mutex_unlock(&o->mu);
    return p ? 0 : veil_err_set(err, VEIL_E_NOTFOUND, "overlay: no such peer");
}

int veil_overlay_deliver(veil_overlay *o, const uint8_t src[VEIL_ANCHOR_KEY_BYTES],
                         const uint8_t *pkt, size_t len, veil_err *err)
{
    struct veil_anchor_event ev = {.type = VEIL_ANCHOR_EV_DATA, .data = (uint8_t *)pkt, .len = len};
    memcpy(ev.peer, src, sizeof ev.peer);
    pthread_mutex_lock(&o->mu);
    bool ok = source_ok(o, &ev);
    bool in = ok && (!o->enforce || overlay_filter_allows(o->rules, o->n_rules, src, pkt, len));
    if (!ok)
        o->stats.spoofed++;
    else if (!in)
        o->stats.filtered++;
    pthread_mutex_unlock(&o->mu);
    if (!ok)
        return veil_err_set(err, VEIL_E_PROTOCOL, "overlay: relayed packet not from its source");
    if (!in)
        return veil_err_set(err, VEIL_E_PERMISSION, "overlay: relayed packet refused by the rules");
    pthread_t self = pthread_self();
    struct overlay_io *io = o->rx_on && pthread_equal(self, o->rx)   ? o->rx_io
                            : o->tx_on && pthread_equal(self, o->tx) ? o->tx_io
                                                                     : NULL;
    if (io && io->dl_on && io->dl_n < BATCH && len <= DL_SLOT) {
        uint8_t *slot = io->dl_buf + io->dl_n * DL_SLOT;
        memcpy(slot, pkt, len);
        io->dl_pkts[io->dl_n] = slot;
        io->dl_lens[io->dl_n++] = len;
        io->st.relayed_in++;
        return 0;
    }
    uint8_t vnet[OVERLAY_VNET_HDR_LEN] = {0}; /* one whole packet: no offload asked */
    struct iovec iov[2] = {{vnet, sizeof vnet}, {(void *)pkt, len}};
    ssize_t w = o->tun.vnet ? writev(o->tun.fd, iov, 2) : write(o->tun.fd, pkt, len);
    pthread_mutex_lock(&o->mu);
    if (w < 0)
        o->stats.tun_write_errors++;
    else
        o->stats.relayed_in++;
    pthread_mutex_unlock(&o->mu);
    return w < 0 ? veil_err_set(err, VEIL_E_IO, "overlay: TUN write: %s", strerror(errno)) : 0;
}

size_t veil_overlay_peer_endpoint(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                                  uint8_t out[VEIL_ANCHOR_ADDR_MAX])
{
    pthread_mutex_lock(&o->mu);
    size_t n = veil_anchor_peer_endpoint(o->a, peer, out);
    pthread_mutex_unlock(&o->mu);
    return n;
}

int veil_overlay_punch(veil_overlay *o, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                       const uint8_t *addr, size_t addr_len, veil_err *err)
{
    sa_family_t fam = AF_UNSPEC;
    if (addr_len >= sizeof fam)
        memcpy(&fam, addr, sizeof fam); /* the bytes may not be aligned */
    if (addr_len < sizeof(struct sockaddr_in) || addr_len > sizeof(struct sockaddr_storage) ||
        fam != o->family)
        return veil_err_set(err, VEIL_E_INVALID, "overlay: punch address (same family as bind)");
    pthread_mutex_lock(&o->mu);
    int rc = peer_by_id(o, peer) ? 0 : veil_err_set(err, VEIL_E_NOTFOUND, "overlay: no such peer");
    if (rc == 0)
        rc = veil_anchor_add_peer(o->a, peer, addr, addr_len, err);
    if (rc == 0)
        rc = veil_anchor_connect(o->a, peer, now_locked(o), err);
    pthread_mutex_unlock(&o->mu);
    if (rc == 0)
        kick(o);
    return rc;
}
