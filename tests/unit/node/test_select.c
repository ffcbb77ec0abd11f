// SPDX-License-Identifier: Apache-2.0
/*
 * test_select.c - rendezvous selection of schedulers (deterministic, order
 * independent, top-k by weight, minimal disruption) and the majority-digest
 * rule of the decryptor.
 */
#include <string.h>

#include <sodium.h>

#include <veil/node.h>

#include "vtest.h"

static struct veil_peer_id peer(int i)
{
    struct veil_peer_id p = {.len = 38};
    p.bytes[0] = 0x00, p.bytes[1] = 0x24, p.bytes[2] = 0x08, p.bytes[3] = 0x01;
    p.bytes[4] = 0x12, p.bytes[5] = 0x20;
    memset(p.bytes + 6, 0, 32);
    p.bytes[6] = (uint8_t)i;
    p.bytes[7] = (uint8_t)(i >> 8);
    return p;
}

static void weight(uint8_t w[32], const uint8_t job[32], const struct veil_peer_id *p)
{
    /* Recomputed here from the documented formula. */
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)"veil-sched-v1", 13);
    crypto_generichash_update(&st, job, 32);
    crypto_generichash_update(&st, &p->len, 1);
    crypto_generichash_update(&st, p->bytes, p->len);
    crypto_generichash_final(&st, w, 32);
}

static void test_rendezvous(void)
{
    enum { N = 20 };
    struct veil_peer_id alive[N], rev[N];
    for (int i = 0; i < N; i++) {
        alive[i] = peer(i);
        rev[N - 1 - i] = alive[i];
    }
    for (int job = 0; job < 50; job++) {
        uint8_t id[32] = {0};
        id[0] = (uint8_t)job;
        size_t chosen[3], chosen_rev[3];
        size_t n = veil_select_schedulers(id, alive, N, 3, chosen);
        CHECK_EQ_INT(n, 3);
        CHECK_EQ_INT(veil_select_schedulers(id, rev, N, 3, chosen_rev), 3);
        /* Order of the membership list does not matter. */
        for (int k = 0; k < 3; k++)
            CHECK_EQ_MEM(alive[chosen[k]].bytes, rev[chosen_rev[k]].bytes, 38);
        /* They are the three highest weights, in descending order. */
        uint8_t w[N][32];
        for (int i = 0; i < N; i++)
            weight(w[i], id, &alive[i]);
        for (int k = 0; k + 1 < 3; k++)
            CHECK(memcmp(w[chosen[k]], w[chosen[k + 1]], 32) > 0);
        for (int i = 0; i < N; i++) {
            if (i == (int)chosen[0] || i == (int)chosen[1] || i == (int)chosen[2])
                continue;
            CHECK(memcmp(w[i], w[chosen[2]], 32) < 0);
        }
        /* Removing a non-chosen member changes nothing. */
        struct veil_peer_id fewer[N];
        size_t m = 0, drop = (chosen[0] + 1) % N;
        while (drop == chosen[1] || drop == chosen[2] || drop == chosen[0])
            drop = (drop + 1) % N;
        for (size_t i = 0; i < N; i++)
            if (i != drop)
                fewer[m++] = alive[i];
        size_t c2[3];
        CHECK_EQ_INT(veil_select_schedulers(id, fewer, m, 3, c2), 3);
        for (int k = 0; k < 3; k++)
            CHECK_EQ_MEM(fewer[c2[k]].bytes, alive[chosen[k]].bytes, 38);
    }
    /* Fewer members than schedulers; duplicates count once. */
    uint8_t id[32] = {7};
    struct veil_peer_id two[3] = {peer(1), peer(2), peer(1)};
    size_t c[3];
    CHECK_EQ_INT(veil_select_schedulers(id, two, 3, 3, c), 2);
    CHECK_EQ_INT(veil_select_schedulers(id, two, 0, 3, c), 0);
}

static void test_majority(void)
{
    struct veil_peer_id s[3] = {peer(1), peer(2), peer(3)};
    uint8_t d1[32], d2[32], agreed[32];
    memset(d1, 0x11, 32);
    memset(d2, 0x22, 32);
    struct veil_published_digest pub[6];
    /* 2 of 3 agree. */
    pub[0] = (struct veil_published_digest){.scheduler = s[0]};
    memcpy(pub[0].digest, d1, 32);
    pub[1] = (struct veil_published_digest){.scheduler = s[1]};
    memcpy(pub[1].digest, d2, 32);
    pub[2] = (struct veil_published_digest){.scheduler = s[2]};
    memcpy(pub[2].digest, d1, 32);
    CHECK(veil_digest_majority(s, 3, pub, 3, agreed));
    CHECK_EQ_MEM(agreed, d1, 32);
    /* One of three alone is not a majority (a dead scheduler: 1 vote). */
    CHECK(!veil_digest_majority(s, 3, pub, 1, agreed));
    /* All three differ. */
    pub[2].digest[0] = 0x33;
    CHECK(!veil_digest_majority(s, 3, pub, 3, agreed));
    /* A scheduler voting twice counts once (its first digest). */
    pub[2] = pub[1];
    memcpy(pub[2].digest, d1, 32);
    CHECK(!veil_digest_majority(s, 3, pub, 3, agreed));
    /* Outsiders do not vote. */
    pub[3] = (struct veil_published_digest){.scheduler = peer(99)};
    memcpy(pub[3].digest, d1, 32);
    pub[4] = (struct veil_published_digest){.scheduler = peer(98)};
    memcpy(pub[4].digest, d1, 32);
    CHECK(!veil_digest_majority(s, 3, pub, 5, agreed));
    /* With one scheduler, its digest is the majority; with two, both must agree. */
    CHECK(veil_digest_majority(s, 1, pub, 1, agreed));
    CHECK_EQ_MEM(agreed, d1, 32);
    CHECK(!veil_digest_majority(s, 2, pub, 2, agreed));
    memcpy(pub[1].digest, d1, 32);
    CHECK(veil_digest_majority(s, 2, pub, 2, agreed));
    /* No schedulers: never agreement. */
    CHECK(!veil_digest_majority(s, 0, pub, 2, agreed));
}

VTEST_MAIN(VTEST(test_rendezvous), VTEST(test_majority))
