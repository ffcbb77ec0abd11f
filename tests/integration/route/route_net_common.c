// SPDX-License-Identifier: Apache-2.0
/*
 * route_net_common.c - what every process of the whole-topology routing
 * test shares (route_net.h): the realm table (seeded identities and the
 * test Guardian's credentials), the seeded user-space delay line that stands
 * in for netem (not in this kernel), and the queue that hands NATS messages
 * from libnats' thread to a host's loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "anchor_test_cred.h"
#include "route_net.h"

struct rn_ident rn_ids[RN_N] = {
    [RN_M] = {.name = "M", .public_ip = "192.0.2.10", .lan_ip = "192.0.2.10", .taint = "pci"},
    [RN_P1] = {.name = "P1", .public_ip = "192.0.2.11", .lan_ip = "192.0.2.11", .taint = "pci"},
    [RN_P2] = {.name = "P2", .public_ip = "192.0.2.12", .lan_ip = "192.0.2.12", .taint = "pci"},
    [RN_T] = {.name = "T",
              .public_ip = "192.0.2.13",
              .lan_ip = "192.0.2.13",
              .taint = "gpu"}, /* taints not contained */
    [RN_H1] = {.name = "h1",
               .public_ip = NULL,
               .lan_ip = "10.0.1.2",
               .taint = "pci"}, /* cone NAT */
    [RN_H2] = {.name = "h2",
               .public_ip = NULL,
               .lan_ip = "10.0.2.2",
               .taint = "pci"}, /* cone NAT */
    [RN_H3] = {.name = "h3",
               .public_ip = NULL,
               .lan_ip = "10.0.3.2",
               .taint = "pci"}, /* symmetric NAT */
};
uint8_t rn_guardian_pk[32];

/* One-way delay in ms from row to column, applied by the sender (user
 * space: netem is not available). Unlisted links: 2 ms. From h1 to h2 the
 * best way is through P1 (25 ms RTT), then P2 (40), then M or P2+M (55),
 * then the direct link (65, and it loses every 5th packet to nftables, see
 * net_netns.sh; the probes may miss the drops, as they are counted over all
 * of h1's packets to h2, so the delay alone ranks it last). */
static const int delay_ms[RN_N][RN_N] = {
    [RN_H1] = {[RN_H2] = 60, [RN_P1] = 10, [RN_P2] = 20, [RN_M] = 25},
    [RN_P1] = {[RN_H2] = 10},
    [RN_P2] = {[RN_H2] = 15, [RN_M] = 5},
    [RN_M] = {[RN_H2] = 25},
    [RN_H2] = {[RN_H1] = 5},
};

void rn_idents_init(void)
{
    uint8_t seed[32], gsk[64];
    memset(seed, 9, sizeof seed);
    crypto_sign_seed_keypair(rn_guardian_pk, gsk, seed);
    for (int i = 0; i < RN_N; i++) {
        memset(seed, 0x60 + i, sizeof seed);
        crypto_sign_seed_keypair(rn_ids[i].pk, rn_ids[i].sk, seed);
        rn_ids[i].cred_len = anchor_test_cred_make(rn_ids[i].cred, RN_REALM, rn_ids[i].taint,
                                                   rn_ids[i].pk, UINT64_MAX, gsk);
    }
    sodium_memzero(gsk, sizeof gsk);
}

int rn_index(const uint8_t pk[32])
{
    for (int i = 0; i < RN_N; i++)
        if (memcmp(rn_ids[i].pk, pk, 32) == 0)
            return i;
    return -1;
}

int rn_by_name(const char *name)
{
    for (int i = 0; i < RN_N; i++)
        if (strcmp(rn_ids[i].name, name) == 0)
            return i;
    return -1;
}

uint64_t rn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool rn_has_marker(const uint8_t *b, size_t n)
{
    return memmem(b, n, RN_MARKER, sizeof RN_MARKER - 1) != NULL;
}

void rn_cred_info(int i, struct veil_anchor_cred_info *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->realm, sizeof c->realm, "%s", RN_REALM);
    c->n_taints = 1;
    snprintf(c->taints[0], sizeof c->taints[0], "%s", rn_ids[i].taint);
}

/* ---- delay line ------------------------------------------------------------ */

void rn_delay_send(struct rn_delay *dl, int self, int to, const uint8_t *d, size_t len)
{
    if (to < 0 || to >= RN_N || len > sizeof dl->q[0].data || dl->n == RN_QMAX) {
        dl->overflow++;
        return;
    }
    int ms = delay_ms[self][to] ? delay_ms[self][to] : 2;
    struct rn_pending *p = &dl->q[dl->n++];
    p->due = rn_now_ms() + (uint64_t)ms;
    p->to = to;
    p->len = len;
    memcpy(p->data, d, len);
}

/* Sends what is due, in the order it was queued. */
void rn_delay_flush(struct rn_delay *dl, veil_embed *e)
{
    uint64_t now = rn_now_ms();
    size_t keep = 0;
    for (size_t i = 0; i < dl->n; i++) {
        struct rn_pending *p = &dl->q[i];
        if (p->due > now) {
            if (keep != i)
                dl->q[keep] = *p;
            keep++;
        } else if (veil_embed_send(e, rn_ids[p->to].pk, p->data, p->len, NULL) != 0) {
            dl->send_failures++; /* no session yet, or a killed peer: as a lossy link */
        }
    }
    dl->n = keep;
}

/* ---- NATS queue ------------------------------------------------------------ */

void rn_natsq_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc, (void)sub;
    struct rn_natsq *q = closure;
    const char *subj = natsMsg_GetSubject(msg);
    int len = natsMsg_GetDataLength(msg);
    pthread_mutex_lock(&q->mu);
    if (q->n < RN_NQ && len >= 0 && (size_t)len <= sizeof q->q[0].data &&
        strlen(subj) < sizeof q->q[0].subject) {
        struct rn_nmsg *m = &q->q[(q->head + q->n++) % RN_NQ];
        snprintf(m->subject, sizeof m->subject, "%s", subj);
        m->len = (size_t)len;
        memcpy(m->data, natsMsg_GetData(msg), (size_t)len);
    } else {
        q->dropped++;
    }
    pthread_mutex_unlock(&q->mu);
    natsMsg_Destroy(msg);
}

bool rn_natsq_pop(struct rn_natsq *q, struct rn_nmsg *out)
{
    pthread_mutex_lock(&q->mu);
    bool got = q->n > 0;
    if (got) {
        *out = q->q[q->head];
        q->head = (q->head + 1) % RN_NQ;
        q->n--;
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}
