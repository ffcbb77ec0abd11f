// SPDX-License-Identifier: Apache-2.0
/*
 * test_guardian_pool.c - overlay addresses and the data-plane names of
 * Guardian's leaves: per-realm pools, the lowest free address, stable
 * across renewals, never reused after revocation, a full pool refused, a
 * pool change refused once addresses lie outside it; the leaf's IP SAN,
 * veil-pool and veil-taint URIs, accepted by the Anchor's own certificate
 * verifier (src/net/anchor_cert.c) with the taints it reads; and the signed
 * revocation notice a realm's members check.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <veil/anchor_cert.h>
#include <veil/guardian.h>
#include <veil/guardian_serve.h>

#include "vtest.h"

static char g_dir[64];
static veil_guardian *g_g;

static void setup(void)
{
    char tmpl[] = "/tmp/veil-guardian-pool-XXXXXX";
    veil_err err = {0};
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(g_dir, sizeof g_dir, "%s/g", tmpl);
    CHECK(veil_guardian_init(g_dir, NULL, &err) == 0);
    CHECK(veil_guardian_open(&g_g, g_dir, &err) == 0);
    CHECK(veil_guardian_realm_create(g_g, "red", NULL, &err) == 0);
    CHECK(veil_guardian_realm_create(g_g, "blue", NULL, &err) == 0);
}

static void add_node(const char *realm, const char *name, const char *taints)
{
    veil_err err = {0};
    veil_strlist t = {0};
    struct veil_guardian_issued is;
    if (taints)
        CHECK(veil_strlist_split(&t, taints, &err) == 0);
    struct veil_guardian_issue_req req = {.realm = realm, .name = name, .taints = &t};
    CHECK(veil_guardian_issue(g_g, &req, &is, &err) == 0);
    veil_guardian_issued_free(&is);
    veil_strlist_free(&t);
}

static void addr_is(const char *realm, const char *node, const char *want)
{
    char ip[16];
    veil_err err = {0};
    CHECK(veil_guardian_node_address(g_g, realm, node, ip, &err) == 0);
    CHECK_EQ_STR(ip, want);
}

static void test_pools(void)
{
    veil_err err = {0};
    char cidr[VEIL_GUARDIAN_CIDR_MAX], ip[16];
    CHECK(veil_guardian_realm_pool(g_g, "red", cidr, &err) == 0);
    CHECK_EQ_STR(cidr, VEIL_GUARDIAN_DEFAULT_POOL);
    CHECK(veil_guardian_realm_set_pool(g_g, "blue", "10.88.0.7/30", &err) == 0);
    CHECK(veil_guardian_realm_pool(g_g, "blue", cidr, &err) == 0);
    CHECK_EQ_STR(cidr, "10.88.0.4/30"); /* host bits cleared */
    CHECK(veil_guardian_realm_set_pool(g_g, "blue", "10.88.0.0/31", &err) != 0);
    CHECK(veil_guardian_realm_set_pool(g_g, "blue", "10.88.0.300/24", &err) != 0);
    CHECK(veil_guardian_realm_set_pool(g_g, "nope", "10.0.0.0/24", &err) != 0);
    addr_is("red", "r1", "10.77.0.1");
    addr_is("red", "r2", "10.77.0.2");
    addr_is("red", "r1", "10.77.0.1"); /* stable */
    addr_is("blue", "b1", "10.88.0.5");
    addr_is("blue", "b2", "10.88.0.6");
    CHECK(veil_guardian_node_address(g_g, "blue", "b3", ip, &err) != 0); /* .7 is broadcast */
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK(veil_guardian_realm_set_pool(g_g, "blue", "10.99.0.0/24", &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_STATE);
    CHECK(veil_guardian_realm_set_pool(g_g, "blue", "10.88.0.0/24", &err) == 0); /* a superset */
    addr_is("blue", "b3", "10.88.0.1");
    /* survives a restart */
    veil_guardian_close(g_g);
    CHECK(veil_guardian_open(&g_g, g_dir, &err) == 0);
    addr_is("red", "r2", "10.77.0.2");
}

static char *ed25519_pub_pem(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *b = BIO_new(BIO_s_mem());
    CHECK(k && b && PEM_write_bio_PUBKEY(b, k) == 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

/* The leaf's IP SAN and URIs, as text "ip|uri,uri,...". */
static void names_of(const char *pem, char *out, size_t cap)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    out[0] = '\0';
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        size_t n = strlen(out);
        if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == 4) {
            const unsigned char *a = ASN1_STRING_get0_data(gn->d.iPAddress);
            snprintf(out + n, cap - n, "ip=%u.%u.%u.%u;", a[0], a[1], a[2], a[3]);
        } else if (gn->type == GEN_URI) {
            snprintf(out + n, cap - n, "%s;",
                     (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier));
        }
    }
    GENERAL_NAMES_free(names);
    X509_free(x);
    BIO_free(b);
}

/* The raw Ed25519 key of a SubjectPublicKeyInfo PEM. */
static void raw_of(const char *pem, uint8_t out[32])
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    size_t n = 32;
    CHECK(k && EVP_PKEY_get_raw_public_key(k, out, &n) == 1 && n == 32);
    EVP_PKEY_free(k);
    BIO_free(b);
}

static void test_leaf_names(void)
{
    veil_err err = {0};
    struct veil_ca_leaf leaf, again;
    char names[512];
    add_node("red", "t1", "GPU,eu-west");
    char *pub = ed25519_pub_pem();
    CHECK(veil_guardian_issue_cert(g_g, "red", "t1", pub, 600, &leaf, &err) == 0);
    names_of(leaf.cert_pem, names, sizeof names);
    CHECK_EQ_STR(names, "veil://red/t1;veil-taint:gpu;veil-taint:eu-west;veil-pool:10.77.0.0/16;"
                        "ip=10.77.0.3;");
    CHECK(veil_guardian_issue_cert(g_g, "red", "t1", pub, 600, &again, &err) == 0);
    names_of(again.cert_pem, names, sizeof names);
    CHECK_CONTAINS(names, "ip=10.77.0.3;"); /* a renewal keeps the address */
    /* the data plane's verifier takes the leaf, with its taints */
    char *root = NULL;
    {
        char path[128];
        snprintf(path, sizeof path, "%s/ca/root.crt", g_dir);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL);
        root = calloc(1, 8192);
        CHECK(fread(root, 1, 8191, f) > 0);
        fclose(f);
    }
    veil_anchor_certs *v = veil_anchor_certs_new(root, leaf.chain_pem, &err);
    CHECK(v != NULL);
    uint8_t *der = NULL, id[32];
    size_t der_len = 0;
    struct veil_anchor_cred_info info;
    raw_of(pub, id);
    CHECK(veil_anchor_cert_from_pem(leaf.chain_pem, &der, &der_len, &err) == 0);
    CHECK(veil_anchor_cert_verify(v, der, der_len, id, (uint64_t)time(NULL) * 1000, &info, &err) ==
          0);
    CHECK_EQ_STR(info.realm, "red");
    CHECK_EQ_INT(info.n_taints, 2);
    CHECK_EQ_STR(info.taints[0], "gpu");
    free(der);
    veil_anchor_certs_free(v);
    free(root);
    veil_ca_leaf_free(&leaf);
    veil_ca_leaf_free(&again);
    /* a taint the data plane cannot hold is refused at issuance */
    add_node("red", "t2", "a-very-long-taint-name-over-31-chars");
    CHECK(veil_guardian_issue_cert(g_g, "red", "t2", pub, 600, &leaf, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    free(pub);
}

static void test_revoked_notice(void)
{
    veil_err err = {0};
    struct veil_guardian_node *list = NULL;
    size_t n = 0;
    char *jwt = NULL, acct[VEIL_NKEY_PUBLIC_LEN + 1], ip[16];
    CHECK(veil_guardian_revoke(g_g, "t1", &jwt, acct, &err) == 0);
    free(jwt);
    CHECK(veil_guardian_revoked_live(g_g, "red", time(NULL), &list, &n, &err) == 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(list[0].name, "t1");
    veil_guardian_node_list_free(list, n);
    CHECK(veil_guardian_revoked_live(g_g, "red", time(NULL) + 700, &list, &n, &err) == 0);
    CHECK_EQ_INT(n, 0); /* its certificates expired: nothing left to announce */
    veil_guardian_node_list_free(list, n);
    add_node("red", "t4", NULL);
    CHECK(veil_guardian_node_address(g_g, "red", "t4", ip, &err) == 0);
    CHECK(strcmp(ip, "10.77.0.3") != 0); /* t1's address is never reused */
    /* the notice: signed by the command key, naming the subject's node */
    const veil_nkey *ck = veil_guardian_command_key(g_g);
    veil_ctl_cmd c = {.verb = VEIL_CTL_PEER_REVOKED, .issued_ms = (uint64_t)time(NULL) * 1000};
    uint8_t id[32], want[32];
    memset(want, 0xab, sizeof want);
    snprintf(c.node_id, sizeof c.node_id, "t1");
    CHECK(veil_hex_encode(c.arg, sizeof c.arg, want, 32) == 64);
    CHECK(veil_ctl_cmd_sign(&c, ck->sk, &err) == 0);
    CHECK(veil_ctl_revoked_check(&c, "veil.red.revoked.t1", ck->pub, c.issued_ms, id, &err) == 0);
    CHECK_EQ_MEM(id, want, 32);
    CHECK(veil_ctl_revoked_check(&c, "veil.red.revoked.t2", ck->pub, c.issued_ms, id, &err) != 0);
    CHECK(veil_ctl_revoked_check(&c, "veil.red.revoked.t1", ck->pub, c.issued_ms + 120000, id,
                                 &err) != 0);
    c.arg[0] ^= 1; /* the signature covers the identity */
    CHECK(veil_ctl_revoked_check(&c, "veil.red.revoked.t1", ck->pub, c.issued_ms, id, &err) != 0);
    c.arg[0] ^= 1;
    c.verb = VEIL_CTL_SHUTDOWN;
    CHECK(veil_ctl_cmd_sign(&c, ck->sk, &err) == 0);
    CHECK(veil_ctl_revoked_check(&c, "veil.red.revoked.t1", ck->pub, c.issued_ms, id, &err) != 0);
    enum veil_ctl_verb v;
    CHECK(veil_ctl_verb_parse("peer-revoked", &v, &err) != 0); /* not an operator command */
}

static void cleanup(void)
{
    veil_guardian_close(g_g);
}

VTEST_MAIN(VTEST(setup), VTEST(test_pools), VTEST(test_leaf_names), VTEST(test_revoked_notice),
           VTEST(cleanup))
