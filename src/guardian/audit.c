// SPDX-License-Identifier: Apache-2.0
/*
 * audit.c - Guardian's append-only audit log (SQLite table `audit`): every
 * administrative act, enrollment, issuance, revocation, command and answer.
 * Callers pass only public details (names, key fingerprints, ids).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "guardian_int.h"

int veil_guardian_audit(veil_guardian *g, const char *actor, const char *action, const char *detail,
                        veil_err *err)
{
    sqlite3_stmt *st;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (guardian_db_prepare(g, "INSERT INTO audit(at_ms, actor, action, detail) VALUES(?,?,?,?)",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    sqlite3_bind_text(st, 2, actor ? actor : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, action ? action : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "append audit");
    sqlite3_finalize(st);
    return rc;
}

static int read_entry(sqlite3_stmt *st, struct veil_guardian_audit_entry *e)
{
    e->id = sqlite3_column_int64(st, 0);
    e->at_ms = sqlite3_column_int64(st, 1);
    e->actor = strdup((const char *)sqlite3_column_text(st, 2));
    e->action = strdup((const char *)sqlite3_column_text(st, 3));
    e->detail = strdup((const char *)sqlite3_column_text(st, 4));
    return e->actor && e->action && e->detail ? 0 : -1;
}

int veil_guardian_audit_list(veil_guardian *g, int64_t after_id, size_t max,
                             struct veil_guardian_audit_entry **out, size_t *n, veil_err *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (guardian_db_prepare(g,
                            "SELECT id, at_ms, actor, action, detail FROM audit WHERE id > ?"
                            " ORDER BY id LIMIT ?",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, max == 0 ? -1 : (sqlite3_int64)max);
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct veil_guardian_audit_entry *grown = realloc(*out, (*n + 1) * sizeof(**out));
        if (grown != NULL) {
            *out = grown;
            memset(&grown[*n], 0, sizeof(grown[*n]));
        }
        if (grown == NULL || read_entry(st, &grown[(*n)++]) != 0)
            rc = veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = guardian_db_fail(g, err, "list audit");
    sqlite3_finalize(st);
    if (rc != 0) {
        veil_guardian_audit_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void veil_guardian_audit_list_free(struct veil_guardian_audit_entry *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        free(list[i].actor);
        free(list[i].action);
        free(list[i].detail);
    }
    free(list);
}
