// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_chain_event.c - libFuzzer target: one registry log as raw topics and
 * data, through the event decoder (veil_contract_describe_log), the
 * anonymous BatchAnchored decoder, the NodeRegistered/NodeDeactivated
 * decoder and the PolicyChanged decoder, whose results must re-encode to the
 * input.
 *
 * Input: byte 0 = number of topics (mod 5), then that many 32-byte topics
 * (short input: fewer), then the data.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    veil_eth_log log;
    memset(&log, 0, sizeof log);
    size_t want = data[0] % 5, off = 1;
    while (log.n_topics < want && off + 32 <= size) {
        memcpy(log.topics[log.n_topics++], data + off, 32);
        off += 32;
    }
    /* A private copy, so that reads past the data are caught by ASan. */
    log.data_len = size - off;
    log.data = malloc(log.data_len ? log.data_len : 1);
    if (!log.data)
        return 0;
    memcpy(log.data, data + off, log.data_len);

    veil_buf out;
    veil_buf_init(&out);
    int described = veil_contract_describe_log(&log, &out);
    veil_contract_batch b;
    veil_err err = {0};
    if (veil_contract_decode_batch_log(&log, &b, &err) == 0) {
        uint8_t t0[32], w[32];
        veil_contract_batch_topic(b.cluster_id, t0);
        veil_contract_batch_word(b.cluster_id, b.epoch, b.count, w);
        if (described != 0 || log.n_topics != 1 || log.data_len != 64 ||
            memcmp(t0, log.topics[0], 32) != 0 || memcmp(w, log.data + 32, 32) != 0 ||
            memcmp(b.merkle_root, log.data, 32) != 0)
            abort();
    } else if (err.msg[0] == '\0') {
        abort(); /* every refusal says why */
    }
    veil_contract_node_event ev;
    if (veil_contract_decode_node_log(&log, &ev) == 0) {
        /* a membership event round-trips through its topics */
        uint8_t t1[32] = {0}, t2[32] = {0};
        for (int i = 0; i < 8; i++)
            t1[31 - i] = (uint8_t)(ev.cluster_id >> (8 * i));
        memcpy(t2 + 12, ev.node.b, 20);
        if (memcmp(t1, log.topics[1], 32) != 0 || memcmp(t2, log.topics[2], 32) != 0)
            abort();
    }
    veil_contract_policy_event pe;
    if (veil_contract_decode_policy_log(&log, &pe) == 0) {
        /* a policy change round-trips through its topic and version word */
        uint8_t t1[32] = {0}, v[32] = {0};
        for (int i = 0; i < 8; i++) {
            t1[31 - i] = (uint8_t)(pe.cluster_id >> (8 * i));
            v[31 - i] = (uint8_t)(pe.version >> (8 * i));
        }
        if (log.n_topics != 2 || log.data_len != 64 || memcmp(t1, log.topics[1], 32) != 0 ||
            memcmp(v, log.data, 32) != 0)
            abort();
    }
    veil_buf_free(&out);
    free(log.data);
    return 0;
}
