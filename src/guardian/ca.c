// SPDX-License-Identifier: Apache-2.0
/*
 * ca.c - Guardian's X.509 CA (OpenSSL 3): an offline root, an online
 * intermediate, and short-lived leaves - data-plane certificates with the
 * SAN URI veil://<realm>/<node-id> and server certificates for Master's
 * TLS listeners. Keys are ECDSA P-256; a leaf may instead certify a key the
 * holder brings (e.g. its Ed25519 identity). Private keys are written 0600
 * and their PEM text is wiped after use.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <veil/guardian.h>

#include "ca_util.h"

struct veil_ca {
    EVP_PKEY *key; /* intermediate */
    X509 *cert;    /* intermediate */
    X509 *root;
    char *chain_pem; /* intermediate ‖ root */
};

static int ossl_fail(veil_err *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return veil_err_set(err, VEIL_E_CRYPTO, "ca: %s failed%s%s", what, buf[0] ? ": " : "", buf);
}

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

int veil_ca_add_ext(X509 *cert, X509 *issuer, int nid, const char *value, veil_err *err)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL || X509_add_ext(cert, ext, -1) != 1) {
        X509_EXTENSION_free(ext);
        return ossl_fail(err, "adding a certificate extension");
    }
    X509_EXTENSION_free(ext);
    return 0;
}

/* A certificate skeleton: serial, validity, subject CN, issuer, key. */
static X509 *new_cert(const char *cn, X509 *issuer, EVP_PKEY *pub, int64_t ttl_s, uint64_t *serial)
{
    X509 *c = X509_new();
    uint64_t sn = veil_random_u64() >> 1;
    if (c == NULL || X509_set_version(c, 2) != 1 ||
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(c), sn) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(c), -60) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(c), (long)ttl_s) == NULL ||
        X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(c, X509_get_subject_name(issuer ? issuer : c)) != 1 ||
        X509_set_pubkey(c, pub) != 1) {
        X509_free(c);
        return NULL;
    }
    if (serial)
        *serial = sn;
    return c;
}

char *veil_ca_cert_pem(X509 *c)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p = NULL;
    if (b != NULL && PEM_write_bio_X509(b, c) == 1) {
        long n = BIO_get_mem_data(b, &p);
        out = n > 0 ? strndup(p, (size_t)n) : NULL;
    }
    BIO_free(b);
    return out;
}

char *veil_ca_key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_secmem());
    char *out = NULL, *p = NULL;
    if (b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1) {
        long n = BIO_get_mem_data(b, &p);
        out = n > 0 ? strndup(p, (size_t)n) : NULL;
    }
    BIO_free(b);
    return out;
}

static int write_key(const char *path, EVP_PKEY *k, veil_err *err)
{
    char *pem = veil_ca_key_pem(k);
    if (pem == NULL)
        return ossl_fail(err, "encoding a private key");
    int rc = veil_key_file_write(path, pem, strlen(pem), err);
    veil_memzero(pem, strlen(pem));
    free(pem);
    return rc;
}

static int write_cert(const char *path, X509 *c, const char *extra, veil_err *err)
{
    char *pem = veil_ca_cert_pem(c);
    if (pem == NULL)
        return ossl_fail(err, "encoding a certificate");
    size_t n = strlen(pem), m = extra ? strlen(extra) : 0;
    char *all = malloc(n + m + 1);
    int rc = all ? 0 : veil_err_set(err, VEIL_E_NOMEM, "ca: out of memory");
    if (rc == 0) {
        memcpy(all, pem, n);
        memcpy(all + n, extra ? extra : "", m + 1);
        rc = veil_file_write_atomic(path, all, n + m, 0644, err);
    }
    free(all);
    free(pem);
    return rc;
}

static X509 *make_ca_cert(const char *cn, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key,
                          int64_t days, bool root, veil_err *err)
{
    X509 *c = new_cert(cn, issuer, key, days * 86400, NULL);
    if (c == NULL) {
        (void)ossl_fail(err, "creating a CA certificate");
        return NULL;
    }
    X509 *iss = issuer ? issuer : c;
    if (veil_ca_add_ext(c, iss, NID_basic_constraints,
                        root ? "critical,CA:TRUE" : "critical,CA:TRUE,pathlen:0", err) != 0 ||
        veil_ca_add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign", err) != 0 ||
        veil_ca_add_ext(c, iss, NID_subject_key_identifier, "hash", err) != 0 ||
        veil_ca_add_ext(c, iss, NID_authority_key_identifier, "keyid:always", err) != 0 ||
        X509_sign(c, issuer_key, EVP_sha256()) <= 0) {
        if (err && err->code == VEIL_OK)
            (void)ossl_fail(err, "signing a CA certificate");
        X509_free(c);
        return NULL;
    }
    return c;
}

static int write_ca_files(const char *dir, EVP_PKEY *rk, X509 *root, EVP_PKEY *ik, X509 *inter,
                          veil_err *err)
{
    char path[1024];
    char *root_pem = veil_ca_cert_pem(root);
    if (root_pem == NULL)
        return ossl_fail(err, "encoding the root");
    int rc = 0;
    snprintf(path, sizeof(path), "%s/offline/root.key", dir);
    rc = write_key(path, rk, err);
    snprintf(path, sizeof(path), "%s/ca/intermediate.key", dir);
    rc = rc ? rc : write_key(path, ik, err);
    snprintf(path, sizeof(path), "%s/ca/root.crt", dir);
    rc = rc ? rc : write_cert(path, root, NULL, err);
    snprintf(path, sizeof(path), "%s/ca/intermediate.crt", dir);
    rc = rc ? rc : write_cert(path, inter, NULL, err);
    snprintf(path, sizeof(path), "%s/ca/chain.pem", dir);
    rc = rc ? rc : write_cert(path, inter, root_pem, err);
    free(root_pem);
    return rc;
}

int veil_ca_create(const char *dir, const char *name, int64_t root_days, int64_t inter_days,
                   veil_err *err)
{
    char path[1024], cn[256];
    snprintf(path, sizeof(path), "%s/ca", dir);
    if (veil_mkdir_p(path, 0700, err) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/offline", dir);
    if (veil_mkdir_p(path, 0700, err) != 0)
        return -1;
    EVP_PKEY *rk = new_p256(), *ik = new_p256();
    X509 *root = NULL, *inter = NULL;
    int rc = (rk && ik) ? 0 : ossl_fail(err, "generating P-256 keys");
    snprintf(cn, sizeof(cn), "%s Root CA", name);
    if (rc == 0 && (root = make_ca_cert(cn, NULL, rk, rk, root_days, true, err)) == NULL)
        rc = -1;
    snprintf(cn, sizeof(cn), "%s Intermediate CA", name);
    if (rc == 0 && (inter = make_ca_cert(cn, root, rk, ik, inter_days, false, err)) == NULL)
        rc = -1;
    if (rc == 0)
        rc = write_ca_files(dir, rk, root, ik, inter, err);
    X509_free(root);
    X509_free(inter);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    return rc;
}

static X509 *read_cert_file(const char *path, veil_err *err)
{
    FILE *f = fopen(path, "r");
    X509 *c = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (c == NULL)
        (void)veil_err_set(err, VEIL_E_IO, "ca: cannot read certificate %s", path);
    return c;
}

static EVP_PKEY *read_key_file(const char *path, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_key_file_read(path, 64 * 1024, &data, &len, err) != 0)
        return NULL;
    BIO *b = BIO_new_mem_buf(data, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    veil_memzero(data, len);
    free(data);
    if (k == NULL)
        (void)ossl_fail(err, "reading the intermediate key");
    return k;
}

int veil_ca_open(veil_ca **out, const char *dir, veil_err *err)
{
    char path[1024];
    veil_ca *ca = calloc(1, sizeof(*ca));
    *out = NULL;
    if (ca == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "ca: out of memory");
    snprintf(path, sizeof(path), "%s/ca/intermediate.key", dir);
    ca->key = read_key_file(path, err);
    snprintf(path, sizeof(path), "%s/ca/intermediate.crt", dir);
    ca->cert = ca->key ? read_cert_file(path, err) : NULL;
    snprintf(path, sizeof(path), "%s/ca/root.crt", dir);
    ca->root = ca->cert ? read_cert_file(path, err) : NULL;
    char *ip = ca->root ? veil_ca_cert_pem(ca->cert) : NULL;
    char *rp = ip ? veil_ca_cert_pem(ca->root) : NULL;
    if (rp != NULL && (ca->chain_pem = malloc(strlen(ip) + strlen(rp) + 1)) != NULL)
        sprintf(ca->chain_pem, "%s%s", ip, rp);
    free(ip);
    free(rp);
    if (ca->chain_pem == NULL) {
        if (ca->root != NULL)
            (void)veil_err_set(err, VEIL_E_NOMEM, "ca: out of memory");
        veil_ca_free(ca);
        return veil_err_wrap(err, "opening the CA in %s", dir);
    }
    *out = ca;
    return 0;
}

void veil_ca_free(veil_ca *ca)
{
    if (ca == NULL)
        return;
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    X509_free(ca->root);
    free(ca->chain_pem);
    free(ca);
}

const char *veil_ca_chain(const veil_ca *ca)
{
    return ca->chain_pem;
}

/* ---- leaves ---- */

static EVP_PKEY *leaf_key(const struct veil_ca_leaf_req *req, bool *generated, veil_err *err)
{
    *generated = req->public_key_pem == NULL;
    if (*generated) {
        EVP_PKEY *k = new_p256();
        if (k == NULL)
            (void)ossl_fail(err, "generating a leaf key");
        return k;
    }
    BIO *b = BIO_new_mem_buf(req->public_key_pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (k == NULL)
        (void)veil_err_set(err, VEIL_E_PARSE, "ca: the subject public key is not a PEM key");
    return k;
}

static int leaf_exts(X509 *c, X509 *issuer, const struct veil_ca_leaf_req *req, veil_err *err)
{
    char san[2048], eku[64] = "";
    if (veil_ca_san_text(req, san, sizeof(san), err) != 0)
        return -1;
    snprintf(eku, sizeof(eku), "%s%s%s", req->server_auth ? "serverAuth" : "",
             req->server_auth && req->client_auth ? "," : "", req->client_auth ? "clientAuth" : "");
    if (veil_ca_add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
        veil_ca_add_ext(c, issuer, NID_key_usage, "critical,digitalSignature", err) != 0 ||
        (eku[0] && veil_ca_add_ext(c, issuer, NID_ext_key_usage, eku, err) != 0) ||
        (san[0] && veil_ca_add_ext(c, issuer, NID_subject_alt_name, san, err) != 0) ||
        veil_ca_add_ext(c, issuer, NID_authority_key_identifier, "keyid:always", err) != 0)
        return -1;
    return 0;
}

static int leaf_output(veil_ca *ca, X509 *c, EVP_PKEY *k, bool generated, struct veil_ca_leaf *out,
                       veil_err *err)
{
    out->cert_pem = veil_ca_cert_pem(c);
    out->key_pem = generated ? veil_ca_key_pem(k) : NULL;
    size_t n = out->cert_pem ? strlen(out->cert_pem) : 0;
    const char *inter_end = strstr(ca->chain_pem, "-----END CERTIFICATE-----\n");
    size_t m = inter_end ? (size_t)(inter_end - ca->chain_pem) + 26 : 0;
    out->chain_pem = out->cert_pem ? malloc(n + m + 1) : NULL;
    if (out->chain_pem == NULL || (generated && out->key_pem == NULL)) {
        veil_ca_leaf_free(out);
        return veil_err_set(err, VEIL_E_NOMEM, "ca: out of memory");
    }
    memcpy(out->chain_pem, out->cert_pem, n);
    memcpy(out->chain_pem + n, ca->chain_pem, m);
    out->chain_pem[n + m] = '\0';
    return 0;
}

int veil_ca_issue(veil_ca *ca, const struct veil_ca_leaf_req *req, struct veil_ca_leaf *out,
                  veil_err *err)
{
    memset(out, 0, sizeof(*out));
    if (req->ttl_s <= 0 || req->ttl_s > 825LL * 86400)
        return veil_err_set(err, VEIL_E_RANGE, "ca: leaf lifetime must be 1 s .. 825 days");
    if (req->common_name == NULL || strlen(req->common_name) > 64)
        return veil_err_set(err, VEIL_E_INVALID, "ca: leaf needs a common name of <= 64 bytes");
    bool generated = false;
    EVP_PKEY *k = leaf_key(req, &generated, err);
    if (k == NULL)
        return -1;
    X509 *c = new_cert(req->common_name, ca->cert, k, req->ttl_s, &out->serial);
    int rc = c ? 0 : ossl_fail(err, "creating a leaf");
    if (rc == 0)
        rc = leaf_exts(c, ca->cert, req, err);
    if (rc == 0 && X509_sign(c, ca->key, EVP_sha256()) <= 0)
        rc = ossl_fail(err, "signing a leaf");
    out->not_after = (int64_t)time(NULL) + req->ttl_s;
    if (rc == 0)
        rc = leaf_output(ca, c, k, generated, out, err);
    X509_free(c);
    EVP_PKEY_free(k);
    return rc;
}

void veil_ca_leaf_free(struct veil_ca_leaf *leaf)
{
    free(leaf->cert_pem);
    free(leaf->chain_pem);
    if (leaf->key_pem != NULL) {
        veil_memzero(leaf->key_pem, strlen(leaf->key_pem));
        free(leaf->key_pem);
    }
    memset(leaf, 0, sizeof(*leaf));
}
