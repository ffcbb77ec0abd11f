// SPDX-License-Identifier: Apache-2.0
/*
 * veil/p2p.h - Veil's libp2p stack (owned by the p2p core): identity keys and
 * peer IDs, multiaddrs, uvarint-length-prefixed message framing, and a host on
 * a libuv loop that speaks TCP + multistream-select 1.0 + Noise XX + yamux and
 * serves identify, identify push, ping and perf.
 *
 * Other protocols (gossipsub, Kademlia, SWIM) are built on this API: they
 * register protocol handlers, open streams to connected peers, and subscribe
 * to connection events with veil_p2p_host_add_listener().
 *
 * Typical use:
 *     struct veil_p2p_host_config cfg;
 *     veil_p2p_host_config_init(&cfg);
 *     cfg.key = &keypair;                        // veil_p2p_keypair_load()
 *     veil_p2p_host_new(loop, &cfg, &host, &err);
 *     veil_p2p_host_set_handler(host, "/my/1.0.0", on_stream, ctx, &err);
 *     veil_p2p_host_listen(host, &addr, &err);   // "/ip4/0.0.0.0/tcp/4001"
 *     veil_p2p_host_dial(host, &peer_addr, NULL, on_dialed, ctx, &err);
 *     // on_dialed: veil_p2p_conn_new_stream(conn, protos, n, on_open, ctx, &err)
 *     // on_open / on_stream: veil_p2p_stream_set_callbacks(), then
 *     //   veil_p2p_stream_write_lp() and a veil_p2p_lp_reader in on_data.
 *
 * Threading: everything runs on the host's uv_loop_t thread. No globals: all
 * state hangs off the veil_p2p_host the caller creates.
 *
 * Lifetimes: connections and streams are owned by the host. A stream handle
 * stays valid until its on_close callback returns or until the caller resets
 * it (veil_p2p_stream_reset); a connection handle stays valid until the
 * on_disconnected event has been delivered. Callbacks are never invoked from
 * inside the API call that caused them, except for the two close calls:
 * veil_p2p_conn_close and veil_p2p_host_close deliver the final on_close of
 * each stream and on_disconnected before they return.
 */
#ifndef VEIL_P2P_H
#define VEIL_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Identity keys (Ed25519, libsodium)                                       */
/* ------------------------------------------------------------------------ */

typedef struct veil_p2p_keypair {
    uint8_t public_key[32];
    uint8_t secret_key[64]; /* libsodium layout: seed || public key */
} veil_p2p_keypair;

int veil_p2p_keypair_generate(veil_p2p_keypair *kp, veil_err *err);
int veil_p2p_keypair_from_seed(veil_p2p_keypair *kp, const uint8_t seed[32], veil_err *err);
/* Key file: the libp2p PrivateKey protobuf (type Ed25519, 64-byte key), 0600. */
int veil_p2p_keypair_save(const veil_p2p_keypair *kp, const char *path, veil_err *err);
int veil_p2p_keypair_load(veil_p2p_keypair *kp, const char *path, veil_err *err);
/* Parses the PrivateKey protobuf bytes of a key file. */
int veil_p2p_keypair_decode(veil_p2p_keypair *kp, const uint8_t *data, size_t len, veil_err *err);
void veil_p2p_keypair_wipe(veil_p2p_keypair *kp);
void veil_p2p_keypair_sign(const veil_p2p_keypair *kp, const void *msg, size_t len,
                           uint8_t sig[64]);

/* The libp2p PublicKey protobuf of an Ed25519 key: 08 01 12 20 || key. */
#define VEIL_P2P_ED25519_PUBKEY_PB_LEN 36
void veil_p2p_pubkey_encode_ed25519(const uint8_t pk[32],
                                    uint8_t out[VEIL_P2P_ED25519_PUBKEY_PB_LEN]);
/* Parses a PublicKey protobuf; only Ed25519 keys are accepted (VEIL_E_UNSUPPORTED
 * for other key types). */
int veil_p2p_pubkey_decode_ed25519(const uint8_t *pb, size_t len, uint8_t pk[32], veil_err *err);
/* Verifies a signature made with the key in a PublicKey protobuf: Ed25519,
 * secp256k1, ECDSA or RSA (>= 2048 bits), as the peer-ids spec defines them.
 * Veil's own keys are Ed25519; the others are accepted from remote peers. */
int veil_p2p_pubkey_verify(const uint8_t *pb, size_t pb_len, const void *msg, size_t len,
                           const uint8_t *sig, size_t sig_len, veil_err *err);

/* ------------------------------------------------------------------------ */
/* Peer IDs (libp2p/specs peer-ids)                                         */
/* ------------------------------------------------------------------------ */

#define VEIL_P2P_PEER_ID_MAX      64  /* binary multihash */
#define VEIL_P2P_PEER_ID_TEXT_MAX 128 /* base58btc or CIDv1 text, with NUL */

typedef struct veil_p2p_peer_id {
    uint8_t len;
    uint8_t bytes[VEIL_P2P_PEER_ID_MAX]; /* multihash: identity (<=42-byte keys) or sha2-256 */
} veil_p2p_peer_id;

/* From an Ed25519 public key (identity multihash of its PublicKey protobuf). */
void veil_p2p_peer_id_from_ed25519(const uint8_t pk[32], veil_p2p_peer_id *out);
/* From any PublicKey protobuf: identity multihash if <= 42 bytes, else sha2-256. */
int veil_p2p_peer_id_from_pubkey_pb(const uint8_t *pb, size_t len, veil_p2p_peer_id *out,
                                    veil_err *err);
/* From binary multihash bytes (validated: identity or sha2-256, exact length). */
int veil_p2p_peer_id_from_bytes(const uint8_t *bytes, size_t len, veil_p2p_peer_id *out,
                                veil_err *err);
/* Parses base58btc ("12D3KooW...", "Qm...") or CIDv1 multibase base32
 * ("bafz..." with the libp2p-key codec 0x72). */
int veil_p2p_peer_id_parse(const char *text, veil_p2p_peer_id *out, veil_err *err);
/* base58btc text; returns length or -1 if out_cap is too small. */
long veil_p2p_peer_id_to_text(const veil_p2p_peer_id *id, char *out, size_t out_cap);
/* CIDv1 (libp2p-key) multibase base32 text ("b..."); returns length or -1. */
long veil_p2p_peer_id_to_cid_text(const veil_p2p_peer_id *id, char *out, size_t out_cap);
bool veil_p2p_peer_id_equal(const veil_p2p_peer_id *a, const veil_p2p_peer_id *b);
/* The Ed25519 key inlined in an identity-multihash peer ID; VEIL_E_UNSUPPORTED
 * if the ID is a hash or another key type. */
int veil_p2p_peer_id_ed25519_key(const veil_p2p_peer_id *id, uint8_t pk[32], veil_err *err);
/* Convenience for logs: base58 text into a static-size buffer. */
typedef struct veil_p2p_peer_id_text {
    char s[VEIL_P2P_PEER_ID_TEXT_MAX];
} veil_p2p_peer_id_text;
veil_p2p_peer_id_text veil_p2p_peer_id_str(const veil_p2p_peer_id *id);

/* ------------------------------------------------------------------------ */
/* Multiaddrs: ip4, ip6, tcp, dns4, dns6, dns, p2p (binary form stored)     */
/* ------------------------------------------------------------------------ */

#define VEIL_P2P_MULTIADDR_MAX      256
#define VEIL_P2P_MULTIADDR_TEXT_MAX 512

enum veil_p2p_ma_proto {
    VEIL_MA_IP4 = 4,
    VEIL_MA_TCP = 6,
    VEIL_MA_DNS = 53,
    VEIL_MA_DNS4 = 54,
    VEIL_MA_DNS6 = 55,
    VEIL_MA_IP6 = 41,
    VEIL_MA_P2P = 421,
};

typedef struct veil_p2p_multiaddr {
    size_t len;
    uint8_t bytes[VEIL_P2P_MULTIADDR_MAX];
} veil_p2p_multiaddr;

int veil_p2p_multiaddr_parse(const char *text, veil_p2p_multiaddr *out, veil_err *err);
/* Validates binary bytes (every component known and well-formed). */
int veil_p2p_multiaddr_from_bytes(const uint8_t *bytes, size_t len, veil_p2p_multiaddr *out,
                                  veil_err *err);
int veil_p2p_multiaddr_to_text(const veil_p2p_multiaddr *ma, char *out, size_t out_cap,
                               veil_err *err);
/* The peer ID of a trailing /p2p/ component; -1 with VEIL_E_NOTFOUND if none. */
int veil_p2p_multiaddr_peer_id(const veil_p2p_multiaddr *ma, veil_p2p_peer_id *out, veil_err *err);
/* Copy without a trailing /p2p/ component. */
void veil_p2p_multiaddr_strip_peer(const veil_p2p_multiaddr *ma, veil_p2p_multiaddr *out);
/* Copy with /p2p/<id> appended (replacing an existing trailing one). */
int veil_p2p_multiaddr_with_peer(const veil_p2p_multiaddr *ma, const veil_p2p_peer_id *id,
                                 veil_p2p_multiaddr *out, veil_err *err);
/* The TCP dial target: host text (IP literal or DNS name), port, and the
 * address family asked for (AF_INET, AF_INET6, or AF_UNSPEC for /dns/). */
int veil_p2p_multiaddr_tcp_target(const veil_p2p_multiaddr *ma, char *host, size_t host_cap,
                                  uint16_t *port, int *family, veil_err *err);
/* /ip4|ip6/<addr>/tcp/<port> from a socket address. */
int veil_p2p_multiaddr_from_sockaddr(const struct sockaddr *sa, veil_p2p_multiaddr *out,
                                     veil_err *err);
bool veil_p2p_multiaddr_equal(const veil_p2p_multiaddr *a, const veil_p2p_multiaddr *b);

/* ------------------------------------------------------------------------ */
/* uvarint-length-prefixed messages (identify, gossipsub, kad, swim)         */
/* ------------------------------------------------------------------------ */

/* Incremental reader: feed bytes as they arrive, take whole messages out. */
typedef struct veil_p2p_lp_reader {
    veil_buf buf;   /* unconsumed input */
    size_t pos;     /* start of the next message in buf */
    size_t max_len; /* messages longer than this are an error */
} veil_p2p_lp_reader;

void veil_p2p_lp_reader_init(veil_p2p_lp_reader *r, size_t max_len);
void veil_p2p_lp_reader_free(veil_p2p_lp_reader *r);
/* Appends received bytes. */
int veil_p2p_lp_reader_feed(veil_p2p_lp_reader *r, const void *data, size_t len, veil_err *err);
/* Returns 1 and borrows the next whole message (valid until the next feed or
 * next call), 0 if more bytes are needed, -1 on a malformed length prefix or
 * a message over max_len (VEIL_E_RANGE / VEIL_E_PARSE). */
int veil_p2p_lp_reader_next(veil_p2p_lp_reader *r, const uint8_t **msg, size_t *len, veil_err *err);
/* Feeds received bytes and hands every whole message, in order, to on_msg
 * (the message is borrowed for the call). Returns 0 once every whole message
 * was handled (a partial one stays buffered); -1 on a framing error, or as
 * soon as on_msg returns non-zero, leaving its error in err. This is the
 * on_data body of every stream that carries a sequence of messages. */
int veil_p2p_lp_reader_drain(veil_p2p_lp_reader *r, const void *data, size_t len,
                             int (*on_msg)(void *arg, const uint8_t *msg, size_t len,
                                           veil_err *err),
                             void *arg, veil_err *err);
/* True when no partial message is buffered (clean end of stream). */
bool veil_p2p_lp_reader_empty(const veil_p2p_lp_reader *r);
/* Appends uvarint(len) || msg to out. */
void veil_p2p_lp_put(veil_buf *out, const void *msg, size_t len);

/* ------------------------------------------------------------------------ */
/* Host                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct veil_p2p_host veil_p2p_host;
typedef struct veil_p2p_conn veil_p2p_conn;
typedef struct veil_p2p_stream veil_p2p_stream;

/* What identify told us about a peer. Borrowed; valid while the connection is. */
struct veil_p2p_peer_info {
    veil_p2p_peer_id id;
    const char *protocol_version; /* may be "" */
    const char *agent_version;    /* may be "" */
    const char *const *protocols;
    size_t n_protocols;
    const veil_p2p_multiaddr *listen_addrs;
    size_t n_listen_addrs;
    bool has_observed_addr;
    veil_p2p_multiaddr observed_addr;
};

/* Connection events. Several subsystems subscribe; every member may be NULL. */
struct veil_p2p_events {
    /* Secured and multiplexed; streams may be opened now. */
    void (*on_connected)(veil_p2p_host *host, veil_p2p_conn *conn, void *user_data);
    /* The connection is gone; its streams were closed first. */
    void (*on_disconnected)(veil_p2p_host *host, veil_p2p_conn *conn, void *user_data);
    /* identify (or identify push) arrived; info lists the remote's protocols. */
    void (*on_identified)(veil_p2p_host *host, veil_p2p_conn *conn,
                          const struct veil_p2p_peer_info *info, void *user_data);
};

/* Connection gater: return false to refuse a peer. Called once the remote's
 * peer ID is authenticated (after the Noise handshake), for inbound and
 * outbound connections. `remote` is the remote socket address. */
typedef bool (*veil_p2p_gater_fn)(veil_p2p_host *host, const veil_p2p_peer_id *peer,
                                  const veil_p2p_multiaddr *remote, bool inbound, void *user_data);

struct veil_p2p_host_config {
    const veil_p2p_keypair *key;     /* required; copied */
    const char *agent_version;       /* identify agentVersion; default "veil/<version>" */
    size_t max_connections;          /* all peers; default 256 */
    size_t max_connections_per_peer; /* default 2 */
    size_t max_streams_per_conn;     /* open streams per connection; default 256 */
    size_t max_inbound_backlog;      /* inbound streams open at once (further SYNs
                                        are reset); default 256 */
    uint32_t yamux_window;           /* receive window per stream; default 262144 */
    uint64_t keepalive_ms;           /* yamux ping interval; default 15000, 0 = off */
    uint64_t handshake_timeout_ms;   /* TCP connect + Noise + muxer; default 10000 */
    uint64_t negotiate_timeout_ms;   /* multistream for a stream; default 10000
                                        (checked once a second) */
    bool disable_identify, disable_ping, disable_perf;
    veil_p2p_gater_fn gater; /* NULL = accept everyone */
    void *gater_data;
};

void veil_p2p_host_config_init(struct veil_p2p_host_config *cfg);
int veil_p2p_host_new(uv_loop_t *loop, const struct veil_p2p_host_config *cfg, veil_p2p_host **out,
                      veil_err *err);
/* Closes every connection (as veil_p2p_conn_close) and listener; `done`
 * runs (from the loop) once all libuv handles are closed and the host is
 * freed. Dials still waiting for their callback are dropped silently. Detach
 * protocols built on the host (gossipsub, kad, swim) first. */
void veil_p2p_host_close(veil_p2p_host *host, void (*done)(void *user_data), void *user_data);

uv_loop_t *veil_p2p_host_loop(veil_p2p_host *host);
const veil_p2p_peer_id *veil_p2p_host_peer_id(const veil_p2p_host *host);
const veil_p2p_keypair *veil_p2p_host_keypair(const veil_p2p_host *host);

/* Event subscription; returns a positive id for remove, or -1. */
int veil_p2p_host_add_listener(veil_p2p_host *host, const struct veil_p2p_events *events,
                               void *user_data, veil_err *err);
void veil_p2p_host_remove_listener(veil_p2p_host *host, int id);
/* Replaces the gater (e.g. once the chain registry is loaded). */
void veil_p2p_host_set_gater(veil_p2p_host *host, veil_p2p_gater_fn gater, void *user_data);

/* Listens on /ip4|ip6/<addr>/tcp/<port> (port 0 = pick one). */
int veil_p2p_host_listen(veil_p2p_host *host, const veil_p2p_multiaddr *addr, veil_err *err);
/* The addresses actually bound (real ports), without /p2p/. Returns the count
 * (may exceed cap; only cap are written). */
size_t veil_p2p_host_listen_addrs(const veil_p2p_host *host, veil_p2p_multiaddr *out, size_t cap);

/* The addresses to tell others (identify): the listen addresses with an
 * unspecified IP (0.0.0.0, ::) replaced by each up interface's address of
 * that family (IPv6 link-local skipped). Returns the count (only cap are
 * written). */
size_t veil_p2p_host_announce_addrs(const veil_p2p_host *host, veil_p2p_multiaddr *out, size_t cap);

/* Dial result: conn is NULL on failure and err says why. If a connection to
 * the peer already exists it is reused. */
typedef void (*veil_p2p_dial_cb)(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err,
                                 void *user_data);
/* Dials a TCP multiaddr. The expected peer is `expect` if not NULL, else the
 * address's /p2p/ component; with neither, any peer is accepted. A peer that
 * authenticates as someone else fails with VEIL_E_MISMATCH. */
int veil_p2p_host_dial(veil_p2p_host *host, const veil_p2p_multiaddr *addr,
                       const veil_p2p_peer_id *expect, veil_p2p_dial_cb cb, void *user_data,
                       veil_err *err);

/* Connections. */
veil_p2p_conn *veil_p2p_host_find_conn(veil_p2p_host *host, const veil_p2p_peer_id *peer);
/* Fills out[] with up to cap live connections; returns the total count. */
size_t veil_p2p_host_conns(veil_p2p_host *host, veil_p2p_conn **out, size_t cap);
const veil_p2p_peer_id *veil_p2p_conn_peer(const veil_p2p_conn *conn);
const veil_p2p_multiaddr *veil_p2p_conn_remote_addr(const veil_p2p_conn *conn);
bool veil_p2p_conn_is_inbound(const veil_p2p_conn *conn);
/* NULL until identify has completed. */
const struct veil_p2p_peer_info *veil_p2p_conn_peer_info(const veil_p2p_conn *conn);
bool veil_p2p_conn_supports(const veil_p2p_conn *conn, const char *protocol);
/* Number of open streams on the connection. */
size_t veil_p2p_conn_stream_count(const veil_p2p_conn *conn);
/* Closes the connection (yamux GoAway, then the socket). Its streams get
 * on_close (with an error) and listeners on_disconnected before this returns;
 * bytes still queued on the socket are dropped. */
void veil_p2p_conn_close(veil_p2p_conn *conn);

/* ---- streams ---------------------------------------------------------- */

/* Inbound stream handler: a remote opened a stream and negotiated `protocol`.
 * The handler must set callbacks (veil_p2p_stream_set_callbacks) or reset it. */
typedef void (*veil_p2p_stream_handler_fn)(veil_p2p_stream *stream, const char *protocol,
                                           void *user_data);
/* Registers a handler (replacing one for the same protocol). Connected peers
 * are told with identify push. */
int veil_p2p_host_set_handler(veil_p2p_host *host, const char *protocol,
                              veil_p2p_stream_handler_fn fn, void *user_data, veil_err *err);
void veil_p2p_host_remove_handler(veil_p2p_host *host, const char *protocol);

/* Outbound stream result: stream is NULL on failure (err says why: the peer
 * refused every protocol -> VEIL_E_UNSUPPORTED). */
typedef void (*veil_p2p_open_cb)(veil_p2p_stream *stream, const char *protocol, const veil_err *err,
                                 void *user_data);
/* Opens a stream on an existing connection and negotiates the first protocol
 * of `protocols` the remote accepts. */
int veil_p2p_conn_new_stream(veil_p2p_conn *conn, const char *const *protocols, size_t n_protocols,
                             veil_p2p_open_cb cb, void *user_data, veil_err *err);
/* The same on the connection to `peer` (VEIL_E_NOTFOUND if not connected). */
int veil_p2p_host_new_stream(veil_p2p_host *host, const veil_p2p_peer_id *peer,
                             const char *const *protocols, size_t n_protocols, veil_p2p_open_cb cb,
                             void *user_data, veil_err *err);

struct veil_p2p_stream_callbacks {
    /* Bytes from the remote. */
    void (*on_data)(veil_p2p_stream *stream, const uint8_t *data, size_t len, void *user_data);
    /* The remote half-closed (FIN); no more on_data. */
    void (*on_eof)(veil_p2p_stream *stream, void *user_data);
    /* The write queue drained below the low-water mark (backpressure). */
    void (*on_writable)(veil_p2p_stream *stream, void *user_data);
    /* Final: both directions closed, remote reset, or connection lost (err
     * set for the last two). The handle is freed when this returns. */
    void (*on_close)(veil_p2p_stream *stream, const veil_err *err, void *user_data);
};
void veil_p2p_stream_set_callbacks(veil_p2p_stream *stream,
                                   const struct veil_p2p_stream_callbacks *cb, void *user_data);

/* Write completion: status 0 once the bytes were handed to the connection,
 * -1 if the stream closed first. */
typedef void (*veil_p2p_write_cb)(veil_p2p_stream *stream, int status, void *user_data);
/* Queues bytes (copied). Sending respects the remote's yamux window; data
 * waits in the stream's queue meanwhile (see veil_p2p_stream_write_queued). */
int veil_p2p_stream_write(veil_p2p_stream *stream, const void *data, size_t len,
                          veil_p2p_write_cb cb, void *user_data, veil_err *err);
/* Convenience: writes uvarint(len) || msg. */
int veil_p2p_stream_write_lp(veil_p2p_stream *stream, const void *msg, size_t len,
                             veil_p2p_write_cb cb, void *user_data, veil_err *err);
/* Bytes queued but not yet sent. */
size_t veil_p2p_stream_write_queued(const veil_p2p_stream *stream);
/* Half-close: FIN after the queued bytes. Reading continues. */
int veil_p2p_stream_close_write(veil_p2p_stream *stream, veil_err *err);
/* Abort: RST. The handle is invalid on return; no further callbacks. */
void veil_p2p_stream_reset(veil_p2p_stream *stream);
/* Backpressure on receive: while paused no window updates are sent, so the
 * remote stops after the window; on_data is not called. */
void veil_p2p_stream_pause_read(veil_p2p_stream *stream, bool paused);

const char *veil_p2p_stream_protocol(const veil_p2p_stream *stream);
veil_p2p_conn *veil_p2p_stream_conn(const veil_p2p_stream *stream);
const veil_p2p_peer_id *veil_p2p_stream_peer(const veil_p2p_stream *stream);
bool veil_p2p_stream_is_inbound(const veil_p2p_stream *stream);
void *veil_p2p_stream_user_data(const veil_p2p_stream *stream);

/* ------------------------------------------------------------------------ */
/* Built-in protocol clients                                                */
/* ------------------------------------------------------------------------ */

#define VEIL_P2P_PROTO_IDENTIFY      "/ipfs/id/1.0.0"
#define VEIL_P2P_PROTO_IDENTIFY_PUSH "/ipfs/id/push/1.0.0"
#define VEIL_P2P_PROTO_PING          "/ipfs/ping/1.0.0"
#define VEIL_P2P_PROTO_PERF          "/perf/1.0.0"

/* One ping round trip on a new stream; rtt in nanoseconds. */
typedef void (*veil_p2p_ping_cb)(veil_p2p_host *host, const veil_err *err, uint64_t rtt_ns,
                                 void *user_data);
int veil_p2p_ping(veil_p2p_host *host, const veil_p2p_peer_id *peer, veil_p2p_ping_cb cb,
                  void *user_data, veil_err *err);

struct veil_p2p_perf_result {
    uint64_t upload_bytes, download_bytes;
    uint64_t upload_ns;   /* start until the upload was acknowledged by the first reply byte */
    uint64_t download_ns; /* first reply byte until the end of the download */
    uint64_t total_ns;
};
typedef void (*veil_p2p_perf_cb)(veil_p2p_host *host, const veil_err *err,
                                 const struct veil_p2p_perf_result *result, void *user_data);
int veil_p2p_perf(veil_p2p_host *host, const veil_p2p_peer_id *peer, uint64_t upload_bytes,
                  uint64_t download_bytes, veil_p2p_perf_cb cb, void *user_data, veil_err *err);

/* Sends identify push to every connected peer (done automatically when the
 * handler set changes). */
void veil_p2p_host_identify_push(veil_p2p_host *host);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_P2P_H */
