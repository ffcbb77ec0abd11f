// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_keys_wire.c - the parts of node-computed keys (daemon_keys.c,
 * issue 20) that need no daemon: the NODE_KEY message's codec (every
 * length checked through veil_reader; fuzzed by fuzz_node_key_msg), the
 * node's history of its own published telemetry words (plaintext: wiped
 * when replaced and on free), the table of keys held with the key set a
 * round reads from it, and the rule of which rounds take the key path.
 * Caller-owned state only; unit-tested by test_node_keys.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_keys.h"

/* ---- the NODE_KEY message ---- */

int veil_node_key_msg_encode(veil_buf *out, const struct node_key_msg *m, veil_err *err)
{
    if (m->node.len == 0 || m->node.len > VEIL_PEER_ID_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "node key: peer ID length %u out of range",
                            m->node.len);
    if (m->ct_len == 0 || m->ct_len > NODE_KEY_CT_MAX || !m->ct)
        return veil_err_set(err, VEIL_E_INVALID, "node key: ciphertext of %zu bytes (1 to %u)",
                            m->ct_len, NODE_KEY_CT_MAX);
    size_t start = out->len;
    veil_buf_put_u8(out, VEIL_MSG_VERSION);
    veil_buf_put_u8(out, VEIL_MSG_NODE_KEY);
    veil_buf_put(out, m->job_id, 32);
    veil_buf_put_u32be(out, m->replica);
    veil_buf_put_u32be(out, m->attempt);
    veil_buf_put_u64be(out, m->epoch);
    veil_buf_put_u8(out, m->node.len);
    veil_buf_put(out, m->node.bytes, m->node.len);
    veil_buf_put_u32be(out, (uint32_t)m->ct_len);
    veil_buf_put(out, m->ct, m->ct_len);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "node key: cannot encode");
    if (out->len - start > VEIL_MSG_MAX_BYTES) {
        out->len = start;
        return veil_err_set(err, VEIL_E_LIMIT, "node key message over %d bytes",
                            VEIL_MSG_MAX_BYTES);
    }
    return 0;
}

/* u8 len | peer ID (1..VEIL_PEER_ID_MAX bytes): 0, or -1 (reader latched). */
static int read_peer(veil_reader *r, struct veil_peer_id *p)
{
    uint8_t plen = veil_read_u8(r);
    if (!veil_reader_ok(r) || plen == 0 || plen > VEIL_PEER_ID_MAX)
        return -1;
    p->len = plen;
    veil_read_bytes(r, p->bytes, plen);
    return veil_reader_ok(r) ? 0 : -1;
}

/* The header both variants share, up to and including the ciphertext
 * length (*ct_len; 0 for a request). */
static int read_header(veil_reader *r, size_t len, struct node_key_plan *p,
                       struct veil_peer_id *node, uint32_t *ct_len, veil_err *err)
{
    if (len > VEIL_MSG_MAX_BYTES)
        return veil_err_set(err, VEIL_E_LIMIT, "node key message of %zu bytes over %d", len,
                            VEIL_MSG_MAX_BYTES);
    uint8_t version = veil_read_u8(r), type = veil_read_u8(r);
    if (!veil_reader_ok(r) || version != VEIL_MSG_VERSION || type != VEIL_MSG_NODE_KEY)
        return veil_err_set(err, VEIL_E_PROTOCOL, "node key: not a version %d NODE_KEY message",
                            VEIL_MSG_VERSION);
    veil_read_bytes(r, p->job_id, 32);
    p->replica = veil_read_u32be(r);
    p->attempt = veil_read_u32be(r);
    p->epoch = veil_read_u64be(r);
    if (read_peer(r, node) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "node key: truncated header or bad peer ID length");
    *ct_len = veil_read_u32be(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_PARSE, "node key: truncated header");
    return 0;
}

int veil_node_key_msg_parse(const uint8_t *data, size_t len, struct node_key_msg *m, veil_err *err)
{
    memset(m, 0, sizeof *m);
    veil_reader r;
    veil_reader_init(&r, data, len);
    struct node_key_plan p;
    uint32_t n = 0;
    if (read_header(&r, len, &p, &m->node, &n, err) != 0)
        return -1;
    memcpy(m->job_id, p.job_id, 32);
    m->replica = p.replica;
    m->attempt = p.attempt;
    m->epoch = p.epoch;
    if (!veil_reader_ok(&r) || n == 0 || n > NODE_KEY_CT_MAX)
        return veil_err_set(err, VEIL_E_PARSE, "node key: ciphertext length %u (1 to %u)", n,
                            NODE_KEY_CT_MAX);
    m->ct = veil_read_borrow(&r, n);
    m->ct_len = n;
    if (!veil_reader_ok(&r) || !m->ct)
        return veil_err_set(err, VEIL_E_PARSE, "node key: ciphertext truncated");
    if (veil_reader_remaining(&r) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "node key: %zu trailing bytes",
                            veil_reader_remaining(&r));
    return 0;
}

/* ---- the request for keys lost in gossip ---- */

static void put_peer(veil_buf *out, const struct veil_peer_id *p)
{
    veil_buf_put_u8(out, p->len);
    veil_buf_put(out, p->bytes, p->len);
}

int veil_node_key_req_encode(veil_buf *out, const struct node_key_req *q, veil_err *err)
{
    if (q->n_missing == 0 || q->n_missing > NODE_KEY_REQ_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "node key request: %zu nodes (1 to %d)",
                            q->n_missing, NODE_KEY_REQ_MAX);
    for (size_t i = 0; i <= q->n_missing; i++) {
        const struct veil_peer_id *p = i == 0 ? &q->from : &q->missing[i - 1];
        if (p->len == 0 || p->len > VEIL_PEER_ID_MAX)
            return veil_err_set(err, VEIL_E_INVALID,
                                "node key request: peer ID length %u out of range", p->len);
    }
    size_t start = out->len;
    veil_buf_put_u8(out, VEIL_MSG_VERSION);
    veil_buf_put_u8(out, VEIL_MSG_NODE_KEY);
    veil_buf_put(out, q->job_id, 32);
    veil_buf_put_u32be(out, q->replica);
    veil_buf_put_u32be(out, q->attempt);
    veil_buf_put_u64be(out, q->epoch);
    put_peer(out, &q->from);
    veil_buf_put_u32be(out, 0); /* no ciphertext: a request */
    veil_buf_put_u8(out, (uint8_t)q->n_missing);
    for (size_t i = 0; i < q->n_missing; i++)
        put_peer(out, &q->missing[i]);
    if (!veil_buf_ok(out)) {
        out->len = start;
        return veil_err_set(err, VEIL_E_NOMEM, "node key request: cannot encode");
    }
    return 0;
}

int veil_node_key_req_parse(const uint8_t *data, size_t len, struct node_key_req *q, veil_err *err)
{
    memset(q, 0, sizeof *q);
    veil_reader r;
    veil_reader_init(&r, data, len);
    struct node_key_plan p;
    uint32_t ct_len = 0;
    if (read_header(&r, len, &p, &q->from, &ct_len, err) != 0)
        return -1;
    if (ct_len != 0)
        return veil_err_set(err, VEIL_E_PROTOCOL, "node key request: a key, not a request");
    memcpy(q->job_id, p.job_id, 32);
    q->replica = p.replica;
    q->attempt = p.attempt;
    q->epoch = p.epoch;
    uint8_t count = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || count == 0 || count > NODE_KEY_REQ_MAX)
        return veil_err_set(err, VEIL_E_PARSE, "node key request: %u nodes (1 to %d)", count,
                            NODE_KEY_REQ_MAX);
    for (size_t i = 0; i < count; i++)
        if (read_peer(&r, &q->missing[i]) != 0)
            return veil_err_set(err, VEIL_E_PARSE, "node key request: node %zu truncated", i);
    q->n_missing = count;
    if (veil_reader_remaining(&r) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "node key request: %zu trailing bytes",
                            veil_reader_remaining(&r));
    return 0;
}

bool veil_node_key_msg_is_req(const uint8_t *data, size_t len)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    struct node_key_plan p;
    struct veil_peer_id from;
    uint32_t ct_len = 1;
    return read_header(&r, len, &p, &from, &ct_len, NULL) == 0 && ct_len == 0;
}

enum node_key_wait node_key_wait_rule(uint64_t planned_ms, uint64_t now_ms, uint64_t wait_ms,
                                      bool missing, bool asked)
{
    if (!missing)
        return NODE_KEY_GO;
    uint64_t waited = now_ms > planned_ms ? now_ms - planned_ms : 0;
    if (!asked && waited >= wait_ms / 2)
        return NODE_KEY_ASK;
    return waited >= wait_ms + (asked ? wait_ms / 2 : 0) ? NODE_KEY_GO : NODE_KEY_WAIT;
}

/* ---- the node's own words ---- */

void node_own_words_put(struct node_own_words *h, uint64_t epoch,
                        const uint16_t words[VEIL_TELEMETRY_WORDS])
{
    size_t slot = 0;
    for (size_t i = 0; i < NODE_KEY_WORDS_HISTORY; i++) {
        if (h->v[i].set && h->v[i].epoch == epoch) {
            slot = i;
            break;
        }
        if (!h->v[i].set) {
            slot = i;
            break;
        }
        if (h->v[i].epoch < h->v[slot].epoch)
            slot = i;
    }
    veil_memzero(h->v[slot].words, sizeof h->v[slot].words);
    memcpy(h->v[slot].words, words, sizeof h->v[slot].words);
    h->v[slot].epoch = epoch;
    h->v[slot].set = true;
}

static size_t own_newest_at(const struct node_own_words *h, uint64_t epoch)
{
    size_t best = NODE_KEY_WORDS_HISTORY;
    for (size_t i = 0; i < NODE_KEY_WORDS_HISTORY; i++)
        if (h->v[i].set && h->v[i].epoch <= epoch &&
            (best == NODE_KEY_WORDS_HISTORY || h->v[i].epoch > h->v[best].epoch))
            best = i;
    return best;
}

int node_own_words_at(const struct node_own_words *h, uint64_t epoch, uint64_t max_age,
                      uint16_t out[VEIL_TELEMETRY_WORDS])
{
    size_t best = own_newest_at(h, epoch);
    if (best == NODE_KEY_WORDS_HISTORY || epoch - h->v[best].epoch > max_age)
        return -1;
    memcpy(out, h->v[best].words, sizeof h->v[best].words);
    return 0;
}

void node_own_words_wipe(struct node_own_words *h)
{
    veil_memzero(h, sizeof *h);
}

/* ---- the table of keys ---- */

static bool entry_is(const struct node_key_entry *e, const uint8_t job_id[32], uint32_t replica,
                     uint32_t attempt, uint64_t epoch, const struct veil_peer_id *node)
{
    return e->replica == replica && e->attempt == attempt && e->epoch == epoch &&
           e->node.len == node->len && memcmp(e->node.bytes, node->bytes, node->len) == 0 &&
           memcmp(e->job_id, job_id, 32) == 0;
}

const struct node_key_entry *node_key_table_find(const struct node_key_table *t,
                                                 const uint8_t job_id[32], uint32_t replica,
                                                 uint32_t attempt, uint64_t epoch,
                                                 const struct veil_peer_id *node)
{
    for (size_t i = 0; i < t->n; i++)
        if (entry_is(&t->v[i], job_id, replica, attempt, epoch, node))
            return &t->v[i];
    return NULL;
}

/* The slot for a new entry: a free one (growing the array), or, when the
 * table is full, the entry of the oldest epoch (dropped). */
static struct node_key_entry *table_slot(struct node_key_table *t, veil_err *err)
{
    if (t->n == NODE_KEY_TABLE_MAX) {
        size_t old = 0;
        for (size_t i = 1; i < t->n; i++)
            if (t->v[i].epoch < t->v[old].epoch)
                old = i;
        free(t->v[old].ct);
        t->v[old].ct = NULL;
        return &t->v[old];
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct node_key_entry *v = realloc(t->v, cap * sizeof *v);
        if (!v) {
            veil_err_set(err, VEIL_E_NOMEM, "node keys: out of memory");
            return NULL;
        }
        t->v = v;
        t->cap = cap;
    }
    struct node_key_entry *e = &t->v[t->n++];
    memset(e, 0, sizeof *e);
    return e;
}

int node_key_table_put(struct node_key_table *t, const struct node_key_msg *m, veil_err *err)
{
    if (m->ct_len == 0 || m->ct_len > NODE_KEY_CT_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "node key of %zu bytes", m->ct_len);
    uint8_t *copy = malloc(m->ct_len);
    if (!copy)
        return veil_err_set(err, VEIL_E_NOMEM, "node keys: out of memory");
    memcpy(copy, m->ct, m->ct_len);
    struct node_key_entry *e = (struct node_key_entry *)node_key_table_find(
        t, m->job_id, m->replica, m->attempt, m->epoch, &m->node);
    if (e) {
        free(e->ct);
    } else if (!(e = table_slot(t, err))) {
        free(copy);
        return -1;
    } else {
        e->resent = 0;
    }
    memcpy(e->job_id, m->job_id, 32);
    e->replica = m->replica;
    e->attempt = m->attempt;
    e->epoch = m->epoch;
    e->node = m->node;
    e->ct = copy;
    e->ct_len = m->ct_len;
    return 0;
}

/* Keeps the entries `keep` says to keep, in order; returns how many went. */
static size_t table_filter(struct node_key_table *t,
                           bool (*keep)(const struct node_key_entry *e, const void *arg),
                           const void *arg)
{
    size_t kept = 0, n = t->n;
    for (size_t i = 0; i < n; i++) {
        if (!keep(&t->v[i], arg)) {
            free(t->v[i].ct);
            continue;
        }
        t->v[kept++] = t->v[i];
    }
    t->n = kept;
    return n - kept;
}

struct drop_arg {
    const uint8_t *job_id;
    uint32_t replica, below_attempt;
};

static bool keep_other_round(const struct node_key_entry *e, const void *arg)
{
    const struct drop_arg *a = arg;
    return e->replica != a->replica || e->attempt >= a->below_attempt ||
           memcmp(e->job_id, a->job_id, 32) != 0;
}

size_t node_key_table_drop(struct node_key_table *t, const uint8_t job_id[32], uint32_t replica,
                           uint32_t below_attempt)
{
    struct drop_arg a = {.job_id = job_id, .replica = replica, .below_attempt = below_attempt};
    return table_filter(t, keep_other_round, &a);
}

static bool keep_recent(const struct node_key_entry *e, const void *arg)
{
    return e->epoch >= *(const uint64_t *)arg;
}

size_t node_key_table_prune(struct node_key_table *t, uint64_t min_epoch)
{
    return table_filter(t, keep_recent, &min_epoch);
}

static bool plan_eq(const struct node_key_plan *a, const struct node_key_plan *b)
{
    return a->replica == b->replica && a->attempt == b->attempt && a->epoch == b->epoch &&
           memcmp(a->job_id, b->job_id, 32) == 0;
}

bool node_key_table_asked(const struct node_key_table *t, const struct node_key_plan *p)
{
    for (size_t i = 0; i < t->n_asks; i++)
        if (plan_eq(&t->asks[i], p))
            return true;
    return false;
}

void node_key_table_mark_asked(struct node_key_table *t, const struct node_key_plan *p)
{
    if (node_key_table_asked(t, p))
        return;
    t->asks[t->next_ask] = *p;
    t->next_ask = (t->next_ask + 1) % NODE_KEY_ASKS_MAX;
    if (t->n_asks < NODE_KEY_ASKS_MAX)
        t->n_asks++;
}

bool node_key_resend_take(struct node_key_entry *e)
{
    if (e->resent >= NODE_KEY_RESENDS)
        return false;
    e->resent++;
    return true;
}

void node_key_table_free(struct node_key_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].ct);
    free(t->v);
    memset(t, 0, sizeof *t);
}

int node_key_candidates(const struct node_key_table *t, const uint8_t job_id[32], uint32_t replica,
                        uint32_t attempt, uint64_t epoch, const struct veil_peer_id *alive,
                        size_t n_alive, const struct node_key_entry **out, size_t *n_out,
                        veil_err *err)
{
    *n_out = 0;
    struct veil_telemetry_seen *seen = calloc(n_alive + 1, sizeof *seen);
    const struct node_key_entry **held = calloc(n_alive + 1, sizeof *held);
    size_t *idx = calloc(n_alive + 1, sizeof *idx);
    int rc = seen && held && idx ? 0 : veil_err_set(err, VEIL_E_NOMEM, "node keys: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < n_alive && rc == 0; i++) {
        const struct node_key_entry *e =
            node_key_table_find(t, job_id, replica, attempt, epoch, &alive[i]);
        if (!e)
            continue; /* no key: not a candidate (as a member without telemetry) */
        seen[n] = (struct veil_telemetry_seen){.node = alive[i], .epoch = epoch, .alive = true};
        held[n++] = e;
    }
    /* the full circuit's order: by peer ID, duplicates once */
    size_t m = rc == 0 ? veil_round_candidates(seen, n, epoch, 0, idx) : 0;
    for (size_t i = 0; i < m; i++)
        out[i] = held[idx[i]];
    *n_out = m;
    free(seen);
    free(held);
    free(idx);
    return rc;
}

bool node_key_path(bool confidential)
{
    return !confidential;
}
