// SPDX-License-Identifier: Apache-2.0
/*
 * test_msg_sync.c - the inclusion-proof request and answer
 * (src/node/msg_sync.c): round trips, and every bound the decoder checks
 * (version, counts over VEIL_PROOF_QUERY_MAX, a depth over
 * VEIL_PROOF_DEPTH_MAX, truncation, trailing bytes).
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

VTEST_MAIN(VTEST(test_request_roundtrip), VTEST(test_answer_roundtrip))
