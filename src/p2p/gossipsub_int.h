// SPDX-License-Identifier: Apache-2.0
/*
 * gossipsub_int.h - private declarations of the gossipsub module
 * (gossipsub.c: router state machine, gossipsub_wire.c: encoding, signing,
 * message IDs, frames).
 */
#ifndef VEIL_P2P_GOSSIPSUB_INT_H
#define VEIL_P2P_GOSSIPSUB_INT_H

#include <veil/gossipsub.h>

/* protobuf field writers */
void gs_put_tag(veil_buf *b, unsigned field, unsigned wire_type);
void gs_put_bytes_field(veil_buf *b, unsigned field, const void *data, size_t len);
void gs_put_varint_field(veil_buf *b, unsigned field, uint64_t v);

/* Writes a Message (fields 1..5). */
void gs_encode_message(veil_buf *b, const struct veil_gs_message *m, bool has_data,
                       const uint8_t *sig, size_t sig_len);
int gs_verify_message_full(const struct veil_gs_message *m, bool has_data, const uint8_t *sig,
                           size_t sig_len, const uint8_t *key, size_t key_len, veil_err *err);
bool gs_pubkey_from_peer_id(const uint8_t *id, size_t len, uint8_t pk[32]);
size_t gs_message_id(const struct veil_gs_config *cfg, const struct veil_gs_message *m,
                     uint8_t out[VEIL_GS_MSG_ID_MAX]);

#endif /* VEIL_P2P_GOSSIPSUB_INT_H */
