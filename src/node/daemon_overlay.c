// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_overlay.c - veild's VeilNet role (daemon_overlay.h): the Anchor
 * overlay in process, one identity for everything (the node's libp2p
 * Ed25519 key is the overlay identity, and the subject of the Guardian
 * certificate the overlay presents), peers learned from signed peer records
 * (include/veil/overlay_peer.h) gossiped on the cluster's overlay topic, and
 * the chain's view applied to them: a record is taken only from a node
 * active on chain in the cluster, and a node deactivated on chain is revoked
 * (its sessions end, its certificate is refused from then on).
 *
 * Why gossipsub and not Master for the records: every veild already runs the
 * cluster's gossipsub, whose connections admit only nodes active on chain
 * (the registry gater) and whose messages are signed by their author's
 * libp2p key - the same key a record must be signed by - so the topology
 * needs no second control plane and no Conflux connection. Only records
 * travel there: data never leaves the Anchor sessions.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/anchor_cert.h>
#include <veil/overlay.h>
#include <veil/overlay_peer.h>
#include <veil/resolver.h>

#include "daemon_core.h"
#include "daemon_overlay.h"

#define OSUB              "overlay"
#define CERT_MAX          (64u << 10)
#define DEFAULT_IFNAME    "veil0"
#define DEFAULT_LISTEN    "0.0.0.0:51820"
#define DEFAULT_POOL_V4   "10.77.0.0" /* /16: the derived addresses' pool */
#define DEFAULT_PREFIX    16
#define RECORD_PERIOD_MS  10000 /* the record again, for members that joined since */

/* A member whose record this node applied. */
struct applied {
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    char ipv4[16];
    bool revoked; /* deactivated on chain: refused from now on */
};

struct veil_node_overlay {
    veil_overlay_cert *oc;
    veil_dns_server *dns;
    char topic[96];
    char realm[64];
    char ipv4[16];
    unsigned prefix;
    char endpoint[46];
    uint16_t port;
    bool subscribed;
    uint64_t record_at_ms; /* wall ms of the last publication */
    size_t topic_peers;    /* at the last publication */
    uint64_t stats_sum;    /* the counters last logged */
    struct applied *peers;
    size_t n_peers, cap_peers;
};

/* "a.b.c.d/len" (or without /len: the default prefix). */
static int parse_v4_prefix(const char *text, char ip[16], unsigned *prefix, veil_err *err)
{
    unsigned p = DEFAULT_PREFIX;
    char buf[32];
    uint8_t v4[4];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.ipv4: too long");
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (!end || *end || v < 8 || v > 30)
            return veil_err_set(err, VEIL_E_INVALID, "overlay.ipv4: prefix 8..30 wanted");
        p = (unsigned)v;
    }
    if (strlen(buf) >= 16 || inet_pton(AF_INET, buf, v4) != 1)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.ipv4: not an IPv4 address");
    memcpy(ip, buf, strlen(buf) + 1);
    *prefix = p;
    return 0;
}

/* "IP:PORT" (IPv4 underlay). */
static int parse_endpoint(const char *text, char ip[46], uint16_t *port, veil_err *err)
{
    const char *colon = strrchr(text, ':');
    uint8_t v4[4];
    char *end = NULL;
    if (!colon || (size_t)(colon - text) >= 46)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.listen: IP:PORT wanted");
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (!end || *end || v > 65535)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.listen: bad port");
    memcpy(ip, text, (size_t)(colon - text));
    ip[colon - text] = '\0';
    if (inet_pton(AF_INET, ip, v4) != 1)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.listen: not an IPv4 address");
    *port = (uint16_t)v;
    return 0;
}

/* Without overlay.ipv4: an address of 10.77.0.0/16 derived from the
 * identity (collisions are refused by the record check: the first holder
 * keeps an address; configure one explicitly then). */
static void derive_v4(const uint8_t pk[32], char ip[16])
{
    uint8_t h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)"veil-overlay-v4", 15);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, h, sizeof h);
    unsigned hi = h[0], lo = 1 + h[1] % 254; /* never .0 or .255 */
    snprintf(ip, 16, "10.77.%u.%u", hi, lo);
}

static char *read_text(const char *key, const char *path, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (!path)
        return veil_err_set(err, VEIL_E_INVALID, "%s is required with overlay.enabled", key),
               NULL;
    if (veil_file_read(path, CERT_MAX, &data, &len, err) != 0) {
        veil_err_wrap(err, "%s", key);
        return NULL;
    }
    return (char *)data;
}

static int read_settings(veil_daemon *d, struct veil_node_overlay *ov, veil_err *err)
{
    const veil_config *cfg = d->cfg;
    const char *realm = veil_config_str(cfg, "overlay.realm", NULL);
    if (!realm || !*realm || strlen(realm) >= sizeof ov->realm)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.realm is required (Guardian's realm)");
    snprintf(ov->realm, sizeof ov->realm, "%s", realm);
    const char *v4 = veil_config_str(cfg, "overlay.ipv4", NULL);
    if (v4 && *v4) {
        if (parse_v4_prefix(v4, ov->ipv4, &ov->prefix, err) != 0)
            return -1;
    } else {
        derive_v4(d->key.public_key, ov->ipv4);
        ov->prefix = DEFAULT_PREFIX;
    }
    char bind_ip[46];
    if (parse_endpoint(veil_config_str(cfg, "overlay.listen", DEFAULT_LISTEN), bind_ip, &ov->port,
                       err) != 0)
        return -1;
    const char *ep = veil_config_str(cfg, "overlay.endpoint", NULL);
    if (!ep || !*ep)
        ep = bind_ip;
    uint8_t tmp[4];
    if (strlen(ep) >= sizeof ov->endpoint || inet_pton(AF_INET, ep, tmp) != 1 ||
        strcmp(ep, "0.0.0.0") == 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "overlay.endpoint: the IPv4 address peers reach this node at");
    snprintf(ov->endpoint, sizeof ov->endpoint, "%s", ep);
    snprintf(ov->topic, sizeof ov->topic, "/veil/cluster/%llu/overlay/v1",
             (unsigned long long)d->cluster_id);
    return 0;
}

static int start_overlay(veil_daemon *d, struct veil_node_overlay *ov, veil_err *err)
{
    char bind_ip[46];
    uint16_t port;
    if (parse_endpoint(veil_config_str(d->cfg, "overlay.listen", DEFAULT_LISTEN), bind_ip, &port,
                       err) != 0)
        return -1;
    char *chain = read_text("overlay.cert_file", veil_config_str(d->cfg, "overlay.cert_file", NULL),
                            err);
    char *root = chain ? read_text("overlay.ca_file", veil_config_str(d->cfg, "overlay.ca_file",
                                                                      NULL),
                                   err)
                       : NULL;
    int rc = -1;
    if (chain && root) {
        struct veil_overlay_cert_config oc = {
            .overlay = {.ifname = veil_config_str(d->cfg, "overlay.ifname", DEFAULT_IFNAME),
                        .realm = ov->realm,
                        .ipv4 = ov->ipv4,
                        .ipv4_prefix = ov->prefix,
                        .bind_ip = bind_ip,
                        .port = port},
            .identity_sk = d->key.secret_key,
            .chain_pem = chain,
            .root_pem = root};
        ov->oc = veil_overlay_cert_start(&oc, err);
        rc = ov->oc ? 0 : -1;
        if (ov->oc)
            ov->port = veil_overlay_port(veil_overlay_cert_overlay(ov->oc));
    }
    free(chain);
    free(root);
    return rc;
}

/* The node's resolver on its overlay address (overlay.dns_listen). */
static int start_dns(veil_daemon *d, struct veil_node_overlay *ov, veil_err *err)
{
    const char *listen = veil_config_str(d->cfg, "overlay.dns_listen", NULL);
    char ip[46];
    uint16_t port = 53;
    if (listen && strcmp(listen, "off") == 0)
        return 0;
    if (listen && *listen) {
        if (parse_endpoint(listen, ip, &port, err) != 0)
            return veil_err_wrap(err, "overlay.dns_listen");
    } else {
        snprintf(ip, sizeof ip, "%s", ov->ipv4);
    }
    ov->dns = veil_dns_server_start(ip, port, err);
    return ov->dns ? 0 : veil_err_wrap(err, "overlay resolver on %s:%u", ip, port);
}

static bool on_chain(const veil_daemon *d, const uint8_t id[32])
{
    for (size_t i = 0; i < d->n_allowed; i++)
        if (memcmp(d->allowed[i], id, 32) == 0)
            return true;
    return false;
}

static struct applied *applied_get(struct veil_node_overlay *ov, const uint8_t id[32], bool create)
{
    for (size_t i = 0; i < ov->n_peers; i++)
        if (memcmp(ov->peers[i].id, id, 32) == 0)
            return &ov->peers[i];
    if (!create)
        return NULL;
    if (ov->n_peers == ov->cap_peers) {
        size_t ncap = ov->cap_peers ? 2 * ov->cap_peers : 8;
        struct applied *np = realloc(ov->peers, ncap * sizeof *np);
        if (!np)
            return NULL;
        ov->peers = np;
        ov->cap_peers = ncap;
    }
    struct applied *a = &ov->peers[ov->n_peers++];
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, 32);
    return a;
}

/* A record from the overlay topic: only its own author may publish it, and
 * only while the author is active on chain in the cluster. */
static void on_record(void *ctx, const struct veil_gs_message *msg)
{
    veil_daemon *d = ctx;
    struct veil_node_overlay *ov = d->overlay;
    struct veil_overlay_peer_record rec;
    veil_p2p_peer_id from;
    uint8_t author[32];
    veil_err err = {0};
    if (!ov || !ov->oc)
        return;
    if (veil_overlay_peer_record_decode(msg->data, msg->data_len, &rec, &err) != 0 ||
        veil_p2p_peer_id_from_bytes(msg->from, msg->from_len, &from, &err) != 0 ||
        veil_p2p_peer_id_ed25519_key(&from, author, &err) != 0) {
        veil_log(VEIL_LOG_WARN, OSUB, "peer record refused", "error=\"%s\"", err.msg);
        return;
    }
    if (memcmp(author, rec.identity, 32) != 0 || !on_chain(d, rec.identity)) {
        veil_log(VEIL_LOG_WARN, OSUB, "peer record refused",
                 "from=%s reason=\"not its author's, or author not active on chain\"",
                 veil_p2p_peer_id_str(&from).s);
        return;
    }
    struct applied *a = applied_get(ov, rec.identity, false);
    if (a && a->revoked)
        return;
    if (veil_overlay_cert_apply_record(ov->oc, msg->data, msg->data_len, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, OSUB, "peer record not applied", "from=%s error=\"%s\"",
                 veil_p2p_peer_id_str(&from).s, err.msg);
        return;
    }
    bool fresh = a == NULL || strcmp(a->ipv4, rec.ipv4) != 0;
    if (!a && (a = applied_get(ov, rec.identity, true)) == NULL)
        return;
    snprintf(a->ipv4, sizeof a->ipv4, "%s", rec.ipv4);
    if (fresh)
        veil_log(VEIL_LOG_INFO, OSUB, "overlay peer", "peer=%s ipv4=%s endpoint=%s:%u",
                 veil_p2p_peer_id_str(&from).s, rec.ipv4, rec.endpoint_ip, rec.endpoint_port);
}

static void publish_record(veil_daemon *d, struct veil_node_overlay *ov, uint64_t now_ms)
{
    struct veil_overlay_peer_record rec = {.endpoint_port = ov->port, .issued_ms = now_ms};
    veil_buf b;
    veil_err err = {0};
    memcpy(rec.identity, d->key.public_key, 32);
    snprintf(rec.ipv4, sizeof rec.ipv4, "%s", ov->ipv4);
    snprintf(rec.endpoint_ip, sizeof rec.endpoint_ip, "%s", ov->endpoint);
    veil_buf_init(&b);
    if (veil_overlay_peer_record_encode(&rec, d->key.secret_key, &b, &err) != 0 ||
        veil_gossipsub_publish(d->gs, ov->topic, b.data, b.len, &err) != 0)
        veil_log(VEIL_LOG_DEBUG, OSUB, "peer record not published", "error=\"%s\"", err.msg);
    veil_buf_free(&b);
    ov->record_at_ms = now_ms;
}

/* Members deactivated on chain lose their sessions and stay refused. */
static void apply_registry(veil_daemon *d, struct veil_node_overlay *ov)
{
    for (size_t i = 0; i < ov->n_peers; i++) {
        struct applied *a = &ov->peers[i];
        veil_err err = {0};
        if (a->revoked || on_chain(d, a->id))
            continue;
        a->revoked = true;
        veil_p2p_peer_id pid;
        veil_p2p_peer_id_from_ed25519(a->id, &pid);
        if (veil_overlay_cert_revoke(ov->oc, a->id, &err) != 0)
            veil_log(VEIL_LOG_WARN, OSUB, "revocation failed", "peer=%s error=\"%s\"",
                     veil_p2p_peer_id_str(&pid).s, err.msg);
        else
            veil_log(VEIL_LOG_INFO, OSUB, "overlay peer deactivated on chain: sessions ended",
                     "peer=%s ipv4=%s", veil_p2p_peer_id_str(&pid).s, a->ipv4);
    }
}

/* The Anchor and overlay counters, logged when they moved. */
static void log_stats(struct veil_node_overlay *ov)
{
    struct veil_anchor_stats a;
    struct veil_overlay_stats o;
    veil_overlay *ol = veil_overlay_cert_overlay(ov->oc);
    veil_overlay_anchor_stats(ol, &a);
    veil_overlay_get_stats(ol, &o);
    uint64_t sum = a.rx_packets + a.tx_packets + o.filtered + o.no_route;
    if (sum == ov->stats_sum)
        return;
    ov->stats_sum = sum;
    veil_log(VEIL_LOG_DEBUG, OSUB, "overlay stats",
             "rx=%llu tx=%llu handshakes=%llu/%llu drop_auth=%llu drop_realm=%llu "
             "filtered=%llu no_route=%llu spoofed=%llu",
             (unsigned long long)a.rx_packets, (unsigned long long)a.tx_packets,
             (unsigned long long)a.handshakes_completed,
             (unsigned long long)a.handshakes_initiated,
             (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_AUTH],
             (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_REALM], (unsigned long long)o.filtered,
             (unsigned long long)o.no_route, (unsigned long long)o.spoofed);
}

void veil_daemon_overlay_tick(veil_daemon *d, uint64_t now_ms)
{
    struct veil_node_overlay *ov = d->overlay;
    if (!ov || !ov->oc)
        return;
    apply_registry(d, ov);
    log_stats(ov);
    struct veil_gs_peer_id peers[MAX_MEMBERS];
    size_t n = veil_gossipsub_topic_peers(d->gs, ov->topic, peers, MAX_MEMBERS);
    if (n != ov->topic_peers || now_ms >= ov->record_at_ms + RECORD_PERIOD_MS) {
        ov->topic_peers = n;
        publish_record(d, ov, now_ms);
    }
}

static void overlay_free(struct veil_node_overlay *ov)
{
    if (ov->dns)
        veil_dns_server_stop(ov->dns);
    if (ov->oc)
        veil_overlay_cert_stop(ov->oc);
    free(ov->peers);
    free(ov);
}

int veil_daemon_overlay_start(veil_daemon *d, veil_err *err)
{
    if (!veil_config_bool(d->cfg, "overlay.enabled", false))
        return 0;
    struct veil_node_overlay *ov = calloc(1, sizeof *ov);
    if (!ov)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
    if (read_settings(d, ov, err) != 0 || start_overlay(d, ov, err) != 0 ||
        start_dns(d, ov, err) != 0) {
        overlay_free(ov);
        return veil_err_wrap(err, "overlay");
    }
    d->overlay = ov;
    if (veil_gossipsub_subscribe(d->gs, ov->topic, on_record, d, err) != 0) {
        d->overlay = NULL;
        overlay_free(ov);
        return veil_err_wrap(err, "overlay topic");
    }
    ov->subscribed = true;
    veil_log(VEIL_LOG_INFO, OSUB, "overlay started", "realm=%s ipv4=%s/%u endpoint=%s:%u topic=%s",
             ov->realm, ov->ipv4, ov->prefix, ov->endpoint, ov->port, ov->topic);
    return 0;
}

void veil_daemon_overlay_stop(veil_daemon *d)
{
    struct veil_node_overlay *ov = d->overlay;
    if (!ov)
        return;
    veil_err err = {0};
    if (ov->subscribed && d->gs && veil_gossipsub_unsubscribe(d->gs, ov->topic, &err) != 0)
        veil_log(VEIL_LOG_DEBUG, OSUB, "overlay topic unsubscribe", "error=\"%s\"", err.msg);
    d->overlay = NULL;
    overlay_free(ov);
}
