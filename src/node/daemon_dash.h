// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_dash.h - private to veild's node daemon: the dashboard's snapshot
 * of the daemon's in-memory state (daemon_dash.c), taken on the loop thread.
 */
#ifndef VEIL_NODE_DAEMON_DASH_H
#define VEIL_NODE_DAEMON_DASH_H

#include <stdint.h>

#include "daemon.h"

/* The cron task (every DAEMON_DASH_PERIOD_MS, on every member: often enough
 * to see most rounds' digest tally before the decision drops it): hands the
 * API's dashboard cache a fresh snapshot of the members' last telemetry
 * message (size, epoch) and of the rounds (schedulers, digest tally,
 * attempts, deadline). Never a telemetry value, never a chosen node. */
#define DAEMON_DASH_PERIOD_MS 250
void veil_daemon_dash_tick(veil_daemon *d, uint64_t now_ms);

#endif /* VEIL_NODE_DAEMON_DASH_H */
