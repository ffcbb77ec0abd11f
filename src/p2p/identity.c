// SPDX-License-Identifier: Apache-2.0
/*
 * identity.c (p2p core) - Ed25519 identity keys, the libp2p PublicKey /
 * PrivateKey protobufs, and peer IDs in binary multihash, base58btc and
 * CIDv1 text forms (libp2p/specs peer-ids/peer-ids.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <secp256k1.h>
#include <sodium.h>

#include <veil/p2p.h>

#include "core_crypto.pb-c.h"

/* Multihash codes (multiformats multicodec table). */
enum { MH_IDENTITY = 0x00, MH_SHA2_256 = 0x12 };
/* CID codec for libp2p keys, peer-ids spec "String representation". */
enum { CID_V1 = 0x01, CODEC_LIBP2P_KEY = 0x72 };
/* Peer-ids spec: keys whose protobuf is at most 42 bytes are inlined. */
#define IDENTITY_INLINE_MAX 42

int veil_p2p_keypair_generate(veil_p2p_keypair *kp, veil_err *err)
{
    uint8_t seed[32];
    veil_random_bytes(seed, sizeof seed);
    int rc = veil_p2p_keypair_from_seed(kp, seed, err);
    veil_memzero(seed, sizeof seed);
    return rc;
}

int veil_p2p_keypair_from_seed(veil_p2p_keypair *kp, const uint8_t seed[32], veil_err *err)
{
    if (crypto_sign_seed_keypair(kp->public_key, kp->secret_key, seed) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "ed25519 key derivation failed");
    return 0;
}

void veil_p2p_keypair_wipe(veil_p2p_keypair *kp)
{
    veil_memzero(kp, sizeof *kp);
}

void veil_p2p_keypair_sign(const veil_p2p_keypair *kp, const void *msg, size_t len, uint8_t sig[64])
{
    crypto_sign_detached(sig, NULL, msg, len, kp->secret_key);
}

int veil_p2p_keypair_save(const veil_p2p_keypair *kp, const char *path, veil_err *err)
{
    /* PrivateKey { Type = Ed25519, Data = 64-byte private||public } */
    uint8_t pb[4 + 64];
    pb[0] = 0x08;
    pb[1] = 0x01;
    pb[2] = 0x12;
    pb[3] = 0x40;
    memcpy(pb + 4, kp->secret_key, 64);
    int rc = veil_key_file_write(path, pb, sizeof pb, err);
    veil_memzero(pb, sizeof pb);
    return rc;
}

int veil_p2p_keypair_decode(veil_p2p_keypair *kp, const uint8_t *data, size_t len, veil_err *err)
{
    int rc = -1;
    Veil__Core__PrivateKey *pk = veil__core__private_key__unpack(NULL, len, data);
    if (!pk)
        return veil_err_set(err, VEIL_E_PARSE, "not a libp2p PrivateKey protobuf");
    if (pk->type != VEIL__CORE__KEY_TYPE__Ed25519) {
        veil_err_set(err, VEIL_E_UNSUPPORTED, "key type %d is not Ed25519", (int)pk->type);
        goto out;
    }
    /* The libp2p Ed25519 private key is 64 bytes (seed || public); very old
     * files carry the public key twice (96 bytes). */
    if (pk->data.len != 64 && pk->data.len != 96) {
        veil_err_set(err, VEIL_E_RANGE, "Ed25519 key of %zu bytes", pk->data.len);
        goto out;
    }
    if (veil_p2p_keypair_from_seed(kp, pk->data.data, err) != 0)
        goto out;
    if (!veil_memeq_ct(kp->public_key, pk->data.data + 32, 32)) {
        veil_p2p_keypair_wipe(kp);
        veil_err_set(err, VEIL_E_CRYPTO, "public half does not match the seed");
        goto out;
    }
    rc = 0;
out:
    veil_memzero(pk->data.data, pk->data.len);
    veil__core__private_key__free_unpacked(pk, NULL);
    return rc;
}

int veil_p2p_keypair_load(veil_p2p_keypair *kp, const char *path, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_key_file_read(path, 4096, &data, &len, err) != 0)
        return veil_err_wrap(err, "loading node key %s", path);
    int rc = veil_p2p_keypair_decode(kp, data, len, err);
    if (rc != 0)
        veil_err_wrap(err, "node key %s", path);
    veil_memzero(data, len);
    free(data);
    return rc;
}

void veil_p2p_pubkey_encode_ed25519(const uint8_t pk[32],
                                    uint8_t out[VEIL_P2P_ED25519_PUBKEY_PB_LEN])
{
    /* Deterministic encoding required by the peer-ids spec: field 1 varint,
     * field 2 length-delimited, in that order. */
    out[0] = 0x08;
    out[1] = 0x01;
    out[2] = 0x12;
    out[3] = 0x20;
    memcpy(out + 4, pk, 32);
}

int veil_p2p_pubkey_decode_ed25519(const uint8_t *pb, size_t len, uint8_t pk[32], veil_err *err)
{
    if (!pb || len == 0 || len > 4096)
        return veil_err_set(err, VEIL_E_RANGE, "public key protobuf of %zu bytes", len);
    Veil__Core__PublicKey *k = veil__core__public_key__unpack(NULL, len, pb);
    if (!k)
        return veil_err_set(err, VEIL_E_PARSE, "malformed PublicKey protobuf");
    int rc = 0;
    if (k->type != VEIL__CORE__KEY_TYPE__Ed25519)
        rc = veil_err_set(err, VEIL_E_UNSUPPORTED, "public key type %d is not Ed25519",
                          (int)k->type);
    else if (k->data.len != 32)
        rc = veil_err_set(err, VEIL_E_RANGE, "Ed25519 public key of %zu bytes", k->data.len);
    else
        memcpy(pk, k->data.data, 32);
    veil__core__public_key__free_unpacked(k, NULL);
    return rc;
}

/* peer-ids spec "secp256k1": 33-byte compressed key, DER ECDSA signature of
 * SHA-256(msg). High-S signatures are accepted (normalised) as go does. */
static int verify_secp256k1(const uint8_t *key, size_t key_len, const void *msg, size_t len,
                            const uint8_t *sig, size_t sig_len, veil_err *err)
{
    const secp256k1_context *ctx = secp256k1_context_static;
    secp256k1_pubkey pub;
    secp256k1_ecdsa_signature s;
    if (!secp256k1_ec_pubkey_parse(ctx, &pub, key, key_len))
        return veil_err_set(err, VEIL_E_PARSE, "malformed secp256k1 public key");
    if (!secp256k1_ecdsa_signature_parse_der(ctx, &s, sig, sig_len))
        return veil_err_set(err, VEIL_E_CRYPTO, "malformed secp256k1 signature");
    secp256k1_ecdsa_signature_normalize(ctx, &s, &s);
    uint8_t h[32];
    crypto_hash_sha256(h, msg, len);
    if (!secp256k1_ecdsa_verify(ctx, &s, h, &pub))
        return veil_err_set(err, VEIL_E_CRYPTO, "secp256k1 signature does not verify");
    return 0;
}

/* peer-ids spec "RSA" and "ECDSA": PKIX (SubjectPublicKeyInfo) DER keys;
 * RSA PKCS#1 v1.5 or DER ECDSA signatures over SHA-256. RSA keys must have at
 * least 2048 bits. */
static int verify_pkix(int type, const uint8_t *key, size_t key_len, const void *msg, size_t len,
                       const uint8_t *sig, size_t sig_len, veil_err *err)
{
    const unsigned char *p = key;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)key_len);
    if (!pk || p != key + key_len) {
        EVP_PKEY_free(pk);
        return veil_err_set(err, VEIL_E_PARSE, "malformed PKIX public key");
    }
    int id = EVP_PKEY_base_id(pk);
    int rc = -1;
    if (type == VEIL__CORE__KEY_TYPE__RSA && (id != EVP_PKEY_RSA || EVP_PKEY_bits(pk) < 2048)) {
        veil_err_set(err, VEIL_E_CRYPTO, "RSA key missing or shorter than 2048 bits");
        goto out;
    }
    if (type == VEIL__CORE__KEY_TYPE__ECDSA && id != EVP_PKEY_EC) {
        veil_err_set(err, VEIL_E_CRYPTO, "ECDSA key is not an EC key");
        goto out;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
        EVP_DigestVerify(md, sig, sig_len, msg, len) == 1)
        rc = 0;
    else
        veil_err_set(err, VEIL_E_CRYPTO, "%s signature does not verify",
                     type == VEIL__CORE__KEY_TYPE__RSA ? "RSA" : "ECDSA");
    EVP_MD_CTX_free(md);
out:
    EVP_PKEY_free(pk);
    return rc;
}

int veil_p2p_pubkey_verify(const uint8_t *pb, size_t pb_len, const void *msg, size_t len,
                           const uint8_t *sig, size_t sig_len, veil_err *err)
{
    if (!pb || pb_len == 0 || pb_len > 4096)
        return veil_err_set(err, VEIL_E_RANGE, "public key protobuf of %zu bytes", pb_len);
    Veil__Core__PublicKey *k = veil__core__public_key__unpack(NULL, pb_len, pb);
    if (!k)
        return veil_err_set(err, VEIL_E_PARSE, "malformed PublicKey protobuf");
    int rc;
    switch (k->type) {
    case VEIL__CORE__KEY_TYPE__Ed25519:
        if (k->data.len != 32)
            rc = veil_err_set(err, VEIL_E_RANGE, "Ed25519 public key of %zu bytes", k->data.len);
        else if (sig_len != crypto_sign_BYTES)
            rc = veil_err_set(err, VEIL_E_CRYPTO, "Ed25519 signature of %zu bytes", sig_len);
        else if (crypto_sign_verify_detached(sig, msg, len, k->data.data) != 0)
            rc = veil_err_set(err, VEIL_E_CRYPTO, "Ed25519 signature does not verify");
        else
            rc = 0;
        break;
    case VEIL__CORE__KEY_TYPE__Secp256k1:
        rc = verify_secp256k1(k->data.data, k->data.len, msg, len, sig, sig_len, err);
        break;
    case VEIL__CORE__KEY_TYPE__RSA:
    case VEIL__CORE__KEY_TYPE__ECDSA:
        rc = verify_pkix(k->type, k->data.data, k->data.len, msg, len, sig, sig_len, err);
        break;
    default:
        rc = veil_err_set(err, VEIL_E_UNSUPPORTED, "public key type %d", (int)k->type);
        break;
    }
    veil__core__public_key__free_unpacked(k, NULL);
    return rc;
}

void veil_p2p_peer_id_from_ed25519(const uint8_t pk[32], veil_p2p_peer_id *out)
{
    memset(out, 0, sizeof *out);
    out->bytes[0] = MH_IDENTITY;
    out->bytes[1] = VEIL_P2P_ED25519_PUBKEY_PB_LEN;
    veil_p2p_pubkey_encode_ed25519(pk, out->bytes + 2);
    out->len = 2 + VEIL_P2P_ED25519_PUBKEY_PB_LEN;
}

int veil_p2p_peer_id_from_pubkey_pb(const uint8_t *pb, size_t len, veil_p2p_peer_id *out,
                                    veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > 4096)
        return veil_err_set(err, VEIL_E_RANGE, "public key protobuf of %zu bytes", len);
    if (len <= IDENTITY_INLINE_MAX) {
        out->bytes[0] = MH_IDENTITY;
        out->bytes[1] = (uint8_t)len;
        memcpy(out->bytes + 2, pb, len);
        out->len = (uint8_t)(2 + len);
    } else {
        out->bytes[0] = MH_SHA2_256;
        out->bytes[1] = 32;
        crypto_hash_sha256(out->bytes + 2, pb, len);
        out->len = 34;
    }
    return 0;
}

int veil_p2p_peer_id_from_bytes(const uint8_t *bytes, size_t len, veil_p2p_peer_id *out,
                                veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, bytes, len);
    uint64_t code = veil_read_uvarint(&r);
    uint64_t dlen = veil_read_uvarint(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_PARSE, "peer ID: malformed multihash header");
    if (code == MH_IDENTITY) {
        if (dlen == 0 || dlen > IDENTITY_INLINE_MAX)
            return veil_err_set(err, VEIL_E_RANGE, "peer ID: identity digest of %llu bytes",
                                (unsigned long long)dlen);
    } else if (code == MH_SHA2_256) {
        if (dlen != 32)
            return veil_err_set(err, VEIL_E_RANGE, "peer ID: sha2-256 digest of %llu bytes",
                                (unsigned long long)dlen);
    } else {
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "peer ID: multihash code 0x%llx",
                            (unsigned long long)code);
    }
    if (veil_reader_remaining(&r) != dlen)
        return veil_err_set(err, VEIL_E_RANGE, "peer ID: digest length %llu, have %zu bytes",
                            (unsigned long long)dlen, veil_reader_remaining(&r));
    if (len > VEIL_P2P_PEER_ID_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "peer ID of %zu bytes", len);
    memset(out, 0, sizeof *out);
    memcpy(out->bytes, bytes, len);
    out->len = (uint8_t)len;
    return 0;
}

int veil_p2p_peer_id_parse(const char *text, veil_p2p_peer_id *out, veil_err *err)
{
    if (!text)
        return veil_err_set(err, VEIL_E_INVALID, "peer ID: empty");
    size_t n = strlen(text);
    uint8_t buf[128];
    if (n == 0 || n >= VEIL_P2P_PEER_ID_TEXT_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "peer ID text of %zu characters", n);
    if (text[0] == '1' || text[0] == 'Q') {
        /* Bare base58btc multihash (identity "1..." or sha2-256 "Qm..."). */
        long len = veil_base58_decode(buf, sizeof buf, text, n, err);
        if (len < 0)
            return veil_err_wrap(err, "peer ID '%s'", text);
        if (veil_p2p_peer_id_from_bytes(buf, (size_t)len, out, err) != 0)
            return veil_err_wrap(err, "peer ID '%s'", text);
        return 0;
    }
    if (text[0] == 'b' || text[0] == 'B') {
        /* multibase base32 CIDv1: <version=1><codec=libp2p-key><multihash>. */
        long len = veil_base32_decode(buf, sizeof buf, text + 1, n - 1, err);
        if (len < 0)
            return veil_err_wrap(err, "peer ID '%s'", text);
        veil_reader r;
        veil_reader_init(&r, buf, (size_t)len);
        uint64_t version = veil_read_uvarint(&r);
        uint64_t codec = veil_read_uvarint(&r);
        if (!veil_reader_ok(&r) || version != CID_V1)
            return veil_err_set(err, VEIL_E_PARSE, "peer ID '%s': not a CIDv1", text);
        if (codec != CODEC_LIBP2P_KEY)
            return veil_err_set(err, VEIL_E_UNSUPPORTED,
                                "peer ID '%s': CID codec 0x%llx is not libp2p-key", text,
                                (unsigned long long)codec);
        if (veil_p2p_peer_id_from_bytes(buf + r.pos, (size_t)len - r.pos, out, err) != 0)
            return veil_err_wrap(err, "peer ID '%s'", text);
        return 0;
    }
    return veil_err_set(err, VEIL_E_PARSE, "peer ID '%s': neither base58btc nor a CIDv1", text);
}

long veil_p2p_peer_id_to_text(const veil_p2p_peer_id *id, char *out, size_t out_cap)
{
    return veil_base58_encode(out, out_cap, id->bytes, id->len);
}

long veil_p2p_peer_id_to_cid_text(const veil_p2p_peer_id *id, char *out, size_t out_cap)
{
    uint8_t buf[2 + VEIL_P2P_PEER_ID_MAX];
    buf[0] = CID_V1;
    buf[1] = CODEC_LIBP2P_KEY;
    memcpy(buf + 2, id->bytes, id->len);
    if (out_cap < 2)
        return -1;
    out[0] = 'b';
    long n = veil_base32_encode(out + 1, out_cap - 1, buf, 2u + id->len, true, false);
    return n < 0 ? -1 : n + 1;
}

bool veil_p2p_peer_id_equal(const veil_p2p_peer_id *a, const veil_p2p_peer_id *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

int veil_p2p_peer_id_ed25519_key(const veil_p2p_peer_id *id, uint8_t pk[32], veil_err *err)
{
    if (id->len < 2 || id->bytes[0] != MH_IDENTITY)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "peer ID does not inline its key");
    return veil_p2p_pubkey_decode_ed25519(id->bytes + 2, (size_t)id->len - 2, pk, err);
}

veil_p2p_peer_id_text veil_p2p_peer_id_str(const veil_p2p_peer_id *id)
{
    veil_p2p_peer_id_text t;
    if (veil_p2p_peer_id_to_text(id, t.s, sizeof t.s) < 0)
        snprintf(t.s, sizeof t.s, "(invalid)");
    return t;
}
