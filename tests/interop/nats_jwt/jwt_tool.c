// SPDX-License-Identifier: Apache-2.0
/*
 * jwt_tool.c - the Veil side of the NATS JWT/nkeys interop test.
 *
 *   nats_jwt_tool gen DIR     writes a Veil-made chain: operator.jwt,
 *                             account.jwt (signing key, a revocation),
 *                             user.jwt (issued by the signing key, node
 *                             permissions, taint tags, exp), user.creds, and
 *                             sig.txt ("<user pub> <hex Ed25519 sig of
 *                             'veil-interop'>"), for @nats-io to verify
 *   nats_jwt_tool verify DIR  decodes and verifies js-operator.jwt,
 *                             js-account.jwt, js-user.jwt and js-user.creds
 *                             made by @nats-io/jwt, checks the chain the way
 *                             nats-server does, checks js-sig.txt, and prints
 *                             the fields it read as key=value lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/guardian.h>

static int fail(const char *what, const veil_err *err)
{
    fprintf(stderr, "nats_jwt_tool: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

static int write_str(const char *dir, const char *name, const char *text)
{
    char path[4096];
    veil_err err = {0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return veil_file_write_atomic(path, text, strlen(text), 0644, &err) == 0 ? 0 : fail(name, &err);
}

struct keys {
    veil_nkey op, acct, skey, user;
};

static int make_keys(struct keys *k, veil_err *err)
{
    if (veil_nkey_generate(&k->op, VEIL_NKEY_OPERATOR, err) != 0 ||
        veil_nkey_generate(&k->acct, VEIL_NKEY_ACCOUNT, err) != 0 ||
        veil_nkey_generate(&k->skey, VEIL_NKEY_ACCOUNT, err) != 0 ||
        veil_nkey_generate(&k->user, VEIL_NKEY_USER, err) != 0)
        return -1;
    return 0;
}

static int gen_account(const char *dir, struct keys *k, veil_err *err)
{
    veil_jwt oc, ac;
    char *tok = NULL, skey[57];
    veil_jwt_init(&oc, VEIL_JWT_OPERATOR);
    veil_nkey_public_text(&k->op, oc.sub);
    veil_nkey_public_text(&k->acct, oc.system_account);
    oc.name = strdup("veil-op");
    int rc = veil_jwt_encode(&oc, &k->op, &tok, err);
    if (rc == 0)
        rc = write_str(dir, "operator.jwt", tok);
    free(tok);
    tok = NULL;
    veil_jwt_init(&ac, VEIL_JWT_ACCOUNT);
    veil_nkey_public_text(&k->acct, ac.sub);
    veil_nkey_public_text(&k->skey, skey);
    ac.name = strdup("alpha");
    if (rc == 0)
        rc = veil_strlist_add(&ac.signing_keys, skey, err);
    if (rc == 0)
        rc = veil_jwt_add_revocation(
            &ac, "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK", 1700000000, err);
    if (rc == 0)
        rc = veil_jwt_encode(&ac, &k->op, &tok, err);
    if (rc == 0)
        rc = write_str(dir, "account.jwt", tok);
    free(tok);
    veil_jwt_free(&oc);
    veil_jwt_free(&ac);
    return rc;
}

static int gen_user(const char *dir, struct keys *k, veil_err *err)
{
    veil_jwt uc;
    char *tok = NULL, path[4096], line[256], pub[57];
    uint8_t sig[64];
    char hex[129];
    veil_jwt_init(&uc, VEIL_JWT_USER);
    veil_nkey_public_text(&k->user, uc.sub);
    veil_nkey_public_text(&k->acct, uc.issuer_account);
    uc.name = strdup("n1");
    uc.exp = 4102444800; /* 2100-01-01 */
    int rc = veil_guardian_node_permissions(&uc, "alpha", "n1", err);
    if (rc == 0)
        rc = veil_strlist_add(&uc.tags, "taint:gpu", err);
    if (rc == 0)
        rc = veil_jwt_encode(&uc, &k->skey, &tok, err);
    if (rc == 0)
        rc = write_str(dir, "user.jwt", tok);
    snprintf(path, sizeof(path), "%s/user.creds", dir);
    if (rc == 0)
        rc = veil_creds_write(path, tok, &k->user, err);
    if (rc == 0)
        rc = veil_nkey_sign(&k->user, "veil-interop", 12, sig, err);
    veil_nkey_public_text(&k->user, pub);
    (void)veil_hex_encode(hex, sizeof(hex), sig, sizeof(sig));
    snprintf(line, sizeof(line), "%s %s\n", pub, hex);
    if (rc == 0)
        rc = write_str(dir, "sig.txt", line);
    free(tok);
    veil_jwt_free(&uc);
    return rc;
}

static int gen(const char *dir)
{
    struct keys k;
    veil_err err = {0};
    int rc = make_keys(&k, &err);
    if (rc == 0)
        rc = gen_account(dir, &k, &err);
    if (rc == 0)
        rc = gen_user(dir, &k, &err);
    veil_nkey_wipe(&k.op);
    veil_nkey_wipe(&k.acct);
    veil_nkey_wipe(&k.skey);
    veil_nkey_wipe(&k.user);
    return rc == 0 ? 0 : fail("gen", &err);
}

static int load(const char *dir, const char *name, veil_jwt *out, veil_err *err)
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (veil_file_read(path, 65536, &data, &len, err) != 0)
        return -1;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    int rc = veil_jwt_decode((const char *)data, len, out, err);
    free(data);
    return rc == 0 ? 0 : veil_err_wrap(err, "%s", name);
}

static void print_list(const char *key, const veil_strlist *l)
{
    printf("%s=", key);
    for (size_t i = 0; i < l->n; i++)
        printf("%s%s", i ? "," : "", l->items[i]);
    printf("\n");
}

static int check_sig(const char *dir, veil_err *err)
{
    char path[4096], pub[80], hex[200];
    uint8_t sig[64];
    snprintf(path, sizeof(path), "%s/js-sig.txt", dir);
    FILE *f = fopen(path, "r");
    int n = f ? fscanf(f, "%79s %199s", pub, hex) : 0;
    if (f)
        fclose(f);
    if (n != 2 || veil_hex_decode(sig, sizeof(sig), hex, strlen(hex), false, err) != 64)
        return veil_err_set(err, VEIL_E_PARSE, "js-sig.txt unreadable");
    return veil_nkey_verify(pub, "veil-interop", 12, sig, err);
}

static int verify(const char *dir)
{
    veil_jwt op, acct, user;
    veil_nkey ck;
    char *cjwt = NULL, path[4096];
    veil_err err = {0};
    if (load(dir, "js-operator.jwt", &op, &err) != 0 ||
        load(dir, "js-account.jwt", &acct, &err) != 0 || load(dir, "js-user.jwt", &user, &err) != 0)
        return fail("decode", &err);
    snprintf(path, sizeof(path), "%s/js-user.creds", dir);
    int rc = veil_jwt_check_account(&acct, &op, &err);
    if (rc == 0)
        rc = veil_jwt_check_user(&user, &acct, 1800000000, &err);
    if (rc == 0)
        rc = veil_creds_read(path, &cjwt, &ck, &err);
    if (rc == 0)
        rc = check_sig(dir, &err);
    if (rc != 0)
        return fail("verify", &err);
    char cpub[57];
    veil_nkey_public_text(&ck, cpub);
    printf("operator.sub=%s\naccount.sub=%s\naccount.iss=%s\nuser.sub=%s\nuser.iss=%s\n", op.sub,
           acct.sub, acct.iss, user.sub, user.iss);
    printf("user.issuer_account=%s\nuser.name=%s\nuser.exp=%lld\ncreds.sub=%s\n",
           user.issuer_account, user.name ? user.name : "", (long long)user.exp, cpub);
    print_list("user.pub_allow", &user.pub_allow);
    print_list("user.sub_allow", &user.sub_allow);
    print_list("user.sub_deny", &user.sub_deny);
    print_list("account.signing_keys", &acct.signing_keys);
    printf("account.revoked=%d\n",
           veil_jwt_is_revoked(&acct, acct.revocations ? acct.revocations[0].key : "", 0));
    printf("user.revoked_at_iat=%d\n", veil_jwt_is_revoked(&acct, user.sub, user.iat));
    free(cjwt);
    veil_nkey_wipe(&ck);
    veil_jwt_free(&op);
    veil_jwt_free(&acct);
    veil_jwt_free(&user);
    return 0;
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    if (argc != 3 || veil_crypto_init(&err) != 0) {
        fprintf(stderr, "usage: nats_jwt_tool gen|verify DIR\n");
        return 2;
    }
    if (strcmp(argv[1], "gen") == 0)
        return gen(argv[2]);
    if (strcmp(argv[1], "verify") == 0)
        return verify(argv[2]);
    return 2;
}
