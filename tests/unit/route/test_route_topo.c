// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_topo.c - the `topo` summary codec (src/route/topo.c): round
 * trip, one canonical encoding, and refusal of every malformed input
 * (truncation at each length, trailing bytes, unknown flags or version,
 * unsorted or duplicate links, a link to itself, loss over 100%).
 */
#include <string.h>

#include "veil/route.h"
#include "vtest.h"

static void sample(struct veil_route_topo *t)
{
    memset(t, 0, sizeof *t);
    memset(t->node, 0x55, 32);
    t->seq = 42;
    t->relay_willing = true;
    t->nat = VEIL_ROUTE_NAT_CONE;
    t->addr_len = 6;
    memcpy(t->addr, "\xc0\x00\x02\x01\x1f\x90", 6);
    t->n_links = 3;
    for (size_t i = 0; i < 3; i++) {
        memset(t->links[i].peer, (int)(0x10 + i), 32);
        t->links[i].rtt_us = 1000 * (uint32_t)(i + 1);
        t->links[i].loss_ppm = 100 * (uint32_t)i;
        t->links[i].tput_kbps = 9000;
    }
}

static int encode(const struct veil_route_topo *t, veil_buf *b)
{
    veil_buf_init(b);
    return veil_route_topo_encode(t, b, NULL);
}

static void test_round_trip(void)
{
    struct veil_route_topo t, u;
    veil_buf b, b2;
    sample(&t);
    CHECK_EQ_INT(encode(&t, &b), 0);
    CHECK_EQ_U64(b.len, 4 + 32 + 8 + 3 + 6 + 1 + 3 * 44);
    CHECK_EQ_INT(veil_route_topo_decode(&u, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(encode(&u, &b2), 0);
    CHECK_EQ_U64(b2.len, b.len);
    CHECK_EQ_MEM(b2.data, b.data, b.len);
    CHECK(u.relay_willing && u.nat == VEIL_ROUTE_NAT_CONE && u.seq == 42 && u.n_links == 3);
    uint8_t peer[32];
    memset(peer, 0x11, 32);
    const struct veil_route_link *l = veil_route_topo_link(&u, peer);
    CHECK(l && l->rtt_us == 2000);
    memset(peer, 0x99, 32);
    CHECK(veil_route_topo_link(&u, peer) == NULL);
    veil_buf_free(&b), veil_buf_free(&b2);
}

static void test_malformed(void)
{
    struct veil_route_topo t, u;
    veil_buf b;
    veil_err err;
    sample(&t);
    CHECK_EQ_INT(encode(&t, &b), 0);
    for (size_t n = 0; n < b.len; n++)
        CHECK_EQ_INT(veil_route_topo_decode(&u, b.data, n, NULL), -1);
    uint8_t big[VEIL_ROUTE_TOPO_MAX_BYTES + 2];
    memcpy(big, b.data, b.len);
    big[b.len] = 0;
    CHECK_EQ_INT(veil_route_topo_decode(&u, big, b.len + 1, &err), -1);
    CHECK_CONTAINS(err.msg, "trailing");
    memcpy(big, b.data, b.len);
    big[3] = 2; /* version */
    CHECK_EQ_INT(veil_route_topo_decode(&u, big, b.len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
    memcpy(big, b.data, b.len);
    big[44] = 3; /* unknown flag bit */
    CHECK_EQ_INT(veil_route_topo_decode(&u, big, b.len, NULL), -1);
    memcpy(big, b.data, b.len);
    big[45] = 4; /* NAT kind */
    CHECK_EQ_INT(veil_route_topo_decode(&u, big, b.len, NULL), -1);
    veil_buf_free(&b);
    /* semantic rules, checked on encode and decode alike */
    sample(&t);
    t.links[1] = t.links[0]; /* duplicate */
    CHECK_EQ_INT(encode(&t, &b), -1);
    veil_buf_free(&b);
    sample(&t);
    memcpy(t.links[2].peer, t.node, 32); /* itself */
    CHECK_EQ_INT(encode(&t, &b), -1);
    veil_buf_free(&b);
    sample(&t);
    t.links[0].loss_ppm = 1000001;
    CHECK_EQ_INT(encode(&t, &b), -1);
    veil_buf_free(&b);
    sample(&t);
    t.n_links = VEIL_ROUTE_TOPO_LINKS_MAX + 1;
    CHECK_EQ_INT(encode(&t, &b), -1);
    veil_buf_free(&b);
    /* unsorted links on the wire */
    sample(&t);
    CHECK_EQ_INT(encode(&t, &b), 0);
    size_t first = 4 + 32 + 8 + 3 + 6 + 1;
    memset(b.data + first, 0x13, 1);
    CHECK_EQ_INT(veil_route_topo_decode(&u, b.data, b.len, &err), -1);
    CHECK_CONTAINS(err.msg, "sorted");
    veil_buf_free(&b);
}

VTEST_MAIN(VTEST(test_round_trip), VTEST(test_malformed))
