// SPDX-License-Identifier: Apache-2.0
/*
 * test_store.c - the SQLite state store: schema creation and versioning,
 * the replica state machine, idempotent inserts, JSON views, and crash
 * safety: a child process writing jobs and containers is SIGKILLed at
 * random instants; after each kill the database must hold only whole jobs
 * (every replica row present), and a replaying process must end with
 * exactly the intended jobs and containers, none lost and none duplicated.
 * The intake's deferrals (schema 5): a round trip across a reopen, the
 * first deferral's time kept on update, the caller's bound (the rows past
 * it counted), rows with bad lengths removed (reported once), and a
 * schema-4 store migrated with its rows intact.
 * The intake's mark that a job passed this node's check (schema 6).
 * The chain's view kept for a start while the RPC is down (schema 7): the
 * policy's bytes and the member set round trip with their blocks across a
 * reopen, per cluster, a member's change moves the block, malformed rows
 * and oversized input are refused, and a schema-6 store migrates with its
 * jobs kept and no view stored.
 * A replica that ran to its end follows a later assignment's binding, its
 * state kept exited (issue 18, session 9), and assigned -> exited is a
 * transition (the bound node reports the end).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include <veil/node.h>

#include "vtest.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/veil-store-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK_EQ_INT(system(cmd), 0);
}

static void job_hex(char out[65], int i)
{
    snprintf(out, 65, "%064x", i + 1);
}

static void test_schema_and_state_machine(void)
{
    make_tmpdir();
    veil_store *s;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    int v = -1;
    CHECK_EQ_INT(veil_store_schema_version(s, &v, &err), 0);
    CHECK_EQ_INT(v, VEIL_STORE_SCHEMA_VERSION);

    char id[65];
    job_hex(id, 0);
    CHECK_EQ_INT(veil_store_job_insert(s, id, "web", "{\"name\":\"web\"}", "peerA", "00", 2, &err),
                 0);
    CHECK_EQ_INT(veil_store_job_insert(s, id, "web", "{}", "peerA", "00", 2, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_EXISTS);
    struct veil_store_job job;
    CHECK_EQ_INT(veil_store_job_get(s, id, &job, &err), 0);
    CHECK_EQ_STR(job.name, "web");
    CHECK_EQ_STR(job.spec_json, "{\"name\":\"web\"}");
    CHECK_EQ_INT(job.replicas, 2);
    CHECK_EQ_STR(job.nonce, "00");
    veil_store_job_free(&job);

    enum veil_replica_state st;
    CHECK_EQ_INT(veil_store_replica_get_state(s, id, 1, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_PENDING);
    /* Forbidden jumps are refused and change nothing. */
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 1, VEIL_REPLICA_ASSIGNED, NULL, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_STATE);
    CHECK_CONTAINS(err.msg, "pending -> assigned is not allowed");
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 1, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(s, id, 1, VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err), 0);
    struct veil_store_assignment a = {.replica = 1, .epoch = 4};
    snprintf(a.job_id, sizeof a.job_id, "%s", id);
    snprintf(a.node, sizeof a.node, "12D3KooWnode");
    memset(a.output_digest, 'a', 64);
    memset(a.signature, 'b', 128);
    memset(a.commitment, 'c', 64);
    CHECK_EQ_INT(veil_store_assignment_record(s, &a, &err), 0);
    CHECK_EQ_INT(veil_store_assignment_record(s, &a, &err), 0); /* replay: no-op */
    CHECK_EQ_INT(veil_store_replica_get_state(s, id, 1, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_ASSIGNED);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 1, VEIL_REPLICA_RUNNING, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 1, VEIL_REPLICA_RESCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 1, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 9, VEIL_REPLICA_SCHEDULING, NULL, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);

    /* A node cut off (not dead) ran the replica it was bound to: its report
     * wins over the reschedule (chaos finding 2); a newer assignment moves a
     * running replica (its old node stops its copy: finding 4). */
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_RESCHEDULING, VEIL_REPLICA_EXITED));
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_SCHEDULING, VEIL_REPLICA_EXITED));
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_AWAITING_DECRYPTION, VEIL_REPLICA_RUNNING));
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_FAILED, VEIL_REPLICA_EXITED));
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_RUNNING, VEIL_REPLICA_ASSIGNED));
    CHECK(!veil_replica_transition_ok(VEIL_REPLICA_UNSCHEDULABLE, VEIL_REPLICA_RUNNING));
    CHECK(!veil_replica_transition_ok(VEIL_REPLICA_EXITED, VEIL_REPLICA_ASSIGNED));
    /* The bound node reports the end of an assigned replica (a short
     * container between two reports, or an end it adopted: session 9). */
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_ASSIGNED, VEIL_REPLICA_EXITED));
    /* Undecided: a placement still to come, by the state's stored name. */
    CHECK(veil_replica_state_name_undecided("pending"));
    CHECK(veil_replica_state_name_undecided("awaiting_decryption"));
    CHECK(veil_replica_state_name_undecided("rescheduling"));
    CHECK(!veil_replica_state_name_undecided("assigned"));
    CHECK(!veil_replica_state_name_undecided("failed"));
    CHECK(!veil_replica_state_name_undecided("nonsense"));
    CHECK(!veil_replica_state_name_undecided(NULL));
    /* Exited is final. */
    CHECK(!veil_replica_transition_ok(VEIL_REPLICA_EXITED, VEIL_REPLICA_RESCHEDULING));
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_UNSCHEDULABLE, VEIL_REPLICA_RESCHEDULING));

    bool created;
    CHECK_EQ_INT(veil_store_container_ensure(s, id, 0, "veil-c0", &created, &err), 0);
    CHECK(created);
    CHECK_EQ_INT(veil_store_container_ensure(s, id, 0, "veil-c0-again", &created, &err), 0);
    CHECK(!created);
    /* A start cut short by a stop (the record left `created`) becomes
     * `start_failed` at the next start, and a failed start is claimed again
     * by exactly one caller (chaos s10): a running record is left alone. */
    size_t cut = 0;
    bool rearmed = true;
    CHECK_EQ_INT(veil_store_container_rearm(s, id, 0, &rearmed, &err), 0);
    CHECK(!rearmed);
    CHECK_EQ_INT(veil_store_container_interrupted(s, &cut, &err), 0);
    CHECK_EQ_INT((int)cut, 1);
    CHECK_EQ_INT(veil_store_container_rearm(s, id, 0, &rearmed, &err), 0);
    CHECK(rearmed);
    CHECK_EQ_INT(veil_store_container_rearm(s, id, 0, &rearmed, &err), 0);
    CHECK(!rearmed);
    CHECK_EQ_INT(veil_store_container_set_state(s, "veil-c0", "start_failed", -1, &err), 0);
    CHECK_EQ_INT(veil_store_container_rearm(s, id, 0, &rearmed, &err), 0);
    CHECK(rearmed);
    CHECK_EQ_INT(veil_store_container_set_state(s, "veil-c0", "running", 0, &err), 0);
    CHECK_EQ_INT(veil_store_container_set_state(s, "nope", "running", 0, &err), -1);
    CHECK_EQ_INT(veil_store_container_interrupted(s, &cut, &err), 0);
    CHECK_EQ_INT((int)cut, 0);
    CHECK_EQ_INT(veil_store_container_rearm(s, id, 0, &rearmed, &err), 0);
    CHECK(!rearmed);

    struct veil_store_anchor an = {.epoch = 4, .proof_json = "[\"0xab\"]"};
    memset(an.commitment, 'c', 64);
    memset(an.root, 'd', 64);
    snprintf(an.tx_hash, sizeof an.tx_hash, "0x%064x", 7);
    CHECK_EQ_INT(veil_store_anchor_record(s, &an, &err), 0);

    struct veil_store_node n = {.alive = true, .last_epoch = 9};
    snprintf(n.peer_id, sizeof n.peer_id, "12D3KooWnode");
    snprintf(n.organization, sizeof n.organization, "acme");
    CHECK_EQ_INT(veil_store_node_upsert(s, &n, &err), 0);
    n.last_epoch = 3; /* an older epoch never moves it back */
    n.alive = false;
    CHECK_EQ_INT(veil_store_node_upsert(s, &n, &err), 0);

    json_t *nodes = veil_store_list_json(s, "nodes", &err);
    CHECK(nodes && json_array_size(nodes) == 1);
    json_t *n0 = json_array_get(nodes, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(n0, "last_telemetry_epoch")), 9);
    CHECK(json_is_false(json_object_get(n0, "alive")));
    CHECK_EQ_INT(json_object_size(n0), 4);
    json_decref(nodes);
    json_t *detail = veil_store_job_json(s, id, &err);
    CHECK(detail != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(detail, "replica_states")), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(detail, "anchors")), 1);
    json_t *proof = json_object_get(json_array_get(json_object_get(detail, "anchors"), 0), "proof");
    CHECK(json_is_array(proof) && json_array_size(proof) == 1);
    CHECK_EQ_STR(json_string_value(json_array_get(proof, 0)), "0xab");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(detail, "spec"), "name")),
                 "web");
    json_decref(detail);
    CHECK(veil_store_job_json(s, "ff", &err) == NULL);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    uint64_t counts[VEIL_REPLICA_STATE_COUNT], c;
    CHECK_EQ_INT(veil_store_count_replicas_by_state(s, counts, &err), 0);
    CHECK_EQ_U64(counts[VEIL_REPLICA_PENDING], 1);
    CHECK_EQ_U64(counts[VEIL_REPLICA_SCHEDULING], 1);
    CHECK_EQ_INT(veil_store_count(s, "jobs", &c, &err), 0);
    CHECK_EQ_U64(c, 1);
    CHECK_EQ_INT(veil_store_count(s, "jobs; DROP TABLE jobs", &c, &err), -1);
    veil_store_close(s);

    /* A database from a newer veild is refused. */
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", tmpdir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
    remove_tmpdir();
}

static enum veil_replica_state state_of(veil_store *s, const char *id)
{
    enum veil_replica_state st = VEIL_REPLICA_PENDING;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_get_state(s, id, 0, &st, &err), 0);
    return st;
}

static void check_bound(veil_store *s, const char *id, const char *want)
{
    char node[96];
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_replica_get_node(s, id, 0, node, sizeof node, &err), 0);
    CHECK_EQ_STR(node, want);
}

/* Issue 18 (session 9): a replica that ran to its end follows the binding
 * of a later assignment, its state kept exited: exited -> exited with a node
 * moves the binding (only the binding), and
 * veil_store_assignment_record_ended records the row and the binding in
 * one transaction, refusing a replica that is not exited. */
static void test_exited_rebound(void)
{
    make_tmpdir();
    veil_store *s;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    char id[65];
    job_hex(id, 5);
    CHECK_EQ_INT(veil_store_job_insert(s, id, "short", "{}", "peerA", "00", 1, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err), 0);
    struct veil_store_assignment a = {.replica = 0, .epoch = 4};
    snprintf(a.job_id, sizeof a.job_id, "%s", id);
    snprintf(a.node, sizeof a.node, "12D3KooWfirst");
    memset(a.output_digest, 'a', 64);
    memset(a.signature, 'b', 128);
    memset(a.commitment, 'c', 64);
    /* a later assignment of a replica not exited: refused, nothing changes */
    struct veil_store_assignment later = a;
    later.epoch = 9;
    snprintf(later.node, sizeof later.node, "12D3KooWthird");
    memset(later.commitment, 'e', 64);
    CHECK_EQ_INT(veil_store_assignment_record(s, &a, &err), 0);
    CHECK_EQ_INT(veil_store_assignment_record_ended(s, &later, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_STATE);
    uint64_t e = 0;
    bool found = false;
    CHECK_EQ_INT(veil_store_assignment_latest_epoch(s, id, 0, &e, &found, &err), 0);
    CHECK(found);
    CHECK_EQ_U64(e, 4);
    check_bound(s, id, "12D3KooWfirst");
    CHECK_EQ_INT(state_of(s, id), VEIL_REPLICA_ASSIGNED);

    /* assigned -> exited (the bound node's report), then rebound */
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_EXITED, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_EXITED, NULL, &err), 0);
    check_bound(s, id, "12D3KooWfirst"); /* a replay without a node: no-op */
    CHECK_EQ_INT(
        veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_EXITED, "12D3KooWsecond", &err), 0);
    check_bound(s, id, "12D3KooWsecond");
    CHECK_EQ_INT(state_of(s, id), VEIL_REPLICA_EXITED);

    CHECK_EQ_INT(veil_store_assignment_record_ended(s, &later, &err), 0);
    CHECK_EQ_INT(veil_store_assignment_record_ended(s, &later, &err), 0); /* replay */
    check_bound(s, id, "12D3KooWthird");
    CHECK_EQ_INT(state_of(s, id), VEIL_REPLICA_EXITED);
    CHECK_EQ_INT(veil_store_assignment_latest_epoch(s, id, 0, &e, &found, &err), 0);
    CHECK_EQ_U64(e, 9);
    uint64_t rows = 0;
    CHECK_EQ_INT(veil_store_count(s, "assignments", &rows, &err), 0);
    CHECK_EQ_U64(rows, 2);
    struct veil_store_assignment none = later; /* unschedulable: no node to bind */
    none.epoch = 11;
    none.node[0] = '\0';
    CHECK_EQ_INT(veil_store_assignment_record_ended(s, &none, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_INVALID);
    check_bound(s, id, "12D3KooWthird");
    veil_store_close(s);
    remove_tmpdir();
}

/* Rounds whose schedulers never agree: the replica goes back to scheduling
 * (attempts counted), then fails with a note; the jobs list shows the state
 * of its least advanced replica, and a version-1 database is migrated. */
static void test_retry_note_and_migration(void)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", tmpdir);
    /* a schema-1 database as the previous veild left it, with a job */
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(
        sqlite3_exec(db,
                     "CREATE TABLE nodes(peer_id TEXT PRIMARY KEY, organization TEXT NOT NULL"
                     " DEFAULT '', alive INTEGER NOT NULL, last_epoch INTEGER NOT NULL DEFAULT 0,"
                     " updated_ms INTEGER NOT NULL);"
                     "CREATE TABLE jobs(id TEXT PRIMARY KEY, name TEXT NOT NULL, spec_json TEXT"
                     " NOT NULL, submitter TEXT NOT NULL, nonce TEXT NOT NULL, replicas INTEGER"
                     " NOT NULL, created_ms INTEGER NOT NULL);"
                     "CREATE TABLE replicas(job_id TEXT NOT NULL REFERENCES jobs(id), idx INTEGER"
                     " NOT NULL, state TEXT NOT NULL, node TEXT, attempts INTEGER NOT NULL"
                     " DEFAULT 0, updated_ms INTEGER NOT NULL, PRIMARY KEY(job_id, idx));"
                     "CREATE TABLE assignments(job_id TEXT NOT NULL REFERENCES jobs(id),"
                     " replica INTEGER NOT NULL, epoch INTEGER NOT NULL, node TEXT NOT NULL,"
                     " output_digest TEXT NOT NULL, signature TEXT NOT NULL, commitment TEXT NOT"
                     " NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(job_id, replica, epoch));"
                     "CREATE TABLE containers(id TEXT PRIMARY KEY, job_id TEXT NOT NULL"
                     " REFERENCES jobs(id), replica INTEGER NOT NULL, state TEXT NOT NULL,"
                     " exit_code INTEGER, updated_ms INTEGER NOT NULL, UNIQUE(job_id, replica));"
                     "CREATE TABLE anchors(commitment TEXT PRIMARY KEY, epoch INTEGER NOT NULL,"
                     " root TEXT NOT NULL, tx_hash TEXT NOT NULL, proof_json TEXT, created_ms"
                     " INTEGER NOT NULL);"
                     "CREATE INDEX replicas_by_state ON replicas(state);"
                     "INSERT INTO jobs VALUES('old', 'o', '{}', 'p', '00', 1, 1);"
                     "INSERT INTO replicas VALUES('old', 0, 'assigned', 'nodeY', 1, 1);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    veil_store *s;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    int v = 0;
    CHECK_EQ_INT(veil_store_schema_version(s, &v, &err), 0);
    CHECK_EQ_INT(v, VEIL_STORE_SCHEMA_VERSION);
    char node[96];
    CHECK_EQ_INT(veil_store_replica_get_node(s, "old", 0, node, sizeof node, &err), 0);
    CHECK_EQ_STR(node, "nodeY");

    char id[65];
    job_hex(id, 20);
    CHECK_EQ_INT(veil_store_job_insert(s, id, "split", "{}", "p", "00", 2, &err), 0);
    CHECK_EQ_INT(veil_store_replica_get_node(s, id, 0, node, sizeof node, &err), 0);
    CHECK_EQ_STR(node, "");
    CHECK_EQ_INT(veil_store_replica_get_node(s, id, 7, node, sizeof node, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err), 0);
    /* the jobs list shows the replica the decryptor has not answered yet */
    json_t *jobs = veil_store_list_json(s, "jobs", &err);
    CHECK(jobs != NULL);
    const char *state = NULL;
    for (size_t i = 0; i < json_array_size(jobs); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(jobs, i), "id")), id) == 0)
            state = json_string_value(json_object_get(json_array_get(jobs, i), "state"));
    CHECK(state && strcmp(state, "pending") == 0); /* replica 1 is still pending */
    json_decref(jobs);
    /* a retry goes back to scheduling and counts the attempt */
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_note(s, id, 0, "attempt 2 of 3: disagreed", &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_note(s, id, 5, "x", &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    /* spent: failed, from scheduling or awaiting_decryption */
    CHECK(veil_replica_transition_ok(VEIL_REPLICA_AWAITING_DECRYPTION, VEIL_REPLICA_FAILED));
    CHECK(!veil_replica_transition_ok(VEIL_REPLICA_PENDING, VEIL_REPLICA_FAILED));
    CHECK_EQ_INT(veil_store_replica_set_state(s, id, 0, VEIL_REPLICA_FAILED, NULL, &err), 0);
    json_t *detail = veil_store_job_json(s, id, &err);
    CHECK(detail != NULL);
    json_t *r0 = json_array_get(json_object_get(detail, "replica_states"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(r0, "state")), "failed");
    CHECK_EQ_INT(json_integer_value(json_object_get(r0, "attempts")), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(r0, "note")), "attempt 2 of 3: disagreed");
    json_decref(detail);
    jobs = veil_store_list_json(s, "jobs", &err);
    CHECK(jobs != NULL);
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *j = json_array_get(jobs, i);
        const char *want =
            strcmp(json_string_value(json_object_get(j, "id")), id) == 0 ? "failed" : "assigned";
        CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), want);
    }
    json_decref(jobs);
    veil_store_close(s);
    remove_tmpdir();
}

static int count_cb(void *ctx, const char *job, uint32_t replica, const char *node)
{
    (void)job, (void)replica;
    int *n = ctx;
    (*n)++;
    return node && strcmp(node, "stop") == 0;
}

static void test_node_lost_and_resume(void)
{
    make_tmpdir();
    veil_store *s;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    char a[65], b[65];
    job_hex(a, 10);
    job_hex(b, 11);
    CHECK_EQ_INT(veil_store_job_insert(s, a, "a", "{}", "p", "00", 3, &err), 0);
    CHECK_EQ_INT(veil_store_job_insert(s, b, "b", "{}", "p", "00", 1, &err), 0);
    struct veil_store_node dead = {.alive = true, .last_epoch = 1};
    snprintf(dead.peer_id, sizeof dead.peer_id, "nodeX");
    CHECK_EQ_INT(veil_store_node_upsert(s, &dead, &err), 0);
    /* a/0 running on X, a/1 assigned on X, a/2 running on Y, b/0 pending. */
    static const char *const nodes[3] = {"nodeX", "nodeX", "nodeY"};
    for (uint32_t r = 0; r < 3; r++) {
        CHECK_EQ_INT(veil_store_replica_set_state(s, a, r, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
        CHECK_EQ_INT(
            veil_store_replica_set_state(s, a, r, VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err), 0);
        CHECK_EQ_INT(veil_store_replica_set_state(s, a, r, VEIL_REPLICA_ASSIGNED, nodes[r], &err),
                     0);
        if (r != 1)
            CHECK_EQ_INT(veil_store_replica_set_state(s, a, r, VEIL_REPLICA_RUNNING, NULL, &err),
                         0);
    }
    size_t moved = 99;
    CHECK_EQ_INT(veil_store_node_lost(s, "nodeX", &moved, &err), 0);
    CHECK_EQ_INT(moved, 2);
    enum veil_replica_state st;
    CHECK_EQ_INT(veil_store_replica_get_state(s, a, 0, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_RESCHEDULING);
    CHECK_EQ_INT(veil_store_replica_get_state(s, a, 2, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_RUNNING);
    json_t *list = veil_store_list_json(s, "nodes", &err);
    CHECK(json_is_false(json_object_get(json_array_get(list, 0), "alive")));
    json_decref(list);
    /* Twice: nothing more to move. */
    CHECK_EQ_INT(veil_store_node_lost(s, "nodeX", &moved, &err), 0);
    CHECK_EQ_INT(moved, 0);
    /* What a restart resumes. */
    int n = 0;
    CHECK_EQ_INT(veil_store_each_replica(s, VEIL_REPLICA_RESCHEDULING, count_cb, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    n = 0;
    CHECK_EQ_INT(veil_store_each_replica(s, VEIL_REPLICA_PENDING, count_cb, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    n = 0;
    CHECK_EQ_INT(veil_store_each_replica(s, VEIL_REPLICA_EXITED, count_cb, &n, &err), 0);
    CHECK_EQ_INT(n, 0);
    veil_store_close(s);
    remove_tmpdir();
}

/* The writer: the intended history of jobs 0..n-1, replayed idempotently
 * (this is what a restarted veild does with its pending work). */
enum { CRASH_JOBS = 60, CRASH_REPLICAS = 3 };

static int writer(const char *dir)
{
    veil_store *s;
    veil_err err = {0};
    if (veil_store_open(&s, dir, &err) != 0) {
        fprintf(stderr, "writer: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < CRASH_JOBS; i++) {
        char id[65];
        job_hex(id, i);
        if (veil_store_job_insert(s, id, "job", "{}", "peer", "00", CRASH_REPLICAS, &err) != 0 &&
            err.code != VEIL_E_EXISTS) {
            fprintf(stderr, "writer: %s\n", err.msg);
            return 1;
        }
        for (uint32_t r = 0; r < CRASH_REPLICAS; r++) {
            char cid[64];
            bool created;
            snprintf(cid, sizeof cid, "c-%d-%u-%d", i, r, (int)getpid());
            if (veil_store_container_ensure(s, id, r, cid, &created, &err) != 0 ||
                veil_store_replica_set_state(s, id, r, VEIL_REPLICA_SCHEDULING, NULL, &err) != 0) {
                fprintf(stderr, "writer: %s\n", err.msg);
                return 1;
            }
        }
    }
    veil_store_close(s);
    return 0;
}

static void check_consistent(const char *dir, bool complete)
{
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    /* integrity, whole jobs only, one container per replica */
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* Killed before or during the first migration: no tables and version 0
     * (the migration is one transaction), never a half-made schema. */
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "SELECT (SELECT count(*) FROM sqlite_master WHERE type = "
                                    "'table'), (SELECT user_version FROM pragma_user_version)",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    int tables = sqlite3_column_int(st, 0), version = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (version == 0) {
        CHECK(!complete);
        CHECK_EQ_INT(tables, 0);
        sqlite3_close(db);
        return;
    }
    /* killed between two migration steps (each its own transaction): an
     * older but whole schema, which the next open migrates on */
    CHECK(version >= 1 && version <= VEIL_STORE_SCHEMA_VERSION);
    CHECK(!complete || version == VEIL_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(tables, version >= 7 ? 10 : version >= 5 ? 8 : version >= 4 ? 7 : 6);
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM jobs j WHERE (SELECT count(*) FROM "
                                    "replicas r WHERE r.job_id = j.id) != j.replicas",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM "
                                    "containers), (SELECT count(DISTINCT job_id || '/' || replica)"
                                    " FROM containers)",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    int jobs = sqlite3_column_int(st, 0), containers = sqlite3_column_int(st, 1),
        distinct = sqlite3_column_int(st, 2);
    CHECK_EQ_INT(containers, distinct);
    CHECK(containers <= jobs * CRASH_REPLICAS);
    if (complete) {
        CHECK_EQ_INT(jobs, CRASH_JOBS);
        CHECK_EQ_INT(containers, CRASH_JOBS * CRASH_REPLICAS);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_crash_resume(void)
{
    make_tmpdir();
    srand((unsigned)time(NULL));
    int kills = 0;
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(writer(tmpdir));
        /* Kill it somewhere in the middle of its writes. */
        struct timespec ts = {0, (long)(5 + rand() % 60) * 1000000L};
        nanosleep(&ts, NULL);
        if (kill(pid, SIGKILL) == 0)
            kills++;
        int status;
        CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
        CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
        check_consistent(tmpdir, false);
    }
    CHECK(kills > 0);
    /* The last replay runs to completion. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(writer(tmpdir));
    int status;
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_consistent(tmpdir, true);
    remove_tmpdir();
}

static struct veil_store_deferral deferral(int i, uint8_t *msg, size_t len, uint64_t first)
{
    struct veil_store_deferral d = {.msg = msg, .msg_len = len, .first_ms = first};
    job_hex(d.job_id, i);
    d.from_len = 4;
    memset(d.from, 0xa0 + i, d.from_len);
    return d;
}

/* Rows that a broken or tampered file could hold: each one skipped. */
static void plant_bad_deferrals(const char *dir)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/state.db", dir);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(
        sqlite3_exec(db,
                     "INSERT INTO intake_deferrals VALUES('short', x'01', x'', 1, 0, 1);"
                     "INSERT INTO intake_deferrals VALUES(printf('%064d', 7), x'', x'', 2, 0, 1);"
                     "INSERT INTO intake_deferrals VALUES(printf('%064d', 8), zeroblob(65537),"
                     " x'', 3, 0, 1);"
                     "INSERT INTO intake_deferrals VALUES(printf('%064d', 9), x'01',"
                     " zeroblob(65), 4, 0, 1);"
                     "INSERT INTO intake_deferrals VALUES(printf('%064d', 10), x'01', x'', 5,"
                     " -1, 1);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

static void test_deferrals(void)
{
    make_tmpdir();
    veil_store *s;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    uint8_t m1[3] = {1, 2, 3}, m2[2] = {4, 5}, none[1] = {0};
    struct veil_store_deferral a = deferral(1, m1, sizeof m1, 500), b = deferral(2, m2, 2, 100);
    b.from_len = 0; /* the node's own job */
    CHECK_EQ_INT(veil_store_deferral_put(s, &a, &err), 0);
    CHECK_EQ_INT(veil_store_deferral_put(s, &b, &err), 0);
    a.first_ms = 9999; /* a later check: only the attempts change */
    a.attempts = 4;
    CHECK_EQ_INT(veil_store_deferral_put(s, &a, &err), 0);
    struct veil_store_deferral bad = deferral(3, none, 0, 1);
    CHECK_EQ_INT(veil_store_deferral_put(s, &bad, &err), -1); /* no announcement */
    CHECK_EQ_INT(err.code, VEIL_E_INVALID);
    veil_store_close(s);
    plant_bad_deferrals(tmpdir);

    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    struct veil_store_deferral *v;
    size_t n, corrupt, rest;
    CHECK_EQ_INT(veil_store_deferrals_list(s, 16, &v, &n, &corrupt, &rest, &err), 0);
    CHECK_EQ_INT((int)n, 2);
    CHECK_EQ_INT((int)corrupt, 5);
    CHECK_EQ_INT((int)rest, 0);
    CHECK_EQ_STR(v[0].job_id, b.job_id); /* first deferred first */
    CHECK_EQ_INT((int)v[0].from_len, 0);
    CHECK_EQ_MEM(v[0].msg, m2, 2);
    CHECK_EQ_STR(v[1].job_id, a.job_id);
    CHECK_EQ_U64(v[1].first_ms, 500);
    CHECK_EQ_INT((int)v[1].attempts, 4);
    CHECK_EQ_INT((int)v[1].msg_len, 3);
    CHECK_EQ_MEM(v[1].msg, m1, 3);
    CHECK_EQ_INT((int)v[1].from_len, 4);
    CHECK_EQ_MEM(v[1].from, a.from, 4);
    veil_store_deferrals_free(v, n);
    /* the unreadable rows were removed (reported once); the caller's
     * bound: the oldest only, the rest stay stored and are counted */
    CHECK_EQ_INT(veil_store_deferrals_list(s, 1, &v, &n, &corrupt, &rest, &err), 0);
    CHECK_EQ_INT((int)n, 1);
    CHECK_EQ_INT((int)corrupt, 0);
    CHECK_EQ_INT((int)rest, 1);
    CHECK_EQ_STR(v[0].job_id, b.job_id);
    veil_store_deferrals_free(v, n);
    CHECK_EQ_INT(veil_store_deferral_drop(s, b.job_id, &err), 0);
    CHECK_EQ_INT(veil_store_deferral_drop(s, b.job_id, &err), 0); /* gone: no error */
    veil_store_close(s);

    /* a schema-4 store (before this table) opens, migrates and keeps its jobs */
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/state.db", tmpdir);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "DROP TABLE intake_deferrals; ALTER TABLE jobs DROP COLUMN"
                              " intake_ms; DROP TABLE chain_reads; DROP TABLE chain_members;"
                              " PRAGMA user_version = 4;"
                              "INSERT INTO jobs(id, name, spec_json, submitter, nonce, replicas,"
                              " created_ms) VALUES('v4job', 'o', '{}', 'p', '00', 1, 1);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    int ver = 0;
    CHECK_EQ_INT(veil_store_schema_version(s, &ver, &err), 0);
    CHECK_EQ_INT(ver, VEIL_STORE_SCHEMA_VERSION);
    struct veil_store_job job;
    CHECK_EQ_INT(veil_store_job_get(s, "v4job", &job, &err), 0);
    veil_store_job_free(&job);
    CHECK_EQ_INT(veil_store_deferrals_list(s, 16, &v, &n, &corrupt, &rest, &err), 0);
    CHECK_EQ_INT((int)n, 0);
    CHECK(v == NULL);
    CHECK_EQ_INT(veil_store_deferral_put(s, &a, &err), 0);
    veil_store_close(s);
    remove_tmpdir();
}

/* This node's intake check passed a job (schema 6, issue 18): not marked
 * when stored, marked once (the first time kept), kept across a reopen and
 * read as not passed for a job the store does not hold; a schema-5 store
 * migrates with its jobs unmarked. */
static void test_taken_in(void)
{
    make_tmpdir();
    veil_store *s;
    veil_err err = {0};
    char a[65], b[65];
    job_hex(a, 1);
    job_hex(b, 2);
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_job_insert(s, a, "a", "{}", "p", "00", 1, &err), 0);
    bool yes = true;
    CHECK_EQ_INT(veil_store_job_taken_in(s, a, &yes, &err), 0);
    CHECK(!yes);
    CHECK_EQ_INT(veil_store_job_set_taken_in(s, a, &err), 0);
    CHECK_EQ_INT(veil_store_job_set_taken_in(s, a, &err), 0); /* again: no-op */
    CHECK_EQ_INT(veil_store_job_set_taken_in(s, b, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    veil_store_close(s);

    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_job_taken_in(s, a, &yes, &err), 0);
    CHECK(yes);
    CHECK_EQ_INT(veil_store_job_taken_in(s, b, &yes, &err), 0);
    CHECK(!yes);
    veil_store_close(s);

    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/state.db", tmpdir);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "ALTER TABLE jobs DROP COLUMN intake_ms; DROP TABLE chain_reads;"
                              " DROP TABLE chain_members; PRAGMA user_version = 5;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    int ver = 0;
    CHECK_EQ_INT(veil_store_schema_version(s, &ver, &err), 0);
    CHECK_EQ_INT(ver, VEIL_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(veil_store_job_taken_in(s, a, &yes, &err), 0);
    CHECK(!yes); /* checked once more after the upgrade, as before it */
    veil_store_close(s);
    remove_tmpdir();
}

static struct veil_store_chain_member member(uint8_t n)
{
    struct veil_store_chain_member m;
    memset(m.address, n, sizeof m.address);
    memset(m.ed25519, 0x80 | n, sizeof m.ed25519);
    return m;
}

/* The stored member set of cluster 7 equals want[0..n) (sorted by address)
 * at `block`. */
static void check_members(veil_store *s, const struct veil_store_chain_member *want, size_t n,
                          uint64_t block)
{
    struct veil_store_chain_member *v = NULL;
    size_t got = 99;
    uint64_t at = 0;
    bool found = false;
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_chain_members_get(s, 7, &v, &got, &at, &found, &err), 0);
    CHECK(found);
    CHECK_EQ_U64(got, n);
    CHECK_EQ_U64(at, block);
    for (size_t i = 0; i < n && i < got; i++)
        CHECK_EQ_MEM(&v[i], &want[i], sizeof want[i]);
    free(v);
}

static void plant(const char *sql)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/state.db", tmpdir);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_chain_view_policy(void)
{
    veil_store *s;
    veil_err err = {0};
    uint8_t *abi = NULL;
    size_t len = 0;
    uint64_t block = 0;
    bool found = true;
    const uint8_t v1[] = {1, 2, 3, 4}, v2[] = {9, 8, 7, 6, 5};
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_chain_policy_get(s, 7, &abi, &len, &block, &found, &err), 0);
    CHECK(!found); /* a first start: nothing to start from */
    CHECK_EQ_INT(veil_store_chain_policy_put(s, 7, 100, v1, sizeof v1, &err), 0);
    CHECK_EQ_INT(veil_store_chain_policy_put(s, 7, 120, v2, sizeof v2, &err), 0);
    CHECK_EQ_INT(veil_store_chain_policy_put(s, 7, 1, v1, 0, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    veil_store_close(s);

    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_chain_policy_get(s, 7, &abi, &len, &block, &found, &err), 0);
    CHECK(found);
    CHECK_EQ_U64(block, 120);
    CHECK_EQ_U64(len, sizeof v2);
    CHECK_EQ_MEM(abi, v2, sizeof v2);
    free(abi);
    CHECK_EQ_INT(veil_store_chain_policy_get(s, 8, &abi, &len, &block, &found, &err), 0);
    CHECK(!found); /* another cluster's */
    veil_store_close(s);
    plant("UPDATE chain_reads SET data = x'' WHERE what = 'policy'");
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_chain_policy_get(s, 7, &abi, &len, &block, &found, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    CHECK(abi == NULL);
    veil_store_close(s);
}

static void test_chain_view_members(void)
{
    veil_store *s;
    veil_err err = {0};
    struct veil_store_chain_member m[4] = {member(1), member(2), member(3), member(4)};
    struct veil_store_chain_member *v = NULL;
    size_t n = 0;
    uint64_t block = 0;
    bool found = true;
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_chain_members_get(s, 7, &v, &n, &block, &found, &err), 0);
    CHECK(!found);
    CHECK_EQ_INT(veil_store_chain_members_put(
                     s, 7, 100, (struct veil_store_chain_member[]){m[2], m[0], m[1]}, 3, &err),
                 0);
    CHECK_EQ_INT(veil_store_chain_members_put(s, 8, 100, &m[3], 1, &err), 0);
    check_members(s, m, 3, 100);
    CHECK_EQ_INT(veil_store_chain_member_set(s, 7, 105, m[3].address, m[3].ed25519, &err), 0);
    check_members(s, m, 4, 105); /* registered on chain at 105 */
    CHECK_EQ_INT(veil_store_chain_member_set(s, 7, 106, m[0].address, NULL, &err), 0);
    check_members(s, &m[1], 3, 106); /* deactivated at 106 */
    veil_store_close(s);
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    check_members(s, &m[1], 3, 106);
    CHECK_EQ_INT(veil_store_chain_members_put(s, 7, 110, NULL, 0, &err), 0);
    check_members(s, NULL, 0, 110); /* an empty set is a stored set */
    CHECK_EQ_INT(veil_store_chain_members_put(s, 7, 1, m, VEIL_STORE_CHAIN_MEMBERS_MAX + 1, &err),
                 -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    check_members(s, NULL, 0, 110);
    veil_store_close(s);
    plant("INSERT INTO chain_members(cluster_id, address, ed25519) VALUES(7, x'01', x'02')");
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    CHECK_EQ_INT(veil_store_chain_members_get(s, 7, &v, &n, &block, &found, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    CHECK(v == NULL);
    veil_store_close(s);
}

/* Schema 7 (issue 18): both halves of the chain's view, then a schema-6
 * store (before these tables) migrating with its jobs and no view. */
static void test_chain_view(void)
{
    make_tmpdir();
    test_chain_view_policy();
    test_chain_view_members();
    veil_store *s;
    veil_err err = {0};
    plant("DROP TABLE chain_reads; DROP TABLE chain_members; PRAGMA user_version = 6;"
          "INSERT INTO jobs(id, name, spec_json, submitter, nonce, replicas, created_ms)"
          " VALUES('v6job', 'o', '{}', 'p', '00', 1, 1);");
    CHECK_EQ_INT(veil_store_open(&s, tmpdir, &err), 0);
    int ver = 0;
    CHECK_EQ_INT(veil_store_schema_version(s, &ver, &err), 0);
    CHECK_EQ_INT(ver, 7);
    struct veil_store_job job;
    CHECK_EQ_INT(veil_store_job_get(s, "v6job", &job, &err), 0);
    veil_store_job_free(&job);
    struct veil_store_chain_member *v = NULL;
    size_t n = 0;
    uint64_t block = 0;
    bool found = true;
    CHECK_EQ_INT(veil_store_chain_members_get(s, 7, &v, &n, &block, &found, &err), 0);
    CHECK(!found);
    veil_store_close(s);
    remove_tmpdir();
}

VTEST_MAIN(VTEST(test_schema_and_state_machine), VTEST(test_exited_rebound),
           VTEST(test_retry_note_and_migration), VTEST(test_node_lost_and_resume),
           VTEST(test_crash_resume), VTEST(test_deferrals), VTEST(test_taken_in),
           VTEST(test_chain_view))
