// SPDX-License-Identifier: Apache-2.0
/*
 * test_intake_defer.c - the jobs intake holds while the cluster's policy is
 * unreadable (src/node/daemon_intake.c, issue 18): a deferred job is kept
 * with its announcement and author, checked again with a doubling backoff
 * capped at 30 s, held once (a re-announcement adds nothing), refused only
 * after the longest wait or when the queue is full, and forgotten once its
 * check ran. Before this, intake refused the job on the first failed read.
 */
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_intake.h"
#include "../../vtest.h"

static struct intake_deferred entry(unsigned n, uint64_t now, uint32_t attempts)
{
    struct intake_deferred e = {.len = 5, .from_len = 3, .first_ms = now, .attempts = attempts};
    snprintf(e.job_hex, sizeof e.job_hex, "%064x", n + 1);
    e.next_ms = now + intake_defer_backoff_ms(attempts);
    return e;
}

static void test_backoff(void)
{
    CHECK_EQ_U64(intake_defer_backoff_ms(0), 2000);
    CHECK_EQ_U64(intake_defer_backoff_ms(1), 4000);
    CHECK_EQ_U64(intake_defer_backoff_ms(3), 16000);
    CHECK_EQ_U64(intake_defer_backoff_ms(4), 30000);
    CHECK_EQ_U64(intake_defer_backoff_ms(1000000), 30000);
    struct intake_deferred e = entry(0, 1000, 0);
    CHECK(!intake_defer_expired(&e, 1000 + INTAKE_DEFER_LIMIT_MS - 1));
    CHECK(intake_defer_expired(&e, 1000 + INTAKE_DEFER_LIMIT_MS));
    CHECK(!intake_defer_expired(&e, 10)); /* a clock that stepped back is no expiry */
}

static void test_held_once_and_due(void)
{
    struct intake_deferrals q = {0};
    veil_err err = {0};
    const uint8_t msg[5] = {1, 2, 3, 4, 5}, from[3] = {9, 8, 7}, other[5] = {0};
    struct intake_deferred a = entry(0, 1000, 0), b = entry(1, 1500, 0);
    CHECK_EQ_INT(intake_defer_put(&q, &a, msg, from, &err), 1);
    b.from_len = 0; /* this node's own job: no gossip author */
    CHECK_EQ_INT(intake_defer_put(&q, &b, msg, NULL, &err), 1);
    /* the submitter's re-announcement of a held job: kept as first held */
    struct intake_deferred again = entry(0, 2000, 0);
    CHECK_EQ_INT(intake_defer_put(&q, &again, other, from, &err), 0);
    CHECK_EQ_INT((int)q.n, 2);
    CHECK(intake_defer_has(&q, a.job_hex));

    struct intake_deferred out;
    CHECK(!intake_defer_pop_due(&q, 2999, &out)); /* nothing due before 2 s */
    CHECK(intake_defer_pop_due(&q, 3000, &out));
    CHECK_EQ_STR(out.job_hex, a.job_hex);
    CHECK_EQ_U64(out.first_ms, 1000);
    CHECK_EQ_MEM(out.msg, msg, 5);           /* the announcement as received */
    CHECK_EQ_MEM(out.msg + 5, from, 3);      /* and its gossip author */
    CHECK(!intake_defer_has(&q, a.job_hex)); /* the caller holds it now */
    free(out.msg);

    /* still unreadable: every due job waits one more step */
    intake_defer_postpone_due(&q, 3500);
    CHECK_EQ_INT((int)q.v[0].attempts, 1);
    CHECK_EQ_U64(q.v[0].next_ms, 3500 + 4000);
    CHECK(!intake_defer_pop_due(&q, 7499, &out));

    /* its check ran (taken in or refused by a readable policy): forgotten */
    intake_defer_drop(&q, b.job_hex);
    CHECK_EQ_INT((int)q.n, 0);
    intake_defer_drop(&q, b.job_hex); /* not held: nothing */
    intake_defer_free(&q);
}

static void test_bounded(void)
{
    struct intake_deferrals q = {0};
    veil_err err = {0};
    const uint8_t msg[5] = {0};
    for (unsigned i = 0; i < INTAKE_DEFER_MAX; i++) {
        struct intake_deferred e = entry(i, 0, 0);
        CHECK_EQ_INT(intake_defer_put(&q, &e, msg, msg, &err), 1);
    }
    struct intake_deferred over = entry(INTAKE_DEFER_MAX, 0, 0);
    CHECK_EQ_INT(intake_defer_put(&q, &over, msg, msg, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_CONTAINS(err.msg, "wait for the policy");
    struct intake_deferred empty = entry(INTAKE_DEFER_MAX + 1, 0, 0);
    empty.len = 0;
    intake_defer_drop(&q, q.v[0].job_hex);
    CHECK_EQ_INT(intake_defer_put(&q, &empty, msg, msg, &err), -1);
    intake_defer_free(&q);
    CHECK_EQ_INT((int)q.n, 0);
}

VTEST_MAIN(VTEST(test_backoff), VTEST(test_held_once_and_due), VTEST(test_bounded))
