// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_peer_id.c (p2p core) - peer-ID parsing (base58btc and CIDv1
 * text, binary multihash) and the PublicKey protobuf decoder; valid IDs must
 * round-trip through both text forms.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/p2p.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const veil_p2p_peer_id *id)
{
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    veil_p2p_peer_id back;
    if (veil_p2p_peer_id_to_text(id, text, sizeof text) > 0 &&
        (veil_p2p_peer_id_parse(text, &back, NULL) != 0 || !veil_p2p_peer_id_equal(id, &back)))
        __builtin_trap();
    if (veil_p2p_peer_id_to_cid_text(id, text, sizeof text) > 0 &&
        (veil_p2p_peer_id_parse(text, &back, NULL) != 0 || !veil_p2p_peer_id_equal(id, &back)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_p2p_peer_id id;
    if (veil_p2p_peer_id_from_bytes(data, size, &id, NULL) == 0) {
        roundtrip(&id);
        uint8_t pk[32];
        veil_p2p_peer_id_ed25519_key(&id, pk, NULL);
    }
    uint8_t pk[32];
    veil_p2p_pubkey_decode_ed25519(data, size, pk, NULL);
    if (veil_p2p_peer_id_from_pubkey_pb(data, size, &id, NULL) == 0)
        roundtrip(&id);
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (veil_p2p_peer_id_parse(s, &id, NULL) == 0)
        roundtrip(&id);
    free(s);
    return 0;
}
