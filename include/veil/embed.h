// SPDX-License-Identifier: Apache-2.0
/*
 * veil/embed.h - VeilNet embedded in an application (src/net/embed*.c): an
 * Anchor agent inside the process, with no TUN and no root. It sends and
 * receives datagrams to peers named by identity, and opens reliable byte
 * streams to them over lwIP (Debian's liblwip, a user-space TCP/IP stack):
 * the stack's IP packets travel as Anchor datagrams between the two agents,
 * so streams get TCP's retransmission, ordering and flow control with the
 * Anchor session's encryption and authentication underneath.
 *
 * One I/O thread per agent reads the UDP socket (recvmmsg) and runs the
 * state machine's timers; the calls below may come from any thread. Inside
 * an Anchor datagram the first byte says what it carries: 0 = an
 * application datagram, 1 = a VeilNet relay cell, 0x4_ = an IPv4 packet for
 * the stream stack (its source must be the sending peer's overlay address,
 * as in system mode).
 *
 * lwIP keeps one stack per process: streams are available to the first
 * agent of a process that asks for them (veil_embed_config.streams).
 */
#ifndef VEIL_EMBED_H
#define VEIL_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_EMBED_DATAGRAM_MAX 65000 /* bytes of one application datagram */
#define VEIL_EMBED_INBOX_MAX    4096  /* datagrams held for veil_embed_recv */

struct veil_embed_config {
    const char *bind_ip; /* underlay address, e.g. "127.0.0.1" */
    uint16_t port;       /* 0 = any free port */
    bool streams;        /* start the lwIP stack (one per process) */
    const char *ipv4;    /* the agent's overlay address inside the stack, e.g. "10.77.0.1" */
};

typedef struct veil_embed veil_embed;

/* Takes ownership of `a` (freed by veil_embed_stop, also on failure). */
veil_embed *veil_embed_start(const struct veil_embed_config *cfg, veil_anchor *a,
                             veil_err *err) VEIL_WARN_UNUSED;
void veil_embed_stop(veil_embed *e);
uint16_t veil_embed_port(const veil_embed *e);

/* A peer: identity, overlay IPv4 address (streams) and underlay endpoint. */
int veil_embed_add_peer(veil_embed *e, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                        const char *ipv4, const char *endpoint_ip, uint16_t endpoint_port,
                        veil_err *err) VEIL_WARN_UNUSED;
void veil_embed_remove_peer(veil_embed *e, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES]);
/* The address and port a peer's packets come from (its reflexive address
 * behind a NAT; see veil_anchor_peer_endpoint) as text into ip (at least
 * INET6_ADDRSTRLEN bytes). Fails (VEIL_E_NOTFOUND) for a peer without one. */
int veil_embed_peer_endpoint(veil_embed *e, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], char *ip,
                             size_t ip_cap, uint16_t *port, veil_err *err) VEIL_WARN_UNUSED;

/* Datagrams by identity: unreliable, unordered, as UDP. */
int veil_embed_send(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const void *data,
                    size_t len, veil_err *err) VEIL_WARN_UNUSED;
/* Waits up to timeout_ms (-1 = forever) for a datagram; returns its length
 * (copied into buf, the sender into peer) or -1 (VEIL_E_TIMEOUT, or
 * VEIL_E_RANGE when it is larger than cap: it is dropped). */
long veil_embed_recv(veil_embed *e, uint8_t peer[VEIL_ANCHOR_KEY_BYTES], void *buf, size_t cap,
                     int timeout_ms, veil_err *err) VEIL_WARN_UNUSED;

/* Relay cells (VeilNet routing, src/route/): a kind of Anchor datagram of
 * their own (first byte 1), never delivered by veil_embed_recv. Received
 * cells go to the handler on the agent's I/O thread as each batch is read;
 * cells the handler sends (veil_embed_send_cell from inside it) leave with
 * the rest of that batch's output in one sendmmsg, so a relay forwards at
 * the transport's batching. Without a handler, cells are dropped. The
 * handler must not block; `cell` is valid during the call only. */
typedef void (*veil_embed_cell_fn)(void *ctx, veil_embed *e,
                                   const uint8_t from[VEIL_ANCHOR_KEY_BYTES], const uint8_t *cell,
                                   size_t len);
void veil_embed_set_cell_handler(veil_embed *e, veil_embed_cell_fn fn, void *ctx);
int veil_embed_send_cell(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const void *cell,
                         size_t len, veil_err *err) VEIL_WARN_UNUSED;

/* Streams (lwIP TCP). Handles are small non-negative integers. */
int veil_embed_listen(veil_embed *e, uint16_t port, veil_err *err) VEIL_WARN_UNUSED;
/* Blocks for the next connection; the peer's identity goes into peer. */
int veil_embed_accept(veil_embed *e, int listener, uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                      veil_err *err) VEIL_WARN_UNUSED;
int veil_embed_connect(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], uint16_t port,
                       veil_err *err) VEIL_WARN_UNUSED;
/* Writes all of buf (blocking); 0 or -1. */
int veil_embed_stream_write(veil_embed *e, int s, const void *buf, size_t len,
                            veil_err *err) VEIL_WARN_UNUSED;
/* Reads what is there (blocking for at least one byte); 0 at the end. */
long veil_embed_stream_read(veil_embed *e, int s, void *buf, size_t cap,
                            veil_err *err) VEIL_WARN_UNUSED;
void veil_embed_stream_close(veil_embed *e, int s);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_EMBED_H */
