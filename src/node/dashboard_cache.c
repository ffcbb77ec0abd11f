// SPDX-License-Identifier: Apache-2.0
/*
 * dashboard_cache.c - what the dashboard serves from memory (issue 19), so
 * that no request waits on the chain or on veild's loop:
 *  - a refresher thread of its own reads the chain views (the cluster's
 *    policy, this cluster's disputes, the inclusion checks the API queued)
 *    through veild's chain-view function and keeps the last value of each
 *    with the time it was read; the API's thread only copies them out, with
 *    their age and a `stale` marker when the last read failed or is old;
 *  - veild's snapshot of its members' telemetry sizes and its rounds, handed
 *    in on veild's loop thread (daemon_dash.c).
 * One mutex guards it all; it is never held across an RPC.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dashboard.h"

#define PERIOD_DEFAULT_MS       15000
#define VERIFY_FRESH_DEFAULT_MS 60000
#define VERIFY_ERROR_FRESH_MS   3000
#define VERIFY_MAX              256 /* cached inclusion checks */
#define DISPUTES_PER_REFRESH    64  /* new dispute ids read per refresh */

struct verify_entry {
    char job[65];
    int replica;
    bool queued, running;
    unsigned code;   /* 0: no answer yet */
    json_t *result;  /* the chain view's answer */
    uint64_t at_ms;  /* monotonic time of the answer */
    uint64_t use_ms; /* last asked (eviction) */
};

/* One chain value as last read. */
struct chain_value {
    json_t *value; /* NULL until read once */
    uint64_t ok_ms;
    bool failed;
    char error[256];
};

struct veil_dash_cache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    const veil_config *cfg;
    veil_store *store;
    veil_api_dash_chain_fn chain;
    struct veil_dash_cache_opts opts;
    struct chain_value policy, disputes;
    struct verify_entry verify[VERIFY_MAX];
    size_t n_verify;
    json_t *daemon; /* veild's snapshot */
    /* the refresher's own (no lock): disputes by id, the next id to read */
    json_t *dispute_rows;
    long next_dispute;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *reply_error(json_t *reply)
{
    const char *e = json_string_value(json_object_get(reply, "error"));
    return e ? e : "the chain view failed";
}

/* ---- the refresher -------------------------------------------------------- */

/* Records one read of a chain value (value stolen when the read succeeded). */
static void chain_value_set(struct veil_dash_cache *c, struct chain_value *v, unsigned code,
                            json_t *reply)
{
    pthread_mutex_lock(&c->mu);
    if (code == 200) {
        json_decref(v->value);
        v->value = reply;
        v->ok_ms = mono_ms();
        v->failed = false;
        v->error[0] = '\0';
        reply = NULL;
    } else {
        v->failed = true;
        snprintf(v->error, sizeof v->error, "%s", reply_error(reply));
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(reply);
}

static void refresh_policy(struct veil_dash_cache *c)
{
    json_t *reply = NULL;
    unsigned code = c->chain(c->cfg, c->store, "policy", NULL, 0, (void **)&reply);
    chain_value_set(c, &c->policy, code, reply);
}

/* Reads dispute `id` into dispute_rows: 1 read, 0 not this cluster's (or
 * unknown), -1 failed (*failed_reply keeps the answer). */
static int read_dispute(struct veil_dash_cache *c, long id, json_t **failed_reply,
                        unsigned *failed_code)
{
    json_t *reply = NULL;
    unsigned code = c->chain(c->cfg, c->store, "dispute", NULL, (int)id, (void **)&reply);
    if (code == 200) {
        char key[24];
        snprintf(key, sizeof key, "%ld", id);
        json_object_set_new(c->dispute_rows, key, reply);
        return 1;
    }
    if (code == 404) {
        json_decref(reply);
        return 0;
    }
    *failed_reply = reply;
    *failed_code = code;
    return -1;
}

/* The disputes: every open one read again, then new ids up to the
 * contract's count (at most DISPUTES_PER_REFRESH a time). */
static void refresh_disputes(struct veil_dash_cache *c)
{
    json_t *reply = NULL, *failed = NULL;
    unsigned code = c->chain(c->cfg, c->store, "dispute_count", NULL, 0, (void **)&reply),
             fcode = 0;
    if (code != 200) {
        chain_value_set(c, &c->disputes, code, reply);
        return;
    }
    long count = (long)json_integer_value(json_object_get(reply, "count"));
    json_decref(reply);
    const char *key;
    json_t *row;
    void *tmp;
    int rc = 0;
    json_object_foreach_safe(c->dispute_rows, tmp, key, row)
    {
        const char *st = json_string_value(json_object_get(row, "status"));
        if (rc >= 0 && st && strcmp(st, "open") == 0)
            rc = read_dispute(c, strtol(key, NULL, 10), &failed, &fcode);
    }
    for (int n = 0; rc >= 0 && c->next_dispute <= count && n < DISPUTES_PER_REFRESH; n++)
        if ((rc = read_dispute(c, c->next_dispute, &failed, &fcode)) >= 0)
            c->next_dispute++;
    if (rc < 0) {
        chain_value_set(c, &c->disputes, fcode, failed);
        return;
    }
    json_t *list = json_array();
    json_object_foreach(c->dispute_rows, key, row) json_array_append(list, row);
    chain_value_set(c, &c->disputes, list ? 200 : 500, list);
}

/* The next queued inclusion check, marked running; false when none. */
static bool take_verify(struct veil_dash_cache *c, char job[65], int *replica)
{
    for (size_t i = 0; i < c->n_verify; i++)
        if (c->verify[i].queued && !c->verify[i].running) {
            c->verify[i].running = true;
            memcpy(job, c->verify[i].job, 65);
            *replica = c->verify[i].replica;
            return true;
        }
    return false;
}

static struct verify_entry *find_verify(struct veil_dash_cache *c, const char *job, int replica)
{
    for (size_t i = 0; i < c->n_verify; i++)
        if (c->verify[i].replica == replica && strcmp(c->verify[i].job, job) == 0)
            return &c->verify[i];
    return NULL;
}

static void run_verify(struct veil_dash_cache *c, const char *job, int replica)
{
    json_t *reply = NULL;
    unsigned code = c->chain(c->cfg, c->store, "verify", job, replica, (void **)&reply);
    pthread_mutex_lock(&c->mu);
    struct verify_entry *e = find_verify(c, job, replica);
    if (e) {
        json_decref(e->result);
        e->result = reply;
        e->code = code;
        e->at_ms = mono_ms();
        e->queued = e->running = false;
        reply = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(reply);
}

static void wait_until(struct veil_dash_cache *c, uint64_t due_ms)
{
    uint64_t now = mono_ms();
    if (now >= due_ms)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (due_ms - now) % 1000 * 1000000;
    ts.tv_sec += (time_t)((due_ms - now) / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

static void *refresher(void *arg)
{
    struct veil_dash_cache *c = arg;
    uint64_t due = 0;
    char job[65];
    int replica = 0;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (mono_ms() >= due) {
            pthread_mutex_unlock(&c->mu);
            refresh_policy(c);
            refresh_disputes(c);
            pthread_mutex_lock(&c->mu);
            due = mono_ms() + c->opts.period_ms;
        } else if (take_verify(c, job, &replica)) {
            pthread_mutex_unlock(&c->mu);
            run_verify(c, job, replica);
            pthread_mutex_lock(&c->mu);
        } else {
            wait_until(c, due);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- start / stop ----------------------------------------------------------- */

static int init_sync(struct veil_dash_cache *c, veil_err *err)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "dashboard cache: no mutex");
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&c->cv, &ca) != 0) {
        pthread_mutex_destroy(&c->mu);
        return veil_err_set(err, VEIL_E_NOMEM, "dashboard cache: no condition variable");
    }
    pthread_condattr_destroy(&ca);
    return 0;
}

int veil_dash_cache_start(struct veil_dash_cache **out, const veil_config *node_cfg,
                          veil_store *store, veil_api_dash_chain_fn chain,
                          const struct veil_dash_cache_opts *opts, veil_err *err)
{
    struct veil_dash_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->dispute_rows = json_object())) {
        free(c);
        return veil_err_set(err, VEIL_E_NOMEM, "dashboard cache: out of memory");
    }
    c->cfg = node_cfg;
    c->store = store;
    c->chain = node_cfg ? chain : NULL;
    c->next_dispute = 1;
    if (opts)
        c->opts = *opts;
    if (!c->opts.period_ms)
        c->opts.period_ms = PERIOD_DEFAULT_MS;
    if (!c->opts.verify_fresh_ms)
        c->opts.verify_fresh_ms = VERIFY_FRESH_DEFAULT_MS;
    if (init_sync(c, err) != 0) {
        json_decref(c->dispute_rows);
        free(c);
        return -1;
    }
    if (c->chain && pthread_create(&c->thread, NULL, refresher, c) != 0) {
        veil_dash_cache_stop(c);
        return veil_err_set(err, VEIL_E_IO, "dashboard cache: cannot start its refresher thread");
    }
    c->running = c->chain != NULL;
    *out = c;
    return 0;
}

void veil_dash_cache_stop(struct veil_dash_cache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->running)
        pthread_join(c->thread, NULL);
    for (size_t i = 0; i < c->n_verify; i++)
        json_decref(c->verify[i].result);
    json_decref(c->policy.value);
    json_decref(c->disputes.value);
    json_decref(c->dispute_rows);
    json_decref(c->daemon);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- what the API's thread reads -------------------------------------------- */

/* Age and staleness of `v` (under the lock). */
static void set_age(const struct veil_dash_cache *c, const struct chain_value *v, json_t *out,
                    const char *prefix)
{
    char k[48];
    uint64_t now = mono_ms();
    bool stale = !v->value || v->failed || now - v->ok_ms > 3 * c->opts.period_ms;
    snprintf(k, sizeof k, "%sage_ms", prefix);
    json_object_set_new(out, k,
                        v->value ? json_integer((json_int_t)(now - v->ok_ms)) : json_null());
    snprintf(k, sizeof k, "%sstale", prefix);
    json_object_set_new(out, k, json_boolean(stale));
    snprintf(k, sizeof k, "%serror", prefix);
    if (v->failed || !v->value)
        json_object_set_new(out, k,
                            json_string(v->failed  ? v->error
                                        : c->chain ? "not read from the chain yet"
                                                   : "this node's API has no chain "
                                                     "views"));
}

void veil_dash_cache_policy(struct veil_dash_cache *c, void *out)
{
    if (!c) {
        json_object_set_new(out, "policy", json_null());
        json_object_set_new(out, "policy_error", json_string("this node's API has no chain views"));
        return;
    }
    pthread_mutex_lock(&c->mu);
    json_object_set_new(out, "policy",
                        c->policy.value ? json_deep_copy(c->policy.value) : json_null());
    set_age(c, &c->policy, out, "policy_");
    pthread_mutex_unlock(&c->mu);
}

void *veil_dash_cache_disputes(struct veil_dash_cache *c)
{
    json_t *out = json_object();
    if (!out || !c) {
        if (out)
            json_object_set_new(out, "error", json_string("this node's API has no chain views"));
        return out;
    }
    pthread_mutex_lock(&c->mu);
    json_object_set_new(out, "disputes",
                        c->disputes.value ? json_deep_copy(c->disputes.value) : json_array());
    set_age(c, &c->disputes, out, "");
    pthread_mutex_unlock(&c->mu);
    return out;
}

/* A slot for a new check: a free one, else the least recently asked of
 * those not waiting for the refresher; NULL when every slot waits. */
static struct verify_entry *verify_slot(struct veil_dash_cache *c)
{
    if (c->n_verify < VERIFY_MAX)
        return &c->verify[c->n_verify++];
    struct verify_entry *old = NULL;
    for (size_t i = 0; i < c->n_verify; i++)
        if (!c->verify[i].queued && (!old || c->verify[i].use_ms < old->use_ms))
            old = &c->verify[i];
    if (old) {
        json_decref(old->result);
        memset(old, 0, sizeof *old);
    }
    return old;
}

static unsigned verify_answer(const struct verify_entry *e, uint64_t now, void **reply)
{
    json_t *r = json_deep_copy(e->result);
    if (!r)
        r = json_pack("{s:s}", "error", "the chain view gave no answer");
    json_object_set_new(r, "age_ms", json_integer((json_int_t)(now - e->at_ms)));
    json_object_set_new(r, "stale", json_boolean(e->queued));
    *reply = r;
    return e->code;
}

unsigned veil_dash_cache_verify(struct veil_dash_cache *c, const char *job_hex, int replica,
                                void **reply)
{
    if (!c || !c->chain) {
        *reply = json_pack("{s:s}", "error", "this node's API has no chain views");
        return 503;
    }
    pthread_mutex_lock(&c->mu);
    uint64_t now = mono_ms();
    struct verify_entry *e = find_verify(c, job_hex, replica);
    if (!e && (e = verify_slot(c)) != NULL) {
        snprintf(e->job, sizeof e->job, "%s", job_hex);
        e->replica = replica;
    }
    unsigned code;
    if (!e) {
        *reply = json_pack("{s:s}", "error", "too many inclusion checks waiting for the chain");
        code = 503;
    } else {
        e->use_ms = now;
        uint64_t fresh = e->code == 200 ? c->opts.verify_fresh_ms : VERIFY_ERROR_FRESH_MS;
        if (!e->code || now - e->at_ms > fresh) {
            e->queued = true;
            pthread_cond_signal(&c->cv);
        }
        code = e->code ? verify_answer(e, now, reply) : 202;
        if (code == 202)
            *reply = json_pack("{s:b, s:s, s:i}", "pending", 1, "job", job_hex, "replica", replica);
    }
    pthread_mutex_unlock(&c->mu);
    return code;
}

/* ---- veild's snapshot -------------------------------------------------------- */

void veil_dash_cache_set_daemon_view(struct veil_dash_cache *c, void *view)
{
    if (!c) {
        json_decref(view);
        return;
    }
    pthread_mutex_lock(&c->mu);
    json_t *old = c->daemon;
    c->daemon = view;
    pthread_mutex_unlock(&c->mu);
    json_decref(old);
}

void veil_dash_cache_annotate_nodes(struct veil_dash_cache *c, void *rows)
{
    size_t i;
    json_t *row;
    if (c)
        pthread_mutex_lock(&c->mu);
    json_t *members = c ? json_object_get(c->daemon, "members") : NULL;
    json_array_foreach((json_t *)rows, i, row)
    {
        json_t *m = json_object_get(members, json_string_value(json_object_get(row, "peer_id")));
        json_t *bytes = json_object_get(m, "bytes"), *epoch = json_object_get(m, "epoch");
        json_object_set_new(row, "last_telemetry_bytes", bytes ? json_copy(bytes) : json_null());
        json_object_set_new(row, "last_telemetry_bytes_epoch",
                            epoch ? json_copy(epoch) : json_null());
    }
    if (c)
        pthread_mutex_unlock(&c->mu);
}

void *veil_dash_cache_job_rounds(struct veil_dash_cache *c, const char *job_hex)
{
    if (!c)
        return json_array();
    pthread_mutex_lock(&c->mu);
    json_t *rounds = json_object_get(json_object_get(c->daemon, "rounds"), job_hex);
    json_t *out = rounds ? json_deep_copy(rounds) : json_array();
    pthread_mutex_unlock(&c->mu);
    return out;
}

void *veil_dash_cache_daemon_rounds(struct veil_dash_cache *c)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&c->mu);
    json_t *rounds = json_object_get(c->daemon, "rounds");
    json_t *out = rounds ? json_deep_copy(rounds) : NULL;
    pthread_mutex_unlock(&c->mu);
    return out;
}
