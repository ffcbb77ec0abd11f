// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_hs.c - the Anchor handshake: two messages, hybrid X25519 +
 * ML-KEM-768, each side authenticated by an Ed25519 signature over the
 * transcript hash and by the credential its identity carries.
 *
 *   initiation  e, ek_kem, es, {id_i, ts, cred_i, sig_i}
 *   response    e, ee, ct_kem, kem, se, {cred_r, sig_r}
 *
 * es = X25519(e_i, X(id_r)), ee = X25519(e_r, e_i), kem = ML-KEM-768 shared
 * secret of ct_kem (encapsulated to the initiator's one-time ek_kem), se =
 * X25519(e_r, X(id_i)); X() is the X25519 form of an Ed25519 identity. Every
 * secret is mixed into the chaining key, every message byte into the
 * transcript hash h, and the transport keys are HKDF(ck, h): an attacker
 * must break both X25519 and ML-KEM-768 to learn them. sig_i and sig_r sign
 * h at their point in the transcript (domain-separated), so each side
 * proves its identity key and binds its credential to this very session.
 * Full description: docs/ANCHOR_PROTOCOL.md.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "anchor_int.h"

#define SIG_LABEL_BYTES 16
static const uint8_t sig_label_init[SIG_LABEL_BYTES] = "anchor v1 init\0";
static const uint8_t sig_label_resp[SIG_LABEL_BYTES] = "anchor v1 resp\0";
#define MAX_PAYLOAD (ANCHOR_INIT_PAYLOAD_FIXED + VEIL_ANCHOR_CRED_MAX)

static int dh(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32], veil_err *err)
{
    if (crypto_scalarmult(out, sk, pk) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor: X25519 with a low-order point");
    return 0;
}

static int to_x25519(uint8_t out[32], const uint8_t id[VEIL_ANCHOR_KEY_BYTES], veil_err *err)
{
    if (crypto_sign_ed25519_pk_to_curve25519(out, id) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor: identity is not a valid Ed25519 key");
    return 0;
}

/* dh then mix_key, wiping the shared secret. */
static int mix_dh(struct anchor_sym *s, const uint8_t sk[32], const uint8_t pk[32], veil_err *err)
{
    uint8_t shared[32];
    int rc = dh(shared, sk, pk, err);
    if (rc == 0)
        anchor_sym_mix_key(s, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return rc;
}

static void sign_h(uint8_t sig[ANCHOR_SIG_BYTES], const uint8_t label[SIG_LABEL_BYTES],
                   const uint8_t h[32], const uint8_t sk[64])
{
    uint8_t msg[SIG_LABEL_BYTES + 32];
    memcpy(msg, label, SIG_LABEL_BYTES);
    memcpy(msg + SIG_LABEL_BYTES, h, 32);
    crypto_sign_ed25519_detached(sig, NULL, msg, sizeof msg, sk);
}

static int verify_h(const uint8_t sig[ANCHOR_SIG_BYTES], const uint8_t label[SIG_LABEL_BYTES],
                    const uint8_t h[32], const uint8_t pk[VEIL_ANCHOR_KEY_BYTES], veil_err *err)
{
    uint8_t msg[SIG_LABEL_BYTES + 32];
    memcpy(msg, label, SIG_LABEL_BYTES);
    memcpy(msg + SIG_LABEL_BYTES, h, 32);
    if (crypto_sign_ed25519_verify_detached(sig, msg, sizeof msg, pk) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor: handshake signature does not verify");
    return 0;
}

static int check_cred(const struct anchor_self *self, const uint8_t *cred, size_t len,
                      const uint8_t id[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                      struct veil_anchor_cred_info *info, veil_err *err)
{
    memset(info, 0, sizeof *info);
    if (self->verify(self->verify_ctx, cred, len, id, now_ms, info, err) != 0)
        return veil_err_wrap(err, "anchor: peer credential");
    info->realm[VEIL_ANCHOR_REALM_MAX - 1] = '\0';
    if (info->n_taints > VEIL_ANCHOR_TAINTS_MAX)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor: credential verifier gave %zu taints",
                            info->n_taints);
    for (size_t i = 0; i < info->n_taints; i++)
        info->taints[i][VEIL_ANCHOR_TAINT_MAX - 1] = '\0';
    return 0;
}

int anchor_self_init(struct anchor_self *self, const struct veil_anchor_local *local,
                     uint64_t now_ms, veil_err *err)
{
    uint8_t pk[32];
    memset(self, 0, sizeof *self);
    crypto_sign_ed25519_sk_to_pk(pk, local->identity_sk);
    if (!local->verify || !local->cred || local->cred_len == 0 ||
        local->cred_len > VEIL_ANCHOR_CRED_MAX)
        return veil_err_set(err, VEIL_E_INVALID,
                            "anchor: a credential (1..%d bytes) and a "
                            "verifier are required",
                            VEIL_ANCHOR_CRED_MAX);
    if (memcmp(pk, local->identity_pk, 32) != 0)
        return veil_err_set(err, VEIL_E_INVALID, "anchor: identity key pair does not match");
    memcpy(self->id_pk, local->identity_pk, 32);
    memcpy(self->id_sk, local->identity_sk, 64);
    if (to_x25519(self->x_pk, self->id_pk, err) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(self->x_sk, self->id_sk) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor: identity has no X25519 form");
    anchor_label_key(self->mac1_key, "mac1----", self->id_pk);
    anchor_label_key(self->cookie_key, "cookie--", self->id_pk);
    self->verify = local->verify;
    self->verify_ctx = local->verify_ctx;
    self->cred = malloc(local->cred_len);
    if (!self->cred)
        return veil_err_set(err, VEIL_E_NOMEM, "anchor: out of memory");
    memcpy(self->cred, local->cred, local->cred_len);
    self->cred_len = local->cred_len;
    if (check_cred(self, self->cred, self->cred_len, self->id_pk, now_ms, &self->info, err) != 0)
        return veil_err_wrap(err, "own credential");
    return 0;
}

void anchor_self_wipe(struct anchor_self *self)
{
    free(self->cred);
    sodium_memzero(self, sizeof *self);
}

/* Appends the MACs: mac1 keyed for `to`, mac2 by the cookie (or zero). */
static void put_macs(veil_buf *out, const uint8_t to[VEIL_ANCHOR_KEY_BYTES], const uint8_t *cookie,
                     uint8_t mac1_out[ANCHOR_MAC_BYTES])
{
    uint8_t key[32], mac[ANCHOR_MAC_BYTES] = {0};
    anchor_label_key(key, "mac1----", to);
    if (!veil_buf_ok(out))
        return;
    anchor_mac16(mac1_out, key, sizeof key, out->data, out->len);
    veil_buf_put(out, mac1_out, ANCHOR_MAC_BYTES);
    if (cookie && veil_buf_ok(out))
        anchor_mac16(mac, cookie, ANCHOR_COOKIE_BYTES, out->data, out->len);
    veil_buf_put(out, mac, sizeof mac);
}

int anchor_hs_initiate(const struct anchor_self *self, const uint8_t peer_id[VEIL_ANCHOR_KEY_BYTES],
                       uint32_t local_idx, uint64_t ts, const uint8_t *cookie,
                       struct anchor_hs_pending *st, veil_buf *out, veil_err *err)
{
    uint8_t peer_x[32], sig[ANCHOR_SIG_BYTES];
    veil_buf pt;
    if (to_x25519(peer_x, peer_id, err) != 0)
        return -1;
    randombytes_buf(st->e_sk, sizeof st->e_sk);
    crypto_scalarmult_base(st->e_pk, st->e_sk);
    if (self->classical_only) {
        memset(st->kem_ek, 0, sizeof st->kem_ek);
        memset(st->kem_dk, 0, sizeof st->kem_dk);
    } else if (veil_mlkem768_keygen(st->kem_ek, st->kem_dk, err) != 0) {
        return -1;
    }
    st->local_idx = local_idx;
    anchor_sym_init(&st->sym, peer_id);
    anchor_sym_mix_hash(&st->sym, st->e_pk, 32);
    anchor_sym_mix_hash(&st->sym, st->kem_ek, VEIL_MLKEM768_EK_BYTES);
    if (mix_dh(&st->sym, st->e_sk, peer_x, err) != 0)
        return -1;
    sign_h(sig, sig_label_init, st->sym.h, self->id_sk);
    veil_buf_init(&pt);
    anchor_init_payload_put(&pt, self->id_pk, ts, self->cred, self->cred_len, sig);
    size_t enc_len = pt.len + ANCHOR_TAG_BYTES;
    anchor_init_put_prefix(out, local_idx, st->e_pk, st->kem_ek, enc_len);
    uint8_t *enc = veil_buf_ok(&pt) ? veil_buf_extend(out, enc_len) : NULL;
    if (enc)
        anchor_sym_encrypt(&st->sym, enc, pt.data, pt.len);
    veil_buf_free_secure(&pt);
    put_macs(out, peer_id, cookie, st->mac1);
    if (!enc || !veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "anchor: cannot build a handshake initiation");
    return 0;
}

int anchor_hs_accept(const struct anchor_self *self, const struct anchor_init *m, uint64_t now_ms,
                     struct anchor_sym *sym, struct anchor_hs_result *res, veil_err *err)
{
    uint8_t pt[MAX_PAYLOAD], h_sig[32];
    struct anchor_init_payload p;
    anchor_sym_init(sym, self->id_pk);
    anchor_sym_mix_hash(sym, m->e, 32);
    anchor_sym_mix_hash(sym, m->ek, VEIL_MLKEM768_EK_BYTES);
    if (mix_dh(sym, self->x_sk, m->e, err) != 0)
        return -1;
    memcpy(h_sig, sym->h, 32);
    size_t pt_len = m->enc_len - ANCHOR_TAG_BYTES;
    int rc = -1;
    if (anchor_sym_decrypt(sym, pt, m->enc, m->enc_len) != 0)
        veil_err_set(err, VEIL_E_CRYPTO, "anchor: initiation does not decrypt");
    else if (anchor_init_payload_decode(&p, pt, pt_len, err) == 0 &&
             verify_h(p.sig, sig_label_init, h_sig, p.identity, err) == 0 &&
             check_cred(self, p.cred, p.cred_len, p.identity, now_ms, &res->info, err) == 0) {
        memcpy(res->peer_id, p.identity, VEIL_ANCHOR_KEY_BYTES);
        res->timestamp = p.timestamp;
        res->remote_idx = m->sender;
        rc = 0;
    }
    sodium_memzero(pt, sizeof pt);
    return rc;
}

int anchor_hs_answer(const struct anchor_self *self, struct anchor_sym *sym,
                     const struct anchor_init *m, uint32_t local_idx, struct anchor_hs_result *res,
                     veil_buf *out, veil_err *err)
{
    uint8_t e_sk[32], e_pk[32], peer_x[32], kem_ct[VEIL_MLKEM768_CT_BYTES], kem_ss[32];
    uint8_t sig[ANCHOR_SIG_BYTES], mac1[ANCHOR_MAC_BYTES];
    int rc = -1;
    randombytes_buf(e_sk, sizeof e_sk);
    crypto_scalarmult_base(e_pk, e_sk);
    anchor_sym_mix_hash(sym, e_pk, 32);
    memset(kem_ct, 0, sizeof kem_ct);
    memset(kem_ss, 0, sizeof kem_ss);
    if (mix_dh(sym, e_sk, m->e, err) != 0 ||
        (!self->classical_only && veil_mlkem768_encaps(kem_ct, kem_ss, m->ek, err) != 0))
        goto out;
    anchor_sym_mix_hash(sym, kem_ct, sizeof kem_ct);
    anchor_sym_mix_key(sym, kem_ss, sizeof kem_ss);
    if (to_x25519(peer_x, res->peer_id, err) != 0 || mix_dh(sym, e_sk, peer_x, err) != 0)
        goto out;
    sign_h(sig, sig_label_resp, sym->h, self->id_sk);
    veil_buf pt;
    veil_buf_init(&pt);
    anchor_resp_payload_put(&pt, self->cred, self->cred_len, sig);
    size_t enc_len = pt.len + ANCHOR_TAG_BYTES;
    anchor_resp_put_prefix(out, local_idx, m->sender, e_pk, kem_ct, enc_len);
    uint8_t *enc = veil_buf_ok(&pt) ? veil_buf_extend(out, enc_len) : NULL;
    if (enc)
        anchor_sym_encrypt(sym, enc, pt.data, pt.len);
    veil_buf_free_secure(&pt);
    put_macs(out, res->peer_id, NULL, mac1);
    if (!enc || !veil_buf_ok(out)) {
        veil_err_set(err, VEIL_E_NOMEM, "anchor: cannot build a handshake response");
        goto out;
    }
    anchor_sym_split(sym, res->recv_key, res->send_key);
    rc = 0;
out:
    sodium_memzero(e_sk, sizeof e_sk);
    sodium_memzero(kem_ss, sizeof kem_ss);
    sodium_memzero(sym, sizeof *sym);
    return rc;
}

/* The response's key schedule on the initiator's side, into sym. */
static int finish_keys(const struct anchor_self *self, struct anchor_hs_pending *st,
                       struct anchor_sym *sym, const struct anchor_resp *m, veil_err *err)
{
    uint8_t kem_ss[32] = {0};
    anchor_sym_mix_hash(sym, m->e, 32);
    if (mix_dh(sym, st->e_sk, m->e, err) != 0)
        return -1;
    anchor_sym_mix_hash(sym, m->kem_ct, VEIL_MLKEM768_CT_BYTES);
    if (!self->classical_only && veil_mlkem768_decaps(kem_ss, m->kem_ct, st->kem_dk, err) != 0)
        return -1;
    anchor_sym_mix_key(sym, kem_ss, sizeof kem_ss);
    sodium_memzero(kem_ss, sizeof kem_ss);
    return mix_dh(sym, self->x_sk, m->e, err);
}

int anchor_hs_finish(const struct anchor_self *self, struct anchor_hs_pending *st,
                     const uint8_t peer_id[VEIL_ANCHOR_KEY_BYTES], const struct anchor_resp *m,
                     uint64_t now_ms, struct anchor_hs_result *res, veil_err *err)
{
    struct anchor_sym sym = st->sym; /* a forged response leaves st usable */
    uint8_t pt[ANCHOR_RESP_PAYLOAD_FIXED + VEIL_ANCHOR_CRED_MAX], h_sig[32];
    struct anchor_resp_payload p;
    int rc = -1;
    if (finish_keys(self, st, &sym, m, err) != 0)
        goto out;
    memcpy(h_sig, sym.h, 32);
    if (anchor_sym_decrypt(&sym, pt, m->enc, m->enc_len) != 0) {
        veil_err_set(err, VEIL_E_CRYPTO, "anchor: response does not decrypt");
        goto out;
    }
    if (anchor_resp_payload_decode(&p, pt, m->enc_len - ANCHOR_TAG_BYTES, err) != 0 ||
        verify_h(p.sig, sig_label_resp, h_sig, peer_id, err) != 0 ||
        check_cred(self, p.cred, p.cred_len, peer_id, now_ms, &res->info, err) != 0)
        goto out;
    memcpy(res->peer_id, peer_id, VEIL_ANCHOR_KEY_BYTES);
    res->remote_idx = m->sender;
    res->timestamp = 0;
    anchor_sym_split(&sym, res->send_key, res->recv_key);
    rc = 0;
out:
    sodium_memzero(&sym, sizeof sym);
    sodium_memzero(pt, sizeof pt);
    return rc;
}
