// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_keys.c - node-computed keys in veild (issue 20; docs/SCHEDULING.md
 * "Node-computed keys in veild"): for a round over a PUBLIC request (one
 * replica, a batch or a sharded round), each candidate computes its own key
 * (veil_sched_node_key: the circuit's key, exactly) on the telemetry words
 * it published encrypted for the round's epoch, and publishes it encrypted
 * under the cluster public key (a one-value compact list, ~17 KB) in a
 * NODE_KEY message; the schedulers run the labelled argmin alone over the
 * keys they hold (daemon_scheduler.c; a shard's schedulers over their range
 * of the parent round's keys), ~20 PBS per candidate instead of
 * ~38-49 with the key in the circuit. Owns: the NODE_KEY codec, the node's
 * history of its own published words, the table of keys held, the key-path
 * rule, and the daemon's publishing, receiving and waiting.
 *
 * Which words: a round at epoch E reads, for each member, its newest
 * telemetry not after E and at most VEIL_TELEMETRY_MAX_AGE_EPOCHS older
 * (veil_round_candidates). The node keeps the words it published (as many
 * epochs as the telemetry history) and computes its key on exactly that
 * entry, so the placement is the one the full circuit would make over its
 * telemetry: the oracle's. It publishes once those words are final (the
 * epoch E is over, or its telemetry of E is out), normally when it plans
 * the round, and answers a key another node published for a round it holds
 * with its own for the same plan, even while its admission still queues
 * the round (each node admits rounds at its own moment; a candidate's key
 * must not wait for that), at most ROUND_KEY_EPOCHS epochs per attempt. A
 * node with no such words (just started, its telemetry stale
 * or never published) is no candidate in the full circuit either: it
 * publishes nothing, and the schedulers, who wait for the key of every
 * member they would count as a candidate for at most one telemetry
 * interval after the round's start, leave it out.
 *
 * Privacy: the key is a function of values the node encrypts anyway; it
 * leaves the process only encrypted, the plaintext words and key are wiped
 * after use and never logged. Trust: a key is accepted only from the node
 * it names (the gossip author, StrictSign), and refused for a round the
 * node cannot be a candidate of (a confidential request, a round without
 * the key path, a node holding another replica of the job, an epoch far
 * from now). The parts that need no daemon (the codec, the own words, the
 * table, the key-path rule) are in daemon_keys_wire.c.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_keys.h"
#include "daemon_policy.h"
#include "daemon_sched.h"

/* ---- in the daemon ---- */

static bool round_in_plan(const struct round *r)
{
    return r->state == VEIL_ROUND_ST_PLANNED || r->state == VEIL_ROUND_ST_EVALUATING ||
           r->state == VEIL_ROUND_ST_EVALUATED;
}

/* the policy's schedFlags (SCHED_NO_NODE_KEYS: the full circuit for every
 * round; daemon_policy.c, the same on every node) */
static bool keys_on(const veil_daemon *d)
{
    return veil_daemon_sched_node_keys(d);
}

/* This node's words of `epoch` can no longer change: the epoch is over, or
 * its telemetry of that epoch (or a later one) is out. */
static bool words_final(const veil_daemon *d, uint64_t epoch, uint64_t now_ms)
{
    if (veil_epoch_of(now_ms, d->interval_ms) > epoch)
        return true;
    for (size_t i = 0; i < NODE_KEY_WORDS_HISTORY; i++)
        if (d->own_words.v[i].set && d->own_words.v[i].epoch >= epoch)
            return true;
    return false;
}

/* The key of this node for the round at `epoch`, encrypted into ct; 1
 * (nothing) when the node has no words for that epoch. */
static int own_key_ct(veil_daemon *d, const struct round *r, uint64_t epoch, veil_buf *ct,
                      veil_err *err)
{
    uint16_t words[VEIL_TELEMETRY_WORDS], key = 0;
    struct veil_telemetry_q q;
    if (node_own_words_at(&d->own_words, epoch, VEIL_TELEMETRY_MAX_AGE_EPOCHS, words) != 0)
        return 1;
    veil_telemetry_from_words(words, &q);
    int rc = veil_sched_node_key(&r->req, &q, &key, err);
    if (rc == 0)
        rc = veil_daemon_key_encrypt(d->fhe_pk, key, ct, err);
    veil_memzero(words, sizeof words);
    veil_memzero(&q, sizeof q);
    veil_memzero(&key, sizeof key);
    return rc;
}

/* True when this node published (or gave up) its key for that plan, or
 * spent its ROUND_KEY_EPOCHS epochs of the attempt; else records the plan
 * and returns false (publish now). */
static bool key_plan_taken(struct round *r, uint32_t attempt, uint64_t epoch)
{
    if (r->key_attempt != attempt || r->n_key_epochs == 0) {
        r->key_attempt = attempt;
        r->n_key_epochs = 0;
    }
    for (size_t i = 0; i < r->n_key_epochs; i++)
        if (r->key_epochs[i] == epoch)
            return true;
    if (r->n_key_epochs == ROUND_KEY_EPOCHS)
        return true; /* a sender cannot make this node publish without end */
    r->key_epochs[r->n_key_epochs++] = epoch;
    return false;
}

/* Publishes a key message on the cluster topic (*bytes: its size). TEST
 * ONLY: a node told to (debug.test_only_drop_first_node_key) skips the
 * publication of its first one, as if gossip had lost it. */
static int publish_key_msg(veil_daemon *d, const struct node_key_msg *m, size_t *bytes,
                           veil_err *err)
{
    veil_buf msg;
    veil_buf_init(&msg);
    int rc = veil_node_key_msg_encode(&msg, m, err);
    *bytes = msg.len;
    if (rc == 0 && !d->node_keys.test_dropped &&
        veil_config_bool(d->cfg, "debug.test_only_drop_first_node_key", false)) {
        char job_hex[65];
        veil_hex_encode(job_hex, sizeof job_hex, m->job_id, 32);
        d->node_keys.test_dropped = true;
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: node key dropped, not published",
                 "job=%.16s replica=%u attempt=%u epoch=%llu", job_hex, m->replica, m->attempt + 1,
                 (unsigned long long)m->epoch);
    } else if (rc == 0) {
        rc = veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, err);
    }
    veil_buf_free(&msg);
    return rc;
}

/* Publishes this node's key for the round's plan (attempt, epoch), once,
 * when its words of that epoch are final, and keeps it. */
static void publish_own(veil_daemon *d, struct round *r, uint32_t attempt, uint64_t epoch,
                        uint64_t now_ms)
{
    if (!words_final(d, epoch, now_ms) || key_plan_taken(r, attempt, epoch))
        return;
    veil_buf ct;
    veil_buf_init(&ct);
    size_t bytes = 0;
    veil_err err = {0};
    int rc = own_key_ct(d, r, epoch, &ct, &err);
    if (rc > 0) {
        veil_log(VEIL_LOG_INFO, SUB, "no key: no telemetry words for the round's epoch",
                 "job=%.16s replica=%u epoch=%llu", r->job_hex, r->replica,
                 (unsigned long long)epoch);
        veil_buf_free(&ct);
        return;
    }
    struct node_key_msg m = {
        .replica = r->replica, .attempt = attempt, .epoch = epoch, .ct = ct.data, .ct_len = ct.len};
    memcpy(m.job_id, r->job_id, 32);
    veil_daemon_to_peer(&m.node, &d->self);
    if (rc == 0)
        rc = publish_key_msg(d, &m, &bytes, &err);
    if (rc == 0)
        rc = node_key_table_put(&d->node_keys, &m, &err); /* gossip does not loop back */
    if (rc == 0)
        veil_log(VEIL_LOG_INFO, SUB, "node key published",
                 "job=%.16s replica=%u attempt=%u epoch=%llu bytes=%zu", r->job_hex, r->replica,
                 attempt + 1, (unsigned long long)epoch, bytes);
    else
        veil_log(VEIL_LOG_WARN, SUB, "node key not published", "job=%.16s replica=%u error=\"%s\"",
                 r->job_hex, r->replica, err.msg);
    veil_buf_free(&ct);
}

void veil_daemon_keys_planned(veil_daemon *d, struct round *r)
{
    r->keys = keys_on(d) && node_key_path(r->req.confidential);
    r->pbs = 0;
    if (r->keys)
        publish_own(d, r, r->attempt, r->epoch, veil_daemon_wall_ms());
}

void veil_daemon_keys_own_words(veil_daemon *d, uint64_t epoch,
                                const uint16_t words[VEIL_TELEMETRY_WORDS])
{
    node_own_words_put(&d->own_words, epoch, words);
}

/* The node of another replica of the round's job is no candidate. */
static bool holds_other_replica(veil_daemon *d, const struct round *r,
                                const struct veil_peer_id *node)
{
    veil_p2p_peer_id pid;
    char text[VEIL_P2P_PEER_ID_TEXT_MAX], held[96];
    if (veil_p2p_peer_id_from_bytes(node->bytes, node->len, &pid, NULL) != 0)
        return true;
    veil_p2p_peer_id_to_text(&pid, text, sizeof text);
    for (uint32_t k = 0; k < r->replicas; k++) {
        veil_err err = {0};
        if (k != r->replica &&
            veil_store_replica_get_node(d->store, r->job_hex, k, held, sizeof held, &err) == 0 &&
            strcmp(held, text) == 0)
            return true;
    }
    return false;
}

/* Why a key cannot belong to a round this node holds (NULL: it may). A
 * round not held yet (the key outran the job) or not planned yet keeps the
 * key: only the keys of a round's own plan are ever read. */
static const char *sender_refused(veil_daemon *d, uint64_t epoch, const struct veil_peer_id *node)
{
    uint64_t now = veil_epoch_of(veil_daemon_wall_ms(), d->interval_ms);
    if (epoch > now + 1 || epoch + 2 * NODE_KEY_WORDS_HISTORY < now)
        return "epoch far from now";
    if (!veil_daemon_member_get(d, node->bytes, node->len, false))
        return "not a member";
    return NULL;
}

static const char *key_refused(veil_daemon *d, const struct node_key_msg *m)
{
    const char *why = sender_refused(d, m->epoch, &m->node);
    if (why)
        return why;
    const struct round *r = round_table_get(&d->rounds, m->job_id, m->replica);
    if (!r || !r->have_req)
        return NULL;
    if (r->req.confidential)
        return "confidential request";
    if (round_in_plan(r) && m->attempt == r->attempt && !r->keys)
        return "round without the key path";
    if (holds_other_replica(d, r, &m->node))
        return "node holds another replica of the job";
    return NULL;
}

static void on_key_request(veil_daemon *d, const struct veil_gs_message *msg);

void veil_daemon_on_node_key(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct node_key_msg m;
    veil_err err = {0};
    if (veil_node_key_msg_is_req(msg->data, msg->data_len)) {
        on_key_request(d, msg);
        return;
    }
    if (veil_node_key_msg_parse(msg->data, msg->data_len, &m, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "bad node key message", "error=\"%s\"", err.msg);
        return;
    }
    if (m.node.len != msg->from_len || memcmp(m.node.bytes, msg->from, msg->from_len) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "node key for another node dropped", NULL);
        return; /* a key speaks only for its author */
    }
    char job_hex[65];
    veil_hex_encode(job_hex, sizeof job_hex, m.job_id, 32);
    const char *why = key_refused(d, &m);
    if (why) {
        veil_log(VEIL_LOG_INFO, SUB, "node key refused", "job=%.16s replica=%u reason=\"%s\"",
                 job_hex, m.replica, why);
        return;
    }
    if (node_key_table_put(&d->node_keys, &m, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "node key not kept", "error=\"%s\"", err.msg);
    else
        veil_log(VEIL_LOG_DEBUG, SUB, "node key received",
                 "job=%.16s replica=%u attempt=%u epoch=%llu", job_hex, m.replica, m.attempt + 1,
                 (unsigned long long)m.epoch);
}

/* A round whose request this node knows, public, not over: it answers the
 * keys of others for the round's current attempt with its own, planned
 * here or still queued by admission (each node admits at its own moment:
 * a queued node must not hold the round's candidates back). */
static bool answers_keys(const veil_daemon *d, const struct round *r)
{
    return r->have_req && !r->req.confidential && keys_on(d) &&
           (r->state == VEIL_ROUND_ST_READY || round_in_plan(r));
}

/* A request for this node's key of a plan it holds: the key again (at
 * most NODE_KEY_RESENDS times per plan), or, when it published none yet,
 * its key as an answer. */
static void resend_own(veil_daemon *d, struct round *r, const struct node_key_req *q,
                       uint64_t now_ms)
{
    struct veil_peer_id self;
    veil_daemon_to_peer(&self, &d->self);
    struct node_key_entry *e = (struct node_key_entry *)node_key_table_find(
        &d->node_keys, q->job_id, q->replica, q->attempt, q->epoch, &self);
    if (!e) {
        publish_own(d, r, q->attempt, q->epoch, now_ms);
        return;
    }
    if (!node_key_resend_take(e)) {
        veil_log(VEIL_LOG_DEBUG, SUB, "node key request: re-sends spent", "job=%.16s replica=%u",
                 r->job_hex, r->replica);
        return;
    }
    struct node_key_msg m = {.replica = e->replica,
                             .attempt = e->attempt,
                             .epoch = e->epoch,
                             .node = self,
                             .ct = e->ct,
                             .ct_len = e->ct_len};
    memcpy(m.job_id, e->job_id, 32);
    unsigned resent = e->resent;
    size_t bytes = 0;
    veil_err err = {0};
    if (publish_key_msg(d, &m, &bytes, &err) == 0)
        veil_log(VEIL_LOG_INFO, SUB, "node key re-sent",
                 "job=%.16s replica=%u attempt=%u epoch=%llu resend=%u", r->job_hex, r->replica,
                 q->attempt + 1, (unsigned long long)q->epoch, resent);
    else
        veil_log(VEIL_LOG_WARN, SUB, "node key not re-sent", "job=%.16s replica=%u error=\"%s\"",
                 r->job_hex, r->replica, err.msg);
}

static void on_key_request(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct node_key_req q;
    veil_err err = {0};
    if (veil_node_key_req_parse(msg->data, msg->data_len, &q, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "bad node key request", "error=\"%s\"", err.msg);
        return;
    }
    if (q.from.len != msg->from_len || memcmp(q.from.bytes, msg->from, msg->from_len) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "node key request for another node dropped", NULL);
        return; /* a request speaks only for its author */
    }
    const char *why = sender_refused(d, q.epoch, &q.from);
    struct veil_peer_id self;
    veil_daemon_to_peer(&self, &d->self);
    bool named = false;
    for (size_t i = 0; i < q.n_missing && !named; i++)
        named = veil_daemon_peer_eq(&q.missing[i], &self);
    struct round *r = round_table_get(&d->rounds, q.job_id, q.replica);
    if (!why && named && (!r || !answers_keys(d, r) || q.attempt != r->attempt))
        why = "no such plan held here";
    if (why) {
        veil_log(VEIL_LOG_DEBUG, SUB, "node key request refused", "replica=%u reason=\"%s\"",
                 q.replica, why);
        return;
    }
    if (named)
        resend_own(d, r, &q, veil_daemon_wall_ms());
}

void veil_daemon_keys_tick(veil_daemon *d, uint64_t now_ms)
{
    for (size_t i = 0; i < d->rounds.n; i++) { /* this node's own plans */
        struct round *r = d->rounds.v[i];
        if (round_in_plan(r) && r->keys)
            publish_own(d, r, r->attempt, r->epoch, now_ms);
    }
    struct veil_peer_id self;
    veil_daemon_to_peer(&self, &d->self);
    for (size_t i = 0; i < d->node_keys.n;) {
        struct node_key_entry e = d->node_keys.v[i]; /* publish_own may grow the table */
        struct round *r = round_table_get(&d->rounds, e.job_id, e.replica);
        if (r && (veil_round_state_terminal(r->state) || e.attempt < r->attempt)) {
            /* read once, by its own attempt's evaluation: a settled round's
             * keys and an earlier attempt's go */
            uint32_t below = veil_round_state_terminal(r->state) ? UINT32_MAX : r->attempt;
            if (node_key_table_drop(&d->node_keys, e.job_id, e.replica, below) > 0)
                continue; /* entry i is a later one now */
        }
        if (r && answers_keys(d, r) && e.attempt == r->attempt &&
            !veil_daemon_peer_eq(&e.node, &self))
            publish_own(d, r, e.attempt, e.epoch, now_ms);
        i++;
    }
    uint64_t now = veil_epoch_of(now_ms, d->interval_ms);
    if (now > 2 * NODE_KEY_WORDS_HISTORY)
        (void)node_key_table_prune(&d->node_keys, now - 2 * NODE_KEY_WORDS_HISTORY);
}

/* A member the full circuit would count as a candidate at the epoch. */
static bool member_candidate(const struct member *m, uint64_t epoch)
{
    size_t k = veil_daemon_member_hist_at(m, epoch);
    return m->alive && k != TELEMETRY_HISTORY &&
           epoch - m->hist[k].epoch <= VEIL_TELEMETRY_MAX_AGE_EPOCHS;
}

/* The members the round would count as candidates whose key of its plan
 * is not held: their count, the first NODE_KEY_REQ_MAX of them into q. */
static size_t missing_keys(veil_daemon *d, const struct round *owner, struct node_key_req *q)
{
    size_t missing = 0;
    for (size_t i = 0; i < d->n_members; i++) {
        struct veil_peer_id p;
        veil_daemon_to_peer(&p, &d->members[i].id);
        if (!member_candidate(&d->members[i], owner->epoch) ||
            node_key_table_find(&d->node_keys, owner->job_id, owner->replica, owner->attempt,
                                owner->epoch, &p))
            continue;
        if (q->n_missing < NODE_KEY_REQ_MAX)
            q->missing[q->n_missing++] = p;
        missing++;
    }
    return missing;
}

/* Asks the nodes in q for their keys again (once per plan: the caller
 * records it), logged once. */
static void ask_keys(veil_daemon *d, const struct round *owner, struct node_key_req *q,
                     size_t missing)
{
    veil_daemon_to_peer(&q->from, &d->self);
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    int rc = veil_node_key_req_encode(&msg, q, &err);
    if (rc == 0)
        rc = veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err);
    if (rc == 0)
        veil_log(VEIL_LOG_INFO, SUB, "node keys asked again",
                 "job=%.16s replica=%u attempt=%u epoch=%llu missing=%zu", owner->job_hex,
                 owner->replica, owner->attempt + 1, (unsigned long long)owner->epoch, missing);
    else
        veil_log(VEIL_LOG_WARN, SUB, "node keys not asked", "job=%.16s replica=%u error=\"%s\"",
                 owner->job_hex, owner->replica, err.msg);
    veil_buf_free(&msg);
}

bool veil_daemon_keys_ready(veil_daemon *d, const struct round *r, uint64_t now_ms)
{
    size_t shard, n_shards;
    const struct round *owner = r; /* a shard reads its parent's keys */
    if (veil_daemon_round_is_shard(r) &&
        !(owner = veil_daemon_shard_parent(d, r, &shard, &n_shards)))
        return true; /* evaluation refuses it (no parent held here) */
    if (!owner->keys)
        return true;
    /* from this node's planning (a queued round's start time may be long
     * past): the other nodes plan it within a gossip delay of it */
    uint64_t wait = d->interval_ms > 1000 ? d->interval_ms : 1000;
    struct node_key_req q = {
        .replica = owner->replica, .attempt = owner->attempt, .epoch = owner->epoch};
    memcpy(q.job_id, owner->job_id, 32);
    struct node_key_plan plan = {
        .replica = owner->replica, .attempt = owner->attempt, .epoch = owner->epoch};
    memcpy(plan.job_id, owner->job_id, 32);
    size_t missing = missing_keys(d, owner, &q);
    bool asked = node_key_table_asked(&d->node_keys, &plan);
    switch (node_key_wait_rule(r->planned_ms, now_ms, wait, missing > 0, asked)) {
    case NODE_KEY_GO:
        return true;
    case NODE_KEY_ASK:
        node_key_table_mark_asked(&d->node_keys, &plan);
        ask_keys(d, owner, &q, missing);
        return false;
    case NODE_KEY_WAIT:
    default:
        return false;
    }
}

void veil_daemon_keys_free(veil_daemon *d)
{
    node_key_table_free(&d->node_keys);
    node_own_words_wipe(&d->own_words);
}
