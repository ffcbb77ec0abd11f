// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_policy.c - veild's cached copy of the cluster's on-chain policy.
 * Intake (image and budget gates, the submitter's slot) and the executor
 * (image gate) read it from here instead of an eth_call per job: one read
 * when first needed, one after each confirmed PolicyChanged event of this
 * cluster (the registry follower marks it stale), and one at least every
 * VEIL_POLICY_MAX_AGE_MS in case an event was missed. A read that fails
 * refuses like an unreadable policy did before; the stale copy is not used.
 * The round planner reads the shard size and redundancy from here too
 * (veil_daemon_shard_policy), and the scheduling switches (schedFlags:
 * batch rounds, node-computed keys; veil_daemon_sched_batch,
 * veil_daemon_sched_node_keys), the last read's values kept through a failed
 * read so that every node keeps planning the same rounds.
 * Each new version read is kept in the node's store with its block (issue
 * 18): a node restarted while the chain RPC is unreachable starts from that
 * copy (its keys, decryptors and shard settings; veil_daemon_policy_boot)
 * and reads the chain again once it answers; intake and the executor never
 * use the stored copy (they defer or refuse until a read works).
 * Every read from chain after the start runs on a libuv worker (issue 18:
 * a hanging RPC must not stall the loop): one read in flight at a time,
 * started by the policy cron (veil_daemon_policy_cron: a copy half its
 * maximum age old, or marked stale) or by a use that finds the copy due;
 * the result is installed on the loop thread. A use while the copy is due
 * and the read is still in flight refuses as an unreadable policy does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_policy.h"

struct daemon_policy {
    veil_contract_policy pol;
    bool have;              /* pol holds a policy read from chain */
    bool stale;             /* a PolicyChanged event was seen since that read */
    uint64_t read_at_ms;    /* loop time of that read */
    uint64_t event_version; /* the version the last PolicyChanged event named */
    uint64_t reads;         /* reads from chain, for figures */
    /* the shard settings of the last successful read (kept when one fails) */
    bool shard_known;
    uint32_t shard_size;
    uint8_t shard_redundancy;
    uint8_t sched_flags; /* VEIL_POLICY_SCHED_*, with the shard settings */
    /* the version last kept in the store by this process */
    bool kept;
    uint64_t kept_version;
    bool reading;       /* a read is in flight on a worker */
    char last_err[200]; /* why the last read failed ("" after a success) */
};

/* One read on a worker: the chain client is shared (its RPC handle and
 * nonce manager lock themselves); the result goes back to the loop. */
struct policy_job {
    uv_work_t work;
    veil_daemon *d;
    veil_chain_client *chain;
    uint64_t cluster_id;
    const char *reason;
    veil_contract_policy fresh;
    int rc;
    veil_err err;
};

static struct daemon_policy *cache_of(veil_daemon *d, veil_err *err)
{
    if (!d->policy && !(d->policy = calloc(1, sizeof *d->policy)))
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return d->policy;
}

/* Remembers the shard settings of a policy just read; a change (or the
 * first read of a sharded policy) is logged on every node, which is how an
 * operator (and e2e_shard.sh) sees a policy vote take effect. */
static void shard_update(struct daemon_policy *c)
{
    const veil_contract_policy *p = &c->pol;
    bool changed = c->shard_known ? p->shard_size != c->shard_size ||
                                        p->shard_redundancy != c->shard_redundancy
                                  : p->shard_size != 0;
    if (changed)
        veil_log(VEIL_LOG_INFO, SUB, "shard policy",
                 "size=%u redundancy=%u version=%llu "
                 "previous_size=%u previous_redundancy=%u",
                 p->shard_size, p->shard_redundancy, (unsigned long long)p->version, c->shard_size,
                 c->shard_redundancy);
    c->shard_known = true;
    c->shard_size = p->shard_size;
    c->shard_redundancy = p->shard_redundancy;
}

/* Remembers the scheduling switches of a policy just read; a change (or a
 * first read that turns one off) is logged on every node, like the shard
 * policy. Called before shard_update (which marks the settings known). */
static void sched_update(struct daemon_policy *c)
{
    const veil_contract_policy *p = &c->pol;
    bool changed = c->shard_known ? p->sched_flags != c->sched_flags : p->sched_flags != 0;
    if (changed)
        veil_log(VEIL_LOG_INFO, SUB, "scheduling policy",
                 "batch_replicas=%d node_keys=%d version=%llu previous_flags=%u",
                 !(p->sched_flags & VEIL_POLICY_SCHED_NO_BATCH),
                 !(p->sched_flags & VEIL_POLICY_SCHED_NO_NODE_KEYS), (unsigned long long)p->version,
                 c->sched_flags);
    c->sched_flags = p->sched_flags;
}

/* Keeps a policy read from chain in the store, at the block the registry
 * follower reached (the read is at least that new); a failure is logged:
 * the node runs on, only a later start during an outage would lack it. */
static void policy_keep(veil_daemon *d, struct daemon_policy *c, const veil_contract_policy *p)
{
    veil_err err = {0};
    veil_buf abi;
    veil_buf_init(&abi);
    uint64_t block = d->follower.next_block ? d->follower.next_block - 1 : 0;
    if (veil_contract_policy_encode(p, &abi, &err) != 0 ||
        veil_store_chain_policy_put(d->store, d->cluster_id, block, abi.data, abi.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "policy not stored", "version=%llu error=\"%s\"",
                 (unsigned long long)p->version, err.msg);
    else {
        c->kept = true;
        c->kept_version = p->version;
    }
    veil_buf_free(&abi);
}

/* Installs a policy just read from chain (moved from *fresh) as the copy
 * in force. */
static void cache_install(veil_daemon *d, struct daemon_policy *c, veil_contract_policy *fresh,
                          const char *reason)
{
    uint64_t old = c->have ? c->pol.version : 0;
    bool first = !c->have, was_stale = c->stale;
    veil_contract_policy_clear(&c->pol);
    c->pol = *fresh;
    memset(fresh, 0, sizeof *fresh);
    c->have = true;
    c->stale = false;
    c->last_err[0] = '\0';
    c->read_at_ms = uv_now(d->loop);
    sched_update(c);
    shard_update(c);
    if (!c->kept || c->kept_version != c->pol.version)
        policy_keep(d, c, &c->pol);
    if (first && !was_stale)
        veil_log(VEIL_LOG_INFO, SUB, "policy read", "version=%llu reads=%llu",
                 (unsigned long long)c->pol.version, (unsigned long long)c->reads);
    else if (was_stale || old != c->pol.version)
        veil_log(VEIL_LOG_INFO, SUB, "policy reloaded",
                 "version=%llu previous=%llu reason=%s event_version=%llu reads=%llu",
                 (unsigned long long)c->pol.version, (unsigned long long)old, reason,
                 (unsigned long long)c->event_version, (unsigned long long)c->reads);
    else
        veil_log(VEIL_LOG_DEBUG, SUB, "policy read again", "version=%llu reason=%s reads=%llu",
                 (unsigned long long)c->pol.version, reason, (unsigned long long)c->reads);
}

/* A failed read: a copy that was due (stale, or past its age) is unusable
 * from now on; a younger one is kept until its age runs out. */
static void cache_failed(veil_daemon *d, struct daemon_policy *c, const veil_err *err)
{
    snprintf(c->last_err, sizeof c->last_err, "%.199s", err->msg);
    if (!c->have ||
        !veil_daemon_policy_needs_read(c->have, c->stale, uv_now(d->loop), c->read_at_ms))
        return;
    c->have = false;
    veil_log(VEIL_LOG_WARN, SUB, "policy copy expired: unreadable until a read works",
             "version=%llu stale=%d error=\"%s\"", (unsigned long long)c->pol.version, c->stale,
             c->last_err);
}

static void policy_work(uv_work_t *w)
{
    struct policy_job *j = w->data;
    j->rc = veil_contract_get_policy(j->chain, j->cluster_id, &j->fresh, &j->err);
    if (j->rc != 0)
        veil_err_wrap(&j->err, "reading the cluster policy");
}

static void policy_after(uv_work_t *w, int status)
{
    struct policy_job *j = w->data;
    veil_daemon *d = j->d;
    struct daemon_policy *c = d->policy;
    d->works--;
    c->reading = false;
    if (status != 0 && j->rc == 0) {
        j->rc = -1;
        veil_err_set(&j->err, VEIL_E_INTERNAL, "policy read cancelled");
    }
    if (!d->stopping) {
        if (j->rc == 0)
            cache_install(d, c, &j->fresh, j->reason);
        else {
            /* the first failure after a read that worked is a warning; the
             * retries (every second while the chain is away) are debug */
            veil_log(c->last_err[0] ? VEIL_LOG_DEBUG : VEIL_LOG_WARN, SUB, "policy not read",
                     "reason=%s error=\"%s\"", j->reason, j->err.msg);
            cache_failed(d, c, &j->err);
        }
    }
    veil_contract_policy_clear(&j->fresh);
    free(j);
    if (d->stopping)
        veil_daemon_maybe_free(d);
}

/* Starts a read on a worker unless one is in flight. */
static void cache_read_async(veil_daemon *d, struct daemon_policy *c, const char *reason)
{
    if (c->reading || d->stopping || d->chain_from_store)
        return; /* after a start from the store the registry reads it first */
    struct policy_job *j = calloc(1, sizeof *j);
    if (!j) {
        veil_log(VEIL_LOG_WARN, SUB, "policy not read", "error=\"out of memory\"");
        return;
    }
    j->work.data = j;
    j->d = d;
    j->chain = d->chain;
    j->cluster_id = d->cluster_id;
    j->reason = reason;
    c->reads++;
    if (uv_queue_work(d->loop, &j->work, policy_work, policy_after) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "policy not read", "error=\"cannot queue the read\"");
        free(j);
        return;
    }
    c->reading = true;
    d->works++;
}

const veil_contract_policy *veil_daemon_policy(veil_daemon *d, veil_err *err)
{
    struct daemon_policy *c = cache_of(d, err);
    if (!c)
        return NULL;
    if (!veil_daemon_policy_needs_read(c->have, c->stale, uv_now(d->loop), c->read_at_ms))
        return &c->pol;
    cache_read_async(d, c, c->stale ? "event" : c->have ? "age" : "first use");
    if (c->last_err[0])
        veil_err_set(err, VEIL_E_NETWORK, "%s", c->last_err);
    else
        veil_err_set(err, VEIL_E_STATE, "reading the cluster policy: a read is in flight");
    return NULL;
}

bool veil_daemon_shard_policy(veil_daemon *d, size_t *size, size_t *redundancy)
{
    veil_err err = {0};
    *size = 0;
    *redundancy = VEIL_MAX_SCHEDULERS;
    if (!veil_daemon_policy(d, &err)) /* unreadable now: the last read's values stay */
        veil_log(VEIL_LOG_WARN, SUB, "shard policy unreadable, last known kept",
                 "known=%d error=\"%s\"", d->policy ? d->policy->shard_known : 0, err.msg);
    const struct daemon_policy *c = d->policy;
    if (!c || !c->shard_known)
        return false;
    *size = c->shard_size;
    if (c->shard_redundancy >= 1 && c->shard_redundancy <= VEIL_MAX_SCHEDULERS)
        *redundancy = c->shard_redundancy;
    return *size > 0;
}

bool veil_daemon_sched_batch(const veil_daemon *d)
{
    return !d->policy || !(d->policy->sched_flags & VEIL_POLICY_SCHED_NO_BATCH);
}

bool veil_daemon_sched_node_keys(const veil_daemon *d)
{
    return !d->policy || !(d->policy->sched_flags & VEIL_POLICY_SCHED_NO_NODE_KEYS);
}

void veil_daemon_policy_changed(veil_daemon *d, uint64_t version)
{
    veil_err err = {0};
    struct daemon_policy *c = cache_of(d, &err);
    if (!c) {
        veil_log(VEIL_LOG_WARN, SUB, "policy change not recorded", "error=\"%s\"", err.msg);
        return;
    }
    c->stale = true;
    c->event_version = version;
    veil_log(VEIL_LOG_INFO, SUB, "policy changed on chain", "version=%llu",
             (unsigned long long)version);
}

void veil_daemon_policy_tick(veil_daemon *d)
{
    /* a failed read leaves it stale: every use refuses until a read works */
    if (d->policy && d->policy->stale)
        cache_read_async(d, d->policy, "event");
}

void veil_daemon_policy_cron(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    veil_err err = {0};
    struct daemon_policy *c = cache_of(d, &err);
    if (!c)
        return;
    uint64_t now = uv_now(d->loop);
    /* none yet (or unusable): read; a copy half its maximum age old is read
     * again ahead of its expiry, so that a use finds a fresh one while the
     * chain answers */
    if (!c->have || c->stale || now < c->read_at_ms ||
        now - c->read_at_ms >= VEIL_POLICY_MAX_AGE_MS / 2)
        cache_read_async(d, c, c->stale ? "event" : c->have ? "age" : "first use");
}

int veil_daemon_policy_set(veil_daemon *d, veil_contract_policy *pol, const char *reason,
                           veil_err *err)
{
    struct daemon_policy *c = cache_of(d, err);
    if (!c)
        return -1;
    c->reads++;
    cache_install(d, c, pol, reason);
    return 0;
}

/* ---- a start while the chain RPC is unreachable (issue 18) ------------- */

bool veil_daemon_chain_unreachable(const veil_err *err)
{
    return err && (err->code == VEIL_E_NETWORK || err->code == VEIL_E_TIMEOUT);
}

enum veil_boot_source veil_daemon_boot_source(int read_rc, const veil_err *read_err,
                                              bool have_stored)
{
    if (read_rc == 0)
        return VEIL_BOOT_CHAIN;
    return veil_daemon_chain_unreachable(read_err) && have_stored ? VEIL_BOOT_STORED
                                                                  : VEIL_BOOT_FAIL;
}

/* The stored copy decoded into pol: *found false when none is stored or it
 * cannot be decoded (logged). */
static int policy_stored(veil_daemon *d, veil_contract_policy *pol, uint64_t *block, bool *found,
                         veil_err *err)
{
    uint8_t *abi = NULL;
    size_t len = 0;
    if (veil_store_chain_policy_get(d->store, d->cluster_id, &abi, &len, block, found, err) != 0)
        return -1;
    if (*found && veil_contract_policy_decode(abi, len, pol, err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "stored policy unreadable", "error=\"%s\"", err->msg);
        veil_contract_policy_clear(pol);
        *found = false;
    }
    free(abi);
    return 0;
}

/* The planner's shard settings from the stored copy (the last known). */
static void shard_seed(veil_daemon *d, const veil_contract_policy *pol)
{
    veil_err err = {0};
    struct daemon_policy *c = cache_of(d, &err);
    if (!c)
        return;
    c->shard_known = true;
    c->shard_size = pol->shard_size;
    c->shard_redundancy = pol->shard_redundancy;
    c->sched_flags = pol->sched_flags;
}

int veil_daemon_policy_boot(veil_daemon *d, veil_contract_policy *pol, uint64_t *stored_block,
                            veil_err *err)
{
    veil_err read_err = {0}, store_err = {0};
    int rc = -1;
    *stored_block = 0;
    if (d->chain_from_store)
        veil_err_set(&read_err, VEIL_E_NETWORK, "the chain RPC was unreachable at start");
    else if ((rc = veil_contract_get_policy(d->chain, d->cluster_id, pol, &read_err)) == 0) {
        struct daemon_policy *c = cache_of(d, err);
        if (!c) {
            veil_contract_policy_clear(pol);
            return -1;
        }
        policy_keep(d, c, pol);
        return 0;
    }
    veil_contract_policy_clear(pol);
    bool found = false;
    if (veil_daemon_chain_unreachable(&read_err) &&
        policy_stored(d, pol, stored_block, &found, &store_err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "stored policy not read", "error=\"%s\"", store_err.msg);
    if (veil_daemon_boot_source(rc, &read_err, found) != VEIL_BOOT_STORED) {
        veil_contract_policy_clear(pol);
        *err = read_err;
        return veil_err_wrap(err, "reading the cluster policy");
    }
    d->chain_from_store = true;
    shard_seed(d, pol);
    return 0;
}

uint64_t veil_daemon_policy_reads(const veil_daemon *d)
{
    return d->policy ? d->policy->reads : 0;
}

void veil_daemon_policy_free(veil_daemon *d)
{
    if (!d->policy)
        return;
    veil_contract_policy_clear(&d->policy->pol);
    free(d->policy);
    d->policy = NULL;
}
