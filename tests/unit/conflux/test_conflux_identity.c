// SPDX-License-Identifier: Apache-2.0
/*
 * test_conflux_identity.c - the Conflux node identity: created once (0600,
 * in a 0700 directory), the same key on every later load, a key readable by
 * others refused, and PEM forms that OpenSSL reads back to the same Ed25519
 * key (what Guardian certifies and what libnats presents in mTLS).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <veil/conflux.h>

#include "vtest.h"

static char root[] = "/tmp/veil-cfx-id.XXXXXX";

static void raw_of_pem(const char *pem, bool secret, uint8_t out[32])
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = secret ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                         : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    size_t len = 32;
    memset(out, 0, 32);
    if (k)
        EVP_PKEY_get_raw_public_key(k, out, &len);
    EVP_PKEY_free(k);
    BIO_free(bio);
}

static void test_identity_created_once(void)
{
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/agent", root);
    snprintf(path, sizeof path, "%s/identity.nk", dir);
    veil_err err = {0};
    veil_nkey a, b;
    CHECK(veil_conflux_identity_load(&a, dir, &err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(veil_conflux_identity_load(&b, dir, &err) == 0);
    CHECK_EQ_MEM(a.pub, b.pub, 32);
    CHECK(a.type == VEIL_NKEY_USER);
    char nk[VEIL_NKEY_PUBLIC_LEN + 1];
    veil_nkey_public_text(&a, nk);
    CHECK(nk[0] == 'U');

    char *pub = NULL, *priv = NULL;
    uint8_t raw[32];
    CHECK(veil_conflux_identity_public_pem(&a, &pub, &err) == 0);
    CHECK(veil_conflux_identity_private_pem(&a, &priv, &err) == 0);
    CHECK_CONTAINS(pub, "BEGIN PUBLIC KEY");
    CHECK_CONTAINS(priv, "BEGIN PRIVATE KEY");
    raw_of_pem(pub, false, raw);
    CHECK_EQ_MEM(raw, a.pub, 32);
    raw_of_pem(priv, true, raw);
    CHECK_EQ_MEM(raw, a.pub, 32);
    free(pub);
    veil_conflux_pem_free(priv);
    veil_nkey public_only = {.type = VEIL_NKEY_USER};
    CHECK(veil_conflux_identity_private_pem(&public_only, &priv, &err) == -1);
    veil_nkey_wipe(&a);
    veil_nkey_wipe(&b);

    /* a key others can read is refused */
    CHECK(chmod(path, 0644) == 0);
    CHECK(veil_conflux_identity_load(&a, dir, &err) == -1);
    CHECK_CONTAINS(err.msg, "identity");
    unlink(path);
    rmdir(dir);
}

static void test_agent_config_errors(void)
{
    veil_conflux *a = NULL;
    veil_err err = {0};
    struct veil_conflux_config c = {0};
    CHECK(veil_conflux_start(&a, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "a directory and a server");
    const char *servers[] = {"tls://127.0.0.1:1"};
    char dir[256];
    snprintf(dir, sizeof dir, "%s/agent2", root);
    c.dir = dir;
    c.servers = servers;
    c.n_servers = 1;
    c.name = "bad name!";
    CHECK(veil_conflux_start(&a, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "node name");
    c.name = "ok-name";
    c.guardian_key = "not-an-nkey";
    CHECK(veil_conflux_start(&a, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "--guardian-key");
    c.guardian_key = NULL;
    CHECK(veil_conflux_start(&a, &c, &err) == -1); /* no enrollment credentials */
    CHECK_CONTAINS(err.msg, "enrollment");
    char path[300];
    snprintf(path, sizeof path, "%s/identity.nk", dir);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0 || !mkdtemp(root))
        return 1;
    static const struct vtest_case cases[] = {VTEST(test_identity_created_once),
                                              VTEST(test_agent_config_errors)};
    int rc = vtest_run(cases, VEIL_ARRAY_LEN(cases), argc, argv);
    rmdir(root);
    return rc;
}
