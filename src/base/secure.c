// SPDX-License-Identifier: Apache-2.0
/*
 * secure.c - secrets hygiene: libsodium initialisation, wiping, constant-time
 * comparison and the CSPRNG. Everything here is a thin, named wrapper so
 * the rest of the code never calls memset/memcmp/rand on secret data.
 */
#include <sodium.h>

#include <veil/base.h>

int veil_crypto_init(veil_err *err)
{
    if (sodium_init() < 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "libsodium failed to initialise");
    return 0;
}

void veil_memzero(void *p, size_t n)
{
    if (p && n)
        sodium_memzero(p, n);
}

bool veil_memeq_ct(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return sodium_memcmp(a, b, n) == 0;
}

void veil_random_bytes(void *out, size_t n)
{
    if (n)
        randombytes_buf(out, n);
}

uint64_t veil_random_u64(void)
{
    uint64_t v;
    randombytes_buf(&v, sizeof v);
    return v;
}

uint32_t veil_random_uniform(uint32_t bound)
{
    return randombytes_uniform(bound);
}
