// SPDX-License-Identifier: Apache-2.0
/*
 * issue.c - credential issuance: node user JWTs (permissions from the
 * subject layout, realm signing key as issuer, taints as tags), custom users
 * (Guardian's service user, enrollees), data-plane certificates, and the
 * serial record of each (what revocation later walks).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

/* veil/anchor.h's VEIL_ANCHOR_TAINTS_MAX: the data plane reads no more. */
#define GUARDIAN_LEAF_TAINTS_MAX 16

static int record_serial(struct veil_guardian *g, const char *kind, const char *node,
                         const char *account, const char *subject, int64_t expires,
                         uint64_t *serial, veil_err *err)
{
    sqlite3_stmt *st;
    if (guardian_db_prepare(g,
                            "INSERT INTO serials(kind, node, account, subject, issued, expires)"
                            " VALUES(?,?,?,?,?,?)",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, guardian_now());
    sqlite3_bind_int64(st, 6, expires);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "record serial");
    sqlite3_finalize(st);
    if (rc == 0 && serial != NULL)
        *serial = (uint64_t)sqlite3_last_insert_rowid(g->db);
    return rc;
}

/* The user key: the caller's public key, or a fresh pair. */
static int user_key(const char *pub, veil_nkey *out, veil_err *err)
{
    if (pub == NULL)
        return veil_nkey_generate(out, VEIL_NKEY_USER, err);
    if (veil_nkey_from_public(out, pub, strlen(pub), err) != 0)
        return -1;
    if (out->type != VEIL_NKEY_USER)
        return veil_err_set(err, VEIL_E_INVALID, "guardian: %.1s... is not a user key (U...)", pub);
    return 0;
}

/* Signs `claims` (sub = out->user) with the account's signing key. */
static int sign_user(struct veil_guardian *g, const char *account, const char *name,
                     veil_jwt *claims, int64_t ttl_s, struct veil_guardian_issued *out,
                     veil_err *err)
{
    struct guardian_account a;
    veil_nkey signer;
    if (guardian_account_get(g, account, &a, err) != 0)
        return -1;
    veil_nkey_public_text(&out->user, claims->sub);
    memcpy(claims->issuer_account, a.pub, sizeof(claims->issuer_account));
    free(claims->name);
    claims->name = strdup(name);
    claims->iat = guardian_now();
    claims->exp = claims->iat + ttl_s;
    if (claims->name == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    if (guardian_account_signer(g, account, &signer, err) != 0)
        return -1;
    int rc = veil_jwt_encode(claims, &signer, &out->jwt, err);
    veil_nkey_wipe(&signer);
    out->expires = claims->exp;
    return rc;
}

static int check_ttl(int64_t *ttl_s, veil_err *err)
{
    if (*ttl_s == 0)
        *ttl_s = VEIL_GUARDIAN_DEFAULT_TTL_S;
    if (*ttl_s < 1 || *ttl_s > GUARDIAN_MAX_TTL_S)
        return veil_err_set(err, VEIL_E_RANGE,
                            "guardian: credential lifetime must be 1 s .. 366 d");
    return 0;
}

/* Finds or records the node; a node keeps its realm and a revoked node gets
 * nothing. Fills `node` (caller frees). */
static int ensure_node(struct veil_guardian *g, const struct veil_guardian_issue_req *req,
                       struct veil_guardian_node *node, veil_err *err)
{
    veil_err nf = {0};
    if (veil_guardian_node_get(g, req->name, node, &nf) == 0) {
        if (strcmp(node->realm, req->realm) != 0)
            return veil_err_set(err, VEIL_E_PERMISSION,
                                "guardian: node \"%s\" belongs to realm \"%s\"", req->name,
                                node->realm);
        if (node->revoked)
            return veil_err_set(err, VEIL_E_PERMISSION, "guardian: node \"%s\" is revoked",
                                req->name);
        if (req->taints == NULL)
            return 0;
        veil_strlist_free(&node->taints);
        for (size_t i = 0; i < req->taints->n; i++)
            if (veil_strlist_add(&node->taints, req->taints->items[i], err) != 0)
                return -1;
        return veil_guardian_node_set_taints(g, req->name, req->taints, err);
    }
    if (nf.code != VEIL_E_NOTFOUND)
        return veil_err_set(err, nf.code, "%s", nf.msg);
    memset(node, 0, sizeof(*node));
    snprintf(node->name, sizeof(node->name), "%s", req->name);
    snprintf(node->realm, sizeof(node->realm), "%s", req->realm);
    snprintf(node->identity, sizeof(node->identity), "%s", req->identity ? req->identity : "");
    for (size_t i = 0; req->taints != NULL && i < req->taints->n; i++)
        if (veil_strlist_add(&node->taints, req->taints->items[i], err) != 0)
            return -1;
    return veil_guardian_node_add(g, node, err);
}

static int check_payload(int64_t *max_payload, veil_err *err)
{
    if (*max_payload == 0)
        *max_payload = VEIL_GUARDIAN_DEFAULT_MAX_PAYLOAD;
    if (*max_payload != -1 && (*max_payload < 1 || *max_payload > VEIL_GUARDIAN_MAX_PAYLOAD_LIMIT))
        return veil_err_set(err, VEIL_E_RANGE,
                            "guardian: payload limit must be 1 B .. 64 MiB (or -1: none)");
    return 0;
}

static int node_claims(const struct veil_guardian_node *node, int64_t max_payload, veil_jwt *c,
                       veil_err *err)
{
    char tag[VEIL_GUARDIAN_NAME_MAX + 8];
    veil_jwt_init(c, VEIL_JWT_USER);
    if (veil_guardian_node_permissions(c, node->realm, node->name, err) != 0)
        return -1;
    c->limits.payload = max_payload;
    for (size_t i = 0; i < node->taints.n; i++) {
        snprintf(tag, sizeof(tag), "taint:%s", node->taints.items[i]);
        if (veil_strlist_add(&c->tags, tag, err) != 0)
            return -1;
    }
    return 0;
}

static int issue_node(struct veil_guardian *g, const struct veil_guardian_issue_req *req,
                      int64_t ttl, int64_t max_payload, struct veil_guardian_issued *out,
                      veil_err *err)
{
    struct veil_guardian_node node = {0};
    veil_jwt c;
    veil_jwt_init(&c, VEIL_JWT_USER);
    char pub[VEIL_NKEY_PUBLIC_LEN + 1];
    int rc = ensure_node(g, req, &node, err);
    if (rc == 0)
        rc = user_key(req->user_key, &out->user, err);
    if (rc == 0)
        rc = node_claims(&node, max_payload, &c, err);
    if (rc == 0)
        rc = sign_user(g, req->realm, req->name, &c, ttl, out, err);
    veil_nkey_public_text(&out->user, pub);
    if (rc == 0)
        rc = record_serial(g, "jwt", req->name, req->realm, pub, out->expires, &out->serial, err);
    if (rc == 0)
        rc = veil_guardian_node_set_user_key(g, req->name, pub, err);
    veil_jwt_free(&c);
    veil_guardian_node_free(&node);
    return rc;
}

int veil_guardian_issue(veil_guardian *g, const struct veil_guardian_issue_req *req,
                        struct veil_guardian_issued *out, veil_err *err)
{
    struct veil_guardian_realm r;
    memset(out, 0, sizeof(*out));
    int64_t ttl = req->ttl_s, max_payload = req->max_payload;
    if (check_ttl(&ttl, err) != 0 || check_payload(&max_payload, err) != 0 ||
        veil_guardian_realm_get(g, req->realm, &r, err) != 0)
        return -1;
    if (!veil_guardian_name_valid(req->name))
        return veil_err_set(err, VEIL_E_INVALID,
                            "guardian: node name must be 1-63 characters of [A-Za-z0-9_-]");
    /* one transaction (one fsync) for the node, serial and audit records,
     * or part of the caller's (an enrollment) */
    bool outer;
    if (guardian_tx_begin(g, &outer, err) != 0)
        return -1;
    int rc = issue_node(g, req, ttl, max_payload, out, err);
    char detail[256], pub[VEIL_NKEY_PUBLIC_LEN + 1];
    veil_nkey_public_text(&out->user, pub);
    snprintf(detail, sizeof(detail), "node=%s realm=%s serial=%llu user=%s exp=%lld", req->name,
             req->realm, (unsigned long long)out->serial, pub, (long long)out->expires);
    if (rc == 0)
        rc = veil_guardian_audit(g, "guardian", "issue.jwt", detail, err);
    if (guardian_tx_end(g, outer, rc, err) != 0)
        rc = -1;
    if (rc != 0)
        veil_guardian_issued_free(out);
    return rc;
}

void veil_guardian_issued_free(struct veil_guardian_issued *out)
{
    free(out->jwt);
    veil_nkey_wipe(&out->user);
    memset(out, 0, sizeof(*out));
}

static int copy_perms(veil_jwt *dst, const veil_jwt *src, veil_err *err)
{
    const veil_strlist *from[] = {&src->pub_allow, &src->pub_deny, &src->sub_allow, &src->sub_deny,
                                  &src->tags};
    veil_strlist *to[] = {&dst->pub_allow, &dst->pub_deny, &dst->sub_allow, &dst->sub_deny,
                          &dst->tags};
    for (size_t l = 0; l < VEIL_ARRAY_LEN(from); l++)
        for (size_t i = 0; i < from[l]->n; i++)
            if (veil_strlist_add(to[l], from[l]->items[i], err) != 0)
                return -1;
    dst->limits = src->limits;
    dst->resp_max = src->resp_max;
    dst->resp_ttl_ns = src->resp_ttl_ns;
    return 0;
}

int veil_guardian_issue_custom(veil_guardian *g, const char *account_name, const char *user_name,
                               const veil_jwt *perms, int64_t ttl_s,
                               struct veil_guardian_issued *out, veil_err *err)
{
    veil_jwt c;
    char pub[VEIL_NKEY_PUBLIC_LEN + 1];
    memset(out, 0, sizeof(*out));
    if (check_ttl(&ttl_s, err) != 0)
        return -1;
    if (!veil_guardian_name_valid(user_name))
        return veil_err_set(err, VEIL_E_INVALID, "guardian: bad user name");
    veil_jwt_init(&c, VEIL_JWT_USER);
    int rc = copy_perms(&c, perms, err);
    if (rc == 0)
        rc = veil_nkey_generate(&out->user, VEIL_NKEY_USER, err);
    if (rc == 0)
        rc = sign_user(g, account_name, user_name, &c, ttl_s, out, err);
    veil_nkey_public_text(&out->user, pub);
    if (rc == 0)
        rc =
            record_serial(g, "user", user_name, account_name, pub, out->expires, &out->serial, err);
    veil_jwt_free(&c);
    if (rc != 0)
        veil_guardian_issued_free(out);
    return rc;
}

int veil_guardian_system_creds(veil_guardian *g, int64_t ttl_s, char **creds, veil_err *err)
{
    veil_jwt perms;
    struct veil_guardian_issued is;
    *creds = NULL;
    veil_jwt_init(&perms, VEIL_JWT_USER);
    int rc = veil_guardian_service_permissions(&perms, err);
    if (rc == 0)
        rc = veil_guardian_issue_custom(g, GUARDIAN_SYS_NAME, "guardian-sys", &perms, ttl_s, &is,
                                        err);
    veil_jwt_free(&perms);
    if (rc != 0)
        return -1;
    rc = veil_creds_format(is.jwt, &is.user, creds, err);
    veil_guardian_issued_free(&is);
    return rc;
}

/* The data-plane names of a node's leaf besides its identity: one
 * veil-taint:<t> URI per taint (lower-cased: the data plane compares taints
 * case-insensitively), veil-pool:<cidr>, and its pool address as IP SAN. */
struct leaf_names {
    char taints[GUARDIAN_LEAF_TAINTS_MAX][64 + 12];
    char pool[VEIL_GUARDIAN_CIDR_MAX + 12];
    const char *uris[GUARDIAN_LEAF_TAINTS_MAX + 1];
    size_t n_uris;
    char ip[16];
};

static int leaf_names_fill(veil_guardian *g, const struct veil_guardian_node *n,
                           struct leaf_names *ln, veil_err *err)
{
    char cidr[VEIL_GUARDIAN_CIDR_MAX];
    memset(ln, 0, sizeof *ln);
    if (n->taints.n > GUARDIAN_LEAF_TAINTS_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "guardian: a leaf holds at most %d taints",
                            GUARDIAN_LEAF_TAINTS_MAX);
    for (size_t i = 0; i < n->taints.n; i++) {
        const char *t = n->taints.items[i];
        if (strlen(t) > 31)
            return veil_err_set(err, VEIL_E_LIMIT, "guardian: taint '%s' is over 31 characters", t);
        int w = snprintf(ln->taints[i], sizeof ln->taints[i], "veil-taint:");
        for (size_t j = 0; t[j]; j++)
            ln->taints[i][w + (int)j] = (char)tolower((unsigned char)t[j]);
        ln->uris[ln->n_uris++] = ln->taints[i];
    }
    if (veil_guardian_realm_pool(g, n->realm, cidr, err) != 0 ||
        veil_guardian_node_address(g, n->realm, n->name, ln->ip, err) != 0)
        return -1;
    snprintf(ln->pool, sizeof ln->pool, "%s%s", VEIL_GUARDIAN_POOL_URI, cidr);
    ln->uris[ln->n_uris++] = ln->pool;
    return 0;
}

int veil_guardian_issue_cert(veil_guardian *g, const char *realm, const char *node,
                             const char *public_key_pem, int64_t ttl_s, struct veil_ca_leaf *out,
                             veil_err *err)
{
    struct veil_guardian_node n;
    struct leaf_names ln;
    char serial_hex[32];
    memset(out, 0, sizeof(*out));
    if (check_ttl(&ttl_s, err) != 0 || veil_guardian_node_get(g, node, &n, err) != 0)
        return -1;
    bool ok = strcmp(n.realm, realm) == 0 && !n.revoked;
    int rc = ok ? leaf_names_fill(g, &n, &ln, err) : 0;
    veil_guardian_node_free(&n);
    if (!ok)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "guardian: node \"%s\" is revoked or not in realm \"%s\"", node, realm);
    if (rc != 0)
        return -1;
    const char *ips[1] = {ln.ip};
    struct veil_ca_leaf_req req = {.common_name = node,
                                   .realm = realm,
                                   .node_id = node,
                                   .uris = ln.uris,
                                   .n_uris = ln.n_uris,
                                   .ips = ips,
                                   .n_ips = 1,
                                   .server_auth = true,
                                   .client_auth = true,
                                   .ttl_s = ttl_s,
                                   .public_key_pem = public_key_pem};
    if (veil_ca_issue(g->ca, &req, out, err) != 0)
        return -1;
    snprintf(serial_hex, sizeof(serial_hex), "%016llx", (unsigned long long)out->serial);
    if (record_serial(g, "cert", node, realm, serial_hex, out->not_after, NULL, err) != 0) {
        veil_ca_leaf_free(out);
        return -1;
    }
    return 0;
}
