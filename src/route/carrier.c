// SPDX-License-Identifier: Apache-2.0
/*
 * carrier.c - relay cells carried by an embedded VeilNet agent (the
 * `veil_route_carrier` of include/veil/route.h): the agent hands every
 * received cell (its own Anchor datagram kind) to this node's relay on the
 * agent's I/O thread; a forwarded cell is sent back through the agent from
 * there, so it leaves with the rest of the batch's output; a payload for
 * this node (it is a path's destination) waits in a bounded inbox for
 * veil_route_carrier_recv. The relay state is behind the carrier's mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "veil/route.h"

#define INBOX_MAX 1024
#define EXPIRE_MS 100 /* idle paths are looked for at most this often */

struct carrier_msg {
    uint8_t src[VEIL_ANCHOR_KEY_BYTES];
    uint8_t *data;
    size_t len;
};

struct veil_route_carrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    veil_embed *e;
    struct veil_route_relay relay;
    uint64_t last_expire;
    struct carrier_msg inbox[INBOX_MAX];
    size_t head, n;
    struct veil_route_carrier_stats st;
    uint8_t out[VEIL_EMBED_DATAGRAM_MAX]; /* one cell at a time, under mu */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A payload for this node (mu held); dropped when the inbox is full. */
static void deliver(veil_route_carrier *c, const uint8_t src[32], const uint8_t *p, size_t len)
{
    uint8_t *copy = len > 0 && c->n < INBOX_MAX ? malloc(len) : NULL;
    if (!copy) {
        c->st.dropped++;
        return;
    }
    struct carrier_msg *m = &c->inbox[(c->head + c->n++) % INBOX_MAX];
    memcpy(m->src, src, VEIL_ANCHOR_KEY_BYTES);
    memcpy(copy, p, len);
    m->data = copy;
    m->len = len;
    c->st.delivered++;
    pthread_cond_broadcast(&c->cv);
}

/* The agent's cell handler (its I/O thread). */
static void on_cell(void *ctx, veil_embed *e, const uint8_t from[VEIL_ANCHOR_KEY_BYTES],
                    const uint8_t *cell, size_t len)
{
    veil_route_carrier *c = ctx;
    struct veil_route_action act;
    uint64_t now = mono_ms();
    pthread_mutex_lock(&c->mu);
    c->st.cells_in++;
    if (now - c->last_expire >= EXPIRE_MS) {
        c->last_expire = now;
        (void)veil_route_relay_expire(&c->relay, now);
    }
    int rc =
        veil_route_relay_handle(&c->relay, from, cell, len, now, c->out, sizeof c->out, &act, NULL);
    if (rc != 0)
        c->st.refused++;
    else if (act.deliver && act.out_len > 0)
        deliver(c, act.peer, c->out, act.out_len);
    else if (!act.deliver && veil_embed_send_cell(e, act.peer, c->out, act.out_len, NULL) == 0)
        c->st.forwarded++;
    else if (!act.deliver)
        c->st.send_failed++; /* no session with the next hop: lost, as on a link */
    pthread_mutex_unlock(&c->mu);
}

veil_route_carrier *veil_route_carrier_attach(veil_embed *e,
                                              const struct veil_route_relay_config *cfg,
                                              const uint8_t ed_sk[64], veil_err *err)
{
    veil_route_carrier *c = calloc(1, sizeof *c);
    if (!c) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "route carrier: out of memory");
        return NULL;
    }
    if (veil_route_relay_init(&c->relay, cfg, ed_sk, err) != 0) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->e = e;
    c->last_expire = mono_ms();
    veil_embed_set_cell_handler(e, on_cell, c);
    return c;
}

void veil_route_carrier_free(veil_route_carrier *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct carrier_msg *m = &c->inbox[(c->head + i) % INBOX_MAX];
        sodium_memzero(m->data, m->len);
        free(m->data);
    }
    veil_route_relay_wipe(&c->relay);
    sodium_memzero(c->out, sizeof c->out);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int veil_route_carrier_send(veil_route_carrier *c, const uint8_t first_hop[VEIL_ANCHOR_KEY_BYTES],
                            const void *cell, size_t len, veil_err *err)
{
    return veil_embed_send_cell(c->e, first_hop, cell, len, err);
}

static void deadline(struct timespec *until, int timeout_ms)
{
    clock_gettime(CLOCK_REALTIME, until);
    until->tv_sec += timeout_ms / 1000;
    until->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until->tv_nsec >= 1000000000) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000;
    }
}

long veil_route_carrier_recv(veil_route_carrier *c, uint8_t src[VEIL_ANCHOR_KEY_BYTES], void *buf,
                             size_t cap, int timeout_ms, veil_err *err)
{
    struct timespec until;
    deadline(&until, timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (c->n == 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&c->cv, &c->mu)
                                : pthread_cond_timedwait(&c->cv, &c->mu, &until);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            return veil_err_set(err, VEIL_E_TIMEOUT, "route carrier: no payload");
        }
    }
    struct carrier_msg m = c->inbox[c->head];
    c->head = (c->head + 1) % INBOX_MAX;
    c->n--;
    pthread_mutex_unlock(&c->mu);
    long n = (long)m.len;
    if (m.len > cap)
        n = veil_err_set(err, VEIL_E_RANGE, "route carrier: payload of %zu bytes", m.len);
    else
        memcpy(buf, m.data, m.len);
    memcpy(src, m.src, VEIL_ANCHOR_KEY_BYTES);
    sodium_memzero(m.data, m.len);
    free(m.data);
    return n;
}

void veil_route_carrier_get_stats(veil_route_carrier *c, struct veil_route_carrier_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
