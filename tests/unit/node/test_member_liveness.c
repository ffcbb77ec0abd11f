// SPDX-License-Identifier: Apache-2.0
/*
 * test_member_liveness.c - SWIM is the only authority over a member's
 * liveness (src/node/daemon_members.c, issue 18): telemetry of a member SWIM
 * declared dead (a paused node's late message, one relayed or served again
 * from a peer's cache) is kept for the rounds but does not revive it, and
 * telemetry older than the newest held is dropped. Before this, telemetry
 * set `alive`, so a late message undid SWIM's verdict until its next event.
 */
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_members.h"
#include "../../vtest.h"

static void free_hist(struct member *m)
{
    for (size_t k = 0; k < TELEMETRY_HISTORY; k++)
        free(m->hist[k].data);
}

static void test_dead_stays_dead(void)
{
    struct member m;
    memset(&m, 0, sizeof m);
    const uint8_t ct[4] = {1, 2, 3, 4};
    m.alive = false; /* SWIM declared it dead */
    CHECK_EQ_INT(veil_daemon_member_take_telemetry(&m, 7, ct, sizeof ct), 0);
    CHECK(!m.alive);
    CHECK_EQ_U64(m.epoch, 7);
    CHECK_EQ_U64(veil_daemon_member_hist_at(&m, 7) < TELEMETRY_HISTORY, 1);
    CHECK_EQ_MEM(m.hist[veil_daemon_member_hist_at(&m, 7)].data, ct, sizeof ct);
    /* older than the newest held: dropped, nothing changes */
    CHECK_EQ_INT(veil_daemon_member_take_telemetry(&m, 6, ct, sizeof ct), -1);
    CHECK_EQ_U64(m.epoch, 7);
    /* empty: refused */
    CHECK_EQ_INT(veil_daemon_member_take_telemetry(&m, 8, ct, 0), -1);
    free_hist(&m);
}

static void test_alive_stays_alive(void)
{
    struct member m;
    memset(&m, 0, sizeof m);
    const uint8_t ct[2] = {5, 6};
    m.alive = true; /* telemetry does not mark it dead either */
    CHECK_EQ_INT(veil_daemon_member_take_telemetry(&m, 3, ct, sizeof ct), 0);
    CHECK_EQ_INT(veil_daemon_member_take_telemetry(&m, 3, ct, sizeof ct), 0); /* same epoch */
    CHECK(m.alive);
    free_hist(&m);
}

VTEST_MAIN(VTEST(test_dead_stays_dead), VTEST(test_alive_stays_alive))
