// SPDX-License-Identifier: Apache-2.0
/*
 * test_guardian_nkey.c - nkeys (vectors from @nats-io/nkeys 2.0.3), JWT
 * encode/decode/checks, .creds round trips and tampering, the subject layout
 * and permission lists.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <veil/guardian.h>

#include "vtest.h"

/* Seed bytes 0..31 encoded by @nats-io/nkeys as user/account/operator. */
static const char *SEED_U = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y";
static const char *PUB_U = "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK";
static const char *SEED_A = "SAAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4HYMHI";
static const char *PUB_A = "AAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3QPZV";
static const char *PUB_O = "OAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3QZVT";
static const char *SIG_HELLO = "e1a7fca94a835127885b99e2eba733d6ee5bf5dc463ed8385eb6f1dcaa1117c0"
                               "f151750a10f46f5b3796a91203578f702c85c67c334b5689a516284d499f710f";

static void test_nkey_vectors(void)
{
    veil_nkey k;
    veil_err err = {0};
    char pub[VEIL_NKEY_PUBLIC_LEN + 1], seed[VEIL_NKEY_SEED_LEN + 1];
    CHECK(veil_nkey_from_seed(&k, SEED_U, strlen(SEED_U), &err) == 0);
    CHECK_EQ_INT(k.type, VEIL_NKEY_USER);
    for (int i = 0; i < 32; i++)
        CHECK_EQ_INT(k.seed[i], i);
    veil_nkey_public_text(&k, pub);
    CHECK_EQ_STR(pub, PUB_U);
    CHECK(veil_nkey_seed_text(&k, seed, &err) == 0);
    CHECK_EQ_STR(seed, SEED_U);
    uint8_t sig[64], want[64];
    CHECK(veil_nkey_sign(&k, "hello", 5, sig, &err) == 0);
    CHECK(veil_hex_decode(want, sizeof(want), SIG_HELLO, 128, false, &err) == 64);
    CHECK_EQ_MEM(sig, want, 64);
    CHECK(veil_nkey_verify(PUB_U, "hello", 5, sig, &err) == 0);
    CHECK(veil_nkey_verify(PUB_U, "hellO", 5, sig, &err) != 0);
    veil_nkey_wipe(&k);
    CHECK(!k.has_seed);

    CHECK(veil_nkey_from_seed(&k, SEED_A, strlen(SEED_A), &err) == 0);
    veil_nkey_public_text(&k, pub);
    CHECK_EQ_STR(pub, PUB_A);
    veil_nkey_wipe(&k);
    CHECK(veil_nkey_from_public(&k, PUB_O, strlen(PUB_O), &err) == 0);
    CHECK_EQ_INT(k.type, VEIL_NKEY_OPERATOR);
    CHECK(!k.has_seed);
    uint8_t raw[32];
    CHECK(veil_nkey_parse_public(PUB_O, VEIL_NKEY_OPERATOR, raw, &err) == 0);
    CHECK(veil_nkey_parse_public(PUB_O, VEIL_NKEY_USER, raw, &err) != 0);
}

static void test_nkey_rejects(void)
{
    veil_nkey k;
    veil_err err = {0};
    char bad[VEIL_NKEY_PUBLIC_LEN + 1];
    memcpy(bad, PUB_U, sizeof(bad));
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    CHECK(veil_nkey_from_public(&k, bad, strlen(bad), &err) != 0);
    CHECK_CONTAINS(err.msg, "checksum");
    CHECK(veil_nkey_from_public(&k, PUB_U, 20, &err) != 0);
    CHECK(veil_nkey_from_seed(&k, PUB_U, strlen(PUB_U), &err) != 0);
    CHECK(veil_nkey_from_public(&k, SEED_U, strlen(SEED_U), &err) != 0);
    CHECK(veil_nkey_from_seed(&k, "su", 2, &err) != 0);
    CHECK(veil_nkey_generate(&k, (enum veil_nkey_type)7, &err) != 0);
}

static void test_nkey_files(void)
{
    char dir[] = "/tmp/veil-nkey-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/k.nk", dir);
    veil_nkey a, b;
    veil_err err = {0};
    CHECK(veil_nkey_generate(&a, VEIL_NKEY_ACCOUNT, &err) == 0);
    CHECK(veil_nkey_save(&a, path, &err) == 0);
    CHECK(veil_nkey_load(&b, path, &err) == 0);
    CHECK_EQ_MEM(a.pub, b.pub, 32);
    CHECK_EQ_INT(b.type, VEIL_NKEY_ACCOUNT);
    CHECK(chmod(path, 0644) == 0);
    CHECK(veil_nkey_load(&b, path, &err) != 0);
    veil_nkey_wipe(&a);
    veil_nkey_wipe(&b);
    unlink(path);
    rmdir(dir);
}

/* An operator, an account with a signing key and a user issued by the
 * signing key, all verified back. */
static void test_jwt_chain(void)
{
    veil_err err = {0};
    veil_nkey op, acct, skey, user;
    CHECK(veil_nkey_generate(&op, VEIL_NKEY_OPERATOR, &err) == 0);
    CHECK(veil_nkey_generate(&acct, VEIL_NKEY_ACCOUNT, &err) == 0);
    CHECK(veil_nkey_generate(&skey, VEIL_NKEY_ACCOUNT, &err) == 0);
    CHECK(veil_nkey_generate(&user, VEIL_NKEY_USER, &err) == 0);
    char skey_pub[57];
    veil_nkey_public_text(&skey, skey_pub);

    veil_jwt oc, ac, uc, back, aback;
    veil_jwt_init(&oc, VEIL_JWT_OPERATOR);
    veil_nkey_public_text(&op, oc.sub);
    veil_nkey_public_text(&acct, oc.system_account);
    char *otok = NULL, *atok = NULL, *utok = NULL;
    CHECK(veil_jwt_encode(&oc, &op, &otok, &err) == 0);

    veil_jwt_init(&ac, VEIL_JWT_ACCOUNT);
    veil_nkey_public_text(&acct, ac.sub);
    ac.name = strdup("realm-a");
    CHECK(veil_strlist_add(&ac.signing_keys, skey_pub, &err) == 0);
    CHECK(veil_jwt_encode(&ac, &op, &atok, &err) == 0);
    CHECK_EQ_INT(strlen(ac.jti), 52);

    veil_jwt_init(&uc, VEIL_JWT_USER);
    veil_nkey_public_text(&user, uc.sub);
    veil_nkey_public_text(&acct, uc.issuer_account);
    uc.exp = 4000000000;
    CHECK(veil_guardian_node_permissions(&uc, "alpha", "n1", &err) == 0);
    CHECK(veil_strlist_add(&uc.tags, "taint:gpu", &err) == 0);
    CHECK(veil_jwt_encode(&uc, &skey, &utok, &err) == 0);

    CHECK(veil_jwt_decode(utok, strlen(utok), &back, &err) == 0);
    CHECK_EQ_INT(back.kind, VEIL_JWT_USER);
    CHECK_EQ_STR(back.sub, uc.sub);
    CHECK_EQ_STR(back.iss, skey_pub);
    CHECK_EQ_STR(back.jti, uc.jti);
    CHECK_EQ_INT(back.exp, 4000000000);
    CHECK_EQ_INT(back.pub_allow.n, uc.pub_allow.n);
    CHECK(veil_strlist_contains(&back.sub_allow, "veil.alpha.cmd.n1"));
    CHECK(veil_strlist_contains(&back.tags, "taint:gpu"));
    CHECK_EQ_INT(back.limits.subs, -1);

    CHECK(veil_jwt_decode(atok, strlen(atok), &aback, &err) == 0);
    CHECK_EQ_STR(aback.name, "realm-a");
    CHECK(veil_jwt_check_user(&back, &aback, 1000, &err) == 0);
    CHECK(veil_jwt_check_user(&back, &aback, 4000000000, &err) != 0);
    CHECK_CONTAINS(err.msg, "expired");
    CHECK(veil_jwt_add_revocation(&aback, back.sub, back.iat, &err) == 0);
    CHECK(veil_jwt_check_user(&back, &aback, 1000, &err) != 0);
    CHECK_CONTAINS(err.msg, "revoked");
    veil_jwt_free(&aback);

    /* a tampered payload or signature fails */
    char *p = strchr(utok, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    veil_jwt bad;
    CHECK(veil_jwt_decode(utok, strlen(utok), &bad, &err) != 0);
    CHECK(veil_jwt_decode(otok, strlen(otok) - 3, &bad, &err) != 0);
    CHECK(veil_jwt_decode("a.b", 3, &bad, &err) != 0);

    veil_jwt_free(&back);
    veil_jwt_free(&oc);
    veil_jwt_free(&ac);
    veil_jwt_free(&uc);
    free(otok);
    free(atok);
    free(utok);
    veil_nkey_wipe(&op);
    veil_nkey_wipe(&acct);
    veil_nkey_wipe(&skey);
    veil_nkey_wipe(&user);
}

static void test_creds(void)
{
    veil_err err = {0};
    veil_nkey acct, user, other, got;
    CHECK(veil_nkey_generate(&acct, VEIL_NKEY_ACCOUNT, &err) == 0);
    CHECK(veil_nkey_generate(&user, VEIL_NKEY_USER, &err) == 0);
    CHECK(veil_nkey_generate(&other, VEIL_NKEY_USER, &err) == 0);
    veil_jwt uc;
    veil_jwt_init(&uc, VEIL_JWT_USER);
    veil_nkey_public_text(&user, uc.sub);
    char *tok = NULL, *text = NULL, *jwt = NULL;
    CHECK(veil_jwt_encode(&uc, &acct, &tok, &err) == 0);
    CHECK(veil_creds_format(tok, &user, &text, &err) == 0);
    CHECK(veil_creds_parse(text, strlen(text), &jwt, &got, &err) == 0);
    CHECK_EQ_STR(jwt, tok);
    CHECK_EQ_MEM(got.pub, user.pub, 32);
    free(jwt);
    veil_nkey_wipe(&got);
    veil_creds_free_text(text);
    /* the seed of another user does not pass */
    CHECK(veil_creds_format(tok, &other, &text, &err) == 0);
    CHECK(veil_creds_parse(text, strlen(text), &jwt, &got, &err) != 0);
    CHECK_CONTAINS(err.msg, "does not match");
    veil_creds_free_text(text);
    CHECK(veil_creds_parse("-----X-----\n", 12, &jwt, &got, &err) != 0);
    CHECK(veil_creds_parse("", 0, &jwt, &got, &err) != 0);
    free(tok);
    veil_jwt_free(&uc);
    veil_nkey_wipe(&acct);
    veil_nkey_wipe(&user);
    veil_nkey_wipe(&other);
}

static void test_subjects(void)
{
    veil_err err = {0};
    char s[VEIL_SUBJECT_MAX];
    CHECK(veil_subject(s, VEIL_SUBJ_LIVE, "alpha", "n1", NULL, &err) == 0);
    CHECK_EQ_STR(s, "veil.alpha.live.n1");
    CHECK(veil_subject(s, VEIL_SUBJ_PATH, "alpha", "n2", "n1", &err) == 0);
    CHECK_EQ_STR(s, "veil.alpha.path.n2.n1");
    CHECK(veil_subject(s, VEIL_SUBJ_CMD, "al.pha", "n1", NULL, &err) != 0);
    CHECK(veil_subject(s, VEIL_SUBJ_CMD, "alpha", "n>", NULL, &err) != 0);
    CHECK(veil_subject_matches("veil.a.*.n1", "veil.a.live.n1"));
    CHECK(!veil_subject_matches("veil.a.*.n1", "veil.a.live.n2"));
    CHECK(veil_subject_matches("veil.a.inbox.n1.>", "veil.a.inbox.n1.x.y"));
    CHECK(!veil_subject_matches("veil.a.inbox.n1.>", "veil.a.inbox.n1"));
    CHECK(!veil_subject_matches("veil.a", "veil.a.b"));

    veil_jwt u;
    veil_jwt_init(&u, VEIL_JWT_USER);
    CHECK(veil_guardian_node_permissions(&u, "alpha", "n1", &err) == 0);
    /* own subjects allowed, another node's refused */
    const char *mine[] = {"veil.alpha.live.n1", "veil.alpha.path.n2.n1", "veil.alpha.reply.n1"};
    const char *theirs[] = {"veil.alpha.live.n2", "veil.alpha.path.n1.n2", "veil.alpha.cmd.n2",
                            "veil.beta.live.n1", "veil.enroll.req"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(mine); i++) {
        bool ok = false;
        for (size_t j = 0; j < u.pub_allow.n; j++)
            ok |= veil_subject_matches(u.pub_allow.items[j], mine[i]);
        CHECK(ok);
    }
    for (size_t i = 0; i < VEIL_ARRAY_LEN(theirs); i++)
        for (size_t j = 0; j < u.pub_allow.n; j++)
            CHECK(!veil_subject_matches(u.pub_allow.items[j], theirs[i]));
    for (size_t j = 0; j < u.sub_allow.n; j++)
        CHECK(!veil_subject_matches(u.sub_allow.items[j], "veil.alpha.cmd.n2"));
    veil_jwt_free(&u);
}

VTEST_MAIN(VTEST(test_nkey_vectors), VTEST(test_nkey_rejects), VTEST(test_nkey_files),
           VTEST(test_jwt_chain), VTEST(test_creds), VTEST(test_subjects))
