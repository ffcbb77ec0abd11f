// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_probe.c - the routing probe codec of `veil conflux up --tun`
 * (src/route/probe.c): asks and answers round-trip; truncations at every
 * length, trailing bytes, a wrong kind or type, an address on an ask and an
 * address longer than 64 bytes are refused.
 */
#include <string.h>

#include "veil/route.h"
#include "vtest.h"

static void test_round_trip(void)
{
    struct veil_route_probe p = {.type = VEIL_ROUTE_PROBE_ANSWER,
                                 .nonce = 0x0102030405060708ull,
                                 .addr_len = 16},
                            q;
    uint8_t buf[VEIL_ROUTE_PROBE_MAX_BYTES + 1];
    size_t n;
    memset(p.addr, 0xab, 16);
    CHECK_EQ_INT(veil_route_probe_encode(&p, buf, sizeof buf, &n, NULL), 0);
    CHECK_EQ_U64(n, 10 + 1 + 16);
    CHECK_EQ_INT(buf[0], VEIL_OVERLAY_KIND_PROBE);
    CHECK_EQ_INT(buf[2], 1); /* big-endian nonce */
    CHECK_EQ_INT(veil_route_probe_decode(&q, buf, n, NULL), 0);
    CHECK_EQ_U64(q.nonce, p.nonce);
    CHECK_EQ_U64(q.addr_len, 16);
    CHECK_EQ_MEM(q.addr, p.addr, 16);
    for (size_t k = 0; k < n; k++)
        CHECK_EQ_INT(veil_route_probe_decode(&q, buf, k, NULL), -1);
    buf[n] = 0;
    CHECK_EQ_INT(veil_route_probe_decode(&q, buf, n + 1, NULL), -1);
    struct veil_route_probe ask = {.type = VEIL_ROUTE_PROBE_ASK, .nonce = 7};
    CHECK_EQ_INT(veil_route_probe_encode(&ask, buf, sizeof buf, &n, NULL), 0);
    CHECK_EQ_U64(n, 10);
    CHECK_EQ_INT(veil_route_probe_decode(&q, buf, n, NULL), 0);
    CHECK_EQ_INT(q.type, VEIL_ROUTE_PROBE_ASK);
    CHECK_EQ_U64(q.addr_len, 0);
}

static void test_refused(void)
{
    struct veil_route_probe p = {.type = VEIL_ROUTE_PROBE_ASK, .addr_len = 4}, q;
    uint8_t buf[VEIL_ROUTE_PROBE_MAX_BYTES + 8];
    size_t n;
    veil_err err = {0};
    CHECK_EQ_INT(veil_route_probe_encode(&p, buf, sizeof buf, &n, &err), -1); /* ask + address */
    p.type = 3;
    CHECK_EQ_INT(veil_route_probe_encode(&p, buf, sizeof buf, &n, NULL), -1);
    p.type = VEIL_ROUTE_PROBE_ANSWER;
    p.addr_len = VEIL_ANCHOR_ADDR_MAX + 1;
    CHECK_EQ_INT(veil_route_probe_encode(&p, buf, sizeof buf, &n, NULL), -1);
    p.addr_len = 4;
    CHECK_EQ_INT(veil_route_probe_encode(&p, buf, 12, &n, NULL), -1); /* too small */
    CHECK_EQ_INT(veil_route_probe_encode(&p, buf, sizeof buf, &n, NULL), 0);
    buf[0] = VEIL_OVERLAY_KIND_CELL;
    CHECK_EQ_INT(veil_route_probe_decode(&q, buf, n, NULL), -1);
    buf[0] = VEIL_OVERLAY_KIND_PROBE;
    buf[1] = 9;
    CHECK_EQ_INT(veil_route_probe_decode(&q, buf, n, NULL), -1);
    buf[1] = VEIL_ROUTE_PROBE_ANSWER;
    buf[10] = VEIL_ANCHOR_ADDR_MAX + 1; /* address length over the limit */
    CHECK_EQ_INT(veil_route_probe_decode(&q, buf, sizeof buf, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
}

VTEST_MAIN(VTEST(test_round_trip), VTEST(test_refused))
