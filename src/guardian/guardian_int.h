// SPDX-License-Identifier: Apache-2.0
/*
 * guardian_int.h - private: the Guardian handle and the helpers its files
 * (dir.c, db.c, account.c, token.c, node.c, issue.c, revoke.c, audit.c,
 * push.c, master.c) share.
 */
#ifndef VEIL_GUARDIAN_INT_H
#define VEIL_GUARDIAN_INT_H

#include <sqlite3.h>

#include <veil/guardian.h>

#define GUARDIAN_SYS_NAME "SYS"
/* The longest credential Guardian issues; a revocation older than this
 * covers only expired credentials and is pruned from the account JWT. */
#define GUARDIAN_MAX_TTL_S (366LL * 86400)

struct veil_guardian {
    char *dir;
    sqlite3 *db;
    veil_nkey op;  /* operator (signs account JWTs) */
    veil_nkey cmd; /* signs admin commands */
    char *operator_jwt;
    char sys_pub[VEIL_NKEY_PUBLIC_LEN + 1];
    char cmd_pub[VEIL_NKEY_PUBLIC_LEN + 1];
    veil_ca *ca;
};

/* One account row (system, enroll or a realm). */
struct guardian_account {
    char name[VEIL_GUARDIAN_NAME_MAX + 1];
    char pub[VEIL_NKEY_PUBLIC_LEN + 1];
    char signing_pub[VEIL_NKEY_PUBLIC_LEN + 1];
    bool is_realm;
    uint64_t chain_cluster;
    int64_t created;
};

/* db.c */
int guardian_db_open(struct veil_guardian *g, bool create, veil_err *err) VEIL_WARN_UNUSED;
int guardian_db_exec(struct veil_guardian *g, const char *sql, veil_err *err) VEIL_WARN_UNUSED;
/* A write transaction that nests: BEGIN IMMEDIATE when none is open (*outer
 * set), else a savepoint inside the caller's (committed with it). end()
 * commits (rc == 0) or rolls back, and returns rc, or -1 when the commit
 * fails. */
int guardian_tx_begin(struct veil_guardian *g, bool *outer, veil_err *err) VEIL_WARN_UNUSED;
int guardian_tx_end(struct veil_guardian *g, bool outer, int rc, veil_err *err) VEIL_WARN_UNUSED;
int guardian_db_prepare(struct veil_guardian *g, const char *sql, sqlite3_stmt **st,
                        veil_err *err) VEIL_WARN_UNUSED;
int guardian_db_fail(struct veil_guardian *g, veil_err *err, const char *what);
/* Copies column i as text into out (NUL-terminated, truncation refused). */
int guardian_db_text(sqlite3_stmt *st, int i, char *out, size_t cap,
                     veil_err *err) VEIL_WARN_UNUSED;

/* dir.c */
int guardian_path(const struct veil_guardian *g, char *out, size_t cap, const char *fmt, ...)
    VEIL_PRINTF(4, 5) VEIL_WARN_UNUSED;
int64_t guardian_now(void);

/* account.c */
int guardian_account_create(struct veil_guardian *g, const char *name, bool is_realm,
                            struct guardian_account *out, veil_err *err) VEIL_WARN_UNUSED;
int guardian_account_get(struct veil_guardian *g, const char *name, struct guardian_account *out,
                         veil_err *err) VEIL_WARN_UNUSED;
/* Loads the account's signing key (secret: wipe after use). */
int guardian_account_signer(struct veil_guardian *g, const char *name, veil_nkey *out,
                            veil_err *err) VEIL_WARN_UNUSED;
/* Loads the account's stored JWT claims (for revocations). */
int guardian_account_claims(struct veil_guardian *g, const char *name, veil_jwt *out,
                            veil_err *err) VEIL_WARN_UNUSED;
/* Signs and stores new account claims. */
int guardian_account_store(struct veil_guardian *g, const char *name, veil_jwt *claims, char **jwt,
                           veil_err *err) VEIL_WARN_UNUSED;

/* taints as "a,b" text */
int guardian_taints_text(const veil_strlist *taints, char *out, size_t cap,
                         veil_err *err) VEIL_WARN_UNUSED;

#endif
