// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_registry.c - veild's view of the on-chain registry and the
 * connection gater it feeds: only peers registered and active in this
 * cluster get in. The registry is read once at start, then followed through
 * its NodeRegistered/NodeDeactivated events (the chain client's log follower
 * at chain.confirmations depth); a node deactivated on chain is disconnected
 * and refused. A PolicyChanged event of this cluster marks the cached
 * policy (daemon_policy.c) stale; the registry tick reads it again.
 * Each read of the member set and each change is kept in the node's store
 * with its block (issue 18): a node restarted while the chain RPC is
 * unreachable admits the stored members, and its registry tick reads the
 * chain again (members, then the policy) until it answers.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_policy.h"

#define REGISTRY_FOLLOW_MS 1000 /* at most one on-demand look at new blocks per second */

/* The members' keys become the gater's set (v is the caller's). */
static int registry_adopt(veil_daemon *d, const struct veil_store_chain_member *v, size_t n,
                          veil_err *err)
{
    uint8_t(*keys)[32] = calloc(n ? n : 1, 32);
    if (!keys)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        memcpy(keys[i], v[i].ed25519, 32);
    free(d->allowed);
    d->allowed = keys;
    d->n_allowed = n;
    return 0;
}

/* The cluster's active nodes (address, Ed25519 key) from the chain: *v
 * (malloc'd) and *n. */
static int registry_read(veil_daemon *d, struct veil_store_chain_member **v, size_t *n,
                         veil_err *err)
{
    veil_eth_address *nodes = NULL;
    size_t m = 0, k = 0;
    if (veil_contract_active_nodes(d->chain, d->cluster_id, &nodes, &m, err) != 0)
        return -1;
    struct veil_store_chain_member *out = calloc(m ? m : 1, sizeof *out);
    int rc = out ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < m; i++) {
        uint64_t cid;
        veil_eth_address op;
        bool active;
        rc = veil_contract_get_node(d->chain, &nodes[i], &cid, &op, &active, out[k].ed25519, err);
        if (rc == 0 && active && cid == d->cluster_id)
            memcpy(out[k++].address, nodes[i].b, 20);
    }
    free(nodes);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *v = out;
    *n = k;
    return 0;
}

/* Loads the cluster's active nodes from the chain at `head` into the gater
 * and the store (at start, and when the chain is back after a start from
 * the store: afterwards the registry's events keep the set current). */
static int registry_refresh(veil_daemon *d, uint64_t head, veil_err *err)
{
    struct veil_store_chain_member *v = NULL;
    size_t n = 0;
    veil_err store_err = {0};
    if (registry_read(d, &v, &n, err) != 0)
        return -1;
    int rc = registry_adopt(d, v, n, err);
    if (rc == 0 &&
        veil_store_chain_members_put(d->store, d->cluster_id, head, v, n, &store_err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "registry members not stored", "error=\"%s\"", store_err.msg);
    free(v);
    return rc;
}

/* A member's change at `block` into the store (key NULL: removed). */
static void registry_keep(veil_daemon *d, const veil_eth_address *node, const uint8_t *key,
                          uint64_t block)
{
    veil_err err = {0};
    if (veil_store_chain_member_set(d->store, d->cluster_id, block, node->b, key, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "registry change not stored", "error=\"%s\"", err.msg);
}

static bool registry_has(const veil_daemon *d, const uint8_t key[32])
{
    for (size_t i = 0; i < d->n_allowed; i++)
        if (memcmp(d->allowed[i], key, 32) == 0)
            return true;
    return false;
}

static void registry_add(veil_daemon *d, const uint8_t key[32])
{
    if (registry_has(d, key))
        return;
    uint8_t(*keys)[32] = realloc(d->allowed, (d->n_allowed + 1) * 32);
    if (!keys)
        return;
    d->allowed = keys;
    memcpy(d->allowed[d->n_allowed++], key, 32);
}

/* Drops a key. Its peer's connections are closed by the sweep that follows
 * every registry_follow on the poll timer (not here: this also runs inside
 * the gater, in the middle of another connection's upgrade). */
static void registry_remove(veil_daemon *d, const uint8_t key[32])
{
    for (size_t i = 0; i < d->n_allowed; i++)
        if (memcmp(d->allowed[i], key, 32) == 0) {
            memcpy(d->allowed[i], d->allowed[--d->n_allowed], 32);
            break;
        }
}

/* A confirmed registry event: NodeRegistered / NodeDeactivated of this
 * cluster. The event only says which node changed; its current record on
 * chain says what it is now (so a replayed or reordered event cannot
 * re-admit a node deactivated since). */
static int on_registry_log(const veil_eth_log *log, void *user)
{
    veil_daemon *d = user;
    veil_contract_policy_event pe;
    if (veil_contract_decode_policy_log(log, &pe) == 0) {
        if (pe.cluster_id == d->cluster_id)
            veil_daemon_policy_changed(d, pe.version);
        return 0;
    }
    veil_contract_node_event ev;
    if (veil_contract_decode_node_log(log, &ev) != 0 || ev.cluster_id != d->cluster_id)
        return 0; /* another event, or another cluster's */
    char node_text[43];
    veil_eth_address_format(&ev.node, node_text);
    uint64_t cid;
    veil_eth_address op;
    bool active;
    uint8_t key[32];
    veil_err err = {0};
    if (veil_contract_get_node(d->chain, &ev.node, &cid, &op, &active, key, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "registry lookup failed", "node=%s error=\"%s\"", node_text,
                 err.msg);
    } else if (active && cid == d->cluster_id) {
        if (!registry_has(d, key))
            veil_log(VEIL_LOG_INFO, SUB, "node registered on chain", "node=%s block=%llu",
                     node_text, (unsigned long long)log->block_number);
        registry_add(d, key);
        registry_keep(d, &ev.node, key, log->block_number);
    } else {
        if (registry_has(d, key))
            veil_log(VEIL_LOG_INFO, SUB, "node deactivated on chain", "node=%s block=%llu",
                     node_text, (unsigned long long)log->block_number);
        registry_remove(d, key);
        registry_keep(d, &ev.node, NULL, log->block_number);
    }
    return 0;
}

/* Applies the registry events confirmed since the last look. */
static void registry_follow(veil_daemon *d)
{
    veil_err err = {0};
    if (d->chain_from_store)
        return; /* the registry tick reads the whole set again first */
    d->followed_at_ms = uv_now(d->loop);
    if (veil_log_follower_poll(&d->follower, veil_chain_client_rpc(d->chain), &d->contract,
                               on_registry_log, d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "registry events not read", "error=\"%s\"", err.msg);
}

static bool peer_allowed(veil_daemon *d, const veil_p2p_peer_id *peer)
{
    uint8_t key[32];
    if (veil_p2p_peer_id_ed25519_key(peer, key, NULL) != 0)
        return false; /* every Veil node has an Ed25519 identity */
    if (registry_has(d, key))
        return true;
    /* A node may have registered since the last look: read the new
     * confirmed events now (rate limited), not the whole registry. */
    if (uv_now(d->loop) - d->followed_at_ms >= REGISTRY_FOLLOW_MS) {
        registry_follow(d);
        return registry_has(d, key);
    }
    return false;
}

bool veil_daemon_registry_gater(veil_p2p_host *host, const veil_p2p_peer_id *peer,
                                const veil_p2p_multiaddr *remote, bool inbound, void *user_data)
{
    (void)host;
    (void)remote;
    veil_daemon *d = user_data;
    bool ok = peer_allowed(d, peer);
    if (!ok)
        veil_log(VEIL_LOG_WARN, SUB, "refused peer not registered in the cluster",
                 "peer=%s inbound=%d", veil_p2p_peer_id_str(peer).s, inbound);
    return ok;
}

/* The registry once, then its events from the block after the one this
 * snapshot saw (an event in between is applied again: harmless, each one is
 * checked against the node's current record). */
static int registry_load_chain(veil_daemon *d, veil_err *err)
{
    uint64_t head = 0;
    if (veil_rpc_block_number(veil_chain_client_rpc(d->chain), &head, err) != 0 ||
        registry_refresh(d, head, err) != 0)
        return -1;
    veil_log_follower_init(&d->follower, head + 1,
                           (uint64_t)veil_config_int(d->cfg, "chain.confirmations", 2));
    d->followed_at_ms = uv_now(d->loop);
    return 0;
}

/* The stored member set into the gater: *found false when none is stored. */
static int registry_load_stored(veil_daemon *d, bool *found, veil_err *err)
{
    struct veil_store_chain_member *v = NULL;
    size_t n = 0;
    uint64_t block = 0;
    if (veil_store_chain_members_get(d->store, d->cluster_id, &v, &n, &block, found, err) != 0)
        return -1;
    int rc = *found ? registry_adopt(d, v, n, err) : 0;
    free(v);
    if (rc == 0 && *found)
        veil_log_follower_init(&d->follower, block + 1,
                               (uint64_t)veil_config_int(d->cfg, "chain.confirmations", 2));
    return rc;
}

int veil_daemon_registry_load(veil_daemon *d, veil_err *err)
{
    veil_err read_err = {0}, store_err = {0};
    int rc = registry_load_chain(d, &read_err);
    bool found = false;
    if (rc != 0 && veil_daemon_chain_unreachable(&read_err) &&
        registry_load_stored(d, &found, &store_err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "stored registry members not read", "error=\"%s\"",
                 store_err.msg);
    switch (veil_daemon_boot_source(rc, &read_err, found)) {
    case VEIL_BOOT_CHAIN:
        return 0;
    case VEIL_BOOT_STORED:
        d->chain_from_store = true;
        return 0;
    default:
        *err = read_err;
        return veil_err_wrap(err, "reading the cluster's nodes from the registry");
    }
}

bool veil_daemon_registry_stored_key(veil_daemon *d, const veil_eth_address *node, uint8_t key[32])
{
    struct veil_store_chain_member *v = NULL;
    size_t n = 0;
    uint64_t block;
    bool found = false, got = false;
    veil_err err = {0};
    if (veil_store_chain_members_get(d->store, d->cluster_id, &v, &n, &block, &found, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "stored registry members not read", "error=\"%s\"", err.msg);
    for (size_t i = 0; i < n && !got; i++)
        if (memcmp(v[i].address, node->b, 20) == 0) {
            memcpy(key, v[i].ed25519, 32);
            got = true;
        }
    free(v);
    return got;
}

/* After a start from the stored copies: the chain is asked again each tick;
 * once it answers, the member set and the policy are read fresh (and kept)
 * and the events are followed from there. */
static void registry_retry_chain(veil_daemon *d)
{
    veil_err err = {0};
    if (registry_load_chain(d, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "chain still unreachable", "error=\"%s\"", err.msg);
        return;
    }
    d->chain_from_store = false;
    int rc = veil_daemon_policy_refresh(d, "chain back", &err);
    veil_log(VEIL_LOG_INFO, SUB, "chain reachable again: read the policy and members",
             "block=%llu members=%zu policy=%s error=\"%s\"",
             (unsigned long long)(d->follower.next_block - 1), d->n_allowed,
             rc == 0 ? "read" : "unreadable", rc == 0 ? "" : err.msg);
}

/* New registry events, then the peers deactivated on chain (the events just
 * applied, or applied by the gater since the last tick) lose their
 * connections. */
void veil_daemon_registry_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    if (d->chain_from_store)
        registry_retry_chain(d);
    registry_follow(d);
    veil_daemon_policy_tick(d); /* a policy changed on chain applies now */
    veil_p2p_conn *conns[64];
    size_t n = veil_p2p_host_conns(d->host, conns, VEIL_ARRAY_LEN(conns));
    if (n > VEIL_ARRAY_LEN(conns))
        n = VEIL_ARRAY_LEN(conns);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[32];
        const veil_p2p_peer_id *p = veil_p2p_conn_peer(conns[i]);
        if (veil_p2p_peer_id_ed25519_key(p, key, NULL) != 0 || !registry_has(d, key)) {
            veil_log(VEIL_LOG_WARN, SUB, "closing peer no longer active on chain", "peer=%s",
                     veil_p2p_peer_id_str(p).s);
            veil_p2p_conn_close(conns[i]);
        }
    }
}
