// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_sync.h - private to veild's node daemon: the node-to-node sync
 * streams (daemon_sync.c): inclusion proofs fetched from peers.
 */
#ifndef VEIL_NODE_DAEMON_SYNC_H
#define VEIL_NODE_DAEMON_SYNC_H

#include <stdint.h>

#include "daemon_core.h"

/* Serves /veil/anchor-proof/1.0.0 (registered by daemon_p2p.c). */
void veil_daemon_on_proof_stream(veil_p2p_stream *s, const char *protocol, void *user_data);
/* Every anchor tick: asks one live peer (the next one each time, at most one
 * request in flight and one per VEIL_PROOF_ASK_GAP_MS) for the proofs of this
 * node's assignments whose batch it could not rebuild. */
void veil_daemon_proof_tick(veil_daemon *d, uint64_t now_ms);
#define VEIL_PROOF_ASK_GAP_MS 15000

#endif /* VEIL_NODE_DAEMON_SYNC_H */
