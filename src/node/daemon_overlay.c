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
 * The certificate comes from one of two places: files made by `veil
 * guardian cert --pubkey` (overlay.cert_file), or - with
 * overlay.guardian_nats - the Conflux agent run in process with the same
 * key as its identity, admitted by Guardian because the node is active on
 * chain in the cluster (enrollment by cluster id and the keystore address),
 * whose renewals are presented from the next tick on and whose revocation
 * notices end the revoked member's sessions.
 *
 * Why gossipsub and not Master for the records: every veild already runs the
 * cluster's gossipsub, whose connections admit only nodes active on chain
 * (the registry gater) and whose messages are signed by their author's
 * libp2p key - the same key a record must be signed by - so the topology
 * needs no second control plane and no Conflux connection. Only records
 * travel there: data never leaves the Anchor sessions.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include <veil/anchor_cert.h>
#include <veil/chain.h>
#include <veil/conflux.h>
#include <veil/overlay.h>
#include <veil/overlay_peer.h>
#include <veil/resolver.h>
#include <veil/runtime.h>

#include "daemon_core.h"
#include "daemon_overlay.h"

#define OSUB             "overlay"
#define CERT_MAX         (64u << 10)
#define DEFAULT_IFNAME   "veil0"
#define DEFAULT_LISTEN   "0.0.0.0:51820"
#define DEFAULT_POOL_V4  "10.77.0.0" /* /16: the derived addresses' pool */
#define DEFAULT_PREFIX   16
#define RECORD_PERIOD_MS 10000 /* the record again, for members that joined since */
#define CT_SUBNET        "10.201.0.0/16" /* the containers' links (veil_ctnet_plan) */

/* A member whose record this node applied. */
struct applied {
    uint8_t id[VEIL_ANCHOR_KEY_BYTES];
    char ipv4[16];
    bool revoked; /* deactivated on chain: refused from now on */
};

/* A container of this node on the overlay. */
struct ovct {
    char job_hex[65];
    uint32_t replica;
    unsigned slot;
    struct veil_ctnet net;
    bool up;   /* started: its rules are applied */
    char *nft; /* the ruleset last applied (its table) */
};

/* The Conflux agent in process (overlay.guardian_nats) and what its hooks
 * (agent and libnats threads) hand to the loop thread's tick. */
struct guardian_link {
    veil_conflux *agent;
    atomic_bool renewed;    /* new credentials wait to be presented */
    char *chain;            /* the chain the overlay presents */
    uint64_t renewals;      /* renewed chains presented */
    pthread_mutex_t mu;     /* guards revoked */
    uint8_t (*revoked)[32]; /* identities Guardian revoked, not yet applied */
    size_t n_revoked, cap_revoked;
};

struct veil_node_overlay {
    veil_overlay_cert *oc;
    struct guardian_link *gl; /* NULL: the certificate comes from files */
    char ifname[16];
    char tag[17]; /* this node's tag in host-wide names */
    char data_dir[4096];
    struct ovct *cts;
    size_t n_cts, cap_cts;
    char *rules_key; /* the ingress rules last set, as text */
    char *status;    /* overlay/status.json as last written */
    veil_dns_server *dns;
    char topic[96];
    char realm[64];
    char ipv4[16];
    unsigned prefix;
    char endpoint[46];
    uint16_t port;
    bool subscribed;
    bool guarded; /* the veil_guard table is set */
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
        return veil_err_set(err, VEIL_E_INVALID, "%s is required with overlay.enabled", key), NULL;
    if (veil_file_read(path, CERT_MAX, &data, &len, err) != 0) {
        veil_err_wrap(err, "%s", key);
        return NULL;
    }
    return (char *)data;
}

static bool guardian_mode(const veil_daemon *d)
{
    const struct veil_config_value *v = veil_config_get(d->cfg, "overlay.guardian_nats");
    return v && v->n_items > 0;
}

static int read_settings(veil_daemon *d, struct veil_node_overlay *ov, veil_err *err)
{
    const veil_config *cfg = d->cfg;
    const char *realm = veil_config_str(cfg, "overlay.realm", guardian_mode(d) ? "" : NULL);
    if (!realm || (!*realm && !guardian_mode(d)) || strlen(realm) >= sizeof ov->realm)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.realm is required (Guardian's realm)");
    snprintf(ov->realm, sizeof ov->realm, "%s", realm);
    const char *ifname = veil_config_str(cfg, "overlay.ifname", DEFAULT_IFNAME);
    if (!ifname || !*ifname || strlen(ifname) >= sizeof ov->ifname)
        return veil_err_set(err, VEIL_E_INVALID, "overlay.ifname: 1..15 characters");
    snprintf(ov->ifname, sizeof ov->ifname, "%s", ifname);
    size_t tl = strlen(d->self_text);
    snprintf(ov->tag, sizeof ov->tag, "%s", d->self_text + (tl > 8 ? tl - 8 : 0));
    snprintf(ov->data_dir, sizeof ov->data_dir, "%s", veil_config_str(cfg, "data_dir", "."));
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

/* ---- the Conflux agent in process (overlay.guardian_nats) ---------------- */

static void gl_on_renewed(void *arg)
{
    struct guardian_link *gl = arg;
    atomic_store(&gl->renewed, true);
}

/* Queued for the tick: the overlay is the loop thread's. */
static void gl_on_revoked(void *arg, const char *node, const uint8_t identity[32])
{
    struct guardian_link *gl = arg;
    pthread_mutex_lock(&gl->mu);
    uint8_t(*np)[32] =
        veil_array_reserve(gl->revoked, &gl->cap_revoked, gl->n_revoked, sizeof *gl->revoked);
    if (np)
        gl->revoked = np;
    bool queued = gl->n_revoked < gl->cap_revoked;
    if (queued)
        memcpy(gl->revoked[gl->n_revoked++], identity, 32);
    pthread_mutex_unlock(&gl->mu);
    if (!queued)
        veil_log(VEIL_LOG_WARN, OSUB, "revocation notice dropped (out of memory)", "node=%s", node);
}

static void gl_free(struct guardian_link *gl)
{
    if (!gl)
        return;
    if (gl->agent)
        veil_conflux_stop(gl->agent); /* no hook runs after this */
    free(gl->revoked);
    free(gl->chain);
    pthread_mutex_destroy(&gl->mu);
    free(gl);
}

/* Takes the agent's realm and the address Guardian put in the certificate
 * (a configured overlay.realm must be the same realm). */
static int adopt_addressing(struct veil_node_overlay *ov, const char *chain, veil_err *err)
{
    struct veil_conflux_overlay addr;
    if (veil_conflux_overlay_of_cert(chain, &addr, err) != 0)
        return veil_err_wrap(err, "Guardian's certificate");
    if (*ov->realm && strcmp(ov->realm, addr.realm) != 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "overlay.realm is '%s' but Guardian admitted this node to '%s'",
                            ov->realm, addr.realm);
    if (!*addr.ipv4 || addr.prefix < 8 || addr.prefix > 30)
        return veil_err_set(err, VEIL_E_INVALID, "Guardian's certificate names no overlay address");
    snprintf(ov->realm, sizeof ov->realm, "%s", addr.realm);
    snprintf(ov->ipv4, sizeof ov->ipv4, "%s", addr.ipv4);
    ov->prefix = addr.prefix;
    return 0;
}

/* Enrolls with Guardian by the node's on-chain registration (cluster id and
 * keystore address), the libp2p key being the agent's identity, and hands
 * back the certificate chain and Guardian's root. */
static int start_agent(veil_daemon *d, struct veil_node_overlay *ov, char **chain, char **root,
                       veil_err *err)
{
    const struct veil_config_value *urls = veil_config_get(d->cfg, "overlay.guardian_nats");
    const veil_eth_address *self = d->chain ? veil_chain_client_signer(d->chain) : NULL;
    struct veil_conflux_config cc = {
        .servers = (const char *const *)urls->items,
        .n_servers = urls->n_items,
        .identity_seed = d->key.secret_key, /* libsodium layout: the seed first */
        .ca_file = veil_config_str(d->cfg, "overlay.ca_file", NULL),
        .enroll_creds = veil_config_str(d->cfg, "overlay.enroll_creds", NULL),
        .cluster_id = d->cluster_id,
        .guardian_key = veil_config_str(d->cfg, "overlay.guardian_key", NULL)};
    char eth[43];
    if (!self)
        return veil_err_set(
            err, VEIL_E_INVALID,
            "overlay.guardian_nats needs the node's keystore (its registry address)");
    if (!cc.ca_file || !cc.enroll_creds)
        return veil_err_set(err, VEIL_E_INVALID,
                            "overlay.ca_file and overlay.enroll_creds are required with "
                            "overlay.guardian_nats");
    veil_eth_address_format(self, eth);
    cc.eth_address = eth;
    if ((ov->gl = calloc(1, sizeof *ov->gl)) == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
    pthread_mutex_init(&ov->gl->mu, NULL);
    cc.hooks = (struct veil_conflux_hooks){
        .on_renewed = gl_on_renewed, .on_revoked = gl_on_revoked, .arg = ov->gl};
    if (veil_conflux_start(&ov->gl->agent, &cc, err) != 0)
        return veil_err_wrap(err, "Guardian enrollment (cluster %llu, node %s)",
                             (unsigned long long)d->cluster_id, eth);
    if (veil_conflux_get_certs(ov->gl->agent, chain, root, err) != 0 ||
        adopt_addressing(ov, *chain, err) != 0)
        return -1;
    if ((ov->gl->chain = strdup(*chain)) == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
    veil_log(VEIL_LOG_INFO, OSUB, "admitted by Guardian (active on chain)",
             "cluster=%llu node=%s realm=%s ipv4=%s/%u", (unsigned long long)d->cluster_id, eth,
             ov->realm, ov->ipv4, ov->prefix);
    return 0;
}

/* The certificate and Guardian's root: from the agent, or from files. */
static int load_certs(veil_daemon *d, struct veil_node_overlay *ov, char **chain, char **root,
                      veil_err *err)
{
    if (guardian_mode(d))
        return start_agent(d, ov, chain, root, err);
    *chain =
        read_text("overlay.cert_file", veil_config_str(d->cfg, "overlay.cert_file", NULL), err);
    *root =
        *chain ? read_text("overlay.ca_file", veil_config_str(d->cfg, "overlay.ca_file", NULL), err)
               : NULL;
    return *chain && *root ? 0 : -1;
}

static int start_overlay(veil_daemon *d, struct veil_node_overlay *ov, veil_err *err)
{
    char bind_ip[46];
    uint16_t port;
    if (parse_endpoint(veil_config_str(d->cfg, "overlay.listen", DEFAULT_LISTEN), bind_ip, &port,
                       err) != 0)
        return -1;
    char *chain = NULL, *root = NULL;
    int rc = -1;
    if (load_certs(d, ov, &chain, &root, err) == 0) {
        struct veil_overlay_cert_config oc = {.overlay = {.ifname = ov->ifname,
                                                          .realm = ov->realm,
                                                          .ipv4 = ov->ipv4,
                                                          .ipv4_prefix = ov->prefix,
                                                          .bind_ip = bind_ip,
                                                          .port = port},
                                              .identity_sk = d->key.secret_key,
                                              .chain_pem = chain,
                                              .root_pem = root,
                                              .members_only = true};
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

/* The node-wide guard (nftables table veil_guard): the overlay address
 * (its resolver, the exposed ports forwarded to containers) and the
 * containers' addresses are reached only through the overlay interface,
 * the containers' own links and loopback. Without it a neighbour on the
 * node's LAN could route them through the node and skip the overlay's
 * authentication and ingress rules (the kernel accepts a packet for a
 * local address on any interface). */
static int guard_apply(struct veil_node_overlay *ov, veil_err *err)
{
    char text[512];
    char *argv[] = {"nft", "-f", "-", NULL};
    snprintf(text, sizeof text,
             "table ip veil_guard\ndelete table ip veil_guard\ntable ip veil_guard {\n"
             " chain pre {\n  type filter hook prerouting priority raw; policy accept;\n"
             "  iifname { \"lo\", \"%s\" } accept\n  iifname \"vh*\" accept\n"
             "  ip daddr { %s, %s } drop\n }\n}\n",
             ov->ifname, ov->ipv4, CT_SUBNET);
    if (veil_run_tool(argv, text, err) != 0)
        return veil_err_wrap(err, "overlay guard (nftables table veil_guard)");
    ov->guarded = true;
    return 0;
}

static void guard_remove(struct veil_node_overlay *ov)
{
    char *argv[] = {"nft", "delete", "table", "ip", "veil_guard", NULL};
    veil_err ignored = {0};
    if (ov->guarded)
        (void)veil_run_tool(argv, NULL, &ignored);
    ov->guarded = false;
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
        struct applied *np =
            veil_array_reserve(ov->peers, &ov->cap_peers, ov->n_peers, sizeof *ov->peers);
        if (!np)
            return NULL;
        ov->peers = np;
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
    if (fresh) {
        veil_log(VEIL_LOG_INFO, OSUB, "overlay peer", "peer=%s ipv4=%s endpoint=%s:%u",
                 veil_p2p_peer_id_str(&from).s, rec.ipv4, rec.endpoint_ip, rec.endpoint_port);
    }
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

/* ---- containers: namespaces, names, exposure ------------------------------ */

/* What the store says is placed (assigned or running) and where. */
struct placed {
    char job_hex[65];
    uint32_t replica;
    char node[96];
    const struct veil_job_spec *spec; /* NULL: unreadable */
};

struct view {
    struct placed *p;
    size_t n, cap;
    struct veil_job_spec *specs; /* one per distinct job, parallel to spec_of */
    char (*spec_of)[65];
    size_t n_specs, cap_specs;
};

static int collect(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    struct view *v = ctx;
    if (!node || !*node)
        return 0;
    if (v->n == v->cap) {
        size_t ncap = v->cap ? 2 * v->cap : 16;
        struct placed *np = realloc(v->p, ncap * sizeof *np);
        if (!np)
            return -1;
        v->p = np;
        v->cap = ncap;
    }
    struct placed *pl = &v->p[v->n++];
    memset(pl, 0, sizeof *pl);
    snprintf(pl->job_hex, sizeof pl->job_hex, "%s", job_hex);
    pl->replica = replica;
    snprintf(pl->node, sizeof pl->node, "%s", node);
    return 0;
}

/* The spec of each placed replica's job, parsed once per job. */
static void load_specs(veil_daemon *d, struct view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        size_t k = 0;
        while (k < v->n_specs && strcmp(v->spec_of[k], v->p[i].job_hex) != 0)
            k++;
        if (k == v->n_specs) {
            struct veil_store_job job;
            veil_err err = {0};
            if (v->n_specs == v->cap_specs)
                break; /* sized for every placed replica: not reached */
            if (veil_store_job_get(d->store, v->p[i].job_hex, &job, &err) != 0)
                continue;
            int rc = veil_job_spec_parse(&v->specs[k], job.spec_json, strlen(job.spec_json), "job",
                                         &err);
            veil_store_job_free(&job);
            if (rc != 0)
                continue;
            snprintf(v->spec_of[k], sizeof v->spec_of[k], "%s", v->p[i].job_hex);
            v->n_specs++;
        }
        v->p[i].spec = &v->specs[k];
    }
}

static int view_load(veil_daemon *d, struct view *v, veil_err *err)
{
    memset(v, 0, sizeof *v);
    if (veil_store_each_replica(d->store, VEIL_REPLICA_ASSIGNED, collect, v, err) != 0 ||
        veil_store_each_replica(d->store, VEIL_REPLICA_RUNNING, collect, v, err) != 0)
        return -1;
    v->cap_specs = v->n;
    v->specs = calloc(v->n ? v->n : 1, sizeof *v->specs);
    v->spec_of = calloc(v->n ? v->n : 1, sizeof *v->spec_of);
    if (!v->specs || !v->spec_of)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
    load_specs(d, v);
    return 0;
}

static void view_free(struct view *v)
{
    for (size_t i = 0; i < v->n_specs; i++)
        veil_job_spec_free(&v->specs[i]);
    free(v->specs);
    free(v->spec_of);
    free(v->p);
}

/* The overlay address (and identity) of a node named by its peer ID text. */
static bool node_addr(veil_daemon *d, const struct veil_node_overlay *ov, const char *node,
                      char ip[16], uint8_t id[32])
{
    if (strcmp(node, d->self_text) == 0) {
        memcpy(ip, ov->ipv4, 16);
        memcpy(id, d->key.public_key, 32);
        return true;
    }
    for (size_t i = 0; i < ov->n_peers; i++) {
        veil_p2p_peer_id pid;
        if (ov->peers[i].revoked)
            continue;
        veil_p2p_peer_id_from_ed25519(ov->peers[i].id, &pid);
        if (strcmp(veil_p2p_peer_id_str(&pid).s, node) == 0) {
            memcpy(ip, ov->peers[i].ipv4, 16);
            memcpy(id, ov->peers[i].id, 32);
            return true;
        }
    }
    return false;
}

/* May a replica of `client` reach port `e` of a replica of `server`? Its
 * own job's replicas, or a job the port names - and only within a tenant. */
static bool may_reach(const struct placed *client, const struct placed *server,
                      const struct veil_job_expose *e)
{
    const struct veil_job_spec *c = client->spec, *s = server->spec;
    if (!c || !s || strcmp(c->tenant, s->tenant) != 0)
        return false;
    if (strcmp(client->job_hex, server->job_hex) == 0)
        return true;
    for (size_t i = 0; i < e->n_to; i++)
        if (strcmp(e->to[i], c->name) == 0)
            return true;
    return false;
}

static struct ovct *ct_find(struct veil_node_overlay *ov, const char *job_hex, uint32_t replica)
{
    for (size_t i = 0; i < ov->n_cts; i++)
        if (ov->cts[i].replica == replica && strcmp(ov->cts[i].job_hex, job_hex) == 0)
            return &ov->cts[i];
    return NULL;
}

static const struct placed *placed_of(const struct view *v, const struct ovct *c)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->p[i].replica == c->replica && strcmp(v->p[i].job_hex, c->job_hex) == 0)
            return &v->p[i];
    return NULL;
}

/* <replica>.<job>.c<cluster> -> the overlay address of its node. */
static void update_names(veil_daemon *d, struct veil_node_overlay *ov, const struct view *v)
{
    struct veil_dns_entry *t = calloc(v->n ? v->n : 1, sizeof *t);
    size_t n = 0;
    veil_err err = {0};
    if (!t || !ov->dns) {
        free(t);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        char ip[16];
        uint8_t id[32];
        if (!v->p[i].spec || !node_addr(d, ov, v->p[i].node, ip, id) ||
            inet_pton(AF_INET, ip, t[n].ipv4) != 1)
            continue;
        snprintf(t[n].name, sizeof t[n].name, "%u.%s.c%llu", v->p[i].replica, v->p[i].spec->name,
                 (unsigned long long)d->cluster_id);
        n++;
    }
    if (veil_dns_server_set(ov->dns, t, n, &err) != 0)
        veil_log(VEIL_LOG_WARN, OSUB, "names not updated", "error=\"%s\"", err.msg);
    free(t);
}

/* Appends one ingress rule unless an equal one is there. */
static void rule_add(struct veil_overlay_rule *r, size_t *n, size_t cap,
                     const struct veil_overlay_rule *x)
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp(&r[i], x, sizeof *x) == 0)
            return;
    if (*n < cap)
        r[(*n)++] = *x;
}

/* Ingress at the packet boundary: a peer node may open a connection to an
 * exposed port here only while it hosts a replica allowed to reach the
 * container behind it; nodes may ping each other's own address. */
static void update_ingress(veil_daemon *d, struct veil_node_overlay *ov, const struct view *v)
{
    size_t cap = 1 + ov->n_cts * VEIL_JOB_MAX_EXPOSE * (v->n + 1), n = 0;
    struct veil_overlay_rule *r = calloc(cap, sizeof *r);
    veil_err err = {0};
    if (!r)
        return;
    struct veil_overlay_rule icmp = {.proto = 1, .dst_prefix = 32};
    inet_pton(AF_INET, ov->ipv4, icmp.dst_v4);
    rule_add(r, &n, cap, &icmp);
    for (size_t c = 0; c < ov->n_cts; c++) {
        const struct placed *srv = ov->cts[c].up ? placed_of(v, &ov->cts[c]) : NULL;
        for (size_t e = 0; srv && srv->spec && e < srv->spec->n_expose; e++) {
            const struct veil_job_expose *ex = &srv->spec->expose[e];
            for (size_t i = 0; i < v->n; i++) {
                char ip[16];
                struct veil_overlay_rule x = icmp;
                if (strcmp(v->p[i].node, d->self_text) == 0 || !may_reach(&v->p[i], srv, ex) ||
                    !node_addr(d, ov, v->p[i].node, ip, x.peer))
                    continue;
                x.proto = ex->proto;
                x.port_lo = x.port_hi = ex->port;
                rule_add(r, &n, cap, &x);
            }
        }
    }
    char *key = malloc(n * sizeof *r * 2 + 1);
    if (key) {
        veil_hex_encode(key, n * sizeof *r * 2 + 1, (const uint8_t *)r, n * sizeof *r);
        if (!ov->rules_key || strcmp(key, ov->rules_key) != 0) {
            if (veil_overlay_set_rules(veil_overlay_cert_overlay(ov->oc), true, r, n, &err) != 0)
                veil_log(VEIL_LOG_WARN, OSUB, "ingress rules not set", "error=\"%s\"", err.msg);
            else
                veil_log(VEIL_LOG_INFO, OSUB, "ingress rules", "rules=%zu", n);
            free(ov->rules_key);
            ov->rules_key = key;
            key = NULL;
        }
    }
    free(key);
    free(r);
}

#define addf veil_buf_printf

/* One container's nftables table in the node's namespace: its exposed
 * ports forwarded to it, what it sends into the overlay masqueraded as the
 * node, and only the exposed ports its job may reach let out of it. */
static void ct_ruleset(veil_daemon *d, struct veil_node_overlay *ov, const struct view *v,
                       const struct ovct *c, veil_buf *b)
{
    const struct placed *me = placed_of(v, c);
    const char *hif = c->net.host_if;
    addf(b, "table ip veil_%u\ndelete table ip veil_%u\ntable ip veil_%u {\n", c->slot, c->slot,
         c->slot);
    addf(b, " chain c_pre {\n  type nat hook prerouting priority dstnat; policy accept;\n");
    for (size_t e = 0; me && me->spec && e < me->spec->n_expose; e++)
        addf(b, "  ip daddr %s %s dport %u dnat to %s\n", ov->ipv4,
             me->spec->expose[e].proto == 6 ? "tcp" : "udp", me->spec->expose[e].port,
             c->net.ct_ip);
    addf(b, " }\n chain c_post {\n  type nat hook postrouting priority srcnat; policy accept;\n");
    addf(b, "  ip saddr %s oifname \"%s\" masquerade\n }\n", c->net.ct_ip, ov->ifname);
    addf(b, " chain c_fwd {\n  type filter hook forward priority filter; policy accept;\n");
    addf(b, "  iifname \"%s\" ct state established,related accept\n", hif);
    for (size_t i = 0; me && i < v->n; i++) {
        const struct placed *srv = &v->p[i];
        char ip[16];
        uint8_t id[32];
        if (srv == me || !srv->spec || !node_addr(d, ov, srv->node, ip, id))
            continue;
        for (size_t e = 0; e < srv->spec->n_expose; e++)
            if (may_reach(me, srv, &srv->spec->expose[e]))
                addf(b,
                     "  iifname \"%s\" meta l4proto %s ct original ip daddr %s "
                     "ct original proto-dst %u accept\n",
                     hif, srv->spec->expose[e].proto == 6 ? "tcp" : "udp", ip,
                     srv->spec->expose[e].port);
    }
    addf(b, "  iifname \"%s\" drop\n }\n}\n", hif);
}

static void update_containers(veil_daemon *d, struct veil_node_overlay *ov, const struct view *v)
{
    for (size_t i = 0; i < ov->n_cts; i++) {
        struct ovct *c = &ov->cts[i];
        veil_buf b;
        veil_err err = {0};
        if (!c->up)
            continue;
        veil_buf_init(&b);
        ct_ruleset(d, ov, v, c, &b);
        veil_buf_put(&b, "", 1);
        if (!b.failed && (!c->nft || strcmp(c->nft, (const char *)b.data) != 0)) {
            char *argv[] = {"nft", "-f", "-", NULL};
            if (veil_run_tool(argv, (const char *)b.data, &err) != 0) {
                veil_log(VEIL_LOG_WARN, OSUB, "container rules not applied",
                         "job=%.16s replica=%u error=\"%s\"", c->job_hex, c->replica, err.msg);
            } else {
                veil_log(VEIL_LOG_INFO, OSUB, "container rules applied",
                         "job=%.16s replica=%u netns=%s", c->job_hex, c->replica, c->net.netns);
                free(c->nft);
                c->nft = strdup((const char *)b.data);
            }
        }
        veil_buf_free(&b);
    }
}

/* The node's overlay view for operators (`veil get`, the dashboard):
 * <data_dir>/overlay/status.json, rewritten when it changes - this node's
 * address, its peers (revoked ones marked), the Anchor handshake counters,
 * and each replica's name and overlay address. */
static void write_status(veil_daemon *d, struct veil_node_overlay *ov, const struct view *v)
{
    struct veil_anchor_stats a;
    veil_overlay_anchor_stats(veil_overlay_cert_overlay(ov->oc), &a);
    json_t *peers = json_array(), *reps = json_array();
    for (size_t i = 0; i < ov->n_peers; i++) {
        veil_p2p_peer_id pid;
        veil_p2p_peer_id_from_ed25519(ov->peers[i].id, &pid);
        json_array_append_new(peers, json_pack("{s:s, s:s, s:b}", "peer",
                                               veil_p2p_peer_id_str(&pid).s, "ipv4",
                                               ov->peers[i].ipv4, "revoked", ov->peers[i].revoked));
    }
    for (size_t i = 0; i < v->n; i++) {
        char ip[16], name[VEIL_DNS_NAME_MAX + 1];
        uint8_t id[32];
        if (!v->p[i].spec || !node_addr(d, ov, v->p[i].node, ip, id))
            continue;
        snprintf(name, sizeof name, "%u.%s.c%llu", v->p[i].replica, v->p[i].spec->name,
                 (unsigned long long)d->cluster_id);
        json_array_append_new(reps, json_pack("{s:s, s:i, s:s, s:s, s:s}", "job", v->p[i].job_hex,
                                              "replica", (int)v->p[i].replica, "name", name, "node",
                                              v->p[i].node, "ipv4", ip));
    }
    json_t *root =
        json_pack("{s:s, s:s, s:o, s:o, s:{s:I, s:I}, s:s, s:I}", "realm", ov->realm, "ipv4",
                  ov->ipv4, "peers", peers, "replicas", reps, "sessions", "handshakes_completed",
                  (json_int_t)a.handshakes_completed, "handshakes_initiated",
                  (json_int_t)a.handshakes_initiated, "certificate", ov->gl ? "guardian" : "file",
                  "renewals", (json_int_t)(ov->gl ? ov->gl->renewals : 0));
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    char path[4300];
    veil_err err = {0};
    snprintf(path, sizeof path, "%s/overlay/status.json", ov->data_dir);
    if (text && (!ov->status || strcmp(text, ov->status) != 0)) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/overlay", ov->data_dir);
        if (veil_mkdir_p(dir, 0755, &err) != 0 ||
            veil_file_write_atomic(path, text, strlen(text), 0644, &err) != 0)
            veil_log(VEIL_LOG_WARN, OSUB, "overlay status not written", "error=\"%s\"", err.msg);
        free(ov->status);
        ov->status = text;
        text = NULL;
    }
    free(text);
}

/* Names, ingress rules and container rules from the store's placements. */
static void apply_placements(veil_daemon *d, struct veil_node_overlay *ov)
{
    struct view v;
    veil_err err = {0};
    if (view_load(d, &v, &err) != 0) {
        veil_log(VEIL_LOG_WARN, OSUB, "placements not read", "error=\"%s\"", err.msg);
        view_free(&v);
        return;
    }
    update_names(d, ov, &v);
    update_ingress(d, ov, &v);
    update_containers(d, ov, &v);
    write_status(d, ov, &v);
    view_free(&v);
}

static int write_resolv(struct veil_node_overlay *ov, unsigned slot, char *path, size_t cap,
                        veil_err *err)
{
    char dir[4200], text[128];
    snprintf(dir, sizeof dir, "%s/overlay", ov->data_dir);
    if (snprintf(path, cap, "%s/resolv-%u.conf", dir, slot) >= (int)cap)
        return veil_err_set(err, VEIL_E_RANGE, "overlay: resolv.conf path too long");
    int n = snprintf(text, sizeof text, "nameserver %s\n", ov->ipv4);
    if (veil_mkdir_p(dir, 0755, err) != 0 ||
        veil_file_write_atomic(path, text, (size_t)n, 0644, err) != 0)
        return -1;
    return 0;
}

int veil_daemon_overlay_reserve(veil_daemon *d, const char *job_hex, uint32_t replica,
                                const char *job_name, struct veil_ctnet *net, char *resolv,
                                size_t resolv_cap, char *name, size_t name_cap, veil_err *err)
{
    struct veil_node_overlay *ov = d->overlay;
    if (!ov || !ov->oc)
        return 0;
    unsigned slot = 0;
    for (bool taken = true; taken; slot += taken) {
        taken = false;
        for (size_t i = 0; i < ov->n_cts; i++)
            taken |= ov->cts[i].slot == slot;
    }
    struct ovct *np = veil_array_reserve(ov->cts, &ov->cap_cts, ov->n_cts, sizeof *ov->cts);
    if (!np)
        return veil_err_set(err, VEIL_E_NOMEM, "overlay: out of memory");
    ov->cts = np;
    struct ovct *c = &ov->cts[ov->n_cts];
    memset(c, 0, sizeof *c);
    if (veil_ctnet_plan(ov->tag, slot, &c->net, err) != 0 ||
        write_resolv(ov, slot, resolv, resolv_cap, err) != 0)
        return -1;
    snprintf(c->job_hex, sizeof c->job_hex, "%s", job_hex);
    c->replica = replica;
    c->slot = slot;
    ov->n_cts++;
    *net = c->net;
    snprintf(name, name_cap, "%u.%s.c%llu", replica, job_name, (unsigned long long)d->cluster_id);
    return 1;
}

/* The slot of this node's namespace named in an OCI config, or -1. */
static long slot_in_config(const struct veil_node_overlay *ov, const char *config_path)
{
    char needle[64];
    uint8_t *data = NULL;
    size_t len = 0;
    veil_err err = {0};
    if (veil_file_read(config_path, 1u << 20, &data, &len, &err) != 0)
        return -1;
    snprintf(needle, sizeof needle, "\"/run/netns/veil-%s-", ov->tag);
    const char *at = strstr((const char *)data, needle);
    long slot = -1;
    if (at) {
        char *end = NULL;
        unsigned long v = strtoul(at + strlen(needle), &end, 10);
        if (end && *end == '"' && v < 16384)
            slot = (long)v;
    }
    free(data);
    return slot;
}

void veil_daemon_overlay_adopt(veil_daemon *d, const char *job_hex, uint32_t replica,
                               const char *config_path)
{
    struct veil_node_overlay *ov = d->overlay;
    long slot = ov && ov->oc ? slot_in_config(ov, config_path) : -1;
    veil_err err = {0};
    if (slot < 0 || ct_find(ov, job_hex, replica))
        return;
    for (size_t i = 0; i < ov->n_cts; i++)
        if (ov->cts[i].slot == (unsigned)slot)
            return; /* taken: a second container cannot share it */
    struct ovct *np = veil_array_reserve(ov->cts, &ov->cap_cts, ov->n_cts, sizeof *ov->cts);
    if (!np)
        return;
    ov->cts = np;
    struct ovct *c = &ov->cts[ov->n_cts];
    memset(c, 0, sizeof *c);
    if (veil_ctnet_plan(ov->tag, (unsigned)slot, &c->net, &err) != 0)
        return;
    snprintf(c->job_hex, sizeof c->job_hex, "%s", job_hex);
    c->replica = replica;
    c->slot = (unsigned)slot;
    c->up = true;
    ov->n_cts++;
    veil_log(VEIL_LOG_INFO, OSUB, "container on the overlay again",
             "job=%.16s replica=%u netns=%s address=%s", job_hex, replica, c->net.netns,
             c->net.ct_ip);
}

static void ct_remove(struct veil_node_overlay *ov, struct ovct *c)
{
    char table[32];
    char *argv[] = {"nft", "delete", "table", "ip", table, NULL};
    veil_err ignored = {0};
    snprintf(table, sizeof table, "veil_%u", c->slot);
    if (c->nft)
        (void)veil_run_tool(argv, NULL, &ignored);
    veil_ctnet_destroy(&c->net);
    free(c->nft);
    *c = ov->cts[--ov->n_cts];
}

void veil_daemon_overlay_started(veil_daemon *d, const char *job_hex, uint32_t replica, bool ok)
{
    struct veil_node_overlay *ov = d->overlay;
    struct ovct *c = ov ? ct_find(ov, job_hex, replica) : NULL;
    if (!c)
        return;
    if (!ok) {
        ct_remove(ov, c);
        return;
    }
    c->up = true;
    veil_log(VEIL_LOG_INFO, OSUB, "container on the overlay",
             "job=%.16s replica=%u netns=%s address=%s", job_hex, replica, c->net.netns,
             c->net.ct_ip);
    apply_placements(d, ov);
}

void veil_daemon_overlay_release(veil_daemon *d, const char *job_hex, uint32_t replica)
{
    struct veil_node_overlay *ov = d->overlay;
    struct ovct *c = ov ? ct_find(ov, job_hex, replica) : NULL;
    if (c)
        ct_remove(ov, c);
}

/* Ends a member's sessions and refuses it from now on; `why` is logged. */
static void revoke_peer(struct veil_node_overlay *ov, struct applied *a, const char *why)
{
    veil_err err = {0};
    veil_p2p_peer_id pid;
    a->revoked = true;
    veil_p2p_peer_id_from_ed25519(a->id, &pid);
    if (veil_overlay_cert_revoke(ov->oc, a->id, &err) != 0)
        veil_log(VEIL_LOG_WARN, OSUB, "revocation failed", "peer=%s error=\"%s\"",
                 veil_p2p_peer_id_str(&pid).s, err.msg);
    else
        veil_log(VEIL_LOG_INFO, OSUB, why, "peer=%s ipv4=%s", veil_p2p_peer_id_str(&pid).s,
                 a->ipv4);
}

/* Members deactivated on chain lose their sessions and stay refused. */
static void apply_registry(veil_daemon *d, struct veil_node_overlay *ov)
{
    for (size_t i = 0; i < ov->n_peers; i++)
        if (!ov->peers[i].revoked && !on_chain(d, ov->peers[i].id))
            revoke_peer(ov, &ov->peers[i], "overlay peer deactivated on chain: sessions ended");
}

/* A renewal the agent adopted: the overlay presents the new chain. */
static void present_renewal(struct veil_node_overlay *ov, struct guardian_link *gl)
{
    char *chain = NULL, *root = NULL;
    veil_err err = {0};
    if (veil_conflux_get_certs(gl->agent, &chain, &root, &err) != 0) {
        veil_log(VEIL_LOG_WARN, OSUB, "renewed certificate not read", "error=\"%s\"", err.msg);
    } else if (strcmp(chain, gl->chain) != 0) {
        if (veil_overlay_cert_renew(ov->oc, chain, &err) != 0) {
            veil_log(VEIL_LOG_WARN, OSUB, "renewed certificate refused", "error=\"%s\"", err.msg);
        } else {
            free(gl->chain);
            gl->chain = chain;
            chain = NULL;
            gl->renewals++;
            veil_log(VEIL_LOG_INFO, OSUB, "overlay certificate renewed", "renewals=%llu",
                     (unsigned long long)gl->renewals);
        }
    }
    free(chain);
    free(root);
}

/* What the agent's hooks queued: a renewal to present, revocations. */
static void apply_guardian(struct veil_node_overlay *ov)
{
    struct guardian_link *gl = ov->gl;
    if (!gl)
        return;
    if (atomic_exchange(&gl->renewed, false))
        present_renewal(ov, gl);
    for (;;) {
        uint8_t id[32];
        pthread_mutex_lock(&gl->mu);
        bool any = gl->n_revoked > 0;
        if (any)
            memcpy(id, gl->revoked[--gl->n_revoked], 32);
        pthread_mutex_unlock(&gl->mu);
        if (!any)
            break;
        struct applied *a = applied_get(ov, id, true);
        veil_p2p_peer_id pid;
        veil_p2p_peer_id_from_ed25519(id, &pid);
        veil_log(VEIL_LOG_INFO, OSUB, "revocation notice from Guardian", "peer=%s already=%s",
                 veil_p2p_peer_id_str(&pid).s, a && a->revoked ? "yes" : "no");
        if (a && !a->revoked)
            revoke_peer(ov, a, "overlay peer revoked by Guardian: sessions ended");
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
             "rx=%llu tx=%llu handshakes=%llu/%llu after_silence=%llu drop_auth=%llu "
             "drop_realm=%llu filtered=%llu no_route=%llu spoofed=%llu",
             (unsigned long long)a.rx_packets, (unsigned long long)a.tx_packets,
             (unsigned long long)a.handshakes_completed, (unsigned long long)a.handshakes_initiated,
             (unsigned long long)a.silence_handshakes,
             (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_AUTH],
             (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_REALM], (unsigned long long)o.filtered,
             (unsigned long long)o.no_route, (unsigned long long)o.spoofed);
}

void veil_daemon_overlay_tick(veil_daemon *d, uint64_t now_ms)
{
    struct veil_node_overlay *ov = d->overlay;
    if (!ov || !ov->oc)
        return;
    apply_guardian(ov);
    apply_registry(d, ov);
    apply_placements(d, ov);
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
    guard_remove(ov);
    gl_free(ov->gl);
    if (ov->dns)
        veil_dns_server_stop(ov->dns);
    if (ov->oc)
        veil_overlay_cert_stop(ov->oc);
    for (size_t i = 0; i < ov->n_cts; i++)
        free(ov->cts[i].nft);
    free(ov->cts);
    free(ov->rules_key);
    free(ov->status);
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
        guard_apply(ov, err) != 0 || start_dns(d, ov, err) != 0) {
        overlay_free(ov);
        return veil_err_wrap(err, "overlay");
    }
    /* containers reach the overlay through this node */
    FILE *fwd = fopen("/proc/sys/net/ipv4/ip_forward", "w");
    if (!fwd || fputs("1\n", fwd) == EOF)
        veil_log(VEIL_LOG_WARN, OSUB, "IPv4 forwarding not enabled: containers stay local",
                 "ifname=%s", ov->ifname);
    if (fwd)
        fclose(fwd);
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
