// SPDX-License-Identifier: Apache-2.0
/*
 * veil/anchor.h - the Anchor protocol core: VeilNet's encrypted,
 * authenticated datagram sessions between nodes (src/net/anchor*.c).
 *
 * A clock-free, I/O-free state machine, like veil_swim: the caller passes
 * `now_ms` (a millisecond clock that never goes backwards; it also stamps
 * handshake initiations, so a wall-clock-based one keeps replay protection
 * across restarts) and every received datagram with its opaque source
 * address, calls veil_anchor_tick() at veil_anchor_next_deadline(), and
 * drains the datagrams to send (veil_anchor_pop_datagram) and the events
 * (veil_anchor_pop_event). The protocol itself is in docs/ANCHOR_PROTOCOL.md;
 * in short:
 *   - a two-message handshake, hybrid X25519 + ML-KEM-768: the session keys
 *     come from the chaining key over the static-ephemeral and the
 *     ephemeral-ephemeral X25519 secrets, the ML-KEM-768 secret and the hash
 *     of the whole transcript, so they stay secret if either half breaks;
 *   - mutual authentication by Ed25519 node identities, each carrying a
 *     Guardian-issued credential that the caller's verification callback
 *     turns into a realm and a taint set. Two nodes talk only inside one
 *     realm and only when one's taint set contains the other's;
 *   - ChaCha20-Poly1305 transport with 64-bit counters and an 8128-packet
 *     sliding replay window; rekey after a time and a message count;
 *     keepalives; WireGuard-style mac1/mac2 cookies when the responder is
 *     under load;
 *   - silence: nothing unauthenticated is answered (the only reply to an
 *     unauthenticated packet is a cookie reply, and only to a packet that
 *     proves knowledge of our public key through mac1 while under load) and
 *     nothing is logged per packet; drops are counted by reason.
 */
#ifndef VEIL_ANCHOR_H
#define VEIL_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_ANCHOR_KEY_BYTES     32    /* Ed25519 public key (node identity) */
#define VEIL_ANCHOR_CRED_MAX      1024  /* bytes of an opaque credential */
#define VEIL_ANCHOR_ADDR_MAX      64    /* bytes of an opaque endpoint address */
#define VEIL_ANCHOR_REALM_MAX     64    /* characters of a realm name (+ NUL) */
#define VEIL_ANCHOR_TAINT_MAX     32    /* characters of one taint (+ NUL) */
#define VEIL_ANCHOR_TAINTS_MAX    16    /* taints in one set */
#define VEIL_ANCHOR_MTU_MAX       65535 /* largest datagram handled */
#define VEIL_ANCHOR_DATA_OVERHEAD 32    /* transport header (16) + tag (16) */
#define VEIL_ANCHOR_REPLAY_WINDOW 8128

/* What a verified credential says about its holder. */
struct veil_anchor_cred_info {
    char realm[VEIL_ANCHOR_REALM_MAX];
    size_t n_taints;
    char taints[VEIL_ANCHOR_TAINTS_MAX][VEIL_ANCHOR_TAINT_MAX];
};

/* The containment rule: same realm, and one taint set contains the other. */
bool veil_anchor_may_talk(const struct veil_anchor_cred_info *a,
                          const struct veil_anchor_cred_info *b);

/* Verifies an opaque credential (e.g. a Guardian-signed statement binding
 * `identity` to a realm and taints) at now_ms; fills *out and returns 0, or
 * -1 when the credential is invalid, expired, revoked or not `identity`'s. */
typedef int (*veil_anchor_verify_fn)(void *ctx, const uint8_t *cred, size_t cred_len,
                                     const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                                     struct veil_anchor_cred_info *out, veil_err *err);

/* Timers and limits; veil_anchor_config_default() gives WireGuard's. */
struct veil_anchor_config {
    uint64_t rekey_after_ms;        /* 120000: initiator starts a new handshake */
    uint64_t reject_after_ms;       /* 180000: a session's keys are dropped */
    uint64_t rekey_after_messages;  /* 2^60 */
    uint64_t reject_after_messages; /* 2^64 - 2^13 - 1 */
    uint64_t rekey_timeout_ms;      /* 5000: handshake retransmission */
    uint64_t rekey_attempt_ms;      /* 90000: give up a handshake after this */
    uint64_t keepalive_ms;          /* 10000: passive keepalive; data sent and nothing
                                       received for keepalive + rekey_timeout: new handshake */
    uint64_t cookie_secret_ms;      /* 120000: cookie secret rotation */
    uint32_t handshakes_per_s_load; /* 64: above this many initiations a second, demand cookies */
    uint32_t queue_max;             /* 64: datagrams held while a handshake runs */
    /* false. BENCHMARKS ONLY, never in a deployment: skips the ML-KEM-768
     * operations (zero key, ciphertext and secret in their places, same
     * message sizes) so an X25519-only handshake can be timed. Both sides
     * must agree; it drops the post-quantum protection. */
    bool bench_classical_only;
};
void veil_anchor_config_default(struct veil_anchor_config *cfg);

/* This node: identity key pair and its own credential, plus the verifier. */
struct veil_anchor_local {
    uint8_t identity_pk[VEIL_ANCHOR_KEY_BYTES];
    uint8_t identity_sk[64]; /* libsodium Ed25519 secret key (seed || pk) */
    const uint8_t *cred;
    size_t cred_len;
    veil_anchor_verify_fn verify;
    void *verify_ctx;
};

enum veil_anchor_event_type {
    VEIL_ANCHOR_EV_UP = 1,           /* a session with the peer is established */
    VEIL_ANCHOR_EV_DOWN,             /* every session with the peer was torn down */
    VEIL_ANCHOR_EV_DATA,             /* a datagram arrived (data in the event) */
    VEIL_ANCHOR_EV_HANDSHAKE_FAILED, /* gave up after rekey_attempt_ms */
};

struct veil_anchor_event {
    enum veil_anchor_event_type type;
    uint8_t peer[VEIL_ANCHOR_KEY_BYTES];
    uint8_t *data; /* EV_DATA: owned by the event, free with veil_anchor_event_clear */
    size_t len;
};
void veil_anchor_event_clear(struct veil_anchor_event *ev);

struct veil_anchor_datagram {
    uint8_t to[VEIL_ANCHOR_ADDR_MAX];
    size_t to_len;
    uint8_t *data; /* owned, free with veil_anchor_datagram_clear */
    size_t len;
};
void veil_anchor_datagram_clear(struct veil_anchor_datagram *d);

/* Why a received datagram was dropped (counted in the statistics). */
enum veil_anchor_drop {
    VEIL_ANCHOR_DROP_MALFORMED = 0,
    VEIL_ANCHOR_DROP_MAC1,          /* not addressed to our identity */
    VEIL_ANCHOR_DROP_COOKIE,        /* under load without a valid mac2 (a cookie was sent) */
    VEIL_ANCHOR_DROP_AUTH,          /* decryption, signature or credential failed */
    VEIL_ANCHOR_DROP_REALM,         /* another realm, or taints not contained */
    VEIL_ANCHOR_DROP_REPLAY,        /* replayed initiation or transport counter */
    VEIL_ANCHOR_DROP_UNKNOWN_INDEX, /* no session with that index */
    VEIL_ANCHOR_DROP_EXPIRED,       /* session past reject_after */
    VEIL_ANCHOR_DROP_COUNT
};

struct veil_anchor_stats {
    uint64_t rx_packets, tx_packets, rx_data, tx_data;
    uint64_t handshakes_initiated, handshakes_completed, cookies_sent, rekeys;
    uint64_t silence_handshakes; /* started because data sent met silence */
    uint64_t dropped[VEIL_ANCHOR_DROP_COUNT];
};

typedef struct veil_anchor veil_anchor;

/* The local credential is verified (and must allow this node's own
 * identity) before anything starts. The structure pointed to by `local`
 * is copied (the credential too). */
veil_anchor *veil_anchor_new(const struct veil_anchor_config *cfg,
                             const struct veil_anchor_local *local, uint64_t now_ms,
                             veil_err *err) VEIL_WARN_UNUSED;
void veil_anchor_free(veil_anchor *a);

/* Declares a peer we may initiate to: its identity and endpoint address. A
 * peer that initiates to us needs no declaration: its credential decides. */
int veil_anchor_add_peer(veil_anchor *a, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                         const uint8_t *addr, size_t addr_len, veil_err *err) VEIL_WARN_UNUSED;
/* Ends every session of a peer and forgets it (revocation). */
void veil_anchor_remove_peer(veil_anchor *a, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             uint64_t now_ms);

/* Sends one datagram to a peer: encrypted now when a session is up, else
 * held (up to queue_max) while a handshake runs. */
int veil_anchor_send(veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], const uint8_t *data,
                     size_t len, uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
/* Starts a handshake now (also what a key invalidation does). */
int veil_anchor_connect(veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                        veil_err *err) VEIL_WARN_UNUSED;

/* Processes one received datagram from `from` (the caller's opaque source
 * address, bound into cookies). Returns true when the datagram was
 * accepted, false when it was dropped (*why says why when not NULL). */
bool veil_anchor_recv(veil_anchor *a, const uint8_t *from, size_t from_len, const uint8_t *pkt,
                      size_t len, uint64_t now_ms, enum veil_anchor_drop *why);

/* Replaces this node's credential (a Guardian taint change or renewal) and
 * re-checks every peer against it: sessions that break containment are torn
 * down at once. */
int veil_anchor_set_credential(veil_anchor *a, const uint8_t *cred, size_t cred_len,
                               uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
/* Drops every session's keys (key invalidation); new handshakes follow on
 * the next send. */
void veil_anchor_invalidate_keys(veil_anchor *a, uint64_t now_ms);

void veil_anchor_tick(veil_anchor *a, uint64_t now_ms);
uint64_t veil_anchor_next_deadline(const veil_anchor *a);

bool veil_anchor_pop_datagram(veil_anchor *a, struct veil_anchor_datagram *out);
bool veil_anchor_pop_event(veil_anchor *a, struct veil_anchor_event *out);

/* True when a confirmed session with the peer can carry data now. */
bool veil_anchor_peer_up(const veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES]);
/* The peer's current endpoint (where its last authenticated packet came
 * from, else the declared one) into out; its length, or 0 for an unknown
 * peer. This is the reflexive address the peer's NAT gave it, as VeilNet
 * routing reports it back (docs/ROUTING.md). */
size_t veil_anchor_peer_endpoint(const veil_anchor *a, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                                 uint8_t out[VEIL_ANCHOR_ADDR_MAX]);
/* Makes the responder demand cookies regardless of its load (tests, or an
 * operator's switch). */
void veil_anchor_force_under_load(veil_anchor *a, bool on);
void veil_anchor_get_stats(const veil_anchor *a, struct veil_anchor_stats *out);

/* ------------------------------------------------------------------------ */
/* The UDP host adapter (anchor_udp.c): one socket on a libuv loop          */
/* ------------------------------------------------------------------------ */
/*
 * Runs a veil_anchor over one UDP socket: reads with recvmmsg in batches
 * (with UDP GRO where the kernel has it), hands each datagram to the state
 * machine, then writes everything it queued with sendmmsg in batches of
 * VEIL_ANCHOR_UDP_BATCH (runs to one endpoint as UDP GSO messages), and
 * keeps one timer at the state machine's next deadline. Endpoint addresses are the
 * raw bytes of a struct sockaddr_in or sockaddr_in6. now_ms is the
 * wall clock in milliseconds, never allowed to go backwards (initiation
 * timestamps stay increasing across restarts). A datagram the kernel cannot
 * take right now (EAGAIN) is dropped and counted, as a lossy link would.
 * Everything happens on the loop thread.
 */
#define VEIL_ANCHOR_UDP_BATCH 64

struct uv_loop_s;
typedef struct veil_anchor_udp veil_anchor_udp;
typedef void (*veil_anchor_udp_event_fn)(veil_anchor_udp *u, const struct veil_anchor_event *ev,
                                         void *user_data);

struct veil_anchor_udp_config {
    const char *bind_ip;               /* "127.0.0.1", "::", ... */
    uint16_t port;                     /* 0 = any free port */
    veil_anchor_udp_event_fn on_event; /* may be NULL; event data is freed after the call */
    void *user_data;
};

struct veil_anchor_udp_stats {
    uint64_t recv_calls, send_calls, datagrams_in, datagrams_out, send_dropped;
    uint64_t gso_messages; /* messages that carried several datagrams (UDP_SEGMENT) */
};

/* Takes ownership of `a` (freed by veil_anchor_udp_close). */
veil_anchor_udp *veil_anchor_udp_start(struct uv_loop_s *loop, veil_anchor *a,
                                       const struct veil_anchor_udp_config *cfg,
                                       veil_err *err) VEIL_WARN_UNUSED;
uint16_t veil_anchor_udp_port(const veil_anchor_udp *u);
veil_anchor *veil_anchor_udp_anchor(veil_anchor_udp *u);
/* veil_anchor_add_peer with an "ip" and port. */
int veil_anchor_udp_add_peer(veil_anchor_udp *u, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             const char *ip, uint16_t port, veil_err *err) VEIL_WARN_UNUSED;
/* veil_anchor_send, then the queued datagrams go out (batched). */
int veil_anchor_udp_send(veil_anchor_udp *u, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                         const uint8_t *data, size_t len, veil_err *err) VEIL_WARN_UNUSED;
/* Sends everything the state machine queued (after direct calls on it). */
void veil_anchor_udp_flush(veil_anchor_udp *u);
void veil_anchor_udp_get_stats(const veil_anchor_udp *u, struct veil_anchor_udp_stats *out);
/* Closes the socket and the timer; frees everything once libuv is done
 * with the handles (run the loop once more). */
void veil_anchor_udp_close(veil_anchor_udp *u);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_ANCHOR_H */
