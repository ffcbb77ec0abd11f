// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_net_anchor.c - libFuzzer target for the Anchor wire codecs: the
 * first byte picks a decoder (the four datagram types, the two handshake
 * payloads); the rest of the input goes to it, and then, whole, to a live
 * Anchor state machine's receive path, which must drop it without a reply
 * (nothing here knows a key it would accept).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/anchor.h>

#include "anchor_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int accept_own(void *ctx, const uint8_t *cred, size_t len, const uint8_t id[32],
                      uint64_t now_ms, struct veil_anchor_cred_info *out, veil_err *err)
{
    (void)now_ms;
    if (len != 32 || memcmp(cred, id, 32) != 0 || memcmp(id, ctx, 32) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "not ours");
    snprintf(out->realm, sizeof out->realm, "fuzz");
    out->n_taints = 0;
    return 0;
}

static veil_anchor *machine(void)
{
    static veil_anchor *a;
    static struct veil_anchor_local local;
    if (a)
        return a;
    if (sodium_init() < 0)
        abort();
    crypto_sign_ed25519_keypair(local.identity_pk, local.identity_sk);
    local.cred = local.identity_pk;
    local.cred_len = 32;
    local.verify = accept_own;
    local.verify_ctx = local.identity_pk;
    a = veil_anchor_new(NULL, &local, 1, NULL);
    if (!a)
        abort();
    return a;
}

static void decode(uint8_t which, const uint8_t *p, size_t n)
{
    struct anchor_init i;
    struct anchor_resp r;
    struct anchor_cookie_msg c;
    struct anchor_data d;
    struct anchor_init_payload ip;
    struct anchor_resp_payload rp;
    switch (which % 6) {
    case 0:
        if (anchor_init_decode(&i, p, n, NULL) == 0 && i.mac2_off != i.mac1_off + 16)
            abort();
        break;
    case 1:
        if (anchor_resp_decode(&r, p, n, NULL) == 0 && r.enc + r.enc_len > p + n)
            abort();
        break;
    case 2:
        (void)anchor_cookie_decode(&c, p, n, NULL);
        break;
    case 3:
        if (anchor_data_decode(&d, p, n, NULL) == 0 && d.enc_len + ANCHOR_DATA_HEADER != n)
            abort();
        break;
    case 4:
        if (anchor_init_payload_decode(&ip, p, n, NULL) == 0 && ip.cred_len > VEIL_ANCHOR_CRED_MAX)
            abort();
        break;
    default:
        if (anchor_resp_payload_decode(&rp, p, n, NULL) == 0 && rp.cred_len == 0)
            abort();
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    decode(data[0], data + 1, size - 1);
    veil_anchor *a = machine();
    struct veil_anchor_datagram out;
    if (veil_anchor_recv(a, (const uint8_t *)"fuzz", 4, data + 1, size - 1, 2, NULL))
        abort(); /* nothing unauthenticated is accepted */
    while (veil_anchor_pop_datagram(a, &out)) {
        veil_anchor_datagram_clear(&out);
        abort(); /* and nothing is answered (not under load: no cookie either) */
    }
    return 0;
}
