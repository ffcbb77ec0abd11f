// SPDX-License-Identifier: Apache-2.0
/*
 * test_holder_votes.c - the rules a threshold cluster's nodes apply to the
 * key holders' decisions (src/node/daemon_holder.c, daemon_decryptor.c,
 * daemon_tables.c), on veild's own code over a real store, with a daemon
 * that has no network:
 *  1. a batch output's decrypted (index, found) pairs name distinct
 *     candidates of the output, or the output is refused
 *     (veil_daemon_pairs_nodes: the designated decryptor's rule, now the
 *     key holders' too).
 */
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_core.h"
#include "../../vtest.h"

/* ---- 1: the pairs of a batch output ---- */

static void test_pairs_nodes(void)
{
    struct veil_peer_id cands[3];
    for (int i = 0; i < 3; i++) {
        cands[i].len = 1;
        cands[i].bytes[0] = (uint8_t)(0xa0 + i);
    }
    const struct veil_peer_id *nodes[4];
    veil_err err = {0};
    uint32_t index[4] = {2, 0, 1, 0};
    bool found[4] = {true, true, true, false};
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), 0);
    CHECK(nodes[0] == &cands[2] && nodes[1] == &cands[0] && nodes[2] == &cands[1]);
    CHECK(nodes[3] == NULL); /* not found: unschedulable (its index is not looked at) */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, true, cands, 3, nodes, &err), 0);
    for (int j = 0; j < 4; j++)
        CHECK(nodes[j] == NULL); /* the output named no candidate */
    found[3] = true; /* replicas 1 and 3 on one node */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), -1);
    CHECK(strstr(err.msg, "replicas 1 and 3 on one node") != NULL);
    index[3] = 3; /* no such candidate */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), -1);
    CHECK(strstr(err.msg, "index 3 of 3 candidates") != NULL);
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 0, false, cands, 3, nodes, &err), -1);
}

VTEST_MAIN(VTEST(test_pairs_nodes))
