// SPDX-License-Identifier: Apache-2.0
/*
 * gossipsub_host.c - runs the gossipsub router (gossipsub.c) on a libp2p
 * host (veil/p2p.h): one outbound pubsub stream per peer carrying
 * uvarint-prefixed RPCs (pubsub README "The RPC"), inbound streams feeding
 * veil_gs_handle_rpc with the authenticated peer ID, and the heartbeat on a
 * libuv timer. Peers are added when identify lists a pubsub protocol or when
 * they open a pubsub stream to us, removed when their last connection goes.
 *
 * A peer whose outbound stream fails to open, or closes while a connection
 * to it remains, stays in the router (RPCs queue in `pending`) and the open
 * is retried with exponential backoff (GSH_RETRY_*); only after
 * GSH_RETRY_MAX failures in a row, or when no connection is left, is it
 * dropped. A stream that stayed up GSH_RETRY_STABLE_MS clears the count.
 *
 * Lifetimes: every asynchronous host call (stream open) holds a reference
 * on the attachment, so veil_gossipsub_detach marks it and frees it once the
 * last callback came back and both timer handles are closed.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/gossipsub.h>
#include <veil/p2p.h>

#include "p2p_internal.h"

#define GSH_PENDING_MAX     (2u << 20) /* bytes queued while the stream opens */
#define GSH_BACKLOG_MAX     (8u << 20) /* unsent bytes before RPCs are dropped */
#define GSH_RETRY_MAX       8          /* failed opens in a row before the peer is dropped */
#define GSH_RETRY_BASE_MS   100        /* first retry delay, doubled per failure */
#define GSH_RETRY_CAP_MS    5000       /* longest retry delay */
#define GSH_RETRY_TICK_MS   50         /* retry timer period while retries are due */
#define GSH_RETRY_STABLE_MS 10000      /* a stream up this long clears the failure count */

static const char *const gsh_protocols[] = {VEIL_GS_PROTO_MESHSUB_11, VEIL_GS_PROTO_MESHSUB_10,
                                            VEIL_GS_PROTO_FLOODSUB};

struct gsh_peer {
    veil_gossipsub *g;
    veil_p2p_peer_id id;
    veil_p2p_stream *out;
    bool opening;
    bool gone;          /* disconnected: free once no callback is outstanding */
    int failures;       /* failed or lost outbound streams in a row */
    uint64_t retry_at;  /* when to open again (ms, loop time); 0 = none due */
    uint64_t opened_at; /* when the current stream opened */
    veil_buf pending;
    struct gsh_peer *next;
};

struct veil_gossipsub {
    veil_p2p_host *host;
    uv_loop_t *loop;
    veil_gs *gs;
    size_t max_rpc;
    uv_timer_t timer;
    uv_timer_t retry_timer;  /* runs only while a peer waits for a retry */
    uint64_t stream_retries; /* opens retried after a failure (statistics) */
    int listener;
    struct gsh_peer *peers;
    veil_p2p_lp_inbound *inbound;
    unsigned refs;
    bool detached;
    void (*px_fn)(void *ctx, const uint8_t *peer, size_t len);
    void *px_ctx;
};

static uint64_t now_ms(const veil_gossipsub *g)
{
    return uv_now(g->loop);
}

static void g_unref(veil_gossipsub *g)
{
    if (--g->refs > 0 || !g->detached)
        return;
    while (g->peers) {
        struct gsh_peer *p = g->peers;
        g->peers = p->next;
        veil_buf_free(&p->pending);
        free(p);
    }
    veil_gs_free(g->gs);
    free(g);
}

static struct gsh_peer *peer_find(veil_gossipsub *g, const veil_p2p_peer_id *id)
{
    for (struct gsh_peer *p = g->peers; p; p = p->next)
        if (veil_p2p_peer_id_equal(&p->id, id))
            return p;
    return NULL;
}

static void peer_unlink_free(veil_gossipsub *g, struct gsh_peer *p)
{
    for (struct gsh_peer **pp = &g->peers; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    veil_buf_free(&p->pending);
    free(p);
}

/* The peer is no longer usable: drop it from the router and free it unless
 * a stream open is still outstanding (its callback frees it). */
static void peer_drop(veil_gossipsub *g, struct gsh_peer *p)
{
    veil_gs_remove_peer(g->gs, p->id.bytes, p->id.len, now_ms(g));
    p->gone = true;
    if (p->out) {
        veil_p2p_stream *s = p->out;
        p->out = NULL;
        veil_p2p_stream_reset(s);
    }
    if (!p->opening)
        peer_unlink_free(g, p);
}

/* ---- outbound ---------------------------------------------------------- */

static void send_rpc(void *ctx, const uint8_t *peer, size_t peer_len, const uint8_t *rpc,
                     size_t len)
{
    veil_gossipsub *g = ctx;
    veil_p2p_peer_id id;
    if (veil_p2p_peer_id_from_bytes(peer, peer_len, &id, NULL) != 0)
        return;
    struct gsh_peer *p = peer_find(g, &id);
    if (!p || p->gone)
        return;
    if (p->out) {
        if (veil_p2p_stream_write_queued(p->out) > GSH_BACKLOG_MAX) {
            VEIL_LOG_DBG("gossipsub", "dropping RPC to slow peer", "peer=%s bytes=%zu",
                         veil_p2p_peer_id_str(&p->id).s, len);
            return;
        }
        veil_err err;
        if (veil_p2p_stream_write_lp(p->out, rpc, len, NULL, NULL, &err) != 0)
            VEIL_LOG_DBG("gossipsub", "write failed", "peer=%s err=\"%s\"",
                         veil_p2p_peer_id_str(&p->id).s, err.msg);
        return;
    }
    if (p->pending.len + len + 10 > GSH_PENDING_MAX)
        return;
    veil_p2p_lp_put(&p->pending, rpc, len);
}

static void px_peer(void *ctx, const uint8_t *peer, size_t len)
{
    veil_gossipsub *g = ctx;
    if (g->px_fn)
        g->px_fn(g->px_ctx, peer, len);
}

static void open_out(veil_gossipsub *g, struct gsh_peer *p);
static void schedule_retry(veil_gossipsub *g, struct gsh_peer *p, const char *why);

static void out_on_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    /* the remote never writes on our outbound stream; ignore */
    (void)s;
    (void)data;
    (void)len;
    (void)ud;
}

static void out_on_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    struct gsh_peer *p = ud;
    veil_gossipsub *g = p->g;
    (void)err;
    if (p->out != s)
        return;
    p->out = NULL;
    if (g->detached || p->gone)
        return;
    if (now_ms(g) - p->opened_at >= GSH_RETRY_STABLE_MS)
        p->failures = 0;
    /* the connection may have been one of two to this peer, or the remote
     * reset only the stream: open again on what remains */
    schedule_retry(g, p, err ? err->msg : "stream closed");
}

static void on_open(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    struct gsh_peer *p = ud;
    veil_gossipsub *g = p->g;
    p->opening = false;
    if (g->detached || p->gone) {
        if (s)
            veil_p2p_stream_reset(s);
        if (p->gone && !g->detached)
            peer_unlink_free(g, p);
        g_unref(g);
        return;
    }
    if (!s) {
        schedule_retry(g, p, err ? err->msg : "open failed");
        g_unref(g);
        return;
    }
    (void)protocol;
    p->out = s;
    p->opened_at = now_ms(g);
    static const struct veil_p2p_stream_callbacks cbs = {
        .on_data = out_on_data,
        .on_close = out_on_close,
    };
    veil_p2p_stream_set_callbacks(s, &cbs, p);
    if (p->pending.len) {
        veil_err werr;
        if (veil_p2p_stream_write(s, p->pending.data, p->pending.len, NULL, NULL, &werr) != 0)
            VEIL_LOG_DBG("gossipsub", "write failed", "err=\"%s\"", werr.msg);
        veil_buf_reset(&p->pending);
    }
    g_unref(g);
}

static void open_out(veil_gossipsub *g, struct gsh_peer *p)
{
    veil_err err;
    p->opening = true;
    g->refs++;
    if (veil_p2p_host_new_stream(g->host, &p->id, gsh_protocols, VEIL_ARRAY_LEN(gsh_protocols),
                                 on_open, p, &err) != 0) {
        p->opening = false;
        g->refs--;
        schedule_retry(g, p, err.msg);
    }
}

static void retry_tick(uv_timer_t *t)
{
    veil_gossipsub *g = t->data;
    uint64_t now = now_ms(g);
    bool waiting = false;
    for (struct gsh_peer *p = g->peers, *next; p; p = next) {
        next = p->next; /* open_out may drop p */
        if (p->gone || p->out || p->opening || !p->retry_at)
            continue;
        if (now < p->retry_at) {
            waiting = true;
            continue;
        }
        p->retry_at = 0;
        g->stream_retries++;
        open_out(g, p);
    }
    for (struct gsh_peer *p = g->peers; p && !waiting; p = p->next)
        waiting = !p->gone && p->retry_at;
    if (!waiting)
        uv_timer_stop(&g->retry_timer);
}

/* The outbound stream failed or was lost: retry later while a connection
 * remains and the failures are few, else drop the peer. */
static void schedule_retry(veil_gossipsub *g, struct gsh_peer *p, const char *why)
{
    if (!veil_p2p_host_find_conn(g->host, &p->id) || p->failures >= GSH_RETRY_MAX) {
        veil_log(VEIL_LOG_INFO, "gossipsub", "dropping peer: no pubsub stream",
                 "peer=%s tries=%d err=\"%s\"", veil_p2p_peer_id_str(&p->id).s, p->failures, why);
        peer_drop(g, p);
        return;
    }
    uint64_t delay = (uint64_t)GSH_RETRY_BASE_MS << p->failures;
    p->failures++;
    p->retry_at = now_ms(g) + (delay < GSH_RETRY_CAP_MS ? delay : GSH_RETRY_CAP_MS);
    VEIL_LOG_DBG("gossipsub", "pubsub stream failed, retrying",
                 "peer=%s try=%d in_ms=%llu err=\"%s\"", veil_p2p_peer_id_str(&p->id).s,
                 p->failures, (unsigned long long)(p->retry_at - now_ms(g)), why);
    if (!uv_is_active((uv_handle_t *)&g->retry_timer))
        uv_timer_start(&g->retry_timer, retry_tick, GSH_RETRY_TICK_MS, GSH_RETRY_TICK_MS);
}

static enum veil_gs_peer_proto proto_of(const char *protocol)
{
    if (strcmp(protocol, VEIL_GS_PROTO_MESHSUB_11) == 0)
        return VEIL_GS_MESHSUB_11;
    if (strcmp(protocol, VEIL_GS_PROTO_MESHSUB_10) == 0)
        return VEIL_GS_MESHSUB_10;
    return VEIL_GS_FLOODSUB;
}

/* Adds a peer to the router (once) and opens our stream to it. */
static struct gsh_peer *peer_ensure(veil_gossipsub *g, const veil_p2p_peer_id *id,
                                    enum veil_gs_peer_proto proto, bool outbound)
{
    struct gsh_peer *p = peer_find(g, id);
    if (p && !p->gone)
        return p;
    if (p) /* gone but its open is still pending: it will free itself */
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->g = g;
    p->id = *id;
    veil_buf_init(&p->pending);
    p->next = g->peers;
    g->peers = p;
    veil_err err;
    /* queue first: add_peer sends our subscriptions through send_rpc */
    if (veil_gs_add_peer(g->gs, id->bytes, id->len, proto, outbound, now_ms(g), &err) != 0) {
        VEIL_LOG_DBG("gossipsub", "peer refused", "peer=%s err=\"%s\"", veil_p2p_peer_id_str(id).s,
                     err.msg);
        peer_unlink_free(g, p);
        return NULL;
    }
    open_out(g, p);
    return peer_find(g, id);
}

/* ---- inbound ----------------------------------------------------------- */

/* A malformed RPC costs the peer score, not the stream. */
static int in_on_rpc(void *arg, const uint8_t *msg, size_t n, veil_err *err)
{
    veil_p2p_lp_inbound *in = arg;
    veil_gossipsub *g = in->owner;
    if (veil_gs_handle_rpc(g->gs, in->from.bytes, in->from.len, msg, n, now_ms(g), err) != 0)
        VEIL_LOG_DBG("gossipsub", "bad RPC", "peer=%s err=\"%s\"",
                     veil_p2p_peer_id_str(&in->from).s, err->msg);
    return 0;
}

static void on_inbound(veil_p2p_stream *s, const char *protocol, void *ud)
{
    veil_gossipsub *g = ud;
    const veil_p2p_peer_id *from = veil_p2p_stream_peer(s);
    static const struct veil_p2p_lp_inbound_ops ops = {
        .on_msg = in_on_rpc,
        .log_level = VEIL_LOG_DEBUG,
        .log_sub = "gossipsub",
        .log_msg = "closing pubsub stream",
    };
    /* the frame limit is the RPC limit (go-libp2p-pubsub: 1 MiB) */
    veil_p2p_lp_inbound *in =
        g->detached ? NULL : veil_p2p_lp_inbound_open(&g->inbound, s, g->max_rpc, &ops, g);
    if (!in) {
        veil_p2p_stream_reset(s);
        return;
    }
    /* one inbound pubsub stream per peer (as go-libp2p-pubsub): a new one
     * replaces the old, so a peer cannot pile up half-read 1 MiB frames */
    for (veil_p2p_lp_inbound *old = in->next; old; old = old->next) {
        if (veil_p2p_peer_id_equal(&old->from, from)) {
            veil_p2p_lp_inbound_drop(old);
            break;
        }
    }
    veil_p2p_conn *c = veil_p2p_stream_conn(s);
    (void)peer_ensure(g, from, proto_of(protocol), c ? !veil_p2p_conn_is_inbound(c) : false);
}

/* ---- connection events ------------------------------------------------- */

static void on_identified(veil_p2p_host *host, veil_p2p_conn *conn,
                          const struct veil_p2p_peer_info *info, void *ud)
{
    veil_gossipsub *g = ud;
    (void)host;
    if (g->detached)
        return;
    const char *best = NULL;
    for (size_t i = 0; i < VEIL_ARRAY_LEN(gsh_protocols) && !best; i++)
        for (size_t k = 0; k < info->n_protocols; k++)
            if (strcmp(info->protocols[k], gsh_protocols[i]) == 0)
                best = gsh_protocols[i];
    if (!best)
        return;
    (void)peer_ensure(g, &info->id, proto_of(best), !veil_p2p_conn_is_inbound(conn));
}

static void on_disconnected(veil_p2p_host *host, veil_p2p_conn *conn, void *ud)
{
    veil_gossipsub *g = ud;
    if (g->detached)
        return;
    const veil_p2p_peer_id *id = veil_p2p_conn_peer(conn);
    veil_p2p_conn *other = veil_p2p_host_find_conn(host, id);
    if (other && other != conn)
        return;
    struct gsh_peer *p = peer_find(g, id);
    if (p && !p->gone)
        peer_drop(g, p);
}

static void on_timer(uv_timer_t *t)
{
    veil_gossipsub *g = t->data;
    veil_gs_heartbeat(g->gs, now_ms(g));
}

/* ---- API --------------------------------------------------------------- */

int veil_gossipsub_attach(veil_p2p_host *host, const struct veil_gs_config *cfg,
                          veil_gossipsub **out, veil_err *err)
{
    *out = NULL;
    struct veil_gs_config defaults;
    if (!cfg) {
        veil_gs_config_default(&defaults);
        cfg = &defaults;
    }
    veil_gossipsub *g = calloc(1, sizeof *g);
    if (!g)
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory");
    g->host = host;
    g->loop = veil_p2p_host_loop(host);
    g->max_rpc = cfg->max_rpc_size;
    const veil_p2p_keypair *kp = veil_p2p_host_keypair(host);
    struct veil_gs_callbacks cb = {.send_rpc = send_rpc, .px_peer = px_peer, .ctx = g};
    if (veil_gs_new(&g->gs, cfg, kp->secret_key, &cb, err) != 0) {
        free(g);
        return -1;
    }
    for (size_t i = 0; i < VEIL_ARRAY_LEN(gsh_protocols); i++) {
        if (veil_p2p_host_set_handler(host, gsh_protocols[i], on_inbound, g, err) != 0) {
            for (size_t k = 0; k < i; k++)
                veil_p2p_host_remove_handler(host, gsh_protocols[k]);
            veil_gs_free(g->gs);
            free(g);
            return -1;
        }
    }
    static const struct veil_p2p_events ev = {
        .on_identified = on_identified,
        .on_disconnected = on_disconnected,
    };
    g->listener = veil_p2p_host_add_listener(host, &ev, g, err);
    if (g->listener < 0) {
        for (size_t k = 0; k < VEIL_ARRAY_LEN(gsh_protocols); k++)
            veil_p2p_host_remove_handler(host, gsh_protocols[k]);
        veil_gs_free(g->gs);
        free(g);
        return -1;
    }
    uv_timer_init(g->loop, &g->timer);
    g->timer.data = g;
    uv_timer_init(g->loop, &g->retry_timer);
    g->retry_timer.data = g;
    g->refs = 2; /* the two timer handles */
    uv_timer_start(&g->timer, on_timer, cfg->heartbeat_ms, cfg->heartbeat_ms);
    /* peers identified before we attached */
    veil_p2p_conn *conns[256];
    size_t n = veil_p2p_host_conns(host, conns, VEIL_ARRAY_LEN(conns));
    for (size_t i = 0; i < n && i < VEIL_ARRAY_LEN(conns); i++) {
        const struct veil_p2p_peer_info *info = veil_p2p_conn_peer_info(conns[i]);
        if (info)
            on_identified(host, conns[i], info, g);
    }
    *out = g;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    g_unref(h->data);
}

void veil_gossipsub_detach(veil_gossipsub *g)
{
    if (!g || g->detached)
        return;
    g->detached = true;
    veil_p2p_host_remove_listener(g->host, g->listener);
    for (size_t k = 0; k < VEIL_ARRAY_LEN(gsh_protocols); k++)
        veil_p2p_host_remove_handler(g->host, gsh_protocols[k]);
    veil_p2p_lp_inbound_drop_all(&g->inbound);
    for (struct gsh_peer *p = g->peers; p; p = p->next) {
        if (p->out) {
            veil_p2p_stream *s = p->out;
            p->out = NULL;
            veil_p2p_stream_reset(s);
        }
    }
    uv_timer_stop(&g->timer);
    uv_timer_stop(&g->retry_timer);
    uv_close((uv_handle_t *)&g->timer, timer_closed);
    uv_close((uv_handle_t *)&g->retry_timer, timer_closed);
}

uint64_t veil_gossipsub_stream_retries(const veil_gossipsub *g)
{
    return g->stream_retries;
}

int veil_gossipsub_subscribe(veil_gossipsub *g, const char *topic, veil_gs_message_cb cb,
                             void *cb_ctx, veil_err *err)
{
    return veil_gs_subscribe(g->gs, topic, cb, cb_ctx, now_ms(g), err);
}

int veil_gossipsub_unsubscribe(veil_gossipsub *g, const char *topic, veil_err *err)
{
    return veil_gs_unsubscribe(g->gs, topic, now_ms(g), err);
}

int veil_gossipsub_publish(veil_gossipsub *g, const char *topic, const void *data, size_t len,
                           veil_err *err)
{
    return veil_gs_publish(g->gs, topic, data, len, now_ms(g), err);
}

size_t veil_gossipsub_mesh_peers(const veil_gossipsub *g, const char *topic,
                                 struct veil_gs_peer_id *out, size_t cap)
{
    return veil_gs_mesh_peers(g->gs, topic, out, cap);
}

size_t veil_gossipsub_topic_peers(const veil_gossipsub *g, const char *topic,
                                  struct veil_gs_peer_id *out, size_t cap)
{
    return veil_gs_topic_peers(g->gs, topic, out, cap);
}

veil_gs *veil_gossipsub_router(veil_gossipsub *g)
{
    return g->gs;
}

void veil_gossipsub_set_px_handler(veil_gossipsub *g,
                                   void (*fn)(void *ctx, const uint8_t *peer, size_t len),
                                   void *ctx)
{
    g->px_fn = fn;
    g->px_ctx = ctx;
}

size_t veil_gossipsub_pending_bytes(const veil_gossipsub *g)
{
    size_t n = 0;
    for (const struct gsh_peer *p = g->peers; p; p = p->next) {
        if (p->gone)
            continue;
        n += p->pending.len;
        if (p->out)
            n += veil_p2p_stream_write_queued(p->out);
    }
    return n;
}
