// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_policy.h - veild's one cached copy of the cluster's on-chain policy
 * (daemon_policy.c): read from chain when first needed, again after a
 * PolicyChanged event of this cluster, and at least every
 * VEIL_POLICY_MAX_AGE_MS as a safety net.
 */
#ifndef VEIL_NODE_DAEMON_POLICY_H
#define VEIL_NODE_DAEMON_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/chain.h>

#define VEIL_POLICY_MAX_AGE_MS 10000

typedef struct veil_daemon veil_daemon;

/* The staleness rule: the copy must be read from chain again when there is
 * none, when a PolicyChanged event marked it stale, or when it is
 * VEIL_POLICY_MAX_AGE_MS old (or the clock reads before it was taken). */
static inline bool veil_daemon_policy_needs_read(bool have, bool stale, uint64_t now_ms,
                                                 uint64_t read_at_ms)
{
    return !have || stale || now_ms < read_at_ms || now_ms - read_at_ms >= VEIL_POLICY_MAX_AGE_MS;
}

/* The policy in force, read from chain when the rule above says so. NULL
 * (err set) when that read fails: the caller refuses, as with an unreadable
 * policy (a stale copy is never served once a read was due). The pointer is
 * the daemon's; valid until the next call of this function on the loop
 * thread. */
const veil_contract_policy *veil_daemon_policy(veil_daemon *d, veil_err *err) VEIL_WARN_UNUSED;
/* Sharded rounds (docs/SCHEDULING.md "Sharded rounds in veild"): the shard
 * size and the schedulers per shard of the policy in force. True when rounds
 * are sharded (*size > 0); *redundancy is 1..VEIL_MAX_SCHEDULERS (the
 * policy's 0 reads as the default, VEIL_MAX_SCHEDULERS). When the policy
 * cannot be read now, the values of the last successful read are kept (a
 * policy change is rare, and every node must plan the same shards: falling
 * back to unsharded on one node would make it plan rounds nobody else
 * does); before any successful read, rounds are not sharded. */
bool veil_daemon_shard_policy(veil_daemon *d, size_t *size, size_t *redundancy);
/* A confirmed PolicyChanged event of this cluster (daemon_registry.c):
 * the copy is stale from now on. */
void veil_daemon_policy_changed(veil_daemon *d, uint64_t version);
/* After the registry events were read: a copy marked stale is read again now,
 * so that the change applies (and is logged) without waiting for a job. */
void veil_daemon_policy_tick(veil_daemon *d);
/* How many times the policy was read from chain (figures, logs). */
uint64_t veil_daemon_policy_reads(const veil_daemon *d);
void veil_daemon_policy_free(veil_daemon *d);

#endif
