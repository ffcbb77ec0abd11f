// SPDX-License-Identifier: Apache-2.0
/*
 * keystore.c - Web3 Secret Storage (keystore v3) files, the format geth and
 * `cast wallet` read and write: the private key encrypted with AES-128-CTR
 * under the first 16 bytes of a scrypt (or pbkdf2-hmac-sha256) derived key,
 * authenticated by mac = keccak256(dk[16..32] || ciphertext). KDF and cipher
 * come from OpenSSL 3; the JSON is parsed with jansson and every field is
 * checked before use (sizes, KDF cost limits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include <veil/chain.h>

#define KS_MAX_LOG2_N      20 /* 2^20 * 128 * r bytes: 1 GiB at r=8 - refuse more */
#define KS_MAX_R           16
#define KS_MAX_P           16
#define KS_MAX_PBKDF2_ITER 10000000
#define KS_MAX_FILE        (64 * 1024)

static int aes128_ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, size_t n,
                      uint8_t *out, veil_err *err)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) == 1 &&
             EVP_EncryptUpdate(c, out, &len, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(c, out + len, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : veil_err_set(err, VEIL_E_CRYPTO, "keystore: AES-128-CTR failed");
}

static int scrypt_dk(const char *password, const uint8_t *salt, size_t salt_len, uint64_t n,
                     uint64_t r, uint64_t p, uint8_t dk[32], veil_err *err)
{
    /* scrypt needs 128 * r * (n + p + 2) bytes; allow that plus slack. */
    uint64_t maxmem = 128 * r * (n + p + 2) + (1u << 20);
    if (EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, r, p, maxmem, dk, 32) != 1)
        return veil_err_set(err, VEIL_E_CRYPTO, "keystore: scrypt failed");
    return 0;
}

static void hex_field(json_t *obj, const char *name, const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return;
    veil_hex_encode(hex, 2 * n + 1, p, n);
    json_object_set_new(obj, name, json_string(hex));
    free(hex);
}

int veil_keystore_encrypt(const veil_eth_key *key, const char *password,
                          const veil_keystore_params *params, char **json_out, veil_err *err)
{
    veil_keystore_params def = {18, 8, 1};
    if (!params)
        params = &def;
    if (params->scrypt_log2_n < 1 || params->scrypt_log2_n > KS_MAX_LOG2_N ||
        params->scrypt_r < 1 || params->scrypt_r > KS_MAX_R || params->scrypt_p < 1 ||
        params->scrypt_p > KS_MAX_P)
        return veil_err_set(err, VEIL_E_INVALID, "keystore: scrypt parameters out of range");
    uint8_t salt[32], iv[16], dk[32], ct[32], mac[32], uuid[16];
    veil_random_bytes(salt, sizeof salt);
    veil_random_bytes(iv, sizeof iv);
    veil_random_bytes(uuid, sizeof uuid);
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    uint64_t n = 1ull << params->scrypt_log2_n;
    if (scrypt_dk(password, salt, sizeof salt, n, params->scrypt_r, params->scrypt_p, dk, err) !=
            0 ||
        aes128_ctr(dk, iv, key->secret, 32, ct, err) != 0) {
        veil_memzero(dk, sizeof dk);
        return -1;
    }
    uint8_t macin[48];
    memcpy(macin, dk + 16, 16);
    memcpy(macin + 16, ct, 32);
    veil_keccak256(macin, sizeof macin, mac);
    veil_memzero(dk, sizeof dk);
    veil_memzero(macin, sizeof macin);

    char id[37];
    snprintf(id, sizeof id, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8],
             uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
    json_t *root = json_object(), *crypto = json_object(), *cp = json_object(), *kp = json_object();
    if (!root || !crypto || !cp || !kp) {
        json_decref(root);
        json_decref(crypto);
        json_decref(cp);
        json_decref(kp);
        return veil_err_set(err, VEIL_E_NOMEM, "keystore: out of memory");
    }
    char addr[41];
    veil_hex_encode(addr, sizeof addr, key->address.b, 20);
    json_object_set_new(root, "address", json_string(addr));
    json_object_set_new(crypto, "cipher", json_string("aes-128-ctr"));
    hex_field(cp, "iv", iv, sizeof iv);
    json_object_set_new(crypto, "cipherparams", cp);
    hex_field(crypto, "ciphertext", ct, sizeof ct);
    json_object_set_new(crypto, "kdf", json_string("scrypt"));
    json_object_set_new(kp, "dklen", json_integer(32));
    json_object_set_new(kp, "n", json_integer((json_int_t)n));
    json_object_set_new(kp, "p", json_integer(params->scrypt_p));
    json_object_set_new(kp, "r", json_integer(params->scrypt_r));
    hex_field(kp, "salt", salt, sizeof salt);
    json_object_set_new(crypto, "kdfparams", kp);
    hex_field(crypto, "mac", mac, sizeof mac);
    json_object_set_new(root, "crypto", crypto);
    json_object_set_new(root, "id", json_string(id));
    json_object_set_new(root, "version", json_integer(3));
    *json_out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!*json_out)
        return veil_err_set(err, VEIL_E_NOMEM, "keystore: out of memory");
    return 0;
}

/* A hex string field of exactly `want` bytes (or 1..max_len when want==0). */
static int get_hex(json_t *obj, const char *name, uint8_t *out, size_t want, size_t max_len,
                   size_t *got, veil_err *err)
{
    const char *s = json_string_value(json_object_get(obj, name));
    if (!s)
        return veil_err_set(err, VEIL_E_PARSE, "keystore: missing string field '%s'", name);
    size_t sl = strlen(s);
    size_t cap = want ? want : max_len;
    if (sl % 2 != 0 || sl / 2 > cap || (want && sl / 2 != want) || sl == 0)
        return veil_err_set(err, VEIL_E_PARSE, "keystore: field '%s' has the wrong length", name);
    long n = veil_hex_decode(out, cap, s, sl, true, err);
    if (n < 0)
        return veil_err_wrap(err, "keystore: field '%s'", name);
    if (got)
        *got = (size_t)n;
    return 0;
}

static int get_uint(json_t *obj, const char *name, uint64_t min, uint64_t max, uint64_t *out,
                    veil_err *err)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v))
        return veil_err_set(err, VEIL_E_PARSE, "keystore: missing integer field '%s'", name);
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
        return veil_err_set(err, VEIL_E_RANGE, "keystore: '%s' = %lld out of range", name,
                            (long long)x);
    *out = (uint64_t)x;
    return 0;
}

static int derive_key(json_t *crypto, const char *password, unsigned max_log2_n, uint64_t max_iter,
                      uint8_t dk[32], veil_err *err)
{
    const char *kdf = json_string_value(json_object_get(crypto, "kdf"));
    json_t *kp = json_object_get(crypto, "kdfparams");
    if (!kdf || !json_is_object(kp))
        return veil_err_set(err, VEIL_E_PARSE, "keystore: missing kdf or kdfparams");
    uint8_t salt[256];
    size_t salt_len;
    uint64_t dklen;
    if (get_hex(kp, "salt", salt, 0, sizeof salt, &salt_len, err) != 0 ||
        get_uint(kp, "dklen", 32, 32, &dklen, err) != 0)
        return -1;
    if (strcmp(kdf, "scrypt") == 0) {
        uint64_t n, r, p;
        if (get_uint(kp, "n", 2, 1ull << max_log2_n, &n, err) != 0 ||
            get_uint(kp, "r", 1, KS_MAX_R, &r, err) != 0 ||
            get_uint(kp, "p", 1, KS_MAX_P, &p, err) != 0)
            return -1;
        if ((n & (n - 1)) != 0)
            return veil_err_set(err, VEIL_E_RANGE, "keystore: scrypt n must be a power of two");
        return scrypt_dk(password, salt, salt_len, n, r, p, dk, err);
    }
    if (strcmp(kdf, "pbkdf2") == 0) {
        uint64_t c;
        const char *prf = json_string_value(json_object_get(kp, "prf"));
        if (!prf || strcmp(prf, "hmac-sha256") != 0)
            return veil_err_set(err, VEIL_E_UNSUPPORTED,
                                "keystore: pbkdf2 prf must be hmac-sha256");
        if (get_uint(kp, "c", 1, max_iter, &c, err) != 0)
            return -1;
        if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)c,
                              EVP_sha256(), 32, dk) != 1)
            return veil_err_set(err, VEIL_E_CRYPTO, "keystore: pbkdf2 failed");
        return 0;
    }
    return veil_err_set(err, VEIL_E_UNSUPPORTED, "keystore: unsupported kdf '%s'", kdf);
}

int veil_keystore_decrypt(const char *json, size_t len, const char *password, veil_eth_key *key,
                          veil_err *err)
{
    return veil_keystore_decrypt_limited(json, len, password, KS_MAX_LOG2_N, KS_MAX_PBKDF2_ITER,
                                         key, err);
}

int veil_keystore_decrypt_limited(const char *json, size_t len, const char *password,
                                  unsigned max_scrypt_log2_n, uint64_t max_pbkdf2_iterations,
                                  veil_eth_key *key, veil_err *err)
{
    if (max_scrypt_log2_n > KS_MAX_LOG2_N)
        max_scrypt_log2_n = KS_MAX_LOG2_N;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return veil_err_set(err, VEIL_E_PARSE, "keystore: not a JSON object (%s)",
                            root ? "wrong type" : jerr.text);
    }
    int rc = -1;
    uint8_t dk[32] = {0}, iv[16], ct[32], mac[32], want_mac[32], secret[32], macin[48];
    json_t *crypto = json_object_get(root, "crypto");
    if (!crypto)
        crypto = json_object_get(root, "Crypto"); /* geth accepts both */
    json_t *version = json_object_get(root, "version");
    if (!json_is_integer(version) || json_integer_value(version) != 3) {
        veil_err_set(err, VEIL_E_UNSUPPORTED, "keystore: version must be 3");
        goto out;
    }
    if (!json_is_object(crypto)) {
        veil_err_set(err, VEIL_E_PARSE, "keystore: missing 'crypto' object");
        goto out;
    }
    const char *cipher = json_string_value(json_object_get(crypto, "cipher"));
    if (!cipher || strcmp(cipher, "aes-128-ctr") != 0) {
        veil_err_set(err, VEIL_E_UNSUPPORTED, "keystore: cipher must be aes-128-ctr");
        goto out;
    }
    json_t *cp = json_object_get(crypto, "cipherparams");
    if (!json_is_object(cp) || get_hex(cp, "iv", iv, 16, 16, NULL, err) != 0 ||
        get_hex(crypto, "ciphertext", ct, 32, 32, NULL, err) != 0 ||
        get_hex(crypto, "mac", want_mac, 32, 32, NULL, err) != 0) {
        if (!json_is_object(cp))
            veil_err_set(err, VEIL_E_PARSE, "keystore: missing 'cipherparams'");
        goto out;
    }
    if (derive_key(crypto, password, max_scrypt_log2_n, max_pbkdf2_iterations, dk, err) != 0)
        goto out;
    memcpy(macin, dk + 16, 16);
    memcpy(macin + 16, ct, 32);
    veil_keccak256(macin, sizeof macin, mac);
    if (!veil_memeq_ct(mac, want_mac, 32)) {
        veil_err_set(err, VEIL_E_CRYPTO, "keystore: wrong password (MAC mismatch)");
        goto out;
    }
    if (aes128_ctr(dk, iv, ct, 32, secret, err) != 0 ||
        veil_eth_key_from_secret(key, secret, err) != 0)
        goto out;
    /* The address field is optional; when present it must match. */
    const char *addr = json_string_value(json_object_get(root, "address"));
    if (addr) {
        uint8_t a[20];
        if (strlen(addr) >= 40 &&
            veil_hex_decode(a, sizeof a, addr, strlen(addr), true, NULL) == 20 &&
            memcmp(a, key->address.b, 20) != 0) {
            veil_eth_key_wipe(key);
            veil_err_set(err, VEIL_E_MISMATCH, "keystore: address field does not match the key");
            goto out;
        }
    }
    rc = 0;
out:
    veil_memzero(dk, sizeof dk);
    veil_memzero(secret, sizeof secret);
    veil_memzero(macin, sizeof macin);
    json_decref(root);
    return rc;
}

int veil_keystore_save(const char *path, const veil_eth_key *key, const char *password,
                       const veil_keystore_params *params, veil_err *err)
{
    char *json;
    if (veil_keystore_encrypt(key, password, params, &json, err) != 0)
        return -1;
    int rc = veil_key_file_write(path, json, strlen(json), err);
    free(json);
    return rc;
}

int veil_keystore_load(const char *path, const char *password, veil_eth_key *key, veil_err *err)
{
    uint8_t *data;
    size_t len;
    if (veil_file_read(path, KS_MAX_FILE, &data, &len, err) != 0)
        return -1;
    int rc = veil_keystore_decrypt((const char *)data, len, password, key, err);
    free(data);
    if (rc != 0)
        veil_err_wrap(err, "%s", path);
    return rc;
}
