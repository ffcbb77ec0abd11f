// SPDX-License-Identifier: Apache-2.0
/*
 * store.c - the node's persistent state in SQLite (<data_dir>/state.db, WAL
 * journal, synchronous=FULL): nodes (peer ID, organization, alive, last
 * telemetry epoch - never telemetry values), jobs, replicas and their state
 * machine, assignments, containers, anchors, the outcome-budget slots
 * this node charged (its ledger, docs/THREAT_MODEL.md H2), the jobs its
 * intake holds while the policy is unreadable, and the last read of the
 * chain's policy and member set (a start while the RPC is down). Schema versions live in
 * PRAGMA user_version and are migrated forward one step at a time, each step
 * in its own transaction. Every multi-row change is one transaction, and the
 * keys (job id; job+replica for containers; job+replica+epoch for
 * assignments) make replays idempotent, so a node killed at any instant
 * resumes without losing or duplicating a job or a container.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include <veil/node.h>

struct veil_store {
    sqlite3 *db;
};

static const char *const state_names[VEIL_REPLICA_STATE_COUNT] = {
    "pending", "scheduling", "awaiting_decryption", "assigned",      "running",
    "exited",  "failed",     "rescheduling",        "unschedulable",
};

const char *veil_replica_state_name(enum veil_replica_state s)
{
    return (unsigned)s < VEIL_REPLICA_STATE_COUNT ? state_names[s] : "?";
}

static int state_from_name(const char *name, enum veil_replica_state *out)
{
    for (int i = 0; i < VEIL_REPLICA_STATE_COUNT; i++)
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (enum veil_replica_state)i;
            return 0;
        }
    return -1;
}

bool veil_replica_state_name_undecided(const char *name)
{
    enum veil_replica_state s;
    return state_from_name(name, &s) == 0 &&
           (s == VEIL_REPLICA_PENDING || s == VEIL_REPLICA_SCHEDULING ||
            s == VEIL_REPLICA_AWAITING_DECRYPTION || s == VEIL_REPLICA_RESCHEDULING);
}

/* The replica life cycle:
 *   pending -> scheduling -> awaiting_decryption -> assigned -> running -> exited
 *   scheduling -> pending                (a scheduler died; try again)
 *   awaiting_decryption -> scheduling    (no digest agreement; evaluate again)
 *   awaiting_decryption -> unschedulable (the decryptor found no feasible node)
 *   scheduling|awaiting_decryption -> failed (the schedulers never agreed:
 *                                     the decryptor's retries are spent)
 *   assigned|running -> failed | rescheduling (the node failed or was declared dead)
 *   assigned -> exited               (the node the replica is bound to reports
 *                                    its end: a short container started and
 *                                    ended between two reports, or that node
 *                                    adopted an end it had heard, issue 18
 *                                    session 9; the daemon checks the binding)
 *   exited -> exited, another node   (a later assignment named another node:
 *                                    the binding follows it, the end stays;
 *                                    veil_store_assignment_record_ended)
 *   failed|unschedulable -> rescheduling -> scheduling
 *   pending -> running|exited        (a held job's replica whose node was
 *                                    declared dead went to pending,
 *                                    veil_store_node_lost; that node, only
 *                                    cut off, reports it: the daemon takes
 *                                    the report only from the node the
 *                                    replica is still bound to; chaos s9)
 *   scheduling|awaiting_decryption|rescheduling|failed -> running|exited
 *                                    (the node the replica is still bound to
 *                                    reports its container: a node cut off,
 *                                    not dead, ran it; the daemon checks the
 *                                    binding, its true report wins)
 *   running -> assigned              (a newer assignment moved the replica;
 *                                    its old node stops its copy)
 *   scheduling|awaiting_decryption|rescheduling -> pending, and
 *   assigned|running -> pending (its node lost): never through this table,
 *                                    only veil_store_replicas_hold and
 *                                    veil_store_node_lost, for a job this
 *                                    node holds at intake
 * Setting the state a replica already has is a no-op (replays are harmless),
 * unless a node is given: then only the binding moves. */
static bool reported_by_bound_node(enum veil_replica_state to)
{
    return to == VEIL_REPLICA_RUNNING || to == VEIL_REPLICA_EXITED;
}

bool veil_replica_transition_ok(enum veil_replica_state from, enum veil_replica_state to)
{
    if (from == to)
        return true;
    switch (from) {
    case VEIL_REPLICA_PENDING:
        return to == VEIL_REPLICA_SCHEDULING || reported_by_bound_node(to);
    case VEIL_REPLICA_SCHEDULING:
        return to == VEIL_REPLICA_AWAITING_DECRYPTION || to == VEIL_REPLICA_PENDING ||
               to == VEIL_REPLICA_FAILED || reported_by_bound_node(to);
    case VEIL_REPLICA_AWAITING_DECRYPTION:
        return to == VEIL_REPLICA_ASSIGNED || to == VEIL_REPLICA_UNSCHEDULABLE ||
               to == VEIL_REPLICA_SCHEDULING || to == VEIL_REPLICA_FAILED ||
               reported_by_bound_node(to);
    case VEIL_REPLICA_ASSIGNED:
        return to == VEIL_REPLICA_RUNNING || to == VEIL_REPLICA_FAILED ||
               to == VEIL_REPLICA_RESCHEDULING || reported_by_bound_node(to);
    case VEIL_REPLICA_RUNNING:
        return to == VEIL_REPLICA_EXITED || to == VEIL_REPLICA_FAILED ||
               to == VEIL_REPLICA_RESCHEDULING || to == VEIL_REPLICA_ASSIGNED;
    case VEIL_REPLICA_FAILED:
        return to == VEIL_REPLICA_RESCHEDULING || reported_by_bound_node(to);
    case VEIL_REPLICA_UNSCHEDULABLE:
        return to == VEIL_REPLICA_RESCHEDULING;
    case VEIL_REPLICA_RESCHEDULING:
        return to == VEIL_REPLICA_SCHEDULING || reported_by_bound_node(to);
    default:
        return false; /* exited is final */
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_fail(veil_store *s, veil_err *err, const char *what)
{
    return veil_err_set(err, VEIL_E_IO, "state store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(veil_store *s, const char *sql, veil_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = veil_err_set(err, VEIL_E_IO, "state store: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int prepare(veil_store *s, sqlite3_stmt **st, const char *sql, veil_err *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(s, err, "prepare");
    return 0;
}

static void rollback(veil_store *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs the prepared write `st` to its end and finalizes it: 0 (*changes,
 * when not NULL, the rows it changed), or -1 with `what` and SQLite's error
 * (read before the statement is finalized). */
static int step_done(veil_store *s, sqlite3_stmt *st, const char *what, size_t *changes,
                     veil_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(s, err, what);
    if (rc == 0 && changes)
        *changes = (size_t)sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

/* The end of a transaction opened with BEGIN IMMEDIATE: COMMIT when its
 * work succeeded (rc 0), else (or when COMMIT fails) ROLLBACK and -1. */
static int commit_or_rollback(veil_store *s, int rc, veil_err *err)
{
    if (rc == 0 && exec(s, "COMMIT", err) == 0)
        return 0;
    rollback(s);
    return -1;
}

/* migrations[v] takes the schema from version v to v + 1. */
static const char *const migrations[] = {
    "CREATE TABLE nodes(peer_id TEXT PRIMARY KEY, organization TEXT NOT NULL DEFAULT '',"
    "  alive INTEGER NOT NULL, last_epoch INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TABLE jobs(id TEXT PRIMARY KEY, name TEXT NOT NULL, spec_json TEXT NOT NULL,"
    "  submitter TEXT NOT NULL, nonce TEXT NOT NULL, replicas INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE replicas(job_id TEXT NOT NULL REFERENCES jobs(id), idx INTEGER NOT NULL,"
    "  state TEXT NOT NULL, node TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL, PRIMARY KEY(job_id, idx));"
    "CREATE TABLE assignments(job_id TEXT NOT NULL REFERENCES jobs(id), replica INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL, node TEXT NOT NULL, output_digest TEXT NOT NULL,"
    "  signature TEXT NOT NULL, commitment TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(job_id, replica, epoch));"
    "CREATE TABLE containers(id TEXT PRIMARY KEY, job_id TEXT NOT NULL REFERENCES jobs(id),"
    "  replica INTEGER NOT NULL, state TEXT NOT NULL, exit_code INTEGER,"
    "  updated_ms INTEGER NOT NULL, UNIQUE(job_id, replica));"
    "CREATE TABLE anchors(commitment TEXT PRIMARY KEY, epoch INTEGER NOT NULL,"
    "  root TEXT NOT NULL, tx_hash TEXT NOT NULL, proof_json TEXT, created_ms INTEGER NOT NULL);"
    "CREATE INDEX replicas_by_state ON replicas(state);",
    /* 2: why a replica is where it is (a round retried or abandoned) */
    "ALTER TABLE replicas ADD COLUMN note TEXT NOT NULL DEFAULT '';",
    /* 3: a confidential job's request ciphertext (its spec holds no values) */
    "ALTER TABLE jobs ADD COLUMN request_ct BLOB;",
    /* 4: the outcome-budget ledger (docs/THREAT_MODEL.md, H2): each job's
     * slot (its submitter's member key, period, sequence number) and this
     * node's verdict on it, so that charges survive a restart */
    "CREATE TABLE outcome_slots(job_id TEXT PRIMARY KEY, member TEXT NOT NULL,"
    "  period INTEGER NOT NULL, seq INTEGER NOT NULL, verdict INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE INDEX outcome_slots_by_member ON outcome_slots(member, period);",
    /* 5: the jobs held at intake while the policy is unreadable (issue 18),
     * so that a restarted node keeps holding them: the announcement and its
     * gossip author as received, the first deferral's time, failed checks */
    "CREATE TABLE intake_deferrals(job_id TEXT PRIMARY KEY, msg BLOB NOT NULL,"
    "  author BLOB NOT NULL, first_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);",
    /* 6: when this node's intake check passed the job (issue 18; 0: not
     * yet), so that a re-announcement or a restart never checks it again */
    "ALTER TABLE jobs ADD COLUMN intake_ms INTEGER NOT NULL DEFAULT 0;",
    /* 7: the chain's view a node starts from while its RPC is unreachable
     * (issue 18): the last read of the policy ('policy', its ABI bytes) and
     * of the member set ('members', rows in chain_members), with the block
     * each was read at */
    "CREATE TABLE chain_reads(what TEXT NOT NULL, cluster_id INTEGER NOT NULL,"
    "  block INTEGER NOT NULL, data BLOB, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(what, cluster_id));"
    "CREATE TABLE chain_members(cluster_id INTEGER NOT NULL, address BLOB NOT NULL,"
    "  ed25519 BLOB NOT NULL, PRIMARY KEY(cluster_id, address));",
};

static int migrate(veil_store *s, veil_err *err)
{
    int version;
    if (veil_store_schema_version(s, &version, err) != 0)
        return -1;
    if (version > VEIL_STORE_SCHEMA_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "state store: schema version %d is newer than this veild (%d)", version,
                            VEIL_STORE_SCHEMA_VERSION);
    for (int v = version; v < VEIL_STORE_SCHEMA_VERSION; v++) {
        if (exec(s, "BEGIN IMMEDIATE", err) != 0)
            return -1;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (exec(s, migrations[v], err) != 0 || exec(s, bump, err) != 0) {
            rollback(s);
            return veil_err_wrap(err, "migrating to schema %d", v + 1);
        }
        if (exec(s, "COMMIT", err) != 0) {
            rollback(s);
            return -1;
        }
    }
    return 0;
}

int veil_store_open_path(veil_store **out, const char *path, veil_err *err)
{
    veil_store *s = calloc(1, sizeof *s);
    if (!s)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = veil_err_set(err, VEIL_E_IO, "state store %s: %s", path,
                              s->db ? sqlite3_errmsg(s->db) : "cannot open");
        sqlite3_close(s->db);
        free(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (exec(s, "PRAGMA journal_mode=WAL", err) != 0 ||
        exec(s, "PRAGMA synchronous=FULL", err) != 0 ||
        exec(s, "PRAGMA foreign_keys=ON", err) != 0 || migrate(s, err) != 0) {
        veil_err_wrap(err, "state store %s", path);
        sqlite3_close(s->db);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int veil_store_open(veil_store **out, const char *data_dir, veil_err *err)
{
    if (veil_mkdir_p(data_dir, 0700, err) != 0)
        return -1;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/state.db", data_dir) >= sizeof path)
        return veil_err_set(err, VEIL_E_RANGE, "data dir path too long");
    return veil_store_open_path(out, path, err);
}

int veil_store_open_again(const veil_store *s, veil_store **out, veil_err *err)
{
    const char *path = sqlite3_db_filename(s->db, "main");
    if (!path || !path[0])
        return veil_err_set(err, VEIL_E_STATE, "state store: no file to open again");
    return veil_store_open_path(out, path, err);
}

void veil_store_close(veil_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

int veil_store_schema_version(veil_store *s, int *version, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st, "PRAGMA user_version", err) != 0)
        return -1;
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, err, "user_version");
}

int veil_store_node_upsert(veil_store *s, const struct veil_store_node *n, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "INSERT INTO nodes(peer_id, organization, alive, last_epoch, updated_ms)"
                " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(peer_id) DO UPDATE SET"
                " organization = ?2, alive = ?3, last_epoch = max(last_epoch, ?4),"
                " updated_ms = ?5",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, n->peer_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, n->organization, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, n->alive ? 1 : 0);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n->last_epoch);
    sqlite3_bind_int64(st, 5, now_ms());
    return step_done(s, st, "node upsert", NULL, err);
}

int veil_store_job_insert(veil_store *s, const char *id_hex, const char *name,
                          const char *spec_json, const char *submitter, const char *nonce_hex,
                          uint32_t replicas, veil_err *err)
{
    return veil_store_job_insert_ct(s, id_hex, name, spec_json, submitter, nonce_hex, replicas,
                                    NULL, 0, err);
}

int veil_store_job_insert_ct(veil_store *s, const char *id_hex, const char *name,
                             const char *spec_json, const char *submitter, const char *nonce_hex,
                             uint32_t replicas, const uint8_t *request_ct, size_t request_ct_len,
                             veil_err *err)
{
    if (replicas == 0 || replicas > VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replicas %u out of range", replicas);
    if (request_ct_len > VEIL_MSG_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "request ciphertext of %zu bytes too large",
                            request_ct_len);
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int64_t t = now_ms();
    if (prepare(s, &st,
                "INSERT INTO jobs(id, name, spec_json, submitter, nonce, replicas, created_ms,"
                " request_ct) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                err) != 0)
        goto fail;
    if (request_ct && request_ct_len)
        sqlite3_bind_blob(st, 8, request_ct, (int)request_ct_len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_text(st, 1, id_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, spec_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, submitter ? submitter : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, nonce_hex ? nonce_hex : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, (int)replicas);
    sqlite3_bind_int64(st, 7, t);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_CONSTRAINT) {
        rollback(s);
        return veil_err_set(err, VEIL_E_EXISTS, "job %s already exists", id_hex);
    }
    if (rc != SQLITE_DONE) {
        db_fail(s, err, "job insert");
        goto fail;
    }
    if (prepare(s, &st,
                "INSERT INTO replicas(job_id, idx, state, updated_ms) VALUES(?, ?, 'pending', ?)",
                err) != 0)
        goto fail;
    for (uint32_t i = 0; i < replicas; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id_hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, (int)i);
        sqlite3_bind_int64(st, 3, t);
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(s, err, "replica insert");
            goto fail;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (exec(s, "COMMIT", err) != 0)
        goto fail;
    return 0;
fail:
    sqlite3_finalize(st);
    rollback(s);
    return -1;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int veil_store_job_get(veil_store *s, const char *id_hex, struct veil_store_job *job, veil_err *err)
{
    memset(job, 0, sizeof *job);
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "SELECT id, name, spec_json, submitter, replicas, created_ms, nonce, request_ct"
                " FROM jobs WHERE id = ?",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, id_hex, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return veil_err_set(err, VEIL_E_NOTFOUND, "no job %s", id_hex);
        return db_fail(s, err, "job get");
    }
    copy_col(job->id, sizeof job->id, st, 0);
    copy_col(job->name, sizeof job->name, st, 1);
    const unsigned char *spec = sqlite3_column_text(st, 2);
    job->spec_json = strdup(spec ? (const char *)spec : "");
    copy_col(job->submitter, sizeof job->submitter, st, 3);
    job->replicas = (uint32_t)sqlite3_column_int(st, 4);
    job->created_ms = sqlite3_column_int64(st, 5);
    copy_col(job->nonce, sizeof job->nonce, st, 6);
    int ct_len = sqlite3_column_bytes(st, 7);
    const void *ct = sqlite3_column_blob(st, 7);
    bool nomem = !job->spec_json;
    if (ct && ct_len > 0) {
        job->request_ct = malloc((size_t)ct_len);
        if (job->request_ct) {
            memcpy(job->request_ct, ct, (size_t)ct_len);
            job->request_ct_len = (size_t)ct_len;
        } else {
            nomem = true;
        }
    }
    sqlite3_finalize(st);
    if (nomem) {
        veil_store_job_free(job);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    return 0;
}

void veil_store_job_free(struct veil_store_job *job)
{
    free(job->spec_json);
    job->spec_json = NULL;
    free(job->request_ct);
    job->request_ct = NULL;
    job->request_ct_len = 0;
}

/* Inside an open transaction: reads, checks and writes one replica state. */
static int set_state_locked(veil_store *s, const char *job_hex, uint32_t replica,
                            enum veil_replica_state to, const char *node, veil_err *err)
{
    enum veil_replica_state from;
    if (veil_store_replica_get_state(s, job_hex, replica, &from, err) != 0)
        return -1;
    if (!veil_replica_transition_ok(from, to))
        return veil_err_set(err, VEIL_E_STATE, "replica %s/%u: %s -> %s is not allowed", job_hex,
                            replica, veil_replica_state_name(from), veil_replica_state_name(to));
    if (from == to && !node)
        return 0;
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "UPDATE replicas SET state = ?1, node = coalesce(?2, node), updated_ms = ?3,"
                " attempts = attempts + (?1 = 'scheduling' AND state != 'scheduling')"
                " WHERE job_id = ?4 AND idx = ?5",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, veil_replica_state_name(to), -1, SQLITE_STATIC);
    if (node)
        sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, now_ms());
    sqlite3_bind_text(st, 4, job_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, (int)replica);
    return step_done(s, st, "replica update", NULL, err);
}

int veil_store_replica_set_state(veil_store *s, const char *job_hex, uint32_t replica,
                                 enum veil_replica_state to, const char *node, veil_err *err)
{
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    return commit_or_rollback(s, set_state_locked(s, job_hex, replica, to, node, err), err);
}

int veil_store_replica_set_note(veil_store *s, const char *job_hex, uint32_t replica,
                                const char *note, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st, "UPDATE replicas SET note = ?1 WHERE job_id = ?2 AND idx = ?3", err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, note ? note : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, job_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)replica);
    size_t changed = 0;
    if (step_done(s, st, "replica note", &changed, err) != 0)
        return -1;
    if (changed == 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no replica %s/%u", job_hex, replica);
    return 0;
}

/* Runs a one-column SELECT over the replica (job_hex, replica) and leaves *st
 * on its row (the caller reads column 0 and finalizes). */
static int replica_row(veil_store *s, const char *sql, const char *job_hex, uint32_t replica,
                       const char *what, sqlite3_stmt **st, veil_err *err)
{
    if (prepare(s, st, sql, err) != 0)
        return -1;
    sqlite3_bind_text(*st, 1, job_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(*st, 2, (int)replica);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_ROW)
        return 0;
    sqlite3_finalize(*st);
    *st = NULL;
    if (rc == SQLITE_DONE)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no replica %s/%u", job_hex, replica);
    return db_fail(s, err, what);
}

int veil_store_replica_get_node(veil_store *s, const char *job_hex, uint32_t replica, char *node,
                                size_t cap, veil_err *err)
{
    sqlite3_stmt *st;
    if (replica_row(s, "SELECT node FROM replicas WHERE job_id = ? AND idx = ?", job_hex, replica,
                    "replica node", &st, err) != 0)
        return -1;
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(node, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    return 0;
}

int veil_store_replica_get_state(veil_store *s, const char *job_hex, uint32_t replica,
                                 enum veil_replica_state *state, veil_err *err)
{
    sqlite3_stmt *st;
    if (replica_row(s, "SELECT state FROM replicas WHERE job_id = ? AND idx = ?", job_hex, replica,
                    "replica get", &st, err) != 0)
        return -1;
    int bad = state_from_name((const char *)sqlite3_column_text(st, 0), state);
    sqlite3_finalize(st);
    if (bad)
        return veil_err_set(err, VEIL_E_INTERNAL, "replica %s/%u has an unknown state", job_hex,
                            replica);
    return 0;
}

/* The assignment row of `a` (INSERT OR IGNORE: the same (job, replica,
 * epoch) again is a no-op), inside the caller's transaction. */
static int assignment_insert(veil_store *s, const struct veil_store_assignment *a, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "INSERT OR IGNORE INTO assignments(job_id, replica, epoch, node, output_digest,"
                " signature, commitment, created_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, a->job_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int)a->replica);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)a->epoch);
    sqlite3_bind_text(st, 4, a->node, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, a->output_digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, a->signature, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, a->commitment, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, now_ms());
    return step_done(s, st, "assignment insert", NULL, err);
}

int veil_store_assignment_record(veil_store *s, const struct veil_store_assignment *a,
                                 veil_err *err)
{
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    bool schedulable = a->node[0] != '\0';
    int rc = assignment_insert(s, a, err);
    if (rc == 0)
        rc = set_state_locked(s, a->job_id, a->replica,
                              schedulable ? VEIL_REPLICA_ASSIGNED : VEIL_REPLICA_UNSCHEDULABLE,
                              schedulable ? a->node : NULL, err);
    return commit_or_rollback(s, rc, err);
}

/* Issue 18 (session 9): the binding follows the latest assignment, an end
 * stays an end. The state is read inside the transaction: a replica that is
 * not exited (any more, or yet) is refused, never moved to exited here. */
int veil_store_assignment_record_ended(veil_store *s, const struct veil_store_assignment *a,
                                       veil_err *err)
{
    if (a->node[0] == '\0')
        return veil_err_set(err, VEIL_E_INVALID,
                            "replica %s/%u: an ended replica is bound to a node", a->job_id,
                            a->replica);
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    enum veil_replica_state cur;
    int rc = veil_store_replica_get_state(s, a->job_id, a->replica, &cur, err);
    if (rc == 0 && cur != VEIL_REPLICA_EXITED)
        rc = veil_err_set(err, VEIL_E_STATE, "replica %s/%u is %s, not exited", a->job_id,
                          a->replica, veil_replica_state_name(cur));
    if (rc == 0)
        rc = assignment_insert(s, a, err);
    if (rc == 0)
        rc = set_state_locked(s, a->job_id, a->replica, VEIL_REPLICA_EXITED, a->node, err);
    return commit_or_rollback(s, rc, err);
}

int veil_store_assignment_add(veil_store *s, const struct veil_store_assignment *a, bool *added,
                              veil_err *err)
{
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    int rc = assignment_insert(s, a, err);
    bool fresh = rc == 0 && sqlite3_changes(s->db) > 0;
    if (commit_or_rollback(s, rc, err) != 0)
        return -1;
    if (added)
        *added = fresh;
    return 0;
}

int veil_store_node_lost(veil_store *s, const char *peer_id, size_t *moved, veil_err *err)
{
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc = prepare(s, &st, "UPDATE nodes SET alive = 0, updated_ms = ? WHERE peer_id = ?", err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, now_ms());
        sqlite3_bind_text(st, 2, peer_id, -1, SQLITE_TRANSIENT);
        rc = step_done(s, st, "node update", NULL, err);
    }
    /* assigned/running -> rescheduling are allowed transitions (see above);
     * a job held at intake goes to pending instead (veil_store_replicas_hold's
     * rule: no round of it before this node's own check) */
    if (rc == 0)
        rc = prepare(s, &st,
                     "UPDATE replicas SET state = CASE WHEN job_id IN (SELECT d.job_id FROM"
                     " intake_deferrals d JOIN jobs j ON j.id = d.job_id WHERE j.intake_ms = 0)"
                     " THEN 'pending' ELSE 'rescheduling' END, updated_ms = ? WHERE node = ?"
                     " AND state IN ('assigned', 'running')",
                     err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, now_ms());
        sqlite3_bind_text(st, 2, peer_id, -1, SQLITE_TRANSIENT);
        rc = step_done(s, st, "replica update", &n, err);
    }
    if (commit_or_rollback(s, rc, err) != 0)
        return -1;
    if (moved)
        *moved = n;
    return 0;
}

int veil_store_each_replica(veil_store *s, enum veil_replica_state state, veil_store_replica_fn fn,
                            void *ctx, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "SELECT job_id, idx, node FROM replicas WHERE state = ?"
                " ORDER BY updated_ms, job_id, idx",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, veil_replica_state_name(state), -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *job = (const char *)sqlite3_column_text(st, 0);
        const char *node = (const char *)sqlite3_column_text(st, 2);
        if (fn(ctx, job ? job : "", (uint32_t)sqlite3_column_int(st, 1), node) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(s, err, "replica walk");
}

int veil_store_container_ensure(veil_store *s, const char *job_hex, uint32_t replica,
                                const char *container_id, bool *created, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "INSERT INTO containers(id, job_id, replica, state, updated_ms)"
                " VALUES(?, ?, ?, 'created', ?) ON CONFLICT(job_id, replica) DO NOTHING",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, container_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, job_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)replica);
    sqlite3_bind_int64(st, 4, now_ms());
    size_t changed = 0;
    if (step_done(s, st, "container insert", &changed, err) != 0)
        return -1;
    *created = changed == 1;
    return 0;
}

int veil_store_container_set_state(veil_store *s, const char *container_id, const char *state,
                                   int exit_code, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "UPDATE containers SET state = ?, exit_code = ?, updated_ms = ? WHERE id = ?",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, exit_code);
    sqlite3_bind_int64(st, 3, now_ms());
    sqlite3_bind_text(st, 4, container_id, -1, SQLITE_TRANSIENT);
    size_t changed = 0;
    if (step_done(s, st, "container update", &changed, err) != 0)
        return -1;
    if (changed != 1)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no container %s", container_id);
    return 0;
}

int veil_store_anchor_record(veil_store *s, const struct veil_store_anchor *a, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "INSERT INTO anchors(commitment, epoch, root, tx_hash, proof_json, created_ms)"
                " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(commitment) DO UPDATE SET"
                " epoch = excluded.epoch, root = excluded.root, tx_hash = excluded.tx_hash,"
                " proof_json = excluded.proof_json",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, a->commitment, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)a->epoch);
    sqlite3_bind_text(st, 3, a->root, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, a->tx_hash, -1, SQLITE_TRANSIENT);
    if (a->proof_json)
        sqlite3_bind_text(st, 5, a->proof_json, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, now_ms());
    return step_done(s, st, "anchor insert", NULL, err);
}

int veil_store_count_replicas_by_state(veil_store *s, uint64_t counts[VEIL_REPLICA_STATE_COUNT],
                                       veil_err *err)
{
    memset(counts, 0, sizeof(uint64_t) * VEIL_REPLICA_STATE_COUNT);
    sqlite3_stmt *st;
    if (prepare(s, &st, "SELECT state, count(*) FROM replicas GROUP BY state", err) != 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        enum veil_replica_state state;
        if (state_from_name((const char *)sqlite3_column_text(st, 0), &state) == 0)
            counts[state] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(s, err, "count replicas");
}

int veil_store_count(veil_store *s, const char *table, uint64_t *count, veil_err *err)
{
    static const char *const tables[] = {
        "nodes",      "jobs",    "replicas",         "assignments",
        "containers", "anchors", "intake_deferrals", "chain_members"};
    const char *known = NULL;
    for (size_t i = 0; i < VEIL_ARRAY_LEN(tables); i++)
        if (strcmp(table, tables[i]) == 0)
            known = tables[i];
    if (!known)
        return veil_err_set(err, VEIL_E_INVALID, "unknown table %s", table);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", known);
    sqlite3_stmt *st;
    if (prepare(s, &st, sql, err) != 0)
        return -1;
    int rc = sqlite3_step(st);
    *count = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, err, "count");
}

/* ---- JSON views (the HTTP API) --------------------------------------------- */

static json_t *column_json(sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, col));
    case SQLITE_NULL:
        return json_null();
    default: {
        const unsigned char *t = sqlite3_column_text(st, col);
        return json_string(t ? (const char *)t : "");
    }
    }
}

/* Runs a query and returns its rows as an array of objects keyed by column
 * name; columns named "*_bool" become booleans without the suffix. */
static json_t *query_json(veil_store *s, const char *sql, const char *bind, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st, sql, err) != 0)
        return NULL;
    if (bind)
        sqlite3_bind_text(st, 1, bind, -1, SQLITE_TRANSIENT);
    json_t *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *name = sqlite3_column_name(st, c);
            size_t n = strlen(name);
            if (n > 5 && strcmp(name + n - 5, "_json") == 0) {
                /* stored JSON text (e.g. an inclusion proof): embedded parsed */
                char key[64];
                snprintf(key, sizeof key, "%.*s", (int)(n - 5), name);
                const unsigned char *t = sqlite3_column_text(st, c);
                json_t *v = t ? json_loads((const char *)t, JSON_DECODE_ANY, NULL) : NULL;
                json_object_set_new(row, key, v ? v : json_null());
            } else if (n > 5 && strcmp(name + n - 5, "_bool") == 0) {
                char key[64];
                snprintf(key, sizeof key, "%.*s", (int)(n - 5), name);
                json_object_set_new(row, key, json_boolean(sqlite3_column_int(st, c)));
            } else {
                json_object_set_new(row, name, column_json(st, c));
            }
        }
        json_array_append_new(rows, row);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        db_fail(s, err, "query");
        return NULL;
    }
    return rows;
}

void *veil_store_list_json(veil_store *s, const char *what, veil_err *err)
{
    /* Nodes never carry telemetry values: only identity, liveness, epoch. */
    if (strcmp(what, "nodes") == 0)
        return query_json(s,
                          "SELECT peer_id, organization, alive AS alive_bool,"
                          " last_epoch AS last_telemetry_epoch FROM nodes ORDER BY peer_id",
                          NULL, err);
    if (strcmp(what, "jobs") == 0)
        return query_json(
            s,
            "SELECT j.id, j.name, j.submitter, j.replicas, j.created_ms,"
            " (SELECT count(*) FROM replicas r WHERE r.job_id = j.id AND r.state = 'running')"
            " AS running,"
            /* the state of the replica furthest from done: "awaiting_decryption"
             * while the decryptor is away, "failed" when a replica failed */
            " (SELECT r.state FROM replicas r WHERE r.job_id = j.id ORDER BY"
            "  CASE r.state WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 WHEN 'scheduling' THEN 2"
            "  WHEN 'awaiting_decryption' THEN 3 WHEN 'rescheduling' THEN 4"
            "  WHEN 'unschedulable' THEN 5 WHEN 'assigned' THEN 6 WHEN 'running' THEN 7"
            "  ELSE 8 END, r.idx LIMIT 1) AS state"
            " FROM jobs j ORDER BY j.created_ms, j.id",
            NULL, err);
    if (strcmp(what, "assignments") == 0)
        return query_json(s,
                          "SELECT job_id, replica, epoch, node, output_digest, signature,"
                          " commitment FROM assignments ORDER BY created_ms, job_id, replica",
                          NULL, err);
    if (strcmp(what, "anchors") == 0)
        return query_json(s,
                          "SELECT commitment, epoch, root, tx_hash, proof_json"
                          " FROM anchors ORDER BY epoch, commitment",
                          NULL, err);
    veil_err_set(err, VEIL_E_NOTFOUND, "unknown collection %s", what);
    return NULL;
}

void *veil_store_job_json(veil_store *s, const char *id_hex, veil_err *err)
{
    struct veil_store_job job;
    if (veil_store_job_get(s, id_hex, &job, err) != 0)
        return NULL;
    json_t *spec = json_loads(job.spec_json, 0, NULL);
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o}", "id", job.id, "name", job.name,
                  "submitter", job.submitter, "nonce", job.nonce, "replicas", (int)job.replicas,
                  "created_ms", (json_int_t)job.created_ms, "spec", spec ? spec : json_null());
    veil_store_job_free(&job);
    json_t *replicas = query_json(s,
                                  "SELECT idx AS replica, state, node, attempts, note FROM replicas"
                                  " WHERE job_id = ? ORDER BY idx",
                                  id_hex, err);
    json_t *assignments = query_json(s,
                                     "SELECT replica, epoch, node, output_digest, commitment"
                                     " FROM assignments WHERE job_id = ? ORDER BY replica, epoch",
                                     id_hex, err);
    json_t *anchors = query_json(s,
                                 "SELECT a.replica, n.epoch, n.root, n.tx_hash, n.proof_json"
                                 " FROM assignments a JOIN anchors n ON"
                                 " n.commitment = a.commitment WHERE a.job_id = ?"
                                 " ORDER BY a.replica",
                                 id_hex, err);
    json_t *containers = query_json(s,
                                    "SELECT id, replica, state, exit_code FROM containers"
                                    " WHERE job_id = ? ORDER BY replica",
                                    id_hex, err);
    if (!out || !replicas || !assignments || !anchors || !containers) {
        json_decref(out);
        json_decref(replicas);
        json_decref(assignments);
        json_decref(anchors);
        json_decref(containers);
        return NULL;
    }
    json_object_set_new(out, "replica_states", replicas);
    json_object_set_new(out, "assignments", assignments);
    json_object_set_new(out, "anchors", anchors);
    json_object_set_new(out, "containers", containers);
    return out;
}

/* ---- outcome-budget slots (docs/THREAT_MODEL.md, H2) -------------------- */

int veil_store_slot_put(veil_store *s, const struct veil_store_slot *slot, veil_err *err)
{
    char member[65];
    sqlite3_stmt *st;
    veil_hex_encode(member, sizeof member, slot->member, sizeof slot->member);
    if (prepare(s, &st,
                "INSERT INTO outcome_slots(job_id, member, period, seq, verdict, created_ms)"
                " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(job_id) DO UPDATE SET"
                " member = ?2, period = ?3, seq = ?4, verdict = ?5",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, slot->job_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, member, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)slot->period);
    sqlite3_bind_int64(st, 4, slot->seq);
    sqlite3_bind_int(st, 5, slot->verdict);
    sqlite3_bind_int64(st, 6, now_ms());
    return step_done(s, st, "store outcome slot", NULL, err);
}

/* One row (job_id, member, period, seq, verdict) into a slot; -1 when the
 * stored member key is not 64 hex digits. */
static int slot_from_row(sqlite3_stmt *st, struct veil_store_slot *out)
{
    const char *job = (const char *)sqlite3_column_text(st, 0);
    const char *member = (const char *)sqlite3_column_text(st, 1);
    memset(out, 0, sizeof *out);
    if (!job || !member || strlen(job) >= sizeof out->job_id ||
        veil_hex_decode(out->member, sizeof out->member, member, strlen(member), false, NULL) !=
            (long)sizeof out->member)
        return -1;
    memcpy(out->job_id, job, strlen(job) + 1);
    out->period = (uint64_t)sqlite3_column_int64(st, 2);
    out->seq = (uint32_t)sqlite3_column_int64(st, 3);
    out->verdict = sqlite3_column_int(st, 4);
    return 0;
}

int veil_store_slot_get(veil_store *s, const char *job_hex, struct veil_store_slot *out,
                        veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "SELECT job_id, member, period, seq, verdict FROM outcome_slots WHERE job_id = ?1",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, job_hex, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), bad = rc == SQLITE_ROW ? slot_from_row(st, out) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no outcome slot for job %.16s", job_hex);
    if (rc != SQLITE_ROW)
        return db_fail(s, err, "read outcome slot");
    return bad ? veil_err_set(err, VEIL_E_PARSE, "outcome slot of job %.16s is corrupt", job_hex)
               : 0;
}

int veil_store_slots_of(veil_store *s, const uint8_t member[32], uint64_t period_min, int verdict,
                        struct veil_store_slot **out, size_t *n, veil_err *err)
{
    char hex[65];
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    veil_hex_encode(hex, sizeof hex, member, 32);
    if (prepare(s, &st,
                "SELECT job_id, member, period, seq, verdict FROM outcome_slots"
                " WHERE member = ?1 AND period >= ?2 AND verdict = ?3 ORDER BY period, seq",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)period_min);
    sqlite3_bind_int(st, 3, verdict);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            struct veil_store_slot *v = realloc(*out, ncap * sizeof *v);
            if (!v)
                break;
            *out = v;
            cap = ncap;
        }
        if (slot_from_row(st, &(*out)[*n]) == 0)
            (*n)++;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    free(*out);
    *out = NULL;
    *n = 0;
    return rc == SQLITE_ROW ? veil_err_set(err, VEIL_E_NOMEM, "out of memory")
                            : db_fail(s, err, "read outcome slots");
}

int veil_store_slots_prune(veil_store *s, int64_t older_than_ms, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st, "DELETE FROM outcome_slots WHERE created_ms < ?1", err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, older_than_ms);
    return step_done(s, st, "prune outcome slots", NULL, err);
}

/* ---- jobs deferred at intake (daemon_intake.c, issue 18) ---------------- */

int veil_store_deferral_put(veil_store *s, const struct veil_store_deferral *d, veil_err *err)
{
    sqlite3_stmt *st;
    if (strlen(d->job_id) != 64 || d->msg_len == 0 || d->msg_len > VEIL_MSG_MAX_BYTES ||
        d->from_len > VEIL_PEER_ID_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "deferral of job %.16s: %zu-byte announcement",
                            d->job_id, d->msg_len);
    if (prepare(s, &st,
                "INSERT INTO intake_deferrals(job_id, msg, author, first_ms, attempts, updated_ms)"
                " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(job_id) DO UPDATE SET"
                " attempts = ?5, updated_ms = ?6",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, d->job_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, d->msg, (int)d->msg_len, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, d->from, (int)d->from_len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)d->first_ms);
    sqlite3_bind_int64(st, 5, d->attempts);
    sqlite3_bind_int64(st, 6, now_ms());
    return step_done(s, st, "store intake deferral", NULL, err);
}

int veil_store_deferral_drop(veil_store *s, const char *job_hex, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st, "DELETE FROM intake_deferrals WHERE job_id = ?1", err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, job_hex, -1, SQLITE_TRANSIENT);
    return step_done(s, st, "drop intake deferral", NULL, err);
}

void veil_store_deferrals_free(struct veil_store_deferral *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].msg);
    free(v);
}

/* One row (job_id, msg, author, first_ms, attempts) into `out` (its msg
 * copied): 1 when a length or the job id is out of bounds (skipped), -1
 * out of memory. */
static int deferral_from_row(sqlite3_stmt *st, struct veil_store_deferral *out)
{
    const char *job = (const char *)sqlite3_column_text(st, 0);
    const void *msg = sqlite3_column_blob(st, 1);
    int msg_len = sqlite3_column_bytes(st, 1);
    const void *from = sqlite3_column_blob(st, 2);
    int from_len = sqlite3_column_bytes(st, 2);
    sqlite3_int64 first = sqlite3_column_int64(st, 3), attempts = sqlite3_column_int64(st, 4);
    memset(out, 0, sizeof *out);
    if (!job || strlen(job) != 64 || !msg || msg_len <= 0 || msg_len > VEIL_MSG_MAX_BYTES ||
        from_len < 0 || from_len > VEIL_PEER_ID_MAX || (from_len > 0 && !from) || first < 0 ||
        attempts < 0 || attempts > UINT32_MAX)
        return 1;
    out->msg = malloc((size_t)msg_len);
    if (!out->msg)
        return -1;
    memcpy(out->job_id, job, 65);
    memcpy(out->msg, msg, (size_t)msg_len);
    out->msg_len = (size_t)msg_len;
    if (from_len > 0)
        memcpy(out->from, from, (size_t)from_len);
    out->from_len = (size_t)from_len;
    out->first_ms = (uint64_t)first;
    out->attempts = (uint32_t)attempts;
    return 0;
}

/* Removes the rows `ids` (rowids of unreadable deferrals) in one
 * transaction. */
static int deferrals_remove(veil_store *s, const sqlite3_int64 *ids, size_t n, veil_err *err)
{
    sqlite3_stmt *st = NULL;
    if (n == 0)
        return 0;
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    if (prepare(s, &st, "DELETE FROM intake_deferrals WHERE rowid = ?1", err) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, ids[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(s, err, "remove unreadable intake deferral");
            goto fail;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (exec(s, "COMMIT", err) == 0)
        return 0;
fail:
    sqlite3_finalize(st);
    rollback(s);
    return -1;
}

/* The rows left stored after `listed` were read: *rest. */
static int deferrals_rest(veil_store *s, size_t listed, size_t *rest, veil_err *err)
{
    uint64_t total;
    if (veil_store_count(s, "intake_deferrals", &total, err) != 0)
        return -1;
    *rest = total > listed ? (size_t)(total - listed) : 0;
    return 0;
}

/* Reads up to `max` rows into v (*n), the rowids of unreadable ones into
 * bad (at most `max` of them, *n_bad): 0, or -1 (err set). */
static int deferrals_read(veil_store *s, size_t max, struct veil_store_deferral *v, size_t *n,
                          sqlite3_int64 *bad, size_t *n_bad, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "SELECT job_id, msg, author, first_ms, attempts, rowid FROM intake_deferrals"
                " ORDER BY first_ms, job_id",
                err) != 0)
        return -1;
    int rc = SQLITE_DONE, got = 0;
    while (*n < max && *n_bad < max && (rc = sqlite3_step(st)) == SQLITE_ROW &&
           (got = deferral_from_row(st, &v[*n])) >= 0) {
        if (got == 0)
            (*n)++;
        else
            bad[(*n_bad)++] = sqlite3_column_int64(st, 5);
    }
    if (rc == SQLITE_ROW)
        rc = SQLITE_DONE; /* a bound reached: the rest stay stored */
    sqlite3_finalize(st);
    if (got < 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : db_fail(s, err, "read intake deferrals");
}

int veil_store_deferrals_list(veil_store *s, size_t max, struct veil_store_deferral **out,
                              size_t *n, size_t *corrupt, size_t *rest, veil_err *err)
{
    *out = NULL;
    *n = 0;
    *corrupt = 0;
    *rest = 0;
    if (max == 0)
        return deferrals_rest(s, 0, rest, err);
    struct veil_store_deferral *v = calloc(max, sizeof *v);
    sqlite3_int64 *bad = calloc(max, sizeof *bad);
    if (!v || !bad) {
        free(v);
        free(bad);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    int rc = deferrals_read(s, max, v, n, bad, corrupt, err);
    if (rc == 0)
        rc = deferrals_remove(s, bad, *corrupt, err);
    if (rc == 0)
        rc = deferrals_rest(s, *n, rest, err);
    free(bad);
    if (rc != 0 || *n == 0) {
        veil_store_deferrals_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

/* ---- this node's intake check passed (daemon_intake.c, issue 18) -------- */

int veil_store_job_set_taken_in(veil_store *s, const char *job_hex, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "UPDATE jobs SET intake_ms = CASE WHEN intake_ms = 0 THEN ?1 ELSE intake_ms END"
                " WHERE id = ?2",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms());
    sqlite3_bind_text(st, 2, job_hex, -1, SQLITE_TRANSIENT);
    size_t changed = 0;
    if (step_done(s, st, "mark job taken in", &changed, err) != 0)
        return -1;
    if (changed == 0)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no job %.16s to mark taken in", job_hex);
    return 0;
}

int veil_store_job_taken_in(veil_store *s, const char *job_hex, bool *taken_in, veil_err *err)
{
    sqlite3_stmt *st;
    *taken_in = false;
    if (prepare(s, &st, "SELECT intake_ms FROM jobs WHERE id = ?1", err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, job_hex, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *taken_in = sqlite3_column_int64(st, 0) != 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, err, "read job's intake");
}

/* Inside an open transaction: VEIL_E_STATE unless the job is held at intake
 * (a deferral row) and not taken in. */
static int check_held_locked(veil_store *s, const char *job_hex, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "SELECT (SELECT count(*) FROM intake_deferrals WHERE job_id = ?1),"
                " (SELECT intake_ms FROM jobs WHERE id = ?1)",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, job_hex, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(s, err, "read job's intake");
    }
    bool held = sqlite3_column_int64(st, 0) > 0;
    bool stored = sqlite3_column_type(st, 1) != SQLITE_NULL;
    bool taken_in = sqlite3_column_int64(st, 1) != 0;
    sqlite3_finalize(st);
    if (!stored)
        return veil_err_set(err, VEIL_E_NOTFOUND, "no job %.16s", job_hex);
    if (!held || taken_in)
        return veil_err_set(err, VEIL_E_STATE, "job %.16s is %s: its replicas are not held back",
                            job_hex, taken_in ? "taken in" : "not held at intake");
    return 0;
}

int veil_store_replicas_hold(veil_store *s, const char *job_hex, uint32_t *back, veil_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    *back = 0;
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    int rc = check_held_locked(s, job_hex, err);
    if (rc == 0)
        rc = prepare(s, &st,
                     "UPDATE replicas SET state = 'pending', updated_ms = ?1 WHERE job_id = ?2"
                     " AND state IN ('scheduling', 'awaiting_decryption', 'rescheduling')",
                     err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, now_ms());
        sqlite3_bind_text(st, 2, job_hex, -1, SQLITE_TRANSIENT);
        rc = step_done(s, st, "hold replicas back", &n, err);
    }
    if (commit_or_rollback(s, rc, err) != 0)
        return -1;
    *back = (uint32_t)n;
    return 0;
}

/* ---- the chain's view for a start while the RPC is down (issue 18) ------ */

/* Inside a transaction or alone: the row (what, cluster) says the view was
 * read (or changed) at `block`; `data` may be NULL. */
static int chain_read_put(veil_store *s, const char *what, uint64_t cluster_id, uint64_t block,
                          const uint8_t *data, size_t len, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "INSERT INTO chain_reads(what, cluster_id, block, data, updated_ms)"
                " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(what, cluster_id) DO UPDATE SET"
                " block = ?3, data = ?4, updated_ms = ?5",
                err) != 0)
        return -1;
    sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cluster_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)block);
    if (data)
        sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, now_ms());
    return step_done(s, st, "store chain read", NULL, err);
}

int veil_store_chain_policy_put(veil_store *s, uint64_t cluster_id, uint64_t block,
                                const uint8_t *abi, size_t len, veil_err *err)
{
    if (!abi || len == 0 || len > VEIL_STORE_POLICY_MAX_BYTES)
        return veil_err_set(err, VEIL_E_RANGE, "stored policy: %zu bytes", len);
    return chain_read_put(s, "policy", cluster_id, block, abi, len, err);
}

int veil_store_chain_policy_get(veil_store *s, uint64_t cluster_id, uint8_t **abi, size_t *len,
                                uint64_t *block, bool *found, veil_err *err)
{
    sqlite3_stmt *st;
    *abi = NULL;
    *len = 0;
    *block = 0;
    *found = false;
    if (prepare(s, &st,
                "SELECT block, data FROM chain_reads WHERE what = 'policy' AND cluster_id = ?1",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        const void *data = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        if (!data || n <= 0 || (size_t)n > VEIL_STORE_POLICY_MAX_BYTES)
            out = veil_err_set(err, VEIL_E_RANGE, "stored policy: %d bytes", n);
        else if (!(*abi = malloc((size_t)n)))
            out = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        else {
            memcpy(*abi, data, (size_t)n);
            *len = (size_t)n;
            *block = (uint64_t)sqlite3_column_int64(st, 0);
            *found = true;
        }
    } else if (rc != SQLITE_DONE)
        out = db_fail(s, err, "read stored policy");
    sqlite3_finalize(st);
    return out;
}

/* Inside the caller's transaction: one member row inserted or replaced. */
static int member_row_put(veil_store *s, uint64_t cluster_id, const uint8_t address[20],
                          const uint8_t ed25519[32], veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "INSERT OR REPLACE INTO chain_members(cluster_id, address, ed25519)"
                " VALUES(?1, ?2, ?3)",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    sqlite3_bind_blob(st, 2, address, 20, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, ed25519, 32, SQLITE_STATIC);
    return step_done(s, st, "store member", NULL, err);
}

/* Inside the caller's transaction: the cluster's member rows removed, all
 * of them (address NULL) or one. */
static int member_rows_drop(veil_store *s, uint64_t cluster_id, const uint8_t *address,
                            veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                address ? "DELETE FROM chain_members WHERE cluster_id = ?1 AND address = ?2"
                        : "DELETE FROM chain_members WHERE cluster_id = ?1",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    if (address)
        sqlite3_bind_blob(st, 2, address, 20, SQLITE_STATIC);
    return step_done(s, st, "drop stored members", NULL, err);
}

int veil_store_chain_members_put(veil_store *s, uint64_t cluster_id, uint64_t block,
                                 const struct veil_store_chain_member *v, size_t n, veil_err *err)
{
    if (n > VEIL_STORE_CHAIN_MEMBERS_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "%zu members to store", n);
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    int rc = member_rows_drop(s, cluster_id, NULL, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = member_row_put(s, cluster_id, v[i].address, v[i].ed25519, err);
    if (rc == 0)
        rc = chain_read_put(s, "members", cluster_id, block, NULL, 0, err);
    return commit_or_rollback(s, rc, err);
}

int veil_store_chain_member_set(veil_store *s, uint64_t cluster_id, uint64_t block,
                                const uint8_t address[20], const uint8_t *ed25519, veil_err *err)
{
    if (exec(s, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    int rc = ed25519 ? member_row_put(s, cluster_id, address, ed25519, err)
                     : member_rows_drop(s, cluster_id, address, err);
    if (rc == 0)
        rc = chain_read_put(s, "members", cluster_id, block, NULL, 0, err);
    return commit_or_rollback(s, rc, err);
}

/* The block of the stored member set: *found false when none was stored. */
static int members_block(veil_store *s, uint64_t cluster_id, uint64_t *block, bool *found,
                         veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st, "SELECT block FROM chain_reads WHERE what = 'members' AND cluster_id = ?1",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    *block = *found ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, err, "read stored members");
    sqlite3_finalize(st); /* after db_fail: it reads the statement's error */
    return out;
}

/* Reads the member rows into v (room for `cap`): *n; VEIL_E_RANGE for a
 * malformed row or more rows than `cap`. */
static int members_read(veil_store *s, uint64_t cluster_id, struct veil_store_chain_member *v,
                        size_t cap, size_t *n, veil_err *err)
{
    sqlite3_stmt *st;
    if (prepare(s, &st,
                "SELECT address, ed25519 FROM chain_members WHERE cluster_id = ?1 ORDER BY address",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cluster_id);
    int rc = SQLITE_DONE, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *a = sqlite3_column_blob(st, 0), *k = sqlite3_column_blob(st, 1);
        if (*n == cap || !a || !k || sqlite3_column_bytes(st, 0) != 20 ||
            sqlite3_column_bytes(st, 1) != 32) {
            out = veil_err_set(err, VEIL_E_RANGE, "stored member %zu malformed", *n);
            break;
        }
        memcpy(v[*n].address, a, 20);
        memcpy(v[*n].ed25519, k, 32);
        (*n)++;
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = db_fail(s, err, "read stored members");
    sqlite3_finalize(st);
    return out;
}

int veil_store_chain_members_get(veil_store *s, uint64_t cluster_id,
                                 struct veil_store_chain_member **v, size_t *n, uint64_t *block,
                                 bool *found, veil_err *err)
{
    uint64_t rows;
    *v = NULL;
    *n = 0;
    *found = false;
    /* a failed read is an error, never "nothing stored" (a first start) */
    if (members_block(s, cluster_id, block, found, err) != 0)
        return -1;
    if (!*found)
        return 0;
    if (veil_store_count(s, "chain_members", &rows, err) != 0)
        return -1;
    if (rows > VEIL_STORE_CHAIN_MEMBERS_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "%llu stored members", (unsigned long long)rows);
    if (rows == 0)
        return 0;
    if (!(*v = calloc((size_t)rows, sizeof **v)))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (members_read(s, cluster_id, *v, (size_t)rows, n, err) != 0) {
        free(*v);
        *v = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int veil_store_assignment_latest_epoch(veil_store *s, const char *job_hex, uint32_t replica,
                                       uint64_t *epoch, bool *found, veil_err *err)
{
    sqlite3_stmt *st = NULL;
    *epoch = 0;
    *found = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT max(epoch) FROM assignments WHERE job_id = ? AND replica = ?",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, job_hex, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, replica) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        veil_err_set(err, VEIL_E_IO, "state store: latest assignment of %.16s/%u: %s", job_hex,
                     replica, sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        return -1;
    }
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        sqlite3_int64 e = sqlite3_column_int64(st, 0);
        *found = e >= 0;
        *epoch = e >= 0 ? (uint64_t)e : 0;
    }
    sqlite3_finalize(st);
    return 0;
}

int veil_store_container_rearm(veil_store *s, const char *job_hex, uint32_t replica, bool *rearmed,
                               veil_err *err)
{
    sqlite3_stmt *st;
    *rearmed = false;
    if (prepare(s, &st,
                "UPDATE containers SET state = 'created', exit_code = NULL, updated_ms = ?"
                " WHERE job_id = ? AND replica = ?"
                " AND state IN ('stopped', 'failed', 'refused', 'start_failed')",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms());
    sqlite3_bind_text(st, 2, job_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)replica);
    size_t changed = 0;
    if (step_done(s, st, "container rearm", &changed, err) != 0)
        return -1;
    *rearmed = changed == 1;
    return 0;
}

int veil_store_container_interrupted(veil_store *s, size_t *n, veil_err *err)
{
    sqlite3_stmt *st;
    *n = 0;
    if (prepare(s, &st,
                "UPDATE containers SET state = 'start_failed', updated_ms = ?"
                " WHERE state = 'created'",
                err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms());
    return step_done(s, st, "container interrupted", n, err);
}
