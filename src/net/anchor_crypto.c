// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_crypto.c - the Anchor handshake's symmetric state, in the manner
 * of the Noise framework: SHA-256 transcript hash h, HKDF (HMAC-SHA256)
 * chaining key ck, ChaCha20-Poly1305 (IETF) with h as associated data; and
 * the 16-byte keyed BLAKE2b MAC used by mac1, mac2 and cookies. All on
 * libsodium.
 */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "anchor_int.h"

#define PROTOCOL_NAME "Anchor_v1_X25519+MLKEM768_Ed25519_ChaChaPoly_SHA256"
#define PROLOGUE      "veil anchor v1"

static void hash2(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, alen);
    if (b)
        crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}

static void hmac2(uint8_t out[32], const uint8_t key[32], const uint8_t *a, size_t alen,
                  const uint8_t *b, size_t blen)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, a, alen);
    if (b)
        crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
}

/* Noise HKDF with two outputs. */
static void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t len, uint8_t out1[32],
                  uint8_t out2[32])
{
    uint8_t temp[32], one = 1, two = 2, o1[32];
    hmac2(temp, ck, ikm, len, NULL, 0);
    hmac2(o1, temp, &one, 1, NULL, 0);
    hmac2(out2, temp, o1, 32, &two, 1);
    memcpy(out1, o1, 32);
    sodium_memzero(temp, sizeof temp);
    sodium_memzero(o1, sizeof o1);
}

void anchor_sym_init(struct anchor_sym *s, const uint8_t responder_id[VEIL_ANCHOR_KEY_BYTES])
{
    hash2(s->h, (const uint8_t *)PROTOCOL_NAME, strlen(PROTOCOL_NAME), NULL, 0);
    memcpy(s->ck, s->h, 32);
    memset(s->k, 0, sizeof s->k);
    anchor_sym_mix_hash(s, (const uint8_t *)PROLOGUE, strlen(PROLOGUE));
    anchor_sym_mix_hash(s, responder_id, VEIL_ANCHOR_KEY_BYTES);
}

void anchor_sym_mix_hash(struct anchor_sym *s, const uint8_t *data, size_t len)
{
    hash2(s->h, s->h, 32, data, len);
}

void anchor_sym_mix_key(struct anchor_sym *s, const uint8_t *ikm, size_t len)
{
    hkdf2(s->ck, ikm, len, s->ck, s->k);
}

void anchor_sym_encrypt(struct anchor_sym *s, uint8_t *out, const uint8_t *in, size_t len)
{
    static const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, s->h, 32, NULL, nonce, s->k);
    anchor_sym_mix_hash(s, out, len + ANCHOR_TAG_BYTES);
}

int anchor_sym_decrypt(struct anchor_sym *s, uint8_t *out, const uint8_t *in, size_t len)
{
    static const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    if (len < ANCHOR_TAG_BYTES || crypto_aead_chacha20poly1305_ietf_decrypt(
                                      out, NULL, NULL, in, len, s->h, 32, nonce, s->k) != 0)
        return -1;
    anchor_sym_mix_hash(s, in, len);
    return 0;
}

void anchor_sym_split(const struct anchor_sym *s, uint8_t i2r[32], uint8_t r2i[32])
{
    hkdf2(s->ck, s->h, 32, i2r, r2i);
}

void anchor_mac16(uint8_t out[ANCHOR_MAC_BYTES], const uint8_t *key, size_t key_len,
                  const uint8_t *data, size_t len)
{
    crypto_generichash(out, ANCHOR_MAC_BYTES, data, len, key, key_len);
}

void anchor_label_key(uint8_t out[32], const char label[8],
                      const uint8_t identity[VEIL_ANCHOR_KEY_BYTES])
{
    hash2(out, (const uint8_t *)label, 8, identity, VEIL_ANCHOR_KEY_BYTES);
}

/* ---- transport AEAD --------------------------------------------------------- */

/* ChaCha20-Poly1305 (RFC 8439, the same bytes libsodium's _ietf functions
 * produce) through OpenSSL's EVP, whose AVX2/AVX-512 code runs about three
 * times faster here than libsodium's on MTU-sized packets. A context is
 * bound to the cipher and a direction once (anchor_aead_new) and, for a
 * session, to its key once (anchor_aead_key); a packet then only sets its
 * nonce (key NULL), which skips the provider's key set-up per packet. */
EVP_CIPHER_CTX *anchor_aead_new(bool seal)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c && EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, seal ? 1 : 0) != 1) {
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    return c;
}

int anchor_aead_key(EVP_CIPHER_CTX *c, const uint8_t key[32], bool seal)
{
    return EVP_CipherInit_ex(c, NULL, NULL, key, NULL, seal ? 1 : 0) == 1 ? 0 : -1;
}

int anchor_aead_seal(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *pt, size_t len,
                     const uint8_t *aad, size_t aad_len, const uint8_t nonce[12],
                     const uint8_t *key)
{
    int n = 0;
    if (len > INT_MAX || aad_len > INT_MAX ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, 1) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1 ||
        (len > 0 && EVP_CipherUpdate(c, out, &n, pt, (int)len) != 1) ||
        EVP_CipherFinal_ex(c, out + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ANCHOR_TAG_BYTES, out + len) != 1)
        return -1;
    return 0;
}

int anchor_aead_open(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *ct, size_t ct_len,
                     const uint8_t *aad, size_t aad_len, const uint8_t nonce[12],
                     const uint8_t *key)
{
    int n = 0;
    if (ct_len < ANCHOR_TAG_BYTES || ct_len > INT_MAX || aad_len > INT_MAX)
        return -1;
    size_t len = ct_len - ANCHOR_TAG_BYTES;
    if (EVP_CipherInit_ex(c, NULL, NULL, key, nonce, 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ANCHOR_TAG_BYTES, (void *)(ct + len)) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1 ||
        (len > 0 && EVP_CipherUpdate(c, out, &n, ct, (int)len) != 1) ||
        EVP_CipherFinal_ex(c, out + len, &n) != 1)
        return -1;
    return 0;
}
