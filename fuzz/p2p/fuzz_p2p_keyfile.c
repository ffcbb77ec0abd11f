// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_keyfile.c (p2p core) - the node key file loader (libp2p
 * PrivateKey protobuf, Ed25519 seed/public consistency).
 */
#include <veil/p2p.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_p2p_keypair kp;
    if (veil_p2p_keypair_decode(&kp, data, size, NULL) == 0)
        veil_p2p_keypair_wipe(&kp);
    return 0;
}
