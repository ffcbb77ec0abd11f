// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_kad_message.c - libFuzzer target of the Kademlia module: arbitrary
 * bytes through the Message decoder and the request server (with a small
 * routing table), and decoded closer peers into a lookup.
 */
#include <veil/kad.h>

#include <sodium.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static veil_kad_table *table;
    static const uint8_t requester[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 7};
    if (!table) {
        if (sodium_init() < 0)
            return 0;
        uint8_t self[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 1};
        if (veil_kad_table_new(&table, self, sizeof self, VEIL_KAD_K, NULL) != 0)
            return 0;
        for (int i = 0; i < 64; i++) {
            uint8_t id[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 9, (uint8_t)i};
            struct veil_kad_peer p;
            if (veil_kad_peer_init(&p, id, sizeof id, NULL) == 0)
                (void)veil_kad_table_add(table, &p, 1);
        }
    }
    struct veil_kad_decoded d;
    if (veil_kad_decode(data, size, &d, NULL) == 0) {
        veil_kad_lookup *l;
        if (veil_kad_lookup_new(&l, table, requester, sizeof requester, VEIL_KAD_K, VEIL_KAD_ALPHA,
                                NULL) == 0) {
            struct veil_kad_peer q[VEIL_KAD_ALPHA];
            size_t n = veil_kad_lookup_next(l, q, VEIL_KAD_ALPHA);
            if (n)
                veil_kad_lookup_answer(l, q[0].id, q[0].id_len, d.closer, d.n_closer);
            while ((n = veil_kad_lookup_next(l, q, VEIL_KAD_ALPHA)) > 0)
                for (size_t i = 0; i < n; i++)
                    veil_kad_lookup_fail(l, q[i].id, q[i].id_len);
            veil_kad_lookup_free(l);
        }
        veil_kad_decoded_free(&d);
    }
    veil_buf resp;
    veil_buf_init(&resp);
    (void)veil_kad_serve(table, requester, sizeof requester, data, size, &resp, NULL);
    veil_buf_free(&resp);
    return 0;
}
