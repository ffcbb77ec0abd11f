// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_scheduler.c - the scheduler role (nodes holding the server key):
 * for each planned round this node was chosen for, the FHE evaluation of
 * the placement circuit on the worker pool over the candidates' telemetry
 * ciphertexts of the round's epoch (one round at a time), then the digest of
 * its output on the topic and the output itself streamed to the decryptor
 * over /veil/sched-output/1.0.0. Sharded rounds: a shard round evaluates its
 * range of the candidates and keeps its winner's encrypted key; the
 * designated decryptor merges the shards' vouched outputs on the worker pool
 * and decides the round from the merged (index, found) alone. A batch round
 * (a job's replica 0 placing all its replicas) evaluates the circuit with
 * ARGMIN_REPLICAS: its output carries one (index, found) pair per replica;
 * a batch round's shard hands on its top k with their keys (k-lists) and
 * the decryptor merges those into the k pairs.
 * A round on the key path (a public request: daemon_keys.c) is the argmin
 * alone over the keys its candidates published, the candidates being the
 * alive members whose key of the round's plan arrived (waited for, bounded:
 * veil_daemon_keys_ready); a shard of such a round takes its range of its
 * parent's key set (veil_fhe_argmin_keyed); the outputs have the same
 * formats.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_core.h"
#include "daemon_sched.h"

/* One evaluation on the worker pool: a round over all its candidates, or
 * one shard of it (candidates [first, end) of the round's n_cands). */
struct eval_job {
    struct round *r;
    bool shard;
    size_t index, n_shards; /* the shard's */
    size_t first, end;
    size_t k;        /* the (index, found) pairs: the round's batch, fixed at the start */
    bool keys;       /* over node-computed keys (daemon_keys.c), fixed at the start */
    uint64_t pbs;    /* the evaluation's PBS, written by the worker */
    uint64_t cpu_ms; /* the process's CPU time while it ran (the FHE threads included) */
};

static uint64_t process_cpu_ms(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* A key-path round (or a shard of one: candidates [first, end)): the
 * argmin over the candidates' keys. A key that does not expand (a
 * malformed list) leaves its node out like an excluded one, at every
 * scheduler alike. */
static int evaluate_keys(veil_daemon *d, struct round *r, struct eval_job *j, veil_buf *fhe_out,
                         bool *none)
{
    size_t n = j->end - j->first;
    veil_fhe_ct **keys = calloc(n + 1, sizeof *keys);
    bool *out_of_round = calloc(n + 1, sizeof *out_of_round);
    int rc = keys && out_of_round ? 0 : veil_err_set(&r->work_err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t c = j->first + i;
        veil_err e = {0};
        out_of_round[i] = r->excluded[c] ||
                          veil_daemon_key_expand(r->lists[c], r->list_lens[c], &keys[i], &e) != 0;
    }
    if (rc == 0 && j->shard)
        rc = veil_daemon_schedule_shard_keys(d->fhe_sk, keys, n, out_of_round, j->first, r->n_cands,
                                             j->k, fhe_out, none, &j->pbs, &r->work_err);
    else if (rc == 0)
        rc = veil_daemon_schedule_keys(d->fhe_sk, keys, n, out_of_round, j->k, fhe_out, none,
                                       &j->pbs, &r->work_err);
    for (size_t i = 0; keys && i < n; i++)
        veil_fhe_ct_free(keys[i]);
    free(keys);
    free(out_of_round);
    return rc;
}

/* The circuit over candidates [first, end) (the whole round, or a shard's
 * range), into fhe_out. */
static int evaluate(veil_daemon *d, struct round *r, struct eval_job *j, veil_buf *fhe_out,
                    bool *none)
{
    if (j->keys)
        return evaluate_keys(d, r, j, fhe_out, none);
    uint64_t pbs0 = veil_fhe_server_pbs_count(d->fhe_sk);
    size_t n = j->end - j->first;
    veil_fhe_ct **words = calloc(n * VEIL_TELEMETRY_WORDS + 1, sizeof *words);
    veil_fhe_ct *req_words[VEIL_DAEMON_REQUEST_WORDS] = {0};
    int rc = words ? 0 : veil_err_set(&r->work_err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = veil_daemon_telemetry_expand(r->lists[j->first + i], r->list_lens[j->first + i],
                                          &words[i * VEIL_TELEMETRY_WORDS], &r->work_err);
    /* a confidential request is a ciphertext too: every resource and
     * constraint is compared under encryption */
    if (rc == 0 && r->req.confidential)
        rc = veil_daemon_request_expand(r->req_ct, r->req_ct_len, req_words, &r->work_err);
    if (rc == 0 && j->shard)
        rc = veil_daemon_schedule_shard(d->fhe_sk, &r->req,
                                        r->req.confidential ? req_words : NULL, words, n,
                                        r->excluded + j->first, j->first, r->n_cands, j->k,
                                        fhe_out, none, &r->work_err);
    else if (rc == 0) /* k (index, found) pairs: a batch round places every replica */
        rc = veil_daemon_schedule_batch(d->fhe_sk, &r->req,
                                        r->req.confidential ? req_words : NULL, words, n,
                                        r->excluded, j->k, fhe_out, none, NULL, &r->work_err);
    for (size_t i = 0; i < VEIL_DAEMON_REQUEST_WORDS; i++)
        veil_fhe_ct_free(req_words[i]);
    for (size_t i = 0; words && i < n * VEIL_TELEMETRY_WORDS; i++)
        veil_fhe_ct_free(words[i]);
    free(words);
    /* the server's own context (a batch's or shard's argmin runs on its
     * own: not counted) */
    j->pbs = veil_fhe_server_pbs_count(d->fhe_sk) - pbs0;
    return rc;
}

static void sched_work(uv_work_t *w)
{
    struct eval_job *j = w->data;
    struct round *r = j->r;
    veil_buf fhe_out;
    veil_buf_init(&fhe_out);
    bool none = true;
    uint64_t cpu0 = process_cpu_ms();
    r->work_rc = evaluate(r->d, r, j, &fhe_out, &none);
    j->cpu_ms = process_cpu_ms() - cpu0;
    veil_buf_reset(&r->output);
    if (j->shard) {
        int rc = veil_daemon_shard_output_encode(
            &r->output, (uint32_t)r->n_cands, (uint32_t)j->first, (uint32_t)j->k,
            r->cands + j->first, (uint32_t)(j->end - j->first), none, fhe_out.data, fhe_out.len,
            &r->work_err);
        if (r->work_rc == 0)
            r->work_rc = rc;
        veil_buf_free(&fhe_out);
        return;
    }
    /* output = u32 n || n x (u8 len || peer) || u8 none || FHE output */
    veil_buf_put_u32be(&r->output, (uint32_t)r->n_cands);
    for (size_t i = 0; i < r->n_cands; i++) {
        veil_buf_put_u8(&r->output, r->cands[i].len);
        veil_buf_put(&r->output, r->cands[i].bytes, r->cands[i].len);
    }
    veil_buf_put_u8(&r->output, none ? 1 : 0);
    veil_buf_put(&r->output, fhe_out.data, fhe_out.len);
    veil_buf_free(&fhe_out);
    if (r->work_rc == 0 && !veil_buf_ok(&r->output))
        r->work_rc = veil_err_set(&r->work_err, VEIL_E_NOMEM, "out of memory");
}

struct out_send {
    veil_buf msg;
};

static void out_stream_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)s;
    (void)err;
    (void)user_data;
}

/* The whole output is framed (yamux keeps frames in order on the
 * connection): the stream is reset behind it. The receiver has it all before
 * the reset; a stream left half-open by a receiver that never closes its
 * side (the decryptor only reads) would otherwise stay open, and the re-sends
 * of a long-undecided round filled the connection's 256 streams in the chaos
 * long run ("too many streams on the connection"), so that no output reached
 * the decryptor any more. */
static void out_written(veil_p2p_stream *s, int status, void *user_data)
{
    (void)user_data;
    if (status == 0)
        veil_p2p_stream_reset(s);
}

static void out_stream_open(veil_p2p_stream *s, const char *protocol, const veil_err *err,
                            void *user_data)
{
    (void)protocol;
    struct out_send *o = user_data;
    if (!s) {
        veil_log(VEIL_LOG_WARN, SUB, "cannot reach the decryptor", "error=\"%s\"",
                 err ? err->msg : "?");
    } else {
        static const struct veil_p2p_stream_callbacks cb = {.on_close = out_stream_close};
        veil_p2p_stream_set_callbacks(s, &cb, NULL);
        veil_err e2 = {0};
        if (veil_p2p_stream_write_lp(s, o->msg.data, o->msg.len, out_written, NULL, &e2) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "sending the output failed", "error=\"%s\"", e2.msg);
            veil_p2p_stream_reset(s);
        }
    }
    veil_buf_free(&o->msg);
    free(o);
}

static void sched_after(uv_work_t *w, int status)
{
    struct eval_job job = *(struct eval_job *)w->data, *j = &job;
    free(w->data);
    struct round *r = j->r;
    veil_daemon *d = r->d;
    d->works--;
    w->data = r;
    r->busy = false;
    if (d->stopping) {
        veil_daemon_maybe_free(d);
        return;
    }
    d->computing = false;
    r->pbs = j->pbs;
    r->eval_cpu_ms = j->cpu_ms;
    r->eval_keys = j->keys;
    uint64_t took = veil_daemon_wall_ms() - r->eval_start_ms;
    if (status == 0 && r->work_rc == 0)
        round_pace_sample(&d->rounds.pace, took); /* the deadline follows this machine's speed */
    bool terminal = veil_round_state_terminal(r->state);
    if (r->work_attempt != r->attempt || r->state != VEIL_ROUND_ST_EVALUATING) {
        /* the decision (the other schedulers agreed first) or a retry came
         * while this ran: the result belongs to a finished attempt */
        veil_log(terminal ? VEIL_LOG_DEBUG : VEIL_LOG_INFO, SUB,
                 terminal ? "evaluation finished after the decision"
                          : "evaluation of a retried attempt dropped",
                 "job=%.16s replica=%u attempt=%u now=%u", r->job_hex, r->replica,
                 r->work_attempt + 1, r->attempt + 1);
        if (terminal) {
            round_free_work(r);
            veil_buf_free(&r->output);
            veil_buf_init(&r->output);
        }
        return;
    }
    if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_EVALUATED) != 0)
        return;
    if (status != 0 || r->work_rc != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "round failed", "job=%.16s replica=%u error=\"%s\"",
                 r->job_hex, r->replica, r->work_rc ? r->work_err.msg : "cancelled");
        return;
    }
    if (j->shard)
        veil_log(VEIL_LOG_INFO, SUB, "shard evaluated",
                 "id=%.16s shard=%zu of=%zu candidates=%zu of=%zu eval_ms=%llu keys=%d pbs=%llu",
                 r->job_hex, j->index, j->n_shards, j->end - j->first, r->n_cands,
                 (unsigned long long)took, j->keys, (unsigned long long)j->pbs);
    veil_daemon_publish_result(d, r, true);
}

/* Publishes this scheduler's digest on the topic and streams its output to
 * the decryptor; `first` also counts them locally (later calls re-send them
 * to a decryptor that may have been down). */
static void send_output(veil_daemon *d, const struct round *r, const veil_p2p_peer_id *to);

void veil_daemon_publish_result(veil_daemon *d, struct round *r, bool first)
{
    struct veil_msg_sched_digest m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.epoch = r->epoch;
    veil_daemon_to_peer(&m.scheduler, &d->self);
    veil_sched_output_digest(m.output_digest, r->job_id, r->replica, r->epoch, r->output.data,
                             r->output.len);
    if (r->test_split && r->attempt == 0) /* TEST ONLY: a digest no one else has */
        for (size_t i = 0; i < 32; i++)
            m.output_digest[i] ^= d->self.bytes[d->self.len - 32 + i];
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_sched_digest_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "digest not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
    char dhex[65];
    veil_hex_encode(dhex, sizeof dhex, m.output_digest, 32);
    veil_log(first ? VEIL_LOG_INFO : VEIL_LOG_DEBUG, SUB,
             first ? "round evaluated" : "round result re-sent",
             "job=%.16s replica=%u attempt=%u epoch=%llu "
             "candidates=%zu output_bytes=%zu digest=%.16s eval_ms=%llu keys=%d pbs=%llu "
             "took_ms=%llu cpu_ms=%llu",
             r->job_hex, r->replica, r->attempt + 1, (unsigned long long)r->epoch, r->n_cands,
             r->output.len, dhex, (unsigned long long)d->rounds.pace.eval_ms, r->eval_keys,
             (unsigned long long)r->pbs,
             (unsigned long long)(first && r->eval_start_ms
                                      ? veil_daemon_wall_ms() - r->eval_start_ms
                                      : 0),
             (unsigned long long)r->eval_cpu_ms);
    struct veil_peer_id self = m.scheduler;
    if (first)
        veil_daemon_add_digest(d, r, &m.scheduler, r->epoch, m.output_digest);
    /* the output (well over 64 KiB) goes to the decryptor, or to every key
     * holder, on direct streams */
    if (first &&
        (daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || daemon_has_role(d, VEIL_ROLE_KEY_HOLDER)))
        veil_daemon_add_output(d, r, &self, r->epoch, r->output.data, r->output.len);
    if (d->th.cluster) {
        for (unsigned i = 0; i < d->th.pub.n; i++)
            if (i + 1 != d->th.index)
                send_output(d, r, &d->th.peers[i]);
        return;
    }
    if (!daemon_has_role(d, VEIL_ROLE_DECRYPTOR) && d->have_decryptor_peer)
        send_output(d, r, &d->decryptor_peer);
}

/* Streams a round's output to one peer (the decryptor or a key holder). */
static void send_output(veil_daemon *d, const struct round *r, const veil_p2p_peer_id *to)
{
    veil_err err = {0};
    struct out_send *o = calloc(1, sizeof *o);
    if (!o)
        return;
    veil_buf_init(&o->msg);
    veil_buf_put(&o->msg, r->job_id, 32);
    veil_buf_put_u32be(&o->msg, r->replica);
    veil_buf_put_u64be(&o->msg, r->epoch);
    veil_buf_put(&o->msg, r->output.data, r->output.len);
    static const char *const protos[] = {SCHED_OUTPUT_PROTO};
    if (veil_p2p_host_new_stream(d->host, to, protos, 1, out_stream_open, o, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "cannot reach the decryptor", "error=\"%s\"", err.msg);
        veil_buf_free(&o->msg);
        free(o);
    }
}

/* Replicas of one job land on distinct nodes: the nodes the store records
 * for the job's other replicas are excluded (every scheduler reads the same
 * assignments, so they exclude the same nodes). */
static bool node_taken(veil_daemon *d, const struct round *r, const struct veil_peer_id *cand)
{
    veil_p2p_peer_id pid;
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    if (veil_p2p_peer_id_from_bytes(cand->bytes, cand->len, &pid, NULL) != 0)
        return false;
    veil_p2p_peer_id_to_text(&pid, text, sizeof text);
    for (uint32_t k = 0; k < r->replicas; k++) {
        char node[96];
        veil_err err = {0};
        if (k == r->replica)
            continue;
        if (veil_store_replica_get_node(d->store, r->job_hex, k, node, sizeof node, &err) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "replica node not read",
                     "job=%.16s replica=%u error=\"%s\"", r->job_hex, k, err.msg);
            continue;
        }
        if (strcmp(node, text) == 0)
            return true;
    }
    return false;
}

/* Waited so long that the round's epoch left the telemetry history: a
 * later epoch instead of reporting a node missing, on the grid of
 * ROUND_EPOCH_MAX_LAG epochs (veil_round_epoch_held) so that schedulers
 * starting within one step still agree; the newest when that is not enough.
 * Schedulers that still disagree are re-aligned by the decryptor's retry. */
static void refresh_epoch(veil_daemon *d, struct round *r)
{
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].alive && veil_daemon_member_evicted(&d->members[i], r->epoch)) {
            uint64_t newest = veil_epoch_of(veil_daemon_wall_ms(), d->interval_ms) - 1;
            uint64_t e = veil_round_epoch_held(r->epoch, newest, ROUND_EPOCH_MAX_LAG);
            if (e == r->epoch || veil_daemon_member_evicted(&d->members[i], e))
                e = newest;
            veil_log(VEIL_LOG_WARN, SUB, "round inputs no longer held: newer epoch",
                     "job=%.16s replica=%u epoch=%llu now=%llu", r->job_hex, r->replica,
                     (unsigned long long)r->epoch, (unsigned long long)e);
            r->epoch = e;
            return;
        }
}

/* The round's candidate arrays for nc candidates (freed with the round),
 * and the job's range of them (a shard's, else all). */
static int inputs_alloc(struct round *r, struct eval_job *j, size_t nc)
{
    r->n_cands = nc;
    j->first = 0;
    j->end = nc;
    if (j->shard)
        veil_round_shard_range(nc, j->n_shards, j->index, &j->first, &j->end);
    r->cands = calloc(nc + 1, sizeof *r->cands);
    r->lists = calloc(nc + 1, sizeof *r->lists);
    r->list_lens = calloc(nc + 1, sizeof *r->list_lens);
    r->excluded = calloc(nc + 1, sizeof *r->excluded);
    return r->cands && r->lists && r->list_lens && r->excluded ? 0 : -1;
}

/* Candidate i's input: a copy of its ciphertext list, and whether it holds
 * another replica of `owner`'s job. */
static int input_put(veil_daemon *d, struct round *r, const struct round *owner, size_t i,
                     const uint8_t *data, size_t len)
{
    r->lists[i] = malloc(len);
    if (!r->lists[i])
        return -1;
    memcpy(r->lists[i], data, len);
    r->list_lens[i] = len;
    r->excluded[i] = node_taken(d, owner, &r->cands[i]);
    return 0;
}

/* The round's inputs: the candidates (alive, fresh telemetry of the round's
 * epoch, sorted by peer ID) with copies of the ciphertexts the evaluation
 * reads (a shard's range only); `owner` is the round whose other replicas
 * are excluded (a shard's parent). */
static int gather_inputs(veil_daemon *d, struct round *r, const struct round *owner,
                         struct eval_job *j)
{
    struct veil_telemetry_seen seen[MAX_MEMBERS];
    size_t hist_of[MAX_MEMBERS], member_of[MAX_MEMBERS], n = 0;
    for (size_t i = 0; i < d->n_members; i++) {
        struct member *m = &d->members[i];
        size_t best = veil_daemon_member_hist_at(m, r->epoch);
        if (!m->alive || best == TELEMETRY_HISTORY)
            continue;
        veil_daemon_to_peer(&seen[n].node, &m->id);
        seen[n].epoch = m->hist[best].epoch;
        seen[n].alive = true;
        hist_of[n] = best;
        member_of[n] = i;
        n++;
    }
    size_t idx[MAX_MEMBERS];
    size_t nc = veil_round_candidates(seen, n, r->epoch, VEIL_TELEMETRY_MAX_AGE_EPOCHS, idx);
    if (inputs_alloc(r, j, nc) != 0)
        return -1;
    for (size_t i = 0; i < nc; i++) {
        r->cands[i] = seen[idx[i]].node;
        if (i < j->first || i >= j->end)
            continue; /* another shard's */
        const struct member *m = &d->members[member_of[idx[i]]];
        size_t k = hist_of[idx[i]];
        if (input_put(d, r, owner, i, m->hist[k].data, m->hist[k].len) != 0)
            return -1;
    }
    return 0;
}

/* A key-path round's inputs: the alive members whose key of the plan of
 * `owner` (the round, or a shard's parent) is held, in the candidate order,
 * with copies of their key lists (a shard's range only). */
static int gather_key_inputs(veil_daemon *d, struct round *r, const struct round *owner,
                             struct eval_job *j)
{
    struct veil_peer_id alive[MAX_MEMBERS];
    const struct node_key_entry *held[MAX_MEMBERS];
    size_t n_alive = 0, nc = 0;
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].alive)
            veil_daemon_to_peer(&alive[n_alive++], &d->members[i].id);
    veil_err err = {0};
    if (node_key_candidates(&d->node_keys, owner->job_id, owner->replica, owner->attempt,
                            owner->epoch, alive, n_alive, held, &nc, &err) != 0)
        return -1;
    if (inputs_alloc(r, j, nc) != 0)
        return -1;
    for (size_t i = 0; i < nc; i++) {
        r->cands[i] = held[i]->node;
        if (i < j->first || i >= j->end)
            continue; /* another shard's */
        if (input_put(d, r, owner, i, held[i]->ct, held[i]->ct_len) != 0)
            return -1;
    }
    return 0;
}

/* A round's evaluation job; a shard round's (its parent's other replicas
 * are excluded, its k is its parent's batch) is NULL when its parent is not
 * held here. */
static struct eval_job *eval_job_new(veil_daemon *d, struct round *r, const struct round **owner)
{
    struct eval_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->r = r;
    j->k = r->batch > 1 ? r->batch : 1;
    j->keys = r->keys;
    *owner = r;
    if (!veil_daemon_round_is_shard(r))
        return j;
    const struct round *p = veil_daemon_shard_parent(d, r, &j->index, &j->n_shards);
    if (!p) {
        free(j);
        return NULL;
    }
    j->shard = true;
    j->keys = p->keys; /* a shard of a key-path round: its parent's keys */
    j->k = p->batch > 1 ? p->batch : 1; /* a batch's shard hands on its top k */
    *owner = p;
    return j;
}

/* Starts the FHE evaluation of a round on the worker pool. */
static void start_compute(veil_daemon *d, struct round *r)
{
    round_free_work(r); /* a previous attempt's inputs */
    r->work_attempt = r->attempt;
    if (!r->keys) /* keys are published for the planned epoch: it stays */
        refresh_epoch(d, r);
    const struct round *owner;
    struct eval_job *j = eval_job_new(d, r, &owner);
    if (!j) {
        veil_log(VEIL_LOG_WARN, SUB, "shard round of a round not held here: not evaluated",
                 "id=%.16s", r->job_hex);
        r->i_schedule = false;
        return;
    }
    if ((j->keys ? gather_key_inputs(d, r, owner, j) : gather_inputs(d, r, owner, j)) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "out of memory for a round's inputs", "job=%.16s replica=%u",
                 r->job_hex, r->replica);
        round_free_work(r);
        free(j);
        return;
    }
    if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_EVALUATING) != 0) {
        free(j);
        return;
    }
    r->work.data = j;
    if (uv_queue_work(d->loop, &r->work, sched_work, sched_after) != 0) {
        free(j);
        r->work.data = r;
        if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_EVALUATED) != 0)
            return;
        r->work_rc = veil_err_set(&r->work_err, VEIL_E_IO, "the worker pool refused the round");
        return;
    }
    r->busy = true;
    r->eval_start_ms = veil_daemon_wall_ms();
    d->computing = true;
    d->works++;
}

/* ---- the decryptor's merge of a sharded round ---- */

struct merge_job {
    uv_work_t work;
    veil_daemon *d;
    struct round *parent;
    uint32_t attempt;
    size_t k; /* the parent's batch at the start (1: one replica) */
    size_t n;
    uint8_t *data[VEIL_ROUND_MAX_SHARDS];
    size_t len[VEIL_ROUND_MAX_SHARDS];
    veil_buf merged; /* the round's output in the unsharded format */
    int rc;
    veil_err err;
};

static void merge_job_free(struct merge_job *m)
{
    for (size_t s = 0; s < m->n; s++)
        free(m->data[s]);
    veil_buf_free(&m->merged);
    free(m);
}

static void merge_work(uv_work_t *w)
{
    struct merge_job *m = w->data;
    struct veil_shard_output outs[VEIL_ROUND_MAX_SHARDS];
    size_t parsed = 0;
    m->rc = 0;
    for (; parsed < m->n && m->rc == 0; parsed++)
        m->rc = veil_daemon_shard_output_parse(m->data[parsed], m->len[parsed], &outs[parsed],
                                               &m->err);
    if (m->rc != 0)
        parsed--; /* the one that failed holds nothing */
    if (m->rc == 0)
        m->rc = veil_daemon_shard_merge(m->d->fhe_sk, outs, m->n, m->k, &m->merged, &m->err);
    for (size_t s = 0; s < parsed; s++)
        veil_daemon_shard_output_free(&outs[s]);
}

void veil_daemon_shard_retry(veil_daemon *d, struct round *r)
{
    uint64_t now = veil_daemon_wall_ms();
    struct veil_msg_round_retry m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.attempt = r->attempt + 1;
    m.reason = VEIL_RETRY_SPLIT;
    m.final = m.attempt >= VEIL_ROUND_MAX_ATTEMPTS;
    m.epoch_min = veil_epoch_of(now, d->interval_ms);
    if (r->epoch + 1 > m.epoch_min)
        m.epoch_min = r->epoch + 1;
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_round_retry_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "round retry not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
    veil_daemon_apply_retry(d, &m);
}

static void merge_after(uv_work_t *w, int status)
{
    struct merge_job *m = w->data;
    veil_daemon *d = m->d;
    struct round *r = m->parent;
    d->works--;
    r->busy = false;
    if (d->stopping) {
        merge_job_free(m);
        veil_daemon_maybe_free(d);
        return;
    }
    d->computing = false;
    if (m->attempt != r->attempt || r->state != VEIL_ROUND_ST_EVALUATING) {
        merge_job_free(m); /* retried (or decided) while it ran */
        return;
    }
    if (status != 0 || m->rc != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "shard merge failed", "job=%.16s replica=%u error=\"%s\"",
                 r->job_hex, r->replica, m->rc ? m->err.msg : "cancelled");
        if (veil_daemon_round_move(d, r, VEIL_ROUND_ST_EVALUATED) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "merged round not moved", "job=%.16s", r->job_hex);
        merge_job_free(m);
        if (status == 0)
            veil_daemon_shard_retry(d, r); /* vouched shards that never fit together */
        return;
    }
    /* only the merged (index, found) is decrypted; signed as for an
     * unsharded round (a malformed merge is logged there) */
    int rc = veil_daemon_decide_output(d, r, m->merged.data, m->merged.len, r->epoch, m->n);
    if (rc > 0)
        veil_daemon_retry_no_candidates(d, r, r->epoch);
    else if (rc != 0)
        veil_log(VEIL_LOG_DEBUG, SUB, "sharded round left undecided", "job=%.16s", r->job_hex);
    merge_job_free(m);
}

/* The output of a shard that its schedulers' digest majority vouches for,
 * with the tally (a dissenting scheduler shows there); NULL while none does. */
static const uint8_t *vouched_output(const struct round *kid, size_t *len,
                                     struct veil_round_tally *t)
{
    for (size_t i = 0; i < kid->n_outputs; i++) {
        veil_err err = {0};
        if (veil_decrypt_guard(kid->job_id, kid->replica, kid->outputs[i].epoch,
                               kid->outputs[i].data, kid->outputs[i].len, kid->schedulers,
                               kid->n_schedulers, kid->digests, kid->n_digests, &err) != 0)
            continue;
        (void)veil_round_decide(kid->schedulers, kid->n_schedulers, kid->digests, kid->n_digests,
                                false, 0, 1, NULL, t);
        *len = kid->outputs[i].len;
        return kid->outputs[i].data;
    }
    return NULL;
}

void veil_daemon_shard_try_merge(veil_daemon *d, struct round *parent)
{
    if (!daemon_has_role(d, VEIL_ROLE_DECRYPTOR) || !d->fhe_ck || !d->fhe_sk || d->computing ||
        parent->busy || parent->state != VEIL_ROUND_ST_PLANNED)
        return;
    struct round *kids[VEIL_ROUND_MAX_SHARDS];
    size_t n = veil_daemon_shard_children(d, parent, kids);
    const uint8_t *out[VEIL_ROUND_MAX_SHARDS];
    size_t len[VEIL_ROUND_MAX_SHARDS];
    struct veil_round_tally t[VEIL_ROUND_MAX_SHARDS];
    for (size_t s = 0; s < n; s++)
        if (!kids[s] || veil_round_state_terminal(kids[s]->state) ||
            !(out[s] = vouched_output(kids[s], &len[s], &t[s])))
            return; /* a shard still missing */
    for (size_t s = 0; s < n; s++)
        veil_log(VEIL_LOG_INFO, SUB, "shard vouched",
                 "job=%.16s replica=%u shard=%zu id=%.16s schedulers=%zu voted=%zu agreeing=%zu "
                 "dissenting=%zu",
                 parent->job_hex, parent->replica, s, kids[s]->job_hex, kids[s]->n_schedulers,
                 t[s].voted, t[s].largest, t[s].voted - t[s].largest);
    struct merge_job *m = n ? calloc(1, sizeof *m) : NULL;
    if (!m)
        return;
    m->d = d;
    m->parent = parent;
    m->attempt = parent->attempt;
    m->k = parent->batch > 1 ? parent->batch : 1;
    veil_buf_init(&m->merged);
    for (size_t s = 0; s < n; s++) {
        m->data[s] = malloc(len[s]);
        if (!m->data[s]) {
            merge_job_free(m);
            return;
        }
        memcpy(m->data[s], out[s], len[s]);
        m->len[s] = len[s];
        m->n++;
    }
    if (veil_daemon_round_move(d, parent, VEIL_ROUND_ST_EVALUATING) != 0) {
        merge_job_free(m);
        return;
    }
    m->work.data = m;
    if (uv_queue_work(d->loop, &m->work, merge_work, merge_after) != 0) {
        merge_job_free(m);
        if (veil_daemon_round_move(d, parent, VEIL_ROUND_ST_PLANNED) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "merged round not moved", "job=%.16s", parent->job_hex);
        return;
    }
    veil_log(VEIL_LOG_INFO, SUB, "shards merging", "job=%.16s replica=%u shards=%zu batch=%zu",
             parent->job_hex, parent->replica, n, m->k);
    parent->busy = true;
    d->computing = true;
    d->works++;
}

/* One evaluation at a time: of the planned rounds this node schedules whose
 * start time has come, the one that could start first (the schedulers of a
 * round then work through their queues in the same order). */
void veil_daemon_scheduler_tick(veil_daemon *d, uint64_t now_ms)
{
    if (d->computing)
        return;
    /* the decryptor's merges first (short, and they decide rounds), and its
     * check of shards that lost schedulers */
    for (size_t i = 0; i < d->rounds.n && !d->computing; i++) {
        struct round *r = d->rounds.v[i];
        if (veil_daemon_round_is_shard(r))
            (void)veil_daemon_shard_check(d, r);
        else if (r->state == VEIL_ROUND_ST_PLANNED && !r->i_schedule)
            veil_daemon_shard_try_merge(d, r);
    }
    if (d->computing)
        return;
    struct round *next = NULL;
    for (size_t i = 0; i < d->rounds.n; i++) {
        struct round *r = d->rounds.v[i];
        if (r->state == VEIL_ROUND_ST_PLANNED && r->i_schedule && !r->busy &&
            r->not_before_ms <= now_ms && (!next || r->not_before_ms < next->not_before_ms) &&
            veil_daemon_keys_ready(d, r, now_ms))
            next = r;
    }
    if (next)
        start_compute(d, next);
}

/* TEST ONLY (debug.test_only_split_job naming a sharded job, set alike on
 * every node): the scheduler of its shard 1 ranked last by the rendezvous
 * choice lies as soon as the shard is planned, before any honest result
 * exists: it publishes (and sends the decryptor) an output of its own
 * making instead of evaluating, so that exactly one of the shard's three
 * digests disagrees whatever the timing, and digest agreement must leave it
 * out. */
void veil_daemon_shard_test_lie(veil_daemon *d, struct round *c)
{
    struct veil_peer_id self;
    veil_daemon_to_peer(&self, &d->self);
    if (c->n_schedulers < 2 || !veil_daemon_peer_eq(&c->schedulers[c->n_schedulers - 1], &self))
        return;
    veil_buf_reset(&c->output);
    veil_buf_put_u8(&c->output, VEIL_SHARD_OUTPUT_TAG);
    veil_buf_put(&c->output, self.bytes, self.len); /* no honest output looks like this */
    if (!veil_buf_ok(&c->output) || veil_daemon_round_move(d, c, VEIL_ROUND_ST_EVALUATING) != 0 ||
        veil_daemon_round_move(d, c, VEIL_ROUND_ST_EVALUATED) != 0)
        return;
    c->work_rc = 0;
    veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: shard output falsified", "id=%.16s", c->job_hex);
    veil_daemon_publish_result(d, c, true);
}
