// SPDX-License-Identifier: Apache-2.0
/*
 * p2p_internal.h (p2p core) - private pieces of the connection stack shared
 * by the host and its unit tests and fuzzers: the Noise XX handshake and
 * transport ciphers, multistream-select line codec, yamux frame header codec,
 * and the hooks the built-in protocols (identify, ping, perf) use.
 */
#ifndef VEIL_P2P_INTERNAL_H
#define VEIL_P2P_INTERNAL_H

#include <veil/p2p.h>

/* ---- Noise XX (libp2p/specs noise/README.md) ------------------------------ */

#define VEIL_NOISE_PROTOCOL      "/noise"
#define VEIL_NOISE_MAX_FRAME     65535 /* 2-byte length prefix */
#define VEIL_NOISE_TAG           16
#define VEIL_NOISE_MAX_PLAINTEXT (VEIL_NOISE_MAX_FRAME - VEIL_NOISE_TAG)

typedef struct veil_noise_cipher {
    uint8_t k[32];
    uint64_t n;
    void *ctx; /* OpenSSL EVP_CIPHER_CTX, created on first use */
} veil_noise_cipher;

void veil_noise_cipher_init(veil_noise_cipher *c, const uint8_t key[32]);
/* Frees the context and wipes the key. */
void veil_noise_cipher_free(veil_noise_cipher *c);

typedef struct veil_noise_hs {
    bool initiator;
    int step; /* messages processed so far: 0..3 */
    uint8_t h[32], ck[32], k[32];
    bool has_k;
    uint64_t n;
    uint8_t s_priv[32], s_pub[32]; /* static X25519 key (not the identity key) */
    uint8_t e_priv[32], e_pub[32];
    uint8_t re[32], rs[32];
    veil_p2p_keypair identity;
    veil_p2p_peer_id remote_id; /* valid after the remote's payload was verified */
    /* Test hook: sign a different static key than the one used (a lying peer). */
    bool test_bad_signature;
} veil_noise_hs;

void veil_noise_hs_init(veil_noise_hs *hs, bool initiator, const veil_p2p_keypair *identity);
void veil_noise_hs_wipe(veil_noise_hs *hs);
/* Writes our next handshake message body (no length prefix) to out. */
int veil_noise_hs_write(veil_noise_hs *hs, veil_buf *out, veil_err *err);
/* Processes the remote's next handshake message body. */
int veil_noise_hs_read(veil_noise_hs *hs, const uint8_t *msg, size_t len, veil_err *err);
bool veil_noise_hs_done(const veil_noise_hs *hs);
/* Our turn to write? */
bool veil_noise_hs_our_turn(const veil_noise_hs *hs);
/* After the third message: transport ciphers (wipes the handshake state). */
void veil_noise_hs_split(veil_noise_hs *hs, veil_noise_cipher *send, veil_noise_cipher *recv);

/* Appends one transport frame (2-byte length || ciphertext) for len <=
 * VEIL_NOISE_MAX_PLAINTEXT bytes; frame2 takes the plaintext in two pieces
 * (a yamux header and its data), saving the copy that would join them. */
int veil_noise_encrypt_frame2(veil_noise_cipher *c, const uint8_t *a, size_t alen,
                              const uint8_t *b, size_t blen, veil_buf *out, veil_err *err);
int veil_noise_encrypt_frame(veil_noise_cipher *c, const uint8_t *plain, size_t len, veil_buf *out,
                             veil_err *err);
/* Decrypts one frame body (without the length prefix) into out (appended). */
int veil_noise_decrypt(veil_noise_cipher *c, const uint8_t *frame, size_t len, veil_buf *out,
                       veil_err *err);
/* Parses and verifies a NoiseHandshakePayload against the remote static key. */
int veil_noise_verify_payload(const uint8_t *payload, size_t len, const uint8_t remote_static[32],
                              veil_p2p_peer_id *remote_id, veil_err *err);

/* ---- multistream-select 1.0 (libp2p/specs connections) ------------------ */

#define VEIL_MSS_HEADER   "/multistream/1.0.0"
#define VEIL_MSS_MAX_LINE 1024

/* Appends uvarint(len+1) || line || '\n'. */
void veil_mss_put_line(veil_buf *out, const char *line);
/* Parses one line at the start of data: 1 with the line (without '\n', NUL
 * terminated into line[VEIL_MSS_MAX_LINE]) and *consumed set, 0 if more bytes
 * are needed, -1 on malformed input (bad length prefix, no trailing newline,
 * oversize, embedded NUL). */
int veil_mss_parse_line(const uint8_t *data, size_t len, char line[VEIL_MSS_MAX_LINE],
                        size_t *consumed, veil_err *err);

/* ---- yamux (hashicorp/yamux spec.md) ------------------------------------ */

#define VEIL_YAMUX_PROTOCOL       "/yamux/1.0.0"
#define VEIL_YAMUX_HEADER_LEN     12
#define VEIL_YAMUX_INITIAL_WINDOW 262144u

enum veil_yamux_type {
    VEIL_YAMUX_DATA = 0,
    VEIL_YAMUX_WINDOW_UPDATE = 1,
    VEIL_YAMUX_PING = 2,
    VEIL_YAMUX_GO_AWAY = 3,
};
enum veil_yamux_flags {
    VEIL_YAMUX_SYN = 1,
    VEIL_YAMUX_ACK = 2,
    VEIL_YAMUX_FIN = 4,
    VEIL_YAMUX_RST = 8,
};
enum veil_yamux_goaway {
    VEIL_YAMUX_GOAWAY_NORMAL = 0,
    VEIL_YAMUX_GOAWAY_PROTOCOL = 1,
    VEIL_YAMUX_GOAWAY_INTERNAL = 2,
};

typedef struct veil_yamux_header {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t stream_id;
    uint32_t length;
} veil_yamux_header;

void veil_yamux_header_bytes(uint8_t h[VEIL_YAMUX_HEADER_LEN], uint8_t type, uint16_t flags,
                             uint32_t stream_id, uint32_t length);
void veil_yamux_put_header(veil_buf *out, uint8_t type, uint16_t flags, uint32_t stream_id,
                           uint32_t length);
/* Parses and validates a 12-byte header (version 0, known type, flags
 * allowed for the type, stream id 0 exactly for ping/go-away). */
int veil_yamux_parse_header(const uint8_t in[VEIL_YAMUX_HEADER_LEN], veil_yamux_header *h,
                            veil_err *err);

/* ---- host internals used by the built-in protocols ---------------------- */

/* Current monotonic time in ns. */
uint64_t veil_p2p_now_ns(void);
/* Installs the identify/ping/perf handlers (host.c calls these). */
int veil_p2p_identify_install(veil_p2p_host *host, veil_err *err);
int veil_p2p_ping_install(veil_p2p_host *host, veil_err *err);
int veil_p2p_perf_install(veil_p2p_host *host, veil_err *err);
/* Starts identify towards a new connection (host.c calls it). */
void veil_p2p_identify_start(veil_p2p_host *host, veil_p2p_conn *conn);
/* Builds our Identify message for a connection. */
int veil_p2p_identify_build(veil_p2p_host *host, veil_p2p_conn *conn, veil_buf *out, veil_err *err);
/* A decoded Identify message (all heap-owned). */
struct veil_p2p_identify_decoded {
    char *protocol_version, *agent_version;
    char **protocols;
    size_t n_protocols;
    veil_p2p_multiaddr *addrs;
    size_t n_addrs;
    bool has_observed;
    veil_p2p_multiaddr observed;
};
/* Decodes and validates an Identify message from `peer` (its publicKey must
 * be the peer's); for a push, fields left out keep their `old` values. */
int veil_p2p_identify_decode(const uint8_t *msg, size_t len, const veil_p2p_peer_id *peer,
                             const struct veil_p2p_peer_info *old, bool push,
                             struct veil_p2p_identify_decoded *out, veil_err *err);
void veil_p2p_identify_decoded_free(struct veil_p2p_identify_decoded *d);
/* Parses an Identify message into the connection's peer info and reports it. */
int veil_p2p_identify_apply(veil_p2p_host *host, veil_p2p_conn *conn, const uint8_t *msg,
                            size_t len, bool push, veil_err *err);
/* Registered protocol ids (for identify). Returns the count; fills up to cap. */
size_t veil_p2p_host_protocols(veil_p2p_host *host, const char **out, size_t cap);
const char *veil_p2p_host_agent(const veil_p2p_host *host);
/* Stores identify results on a connection and fires on_identified. */
void veil_p2p_conn_set_peer_info(veil_p2p_conn *conn, char *protocol_version, char *agent_version,
                                 char **protocols, size_t n_protocols, veil_p2p_multiaddr *addrs,
                                 size_t n_addrs, const veil_p2p_multiaddr *observed);
/* Test hook: processes `plain` as if the remote had sent it (decrypted
 * yamux bytes), to drive the session with malformed frames. */
void veil_p2p_conn_test_inject(veil_p2p_conn *conn, const uint8_t *plain, size_t len);
/* Test hook: the next connections sign the wrong static key (lying peer). */
void veil_p2p_host_test_lie_about_key(veil_p2p_host *host, bool lie);

/* ---- inbound streams of the framed protocol hosts (lp.c) -------------------- */

/* gossipsub, Kademlia and SWIM hosts each kept a list of inbound
 * uvarint-framed streams with the same lifecycle (record per stream, frames
 * drained on data, dropped on close or a bad frame, reset on detach); this
 * is that lifecycle once. The host's admission checks stay in the host. */
typedef struct veil_p2p_lp_inbound veil_p2p_lp_inbound;

struct veil_p2p_lp_inbound_ops {
    /* One frame; arg is the veil_p2p_lp_inbound. Nonzero drops the stream. */
    int (*on_msg)(void *arg, const uint8_t *msg, size_t len, veil_err *err);
    /* Optional: runs after every data chunk, also after a drop. */
    void (*after_data)(void *owner);
    /* Log line when a bad frame drops the stream: "peer=.. err=\"..\"". */
    enum veil_log_level log_level;
    const char *log_sub, *log_msg;
};

struct veil_p2p_lp_inbound {
    void *owner;
    veil_p2p_stream *stream;
    veil_p2p_lp_reader rd;
    veil_p2p_peer_id from;
    const struct veil_p2p_lp_inbound_ops *ops;
    veil_p2p_lp_inbound **list;
    veil_p2p_lp_inbound *next;
};

/* Takes over inbound stream s: links a record at the head of *list and sets
 * the stream's callbacks. NULL when out of memory (s untouched). */
veil_p2p_lp_inbound *veil_p2p_lp_inbound_open(veil_p2p_lp_inbound **list, veil_p2p_stream *s,
                                              size_t max_len,
                                              const struct veil_p2p_lp_inbound_ops *ops,
                                              void *owner);
/* Unlinks and frees the record and resets its stream. */
void veil_p2p_lp_inbound_drop(veil_p2p_lp_inbound *in);
/* Drops every record of *list (detach). */
void veil_p2p_lp_inbound_drop_all(veil_p2p_lp_inbound **list);

#endif /* VEIL_P2P_INTERNAL_H */
