// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_test_cred.c - the test Guardian's credentials (anchor_test_cred.h).
 */
#include <string.h>

#include <sodium.h>

#include "anchor_test_cred.h"

size_t anchor_test_cred_make(uint8_t *out, const char *realm, const char *taints,
                             const uint8_t id[32], uint64_t expiry_ms, const uint8_t signer_sk[64])
{
    size_t n = 0;
    memcpy(out + n, realm, strlen(realm) + 1);
    n += strlen(realm) + 1;
    memcpy(out + n, taints, strlen(taints) + 1);
    n += strlen(taints) + 1;
    memcpy(out + n, id, 32);
    n += 32;
    memcpy(out + n, &expiry_ms, 8);
    n += 8;
    crypto_sign_ed25519_detached(out + n, NULL, out, n, signer_sk);
    return n + 64;
}

static int parse_taints(const char *t, struct veil_anchor_cred_info *out, veil_err *err)
{
    out->n_taints = 0;
    while (*t) {
        size_t k = strcspn(t, ",");
        if (k == 0 || k >= VEIL_ANCHOR_TAINT_MAX || out->n_taints == VEIL_ANCHOR_TAINTS_MAX)
            return veil_err_set(err, VEIL_E_PARSE, "credential taints");
        memcpy(out->taints[out->n_taints], t, k);
        out->taints[out->n_taints++][k] = '\0';
        t += k + (t[k] == ',');
    }
    return 0;
}

int anchor_test_cred_verify(void *ctx, const uint8_t *cred, size_t len, const uint8_t id[32],
                            uint64_t now_ms, struct veil_anchor_cred_info *out, veil_err *err)
{
    const uint8_t *trusted = ctx;
    if (len < 2 + 32 + 8 + 64 ||
        crypto_sign_ed25519_verify_detached(cred + len - 64, cred, len - 64, trusted) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "credential signature");
    const char *realm = (const char *)cred;
    size_t rl = strnlen(realm, len - 64);
    if (rl + 1 >= len - 64)
        return veil_err_set(err, VEIL_E_PARSE, "credential layout");
    const char *taints = realm + rl + 1;
    size_t tl = strnlen(taints, len - 64 - rl - 1);
    const uint8_t *cid = (const uint8_t *)taints + tl + 1;
    uint64_t expiry;
    if (cid + 40 != cred + len - 64 || rl >= VEIL_ANCHOR_REALM_MAX)
        return veil_err_set(err, VEIL_E_PARSE, "credential layout");
    memcpy(&expiry, cid + 32, 8);
    if (memcmp(cid, id, 32) != 0 || now_ms >= expiry)
        return veil_err_set(err, VEIL_E_CRYPTO, "credential not for this key, or expired");
    memcpy(out->realm, realm, rl + 1);
    return parse_taints(taints, out, err);
}
