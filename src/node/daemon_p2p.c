// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_p2p.c - veild's libp2p side: the host (with the registry's gater),
 * gossipsub on the cluster topic, SWIM membership, Kademlia discovery, the
 * scheduler-output protocol on the decryptor, and the bootstrap that dials
 * the bundle's peers (again, from the cron, for each that is not a connected
 * live member).
 */
#include <stdio.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_sync.h"

#define KAD_REFRESH_MS 30000 /* Kademlia bootstrap again: discovers nodes that joined */

static void dial_done(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err,
                      void *user_data)
{
    (void)host;
    (void)user_data;
    if (!conn)
        veil_log(VEIL_LOG_WARN, SUB, "bootstrap dial failed", "error=\"%s\"", err ? err->msg : "?");
}

/* Dials the bootstrap peers and joins SWIM through them. Repeated by a timer
 * for each bootstrap peer that is not a connected live member (it may start
 * later than this node, or the first dials may have formed two groups). */
static int bootstrap(veil_daemon *d, veil_err *err)
{
    const struct veil_config_value *bv = veil_config_get(d->cfg, "libp2p.bootstrap");
    for (size_t i = 0; bv && i < bv->n_items; i++) {
        veil_p2p_multiaddr ma;
        veil_p2p_peer_id pid;
        if (veil_p2p_multiaddr_parse(bv->items[i], &ma, err) != 0)
            return veil_err_wrap(err, "libp2p.bootstrap %s", bv->items[i]);
        if (veil_p2p_multiaddr_peer_id(&ma, &pid, err) != 0)
            return veil_err_wrap(err, "libp2p.bootstrap %s", bv->items[i]);
        if (veil_p2p_peer_id_equal(&pid, &d->self))
            continue; /* ourselves */
        veil_err e2 = {0};
        veil_p2p_multiaddr bare;
        veil_p2p_multiaddr_strip_peer(&ma, &bare);
        if (d->kad &&
            veil_kad_add_address(d->kad, pid.bytes, pid.len, bare.bytes, bare.len, &e2) != 0)
            veil_log(VEIL_LOG_DEBUG, SUB, "bootstrap peer not added to Kademlia",
                     "addr=%s error=\"%s\"", bv->items[i], e2.msg);
        /* Connected and a live SWIM member already? (SWIM's own view: a
         * member's `alive` flag also comes from its telemetry, which reaches
         * this node through gossip even when SWIM never joined it.) */
        struct veil_swim_member sm;
        bool live = d->swim &&
                    veil_swim_member_find(veil_swim_node_state(d->swim), pid.bytes, pid.len, &sm) &&
                    (sm.state == VEIL_SWIM_ALIVE || sm.state == VEIL_SWIM_SUSPECT);
        if (veil_p2p_host_find_conn(d->host, &pid) && live)
            continue;
        if (!veil_p2p_host_find_conn(d->host, &pid) &&
            veil_p2p_host_dial(d->host, &ma, NULL, dial_done, d, &e2) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "bootstrap dial failed", "addr=%s error=\"%s\"",
                     bv->items[i], e2.msg);
        if (veil_swim_node_join(d->swim, bv->items[i], &e2) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "SWIM join failed", "addr=%s error=\"%s\"", bv->items[i],
                     e2.msg);
    }
    return 0;
}

/* Kademlia's bootstrap (a lookup of our own ID, then of a random one) has
 * run: the peers it found were dialed (dial_discovered), so a node that knew
 * one bootstrap peer is now connected to the others it learned of. */
static void on_kad_bootstrap(veil_kad *kad, const veil_err *err,
                             const struct veil_kad_peer *closest, size_t n, void *user_data)
{
    veil_daemon *d = user_data;
    if (err && err->code == VEIL_E_STATE)
        return; /* detached: the daemon is stopping */
    d->kad_busy = false;
    if (err) {
        veil_log(VEIL_LOG_WARN, SUB, "Kademlia bootstrap failed", "error=\"%s\"", err->msg);
        return;
    }
    char ids[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used + 2 < sizeof ids; i++) {
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(closest[i].id, closest[i].id_len, &pid, NULL) != 0)
            continue;
        int w = snprintf(ids + used, sizeof ids - used, "%s%s", used ? "," : "",
                         veil_p2p_peer_id_str(&pid).s);
        if (w < 0 || (size_t)w >= sizeof ids - used)
            break;
        used += (size_t)w;
    }
    veil_log(VEIL_LOG_INFO, SUB, "Kademlia bootstrap done", "table=%zu found=%zu peers=%s",
             veil_kad_table_size(veil_kad_routing_table(kad)), n, ids);
}

/* Runs Kademlia's bootstrap now if none is running. */
static void kad_bootstrap(veil_daemon *d)
{
    veil_err err = {0};
    if (!d->kad || d->kad_busy)
        return;
    d->kad_at_ms = uv_now(d->loop);
    if (veil_kad_bootstrap(d->kad, on_kad_bootstrap, d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "Kademlia bootstrap not started", "error=\"%s\"", err.msg);
    else
        d->kad_busy = true;
    d->kad_runs++;
}

static void on_peer_connected(veil_p2p_host *host, veil_p2p_conn *conn, void *user_data)
{
    (void)host;
    (void)user_data;
    veil_log(VEIL_LOG_DEBUG, SUB, "peer connected", "peer=%s inbound=%d",
             veil_p2p_peer_id_str(veil_p2p_conn_peer(conn)).s, veil_p2p_conn_is_inbound(conn));
}

void veil_daemon_bootstrap_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    veil_err err = {0};
    if (bootstrap(d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "bootstrap failed", "error=\"%s\"", err.msg);
    /* Kademlia's bootstrap again: every 5 s while the mesh forms (the first
     * runs, or while the chain lists more active nodes than this one is
     * connected to), then every KAD_REFRESH_MS for nodes that join later. */
    veil_p2p_conn *conns[1];
    size_t connected = veil_p2p_host_conns(d->host, conns, 0);
    uint64_t since = uv_now(d->loop) - d->kad_at_ms;
    if (since >= KAD_REFRESH_MS ||
        ((d->kad_runs < 3 || connected + 1 < d->n_allowed) && since >= 5000))
        kad_bootstrap(d);
}

int veil_daemon_identity_load(veil_daemon *d, veil_err *err)
{
    const char *key_file = veil_config_str(d->cfg, "libp2p.key_file", NULL);
    char def_key[4200];
    if (!key_file) {
        snprintf(def_key, sizeof def_key, "%s/p2p.key", veil_config_str(d->cfg, "data_dir", "."));
        key_file = def_key;
    }
    if (veil_p2p_keypair_load(&d->key, key_file, err) != 0)
        return veil_err_wrap(err, "libp2p key (run 'veil node join' first)");
    veil_p2p_peer_id_from_ed25519(d->key.public_key, &d->self);
    veil_p2p_peer_id_to_text(&d->self, d->self_text, sizeof d->self_text);
    return 0;
}

int veil_daemon_p2p_start(veil_daemon *d, veil_err *err)
{
    struct veil_p2p_host_config hc;
    veil_p2p_host_config_init(&hc);
    hc.key = &d->key;
    hc.gater = veil_daemon_registry_gater;
    hc.gater_data = d;
    if (veil_p2p_host_new(d->loop, &hc, &d->host, err) != 0)
        return -1;
    static const struct veil_p2p_events ev = {.on_connected = on_peer_connected};
    if (veil_p2p_host_add_listener(d->host, &ev, d, err) < 0)
        return -1;
    const struct veil_config_value *lv = veil_config_get(d->cfg, "libp2p.listen");
    for (size_t i = 0; lv && i < lv->n_items; i++) {
        veil_p2p_multiaddr ma;
        if (veil_p2p_multiaddr_parse(lv->items[i], &ma, err) != 0 ||
            veil_p2p_host_listen(d->host, &ma, err) != 0)
            return veil_err_wrap(err, "libp2p.listen %s", lv->items[i]);
    }
    struct veil_gs_config gc;
    veil_gs_config_default(&gc);
    if (veil_gossipsub_attach(d->host, &gc, &d->gs, err) != 0 ||
        veil_gossipsub_subscribe(d->gs, d->topic, veil_daemon_on_topic_message, d, err) != 0)
        return -1;
    struct veil_swim_attach_config sc = {0};
    sc.meta = (const uint8_t *)d->org;
    sc.meta_len = strlen(d->org);
    sc.on_event = veil_daemon_on_swim_event;
    sc.user_data = d;
    if (veil_swim_attach(d->host, &sc, &d->swim, err) != 0)
        return -1;
    /* every node answers peers' requests for inclusion proofs (daemon_sync.c) */
    if (veil_p2p_host_set_handler(d->host, VEIL_PROOF_PROTO, veil_daemon_on_proof_stream, d, err) !=
        0)
        return veil_err_wrap(err, "proof handler");
    if (veil_p2p_host_set_handler(d->host, VEIL_CATCHUP_PROTO, veil_daemon_on_catchup_stream, d,
                                  err) != 0)
        return veil_err_wrap(err, "catch-up handler");
    /* Kademlia: the bootstrap peers seed the routing table; its bootstrap
     * lookups find (and dial) the other nodes, and run again from the
     * bootstrap timer for nodes that join later. The gater still decides who
     * gets in: a discovered peer not active on chain is refused. */
    struct veil_kad_config kc;
    veil_kad_config_default(&kc);
    kc.refresh_interval_ms = 0; /* refreshed from the bootstrap timer */
    if (veil_kad_attach(d->host, &kc, &d->kad, err) != 0)
        return veil_err_wrap(err, "Kademlia");
    if (bootstrap(d, err) != 0)
        return -1;
    /* the latency landmarks: the bundle's first bootstrap peers, the same
     * slots on every node (daemon_latency.c) */
    const struct veil_config_value *bv = veil_config_get(d->cfg, "libp2p.bootstrap");
    if (veil_daemon_latency_init(&d->latency, &d->self,
                                 bv ? (const char *const *)bv->items : NULL, bv ? bv->n_items : 0,
                                 err) != 0)
        return -1;
    kad_bootstrap(d);
    veil_p2p_multiaddr addrs[8];
    size_t na = veil_p2p_host_listen_addrs(d->host, addrs, VEIL_ARRAY_LEN(addrs));
    for (size_t i = 0; i < na && i < VEIL_ARRAY_LEN(addrs); i++) {
        char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
        if (veil_p2p_multiaddr_to_text(&addrs[i], text, sizeof text, NULL) == 0)
            veil_log(VEIL_LOG_INFO, SUB, "listening", "addr=%s/p2p/%s", text, d->self_text);
    }
    return 0;
}
