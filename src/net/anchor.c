// SPDX-License-Identifier: Apache-2.0
/*
 * anchor.c - the Anchor protocol state machine (include/veil/anchor.h):
 * peers and their sessions, the receive path for the four datagram types,
 * the transport (ChaCha20-Poly1305 IETF, 64-bit counters as nonces, replay
 * window), rekeying, keepalives, cookies under load, and Guardian-driven
 * teardown. No I/O, no clock: datagrams and events are queued for the
 * caller, time comes in as now_ms.
 *
 * Each peer holds up to three sessions, as WireGuard does: `cur` (sends and
 * receives), `prev` (receives only, so packets in flight across a rekey are
 * not lost) and `next` (a responder's session waiting for the initiator's
 * first transport packet, which confirms it and promotes it to cur).
 * Its timers are WireGuard's (whitepaper 6.1-6.5): rekey after a time or a
 * count, reject after a time, handshake retries every rekey_timeout up to
 * rekey_attempt, a passive keepalive, and a new handshake when data sent
 * met keepalive + rekey_timeout of silence.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "anchor_int.h"

struct anchor_session {
    bool live, initiator;
    uint32_t local_idx, remote_idx;
    uint8_t send_key[32], recv_key[32];
    uint64_t send_ctr, created_ms;
    struct anchor_replay replay;
    /* transport AEAD contexts with this session's keys installed, made on
     * first use (session_ctx): a packet only sets its nonce. Owned by the
     * session: session_wipe frees them, session_move hands them over. */
    EVP_CIPHER_CTX *seal, *open;
};

struct anchor_queued {
    uint8_t *data;
    size_t len;
};

struct anchor_peer {
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    uint8_t addr[VEIL_ANCHOR_ADDR_MAX];
    size_t addr_len;
    bool has_info, was_up;
    /* WireGuard's two passive timers (whitepaper 6.5): a keepalive owed
     * keepalive_ms after data arrived with nothing sent since, and a reply
     * awaited keepalive_ms + rekey_timeout_ms after data was sent with
     * nothing authenticated received since (then a new handshake). Each is
     * armed by the first event and not pushed back by later ones. */
    bool need_keepalive, await_reply;
    uint64_t keepalive_at_ms, reply_due_ms;
    struct veil_anchor_cred_info info;
    struct anchor_session cur, prev, next;
    bool hs_pending;
    struct anchor_hs_pending hs;
    uint64_t hs_started_ms, hs_sent_ms, last_ts_seen, last_sent_ms, last_recv_ms;
    bool has_cookie;
    uint8_t cookie[ANCHOR_COOKIE_BYTES];
    uint64_t cookie_ms;
    struct anchor_queued *queue;
    size_t queue_len;
};

struct veil_anchor {
    struct veil_anchor_config cfg;
    struct anchor_self self;
    struct anchor_peer **peers;
    size_t n_peers, cap_peers;
    struct veil_anchor_datagram *out;
    size_t out_head, out_len, out_cap;
    struct veil_anchor_event *ev;
    size_t ev_head, ev_len, ev_cap;
    struct veil_anchor_stats stats;
    uint8_t cookie_secret[32];
    uint64_t cookie_secret_ms, load_window_ms, last_ts_sent;
    uint32_t load_count;
    bool force_load;
};

void veil_anchor_config_default(struct veil_anchor_config *cfg)
{
    cfg->rekey_after_ms = 120000;
    cfg->reject_after_ms = 180000;
    cfg->rekey_after_messages = 1ull << 60;
    cfg->reject_after_messages = UINT64_MAX - (1ull << 13);
    cfg->rekey_timeout_ms = 5000;
    cfg->rekey_attempt_ms = 90000;
    cfg->keepalive_ms = 10000;
    cfg->cookie_secret_ms = 120000;
    cfg->handshakes_per_s_load = 64;
    cfg->queue_max = 64;
    cfg->bench_classical_only = false;
}

static bool taints_within(const struct veil_anchor_cred_info *small,
                          const struct veil_anchor_cred_info *big)
{
    for (size_t i = 0; i < small->n_taints; i++) {
        bool found = false;
        for (size_t j = 0; j < big->n_taints && !found; j++)
            found = strcmp(small->taints[i], big->taints[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

bool veil_anchor_may_talk(const struct veil_anchor_cred_info *a,
                          const struct veil_anchor_cred_info *b)
{
    if (a->realm[0] == '\0' || strcmp(a->realm, b->realm) != 0)
        return false;
    return taints_within(a, b) || taints_within(b, a);
}

void veil_anchor_event_clear(struct veil_anchor_event *ev)
{
    free(ev->data);
    ev->data = NULL;
    ev->len = 0;
}

void veil_anchor_datagram_clear(struct veil_anchor_datagram *d)
{
    free(d->data);
    d->data = NULL;
    d->len = 0;
}

/* ---- queues ---------------------------------------------------------------- */

/* Makes room for one more item in a FIFO of items [head, len): reuses the
 * consumed front first, grows the array only when it is full. */
static bool fifo_room(void **items, size_t size, size_t *head, size_t *len, size_t *cap)
{
    if (*head == *len) {
        *head = *len = 0;
    } else if (*len == *cap && *head > 0) {
        memmove(*items, (char *)*items + *head * size, (*len - *head) * size);
        *len -= *head;
        *head = 0;
    }
    if (*len < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, ncap * size);
    if (!p)
        return false;
    *items = p;
    *cap = ncap;
    return true;
}

/* Queues `b`'s bytes to the peer's endpoint (takes the buffer). */
static void emit(veil_anchor *a, const uint8_t *to, size_t to_len, veil_buf *b)
{
    if (!veil_buf_ok(b) || to_len == 0 ||
        !fifo_room((void **)&a->out, sizeof *a->out, &a->out_head, &a->out_len, &a->out_cap)) {
        veil_buf_free(b);
        return;
    }
    struct veil_anchor_datagram *d = &a->out[a->out_len++];
    memcpy(d->to, to, to_len);
    d->to_len = to_len;
    d->data = b->data;
    d->len = b->len;
    veil_buf_init(b);
    a->stats.tx_packets++;
}

static void event(veil_anchor *a, enum veil_anchor_event_type type, const uint8_t *peer,
                  uint8_t *data, size_t len)
{
    if (!fifo_room((void **)&a->ev, sizeof *a->ev, &a->ev_head, &a->ev_len, &a->ev_cap)) {
        free(data);
        return;
    }
    struct veil_anchor_event *e = &a->ev[a->ev_len++];
    e->type = type;
    memcpy(e->peer, peer, VEIL_ANCHOR_KEY_BYTES);
    e->data = data;
    e->len = len;
}

bool veil_anchor_pop_datagram(veil_anchor *a, struct veil_anchor_datagram *out)
{
    if (a->out_head >= a->out_len)
        return false;
    *out = a->out[a->out_head++];
    return true;
}

bool veil_anchor_pop_event(veil_anchor *a, struct veil_anchor_event *out)
{
    if (a->ev_head >= a->ev_len)
        return false;
    *out = a->ev[a->ev_head++];
    return true;
}

/* ---- peers and sessions ---------------------------------------------------- */

static struct anchor_peer *find_peer(const veil_anchor *a, const uint8_t *id)
{
    for (size_t i = 0; i < a->n_peers; i++)
        if (memcmp(a->peers[i]->id, id, VEIL_ANCHOR_KEY_BYTES) == 0)
            return a->peers[i];
    return NULL;
}

static struct anchor_peer *new_peer(veil_anchor *a, const uint8_t *id, veil_err *err)
{
    if (a->n_peers == a->cap_peers) {
        size_t ncap = a->cap_peers ? a->cap_peers * 2 : 8;
        struct anchor_peer **np = realloc(a->peers, ncap * sizeof *np);
        if (!np) {
            veil_err_set(err, VEIL_E_NOMEM, "anchor: out of memory");
            return NULL;
        }
        a->peers = np;
        a->cap_peers = ncap;
    }
    struct anchor_peer *p = calloc(1, sizeof *p);
    if (!p) {
        veil_err_set(err, VEIL_E_NOMEM, "anchor: out of memory");
        return NULL;
    }
    memcpy(p->id, id, VEIL_ANCHOR_KEY_BYTES);
    a->peers[a->n_peers++] = p;
    return p;
}

static void session_wipe(struct anchor_session *s)
{
    EVP_CIPHER_CTX_free(s->seal); /* clears its key state */
    EVP_CIPHER_CTX_free(s->open);
    sodium_memzero(s, sizeof *s);
}

/* dst takes src's keys, counters and contexts; src is left empty. */
static void session_move(struct anchor_session *dst, struct anchor_session *src)
{
    session_wipe(dst);
    *dst = *src;
    sodium_memzero(src, sizeof *src);
}

/* s's sealing or opening context with its key installed (made once per
 * session and direction); NULL when out of memory. */
static EVP_CIPHER_CTX *session_ctx(struct anchor_session *s, bool seal)
{
    EVP_CIPHER_CTX **c = seal ? &s->seal : &s->open;
    if (!*c && (*c = anchor_aead_new(seal)) != NULL &&
        anchor_aead_key(*c, seal ? s->send_key : s->recv_key, seal) != 0) {
        EVP_CIPHER_CTX_free(*c);
        *c = NULL;
    }
    return *c;
}

static void queue_drop(struct anchor_peer *p)
{
    for (size_t i = 0; i < p->queue_len; i++) {
        sodium_memzero(p->queue[i].data, p->queue[i].len);
        free(p->queue[i].data);
    }
    free(p->queue);
    p->queue = NULL;
    p->queue_len = 0;
}

/* Ends every session and handshake of p; DOWN if it was up. */
static void teardown(veil_anchor *a, struct anchor_peer *p)
{
    session_wipe(&p->cur);
    session_wipe(&p->prev);
    session_wipe(&p->next);
    sodium_memzero(&p->hs, sizeof p->hs);
    p->hs_pending = false;
    queue_drop(p);
    if (p->was_up)
        event(a, VEIL_ANCHOR_EV_DOWN, p->id, NULL, 0);
    p->was_up = false;
}

static struct anchor_session *find_session(const veil_anchor *a, uint32_t idx,
                                           struct anchor_peer **owner)
{
    for (size_t i = 0; i < a->n_peers; i++) {
        struct anchor_peer *p = a->peers[i];
        struct anchor_session *all[3] = {&p->cur, &p->prev, &p->next};
        for (int k = 0; k < 3; k++) {
            if (all[k]->live && all[k]->local_idx == idx) {
                *owner = p;
                return all[k];
            }
        }
    }
    return NULL;
}

/* A fresh random local index no live session or handshake uses. */
static uint32_t new_index(const veil_anchor *a)
{
    for (;;) {
        uint32_t idx = randombytes_random();
        struct anchor_peer *owner;
        bool taken = idx == 0 || find_session(a, idx, &owner) != NULL;
        for (size_t i = 0; i < a->n_peers && !taken; i++)
            taken = a->peers[i]->hs_pending && a->peers[i]->hs.local_idx == idx;
        if (!taken)
            return idx;
    }
}

static void session_from(struct anchor_session *s, const struct anchor_hs_result *r,
                         uint32_t local_idx, bool initiator, uint64_t now_ms)
{
    session_wipe(s);
    s->live = true;
    s->initiator = initiator;
    s->local_idx = local_idx;
    s->remote_idx = r->remote_idx;
    memcpy(s->send_key, r->send_key, 32);
    memcpy(s->recv_key, r->recv_key, 32);
    s->created_ms = now_ms;
}

static bool session_expired(const veil_anchor *a, const struct anchor_session *s, uint64_t now_ms)
{
    return !s->live || now_ms - s->created_ms >= a->cfg.reject_after_ms ||
           s->send_ctr >= a->cfg.reject_after_messages;
}

/* ---- construction ---------------------------------------------------------- */

veil_anchor *veil_anchor_new(const struct veil_anchor_config *cfg,
                             const struct veil_anchor_local *local, uint64_t now_ms, veil_err *err)
{
    if (sodium_init() < 0) {
        veil_err_set(err, VEIL_E_CRYPTO, "anchor: libsodium failed to initialise");
        return NULL;
    }
    veil_anchor *a = calloc(1, sizeof *a);
    if (!a) {
        veil_err_set(err, VEIL_E_NOMEM, "anchor: out of memory");
        return NULL;
    }
    if (cfg)
        a->cfg = *cfg;
    else
        veil_anchor_config_default(&a->cfg);
    if (anchor_self_init(&a->self, local, now_ms, err) != 0) {
        anchor_self_wipe(&a->self);
        free(a);
        return NULL;
    }
    a->self.classical_only = a->cfg.bench_classical_only;
    randombytes_buf(a->cookie_secret, sizeof a->cookie_secret);
    a->cookie_secret_ms = now_ms;
    a->load_window_ms = now_ms;
    return a;
}

void veil_anchor_free(veil_anchor *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_peers; i++) {
        struct anchor_peer *p = a->peers[i];
        queue_drop(p);
        session_wipe(&p->cur);
        session_wipe(&p->prev);
        session_wipe(&p->next);
        sodium_memzero(p, sizeof *p);
        free(p);
    }
    free(a->peers);
    for (size_t i = a->out_head; i < a->out_len; i++)
        veil_anchor_datagram_clear(&a->out[i]);
    free(a->out);
    for (size_t i = a->ev_head; i < a->ev_len; i++)
        veil_anchor_event_clear(&a->ev[i]);
    free(a->ev);
    anchor_self_wipe(&a->self);
    sodium_memzero(a, sizeof *a);
    free(a);
}

int veil_anchor_add_peer(veil_anchor *a, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                         const uint8_t *addr, size_t addr_len, veil_err *err)
{
    if (addr_len == 0 || addr_len > VEIL_ANCHOR_ADDR_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "anchor: peer address must be 1..%d bytes",
                            VEIL_ANCHOR_ADDR_MAX);
    if (memcmp(identity, a->self.id_pk, VEIL_ANCHOR_KEY_BYTES) == 0)
        return veil_err_set(err, VEIL_E_INVALID, "anchor: a node cannot be its own peer");
    struct anchor_peer *p = find_peer(a, identity);
    if (!p && !(p = new_peer(a, identity, err)))
        return -1;
    memcpy(p->addr, addr, addr_len);
    p->addr_len = addr_len;
    return 0;
}

void veil_anchor_remove_peer(veil_anchor *a, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             uint64_t now_ms)
{
    (void)now_ms;
    for (size_t i = 0; i < a->n_peers; i++) {
        struct anchor_peer *p = a->peers[i];
        if (memcmp(p->id, identity, VEIL_ANCHOR_KEY_BYTES) != 0)
            continue;
        teardown(a, p);
        sodium_memzero(p, sizeof *p);
        free(p);
        a->peers[i] = a->peers[--a->n_peers];
        return;
    }
}

/* ---- handshake initiation -------------------------------------------------- */

static int start_handshake(veil_anchor *a, struct anchor_peer *p, uint64_t now_ms, veil_err *err)
{
    if (p->addr_len == 0)
        return veil_err_set(err, VEIL_E_STATE, "anchor: no endpoint known for the peer");
    uint64_t ts = now_ms > a->last_ts_sent ? now_ms : a->last_ts_sent + 1;
    bool cookie_fresh = p->has_cookie && now_ms - p->cookie_ms < a->cfg.cookie_secret_ms;
    veil_buf b;
    veil_buf_init(&b);
    if (anchor_hs_initiate(&a->self, p->id, new_index(a), ts, cookie_fresh ? p->cookie : NULL,
                           &p->hs, &b, err) != 0) {
        veil_buf_free(&b);
        return -1;
    }
    a->last_ts_sent = ts;
    if (!p->hs_pending)
        p->hs_started_ms = now_ms;
    p->hs_pending = true;
    p->hs_sent_ms = now_ms;
    a->stats.handshakes_initiated++;
    emit(a, p->addr, p->addr_len, &b);
    return 0;
}

int veil_anchor_connect(veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                        veil_err *err)
{
    struct anchor_peer *p = find_peer(a, peer);
    if (!p)
        return veil_err_set(err, VEIL_E_NOTFOUND, "anchor: unknown peer");
    return start_handshake(a, p, now_ms, err);
}

/* ---- transport ------------------------------------------------------------- */

static void nonce_of(uint8_t nonce[12], uint64_t counter)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* Encrypts one datagram on p's current session and queues it. */
static void send_on(veil_anchor *a, struct anchor_peer *p, const uint8_t *data, size_t len,
                    uint64_t now_ms)
{
    struct anchor_session *s = &p->cur;
    uint8_t nonce[12];
    veil_buf b;
    veil_buf_init(&b);
    (void)veil_buf_reserve(&b, ANCHOR_DATA_HEADER + len + ANCHOR_TAG_BYTES); /* one allocation */
    anchor_put_header(&b, ANCHOR_MSG_DATA);
    veil_buf_put_u32le(&b, s->remote_idx);
    veil_buf_put_u64le(&b, s->send_ctr);
    uint8_t *ct = veil_buf_ok(&b) ? veil_buf_extend(&b, len + ANCHOR_TAG_BYTES) : NULL;
    if (!ct) {
        veil_buf_free(&b);
        return;
    }
    nonce_of(nonce, s->send_ctr);
    EVP_CIPHER_CTX *c = session_ctx(s, true);
    if (!c || anchor_aead_seal(c, ct, data, len, b.data, ANCHOR_DATA_HEADER, nonce, NULL) != 0) {
        veil_buf_free(&b);
        return;
    }
    s->send_ctr++;
    p->last_sent_ms = now_ms;
    p->need_keepalive = false;
    if (len > 0) {
        a->stats.tx_data++;
        if (!p->await_reply)
            p->reply_due_ms = now_ms + a->cfg.keepalive_ms + a->cfg.rekey_timeout_ms;
        p->await_reply = true;
    }
    emit(a, p->addr, p->addr_len, &b);
}

/* Whether the side holding `s` should start a new handshake now. */
static bool wants_rekey(const veil_anchor *a, const struct anchor_session *s, uint64_t now_ms)
{
    uint64_t age = now_ms - s->created_ms;
    if (s->send_ctr >= a->cfg.rekey_after_messages)
        return true;
    if (s->initiator)
        return age >= a->cfg.rekey_after_ms;
    /* a responder steps in only when the initiator has not rekeyed in time */
    uint64_t late = a->cfg.reject_after_ms - a->cfg.keepalive_ms - a->cfg.rekey_timeout_ms;
    return age >= late;
}

static void queue_push(veil_anchor *a, struct anchor_peer *p, const uint8_t *data, size_t len)
{
    if (p->queue_len >= a->cfg.queue_max)
        return; /* dropped, as a full link would */
    struct anchor_queued *q = realloc(p->queue, (p->queue_len + 1) * sizeof *q);
    if (!q)
        return;
    p->queue = q;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    q[p->queue_len++] = (struct anchor_queued){copy, len};
}

static void queue_flush(veil_anchor *a, struct anchor_peer *p, uint64_t now_ms)
{
    for (size_t i = 0; i < p->queue_len; i++)
        send_on(a, p, p->queue[i].data, p->queue[i].len, now_ms);
    queue_drop(p);
}

int veil_anchor_send(veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const uint8_t *data,
                     size_t len, uint64_t now_ms, veil_err *err)
{
    struct anchor_peer *p = find_peer(a, peer);
    if (!p)
        return veil_err_set(err, VEIL_E_NOTFOUND, "anchor: unknown peer");
    if (len > VEIL_ANCHOR_MTU_MAX - VEIL_ANCHOR_DATA_OVERHEAD)
        return veil_err_set(err, VEIL_E_RANGE, "anchor: datagram of %zu bytes is too long", len);
    if (!session_expired(a, &p->cur, now_ms)) {
        send_on(a, p, data, len, now_ms);
        if (!p->hs_pending && wants_rekey(a, &p->cur, now_ms)) {
            a->stats.rekeys++;
            return start_handshake(a, p, now_ms, err);
        }
        return 0;
    }
    queue_push(a, p, data, len);
    return p->hs_pending ? 0 : start_handshake(a, p, now_ms, err);
}

/* ---- receive path ---------------------------------------------------------- */

static bool drop(veil_anchor *a, enum veil_anchor_drop r, enum veil_anchor_drop *why)
{
    a->stats.dropped[r]++;
    if (why)
        *why = r;
    return false;
}

static bool mac_ok(const uint8_t *key, size_t key_len, const uint8_t *pkt, size_t off,
                   const uint8_t *mac)
{
    uint8_t want[ANCHOR_MAC_BYTES];
    anchor_mac16(want, key, key_len, pkt, off);
    return veil_memeq_ct(want, mac, ANCHOR_MAC_BYTES);
}

static void cookie_for(const veil_anchor *a, uint8_t out[ANCHOR_COOKIE_BYTES], const uint8_t *from,
                       size_t from_len)
{
    anchor_mac16(out, a->cookie_secret, sizeof a->cookie_secret, from, from_len);
}

/* Counts an initiation that passed mac1; true while over the load limit. */
static bool under_load(veil_anchor *a, uint64_t now_ms)
{
    if (now_ms - a->load_window_ms >= 1000) {
        a->load_window_ms = now_ms;
        a->load_count = 0;
    }
    a->load_count++;
    return a->force_load || a->load_count > a->cfg.handshakes_per_s_load;
}

static void send_cookie_reply(veil_anchor *a, const struct anchor_init *m, const uint8_t *from,
                              size_t from_len)
{
    uint8_t cookie[ANCHOR_COOKIE_BYTES], nonce[ANCHOR_COOKIE_NONCE_BYTES];
    veil_buf b;
    veil_buf_init(&b);
    cookie_for(a, cookie, from, from_len);
    randombytes_buf(nonce, sizeof nonce);
    anchor_put_header(&b, ANCHOR_MSG_COOKIE);
    veil_buf_put_u32le(&b, m->sender);
    veil_buf_put(&b, nonce, sizeof nonce);
    uint8_t *enc =
        veil_buf_ok(&b) ? veil_buf_extend(&b, ANCHOR_COOKIE_BYTES + ANCHOR_TAG_BYTES) : NULL;
    if (enc)
        crypto_aead_xchacha20poly1305_ietf_encrypt(enc, NULL, cookie, sizeof cookie, m->mac1,
                                                   ANCHOR_MAC_BYTES, NULL, nonce,
                                                   a->self.cookie_key);
    sodium_memzero(cookie, sizeof cookie);
    a->stats.cookies_sent++;
    emit(a, from, from_len, &b);
}

static void set_endpoint(struct anchor_peer *p, const uint8_t *from, size_t from_len)
{
    if (from_len == 0 || from_len > VEIL_ANCHOR_ADDR_MAX)
        return;
    memcpy(p->addr, from, from_len);
    p->addr_len = from_len;
}

/* The checks every initiation passes before any public-key work: mac1
 * (addressed to us), then mac2 while under load. */
static bool init_gate(veil_anchor *a, const struct anchor_init *m, const uint8_t *pkt,
                      const uint8_t *from, size_t from_len, uint64_t now_ms,
                      enum veil_anchor_drop *why)
{
    if (!mac_ok(a->self.mac1_key, 32, pkt, m->mac1_off, m->mac1))
        return drop(a, VEIL_ANCHOR_DROP_MAC1, why);
    if (under_load(a, now_ms)) {
        uint8_t cookie[ANCHOR_COOKIE_BYTES];
        cookie_for(a, cookie, from, from_len);
        bool ok = mac_ok(cookie, sizeof cookie, pkt, m->mac2_off, m->mac2);
        sodium_memzero(cookie, sizeof cookie);
        if (!ok) {
            send_cookie_reply(a, m, from, from_len);
            return drop(a, VEIL_ANCHOR_DROP_COOKIE, why);
        }
    }
    return true;
}

static bool recv_init(veil_anchor *a, const uint8_t *from, size_t from_len, const uint8_t *pkt,
                      size_t len, uint64_t now_ms, enum veil_anchor_drop *why)
{
    struct anchor_init m;
    struct anchor_sym sym;
    struct anchor_hs_result res;
    bool ok = false;
    if (anchor_init_decode(&m, pkt, len, NULL) != 0)
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    if (!init_gate(a, &m, pkt, from, from_len, now_ms, why))
        return false;
    if (anchor_hs_accept(&a->self, &m, now_ms, &sym, &res, NULL) != 0 ||
        memcmp(res.peer_id, a->self.id_pk, VEIL_ANCHOR_KEY_BYTES) == 0) {
        ok = drop(a, VEIL_ANCHOR_DROP_AUTH, why);
        goto out;
    }
    if (!veil_anchor_may_talk(&a->self.info, &res.info)) {
        ok = drop(a, VEIL_ANCHOR_DROP_REALM, why);
        goto out;
    }
    struct anchor_peer *p = find_peer(a, res.peer_id);
    if (p && res.timestamp <= p->last_ts_seen) {
        ok = drop(a, VEIL_ANCHOR_DROP_REPLAY, why);
        goto out;
    }
    if (!p && !(p = new_peer(a, res.peer_id, NULL))) {
        ok = drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
        goto out;
    }
    uint32_t idx = new_index(a);
    veil_buf b;
    veil_buf_init(&b);
    if (anchor_hs_answer(&a->self, &sym, &m, idx, &res, &b, NULL) != 0) {
        veil_buf_free(&b);
        ok = drop(a, VEIL_ANCHOR_DROP_AUTH, why);
        goto out;
    }
    p->last_ts_seen = res.timestamp;
    p->info = res.info;
    p->has_info = true;
    p->await_reply = false; /* an authenticated packet from the peer */
    set_endpoint(p, from, from_len);
    session_from(&p->next, &res, idx, false, now_ms);
    emit(a, from, from_len, &b);
    ok = true;
out:
    sodium_memzero(&sym, sizeof sym);
    sodium_memzero(&res, sizeof res);
    return ok;
}

static struct anchor_peer *find_handshake(const veil_anchor *a, uint32_t idx)
{
    for (size_t i = 0; i < a->n_peers; i++)
        if (a->peers[i]->hs_pending && a->peers[i]->hs.local_idx == idx)
            return a->peers[i];
    return NULL;
}

/* The initiator's session is up: rotate it in, send what waited (or a
 * keepalive, which confirms the session to the responder). */
static void established(veil_anchor *a, struct anchor_peer *p, const struct anchor_hs_result *res,
                        uint64_t now_ms)
{
    if (p->cur.live)
        session_move(&p->prev, &p->cur);
    else
        session_wipe(&p->prev);
    session_from(&p->cur, res, p->hs.local_idx, true, now_ms);
    p->info = res->info;
    p->has_info = true;
    sodium_memzero(&p->hs, sizeof p->hs);
    p->hs_pending = false;
    a->stats.handshakes_completed++;
    if (!p->was_up)
        event(a, VEIL_ANCHOR_EV_UP, p->id, NULL, 0);
    p->was_up = true;
    if (p->queue_len > 0)
        queue_flush(a, p, now_ms);
    else
        send_on(a, p, NULL, 0, now_ms);
}

static bool recv_resp(veil_anchor *a, const uint8_t *from, size_t from_len, const uint8_t *pkt,
                      size_t len, uint64_t now_ms, enum veil_anchor_drop *why)
{
    struct anchor_resp m;
    struct anchor_hs_result res;
    if (anchor_resp_decode(&m, pkt, len, NULL) != 0)
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    if (!mac_ok(a->self.mac1_key, 32, pkt, m.mac1_off, m.mac1))
        return drop(a, VEIL_ANCHOR_DROP_MAC1, why);
    struct anchor_peer *p = find_handshake(a, m.receiver);
    if (!p)
        return drop(a, VEIL_ANCHOR_DROP_UNKNOWN_INDEX, why);
    if (anchor_hs_finish(&a->self, &p->hs, p->id, &m, now_ms, &res, NULL) != 0)
        return drop(a, VEIL_ANCHOR_DROP_AUTH, why);
    if (!veil_anchor_may_talk(&a->self.info, &res.info)) {
        sodium_memzero(&res, sizeof res);
        sodium_memzero(&p->hs, sizeof p->hs);
        p->hs_pending = false;
        queue_drop(p);
        event(a, VEIL_ANCHOR_EV_HANDSHAKE_FAILED, p->id, NULL, 0);
        return drop(a, VEIL_ANCHOR_DROP_REALM, why);
    }
    set_endpoint(p, from, from_len);
    p->await_reply = false; /* an authenticated packet from the peer */
    established(a, p, &res, now_ms);
    sodium_memzero(&res, sizeof res);
    return true;
}

static bool recv_cookie(veil_anchor *a, const uint8_t *pkt, size_t len, uint64_t now_ms,
                        enum veil_anchor_drop *why)
{
    struct anchor_cookie_msg m;
    uint8_t key[32];
    if (anchor_cookie_decode(&m, pkt, len, NULL) != 0)
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    struct anchor_peer *p = find_handshake(a, m.receiver);
    if (!p)
        return drop(a, VEIL_ANCHOR_DROP_UNKNOWN_INDEX, why);
    anchor_label_key(key, "cookie--", p->id);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p->cookie, NULL, NULL, m.enc,
                                                   ANCHOR_COOKIE_BYTES + ANCHOR_TAG_BYTES,
                                                   p->hs.mac1, ANCHOR_MAC_BYTES, m.nonce, key) != 0)
        return drop(a, VEIL_ANCHOR_DROP_AUTH, why);
    /* the next retransmission (rekey_timeout after the last) carries mac2 */
    p->has_cookie = true;
    p->cookie_ms = now_ms;
    return true;
}

/* A transport packet authenticated on s: confirm a responder's pending
 * session, record liveness, hand the data over. */
static void delivered(veil_anchor *a, struct anchor_peer *p, struct anchor_session *s, uint8_t *pt,
                      size_t pt_len, const uint8_t *from, size_t from_len, uint64_t now_ms)
{
    if (s == &p->next) {
        if (p->cur.live)
            session_move(&p->prev, &p->cur);
        else
            session_wipe(&p->prev);
        session_move(&p->cur, &p->next);
        a->stats.handshakes_completed++;
        if (!p->was_up)
            event(a, VEIL_ANCHOR_EV_UP, p->id, NULL, 0);
        p->was_up = true;
        queue_flush(a, p, now_ms);
    }
    set_endpoint(p, from, from_len);
    p->last_recv_ms = now_ms;
    p->await_reply = false;
    if (pt_len == 0) {
        free(pt);
        return;
    }
    if (!p->need_keepalive)
        p->keepalive_at_ms = now_ms + a->cfg.keepalive_ms;
    p->need_keepalive = true;
    a->stats.rx_data++;
    event(a, VEIL_ANCHOR_EV_DATA, p->id, pt, pt_len);
}

static bool recv_data(veil_anchor *a, const uint8_t *from, size_t from_len, const uint8_t *pkt,
                      size_t len, uint64_t now_ms, enum veil_anchor_drop *why)
{
    struct anchor_data m;
    struct anchor_peer *p;
    uint8_t nonce[12];
    if (anchor_data_decode(&m, pkt, len, NULL) != 0)
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    struct anchor_session *s = find_session(a, m.receiver, &p);
    if (!s)
        return drop(a, VEIL_ANCHOR_DROP_UNKNOWN_INDEX, why);
    if (now_ms - s->created_ms >= a->cfg.reject_after_ms ||
        m.counter >= a->cfg.reject_after_messages)
        return drop(a, VEIL_ANCHOR_DROP_EXPIRED, why);
    if (!anchor_replay_check(&s->replay, m.counter))
        return drop(a, VEIL_ANCHOR_DROP_REPLAY, why);
    size_t pt_len = m.enc_len - ANCHOR_TAG_BYTES;
    uint8_t *pt = malloc(pt_len ? pt_len : 1);
    if (!pt)
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    nonce_of(nonce, m.counter);
    EVP_CIPHER_CTX *c = session_ctx(s, false);
    if (!c ||
        anchor_aead_open(c, pt, m.enc, m.enc_len, m.header, ANCHOR_DATA_HEADER, nonce, NULL) != 0) {
        free(pt);
        return drop(a, VEIL_ANCHOR_DROP_AUTH, why);
    }
    anchor_replay_update(&s->replay, m.counter);
    delivered(a, p, s, pt, pt_len, from, from_len, now_ms);
    return true;
}

bool veil_anchor_recv(veil_anchor *a, const uint8_t *from, size_t from_len, const uint8_t *pkt,
                      size_t len, uint64_t now_ms, enum veil_anchor_drop *why)
{
    a->stats.rx_packets++;
    if (from_len > VEIL_ANCHOR_ADDR_MAX || len > VEIL_ANCHOR_MTU_MAX)
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    switch (anchor_msg_type(pkt, len)) {
    case ANCHOR_MSG_INIT:
        return recv_init(a, from, from_len, pkt, len, now_ms, why);
    case ANCHOR_MSG_RESP:
        return recv_resp(a, from, from_len, pkt, len, now_ms, why);
    case ANCHOR_MSG_COOKIE:
        return recv_cookie(a, pkt, len, now_ms, why);
    case ANCHOR_MSG_DATA:
        return recv_data(a, from, from_len, pkt, len, now_ms, why);
    default:
        return drop(a, VEIL_ANCHOR_DROP_MALFORMED, why);
    }
}

/* ---- Guardian commands ----------------------------------------------------- */

int veil_anchor_set_credential(veil_anchor *a, const uint8_t *cred, size_t cred_len,
                               uint64_t now_ms, veil_err *err)
{
    struct veil_anchor_cred_info info;
    memset(&info, 0, sizeof info);
    if (cred_len == 0 || cred_len > VEIL_ANCHOR_CRED_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "anchor: credential must be 1..%d bytes",
                            VEIL_ANCHOR_CRED_MAX);
    if (a->self.verify(a->self.verify_ctx, cred, cred_len, a->self.id_pk, now_ms, &info, err) != 0)
        return veil_err_wrap(err, "anchor: new own credential");
    uint8_t *copy = malloc(cred_len);
    if (!copy)
        return veil_err_set(err, VEIL_E_NOMEM, "anchor: out of memory");
    memcpy(copy, cred, cred_len);
    free(a->self.cred);
    a->self.cred = copy;
    a->self.cred_len = cred_len;
    a->self.info = info;
    for (size_t i = 0; i < a->n_peers; i++) {
        struct anchor_peer *p = a->peers[i];
        if (p->has_info && !veil_anchor_may_talk(&a->self.info, &p->info))
            teardown(a, p);
    }
    return 0;
}

void veil_anchor_invalidate_keys(veil_anchor *a, uint64_t now_ms)
{
    (void)now_ms;
    for (size_t i = 0; i < a->n_peers; i++)
        teardown(a, a->peers[i]);
}

/* ---- timers ---------------------------------------------------------------- */

static void expire_sessions(veil_anchor *a, struct anchor_peer *p, uint64_t now_ms)
{
    struct anchor_session *all[3] = {&p->cur, &p->prev, &p->next};
    for (int k = 0; k < 3; k++)
        if (all[k]->live && now_ms - all[k]->created_ms >= a->cfg.reject_after_ms)
            session_wipe(all[k]);
    if (!p->cur.live && p->was_up) {
        p->was_up = false;
        event(a, VEIL_ANCHOR_EV_DOWN, p->id, NULL, 0);
    }
}

static void retry_handshake(veil_anchor *a, struct anchor_peer *p, uint64_t now_ms)
{
    if (!p->hs_pending || now_ms - p->hs_sent_ms < a->cfg.rekey_timeout_ms)
        return;
    if (now_ms - p->hs_started_ms >= a->cfg.rekey_attempt_ms ||
        start_handshake(a, p, now_ms, NULL) != 0) {
        sodium_memzero(&p->hs, sizeof p->hs);
        p->hs_pending = false;
        queue_drop(p);
        event(a, VEIL_ANCHOR_EV_HANDSHAKE_FAILED, p->id, NULL, 0);
    }
}

/* WireGuard's rule (whitepaper 6.5): data went out and nothing came back
 * within keepalive + rekey_timeout - a peer that answers at least sends its
 * keepalive by then - so the session is presumed dead (the peer restarted,
 * or its path changed) and a new handshake starts. */
static void reply_overdue(veil_anchor *a, struct anchor_peer *p, uint64_t now_ms)
{
    if (!p->await_reply || now_ms < p->reply_due_ms)
        return;
    p->await_reply = false;
    if (p->hs_pending || start_handshake(a, p, now_ms, NULL) != 0)
        return;
    a->stats.silence_handshakes++;
}

void veil_anchor_tick(veil_anchor *a, uint64_t now_ms)
{
    if (now_ms - a->cookie_secret_ms >= a->cfg.cookie_secret_ms) {
        randombytes_buf(a->cookie_secret, sizeof a->cookie_secret);
        a->cookie_secret_ms = now_ms;
    }
    for (size_t i = 0; i < a->n_peers; i++) {
        struct anchor_peer *p = a->peers[i];
        expire_sessions(a, p, now_ms);
        retry_handshake(a, p, now_ms);
        reply_overdue(a, p, now_ms);
        if (p->need_keepalive && now_ms >= p->keepalive_at_ms &&
            !session_expired(a, &p->cur, now_ms))
            send_on(a, p, NULL, 0, now_ms);
    }
}

static uint64_t min_u64(uint64_t x, uint64_t y)
{
    return x < y ? x : y;
}

uint64_t veil_anchor_next_deadline(const veil_anchor *a)
{
    uint64_t t = a->cookie_secret_ms + a->cfg.cookie_secret_ms;
    for (size_t i = 0; i < a->n_peers; i++) {
        const struct anchor_peer *p = a->peers[i];
        const struct anchor_session *all[3] = {&p->cur, &p->prev, &p->next};
        for (int k = 0; k < 3; k++)
            if (all[k]->live)
                t = min_u64(t, all[k]->created_ms + a->cfg.reject_after_ms);
        if (p->hs_pending)
            t = min_u64(t, p->hs_sent_ms + a->cfg.rekey_timeout_ms);
        if (p->need_keepalive)
            t = min_u64(t, p->keepalive_at_ms);
        if (p->await_reply)
            t = min_u64(t, p->reply_due_ms);
    }
    return t;
}

/* ---- queries --------------------------------------------------------------- */

bool veil_anchor_peer_up(const veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES])
{
    const struct anchor_peer *p = find_peer(a, peer);
    return p && p->cur.live && p->cur.send_ctr < a->cfg.reject_after_messages;
}

size_t veil_anchor_peer_endpoint(const veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                                 uint8_t out[VEIL_ANCHOR_ADDR_MAX])
{
    const struct anchor_peer *p = find_peer(a, peer);
    if (!p || p->addr_len == 0)
        return 0;
    memcpy(out, p->addr, p->addr_len);
    return p->addr_len;
}

void veil_anchor_force_under_load(veil_anchor *a, bool on)
{
    a->force_load = on;
}

void veil_anchor_get_stats(const veil_anchor *a, struct veil_anchor_stats *out)
{
    *out = a->stats;
}
