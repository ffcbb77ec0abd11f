// SPDX-License-Identifier: Apache-2.0
/*
 * mlkem_hash.c - the hash functions of FIPS 203 section 4.1 (H, G, J, PRF,
 * XOF) on OpenSSL 3's EVP interface. One digest context serves a whole
 * operation; a failure latches in struct mlkem_hash (see mlkem_internal.h)
 * and the output is then zeroed, never left uninitialised.
 */
#include <string.h>

#include <openssl/evp.h>

#include "mlkem_internal.h"

int mlkem_hash_init(struct mlkem_hash *h)
{
    h->md_ctx = EVP_MD_CTX_new();
    h->failed = h->md_ctx == NULL;
    return h->failed ? -1 : 0;
}

void mlkem_hash_free(struct mlkem_hash *h)
{
    EVP_MD_CTX_free(h->md_ctx); /* EVP_MD_CTX_free cleanses the state */
    h->md_ctx = NULL;
}

/* One hash of a || b (b may be NULL) into out[outlen]; XOFs squeeze outlen
 * bytes, fixed-length digests must have outlen == their size. */
static void digest2(struct mlkem_hash *h, const EVP_MD *md, uint8_t *out, size_t outlen,
                    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    EVP_MD_CTX *ctx = h->md_ctx;
    if (h->failed || md == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, alen) != 1 || (b && EVP_DigestUpdate(ctx, b, blen) != 1)) {
        h->failed = true;
        memset(out, 0, outlen);
        return;
    }
    int ok;
    if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) {
        ok = EVP_DigestFinalXOF(ctx, out, outlen);
    } else {
        unsigned int n = 0;
        ok = (size_t)EVP_MD_get_size(md) == outlen && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
             n == outlen;
    }
    if (ok != 1) {
        h->failed = true;
        memset(out, 0, outlen);
    }
}

void mlkem_H(struct mlkem_hash *h, uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b,
             size_t blen)
{
    digest2(h, EVP_sha3_256(), out, 32, a, alen, b, blen);
}

void mlkem_G(struct mlkem_hash *h, uint8_t out1[32], uint8_t out2[32], const uint8_t *a,
             size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t buf[64];
    digest2(h, EVP_sha3_512(), buf, sizeof buf, a, alen, b, blen);
    memcpy(out1, buf, 32);
    memcpy(out2, buf + 32, 32);
    OPENSSL_cleanse(buf, sizeof buf);
}

void mlkem_J(struct mlkem_hash *h, uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b,
             size_t blen)
{
    digest2(h, EVP_shake256(), out, 32, a, alen, b, blen);
}

void mlkem_prf(struct mlkem_hash *h, uint8_t out[128], const uint8_t s[32], uint8_t n)
{
    digest2(h, EVP_shake256(), out, 128, s, 32, &n, 1);
}

void mlkem_xof(struct mlkem_hash *h, uint8_t *out, size_t outlen, const uint8_t rho[32], uint8_t j,
               uint8_t i)
{
    uint8_t ji[2] = {j, i};
    digest2(h, EVP_shake128(), out, outlen, rho, 32, ji, 2);
}
