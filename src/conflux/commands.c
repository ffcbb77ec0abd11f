// SPDX-License-Identifier: Apache-2.0
/*
 * commands.c - Guardian's admin commands on the agent: strict decoding,
 * acceptance (Guardian's signature, this node, the time window, the replay
 * cache), execution (query, taint-add, taint-remove, invalidate-keys,
 * shutdown) and the node-signed reply on veil.<realm>.reply.<node>.
 */
#include <ifaddrs.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"

/* Interfaces and their addresses: what the node can report today. */
static json_t *interfaces_json(void)
{
    json_t *arr = json_array();
    struct ifaddrs *ifs = NULL;
    if (!arr || getifaddrs(&ifs) != 0)
        return arr;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr ||
            (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        char host[NI_MAXHOST];
        socklen_t len = i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                          : sizeof(struct sockaddr_in6);
        if (getnameinfo(i->ifa_addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s}", "name", i->ifa_name, "addr", host));
    }
    freeifaddrs(ifs);
    return arr;
}

static json_t *taints_json(const char *csv)
{
    json_t *arr = json_array();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", csv);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(t));
    return arr;
}

/* Called with a->mu held. */
static json_t *query_json(veil_conflux *a, natsConnection *nc)
{
    char url[256] = "", nk[VEIL_NKEY_PUBLIC_LEN + 1], hex[65];
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    veil_nkey_public_text(&a->id, nk);
    (void)veil_hex_encode(hex, sizeof hex, a->id.pub, 32);
    uint64_t now = veil_conflux_now_ms();
    return json_pack("{s:{s:s, s:s, s:s}, s:s, s:o, s:o, s:[], s:[], s:{s:s, s:I, s:I, s:I, s:I, "
                     "s:I, s:I}}",
                     "identity", "name", a->name, "key", hex, "nats_user", nk, "realm", a->realm,
                     "taints", taints_json(a->taints), "interfaces", interfaces_json(), "routes",
                     "sessions", "health", "server", url, "uptime_ms",
                     (json_int_t)(now - a->started_ms), "reconnects", (json_int_t)a->reconnects,
                     "renewals", (json_int_t)a->renewals, "commands", (json_int_t)a->commands,
                     "key_epoch", (json_int_t)a->key_epoch, "cred_expires_ms",
                     (json_int_t)a->expires_ms);
}

/* Adds or removes one taint in the comma list; 0 or -1 with a message.
 * Taints follow Guardian's name rule (what it records and signs as
 * `taint:<name>` tags), so a node never holds one Guardian cannot record. */
static int edit_taints(char *csv, size_t cap, const char *t, bool add, veil_err *err)
{
    if (!veil_guardian_name_valid(t))
        return veil_err_set(err, VEIL_E_INVALID, "taint '%s': want 1-63 of [A-Za-z0-9_-]", t);
    char out[256] = "", buf[256];
    snprintf(buf, sizeof buf, "%s", csv);
    bool found = false;
    char *save = NULL;
    for (char *x = strtok_r(buf, ",", &save); x; x = strtok_r(NULL, ",", &save)) {
        if (strcmp(x, t) == 0) {
            found = true;
            if (!add)
                continue;
        }
        size_t n = strlen(out);
        snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", x);
    }
    if (add && !found) {
        size_t n = strlen(out);
        if (n + strlen(t) + 2 > cap)
            return veil_err_set(err, VEIL_E_LIMIT, "too many taints");
        snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", t);
    }
    if (!add && !found)
        return veil_err_set(err, VEIL_E_NOTFOUND, "taint '%s' not set", t);
    snprintf(csv, cap, "%s", out);
    return 0;
}

/* Runs an accepted command with a->mu held; returns the reply body. */
static json_t *execute(veil_conflux *a, natsConnection *nc, const veil_ctl_cmd *c, veil_err *err)
{
    switch (c->verb) {
    case VEIL_CTL_QUERY:
        return query_json(a, nc);
    case VEIL_CTL_TAINT_ADD:
    case VEIL_CTL_TAINT_REMOVE:
        if (edit_taints(a->taints, sizeof a->taints, c->arg, c->verb == VEIL_CTL_TAINT_ADD, err) !=
            0)
            return NULL;
        return json_pack("{s:o}", "taints", taints_json(a->taints));
    case VEIL_CTL_INVALIDATE_KEYS:
        /* rotate what exists: fresh credentials now; the data plane's
         * session keys will hang off the same epoch */
        a->key_epoch++;
        a->renew_now = true;
        pthread_cond_broadcast(&a->cv);
        return json_pack("{s:I, s:b}", "key_epoch", (json_int_t)a->key_epoch, "renewing", 1);
    case VEIL_CTL_SHUTDOWN:
        a->shutdown = true;
        pthread_cond_broadcast(&a->cv);
        return json_pack("{s:s}", "shutdown",
                         (c->flags & VEIL_CTL_FLAG_HARD) ? "hard" : "graceful");
    case VEIL_CTL_PEER_REVOKED: /* a realm-wide notice, never a command */
        break;
    }
    veil_err_set(err, VEIL_E_INVALID, "unknown verb");
    return NULL;
}

static void send_reply(veil_conflux *a, natsConnection *nc, const uint8_t nonce[16], uint8_t status,
                       const char *body)
{
    char subj[VEIL_SUBJECT_MAX];
    veil_ctl_reply r = {.status = status, .body = (char *)body};
    memcpy(r.nonce, nonce, sizeof r.nonce);
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    if (veil_subject(subj, VEIL_SUBJ_REPLY, a->realm, a->name, NULL, &err) != 0 ||
        veil_ctl_reply_sign(&r, a->id.sk, &err) != 0 || veil_ctl_reply_encode(&r, &b, &err) != 0) {
        VEIL_LOG_ERR("conflux", "cannot build a reply", "err=\"%s\"", err.msg);
    } else {
        natsStatus s = natsConnection_Publish(nc, subj, b.data, (int)b.len);
        if (s != NATS_OK)
            VEIL_LOG_WARNING("conflux", "reply not sent", "status=\"%s\"", natsStatus_GetText(s));
    }
    veil_buf_free(&b);
}

static char *error_body(const veil_err *err)
{
    json_t *j = json_pack("{s:s, s:s}", "error", err->msg, "code", veil_err_code_name(err->code));
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return t;
}

void cfx_on_command(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    veil_conflux *a = closure;
    veil_ctl_cmd c;
    veil_err err = {0};
    uint8_t status = 0;
    json_t *body = NULL;
    if (veil_ctl_cmd_decode((const uint8_t *)natsMsg_GetData(msg),
                            (size_t)natsMsg_GetDataLength(msg), &c, &err) != 0) {
        VEIL_LOG_WARNING("conflux", "malformed command dropped", "err=\"%s\"", err.msg);
        natsMsg_Destroy(msg);
        return; /* no nonce to answer to */
    }
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&a->mu);
    if (veil_ctl_cmd_accept(&a->replay, &c, a->guardian_pub, a->name, veil_conflux_now_ms(),
                            &err) != 0) {
        status = 1;
    } else {
        a->commands++;
        body = execute(a, nc, &c, &err);
        status = body ? 0 : 2;
    }
    pthread_mutex_unlock(&a->mu);
    VEIL_LOG_INF("conflux", "command", "node=%s verb=%s status=%u err=\"%s\"", a->name,
                 veil_ctl_verb_name(c.verb), status, status ? err.msg : "");
    char *text = body ? json_dumps(body, JSON_COMPACT) : error_body(&err);
    send_reply(a, nc, c.nonce, status, text ? text : "{}");
    free(text);
    json_decref(body);
    if (status == 0 && c.verb == VEIL_CTL_SHUTDOWN && a->on_shutdown)
        a->on_shutdown(a->on_shutdown_arg);
}
