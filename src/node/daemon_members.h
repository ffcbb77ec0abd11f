// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_members.h - the member table's rules that need no daemon
 * (daemon_members.c), exposed for their unit test: how a member's
 * telemetry is taken in (kept by epoch, never a change of liveness).
 */
#ifndef VEIL_NODE_DAEMON_MEMBERS_H
#define VEIL_NODE_DAEMON_MEMBERS_H

#include "daemon_core.h"

/* Keeps telemetry `ct` of `epoch` in `m`'s history and advances its newest
 * epoch. 0 when kept; -1 when older than the newest one held, empty or over
 * the message cap, or out of memory. `m->alive` is not touched: SWIM alone
 * says whether a member is alive (a late or relayed telemetry message of a
 * member SWIM declared dead must not revive it). */
VEIL_WARN_UNUSED int veil_daemon_member_take_telemetry(struct member *m, uint64_t epoch,
                                                       const uint8_t *ct, size_t len);

#endif
