// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_cert.c - system mode with a Guardian certificate as the Anchor
 * credential: builds the state machine from the node's key and its leaf,
 * with a veil_anchor_certs verifier pinned to Guardian's root (members
 * only when asked: then a peer record applied is what admits a member),
 * starts the overlay, and applies revocations, renewed certificates and
 * realm members' peer records to both (include/veil/anchor_cert.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/anchor_cert.h>
#include <veil/overlay_peer.h>

/* What the newest record of one member said. */
struct member {
    uint8_t identity[VEIL_ANCHOR_KEY_BYTES];
    char ipv4[16];
    uint64_t issued_ms;
    bool revoked;
};

struct veil_overlay_cert {
    veil_anchor_certs *verifier; /* outlives the overlay's state machine */
    veil_overlay *overlay;
    uint8_t self[VEIL_ANCHOR_KEY_BYTES];
    pthread_mutex_t mu; /* members */
    struct member *members;
    size_t n_members, cap_members;
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
    pthread_mutex_init(&oc->mu, NULL);
    oc->verifier = veil_anchor_certs_new(cfg->root_pem, cfg->chain_pem, err);
    uint8_t *pk = oc->self;
    if (oc->verifier != NULL && cfg->members_only) {
        crypto_sign_ed25519_sk_to_pk(pk, cfg->identity_sk);
        veil_anchor_certs_members_only(oc->verifier, pk);
    }
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

static struct member *member_of(veil_overlay_cert *oc, const uint8_t *identity)
{
    for (size_t i = 0; i < oc->n_members; i++)
        if (memcmp(oc->members[i].identity, identity, VEIL_ANCHOR_KEY_BYTES) == 0)
            return &oc->members[i];
    return NULL;
}

/* The member's entry, created when new (mu held); NULL without memory. */
static struct member *member_add(veil_overlay_cert *oc, const uint8_t *identity)
{
    struct member *m = member_of(oc, identity);
    if (m != NULL)
        return m;
    struct member *n =
        veil_array_reserve(oc->members, &oc->cap_members, oc->n_members, sizeof *oc->members);
    if (n == NULL)
        return NULL;
    oc->members = n;
    m = &oc->members[oc->n_members++];
    memset(m, 0, sizeof *m);
    memcpy(m->identity, identity, VEIL_ANCHOR_KEY_BYTES);
    return m;
}

int veil_overlay_cert_revoke(veil_overlay_cert *oc, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             veil_err *err)
{
    if (veil_anchor_certs_revoke(oc->verifier, identity, err) != 0)
        return -1;
    pthread_mutex_lock(&oc->mu);
    struct member *m = member_add(oc, identity);
    if (m != NULL)
        m->revoked = true;
    pthread_mutex_unlock(&oc->mu);
    veil_overlay_remove_peer(oc->overlay, identity);
    return 0;
}

/* Whether the record may be applied (mu held); 1 = ignore it. */
static int record_admissible(veil_overlay_cert *oc, const struct veil_overlay_peer_record *r,
                             veil_err *err)
{
    if (memcmp(r->identity, oc->self, VEIL_ANCHOR_KEY_BYTES) == 0)
        return 1;
    const struct member *m = member_of(oc, r->identity);
    if (m != NULL && m->revoked)
        return veil_err_set(err, VEIL_E_PERMISSION, "overlay: a record of a revoked identity");
    if (m != NULL && r->issued_ms <= m->issued_ms)
        return 1;
    for (size_t i = 0; i < oc->n_members; i++)
        if (&oc->members[i] != m && strcmp(oc->members[i].ipv4, r->ipv4) == 0)
            return veil_err_set(err, VEIL_E_EXISTS, "overlay: %s belongs to another member",
                                r->ipv4);
    return 0;
}

int veil_overlay_cert_apply_record(veil_overlay_cert *oc, const uint8_t *data, size_t len,
                                   veil_err *err)
{
    struct veil_overlay_peer_record r;
    if (veil_overlay_peer_record_decode(data, len, &r, err) != 0)
        return -1;
    pthread_mutex_lock(&oc->mu);
    int rc = record_admissible(oc, &r, err);
    if (rc == 0)
        rc = veil_anchor_certs_admit(oc->verifier, r.identity, err);
    if (rc == 0)
        rc = veil_overlay_add_peer(oc->overlay, r.identity, r.ipv4, r.endpoint_ip, r.endpoint_port,
                                   err);
    struct member *m = rc == 0 ? member_add(oc, r.identity) : NULL;
    if (rc == 0 && m == NULL)
        rc = veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory for a member");
    if (m != NULL) {
        memcpy(m->ipv4, r.ipv4, sizeof m->ipv4);
        m->issued_ms = r.issued_ms;
    }
    pthread_mutex_unlock(&oc->mu);
    return rc < 0 ? -1 : 0;
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
    free(oc->members);
    pthread_mutex_destroy(&oc->mu);
    free(oc);
}
