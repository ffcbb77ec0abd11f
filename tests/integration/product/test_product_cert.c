// SPDX-License-Identifier: Apache-2.0
/*
 * test_product_cert.c - Guardian certificates as Anchor credentials
 * (src/net/anchor_cert.c): leaves issued by a real Guardian CA (veil_ca)
 * for two nodes' Ed25519 identities carry a hybrid Anchor session between
 * two state machines; a revoked identity, another identity's certificate,
 * an expired one, another Guardian's, and malformed DER are refused; taints
 * are read from veil-taint: SAN URIs and bad ones refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <veil/anchor.h>
#include <veil/anchor_cert.h>
#include <veil/guardian.h>

#include "vtest.h"

#define NOW_MS ((uint64_t)time(NULL) * 1000)

struct node {
    uint8_t pk[32], sk[64];
    uint8_t *cred;
    size_t cred_len;
};

static char g_dir[64], g_dir2[64];

static char *pubkey_pem(const uint8_t pk[32])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (k && b && PEM_write_bio_PUBKEY(b, k) == 1) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        out = strndup(p, (size_t)n);
    }
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

/* A node of `realm` named `id`, its leaf issued by the CA in `dir`. */
static void make_node(const char *dir, const char *realm, const char *id, struct node *n)
{
    veil_err err = {0};
    veil_ca *ca = NULL;
    crypto_sign_keypair(n->pk, n->sk);
    char *pem = pubkey_pem(n->pk);
    struct veil_ca_leaf_req req = {.common_name = id,
                                   .realm = realm,
                                   .node_id = id,
                                   .client_auth = true,
                                   .ttl_s = 600,
                                   .public_key_pem = pem};
    struct veil_ca_leaf leaf = {0};
    CHECK(veil_ca_open(&ca, dir, &err) == 0);
    CHECK(ca && veil_ca_issue(ca, &req, &leaf, &err) == 0);
    CHECK(veil_anchor_cert_from_pem(leaf.chain_pem, &n->cred, &n->cred_len, &err) == 0);
    CHECK(n->cred_len > 0 && n->cred_len <= VEIL_ANCHOR_CRED_MAX);
    veil_ca_leaf_free(&leaf);
    veil_ca_free(ca);
    free(pem);
}

static veil_anchor_certs *verifier_of(const char *dir)
{
    veil_err err = {0};
    veil_ca *ca = NULL;
    CHECK(veil_ca_open(&ca, dir, &err) == 0);
    veil_anchor_certs *v = ca ? veil_anchor_certs_new(veil_ca_chain(ca), NULL, &err) : NULL;
    CHECK(v != NULL);
    veil_ca_free(ca);
    return v;
}

static veil_anchor *anchor_of(const struct node *n, veil_anchor_certs *v)
{
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    struct veil_anchor_local loc = {.cred = n->cred,
                                    .cred_len = n->cred_len,
                                    .verify = veil_anchor_cert_verify,
                                    .verify_ctx = v};
    memcpy(loc.identity_pk, n->pk, 32);
    memcpy(loc.identity_sk, n->sk, 64);
    veil_err err = {0};
    veil_anchor *a = veil_anchor_new(&cfg, &loc, NOW_MS, &err);
    if (!a)
        fprintf(stderr, "anchor: %s\n", err.msg);
    return a;
}

/* Moves datagrams between a ("A") and b ("B") until both are quiet. */
static void pump(veil_anchor *a, veil_anchor *b)
{
    for (int round = 0; round < 20; round++) {
        bool moved = false;
        struct veil_anchor_datagram d;
        while (veil_anchor_pop_datagram(a, &d)) {
            (void)veil_anchor_recv(b, (const uint8_t *)"A", 1, d.data, d.len, NOW_MS, NULL);
            veil_anchor_datagram_clear(&d);
            moved = true;
        }
        while (veil_anchor_pop_datagram(b, &d)) {
            (void)veil_anchor_recv(a, (const uint8_t *)"B", 1, d.data, d.len, NOW_MS, NULL);
            veil_anchor_datagram_clear(&d);
            moved = true;
        }
        if (!moved)
            return;
    }
}

/* Sends "hello" A -> B; true when B received it. */
static bool hello(veil_anchor *a, veil_anchor *b, const struct node *nb)
{
    veil_err err = {0};
    if (veil_anchor_add_peer(a, nb->pk, (const uint8_t *)"B", 1, &err) != 0 ||
        veil_anchor_send(a, nb->pk, (const uint8_t *)"hello", 5, NOW_MS, &err) != 0)
        return false;
    pump(a, b);
    bool got = false;
    struct veil_anchor_event ev;
    while (veil_anchor_pop_event(b, &ev)) {
        got |= ev.type == VEIL_ANCHOR_EV_DATA && ev.len == 5 && memcmp(ev.data, "hello", 5) == 0;
        veil_anchor_event_clear(&ev);
    }
    return got;
}

static void test_session_over_guardian_certs(void)
{
    struct node na = {0}, nb = {0};
    make_node(g_dir, "r1", "node-a", &na);
    make_node(g_dir, "r1", "node-b", &nb);
    veil_anchor_certs *va = verifier_of(g_dir), *vb = verifier_of(g_dir);
    veil_anchor *a = anchor_of(&na, va), *b = anchor_of(&nb, vb);
    CHECK(a && b);
    CHECK(a && b && hello(a, b, &nb));
    CHECK(a && veil_anchor_peer_up(a, nb.pk));
    veil_anchor_free(a);
    veil_anchor_free(b);
    /* B's Guardian view revokes A: A's next handshake is refused */
    veil_err err = {0};
    CHECK(veil_anchor_certs_revoke(vb, na.pk, &err) == 0);
    a = anchor_of(&na, va);
    b = anchor_of(&nb, vb);
    CHECK(a && b && !hello(a, b, &nb));
    struct veil_anchor_stats st;
    veil_anchor_get_stats(b, &st);
    CHECK(st.dropped[VEIL_ANCHOR_DROP_AUTH] > 0);
    veil_anchor_free(a);
    veil_anchor_free(b);
    veil_anchor_certs_free(va);
    veil_anchor_certs_free(vb);
    free(na.cred);
    free(nb.cred);
}

static void test_refusals(void)
{
    struct node na = {0}, nb = {0}, nx = {0};
    make_node(g_dir, "r1", "node-a", &na);
    make_node(g_dir, "r1", "node-b", &nb);
    make_node(g_dir2, "r1", "node-a", &nx); /* another Guardian */
    veil_anchor_certs *v = verifier_of(g_dir);
    struct veil_anchor_cred_info info;
    veil_err err = {0};
    CHECK(veil_anchor_cert_verify(v, na.cred, na.cred_len, na.pk, NOW_MS, &info, &err) == 0);
    CHECK_EQ_STR(info.realm, "r1");
    CHECK_EQ_INT((int)info.n_taints, 0);
    CHECK(veil_anchor_cert_verify(v, na.cred, na.cred_len, nb.pk, NOW_MS, &info, &err) != 0);
    CHECK_CONTAINS(err.msg, "another identity");
    uint64_t later = NOW_MS + 3600ull * 1000;
    CHECK(veil_anchor_cert_verify(v, na.cred, na.cred_len, na.pk, later, &info, &err) != 0);
    CHECK_CONTAINS(err.msg, "not issued by Guardian");
    CHECK(veil_anchor_cert_verify(v, nx.cred, nx.cred_len, nx.pk, NOW_MS, &info, &err) != 0);
    CHECK_CONTAINS(err.msg, "not issued by Guardian");
    uint8_t longer[VEIL_ANCHOR_CRED_MAX];
    memcpy(longer, na.cred, na.cred_len);
    longer[na.cred_len] = 0;
    CHECK(veil_anchor_cert_verify(v, longer, na.cred_len + 1, na.pk, NOW_MS, &info, &err) != 0);
    CHECK(veil_anchor_cert_verify(v, na.cred, na.cred_len / 2, na.pk, NOW_MS, &info, &err) != 0);
    CHECK(veil_anchor_certs_revoke(v, na.pk, &err) == 0);
    CHECK(veil_anchor_cert_verify(v, na.cred, na.cred_len, na.pk, NOW_MS, &info, &err) != 0);
    CHECK_CONTAINS(err.msg, "revoked");
    CHECK(veil_anchor_cert_verify(v, nb.cred, nb.cred_len, nb.pk, NOW_MS, &info, &err) == 0);
    veil_anchor_certs_free(v);
    free(na.cred);
    free(nb.cred);
    free(nx.cred);
}

/* A leaf with the SAN text `san`, signed by the intermediate in g_dir the
 * way Guardian would if it wrote taints into its certificates. */
static int signed_leaf(const uint8_t pk[32], const char *san, uint8_t **der, size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/ca/intermediate.key", g_dir);
    FILE *f = fopen(path, "r");
    EVP_PKEY *ik = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/ca/intermediate.crt", g_dir);
    f = fopen(path, "r");
    X509 *ic = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    X509 *c = X509_new();
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ic, c, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 600);
    int ok = ik && ic && ext && k && X509_set_version(c, 2) && X509_set_pubkey(c, k) &&
             X509_set_issuer_name(c, X509_get_subject_name(ic)) && X509_add_ext(c, ext, -1) &&
             X509_sign(c, ik, EVP_sha256()) > 0;
    unsigned char *out = NULL;
    int n = ok ? i2d_X509(c, &out) : -1;
    *der = n > 0 ? (uint8_t *)out : NULL;
    *len = n > 0 ? (size_t)n : 0;
    X509_EXTENSION_free(ext);
    EVP_PKEY_free(k);
    EVP_PKEY_free(ik);
    X509_free(ic);
    X509_free(c);
    return n > 0 ? 0 : -1;
}

static int verify_san(veil_anchor_certs *v, const char *san, struct veil_anchor_cred_info *info,
                      veil_err *err)
{
    uint8_t pk[32], sk[64], *der = NULL;
    size_t len = 0;
    crypto_sign_keypair(pk, sk);
    CHECK(signed_leaf(pk, san, &der, &len) == 0);
    int rc = veil_anchor_cert_verify(v, der, len, pk, NOW_MS, info, err);
    OPENSSL_free(der);
    return rc;
}

static void test_taints(void)
{
    veil_anchor_certs *v = verifier_of(g_dir);
    struct veil_anchor_cred_info t2, t1, none;
    veil_err err = {0};
    CHECK(verify_san(v, "URI:veil://r1/c,URI:veil-taint:gpu,URI:veil-taint:eu", &t2, &err) == 0);
    CHECK_EQ_STR(t2.realm, "r1");
    CHECK_EQ_INT((int)t2.n_taints, 2);
    CHECK_EQ_STR(t2.taints[0], "gpu");
    CHECK_EQ_STR(t2.taints[1], "eu");
    CHECK(verify_san(v, "URI:veil://r1/d,URI:veil-taint:gpu", &t1, &err) == 0);
    CHECK(verify_san(v, "URI:veil://r1/e,URI:https://example.org/x", &none, &err) == 0);
    CHECK(veil_anchor_may_talk(&t2, &t1) && veil_anchor_may_talk(&t1, &t2));
    CHECK(verify_san(v, "URI:veil://r1/e,URI:veil-taint:eu", &t1, &err) == 0);
    CHECK(veil_anchor_may_talk(&t2, &t1));
    t2.n_taints = 1; /* {gpu} vs {eu}: neither contains the other */
    CHECK(!veil_anchor_may_talk(&t2, &t1));
    CHECK(verify_san(v, "URI:veil://r1/f,URI:veil-taint:GPU", &none, &err) != 0);
    CHECK_CONTAINS(err.msg, "bad character");
    CHECK(verify_san(v, "URI:veil://r1/f,URI:veil://r2/f", &none, &err) != 0);
    CHECK_CONTAINS(err.msg, "more than one");
    CHECK(verify_san(v, "URI:veil://r1/", &none, &err) != 0);
    CHECK(verify_san(v, "URI:veil-taint:gpu", &none, &err) != 0);
    CHECK_CONTAINS(err.msg, "no veil://");
    veil_anchor_certs_free(v);
}

static void rm_tree(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void run_all(void);

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    veil_err err = {0};
    strcpy(g_dir, "/tmp/veil-product-cert-XXXXXX");
    strcpy(g_dir2, "/tmp/veil-product-cert2-XXXXXX");
    if (sodium_init() < 0 || !mkdtemp(g_dir) || !mkdtemp(g_dir2))
        return 1;
    int rc = veil_ca_create(g_dir, "Test Guardian", 30, 7, &err) == 0 &&
                     veil_ca_create(g_dir2, "Other Guardian", 30, 7, &err) == 0
                 ? 0
                 : 1;
    if (rc != 0)
        fprintf(stderr, "ca: %s\n", err.msg);
    else
        run_all();
    rm_tree(g_dir);
    rm_tree(g_dir2);
    fprintf(stderr, "%d checks, %d failed\n", vtest_checks, vtest_failures);
    return rc || vtest_failures ? 1 : 0;
}

static void run_all(void)
{
    test_session_over_guardian_certs();
    test_refusals();
    test_taints();
}
