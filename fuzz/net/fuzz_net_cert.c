// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_net_cert.c - the Anchor certificate credential (src/net/anchor_cert.c)
 * on arbitrary input. First byte even: the rest is a peer's credential as
 * it arrives in a handshake (DER parse, key and chain checks). Odd: the
 * rest is a list of SAN URIs (split at '\n', any bytes) put into a leaf
 * that a fixed in-memory root signs, so the realm and taint readers run on
 * names that passed the chain check.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <veil/anchor_cert.h>

static EVP_PKEY *g_root_key;
static X509 *g_root;
static veil_anchor_certs *g_v;
static const uint8_t g_pk[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                                 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                                 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

static void setup(void)
{
    g_root_key = EVP_EC_gen("P-256");
    g_root = X509_new();
    X509_set_version(g_root, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(g_root), 1);
    X509_gmtime_adj(X509_getm_notBefore(g_root), -60);
    X509_gmtime_adj(X509_getm_notAfter(g_root), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(g_root), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz root", -1, -1, 0);
    X509_set_issuer_name(g_root, X509_get_subject_name(g_root));
    X509_set_pubkey(g_root, g_root_key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, g_root, g_root, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(g_root, bc, -1);
    X509_EXTENSION_free(bc);
    X509_sign(g_root, g_root_key, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, g_root);
    BIO_write(b, "", 1);
    char *pem;
    (void)BIO_get_mem_data(b, &pem);
    veil_err err = {0};
    g_v = veil_anchor_certs_new(pem, NULL, &err);
    BIO_free(b);
}

static void add_uri(GENERAL_NAMES *names, const uint8_t *s, size_t n)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *u = ASN1_IA5STRING_new();
    ASN1_STRING_set(u, s, (int)n);
    GENERAL_NAME_set0_value(g, GEN_URI, u);
    sk_GENERAL_NAME_push(names, g);
}

/* A leaf for g_pk, signed by the root, with the URIs of `data`. */
static X509 *leaf_with_uris(const uint8_t *data, size_t size)
{
    X509 *c = X509_new();
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, g_pk, 32);
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    size_t start = 0;
    for (size_t i = 0; i <= size && sk_GENERAL_NAME_num(names) < 64; i++)
        if (i == size || data[i] == '\n') {
            add_uri(names, data + start, i - start);
            start = i + 1;
        }
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 2);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_issuer_name(c, X509_get_subject_name(g_root));
    X509_set_pubkey(c, k);
    X509_add1_ext_i2d(c, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
    X509_sign(c, g_root_key, EVP_sha256());
    GENERAL_NAMES_free(names);
    EVP_PKEY_free(k);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_v == NULL)
        setup();
    if (size == 0 || g_v == NULL)
        return 0;
    struct veil_anchor_cred_info info;
    veil_err err = {0};
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;
    if ((data[0] & 1) == 0) {
        (void)veil_anchor_cert_verify(g_v, data + 1, size - 1, g_pk, now_ms, &info, &err);
        return 0;
    }
    X509 *c = leaf_with_uris(data + 1, size - 1 > 4096 ? 4096 : size - 1);
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    if (n > 0)
        (void)veil_anchor_cert_verify(g_v, der, (size_t)n, g_pk, now_ms, &info, &err);
    OPENSSL_free(der);
    X509_free(c);
    return 0;
}
