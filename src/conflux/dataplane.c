// SPDX-License-Identifier: Apache-2.0
/*
 * dataplane.c - what the agent carries for a data-plane host: the current
 * certificate and the overlay addressing Guardian put in it, the host's
 * topology message (published on veil.<realm>.topo.<node>), realm members'
 * topology messages, and Guardian's signed revocation notices
 * (veil.<realm>.revoked.<node>), handed to the host's hooks. Only control
 * data travels here: the host's packets go peer to peer.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "agent.h"

#define TOPO_MAX 4096

/* ---- the certificate ---- */

int veil_conflux_get_certs(veil_conflux *a, char **chain_pem, char **root_pem, veil_err *err)
{
    pthread_mutex_lock(&a->mu);
    *chain_pem = a->cert_pem ? strdup(a->cert_pem) : NULL;
    *root_pem = a->ca_pem ? strdup(a->ca_pem) : NULL;
    pthread_mutex_unlock(&a->mu);
    if (*chain_pem && *root_pem)
        return 0;
    free(*chain_pem);
    free(*root_pem);
    *chain_pem = *root_pem = NULL;
    return veil_err_set(err, VEIL_E_STATE, "conflux: no certificate (or out of memory)");
}

/* One SAN of the leaf: the IPv4 address, veil-pool:<cidr> or the realm. */
static void take_name(const GENERAL_NAME *gn, struct veil_conflux_overlay *out)
{
    if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == 4) {
        (void)inet_ntop(AF_INET, ASN1_STRING_get0_data(gn->d.iPAddress), out->ipv4,
                        sizeof out->ipv4);
        return;
    }
    if (gn->type != GEN_URI)
        return;
    const char *s = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
    int n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
    size_t pp = strlen(VEIL_GUARDIAN_POOL_URI), rp = strlen("veil://");
    if (s == NULL || n <= 0 || memchr(s, '\0', (size_t)n) != NULL)
        return;
    if ((size_t)n > pp && (size_t)n - pp < sizeof out->pool &&
        memcmp(s, VEIL_GUARDIAN_POOL_URI, pp) == 0)
        memcpy(out->pool, s + pp, (size_t)n - pp);
    const char *slash = (size_t)n > rp ? memchr(s + rp, '/', (size_t)n - rp) : NULL;
    if (slash && memcmp(s, "veil://", rp) == 0 && (size_t)(slash - s) - rp < sizeof out->realm)
        memcpy(out->realm, s + rp, (size_t)(slash - s) - rp);
}

int veil_conflux_overlay_of_cert(const char *chain_pem, struct veil_conflux_overlay *out,
                                 veil_err *err)
{
    memset(out, 0, sizeof *out);
    BIO *b = chain_pem ? BIO_new_mem_buf(chain_pem, -1) : NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (x == NULL)
        return veil_err_set(err, VEIL_E_PARSE, "conflux: no certificate in the chain");
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++)
        take_name(sk_GENERAL_NAME_value(names, i), out);
    GENERAL_NAMES_free(names);
    X509_free(x);
    uint32_t net = 0, ip = 0;
    struct in_addr in;
    if (!out->ipv4[0] || !out->pool[0] || !out->realm[0])
        return veil_err_set(err, VEIL_E_NOTFOUND,
                            "conflux: the certificate names no overlay address/pool (an older "
                            "Guardian?)");
    if (veil_guardian_cidr_parse(out->pool, &net, &out->prefix, err) != 0 ||
        inet_pton(AF_INET, out->ipv4, &in) != 1)
        return -1;
    ip = ntohl(in.s_addr);
    if ((ip & (~0u << (32 - out->prefix))) != net)
        return veil_err_set(err, VEIL_E_MISMATCH, "conflux: address %s outside the pool %s",
                            out->ipv4, out->pool);
    return 0;
}

int veil_conflux_get_overlay(veil_conflux *a, struct veil_conflux_overlay *out, veil_err *err)
{
    char *chain = NULL, *root = NULL;
    if (veil_conflux_get_certs(a, &chain, &root, err) != 0)
        return -1;
    int rc = veil_conflux_overlay_of_cert(chain, out, err);
    free(chain);
    free(root);
    return rc;
}

/* ---- topology ---- */

int veil_conflux_set_topo(veil_conflux *a, const uint8_t *data, size_t len, veil_err *err)
{
    return veil_conflux_set_topo_slot(a, 0, data, len, err);
}

int veil_conflux_set_topo_slot(veil_conflux *a, unsigned slot, const uint8_t *data, size_t len,
                               veil_err *err)
{
    if (slot >= VEIL_CONFLUX_TOPO_SLOTS)
        return veil_err_set(err, VEIL_E_RANGE, "conflux: topology slot %u", slot);
    if (len == 0 || len > TOPO_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "conflux: a topology message of %zu bytes", len);
    uint8_t *copy = malloc(len);
    if (!copy)
        return veil_err_set(err, VEIL_E_NOMEM, "conflux: out of memory");
    memcpy(copy, data, len);
    pthread_mutex_lock(&a->mu);
    free(a->topo[slot]);
    a->topo[slot] = copy;
    a->topo_len[slot] = len;
    a->topo_now = slot == 0; /* a new record goes out at once; summaries wait for the beacon */
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

void cfx_publish_topo(veil_conflux *a)
{
    char subj[VEIL_SUBJECT_MAX];
    pthread_mutex_lock(&a->mu);
    a->topo_now = false;
    natsStatus s = NATS_OK;
    bool named = veil_subject(subj, VEIL_SUBJ_TOPO, a->realm, a->name, NULL, NULL) == 0;
    /* slot 0 (the signed record) first, and nothing before it: a member
     * binds the later slots to the identity the record names */
    for (unsigned i = 0;
         i < VEIL_CONFLUX_TOPO_SLOTS && named && a->nc && a->topo[0] && s == NATS_OK; i++)
        if (a->topo[i])
            s = natsConnection_Publish(a->nc, subj, a->topo[i], (int)a->topo_len[i]);
    pthread_mutex_unlock(&a->mu);
    if (s != NATS_OK) /* the next beacon period tries again */
        VEIL_LOG_DBG("conflux", "topology not published", "node=%s status=\"%s\"", a->name,
                     natsStatus_GetText(s));
}

/* Records a member seen (a->mu held); true when it is new. */
static bool first_sight(veil_conflux *a, const char *node)
{
    for (size_t i = 0; i < a->n_seen; i++)
        if (strcmp(a->seen[i], node) == 0)
            return false;
    if (a->n_seen == a->cap_seen) {
        size_t cap = a->cap_seen ? 2 * a->cap_seen : 16;
        char(*n)[64] = realloc(a->seen, cap * sizeof *n);
        if (!n)
            return false;
        a->seen = n;
        a->cap_seen = cap;
    }
    snprintf(a->seen[a->n_seen++], sizeof a->seen[0], "%s", node);
    return true;
}

/* The subject's last token (the publishing or revoked node). */
static const char *subject_node(natsMsg *msg)
{
    const char *dot = strrchr(natsMsg_GetSubject(msg), '.');
    return dot ? dot + 1 : "";
}

static void on_topo_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    veil_conflux *a = closure;
    const char *node = subject_node(msg);
    pthread_mutex_lock(&a->mu);
    bool own = strcmp(node, a->name) == 0;
    if (!own && first_sight(a, node)) {
        a->topo_now = true; /* answer a newcomer at once, not at the next beacon */
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    int len = natsMsg_GetDataLength(msg);
    if (!own && len > 0 && len <= TOPO_MAX && a->hooks.on_topo)
        a->hooks.on_topo(a->hooks.arg, node, (const uint8_t *)natsMsg_GetData(msg), (size_t)len);
    natsMsg_Destroy(msg);
}

/* Records a revoked identity (a->mu held); true when it is new. */
static bool first_revocation(veil_conflux *a, const uint8_t id[32])
{
    for (size_t i = 0; i < a->n_revoked; i++)
        if (memcmp(a->revoked[i], id, 32) == 0)
            return false;
    uint8_t(*n)[32] =
        veil_array_reserve(a->revoked, &a->cap_revoked, a->n_revoked, sizeof *a->revoked);
    if (!n)
        return true; /* tell the host again rather than never */
    a->revoked = n;
    memcpy(a->revoked[a->n_revoked++], id, 32);
    return true;
}

static void on_revoked_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    veil_conflux *a = closure;
    veil_ctl_cmd c;
    veil_err err = {0};
    uint8_t id[32];
    int rc = veil_ctl_cmd_decode((const uint8_t *)natsMsg_GetData(msg),
                                 (size_t)natsMsg_GetDataLength(msg), &c, &err);
    pthread_mutex_lock(&a->mu);
    if (rc == 0)
        rc = veil_ctl_revoked_check(&c, natsMsg_GetSubject(msg), a->guardian_pub,
                                    veil_conflux_now_ms(), id, &err);
    bool fresh = rc == 0 && first_revocation(a, id);
    pthread_mutex_unlock(&a->mu);
    natsMsg_Destroy(msg);
    if (rc != 0) {
        VEIL_LOG_WARNING("conflux", "revocation notice refused", "node=%s err=\"%s\"", a->name,
                         err.msg);
        return;
    }
    if (!fresh)
        return;
    VEIL_LOG_INF("conflux", "peer revoked by Guardian", "node=%s peer=%s", a->name, c.node_id);
    if (a->hooks.on_revoked)
        a->hooks.on_revoked(a->hooks.arg, c.node_id, id);
}

/* ---- routing signals ---- */

#define PATH_MAX_BYTES 1024

int veil_conflux_publish_path(veil_conflux *a, const char *dst, const uint8_t *data, size_t len,
                              veil_err *err)
{
    char subj[VEIL_SUBJECT_MAX];
    if (len == 0 || len > PATH_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "conflux: a path signal of %zu bytes", len);
    if (veil_subject(subj, VEIL_SUBJ_PATH, a->realm, dst, a->name, err) != 0)
        return -1;
    pthread_mutex_lock(&a->mu);
    natsStatus s =
        a->nc ? natsConnection_Publish(a->nc, subj, data, (int)len) : NATS_CONNECTION_CLOSED;
    pthread_mutex_unlock(&a->mu);
    return s == NATS_OK ? 0 : cfx_nats_err(err, s, "publishing a path signal");
}

static void on_path_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    veil_conflux *a = closure;
    int len = natsMsg_GetDataLength(msg);
    if (len > 0 && len <= PATH_MAX_BYTES && a->hooks.on_path)
        a->hooks.on_path(a->hooks.arg, subject_node(msg), (const uint8_t *)natsMsg_GetData(msg),
                         (size_t)len);
    natsMsg_Destroy(msg);
}

static int subscribe_path(veil_conflux *a, natsConnection *nc, struct cfx_subs *subs, veil_err *err)
{
    char path[VEIL_SUBJECT_MAX];
    if (!a->hooks.on_path)
        return 0;
    if (veil_subject(path, VEIL_SUBJ_PATH, a->realm, a->name, "*", err) != 0)
        return -1;
    natsStatus s = natsConnection_Subscribe(&subs->path, nc, path, on_path_msg, a);
    return s == NATS_OK ? 0 : cfx_nats_err(err, s, "subscribing to path signals");
}

int cfx_subscribe_dataplane(veil_conflux *a, natsConnection *nc, struct cfx_subs *subs,
                            veil_err *err)
{
    if (subscribe_path(a, nc, subs, err) != 0)
        return -1;
    char topo[VEIL_SUBJECT_MAX], rev[VEIL_SUBJECT_MAX];
    if (!a->hooks.on_topo && !a->hooks.on_revoked)
        return 0;
    if (veil_subject(topo, VEIL_SUBJ_TOPO, a->realm, "*", NULL, err) != 0 ||
        veil_subject(rev, VEIL_SUBJ_REVOKED, a->realm, "*", NULL, err) != 0)
        return -1;
    natsStatus s = natsConnection_Subscribe(&subs->topo, nc, topo, on_topo_msg, a);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&subs->revoked, nc, rev, on_revoked_msg, a);
    return s == NATS_OK ? 0 : cfx_nats_err(err, s, "subscribing to topology and revocations");
}

void cfx_dataplane_free(veil_conflux *a)
{
    for (unsigned i = 0; i < VEIL_CONFLUX_TOPO_SLOTS; i++) {
        free(a->topo[i]);
        a->topo[i] = NULL;
    }
    free(a->seen);
    free(a->revoked);
    a->seen = NULL;
    a->revoked = NULL;
}
