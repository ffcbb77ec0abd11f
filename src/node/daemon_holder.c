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
 * neither decrypt alone nor place a replica; a node whose round is decided
 * already records the holders' assignment of a later epoch (the replica was
 * placed again meanwhile: the rule daemon_rounds.c applies to the designated
 * decryptor's). Retries of rounds whose schedulers disagree come from any
 * holder.
 *
 * A batch round (issue 20: replica 0's round places a job's k replicas) has
 * k (index, found) pairs in its output: a holder squashes them all on one
 * worker, publishes one PARTIAL per pair (pair j under replica j, bound to
 * the batch output's digest, so that its receivers file it with pair j of
 * replica 0's round; a holder that heard it before it planned that round as
 * a batch moves it there with its own squash), combines every pair, and
 * signs one assignment per replica, in the unchanged format, exactly as the
 * designated decryptor does (veil_daemon_pairs_nodes: distinct candidates
 * of the output).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon_core.h"
#include "daemon_holder.h"
#include "daemon_sched.h"

/* At most this many (index, found) pairs per squash call: the squash batch
 * takes at most 8 ciphertexts and 32 blocks (three pairs of a 16-bit index
 * and a found bit: 27 blocks). */
#define SQ_PAIRS_PER_CALL 3u

static void pair_clear_sq(struct holder_pair *p)
{
    veil_sq_ct_clear(&p->sq[0]);
    veil_sq_ct_clear(&p->sq[1]);
}

void veil_holder_round_free(struct holder_round *h)
{
    if (!h)
        return;
    for (size_t j = 0; j < VEIL_ARRAY_LEN(h->pair); j++)
        if (h->pair[j]) {
            pair_clear_sq(h->pair[j]);
            free(h->pair[j]);
        }
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

/* Pair j of a round's threshold data (NULL: out of memory). */
static struct holder_pair *hpair(struct holder_round *h, uint32_t j)
{
    if (!h || j >= VEIL_ARRAY_LEN(h->pair))
        return NULL;
    if (!h->pair[j])
        h->pair[j] = calloc(1, sizeof(struct holder_pair));
    return h->pair[j];
}

/* The output's pairs: 1, or a batch round's replicas. */
static uint32_t round_pairs(const struct round *r)
{
    return r->batch > 1 ? r->batch : 1;
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

void veil_daemon_holder_public(veil_daemon *d, const veil_th_public *pub)
{
    if (pub != &d->th.pub)
        d->th.pub = *pub;
    d->th.cluster = true;
    d->rounds.free_th = holder_round_free_cb;
    for (unsigned i = 0; i < d->th.pub.n; i++)
        veil_p2p_peer_id_from_ed25519(d->th.pub.holder_pk[i], &d->th.peers[i]);
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
    veil_daemon_holder_public(d, &d->th.pub);
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
    uint32_t k; /* (index, found) pairs */
    uint8_t output_digest[32];
    uint8_t *fhe; /* the agreed output's ciphertexts: k pairs (index, found) */
    size_t fhe_len;
    veil_sq_ct *sq;     /* 2k: pair j's index at 2j, its found bit at 2j + 1 */
    veil_th_partial *p; /* 2k, likewise */
    uint64_t squash_ms;
    int rc;
    veil_err err;
};

int veil_holder_squash_pairs(const veil_sq_key *key, veil_fhe_server *sk, veil_fhe_ct *const *ci,
                             veil_fhe_ct *const *cf, uint32_t k, veil_sq_ct *out, veil_err *err)
{
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "%u pairs to squash (1 to %d)", k,
                            VEIL_SCHED_MAX_REPLICAS);
    int rc = 0;
    for (uint32_t first = 0; first < k && rc == 0; first += SQ_PAIRS_PER_CALL) {
        const veil_fhe_ct *cts[2 * SQ_PAIRS_PER_CALL];
        uint32_t n = k - first < SQ_PAIRS_PER_CALL ? k - first : SQ_PAIRS_PER_CALL;
        for (uint32_t i = 0; i < n; i++) {
            cts[2 * i] = ci[first + i];
            cts[2 * i + 1] = cf[first + i];
        }
        rc = veil_sq_squash_compact_batch(key, sk, cts, 2 * n, &out[2 * first], err);
    }
    return rc;
}

/* The agreed output parsed and checked (k pairs of an 8- or 16-bit index
 * and a found bit, nothing after) before any squash, then squashed. */
static int squash_pairs(struct squash_job *j)
{
    veil_fhe_ct *ci[VEIL_SCHED_MAX_REPLICAS], *cf[VEIL_SCHED_MAX_REPLICAS];
    if (veil_daemon_output_cts_parse(j->fhe, j->fhe_len, j->k, ci, cf, &j->err) != 0)
        return -1;
    int rc = veil_holder_squash_pairs(j->d->th.sq, j->d->fhe_sk, ci, cf, j->k, j->sq, &j->err);
    veil_daemon_output_cts_free(ci, cf, j->k);
    return rc;
}

/* Every ciphertext squashed, then each partially decrypted with this
 * holder's share. */
static void squash_work(uv_work_t *w)
{
    struct squash_job *j = w->data;
    const struct veil_holder *th = &j->d->th;
    uint64_t t0 = veil_daemon_wall_ms();
    j->rc = squash_pairs(j);
    j->squash_ms = veil_daemon_wall_ms() - t0;
    for (uint32_t i = 0; i < 2 * j->k && j->rc == 0; i++) {
        j->rc = veil_th_partial_decrypt(th->share, &j->sq[i], &j->p[i], &j->err);
        if (j->rc == 0 && th->test_wrong) /* TEST ONLY: a lying holder (its signature then fails) */
            j->p[i].y[0].c[0] ^= (veil_u128)1 << 122;
    }
}

static void squash_job_free(struct squash_job *j)
{
    for (uint32_t i = 0; j->sq && i < 2 * j->k; i++)
        veil_sq_ct_clear(&j->sq[i]);
    free(j->sq);
    free(j->p);
    free(j->fhe);
    free(j);
}

static void holder_combine(veil_daemon *d, struct round *r);

/* Pair `pair`'s partials, published under replica r->replica + pair (the
 * round's own replica for an ordinary round). */
static void publish_partial(veil_daemon *d, const struct round *r, const struct squash_job *j,
                            uint32_t pair)
{
    veil_buf parts[2], msg;
    veil_buf_init(&parts[0]);
    veil_buf_init(&parts[1]);
    veil_buf_init(&msg);
    veil_err err = {0};
    struct veil_msg_partial m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica + pair;
    m.epoch = j->epoch;
    memcpy(m.output_digest, j->output_digest, 32);
    veil_daemon_to_peer(&m.holder, &d->self);
    m.holder_index = (uint8_t)d->th.index;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = veil_th_partial_serialize(&j->p[2 * pair + i], &parts[i], &err);
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

/* Holder i's partial in `from` moved into `to` when it is one of the output
 * `digest` of `epoch` (nothing else is ever moved) and `to` holds none of
 * that output from holder i yet; it leaves `from` either way. 1: moved. */
static int move_partial(struct holder_pair *to, struct holder_pair *from, unsigned i,
                        const uint8_t digest[32], uint64_t epoch)
{
    if (!from->parts[i].have || from->parts[i].epoch != epoch ||
        memcmp(from->parts[i].output_digest, digest, 32) != 0)
        return 0;
    bool has = to->parts[i].have && memcmp(to->parts[i].output_digest, digest, 32) == 0;
    if (!has)
        to->parts[i] = from->parts[i];
    veil_memzero(&from->parts[i], sizeof from->parts[i]);
    return has ? 0 : 1;
}

/* Partials of pair q > 0 of a batch output are published under replica q.
 * A holder that heard them before it planned replica 0's round as a batch
 * filed them with replica q's own round, pair 0 (partial_round could not
 * tell them from that round's own); once its squash shows the batch's
 * output, those bound to that output's digest and epoch are moved into pair
 * q of the batch round, where they are combined and checked like the rest.
 * What is kept stays bounded: one partial per holder per round pair. */
static int adopt_early_partials(veil_daemon *d, const struct round *r, struct holder_round *h)
{
    unsigned moved = 0;
    for (uint32_t q = 1; q < h->k; q++) {
        struct round *o = veil_daemon_round(d, r->job_id, r->replica + q, false);
        struct holder_round *oh = o ? o->th : NULL;
        struct holder_pair *from = oh ? oh->pair[0] : NULL;
        struct holder_pair *to = from ? hpair(h, q) : NULL;
        if (from && !to)
            return -1;
        for (unsigned i = 0; from && i < d->th.pub.n; i++)
            moved += (unsigned)move_partial(to, from, i, h->output_digest, h->epoch);
    }
    if (moved)
        veil_log(VEIL_LOG_INFO, SUB, "batch partials heard before planning counted",
                 "job=%.16s replica=%u partials=%u batch=%u", r->job_hex, r->replica, moved, h->k);
    return 0;
}

int veil_holder_keep_own(veil_daemon *d, struct round *r, uint32_t k, uint64_t epoch,
                         const uint8_t digest[32], veil_sq_ct *sq, const veil_th_partial *p,
                         veil_err *err)
{
    struct holder_round *h = hround(r);
    unsigned me = d->th.index - 1;
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS || me >= d->th.pub.n)
        return veil_err_set(err, VEIL_E_INVALID, "own squash of %u pairs by holder %u", k,
                            d->th.index);
    for (uint32_t q = 0; q < k; q++) {
        struct holder_pair *hp = hpair(h, q);
        if (!hp)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a squashed output");
        pair_clear_sq(hp);
        hp->sq[0] = sq[2 * q];
        hp->sq[1] = sq[2 * q + 1];
        memset(&sq[2 * q], 0, 2 * sizeof *sq);
        hp->parts[me].have = true;
        hp->parts[me].epoch = epoch;
        memcpy(hp->parts[me].output_digest, digest, 32);
        memcpy(hp->parts[me].p, &p[2 * q], sizeof hp->parts[me].p);
    }
    h->have_sq = true;
    h->k = k;
    h->epoch = epoch;
    memcpy(h->output_digest, digest, 32);
    if (adopt_early_partials(d, r, h) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a batch's partials");
    return 0;
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
    if (veil_holder_keep_own(d, r, j->k, j->epoch, j->output_digest, j->sq, j->p, &j->err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "squashed output not kept", "job=%.16s error=\"%s\"",
                 r->job_hex, j->err.msg);
        squash_job_free(j);
        return;
    }
    veil_log(VEIL_LOG_INFO, SUB, "partial decryption published",
             "job=%.16s replica=%u holder=%u blocks=%u+%u batch=%u squash_ms=%llu", r->job_hex,
             r->replica, d->th.index, h->pair[0]->sq[0].nblocks, h->pair[0]->sq[1].nblocks, j->k,
             (unsigned long long)j->squash_ms);
    for (uint32_t q = j->k; q-- > 0;)
        publish_partial(d, r, j, q);
    squash_job_free(j);
    holder_combine(d, r);
}

/* ---- the key holder's side of a round -------------------------------------------- */

static void sign_assignments(veil_daemon *d, struct round *r,
                             const struct veil_peer_id *const *nodes, uint32_t k);

/* A fresh agreed output: what this holder did for an earlier one (its
 * squash, its signature) no longer counts; the partials heard stay, each
 * bound to its own output's digest. */
static void holder_restart(struct holder_round *h, const uint8_t digest[32], uint64_t epoch)
{
    for (size_t q = 0; q < VEIL_ARRAY_LEN(h->pair); q++)
        if (h->pair[q])
            pair_clear_sq(h->pair[q]);
    h->have_sq = h->signed_own = h->none = false;
    h->k = 0;
    h->noted = 0;
    h->epoch = epoch;
    memcpy(h->output_digest, digest, 32);
}

static struct squash_job *squash_job_new(veil_daemon *d, struct round *r, const uint8_t *fhe,
                                         size_t fhe_len, uint64_t epoch, const uint8_t digest[32])
{
    struct squash_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->k = round_pairs(r);
    j->fhe = malloc(fhe_len ? fhe_len : 1);
    j->sq = calloc(2 * j->k, sizeof *j->sq);
    j->p = calloc(2 * j->k, sizeof *j->p);
    if (!j->fhe || !j->sq || !j->p) {
        squash_job_free(j);
        return NULL;
    }
    memcpy(j->fhe, fhe, fhe_len);
    j->fhe_len = fhe_len;
    j->r = r;
    j->d = d;
    j->epoch = epoch;
    j->attempt = r->attempt;
    memcpy(j->output_digest, digest, 32);
    j->work.data = j;
    return j;
}

/* The output at `i` passed the guard: squash it (or, when it names no
 * candidate, sign "unschedulable" at once: nothing to decrypt). An output
 * over no candidate at all (its schedulers held no fresh telemetry) is no
 * verdict on the job: the round is retried, as the decryptor does. */
static void holder_start(veil_daemon *d, struct round *r, size_t i, const uint8_t digest[32])
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
    holder_restart(h, digest, r->outputs[i].epoch);
    if (none) {
        const struct veil_peer_id *nodes[VEIL_SCHED_MAX_REPLICAS] = {0};
        h->none = true;
        sign_assignments(d, r, nodes, round_pairs(r));
        return;
    }
    struct squash_job *j = squash_job_new(d, r, fhe, fhe_len, r->outputs[i].epoch, digest);
    if (!j)
        return;
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
    if (!d->th.share || r->holder_busy)
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
        uint8_t digest[32];
        veil_sched_output_digest(digest, r->job_id, r->replica, r->outputs[i].epoch,
                                 r->outputs[i].data, r->outputs[i].len);
        if (!(h && (h->have_sq || h->signed_own) && memcmp(h->output_digest, digest, 32) == 0))
            holder_start(d, r, i, digest);
        return;
    }
}

/* The partials heard for pair q of the agreed output's ciphertext ct, in
 * one array. */
static size_t gather(const struct holder_round *h, uint32_t q, int ct, veil_th_partial *out,
                     unsigned n)
{
    const struct holder_pair *p = h->pair[q];
    size_t k = 0;
    for (unsigned i = 0; p && i < n; i++)
        if (p->parts[i].have && memcmp(p->parts[i].output_digest, h->output_digest, 32) == 0)
            out[k++] = p->parts[i].p[ct];
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
    for (uint32_t q = 0; q < round_pairs(r); q++)
        if (veil_store_replica_set_note(d->store, r->job_hex, r->replica + q, note, &err) != 0)
            veil_daemon_store_failed("replica note", r->job_hex, r->replica + q, &err);
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

/* Combines every ciphertext of every pair from the partials heard; -1
 * until the threshold library accepts them all (2t + 1 agreeing). index[q]
 * and found[q] get pair q's values; *all the union of the holders
 * answering, wrong and rejected. */
static int combine_all(veil_daemon *d, struct round *r, uint32_t *index, bool *found,
                       veil_th_result *all)
{
    struct holder_round *h = r->th;
    veil_th_partial *parts = calloc(VEIL_TH_MAX_HOLDERS, sizeof *parts); /* 33 KB */
    veil_err err = {0};
    int rc = parts ? 0 : -1;
    memset(all, 0, sizeof *all);
    for (uint32_t q = 0; q < h->k && rc == 0; q++)
        for (int ct = 0; ct < 2 && rc == 0; ct++) {
            veil_th_result res;
            size_t k = gather(h, q, ct, parts, d->th.pub.n);
            if (k < 2u * d->th.pub.t + 1) {
                rc = -1; /* wait for more */
            } else if (veil_th_combine(&d->th.pub, &h->pair[q]->sq[ct], parts, k, &res, &err) !=
                       0) {
                veil_log(VEIL_LOG_INFO, SUB, "threshold decryption waits",
                         "job=%.16s replica=%u pair=%u reason=\"%s\"", r->job_hex, r->replica, q,
                         err.msg);
                rc = -1;
            } else {
                if (ct == 0)
                    index[q] = (uint32_t)res.value;
                else
                    found[q] = res.value != 0;
                all->wrong |= res.wrong;
                all->rejected |= res.rejected;
                all->answered |= res.answered;
            }
        }
    free(parts);
    return rc;
}

/* A partial that came after the decision is still checked: a holder that
 * answered wrong is named even when the others were faster. */
static void holder_recheck(veil_daemon *d, struct round *r)
{
    struct holder_round *h = r->th;
    uint32_t index[VEIL_SCHED_MAX_REPLICAS];
    bool found[VEIL_SCHED_MAX_REPLICAS];
    veil_th_result all;
    if (!h || !h->have_sq || h->none || combine_all(d, r, index, found, &all) != 0)
        return;
    uint32_t seen = all.answered | all.wrong | all.rejected;
    if (seen == h->noted)
        return;
    h->noted = seen;
    note_holders(d, r, &all);
}

/* The agreed output's candidates (malloc'ed; NULL when it is gone). */
static struct veil_peer_id *agreed_cands(const struct round *r, const uint8_t digest[32],
                                         size_t *nc)
{
    for (size_t i = 0; i < r->n_outputs; i++) {
        uint8_t dg[32];
        veil_sched_output_digest(dg, r->job_id, r->replica, r->outputs[i].epoch, r->outputs[i].data,
                                 r->outputs[i].len);
        if (memcmp(dg, digest, 32) != 0)
            continue;
        struct veil_peer_id *cands = NULL;
        bool none = true;
        const uint8_t *fhe;
        size_t fhe_len;
        veil_err err = {0};
        if (veil_daemon_output_parse(r->outputs[i].data, r->outputs[i].len, &cands, nc, &none, &fhe,
                                     &fhe_len, &err) != 0)
            return NULL;
        return cands;
    }
    return NULL;
}

/* Combines once 2t + 1 partials of every pair of the agreed output are in,
 * and signs each replica's assignment (a lying majority's output, naming
 * one node twice or none of its candidates, starts the round over). */
static void holder_combine(veil_daemon *d, struct round *r)
{
    struct holder_round *h = r->th;
    if (!h || !h->have_sq)
        return;
    if (h->signed_own || veil_round_state_terminal(r->state)) {
        holder_recheck(d, r);
        return;
    }
    uint32_t index[VEIL_SCHED_MAX_REPLICAS] = {0};
    bool found[VEIL_SCHED_MAX_REPLICAS] = {0};
    veil_th_result all;
    if (combine_all(d, r, index, found, &all) != 0)
        return;
    h->noted = all.answered | all.wrong | all.rejected;
    note_holders(d, r, &all);
    size_t nc = 0;
    struct veil_peer_id *cands = agreed_cands(r, h->output_digest, &nc);
    const struct veil_peer_id *nodes[VEIL_SCHED_MAX_REPLICAS] = {0};
    veil_err err = {0};
    if (!cands)
        return;
    if (veil_daemon_pairs_nodes(index, found, h->k, false, cands, nc, nodes, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "bad scheduler output", "job=%.16s batch=%u error=\"%s\"",
                 r->job_hex, h->k, err.msg);
        free(cands);
        veil_daemon_shard_retry(d, r); /* vouched for, yet unusable: start over */
        return;
    }
    sign_assignments(d, r, nodes, h->k);
    free(cands);
}

static void count_vote(veil_daemon *d, struct round *r, const struct veil_msg_assignment *a,
                       unsigned holder);

/* This holder's signed assignment of one replica, published and counted. */
static void sign_one(veil_daemon *d, struct round *rr, struct veil_msg_assignment *a, uint32_t k)
{
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_assignment_sign(a, d->cluster_id, d->key.secret_key, &err) != 0 ||
        veil_msg_assignment_encode(&msg, a, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment not signed", "error=\"%s\"", err.msg);
        veil_buf_free(&msg);
        return;
    }
    veil_daemon_publish(d, &msg, "assignment");
    veil_buf_free(&msg);
    veil_log(VEIL_LOG_INFO, SUB, "assignment signed",
             "job=%.16s replica=%u schedulable=%d holder=%u batch=%u", rr->job_hex, a->replica,
             a->schedulable, d->th.index, k);
    count_vote(d, rr, a, d->th.index);
}

/* One assignment per replica the round places (nodes[q] NULL:
 * unschedulable), the agreed output's digest and epoch in each; the later
 * replicas first, as the designated decryptor sends them (replica 0's
 * assignment ends the batch's wait on every node). Replica q > 0 of a
 * batch is counted in its own (job, q) round. */
static void sign_assignments(veil_daemon *d, struct round *r,
                             const struct veil_peer_id *const *nodes, uint32_t k)
{
    struct holder_round *h = r->th;
    h->signed_own = true;
    for (uint32_t q = k; q-- > 0;) {
        struct veil_msg_assignment a = {0};
        memcpy(a.job_id, r->job_id, 32);
        a.replica = r->replica + q;
        a.schedulable = nodes[q] != NULL;
        if (nodes[q])
            a.node = *nodes[q];
        memcpy(a.output_digest, h->output_digest, 32);
        a.epoch = h->epoch;
        struct round *rr = q == 0 ? r : veil_daemon_round(d, r->job_id, a.replica, true);
        if (rr)
            sign_one(d, rr, &a, k);
    }
}

/* ---- every node: partials and the holders' assignments --------------------------- */

/* The round and pair a partial is for: pair j of replica 0's batch round
 * when j is a replica that round places (undecided, or decided from this
 * very output: a late partial is still checked); else its own replica's
 * round, pair 0 (a batch's, heard before this node planned it as one, is
 * moved into the batch round by adopt_early_partials). */
static struct round *partial_round(veil_daemon *d, const struct veil_msg_partial *m, uint32_t *pair)
{
    struct round *b = m->replica > 0 ? veil_daemon_round(d, m->job_id, 0, false) : NULL;
    const struct holder_round *bh = b ? b->th : NULL;
    bool batch_open =
        b && (b->state == VEIL_ROUND_ST_PLANNED || b->state == VEIL_ROUND_ST_EVALUATING ||
              b->state == VEIL_ROUND_ST_EVALUATED);
    bool of_batch = bh && bh->have_sq && memcmp(bh->output_digest, m->output_digest, 32) == 0;
    *pair = 0;
    if (b && b->batch > m->replica && (batch_open || of_batch)) {
        *pair = m->replica;
        return b;
    }
    return veil_daemon_round(d, m->job_id, m->replica, true);
}

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
    uint32_t q = 0;
    struct round *r = partial_round(d, &m, &q);
    struct holder_pair *p = r ? hpair(hround(r), q) : NULL;
    if (!p || r->state == VEIL_ROUND_ST_ABANDONED || m.epoch < r->epoch_min ||
        (p->parts[idx - 1].have && p->parts[idx - 1].epoch >= m.epoch))
        return;
    veil_th_partial parts[2];
    for (int i = 0; i < 2; i++)
        if (veil_th_partial_parse(m.parts[i], m.part_lens[i], &parts[i], &err) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "malformed partial decryption", "holder=%u error=\"%s\"",
                     idx, err.msg);
            return;
        }
    p->parts[idx - 1].have = true;
    p->parts[idx - 1].epoch = m.epoch;
    memcpy(p->parts[idx - 1].output_digest, m.output_digest, 32);
    memcpy(p->parts[idx - 1].p, parts, sizeof parts);
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

/* The slot counting the holders' signatures on `body` (added when new;
 * when every slot is taken, the one of the oldest epoch makes way for a
 * later assignment). NULL: the assignment is dropped. */
static size_t vote_slot(struct holder_round *h, const uint8_t body[32],
                        const struct veil_msg_assignment *a)
{
    size_t v = 0, oldest = 0;
    while (v < h->n_votes && memcmp(h->votes[v].body, body, 32) != 0)
        v++;
    if (v < h->n_votes)
        return v;
    if (h->n_votes < VEIL_ARRAY_LEN(h->votes)) {
        h->n_votes++;
    } else {
        for (v = 1; v < h->n_votes; v++)
            if (h->votes[v].a.epoch < h->votes[oldest].a.epoch)
                oldest = v;
        if (h->votes[oldest].a.epoch >= a->epoch)
            return SIZE_MAX; /* more distinct bodies than honest holders could sign */
        v = oldest;
    }
    memcpy(h->votes[v].body, body, 32);
    h->votes[v].signers = 0;
    h->votes[v].a = *a;
    return v;
}

/* One holder's signed assignment: recorded once t + 1 holders signed the
 * same one. A decided round counts only an assignment that is news to
 * this node (veil_daemon_assignment_news: a later epoch than it recorded -
 * the replica was placed again - or one it never stored), as for the
 * designated decryptor's assignments; the rest were recorded already. */
static void count_vote(veil_daemon *d, struct round *r, const struct veil_msg_assignment *a,
                       unsigned holder)
{
    struct holder_round *h = hround(r);
    if (!h || (r->state == VEIL_ROUND_ST_DECIDED && !veil_daemon_assignment_news(d, a)))
        return;
    uint8_t body[32];
    body_digest(body, d->cluster_id, a);
    size_t v = vote_slot(h, body, a);
    if (v == SIZE_MAX)
        return;
    h->votes[v].signers |= 1u << (holder - 1);
    unsigned count = (unsigned)__builtin_popcount(h->votes[v].signers);
    if (count < d->th.pub.t + 1u)
        return;
    veil_log(VEIL_LOG_INFO, SUB, "assignment agreed by key holders",
             "job=%.16s replica=%u holders=%u epoch=%llu", r->job_hex, r->replica, count,
             (unsigned long long)a->epoch);
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
