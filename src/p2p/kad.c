// SPDX-License-Identifier: Apache-2.0
/*
 * kad.c - Kademlia peer routing state machines (libp2p/specs kad-dht): keys
 * and XOR distance, the k-bucket routing table, the Message codec for
 * FIND_NODE/PING, the request server, and the iterative lookup. No I/O here;
 * kad_host.c runs these over libp2p streams.
 */
#include <veil/kad.h>
#include <veil/p2p.h>

#include "dht.pb-c.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KAD_BUCKETS               256
#define KAD_MAX_CLOSER            100 /* closer peers accepted in one answer */
#define KAD_LOOKUP_MAX_CANDIDATES 256

/* ------------------------------------------------------------------------ */
/* keys and distance                                                        */
/* ------------------------------------------------------------------------ */

void veil_kad_key(const void *bytes, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, bytes, len);
}

int veil_kad_common_prefix(const uint8_t a[32], const uint8_t b[32])
{
    for (int i = 0; i < 32; i++) {
        uint8_t x = a[i] ^ b[i];
        if (x) {
            int n = i * 8;
            while (!(x & 0x80)) {
                x <<= 1;
                n++;
            }
            return n;
        }
    }
    return 256;
}

int veil_kad_distance_cmp(const uint8_t target[32], const uint8_t a[32], const uint8_t b[32])
{
    for (int i = 0; i < 32; i++) {
        uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

int veil_kad_peer_init(struct veil_kad_peer *p, const uint8_t *id, size_t id_len, veil_err *err)
{
    memset(p, 0, sizeof *p);
    if (id_len == 0 || id_len > VEIL_KAD_ID_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "kad: peer ID of %zu bytes", id_len);
    memcpy(p->id, id, id_len);
    p->id_len = (uint8_t)id_len;
    veil_kad_key(id, id_len, p->key);
    return 0;
}

void veil_kad_peer_add_addr(struct veil_kad_peer *p, const uint8_t *addr, size_t len)
{
    if (len == 0 || len > VEIL_KAD_ADDR_MAX)
        return;
    for (unsigned i = 0; i < p->n_addrs; i++)
        if (p->addrs[i].len == len && memcmp(p->addrs[i].bytes, addr, len) == 0)
            return;
    if (p->n_addrs >= VEIL_KAD_ADDRS)
        return;
    p->addrs[p->n_addrs].len = (uint8_t)len;
    memcpy(p->addrs[p->n_addrs].bytes, addr, len);
    p->n_addrs++;
}

static bool same_id(const struct veil_kad_peer *p, const uint8_t *id, size_t len)
{
    return p->id_len == len && memcmp(p->id, id, len) == 0;
}

/* ------------------------------------------------------------------------ */
/* routing table                                                            */
/* ------------------------------------------------------------------------ */

struct kad_entry {
    struct veil_kad_peer peer;
    uint64_t last_seen;
    int failures;
};

struct kad_bucket {
    struct kad_entry *e; /* least recently seen first */
    size_t n;
};

struct veil_kad_table {
    uint8_t self_id[VEIL_KAD_ID_MAX];
    size_t self_len;
    uint8_t self_key[32];
    size_t k;
    struct kad_bucket buckets[KAD_BUCKETS];
    size_t size;
};

int veil_kad_table_new(veil_kad_table **out, const uint8_t *self_id, size_t self_len, size_t k,
                       veil_err *err)
{
    *out = NULL;
    if (self_len == 0 || self_len > VEIL_KAD_ID_MAX || k == 0 || k > 256)
        return veil_err_set(err, VEIL_E_INVALID, "kad: bad table parameters");
    veil_kad_table *t = calloc(1, sizeof *t);
    if (!t)
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    memcpy(t->self_id, self_id, self_len);
    t->self_len = self_len;
    veil_kad_key(self_id, self_len, t->self_key);
    t->k = k;
    for (int i = 0; i < KAD_BUCKETS; i++) {
        t->buckets[i].e = calloc(k, sizeof *t->buckets[i].e);
        if (!t->buckets[i].e) {
            veil_kad_table_free(t);
            return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
        }
    }
    *out = t;
    return 0;
}

void veil_kad_table_free(veil_kad_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < KAD_BUCKETS; i++)
        free(t->buckets[i].e);
    free(t);
}

int veil_kad_table_bucket_of(const veil_kad_table *t, const uint8_t key[32])
{
    int cpl = veil_kad_common_prefix(t->self_key, key);
    return cpl >= KAD_BUCKETS ? KAD_BUCKETS - 1 : cpl;
}

size_t veil_kad_table_bucket_size(const veil_kad_table *t, int bucket)
{
    return bucket >= 0 && bucket < KAD_BUCKETS ? t->buckets[bucket].n : 0;
}

static struct kad_entry *table_lookup(const veil_kad_table *t, const uint8_t *id, size_t len,
                                      struct kad_bucket **bucket_out, size_t *index)
{
    if (len == 0 || len > VEIL_KAD_ID_MAX)
        return NULL;
    uint8_t key[32];
    veil_kad_key(id, len, key);
    struct kad_bucket *b = (struct kad_bucket *)&t->buckets[veil_kad_table_bucket_of(t, key)];
    for (size_t i = 0; i < b->n; i++) {
        if (same_id(&b->e[i].peer, id, len)) {
            if (bucket_out)
                *bucket_out = b;
            if (index)
                *index = i;
            return &b->e[i];
        }
    }
    return NULL;
}

int veil_kad_table_add(veil_kad_table *t, const struct veil_kad_peer *p, uint64_t now)
{
    if (p->id_len == 0 || p->id_len > VEIL_KAD_ID_MAX)
        return -1;
    if (p->id_len == t->self_len && memcmp(p->id, t->self_id, t->self_len) == 0)
        return -1;
    struct kad_bucket *b;
    size_t idx;
    struct kad_entry *e = table_lookup(t, p->id, p->id_len, &b, &idx);
    if (e) {
        /* refresh: merge addresses, move to the most-recently-seen end */
        struct kad_entry copy = *e;
        for (unsigned i = 0; i < p->n_addrs; i++)
            veil_kad_peer_add_addr(&copy.peer, p->addrs[i].bytes, p->addrs[i].len);
        copy.last_seen = now;
        copy.failures = 0;
        memmove(&b->e[idx], &b->e[idx + 1], (b->n - idx - 1) * sizeof *b->e);
        b->e[b->n - 1] = copy;
        return 1;
    }
    struct kad_entry ne;
    memset(&ne, 0, sizeof ne);
    ne.peer = *p;
    veil_kad_key(p->id, p->id_len, ne.peer.key);
    ne.last_seen = now;
    b = &t->buckets[veil_kad_table_bucket_of(t, ne.peer.key)];
    if (b->n < t->k) {
        b->e[b->n++] = ne;
        t->size++;
        return 1;
    }
    /* full bucket: Kademlia prefers the peers that stayed; only one that
     * failed its queries gives its place */
    for (size_t i = 0; i < b->n; i++) {
        if (b->e[i].failures >= 2) {
            memmove(&b->e[i], &b->e[i + 1], (b->n - i - 1) * sizeof *b->e);
            b->e[b->n - 1] = ne;
            return 1;
        }
    }
    return 0;
}

bool veil_kad_table_remove(veil_kad_table *t, const uint8_t *id, size_t len)
{
    struct kad_bucket *b;
    size_t idx;
    if (!table_lookup(t, id, len, &b, &idx))
        return false;
    memmove(&b->e[idx], &b->e[idx + 1], (b->n - idx - 1) * sizeof *b->e);
    b->n--;
    t->size--;
    return true;
}

void veil_kad_table_failed(veil_kad_table *t, const uint8_t *id, size_t len)
{
    struct kad_entry *e = table_lookup(t, id, len, NULL, NULL);
    if (e)
        e->failures++;
}

const struct veil_kad_peer *veil_kad_table_find(const veil_kad_table *t, const uint8_t *id,
                                                size_t len)
{
    struct kad_entry *e = table_lookup(t, id, len, NULL, NULL);
    return e ? &e->peer : NULL;
}

size_t veil_kad_table_size(const veil_kad_table *t)
{
    return t->size;
}

/* qsort has no context argument: sort (distance, index) pairs instead */
struct dist_ref {
    uint8_t dist[32];
    const struct veil_kad_peer *p;
};

static int cmp_dist(const void *a, const void *b)
{
    return memcmp(((const struct dist_ref *)a)->dist, ((const struct dist_ref *)b)->dist, 32);
}

size_t veil_kad_table_closest(const veil_kad_table *t, const uint8_t key[32],
                              struct veil_kad_peer *out, size_t n)
{
    if (t->size == 0 || n == 0)
        return 0;
    struct dist_ref *refs = calloc(t->size, sizeof *refs);
    if (!refs)
        return 0;
    size_t m = 0;
    for (int b = 0; b < KAD_BUCKETS; b++) {
        for (size_t i = 0; i < t->buckets[b].n; i++) {
            const struct veil_kad_peer *p = &t->buckets[b].e[i].peer;
            for (int j = 0; j < 32; j++)
                refs[m].dist[j] = p->key[j] ^ key[j];
            refs[m].p = p;
            m++;
        }
    }
    qsort(refs, m, sizeof *refs, cmp_dist);
    size_t w = m < n ? m : n;
    for (size_t i = 0; i < w; i++)
        out[i] = *refs[i].p;
    free(refs);
    return w;
}

/* ------------------------------------------------------------------------ */
/* wire                                                                     */
/* ------------------------------------------------------------------------ */

static void put_tag(veil_buf *b, unsigned field, unsigned wt)
{
    veil_buf_put_uvarint(b, ((uint64_t)field << 3) | wt);
}

static void put_bytes(veil_buf *b, unsigned field, const void *d, size_t n)
{
    put_tag(b, field, 2);
    veil_buf_put_uvarint(b, n);
    if (n)
        veil_buf_put(b, d, n);
}

void veil_kad_encode_find_node(veil_buf *out, const uint8_t *key, size_t key_len)
{
    put_tag(out, 1, 0);
    veil_buf_put_uvarint(out, VEIL_KAD_FIND_NODE);
    put_bytes(out, 2, key, key_len);
}

void veil_kad_encode_response(veil_buf *out, enum veil_kad_type type, const uint8_t *key,
                              size_t key_len, const struct veil_kad_peer *peers, size_t n)
{
    if (type != VEIL_KAD_PUT_VALUE) { /* proto3 omits the default value */
        put_tag(out, 1, 0);
        veil_buf_put_uvarint(out, (uint64_t)type);
    }
    if (key_len)
        put_bytes(out, 2, key, key_len);
    for (size_t i = 0; i < n; i++) {
        veil_buf pb;
        veil_buf_init(&pb);
        put_bytes(&pb, 1, peers[i].id, peers[i].id_len);
        for (unsigned a = 0; a < peers[i].n_addrs; a++)
            put_bytes(&pb, 2, peers[i].addrs[a].bytes, peers[i].addrs[a].len);
        put_bytes(out, 8, pb.data, pb.len);
        veil_buf_free(&pb);
    }
}

int veil_kad_decode(const uint8_t *msg, size_t len, struct veil_kad_decoded *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > VEIL_KAD_MSG_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "kad: message of %zu bytes over the limit", len);
    Veil__Kad__Message *m = veil__kad__message__unpack(NULL, len, msg);
    if (!m)
        return veil_err_set(err, VEIL_E_PARSE, "kad: malformed message");
    int rc = 0;
    int type = m->has_type ? (int)m->type : 0;
    if (type < VEIL_KAD_PUT_VALUE || type > VEIL_KAD_PING) {
        rc = veil_err_set(err, VEIL_E_PROTOCOL, "kad: unknown message type %d", type);
        goto done;
    }
    out->type = (enum veil_kad_type)type;
    if (m->has_key) {
        if (m->key.len > sizeof out->key) {
            rc = veil_err_set(err, VEIL_E_RANGE, "kad: key of %zu bytes", m->key.len);
            goto done;
        }
        memcpy(out->key, m->key.data, m->key.len);
        out->key_len = m->key.len;
    }
    if (m->n_closer_peers > KAD_MAX_CLOSER) {
        rc = veil_err_set(err, VEIL_E_LIMIT, "kad: %zu closer peers in one message",
                          m->n_closer_peers);
        goto done;
    }
    if (m->n_closer_peers) {
        out->closer = calloc(m->n_closer_peers, sizeof *out->closer);
        if (!out->closer) {
            rc = veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < m->n_closer_peers; i++) {
        const Veil__Kad__Message__Peer *pp = m->closer_peers[i];
        veil_p2p_peer_id pid;
        if (!pp->has_id || veil_p2p_peer_id_from_bytes(pp->id.data, pp->id.len, &pid, NULL) != 0)
            continue; /* skip peers with invalid IDs rather than the whole answer */
        struct veil_kad_peer *kp = &out->closer[out->n_closer];
        if (veil_kad_peer_init(kp, pp->id.data, pp->id.len, NULL) != 0)
            continue;
        for (size_t a = 0; a < pp->n_addrs; a++) {
            veil_p2p_multiaddr ma;
            if (pp->addrs[a].len > VEIL_KAD_ADDR_MAX ||
                veil_p2p_multiaddr_from_bytes(pp->addrs[a].data, pp->addrs[a].len, &ma, NULL) != 0)
                continue;
            veil_kad_peer_add_addr(kp, pp->addrs[a].data, pp->addrs[a].len);
        }
        out->n_closer++;
    }
done:
    veil__kad__message__free_unpacked(m, NULL);
    if (rc != 0)
        veil_kad_decoded_free(out);
    return rc;
}

void veil_kad_decoded_free(struct veil_kad_decoded *d)
{
    free(d->closer);
    d->closer = NULL;
    d->n_closer = 0;
}

int veil_kad_serve(veil_kad_table *t, const uint8_t *requester, size_t requester_len,
                   const uint8_t *request, size_t len, veil_buf *response, veil_err *err)
{
    struct veil_kad_decoded d;
    if (veil_kad_decode(request, len, &d, err) != 0)
        return -1;
    veil_kad_decoded_free(&d); /* requests carry no peers we use */
    switch (d.type) {
    case VEIL_KAD_PING:
        veil_kad_encode_response(response, VEIL_KAD_PING, NULL, 0, NULL, 0);
        break;
    case VEIL_KAD_FIND_NODE:
    case VEIL_KAD_GET_VALUE:
    case VEIL_KAD_GET_PROVIDERS: {
        if (d.key_len == 0)
            return veil_err_set(err, VEIL_E_PROTOCOL, "kad: request without a key");
        uint8_t key[32];
        veil_kad_key(d.key, d.key_len, key);
        struct veil_kad_peer *peers = calloc(t->k + 1, sizeof *peers);
        if (!peers)
            return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
        size_t n = veil_kad_table_closest(t, key, peers, t->k + 1);
        /* never tell a peer about itself (go-libp2p-kad-dht does the same) */
        size_t w = 0;
        for (size_t i = 0; i < n && w < t->k; i++)
            if (!same_id(&peers[i], requester, requester_len))
                peers[w++] = peers[i];
        veil_kad_encode_response(response, d.type, d.key, d.key_len, peers, w);
        free(peers);
        break;
    }
    default:
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "kad: %s is not supported (peer routing only)",
                            d.type == VEIL_KAD_PUT_VALUE ? "PUT_VALUE" : "ADD_PROVIDER");
    }
    if (!veil_buf_ok(response))
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* iterative lookup                                                         */
/* ------------------------------------------------------------------------ */

enum cand_state { CAND_NEW, CAND_INFLIGHT, CAND_ANSWERED, CAND_FAILED };

struct cand {
    struct veil_kad_peer peer;
    enum cand_state state;
};

struct veil_kad_lookup {
    uint8_t target[32];
    uint8_t self_id[VEIL_KAD_ID_MAX];
    size_t self_len;
    size_t k, alpha;
    struct cand *c; /* sorted by distance to target, closest first */
    size_t n;
    size_t inflight;
    size_t queries;
};

static void lookup_insert(veil_kad_lookup *l, const struct veil_kad_peer *p)
{
    if (p->id_len == 0 || (p->id_len == l->self_len && memcmp(p->id, l->self_id, l->self_len) == 0))
        return;
    uint8_t key[32];
    veil_kad_key(p->id, p->id_len, key);
    size_t pos = l->n;
    for (size_t i = 0; i < l->n; i++) {
        if (same_id(&l->c[i].peer, p->id, p->id_len)) {
            for (unsigned a = 0; a < p->n_addrs; a++)
                veil_kad_peer_add_addr(&l->c[i].peer, p->addrs[a].bytes, p->addrs[a].len);
            return;
        }
        if (pos == l->n && veil_kad_distance_cmp(l->target, key, l->c[i].peer.key) < 0)
            pos = i;
    }
    if (l->n == KAD_LOOKUP_MAX_CANDIDATES) {
        /* full: drop the farthest candidate that is not in flight */
        if (pos == l->n)
            return;
        size_t drop = SIZE_MAX;
        for (size_t i = l->n; i-- > pos;) {
            if (l->c[i].state != CAND_INFLIGHT) {
                drop = i;
                break;
            }
        }
        if (drop == SIZE_MAX)
            return;
        memmove(&l->c[drop], &l->c[drop + 1], (l->n - drop - 1) * sizeof *l->c);
        l->n--;
    }
    memmove(&l->c[pos + 1], &l->c[pos], (l->n - pos) * sizeof *l->c);
    l->c[pos].peer = *p;
    memcpy(l->c[pos].peer.key, key, 32);
    l->c[pos].state = CAND_NEW;
    l->n++;
}

int veil_kad_lookup_new(veil_kad_lookup **out, const veil_kad_table *t, const uint8_t *target,
                        size_t target_len, size_t k, size_t alpha, veil_err *err)
{
    *out = NULL;
    if (k == 0 || alpha == 0 || target_len == 0)
        return veil_err_set(err, VEIL_E_INVALID, "kad: bad lookup parameters");
    veil_kad_lookup *l = calloc(1, sizeof *l);
    if (!l)
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    l->c = calloc(KAD_LOOKUP_MAX_CANDIDATES, sizeof *l->c);
    struct veil_kad_peer *seeds = calloc(k, sizeof *seeds);
    if (!l->c || !seeds) {
        free(seeds);
        veil_kad_lookup_free(l);
        return veil_err_set(err, VEIL_E_NOMEM, "kad: out of memory");
    }
    veil_kad_key(target, target_len, l->target);
    memcpy(l->self_id, t->self_id, t->self_len);
    l->self_len = t->self_len;
    l->k = k;
    l->alpha = alpha;
    size_t n = veil_kad_table_closest(t, l->target, seeds, k);
    for (size_t i = 0; i < n; i++)
        lookup_insert(l, &seeds[i]);
    free(seeds);
    *out = l;
    return 0;
}

void veil_kad_lookup_free(veil_kad_lookup *l)
{
    if (!l)
        return;
    free(l->c);
    free(l);
}

/* Index just past the k closest candidates that have not failed. */
static size_t window_end(const veil_kad_lookup *l)
{
    size_t live = 0, i = 0;
    for (; i < l->n && live < l->k; i++)
        if (l->c[i].state != CAND_FAILED)
            live++;
    return i;
}

size_t veil_kad_lookup_next(veil_kad_lookup *l, struct veil_kad_peer *out, size_t cap)
{
    size_t w = 0, end = window_end(l);
    for (size_t i = 0; i < end && l->inflight < l->alpha && w < cap; i++) {
        if (l->c[i].state != CAND_NEW)
            continue;
        l->c[i].state = CAND_INFLIGHT;
        l->inflight++;
        l->queries++;
        out[w++] = l->c[i].peer;
    }
    return w;
}

static struct cand *lookup_find(veil_kad_lookup *l, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (same_id(&l->c[i].peer, id, len))
            return &l->c[i];
    return NULL;
}

void veil_kad_lookup_answer(veil_kad_lookup *l, const uint8_t *from, size_t from_len,
                            const struct veil_kad_peer *closer, size_t n)
{
    struct cand *c = lookup_find(l, from, from_len);
    if (!c || c->state != CAND_INFLIGHT)
        return; /* unsolicited: ignore */
    c->state = CAND_ANSWERED;
    l->inflight--;
    for (size_t i = 0; i < n; i++)
        lookup_insert(l, &closer[i]);
}

void veil_kad_lookup_fail(veil_kad_lookup *l, const uint8_t *from, size_t from_len)
{
    struct cand *c = lookup_find(l, from, from_len);
    if (!c || c->state != CAND_INFLIGHT)
        return;
    c->state = CAND_FAILED;
    l->inflight--;
}

bool veil_kad_lookup_done(const veil_kad_lookup *l)
{
    if (l->inflight)
        return false;
    size_t end = window_end(l);
    for (size_t i = 0; i < end; i++)
        if (l->c[i].state == CAND_NEW)
            return false;
    return true;
}

size_t veil_kad_lookup_result(const veil_kad_lookup *l, struct veil_kad_peer *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n && w < cap && w < l->k; i++)
        if (l->c[i].state == CAND_ANSWERED)
            out[w++] = l->c[i].peer;
    return w;
}

size_t veil_kad_lookup_seen(const veil_kad_lookup *l, struct veil_kad_peer *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n && w < cap; i++)
        out[w++] = l->c[i].peer;
    return w;
}

size_t veil_kad_lookup_queries(const veil_kad_lookup *l)
{
    return l->queries;
}
