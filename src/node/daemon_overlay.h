// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_overlay.h - private to veild: the VeilNet overlay role
 * (daemon_overlay.c). When `overlay.enabled` is set, veild runs the Anchor
 * overlay in process with the node's libp2p Ed25519 key as its identity and
 * Guardian's certificate as its credential, learns its peers from signed
 * peer records gossiped on the cluster's overlay topic, drops the sessions
 * of nodes deactivated on chain, and serves its containers' names.
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

#endif /* VEIL_NODE_DAEMON_OVERLAY_H */
