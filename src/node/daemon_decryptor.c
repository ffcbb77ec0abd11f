// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_decryptor.c - the designated decryptor (the node the on-chain
 * policy names, holding the FHE client key): it decrypts only a scheduler
 * output that a majority of the round's schedulers vouched for by digest
 * (veil_decrypt_guard: never telemetry, never an arbitrary ciphertext),
 * signs the assignment and publishes it (a batch round's output: one
 * assignment per replica, each in the unchanged format); when the digests
 * cannot agree, or the agreed output has no candidate at all (its schedulers
 * held no fresh telemetry: no verdict on the job, issue 18), it runs the
 * bounded retries (ROUND_RETRY); a round whose replica its node took back
 * meanwhile is settled, never decided. Scheduler outputs reach it on
 * /veil/sched-output/1.0.0.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_sched.h"

static void check_agreement(veil_daemon *d, struct round *r);
static void publish_retry(veil_daemon *d, struct round *r, enum veil_round_retry_reason reason,
                          uint64_t now);

/* A round this node may decide (the designated decryptor) or retry (it, or
 * any key holder): planned (schedulers known), not decided. */
static bool decidable(const veil_daemon *d, const struct round *r)
{
    return (daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || daemon_has_role(d, VEIL_ROLE_KEY_HOLDER)) &&
           (r->state == VEIL_ROUND_ST_PLANNED || r->state == VEIL_ROUND_ST_EVALUATING ||
            r->state == VEIL_ROUND_ST_EVALUATED);
}

/* Signs, publishes and records one replica's assignment (the round's
 * epoch and output digest; node NULL: unschedulable). Replica j > 0 of a
 * batch is recorded into its own (job, j) round, created decided. */
static void assign_replica(veil_daemon *d, struct round *r, uint32_t replica,
                           const struct veil_peer_id *node, const uint8_t digest[32],
                           uint64_t epoch, size_t n_shards, size_t batch)
{
    veil_err err = {0};
    struct veil_msg_assignment a = {0};
    memcpy(a.job_id, r->job_id, 32);
    a.replica = replica;
    a.schedulable = node != NULL;
    if (node)
        a.node = *node;
    memcpy(a.output_digest, digest, 32);
    a.epoch = epoch;
    veil_buf msg;
    veil_buf_init(&msg);
    if (veil_assignment_sign(&a, d->cluster_id, d->key.secret_key, &err) != 0 ||
        veil_msg_assignment_encode(&msg, &a, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment not published", "error=\"%s\"", err.msg);
        veil_buf_free(&msg);
        return; /* decided; gossip's own retries or the next round carry it */
    }
    veil_buf_free(&msg);
    if (n_shards)
        veil_log(VEIL_LOG_INFO, SUB, "assignment signed",
                 "job=%.16s replica=%u schedulable=%d shards=%zu batch=%zu", r->job_hex, replica,
                 a.schedulable, n_shards, batch);
    else
        veil_log(VEIL_LOG_INFO, SUB, "assignment signed",
                 "job=%.16s replica=%u schedulable=%d batch=%zu", r->job_hex, replica,
                 a.schedulable, batch);
    struct round *rr = replica == r->replica ? r : veil_daemon_round(d, r->job_id, replica, true);
    if (rr && !(rr != r && rr->state == VEIL_ROUND_ST_DECIDED))
        veil_daemon_record_assignment(d, rr, &a);
}

/* The decrypted pairs name candidates of the output, each node at most
 * once (the rule key holders apply too: daemon_holder.h). */
int veil_daemon_pairs_nodes(const uint32_t *index, const bool *found, size_t k, bool none,
                            const struct veil_peer_id *cands, size_t nc,
                            const struct veil_peer_id **nodes, veil_err *err)
{
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "%zu pairs (1 to %d)", k, VEIL_SCHED_MAX_REPLICAS);
    for (size_t j = 0; j < k; j++) {
        nodes[j] = NULL;
        if (none || !found[j])
            continue;
        if (index[j] >= nc)
            return veil_err_set(err, VEIL_E_PROTOCOL, "replica %zu: index %u of %zu candidates", j,
                                index[j], nc);
        for (size_t i = 0; i < j; i++)
            if (nodes[i] && index[i] == index[j])
                return veil_err_set(err, VEIL_E_PROTOCOL, "replicas %zu and %zu on one node", i, j);
        nodes[j] = &cands[index[j]];
    }
    return 0;
}

/* Decrypts the (index, found) pairs of a scheduler output this node may
 * decrypt (vouched for by the round's majority, or the merge of vouched
 * shard outputs): one pair, or a batch round's k (one per replica), then
 * signs, publishes and records each replica's assignment. */
int veil_daemon_decide_output(veil_daemon *d, struct round *r, const uint8_t *out, size_t len,
                              uint64_t epoch, size_t n_shards)
{
    veil_err err = {0};
    struct veil_peer_id *cands = NULL;
    size_t nc = 0, k = r->batch > 1 ? r->batch : 1; /* sharded too: the merged k-lists */
    bool none = true, found[VEIL_SCHED_MAX_REPLICAS] = {0};
    const uint8_t *fhe;
    size_t fhe_len;
    uint32_t index[VEIL_SCHED_MAX_REPLICAS] = {0};
    const struct veil_peer_id *nodes[VEIL_SCHED_MAX_REPLICAS];
    int rc = veil_daemon_output_parse(out, len, &cands, &nc, &none, &fhe, &fhe_len, &err);
    if (rc == 0 && nc == 0) {
        free(cands);
        return 1; /* no candidate at all: not a verdict on the job */
    }
    if (rc == 0 && !none)
        rc = veil_daemon_output_decrypt_k(d->fhe_ck, fhe, fhe_len, k, index, found, &err);
    if (rc == 0)
        rc = veil_daemon_pairs_nodes(index, found, k, none, cands, nc, nodes, &err);
    if (rc != 0) {
        veil_log(VEIL_LOG_WARN, SUB, n_shards ? "bad merged output" : "bad scheduler output",
                 "job=%.16s batch=%zu error=\"%s\"", r->job_hex, k, err.msg);
        free(cands);
        return -1;
    }
    uint8_t digest[32];
    veil_sched_output_digest(digest, r->job_id, r->replica, epoch, out, len);
    /* the later replicas first: when replica 0's assignment arrives anywhere,
     * the others are recorded already (no node starts a round for them) */
    for (size_t j = k; j-- > 0;)
        assign_replica(d, r, r->replica + (uint32_t)j, nodes[j], digest, epoch, n_shards, k);
    free(cands);
    return 0;
}

void veil_daemon_try_decide(veil_daemon *d, struct round *r)
{
    /* a replica placed meanwhile (taken back by its node) is never moved by
     * a decision: the round is settled instead (issue 18) */
    if (!decidable(d, r) || veil_daemon_round_settle_placed(d, r))
        return;
    if (daemon_has_role(d, VEIL_ROLE_KEY_HOLDER)) {
        veil_daemon_holder_try(d, r); /* threshold: squash, partial, combine */
        check_agreement(d, r);
        return;
    }
    for (size_t i = 0; i < r->n_outputs; i++) {
        veil_err err = {0};
        const uint8_t *out = r->outputs[i].data;
        size_t len = r->outputs[i].len;
        /* The guard first: only an output a majority of the round's
         * schedulers vouched for is ever decrypted. */
        if (veil_decrypt_guard(r->job_id, r->replica, r->outputs[i].epoch, out, len, r->schedulers,
                               r->n_schedulers, r->digests, r->n_digests, &err) != 0) {
            veil_log(VEIL_LOG_DEBUG, SUB, "decryption refused",
                     "job=%.16s replica=%u reason=\"%s\"", r->job_hex, r->replica, err.msg);
            continue;
        }
        int rc = veil_daemon_decide_output(d, r, out, len, r->outputs[i].epoch, 0);
        if (rc == 0)
            return;
        if (rc > 0) {
            veil_daemon_retry_no_candidates(d, r, r->outputs[i].epoch);
            return;
        }
        /* vouched for, yet not k pairs this node can read (its store made
         * the round a batch of another size than the schedulers' did, or
         * the majority lies): waiting cannot help, the round starts over */
        veil_daemon_shard_retry(d, r);
        return;
    }
    check_agreement(d, r);
}

/* The decryptor's side: a round with no majority that cannot get one any
 * more (or ran past its deadline) is retried, at most
 * VEIL_ROUND_MAX_ATTEMPTS times in all, then abandoned visibly. */
static void check_agreement(veil_daemon *d, struct round *r)
{
    if (!decidable(d, r))
        return;
    uint64_t now = veil_daemon_wall_ms();
    struct veil_round_tally t;
    enum veil_round_verdict v =
        veil_round_decide(r->schedulers, r->n_schedulers, r->digests, r->n_digests,
                          now >= r->planned_ms + veil_daemon_round_deadline_ms(d), r->attempt,
                          VEIL_ROUND_MAX_ATTEMPTS, NULL, &t);
    if (v != VEIL_ROUND_RETRY && v != VEIL_ROUND_GIVE_UP)
        return;
    veil_log(VEIL_LOG_WARN, SUB, "no digest agreement",
             "job=%.16s replica=%u attempt=%u schedulers=%zu voted=%zu largest=%zu needed=%zu "
             "verdict=%s",
             r->job_hex, r->replica, r->attempt + 1, r->n_schedulers, t.voted, t.largest, t.needed,
             veil_round_verdict_name(v));
    publish_retry(d, r, t.split ? VEIL_RETRY_SPLIT : VEIL_RETRY_DEADLINE, now);
}

void veil_daemon_retry_no_candidates(veil_daemon *d, struct round *r, uint64_t epoch)
{
    if (!decidable(d, r))
        return;
    veil_log(VEIL_LOG_WARN, SUB, "round evaluated with no candidate: retried, not decided",
             "job=%.16s replica=%u attempt=%u epoch=%llu", r->job_hex, r->replica, r->attempt + 1,
             (unsigned long long)epoch);
    /* the deadline's reason: its backoff gives the members' telemetry time
     * to arrive before the next attempt (the wire has no reason of its own
     * for this; the log line above says it) */
    publish_retry(d, r, VEIL_RETRY_DEADLINE, veil_daemon_wall_ms());
}

/* Publishes and applies the round's next attempt (the final one once the
 * attempts are spent: the round is abandoned). */
static void publish_retry(veil_daemon *d, struct round *r, enum veil_round_retry_reason reason,
                          uint64_t now)
{
    struct veil_msg_round_retry m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.attempt = r->attempt + 1;
    m.reason = reason;
    m.final = m.attempt >= VEIL_ROUND_MAX_ATTEMPTS;
    /* after every epoch this attempt used, and after any evaluation still
     * running (it started before now) */
    m.epoch_min = veil_epoch_of(now, d->interval_ms);
    for (size_t i = 0; i < r->n_digests; i++)
        if (r->digest_epochs[i] + 1 > m.epoch_min)
            m.epoch_min = r->digest_epochs[i] + 1;
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_round_retry_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "round retry not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
    veil_daemon_apply_retry(d, &m);
}

/* The decryptor's side of /veil/sched-output/1.0.0: one length-prefixed
 * message, job id || replica || epoch || output. */
struct out_recv {
    veil_daemon *d;
    veil_p2p_lp_reader rd;
};

static void out_recv_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *user_data)
{
    struct out_recv *o = user_data;
    veil_err err = {0};
    const uint8_t *msg;
    size_t n;
    int rc = veil_p2p_lp_reader_feed(&o->rd, data, len, &err);
    if (rc == 0)
        rc = veil_p2p_lp_reader_next(&o->rd, &msg, &n, &err);
    if (rc < 0 || (rc == 1 && n < 44)) {
        veil_p2p_stream_reset(s);
        veil_p2p_lp_reader_free(&o->rd);
        free(o);
        return;
    }
    if (rc == 0)
        return;
    uint8_t job[32];
    uint32_t replica;
    uint64_t epoch;
    const uint8_t *output;
    size_t output_len;
    if (veil_daemon_output_msg_parse(msg, n, job, &replica, &epoch, &output, &output_len, &err) !=
        0)
        return;
    struct veil_peer_id from;
    veil_p2p_peer_id fp = *veil_p2p_stream_peer(s);
    veil_daemon_to_peer(&from, &fp);
    struct round *rd = veil_daemon_round(o->d, job, replica, true);
    if (rd)
        veil_daemon_add_output(o->d, rd, &from, epoch, output, output_len);
}

static void out_recv_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)s;
    (void)err;
    struct out_recv *o = user_data;
    veil_p2p_lp_reader_free(&o->rd);
    free(o);
}

void veil_daemon_on_output_stream(veil_p2p_stream *s, const char *protocol, void *user_data)
{
    (void)protocol;
    veil_daemon *d = user_data;
    struct out_recv *o = calloc(1, sizeof *o);
    if (!o ||
        !(daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || daemon_has_role(d, VEIL_ROLE_KEY_HOLDER))) {
        free(o);
        veil_p2p_stream_reset(s);
        return;
    }
    o->d = d;
    veil_p2p_lp_reader_init(&o->rd, SCHED_OUTPUT_MAX);
    static const struct veil_p2p_stream_callbacks cb = {.on_data = out_recv_data,
                                                        .on_close = out_recv_close};
    veil_p2p_stream_set_callbacks(s, &cb, o);
}

/* Rounds past their deadline without a digest majority are retried (or
 * given up) even when no new digest arrives to trigger the check. */
void veil_daemon_decryptor_tick(veil_daemon *d, uint64_t now_ms)
{
    for (size_t i = 0; i < d->rounds.n; i++) {
        struct round *r = d->rounds.v[i];
        if (decidable(d, r) && now_ms >= r->planned_ms + veil_daemon_round_deadline_ms(d) &&
            !veil_daemon_round_settle_placed(d, r))
            check_agreement(d, r);
    }
}
