// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_chain_rlp.c - libFuzzer target: the strict RLP reader (walking nested
 * lists) and the signed-transaction decoder built on it.
 */
#include <veil/chain.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const uint8_t *p, size_t n, int depth)
{
    veil_reader r;
    veil_reader_init(&r, p, n);
    while (!veil_reader_at_end(&r) && veil_reader_ok(&r)) {
        veil_rlp_item it;
        if (veil_rlp_read(&r, &it, NULL) != 0)
            return;
        uint64_t v;
        if (it.kind == VEIL_RLP_LIST && depth < 32)
            walk(it.payload, it.len, depth + 1);
        else
            (void)veil_rlp_item_uint(&it, &v, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size, 0);
    veil_tx tx;
    veil_eth_address from;
    (void)veil_tx_decode(data, size, &tx, &from, NULL);
    return 0;
}
