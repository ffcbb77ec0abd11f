// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: one cluster-topic message decoder (chosen at build time by
 * FUZZ_MSG_<type>) never reads out of bounds, and whatever it accepts
 * re-encodes to exactly the same bytes (the encoding is canonical). */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(FUZZ_MSG_telemetry)
#define MSG    struct veil_msg_telemetry
#define DECODE veil_msg_telemetry_decode
#define ENCODE veil_msg_telemetry_encode
#elif defined(FUZZ_MSG_job_submit)
#define MSG    struct veil_msg_job_submit
#define DECODE veil_msg_job_submit_decode
#define ENCODE veil_msg_job_submit_encode
#elif defined(FUZZ_MSG_sched_digest)
#define MSG    struct veil_msg_sched_digest
#define DECODE veil_msg_sched_digest_decode
#define ENCODE veil_msg_sched_digest_encode
#elif defined(FUZZ_MSG_assignment)
#define MSG    struct veil_msg_assignment
#define DECODE veil_msg_assignment_decode
#define ENCODE veil_msg_assignment_encode
#elif defined(FUZZ_MSG_container_status)
#define MSG    struct veil_msg_container_status
#define DECODE veil_msg_container_status_decode
#define ENCODE veil_msg_container_status_encode
#elif defined(FUZZ_MSG_round_retry)
#define MSG    struct veil_msg_round_retry
#define DECODE veil_msg_round_retry_decode
#define ENCODE veil_msg_round_retry_encode
#elif defined(FUZZ_MSG_partial)
#define MSG    struct veil_msg_partial
#define DECODE veil_msg_partial_decode
#define ENCODE veil_msg_partial_encode
#else
#error "define FUZZ_MSG_<type>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum veil_msg_type type;
    (void)veil_msg_peek_type(data, size, &type, NULL);
    MSG m;
    if (DECODE(&m, data, size, NULL) != 0)
        return 0;
    veil_buf b;
    veil_buf_init(&b);
    if (ENCODE(&b, &m, NULL) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    veil_buf_free(&b);
#if defined(FUZZ_MSG_job_submit)
    struct veil_job_spec spec;
    if (veil_msg_job_submit_check(&m, &spec, NULL) == 0)
        veil_job_spec_free(&spec);
#endif
    return 0;
}
