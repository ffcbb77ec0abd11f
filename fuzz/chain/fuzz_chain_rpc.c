// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_chain_rpc.c - libFuzzer target: JSON-RPC response bodies as a node
 * (or anything posing as one) might send them, and the log objects inside
 * eth_getLogs / receipts.
 */
#include <stdlib.h>

#include <veil/chain.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *result = NULL;
    uint8_t *revert = NULL;
    size_t revert_len = 0;
    if (veil_rpc_parse_response((const char *)data, size, &result, &revert, &revert_len, NULL) ==
        0) {
        veil_eth_log *logs;
        size_t n;
        if (veil_eth_logs_from_json(result, &logs, &n, NULL) == 0) {
            veil_buf b;
            veil_buf_init(&b);
            for (size_t i = 0; i < n; i++)
                (void)veil_contract_describe_log(&logs[i], &b);
            veil_buf_free(&b);
            veil_eth_logs_free(logs, n);
        }
    }
    free(result);
    free(revert);
    return 0;
}
