// SPDX-License-Identifier: Apache-2.0
/*
 * test_net_anchor.c - the Anchor protocol core (src/net/anchor*.c) with
 * real cryptography end to end: nodes with Ed25519 identities and
 * credentials signed by a test Guardian key (realm, taints, expiry; the
 * verifier checks the signature), connected by an in-memory network that
 * can hold, replay, reorder and tamper with datagrams. Covers the hybrid
 * handshake and data both ways, tampered / replayed / unknown / misaddressed
 * packets (dropped, never answered), wrong realm, uncontained taints, a
 * replayed initiation, rekey by message count and by time with packets in
 * flight across it (no loss), keepalive, WireGuard's new handshake after
 * silence (a restarted peer) and none for a one-way stream, expiry, the
 * cookie path under load, a taint change tearing a session down, key invalidation, revocation,
 * an expired credential, crossing initiations, and the replay window edges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include <veil/anchor.h>

#include "anchor_int.h"
#include "anchor_test_cred.h"
#include "vtest.h"

/* ---- the test Guardian (anchor_test_cred.c) --------------------------------------------- */

static uint8_t guardian_pk[32], guardian_sk[64];
static uint8_t rogue_pk[32], rogue_sk[64]; /* a key that is not the Guardian */

static size_t make_cred(uint8_t *out, const char *realm, const char *taints, const uint8_t id[32],
                        uint64_t expiry_ms)
{
    return anchor_test_cred_make(out, realm, taints, id, expiry_ms, guardian_sk);
}

/* ---- nodes and an in-memory network ---------------------------------------------------- */

struct node {
    char addr[8];
    uint8_t pk[32], sk[64];
    uint8_t cred[512];
    size_t cred_len;
    veil_anchor *a;
};

#define MAX_HELD 512
struct held {
    char to[8], from[8];
    uint8_t *data;
    size_t len;
};

struct net {
    struct node *nodes[4];
    size_t n;
    struct held held[MAX_HELD]; /* datagrams in flight, in send order */
    size_t n_held;
    enum veil_anchor_drop last_drop;
    size_t dropped, delivered;
};

static const struct veil_anchor_config *cfg_or_default(const struct veil_anchor_config *cfg)
{
    static struct veil_anchor_config def;
    veil_anchor_config_default(&def);
    return cfg ? cfg : &def;
}

/* A node whose credential `signer_sk` signed and which trusts `trust_pk`
 * (NULL: the Guardian's keys). */
static void node_init_trust(struct node *nd, const char *addr, const char *realm,
                            const char *taints, const struct veil_anchor_config *cfg,
                            const uint8_t *signer_sk, uint8_t *trust_pk)
{
    veil_err err = {0};
    snprintf(nd->addr, sizeof nd->addr, "%s", addr);
    crypto_sign_ed25519_keypair(nd->pk, nd->sk);
    nd->cred_len = anchor_test_cred_make(nd->cred, realm, taints, nd->pk, UINT64_MAX,
                                         signer_sk ? signer_sk : guardian_sk);
    struct veil_anchor_local local = {.cred = nd->cred,
                                      .cred_len = nd->cred_len,
                                      .verify = anchor_test_cred_verify,
                                      .verify_ctx = trust_pk ? trust_pk : guardian_pk};
    memcpy(local.identity_pk, nd->pk, 32);
    memcpy(local.identity_sk, nd->sk, 64);
    nd->a = veil_anchor_new(cfg_or_default(cfg), &local, 1000, &err);
    CHECK(nd->a != NULL);
    if (!nd->a)
        fprintf(stderr, "  %s\n", err.msg);
}

static void node_init(struct node *nd, const char *addr, const char *realm, const char *taints,
                      const struct veil_anchor_config *cfg)
{
    node_init_trust(nd, addr, realm, taints, cfg, NULL, NULL);
}

static void node_free(struct node *nd)
{
    veil_anchor_free(nd->a);
}

static void net_add(struct net *n, struct node *nd)
{
    n->nodes[n->n++] = nd;
}

/* Moves every queued datagram of every node into the network. */
static void net_collect(struct net *n)
{
    struct veil_anchor_datagram d;
    for (size_t i = 0; i < n->n; i++) {
        while (veil_anchor_pop_datagram(n->nodes[i]->a, &d)) {
            CHECK(n->n_held < MAX_HELD);
            if (n->n_held >= MAX_HELD) {
                veil_anchor_datagram_clear(&d);
                continue;
            }
            struct held *h = &n->held[n->n_held++];
            snprintf(h->to, sizeof h->to, "%.*s", (int)d.to_len, (const char *)d.to);
            snprintf(h->from, sizeof h->from, "%s", n->nodes[i]->addr);
            h->data = d.data;
            h->len = d.len;
        }
    }
}

static struct node *by_addr(struct net *n, const char *addr)
{
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->nodes[i]->addr, addr) == 0)
            return n->nodes[i];
    return NULL;
}

/* Delivers one held datagram (without freeing it). */
static bool deliver(struct net *n, const struct held *h, uint64_t now)
{
    struct node *to = by_addr(n, h->to);
    if (!to)
        return false;
    bool ok = veil_anchor_recv(to->a, (const uint8_t *)h->from, strlen(h->from), h->data, h->len,
                               now, &n->last_drop);
    if (ok)
        n->delivered++;
    else
        n->dropped++;
    return ok;
}

static void held_free(struct net *n)
{
    for (size_t i = 0; i < n->n_held; i++)
        free(n->held[i].data);
    n->n_held = 0;
}

/* Delivers everything until the network is quiet. */
static void net_pump(struct net *n, uint64_t now)
{
    for (int round = 0; round < 50; round++) {
        net_collect(n);
        if (n->n_held == 0)
            return;
        struct held batch[MAX_HELD];
        size_t nb = n->n_held;
        memcpy(batch, n->held, nb * sizeof *batch);
        n->n_held = 0;
        for (size_t i = 0; i < nb; i++) {
            deliver(n, &batch[i], now);
            free(batch[i].data);
        }
    }
}

/* Pops events of a node; counts data events equal to `want` and UP/DOWN. */
struct seen {
    int data, up, down, failed;
    uint8_t last[256];
    size_t last_len;
};

static void drain_events(struct node *nd, struct seen *s)
{
    struct veil_anchor_event ev;
    while (veil_anchor_pop_event(nd->a, &ev)) {
        if (ev.type == VEIL_ANCHOR_EV_DATA) {
            s->data++;
            s->last_len = ev.len < sizeof s->last ? ev.len : sizeof s->last;
            memcpy(s->last, ev.data, s->last_len);
        }
        s->up += ev.type == VEIL_ANCHOR_EV_UP;
        s->down += ev.type == VEIL_ANCHOR_EV_DOWN;
        s->failed += ev.type == VEIL_ANCHOR_EV_HANDSHAKE_FAILED;
        veil_anchor_event_clear(&ev);
    }
}

/* Nodes A and B of realm "prod" with the given taints, on one net. */
static void two_nodes(struct net *n, struct node *a, const char *taints_a, struct node *b,
                      const char *taints_b, const struct veil_anchor_config *cfg)
{
    node_init(a, "A", "prod", taints_a, cfg);
    node_init(b, "B", "prod", taints_b, cfg);
    net_add(n, a);
    net_add(n, b);
}

static void link_peers(struct node *from, struct node *to)
{
    veil_err err = {0};
    CHECK(veil_anchor_add_peer(from->a, to->pk, (const uint8_t *)to->addr, strlen(to->addr),
                               &err) == 0);
}

static void send_str(struct node *from, struct node *to, const char *s, uint64_t now)
{
    veil_err err = {0};
    CHECK(veil_anchor_send(from->a, to->pk, (const uint8_t *)s, strlen(s), now, &err) == 0);
}

/* Two nodes A (initiator) and B with a session up through one message. */
static void up_pair(struct net *n, struct node *a, struct node *b, uint64_t now)
{
    struct seen sb = {0};
    link_peers(a, b);
    send_str(a, b, "hello", now);
    net_pump(n, now);
    drain_events(b, &sb);
    CHECK_EQ_INT(sb.data, 1);
    CHECK(veil_anchor_peer_up(a->a, b->pk) && veil_anchor_peer_up(b->a, a->pk));
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_handshake_and_data(void)
{
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "eu", &b, "eu,gpu", NULL);
    link_peers(&a, &b);
    send_str(&a, &b, "first", 1000);
    send_str(&a, &b, "second", 1000);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1); /* only the initiation: data waits for the session */
    CHECK(n.held[0].len > VEIL_MLKEM768_EK_BYTES);
    net_pump(&n, 1001);
    struct seen sa = {0}, sb = {0};
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.data, 2);
    CHECK_EQ_INT(sb.up, 1);
    CHECK_EQ_MEM(sb.last, "second", 6);
    /* B learned A's endpoint from the handshake and answers without add_peer */
    send_str(&b, &a, "reply", 1002);
    net_pump(&n, 1002);
    drain_events(&a, &sa);
    CHECK_EQ_INT(sa.up, 1);
    CHECK_EQ_INT(sa.data, 1);
    CHECK_EQ_MEM(sa.last, "reply", 5);
    struct veil_anchor_stats st;
    veil_anchor_get_stats(a.a, &st);
    CHECK_EQ_U64(st.handshakes_completed, 1);
    CHECK_EQ_U64(st.dropped[VEIL_ANCHOR_DROP_AUTH], 0);
    node_free(&a);
    node_free(&b);
}

/* Nothing a node dropped produced a datagram. */
static void check_silent(struct net *n)
{
    net_collect(n);
    CHECK_EQ_INT((int)n->n_held, 0);
    held_free(n);
}

static void test_tampered_replayed_unknown(void)
{
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", NULL);
    up_pair(&n, &a, &b, 1000);
    send_str(&a, &b, "payload", 1001);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1);
    struct held pkt = n.held[0];
    n.n_held = 0;
    /* a flipped ciphertext bit: dropped as unauthenticated, no reply */
    pkt.data[pkt.len - 1] ^= 1;
    CHECK(!deliver(&n, &pkt, 1001));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_AUTH);
    pkt.data[pkt.len - 1] ^= 1;
    /* a changed counter in the header: authenticated data, so rejected */
    pkt.data[8] ^= 0x40;
    CHECK(!deliver(&n, &pkt, 1001));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_AUTH);
    pkt.data[8] ^= 0x40;
    /* the genuine packet, once */
    CHECK(deliver(&n, &pkt, 1001));
    CHECK(!deliver(&n, &pkt, 1001));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_REPLAY);
    /* an index no session has */
    pkt.data[4] ^= 0xff;
    CHECK(!deliver(&n, &pkt, 1001));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_UNKNOWN_INDEX);
    free(pkt.data);
    /* garbage and a truncated packet */
    struct held junk = {"B", "X", (uint8_t *)"\x04\0\0\0abc", 7};
    CHECK(!deliver(&n, &junk, 1001));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_MALFORMED);
    junk.data = (uint8_t *)"\x09zzzzzzzzzzzzzzzzzzzzz";
    junk.len = 23;
    CHECK(!deliver(&n, &junk, 1001));
    check_silent(&n);
    struct seen sb = {0};
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.data, 1);
    node_free(&a);
    node_free(&b);
}

static void test_unknown_key_and_misaddressed(void)
{
    struct node a, b, x;
    struct net n = {0};
    node_init(&a, "A", "prod", "", NULL);
    node_init(&b, "B", "prod", "", NULL);
    node_init(&x, "X", "prod", "", NULL);
    net_add(&n, &a);
    net_add(&n, &b);
    /* A believes X's key lives at B's address: B drops it on mac1 */
    veil_err err = {0};
    CHECK(veil_anchor_add_peer(a.a, x.pk, (const uint8_t *)"B", 1, &err) == 0);
    send_str(&a, &x, "to x", 1000);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1);
    CHECK(!deliver(&n, &n.held[0], 1000));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_MAC1);
    held_free(&n);
    check_silent(&n);
    /* a node whose credential another key signed (it trusts that key itself):
     * it completes no handshake with B, and B says nothing */
    struct node f;
    node_init_trust(&f, "F", "prod", "", NULL, rogue_sk, rogue_pk);
    net_add(&n, &f);
    link_peers(&f, &b);
    send_str(&f, &b, "forged", 1000);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1);
    CHECK(!deliver(&n, &n.held[0], 1000));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_AUTH);
    held_free(&n);
    check_silent(&n);
    CHECK(!veil_anchor_peer_up(f.a, b.pk));
    /* and B refuses such a credential for itself */
    CHECK_EQ_INT(veil_anchor_set_credential(b.a, f.cred, f.cred_len, 1000, &err), -1);
    node_free(&f);
    node_free(&a);
    node_free(&b);
    node_free(&x);
}

static void test_realm_and_taints(void)
{
    struct node b, other_realm, uncontained, contained;
    struct net n = {0};
    node_init(&b, "B", "prod", "eu,gpu", NULL);
    node_init(&other_realm, "R", "dev", "eu,gpu", NULL);
    node_init(&uncontained, "U", "prod", "eu,fpga", NULL);
    node_init(&contained, "C", "prod", "gpu", NULL);
    net_add(&n, &b);
    net_add(&n, &other_realm);
    net_add(&n, &uncontained);
    net_add(&n, &contained);
    struct node *bad[2] = {&other_realm, &uncontained};
    for (int i = 0; i < 2; i++) {
        link_peers(bad[i], &b);
        send_str(bad[i], &b, "let me in", 1000);
        net_collect(&n);
        CHECK_EQ_INT((int)n.n_held, 1);
        CHECK(!deliver(&n, &n.held[0], 1000));
        CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_REALM);
        held_free(&n);
        check_silent(&n); /* not even a refusal goes back */
        CHECK(!veil_anchor_peer_up(bad[i]->a, b.pk));
    }
    /* {gpu} is inside {eu,gpu}: allowed */
    link_peers(&contained, &b);
    send_str(&contained, &b, "ok", 1000);
    net_pump(&n, 1000);
    CHECK(veil_anchor_peer_up(contained.a, b.pk));
    /* the rule itself: containment either way, same realm only */
    struct veil_anchor_cred_info x = {.realm = "r", .n_taints = 0};
    struct veil_anchor_cred_info y = {.realm = "r", .n_taints = 1, .taints = {"t"}};
    CHECK(veil_anchor_may_talk(&x, &y) && veil_anchor_may_talk(&y, &x));
    snprintf(y.realm, sizeof y.realm, "s");
    CHECK(!veil_anchor_may_talk(&x, &y));
    node_free(&b);
    node_free(&other_realm);
    node_free(&uncontained);
    node_free(&contained);
}

static void test_replayed_initiation(void)
{
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", NULL);
    link_peers(&a, &b);
    send_str(&a, &b, "x", 1000);
    net_collect(&n);
    struct held init = n.held[0];
    n.n_held = 0;
    CHECK(deliver(&n, &init, 1000));
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1); /* the response */
    held_free(&n);
    CHECK(!deliver(&n, &init, 1500)); /* the same initiation again: old timestamp */
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_REPLAY);
    check_silent(&n);
    free(init.data);
    node_free(&a);
    node_free(&b);
}

/* Sends `count` numbered datagrams A -> B, holding them in the network. */
static void send_numbered(struct node *a, struct node *b, int from, int count, uint64_t now)
{
    for (int i = from; i < from + count; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "m%05d", i);
        send_str(a, b, msg, now);
    }
}

/* Counts distinct numbered datagrams B received. */
static int count_numbered(struct node *b, bool *seen, int max)
{
    struct veil_anchor_event ev;
    int dup = 0;
    while (veil_anchor_pop_event(b->a, &ev)) {
        if (ev.type == VEIL_ANCHOR_EV_DATA && ev.len == 6 && ev.data[0] == 'm') {
            char num[6] = {0};
            memcpy(num, ev.data + 1, 5);
            int k = atoi(num);
            if (k >= 0 && k < max) {
                dup += seen[k];
                seen[k] = true;
            }
        }
        veil_anchor_event_clear(&ev);
    }
    return dup;
}

static void test_rekey_without_loss(void)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    cfg.rekey_after_messages = 40;
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", &cfg);
    up_pair(&n, &a, &b, 1000);
    enum { TOTAL = 300 };
    static bool seen[TOTAL];
    memset(seen, 0, sizeof seen);
    int dups = 0;
    uint64_t now = 1001;
    for (int k = 0; k < TOTAL; k += 30, now++) {
        /* 30 packets delivered newest first, the oldest 5 only after the
         * rekey's handshake has finished and rotated the sessions: they
         * arrive under keys that are no longer current */
        send_numbered(&a, &b, k, 30, now);
        net_collect(&n);
        struct held batch[MAX_HELD];
        size_t nb = n.n_held;
        memcpy(batch, n.held, nb * sizeof *batch);
        n.n_held = 0;
        for (size_t i = nb; i-- > 5;)
            deliver(&n, &batch[i], now);
        net_pump(&n, now);
        for (size_t i = 0; i < nb; i++) {
            if (i < 5)
                deliver(&n, &batch[i], now);
            free(batch[i].data);
        }
        net_pump(&n, now);
        dups += count_numbered(&b, seen, TOTAL);
    }
    int got = 0;
    for (int i = 0; i < TOTAL; i++)
        got += seen[i];
    CHECK_EQ_INT(got, TOTAL);
    CHECK_EQ_INT(dups, 0);
    struct veil_anchor_stats sa, sb;
    veil_anchor_get_stats(a.a, &sa);
    veil_anchor_get_stats(b.a, &sb);
    CHECK(sa.rekeys >= 5);
    CHECK(sa.handshakes_completed >= 5 && sb.handshakes_completed >= 5);
    CHECK_EQ_U64(sb.dropped[VEIL_ANCHOR_DROP_AUTH] + sb.dropped[VEIL_ANCHOR_DROP_UNKNOWN_INDEX], 0);
    node_free(&a);
    node_free(&b);
}

static void test_rekey_by_time_keepalive_expiry(void)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", &cfg);
    up_pair(&n, &a, &b, 1000);
    struct seen sa = {0}, sb = {0};
    /* B received data and sent nothing: a keepalive after keepalive_ms */
    CHECK(veil_anchor_next_deadline(b.a) <= 1000 + cfg.keepalive_ms);
    veil_anchor_tick(b.a, 1000 + cfg.keepalive_ms);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1);
    CHECK(deliver(&n, &n.held[0], 1000 + cfg.keepalive_ms));
    held_free(&n);
    drain_events(&a, &sa);
    CHECK_EQ_INT(sa.data, 0); /* keepalives carry nothing */
    /* past rekey_after, A's next send starts a handshake; the data still
     * goes on the old session */
    uint64_t t = 1000 + cfg.rekey_after_ms;
    send_str(&a, &b, "late", t);
    net_pump(&n, t);
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.data, 1);
    CHECK_EQ_MEM(sb.last, "late", 4);
    struct veil_anchor_stats st;
    veil_anchor_get_stats(a.a, &st);
    CHECK_EQ_U64(st.handshakes_completed, 2);
    /* silence until past reject_after of the new session: keys dropped, DOWN */
    t += cfg.reject_after_ms;
    veil_anchor_tick(a.a, t);
    veil_anchor_tick(b.a, t);
    drain_events(&a, &sa);
    drain_events(&b, &sb);
    CHECK_EQ_INT(sa.down, 1);
    CHECK_EQ_INT(sb.down, 1);
    CHECK(!veil_anchor_peer_up(a.a, b.pk));
    held_free(&n);
    node_free(&a);
    node_free(&b);
}

/* The node restarts: same identity, credential and address, fresh state. */
static void node_restart(struct node *nd, uint64_t now)
{
    veil_err err = {0};
    struct veil_anchor_local local = {.cred = nd->cred,
                                      .cred_len = nd->cred_len,
                                      .verify = anchor_test_cred_verify,
                                      .verify_ctx = guardian_pk};
    memcpy(local.identity_pk, nd->pk, 32);
    memcpy(local.identity_sk, nd->sk, 64);
    veil_anchor_free(nd->a);
    nd->a = veil_anchor_new(cfg_or_default(NULL), &local, now, &err);
    CHECK(nd->a != NULL);
}

/* WireGuard's rule: data sent and nothing heard for keepalive +
 * rekey_timeout starts a new handshake. B restarts and forgets the session
 * A keeps sending on; A re-handshakes on its own, exactly when the silence
 * reaches the bound, and data flows again. */
static void test_silence_rehandshake(void)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", NULL);
    up_pair(&n, &a, &b, 1000);
    veil_anchor_tick(b.a, 1000 + cfg.keepalive_ms); /* B's keepalive answers "hello" */
    net_pump(&n, 1000 + cfg.keepalive_ms);
    node_restart(&b, 20000);
    uint64_t t = 20000, due = t + cfg.keepalive_ms + cfg.rekey_timeout_ms;
    send_str(&a, &b, "lost", t);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1);
    CHECK(!deliver(&n, &n.held[0], t)); /* B has no such session */
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_UNKNOWN_INDEX);
    held_free(&n);
    check_silent(&n);
    CHECK(veil_anchor_peer_up(a.a, b.pk)); /* A still believes in its session */
    CHECK_EQ_U64(veil_anchor_next_deadline(a.a), due);
    veil_anchor_tick(a.a, due - 1);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 0);
    veil_anchor_tick(a.a, due);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1); /* the initiation */
    CHECK(n.n_held == 1 && n.held[0].len > VEIL_MLKEM768_EK_BYTES);
    struct veil_anchor_stats st;
    veil_anchor_get_stats(a.a, &st);
    CHECK_EQ_U64(st.silence_handshakes, 1);
    net_pump(&n, due);
    send_str(&a, &b, "found", due + 1);
    net_pump(&n, due + 1);
    struct seen sb = {0};
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.up, 1);
    CHECK_EQ_INT(sb.data, 1);
    CHECK_EQ_MEM(sb.last, "found", 5);
    veil_anchor_get_stats(a.a, &st);
    CHECK_EQ_U64(st.handshakes_completed, 2);
    node_free(&a);
    node_free(&b);
}

/* A one-way stream (A sends every second, B only receives) starts no
 * handshake of its own: B's keepalive is due keepalive_ms after the first
 * data it has not answered, not pushed back by every later packet, so A
 * always hears from B within keepalive + rekey_timeout. */
static void test_one_way_stream_no_rehandshake(void)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", NULL);
    up_pair(&n, &a, &b, 1000);
    int keepalives = 0;
    for (uint64_t t = 2000; t <= 62000; t += 1000) {
        send_str(&a, &b, "tick", t);
        net_pump(&n, t);
        struct veil_anchor_stats before, after;
        veil_anchor_get_stats(b.a, &before);
        veil_anchor_tick(a.a, t);
        veil_anchor_tick(b.a, t);
        veil_anchor_get_stats(b.a, &after);
        keepalives += (int)(after.tx_packets - before.tx_packets);
        net_pump(&n, t);
    }
    struct veil_anchor_stats st;
    veil_anchor_get_stats(a.a, &st);
    CHECK_EQ_U64(st.silence_handshakes, 0);
    CHECK_EQ_U64(st.handshakes_initiated, 1);
    CHECK(keepalives >= 5); /* about one every keepalive_ms */
    struct seen sb = {0};
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.data, 61);
    node_free(&a);
    node_free(&b);
}

static void test_cookie_under_load(void)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", &cfg);
    veil_anchor_force_under_load(b.a, true);
    link_peers(&a, &b);
    send_str(&a, &b, "under load", 1000);
    net_collect(&n);
    struct held init = n.held[0];
    n.n_held = 0;
    CHECK(!deliver(&n, &init, 1000));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_COOKIE);
    net_collect(&n);
    CHECK_EQ_INT((int)n.n_held, 1); /* the cookie reply, 64 bytes */
    CHECK_EQ_INT((int)n.held[0].len, ANCHOR_COOKIE_MSG_BYTES);
    /* the same initiation from another address gets no pass either */
    struct held moved = init;
    snprintf(moved.from, sizeof moved.from, "Z");
    CHECK(!deliver(&n, &moved, 1000));
    free(init.data);
    struct held cookie = n.held[0];
    n.n_held = 0;
    CHECK(deliver(&n, &cookie, 1000));
    free(cookie.data);
    held_free(&n);
    /* A retransmits after rekey_timeout, now with mac2: accepted */
    veil_anchor_tick(a.a, 1000 + cfg.rekey_timeout_ms);
    net_pump(&n, 1000 + cfg.rekey_timeout_ms);
    struct seen sb = {0};
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.data, 1);
    CHECK(veil_anchor_peer_up(a.a, b.pk));
    struct veil_anchor_stats st;
    veil_anchor_get_stats(b.a, &st);
    CHECK(st.cookies_sent >= 2);
    node_free(&a);
    node_free(&b);
}

static void test_taint_change_tears_down(void)
{
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "eu", &b, "eu,gpu", NULL);
    up_pair(&n, &a, &b, 1000);
    /* Guardian replaces B's taints: {fpga} neither contains nor is inside {eu} */
    uint8_t cred[512];
    size_t len = make_cred(cred, "prod", "fpga", b.pk, UINT64_MAX);
    veil_err err = {0};
    CHECK_EQ_INT(veil_anchor_set_credential(b.a, cred, len, 1001, &err), 0);
    struct seen sb = {0};
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.down, 1);
    CHECK(!veil_anchor_peer_up(b.a, a.pk));
    /* A's packets on the old session now find nothing */
    send_str(&a, &b, "still there?", 1002);
    net_collect(&n);
    CHECK(!deliver(&n, &n.held[0], 1002));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_UNKNOWN_INDEX);
    held_free(&n);
    /* a credential that is not B's own is refused */
    len = make_cred(cred, "prod", "eu", a.pk, UINT64_MAX);
    CHECK_EQ_INT(veil_anchor_set_credential(b.a, cred, len, 1003, &err), -1);
    node_free(&a);
    node_free(&b);
}

static void test_revocation_invalidation_expiry(void)
{
    struct node a, b, c;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", NULL);
    up_pair(&n, &a, &b, 1000);
    /* key invalidation: sessions gone (DOWN), the next send handshakes anew */
    veil_anchor_invalidate_keys(a.a, 1001);
    struct seen sa = {0}, sb = {0};
    drain_events(&a, &sa);
    CHECK_EQ_INT(sa.down, 1);
    send_str(&a, &b, "after invalidation", 1002);
    net_pump(&n, 1002);
    drain_events(&b, &sb);
    CHECK_EQ_INT(sb.data, 1);
    CHECK(veil_anchor_peer_up(a.a, b.pk));
    /* revocation: B forgets A; A's packets find no session */
    veil_anchor_remove_peer(b.a, a.pk, 1003);
    CHECK(!veil_anchor_peer_up(b.a, a.pk));
    send_str(&a, &b, "revoked", 1003);
    net_collect(&n);
    CHECK(!deliver(&n, &n.held[0], 1003));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_UNKNOWN_INDEX);
    held_free(&n);
    check_silent(&n);
    /* an expired credential: C's credential ends at 5000, B refuses it after */
    node_init(&c, "C", "prod", "", NULL);
    net_add(&n, &c);
    uint8_t cred[512];
    size_t len = make_cred(cred, "prod", "", c.pk, 5000);
    veil_err err = {0};
    CHECK_EQ_INT(veil_anchor_set_credential(c.a, cred, len, 1000, &err), 0);
    link_peers(&c, &b);
    send_str(&c, &b, "expired", 6000);
    net_collect(&n);
    CHECK(!deliver(&n, &n.held[0], 6000));
    CHECK_EQ_INT(n.last_drop, VEIL_ANCHOR_DROP_AUTH);
    held_free(&n);
    check_silent(&n);
    node_free(&a);
    node_free(&b);
    node_free(&c);
}

static void test_simultaneous_initiation(void)
{
    struct node a, b;
    struct net n = {0};
    two_nodes(&n, &a, "", &b, "", NULL);
    link_peers(&a, &b);
    link_peers(&b, &a);
    send_str(&a, &b, "from a", 1000);
    send_str(&b, &a, "from b", 1000);
    net_pump(&n, 1000);
    struct seen sa = {0}, sb = {0};
    drain_events(&a, &sa);
    drain_events(&b, &sb);
    CHECK_EQ_INT(sa.data, 1);
    CHECK_EQ_INT(sb.data, 1);
    CHECK_EQ_INT(sa.up, 1);
    CHECK_EQ_INT(sb.up, 1);
    /* both crossing sessions settle; traffic keeps flowing both ways */
    for (int i = 0; i < 5; i++) {
        send_str(&a, &b, "ping", 1001 + (uint64_t)i);
        send_str(&b, &a, "pong", 1001 + (uint64_t)i);
        net_pump(&n, 1001 + (uint64_t)i);
    }
    drain_events(&a, &sa);
    drain_events(&b, &sb);
    CHECK_EQ_INT(sa.data, 6);
    CHECK_EQ_INT(sb.data, 6);
    node_free(&a);
    node_free(&b);
}

static void test_replay_window(void)
{
    static struct anchor_replay w;
    memset(&w, 0, sizeof w);
    CHECK(anchor_replay_check(&w, 0));
    anchor_replay_update(&w, 0);
    CHECK(!anchor_replay_check(&w, 0));
    anchor_replay_update(&w, 10000);
    CHECK(!anchor_replay_check(&w, 10000 - VEIL_ANCHOR_REPLAY_WINDOW));
    CHECK(anchor_replay_check(&w, 10000 - VEIL_ANCHOR_REPLAY_WINDOW + 1));
    CHECK(anchor_replay_check(&w, 9999));
    anchor_replay_update(&w, 9999);
    CHECK(!anchor_replay_check(&w, 9999));
    /* every counter of the window once, in reverse: all fresh, then all seen */
    for (uint64_t c = 10000 - VEIL_ANCHOR_REPLAY_WINDOW + 1; c < 9999; c++) {
        CHECK(anchor_replay_check(&w, c));
        anchor_replay_update(&w, c);
    }
    for (uint64_t c = 10000 - VEIL_ANCHOR_REPLAY_WINDOW + 1; c <= 10000; c++)
        if (anchor_replay_check(&w, c))
            CHECK(!"a counter accepted twice");
    /* a jump far ahead clears the old bits */
    anchor_replay_update(&w, 1000000);
    CHECK(anchor_replay_check(&w, 1000000 - 5));
    CHECK(!anchor_replay_check(&w, 10000));
}

/* The transport AEAD (OpenSSL EVP) writes exactly what libsodium's
 * ChaCha20-Poly1305 (IETF) writes, opens it back, and refuses any flipped
 * bit in ciphertext, tag or associated data. */
static void test_transport_aead_matches_libsodium(void)
{
    EVP_CIPHER_CTX *seal = anchor_aead_new(true), *open = anchor_aead_new(false);
    CHECK(seal && open);
    for (size_t len = 0; seal && open && len < 1500; len += 97) {
        uint8_t key[32], nonce[12], aad[16], pt[1500], ct[1516], ref[1516], back[1500];
        randombytes_buf(key, sizeof key);
        randombytes_buf(nonce, sizeof nonce);
        randombytes_buf(aad, sizeof aad);
        randombytes_buf(pt, len);
        CHECK_EQ_INT(anchor_aead_seal(seal, ct, pt, len, aad, sizeof aad, nonce, key), 0);
        crypto_aead_chacha20poly1305_ietf_encrypt(ref, NULL, pt, len, aad, sizeof aad, NULL, nonce,
                                                  key);
        CHECK(memcmp(ct, ref, len + 16) == 0);
        CHECK_EQ_INT(anchor_aead_open(open, back, ct, len + 16, aad, sizeof aad, nonce, key), 0);
        CHECK(memcmp(back, pt, len) == 0);
        ct[len / 2] ^= 1; /* ciphertext, or the tag when len is 0 */
        CHECK_EQ_INT(anchor_aead_open(open, back, ct, len + 16, aad, sizeof aad, nonce, key), -1);
        ct[len / 2] ^= 1;
        aad[3] ^= 1;
        CHECK_EQ_INT(anchor_aead_open(open, back, ct, len + 16, aad, sizeof aad, nonce, key), -1);
    }
    EVP_CIPHER_CTX_free(seal);
    EVP_CIPHER_CTX_free(open);
}

/* A session's contexts: the key installed once (anchor_aead_key), then
 * packets that change only the nonce, a refused one among them, still
 * write and open exactly libsodium's bytes under that key. */
static void test_transport_aead_keyed_once(void)
{
    uint8_t key[32], aad[16];
    randombytes_buf(key, sizeof key);
    randombytes_buf(aad, sizeof aad);
    EVP_CIPHER_CTX *seal = anchor_aead_new(true), *open = anchor_aead_new(false);
    CHECK(seal && open);
    CHECK_EQ_INT(anchor_aead_key(seal, key, true), 0);
    CHECK_EQ_INT(anchor_aead_key(open, key, false), 0);
    for (uint64_t ctr = 0; seal && open && ctr < 40; ctr++) {
        uint8_t nonce[12] = {0}, pt[1400], ct[1416], ref[1416], back[1400];
        size_t len = (size_t)(ctr * 37) % sizeof pt;
        memcpy(nonce + 4, &ctr, sizeof ctr);
        randombytes_buf(pt, len);
        CHECK_EQ_INT(anchor_aead_seal(seal, ct, pt, len, aad, sizeof aad, nonce, NULL), 0);
        crypto_aead_chacha20poly1305_ietf_encrypt(ref, NULL, pt, len, aad, sizeof aad, NULL, nonce,
                                                  key);
        CHECK(memcmp(ct, ref, len + 16) == 0);
        if (ctr % 3 == 1) { /* a forged packet on the session's context */
            ct[len] ^= 0x80;
            CHECK_EQ_INT(anchor_aead_open(open, back, ct, len + 16, aad, sizeof aad, nonce, NULL),
                         -1);
            ct[len] ^= 0x80;
        }
        CHECK_EQ_INT(anchor_aead_open(open, back, ct, len + 16, aad, sizeof aad, nonce, NULL), 0);
        CHECK(memcmp(back, pt, len) == 0);
    }
    EVP_CIPHER_CTX_free(seal);
    EVP_CIPHER_CTX_free(open);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    crypto_sign_ed25519_keypair(guardian_pk, guardian_sk);
    crypto_sign_ed25519_keypair(rogue_pk, rogue_sk);
    static const struct vtest_case cases[] = {
        VTEST(test_handshake_and_data),
        VTEST(test_tampered_replayed_unknown),
        VTEST(test_unknown_key_and_misaddressed),
        VTEST(test_realm_and_taints),
        VTEST(test_replayed_initiation),
        VTEST(test_rekey_without_loss),
        VTEST(test_rekey_by_time_keepalive_expiry),
        VTEST(test_silence_rehandshake),
        VTEST(test_one_way_stream_no_rehandshake),
        VTEST(test_cookie_under_load),
        VTEST(test_taint_change_tears_down),
        VTEST(test_revocation_invalidation_expiry),
        VTEST(test_simultaneous_initiation),
        VTEST(test_replay_window),
        VTEST(test_transport_aead_matches_libsodium),
        VTEST(test_transport_aead_keyed_once),
    };
    return vtest_run(cases, VEIL_ARRAY_LEN(cases), argc, argv);
}
