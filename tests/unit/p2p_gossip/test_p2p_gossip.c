// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_gossip.c - unit tests of the gossipsub module (src/p2p/gossipsub*.c):
 * StrictSign vectors produced by js-libp2p (@libp2p/gossipsub 17.1.1), RPC
 * decoding, and the router in a simulated network of in-process instances
 * with a virtual clock: mesh maintenance, delivery, fanout, IHAVE/IWANT,
 * PRUNE/backoff and peer exchange, scoring and graylisting, malformed input.
 */
#include "gossipsub_int.h"
#include "rpc.pb-c.h"
#include "vtest.h"

#include <sodium.h>

/* ---- vectors from js-libp2p (seed 01..20, topic "veil/test", data
 * "hello veil", seqno 0102030405060708) ------------------------------------ */

static const char js_from_hex[] =
    "00240801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
static const char js_msg_hex[] =
    "0a2600240801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664120a6865"
    "6c6c6f207665696c1a08010203040506070822097665696c2f746573742a406bae8252cf3f7bdd4b9f717ab2"
    "be7f06a49dd09fedf45d5d3bb4d7a668fa287b809a3b71d61db72018c6f7d9c6c1d034dfd479538b6d6e3a06"
    "50c0b507f40e01";
static const char js_msgid_hex[] =
    "0801122079b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad0496640102030405060708";
static const char js_rpc_hex[] =
    "0a0d080112097665696c2f74657374128b010a2600240801122079b5562e8fe654f94078b112e8a98ba7901f"
    "853ae695bed7e0e3910bad049664120a68656c6c6f207665696c1a08010203040506070822097665696c2f74"
    "6573742a406bae8252cf3f7bdd4b9f717ab2be7f06a49dd09fedf45d5d3bb4d7a668fa287b809a3b71d61db7"
    "2018c6f7d9c6c1d034dfd479538b6d6e3a0650c0b507f40e011a580a100a097665696c2f7465737412030102"
    "031a0b0a097665696c2f7465737422370a097665696c2f7465737412280a2600240801122079b5562e8fe654"
    "f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664183c";

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    long n = veil_hex_decode(out, cap, hex, strlen(hex), false, NULL);
    return n < 0 ? 0 : (size_t)n;
}

static void seed_key(uint8_t sk[64], uint8_t first)
{
    uint8_t seed[32], pk[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(first + i);
    crypto_sign_seed_keypair(pk, sk, seed);
}

static void test_sign_matches_js(void)
{
    uint8_t sk[64];
    seed_key(sk, 1);
    veil_buf msg;
    veil_buf_init(&msg);
    CHECK(veil_gs_build_signed_message(&msg, sk, "veil/test", "hello veil", 10,
                                       0x0102030405060708ULL, NULL) == 0);
    uint8_t want[512];
    size_t want_len = unhex(want, sizeof want, js_msg_hex);
    CHECK_EQ_INT(msg.len, want_len);
    CHECK(msg.len == want_len && memcmp(msg.data, want, want_len) == 0);
    veil_buf_free(&msg);

    uint8_t from[64];
    size_t from_len = unhex(from, sizeof from, js_from_hex);
    uint8_t id[VEIL_GS_PEER_ID_MAX];
    CHECK_EQ_INT(veil_gs_peer_id_from_pubkey(id, sk + 32), 38);
    CHECK_EQ_MEM(id, from, from_len);
}

static void test_verify_and_msgid(void)
{
    uint8_t raw[512];
    size_t n = unhex(raw, sizeof raw, js_msg_hex);
    Veil__Pubsub__Message *m = veil__pubsub__message__unpack(NULL, n, raw);
    CHECK(m != NULL);
    if (!m)
        return;
    struct veil_gs_message vm = {m->from.data,  m->from.len,  m->data.data, m->data.len,
                                 m->seqno.data, m->seqno.len, m->topic};
    veil_err err;
    CHECK(veil_gs_verify_message(&vm, m->signature.data, m->signature.len, NULL, 0, &err) == 0);
    /* js sends `key` = PublicKey protobuf: accepted when it is the author's */
    uint8_t key[36] = {0x08, 0x01, 0x12, 0x20};
    memcpy(key + 4, m->from.data + 6, 32);
    CHECK(veil_gs_verify_message(&vm, m->signature.data, m->signature.len, key, 36, &err) == 0);
    key[10] ^= 1;
    CHECK(veil_gs_verify_message(&vm, m->signature.data, m->signature.len, key, 36, &err) != 0);
    /* tampering with data, topic, seqno or signature fails */
    uint8_t sig[64];
    memcpy(sig, m->signature.data, 64);
    sig[0] ^= 0x80;
    CHECK(veil_gs_verify_message(&vm, sig, 64, NULL, 0, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    struct veil_gs_message bad = vm;
    bad.topic = "veil/other";
    CHECK(veil_gs_verify_message(&bad, m->signature.data, 64, NULL, 0, &err) != 0);
    bad = vm;
    bad.data_len--;
    CHECK(veil_gs_verify_message(&bad, m->signature.data, 64, NULL, 0, &err) != 0);
    bad = vm;
    bad.seqno_len = 7;
    CHECK(veil_gs_verify_message(&bad, m->signature.data, 64, NULL, 0, &err) != 0);
    bad = vm;
    bad.from_len = 34; /* not an inline Ed25519 key */
    CHECK(veil_gs_verify_message(&bad, m->signature.data, 64, NULL, 0, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);

    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    uint8_t id[VEIL_GS_MSG_ID_MAX], want[64];
    size_t want_len = unhex(want, sizeof want, js_msgid_hex);
    CHECK_EQ_INT(gs_message_id(&cfg, &vm, id), want_len);
    CHECK_EQ_MEM(id, want, want_len);
    cfg.msgid_kind = VEIL_GS_MSGID_FROM_SEQNO; /* go: from || seqno */
    CHECK_EQ_INT(gs_message_id(&cfg, &vm, id), 46);
    CHECK_EQ_MEM(id, m->from.data, 38);
    CHECK_EQ_MEM(id + 38, m->seqno.data, 8);
    veil__pubsub__message__free_unpacked(m, NULL);
}

static void test_decode_js_rpc(void)
{
    uint8_t raw[1024];
    size_t n = unhex(raw, sizeof raw, js_rpc_hex);
    Veil__Pubsub__RPC *rpc = veil__pubsub__rpc__unpack(NULL, n, raw);
    CHECK(rpc != NULL);
    if (!rpc)
        return;
    CHECK_EQ_INT(rpc->n_subscriptions, 1);
    CHECK(rpc->subscriptions[0]->subscribe);
    CHECK_EQ_STR(rpc->subscriptions[0]->topicid, "veil/test");
    CHECK_EQ_INT(rpc->n_publish, 1);
    CHECK_EQ_STR(rpc->publish[0]->topic, "veil/test");
    CHECK(rpc->control != NULL);
    CHECK_EQ_INT(rpc->control->n_ihave, 1);
    CHECK_EQ_INT(rpc->control->ihave[0]->n_message_ids, 1);
    CHECK_EQ_INT(rpc->control->n_graft, 1);
    CHECK_EQ_INT(rpc->control->n_prune, 1);
    CHECK_EQ_U64(rpc->control->prune[0]->backoff, 60);
    CHECK_EQ_INT(rpc->control->prune[0]->n_peers, 1);
    veil__pubsub__rpc__free_unpacked(rpc, NULL);
    /* every truncation is rejected or decodes to something, never crashes */
    for (size_t cut = 0; cut < n; cut++) {
        Veil__Pubsub__RPC *r = veil__pubsub__rpc__unpack(NULL, cut, raw);
        if (r)
            veil__pubsub__rpc__free_unpacked(r, NULL);
    }
}

/* ---- simulated network -------------------------------------------------- */

#define SIM_MAX  32
#define FAKE_IDX 99 /* packets to the test-controlled peer are captured */

struct sim;
struct sim_node {
    struct sim *sim;
    int idx;
    veil_gs *gs;
    uint8_t sk[64];
    uint8_t id[VEIL_GS_PEER_ID_MAX];
    size_t id_len;
    int received;
    char last[128];
    int px_calls;
};

struct sim_pkt {
    int from, to;
    uint8_t *data;
    size_t len;
};

struct sim {
    struct sim_node nodes[SIM_MAX];
    int n;
    struct sim_pkt *q;
    size_t qn, qcap;
    uint64_t now;
    /* the fake peer */
    uint8_t fake_sk[64];
    uint8_t fake_id[VEIL_GS_PEER_ID_MAX];
    size_t fake_len;
    Veil__Pubsub__RPC *captured[256];
    int n_captured;
    bool drop_publish_to[SIM_MAX]; /* drop messages (not control) to node i */
};

static void sim_send(void *ctx, const uint8_t *peer, size_t peer_len, const uint8_t *rpc,
                     size_t len)
{
    struct sim_node *from = ctx;
    struct sim *s = from->sim;
    int to = -1;
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].id_len == peer_len && memcmp(s->nodes[i].id, peer, peer_len) == 0)
            to = i;
    if (to < 0 && peer_len == s->fake_len && memcmp(peer, s->fake_id, peer_len) == 0)
        to = FAKE_IDX;
    if (to < 0)
        return;
    if (s->qn == s->qcap) {
        s->qcap = s->qcap ? s->qcap * 2 : 64;
        s->q = realloc(s->q, s->qcap * sizeof *s->q);
    }
    struct sim_pkt *p = &s->q[s->qn++];
    p->from = from->idx;
    p->to = to;
    p->data = malloc(len);
    memcpy(p->data, rpc, len);
    p->len = len;
}

static void sim_px(void *ctx, const uint8_t *peer, size_t len)
{
    (void)peer;
    (void)len;
    ((struct sim_node *)ctx)->px_calls++;
}

static void sim_on_msg(void *ctx, const struct veil_gs_message *m)
{
    struct sim_node *n = ctx;
    n->received++;
    size_t l = m->data_len < sizeof n->last - 1 ? m->data_len : sizeof n->last - 1;
    memcpy(n->last, m->data, l);
    n->last[l] = 0;
}

static void sim_init(struct sim *s, int n, const struct veil_gs_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->now = 1000;
    for (int i = 0; i < n; i++) {
        struct sim_node *nd = &s->nodes[i];
        nd->sim = s;
        nd->idx = i;
        seed_key(nd->sk, (uint8_t)(10 + i));
        nd->id_len = veil_gs_peer_id_from_pubkey(nd->id, nd->sk + 32);
        struct veil_gs_callbacks cb = {sim_send, sim_px, nd};
        CHECK(veil_gs_new(&nd->gs, cfg, nd->sk, &cb, NULL) == 0);
    }
    seed_key(s->fake_sk, 200);
    s->fake_len = veil_gs_peer_id_from_pubkey(s->fake_id, s->fake_sk + 32);
}

static void sim_clear_captured(struct sim *s)
{
    for (int i = 0; i < s->n_captured; i++)
        veil__pubsub__rpc__free_unpacked(s->captured[i], NULL);
    s->n_captured = 0;
}

static void sim_free(struct sim *s)
{
    for (int i = 0; i < s->n; i++)
        veil_gs_free(s->nodes[i].gs);
    for (size_t i = 0; i < s->qn; i++)
        free(s->q[i].data);
    free(s->q);
    sim_clear_captured(s);
}

/* Delivers queued packets until the network is quiet. */
static void sim_run(struct sim *s)
{
    size_t head = 0;
    while (head < s->qn) {
        struct sim_pkt p = s->q[head++];
        if (p.to == FAKE_IDX) {
            Veil__Pubsub__RPC *r = veil__pubsub__rpc__unpack(NULL, p.len, p.data);
            CHECK(r != NULL);
            if (r && s->n_captured < 256)
                s->captured[s->n_captured++] = r;
            else if (r)
                veil__pubsub__rpc__free_unpacked(r, NULL);
        } else {
            bool drop = false;
            if (s->drop_publish_to[p.to]) {
                Veil__Pubsub__RPC *r = veil__pubsub__rpc__unpack(NULL, p.len, p.data);
                drop = r && r->n_publish > 0;
                if (r)
                    veil__pubsub__rpc__free_unpacked(r, NULL);
            }
            const struct sim_node *src = &s->nodes[p.from];
            if (!drop) {
                veil_err err;
                CHECK(veil_gs_handle_rpc(s->nodes[p.to].gs, src->id, src->id_len, p.data, p.len,
                                         s->now, &err) == 0);
            }
        }
        free(p.data);
    }
    s->qn = 0;
}

static void sim_connect(struct sim *s, int a, int b)
{
    /* a dialed b: outbound for a, inbound for b */
    CHECK(veil_gs_add_peer(s->nodes[a].gs, s->nodes[b].id, s->nodes[b].id_len, VEIL_GS_MESHSUB_11,
                           true, s->now, NULL) == 0);
    CHECK(veil_gs_add_peer(s->nodes[b].gs, s->nodes[a].id, s->nodes[a].id_len, VEIL_GS_MESHSUB_11,
                           false, s->now, NULL) == 0);
}

static void sim_heartbeats(struct sim *s, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        s->now += 1000;
        for (int i = 0; i < s->n; i++) {
            veil_gs_heartbeat(s->nodes[i].gs, s->now);
            sim_run(s);
        }
    }
}

static void test_mesh_and_delivery(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.flood_publish = false; /* prove delivery through the mesh itself */
    struct sim *s = calloc(1, sizeof *s);
    const int n = 20;
    sim_init(s, n, &cfg);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            sim_connect(s, i, j);
    sim_run(s);
    for (int i = 0; i < n; i++)
        CHECK(veil_gs_subscribe(s->nodes[i].gs, "t", sim_on_msg, &s->nodes[i], s->now, NULL) == 0);
    sim_run(s);
    sim_heartbeats(s, 5);
    for (int i = 0; i < n; i++) {
        size_t m = veil_gs_mesh_peers(s->nodes[i].gs, "t", NULL, 0);
        CHECK(m >= (size_t)cfg.d_lo && m <= (size_t)cfg.d_hi);
        CHECK_EQ_INT(veil_gs_topic_peers(s->nodes[i].gs, "t", NULL, 0), n - 1);
    }
    /* mesh links are symmetric: if a has b in its mesh, b has a */
    for (int i = 0; i < n; i++) {
        struct veil_gs_peer_id ids[32];
        size_t m = veil_gs_mesh_peers(s->nodes[i].gs, "t", ids, 32);
        for (size_t k = 0; k < m && k < 32; k++) {
            int j = -1;
            for (int x = 0; x < n; x++)
                if (s->nodes[x].id_len == ids[k].len &&
                    memcmp(s->nodes[x].id, ids[k].id, ids[k].len) == 0)
                    j = x;
            CHECK(j >= 0);
            if (j >= 0)
                CHECK(veil_gs_mesh_peers(s->nodes[j].gs, "t", NULL, 0) > 0);
        }
    }
    for (int k = 0; k < 3; k++) {
        char text[32];
        snprintf(text, sizeof text, "msg-%d", k);
        CHECK(veil_gs_publish(s->nodes[k].gs, "t", text, strlen(text), s->now, NULL) == 0);
        sim_run(s);
    }
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(s->nodes[i].received, i < 3 ? 2 : 3);
    struct veil_gs_stats st;
    veil_gs_get_stats(s->nodes[5].gs, &st);
    CHECK_EQ_INT(st.msgs_delivered, 3);
    CHECK_EQ_INT(st.msgs_invalid, 0);
    sim_free(s);
    free(s);
}

static void test_mesh_bounds_when_oversubscribed(void)
{
    /* 30 peers all GRAFT node 0: inbound GRAFTs past D_hi are PRUNEd with
     * PX, and the heartbeat trims the mesh back to D. */
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = calloc(1, sizeof *s);
    const int n = 30;
    sim_init(s, n, &cfg);
    for (int j = 1; j < n; j++)
        sim_connect(s, j, 0);
    sim_run(s);
    CHECK(veil_gs_subscribe(s->nodes[0].gs, "t", NULL, NULL, s->now, NULL) == 0);
    sim_run(s);
    for (int j = 1; j < n; j++)
        CHECK(veil_gs_subscribe(s->nodes[j].gs, "t", NULL, NULL, s->now, NULL) == 0);
    sim_run(s);
    size_t m0 = veil_gs_mesh_peers(s->nodes[0].gs, "t", NULL, 0);
    CHECK(m0 <= (size_t)cfg.d_hi);
    struct veil_gs_stats st;
    veil_gs_get_stats(s->nodes[0].gs, &st);
    CHECK(st.prune_sent >= (uint64_t)(n - 1 - cfg.d_hi));
    sim_heartbeats(s, 3);
    m0 = veil_gs_mesh_peers(s->nodes[0].gs, "t", NULL, 0);
    CHECK(m0 >= (size_t)cfg.d_lo && m0 <= (size_t)cfg.d_hi);
    /* the pruned peers are backing off and did not re-graft */
    int backing_off = 0;
    for (int j = 1; j < n; j++)
        backing_off +=
            veil_gs_in_backoff(s->nodes[j].gs, s->nodes[0].id, s->nodes[0].id_len, "t", s->now);
    CHECK(backing_off >= n - 1 - cfg.d_hi);
    sim_free(s);
    free(s);
}

static void test_fanout_publish(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.flood_publish = false;
    struct sim *s = calloc(1, sizeof *s);
    sim_init(s, 4, &cfg);
    for (int j = 1; j < 4; j++)
        sim_connect(s, 0, j);
    for (int j = 1; j < 4; j++)
        CHECK(veil_gs_subscribe(s->nodes[j].gs, "f", sim_on_msg, &s->nodes[j], s->now, NULL) == 0);
    sim_run(s);
    /* node 0 is not subscribed: the message goes to fanout peers */
    CHECK(veil_gs_publish(s->nodes[0].gs, "f", "via fanout", 10, s->now, NULL) == 0);
    sim_run(s);
    for (int j = 1; j < 4; j++) {
        CHECK_EQ_INT(s->nodes[j].received, 1);
        CHECK_EQ_STR(s->nodes[j].last, "via fanout");
    }
    CHECK_EQ_INT(veil_gs_mesh_peers(s->nodes[0].gs, "f", NULL, 0), 0);
    sim_free(s);
    free(s);
}

/* ---- the test-controlled peer ------------------------------------------- */

static void fake_send(struct sim *s, int to, const veil_buf *rpc)
{
    veil_err err;
    CHECK(veil_gs_handle_rpc(s->nodes[to].gs, s->fake_id, s->fake_len, rpc->data, rpc->len, s->now,
                             &err) == 0);
    sim_run(s);
}

static void rpc_sub(veil_buf *rpc, const char *topic)
{
    veil_buf so;
    veil_buf_init(&so);
    gs_put_varint_field(&so, 1, 1);
    gs_put_bytes_field(&so, 2, topic, strlen(topic));
    gs_put_bytes_field(rpc, 1, so.data, so.len);
    veil_buf_free(&so);
}

/* ControlMessage with one entry of kind `field` (1 ihave, 2 iwant, 3 graft,
 * 4 prune) whose body is `body`. */
static void rpc_control(veil_buf *rpc, unsigned field, const veil_buf *body)
{
    veil_buf ctl;
    veil_buf_init(&ctl);
    gs_put_bytes_field(&ctl, field, body->data, body->len);
    gs_put_bytes_field(rpc, 3, ctl.data, ctl.len);
    veil_buf_free(&ctl);
}

static const Veil__Pubsub__ControlMessage *find_control(struct sim *s, unsigned kind)
{
    for (int i = 0; i < s->n_captured; i++) {
        const Veil__Pubsub__ControlMessage *c = s->captured[i]->control;
        if (!c)
            continue;
        if ((kind == 1 && c->n_ihave) || (kind == 2 && c->n_iwant) || (kind == 3 && c->n_graft) ||
            (kind == 4 && c->n_prune))
            return c;
    }
    return NULL;
}

static int captured_messages(struct sim *s)
{
    int n = 0;
    for (int i = 0; i < s->n_captured; i++)
        n += (int)s->captured[i]->n_publish;
    return n;
}

static struct sim *fake_setup(const struct veil_gs_config *cfg, bool graft)
{
    struct sim *s = calloc(1, sizeof *s);
    sim_init(s, 1, cfg);
    CHECK(veil_gs_subscribe(s->nodes[0].gs, "t", sim_on_msg, &s->nodes[0], s->now, NULL) == 0);
    CHECK(veil_gs_add_peer(s->nodes[0].gs, s->fake_id, s->fake_len, VEIL_GS_MESHSUB_11, false,
                           s->now, NULL) == 0);
    sim_run(s);
    /* the router announced its subscription first */
    CHECK(s->n_captured >= 1 && s->captured[0]->n_subscriptions == 1);
    veil_buf rpc;
    veil_buf_init(&rpc);
    rpc_sub(&rpc, "t");
    if (graft) {
        veil_buf g;
        veil_buf_init(&g);
        gs_put_bytes_field(&g, 1, "t", 1);
        rpc_control(&rpc, 3, &g);
        veil_buf_free(&g);
    }
    fake_send(s, 0, &rpc);
    veil_buf_free(&rpc);
    sim_clear_captured(s);
    return s;
}

static void test_ihave_iwant(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = fake_setup(&cfg, false);
    /* a message the router has not seen, announced by IHAVE */
    veil_buf msg, rpc, ih;
    veil_buf_init(&msg);
    veil_buf_init(&rpc);
    veil_buf_init(&ih);
    CHECK(veil_gs_build_signed_message(&msg, s->fake_sk, "t", "gossiped", 8, 77, NULL) == 0);
    Veil__Pubsub__Message *m = veil__pubsub__message__unpack(NULL, msg.len, msg.data);
    struct veil_gs_message vm = {m->from.data,  m->from.len,  m->data.data, m->data.len,
                                 m->seqno.data, m->seqno.len, m->topic};
    uint8_t id[VEIL_GS_MSG_ID_MAX];
    size_t id_len = gs_message_id(&cfg, &vm, id);
    gs_put_bytes_field(&ih, 1, "t", 1);
    gs_put_bytes_field(&ih, 2, id, id_len);
    rpc_control(&rpc, 1, &ih);
    fake_send(s, 0, &rpc);
    const Veil__Pubsub__ControlMessage *c = find_control(s, 2);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->iwant[0]->n_message_ids, 1);
        CHECK_EQ_MEM(c->iwant[0]->message_ids[0].data, id, id_len);
    }
    sim_clear_captured(s);
    /* the message follows: delivered, promise kept */
    veil_buf_reset(&rpc);
    gs_put_bytes_field(&rpc, 2, msg.data, msg.len);
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(s->nodes[0].received, 1);
    CHECK_EQ_STR(s->nodes[0].last, "gossiped");
    /* IHAVE of a message already seen asks nothing */
    veil_buf_reset(&rpc);
    rpc_control(&rpc, 1, &ih);
    fake_send(s, 0, &rpc);
    CHECK(find_control(s, 2) == NULL);
    s->now += 5000;
    veil_gs_heartbeat(s->nodes[0].gs, s->now);
    sim_run(s);
    struct veil_gs_stats st;
    veil_gs_get_stats(s->nodes[0].gs, &st);
    CHECK_EQ_INT(st.broken_promises, 0);
    sim_clear_captured(s);

    /* IWANT for a message the router published: served from the mcache,
     * at most gossip_retransmission times */
    CHECK(veil_gs_publish(s->nodes[0].gs, "t", "cached", 6, s->now, NULL) == 0);
    sim_run(s);
    CHECK_EQ_INT(captured_messages(s), 1); /* flood publish reached the fake */
    Veil__Pubsub__Message *pm = s->captured[0]->publish[0];
    struct veil_gs_message pv = {pm->from.data,  pm->from.len,  pm->data.data, pm->data.len,
                                 pm->seqno.data, pm->seqno.len, pm->topic};
    CHECK(veil_gs_verify_message(&pv, pm->signature.data, pm->signature.len, NULL, 0, NULL) == 0);
    uint8_t pid[VEIL_GS_MSG_ID_MAX];
    size_t pid_len = gs_message_id(&cfg, &pv, pid);
    sim_clear_captured(s);
    veil_buf iw;
    veil_buf_init(&iw);
    gs_put_bytes_field(&iw, 1, pid, pid_len);
    for (int k = 0; k < 5; k++) {
        veil_buf_reset(&rpc);
        rpc_control(&rpc, 2, &iw);
        fake_send(s, 0, &rpc);
    }
    CHECK_EQ_INT(captured_messages(s), cfg.gossip_retransmission);
    sim_clear_captured(s);

    /* gossip emission: the fake is subscribed but not in the mesh (it
     * PRUNEd), so the heartbeat sends it IHAVE for the cached message */
    veil_buf pr;
    veil_buf_init(&pr);
    gs_put_bytes_field(&pr, 1, "t", 1);
    veil_buf_reset(&rpc);
    rpc_control(&rpc, 4, &pr);
    fake_send(s, 0, &rpc);
    s->now += 1000;
    veil_gs_heartbeat(s->nodes[0].gs, s->now);
    sim_run(s);
    c = find_control(s, 1);
    CHECK(c != NULL);
    if (c)
        CHECK_EQ_STR(c->ihave[0]->topic_id, "t");
    sim_clear_captured(s);

    /* broken promises: IHAVE for messages never delivered */
    for (int k = 0; k < 3; k++) {
        uint8_t fake_id[8] = {9, 9, 9, 9, 9, 9, 9, (uint8_t)k};
        veil_buf_reset(&ih);
        gs_put_bytes_field(&ih, 1, "t", 1);
        gs_put_bytes_field(&ih, 2, fake_id, sizeof fake_id);
        veil_buf_reset(&rpc);
        rpc_control(&rpc, 1, &ih);
        fake_send(s, 0, &rpc);
    }
    s->now += cfg.iwant_followup_ms + 1000;
    veil_gs_heartbeat(s->nodes[0].gs, s->now);
    sim_run(s);
    veil_gs_get_stats(s->nodes[0].gs, &st);
    CHECK_EQ_INT(st.broken_promises, 3);
    CHECK(veil_gs_peer_score(s->nodes[0].gs, s->fake_id, s->fake_len, s->now) < 0);
    veil__pubsub__message__free_unpacked(m, NULL);
    veil_buf_free(&msg);
    veil_buf_free(&rpc);
    veil_buf_free(&ih);
    veil_buf_free(&iw);
    veil_buf_free(&pr);
    sim_free(s);
    free(s);
}

static void test_prune_backoff_and_px(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.score.accept_px_threshold = 0;
    struct sim *s = fake_setup(&cfg, true);
    veil_gs *gs = s->nodes[0].gs;
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 1);
    /* PRUNE with backoff 30 s and one PX peer */
    uint8_t other_sk[64], other_id[VEIL_GS_PEER_ID_MAX];
    seed_key(other_sk, 77);
    size_t other_len = veil_gs_peer_id_from_pubkey(other_id, other_sk + 32);
    veil_buf pr, info, rpc;
    veil_buf_init(&pr);
    veil_buf_init(&info);
    veil_buf_init(&rpc);
    gs_put_bytes_field(&pr, 1, "t", 1);
    gs_put_bytes_field(&info, 1, other_id, other_len);
    gs_put_bytes_field(&pr, 2, info.data, info.len);
    gs_put_varint_field(&pr, 3, 30);
    rpc_control(&rpc, 4, &pr);
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 0);
    CHECK(veil_gs_in_backoff(gs, s->fake_id, s->fake_len, "t", s->now));
    CHECK_EQ_INT(s->nodes[0].px_calls, 1);
    /* the heartbeat does not re-graft during the backoff */
    sim_heartbeats(s, 5);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 0);
    CHECK(find_control(s, 3) == NULL);
    sim_clear_captured(s);
    /* a GRAFT from the peer during the backoff is refused and penalised */
    veil_buf g;
    veil_buf_init(&g);
    gs_put_bytes_field(&g, 1, "t", 1);
    for (int k = 0; k < 3; k++) {
        veil_buf_reset(&rpc);
        rpc_control(&rpc, 3, &g);
        fake_send(s, 0, &rpc);
    }
    CHECK(find_control(s, 4) != NULL);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 0);
    CHECK(veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now) < 0);
    sim_clear_captured(s);
    /* after the (refreshed) backoff and the penalty decay, it is grafted again */
    for (int k = 0; k < 400 && veil_gs_mesh_peers(gs, "t", NULL, 0) == 0; k++)
        sim_heartbeats(s, 1);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 1);
    CHECK(find_control(s, 3) != NULL);
    veil_buf_free(&pr);
    veil_buf_free(&info);
    veil_buf_free(&rpc);
    veil_buf_free(&g);
    sim_free(s);
    free(s);
}

static void test_unsubscribe_prunes(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = fake_setup(&cfg, true);
    CHECK(veil_gs_unsubscribe(s->nodes[0].gs, "t", s->now, NULL) == 0);
    sim_run(s);
    const Veil__Pubsub__ControlMessage *c = find_control(s, 4);
    CHECK(c != NULL);
    if (c)
        CHECK_EQ_U64(c->prune[0]->backoff, cfg.unsubscribe_backoff_ms / 1000);
    bool unsub = false;
    for (int i = 0; i < s->n_captured; i++)
        for (size_t k = 0; k < s->captured[i]->n_subscriptions; k++)
            unsub |= !s->captured[i]->subscriptions[k]->subscribe;
    CHECK(unsub);
    CHECK(veil_gs_unsubscribe(s->nodes[0].gs, "t", s->now, NULL) != 0);
    sim_free(s);
    free(s);
}

static void test_invalid_messages_and_graylist(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = fake_setup(&cfg, true);
    veil_gs *gs = s->nodes[0].gs;
    veil_buf msg, rpc;
    veil_buf_init(&msg);
    veil_buf_init(&rpc);
    /* signed by the fake but claiming another author: bad signature */
    for (int k = 0; k < 4; k++) {
        veil_buf_reset(&msg);
        veil_buf_reset(&rpc);
        CHECK(veil_gs_build_signed_message(&msg, s->fake_sk, "t", "forged", 6, 100 + (uint64_t)k,
                                           NULL) == 0);
        msg.data[10] ^= 0x01; /* inside `from` */
        gs_put_bytes_field(&rpc, 2, msg.data, msg.len);
        fake_send(s, 0, &rpc);
    }
    struct veil_gs_stats st;
    veil_gs_get_stats(gs, &st);
    /* each invalid message costs P4 = -10 * count^2: after three the peer
     * is graylisted and the fourth RPC is not even looked at */
    CHECK_EQ_INT(st.msgs_invalid, 3);
    CHECK_EQ_INT(s->nodes[0].received, 0);
    double score = veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now);
    CHECK(score <= cfg.score.graylist_threshold);
    /* graylisted: even a valid message is now ignored */
    veil_buf_reset(&msg);
    veil_buf_reset(&rpc);
    CHECK(veil_gs_build_signed_message(&msg, s->fake_sk, "t", "valid", 5, 500, NULL) == 0);
    gs_put_bytes_field(&rpc, 2, msg.data, msg.len);
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(s->nodes[0].received, 0);
    /* the heartbeat drops the negative-score peer from the mesh */
    sim_heartbeats(s, 1);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 0);
    veil_buf_free(&msg);
    veil_buf_free(&rpc);
    sim_free(s);
    free(s);
}

static void test_score_time_in_mesh(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = fake_setup(&cfg, true);
    veil_gs *gs = s->nodes[0].gs;
    double s0 = veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now);
    /* P1 grows with time in mesh */
    CHECK(veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now + 100000) > s0 + 0.5);
    /* P2 rewards first deliveries */
    veil_buf msg, rpc;
    veil_buf_init(&msg);
    veil_buf_init(&rpc);
    CHECK(veil_gs_build_signed_message(&msg, s->fake_sk, "t", "first", 5, 1, NULL) == 0);
    gs_put_bytes_field(&rpc, 2, msg.data, msg.len);
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(s->nodes[0].received, 1);
    double s1 = veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now);
    CHECK(s1 >= s0 + 0.99);
    /* the duplicate is not delivered twice and earns nothing */
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(s->nodes[0].received, 1);
    CHECK(veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now) <= s1 + 1e-9);
    /* P3: with the delivery-rate penalty on, a silent mesh peer goes
     * negative after the activation window */
    sim_free(s);
    free(s);
    cfg.score.topic.mesh_message_deliveries_weight = -1;
    cfg.score.topic.mesh_message_deliveries_threshold = 4;
    cfg.score.topic.mesh_message_deliveries_activation_ms = 5000;
    s = fake_setup(&cfg, true);
    gs = s->nodes[0].gs;
    CHECK(veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now + 4000) >= 0);
    CHECK(veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now + 6000) < 0);
    sim_free(s);
    free(s);
    /* P3b: the deficit of a peer leaving the mesh sticks as a penalty */
    cfg.score.topic.mesh_failure_penalty_weight = -1;
    cfg.score.topic.time_in_mesh_weight = 0;
    s = fake_setup(&cfg, true);
    gs = s->nodes[0].gs;
    s->now += 6000;
    veil_buf_reset(&rpc);
    veil_buf pr;
    veil_buf_init(&pr);
    gs_put_bytes_field(&pr, 1, "t", 1);
    rpc_control(&rpc, 4, &pr);
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 0);
    /* deficit 4 -> penalty 16, weight -1 */
    double p3b = veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now);
    CHECK(p3b < -15.9 && p3b > -16.1);
    veil_buf_free(&pr);
    veil_buf_free(&msg);
    veil_buf_free(&rpc);
    sim_free(s);
    free(s);
}

static void test_malformed_rpcs(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = fake_setup(&cfg, true);
    veil_gs *gs = s->nodes[0].gs;
    static const uint8_t junk[][8] = {
        {0xff, 0xff, 0xff},       /* bad tag/varint */
        {0x12, 0x05, 0x01},       /* length past the end */
        {0x0a, 0x02, 0x08, 0x07}, /* SubOpts with bad varint wire type content */
        {0x1a, 0x03, 0x0a, 0x09}, /* control with truncated ihave */
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(junk); i++) {
        veil_err err;
        (void)veil_gs_handle_rpc(gs, s->fake_id, s->fake_len, junk[i], 4, s->now, &err);
    }
    struct veil_gs_stats st;
    veil_gs_get_stats(gs, &st);
    CHECK(st.rpcs_malformed >= 3);
    /* oversize RPC */
    uint8_t *big = calloc(1, cfg.max_rpc_size + 1);
    veil_err err;
    CHECK(veil_gs_handle_rpc(gs, s->fake_id, s->fake_len, big, cfg.max_rpc_size + 1, s->now,
                             &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    free(big);
    /* RPC from an unknown peer */
    CHECK(veil_gs_handle_rpc(gs, s->nodes[0].id, s->nodes[0].id_len, junk[0], 1, s->now, &err) !=
          0);
    CHECK(veil_gs_peer_score(gs, s->fake_id, s->fake_len, s->now) < 0);
    /* random bytes never crash */
    uint8_t buf[256];
    for (int k = 0; k < 2000; k++) {
        size_t n = veil_random_uniform(sizeof buf);
        veil_random_bytes(buf, n);
        (void)veil_gs_handle_rpc(gs, s->fake_id, s->fake_len, buf, n, s->now, &err);
    }
    sim_run(s);
    sim_free(s);
    free(s);
}

static void test_peer_removal(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct sim *s = calloc(1, sizeof *s);
    sim_init(s, 3, &cfg);
    sim_connect(s, 0, 1);
    sim_connect(s, 0, 2);
    for (int i = 0; i < 3; i++)
        CHECK(veil_gs_subscribe(s->nodes[i].gs, "t", sim_on_msg, &s->nodes[i], s->now, NULL) == 0);
    sim_run(s);
    sim_heartbeats(s, 1);
    CHECK_EQ_INT(veil_gs_mesh_peers(s->nodes[0].gs, "t", NULL, 0), 2);
    veil_gs_remove_peer(s->nodes[0].gs, s->nodes[1].id, s->nodes[1].id_len, s->now);
    CHECK(!veil_gs_has_peer(s->nodes[0].gs, s->nodes[1].id, s->nodes[1].id_len));
    CHECK_EQ_INT(veil_gs_mesh_peers(s->nodes[0].gs, "t", NULL, 0), 1);
    CHECK(veil_gs_publish(s->nodes[0].gs, "t", "after", 5, s->now, NULL) == 0);
    sim_run(s);
    CHECK_EQ_INT(s->nodes[2].received, 1);
    CHECK_EQ_INT(s->nodes[1].received, 0);
    sim_free(s);
    free(s);
}

static void test_opportunistic_graft(void)
{
    /* node 0 meshes with nodes 1 and 2 (D = D_lo = 2); the fake peer joins
     * later, delivers many first messages and so out-scores the mesh, whose
     * median is below the threshold: it is grafted opportunistically */
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.d = 2;
    cfg.d_lo = 2;
    cfg.d_hi = 4;
    cfg.d_score = 1;
    cfg.d_out = 0;
    cfg.opportunistic_graft_ticks = 5;
    cfg.score.opportunistic_graft_threshold = 5;
    struct sim *s = calloc(1, sizeof *s);
    sim_init(s, 3, &cfg);
    sim_connect(s, 0, 1);
    sim_connect(s, 0, 2);
    for (int i = 0; i < 3; i++)
        CHECK(veil_gs_subscribe(s->nodes[i].gs, "t", NULL, NULL, s->now, NULL) == 0);
    sim_run(s);
    sim_heartbeats(s, 1);
    veil_gs *gs = s->nodes[0].gs;
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 2);
    CHECK(veil_gs_add_peer(gs, s->fake_id, s->fake_len, VEIL_GS_MESHSUB_11, false, s->now, NULL) ==
          0);
    veil_buf rpc, msg;
    veil_buf_init(&rpc);
    veil_buf_init(&msg);
    rpc_sub(&rpc, "t");
    for (int k = 0; k < 10; k++) {
        veil_buf_reset(&msg);
        CHECK(veil_gs_build_signed_message(&msg, s->fake_sk, "t", "m", 1, 1000 + (uint64_t)k,
                                           NULL) == 0);
        gs_put_bytes_field(&rpc, 2, msg.data, msg.len);
    }
    fake_send(s, 0, &rpc);
    sim_clear_captured(s);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 2);
    sim_heartbeats(s, 5);
    CHECK(find_control(s, 3) != NULL); /* GRAFT sent to the fake */
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 3);
    struct veil_gs_stats st;
    veil_gs_get_stats(gs, &st);
    CHECK_EQ_INT(st.opportunistic_grafts, 1);
    veil_buf_free(&rpc);
    veil_buf_free(&msg);
    sim_free(s);
    free(s);
}

static void test_floodsub_peer(void)
{
    /* a /floodsub/1.0.0 peer gets every message of the topics it joined,
     * never a mesh slot and never control messages */
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.flood_publish = false;
    struct sim *s = calloc(1, sizeof *s);
    sim_init(s, 1, &cfg);
    veil_gs *gs = s->nodes[0].gs;
    CHECK(veil_gs_subscribe(gs, "t", NULL, NULL, s->now, NULL) == 0);
    CHECK(veil_gs_add_peer(gs, s->fake_id, s->fake_len, VEIL_GS_FLOODSUB, false, s->now, NULL) ==
          0);
    veil_buf rpc, g;
    veil_buf_init(&rpc);
    veil_buf_init(&g);
    rpc_sub(&rpc, "t");
    gs_put_bytes_field(&g, 1, "t", 1);
    rpc_control(&rpc, 3, &g); /* a GRAFT from a floodsub peer is ignored */
    fake_send(s, 0, &rpc);
    sim_heartbeats(s, 2);
    CHECK_EQ_INT(veil_gs_mesh_peers(gs, "t", NULL, 0), 0);
    CHECK_EQ_INT(veil_gs_topic_peers(gs, "t", NULL, 0), 1);
    sim_clear_captured(s);
    CHECK(veil_gs_publish(gs, "t", "flood", 5, s->now, NULL) == 0);
    sim_run(s);
    CHECK_EQ_INT(captured_messages(s), 1);
    sim_heartbeats(s, 2);
    for (int i = 0; i < s->n_captured; i++)
        CHECK(s->captured[i]->control == NULL);
    veil_buf_free(&rpc);
    veil_buf_free(&g);
    sim_free(s);
    free(s);
}

static void test_seen_cache_expiry(void)
{
    /* a message is a duplicate within the seen TTL (2 min) and new again
     * after it, once the heartbeat has purged the cache */
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.score.enabled = false;
    struct sim *s = fake_setup(&cfg, true);
    veil_buf msg, rpc;
    veil_buf_init(&msg);
    veil_buf_init(&rpc);
    for (int k = 0; k < 3000; k++) {
        veil_buf_reset(&msg);
        veil_buf_reset(&rpc);
        CHECK(veil_gs_build_signed_message(&msg, s->fake_sk, "t", "x", 1, 5000 + (uint64_t)k,
                                           NULL) == 0);
        gs_put_bytes_field(&rpc, 2, msg.data, msg.len);
        veil_err err;
        CHECK(veil_gs_handle_rpc(s->nodes[0].gs, s->fake_id, s->fake_len, rpc.data, rpc.len, s->now,
                                 &err) == 0);
    }
    sim_run(s);
    CHECK_EQ_INT(s->nodes[0].received, 3000);
    fake_send(s, 0, &rpc); /* the last one again: duplicate */
    CHECK_EQ_INT(s->nodes[0].received, 3000);
    s->now += cfg.seen_ttl_ms;
    sim_heartbeats(s, 10);
    fake_send(s, 0, &rpc);
    CHECK_EQ_INT(s->nodes[0].received, 3001);
    struct veil_gs_stats st;
    veil_gs_get_stats(s->nodes[0].gs, &st);
    CHECK_EQ_INT(st.msgs_duplicate, 1);
    veil_buf_free(&msg);
    veil_buf_free(&rpc);
    sim_free(s);
    free(s);
}

static void test_config_checks(void)
{
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.d_lo = 8; /* > D */
    uint8_t sk[64];
    seed_key(sk, 1);
    struct veil_gs_callbacks cb = {sim_send, NULL, NULL};
    veil_gs *gs = NULL;
    veil_err err;
    CHECK(veil_gs_new(&gs, &cfg, sk, &cb, &err) != 0);
    CHECK(gs == NULL);
    CHECK_EQ_INT(err.code, VEIL_E_INVALID);
}

VTEST_MAIN(VTEST(test_sign_matches_js), VTEST(test_verify_and_msgid), VTEST(test_decode_js_rpc),
           VTEST(test_mesh_and_delivery), VTEST(test_mesh_bounds_when_oversubscribed),
           VTEST(test_fanout_publish), VTEST(test_ihave_iwant), VTEST(test_prune_backoff_and_px),
           VTEST(test_unsubscribe_prunes), VTEST(test_invalid_messages_and_graylist),
           VTEST(test_score_time_in_mesh), VTEST(test_malformed_rpcs), VTEST(test_peer_removal),
           VTEST(test_opportunistic_graft), VTEST(test_floodsub_peer),
           VTEST(test_seen_cache_expiry), VTEST(test_config_checks))
