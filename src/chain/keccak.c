// SPDX-License-Identifier: Apache-2.0
/*
 * keccak.c - Keccak-256 as Ethereum uses it: the Keccak[c=512] sponge with
 * the original multi-rate padding (first pad byte 0x01, last |= 0x80), not
 * FIPS 202's SHA3 domain byte 0x06. The permutation is nettle's
 * sha3_permute (Keccak-f[1600]); only the sponge lives here.
 */
#include <string.h>

#include <nettle/sha3.h>

#include <veil/chain.h>

#define KECCAK256_RATE 136 /* (1600 - 2*256) / 8 */

void veil_keccak_init(veil_keccak *k)
{
    memset(k, 0, sizeof *k);
}

/* XORs one rate-sized block into the state (lanes are little-endian) and
 * permutes. */
static void absorb_block(veil_keccak *k, const uint8_t *block)
{
    for (size_t i = 0; i < KECCAK256_RATE / 8; i++) {
        uint64_t lane = 0;
        for (int j = 7; j >= 0; j--)
            lane = (lane << 8) | block[i * 8 + (size_t)j];
        k->a[i] ^= lane;
    }
    struct sha3_state st;
    memcpy(st.a, k->a, sizeof st.a);
    sha3_permute(&st);
    memcpy(k->a, st.a, sizeof st.a);
}

void veil_keccak_update(veil_keccak *k, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t take = KECCAK256_RATE - k->fill;
        if (take > len)
            take = len;
        memcpy(k->block + k->fill, p, take);
        k->fill += take;
        p += take;
        len -= take;
        if (k->fill == KECCAK256_RATE) {
            absorb_block(k, k->block);
            k->fill = 0;
        }
    }
}

void veil_keccak_final(veil_keccak *k, uint8_t out[32])
{
    memset(k->block + k->fill, 0, KECCAK256_RATE - k->fill);
    k->block[k->fill] ^= 0x01;
    k->block[KECCAK256_RATE - 1] ^= 0x80;
    absorb_block(k, k->block);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 8; j++)
            out[i * 8 + j] = (uint8_t)(k->a[i] >> (8 * j));
    veil_memzero(k, sizeof *k);
}

void veil_keccak256(const void *data, size_t len, uint8_t out[32])
{
    veil_keccak k;
    veil_keccak_init(&k);
    veil_keccak_update(&k, data, len);
    veil_keccak_final(&k, out);
}

void veil_abi_selector(const char *signature, uint8_t out[4])
{
    uint8_t h[32];
    veil_keccak256(signature, strlen(signature), h);
    memcpy(out, h, 4);
}
