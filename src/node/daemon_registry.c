// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_registry.c - veild's view of the on-chain registry and the
 * connection gater it feeds: only peers registered and active in this
 * cluster get in. The registry is read once at start, then followed through
 * its NodeRegistered/NodeDeactivated events (the chain client's log follower
 * at chain.confirmations depth); a node deactivated on chain is disconnected
 * and refused. A PolicyChanged event of this cluster marks the cached
 * policy (daemon_policy.c) stale; the registry tick reads it again.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_policy.h"

#define REGISTRY_FOLLOW_MS 1000 /* at most one on-demand look at new blocks per second */

/* Loads the Ed25519 keys of the cluster's active nodes from the chain (once,
 * at start: afterwards the registry's events keep the set current). */
static int registry_refresh(veil_daemon *d, veil_err *err)
{
    veil_eth_address *nodes = NULL;
    size_t n = 0;
    if (veil_contract_active_nodes(d->chain, d->cluster_id, &nodes, &n, err) != 0)
        return -1;
    uint8_t(*keys)[32] = calloc(n ? n : 1, 32);
    if (!keys) {
        free(nodes);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t cid;
        veil_eth_address op;
        bool active;
        if (veil_contract_get_node(d->chain, &nodes[i], &cid, &op, &active, keys[k], err) != 0) {
            free(nodes);
            free(keys);
            return -1;
        }
        if (active && cid == d->cluster_id)
            k++;
    }
    free(nodes);
    free(d->allowed);
    d->allowed = keys;
    d->n_allowed = k;
    return 0;
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
    } else if (registry_has(d, key)) {
        veil_log(VEIL_LOG_INFO, SUB, "node deactivated on chain", "node=%s block=%llu", node_text,
                 (unsigned long long)log->block_number);
        registry_remove(d, key);
    }
    return 0;
}

/* Applies the registry events confirmed since the last look. */
static void registry_follow(veil_daemon *d)
{
    veil_err err = {0};
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
int veil_daemon_registry_load(veil_daemon *d, veil_err *err)
{
    uint64_t head = 0;
    if (veil_rpc_block_number(veil_chain_client_rpc(d->chain), &head, err) != 0 ||
        registry_refresh(d, err) != 0)
        return veil_err_wrap(err, "reading the cluster's nodes from the registry");
    veil_log_follower_init(&d->follower, head + 1,
                           (uint64_t)veil_config_int(d->cfg, "chain.confirmations", 2));
    d->followed_at_ms = uv_now(d->loop);
    return 0;
}

/* New registry events, then the peers deactivated on chain (the events just
 * applied, or applied by the gater since the last tick) lose their
 * connections. */
void veil_daemon_registry_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
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
