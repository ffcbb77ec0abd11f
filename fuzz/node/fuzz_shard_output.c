// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: a shard round's output (src/node/daemon_sched.c,
 * veil_daemon_shard_output_parse), which the designated decryptor parses
 * from every shard scheduler's stream before merging, never crashes or
 * reads out of bounds on any bytes, keeps its candidate range inside the
 * round and its k triples (a batch round's shard: its top k with keys)
 * inside the data, and what parses re-encodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "daemon_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct veil_shard_output o;
    if (veil_daemon_shard_output_parse(data, size, &o, NULL) != 0)
        return 0;
    if (o.first > o.total || o.n > o.total - o.first || o.total > VEIL_SCHED_MAX_NODES ||
        o.k == 0 || o.k > VEIL_SCHED_MAX_REPLICAS || (!o.none && !o.ct))
        abort();
    veil_buf fhe, again;
    veil_buf_init(&fhe);
    veil_buf_init(&again);
    for (size_t i = 0; i < (size_t)3 * o.k && !o.none; i++) {
        if (o.ct[i].len == 0 || o.ct[i].data < data || o.ct[i].data + o.ct[i].len > data + size)
            abort();
        veil_buf_put_u32be(&fhe, (uint32_t)o.ct[i].len);
        veil_buf_put(&fhe, o.ct[i].data, o.ct[i].len);
    }
    if (veil_daemon_shard_output_encode(&again, o.total, o.first, o.k, o.cands, o.n, o.none,
                                        fhe.data, fhe.len, NULL) != 0 ||
        again.len != size || memcmp(again.data, data, size) != 0)
        abort();
    veil_buf_free(&fhe);
    veil_buf_free(&again);
    veil_daemon_shard_output_free(&o);
    return 0;
}
