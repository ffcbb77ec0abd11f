// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_holder.c - threshold decryption in a running cluster (issue 11):
 * the key-holder role and what every node of a threshold cluster does.
 *
 * A key holder decrypts ONLY a scheduler output that a strict majority of
 * the round's schedulers vouched for by digest (veil_decrypt_guard, the rule
 * the designated decryptor applied; never telemetry, never an arbitrary
 * ciphertext). It squashes that output itself on the worker pool (squashing
 * is bit-identical on every machine, so every holder holds the same squashed
 * ciphertexts), publishes its signed partial decryptions bound to their
 * digests (VEIL_MSG_PARTIAL), and combines everyone's once the threshold
 * library accepts (2t + 1 agreeing partials; wrong or rejected holders are
 * named in the log and in the replica's note). It then signs the assignment
 * like the designated decryptor did. Every node records an assignment once
 * t + 1 distinct holders signed the same one, so up to t lying holders can
 * neither decrypt alone nor place a replica. Retries of rounds whose
 * schedulers disagree come from any holder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon_core.h"
#include "daemon_holder.h"
#include "daemon_sched.h"

void veil_holder_round_free(struct holder_round *h)
{
    if (!h)
        return;
    veil_sq_ct_clear(&h->sq[0]);
    veil_sq_ct_clear(&h->sq[1]);
    free(h);
}

static void holder_round_free_cb(void *th)
{
    veil_holder_round_free(th);
}

static struct holder_round *hround(struct round *r)
{
    if (!r->th)
        r->th = calloc(1, sizeof(struct holder_round));
    return r->th;
}

unsigned veil_daemon_holder_of(const veil_daemon *d, const uint8_t *peer, size_t len)
{
    for (unsigned i = 0; d->th.cluster && i < d->th.pub.n; i++)
        if (d->th.peers[i].len == len && memcmp(d->th.peers[i].bytes, peer, len) == 0)
            return i + 1;
    return 0;
}

/* ---- start ---------------------------------------------------------------- */

static int load_share(veil_daemon *d, veil_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", veil_config_str(d->cfg, "data_dir", "."), VEIL_SHARE_FILE);
    if (access(path, F_OK) != 0)
        return 0; /* not a key holder */
    if (veil_th_share_load(path, d->key.secret_key, &d->th.share, err) != 0)
        return veil_err_wrap(err, "key share %s", path);
    if (memcmp(veil_th_share_public(d->th.share)->id, d->th.pub.id, sizeof d->th.pub.id) != 0)
        return veil_err_set(err, VEIL_E_INVALID, "key share %s belongs to another dealing", path);
    d->th.index = veil_th_share_index(d->th.share);
    char sqk[4200];
    const char *srv = veil_config_str(d->cfg, "zama.server_key_file", "");
    if (!d->fhe_sk)
        return veil_err_set(err, VEIL_E_INVALID, "a key holder needs zama.server_key_file");
    if (veil_daemon_sibling_path(sqk, sizeof sqk, srv, VEIL_SQUASH_KEY_FILE, err) != 0 ||
        veil_sq_key_load(sqk, (unsigned)veil_config_int(d->cfg, "threads", 0), &d->th.sq, err) != 0)
        return veil_err_wrap(err, "squashing key");
    veil_log(VEIL_LOG_INFO, SUB, "this node is a key holder", "holder=%u of=%u t=%u sq_key_mb=%zu",
             d->th.index, d->th.pub.n, d->th.pub.t, veil_sq_key_size(d->th.sq) >> 20);
    return 0;
}

int veil_daemon_holder_init(veil_daemon *d, const uint8_t policy_hash[32], size_t policy_holders,
                            veil_err *err)
{
    char thp[4200];
    const char *pub = veil_config_str(d->cfg, "zama.public_key_file", "");
    if (veil_daemon_sibling_path(thp, sizeof thp, pub, VEIL_THRESHOLD_PUBLIC_FILE, err) != 0)
        return -1;
    if (access(thp, F_OK) != 0)
        return 0; /* a designated decryptor's cluster */
    uint8_t hash[32];
    if (veil_th_public_load(thp, &d->th.pub, err) != 0 ||
        veil_daemon_keyset_keccak(pub, thp, hash, err) != 0)
        return veil_err_wrap(err, "threshold public material");
    /* the operators voted for this dealing: its hash is the policy's */
    if (memcmp(hash, policy_hash, 32) != 0 || policy_holders != d->th.pub.n)
        return veil_err_set(err, VEIL_E_INVALID,
                            "%s is not the dealing the on-chain policy names (key-set hash or "
                            "holder count differ)",
                            thp);
    d->th.cluster = true;
    d->rounds.free_th = holder_round_free_cb;
    for (unsigned i = 0; i < d->th.pub.n; i++)
        veil_p2p_peer_id_from_ed25519(d->th.pub.holder_pk[i], &d->th.peers[i]);
    d->th.test_wrong = veil_config_bool(d->cfg, "debug.test_only_wrong_partial", false);
    d->th.test_telemetry = veil_config_bool(d->cfg, "debug.test_only_decrypt_telemetry", false);
    if (d->th.test_wrong)
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: this key holder publishes wrong partials", NULL);
    veil_log(VEIL_LOG_INFO, SUB, "threshold cluster", "holders=%u t=%u", d->th.pub.n, d->th.pub.t);
    return load_share(d, err);
}

void veil_daemon_holder_free(veil_daemon *d)
{
    if (d->th.share)
        veil_th_share_free(d->th.share);
    if (d->th.sq)
        veil_sq_key_free(d->th.sq);
    memset(&d->th, 0, sizeof d->th);
}

/* ---- squash and partial decryption on the worker pool ------------------------- */

struct squash_job {
    uv_work_t work;
    struct round *r;
    veil_daemon *d;
    uint64_t epoch;
    uint32_t attempt;
    uint8_t output_digest[32];
    uint8_t *fhe; /* the agreed output's ciphertexts (index, found) */
    size_t fhe_len;
    veil_sq_ct sq[2];
    veil_th_partial p[2];
    int rc;
    veil_err err;
};

/* The output's two ciphertexts (index, found), each parsed and checked
 * before any squash: truncation and trailing bytes are refused first. */
static int squash_parse(struct squash_job *j, veil_fhe_ct *ct[2])
{
    veil_reader rd;
    veil_reader_init(&rd, j->fhe, j->fhe_len);
    for (int i = 0; i < 2; i++) {
        uint32_t n = veil_read_u32be(&rd);
        const uint8_t *p = veil_read_borrow(&rd, n);
        if (!veil_reader_ok(&rd) || !p)
            return veil_err_set(&j->err, VEIL_E_PARSE, "scheduler output truncated");
        if (veil_fhe_ct_deserialize(p, n, &ct[i], &j->err) != 0)
            return -1;
    }
    if (veil_reader_remaining(&rd) != 0)
        return veil_err_set(&j->err, VEIL_E_PARSE, "scheduler output: trailing bytes");
    return 0;
}

/* Both ciphertexts squashed in one pass over the squashing key, then each
 * partially decrypted with this holder's share. */
static void squash_work(uv_work_t *w)
{
    struct squash_job *j = w->data;
    const struct veil_holder *th = &j->d->th;
    veil_fhe_ct *ct[2] = {NULL, NULL};
    j->rc = squash_parse(j, ct);
    if (j->rc == 0)
        j->rc = veil_sq_squash_compact_batch(th->sq, j->d->fhe_sk, (const veil_fhe_ct *const *)ct,
                                             2, j->sq, &j->err);
    veil_fhe_ct_free(ct[0]);
    veil_fhe_ct_free(ct[1]);
    for (int i = 0; i < 2 && j->rc == 0; i++) {
        j->rc = veil_th_partial_decrypt(th->share, &j->sq[i], &j->p[i], &j->err);
        if (j->rc == 0 && th->test_wrong) /* TEST ONLY: a lying holder (its signature then fails) */
            j->p[i].y[0].c[0] ^= (veil_u128)1 << 122;
    }
}

static void squash_job_free(struct squash_job *j)
{
    veil_sq_ct_clear(&j->sq[0]);
    veil_sq_ct_clear(&j->sq[1]);
    free(j->fhe);
    free(j);
}

static void holder_combine(veil_daemon *d, struct round *r);

static void publish_partial(veil_daemon *d, const struct round *r, const struct squash_job *j)
{
    veil_buf parts[2], msg;
    veil_buf_init(&parts[0]);
    veil_buf_init(&parts[1]);
    veil_buf_init(&msg);
    veil_err err = {0};
    struct veil_msg_partial m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.epoch = j->epoch;
    memcpy(m.output_digest, j->output_digest, 32);
    veil_daemon_to_peer(&m.holder, &d->self);
    m.holder_index = (uint8_t)d->th.index;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = veil_th_partial_serialize(&j->p[i], &parts[i], &err);
        m.parts[i] = parts[i].data;
        m.part_lens[i] = parts[i].len;
    }
    if (rc == 0 && veil_msg_partial_encode(&msg, &m, &err) == 0)
        veil_daemon_publish(d, &msg, "partial decryption");
    else
        veil_log(VEIL_LOG_WARN, SUB, "partial decryption not encoded", "error=\"%s\"", err.msg);
    veil_buf_free(&parts[0]);
    veil_buf_free(&parts[1]);
    veil_buf_free(&msg);
}

static void squash_after(uv_work_t *w, int status)
{
    struct squash_job *j = w->data;
    veil_daemon *d = j->d;
    struct round *r = j->r;
    d->works--;
    r->holder_busy = false;
    if (d->stopping) {
        squash_job_free(j);
        veil_daemon_maybe_free(d);
        return;
    }
    struct holder_round *h = hround(r);
    if (status != 0 || j->rc != 0 || !h) {
        veil_log(VEIL_LOG_WARN, SUB, "squash or partial decryption failed",
                 "job=%.16s replica=%u error=\"%s\"", r->job_hex, r->replica,
                 j->rc ? j->err.msg : "cancelled");
        squash_job_free(j);
        return;
    }
    if (j->attempt != r->attempt || r->state == VEIL_ROUND_ST_ABANDONED) {
        squash_job_free(j); /* a retry came meanwhile */
        return;
    }
    /* decided meanwhile by faster holders: published all the same, so that
     * every holder's answer is checked (a wrong one is named) */
    veil_sq_ct_clear(&h->sq[0]);
    veil_sq_ct_clear(&h->sq[1]);
    h->sq[0] = j->sq[0];
    h->sq[1] = j->sq[1];
    memset(j->sq, 0, sizeof j->sq);
    h->have_sq = true;
    h->epoch = j->epoch;
    memcpy(h->output_digest, j->output_digest, 32);
    unsigned me = d->th.index - 1;
    h->parts[me].have = true;
    h->parts[me].epoch = j->epoch;
    memcpy(h->parts[me].output_digest, j->output_digest, 32);
    memcpy(h->parts[me].p, j->p, sizeof j->p);
    veil_log(VEIL_LOG_INFO, SUB, "partial decryption published",
             "job=%.16s replica=%u holder=%u blocks=%u+%u", r->job_hex, r->replica, d->th.index,
             h->sq[0].nblocks, h->sq[1].nblocks);
    publish_partial(d, r, j);
    squash_job_free(j);
    holder_combine(d, r);
}

/* ---- the key holder's side of a round -------------------------------------------- */

static void sign_assignment(veil_daemon *d, struct round *r, struct veil_msg_assignment *a);

/* The output at `i` passed the guard: squash it (or, when it names no
 * candidate, sign "unschedulable" at once: nothing to decrypt). An output
 * over no candidate at all (its schedulers held no fresh telemetry) is no
 * verdict on the job: the round is retried, as the decryptor does. */
static void holder_start(veil_daemon *d, struct round *r, size_t i)
{
    const uint8_t *out = r->outputs[i].data;
    size_t len = r->outputs[i].len;
    struct veil_peer_id *cands = NULL;
    size_t nc = 0;
    bool none = true;
    const uint8_t *fhe;
    size_t fhe_len;
    veil_err err = {0};
    struct holder_round *h = hround(r);
    if (!h || veil_daemon_output_parse(out, len, &cands, &nc, &none, &fhe, &fhe_len, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "bad scheduler output", "error=\"%s\"", err.msg);
        return;
    }
    free(cands);
    if (nc == 0) { /* no fresh telemetry anywhere: no verdict on the job */
        veil_daemon_retry_no_candidates(d, r, r->outputs[i].epoch);
        return;
    }
    uint8_t digest[32];
    veil_sched_output_digest(digest, r->job_id, r->replica, r->outputs[i].epoch, out, len);
    if (none) {
        struct veil_msg_assignment a = {0};
        memcpy(a.job_id, r->job_id, 32);
        a.replica = r->replica;
        memcpy(a.output_digest, digest, 32);
        a.epoch = r->outputs[i].epoch;
        h->none = true;
        sign_assignment(d, r, &a);
        return;
    }
    struct squash_job *j = calloc(1, sizeof *j);
    if (!j || !(j->fhe = malloc(fhe_len ? fhe_len : 1))) {
        free(j);
        return;
    }
    memcpy(j->fhe, fhe, fhe_len);
    j->fhe_len = fhe_len;
    j->r = r;
    j->d = d;
    j->epoch = r->outputs[i].epoch;
    j->attempt = r->attempt;
    memcpy(j->output_digest, digest, 32);
    j->work.data = j;
    if (uv_queue_work(d->loop, &j->work, squash_work, squash_after) != 0) {
        squash_job_free(j);
        return;
    }
    r->holder_busy = true;
    d->works++;
}

void veil_daemon_holder_try(veil_daemon *d, struct round *r)
{
    struct holder_round *h = r->th;
    if (!d->th.share || r->holder_busy || (h && (h->have_sq || h->signed_own)))
        return;
    for (size_t i = 0; i < r->n_outputs; i++) {
        veil_err err = {0};
        /* The guard first: only an output a majority of the round's
         * schedulers vouched for is ever squashed and partially decrypted. */
        if (veil_decrypt_guard(r->job_id, r->replica, r->outputs[i].epoch, r->outputs[i].data,
                               r->outputs[i].len, r->schedulers, r->n_schedulers, r->digests,
                               r->n_digests, &err) != 0) {
            veil_log(VEIL_LOG_DEBUG, SUB, "decryption refused",
                     "job=%.16s replica=%u reason=\"%s\"", r->job_hex, r->replica, err.msg);
            continue;
        }
        holder_start(d, r, i);
        return;
    }
}

/* The partials heard for the agreed output, in one array; the holders
 * answering as a mask. */
static size_t gather(const struct holder_round *h, int ct, veil_th_partial *out, unsigned n)
{
    size_t k = 0;
    for (unsigned i = 0; i < n; i++)
        if (h->parts[i].have && memcmp(h->parts[i].output_digest, h->output_digest, 32) == 0)
            out[k++] = h->parts[i].p[ct];
    return k;
}

static void note_holders(veil_daemon *d, const struct round *r, const veil_th_result *res)
{
    char answered[64], wrong[64], rejected[64], note[320];
    veil_th_holders_text(res->answered | res->wrong | res->rejected, answered, sizeof answered);
    veil_th_holders_text(res->wrong, wrong, sizeof wrong);
    veil_th_holders_text(res->rejected, rejected, sizeof rejected);
    snprintf(note, sizeof note,
             "threshold decryption by holders %s (t=%u); wrong partials: %s; rejected: %s",
             answered, d->th.pub.t, wrong, rejected);
    veil_err err = {0};
    if (veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err) != 0)
        veil_daemon_store_failed("replica note", r->job_hex, r->replica, &err);
    uint32_t bad = res->wrong | res->rejected;
    for (unsigned i = 0; i < d->th.pub.n; i++)
        if (bad & (1u << i))
            veil_log(VEIL_LOG_WARN, SUB, "wrong partial decryption",
                     "job=%.16s replica=%u holder=%u peer=%s how=%s", r->job_hex, r->replica, i + 1,
                     veil_p2p_peer_id_str(&d->th.peers[i]).s,
                     (res->wrong & (1u << i)) ? "disagrees" : "rejected");
    veil_log(VEIL_LOG_INFO, SUB, "threshold decryption",
             "job=%.16s replica=%u answered=%s wrong=%s "
             "rejected=%s",
             r->job_hex, r->replica, answered, wrong, rejected);
}

/* Combines both ciphertexts from the partials heard; -1 until the threshold
 * library accepts (2t + 1 agreeing). res[0] gets the index and the union of
 * the holders answering, wrong and rejected; res[1] the found bit. */
static int combine_all(veil_daemon *d, struct round *r, veil_th_result res[2])
{
    struct holder_round *h = r->th;
    veil_th_partial *parts = calloc(VEIL_TH_MAX_HOLDERS, sizeof *parts); /* 33 KB */
    veil_err err = {0};
    int rc = parts ? 0 : -1;
    for (int ct = 0; ct < 2 && rc == 0; ct++) {
        size_t k = gather(h, ct, parts, d->th.pub.n);
        if (k < 2u * d->th.pub.t + 1) {
            rc = -1; /* wait for more */
        } else if (veil_th_combine(&d->th.pub, &h->sq[ct], parts, k, &res[ct], &err) != 0) {
            veil_log(VEIL_LOG_INFO, SUB, "threshold decryption waits",
                     "job=%.16s replica=%u reason=\"%s\"", r->job_hex, r->replica, err.msg);
            rc = -1;
        }
    }
    free(parts);
    if (rc == 0) {
        res[0].wrong |= res[1].wrong;
        res[0].rejected |= res[1].rejected;
        res[0].answered |= res[1].answered;
    }
    return rc;
}

/* A partial that came after the decision is still checked: a holder that
 * answered wrong is named even when the others were faster. */
static void holder_recheck(veil_daemon *d, struct round *r)
{
    struct holder_round *h = r->th;
    veil_th_result res[2];
    if (!h || !h->have_sq || h->none || combine_all(d, r, res) != 0)
        return;
    uint32_t seen = res[0].answered | res[0].wrong | res[0].rejected;
    if (seen == h->noted)
        return;
    h->noted = seen;
    note_holders(d, r, &res[0]);
}

/* Combines once 2t + 1 partials of the agreed output are in. */
static void holder_combine(veil_daemon *d, struct round *r)
{
    struct holder_round *h = r->th;
    if (!h || !h->have_sq)
        return;
    if (h->signed_own || veil_round_state_terminal(r->state)) {
        holder_recheck(d, r);
        return;
    }
    veil_th_result res[2];
    veil_err err = {0};
    if (combine_all(d, r, res) != 0)
        return;
    h->noted = res[0].answered | res[0].wrong | res[0].rejected;
    note_holders(d, r, &res[0]);
    /* the index and found bit, as the designated decryptor decrypted them */
    const uint8_t *out = NULL;
    size_t len = 0;
    for (size_t i = 0; i < r->n_outputs && !out; i++) {
        uint8_t dg[32];
        veil_sched_output_digest(dg, r->job_id, r->replica, r->outputs[i].epoch, r->outputs[i].data,
                                 r->outputs[i].len);
        if (memcmp(dg, h->output_digest, 32) == 0) {
            out = r->outputs[i].data;
            len = r->outputs[i].len;
        }
    }
    struct veil_peer_id *cands = NULL;
    size_t nc = 0;
    bool none = true;
    const uint8_t *fhe;
    size_t fhe_len;
    if (!out || veil_daemon_output_parse(out, len, &cands, &nc, &none, &fhe, &fhe_len, &err) != 0)
        return;
    struct veil_msg_assignment a = {0};
    memcpy(a.job_id, r->job_id, 32);
    a.replica = r->replica;
    a.schedulable = !none && res[1].value != 0 && res[0].value < nc;
    if (a.schedulable)
        a.node = cands[res[0].value];
    free(cands);
    memcpy(a.output_digest, h->output_digest, 32);
    a.epoch = h->epoch;
    sign_assignment(d, r, &a);
}

static void count_vote(veil_daemon *d, struct round *r, const struct veil_msg_assignment *a,
                       unsigned holder);

static void sign_assignment(veil_daemon *d, struct round *r, struct veil_msg_assignment *a)
{
    struct holder_round *h = hround(r);
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (!h || veil_assignment_sign(a, d->cluster_id, d->key.secret_key, &err) != 0 ||
        veil_msg_assignment_encode(&msg, a, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment not signed", "error=\"%s\"", err.msg);
        veil_buf_free(&msg);
        return;
    }
    h->signed_own = true;
    veil_daemon_publish(d, &msg, "assignment");
    veil_buf_free(&msg);
    veil_log(VEIL_LOG_INFO, SUB, "assignment signed",
             "job=%.16s replica=%u schedulable=%d holder=%u", r->job_hex, r->replica,
             a->schedulable, d->th.index);
    count_vote(d, r, a, d->th.index);
}

/* ---- every node: partials and the holders' assignments --------------------------- */

void veil_daemon_on_partial(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct veil_msg_partial m;
    veil_err err = {0};
    if (!d->th.cluster || veil_msg_partial_decode(&m, msg->data, msg->data_len, &err) != 0)
        return;
    unsigned idx = veil_daemon_holder_of(d, msg->from, msg->from_len);
    if (idx == 0 || idx != m.holder_index) {
        veil_log(VEIL_LOG_WARN, SUB, "partial from a node that is not that key holder ignored",
                 "holder=%u", m.holder_index);
        return;
    }
    if (!d->th.share)
        return; /* only holders combine (they hold the squashed ciphertexts) */
    struct round *r = veil_daemon_round(d, m.job_id, m.replica, true);
    struct holder_round *h = r ? hround(r) : NULL;
    if (!h || r->state == VEIL_ROUND_ST_ABANDONED || m.epoch < r->epoch_min ||
        (h->parts[idx - 1].have && h->parts[idx - 1].epoch >= m.epoch))
        return;
    veil_th_partial p[2];
    for (int i = 0; i < 2; i++)
        if (veil_th_partial_parse(m.parts[i], m.part_lens[i], &p[i], &err) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "malformed partial decryption", "holder=%u error=\"%s\"",
                     idx, err.msg);
            return;
        }
    h->parts[idx - 1].have = true;
    h->parts[idx - 1].epoch = m.epoch;
    memcpy(h->parts[idx - 1].output_digest, m.output_digest, 32);
    memcpy(h->parts[idx - 1].p, p, sizeof p);
    holder_combine(d, r);
}

static void body_digest(uint8_t out[32], uint64_t cluster_id, const struct veil_msg_assignment *a)
{
    veil_buf b;
    veil_buf_init(&b);
    memset(out, 0, 32);
    if (veil_assignment_signing_bytes(&b, cluster_id, a, NULL) == 0)
        crypto_generichash(out, 32, b.data, b.len, NULL, 0);
    veil_buf_free(&b);
}

/* One holder's signed assignment: recorded once t + 1 holders signed the
 * same one. */
static void count_vote(veil_daemon *d, struct round *r, const struct veil_msg_assignment *a,
                       unsigned holder)
{
    struct holder_round *h = hround(r);
    if (!h || r->state == VEIL_ROUND_ST_DECIDED)
        return;
    uint8_t body[32];
    body_digest(body, d->cluster_id, a);
    size_t v = 0;
    while (v < h->n_votes && memcmp(h->votes[v].body, body, 32) != 0)
        v++;
    if (v == h->n_votes) {
        if (h->n_votes == VEIL_ARRAY_LEN(h->votes))
            return; /* more distinct bodies than honest holders could sign */
        memcpy(h->votes[v].body, body, 32);
        h->votes[v].a = *a;
        h->n_votes++;
    }
    h->votes[v].signers |= 1u << (holder - 1);
    unsigned count = (unsigned)__builtin_popcount(h->votes[v].signers);
    if (count < d->th.pub.t + 1u)
        return;
    veil_log(VEIL_LOG_INFO, SUB, "assignment agreed by key holders",
             "job=%.16s replica=%u holders=%u", r->job_hex, r->replica, count);
    veil_daemon_record_assignment(d, r, &h->votes[v].a);
    if (!d->th.share) { /* a holder's own note is richer: which partials were wrong */
        char who[64], note[160];
        veil_th_holders_text(h->votes[v].signers, who, sizeof who);
        snprintf(note, sizeof note, "assignment signed by key holders %s (t=%u)", who, d->th.pub.t);
        veil_err err = {0};
        if (veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err) != 0)
            veil_daemon_store_failed("replica note", r->job_hex, r->replica, &err);
    }
}

void veil_daemon_holder_on_assignment(veil_daemon *d, const struct veil_msg_assignment *a)
{
    unsigned holder = 0;
    for (unsigned i = 0; i < d->th.pub.n && !holder; i++)
        if (veil_assignment_verify(a, d->cluster_id, d->th.pub.holder_pk[i], NULL) == 0)
            holder = i + 1;
    if (!holder) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment refused: not signed by a key holder", NULL);
        return;
    }
    struct round *r = veil_daemon_round(d, a->job_id, a->replica, true);
    if (r)
        count_vote(d, r, a, holder);
}

/* TEST ONLY (debug.test_only_decrypt_telemetry): a key holder is asked to
 * decrypt a telemetry ciphertext it received. It applies the same guard as
 * for any round, which no telemetry can pass: the request is refused and
 * logged. */
void veil_daemon_holder_telemetry_probe(veil_daemon *d, const struct veil_msg_telemetry *t)
{
    if (!d->th.share || !d->th.test_telemetry || d->th.test_telemetry_done)
        return;
    d->th.test_telemetry_done = true;
    uint8_t job[32] = {0};
    veil_err err = {0};
    if (veil_decrypt_guard(job, 0, t->epoch, t->ciphertext, t->ciphertext_len, NULL, 0, NULL, 0,
                           &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "decryption refused", "what=telemetry holder=%u reason=\"%s\"",
                 d->th.index, err.msg);
        return;
    }
    veil_log(VEIL_LOG_ERROR, SUB, "telemetry passed the decryption guard", NULL);
}
