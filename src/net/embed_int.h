// SPDX-License-Identifier: Apache-2.0
/*
 * embed_int.h - internals of the embedded agent shared by src/net/embed.c
 * (agent: socket, thread, state machine, datagrams) and embed_lwip.c (the
 * lwIP stack behind the streams).
 */
#ifndef VEIL_NET_EMBED_INT_H
#define VEIL_NET_EMBED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/embed.h>

#define EMBED_TAG_DATAGRAM 0
#define EMBED_TAG_CELL     1    /* a VeilNet relay cell (veil_embed_send_cell) */
#define EMBED_MTU          1400 /* the stack's interface MTU: an Anchor datagram stays under 1500 */

struct embed_stack;

/* Adds the agent's interface to the process's lwIP stack (started once). */
int embed_stack_start(veil_embed *e, const uint8_t v4[4], struct embed_stack **out,
                      veil_err *err) VEIL_WARN_UNUSED;
void embed_stack_stop(struct embed_stack *s);
/* An IPv4 packet from a peer, into the stack. */
void embed_stack_input(struct embed_stack *s, const uint8_t *pkt, size_t len);

/* From embed.c, for embed_lwip.c: an IPv4 packet the stack sends, to the
 * peer that owns its destination; the peer at an overlay address, and back. */
void embed_output_ip(veil_embed *e, const uint8_t *pkt, size_t len);
bool embed_peer_of(veil_embed *e, const uint8_t v4[4], uint8_t id[VEIL_ANCHOR_KEY_BYTES]);
bool embed_addr_of(veil_embed *e, const uint8_t id[VEIL_ANCHOR_KEY_BYTES], uint8_t v4[4]);

#endif /* VEIL_NET_EMBED_INT_H */
