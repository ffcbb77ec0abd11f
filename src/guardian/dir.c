// SPDX-License-Identifier: Apache-2.0
/*
 * dir.c - the Guardian directory: `init` (operator key, command key, system
 * and enrollment accounts, the operator JWT, the CA, the SQLite store) and
 * opening it again after a restart. Every key file is 0600, DIR and its
 * key directories 0700.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "guardian_int.h"

int guardian_path(const struct veil_guardian *g, char *out, size_t cap, const char *fmt, ...)
{
    int n = snprintf(out, cap, "%s/", g->dir);
    va_list ap;
    va_start(ap, fmt);
    int m = n < 0 || (size_t)n >= cap ? -1 : vsnprintf(out + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return m < 0 || (size_t)(n + m) >= cap ? -1 : 0;
}

int64_t guardian_now(void)
{
    return (int64_t)time(NULL);
}

const char *veil_guardian_dir(const veil_guardian *g)
{
    return g->dir;
}
const char *veil_guardian_operator_jwt(const veil_guardian *g)
{
    return g->operator_jwt;
}
const char *veil_guardian_system_account(const veil_guardian *g)
{
    return g->sys_pub;
}
const char *veil_guardian_command_public(const veil_guardian *g)
{
    return g->cmd_pub;
}
const veil_nkey *veil_guardian_command_key(const veil_guardian *g)
{
    return &g->cmd;
}
veil_ca *veil_guardian_ca(veil_guardian *g)
{
    return g->ca;
}

void veil_guardian_close(veil_guardian *g)
{
    if (g == NULL)
        return;
    if (g->db != NULL)
        sqlite3_close(g->db);
    veil_nkey_wipe(&g->op);
    veil_nkey_wipe(&g->cmd);
    veil_ca_free(g->ca);
    free(g->operator_jwt);
    free(g->dir);
    free(g);
}

static struct veil_guardian *handle_new(const char *dir, veil_err *err)
{
    struct veil_guardian *g = calloc(1, sizeof(*g));
    if (g != NULL && (g->dir = strdup(dir)) == NULL) {
        free(g);
        g = NULL;
    }
    if (g == NULL)
        (void)veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    return g;
}

static int make_dirs(const char *dir, veil_err *err)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof(path), "%s/guardian.db", dir);
    if (stat(path, &st) == 0)
        return veil_err_set(err, VEIL_E_EXISTS, "guardian: %s already holds a Guardian", dir);
    if (veil_mkdir_p(dir, 0700, err) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/keys", dir);
    if (veil_mkdir_p(path, 0700, err) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/jwt", dir);
    return veil_mkdir_p(path, 0755, err);
}

static int new_key(struct veil_guardian *g, veil_nkey *k, enum veil_nkey_type type,
                   const char *file, veil_err *err)
{
    char path[1024];
    if (guardian_path(g, path, sizeof(path), "keys/%s", file) != 0)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: path too long");
    if (veil_nkey_generate(k, type, err) != 0)
        return -1;
    return veil_nkey_save(k, path, err);
}

static int write_operator_jwt(struct veil_guardian *g, const char *name, veil_err *err)
{
    veil_jwt oc;
    char path[1024];
    veil_jwt_init(&oc, VEIL_JWT_OPERATOR);
    veil_nkey_public_text(&g->op, oc.sub);
    memcpy(oc.system_account, g->sys_pub, sizeof(oc.system_account));
    oc.name = strdup(name);
    int rc = oc.name ? veil_jwt_encode(&oc, &g->op, &g->operator_jwt, err)
                     : veil_err_set(err, VEIL_E_NOMEM, "guardian: out of memory");
    veil_jwt_free(&oc);
    if (rc == 0 && guardian_path(g, path, sizeof(path), "jwt/operator.jwt") != 0)
        rc = veil_err_set(err, VEIL_E_RANGE, "guardian: path too long");
    if (rc == 0)
        rc = veil_file_write_atomic(path, g->operator_jwt, strlen(g->operator_jwt), 0644, err);
    return rc;
}

static int init_contents(struct veil_guardian *g, const struct veil_guardian_init_opts *o,
                         veil_err *err)
{
    struct guardian_account sys, enroll;
    const char *name = o && o->operator_name ? o->operator_name : "veil";
    int64_t root_days = o && o->root_days > 0 ? o->root_days : 3650;
    int64_t inter_days = o && o->inter_days > 0 ? o->inter_days : 365;
    if (new_key(g, &g->op, VEIL_NKEY_OPERATOR, "operator.nk", err) != 0 ||
        new_key(g, &g->cmd, VEIL_NKEY_SERVER, "command.nk", err) != 0)
        return -1;
    veil_nkey_public_text(&g->cmd, g->cmd_pub);
    if (guardian_db_open(g, true, err) != 0 ||
        guardian_account_create(g, GUARDIAN_SYS_NAME, false, &sys, err) != 0 ||
        guardian_account_create(g, VEIL_GUARDIAN_ENROLL_ACCOUNT, false, &enroll, err) != 0)
        return -1;
    memcpy(g->sys_pub, sys.pub, sizeof(g->sys_pub));
    if (write_operator_jwt(g, name, err) != 0 ||
        veil_ca_create(g->dir, name, root_days, inter_days, err) != 0)
        return -1;
    return veil_guardian_audit(g, "cli", "init", "operator and CA created", err);
}

int veil_guardian_init(const char *dir, const struct veil_guardian_init_opts *opts, veil_err *err)
{
    if (make_dirs(dir, err) != 0)
        return veil_err_wrap(err, "guardian init");
    struct veil_guardian *g = handle_new(dir, err);
    if (g == NULL)
        return -1;
    int rc = init_contents(g, opts, err);
    veil_guardian_close(g);
    return rc == 0 ? 0 : veil_err_wrap(err, "guardian init");
}

static int load_key(struct veil_guardian *g, veil_nkey *k, const char *file, veil_err *err)
{
    char path[1024];
    if (guardian_path(g, path, sizeof(path), "keys/%s", file) != 0)
        return veil_err_set(err, VEIL_E_RANGE, "guardian: path too long");
    return veil_nkey_load(k, path, err);
}

static int open_contents(struct veil_guardian *g, veil_err *err)
{
    char path[1024];
    struct guardian_account sys;
    uint8_t *jwt = NULL;
    size_t len = 0;
    if (load_key(g, &g->op, "operator.nk", err) != 0 ||
        load_key(g, &g->cmd, "command.nk", err) != 0)
        return -1;
    veil_nkey_public_text(&g->cmd, g->cmd_pub);
    if (guardian_db_open(g, false, err) != 0 ||
        guardian_account_get(g, GUARDIAN_SYS_NAME, &sys, err) != 0)
        return -1;
    memcpy(g->sys_pub, sys.pub, sizeof(g->sys_pub));
    if (guardian_path(g, path, sizeof(path), "jwt/operator.jwt") != 0 ||
        veil_file_read(path, 64 * 1024, &jwt, &len, err) != 0)
        return -1;
    g->operator_jwt = (char *)jwt;
    return veil_ca_open(&g->ca, g->dir, err);
}

int veil_guardian_open(veil_guardian **out, const char *dir, veil_err *err)
{
    struct stat st;
    char path[1024];
    *out = NULL;
    snprintf(path, sizeof(path), "%s/guardian.db", dir);
    if (stat(path, &st) != 0)
        return veil_err_set(err, VEIL_E_NOTFOUND,
                            "guardian: %s is not a Guardian directory (run `veil guardian init`)",
                            dir);
    struct veil_guardian *g = handle_new(dir, err);
    if (g == NULL)
        return -1;
    if (open_contents(g, err) != 0) {
        veil_guardian_close(g);
        return veil_err_wrap(err, "opening Guardian %s", dir);
    }
    *out = g;
    return 0;
}
