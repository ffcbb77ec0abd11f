/*
 * overlay_cert.c - system mode with a Guardian certificate as the Anchor
 * credential: builds the state machine from the node's key and its leaf,
 * with a veil_anchor_certs verifier pinned to Guardian's root, starts the
 * overlay, and applies revocations and renewed certificates to both
 * (include/veil/anchor_cert.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/anchor_cert.h>

struct veil_overlay_cert {
    veil_anchor_certs *verifier; /* outlives the overlay's state machine */
    veil_overlay *overlay;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The node's own leaf must name the overlay's realm. */
static int check_own_realm(veil_anchor_certs *v, const uint8_t *cred, size_t len,
                           const uint8_t pk[VEIL_ANCHOR_KEY_BYTES], const char *realm,
                           veil_err *err)
{
    struct veil_anchor_cred_info info;
    if (veil_anchor_cert_verify(v, cred, len, pk, wall_ms(), &info, err) != 0)
        return -1;
    if (realm == NULL || strcmp(info.realm, realm) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH, "overlay: the certificate is for realm %s",
                            info.realm);
    return 0;
}

static veil_anchor *make_anchor(const struct veil_overlay_cert_config *cfg, veil_anchor_certs *v,
                                uint8_t pk[VEIL_ANCHOR_KEY_BYTES], veil_err *err)
{
    struct veil_anchor_local local = {.verify = veil_anchor_cert_verify, .verify_ctx = v};
    uint8_t *cred = NULL;
    size_t cred_len = 0;
    if (veil_anchor_cert_from_pem(cfg->chain_pem, &cred, &cred_len, err) != 0)
        return NULL;
    memcpy(local.identity_sk, cfg->identity_sk, sizeof local.identity_sk);
    crypto_sign_ed25519_sk_to_pk(local.identity_pk, local.identity_sk);
    memcpy(pk, local.identity_pk, VEIL_ANCHOR_KEY_BYTES);
    local.cred = cred;
    local.cred_len = cred_len;
    struct veil_anchor_config def;
    veil_anchor_config_default(&def);
    veil_anchor *a = NULL;
    if (check_own_realm(v, cred, cred_len, pk, cfg->overlay.realm, err) == 0)
        a = veil_anchor_new(cfg->anchor ? cfg->anchor : &def, &local, wall_ms(), err);
    sodium_memzero(&local, sizeof local);
    free(cred);
    return a;
}

veil_overlay_cert *veil_overlay_cert_start(const struct veil_overlay_cert_config *cfg,
                                           veil_err *err)
{
    veil_overlay_cert *oc = calloc(1, sizeof *oc);
    if (oc == NULL) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
        return NULL;
    }
    oc->verifier = veil_anchor_certs_new(cfg->root_pem, cfg->chain_pem, err);
    uint8_t pk[VEIL_ANCHOR_KEY_BYTES];
    veil_anchor *a = oc->verifier ? make_anchor(cfg, oc->verifier, pk, err) : NULL;
    if (a != NULL) {
        struct veil_overlay_config ocfg = cfg->overlay;
        ocfg.identity = pk;
        oc->overlay = veil_overlay_start(&ocfg, a, err); /* owns `a`, even on failure */
    }
    if (oc->overlay == NULL) {
        veil_overlay_cert_stop(oc);
        return NULL;
    }
    return oc;
}

veil_overlay *veil_overlay_cert_overlay(veil_overlay_cert *oc)
{
    return oc->overlay;
}

int veil_overlay_cert_revoke(veil_overlay_cert *oc, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             veil_err *err)
{
    if (veil_anchor_certs_revoke(oc->verifier, identity, err) != 0)
        return -1;
    veil_overlay_remove_peer(oc->overlay, identity);
    return 0;
}

int veil_overlay_cert_renew(veil_overlay_cert *oc, const char *chain_pem, veil_err *err)
{
    uint8_t *cred = NULL;
    size_t len = 0;
    if (veil_anchor_cert_from_pem(chain_pem, &cred, &len, err) != 0)
        return -1;
    int rc = veil_overlay_set_credential(oc->overlay, cred, len, err);
    free(cred);
    return rc;
}

void veil_overlay_cert_stop(veil_overlay_cert *oc)
{
    if (oc == NULL)
        return;
    if (oc->overlay != NULL)
        veil_overlay_stop(oc->overlay);
    veil_anchor_certs_free(oc->verifier);
    free(oc);
}
