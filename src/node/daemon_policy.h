// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_policy.h - veild's one cached copy of the cluster's on-chain policy
 * (daemon_policy.c): read from chain when first needed, again after a
 * PolicyChanged event of this cluster, and at least every
 * VEIL_POLICY_MAX_AGE_MS as a safety net; each new version kept in the
 * node's store, the copy a start while the chain RPC is down uses.
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

/* The policy in force. When the rule above says it must be read again, a
 * read starts on a worker (never on the loop: issue 18) and this returns
 * NULL (err set: the last read's error, or VEIL_E_STATE while the read is
 * in flight): the caller refuses, as with an unreadable policy (a stale
 * copy is never served once a read was due). The pointer is the daemon's;
 * valid until the next call of this function on the loop thread. */
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
/* The policy's scheduling switches (schedFlags, docs/SCHEDULING.md), which
 * every node must apply alike: a job's replicas placed in one round, and
 * node-computed keys for public requests. Each is on unless the policy
 * turns it off; the last successful read's (or the stored copy's) values
 * are kept while the policy cannot be read, as with the shard settings
 * (a round is planned only after intake read the policy). */
bool veil_daemon_sched_batch(const veil_daemon *d);
bool veil_daemon_sched_node_keys(const veil_daemon *d);
/* A confirmed PolicyChanged event of this cluster (daemon_registry.c):
 * the copy is stale from now on. */
void veil_daemon_policy_changed(veil_daemon *d, uint64_t version);
/* After the registry events were read: a copy marked stale is read again now
 * (on a worker), so that the change applies (and is logged) without waiting
 * for a job. */
void veil_daemon_policy_tick(veil_daemon *d);
/* The policy's cron task (every second): no copy yet (or an unusable one),
 * a copy marked stale, or one half VEIL_POLICY_MAX_AGE_MS old is read on a
 * worker, so that uses find a fresh copy while the chain answers. A copy
 * past its age after failed reads is dropped (logged: "policy copy expired:
 * unreadable until a read works"). */
void veil_daemon_policy_cron(veil_daemon *d, uint64_t now_ms);
/* ---- a start while the chain RPC is unreachable (issue 18) ---- */
enum veil_boot_source {
    VEIL_BOOT_CHAIN,  /* the chain answered: its view is used (and stored) */
    VEIL_BOOT_STORED, /* unreachable, a stored copy exists: start from it */
    VEIL_BOOT_FAIL,   /* the chain answered with an error, or nothing stored */
};
/* True when a chain read failed because the RPC could not be reached
 * (transport failure, timeout, HTTP 5xx or 429), not because the chain
 * answered (a revert: no such cluster or node; a malformed answer). */
bool veil_daemon_chain_unreachable(const veil_err *err);
/* The start decision for one chain read: read_rc 0 takes the chain's view;
 * a failure starts from the stored copy only when the RPC was unreachable
 * and a copy is stored; anything else fails with the read's error. */
enum veil_boot_source veil_daemon_boot_source(int read_rc, const veil_err *read_err,
                                              bool have_stored);
/* The policy at start (load_fhe_keys): read from chain and stored, or, when
 * the chain is unreachable now or was at the registry load
 * (d->chain_from_store), the stored copy, whose shard settings then seed
 * the planner's. *stored_block: the block of the copy used (0 when read from
 * chain). -1 with the read's error otherwise. The cache itself is not filled:
 * the policy cron's first read (a second after the start) fills it. */
VEIL_WARN_UNUSED int veil_daemon_policy_boot(veil_daemon *d, veil_contract_policy *pol,
                                             uint64_t *stored_block, veil_err *err);
/* The Ed25519 key of `node` in the stored member set (daemon_registry.c;
 * the designated decryptor at a start from the store): false when not
 * stored. */
bool veil_daemon_registry_stored_key(veil_daemon *d, const veil_eth_address *node, uint8_t key[32]);
/* Installs a policy just read from chain (on a worker: the chain is back
 * after a start from the stored copy) as the copy in force, moving *pol;
 * it is kept in the store when its version is new. */
VEIL_WARN_UNUSED int veil_daemon_policy_set(veil_daemon *d, veil_contract_policy *pol,
                                            const char *reason, veil_err *err);
/* How many times the policy was read from chain (figures, logs). */
uint64_t veil_daemon_policy_reads(const veil_daemon *d);
void veil_daemon_policy_free(veil_daemon *d);

#endif
