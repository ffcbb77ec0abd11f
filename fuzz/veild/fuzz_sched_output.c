// SPDX-License-Identifier: Apache-2.0
/* fuzz_sched_output.c - what the decryptor parses from a scheduler's
 * /veil/sched-output/1.0.0 stream (src/node/daemon_sched.c): the message
 * header, the candidate list, and the FHE output's (index, found) pairs as
 * the decryptor deserializes them: one pair for an ordinary round, k for a
 * batch round (k from the round: here 1, 3 as in the seeds, and one taken
 * from the input's epoch). */
#include <stdlib.h>

#include <veil/fhe.h>

#include "../../src/node/daemon_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_err err = {0};
    uint8_t job[32];
    uint32_t replica;
    uint64_t epoch;
    const uint8_t *out;
    size_t out_len;
    if (veil_daemon_output_msg_parse(data, size, job, &replica, &epoch, &out, &out_len, &err) != 0)
        return 0;
    struct veil_peer_id *cands;
    size_t n;
    bool none;
    const uint8_t *fhe;
    size_t fhe_len;
    if (veil_daemon_output_parse(out, out_len, &cands, &n, &none, &fhe, &fhe_len, &err) != 0)
        return 0;
    free(cands);
    const size_t ks[3] = {1, 3, 1 + (size_t)(epoch % (VEIL_SCHED_MAX_REPLICAS + 1))};
    for (int i = 0; i < 3; i++) {
        veil_fhe_ct *index[VEIL_SCHED_MAX_REPLICAS + 1], *found[VEIL_SCHED_MAX_REPLICAS + 1];
        if (veil_daemon_output_cts_parse(fhe, fhe_len, ks[i], index, found, &err) == 0)
            veil_daemon_output_cts_free(index, found, ks[i]);
    }
    return 0;
}
