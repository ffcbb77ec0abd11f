// SPDX-License-Identifier: Apache-2.0
/*
 * test_keys.c - node-computed keys in veild (src/node/daemon_keys.c, issue
 * 20): the NODE_KEY message's encoding and parsing (every truncation,
 * trailing bytes, bad lengths, another type refused), the node's history of
 * its own words (the entry a round at epoch E reads: the newest not after
 * E, fresh), and which key set a round uses (only keys of its own job,
 * replica, attempt and epoch, from alive members, in peer-ID order; a
 * confidential request or a sharded round takes no key path), the request
 * for keys lost in gossip (codec, is-a-request) and its rules (when a
 * scheduler asks and how long it waits, once per plan; at most
 * NODE_KEY_RESENDS re-sends of a key). Fast, pure.
 */
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_keys.h"
#include "../../vtest.h"

static struct veil_peer_id peer(uint8_t tag)
{
    struct veil_peer_id p = {.len = 38};
    memset(p.bytes, 0x11, p.len);
    p.bytes[4] = tag; /* the order: by tag */
    return p;
}

static struct node_key_msg key_msg(uint8_t job, uint32_t attempt, uint64_t epoch, uint8_t node,
                                   const uint8_t *ct, size_t ct_len)
{
    struct node_key_msg m = {
        .replica = 0, .attempt = attempt, .epoch = epoch, .ct = ct, .ct_len = ct_len};
    memset(m.job_id, job, 32);
    m.node = peer(node);
    return m;
}

static void test_codec(void)
{
    uint8_t ct[300];
    for (size_t i = 0; i < sizeof ct; i++)
        ct[i] = (uint8_t)(i * 7);
    struct node_key_msg m = key_msg(0xAB, 2, 123456789, 9, ct, sizeof ct);
    m.replica = 3;
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_node_key_msg_encode(&b, &m, &err), 0);
    enum veil_msg_type type;
    CHECK_EQ_INT(veil_msg_peek_type(b.data, b.len, &type, &err), 0);
    CHECK_EQ_INT(type, VEIL_MSG_NODE_KEY);
    struct node_key_msg got;
    CHECK_EQ_INT(veil_node_key_msg_parse(b.data, b.len, &got, &err), 0);
    CHECK(memcmp(got.job_id, m.job_id, 32) == 0);
    CHECK_EQ_INT(got.replica, 3);
    CHECK_EQ_INT(got.attempt, 2);
    CHECK_EQ_U64(got.epoch, 123456789);
    CHECK(got.node.len == m.node.len && memcmp(got.node.bytes, m.node.bytes, m.node.len) == 0);
    CHECK(got.ct_len == sizeof ct && memcmp(got.ct, ct, sizeof ct) == 0);
    /* every truncation, one trailing byte, another type, a zero length */
    for (size_t n = 0; n < b.len; n++)
        CHECK_EQ_INT(veil_node_key_msg_parse(b.data, n, &got, &err), -1);
    uint8_t *more = malloc(b.len + 1);
    CHECK(more != NULL);
    memcpy(more, b.data, b.len);
    more[b.len] = 0;
    CHECK_EQ_INT(veil_node_key_msg_parse(more, b.len + 1, &got, &err), -1);
    more[1] = VEIL_MSG_TELEMETRY;
    CHECK_EQ_INT(veil_node_key_msg_parse(more, b.len, &got, &err), -1);
    more[1] = VEIL_MSG_NODE_KEY;
    size_t at_len = 2 + 32 + 4 + 4 + 8 + 1 + m.node.len; /* the ciphertext's length */
    memset(more + at_len, 0, 4);
    CHECK_EQ_INT(veil_node_key_msg_parse(more, b.len, &got, &err), -1);
    memset(more + at_len, 0xff, 4); /* far over NODE_KEY_CT_MAX */
    CHECK_EQ_INT(veil_node_key_msg_parse(more, b.len, &got, &err), -1);
    memcpy(more + at_len, b.data + at_len, 4);
    CHECK_EQ_INT(veil_node_key_msg_parse(more, b.len, &got, &err), 0);
    more[at_len - m.node.len - 1] = 0; /* peer ID length 0 */
    CHECK_EQ_INT(veil_node_key_msg_parse(more, b.len, &got, &err), -1);
    free(more);
    /* the encoder refuses what the parser would */
    veil_buf_reset(&b);
    m.ct_len = 0;
    CHECK_EQ_INT(veil_node_key_msg_encode(&b, &m, &err), -1);
    m.ct_len = NODE_KEY_CT_MAX + 1;
    CHECK_EQ_INT(veil_node_key_msg_encode(&b, &m, &err), -1);
    m.ct_len = sizeof ct;
    m.node.len = 0;
    CHECK_EQ_INT(veil_node_key_msg_encode(&b, &m, &err), -1);
    veil_buf_free(&b);
}

static void words_of(uint16_t w[VEIL_TELEMETRY_WORDS], uint16_t v)
{
    for (int i = 0; i < VEIL_TELEMETRY_WORDS; i++)
        w[i] = (uint16_t)(v + i);
}

static void test_own_words(void)
{
    struct node_own_words h;
    memset(&h, 0, sizeof h);
    uint16_t w[VEIL_TELEMETRY_WORDS], got[VEIL_TELEMETRY_WORDS];
    CHECK_EQ_INT(node_own_words_at(&h, 5, 3, got), -1); /* nothing published yet */
    for (uint64_t e = 10; e <= 12; e++) {
        words_of(w, (uint16_t)(100 * e));
        node_own_words_put(&h, e, w);
    }
    CHECK_EQ_INT(node_own_words_at(&h, 11, 3, got), 0);
    CHECK_EQ_INT(got[0], 1100);
    CHECK_EQ_INT(node_own_words_at(&h, 15, 3, got), 0); /* newest not after 15, 3 old */
    CHECK_EQ_INT(got[0], 1200);
    CHECK_EQ_INT(got[VEIL_TELEMETRY_WORDS - 1], 1200 + VEIL_TELEMETRY_WORDS - 1);
    CHECK_EQ_INT(node_own_words_at(&h, 16, 3, got), -1); /* stale: no candidate */
    CHECK_EQ_INT(node_own_words_at(&h, 9, 3, got), -1);  /* before the first */
    words_of(w, 7);
    node_own_words_put(&h, 11, w); /* the same epoch again: replaced */
    CHECK_EQ_INT(node_own_words_at(&h, 11, 3, got), 0);
    CHECK_EQ_INT(got[0], 7);
    /* a full history drops the oldest epoch */
    for (uint64_t e = 13; e < 13 + NODE_KEY_WORDS_HISTORY; e++) {
        words_of(w, (uint16_t)e);
        node_own_words_put(&h, e, w);
    }
    CHECK_EQ_INT(node_own_words_at(&h, 12, 3, got), -1);
    CHECK_EQ_INT(node_own_words_at(&h, 13, 3, got), 0);
    CHECK_EQ_INT(got[0], 13);
    node_own_words_wipe(&h);
    CHECK_EQ_INT(node_own_words_at(&h, 40, 3, got), -1);
}

static void put(struct node_key_table *t, uint8_t job, uint32_t attempt, uint64_t epoch,
                uint8_t node, uint8_t fill)
{
    uint8_t ct[16];
    memset(ct, fill, sizeof ct);
    struct node_key_msg m = key_msg(job, attempt, epoch, node, ct, sizeof ct);
    veil_err err = {0};
    CHECK_EQ_INT(node_key_table_put(t, &m, &err), 0);
}

static void test_round_key_set(void)
{
    struct node_key_table t = {0};
    /* the round: job 0x01, replica 0, attempt 1, epoch 50 */
    put(&t, 0x01, 1, 50, 30, 0xA0);
    put(&t, 0x01, 1, 50, 10, 0xA1);
    put(&t, 0x01, 1, 50, 20, 0xA2);
    put(&t, 0x01, 1, 50, 10, 0xA3); /* node 10 again: replaced, counted once */
    put(&t, 0x01, 0, 49, 40, 0xB0); /* the failed attempt's key */
    put(&t, 0x01, 1, 51, 50, 0xB1); /* another epoch */
    put(&t, 0x02, 1, 50, 60, 0xB2); /* another job */
    put(&t, 0x01, 1, 50, 70, 0xB3); /* a member SWIM holds dead */
    CHECK_EQ_INT(t.n, 7);
    struct veil_peer_id alive[] = {peer(30), peer(50), peer(20), peer(40),
                                   peer(60), peer(10), peer(80)};
    const struct node_key_entry *out[VEIL_ARRAY_LEN(alive)];
    size_t n = 0;
    uint8_t job[32];
    memset(job, 0x01, 32);
    veil_err err = {0};
    CHECK_EQ_INT(
        node_key_candidates(&t, job, 0, 1, 50, alive, VEIL_ARRAY_LEN(alive), out, &n, &err), 0);
    CHECK_EQ_INT(n, 3); /* 10, 20, 30 in peer-ID order */
    static const uint8_t want_tag[] = {10, 20, 30}, want_fill[] = {0xA3, 0xA2, 0xA0};
    for (size_t i = 0; i < n && i < 3; i++) {
        CHECK_EQ_INT(out[i]->node.bytes[4], want_tag[i]);
        CHECK_EQ_INT(out[i]->ct[0], want_fill[i]);
    }
    /* no key of the plan at all: no candidate (the decryptor retries) */
    CHECK_EQ_INT(
        node_key_candidates(&t, job, 0, 2, 60, alive, VEIL_ARRAY_LEN(alive), out, &n, &err), 0);
    CHECK_EQ_INT(n, 0);
    /* a retry drops the earlier attempt's keys of that round only; a
     * settled round drops all of its own */
    CHECK_EQ_INT(node_key_table_drop(&t, job, 0, 1), 1); /* node 40's attempt 0 */
    CHECK_EQ_INT(t.n, 6);
    CHECK(node_key_table_find(&t, job, 0, 1, 50, &alive[5]) != NULL);
    CHECK_EQ_INT(node_key_table_drop(&t, job, 1, UINT32_MAX), 0); /* another replica */
    uint8_t other[32];
    memset(other, 0x02, 32);
    CHECK_EQ_INT(node_key_table_drop(&t, other, 0, UINT32_MAX), 1);
    CHECK_EQ_INT(t.n, 5);
    /* pruning by epoch */
    CHECK_EQ_INT(node_key_table_prune(&t, 51), 4);
    CHECK_EQ_INT(t.n, 1);
    CHECK_EQ_INT(node_key_table_prune(&t, 52), 1);
    CHECK_EQ_INT(t.n, 0);
    /* a full table drops the oldest epoch's key */
    for (size_t i = 0; i < NODE_KEY_TABLE_MAX; i++)
        put(&t, (uint8_t)(i >> 8), 0, 100 + i / 256, (uint8_t)i, 1);
    CHECK_EQ_INT(t.n, NODE_KEY_TABLE_MAX);
    put(&t, 0xEE, 0, 1000, 1, 2);
    CHECK_EQ_INT(t.n, NODE_KEY_TABLE_MAX);
    CHECK_EQ_INT(node_key_table_prune(&t, 101), 255); /* the other 255 of epoch 100 */
    node_key_table_free(&t);
    CHECK_EQ_INT(t.n, 0);
}

static void test_key_path_rule(void)
{
    CHECK(node_key_path(false)); /* public: keys (unsharded, batch or sharded alike) */
    CHECK(!node_key_path(true)); /* confidential: the full circuit */
}

/* The request for keys lost in gossip: round trip, every truncation,
 * trailing bytes, counts 0 and over the maximum; a key is no request and a
 * request no key. */
static void test_request_codec(void)
{
    struct node_key_req q = {.replica = 2, .attempt = 5, .epoch = 987654321, .n_missing = 3};
    memset(q.job_id, 0xCD, 32);
    q.from = peer(1);
    for (size_t i = 0; i < q.n_missing; i++)
        q.missing[i] = peer((uint8_t)(20 + i));
    q.missing[1].len = 7; /* peer IDs of any valid length */
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_node_key_req_encode(&b, &q, &err), 0);
    enum veil_msg_type type;
    CHECK_EQ_INT(veil_msg_peek_type(b.data, b.len, &type, &err), 0);
    CHECK_EQ_INT(type, VEIL_MSG_NODE_KEY);
    CHECK(veil_node_key_msg_is_req(b.data, b.len));
    struct node_key_msg m;
    CHECK_EQ_INT(veil_node_key_msg_parse(b.data, b.len, &m, &err), -1); /* no key */
    struct node_key_req got;
    CHECK_EQ_INT(veil_node_key_req_parse(b.data, b.len, &got, &err), 0);
    CHECK(memcmp(got.job_id, q.job_id, 32) == 0);
    CHECK_EQ_INT(got.replica, 2);
    CHECK_EQ_INT(got.attempt, 5);
    CHECK_EQ_U64(got.epoch, 987654321);
    CHECK(got.from.len == q.from.len && memcmp(got.from.bytes, q.from.bytes, q.from.len) == 0);
    CHECK_EQ_INT(got.n_missing, 3);
    for (size_t i = 0; i < 3; i++)
        CHECK(got.missing[i].len == q.missing[i].len &&
              memcmp(got.missing[i].bytes, q.missing[i].bytes, q.missing[i].len) == 0);
    for (size_t n = 0; n < b.len; n++)
        CHECK_EQ_INT(veil_node_key_req_parse(b.data, n, &got, &err), -1);
    uint8_t *more = malloc(b.len + 1);
    CHECK(more != NULL);
    memcpy(more, b.data, b.len);
    more[b.len] = 0;
    CHECK_EQ_INT(veil_node_key_req_parse(more, b.len + 1, &got, &err), -1);
    size_t at_count = 2 + 32 + 4 + 4 + 8 + 1 + q.from.len + 4;
    more[at_count] = 0;
    CHECK_EQ_INT(veil_node_key_req_parse(more, b.len, &got, &err), -1);
    more[at_count] = NODE_KEY_REQ_MAX + 1;
    CHECK_EQ_INT(veil_node_key_req_parse(more, b.len, &got, &err), -1);
    free(more);
    /* a key message is no request */
    uint8_t ct[5] = {1, 2, 3, 4, 5};
    struct node_key_msg k = key_msg(0xAB, 0, 9, 3, ct, sizeof ct);
    veil_buf kb;
    veil_buf_init(&kb);
    CHECK_EQ_INT(veil_node_key_msg_encode(&kb, &k, &err), 0);
    CHECK(!veil_node_key_msg_is_req(kb.data, kb.len));
    CHECK_EQ_INT(veil_node_key_req_parse(kb.data, kb.len, &got, &err), -1);
    veil_buf_free(&kb);
    /* the encoder refuses what the parser would */
    veil_buf_reset(&b);
    q.n_missing = 0;
    CHECK_EQ_INT(veil_node_key_req_encode(&b, &q, &err), -1);
    q.n_missing = NODE_KEY_REQ_MAX + 1;
    CHECK_EQ_INT(veil_node_key_req_encode(&b, &q, &err), -1);
    q.n_missing = 1;
    q.missing[0].len = 0;
    CHECK_EQ_INT(veil_node_key_req_encode(&b, &q, &err), -1);
    q.missing[0].len = 38;
    q.n_missing = NODE_KEY_REQ_MAX; /* the largest request fits a message */
    for (size_t i = 0; i < NODE_KEY_REQ_MAX; i++)
        q.missing[i] = peer((uint8_t)i);
    CHECK_EQ_INT(veil_node_key_req_encode(&b, &q, &err), 0);
    CHECK(b.len <= VEIL_MSG_MAX_BYTES);
    CHECK_EQ_INT(veil_node_key_req_parse(b.data, b.len, &got, &err), 0);
    veil_buf_free(&b);
}

/* The scheduler's wait: go at once with every key; with keys missing, ask
 * once from half a wait on, then go half a wait later than without asking. */
static void test_wait_rule(void)
{
    const uint64_t t0 = 10000, w = 2000;
    CHECK_EQ_INT(node_key_wait_rule(t0, t0, w, false, false), NODE_KEY_GO);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 1, w, true, false), NODE_KEY_WAIT);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 999, w, true, false), NODE_KEY_WAIT);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 1000, w, true, false), NODE_KEY_ASK);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 5000, w, true, false), NODE_KEY_ASK); /* late tick */
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 1000, w, true, true), NODE_KEY_WAIT);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 2999, w, true, true), NODE_KEY_WAIT);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 3000, w, true, true), NODE_KEY_GO);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 + 1500, w, false, true), NODE_KEY_GO);
    CHECK_EQ_INT(node_key_wait_rule(t0, t0 - 5, w, true, false), NODE_KEY_WAIT); /* clock */
}

/* A scheduler asks once per plan (a ring of the last NODE_KEY_ASKS_MAX);
 * a node re-sends its key at most NODE_KEY_RESENDS times per plan. */
static void test_asks_and_resends(void)
{
    struct node_key_table t = {0};
    struct node_key_plan p = {.replica = 1, .attempt = 0, .epoch = 7};
    memset(p.job_id, 0x42, 32);
    CHECK(!node_key_table_asked(&t, &p));
    node_key_table_mark_asked(&t, &p);
    node_key_table_mark_asked(&t, &p); /* once */
    CHECK(node_key_table_asked(&t, &p));
    CHECK_EQ_INT(t.n_asks, 1);
    struct node_key_plan other = p;
    other.attempt = 1; /* a retry is another plan */
    CHECK(!node_key_table_asked(&t, &other));
    for (uint64_t e = 100; e < 100 + NODE_KEY_ASKS_MAX; e++) {
        other.epoch = e;
        node_key_table_mark_asked(&t, &other);
    }
    CHECK_EQ_INT(t.n_asks, NODE_KEY_ASKS_MAX);
    CHECK(!node_key_table_asked(&t, &p)); /* the oldest went */
    CHECK(node_key_table_asked(&t, &other));
    uint8_t ct[3] = {9, 9, 9};
    put(&t, 0x42, 0, 7, 5, 0xAA);
    struct veil_peer_id me = peer(5);
    struct node_key_entry *e =
        (struct node_key_entry *)node_key_table_find(&t, p.job_id, 0, 0, 7, &me);
    CHECK(e != NULL);
    if (e) {
        for (int i = 0; i < NODE_KEY_RESENDS; i++)
            CHECK(node_key_resend_take(e));
        CHECK(!node_key_resend_take(e));
        /* the same key put again (a gossip echo) keeps the count */
        struct node_key_msg m = key_msg(0x42, 0, 7, 5, ct, sizeof ct);
        veil_err err = {0};
        CHECK_EQ_INT(node_key_table_put(&t, &m, &err), 0);
        CHECK(!node_key_resend_take(e));
    }
    node_key_table_free(&t);
}

VTEST_MAIN(VTEST(test_codec), VTEST(test_own_words), VTEST(test_round_key_set),
           VTEST(test_key_path_rule), VTEST(test_request_codec), VTEST(test_wait_rule),
           VTEST(test_asks_and_resends))
