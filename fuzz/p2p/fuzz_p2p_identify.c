// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_identify.c (p2p core) - the Identify protobuf decoder and its
 * validation (key match, protocol and address limits), as a first message
 * and as a push merged over earlier information.
 */
#include "p2p_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pk[32] = {7};
    veil_p2p_peer_id peer;
    veil_p2p_peer_id_from_ed25519(pk, &peer);
    struct veil_p2p_identify_decoded d, push;
    if (veil_p2p_identify_decode(data, size, &peer, NULL, false, &d, NULL) != 0)
        return 0;
    struct veil_p2p_peer_info old = {0};
    old.id = peer;
    old.protocol_version = d.protocol_version;
    old.agent_version = d.agent_version;
    old.protocols = (const char *const *)d.protocols;
    old.n_protocols = d.n_protocols;
    old.listen_addrs = d.addrs;
    old.n_listen_addrs = d.n_addrs;
    if (veil_p2p_identify_decode(data, size, &peer, &old, true, &push, NULL) == 0)
        veil_p2p_identify_decoded_free(&push);
    veil_p2p_identify_decoded_free(&d);
    return 0;
}
