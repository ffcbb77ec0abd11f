// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_signal.c - NAT traversal decisions and signalling
 * (src/route/signal.c, policy.c): a node classifies its NAT from the
 * reflexive addresses its peers report; a pair of cone NATs punches, a pair
 * with a symmetric NAT falls back to a relay; the `path` subject's signal
 * codec round-trips and refuses malformed input.
 */
#include <string.h>

#include "veil/route.h"
#include "vtest.h"

static void reflex(struct veil_route_reflex *r, const char *a)
{
    r->addr_len = strlen(a);
    memcpy(r->addr, a, r->addr_len);
}

static void test_classify(void)
{
    struct veil_route_reflex seen[3];
    const char *local = "10.0.0.2:4000";
    /* peers see the bound address: no NAT */
    reflex(&seen[0], local), reflex(&seen[1], local);
    CHECK_EQ_INT(veil_route_nat_classify((const uint8_t *)local, strlen(local), seen, 2),
                 VEIL_ROUTE_NAT_NONE);
    /* every peer sees one mapped address: cone (punchable) */
    reflex(&seen[0], "198.51.100.7:61000"), reflex(&seen[1], "198.51.100.7:61000");
    reflex(&seen[2], "198.51.100.7:61000");
    CHECK_EQ_INT(veil_route_nat_classify((const uint8_t *)local, strlen(local), seen, 3),
                 VEIL_ROUTE_NAT_CONE);
    CHECK_EQ_INT(veil_route_nat_classify((const uint8_t *)local, strlen(local), seen, 1),
                 VEIL_ROUTE_NAT_UNKNOWN);
    /* a new mapping per peer: symmetric */
    reflex(&seen[2], "198.51.100.7:61003");
    enum veil_route_nat sym =
        veil_route_nat_classify((const uint8_t *)local, strlen(local), seen, 3);
    CHECK_EQ_INT(sym, VEIL_ROUTE_NAT_SYMMETRIC);
    CHECK_EQ_INT(veil_route_nat_classify((const uint8_t *)local, strlen(local), seen, 0),
                 VEIL_ROUTE_NAT_UNKNOWN);
    /* the symmetric-NAT pair falls back to a relay; two cones punch */
    CHECK_EQ_INT(veil_route_nat_plan(sym, VEIL_ROUTE_NAT_CONE), VEIL_ROUTE_PLAN_RELAY);
    CHECK_EQ_INT(veil_route_nat_plan(VEIL_ROUTE_NAT_CONE, VEIL_ROUTE_NAT_CONE),
                 VEIL_ROUTE_PLAN_PUNCH);
}

static void sample(struct veil_route_signal *s)
{
    memset(s, 0, sizeof *s);
    s->type = VEIL_ROUTE_SIG_PUNCH_OFFER;
    memset(s->src, 1, 32), memset(s->dst, 2, 32);
    s->nonce = 77;
    s->at_ms = 123456;
    s->nat = VEIL_ROUTE_NAT_CONE;
    s->addr_len = 6;
    memcpy(s->addr, "\xc6\x33\x64\x07\xee\x48", 6);
}

static void test_signal_codec(void)
{
    struct veil_route_signal s, u;
    veil_buf b, b2;
    veil_err err;
    sample(&s);
    veil_buf_init(&b), veil_buf_init(&b2);
    CHECK_EQ_INT(veil_route_signal_encode(&s, &b, &err), 0);
    CHECK_EQ_U64(b.len, 4 + 1 + 64 + 16 + 2 + 6);
    CHECK_EQ_INT(veil_route_signal_decode(&u, b.data, b.len, &err), 0);
    CHECK_EQ_INT(veil_route_signal_encode(&u, &b2, &err), 0);
    CHECK(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0);
    for (size_t n = 0; n < b.len; n++)
        CHECK_EQ_INT(veil_route_signal_decode(&u, b.data, n, NULL), -1);
    uint8_t m[VEIL_ROUTE_SIGNAL_MAX_BYTES + 1];
    memcpy(m, b.data, b.len);
    m[b.len] = 0;
    CHECK_EQ_INT(veil_route_signal_decode(&u, m, b.len + 1, &err), -1);
    memcpy(m, b.data, b.len);
    m[4] = 9; /* type */
    CHECK_EQ_INT(veil_route_signal_decode(&u, m, b.len, NULL), -1);
    memcpy(m, b.data, b.len);
    m[4 + 1 + 64 + 16] = 7; /* nat */
    CHECK_EQ_INT(veil_route_signal_decode(&u, m, b.len, NULL), -1);
    memcpy(m, b.data, b.len);
    m[3] = 2; /* version */
    CHECK_EQ_INT(veil_route_signal_decode(&u, m, b.len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
    sample(&s);
    memcpy(s.dst, s.src, 32); /* to itself */
    veil_buf_reset(&b);
    CHECK_EQ_INT(veil_route_signal_encode(&s, &b, &err), -1);
    veil_buf_free(&b), veil_buf_free(&b2);
}

VTEST_MAIN(VTEST(test_classify), VTEST(test_signal_codec))
