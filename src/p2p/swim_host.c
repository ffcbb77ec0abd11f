// SPDX-License-Identifier: Apache-2.0
/*
 * swim_host.c - runs the SWIM state machine (swim.c) as the libp2p protocol
 * /veil/swim/1.0.0 on a veil_p2p host (owned by the SWIM part of p2p).
 *
 * Transport mapping: a member id is the binary peer ID, its address the
 * binary multiaddr it advertises. Each SWIM message is one uvarint-length-
 * prefixed frame (at most VEIL_SWIM_FRAME_MAX) on a long-lived outbound
 * stream per peer; frames from a peer arrive on the stream it opened to us,
 * and the sender id handed to the state machine is the peer ID the Noise
 * handshake authenticated, never a field of the message. Undeliverable
 * messages (dial or stream failure, a backed-up stream) are dropped like lost
 * datagrams; SWIM's indirect probes and suspicion absorb that.
 *
 * Lifetimes: every asynchronous host call (dial, stream open) holds a
 * reference on the node, so veil_swim_detach only marks the node and frees it
 * once the last callback has come back and the timer handle is closed.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/p2p.h>
#include <veil/swim.h>

#include "p2p_internal.h"

#define SWIM_PEER_PENDING_MAX   (256u * 1024u) /* bytes queued while connecting */
#define SWIM_STREAM_BACKLOG_MAX (1u << 20)     /* unsent bytes before dropping */

enum swim_peer_state {
    SWIM_PEER_IDLE,
    SWIM_PEER_CONNECTING,
    SWIM_PEER_OPEN,
};

struct swim_peer {
    veil_swim_node *node;
    veil_p2p_peer_id id; /* len 0: known only by address (a seed) */
    veil_p2p_multiaddr addr;
    bool has_addr;
    enum swim_peer_state state;
    veil_p2p_stream *out;
    veil_buf pending; /* frames waiting for the stream */
    struct swim_peer *next;
};

struct veil_swim_node {
    veil_p2p_host *host;
    uv_loop_t *loop;
    veil_swim *sw;
    uv_timer_t timer;
    veil_swim_event_fn on_event;
    void *user_data;
    struct swim_peer *peers;
    veil_p2p_lp_inbound *inbound;
    unsigned refs; /* outstanding host callbacks + the timer handle */
    bool detached;
    bool in_pump;
    void (*leave_done)(void *user_data);
    void *leave_user_data;
    uint64_t leave_deadline;
};

static void pump(veil_swim_node *node);

static void node_unref(veil_swim_node *node)
{
    if (--node->refs > 0 || !node->detached)
        return;
    while (node->peers) {
        struct swim_peer *p = node->peers;
        node->peers = p->next;
        veil_buf_free(&p->pending);
        free(p);
    }
    veil_swim_free(node->sw);
    free(node);
}

/* ------------------------------------------------------------------------ */
/* Outbound: one stream per peer                                            */
/* ------------------------------------------------------------------------ */

static struct swim_peer *peer_get(veil_swim_node *node, const uint8_t *id, size_t id_len,
                                  const uint8_t *addr, size_t addr_len)
{
    struct swim_peer *p = NULL;
    for (struct swim_peer *q = node->peers; q; q = q->next) {
        if (id_len ? (q->id.len == id_len && memcmp(q->id.bytes, id, id_len) == 0)
                   : (q->id.len == 0 && q->has_addr && q->addr.len == addr_len &&
                      memcmp(q->addr.bytes, addr, addr_len) == 0)) {
            p = q;
            break;
        }
    }
    if (!p) {
        if (id_len && veil_p2p_peer_id_from_bytes(id, id_len, &(veil_p2p_peer_id){0}, NULL) != 0)
            return NULL;
        p = calloc(1, sizeof *p);
        if (!p)
            return NULL;
        p->node = node;
        veil_buf_init(&p->pending);
        if (id_len) {
            p->id.len = (uint8_t)id_len;
            memcpy(p->id.bytes, id, id_len);
        }
        p->next = node->peers;
        node->peers = p;
    }
    /* Keep the freshest valid address the membership knows. */
    if (addr_len && veil_p2p_multiaddr_from_bytes(addr, addr_len, &p->addr, NULL) == 0)
        p->has_addr = true;
    return p;
}

static void peer_reset(struct swim_peer *p)
{
    p->state = SWIM_PEER_IDLE;
    p->out = NULL;
    veil_buf_reset(&p->pending);
}

static void out_on_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)err;
    struct swim_peer *p = user_data;
    if (p->out == s)
        peer_reset(p);
}

static void out_on_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *user_data)
{
    /* Nothing is expected back on our own stream: replies come on the
     * remote's stream. Ignore rather than trust anything here. */
    (void)s;
    (void)data;
    (void)len;
    (void)user_data;
}

static void on_open(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *user_data)
{
    (void)protocol;
    struct swim_peer *p = user_data;
    veil_swim_node *node = p->node;
    if (node->detached) {
        if (s)
            veil_p2p_stream_reset(s);
        node_unref(node);
        return;
    }
    if (!s) {
        VEIL_LOG_DBG("swim", "stream open failed", "peer=%s err=\"%s\"",
                     veil_p2p_peer_id_str(&p->id).s, err ? err->msg : "");
        peer_reset(p);
        node_unref(node);
        return;
    }
    static const struct veil_p2p_stream_callbacks cbs = {
        .on_data = out_on_data,
        .on_close = out_on_close,
    };
    veil_p2p_stream_set_callbacks(s, &cbs, p);
    p->out = s;
    p->state = SWIM_PEER_OPEN;
    if (p->pending.len &&
        veil_p2p_stream_write(s, p->pending.data, p->pending.len, NULL, NULL, NULL) != 0) {
        veil_p2p_stream_reset(s);
        peer_reset(p);
    }
    veil_buf_reset(&p->pending);
    node_unref(node);
}

static void open_stream(struct swim_peer *p, veil_p2p_conn *conn)
{
    static const char *const protos[] = {VEIL_SWIM_PROTOCOL_ID};
    veil_err err;
    p->node->refs++;
    if (veil_p2p_conn_new_stream(conn, protos, 1, on_open, p, &err) != 0) {
        p->node->refs--;
        VEIL_LOG_DBG("swim", "stream open failed", "err=\"%s\"", err.msg);
        peer_reset(p);
        return;
    }
    p->state = SWIM_PEER_CONNECTING;
}

static void on_dial(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err, void *user_data)
{
    (void)host;
    struct swim_peer *p = user_data;
    veil_swim_node *node = p->node;
    if (node->detached) {
        node_unref(node);
        return;
    }
    if (!conn) {
        VEIL_LOG_DBG("swim", "dial failed", "peer=%s err=\"%s\"", veil_p2p_peer_id_str(&p->id).s,
                     err ? err->msg : "");
        peer_reset(p);
        node_unref(node);
        return;
    }
    if (p->id.len == 0)
        p->id = *veil_p2p_conn_peer(conn);
    open_stream(p, conn);
    node_unref(node);
}

static void peer_connect(struct swim_peer *p)
{
    veil_swim_node *node = p->node;
    veil_p2p_conn *conn = p->id.len ? veil_p2p_host_find_conn(node->host, &p->id) : NULL;
    if (conn) {
        open_stream(p, conn);
        return;
    }
    if (!p->has_addr) {
        peer_reset(p); /* nowhere to send: the message is lost */
        return;
    }
    veil_err err;
    node->refs++;
    if (veil_p2p_host_dial(node->host, &p->addr, p->id.len ? &p->id : NULL, on_dial, p, &err) !=
        0) {
        node->refs--;
        VEIL_LOG_DBG("swim", "dial failed", "err=\"%s\"", err.msg);
        peer_reset(p);
        return;
    }
    p->state = SWIM_PEER_CONNECTING;
}

static void send_packet(veil_swim_node *node, const struct veil_swim_packet *pkt)
{
    struct swim_peer *p =
        peer_get(node, pkt->to_id, pkt->to_id_len, pkt->to_addr, pkt->to_addr_len);
    if (!p)
        return;
    if (p->state == SWIM_PEER_OPEN) {
        if (veil_p2p_stream_write_queued(p->out) > SWIM_STREAM_BACKLOG_MAX)
            return; /* the peer is not keeping up: drop, as the network would */
        if (veil_p2p_stream_write_lp(p->out, pkt->data, pkt->len, NULL, NULL, NULL) == 0)
            return;
        veil_p2p_stream_reset(p->out);
        peer_reset(p);
    }
    if (p->pending.len + pkt->len + 10 > SWIM_PEER_PENDING_MAX)
        return;
    veil_p2p_lp_put(&p->pending, pkt->data, pkt->len);
    if (p->state == SWIM_PEER_IDLE)
        peer_connect(p);
}

/* ------------------------------------------------------------------------ */
/* Inbound streams                                                          */
/* ------------------------------------------------------------------------ */

static int in_on_message(void *arg, const uint8_t *msg, size_t n, veil_err *err)
{
    veil_p2p_lp_inbound *in = arg;
    veil_swim_node *node = in->owner;
    return veil_swim_handle(node->sw, in->from.bytes, in->from.len, msg, n, uv_now(node->loop),
                            err);
}

static void in_after_data(void *owner)
{
    pump(owner);
}

static void on_inbound(veil_p2p_stream *s, const char *protocol, void *user_data)
{
    (void)protocol;
    veil_swim_node *node = user_data;
    /* A peer that breaks the framing or the format loses this stream; the
     * node itself carries on (pump runs after every chunk either way). */
    static const struct veil_p2p_lp_inbound_ops ops = {
        .on_msg = in_on_message,
        .after_data = in_after_data,
        .log_level = VEIL_LOG_WARN,
        .log_sub = "swim",
        .log_msg = "malformed message",
    };
    if (node->detached ||
        !veil_p2p_lp_inbound_open(&node->inbound, s, VEIL_SWIM_FRAME_MAX, &ops, node))
        veil_p2p_stream_reset(s);
}

/* ------------------------------------------------------------------------ */
/* Driving the state machine                                                */
/* ------------------------------------------------------------------------ */

/* Forgets idle peers the membership no longer knows (reaped dead members),
 * so the peer list stays bounded by the membership. An idle peer has no
 * host callback outstanding. */
static void prune_peers(veil_swim_node *node)
{
    for (struct swim_peer **pp = &node->peers; *pp;) {
        struct swim_peer *p = *pp;
        struct veil_swim_member m;
        if (p->state == SWIM_PEER_IDLE && p->id.len &&
            !veil_swim_member_find(node->sw, p->id.bytes, p->id.len, &m)) {
            *pp = p->next;
            veil_buf_free(&p->pending);
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    veil_swim_node *node = t->data;
    veil_swim_tick(node->sw, uv_now(node->loop));
    prune_peers(node);
    pump(node);
}

/* Sends what the state machine queued, delivers its events, handles the
 * end of a leave and re-arms the timer. */
static void pump(veil_swim_node *node)
{
    if (node->in_pump || node->detached)
        return;
    node->in_pump = true;
    struct veil_swim_packet pkt;
    while (!node->detached && veil_swim_pop_packet(node->sw, &pkt)) {
        send_packet(node, &pkt);
        veil_swim_packet_clear(&pkt);
    }
    struct veil_swim_event ev;
    while (!node->detached && veil_swim_pop_event(node->sw, &ev))
        if (node->on_event)
            node->on_event(node, &ev, node->user_data);
    node->in_pump = false;
    if (node->detached)
        return;
    uint64_t now = uv_now(node->loop);
    if (node->leave_done && (veil_swim_leave_flushed(node->sw) || now >= node->leave_deadline)) {
        void (*done)(void *) = node->leave_done;
        node->leave_done = NULL;
        done(node->leave_user_data);
        if (node->detached)
            return;
    }
    uint64_t next = veil_swim_next_deadline(node->sw);
    if (node->leave_done && node->leave_deadline < next)
        next = node->leave_deadline;
    uv_timer_start(&node->timer, on_timer, next > now ? next - now : 0, 0);
}

int veil_swim_attach(struct veil_p2p_host *host, const struct veil_swim_attach_config *cfg,
                     veil_swim_node **out, veil_err *err)
{
    *out = NULL;
    veil_p2p_multiaddr addr;
    if (cfg && cfg->advertise_addr) {
        if (veil_p2p_multiaddr_parse(cfg->advertise_addr, &addr, err) != 0)
            return veil_err_wrap(err, "swim: advertise address");
    } else if (veil_p2p_host_listen_addrs(host, &addr, 1) == 0) {
        return veil_err_set(err, VEIL_E_STATE,
                            "swim: the host listens nowhere and no address was given");
    }
    veil_p2p_multiaddr bare;
    veil_p2p_multiaddr_strip_peer(&addr, &bare);
    if (bare.len > VEIL_SWIM_ADDR_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "swim: address of %zu bytes is too long", bare.len);
    veil_swim_node *node = calloc(1, sizeof *node);
    if (!node)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    node->host = host;
    node->loop = veil_p2p_host_loop(host);
    node->on_event = cfg ? cfg->on_event : NULL;
    node->user_data = cfg ? cfg->user_data : NULL;
    const veil_p2p_peer_id *self = veil_p2p_host_peer_id(host);
    uv_update_time(node->loop);
    node->sw = veil_swim_new(cfg ? cfg->swim : NULL, self->bytes, self->len, bare.bytes, bare.len,
                             cfg ? cfg->meta : NULL, cfg ? cfg->meta_len : 0, NULL, NULL,
                             uv_now(node->loop), err);
    if (!node->sw) {
        free(node);
        return -1;
    }
    if (veil_p2p_host_set_handler(host, VEIL_SWIM_PROTOCOL_ID, on_inbound, node, err) != 0) {
        veil_swim_free(node->sw);
        free(node);
        return -1;
    }
    uv_timer_init(node->loop, &node->timer);
    node->timer.data = node;
    node->refs = 1; /* the timer handle */
    pump(node);
    *out = node;
    return 0;
}

int veil_swim_node_join(veil_swim_node *node, const char *seed_multiaddr, veil_err *err)
{
    veil_p2p_multiaddr ma, bare;
    if (veil_p2p_multiaddr_parse(seed_multiaddr, &ma, err) != 0)
        return veil_err_wrap(err, "swim: seed address");
    veil_p2p_peer_id id;
    bool has_id = veil_p2p_multiaddr_peer_id(&ma, &id, NULL) == 0;
    veil_p2p_multiaddr_strip_peer(&ma, &bare);
    if (bare.len > VEIL_SWIM_ADDR_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "swim: seed address too long");
    if (has_id && veil_p2p_peer_id_equal(&id, veil_p2p_host_peer_id(node->host)))
        return veil_err_set(err, VEIL_E_INVALID, "swim: the seed is this node itself");
    if (veil_swim_join(node->sw, has_id ? id.bytes : NULL, has_id ? id.len : 0, bare.bytes,
                       bare.len, uv_now(node->loop), err) != 0)
        return -1;
    pump(node);
    return 0;
}

void veil_swim_node_leave(veil_swim_node *node, uint64_t grace_ms, void (*done)(void *user_data),
                          void *user_data)
{
    uint64_t now = uv_now(node->loop);
    veil_swim_leave(node->sw, now);
    node->leave_done = done;
    node->leave_user_data = user_data;
    node->leave_deadline = now + grace_ms;
    pump(node);
}

static void timer_closed(uv_handle_t *h)
{
    node_unref(h->data);
}

void veil_swim_detach(veil_swim_node *node)
{
    if (!node || node->detached)
        return;
    node->detached = true;
    veil_p2p_host_remove_handler(node->host, VEIL_SWIM_PROTOCOL_ID);
    for (struct swim_peer *p = node->peers; p; p = p->next) {
        if (p->out)
            veil_p2p_stream_reset(p->out);
        peer_reset(p);
    }
    veil_p2p_lp_inbound_drop_all(&node->inbound);
    uv_timer_stop(&node->timer);
    uv_close((uv_handle_t *)&node->timer, timer_closed);
}

const veil_swim *veil_swim_node_state(const veil_swim_node *node)
{
    return node->sw;
}
