// SPDX-License-Identifier: Apache-2.0
/*
 * test_pq_mlkem.c - ML-KEM-768 (src/pq/): every ML-KEM-768 case committed in
 * tests/vectors/mlkem768_acvp.txt (NIST ACVP keyGen, encapsulation,
 * decapsulation with valid and modified ciphertexts, encapsulation-key and
 * decapsulation-key checks), implicit rejection computed independently as
 * SHAKE256(z || c) through OpenSSL, round trips with random keys, and the
 * strict parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <veil/pq.h>

#include "vtest.h"

#define EK VEIL_MLKEM768_EK_BYTES
#define DK VEIL_MLKEM768_DK_BYTES
#define CT VEIL_MLKEM768_CT_BYTES
#define SS VEIL_MLKEM768_SS_BYTES

struct counts {
    int keygen, encaps, decaps, rejected, ekcheck, dkcheck;
};

/* Decodes the next space-separated hex field into out (exactly n bytes). */
static int field_hex(char **save, uint8_t *out, size_t n)
{
    char *tok = strtok_r(NULL, " \n", save);
    if (!tok)
        return -1;
    veil_err err = {0};
    long got = veil_hex_decode(out, n, tok, strlen(tok), false, &err);
    return got == (long)n ? 0 : -1;
}

static int field_int(char **save)
{
    char *tok = strtok_r(NULL, " \n", save);
    return tok ? atoi(tok) : -1;
}

/* SHAKE256(z || c, 32), computed here without src/pq. */
static void rejection_key(uint8_t out[32], const uint8_t dk[DK], const uint8_t c[CT])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CHECK(md != NULL);
    CHECK(EVP_DigestInit_ex(md, EVP_shake256(), NULL) == 1);
    CHECK(EVP_DigestUpdate(md, dk + DK - 32, 32) == 1);
    CHECK(EVP_DigestUpdate(md, c, CT) == 1);
    CHECK(EVP_DigestFinalXOF(md, out, 32) == 1);
    EVP_MD_CTX_free(md);
}

static void case_keygen(char **save, struct counts *n)
{
    uint8_t seed[64], ek[EK], dk[DK], ek2[EK], dk2[DK];
    veil_err err = {0};
    CHECK(field_hex(save, seed, 32) == 0 && field_hex(save, seed + 32, 32) == 0);
    CHECK(field_hex(save, ek, EK) == 0 && field_hex(save, dk, DK) == 0);
    CHECK(veil_mlkem768_keygen_derand(ek2, dk2, seed, &err) == 0);
    CHECK_EQ_MEM(ek2, ek, EK);
    CHECK_EQ_MEM(dk2, dk, DK);
    n->keygen++;
}

static void case_encaps(char **save, struct counts *n)
{
    uint8_t ek[EK], m[32], c[CT], k[SS], c2[CT], k2[SS];
    veil_err err = {0};
    CHECK(field_hex(save, ek, EK) == 0 && field_hex(save, m, 32) == 0);
    CHECK(field_hex(save, c, CT) == 0 && field_hex(save, k, SS) == 0);
    CHECK(veil_mlkem768_encaps_derand(c2, k2, ek, m, &err) == 0);
    CHECK_EQ_MEM(c2, c, CT);
    CHECK_EQ_MEM(k2, k, SS);
    n->encaps++;
}

static void case_decaps(char **save, struct counts *n)
{
    static uint8_t dk[DK];
    uint8_t c[CT], k[SS], k2[SS], rej[SS];
    veil_err err = {0};
    CHECK(field_hex(save, dk, DK) == 0 && field_hex(save, c, CT) == 0);
    CHECK(field_hex(save, k, SS) == 0);
    CHECK(veil_mlkem768_decaps(k2, c, dk, &err) == 0);
    CHECK_EQ_MEM(k2, k, SS);
    rejection_key(rej, dk, c);
    n->rejected += memcmp(k, rej, SS) == 0;
    n->decaps++;
}

/* ACVP key checks: the type (length) check and the modulus or hash check,
 * as veil_mlkem768_parse applies them to a key from outside. */
static void case_check(char **save, bool is_ek, struct counts *n)
{
    static uint8_t key[2 * DK], out[DK];
    veil_err err = {0};
    char *tok = strtok_r(NULL, " \n", save);
    CHECK(tok != NULL);
    if (!tok)
        return;
    long len = veil_hex_decode(key, sizeof key, tok, strlen(tok), false, &err);
    CHECK(len > 0);
    int want_valid = field_int(save);
    enum veil_mlkem768_blob kind = is_ek ? VEIL_MLKEM768_BLOB_EK : VEIL_MLKEM768_BLOB_DK;
    int rc = veil_mlkem768_parse(kind, key, (size_t)len, out, sizeof out, &err);
    CHECK_EQ_INT(rc == 0, want_valid == 1);
    if ((size_t)len == (is_ek ? (size_t)EK : (size_t)DK)) {
        rc = is_ek ? veil_mlkem768_check_ek(key, &err) : veil_mlkem768_check_dk(key, &err);
        CHECK_EQ_INT(rc == 0, want_valid == 1);
    }
    if (is_ek)
        n->ekcheck++;
    else
        n->dkcheck++;
}

static void run_line(char *line, struct counts *n)
{
    char *save = NULL;
    char *kind = strtok_r(line, " \n", &save);
    if (!kind || kind[0] == '#')
        return;
    int tc = field_int(&save);
    int before = vtest_failures;
    if (strcmp(kind, "keygen") == 0)
        case_keygen(&save, n);
    else if (strcmp(kind, "encaps") == 0)
        case_encaps(&save, n);
    else if (strcmp(kind, "decaps") == 0)
        case_decaps(&save, n);
    else if (strcmp(kind, "ekcheck") == 0 || strcmp(kind, "dkcheck") == 0)
        case_check(&save, kind[0] == 'e', n);
    else
        CHECK(!"unknown vector kind");
    if (vtest_failures != before)
        fprintf(stderr, "  in ACVP %s tcId %d\n", kind, tc);
}

static void test_acvp_vectors(void)
{
    char path[1024];
    const char *src = getenv("VEIL_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/vectors/mlkem768_acvp.txt", src ? src : ".");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    struct counts n = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        run_line(line, &n);
    free(line);
    fclose(f);
    CHECK_EQ_INT(n.keygen, 10);
    CHECK_EQ_INT(n.encaps, 10);
    CHECK_EQ_INT(n.decaps, 10);
    CHECK_EQ_INT(n.ekcheck, 10);
    CHECK_EQ_INT(n.dkcheck, 10);
    /* the decapsulation group covers both paths: some modified ciphertexts
     * (implicit rejection) and some valid ones */
    CHECK(n.rejected > 0 && n.rejected < n.decaps);
    fprintf(stderr, "  acvp: %d decapsulations, %d by implicit rejection\n", n.decaps, n.rejected);
}

static void test_round_trip_and_rejection(void)
{
    static uint8_t ek[EK], dk[DK];
    uint8_t c[CT], ss1[SS], ss2[SS], rej[SS];
    veil_err err = {0};
    for (int i = 0; i < 20; i++) {
        CHECK(veil_mlkem768_keygen(ek, dk, &err) == 0);
        CHECK(veil_mlkem768_encaps(c, ss1, ek, &err) == 0);
        CHECK(veil_mlkem768_decaps(ss2, c, dk, &err) == 0);
        CHECK_EQ_MEM(ss1, ss2, SS);
        /* one flipped bit anywhere: the rejection key, never the real one */
        c[(size_t)i * 53 % CT] ^= (uint8_t)(1u << (i % 8));
        CHECK(veil_mlkem768_decaps(ss2, c, dk, &err) == 0);
        rejection_key(rej, dk, c);
        CHECK_EQ_MEM(ss2, rej, SS);
        CHECK(memcmp(ss2, ss1, SS) != 0);
    }
}

static void test_key_checks(void)
{
    static uint8_t ek[EK], dk[DK], bad[DK];
    veil_err err = {0};
    CHECK(veil_mlkem768_keygen(ek, dk, &err) == 0);
    /* a coefficient of exactly q (0xd01) in the first position fails */
    memcpy(bad, ek, EK);
    bad[0] = 0x01;
    bad[1] = (uint8_t)((bad[1] & 0xf0) | 0x0d);
    CHECK_EQ_INT(veil_mlkem768_check_ek(bad, &err), -1);
    CHECK_CONTAINS(err.msg, "modulus check");
    uint8_t c[CT], ss[SS];
    CHECK_EQ_INT(veil_mlkem768_encaps(c, ss, bad, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    /* q - 1 passes */
    bad[0] = 0x00;
    CHECK_EQ_INT(veil_mlkem768_check_ek(bad, &err), 0);
    /* rho is not checked: any byte value is fine there */
    memcpy(bad, ek, EK);
    bad[EK - 1] ^= 0xff;
    CHECK_EQ_INT(veil_mlkem768_check_ek(bad, &err), 0);
    /* the decapsulation key's embedded ek or hash changed: refused */
    memcpy(bad, dk, DK);
    bad[1152 + 5] ^= 1;
    CHECK_EQ_INT(veil_mlkem768_check_dk(bad, &err), -1);
    CHECK_CONTAINS(err.msg, "hash check");
    CHECK_EQ_INT(veil_mlkem768_decaps(ss, c, bad, &err), -1);
    memcpy(bad, dk, DK);
    bad[DK - 40] ^= 1;
    CHECK_EQ_INT(veil_mlkem768_check_dk(bad, &err), -1);
}

static void test_parse(void)
{
    static uint8_t ek[EK], dk[DK], out[DK];
    uint8_t c[CT];
    veil_err err = {0};
    CHECK(veil_mlkem768_keygen(ek, dk, &err) == 0);
    CHECK_EQ_INT(veil_mlkem768_parse(VEIL_MLKEM768_BLOB_EK, ek, EK, out, sizeof out, &err), 0);
    CHECK_EQ_MEM(out, ek, EK);
    CHECK_EQ_INT(veil_mlkem768_parse(VEIL_MLKEM768_BLOB_EK, ek, EK - 1, out, sizeof out, &err), -1);
    CHECK_CONTAINS(err.msg, "must be 1184 bytes");
    CHECK_EQ_INT(veil_mlkem768_parse(VEIL_MLKEM768_BLOB_DK, dk, DK, out, EK, &err), -1);
    CHECK_EQ_INT(veil_mlkem768_parse(VEIL_MLKEM768_BLOB_DK, dk, DK, out, sizeof out, &err), 0);
    memset(c, 0xab, sizeof c);
    CHECK_EQ_INT(veil_mlkem768_parse(VEIL_MLKEM768_BLOB_CT, c, CT, out, sizeof out, &err), 0);
    CHECK_EQ_INT(veil_mlkem768_parse((enum veil_mlkem768_blob)7, c, CT, out, sizeof out, &err), -1);
}

VTEST_MAIN(VTEST(test_acvp_vectors), VTEST(test_round_trip_and_rejection), VTEST(test_key_checks),
           VTEST(test_parse))
