// SPDX-License-Identifier: Apache-2.0
/*
 * account.c - NATS accounts kept by Guardian: the system account, the
 * enrollment account and one account per realm, each with its own signing
 * key (user JWTs are issued by the signing key, so the account key itself
 * never signs online). Account JWTs are signed by the operator, stored in
 * SQLite and under DIR/jwt/<pub>.jwt for resolvers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

static int key_path(struct veil_guardian *g, const char *name, bool signing, char *out, size_t cap,
                    veil_err *err)
{
    if (guardian_path(g, out, cap, "keys/acct-%s%s.nk", name, signing ? ".signing" : "") != 0)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: path too long");
    return 0;
}

static int write_jwt_file(struct veil_guardian *g, const char *pub, const char *jwt, veil_err *err)
{
    char path[1024];
    if (guardian_path(g, path, sizeof(path), "jwt/%s.jwt", pub) != 0)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: path too long");
    return veil_file_write_atomic(path, jwt, strlen(jwt), 0644, err);
}

static int insert_account(struct veil_guardian *g, const struct guardian_account *a,
                          const char *jwt, veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g,
                            "INSERT INTO accounts(name, pub, signing_pub, jwt, is_realm,"
                            " created) VALUES(?,?,?,?,?,?)",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->pub, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->signing_pub, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, jwt, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, a->is_realm);
    sqlite3_bind_int64(st, 6, a->created);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "insert account");
    sqlite3_finalize(st);
    return rc;
}

static int sign_new_account(struct veil_guardian *g, struct guardian_account *a, char **jwt,
                            veil_err *err)
{
    veil_jwt ac;
    veil_jwt_init(&ac, VEIL_JWT_ACCOUNT);
    memcpy(ac.sub, a->pub, sizeof(ac.sub));
    ac.name = strdup(a->name);
    int rc = ac.name ? veil_strlist_add(&ac.signing_keys, a->signing_pub, err)
                     : veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    if (rc == 0)
        rc = veil_jwt_encode(&ac, &g->op, jwt, err);
    veil_jwt_free(&ac);
    return rc;
}

int guardian_account_create(struct veil_guardian *g, const char *name, bool is_realm,
                            struct guardian_account *out, veil_err *err)
{
    struct guardian_account existing;
    char path[1024];
    veil_nkey acct, signing;
    if (guardian_account_get(g, name, &existing, NULL) == 0)
        return veil_err_set(err, VEIL_E_EXISTS, "guardian: account \"%s\" already exists", name);
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->is_realm = is_realm;
    out->created = guardian_now();
    if (key_path(g, name, false, path, sizeof(path), err) != 0 ||
        veil_nkey_generate(&acct, VEIL_NKEY_ACCOUNT, err) != 0)
        return -1;
    int rc = veil_nkey_save(&acct, path, err);
    veil_nkey_public_text(&acct, out->pub);
    veil_nkey_wipe(&acct);
    if (rc != 0 || key_path(g, name, true, path, sizeof(path), err) != 0 ||
        veil_nkey_generate(&signing, VEIL_NKEY_ACCOUNT, err) != 0)
        return -1;
    rc = veil_nkey_save(&signing, path, err);
    veil_nkey_public_text(&signing, out->signing_pub);
    veil_nkey_wipe(&signing);
    char *jwt = NULL;
    if (rc == 0)
        rc = sign_new_account(g, out, &jwt, err);
    if (rc == 0)
        rc = insert_account(g, out, jwt, err);
    if (rc == 0)
        rc = write_jwt_file(g, out->pub, jwt, err);
    free(jwt);
    return rc;
}

static int read_account_row(sqlite3_stmt *st, struct guardian_account *out, veil_err *err)
{
    memset(out, 0, sizeof(*out));
    if (guardian_db_text(st, 0, out->name, sizeof(out->name), err) != 0 ||
        guardian_db_text(st, 1, out->pub, sizeof(out->pub), err) != 0 ||
        guardian_db_text(st, 2, out->signing_pub, sizeof(out->signing_pub), err) != 0)
        return -1;
    out->is_realm = sqlite3_column_int(st, 3) != 0;
    out->chain_cluster = (uint64_t)sqlite3_column_int64(st, 4);
    out->created = sqlite3_column_int64(st, 5);
    return 0;
}

#define ACCOUNT_COLS "name, pub, signing_pub, is_realm, chain_cluster, created"

int guardian_account_get(struct veil_guardian *g, const char *name, struct guardian_account *out,
                         veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g, "SELECT " ACCOUNT_COLS " FROM accounts WHERE name = ?", &st, err) !=
        0)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? read_account_row(st, out, err)
             : step == SQLITE_DONE
                 ? veil_err_set(err, VEIL_E_NOTFOUND, "guardian: no realm or account \"%s\"", name)
                 : guardian_db_fail(g, err, "read account");
    sqlite3_finalize(st);
    return rc;
}

int guardian_account_signer(struct veil_guardian *g, const char *name, veil_nkey *out,
                            veil_err *err)
{
    char path[1024];
    if (key_path(g, name, true, path, sizeof(path), err) != 0)
        return -1;
    return veil_nkey_load(out, path, err);
}

int guardian_account_claims(struct veil_guardian *g, const char *name, veil_jwt *out, veil_err *err)
{
    char *jwt = NULL;
    if (veil_guardian_account_jwt(g, name, &jwt, err) != 0)
        return -1;
    int rc = veil_jwt_decode(jwt, strlen(jwt), out, err);
    free(jwt);
    return rc;
}

int guardian_account_store(struct veil_guardian *g, const char *name, veil_jwt *claims, char **jwt,
                           veil_err *err)
{
    sqlite3_stmt *st;
    claims->iat = 0;
    if (veil_jwt_encode(claims, &g->op, jwt, err) != 0)
        return -1;
    if (guardian_db_prepare(g, "UPDATE accounts SET jwt = ? WHERE name = ?", &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, *jwt, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "update account");
    sqlite3_finalize(st);
    if (rc == 0)
        rc = write_jwt_file(g, claims->sub, *jwt, err);
    return rc;
}

int veil_guardian_account_jwt(veil_guardian *g, const char *name, char **jwt, veil_err *err)
{
    sqlite3_stmt *st;
    *jwt = NULL;
    if (guardian_db_prepare(g, "SELECT jwt FROM accounts WHERE name = ?", &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW)
        rc = (*jwt = strdup((const char *)sqlite3_column_text(st, 0)))
                 ? 0
                 : veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    else
        rc = step == SQLITE_DONE
                 ? veil_err_set(err, VEIL_E_NOTFOUND, "guardian: no realm or account \"%s\"", name)
                 : guardian_db_fail(g, err, "read account JWT");
    sqlite3_finalize(st);
    return rc;
}

static int push_pair(char ***pubs, char ***jwts, size_t *n, const char *pub, const char *jwt)
{
    char **p = realloc(*pubs, (*n + 1) * sizeof(char *));
    if (p != NULL)
        *pubs = p;
    char **j = p ? realloc(*jwts, (*n + 1) * sizeof(char *)) : NULL;
    if (j != NULL)
        *jwts = j;
    if (p == NULL || j == NULL)
        return -1;
    p[*n] = strdup(pub);
    j[*n] = strdup(jwt);
    (*n)++;
    return p[*n - 1] && j[*n - 1] ? 0 : -1;
}

int veil_guardian_accounts(veil_guardian *g, char ***pubs, char ***jwts, size_t *n, veil_err *err)
{
    sqlite3_stmt *st;
    *pubs = NULL;
    *jwts = NULL;
    *n = 0;
    if (guardian_db_prepare(g, "SELECT pub, jwt FROM accounts ORDER BY created, name", &st, err) !=
        0)
        return -1;
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        if (push_pair(pubs, jwts, n, (const char *)sqlite3_column_text(st, 0),
                      (const char *)sqlite3_column_text(st, 1)) != 0)
            rc = veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    if (rc == 0 && step != SQLITE_DONE)
        rc = guardian_db_fail(g, err, "list accounts");
    sqlite3_finalize(st);
    if (rc != 0) {
        veil_guardian_accounts_free(*pubs, *jwts, *n);
        *pubs = *jwts = NULL;
        *n = 0;
    }
    return rc;
}

void veil_guardian_accounts_free(char **pubs, char **jwts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pubs ? pubs[i] : NULL);
        free(jwts ? jwts[i] : NULL);
    }
    free(pubs);
    free(jwts);
}
