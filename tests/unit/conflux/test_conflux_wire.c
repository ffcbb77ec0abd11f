// SPDX-License-Identifier: Apache-2.0
/*
 * test_conflux_wire.c - the control wire protocol (src/guardian/serve_wire.c):
 * every message round-trips, strict decoding refuses truncation, trailing
 * bytes and oversize fields; enrollment proofs and commands are bound to
 * their signer; a forged, replayed, expired or misaddressed command is
 * refused by the agent's acceptance check.
 */
#include <string.h>

#include <sodium.h>

#include <veil/guardian_serve.h>

#include "vtest.h"

static void keypair(uint8_t pub[32], uint8_t sk[64])
{
    crypto_sign_keypair(pub, sk);
}

static void make_cmd(veil_ctl_cmd *c, const char *node, uint64_t now)
{
    memset(c, 0, sizeof *c);
    c->verb = VEIL_CTL_TAINT_ADD;
    snprintf(c->node_id, sizeof c->node_id, "%s", node);
    snprintf(c->arg, sizeof c->arg, "gpu");
    c->issued_ms = now;
    randombytes_buf(c->nonce, sizeof c->nonce);
}

static void test_cmd_roundtrip_and_accept(void)
{
    uint8_t gpub[32], gsk[64], opub[32], osk[64];
    keypair(gpub, gsk);
    keypair(opub, osk);
    uint64_t now = 1700000000000ull;
    veil_ctl_cmd c, d;
    make_cmd(&c, "node-a", now);
    veil_err err = {0};
    CHECK(veil_ctl_cmd_sign(&c, gsk, &err) == 0);
    veil_buf b;
    veil_buf_init(&b);
    CHECK(veil_ctl_cmd_encode(&c, &b, &err) == 0);
    CHECK(veil_ctl_cmd_decode(b.data, b.len, &d, &err) == 0);
    CHECK_EQ_STR(d.node_id, "node-a");
    CHECK_EQ_STR(d.arg, "gpu");
    CHECK_EQ_INT(d.verb, VEIL_CTL_TAINT_ADD);

    veil_ctl_replay rp;
    veil_ctl_replay_init(&rp);
    CHECK(veil_ctl_cmd_accept(&rp, &d, gpub, "node-a", now + 10, &err) == 0);
    /* replayed */
    CHECK(veil_ctl_cmd_accept(&rp, &d, gpub, "node-a", now + 20, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_STATE);
    /* forged: signed by another key */
    veil_ctl_cmd f;
    make_cmd(&f, "node-a", now);
    CHECK(veil_ctl_cmd_sign(&f, osk, &err) == 0);
    CHECK(veil_ctl_cmd_accept(&rp, &f, gpub, "node-a", now, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    /* tampered after signing */
    make_cmd(&f, "node-a", now);
    CHECK(veil_ctl_cmd_sign(&f, gsk, &err) == 0);
    f.verb = VEIL_CTL_SHUTDOWN;
    CHECK(veil_ctl_cmd_accept(&rp, &f, gpub, "node-a", now, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    /* expired and from the future */
    make_cmd(&f, "node-a", now - VEIL_CTL_CMD_WINDOW_MS - 1);
    CHECK(veil_ctl_cmd_sign(&f, gsk, &err) == 0);
    CHECK(veil_ctl_cmd_accept(&rp, &f, gpub, "node-a", now, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_TIMEOUT);
    make_cmd(&f, "node-a", now + VEIL_CTL_CMD_WINDOW_MS + 1);
    CHECK(veil_ctl_cmd_sign(&f, gsk, &err) == 0);
    CHECK(veil_ctl_cmd_accept(&rp, &f, gpub, "node-a", now, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_TIMEOUT);
    /* addressed to another node */
    make_cmd(&f, "node-b", now);
    CHECK(veil_ctl_cmd_sign(&f, gsk, &err) == 0);
    CHECK(veil_ctl_cmd_accept(&rp, &f, gpub, "node-a", now, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_MISMATCH);
    /* an old nonce leaves the cache with the window, and stays refused by time */
    CHECK(veil_ctl_cmd_accept(&rp, &d, gpub, "node-a", now + 2 * VEIL_CTL_CMD_WINDOW_MS, &err) ==
          -1);
    CHECK_EQ_INT(err.code, VEIL_E_TIMEOUT);
    make_cmd(&f, "node-a", now + 2 * VEIL_CTL_CMD_WINDOW_MS);
    CHECK(veil_ctl_cmd_sign(&f, gsk, &err) == 0);
    CHECK(veil_ctl_cmd_accept(&rp, &f, gpub, "node-a", now + 2 * VEIL_CTL_CMD_WINDOW_MS, &err) ==
          0);
    CHECK_EQ_INT(rp.used, 1);

    /* strictness: every truncation and a trailing byte */
    for (size_t n = 0; n < b.len; n++)
        CHECK(veil_ctl_cmd_decode(b.data, n, &d, &err) == -1);
    veil_buf_put_u8(&b, 0);
    CHECK(veil_ctl_cmd_decode(b.data, b.len, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "trailing");
    /* unknown verb, unknown flag, wrong type */
    b.len--;
    b.data[2] = 9;
    CHECK(veil_ctl_cmd_decode(b.data, b.len, &d, &err) == -1);
    b.data[2] = VEIL_CTL_QUERY;
    b.data[3] = 0x80;
    CHECK(veil_ctl_cmd_decode(b.data, b.len, &d, &err) == -1);
    b.data[3] = 0;
    b.data[1] = VEIL_CTL_REPLY;
    CHECK(veil_ctl_cmd_decode(b.data, b.len, &d, &err) == -1);
    veil_buf_free(&b);
}

static void test_replay_cache_limit(void)
{
    uint8_t gpub[32], gsk[64];
    keypair(gpub, gsk);
    veil_ctl_replay rp;
    veil_ctl_replay_init(&rp);
    veil_err err = {0};
    uint64_t now = 5000000;
    int accepted = 0;
    for (int i = 0; i < VEIL_CTL_REPLAY_SLOTS + 1; i++) {
        veil_ctl_cmd c;
        make_cmd(&c, "n", now);
        CHECK(veil_ctl_cmd_sign(&c, gsk, &err) == 0);
        if (veil_ctl_cmd_accept(&rp, &c, gpub, "n", now, &err) == 0)
            accepted++;
    }
    CHECK_EQ_INT(accepted, VEIL_CTL_REPLAY_SLOTS);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
}

static void test_enrollment_messages(void)
{
    uint8_t npub[32], nsk[64], xpub[32], xsk[64], key[32];
    keypair(npub, nsk);
    keypair(xpub, xsk);
    randombytes_buf(key, sizeof key);
    veil_err err = {0};
    veil_buf b;
    veil_buf_init(&b);
    uint8_t got[32];
    CHECK(veil_ctl_hello_encode(npub, &b, &err) == 0);
    CHECK(veil_ctl_hello_decode(b.data, b.len, got, &err) == 0);
    CHECK_EQ_MEM(got, npub, 32);
    CHECK(veil_ctl_hello_decode(b.data, b.len - 1, got, &err) == -1);

    veil_ctl_challenge ch = {0}, ch2;
    randombytes_buf(ch.nonce, sizeof ch.nonce);
    memcpy(ch.node_pub, npub, 32);
    ch.issued_ms = 1000000;
    veil_ctl_challenge_mac(&ch, key, ch.mac);
    veil_buf_reset(&b);
    CHECK(veil_ctl_challenge_encode(&ch, &b, &err) == 0);
    CHECK(veil_ctl_challenge_decode(b.data, b.len, &ch2, &err) == 0);
    CHECK(veil_ctl_challenge_check(&ch2, key, npub, 1000000 + 1000, &err) == 0);
    CHECK(veil_ctl_challenge_check(&ch2, key, xpub, 1000000 + 1000, &err) == -1);
    CHECK(veil_ctl_challenge_check(&ch2, key, npub, 1000000 + VEIL_CTL_CHALLENGE_TTL_MS + 1,
                                   &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_TIMEOUT);
    ch2.nonce[0] ^= 1;
    CHECK(veil_ctl_challenge_check(&ch2, key, npub, 1000000, &err) == -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);

    veil_ctl_prove p = {0}, q;
    p.challenge = ch;
    snprintf(p.name, sizeof p.name, "edge-1");
    p.method = VEIL_CTL_BY_TOKEN;
    snprintf(p.token, sizeof p.token, "vgt1.abc.def");
    CHECK(veil_ctl_prove_sign(&p, nsk, &err) == 0);
    veil_buf_reset(&b);
    CHECK(veil_ctl_prove_encode(&p, &b, &err) == 0);
    CHECK(veil_ctl_prove_decode(b.data, b.len, &q, &err) == 0);
    CHECK(veil_ctl_prove_verify(&q, &err) == 0);
    CHECK_EQ_STR(q.token, "vgt1.abc.def");
    CHECK_EQ_STR(q.name, "edge-1");
    /* a proof made with another key for this node's challenge fails */
    CHECK(veil_ctl_prove_sign(&q, xsk, &err) == 0);
    CHECK(veil_ctl_prove_verify(&q, &err) == -1);
    /* the token is covered by the signature */
    CHECK(veil_ctl_prove_decode(b.data, b.len, &q, &err) == 0);
    q.token[0] = 'w';
    CHECK(veil_ctl_prove_verify(&q, &err) == -1);

    p.method = VEIL_CTL_BY_CHAIN;
    p.cluster_id = 7;
    memset(p.eth_address, 0xab, 20);
    CHECK(veil_ctl_prove_sign(&p, nsk, &err) == 0);
    veil_buf_reset(&b);
    CHECK(veil_ctl_prove_encode(&p, &b, &err) == 0);
    CHECK(veil_ctl_prove_decode(b.data, b.len, &q, &err) == 0);
    CHECK(veil_ctl_prove_verify(&q, &err) == 0);
    CHECK_EQ_U64(q.cluster_id, 7);
    veil_buf_free(&b);
}

static void test_result_and_reply(void)
{
    veil_err err = {0};
    veil_buf b;
    veil_buf_init(&b);
    veil_ctl_result r = {.ok = true,
                         .realm = "red",
                         .node_id = "edge-1",
                         .taints = "a,b",
                         .jwt = "eyJ.x.y",
                         .cert_pem = "-----BEGIN CERTIFICATE-----",
                         .ca_pem = "ca",
                         .expires_ms = 42};
    CHECK(veil_ctl_result_encode(&r, &b, &err) == 0);
    veil_ctl_result o;
    CHECK(veil_ctl_result_decode(b.data, b.len, &o, &err) == 0);
    CHECK(o.ok);
    CHECK_EQ_STR(o.realm, "red");
    CHECK_EQ_STR(o.taints, "a,b");
    CHECK_EQ_STR(o.jwt, "eyJ.x.y");
    CHECK_EQ_U64(o.expires_ms, 42);
    veil_ctl_result_free(&o);
    for (size_t n = 0; n < b.len; n++)
        CHECK(veil_ctl_result_decode(b.data, n, &o, &err) == -1);
    veil_buf_reset(&b);
    veil_ctl_result no = {.ok = false, .error = "token already used"};
    CHECK(veil_ctl_result_encode(&no, &b, &err) == 0);
    CHECK(veil_ctl_result_decode(b.data, b.len, &o, &err) == 0);
    CHECK(!o.ok);
    CHECK_EQ_STR(o.error, "token already used");
    veil_ctl_result_free(&o);

    uint8_t npub[32], nsk[64];
    keypair(npub, nsk);
    veil_ctl_reply rep = {.status = 0, .body = "{\"ok\":true}"};
    randombytes_buf(rep.nonce, sizeof rep.nonce);
    CHECK(veil_ctl_reply_sign(&rep, nsk, &err) == 0);
    veil_buf_reset(&b);
    CHECK(veil_ctl_reply_encode(&rep, &b, &err) == 0);
    veil_ctl_reply got;
    CHECK(veil_ctl_reply_decode(b.data, b.len, &got, &err) == 0);
    CHECK(veil_ctl_reply_verify(&got, npub, &err) == 0);
    CHECK_EQ_STR(got.body, "{\"ok\":true}");
    got.status = 1;
    CHECK(veil_ctl_reply_verify(&got, npub, &err) == -1);
    veil_ctl_reply_free(&got);
    /* a NUL inside a string field is refused */
    b.data[2 + 16 + 1 + 4 + 1] = 0;
    CHECK(veil_ctl_reply_decode(b.data, b.len, &got, &err) == -1);
    veil_buf_free(&b);
}

static void test_verbs(void)
{
    enum veil_ctl_verb v;
    veil_err err = {0};
    CHECK(veil_ctl_verb_parse("invalidate-keys", &v, &err) == 0);
    CHECK_EQ_INT(v, VEIL_CTL_INVALIDATE_KEYS);
    CHECK_EQ_STR(veil_ctl_verb_name(VEIL_CTL_TAINT_REMOVE), "taint-remove");
    CHECK(veil_ctl_verb_parse("reboot", &v, &err) == -1);
    CHECK_CONTAINS(err.msg, "unknown command");
}

VTEST_MAIN(VTEST(test_cmd_roundtrip_and_accept), VTEST(test_replay_cache_limit),
           VTEST(test_enrollment_messages), VTEST(test_result_and_reply), VTEST(test_verbs))
