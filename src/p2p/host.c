// SPDX-License-Identifier: Apache-2.0
/*
 * host.c (p2p core) - the libp2p host on libuv: TCP listeners and dials,
 * connection upgrade (multistream-select 1.0 -> Noise XX -> multistream ->
 * yamux), the yamux session (streams, flow-control windows, keepalive pings,
 * GoAway), per-stream protocol negotiation, limits and the connection gater.
 *
 * Data path: socket bytes land in conn->in; Noise frames are decrypted into
 * conn->plain; yamux frames are parsed from there and handed to streams.
 * Outgoing control frames are appended to conn->out_plain; stream data is
 * sealed straight from the stream's queue into conn->out_frames (header and
 * data encrypted as one Noise frame, without joining them first), after
 * whatever out_plain held, so the order on the wire is kept. A per-host
 * uv_prepare handle writes out_frames once per loop iteration, so many small
 * writes share one system call.
 *
 * Rules come from libp2p/specs connections/README.md (upgrade order,
 * multistream-select per stream), noise/README.md (peer ID check after the
 * handshake) and hashicorp/yamux spec.md (framing, "Flow Control",
 * "Keepalive", "Stream Close", "GoAway"; dialer streams odd, listener even).
 *
 * Re-entrancy: user callbacks may reset streams or close connections. Such
 * objects are only marked (stream->dead, conn->closing) and freed when the
 * outermost entry point (read, timer, prepare) unwinds (conn->busy == 0).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p2p_internal.h"

#define LOG_SUB               "p2p"
#define READ_BUF_SIZE         (256 * 1024)
#define SOCKET_HIGH_WATER     (2u * 1024 * 1024) /* stop pumping streams above this */
#define STREAM_HIGH_WATER     (256u * 1024)      /* on_writable armed above this */
#define STREAM_LOW_WATER      (64u * 1024)
#define YAMUX_MAX_FRAME_CHUNK (VEIL_NOISE_MAX_PLAINTEXT - VEIL_YAMUX_HEADER_LEN)
#define YAMUX_MAX_WINDOW      (16u * 1024 * 1024)
#define IDLE_BUF_KEEP         4096 /* buffers larger than this are freed when empty */
#define SPARE_MAX             (4u * 1024 * 1024)
#define SPARE_SLOTS           8
#define FRAME_BUF_ROUND       (256u * 1024) /* frame buffers sized in these steps */
#define SOCKET_HARD_LIMIT     (64u * 1024 * 1024)
#define KEEPALIVE_MIN_WAIT_NS (5000u * UINT64_C(1000000))

enum conn_phase {
    CP_CONNECTING,
    CP_MSS_NOISE, /* plaintext multistream choosing /noise */
    CP_NOISE,     /* handshake */
    CP_MSS_MUX,   /* encrypted multistream choosing /yamux/1.0.0 */
    CP_YAMUX,
};

struct handler {
    char *protocol;
    veil_p2p_stream_handler_fn fn;
    void *user_data;
};

struct event_sub {
    int id;
    struct veil_p2p_events ev;
    void *user_data;
};

struct listen_sock {
    uv_tcp_t tcp;
    veil_p2p_host *host;
    veil_p2p_multiaddr addr;
};

struct dial_req {
    veil_p2p_dial_cb cb;
    void *user_data;
    veil_p2p_conn *conn; /* result when ready */
    veil_err err;
    bool failed;
    struct dial_req *next;
};

struct pending_write {
    uint64_t end; /* stream byte offset at which this write is complete */
    veil_p2p_write_cb cb;
    void *user_data;
    struct pending_write *next;
};

enum stream_state { SS_NEGOTIATING, SS_OPEN };

struct veil_p2p_stream {
    veil_p2p_conn *conn;
    uint32_t id;
    bool inbound;
    enum stream_state state;
    bool acked;      /* remote acknowledged our SYN (outbound) */
    bool fin_queued; /* close_write called */
    bool fin_sent;
    bool remote_fin;
    bool eof_delivered;
    bool dead; /* reset/closed; freed by the sweep */
    bool paused;
    bool want_writable;
    bool mss_header_seen;
    uint64_t negotiate_deadline_ns;
    uint32_t send_window;
    uint32_t recv_window; /* bytes the remote may still send */
    uint32_t recv_credit; /* delivered bytes not yet returned as window */
    veil_buf sendq;
    size_t sendq_pos;
    uint64_t total_queued, total_sent;
    struct pending_write *pw_head, *pw_tail;
    veil_buf neg; /* negotiation input, then data held while paused */
    char **proposals;
    size_t n_proposals, proposal_idx;
    veil_p2p_open_cb open_cb;
    void *open_data;
    char *protocol;
    struct veil_p2p_stream_callbacks cb;
    void *user_data;
    struct veil_p2p_stream *next;
};

struct veil_p2p_conn {
    veil_p2p_host *host;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_getaddrinfo_t gai_req;
    int open_handles;
    bool inbound;
    enum conn_phase phase;
    bool mss_header_seen;
    bool established;
    bool closing;
    bool torn_down;
    bool dirty;
    int busy;
    veil_err close_err;
    veil_buf in, plain, out_plain;
    veil_buf out_frames; /* sealed Noise frames waiting for conn_flush */
    size_t in_pos, plain_pos;
    /* Written-out frame buffers kept for the next flushes: a bulk transfer
     * has several writes in flight, and allocating each anew made the heap
     * grow and shrink (brk, page faults, zeroed pages) every few writes. */
    uint8_t *spare[SPARE_SLOTS];
    size_t spare_cap[SPARE_SLOTS];
    bool in_borrowed; /* in points into the host's read buffer (no copy) */
    veil_noise_hs *hs;
    veil_noise_cipher tx, rx;
    size_t socket_queued;
    veil_p2p_peer_id peer;
    bool has_expect;
    veil_p2p_peer_id expect;
    veil_p2p_multiaddr remote;
    struct dial_req *dials;
    veil_p2p_stream *streams;
    size_t n_streams, n_unacked;
    uint32_t next_stream_id;
    bool goaway_sent;
    bool ping_outstanding;
    uint32_t ping_opaque;
    uint64_t ping_sent_ns;
    /* identify results */
    bool identified;
    struct veil_p2p_peer_info info;
    char *info_protocol_version, *info_agent;
    char **info_protocols;
    veil_p2p_multiaddr *info_addrs;
    struct veil_p2p_conn *next, *dirty_next;
};

struct veil_p2p_host {
    uv_loop_t *loop;
    veil_p2p_keypair key;
    veil_p2p_peer_id id;
    struct veil_p2p_host_config cfg;
    char *agent;
    uv_prepare_t prepare;
    bool prepare_active;
    uv_timer_t sweep; /* negotiation deadlines, once a second */
    int open_handles;
    bool closing;
    void (*close_done)(void *);
    void *close_data;
    struct listen_sock **listeners;
    size_t n_listeners;
    struct handler *handlers;
    size_t n_handlers;
    struct event_sub *subs;
    size_t n_subs;
    int next_sub_id;
    veil_p2p_conn *conns;
    size_t n_conns;
    veil_p2p_conn *dirty;
    struct dial_req *ready_dials; /* results to report from the prepare callback */
    uint8_t *read_buf;
    bool read_buf_busy;
    bool lie_about_key;
    bool push_pending;
};

static void conn_fail(veil_p2p_conn *c, const veil_err *err);
static void spare_free_all(veil_p2p_conn *c);
static int conn_seal_plain(veil_p2p_conn *c, veil_err *err);
static int conn_frames_reserve(veil_p2p_conn *c, size_t more);
static void conn_enter(veil_p2p_conn *c);
static void conn_leave(veil_p2p_conn *c);
static void mark_dirty(veil_p2p_conn *c);
static void stream_deliver(veil_p2p_stream *s, const uint8_t *data, size_t len);

uint64_t veil_p2p_now_ns(void)
{
    return uv_hrtime();
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Host setup                                                               */
/* ------------------------------------------------------------------------ */

void veil_p2p_host_config_init(struct veil_p2p_host_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_connections = 256;
    cfg->max_connections_per_peer = 2;
    cfg->max_streams_per_conn = 256;
    cfg->max_inbound_backlog = 256;
    cfg->yamux_window = VEIL_YAMUX_INITIAL_WINDOW;
    cfg->keepalive_ms = 15000;
    cfg->handshake_timeout_ms = 10000;
    cfg->negotiate_timeout_ms = 10000;
}

static void host_handle_closed(uv_handle_t *h)
{
    veil_p2p_host *host = h->data;
    host->open_handles--;
    if (host->closing && host->open_handles == 0 && host->n_conns == 0) {
        void (*done)(void *) = host->close_done;
        void *data = host->close_data;
        for (size_t i = 0; i < host->n_handlers; i++)
            free(host->handlers[i].protocol);
        free(host->handlers);
        free(host->subs);
        for (size_t i = 0; i < host->n_listeners; i++)
            free(host->listeners[i]);
        free(host->listeners);
        free(host->agent);
        free(host->read_buf);
        veil_p2p_keypair_wipe(&host->key);
        free(host);
        if (done)
            done(data);
    }
}

static void on_prepare(uv_prepare_t *p);
static void release_all_held(veil_p2p_conn *c);
static void negotiate_sweep(uv_timer_t *t);

int veil_p2p_host_new(uv_loop_t *loop, const struct veil_p2p_host_config *cfg, veil_p2p_host **out,
                      veil_err *err)
{
    if (!cfg || !cfg->key)
        return veil_err_set(err, VEIL_E_INVALID, "p2p host: no identity key");
    veil_p2p_host *h = calloc(1, sizeof *h);
    if (!h)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    h->loop = loop;
    h->cfg = *cfg;
    h->cfg.key = NULL;
    h->key = *cfg->key;
    struct veil_p2p_host_config d;
    veil_p2p_host_config_init(&d);
    if (!h->cfg.max_connections)
        h->cfg.max_connections = d.max_connections;
    if (!h->cfg.max_connections_per_peer)
        h->cfg.max_connections_per_peer = d.max_connections_per_peer;
    if (!h->cfg.max_streams_per_conn)
        h->cfg.max_streams_per_conn = d.max_streams_per_conn;
    if (!h->cfg.max_inbound_backlog)
        h->cfg.max_inbound_backlog = d.max_inbound_backlog;
    if (h->cfg.yamux_window < VEIL_YAMUX_INITIAL_WINDOW)
        h->cfg.yamux_window = VEIL_YAMUX_INITIAL_WINDOW;
    if (h->cfg.yamux_window > YAMUX_MAX_WINDOW)
        h->cfg.yamux_window = YAMUX_MAX_WINDOW;
    if (!h->cfg.handshake_timeout_ms)
        h->cfg.handshake_timeout_ms = d.handshake_timeout_ms;
    if (!h->cfg.negotiate_timeout_ms)
        h->cfg.negotiate_timeout_ms = d.negotiate_timeout_ms;
    h->agent = xstrdup(cfg->agent_version ? cfg->agent_version : "veil/" VEIL_VERSION);
    h->read_buf = malloc(READ_BUF_SIZE);
    if (!h->agent || !h->read_buf) {
        free(h->agent);
        free(h->read_buf);
        free(h);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_p2p_peer_id_from_ed25519(h->key.public_key, &h->id);
    uv_prepare_init(loop, &h->prepare);
    h->prepare.data = h;
    uv_timer_init(loop, &h->sweep);
    h->sweep.data = h;
    uv_timer_start(&h->sweep, negotiate_sweep, 1000, 1000);
    uv_unref((uv_handle_t *)&h->sweep);
    h->open_handles = 2;
    if ((!cfg->disable_identify && veil_p2p_identify_install(h, err) != 0) ||
        (!cfg->disable_ping && veil_p2p_ping_install(h, err) != 0) ||
        (!cfg->disable_perf && veil_p2p_perf_install(h, err) != 0)) {
        veil_p2p_host_close(h, NULL, NULL);
        return -1;
    }
    h->push_pending = false;
    *out = h;
    return 0;
}

uv_loop_t *veil_p2p_host_loop(veil_p2p_host *host)
{
    return host->loop;
}

const veil_p2p_peer_id *veil_p2p_host_peer_id(const veil_p2p_host *host)
{
    return &host->id;
}

const veil_p2p_keypair *veil_p2p_host_keypair(const veil_p2p_host *host)
{
    return &host->key;
}

const char *veil_p2p_host_agent(const veil_p2p_host *host)
{
    return host->agent;
}

void veil_p2p_host_test_lie_about_key(veil_p2p_host *host, bool lie)
{
    host->lie_about_key = lie;
}

int veil_p2p_host_add_listener(veil_p2p_host *host, const struct veil_p2p_events *events,
                               void *user_data, veil_err *err)
{
    struct event_sub *n = realloc(host->subs, (host->n_subs + 1) * sizeof *n);
    if (!n)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    host->subs = n;
    n[host->n_subs].id = ++host->next_sub_id;
    n[host->n_subs].ev = *events;
    n[host->n_subs].user_data = user_data;
    host->n_subs++;
    return host->next_sub_id;
}

void veil_p2p_host_remove_listener(veil_p2p_host *host, int id)
{
    for (size_t i = 0; i < host->n_subs; i++)
        if (host->subs[i].id == id) {
            memmove(&host->subs[i], &host->subs[i + 1],
                    (host->n_subs - i - 1) * sizeof *host->subs);
            host->n_subs--;
            return;
        }
}

void veil_p2p_host_set_gater(veil_p2p_host *host, veil_p2p_gater_fn gater, void *user_data)
{
    host->cfg.gater = gater;
    host->cfg.gater_data = user_data;
}

static void schedule(veil_p2p_host *host)
{
    if (!host->prepare_active && !host->closing) {
        uv_prepare_start(&host->prepare, on_prepare);
        host->prepare_active = true;
    }
}

int veil_p2p_host_set_handler(veil_p2p_host *host, const char *protocol,
                              veil_p2p_stream_handler_fn fn, void *user_data, veil_err *err)
{
    if (!protocol || !*protocol || strlen(protocol) >= VEIL_MSS_MAX_LINE || !fn)
        return veil_err_set(err, VEIL_E_INVALID, "bad protocol handler");
    for (size_t i = 0; i < host->n_handlers; i++)
        if (strcmp(host->handlers[i].protocol, protocol) == 0) {
            host->handlers[i].fn = fn;
            host->handlers[i].user_data = user_data;
            return 0;
        }
    struct handler *n = realloc(host->handlers, (host->n_handlers + 1) * sizeof *n);
    if (!n)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    host->handlers = n;
    n[host->n_handlers].protocol = xstrdup(protocol);
    if (!n[host->n_handlers].protocol)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    n[host->n_handlers].fn = fn;
    n[host->n_handlers].user_data = user_data;
    host->n_handlers++;
    if (host->n_conns) {
        host->push_pending = true;
        schedule(host);
    }
    return 0;
}

void veil_p2p_host_remove_handler(veil_p2p_host *host, const char *protocol)
{
    for (size_t i = 0; i < host->n_handlers; i++)
        if (strcmp(host->handlers[i].protocol, protocol) == 0) {
            free(host->handlers[i].protocol);
            memmove(&host->handlers[i], &host->handlers[i + 1],
                    (host->n_handlers - i - 1) * sizeof *host->handlers);
            host->n_handlers--;
            if (host->n_conns) {
                host->push_pending = true;
                schedule(host);
            }
            return;
        }
}

size_t veil_p2p_host_protocols(veil_p2p_host *host, const char **out, size_t cap)
{
    for (size_t i = 0; i < host->n_handlers && i < cap; i++)
        out[i] = host->handlers[i].protocol;
    return host->n_handlers;
}

static const struct handler *find_handler(veil_p2p_host *host, const char *protocol)
{
    for (size_t i = 0; i < host->n_handlers; i++)
        if (strcmp(host->handlers[i].protocol, protocol) == 0)
            return &host->handlers[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

static void emit_connected(veil_p2p_conn *c)
{
    veil_p2p_host *h = c->host;
    for (size_t i = 0; i < h->n_subs && !c->closing; i++)
        if (h->subs[i].ev.on_connected)
            h->subs[i].ev.on_connected(h, c, h->subs[i].user_data);
}

static void emit_disconnected(veil_p2p_conn *c)
{
    veil_p2p_host *h = c->host;
    for (size_t i = 0; i < h->n_subs; i++)
        if (h->subs[i].ev.on_disconnected)
            h->subs[i].ev.on_disconnected(h, c, h->subs[i].user_data);
}

static void free_peer_info(veil_p2p_conn *c)
{
    free(c->info_protocol_version);
    free(c->info_agent);
    for (size_t i = 0; i < c->info.n_protocols; i++)
        free(c->info_protocols[i]);
    free(c->info_protocols);
    free(c->info_addrs);
    c->info_protocol_version = c->info_agent = NULL;
    c->info_protocols = NULL;
    c->info_addrs = NULL;
    memset(&c->info, 0, sizeof c->info);
}

void veil_p2p_conn_set_peer_info(veil_p2p_conn *c, char *protocol_version, char *agent_version,
                                 char **protocols, size_t n_protocols, veil_p2p_multiaddr *addrs,
                                 size_t n_addrs, const veil_p2p_multiaddr *observed)
{
    free_peer_info(c);
    c->info_protocol_version = protocol_version;
    c->info_agent = agent_version;
    c->info_protocols = protocols;
    c->info_addrs = addrs;
    c->info.id = c->peer;
    c->info.protocol_version = protocol_version ? protocol_version : "";
    c->info.agent_version = agent_version ? agent_version : "";
    c->info.protocols = (const char *const *)protocols;
    c->info.n_protocols = n_protocols;
    c->info.listen_addrs = addrs;
    c->info.n_listen_addrs = n_addrs;
    c->info.has_observed_addr = observed != NULL;
    if (observed)
        c->info.observed_addr = *observed;
    c->identified = true;
    veil_p2p_host *h = c->host;
    for (size_t i = 0; i < h->n_subs && !c->closing; i++)
        if (h->subs[i].ev.on_identified)
            h->subs[i].ev.on_identified(h, c, &c->info, h->subs[i].user_data);
}

/* ------------------------------------------------------------------------ */
/* Connections: lifetime                                                    */
/* ------------------------------------------------------------------------ */

static void conn_handle_closed(uv_handle_t *handle)
{
    veil_p2p_conn *c = handle->data;
    if (--c->open_handles > 0)
        return;
    veil_p2p_host *h = c->host;
    free(c);
    h->n_conns--;
    if (h->closing && h->n_conns == 0 && h->open_handles == 0) {
        /* host_handle_closed frees the host when its own handles are done;
         * here they already are, so finish now. */
        h->open_handles++;
        uv_handle_t fake;
        fake.data = h;
        host_handle_closed(&fake);
    }
}

static void free_stream(veil_p2p_stream *s)
{
    veil_buf_free(&s->sendq);
    veil_buf_free(&s->neg);
    for (size_t i = 0; i < s->n_proposals; i++)
        free(s->proposals[i]);
    free(s->proposals);
    free(s->protocol);
    struct pending_write *pw = s->pw_head;
    while (pw) {
        struct pending_write *n = pw->next;
        free(pw);
        pw = n;
    }
    free(s);
}

/* Fails pending writes and reports the final close of a stream. */
static void stream_finish(veil_p2p_stream *s, const veil_err *err)
{
    if (s->dead)
        return;
    s->dead = true;
    if (s->conn->n_streams)
        s->conn->n_streams--;
    if (!s->inbound && !s->acked && s->conn->n_unacked)
        s->conn->n_unacked--;
    struct pending_write *pw = s->pw_head;
    s->pw_head = s->pw_tail = NULL;
    while (pw) {
        struct pending_write *n = pw->next;
        if (pw->cb)
            pw->cb(s, -1, pw->user_data);
        free(pw);
        pw = n;
    }
    if (s->state == SS_NEGOTIATING && s->open_cb) {
        veil_p2p_open_cb cb = s->open_cb;
        s->open_cb = NULL;
        veil_err e = {0};
        if (err)
            e = *err;
        else
            veil_err_set(&e, VEIL_E_STATE, "stream closed during negotiation");
        cb(NULL, NULL, &e, s->open_data);
    } else if (s->state == SS_OPEN && s->cb.on_close) {
        s->cb.on_close(s, err, s->user_data);
    }
}

static void sweep_streams(veil_p2p_conn *c)
{
    veil_p2p_stream **pp = &c->streams;
    while (*pp) {
        veil_p2p_stream *s = *pp;
        if (s->dead) {
            *pp = s->next;
            free_stream(s);
        } else {
            pp = &s->next;
        }
    }
}

static void report_dials(veil_p2p_conn *c, const veil_err *err)
{
    struct dial_req *d = c->dials;
    c->dials = NULL;
    while (d) {
        struct dial_req *n = d->next;
        d->cb(c->host, err ? NULL : c, err, d->user_data);
        free(d);
        d = n;
    }
}

static void conn_teardown(veil_p2p_conn *c)
{
    if (c->torn_down)
        return;
    c->torn_down = true;
    veil_p2p_host *h = c->host;
    const veil_err *err = c->close_err.code ? &c->close_err : NULL;
    veil_err lost = {0};
    veil_err_set(&lost, VEIL_E_NETWORK, "connection closed%s%s", err ? ": " : "",
                 err ? err->msg : "");
    for (veil_p2p_stream *s = c->streams; s; s = s->next)
        stream_finish(s, &lost);
    sweep_streams(c);
    if (c->dials)
        report_dials(c, err ? err : &lost);
    if (c->established)
        emit_disconnected(c);
    /* unlink */
    for (veil_p2p_conn **pp = &h->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    for (veil_p2p_conn **pp = &h->dirty; *pp; pp = &(*pp)->dirty_next)
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    if (c->hs) {
        veil_noise_hs_wipe(c->hs);
        free(c->hs);
        c->hs = NULL;
    }
    veil_noise_cipher_free(&c->tx);
    veil_noise_cipher_free(&c->rx);
    veil_buf_free(&c->in);
    veil_buf_free(&c->plain);
    veil_buf_free(&c->out_plain);
    veil_buf_free(&c->out_frames);
    spare_free_all(c);
    free_peer_info(c);
    VEIL_LOG_DBG(LOG_SUB, "connection closed", "peer=%s reason=\"%s\"",
                 veil_p2p_peer_id_str(&c->peer).s, err ? err->msg : "closed");
    /* the tcp handle and the timer */
    c->open_handles = 2;
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_enter(veil_p2p_conn *c)
{
    c->busy++;
}

static void conn_leave(veil_p2p_conn *c)
{
    if (--c->busy > 0)
        return;
    if (c->closing)
        conn_teardown(c);
    else
        sweep_streams(c);
}

static void conn_fail(veil_p2p_conn *c, const veil_err *err)
{
    if (c->closing)
        return;
    c->closing = true;
    if (err)
        c->close_err = *err;
    if (c->busy == 0)
        conn_teardown(c);
}

static void conn_fail_msg(veil_p2p_conn *c, enum veil_err_code code, const char *msg)
{
    veil_err e = {0};
    veil_err_set(&e, code, "%s", msg);
    conn_fail(c, &e);
}

void veil_p2p_conn_close(veil_p2p_conn *c)
{
    if (c->closing)
        return;
    if (c->phase == CP_YAMUX && !c->goaway_sent) {
        /* Best effort: GoAway goes out with the final flush before closing. */
        veil_yamux_put_header(&c->out_plain, VEIL_YAMUX_GO_AWAY, 0, 0, VEIL_YAMUX_GOAWAY_NORMAL);
        c->goaway_sent = true;
        if (conn_seal_plain(c, NULL) == 0 && c->out_frames.len && veil_buf_ok(&c->out_frames)) {
            uv_buf_t b = uv_buf_init((char *)c->out_frames.data, (unsigned)c->out_frames.len);
            uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        }
        c->out_frames.len = 0;
        c->out_plain.len = 0;
    }
    conn_fail(c, NULL);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */
/* ------------------------------------------------------------------------ */

struct write_req {
    uv_write_t req;
    veil_p2p_conn *conn;
    size_t len, cap;
    uint8_t *data;
};

static void write_done_account(uv_write_t *req, int status);

/* The smallest kept buffer of at least `need` bytes, or NULL. */
static uint8_t *spare_take(veil_p2p_conn *c, size_t need, size_t *cap)
{
    int best = -1;
    for (int i = 0; i < SPARE_SLOTS; i++)
        if (c->spare[i] && c->spare_cap[i] >= need &&
            (best < 0 || c->spare_cap[i] < c->spare_cap[best]))
            best = i;
    *cap = 0;
    if (best < 0)
        return NULL;
    uint8_t *p = c->spare[best];
    *cap = c->spare_cap[best];
    c->spare[best] = NULL;
    return p;
}

/* Keeps a written-out buffer in a free slot, else in place of a smaller one. */
static void spare_put(veil_p2p_conn *c, uint8_t *data, size_t cap)
{
    int slot = -1;
    for (int i = 0; i < SPARE_SLOTS && slot < 0; i++)
        if (!c->spare[i])
            slot = i;
    if (slot < 0) {
        int smallest = 0;
        for (int i = 1; i < SPARE_SLOTS; i++)
            if (c->spare_cap[i] < c->spare_cap[smallest])
                smallest = i;
        if (c->spare_cap[smallest] < cap)
            slot = smallest;
    }
    if (slot < 0 || cap > SPARE_MAX) {
        free(data);
        return;
    }
    free(c->spare[slot]);
    c->spare[slot] = data;
    c->spare_cap[slot] = cap;
}

static void spare_free_all(veil_p2p_conn *c)
{
    for (int i = 0; i < SPARE_SLOTS; i++) {
        free(c->spare[i]);
        c->spare[i] = NULL;
    }
}

/* Writes raw bytes (takes ownership of data, a malloc'd block of cap bytes). */
static void socket_write(veil_p2p_conn *c, uint8_t *data, size_t len, size_t cap)
{
    struct write_req *w = malloc(sizeof *w);
    if (!w) {
        free(data);
        conn_fail_msg(c, VEIL_E_NOMEM, "out of memory");
        return;
    }
    if (c->socket_queued + len > SOCKET_HARD_LIMIT) {
        /* Control frames (ping replies, window updates) are queued even when
         * streams are throttled; a peer that never reads must not grow them
         * without bound. */
        free(data);
        free(w);
        conn_fail_msg(c, VEIL_E_LIMIT, "peer does not read (send queue over its limit)");
        return;
    }
    w->conn = c;
    w->len = len;
    w->cap = cap;
    w->data = data;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    c->socket_queued += len;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done_account);
    if (rc != 0) {
        c->socket_queued -= len;
        free(data);
        free(w);
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "write: %s", uv_strerror(rc));
        conn_fail(c, &e);
    }
}

static void write_done_account(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    veil_p2p_conn *c = w->conn;
    size_t len = w->len;
    /* Keep the buffer for a later flush: bulk transfers would otherwise
     * map and unmap megabytes per write. */
    if (!c->torn_down)
        spare_put(c, w->data, w->cap);
    else
        free(w->data);
    free(w);
    if (c->torn_down)
        return;
    c->socket_queued -= len;
    if (status != 0) {
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "write: %s", uv_strerror(status));
        conn_enter(c);
        conn_fail(c, &e);
        conn_leave(c);
        return;
    }
    if (c->socket_queued < SOCKET_HIGH_WATER / 2)
        mark_dirty(c);
}

static void write_buf(veil_p2p_conn *c, veil_buf *b)
{
    if (!veil_buf_ok(b)) {
        veil_buf_free(b);
        conn_fail_msg(c, VEIL_E_NOMEM, "out of memory");
        return;
    }
    if (b->len == 0) {
        veil_buf_free(b);
        return;
    }
    uint8_t *data = b->data;
    size_t len = b->len, cap = b->cap;
    veil_buf_init(b);
    socket_write(c, data, len, cap);
}

/* Seals conn->out_plain into Noise frames at the end of conn->out_frames
 * (whose buffer comes from the spares when it is empty). */
static int conn_seal_plain(veil_p2p_conn *c, veil_err *err)
{
    if (c->out_plain.len == 0)
        return 0;
    size_t nframes = (c->out_plain.len + VEIL_NOISE_MAX_PLAINTEXT - 1) / VEIL_NOISE_MAX_PLAINTEXT;
    if (conn_frames_reserve(c, c->out_plain.len + nframes * (2 + VEIL_NOISE_TAG)) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t off = 0; off < c->out_plain.len;) {
        size_t n = c->out_plain.len - off;
        if (n > VEIL_NOISE_MAX_PLAINTEXT)
            n = VEIL_NOISE_MAX_PLAINTEXT;
        if (veil_noise_encrypt_frame(&c->tx, c->out_plain.data + off, n, &c->out_frames, err) != 0)
            return -1;
        off += n;
    }
    c->out_plain.len = 0;
    return 0;
}

/* Room for `more` sealed bytes in out_frames, from a kept buffer if any. */
static int conn_frames_reserve(veil_p2p_conn *c, size_t more)
{
    if (c->out_frames.cap == 0) {
        size_t need = (more + FRAME_BUF_ROUND - 1) / FRAME_BUF_ROUND * FRAME_BUF_ROUND;
        c->out_frames.data = spare_take(c, need, &c->out_frames.cap);
    }
    return veil_buf_reserve(&c->out_frames, more);
}

/* Writes the sealed frames (control frames first sealed after them). */
static void conn_flush(veil_p2p_conn *c)
{
    if (c->closing)
        return;
    veil_err e = {0};
    if (conn_seal_plain(c, &e) != 0) {
        conn_fail(c, &e);
        return;
    }
    if (c->out_frames.len)
        write_buf(c, &c->out_frames);
}

static void mark_dirty(veil_p2p_conn *c)
{
    if (c->dirty || c->closing)
        return;
    c->dirty = true;
    c->dirty_next = c->host->dirty;
    c->host->dirty = c;
    schedule(c->host);
}

static void yamux_frame(veil_p2p_conn *c, uint8_t type, uint16_t flags, uint32_t id,
                        uint32_t length)
{
    veil_yamux_put_header(&c->out_plain, type, flags, id, length);
    mark_dirty(c);
}

/* Completes writes whose bytes have all been framed. */
static void stream_complete_writes(veil_p2p_stream *s)
{
    while (s->pw_head && s->pw_head->end <= s->total_sent && !s->dead) {
        struct pending_write *pw = s->pw_head;
        s->pw_head = pw->next;
        if (!s->pw_head)
            s->pw_tail = NULL;
        if (pw->cb)
            pw->cb(s, 0, pw->user_data);
        free(pw);
    }
}

static void stream_maybe_closed(veil_p2p_stream *s)
{
    if (!s->dead && s->fin_sent && s->remote_fin && s->eof_delivered && s->state == SS_OPEN)
        stream_finish(s, NULL);
}

/* Seals one yamux DATA frame of n queued bytes of s, straight from its queue. */
static int seal_data_frame(veil_p2p_conn *c, veil_p2p_stream *s, size_t n)
{
    veil_err e = {0};
    uint8_t h[VEIL_YAMUX_HEADER_LEN];
    veil_yamux_header_bytes(h, VEIL_YAMUX_DATA, 0, s->id, (uint32_t)n);
    if (conn_seal_plain(c, &e) != 0 ||
        conn_frames_reserve(c, 2 + VEIL_YAMUX_HEADER_LEN + n + VEIL_NOISE_TAG) != 0 ||
        veil_noise_encrypt_frame2(&c->tx, h, sizeof h, s->sendq.data + s->sendq_pos, n,
                                  &c->out_frames, &e) != 0) {
        if (!e.code)
            veil_err_set(&e, VEIL_E_NOMEM, "out of memory");
        conn_fail(c, &e);
        return -1;
    }
    return 0;
}

/* Moves queued stream bytes into yamux frames within the send window. */
static void stream_pump(veil_p2p_stream *s)
{
    veil_p2p_conn *c = s->conn;
    while (!s->dead && s->sendq.len > s->sendq_pos && s->send_window > 0 &&
           c->socket_queued + c->out_plain.len + c->out_frames.len < SOCKET_HIGH_WATER) {
        size_t n = s->sendq.len - s->sendq_pos;
        if (n > s->send_window)
            n = s->send_window;
        if (n > YAMUX_MAX_FRAME_CHUNK)
            n = YAMUX_MAX_FRAME_CHUNK;
        if (seal_data_frame(c, s, n) != 0)
            return;
        s->sendq_pos += n;
        s->send_window -= (uint32_t)n;
        s->total_sent += n;
        mark_dirty(c);
    }
    if (s->sendq_pos == s->sendq.len) {
        s->sendq.len = s->sendq_pos = 0;
    } else if (s->sendq_pos > STREAM_HIGH_WATER) {
        veil_buf_consume(&s->sendq, s->sendq_pos);
        s->sendq_pos = 0;
    }
    stream_complete_writes(s);
    if (s->dead)
        return;
    if (s->fin_queued && !s->fin_sent && s->sendq.len == 0) {
        yamux_frame(c, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_FIN, s->id, 0);
        s->fin_sent = true;
        stream_maybe_closed(s);
        if (s->dead)
            return;
    }
    if (s->want_writable && s->sendq.len - s->sendq_pos < STREAM_LOW_WATER) {
        s->want_writable = false;
        if (s->cb.on_writable)
            s->cb.on_writable(s, s->user_data);
    }
}

static void conn_pump(veil_p2p_conn *c)
{
    for (veil_p2p_stream *s = c->streams; s && !c->closing; s = s->next)
        if (!s->dead)
            stream_pump(s);
}

static void host_identify_push_all(veil_p2p_host *host);

static void on_prepare(uv_prepare_t *p)
{
    veil_p2p_host *h = p->data;
    if (h->push_pending) {
        h->push_pending = false;
        host_identify_push_all(h);
    }
    while (h->ready_dials) {
        struct dial_req *d = h->ready_dials;
        h->ready_dials = d->next;
        d->cb(h, d->failed ? NULL : d->conn, d->failed ? &d->err : NULL, d->user_data);
        free(d);
    }
    while (h->dirty) {
        veil_p2p_conn *c = h->dirty;
        h->dirty = c->dirty_next;
        c->dirty = false;
        conn_enter(c);
        if (c->phase == CP_YAMUX) {
            release_all_held(c);
            conn_pump(c);
        }
        conn_flush(c);
        conn_leave(c);
    }
    if (!h->dirty && !h->ready_dials && !h->push_pending) {
        uv_prepare_stop(&h->prepare);
        h->prepare_active = false;
    }
}

/* ------------------------------------------------------------------------ */
/* Streams: API                                                             */
/* ------------------------------------------------------------------------ */

static veil_p2p_stream *stream_new(veil_p2p_conn *c, uint32_t id, bool inbound)
{
    veil_p2p_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->conn = c;
    s->id = id;
    s->inbound = inbound;
    s->send_window = VEIL_YAMUX_INITIAL_WINDOW;
    s->recv_window = c->host->cfg.yamux_window;
    veil_buf_init(&s->sendq);
    veil_buf_init(&s->neg);
    s->negotiate_deadline_ns =
        veil_p2p_now_ns() + c->host->cfg.negotiate_timeout_ms * UINT64_C(1000000);
    s->next = c->streams;
    c->streams = s;
    c->n_streams++;
    return s;
}

/* Queues bytes on a stream without user completion (negotiation). */
static void stream_queue(veil_p2p_stream *s, const void *data, size_t len)
{
    veil_buf_put(&s->sendq, data, len);
    s->total_queued += len;
    mark_dirty(s->conn);
}

static void stream_queue_line(veil_p2p_stream *s, const char *line)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_mss_put_line(&b, line);
    if (veil_buf_ok(&b))
        stream_queue(s, b.data, b.len);
    veil_buf_free(&b);
}

int veil_p2p_conn_new_stream(veil_p2p_conn *c, const char *const *protocols, size_t n_protocols,
                             veil_p2p_open_cb cb, void *user_data, veil_err *err)
{
    if (c->closing || c->phase != CP_YAMUX || c->goaway_sent)
        return veil_err_set(err, VEIL_E_STATE, "connection is not open");
    if (n_protocols == 0 || !cb)
        return veil_err_set(err, VEIL_E_INVALID, "new stream: no protocols");
    if (c->n_streams >= c->host->cfg.max_streams_per_conn)
        return veil_err_set(err, VEIL_E_LIMIT, "too many streams on the connection (%zu)",
                            c->n_streams);
    /* yamux spec: do not exceed the remote's backlog of unacknowledged streams */
    if (c->n_unacked >= 256)
        return veil_err_set(err, VEIL_E_LIMIT, "256 streams await acknowledgement");
    for (size_t i = 0; i < n_protocols; i++)
        if (!protocols[i] || !*protocols[i] || strlen(protocols[i]) >= VEIL_MSS_MAX_LINE - 1)
            return veil_err_set(err, VEIL_E_INVALID, "bad protocol id");
    if (c->next_stream_id > UINT32_MAX - 2)
        return veil_err_set(err, VEIL_E_LIMIT, "stream ids exhausted");
    veil_p2p_stream *s = stream_new(c, c->next_stream_id, false);
    if (!s)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    c->next_stream_id += 2;
    s->proposals = calloc(n_protocols, sizeof *s->proposals);
    if (!s->proposals) {
        s->dead = true;
        c->n_streams--;
        sweep_streams(c);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_protocols; i++)
        s->proposals[i] = xstrdup(protocols[i]);
    s->n_proposals = n_protocols;
    s->open_cb = cb;
    s->open_data = user_data;
    c->n_unacked++;
    uint32_t extra = c->host->cfg.yamux_window - VEIL_YAMUX_INITIAL_WINDOW;
    yamux_frame(c, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, s->id, extra);
    /* Header and first proposal together (the dialer may pipeline them). */
    stream_queue_line(s, VEIL_MSS_HEADER);
    stream_queue_line(s, s->proposals[0]);
    return 0;
}

int veil_p2p_host_new_stream(veil_p2p_host *host, const veil_p2p_peer_id *peer,
                             const char *const *protocols, size_t n_protocols, veil_p2p_open_cb cb,
                             void *user_data, veil_err *err)
{
    veil_p2p_conn *c = veil_p2p_host_find_conn(host, peer);
    if (!c)
        return veil_err_set(err, VEIL_E_NOTFOUND, "not connected to %s",
                            veil_p2p_peer_id_str(peer).s);
    return veil_p2p_conn_new_stream(c, protocols, n_protocols, cb, user_data, err);
}

void veil_p2p_stream_set_callbacks(veil_p2p_stream *s, const struct veil_p2p_stream_callbacks *cb,
                                   void *user_data)
{
    if (cb)
        s->cb = *cb;
    else
        memset(&s->cb, 0, sizeof s->cb);
    s->user_data = user_data;
    /* Data that arrived with the negotiation is delivered from the loop. */
    if (s->neg.len)
        mark_dirty(s->conn);
}

int veil_p2p_stream_write(veil_p2p_stream *s, const void *data, size_t len, veil_p2p_write_cb cb,
                          void *user_data, veil_err *err)
{
    if (s->dead || s->conn->closing)
        return veil_err_set(err, VEIL_E_STATE, "stream is closed");
    if (s->fin_queued)
        return veil_err_set(err, VEIL_E_STATE, "stream is closed for writing");
    if (s->state != SS_OPEN)
        return veil_err_set(err, VEIL_E_STATE, "stream is still negotiating");
    struct pending_write *pw = NULL;
    if (cb) {
        pw = malloc(sizeof *pw);
        if (!pw)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_buf_put(&s->sendq, data, len);
    if (!veil_buf_ok(&s->sendq)) {
        free(pw);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    s->total_queued += len;
    if (pw) {
        pw->end = s->total_queued;
        pw->cb = cb;
        pw->user_data = user_data;
        pw->next = NULL;
        if (s->pw_tail)
            s->pw_tail->next = pw;
        else
            s->pw_head = pw;
        s->pw_tail = pw;
    }
    if (s->sendq.len - s->sendq_pos >= STREAM_HIGH_WATER)
        s->want_writable = true;
    mark_dirty(s->conn);
    return 0;
}

int veil_p2p_stream_write_lp(veil_p2p_stream *s, const void *msg, size_t len, veil_p2p_write_cb cb,
                             void *user_data, veil_err *err)
{
    uint8_t hdr[10];
    size_t h = veil_uvarint_encode(hdr, len);
    if (veil_p2p_stream_write(s, hdr, h, NULL, NULL, err) != 0)
        return -1;
    return veil_p2p_stream_write(s, msg, len, cb, user_data, err);
}

size_t veil_p2p_stream_write_queued(const veil_p2p_stream *s)
{
    return s->sendq.len - s->sendq_pos;
}

int veil_p2p_stream_close_write(veil_p2p_stream *s, veil_err *err)
{
    if (s->dead || s->conn->closing)
        return veil_err_set(err, VEIL_E_STATE, "stream is closed");
    if (s->fin_queued)
        return 0;
    s->fin_queued = true;
    mark_dirty(s->conn);
    return 0;
}

void veil_p2p_stream_reset(veil_p2p_stream *s)
{
    if (s->dead)
        return;
    veil_p2p_conn *c = s->conn;
    if (!c->closing)
        yamux_frame(c, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_RST, s->id, 0);
    /* No callbacks after a local reset, but pending writes are dropped. */
    memset(&s->cb, 0, sizeof s->cb);
    struct pending_write *pw = s->pw_head;
    while (pw) {
        struct pending_write *n = pw->next;
        free(pw);
        pw = n;
    }
    s->pw_head = s->pw_tail = NULL;
    s->open_cb = NULL;
    s->dead = true;
    if (c->n_streams)
        c->n_streams--;
    if (!s->inbound && !s->acked && c->n_unacked)
        c->n_unacked--;
    if (c->busy == 0 && !c->closing)
        sweep_streams(c);
}

/* yamux "Flow Control": the window shrinks by every data byte received and
 * is reopened with WINDOW_UPDATE deltas; like go-yamux we send one once half
 * the window has been consumed by the application. */
static void stream_credit(veil_p2p_stream *s, size_t n)
{
    s->recv_credit += (uint32_t)n;
    uint32_t window = s->conn->host->cfg.yamux_window;
    if (!s->remote_fin && s->recv_credit >= window / 2) {
        yamux_frame(s->conn, VEIL_YAMUX_WINDOW_UPDATE, 0, s->id, s->recv_credit);
        s->recv_window += s->recv_credit;
        s->recv_credit = 0;
    }
}

void veil_p2p_stream_pause_read(veil_p2p_stream *s, bool paused)
{
    if (s->dead)
        return;
    s->paused = paused;
    if (!paused && (s->neg.len || (s->remote_fin && !s->eof_delivered)))
        mark_dirty(s->conn);
}

const char *veil_p2p_stream_protocol(const veil_p2p_stream *s)
{
    return s->protocol ? s->protocol : "";
}

veil_p2p_conn *veil_p2p_stream_conn(const veil_p2p_stream *s)
{
    return s->conn;
}

const veil_p2p_peer_id *veil_p2p_stream_peer(const veil_p2p_stream *s)
{
    return &s->conn->peer;
}

bool veil_p2p_stream_is_inbound(const veil_p2p_stream *s)
{
    return s->inbound;
}

void *veil_p2p_stream_user_data(const veil_p2p_stream *s)
{
    return s->user_data;
}

/* ------------------------------------------------------------------------ */
/* Streams: receive path                                                    */
/* ------------------------------------------------------------------------ */

static void stream_fail(veil_p2p_stream *s, enum veil_err_code code, const char *msg)
{
    veil_err e = {0};
    veil_err_set(&e, code, "%s", msg);
    if (!s->conn->closing)
        yamux_frame(s->conn, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_RST, s->id, 0);
    stream_finish(s, &e);
}

/* Delivers the remote's FIN once all data before it went out. */
static void stream_deliver_eof(veil_p2p_stream *s)
{
    if (s->dead || !s->remote_fin || s->eof_delivered || s->paused || s->neg.len ||
        s->state != SS_OPEN)
        return;
    s->eof_delivered = true;
    if (s->cb.on_eof)
        s->cb.on_eof(s, s->user_data);
    stream_maybe_closed(s);
}

/* Runs multistream on a stream's buffered input; returns when it needs more.
 * connections/README.md "Protocol Negotiation": both sides send the header,
 * the initiator proposes, the listener echoes or answers "na"; the initiator
 * may send header and proposal (and data) without waiting. */
static void stream_negotiate(veil_p2p_stream *s)
{
    veil_p2p_conn *c = s->conn;
    size_t pos = 0;
    while (!s->dead && s->state == SS_NEGOTIATING) {
        char line[VEIL_MSS_MAX_LINE];
        size_t used = 0;
        veil_err e = {0};
        int rc = veil_mss_parse_line(s->neg.data + pos, s->neg.len - pos, line, &used, &e);
        if (rc < 0) {
            stream_fail(s, VEIL_E_PROTOCOL, e.msg);
            return;
        }
        if (rc == 0)
            break;
        pos += used;
        if (!s->mss_header_seen) {
            if (strcmp(line, VEIL_MSS_HEADER) != 0) {
                stream_fail(s, VEIL_E_PROTOCOL, "multistream: bad header");
                return;
            }
            s->mss_header_seen = true;
            continue;
        }
        if (s->inbound) {
            const struct handler *hd = find_handler(c->host, line);
            if (!hd) {
                stream_queue_line(s, "na");
                continue;
            }
            stream_queue_line(s, line);
            s->protocol = xstrdup(line);
            s->state = SS_OPEN;
            veil_buf_consume(&s->neg, pos);
            stream_credit(s, pos);
            pos = 0;
            hd->fn(s, line, hd->user_data);
            if (!s->dead && !s->cb.on_data && !s->cb.on_close && !s->cb.on_eof) {
                /* A handler that set no callbacks cannot consume the stream. */
                veil_p2p_stream_reset(s);
            }
            break;
        } else {
            const char *want = s->proposals[s->proposal_idx];
            if (strcmp(line, want) == 0) {
                s->protocol = xstrdup(line);
                s->state = SS_OPEN;
                veil_buf_consume(&s->neg, pos);
                stream_credit(s, pos);
                pos = 0;
                veil_p2p_open_cb cb = s->open_cb;
                s->open_cb = NULL;
                cb(s, s->protocol, NULL, s->open_data);
                break;
            }
            if (strcmp(line, "na") != 0) {
                stream_fail(s, VEIL_E_PROTOCOL, "multistream: unexpected reply");
                return;
            }
            if (++s->proposal_idx >= s->n_proposals) {
                veil_err ue = {0};
                veil_err_set(&ue, VEIL_E_UNSUPPORTED, "peer supports none of the protocols (%s%s)",
                             s->proposals[0], s->n_proposals > 1 ? ", ..." : "");
                veil_p2p_open_cb cb = s->open_cb;
                s->open_cb = NULL;
                void *od = s->open_data;
                veil_p2p_stream_reset(s);
                cb(NULL, NULL, &ue, od);
                return;
            }
            stream_queue_line(s, s->proposals[s->proposal_idx]);
        }
    }
    if (s->dead)
        return;
    if (pos) {
        veil_buf_consume(&s->neg, pos);
        /* negotiation bytes count as consumed for flow control */
        stream_credit(s, pos);
    }
    if (s->state == SS_OPEN && s->neg.len && !s->paused) {
        /* Data that came right after the protocol line. */
        veil_buf held = s->neg;
        veil_buf_init(&s->neg);
        stream_deliver(s, held.data, held.len);
        veil_buf_free(&held);
    }
    if (s->state == SS_OPEN)
        stream_deliver_eof(s);
}

static void stream_deliver(veil_p2p_stream *s, const uint8_t *data, size_t len)
{
    if (s->dead || len == 0)
        return;
    if (s->state == SS_NEGOTIATING) {
        veil_buf_put(&s->neg, data, len);
        stream_negotiate(s);
        /* Lines still incomplete after this much input are abuse. */
        if (!s->dead && s->state == SS_NEGOTIATING &&
            s->neg.len > 4 * VEIL_MSS_MAX_LINE + 64 * 1024)
            stream_fail(s, VEIL_E_LIMIT, "multistream: too much data before negotiation");
        return;
    }
    if (s->paused || s->neg.len) {
        veil_buf_put(&s->neg, data, len);
        return;
    }
    if (s->cb.on_data)
        s->cb.on_data(s, data, len, s->user_data);
    if (!s->dead)
        stream_credit(s, len);
}

/* Releases data held while paused (called from the loop). */
static void stream_release_held(veil_p2p_stream *s)
{
    if (s->dead || s->paused || s->state != SS_OPEN)
        return;
    if (s->neg.len) {
        veil_buf held = s->neg;
        veil_buf_init(&s->neg);
        if (s->cb.on_data)
            s->cb.on_data(s, held.data, held.len, s->user_data);
        if (!s->dead)
            stream_credit(s, held.len);
        veil_buf_free(&held);
    }
    stream_deliver_eof(s);
}

static veil_p2p_stream *find_stream(veil_p2p_conn *c, uint32_t id)
{
    for (veil_p2p_stream *s = c->streams; s; s = s->next)
        if (s->id == id && !s->dead)
            return s;
    return NULL;
}

static void goaway(veil_p2p_conn *c, uint32_t code, const char *why)
{
    if (!c->goaway_sent) {
        yamux_frame(c, VEIL_YAMUX_GO_AWAY, 0, 0, code);
        c->goaway_sent = true;
        conn_flush(c);
    }
    conn_fail_msg(c, VEIL_E_PROTOCOL, why);
}

/* One yamux frame (header parsed, body complete). yamux spec.md: pings are
 * answered with the same opaque value and ACK; GoAway ends the session; SYN,
 * ACK, FIN and RST may ride on DATA or WINDOW_UPDATE frames; data beyond the
 * receive window is a protocol error. */
static void yamux_handle(veil_p2p_conn *c, const veil_yamux_header *h, const uint8_t *body)
{
    veil_p2p_host *host = c->host;
    if (h->type == VEIL_YAMUX_PING) {
        if (h->flags & VEIL_YAMUX_SYN)
            yamux_frame(c, VEIL_YAMUX_PING, VEIL_YAMUX_ACK, 0, h->length);
        else if ((h->flags & VEIL_YAMUX_ACK) && h->length == c->ping_opaque)
            c->ping_outstanding = false;
        return;
    }
    if (h->type == VEIL_YAMUX_GO_AWAY) {
        c->goaway_sent = true; /* no new streams either way */
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "remote sent go-away (code %u)", h->length);
        conn_fail(c, &e);
        return;
    }
    veil_p2p_stream *s = find_stream(c, h->stream_id);
    if (h->flags & VEIL_YAMUX_SYN) {
        bool remote_parity = (h->stream_id % 2 == 1) == c->inbound; /* dialer: odd */
        if (s || !remote_parity) {
            goaway(c, VEIL_YAMUX_GOAWAY_PROTOCOL, "yamux: bad SYN stream id");
            return;
        }
        size_t inbound_open = 0;
        for (veil_p2p_stream *t = c->streams; t; t = t->next)
            if (!t->dead && t->inbound)
                inbound_open++;
        if (c->goaway_sent || c->n_streams >= host->cfg.max_streams_per_conn ||
            inbound_open >= host->cfg.max_inbound_backlog) {
            yamux_frame(c, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_RST, h->stream_id, 0);
            if (h->type == VEIL_YAMUX_DATA)
                return;
            return;
        }
        s = stream_new(c, h->stream_id, true);
        if (!s) {
            goaway(c, VEIL_YAMUX_GOAWAY_INTERNAL, "out of memory");
            return;
        }
        s->acked = true;
        uint32_t extra = host->cfg.yamux_window - VEIL_YAMUX_INITIAL_WINDOW;
        yamux_frame(c, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_ACK, s->id, extra);
        stream_queue_line(s, VEIL_MSS_HEADER);
    }
    if (!s) {
        /* Frames for streams we already closed or reset: ignore. */
        return;
    }
    if (h->flags & VEIL_YAMUX_ACK) {
        if (!s->inbound && !s->acked) {
            s->acked = true;
            if (c->n_unacked)
                c->n_unacked--;
        }
    }
    if (h->type == VEIL_YAMUX_WINDOW_UPDATE) {
        if ((uint64_t)s->send_window + h->length > UINT32_MAX) {
            goaway(c, VEIL_YAMUX_GOAWAY_PROTOCOL, "yamux: send window overflow");
            return;
        }
        s->send_window += h->length;
        if (h->length)
            mark_dirty(c);
    } else if (h->length) {
        if (h->length > s->recv_window) {
            goaway(c, VEIL_YAMUX_GOAWAY_PROTOCOL, "yamux: data beyond the receive window");
            return;
        }
        s->recv_window -= h->length;
        if (s->remote_fin) {
            goaway(c, VEIL_YAMUX_GOAWAY_PROTOCOL, "yamux: data after FIN");
            return;
        }
        stream_deliver(s, body, h->length);
    }
    if (s->dead)
        return;
    if (h->flags & VEIL_YAMUX_RST) {
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "stream reset by the remote");
        stream_finish(s, &e);
        return;
    }
    if ((h->flags & VEIL_YAMUX_FIN) && !s->remote_fin) {
        s->remote_fin = true;
        if (s->state == SS_NEGOTIATING) {
            if (!s->neg.len || !s->inbound) {
                stream_fail(s, VEIL_E_PROTOCOL, "stream closed during negotiation");
                return;
            }
        } else {
            stream_deliver_eof(s);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Connection: receive path                                                 */
/* ------------------------------------------------------------------------ */

/* Another established connection to c's peer in the other direction: what
 * two peers that dial each other at once end up with. */
static veil_p2p_conn *crossed_conn(veil_p2p_conn *c)
{
    for (veil_p2p_conn *o = c->host->conns; o; o = o->next)
        if (o != c && !o->closing && o->established && o->inbound != c->inbound &&
            veil_p2p_peer_id_equal(&o->peer, &c->peer))
            return o;
    return NULL;
}

static int peer_id_cmp(const veil_p2p_peer_id *a, const veil_p2p_peer_id *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->bytes, b->bytes, n);
    return r ? r : (a->len > b->len) - (a->len < b->len);
}

/* Of two crossed connections both peers keep the same one: the connection
 * dialled by the smaller peer ID. */
static bool dialled_by_smaller(const veil_p2p_conn *c)
{
    const veil_p2p_peer_id *dialer = c->inbound ? &c->peer : &c->host->id;
    const veil_p2p_peer_id *listener = c->inbound ? &c->host->id : &c->peer;
    return peer_id_cmp(dialer, listener) < 0;
}

/* Dials waiting on a connection that is being dropped as a duplicate get
 * the connection that is kept. */
static void redirect_dials(veil_p2p_conn *from, veil_p2p_conn *to)
{
    while (from->dials) {
        struct dial_req *d = from->dials;
        from->dials = d->next;
        d->conn = to;
        d->next = from->host->ready_dials;
        from->host->ready_dials = d;
    }
    schedule(from->host);
}

static void conn_established(veil_p2p_conn *c)
{
    c->phase = CP_YAMUX;
    c->next_stream_id = c->inbound ? 2 : 1;
    uv_timer_stop(&c->timer);
    veil_p2p_conn *crossed = crossed_conn(c);
    if (crossed && dialled_by_smaller(crossed)) {
        VEIL_LOG_DBG(LOG_SUB, "dropping crossed connection", "peer=%s inbound=%d",
                     veil_p2p_peer_id_str(&c->peer).s, c->inbound);
        redirect_dials(c, crossed);
        veil_p2p_conn_close(c);
        return;
    }
    c->established = true;
    VEIL_LOG_DBG(LOG_SUB, "connected", "peer=%s inbound=%d", veil_p2p_peer_id_str(&c->peer).s,
                 c->inbound);
    report_dials(c, NULL);
    if (c->closing)
        return;
    if (crossed) {
        /* the older connection was dialled by the larger ID: ours wins */
        VEIL_LOG_DBG(LOG_SUB, "dropping crossed connection", "peer=%s inbound=%d",
                     veil_p2p_peer_id_str(&crossed->peer).s, crossed->inbound);
        veil_p2p_conn_close(crossed);
    }
    emit_connected(c);
    if (c->closing)
        return;
    if (!c->host->cfg.disable_identify)
        veil_p2p_identify_start(c->host, c);
}

static void keepalive_tick(uv_timer_t *t);

/* Handles a plaintext multistream line on the connection (noise or yamux). */
static int conn_mss_line(veil_p2p_conn *c, const char *line, const char *want, veil_buf *reply)
{
    if (!c->mss_header_seen) {
        if (strcmp(line, VEIL_MSS_HEADER) != 0) {
            conn_fail_msg(c, VEIL_E_PROTOCOL, "multistream: bad header");
            return -1;
        }
        c->mss_header_seen = true;
        return 0;
    }
    if (c->inbound) {
        if (strcmp(line, want) == 0) {
            veil_mss_put_line(reply, want);
            return 1;
        }
        veil_mss_put_line(reply, "na");
        return 0;
    }
    if (strcmp(line, want) == 0)
        return 1;
    veil_err e = {0};
    veil_err_set(&e, VEIL_E_UNSUPPORTED, "remote refused %s", want);
    conn_fail(c, &e);
    return -1;
}

static void noise_send(veil_p2p_conn *c)
{
    veil_buf body, frame;
    veil_buf_init(&body);
    veil_buf_init(&frame);
    veil_err e = {0};
    if (veil_noise_hs_write(c->hs, &body, &e) != 0) {
        veil_buf_free(&body);
        conn_fail(c, &e);
        return;
    }
    veil_buf_put_u16be(&frame, (uint16_t)body.len);
    veil_buf_put(&frame, body.data, body.len);
    veil_buf_free(&body);
    write_buf(c, &frame);
}

static bool gate(veil_p2p_conn *c)
{
    veil_p2p_host *h = c->host;
    if (c->has_expect && !veil_p2p_peer_id_equal(&c->expect, &c->peer)) {
        veil_err e = {0};
        veil_p2p_peer_id_text want = veil_p2p_peer_id_str(&c->expect);
        veil_err_set(&e, VEIL_E_MISMATCH, "dialed %s but the remote is %s", want.s,
                     veil_p2p_peer_id_str(&c->peer).s);
        conn_fail(c, &e);
        return false;
    }
    if (veil_p2p_peer_id_equal(&c->peer, &h->id)) {
        conn_fail_msg(c, VEIL_E_PROTOCOL, "connected to ourselves");
        return false;
    }
    size_t same = 0;
    for (veil_p2p_conn *o = h->conns; o; o = o->next)
        if (o != c && !o->closing && o->phase >= CP_MSS_MUX &&
            veil_p2p_peer_id_equal(&o->peer, &c->peer))
            same++;
    if (same >= h->cfg.max_connections_per_peer) {
        conn_fail_msg(c, VEIL_E_LIMIT, "too many connections to this peer");
        return false;
    }
    if (h->cfg.gater && !h->cfg.gater(h, &c->peer, &c->remote, c->inbound, h->cfg.gater_data)) {
        conn_fail_msg(c, VEIL_E_PERMISSION, "peer refused by the connection gater");
        return false;
    }
    return true;
}

/* Parses decrypted bytes: the muxer negotiation, then yamux frames. */
static void conn_process_plain(veil_p2p_conn *c)
{
    veil_err e = {0};
    while (!c->closing) {
        size_t avail = c->plain.len - c->plain_pos;
        if (avail == 0)
            break;
        const uint8_t *p = c->plain.data + c->plain_pos;
        if (c->phase == CP_MSS_MUX) {
            char line[VEIL_MSS_MAX_LINE];
            size_t used;
            int rc = veil_mss_parse_line(p, avail, line, &used, &e);
            if (rc < 0) {
                conn_fail(c, &e);
                return;
            }
            if (rc == 0)
                break;
            c->plain_pos += used;
            int r = conn_mss_line(c, line, VEIL_YAMUX_PROTOCOL, &c->out_plain);
            mark_dirty(c);
            if (r < 0)
                return;
            if (r == 1) {
                conn_established(c);
                if (c->host->cfg.keepalive_ms && !c->closing)
                    uv_timer_start(&c->timer, keepalive_tick, c->host->cfg.keepalive_ms,
                                   c->host->cfg.keepalive_ms);
            }
            continue;
        }
        if (avail < VEIL_YAMUX_HEADER_LEN)
            break;
        veil_yamux_header h;
        if (veil_yamux_parse_header(p, &h, &e) != 0) {
            goaway(c, VEIL_YAMUX_GOAWAY_PROTOCOL, e.msg);
            return;
        }
        size_t body = 0;
        if (h.type == VEIL_YAMUX_DATA) {
            /* Bound buffering before waiting for the body. */
            if (h.length > c->host->cfg.yamux_window) {
                goaway(c, VEIL_YAMUX_GOAWAY_PROTOCOL, "yamux: data frame over the window");
                return;
            }
            body = h.length;
        }
        if (avail < VEIL_YAMUX_HEADER_LEN + body)
            break;
        c->plain_pos += VEIL_YAMUX_HEADER_LEN + body;
        yamux_handle(c, &h, p + VEIL_YAMUX_HEADER_LEN);
    }
}

static void conn_process(veil_p2p_conn *c)
{
    veil_err e = {0};
    while (!c->closing) {
        if (c->phase == CP_MSS_NOISE) {
            char line[VEIL_MSS_MAX_LINE];
            size_t used;
            int rc =
                veil_mss_parse_line(c->in.data + c->in_pos, c->in.len - c->in_pos, line, &used, &e);
            if (rc < 0) {
                conn_fail(c, &e);
                return;
            }
            if (rc == 0)
                break;
            c->in_pos += used;
            veil_buf reply;
            veil_buf_init(&reply);
            int r = conn_mss_line(c, line, VEIL_NOISE_PROTOCOL, &reply);
            write_buf(c, &reply);
            if (r < 0)
                return;
            if (r == 1) {
                c->phase = CP_NOISE;
                c->mss_header_seen = false;
                if (!c->inbound)
                    noise_send(c);
            }
        } else if (c->phase == CP_NOISE) {
            size_t avail = c->in.len - c->in_pos;
            if (avail < 2)
                break;
            const uint8_t *p = c->in.data + c->in_pos;
            size_t n = (size_t)p[0] << 8 | p[1];
            if (avail < 2 + n)
                break;
            c->in_pos += 2 + n;
            if (veil_noise_hs_read(c->hs, p + 2, n, &e) != 0) {
                conn_fail(c, &e);
                return;
            }
            if (veil_noise_hs_our_turn(c->hs)) {
                noise_send(c);
                if (c->closing)
                    return;
            }
            if (veil_noise_hs_done(c->hs)) {
                veil_noise_hs_split(c->hs, &c->tx, &c->rx);
                c->peer = c->hs->remote_id;
                free(c->hs);
                c->hs = NULL;
                if (!gate(c))
                    return;
                c->phase = CP_MSS_MUX;
                veil_mss_put_line(&c->out_plain, VEIL_MSS_HEADER);
                if (!c->inbound)
                    veil_mss_put_line(&c->out_plain, VEIL_YAMUX_PROTOCOL);
                mark_dirty(c);
            }
        } else {
            /* Secure channel: decrypt whole frames into plain. */
            bool progress = false;
            for (;;) {
                size_t avail = c->in.len - c->in_pos;
                if (avail < 2)
                    break;
                const uint8_t *p = c->in.data + c->in_pos;
                size_t n = (size_t)p[0] << 8 | p[1];
                if (avail < 2 + n)
                    break;
                if (veil_noise_decrypt(&c->rx, p + 2, n, &c->plain, &e) != 0) {
                    conn_fail(c, &e);
                    return;
                }
                c->in_pos += 2 + n;
                progress = true;
            }
            (void)progress;
            conn_process_plain(c);
            break;
        }
    }
    if (c->closing)
        return;
    /* Drop consumed input once per read (idle buffers: conn_trim). */
    veil_buf_consume(&c->in, c->in_pos);
    c->in_pos = 0;
    veil_buf_consume(&c->plain, c->plain_pos);
    c->plain_pos = 0;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    veil_p2p_conn *c = handle->data;
    veil_p2p_host *h = c->host;
    if (h->read_buf_busy) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    h->read_buf_busy = true;
    buf->base = (char *)h->read_buf;
    buf->len = READ_BUF_SIZE;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    veil_p2p_conn *c = stream->data;
    if (buf->base == (char *)c->host->read_buf)
        c->host->read_buf_busy = false;
    if (c->closing)
        return;
    conn_enter(c);
    if (nread < 0) {
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "%s",
                     nread == UV_EOF ? "remote closed the connection" : uv_strerror((int)nread));
        conn_fail(c, &e);
    } else if (nread > 0 && c->in.len == 0) {
        /* Nothing buffered: parse straight from the read buffer and keep
         * only an incomplete tail, saving a copy of every received byte. */
        veil_buf owned = c->in;
        veil_buf_init(&c->in);
        c->in.data = (uint8_t *)buf->base;
        c->in.len = c->in.cap = (size_t)nread;
        c->in_borrowed = true;
        conn_process(c);
        veil_buf tail = c->in;
        c->in = owned;
        c->in_borrowed = false;
        if (!c->closing && tail.len) {
            veil_buf_put(&c->in, tail.data, tail.len);
            if (!veil_buf_ok(&c->in))
                conn_fail_msg(c, VEIL_E_NOMEM, "out of memory");
        }
    } else if (nread > 0) {
        veil_buf_put(&c->in, buf->base, (size_t)nread);
        if (!veil_buf_ok(&c->in))
            conn_fail_msg(c, VEIL_E_NOMEM, "out of memory");
        else
            conn_process(c);
        /* Held data of streams unpaused during callbacks. */
        if (!c->closing && c->phase == CP_YAMUX)
            for (veil_p2p_stream *s = c->streams; s; s = s->next)
                if (!s->dead && s->state == SS_OPEN && !s->paused && s->neg.len)
                    mark_dirty(c);
    }
    conn_leave(c);
}

/* Gives back buffers of a connection that went quiet (memory per idle
 * connection); busy connections keep theirs to avoid reallocating. */
static void conn_trim(veil_p2p_conn *c)
{
    if (c->socket_queued == 0) {
        spare_free_all(c);
        if (c->out_plain.len == 0)
            veil_buf_free(&c->out_plain);
    }
    if (c->in.len == 0 && c->in.cap > IDLE_BUF_KEEP)
        veil_buf_free(&c->in);
    if (c->plain.len == 0 && c->plain.cap > IDLE_BUF_KEEP)
        veil_buf_free(&c->plain);
    for (veil_p2p_stream *s = c->streams; s; s = s->next)
        if (!s->dead && s->sendq.len == 0 && s->sendq.cap > IDLE_BUF_KEEP)
            veil_buf_free(&s->sendq);
}

static void keepalive_tick(uv_timer_t *t)
{
    veil_p2p_conn *c = t->data;
    conn_enter(c);
    conn_trim(c);
    uint64_t interval_ns = c->host->cfg.keepalive_ms * UINT64_C(1000000);
    uint64_t limit_ns =
        2 * interval_ns > KEEPALIVE_MIN_WAIT_NS ? 2 * interval_ns : KEEPALIVE_MIN_WAIT_NS;
    if (c->ping_outstanding) {
        /* A late loop iteration is not a dead peer: allow two intervals and
         * at least a few seconds. */
        if (veil_p2p_now_ns() - c->ping_sent_ns >= limit_ns)
            conn_fail_msg(c, VEIL_E_TIMEOUT, "yamux keepalive ping unanswered");
    } else {
        c->ping_sent_ns = veil_p2p_now_ns();
        c->ping_opaque = (uint32_t)veil_random_u64();
        c->ping_outstanding = true;
        yamux_frame(c, VEIL_YAMUX_PING, VEIL_YAMUX_SYN, 0, c->ping_opaque);
    }
    conn_leave(c);
}

static void handshake_timeout(uv_timer_t *t)
{
    veil_p2p_conn *c = t->data;
    conn_enter(c);
    conn_fail_msg(c, VEIL_E_TIMEOUT, "connection handshake timed out");
    conn_leave(c);
}

static veil_p2p_conn *conn_new(veil_p2p_host *h, bool inbound)
{
    veil_p2p_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->host = h;
    c->inbound = inbound;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->hs = malloc(sizeof *c->hs);
    if (!c->hs) {
        c->torn_down = true;
        c->open_handles = 2;
        h->n_conns++;
        uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return NULL;
    }
    veil_noise_hs_init(c->hs, !inbound, &h->key);
    c->hs->test_bad_signature = h->lie_about_key;
    c->next = h->conns;
    h->conns = c;
    h->n_conns++;
    uv_timer_start(&c->timer, handshake_timeout, h->cfg.handshake_timeout_ms, 0);
    return c;
}

static void conn_start(veil_p2p_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        veil_p2p_multiaddr_from_sockaddr((struct sockaddr *)&ss, &c->remote, NULL);
    uv_tcp_nodelay(&c->tcp, 1);
    c->phase = CP_MSS_NOISE;
    veil_buf out;
    veil_buf_init(&out);
    veil_mss_put_line(&out, VEIL_MSS_HEADER);
    if (!c->inbound)
        veil_mss_put_line(&out, VEIL_NOISE_PROTOCOL);
    write_buf(c, &out);
    if (c->closing)
        return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0) {
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "read: %s", uv_strerror(rc));
        conn_fail(c, &e);
    }
}

/* ------------------------------------------------------------------------ */
/* Listening and dialing                                                    */
/* ------------------------------------------------------------------------ */

/* Connections not already on their way out (the new one included). */
static size_t live_conns(veil_p2p_host *h)
{
    size_t n = 0;
    for (veil_p2p_conn *c = h->conns; c; c = c->next)
        n += !c->closing;
    return n;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct listen_sock *ls = server->data;
    veil_p2p_host *h = ls->host;
    if (status < 0 || h->closing)
        return;
    veil_p2p_conn *c = conn_new(h, true);
    if (!c)
        return;
    conn_enter(c);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_fail_msg(c, VEIL_E_NETWORK, "accept failed");
    } else if (live_conns(h) > h->cfg.max_connections) {
        conn_fail_msg(c, VEIL_E_LIMIT, "connection limit reached");
    } else {
        conn_start(c);
    }
    conn_leave(c);
}

static void listen_sock_closed(uv_handle_t *handle)
{
    struct listen_sock *ls = handle->data;
    ls->host->open_handles--;
    free(ls);
}

int veil_p2p_host_listen(veil_p2p_host *host, const veil_p2p_multiaddr *addr, veil_err *err)
{
    char ip[256];
    uint16_t port;
    int family;
    if (veil_p2p_multiaddr_tcp_target(addr, ip, sizeof ip, &port, &family, err) != 0)
        return -1;
    struct sockaddr_storage ss;
    int rc;
    if (family == AF_INET)
        rc = uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
    else if (family == AF_INET6)
        rc = uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss);
    else
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "listen needs an ip4/ip6 address");
    if (rc != 0)
        return veil_err_set(err, VEIL_E_INVALID, "bad listen address %s", ip);
    struct listen_sock *ls = calloc(1, sizeof *ls);
    struct listen_sock **n = realloc(host->listeners, (host->n_listeners + 1) * sizeof *n);
    if (!ls || !n) {
        free(ls);
        if (n)
            host->listeners = n;
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    host->listeners = n;
    ls->host = host;
    uv_tcp_init(host->loop, &ls->tcp);
    ls->tcp.data = ls;
    host->open_handles++;
    host->listeners[host->n_listeners++] = ls;
    rc = uv_tcp_bind(&ls->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ls->tcp, 128, on_connection);
    if (rc != 0) {
        host->n_listeners--;
        uv_close((uv_handle_t *)&ls->tcp, listen_sock_closed);
        return veil_err_set(err, VEIL_E_NETWORK, "listen on %s:%u: %s", ip, port, uv_strerror(rc));
    }
    int len = sizeof ss;
    uv_tcp_getsockname(&ls->tcp, (struct sockaddr *)&ss, &len);
    veil_p2p_multiaddr_from_sockaddr((struct sockaddr *)&ss, &ls->addr, NULL);
    if (host->n_conns) {
        /* connected peers learn the new address by identify push */
        host->push_pending = true;
        schedule(host);
    }
    return 0;
}

size_t veil_p2p_host_listen_addrs(const veil_p2p_host *host, veil_p2p_multiaddr *out, size_t cap)
{
    for (size_t i = 0; i < host->n_listeners && i < cap; i++)
        out[i] = host->listeners[i]->addr;
    return host->n_listeners;
}

size_t veil_p2p_host_announce_addrs(const veil_p2p_host *host, veil_p2p_multiaddr *out, size_t cap)
{
    static const uint8_t zero[16];
    size_t n = 0;
    uv_interface_address_t *ifs = NULL;
    int n_ifs = -1;
    for (size_t i = 0; i < host->n_listeners; i++) {
        const veil_p2p_multiaddr *ma = &host->listeners[i]->addr;
        /* binary: code(1 byte: 4 or 41), address, tcp code 6, port */
        bool v4 = ma->len == 8 && ma->bytes[0] == VEIL_MA_IP4;
        bool v6 = ma->len == 20 && ma->bytes[0] == VEIL_MA_IP6;
        bool wildcard = (v4 && memcmp(ma->bytes + 1, zero, 4) == 0) ||
                        (v6 && memcmp(ma->bytes + 1, zero, 16) == 0);
        if (!wildcard) {
            if (n < cap)
                out[n] = *ma;
            n++;
            continue;
        }
        if (n_ifs < 0 && uv_interface_addresses(&ifs, &n_ifs) != 0)
            n_ifs = 0;
        uint16_t port = (uint16_t)(ma->bytes[ma->len - 2] << 8 | ma->bytes[ma->len - 1]);
        for (int k = 0; k < n_ifs; k++) {
            struct sockaddr_storage ss;
            memset(&ss, 0, sizeof ss);
            if (v4 && ifs[k].address.address4.sin_family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)&ss;
                *in = ifs[k].address.address4;
                in->sin_port = htons(port);
            } else if (v6 && ifs[k].address.address6.sin6_family == AF_INET6 &&
                       !IN6_IS_ADDR_LINKLOCAL(&ifs[k].address.address6.sin6_addr)) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
                *in6 = ifs[k].address.address6;
                in6->sin6_port = htons(port);
            } else {
                continue;
            }
            veil_p2p_multiaddr one;
            if (veil_p2p_multiaddr_from_sockaddr((struct sockaddr *)&ss, &one, NULL) != 0)
                continue;
            if (n < cap)
                out[n] = one;
            n++;
        }
    }
    if (ifs)
        uv_free_interface_addresses(ifs, n_ifs);
    return n;
}

static void on_connect(uv_connect_t *req, int status)
{
    veil_p2p_conn *c = req->data;
    if (c->torn_down)
        return;
    conn_enter(c);
    if (status != 0) {
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "connect: %s", uv_strerror(status));
        conn_fail(c, &e);
    } else if (!c->closing) {
        conn_start(c);
    }
    conn_leave(c);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    veil_p2p_conn *c = req->data;
    if (c->torn_down) {
        uv_freeaddrinfo(res);
        return;
    }
    conn_enter(c);
    if (status != 0 || !res) {
        veil_err e = {0};
        veil_err_set(&e, VEIL_E_NETWORK, "resolve: %s", uv_strerror(status));
        conn_fail(c, &e);
    } else if (!c->closing) {
        c->connect_req.data = c;
        int rc = uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr, on_connect);
        if (rc != 0) {
            veil_err e = {0};
            veil_err_set(&e, VEIL_E_NETWORK, "connect: %s", uv_strerror(rc));
            conn_fail(c, &e);
        }
    }
    uv_freeaddrinfo(res);
    conn_leave(c);
}

int veil_p2p_host_dial(veil_p2p_host *host, const veil_p2p_multiaddr *addr,
                       const veil_p2p_peer_id *expect, veil_p2p_dial_cb cb, void *user_data,
                       veil_err *err)
{
    if (host->closing)
        return veil_err_set(err, VEIL_E_STATE, "host is closing");
    if (!cb)
        return veil_err_set(err, VEIL_E_INVALID, "dial: no callback");
    char name[256];
    uint16_t port;
    int family;
    if (veil_p2p_multiaddr_tcp_target(addr, name, sizeof name, &port, &family, err) != 0)
        return -1;
    veil_p2p_peer_id want;
    bool has_want = false;
    if (expect) {
        want = *expect;
        has_want = true;
    } else if (veil_p2p_multiaddr_peer_id(addr, &want, NULL) == 0) {
        has_want = true;
    }
    struct dial_req *d = calloc(1, sizeof *d);
    if (!d)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    d->cb = cb;
    d->user_data = user_data;
    if (has_want) {
        if (veil_p2p_peer_id_equal(&want, &host->id)) {
            free(d);
            return veil_err_set(err, VEIL_E_INVALID, "dial: that is our own peer ID");
        }
        veil_p2p_conn *existing = veil_p2p_host_find_conn(host, &want);
        if (existing) {
            d->conn = existing;
            d->next = host->ready_dials;
            host->ready_dials = d;
            schedule(host);
            return 0;
        }
        /* A dial to the same peer already under way: wait for its result. */
        for (veil_p2p_conn *o = host->conns; o; o = o->next)
            if (!o->closing && !o->established && !o->inbound && o->has_expect &&
                veil_p2p_peer_id_equal(&o->expect, &want)) {
                d->next = o->dials;
                o->dials = d;
                return 0;
            }
    }
    if (live_conns(host) >= host->cfg.max_connections) {
        free(d);
        return veil_err_set(err, VEIL_E_LIMIT, "connection limit reached (%zu)", host->n_conns);
    }
    veil_p2p_conn *c = conn_new(host, false);
    if (!c) {
        free(d);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    c->has_expect = has_want;
    if (has_want)
        c->expect = want;
    c->dials = d;
    veil_p2p_multiaddr_strip_peer(addr, &c->remote);
    c->phase = CP_CONNECTING;
    int rc;
    struct sockaddr_storage ss;
    if (family == AF_INET && uv_ip4_addr(name, port, (struct sockaddr_in *)&ss) == 0) {
        c->connect_req.data = c;
        rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss, on_connect);
    } else if (family == AF_INET6 && uv_ip6_addr(name, port, (struct sockaddr_in6 *)&ss) == 0) {
        c->connect_req.data = c;
        rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss, on_connect);
    } else {
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        char portstr[8];
        snprintf(portstr, sizeof portstr, "%u", port);
        c->gai_req.data = c;
        rc = uv_getaddrinfo(host->loop, &c->gai_req, on_resolved, name, portstr, &hints);
    }
    if (rc != 0) {
        c->dials = NULL;
        free(d);
        conn_fail_msg(c, VEIL_E_NETWORK, "connect failed");
        return veil_err_set(err, VEIL_E_NETWORK, "dial %s:%u: %s", name, port, uv_strerror(rc));
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Connection accessors                                                     */
/* ------------------------------------------------------------------------ */

veil_p2p_conn *veil_p2p_host_find_conn(veil_p2p_host *host, const veil_p2p_peer_id *peer)
{
    for (veil_p2p_conn *c = host->conns; c; c = c->next)
        if (!c->closing && c->established && veil_p2p_peer_id_equal(&c->peer, peer))
            return c;
    return NULL;
}

size_t veil_p2p_host_conns(veil_p2p_host *host, veil_p2p_conn **out, size_t cap)
{
    size_t n = 0;
    for (veil_p2p_conn *c = host->conns; c; c = c->next)
        if (!c->closing && c->established) {
            if (n < cap)
                out[n] = c;
            n++;
        }
    return n;
}

const veil_p2p_peer_id *veil_p2p_conn_peer(const veil_p2p_conn *c)
{
    return &c->peer;
}

const veil_p2p_multiaddr *veil_p2p_conn_remote_addr(const veil_p2p_conn *c)
{
    return &c->remote;
}

bool veil_p2p_conn_is_inbound(const veil_p2p_conn *c)
{
    return c->inbound;
}

const struct veil_p2p_peer_info *veil_p2p_conn_peer_info(const veil_p2p_conn *c)
{
    return c->identified ? &c->info : NULL;
}

bool veil_p2p_conn_supports(const veil_p2p_conn *c, const char *protocol)
{
    if (!c->identified)
        return false;
    for (size_t i = 0; i < c->info.n_protocols; i++)
        if (strcmp(c->info.protocols[i], protocol) == 0)
            return true;
    return false;
}

size_t veil_p2p_conn_stream_count(const veil_p2p_conn *c)
{
    return c->n_streams;
}

/* ------------------------------------------------------------------------ */
/* Held data release and identify push from the loop                        */
/* ------------------------------------------------------------------------ */

static void host_identify_push_all(veil_p2p_host *h)
{
    veil_p2p_host_identify_push(h);
}

/* Called in on_prepare through conn_pump: deliver held data too. */
static void release_all_held(veil_p2p_conn *c)
{
    for (veil_p2p_stream *s = c->streams; s && !c->closing; s = s->next)
        if (!s->dead && s->state == SS_OPEN)
            stream_release_held(s);
}

/* Resets streams whose protocol negotiation outlived negotiate_timeout_ms. */
static void negotiate_sweep(uv_timer_t *t)
{
    veil_p2p_host *h = t->data;
    uint64_t now = veil_p2p_now_ns();
    for (veil_p2p_conn *c = h->conns; c; c = c->next) {
        if (c->closing || c->phase != CP_YAMUX)
            continue;
        conn_enter(c);
        for (veil_p2p_stream *s = c->streams; s && !c->closing; s = s->next)
            if (!s->dead && s->state == SS_NEGOTIATING && now > s->negotiate_deadline_ns)
                stream_fail(s, VEIL_E_TIMEOUT, "protocol negotiation timed out");
        conn_leave(c);
    }
}

void veil_p2p_conn_test_inject(veil_p2p_conn *c, const uint8_t *plain, size_t len)
{
    if (c->closing)
        return;
    conn_enter(c);
    veil_buf_put(&c->plain, plain, len);
    conn_process_plain(c);
    if (!c->closing) {
        veil_buf_consume(&c->plain, c->plain_pos);
        c->plain_pos = 0;
    }
    conn_leave(c);
}

/* ------------------------------------------------------------------------ */
/* Close                                                                    */
/* ------------------------------------------------------------------------ */

void veil_p2p_host_close(veil_p2p_host *host, void (*done)(void *), void *user_data)
{
    if (host->closing)
        return;
    host->closing = true;
    host->close_done = done;
    host->close_data = user_data;
    while (host->ready_dials) {
        struct dial_req *d = host->ready_dials;
        host->ready_dials = d->next;
        free(d);
    }
    veil_p2p_conn *c = host->conns;
    while (c) {
        veil_p2p_conn *n = c->next;
        if (c->busy == 0) {
            veil_p2p_conn_close(c);
        } else {
            c->closing = true;
        }
        c = n;
    }
    for (size_t i = 0; i < host->n_listeners; i++) {
        host->listeners[i]->tcp.data = host;
        uv_close((uv_handle_t *)&host->listeners[i]->tcp, host_handle_closed);
    }
    uv_prepare_stop(&host->prepare);
    uv_close((uv_handle_t *)&host->prepare, host_handle_closed);
    uv_timer_stop(&host->sweep);
    uv_close((uv_handle_t *)&host->sweep, host_handle_closed);
}
