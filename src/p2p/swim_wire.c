// SPDX-License-Identifier: Apache-2.0
/*
 * swim_wire.c - encoder and strict decoder of the /veil/swim/1.0.0 message
 * format (layout in swim_wire.h). The decoder reads only through veil_reader
 * and checks every length and count against the VEIL_SWIM_* limits before use.
 */
#include "swim_wire.h"

#include <string.h>

static bool read_lp(veil_reader *r, size_t max, bool allow_empty, struct swim_bytes *out)
{
    uint64_t n = veil_read_uvarint(r);
    if (!veil_reader_ok(r) || n > max || (!allow_empty && n == 0)) {
        veil_reader_fail(r);
        out->p = NULL;
        out->len = 0;
        return false;
    }
    out->len = (size_t)n;
    out->p = veil_read_borrow(r, out->len);
    if (out->len == 0)
        out->p = (const uint8_t *)"";
    return veil_reader_ok(r);
}

static uint32_t read_u32_varint(veil_reader *r)
{
    uint64_t v = veil_read_uvarint(r);
    if (v > UINT32_MAX) {
        veil_reader_fail(r);
        return 0;
    }
    return (uint32_t)v;
}

static bool read_member(veil_reader *r, struct swim_member_rec *m)
{
    read_lp(r, VEIL_SWIM_ID_MAX, false, &m->id);
    read_lp(r, VEIL_SWIM_ADDR_MAX, true, &m->addr);
    read_lp(r, VEIL_SWIM_META_MAX, true, &m->meta);
    m->incarnation = read_u32_varint(r);
    uint8_t st = veil_read_u8(r);
    if (st > VEIL_SWIM_LEFT)
        veil_reader_fail(r);
    m->state = (enum veil_swim_state)st;
    return veil_reader_ok(r);
}

static bool read_update(veil_reader *r, struct swim_update *u)
{
    memset(u, 0, sizeof *u);
    uint8_t kind = veil_read_u8(r);
    switch (kind) {
    case SWIM_UPD_ALIVE:
        read_lp(r, VEIL_SWIM_ID_MAX, false, &u->id);
        read_lp(r, VEIL_SWIM_ADDR_MAX, true, &u->addr);
        read_lp(r, VEIL_SWIM_META_MAX, true, &u->meta);
        u->incarnation = read_u32_varint(r);
        break;
    case SWIM_UPD_SUSPECT:
    case SWIM_UPD_DEAD:
        read_lp(r, VEIL_SWIM_ID_MAX, false, &u->id);
        u->incarnation = read_u32_varint(r);
        read_lp(r, VEIL_SWIM_ID_MAX, false, &u->from);
        break;
    default:
        veil_reader_fail(r);
        return false;
    }
    u->kind = (enum swim_update_kind)kind;
    return veil_reader_ok(r);
}

int swim_msg_decode(struct swim_msg *m, const uint8_t *data, size_t len, veil_err *err)
{
    memset(m, 0, sizeof *m);
    if (len > VEIL_SWIM_FRAME_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "swim: message of %zu bytes exceeds %u", len,
                            VEIL_SWIM_FRAME_MAX);
    veil_reader r;
    veil_reader_init(&r, data, len);
    uint8_t version = veil_read_u8(&r);
    uint8_t type = veil_read_u8(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "swim: truncated header");
    if (version != SWIM_WIRE_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "swim: unsupported version %u", version);
    switch (type) {
    case SWIM_MSG_PING:
        m->seq = read_u32_varint(&r);
        read_lp(&r, VEIL_SWIM_ID_MAX, false, &m->target_id);
        break;
    case SWIM_MSG_ACK:
    case SWIM_MSG_NACK:
        m->seq = read_u32_varint(&r);
        break;
    case SWIM_MSG_PING_REQ:
        m->seq = read_u32_varint(&r);
        read_lp(&r, VEIL_SWIM_ID_MAX, false, &m->target_id);
        read_lp(&r, VEIL_SWIM_ADDR_MAX, true, &m->target_addr);
        break;
    case SWIM_MSG_PUSH_PULL: {
        m->pp_flags = veil_read_u8(&r);
        if (m->pp_flags & ~(SWIM_PP_JOIN | SWIM_PP_REPLY))
            return veil_err_set(err, VEIL_E_PARSE, "swim: unknown state-sync flags 0x%02x",
                                m->pp_flags);
        uint64_t n = veil_read_uvarint(&r);
        if (!veil_reader_ok(&r))
            return veil_err_set(err, VEIL_E_RANGE, "swim: truncated state sync");
        if (n > VEIL_SWIM_MAX_MEMBERS)
            return veil_err_set(err, VEIL_E_LIMIT, "swim: state sync lists %llu members (max %d)",
                                (unsigned long long)n, VEIL_SWIM_MAX_MEMBERS);
        m->n_members = (size_t)n;
        m->members = r;
        for (size_t i = 0; i < m->n_members; i++) {
            struct swim_member_rec rec;
            if (!read_member(&r, &rec))
                return veil_err_set(err, VEIL_E_PARSE, "swim: malformed member %zu in state sync",
                                    i);
        }
        break;
    }
    case SWIM_MSG_GOSSIP:
        break;
    default:
        return veil_err_set(err, VEIL_E_PARSE, "swim: unknown message type %u", type);
    }
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_PARSE, "swim: malformed body of message type %u", type);
    m->type = (enum swim_msg_type)type;

    uint64_t n_upd = veil_read_uvarint(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "swim: missing piggyback count");
    if (n_upd > SWIM_MAX_PIGGYBACK)
        return veil_err_set(err, VEIL_E_LIMIT, "swim: %llu piggybacked updates (max %d)",
                            (unsigned long long)n_upd, SWIM_MAX_PIGGYBACK);
    m->n_updates = (size_t)n_upd;
    m->updates = r;
    for (size_t i = 0; i < m->n_updates; i++) {
        struct swim_update u;
        if (!read_update(&r, &u))
            return veil_err_set(err, VEIL_E_PARSE, "swim: malformed piggybacked update %zu", i);
    }
    if (!veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "swim: %zu trailing bytes",
                            veil_reader_remaining(&r));
    return 0;
}

bool swim_msg_next_member(struct swim_msg *m, struct swim_member_rec *out)
{
    if (m->n_members == 0)
        return false;
    m->n_members--;
    return read_member(&m->members, out);
}

bool swim_msg_next_update(struct swim_msg *m, struct swim_update *out)
{
    if (m->n_updates == 0)
        return false;
    m->n_updates--;
    return read_update(&m->updates, out);
}

void swim_put_header(veil_buf *b, enum swim_msg_type type)
{
    veil_buf_put_u8(b, SWIM_WIRE_VERSION);
    veil_buf_put_u8(b, (uint8_t)type);
}

void swim_put_bytes(veil_buf *b, const uint8_t *p, size_t len)
{
    veil_buf_put_uvarint(b, len);
    if (len)
        veil_buf_put(b, p, len);
}

void swim_put_seq(veil_buf *b, uint32_t seq)
{
    veil_buf_put_uvarint(b, seq);
}

void swim_put_ping(veil_buf *b, uint32_t seq, const uint8_t *target, size_t target_len)
{
    veil_buf_put_uvarint(b, seq);
    swim_put_bytes(b, target, target_len);
}

void swim_put_ping_req(veil_buf *b, uint32_t seq, const uint8_t *target, size_t target_len,
                       const uint8_t *addr, size_t addr_len)
{
    veil_buf_put_uvarint(b, seq);
    swim_put_bytes(b, target, target_len);
    swim_put_bytes(b, addr, addr_len);
}

void swim_put_member(veil_buf *b, const struct swim_member_rec *m)
{
    swim_put_bytes(b, m->id.p, m->id.len);
    swim_put_bytes(b, m->addr.p, m->addr.len);
    swim_put_bytes(b, m->meta.p, m->meta.len);
    veil_buf_put_uvarint(b, m->incarnation);
    veil_buf_put_u8(b, (uint8_t)m->state);
}

void swim_put_update(veil_buf *b, const struct swim_update *u)
{
    veil_buf_put_u8(b, (uint8_t)u->kind);
    swim_put_bytes(b, u->id.p, u->id.len);
    if (u->kind == SWIM_UPD_ALIVE) {
        swim_put_bytes(b, u->addr.p, u->addr.len);
        swim_put_bytes(b, u->meta.p, u->meta.len);
        veil_buf_put_uvarint(b, u->incarnation);
    } else {
        veil_buf_put_uvarint(b, u->incarnation);
        swim_put_bytes(b, u->from.p, u->from.len);
    }
}
