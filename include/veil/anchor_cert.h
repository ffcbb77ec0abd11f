/*
 * veil/anchor_cert.h - Guardian-issued X.509 certificates as Anchor
 * credentials (src/net/anchor_cert.c): what `veil conflux up --tun` and an
 * in-process agent hand to veil_anchor_local.cred/verify.
 *
 * The credential a node presents in the handshake is the DER encoding of
 * its Guardian leaf certificate alone (about 450 bytes for an Ed25519 key
 * signed by Guardian's P-256 intermediate: it fits VEIL_ANCHOR_CRED_MAX; the
 * intermediate and the root are the verifier's, not sent). A credential is
 * accepted for a peer identity when:
 *   - the leaf chains to the pinned Guardian root through the intermediates
 *     the verifier was given, and is valid at the handshake's now_ms;
 *   - its subject key is an Ed25519 key equal to the peer's identity;
 *   - it names exactly one data-plane identity, the SAN URI
 *     veil://<realm>/<node-id> (the realm goes into the cred info);
 *   - the identity was not revoked in this verifier (veil_anchor_certs_revoke).
 * Taints: every SAN URI veil-taint:<name> is one taint of the holder
 * (lower-case letters, digits, '-', '_', '.'; at most VEIL_ANCHOR_TAINTS_MAX).
 * A certificate without such URIs holds no taints.
 */
#ifndef VEIL_ANCHOR_CERT_H
#define VEIL_ANCHOR_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <veil/anchor.h>
#include <veil/base.h>

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

/* A veil_anchor_verify_fn; ctx is a veil_anchor_certs. */
int veil_anchor_cert_verify(void *ctx, const uint8_t *cred, size_t cred_len,
                            const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                            struct veil_anchor_cred_info *out, veil_err *err) VEIL_WARN_UNUSED;

/* The credential of a PEM chain: the DER of its first certificate (the
 * leaf), malloc'd into *der. */
int veil_anchor_cert_from_pem(const char *chain_pem, uint8_t **der, size_t *der_len,
                              veil_err *err) VEIL_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* VEIL_ANCHOR_CERT_H */
