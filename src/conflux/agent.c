// SPDX-License-Identifier: Apache-2.0
/*
 * agent.c - the Conflux agent's life cycle: configuration copy, identity,
 * enrollment, the connection to Master (user JWT and nonce signature through
 * libnats' credential callbacks, mTLS with the issued certificate held in
 * memory, endless reconnects across the server list), the command
 * subscription, and the agent thread that publishes liveness and health
 * beacons and renews the credentials before they expire (make-before-break:
 * a new connection with the new credentials replaces the old one).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"

uint64_t veil_conflux_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- credential callbacks (libnats threads) ---- */

static natsStatus jwt_cb(char **jwt, char **errtxt, void *closure)
{
    veil_conflux *a = closure;
    pthread_mutex_lock(&a->mu);
    /* an expired or refused JWT would only be refused again: no attempt
     * until the agent thread has new credentials */
    bool usable = a->jwt && !a->cred_rejected && veil_conflux_now_ms() < a->expires_ms;
    *jwt = usable ? strdup(a->jwt) : NULL;
    pthread_mutex_unlock(&a->mu);
    if (!usable)
        *errtxt = strdup("credential expired or refused; waiting for a renewal");
    return *jwt ? NATS_OK : NATS_ERR;
}

static natsStatus sig_cb(char **errtxt, unsigned char **sig, int *sig_len, const char *nonce,
                         void *closure)
{
    veil_conflux *a = closure;
    (void)errtxt;
    *sig = malloc(VEIL_NKEY_SIG_LEN);
    if (!*sig)
        return NATS_NO_MEMORY;
    if (veil_nkey_sign(&a->id, nonce, strlen(nonce), *sig, NULL) != 0) {
        free(*sig);
        *sig = NULL;
        return NATS_ERR;
    }
    *sig_len = VEIL_NKEY_SIG_LEN;
    return NATS_OK;
}

static void disconnected_cb(natsConnection *nc, void *closure)
{
    veil_conflux *a = closure;
    pthread_mutex_lock(&a->mu);
    bool current = nc == a->nc && !a->stop;
    pthread_mutex_unlock(&a->mu);
    if (current) /* not a connection replaced by a renewal */
        VEIL_LOG_WARNING("conflux", "disconnected from Master", "node=%s", a->name);
}

/* libnats calls this from its thread after a Close; the agent waits for it
 * before freeing what the callbacks use. */
static void closed_cb(natsConnection *nc, void *closure)
{
    (void)nc;
    veil_conflux *a = closure;
    pthread_mutex_lock(&a->mu);
    a->closed++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Closes a connection and waits (bounded) for its closed callback. */
static void close_conn(veil_conflux *a, natsConnection *nc, struct cfx_subs *subs)
{
    if (!nc)
        return;
    pthread_mutex_lock(&a->mu);
    uint64_t before = a->closed;
    pthread_mutex_unlock(&a->mu);
    if (subs) {
        natsSubscription_Destroy(subs->cmd);
        natsSubscription_Destroy(subs->topo);
        natsSubscription_Destroy(subs->revoked);
        natsSubscription_Destroy(subs->path);
        memset(subs, 0, sizeof *subs);
    }
    natsConnection_Close(nc);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&a->mu);
    while (a->closed == before)
        if (pthread_cond_timedwait(&a->cv, &a->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&a->mu);
    natsConnection_Destroy(nc);
}

static void reconnected_cb(natsConnection *nc, void *closure)
{
    veil_conflux *a = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    pthread_mutex_lock(&a->mu);
    a->reconnects++;
    pthread_mutex_unlock(&a->mu);
    VEIL_LOG_INF("conflux", "reconnected", "node=%s server=%s", a->name, url);
}

static void async_err_cb(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
    (void)sub;
    veil_conflux *a = closure;
    const char *last = nats_GetLastError(NULL);
    VEIL_LOG_WARNING("conflux", "Master reported an error", "node=%s status=\"%s\" detail=\"%s\"",
                     a->name, natsStatus_GetText(s), last ? last : "");
    if (s != NATS_CONNECTION_AUTH_FAILED)
        return;
    /* an expired or revoked credential: reconnecting with it would only be
     * refused again, in a tight loop; the agent thread drops the connection
     * and enrolls again (with backoff) */
    pthread_mutex_lock(&a->mu);
    if (nc == a->nc) {
        a->cred_rejected = true;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
}

int cfx_base_options(veil_conflux *a, natsOptions **out, veil_err *err)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, (const char **)a->servers, (int)a->n_servers);
    if (s == NATS_OK && a->ca_file)
        s = natsOptions_LoadCATrustedCertificates(o, a->ca_file);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, a->timeout_ms);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 100);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(o, 2);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, async_err_cb, a);
    /* answers come on explicit reply subjects; a 503 "no responders" from a
     * server that has not yet seen Guardian's interest across a gateway
     * must not end the exchange early: the timeout decides */
    if (s == NATS_OK)
        s = natsOptions_DisableNoResponders(o, true);
    /* control messages are few and small: write each at once instead of
     * waiting for libnats' flusher */
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        return cfx_nats_err(err, s, "NATS options");
    }
    *out = o;
    return 0;
}

/* Options for the node's own connection: base + mTLS + callbacks + inbox. */
static int node_options(veil_conflux *a, natsOptions **out, veil_err *err)
{
    natsOptions *o = NULL;
    char *key_pem = NULL;
    char inbox[VEIL_SUBJECT_MAX];
    if (cfx_base_options(a, &o, err) != 0)
        return -1;
    if (veil_subject(inbox, VEIL_SUBJ_INBOX, a->realm, a->name, NULL, err) != 0 ||
        veil_conflux_identity_private_pem(&a->id, &key_pem, err) != 0) {
        natsOptions_Destroy(o);
        return -1;
    }
    natsStatus s = natsOptions_SetCertificatesChain(o, a->cert_pem, key_pem);
    veil_conflux_pem_free(key_pem);
    if (s == NATS_OK)
        s = natsOptions_SetUserCredentialsCallbacks(o, jwt_cb, a, sig_cb, a);
    if (s == NATS_OK)
        s = natsOptions_SetCustomInboxPrefix(o, inbox);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, disconnected_cb, a);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, reconnected_cb, a);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, closed_cb, a);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        return cfx_nats_err(err, s, "NATS options (mTLS/credentials)");
    }
    *out = o;
    return 0;
}

static int connect_node(veil_conflux *a, natsConnection **nc, struct cfx_subs *subs, veil_err *err)
{
    natsOptions *o = NULL;
    char subj[VEIL_SUBJECT_MAX];
    if (node_options(a, &o, err) != 0)
        return -1;
    natsStatus s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        return cfx_nats_err(err, s, "connecting to Master");
    if (veil_subject(subj, VEIL_SUBJ_CMD, a->realm, a->name, NULL, err) != 0) {
        close_conn(a, *nc, NULL);
        *nc = NULL;
        return -1;
    }
    s = natsConnection_Subscribe(&subs->cmd, *nc, subj, cfx_on_command, a);
    int rc = s == NATS_OK ? cfx_subscribe_dataplane(a, *nc, subs, err)
                          : cfx_nats_err(err, s, "subscribing to commands");
    s = rc == 0 ? natsConnection_Flush(*nc) : NATS_OK;
    if (rc == 0 && s != NATS_OK)
        rc = cfx_nats_err(err, s, "subscribing to commands");
    if (rc != 0) {
        close_conn(a, *nc, subs);
        *nc = NULL;
    }
    return rc;
}

int cfx_adopt(veil_conflux *a, veil_ctl_result *res, veil_err *err)
{
    if (a->guardian_pinned && !veil_memeq_ct(a->guardian_pub, res->cmd_pub, 32))
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "Guardian's command key differs from the pinned one");
    if (!veil_guardian_name_valid(res->realm) || !veil_guardian_name_valid(res->node_id))
        return veil_err_set(err, VEIL_E_PROTOCOL, "Guardian answered an invalid realm/name");
    pthread_mutex_lock(&a->mu);
    free(a->jwt);
    free(a->cert_pem);
    free(a->ca_pem);
    a->jwt = res->jwt;
    a->cert_pem = res->cert_pem;
    a->ca_pem = res->ca_pem;
    res->jwt = res->cert_pem = res->ca_pem = NULL;
    snprintf(a->realm, sizeof a->realm, "%s", res->realm);
    snprintf(a->name, sizeof a->name, "%s", res->node_id);
    snprintf(a->taints, sizeof a->taints, "%s", res->taints ? res->taints : "");
    a->expires_ms = res->expires_ms;
    a->issued_ms = veil_conflux_now_ms();
    a->cred_rejected = false;
    memcpy(a->guardian_pub, res->cmd_pub, 32);
    a->guardian_pinned = true;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* ---- renewal and beacons (agent thread) ---- */

static int renew(veil_conflux *a, veil_err *err)
{
    char subj[VEIL_SUBJECT_MAX], reply[VEIL_SUBJECT_MAX];
    veil_ctl_result res;
    struct cfx_admission adm = {.method = VEIL_CTL_RENEW};
    if (veil_subject(subj, VEIL_SUBJ_RENEW, a->realm, a->name, NULL, err) != 0 ||
        veil_subject(reply, VEIL_SUBJ_INBOX, a->realm, a->name, NULL, err) != 0)
        return -1;
    strncat(reply, ".renew", sizeof reply - strlen(reply) - 1);
    bool online = a->nc && natsConnection_Status(a->nc) == NATS_CONN_STATUS_CONNECTED;
    if (!online || cfx_exchange(a, a->nc, subj, reply, &adm, &res, err) != 0) {
        /* not on Master (credential expired or rejected): enroll again, by key */
        if (online)
            VEIL_LOG_WARNING("conflux", "renewal on Master failed, re-enrolling",
                             "node=%s err=\"%s\"", a->name, err->msg);
        if (cfx_enroll(a, &res, err) != 0)
            return -1;
    }
    int rc = cfx_adopt(a, &res, err);
    veil_ctl_result_free(&res);
    if (rc != 0)
        return -1;
    /* make-before-break: the new JWT and certificate on a new connection */
    natsConnection *nc = NULL;
    struct cfx_subs subs = {0};
    if (connect_node(a, &nc, &subs, err) != 0)
        return -1;
    pthread_mutex_lock(&a->mu);
    natsConnection *old_nc = a->nc;
    struct cfx_subs old_subs = a->subs;
    a->nc = nc;
    a->subs = subs;
    a->renewals++;
    a->topo_now = true; /* members that joined meanwhile */
    pthread_mutex_unlock(&a->mu);
    close_conn(a, old_nc, &old_subs);
    VEIL_LOG_INF("conflux", "credentials renewed", "node=%s realm=%s", a->name, a->realm);
    if (a->hooks.on_renewed)
        a->hooks.on_renewed(a->hooks.arg);
    return 0;
}

static void publish_beacons(veil_conflux *a)
{
    char live[VEIL_SUBJECT_MAX], health[VEIL_SUBJECT_MAX], url[256] = "";
    if (veil_subject(live, VEIL_SUBJ_LIVE, a->realm, a->name, NULL, NULL) != 0 ||
        veil_subject(health, VEIL_SUBJ_HEALTH, a->realm, a->name, NULL, NULL) != 0)
        return;
    pthread_mutex_lock(&a->mu);
    uint64_t seq = ++a->beacon_seq, now = veil_conflux_now_ms();
    json_t *h = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "node", a->name, "seq", (json_int_t)seq,
                          "uptime_ms", (json_int_t)(now - a->started_ms), "reconnects",
                          (json_int_t)a->reconnects, "renewals", (json_int_t)a->renewals,
                          "cred_expires_ms", (json_int_t)a->expires_ms);
    natsConnection *nc = a->nc;
    if (nc)
        natsConnection_GetConnectedUrl(nc, url, sizeof url);
    char live_msg[64];
    int n = snprintf(live_msg, sizeof live_msg, "{\"seq\":%llu,\"t\":%llu}",
                     (unsigned long long)seq, (unsigned long long)now);
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    natsStatus s = NATS_OK;
    if (nc)
        s = natsConnection_Publish(nc, live, live_msg, n);
    if (nc && s == NATS_OK && text)
        s = natsConnection_PublishString(nc, health, text);
    pthread_mutex_unlock(&a->mu);
    /* a beacon lost while the connection is being replaced is expected;
     * the next one follows in one period */
    if (s != NATS_OK)
        VEIL_LOG_DBG("conflux", "beacon not published", "node=%s status=\"%s\"", a->name,
                     natsStatus_GetText(s));
    free(text);
    json_decref(h);
}

static bool renewal_due(veil_conflux *a)
{
    uint64_t now = veil_conflux_now_ms();
    if (a->renew_now)
        return true;
    /* at two thirds of the lifetime, so a renewal has time to fail and retry */
    uint64_t life = a->expires_ms > a->issued_ms ? a->expires_ms - a->issued_ms : 0;
    return now >= a->issued_ms + life * 2 / 3;
}

/* A credential the servers refused: close that connection (its reconnects
 * would be refused too) and renew from scratch. Called with a->mu held. */
static void drop_rejected(veil_conflux *a)
{
    natsConnection *nc = a->nc;
    struct cfx_subs subs = a->subs;
    a->nc = NULL;
    memset(&a->subs, 0, sizeof a->subs);
    a->cred_rejected = false;
    a->renew_now = true;
    pthread_mutex_unlock(&a->mu);
    VEIL_LOG_WARNING("conflux", "credential refused by Master, enrolling again", "node=%s",
                     a->name);
    close_conn(a, nc, &subs);
    pthread_mutex_lock(&a->mu);
}

/* Renews now if due, pacing failures (1 beacon period doubling to 60 s). */
static void renew_if_due(veil_conflux *a)
{
    pthread_mutex_lock(&a->mu);
    if (a->cred_rejected)
        drop_rejected(a);
    bool due = renewal_due(a) && veil_conflux_now_ms() >= a->retry_at_ms;
    if (due)
        a->renew_now = false;
    pthread_mutex_unlock(&a->mu);
    veil_err err = {0};
    if (!due)
        return;
    int rc = renew(a, &err);
    pthread_mutex_lock(&a->mu);
    if (rc == 0) {
        a->retry_delay_ms = 0;
        a->retry_at_ms = 0;
    } else {
        a->retry_delay_ms = a->retry_delay_ms ? a->retry_delay_ms * 2 : a->beacon_ms;
        if (a->retry_delay_ms > 60000)
            a->retry_delay_ms = 60000;
        a->retry_at_ms = veil_conflux_now_ms() + (uint64_t)a->retry_delay_ms;
        a->renew_now = a->renew_now || !a->nc;
    }
    pthread_mutex_unlock(&a->mu);
    if (rc != 0)
        VEIL_LOG_WARNING("conflux", "renewal failed, will retry", "node=%s err=\"%s\"", a->name,
                         err.msg);
}

static void *agent_thread(void *arg)
{
    veil_conflux *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        renew_if_due(a);
        publish_beacons(a);
        cfx_publish_topo(a);
        pthread_mutex_lock(&a->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += a->beacon_ms / 1000;
        until.tv_nsec += (a->beacon_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        if (!a->stop && !a->renew_now && !a->cred_rejected && !a->topo_now)
            pthread_cond_timedwait(&a->cv, &a->mu, &until);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- start / stop ---- */

static char *dup_opt(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static int copy_config(veil_conflux *a, const struct veil_conflux_config *cfg, veil_err *err)
{
    if ((!cfg->dir && !cfg->identity_seed) || cfg->n_servers == 0)
        return veil_err_set(err, VEIL_E_INVALID, "conflux: a directory and a server are needed");
    if (cfg->n_servers > CFX_MAX_SERVERS)
        return veil_err_set(err, VEIL_E_LIMIT, "conflux: at most %d servers", CFX_MAX_SERVERS);
    bool ok = true;
    a->dir = dup_opt(cfg->dir, &ok);
    a->ca_file = dup_opt(cfg->ca_file, &ok);
    a->enroll_creds = dup_opt(cfg->enroll_creds, &ok);
    a->token = dup_opt(cfg->token, &ok);
    a->eth_address = dup_opt(cfg->eth_address, &ok);
    for (size_t i = 0; i < cfg->n_servers; i++)
        a->servers[a->n_servers++] = dup_opt(cfg->servers[i], &ok);
    if (!ok)
        return veil_err_set(err, VEIL_E_NOMEM, "conflux: out of memory");
    a->cluster_id = cfg->cluster_id;
    a->on_shutdown = cfg->on_shutdown;
    a->on_shutdown_arg = cfg->on_shutdown_arg;
    a->hooks = cfg->hooks;
    a->beacon_ms = cfg->beacon_ms > 0 ? cfg->beacon_ms : 2000;
    a->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    if (cfg->guardian_key) {
        if (veil_nkey_parse_public(cfg->guardian_key, VEIL_NKEY_SERVER, a->guardian_pub, err) != 0)
            return veil_err_wrap(err, "--guardian-key");
        a->guardian_pinned = true;
    }
    return 0;
}

static int choose_name(veil_conflux *a, const char *name, veil_err *err)
{
    if (name) {
        if (!veil_guardian_name_valid(name))
            return veil_err_set(err, VEIL_E_INVALID, "node name '%s': want 1-63 of [A-Za-z0-9_-]",
                                name);
        snprintf(a->name, sizeof a->name, "%s", name);
        return 0;
    }
    char hex[17];
    (void)veil_hex_encode(hex, sizeof hex, a->id.pub, 8);
    snprintf(a->name, sizeof a->name, "n-%s", hex);
    return 0;
}

static void agent_free(veil_conflux *a)
{
    if (!a)
        return;
    free(a->dir);
    free(a->ca_file);
    free(a->enroll_creds);
    if (a->token)
        veil_memzero(a->token, strlen(a->token));
    free(a->token);
    free(a->eth_address);
    for (size_t i = 0; i < a->n_servers; i++)
        free(a->servers[i]);
    free(a->jwt);
    free(a->cert_pem);
    free(a->ca_pem);
    cfx_dataplane_free(a);
    veil_nkey_wipe(&a->id);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

#define ENROLL_ATTEMPTS 3

static int enroll_and_connect(veil_conflux *a, const struct veil_conflux_config *cfg, veil_err *err)
{
    veil_ctl_result res;
    int rc_id = cfg->identity_seed
                    ? veil_conflux_identity_from_seed(&a->id, cfg->identity_seed, err)
                    : veil_conflux_identity_load(&a->id, a->dir, err);
    if (rc_id != 0 || choose_name(a, cfg->name, err) != 0)
        return -1;
    /* Short-lived credentials can expire before the first connection reaches
     * a server on a loaded machine (seen with 6-second credentials): the
     * servers refuse them, and the node, already known to Guardian by its
     * key, enrolls again. Bounded. */
    for (int attempt = 1;; attempt++) {
        VEIL_LOG_DBG("conflux", "enrolling", "node=%s", a->name);
        if (cfx_enroll(a, &res, err) != 0)
            return -1;
        int rc = cfx_adopt(a, &res, err);
        veil_ctl_result_free(&res);
        VEIL_LOG_DBG("conflux", "credentials issued", "node=%s realm=%s", a->name, a->realm);
        if (rc != 0)
            return -1;
        veil_err e = {0};
        if (connect_node(a, &a->nc, &a->subs, &e) == 0)
            break;
        if (attempt == ENROLL_ATTEMPTS || !strstr(e.msg, "Authorization Violation")) {
            if (err)
                *err = e;
            return -1;
        }
        VEIL_LOG_WARNING("conflux", "fresh credentials refused by Master, enrolling again",
                         "node=%s attempt=%d err=\"%s\"", a->name, attempt, e.msg);
    }
    char url[256] = "";
    natsConnection_GetConnectedUrl(a->nc, url, sizeof url);
    VEIL_LOG_INF("conflux", "enrolled and connected", "node=%s realm=%s server=%s", a->name,
                 a->realm, url);
    return 0;
}

int veil_conflux_start(veil_conflux **out, const struct veil_conflux_config *cfg, veil_err *err)
{
    veil_conflux *a = calloc(1, sizeof *a);
    if (!a)
        return veil_err_set(err, VEIL_E_NOMEM, "conflux: out of memory");
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    veil_ctl_replay_init(&a->replay);
    a->started_ms = veil_conflux_now_ms();
    if (veil_crypto_init(err) != 0 || copy_config(a, cfg, err) != 0 ||
        enroll_and_connect(a, cfg, err) != 0)
        goto fail;
    if (pthread_create(&a->thread, NULL, agent_thread, a) != 0) {
        veil_err_set(err, VEIL_E_INTERNAL, "conflux: cannot start the agent thread");
        goto fail;
    }
    a->thread_started = true;
    *out = a;
    return 0;
fail:
    close_conn(a, a->nc, &a->subs);
    agent_free(a);
    return -1;
}

bool veil_conflux_wait_shutdown(veil_conflux *a, int64_t timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&a->mu);
    while (!a->shutdown && !a->stop) {
        if (timeout_ms < 0)
            pthread_cond_wait(&a->cv, &a->mu);
        else if (pthread_cond_timedwait(&a->cv, &a->mu, &until) != 0)
            break;
    }
    bool down = a->shutdown;
    pthread_mutex_unlock(&a->mu);
    return down;
}

void veil_conflux_get_status(veil_conflux *a, struct veil_conflux_status *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->mu);
    snprintf(out->name, sizeof out->name, "%s", a->name);
    snprintf(out->realm, sizeof out->realm, "%s", a->realm);
    snprintf(out->taints, sizeof out->taints, "%s", a->taints);
    if (a->nc && natsConnection_Status(a->nc) == NATS_CONN_STATUS_CONNECTED) {
        out->connected = true;
        natsConnection_GetConnectedUrl(a->nc, out->server, sizeof out->server);
    }
    out->reconnects = a->reconnects;
    out->renewals = a->renewals;
    out->commands = a->commands;
    out->key_epoch = a->key_epoch;
    out->expires_ms = a->expires_ms;
    out->shutdown_requested = a->shutdown;
    pthread_mutex_unlock(&a->mu);
}

void veil_conflux_stop(veil_conflux *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->thread_started)
        pthread_join(a->thread, NULL);
    close_conn(a, a->nc, &a->subs);
    agent_free(a);
}
