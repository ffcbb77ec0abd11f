// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_catchup.c - the catch-up query (issue 18; replaces re-announcing
 * every job to everyone whenever a member came back): a node asks each live
 * member over /veil/catch-up/1.0.0 for what it lacks of that member's own
 * jobs, listing the ones it holds with a digest of their decisions (the
 * latest assignment of each replica). The member announces again on the
 * topic only the jobs the asker lacks (at most CATCHUP_ANNOUNCE_MAX per
 * answer) and answers the signed assignments of the jobs whose digest
 * differs (at most VEIL_CATCHUP_ASG_MAX); the asker checks each assignment
 * as if it came from the topic. Passes run when a member comes back, every
 * minute, and once more after an answer that announced jobs (their
 * decisions), never closer than CATCHUP_GAP_MS (struct catchup_clock).
 *
 * A cut-off node's copies (issue 18): while a node was cut off, the others
 * may have declared it dead and moved its replicas. So a node also lists,
 * to every member, the other jobs whose replica it runs (its latest
 * assignment names it), and members answer those too when their decisions
 * differ: an assignment of a later epoch that binds such a replica
 * elsewhere is recorded even though this node's round is decided, and its
 * copy is stopped (daemon_exec.c). After each pass the node reports its
 * running containers again (daemon_exec.c), so a replica the others failed
 * while it ran is taken back by its node (the store's bound-node rule).
 *
 * Older assignments naming the asker (chaos s8): a node killed or cut off
 * as it was chosen never stored that assignment, and a later one moved the
 * replica before it was back; the commitment is anchored and only the node
 * it names shows it (H4). A job's digest therefore covers its replicas'
 * latest assignments and then every older one naming the asker (sorted by
 * replica and epoch); the answer holds the latest ones first, then those
 * older ones, within the answer's bounds (VEIL_CATCHUP_ASG_MAX assignments
 * of at most VEIL_CATCHUP_ASG_LEN bytes: the rest comes with the next
 * pass, the digests differing until the asker holds them all). The asker
 * records an older one as history (daemon_rounds.c record_if_older). The
 * latest assignment is the one of the highest epoch, not the last recorded.
 *
 * A submitter's own jobs (chaos s9): a node also lists its own jobs whose
 * replica is still undecided here, to every member, which answers its
 * decisions on them when they differ (the same path as a cut-off node's
 * copies), so a later assignment the submitter missed reaches it.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon_sync.h"

#define CU_SUB "catchup"

/* ---- the decisions a node holds, per job ---- */

struct latest {
    const char *job;
    uint32_t replica;
    json_int_t epoch;
    json_t *row;
};

static int latest_cmp(const void *a, const void *b)
{
    const struct latest *x = a, *y = b;
    int c = strcmp(x->job, y->job);
    return c ? c : (x->replica > y->replica) - (x->replica < y->replica);
}

/* by job, replica, then epoch (the history's canonical order) */
static int history_cmp(const void *a, const void *b)
{
    const struct latest *x = a, *y = b;
    int c = latest_cmp(a, b);
    return c ? c : (x->epoch > y->epoch) - (x->epoch < y->epoch);
}

static json_int_t row_epoch(json_t *row)
{
    return json_integer_value(json_object_get(row, "epoch"));
}

/* The latest assignment row (the highest epoch) of each (job, replica),
 * sorted by job then replica. */
static struct latest *latest_rows(json_t *rows, size_t *n_out)
{
    size_t n = json_array_size(rows), k = 0;
    struct latest *v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        const char *job = json_string_value(json_object_get(r, "job_id"));
        json_int_t rep = json_integer_value(json_object_get(r, "replica"));
        if (!job || rep < 0 || rep > UINT32_MAX)
            continue;
        size_t at = k;
        for (size_t j = 0; j < k; j++)
            if (v[j].replica == (uint32_t)rep && strcmp(v[j].job, job) == 0)
                at = j;
        if (at < k && v[at].epoch > row_epoch(r))
            continue; /* an older one recorded later (history) */
        v[at] = (struct latest){job, (uint32_t)rep, row_epoch(r), r};
        if (at == k)
            k++;
    }
    qsort(v, k, sizeof *v, latest_cmp);
    *n_out = k;
    return v;
}

/* The rows naming `who` that are not their replica's latest (its history),
 * sorted by job, replica and epoch; NULL only when out of memory. */
static struct latest *history_rows(json_t *rows, const struct latest *v, size_t nl, const char *who,
                                   size_t *n_out)
{
    size_t n = json_array_size(rows), k = 0;
    struct latest *h = calloc(n + 1, sizeof *h);
    if (!h)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        const char *job = json_string_value(json_object_get(r, "job_id"));
        const char *node = json_string_value(json_object_get(r, "node"));
        json_int_t rep = json_integer_value(json_object_get(r, "replica"));
        if (!job || !node || strcmp(node, who) != 0 || rep < 0 || rep > UINT32_MAX)
            continue;
        struct latest key = {job, (uint32_t)rep, row_epoch(r), r};
        const struct latest *cur = bsearch(&key, v, nl, sizeof *v, latest_cmp);
        if (cur && cur->epoch > key.epoch)
            h[k++] = key;
    }
    qsort(h, k, sizeof *h, history_cmp);
    *n_out = k;
    return h;
}

/* What one node holds of its decisions (the latest rows) and of its own
 * history (the older rows naming it), as seen by this node. */
struct decisions {
    const struct latest *v, *h;
    size_t nl, nh;
};

static void digest_rows(struct veil_catchup_digest *dg, const struct latest *v, size_t n,
                        const char *job)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c[32];
        const char *hex = json_string_value(json_object_get(v[i].row, "commitment"));
        if (strcmp(v[i].job, job) == 0 && hex &&
            veil_hex_decode(c, 32, hex, strlen(hex), false, NULL) == 32)
            veil_catchup_digest_add(dg, v[i].replica, c);
    }
}

/* This node's assignment rows, its latest ones and the history naming
 * `who`: freed by decisions_free. */
struct decisions_store {
    json_t *jobs, *rows;
    struct latest *v, *h;
    struct decisions ds;
};

static void decisions_free(struct decisions_store *s)
{
    free(s->h);
    free(s->v);
    json_decref(s->rows);
    json_decref(s->jobs);
    memset(s, 0, sizeof *s);
}

static int decisions_load(veil_daemon *d, const char *who, struct decisions_store *s, veil_err *err)
{
    memset(s, 0, sizeof *s);
    s->jobs = veil_store_list_json(d->store, "jobs", err);
    s->rows = s->jobs ? veil_store_list_json(d->store, "assignments", err) : NULL;
    if (!s->rows) {
        decisions_free(s);
        return -1;
    }
    s->v = latest_rows(s->rows, &s->ds.nl);
    s->h = s->v ? history_rows(s->rows, s->v, s->ds.nl, who, &s->ds.nh) : NULL;
    if (!s->h) {
        decisions_free(s);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    s->ds.v = s->v;
    s->ds.h = s->h;
    return 0;
}

/* The decisions digest of one job: its latest rows, then the history. */
static void job_digest(const struct decisions *ds, const char *job, uint8_t out[32])
{
    struct veil_catchup_digest dg = {0};
    digest_rows(&dg, ds->v, ds->nl, job);
    digest_rows(&dg, ds->h, ds->nh, job);
    veil_catchup_digest_final(&dg, out);
}

int veil_daemon_assignment_encode(json_t *row, veil_buf *out)
{
    struct veil_msg_assignment a = {0};
    const char *job = json_string_value(json_object_get(row, "job_id"));
    const char *node = json_string_value(json_object_get(row, "node"));
    const char *digest = json_string_value(json_object_get(row, "output_digest"));
    const char *sig = json_string_value(json_object_get(row, "signature"));
    veil_p2p_peer_id pid;
    if (!job || !node || !digest || !sig ||
        veil_hex_decode(a.job_id, 32, job, strlen(job), false, NULL) != 32 ||
        veil_hex_decode(a.output_digest, 32, digest, strlen(digest), false, NULL) != 32 ||
        veil_hex_decode(a.signature, 64, sig, strlen(sig), false, NULL) != 64)
        return -1;
    a.replica = (uint32_t)json_integer_value(json_object_get(row, "replica"));
    a.epoch = (uint64_t)json_integer_value(json_object_get(row, "epoch"));
    a.schedulable = node[0] != '\0';
    if (a.schedulable) {
        if (veil_p2p_peer_id_parse(node, &pid, NULL) != 0)
            return -1;
        veil_daemon_to_peer(&a.node, &pid);
    }
    return veil_msg_assignment_encode(out, &a, NULL);
}

/* ---- the answering side ---- */

/* Adds the job's rows of v to the answer (bytes kept in `store`). */
static void answer_rows(const struct latest *v, size_t n, const char *job,
                        struct veil_catchup_answer *a, veil_buf *store, size_t *offs)
{
    for (size_t i = 0; i < n && a->n < VEIL_CATCHUP_ASG_MAX; i++) {
        if (strcmp(v[i].job, job) != 0)
            continue;
        size_t before = store->len;
        if (veil_daemon_assignment_encode(v[i].row, store) != 0 ||
            store->len - before > VEIL_CATCHUP_ASG_LEN) {
            store->len = before;
            continue;
        }
        offs[a->n] = before;
        a->asg_len[a->n++] = store->len - before;
    }
}

/* The job's latest assignments, then the asker's history of it (an asker
 * takes the latest first: an older one is then history, never current). */
static void answer_job(const struct decisions *ds, const char *job, struct veil_catchup_answer *a,
                       veil_buf *store, size_t *offs)
{
    answer_rows(ds->v, ds->nl, job, a, store, offs);
    answer_rows(ds->h, ds->nh, job, a, store, offs);
}

/* The jobs of other submitters the asker listed (it runs one of their
 * replicas): this node's decisions when they differ. */
static void answer_runners(veil_daemon *d, json_t *jobs, const struct veil_catchup_have *h,
                           size_t nh, const struct decisions *ds, struct veil_catchup_answer *a,
                           veil_buf *asg, size_t *offs)
{
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *sub = json_string_value(json_object_get(j, "submitter"));
        uint8_t jid[32], mine[32];
        if (!id || !sub || strcmp(sub, d->self_text) == 0 ||
            veil_hex_decode(jid, 32, id, strlen(id), false, NULL) != 32)
            continue;
        for (size_t k = 0; k < nh; k++) {
            if (memcmp(h[k].job, jid, 32) != 0)
                continue;
            job_digest(ds, id, mine);
            if (memcmp(mine, h[k].digest, 32) != 0)
                answer_job(ds, id, a, asg, offs);
            break;
        }
    }
}

/* What the asker (peer ID `who`) lacks of this node's own jobs. */
static int build_answer(veil_daemon *d, const char *who, const struct veil_catchup_have *h,
                        size_t nh, veil_buf *out, size_t *n_announced, veil_err *err)
{
    struct decisions_store st;
    if (decisions_load(d, who, &st, err) != 0)
        return -1;
    json_t *jobs = st.jobs;
    struct veil_catchup_answer *a = calloc(1, sizeof *a);
    size_t *offs = calloc(VEIL_CATCHUP_ASG_MAX, sizeof *offs);
    veil_buf asg;
    veil_buf_init(&asg);
    int rc = -1;
    if (!a || !offs) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *sub = json_string_value(json_object_get(j, "submitter"));
        uint8_t jid[32], mine[32];
        if (!id || !sub || strcmp(sub, d->self_text) != 0 ||
            veil_hex_decode(jid, 32, id, strlen(id), false, NULL) != 32)
            continue;
        const struct veil_catchup_have *held = NULL;
        for (size_t k = 0; k < nh && !held; k++)
            if (memcmp(h[k].job, jid, 32) == 0)
                held = &h[k];
        if (!held) {
            if (a->announced < CATCHUP_ANNOUNCE_MAX && veil_daemon_publish_job(d, id, false) == 0)
                a->announced++;
            continue; /* its decisions in the follow-up pass, once it arrived */
        }
        job_digest(&st.ds, id, mine);
        if (memcmp(mine, held->digest, 32) != 0)
            answer_job(&st.ds, id, a, &asg, offs);
    }
    answer_runners(d, jobs, h, nh, &st.ds, a, &asg, offs);
    for (size_t k = 0; k < a->n; k++)
        a->asg[k] = asg.data + offs[k];
    *n_announced = a->announced;
    rc = veil_buf_ok(&asg) ? veil_msg_catchup_answer_encode(out, a, err)
                           : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
out:
    veil_buf_free(&asg);
    free(offs);
    free(a);
    decisions_free(&st);
    return rc;
}

int veil_daemon_catchup_answer(veil_daemon *d, const char *who, const uint8_t *req, size_t len,
                               veil_buf *out, size_t *announced, size_t *held, veil_err *err)
{
    struct veil_catchup_have *h = NULL;
    size_t nh = 0;
    *announced = 0;
    int rc = veil_msg_catchup_request_decode(req, len, &h, &nh, err);
    if (rc == 0)
        rc = build_answer(d, who, h, nh, out, announced, err);
    free(h);
    *held = nh;
    return rc;
}

struct cu_stream {
    veil_daemon *d;
    bool asker;
    veil_p2p_lp_reader rd;
    veil_buf req;
    char peer[VEIL_P2P_PEER_ID_TEXT_MAX];
};

static void cu_free(struct cu_stream *c)
{
    veil_p2p_lp_reader_free(&c->rd);
    veil_buf_free(&c->req);
    free(c);
}

static void serve(veil_p2p_stream *s, struct cu_stream *c, const uint8_t *msg, size_t n)
{
    size_t nh = 0, announced = 0;
    veil_err err = {0};
    veil_buf out;
    veil_buf_init(&out);
    int rc = veil_daemon_catchup_answer(c->d, c->peer, msg, n, &out, &announced, &nh, &err);
    if (rc == 0 && (veil_p2p_stream_write_lp(s, out.data, out.len, NULL, NULL, &err) != 0 ||
                    veil_p2p_stream_close_write(s, &err) != 0))
        rc = -1;
    if (rc != 0) {
        veil_log(VEIL_LOG_WARN, CU_SUB, "catch-up query not answered", "error=\"%s\"", err.msg);
        veil_p2p_stream_reset(s);
    } else if (announced || out.len > 5) {
        veil_log(VEIL_LOG_INFO, CU_SUB, "catch-up query answered",
                 "peer=%s held=%zu announced_again=%zu answer_bytes=%zu", c->peer, nh, announced,
                 out.len);
    }
    veil_buf_free(&out);
}

/* The latest assignment row (the highest epoch) this node holds of (job,
 * replica), or NULL. */
static json_t *latest_row(json_t *rows, const char *job, uint32_t replica)
{
    json_t *found = NULL, *r;
    size_t i;
    json_array_foreach(rows, i, r)
    {
        const char *jid = json_string_value(json_object_get(r, "job_id"));
        if (jid && strcmp(jid, job) == 0 &&
            json_integer_value(json_object_get(r, "replica")) == (json_int_t)replica &&
            (!found || row_epoch(r) > row_epoch(found)))
            found = r;
    }
    return found;
}

/* An answered assignment of a later epoch that binds elsewhere (or nowhere)
 * a replica this node runs: the others moved it while this node was cut
 * off. The round here is decided; the topic path records an assignment of
 * a later epoch too (one that binds the replica here again, chaos s7), this
 * one is verified and recorded here with its own log line, which stops this
 * node's copy. True when handled. Threshold clusters (t + 1 holder
 * signatures) take the topic path. */
static bool replace_own_copy(veil_daemon *d, json_t *rows, const uint8_t *data, size_t len)
{
    struct veil_msg_assignment a;
    veil_err err = {0};
    uint8_t pk[32];
    char job_hex[65];
    if (!rows || d->th.cluster || !d->have_decryptor_peer ||
        veil_msg_assignment_decode(&a, data, len, &err) != 0)
        return false;
    veil_hex_encode(job_hex, sizeof job_hex, a.job_id, 32);
    json_t *mine = latest_row(rows, job_hex, a.replica);
    const char *node = mine ? json_string_value(json_object_get(mine, "node")) : NULL;
    json_int_t epoch = mine ? json_integer_value(json_object_get(mine, "epoch")) : 0;
    struct veil_peer_id self;
    veil_daemon_to_peer(&self, &d->self);
    bool moved = node && strcmp(node, d->self_text) == 0 && epoch >= 0 &&
                 a.epoch > (uint64_t)epoch &&
                 (!a.schedulable || !veil_daemon_peer_eq(&a.node, &self));
    if (!moved)
        return false;
    if (veil_p2p_peer_id_ed25519_key(&d->decryptor_peer, pk, &err) != 0 ||
        veil_assignment_verify(&a, d->cluster_id, pk, &err) != 0) {
        veil_log(VEIL_LOG_WARN, CU_SUB, "assignment refused", "error=\"%s\"", err.msg);
        return true;
    }
    struct round *r = veil_daemon_round(d, a.job_id, a.replica, true);
    if (!r)
        return true;
    veil_log(VEIL_LOG_INFO, CU_SUB, "replica moved while this node was cut off",
             "job=%.16s replica=%u epoch=%llu was=%lld", job_hex, a.replica,
             (unsigned long long)a.epoch, (long long)epoch);
    veil_daemon_record_assignment(d, r, &a);
    return true;
}

void veil_daemon_catchup_take(veil_daemon *d, const char *peer, const uint8_t *msg, size_t n)
{
    struct veil_catchup_answer *a = calloc(1, sizeof *a);
    veil_err err = {0};
    if (!a || veil_msg_catchup_answer_decode(msg, n, a, &err) != 0) {
        veil_log(VEIL_LOG_WARN, CU_SUB, "bad catch-up answer", "peer=%s error=\"%s\"", peer,
                 a ? err.msg : "out of memory");
        free(a);
        return;
    }
    /* this node's assignments as they were before the answer (a replica's
     * latest one comes before its history) */
    json_t *rows = a->n ? veil_store_list_json(d->store, "assignments", &err) : NULL;
    for (size_t i = 0; i < a->n; i++)
        if (!replace_own_copy(d, rows, a->asg[i], a->asg_len[i]))
            veil_daemon_on_assignment(d, a->asg[i], a->asg_len[i]);
    json_decref(rows);
    if (a->announced || a->n)
        veil_log(VEIL_LOG_INFO, CU_SUB, "caught up from a member",
                 "peer=%s announced_again=%u assignments=%zu", peer, a->announced, a->n);
    if (a->announced)
        catchup_follow_up(&d->catchup, veil_daemon_wall_ms());
    free(a);
}

static void cu_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *user_data)
{
    struct cu_stream *c = user_data;
    veil_err err = {0};
    const uint8_t *msg;
    size_t n;
    int rc = veil_p2p_lp_reader_feed(&c->rd, data, len, &err);
    if (rc == 0)
        rc = veil_p2p_lp_reader_next(&c->rd, &msg, &n, &err);
    if (rc < 0) {
        veil_p2p_stream_reset(s);
        cu_free(c);
        return;
    }
    if (rc == 0)
        return;
    if (c->asker)
        veil_daemon_catchup_take(c->d, c->peer, msg, n);
    else
        serve(s, c, msg, n);
}

static void cu_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)s;
    (void)err;
    cu_free(user_data);
}

static const struct veil_p2p_stream_callbacks cu_cb = {.on_data = cu_data, .on_close = cu_close};

static struct cu_stream *cu_new(veil_daemon *d, bool asker, size_t max, const veil_p2p_peer_id *p)
{
    struct cu_stream *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->d = d;
    c->asker = asker;
    veil_p2p_lp_reader_init(&c->rd, max);
    veil_buf_init(&c->req);
    veil_p2p_peer_id_to_text(p, c->peer, sizeof c->peer);
    return c;
}

void veil_daemon_on_catchup_stream(veil_p2p_stream *s, const char *protocol, void *user_data)
{
    (void)protocol;
    struct cu_stream *c =
        cu_new(user_data, false, VEIL_CATCHUP_REQUEST_MAX, veil_p2p_stream_peer(s));
    if (!c) {
        veil_p2p_stream_reset(s);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &cu_cb, c);
}

/* ---- the asking side ---- */

static void ask_open(veil_p2p_stream *s, const char *protocol, const veil_err *err, void *user_data)
{
    (void)protocol;
    struct cu_stream *c = user_data;
    veil_err e2 = {0};
    if (!s) {
        veil_log(VEIL_LOG_DEBUG, CU_SUB, "catch-up member not reached", "peer=%s error=\"%s\"",
                 c->peer, err ? err->msg : "?");
        cu_free(c);
        return;
    }
    veil_p2p_stream_set_callbacks(s, &cu_cb, c);
    if (veil_p2p_stream_write_lp(s, c->req.data, c->req.len, NULL, NULL, &e2) != 0 ||
        veil_p2p_stream_close_write(s, &e2) != 0) {
        veil_log(VEIL_LOG_DEBUG, CU_SUB, "catch-up query not sent", "error=\"%s\"", e2.msg);
        veil_p2p_stream_reset(s);
        cu_free(c);
    }
}

/* True when this node's latest assignment of one of the job's replicas
 * names it (it runs, or ran, that replica). */
static bool runs_replica_of(const char *self, const struct latest *v, size_t nl, const char *job)
{
    for (size_t i = 0; i < nl; i++) {
        const char *node = json_string_value(json_object_get(v[i].row, "node"));
        if (strcmp(v[i].job, job) == 0 && node && strcmp(node, self) == 0)
            return true;
    }
    return false;
}

/* One of this node's own jobs with a replica still undecided here (the
 * jobs list's state is its replica furthest from done): it may have missed
 * the later assignment that placed it again (chaos s9, long36 and long37: the
 * submitter, its disk full, never recorded the new assignments of its own
 * jobs, and asked the members only for theirs), so every member is asked
 * for its decisions on it (answer_runners answers the jobs of other
 * submitters that the asker lists). */
static bool own_undecided(const char *self, const char *sub, json_t *job)
{
    return strcmp(sub, self) == 0 &&
           veil_replica_state_name_undecided(json_string_value(json_object_get(job, "state")));
}

/* The request to member `member`: the jobs it submitted that this node
 * holds, the other jobs whose replica this node runs, and this node's own
 * jobs still undecided here. */
static int build_request(const char *self, const char *member, json_t *jobs,
                         const struct decisions *ds, veil_buf *out, veil_err *err)
{
    struct veil_catchup_have *h = calloc(json_array_size(jobs) + 1, sizeof *h);
    size_t n = 0, i;
    json_t *j;
    if (!h)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    json_array_foreach(jobs, i, j)
    {
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *sub = json_string_value(json_object_get(j, "submitter"));
        if (n == VEIL_CATCHUP_JOBS_MAX || !id || !sub ||
            (strcmp(sub, member) != 0 && !runs_replica_of(self, ds->v, ds->nl, id) &&
             !own_undecided(self, sub, j)) ||
            veil_hex_decode(h[n].job, 32, id, strlen(id), false, NULL) != 32)
            continue;
        job_digest(ds, id, h[n].digest);
        n++;
    }
    int rc = veil_msg_catchup_request_encode(out, h, n, err);
    free(h);
    return rc;
}

int veil_daemon_catchup_request(veil_daemon *d, const char *member, veil_buf *out, veil_err *err)
{
    struct decisions_store st;
    if (decisions_load(d, d->self_text, &st, err) != 0)
        return -1;
    int rc = build_request(d->self_text, member, st.jobs, &st.ds, out, err);
    decisions_free(&st);
    return rc;
}

static void ask(veil_daemon *d, const struct member *m)
{
    struct cu_stream *c = cu_new(d, true, VEIL_CATCHUP_ANSWER_MAX, &m->id);
    veil_err err = {0};
    if (!c || veil_daemon_catchup_request(d, m->text, &c->req, &err) != 0) {
        veil_log(VEIL_LOG_WARN, CU_SUB, "catch-up query not built", "error=\"%s\"",
                 c ? err.msg : "out of memory");
        if (c)
            cu_free(c);
        return;
    }
    static const char *const protos[] = {VEIL_CATCHUP_PROTO};
    if (veil_p2p_host_new_stream(d->host, &m->id, protos, 1, ask_open, c, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, CU_SUB, "catch-up member not reached", "peer=%s error=\"%s\"",
                 m->text, err.msg);
        cu_free(c);
    }
}

void veil_daemon_catchup_tick(veil_daemon *d, uint64_t now_ms)
{
    if (!d->host || now_ms < d->resume_at_ms || !catchup_due(&d->catchup, now_ms))
        return;
    size_t asked = 0;
    for (size_t i = 0; i < d->n_members; i++) {
        const struct member *m = &d->members[i];
        if (!m->alive ||
            (m->id.len == d->self.len && memcmp(m->id.bytes, d->self.bytes, d->self.len) == 0))
            continue;
        ask(d, m); /* each request from the store as it is now */
        asked++;
    }
    veil_log(VEIL_LOG_DEBUG, CU_SUB, "catch-up pass", "members=%zu", asked);
    veil_daemon_report_containers(d);
}
