/*
 * test_round.c - epochs, the candidate list of a round (alive, fresh, one
 * entry per peer, sorted by peer ID), output digests and the decryptor's
 * guard (no decryption without a majority digest that matches the output;
 * never for a telemetry ciphertext).
 */
#include <string.h>

#include <veil/node.h>

#include "vtest.h"

static struct veil_peer_id peer(uint8_t tag)
{
    struct veil_peer_id p = {.len = 38};
    static const uint8_t prefix[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    memcpy(p.bytes, prefix, 6);
    memset(p.bytes + 6, tag, 32);
    return p;
}

static void test_epochs(void)
{
    CHECK_EQ_U64(veil_epoch_of(0, 10000), 0);
    CHECK_EQ_U64(veil_epoch_of(9999, 10000), 0);
    CHECK_EQ_U64(veil_epoch_of(10000, 10000), 1);
    CHECK_EQ_U64(veil_epoch_of(1700000000123ull, 10000), 170000000);
    CHECK_EQ_U64(veil_epoch_of(5, 0), 0);
}

static void test_candidates(void)
{
    struct veil_telemetry_seen seen[] = {
        {peer(9), 100, true},    /* 0: fresh */
        {peer(3), 97, true},     /* 1: exactly max_age old: kept */
        {peer(5), 96, true},     /* 2: stale: expired */
        {peer(7), 100, false},   /* 3: dead */
        {peer(1), 101, true},    /* 4: from the future: not in this round */
        {peer(3), 99, true},     /* 5: newer entry of peer 3 supersedes 1 */
        {peer(2), 100, true},    /* 6 */
        {{.len = 0}, 100, true}, /* 7: no peer */
    };
    size_t idx[8];
    size_t n = veil_round_candidates(seen, 8, 100, VEIL_TELEMETRY_MAX_AGE_EPOCHS, idx);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(idx[0], 6); /* peer 2 */
    CHECK_EQ_INT(idx[1], 5); /* peer 3, its epoch-99 entry */
    CHECK_EQ_INT(idx[2], 0); /* peer 9 */
    /* Order of the input does not change the result. */
    struct veil_telemetry_seen rev[8];
    for (int i = 0; i < 8; i++)
        rev[i] = seen[7 - i];
    size_t idx2[8];
    CHECK_EQ_INT(veil_round_candidates(rev, 8, 100, VEIL_TELEMETRY_MAX_AGE_EPOCHS, idx2), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_MEM(&rev[idx2[i]], &seen[idx[i]], sizeof seen[0]);
    /* A newer but dead entry hides an older alive one: the peer is out. */
    struct veil_telemetry_seen d[] = {{peer(4), 100, true}, {peer(4), 101, false}};
    CHECK_EQ_INT(veil_round_candidates(d, 2, 101, 3, idx), 0);
}

static void test_guard(void)
{
    uint8_t job[32], other_job[32];
    memset(job, 0xAB, 32);
    memset(other_job, 0xCD, 32);
    const uint8_t output[] = "serialized [index, found] ciphertexts";
    const uint8_t telemetry_ct[] = "a node's telemetry ciphertext";
    struct veil_peer_id sched[3] = {peer(1), peer(2), peer(3)};
    struct veil_published_digest pub[3];
    for (int i = 0; i < 3; i++) {
        pub[i].scheduler = sched[i];
        veil_sched_output_digest(pub[i].digest, job, 0, 42, output, sizeof output);
    }
    veil_err err = {0};
    /* All agree: decrypt. */
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, pub, 3, &err), 0);
    /* 2 of 3 agree: decrypt. */
    pub[2].digest[0] ^= 1;
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, pub, 3, &err), 0);
    /* Only one vote (two schedulers down or lying): refuse. */
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, pub, 1, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK_CONTAINS(err.msg, "no majority");
    /* A telemetry ciphertext handed over as the output: refused. */
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 0, 42, telemetry_ct, sizeof telemetry_ct, sched, 3, pub, 3, &err),
        -1);
    CHECK_CONTAINS(err.msg, "does not match");
    /* Even if a majority published the digest of a telemetry ciphertext for
     * one job, it is bound to that job, replica and epoch only. */
    for (int i = 0; i < 3; i++)
        veil_sched_output_digest(pub[i].digest, job, 0, 42, telemetry_ct, sizeof telemetry_ct);
    CHECK_EQ_INT(veil_decrypt_guard(other_job, 0, 42, telemetry_ct, sizeof telemetry_ct, sched, 3,
                                    pub, 3, &err),
                 -1);
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 1, 42, telemetry_ct, sizeof telemetry_ct, sched, 3, pub, 3, &err),
        -1);
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 0, 43, telemetry_ct, sizeof telemetry_ct, sched, 3, pub, 3, &err),
        -1);
    /* Digests from peers that are not the job's schedulers do not count. */
    struct veil_published_digest outsiders[3];
    for (int i = 0; i < 3; i++) {
        outsiders[i].scheduler = peer((uint8_t)(50 + i));
        veil_sched_output_digest(outsiders[i].digest, job, 0, 42, output, sizeof output);
    }
    CHECK_EQ_INT(
        veil_decrypt_guard(job, 0, 42, output, sizeof output, sched, 3, outsiders, 3, &err), -1);
    CHECK_EQ_INT(veil_decrypt_guard(job, 0, 42, output, 0, sched, 3, outsiders, 3, &err), -1);
}

VTEST_MAIN(VTEST(test_epochs), VTEST(test_candidates), VTEST(test_guard))
