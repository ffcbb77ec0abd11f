// SPDX-License-Identifier: Apache-2.0
/*
 * nkey.c - NATS nkeys: Ed25519 key pairs in the NATS text encoding.
 *
 * Public key text: base32(prefix ‖ 32-byte key ‖ CRC16-XMODEM little-endian),
 * 56 characters. Seed text: base32(0x90 | prefix >> 5, (prefix & 31) << 3,
 * 32-byte seed, CRC16), 58 characters ("SU..." for a user). Seed files hold
 * the seed text and are mode 0600.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/guardian.h>

#define NKEY_SEED_PREFIX (18 << 3) /* 'S' */
#define NKEY_PUB_RAW     35
#define NKEY_SEED_RAW    36

uint16_t veil_nkey_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static bool type_valid(unsigned t)
{
    return t == VEIL_NKEY_OPERATOR || t == VEIL_NKEY_ACCOUNT || t == VEIL_NKEY_USER ||
           t == VEIL_NKEY_SERVER || t == VEIL_NKEY_CLUSTER;
}

static int derive(veil_nkey *k, veil_err *err)
{
    if (crypto_sign_seed_keypair(k->pub, k->sk, k->seed) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "nkey: Ed25519 key derivation failed");
    k->has_seed = true;
    return 0;
}

int veil_nkey_generate(veil_nkey *k, enum veil_nkey_type type, veil_err *err)
{
    memset(k, 0, sizeof(*k));
    if (!type_valid(type))
        return veil_err_set(err, VEIL_E_INVALID, "nkey: unknown key type %d", (int)type);
    k->type = type;
    veil_random_bytes(k->seed, sizeof(k->seed));
    if (derive(k, err) != 0) {
        veil_nkey_wipe(k);
        return -1;
    }
    return 0;
}

/* Decodes base32 text of exactly `raw_len` bytes and checks the CRC. */
static int decode_checked(const char *text, size_t len, uint8_t *raw, size_t raw_len,
                          const char *what, veil_err *err)
{
    size_t want = veil_base32_encoded_len(raw_len, false);
    if (len != want)
        return veil_err_set(err, VEIL_E_PARSE, "nkey: %s must be %zu characters, got %zu", what,
                            want, len);
    long n = veil_base32_decode(raw, raw_len, text, len, err);
    if (n != (long)raw_len)
        return n < 0 ? veil_err_wrap(err, "nkey: %s", what)
                     : veil_err_set(err, VEIL_E_PARSE, "nkey: %s decodes to %ld bytes", what, n);
    uint16_t crc = veil_nkey_crc16(raw, raw_len - 2);
    uint16_t got = (uint16_t)(raw[raw_len - 2] | (raw[raw_len - 1] << 8));
    if (crc != got)
        return veil_err_set(err, VEIL_E_CRYPTO, "nkey: %s checksum mismatch", what);
    return 0;
}

int veil_nkey_from_seed(veil_nkey *k, const char *seed, size_t len, veil_err *err)
{
    uint8_t raw[NKEY_SEED_RAW];
    memset(k, 0, sizeof(*k));
    int rc = decode_checked(seed, len, raw, sizeof(raw), "seed", err);
    if (rc == 0 && (raw[0] & 0xf8) != NKEY_SEED_PREFIX)
        rc = veil_err_set(err, VEIL_E_PARSE, "nkey: not a seed (wrong prefix)");
    unsigned type = (unsigned)(((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3));
    if (rc == 0 && !type_valid(type))
        rc = veil_err_set(err, VEIL_E_PARSE, "nkey: seed of unknown key type %u", type);
    if (rc == 0) {
        k->type = (enum veil_nkey_type)type;
        memcpy(k->seed, raw + 2, 32);
        rc = derive(k, err);
    }
    veil_memzero(raw, sizeof(raw));
    if (rc != 0)
        veil_nkey_wipe(k);
    return rc;
}

int veil_nkey_from_public(veil_nkey *k, const char *pub, size_t len, veil_err *err)
{
    uint8_t raw[NKEY_PUB_RAW];
    memset(k, 0, sizeof(*k));
    if (decode_checked(pub, len, raw, sizeof(raw), "public key", err) != 0)
        return -1;
    if (!type_valid(raw[0]))
        return veil_err_set(err, VEIL_E_PARSE, "nkey: public key of unknown type %u", raw[0]);
    k->type = (enum veil_nkey_type)raw[0];
    memcpy(k->pub, raw + 1, 32);
    return 0;
}

int veil_nkey_parse_public(const char *pub, enum veil_nkey_type want, uint8_t out[32],
                           veil_err *err)
{
    veil_nkey k;
    if (pub == NULL)
        return veil_err_set(err, VEIL_E_INVALID, "nkey: missing public key");
    if (veil_nkey_from_public(&k, pub, strlen(pub), err) != 0)
        return -1;
    if (k.type != want)
        return veil_err_set(err, VEIL_E_MISMATCH, "nkey: %.1s... is not the expected key type",
                            pub);
    memcpy(out, k.pub, 32);
    return 0;
}

static void encode_checked(uint8_t *raw, size_t raw_len, char *out, size_t out_cap)
{
    uint16_t crc = veil_nkey_crc16(raw, raw_len - 2);
    raw[raw_len - 2] = (uint8_t)(crc & 0xff);
    raw[raw_len - 1] = (uint8_t)(crc >> 8);
    (void)veil_base32_encode(out, out_cap, raw, raw_len, false, false);
}

void veil_nkey_public_text(const veil_nkey *k, char out[VEIL_NKEY_PUBLIC_LEN + 1])
{
    uint8_t raw[NKEY_PUB_RAW];
    raw[0] = (uint8_t)k->type;
    memcpy(raw + 1, k->pub, 32);
    encode_checked(raw, sizeof(raw), out, VEIL_NKEY_PUBLIC_LEN + 1);
}

int veil_nkey_seed_text(const veil_nkey *k, char out[VEIL_NKEY_SEED_LEN + 1], veil_err *err)
{
    if (!k->has_seed)
        return veil_err_set(err, VEIL_E_STATE, "nkey: public key only, no seed");
    uint8_t raw[NKEY_SEED_RAW];
    raw[0] = (uint8_t)(NKEY_SEED_PREFIX | ((unsigned)k->type >> 5));
    raw[1] = (uint8_t)(((unsigned)k->type & 31) << 3);
    memcpy(raw + 2, k->seed, 32);
    encode_checked(raw, sizeof(raw), out, VEIL_NKEY_SEED_LEN + 1);
    veil_memzero(raw, sizeof(raw));
    return 0;
}

int veil_nkey_sign(const veil_nkey *k, const void *msg, size_t len, uint8_t sig[VEIL_NKEY_SIG_LEN],
                   veil_err *err)
{
    if (!k->has_seed)
        return veil_err_set(err, VEIL_E_STATE, "nkey: cannot sign with a public key");
    if (crypto_sign_detached(sig, NULL, msg, len, k->sk) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "nkey: signing failed");
    return 0;
}

int veil_nkey_verify(const char *pub, const void *msg, size_t len,
                     const uint8_t sig[VEIL_NKEY_SIG_LEN], veil_err *err)
{
    veil_nkey k;
    if (pub == NULL || veil_nkey_from_public(&k, pub, strlen(pub), err) != 0)
        return pub == NULL ? veil_err_set(err, VEIL_E_INVALID, "nkey: missing public key") : -1;
    if (crypto_sign_verify_detached(sig, msg, len, k.pub) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "nkey: bad signature");
    return 0;
}

void veil_nkey_wipe(veil_nkey *k)
{
    veil_memzero(k->seed, sizeof(k->seed));
    veil_memzero(k->sk, sizeof(k->sk));
    k->has_seed = false;
}

int veil_nkey_save(const veil_nkey *k, const char *path, veil_err *err)
{
    char text[VEIL_NKEY_SEED_LEN + 2];
    if (veil_nkey_seed_text(k, text, err) != 0)
        return -1;
    text[VEIL_NKEY_SEED_LEN] = '\n';
    int rc = veil_key_file_write(path, text, VEIL_NKEY_SEED_LEN + 1, err);
    veil_memzero(text, sizeof(text));
    return rc;
}

int veil_nkey_load(veil_nkey *k, const char *path, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(k, 0, sizeof(*k));
    if (veil_key_file_read(path, 256, &data, &len, err) != 0)
        return veil_err_wrap(err, "nkey %s", path);
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        len--;
    int rc = veil_nkey_from_seed(k, (const char *)data, len, err);
    veil_memzero(data, len);
    free(data);
    return rc == 0 ? 0 : veil_err_wrap(err, "nkey %s", path);
}
