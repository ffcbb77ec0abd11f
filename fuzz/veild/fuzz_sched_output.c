// SPDX-License-Identifier: Apache-2.0
/* fuzz_sched_output.c - what the decryptor parses from a scheduler's
 * /veil/sched-output/1.0.0 stream (src/node/daemon_sched.c): the message
 * header, the candidate list, and the FHE output's ciphertexts. */
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
    /* the two ciphertexts, as the decryptor deserializes them */
    veil_reader r;
    veil_reader_init(&r, fhe, fhe_len);
    for (int i = 0; i < 2; i++) {
        uint32_t len = veil_read_u32be(&r);
        const uint8_t *p = veil_read_borrow(&r, len);
        veil_fhe_ct *ct = NULL;
        if (!p || veil_fhe_ct_deserialize(p, len, &ct, &err) != 0)
            break;
        veil_fhe_ct_free(ct);
    }
    return 0;
}
