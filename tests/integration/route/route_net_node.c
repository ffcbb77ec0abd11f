// SPDX-License-Identifier: Apache-2.0
/*
 * route_net_node.c - one host of the whole-topology routing test
 * (net_netns.sh runs one per network namespace, some behind nftables NATs):
 *
 *   route_net_node NAME NATS_URL [P1_PID_FILE]
 *
 * The host is an embedded VeilNet agent (real Anchor sessions, the test
 * Guardian's credentials, so realm and taints are enforced underneath) on
 * UDP port 5000, a relay (src/route/relay.c) and a client of the test's
 * nats-server (Master). It learns its reflexive address from what the
 * public members report ('R' answers: where its Anchor packets came from),
 * classifies its NAT, publishes `topo` summaries (veil_route_topo) on
 * veil.acme.topo.<name> and speaks `path` signals (veil_route_signal) on
 * veil.acme.path.<dst>.<src>: punch offers/answers between two cone NATs,
 * relay asks/answers. It then reaches every other member of the realm by
 * the plan veil_route_nat_plan gives (direct, hole punching, or an onion
 * path through the cheapest allowed relay, its cells carried as the agents'
 * own relay-cell kind by veil_route_carrier) and prints one `reach` line per
 * peer and `reach-all` when every peer answered. The source (h1) then runs
 * the transfer of route_net_xfer.c. Every host prints its `stats` line
 * (cells relayed, plaintext markers seen in relayed cells) on SIGTERM.
 * Application messages (first byte): H hello / R report, Q echo / A answer,
 * P probe / p answer, d data / a answer; onion cells are types 1 and 2.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "anchor_test_cred.h"
#include "route_net.h"

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static bool is_public(int i)
{
    return rn_ids[i].public_ip != NULL;
}

/* The realm members this host must reach (T shares no taint with anyone). */
static bool must_reach(const struct rn_host *h, int j)
{
    return j != h->self && j != RN_T && h->self != RN_T;
}

/* ---- sending ------------------------------------------------------------- */

bool rn_send_app(struct rn_host *h, int j, const uint8_t *m, size_t len)
{
    struct rn_way *w = &h->way[j];
    if (!w->ready)
        return false;
    if (w->kind != RN_WAY_RELAY) {
        rn_delay_send(&h->dl, h->self, j, m, len);
        return true;
    }
    uint8_t cell[1600];
    size_t n;
    return veil_route_onion_wrap(&w->onion, m, len, cell, sizeof cell, &n, NULL) == 0 &&
           veil_route_carrier_send(h->car, rn_ids[w->relay].pk, cell, n, NULL) == 0;
}

void rn_signal(struct rn_host *h, int dst, enum veil_route_signal_type type, uint64_t nonce,
               uint64_t at_ms)
{
    struct veil_route_signal s = {.type = type, .nonce = nonce, .at_ms = at_ms, .nat = h->nat};
    memcpy(s.src, rn_ids[h->self].pk, 32);
    memcpy(s.dst, rn_ids[dst].pk, 32);
    s.addr_len = strlen(h->addr);
    memcpy(s.addr, h->addr, s.addr_len);
    char subj[128];
    veil_buf b;
    veil_buf_init(&b);
    snprintf(subj, sizeof subj, "veil.%s.path.%s.%s", RN_REALM, rn_ids[dst].name,
             rn_ids[h->self].name);
    if (veil_route_signal_encode(&s, &b, NULL) == 0)
        (void)natsConnection_Publish(h->nc, subj, b.data, (int)b.len);
    veil_buf_free(&b);
}

/* ---- topology summaries ---------------------------------------------------- */

static int cmp_pk(const void *a, const void *b)
{
    return memcmp(rn_ids[*(const int *)a].pk, rn_ids[*(const int *)b].pk, 32);
}

static void publish_topo(struct rn_host *h)
{
    static struct veil_route_topo t;
    int order[RN_N];
    memset(&t, 0, sizeof t);
    memcpy(t.node, rn_ids[h->self].pk, 32);
    t.seq = ++h->topo_seq;
    t.relay_willing = is_public(h->self);
    t.nat = h->nat;
    t.addr_len = strlen(h->addr);
    memcpy(t.addr, h->addr, t.addr_len);
    for (int i = 0; i < RN_N; i++)
        order[i] = i;
    qsort(order, RN_N, sizeof order[0], cmp_pk);
    for (int k = 0; k < RN_N; k++) {
        int i = order[k];
        if (i == h->self || h->link_rtt_us[i] == 0)
            continue;
        struct veil_route_link *l = &t.links[t.n_links++];
        memcpy(l->peer, rn_ids[i].pk, 32);
        l->rtt_us = h->link_rtt_us[i];
    }
    char subj[128];
    veil_buf b;
    veil_buf_init(&b);
    snprintf(subj, sizeof subj, "veil.%s.topo.%s", RN_REALM, rn_ids[h->self].name);
    if (veil_route_topo_encode(&t, &b, NULL) == 0)
        (void)natsConnection_Publish(h->nc, subj, b.data, (int)b.len);
    veil_buf_free(&b);
}

/* The RTT of link a-b as a or b measured it (own figure first), 0 if unknown. */
uint32_t rn_link_rtt(const struct rn_host *h, int a, int b)
{
    if (a == h->self && h->link_rtt_us[b])
        return h->link_rtt_us[b];
    const struct veil_route_link *l = NULL;
    if (h->have_topo[a])
        l = veil_route_topo_link(&h->topo[a], rn_ids[b].pk);
    if (!l && h->have_topo[b])
        l = veil_route_topo_link(&h->topo[b], rn_ids[a].pk);
    return l ? l->rtt_us : 0;
}

bool rn_relay_allowed(const struct rn_host *h, int a, int r, int b)
{
    struct veil_anchor_cred_info ca, cr, cb;
    if (!h->have_topo[r])
        return false;
    rn_cred_info(a, &ca), rn_cred_info(r, &cr), rn_cred_info(b, &cb);
    return veil_route_relay_allowed(&ca, &cr, &cb, h->topo[r].relay_willing);
}

bool rn_relay_ready(struct rn_host *h, int r)
{
    uint64_t now = rn_now_ms();
    if (!h->relay_ok[r] && now - h->last_ask[r] >= 1000) {
        h->last_ask[r] = now;
        rn_signal(h, r, VEIL_ROUTE_SIG_RELAY_ASK, now, 0);
    }
    return h->relay_ok[r];
}

/* ---- reaching every peer --------------------------------------------------- */

/* The allowed relay with the cheapest summarized links between self and j. */
static int pick_relay(const struct rn_host *h, int j)
{
    int best = -1;
    uint64_t best_cost = UINT64_MAX;
    for (int r = 0; r < RN_N; r++) {
        if (r == h->self || r == j || !rn_relay_allowed(h, h->self, r, j))
            continue;
        uint64_t c = (uint64_t)rn_link_rtt(h, h->self, r) + rn_link_rtt(h, r, j);
        if (c < best_cost)
            best = r, best_cost = c;
    }
    return best;
}

static void way_decide(struct rn_host *h, int j)
{
    struct rn_way *w = &h->way[j];
    if (w->kind != RN_WAY_NONE || !h->have_topo[j] || h->nat == VEIL_ROUTE_NAT_UNKNOWN)
        return;
    enum veil_route_nat_plan plan = veil_route_nat_plan(h->nat, h->topo[j].nat);
    if (plan == VEIL_ROUTE_PLAN_DIRECT) {
        w->kind = RN_WAY_DIRECT;
        w->ready = true; /* the NATed side initiates; its session carries our answers */
    } else if (plan == VEIL_ROUTE_PLAN_PUNCH) {
        w->kind = RN_WAY_PUNCH;
    } else if ((w->relay = pick_relay(h, j)) >= 0) {
        w->kind = RN_WAY_RELAY;
    }
}

static int add_peer_at(struct rn_host *h, int j, const uint8_t *addr, size_t len)
{
    char text[80], v4[32];
    if (len == 0 || len >= sizeof text)
        return -1;
    memcpy(text, addr, len);
    text[len] = '\0';
    char *colon = strrchr(text, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    snprintf(v4, sizeof v4, "10.88.0.%d", j + 1);
    return veil_embed_add_peer(h->e, rn_ids[j].pk, v4, text, (uint16_t)atoi(colon + 1), NULL);
}

/* Both cone hosts send to each other's reflexive address from at_ms on; the
 * lower index offers (again every second until answered). */
static void way_punch(struct rn_host *h, int j, uint64_t now)
{
    struct rn_way *w = &h->way[j];
    if (w->punch_at == 0 && h->self < j && now - w->last_offer >= 1000) {
        w->last_offer = now;
        randombytes_buf(&w->nonce, sizeof w->nonce);
        rn_signal(h, j, VEIL_ROUTE_SIG_PUNCH_OFFER, w->nonce, now + 400);
    }
    if (w->punch_at != 0 && now >= w->punch_at)
        w->ready = true;
}

static void way_relay(struct rn_host *h, int j, uint64_t now)
{
    struct rn_way *w = &h->way[j];
    if (!rn_relay_ready(h, w->relay) || (w->ready && (w->reached || now - w->setup_ms < 1500)))
        return;
    struct veil_route_hop hops[2];
    struct veil_route_limits lim = {1u << 30, 1u << 24, 20000};
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES];
    memcpy(hops[0].identity, rn_ids[w->relay].pk, 32);
    memcpy(hops[1].identity, rn_ids[j].pk, 32);
    veil_route_onion_wipe(&w->onion);
    if (veil_route_onion_build(&w->onion, rn_ids[h->self].sk, hops, 2, &lim, cell, NULL) != 0 ||
        veil_route_carrier_send(h->car, rn_ids[w->relay].pk, cell, sizeof cell, NULL) != 0)
        return;
    w->setup_ms = now;
    w->ready = true;
}

static void way_echo(struct rn_host *h, int j, uint64_t now)
{
    struct rn_way *w = &h->way[j];
    if (!w->ready || w->reached || now - w->last_q < 300)
        return;
    uint8_t m[5 + sizeof RN_MARKER];
    w->last_q = now;
    w->q_seq++;
    m[0] = 'Q';
    memcpy(m + 1, &w->q_seq, 4);
    memcpy(m + 5, RN_MARKER, sizeof RN_MARKER);
    if (rn_send_app(h, j, m, sizeof m))
        w->q_sent = now;
}

static void reach_tick(struct rn_host *h, uint64_t now)
{
    for (int j = 0; j < RN_N; j++) {
        if (!must_reach(h, j))
            continue;
        way_decide(h, j);
        if (h->way[j].kind == RN_WAY_PUNCH)
            way_punch(h, j, now);
        else if (h->way[j].kind == RN_WAY_RELAY)
            way_relay(h, j, now);
        way_echo(h, j, now);
    }
}

static const char *way_name(const struct rn_way *w)
{
    static const char *const names[] = {"none", "direct", "punch", "relay"};
    return names[w->kind];
}

static void on_answer(struct rn_host *h, int j, const uint8_t *m, size_t len)
{
    struct rn_way *w = &h->way[j];
    uint32_t seq;
    if (len != 5 || w->reached)
        return;
    memcpy(&seq, m + 1, 4);
    if (seq != w->q_seq)
        return;
    w->reached = true;
    printf("reach %s %s via=%s%s%s rtt_ms=%llu\n", rn_ids[h->self].name, rn_ids[j].name,
           way_name(w), w->kind == RN_WAY_RELAY ? ":" : "",
           w->kind == RN_WAY_RELAY ? rn_ids[w->relay].name : "",
           (unsigned long long)(rn_now_ms() - w->q_sent));
    bool all = true;
    for (int k = 0; k < RN_N; k++)
        all = all && (!must_reach(h, k) || h->way[k].reached);
    if (all && !h->all_reached) {
        h->all_reached = true;
        printf("reach-all %s ok after_ms=%llu\n", rn_ids[h->self].name,
               (unsigned long long)(rn_now_ms() - h->start_ms));
    }
}

/* ---- receiving ------------------------------------------------------------- */

static void on_hello(struct rn_host *h, int j, const uint8_t *m, size_t len)
{
    char ip[64];
    uint16_t port;
    uint8_t r[1 + 8 + 1 + 80];
    if (len != 9 || veil_embed_peer_endpoint(h->e, rn_ids[j].pk, ip, sizeof ip, &port, NULL) != 0)
        return;
    int n = snprintf((char *)r + 10, 80, "%s:%u", ip, port);
    if (n <= 0 || n >= 64)
        return;
    r[0] = 'R';
    memcpy(r + 1, m + 1, 8);
    r[9] = (uint8_t)n;
    rn_delay_send(&h->dl, h->self, j, r, 10 + (size_t)n);
}

/* A public member's report of where our packets came from (and an RTT). */
static void on_report(struct rn_host *h, int j, const uint8_t *m, size_t len)
{
    veil_reader rd;
    veil_reader_init(&rd, m + 1, len - 1);
    uint64_t t = veil_read_u64le(&rd);
    size_t n = veil_read_u8(&rd);
    const uint8_t *addr = veil_read_borrow(&rd, n);
    if (!veil_reader_ok(&rd) || !veil_reader_at_end(&rd) || n == 0 || n > 63 || !is_public(j))
        return;
    uint64_t now = rn_now_ms();
    h->link_rtt_us[j] = (uint32_t)((now > t ? now - t : 0) * 1000);
    h->seen[j].addr_len = n;
    memcpy(h->seen[j].addr, addr, n);
    h->seen_from[j] = true;
}

static void classify(struct rn_host *h)
{
    struct veil_route_reflex seen[RN_N];
    char local[64];
    size_t n = 0;
    int first = -1;
    for (int j = 0; j < RN_N; j++)
        if (h->seen_from[j]) {
            seen[n++] = h->seen[j];
            first = first < 0 ? j : first;
        }
    if (n < 2 || h->nat != VEIL_ROUTE_NAT_UNKNOWN)
        return;
    snprintf(local, sizeof local, "%s:%d", rn_ids[h->self].lan_ip, RN_PORT);
    h->nat = veil_route_nat_classify((const uint8_t *)local, strlen(local), seen, n);
    memcpy(h->addr, h->seen[first].addr, h->seen[first].addr_len);
    h->addr[h->seen[first].addr_len] = '\0';
    static const char *const names[] = {"none", "cone", "symmetric", "unknown"};
    printf("nat %s %s addr=%s\n", rn_ids[h->self].name, names[h->nat], h->addr);
}

/* An application message from j (directly, or delivered by our relay layer). */
static void on_app(struct rn_host *h, int j, const uint8_t *m, size_t len)
{
    uint8_t r[5];
    if (j < 0 || len < 1)
        return;
    if (m[0] == 'H')
        on_hello(h, j, m, len);
    else if (m[0] == 'R')
        on_report(h, j, m, len);
    else if (m[0] == 'A')
        on_answer(h, j, m, len);
    else if ((m[0] == 'p' || m[0] == 'a') && h->x)
        rn_xfer_on_reply(h, m, len);
    if ((m[0] == 'Q' || m[0] == 'P' || m[0] == 'd') && len >= 5) {
        r[0] = m[0] == 'Q' ? 'A' : m[0] == 'P' ? 'p' : 'a';
        memcpy(r + 1, m + 1, 4);
        (void)rn_send_app(h, j, r, sizeof r); /* on our own way back */
    }
}

/* A transfer cell (an application datagram, so that it takes the
 * user-space delays): the relay here peels it and forwards it, or delivers. */
static void on_cell(struct rn_host *h, const uint8_t from[32], const uint8_t *buf, size_t n)
{
    static uint8_t out[2048];
    struct veil_route_action act;
    h->cells_in++;
    if (veil_route_relay_handle(&h->relay, from, buf, n, rn_now_ms(), out, sizeof out, &act,
                                NULL) != 0)
        return;
    if (act.deliver) {
        h->delivered++;
        if (act.out_len > 0)
            on_app(h, rn_index(act.peer), out, act.out_len);
        return;
    }
    h->relayed++;
    h->marker_hits += rn_has_marker(buf, n) + rn_has_marker(out, act.out_len);
    rn_delay_send(&h->dl, h->self, rn_index(act.peer), out, act.out_len);
}

static void on_signal(struct rn_host *h, int j, const struct veil_route_signal *s)
{
    struct rn_way *w = &h->way[j];
    uint64_t now = rn_now_ms();
    h->signals_in++;
    if (s->type == VEIL_ROUTE_SIG_RELAY_ASK) {
        rn_signal(h, j, is_public(h->self) ? VEIL_ROUTE_SIG_RELAY_OK : VEIL_ROUTE_SIG_RELAY_NO,
                  s->nonce, 0);
    } else if (s->type == VEIL_ROUTE_SIG_RELAY_OK) {
        h->relay_ok[j] = true;
    } else if (s->type == VEIL_ROUTE_SIG_PUNCH_OFFER && h->nat == VEIL_ROUTE_NAT_CONE &&
               add_peer_at(h, j, s->addr, s->addr_len) == 0) {
        w->kind = RN_WAY_PUNCH;
        w->punch_at = s->at_ms > now ? s->at_ms : now;
        rn_signal(h, j, VEIL_ROUTE_SIG_PUNCH_ANSWER, s->nonce, w->punch_at);
    } else if (s->type == VEIL_ROUTE_SIG_PUNCH_ANSWER && s->nonce == w->nonce && w->punch_at == 0 &&
               add_peer_at(h, j, s->addr, s->addr_len) == 0) {
        w->punch_at = s->at_ms;
    }
}

/* veil.acme.topo.<node> or veil.acme.path.<self>.<src>: the codecs decide. */
static void on_nats(struct rn_host *h, const struct rn_nmsg *m)
{
    char kind[8], a[32], b[32];
    static struct veil_route_topo t;
    struct veil_route_signal s;
    int n =
        sscanf(m->subject, "veil." RN_REALM ".%7[a-z].%31[A-Za-z0-9].%31[A-Za-z0-9]", kind, a, b);
    int ia = n >= 2 ? rn_by_name(a) : -1;
    if (ia < 0)
        return;
    if (n == 2 && strcmp(kind, "topo") == 0 &&
        veil_route_topo_decode(&t, m->data, m->len, NULL) == 0 &&
        memcmp(t.node, rn_ids[ia].pk, 32) == 0 && (!h->have_topo[ia] || t.seq > h->topo[ia].seq)) {
        h->topo[ia] = t;
        h->have_topo[ia] = true;
        h->topo_in++;
        return;
    }
    int ib = n == 3 ? rn_by_name(b) : -1;
    if (ib >= 0 && ia == h->self && strcmp(kind, "path") == 0 &&
        veil_route_signal_decode(&s, m->data, m->len, NULL) == 0 &&
        memcmp(s.src, rn_ids[ib].pk, 32) == 0 && memcmp(s.dst, rn_ids[ia].pk, 32) == 0)
        on_signal(h, ib, &s);
}

/* ---- the loop -------------------------------------------------------------- */

static void timers(struct rn_host *h, uint64_t now)
{
    if (now - h->last_hello >= 500 && h->self != RN_T) {
        uint8_t m[9] = {'H'};
        h->last_hello = now;
        memcpy(m + 1, &now, 8);
        for (int j = 0; j < RN_N; j++)
            if (j != h->self && j != RN_T && is_public(j))
                rn_delay_send(&h->dl, h->self, j, m, sizeof m);
    }
    classify(h);
    if (now - h->last_topo >= 1000 && (h->nat != VEIL_ROUTE_NAT_UNKNOWN || h->self == RN_T)) {
        h->last_topo = now;
        publish_topo(h);
    }
    (void)veil_route_relay_expire(&h->relay, now);
    struct veil_route_carrier_stats cs;
    veil_route_carrier_get_stats(h->car, &cs);
    if (cs.forwarded != h->car_forwarded && now - h->last_car_print >= 1000) {
        h->car_forwarded = cs.forwarded, h->last_car_print = now;
        printf("carrier %s forwarded=%llu refused=%llu\n", rn_ids[h->self].name,
               (unsigned long long)cs.forwarded, (unsigned long long)cs.refused);
    }
}

void rn_step(struct rn_host *h, int wait_ms)
{
    uint8_t buf[2048], from[32];
    struct rn_nmsg m;
    long n = veil_embed_recv(h->e, from, buf, sizeof buf, wait_ms, NULL);
    if (n > 0 && (buf[0] == VEIL_ROUTE_CELL_SETUP || buf[0] == VEIL_ROUTE_CELL_DATA))
        on_cell(h, from, buf, (size_t)n);
    else if (n > 0)
        on_app(h, rn_index(from), buf, (size_t)n);
    while ((n = veil_route_carrier_recv(h->car, from, buf, sizeof buf, 0, NULL)) > 0)
        on_app(h, rn_index(from), buf, (size_t)n); /* delivered by the reach phase's paths */
    while (rn_natsq_pop(&h->nq, &m))
        on_nats(h, &m);
    uint64_t now = rn_now_ms();
    timers(h, now);
    reach_tick(h, now);
    rn_delay_flush(&h->dl, h->e);
}

/* The agent on UDP 5000, the public members declared (the realm's bootstrap). */
static int agent_start(struct rn_host *h)
{
    struct veil_anchor_config cfg;
    struct veil_anchor_local local = {.cred = rn_ids[h->self].cred,
                                      .cred_len = rn_ids[h->self].cred_len,
                                      .verify = anchor_test_cred_verify,
                                      .verify_ctx = rn_guardian_pk};
    veil_err err = {0};
    veil_anchor_config_default(&cfg);
    cfg.rekey_timeout_ms = 1000; /* a punch's first initiation meets a closed NAT */
    memcpy(local.identity_pk, rn_ids[h->self].pk, 32);
    memcpy(local.identity_sk, rn_ids[h->self].sk, 64);
    veil_anchor *a = veil_anchor_new(&cfg, &local, rn_now_ms(), &err);
    struct veil_embed_config ec = {.bind_ip = "0.0.0.0", .port = RN_PORT};
    if (!a || !(h->e = veil_embed_start(&ec, a, &err)))
        return fprintf(stderr, "%s: agent: %s\n", rn_ids[h->self].name, err.msg), -1;
    for (int j = 0; j < RN_N; j++)
        if (j != h->self && is_public(j) && j != RN_T) {
            char v4[32];
            snprintf(v4, sizeof v4, "10.88.0.%d", j + 1);
            if (veil_embed_add_peer(h->e, rn_ids[j].pk, v4, rn_ids[j].public_ip, RN_PORT, NULL))
                return -1;
        }
    return 0;
}

/* Master: the realm's topo summaries and the path signals addressed to us. */
static int nats_start(struct rn_host *h, const char *url)
{
    char subj[128];
    natsSubscription *s1 = NULL, *s2 = NULL;
    pthread_mutex_init(&h->nq.mu, NULL);
    snprintf(subj, sizeof subj, "veil.%s.path.%s.*", RN_REALM, rn_ids[h->self].name);
    if (natsConnection_ConnectTo(&h->nc, url) != NATS_OK ||
        natsConnection_Subscribe(&s1, h->nc, "veil." RN_REALM ".topo.*", rn_natsq_cb, &h->nq) ||
        natsConnection_Subscribe(&s2, h->nc, subj, rn_natsq_cb, &h->nq) ||
        natsConnection_Flush(h->nc) != NATS_OK)
        return fprintf(stderr, "%s: cannot use NATS at %s\n", rn_ids[h->self].name, url), -1;
    return 0;
}

static int host_start(struct rn_host *h, const char *url)
{
    struct veil_route_relay_config rc;
    veil_route_relay_config_default(&rc);
    rc.max_paths_per_prev = 32;
    if (agent_start(h) != 0 ||
        veil_route_relay_init(&h->relay, &rc, rn_ids[h->self].sk, NULL) != 0 ||
        !(h->car = veil_route_carrier_attach(h->e, &rc, rn_ids[h->self].sk, NULL)))
        return -1;
    return nats_start(h, url);
}

static void print_stats(const struct rn_host *h)
{
    printf("stats %s cells_in=%llu relayed=%llu delivered=%llu marker_hits=%llu signals=%llu "
           "topo=%llu send_failures=%llu\n",
           rn_ids[h->self].name, (unsigned long long)h->cells_in, (unsigned long long)h->relayed,
           (unsigned long long)h->delivered, (unsigned long long)h->marker_hits,
           (unsigned long long)h->signals_in, (unsigned long long)h->topo_in,
           (unsigned long long)h->dl.send_failures);
}

int main(int argc, char **argv)
{
    static struct rn_host h;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3 || (h.self = rn_by_name(argv[1])) < 0) {
        fprintf(stderr, "usage: route_net_node NAME NATS_URL [P1_PID_FILE]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    rn_idents_init();
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    h.nat = VEIL_ROUTE_NAT_UNKNOWN;
    h.start_ms = rn_now_ms();
    if (host_start(&h, argv[2]) != 0)
        return 1;
    int rc = 0;
    while (!g_stop && !(h.self == RN_SRC && h.all_reached))
        rn_step(&h, 1);
    if (h.self == RN_SRC && !g_stop)
        rc = rn_xfer_run(&h, argc > 3 ? argv[3] : NULL);
    while (!g_stop)
        rn_step(&h, 1);
    print_stats(&h);
    for (int j = 0; j < RN_N; j++)
        veil_route_onion_wipe(&h.way[j].onion);
    veil_route_relay_wipe(&h.relay);
    natsConnection_Destroy(h.nc);
    veil_embed_stop(h.e);
    veil_route_carrier_free(h.car); /* after its agent stopped */
    return rc;
}
