// SPDX-License-Identifier: Apache-2.0
/*
 * pool.c - overlay address allocation: each realm's IPv4 pool and the
 * address each node holds in it (tables realm_pools and node_addrs of
 * guardian.db). An address, once allocated, is the node's for good: stable
 * across renewals and never reused after a revocation, so a peer's
 * address can never come to mean another identity.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

int veil_guardian_cidr_parse(const char *cidr, uint32_t *net, unsigned *prefix, veil_err *err)
{
    char ip[16];
    unsigned n = 0;
    char tail = 0;
    struct in_addr a;
    if (cidr == NULL || sscanf(cidr, "%15[0-9.]/%u%c", ip, &n, &tail) != 2 ||
        inet_pton(AF_INET, ip, &a) != 1 || n < 8 || n > 30)
        return veil_err_set(err, VEIL_E_INVALID, "pool: want a.b.c.d/N with N in 8..30, not '%s'",
                            cidr ? cidr : "");
    uint32_t mask = n == 0 ? 0 : ~0u << (32 - n);
    *net = ntohl(a.s_addr) & mask;
    *prefix = n;
    return 0;
}

static void cidr_text(uint32_t net, unsigned prefix, char out[VEIL_GUARDIAN_CIDR_MAX])
{
    snprintf(out, VEIL_GUARDIAN_CIDR_MAX, "%u.%u.%u.%u/%u", net >> 24, (net >> 16) & 255,
             (net >> 8) & 255, net & 255, prefix);
}

static int count_outside(struct veil_guardian *g, const char *realm, uint32_t net, unsigned prefix,
                         int64_t *n, veil_err *err)
{
    sqlite3_stmt *st = NULL;
    uint32_t mask = ~0u << (32 - prefix);
    if (guardian_db_prepare(g,
                            "SELECT COUNT(*) FROM node_addrs WHERE realm = ? AND (addr & ?) != ?",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, mask);
    sqlite3_bind_int64(st, 3, net);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : guardian_db_fail(g, err, "count addresses");
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int veil_guardian_realm_set_pool(veil_guardian *g, const char *realm, const char *cidr,
                                 veil_err *err)
{
    struct veil_guardian_realm r;
    uint32_t net;
    unsigned prefix;
    int64_t outside = 0;
    char text[VEIL_GUARDIAN_CIDR_MAX];
    if (veil_guardian_realm_get(g, realm, &r, err) != 0 ||
        veil_guardian_cidr_parse(cidr, &net, &prefix, err) != 0 ||
        count_outside(g, realm, net, prefix, &outside, err) != 0)
        return -1;
    if (outside > 0)
        return veil_err_set(err, VEIL_E_STATE, "pool: realm %s has %lld address(es) outside %s",
                            realm, (long long)outside, cidr);
    cidr_text(net, prefix, text);
    sqlite3_stmt *st = NULL;
    if (guardian_db_prepare(g, "INSERT OR REPLACE INTO realm_pools(realm, cidr) VALUES(?, ?)", &st,
                            err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "set pool");
    sqlite3_finalize(st);
    char detail[128];
    snprintf(detail, sizeof detail, "realm=%s pool=%s", realm, text);
    return rc == 0 ? veil_guardian_audit(g, "cli", "realm.pool", detail, err) : -1;
}

int veil_guardian_realm_pool(veil_guardian *g, const char *realm, char out[VEIL_GUARDIAN_CIDR_MAX],
                             veil_err *err)
{
    sqlite3_stmt *st = NULL;
    if (guardian_db_prepare(g, "SELECT cidr FROM realm_pools WHERE realm = ?", &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        rc = guardian_db_text(st, 0, out, VEIL_GUARDIAN_CIDR_MAX, err);
    else
        snprintf(out, VEIL_GUARDIAN_CIDR_MAX, "%s", VEIL_GUARDIAN_DEFAULT_POOL);
    sqlite3_finalize(st);
    return rc;
}

/* The node's recorded address: 1 found, 0 none, -1 error. */
static int stored_address(struct veil_guardian *g, const char *node, uint32_t *addr, veil_err *err)
{
    sqlite3_stmt *st = NULL;
    if (guardian_db_prepare(g, "SELECT addr FROM node_addrs WHERE node = ?", &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *addr = (uint32_t)sqlite3_column_int64(st, 0);
        rc = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The lowest host address of net/prefix no node of the realm holds. */
static int lowest_free(struct veil_guardian *g, const char *realm, uint32_t net, unsigned prefix,
                       uint32_t *out, veil_err *err)
{
    sqlite3_stmt *st = NULL;
    uint32_t last = net | ~(~0u << (32 - prefix)), cand = net + 1;
    if (guardian_db_prepare(g,
                            "SELECT addr FROM node_addrs WHERE realm = ? AND addr >= ? "
                            "ORDER BY addr",
                            &st, err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cand);
    while (sqlite3_step(st) == SQLITE_ROW && (uint32_t)sqlite3_column_int64(st, 0) == cand)
        cand++;
    sqlite3_finalize(st);
    if (cand >= last) /* the broadcast address is not a host's */
        return veil_err_set(err, VEIL_E_LIMIT, "pool: realm %s has no free address", realm);
    *out = cand;
    return 0;
}

static int allocate(struct veil_guardian *g, const char *realm, const char *node, uint32_t *addr,
                    veil_err *err)
{
    char cidr[VEIL_GUARDIAN_CIDR_MAX];
    uint32_t net;
    unsigned prefix;
    if (veil_guardian_realm_pool(g, realm, cidr, err) != 0 ||
        veil_guardian_cidr_parse(cidr, &net, &prefix, err) != 0 ||
        lowest_free(g, realm, net, prefix, addr, err) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    if (guardian_db_prepare(g, "INSERT INTO node_addrs(node, realm, addr) VALUES(?, ?, ?)", &st,
                            err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, realm, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, *addr);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : guardian_db_fail(g, err, "allocate address");
    sqlite3_finalize(st);
    return rc;
}

int veil_guardian_node_address(veil_guardian *g, const char *realm, const char *node, char out[16],
                               veil_err *err)
{
    bool outer;
    uint32_t addr = 0;
    if (!veil_guardian_name_valid(realm) || !veil_guardian_name_valid(node))
        return veil_err_set(err, VEIL_E_INVALID, "pool: bad realm or node name");
    if (guardian_tx_begin(g, &outer, err) != 0)
        return -1;
    int rc = stored_address(g, node, &addr, err);
    if (rc == 0)
        rc = allocate(g, realm, node, &addr, err);
    rc = guardian_tx_end(g, outer, rc < 0 ? -1 : 0, err);
    if (rc != 0)
        return -1;
    struct in_addr a = {.s_addr = htonl(addr)};
    if (inet_ntop(AF_INET, &a, out, 16) == NULL)
        return veil_err_set(err, VEIL_E_INTERNAL, "pool: cannot format an address");
    return 0;
}
