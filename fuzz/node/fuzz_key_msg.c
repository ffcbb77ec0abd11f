// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the NODE_KEY message of node-computed keys
 * (src/node/daemon_keys_wire.c, veil_node_key_msg_parse), which every node
 * parses from the cluster topic: never crashes or reads out of bounds on
 * any bytes, keeps every length inside its bounds, re-encodes what parses
 * to the same bytes, and the key table takes it in and gives it back as the
 * round's only candidate. */
#include <stdlib.h>
#include <string.h>

#include "daemon_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct node_key_msg m;
    if (veil_node_key_msg_parse(data, size, &m, NULL) != 0)
        return 0;
    if (m.node.len == 0 || m.node.len > VEIL_PEER_ID_MAX || m.ct_len == 0 ||
        m.ct_len > NODE_KEY_CT_MAX || m.ct < data || m.ct + m.ct_len > data + size)
        abort();
    veil_buf again;
    veil_buf_init(&again);
    if (veil_node_key_msg_encode(&again, &m, NULL) != 0 || again.len != size ||
        memcmp(again.data, data, size) != 0)
        abort();
    veil_buf_free(&again);
    struct node_key_table t = {0};
    const struct node_key_entry *out[1];
    size_t n = 0;
    if (node_key_table_put(&t, &m, NULL) != 0 ||
        node_key_candidates(&t, m.job_id, m.replica, m.attempt, m.epoch, &m.node, 1, out, &n,
                            NULL) != 0 ||
        n != 1 || out[0]->ct_len != m.ct_len || memcmp(out[0]->ct, m.ct, m.ct_len) != 0)
        abort();
    node_key_table_free(&t);
    return 0;
}
