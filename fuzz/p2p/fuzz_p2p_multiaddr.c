// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_multiaddr.c (p2p core) - multiaddr binary and text parsing: the
 * input as binary (validate, print, re-parse the text, compare) and as text.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/p2p.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_p2p_multiaddr ma, back;
    if (veil_p2p_multiaddr_from_bytes(data, size, &ma, NULL) == 0) {
        char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
        if (veil_p2p_multiaddr_to_text(&ma, text, sizeof text, NULL) == 0) {
            /* dns names may hold characters the text form cannot round-trip */
            if (veil_p2p_multiaddr_parse(text, &back, NULL) == 0 &&
                !veil_p2p_multiaddr_equal(&ma, &back) && !strstr(text, "/dns"))
                __builtin_trap();
        }
        char host[300];
        uint16_t port;
        int family;
        veil_p2p_multiaddr_tcp_target(&ma, host, sizeof host, &port, &family, NULL);
        veil_p2p_peer_id id;
        veil_p2p_multiaddr_peer_id(&ma, &id, NULL);
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    veil_p2p_multiaddr_parse(s, &ma, NULL);
    free(s);
    return 0;
}
