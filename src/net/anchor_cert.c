// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_cert.c - Guardian leaf certificates as Anchor credentials: the
 * verifier (pinned root, intermediates, revoked identities) and the
 * veil_anchor_verify_fn that turns a peer's DER leaf into its realm and
 * taints (include/veil/anchor_cert.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <veil/anchor_cert.h>

#define CERT_URI_PREFIX "veil://"
#define CERT_DER_MAX    VEIL_ANCHOR_CRED_MAX

/* A set of identities (grows; never shrinks). */
struct idset {
    uint8_t (*ids)[VEIL_ANCHOR_KEY_BYTES];
    size_t n, cap;
};

struct veil_anchor_certs {
    X509_STORE *roots;
    STACK_OF(X509) * intermediates;
    pthread_mutex_t mu; /* revoked, members_only, self, members */
    struct idset revoked;
    bool members_only;
    uint8_t self[VEIL_ANCHOR_KEY_BYTES];
    struct idset members;
};

static bool self_signed(X509 *c)
{
    return X509_check_issued(c, c) == X509_V_OK;
}

/* Sorts every certificate of `pem` into the trusted roots (self-signed,
 * when roots != NULL) or the untrusted intermediates. */
static int load_pem(veil_anchor_certs *v, const char *pem, bool roots, size_t *n_roots,
                    veil_err *err)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (b == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "anchor cert: out of memory");
    X509 *c;
    int rc = 0;
    while (rc == 0 && (c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (roots && self_signed(c)) {
            rc = X509_STORE_add_cert(v->roots, c) == 1 ? 0 : -1;
            *n_roots += rc == 0;
        } else if (!self_signed(c)) {
            rc = sk_X509_push(v->intermediates, c) > 0 ? 0 : -1;
            if (rc == 0)
                continue; /* the stack owns it now */
        }
        X509_free(c);
    }
    BIO_free(b);
    if (rc != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "anchor cert: cannot keep a certificate");
    return 0;
}

veil_anchor_certs *veil_anchor_certs_new(const char *root_pem, const char *chain_pem, veil_err *err)
{
    veil_anchor_certs *v = calloc(1, sizeof *v);
    if (v == NULL) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "anchor cert: out of memory");
        return NULL;
    }
    pthread_mutex_init(&v->mu, NULL);
    v->roots = X509_STORE_new();
    v->intermediates = sk_X509_new_null();
    size_t n_roots = 0;
    int rc = v->roots && v->intermediates
                 ? 0
                 : veil_err_set(err, VEIL_E_NOMEM, "anchor cert: no memory");
    if (rc == 0 && root_pem == NULL)
        rc = veil_err_set(err, VEIL_E_INVALID, "anchor cert: no Guardian root given");
    if (rc == 0)
        rc = load_pem(v, root_pem, true, &n_roots, err);
    if (rc == 0 && chain_pem != NULL)
        rc = load_pem(v, chain_pem, false, &n_roots, err);
    if (rc == 0 && n_roots == 0)
        rc = veil_err_set(err, VEIL_E_PARSE, "anchor cert: no self-signed root in the root PEM");
    if (rc != 0) {
        veil_anchor_certs_free(v);
        return NULL;
    }
    return v;
}

void veil_anchor_certs_free(veil_anchor_certs *v)
{
    if (v == NULL)
        return;
    X509_STORE_free(v->roots);
    sk_X509_pop_free(v->intermediates, X509_free);
    free(v->revoked.ids);
    free(v->members.ids);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

static bool idset_has(const struct idset *s, const uint8_t id[VEIL_ANCHOR_KEY_BYTES])
{
    bool hit = false;
    for (size_t i = 0; i < s->n && !hit; i++)
        hit = memcmp(s->ids[i], id, VEIL_ANCHOR_KEY_BYTES) == 0;
    return hit;
}

/* Adds id unless present (v->mu held). */
static int idset_add(struct idset *s, const uint8_t id[VEIL_ANCHOR_KEY_BYTES], const char *what,
                     veil_err *err)
{
    if (idset_has(s, id))
        return 0;
    void *p = veil_array_reserve(s->ids, &s->cap, s->n, VEIL_ANCHOR_KEY_BYTES);
    if (p == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "anchor cert: cannot grow the %s set", what);
    s->ids = p;
    memcpy(s->ids[s->n++], id, VEIL_ANCHOR_KEY_BYTES);
    return 0;
}

int veil_anchor_certs_revoke(veil_anchor_certs *v, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                             veil_err *err)
{
    pthread_mutex_lock(&v->mu);
    int rc = idset_add(&v->revoked, identity, "revoked", err);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

void veil_anchor_certs_members_only(veil_anchor_certs *v,
                                    const uint8_t self[VEIL_ANCHOR_KEY_BYTES])
{
    pthread_mutex_lock(&v->mu);
    v->members_only = true;
    memcpy(v->self, self, VEIL_ANCHOR_KEY_BYTES);
    pthread_mutex_unlock(&v->mu);
}

int veil_anchor_certs_admit(veil_anchor_certs *v, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                            veil_err *err)
{
    pthread_mutex_lock(&v->mu);
    int rc = idset_add(&v->members, identity, "member", err);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

/* Revoked, or (members only) neither this node nor an admitted member. */
static int refused(veil_anchor_certs *v, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES],
                   veil_err *err)
{
    pthread_mutex_lock(&v->mu);
    bool revoked = idset_has(&v->revoked, identity);
    bool outsider = v->members_only && !idset_has(&v->members, identity) &&
                    memcmp(identity, v->self, VEIL_ANCHOR_KEY_BYTES) != 0;
    pthread_mutex_unlock(&v->mu);
    if (revoked)
        return veil_err_set(err, VEIL_E_PERMISSION, "anchor cert: the identity was revoked");
    if (outsider)
        return veil_err_set(err, VEIL_E_PERMISSION, "anchor cert: not a member of this overlay");
    return 0;
}

static int check_chain(veil_anchor_certs *v, X509 *leaf, uint64_t now_ms, veil_err *err)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx && X509_STORE_CTX_init(ctx, v->roots, leaf, v->intermediates) == 1;
    if (ok) {
        X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(p, (time_t)(now_ms / 1000));
        ok = X509_verify_cert(ctx) == 1;
    }
    int why = ctx ? X509_STORE_CTX_get_error(ctx) : X509_V_ERR_OUT_OF_MEM;
    X509_STORE_CTX_free(ctx);
    if (!ok)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor cert: not issued by Guardian (%s)",
                            X509_verify_cert_error_string(why));
    return 0;
}

static int check_key(X509 *leaf, const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], veil_err *err)
{
    EVP_PKEY *pk = X509_get0_pubkey(leaf);
    uint8_t raw[VEIL_ANCHOR_KEY_BYTES];
    size_t n = sizeof raw;
    if (pk == NULL || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1 || n != sizeof raw)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor cert: the subject key is not Ed25519");
    if (sodium_memcmp(raw, identity, sizeof raw) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "anchor cert: certificate of another identity");
    return 0;
}

static bool taint_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* veil://<realm>/<node-id>: the realm (1..63 characters, no '/'). */
static int take_realm(const char *s, size_t n, struct veil_anchor_cred_info *out, bool *seen,
                      veil_err *err)
{
    size_t pre = strlen(CERT_URI_PREFIX);
    const char *slash = memchr(s + pre, '/', n - pre);
    size_t rlen = slash ? (size_t)(slash - (s + pre)) : 0;
    if (*seen)
        return veil_err_set(err, VEIL_E_PROTOCOL, "anchor cert: more than one veil:// identity");
    if (rlen == 0 || rlen >= VEIL_ANCHOR_REALM_MAX || (size_t)(slash - s) + 1 >= n)
        return veil_err_set(err, VEIL_E_PROTOCOL, "anchor cert: malformed veil:// identity");
    memcpy(out->realm, s + pre, rlen);
    out->realm[rlen] = '\0';
    *seen = true;
    return 0;
}

static int take_taint(const char *s, size_t n, struct veil_anchor_cred_info *out, veil_err *err)
{
    size_t pre = strlen(VEIL_ANCHOR_CERT_TAINT_URI), tlen = n - pre;
    if (tlen == 0 || tlen >= VEIL_ANCHOR_TAINT_MAX)
        return veil_err_set(err, VEIL_E_PROTOCOL, "anchor cert: taint of %zu characters", tlen);
    for (size_t i = pre; i < n; i++)
        if (!taint_char(s[i]))
            return veil_err_set(err, VEIL_E_PROTOCOL, "anchor cert: bad character in a taint");
    if (out->n_taints == VEIL_ANCHOR_TAINTS_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "anchor cert: more than %d taints",
                            VEIL_ANCHOR_TAINTS_MAX);
    memcpy(out->taints[out->n_taints], s + pre, tlen);
    out->taints[out->n_taints++][tlen] = '\0';
    return 0;
}

/* One SAN URI: its bytes as given (an embedded NUL makes it malformed). */
static int take_uri(const ASN1_IA5STRING *u, struct veil_anchor_cred_info *out, bool *seen,
                    veil_err *err)
{
    const char *s = (const char *)ASN1_STRING_get0_data(u);
    int len = ASN1_STRING_length(u);
    if (s == NULL || len <= 0 || memchr(s, '\0', (size_t)len) != NULL)
        return veil_err_set(err, VEIL_E_PROTOCOL, "anchor cert: malformed URI");
    size_t n = (size_t)len, rp = strlen(CERT_URI_PREFIX), tp = strlen(VEIL_ANCHOR_CERT_TAINT_URI);
    if (n > rp && memcmp(s, CERT_URI_PREFIX, rp) == 0)
        return take_realm(s, n, out, seen, err);
    if (n >= tp && memcmp(s, VEIL_ANCHOR_CERT_TAINT_URI, tp) == 0)
        return take_taint(s, n, out, err);
    return 0; /* other URIs say nothing about the data plane */
}

static int read_names(X509 *leaf, struct veil_anchor_cred_info *out, veil_err *err)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    bool seen = false;
    int rc = 0;
    for (int i = 0; names && rc == 0 && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_URI)
            rc = take_uri(g->d.uniformResourceIdentifier, out, &seen, err);
    }
    GENERAL_NAMES_free(names);
    if (rc == 0 && !seen)
        rc = veil_err_set(err, VEIL_E_PROTOCOL, "anchor cert: no veil://<realm>/<node> identity");
    return rc;
}

int veil_anchor_cert_verify(void *ctx, const uint8_t *cred, size_t cred_len,
                            const uint8_t identity[VEIL_ANCHOR_KEY_BYTES], uint64_t now_ms,
                            struct veil_anchor_cred_info *out, veil_err *err)
{
    veil_anchor_certs *v = ctx;
    memset(out, 0, sizeof *out);
    if (cred_len == 0 || cred_len > CERT_DER_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "anchor cert: credential of %zu bytes", cred_len);
    const unsigned char *p = cred;
    X509 *leaf = d2i_X509(NULL, &p, (long)cred_len);
    int rc = 0;
    if (leaf == NULL || p != cred + cred_len)
        rc = veil_err_set(err, VEIL_E_PARSE,
                          "anchor cert: the credential is not one DER certificate");
    rc = rc ? rc : refused(v, identity, err);
    rc = rc ? rc : check_key(leaf, identity, err);
    rc = rc ? rc : check_chain(v, leaf, now_ms, err);
    rc = rc ? rc : read_names(leaf, out, err);
    X509_free(leaf);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int veil_anchor_cert_from_pem(const char *chain_pem, uint8_t **der, size_t *der_len, veil_err *err)
{
    *der = NULL;
    *der_len = 0;
    BIO *b = chain_pem ? BIO_new_mem_buf(chain_pem, -1) : NULL;
    X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    unsigned char *out = NULL;
    int n = leaf ? i2d_X509(leaf, &out) : -1;
    X509_free(leaf);
    if (n <= 0)
        return veil_err_set(err, VEIL_E_PARSE, "anchor cert: no certificate in the PEM chain");
    if ((size_t)n > CERT_DER_MAX) {
        OPENSSL_free(out);
        return veil_err_set(err, VEIL_E_RANGE, "anchor cert: a %d-byte leaf is over %d", n,
                            CERT_DER_MAX);
    }
    *der = malloc((size_t)n);
    if (*der != NULL)
        memcpy(*der, out, (size_t)n);
    OPENSSL_free(out);
    if (*der == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "anchor cert: out of memory");
    *der_len = (size_t)n;
    return 0;
}
