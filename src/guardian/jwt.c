// SPDX-License-Identifier: Apache-2.0
/*
 * jwt.c - NATS JWTs (v2, "ed25519-nkey"): operator, account and user claims.
 *
 * Encoding follows nats-io/jwt (Go, what nsc and nats-server use): header
 * {"typ":"JWT","alg":"ed25519-nkey"}, claims as compact JSON, base64url
 * without padding, Ed25519 signature over "header.payload" by the issuer,
 * jti = base32 (no padding) of SHA-512/256 of the claims with jti empty.
 * Limits are always written explicitly (-1 = unlimited): nats-server reads an
 * absent limit as 0. Decoding verifies the signature against `iss` first and
 * then reads the claims strictly (types checked, sizes bounded).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include <veil/guardian.h>

#include "jwt_json.h"

#define JWT_MAX (64 * 1024)
static const char JWT_HEADER[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";

void veil_jwt_init(veil_jwt *c, enum veil_jwt_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->limits = (struct veil_jwt_limits){-1, -1, -1, -1, -1, -1, -1, true};
}

void veil_jwt_free(veil_jwt *c)
{
    free(c->name);
    veil_strlist_free(&c->tags);
    veil_strlist_free(&c->signing_keys);
    free(c->revocations);
    veil_strlist_free(&c->pub_allow);
    veil_strlist_free(&c->pub_deny);
    veil_strlist_free(&c->sub_allow);
    veil_strlist_free(&c->sub_deny);
    enum veil_jwt_kind kind = c->kind;
    veil_jwt_init(c, kind);
}

int veil_jwt_add_revocation(veil_jwt *acct, const char *user_pub, int64_t at, veil_err *err)
{
    if (strlen(user_pub) > VEIL_NKEY_PUBLIC_LEN)
        return veil_err_set(err, VEIL_E_INVALID, "jwt: revocation key too long");
    for (size_t i = 0; i < acct->n_revocations; i++) {
        if (strcmp(acct->revocations[i].key, user_pub) == 0) {
            if (at > acct->revocations[i].at)
                acct->revocations[i].at = at;
            return 0;
        }
    }
    if (acct->n_revocations >= 100000)
        return veil_err_set(err, VEIL_E_LIMIT, "jwt: too many revocations");
    struct veil_jwt_revocation *r =
        realloc(acct->revocations, (acct->n_revocations + 1) * sizeof(*r));
    if (r == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "jwt: out of memory");
    acct->revocations = r;
    snprintf(r[acct->n_revocations].key, sizeof(r->key), "%s", user_pub);
    r[acct->n_revocations++].at = at;
    return 0;
}

bool veil_jwt_is_revoked(const veil_jwt *acct, const char *user_pub, int64_t user_iat)
{
    for (size_t i = 0; i < acct->n_revocations; i++) {
        const struct veil_jwt_revocation *r = &acct->revocations[i];
        if ((strcmp(r->key, user_pub) == 0 || strcmp(r->key, "*") == 0) && user_iat <= r->at)
            return true;
    }
    return false;
}

/* base32 (upper, no padding) of SHA-512/256 of `data`. */
static int jti_of(const char *data, size_t len, char out[128], veil_err *err)
{
    uint8_t hash[32];
    unsigned hlen = 0;
    if (EVP_Digest(data, len, hash, &hlen, EVP_sha512_256(), NULL) != 1 || hlen != 32)
        return veil_err_set(err, VEIL_E_CRYPTO, "jwt: SHA-512/256 failed");
    if (veil_base32_encode(out, 128, hash, sizeof(hash), false, false) < 0)
        return veil_err_set(err, VEIL_E_INTERNAL, "jwt: jti buffer too small");
    return 0;
}

/* base64url(header).base64url(claims) into a malloc'd string. */
static char *signing_input(const char *claims, size_t len)
{
    size_t hl = veil_base64url_encoded_len(sizeof(JWT_HEADER) - 1, false);
    size_t cl = veil_base64url_encoded_len(len, false);
    size_t total = hl + 1 + cl + 1 + veil_base64url_encoded_len(VEIL_NKEY_SIG_LEN, false) + 1;
    char *out = malloc(total);
    if (out == NULL)
        return NULL;
    (void)veil_base64url_encode(out, total, JWT_HEADER, sizeof(JWT_HEADER) - 1, false);
    out[hl] = '.';
    (void)veil_base64url_encode(out + hl + 1, total - hl - 1, claims, len, false);
    return out;
}

static int sign_token(const char *claims, const veil_nkey *signer, char **out, veil_err *err)
{
    char *tok = signing_input(claims, strlen(claims));
    if (tok == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "jwt: out of memory");
    size_t n = strlen(tok);
    uint8_t sig[VEIL_NKEY_SIG_LEN];
    if (veil_nkey_sign(signer, tok, n, sig, err) != 0) {
        free(tok);
        return -1;
    }
    size_t cap = n + 2 + veil_base64url_encoded_len(sizeof(sig), false);
    tok[n] = '.';
    (void)veil_base64url_encode(tok + n + 1, cap - n - 1, sig, sizeof(sig), false);
    *out = tok;
    return 0;
}

int veil_jwt_encode(veil_jwt *c, const veil_nkey *signer, char **out, veil_err *err)
{
    *out = NULL;
    if (!signer->has_seed)
        return veil_err_set(err, VEIL_E_INVALID, "jwt: signer has no seed");
    veil_nkey_public_text(signer, c->iss);
    if (c->iat == 0)
        c->iat = (int64_t)time(NULL);
    c->jti[0] = '\0';
    char *claims = NULL;
    if (veil_jwt_claims_dump(c, &claims, err) != 0)
        return -1;
    int rc = jti_of(claims, strlen(claims), c->jti, err);
    free(claims);
    claims = NULL;
    if (rc == 0)
        rc = veil_jwt_claims_dump(c, &claims, err);
    if (rc == 0)
        rc = sign_token(claims, signer, out, err);
    free(claims);
    return rc;
}

/* Splits a token into its three parts; checks the header. */
static int split_token(const char *token, size_t len, size_t dots[2], veil_err *err)
{
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (n == 2)
                return veil_err_set(err, VEIL_E_PARSE, "jwt: more than three parts");
            dots[n++] = i;
        } else if (token[i] == '\0') {
            return veil_err_set(err, VEIL_E_PARSE, "jwt: NUL byte in token");
        }
    }
    if (n != 2)
        return veil_err_set(err, VEIL_E_PARSE, "jwt: expected three dot-separated parts");
    return 0;
}

static int check_header(const char *b64, size_t len, veil_err *err)
{
    char buf[256];
    long n = veil_base64url_decode(buf, sizeof(buf) - 1, b64, len, err);
    if (n < 0)
        return veil_err_wrap(err, "jwt header");
    buf[n] = '\0';
    json_error_t jerr;
    json_t *h = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    const char *typ = json_string_value(json_object_get(h, "typ"));
    const char *alg = json_string_value(json_object_get(h, "alg"));
    int rc = 0;
    if (h == NULL || !json_is_object(h))
        rc = veil_err_set(err, VEIL_E_PARSE, "jwt: header is not a JSON object");
    else if (typ == NULL || (strcmp(typ, "JWT") != 0 && strcmp(typ, "jwt") != 0))
        rc = veil_err_set(err, VEIL_E_PARSE, "jwt: not a JWT (typ)");
    else if (alg == NULL || strcmp(alg, "ed25519-nkey") != 0)
        rc = veil_err_set(err, VEIL_E_UNSUPPORTED, "jwt: algorithm is not ed25519-nkey");
    json_decref(h);
    return rc;
}

int veil_jwt_decode(const char *token, size_t len, veil_jwt *out, veil_err *err)
{
    veil_jwt_init(out, VEIL_JWT_USER);
    size_t dots[2];
    if (len > JWT_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "jwt: token of %zu bytes is too long", len);
    if (split_token(token, len, dots, err) != 0 || check_header(token, dots[0], err) != 0)
        return -1;
    uint8_t sig[VEIL_NKEY_SIG_LEN + 1];
    long sn = veil_base64url_decode(sig, sizeof(sig), token + dots[1] + 1, len - dots[1] - 1, err);
    if (sn != VEIL_NKEY_SIG_LEN)
        return sn < 0 ? veil_err_wrap(err, "jwt signature")
                      : veil_err_set(err, VEIL_E_PARSE, "jwt: signature is %ld bytes", sn);
    size_t plen = dots[1] - dots[0] - 1;
    char *payload = malloc(plen + 1);
    if (payload == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "jwt: out of memory");
    long pn = veil_base64url_decode(payload, plen + 1, token + dots[0] + 1, plen, err);
    int rc = pn < 0 ? veil_err_wrap(err, "jwt claims") : 0;
    if (rc == 0)
        rc = veil_jwt_claims_load(payload, (size_t)pn, out, err);
    free(payload);
    if (rc == 0 && veil_nkey_verify(out->iss, token, dots[1], sig, err) != 0)
        rc = veil_err_wrap(err, "jwt: issuer %.8s...", out->iss);
    if (rc != 0)
        veil_jwt_free(out);
    return rc;
}

static bool issued_by(const char *iss, const char *key, const veil_strlist *signing)
{
    return strcmp(iss, key) == 0 || veil_strlist_contains(signing, iss);
}

int veil_jwt_check_user(const veil_jwt *user, const veil_jwt *acct, int64_t now, veil_err *err)
{
    if (user->kind != VEIL_JWT_USER || acct->kind != VEIL_JWT_ACCOUNT)
        return veil_err_set(err, VEIL_E_INVALID, "jwt: expected a user and an account");
    if (!issued_by(user->iss, acct->sub, &acct->signing_keys))
        return veil_err_set(err, VEIL_E_PERMISSION, "jwt: user not issued by the account");
    if (strcmp(user->iss, acct->sub) != 0 && strcmp(user->issuer_account, acct->sub) != 0)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "jwt: issuer_account does not name the account");
    if (user->exp != 0 && now >= user->exp)
        return veil_err_set(err, VEIL_E_PERMISSION, "jwt: user credential expired");
    if (user->nbf != 0 && now < user->nbf)
        return veil_err_set(err, VEIL_E_PERMISSION, "jwt: user credential not yet valid");
    if (veil_jwt_is_revoked(acct, user->sub, user->iat))
        return veil_err_set(err, VEIL_E_PERMISSION, "jwt: user credential revoked");
    return 0;
}

int veil_jwt_check_account(const veil_jwt *acct, const veil_jwt *op, veil_err *err)
{
    if (acct->kind != VEIL_JWT_ACCOUNT || op->kind != VEIL_JWT_OPERATOR)
        return veil_err_set(err, VEIL_E_INVALID, "jwt: expected an account and an operator");
    if (!issued_by(acct->iss, op->sub, &op->signing_keys))
        return veil_err_set(err, VEIL_E_PERMISSION, "jwt: account not issued by the operator");
    return 0;
}
