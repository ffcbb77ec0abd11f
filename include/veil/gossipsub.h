// SPDX-License-Identifier: Apache-2.0
/*
 * veil/gossipsub.h - gossipsub v1.1 publish/subscribe (libp2p/specs
 * pubsub/gossipsub/gossipsub-v1.0.md and gossipsub-v1.1.md), owned by the
 * gossipsub module (src/p2p/gossipsub*.c).
 *
 * The router (veil_gs) is a transport-agnostic state machine: it is fed the
 * RPC bytes of one peer (one frame, length prefix removed) together with the
 * current time and emits RPC bytes for peers through a callback. It never
 * blocks and never reads a clock itself, so tests drive many routers through
 * a simulated network with a virtual clock. veil_gossipsub_attach (below,
 * gossipsub_host.c) binds a router to a libp2p host (veil/p2p.h): streams,
 * framing and the heartbeat timer.
 *
 * Messages are StrictSign (gossipsub v1.1 "Message Signing"): `from` is the
 * author's peer ID bytes, `seqno` 8 bytes big-endian, and an Ed25519
 * signature over "libp2p-pubsub:" || the Message encoding without the
 * signature and key fields. Only Ed25519 (identity-multihash) peer IDs are
 * accepted as authors.
 */
#ifndef VEIL_GOSSIPSUB_H
#define VEIL_GOSSIPSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_GS_PROTO_MESHSUB_11 "/meshsub/1.1.0"
#define VEIL_GS_PROTO_MESHSUB_10 "/meshsub/1.0.0"
#define VEIL_GS_PROTO_FLOODSUB   "/floodsub/1.0.0"

/* Longest peer ID (bytes of the multihash) the router stores. */
#define VEIL_GS_PEER_ID_MAX 64
/* Longest message ID (custom functions included). */
#define VEIL_GS_MSG_ID_MAX 128
/* Longest topic name accepted from the wire. */
#define VEIL_GS_TOPIC_MAX 512

/* The protocol a peer's stream was negotiated with. */
enum veil_gs_peer_proto {
    VEIL_GS_MESHSUB_11 = 0,
    VEIL_GS_MESHSUB_10,
    VEIL_GS_FLOODSUB,
};

/* Which message ID function the router uses. All nodes of one network must
 * agree on it: go-libp2p uses from || seqno, js-libp2p (@libp2p/gossipsub 17
 * msgIdFnStrictSign) uses the author's PublicKey protobuf || seqno. */
enum veil_gs_msgid_kind {
    VEIL_GS_MSGID_FROM_SEQNO = 0,
    VEIL_GS_MSGID_PUBKEY_SEQNO,
    VEIL_GS_MSGID_CUSTOM,
};

/* A received or published message as seen by callbacks. */
struct veil_gs_message {
    const uint8_t *from; /* author peer ID bytes */
    size_t from_len;
    const uint8_t *data;
    size_t data_len;
    const uint8_t *seqno; /* 8 bytes */
    size_t seqno_len;
    const char *topic;
};

/* Custom message-ID function: writes at most VEIL_GS_MSG_ID_MAX bytes to
 * out and returns the length, or 0 to reject the message. */
typedef size_t (*veil_gs_msgid_fn)(void *ctx, const struct veil_gs_message *msg,
                                   uint8_t out[VEIL_GS_MSG_ID_MAX]);

/* Score parameters of one topic (gossipsub v1.1 "Topic Parameter
 * Calculation"); weights of penalties are negative. */
struct veil_gs_topic_score_params {
    double topic_weight;
    /* P1: time in mesh */
    double time_in_mesh_weight;
    uint64_t time_in_mesh_quantum_ms;
    double time_in_mesh_cap;
    /* P2: first message deliveries */
    double first_message_deliveries_weight;
    double first_message_deliveries_decay;
    double first_message_deliveries_cap;
    /* P3: mesh message delivery rate (0 weight disables) */
    double mesh_message_deliveries_weight;
    double mesh_message_deliveries_decay;
    double mesh_message_deliveries_cap;
    double mesh_message_deliveries_threshold;
    uint64_t mesh_message_deliveries_window_ms;
    uint64_t mesh_message_deliveries_activation_ms;
    /* P3b: mesh failure penalty */
    double mesh_failure_penalty_weight;
    double mesh_failure_penalty_decay;
    /* P4: invalid messages */
    double invalid_message_deliveries_weight;
    double invalid_message_deliveries_decay;
};

struct veil_gs_score_params {
    bool enabled;
    struct veil_gs_topic_score_params topic; /* applied to every topic */
    double topic_score_cap;                  /* 0 = no cap */
    /* P7: behaviour penalty (GRAFT in backoff, broken IWANT promises,
     * malformed RPCs) */
    double behaviour_penalty_weight;
    double behaviour_penalty_threshold;
    double behaviour_penalty_decay;
    uint64_t decay_interval_ms;
    double decay_to_zero;
    uint64_t retain_score_ms; /* keep a disconnected peer's counters */
    /* thresholds (gossipsub v1.1 "Score Thresholds") */
    double gossip_threshold;
    double publish_threshold;
    double graylist_threshold;
    double accept_px_threshold;
    /* v1.1 "Opportunistic Grafting": when the mesh's median score falls
     * below this, graft better-scored peers */
    double opportunistic_graft_threshold;
};

struct veil_gs_config {
    int d, d_lo, d_hi, d_lazy, d_score, d_out;
    uint64_t heartbeat_ms;
    uint64_t fanout_ttl_ms;
    int mcache_len, mcache_gossip;
    uint64_t seen_ttl_ms;
    uint64_t prune_backoff_ms;
    uint64_t unsubscribe_backoff_ms;
    int prune_peers; /* peers offered in PX */
    size_t max_rpc_size;
    int max_ihave_length;   /* message IDs asked for per heartbeat per peer */
    int max_ihave_messages; /* IHAVEs accepted per heartbeat per peer */
    uint64_t iwant_followup_ms;
    int gossip_retransmission;
    double gossip_factor;          /* IHAVE to max(D_lazy, factor x candidates) */
    int opportunistic_graft_ticks; /* heartbeats between opportunistic grafts */
    int opportunistic_graft_peers;
    bool flood_publish;
    bool do_px;
    size_t max_peers;
    size_t max_topics_per_peer;
    enum veil_gs_msgid_kind msgid_kind;
    veil_gs_msgid_fn msgid_custom;
    void *msgid_ctx;
    struct veil_gs_score_params score;
};

/* Fills the defaults of the spec and go-libp2p: D=6, D_lo=4, D_hi=12,
 * D_lazy=6, gossip factor 0.25, heartbeat 1 s, fanout TTL 60 s, mcache 5/3,
 * seen 2 min, prune backoff 60 s, 1 MiB RPCs, flood publishing, PX on,
 * opportunistic grafting of 2 peers every 60 heartbeats, js message IDs, and
 * scoring with P1, P2, P4 and P7 on (P3/P3b off: quiet topics are normal). */
void veil_gs_config_default(struct veil_gs_config *cfg);

typedef struct veil_gs veil_gs;

/* Called with each new valid message of a subscribed topic. */
typedef void (*veil_gs_message_cb)(void *ctx, const struct veil_gs_message *msg);

struct veil_gs_callbacks {
    /* Sends one RPC (protobuf bytes, no length prefix) to a peer. */
    void (*send_rpc)(void *ctx, const uint8_t *peer, size_t peer_len, const uint8_t *rpc,
                     size_t len);
    /* Peer exchange (PRUNE with PX from a well-scored peer): a peer worth
     * dialing. May be NULL. */
    void (*px_peer)(void *ctx, const uint8_t *peer, size_t peer_len);
    void *ctx;
};

/* Creates a router for the node whose Ed25519 secret key (libsodium form:
 * seed || public key) is `secret_key`. */
int veil_gs_new(veil_gs **out, const struct veil_gs_config *cfg, const uint8_t secret_key[64],
                const struct veil_gs_callbacks *cb, veil_err *err);
void veil_gs_free(veil_gs *gs);

/* The router's own peer ID bytes (00 24 08 01 12 20 || public key). */
size_t veil_gs_local_peer_id(const veil_gs *gs, uint8_t out[VEIL_GS_PEER_ID_MAX]);

/* A peer whose pubsub stream is open; sends it our subscriptions. */
int veil_gs_add_peer(veil_gs *gs, const uint8_t *peer, size_t peer_len,
                     enum veil_gs_peer_proto proto, bool outbound, uint64_t now_ms, veil_err *err);
void veil_gs_remove_peer(veil_gs *gs, const uint8_t *peer, size_t peer_len, uint64_t now_ms);
bool veil_gs_has_peer(const veil_gs *gs, const uint8_t *peer, size_t peer_len);

/* Handles one RPC from a peer. Malformed or abusive input never crashes: it
 * is counted as a behaviour penalty and reported as -1 with err. */
int veil_gs_handle_rpc(veil_gs *gs, const uint8_t *peer, size_t peer_len, const uint8_t *rpc,
                       size_t len, uint64_t now_ms, veil_err *err);

/* Runs mesh maintenance, gossip emission, cache shifting and score decay.
 * Call every cfg.heartbeat_ms. */
void veil_gs_heartbeat(veil_gs *gs, uint64_t now_ms);

int veil_gs_subscribe(veil_gs *gs, const char *topic, veil_gs_message_cb cb, void *cb_ctx,
                      uint64_t now_ms, veil_err *err);
int veil_gs_unsubscribe(veil_gs *gs, const char *topic, uint64_t now_ms, veil_err *err);
/* Signs and sends a message; the local subscriber callback is not called. */
int veil_gs_publish(veil_gs *gs, const char *topic, const void *data, size_t len, uint64_t now_ms,
                    veil_err *err);

/* Copies up to `cap` mesh peer IDs of a topic; returns how many there are. */
struct veil_gs_peer_id {
    uint8_t id[VEIL_GS_PEER_ID_MAX];
    size_t len;
};
size_t veil_gs_mesh_peers(const veil_gs *gs, const char *topic, struct veil_gs_peer_id *out,
                          size_t cap);
/* Peers known to be subscribed to a topic. */
size_t veil_gs_topic_peers(const veil_gs *gs, const char *topic, struct veil_gs_peer_id *out,
                           size_t cap);
/* Current score of a peer (0 for unknown peers). */
double veil_gs_peer_score(const veil_gs *gs, const uint8_t *peer, size_t peer_len, uint64_t now_ms);
/* True if a GRAFT to this peer on this topic is held back by a PRUNE backoff. */
bool veil_gs_in_backoff(const veil_gs *gs, const uint8_t *peer, size_t peer_len, const char *topic,
                        uint64_t now_ms);

struct veil_gs_stats {
    uint64_t rpcs_in, rpcs_out, rpcs_malformed;
    uint64_t msgs_delivered, msgs_duplicate, msgs_invalid, msgs_forwarded;
    uint64_t ihave_sent, iwant_sent, iwant_served, graft_sent, prune_sent;
    uint64_t broken_promises, opportunistic_grafts;
};
void veil_gs_get_stats(const veil_gs *gs, struct veil_gs_stats *out);

/* ---- wire helpers shared with tests and fuzzers ------------------------ */

/* Builds the signed, encoded Message for (topic, data, seqno) by the key
 * holder; `out` receives the Message protobuf (fields 1..5). */
int veil_gs_build_signed_message(veil_buf *out, const uint8_t secret_key[64], const char *topic,
                                 const void *data, size_t len, uint64_t seqno, veil_err *err);
/* Validates a StrictSign message (decoded fields); 0 if valid. */
int veil_gs_verify_message(const struct veil_gs_message *msg, const uint8_t *signature,
                           size_t sig_len, const uint8_t *key, size_t key_len, veil_err *err);
/* Ed25519 peer ID bytes from a public key; returns 38. */
size_t veil_gs_peer_id_from_pubkey(uint8_t out[VEIL_GS_PEER_ID_MAX], const uint8_t pk[32]);

/* ---- running on a libp2p host (gossipsub_host.c) ------------------------ */

struct veil_p2p_host;
typedef struct veil_gossipsub veil_gossipsub;

/* Serves /meshsub/1.1.0, /meshsub/1.0.0 and /floodsub/1.0.0 on the host:
 * every identified peer that lists one of them gets an outbound pubsub
 * stream (uvarint-prefixed RPCs, at most cfg->max_rpc_size each), inbound
 * streams feed the router, and a libuv timer runs the heartbeat. `cfg` may
 * be NULL for the defaults. The host must outlive the attachment. */
int veil_gossipsub_attach(struct veil_p2p_host *host, const struct veil_gs_config *cfg,
                          veil_gossipsub **out, veil_err *err);
/* Stops serving, closes the pubsub streams and frees (possibly later, from
 * the loop, once pending host callbacks have returned). */
void veil_gossipsub_detach(veil_gossipsub *g);
int veil_gossipsub_subscribe(veil_gossipsub *g, const char *topic, veil_gs_message_cb cb,
                             void *cb_ctx, veil_err *err);
int veil_gossipsub_unsubscribe(veil_gossipsub *g, const char *topic, veil_err *err);
int veil_gossipsub_publish(veil_gossipsub *g, const char *topic, const void *data, size_t len,
                           veil_err *err);
size_t veil_gossipsub_mesh_peers(const veil_gossipsub *g, const char *topic,
                                 struct veil_gs_peer_id *out, size_t cap);
/* Peers that announced the topic (whether or not in our mesh). */
size_t veil_gossipsub_topic_peers(const veil_gossipsub *g, const char *topic,
                                  struct veil_gs_peer_id *out, size_t cap);
/* Bytes of RPCs not yet handed to a connection (streams still opening or
 * backed up); a one-shot publisher waits for 0 before closing the host. */
size_t veil_gossipsub_pending_bytes(const veil_gossipsub *g);
/* How many times an outbound pubsub stream was reopened after it failed to
 * open or was lost while the peer stayed connected (bounded per peer, with
 * exponential backoff). */
uint64_t veil_gossipsub_stream_retries(const veil_gossipsub *g);
/* The router, for statistics and scores. */
veil_gs *veil_gossipsub_router(veil_gossipsub *g);
/* Called for peers learned by peer exchange (to dial them, e.g. through
 * Kademlia addresses); NULL to ignore PX. */
void veil_gossipsub_set_px_handler(veil_gossipsub *g,
                                   void (*fn)(void *ctx, const uint8_t *peer, size_t len),
                                   void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_GOSSIPSUB_H */
