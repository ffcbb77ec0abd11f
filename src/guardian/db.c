// SPDX-License-Identifier: Apache-2.0
/*
 * db.c - Guardian's SQLite store (DIR/guardian.db): the schema and the small
 * helpers every state file uses. WAL mode and a busy timeout let the daemon
 * and the offline CLI (issue, revoke) share the file.
 *
 * synchronous=FULL, set explicitly: every commit is fsynced before Guardian
 * acts on it. NORMAL would survive a process crash but not a power loss or
 * kernel crash, which may roll back the last commits after Guardian has
 * answered: a redeemed token usable a second time, a serial number issued
 * twice, a revocation already pushed to Master forgotten (docs/GUARDIAN.md).
 */
#include <stdio.h>
#include <string.h>

#include "guardian_int.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS accounts(name TEXT PRIMARY KEY, pub TEXT NOT NULL UNIQUE,"
    " signing_pub TEXT NOT NULL, jwt TEXT NOT NULL, is_realm INTEGER NOT NULL,"
    " chain_cluster INTEGER UNIQUE, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens(id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL,"
    " realm TEXT NOT NULL, taints TEXT NOT NULL, expires INTEGER NOT NULL, used_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS nodes(name TEXT PRIMARY KEY, realm TEXT NOT NULL,"
    " identity TEXT NOT NULL, user_key TEXT NOT NULL, taints TEXT NOT NULL,"
    " enrolled INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS serials(serial INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL, node TEXT NOT NULL, account TEXT NOT NULL, subject TEXT NOT NULL,"
    " issued INTEGER NOT NULL, expires INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS serials_node ON serials(node);"
    "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS realm_pools(realm TEXT PRIMARY KEY, cidr TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS node_addrs(node TEXT PRIMARY KEY, realm TEXT NOT NULL,"
    " addr INTEGER NOT NULL, UNIQUE(realm, addr));"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');";

int guardian_db_fail(struct veil_guardian *g, veil_err *err, const char *what)
{
    return veil_err_set(err, VEIL_E_IO, "guardian db: %s: %s", what,
                        g->db ? sqlite3_errmsg(g->db) : "not open");
}

int guardian_db_exec(struct veil_guardian *g, const char *sql, veil_err *err)
{
    if (sqlite3_exec(g->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return guardian_db_fail(g, err, "exec");
    return 0;
}

int guardian_tx_begin(struct veil_guardian *g, bool *outer, veil_err *err)
{
    *outer = sqlite3_get_autocommit(g->db) != 0;
    return guardian_db_exec(g, *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT guardian_tx", err);
}

int guardian_tx_end(struct veil_guardian *g, bool outer, int rc, veil_err *err)
{
    if (rc == 0)
        return guardian_db_exec(g, outer ? "COMMIT" : "RELEASE guardian_tx", err);
    /* the caller's error stays; a failed rollback has nothing to add */
    if (guardian_db_exec(g, outer ? "ROLLBACK" : "ROLLBACK TO guardian_tx; RELEASE guardian_tx",
                         NULL) != 0)
        VEIL_LOG_ERR("guardian", "rollback failed", "db=%s", sqlite3_errmsg(g->db));
    return rc;
}

int guardian_db_prepare(struct veil_guardian *g, const char *sql, sqlite3_stmt **st, veil_err *err)
{
    if (sqlite3_prepare_v2(g->db, sql, -1, st, NULL) != SQLITE_OK)
        return guardian_db_fail(g, err, "prepare");
    return 0;
}

int guardian_db_text(sqlite3_stmt *st, int i, char *out, size_t cap, veil_err *err)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (n >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "guardian db: stored value too long");
    memcpy(out, t ? (const char *)t : "", n);
    out[n] = '\0';
    return 0;
}

int guardian_db_open(struct veil_guardian *g, bool create, veil_err *err)
{
    char path[1024];
    if (guardian_path(g, path, sizeof(path), "guardian.db") != 0)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: directory path too long");
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &g->db, flags, NULL) != SQLITE_OK) {
        int rc = veil_err_set(err, VEIL_E_IO, "guardian: cannot open %s: %s", path,
                              g->db ? sqlite3_errmsg(g->db) : "out of memory");
        sqlite3_close(g->db);
        g->db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(g->db, 10000);
    if (guardian_db_exec(g,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         " PRAGMA foreign_keys=ON;",
                         err) != 0 ||
        guardian_db_exec(g, SCHEMA, err) != 0)
        return veil_err_wrap(err, "opening %s", path);
    return 0;
}
