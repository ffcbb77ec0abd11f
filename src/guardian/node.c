// SPDX-License-Identifier: Apache-2.0
/*
 * node.c - enrolled nodes: name (fixed to one realm for life), identity key,
 * current NATS user key, taints, enrollment time and revocation flag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

#define NODE_COLS "name, realm, identity, user_key, taints, enrolled, revoked"

int veil_guardian_node_add(veil_guardian *g, const struct veil_guardian_node *n, veil_err *err)
{
    char taints[1024];
    struct veil_guardian_realm r;
    sqlite3_stmt *st;
    if (!veil_guardian_name_valid(n->name))
        return veil_err_set(err, VEIL_E_INVALID,
                            "guardian: node name must be 1-63 characters of [A-Za-z0-9_-]");
    if (veil_guardian_realm_get(g, n->realm, &r, err) != 0 ||
        guardian_taints_text(&n->taints, taints, sizeof(taints), err) != 0)
        return -1;
    if (guardian_db_prepare(g, "INSERT INTO nodes(" NODE_COLS ") VALUES(?,?,?,?,?,?,0)", &st,
                            err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, n->realm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, n->identity, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, n->user_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, taints, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, n->enrolled ? n->enrolled : guardian_now());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_CONSTRAINT)
        return veil_err_set(err, VEIL_E_EXISTS, "guardian: node \"%s\" already exists", n->name);
    return step == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "insert node");
}

static int read_node(sqlite3_stmt *st, struct veil_guardian_node *out, veil_err *err)
{
    char taints[1024];
    memset(out, 0, sizeof(*out));
    if (guardian_db_text(st, 0, out->name, sizeof(out->name), err) != 0 ||
        guardian_db_text(st, 1, out->realm, sizeof(out->realm), err) != 0 ||
        guardian_db_text(st, 2, out->identity, sizeof(out->identity), err) != 0 ||
        guardian_db_text(st, 3, out->user_key, sizeof(out->user_key), err) != 0 ||
        guardian_db_text(st, 4, taints, sizeof(taints), err) != 0)
        return -1;
    out->enrolled = sqlite3_column_int64(st, 5);
    out->revoked = sqlite3_column_int(st, 6) != 0;
    return veil_strlist_split(&out->taints, taints, err);
}

int veil_guardian_node_get(veil_guardian *g, const char *name, struct veil_guardian_node *out,
                           veil_err *err)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    if (guardian_db_prepare(g, "SELECT " NODE_COLS " FROM nodes WHERE name = ?", &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? read_node(st, out, err)
             : step == SQLITE_DONE
                 ? veil_err_set(err, VEIL_E_NOTFOUND, "guardian: unknown node \"%s\"",
                                veil_guardian_name_valid(name) ? name : "?")
                 : guardian_db_fail(g, err, "read node");
    sqlite3_finalize(st);
    return rc;
}

static int update_text(struct veil_guardian *g, const char *sql, const char *value,
                       const char *name, veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g, sql, &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return guardian_db_fail(g, err, "update node");
    if (sqlite3_changes(g->db) != 1)
        return veil_err_set(err, VEIL_E_NOTFOUND, "guardian: unknown node \"%s\"",
                            veil_guardian_name_valid(name) ? name : "?");
    return 0;
}

int veil_guardian_node_set_taints(veil_guardian *g, const char *name, const veil_strlist *taints,
                                  veil_err *err)
{
    char text[1024];
    if (guardian_taints_text(taints, text, sizeof(text), err) != 0)
        return -1;
    return update_text(g, "UPDATE nodes SET taints = ? WHERE name = ?", text, name, err);
}

int veil_guardian_node_set_user_key(veil_guardian *g, const char *name, const char *user_key,
                                    veil_err *err)
{
    uint8_t raw[32];
    if (veil_nkey_parse_public(user_key, VEIL_NKEY_USER, raw, err) != 0)
        return -1;
    return update_text(g, "UPDATE nodes SET user_key = ? WHERE name = ?", user_key, name, err);
}

int veil_guardian_node_list(veil_guardian *g, const char *realm, struct veil_guardian_node **out,
                            size_t *n, veil_err *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (guardian_db_prepare(g,
                            "SELECT " NODE_COLS " FROM nodes WHERE ?1 IS NULL OR realm = ?1"
                            " ORDER BY name",
                            &st, err) != 0)
        return -1;
    if (realm != NULL)
        sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct veil_guardian_node *grown = realloc(*out, (*n + 1) * sizeof(**out));
        if (grown == NULL) {
            rc = veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
            break;
        }
        *out = grown;
        rc = read_node(st, &grown[*n], err);
        (*n)++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = guardian_db_fail(g, err, "list nodes");
    sqlite3_finalize(st);
    if (rc != 0) {
        veil_guardian_node_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void veil_guardian_node_free(struct veil_guardian_node *n)
{
    veil_strlist_free(&n->taints);
}

void veil_guardian_node_list_free(struct veil_guardian_node *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        veil_guardian_node_free(&list[i]);
    free(list);
}
