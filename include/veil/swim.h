// SPDX-License-Identifier: Apache-2.0
/*
 * veil/swim.h - SWIM membership with the Lifeguard refinements.
 *
 * Owned by the SWIM part of the p2p subsystem (src/p2p/swim*.c).
 *
 * Two layers:
 *   1. veil_swim: a pure state machine. It does no I/O and never reads a
 *      clock: the caller passes `now_ms` (any monotonic millisecond clock) and
 *      the bytes of each received message, calls veil_swim_tick() when
 *      veil_swim_next_deadline() is reached, and drains the packets to send
 *      (veil_swim_pop_packet) and membership events (veil_swim_pop_event).
 *      Randomness comes from an injectable generator so tests are repeatable.
 *   2. veil_swim_attach (see the end of this file): runs the state machine as
 *      the libp2p protocol /veil/swim/1.0.0 on a veil_p2p host.
 *
 * Behaviour follows the SWIM paper (Das, Gupta, Motivala, DSN 2002) with the
 * Lifeguard refinements (Dadgar, Phillips, Currey, 2018) and the defaults of
 * hashicorp/memberlist's LAN profile; see docs in src/p2p/swim.c.
 *
 * Members are named by opaque ids (on libp2p: the binary peer ID) and carry an
 * opaque address (on libp2p: a binary multiaddr) and small opaque metadata.
 */
#ifndef VEIL_SWIM_H
#define VEIL_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_SWIM_PROTOCOL_ID "/veil/swim/1.0.0"
#define VEIL_SWIM_ID_MAX      64         /* bytes of a member id (a peer ID is 38) */
#define VEIL_SWIM_ADDR_MAX    255        /* bytes of a member address (binary multiaddr) */
#define VEIL_SWIM_META_MAX    512        /* bytes of metadata (memberlist MetaMaxSize) */
#define VEIL_SWIM_MAX_MEMBERS 4096       /* members one node tracks / one state sync carries */
#define VEIL_SWIM_FRAME_MAX   (1u << 20) /* largest message (a full state sync) */

enum veil_swim_state {
    VEIL_SWIM_ALIVE = 0,
    VEIL_SWIM_SUSPECT = 1,
    VEIL_SWIM_DEAD = 2,
    VEIL_SWIM_LEFT = 3,
};
const char *veil_swim_state_name(enum veil_swim_state s);

/* Tunables. veil_swim_config_default() fills memberlist's LAN profile. */
struct veil_swim_config {
    uint32_t probe_interval_ms;     /* 1000 */
    uint32_t probe_timeout_ms;      /* 500: wait for a direct ack */
    uint32_t indirect_checks;       /* 3: members asked to probe for us */
    uint32_t suspicion_mult;        /* 4 */
    uint32_t suspicion_max_mult;    /* 6: max timeout = 6 x min timeout */
    uint32_t retransmit_mult;       /* 4 */
    uint32_t gossip_interval_ms;    /* 200 */
    uint32_t gossip_nodes;          /* 3 */
    uint32_t push_pull_interval_ms; /* 30000 (0 disables) */
    uint32_t awareness_max_mult;    /* 8: LHM stretches timing up to 8x */
    uint32_t gossip_to_dead_ms;     /* 30000: keep gossiping to / remembering the dead */
    uint32_t max_packet_bytes;      /* 1400: piggyback budget of one packet */
    uint32_t initial_incarnation;   /* 0, or e.g. wall-clock seconds on restart */
};
void veil_swim_config_default(struct veil_swim_config *cfg);

/* Random source: returns 64 uniformly random bits. NULL = the CSPRNG. */
typedef uint64_t (*veil_swim_rng_fn)(void *ctx);

enum veil_swim_event_type {
    VEIL_SWIM_EV_JOIN = 1, /* a new member, or a dead/left one alive again */
    VEIL_SWIM_EV_UPDATE,   /* address or metadata changed */
    VEIL_SWIM_EV_SUSPECT,  /* suspected (not an error yet) */
    VEIL_SWIM_EV_ALIVE,    /* a suspect refuted the suspicion */
    VEIL_SWIM_EV_DEAD,     /* declared dead (failure detected) */
    VEIL_SWIM_EV_LEAVE,    /* left gracefully */
};
const char *veil_swim_event_name(enum veil_swim_event_type t);

struct veil_swim_event {
    enum veil_swim_event_type type;
    uint64_t at_ms;
    uint32_t incarnation;
    size_t id_len, addr_len, meta_len;
    uint8_t id[VEIL_SWIM_ID_MAX];
    uint8_t addr[VEIL_SWIM_ADDR_MAX];
    uint8_t meta[VEIL_SWIM_META_MAX];
};

/* One message to deliver to a member. `data` is owned by the packet (free it
 * with veil_swim_packet_clear). `to_id_len` may be 0 when the destination is
 * only known by address (a join to a seed). */
struct veil_swim_packet {
    size_t to_id_len, to_addr_len;
    uint8_t to_id[VEIL_SWIM_ID_MAX];
    uint8_t to_addr[VEIL_SWIM_ADDR_MAX];
    uint8_t *data;
    size_t len;
};
void veil_swim_packet_clear(struct veil_swim_packet *p);

/* A snapshot of one member (pointers valid until the next call that changes
 * the state machine). */
struct veil_swim_member {
    const uint8_t *id, *addr, *meta;
    size_t id_len, addr_len, meta_len;
    uint32_t incarnation;
    enum veil_swim_state state;
    uint64_t state_change_ms;
};

/* Counters for benchmarks and diagnostics. */
struct veil_swim_stats {
    uint64_t packets_sent, bytes_sent, packets_received, bytes_received;
    uint64_t probes, indirect_probes, suspicions_started, refutations;
    uint64_t malformed;
};

typedef struct veil_swim veil_swim;

/* Creates a node that knows only itself. id: 1..VEIL_SWIM_ID_MAX bytes. */
veil_swim *veil_swim_new(const struct veil_swim_config *cfg, const uint8_t *id, size_t id_len,
                         const uint8_t *addr, size_t addr_len, const uint8_t *meta, size_t meta_len,
                         veil_swim_rng_fn rng, void *rng_ctx, uint64_t now_ms, veil_err *err);
void veil_swim_free(veil_swim *sw);

/* Asks a seed for a full state sync (joins its cluster). `id` may be NULL if
 * unknown. */
int veil_swim_join(veil_swim *sw, const uint8_t *id, size_t id_len, const uint8_t *addr,
                   size_t addr_len, uint64_t now_ms, veil_err *err);
/* Processes one received message. `from_id` is the transport-authenticated
 * sender. Malformed input fails with an error and changes nothing. */
int veil_swim_handle(veil_swim *sw, const uint8_t *from_id, size_t from_id_len, const uint8_t *data,
                     size_t len, uint64_t now_ms, veil_err *err);
/* Runs every timer due at now_ms (probes, gossip, state sync, suspicion). */
void veil_swim_tick(veil_swim *sw, uint64_t now_ms);
/* The earliest time veil_swim_tick must be called again. */
uint64_t veil_swim_next_deadline(const veil_swim *sw);
/* Changes this node's metadata (gossiped with a new incarnation). */
int veil_swim_set_meta(veil_swim *sw, const uint8_t *meta, size_t meta_len, uint64_t now_ms,
                       veil_err *err);
/* Starts a graceful leave: the node announces it and stops probing. Keep
 * ticking until veil_swim_leave_flushed() (the announcement has been sent
 * its retransmit budget) or a grace period passes. */
void veil_swim_leave(veil_swim *sw, uint64_t now_ms);
bool veil_swim_leave_flushed(const veil_swim *sw);

/* Output queues. Return true and fill *out while something is queued. */
bool veil_swim_pop_packet(veil_swim *sw, struct veil_swim_packet *out);
bool veil_swim_pop_event(veil_swim *sw, struct veil_swim_event *out);

/* Membership view: index 0 is this node. */
size_t veil_swim_member_count(const veil_swim *sw);
bool veil_swim_member_at(const veil_swim *sw, size_t i, struct veil_swim_member *out);
bool veil_swim_member_find(const veil_swim *sw, const uint8_t *id, size_t id_len,
                           struct veil_swim_member *out);
/* Members alive or suspect, this node included. */
size_t veil_swim_live_count(const veil_swim *sw);
uint32_t veil_swim_incarnation(const veil_swim *sw);
/* Lifeguard local health multiplier score, 0 (healthy) .. awareness_max_mult-1. */
uint32_t veil_swim_health_score(const veil_swim *sw);
void veil_swim_get_stats(const veil_swim *sw, struct veil_swim_stats *out);

/* Derived timing (for tests, benchmarks and the failure-detection bound). */
uint32_t veil_swim_retransmit_limit(const struct veil_swim_config *cfg, size_t n_members);
uint64_t veil_swim_suspicion_min_ms(const struct veil_swim_config *cfg, size_t n_members);
uint64_t veil_swim_suspicion_max_ms(const struct veil_swim_config *cfg, size_t n_members);
/* Suspicion timeout after `confirmations` independent confirmations. */
uint64_t veil_swim_suspicion_timeout_ms(const struct veil_swim_config *cfg, size_t n_members,
                                        uint32_t confirmations);

/* ------------------------------------------------------------------------ */
/* The libp2p protocol /veil/swim/1.0.0 on a veil_p2p host (swim_host.c)    */
/* ------------------------------------------------------------------------ */
/*
 * Members are named by their binary peer IDs and advertise a binary
 * multiaddr (without /p2p/). Each message travels as one uvarint-length-
 * prefixed frame on a long-lived outbound stream per peer; a peer we are not
 * connected to is dialed (and its peer ID checked) first. A message that
 * cannot be delivered is dropped, as a lost datagram would be: SWIM's
 * retries and suspicion cope with loss. Timers run on the host's uv loop.
 * Everything happens on the loop thread.
 */
struct veil_p2p_host;
typedef struct veil_swim_node veil_swim_node;
typedef void (*veil_swim_event_fn)(veil_swim_node *node, const struct veil_swim_event *ev,
                                   void *user_data);

struct veil_swim_attach_config {
    const struct veil_swim_config *swim; /* NULL = LAN defaults */
    const uint8_t *meta;                 /* this node's metadata (may be NULL) */
    size_t meta_len;
    /* Address to advertise (text multiaddr, e.g. "/ip4/10.0.0.5/tcp/4001");
     * NULL = the host's first listen address. */
    const char *advertise_addr;
    veil_swim_event_fn on_event; /* may be NULL */
    void *user_data;
};

/* Registers /veil/swim/1.0.0 on the host and starts the timers. The host
 * must be listening already unless advertise_addr is given. */
int veil_swim_attach(struct veil_p2p_host *host, const struct veil_swim_attach_config *cfg,
                     veil_swim_node **out, veil_err *err);
/* Joins the cluster of a seed ("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW..."; the
 * /p2p/ part is optional but then any peer at that address is accepted). */
int veil_swim_node_join(veil_swim_node *node, const char *seed_multiaddr, veil_err *err);
/* Starts a graceful leave; `done` runs once the leave announcement has been
 * sent out (or after `grace_ms`). Keep the loop running until then. */
void veil_swim_node_leave(veil_swim_node *node, uint64_t grace_ms, void (*done)(void *user_data),
                          void *user_data);
/* Stops the protocol: streams are reset, handlers removed, timers closed.
 * Call before veil_p2p_host_close. The node is freed once its uv handles are
 * closed (after the next loop iteration). */
void veil_swim_detach(veil_swim_node *node);
/* The state machine, for membership views and statistics (read only). */
const veil_swim *veil_swim_node_state(const veil_swim_node *node);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_SWIM_H */
