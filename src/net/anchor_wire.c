// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_wire.c - strict codecs for the Anchor datagrams and handshake
 * payloads (see anchor_wire.h). Every read goes through veil_reader; a
 * decoder accepts only the exact layout: known type, zero reserved bytes,
 * lengths inside their bounds, nothing after the last field.
 */
#include <string.h>

#include "anchor_wire.h"

uint8_t anchor_msg_type(const uint8_t *pkt, size_t len)
{
    return len >= 4 ? pkt[0] : 0;
}

/* Reads and checks the 4-byte header (type, three zero bytes). */
static void read_header(veil_reader *r, enum anchor_msg_type want)
{
    uint8_t type = veil_read_u8(r);
    uint8_t reserved[3];
    veil_read_bytes(r, reserved, sizeof reserved);
    if (type != want || reserved[0] || reserved[1] || reserved[2])
        veil_reader_fail(r);
}

/* Reads the encrypted-payload length and bytes, bounded by [lo, hi]. */
static const uint8_t *read_enc(veil_reader *r, size_t lo, size_t hi, size_t *len)
{
    *len = veil_read_u16le(r);
    if (*len < lo || *len > hi)
        veil_reader_fail(r);
    return veil_read_borrow(r, *len);
}

static int finish(veil_reader *r, veil_err *err, const char *what)
{
    if (!veil_reader_ok(r) || !veil_reader_at_end(r))
        return veil_err_set(err, VEIL_E_PARSE, "anchor: malformed %s", what);
    return 0;
}

int anchor_init_decode(struct anchor_init *m, const uint8_t *pkt, size_t len, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, pkt, len);
    read_header(&r, ANCHOR_MSG_INIT);
    m->sender = veil_read_u32le(&r);
    m->e = veil_read_borrow(&r, ANCHOR_DH_BYTES);
    m->ek = veil_read_borrow(&r, VEIL_MLKEM768_EK_BYTES);
    m->enc = read_enc(&r, ANCHOR_INIT_PAYLOAD_FIXED + ANCHOR_TAG_BYTES,
                      ANCHOR_INIT_PAYLOAD_FIXED + VEIL_ANCHOR_CRED_MAX + ANCHOR_TAG_BYTES,
                      &m->enc_len);
    m->mac1_off = r.pos;
    m->mac1 = veil_read_borrow(&r, ANCHOR_MAC_BYTES);
    m->mac2_off = r.pos;
    m->mac2 = veil_read_borrow(&r, ANCHOR_MAC_BYTES);
    return finish(&r, err, "handshake initiation");
}

int anchor_resp_decode(struct anchor_resp *m, const uint8_t *pkt, size_t len, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, pkt, len);
    read_header(&r, ANCHOR_MSG_RESP);
    m->sender = veil_read_u32le(&r);
    m->receiver = veil_read_u32le(&r);
    m->e = veil_read_borrow(&r, ANCHOR_DH_BYTES);
    m->kem_ct = veil_read_borrow(&r, VEIL_MLKEM768_CT_BYTES);
    m->enc = read_enc(&r, ANCHOR_RESP_PAYLOAD_FIXED + ANCHOR_TAG_BYTES,
                      ANCHOR_RESP_PAYLOAD_FIXED + VEIL_ANCHOR_CRED_MAX + ANCHOR_TAG_BYTES,
                      &m->enc_len);
    m->mac1_off = r.pos;
    m->mac1 = veil_read_borrow(&r, ANCHOR_MAC_BYTES);
    m->mac2_off = r.pos;
    m->mac2 = veil_read_borrow(&r, ANCHOR_MAC_BYTES);
    return finish(&r, err, "handshake response");
}

int anchor_cookie_decode(struct anchor_cookie_msg *m, const uint8_t *pkt, size_t len,
                         veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, pkt, len);
    read_header(&r, ANCHOR_MSG_COOKIE);
    m->receiver = veil_read_u32le(&r);
    m->nonce = veil_read_borrow(&r, ANCHOR_COOKIE_NONCE_BYTES);
    m->enc = veil_read_borrow(&r, ANCHOR_COOKIE_BYTES + ANCHOR_TAG_BYTES);
    return finish(&r, err, "cookie reply");
}

int anchor_data_decode(struct anchor_data *m, const uint8_t *pkt, size_t len, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, pkt, len);
    read_header(&r, ANCHOR_MSG_DATA);
    m->receiver = veil_read_u32le(&r);
    m->counter = veil_read_u64le(&r);
    m->header = pkt;
    m->enc_len = veil_reader_remaining(&r);
    if (m->enc_len < ANCHOR_TAG_BYTES)
        veil_reader_fail(&r);
    m->enc = veil_read_borrow(&r, m->enc_len);
    return finish(&r, err, "transport packet");
}

/* A u16-length-prefixed credential of 1..VEIL_ANCHOR_CRED_MAX bytes. */
static const uint8_t *read_cred(veil_reader *r, size_t *len)
{
    *len = veil_read_u16le(r);
    if (*len == 0 || *len > VEIL_ANCHOR_CRED_MAX)
        veil_reader_fail(r);
    return veil_read_borrow(r, *len);
}

int anchor_init_payload_decode(struct anchor_init_payload *p, const uint8_t *in, size_t len,
                               veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, in, len);
    p->identity = veil_read_borrow(&r, VEIL_ANCHOR_KEY_BYTES);
    p->timestamp = veil_read_u64le(&r);
    p->cred = read_cred(&r, &p->cred_len);
    p->sig = veil_read_borrow(&r, ANCHOR_SIG_BYTES);
    return finish(&r, err, "initiation payload");
}

int anchor_resp_payload_decode(struct anchor_resp_payload *p, const uint8_t *in, size_t len,
                               veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, in, len);
    p->cred = read_cred(&r, &p->cred_len);
    p->sig = veil_read_borrow(&r, ANCHOR_SIG_BYTES);
    return finish(&r, err, "response payload");
}

void anchor_put_header(veil_buf *b, enum anchor_msg_type type)
{
    veil_buf_put_u8(b, (uint8_t)type);
    veil_buf_put(b, "\0\0\0", 3);
}

void anchor_init_put_prefix(veil_buf *b, uint32_t sender, const uint8_t *e, const uint8_t *ek,
                            size_t enc_len)
{
    anchor_put_header(b, ANCHOR_MSG_INIT);
    veil_buf_put_u32le(b, sender);
    veil_buf_put(b, e, ANCHOR_DH_BYTES);
    veil_buf_put(b, ek, VEIL_MLKEM768_EK_BYTES);
    veil_buf_put_u16le(b, (uint16_t)enc_len);
}

void anchor_resp_put_prefix(veil_buf *b, uint32_t sender, uint32_t receiver, const uint8_t *e,
                            const uint8_t *kem_ct, size_t enc_len)
{
    anchor_put_header(b, ANCHOR_MSG_RESP);
    veil_buf_put_u32le(b, sender);
    veil_buf_put_u32le(b, receiver);
    veil_buf_put(b, e, ANCHOR_DH_BYTES);
    veil_buf_put(b, kem_ct, VEIL_MLKEM768_CT_BYTES);
    veil_buf_put_u16le(b, (uint16_t)enc_len);
}

void anchor_init_payload_put(veil_buf *b, const uint8_t *identity, uint64_t ts,
                             const uint8_t *cred, size_t cred_len, const uint8_t *sig)
{
    veil_buf_put(b, identity, VEIL_ANCHOR_KEY_BYTES);
    veil_buf_put_u64le(b, ts);
    veil_buf_put_u16le(b, (uint16_t)cred_len);
    veil_buf_put(b, cred, cred_len);
    veil_buf_put(b, sig, ANCHOR_SIG_BYTES);
}

void anchor_resp_payload_put(veil_buf *b, const uint8_t *cred, size_t cred_len, const uint8_t *sig)
{
    veil_buf_put_u16le(b, (uint16_t)cred_len);
    veil_buf_put(b, cred, cred_len);
    veil_buf_put(b, sig, ANCHOR_SIG_BYTES);
}
