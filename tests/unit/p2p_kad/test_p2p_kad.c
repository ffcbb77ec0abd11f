// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_kad.c - unit tests of the Kademlia module (src/p2p/kad.c): XOR
 * distance, k-bucket routing table, Message encoding against bytes produced
 * by js-libp2p (@libp2p/kad-dht 16.4.5), the request server, and iterative
 * lookups through a simulated network of 300 routing tables.
 */
#include <veil/kad.h>

#include "vtest.h"

#include <sodium.h>

static const char js_id_hex[] =
    "00240801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
static const char js_req_hex[] =
    "0804122600240801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
static const char js_resp_hex[] =
    "0804122600240801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad0496644232"
    "0a2600240801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad04966412080"
    "47f000001060fa1";
static const uint8_t ma_local_4001[] = {0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1};

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    long n = veil_hex_decode(out, cap, hex, strlen(hex), false, NULL);
    return n < 0 ? 0 : (size_t)n;
}

/* A random Ed25519-style peer ID (identity multihash of a PublicKey). */
static void random_peer(struct veil_kad_peer *p)
{
    uint8_t id[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    veil_random_bytes(id + 6, 32);
    CHECK(veil_kad_peer_init(p, id, sizeof id, NULL) == 0);
}

static void test_distance(void)
{
    uint8_t a[32] = {0}, b[32] = {0}, t[32] = {0};
    CHECK_EQ_INT(veil_kad_common_prefix(a, b), 256);
    b[0] = 0x80;
    CHECK_EQ_INT(veil_kad_common_prefix(a, b), 0);
    b[0] = 0;
    b[3] = 0x10;
    CHECK_EQ_INT(veil_kad_common_prefix(a, b), 27);
    /* t=0: a=0 is closer than b */
    CHECK(veil_kad_distance_cmp(t, a, b) < 0);
    CHECK(veil_kad_distance_cmp(t, b, a) > 0);
    CHECK_EQ_INT(veil_kad_distance_cmp(t, a, a), 0);
    /* the key is SHA-256 of the peer-ID bytes */
    uint8_t id[64], key[32], want[32];
    size_t n = unhex(id, sizeof id, js_id_hex);
    veil_kad_key(id, n, key);
    crypto_hash_sha256(want, id, n);
    CHECK_EQ_MEM(key, want, 32);
}

static int cmp_key_to(const uint8_t *target, const struct veil_kad_peer *a,
                      const struct veil_kad_peer *b)
{
    return veil_kad_distance_cmp(target, a->key, b->key);
}

static void test_table(void)
{
    struct veil_kad_peer self;
    random_peer(&self);
    veil_kad_table *t;
    CHECK(veil_kad_table_new(&t, self.id, self.id_len, VEIL_KAD_K, NULL) == 0);
    CHECK_EQ_INT(veil_kad_table_add(t, &self, 1), -1); /* never ourselves */
    enum { N = 2000 };
    struct veil_kad_peer *all = calloc(N, sizeof *all);
    int added = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        random_peer(&all[i]);
        veil_kad_peer_add_addr(&all[i], ma_local_4001, sizeof ma_local_4001);
        int r = veil_kad_table_add(t, &all[i], 10);
        CHECK(r == 0 || r == 1);
        added += r == 1;
        refused += r == 0;
    }
    CHECK_EQ_INT(veil_kad_table_size(t), added);
    /* the far half of the key space is one bucket of k; nearer buckets halve */
    CHECK_EQ_INT(veil_kad_table_bucket_size(t, 0), VEIL_KAD_K);
    CHECK(refused > N / 2);
    for (int b = 0; b < 256; b++)
        CHECK(veil_kad_table_bucket_size(t, b) <= VEIL_KAD_K);
    /* closest() is sorted and agrees with a brute-force scan of the table */
    uint8_t target[32];
    veil_random_bytes(target, 32);
    struct veil_kad_peer best[VEIL_KAD_K];
    size_t n = veil_kad_table_closest(t, target, best, VEIL_KAD_K);
    CHECK_EQ_INT(n, VEIL_KAD_K);
    for (size_t i = 1; i < n; i++)
        CHECK(cmp_key_to(target, &best[i - 1], &best[i]) < 0);
    int closer_outside = 0;
    for (int i = 0; i < N; i++) {
        if (!veil_kad_table_find(t, all[i].id, all[i].id_len))
            continue;
        bool in_best = false;
        for (size_t j = 0; j < n; j++)
            in_best |= memcmp(best[j].id, all[i].id, all[i].id_len) == 0;
        if (!in_best && cmp_key_to(target, &all[i], &best[n - 1]) < 0)
            closer_outside++;
    }
    CHECK_EQ_INT(closer_outside, 0);
    /* a refused peer gets the place of one that failed twice */
    int b0_victim = -1, refused_idx = -1;
    for (int i = 0; i < N && (b0_victim < 0 || refused_idx < 0); i++) {
        bool in = veil_kad_table_find(t, all[i].id, all[i].id_len) != NULL;
        if (veil_kad_table_bucket_of(t, all[i].key) != 0)
            continue;
        if (in && b0_victim < 0)
            b0_victim = i;
        if (!in && refused_idx < 0)
            refused_idx = i;
    }
    CHECK(b0_victim >= 0 && refused_idx >= 0);
    if (b0_victim >= 0 && refused_idx >= 0) {
        CHECK_EQ_INT(veil_kad_table_add(t, &all[refused_idx], 20), 0);
        veil_kad_table_failed(t, all[b0_victim].id, all[b0_victim].id_len);
        CHECK_EQ_INT(veil_kad_table_add(t, &all[refused_idx], 20), 0);
        veil_kad_table_failed(t, all[b0_victim].id, all[b0_victim].id_len);
        CHECK_EQ_INT(veil_kad_table_add(t, &all[refused_idx], 20), 1);
        CHECK(veil_kad_table_find(t, all[b0_victim].id, all[b0_victim].id_len) == NULL);
        CHECK(veil_kad_table_find(t, all[refused_idx].id, all[refused_idx].id_len) != NULL);
    }
    /* refresh merges addresses; remove works */
    CHECK_EQ_INT(veil_kad_table_closest(t, target, best, 1), 1);
    struct veil_kad_peer again = best[0];
    uint8_t other_ma[] = {0x04, 10, 0, 0, 1, 0x06, 0x10, 0x00};
    again.n_addrs = 0;
    veil_kad_peer_add_addr(&again, other_ma, sizeof other_ma);
    CHECK_EQ_INT(veil_kad_table_add(t, &again, 30), 1);
    const struct veil_kad_peer *f = veil_kad_table_find(t, again.id, again.id_len);
    CHECK(f && f->n_addrs == 2);
    size_t before = veil_kad_table_size(t);
    CHECK(veil_kad_table_remove(t, again.id, again.id_len));
    CHECK(!veil_kad_table_remove(t, again.id, again.id_len));
    CHECK_EQ_INT(veil_kad_table_size(t), before - 1);
    free(all);
    veil_kad_table_free(t);
}

static void test_wire_matches_js(void)
{
    uint8_t id[64], want[256];
    size_t id_len = unhex(id, sizeof id, js_id_hex);
    veil_buf b;
    veil_buf_init(&b);
    veil_kad_encode_find_node(&b, id, id_len);
    size_t n = unhex(want, sizeof want, js_req_hex);
    CHECK_EQ_INT(b.len, n);
    CHECK(b.len == n && memcmp(b.data, want, n) == 0);
    veil_buf_reset(&b);
    struct veil_kad_peer p;
    CHECK(veil_kad_peer_init(&p, id, id_len, NULL) == 0);
    veil_kad_peer_add_addr(&p, ma_local_4001, sizeof ma_local_4001);
    veil_kad_encode_response(&b, VEIL_KAD_FIND_NODE, id, id_len, &p, 1);
    n = unhex(want, sizeof want, js_resp_hex);
    CHECK_EQ_INT(b.len, n);
    CHECK(b.len == n && memcmp(b.data, want, n) == 0);
    struct veil_kad_decoded d;
    CHECK(veil_kad_decode(want, n, &d, NULL) == 0);
    CHECK_EQ_INT(d.type, VEIL_KAD_FIND_NODE);
    CHECK_EQ_INT(d.key_len, id_len);
    CHECK_EQ_INT(d.n_closer, 1);
    if (d.n_closer == 1) {
        CHECK_EQ_MEM(d.closer[0].id, id, id_len);
        CHECK_EQ_INT(d.closer[0].n_addrs, 1);
        CHECK_EQ_MEM(d.closer[0].addrs[0].bytes, ma_local_4001, sizeof ma_local_4001);
    }
    veil_kad_decoded_free(&d);
    /* a peer with an invalid ID or address is dropped, not the answer */
    veil_buf_reset(&b);
    struct veil_kad_peer bad[2];
    bad[0] = p;
    bad[0].addrs[0].bytes[0] = 0x7f; /* unknown multiaddr protocol */
    CHECK(veil_kad_peer_init(&bad[1], (const uint8_t *)"\x12\x20zzz", 5, NULL) == 0);
    veil_kad_encode_response(&b, VEIL_KAD_FIND_NODE, id, id_len, bad, 2);
    CHECK(veil_kad_decode(b.data, b.len, &d, NULL) == 0);
    CHECK_EQ_INT(d.n_closer, 1);
    if (d.n_closer)
        CHECK_EQ_INT(d.closer[0].n_addrs, 0);
    veil_kad_decoded_free(&d);
    /* malformed input */
    veil_err err;
    static const uint8_t junk[] = {0x08, 0x09};
    CHECK(veil_kad_decode(junk, sizeof junk, &d, &err) != 0); /* type 9 */
    static const uint8_t trunc[] = {0x12, 0x26, 0x00};
    CHECK(veil_kad_decode(trunc, sizeof trunc, &d, &err) != 0);
    for (size_t cut = 0; cut < n; cut++)
        if (veil_kad_decode(want, cut, &d, NULL) == 0)
            veil_kad_decoded_free(&d);
    veil_buf_free(&b);
}

static void test_serve(void)
{
    struct veil_kad_peer self, requester;
    random_peer(&self);
    random_peer(&requester);
    veil_kad_table *t;
    CHECK(veil_kad_table_new(&t, self.id, self.id_len, VEIL_KAD_K, NULL) == 0);
    CHECK_EQ_INT(veil_kad_table_add(t, &requester, 1), 1);
    for (int i = 0; i < 200; i++) {
        struct veil_kad_peer p;
        random_peer(&p);
        veil_kad_peer_add_addr(&p, ma_local_4001, sizeof ma_local_4001);
        (void)veil_kad_table_add(t, &p, 1);
    }
    veil_buf req, resp;
    veil_buf_init(&req);
    veil_buf_init(&resp);
    /* FIND_NODE for the requester itself: k peers, never the requester */
    veil_kad_encode_find_node(&req, requester.id, requester.id_len);
    CHECK(veil_kad_serve(t, requester.id, requester.id_len, req.data, req.len, &resp, NULL) == 0);
    struct veil_kad_decoded d;
    CHECK(veil_kad_decode(resp.data, resp.len, &d, NULL) == 0);
    CHECK_EQ_INT(d.type, VEIL_KAD_FIND_NODE);
    CHECK_EQ_INT(d.n_closer, VEIL_KAD_K);
    for (size_t i = 0; i < d.n_closer; i++) {
        CHECK(memcmp(d.closer[i].id, requester.id, requester.id_len) != 0);
        CHECK_EQ_INT(d.closer[i].n_addrs, 1);
    }
    veil_kad_decoded_free(&d);
    /* PING is answered with PING */
    static const uint8_t ping[] = {0x08, 0x05};
    veil_buf_reset(&resp);
    CHECK(veil_kad_serve(t, requester.id, requester.id_len, ping, sizeof ping, &resp, NULL) == 0);
    CHECK(resp.len == 2 && memcmp(resp.data, ping, 2) == 0);
    /* PUT_VALUE (type omitted = 0) and ADD_PROVIDER are refused */
    static const uint8_t put[] = {0x12, 0x01, 0x41};
    static const uint8_t addprov[] = {0x08, 0x02, 0x12, 0x01, 0x41};
    veil_err err;
    CHECK(veil_kad_serve(t, requester.id, requester.id_len, put, sizeof put, &resp, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
    CHECK(veil_kad_serve(t, requester.id, requester.id_len, addprov, sizeof addprov, &resp, &err) !=
          0);
    /* FIND_NODE without a key */
    static const uint8_t nokey[] = {0x08, 0x04};
    CHECK(veil_kad_serve(t, requester.id, requester.id_len, nokey, 2, &resp, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_PROTOCOL);
    veil_buf_free(&req);
    veil_buf_free(&resp);
    veil_kad_table_free(t);
}

/* ---- lookups through a simulated network -------------------------------- */

enum { NET = 300 };

struct net {
    struct veil_kad_peer peers[NET];
    veil_kad_table *tables[NET];
    bool offline[NET];
};

static int net_index(const struct net *n, const uint8_t *id, size_t len)
{
    for (int i = 0; i < NET; i++)
        if (n->peers[i].id_len == len && memcmp(n->peers[i].id, id, len) == 0)
            return i;
    return -1;
}

/* Runs a lookup from node `from` to completion, answering each query with
 * the queried node's own veil_kad_serve over encoded bytes. */
static veil_kad_lookup *net_lookup(struct net *n, int from, const uint8_t *target, size_t len,
                                   int *rounds)
{
    veil_kad_lookup *l;
    CHECK(veil_kad_lookup_new(&l, n->tables[from], target, len, VEIL_KAD_K, VEIL_KAD_ALPHA, NULL) ==
          0);
    veil_buf req, resp;
    veil_buf_init(&req);
    veil_buf_init(&resp);
    *rounds = 0;
    while (!veil_kad_lookup_done(l) && *rounds < 1000) {
        struct veil_kad_peer q[VEIL_KAD_ALPHA];
        size_t m = veil_kad_lookup_next(l, q, VEIL_KAD_ALPHA);
        CHECK(m > 0);
        if (m == 0)
            break;
        (*rounds)++;
        for (size_t i = 0; i < m; i++) {
            int j = net_index(n, q[i].id, q[i].id_len);
            CHECK(j >= 0);
            if (j < 0 || n->offline[j]) {
                veil_kad_lookup_fail(l, q[i].id, q[i].id_len);
                continue;
            }
            veil_buf_reset(&req);
            veil_buf_reset(&resp);
            veil_kad_encode_find_node(&req, target, len);
            CHECK(veil_kad_serve(n->tables[j], n->peers[from].id, n->peers[from].id_len, req.data,
                                 req.len, &resp, NULL) == 0);
            struct veil_kad_decoded d;
            CHECK(veil_kad_decode(resp.data, resp.len, &d, NULL) == 0);
            veil_kad_lookup_answer(l, q[i].id, q[i].id_len, d.closer, d.n_closer);
            /* both ends of a query learn about each other, as identify
             * does on a real connection */
            (void)veil_kad_table_add(n->tables[from], &n->peers[j], 1);
            (void)veil_kad_table_add(n->tables[j], &n->peers[from], 1);
            veil_kad_decoded_free(&d);
        }
    }
    veil_buf_free(&req);
    veil_buf_free(&resp);
    return l;
}

static void test_lookup(void)
{
    struct net *n = calloc(1, sizeof *n);
    for (int i = 0; i < NET; i++) {
        random_peer(&n->peers[i]);
        uint8_t ma[8] = {0x04, 127, 0, 0, 1, 0x06, (uint8_t)(i >> 8), (uint8_t)i};
        veil_kad_peer_add_addr(&n->peers[i], ma, sizeof ma);
        CHECK(veil_kad_table_new(&n->tables[i], n->peers[i].id, n->peers[i].id_len, VEIL_KAD_K,
                                 NULL) == 0);
    }
    /* each node knows 10 random others: a sparse start like a bootstrap */
    for (int i = 0; i < NET; i++)
        for (int k = 0; k < 10; k++) {
            int j = (int)veil_random_uniform(NET);
            if (j != i)
                (void)veil_kad_table_add(n->tables[i], &n->peers[j], 1);
        }
    /* bootstrap (kad-dht README "Bootstrap process"): every node looks up
     * its own ID, which fills its neighbourhood */
    for (int i = 0; i < NET; i++) {
        int rounds;
        veil_kad_lookup_free(net_lookup(n, i, n->peers[i].id, n->peers[i].id_len, &rounds));
    }
    /* 20 lookups of existing peers: the target itself is found, the k
     * results are exactly the k closest of the whole network, and the
     * number of rounds stays logarithmic */
    int exact = 0, found = 0, max_rounds = 0;
    for (int trial = 0; trial < 20; trial++) {
        int from = (int)veil_random_uniform(NET);
        int to = (from + 1 + (int)veil_random_uniform(NET - 1)) % NET;
        int rounds;
        veil_kad_lookup *l = net_lookup(n, from, n->peers[to].id, n->peers[to].id_len, &rounds);
        CHECK(veil_kad_lookup_done(l));
        if (rounds > max_rounds)
            max_rounds = rounds;
        struct veil_kad_peer res[VEIL_KAD_K];
        size_t m = veil_kad_lookup_result(l, res, VEIL_KAD_K);
        CHECK_EQ_INT(m, VEIL_KAD_K);
        found += m > 0 && memcmp(res[0].id, n->peers[to].id, n->peers[to].id_len) == 0;
        /* brute force: how many nodes (other than `from`) are closer than
         * the farthest result? exactly m - 1 when the result is exact */
        int closer = 0;
        for (int i = 0; i < NET; i++)
            if (i != from &&
                veil_kad_distance_cmp(n->peers[to].key, n->peers[i].key, res[m - 1].key) < 0)
                closer++;
        exact += closer == (int)m - 1;
        veil_kad_lookup_free(l);
    }
    /* Kademlia finds the target with high probability, not certainty:
     * allow a miss or two so the test never flakes */
    CHECK(found >= 18);
    CHECK(exact >= 16);
    CHECK(max_rounds < 60);
    /* with a third of the network offline the lookup still ends and still
     * finds the (online) target */
    for (int i = 0; i < NET; i++)
        n->offline[i] = veil_random_uniform(3) == 0;
    int hits = 0;
    veil_kad_lookup *l = NULL;
    struct veil_kad_peer res[VEIL_KAD_K];
    for (int trial = 0; trial < 5; trial++) {
        int to = (int)veil_random_uniform(NET), from = (int)veil_random_uniform(NET);
        while (n->offline[to])
            to = (to + 1) % NET;
        while (n->offline[from] || from == to)
            from = (from + 1) % NET;
        int rounds;
        l = net_lookup(n, from, n->peers[to].id, n->peers[to].id_len, &rounds);
        CHECK(veil_kad_lookup_done(l));
        size_t m = veil_kad_lookup_result(l, res, VEIL_KAD_K);
        hits += m > 0 && memcmp(res[0].id, n->peers[to].id, n->peers[to].id_len) == 0;
        for (size_t i = 0; i < m; i++)
            CHECK(!n->offline[net_index(n, res[i].id, res[i].id_len)]);
        veil_kad_lookup_free(l);
    }
    CHECK(hits >= 4);
    /* a lookup from an empty table is done at once */
    veil_kad_table *empty;
    CHECK(veil_kad_table_new(&empty, n->peers[0].id, n->peers[0].id_len, VEIL_KAD_K, NULL) == 0);
    CHECK(veil_kad_lookup_new(&l, empty, n->peers[1].id, n->peers[1].id_len, VEIL_KAD_K,
                              VEIL_KAD_ALPHA, NULL) == 0);
    CHECK(veil_kad_lookup_done(l));
    CHECK_EQ_INT(veil_kad_lookup_result(l, res, VEIL_KAD_K), 0);
    veil_kad_lookup_free(l);
    veil_kad_table_free(empty);
    for (int i = 0; i < NET; i++)
        veil_kad_table_free(n->tables[i]);
    free(n);
}

static void test_lookup_ignores_unsolicited(void)
{
    struct veil_kad_peer self, a, b;
    random_peer(&self);
    random_peer(&a);
    random_peer(&b);
    veil_kad_table *t;
    CHECK(veil_kad_table_new(&t, self.id, self.id_len, VEIL_KAD_K, NULL) == 0);
    CHECK_EQ_INT(veil_kad_table_add(t, &a, 1), 1);
    veil_kad_lookup *l;
    CHECK(veil_kad_lookup_new(&l, t, b.id, b.id_len, VEIL_KAD_K, 1, NULL) == 0);
    /* an answer from a peer never asked changes nothing */
    veil_kad_lookup_answer(l, b.id, b.id_len, &self, 1);
    struct veil_kad_peer q[2];
    CHECK_EQ_INT(veil_kad_lookup_next(l, q, 2), 1);
    CHECK_EQ_INT(veil_kad_lookup_next(l, q, 2), 0); /* alpha = 1 in flight */
    CHECK(!veil_kad_lookup_done(l));
    /* the answer lists ourselves and b: self is never a candidate */
    struct veil_kad_peer closer[2] = {self, b};
    veil_kad_lookup_answer(l, a.id, a.id_len, closer, 2);
    CHECK_EQ_INT(veil_kad_lookup_next(l, q, 2), 1);
    CHECK_EQ_MEM(q[0].id, b.id, b.id_len);
    veil_kad_lookup_fail(l, b.id, b.id_len);
    CHECK(veil_kad_lookup_done(l));
    CHECK_EQ_INT(veil_kad_lookup_result(l, q, 2), 1);
    CHECK_EQ_INT(veil_kad_lookup_queries(l), 2);
    veil_kad_lookup_free(l);
    veil_kad_table_free(t);
}

VTEST_MAIN(VTEST(test_distance), VTEST(test_table), VTEST(test_wire_matches_js), VTEST(test_serve),
           VTEST(test_lookup), VTEST(test_lookup_ignores_unsolicited))
