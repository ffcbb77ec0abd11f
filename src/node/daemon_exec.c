// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_exec.c - the executor role: a replica assigned to this node is
 * checked against the on-chain image policy, pulled and started through
 * veil_runtime on the worker pool (once: the store's UNIQUE (job, replica)
 * container record), and watched until it ends (a growable list, rebuilt
 * from the runtime after a restart); container status goes to the topic and
 * every node records the replica's state from it; the end of a replica is
 * reported again to a node still scheduling it (chaos s7), and a node that a
 * later assignment names for a replica that ended elsewhere adopts and
 * reports that end instead of running it again (issue 18, session 9; a
 * report other than an end for a replica that ended is ignored). A copy
 * stopped because its replica moved away is recorded `stopped`, and a later
 * assignment that chooses this node again starts the replica anew (chaos
 * s8: the UNIQUE record had kept it from ever starting again). While the
 * image policy cannot be read (the chain RPC down, a first read in flight)
 * a start waits, retried every executor tick, instead of refusing the image
 * (chaos s8: two jobs failed for a transient read failure). A start that
 * fails is tried again with backoff before the replica is failed, and one
 * cut short by a stop of veild is tried again at the next start (chaos s10:
 * a long replica failed for good when its node's disk was full for a
 * moment).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include <veil/runtime.h>

#include "daemon_core.h"
#include "daemon_overlay.h"
#include "daemon_policy.h"
#include "daemon_sync.h"

/* One replica to start on this node (pulled and run on the worker pool: a
 * pull is network I/O and must not stall SWIM and gossip). */
struct exec_job {
    uv_work_t work;
    veil_daemon *d;
    uint8_t job_id[32];
    char job_hex[65];
    uint32_t replica;
    char name[128];
    struct veil_job_spec spec;
    bool have_spec;
    bool again; /* chosen again: a copy of an earlier binding may be left */
    bool image_allowed;
    int rc;
    veil_err err;
    struct veil_container_info info;
    /* on the overlay (daemon_overlay.c): its own network namespace, the
     * node's resolver, its name */
    bool on_overlay;
    struct veil_ctnet net;
    char resolv[4200];
    char ov_name[256];
};

#define OVERLAY_ENV 3 /* VEIL_NAME, VEIL_REPLICA, VEIL_JOB */

/* The overlay's part of a start: the namespace, the resolver, the names. */
static int overlay_prepare(struct exec_job *e, struct veil_run_request *req,
                           struct veil_mount_spec *resolv, char **env, size_t *n_env)
{
    if (!e->on_overlay)
        return 0;
    if (veil_ctnet_create(&e->net, &e->err) != 0)
        return -1;
    resolv->source = e->resolv;
    resolv->destination = "/etc/resolv.conf";
    resolv->readonly = true;
    req->mounts = resolv;
    req->n_mounts = 1;
    size_t l = strlen(e->ov_name) + 64;
    char *vars[OVERLAY_ENV] = {malloc(l), malloc(32), malloc(VEIL_JOB_NAME_MAX + 16)};
    for (size_t i = 0; i < OVERLAY_ENV; i++)
        if (!vars[i]) {
            for (size_t j = 0; j < OVERLAY_ENV; j++)
                free(vars[j]);
            return veil_err_set(&e->err, VEIL_E_NOMEM, "out of memory");
        }
    snprintf(vars[0], l, "VEIL_NAME=%s", e->ov_name);
    snprintf(vars[1], 32, "VEIL_REPLICA=%u", e->replica);
    snprintf(vars[2], VEIL_JOB_NAME_MAX + 16, "VEIL_JOB=%s", e->spec.name);
    for (size_t i = 0; i < OVERLAY_ENV; i++)
        env[(*n_env)++] = vars[i];
    return 0;
}

/* Records where a container and its replica are; a failed write is logged
 * (the state on gossip still tells the other nodes). */
static void record_outcome(veil_daemon *d, const char *name, const char *job_hex, uint32_t replica,
                           const char *ct_state, int exit_code, enum veil_replica_state to)
{
    veil_err err = {0};
    if (veil_store_container_set_state(d->store, name, ct_state, exit_code, &err) != 0)
        veil_daemon_store_failed("container state", job_hex, replica, &err);
    if (veil_store_replica_set_state(d->store, job_hex, replica, to, NULL, &err) != 0)
        veil_daemon_store_failed("replica state", job_hex, replica, &err);
}

static void publish_container_status(veil_daemon *d, const uint8_t job_id[32], uint32_t replica,
                                     enum veil_container_state state, int exit_code,
                                     const char *container_id)
{
    if (!d->gs)
        return; /* no gossip host (a daemon without network, as in tests) */
    struct veil_msg_container_status m = {0};
    memcpy(m.job_id, job_id, 32);
    m.replica = replica;
    veil_daemon_to_peer(&m.node, &d->self);
    m.state = (uint8_t)state;
    m.exit_code = exit_code;
    m.time_ms = veil_daemon_wall_ms();
    snprintf(m.container_id, sizeof m.container_id, "%.64s", container_id);
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_container_status_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "container status not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
}

/* A start anew: the stopped copy of the earlier binding still holds the
 * name (a stop leaves the container's record in the runtime). */
static int remove_leftover(const struct veil_runtime_opts *o, const char *name, veil_err *err)
{
    struct veil_container_info info;
    veil_err probe = {0};
    if (veil_container_inspect(o, name, &info, &probe) != 0)
        return 0; /* none left */
    return veil_container_remove(o, name, true, err);
}

static void exec_work(uv_work_t *w)
{
    struct exec_job *e = w->data;
    veil_daemon *d = e->d;
    struct veil_runtime_config rc;
    if (veil_runtime_config_load(d->cfg, NULL, &rc, &e->err) != 0 ||
        (e->again && remove_leftover(&rc.runtime, e->name, &e->err) != 0)) {
        e->rc = -1;
        return;
    }
    rc.registry.quiet = true;
    struct veil_image_ref ref;
    struct veil_image_info img = {0};
    if (veil_image_ref_parse(e->spec.image, &ref, &e->err) != 0 ||
        veil_image_pull(rc.data_dir, &ref, &rc.registry, &img, &e->err) != 0) {
        e->rc = -1;
        return;
    }
    /* the command and args of the spec, the environment as K=V, the limits */
    size_t n_args = e->spec.n_command + e->spec.n_args;
    char **args = calloc(n_args + 1, sizeof *args);
    char **env = calloc(e->spec.n_env + OVERLAY_ENV + 1, sizeof *env);
    size_t n_env = e->spec.n_env;
    char netns_path[80];
    struct veil_mount_spec resolv = {0};
    e->rc = args && env ? 0 : veil_err_set(&e->err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; e->rc == 0 && i < e->spec.n_command; i++)
        args[i] = e->spec.command[i];
    for (size_t i = 0; e->rc == 0 && i < e->spec.n_args; i++)
        args[e->spec.n_command + i] = e->spec.args[i];
    for (size_t i = 0; e->rc == 0 && i < e->spec.n_env; i++) {
        size_t l = strlen(e->spec.env[i].name) + strlen(e->spec.env[i].value) + 2;
        env[i] = malloc(l);
        if (!env[i]) {
            e->rc = veil_err_set(&e->err, VEIL_E_NOMEM, "out of memory");
            break;
        }
        snprintf(env[i], l, "%s=%s", e->spec.env[i].name, e->spec.env[i].value);
    }
    if (e->rc == 0) {
        struct veil_run_request req = {0};
        req.name = e->name;
        req.image = img.name;
        req.args = n_args ? args : NULL;
        req.n_args = n_args;
        snprintf(netns_path, sizeof netns_path, "/run/netns/%s", e->net.netns);
        req.netns_path = e->on_overlay ? netns_path : NULL;
        e->rc = overlay_prepare(e, &req, &resolv, env, &n_env);
        req.env = env;
        req.n_env = n_env;
        req.memory_bytes = e->spec.memory_bytes;
        req.cpus = (double)e->spec.cpu_millis / 1000.0;
        req.pids_limit = 256;
        if (e->rc == 0)
            e->rc = veil_container_run(&rc.runtime, &req, false, &e->info, NULL, &e->err);
        if (e->rc != 0 && e->on_overlay)
            veil_ctnet_destroy(&e->net);
    }
    for (size_t i = 0; env && i < n_env; i++)
        free(env[i]);
    free(env);
    free(args);
    veil_image_info_free(&img);
}

/* A start that failed here is tried again before the replica is failed
 * for good (chaos s10: long18's start on the full-disk node failed just
 * after its disk was filled, and the long replica ended `failed` on every
 * node): EXEC_START_TRIES tries in all, the next one no sooner than
 * 5 s, 10 s, 20 s, 40 s after a failure (the executor tick, every 5 s, makes
 * it). A replica that moves away meanwhile drops its entry
 * (veil_daemon_exec_start_waiting); the table is in memory, so a restart
 * gives a failing start a new series of tries. */
#define EXEC_START_TRIES    5
#define EXEC_RETRY_FIRST_MS 5000

static struct start_retry *retry_find(veil_daemon *d, const char *job_hex, uint32_t replica)
{
    struct start_retries *t = &d->start_retries;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].replica == replica && strcmp(t->v[i].job_hex, job_hex) == 0)
            return &t->v[i];
    return NULL;
}

static void retry_forget(veil_daemon *d, const char *job_hex, uint32_t replica)
{
    struct start_retries *t = &d->start_retries;
    struct start_retry *r = retry_find(d, job_hex, replica);
    if (r)
        *r = t->v[--t->n];
}

/* Counts a failed start; returns the delay before its next try, or 0 when
 * it has had its EXEC_START_TRIES (or the table is full): failed for good. */
static uint64_t retry_after_failure(veil_daemon *d, const char *job_hex, uint32_t replica,
                                    uint64_t now, unsigned *failures)
{
    struct start_retries *t = &d->start_retries;
    struct start_retry *r = retry_find(d, job_hex, replica);
    if (!r && t->n < START_RETRY_MAX) {
        r = &t->v[t->n++];
        memset(r, 0, sizeof *r);
        snprintf(r->job_hex, sizeof r->job_hex, "%s", job_hex);
        r->replica = replica;
    }
    *failures = r ? ++r->failures : 1;
    if (!r || r->failures >= EXEC_START_TRIES) {
        retry_forget(d, job_hex, replica);
        return 0;
    }
    uint64_t delay = (uint64_t)EXEC_RETRY_FIRST_MS << (r->failures - 1);
    r->next_ms = now + delay;
    return delay;
}

/* A failed start whose next try is not due yet. */
static bool retry_waits(veil_daemon *d, const char *job_hex, uint32_t replica)
{
    const struct start_retry *r = retry_find(d, job_hex, replica);
    return r && uv_now(d->loop) < r->next_ms;
}

/* The failure of a start: tried again later, or failed for good. */
static void start_failed(veil_daemon *d, struct exec_job *e, int status)
{
    const char *why = e->rc ? e->err.msg : "cancelled";
    unsigned failures = 0;
    uint64_t delay = status == 0 ? retry_after_failure(d, e->job_hex, e->replica,
                                                        uv_now(d->loop), &failures)
                                 : 0;
    if (delay) {
        veil_err err = {0};
        veil_log(VEIL_LOG_WARN, SUB, "container failed to start: tried again",
                 "job=%.16s replica=%u try=%u of=%u retry_in_ms=%llu error=\"%s\"", e->job_hex,
                 e->replica, failures, EXEC_START_TRIES, (unsigned long long)delay, why);
        /* the replica stays assigned here; the record lets the retry claim it */
        if (veil_store_container_set_state(d->store, e->name, "start_failed", -1, &err) != 0)
            veil_daemon_store_failed("container state", e->job_hex, e->replica, &err);
        return;
    }
    veil_log(VEIL_LOG_WARN, SUB, "container failed to start",
             "job=%.16s replica=%u tries=%u error=\"%s\"", e->job_hex, e->replica,
             failures ? failures : 1, why);
    record_outcome(d, e->name, e->job_hex, e->replica, "failed", -1, VEIL_REPLICA_FAILED);
    publish_container_status(d, e->job_id, e->replica, VEIL_CONTAINER_FAILED, -1, e->name);
}

static void exec_after(uv_work_t *w, int status)
{
    struct exec_job *e = w->data;
    veil_daemon *d = e->d;
    veil_err err = {0};
    d->works--;
    if (d->stopping) {
        veil_job_spec_free(&e->spec);
        free(e);
        veil_daemon_maybe_free(d);
        return;
    }
    if (e->on_overlay)
        veil_daemon_overlay_started(d, e->job_hex, e->replica, status == 0 && e->rc == 0);
    if (status != 0 || e->rc != 0) {
        start_failed(d, e, status);
    } else {
        retry_forget(d, e->job_hex, e->replica);
        veil_log(VEIL_LOG_INFO, SUB, "container running", "job=%.16s replica=%u container=%s",
                 e->job_hex, e->replica, e->name);
        record_outcome(d, e->name, e->job_hex, e->replica, "running", 0, VEIL_REPLICA_RUNNING);
        publish_container_status(d, e->job_id, e->replica, VEIL_CONTAINER_RUNNING, 0, e->name);
        if (watch_list_add(&d->watched, e->job_id, e->job_hex, e->replica, e->name, &err) != 0)
            veil_log(VEIL_LOG_ERROR, SUB, "container not watched: its exit goes unseen",
                     "container=%s error=\"%s\"", e->name, err.msg);
    }
    if (e->have_spec)
        veil_job_spec_free(&e->spec);
    free(e);
}

/* Polls the containers this node started; reports those that ended. */
void veil_daemon_exec_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    /* Container supervisors are forked from veild (the runtime's detached
     * mode) and exit with their container: reap them. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    veil_daemon_exec_start_waiting(d);
    struct veil_runtime_config rc;
    veil_err err = {0};
    if (d->watched.n == 0)
        return;
    if (veil_runtime_config_load(d->cfg, NULL, &rc, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "containers not watched", "error=\"%s\"", err.msg);
        return;
    }
    for (size_t i = 0; i < d->watched.n;) {
        struct watched *w = &d->watched.v[i];
        struct veil_container_info info;
        if (veil_container_inspect(&rc.runtime, w->name, &info, &err) != 0 ||
            (info.status != VEIL_CT_EXITED && info.status != VEIL_CT_STOPPED)) {
            i++;
            continue;
        }
        bool ok = info.exit_code == 0;
        veil_log(VEIL_LOG_INFO, SUB, "container exited", "job=%.16s replica=%u exit_code=%d",
                 w->job_hex, w->replica, info.exit_code);
        record_outcome(d, w->name, w->job_hex, w->replica, ok ? "exited" : "failed", info.exit_code,
                       ok ? VEIL_REPLICA_EXITED : VEIL_REPLICA_FAILED);
        publish_container_status(d, w->job_id, w->replica,
                                 ok ? VEIL_CONTAINER_EXITED : VEIL_CONTAINER_FAILED, info.exit_code,
                                 w->name);
        veil_daemon_overlay_release(d, w->job_hex, w->replica);
        watch_list_remove(&d->watched, i);
    }
}

void veil_daemon_report_containers(veil_daemon *d)
{
    for (size_t i = 0; i < d->watched.n; i++) {
        const struct watched *w = &d->watched.v[i];
        publish_container_status(d, w->job_id, w->replica, VEIL_CONTAINER_RUNNING, 0, w->name);
    }
}

/* The end this node's own container record shows for the replica: true
 * with *failed and *code when the copy that ran here exited or failed (a
 * replica failed here by a final retry, never started here, has no such
 * record and is no end of this node's to report). */
static bool own_end(veil_daemon *d, const char *job_hex, uint32_t replica, bool *failed, int *code)
{
    veil_err err = {0};
    bool ended = false;
    json_t *job = veil_store_job_json(d->store, job_hex, &err), *c;
    size_t i;
    json_array_foreach(json_object_get(job, "containers"), i, c)
    {
        const char *st = json_string_value(json_object_get(c, "state"));
        if (json_integer_value(json_object_get(c, "replica")) != (json_int_t)replica || !st ||
            (strcmp(st, "exited") != 0 && strcmp(st, "failed") != 0))
            continue;
        ended = true;
        *failed = strcmp(st, "failed") == 0;
        *code = (int)json_integer_value(json_object_get(c, "exit_code"));
    }
    json_decref(job);
    return ended;
}

/* Issue 18 (rounds nobody can end): a FAILED end is reported again like an
 * exit, under the same rate limit; a failed replica's round ends wherever
 * it is still scheduled (daemon_rounds.c replica_placed). */
bool veil_daemon_final_report_due(veil_daemon *d, struct round *r, uint64_t now_ms)
{
    enum veil_replica_state st;
    char bound[96];
    veil_err err = {0};
    if (!daemon_has_role(d, VEIL_ROLE_EXECUTOR) || now_ms < r->final_report_ms ||
        veil_store_replica_get_state(d->store, r->job_hex, r->replica, &st, &err) != 0 ||
        (st != VEIL_REPLICA_EXITED && st != VEIL_REPLICA_FAILED) ||
        veil_store_replica_get_node(d->store, r->job_hex, r->replica, bound, sizeof bound, &err) !=
            0 ||
        strcmp(bound, d->self_text) != 0)
        return false; /* not a replica that ended here (a shard id is no job) */
    bool failed = false;
    int code = 0;
    if (st == VEIL_REPLICA_FAILED && !own_end(d, r->job_hex, r->replica, &failed, &code))
        return false; /* failed by the deciding node, not by a copy that ran here */
    r->final_report_ms = now_ms + veil_daemon_resend_period_ms(d);
    return true;
}

void veil_daemon_report_final(veil_daemon *d, struct round *r, uint64_t now_ms)
{
    if (!veil_daemon_final_report_due(d, r, now_ms))
        return;
    char name[128];
    snprintf(name, sizeof name, "veil-%.16s-%u", r->job_hex, r->replica);
    /* the replica's state says which end (due() read it just now); the
     * container record gives the code (0 if there is none) */
    enum veil_replica_state st = VEIL_REPLICA_EXITED;
    veil_err err = {0};
    bool failed = false, ignored;
    int code = 0;
    if (veil_store_replica_get_state(d->store, r->job_hex, r->replica, &st, &err) != 0)
        return;
    if (!own_end(d, r->job_hex, r->replica, &ignored, &code))
        code = 0;
    failed = st == VEIL_REPLICA_FAILED;
    veil_log(VEIL_LOG_INFO, SUB, "replica's end reported again: a node still schedules it",
             "job=%.16s replica=%u state=%s exit_code=%d", r->job_hex, r->replica,
             failed ? "failed" : "exited", code);
    publish_container_status(d, r->job_id, r->replica,
                             failed ? VEIL_CONTAINER_FAILED : VEIL_CONTAINER_EXITED, code, name);
}

/* Issue 18 (session 9): a later assignment named this node for a replica
 * whose end it heard from the replica's earlier runner (declared dead after
 * the replica ended, before every node heard the end). This node adopts the
 * end instead of running the replica again, and reports it as its runner
 * would, so that the nodes holding the replica assigned to it converge on
 * exited. No container record is made for it (none ran here): the re-sends
 * of veil_daemon_report_final need none for an exit (code 0), and a record
 * `exited` would claim a run that never was. */
void veil_daemon_report_adopted_end(veil_daemon *d, struct round *r, uint64_t now_ms)
{
    char name[128];
    snprintf(name, sizeof name, "veil-%.16s-%u", r->job_hex, r->replica);
    r->final_report_ms = now_ms + veil_daemon_resend_period_ms(d); /* this period's report */
    veil_log(VEIL_LOG_INFO, SUB, "replica's end adopted: reported as this node's, not run again",
             "job=%.16s replica=%u", r->job_hex, r->replica);
    publish_container_status(d, r->job_id, r->replica, VEIL_CONTAINER_EXITED, 0, name);
}

/* A copy to stop on the worker pool (a stop waits for the container). */
struct stop_job {
    uv_work_t work;
    veil_daemon *d;
    char name[128];
    int rc;
    veil_err err;
};

static void stop_work(uv_work_t *w)
{
    struct stop_job *t = w->data;
    struct veil_runtime_config rc;
    t->rc = veil_runtime_config_load(t->d->cfg, NULL, &rc, &t->err);
    if (t->rc == 0)
        t->rc = veil_container_stop(&rc.runtime, t->name, 3000, &t->err);
}

static void stop_after(uv_work_t *w, int status)
{
    struct stop_job *t = w->data;
    veil_daemon *d = t->d;
    d->works--;
    if (status != 0 || t->rc != 0)
        veil_log(VEIL_LOG_WARN, SUB, "container of a moved replica not stopped",
                 "container=%s error=\"%s\"", t->name, t->rc ? t->err.msg : "cancelled");
    else
        veil_log(VEIL_LOG_INFO, SUB, "container of a moved replica stopped", "container=%s",
                 t->name);
    free(t);
    if (d->stopping)
        veil_daemon_maybe_free(d);
}

static void stop_container(veil_daemon *d, const char *name)
{
    struct stop_job *t = calloc(1, sizeof *t);
    if (!t) {
        veil_log(VEIL_LOG_ERROR, SUB, "container of a moved replica not stopped",
                 "container=%s error=\"out of memory\"", name);
        return;
    }
    t->d = d;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->work.data = t;
    if (uv_queue_work(d->loop, &t->work, stop_work, stop_after) != 0) {
        veil_log(VEIL_LOG_ERROR, SUB, "container of a moved replica not stopped",
                 "container=%s error=\"not queued\"", name);
        free(t);
        return;
    }
    d->works++;
}

/* The container record of a copy this node stops: no longer running (the
 * replica's own state follows its new node). */
static void record_stopped(veil_daemon *d, const char *name, const char *job_hex, uint32_t replica)
{
    veil_err err = {0};
    if (veil_store_container_set_state(d->store, name, "stopped", -1, &err) != 0)
        veil_daemon_store_failed("container state", job_hex, replica, &err);
}

/* A newer assignment bound a replica to another node: the copy this node
 * watches is no longer its to run. It is dropped from the watch list (its
 * end is reported by nobody: the replica's new node reports) and stopped, so
 * the replica never runs twice (chaos finding 4). */
void veil_daemon_release_replica(veil_daemon *d, const char *job_hex, uint32_t replica)
{
    for (size_t i = 0; i < d->watched.n; i++) {
        struct watched *w = &d->watched.v[i];
        if (w->replica != replica || strcmp(w->job_hex, job_hex) != 0)
            continue;
        veil_log(VEIL_LOG_INFO, SUB, "replica moved to another node: stopping its copy",
                 "job=%.16s replica=%u container=%s", job_hex, replica, w->name);
        record_stopped(d, w->name, job_hex, replica);
        stop_container(d, w->name);
        veil_daemon_overlay_release(d, job_hex, replica);
        watch_list_remove(&d->watched, i);
        return;
    }
}

/* After a restart: is this node still the one the replica is bound to? (A
 * node that learned, before it died, that the replica moved, stops the copy
 * it finds instead of watching it.) */
static bool still_mine(veil_daemon *d, const char *job_hex, unsigned replica)
{
    char bound[96];
    veil_err err = {0};
    if (veil_store_replica_get_node(d->store, job_hex, replica, bound, sizeof bound, &err) != 0)
        return true; /* unknown here: keep watching, a newer assignment still moves it */
    return bound[0] == '\0' || strcmp(bound, d->self_text) == 0;
}

/* A copy that ended while this node was down (chaos s9, short68: veild was
 * killed a second after its container started; the container exited under
 * its supervisor meanwhile, was never listed again as live, and the replica
 * stayed `running` here for good, so the round the others started when they
 * declared this node dead was never decided). Its end is still to be
 * recorded when the replica bound here is `running`: a replica chosen again
 * (assigned) starts a new copy under the same name, and an ended one was
 * recorded already. */
static bool end_unseen(veil_daemon *d, const struct veil_container_info *ct, const char *job_hex,
                       unsigned replica)
{
    enum veil_replica_state st;
    veil_err err = {0};
    return (ct->status == VEIL_CT_EXITED || ct->status == VEIL_CT_STOPPED) &&
           veil_store_replica_get_state(d->store, job_hex, replica, &st, &err) == 0 &&
           st == VEIL_REPLICA_RUNNING;
}

static bool live(const struct veil_container_info *ct)
{
    return ct->status == VEIL_CT_RUNNING || ct->status == VEIL_CT_RESTARTING ||
           ct->status == VEIL_CT_CREATED;
}

/* A live copy of a replica still assigned here: the last run was stopped
 * after the container started and before it recorded that (its record was
 * left `created`, now `start_failed`): record and report it running, so
 * that the executor does not start it again. */
static void running_unrecorded(veil_daemon *d, const uint8_t job_id[32], const char *job_hex,
                               uint32_t replica, const char *name)
{
    enum veil_replica_state st;
    veil_err err = {0};
    if (veil_store_replica_get_state(d->store, job_hex, replica, &st, &err) != 0 ||
        st != VEIL_REPLICA_ASSIGNED)
        return;
    veil_log(VEIL_LOG_INFO, SUB, "container started before the last stop: recorded running",
             "job=%.16s replica=%u container=%s", job_hex, replica, name);
    record_outcome(d, name, job_hex, replica, "running", 0, VEIL_REPLICA_RUNNING);
    publish_container_status(d, job_id, replica, VEIL_CONTAINER_RUNNING, 0, name);
}

/* A restarted node watches again the containers it started before (named
 * veil-<first 16 hex of the job id>-<replica>), so their exits are reported:
 * the live ones, and those whose end came while it was down (end_unseen:
 * the next exec tick records and reports it). */
void veil_daemon_rewatch_containers(veil_daemon *d)
{
    struct veil_runtime_config rc;
    struct veil_container_info *cts = NULL;
    size_t n = 0;
    veil_err err = {0};
    size_t cut = 0;
    if (veil_store_container_interrupted(d->store, &cut, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "container records not updated", "error=\"%s\"", err.msg);
    else if (cut)
        veil_log(VEIL_LOG_INFO, SUB, "starts cut short by the last stop are tried again",
                 "count=%zu", cut);
    if (veil_runtime_config_load(d->cfg, NULL, &rc, &err) != 0 ||
        veil_container_list(&rc.runtime, true, &cts, &n, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "containers not listed", "error=\"%s\"", err.msg);
        return;
    }
    json_t *jobs = veil_store_list_json(d->store, "jobs", &err);
    if (!jobs)
        veil_log(VEIL_LOG_WARN, SUB, "jobs not read", "error=\"%s\"", err.msg);
    for (size_t i = 0; i < n && jobs; i++) {
        char prefix[17];
        unsigned replica;
        int used = 0;
        if (sscanf(cts[i].name, "veil-%16[0-9a-f]-%u%n", prefix, &replica, &used) != 2 ||
            cts[i].name[used] != '\0')
            continue;
        size_t k;
        json_t *j;
        json_array_foreach(jobs, k, j)
        {
            const char *id = json_string_value(json_object_get(j, "id"));
            uint8_t job_id[32];
            if (!id || strncmp(id, prefix, 16) != 0 ||
                veil_hex_decode(job_id, 32, id, strlen(id), false, NULL) != 32)
                continue;
            bool mine = still_mine(d, id, replica);
            if (!live(&cts[i]) && (!mine || !end_unseen(d, &cts[i], id, replica)))
                break; /* an ended copy whose end is recorded, or another node's replica now */
            if (!mine) {
                veil_log(VEIL_LOG_INFO, SUB, "replica moved while this node was down",
                         "container=%s", cts[i].name);
                record_stopped(d, cts[i].name, id, replica);
                if (cts[i].status == VEIL_CT_RUNNING)
                    stop_container(d, cts[i].name);
            } else if (watch_list_add(&d->watched, job_id, id, replica, cts[i].name, &err) != 0)
                veil_log(VEIL_LOG_ERROR, SUB, "container not watched: its exit goes unseen",
                         "container=%s error=\"%s\"", cts[i].name, err.msg);
            else if (!live(&cts[i]))
                veil_log(VEIL_LOG_INFO, SUB,
                         "container ended while this node was down: its end is reported",
                         "container=%s status=%s exit_code=%d", cts[i].name,
                         veil_container_status_name(cts[i].status), cts[i].exit_code);
            else {
                char config[4300];
                snprintf(config, sizeof config, "%s/containers/%s/bundle/config.json",
                         rc.runtime.data_dir, cts[i].id);
                veil_log(VEIL_LOG_INFO, SUB, "watching container again", "container=%s",
                         cts[i].name);
                veil_daemon_overlay_adopt(d, id, replica, config);
                running_unrecorded(d, job_id, id, replica, cts[i].name);
            }
            break;
        }
    }
    json_decref(jobs);
    free(cts);
}

bool veil_daemon_exec_claim(veil_daemon *d, const char *job_hex, uint32_t replica, const char *name,
                            bool *again)
{
    bool created = false;
    veil_err err = {0};
    *again = false;
    if (veil_store_container_ensure(d->store, job_hex, replica, name, &created, &err) != 0) {
        veil_daemon_store_failed("container record", job_hex, replica, &err);
        return false;
    }
    if (created)
        return true;
    if (veil_store_container_rearm(d->store, job_hex, replica, again, &err) != 0) {
        veil_daemon_store_failed("container record", job_hex, replica, &err);
        return false;
    }
    if (*again)
        veil_log(VEIL_LOG_INFO, SUB, "replica chosen again for this node: started anew",
                 "job=%.16s replica=%u container=%s", job_hex, replica, name);
    return *again;
}

/* The assignment names this node: check the image against the on-chain
 * policy (an unreadable one is no verdict: the start waits), then start the
 * replica once (veil_daemon_exec_claim: the store's UNIQUE (job, replica)
 * container record keeps a restarted node from starting it twice; a copy
 * that ended here is started anew). `retry`: the executor tick tries again
 * a start that waited (its wait was logged once). */
static void exec_start(veil_daemon *d, const uint8_t job_id[32], const char *job_hex,
                       uint32_t replica, bool retry)
{
    if (retry_waits(d, job_hex, replica))
        return; /* a failed start, tried again when its delay is over */
    struct exec_job *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->d = d;
    memcpy(e->job_id, job_id, 32);
    snprintf(e->job_hex, sizeof e->job_hex, "%s", job_hex);
    e->replica = replica;
    snprintf(e->name, sizeof e->name, "veil-%.16s-%u", job_hex, replica);
    struct veil_store_job job;
    veil_err err = {0};
    if (veil_store_job_get(d->store, job_hex, &job, &err) != 0) {
        veil_log(retry ? VEIL_LOG_DEBUG : VEIL_LOG_WARN, SUB, "assigned job unknown", "job=%.16s",
                 job_hex);
        free(e);
        return;
    }
    int rc = veil_job_spec_parse(&e->spec, job.spec_json, strlen(job.spec_json), "job", &err);
    veil_store_job_free(&job);
    if (rc != 0) {
        veil_log(retry ? VEIL_LOG_DEBUG : VEIL_LOG_WARN, SUB, "assigned job's spec unreadable",
                 "job=%.16s error=\"%s\"", job_hex, err.msg);
        free(e);
        return;
    }
    e->have_spec = true;
    /* image policy: the digest must be one the cluster allows on chain (an
     * empty list allows every image) */
    const veil_contract_policy *pol = veil_daemon_policy(d, &err); /* the cached copy */
    bool allowed = false;
    if (!pol) { /* no verdict: the start waits, nothing is claimed */
        veil_log(retry ? VEIL_LOG_DEBUG : VEIL_LOG_WARN, SUB,
                 "container start waits: the image policy is unreadable",
                 "job=%.16s replica=%u error=\"%s\"", job_hex, replica, err.msg);
        veil_job_spec_free(&e->spec);
        free(e);
        return;
    }
    if (pol->n_image_digests == 0) {
        allowed = true;
    } else if (e->spec.image_digest[0]) {
        uint8_t dg[32];
        if (veil_hex_decode(dg, 32, e->spec.image_digest + 7, 64, false, NULL) == 32)
            for (size_t i = 0; i < pol->n_image_digests; i++)
                allowed |= memcmp(pol->image_digests[i], dg, 32) == 0;
    }
    if (!veil_daemon_exec_claim(d, job_hex, replica, e->name, &e->again)) {
        veil_job_spec_free(&e->spec);
        free(e);
        return;
    }
    if (!allowed) {
        veil_log(VEIL_LOG_WARN, SUB, "image refused by the on-chain policy",
                 "job=%.16s replica=%u image=%s", job_hex, replica, e->spec.image);
        record_outcome(d, e->name, job_hex, replica, "refused", -1, VEIL_REPLICA_FAILED);
        publish_container_status(d, job_id, replica, VEIL_CONTAINER_FAILED, -1, e->name);
        veil_job_spec_free(&e->spec);
        free(e);
        return;
    }
    int on = veil_daemon_overlay_reserve(d, job_hex, replica, e->spec.name, &e->net, e->resolv,
                                         sizeof e->resolv, e->ov_name, sizeof e->ov_name, &err);
    if (on < 0)
        veil_log(VEIL_LOG_WARN, SUB, "container not on the overlay", "job=%.16s error=\"%s\"",
                 job_hex, err.msg);
    e->on_overlay = on > 0;
    e->work.data = e;
    if (uv_queue_work(d->loop, &e->work, exec_work, exec_after) != 0) {
        if (e->on_overlay)
            veil_daemon_overlay_started(d, job_hex, replica, false);
        veil_job_spec_free(&e->spec);
        free(e);
    } else {
        d->works++;
    }
}

void veil_daemon_execute_assignment(veil_daemon *d, const uint8_t job_id[32], const char *job_hex,
                                    uint32_t replica)
{
    exec_start(d, job_id, job_hex, replica, false);
}

/* The replicas bound to this node still `assigned` (a start that waited for
 * the image policy, or one in flight), at most EXEC_WAITING_MAX per tick. */
#define EXEC_WAITING_MAX 64
struct waiting {
    const char *self;
    size_t n;
    struct {
        char job_hex[65];
        uint32_t replica;
    } v[EXEC_WAITING_MAX];
};

static int collect_waiting(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    struct waiting *w = ctx;
    if (!node || strcmp(node, w->self) != 0 || strlen(job_hex) != 64)
        return 0;
    snprintf(w->v[w->n].job_hex, sizeof w->v[w->n].job_hex, "%s", job_hex);
    w->v[w->n++].replica = replica;
    return w->n == EXEC_WAITING_MAX; /* 1 ends the walk */
}

/* Drops the retries of replicas no longer waiting here (moved away, or
 * ended): `w` is every replica assigned to this node. */
static void retry_prune(veil_daemon *d, const struct waiting *w)
{
    struct start_retries *t = &d->start_retries;
    for (size_t i = 0; i < t->n;) {
        bool waiting = false;
        for (size_t k = 0; k < w->n && !waiting; k++)
            waiting = w->v[k].replica == t->v[i].replica &&
                      strcmp(w->v[k].job_hex, t->v[i].job_hex) == 0;
        if (waiting)
            i++;
        else
            t->v[i] = t->v[--t->n];
    }
}

void veil_daemon_exec_start_waiting(veil_daemon *d)
{
    struct waiting *w = calloc(1, sizeof *w);
    veil_err err = {0};
    if (!w)
        return;
    w->self = d->self_text;
    if (veil_store_each_replica(d->store, VEIL_REPLICA_ASSIGNED, collect_waiting, w, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "assigned replicas not read", "error=\"%s\"", err.msg);
    else if (w->n < EXEC_WAITING_MAX)
        retry_prune(d, w);
    for (size_t i = 0; i < w->n; i++) {
        uint8_t job_id[32];
        if (veil_hex_decode(job_id, 32, w->v[i].job_hex, 64, false, NULL) == 32)
            exec_start(d, job_id, w->v[i].job_hex, w->v[i].replica, true);
    }
    free(w);
}

/* A replica's state follows the node it is bound to (its latest assignment
 * here): a copy left on a node the replica moved away from is being stopped
 * and says nothing about the replica. With no binding known yet (the
 * assignment was missed), the report is taken. */
static bool reporter_is_bound(veil_daemon *d, const char *job_hex, uint32_t replica,
                              const struct veil_peer_id *node)
{
    char bound[96];
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    veil_p2p_peer_id pid;
    veil_err err = {0};
    enum veil_replica_state st;
    if (veil_store_replica_get_node(d->store, job_hex, replica, bound, sizeof bound, &err) != 0)
        return true;
    if (bound[0] == '\0')
        /* a pending replica no assignment ever bound is nobody's to report
         * (pending takes a report only from its bound node, store.c) */
        return veil_store_replica_get_state(d->store, job_hex, replica, &st, &err) != 0 ||
               st != VEIL_REPLICA_PENDING;
    if (veil_p2p_peer_id_from_bytes(node->bytes, node->len, &pid, &err) != 0)
        return false;
    veil_p2p_peer_id_to_text(&pid, text, sizeof text);
    if (strcmp(text, bound) == 0)
        return true;
    veil_log(VEIL_LOG_INFO, SUB, "container status of a moved replica ignored",
             "job=%.16s replica=%u from=%s bound=%s", job_hex, replica, text, bound);
    return false;
}

void veil_daemon_on_container_status(veil_daemon *d, const uint8_t *data, size_t len,
                                     const struct veil_gs_message *msg)
{
    struct veil_msg_container_status m;
    veil_err err = {0};
    if (veil_msg_container_status_decode(&m, data, len, &err) != 0)
        return;
    if (m.node.len != msg->from_len || memcmp(m.node.bytes, msg->from, msg->from_len) != 0)
        return; /* a node reports only its own containers */
    char job_hex[65];
    veil_hex_encode(job_hex, sizeof job_hex, m.job_id, 32);
    if (!reporter_is_bound(d, job_hex, m.replica, &m.node))
        return;
    enum veil_replica_state to = m.state == VEIL_CONTAINER_RUNNING  ? VEIL_REPLICA_RUNNING
                                 : m.state == VEIL_CONTAINER_EXITED ? VEIL_REPLICA_EXITED
                                                                    : VEIL_REPLICA_FAILED;
    enum veil_replica_state was;
    bool known = veil_store_replica_get_state(d->store, job_hex, m.replica, &was, &err) == 0;
    if (known && was == VEIL_REPLICA_EXITED && to != VEIL_REPLICA_EXITED) {
        /* an end stays an end (issue 18, session 9): the node a later
         * assignment bound the ended replica to runs it again without
         * having heard of its end (at least once, never two at a time) */
        veil_log(VEIL_LOG_DEBUG, SUB, "container status of a replica that ended ignored",
                 "job=%.16s replica=%u state=%s", job_hex, m.replica, veil_replica_state_name(to));
        return;
    }
    if (veil_store_replica_set_state(d->store, job_hex, m.replica, to, NULL, &err) != 0)
        veil_daemon_store_failed("replica state", job_hex, m.replica, &err);
    /* a node reports its running containers again after each catch-up
     * pass: only a change is worth a line */
    veil_log(known && was == to ? VEIL_LOG_DEBUG : VEIL_LOG_INFO, SUB, "container status",
             "job=%.16s replica=%u state=%s exit_code=%d%s", job_hex, m.replica,
             veil_replica_state_name(to), m.exit_code,
             known && was != to && to == VEIL_REPLICA_RUNNING &&
                     (was == VEIL_REPLICA_FAILED || was == VEIL_REPLICA_RESCHEDULING ||
                      was == VEIL_REPLICA_SCHEDULING)
                 ? " taken_back=true"
                 : "");
}
