// SPDX-License-Identifier: Apache-2.0
/*
 * ca_verify.c - the names in Guardian's leaf certificates: building the
 * subjectAltName text from checked names (no character that could inject
 * another entry), and verifying a leaf against the root and reading its
 * veil://<realm>/<node-id> identity back.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_util.h"

#define VEIL_URI_PREFIX "veil://"

static bool node_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool dns_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || (c == '*' && i == 0)))
            return false;
    }
    return true;
}

static bool ip_valid(const char *s)
{
    unsigned char buf[16];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* A SAN URI other than the identity: a scheme ("veil-taint:", ...) and
 * characters that cannot start another entry of the SAN text. */
static bool uri_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 255 || strchr(s, ':') == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',')
            return false;
    return true;
}

static int append(char *out, size_t cap, const char *kind, const char *a, const char *b,
                  veil_err *err)
{
    size_t n = strlen(out);
    int w = snprintf(out + n, cap - n, "%s%s:%s%s%s", n ? "," : "", kind, b ? VEIL_URI_PREFIX : "",
                     a, b ? "/" : "");
    if (w < 0 || (size_t)w >= cap - n)
        return veil_err_set(err, VEIL_E_RANGE, "ca: too many names for one certificate");
    if (b != NULL) {
        n = strlen(out);
        w = snprintf(out + n, cap - n, "%s", b);
        if (w < 0 || (size_t)w >= cap - n)
            return veil_err_set(err, VEIL_E_RANGE, "ca: too many names for one certificate");
    }
    return 0;
}

int veil_ca_san_text(const struct veil_ca_leaf_req *req, char *out, size_t cap, veil_err *err)
{
    out[0] = '\0';
    if (req->realm != NULL || req->node_id != NULL) {
        if (!veil_guardian_name_valid(req->realm) || !node_id_valid(req->node_id))
            return veil_err_set(err, VEIL_E_INVALID, "ca: bad realm or node id for the SAN");
        if (append(out, cap, "URI", req->realm, req->node_id, err) != 0)
            return -1;
    }
    for (size_t i = 0; i < req->n_uris; i++) {
        if (!uri_valid(req->uris[i]))
            return veil_err_set(err, VEIL_E_INVALID, "ca: bad URI name");
        if (append(out, cap, "URI", req->uris[i], NULL, err) != 0)
            return -1;
    }
    for (size_t i = 0; i < req->n_dns; i++) {
        if (!dns_valid(req->dns[i]))
            return veil_err_set(err, VEIL_E_INVALID, "ca: bad DNS name");
        if (append(out, cap, "DNS", req->dns[i], NULL, err) != 0)
            return -1;
    }
    for (size_t i = 0; i < req->n_ips; i++) {
        if (!ip_valid(req->ips[i]))
            return veil_err_set(err, VEIL_E_INVALID, "ca: bad IP address");
        if (append(out, cap, "IP", req->ips[i], NULL, err) != 0)
            return -1;
    }
    return 0;
}

static STACK_OF(X509) * read_chain(const char *pem)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *c;
    while (b != NULL && sk != NULL && (c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        if (sk_X509_push(sk, c) <= 0)
            X509_free(c);
    BIO_free(b);
    return sk;
}

static X509 *read_one(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return c;
}

/* Finds the veil:// URI in the leaf's SAN and splits it. */
static int leaf_identity(X509 *leaf, char realm[VEIL_GUARDIAN_NAME_MAX + 1], char node_id[128],
                         veil_err *err)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int rc = veil_err_set(err, VEIL_E_NOTFOUND, "ca: the certificate has no veil:// identity");
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_URI)
            continue;
        const char *uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
        if (len < 9 || len > 200 || strncmp(uri, VEIL_URI_PREFIX, 7) != 0 ||
            memchr(uri, '\0', (size_t)len) != NULL)
            continue;
        const char *slash = memchr(uri + 7, '/', (size_t)len - 7);
        size_t rl = slash ? (size_t)(slash - uri - 7) : 0;
        size_t nl = slash ? (size_t)(uri + len - slash - 1) : 0;
        if (rl == 0 || rl > VEIL_GUARDIAN_NAME_MAX || nl == 0 || nl >= 128)
            continue;
        memcpy(realm, uri + 7, rl);
        realm[rl] = '\0';
        memcpy(node_id, slash + 1, nl);
        node_id[nl] = '\0';
        if (veil_guardian_name_valid(realm) && node_id_valid(node_id)) {
            veil_err_clear(err);
            rc = 0;
            break;
        }
    }
    GENERAL_NAMES_free(names);
    return rc;
}

int veil_ca_verify_leaf(const char *root_pem, const char *chain_pem, const char *leaf_pem,
                        int64_t now, char realm[VEIL_GUARDIAN_NAME_MAX + 1], char node_id[128],
                        veil_err *err)
{
    X509 *root = read_one(root_pem), *leaf = read_one(leaf_pem);
    STACK_OF(X509) *chain = read_chain(chain_pem);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = 0;
    if (root == NULL || leaf == NULL || chain == NULL || store == NULL || ctx == NULL)
        rc = veil_err_set(err, VEIL_E_PARSE, "ca: unreadable root or leaf certificate");
    if (rc == 0 && (X509_STORE_add_cert(store, root) != 1 ||
                    X509_STORE_CTX_init(ctx, store, leaf, chain) != 1))
        rc = veil_err_set(err, VEIL_E_INTERNAL, "ca: cannot set up verification");
    if (rc == 0) {
        X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
        if (X509_verify_cert(ctx) != 1)
            rc = veil_err_set(err, VEIL_E_CRYPTO, "ca: certificate does not verify: %s",
                              X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    if (rc == 0)
        rc = leaf_identity(leaf, realm, node_id, err);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(chain, X509_free);
    X509_free(root);
    X509_free(leaf);
    return rc;
}
