// SPDX-License-Identifier: Apache-2.0
/*
 * resolver.c - the node's overlay name resolver: the DNS query parser and
 * answer builder (every byte of a query read through a veil_reader), and
 * the UDP server thread with its replaceable name table
 * (include/veil/resolver.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <veil/resolver.h>

#define DNS_HDR        12
#define DNS_TYPE_A     1
#define DNS_TYPE_ANY   255
#define DNS_CLASS_IN   1
#define RCODE_NXDOMAIN 3

struct dns_question {
    char name[VEIL_DNS_NAME_MAX + 1];
    uint16_t type;
    size_t end; /* offset just past the question */
};

/* QNAME as lower-case dotted text; no compression in a question. */
static bool read_qname(veil_reader *r, char *name)
{
    size_t n = 0;
    for (;;) {
        uint8_t l = veil_read_u8(r);
        if (!veil_reader_ok(r) || (l & 0xc0) != 0)
            return false;
        if (l == 0)
            break;
        const uint8_t *label = veil_read_borrow(r, l);
        if (label == NULL || n + (n ? 1 : 0) + l > VEIL_DNS_NAME_MAX)
            return false;
        if (n)
            name[n++] = '.';
        for (size_t i = 0; i < l; i++)
            name[n++] = (char)tolower(label[i]);
    }
    name[n] = '\0';
    return n > 0;
}

/* One standard query with one IN question; false = no answer at all. */
static bool parse_query(const uint8_t *q, size_t len, struct dns_question *out)
{
    veil_reader r;
    veil_reader_init(&r, q, len);
    (void)veil_read_u16be(&r); /* id */
    uint16_t flags = veil_read_u16be(&r);
    uint16_t qd = veil_read_u16be(&r), an = veil_read_u16be(&r), ns = veil_read_u16be(&r);
    (void)veil_read_u16be(&r); /* additional records (EDNS): ignored */
    if (!veil_reader_ok(&r) || (flags & 0x8000) || ((flags >> 11) & 0xf) != 0 || qd != 1 ||
        an != 0 || ns != 0)
        return false;
    if (!read_qname(&r, out->name))
        return false;
    out->type = veil_read_u16be(&r);
    uint16_t cls = veil_read_u16be(&r);
    out->end = len - veil_reader_remaining(&r);
    return veil_reader_ok(&r) && cls == DNS_CLASS_IN;
}

static const struct veil_dns_entry *lookup(const struct veil_dns_entry *t, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

size_t veil_dns_answer(const struct veil_dns_entry *table, size_t n, const uint8_t *query,
                       size_t len, uint8_t *out, size_t cap)
{
    struct dns_question q;
    if (len > VEIL_DNS_MSG_MAX || cap < VEIL_DNS_MSG_MAX || !parse_query(query, len, &q))
        return 0;
    const struct veil_dns_entry *e = lookup(table, n, q.name);
    bool answer = e && (q.type == DNS_TYPE_A || q.type == DNS_TYPE_ANY);
    if (answer && q.end + 16 > cap)
        return 0; /* a name this long has no room for its answer */
    uint16_t flags = 0x8000 | 0x0400 | (uint16_t)(query[2] << 8 & 0x0100); /* QR, AA, RD */
    if (!e)
        flags |= RCODE_NXDOMAIN;
    memcpy(out, query, q.end); /* id and question */
    out[2] = (uint8_t)(flags >> 8);
    out[3] = (uint8_t)flags;
    memset(out + 6, 0, 6);
    out[7] = answer ? 1 : 0;
    size_t o = q.end;
    if (answer) {
        const uint8_t rr[] = {0xc0, DNS_HDR, 0, DNS_TYPE_A,     0, DNS_CLASS_IN,
                              0,    0,       0, VEIL_DNS_TTL_S, 0, 4};
        memcpy(out + o, rr, sizeof rr);
        memcpy(out + o + sizeof rr, e->ipv4, 4);
        o += sizeof rr + 4;
    }
    return o;
}

/* ---- the server ---- */

struct veil_dns_server {
    int fd, stop_fd;
    uint16_t port;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* table */
    struct veil_dns_entry *table;
    size_t n;
};

static void serve_one(veil_dns_server *s)
{
    uint8_t q[VEIL_DNS_MSG_MAX + 1], a[VEIL_DNS_MSG_MAX];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t len = recvfrom(s->fd, q, sizeof q, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (len <= 0)
        return;
    pthread_mutex_lock(&s->mu);
    size_t n = veil_dns_answer(s->table, s->n, q, (size_t)len, a, sizeof a);
    pthread_mutex_unlock(&s->mu);
    if (n > 0)
        (void)sendto(s->fd, a, n, 0, (struct sockaddr *)&from, fl);
}

static void *serve(void *arg)
{
    veil_dns_server *s = arg;
    struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
    while (poll(p, 2, -1) >= 0 && !(p[1].revents & POLLIN))
        if (p[0].revents & POLLIN)
            serve_one(s);
    return NULL;
}

static int bind_socket(veil_dns_server *s, const char *ip, uint16_t port, veil_err *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t al = sizeof a;
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        return veil_err_set(err, VEIL_E_INVALID, "resolver: bad bind address %s", ip);
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        return veil_err_set(err, VEIL_E_IO, "resolver: cannot bind %s:%u", ip, port);
    s->port = ntohs(a.sin_port);
    return 0;
}

veil_dns_server *veil_dns_server_start(const char *bind_ip, uint16_t port, veil_err *err)
{
    veil_dns_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "resolver: out of memory");
        return NULL;
    }
    s->fd = s->stop_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    int rc = bind_socket(s, bind_ip, port, err);
    if (rc == 0 && (s->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
        rc = veil_err_set(err, VEIL_E_IO, "resolver: no eventfd");
    if (rc == 0 && pthread_create(&s->thread, NULL, serve, s) != 0)
        rc = veil_err_set(err, VEIL_E_INTERNAL, "resolver: cannot start its thread");
    s->running = rc == 0;
    if (rc != 0) {
        veil_dns_server_stop(s);
        return NULL;
    }
    return s;
}

uint16_t veil_dns_server_port(const veil_dns_server *s)
{
    return s->port;
}

int veil_dns_server_set(veil_dns_server *s, const struct veil_dns_entry *table, size_t n,
                        veil_err *err)
{
    struct veil_dns_entry *copy = n ? calloc(n, sizeof *copy) : NULL;
    if (n && copy == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "resolver: no memory for %zu names", n);
    if (n)
        memcpy(copy, table, n * sizeof *copy);
    pthread_mutex_lock(&s->mu);
    free(s->table);
    s->table = copy;
    s->n = n;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void veil_dns_server_stop(veil_dns_server *s)
{
    if (s == NULL)
        return;
    uint64_t one = 1;
    if (s->running) {
        (void)!write(s->stop_fd, &one, sizeof one);
        pthread_join(s->thread, NULL);
    }
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->fd >= 0)
        close(s->fd);
    free(s->table);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
