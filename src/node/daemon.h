// SPDX-License-Identifier: Apache-2.0
/*
 * daemon.h - private interface of the orchestrator wiring (owned by the veild
 * integration): the cluster bundle written by `veil cluster init` and read by
 * `veil node join`, the chain helpers both share, and the daemon that veild
 * runs on its libuv loop (src/node/daemon*.c).
 */
#ifndef VEIL_NODE_DAEMON_H
#define VEIL_NODE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <veil/base.h>
#include <veil/chain.h>

/* ---- the cluster bundle (DIR/bundle.json + key files beside it) ---- */

#define VEIL_BUNDLE_FILE          "bundle.json"
#define VEIL_BUNDLE_MAX_BOOTSTRAP 32

struct veil_bundle {
    char name[64];
    char rpc_url[256];
    uint64_t chain_id;
    char contract[43]; /* 0x + 40 hex */
    uint64_t cluster_id;
    char decryptor[43]; /* Ethereum address of the designated decryptor */
    char fhe_key_hash[67];
    char public_key[512]; /* absolute paths (resolved against the bundle dir) */
    char server_key[512];
    /* a threshold cluster (issue 11): the dealing's public material and the
     * squashing key, beside the public and server keys ("" otherwise);
     * `decryptor` is then the first key holder */
    char threshold_public[512];
    char squash_key[512];
    char *bootstrap[VEIL_BUNDLE_MAX_BOOTSTRAP]; /* multiaddrs with /p2p/ */
    size_t n_bootstrap;
};

/* Loads DIR/bundle.json (or a path to the file itself). */
int veil_bundle_load(struct veil_bundle *b, const char *path, veil_err *err);
/* Parses bundle.json text; key paths resolve against dir. */
int veil_bundle_parse(struct veil_bundle *b, const char *text, size_t len, const char *dir,
                      veil_err *err);
/* Writes DIR/bundle.json atomically; key paths are stored relative to DIR
 * when they lie inside it. */
int veil_bundle_save(const struct veil_bundle *b, const char *dir, veil_err *err);
void veil_bundle_free(struct veil_bundle *b);
/* Appends a bootstrap multiaddr unless present. */
int veil_bundle_add_bootstrap(struct veil_bundle *b, const char *ma, veil_err *err);

/* ---- chain helpers ---- */

/* Reads a keystore password: password_file if given, else
 * VEIL_KEYSTORE_PASSWORD. */
int veil_daemon_read_password(const char *password_file, char *out, size_t cap, veil_err *err);
/* Opens a chain client; keystore may be NULL (read-only); contract may be
 * NULL (none). */
int veil_daemon_chain_open(const char *rpc_url, uint64_t chain_id, const char *contract,
                           const char *keystore, const char *password_file, veil_chain_client **out,
                           veil_err *err);
/* The same for veild holding a stored view of the chain (issue 18): an
 * endpoint unreachable now does not stop the open (chain_id is checked
 * before the first request is used: veil_chain_options.defer_chain_check). */
int veil_daemon_chain_open_deferred(const char *rpc_url, uint64_t chain_id, const char *contract,
                                    const char *keystore, const char *password_file,
                                    veil_chain_client **out, veil_err *err);
/* keccak256 of a file's bytes (the on-chain FHE public-key hash). */
int veil_daemon_file_keccak(const char *path, uint8_t out[32], veil_err *err);
/* The on-chain key hash of a threshold cluster: keccak256(public key file ||
 * threshold public material file), so that the policy the operators vote on
 * names the dealing (its holders and threshold) with the keys. */
VEIL_WARN_UNUSED int veil_daemon_keyset_keccak(const char *public_key, const char *threshold_public,
                                               uint8_t out[32], veil_err *err);
/* Where a node keeps files beside its configuration: the threshold public
 * material next to the public key, the squashing key next to the server
 * key, and a key holder's sealed share in its data directory. */
#define VEIL_THRESHOLD_PUBLIC_FILE "threshold.pub"
#define VEIL_SQUASH_KEY_FILE       "squash.key"
#define VEIL_SHARE_FILE            "share.key"
VEIL_WARN_UNUSED int veil_daemon_sibling_path(char *out, size_t cap, const char *beside,
                                              const char *name, veil_err *err);

/* ---- the daemon ---- */

typedef struct veil_daemon veil_daemon;

/* Starts every service of the node on `loop` from `cfg` (store, API, libp2p
 * host, gossipsub, SWIM, chain gater, telemetry, scheduling). */
int veil_daemon_start(veil_daemon **out, uv_loop_t *loop, const veil_config *cfg, veil_err *err);
/* Stops the services and closes their handles; `done` runs from the loop
 * once everything is closed and the daemon is freed. */
void veil_daemon_stop(veil_daemon *d, void (*done)(void *user_data), void *user_data);

#endif /* VEIL_NODE_DAEMON_H */
