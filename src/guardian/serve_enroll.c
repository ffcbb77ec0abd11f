// SPDX-License-Identifier: Apache-2.0
/*
 * serve_enroll.c - Guardian's admission of nodes: the stateless challenge,
 * the proof of possession, the three ways in (a one-time token, an active
 * registration in a VeilRegistry cluster bound to a realm, or the renewal of
 * an enrolled, unrevoked identity), and the issuance of the node's NATS user
 * JWT and mTLS certificate. Every request and answer goes to the audit log.
 */
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h" /* transactions */
#include "serve_int.h"

struct admitted {
    char realm[VEIL_GUARDIAN_NAME_MAX + 1];
    veil_strlist taints; /* for a new node */
    bool is_new;
    const char *how;
};

static void key_hex(const uint8_t pub[32], char out[65])
{
    (void)veil_hex_encode(out, 65, pub, 32);
}

/* The registry address that registered `key` as a peer, all zero when the
 * registry does not know the key (the node joined by token). */
static int registry_node_of_key(struct serve *sv, const uint8_t key[32], veil_eth_address *out,
                                veil_err *err)
{
    veil_abi_value args, ret;
    veil_eth_address contract;
    veil_buf data;
    veil_buf_init(&data);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    int rc = -1;
    if (veil_abi_set_list(&args, VEIL_ABI_TUPLE, 1) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (veil_abi_set_bytes(&args.items[0], key, 32) != 0) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    if (veil_abi_encode_call("nodeByPeerId(bytes)", &args, &data, err) != 0)
        goto out;
    if (veil_chain_client_contract(sv->chain, &contract) != 0) {
        veil_err_set(err, VEIL_E_STATE, "registry: the chain client has no contract address");
        goto out;
    }
    if (veil_rpc_eth_call(veil_chain_client_rpc(sv->chain), NULL, &contract, data.data, data.len,
                          &raw, &raw_len, err) != 0 ||
        veil_abi_decode_text("(address)", raw, raw_len, &ret, err) != 0)
        goto out;
    memcpy(out->b, ret.items[0].word + 12, 20);
    veil_abi_value_clear(&ret);
    rc = 0;
out:
    free(raw);
    veil_buf_free(&data);
    veil_abi_value_clear(&args);
    return rc;
}

/* A renewing node that the registry knows must still be active in the
 * cluster bound to its realm: deactivation on chain ends its renewals. */
static int recheck_registry(struct serve *sv, const char *realm, const uint8_t key[32],
                            veil_err *err)
{
    struct veil_guardian_realm r;
    veil_eth_address addr, op;
    static const uint8_t zero[20];
    if (!sv->chain)
        return 0;
    if (veil_guardian_realm_get(sv->g, realm, &r, err) != 0)
        return -1;
    if (r.chain_cluster == 0)
        return 0;
    if (registry_node_of_key(sv, key, &addr, err) != 0)
        return veil_err_wrap(err, "registry lookup");
    if (memcmp(addr.b, zero, 20) == 0)
        return 0;
    uint64_t cluster = 0;
    bool active = false;
    uint8_t peer_key[32];
    if (veil_contract_get_node(sv->chain, &addr, &cluster, &op, &active, peer_key, err) != 0)
        return veil_err_wrap(err, "registry lookup");
    if (!active || cluster != r.chain_cluster)
        return veil_err_set(err, VEIL_E_PERMISSION, "node is no longer active in cluster %llu",
                            (unsigned long long)r.chain_cluster);
    return 0;
}

static int admit_existing(struct serve *sv, const veil_ctl_prove *p, const char *realm,
                          struct admitted *ad, bool *found, veil_err *err)
{
    struct veil_guardian_node n;
    veil_err e2 = {0};
    *found = false;
    if (veil_guardian_node_get(sv->g, p->name, &n, &e2) != 0)
        return e2.code == VEIL_E_NOTFOUND ? 0 : veil_err_set(err, e2.code, "%s", e2.msg);
    *found = true;
    char hex[65];
    key_hex(p->challenge.node_pub, hex);
    int rc = 0;
    if (strcmp(n.identity, hex) != 0)
        rc = veil_err_set(err, VEIL_E_PERMISSION, "name '%s' belongs to another key", p->name);
    else if (n.revoked)
        rc = veil_err_set(err, VEIL_E_PERMISSION, "node '%s' is revoked", p->name);
    else if (realm && strcmp(realm, n.realm) != 0)
        rc = veil_err_set(err, VEIL_E_PERMISSION, "node '%s' is not in realm %s", p->name, realm);
    if (rc == 0)
        rc = recheck_registry(sv, n.realm, p->challenge.node_pub, err);
    if (rc == 0) {
        snprintf(ad->realm, sizeof ad->realm, "%s", n.realm);
        ad->how = "renew";
    }
    veil_guardian_node_free(&n);
    return rc;
}

static int admit_by_chain(struct serve *sv, const veil_ctl_prove *p, struct admitted *ad,
                          veil_err *err)
{
    if (!sv->chain)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "on-chain enrollment is not enabled");
    veil_eth_address addr, op;
    memcpy(addr.b, p->eth_address, 20);
    uint64_t cluster = 0;
    bool active = false;
    uint8_t peer_key[32];
    if (veil_contract_get_node(sv->chain, &addr, &cluster, &op, &active, peer_key, err) != 0)
        return veil_err_wrap(err, "registry lookup");
    if (cluster != p->cluster_id || !active)
        return veil_err_set(err, VEIL_E_PERMISSION, "node is not active in cluster %llu",
                            (unsigned long long)p->cluster_id);
    if (!veil_memeq_ct(peer_key, p->challenge.node_pub, 32))
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "the registered peer ID is not this node's identity key");
    struct veil_guardian_realm r;
    if (veil_guardian_realm_for_cluster(sv->g, cluster, &r, err) != 0)
        return veil_err_wrap(err, "cluster %llu", (unsigned long long)cluster);
    snprintf(ad->realm, sizeof ad->realm, "%s", r.name);
    ad->how = "chain";
    ad->is_new = true;
    return 0;
}

static int admit_new(struct serve *sv, const veil_ctl_prove *p, struct admitted *ad, veil_err *err)
{
    if (p->method == VEIL_CTL_BY_TOKEN) {
        struct veil_guardian_token_info t;
        if (veil_guardian_token_redeem(sv->g, p->token, (int64_t)(serve_now_ms() / 1000), &t,
                                       err) != 0)
            return -1;
        snprintf(ad->realm, sizeof ad->realm, "%s", t.realm);
        ad->taints = t.taints;
        t.taints.items = NULL;
        t.taints.n = 0;
        veil_guardian_token_info_free(&t);
        ad->how = "token";
        ad->is_new = true;
        return 0;
    }
    if (p->method == VEIL_CTL_BY_CHAIN)
        return admit_by_chain(sv, p, ad, err);
    return veil_err_set(err, VEIL_E_PERMISSION, "node '%s' is not enrolled", p->name);
}

static int csv_of(const veil_strlist *l, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t n = strlen(out);
        if (snprintf(out + n, cap - n, "%s%s", i ? "," : "", l->items[i]) >= (int)(cap - n))
            return -1;
    }
    return 0;
}

static int issue(struct serve *sv, const veil_ctl_prove *p, const struct admitted *ad,
                 veil_ctl_result *res, uint64_t *serial, veil_err *err)
{
    char nk[VEIL_NKEY_PUBLIC_LEN + 1], hex[65], taints[256];
    veil_nkey idk = {.type = VEIL_NKEY_USER};
    memcpy(idk.pub, p->challenge.node_pub, 32);
    veil_nkey_public_text(&idk, nk);
    key_hex(p->challenge.node_pub, hex);
    struct veil_guardian_issue_req req = {.realm = ad->realm,
                                          .name = p->name,
                                          .taints = ad->is_new ? &ad->taints : NULL,
                                          .ttl_s = sv->ttl_s,
                                          .max_payload = sv->max_payload,
                                          .user_key = nk,
                                          .identity = hex};
    struct veil_guardian_issued iss = {0};
    struct veil_ca_leaf leaf = {0};
    struct veil_guardian_node n = {0};
    char *pub_pem = NULL;
    int rc = -1;
    if (veil_guardian_issue(sv->g, &req, &iss, err) != 0 ||
        serve_ed25519_pub_pem(p->challenge.node_pub, &pub_pem, err) != 0 ||
        veil_guardian_issue_cert(sv->g, ad->realm, p->name, pub_pem, sv->cert_ttl_s, &leaf, err) !=
            0 ||
        veil_guardian_node_get(sv->g, p->name, &n, err) != 0)
        goto out;
    if (csv_of(&n.taints, taints, sizeof taints) != 0) {
        veil_err_set(err, VEIL_E_LIMIT, "taint list too long");
        goto out;
    }
    int64_t exp = iss.expires < leaf.not_after ? iss.expires : leaf.not_after;
    res->ok = true;
    res->realm = strdup(ad->realm);
    res->node_id = strdup(p->name);
    res->taints = strdup(taints);
    res->jwt = iss.jwt;
    iss.jwt = NULL;
    res->cert_pem = strdup(leaf.chain_pem);
    res->ca_pem = strdup(sv->ca_pem);
    res->expires_ms = (uint64_t)exp * 1000u;
    memcpy(res->cmd_pub, veil_guardian_command_key(sv->g)->pub, 32);
    if (!res->realm || !res->node_id || !res->taints || !res->cert_pem || !res->ca_pem) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    *serial = iss.serial;
    rc = 0;
out:
    veil_guardian_node_free(&n);
    free(pub_pem);
    veil_ca_leaf_free(&leaf);
    veil_guardian_issued_free(&iss);
    return rc;
}

/* Admission + issuance, sv->mu held. */
static int admit_and_issue_tx(struct serve *sv, const char *realm, const veil_ctl_prove *p,
                              veil_ctl_result *res, struct admitted *ad, uint64_t *serial,
                              veil_err *err)
{
    bool found = false;
    if (admit_existing(sv, p, realm, ad, &found, err) != 0)
        return -1;
    if (!found && realm)
        return veil_err_set(err, VEIL_E_PERMISSION, "node '%s' is not enrolled", p->name);
    if (!found && admit_new(sv, p, ad, err) != 0)
        return -1;
    return issue(sv, p, ad, res, serial, err);
}

/* Admission + issuance with sv->mu held, in one transaction: the token's
 * redemption, the node, serial and audit records commit together (one
 * fsync instead of five), before the answer leaves; a refusal rolls all of
 * it back, so a token is spent only by an enrollment that succeeded. */
static int admit_and_issue(struct serve *sv, const char *realm, const veil_ctl_prove *p,
                           veil_ctl_result *res, struct admitted *ad, uint64_t *serial,
                           veil_err *err)
{
    bool outer;
    if (guardian_tx_begin(sv->g, &outer, err) != 0)
        return -1;
    int rc = admit_and_issue_tx(sv, realm, p, res, ad, serial, err);
    return guardian_tx_end(sv->g, outer, rc, err);
}

static void audit(struct serve *sv, const char *actor, const char *action, const char *detail)
{
    veil_err err = {0};
    if (veil_guardian_audit(sv->g, actor, action, detail, &err) != 0)
        VEIL_LOG_ERR("guardian", "audit write failed", "err=\"%s\"", err.msg);
}

static void answer_prove(struct serve *sv, const char *realm, const char *node, const uint8_t *data,
                         size_t len, veil_ctl_result *res)
{
    veil_ctl_prove p;
    veil_err err = {0};
    struct admitted ad = {.how = "?"};
    uint64_t serial = 0;
    char actor[VEIL_CTL_MAX_STR + 8] = "node:?", fp[17] = "-", detail[VEIL_ERR_MSG_MAX + 64];
    int rc = veil_ctl_prove_decode(data, len, &p, &err);
    if (rc == 0) {
        snprintf(actor, sizeof actor, "node:%s", p.name);
        veil_log_fingerprint(fp, p.challenge.node_pub, 32);
        if (veil_ctl_challenge_check(&p.challenge, sv->challenge_key, p.challenge.node_pub,
                                     serve_now_ms(), &err) != 0 ||
            veil_ctl_prove_verify(&p, &err) != 0)
            rc = -1;
        else if (!veil_guardian_name_valid(p.name))
            rc = veil_err_set(&err, VEIL_E_INVALID, "node name: want 1-63 of [A-Za-z0-9_-]");
        else if (node && strcmp(node, p.name) != 0)
            rc = veil_err_set(&err, VEIL_E_PERMISSION, "renewal subject names another node");
    }
    if (rc == 0) {
        pthread_mutex_lock(&sv->mu);
        rc = admit_and_issue(sv, realm, &p, res, &ad, &serial, &err);
        pthread_mutex_unlock(&sv->mu);
    }
    veil_strlist_free(&ad.taints);
    if (rc != 0) {
        veil_ctl_result_free(res);
        res->ok = false;
        res->error = strdup(err.msg);
        snprintf(detail, sizeof detail, "key=%s refused=\"%s\"", fp, err.msg);
    } else {
        snprintf(detail, sizeof detail, "key=%s via=%s realm=%s serial=%llu expires_ms=%llu", fp,
                 ad.how, res->realm, (unsigned long long)serial,
                 (unsigned long long)res->expires_ms);
    }
    pthread_mutex_lock(&sv->mu);
    audit(sv, actor, realm ? "renew" : "enroll", detail);
    pthread_mutex_unlock(&sv->mu);
    VEIL_LOG_INF("guardian", rc == 0 ? "credentials issued" : "enrollment refused", "%s %s", actor,
                 detail);
    veil_memzero(&p, sizeof p);
}

static void answer_hello(struct serve *sv, const uint8_t *data, size_t len, veil_buf *out,
                         veil_ctl_result *res)
{
    veil_ctl_challenge ch = {0};
    veil_err err = {0};
    if (veil_ctl_hello_decode(data, len, ch.node_pub, &err) != 0) {
        res->error = strdup(err.msg);
        return;
    }
    veil_random_bytes(ch.nonce, sizeof ch.nonce);
    ch.issued_ms = serve_now_ms();
    veil_ctl_challenge_mac(&ch, sv->challenge_key, ch.mac);
    if (veil_ctl_challenge_encode(&ch, out, &err) != 0)
        res->error = strdup(err.msg);
}

void serve_answer(struct serve *sv, const char *realm, const char *node, const uint8_t *data,
                  size_t len, veil_buf *out)
{
    veil_ctl_result res = {0};
    veil_err err = {0};
    if (len >= 2 && data[1] == VEIL_CTL_HELLO) {
        answer_hello(sv, data, len, out, &res);
        if (!res.error)
            return;
    } else if (len >= 2 && data[1] == VEIL_CTL_PROVE) {
        answer_prove(sv, realm, node, data, len, &res);
    } else {
        res.error = strdup("expected a HELLO or PROVE message");
    }
    veil_buf_reset(out);
    if (veil_ctl_result_encode(&res, out, &err) != 0) {
        veil_buf_reset(out);
        veil_ctl_result no = {.ok = false, .error = "internal error"};
        if (veil_ctl_result_encode(&no, out, &err) != 0)
            VEIL_LOG_ERR("guardian", "cannot encode a refusal", "err=\"%s\"", err.msg);
    }
    veil_ctl_result_free(&res);
}
