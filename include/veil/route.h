// SPDX-License-Identifier: Apache-2.0
/*
 * veil/route.h - VeilNet routing (src/route/): how a Conflux node picks its
 * way to a peer of its realm, and how other nodes relay for it.
 *
 *   - The path selector (veil_route_sel): one per destination, owned by the
 *     caller, clock-free (every call takes now_ms) and I/O-free. It keeps a
 *     discounted estimate of each candidate path from the node's own probe
 *     and traffic observations (RTT, loss, reachability), priors from the
 *     summaries other nodes publish on Master, schedules a bounded number of
 *     probes, and switches paths with hysteresis. See docs/ROUTING.md.
 *   - The topology summary (veil_route_topo): what a node publishes on
 *     `veil.<realm>.topo.<node>`: its per-link observations, whether it
 *     relays, its reflexive address and NAT kind. Strict codec.
 *   - Onion paths (veil_route_onion_*): multi-hop ephemeral paths with one
 *     encryption layer per hop; a relay (veil_route_relay) peels one layer,
 *     learns only its previous and next hop, and enforces per-path limits.
 *   - Relay policy and NAT traversal decisions (veil_route_relay_allowed,
 *     veil_route_nat_plan).
 *   - The carrier (veil_route_carrier): a relay fed by an embedded agent's
 *     relay-cell datagram kind, forwarding on the agent's I/O thread.
 */
#ifndef VEIL_ROUTE_H
#define VEIL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "veil/anchor.h"
#include "veil/base.h"
#include "veil/embed.h"
#include "veil/overlay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Path selector                                                            */
/* ------------------------------------------------------------------------ */

#define VEIL_ROUTE_PATHS_MAX 16 /* candidate paths per destination */

struct veil_route_sel_config {
    uint32_t probe_active_ms;    /* 200: probe period of the path in use */
    uint32_t probe_idle_min_ms;  /* 500: first probe period of a spare path */
    uint32_t probe_idle_max_ms;  /* 8000: a stable spare path backs off to this */
    uint32_t dead_after_losses;  /* 3: consecutive losses that mark a path dead */
    uint32_t switch_ratio_pct;   /* 90: a better path costs under this % of the current */
    uint32_t switch_min_gain_us; /* 2000: ... and at least this much less */
    uint32_t switch_hold_ms;     /* 2000: ... continuously for this long */
    uint32_t rtt_tau_ms;         /* 2000: RTT estimate time constant (see select.c) */
    uint32_t loss_shift;         /* 6: loss = mean of the first 2^6 outcomes, then EWMA */
};

struct veil_route_path_state {
    uint32_t id;             /* the caller's name for the path */
    bool used;               /* slot holds a path */
    bool alive;              /* answered since its last run of losses */
    bool sampled;            /* has at least one own RTT sample */
    uint64_t srtt_us;        /* discounted RTT (own samples, else the prior) */
    uint32_t loss_ppm;       /* discounted loss, parts per million */
    uint32_t losses_in_row;  /* consecutive losses */
    uint32_t loss_samples;   /* outcomes in loss_ppm, capped at 2^loss_shift */
    uint32_t idle_period_ms; /* current probe period when not in use */
    uint64_t last_sample_ms; /* when the last RTT sample arrived */
    uint64_t next_probe_ms;  /* when the next probe is due */
};

struct veil_route_sel {
    struct veil_route_sel_config cfg;
    struct veil_route_path_state paths[VEIL_ROUTE_PATHS_MAX];
    int current;   /* index into paths, -1 when none */
    int candidate; /* the path clearly better than current, -1 if none */
    uint64_t candidate_since_ms;
    uint64_t switches; /* counters, for figures */
    uint64_t probes;
};

void veil_route_sel_config_default(struct veil_route_sel_config *cfg);
/* cfg NULL = defaults. Fails on an inconsistent configuration. */
int veil_route_sel_init(struct veil_route_sel *sel, const struct veil_route_sel_config *cfg,
                        veil_err *err) VEIL_WARN_UNUSED;
/* Adds a candidate path; prior_rtt_us (0 = none) seeds its cost until the
 * node's own samples arrive (e.g. composed from topo summaries). */
int veil_route_sel_add(struct veil_route_sel *sel, uint32_t id, uint64_t prior_rtt_us,
                       uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
int veil_route_sel_remove(struct veil_route_sel *sel, uint32_t id, veil_err *err) VEIL_WARN_UNUSED;
/* One observation on path `id`: delivered with rtt_us, or lost (the
 * caller's probe timeout passed, or traffic went unacknowledged). */
int veil_route_sel_report(struct veil_route_sel *sel, uint32_t id, bool delivered, uint64_t rtt_us,
                          uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
/* Paths whose probe is due at now_ms (at most cap ids into out); the
 * selector counts them as sent. Also applies time-based switching. */
size_t veil_route_sel_due(struct veil_route_sel *sel, uint64_t now_ms, uint32_t *out, size_t cap);
/* The path to send on; -1 (VEIL_E_NOTFOUND) when no path is alive. */
int veil_route_sel_current(const struct veil_route_sel *sel, uint32_t *id,
                           veil_err *err) VEIL_WARN_UNUSED;
/* The cost used for comparisons (RTT inflated by loss), or UINT64_MAX. */
uint64_t veil_route_sel_cost(const struct veil_route_sel *sel, uint32_t id);

/* ------------------------------------------------------------------------ */
/* Topology summary (`topo` subject)                                        */
/* ------------------------------------------------------------------------ */

#define VEIL_ROUTE_TOPO_LINKS_MAX 64
#define VEIL_ROUTE_TOPO_VERSION   1
#define VEIL_ROUTE_TOPO_MAX_BYTES (64 + VEIL_ROUTE_TOPO_LINKS_MAX * 48 + VEIL_ANCHOR_ADDR_MAX)

enum veil_route_nat {
    VEIL_ROUTE_NAT_NONE = 0,      /* public address, reachable directly */
    VEIL_ROUTE_NAT_CONE = 1,      /* one reflexive address for every peer: punchable */
    VEIL_ROUTE_NAT_SYMMETRIC = 2, /* reflexive address differs per peer: not punchable */
    VEIL_ROUTE_NAT_UNKNOWN = 3,
};

struct veil_route_link {
    uint8_t peer[VEIL_ANCHOR_KEY_BYTES]; /* the neighbour's identity */
    uint32_t rtt_us;                     /* discounted RTT to it */
    uint32_t loss_ppm;                   /* <= 1000000 */
    uint32_t tput_kbps;                  /* measured goodput, 0 = unknown */
};

struct veil_route_topo {
    uint8_t node[VEIL_ANCHOR_KEY_BYTES];
    uint64_t seq;       /* increases with every summary of this node */
    bool relay_willing; /* accepts relayed paths */
    enum veil_route_nat nat;
    size_t addr_len; /* reflexive address as peers see it (opaque), 0 = none */
    uint8_t addr[VEIL_ANCHOR_ADDR_MAX];
    size_t n_links; /* links sorted by peer, no duplicates */
    struct veil_route_link links[VEIL_ROUTE_TOPO_LINKS_MAX];
};

int veil_route_topo_encode(const struct veil_route_topo *t, veil_buf *out,
                           veil_err *err) VEIL_WARN_UNUSED;
int veil_route_topo_decode(struct veil_route_topo *t, const uint8_t *in, size_t len,
                           veil_err *err) VEIL_WARN_UNUSED;
/* The link a summary reports towards `peer`, or NULL. */
const struct veil_route_link *veil_route_topo_link(const struct veil_route_topo *t,
                                                   const uint8_t peer[VEIL_ANCHOR_KEY_BYTES]);

/* ------------------------------------------------------------------------ */
/* Relay policy and NAT traversal                                           */
/* ------------------------------------------------------------------------ */

/* A node may serve as relay between src and dst only when it is willing, is
 * in their realm and satisfies the containment rule with each of them. */
bool veil_route_relay_allowed(const struct veil_anchor_cred_info *src,
                              const struct veil_anchor_cred_info *relay,
                              const struct veil_anchor_cred_info *dst, bool relay_willing);

enum veil_route_nat_plan {
    VEIL_ROUTE_PLAN_DIRECT = 0, /* one side is public: connect to it */
    VEIL_ROUTE_PLAN_PUNCH = 1,  /* both send to the other's reflexive address at once */
    VEIL_ROUTE_PLAN_RELAY = 2,  /* neither: go through a willing member */
};
enum veil_route_nat_plan veil_route_nat_plan(enum veil_route_nat a, enum veil_route_nat b);

/* One peer's report of the address this node's packets came from. */
struct veil_route_reflex {
    size_t addr_len;
    uint8_t addr[VEIL_ANCHOR_ADDR_MAX];
};

/* Classifies this node's NAT from what n peers report (`local` is the
 * address the node bound): the bound address itself = NONE; one address for
 * all = CONE; several = SYMMETRIC; fewer than two reports = UNKNOWN. */
enum veil_route_nat veil_route_nat_classify(const uint8_t *local, size_t local_len,
                                            const struct veil_route_reflex *seen, size_t n);

/* Path signalling on veil.<realm>.path.<dst>.<src> (Master authenticates
 * the publisher; src/dst must match the subject's tokens). */
enum veil_route_signal_type {
    VEIL_ROUTE_SIG_PUNCH_OFFER = 1,  /* "send to me at addr from at_ms on" */
    VEIL_ROUTE_SIG_PUNCH_ANSWER = 2, /* the same, back */
    VEIL_ROUTE_SIG_RELAY_ASK = 3,    /* will you relay for me (limits follow in-band) */
    VEIL_ROUTE_SIG_RELAY_OK = 4,
    VEIL_ROUTE_SIG_RELAY_NO = 5,
};
#define VEIL_ROUTE_SIGNAL_MAX_BYTES (4 + 32 + 32 + 8 + 8 + 1 + 1 + VEIL_ANCHOR_ADDR_MAX)

struct veil_route_signal {
    enum veil_route_signal_type type;
    uint8_t src[VEIL_ANCHOR_KEY_BYTES];
    uint8_t dst[VEIL_ANCHOR_KEY_BYTES];
    uint64_t nonce; /* pairs an answer with its offer */
    uint64_t at_ms; /* punch: when both sides start sending (shared clock base: Master's) */
    enum veil_route_nat nat;
    size_t addr_len; /* the sender's reflexive address */
    uint8_t addr[VEIL_ANCHOR_ADDR_MAX];
};

int veil_route_signal_encode(const struct veil_route_signal *s, veil_buf *out,
                             veil_err *err) VEIL_WARN_UNUSED;
int veil_route_signal_decode(struct veil_route_signal *s, const uint8_t *in, size_t len,
                             veil_err *err) VEIL_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Onion paths and relays                                                   */
/* ------------------------------------------------------------------------ */

#define VEIL_ROUTE_HOPS_MAX    4   /* relays + destination */
#define VEIL_ROUTE_LAYER_BYTES 128 /* one hop's sealed setup layer */
#define VEIL_ROUTE_SETUP_BYTES (1 + 8 + VEIL_ROUTE_HOPS_MAX * VEIL_ROUTE_LAYER_BYTES)
#define VEIL_ROUTE_DATA_HEADER 17 /* type, path id, counter */
#define VEIL_ROUTE_LAYER_TAG   16 /* the destination's tag: all a data cell adds to its payload */
#define VEIL_ROUTE_CELL_MAX    65535

enum veil_route_cell_type { VEIL_ROUTE_CELL_SETUP = 1, VEIL_ROUTE_CELL_DATA = 2 };

/* Per-path limits a relay grants (and the source asks for). */
struct veil_route_limits {
    uint64_t max_bytes;    /* total payload bytes over the path's life */
    uint32_t rate_bytes_s; /* token bucket refill; burst = one second */
    uint32_t idle_ms;      /* retired after this long without traffic */
};

/* One hop of a path as the source sees it. */
struct veil_route_hop {
    uint8_t identity[VEIL_ANCHOR_KEY_BYTES]; /* Ed25519 public key */
};

/* The DATA layers' OpenSSL contexts (src/route/route_cipher.c). */
struct veil_route_cipher;

/* The source's side of one path: per-hop keys and the cipher contexts
 * (made by the first _wrap), both released by _wipe: wipe a path before
 * building it again. */
struct veil_route_onion {
    size_t n_hops;
    uint8_t first_hop[VEIL_ANCHOR_KEY_BYTES];
    uint64_t first_id; /* path id on the link to the first hop */
    uint64_t counter;  /* next data counter */
    uint8_t keys[VEIL_ROUTE_HOPS_MAX][32];
    struct veil_route_cipher *cipher;
};

/* Builds a path through hops[0..n-1] (the last is the destination) and
 * writes its SETUP cell (VEIL_ROUTE_SETUP_BYTES) to cell; send it to
 * hops[0]. src_sk is the source's 64-byte Ed25519 secret key (libsodium
 * layout, seed || public key): its identity is revealed only to the
 * destination, with a MAC under their static X25519 agreement that proves
 * it (the destination refuses a path whose named source did not make it). */
int veil_route_onion_build(struct veil_route_onion *o, const uint8_t src_sk[64],
                           const struct veil_route_hop *hops, size_t n,
                           const struct veil_route_limits *limits, uint8_t *cell,
                           veil_err *err) VEIL_WARN_UNUSED;
/* Wraps payload into a DATA cell for the first hop: sealed for the
 * destination (ChaCha20-Poly1305), then one AES-256-CTR layer per relay, so
 * the cell keeps its size on every hop; *out_len = VEIL_ROUTE_DATA_HEADER +
 * len + VEIL_ROUTE_LAYER_TAG. payload may overlap out. */
int veil_route_onion_wrap(struct veil_route_onion *o, const uint8_t *payload, size_t len,
                          uint8_t *out, size_t out_cap, size_t *out_len,
                          veil_err *err) VEIL_WARN_UNUSED;
void veil_route_onion_wipe(struct veil_route_onion *o);

#define VEIL_ROUTE_RELAY_PATHS_MAX 64
#define VEIL_ROUTE_REPLAY_WORDS    16 /* 1024 counter bits, 960 usable */

struct veil_route_relay_entry {
    bool used;
    bool terminal; /* this node is the destination */
    uint8_t prev[VEIL_ANCHOR_KEY_BYTES];
    uint64_t in_id;
    uint8_t next[VEIL_ANCHOR_KEY_BYTES]; /* the source, when terminal */
    uint64_t out_id;
    uint8_t key[32];
    uint64_t max_counter; /* replay window: highest seen */
    /* ring of counter bits (bit c % bits), the last ~1k counters: a source's
     * two overlay threads send batches of 64 that may overtake each other */
    uint64_t window[VEIL_ROUTE_REPLAY_WORDS];
    struct veil_route_limits limits;
    uint64_t bytes;
    uint64_t tokens;
    uint64_t last_ms;
};

struct veil_route_relay_config {
    size_t max_paths;             /* total (<= VEIL_ROUTE_RELAY_PATHS_MAX) */
    size_t max_paths_per_prev;    /* paths one previous hop may open */
    struct veil_route_limits cap; /* the most a relay grants any path */
};

/* A node's relay (and destination) state: caller-owned; keys wiped by _wipe. */
struct veil_route_relay {
    struct veil_route_relay_config cfg;
    uint8_t x_sk[32]; /* X25519 form of the node's Ed25519 key */
    uint8_t x_pk[32];
    uint8_t ed_pk[32]; /* the node's identity (source MACs name it) */
    struct veil_route_relay_entry paths[VEIL_ROUTE_RELAY_PATHS_MAX];
    struct veil_route_cipher *cipher; /* made by _init, freed by _wipe */
};

/* What a relay does with a cell. */
struct veil_route_action {
    bool deliver;                        /* terminal: payload is for us */
    uint8_t peer[VEIL_ANCHOR_KEY_BYTES]; /* next hop, or the source when deliver */
    size_t out_len;                      /* bytes written to out */
};

void veil_route_relay_config_default(struct veil_route_relay_config *cfg);
/* ed_sk: the node's 64-byte Ed25519 secret key (libsodium layout). */
int veil_route_relay_init(struct veil_route_relay *r, const struct veil_route_relay_config *cfg,
                          const uint8_t ed_sk[64], veil_err *err) VEIL_WARN_UNUSED;
/* Handles one cell from `prev` (an authenticated Anchor peer of the realm).
 * SETUP: peels this hop's layer; forwards the re-padded cell to the next hop
 * or, at the destination, delivers (out = nothing). DATA: a relay removes
 * its AES-256-CTR layer in one pass from cell into out (same size, its
 * outgoing link id) and forwards it; the destination opens its
 * ChaCha20-Poly1305 layer and delivers the plaintext. Fails on anything
 * malformed, unknown, replayed or over a limit, and at the destination on a
 * cell that does not authenticate (a relay cannot tell a tampered cell). */
int veil_route_relay_handle(struct veil_route_relay *r, const uint8_t prev[VEIL_ANCHOR_KEY_BYTES],
                            const uint8_t *cell, size_t len, uint64_t now_ms, uint8_t *out,
                            size_t out_cap, struct veil_route_action *act,
                            veil_err *err) VEIL_WARN_UNUSED;
/* Retires paths idle past their limit; returns how many. */
size_t veil_route_relay_expire(struct veil_route_relay *r, uint64_t now_ms);
size_t veil_route_relay_count(const struct veil_route_relay *r);
void veil_route_relay_wipe(struct veil_route_relay *r);

/* ------------------------------------------------------------------------ */
/* Relay cells on an embedded agent (carrier.c)                             */
/* ------------------------------------------------------------------------ */

/* Cells travel as the agent's own Anchor datagram kind (veil_embed_send_cell),
 * not as application datagrams: the agent hands each received cell to this
 * node's relay on its I/O thread, and a forwarded cell leaves with the rest
 * of that received batch (one sendmmsg). Payloads for this node (it is a
 * path's destination) wait in a bounded inbox (1024). */
typedef struct veil_route_carrier veil_route_carrier;

struct veil_route_carrier_stats {
    uint64_t cells_in;    /* cells the agent handed over */
    uint64_t forwarded;   /* peeled and sent to the next hop */
    uint64_t delivered;   /* payloads for this node */
    uint64_t refused;     /* malformed, unknown, replayed or over a limit */
    uint64_t send_failed; /* no session with the next hop */
    uint64_t dropped;     /* inbox full */
};

/* Installs the relay (cfg NULL = defaults; ed_sk the node's Ed25519 secret
 * key) as e's cell handler. Free it only after veil_embed_stop(e). */
veil_route_carrier *veil_route_carrier_attach(veil_embed *e,
                                              const struct veil_route_relay_config *cfg,
                                              const uint8_t ed_sk[64],
                                              veil_err *err) VEIL_WARN_UNUSED;
void veil_route_carrier_free(veil_route_carrier *c);
/* Sends a cell built by veil_route_onion_build/_wrap to the path's first hop. */
int veil_route_carrier_send(veil_route_carrier *c, const uint8_t first_hop[VEIL_ANCHOR_KEY_BYTES],
                            const void *cell, size_t len, veil_err *err) VEIL_WARN_UNUSED;
/* Waits up to timeout_ms (-1 = forever) for a payload delivered to this
 * node; its length (the path's source into src) or -1 (VEIL_E_TIMEOUT, or
 * VEIL_E_RANGE when larger than cap: dropped). */
long veil_route_carrier_recv(veil_route_carrier *c, uint8_t src[VEIL_ANCHOR_KEY_BYTES], void *buf,
                             size_t cap, int timeout_ms, veil_err *err) VEIL_WARN_UNUSED;
void veil_route_carrier_get_stats(veil_route_carrier *c, struct veil_route_carrier_stats *out);

/* ------------------------------------------------------------------------ */
/* Routing for the TUN overlay (overlay_route.c)                            */
/* ------------------------------------------------------------------------ */

/* A node's routing host on a system-mode overlay (`veil conflux up --tun`):
 * one selector per member of the realm over the direct path and "via R"
 * for every willing member R whose summary reports a live link to it (and
 * "via R then R2" when no such R is one this node reaches);
 * probes (overlay kind 2) measure each member's direct link and carry back
 * the reflexive address the member sees; the "via R" estimate is the own
 * RTT to R plus R's summarized RTT to the destination. When the selection
 * is a relay, the host builds an onion path (SETUP cell through R) and the
 * overlay hands it the destination's TUN packets (egress hook), which leave
 * as DATA cells (overlay kind 1); every node relays (peels one layer) and
 * delivers cells whose destination it is. Owns no thread: the caller calls
 * veil_route_overlay_tick every few tens of milliseconds. */
typedef struct veil_route_overlay veil_route_overlay;

/* A probe (overlay kind 2) and its answer, which carries the reflexive
 * address the member saw the probe come from (probe.c; strict, fuzzed). */
#define VEIL_ROUTE_PROBE_ASK       1
#define VEIL_ROUTE_PROBE_ANSWER    2
#define VEIL_ROUTE_PROBE_MAX_BYTES (10 + 1 + VEIL_ANCHOR_ADDR_MAX)
struct veil_route_probe {
    uint8_t type;
    uint64_t nonce;
    size_t addr_len; /* answers only */
    uint8_t addr[VEIL_ANCHOR_ADDR_MAX];
};
int veil_route_probe_encode(const struct veil_route_probe *p, uint8_t *out, size_t cap,
                            size_t *out_len, veil_err *err) VEIL_WARN_UNUSED;
int veil_route_probe_decode(struct veil_route_probe *p, const uint8_t *in, size_t len,
                            veil_err *err) VEIL_WARN_UNUSED;

#define VEIL_ROUTE_OVERLAY_MEMBERS_MAX 64
/* What a relayed path adds to a TUN packet, whatever its number of relays:
 * the kind byte, the DATA cell header and the destination's tag (relays'
 * layers add nothing). A host leaves this much room under its TUN MTU so
 * relayed packets are never fragmented. */
#define VEIL_ROUTE_OVERLAY_RELAY_OVERHEAD (1 + VEIL_ROUTE_DATA_HEADER + VEIL_ROUTE_LAYER_TAG)

struct veil_route_overlay_config {
    const uint8_t *ed_sk;      /* the node's 64-byte Ed25519 secret key */
    bool relay_willing;        /* relays for others (advertised in its summary) */
    const uint8_t *local_addr; /* the endpoint it declares (sockaddr bytes), for NAT class */
    size_t local_addr_len;
    uint32_t probe_timeout_ms; /* 0 = 300 */
    uint32_t fresh_ms;         /* 0 = 3000: a summary or a link older than this is stale */
    uint32_t rebuild_ms;       /* 0 = 15000: a relayed path gets fresh keys this often */
};

struct veil_route_overlay_stats {
    uint64_t probes_sent, probes_answered, probes_lost;
    uint64_t paths_built, switches;
    uint64_t cells_forwarded, cells_delivered, cells_refused, cells_sent;
    uint64_t summaries_applied, candidates;
    uint64_t punch_offers, punch_answers, punches; /* signals sent, punches done */
    uint64_t send_failed;  /* datagrams the overlay refused (no session yet, queue full) */
    uint64_t errors;       /* calls the selector or the overlay refused */
    uint32_t relayed_dsts; /* destinations currently reached through a relay */
    enum veil_route_nat nat;
};

/* Installs itself as the overlay's kind and egress hooks. Free it only
 * after the overlay stopped. */
veil_route_overlay *veil_route_overlay_new(veil_overlay *o,
                                           const struct veil_route_overlay_config *cfg,
                                           veil_err *err) VEIL_WARN_UNUSED;
void veil_route_overlay_free(veil_route_overlay *r);
/* A member to reach (already a peer of the overlay). */
int veil_route_overlay_add_member(veil_route_overlay *r, const uint8_t id[VEIL_ANCHOR_KEY_BYTES],
                                  uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
void veil_route_overlay_remove_member(veil_route_overlay *r,
                                      const uint8_t id[VEIL_ANCHOR_KEY_BYTES]);
/* A member's summary (its identity already bound to the publisher by the
 * caller); an unknown node is refused. */
int veil_route_overlay_apply_summary(veil_route_overlay *r, const struct veil_route_topo *t,
                                     uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
/* Probes, timeouts, path choice and (re)building. */
void veil_route_overlay_tick(veil_route_overlay *r, uint64_t now_ms);
/* This node's summary: fresh links, NAT class, reflexive address. */
int veil_route_overlay_summary(veil_route_overlay *r, const uint8_t self[VEIL_ANCHOR_KEY_BYTES],
                               uint64_t now_ms, veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;
/* Path signals this node wants published (punch offers and answers, each
 * on veil.<realm>.path.<dst>.<this node>): pops up to cap into out. */
size_t veil_route_overlay_signals(veil_route_overlay *r, struct veil_route_signal *out, size_t cap);
/* A signal from a member (the caller bound s->src to the subject's
 * publisher; s->dst must be this node): an offer is answered and both sides
 * punch at its at_ms (veil_overlay_punch), an answer schedules ours. */
int veil_route_overlay_on_signal(veil_route_overlay *r, const struct veil_route_signal *s,
                                 uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;
/* The path in use to a member: 0 direct, 1 or 2 through that many relays
 * (their identities into via[0], via[1], in path order), -1 none alive or
 * unknown member. */
int veil_route_overlay_path(veil_route_overlay *r, const uint8_t dst[VEIL_ANCHOR_KEY_BYTES],
                            uint8_t via[2][VEIL_ANCHOR_KEY_BYTES]);
void veil_route_overlay_get_stats(veil_route_overlay *r, struct veil_route_overlay_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_ROUTE_H */
