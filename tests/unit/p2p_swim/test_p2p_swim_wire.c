// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_swim_wire.c - the /veil/swim/1.0.0 message codec: round trips of
 * every message and update kind, and rejection of malformed input (every
 * truncation, bad version/type/kind/state, oversize fields and counts,
 * non-minimal varints, trailing bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "swim_wire.h"
#include "vtest.h"

static const uint8_t ID_A[] = "node-a";
static const uint8_t ID_B[] = "node-bb";
static const uint8_t ADDR[] = {0x04, 127, 0, 0, 1, 0x06, 0x1f, 0x90};

static void put_sample_updates(veil_buf *b)
{
    veil_buf_put_uvarint(b, 3);
    struct swim_update alive = {.kind = SWIM_UPD_ALIVE,
                                .id = {ID_A, 6},
                                .addr = {ADDR, sizeof ADDR},
                                .meta = {(const uint8_t *)"zone=x", 6},
                                .incarnation = 7};
    struct swim_update suspect = {
        .kind = SWIM_UPD_SUSPECT, .id = {ID_B, 7}, .from = {ID_A, 6}, .incarnation = 0xffffffffu};
    struct swim_update dead = {
        .kind = SWIM_UPD_DEAD, .id = {ID_B, 7}, .from = {ID_B, 7}, .incarnation = 3};
    swim_put_update(b, &alive);
    swim_put_update(b, &suspect);
    swim_put_update(b, &dead);
}

static void check_sample_updates(struct swim_msg *m)
{
    CHECK_EQ_INT(m->n_updates, 3);
    struct swim_update u;
    CHECK(swim_msg_next_update(m, &u));
    CHECK_EQ_INT(u.kind, SWIM_UPD_ALIVE);
    CHECK_EQ_INT(u.id.len, 6);
    CHECK_EQ_MEM(u.id.p, ID_A, 6);
    CHECK_EQ_INT(u.addr.len, sizeof ADDR);
    CHECK_EQ_MEM(u.addr.p, ADDR, sizeof ADDR);
    CHECK_EQ_INT(u.meta.len, 6);
    CHECK_EQ_U64(u.incarnation, 7);
    CHECK(swim_msg_next_update(m, &u));
    CHECK_EQ_INT(u.kind, SWIM_UPD_SUSPECT);
    CHECK_EQ_MEM(u.id.p, ID_B, 7);
    CHECK_EQ_MEM(u.from.p, ID_A, 6);
    CHECK_EQ_U64(u.incarnation, 0xffffffffu);
    CHECK(swim_msg_next_update(m, &u));
    CHECK_EQ_INT(u.kind, SWIM_UPD_DEAD);
    CHECK_EQ_U64(u.incarnation, 3);
    CHECK_EQ_MEM(u.from.p, ID_B, 7);
    CHECK(!swim_msg_next_update(m, &u));
}

static void test_ping_round_trip(void)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING);
    swim_put_ping(&b, 123456, ID_B, 7);
    put_sample_updates(&b);
    CHECK(veil_buf_ok(&b));
    struct swim_msg m;
    veil_err err;
    CHECK_EQ_INT(swim_msg_decode(&m, b.data, b.len, &err), 0);
    CHECK_EQ_INT(m.type, SWIM_MSG_PING);
    CHECK_EQ_U64(m.seq, 123456);
    CHECK_EQ_INT(m.target_id.len, 7);
    CHECK_EQ_MEM(m.target_id.p, ID_B, 7);
    check_sample_updates(&m);
    veil_buf_free(&b);
}

static void test_ack_nack_gossip_round_trip(void)
{
    const enum swim_msg_type types[] = {SWIM_MSG_ACK, SWIM_MSG_NACK};
    for (size_t i = 0; i < 2; i++) {
        veil_buf b;
        veil_buf_init(&b);
        swim_put_header(&b, types[i]);
        swim_put_seq(&b, 0xfffffffeu);
        veil_buf_put_uvarint(&b, 0);
        struct swim_msg m;
        CHECK_EQ_INT(swim_msg_decode(&m, b.data, b.len, NULL), 0);
        CHECK_EQ_INT(m.type, types[i]);
        CHECK_EQ_U64(m.seq, 0xfffffffeu);
        CHECK_EQ_INT(m.n_updates, 0);
        veil_buf_free(&b);
    }
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_GOSSIP);
    put_sample_updates(&b);
    struct swim_msg m;
    CHECK_EQ_INT(swim_msg_decode(&m, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(m.type, SWIM_MSG_GOSSIP);
    check_sample_updates(&m);
    veil_buf_free(&b);
}

static void test_ping_req_round_trip(void)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING_REQ);
    swim_put_ping_req(&b, 9, ID_A, 6, ADDR, sizeof ADDR);
    veil_buf_put_uvarint(&b, 0);
    struct swim_msg m;
    CHECK_EQ_INT(swim_msg_decode(&m, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(m.type, SWIM_MSG_PING_REQ);
    CHECK_EQ_U64(m.seq, 9);
    CHECK_EQ_MEM(m.target_id.p, ID_A, 6);
    CHECK_EQ_INT(m.target_addr.len, sizeof ADDR);
    CHECK_EQ_MEM(m.target_addr.p, ADDR, sizeof ADDR);
    veil_buf_free(&b);
}

static void build_push_pull(veil_buf *b, size_t n)
{
    swim_put_header(b, SWIM_MSG_PUSH_PULL);
    veil_buf_put_u8(b, SWIM_PP_JOIN);
    veil_buf_put_uvarint(b, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t id[8] = {'m', (uint8_t)i};
        struct swim_member_rec rec = {.id = {id, 2},
                                      .addr = {ADDR, sizeof ADDR},
                                      .meta = {NULL, 0},
                                      .incarnation = (uint32_t)i,
                                      .state = (enum veil_swim_state)(i % 4)};
        swim_put_member(b, &rec);
    }
    veil_buf_put_uvarint(b, 0);
}

static void test_push_pull_round_trip(void)
{
    veil_buf b;
    veil_buf_init(&b);
    build_push_pull(&b, 10);
    struct swim_msg m;
    CHECK_EQ_INT(swim_msg_decode(&m, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(m.type, SWIM_MSG_PUSH_PULL);
    CHECK_EQ_INT(m.pp_flags, SWIM_PP_JOIN);
    CHECK_EQ_INT(m.n_members, 10);
    struct swim_member_rec rec;
    for (size_t i = 0; i < 10; i++) {
        CHECK(swim_msg_next_member(&m, &rec));
        CHECK_EQ_INT(rec.id.len, 2);
        CHECK_EQ_INT(rec.id.p[1], i);
        CHECK_EQ_U64(rec.incarnation, i);
        CHECK_EQ_INT(rec.state, i % 4);
        CHECK_EQ_INT(rec.meta.len, 0);
    }
    CHECK(!swim_msg_next_member(&m, &rec));
    veil_buf_free(&b);
}

/* Every strict prefix of a valid message must be rejected. */
static void test_every_truncation_rejected(void)
{
    veil_buf b;
    veil_buf_init(&b);
    swim_put_header(&b, SWIM_MSG_PING);
    swim_put_ping(&b, 77, ID_B, 7);
    put_sample_updates(&b);
    for (size_t len = 0; len < b.len; len++) {
        struct swim_msg m;
        veil_err err;
        CHECK_EQ_INT(swim_msg_decode(&m, b.data, len, &err), -1);
    }
    veil_buf_reset(&b);
    build_push_pull(&b, 3);
    for (size_t len = 0; len < b.len; len++) {
        struct swim_msg m;
        CHECK_EQ_INT(swim_msg_decode(&m, b.data, len, NULL), -1);
    }
    veil_buf_free(&b);
}

static void expect_reject(const uint8_t *data, size_t len, const char *needle)
{
    struct swim_msg m;
    veil_err err;
    veil_err_clear(&err);
    CHECK_EQ_INT(swim_msg_decode(&m, data, len, &err), -1);
    CHECK_CONTAINS(err.msg, needle);
}

static void test_malformed_rejected(void)
{
    /* version 2 */
    expect_reject((const uint8_t[]){2, SWIM_MSG_ACK, 1, 0}, 4, "version");
    /* unknown type */
    expect_reject((const uint8_t[]){1, 99, 1, 0}, 4, "unknown message type");
    /* trailing byte */
    expect_reject((const uint8_t[]){1, SWIM_MSG_ACK, 1, 0, 0}, 5, "trailing");
    /* seq above 32 bits (2^32 as uvarint: 80 80 80 80 10) */
    expect_reject((const uint8_t[]){1, SWIM_MSG_ACK, 0x80, 0x80, 0x80, 0x80, 0x10, 0}, 8,
                  "malformed body");
    /* non-minimal varint seq (0x81 0x00) */
    expect_reject((const uint8_t[]){1, SWIM_MSG_ACK, 0x81, 0x00, 0}, 5, "malformed body");
    /* empty target id */
    expect_reject((const uint8_t[]){1, SWIM_MSG_PING, 1, 0, 0}, 5, "malformed body");
    /* target id longer than the limit (65 bytes) */
    {
        uint8_t buf[80] = {1, SWIM_MSG_PING, 1, 65};
        expect_reject(buf, 4 + 65 + 1, "malformed body");
    }
    /* unknown update kind */
    expect_reject((const uint8_t[]){1, SWIM_MSG_GOSSIP, 1, 9, 1, 'x'}, 6, "update 0");
    /* too many piggybacked updates */
    expect_reject((const uint8_t[]){1, SWIM_MSG_GOSSIP, 0x81, 0x02}, 4, "piggybacked updates");
    /* unknown state-sync flag */
    expect_reject((const uint8_t[]){1, SWIM_MSG_PUSH_PULL, 0x80, 0, 0}, 5, "flags");
    /* too many members */
    expect_reject((const uint8_t[]){1, SWIM_MSG_PUSH_PULL, 0, 0x81, 0x40, 0}, 6, "members");
    /* member with state 4 */
    expect_reject((const uint8_t[]){1, SWIM_MSG_PUSH_PULL, 0, 1, 1, 'a', 0, 0, 0, 4, 0}, 11,
                  "member 0");
    /* meta over 512 bytes */
    {
        uint8_t *buf = calloc(1, 600);
        size_t n = 0;
        buf[n++] = 1;
        buf[n++] = SWIM_MSG_GOSSIP;
        buf[n++] = 1;
        buf[n++] = SWIM_UPD_ALIVE;
        buf[n++] = 1;
        buf[n++] = 'a';
        buf[n++] = 0;
        buf[n++] = 0x81; /* 513 */
        buf[n++] = 0x04;
        expect_reject(buf, n + 513 + 1, "update 0");
        free(buf);
    }
    /* oversize message */
    {
        size_t big = VEIL_SWIM_FRAME_MAX + 1;
        uint8_t *buf = calloc(1, big);
        buf[0] = 1;
        buf[1] = SWIM_MSG_GOSSIP;
        expect_reject(buf, big, "exceeds");
        free(buf);
    }
    expect_reject(NULL, 0, "truncated");
}

VTEST_MAIN(VTEST(test_ping_round_trip), VTEST(test_ack_nack_gossip_round_trip),
           VTEST(test_ping_req_round_trip), VTEST(test_push_pull_round_trip),
           VTEST(test_every_truncation_rejected), VTEST(test_malformed_rejected))
