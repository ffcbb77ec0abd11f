// SPDX-License-Identifier: Apache-2.0
/*
 * revoke.c - revocation: a node is marked revoked, every user key it was
 * ever issued goes into its realm account's revocations (nats-server closes
 * live connections of a revoked key when the account JWT update reaches it),
 * and the re-signed account JWT is returned for veil_guardian_push.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

static int add_node_keys(struct veil_guardian *g, const char *name, veil_jwt *acct, int64_t now,
                         veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g,
                            "SELECT DISTINCT subject FROM serials WHERE node = ? AND"
                            " kind = 'jwt'",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = veil_jwt_add_revocation(acct, (const char *)sqlite3_column_text(st, 0), now, err);
    if (rc == 0 && step != SQLITE_DONE)
        rc = guardian_db_fail(g, err, "list serials");
    sqlite3_finalize(st);
    return rc;
}

static int mark_revoked(struct veil_guardian *g, const char *name, veil_err *err)
{
    sqlite3_stmt *st;
    const char *sql[] = {"UPDATE nodes SET revoked = 1 WHERE name = ?",
                         "UPDATE serials SET revoked = 1 WHERE node = ?"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(sql); i++) {
        if (guardian_db_prepare(g, sql[i], &st, err) != 0)
            return -1;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE)
            return guardian_db_fail(g, err, "mark revoked");
    }
    return 0;
}

/* Drops revocations that can only match expired credentials, so the
 * account JWT stays bounded however many nodes are revoked over time. */
static void prune_revocations(veil_jwt *acct, int64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < acct->n_revocations; i++)
        if (acct->revocations[i].at >= now - GUARDIAN_MAX_TTL_S)
            acct->revocations[kept++] = acct->revocations[i];
    acct->n_revocations = kept;
}

static int revoke_tx(struct veil_guardian *g, const struct veil_guardian_node *n,
                     char **account_jwt, veil_err *err)
{
    veil_jwt acct;
    if (guardian_account_claims(g, n->realm, &acct, err) != 0)
        return -1;
    prune_revocations(&acct, guardian_now());
    int rc = add_node_keys(g, n->name, &acct, guardian_now(), err);
    if (rc == 0)
        rc = guardian_account_store(g, n->realm, &acct, account_jwt, err);
    if (rc == 0)
        rc = mark_revoked(g, n->name, err);
    veil_jwt_free(&acct);
    return rc;
}

int veil_guardian_revoke(veil_guardian *g, const char *name, char **account_jwt,
                         char account[VEIL_NKEY_PUBLIC_LEN + 1], veil_err *err)
{
    struct veil_guardian_node n;
    struct veil_guardian_realm r;
    *account_jwt = NULL;
    if (veil_guardian_node_get(g, name, &n, err) != 0)
        return -1;
    int rc = veil_guardian_realm_get(g, n.realm, &r, err);
    if (rc == 0)
        rc = guardian_db_exec(g, "BEGIN IMMEDIATE", err);
    if (rc == 0) {
        rc = revoke_tx(g, &n, account_jwt, err);
        if (guardian_db_exec(g, rc == 0 ? "COMMIT" : "ROLLBACK", rc == 0 ? err : NULL) != 0)
            rc = -1;
    }
    if (rc == 0) {
        memcpy(account, r.account, VEIL_NKEY_PUBLIC_LEN + 1);
        char detail[160];
        snprintf(detail, sizeof(detail), "node=%s realm=%s", name, n.realm);
        rc = veil_guardian_audit(g, "cli", "revoke", detail, err);
    }
    veil_guardian_node_free(&n);
    if (rc != 0) {
        free(*account_jwt);
        *account_jwt = NULL;
    }
    return rc;
}

bool veil_guardian_serial_revoked(veil_guardian *g, uint64_t serial)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g, "SELECT revoked FROM serials WHERE serial = ?", &st, NULL) != 0)
        return true;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)serial);
    bool revoked = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    return revoked;
}

/* Whether the node holds a certificate still valid at `now`. */
static bool has_live_cert(struct veil_guardian *g, const char *node, int64_t now)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g,
                            "SELECT 1 FROM serials WHERE node = ? AND kind = 'cert' AND"
                            " expires > ? LIMIT 1",
                            &st, NULL) != 0)
        return true; /* unknown: keep announcing */
    sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    bool live = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return live;
}

int veil_guardian_revoked_live(veil_guardian *g, const char *realm, int64_t now,
                               struct veil_guardian_node **out, size_t *n, veil_err *err)
{
    if (veil_guardian_node_list(g, realm, out, n, err) != 0)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if ((*out)[i].revoked && has_live_cert(g, (*out)[i].name, now))
            (*out)[kept++] = (*out)[i];
        else
            veil_guardian_node_free(&(*out)[i]);
    }
    *n = kept;
    return 0;
}
