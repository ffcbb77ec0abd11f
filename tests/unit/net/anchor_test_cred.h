// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_test_cred.h - a test Guardian for the Anchor tests: credentials
 * "realm \0 taints(comma-separated) \0 identity[32] expiry_ms[8] sig[64]"
 * signed with Ed25519 by a Guardian key, and the verification callback that
 * checks them (signature by the trusted key, identity, expiry) and returns
 * realm and taints. Real signatures, so a forged credential really fails.
 */
#ifndef VEIL_TEST_ANCHOR_CRED_H
#define VEIL_TEST_ANCHOR_CRED_H

#include <stdint.h>

#include <veil/anchor.h>

/* Writes a credential into out (at least 200 bytes + realm + taints). */
size_t anchor_test_cred_make(uint8_t *out, const char *realm, const char *taints,
                             const uint8_t id[32], uint64_t expiry_ms, const uint8_t signer_sk[64]);
/* veil_anchor_verify_fn; ctx is the trusted Guardian public key (32 bytes). */
int anchor_test_cred_verify(void *ctx, const uint8_t *cred, size_t len, const uint8_t id[32],
                            uint64_t now_ms, struct veil_anchor_cred_info *out, veil_err *err);

#endif /* VEIL_TEST_ANCHOR_CRED_H */
