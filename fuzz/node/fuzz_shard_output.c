// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: a shard round's output (src/node/daemon_sched.c,
 * veil_daemon_shard_output_parse), which the designated decryptor parses
 * from every shard scheduler's stream before merging, never crashes or
 * reads out of bounds on any bytes, keeps its candidate range inside the
 * round, and what parses re-encodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "daemon_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_shard_output o;
    if (veil_daemon_shard_output_parse(data, size, &o, NULL) != 0)
        return 0;
    if (o.first > o.total || o.n > o.total - o.first || o.total > VEIL_SCHED_MAX_NODES)
        abort();
    veil_buf fhe, again;
    veil_buf_init(&fhe);
    veil_buf_init(&again);
    for (int i = 0; i < 3 && !o.none; i++) {
        veil_buf_put_u32be(&fhe, (uint32_t)o.ct_len[i]);
        veil_buf_put(&fhe, o.ct[i], o.ct_len[i]);
    }
    if (veil_daemon_shard_output_encode(&again, o.total, o.first, o.cands, o.n, o.none, fhe.data,
                                        fhe.len, NULL) != 0 ||
        again.len != size || memcmp(again.data, data, size) != 0)
        abort();
    veil_buf_free(&fhe);
    veil_buf_free(&again);
    free(o.cands);
    return 0;
}
