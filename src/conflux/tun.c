// SPDX-License-Identifier: Apache-2.0
/*
 * tun.c - system mode on the agent (`veil conflux up --tun`): the overlay
 * (src/net/overlay_cert.c: TUN interface, addresses, routes, MTU, the Anchor
 * protocol) started with the certificate Guardian issued, fed by the agent:
 * members' signed peer records from the realm's topology subject, Guardian's
 * revocation notices, renewed certificates (make before break: the overlay
 * presents the new one from then on). This node's own signed record
 * (identity, pool address, underlay endpoint) is what the agent publishes,
 * with its routing summary (VRT). Routing (src/route/overlay_route.c) runs
 * on a thread of its own here: probes, path choice, relayed paths when a
 * member cannot be reached directly.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <veil/anchor_cert.h>
#include <veil/overlay_peer.h>
#include <veil/route.h>

#include "agent.h"

struct veil_conflux_tun {
    pthread_mutex_t mu; /* oc, agent (hooks run on other threads) */
    veil_overlay_cert *oc;
    veil_conflux *agent;
    struct veil_conflux_overlay addr;
    uint8_t identity[32];
    uint64_t records_applied, records_refused, revocations, renewals;
    veil_route_overlay *route;
    struct tun_member {
        char name[64], ipv4[16];
        uint8_t id[32];
        int path; /* last logged: -1 none, 0 direct, 1 or 2 relays */
        uint8_t via[2][32]; /* the relays of the path last logged */
    } * members; /* who published which identity (from verified records) */
    size_t n_members, cap_members;
    pthread_t route_thread;
    bool route_on, route_stop;
    pthread_cond_t route_cv;
    uint64_t summaries_refused, signals_refused;
    enum veil_route_nat nat_logged; /* the NAT class last printed */
};

veil_conflux_tun *veil_conflux_tun_new(veil_err *err)
{
    veil_conflux_tun *t = calloc(1, sizeof *t);
    if (!t) {
        (void)veil_err_set(err, VEIL_E_NOMEM, "conflux tun: out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->route_cv, NULL);
    t->nat_logged = VEIL_ROUTE_NAT_UNKNOWN;
    return t;
}

/* ---- hooks (agent and libnats threads) ---- */

/* The topology subject also carries other kinds of summaries (routing's
 * "VRT"): only peer records ("VPR") are the overlay's. */
static bool is_peer_record(const uint8_t *data, size_t len)
{
    return len >= 4 && memcmp(data, "VPR", 3) == 0;
}

/* Records which identity the subject's node published (t->mu held). */
static void note_member(veil_conflux_tun *t, const char *node, const uint8_t *data, size_t len)
{
    struct veil_overlay_peer_record rec;
    if (veil_overlay_peer_record_decode(data, len, &rec, NULL) != 0 ||
        memcmp(rec.identity, t->identity, 32) == 0)
        return;
    veil_err err = {0};
    if (t->route &&
        veil_route_overlay_add_member(t->route, rec.identity, veil_conflux_now_ms(), &err) != 0)
        VEIL_LOG_WARNING("conflux", "member not routed", "peer=%s err=\"%s\"", node, err.msg);
    struct tun_member *m = NULL;
    for (size_t i = 0; i < t->n_members && !m; i++)
        if (strcmp(t->members[i].name, node) == 0)
            m = &t->members[i];
    if (!m) {
        struct tun_member *n =
            veil_array_reserve(t->members, &t->cap_members, t->n_members, sizeof *t->members);
        if (!n)
            return;
        t->members = n;
    }
    if (!m) {
        m = &t->members[t->n_members++];
        memset(m, 0, sizeof *m);
        m->path = -1;
        snprintf(m->name, sizeof m->name, "%s", node);
    }
    memcpy(m->id, rec.identity, 32);
    snprintf(m->ipv4, sizeof m->ipv4, "%s", rec.ipv4);
}

/* A routing summary counts only when its node is the identity the same
 * subject's signed record named (t->mu held). */
static void apply_summary(veil_conflux_tun *t, const char *node, const uint8_t *data, size_t len)
{
    struct veil_route_topo *s = calloc(1, sizeof *s);
    bool ok = s && t->route && veil_route_topo_decode(s, data, len, NULL) == 0;
    bool bound = false;
    for (size_t i = 0; ok && i < t->n_members; i++)
        bound |=
            strcmp(t->members[i].name, node) == 0 && memcmp(t->members[i].id, s->node, 32) == 0;
    if (!ok || !bound ||
        veil_route_overlay_apply_summary(t->route, s, veil_conflux_now_ms(), NULL) != 0)
        t->summaries_refused++;
    free(s);
}

static void tun_on_topo(void *arg, const char *node, const uint8_t *data, size_t len)
{
    veil_conflux_tun *t = arg;
    veil_err err = {0};
    if (!is_peer_record(data, len)) {
        pthread_mutex_lock(&t->mu);
        apply_summary(t, node, data, len);
        pthread_mutex_unlock(&t->mu);
        return;
    }
    pthread_mutex_lock(&t->mu);
    int rc = t->oc ? veil_overlay_cert_apply_record(t->oc, data, len, &err) : 0;
    if (t->oc && rc == 0)
        t->records_applied++;
    else if (t->oc)
        t->records_refused++;
    if (t->oc && rc == 0)
        note_member(t, node, data, len);
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
    if (t->route)
        veil_route_overlay_remove_member(t->route, identity);
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

/* A routing signal from `node`: its src must be the identity that node's
 * signed record named, its dst this node. */
static void tun_on_path(void *arg, const char *node, const uint8_t *data, size_t len)
{
    veil_conflux_tun *t = arg;
    struct veil_route_signal s;
    veil_err err = {0};
    int rc = veil_route_signal_decode(&s, data, len, &err);
    pthread_mutex_lock(&t->mu);
    bool bound = false;
    for (size_t i = 0; rc == 0 && i < t->n_members; i++)
        bound |= strcmp(t->members[i].name, node) == 0 && memcmp(t->members[i].id, s.src, 32) == 0;
    if (rc == 0 && !bound)
        rc = veil_err_set(&err, VEIL_E_MISMATCH, "signal's source is not its publisher");
    if (rc == 0 && t->route)
        rc = veil_route_overlay_on_signal(t->route, &s, veil_conflux_now_ms(), &err);
    if (rc != 0)
        t->signals_refused++;
    pthread_mutex_unlock(&t->mu);
    if (rc != 0)
        VEIL_LOG_DBG("conflux", "path signal refused", "peer=%s err=\"%s\"", node, err.msg);
}

/* Publishes what routing wants signalled (route thread). */
static void send_signals(veil_conflux_tun *t)
{
    struct veil_route_signal s[8];
    size_t n = veil_route_overlay_signals(t->route, s, 8);
    for (size_t k = 0; k < n; k++) {
        char name[64] = "";
        veil_buf b;
        veil_buf_init(&b);
        veil_err err = {0};
        pthread_mutex_lock(&t->mu);
        for (size_t i = 0; i < t->n_members; i++)
            if (memcmp(t->members[i].id, s[k].dst, 32) == 0)
                snprintf(name, sizeof name, "%s", t->members[i].name);
        veil_conflux *a = t->agent;
        pthread_mutex_unlock(&t->mu);
        int rc = name[0] ? veil_route_signal_encode(&s[k], &b, &err) : -1;
        if (rc == 0)
            rc = veil_conflux_publish_path(a, name, b.data, b.len, &err);
        if (rc != 0)
            VEIL_LOG_DBG("conflux", "path signal not sent", "peer=%s err=\"%s\"", name, err.msg);
        veil_buf_free(&b);
    }
}

void veil_conflux_tun_hooks(veil_conflux_tun *t, struct veil_conflux_hooks *out)
{
    out->on_path = tun_on_path;
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

/* ---- routing ---- */

/* Prints a member's path when it changed (t->mu held): what the test and
 * an operator follow. */
static void log_path(veil_conflux_tun *t, struct tun_member *m)
{
    uint8_t via[2][32];
    int path = veil_route_overlay_path(t->route, m->id, via);
    if (path == m->path && (path < 1 || memcmp(via, m->via, (size_t)path * 32) == 0))
        return;
    m->path = path;
    memcpy(m->via, via, sizeof m->via);
    const char *relay[2] = {"?", "?"};
    for (int k = 0; k < path; k++)
        for (size_t i = 0; i < t->n_members; i++)
            if (memcmp(t->members[i].id, via[k], 32) == 0)
                relay[k] = t->members[i].ipv4;
    if (path == 1)
        printf("conflux: route %s via %s\n", m->ipv4, relay[0]);
    else if (path == 2)
        printf("conflux: route %s via %s,%s\n", m->ipv4, relay[0], relay[1]);
    else
        printf("conflux: route %s %s\n", m->ipv4, path == 0 ? "direct" : "none");
    fflush(stdout);
}

/* Hands the agent a fresh summary and logs path changes. */
static void route_report(veil_conflux_tun *t)
{
    veil_buf b;
    veil_buf_init(&b);
    pthread_mutex_lock(&t->mu);
    int rc = veil_route_overlay_summary(t->route, t->identity, veil_conflux_now_ms(), &b, NULL);
    for (size_t i = 0; i < t->n_members; i++)
        log_path(t, &t->members[i]);
    struct veil_route_overlay_stats st;
    veil_route_overlay_get_stats(t->route, &st);
    if (rc == 0 && st.nat != t->nat_logged) {
        static const char *const names[] = {"none", "cone", "symmetric", "unknown"};
        t->nat_logged = st.nat;
        printf("conflux: nat %s\n", names[st.nat & 3]);
        fflush(stdout);
    }
    veil_conflux *a = t->agent;
    pthread_mutex_unlock(&t->mu);
    veil_err err = {0};
    if (rc == 0 && veil_conflux_set_topo_slot(a, 1, b.data, b.len, &err) != 0)
        VEIL_LOG_WARNING("conflux", "routing summary not published", "err=\"%s\"", err.msg);
    veil_buf_free(&b);
}

#define ROUTE_TICK_MS   50
#define ROUTE_REPORT_MS 500

static void *route_main(void *arg)
{
    veil_conflux_tun *t = arg;
    uint64_t last_report = 0;
    pthread_mutex_lock(&t->mu);
    while (!t->route_stop) {
        pthread_mutex_unlock(&t->mu);
        uint64_t now = veil_conflux_now_ms();
        veil_route_overlay_tick(t->route, now);
        send_signals(t);
        if (now - last_report >= ROUTE_REPORT_MS) {
            last_report = now;
            route_report(t);
        }
        pthread_mutex_lock(&t->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += ROUTE_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (!t->route_stop)
            pthread_cond_timedwait(&t->route_cv, &t->mu, &until);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* The declared endpoint as the opaque address peers report (sockaddr bytes). */
static size_t local_sockaddr(const char *ip, uint16_t port, uint8_t out[VEIL_ANCHOR_ADDR_MAX])
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) {
        memcpy(out, &v4, sizeof v4);
        return sizeof v4;
    }
    if (inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1) {
        memcpy(out, &v6, sizeof v6);
        return sizeof v6;
    }
    return 0;
}

static int route_start(veil_conflux_tun *t, veil_conflux *a, const char *endpoint, veil_err *err)
{
    uint8_t local[VEIL_ANCHOR_ADDR_MAX];
    veil_overlay *o = veil_overlay_cert_overlay(t->oc);
    struct veil_route_overlay_config rc = {
        .ed_sk = a->id.sk, .relay_willing = true, .local_addr = local};
    rc.local_addr_len = local_sockaddr(endpoint, veil_overlay_port(o), local);
    veil_route_overlay *r = veil_route_overlay_new(o, &rc, err);
    if (!r)
        return -1;
    pthread_mutex_lock(&t->mu);
    t->route = r;
    t->route_on = pthread_create(&t->route_thread, NULL, route_main, t) == 0;
    pthread_mutex_unlock(&t->mu);
    return t->route_on ? 0 : veil_err_set(err, VEIL_E_INTERNAL, "conflux tun: no routing thread");
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

/* The underlay MTU the overlay sizes its TUN for: room is left for a path
 * of two relays, so a packet fits whether it goes direct or relayed. */
static unsigned overlay_underlay_mtu(unsigned underlay)
{
    return (underlay ? underlay : 1500) - VEIL_ROUTE_OVERLAY_RELAY_OVERHEAD;
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
                    .underlay_mtu = overlay_underlay_mtu(cfg->underlay_mtu)},
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
    if (route_start(t, a, endpoint, err) != 0)
        return -1;
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
    out->summaries_refused = t->summaries_refused;
    if (t->route)
        veil_route_overlay_get_stats(t->route, &out->route);
    pthread_mutex_unlock(&t->mu);
}

void veil_conflux_tun_free(veil_conflux_tun *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->route_stop = true;
    pthread_cond_broadcast(&t->route_cv);
    pthread_mutex_unlock(&t->mu);
    if (t->route_on)
        pthread_join(t->route_thread, NULL);
    veil_overlay_cert_stop(t->oc);     /* the interface goes with it */
    veil_route_overlay_free(t->route); /* after the overlay: its hooks point here */
    free(t->members);
    pthread_cond_destroy(&t->route_cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
