// SPDX-License-Identifier: Apache-2.0
/*
 * identity.c - the Conflux node identity: one Ed25519 user nkey in
 * <dir>/identity.nk (0600), created on first use, or taken from a
 * caller's Ed25519 seed (veild's libp2p key), and its PEM forms for the
 * mTLS certificate (public, sent to Guardian) and the TLS client key (held
 * in memory only, handed to libnats, wiped after use).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <veil/conflux.h>

int veil_conflux_identity_load(veil_nkey *id, const char *dir, veil_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/identity.nk", dir) >= (int)sizeof path)
        return veil_err_set(err, VEIL_E_RANGE, "identity: directory path too long");
    struct stat st;
    if (stat(path, &st) == 0)
        return veil_nkey_load(id, path, err) == 0 ? 0 : veil_err_wrap(err, "identity %s", path);
    if (errno != ENOENT)
        return veil_err_set(err, VEIL_E_IO, "identity %s: %s", path, strerror(errno));
    if (veil_mkdir_p(dir, 0700, err) != 0 || veil_nkey_generate(id, VEIL_NKEY_USER, err) != 0)
        return -1;
    if (veil_nkey_save(id, path, err) != 0) {
        veil_nkey_wipe(id);
        return -1;
    }
    return 0;
}

int veil_conflux_identity_from_seed(veil_nkey *id, const uint8_t seed[32], veil_err *err)
{
    memset(id, 0, sizeof *id);
    id->type = VEIL_NKEY_USER;
    memcpy(id->seed, seed, sizeof id->seed);
    if (crypto_sign_seed_keypair(id->pub, id->sk, id->seed) != 0) {
        veil_nkey_wipe(id);
        return veil_err_set(err, VEIL_E_CRYPTO, "identity: Ed25519 key derivation failed");
    }
    id->has_seed = true;
    return 0;
}

static int bio_text(BIO *bio, char **pem, veil_err *err)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "identity: PEM encoding failed");
    char *out = malloc((size_t)n + 1);
    if (!out)
        return veil_err_set(err, VEIL_E_NOMEM, "identity: out of memory");
    memcpy(out, data, (size_t)n);
    out[n] = 0;
    OPENSSL_cleanse(data, (size_t)n);
    *pem = out;
    return 0;
}

static int to_pem(const veil_nkey *id, bool secret, char **pem, veil_err *err)
{
    EVP_PKEY *key = secret ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, id->seed, 32)
                           : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, id->pub, 32);
    BIO *bio = BIO_new(BIO_s_secmem());
    int rc = -1;
    if (!key || !bio) {
        veil_err_set(err, VEIL_E_CRYPTO, "identity: OpenSSL key setup failed");
    } else if ((secret ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                       : PEM_write_bio_PUBKEY(bio, key)) != 1) {
        veil_err_set(err, VEIL_E_CRYPTO, "identity: PEM encoding failed");
    } else {
        rc = bio_text(bio, pem, err);
    }
    BIO_free(bio);
    EVP_PKEY_free(key);
    return rc;
}

int veil_conflux_identity_public_pem(const veil_nkey *id, char **pem, veil_err *err)
{
    return to_pem(id, false, pem, err);
}

int veil_conflux_identity_private_pem(const veil_nkey *id, char **pem, veil_err *err)
{
    if (!id->has_seed)
        return veil_err_set(err, VEIL_E_STATE, "identity: no private key");
    return to_pem(id, true, pem, err);
}

void veil_conflux_pem_free(char *pem)
{
    if (pem) {
        veil_memzero(pem, strlen(pem));
        free(pem);
    }
}
