// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_pq_mlkem.c - libFuzzer target for ML-KEM-768 input handling: the
 * first byte picks what the rest is (encapsulation key, decapsulation key,
 * ciphertext); whatever veil_mlkem768_parse accepts is then used: an
 * accepted ek is encapsulated to, an accepted dk decapsulates a fixed
 * ciphertext, an accepted ciphertext is decapsulated by a fixed key and
 * must give the same secret twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <veil/pq.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fixed_keys(uint8_t ek[VEIL_MLKEM768_EK_BYTES], uint8_t dk[VEIL_MLKEM768_DK_BYTES])
{
    uint8_t seed[VEIL_MLKEM768_SEED_BYTES];
    memset(seed, 7, sizeof seed);
    if (veil_mlkem768_keygen_derand(ek, dk, seed, NULL) != 0)
        abort();
}

static void use_ek(const uint8_t *ek)
{
    uint8_t m[VEIL_MLKEM768_MSG_BYTES], ct[VEIL_MLKEM768_CT_BYTES], ss[VEIL_MLKEM768_SS_BYTES];
    memset(m, 1, sizeof m);
    if (veil_mlkem768_encaps_derand(ct, ss, ek, m, NULL) != 0)
        abort(); /* parse accepted it, so encapsulation must too */
}

static void use_dk(const uint8_t *dk)
{
    uint8_t ct[VEIL_MLKEM768_CT_BYTES], ss[VEIL_MLKEM768_SS_BYTES];
    memset(ct, 0x5a, sizeof ct);
    if (veil_mlkem768_decaps(ss, ct, dk, NULL) != 0)
        abort();
}

static void use_ct(const uint8_t *ct)
{
    static uint8_t ek[VEIL_MLKEM768_EK_BYTES], dk[VEIL_MLKEM768_DK_BYTES];
    static int ready;
    uint8_t a[VEIL_MLKEM768_SS_BYTES], b[VEIL_MLKEM768_SS_BYTES];
    if (!ready) {
        fixed_keys(ek, dk);
        ready = 1;
    }
    if (veil_mlkem768_decaps(a, ct, dk, NULL) != 0 || veil_mlkem768_decaps(b, ct, dk, NULL) != 0 ||
        memcmp(a, b, sizeof a) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[VEIL_MLKEM768_DK_BYTES];
    if (size < 1)
        return 0;
    enum veil_mlkem768_blob kind = (enum veil_mlkem768_blob)(data[0] % 4);
    if (veil_mlkem768_parse(kind, data + 1, size - 1, out, sizeof out, NULL) != 0)
        return 0;
    if (kind == VEIL_MLKEM768_BLOB_EK)
        use_ek(out);
    else if (kind == VEIL_MLKEM768_BLOB_DK)
        use_dk(out);
    else
        use_ct(out);
    return 0;
}
