// SPDX-License-Identifier: Apache-2.0
/*
 * tun.c - system mode on the agent (`veil conflux up --tun`): the overlay
 * (src/net/overlay_cert.c: TUN interface, addresses, routes, MTU, the Anchor
 * protocol) started with the certificate Guardian issued, fed by the agent:
 * members' signed peer records from the realm's topology subject, Guardian's
 * revocation notices, renewed certificates (make before break: the overlay
 * presents the new one from then on). This node's own signed record
 * (identity, pool address, underlay endpoint) is what the agent publishes.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <veil/anchor_cert.h>
#include <veil/overlay_peer.h>

#include "agent.h"

struct veil_conflux_tun {
    pthread_mutex_t mu; /* oc, agent (hooks run on other threads) */
    veil_overlay_cert *oc;
    veil_conflux *agent;
    struct veil_conflux_overlay addr;
    uint8_t identity[32];
    uint64_t records_applied, records_refused, revocations, renewals;
};

veil_conflux_tun *veil_conflux_tun_new(veil_err *err)
{
    veil_conflux_tun *t = calloc(1, sizeof *t);
    if (!t) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "conflux tun: out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

/* ---- hooks (agent and libnats threads) ---- */

/* The topology subject also carries other kinds of summaries (routing's
 * "VRT"): only peer records ("VPR") are the overlay's. */
static bool is_peer_record(const uint8_t *data, size_t len)
{
    return len >= 4 && memcmp(data, "VPR", 3) == 0;
}

static void tun_on_topo(void *arg, const char *node, const uint8_t *data, size_t len)
{
    veil_conflux_tun *t = arg;
    veil_err err = {0};
    if (!is_peer_record(data, len))
        return;
    pthread_mutex_lock(&t->mu);
    int rc = t->oc ? veil_overlay_cert_apply_record(t->oc, data, len, &err) : 0;
    if (t->oc && rc == 0)
        t->records_applied++;
    else if (t->oc)
        t->records_refused++;
    pthread_mutex_unlock(&t->mu);
    if (rc != 0)
        VEIL_LOG_WARNING("conflux", "peer record refused", "peer=%s err=\"%s\"", node, err.msg);
}

static void tun_on_revoked(void *arg, const char *node, const uint8_t identity[32])
{
    veil_conflux_tun *t = arg;
    veil_err err = {0};
    pthread_mutex_lock(&t->mu);
    int rc = t->oc ? veil_overlay_cert_revoke(t->oc, identity, &err) : 0;
    if (t->oc && rc == 0)
        t->revocations++;
    pthread_mutex_unlock(&t->mu);
    if (rc != 0)
        VEIL_LOG_ERR("conflux", "revocation not applied", "peer=%s err=\"%s\"", node, err.msg);
    else
        VEIL_LOG_INF("conflux", "peer revoked: sessions ended", "peer=%s", node);
}

static void tun_on_renewed(void *arg)
{
    veil_conflux_tun *t = arg;
    veil_err err = {0};
    char *chain = NULL, *root = NULL;
    pthread_mutex_lock(&t->mu);
    int rc = 0;
    if (t->oc && t->agent) {
        rc = veil_conflux_get_certs(t->agent, &chain, &root, &err);
        if (rc == 0)
            rc = veil_overlay_cert_renew(t->oc, chain, &err);
        if (rc == 0)
            t->renewals++;
    }
    pthread_mutex_unlock(&t->mu);
    free(chain);
    free(root);
    if (rc != 0)
        VEIL_LOG_ERR("conflux", "renewed certificate not taken by the overlay", "err=\"%s\"",
                     err.msg);
}

void veil_conflux_tun_hooks(veil_conflux_tun *t, struct veil_conflux_hooks *out)
{
    out->on_renewed = tun_on_renewed;
    out->on_topo = tun_on_topo;
    out->on_revoked = tun_on_revoked;
    out->arg = t;
}

/* ---- start ---- */

/* The local address the kernel would use toward the first Master server:
 * what peers on that network reach this node at. */
static int route_source(veil_conflux *a, char out[46], veil_err *err)
{
    char host[256];
    const char *url = a->servers[0], *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *colon = strrchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    if (n == 0 || n >= sizeof host)
        return veil_err_set(err, VEIL_E_INVALID, "conflux tun: cannot read a host from %s", url);
    memcpy(host, p, n);
    host[n] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, "9", &hints, &res) != 0 || !res)
        return veil_err_set(err, VEIL_E_IO, "conflux tun: cannot resolve %s", host);
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    int fd = socket(res->ai_family, SOCK_DGRAM, 0);
    int ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
             getsockname(fd, (struct sockaddr *)&ss, &len) == 0;
    freeaddrinfo(res);
    if (fd >= 0)
        close(fd);
    const void *ip = ss.ss_family == AF_INET6
                         ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                         : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
    if (!ok || !inet_ntop(ss.ss_family, ip, out, 46))
        return veil_err_set(err, VEIL_E_IO, "conflux tun: no route toward %s", host);
    return 0;
}

static bool wildcard(const char *ip)
{
    return !ip || !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");
}

/* Encodes and hands this node's signed peer record to the agent. */
static int publish_record(veil_conflux_tun *t, veil_conflux *a, const char *endpoint, veil_err *err)
{
    struct veil_overlay_peer_record rec = {.issued_ms = veil_conflux_now_ms()};
    veil_buf b;
    veil_buf_init(&b);
    memcpy(rec.identity, a->id.pub, 32);
    snprintf(rec.ipv4, sizeof rec.ipv4, "%s", t->addr.ipv4);
    snprintf(rec.endpoint_ip, sizeof rec.endpoint_ip, "%s", endpoint);
    rec.endpoint_port = veil_overlay_port(veil_overlay_cert_overlay(t->oc));
    int rc = veil_overlay_peer_record_encode(&rec, a->id.sk, &b, err);
    if (rc == 0)
        rc = veil_conflux_set_topo(a, b.data, b.len, err);
    veil_buf_free(&b);
    return rc;
}

/* Static peers given by the host (hex records). */
static void apply_static(veil_conflux_tun *t, const struct veil_conflux_tun_config *cfg)
{
    for (size_t i = 0; i < cfg->n_peer_records; i++) {
        uint8_t rec[VEIL_PEER_RECORD_V6_LEN];
        const char *hex = cfg->peer_records[i];
        long n = veil_hex_decode(rec, sizeof rec, hex, strlen(hex), false, NULL);
        if (n > 0)
            tun_on_topo(t, "static", rec, (size_t)n);
        else
            VEIL_LOG_WARNING("conflux", "static peer record is not hex", "index=%zu", i);
    }
}

int veil_conflux_tun_start(veil_conflux_tun *t, veil_conflux *a,
                           const struct veil_conflux_tun_config *cfg, veil_err *err)
{
    char *chain = NULL, *root = NULL, endpoint[46];
    if (veil_conflux_get_certs(a, &chain, &root, err) != 0)
        return -1;
    int rc = veil_conflux_overlay_of_cert(chain, &t->addr, err);
    if (rc == 0 && cfg->endpoint_ip)
        snprintf(endpoint, sizeof endpoint, "%s", cfg->endpoint_ip);
    else if (rc == 0 && !wildcard(cfg->bind_ip))
        snprintf(endpoint, sizeof endpoint, "%s", cfg->bind_ip);
    else if (rc == 0)
        rc = route_source(a, endpoint, err);
    struct veil_overlay_cert_config oc = {
        .overlay = {.ifname = cfg->ifname ? cfg->ifname : "veil0",
                    .realm = t->addr.realm,
                    .ipv4 = t->addr.ipv4,
                    .ipv4_prefix = t->addr.prefix,
                    .bind_ip = cfg->bind_ip ? cfg->bind_ip : "0.0.0.0",
                    .port = cfg->port,
                    .underlay_mtu = cfg->underlay_mtu},
        .identity_sk = a->id.sk,
        .chain_pem = chain,
        .root_pem = root};
    veil_overlay_cert *o = rc == 0 ? veil_overlay_cert_start(&oc, err) : NULL;
    free(chain);
    free(root);
    if (!o)
        return -1;
    pthread_mutex_lock(&t->mu);
    t->oc = o;
    t->agent = a;
    memcpy(t->identity, a->id.pub, sizeof t->identity);
    pthread_mutex_unlock(&t->mu);
    apply_static(t, cfg);
    return publish_record(t, a, endpoint, err);
}

void veil_conflux_tun_info(veil_conflux_tun *t, struct veil_conflux_tun_info *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&t->mu);
    out->addr = t->addr;
    if (t->oc) {
        veil_overlay *o = veil_overlay_cert_overlay(t->oc);
        uint8_t v6[16];
        veil_overlay_ipv6_of(t->addr.realm, t->identity, v6);
        (void)inet_ntop(AF_INET6, v6, out->ipv6, sizeof out->ipv6);
        out->mtu = veil_overlay_mtu(o);
        out->port = veil_overlay_port(o);
        veil_overlay_anchor_stats(o, &out->anchor);
        veil_overlay_get_stats(o, &out->overlay);
    }
    out->records_applied = t->records_applied;
    out->records_refused = t->records_refused;
    out->revocations = t->revocations;
    out->renewals = t->renewals;
    pthread_mutex_unlock(&t->mu);
}

void veil_conflux_tun_free(veil_conflux_tun *t)
{
    if (!t)
        return;
    veil_overlay_cert_stop(t->oc); /* the interface goes with it */
    pthread_mutex_destroy(&t->mu);
    free(t);
}
