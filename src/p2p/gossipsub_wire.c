// SPDX-License-Identifier: Apache-2.0
/*
 * gossipsub_wire.c - wire helpers of the gossipsub module: protobuf writing
 * of RPC pieces, StrictSign message building and verification, message IDs,
 * peer IDs of Ed25519 keys.
 *
 * Decoding uses the protoc-c generated code in pb/rpc.pb-c.c; encoding is
 * done here by hand so that forwarded messages and RPC batches can be built
 * from already-encoded pieces without copying into protobuf-c structures.
 */
#include "gossipsub_int.h"

#include <sodium.h>
#include <string.h>

/* libp2p/specs pubsub/README.md "Message Signing": the signed bytes are this
 * prefix followed by the Message encoding without signature and key. */
static const char sign_prefix[] = "libp2p-pubsub:";

/* Ed25519 PublicKey protobuf (peer-ids/peer-ids.md "Keys"): KeyType=1. */
static const uint8_t ed25519_pubkey_pb_prefix[4] = {0x08, 0x01, 0x12, 0x20};

void gs_put_tag(veil_buf *b, unsigned field, unsigned wire_type)
{
    veil_buf_put_uvarint(b, ((uint64_t)field << 3) | wire_type);
}

void gs_put_bytes_field(veil_buf *b, unsigned field, const void *data, size_t len)
{
    gs_put_tag(b, field, 2);
    veil_buf_put_uvarint(b, len);
    if (len)
        veil_buf_put(b, data, len);
}

void gs_put_varint_field(veil_buf *b, unsigned field, uint64_t v)
{
    gs_put_tag(b, field, 0);
    veil_buf_put_uvarint(b, v);
}

size_t veil_gs_peer_id_from_pubkey(uint8_t out[VEIL_GS_PEER_ID_MAX], const uint8_t pk[32])
{
    /* identity multihash (code 0x00, length 36) of the PublicKey protobuf */
    out[0] = 0x00;
    out[1] = 0x24;
    memcpy(out + 2, ed25519_pubkey_pb_prefix, 4);
    memcpy(out + 6, pk, 32);
    return 38;
}

bool gs_pubkey_from_peer_id(const uint8_t *id, size_t len, uint8_t pk[32])
{
    if (len != 38 || id[0] != 0x00 || id[1] != 0x24 ||
        memcmp(id + 2, ed25519_pubkey_pb_prefix, 4) != 0)
        return false;
    memcpy(pk, id + 6, 32);
    return true;
}

/* Message fields 1..4 in field order, as go (proto.Marshal) and js
 * (protons) encode them; `data` is written whenever present, even empty. */
static void put_unsigned_message(veil_buf *b, const struct veil_gs_message *m, bool has_data)
{
    gs_put_bytes_field(b, 1, m->from, m->from_len);
    if (has_data)
        gs_put_bytes_field(b, 2, m->data, m->data_len);
    gs_put_bytes_field(b, 3, m->seqno, m->seqno_len);
    gs_put_bytes_field(b, 4, m->topic, strlen(m->topic));
}

void gs_encode_message(veil_buf *b, const struct veil_gs_message *m, bool has_data,
                       const uint8_t *sig, size_t sig_len)
{
    put_unsigned_message(b, m, has_data);
    gs_put_bytes_field(b, 5, sig, sig_len);
}

int veil_gs_build_signed_message(veil_buf *out, const uint8_t secret_key[64], const char *topic,
                                 const void *data, size_t len, uint64_t seqno, veil_err *err)
{
    uint8_t from[VEIL_GS_PEER_ID_MAX];
    size_t from_len = veil_gs_peer_id_from_pubkey(from, secret_key + 32);
    uint8_t seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = (uint8_t)(seqno >> (56 - 8 * i));
    struct veil_gs_message m = {
        .from = from,
        .from_len = from_len,
        .data = data,
        .data_len = len,
        .seqno = seq,
        .seqno_len = 8,
        .topic = topic,
    };
    veil_buf signed_bytes;
    veil_buf_init(&signed_bytes);
    veil_buf_put(&signed_bytes, sign_prefix, sizeof sign_prefix - 1);
    put_unsigned_message(&signed_bytes, &m, true);
    if (!veil_buf_ok(&signed_bytes)) {
        veil_buf_free(&signed_bytes);
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory signing a message");
    }
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, signed_bytes.data, signed_bytes.len, secret_key);
    veil_buf_free(&signed_bytes);
    gs_encode_message(out, &m, true, sig, sizeof sig);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory encoding a message");
    return 0;
}

int gs_verify_message_full(const struct veil_gs_message *m, bool has_data, const uint8_t *sig,
                           size_t sig_len, const uint8_t *key, size_t key_len, veil_err *err)
{
    uint8_t pk[32];
    if (!m->from || !m->seqno || !m->topic)
        return veil_err_set(err, VEIL_E_PROTOCOL, "gossipsub: message lacks from/seqno/topic");
    if (m->seqno_len != 8)
        return veil_err_set(err, VEIL_E_PROTOCOL, "gossipsub: seqno is %zu bytes, not 8",
                            m->seqno_len);
    if (!gs_pubkey_from_peer_id(m->from, m->from_len, pk))
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "gossipsub: author is not an Ed25519 (inline key) peer ID");
    /* gossipsub-v1.1 / pubsub README: with an inlined key the `key` field
     * must be absent; tolerate it when it repeats the same key. */
    if (key && key_len &&
        (key_len != 36 || memcmp(key, ed25519_pubkey_pb_prefix, 4) != 0 ||
         memcmp(key + 4, pk, 32) != 0))
        return veil_err_set(err, VEIL_E_CRYPTO, "gossipsub: key field does not match author");
    if (!sig || sig_len != crypto_sign_BYTES)
        return veil_err_set(err, VEIL_E_CRYPTO, "gossipsub: missing or malformed signature");
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_put(&b, sign_prefix, sizeof sign_prefix - 1);
    put_unsigned_message(&b, m, has_data);
    if (!veil_buf_ok(&b)) {
        veil_buf_free(&b);
        return veil_err_set(err, VEIL_E_NOMEM, "gossipsub: out of memory verifying");
    }
    int rc = crypto_sign_verify_detached(sig, b.data, b.len, pk);
    veil_buf_free(&b);
    if (rc != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "gossipsub: bad message signature");
    return 0;
}

int veil_gs_verify_message(const struct veil_gs_message *msg, const uint8_t *signature,
                           size_t sig_len, const uint8_t *key, size_t key_len, veil_err *err)
{
    return gs_verify_message_full(msg, msg->data != NULL, signature, sig_len, key, key_len, err);
}

size_t gs_message_id(const struct veil_gs_config *cfg, const struct veil_gs_message *m,
                     uint8_t out[VEIL_GS_MSG_ID_MAX])
{
    switch (cfg->msgid_kind) {
    case VEIL_GS_MSGID_FROM_SEQNO:
        if (m->from_len + m->seqno_len > VEIL_GS_MSG_ID_MAX)
            return 0;
        memcpy(out, m->from, m->from_len);
        memcpy(out + m->from_len, m->seqno, m->seqno_len);
        return m->from_len + m->seqno_len;
    case VEIL_GS_MSGID_PUBKEY_SEQNO: {
        /* js msgIdFnStrictSign: PublicKey protobuf || seqno as 8 bytes */
        uint8_t pk[32];
        if (!gs_pubkey_from_peer_id(m->from, m->from_len, pk) || m->seqno_len != 8)
            return 0;
        memcpy(out, ed25519_pubkey_pb_prefix, 4);
        memcpy(out + 4, pk, 32);
        memcpy(out + 36, m->seqno, 8);
        return 44;
    }
    case VEIL_GS_MSGID_CUSTOM:
        if (!cfg->msgid_custom)
            return 0;
        {
            size_t n = cfg->msgid_custom(cfg->msgid_ctx, m, out);
            return n <= VEIL_GS_MSG_ID_MAX ? n : 0;
        }
    }
    return 0;
}
