// SPDX-License-Identifier: Apache-2.0
/*
 * chain_internal.h - helpers shared by the files of src/chain (not part of
 * the public API): JSON-RPC value parsing and hex output.
 */
#ifndef VEIL_CHAIN_INTERNAL_H
#define VEIL_CHAIN_INTERNAL_H

#include <veil/chain.h>

/* "0x1a" -> 26 (at most 64 bits, no empty digits). */
int veil_chain_parse_quantity(const char *s, uint64_t *out, veil_err *err);
/* "0x" + exactly 2n hex digits. */
int veil_chain_parse_hex_fixed(const char *s, uint8_t *out, size_t n, veil_err *err);
/* "0x" + even hex digits, malloc'd. */
int veil_chain_parse_hex_data(const char *s, uint8_t **out, size_t *len, veil_err *err);
/* Appends "0x" + lowercase hex. */
void veil_chain_hex(veil_buf *b, const uint8_t *p, size_t n);
void veil_chain_sleep_ms(long ms);

#endif /* VEIL_CHAIN_INTERNAL_H */
