// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the NODE_KEY message of node-computed keys
 * (src/node/daemon_keys_wire.c, veil_node_key_msg_parse), which every node
 * parses from the cluster topic: never crashes or reads out of bounds on
 * any bytes, keeps every length inside its bounds, re-encodes what parses
 * to the same bytes, and the key table takes it in and gives it back as the
 * round's only candidate; the request variant (ciphertext length 0: a
 * scheduler asking for keys lost in gossip) likewise round-trips. */
#include <stdlib.h>
#include <string.h>

#include "daemon_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The request variant: what parses is within bounds and re-encodes to the
 * same bytes. */
static void request(const uint8_t *data, size_t size)
{
    struct node_key_req q;
    if (veil_node_key_req_parse(data, size, &q, NULL) != 0)
        return;
    if (!veil_node_key_msg_is_req(data, size) || q.n_missing == 0 ||
        q.n_missing > NODE_KEY_REQ_MAX || q.from.len == 0 || q.from.len > VEIL_PEER_ID_MAX)
        abort();
    for (size_t i = 0; i < q.n_missing; i++)
        if (q.missing[i].len == 0 || q.missing[i].len > VEIL_PEER_ID_MAX)
            abort();
    veil_buf again;
    veil_buf_init(&again);
    if (veil_node_key_req_encode(&again, &q, NULL) != 0 || again.len != size ||
        memcmp(again.data, data, size) != 0)
        abort();
    veil_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct node_key_msg m;
    request(data, size);
    if (veil_node_key_msg_parse(data, size, &m, NULL) != 0)
        return 0;
    if (veil_node_key_msg_is_req(data, size))
        abort(); /* a key is never a request */
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
