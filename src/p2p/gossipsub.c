// SPDX-License-Identifier: Apache-2.0
/*
 * gossipsub.c - the gossipsub v1.1 router state machine (libp2p/specs
 * pubsub/gossipsub/gossipsub-v1.0.md and -v1.1.md): peers and their topic
 * subscriptions, the mesh (D/D_lo/D_hi/D_score/D_out), fanout, the message
 * cache and IHAVE/IWANT gossip, GRAFT/PRUNE with backoff and peer exchange,
 * the seen cache, StrictSign validation and peer scoring (P1-P4, P3b, P7 and
 * the gossip/publish/graylist/accept-PX thresholds).
 *
 * No I/O and no clock: inputs are RPC bytes with the current time, outputs
 * go through the send_rpc callback (see veil/gossipsub.h).
 */
#include "gossipsub_int.h"
#include "rpc.pb-c.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define GS_MAX_SUBS_PER_RPC 1024
#define GS_MAX_MSGS_PER_RPC 4096
#define GS_MAX_PROMISES     8192

/* Everything known about a peer on one topic. The record outlives the
 * peer's subscription so that backoffs and score counters persist. */
struct gs_peer_topic {
    char *topic;
    bool subscribed; /* the peer announced SUB */
    bool in_mesh;
    bool in_fanout;
    uint64_t backoff_until;
    uint64_t graft_time;
    double first_deliveries;
    double mesh_deliveries;
    double mesh_failure_penalty;
    double invalid_deliveries;
};

/* RPC pieces waiting to be sent to a peer (flushed at the end of each call
 * into the router, so that replies are batched into one RPC). */
struct gs_out {
    veil_buf subs; /* RPC field 1 entries */
    veil_buf msgs; /* RPC field 2 entries */
    veil_buf ctl;  /* ControlMessage fields */
};

struct gs_peer {
    uint8_t id[VEIL_GS_PEER_ID_MAX];
    size_t id_len;
    uint64_t serial;
    bool connected;
    uint64_t disconnected_at;
    enum veil_gs_peer_proto proto;
    bool outbound;
    struct gs_peer_topic *topics;
    size_t n_topics, cap_topics;
    double behaviour_penalty;
    int ihave_in;    /* IHAVEs received this heartbeat */
    int iwant_asked; /* message IDs asked for this heartbeat */
    struct gs_out out;
};

struct gs_topic {
    char *name;
    bool subscribed;
    veil_gs_message_cb cb;
    void *cb_ctx;
    uint64_t fanout_last_pub; /* 0 = no fanout */
};

struct gs_seen {
    uint8_t id[VEIL_GS_MSG_ID_MAX];
    uint8_t len;
    bool used;
    uint64_t expires;
    uint64_t first_ms;
};

struct gs_serve {
    uint64_t peer_serial;
    int count;
};

struct gs_cached {
    uint8_t id[VEIL_GS_MSG_ID_MAX];
    size_t id_len;
    char *topic;
    uint8_t *msg; /* encoded Message */
    size_t msg_len;
    struct gs_serve *serves;
    size_t n_serves;
};

struct gs_window {
    struct gs_cached *items;
    size_t n, cap;
};

struct gs_promise {
    uint8_t id[VEIL_GS_MSG_ID_MAX];
    size_t id_len;
    uint64_t peer_serial;
    uint64_t deadline;
};

struct veil_gs {
    struct veil_gs_config cfg;
    struct veil_gs_callbacks cb;
    uint8_t sk[64];
    uint8_t self_id[VEIL_GS_PEER_ID_MAX];
    size_t self_len;
    uint64_t seqno;
    uint64_t next_serial;

    struct gs_peer **peers;
    size_t n_peers, cap_peers;
    struct gs_topic **topics;
    size_t n_topics, cap_topics;

    struct gs_seen *seen;
    size_t seen_cap, seen_count;
    uint8_t seen_key[crypto_shorthash_KEYBYTES];

    struct gs_window *windows; /* windows[0] is the newest */
    struct gs_promise *promises;
    size_t n_promises, cap_promises;

    uint64_t last_decay;
    uint64_t heartbeats;
    struct veil_gs_stats stats;
};

/* ------------------------------------------------------------------------ */
/* configuration                                                            */
/* ------------------------------------------------------------------------ */

void veil_gs_config_default(struct veil_gs_config *c)
{
    memset(c, 0, sizeof *c);
    /* gossipsub-v1.0 "Parameters" and v1.1 defaults of go-libp2p-pubsub */
    c->d = 6;
    c->d_lo = 4;
    c->d_hi = 12;
    c->d_lazy = 6;
    c->d_score = 4;
    c->d_out = 2;
    c->heartbeat_ms = 1000;
    c->fanout_ttl_ms = 60000;
    c->mcache_len = 5;
    c->mcache_gossip = 3;
    c->seen_ttl_ms = 120000;
    c->prune_backoff_ms = 60000;
    c->unsubscribe_backoff_ms = 10000;
    c->prune_peers = 16;
    c->max_rpc_size = 1u << 20;
    c->max_ihave_length = 5000;
    c->max_ihave_messages = 10;
    c->iwant_followup_ms = 3000;
    c->gossip_retransmission = 3;
    c->gossip_factor = 0.25;
    c->opportunistic_graft_ticks = 60;
    c->opportunistic_graft_peers = 2;
    c->flood_publish = true;
    c->do_px = true;
    c->max_peers = 1024;
    c->max_topics_per_peer = 256;
    c->msgid_kind = VEIL_GS_MSGID_PUBKEY_SEQNO;

    struct veil_gs_score_params *s = &c->score;
    s->enabled = true;
    s->topic.topic_weight = 1.0;
    s->topic.time_in_mesh_weight = 0.01;
    s->topic.time_in_mesh_quantum_ms = 1000;
    s->topic.time_in_mesh_cap = 3600;
    s->topic.first_message_deliveries_weight = 1.0;
    s->topic.first_message_deliveries_decay = 0.9;
    s->topic.first_message_deliveries_cap = 50;
    s->topic.mesh_message_deliveries_weight = 0; /* off: telemetry topics may be quiet */
    s->topic.mesh_message_deliveries_decay = 0.9;
    s->topic.mesh_message_deliveries_cap = 20;
    s->topic.mesh_message_deliveries_threshold = 1;
    s->topic.mesh_message_deliveries_window_ms = 10;
    s->topic.mesh_message_deliveries_activation_ms = 30000;
    s->topic.mesh_failure_penalty_weight = 0;
    s->topic.mesh_failure_penalty_decay = 0.9;
    s->topic.invalid_message_deliveries_weight = -10.0;
    s->topic.invalid_message_deliveries_decay = 0.99;
    s->topic_score_cap = 100;
    s->behaviour_penalty_weight = -10.0;
    s->behaviour_penalty_threshold = 1.0;
    s->behaviour_penalty_decay = 0.99;
    s->decay_interval_ms = 1000;
    s->decay_to_zero = 0.01;
    s->retain_score_ms = 3600 * 1000;
    s->gossip_threshold = -10;
    s->publish_threshold = -50;
    s->graylist_threshold = -80;
    s->accept_px_threshold = 10;
    s->opportunistic_graft_threshold = 1;
}

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */
/* ------------------------------------------------------------------------ */

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

static void shuffle_ptrs(void **a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = veil_random_uniform((uint32_t)i);
        void *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static struct gs_peer *find_peer(const veil_gs *gs, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *p = gs->peers[i];
        if (p->id_len == len && memcmp(p->id, id, len) == 0)
            return p;
    }
    return NULL;
}

static struct gs_peer *find_peer_serial(const veil_gs *gs, uint64_t serial)
{
    for (size_t i = 0; i < gs->n_peers; i++)
        if (gs->peers[i]->serial == serial)
            return gs->peers[i];
    return NULL;
}

static struct gs_topic *find_topic(const veil_gs *gs, const char *name)
{
    for (size_t i = 0; i < gs->n_topics; i++)
        if (strcmp(gs->topics[i]->name, name) == 0)
            return gs->topics[i];
    return NULL;
}

static struct gs_topic *get_topic(veil_gs *gs, const char *name)
{
    struct gs_topic *t = find_topic(gs, name);
    if (t)
        return t;
    if (!grow((void **)&gs->topics, &gs->cap_topics, gs->n_topics + 1, sizeof *gs->topics))
        return NULL;
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    gs->topics[gs->n_topics++] = t;
    return t;
}

static struct gs_peer_topic *find_pt(const struct gs_peer *p, const char *topic)
{
    for (size_t i = 0; i < p->n_topics; i++)
        if (strcmp(p->topics[i].topic, topic) == 0)
            return &p->topics[i];
    return NULL;
}

static struct gs_peer_topic *get_pt(veil_gs *gs, struct gs_peer *p, const char *topic)
{
    struct gs_peer_topic *pt = find_pt(p, topic);
    if (pt)
        return pt;
    if (p->n_topics >= gs->cfg.max_topics_per_peer)
        return NULL;
    if (!grow((void **)&p->topics, &p->cap_topics, p->n_topics + 1, sizeof *p->topics))
        return NULL;
    pt = &p->topics[p->n_topics];
    memset(pt, 0, sizeof *pt);
    pt->topic = strdup(topic);
    if (!pt->topic)
        return NULL;
    p->n_topics++;
    return pt;
}

static bool topic_name_ok(const char *t)
{
    if (!t || !*t)
        return false;
    return strlen(t) <= VEIL_GS_TOPIC_MAX;
}

static bool is_meshsub(const struct gs_peer *p)
{
    return p->proto == VEIL_GS_MESHSUB_11 || p->proto == VEIL_GS_MESHSUB_10;
}

/* ------------------------------------------------------------------------ */
/* scoring (gossipsub-v1.1 "The Score Function")                            */
/* ------------------------------------------------------------------------ */

static double peer_score(const veil_gs *gs, const struct gs_peer *p, uint64_t now)
{
    const struct veil_gs_score_params *sp = &gs->cfg.score;
    if (!sp->enabled)
        return 0;
    const struct veil_gs_topic_score_params *tp = &sp->topic;
    double score = 0;
    for (size_t i = 0; i < p->n_topics; i++) {
        const struct gs_peer_topic *pt = &p->topics[i];
        double ts = 0;
        if (pt->in_mesh) {
            uint64_t in_mesh = now > pt->graft_time ? now - pt->graft_time : 0;
            double p1 = tp->time_in_mesh_quantum_ms
                            ? (double)in_mesh / (double)tp->time_in_mesh_quantum_ms
                            : 0;
            if (p1 > tp->time_in_mesh_cap)
                p1 = tp->time_in_mesh_cap;
            ts += tp->time_in_mesh_weight * p1;
            if (in_mesh >= tp->mesh_message_deliveries_activation_ms &&
                pt->mesh_deliveries < tp->mesh_message_deliveries_threshold) {
                double deficit = tp->mesh_message_deliveries_threshold - pt->mesh_deliveries;
                ts += tp->mesh_message_deliveries_weight * deficit * deficit;
            }
        }
        ts += tp->first_message_deliveries_weight * pt->first_deliveries;
        ts += tp->mesh_failure_penalty_weight * pt->mesh_failure_penalty;
        ts +=
            tp->invalid_message_deliveries_weight * pt->invalid_deliveries * pt->invalid_deliveries;
        score += tp->topic_weight * ts;
    }
    if (sp->topic_score_cap > 0 && score > sp->topic_score_cap)
        score = sp->topic_score_cap;
    if (p->behaviour_penalty > sp->behaviour_penalty_threshold) {
        double excess = p->behaviour_penalty - sp->behaviour_penalty_threshold;
        score += sp->behaviour_penalty_weight * excess * excess;
    }
    return score;
}

static double decay_value(const veil_gs *gs, double v, double factor)
{
    v *= factor;
    return v < gs->cfg.score.decay_to_zero ? 0 : v;
}

static void decay_scores(veil_gs *gs)
{
    const struct veil_gs_score_params *sp = &gs->cfg.score;
    const struct veil_gs_topic_score_params *tp = &sp->topic;
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *p = gs->peers[i];
        for (size_t j = 0; j < p->n_topics; j++) {
            struct gs_peer_topic *pt = &p->topics[j];
            pt->first_deliveries =
                decay_value(gs, pt->first_deliveries, tp->first_message_deliveries_decay);
            pt->mesh_deliveries =
                decay_value(gs, pt->mesh_deliveries, tp->mesh_message_deliveries_decay);
            pt->mesh_failure_penalty =
                decay_value(gs, pt->mesh_failure_penalty, tp->mesh_failure_penalty_decay);
            pt->invalid_deliveries =
                decay_value(gs, pt->invalid_deliveries, tp->invalid_message_deliveries_decay);
        }
        p->behaviour_penalty = decay_value(gs, p->behaviour_penalty, sp->behaviour_penalty_decay);
    }
}

/* Leaving the mesh: an unmet delivery quota becomes the sticky P3b penalty. */
static void leave_mesh(veil_gs *gs, struct gs_peer_topic *pt, uint64_t now)
{
    const struct veil_gs_topic_score_params *tp = &gs->cfg.score.topic;
    if (!pt->in_mesh)
        return;
    uint64_t in_mesh = now > pt->graft_time ? now - pt->graft_time : 0;
    if (in_mesh >= tp->mesh_message_deliveries_activation_ms &&
        pt->mesh_deliveries < tp->mesh_message_deliveries_threshold) {
        double deficit = tp->mesh_message_deliveries_threshold - pt->mesh_deliveries;
        pt->mesh_failure_penalty += deficit * deficit;
    }
    pt->in_mesh = false;
}

static void add_penalty(struct gs_peer *p, double amount)
{
    p->behaviour_penalty += amount;
}

/* ------------------------------------------------------------------------ */
/* output                                                                   */
/* ------------------------------------------------------------------------ */

static void out_free(struct gs_out *o)
{
    veil_buf_free(&o->subs);
    veil_buf_free(&o->msgs);
    veil_buf_free(&o->ctl);
}

static void send_one(veil_gs *gs, struct gs_peer *p, veil_buf *rpc)
{
    if (!veil_buf_ok(rpc) || rpc->len == 0)
        return;
    gs->stats.rpcs_out++;
    gs->cb.send_rpc(gs->cb.ctx, p->id, p->id_len, rpc->data, rpc->len);
}

/* Sends what is pending for a peer: subscriptions and control first, then
 * messages packed into RPCs of at most max_rpc_size bytes. */
static void flush_peer(veil_gs *gs, struct gs_peer *p)
{
    struct gs_out *o = &p->out;
    if (!p->connected) {
        veil_buf_reset(&o->subs);
        veil_buf_reset(&o->msgs);
        veil_buf_reset(&o->ctl);
        return;
    }
    veil_buf rpc;
    veil_buf_init(&rpc);
    if (o->subs.len)
        veil_buf_put(&rpc, o->subs.data, o->subs.len);
    if (o->ctl.len && is_meshsub(p))
        gs_put_bytes_field(&rpc, 3, o->ctl.data, o->ctl.len);
    veil_reader r;
    veil_reader_init(&r, o->msgs.data, o->msgs.len);
    while (veil_reader_remaining(&r) > 0) {
        /* each entry: tag (1 byte 0x12), uvarint length, bytes */
        size_t start = r.pos;
        (void)veil_read_u8(&r);
        uint64_t n = veil_read_uvarint(&r);
        veil_reader_skip(&r, (size_t)n);
        if (!veil_reader_ok(&r))
            break;
        size_t entry = r.pos - start;
        if (rpc.len && rpc.len + entry > gs->cfg.max_rpc_size) {
            send_one(gs, p, &rpc);
            veil_buf_reset(&rpc);
        }
        veil_buf_put(&rpc, o->msgs.data + start, entry);
    }
    send_one(gs, p, &rpc);
    veil_buf_free(&rpc);
    veil_buf_reset(&o->subs);
    veil_buf_reset(&o->msgs);
    veil_buf_reset(&o->ctl);
}

static void flush_all(veil_gs *gs)
{
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *p = gs->peers[i];
        if (p->out.subs.len || p->out.msgs.len || p->out.ctl.len)
            flush_peer(gs, p);
    }
}

static void queue_sub(struct gs_peer *p, const char *topic, bool subscribe)
{
    veil_buf sub;
    veil_buf_init(&sub);
    gs_put_varint_field(&sub, 1, subscribe ? 1 : 0);
    gs_put_bytes_field(&sub, 2, topic, strlen(topic));
    gs_put_bytes_field(&p->out.subs, 1, sub.data, sub.len);
    veil_buf_free(&sub);
}

static void queue_msg(struct gs_peer *p, const uint8_t *msg, size_t len)
{
    gs_put_bytes_field(&p->out.msgs, 2, msg, len);
}

static void queue_graft(veil_gs *gs, struct gs_peer *p, const char *topic)
{
    veil_buf g;
    veil_buf_init(&g);
    gs_put_bytes_field(&g, 1, topic, strlen(topic));
    gs_put_bytes_field(&p->out.ctl, 3, g.data, g.len);
    veil_buf_free(&g);
    gs->stats.graft_sent++;
}

/* PRUNE with backoff in seconds and, when do_px, up to prune_peers other
 * well-scored peers of the topic (gossipsub-v1.1 "Peer Exchange"). */
static void queue_prune(veil_gs *gs, struct gs_peer *p, const char *topic, uint64_t backoff_ms,
                        bool px, uint64_t now)
{
    veil_buf pr;
    veil_buf_init(&pr);
    gs_put_bytes_field(&pr, 1, topic, strlen(topic));
    if (px && gs->cfg.do_px) {
        int given = 0;
        for (size_t i = 0; i < gs->n_peers && given < gs->cfg.prune_peers; i++) {
            struct gs_peer *q = gs->peers[i];
            if (q == p || !q->connected)
                continue;
            struct gs_peer_topic *qt = find_pt(q, topic);
            if (!qt || !qt->subscribed || peer_score(gs, q, now) < 0)
                continue;
            veil_buf info;
            veil_buf_init(&info);
            gs_put_bytes_field(&info, 1, q->id, q->id_len);
            gs_put_bytes_field(&pr, 2, info.data, info.len);
            veil_buf_free(&info);
            given++;
        }
    }
    gs_put_varint_field(&pr, 3, (backoff_ms + 999) / 1000);
    gs_put_bytes_field(&p->out.ctl, 4, pr.data, pr.len);
    veil_buf_free(&pr);
    gs->stats.prune_sent++;
}

static void queue_ihave(veil_gs *gs, struct gs_peer *p, const char *topic,
                        const struct gs_cached **ids, size_t n)
{
    veil_buf ih;
    veil_buf_init(&ih);
    gs_put_bytes_field(&ih, 1, topic, strlen(topic));
    for (size_t i = 0; i < n; i++)
        gs_put_bytes_field(&ih, 2, ids[i]->id, ids[i]->id_len);
    gs_put_bytes_field(&p->out.ctl, 1, ih.data, ih.len);
    veil_buf_free(&ih);
    gs->stats.ihave_sent++;
}

/* ------------------------------------------------------------------------ */
/* seen cache: open addressing keyed by SipHash of the message ID           */
/* ------------------------------------------------------------------------ */

static size_t seen_slot(const veil_gs *gs, const uint8_t *id, size_t len)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, id, len, gs->seen_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (gs->seen_cap - 1));
}

static struct gs_seen *seen_find(const veil_gs *gs, const uint8_t *id, size_t len, uint64_t now)
{
    size_t i = seen_slot(gs, id, len);
    for (size_t probe = 0; probe < gs->seen_cap; probe++) {
        struct gs_seen *e = &gs->seen[(i + probe) & (gs->seen_cap - 1)];
        if (!e->used)
            return NULL;
        if (e->len == len && memcmp(e->id, id, len) == 0)
            return e->expires > now ? e : NULL;
    }
    return NULL;
}

static bool seen_rebuild(veil_gs *gs, size_t new_cap, uint64_t now)
{
    struct gs_seen *old = gs->seen;
    size_t old_cap = gs->seen_cap;
    struct gs_seen *tab = calloc(new_cap, sizeof *tab);
    if (!tab)
        return false;
    gs->seen = tab;
    gs->seen_cap = new_cap;
    gs->seen_count = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].used || old[i].expires <= now)
            continue;
        size_t s = seen_slot(gs, old[i].id, old[i].len);
        while (tab[s].used)
            s = (s + 1) & (new_cap - 1);
        tab[s] = old[i];
        gs->seen_count++;
    }
    free(old);
    return true;
}

static struct gs_seen *seen_add(veil_gs *gs, const uint8_t *id, size_t len, uint64_t now)
{
    if ((gs->seen_count + 1) * 2 > gs->seen_cap) {
        size_t cap = gs->seen_cap;
        /* first try dropping expired entries, then grow */
        if (!seen_rebuild(gs, cap, now))
            return NULL;
        if ((gs->seen_count + 1) * 2 > gs->seen_cap && !seen_rebuild(gs, cap * 2, now))
            return NULL;
    }
    size_t s = seen_slot(gs, id, len);
    while (gs->seen[s].used) {
        struct gs_seen *e = &gs->seen[s];
        if (e->len == len && memcmp(e->id, id, len) == 0)
            break; /* an expired entry of the same ID: reuse */
        s = (s + 1) & (gs->seen_cap - 1);
    }
    struct gs_seen *e = &gs->seen[s];
    if (!e->used)
        gs->seen_count++;
    e->used = true;
    memcpy(e->id, id, len);
    e->len = (uint8_t)len;
    e->expires = now + gs->cfg.seen_ttl_ms;
    e->first_ms = now;
    return e;
}

/* ------------------------------------------------------------------------ */
/* message cache (gossipsub-v1.0 "Message Cache")                           */
/* ------------------------------------------------------------------------ */

static void cached_free(struct gs_cached *c)
{
    free(c->topic);
    free(c->msg);
    free(c->serves);
}

static struct gs_cached *mcache_find(veil_gs *gs, const uint8_t *id, size_t len)
{
    for (int w = 0; w < gs->cfg.mcache_len; w++) {
        struct gs_window *win = &gs->windows[w];
        for (size_t i = 0; i < win->n; i++)
            if (win->items[i].id_len == len && memcmp(win->items[i].id, id, len) == 0)
                return &win->items[i];
    }
    return NULL;
}

static void mcache_put(veil_gs *gs, const uint8_t *id, size_t id_len, const char *topic,
                       const uint8_t *msg, size_t msg_len)
{
    struct gs_window *w = &gs->windows[0];
    if (!grow((void **)&w->items, &w->cap, w->n + 1, sizeof *w->items))
        return;
    struct gs_cached *c = &w->items[w->n];
    memset(c, 0, sizeof *c);
    memcpy(c->id, id, id_len);
    c->id_len = id_len;
    c->topic = strdup(topic);
    c->msg = malloc(msg_len ? msg_len : 1);
    if (!c->topic || !c->msg) {
        cached_free(c);
        return;
    }
    memcpy(c->msg, msg, msg_len);
    c->msg_len = msg_len;
    w->n++;
}

static void mcache_shift(veil_gs *gs)
{
    int last = gs->cfg.mcache_len - 1;
    struct gs_window *old = &gs->windows[last];
    for (size_t i = 0; i < old->n; i++)
        cached_free(&old->items[i]);
    free(old->items);
    memmove(&gs->windows[1], &gs->windows[0], (size_t)last * sizeof *gs->windows);
    memset(&gs->windows[0], 0, sizeof *gs->windows);
}

/* ------------------------------------------------------------------------ */
/* lifecycle                                                                */
/* ------------------------------------------------------------------------ */

int veil_gs_new(veil_gs **out, const struct veil_gs_config *cfg, const uint8_t secret_key[64],
                const struct veil_gs_callbacks *cb, veil_err *err)
{
    *out = NULL;
    if (!cfg || !cb || !cb->send_rpc)
        return veil_err_set(err, VEIL_E_INVALID, "gossipsub: config and send_rpc are required");
    if (cfg->d_lo > cfg->d || cfg->d > cfg->d_hi || cfg->d_lo < 1 || cfg->d_out >= cfg->d_lo ||
        cfg->d_score > cfg->d || cfg->mcache_gossip > cfg->mcache_len || cfg->mcache_len < 1 ||
        cfg->max_rpc_size < 1024 || cfg->heartbeat_ms == 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "gossipsub: inconsistent parameters (need D_lo <= D <= D_hi, "
                            "D_out < D_lo, D_score <= D, gossip <= mcache length)");
    if (veil_crypto_init(err) != 0)
        return -1;
    veil_gs *gs = calloc(1, sizeof *gs);
    if (!gs)
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
    gs->cfg = *cfg;
    gs->cb = *cb;
    memcpy(gs->sk, secret_key, 64);
    gs->self_len = veil_gs_peer_id_from_pubkey(gs->self_id, secret_key + 32);
    /* go-libp2p-pubsub starts seqnos at the time in ns; a random start gives
     * the same freshness across restarts without reading a clock here. */
    gs->seqno = veil_random_u64() >> 1;
    gs->next_serial = 1;
    gs->seen_cap = 1024;
    gs->seen = calloc(gs->seen_cap, sizeof *gs->seen);
    gs->windows = calloc((size_t)cfg->mcache_len, sizeof *gs->windows);
    if (!gs->seen || !gs->windows) {
        veil_gs_free(gs);
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
    }
    veil_random_bytes(gs->seen_key, sizeof gs->seen_key);
    *out = gs;
    return 0;
}

static void peer_free(struct gs_peer *p)
{
    for (size_t i = 0; i < p->n_topics; i++)
        free(p->topics[i].topic);
    free(p->topics);
    out_free(&p->out);
    free(p);
}

void veil_gs_free(veil_gs *gs)
{
    if (!gs)
        return;
    for (size_t i = 0; i < gs->n_peers; i++)
        peer_free(gs->peers[i]);
    free(gs->peers);
    for (size_t i = 0; i < gs->n_topics; i++) {
        free(gs->topics[i]->name);
        free(gs->topics[i]);
    }
    free(gs->topics);
    free(gs->seen);
    if (gs->windows) {
        for (int w = 0; w < gs->cfg.mcache_len; w++) {
            for (size_t i = 0; i < gs->windows[w].n; i++)
                cached_free(&gs->windows[w].items[i]);
            free(gs->windows[w].items);
        }
        free(gs->windows);
    }
    free(gs->promises);
    veil_memzero(gs->sk, sizeof gs->sk);
    free(gs);
}

size_t veil_gs_local_peer_id(const veil_gs *gs, uint8_t out[VEIL_GS_PEER_ID_MAX])
{
    memcpy(out, gs->self_id, gs->self_len);
    return gs->self_len;
}

int veil_gs_add_peer(veil_gs *gs, const uint8_t *id, size_t len, enum veil_gs_peer_proto proto,
                     bool outbound, uint64_t now, veil_err *err)
{
    (void)now;
    if (len == 0 || len > VEIL_GS_PEER_ID_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "gossipsub: bad peer ID length %zu", len);
    struct gs_peer *p = find_peer(gs, id, len);
    if (p && p->connected)
        return 0; /* a second stream of the same peer: keep the first */
    if (!p) {
        size_t connected = 0;
        for (size_t i = 0; i < gs->n_peers; i++)
            connected += gs->peers[i]->connected;
        if (connected >= gs->cfg.max_peers)
            return veil_err_set(err, VEIL_E_LIMIT, "gossipsub: peer limit %zu reached",
                                gs->cfg.max_peers);
        if (!grow((void **)&gs->peers, &gs->cap_peers, gs->n_peers + 1, sizeof *gs->peers))
            return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
        p = calloc(1, sizeof *p);
        if (!p)
            return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
        memcpy(p->id, id, len);
        p->id_len = len;
        gs->peers[gs->n_peers++] = p;
    }
    p->serial = gs->next_serial++;
    p->connected = true;
    p->proto = proto;
    p->outbound = outbound;
    /* a reconnecting peer must announce its subscriptions again */
    for (size_t i = 0; i < p->n_topics; i++) {
        p->topics[i].subscribed = false;
        p->topics[i].in_mesh = false;
        p->topics[i].in_fanout = false;
    }
    /* pubsub README "The RPC": our subscriptions go first */
    for (size_t i = 0; i < gs->n_topics; i++)
        if (gs->topics[i]->subscribed)
            queue_sub(p, gs->topics[i]->name, true);
    flush_peer(gs, p);
    return 0;
}

void veil_gs_remove_peer(veil_gs *gs, const uint8_t *id, size_t len, uint64_t now)
{
    struct gs_peer *p = find_peer(gs, id, len);
    if (!p || !p->connected)
        return;
    for (size_t i = 0; i < p->n_topics; i++) {
        leave_mesh(gs, &p->topics[i], now);
        p->topics[i].in_fanout = false;
        p->topics[i].subscribed = false;
    }
    p->connected = false;
    p->disconnected_at = now;
    veil_buf_reset(&p->out.subs);
    veil_buf_reset(&p->out.msgs);
    veil_buf_reset(&p->out.ctl);
    if (!gs->cfg.score.enabled) {
        /* nothing worth retaining */
        for (size_t i = 0; i < gs->n_peers; i++) {
            if (gs->peers[i] == p) {
                gs->peers[i] = gs->peers[--gs->n_peers];
                break;
            }
        }
        peer_free(p);
    }
}

bool veil_gs_has_peer(const veil_gs *gs, const uint8_t *id, size_t len)
{
    const struct gs_peer *p = find_peer(gs, id, len);
    return p && p->connected;
}

/* ------------------------------------------------------------------------ */
/* receiving                                                                */
/* ------------------------------------------------------------------------ */

static void promises_fulfilled(veil_gs *gs, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < gs->n_promises;) {
        if (gs->promises[i].id_len == len && memcmp(gs->promises[i].id, id, len) == 0)
            gs->promises[i] = gs->promises[--gs->n_promises];
        else
            i++;
    }
}

/* Sends a message to the topic's mesh (and floodsub subscribers), except to
 * the peer it came from and its author. */
static void forward(veil_gs *gs, const char *topic, const uint8_t *msg, size_t len,
                    const struct gs_peer *source, const uint8_t *author, size_t author_len,
                    uint64_t now)
{
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        if (q == source || !q->connected)
            continue;
        if (q->id_len == author_len && memcmp(q->id, author, author_len) == 0)
            continue;
        struct gs_peer_topic *qt = find_pt(q, topic);
        if (!qt)
            continue;
        bool to = is_meshsub(q) ? qt->in_mesh : qt->subscribed;
        if (!to)
            continue;
        if (gs->cfg.score.enabled && peer_score(gs, q, now) < gs->cfg.score.publish_threshold &&
            !is_meshsub(q))
            continue;
        queue_msg(q, msg, len);
        gs->stats.msgs_forwarded++;
    }
}

static void handle_message(veil_gs *gs, struct gs_peer *p, const Veil__Pubsub__Message *m,
                           uint64_t now)
{
    const struct veil_gs_topic_score_params *tp = &gs->cfg.score.topic;
    if (!m->topic || !topic_name_ok(m->topic))
        return;
    struct gs_topic *t = find_topic(gs, m->topic);
    if (!t || !t->subscribed)
        return; /* not ours: go-libp2p-pubsub ignores such messages too */
    struct gs_peer_topic *pt = get_pt(gs, p, m->topic);
    struct veil_gs_message vm = {
        .from = m->has_from ? m->from.data : NULL,
        .from_len = m->has_from ? m->from.len : 0,
        .data = m->has_data ? m->data.data : NULL,
        .data_len = m->has_data ? m->data.len : 0,
        .seqno = m->has_seqno ? m->seqno.data : NULL,
        .seqno_len = m->has_seqno ? m->seqno.len : 0,
        .topic = m->topic,
    };
    uint8_t id[VEIL_GS_MSG_ID_MAX];
    size_t id_len = 0;
    if (vm.from && vm.seqno && vm.seqno_len == 8 && vm.from_len <= VEIL_GS_PEER_ID_MAX)
        id_len = gs_message_id(&gs->cfg, &vm, id);
    if (id_len == 0) {
        gs->stats.msgs_invalid++;
        if (pt)
            pt->invalid_deliveries += 1;
        return;
    }
    struct gs_seen *seen = seen_find(gs, id, id_len, now);
    if (seen) {
        gs->stats.msgs_duplicate++;
        promises_fulfilled(gs, id, id_len);
        /* P3 counts near-simultaneous duplicates from mesh peers too */
        if (pt && pt->in_mesh && now - seen->first_ms <= tp->mesh_message_deliveries_window_ms) {
            pt->mesh_deliveries += 1;
            if (pt->mesh_deliveries > tp->mesh_message_deliveries_cap)
                pt->mesh_deliveries = tp->mesh_message_deliveries_cap;
        }
        return;
    }
    if (vm.from_len == gs->self_len && memcmp(vm.from, gs->self_id, gs->self_len) == 0) {
        seen_add(gs, id, id_len, now); /* our own message came back */
        return;
    }
    veil_err verr;
    if (gs_verify_message_full(&vm, m->has_data, m->has_signature ? m->signature.data : NULL,
                               m->has_signature ? m->signature.len : 0,
                               m->has_key ? m->key.data : NULL, m->has_key ? m->key.len : 0,
                               &verr) != 0) {
        gs->stats.msgs_invalid++;
        if (pt)
            pt->invalid_deliveries += 1;
        VEIL_LOG_DBG("gossipsub", "invalid message", "topic=%s reason=\"%s\"", m->topic, verr.msg);
        return;
    }
    seen_add(gs, id, id_len, now);
    promises_fulfilled(gs, id, id_len);
    if (pt) {
        pt->first_deliveries += 1;
        if (pt->first_deliveries > tp->first_message_deliveries_cap)
            pt->first_deliveries = tp->first_message_deliveries_cap;
        if (pt->in_mesh) {
            pt->mesh_deliveries += 1;
            if (pt->mesh_deliveries > tp->mesh_message_deliveries_cap)
                pt->mesh_deliveries = tp->mesh_message_deliveries_cap;
        }
    }
    /* canonical re-encoding: the signature covers fields 1-4 only */
    veil_buf enc;
    veil_buf_init(&enc);
    gs_encode_message(&enc, &vm, m->has_data, m->signature.data, m->signature.len);
    if (!veil_buf_ok(&enc)) {
        veil_buf_free(&enc);
        return;
    }
    mcache_put(gs, id, id_len, m->topic, enc.data, enc.len);
    gs->stats.msgs_delivered++;
    forward(gs, m->topic, enc.data, enc.len, p, vm.from, vm.from_len, now);
    veil_buf_free(&enc);
    if (t->cb)
        t->cb(t->cb_ctx, &vm);
}

static void handle_ihave(veil_gs *gs, struct gs_peer *p, const Veil__Pubsub__ControlIHave *ih,
                         veil_buf *iwant, size_t *n_iwant, uint8_t promise_id[VEIL_GS_MSG_ID_MAX],
                         size_t *promise_len, uint64_t now)
{
    if (gs->cfg.score.enabled && peer_score(gs, p, now) < gs->cfg.score.gossip_threshold)
        return;
    if (++p->ihave_in > gs->cfg.max_ihave_messages)
        return;
    if (!ih->topic_id || !topic_name_ok(ih->topic_id))
        return;
    struct gs_topic *t = find_topic(gs, ih->topic_id);
    if (!t || !t->subscribed)
        return;
    for (size_t i = 0; i < ih->n_message_ids; i++) {
        if (p->iwant_asked >= gs->cfg.max_ihave_length)
            break;
        const ProtobufCBinaryData *mid = &ih->message_ids[i];
        if (mid->len == 0 || mid->len > VEIL_GS_MSG_ID_MAX)
            continue;
        if (seen_find(gs, mid->data, mid->len, now))
            continue;
        gs_put_bytes_field(iwant, 1, mid->data, mid->len);
        p->iwant_asked++;
        /* reservoir choice of the one ID we hold the peer to (go: one
         * random promise per IWANT) */
        (*n_iwant)++;
        if (veil_random_uniform((uint32_t)*n_iwant) == 0) {
            memcpy(promise_id, mid->data, mid->len);
            *promise_len = mid->len;
        }
    }
}

static void handle_iwant(veil_gs *gs, struct gs_peer *p, const Veil__Pubsub__ControlIWant *iw,
                         size_t *budget, uint64_t now)
{
    if (gs->cfg.score.enabled && peer_score(gs, p, now) < gs->cfg.score.gossip_threshold)
        return;
    /* the IDs asked for in one RPC share one budget, so that an RPC full of
     * tiny IWANT entries cannot make us scan the cache millions of times */
    for (size_t i = 0; i<iw->n_message_ids && * budget> 0; i++, (*budget)--) {
        const ProtobufCBinaryData *mid = &iw->message_ids[i];
        if (mid->len == 0 || mid->len > VEIL_GS_MSG_ID_MAX)
            continue;
        struct gs_cached *c = mcache_find(gs, mid->data, mid->len);
        if (!c)
            continue;
        struct gs_serve *s = NULL;
        for (size_t j = 0; j < c->n_serves; j++)
            if (c->serves[j].peer_serial == p->serial)
                s = &c->serves[j];
        if (!s) {
            struct gs_serve *ns = realloc(c->serves, (c->n_serves + 1) * sizeof *ns);
            if (!ns)
                continue;
            c->serves = ns;
            s = &c->serves[c->n_serves++];
            s->peer_serial = p->serial;
            s->count = 0;
        }
        if (s->count >= gs->cfg.gossip_retransmission)
            continue;
        s->count++;
        queue_msg(p, c->msg, c->msg_len);
        gs->stats.iwant_served++;
    }
}

static size_t mesh_count(const veil_gs *gs, const char *topic)
{
    size_t n = 0;
    for (size_t i = 0; i < gs->n_peers; i++) {
        const struct gs_peer_topic *pt = find_pt(gs->peers[i], topic);
        n += pt && pt->in_mesh && gs->peers[i]->connected;
    }
    return n;
}

static void handle_graft(veil_gs *gs, struct gs_peer *p, const Veil__Pubsub__ControlGraft *g,
                         uint64_t now)
{
    if (!g->topic_id || !topic_name_ok(g->topic_id) || !is_meshsub(p))
        return;
    struct gs_topic *t = find_topic(gs, g->topic_id);
    if (!t || !t->subscribed) {
        /* gossipsub-v1.1: reply PRUNE, no PX, to a GRAFT for an unknown topic */
        queue_prune(gs, p, g->topic_id, gs->cfg.prune_backoff_ms, false, now);
        return;
    }
    struct gs_peer_topic *pt = get_pt(gs, p, g->topic_id);
    if (!pt)
        return;
    if (pt->in_mesh)
        return;
    if (pt->backoff_until > now) {
        /* gossipsub-v1.1 "Prune Backoff": GRAFT during backoff is penalised
         * and the backoff is refreshed */
        add_penalty(p, 1);
        pt->backoff_until = now + gs->cfg.prune_backoff_ms;
        queue_prune(gs, p, g->topic_id, gs->cfg.prune_backoff_ms, false, now);
        return;
    }
    if (gs->cfg.score.enabled && peer_score(gs, p, now) < 0) {
        queue_prune(gs, p, g->topic_id, gs->cfg.prune_backoff_ms, false, now);
        return;
    }
    if (mesh_count(gs, g->topic_id) >= (size_t)gs->cfg.d_hi && !p->outbound) {
        queue_prune(gs, p, g->topic_id, gs->cfg.prune_backoff_ms, true, now);
        pt->backoff_until = now + gs->cfg.prune_backoff_ms;
        return;
    }
    pt->in_mesh = true;
    pt->graft_time = now;
    pt->subscribed = true;
}

static void handle_prune(veil_gs *gs, struct gs_peer *p, const Veil__Pubsub__ControlPrune *pr,
                         uint64_t now)
{
    if (!pr->topic_id || !topic_name_ok(pr->topic_id))
        return;
    struct gs_peer_topic *pt = get_pt(gs, p, pr->topic_id);
    if (!pt)
        return;
    leave_mesh(gs, pt, now);
    uint64_t backoff = gs->cfg.prune_backoff_ms;
    if (pr->has_backoff) {
        /* seconds on the wire; clamp absurd values (one day) */
        uint64_t secs = pr->backoff > 86400 ? 86400 : pr->backoff;
        backoff = secs * 1000;
    }
    if (now + backoff > pt->backoff_until)
        pt->backoff_until = now + backoff;
    if (!gs->cfg.do_px || pr->n_peers == 0 || !gs->cb.px_peer)
        return;
    if (gs->cfg.score.enabled && peer_score(gs, p, now) < gs->cfg.score.accept_px_threshold)
        return;
    for (size_t i = 0; i < pr->n_peers && i < (size_t)gs->cfg.prune_peers; i++) {
        const Veil__Pubsub__PeerInfo *pi = pr->peers[i];
        if (!pi->has_peer_id || pi->peer_id.len == 0 || pi->peer_id.len > VEIL_GS_PEER_ID_MAX)
            continue;
        if (veil_gs_has_peer(gs, pi->peer_id.data, pi->peer_id.len))
            continue;
        if (pi->peer_id.len == gs->self_len &&
            memcmp(pi->peer_id.data, gs->self_id, gs->self_len) == 0)
            continue;
        gs->cb.px_peer(gs->cb.ctx, pi->peer_id.data, pi->peer_id.len);
    }
}

int veil_gs_handle_rpc(veil_gs *gs, const uint8_t *id, size_t id_len, const uint8_t *bytes,
                       size_t len, uint64_t now, veil_err *err)
{
    struct gs_peer *p = find_peer(gs, id, id_len);
    if (!p || !p->connected)
        return veil_err_set(err, VEIL_E_STATE, "gossipsub: RPC from a peer without a stream");
    gs->stats.rpcs_in++;
    if (len > gs->cfg.max_rpc_size) {
        gs->stats.rpcs_malformed++;
        add_penalty(p, 1);
        return veil_err_set(err, VEIL_E_LIMIT, "gossipsub: RPC of %zu bytes over the limit", len);
    }
    if (gs->cfg.score.enabled && peer_score(gs, p, now) < gs->cfg.score.graylist_threshold)
        return 0; /* graylisted: ignored entirely (gossipsub-v1.1 "Graylisting") */
    Veil__Pubsub__RPC *rpc = veil__pubsub__rpc__unpack(NULL, len, bytes);
    if (!rpc) {
        gs->stats.rpcs_malformed++;
        add_penalty(p, 1);
        return veil_err_set(err, VEIL_E_PARSE, "gossipsub: malformed RPC");
    }
    int rc = 0;
    if (rpc->n_subscriptions > GS_MAX_SUBS_PER_RPC || rpc->n_publish > GS_MAX_MSGS_PER_RPC) {
        gs->stats.rpcs_malformed++;
        add_penalty(p, 1);
        rc = veil_err_set(err, VEIL_E_LIMIT, "gossipsub: too many entries in one RPC");
        goto done;
    }
    for (size_t i = 0; i < rpc->n_subscriptions; i++) {
        const Veil__Pubsub__RPC__SubOpts *so = rpc->subscriptions[i];
        if (!so->topicid || !topic_name_ok(so->topicid))
            continue;
        bool sub = so->has_subscribe && so->subscribe;
        struct gs_peer_topic *pt = sub ? get_pt(gs, p, so->topicid) : find_pt(p, so->topicid);
        if (!pt)
            continue;
        pt->subscribed = sub;
        if (!sub) {
            leave_mesh(gs, pt, now);
            pt->in_fanout = false;
        }
    }
    for (size_t i = 0; i < rpc->n_publish; i++)
        handle_message(gs, p, rpc->publish[i], now);
    if (rpc->control && is_meshsub(p)) {
        const Veil__Pubsub__ControlMessage *c = rpc->control;
        veil_buf iwant;
        veil_buf_init(&iwant);
        size_t n_iwant = 0;
        uint8_t promise_id[VEIL_GS_MSG_ID_MAX];
        size_t promise_len = 0;
        for (size_t i = 0; i < c->n_ihave; i++)
            handle_ihave(gs, p, c->ihave[i], &iwant, &n_iwant, promise_id, &promise_len, now);
        if (n_iwant) {
            gs_put_bytes_field(&p->out.ctl, 2, iwant.data, iwant.len);
            gs->stats.iwant_sent++;
            if (promise_len && gs->n_promises < GS_MAX_PROMISES &&
                grow((void **)&gs->promises, &gs->cap_promises, gs->n_promises + 1,
                     sizeof *gs->promises)) {
                struct gs_promise *pr = &gs->promises[gs->n_promises++];
                memcpy(pr->id, promise_id, promise_len);
                pr->id_len = promise_len;
                pr->peer_serial = p->serial;
                pr->deadline = now + gs->cfg.iwant_followup_ms;
            }
        }
        veil_buf_free(&iwant);
        size_t iwant_budget = (size_t)gs->cfg.max_ihave_length;
        for (size_t i = 0; i < c->n_iwant; i++)
            handle_iwant(gs, p, c->iwant[i], &iwant_budget, now);
        for (size_t i = 0; i < c->n_graft; i++)
            handle_graft(gs, p, c->graft[i], now);
        for (size_t i = 0; i < c->n_prune; i++)
            handle_prune(gs, p, c->prune[i], now);
    }
done:
    veil__pubsub__rpc__free_unpacked(rpc, NULL);
    flush_all(gs);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* heartbeat (gossipsub-v1.0 "Heartbeat", v1.1 additions)                   */
/* ------------------------------------------------------------------------ */

struct scored {
    struct gs_peer *p;
    double score;
};

static int cmp_score_desc(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

/* Peers subscribed to `topic` that could join a mesh or fanout. */
static size_t candidates(veil_gs *gs, const char *topic, struct gs_peer **out, bool need_outbound,
                         double min_score, uint64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        if (!q->connected || !is_meshsub(q) || (need_outbound && !q->outbound))
            continue;
        struct gs_peer_topic *qt = find_pt(q, topic);
        if (!qt || !qt->subscribed || qt->in_mesh || qt->in_fanout || qt->backoff_until > now)
            continue;
        if (gs->cfg.score.enabled && peer_score(gs, q, now) < min_score)
            continue;
        out[n++] = q;
    }
    shuffle_ptrs((void **)out, n);
    return n;
}

static void graft_peer(veil_gs *gs, struct gs_peer *q, const char *topic, uint64_t now)
{
    struct gs_peer_topic *qt = get_pt(gs, q, topic);
    if (!qt)
        return;
    qt->in_mesh = true;
    qt->graft_time = now;
    queue_graft(gs, q, topic);
}

static void prune_peer(veil_gs *gs, struct gs_peer *q, const char *topic, bool px, uint64_t now)
{
    struct gs_peer_topic *qt = find_pt(q, topic);
    if (!qt)
        return;
    leave_mesh(gs, qt, now);
    qt->backoff_until = now + gs->cfg.prune_backoff_ms;
    queue_prune(gs, q, topic, gs->cfg.prune_backoff_ms, px, now);
}

static void maintain_mesh(veil_gs *gs, struct gs_topic *t, struct gs_peer **buf, uint64_t now)
{
    const struct veil_gs_config *c = &gs->cfg;
    size_t n_mesh = 0;
    struct scored *mesh = calloc(gs->n_peers ? gs->n_peers : 1, sizeof *mesh);
    if (!mesh)
        return;
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        struct gs_peer_topic *qt = find_pt(q, t->name);
        if (!q->connected || !qt || !qt->in_mesh)
            continue;
        double s = peer_score(gs, q, now);
        if (c->score.enabled && s < 0) {
            prune_peer(gs, q, t->name, false, now); /* v1.1: drop negative scores */
            continue;
        }
        mesh[n_mesh].p = q;
        mesh[n_mesh].score = s;
        n_mesh++;
    }
    if (n_mesh < (size_t)c->d_lo) {
        size_t n = candidates(gs, t->name, buf, false, 0, now);
        for (size_t i = 0; i < n && n_mesh < (size_t)c->d; i++) {
            graft_peer(gs, buf[i], t->name, now);
            mesh[n_mesh].p = buf[i];
            mesh[n_mesh].score = peer_score(gs, buf[i], now);
            n_mesh++;
        }
    }
    if (n_mesh > (size_t)c->d_hi) {
        /* keep the D_score best, then random others up to D, then make sure
         * at least D_out of the kept are outbound (gossipsub-v1.1 "Mesh
         * Maintenance") */
        qsort(mesh, n_mesh, sizeof *mesh, cmp_score_desc);
        for (size_t i = (size_t)c->d_score; i + 1 < n_mesh; i++) {
            size_t j = i + veil_random_uniform((uint32_t)(n_mesh - i));
            struct scored tmp = mesh[i];
            mesh[i] = mesh[j];
            mesh[j] = tmp;
        }
        size_t keep = (size_t)c->d;
        size_t out_kept = 0;
        for (size_t i = 0; i < keep; i++)
            out_kept += mesh[i].p->outbound;
        for (size_t i = keep; i < n_mesh && out_kept < (size_t)c->d_out; i++) {
            if (!mesh[i].p->outbound)
                continue;
            /* swap with the last kept inbound peer outside the D_score best */
            for (size_t k = keep; k-- > (size_t)c->d_score;) {
                if (!mesh[k].p->outbound) {
                    struct scored tmp = mesh[k];
                    mesh[k] = mesh[i];
                    mesh[i] = tmp;
                    out_kept++;
                    break;
                }
            }
        }
        for (size_t i = keep; i < n_mesh; i++)
            prune_peer(gs, mesh[i].p, t->name, true, now);
        n_mesh = keep;
    }
    if (c->score.enabled && c->opportunistic_graft_ticks > 0 && n_mesh > 1 &&
        (gs->heartbeats + 1) % (uint64_t)c->opportunistic_graft_ticks == 0) {
        /* gossipsub-v1.1 "Opportunistic Grafting": a mesh of poorly scored
         * peers (median below the threshold) takes in better peers */
        qsort(mesh, n_mesh, sizeof *mesh, cmp_score_desc);
        double median = mesh[n_mesh / 2].score;
        if (median < c->score.opportunistic_graft_threshold) {
            size_t n = candidates(gs, t->name, buf, false, median, now);
            int grafted = 0;
            for (size_t i = 0; i < n && grafted < c->opportunistic_graft_peers; i++) {
                if (peer_score(gs, buf[i], now) <= median)
                    continue;
                graft_peer(gs, buf[i], t->name, now);
                mesh[n_mesh].p = buf[i];
                mesh[n_mesh].score = peer_score(gs, buf[i], now);
                n_mesh++;
                grafted++;
                gs->stats.opportunistic_grafts++;
            }
        }
    }
    if (n_mesh >= (size_t)c->d_lo) {
        size_t out_now = 0;
        for (size_t i = 0; i < n_mesh; i++)
            out_now += mesh[i].p->outbound;
        if (out_now < (size_t)c->d_out) {
            size_t n = candidates(gs, t->name, buf, true, 0, now);
            for (size_t i = 0; i < n && out_now < (size_t)c->d_out; i++, out_now++)
                graft_peer(gs, buf[i], t->name, now);
        }
    }
    free(mesh);
}

static void maintain_fanout(veil_gs *gs, struct gs_topic *t, struct gs_peer **buf, uint64_t now)
{
    size_t n_fanout = 0;
    bool expired = now - t->fanout_last_pub > gs->cfg.fanout_ttl_ms;
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        struct gs_peer_topic *qt = find_pt(q, t->name);
        if (!qt || !qt->in_fanout)
            continue;
        if (expired || !q->connected || !qt->subscribed ||
            (gs->cfg.score.enabled && peer_score(gs, q, now) < gs->cfg.score.publish_threshold)) {
            qt->in_fanout = false;
            continue;
        }
        n_fanout++;
    }
    if (expired) {
        t->fanout_last_pub = 0;
        return;
    }
    if (n_fanout < (size_t)gs->cfg.d) {
        size_t n = candidates(gs, t->name, buf, false, gs->cfg.score.publish_threshold, now);
        for (size_t i = 0; i < n && n_fanout < (size_t)gs->cfg.d; i++, n_fanout++)
            get_pt(gs, buf[i], t->name)->in_fanout = true;
    }
}

/* IHAVE for the recent messages of a topic to D_lazy peers outside the mesh
 * and fanout (gossipsub-v1.0 "Gossip Emission"). */
static void emit_gossip(veil_gs *gs, struct gs_topic *t, struct gs_peer **buf, uint64_t now)
{
    size_t n_ids = 0, cap_ids = 0;
    const struct gs_cached **ids = NULL;
    for (int w = 0; w < gs->cfg.mcache_gossip; w++) {
        struct gs_window *win = &gs->windows[w];
        for (size_t i = 0; i < win->n; i++) {
            if (strcmp(win->items[i].topic, t->name) != 0)
                continue;
            if (!grow((void **)&ids, &cap_ids, n_ids + 1, sizeof *ids)) {
                free(ids);
                return;
            }
            ids[n_ids++] = &win->items[i];
        }
    }
    if (n_ids == 0) {
        free(ids);
        return;
    }
    shuffle_ptrs((void **)ids, n_ids);
    if (n_ids > (size_t)gs->cfg.max_ihave_length)
        n_ids = (size_t)gs->cfg.max_ihave_length;
    size_t n = 0;
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        struct gs_peer_topic *qt = find_pt(q, t->name);
        if (!q->connected || !is_meshsub(q) || !qt || !qt->subscribed || qt->in_mesh ||
            qt->in_fanout)
            continue;
        if (gs->cfg.score.enabled && peer_score(gs, q, now) < gs->cfg.score.gossip_threshold)
            continue;
        buf[n++] = q;
    }
    shuffle_ptrs((void **)buf, n);
    /* go-libp2p-pubsub: max(D_lazy, gossip_factor x candidates) */
    size_t target = (size_t)gs->cfg.d_lazy;
    size_t by_factor = (size_t)(gs->cfg.gossip_factor * (double)n);
    if (by_factor > target)
        target = by_factor;
    for (size_t i = 0; i < n && i < target; i++)
        queue_ihave(gs, buf[i], t->name, ids, n_ids);
    free(ids);
}

void veil_gs_heartbeat(veil_gs *gs, uint64_t now)
{
    struct gs_peer **buf = calloc(gs->n_peers ? gs->n_peers : 1, sizeof *buf);
    if (!buf)
        return;
    for (size_t i = 0; i < gs->n_peers; i++) {
        gs->peers[i]->ihave_in = 0;
        gs->peers[i]->iwant_asked = 0;
    }
    if (gs->cfg.score.enabled && now - gs->last_decay >= gs->cfg.score.decay_interval_ms) {
        decay_scores(gs);
        gs->last_decay = now;
    }
    /* broken IWANT promises (gossipsub-v1.1 "Behavioural penalty") */
    for (size_t i = 0; i < gs->n_promises;) {
        struct gs_promise *pr = &gs->promises[i];
        if (pr->deadline <= now) {
            struct gs_peer *q = find_peer_serial(gs, pr->peer_serial);
            if (q) {
                add_penalty(q, 1);
                gs->stats.broken_promises++;
            }
            gs->promises[i] = gs->promises[--gs->n_promises];
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < gs->n_topics; i++) {
        struct gs_topic *t = gs->topics[i];
        if (t->subscribed) {
            maintain_mesh(gs, t, buf, now);
            emit_gossip(gs, t, buf, now);
        } else if (t->fanout_last_pub) {
            maintain_fanout(gs, t, buf, now);
            if (t->fanout_last_pub)
                emit_gossip(gs, t, buf, now);
        }
    }
    /* drop topics with neither subscription nor fanout */
    for (size_t i = 0; i < gs->n_topics;) {
        struct gs_topic *t = gs->topics[i];
        if (!t->subscribed && !t->fanout_last_pub) {
            free(t->name);
            free(t);
            gs->topics[i] = gs->topics[--gs->n_topics];
        } else {
            i++;
        }
    }
    /* forget disconnected peers once their score is no longer retained */
    for (size_t i = 0; i < gs->n_peers;) {
        struct gs_peer *q = gs->peers[i];
        if (!q->connected && now - q->disconnected_at >= gs->cfg.score.retain_score_ms) {
            gs->peers[i] = gs->peers[--gs->n_peers];
            peer_free(q);
        } else {
            i++;
        }
    }
    gs->heartbeats++;
    mcache_shift(gs);
    if (gs->heartbeats % 10 == 0 && gs->seen_count > 0) {
        /* drop expired seen entries and shrink the table to fit the rest */
        size_t live = 0;
        for (size_t i = 0; i < gs->seen_cap; i++)
            live += gs->seen[i].used && gs->seen[i].expires > now;
        size_t cap = 1024;
        while (cap < live * 2 + 2)
            cap *= 2;
        if (live < gs->seen_count || cap < gs->seen_cap)
            seen_rebuild(gs, cap, now);
    }
    free(buf);
    flush_all(gs);
}

/* ------------------------------------------------------------------------ */
/* local API                                                                */
/* ------------------------------------------------------------------------ */

int veil_gs_subscribe(veil_gs *gs, const char *topic, veil_gs_message_cb cb, void *cb_ctx,
                      uint64_t now, veil_err *err)
{
    if (!topic_name_ok(topic))
        return veil_err_set(err, VEIL_E_INVALID, "gossipsub: topic must be 1..%d bytes",
                            VEIL_GS_TOPIC_MAX);
    struct gs_topic *t = get_topic(gs, topic);
    if (!t)
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
    t->cb = cb;
    t->cb_ctx = cb_ctx;
    if (t->subscribed)
        return 0;
    t->subscribed = true;
    for (size_t i = 0; i < gs->n_peers; i++)
        if (gs->peers[i]->connected)
            queue_sub(gs->peers[i], topic, true);
    /* join (gossipsub-v1.0 "JOIN"): fanout peers first, then others */
    size_t n_mesh = 0;
    for (size_t i = 0; i < gs->n_peers && n_mesh < (size_t)gs->cfg.d; i++) {
        struct gs_peer *q = gs->peers[i];
        struct gs_peer_topic *qt = find_pt(q, topic);
        if (!q->connected || !qt || !qt->in_fanout || qt->backoff_until > now)
            continue;
        if (gs->cfg.score.enabled && peer_score(gs, q, now) < 0)
            continue;
        qt->in_fanout = false;
        graft_peer(gs, q, topic, now);
        n_mesh++;
    }
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer_topic *qt = find_pt(gs->peers[i], topic);
        if (qt)
            qt->in_fanout = false;
    }
    t->fanout_last_pub = 0;
    if (n_mesh < (size_t)gs->cfg.d) {
        struct gs_peer **buf = calloc(gs->n_peers ? gs->n_peers : 1, sizeof *buf);
        if (buf) {
            size_t n = candidates(gs, topic, buf, false, 0, now);
            for (size_t i = 0; i < n && n_mesh < (size_t)gs->cfg.d; i++, n_mesh++)
                graft_peer(gs, buf[i], topic, now);
            free(buf);
        }
    }
    flush_all(gs);
    return 0;
}

int veil_gs_unsubscribe(veil_gs *gs, const char *topic, uint64_t now, veil_err *err)
{
    struct gs_topic *t = find_topic(gs, topic);
    if (!t || !t->subscribed)
        return veil_err_set(err, VEIL_E_NOTFOUND, "gossipsub: not subscribed to %s", topic);
    t->subscribed = false;
    t->cb = NULL;
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        if (!q->connected)
            continue;
        queue_sub(q, topic, false);
        struct gs_peer_topic *qt = find_pt(q, topic);
        if (qt && qt->in_mesh) {
            /* LEAVE: PRUNE with the unsubscribe backoff */
            leave_mesh(gs, qt, now);
            qt->backoff_until = now + gs->cfg.unsubscribe_backoff_ms;
            queue_prune(gs, q, topic, gs->cfg.unsubscribe_backoff_ms, true, now);
        }
    }
    flush_all(gs);
    return 0;
}

int veil_gs_publish(veil_gs *gs, const char *topic, const void *data, size_t len, uint64_t now,
                    veil_err *err)
{
    if (!topic_name_ok(topic))
        return veil_err_set(err, VEIL_E_INVALID, "gossipsub: topic must be 1..%d bytes",
                            VEIL_GS_TOPIC_MAX);
    if (len + VEIL_GS_TOPIC_MAX + 256 > gs->cfg.max_rpc_size)
        return veil_err_set(err, VEIL_E_LIMIT, "gossipsub: message of %zu bytes too large", len);
    veil_buf msg;
    veil_buf_init(&msg);
    uint64_t seq = ++gs->seqno;
    if (veil_gs_build_signed_message(&msg, gs->sk, topic, data, len, seq, err) != 0) {
        veil_buf_free(&msg);
        return -1;
    }
    uint8_t seq_be[8];
    for (int i = 0; i < 8; i++)
        seq_be[i] = (uint8_t)(seq >> (56 - 8 * i));
    struct veil_gs_message vm = {.from = gs->self_id,
                                 .from_len = gs->self_len,
                                 .data = data,
                                 .data_len = len,
                                 .seqno = seq_be,
                                 .seqno_len = 8,
                                 .topic = topic};
    uint8_t id[VEIL_GS_MSG_ID_MAX];
    size_t id_len = gs_message_id(&gs->cfg, &vm, id);
    if (id_len == 0) {
        veil_buf_free(&msg);
        return veil_err_set(err, VEIL_E_INVALID, "gossipsub: message ID function failed");
    }
    seen_add(gs, id, id_len, now);
    mcache_put(gs, id, id_len, topic, msg.data, msg.len);
    struct gs_topic *t = find_topic(gs, topic);
    bool subscribed = t && t->subscribed;
    size_t sent = 0;
    if (!subscribed) {
        /* fanout (gossipsub-v1.0 "Fanout") */
        t = get_topic(gs, topic);
        if (!t) {
            veil_buf_free(&msg);
            return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
        }
        size_t n_fanout = 0;
        for (size_t i = 0; i < gs->n_peers; i++) {
            struct gs_peer_topic *qt = find_pt(gs->peers[i], topic);
            n_fanout += qt && qt->in_fanout && gs->peers[i]->connected;
        }
        if (n_fanout < (size_t)gs->cfg.d) {
            struct gs_peer **buf = calloc(gs->n_peers ? gs->n_peers : 1, sizeof *buf);
            if (buf) {
                size_t n = candidates(gs, topic, buf, false, gs->cfg.score.publish_threshold, now);
                for (size_t i = 0; i < n && n_fanout < (size_t)gs->cfg.d; i++, n_fanout++)
                    get_pt(gs, buf[i], topic)->in_fanout = true;
                free(buf);
            }
        }
        t->fanout_last_pub = now ? now : 1;
    }
    for (size_t i = 0; i < gs->n_peers; i++) {
        struct gs_peer *q = gs->peers[i];
        struct gs_peer_topic *qt = find_pt(q, topic);
        if (!q->connected || !qt || !qt->subscribed)
            continue;
        if (gs->cfg.score.enabled && peer_score(gs, q, now) < gs->cfg.score.publish_threshold)
            continue;
        bool to = gs->cfg.flood_publish || !is_meshsub(q) || qt->in_mesh || qt->in_fanout;
        if (!to)
            continue;
        queue_msg(q, msg.data, msg.len);
        sent++;
    }
    veil_buf_free(&msg);
    flush_all(gs);
    VEIL_LOG_DBG("gossipsub", "published", "topic=%s bytes=%zu peers=%zu", topic, len, sent);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* inspection                                                               */
/* ------------------------------------------------------------------------ */

static size_t list_peers(const veil_gs *gs, const char *topic, bool mesh_only,
                         struct veil_gs_peer_id *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < gs->n_peers; i++) {
        const struct gs_peer *q = gs->peers[i];
        const struct gs_peer_topic *qt = find_pt(q, topic);
        if (!q->connected || !qt || !(mesh_only ? qt->in_mesh : qt->subscribed))
            continue;
        if (n < cap) {
            memcpy(out[n].id, q->id, q->id_len);
            out[n].len = q->id_len;
        }
        n++;
    }
    return n;
}

size_t veil_gs_mesh_peers(const veil_gs *gs, const char *topic, struct veil_gs_peer_id *out,
                          size_t cap)
{
    return list_peers(gs, topic, true, out, cap);
}

size_t veil_gs_topic_peers(const veil_gs *gs, const char *topic, struct veil_gs_peer_id *out,
                           size_t cap)
{
    return list_peers(gs, topic, false, out, cap);
}

double veil_gs_peer_score(const veil_gs *gs, const uint8_t *id, size_t len, uint64_t now)
{
    const struct gs_peer *p = find_peer(gs, id, len);
    return p ? peer_score(gs, p, now) : 0;
}

bool veil_gs_in_backoff(const veil_gs *gs, const uint8_t *id, size_t len, const char *topic,
                        uint64_t now)
{
    const struct gs_peer *p = find_peer(gs, id, len);
    const struct gs_peer_topic *pt = p ? find_pt(p, topic) : NULL;
    return pt && pt->backoff_until > now;
}

void veil_gs_get_stats(const veil_gs *gs, struct veil_gs_stats *out)
{
    *out = gs->stats;
}
