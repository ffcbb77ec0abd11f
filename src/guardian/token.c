// SPDX-License-Identifier: Apache-2.0
/*
 * token.c - one-time enrollment tokens: "vgt1.<id>.<secret>" (base32 of
 * 10 and 20 CSPRNG bytes). Only SHA-256(secret) is stored; redeeming checks
 * it in constant time and consumes the token atomically (a second redeem,
 * even a concurrent one, fails). Unknown, used, expired and wrong tokens
 * all fail the same way, so a guesser learns nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "guardian_int.h"

#define TOKEN_PREFIX "vgt1."
#define ID_BYTES     10
#define SECRET_BYTES 20
#define ID_CHARS     16
#define SECRET_CHARS 32

int guardian_taints_text(const veil_strlist *taints, char *out, size_t cap, veil_err *err)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; taints != NULL && i < taints->n; i++) {
        if (!veil_guardian_name_valid(taints->items[i]))
            return veil_err_set(err, VEIL_E_INVALID,
                                "guardian: taint names are 1-63 characters of [A-Za-z0-9_-]");
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", taints->items[i]);
        if (w < 0 || (size_t)w >= cap - n)
            return veil_err_set(err, VEIL_E_RANGE, "guardian: too many taints");
        n += (size_t)w;
    }
    return 0;
}

static int insert_token(struct veil_guardian *g, const char *id, const uint8_t hash[32],
                        const char *realm, const char *taints, int64_t expires, veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g,
                            "INSERT INTO tokens(id, secret_hash, realm, taints, expires)"
                            " VALUES(?,?,?,?,?)",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, realm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, taints, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, expires);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "insert token");
    sqlite3_finalize(st);
    return rc;
}

int veil_guardian_token_create(veil_guardian *g, const char *realm, const veil_strlist *taints,
                               int64_t ttl_s, char token[VEIL_GUARDIAN_TOKEN_MAX], veil_err *err)
{
    struct veil_guardian_realm r;
    char taint_text[1024], id[ID_CHARS + 1], secret[SECRET_CHARS + 1];
    uint8_t id_raw[ID_BYTES], secret_raw[SECRET_BYTES], hash[32];
    if (ttl_s <= 0 || ttl_s > 30LL * 86400)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: token lifetime must be 1 s .. 30 days");
    if (veil_guardian_realm_get(g, realm, &r, err) != 0 ||
        guardian_taints_text(taints, taint_text, sizeof(taint_text), err) != 0)
        return -1;
    veil_random_bytes(id_raw, sizeof(id_raw));
    veil_random_bytes(secret_raw, sizeof(secret_raw));
    (void)veil_base32_encode(id, sizeof(id), id_raw, sizeof(id_raw), true, false);
    (void)veil_base32_encode(secret, sizeof(secret), secret_raw, sizeof(secret_raw), true, false);
    crypto_hash_sha256(hash, (const uint8_t *)secret, SECRET_CHARS);
    int rc = insert_token(g, id, hash, realm, taint_text, guardian_now() + ttl_s, err);
    if (rc == 0)
        snprintf(token, VEIL_GUARDIAN_TOKEN_MAX, TOKEN_PREFIX "%s.%s", id, secret);
    veil_memzero(secret, sizeof(secret));
    veil_memzero(secret_raw, sizeof(secret_raw));
    char detail[1200];
    snprintf(detail, sizeof(detail), "token=%s realm=%s taints=%s ttl=%lld", id, realm, taint_text,
             (long long)ttl_s);
    return rc == 0 ? veil_guardian_audit(g, "cli", "token.create", detail, err) : -1;
}

/* Splits "vgt1.<id>.<secret>"; false if malformed. */
static bool split_token(const char *token, char id[ID_CHARS + 1], const char **secret)
{
    size_t pl = strlen(TOKEN_PREFIX);
    if (token == NULL || strlen(token) != pl + ID_CHARS + 1 + SECRET_CHARS ||
        strncmp(token, TOKEN_PREFIX, pl) != 0 || token[pl + ID_CHARS] != '.')
        return false;
    memcpy(id, token + pl, ID_CHARS);
    id[ID_CHARS] = '\0';
    *secret = token + pl + ID_CHARS + 1;
    return true;
}

static int load_token(struct veil_guardian *g, const char *id, const char *secret, int64_t now,
                      struct veil_guardian_token_info *out, veil_err *err)
{
    sqlite3_stmt *st;
    uint8_t hash[32];
    char taints[1024];
    crypto_hash_sha256(hash, (const uint8_t *)secret, SECRET_CHARS);
    if (guardian_db_prepare(g,
                            "SELECT secret_hash, realm, taints, expires, used_at FROM tokens"
                            " WHERE id = ?",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 &&
              veil_memeq_ct(sqlite3_column_blob(st, 0), hash, 32) &&
              sqlite3_column_type(st, 4) == SQLITE_NULL && sqlite3_column_int64(st, 3) > now &&
              guardian_db_text(st, 1, out->realm, sizeof(out->realm), err) == 0 &&
              guardian_db_text(st, 2, taints, sizeof(taints), err) == 0;
    out->expires = ok ? sqlite3_column_int64(st, 3) : 0;
    sqlite3_finalize(st);
    if (!ok)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "guardian: enrollment token is unknown, used or expired");
    snprintf(out->id, sizeof(out->id), "%s", id);
    return veil_strlist_split(&out->taints, taints, err);
}

static int consume(struct veil_guardian *g, const char *id, int64_t now, veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g, "UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return guardian_db_fail(g, err, "consume token");
    if (sqlite3_changes(g->db) != 1)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "guardian: enrollment token is unknown, used or expired");
    return 0;
}

int veil_guardian_token_redeem(veil_guardian *g, const char *token, int64_t now,
                               struct veil_guardian_token_info *out, veil_err *err)
{
    char id[ID_CHARS + 1];
    const char *secret = NULL;
    memset(out, 0, sizeof(*out));
    if (!split_token(token, id, &secret))
        return veil_err_set(err, VEIL_E_PERMISSION, "guardian: malformed enrollment token");
    if (load_token(g, id, secret, now, out, err) != 0 || consume(g, id, now, err) != 0) {
        veil_guardian_token_info_free(out);
        return -1;
    }
    char detail[128];
    snprintf(detail, sizeof(detail), "token=%s realm=%s", id, out->realm);
    return veil_guardian_audit(g, "guardian", "token.redeem", detail, err);
}

void veil_guardian_token_info_free(struct veil_guardian_token_info *t)
{
    veil_strlist_free(&t->taints);
}
