// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_overlay.h - private to veild: the VeilNet overlay role
 * (daemon_overlay.c). When `overlay.enabled` is set, veild runs the Anchor
 * overlay in process with the node's libp2p Ed25519 key as its identity and
 * Guardian's certificate as its credential (from the Conflux agent veild
 * runs with the same key when overlay.guardian_nats is set - Guardian
 * admits the node because it is active on chain - or from files), learns
 * its peers from signed peer records gossiped on the cluster's overlay
 * topic, drops the sessions of nodes deactivated on chain or revoked by
 * Guardian, and serves its containers' names.
 */
#ifndef VEIL_NODE_DAEMON_OVERLAY_H
#define VEIL_NODE_DAEMON_OVERLAY_H

#include <stdint.h>

#include <veil/base.h>

typedef struct veil_daemon veil_daemon;
struct veil_node_overlay;

/* Starts the overlay when the configuration enables it (after the libp2p
 * start: it subscribes to the overlay topic); 0 with nothing started when
 * it is disabled. */
VEIL_WARN_UNUSED int veil_daemon_overlay_start(veil_daemon *d, veil_err *err);
/* Publishes this node's peer record and applies the registry's view. */
void veil_daemon_overlay_tick(veil_daemon *d, uint64_t now_ms);
/* Unsubscribes, stops the overlay (its interface goes) and the resolver. */
void veil_daemon_overlay_stop(veil_daemon *d);

/* ---- the containers' side (daemon_exec.c) ----
 * A container veild starts gets its own network namespace wired to the node
 * (veil_ctnet); the node masquerades what it sends into the overlay, lets out
 * only what its job may reach (the exposed ports of its own job's replicas
 * and of jobs that name it, same tenant), forwards the ports its job exposes
 * from the overlay to it, and answers its name, <replica>.<job>.c<cluster>. */
struct veil_ctnet;
/* On the loop thread, before the start: 1 with *net planned (and the
 * container's resolv.conf path and its overlay name) when the overlay runs,
 * 0 when it does not, -1 on failure. */
VEIL_WARN_UNUSED int veil_daemon_overlay_reserve(veil_daemon *d, const char *job_hex,
                                                 uint32_t replica, const char *job_name,
                                                 struct veil_ctnet *net, char *resolv,
                                                 size_t resolv_cap, char *name, size_t name_cap,
                                                 veil_err *err);
/* After the start (ok) or its failure (the namespace and slot go). */
void veil_daemon_overlay_started(veil_daemon *d, const char *job_hex, uint32_t replica, bool ok);
/* After a restart: a container found running again keeps the namespace it
 * was started in (named in its OCI config at `config_path`); its rules are
 * applied again on the next tick. */
void veil_daemon_overlay_adopt(veil_daemon *d, const char *job_hex, uint32_t replica,
                               const char *config_path);
/* The container ended or was stopped: its namespace, rules and slot go. */
void veil_daemon_overlay_release(veil_daemon *d, const char *job_hex, uint32_t replica);

#endif /* VEIL_NODE_DAEMON_OVERLAY_H */
