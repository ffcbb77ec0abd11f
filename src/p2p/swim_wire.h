// SPDX-License-Identifier: Apache-2.0
/*
 * swim_wire.h - the binary message format of /veil/swim/1.0.0 (private to
 * the SWIM module; owned by src/p2p/swim_wire.c).
 *
 * Every message:  u8 version (1) | u8 type | body | piggyback
 *   PING      uvarint seq | lp target_id
 *   ACK       uvarint seq
 *   NACK      uvarint seq
 *   PING_REQ  uvarint seq | lp target_id | lp target_addr
 *   PUSH_PULL u8 flags (1 = join, 2 = reply) | uvarint n | n x member
 *   GOSSIP    (empty: piggyback only)
 *   member    lp id | lp addr | lp meta | uvarint incarnation | u8 state
 *   piggyback uvarint n | n x update
 *   update    u8 kind: 1 ALIVE  lp id | lp addr | lp meta | uvarint incarnation
 *                      2 SUSPECT lp id | uvarint incarnation | lp from
 *                      3 DEAD    lp id | uvarint incarnation | lp from (from == id: left)
 * lp = uvarint length then bytes. seq and incarnation fit in 32 bits. Every
 * length is bounded (VEIL_SWIM_*_MAX), trailing bytes are an error.
 * On a libp2p stream each message travels as a uvarint-length-prefixed frame.
 */
#ifndef VEIL_P2P_SWIM_WIRE_H
#define VEIL_P2P_SWIM_WIRE_H

#include <veil/base.h>
#include <veil/swim.h>

#define SWIM_WIRE_VERSION  1
#define SWIM_MAX_PIGGYBACK 256

enum swim_msg_type {
    SWIM_MSG_PING = 1,
    SWIM_MSG_ACK = 2,
    SWIM_MSG_NACK = 3,
    SWIM_MSG_PING_REQ = 4,
    SWIM_MSG_PUSH_PULL = 5,
    SWIM_MSG_GOSSIP = 6,
};

enum swim_update_kind {
    SWIM_UPD_ALIVE = 1,
    SWIM_UPD_SUSPECT = 2,
    SWIM_UPD_DEAD = 3,
};

#define SWIM_PP_JOIN  0x01
#define SWIM_PP_REPLY 0x02

/* Borrowed byte string (points into the decoded input). */
struct swim_bytes {
    const uint8_t *p;
    size_t len;
};

struct swim_update {
    enum swim_update_kind kind;
    struct swim_bytes id, addr, meta, from;
    uint32_t incarnation;
};

struct swim_member_rec {
    struct swim_bytes id, addr, meta;
    uint32_t incarnation;
    enum veil_swim_state state;
};

/* A validated message. Lists are re-read with the iterators below. */
struct swim_msg {
    enum swim_msg_type type;
    uint32_t seq;
    struct swim_bytes target_id, target_addr;
    uint8_t pp_flags;
    size_t n_members;
    veil_reader members; /* positioned at the first member */
    size_t n_updates;
    veil_reader updates; /* positioned at the first update */
};

/* Validates the whole message (all lengths, counts, enum values, no trailing
 * bytes); on success the iterators cannot fail. */
int swim_msg_decode(struct swim_msg *m, const uint8_t *data, size_t len, veil_err *err);
bool swim_msg_next_member(struct swim_msg *m, struct swim_member_rec *out);
bool swim_msg_next_update(struct swim_msg *m, struct swim_update *out);

/* Encoders append to a veil_buf. A message is: header, body, then
 * swim_put_piggyback_count + updates. */
void swim_put_header(veil_buf *b, enum swim_msg_type type);
void swim_put_bytes(veil_buf *b, const uint8_t *p, size_t len);
void swim_put_ping(veil_buf *b, uint32_t seq, const uint8_t *target, size_t target_len);
void swim_put_seq(veil_buf *b, uint32_t seq);
void swim_put_ping_req(veil_buf *b, uint32_t seq, const uint8_t *target, size_t target_len,
                       const uint8_t *addr, size_t addr_len);
void swim_put_member(veil_buf *b, const struct swim_member_rec *m);
void swim_put_update(veil_buf *b, const struct swim_update *u);

#endif /* VEIL_P2P_SWIM_WIRE_H */
