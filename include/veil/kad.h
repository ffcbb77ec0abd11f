// SPDX-License-Identifier: Apache-2.0
/*
 * veil/kad.h - Kademlia DHT peer routing (libp2p/specs kad-dht/README.md,
 * protocol /ipfs/kad/1.0.0), owned by the Kademlia module (src/p2p/kad*.c).
 *
 * Three layers:
 *   - wire: uvarint-prefixed `Message` protobufs (FIND_NODE and PING are
 *     answered; PUT/GET_VALUE and providers are not implemented);
 *   - the routing table (k-buckets, k = 20, XOR distance between SHA-256
 *     digests of peer-ID bytes) and the iterative lookup, both pure state
 *     machines without I/O, driven by tests with a simulated network;
 *   - veil_kad_attach, which serves the protocol on a libp2p host (always in
 *     server mode), adds identified peers that speak Kademlia to the table,
 *     runs lookups over real streams and dials the peers it discovers.
 */
#ifndef VEIL_KAD_H
#define VEIL_KAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_KAD_PROTO    "/ipfs/kad/1.0.0"
#define VEIL_KAD_K        20
#define VEIL_KAD_ALPHA    3
#define VEIL_KAD_ID_MAX   64  /* peer-ID bytes (multihash) */
#define VEIL_KAD_ADDR_MAX 128 /* one binary multiaddr */
#define VEIL_KAD_ADDRS    4   /* addresses kept per peer */
#define VEIL_KAD_MSG_MAX  (64 * 1024)

/* A peer as Kademlia knows it: ID bytes and a few binary multiaddrs. */
struct veil_kad_peer {
    uint8_t id[VEIL_KAD_ID_MAX];
    uint8_t id_len;
    uint8_t n_addrs;
    struct {
        uint8_t len;
        uint8_t bytes[VEIL_KAD_ADDR_MAX];
    } addrs[VEIL_KAD_ADDRS];
    uint8_t key[32]; /* SHA-256(id): the Kademlia key (filled by the table) */
};

/* The Kademlia key of some bytes: SHA-256 (kad-dht README "Distance"). */
void veil_kad_key(const void *bytes, size_t len, uint8_t out[32]);
/* Number of leading bits a and b share (256 when equal). */
int veil_kad_common_prefix(const uint8_t a[32], const uint8_t b[32]);
/* <0 if a is closer to target than b, 0 if as close, >0 if farther. */
int veil_kad_distance_cmp(const uint8_t target[32], const uint8_t a[32], const uint8_t b[32]);
/* Fills p (id, key, no addresses). */
int veil_kad_peer_init(struct veil_kad_peer *p, const uint8_t *id, size_t id_len, veil_err *err);
/* Adds an address (deduplicated; ignored when full or too long). */
void veil_kad_peer_add_addr(struct veil_kad_peer *p, const uint8_t *addr, size_t len);

/* ---- routing table ---------------------------------------------------- */

typedef struct veil_kad_table veil_kad_table;

int veil_kad_table_new(veil_kad_table **out, const uint8_t *self_id, size_t self_len, size_t k,
                       veil_err *err);
void veil_kad_table_free(veil_kad_table *t);
/* Inserts or refreshes a peer (merging addresses). Returns 1 if the peer is
 * (now) in the table, 0 if its bucket is full of live peers (Kademlia keeps
 * the long-lived ones), -1 on a bad peer (self, empty ID). */
int veil_kad_table_add(veil_kad_table *t, const struct veil_kad_peer *p, uint64_t now_ms);
bool veil_kad_table_remove(veil_kad_table *t, const uint8_t *id, size_t len);
/* Records a failed query; after two in a row the peer may be replaced. */
void veil_kad_table_failed(veil_kad_table *t, const uint8_t *id, size_t len);
const struct veil_kad_peer *veil_kad_table_find(const veil_kad_table *t, const uint8_t *id,
                                                size_t len);
size_t veil_kad_table_size(const veil_kad_table *t);
/* The up to n peers closest to `key` (a 32-byte Kademlia key), closest
 * first; returns how many were written. */
size_t veil_kad_table_closest(const veil_kad_table *t, const uint8_t key[32],
                              struct veil_kad_peer *out, size_t n);
/* Index of the bucket a key falls in (common prefix length with self). */
int veil_kad_table_bucket_of(const veil_kad_table *t, const uint8_t key[32]);
size_t veil_kad_table_bucket_size(const veil_kad_table *t, int bucket);

/* ---- wire ------------------------------------------------------------- */

enum veil_kad_type {
    VEIL_KAD_PUT_VALUE = 0,
    VEIL_KAD_GET_VALUE = 1,
    VEIL_KAD_ADD_PROVIDER = 2,
    VEIL_KAD_GET_PROVIDERS = 3,
    VEIL_KAD_FIND_NODE = 4,
    VEIL_KAD_PING = 5,
};

/* A FIND_NODE request for `key` (peer-ID bytes). */
void veil_kad_encode_find_node(veil_buf *out, const uint8_t *key, size_t key_len);
/* A response listing peers. */
void veil_kad_encode_response(veil_buf *out, enum veil_kad_type type, const uint8_t *key,
                              size_t key_len, const struct veil_kad_peer *peers, size_t n);
/* Decodes a Message: type, key (borrowed from the input) and the closer
 * peers (validated peer IDs; malformed addresses are dropped). */
struct veil_kad_decoded {
    enum veil_kad_type type;
    uint8_t key[VEIL_KAD_ID_MAX * 2];
    size_t key_len;
    struct veil_kad_peer *closer;
    size_t n_closer;
};
int veil_kad_decode(const uint8_t *msg, size_t len, struct veil_kad_decoded *out, veil_err *err);
void veil_kad_decoded_free(struct veil_kad_decoded *d);

/* Serves one request: FIND_NODE (and GET_VALUE/GET_PROVIDERS, answered with
 * closer peers only) gets the k closest peers except the requester; PING is
 * echoed. PUT_VALUE/ADD_PROVIDER fail with VEIL_E_UNSUPPORTED. */
int veil_kad_serve(veil_kad_table *t, const uint8_t *requester, size_t requester_len,
                   const uint8_t *request, size_t len, veil_buf *response, veil_err *err);

/* ---- iterative lookup (kad-dht README "Peer routing") ------------------- */

typedef struct veil_kad_lookup veil_kad_lookup;

/* Starts a lookup of `target` (peer-ID bytes, hashed for distances) seeded
 * from the table's closest peers. */
int veil_kad_lookup_new(veil_kad_lookup **out, const veil_kad_table *t, const uint8_t *target,
                        size_t target_len, size_t k, size_t alpha, veil_err *err);
void veil_kad_lookup_free(veil_kad_lookup *l);
/* Peers to query now (at most alpha in flight); returns how many written. */
size_t veil_kad_lookup_next(veil_kad_lookup *l, struct veil_kad_peer *out, size_t cap);
/* A queried peer answered with closer peers. */
void veil_kad_lookup_answer(veil_kad_lookup *l, const uint8_t *from, size_t from_len,
                            const struct veil_kad_peer *closer, size_t n);
/* A queried peer failed (timeout, refused, bad answer). */
void veil_kad_lookup_fail(veil_kad_lookup *l, const uint8_t *from, size_t from_len);
/* True once the k closest known peers have all answered (or none is left
 * to ask) and nothing is in flight. */
bool veil_kad_lookup_done(const veil_kad_lookup *l);
/* The closest peers that answered, closest first. */
size_t veil_kad_lookup_result(const veil_kad_lookup *l, struct veil_kad_peer *out, size_t cap);
/* Every peer learned during the lookup (answered or not), for discovery. */
size_t veil_kad_lookup_seen(const veil_kad_lookup *l, struct veil_kad_peer *out, size_t cap);
size_t veil_kad_lookup_queries(const veil_kad_lookup *l);

/* ---- running on a libp2p host (kad_host.c) ------------------------------ */

struct veil_p2p_host;
typedef struct veil_kad veil_kad;

struct veil_kad_config {
    size_t k;                     /* bucket size and answer size; default 20 */
    size_t alpha;                 /* parallel queries per lookup; default 3 */
    uint64_t query_timeout_ms;    /* dial + stream + answer; default 10000 */
    bool dial_discovered;         /* connect to the k closest peers a lookup finds */
    uint64_t refresh_interval_ms; /* periodic bootstrap (table refresh); 0 = off,
                                     default 10 minutes */
};
void veil_kad_config_default(struct veil_kad_config *cfg);

/* Serves /ipfs/kad/1.0.0 on the host in server mode and adds every
 * identified peer that lists it (with its identify listen addresses) to the
 * routing table. `cfg` may be NULL. */
int veil_kad_attach(struct veil_p2p_host *host, const struct veil_kad_config *cfg, veil_kad **out,
                    veil_err *err);
/* Stops serving and cancels lookups and queries in flight (their callbacks
 * run with VEIL_E_STATE); frees once the host has returned every pending
 * callback. */
void veil_kad_detach(veil_kad *kad);
veil_kad_table *veil_kad_routing_table(veil_kad *kad);
/* Adds a peer known out of band (bootstrap list): ID bytes and one binary
 * multiaddr (without /p2p/). */
int veil_kad_add_address(veil_kad *kad, const uint8_t *id, size_t id_len, const uint8_t *addr,
                         size_t addr_len, veil_err *err);

/* Lookup result: err is NULL on success; `closest` are the peers that
 * answered, closest to the target first. */
typedef void (*veil_kad_lookup_cb)(veil_kad *kad, const veil_err *err,
                                   const struct veil_kad_peer *closest, size_t n, void *user_data);
/* Iterative FIND_NODE for `target` (peer-ID bytes) over real streams,
 * dialing peers as needed. */
int veil_kad_find_node(veil_kad *kad, const uint8_t *target, size_t target_len,
                       veil_kad_lookup_cb cb, void *user_data, veil_err *err);
/* kad-dht "Bootstrap process": a lookup of our own ID, then of a random
 * ID; cb (may be NULL) runs once, after both. Lookups start on the next
 * internal tick (<= 200 ms), so callbacks never run inside these calls. */
int veil_kad_bootstrap(veil_kad *kad, veil_kad_lookup_cb cb, void *user_data, veil_err *err);
/* One FIND_NODE request to a connected or dialable peer; the answer's
 * closer peers go to cb (used by tests and `veil p2p` tooling). Fails at
 * once (VEIL_E_NOTFOUND) for a peer neither connected nor with an address;
 * if every dial fails synchronously, cb runs before this returns. */
int veil_kad_query(veil_kad *kad, const uint8_t *peer, size_t peer_len, const uint8_t *target,
                   size_t target_len, veil_kad_lookup_cb cb, void *user_data, veil_err *err);
/* Connects to a peer known only by ID (e.g. from gossipsub peer exchange):
 * dials the addresses in the routing table, or looks the peer up first.
 * Fire and forget: 0 when a dial or lookup was started (or the peer is
 * already connected). */
int veil_kad_connect(veil_kad *kad, const uint8_t *peer, size_t peer_len, veil_err *err);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_KAD_H */
