// SPDX-License-Identifier: Apache-2.0
/*
 * push.c - pushing an account JWT to Master's resolver: a request on
 * $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE over libnats, authenticated as
 * Guardian's system-account user through credential callbacks (the seed
 * stays in memory, never on disk). Every server with the `full` resolver
 * receives the update; the first answer decides success. The connection
 * presents a short-lived client certificate from Guardian's CA (key
 * generated and kept in memory, wiped after use), so pushes also work
 * against a Master started with client verification (--client-verify).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

#ifdef VEIL_HAVE_NATS
#include <nats/nats.h>
#include <veil/master_conn.h>

struct push_creds {
    char *jwt;
    veil_nkey key;
    struct veil_ca_leaf tls; /* client certificate chain and its P-256 key */
};

/* Lifetime of the push connection's client certificate: it is used at
 * once and only for the TLS handshake of one connection. */
#define PUSH_CERT_TTL_S 300

static int push_client_cert(veil_guardian *g, struct veil_ca_leaf *out, veil_err *err)
{
    veil_ca *ca = veil_guardian_ca(g);
    if (ca == NULL)
        return veil_err_set(err, VEIL_E_STATE, "push: Guardian's CA is not loaded");
    struct veil_ca_leaf_req req = {.common_name = "guardian",
                                   .realm = VEIL_GUARDIAN_ENROLL_ACCOUNT,
                                   .node_id = "guardian-push",
                                   .client_auth = true,
                                   .ttl_s = PUSH_CERT_TTL_S};
    if (veil_ca_issue(ca, &req, out, err) != 0)
        return veil_err_wrap(err, "push: client certificate");
    return 0;
}

static natsStatus jwt_cb(char **user_jwt, char **custom_err, void *closure)
{
    struct push_creds *c = closure;
    (void)custom_err;
    *user_jwt = strdup(c->jwt);
    return *user_jwt ? NATS_OK : NATS_NO_MEMORY;
}

static natsStatus sig_cb(char **custom_err, unsigned char **sig, int *sig_len, const char *nonce,
                         void *closure)
{
    struct push_creds *c = closure;
    (void)custom_err;
    *sig = malloc(VEIL_NKEY_SIG_LEN);
    if (*sig == NULL)
        return NATS_NO_MEMORY;
    if (veil_nkey_sign(&c->key, nonce, strlen(nonce), *sig, NULL) != 0) {
        free(*sig);
        *sig = NULL;
        return NATS_ERR;
    }
    *sig_len = VEIL_NKEY_SIG_LEN;
    return NATS_OK;
}

static int nats_fail(natsStatus s, veil_err *err, const char *what)
{
    return veil_err_set(err, VEIL_E_NETWORK, "push: %s: %s", what, natsStatus_GetText(s));
}

static int set_options(natsOptions *o, const char *urls, const char *ca_file, struct push_creds *c,
                       veil_err *err)
{
    char *copy = strdup(urls);
    const char *servers[64];
    int n = 0;
    if (copy == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "push: out of memory");
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t != NULL && n < 64;
         t = strtok_r(NULL, ",", &save))
        servers[n++] = t;
    natsStatus s = n > 0 ? natsOptions_SetServers(o, servers, n) : NATS_INVALID_ARG;
    if (s == NATS_OK)
        s = natsOptions_SetUserCredentialsCallbacks(o, jwt_cb, c, sig_cb, c);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 5000);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK && ca_file != NULL)
        s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK && ca_file != NULL)
        s = natsOptions_LoadCATrustedCertificates(o, ca_file);
    if (s == NATS_OK && ca_file != NULL)
        s = natsOptions_SetCertificatesChain(o, c->tls.chain_pem, c->tls.key_pem);
    free(copy);
    return s == NATS_OK ? 0 : nats_fail(s, err, "connection options");
}

static int check_reply(natsMsg *reply, veil_err *err)
{
    const char *data = natsMsg_GetData(reply);
    int len = natsMsg_GetDataLength(reply);
    if (data == NULL || len <= 0)
        return veil_err_set(err, VEIL_E_PROTOCOL, "push: empty answer from the resolver");
    if (memmem(data, (size_t)len, "\"error\"", 7) != NULL)
        return veil_err_set(err, VEIL_E_PROTOCOL, "push: resolver refused the update: %.*s",
                            len > 300 ? 300 : len, data);
    return 0;
}

static int request_update(struct push_creds *c, const char *urls, const char *ca_file,
                          const char *account, const char *account_jwt, veil_err *err)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsMsg *reply = NULL;
    char subject[160];
    snprintf(subject, sizeof(subject), "$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", account);
    natsStatus s = natsOptions_Create(&o);
    int rc = s == NATS_OK ? set_options(o, urls, ca_file, c, err) : nats_fail(s, err, "options");
    if (rc == 0 && (s = veil_master_connect(&nc, o, VEIL_MASTER_CONNECT_ATTEMPTS)) != NATS_OK)
        rc = nats_fail(s, err, "connecting to Master");
    if (rc == 0 &&
        (s = natsConnection_RequestString(&reply, nc, subject, account_jwt, 5000)) != NATS_OK)
        rc = nats_fail(s, err, "account update request");
    if (rc == 0)
        rc = check_reply(reply, err);
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return rc;
}

int veil_guardian_push(veil_guardian *g, const char *urls, const char *ca_file, const char *account,
                       const char *account_jwt, veil_err *err)
{
    struct push_creds c = {0};
    char *creds = NULL;
    uint8_t raw[32];
    if (urls == NULL || urls[0] == '\0')
        return veil_err_set(err, VEIL_E_INVALID, "push: no Master server URLs");
    if (veil_nkey_parse_public(account, VEIL_NKEY_ACCOUNT, raw, err) != 0)
        return -1;
    if (veil_guardian_system_creds(g, 300, &creds, err) != 0)
        return veil_err_wrap(err, "push");
    int rc = veil_creds_parse(creds, strlen(creds), &c.jwt, &c.key, err);
    veil_creds_free_text(creds);
    if (rc == 0 && ca_file != NULL)
        rc = push_client_cert(g, &c.tls, err);
    if (rc == 0)
        rc = request_update(&c, urls, ca_file, account, account_jwt, err);
    free(c.jwt);
    veil_nkey_wipe(&c.key);
    veil_ca_leaf_free(&c.tls);
    if (rc == 0) {
        char detail[200];
        snprintf(detail, sizeof(detail), "account=%s", account);
        rc = veil_guardian_audit(g, "guardian", "account.push", detail, err);
    }
    return rc;
}

#else

int veil_guardian_push(veil_guardian *g, const char *urls, const char *ca_file, const char *account,
                       const char *account_jwt, veil_err *err)
{
    (void)g, (void)urls, (void)ca_file, (void)account, (void)account_jwt;
    return veil_err_set(err, VEIL_E_UNSUPPORTED, "push: built without libnats");
}

#endif
