// SPDX-License-Identifier: Apache-2.0
/*
 * test_guardian_state.c - the Guardian directory: init/open across
 * restarts, realms and cluster bindings, one-time tokens, issuance (the JWT
 * verifies against the realm account like nats-server checks it),
 * revocation, the audit log, the CA (leaf verification, SAN identity,
 * caller-supplied Ed25519 keys) and Master's config files.
 */
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <veil/guardian.h>

#include "guardian_int.h" /* white box: plant an ancient revocation */
#include "vtest.h"

static char g_dir[64];

static void setup_dir(void)
{
    char tmpl[] = "/tmp/veil-guardian-unit-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(g_dir, sizeof(g_dir), "%s/g", tmpl);
}

static veil_guardian *open_g(void)
{
    veil_guardian *g = NULL;
    veil_err err = {0};
    CHECK(veil_guardian_open(&g, g_dir, &err) == 0);
    return g;
}

static void test_init_realms(void)
{
    veil_err err = {0};
    struct veil_guardian_realm r, r2;
    CHECK(veil_guardian_open(&(veil_guardian *){NULL}, g_dir, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK(veil_guardian_init(g_dir, NULL, &err) == 0);
    CHECK(veil_guardian_init(g_dir, NULL, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_EXISTS);
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "%s/keys/operator.nk", g_dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path, sizeof(path), "%s/offline/root.key", g_dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    veil_guardian *g = open_g();
    CHECK(veil_guardian_realm_create(g, "alpha", &r, &err) == 0);
    CHECK(r.account[0] == 'A' && r.signing_key[0] == 'A' && strcmp(r.account, r.signing_key) != 0);
    CHECK(veil_guardian_realm_create(g, "alpha", &r2, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_EXISTS);
    CHECK(veil_guardian_realm_create(g, "SYS", &r2, &err) != 0);
    CHECK(veil_guardian_realm_create(g, "a.b", &r2, &err) != 0);
    CHECK(veil_guardian_realm_get(g, "enroll", &r2, &err) != 0);
    CHECK(veil_guardian_realm_create(g, "beta", NULL, &err) == 0);
    CHECK(veil_guardian_realm_bind_cluster(g, "beta", 7, &err) == 0);
    CHECK(veil_guardian_realm_bind_cluster(g, "alpha", 7, &err) != 0);
    CHECK(veil_guardian_realm_for_cluster(g, 7, &r2, &err) == 0);
    CHECK_EQ_STR(r2.name, "beta");
    CHECK(veil_guardian_realm_for_cluster(g, 8, &r2, &err) != 0);
    /* the operator JWT names the system account; the realm account is operator-signed */
    veil_jwt op, acct;
    const char *ojwt = veil_guardian_operator_jwt(g);
    char *ajwt = NULL;
    CHECK(veil_jwt_decode(ojwt, strlen(ojwt), &op, &err) == 0);
    CHECK_EQ_STR(op.system_account, veil_guardian_system_account(g));
    CHECK(veil_guardian_account_jwt(g, "alpha", &ajwt, &err) == 0);
    CHECK(veil_jwt_decode(ajwt, strlen(ajwt), &acct, &err) == 0);
    CHECK(veil_jwt_check_account(&acct, &op, &err) == 0);
    CHECK(veil_strlist_contains(&acct.signing_keys, r.signing_key));
    free(ajwt);
    veil_jwt_free(&op);
    veil_jwt_free(&acct);
    veil_guardian_close(g);
}

static void test_tokens(void)
{
    veil_err err = {0};
    veil_strlist taints = {0};
    char tok[VEIL_GUARDIAN_TOKEN_MAX], bad[VEIL_GUARDIAN_TOKEN_MAX];
    struct veil_guardian_token_info info;
    veil_guardian *g = open_g();
    CHECK(veil_strlist_split(&taints, "gpu,eu", &err) == 0);
    CHECK(veil_guardian_token_create(g, "alpha", &taints, 3600, tok, &err) == 0);
    CHECK(veil_guardian_token_create(g, "nope", &taints, 3600, bad, &err) != 0);
    memcpy(bad, tok, sizeof(bad));
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
    CHECK(veil_guardian_token_redeem(g, bad, time(NULL), &info, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK(veil_guardian_token_redeem(g, "vgt1.short", time(NULL), &info, &err) != 0);
    CHECK(veil_guardian_token_redeem(g, tok, time(NULL) + 7200, &info, &err) != 0); /* expired */
    CHECK(veil_guardian_token_redeem(g, tok, time(NULL), &info, &err) == 0);
    CHECK_EQ_STR(info.realm, "alpha");
    CHECK(info.taints.n == 2 && veil_strlist_contains(&info.taints, "eu"));
    veil_guardian_token_info_free(&info);
    CHECK(veil_guardian_token_redeem(g, tok, time(NULL), &info, &err) != 0); /* one time */
    veil_strlist_free(&taints);
    veil_guardian_close(g);
}

static void test_issue_revoke(void)
{
    veil_err err = {0};
    veil_strlist taints = {0};
    struct veil_guardian_issued is, is2;
    veil_guardian *g = open_g();
    CHECK(veil_strlist_split(&taints, "gpu", &err) == 0);
    struct veil_guardian_issue_req req = {.realm = "alpha", .name = "n1", .taints = &taints};
    CHECK(veil_guardian_issue(g, &req, &is, &err) == 0);
    CHECK(is.user.has_seed && is.serial > 0);
    veil_jwt user, acct;
    CHECK(veil_jwt_decode(is.jwt, strlen(is.jwt), &user, &err) == 0);
    CHECK(user.exp - user.iat == VEIL_GUARDIAN_DEFAULT_TTL_S);
    CHECK(veil_strlist_contains(&user.tags, "taint:gpu"));
    CHECK(veil_strlist_contains(&user.pub_allow, "veil.alpha.live.n1"));
    char *ajwt = NULL, acct_pub[57];
    CHECK(veil_guardian_account_jwt(g, "alpha", &ajwt, &err) == 0);
    CHECK(veil_jwt_decode(ajwt, strlen(ajwt), &acct, &err) == 0);
    free(ajwt);
    CHECK(veil_jwt_check_user(&user, &acct, time(NULL), &err) == 0);
    veil_jwt_free(&acct);
    /* a node's realm is fixed; a caller-held user key is certified as is */
    struct veil_guardian_issue_req other = {.realm = "beta", .name = "n1"};
    CHECK(veil_guardian_issue(g, &other, &is2, &err) != 0);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    char upub[57];
    veil_nkey_public_text(&is.user, upub);
    struct veil_guardian_issue_req again = {.realm = "alpha", .name = "n1", .user_key = upub};
    CHECK(veil_guardian_issue(g, &again, &is2, &err) == 0);
    CHECK(!is2.user.has_seed);
    veil_guardian_issued_free(&is2);
    struct veil_guardian_node node;
    CHECK(veil_guardian_node_get(g, "n1", &node, &err) == 0);
    CHECK_EQ_STR(node.user_key, upub);
    CHECK(veil_strlist_contains(&node.taints, "gpu"));
    veil_guardian_node_free(&node);
    /* revocation covers the issued key and stops issuance */
    char *rjwt = NULL;
    CHECK(veil_guardian_revoke(g, "n1", &rjwt, acct_pub, &err) == 0);
    CHECK(veil_jwt_decode(rjwt, strlen(rjwt), &acct, &err) == 0);
    CHECK_EQ_STR(acct.sub, acct_pub);
    CHECK(veil_jwt_check_user(&user, &acct, time(NULL), &err) != 0);
    CHECK_CONTAINS(err.msg, "revoked");
    CHECK(veil_guardian_serial_revoked(g, is.serial));
    CHECK(veil_guardian_issue(g, &req, &is2, &err) != 0);
    CHECK_CONTAINS(err.msg, "revoked");
    free(rjwt);
    CHECK(veil_guardian_revoke(g, "ghost", &rjwt, acct_pub, &err) != 0);
    CHECK(rjwt == NULL);
    veil_jwt_free(&acct);
    veil_jwt_free(&user);
    veil_guardian_issued_free(&is);
    veil_strlist_free(&taints);
    veil_guardian_close(g);
}

static void test_restart(void)
{
    veil_err err = {0};
    veil_guardian *g = open_g();
    struct veil_guardian_realm *realms = NULL;
    size_t n = 0;
    CHECK(veil_guardian_realm_list(g, &realms, &n, &err) == 0);
    CHECK_EQ_INT(n, 2);
    free(realms);
    struct veil_guardian_node node;
    CHECK(veil_guardian_node_get(g, "n1", &node, &err) == 0);
    CHECK(node.revoked);
    veil_guardian_node_free(&node);
    struct veil_guardian_audit_entry *log = NULL;
    CHECK(veil_guardian_audit_list(g, 0, 0, &log, &n, &err) == 0);
    bool saw_revoke = false;
    for (size_t i = 0; i < n; i++)
        saw_revoke |= strcmp(log[i].action, "revoke") == 0;
    CHECK(saw_revoke);
    veil_guardian_audit_list_free(log, n);
    veil_guardian_close(g);
}

/* Revocations older than the longest credential are dropped on the next
 * revocation; recent ones stay. */
static void test_revocation_pruning(void)
{
    veil_err err = {0};
    veil_jwt acct;
    struct veil_guardian_issued is;
    char *jwt = NULL, pub[57], upub[57];
    veil_guardian *g = open_g();
    CHECK(guardian_account_claims(g, "alpha", &acct, &err) == 0);
    CHECK(veil_jwt_add_revocation(&acct, "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK",
                                  1000, &err) == 0);
    CHECK(guardian_account_store(g, "alpha", &acct, &jwt, &err) == 0);
    free(jwt);
    veil_jwt_free(&acct);
    struct veil_guardian_issue_req req = {.realm = "alpha", .name = "n9"};
    CHECK(veil_guardian_issue(g, &req, &is, &err) == 0);
    veil_nkey_public_text(&is.user, upub);
    veil_guardian_issued_free(&is);
    CHECK(veil_guardian_revoke(g, "n9", &jwt, pub, &err) == 0);
    CHECK(veil_jwt_decode(jwt, strlen(jwt), &acct, &err) == 0);
    CHECK(
        !veil_jwt_is_revoked(&acct, "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK", 0));
    CHECK(veil_jwt_is_revoked(&acct, upub, time(NULL) - 1));
    CHECK_EQ_INT(acct.n_revocations, 2); /* n1's key and n9's; the ancient one is gone */
    free(jwt);
    veil_jwt_free(&acct);
    veil_guardian_close(g);
}

static char *root_pem(void)
{
    char path[128];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/ca/root.crt", g_dir);
    CHECK(veil_file_read(path, 65536, &data, &len, NULL) == 0);
    return (char *)data;
}

static char *ed25519_pub_pem(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *out = NULL;
    if (k && b && PEM_write_bio_PUBKEY(b, k) == 1) {
        long n = BIO_get_mem_data(b, &p);
        out = strndup(p, (size_t)n);
    }
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

static int64_t payload_of(veil_guardian *g, const char *name, int64_t max_payload, veil_err *err)
{
    struct veil_guardian_issue_req req = {
        .realm = "alpha", .name = name, .max_payload = max_payload};
    struct veil_guardian_issued is;
    veil_jwt user;
    int64_t payload = -2;
    if (veil_guardian_issue(g, &req, &is, err) != 0)
        return -3;
    if (veil_jwt_decode(is.jwt, strlen(is.jwt), &user, err) == 0) {
        payload = user.limits.payload;
        veil_jwt_free(&user);
    }
    veil_guardian_issued_free(&is);
    return payload;
}

/* Node JWTs cap the message size (nats.limits.payload): 64 KiB by default,
 * a chosen size, or none; out-of-range sizes are refused. */
static void test_payload_limit(void)
{
    veil_err err = {0};
    veil_guardian *g = open_g();
    CHECK(payload_of(g, "p1", 0, &err) == VEIL_GUARDIAN_DEFAULT_MAX_PAYLOAD);
    CHECK(payload_of(g, "p2", 4096, &err) == 4096);
    CHECK(payload_of(g, "p3", -1, &err) == -1);
    CHECK(payload_of(g, "p4", VEIL_GUARDIAN_MAX_PAYLOAD_LIMIT + 1, &err) == -3);
    CHECK_CONTAINS(err.msg, "payload limit");
    CHECK(payload_of(g, "p4", -5, &err) == -3);
    veil_guardian_close(g);
}

/* Every commit is fsynced (synchronous=FULL = 2): NORMAL could lose answered
 * commits after a power loss (docs/GUARDIAN.md). */
static void test_durability(void)
{
    veil_guardian *g = open_g();
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(g->db, "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(g->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
    sqlite3_finalize(st);
    veil_guardian_close(g);
}

/* Issuance nests in a caller's transaction (an enrollment: token, node,
 * serial and audit in one commit): rolled back with it, kept with it. */
static void test_nested_transaction(void)
{
    veil_err err = {0};
    veil_guardian *g = open_g();
    struct veil_guardian_issue_req req = {.realm = "alpha", .name = "tx1"};
    struct veil_guardian_issued is;
    struct veil_guardian_node n;
    bool outer = false;
    CHECK(guardian_tx_begin(g, &outer, &err) == 0 && outer);
    CHECK(veil_guardian_issue(g, &req, &is, &err) == 0);
    veil_guardian_issued_free(&is);
    CHECK(guardian_tx_end(g, outer, -1, &err) == -1); /* the caller failed later */
    CHECK(veil_guardian_node_get(g, "tx1", &n, &err) != 0 && err.code == VEIL_E_NOTFOUND);
    CHECK(guardian_tx_begin(g, &outer, &err) == 0 && outer);
    CHECK(veil_guardian_issue(g, &req, &is, &err) == 0);
    veil_guardian_issued_free(&is);
    CHECK(guardian_tx_end(g, outer, 0, &err) == 0);
    CHECK(sqlite3_get_autocommit(g->db) != 0);
    CHECK(veil_guardian_node_get(g, "tx1", &n, &err) == 0);
    veil_guardian_node_free(&n);
    veil_guardian_close(g);
}

static void test_ca(void)
{
    veil_err err = {0};
    struct veil_guardian_issued is;
    struct veil_ca_leaf leaf;
    char realm[64], node[128];
    veil_guardian *g = open_g();
    struct veil_guardian_issue_req req = {.realm = "beta", .name = "b1"};
    CHECK(veil_guardian_issue(g, &req, &is, &err) == 0);
    veil_guardian_issued_free(&is);
    char *root = root_pem();
    char *edpub = ed25519_pub_pem();
    CHECK(veil_guardian_issue_cert(g, "beta", "b1", edpub, 600, &leaf, &err) == 0);
    CHECK(leaf.key_pem == NULL);
    CHECK(veil_ca_verify_leaf(root, leaf.chain_pem, leaf.cert_pem, time(NULL), realm, node, &err) ==
          0);
    CHECK_EQ_STR(realm, "beta");
    CHECK_EQ_STR(node, "b1");
    CHECK(veil_ca_verify_leaf(root, leaf.chain_pem, leaf.cert_pem, time(NULL) + 700, realm, node,
                              &err) != 0); /* expired */
    CHECK(veil_ca_verify_leaf(root, NULL, leaf.cert_pem, time(NULL), realm, node, &err) != 0);
    veil_ca_leaf_free(&leaf);
    CHECK(veil_guardian_issue_cert(g, "alpha", "n1", NULL, 600, &leaf, &err) != 0); /* revoked */
    CHECK(veil_guardian_issue_cert(g, "alpha", "b1", NULL, 600, &leaf, &err) !=
          0); /* wrong realm */
    /* a server certificate with a generated key */
    const char *ips[] = {"127.0.0.1"}, *bad_dns[] = {"a,URI:veil://x/y"};
    struct veil_ca_leaf_req sreq = {
        .common_name = "srv", .ips = ips, .n_ips = 1, .server_auth = true, .ttl_s = 60};
    CHECK(veil_ca_issue(veil_guardian_ca(g), &sreq, &leaf, &err) == 0);
    CHECK(leaf.key_pem != NULL && strstr(leaf.key_pem, "PRIVATE KEY") != NULL);
    CHECK(veil_ca_verify_leaf(root, leaf.chain_pem, leaf.cert_pem, time(NULL), realm, node, &err) !=
          0);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND); /* valid chain, but no veil:// identity */
    veil_ca_leaf_free(&leaf);
    sreq.dns = bad_dns;
    sreq.n_dns = 1;
    CHECK(veil_ca_issue(veil_guardian_ca(g), &sreq, &leaf, &err) != 0); /* SAN injection */
    free(root);
    free(edpub);
    veil_guardian_close(g);
}

static void test_master_config(void)
{
    veil_err err = {0};
    char conf[96], path[160];
    uint8_t *text = NULL;
    size_t len = 0;
    veil_guardian *g = open_g();
    snprintf(conf, sizeof(conf), "%s/../master", g_dir);
    struct veil_master_opts o = {.clusters = 2, .servers = 3, .base_port = 30000};
    CHECK(veil_master_config(g, &o, conf, &err) == 0);
    CHECK_EQ_INT(veil_master_client_port(&o, 1, 2), 30050);
    snprintf(path, sizeof(path), "%s/c1-s2.conf", conf);
    CHECK(veil_file_read(path, 1 << 20, &text, &len, &err) == 0);
    const char *t = (const char *)text;
    CHECK_CONTAINS(t, "listen: \"127.0.0.1:30050\"");
    CHECK_CONTAINS(t, "type: full");
    CHECK_CONTAINS(t, "name: c1");
    CHECK_CONTAINS(t, "nats-route://127.0.0.1:30031");
    CHECK_CONTAINS(t, "{ name: c0, urls: [\"nats://127.0.0.1:30002\", \"nats://127.0.0.1:30012\", "
                      "\"nats://127.0.0.1:30022\"] }");
    CHECK_CONTAINS(t, veil_guardian_system_account(g));
    CHECK(strstr(t, "nats-route://127.0.0.1:30051") == NULL); /* not a route to itself */
    free(text);
    snprintf(path, sizeof(path), "%s/tls/c1-s2.key", conf);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    o.clusters = 0;
    CHECK(veil_master_config(g, &o, conf, &err) != 0);
    veil_guardian_close(g);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup_dir(void)
{
    char top[64];
    snprintf(top, sizeof(top), "%s", g_dir);
    *strrchr(top, '/') = '\0';
    CHECK(nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

VTEST_MAIN(VTEST(setup_dir), VTEST(test_init_realms), VTEST(test_tokens), VTEST(test_issue_revoke),
           VTEST(test_restart), VTEST(test_revocation_pruning), VTEST(test_payload_limit),
           VTEST(test_durability), VTEST(test_nested_transaction), VTEST(test_ca),
           VTEST(test_master_config), VTEST(cleanup_dir))
