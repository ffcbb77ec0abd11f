// SPDX-License-Identifier: Apache-2.0
/*
 * enroll.c - the agent's side of enrollment and renewal: the
 * HELLO/CHALLENGE/PROVE/RESULT exchange with Guardian over NATS, and the
 * first connection through the enrollment account (a credential that can
 * publish the enrollment request and read its own answers, nothing else).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <veil/guardian.h>
#include <veil/master_conn.h>

#include "agent.h"

int cfx_nats_err(veil_err *err, natsStatus s, const char *what)
{
    const char *last = nats_GetLastError(NULL);
    return veil_err_set(err, s == NATS_TIMEOUT ? VEIL_E_TIMEOUT : VEIL_E_NETWORK, "%s: %s%s%s",
                        what, natsStatus_GetText(s), last && *last ? ": " : "", last ? last : "");
}

/* One request/answer on an explicit reply subject. */
static int ask(natsConnection *nc, natsSubscription *sub, const char *subject, const char *reply,
               const veil_buf *req, int64_t timeout_ms, natsMsg **answer, veil_err *err)
{
    natsStatus s = natsConnection_PublishRequest(nc, subject, reply, req->data, (int)req->len);
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    if (s != NATS_OK)
        return cfx_nats_err(err, s, subject);
    s = natsSubscription_NextMsg(answer, sub, timeout_ms);
    if (s != NATS_OK)
        return cfx_nats_err(err, s, "waiting for Guardian");
    return 0;
}

static int parse_admission_proof(veil_conflux *a, const struct cfx_admission *adm,
                                 const veil_ctl_challenge *ch, veil_ctl_prove *p, veil_err *err)
{
    memset(p, 0, sizeof *p);
    p->challenge = *ch;
    p->method = adm->method;
    pthread_mutex_lock(&a->mu);
    snprintf(p->name, sizeof p->name, "%s", a->name);
    pthread_mutex_unlock(&a->mu);
    if (adm->method == VEIL_CTL_BY_TOKEN) {
        if (strlen(adm->token) > VEIL_CTL_MAX_STR)
            return veil_err_set(err, VEIL_E_RANGE, "enrollment token too long");
        snprintf(p->token, sizeof p->token, "%s", adm->token);
    } else if (adm->method == VEIL_CTL_BY_CHAIN) {
        p->cluster_id = adm->cluster_id;
        memcpy(p->eth_address, adm->eth_address, 20);
    }
    return veil_ctl_prove_sign(p, a->id.sk, err);
}

static int exchange_steps(veil_conflux *a, natsConnection *nc, natsSubscription *sub,
                          const char *subject, const char *reply, const struct cfx_admission *adm,
                          veil_ctl_result *out, veil_err *err)
{
    veil_buf req;
    veil_buf_init(&req);
    natsMsg *m = NULL;
    veil_ctl_challenge ch;
    veil_ctl_prove p;
    int rc = -1;
    if (veil_ctl_hello_encode(a->id.pub, &req, err) != 0 ||
        ask(nc, sub, subject, reply, &req, a->timeout_ms, &m, err) != 0)
        goto out;
    if (veil_ctl_challenge_decode((const uint8_t *)natsMsg_GetData(m),
                                  (size_t)natsMsg_GetDataLength(m), &ch, err) != 0) {
        /* a refusal comes back as a RESULT instead of a challenge */
        veil_err e2 = {0};
        if (veil_ctl_result_decode((const uint8_t *)natsMsg_GetData(m),
                                   (size_t)natsMsg_GetDataLength(m), out, &e2) == 0 &&
            !out->ok)
            veil_err_set(err, VEIL_E_PERMISSION, "Guardian refused: %s", out->error);
        goto out;
    }
    if (!veil_memeq_ct(ch.node_pub, a->id.pub, 32)) {
        veil_err_set(err, VEIL_E_PROTOCOL, "challenge for another node key");
        goto out;
    }
    natsMsg_Destroy(m);
    m = NULL;
    veil_buf_reset(&req);
    if (parse_admission_proof(a, adm, &ch, &p, err) != 0 ||
        veil_ctl_prove_encode(&p, &req, err) != 0 ||
        ask(nc, sub, subject, reply, &req, a->timeout_ms, &m, err) != 0)
        goto out;
    if (veil_ctl_result_decode((const uint8_t *)natsMsg_GetData(m),
                               (size_t)natsMsg_GetDataLength(m), out, err) != 0)
        goto out;
    if (!out->ok) {
        veil_err_set(err, VEIL_E_PERMISSION, "Guardian refused: %s", out->error);
        veil_ctl_result_free(out);
        goto out;
    }
    rc = 0;
out:
    veil_memzero(&p, sizeof p);
    natsMsg_Destroy(m);
    veil_buf_free_secure(&req); /* the PROVE may carry a token */
    return rc;
}

int cfx_exchange(veil_conflux *a, natsConnection *nc, const char *subject, const char *reply,
                 const struct cfx_admission *adm, veil_ctl_result *out, veil_err *err)
{
    natsSubscription *sub = NULL;
    natsStatus s = natsConnection_SubscribeSync(&sub, nc, reply);
    if (s != NATS_OK)
        return cfx_nats_err(err, s, reply);
    memset(out, 0, sizeof *out);
    int rc = exchange_steps(a, nc, sub, subject, reply, adm, out, err);
    natsSubscription_Destroy(sub);
    return rc;
}

/* ---- the enrollment account's connection ---- */

struct enroll_creds {
    char *jwt;
    veil_nkey key;
};

static natsStatus enroll_jwt_cb(char **jwt, char **errtxt, void *closure)
{
    struct enroll_creds *c = closure;
    (void)errtxt;
    *jwt = strdup(c->jwt);
    return *jwt ? NATS_OK : NATS_NO_MEMORY;
}

static natsStatus enroll_sig_cb(char **errtxt, unsigned char **sig, int *sig_len, const char *nonce,
                                void *closure)
{
    struct enroll_creds *c = closure;
    (void)errtxt;
    *sig = malloc(VEIL_NKEY_SIG_LEN);
    if (!*sig)
        return NATS_NO_MEMORY;
    if (veil_nkey_sign(&c->key, nonce, strlen(nonce), *sig, NULL) != 0) {
        free(*sig);
        *sig = NULL;
        return NATS_ERR;
    }
    *sig_len = VEIL_NKEY_SIG_LEN;
    return NATS_OK;
}

/* The enrollment credential may subscribe to exactly one answer subject. */
static int reply_subject_of(const char *jwt, char *out, size_t cap, veil_err *err)
{
    veil_jwt claims;
    if (veil_jwt_decode(jwt, strlen(jwt), &claims, err) != 0)
        return veil_err_wrap(err, "enrollment credentials");
    int rc = 0;
    if (claims.sub_allow.n != 1 ||
        strncmp(claims.sub_allow.items[0], VEIL_SUBJ_ENROLL_REPLY_PREFIX ".",
                strlen(VEIL_SUBJ_ENROLL_REPLY_PREFIX) + 1) != 0 ||
        strlen(claims.sub_allow.items[0]) >= cap)
        rc = veil_err_set(err, VEIL_E_INVALID,
                          "enrollment credentials: not an enrollment user (want one "
                          "subscription under " VEIL_SUBJ_ENROLL_REPLY_PREFIX ")");
    else
        snprintf(out, cap, "%s", claims.sub_allow.items[0]);
    veil_jwt_free(&claims);
    return rc;
}

static void fill_admission(veil_conflux *a, struct cfx_admission *adm, veil_err *err, int *rc)
{
    memset(adm, 0, sizeof *adm);
    *rc = 0;
    if (a->token) {
        adm->method = VEIL_CTL_BY_TOKEN;
        adm->token = a->token;
    } else if (a->cluster_id && a->eth_address) {
        adm->method = VEIL_CTL_BY_CHAIN;
        adm->cluster_id = a->cluster_id;
        const char *hex = a->eth_address;
        if (veil_hex_decode(adm->eth_address, 20, hex, strlen(hex), true, err) != 20)
            *rc = veil_err_set(err, VEIL_E_INVALID, "--eth-address: want 20 bytes of hex");
    } else {
        adm->method = VEIL_CTL_RENEW;
    }
}

/* FILE.tls next to the enrollment .creds, when Guardian wrote one: the
 * client certificate for Masters that require one (cert chain, then key). */
static int enroll_tls(const char *creds_path, natsOptions *o, veil_err *err)
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s.tls", creds_path);
    if (access(path, F_OK) != 0)
        return 0;
    if (veil_key_file_read(path, 1 << 20, &data, &len, err) != 0)
        return veil_err_wrap(err, "enrollment certificate");
    char *text = (char *)data;
    char *key = strstr(text, "-----BEGIN PRIVATE KEY-----");
    if (!key)
        key = strstr(text, "-----BEGIN EC PRIVATE KEY-----");
    int rc = 0;
    if (!key) {
        rc = veil_err_set(err, VEIL_E_PARSE, "%s: no private key", path);
    } else {
        char *cert = strndup(text, (size_t)(key - text));
        natsStatus s = cert ? natsOptions_SetCertificatesChain(o, cert, key) : NATS_NO_MEMORY;
        free(cert);
        if (s != NATS_OK)
            rc = cfx_nats_err(err, s, path);
    }
    veil_memzero(data, len);
    free(data);
    return rc;
}

int cfx_enroll(veil_conflux *a, veil_ctl_result *out, veil_err *err)
{
    struct enroll_creds c = {0};
    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    struct cfx_admission adm;
    char reply[VEIL_SUBJECT_MAX];
    int rc = -1;
    fill_admission(a, &adm, err, &rc);
    if (rc != 0)
        return -1;
    rc = -1;
    if (!a->enroll_creds) {
        veil_err_set(err, VEIL_E_INVALID, "enrollment needs the enrollment account's .creds");
        return -1;
    }
    if (veil_creds_read(a->enroll_creds, &c.jwt, &c.key, err) != 0) {
        veil_err_wrap(err, "enrollment credentials %s", a->enroll_creds);
        return -1;
    }
    if (reply_subject_of(c.jwt, reply, sizeof reply, err) != 0 ||
        cfx_base_options(a, &opts, err) != 0 || enroll_tls(a->enroll_creds, opts, err) != 0)
        goto out;
    natsStatus s =
        natsOptions_SetUserCredentialsCallbacks(opts, enroll_jwt_cb, &c, enroll_sig_cb, &c);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, 3);
    if (s == NATS_OK)
        s = veil_master_connect(&nc, opts, VEIL_MASTER_CONNECT_ATTEMPTS);
    if (s != NATS_OK) {
        cfx_nats_err(err, s, "connecting to Master for enrollment");
        goto out;
    }
    VEIL_LOG_DBG("conflux", "enrollment connection up", "node=%s", a->name);
    rc = cfx_exchange(a, nc, VEIL_SUBJ_ENROLL_REQ, reply, &adm, out, err);
    VEIL_LOG_DBG("conflux", "enrollment answered", "node=%s", a->name);
out:
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    free(c.jwt);
    veil_nkey_wipe(&c.key);
    return rc;
}
