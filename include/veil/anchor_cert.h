// SPDX-License-Identifier: Apache-2.0
/*
 * veil/anchor_cert.h - Guardian-issued X.509 certificates as Anchor
 * credentials (src/net/anchor_cert.c): what `veil conflux up --tun` and an
 * in-process agent hand to veil_anchor_local.cred/verify.
 *
 * The credential a node presents in the handshake is the DER encoding of
 * its Guardian leaf certificate alone (about 400 bytes for an Ed25519 key
 * signed by Guardian's P-256 intermediate: it fits VEIL_ANCHOR_CRED_MAX; the
 * intermediate and the root are the verifier's, not sent). A credential is
 * accepted for a peer identity when:
 *   - the leaf chains to the pinned Guardian root through the intermediates
 *     the verifier was given, and is valid at the handshake's now_ms;
 *   - its subject key is an Ed25519 key equal to the peer's identity;
 *   - it names exactly one data-plane identity, the SAN URI
 *     veil://<realm>/<node-id> (the realm goes into the cred info);
 *   - the identity was not revoked in this verifier (veil_anchor_certs_revoke);
 *   - when the verifier is members-only, the identity is this node's own or
 *     one admitted as a member (veil_anchor_certs_admit): a valid Guardian
 *     certificate of the realm is necessary, not sufficient (veild admits
 *     only nodes active on chain in its cluster).
 * Taints: every SAN URI veil-taint:<name> is one taint of the holder
 * (lower-case letters, digits, '-', '_', '.'; at most VEIL_ANCHOR_TAINTS_MAX).
 * A certificate without such URIs holds no taints.
 *
 * veil_overlay_cert_* is system mode started with such a credential: the
 * one place a host (`veil conflux up --tun`, veild) turns Guardian's answer
 * (leaf || intermediate chain, root) and the node's key into a running
 * overlay, and applies Guardian's later commands to it.
 */
#ifndef VEIL_ANCHOR_CERT_H
#define VEIL_ANCHOR_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/base.h>
#include <veil/overlay.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_ANCHOR_CERT_TAINT_URI "veil-taint:"

typedef struct veil_anchor_certs veil_anchor_certs;

/* The verifier: root_pem holds the trusted Guardian root (only
 * self-signed certificates in it are trusted); chain_pem (may be NULL)
 * the intermediates, e.g. a node's own leaf || intermediate chain (its
 * non-self-signed certificates are used as untrusted intermediates). */
veil_anchor_certs *veil_anchor_certs_new(const char *root_pem, const char *chain_pem,
                                         veil_err *err) VEIL_WARN_UNUSED;
void veil_anchor_certs_free(veil_anchor_certs *v);

/* Refuses every later credential of `identity` (Guardian revoked it). Safe
 * to call from any thread while handshakes verify. */
int veil_anchor_certs_revoke(veil_anchor_certs *v, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             veil_err *err) VEIL_WARN_UNUSED;

/* From now on only `self` and the identities admitted below are accepted. */
void veil_anchor_certs_members_only(veil_anchor_certs *v,
                                    const uint8_t self[VEIL_ANCHOR_KEY_BYTES]);
/* Admits a member (members-only verifiers). Any thread. */
int veil_anchor_certs_admit(veil_anchor_certs *v, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                            veil_err *err) VEIL_WARN_UNUSED;

/* A veil_anchor_verify_fn; ctx is a veil_anchor_certs. */
int veil_anchor_cert_verify(void *ctx, const uint8_t *cred, size_t cred_len,
                            const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                            struct veil_anchor_cred_info *out, veil_err *err) VEIL_WARN_UNUSED;

/* The credential of a PEM chain: the DER of its first certificate (the
 * leaf), malloc'd into *der. */
int veil_anchor_cert_from_pem(const char *chain_pem, uint8_t **der, size_t *der_len,
                              veil_err *err) VEIL_WARN_UNUSED;

/* ---- system mode with a Guardian certificate ---- */

struct veil_overlay_cert_config {
    /* ifname, realm, ipv4, ipv4_prefix, bind_ip, port, ...; its identity is
     * ignored (taken from identity_sk) */
    struct veil_overlay_config overlay;
    const uint8_t *identity_sk; /* 64-byte libsodium Ed25519 secret key (seed || pk) */
    const char *chain_pem;      /* this node's leaf || intermediate(s), as Guardian issued it */
    const char *root_pem;       /* Guardian's root (pinned) */
    const struct veil_anchor_config *anchor; /* NULL = veil_anchor_config_default */
    /* Handshakes only with members whose peer record was applied
     * (veil_overlay_cert_apply_record): a realm certificate alone is not
     * enough. veild sets it (records come only from nodes on chain). */
    bool members_only;
};

typedef struct veil_overlay_cert veil_overlay_cert;

/* Verifies the node's own leaf (its realm must be the overlay's), builds
 * the Anchor state machine with it and starts the overlay. */
veil_overlay_cert *veil_overlay_cert_start(const struct veil_overlay_cert_config *cfg,
                                           veil_err *err) VEIL_WARN_UNUSED;
/* The running overlay: add peers, read statistics (owned by `oc`). */
veil_overlay *veil_overlay_cert_overlay(veil_overlay_cert *oc);
/* Guardian revoked `identity`: its certificate is refused from now on and
 * every session with it ends. */
int veil_overlay_cert_revoke(veil_overlay_cert *oc, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             veil_err *err) VEIL_WARN_UNUSED;
/* A renewed certificate (e.g. after a taint change): presented from now
 * on; sessions it no longer allows end at once. */
int veil_overlay_cert_renew(veil_overlay_cert *oc, const char *chain_pem,
                            veil_err *err) VEIL_WARN_UNUSED;
/* A realm member's signed peer record (include/veil/overlay_peer.h), as
 * received from the realm's topology subject: verified, then the member is
 * added or its endpoint updated. Ignored (0) when it is this node's own or
 * not newer than the last one of that identity; refused when the identity
 * was revoked or another identity already holds its overlay IPv4 address
 * (the first holder keeps it). */
int veil_overlay_cert_apply_record(veil_overlay_cert *oc, const uint8_t *data, size_t len,
                                   veil_err *err) VEIL_WARN_UNUSED;
/* Stops the overlay (the interface goes), frees everything. */
void veil_overlay_cert_stop(veil_overlay_cert *oc);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_ANCHOR_CERT_H */
