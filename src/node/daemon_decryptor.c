// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_decryptor.c - the designated decryptor (the node the on-chain
 * policy names, holding the FHE client key): it decrypts only a scheduler
 * output that a majority of the round's schedulers vouched for by digest
 * (veil_decrypt_guard: never telemetry, never an arbitrary ciphertext),
 * signs the assignment and publishes it; when the digests cannot agree it
 * runs the bounded retries (ROUND_RETRY). Scheduler outputs reach it on
 * /veil/sched-output/1.0.0.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_sched.h"

static void check_agreement(veil_daemon *d, struct round *r);

/* A round this node may decide (the designated decryptor) or retry (it, or
 * any key holder): planned (schedulers known), not decided. */
static bool decidable(const veil_daemon *d, const struct round *r)
{
    return (daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || daemon_has_role(d, VEIL_ROLE_KEY_HOLDER)) &&
           (r->state == VEIL_ROUND_ST_PLANNED || r->state == VEIL_ROUND_ST_EVALUATING ||
            r->state == VEIL_ROUND_ST_EVALUATED);
}

/* Decrypts the (index, found) of a scheduler output this node may decrypt
 * (vouched for by the round's majority, or the merge of vouched shard
 * outputs), then signs, publishes and records the round's assignment. */
int veil_daemon_decide_output(veil_daemon *d, struct round *r, const uint8_t *out, size_t len,
                              uint64_t epoch, size_t n_shards)
{
    veil_err err = {0};
    struct veil_peer_id *cands = NULL;
    size_t nc = 0;
    bool none = true, found = false;
    const uint8_t *fhe;
    size_t fhe_len;
    uint32_t index = 0;
    int rc = veil_daemon_output_parse(out, len, &cands, &nc, &none, &fhe, &fhe_len, &err);
    if (rc == 0 && !none)
        rc = veil_daemon_output_decrypt(d->fhe_ck, fhe, fhe_len, &index, &found, &err);
    if (rc != 0 || (found && index >= nc)) {
        veil_log(VEIL_LOG_WARN, SUB, n_shards ? "bad merged output" : "bad scheduler output",
                 "job=%.16s error=\"%s\"", r->job_hex, err.msg);
        free(cands);
        return -1;
    }
    struct veil_msg_assignment a = {0};
    memcpy(a.job_id, r->job_id, 32);
    a.replica = r->replica;
    a.schedulable = !none && found;
    if (a.schedulable)
        a.node = cands[index];
    free(cands);
    veil_sched_output_digest(a.output_digest, r->job_id, r->replica, epoch, out, len);
    a.epoch = epoch;
    veil_buf msg;
    veil_buf_init(&msg);
    if (veil_assignment_sign(&a, d->cluster_id, d->key.secret_key, &err) != 0 ||
        veil_msg_assignment_encode(&msg, &a, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment not published", "error=\"%s\"", err.msg);
        veil_buf_free(&msg);
        return 0; /* decided; gossip's own retries or the next round carry it */
    }
    veil_buf_free(&msg);
    if (n_shards)
        veil_log(VEIL_LOG_INFO, SUB, "assignment signed",
                 "job=%.16s replica=%u schedulable=%d shards=%zu", r->job_hex, r->replica,
                 a.schedulable, n_shards);
    else
        veil_log(VEIL_LOG_INFO, SUB, "assignment signed", "job=%.16s replica=%u schedulable=%d",
                 r->job_hex, r->replica, a.schedulable);
    veil_daemon_record_assignment(d, r, &a);
    return 0;
}

void veil_daemon_try_decide(veil_daemon *d, struct round *r)
{
    if (!decidable(d, r))
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
        if (veil_daemon_decide_output(d, r, out, len, r->outputs[i].epoch, 0) == 0)
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
    struct veil_msg_round_retry m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.attempt = r->attempt + 1;
    m.reason = t.split ? VEIL_RETRY_SPLIT : VEIL_RETRY_DEADLINE;
    m.final = v == VEIL_ROUND_GIVE_UP;
    /* after every epoch this attempt used, and after any evaluation still
     * running (it started before now) */
    m.epoch_min = veil_epoch_of(now, d->interval_ms);
    for (size_t i = 0; i < r->n_digests; i++)
        if (r->digest_epochs[i] + 1 > m.epoch_min)
            m.epoch_min = r->digest_epochs[i] + 1;
    veil_log(VEIL_LOG_WARN, SUB, "no digest agreement",
             "job=%.16s replica=%u attempt=%u schedulers=%zu voted=%zu largest=%zu needed=%zu "
             "verdict=%s",
             r->job_hex, r->replica, r->attempt + 1, r->n_schedulers, t.voted, t.largest, t.needed,
             veil_round_verdict_name(v));
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
        if (decidable(d, r) && now_ms >= r->planned_ms + veil_daemon_round_deadline_ms(d))
            check_agreement(d, r);
    }
}
