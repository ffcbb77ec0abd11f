// SPDX-License-Identifier: Apache-2.0
/*
 * realm.c - realms: one NATS account per realm (with a signing key), and
 * the binding of an on-chain Veil cluster to the realm its registered nodes
 * join (enrollment by chain registration).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

static void to_realm(const struct guardian_account *a, struct veil_guardian_realm *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->name, a->name, sizeof(out->name));
    memcpy(out->account, a->pub, sizeof(out->account));
    memcpy(out->signing_key, a->signing_pub, sizeof(out->signing_key));
    out->chain_cluster = a->chain_cluster;
    out->created = a->created;
}

static bool reserved(const char *name)
{
    return strcmp(name, GUARDIAN_SYS_NAME) == 0 || strcmp(name, VEIL_GUARDIAN_ENROLL_ACCOUNT) == 0;
}

int veil_guardian_realm_create(veil_guardian *g, const char *name, struct veil_guardian_realm *out,
                               veil_err *err)
{
    struct guardian_account a;
    if (!veil_guardian_name_valid(name))
        return veil_err_set(err, VEIL_E_INVALID,
                            "guardian: realm name must be 1-63 characters of [A-Za-z0-9_-]");
    if (reserved(name))
        return veil_err_set(err, VEIL_E_INVALID, "guardian: \"%s\" is a reserved name", name);
    if (guardian_account_create(g, name, true, &a, err) != 0)
        return -1;
    if (out != NULL)
        to_realm(&a, out);
    char detail[160];
    snprintf(detail, sizeof(detail), "realm=%s account=%s", name, a.pub);
    return veil_guardian_audit(g, "cli", "realm.create", detail, err);
}

int veil_guardian_realm_get(veil_guardian *g, const char *name, struct veil_guardian_realm *out,
                            veil_err *err)
{
    struct guardian_account a;
    if (!veil_guardian_name_valid(name) || reserved(name))
        return veil_err_set(err, VEIL_E_NOTFOUND, "guardian: unknown realm \"%s\"",
                            veil_guardian_name_valid(name) ? name : "?");
    if (guardian_account_get(g, name, &a, err) != 0 || !a.is_realm)
        return veil_err_set(err, VEIL_E_NOTFOUND, "guardian: unknown realm \"%s\"", name);
    to_realm(&a, out);
    return 0;
}

int veil_guardian_realm_list(veil_guardian *g, struct veil_guardian_realm **out, size_t *n,
                             veil_err *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (guardian_db_prepare(g, "SELECT name FROM accounts WHERE is_realm = 1 ORDER BY name", &st,
                            err) != 0)
        return -1;
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct veil_guardian_realm *grown = realloc(*out, (*n + 1) * sizeof(**out));
        if (grown == NULL) {
            rc = veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
            break;
        }
        *out = grown;
        rc = veil_guardian_realm_get(g, (const char *)sqlite3_column_text(st, 0), &grown[*n], err);
        *n += rc == 0;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = guardian_db_fail(g, err, "list realms");
    sqlite3_finalize(st);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int veil_guardian_realm_bind_cluster(veil_guardian *g, const char *name, uint64_t cluster_id,
                                     veil_err *err)
{
    struct veil_guardian_realm r;
    sqlite3_stmt *st;
    if (cluster_id == 0 || cluster_id > INT64_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: cluster id must be 1..2^63-1");
    if (veil_guardian_realm_get(g, name, &r, err) != 0)
        return -1;
    if (guardian_db_prepare(g, "UPDATE accounts SET chain_cluster = ? WHERE name = ?", &st, err) !=
        0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_CONSTRAINT)
        return veil_err_set(err, VEIL_E_EXISTS, "guardian: cluster %llu is bound to another realm",
                            (unsigned long long)cluster_id);
    if (step != SQLITE_DONE)
        return guardian_db_fail(g, err, "bind cluster");
    char detail[128];
    snprintf(detail, sizeof(detail), "realm=%s cluster=%llu", name, (unsigned long long)cluster_id);
    return veil_guardian_audit(g, "cli", "realm.bind", detail, err);
}

int veil_guardian_realm_for_cluster(veil_guardian *g, uint64_t cluster_id,
                                    struct veil_guardian_realm *out, veil_err *err)
{
    sqlite3_stmt *st;
    char name[VEIL_GUARDIAN_NAME_MAX + 1];
    if (guardian_db_prepare(g, "SELECT name FROM accounts WHERE chain_cluster = ? AND is_realm = 1",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW
                 ? guardian_db_text(st, 0, name, sizeof(name), err)
                 : veil_err_set(err, VEIL_E_NOTFOUND, "guardian: no realm bound to cluster %llu",
                                (unsigned long long)cluster_id);
    sqlite3_finalize(st);
    return rc == 0 ? veil_guardian_realm_get(g, name, out, err) : -1;
}
