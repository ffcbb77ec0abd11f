// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_wire.h - the Anchor protocol's wire codecs (anchor_wire.c): the
 * four datagram types and the two encrypted handshake payloads, decoded
 * strictly (exact lengths, zero reserved bytes, nothing left over) into
 * views that borrow the input. Private to src/net/ and its fuzz target.
 * Layouts in docs/ANCHOR_PROTOCOL.md; integers are little-endian.
 */
#ifndef VEIL_NET_ANCHOR_WIRE_H
#define VEIL_NET_ANCHOR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/pq.h>

enum anchor_msg_type {
    ANCHOR_MSG_INIT = 1,
    ANCHOR_MSG_RESP = 2,
    ANCHOR_MSG_COOKIE = 3,
    ANCHOR_MSG_DATA = 4,
};

#define ANCHOR_MAC_BYTES 16
#define ANCHOR_TAG_BYTES 16
#define ANCHOR_SIG_BYTES 64
#define ANCHOR_DH_BYTES 32
#define ANCHOR_COOKIE_NONCE_BYTES 24
#define ANCHOR_COOKIE_BYTES 16
#define ANCHOR_DATA_HEADER 16 /* type+reserved, receiver, counter */
#define ANCHOR_COOKIE_MSG_BYTES (8 + ANCHOR_COOKIE_NONCE_BYTES + ANCHOR_COOKIE_BYTES + ANCHOR_TAG_BYTES)

/* Plaintext payload sizes around the credential. */
#define ANCHOR_INIT_PAYLOAD_FIXED (VEIL_ANCHOR_KEY_BYTES + 8 + 2 + ANCHOR_SIG_BYTES)
#define ANCHOR_RESP_PAYLOAD_FIXED (2 + ANCHOR_SIG_BYTES)

struct anchor_init {
    uint32_t sender;
    const uint8_t *e;   /* ANCHOR_DH_BYTES */
    const uint8_t *ek;  /* VEIL_MLKEM768_EK_BYTES */
    const uint8_t *enc; /* encrypted payload, enc_len bytes (tag included) */
    size_t enc_len;
    const uint8_t *mac1, *mac2;
    size_t mac1_off, mac2_off; /* bytes covered by mac1 and by mac2 */
};

struct anchor_resp {
    uint32_t sender, receiver;
    const uint8_t *e;      /* ANCHOR_DH_BYTES */
    const uint8_t *kem_ct; /* VEIL_MLKEM768_CT_BYTES */
    const uint8_t *enc;
    size_t enc_len;
    const uint8_t *mac1, *mac2;
    size_t mac1_off, mac2_off;
};

struct anchor_cookie_msg {
    uint32_t receiver;
    const uint8_t *nonce; /* ANCHOR_COOKIE_NONCE_BYTES */
    const uint8_t *enc;   /* ANCHOR_COOKIE_BYTES + ANCHOR_TAG_BYTES */
};

struct anchor_data {
    uint32_t receiver;
    uint64_t counter;
    const uint8_t *header; /* the 16 authenticated header bytes */
    const uint8_t *enc;    /* ciphertext with tag */
    size_t enc_len;
};

struct anchor_init_payload {
    const uint8_t *identity; /* VEIL_ANCHOR_KEY_BYTES */
    uint64_t timestamp;
    const uint8_t *cred;
    size_t cred_len;
    const uint8_t *sig;
};

struct anchor_resp_payload {
    const uint8_t *cred;
    size_t cred_len;
    const uint8_t *sig;
};

/* The type byte of a datagram, or 0 when it is too short to have one. */
uint8_t anchor_msg_type(const uint8_t *pkt, size_t len);

int anchor_init_decode(struct anchor_init *m, const uint8_t *pkt, size_t len,
                       veil_err *err) VEIL_WARN_UNUSED;
int anchor_resp_decode(struct anchor_resp *m, const uint8_t *pkt, size_t len,
                       veil_err *err) VEIL_WARN_UNUSED;
int anchor_cookie_decode(struct anchor_cookie_msg *m, const uint8_t *pkt, size_t len,
                         veil_err *err) VEIL_WARN_UNUSED;
int anchor_data_decode(struct anchor_data *m, const uint8_t *pkt, size_t len,
                       veil_err *err) VEIL_WARN_UNUSED;
int anchor_init_payload_decode(struct anchor_init_payload *p, const uint8_t *in, size_t len,
                               veil_err *err) VEIL_WARN_UNUSED;
int anchor_resp_payload_decode(struct anchor_resp_payload *p, const uint8_t *in, size_t len,
                               veil_err *err) VEIL_WARN_UNUSED;

/* Encoders append to b (check veil_buf_ok once at the end). The handshake
 * encoders write everything up to the encrypted payload; the caller appends
 * the payload and the two MACs. */
void anchor_put_header(veil_buf *b, enum anchor_msg_type type);
void anchor_init_put_prefix(veil_buf *b, uint32_t sender, const uint8_t *e, const uint8_t *ek,
                            size_t enc_len);
void anchor_resp_put_prefix(veil_buf *b, uint32_t sender, uint32_t receiver, const uint8_t *e,
                            const uint8_t *kem_ct, size_t enc_len);
void anchor_init_payload_put(veil_buf *b, const uint8_t *identity, uint64_t ts,
                             const uint8_t *cred, size_t cred_len, const uint8_t *sig);
void anchor_resp_payload_put(veil_buf *b, const uint8_t *cred, size_t cred_len, const uint8_t *sig);

#endif /* VEIL_NET_ANCHOR_WIRE_H */
