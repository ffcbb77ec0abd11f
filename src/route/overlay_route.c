// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_route.c - VeilNet routing on the TUN overlay (the
 * `veil_route_overlay` of include/veil/route.h): the routing host that
 * `veil conflux up --tun` runs. Per member: a path selector over the direct
 * path and "via R" for willing members whose summaries report a live link
 * to it; probes (overlay kind 2) over the direct sessions, which also bring
 * back the reflexive address each member sees (NAT classification); onion
 * paths built through the chosen relay, the overlay's egress hook wrapping
 * the destination's TUN packets into DATA cells (kind 1); the node's own
 * relay, peeling one layer of every cell it receives and forwarding it, or
 * delivering the packet when it is the destination. State behind one mutex;
 * overlay calls are made with it held (the overlay calls the hooks without
 * its own lock, so the order is always this one, then the overlay's).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "veil/route.h"

#define PENDING_MAX 256
/* Selector path ids: 0 direct, i + 1 "via member i", PATH_TWO + i * MEMBERS
 * + j "via member i then member j". */
#define PATH_DIRECT 0u
#define PATH_TWO    (1u + VEIL_ROUTE_OVERLAY_MEMBERS_MAX)
/* A relayed path's estimate carries this much on top of its RTTs, so a
 * working direct path wins over near-equal relayed ones (it costs no
 * member's bandwidth) and the switch clears the selector's hysteresis. */
#define RELAY_PENALTY_US 5000
/* Relays are considered for a member only after its direct path had this
 * long to answer: a direct path that works is taken from the start. */
#define DIRECT_FIRST_MS 1000
#define PUNCH_DELAY_MS  400  /* an offer's at_ms: time for the answer through Master */
#define PUNCH_RETRY_MS  5000 /* between two offers to one member */
#define PUNCH_PROBE_MS  3000 /* direct probes every tick this long after a punch */
#define SIGNALS_MAX     32
#define TWO_RELAY_MS    1000 /* two-relay candidates looked for at most this often */

struct member {
    bool used;
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    struct veil_route_sel sel;
    /* the direct link, as this node measures it */
    uint64_t link_rtt_us, link_ack_ms;
    struct veil_route_reflex reflex; /* where this member sees us */
    /* its summary */
    bool has_summary;
    uint64_t summary_ms;
    struct veil_route_topo summary;
    uint64_t added_ms, two_relay_ms;
    /* hole punching */
    uint64_t punch_try_ms, punch_at, punch_probe_until;
    bool punch_pending;
    struct veil_route_reflex punch_addr;
    /* the path in use to it */
    int via, via2; /* -1 direct, else the relays' member indices (via2 -1: one relay) */
    bool onion_on;
    uint64_t onion_ms;
    struct veil_route_onion onion;
};

struct pending {
    bool used;
    uint64_t nonce, sent_ms;
    int dst;       /* member index whose selector asked */
    uint32_t path; /* its path id */
    int to;        /* member index probed */
};

struct veil_route_overlay {
    pthread_mutex_t mu;
    veil_overlay *o;
    struct veil_route_overlay_config cfg;
    uint8_t self[VEIL_ANCHOR_KEY_BYTES];
    uint8_t ed_sk[64]; /* the node's key: signs as the source of its paths (wiped) */
    uint8_t local[VEIL_ANCHOR_ADDR_MAX];
    size_t local_len;
    struct veil_route_relay relay;
    struct member m[VEIL_ROUTE_OVERLAY_MEMBERS_MAX];
    struct pending pend[PENDING_MAX];
    uint64_t last_expire, now;
    struct veil_route_overlay_stats st;
    struct veil_route_reflex self_reflex;      /* what members last reported */
    struct veil_route_signal sig[SIGNALS_MAX]; /* to publish */
    size_t n_sig;
    uint8_t cell[1 + VEIL_ROUTE_CELL_MAX]; /* one cell at a time, under mu */
};

static int member_of(const veil_route_overlay *r, const uint8_t *id)
{
    for (int i = 0; i < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; i++)
        if (r->m[i].used && memcmp(r->m[i].id, id, VEIL_ANCHOR_KEY_BYTES) == 0)
            return i;
    return -1;
}

static bool fresh(const veil_route_overlay *r, uint64_t t)
{
    return t != 0 && t + r->cfg.fresh_ms >= r->now; /* t may be ahead of r->now */
}

/* Takes the lock and moves the host's clock to now_ms (never back). */
static void lock_at(veil_route_overlay *r, uint64_t now_ms)
{
    pthread_mutex_lock(&r->mu);
    if (now_ms > r->now)
        r->now = now_ms;
}

/* The relays of selector path `id` (member indices; -1 none): how many. */
static int path_relays(uint32_t id, int *r1, int *r2)
{
    *r1 = *r2 = -1;
    if (id == PATH_DIRECT)
        return 0;
    if (id < PATH_TWO) {
        *r1 = (int)id - 1;
        return 1;
    }
    *r1 = (int)((id - PATH_TWO) / VEIL_ROUTE_OVERLAY_MEMBERS_MAX);
    *r2 = (int)((id - PATH_TWO) % VEIL_ROUTE_OVERLAY_MEMBERS_MAX);
    return 2;
}

static uint32_t path_two(int r1, int r2)
{
    return PATH_TWO + (uint32_t)r1 * VEIL_ROUTE_OVERLAY_MEMBERS_MAX + (uint32_t)r2;
}

/* Member `rel`'s fresh summary, if it relays; NULL otherwise. */
static const struct veil_route_topo *relay_summary(const veil_route_overlay *r, int rel)
{
    const struct member *m = &r->m[rel];
    return m->used && m->has_summary && m->summary.relay_willing && fresh(r, m->summary_ms)
               ? &m->summary
               : NULL;
}

/* The link member `rel`'s fresh summary reports to `to` (it relays), or NULL. */
static const struct veil_route_link *relay_link(const veil_route_overlay *r, int rel, int to)
{
    const struct veil_route_topo *t = relay_summary(r, rel);
    const struct veil_route_link *l = t ? veil_route_topo_link(t, r->m[to].id) : NULL;
    return l && l->loss_ppm < 1000000 ? l : NULL;
}

/* ---- probes ---- */

/* Calls whose refusal is only counted (the selector's bad ids, sends the
 * state machine refused: lost, as on a link). */
static void report(veil_route_overlay *r, int dst, uint32_t path, bool ok, uint64_t rtt_us)
{
    if (veil_route_sel_report(&r->m[dst].sel, path, ok, rtt_us, r->now, NULL) != 0)
        r->st.errors++;
}

static bool send_kind(veil_route_overlay *r, const uint8_t *to, const uint8_t *msg, size_t len)
{
    if (veil_overlay_send_kind(r->o, to, msg, len, NULL) == 0)
        return true;
    r->st.send_failed++;
    return false;
}

static void set_relayed(veil_route_overlay *r, const uint8_t *id, bool on)
{
    if (veil_overlay_set_relayed(r->o, id, on, NULL) != 0)
        r->st.errors++;
}

static void send_probe(veil_route_overlay *r, int dst, uint32_t path)
{
    int r1, r2;
    int to = path_relays(path, &r1, &r2) == 0 ? dst : r1;
    struct pending *p = &r->pend[r->st.probes_sent % PENDING_MAX];
    if (p->used) { /* the oldest still pending is long past its timeout */
        p->used = false;
        r->st.probes_lost++;
        report(r, p->dst, p->path, false, 0);
    }
    struct veil_route_probe ask = {.type = VEIL_ROUTE_PROBE_ASK};
    uint8_t msg[VEIL_ROUTE_PROBE_MAX_BYTES];
    size_t len;
    *p = (struct pending){true, 0, r->now, dst, path, to};
    randombytes_buf(&p->nonce, sizeof p->nonce);
    ask.nonce = p->nonce;
    r->st.probes_sent++;
    if (veil_route_probe_encode(&ask, msg, sizeof msg, &len, NULL) == 0)
        (void)send_kind(r, r->m[to].id, msg, len); /* unsent: its timeout counts a loss */
}

/* The sample a probe answered by `to` gives its path (mu held): the own
 * RTT to the first hop plus the summarized RTTs of the relays' links. */
static bool path_sample(const veil_route_overlay *r, const struct pending *p, uint64_t rtt_us,
                        uint64_t *out)
{
    int r1, r2, n = path_relays(p->path, &r1, &r2);
    const struct veil_route_link *l1 = n ? relay_link(r, r1, n == 2 ? r2 : p->dst) : NULL;
    const struct veil_route_link *l2 = n == 2 ? relay_link(r, r2, p->dst) : NULL;
    if ((n >= 1 && !l1) || (n == 2 && !l2))
        return false;
    *out = rtt_us + (l1 ? l1->rtt_us : 0) + (l2 ? l2->rtt_us : 0) + (uint64_t)n * RELAY_PENALTY_US;
    return true;
}

static void on_answer(veil_route_overlay *r, int from, const struct veil_route_probe *ans)
{
    for (size_t i = 0; i < PENDING_MAX; i++) {
        struct pending *p = &r->pend[i];
        if (!p->used || p->nonce != ans->nonce || p->to != from)
            continue;
        p->used = false;
        uint64_t rtt = (r->now - p->sent_ms) * 1000 + 500, sample;
        struct member *m = &r->m[from];
        m->link_rtt_us = m->link_ack_ms ? (3 * m->link_rtt_us + rtt) / 4 : rtt;
        m->link_ack_ms = r->now;
        m->reflex.addr_len = ans->addr_len;
        memcpy(m->reflex.addr, ans->addr, ans->addr_len);
        bool ok = path_sample(r, p, rtt, &sample);
        report(r, p->dst, p->path, ok, ok ? sample : 0);
        r->st.probes_answered++;
        return;
    }
}

static void on_probe(veil_route_overlay *r, const uint8_t *from, const uint8_t *msg, size_t len)
{
    struct veil_route_probe p;
    uint8_t out[VEIL_ROUTE_PROBE_MAX_BYTES];
    size_t n;
    if (veil_route_probe_decode(&p, msg, len, NULL) != 0) {
        r->st.errors++;
        return;
    }
    if (p.type == VEIL_ROUTE_PROBE_ASK) {
        p.type = VEIL_ROUTE_PROBE_ANSWER;
        p.addr_len = veil_overlay_peer_endpoint(r->o, from, p.addr);
        if (veil_route_probe_encode(&p, out, sizeof out, &n, NULL) == 0)
            (void)send_kind(r, from, out, n);
        return;
    }
    int m = member_of(r, from);
    if (m >= 0)
        on_answer(r, m, &p);
}

static void expire_probes(veil_route_overlay *r)
{
    for (size_t i = 0; i < PENDING_MAX; i++) {
        struct pending *p = &r->pend[i];
        if (!p->used || r->now - p->sent_ms < r->cfg.probe_timeout_ms)
            continue;
        p->used = false;
        r->st.probes_lost++;
        report(r, p->dst, p->path, false, 0);
    }
}

/* ---- cells ---- */

static void on_cell(veil_route_overlay *r, const uint8_t *from, const uint8_t *msg, size_t len)
{
    struct veil_route_action act;
    if (r->now - r->last_expire >= 1000) {
        r->last_expire = r->now;
        (void)veil_route_relay_expire(&r->relay, r->now);
    }
    if (veil_route_relay_handle(&r->relay, from, msg + 1, len - 1, r->now, r->cell + 1,
                                sizeof r->cell - 1, &act, NULL) != 0) {
        r->st.cells_refused++;
        return;
    }
    if (act.deliver && act.out_len > 0) {
        if (veil_overlay_deliver(r->o, act.peer, r->cell + 1, act.out_len, NULL) == 0)
            r->st.cells_delivered++;
    } else if (!act.deliver) {
        r->cell[0] = VEIL_OVERLAY_KIND_CELL;
        if (send_kind(r, act.peer, r->cell, act.out_len + 1))
            r->st.cells_forwarded++;
    }
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The overlay's kind hook (one of its threads). */
static void on_kind(void *ctx, veil_overlay *o, const uint8_t from[VEIL_ANCHOR_KEY_BYTES],
                    const uint8_t *msg, size_t len)
{
    (void)o;
    veil_route_overlay *r = ctx;
    lock_at(r, wall_ms());
    if (msg[0] == VEIL_OVERLAY_KIND_PROBE)
        on_probe(r, from, msg, len);
    else if (msg[0] == VEIL_OVERLAY_KIND_CELL && len > 1)
        on_cell(r, from, msg, len);
    pthread_mutex_unlock(&r->mu);
}

/* The overlay's egress hook (its TUN thread): a packet for a relayed member. */
static void on_egress(void *ctx, veil_overlay *o, const uint8_t dst[VEIL_ANCHOR_KEY_BYTES],
                      const uint8_t *pkt, size_t len)
{
    veil_route_overlay *r = ctx;
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    int i = member_of(r, dst);
    struct member *m = i >= 0 ? &r->m[i] : NULL;
    if (m && m->onion_on &&
        veil_route_onion_wrap(&m->onion, pkt, len, r->cell + 1, sizeof r->cell - 1, &n, NULL) ==
            0) {
        r->cell[0] = VEIL_OVERLAY_KIND_CELL;
        (void)o;
        if (send_kind(r, m->onion.first_hop, r->cell, n + 1))
            r->st.cells_sent++;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- hole punching ---- */

static bool direct_alive(const struct member *m)
{
    for (int i = 0; i < VEIL_ROUTE_PATHS_MAX; i++)
        if (m->sel.paths[i].used && m->sel.paths[i].id == PATH_DIRECT)
            return m->sel.paths[i].alive;
    return false;
}

static void queue_signal(veil_route_overlay *r, enum veil_route_signal_type type,
                         const struct member *m, uint64_t nonce, uint64_t at_ms)
{
    if (r->n_sig == SIGNALS_MAX)
        return; /* the host is not draining: retried later */
    struct veil_route_signal *s = &r->sig[r->n_sig++];
    memset(s, 0, sizeof *s);
    s->type = type;
    memcpy(s->src, r->self, VEIL_ANCHOR_KEY_BYTES);
    memcpy(s->dst, m->id, VEIL_ANCHOR_KEY_BYTES);
    s->nonce = nonce;
    s->at_ms = at_ms;
    s->nat = r->st.nat;
    s->addr_len = r->self_reflex.addr_len;
    memcpy(s->addr, r->self_reflex.addr, s->addr_len);
}

static void schedule_punch(struct member *m, uint64_t at_ms, const uint8_t *addr, size_t len)
{
    m->punch_pending = true;
    m->punch_at = at_ms;
    m->punch_addr.addr_len = len;
    memcpy(m->punch_addr.addr, addr, len);
}

/* Both behind cone NATs and no direct path: the smaller identity offers
 * (crossing offers would punch twice). */
static void maybe_offer(veil_route_overlay *r, struct member *m)
{
    if (!m->has_summary || !fresh(r, m->summary_ms) || direct_alive(m) ||
        r->now < m->added_ms + DIRECT_FIRST_MS || r->now < m->punch_try_ms + PUNCH_RETRY_MS ||
        r->self_reflex.addr_len == 0 || m->summary.addr_len == 0 ||
        veil_route_nat_plan(r->st.nat, m->summary.nat) != VEIL_ROUTE_PLAN_PUNCH ||
        memcmp(r->self, m->id, VEIL_ANCHOR_KEY_BYTES) > 0)
        return;
    uint64_t nonce;
    randombytes_buf(&nonce, sizeof nonce);
    m->punch_try_ms = r->now;
    queue_signal(r, VEIL_ROUTE_SIG_PUNCH_OFFER, m, nonce, r->now + PUNCH_DELAY_MS);
    r->st.punch_offers++;
}

static void punch_due(veil_route_overlay *r, int d)
{
    struct member *m = &r->m[d];
    if (m->punch_pending && r->now >= m->punch_at) {
        m->punch_pending = false;
        m->punch_probe_until = r->now + PUNCH_PROBE_MS;
        if (veil_overlay_punch(r->o, m->id, m->punch_addr.addr, m->punch_addr.addr_len, NULL) == 0)
            r->st.punches++;
        else
            r->st.errors++;
    }
    if (r->now < m->punch_probe_until && !direct_alive(m))
        send_probe(r, d, PATH_DIRECT); /* answered once the punched session is up */
}

int veil_route_overlay_on_signal(veil_route_overlay *r, const struct veil_route_signal *s,
                                 uint64_t now_ms, veil_err *err)
{
    lock_at(r, now_ms);
    int i = member_of(r, s->src), rc = 0;
    struct member *m = i >= 0 ? &r->m[i] : NULL;
    if (!m || memcmp(s->dst, r->self, VEIL_ANCHOR_KEY_BYTES) != 0)
        rc = veil_err_set(err, VEIL_E_NOTFOUND, "route overlay: a signal not between members");
    else if (s->addr_len == 0 || s->at_ms > r->now + 10000)
        rc = veil_err_set(err, VEIL_E_INVALID, "route overlay: a signal without address or late");
    if (rc == 0 && s->type == VEIL_ROUTE_SIG_PUNCH_OFFER && r->self_reflex.addr_len > 0 &&
        veil_route_nat_plan(r->st.nat, s->nat) == VEIL_ROUTE_PLAN_PUNCH) {
        m->punch_try_ms = r->now;
        queue_signal(r, VEIL_ROUTE_SIG_PUNCH_ANSWER, m, s->nonce, s->at_ms);
        r->st.punch_answers++;
        schedule_punch(m, s->at_ms, s->addr, s->addr_len);
    } else if (rc == 0 && s->type == VEIL_ROUTE_SIG_PUNCH_ANSWER) {
        schedule_punch(m, s->at_ms, s->addr, s->addr_len);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

size_t veil_route_overlay_signals(veil_route_overlay *r, struct veil_route_signal *out, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_sig < cap ? r->n_sig : cap;
    memcpy(out, r->sig, n * sizeof *out);
    memmove(r->sig, r->sig + n, (r->n_sig - n) * sizeof *out);
    r->n_sig -= n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- choosing and building ---- */

static void add_candidate(veil_route_overlay *r, struct member *dst, uint32_t id, uint64_t prior)
{
    if (veil_route_sel_cost(&dst->sel, id) == UINT64_MAX &&
        veil_route_sel_add(&dst->sel, id, prior, r->now, NULL) == 0)
        r->st.candidates++;
}

/* "Via R then R2" for member d, when no single relay reaches it (mu held):
 * R is a relay this node has a fresh link to, whose summary reports a link
 * to R2, whose summary reports a link to d. */
static void add_two_relay_candidates(veil_route_overlay *r, int d)
{
    for (int i = 0; i < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; i++) {
        if (i == d || !relay_summary(r, i) || !fresh(r, r->m[i].link_ack_ms))
            continue;
        for (int j = 0; j < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; j++) {
            const struct veil_route_link *l1 = j != i && j != d ? relay_link(r, i, j) : NULL;
            const struct veil_route_link *l2 = l1 ? relay_link(r, j, d) : NULL;
            if (l2)
                add_candidate(r, &r->m[d], path_two(i, j),
                              r->m[i].link_rtt_us + l1->rtt_us + l2->rtt_us +
                                  2 * RELAY_PENALTY_US);
        }
    }
}

/* Relays with a fresh summary reporting a link to member d become its
 * candidates, seeded by the composed RTT; paths through two relays when
 * none of them is one this node reaches (mu held). */
static void add_candidates(veil_route_overlay *r, int d)
{
    struct member *dst = &r->m[d];
    if (r->now < dst->added_ms + DIRECT_FIRST_MS)
        return;
    bool reached = false;
    for (int i = 0; i < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; i++) {
        const struct veil_route_link *l = i != d ? relay_link(r, i, d) : NULL;
        if (!l)
            continue;
        bool own = fresh(r, r->m[i].link_ack_ms);
        reached |= own;
        add_candidate(r, dst, (uint32_t)i + 1,
                      own ? r->m[i].link_rtt_us + l->rtt_us + RELAY_PENALTY_US : 0);
    }
    if (!reached && r->now >= dst->two_relay_ms + TWO_RELAY_MS) {
        dst->two_relay_ms = r->now; /* O(members^2): not every tick */
        add_two_relay_candidates(r, d);
    }
}

static void use_direct(veil_route_overlay *r, struct member *m)
{
    if (m->via >= 0)
        r->st.switches++;
    m->via = m->via2 = -1;
    if (m->onion_on)
        veil_route_onion_wipe(&m->onion);
    m->onion_on = false;
    set_relayed(r, m->id, false);
}

/* A fresh onion path to m through member `via` (then `via2`, if >= 0; mu
 * held). */
static void build_path(veil_route_overlay *r, struct member *m, int via, int via2)
{
    struct veil_route_hop hops[3];
    size_t n = 0;
    struct veil_route_limits lim = {
        .max_bytes = 1ull << 36, .rate_bytes_s = 1u << 30, .idle_ms = r->cfg.rebuild_ms + 5000};
    memcpy(hops[n++].identity, r->m[via].id, VEIL_ANCHOR_KEY_BYTES);
    if (via2 >= 0)
        memcpy(hops[n++].identity, r->m[via2].id, VEIL_ANCHOR_KEY_BYTES);
    memcpy(hops[n++].identity, m->id, VEIL_ANCHOR_KEY_BYTES);
    if (m->onion_on)
        veil_route_onion_wipe(&m->onion);
    m->onion_on = false;
    if (veil_route_onion_build(&m->onion, r->ed_sk, hops, n, &lim, r->cell + 1, NULL) != 0)
        return;
    r->cell[0] = VEIL_OVERLAY_KIND_CELL;
    if (!send_kind(r, hops[0].identity, r->cell, VEIL_ROUTE_SETUP_BYTES + 1))
        return;
    if (m->via != via || m->via2 != via2)
        r->st.switches++;
    m->via = via;
    m->via2 = via2;
    m->onion_on = true;
    m->onion_ms = r->now;
    r->st.paths_built++;
    set_relayed(r, m->id, true);
}

static void choose(veil_route_overlay *r, struct member *m)
{
    uint32_t id;
    int via, via2;
    if (veil_route_sel_current(&m->sel, &id, NULL) != 0 || path_relays(id, &via, &via2) == 0) {
        if (m->via >= 0 || m->onion_on)
            use_direct(r, m);
        return;
    }
    if (via != m->via || via2 != m->via2 || !m->onion_on ||
        r->now - m->onion_ms >= r->cfg.rebuild_ms)
        build_path(r, m, via, via2);
}

void veil_route_overlay_tick(veil_route_overlay *r, uint64_t now_ms)
{
    uint32_t due[VEIL_ROUTE_PATHS_MAX];
    lock_at(r, now_ms);
    expire_probes(r);
    r->st.relayed_dsts = 0;
    for (int d = 0; d < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; d++) {
        struct member *m = &r->m[d];
        if (!m->used)
            continue;
        add_candidates(r, d);
        maybe_offer(r, m);
        punch_due(r, d);
        size_t n = veil_route_sel_due(&m->sel, r->now, due, VEIL_ROUTE_PATHS_MAX);
        for (size_t k = 0; k < n; k++) {
            int r1, r2;
            if (path_relays(due[k], &r1, &r2) == 0 || r->m[r1].used)
                send_probe(r, d, due[k]);
        }
        choose(r, m);
        r->st.relayed_dsts += m->via >= 0;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- members and summaries ---- */

int veil_route_overlay_add_member(veil_route_overlay *r, const uint8_t id[VEIL_ANCHOR_KEY_BYTES],
                                  uint64_t now_ms, veil_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    int free_slot = -1;
    for (int i = VEIL_ROUTE_OVERLAY_MEMBERS_MAX - 1; i >= 0; i--)
        if (!r->m[i].used)
            free_slot = i;
    if (member_of(r, id) >= 0 || memcmp(id, r->self, VEIL_ANCHOR_KEY_BYTES) == 0) {
        rc = 0;
    } else if (free_slot < 0) {
        rc = veil_err_set(err, VEIL_E_LIMIT, "route overlay: more than %d members",
                          VEIL_ROUTE_OVERLAY_MEMBERS_MAX);
    } else {
        struct member *m = &r->m[free_slot];
        memset(m, 0, sizeof *m);
        m->used = true;
        m->via = m->via2 = -1;
        m->added_ms = now_ms;
        memcpy(m->id, id, VEIL_ANCHOR_KEY_BYTES);
        rc = veil_route_sel_init(&m->sel, NULL, err);
        if (rc == 0)
            rc = veil_route_sel_add(&m->sel, PATH_DIRECT, 0, now_ms, err);
        m->used = rc == 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* Removes m's candidate paths through member `gone` (mu held). */
static void drop_paths_through(veil_route_overlay *r, struct member *m, int gone)
{
    for (int k = 0; k < VEIL_ROUTE_PATHS_MAX; k++) {
        int r1, r2;
        uint32_t id = m->sel.paths[k].id;
        if (m->sel.paths[k].used && path_relays(id, &r1, &r2) > 0 && (r1 == gone || r2 == gone) &&
            veil_route_sel_remove(&m->sel, id, NULL) != 0)
            r->st.errors++;
    }
}

void veil_route_overlay_remove_member(veil_route_overlay *r,
                                      const uint8_t id[VEIL_ANCHOR_KEY_BYTES])
{
    pthread_mutex_lock(&r->mu);
    int i = member_of(r, id);
    if (i >= 0) {
        veil_route_onion_wipe(&r->m[i].onion);
        r->m[i].used = false;
        for (int d = 0; d < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; d++)
            if (r->m[d].used)
                drop_paths_through(r, &r->m[d], i);
        for (int d = 0; d < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; d++)
            if (r->m[d].used && (r->m[d].via == i || r->m[d].via2 == i))
                use_direct(r, &r->m[d]);
        for (size_t k = 0; k < PENDING_MAX; k++)
            if (r->pend[k].dst == i || r->pend[k].to == i)
                r->pend[k].used = false;
    }
    pthread_mutex_unlock(&r->mu);
}

int veil_route_overlay_apply_summary(veil_route_overlay *r, const struct veil_route_topo *t,
                                     uint64_t now_ms, veil_err *err)
{
    lock_at(r, now_ms);
    int i = member_of(r, t->node);
    struct member *m = i >= 0 ? &r->m[i] : NULL;
    int rc = 0;
    if (!m)
        rc = veil_err_set(err, VEIL_E_NOTFOUND, "route overlay: summary of an unknown member");
    else if (m->has_summary && t->seq < m->summary.seq)
        rc = veil_err_set(err, VEIL_E_STATE, "route overlay: summary older than the last");
    if (rc == 0 && m->has_summary && t->seq == m->summary.seq) {
        pthread_mutex_unlock(&r->mu); /* the same one again (each beacon): not fresher */
        return 0;
    }
    if (rc == 0) {
        m->summary = *t;
        m->has_summary = true;
        m->summary_ms = r->now;
        r->st.summaries_applied++;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int cmp_link(const void *a, const void *b)
{
    return memcmp(((const struct veil_route_link *)a)->peer,
                  ((const struct veil_route_link *)b)->peer, VEIL_ANCHOR_KEY_BYTES);
}

/* NAT class from the reflexive addresses fresh members report (mu held). */
static enum veil_route_nat classify(veil_route_overlay *r, struct veil_route_reflex *first)
{
    struct veil_route_reflex seen[VEIL_ROUTE_OVERLAY_MEMBERS_MAX];
    size_t n = 0;
    for (int i = 0; i < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; i++)
        if (r->m[i].used && fresh(r, r->m[i].link_ack_ms) && r->m[i].reflex.addr_len > 0)
            seen[n++] = r->m[i].reflex;
    first->addr_len = 0;
    if (n > 0)
        *first = seen[0];
    r->self_reflex = *first;
    return veil_route_nat_classify(r->local, r->local_len, seen, n);
}

int veil_route_overlay_summary(veil_route_overlay *r, const uint8_t self[VEIL_ANCHOR_KEY_BYTES],
                               uint64_t now_ms, veil_buf *out, veil_err *err)
{
    struct veil_route_topo *t = calloc(1, sizeof *t);
    struct veil_route_reflex first;
    if (!t)
        return veil_err_set(err, VEIL_E_NOMEM, "route overlay: out of memory");
    memcpy(t->node, self, VEIL_ANCHOR_KEY_BYTES);
    t->seq = now_ms;
    pthread_mutex_lock(&r->mu);
    t->relay_willing = r->cfg.relay_willing;
    t->nat = r->st.nat = classify(r, &first);
    t->addr_len = first.addr_len;
    memcpy(t->addr, first.addr, first.addr_len);
    for (int i = 0; i < VEIL_ROUTE_OVERLAY_MEMBERS_MAX && t->n_links < 16; i++) {
        const struct member *m = &r->m[i];
        if (!m->used || !fresh(r, m->link_ack_ms))
            continue;
        struct veil_route_link *l = &t->links[t->n_links++];
        memcpy(l->peer, m->id, VEIL_ANCHOR_KEY_BYTES);
        l->rtt_us = m->link_rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)m->link_rtt_us;
    }
    pthread_mutex_unlock(&r->mu);
    qsort(t->links, t->n_links, sizeof t->links[0], cmp_link);
    int rc = veil_route_topo_encode(t, out, err);
    free(t);
    return rc;
}

int veil_route_overlay_path(veil_route_overlay *r, const uint8_t dst[VEIL_ANCHOR_KEY_BYTES],
                            uint8_t via[2][VEIL_ANCHOR_KEY_BYTES])
{
    pthread_mutex_lock(&r->mu);
    int i = member_of(r, dst), rc = -1;
    uint32_t id;
    if (i >= 0 && veil_route_sel_current(&r->m[i].sel, &id, NULL) == 0)
        rc = r->m[i].via < 0 ? 0 : r->m[i].via2 < 0 ? 1 : 2;
    if (rc >= 1)
        memcpy(via[0], r->m[r->m[i].via].id, VEIL_ANCHOR_KEY_BYTES);
    if (rc == 2)
        memcpy(via[1], r->m[r->m[i].via2].id, VEIL_ANCHOR_KEY_BYTES);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void veil_route_overlay_get_stats(veil_route_overlay *r, struct veil_route_overlay_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}

/* ---- life cycle ---- */

veil_route_overlay *
veil_route_overlay_new(veil_overlay *o, const struct veil_route_overlay_config *cfg, veil_err *err)
{
    if (!cfg->ed_sk || cfg->local_addr_len > VEIL_ANCHOR_ADDR_MAX) {
        (void)veil_err_set(err, VEIL_E_INVALID, "route overlay: no key or a long local address");
        return NULL;
    }
    veil_route_overlay *r = calloc(1, sizeof *r);
    if (!r) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "route overlay: out of memory");
        return NULL;
    }
    struct veil_route_relay_config rc;
    veil_route_relay_config_default(&rc);
    if (veil_route_relay_init(&r->relay, &rc, cfg->ed_sk, err) != 0) {
        free(r);
        return NULL;
    }
    r->o = o;
    r->cfg = *cfg;
    r->cfg.ed_sk = NULL; /* kept in r->ed_sk only, wiped by _free */
    memcpy(r->ed_sk, cfg->ed_sk, sizeof r->ed_sk);
    r->cfg.probe_timeout_ms = cfg->probe_timeout_ms ? cfg->probe_timeout_ms : 300;
    r->cfg.fresh_ms = cfg->fresh_ms ? cfg->fresh_ms : 3000;
    r->cfg.rebuild_ms = cfg->rebuild_ms ? cfg->rebuild_ms : 15000;
    memcpy(r->self, cfg->ed_sk + 32, VEIL_ANCHOR_KEY_BYTES); /* libsodium: seed || public */
    r->local_len = cfg->local_addr_len;
    if (cfg->local_addr_len)
        memcpy(r->local, cfg->local_addr, cfg->local_addr_len);
    r->cfg.local_addr = NULL;
    r->st.nat = VEIL_ROUTE_NAT_UNKNOWN;
    pthread_mutex_init(&r->mu, NULL);
    veil_overlay_set_hooks(o, on_kind, on_egress, r);
    return r;
}

void veil_route_overlay_free(veil_route_overlay *r)
{
    if (!r)
        return;
    for (int i = 0; i < VEIL_ROUTE_OVERLAY_MEMBERS_MAX; i++)
        veil_route_onion_wipe(&r->m[i].onion);
    veil_route_relay_wipe(&r->relay);
    sodium_memzero(r->ed_sk, sizeof r->ed_sk);
    sodium_memzero(r->cell, sizeof r->cell);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
