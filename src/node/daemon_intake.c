// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_intake.c - job intake: the jobs this node's API accepted are
 * announced on the cluster topic (JOB_SUBMIT, once each: the announced set
 * grows with the load), and every node takes in the jobs it hears of (stored,
 * then the round of the first undecided replica made ready and planned).
 * Every node applies the intake gate first (hook H3 of docs/THREAT_MODEL.md):
 * a job whose image digest the cluster's on-chain allow-list does not hold
 * never reaches scheduling, so it yields no placement outcome. Then the
 * outcome budget (hook H2): the submitter claims a slot (period, sequence)
 * inside its signed announcement, every node charges it to the submitter's
 * ledger on its own (kept in the store, so restarts forget nothing), and a
 * job over the on-chain budget, of a stale period or reusing another job's
 * slot is refused before any round, attributably. Both gates need the
 * cluster's policy from chain: while it cannot be read (the RPC down), a
 * job is deferred, not refused (kept, its check retried with backoff for
 * at most INTAKE_DEFER_LIMIT_MS, the wait in its replicas' note), and kept
 * in the store too: a restarted node holds it again, from its first
 * deferral's time, and checks it itself before any round of it. A job
 * whose check passed here once is marked so in the store and never checked
 * again (its re-announcements, a restart): its signed, hash-named terms
 * cannot change (taken_in_before).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "daemon_core.h"
#include "daemon_policy.h"
#include "daemon_sync.h"

static void republish_job_assignments(veil_daemon *d, const char *job_hex);

/* A store read on the intake path that failed: logged with the job (the
 * writes go through veil_daemon_store_failed). */
static void store_read_failed(const char *what, const char *job_hex, uint32_t replica,
                              const veil_err *err)
{
    veil_log(VEIL_LOG_WARN, SUB, "store read failed", "what=%s job=%.16s replica=%u error=\"%s\"",
             what, job_hex, replica, err->msg);
}

/* A replica the store shows past its round (assigned, running, exited,
 * failed, unschedulable): its round is decided here too, with its node. */
static void mark_decided(veil_daemon *d, const uint8_t job_id[32], const char *id_hex,
                         uint32_t replica, uint32_t replicas)
{
    struct round *done = veil_daemon_round(d, job_id, replica, true);
    if (!done || veil_round_state_terminal(done->state))
        return;
    done->replicas = replicas;
    char node[96];
    veil_p2p_peer_id pid;
    veil_err err = {0};
    if (veil_daemon_round_move(d, done, VEIL_ROUND_ST_DECIDED) != 0)
        return;
    if (veil_store_replica_get_node(d->store, id_hex, replica, node, sizeof node, &err) != 0) {
        store_read_failed("decided replica's node", id_hex, replica, &err);
        return;
    }
    if (node[0] && veil_p2p_peer_id_parse(node, &pid, &err) == 0)
        veil_daemon_to_peer(&done->chosen, &pid);
}

/* Hook H3: 1 when the cluster's on-chain policy allows the job's image (an
 * empty allow-list allows every image), 0 when it does not, with `why` set
 * for the submitter. */
static int image_gate(const veil_contract_policy *pol, const struct veil_job_spec *spec, char *why,
                      size_t cap)
{
    int ok = 0;
    uint8_t dg[32];
    if (pol->n_image_digests == 0) {
        ok = 1;
    } else if (!spec->image_digest[0] ||
               veil_hex_decode(dg, 32, spec->image_digest + 7, 64, false, NULL) != 32) {
        snprintf(why, cap,
                 "refused at intake: the cluster allows images by digest only, "
                 "and %.160s names none",
                 spec->image);
    } else {
        for (size_t i = 0; i < pol->n_image_digests; i++)
            ok |= memcmp(pol->image_digests[i], dg, 32) == 0;
        if (!ok)
            snprintf(why, cap,
                     "refused at intake: image digest %.19s... is not in the "
                     "cluster's on-chain allow-list",
                     spec->image_digest);
    }
    return ok;
}

/* ---- hook H2: the outcome budget ------------------------------------------ */

#define SLOT_RESERVED (-1)                     /* own job's slot, announced, not charged yet */
#define SLOT_KEEP_MS  (7LL * 24 * 3600 * 1000) /* slots older than this are forgotten */

static const char *const verdict_names[] = {"accept", "repeat", "over_budget", "stale", "reused"};

/* The budget in force: the node's privacy policy with the on-chain budget
 * (0 outcomes = none). */
static struct veil_privacy_policy budget_policy(const veil_daemon *d,
                                                const veil_contract_policy *pol)
{
    struct veil_privacy_policy p = d->privacy;
    /* the contract refuses a budget without a period; never divide by one */
    p.outcomes_per_period = pol->outcome_period_s ? pol->outcomes_per_period : 0;
    p.period_s = pol->outcome_period_s;
    return p;
}

/* A member's ledger key: its peer's key as the registry stores it. */
static int member_key(veil_daemon *d, const struct veil_peer_id *submitter_text, uint8_t key[32],
                      veil_err *err)
{
    char text[VEIL_PEER_ID_MAX + 1];
    veil_p2p_peer_id pid;
    struct veil_peer_id peer;
    memcpy(text, submitter_text->bytes, submitter_text->len);
    text[submitter_text->len] = '\0';
    if (veil_p2p_peer_id_parse(text, &pid, err) != 0)
        return veil_err_wrap(err, "submitter of the job");
    veil_daemon_to_peer(&peer, &pid);
    veil_peer_key(key, &d->keccak, &peer);
    return 0;
}

/* The member's accepted slots of the previous period on, as a ledger the
 * pure rules charge (one spare entry for the charge itself). */
static int load_ledger(veil_daemon *d, const uint8_t member[32], uint64_t period_min,
                       struct veil_privacy_ledger *l, veil_err *err)
{
    struct veil_store_slot *rows;
    size_t n;
    memset(l, 0, sizeof *l);
    if (veil_store_slots_of(d->store, member, period_min, VEIL_PRIVACY_ACCEPT, &rows, &n, err) != 0)
        return -1;
    l->used = calloc(n + 1, sizeof *l->used);
    if (!l->used) {
        free(rows);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    l->cap = n + 1;
    for (size_t i = 0; i < n; i++) {
        struct veil_privacy_slot *u = &l->used[l->n].slot;
        memcpy(u->member, rows[i].member, 32);
        u->member_len = 32;
        u->period = rows[i].period;
        u->seq = rows[i].seq;
        if (veil_hex_decode(u->job_id, 32, rows[i].job_id, strlen(rows[i].job_id), false, NULL) ==
            32)
            l->n++;
    }
    free(rows);
    return 0;
}

/* The slot this node claims for its own job: the stored one (a
 * re-announcement reuses it), else the next free one of the current period
 * (the budget itself when it is spent: every node then refuses the job). */
static int own_slot(veil_daemon *d, const veil_contract_policy *pol, const char *job_hex,
                    struct veil_msg_job_submit *m, veil_err *err)
{
    struct veil_privacy_policy p = budget_policy(d, pol);
    struct veil_store_slot row;
    if (p.outcomes_per_period == 0)
        return 0; /* no budget: slot 0/0 */
    if (veil_store_slot_get(d->store, job_hex, &row, err) == 0) {
        m->budget_period = row.period;
        m->budget_seq = row.seq;
        return 0;
    }
    if (err->code != VEIL_E_NOTFOUND)
        return -1;
    struct veil_privacy_ledger l;
    memset(&row, 0, sizeof row);
    row.period = veil_daemon_wall_ms() / 1000 / p.period_s;
    if (member_key(d, &m->submitter, row.member, err) != 0 ||
        load_ledger(d, row.member, row.period, &l, err) != 0)
        return -1;
    row.seq = veil_privacy_budget_next(&l, &p, row.member, 32, row.period);
    free(l.used);
    snprintf(row.job_id, sizeof row.job_id, "%s", job_hex);
    row.verdict = SLOT_RESERVED;
    if (veil_store_slot_put(d->store, &row, err) != 0)
        return -1;
    m->budget_period = row.period;
    m->budget_seq = row.seq;
    return 0;
}

/* The member's on-chain node address, for the log (zero when unknown). */
static void member_address(veil_daemon *d, const uint8_t member[32], char out[43])
{
    veil_eth_address a = {0};
    veil_err err = {0};
    if (veil_contract_node_by_peer_id(d->chain, member, 32, &a, &err) != 0)
        memset(&a, 0, sizeof a);
    veil_eth_address_format(&a, out);
}

/* The refusal, in the job's note and the log: the rule's reason, the budget
 * and when the next period starts, and who claimed which slot. */
static void budget_refusal(veil_daemon *d, const struct veil_privacy_policy *p,
                           const struct veil_privacy_slot *s, enum veil_privacy_verdict v,
                           const char *reason, const char *job_hex, const char *submitter,
                           const char *other_job, char *why, size_t cap)
{
    uint64_t now_s = veil_daemon_wall_ms() / 1000;
    time_t next = (time_t)((now_s / p->period_s + 1) * p->period_s);
    struct tm tm;
    char at[32] = "?", addr[43];
    if (gmtime_r(&next, &tm))
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(why, cap,
             "refused at intake by the outcome budget (%" PRIu32 " per %" PRIu32
             " s): %.160s; the next period starts at %s",
             p->outcomes_per_period, p->period_s, reason, at);
    member_address(d, s->member, addr);
    veil_log(VEIL_LOG_WARN, SUB, "job refused: outcome budget",
             "job=%.16s member=%s peer=%s period=%" PRIu64 " seq=%" PRIu32
             " verdict=%s budget=%" PRIu32 "/%" PRIu32 "s next_period=%s slot_holder=%.16s",
             job_hex, addr, submitter, s->period, s->seq, verdict_names[v], p->outcomes_per_period,
             p->period_s, at, other_job);
}

/* Hook H2 on every node: 1 when the job may be scheduled, 0 when the budget
 * refuses it (`why` set). A job already judged keeps its verdict (a
 * re-announcement is not charged again). */
static int budget_gate(veil_daemon *d, const veil_contract_policy *pol,
                       const struct veil_msg_job_submit *m, const char *job_hex,
                       const char *submitter, char *why, size_t cap)
{
    struct veil_privacy_policy p = budget_policy(d, pol);
    struct veil_store_slot row;
    struct veil_privacy_slot s = {
        .member_len = 32, .period = m->budget_period, .seq = m->budget_seq};
    struct veil_privacy_ledger l;
    enum veil_privacy_verdict v;
    veil_err err = {0}, reason = {0};
    if (p.outcomes_per_period == 0)
        return 1;
    memcpy(s.job_id, m->job_id, 32);
    int got = veil_store_slot_get(d->store, job_hex, &row, &err);
    if (got != 0 && err.code != VEIL_E_NOTFOUND) {
        /* never charged twice: a verdict the store may hold is not guessed */
        store_read_failed("outcome slot", job_hex, 0, &err);
        snprintf(why, cap, "refused at intake: outcome budget not checked (%.160s)", err.msg);
        return 0;
    }
    if (got == 0 && row.verdict != SLOT_RESERVED) {
        if (row.verdict == VEIL_PRIVACY_ACCEPT)
            return 1;
        snprintf(why, cap, "refused at intake: outcome budget (slot %" PRIu64 "/%" PRIu32 ", %s)",
                 row.period, row.seq,
                 (unsigned)row.verdict < VEIL_ARRAY_LEN(verdict_names) ? verdict_names[row.verdict]
                                                                       : "?");
        return 0;
    }
    uint64_t now_s = veil_daemon_wall_ms() / 1000, cur = now_s / p.period_s;
    if (member_key(d, &m->submitter, s.member, &err) != 0 ||
        load_ledger(d, s.member, cur ? cur - 1 : 0, &l, &err) != 0) {
        snprintf(why, cap, "refused at intake: outcome budget not checked (%.160s)", err.msg);
        return 0;
    }
    int rc = veil_privacy_budget_charge(&l, &p, &s, now_s, &v, &reason, &err);
    /* a reused slot: the job that holds it is the other half of the evidence */
    char other[65] = "-";
    for (size_t i = 0; rc == 0 && v == VEIL_PRIVACY_REUSED && i < l.n; i++)
        if (l.used[i].slot.period == s.period && l.used[i].slot.seq == s.seq)
            veil_hex_encode(other, sizeof other, l.used[i].slot.job_id, 32);
    free(l.used);
    if (rc != 0) {
        snprintf(why, cap, "refused at intake: outcome budget not checked (%.160s)", err.msg);
        return 0;
    }
    memcpy(row.member, s.member, 32);
    snprintf(row.job_id, sizeof row.job_id, "%s", job_hex);
    row.period = s.period;
    row.seq = s.seq;
    row.verdict = v == VEIL_PRIVACY_REPEAT ? VEIL_PRIVACY_ACCEPT : (int)v;
    if (veil_store_slot_put(d->store, &row, &err) != 0 ||
        veil_store_slots_prune(d->store, (int64_t)veil_daemon_wall_ms() - SLOT_KEEP_MS, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "outcome slot not stored", "job=%.16s error=\"%s\"", job_hex,
                 err.msg);
    if (v == VEIL_PRIVACY_ACCEPT || v == VEIL_PRIVACY_REPEAT)
        return 1;
    budget_refusal(d, &p, &s, v, reason.msg, job_hex, submitter, other, why, cap);
    return 0;
}

/* ---- jobs deferred while the policy is unreadable ----------------------- */

uint64_t intake_defer_backoff_ms(uint32_t attempts)
{
    uint64_t ms = INTAKE_DEFER_FIRST_MS;
    for (uint32_t i = 0; i < attempts && ms < INTAKE_DEFER_CAP_MS; i++)
        ms *= 2;
    return ms < INTAKE_DEFER_CAP_MS ? ms : INTAKE_DEFER_CAP_MS;
}

bool intake_defer_expired(const struct intake_deferred *e, uint64_t now_ms)
{
    return now_ms >= e->first_ms && now_ms - e->first_ms >= INTAKE_DEFER_LIMIT_MS;
}

static size_t defer_find(const struct intake_deferrals *q, const char *job_hex)
{
    size_t i = 0;
    while (i < q->n && strcmp(q->v[i].job_hex, job_hex) != 0)
        i++;
    return i;
}

bool intake_defer_has(const struct intake_deferrals *q, const char *job_hex)
{
    return defer_find(q, job_hex) < q->n;
}

size_t intake_defer_bound(const struct intake_deferrals *q)
{
    return q->max ? q->max : INTAKE_DEFER_MAX_DEFAULT;
}

/* intake_defer_put under `bound` (a reload holds every stored row). */
static int defer_put(struct intake_deferrals *q, const struct intake_deferred *e,
                     const uint8_t *msg, const uint8_t *from, size_t bound, veil_err *err)
{
    if (intake_defer_has(q, e->job_hex))
        return 0;
    if (q->n >= bound)
        return veil_err_set(err, VEIL_E_LIMIT,
                            "%zu jobs wait for the policy already (jobs.intake_defer_max)", q->n);
    if (e->len == 0 || e->len > VEIL_MSG_MAX_BYTES || e->from_len > VEIL_PEER_ID_MAX ||
        (e->from_len && !from))
        return veil_err_set(err, VEIL_E_INVALID, "deferred announcement of %zu bytes", e->len);
    struct intake_deferred *grown = q->v;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        grown = realloc(q->v, cap * sizeof *q->v);
        if (!grown)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        q->v = grown;
        q->cap = cap;
    }
    uint8_t *copy = malloc(e->len + e->from_len);
    if (!copy)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    memcpy(copy, msg, e->len);
    if (e->from_len)
        memcpy(copy + e->len, from, e->from_len);
    q->v[q->n] = *e;
    q->v[q->n].msg = copy;
    q->n++;
    return 1;
}

int intake_defer_put(struct intake_deferrals *q, const struct intake_deferred *e,
                     const uint8_t *msg, const uint8_t *from, veil_err *err)
{
    return defer_put(q, e, msg, from, intake_defer_bound(q), err);
}

bool intake_defer_pop_due(struct intake_deferrals *q, uint64_t now_ms, struct intake_deferred *out)
{
    for (size_t i = 0; i < q->n; i++) {
        if (q->v[i].next_ms > now_ms)
            continue;
        *out = q->v[i];
        memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof *q->v);
        q->n--;
        return true;
    }
    return false;
}

int intake_defer_postpone_due(struct intake_deferrals *q, uint64_t now_ms, veil_store *s,
                              veil_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < q->n; i++) {
        struct intake_deferred *e = &q->v[i];
        if (e->next_ms > now_ms)
            continue;
        e->attempts++;
        e->next_ms = now_ms + intake_defer_backoff_ms(e->attempts);
        veil_err one = {0};
        if (s && intake_defer_save(s, e, e->msg, e->from_len ? e->msg + e->len : NULL, &one) != 0 &&
            rc == 0) {
            rc = -1;
            *err = one;
        }
    }
    return rc;
}

void intake_defer_drop(struct intake_deferrals *q, const char *job_hex)
{
    size_t i = defer_find(q, job_hex);
    if (i == q->n)
        return;
    free(q->v[i].msg);
    memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof *q->v);
    q->n--;
}

void intake_defer_free(struct intake_deferrals *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->v[i].msg);
    free(q->v);
    memset(q, 0, sizeof *q);
}

int intake_defer_save(veil_store *s, const struct intake_deferred *e, const uint8_t *msg,
                      const uint8_t *from, veil_err *err)
{
    struct veil_store_deferral row = {
        .msg = (uint8_t *)msg, /* read only: the store copies it */
        .msg_len = e->len,
        .from_len = e->from_len,
        .first_ms = e->first_ms,
        .attempts = e->attempts,
    };
    if (e->from_len > sizeof row.from || (e->from_len && !from))
        return veil_err_set(err, VEIL_E_INVALID, "deferred job's author of %zu bytes", e->from_len);
    snprintf(row.job_id, sizeof row.job_id, "%s", e->job_hex);
    if (e->from_len)
        memcpy(row.from, from, e->from_len);
    return veil_store_deferral_put(s, &row, err);
}

/* 1 when the stored deferral of `job_hex` is stale (the job passed this
 * node's check since: the row of a re-announcement deferred before the
 * check was recorded), its row then removed; 0 when it is held; -1 on a
 * store failure. */
static int deferral_stale(veil_store *s, const char *job_hex, veil_err *err)
{
    bool taken_in;
    if (veil_store_job_taken_in(s, job_hex, &taken_in, err) != 0)
        return -1;
    if (!taken_in)
        return 0;
    return veil_store_deferral_drop(s, job_hex, err) == 0 ? 1 : -1;
}

/* Every deferral row: a first page of the queue's bound, then, when more
 * are stored, all of them (rows are few: each was held under a bound). */
static int list_all(veil_store *s, size_t bound, struct veil_store_deferral **rows, size_t *n,
                    struct intake_reload_counts *c, veil_err *err)
{
    if (veil_store_deferrals_list(s, bound, rows, n, &c->corrupt, &c->rest, err) != 0)
        return -1;
    if (c->rest == 0)
        return 0;
    size_t all = *n + c->rest, corrupt = c->corrupt;
    veil_store_deferrals_free(*rows, *n);
    *rows = NULL;
    *n = 0;
    if (veil_store_deferrals_list(s, all, rows, n, &c->corrupt, &c->rest, err) != 0)
        return -1;
    c->corrupt += corrupt;
    return 0;
}

int intake_defer_reload(struct intake_deferrals *q, veil_store *s, uint64_t now_ms,
                        struct intake_reload_counts *c, veil_err *err)
{
    struct veil_store_deferral *rows;
    size_t n, bound = intake_defer_bound(q);
    memset(c, 0, sizeof *c);
    if (list_all(s, bound, &rows, &n, c, err) != 0)
        return veil_err_wrap(err, "deferred jobs");
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        rc = deferral_stale(s, rows[i].job_id, err);
        c->taken_in += rc == 1;
        if (rc != 0)
            continue;
        struct intake_deferred e = {.len = rows[i].msg_len,
                                    .from_len = rows[i].from_len,
                                    .first_ms = rows[i].first_ms,
                                    .next_ms = now_ms,
                                    .attempts = rows[i].attempts};
        memcpy(e.job_hex, rows[i].job_id, sizeof e.job_hex);
        rc = defer_put(q, &e, rows[i].msg, rows[i].from, SIZE_MAX, err);
        c->held += rc == 1;
    }
    c->past_bound = q->n > bound ? q->n - bound : 0;
    veil_store_deferrals_free(rows, n);
    return rc < 0 ? veil_err_wrap(err, "deferred job not held again") : 0;
}

/* Marks every undecided replica of a refused job failed with `why` (a
 * pending replica passes through scheduling, the store's only way there). */
static void refuse_job(veil_daemon *d, const char *id_hex, uint32_t replicas, const char *why)
{
    veil_err err = {0};
    for (uint32_t i = 0; i < replicas; i++) {
        enum veil_replica_state st;
        if (veil_store_replica_get_state(d->store, id_hex, i, &st, &err) != 0) {
            store_read_failed("refused replica's state", id_hex, i, &err);
            continue;
        }
        if (st != VEIL_REPLICA_PENDING && st != VEIL_REPLICA_SCHEDULING &&
            st != VEIL_REPLICA_AWAITING_DECRYPTION)
            continue;
        if ((st == VEIL_REPLICA_PENDING &&
             veil_store_replica_set_state(d->store, id_hex, i, VEIL_REPLICA_SCHEDULING, NULL,
                                          &err) != 0) ||
            veil_store_replica_set_state(d->store, id_hex, i, VEIL_REPLICA_FAILED, NULL, &err) !=
                0 ||
            veil_store_replica_set_note(d->store, id_hex, i, why, &err) != 0)
            veil_daemon_store_failed("replica refusal", id_hex, i, &err);
    }
    veil_log(VEIL_LOG_WARN, SUB, "job refused at intake", "job=%.16s reason=\"%s\"", id_hex, why);
}

/* The wait, in each undecided replica's note (what `veil get job` shows
 * the submitter's node while its own job waits there). */
static void defer_note(veil_daemon *d, const char *id_hex, uint32_t replicas, const char *note)
{
    veil_err err = {0};
    for (uint32_t i = 0; i < replicas; i++) {
        enum veil_replica_state st;
        if (veil_store_replica_get_state(d->store, id_hex, i, &st, &err) != 0)
            store_read_failed("deferred replica's state", id_hex, i, &err);
        else if (st == VEIL_REPLICA_PENDING &&
                 veil_store_replica_set_note(d->store, id_hex, i, note, &err) != 0)
            veil_daemon_store_failed("replica note", id_hex, i, &err);
    }
}

/* The held job's row in the store (a restarted node holds it again). */
static void defer_store(veil_daemon *d, const struct intake_deferred *e, const uint8_t *msg,
                        const uint8_t *from)
{
    veil_err err = {0};
    if (intake_defer_save(d->store, e, msg, from, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "deferred job not stored: a restart would forget its wait",
                 "job=%.16s attempts=%u error=\"%s\"", e->job_hex, e->attempts, err.msg);
}

static void defer_unstore(veil_daemon *d, const char *id_hex)
{
    veil_err err = {0};
    if (veil_store_deferral_drop(d->store, id_hex, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "deferred job not removed from the store",
                 "job=%.16s error=\"%s\"", id_hex, err.msg);
}

/* When the held job first waited (`prev`: the entry its check came from;
 * else the queue's entry, a re-announcement), 0 when not held. */
static uint64_t held_since(const struct intake_deferrals *q, const char *id_hex,
                           const struct intake_deferred *prev)
{
    if (prev)
        return prev->first_ms;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->v[i].job_hex, id_hex) == 0)
            return q->v[i].first_ms;
    return 0;
}

/* The policy could not be read (a transient RPC failure, not a verdict):
 * the job is held and checked again later (`prev`: the entry this check
 * came from), or refused once it waited INTAKE_DEFER_LIMIT_MS or the queue
 * is full. Logged once per job, when it starts to wait. */
static void defer_job(veil_daemon *d, const uint8_t *data, size_t len, const uint8_t *from,
                      size_t from_len, const char *id_hex, uint32_t replicas,
                      const struct intake_deferred *prev, const char *reason)
{
    uint64_t now = veil_daemon_wall_ms();
    struct intake_deferred e = {.len = len, .from_len = from ? from_len : 0};
    snprintf(e.job_hex, sizeof e.job_hex, "%s", id_hex);
    e.first_ms = prev ? prev->first_ms : now;
    e.attempts = prev ? prev->attempts + 1 : 0;
    e.next_ms = now + intake_defer_backoff_ms(e.attempts);
    char why[512];
    veil_err err = {0};
    int rc =
        intake_defer_expired(&e, now) ? -1 : intake_defer_put(&d->deferred, &e, data, from, &err);
    if (rc < 0) {
        if (prev)
            defer_unstore(d, id_hex);
        snprintf(why, sizeof why, "refused at intake: the policy is unreadable (%.160s) and %.200s",
                 reason, err.msg[0] ? err.msg : "it stayed so for the longest wait at intake");
        refuse_job(d, id_hex, replicas, why);
        return;
    }
    snprintf(why, sizeof why,
             "waiting at intake: the cluster's policy is unreadable (%.160s); check %u, the "
             "next in %llu s, refused after %u s",
             reason, e.attempts + 1, (unsigned long long)(e.next_ms - now) / 1000,
             INTAKE_DEFER_LIMIT_MS / 1000);
    defer_note(d, id_hex, replicas, why);
    if (rc == 1)
        defer_store(d, &e, data, from);
    if (rc == 1 && !prev)
        veil_log(VEIL_LOG_WARN, SUB, "job deferred at intake: the policy is unreadable",
                 "job=%.16s retry_in_ms=%llu limit_s=%u error=\"%s\"", id_hex,
                 (unsigned long long)(e.next_ms - now), INTAKE_DEFER_LIMIT_MS / 1000, reason);
}

/* Ends the wait of a held job whose check ran (`prev`: the entry it came
 * from), or of one found taken in already: out of the queue and the store. */
static void end_wait(veil_daemon *d, const char *id_hex, const struct intake_deferred *prev,
                     const char *why)
{
    if (!intake_defer_has(&d->deferred, id_hex) && !prev)
        return;
    uint64_t since = held_since(&d->deferred, id_hex, prev), now = veil_daemon_wall_ms();
    intake_defer_drop(&d->deferred, id_hex);
    defer_unstore(d, id_hex);
    veil_log(VEIL_LOG_INFO, SUB, why, "job=%.16s waited_ms=%llu", id_hex,
             (unsigned long long)(now > since ? now - since : 0));
}

/* Whether this node's intake check passed the job before. The job's terms
 * cannot have changed since: its id is the BLAKE2b hash of its canonical
 * spec (the image digest, a confidential request's digest), submitter and
 * nonce (veil_job_id, checked by veil_msg_job_submit_check), and the
 * submitter is the gossip message's signed author. Only its budget slot
 * travels outside the id, and the budget gate keeps its first verdict per
 * job anyway. A later change of the on-chain allow-list is still enforced
 * where it matters: the executor checks the image against the policy before
 * it pulls (daemon_exec.c). An unreadable mark is taken as not passed. */
static bool taken_in_before(veil_daemon *d, const char *id_hex)
{
    bool yes = false;
    veil_err err = {0};
    if (veil_store_job_taken_in(d->store, id_hex, &yes, &err) != 0)
        store_read_failed("job's intake mark", id_hex, 0, &err);
    return yes;
}

/* Hooks H3 and H2 on a job heard of (`prev`: the held entry its check came
 * from): true when it goes on to its rounds. A job whose check passed once
 * here skips them (taken_in_before): a re-announcement is never deferred
 * nor refused for a policy read failing later. Otherwise an unreadable
 * policy defers the job, a readable one judges it (and ends any wait), and
 * a pass is recorded in the store. */
static bool intake_gates(veil_daemon *d, const uint8_t *data, size_t len, const uint8_t *from,
                         size_t from_len, const struct veil_msg_job_submit *m,
                         const struct veil_job_spec *spec, const char *id_hex,
                         const char *submitter, const struct intake_deferred *prev)
{
    if (taken_in_before(d, id_hex)) {
        end_wait(d, id_hex, prev, "job deferred at intake: taken in before, not checked again");
        veil_log(VEIL_LOG_DEBUG, SUB, "job seen again: taken in before, not checked again",
                 "job=%.16s", id_hex);
        return true;
    }
    char why[512];
    veil_err err = {0};
    /* the node's cached copy */
    const veil_contract_policy *pol = veil_daemon_policy(d, &err);
    if (!pol) {
        defer_job(d, data, len, from, from_len, id_hex, spec->replicas, prev, err.msg);
        return false;
    }
    end_wait(d, id_hex, prev, "job deferred at intake: the policy is readable again");
    if (!image_gate(pol, spec, why, sizeof why) ||
        !budget_gate(d, pol, m, id_hex, submitter, why, sizeof why)) {
        refuse_job(d, id_hex, spec->replicas, why);
        return false;
    }
    if (veil_store_job_set_taken_in(d->store, id_hex, &err) != 0)
        veil_daemon_store_failed("job's intake mark (a re-announcement checks it again)", id_hex, 0,
                                 &err);
    return true;
}

static void job_submit(veil_daemon *d, const uint8_t *data, size_t len, const uint8_t *from,
                       size_t from_len, const struct intake_deferred *prev);

void veil_daemon_on_job_submit(veil_daemon *d, const uint8_t *data, size_t len, const uint8_t *from,
                               size_t from_len)
{
    job_submit(d, data, len, from, from_len, NULL);
}

/* Takes in one announcement; `prev` is the deferred entry it was held as
 * (NULL: heard now). */
static void job_submit(veil_daemon *d, const uint8_t *data, size_t len, const uint8_t *from,
                       size_t from_len, const struct intake_deferred *prev)
{
    struct veil_msg_job_submit m;
    struct veil_job_spec spec;
    veil_err err = {0};
    if (veil_msg_job_submit_decode(&m, data, len, &err) != 0 ||
        veil_msg_job_submit_check(&m, &spec, &err) != 0 ||
        (from && veil_msg_job_submit_author_check(&m, from, from_len, &err) != 0)) {
        veil_log(VEIL_LOG_WARN, SUB, "job submission refused", "error=\"%s\"", err.msg);
        return;
    }
    char id_hex[65], nonce_hex[2 * VEIL_JOB_NONCE_LEN + 1], submitter[VEIL_PEER_ID_MAX + 1];
    veil_hex_encode(id_hex, sizeof id_hex, m.job_id, 32);
    veil_hex_encode(nonce_hex, sizeof nonce_hex, m.nonce, VEIL_JOB_NONCE_LEN);
    memcpy(submitter, m.submitter.bytes, m.submitter.len);
    submitter[m.submitter.len] = '\0';
    char *json = malloc(m.spec_json_len + 1);
    if (!json)
        veil_log(VEIL_LOG_WARN, SUB, "job not stored", "job=%.16s error=\"out of memory\"", id_hex);
    if (json) {
        memcpy(json, m.spec_json, m.spec_json_len);
        json[m.spec_json_len] = '\0';
        if (veil_store_job_insert_ct(d->store, id_hex, spec.name, json, submitter, nonce_hex,
                                     spec.replicas, m.request_ciphertext, m.request_ciphertext_len,
                                     &err) != 0 &&
            err.code != VEIL_E_EXISTS)
            veil_log(VEIL_LOG_WARN, SUB, "job not stored", "job=%.16s error=\"%s\"", id_hex,
                     err.msg);
        free(json);
    }
    if (!intake_gates(d, data, len, from, from_len, &m, &spec, id_hex, submitter, prev))
        goto out;
    /* A job seen again (re-announced while a replica is undecided, e.g. to
     * a decryptor back from an outage) continues at its first undecided
     * replica; the replicas decided before it are marked decided here too. */
    uint32_t first = 0;
    for (; first < spec.replicas; first++) {
        enum veil_replica_state st;
        if (veil_store_replica_get_state(d->store, id_hex, first, &st, &err) != 0) {
            store_read_failed("replica's state", id_hex, first, &err); /* taken as undecided */
            break;
        }
        if (st == VEIL_REPLICA_PENDING || st == VEIL_REPLICA_SCHEDULING ||
            st == VEIL_REPLICA_AWAITING_DECRYPTION)
            break;
        mark_decided(d, m.job_id, id_hex, first, spec.replicas);
    }
    /* The submitter re-announces a job while it misses a decision this node
     * recorded (a decryptor that crashed right after signing, before its
     * assignment left the host): the decryptor publishes the stored, signed
     * assignments again (as often as the bounded re-announcements ask). */
    if (first > 0 && daemon_has_role(d, VEIL_ROLE_DECRYPTOR))
        republish_job_assignments(d, id_hex);
    struct round *r = first < spec.replicas ? veil_daemon_round(d, m.job_id, first, true) : NULL;
    if (r && d->test_split_job[0] && strcmp(spec.name, d->test_split_job) == 0)
        r->test_split = true;
    if (!r || (r->state != VEIL_ROUND_ST_NEW && r->state != VEIL_ROUND_ST_READY))
        goto out; /* planned already (or decided) */
    if (veil_daemon_round_req_from_spec(r, &spec, m.request_ciphertext, m.request_ciphertext_len) !=
            0 ||
        (r->state == VEIL_ROUND_ST_NEW && veil_daemon_round_move(d, r, VEIL_ROUND_ST_READY) != 0))
        goto out;
    veil_log(VEIL_LOG_INFO, SUB, "job received",
             "job=%.16s name=%s replicas=%u replica=%u confidential=%d", id_hex, spec.name,
             spec.replicas, first, spec.redacted);
    /* A node that just started does not know the live members yet (it would
     * choose itself as the only scheduler): its ready rounds are planned by
     * the rounds tick once the mesh had time to form. */
    if (veil_daemon_wall_ms() >= d->resume_at_ms)
        veil_daemon_plan_round(d, r);
out:
    veil_job_spec_free(&spec);
}

int veil_daemon_publish_job(veil_daemon *d, const char *job_hex, bool local)
{
    struct veil_store_job job;
    veil_err err = {0};
    if (veil_store_job_get(d->store, job_hex, &job, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "job to announce not read", "job=%.16s error=\"%s\"", job_hex,
                 err.msg);
        return -1;
    }
    int rc = 1; /* not this node's job */
    if (strcmp(job.submitter, d->self_text) == 0) {
        rc = -1;
        struct veil_msg_job_submit m = {0};
        size_t sl = strlen(job.submitter);
        /* the submitter as the API hashed it into the job id: peer ID text */
        if (sl <= VEIL_PEER_ID_MAX &&
            veil_hex_decode(m.job_id, 32, job.id, 64, false, NULL) == 32 &&
            veil_hex_decode(m.nonce, VEIL_JOB_NONCE_LEN, job.nonce, strlen(job.nonce), false,
                            NULL) == VEIL_JOB_NONCE_LEN) {
            memcpy(m.submitter.bytes, job.submitter, sl);
            m.submitter.len = (uint8_t)sl;
            m.spec_json = (const uint8_t *)job.spec_json;
            m.spec_json_len = strlen(job.spec_json);
            m.request_ciphertext = job.request_ct;
            m.request_ciphertext_len = job.request_ct_len;
            veil_buf msg;
            veil_buf_init(&msg);
            const veil_contract_policy *pol = veil_daemon_policy(d, &err);
            int slot = pol ? own_slot(d, pol, job.id, &m, &err) : -1;
            if (slot == 0 && veil_msg_job_submit_encode(&msg, &m, &err) == 0 &&
                veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) == 0) {
                veil_log(local ? VEIL_LOG_INFO : VEIL_LOG_DEBUG, SUB,
                         local ? "job announced" : "job re-announced", "job=%.16s", job_hex);
                rc = 0;
                if (local)
                    veil_daemon_on_job_submit(d, msg.data, msg.len, NULL, 0);
            } else {
                veil_log(VEIL_LOG_WARN, SUB, "job not announced", "job=%.16s error=\"%s\"", job_hex,
                         err.msg);
            }
            veil_buf_free(&msg);
        }
    }
    veil_store_job_free(&job);
    return rc;
}

/* One stored assignment, as the decryptor signed it, published again (every
 * receiver checks the signature; one that holds it already ignores it). */
static void republish_assignment(veil_daemon *d, json_t *row)
{
    veil_buf msg;
    veil_buf_init(&msg);
    if (veil_daemon_assignment_encode(row, &msg) == 0)
        veil_daemon_publish(d, &msg, "assignment (catch-up)");
    veil_buf_free(&msg);
}

/* The latest assignment of each replica of this node's own jobs (rows are in
 * the order they were recorded: a later row of a replica supersedes). */
static void republish_assignments(veil_daemon *d, json_t *own, const char *job_hex)
{
    veil_err err = {0};
    json_t *rows = veil_store_list_json(d->store, "assignments", &err);
    if (!rows) {
        veil_log(VEIL_LOG_WARN, SUB, "assignments not read", "job=%.16s error=\"%s\"", job_hex,
                 err.msg);
        return;
    }
    size_t n = json_array_size(rows);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        const char *job = json_string_value(json_object_get(r, "job_id"));
        json_int_t rep = json_integer_value(json_object_get(r, "replica"));
        bool later = false;
        for (size_t k = i + 1; k < n && !later; k++) {
            json_t *o = json_array_get(rows, k);
            const char *oj = json_string_value(json_object_get(o, "job_id"));
            later = oj && job && strcmp(oj, job) == 0 &&
                    json_integer_value(json_object_get(o, "replica")) == rep;
        }
        if (!later && job && json_object_get(own, job))
            republish_assignment(d, r);
    }
    json_decref(rows);
}

/* The latest stored assignments of one job, published again. */
static void republish_job_assignments(veil_daemon *d, const char *job_hex)
{
    json_t *one = json_object();
    if (!one || json_object_set_new(one, job_hex, json_true()) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignments not published again",
                 "job=%.16s error=\"out of memory\"", job_hex);
        json_decref(one);
        return;
    }
    republish_assignments(d, one, job_hex);
    json_decref(one);
}

struct pending_walk {
    struct id_set ids;
    int rc;
    veil_err err;
};

static int collect_pending(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    (void)replica;
    (void)node;
    struct pending_walk *w = ctx;
    w->rc = id_set_add(&w->ids, job_hex, &w->err);
    return w->rc != 0;
}

/* Announces each job with a pending replica that this node has not
 * announced yet (the API inserts jobs as pending; once announced, the
 * submitter's own round moves them on). The announced set keeps only the
 * jobs still pending, so it is as large as the backlog, never capped. */
/* Checks again the deferred jobs that are due. While the policy stays
 * unreadable, one check fails per tick and every other due job waits one
 * more step (a read can hang for the RPC timeout). */
static void retry_deferred(veil_daemon *d, uint64_t now_ms)
{
    struct intake_deferred e;
    while (intake_defer_pop_due(&d->deferred, now_ms, &e)) {
        job_submit(d, e.msg, e.len, e.from_len ? e.msg + e.len : NULL, e.from_len, &e);
        bool still = intake_defer_has(&d->deferred, e.job_hex);
        free(e.msg);
        if (still) {
            veil_err err = {0};
            if (intake_defer_postpone_due(&d->deferred, now_ms, d->store, &err) != 0)
                veil_log(VEIL_LOG_WARN, SUB,
                         "deferred jobs' failed checks not stored: a restart backs off less",
                         "error=\"%s\"", err.msg);
            return;
        }
    }
}

int intake_defer_hold_replicas(veil_store *s, const char *job_hex, uint32_t *back, veil_err *err)
{
    if (veil_store_replicas_hold(s, job_hex, back, err) != 0)
        return veil_err_wrap(err, "deferred job %.16s", job_hex);
    return 0;
}

/* The bound of new deferrals: jobs.intake_defer_max. */
static size_t configured_bound(const veil_daemon *d)
{
    int64_t max = veil_config_int(d->cfg, "jobs.intake_defer_max", INTAKE_DEFER_MAX_DEFAULT);
    if (max < 1)
        return 1;
    return max < INTAKE_DEFER_MAX_LIMIT ? (size_t)max : INTAKE_DEFER_MAX_LIMIT;
}

void veil_daemon_intake_reload(veil_daemon *d)
{
    uint64_t now = veil_daemon_wall_ms();
    struct intake_reload_counts c;
    veil_err err = {0};
    d->deferred.max = configured_bound(d);
    if (intake_defer_reload(&d->deferred, d->store, now, &c, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "deferred jobs not held again", "held=%zu error=\"%s\"",
                 c.held, err.msg);
    if (c.corrupt)
        veil_log(VEIL_LOG_WARN, SUB, "deferred jobs unreadable in the store: removed", "rows=%zu",
                 c.corrupt);
    if (c.rest)
        veil_log(VEIL_LOG_WARN, SUB, "deferred jobs not held again: stored while the reload read",
                 "rows=%zu", c.rest);
    if (c.past_bound)
        veil_log(VEIL_LOG_WARN, SUB,
                 "deferred jobs held again past the bound: new ones are refused until below it",
                 "held=%zu past=%zu bound=%zu key=jobs.intake_defer_max", d->deferred.n,
                 c.past_bound, intake_defer_bound(&d->deferred));
    else if (c.held)
        veil_log(VEIL_LOG_INFO, SUB, "deferred jobs held again", "held=%zu bound=%zu", c.held,
                 intake_defer_bound(&d->deferred));
    if (c.taken_in)
        veil_log(VEIL_LOG_INFO, SUB, "deferred jobs taken in before: not held again", "rows=%zu",
                 c.taken_in);
    for (size_t i = 0; i < d->deferred.n; i++) {
        const struct intake_deferred *e = &d->deferred.v[i];
        uint32_t back = 0;
        if (intake_defer_hold_replicas(d->store, e->job_hex, &back, &err) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "deferred job's replicas not held back",
                     "job=%.16s error=\"%s\"", e->job_hex, err.msg);
        veil_log(VEIL_LOG_INFO, SUB, "job deferred at intake: resumed after restart",
                 "job=%.16s waited_ms=%llu attempts=%u replicas_back_to_pending=%u limit_s=%u",
                 e->job_hex, (unsigned long long)(now > e->first_ms ? now - e->first_ms : 0),
                 e->attempts, back, INTAKE_DEFER_LIMIT_MS / 1000);
    }
}

void veil_daemon_intake_tick(veil_daemon *d, uint64_t now_ms)
{
    retry_deferred(d, now_ms);
    struct pending_walk w = {0};
    veil_err err = {0};
    if (veil_store_each_replica(d->store, VEIL_REPLICA_PENDING, collect_pending, &w, &err) != 0 ||
        w.rc != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "pending jobs not read", "error=\"%s\"",
                 w.rc ? w.err.msg : err.msg);
        id_set_free(&w.ids);
        return;
    }
    /* a job whose announcement failed (logged; e.g. the chain's policy,
     * which the outcome budget needs, unreadable) stays out of the set, so
     * the next tick tries again */
    size_t kept = 0;
    for (size_t i = 0; i < w.ids.n; i++)
        if (id_set_has(&d->announced, w.ids.v[i]) ||
            veil_daemon_publish_job(d, w.ids.v[i], true) >= 0)
            memmove(w.ids.v[kept++], w.ids.v[i], sizeof w.ids.v[i]);
    w.ids.n = kept;
    id_set_free(&d->announced);
    d->announced = w.ids;
}
