// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_onion.c - onion paths (src/route/onion.c, relay.c) through real
 * relay state machines with real Ed25519 identities: a path through two
 * relays carries data end to end, each relay learns only its previous and
 * next hop and never sees the plaintext, setup and data cells keep one size
 * on every hop and each relay changes every byte of the body; replays, the
 * wrong hop and the wrong previous hop are refused, a tampered data cell is
 * forwarded by the relays and refused by the destination; a setup
 * naming a source that did not make it is refused at the destination; per-path
 * limits (paths per previous hop, byte budget, rate, idle retirement) hold.
 * The data cell's layers match the documented construction, recomputed with
 * libsodium's ChaCha20-Poly1305 and AES-256 block by block (ECB on counter
 * blocks). Also the relay admission rule (realm, taints, willingness) and
 * the NAT plan.
 */
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "veil/route.h"
#include "vtest.h"

struct node {
    uint8_t pk[32];
    uint8_t sk[64];
    struct veil_route_relay relay;
};

static void node_init(struct node *n, uint8_t seed_byte, const struct veil_route_relay_config *cfg)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_seed_keypair(n->pk, n->sk, seed);
    CHECK_EQ_INT(veil_route_relay_init(&n->relay, cfg, n->sk, NULL), 0);
}

static const struct veil_route_limits roomy = {1u << 20, 1u << 20, 10000};
static const char secret[] = "the endpoints' traffic: GET /payroll.csv";

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    return memmem(hay, n, needle, m) != NULL;
}

/* Sets up S -> hops... and returns the onion; checks every hop's action. */
static void setup_path(struct veil_route_onion *o, struct node *src, struct node **hops, size_t n,
                       const struct veil_route_limits *lim)
{
    struct veil_route_hop h[VEIL_ROUTE_HOPS_MAX];
    for (size_t i = 0; i < n; i++)
        memcpy(h[i].identity, hops[i]->pk, 32);
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES], out[VEIL_ROUTE_SETUP_BYTES];
    veil_err err;
    CHECK_EQ_INT(veil_route_onion_build(o, src->sk, h, n, lim, cell, &err), 0);
    const uint8_t *prev = src->pk;
    for (size_t i = 0; i < n; i++) {
        struct veil_route_action act;
        CHECK_EQ_INT(veil_route_relay_handle(&hops[i]->relay, prev, cell, sizeof cell, 0, out,
                                             sizeof out, &act, &err),
                     0);
        bool last = i + 1 == n;
        CHECK_EQ_INT(act.deliver, last);
        CHECK_EQ_MEM(act.peer, last ? src->pk : hops[i + 1]->pk, 32);
        CHECK_EQ_U64(act.out_len, last ? 0 : VEIL_ROUTE_SETUP_BYTES);
        memcpy(cell, out, sizeof cell);
        prev = hops[i]->pk;
    }
}

/* Sends one payload along the path; returns 0 when the destination got it. */
static int send_data(struct veil_route_onion *o, struct node *src, struct node **hops, size_t n,
                     const void *pl, size_t len, uint64_t now, veil_err *err)
{
    uint8_t cell[4096], out[4096];
    size_t cl;
    if (veil_route_onion_wrap(o, pl, len, cell, sizeof cell, &cl, err) != 0)
        return -1;
    const uint8_t *prev = src->pk;
    for (size_t i = 0; i < n; i++) {
        struct veil_route_action act;
        if (veil_route_relay_handle(&hops[i]->relay, prev, cell, cl, now, out, sizeof out, &act,
                                    err) != 0)
            return -1;
        if (act.deliver)
            return i + 1 == n && act.out_len == len && memcmp(out, pl, len) == 0 ? 0 : -1;
        memcpy(cell, out, act.out_len);
        cl = act.out_len;
        prev = hops[i]->pk;
    }
    return -1;
}

static void test_two_relays_end_to_end(void)
{
    static struct node s, r1, r2, d;
    node_init(&s, 1, NULL), node_init(&r1, 2, NULL), node_init(&r2, 3, NULL),
        node_init(&d, 4, NULL);
    struct node *hops[] = {&r1, &r2, &d};
    struct veil_route_onion o;
    setup_path(&o, &s, hops, 3, &roomy);
    veil_err err;
    /* walk the data cell by hand to look at what each relay sees */
    uint8_t c0[512], c1[512], c2[512], pt[512];
    size_t l0;
    struct veil_route_action a;
    CHECK_EQ_INT(
        veil_route_onion_wrap(&o, (const uint8_t *)secret, sizeof secret, c0, sizeof c0, &l0, &err),
        0);
    CHECK_EQ_U64(l0, VEIL_ROUTE_DATA_HEADER + sizeof secret + VEIL_ROUTE_LAYER_TAG);
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, c0, l0, 1, c1, sizeof c1, &a, &err), 0);
    CHECK(!a.deliver);
    size_t l1 = a.out_len;
    CHECK_EQ_INT(veil_route_relay_handle(&r2.relay, r1.pk, c1, l1, 1, c2, sizeof c2, &a, &err), 0);
    size_t l2 = a.out_len;
    /* one size on every hop (no position from the length); each relay's
     * layer changes the body */
    CHECK_EQ_U64(l1, l0);
    CHECK_EQ_U64(l2, l0);
    size_t body = l0 - VEIL_ROUTE_DATA_HEADER;
    CHECK(!contains(c1 + VEIL_ROUTE_DATA_HEADER, body, c0 + VEIL_ROUTE_DATA_HEADER, 8));
    CHECK(!contains(c2 + VEIL_ROUTE_DATA_HEADER, body, c1 + VEIL_ROUTE_DATA_HEADER, 8));
    CHECK_EQ_INT(veil_route_relay_handle(&d.relay, r2.pk, c2, l2, 1, pt, sizeof pt, &a, &err), 0);
    CHECK(a.deliver);
    CHECK_EQ_MEM(a.peer, s.pk, 32);
    CHECK_EQ_U64(a.out_len, sizeof secret);
    CHECK_EQ_MEM(pt, secret, sizeof secret);
    /* no relay input or output holds the plaintext */
    CHECK(!contains(c0, l0, "payroll", 7) && !contains(c1, l1, "payroll", 7) &&
          !contains(c2, l2, "payroll", 7));
    /* the second relay holds nothing about the source, the first nothing about the destination */
    CHECK(!contains((const uint8_t *)&r2.relay, sizeof r2.relay, s.pk, 32));
    CHECK(!contains((const uint8_t *)&r1.relay, sizeof r1.relay, d.pk, 32));
    /* a replayed cell is refused */
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, c0, l0, 2, c1, sizeof c1, &a, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PROTOCOL);
    /* many more in order */
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(send_data(&o, &s, hops, 3, secret, sizeof secret, 3, &err), 0);
    /* a payload that overlaps the cell it is wrapped into */
    memcpy(c0 + 5, secret, sizeof secret);
    CHECK_EQ_INT(veil_route_onion_wrap(&o, c0 + 5, sizeof secret, c0, sizeof c0, &l0, &err), 0);
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, c0, l0, 3, c1, sizeof c1, &a, &err), 0);
    CHECK_EQ_INT(veil_route_relay_handle(&r2.relay, r1.pk, c1, l0, 3, c2, sizeof c2, &a, &err), 0);
    CHECK_EQ_INT(veil_route_relay_handle(&d.relay, r2.pk, c2, l0, 3, pt, sizeof pt, &a, &err), 0);
    CHECK_EQ_U64(a.out_len, sizeof secret);
    CHECK_EQ_MEM(pt, secret, sizeof secret);
    /* a bit flipped before the first relay: both relays forward it (their
     * layers carry no tag), the destination refuses it */
    CHECK_EQ_INT(
        veil_route_onion_wrap(&o, (const uint8_t *)secret, sizeof secret, c0, sizeof c0, &l0, &err),
        0);
    c0[VEIL_ROUTE_DATA_HEADER + 3] ^= 0x20;
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, c0, l0, 4, c1, sizeof c1, &a, &err), 0);
    CHECK_EQ_INT(veil_route_relay_handle(&r2.relay, r1.pk, c1, l0, 4, c2, sizeof c2, &a, &err), 0);
    CHECK_EQ_INT(veil_route_relay_handle(&d.relay, r2.pk, c2, l0, 4, pt, sizeof pt, &a, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    CHECK(!contains(pt, sizeof pt, "payroll", 7)); /* nothing unauthenticated left */
    CHECK_EQ_INT(send_data(&o, &s, hops, 3, secret, sizeof secret, 4, &err), 0);
    veil_route_onion_wipe(&o);
    veil_route_relay_wipe(&r1.relay), veil_route_relay_wipe(&r2.relay);
    veil_route_relay_wipe(&d.relay), veil_route_relay_wipe(&s.relay);
}

/* AES-256-CTR by hand: block b of the keystream is AES-256(key,
 * 0^4 || ctr || be32(b)), XORed over buf. */
static void aes_ctr_by_blocks(const uint8_t key[32], uint64_t ctr, uint8_t *buf, size_t len)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CHECK(c != NULL);
    CHECK_EQ_INT(EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL), 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    for (size_t off = 0, b = 0; off < len; off += 16, b++) {
        uint8_t in[16] = {0}, ks[16];
        int n = 0;
        for (int i = 0; i < 8; i++)
            in[4 + i] = (uint8_t)(ctr >> (56 - 8 * i));
        in[12] = (uint8_t)(b >> 24), in[13] = (uint8_t)(b >> 16);
        in[14] = (uint8_t)(b >> 8), in[15] = (uint8_t)b;
        CHECK_EQ_INT(EVP_EncryptUpdate(c, ks, &n, in, sizeof in), 1);
        for (size_t i = 0; i < 16 && off + i < len; i++)
            buf[off + i] ^= ks[i];
    }
    EVP_CIPHER_CTX_free(c);
}

/* The wire format of a data cell through one relay, recomputed
 * independently: type | link id | counter | AES-256-CTR(relay key) over
 * ChaCha20-Poly1305(destination key, nonce 0^4 || counter, no AD). */
static void test_data_cell_construction(void)
{
    static struct node s, r1, d;
    node_init(&s, 1, NULL), node_init(&r1, 2, NULL), node_init(&d, 4, NULL);
    struct node *hops[] = {&r1, &d};
    struct veil_route_onion o;
    setup_path(&o, &s, hops, 2, &roomy);
    uint8_t pl[300], cell[512], want[512], nonce[12] = {0};
    for (size_t i = 0; i < sizeof pl; i++)
        pl[i] = (uint8_t)(i * 7);
    size_t len;
    veil_err err;
    for (int k = 0; k < 3; k++)
        CHECK_EQ_INT(veil_route_onion_wrap(&o, pl, sizeof pl, cell, sizeof cell, &len, &err), 0);
    uint64_t ctr = 0;
    for (int i = 0; i < 8; i++)
        ctr = ctr << 8 | cell[9 + i];
    CHECK_EQ_U64(ctr, 3);
    CHECK_EQ_INT(cell[0], VEIL_ROUTE_CELL_DATA);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(ctr >> (56 - 8 * i));
    unsigned long long wl = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(want, &wl, pl, sizeof pl, NULL, 0, NULL, nonce,
                                              o.keys[1]);
    CHECK_EQ_U64(wl, sizeof pl + VEIL_ROUTE_LAYER_TAG);
    aes_ctr_by_blocks(o.keys[0], ctr, want, (size_t)wl);
    CHECK_EQ_U64(len, VEIL_ROUTE_DATA_HEADER + wl);
    CHECK_EQ_MEM(cell + VEIL_ROUTE_DATA_HEADER, want, (size_t)wl);
    veil_route_onion_wipe(&o);
    veil_route_relay_wipe(&s.relay), veil_route_relay_wipe(&r1.relay);
    veil_route_relay_wipe(&d.relay);
}

static void test_refusals(void)
{
    static struct node s, r1, d, x;
    node_init(&s, 1, NULL), node_init(&r1, 2, NULL), node_init(&d, 4, NULL), node_init(&x, 9, NULL);
    struct veil_route_hop h[2];
    memcpy(h[0].identity, r1.pk, 32), memcpy(h[1].identity, d.pk, 32);
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES], out[VEIL_ROUTE_SETUP_BYTES];
    struct veil_route_onion o;
    struct veil_route_action a;
    veil_err err;
    CHECK_EQ_INT(veil_route_onion_build(&o, s.sk, h, 2, &roomy, cell, &err), 0);
    /* a node that is not the first hop cannot open the layer */
    CHECK_EQ_INT(
        veil_route_relay_handle(&x.relay, s.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    /* a tampered setup cell does not open */
    cell[40] ^= 1;
    CHECK_EQ_INT(
        veil_route_relay_handle(&r1.relay, s.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        -1);
    cell[40] ^= 1;
    /* wrong sizes and types */
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, cell, sizeof cell - 1, 0, out, sizeof out,
                                         &a, &err),
                 -1);
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, cell, 0, 0, out, sizeof out, &a, &err),
                 -1);
    uint8_t junk[40] = {7};
    CHECK_EQ_INT(
        veil_route_relay_handle(&r1.relay, s.pk, junk, sizeof junk, 0, out, sizeof out, &a, &err),
        -1);
    CHECK_EQ_INT(
        veil_route_relay_handle(&r1.relay, s.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        0);
    uint8_t fwd[VEIL_ROUTE_SETUP_BYTES];
    memcpy(fwd, out, sizeof fwd);
    CHECK_EQ_INT(
        veil_route_relay_handle(&d.relay, r1.pk, fwd, sizeof fwd, 0, out, sizeof out, &a, &err), 0);
    /* the same path id again from the same previous hop */
    CHECK_EQ_INT(
        veil_route_relay_handle(&r1.relay, s.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        -1);
    CHECK_EQ_INT(err.code, VEIL_E_EXISTS);
    /* data from another previous hop on that path id is unknown */
    uint8_t dc[256], dout[256];
    size_t dl;
    CHECK_EQ_INT(veil_route_onion_wrap(&o, (const uint8_t *)"x", 1, dc, sizeof dc, &dl, &err), 0);
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, x.pk, dc, dl, 0, dout, sizeof dout, &a, &err),
                 -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    /* tampered data: the relay cannot tell, the destination refuses it */
    dc[dl - 1] ^= 1;
    CHECK_EQ_INT(veil_route_relay_handle(&r1.relay, s.pk, dc, dl, 0, dout, sizeof dout, &a, &err),
                 0);
    CHECK(!a.deliver);
    uint8_t pt[256];
    CHECK_EQ_INT(
        veil_route_relay_handle(&d.relay, r1.pk, dout, a.out_len, 0, pt, sizeof pt, &a, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    veil_route_onion_wipe(&o);
    CHECK_EQ_INT(veil_route_onion_build(&o, s.sk, h, 0, &roomy, cell, &err), -1);
    veil_route_onion_wipe(&o);
    veil_route_relay_wipe(&s.relay), veil_route_relay_wipe(&r1.relay);
    veil_route_relay_wipe(&d.relay), veil_route_relay_wipe(&x.relay);
}

/* A member that builds a path naming another member as its source: the
 * relay cannot tell (it learns no endpoint), the destination refuses the
 * setup because the source's MAC in its layer was not made with the named
 * source's key; the same member naming itself is accepted. */
static void test_source_authenticated(void)
{
    static struct node x, m, r1, d;
    node_init(&x, 1, NULL), node_init(&m, 5, NULL), node_init(&r1, 2, NULL),
        node_init(&d, 4, NULL);
    uint8_t forged[64]; /* m's secret scalar, x's identity: what m can claim */
    memcpy(forged, m.sk, 32);
    memcpy(forged + 32, x.pk, 32);
    struct veil_route_hop h[2];
    memcpy(h[0].identity, r1.pk, 32), memcpy(h[1].identity, d.pk, 32);
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES], out[VEIL_ROUTE_SETUP_BYTES];
    struct veil_route_onion o;
    struct veil_route_action a;
    veil_err err;
    /* through a relay */
    CHECK_EQ_INT(veil_route_onion_build(&o, forged, h, 2, &roomy, cell, &err), 0);
    CHECK_EQ_INT(
        veil_route_relay_handle(&r1.relay, m.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        0);
    CHECK(!a.deliver);
    CHECK_EQ_INT(
        veil_route_relay_handle(&d.relay, r1.pk, out, a.out_len, 0, cell, sizeof cell, &a, &err),
        -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    CHECK(strstr(err.msg, "not authenticated") != NULL);
    CHECK_EQ_U64(veil_route_relay_count(&d.relay), 0);
    /* straight to the destination */
    veil_route_onion_wipe(&o);
    CHECK_EQ_INT(veil_route_onion_build(&o, forged, h + 1, 1, &roomy, cell, &err), 0);
    CHECK_EQ_INT(
        veil_route_relay_handle(&d.relay, m.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    CHECK_EQ_U64(veil_route_relay_count(&d.relay), 0);
    /* m as itself is accepted, and named as the source */
    veil_route_onion_wipe(&o);
    CHECK_EQ_INT(veil_route_onion_build(&o, m.sk, h + 1, 1, &roomy, cell, &err), 0);
    CHECK_EQ_INT(
        veil_route_relay_handle(&d.relay, m.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        0);
    CHECK(a.deliver);
    CHECK_EQ_MEM(a.peer, m.pk, 32);
    veil_route_onion_wipe(&o);
    veil_memzero(forged, sizeof forged);
    veil_route_relay_wipe(&r1.relay), veil_route_relay_wipe(&d.relay);
    veil_route_relay_wipe(&x.relay), veil_route_relay_wipe(&m.relay);
}

/* Cells that overtake each other (a source's overlay threads send batches
 * of 64 concurrently) are accepted up to 960 counters back, once each;
 * older ones are refused as stale. */
static void test_reorder_window(void)
{
    static struct node s, d;
    node_init(&s, 1, NULL), node_init(&d, 4, NULL);
    struct node *hops[] = {&d};
    struct veil_route_onion o;
    setup_path(&o, &s, hops, 1, &roomy);
    enum { N = 1200, CELL = VEIL_ROUTE_DATA_HEADER + 8 + VEIL_ROUTE_LAYER_TAG };
    static uint8_t cells[N][CELL];
    uint8_t out[64];
    size_t len;
    struct veil_route_action a;
    veil_err err;
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(veil_route_onion_wrap(&o, (const uint8_t *)"reorder", 8, cells[i], CELL, &len,
                                           &err),
                     0);
#define DELIVER(i)                                                                                 \
    veil_route_relay_handle(&d.relay, s.pk, cells[i], CELL, 1, out, sizeof out, &a, &err)
    /* the second batch of 64 overtakes the first */
    for (int i = 64; i < 128; i++)
        CHECK_EQ_INT(DELIVER(i), 0);
    for (int i = 0; i < 64; i++)
        CHECK_EQ_INT(DELIVER(i), 0);
    CHECK_EQ_INT(DELIVER(5), -1); /* once each */
    CHECK_EQ_INT(err.code, VEIL_E_PROTOCOL);
    /* far ahead, then back: 950 behind is still fresh, 1000 behind is stale */
    CHECK_EQ_INT(DELIVER(1100), 0);
    CHECK_EQ_INT(DELIVER(1100 - 950), 0);
    CHECK_EQ_INT(DELIVER(1100 - 950), -1);
    CHECK_EQ_INT(DELIVER(1100 - 1000), -1);
    for (int i = 1101; i < N; i++)
        CHECK_EQ_INT(DELIVER(i), 0);
    CHECK_EQ_INT(DELIVER(1100), -1);
#undef DELIVER
    veil_route_onion_wipe(&o);
    veil_route_relay_wipe(&d.relay), veil_route_relay_wipe(&s.relay);
}

static void test_limits(void)
{
    struct veil_route_relay_config cfg;
    veil_route_relay_config_default(&cfg);
    cfg.max_paths_per_prev = 2;
    cfg.cap.rate_bytes_s = 1000;
    cfg.cap.max_bytes = 2400; /* five 416-byte cells, not six */
    cfg.cap.idle_ms = 500;
    static struct node s, r1, d;
    node_init(&s, 1, NULL), node_init(&r1, 2, &cfg), node_init(&d, 4, NULL);
    struct node *hops[] = {&r1, &d};
    struct veil_route_onion o1, o2, o3;
    setup_path(&o1, &s, hops, 2, &roomy);
    setup_path(&o2, &s, hops, 2, &roomy);
    /* a third path from the same previous hop is refused */
    struct veil_route_hop h[2];
    memcpy(h[0].identity, r1.pk, 32), memcpy(h[1].identity, d.pk, 32);
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES], out[VEIL_ROUTE_SETUP_BYTES];
    struct veil_route_action a;
    veil_err err;
    CHECK_EQ_INT(veil_route_onion_build(&o3, s.sk, h, 2, &roomy, cell, &err), 0);
    CHECK_EQ_INT(
        veil_route_relay_handle(&r1.relay, s.pk, cell, sizeof cell, 0, out, sizeof out, &a, &err),
        -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_EQ_U64(veil_route_relay_count(&r1.relay), 2);
    /* rate: 1000 bytes per second with a one-second burst */
    uint8_t pl[400] = {0};
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 100, &err), 0);
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 100, &err), 0);
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 100, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 500, &err), 0);
    /* byte budget: 2400 bytes over the path's life */
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 900, &err), 0);
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 1300, &err), 0);
    CHECK_EQ_INT(send_data(&o1, &s, hops, 2, pl, sizeof pl, 3000, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    /* idle retirement: o2 idle since 0, o1 used at 1300 */
    CHECK_EQ_U64(veil_route_relay_expire(&r1.relay, 1000), 1);
    CHECK_EQ_U64(veil_route_relay_count(&r1.relay), 1);
    CHECK_EQ_INT(send_data(&o2, &s, hops, 2, pl, 10, 1000, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_U64(veil_route_relay_expire(&r1.relay, 2000), 1);
    CHECK_EQ_U64(veil_route_relay_count(&r1.relay), 0);
    veil_route_onion_wipe(&o1), veil_route_onion_wipe(&o2), veil_route_onion_wipe(&o3);
    veil_route_relay_wipe(&s.relay), veil_route_relay_wipe(&r1.relay);
    veil_route_relay_wipe(&d.relay);
}

static void cred(struct veil_anchor_cred_info *c, const char *realm, const char *t1, const char *t2)
{
    memset(c, 0, sizeof *c);
    strcpy(c->realm, realm);
    if (t1)
        strcpy(c->taints[c->n_taints++], t1);
    if (t2)
        strcpy(c->taints[c->n_taints++], t2);
}

static void test_relay_policy(void)
{
    struct veil_anchor_cred_info src, dst, relay;
    cred(&src, "acme", NULL, NULL);
    cred(&dst, "acme", NULL, NULL);
    cred(&relay, "acme", NULL, NULL);
    CHECK(veil_route_relay_allowed(&src, &relay, &dst, true));
    CHECK(!veil_route_relay_allowed(&src, &relay, &dst, false)); /* not willing */
    cred(&relay, "other", NULL, NULL);
    CHECK(!veil_route_relay_allowed(&src, &relay, &dst, true)); /* another realm */
    cred(&src, "acme", "pci", NULL);
    cred(&dst, "acme", "pci", "eu");
    cred(&relay, "acme", "pci", NULL);
    CHECK(veil_route_relay_allowed(&src, &relay, &dst, true));
    cred(&relay, "acme", "gpu", NULL); /* neither set contains the other's */
    CHECK(!veil_route_relay_allowed(&src, &relay, &dst, true));
}

static void test_nat_plan(void)
{
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_NONE, VEIL_ROUTE_NAT_SYMMETRIC),
                 VEIL_ROUTE_PLAN_DIRECT);
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_CONE, VEIL_ROUTE_NAT_NONE),
                 VEIL_ROUTE_PLAN_DIRECT);
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_CONE, VEIL_ROUTE_NAT_CONE),
                 VEIL_ROUTE_PLAN_PUNCH);
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_CONE, VEIL_ROUTE_NAT_SYMMETRIC),
                 VEIL_ROUTE_PLAN_RELAY);
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_SYMMETRIC, VEIL_ROUTE_NAT_SYMMETRIC),
                 VEIL_ROUTE_PLAN_RELAY);
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_UNKNOWN, VEIL_ROUTE_NAT_CONE),
                 VEIL_ROUTE_PLAN_RELAY);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    static const struct vtest_case cases[] = {
        VTEST(test_two_relays_end_to_end),
        VTEST(test_data_cell_construction),
        VTEST(test_refusals),
        VTEST(test_source_authenticated),
        VTEST(test_reorder_window),
        VTEST(test_limits),
        VTEST(test_relay_policy),
        VTEST(test_nat_plan),
    };
    return vtest_run(cases, VEIL_ARRAY_LEN(cases), argc, argv);
}
