// SPDX-License-Identifier: Apache-2.0
/*
 * test_store_current.c - a later assignment of a replica to the node that
 * runs it (src/node/store.c veil_store_assignment_add, issue 18): a node
 * declared dead while its container ran and chosen again by the reschedule
 * records the later assignment as the replica's current one (its
 * commitment, which the decryptor anchors, is in the node's view) while the
 * replica stays running there, bound to the same node: no restart, no
 * second copy. Before this the runner dropped the later assignment, so an
 * anchored commitment was in no node's view.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/node.h>

#include "../../vtest.h"

static struct veil_store_assignment assignment(const char *job, uint64_t epoch, char mark)
{
    struct veil_store_assignment a = {.replica = 0, .epoch = epoch};
    snprintf(a.job_id, sizeof a.job_id, "%s", job);
    snprintf(a.node, sizeof a.node, "12D3KooWrunner");
    memset(a.output_digest, 'a', 64);
    memset(a.signature, 'b', 128);
    memset(a.commitment, mark, 64);
    return a;
}

/* The commitments of the job's assignment rows, in the order recorded. */
static size_t commitments(veil_store *s, const char *job, char out[4][65])
{
    veil_err err = {0};
    json_t *rows = veil_store_list_json(s, "assignments", &err), *row;
    size_t i, n = 0;
    CHECK(rows != NULL);
    json_array_foreach(rows, i, row)
    {
        const char *j = json_string_value(json_object_get(row, "job_id"));
        const char *c = json_string_value(json_object_get(row, "commitment"));
        if (j && c && strcmp(j, job) == 0 && n < 4)
            snprintf(out[n++], 65, "%s", c);
    }
    json_decref(rows);
    return n;
}

static void test_later_assignment_of_a_running_replica(void)
{
    char dir[] = "/tmp/veil-store-cur-XXXXXX", job[65], node[96], got[4][65];
    CHECK(mkdtemp(dir) != NULL);
    veil_store *s;
    veil_err err = {0};
    enum veil_replica_state st;
    CHECK_EQ_INT(veil_store_open(&s, dir, &err), 0);
    snprintf(job, sizeof job, "%064x", 42);
    CHECK_EQ_INT(veil_store_job_insert(s, job, "long", "{}", "peerS", "00", 1, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, job, 0, VEIL_REPLICA_SCHEDULING, NULL, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(s, job, 0, VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err), 0);
    struct veil_store_assignment first = assignment(job, 4, 'c'), later = assignment(job, 9, 'd');
    CHECK_EQ_INT(veil_store_assignment_record(s, &first, &err), 0);
    CHECK_EQ_INT(veil_store_replica_set_state(s, job, 0, VEIL_REPLICA_RUNNING, NULL, &err), 0);

    /* the reschedule chose the runner again: recorded, still running there */
    bool added = false;
    CHECK_EQ_INT(veil_store_assignment_add(s, &later, &added, &err), 0);
    CHECK(added);
    CHECK_EQ_INT(veil_store_assignment_add(s, &later, &added, &err), 0); /* delivered again */
    CHECK(!added);
    CHECK_EQ_INT(veil_store_replica_get_state(s, job, 0, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_RUNNING);
    CHECK_EQ_INT(veil_store_replica_get_node(s, job, 0, node, sizeof node, &err), 0);
    CHECK_EQ_STR(node, "12D3KooWrunner");
    CHECK_EQ_INT((int)commitments(s, job, got), 2);
    CHECK_EQ_STR(got[0], first.commitment);
    CHECK_EQ_STR(got[1], later.commitment); /* the current one: the latest row */

    /* an exited replica keeps its end likewise */
    CHECK_EQ_INT(veil_store_replica_set_state(s, job, 0, VEIL_REPLICA_EXITED, NULL, &err), 0);
    struct veil_store_assignment third = assignment(job, 12, 'e');
    CHECK_EQ_INT(veil_store_assignment_add(s, &third, NULL, &err), 0);
    CHECK_EQ_INT(veil_store_replica_get_state(s, job, 0, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_EXITED);
    CHECK_EQ_INT((int)commitments(s, job, got), 3);

    /* a replica the store does not hold: refused, nothing recorded */
    struct veil_store_assignment none = assignment(job, 13, 'f');
    snprintf(none.job_id, sizeof none.job_id, "%064x", 43);
    CHECK_EQ_INT(veil_store_assignment_add(s, &none, &added, &err), -1);
    veil_store_close(s);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

VTEST_MAIN(VTEST(test_later_assignment_of_a_running_replica))
