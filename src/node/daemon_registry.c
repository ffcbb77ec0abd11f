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
 * After the start every chain read of this file runs on a libuv worker
 * (issue 18: a hanging RPC must not stall the loop, which also answers
 * SWIM): one registry job in flight at a time - the follower's poll with
 * the node records its events name, or after a start from the store the
 * whole member set and the policy - and what it read is applied on the
 * loop thread (the gater's set, the store, the policy cache). The gater
 * never reads the chain itself: an unknown peer is refused and a poll
 * started, so its next dial finds it admitted.
 */
#include <stdio.h>
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
 * (malloc'd) and *n. Touches no daemon state: also run on a worker. */
static int registry_read_chain(veil_chain_client *chain, uint64_t cluster_id,
                               struct veil_store_chain_member **v, size_t *n, veil_err *err)
{
    veil_eth_address *nodes = NULL;
    size_t m = 0, k = 0;
    if (veil_contract_active_nodes(chain, cluster_id, &nodes, &m, err) != 0)
        return -1;
    struct veil_store_chain_member *out = calloc(m ? m : 1, sizeof *out);
    int rc = out ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < m; i++) {
        uint64_t cid;
        veil_eth_address op;
        bool active;
        rc = veil_contract_get_node(chain, &nodes[i], &cid, &op, &active, out[k].ed25519, err);
        if (rc == 0 && active && cid == cluster_id)
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
    if (registry_read_chain(d->chain, d->cluster_id, &v, &n, err) != 0)
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

/* One confirmed registry event of this cluster as the worker read it: a
 * PolicyChanged (its version), or a node's change with the node's current
 * record on chain (the event only says which node changed, so a replayed or
 * reordered event cannot re-admit a node deactivated since). */
struct reg_change {
    bool policy;
    uint64_t version;
    uint64_t block;
    veil_eth_address node;
    bool looked_up; /* the record was read (else lookup_err) */
    bool member;    /* active in this cluster */
    uint8_t key[32];
    char lookup_err[160];
};

/* The registry's chain job: the follower's poll (a copy of the follower,
 * written back on the loop), or the whole read after a start from the store. */
struct reg_job {
    uv_work_t work;
    veil_daemon *d;
    veil_chain_client *chain;
    veil_eth_address contract;
    uint64_t cluster_id, confirmations;
    bool reload;
    veil_log_follower follower;
    int rc;
    veil_err err;
    struct reg_change *changes;
    size_t n_changes, cap;
    /* reload: the member set at head, and the policy (policy_rc) */
    uint64_t head;
    struct veil_store_chain_member *members;
    size_t n_members;
    int policy_rc;
    veil_err policy_err;
    veil_contract_policy policy;
};

static struct reg_change *change_add(struct reg_job *j)
{
    if (j->n_changes == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 8;
        struct reg_change *c = realloc(j->changes, cap * sizeof *c);
        if (!c)
            return NULL;
        j->changes = c;
        j->cap = cap;
    }
    struct reg_change *c = &j->changes[j->n_changes++];
    memset(c, 0, sizeof *c);
    return c;
}

/* On the worker, per confirmed log: what it means for this cluster. */
static int collect_log(const veil_eth_log *log, void *user)
{
    struct reg_job *j = user;
    veil_contract_policy_event pe;
    veil_contract_node_event ev;
    bool policy = veil_contract_decode_policy_log(log, &pe) == 0;
    if (policy ? pe.cluster_id != j->cluster_id
               : veil_contract_decode_node_log(log, &ev) != 0 || ev.cluster_id != j->cluster_id)
        return 0; /* another event, or another cluster's */
    struct reg_change *c = change_add(j);
    if (!c)
        return veil_err_set(&j->err, VEIL_E_NOMEM, "out of memory");
    c->policy = policy;
    c->block = log->block_number;
    if (policy) {
        c->version = pe.version;
        return 0;
    }
    c->node = ev.node;
    uint64_t cid;
    veil_eth_address op;
    bool active;
    veil_err err = {0};
    c->looked_up =
        veil_contract_get_node(j->chain, &ev.node, &cid, &op, &active, c->key, &err) == 0;
    c->member = c->looked_up && active && cid == j->cluster_id;
    if (!c->looked_up)
        snprintf(c->lookup_err, sizeof c->lookup_err, "%.159s", err.msg);
    return 0;
}

/* On the loop: one change into the gater's set and the store. */
static void apply_change(veil_daemon *d, const struct reg_change *c)
{
    if (c->policy) {
        veil_daemon_policy_changed(d, c->version);
        return;
    }
    char node_text[43];
    veil_eth_address_format(&c->node, node_text);
    if (!c->looked_up) {
        veil_log(VEIL_LOG_WARN, SUB, "registry lookup failed", "node=%s error=\"%s\"", node_text,
                 c->lookup_err);
    } else if (c->member) {
        if (!registry_has(d, c->key))
            veil_log(VEIL_LOG_INFO, SUB, "node registered on chain", "node=%s block=%llu",
                     node_text, (unsigned long long)c->block);
        registry_add(d, c->key);
        registry_keep(d, &c->node, c->key, c->block);
    } else {
        if (registry_has(d, c->key))
            veil_log(VEIL_LOG_INFO, SUB, "node deactivated on chain", "node=%s block=%llu",
                     node_text, (unsigned long long)c->block);
        registry_remove(d, c->key);
        registry_keep(d, &c->node, NULL, c->block);
    }
}

static int registry_read_chain(veil_chain_client *chain, uint64_t cluster_id,
                               struct veil_store_chain_member **v, size_t *n, veil_err *err);

static void reg_work(uv_work_t *w)
{
    struct reg_job *j = w->data;
    if (!j->reload) {
        j->rc = veil_log_follower_poll(&j->follower, veil_chain_client_rpc(j->chain), &j->contract,
                                       collect_log, j, &j->err);
        return;
    }
    j->rc = veil_rpc_block_number(veil_chain_client_rpc(j->chain), &j->head, &j->err);
    if (j->rc == 0)
        j->rc = registry_read_chain(j->chain, j->cluster_id, &j->members, &j->n_members, &j->err);
    if (j->rc == 0)
        j->policy_rc =
            veil_contract_get_policy(j->chain, j->cluster_id, &j->policy, &j->policy_err);
}

static void registry_sweep(veil_daemon *d);

/* On the loop: the chain is back after a start from the store. */
static void apply_reload(veil_daemon *d, struct reg_job *j)
{
    veil_err err = {0}, store_err = {0};
    if (j->rc != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "chain still unreachable", "error=\"%s\"", j->err.msg);
        return;
    }
    if (registry_adopt(d, j->members, j->n_members, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "registry members not adopted", "error=\"%s\"", err.msg);
        return;
    }
    if (veil_store_chain_members_put(d->store, d->cluster_id, j->head, j->members, j->n_members,
                                     &store_err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "registry members not stored", "error=\"%s\"", store_err.msg);
    veil_log_follower_init(&d->follower, j->head + 1, j->confirmations);
    d->chain_from_store = false;
    int rc = j->policy_rc;
    if (rc == 0)
        rc = veil_daemon_policy_set(d, &j->policy, "chain back", &j->policy_err);
    else
        veil_err_wrap(&j->policy_err, "reading the cluster policy");
    veil_log(VEIL_LOG_INFO, SUB, "chain reachable again: read the policy and members",
             "block=%llu members=%zu policy=%s error=\"%s\"",
             (unsigned long long)(d->follower.next_block - 1), d->n_allowed,
             rc == 0 ? "read" : "unreadable", rc == 0 ? "" : j->policy_err.msg);
}

static void reg_after(uv_work_t *w, int status)
{
    struct reg_job *j = w->data;
    veil_daemon *d = j->d;
    d->works--;
    d->registry_busy = false;
    if (status != 0 && j->rc == 0)
        j->rc = veil_err_set(&j->err, VEIL_E_INTERNAL, "registry read cancelled");
    if (!d->stopping && j->reload) {
        apply_reload(d, j);
    } else if (!d->stopping) {
        /* the follower moves on only past what was read and applied */
        d->follower = j->follower;
        for (size_t i = 0; i < j->n_changes; i++)
            apply_change(d, &j->changes[i]);
        if (j->rc != 0)
            veil_log(VEIL_LOG_WARN, SUB, "registry events not read", "error=\"%s\"", j->err.msg);
        veil_daemon_policy_tick(d); /* a policy changed on chain applies now */
        registry_sweep(d);
    }
    veil_contract_policy_clear(&j->policy);
    free(j->members);
    free(j->changes);
    free(j);
    if (d->stopping)
        veil_daemon_maybe_free(d);
}

/* Starts the registry's chain job unless one is in flight: the follower's
 * poll, or (after a start from the store) the whole read. */
static void registry_follow(veil_daemon *d)
{
    if (d->registry_busy || d->stopping)
        return;
    struct reg_job *j = calloc(1, sizeof *j);
    if (!j) {
        veil_log(VEIL_LOG_WARN, SUB, "registry events not read", "error=\"out of memory\"");
        return;
    }
    j->work.data = j;
    j->d = d;
    j->chain = d->chain;
    j->contract = d->contract;
    j->cluster_id = d->cluster_id;
    j->confirmations = (uint64_t)veil_config_int(d->cfg, "chain.confirmations", 2);
    j->reload = d->chain_from_store;
    j->follower = d->follower;
    d->followed_at_ms = uv_now(d->loop);
    if (uv_queue_work(d->loop, &j->work, reg_work, reg_after) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "registry events not read", "error=\"cannot queue\"");
        free(j);
        return;
    }
    d->registry_busy = true;
    d->works++;
}

static bool peer_allowed(veil_daemon *d, const veil_p2p_peer_id *peer)
{
    uint8_t key[32];
    if (veil_p2p_peer_id_ed25519_key(peer, key, NULL) != 0)
        return false; /* every Veil node has an Ed25519 identity */
    if (registry_has(d, key))
        return true;
    /* A node may have registered since the last look: the new confirmed
     * events are read on a worker (rate limited); this dial is refused, the
     * peer's next one finds it admitted. */
    if (uv_now(d->loop) - d->followed_at_ms >= REGISTRY_FOLLOW_MS)
        registry_follow(d);
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

/* The peers deactivated on chain (the events just applied, or the gater's
 * set otherwise) lose their connections. */
static void registry_sweep(veil_daemon *d)
{
    if (!d->host)
        return;
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

/* New registry events are read on a worker (after a start from the stored
 * copies: the whole set and the policy, until the chain answers); they are
 * applied, and the peers deactivated swept, when the read is back. */
void veil_daemon_registry_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    registry_follow(d);
    registry_sweep(d);
}
