// SPDX-License-Identifier: Apache-2.0
/*
 * veil/conflux.h - the Conflux agent, control side: enrollment with
 * Guardian, the connection to Master (NATS, user JWT through credential
 * callbacks so no secret is written to disk, mTLS with the issued
 * certificate), renewal before expiry, liveness and health beacons, signed
 * admin commands, and failover between Master's servers.
 *
 * Embeddable: the agent runs on its own thread (plus libnats' threads);
 * veil_conflux_start returns once the agent is enrolled and connected, and
 * veil_conflux_stop may be called from any thread, e.g. from a caller's
 * libuv loop (on_shutdown tells the loop when Guardian asks the node to
 * stop). `veil conflux up` is a thin wrapper around this API.
 */
#ifndef VEIL_CONFLUX_H
#define VEIL_CONFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/guardian.h>
#include <veil/overlay.h>
#include <veil/route.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the node identity: an Ed25519 user nkey in <dir>/identity.nk ----
 * The node's NATS user is its identity key, so only the node can answer a
 * server's nonce; the same key is the subject of its mTLS certificate. */

/* Loads <dir>/identity.nk, creating the directory (0700) and a fresh key
 * from the CSPRNG when absent (0600; a key readable by others is refused). */
int veil_conflux_identity_load(veil_nkey *id, const char *dir, veil_err *err) VEIL_WARN_UNUSED;
/* The identity as a user nkey from a caller's 32-byte Ed25519 seed (e.g.
 * veild's libp2p key, so one key is the node's libp2p, overlay and
 * Guardian identity); nothing is written. Wipe with veil_nkey_wipe. */
int veil_conflux_identity_from_seed(veil_nkey *id, const uint8_t seed[32],
                                    veil_err *err) VEIL_WARN_UNUSED;
/* PEM forms (malloc'd): SubjectPublicKeyInfo, and PKCS#8 (secret; free with
 * veil_conflux_pem_free, which wipes). */
int veil_conflux_identity_public_pem(const veil_nkey *id, char **pem,
                                     veil_err *err) VEIL_WARN_UNUSED;
int veil_conflux_identity_private_pem(const veil_nkey *id, char **pem,
                                      veil_err *err) VEIL_WARN_UNUSED;
void veil_conflux_pem_free(char *pem);

/* ---- the agent ---- */

/* What a data-plane host (`veil conflux up --tun`, an embedding
 * application) learns from the agent. Each hook may be NULL; none is called
 * with an agent lock held, so a hook may call the veil_conflux_* getters. */
struct veil_conflux_hooks {
    /* New credentials were adopted (renewal, invalidate-keys, re-enrollment):
     * fetch the certificate with veil_conflux_get_certs. Agent thread. */
    void (*on_renewed)(void *arg);
    /* A realm member's topology message (veil.<realm>.topo.<node>, e.g. a
     * signed overlay peer record), never this node's own. libnats thread. */
    void (*on_topo)(void *arg, const char *node, const uint8_t *data, size_t len);
    /* Guardian announced `node` revoked (signed notice, checked): called
     * once per identity. libnats thread. */
    void (*on_revoked)(void *arg, const char *node, const uint8_t identity[32]);
    /* A routing signal a member sent this node (veil.<realm>.path.<this
     * node>.<node>: Master authenticated `node` as its publisher). libnats
     * thread. */
    void (*on_path)(void *arg, const char *node, const uint8_t *data, size_t len);
    void *arg;
};

struct veil_conflux_config {
    const char *name; /* node name asked for; default n-<hex of key> */
    const char *dir;  /* identity.nk lives here (unused with identity_seed) */
    /* The identity's Ed25519 seed (32 bytes, read during veil_conflux_start
     * only; the caller keeps and wipes it) instead of <dir>/identity.nk. */
    const uint8_t *identity_seed;
    const char *const *servers; /* Master client URLs (tls://host:port) */
    size_t n_servers;
    const char *ca_file;      /* Guardian's root CA: trusts Master's TLS */
    const char *enroll_creds; /* .creds of the enrollment account */
    const char *token;        /* admission (a): one-time enrollment token */
    uint64_t cluster_id;      /* admission (b): on-chain cluster ... */
    const char *eth_address;  /* ... and the node's registry address (0x...) */
    const char *guardian_key; /* pinned command key ("N..."); NULL = learn at enrollment */
    int64_t beacon_ms;        /* liveness/health period; default 2000 */
    int64_t timeout_ms;       /* per request; default 5000 */
    /* Called once, from a libnats thread, after a Guardian shutdown command
     * was accepted and answered: a libuv host calls uv_async_send here to
     * stop the agent from its loop. May be NULL. */
    void (*on_shutdown)(void *arg);
    void *on_shutdown_arg;
    /* Data plane: with on_topo or on_revoked set, the agent also subscribes
     * to its realm's topology and revocation subjects. */
    struct veil_conflux_hooks hooks;
};

typedef struct veil_conflux veil_conflux;

struct veil_conflux_status {
    char name[64];
    char realm[64];
    char taints[256];
    char server[256]; /* URL of the server in use, "" while disconnected */
    uint64_t reconnects;
    uint64_t renewals;
    uint64_t commands;
    uint64_t key_epoch; /* bumped by invalidate-keys */
    uint64_t expires_ms;
    bool connected;
    bool shutdown_requested; /* a Guardian shutdown command arrived */
};

/* Enrolls (or renews, when the identity is already enrolled and the config
 * names no token/cluster... the Guardian decides), connects, subscribes to
 * its command subject and starts the beacon/renewal thread. */
int veil_conflux_start(veil_conflux **out, const struct veil_conflux_config *cfg,
                       veil_err *err) VEIL_WARN_UNUSED;
/* Waits until Guardian asks for a shutdown or timeout_ms passes (-1 =
 * forever); returns true on shutdown. */
bool veil_conflux_wait_shutdown(veil_conflux *a, int64_t timeout_ms);
void veil_conflux_get_status(veil_conflux *a, struct veil_conflux_status *out);
/* The current credentials for the data plane: the leaf || intermediate
 * chain and Guardian's root (PEM, malloc'd, public). */
int veil_conflux_get_certs(veil_conflux *a, char **chain_pem, char **root_pem,
                           veil_err *err) VEIL_WARN_UNUSED;

/* The overlay addressing Guardian put in the current certificate: the
 * node's IPv4 address (IP SAN) and its realm's pool (URI veil-pool:). */
struct veil_conflux_overlay {
    char realm[64];
    char ipv4[16];
    char pool[20];   /* "10.77.0.0/16" */
    unsigned prefix; /* 16 */
};
int veil_conflux_get_overlay(veil_conflux *a, struct veil_conflux_overlay *out,
                             veil_err *err) VEIL_WARN_UNUSED;
/* Reads those names from a leaf PEM (the first certificate of the chain). */
int veil_conflux_overlay_of_cert(const char *chain_pem, struct veil_conflux_overlay *out,
                                 veil_err *err) VEIL_WARN_UNUSED;

/* This node's topology message (at most 4 KiB; copied): published on
 * veil.<realm>.topo.<node> at once, with every beacon, and early when a
 * new member appears, so members that join later learn it. Control data
 * only: the realm's members read it; nothing of the data plane's traffic
 * ever goes to Master. */
int veil_conflux_set_topo(veil_conflux *a, const uint8_t *data, size_t len,
                          veil_err *err) VEIL_WARN_UNUSED;
/* The same for one of VEIL_CONFLUX_TOPO_SLOTS messages published together: slot 0
 * the overlay's signed peer record (veil_conflux_set_topo), slot 1
 * routing's summary (at most 4 KiB each; a new summary waits for the next
 * beacon). */
#define VEIL_CONFLUX_TOPO_SLOTS 2
int veil_conflux_set_topo_slot(veil_conflux *a, unsigned slot, const uint8_t *data, size_t len,
                               veil_err *err) VEIL_WARN_UNUSED;
/* Publishes a routing signal to member `dst` on veil.<realm>.path.<dst>.<this
 * node> (at most 1 KiB; control data only). */
int veil_conflux_publish_path(veil_conflux *a, const char *dst, const uint8_t *data, size_t len,
                              veil_err *err) VEIL_WARN_UNUSED;

/* ---- system mode: the overlay behind a TUN interface (tun.c) ----
 * Order: veil_conflux_tun_new, veil_conflux_tun_hooks into the agent's
 * config, veil_conflux_start, veil_conflux_tun_start; on the way out
 * veil_conflux_stop (no hook runs after it), then veil_conflux_tun_free
 * (the interface is removed). Needs CAP_NET_ADMIN. */
struct veil_conflux_tun_config {
    const char *ifname;      /* default "veil0" */
    const char *bind_ip;     /* underlay UDP address; default 0.0.0.0 */
    uint16_t port;           /* underlay UDP port; 0 = any free one */
    const char *endpoint_ip; /* advertised to the realm; default bind_ip, or
                              * the local address toward Master's first server */
    unsigned underlay_mtu;   /* 0 = 1500 */
    /* static peers: signed peer records (hex) applied at start, as if they
     * had come from the topology subject (the handshake still checks the
     * peer's certificate, realm and taints) */
    const char *const *peer_records;
    size_t n_peer_records;
};

typedef struct veil_conflux_tun veil_conflux_tun;

struct veil_conflux_tun_info {
    struct veil_conflux_overlay addr;
    char ipv6[46];
    unsigned mtu;
    uint16_t port;
    uint64_t records_applied, records_refused, revocations, renewals;
    uint64_t summaries_refused; /* routing summaries not bound to their publisher's record */
    struct veil_anchor_stats anchor;
    struct veil_overlay_stats overlay;
    struct veil_route_overlay_stats route;
};

veil_conflux_tun *veil_conflux_tun_new(veil_err *err) VEIL_WARN_UNUSED;
void veil_conflux_tun_hooks(veil_conflux_tun *t, struct veil_conflux_hooks *out);
/* Starts the overlay with the agent's certificate and identity, and hands
 * the agent this node's signed peer record to publish. */
int veil_conflux_tun_start(veil_conflux_tun *t, veil_conflux *a,
                           const struct veil_conflux_tun_config *cfg,
                           veil_err *err) VEIL_WARN_UNUSED;
void veil_conflux_tun_info(veil_conflux_tun *t, struct veil_conflux_tun_info *out);
void veil_conflux_tun_free(veil_conflux_tun *t);

/* Stops the thread, closes the connection, wipes the keys, frees. */
void veil_conflux_stop(veil_conflux *a);

/* Milliseconds since the Unix epoch (wall clock: commands carry it). */
uint64_t veil_conflux_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif
