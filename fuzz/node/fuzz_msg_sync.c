// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the node-to-node sync messages (src/node/msg_sync.c),
 * the inclusion-proof request and answer a peer sends on
 * /veil/anchor-proof/1.0.0 and the catch-up request and answer of
 * /veil/catch-up/1.0.0, never crash or read out of bounds on any bytes;
 * what decodes re-encodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include <veil/msg_sync.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_proof_query q[VEIL_PROOF_QUERY_MAX];
    struct veil_proof_answer *a = calloc(VEIL_PROOF_QUERY_MAX, sizeof *a);
    size_t n = 0;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_msg_proof_request_decode(data, size, q, VEIL_PROOF_QUERY_MAX, &n, NULL) == 0 &&
        (veil_msg_proof_request_encode(&b, q, n, NULL) != 0 || b.len != size ||
         memcmp(b.data, data, size) != 0))
        abort();
    veil_buf_reset(&b);
    if (a && veil_msg_proof_answer_decode(data, size, a, VEIL_PROOF_QUERY_MAX, &n, NULL) == 0 &&
        (veil_msg_proof_answer_encode(&b, a, n, NULL) != 0 || b.len != size ||
         memcmp(b.data, data, size) != 0))
        abort();
    veil_buf_reset(&b);
    struct veil_catchup_have *h = NULL;
    if (veil_msg_catchup_request_decode(data, size, &h, &n, NULL) == 0 &&
        (veil_msg_catchup_request_encode(&b, h, n, NULL) != 0 || b.len != size ||
         memcmp(b.data, data, size) != 0))
        abort();
    free(h);
    veil_buf_reset(&b);
    struct veil_catchup_answer *ca = calloc(1, sizeof *ca);
    if (ca && veil_msg_catchup_answer_decode(data, size, ca, NULL) == 0 &&
        (veil_msg_catchup_answer_encode(&b, ca, NULL) != 0 || b.len != size ||
         memcmp(b.data, data, size) != 0))
        abort();
    free(ca);
    veil_buf_free(&b);
    free(a);
    return 0;
}
