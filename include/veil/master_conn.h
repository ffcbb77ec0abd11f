// SPDX-License-Identifier: Apache-2.0
/*
 * veil/master_conn.h - opening a libnats connection to Master (a stock
 * nats-server super cluster in operator mode), shared by Guardian and the
 * Conflux agent. Only with libnats (VEIL_HAVE_NATS).
 *
 * Why a retry: Master's `full` account resolver spreads a pushed or updated
 * account JWT to the other servers of the super cluster asynchronously, so a
 * connection that reaches another server just after the push is refused with
 * "Authorization Violation" (seen about twice in 25 loaded test runs, in
 * `veil guardian serve` and in enrollment). The same credentials are accepted
 * a moment later.
 */
#ifndef VEIL_MASTER_CONN_H
#define VEIL_MASTER_CONN_H

#ifdef VEIL_HAVE_NATS
#include <nats/nats.h>

#define VEIL_MASTER_CONNECT_ATTEMPTS 5 /* 0.2 + 0.4 + 0.6 + 0.8 s between them */

/* natsConnection_Connect(nc, o), tried again (up to attempts in all, waiting
 * 200 ms times the attempt number between tries) while the servers refuse
 * the credentials; any other status is returned at once. */
natsStatus veil_master_connect(natsConnection **nc, natsOptions *o, int attempts);
#endif

#endif /* VEIL_MASTER_CONN_H */
