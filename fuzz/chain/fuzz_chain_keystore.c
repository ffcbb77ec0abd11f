// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_chain_keystore.c - libFuzzer target: keystore v3 JSON parsing (KDF
 * costs capped low so the fuzzer explores the parser, not scrypt).
 */
#include <veil/chain.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_eth_key key;
    (void)veil_keystore_decrypt_limited((const char *)data, size, "pw", 4, 16, &key, NULL);
    return 0;
}
