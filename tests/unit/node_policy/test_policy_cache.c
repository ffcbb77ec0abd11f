// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy_cache.c - when veild reads the cluster's on-chain policy again
 * (veil_daemon_policy_needs_read): no copy yet, a PolicyChanged event seen,
 * or the copy VEIL_POLICY_MAX_AGE_MS old; otherwise the cached copy serves.
 */
#include "../../../src/node/daemon_policy.h"
#include "../../vtest.h"

static void test_first_use(void)
{
    CHECK(veil_daemon_policy_needs_read(false, false, 0, 0));
    CHECK(veil_daemon_policy_needs_read(false, false, 5000, 5000));
}

static void test_fresh_copy_serves(void)
{
    CHECK(!veil_daemon_policy_needs_read(true, false, 1000, 1000));
    CHECK(!veil_daemon_policy_needs_read(true, false, 1000 + VEIL_POLICY_MAX_AGE_MS - 1, 1000));
}

static void test_event_forces_read(void)
{
    /* a change seen on chain: read again at once, however young the copy */
    CHECK(veil_daemon_policy_needs_read(true, true, 1000, 1000));
    CHECK(veil_daemon_policy_needs_read(true, true, 1001, 1000));
    CHECK(veil_daemon_policy_needs_read(false, true, 1001, 1000));
}

static void test_max_age(void)
{
    CHECK(VEIL_POLICY_MAX_AGE_MS == 10000);
    CHECK(veil_daemon_policy_needs_read(true, false, 1000 + VEIL_POLICY_MAX_AGE_MS, 1000));
    CHECK(veil_daemon_policy_needs_read(true, false, UINT64_MAX, 0));
    /* a clock reading before the copy was taken: read again, never trust it */
    CHECK(veil_daemon_policy_needs_read(true, false, 999, 1000));
}

VTEST_MAIN(VTEST(test_first_use), VTEST(test_fresh_copy_serves), VTEST(test_event_forces_read),
           VTEST(test_max_age))
