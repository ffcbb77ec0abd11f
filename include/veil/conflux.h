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

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the node identity: an Ed25519 user nkey in <dir>/identity.nk ----
 * The node's NATS user is its identity key, so only the node can answer a
 * server's nonce; the same key is the subject of its mTLS certificate. */

/* Loads <dir>/identity.nk, creating the directory (0700) and a fresh key
 * from the CSPRNG when absent (0600; a key readable by others is refused). */
int veil_conflux_identity_load(veil_nkey *id, const char *dir, veil_err *err) VEIL_WARN_UNUSED;
/* PEM forms (malloc'd): SubjectPublicKeyInfo, and PKCS#8 (secret; free with
 * veil_conflux_pem_free, which wipes). */
int veil_conflux_identity_public_pem(const veil_nkey *id, char **pem,
                                     veil_err *err) VEIL_WARN_UNUSED;
int veil_conflux_identity_private_pem(const veil_nkey *id, char **pem,
                                      veil_err *err) VEIL_WARN_UNUSED;
void veil_conflux_pem_free(char *pem);

/* ---- the agent ---- */

struct veil_conflux_config {
    const char *name;           /* node name asked for; default n-<hex of key> */
    const char *dir;            /* identity.key lives here */
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
/* Stops the thread, closes the connection, wipes the keys, frees. */
void veil_conflux_stop(veil_conflux *a);

/* Milliseconds since the Unix epoch (wall clock: commands carry it). */
uint64_t veil_conflux_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif
