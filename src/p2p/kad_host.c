// SPDX-License-Identifier: Apache-2.0
/*
 * kad_host.c - runs Kademlia (kad.c) on a libp2p host: serves
 * /ipfs/kad/1.0.0 in server mode (uvarint-prefixed Message request/response
 * pairs on a stream, kad-dht README "RPC messages"), fills the routing table
 * from identify, and runs iterative lookups whose queries dial peers, open a
 * stream, send FIND_NODE and read one answer, each within a deadline.
 *
 * Lifetimes: a query holds a reference for each outstanding host callback
 * (dial, stream open) and is freed once it is finished and none is left; the
 * attachment holds one reference per live query plus one for its timer, so
 * veil_kad_detach frees it only after everything has come back.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/kad.h>
#include <veil/p2p.h>

#include "p2p_internal.h"

#define KAD_TICK_MS          200
#define KAD_INBOUND_PER_PEER 32

struct klookup;

struct kquery {
    veil_kad *kad;
    struct klookup *lk;    /* NULL for a single veil_kad_query */
    veil_kad_lookup_cb cb; /* single query */
    void *ud;
    struct veil_kad_peer peer;
    veil_p2p_peer_id pid;
    uint8_t target[VEIL_KAD_ID_MAX];
    size_t target_len;
    veil_p2p_stream *stream;
    veil_p2p_lp_reader rd;
    uint64_t deadline;
    unsigned addr_idx;
    int refs;
    bool done;
    struct kquery *next;
};

struct klookup {
    veil_kad *kad;
    veil_kad_lookup *l;
    veil_kad_lookup_cb cb;
    void *ud;
    uint8_t target[VEIL_KAD_ID_MAX];
    size_t target_len;
    int bootstrap_phase; /* 0 = plain lookup, 1 = self, 2 = random */
    bool started;        /* lookups start on the next tick, never inside the API call */
    bool in_pump, again, finished;
    struct klookup *next;
};

struct veil_kad {
    veil_p2p_host *host;
    uv_loop_t *loop;
    struct veil_kad_config cfg;
    veil_kad_table *table;
    uv_timer_t timer;
    int listener;
    struct kquery *queries;
    struct klookup *lookups;
    veil_p2p_lp_inbound *inbound;
    unsigned refs;
    bool detached;
    uint64_t last_refresh;
};

void veil_kad_config_default(struct veil_kad_config *cfg)
{
    cfg->k = VEIL_KAD_K;
    cfg->alpha = VEIL_KAD_ALPHA;
    cfg->query_timeout_ms = 10000;
    cfg->dial_discovered = true;
    cfg->refresh_interval_ms = 10 * 60 * 1000;
}

static void kad_unref(veil_kad *kad)
{
    if (--kad->refs > 0 || !kad->detached)
        return;
    veil_kad_table_free(kad->table);
    free(kad);
}

static void lookup_pump(struct klookup *lk);

/* ---- peers from the host ------------------------------------------------ */

static void add_from_info(veil_kad *kad, const struct veil_p2p_peer_info *info)
{
    struct veil_kad_peer p;
    if (veil_kad_peer_init(&p, info->id.bytes, info->id.len, NULL) != 0)
        return;
    for (size_t i = 0; i < info->n_listen_addrs; i++) {
        veil_p2p_multiaddr bare;
        veil_p2p_multiaddr_strip_peer(&info->listen_addrs[i], &bare);
        veil_kad_peer_add_addr(&p, bare.bytes, bare.len);
    }
    (void)veil_kad_table_add(kad->table, &p, uv_now(kad->loop));
}

static void on_identified(veil_p2p_host *host, veil_p2p_conn *conn,
                          const struct veil_p2p_peer_info *info, void *ud)
{
    veil_kad *kad = ud;
    (void)host;
    (void)conn;
    if (kad->detached)
        return;
    for (size_t i = 0; i < info->n_protocols; i++)
        if (strcmp(info->protocols[i], VEIL_KAD_PROTO) == 0)
            add_from_info(kad, info);
}

/* ---- server ------------------------------------------------------------- */

/* Answers one request on the stream it came in on. */
static int in_on_request(void *arg, const uint8_t *msg, size_t n, veil_err *err)
{
    veil_p2p_lp_inbound *in = arg;
    veil_kad *kad = in->owner;
    veil_buf resp;
    veil_buf_init(&resp);
    int rc = veil_kad_serve(kad->table, in->from.bytes, in->from.len, msg, n, &resp, err);
    if (rc == 0)
        rc = veil_p2p_stream_write_lp(in->stream, resp.data, resp.len, NULL, NULL, err);
    veil_buf_free(&resp);
    return rc;
}

static void on_inbound(veil_p2p_stream *s, const char *protocol, void *ud)
{
    veil_kad *kad = ud;
    (void)protocol;
    if (kad->detached) {
        veil_p2p_stream_reset(s);
        return;
    }
    /* bound the request streams one peer may hold open (js-libp2p allows
     * 32 inbound kad streams per connection) */
    size_t same = 0;
    for (veil_p2p_lp_inbound *o = kad->inbound; o; o = o->next)
        same += veil_p2p_peer_id_equal(&o->from, veil_p2p_stream_peer(s));
    static const struct veil_p2p_lp_inbound_ops ops = {
        .on_msg = in_on_request,
        .log_level = VEIL_LOG_DEBUG,
        .log_sub = "kad",
        .log_msg = "closing kad stream",
    };
    if (same >= KAD_INBOUND_PER_PEER ||
        !veil_p2p_lp_inbound_open(&kad->inbound, s, VEIL_KAD_MSG_MAX, &ops, kad))
        veil_p2p_stream_reset(s);
}

/* ---- queries ------------------------------------------------------------ */

static void query_maybe_free(struct kquery *q)
{
    if (!q->done || q->refs > 0)
        return;
    veil_kad *kad = q->kad;
    for (struct kquery **pp = &kad->queries; *pp; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    }
    veil_p2p_lp_reader_free(&q->rd);
    free(q);
    kad_unref(kad);
}

static void query_finish(struct kquery *q, const veil_err *err, const struct veil_kad_peer *closer,
                         size_t n)
{
    if (q->done)
        return;
    q->done = true;
    veil_kad *kad = q->kad;
    if (q->stream) {
        veil_p2p_stream *s = q->stream;
        q->stream = NULL;
        veil_p2p_stream_reset(s);
    }
    if (!kad->detached) {
        if (err)
            veil_kad_table_failed(kad->table, q->peer.id, q->peer.id_len);
        else
            (void)veil_kad_table_add(kad->table, &q->peer, uv_now(kad->loop));
        if (q->lk) {
            if (err)
                veil_kad_lookup_fail(q->lk->l, q->peer.id, q->peer.id_len);
            else
                veil_kad_lookup_answer(q->lk->l, q->peer.id, q->peer.id_len, closer, n);
            lookup_pump(q->lk);
        } else if (q->cb) {
            q->cb(kad, err, closer, n, q->ud);
        }
    } else if (!q->lk && q->cb) {
        q->cb(kad, err, NULL, 0, q->ud); /* cancelled by detach */
    }
    query_maybe_free(q);
}

static void query_fail(struct kquery *q, enum veil_err_code code, const char *msg)
{
    veil_err err;
    veil_err_set(&err, code, "kad query: %s", msg);
    query_finish(q, &err, NULL, 0);
}

static void q_on_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    struct kquery *q = ud;
    (void)s;
    veil_err err;
    if (veil_p2p_lp_reader_feed(&q->rd, data, len, &err) != 0) {
        query_finish(q, &err, NULL, 0);
        return;
    }
    const uint8_t *msg;
    size_t n;
    int r = veil_p2p_lp_reader_next(&q->rd, &msg, &n, &err);
    if (r < 0) {
        query_finish(q, &err, NULL, 0);
        return;
    }
    if (r == 0)
        return;
    struct veil_kad_decoded d;
    if (veil_kad_decode(msg, n, &d, &err) != 0) {
        query_finish(q, &err, NULL, 0);
        return;
    }
    if (d.type != VEIL_KAD_FIND_NODE) {
        veil_kad_decoded_free(&d);
        query_fail(q, VEIL_E_PROTOCOL, "answer of the wrong type");
        return;
    }
    query_finish(q, NULL, d.closer, d.n_closer);
    veil_kad_decoded_free(&d);
}

static void q_on_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    struct kquery *q = ud;
    if (q->stream != s)
        return;
    q->stream = NULL;
    veil_err e;
    if (err)
        e = *err;
    else
        veil_err_set(&e, VEIL_E_PROTOCOL, "kad query: stream closed without an answer");
    query_finish(q, &e, NULL, 0);
}

static void q_on_open(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    struct kquery *q = ud;
    (void)protocol;
    q->refs--;
    if (q->done) {
        if (s)
            veil_p2p_stream_reset(s);
        query_maybe_free(q);
        return;
    }
    if (!s) {
        query_finish(q, err, NULL, 0);
        return;
    }
    q->stream = s;
    static const struct veil_p2p_stream_callbacks cbs = {
        .on_data = q_on_data,
        .on_close = q_on_close,
    };
    veil_p2p_stream_set_callbacks(s, &cbs, q);
    veil_buf req;
    veil_buf_init(&req);
    veil_kad_encode_find_node(&req, q->target, q->target_len);
    veil_err werr;
    int w = veil_p2p_stream_write_lp(s, req.data, req.len, NULL, NULL, &werr);
    veil_buf_free(&req);
    if (w != 0)
        query_finish(q, &werr, NULL, 0);
}

static void query_open(struct kquery *q, veil_p2p_conn *conn)
{
    static const char *const protos[] = {VEIL_KAD_PROTO};
    veil_err err;
    q->refs++;
    if (veil_p2p_conn_new_stream(conn, protos, 1, q_on_open, q, &err) != 0) {
        q->refs--;
        query_finish(q, &err, NULL, 0);
    }
}

static void query_dial_next(struct kquery *q);

static void q_on_dial(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    struct kquery *q = ud;
    (void)host;
    (void)err;
    q->refs--;
    if (q->done) {
        query_maybe_free(q);
        return;
    }
    if (!conn) {
        query_dial_next(q);
        return;
    }
    query_open(q, conn);
}

/* Dials the peer's next usable address; fails the query when none is left. */
static void query_dial_next(struct kquery *q)
{
    while (q->addr_idx < q->peer.n_addrs) {
        unsigned i = q->addr_idx++;
        veil_p2p_multiaddr ma;
        char host[256];
        uint16_t port;
        int family;
        if (veil_p2p_multiaddr_from_bytes(q->peer.addrs[i].bytes, q->peer.addrs[i].len, &ma,
                                          NULL) != 0 ||
            veil_p2p_multiaddr_tcp_target(&ma, host, sizeof host, &port, &family, NULL) != 0)
            continue;
        veil_err err;
        q->refs++;
        if (veil_p2p_host_dial(q->kad->host, &ma, &q->pid, q_on_dial, q, &err) == 0)
            return;
        q->refs--;
    }
    query_fail(q, VEIL_E_NETWORK, "no reachable address");
}

static void query_start(veil_kad *kad, struct klookup *lk, veil_kad_lookup_cb cb, void *ud,
                        const struct veil_kad_peer *p, const uint8_t *target, size_t target_len)
{
    struct kquery *q = calloc(1, sizeof *q);
    if (!q) {
        if (lk)
            veil_kad_lookup_fail(lk->l, p->id, p->id_len);
        return;
    }
    q->kad = kad;
    q->lk = lk;
    q->cb = cb;
    q->ud = ud;
    q->peer = *p;
    memcpy(q->target, target, target_len);
    q->target_len = target_len;
    q->deadline = uv_now(kad->loop) + kad->cfg.query_timeout_ms;
    veil_p2p_lp_reader_init(&q->rd, VEIL_KAD_MSG_MAX);
    q->next = kad->queries;
    kad->queries = q;
    kad->refs++;
    if (veil_p2p_peer_id_from_bytes(p->id, p->id_len, &q->pid, NULL) != 0) {
        query_fail(q, VEIL_E_INVALID, "bad peer ID");
        return;
    }
    veil_p2p_conn *conn = veil_p2p_host_find_conn(kad->host, &q->pid);
    if (conn)
        query_open(q, conn);
    else
        query_dial_next(q);
}

static void start_pending_lookups(veil_kad *kad);

static void on_tick(uv_timer_t *t)
{
    veil_kad *kad = t->data;
    uint64_t now = uv_now(kad->loop);
    bool again = true;
    while (again) {
        again = false;
        for (struct kquery *q = kad->queries; q; q = q->next) {
            if (!q->done && q->deadline <= now) {
                /* finishing may free q and start others: rescan */
                query_fail(q, VEIL_E_TIMEOUT, "no answer in time");
                again = true;
                break;
            }
        }
    }
    if (kad->cfg.refresh_interval_ms && now - kad->last_refresh >= kad->cfg.refresh_interval_ms &&
        veil_kad_table_size(kad->table) > 0 && !kad->detached) {
        /* kad-dht README "Bootstrap process": refresh the table periodically */
        kad->last_refresh = now;
        (void)veil_kad_bootstrap(kad, NULL, NULL, NULL);
    }
    start_pending_lookups(kad);
}

/* ---- lookups ------------------------------------------------------------ */

static void lookup_free(struct klookup *lk)
{
    veil_kad *kad = lk->kad;
    for (struct klookup **pp = &kad->lookups; *pp; pp = &(*pp)->next) {
        if (*pp == lk) {
            *pp = lk->next;
            break;
        }
    }
    veil_kad_lookup_free(lk->l);
    free(lk);
}

static void dial_done(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)host;
    (void)conn;
    (void)err;
    kad_unref(ud);
}

/* Connects to the peers a lookup found (kad-dht discovery: gossipsub and
 * SWIM then see them through identify). */
static void dial_discovered(veil_kad *kad, const struct veil_kad_peer *peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(peers[i].id, peers[i].id_len, &pid, NULL) != 0 ||
            veil_p2p_host_find_conn(kad->host, &pid))
            continue;
        for (unsigned a = 0; a < peers[i].n_addrs; a++) {
            veil_p2p_multiaddr ma;
            if (veil_p2p_multiaddr_from_bytes(peers[i].addrs[a].bytes, peers[i].addrs[a].len, &ma,
                                              NULL) != 0)
                continue;
            kad->refs++;
            if (veil_p2p_host_dial(kad->host, &ma, &pid, dial_done, kad, NULL) == 0)
                break;
            kad->refs--;
        }
    }
}

static int lookup_begin(struct klookup *lk, const uint8_t *target, size_t len, veil_err *err)
{
    if (len == 0 || len > VEIL_KAD_ID_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "kad: target of %zu bytes", len);
    veil_kad_lookup_free(lk->l);
    lk->l = NULL;
    if (veil_kad_lookup_new(&lk->l, lk->kad->table, target, len, lk->kad->cfg.k, lk->kad->cfg.alpha,
                            err) != 0)
        return -1;
    memcpy(lk->target, target, len);
    lk->target_len = len;
    return 0;
}

/* A random target for bootstrap: an Ed25519-shaped peer ID with a random key. */
static size_t random_target(uint8_t out[VEIL_KAD_ID_MAX])
{
    static const uint8_t prefix[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    memcpy(out, prefix, sizeof prefix);
    veil_random_bytes(out + 6, 32);
    return 38;
}

static void lookup_complete(struct klookup *lk)
{
    veil_kad *kad = lk->kad;
    struct veil_kad_peer *res = calloc(kad->cfg.k, sizeof *res);
    size_t n = res ? veil_kad_lookup_result(lk->l, res, kad->cfg.k) : 0;
    VEIL_LOG_DBG("kad", "lookup done", "queries=%zu found=%zu table=%zu",
                 veil_kad_lookup_queries(lk->l), n, veil_kad_table_size(kad->table));
    if (lk->bootstrap_phase == 1) {
        /* second half of the bootstrap: a random region of the key space */
        uint8_t t[VEIL_KAD_ID_MAX];
        size_t tl = random_target(t);
        free(res);
        lk->bootstrap_phase = 2;
        if (lookup_begin(lk, t, tl, NULL) == 0) {
            lk->again = true; /* the pump loop starts the queries */
            return;
        }
        lk->finished = true;
        veil_err err;
        veil_err_set(&err, VEIL_E_NOMEM, "kad: out of memory");
        if (lk->cb)
            lk->cb(kad, &err, NULL, 0, lk->ud);
        return;
    }
    lk->finished = true;
    if (kad->cfg.dial_discovered && res)
        dial_discovered(kad, res, n);
    if (!res) {
        veil_err err;
        veil_err_set(&err, VEIL_E_NOMEM, "kad: out of memory");
        if (lk->cb)
            lk->cb(kad, &err, NULL, 0, lk->ud);
    } else if (lk->cb) {
        lk->cb(kad, NULL, res, n, lk->ud);
    }
    free(res);
}

static void lookup_pump(struct klookup *lk)
{
    if (lk->in_pump) {
        lk->again = true;
        return;
    }
    lk->in_pump = true;
    veil_kad *kad = lk->kad;
    do {
        lk->again = false;
        if (lk->finished || kad->detached)
            break;
        struct veil_kad_peer next[16];
        size_t cap = kad->cfg.alpha < 16 ? kad->cfg.alpha : 16;
        size_t n = veil_kad_lookup_next(lk->l, next, cap);
        for (size_t i = 0; i < n; i++)
            query_start(kad, lk, NULL, NULL, &next[i], lk->target, lk->target_len);
        if (!lk->again && veil_kad_lookup_done(lk->l))
            lookup_complete(lk);
    } while (lk->again);
    lk->in_pump = false;
    if (lk->finished) {
        /* queries still referencing lk are all done (the lookup is done
         * only when nothing is in flight) */
        lookup_free(lk);
    }
}

static int lookup_start(veil_kad *kad, const uint8_t *target, size_t len, int phase,
                        veil_kad_lookup_cb cb, void *ud, veil_err *err)
{
    if (kad->detached)
        return veil_err_set(err, VEIL_E_STATE, "kad: detached");
    struct klookup *lk = calloc(1, sizeof *lk);
    if (!lk)
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    lk->kad = kad;
    lk->cb = cb;
    lk->ud = ud;
    lk->bootstrap_phase = phase;
    if (lookup_begin(lk, target, len, err) != 0) {
        free(lk);
        return -1;
    }
    lk->next = kad->lookups;
    kad->lookups = lk;
    return 0;
}

static void start_pending_lookups(veil_kad *kad)
{
    bool again = true;
    while (again && !kad->detached) {
        again = false;
        for (struct klookup *lk = kad->lookups; lk; lk = lk->next) {
            if (!lk->started) {
                lk->started = true;
                lookup_pump(lk); /* may free lk: rescan */
                again = true;
                break;
            }
        }
    }
}

/* ---- API ---------------------------------------------------------------- */

int veil_kad_attach(veil_p2p_host *host, const struct veil_kad_config *cfg, veil_kad **out,
                    veil_err *err)
{
    *out = NULL;
    veil_kad *kad = calloc(1, sizeof *kad);
    if (!kad)
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    if (cfg)
        kad->cfg = *cfg;
    else
        veil_kad_config_default(&kad->cfg);
    if (kad->cfg.k == 0 || kad->cfg.alpha == 0 || kad->cfg.query_timeout_ms == 0) {
        free(kad);
        return veil_err_set(err, VEIL_E_INVALID, "kad: k, alpha and timeout must be positive");
    }
    kad->host = host;
    kad->loop = veil_p2p_host_loop(host);
    const veil_p2p_peer_id *self = veil_p2p_host_peer_id(host);
    if (veil_kad_table_new(&kad->table, self->bytes, self->len, kad->cfg.k, err) != 0) {
        free(kad);
        return -1;
    }
    if (veil_p2p_host_set_handler(host, VEIL_KAD_PROTO, on_inbound, kad, err) != 0) {
        veil_kad_table_free(kad->table);
        free(kad);
        return -1;
    }
    static const struct veil_p2p_events ev = {.on_identified = on_identified};
    kad->listener = veil_p2p_host_add_listener(host, &ev, kad, err);
    if (kad->listener < 0) {
        veil_p2p_host_remove_handler(host, VEIL_KAD_PROTO);
        veil_kad_table_free(kad->table);
        free(kad);
        return -1;
    }
    uv_timer_init(kad->loop, &kad->timer);
    kad->timer.data = kad;
    kad->last_refresh = uv_now(kad->loop);
    kad->refs = 1;
    uv_timer_start(&kad->timer, on_tick, KAD_TICK_MS, KAD_TICK_MS);
    veil_p2p_conn *conns[256];
    size_t n = veil_p2p_host_conns(host, conns, VEIL_ARRAY_LEN(conns));
    for (size_t i = 0; i < n && i < VEIL_ARRAY_LEN(conns); i++) {
        const struct veil_p2p_peer_info *info = veil_p2p_conn_peer_info(conns[i]);
        if (info)
            on_identified(host, conns[i], info, kad);
    }
    *out = kad;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    kad_unref(h->data);
}

void veil_kad_detach(veil_kad *kad)
{
    if (!kad || kad->detached)
        return;
    kad->detached = true;
    veil_p2p_host_remove_listener(kad->host, kad->listener);
    veil_p2p_host_remove_handler(kad->host, VEIL_KAD_PROTO);
    veil_p2p_lp_inbound_drop_all(&kad->inbound);
    /* fail every query (no callbacks run once detached), then drop lookups */
    bool again = true;
    while (again) {
        again = false;
        for (struct kquery *q = kad->queries; q; q = q->next) {
            if (!q->done) {
                query_fail(q, VEIL_E_STATE, "detached");
                again = true;
                break;
            }
        }
    }
    while (kad->lookups) {
        struct klookup *lk = kad->lookups;
        veil_kad_lookup_cb cb = lk->cb;
        void *ud = lk->ud;
        lookup_free(lk);
        if (cb) {
            veil_err err;
            veil_err_set(&err, VEIL_E_STATE, "kad: lookup cancelled (detached)");
            cb(kad, &err, NULL, 0, ud);
        }
    }
    uv_timer_stop(&kad->timer);
    uv_close((uv_handle_t *)&kad->timer, timer_closed);
}

veil_kad_table *veil_kad_routing_table(veil_kad *kad)
{
    return kad->table;
}

int veil_kad_add_address(veil_kad *kad, const uint8_t *id, size_t id_len, const uint8_t *addr,
                         size_t addr_len, veil_err *err)
{
    struct veil_kad_peer p;
    if (veil_kad_peer_init(&p, id, id_len, err) != 0)
        return -1;
    veil_p2p_multiaddr ma, bare;
    if (veil_p2p_multiaddr_from_bytes(addr, addr_len, &ma, err) != 0)
        return -1;
    veil_p2p_multiaddr_strip_peer(&ma, &bare);
    veil_kad_peer_add_addr(&p, bare.bytes, bare.len);
    if (veil_kad_table_add(kad->table, &p, uv_now(kad->loop)) < 0)
        return veil_err_set(err, VEIL_E_INVALID, "kad: cannot add this peer (ourselves?)");
    return 0;
}

int veil_kad_find_node(veil_kad *kad, const uint8_t *target, size_t target_len,
                       veil_kad_lookup_cb cb, void *user_data, veil_err *err)
{
    return lookup_start(kad, target, target_len, 0, cb, user_data, err);
}

int veil_kad_bootstrap(veil_kad *kad, veil_kad_lookup_cb cb, void *user_data, veil_err *err)
{
    const veil_p2p_peer_id *self = veil_p2p_host_peer_id(kad->host);
    return lookup_start(kad, self->bytes, self->len, 1, cb, user_data, err);
}

int veil_kad_query(veil_kad *kad, const uint8_t *peer, size_t peer_len, const uint8_t *target,
                   size_t target_len, veil_kad_lookup_cb cb, void *user_data, veil_err *err)
{
    if (kad->detached)
        return veil_err_set(err, VEIL_E_STATE, "kad: detached");
    if (target_len == 0 || target_len > VEIL_KAD_ID_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "kad: target of %zu bytes", target_len);
    struct veil_kad_peer p;
    const struct veil_kad_peer *known = veil_kad_table_find(kad->table, peer, peer_len);
    if (known)
        p = *known;
    else if (veil_kad_peer_init(&p, peer, peer_len, err) != 0)
        return -1;
    veil_p2p_peer_id pid;
    if (veil_p2p_peer_id_from_bytes(p.id, p.id_len, &pid, err) != 0)
        return -1;
    if (!veil_p2p_host_find_conn(kad->host, &pid) && p.n_addrs == 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "kad: not connected and no address known");
    query_start(kad, NULL, cb, user_data, &p, target, target_len);
    return 0;
}

/* After a lookup for a peer: dial it if the lookup found it. */
static void connect_after_lookup(veil_kad *kad, const veil_err *err,
                                 const struct veil_kad_peer *closest, size_t n, void *ud)
{
    struct veil_kad_peer *want = ud;
    if (!err && !kad->detached)
        for (size_t i = 0; i < n; i++)
            if (closest[i].id_len == want->id_len &&
                memcmp(closest[i].id, want->id, want->id_len) == 0)
                dial_discovered(kad, &closest[i], 1);
    free(want);
}

int veil_kad_connect(veil_kad *kad, const uint8_t *peer, size_t peer_len, veil_err *err)
{
    veil_p2p_peer_id pid;
    if (kad->detached)
        return veil_err_set(err, VEIL_E_STATE, "kad: detached");
    if (veil_p2p_peer_id_from_bytes(peer, peer_len, &pid, err) != 0)
        return -1;
    if (veil_p2p_host_find_conn(kad->host, &pid))
        return 0;
    const struct veil_kad_peer *known = veil_kad_table_find(kad->table, peer, peer_len);
    if (known && known->n_addrs) {
        dial_discovered(kad, known, 1);
        return 0;
    }
    struct veil_kad_peer *want = calloc(1, sizeof *want);
    if (!want)
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    if (veil_kad_peer_init(want, peer, peer_len, err) != 0 ||
        lookup_start(kad, peer, peer_len, 0, connect_after_lookup, want, err) != 0) {
        free(want);
        return -1;
    }
    return 0;
}
