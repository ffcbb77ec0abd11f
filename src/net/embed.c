// SPDX-License-Identifier: Apache-2.0
/*
 * embed.c - the embedded VeilNet agent (include/veil/embed.h): one UDP
 * socket, one I/O thread (recvmmsg, the state machine's timers), the Anchor
 * state machine and the peer table behind one mutex, an inbox of received
 * application datagrams with a condition variable. IPv4 packets go to and
 * come from the lwIP glue (embed_lwip.c); relay cells go to the caller's
 * handler on the I/O thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "embed_int.h"
#include "net_sock.h"

#define RX_SLOTS 64
#define RX_SLOT  4096
#define TX_BATCH 64

struct embed_peer {
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    uint8_t v4[4];
};

struct embed_msg {
    uint8_t peer[VEIL_ANCHOR_KEY_BYTES];
    uint8_t *data; /* owned; the tag byte is data[-1] of the event's buffer */
    size_t len;
    uint8_t *owner;
};

struct veil_embed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    veil_anchor *a;
    int udp, stop_fd, family;
    uint16_t port;
    uint64_t last_now;
    struct embed_peer *peers;
    size_t n_peers, cap_peers;
    struct embed_msg inbox[VEIL_EMBED_INBOX_MAX];
    size_t in_head, in_len;
    struct embed_stack *stack;
    uint8_t v4[4];
    pthread_t io;
    bool io_on;
    pthread_t io_self; /* set by the I/O thread itself (under mu) */
    bool io_started;
    veil_embed_cell_fn cell_fn;
    void *cell_ctx;
    uint8_t *rx;
    struct sockaddr_storage rx_addr[RX_SLOTS];
};

static uint64_t now_locked(veil_embed *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (t < e->last_now)
        t = e->last_now;
    return e->last_now = t;
}

static struct embed_peer *peer_by_id(const veil_embed *e, const uint8_t *id)
{
    for (size_t i = 0; i < e->n_peers; i++)
        if (memcmp(e->peers[i].id, id, VEIL_ANCHOR_KEY_BYTES) == 0)
            return &e->peers[i];
    return NULL;
}

bool embed_peer_of(veil_embed *e, const uint8_t v4[4], uint8_t id[VEIL_ANCHOR_KEY_BYTES])
{
    bool found = false;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n_peers && !found; i++)
        if (memcmp(e->peers[i].v4, v4, 4) == 0) {
            memcpy(id, e->peers[i].id, VEIL_ANCHOR_KEY_BYTES);
            found = true;
        }
    pthread_mutex_unlock(&e->mu);
    return found;
}

bool embed_addr_of(veil_embed *e, const uint8_t id[VEIL_ANCHOR_KEY_BYTES], uint8_t v4[4])
{
    pthread_mutex_lock(&e->mu);
    const struct embed_peer *p = peer_by_id(e, id);
    if (p)
        memcpy(v4, p->v4, 4);
    pthread_mutex_unlock(&e->mu);
    return p != NULL;
}

/* Sends what the state machine queued (the caller does not hold mu). */
static void flush_out(veil_embed *e)
{
    struct veil_anchor_datagram d[TX_BATCH];
    struct mmsghdr msg[TX_BATCH];
    struct iovec iov[TX_BATCH];
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&e->mu);
        while (n < TX_BATCH && veil_anchor_pop_datagram(e->a, &d[n]))
            n++;
        pthread_mutex_unlock(&e->mu);
        memset(msg, 0, sizeof(struct mmsghdr) * (size_t)n);
        for (int i = 0; i < n; i++) {
            iov[i] = (struct iovec){d[i].data, d[i].len};
            msg[i].msg_hdr.msg_name = d[i].to;
            msg[i].msg_hdr.msg_namelen = (socklen_t)d[i].to_len;
            msg[i].msg_hdr.msg_iov = &iov[i];
            msg[i].msg_hdr.msg_iovlen = 1;
        }
        for (int done = 0; done < n;) {
            int r = sendmmsg(e->udp, msg + done, (unsigned)(n - done), 0);
            if (r < 0 && errno == EINTR)
                continue;
            done += r > 0 ? r : 1; /* a datagram the kernel refused is lost */
        }
        for (int i = 0; i < n; i++)
            veil_anchor_datagram_clear(&d[i]);
        if (n < TX_BATCH)
            return;
    }
}

/* A tagged payload to a peer, encrypted under mu, then sent; from the I/O
 * thread (a cell handler) it waits for the loop's flush, so everything a
 * received batch causes leaves in one sendmmsg. */
static int send_tagged(veil_embed *e, const uint8_t *peer, int tag, const void *data, size_t len,
                       veil_err *err)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        return veil_err_set(err, VEIL_E_NOMEM, "embed: out of memory");
    size_t n = 0;
    if (tag >= 0)
        buf[n++] = (uint8_t)tag;
    memcpy(buf + n, data, len);
    pthread_mutex_lock(&e->mu);
    int rc = veil_anchor_send(e->a, peer, buf, n + len, now_locked(e), err);
    bool defer = e->io_started && pthread_equal(pthread_self(), e->io_self);
    pthread_mutex_unlock(&e->mu);
    free(buf);
    if (!defer)
        flush_out(e);
    return rc;
}

void embed_output_ip(veil_embed *e, const uint8_t *pkt, size_t len)
{
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    if (len >= 20 && embed_peer_of(e, pkt + 16, id))
        (void)send_tagged(e, id, -1, pkt, len, NULL); /* lost like on a link; TCP resends */
}

int veil_embed_send(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const void *data,
                    size_t len, veil_err *err)
{
    if (len > VEIL_EMBED_DATAGRAM_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "embed: datagram of %zu bytes", len);
    return send_tagged(e, peer, EMBED_TAG_DATAGRAM, data, len, err);
}

int veil_embed_send_cell(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const void *cell,
                         size_t len, veil_err *err)
{
    if (len == 0 || len > VEIL_EMBED_DATAGRAM_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "embed: cell of %zu bytes", len);
    return send_tagged(e, peer, EMBED_TAG_CELL, cell, len, err);
}

void veil_embed_set_cell_handler(veil_embed *e, veil_embed_cell_fn fn, void *ctx)
{
    pthread_mutex_lock(&e->mu);
    e->cell_fn = fn;
    e->cell_ctx = ctx;
    pthread_mutex_unlock(&e->mu);
}

enum { TAKEN = 0, FOR_STACK = 1, FOR_CELLS = 2 };

/* Takes one event's data (mu held): a datagram into the inbox, a relay cell
 * for the handler or an IPv4 packet from the peer's own address for the
 * stack (both returned to the caller). */
static int take_event(veil_embed *e, struct veil_anchor_event *ev)
{
    if (ev->type != VEIL_ANCHOR_EV_DATA || ev->len == 0)
        return TAKEN;
    if (ev->data[0] == EMBED_TAG_CELL)
        return e->cell_fn && ev->len > 1 ? FOR_CELLS : TAKEN; /* no relay here: dropped */
    if (ev->data[0] == EMBED_TAG_DATAGRAM) {
        if (e->in_len == VEIL_EMBED_INBOX_MAX)
            return TAKEN; /* the application is not reading: dropped */
        struct embed_msg *m = &e->inbox[(e->in_head + e->in_len++) % VEIL_EMBED_INBOX_MAX];
        memcpy(m->peer, ev->peer, VEIL_ANCHOR_KEY_BYTES);
        m->owner = ev->data;
        m->data = ev->data + 1;
        m->len = ev->len - 1;
        ev->data = NULL;
        pthread_cond_broadcast(&e->cv);
        return TAKEN;
    }
    const struct embed_peer *p = peer_by_id(e, ev->peer);
    return e->stack && p && ev->len >= 20 && ev->data[0] >> 4 == 4 &&
                   memcmp(ev->data + 12, p->v4, 4) == 0
               ? FOR_STACK
               : TAKEN;
}

static void drain_events(veil_embed *e)
{
    struct veil_anchor_event ev[64];
    int to[64];
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&e->mu);
        while (n < 64 && veil_anchor_pop_event(e->a, &ev[n])) {
            to[n] = take_event(e, &ev[n]);
            n++;
        }
        veil_embed_cell_fn fn = e->cell_fn;
        void *ctx = e->cell_ctx;
        pthread_mutex_unlock(&e->mu);
        for (int i = 0; i < n; i++) {
            if (to[i] == FOR_STACK)
                embed_stack_input(e->stack, ev[i].data, ev[i].len);
            else if (to[i] == FOR_CELLS && fn)
                fn(ctx, e, ev[i].peer, ev[i].data + 1, ev[i].len - 1);
            veil_anchor_event_clear(&ev[i]);
        }
        if (n < 64)
            return;
    }
}

long veil_embed_recv(veil_embed *e, uint8_t peer[VEIL_ANCHOR_KEY_BYTES], void *buf, size_t cap,
                     int timeout_ms, veil_err *err)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&e->mu);
    while (e->in_len == 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&e->cv, &e->mu)
                                : pthread_cond_timedwait(&e->cv, &e->mu, &until);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&e->mu);
            return veil_err_set(err, VEIL_E_TIMEOUT, "embed: no datagram");
        }
    }
    struct embed_msg m = e->inbox[e->in_head];
    e->in_head = (e->in_head + 1) % VEIL_EMBED_INBOX_MAX;
    e->in_len--;
    pthread_mutex_unlock(&e->mu);
    long n = (long)m.len;
    if (m.len > cap)
        n = veil_err_set(err, VEIL_E_RANGE, "embed: datagram of %zu bytes", m.len);
    else
        memcpy(buf, m.data, m.len);
    memcpy(peer, m.peer, VEIL_ANCHOR_KEY_BYTES);
    free(m.owner);
    return n;
}

/* ---- I/O thread ---------------------------------------------------------- */

static int recv_batch(veil_embed *e)
{
    struct mmsghdr msg[RX_SLOTS];
    struct iovec iov[RX_SLOTS];
    memset(msg, 0, sizeof msg);
    for (int i = 0; i < RX_SLOTS; i++) {
        iov[i] = (struct iovec){e->rx + (size_t)i * RX_SLOT, RX_SLOT};
        msg[i].msg_hdr.msg_name = &e->rx_addr[i];
        msg[i].msg_hdr.msg_namelen = sizeof e->rx_addr[i];
        msg[i].msg_hdr.msg_iov = &iov[i];
        msg[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(e->udp, msg, RX_SLOTS, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return 0;
    pthread_mutex_lock(&e->mu);
    uint64_t now = now_locked(e);
    for (int i = 0; i < n; i++)
        if (!(msg[i].msg_hdr.msg_flags & MSG_TRUNC))
            (void)veil_anchor_recv(e->a, (const uint8_t *)&e->rx_addr[i],
                                   msg[i].msg_hdr.msg_namelen, e->rx + (size_t)i * RX_SLOT,
                                   msg[i].msg_len, now, NULL);
    pthread_mutex_unlock(&e->mu);
    return n;
}

static int tick_wait(veil_embed *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t now = now_locked(e), due = veil_anchor_next_deadline(e->a);
    if (due <= now) {
        veil_anchor_tick(e->a, now);
        due = veil_anchor_next_deadline(e->a);
    }
    pthread_mutex_unlock(&e->mu);
    uint64_t wait = due > now ? due - now : 1;
    return wait > 1000 ? 1000 : (int)wait;
}

static void *io_main(void *arg)
{
    veil_embed *e = arg;
    pthread_mutex_lock(&e->mu);
    e->io_self = pthread_self();
    e->io_started = true;
    pthread_mutex_unlock(&e->mu);
    for (;;) {
        int wait = tick_wait(e);
        flush_out(e);
        drain_events(e);
        struct pollfd p[2] = {{e->stop_fd, POLLIN, 0}, {e->udp, POLLIN, 0}};
        if (poll(p, 2, wait) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        while (recv_batch(e) == RX_SLOTS) {
            flush_out(e);
            drain_events(e);
        }
        flush_out(e);
        drain_events(e);
    }
    return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static int open_udp(veil_embed *e, const char *ip, uint16_t port, veil_err *err)
{
    if (net_udp_bind("embed", ip, port, 0, &e->udp, &e->family, &e->port, err) != 0)
        return -1;
    int size = 4 << 20;
    (void)setsockopt(e->udp, SOL_SOCKET, SO_RCVBUF, &size, sizeof size); /* best effort */
    (void)setsockopt(e->udp, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return 0;
}

static int setup(veil_embed *e, const struct veil_embed_config *cfg, veil_err *err)
{
    e->rx = malloc((size_t)RX_SLOTS * RX_SLOT);
    if (!e->rx)
        return veil_err_set(err, VEIL_E_NOMEM, "embed: out of memory");
    if (open_udp(e, cfg->bind_ip ? cfg->bind_ip : "127.0.0.1", cfg->port, err) != 0)
        return -1;
    if (cfg->streams) {
        if (!cfg->ipv4 || inet_pton(AF_INET, cfg->ipv4, e->v4) != 1)
            return veil_err_set(err, VEIL_E_INVALID, "embed: streams need an overlay IPv4");
        if (embed_stack_start(e, e->v4, &e->stack, err) != 0)
            return -1;
    }
    e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->stop_fd < 0)
        return veil_err_set(err, VEIL_E_IO, "embed: eventfd: %s", strerror(errno));
    e->io_on = pthread_create(&e->io, NULL, io_main, e) == 0;
    return e->io_on ? 0 : veil_err_set(err, VEIL_E_INTERNAL, "embed: cannot start its thread");
}

veil_embed *veil_embed_start(const struct veil_embed_config *cfg, veil_anchor *a, veil_err *err)
{
    veil_embed *e = calloc(1, sizeof *e);
    if (!e) {
        veil_anchor_free(a);
        veil_err_set(err, VEIL_E_NOMEM, "embed: out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->a = a;
    e->udp = e->stop_fd = -1;
    if (setup(e, cfg, err) != 0) {
        veil_embed_stop(e);
        return NULL;
    }
    return e;
}

void veil_embed_stop(veil_embed *e)
{
    if (!e)
        return;
    uint64_t one = 1;
    if (e->stop_fd >= 0)
        (void)!write(e->stop_fd, &one, sizeof one);
    if (e->io_on)
        pthread_join(e->io, NULL);
    if (e->stack)
        embed_stack_stop(e->stack);
    if (e->stop_fd >= 0)
        close(e->stop_fd);
    if (e->udp >= 0)
        close(e->udp);
    for (size_t i = 0; i < e->in_len; i++)
        free(e->inbox[(e->in_head + i) % VEIL_EMBED_INBOX_MAX].owner);
    veil_anchor_free(e->a);
    free(e->peers);
    free(e->rx);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

uint16_t veil_embed_port(const veil_embed *e)
{
    return e->port;
}

int veil_embed_add_peer(veil_embed *e, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                        const char *ipv4, const char *endpoint_ip, uint16_t endpoint_port,
                        veil_err *err)
{
    uint8_t v4[4];
    struct sockaddr_storage ss;
    socklen_t len;
    if (!ipv4 || inet_pton(AF_INET, ipv4, v4) != 1)
        return veil_err_set(err, VEIL_E_INVALID, "embed: peer IPv4 address");
    if (!endpoint_ip || net_sockaddr_parse(endpoint_ip, endpoint_port, &ss, &len) != 0 ||
        ss.ss_family != e->family)
        return veil_err_set(err, VEIL_E_INVALID, "embed: peer endpoint (same family as bind)");
    pthread_mutex_lock(&e->mu);
    struct embed_peer *p = peer_by_id(e, identity);
    if (!p) {
        struct embed_peer *np =
            veil_array_reserve(e->peers, &e->cap_peers, e->n_peers, sizeof *e->peers);
        if (np)
            e->peers = np;
    }
    if (!p && e->n_peers < e->cap_peers) {
        p = &e->peers[e->n_peers++];
        memcpy(p->id, identity, VEIL_ANCHOR_KEY_BYTES);
    }
    int rc = p ? veil_anchor_add_peer(e->a, identity, (const uint8_t *)&ss, len, err)
               : veil_err_set(err, VEIL_E_NOMEM, "embed: out of memory");
    if (p)
        memcpy(p->v4, v4, 4);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

void veil_embed_remove_peer(veil_embed *e, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES])
{
    pthread_mutex_lock(&e->mu);
    veil_anchor_remove_peer(e->a, identity, now_locked(e));
    struct embed_peer *p = peer_by_id(e, identity);
    if (p)
        *p = e->peers[--e->n_peers];
    pthread_mutex_unlock(&e->mu);
}

int veil_embed_peer_endpoint(veil_embed *e, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], char *ip,
                             size_t ip_cap, uint16_t *port, veil_err *err)
{
    struct sockaddr_storage ss;
    uint8_t raw[VEIL_ANCHOR_ADDR_MAX];
    pthread_mutex_lock(&e->mu);
    size_t n = veil_anchor_peer_endpoint(e->a, identity, raw);
    pthread_mutex_unlock(&e->mu);
    if (n == 0 || n > sizeof ss)
        return veil_err_set(err, VEIL_E_NOTFOUND, "embed: peer has no endpoint");
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, raw, n);
    const void *src = NULL;
    if (ss.ss_family == AF_INET && n >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        src = &s4->sin_addr, *port = ntohs(s4->sin_port);
    } else if (ss.ss_family == AF_INET6 && n >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        src = &s6->sin6_addr, *port = ntohs(s6->sin6_port);
    }
    if (!src || !inet_ntop(ss.ss_family, src, ip, (socklen_t)ip_cap))
        return veil_err_set(err, VEIL_E_INVALID, "embed: peer endpoint not an IP address");
    return 0;
}
