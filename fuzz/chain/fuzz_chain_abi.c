// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_chain_abi.c - libFuzzer target: the ABI decoder on the contract's own
 * return and event types (nested dynamic tuples and arrays), the revert-data
 * decoder, and re-encoding of whatever decoded (must round-trip).
 */
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
    "((bytes32[],string,uint32[],bytes32,address[],bytes32[],uint32,uint32,uint32,uint8),uint64)",
    "(string,uint16,uint16,uint32,uint64,uint256)",
    "(address[])",
    "(bytes)",
    "(int8,bool,bytes3,(uint64,string)[2],string[])",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *t = types[data[0] % (sizeof types / sizeof types[0])];
    veil_abi_type *ty;
    if (veil_abi_type_parse(t, &ty, NULL) != 0)
        abort();
    veil_abi_value v;
    if (veil_abi_decode(ty, data + 1, size - 1, &v, NULL) == 0) {
        veil_buf out, fmt;
        veil_buf_init(&out);
        veil_buf_init(&fmt);
        if (veil_abi_encode(ty, &v, &out, NULL) != 0)
            abort();
        /* Canonical input re-encodes to a prefix-compatible form; decode again. */
        veil_abi_value v2;
        if (veil_abi_decode(ty, out.data, out.len, &v2, NULL) != 0)
            abort();
        veil_abi_value_clear(&v2);
        veil_abi_value_format(&v, &fmt);
        veil_buf_free(&out);
        veil_buf_free(&fmt);
        veil_abi_value_clear(&v);
    }
    veil_abi_type_free(ty);
    char msg[256];
    veil_abi_decode_revert(data + 1, size - 1, veil_contract_errors, veil_contract_errors_len, msg,
                           sizeof msg);
    /* Type strings from the input must parse or fail cleanly. */
    char text[64];
    size_t n = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    if (veil_abi_type_parse(text, &ty, NULL) == 0)
        veil_abi_type_free(ty);
    return 0;
}
