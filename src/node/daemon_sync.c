// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_sync.c - node-to-node sync over direct libp2p streams (issue 18):
 * a node that holds an assignment but could not rebuild its batch's tree
 * (it was down or cut off while the batch's other assignments were decided)
 * asks one live peer at a time for the inclusion proofs
 * (/veil/anchor-proof/1.0.0, include/veil/msg_sync.h); the peer answers
 * from its store; the asker keeps a proof only once it leads to the root
 * anchored on chain for that batch epoch (veil_anchorer_accept). Requests
 * are rate-limited (one in flight, one per VEIL_PROOF_ASK_GAP_MS) and
 * bounded (VEIL_PROOF_QUERY_MAX commitments each way).
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_sync.h"

#define PROOF_SUB "anchor"

/* One stream, either side: its length-prefixed reader and, for the asker,
 * the request to write once the stream is open. */
struct proof_stream {
    veil_daemon *d;
    bool asker;
    veil_p2p_lp_reader rd;
    veil_buf req;
};

static void ps_free(struct proof_stream *p)
{
    if (p->asker)
        p->d->anchorer.proof_busy = false;
    veil_p2p_lp_reader_free(&p->rd);
    veil_buf_free(&p->req);
    free(p);
}

static void ps_fail(veil_p2p_stream *s, struct proof_stream *p)
{
    veil_p2p_stream_reset(s);
    ps_free(p);
}

/* The answering side: one request in, one answer out. */
static void serve(veil_p2p_stream *s, struct proof_stream *p, const uint8_t *msg, size_t n)
{
    struct veil_proof_query q[VEIL_PROOF_QUERY_MAX];
    struct veil_proof_answer *ans = calloc(VEIL_PROOF_QUERY_MAX, sizeof *ans);
    size_t nq = 0, na = 0;
    veil_err err = {0};
    veil_buf out;
    veil_buf_init(&out);
    int rc = ans ? veil_msg_proof_request_decode(msg, n, q, VEIL_PROOF_QUERY_MAX, &nq, &err)
                 : veil_err_set(&err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0) {
        na = veil_anchorer_answer(&p->d->anchorer, q, nq, ans);
        rc = veil_msg_proof_answer_encode(&out, ans, na, &err);
    }
    if (rc == 0 && (veil_p2p_stream_write_lp(s, out.data, out.len, NULL, NULL, &err) != 0 ||
                    veil_p2p_stream_close_write(s, &err) != 0))
        rc = -1;
    if (rc != 0)
        veil_log(VEIL_LOG_DEBUG, PROOF_SUB, "proof request not answered", "error=\"%s\"", err.msg);
    else
        veil_log(VEIL_LOG_DEBUG, PROOF_SUB, "proof request answered", "asked=%zu answered=%zu", nq,
                 na);
    veil_buf_free(&out);
    free(ans);
    if (rc != 0)
        veil_p2p_stream_reset(s);
}

/* The asking side: every proof checked against the chain, then kept. */
static void take(struct proof_stream *p, const uint8_t *msg, size_t n)
{
    struct veil_proof_answer *ans = calloc(VEIL_PROOF_QUERY_MAX, sizeof *ans);
    size_t na = 0, kept = 0;
    veil_err err = {0};
    if (!ans || veil_msg_proof_answer_decode(msg, n, ans, VEIL_PROOF_QUERY_MAX, &na, &err) != 0) {
        veil_log(VEIL_LOG_WARN, PROOF_SUB, "bad proof answer", "error=\"%s\"",
                 ans ? err.msg : "out of memory");
        free(ans);
        return;
    }
    for (size_t i = 0; i < na; i++) {
        veil_err e2 = {0};
        char c[65];
        veil_hex_encode(c, sizeof c, ans[i].commitment, 32);
        if (veil_anchorer_accept(&p->d->anchorer, &ans[i], &e2) == 0)
            kept++;
        else
            veil_log(VEIL_LOG_WARN, PROOF_SUB, "peer's proof refused",
                     "commitment=%.16s error=\"%s\"", c, e2.msg);
    }
    veil_log(VEIL_LOG_INFO, PROOF_SUB, "proofs fetched from a peer", "answered=%zu kept=%zu", na,
             kept);
    free(ans);
}

static void ps_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *user_data)
{
    struct proof_stream *p = user_data;
    veil_err err = {0};
    const uint8_t *msg;
    size_t n;
    int rc = veil_p2p_lp_reader_feed(&p->rd, data, len, &err);
    if (rc == 0)
        rc = veil_p2p_lp_reader_next(&p->rd, &msg, &n, &err);
    if (rc < 0) {
        ps_fail(s, p);
        return;
    }
    if (rc == 0)
        return; /* more bytes to come */
    if (p->asker)
        take(p, msg, n);
    else
        serve(s, p, msg, n);
}

static void ps_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)s;
    (void)err;
    ps_free(user_data);
}

static const struct veil_p2p_stream_callbacks ps_cb = {.on_data = ps_data, .on_close = ps_close};

static struct proof_stream *ps_new(veil_daemon *d, bool asker, size_t max)
{
    struct proof_stream *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->d = d;
    p->asker = asker;
    veil_p2p_lp_reader_init(&p->rd, max);
    veil_buf_init(&p->req);
    return p;
}

void veil_daemon_on_proof_stream(veil_p2p_stream *s, const char *protocol, void *user_data)
{
    (void)protocol;
    struct proof_stream *p = ps_new(user_data, false, VEIL_PROOF_REQUEST_MAX);
    if (!p) {
        veil_p2p_stream_reset(s);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &ps_cb, p);
}

static void ask_open(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *user_data)
{
    (void)protocol;
    struct proof_stream *p = user_data;
    veil_err e2 = {0};
    if (!s) {
        veil_log(VEIL_LOG_DEBUG, PROOF_SUB, "proof peer not reached", "error=\"%s\"",
                 err ? err->msg : "?");
        ps_free(p);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &ps_cb, p);
    if (veil_p2p_stream_write_lp(s, p->req.data, p->req.len, NULL, NULL, &e2) != 0 ||
        veil_p2p_stream_close_write(s, &e2) != 0) {
        veil_log(VEIL_LOG_DEBUG, PROOF_SUB, "proof request not sent", "error=\"%s\"", e2.msg);
        ps_fail(s, p);
    }
}

/* The next live member other than this node, in turn. */
static const struct member *next_peer(veil_daemon *d)
{
    for (size_t k = 0; k < d->n_members; k++) {
        size_t i = (d->anchorer.proof_peer + k) % d->n_members;
        const struct member *m = &d->members[i];
        if (m->alive &&
            !(m->id.len == d->self.len && memcmp(m->id.bytes, d->self.bytes, d->self.len) == 0)) {
            d->anchorer.proof_peer = i + 1;
            return m;
        }
    }
    return NULL;
}

void veil_daemon_proof_tick(veil_daemon *d, uint64_t now_ms)
{
    struct veil_anchorer *a = &d->anchorer;
    if (a->proof_busy || now_ms < a->proof_ask_ms || !d->host)
        return;
    /* the store is read at most once per gap, whether anything is missing */
    a->proof_ask_ms = now_ms + VEIL_PROOF_ASK_GAP_MS;
    struct veil_proof_query q[VEIL_PROOF_QUERY_MAX];
    size_t n = veil_anchorer_missing(a, now_ms, q, VEIL_PROOF_QUERY_MAX);
    const struct member *m = n ? next_peer(d) : NULL;
    if (!m)
        return;
    struct proof_stream *p = ps_new(d, true, VEIL_PROOF_ANSWER_MAX);
    veil_err err = {0};
    if (!p || veil_msg_proof_request_encode(&p->req, q, n, &err) != 0) {
        if (p)
            ps_free(p);
        return;
    }
    static const char *const protos[] = {VEIL_PROOF_PROTO};
    a->proof_busy = true;
    if (veil_p2p_host_new_stream(d->host, &m->id, protos, 1, ask_open, p, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, PROOF_SUB, "proof peer not reached", "error=\"%s\"", err.msg);
        ps_free(p);
        return;
    }
    veil_log(VEIL_LOG_INFO, PROOF_SUB, "asking a peer for missing proofs", "peer=%s missing=%zu",
             m->text, n);
}
