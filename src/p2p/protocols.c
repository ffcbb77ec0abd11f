// SPDX-License-Identifier: Apache-2.0
/*
 * protocols.c (p2p core) - the built-in protocols every host serves:
 * identify and identify push (libp2p/specs identify/README.md), ping
 * (libp2p/specs ping/ping.md: echo 32-byte payloads) and perf
 * (libp2p/specs perf/perf.md: u64 big-endian download size, upload until
 * half-close, then the server sends the requested bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "core_identify.pb-c.h"
#include "p2p_internal.h"

#define IDENTIFY_MAX_MSG          (64 * 1024)
#define IDENTIFY_MAX_PROTOCOLS    1024
#define IDENTIFY_MAX_ADDRS        128
#define IDENTIFY_PROTOCOL_VERSION "ipfs/0.1.0"
#define PING_SIZE                 32
#define PERF_CHUNK                (64 * 1024)
#define PERF_QUEUE_TARGET         (256 * 1024)

static const uint8_t zero_chunk[PERF_CHUNK];

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------------------ */
/* identify                                                                 */
/* ------------------------------------------------------------------------ */

int veil_p2p_identify_build(veil_p2p_host *host, veil_p2p_conn *conn, veil_buf *out, veil_err *err)
{
    Veil__Core__Identify m = VEIL__CORE__IDENTIFY__INIT;
    m.protocolversion = (char *)IDENTIFY_PROTOCOL_VERSION;
    m.agentversion = (char *)veil_p2p_host_agent(host);
    uint8_t pk[VEIL_P2P_ED25519_PUBKEY_PB_LEN];
    veil_p2p_pubkey_encode_ed25519(veil_p2p_host_keypair(host)->public_key, pk);
    m.has_publickey = 1;
    m.publickey.data = pk;
    m.publickey.len = sizeof pk;
    veil_p2p_multiaddr addrs[16];
    size_t na = veil_p2p_host_announce_addrs(host, addrs, 16);
    if (na > 16)
        na = 16;
    ProtobufCBinaryData bin[16];
    for (size_t i = 0; i < na; i++) {
        bin[i].data = addrs[i].bytes;
        bin[i].len = addrs[i].len;
    }
    m.n_listenaddrs = na;
    m.listenaddrs = bin;
    const veil_p2p_multiaddr *obs = veil_p2p_conn_remote_addr(conn);
    if (obs->len) {
        m.has_observedaddr = 1;
        m.observedaddr.data = (uint8_t *)obs->bytes;
        m.observedaddr.len = obs->len;
    }
    size_t np = veil_p2p_host_protocols(host, NULL, 0);
    const char **protos = calloc(np ? np : 1, sizeof *protos);
    if (!protos)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_p2p_host_protocols(host, protos, np);
    m.n_protocols = np;
    m.protocols = (char **)protos;
    size_t n = veil__core__identify__get_packed_size(&m);
    uint8_t *dst = veil_buf_extend(out, n);
    if (dst)
        veil__core__identify__pack(&m, dst);
    free(protos);
    if (!dst)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return 0;
}

void veil_p2p_identify_decoded_free(struct veil_p2p_identify_decoded *d)
{
    for (size_t i = 0; i < d->n_protocols; i++)
        free(d->protocols[i]);
    free(d->protocols);
    free(d->addrs);
    free(d->protocol_version);
    free(d->agent_version);
    memset(d, 0, sizeof *d);
}

int veil_p2p_identify_decode(const uint8_t *msg, size_t len, const veil_p2p_peer_id *peer,
                             const struct veil_p2p_peer_info *old, bool push,
                             struct veil_p2p_identify_decoded *d, veil_err *err)
{
    memset(d, 0, sizeof *d);
    if (len > IDENTIFY_MAX_MSG)
        return veil_err_set(err, VEIL_E_RANGE, "identify: message of %zu bytes", len);
    Veil__Core__Identify *m = veil__core__identify__unpack(NULL, len, msg);
    if (!m)
        return veil_err_set(err, VEIL_E_PARSE, "identify: malformed message");
    if (m->has_publickey) {
        veil_p2p_peer_id id;
        if (veil_p2p_peer_id_from_pubkey_pb(m->publickey.data, m->publickey.len, &id, err) != 0)
            goto fail;
        if (!veil_p2p_peer_id_equal(&id, peer)) {
            veil_err_set(err, VEIL_E_MISMATCH, "identify: public key is not the peer's");
            goto fail;
        }
    }
    if (m->n_protocols > IDENTIFY_MAX_PROTOCOLS || m->n_listenaddrs > IDENTIFY_MAX_ADDRS) {
        veil_err_set(err, VEIL_E_LIMIT, "identify: %zu protocols / %zu addresses", m->n_protocols,
                     m->n_listenaddrs);
        goto fail;
    }
    /* identify push carries only what changed: keep the rest (spec "identify/push"). */
    bool take_protos = !push || m->n_protocols > 0 || !old;
    size_t src_np = take_protos ? m->n_protocols : old->n_protocols;
    d->protocols = calloc(src_np ? src_np : 1, sizeof *d->protocols);
    if (!d->protocols)
        goto oom;
    for (size_t i = 0; i < src_np; i++) {
        const char *p = take_protos ? m->protocols[i] : old->protocols[i];
        if (strlen(p) >= VEIL_MSS_MAX_LINE)
            continue;
        if (!(d->protocols[d->n_protocols] = dup_str(p)))
            goto oom;
        d->n_protocols++;
    }
    bool take_addrs = !push || m->n_listenaddrs > 0 || !old;
    size_t src_na = take_addrs ? m->n_listenaddrs : old->n_listen_addrs;
    d->addrs = calloc(src_na ? src_na : 1, sizeof *d->addrs);
    if (!d->addrs)
        goto oom;
    for (size_t i = 0; i < src_na; i++) {
        if (take_addrs) {
            /* Skip addresses with components we do not speak (quic, ws...). */
            if (veil_p2p_multiaddr_from_bytes(m->listenaddrs[i].data, m->listenaddrs[i].len,
                                              &d->addrs[d->n_addrs], NULL) == 0)
                d->n_addrs++;
        } else {
            d->addrs[d->n_addrs++] = old->listen_addrs[i];
        }
    }
    const char *pvs =
        m->protocolversion ? m->protocolversion : (old && push ? old->protocol_version : "");
    const char *avs = m->agentversion ? m->agentversion : (old && push ? old->agent_version : "");
    d->protocol_version = dup_str(pvs);
    d->agent_version = dup_str(avs);
    if (!d->protocol_version || !d->agent_version)
        goto oom;
    d->has_observed = m->has_observedaddr &&
                      veil_p2p_multiaddr_from_bytes(m->observedaddr.data, m->observedaddr.len,
                                                    &d->observed, NULL) == 0;
    veil__core__identify__free_unpacked(m, NULL);
    return 0;
oom:
    veil_err_set(err, VEIL_E_NOMEM, "out of memory");
fail:
    veil_p2p_identify_decoded_free(d);
    veil__core__identify__free_unpacked(m, NULL);
    return -1;
}

int veil_p2p_identify_apply(veil_p2p_host *host, veil_p2p_conn *conn, const uint8_t *msg,
                            size_t len, bool push, veil_err *err)
{
    (void)host;
    struct veil_p2p_identify_decoded d;
    if (veil_p2p_identify_decode(msg, len, veil_p2p_conn_peer(conn), veil_p2p_conn_peer_info(conn),
                                 push, &d, err) != 0)
        return -1;
    /* ownership of the strings and arrays moves to the connection */
    veil_p2p_conn_set_peer_info(conn, d.protocol_version, d.agent_version, d.protocols,
                                d.n_protocols, d.addrs, d.n_addrs,
                                d.has_observed ? &d.observed : NULL);
    return 0;
}

/* Reads identify messages until EOF, then applies them. */
struct id_reader {
    veil_p2p_host *host;
    bool push;
    veil_p2p_lp_reader lp;
    bool failed;
};

static void id_on_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    struct id_reader *r = ud;
    veil_err err = {0};
    if (r->failed)
        return;
    if (r->lp.buf.len - r->lp.pos + len > IDENTIFY_MAX_MSG + 16 ||
        veil_p2p_lp_reader_feed(&r->lp, data, len, &err) != 0) {
        r->failed = true;
        VEIL_LOG_WARNING("p2p", "identify message too large", "peer=%s",
                         veil_p2p_peer_id_str(veil_p2p_stream_peer(s)).s);
        veil_p2p_lp_reader_free(&r->lp);
        free(r);
        veil_p2p_stream_reset(s);
    }
}

static void id_on_eof(veil_p2p_stream *s, void *ud)
{
    struct id_reader *r = ud;
    veil_err err = {0};
    const uint8_t *msg;
    size_t len;
    int rc;
    /* Implementations may split the message; protobuf concatenation merges. */
    veil_buf all;
    veil_buf_init(&all);
    while ((rc = veil_p2p_lp_reader_next(&r->lp, &msg, &len, &err)) == 1)
        veil_buf_put(&all, msg, len);
    if (rc < 0 || !veil_p2p_lp_reader_empty(&r->lp) || !veil_buf_ok(&all)) {
        VEIL_LOG_WARNING("p2p", "bad identify message", "peer=%s err=\"%s\"",
                         veil_p2p_peer_id_str(veil_p2p_stream_peer(s)).s,
                         rc < 0 ? err.msg : "truncated");
    } else if (veil_p2p_identify_apply(r->host, veil_p2p_stream_conn(s), all.data, all.len, r->push,
                                       &err) != 0) {
        VEIL_LOG_WARNING("p2p", "identify rejected", "peer=%s err=\"%s\"",
                         veil_p2p_peer_id_str(veil_p2p_stream_peer(s)).s, err.msg);
    }
    veil_buf_free(&all);
    veil_p2p_stream_close_write(s, NULL);
}

static void id_on_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    (void)err;
    struct id_reader *r = ud;
    veil_p2p_lp_reader_free(&r->lp);
    free(r);
}

static const struct veil_p2p_stream_callbacks id_reader_cbs = {
    .on_data = id_on_data, .on_eof = id_on_eof, .on_close = id_on_close};

static struct id_reader *id_reader_new(veil_p2p_host *host, bool push)
{
    struct id_reader *r = calloc(1, sizeof *r);
    if (r) {
        r->host = host;
        r->push = push;
        veil_p2p_lp_reader_init(&r->lp, IDENTIFY_MAX_MSG);
    }
    return r;
}

static void id_opened(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    (void)protocol;
    veil_p2p_host *host = ud;
    if (!s) {
        VEIL_LOG_DBG("p2p", "identify not available", "err=\"%s\"", err ? err->msg : "");
        return;
    }
    struct id_reader *r = id_reader_new(host, false);
    if (!r) {
        veil_p2p_stream_reset(s);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &id_reader_cbs, r);
    veil_p2p_stream_close_write(s, NULL);
}

void veil_p2p_identify_start(veil_p2p_host *host, veil_p2p_conn *conn)
{
    static const char *const protos[] = {VEIL_P2P_PROTO_IDENTIFY};
    veil_err err = {0};
    if (veil_p2p_conn_new_stream(conn, protos, 1, id_opened, host, &err) != 0)
        VEIL_LOG_DBG("p2p", "identify stream failed", "err=\"%s\"", err.msg);
}

/* Server side: send our message, then close. */
static void id_serve_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    (void)err;
    (void)ud;
}

static void id_serve_eof(veil_p2p_stream *s, void *ud)
{
    (void)s;
    (void)ud;
}

static const struct veil_p2p_stream_callbacks id_serve_cbs = {.on_eof = id_serve_eof,
                                                              .on_close = id_serve_close};

static void send_identify(veil_p2p_host *host, veil_p2p_stream *s)
{
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    veil_p2p_stream_set_callbacks(s, &id_serve_cbs, host);
    if (veil_p2p_identify_build(host, veil_p2p_stream_conn(s), &msg, &err) != 0 ||
        veil_p2p_stream_write_lp(s, msg.data, msg.len, NULL, NULL, &err) != 0 ||
        veil_p2p_stream_close_write(s, &err) != 0) {
        VEIL_LOG_WARNING("p2p", "identify reply failed", "err=\"%s\"", err.msg);
        veil_p2p_stream_reset(s);
    }
    veil_buf_free(&msg);
}

static void id_handler(veil_p2p_stream *s, const char *protocol, void *ud)
{
    (void)protocol;
    send_identify(ud, s);
}

static void id_push_handler(veil_p2p_stream *s, const char *protocol, void *ud)
{
    (void)protocol;
    struct id_reader *r = id_reader_new(ud, true);
    if (!r) {
        veil_p2p_stream_reset(s);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &id_reader_cbs, r);
}

static void push_opened(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    (void)protocol;
    (void)err;
    if (s)
        send_identify(ud, s);
}

void veil_p2p_host_identify_push(veil_p2p_host *host)
{
    static const char *const protos[] = {VEIL_P2P_PROTO_IDENTIFY_PUSH};
    veil_p2p_conn *conns[256];
    size_t n = veil_p2p_host_conns(host, conns, 256);
    if (n > 256)
        n = 256;
    for (size_t i = 0; i < n; i++)
        veil_p2p_conn_new_stream(conns[i], protos, 1, push_opened, host, NULL);
}

int veil_p2p_identify_install(veil_p2p_host *host, veil_err *err)
{
    if (veil_p2p_host_set_handler(host, VEIL_P2P_PROTO_IDENTIFY, id_handler, host, err) != 0)
        return -1;
    return veil_p2p_host_set_handler(host, VEIL_P2P_PROTO_IDENTIFY_PUSH, id_push_handler, host,
                                     err);
}

/* ------------------------------------------------------------------------ */
/* ping                                                                     */
/* ------------------------------------------------------------------------ */

static void ping_echo_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    if (veil_p2p_stream_write_queued(s) > 64 * 1024) {
        /* A peer that does not read its echoes is abusing us. */
        veil_p2p_stream_reset(s);
        return;
    }
    veil_p2p_stream_write(s, data, len, NULL, NULL, NULL);
}

static void ping_echo_eof(veil_p2p_stream *s, void *ud)
{
    (void)ud;
    veil_p2p_stream_close_write(s, NULL);
}

static void ping_echo_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    (void)err;
    (void)ud;
}

static const struct veil_p2p_stream_callbacks ping_echo_cbs = {
    .on_data = ping_echo_data, .on_eof = ping_echo_eof, .on_close = ping_echo_close};

static void ping_handler(veil_p2p_stream *s, const char *protocol, void *ud)
{
    (void)protocol;
    veil_p2p_stream_set_callbacks(s, &ping_echo_cbs, ud);
}

int veil_p2p_ping_install(veil_p2p_host *host, veil_err *err)
{
    return veil_p2p_host_set_handler(host, VEIL_P2P_PROTO_PING, ping_handler, host, err);
}

struct ping_ctx {
    veil_p2p_host *host;
    veil_p2p_ping_cb cb;
    void *user_data;
    uint8_t sent[PING_SIZE];
    uint8_t got[PING_SIZE];
    size_t n_got;
    uint64_t t0;
    bool done;
};

static void ping_finish(struct ping_ctx *p, veil_p2p_stream *s, const veil_err *err, uint64_t rtt)
{
    if (p->done)
        return;
    p->done = true;
    p->cb(p->host, err, rtt, p->user_data);
    if (s)
        veil_p2p_stream_reset(s);
    free(p);
}

static void ping_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    struct ping_ctx *p = ud;
    uint64_t now = veil_p2p_now_ns();
    size_t take = len < PING_SIZE - p->n_got ? len : PING_SIZE - p->n_got;
    memcpy(p->got + p->n_got, data, take);
    p->n_got += take;
    if (p->n_got < PING_SIZE)
        return;
    veil_err err = {0};
    if (!veil_memeq_ct(p->got, p->sent, PING_SIZE)) {
        veil_err_set(&err, VEIL_E_PROTOCOL, "ping: echo does not match");
        ping_finish(p, s, &err, 0);
    } else {
        ping_finish(p, s, NULL, now - p->t0);
    }
}

static void ping_eof(veil_p2p_stream *s, void *ud)
{
    veil_err err = {0};
    veil_err_set(&err, VEIL_E_PROTOCOL, "ping: stream closed before the echo");
    ping_finish(ud, s, &err, 0);
}

static void ping_close(veil_p2p_stream *s, const veil_err *e, void *ud)
{
    (void)s;
    veil_err err = {0};
    if (e)
        err = *e;
    else
        veil_err_set(&err, VEIL_E_PROTOCOL, "ping: stream closed before the echo");
    ping_finish(ud, NULL, &err, 0);
}

static const struct veil_p2p_stream_callbacks ping_cbs = {
    .on_data = ping_data, .on_eof = ping_eof, .on_close = ping_close};

static void ping_opened(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    (void)protocol;
    struct ping_ctx *p = ud;
    if (!s) {
        ping_finish(p, NULL, err, 0);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &ping_cbs, p);
    veil_random_bytes(p->sent, PING_SIZE);
    p->t0 = veil_p2p_now_ns();
    veil_err e = {0};
    if (veil_p2p_stream_write(s, p->sent, PING_SIZE, NULL, NULL, &e) != 0)
        ping_finish(p, s, &e, 0);
}

int veil_p2p_ping(veil_p2p_host *host, const veil_p2p_peer_id *peer, veil_p2p_ping_cb cb,
                  void *user_data, veil_err *err)
{
    static const char *const protos[] = {VEIL_P2P_PROTO_PING};
    struct ping_ctx *p = calloc(1, sizeof *p);
    if (!p)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    p->host = host;
    p->cb = cb;
    p->user_data = user_data;
    if (veil_p2p_host_new_stream(host, peer, protos, 1, ping_opened, p, err) != 0) {
        free(p);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* perf                                                                     */
/* ------------------------------------------------------------------------ */

struct perf_server {
    uint8_t hdr[8];
    size_t n_hdr;
    uint64_t to_send;
    bool sending;
};

static void perf_server_fill(veil_p2p_stream *s, struct perf_server *ps)
{
    while (ps->to_send > 0 && veil_p2p_stream_write_queued(s) < PERF_QUEUE_TARGET) {
        size_t n = ps->to_send < PERF_CHUNK ? (size_t)ps->to_send : PERF_CHUNK;
        if (veil_p2p_stream_write(s, zero_chunk, n, NULL, NULL, NULL) != 0)
            return;
        ps->to_send -= n;
    }
    if (ps->to_send == 0)
        veil_p2p_stream_close_write(s, NULL);
}

static void perf_server_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    struct perf_server *ps = ud;
    while (ps->n_hdr < 8 && len > 0) {
        ps->hdr[ps->n_hdr++] = *data++;
        len--;
    }
    (void)s; /* the upload itself is drained */
}

static void perf_server_eof(veil_p2p_stream *s, void *ud)
{
    struct perf_server *ps = ud;
    if (ps->n_hdr < 8) {
        veil_p2p_stream_reset(s);
        free(ps);
        return;
    }
    veil_reader r;
    veil_reader_init(&r, ps->hdr, 8);
    ps->to_send = veil_read_u64be(&r);
    ps->sending = true;
    perf_server_fill(s, ps);
}

static void perf_server_writable(veil_p2p_stream *s, void *ud)
{
    struct perf_server *ps = ud;
    if (ps->sending)
        perf_server_fill(s, ps);
}

static void perf_server_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    (void)err;
    free(ud);
}

static const struct veil_p2p_stream_callbacks perf_server_cbs = {.on_data = perf_server_data,
                                                                 .on_eof = perf_server_eof,
                                                                 .on_writable =
                                                                     perf_server_writable,
                                                                 .on_close = perf_server_close};

static void perf_handler(veil_p2p_stream *s, const char *protocol, void *ud)
{
    (void)protocol;
    (void)ud;
    struct perf_server *ps = calloc(1, sizeof *ps);
    if (!ps) {
        veil_p2p_stream_reset(s);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &perf_server_cbs, ps);
}

int veil_p2p_perf_install(veil_p2p_host *host, veil_err *err)
{
    return veil_p2p_host_set_handler(host, VEIL_P2P_PROTO_PERF, perf_handler, host, err);
}

struct perf_client {
    veil_p2p_host *host;
    veil_p2p_perf_cb cb;
    void *user_data;
    uint64_t upload_left;
    uint64_t download_want;
    struct veil_p2p_perf_result res;
    uint64_t t0, t_first;
    bool done;
};

static void perf_client_finish(struct perf_client *pc, veil_p2p_stream *s, const veil_err *err)
{
    if (pc->done)
        return;
    pc->done = true;
    uint64_t now = veil_p2p_now_ns();
    pc->res.total_ns = now - pc->t0;
    if (!pc->t_first)
        pc->t_first = now;
    pc->res.upload_ns = pc->t_first - pc->t0;
    pc->res.download_ns = now - pc->t_first;
    veil_err e = {0};
    if (!err && pc->res.download_bytes != pc->download_want) {
        veil_err_set(&e, VEIL_E_PROTOCOL, "perf: received %llu bytes, wanted %llu",
                     (unsigned long long)pc->res.download_bytes,
                     (unsigned long long)pc->download_want);
        err = &e;
    }
    pc->cb(pc->host, err, err ? NULL : &pc->res, pc->user_data);
    if (s)
        veil_p2p_stream_reset(s);
    free(pc);
}

static void perf_client_fill(veil_p2p_stream *s, struct perf_client *pc)
{
    while (pc->upload_left > 0 && veil_p2p_stream_write_queued(s) < PERF_QUEUE_TARGET) {
        size_t n = pc->upload_left < PERF_CHUNK ? (size_t)pc->upload_left : PERF_CHUNK;
        if (veil_p2p_stream_write(s, zero_chunk, n, NULL, NULL, NULL) != 0)
            return;
        pc->upload_left -= n;
        pc->res.upload_bytes += n;
    }
    if (pc->upload_left == 0)
        veil_p2p_stream_close_write(s, NULL);
}

static void perf_client_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    (void)s;
    (void)data;
    struct perf_client *pc = ud;
    if (!pc->t_first)
        pc->t_first = veil_p2p_now_ns();
    pc->res.download_bytes += len;
}

static void perf_client_eof(veil_p2p_stream *s, void *ud)
{
    perf_client_finish(ud, s, NULL);
}

static void perf_client_writable(veil_p2p_stream *s, void *ud)
{
    perf_client_fill(s, ud);
}

static void perf_client_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    veil_err e = {0};
    if (!err) {
        veil_err_set(&e, VEIL_E_PROTOCOL, "perf: stream closed early");
        err = &e;
    }
    perf_client_finish(ud, NULL, err);
}

static const struct veil_p2p_stream_callbacks perf_client_cbs = {.on_data = perf_client_data,
                                                                 .on_eof = perf_client_eof,
                                                                 .on_writable =
                                                                     perf_client_writable,
                                                                 .on_close = perf_client_close};

static void perf_opened(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *ud)
{
    (void)protocol;
    struct perf_client *pc = ud;
    if (!s) {
        perf_client_finish(pc, NULL, err);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &perf_client_cbs, pc);
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)(pc->download_want >> (56 - 8 * i));
    pc->t0 = veil_p2p_now_ns();
    veil_err e = {0};
    if (veil_p2p_stream_write(s, hdr, 8, NULL, NULL, &e) != 0) {
        perf_client_finish(pc, s, &e);
        return;
    }
    perf_client_fill(s, pc);
}

int veil_p2p_perf(veil_p2p_host *host, const veil_p2p_peer_id *peer, uint64_t upload_bytes,
                  uint64_t download_bytes, veil_p2p_perf_cb cb, void *user_data, veil_err *err)
{
    static const char *const protos[] = {VEIL_P2P_PROTO_PERF};
    struct perf_client *pc = calloc(1, sizeof *pc);
    if (!pc)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    pc->host = host;
    pc->cb = cb;
    pc->user_data = user_data;
    pc->upload_left = upload_bytes;
    pc->download_want = download_bytes;
    if (veil_p2p_host_new_stream(host, peer, protos, 1, perf_opened, pc, err) != 0) {
        free(pc);
        return -1;
    }
    return 0;
}
