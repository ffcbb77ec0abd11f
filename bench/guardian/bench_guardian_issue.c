// SPDX-License-Identifier: Apache-2.0
/*
 * bench_guardian_issue.c - Guardian's issuance speed, as JSON lines:
 *   guardian_issue_jwt      node credentials through veil_guardian_issue
 *                           (new node each, key pair, signed JWT, SQLite
 *                           records: node, serial, audit) per second
 *   guardian_reissue_jwt    renewals of enrolled nodes' keys per second
 *   guardian_jwt_sign/verify  the JWT codec alone
 *   guardian_issue_cert     data-plane certificates (P-256 leaf) per second
 * Usage: bench_guardian_issue [N] (default 500 credentials).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <veil/guardian.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emit(const char *name, int n, double secs)
{
    printf("{\"bench\":\"%s\",\"n\":%d,\"seconds\":%.3f,\"per_second\":%.0f}\n", name, n, secs,
           n / secs);
}

static int bench_issue(veil_guardian *g, int n, bool renew, veil_err *err)
{
    char name[32], pub[57];
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        struct veil_guardian_issued is;
        snprintf(name, sizeof(name), "node-%d", i);
        struct veil_guardian_issue_req req = {
            .realm = "bench", .name = name, .user_key = renew ? pub : NULL};
        if (renew) {
            veil_nkey k;
            if (veil_nkey_generate(&k, VEIL_NKEY_USER, err) != 0)
                return -1;
            veil_nkey_public_text(&k, pub);
            veil_nkey_wipe(&k);
        }
        if (veil_guardian_issue(g, &req, &is, err) != 0)
            return -1;
        veil_guardian_issued_free(&is);
    }
    emit(renew ? "guardian_reissue_jwt" : "guardian_issue_jwt", n, now_s() - t0);
    return 0;
}

static int bench_codec(int n, veil_err *err)
{
    veil_nkey acct, user;
    veil_jwt c, back;
    char *tok = NULL;
    if (veil_nkey_generate(&acct, VEIL_NKEY_ACCOUNT, err) != 0 ||
        veil_nkey_generate(&user, VEIL_NKEY_USER, err) != 0)
        return -1;
    veil_jwt_init(&c, VEIL_JWT_USER);
    veil_nkey_public_text(&user, c.sub);
    if (veil_guardian_node_permissions(&c, "bench", "node-1", err) != 0)
        return -1;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        free(tok);
        c.iat = 0;
        if (veil_jwt_encode(&c, &acct, &tok, err) != 0)
            return -1;
    }
    emit("guardian_jwt_sign", n, now_s() - t0);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (veil_jwt_decode(tok, strlen(tok), &back, err) != 0)
            return -1;
        veil_jwt_free(&back);
    }
    emit("guardian_jwt_verify", n, now_s() - t0);
    free(tok);
    veil_jwt_free(&c);
    veil_nkey_wipe(&acct);
    veil_nkey_wipe(&user);
    return 0;
}

static int bench_cert(veil_guardian *g, int n, veil_err *err)
{
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        struct veil_ca_leaf leaf;
        if (veil_guardian_issue_cert(g, "bench", "node-0", NULL, 900, &leaf, err) != 0)
            return -1;
        veil_ca_leaf_free(&leaf);
    }
    emit("guardian_issue_cert", n, now_s() - t0);
    return 0;
}

static int run(const char *dir, int n, veil_err *err)
{
    veil_guardian *g = NULL;
    if (veil_guardian_init(dir, NULL, err) != 0 || veil_guardian_open(&g, dir, err) != 0)
        return -1;
    int rc = veil_guardian_realm_create(g, "bench", NULL, err);
    if (rc == 0)
        rc = bench_issue(g, n, false, err);
    if (rc == 0)
        rc = bench_issue(g, n, true, err);
    if (rc == 0)
        rc = bench_codec(n * 4, err);
    if (rc == 0)
        rc = bench_cert(g, n / 2, err);
    veil_guardian_close(g);
    return rc;
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    int n = argc > 1 ? atoi(argv[1]) : 500;
    char tmpl[] = "/tmp/veil-bench-guardian-XXXXXX", dir[64], cmd[128];
    if (n < 1 || veil_crypto_init(&err) != 0 || mkdtemp(tmpl) == NULL)
        return 2;
    snprintf(dir, sizeof(dir), "%s/g", tmpl);
    int rc = run(dir, n, &err);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_guardian_issue: could not remove %s\n", tmpl);
    if (rc != 0) {
        fprintf(stderr, "bench_guardian_issue: %s\n", err.msg);
        return 1;
    }
    return 0;
}
