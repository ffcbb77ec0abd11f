// SPDX-License-Identifier: Apache-2.0
/*
 * embed_lwip.c - the streams of the embedded agent (include/veil/embed.h)
 * on lwIP, Debian's liblwip (2.1, threaded: one tcpip thread per process,
 * BSD-style lwip_* sockets with the core lock). The agent is one lwIP
 * network interface without link layer: what lwIP sends there goes to the
 * Anchor session of the peer owning the destination (embed_output_ip), and
 * what a peer's session delivers enters through tcpip_input. lwIP's stack
 * is process-wide state of the library itself (started once here).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/sockets.h>
#include <lwip/tcpip.h>

#include "embed_int.h"

struct embed_stack {
    struct netif netif;
    veil_embed *e;
};

static pthread_once_t g_lwip_once = PTHREAD_ONCE_INIT; /* lwIP's own process-wide stack */
static sys_sem_t g_lwip_ready;

static void lwip_ready(void *arg)
{
    (void)arg;
    sys_sem_signal(&g_lwip_ready);
}

static void lwip_start(void)
{
    if (sys_sem_new(&g_lwip_ready, 0) != ERR_OK)
        return;
    tcpip_init(lwip_ready, NULL);
    sys_sem_wait(&g_lwip_ready);
}

static err_t out4(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
    (void)dst;
    struct embed_stack *s = netif->state;
    uint8_t *buf = malloc(p->tot_len);
    if (!buf)
        return ERR_MEM;
    u16_t n = pbuf_copy_partial(p, buf, p->tot_len, 0);
    embed_output_ip(s->e, buf, n);
    free(buf);
    return ERR_OK;
}

static err_t netif_setup(struct netif *netif)
{
    netif->name[0] = 'v';
    netif->name[1] = 'l';
    netif->output = out4;
    netif->mtu = EMBED_MTU;
    netif->flags = NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

int embed_stack_start(veil_embed *e, const uint8_t v4[4], struct embed_stack **out, veil_err *err)
{
    pthread_once(&g_lwip_once, lwip_start);
    struct embed_stack *s = calloc(1, sizeof *s);
    if (!s)
        return veil_err_set(err, VEIL_E_NOMEM, "embed: out of memory");
    s->e = e;
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, v4[0], v4[1], v4[2], v4[3]);
    IP4_ADDR(&mask, 255, 255, 0, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    LOCK_TCPIP_CORE();
    struct netif *n = netif_add(&s->netif, &ip, &mask, &gw, s, netif_setup, tcpip_input);
    if (n) {
        netif_set_default(n);
        netif_set_up(n);
    }
    UNLOCK_TCPIP_CORE();
    if (!n) {
        free(s);
        return veil_err_set(err, VEIL_E_INTERNAL, "embed: lwIP would not add the interface");
    }
    *out = s;
    return 0;
}

void embed_stack_stop(struct embed_stack *s)
{
    LOCK_TCPIP_CORE();
    netif_remove(&s->netif);
    UNLOCK_TCPIP_CORE();
    free(s);
}

void embed_stack_input(struct embed_stack *s, const uint8_t *pkt, size_t len)
{
    if (len > 0xffff)
        return;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    if (!p)
        return;
    if (pbuf_take(p, pkt, (u16_t)len) != ERR_OK || s->netif.input(p, &s->netif) != ERR_OK)
        pbuf_free(p);
}

/* ---- streams ------------------------------------------------------------- */

static int no_stack(veil_embed *e, veil_err *err)
{
    (void)e;
    return veil_err_set(err, VEIL_E_STATE, "embed: started without streams");
}

int veil_embed_listen(veil_embed *e, uint16_t port, veil_err *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return no_stack(e, err);
    if (lwip_bind(s, (struct sockaddr *)&a, sizeof a) != 0 || lwip_listen(s, 8) != 0) {
        lwip_close(s);
        return veil_err_set(err, VEIL_E_IO, "embed: listen on %u failed", port);
    }
    return s;
}

int veil_embed_accept(veil_embed *e, int listener, uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                      veil_err *err)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = lwip_accept(listener, (struct sockaddr *)&a, &len);
    if (s < 0)
        return veil_err_set(err, VEIL_E_IO, "embed: accept failed");
    if (!embed_peer_of(e, (const uint8_t *)&a.sin_addr, peer)) {
        lwip_close(s); /* cannot happen: only peers' packets enter the stack */
        return veil_err_set(err, VEIL_E_PROTOCOL, "embed: connection from no peer");
    }
    return s;
}

int veil_embed_connect(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], uint16_t port,
                       veil_err *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (!embed_addr_of(e, peer, (uint8_t *)&a.sin_addr))
        return veil_err_set(err, VEIL_E_NOTFOUND, "embed: unknown peer");
    int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return no_stack(e, err);
    if (lwip_connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        lwip_close(s);
        return veil_err_set(err, VEIL_E_NETWORK, "embed: connect to port %u failed", port);
    }
    return s;
}

int veil_embed_stream_write(veil_embed *e, int s, const void *buf, size_t len, veil_err *err)
{
    (void)e;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = lwip_send(s, p, len, 0);
        if (w <= 0)
            return veil_err_set(err, VEIL_E_IO, "embed: stream write failed");
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

long veil_embed_stream_read(veil_embed *e, int s, void *buf, size_t cap, veil_err *err)
{
    (void)e;
    ssize_t r = lwip_recv(s, buf, cap, 0);
    if (r < 0)
        return veil_err_set(err, VEIL_E_IO, "embed: stream read failed");
    return (long)r;
}

void veil_embed_stream_close(veil_embed *e, int s)
{
    (void)e;
    lwip_close(s);
}
