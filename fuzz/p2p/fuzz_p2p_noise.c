// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p2p_noise.c (p2p core) - Noise: the first input byte picks the target:
 * a handshake message at step 0/1/2 of the reading side (after a genuine
 * handshake prefix), a NoiseHandshakePayload against a fixed static key, or
 * transport frames decrypted with a fixed key.
 */
#include <string.h>

#include "p2p_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0] % 5;
    data++;
    size--;
    static veil_p2p_keypair ka, kb;
    static bool init;
    if (!init) {
        uint8_t seed[32] = {1};
        veil_p2p_keypair_from_seed(&ka, seed, NULL);
        seed[0] = 2;
        veil_p2p_keypair_from_seed(&kb, seed, NULL);
        init = true;
    }
    veil_noise_hs i, r;
    veil_buf b;
    veil_buf_init(&b);
    switch (sel) {
    case 0: /* responder reads message 1 */
        veil_noise_hs_init(&r, false, &kb);
        veil_noise_hs_read(&r, data, size, NULL);
        break;
    case 1: /* initiator reads message 2 */
        veil_noise_hs_init(&i, true, &ka);
        veil_noise_hs_write(&i, &b, NULL);
        veil_noise_hs_read(&i, data, size, NULL);
        break;
    case 2: /* responder reads message 3 */
        veil_noise_hs_init(&i, true, &ka);
        veil_noise_hs_init(&r, false, &kb);
        veil_noise_hs_write(&i, &b, NULL);
        veil_noise_hs_read(&r, b.data, b.len, NULL);
        veil_buf_reset(&b);
        veil_noise_hs_write(&r, &b, NULL);
        veil_noise_hs_read(&r, data, size, NULL);
        break;
    case 3: { /* handshake payload */
        uint8_t static_key[32] = {9};
        veil_p2p_peer_id id;
        veil_noise_verify_payload(data, size, static_key, &id, NULL);
        break;
    }
    default: { /* transport frames: 2-byte length || ciphertext, repeated */
        veil_noise_cipher c;
        uint8_t key[32];
        memset(key, 0x42, sizeof key);
        veil_noise_cipher_init(&c, key);
        size_t pos = 0;
        while (size - pos >= 2) {
            size_t n = (size_t)data[pos] << 8 | data[pos + 1];
            if (size - pos - 2 < n)
                break;
            veil_noise_decrypt(&c, data + pos + 2, n, &b, NULL);
            pos += 2 + n;
        }
        veil_noise_cipher_free(&c);
        break;
    }
    }
    veil_buf_free(&b);
    return 0;
}
