// SPDX-License-Identifier: Apache-2.0
/*
 * test_msg_sync.c - the inclusion-proof request and answer
 * (src/node/msg_sync.c): round trips, and every bound the decoder checks
 * (version, counts over VEIL_PROOF_QUERY_MAX, a depth over
 * VEIL_PROOF_DEPTH_MAX, truncation, trailing bytes); the catch-up request,
 * its answer and the decisions digest.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/msg_sync.h>

#include "../../vtest.h"

static void test_request_roundtrip(void)
{
    struct veil_proof_query q[3], back[VEIL_PROOF_QUERY_MAX];
    for (int i = 0; i < 3; i++) {
        memset(q[i].job, 0x10 + i, 32);
        memset(q[i].commitment, 0x20 + i, 32);
    }
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_msg_proof_request_encode(&b, q, 3, &err), 0);
    CHECK_EQ_INT(b.len, 3 + 3 * 64);
    size_t n = 0;
    CHECK_EQ_INT(veil_msg_proof_request_decode(b.data, b.len, back, VEIL_PROOF_QUERY_MAX, &n, &err),
                 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_MEM(back[2].commitment, q[2].commitment, 32);
    /* trailing byte, truncation, wrong version, zero and too many entries */
    veil_buf_put_u8(&b, 0);
    CHECK(veil_msg_proof_request_decode(b.data, b.len, back, VEIL_PROOF_QUERY_MAX, &n, &err) != 0);
    CHECK(veil_msg_proof_request_decode(b.data, b.len - 2, back, VEIL_PROOF_QUERY_MAX, &n, &err) !=
          0);
    b.data[0] = 2;
    CHECK(veil_msg_proof_request_decode(b.data, b.len - 1, back, VEIL_PROOF_QUERY_MAX, &n, &err) !=
          0);
    CHECK(veil_msg_proof_request_encode(&b, q, 0, &err) != 0);
    uint8_t many[3] = {VEIL_PROOF_VERSION, 0, VEIL_PROOF_QUERY_MAX + 1};
    CHECK(veil_msg_proof_request_decode(many, sizeof many, back, VEIL_PROOF_QUERY_MAX, &n, &err) !=
          0);
    uint8_t none[3] = {VEIL_PROOF_VERSION, 0, 0};
    CHECK(veil_msg_proof_request_decode(none, sizeof none, back, VEIL_PROOF_QUERY_MAX, &n, &err) !=
          0);
    veil_buf_free(&b);
}

static void test_answer_roundtrip(void)
{
    struct veil_proof_answer *a = calloc(2, sizeof *a);
    struct veil_proof_answer *back = calloc(VEIL_PROOF_QUERY_MAX, sizeof *back);
    CHECK(a && back);
    if (!a || !back)
        return;
    memset(a[0].job, 1, 32);
    a[0].epoch = 77;
    a[0].depth = 3;
    memset(a[0].proof[2], 9, 32);
    a[1].depth = 0;
    memset(a[1].root, 5, 32);
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_msg_proof_answer_encode(&b, a, 2, &err), 0);
    size_t n = 0;
    CHECK_EQ_INT(veil_msg_proof_answer_decode(b.data, b.len, back, VEIL_PROOF_QUERY_MAX, &n, &err),
                 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_U64(back[0].epoch, 77);
    CHECK_EQ_INT(back[0].depth, 3);
    CHECK_EQ_MEM(back[0].proof[2], a[0].proof[2], 32);
    CHECK_EQ_MEM(back[1].root, a[1].root, 32);
    /* a depth over the bound is refused both ways */
    size_t depth_at = 3 + 32 + 32 + 8 + 32 + 32;
    b.data[depth_at] = VEIL_PROOF_DEPTH_MAX + 1;
    CHECK(veil_msg_proof_answer_decode(b.data, b.len, back, VEIL_PROOF_QUERY_MAX, &n, &err) != 0);
    a[0].depth = VEIL_PROOF_DEPTH_MAX + 1;
    veil_buf_reset(&b);
    CHECK(veil_msg_proof_answer_encode(&b, a, 1, &err) != 0);
    /* an empty answer (the peer holds none) is valid */
    veil_buf_reset(&b);
    CHECK_EQ_INT(veil_msg_proof_answer_encode(&b, a, 0, &err), 0);
    CHECK_EQ_INT(veil_msg_proof_answer_decode(b.data, b.len, back, VEIL_PROOF_QUERY_MAX, &n, &err),
                 0);
    CHECK_EQ_INT(n, 0);
    veil_buf_free(&b);
    free(a);
    free(back);
}

static void test_catchup_messages(void)
{
    struct veil_catchup_have h[2];
    memset(h, 0, sizeof h);
    h[0].job[0] = 1;
    h[1].digest[31] = 9;
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_msg_catchup_request_encode(&b, h, 2, &err), 0);
    struct veil_catchup_have *back = NULL;
    size_t n = 0;
    CHECK_EQ_INT(veil_msg_catchup_request_decode(b.data, b.len, &back, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(back && back[1].digest[31] == 9);
    free(back);
    /* a count that does not match the bytes is refused */
    b.data[4] = 3;
    CHECK(veil_msg_catchup_request_decode(b.data, b.len, &back, &n, &err) != 0);
    uint8_t huge[5] = {1, 0xff, 0xff, 0xff, 0xff};
    CHECK(veil_msg_catchup_request_decode(huge, sizeof huge, &back, &n, &err) != 0);
    /* answers borrow their assignment bytes */
    struct veil_catchup_answer *a = calloc(1, sizeof *a), *ab = calloc(1, sizeof *ab);
    CHECK(a && ab);
    if (!a || !ab)
        return;
    static const uint8_t m1[] = {4, 1, 2}, m2[] = {4};
    a->announced = 2;
    a->n = 2;
    a->asg[0] = m1;
    a->asg_len[0] = sizeof m1;
    a->asg[1] = m2;
    a->asg_len[1] = sizeof m2;
    veil_buf_reset(&b);
    CHECK_EQ_INT(veil_msg_catchup_answer_encode(&b, a, &err), 0);
    CHECK_EQ_INT(veil_msg_catchup_answer_decode(b.data, b.len, ab, &err), 0);
    CHECK_EQ_INT(ab->announced, 2);
    CHECK_EQ_INT(ab->n, 2);
    CHECK_EQ_MEM(ab->asg[0], m1, sizeof m1);
    CHECK(veil_msg_catchup_answer_decode(b.data, b.len - 1, ab, &err) != 0);
    a->asg_len[1] = 0; /* an empty assignment is not one */
    veil_buf_reset(&b);
    CHECK(veil_msg_catchup_answer_encode(&b, a, &err) != 0);
    free(a);
    free(ab);
    veil_buf_free(&b);
    /* the digest: order of replicas and commitments matters, none is zero */
    struct veil_catchup_digest d1 = {0}, d2 = {0}, d0 = {0};
    uint8_t c1[32] = {1}, c2[32] = {2}, o1[32], o2[32], o0[32], zero[32] = {0};
    veil_catchup_digest_add(&d1, 0, c1);
    veil_catchup_digest_add(&d1, 1, c2);
    veil_catchup_digest_add(&d2, 0, c1);
    veil_catchup_digest_add(&d2, 1, c1);
    veil_catchup_digest_final(&d1, o1);
    veil_catchup_digest_final(&d2, o2);
    veil_catchup_digest_final(&d0, o0);
    CHECK(memcmp(o1, o2, 32) != 0);
    CHECK_EQ_MEM(o0, zero, 32);
    CHECK(memcmp(o1, zero, 32) != 0);
}

VTEST_MAIN(VTEST(test_request_roundtrip), VTEST(test_answer_roundtrip),
           VTEST(test_catchup_messages))
