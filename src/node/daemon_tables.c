// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_tables.c - the tables veild keeps in memory (daemon_tables.h): the
 * round table with its lifecycle moves, pruning, admission and the rule
 * that makes a round place a job's replicas at once, the watched containers
 * and the announced job ids. Each grows with the load; nothing here is
 * capped, so a node with hundreds of containers or rounds keeps them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_tables.h"

/* ---- one round ---- */

void round_free_work(struct round *r)
{
    for (size_t i = 0; r->lists && i < r->n_cands; i++)
        free(r->lists[i]);
    free(r->lists);
    free(r->list_lens);
    free(r->cands);
    free(r->excluded);
    r->lists = NULL;
    r->list_lens = NULL;
    r->cands = NULL;
    r->excluded = NULL;
    r->n_cands = 0;
}

void round_free_outputs(struct round *r)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        free(r->outputs[i].data);
    memset(r->outputs, 0, sizeof r->outputs);
    r->n_outputs = 0;
}

static void round_destroy(const struct round_table *t, struct round *r)
{
    if (r->th && t->free_th)
        t->free_th(r->th);
    round_free_outputs(r);
    round_free_work(r);
    free(r->req_ct);
    veil_buf_free(&r->output);
    free(r);
}

int round_move(struct round *r, enum veil_round_state to, uint64_t now_ms, veil_err *err)
{
    if (!veil_round_transition_ok(r->state, to))
        return veil_err_set(err, VEIL_E_STATE, "round %.16s/%u cannot go from %s to %s", r->job_hex,
                            r->replica, veil_round_state_name(r->state), veil_round_state_name(to));
    r->state = to;
    r->changed_ms = now_ms;
    if (to == VEIL_ROUND_ST_PLANNED || veil_round_state_terminal(to)) {
        r->queued_seq = 0; /* admitted (or settled): out of the queue */
        r->queue_noted = false;
    }
    if (veil_round_state_terminal(to)) {
        /* what only an undecided round needs: outputs, digests, inputs */
        round_free_outputs(r);
        r->n_digests = 0;
        if (!r->busy) {
            round_free_work(r);
            veil_buf_free(&r->output);
            veil_buf_init(&r->output);
        }
    }
    return 0;
}

int round_set_req(struct round *r, const struct veil_sched_request *req, const uint8_t *ct,
                  size_t ct_len)
{
    uint8_t *copy = NULL;
    if (req->confidential) {
        if (!ct || ct_len == 0 || !(copy = malloc(ct_len)))
            return -1;
        memcpy(copy, ct, ct_len);
    }
    free(r->req_ct);
    r->req = *req;
    r->req_ct = copy;
    r->req_ct_len = copy ? ct_len : 0;
    r->have_req = true;
    return 0;
}

void round_reset_attempts(struct round *r)
{
    round_free_outputs(r);
    r->n_digests = 0;
    r->attempt = 0;
    r->epoch_min = 0;
    r->n_schedulers = 0;
    r->i_schedule = false;
    memset(&r->chosen, 0, sizeof r->chosen);
    r->reannounced = 0;
    r->reannounce_ms = 0;
}

enum round_announce_step round_reannounce_step(struct round *r, uint64_t now_ms, uint32_t max)
{
    if (now_ms < r->reannounce_ms)
        return ROUND_ANNOUNCE_WAIT;
    if (r->reannounced >= max) {
        r->reannounce_ms = UINT64_MAX;
        return ROUND_ANNOUNCE_STOP;
    }
    return ROUND_ANNOUNCE_SEND;
}

void round_reannounce_sent(struct round *r, uint64_t now_ms, uint64_t period_ms)
{
    r->reannounced++;
    uint64_t gap = period_ms << (r->reannounced < 3 ? r->reannounced : 3);
    if (gap > ROUND_REANNOUNCE_MAX_GAP * period_ms)
        gap = ROUND_REANNOUNCE_MAX_GAP * period_ms;
    r->reannounce_ms = now_ms + gap;
}

/* ---- the round table ---- */

struct round *round_table_get(const struct round_table *t, const uint8_t job_id[32],
                              uint32_t replica)
{
    for (size_t i = 0; i < t->n; i++) {
        struct round *r = t->v[i];
        if (r->replica == replica && memcmp(r->job_id, job_id, 32) == 0)
            return r;
    }
    return NULL;
}

struct round *round_table_add(struct round_table *t, const uint8_t job_id[32], uint32_t replica,
                              uint64_t now_ms)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct round **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    struct round *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->state = VEIL_ROUND_ST_NEW;
    r->changed_ms = now_ms;
    memcpy(r->job_id, job_id, 32);
    veil_hex_encode(r->job_hex, sizeof r->job_hex, job_id, 32);
    r->replica = replica;
    veil_buf_init(&r->output);
    t->v[t->n++] = r;
    return r;
}

bool round_table_job_settled(const struct round_table *t, const uint8_t job_id[32])
{
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->v[i]->job_id, job_id, 32) == 0 && !veil_round_state_terminal(t->v[i]->state))
            return false;
    return true;
}

static bool prunable(const struct round_table *t, const struct round *r, uint64_t now_ms,
                     uint64_t retention_ms)
{
    if (r->busy || r->holder_busy || now_ms < r->changed_ms + retention_ms)
        return false;
    if (r->state == VEIL_ROUND_ST_NEW)
        return true;
    return veil_round_state_terminal(r->state) && round_table_job_settled(t, r->job_id);
}

size_t round_table_prune(struct round_table *t, uint64_t now_ms, uint64_t retention_ms)
{
    /* decide first, then remove: settledness is a property of the whole job */
    bool *drop = calloc(t->n ? t->n : 1, sizeof *drop);
    if (!drop)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        drop[i] = prunable(t, t->v[i], now_ms, retention_ms);
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (drop[i]) {
            round_destroy(t, t->v[i]);
            dropped++;
        } else {
            t->v[kept++] = t->v[i];
        }
    }
    t->n = kept;
    free(drop);
    return dropped;
}

void round_table_free(struct round_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (!t->v[i]->busy && !t->v[i]->holder_busy)
            round_destroy(t, t->v[i]);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* ---- admission and pacing ---- */

bool round_is_shard(const struct round *r)
{
    return r->have_req && r->replicas == 0;
}

/* A sharded round and its shard rounds hold one slot: the parent's (its
 * shards are planned, retried and settled with it). */
static bool in_flight(const struct round *r, uint64_t now_ms, uint64_t stale_ms)
{
    if (round_is_shard(r))
        return false;
    bool planned = r->state == VEIL_ROUND_ST_PLANNED || r->state == VEIL_ROUND_ST_EVALUATING ||
                   r->state == VEIL_ROUND_ST_EVALUATED;
    return planned && (now_ms < r->planned_ms || now_ms - r->planned_ms < stale_ms);
}

size_t round_table_in_flight(const struct round_table *t, uint64_t now_ms, uint64_t stale_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += in_flight(t->v[i], now_ms, stale_ms);
    return n;
}

size_t round_table_queued(const struct round_table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->v[i]->state == VEIL_ROUND_ST_READY && t->v[i]->queued_seq != 0;
    return n;
}

bool round_table_admit(struct round_table *t, struct round *r, uint64_t now_ms, uint64_t stale_ms)
{
    if (r->state != VEIL_ROUND_ST_READY)
        return true; /* a retry re-plans a round already admitted */
    if (r->queued_seq == 0)
        r->queued_seq = ++t->queue_seq;
    if (round_table_in_flight(t, now_ms, stale_ms) >= ROUND_ADMIT_MAX)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        const struct round *q = t->v[i];
        if (q != r && q->state == VEIL_ROUND_ST_READY && q->have_req && q->queued_seq != 0 &&
            q->queued_seq < r->queued_seq)
            return false; /* first come, first served */
    }
    return true;
}

uint32_t round_batch_size(uint32_t replica, uint32_t replicas, bool any_placed)
{
    bool batch =
        replica == 0 && replicas > 1 && replicas <= VEIL_SCHED_MAX_REPLICAS && !any_placed;
    return batch ? replicas : 1;
}

void round_pace_sample(struct round_pace *p, uint64_t ms)
{
    p->eval_ms = p->samples == 0 ? ms : (3 * p->eval_ms + ms) / 4;
    if (p->samples < UINT32_MAX)
        p->samples++;
}

uint64_t round_pace_deadline_ms(const struct round_pace *p, uint64_t base_ms)
{
    uint64_t queue = 2 * (uint64_t)ROUND_ADMIT_MAX * p->eval_ms;
    return queue > base_ms ? queue : base_ms;
}

uint64_t round_retry_backoff_epochs(uint32_t attempt, uint64_t period_ms, uint64_t interval_ms)
{
    if (attempt == 0 || interval_ms == 0)
        return 0;
    uint64_t periods = 1u << (attempt - 1 < 2 ? attempt - 1 : 2); /* 1, 2, 4, 4, ... */
    return (periods * period_ms + interval_ms - 1) / interval_ms;
}

/* ---- catch-up passes ---- */

static void catchup_at(struct catchup_clock *c, uint64_t at)
{
    if (at < c->last_ms + CATCHUP_GAP_MS)
        at = c->last_ms + CATCHUP_GAP_MS;
    if (c->next_ms == 0 || at < c->next_ms)
        c->next_ms = at;
}

void catchup_soon(struct catchup_clock *c, uint64_t now_ms)
{
    catchup_at(c, now_ms + CATCHUP_SOON_MS);
}

void catchup_follow_up(struct catchup_clock *c, uint64_t now_ms)
{
    catchup_at(c, now_ms + CATCHUP_GAP_MS);
}

bool catchup_due(struct catchup_clock *c, uint64_t now_ms)
{
    if (c->next_ms == 0)
        c->next_ms = now_ms + CATCHUP_PERIOD_MS;
    if (now_ms < c->next_ms)
        return false;
    c->last_ms = now_ms;
    c->next_ms = now_ms + CATCHUP_PERIOD_MS;
    return true;
}

/* ---- watched containers ---- */

int watch_list_add(struct watch_list *l, const uint8_t job_id[32], const char *job_hex,
                   uint32_t replica, const char *name, veil_err *err)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct watched *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory watching %s", name);
        l->v = v;
        l->cap = cap;
    }
    struct watched *w = &l->v[l->n++];
    memset(w, 0, sizeof *w);
    memcpy(w->job_id, job_id, 32);
    snprintf(w->job_hex, sizeof w->job_hex, "%s", job_hex);
    w->replica = replica;
    snprintf(w->name, sizeof w->name, "%s", name);
    return 0;
}

void watch_list_remove(struct watch_list *l, size_t i)
{
    if (i < l->n)
        l->v[i] = l->v[--l->n];
}

void watch_list_free(struct watch_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- job ids ---- */

bool id_set_has(const struct id_set *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], id) == 0)
            return true;
    return false;
}

int id_set_add(struct id_set *s, const char *id, veil_err *err)
{
    if (id_set_has(s, id))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char(*v)[65] = realloc(s->v, cap * sizeof *v);
        if (!v)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    snprintf(s->v[s->n++], 65, "%s", id);
    return 0;
}

void id_set_clear(struct id_set *s)
{
    s->n = 0;
}

void id_set_free(struct id_set *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}
