// SPDX-License-Identifier: Apache-2.0
/*
 * veil/pq.h - post-quantum primitives: ML-KEM-768 (FIPS 203).
 *
 * The key encapsulation mechanism VeilNet's Anchor handshake uses next to
 * X25519. Written on OpenSSL's SHA3-256, SHA3-512, SHAKE128 and SHAKE256; the
 * arithmetic has no branch or table index that depends on a secret, and every
 * intermediate secret is wiped before return.
 *
 * The public functions take their randomness from the CSPRNG; the *_derand
 * variants take it from the caller (FIPS 203 ML-KEM.KeyGen_internal from
 * d||z and ML-KEM.Encaps_internal from m) for known-answer tests and the CLI.
 * Every entry point performs the input checks of FIPS 203 section 7:
 * encapsulation takes only an encapsulation key that passes the modulus
 * check, decapsulation only a decapsulation key whose embedded hash H(ek)
 * matches. A ciphertext that does not decrypt consistently is not an error:
 * decapsulation then returns the implicit-rejection key J(z||c), exactly as
 * the standard says.
 */
#ifndef VEIL_PQ_H
#define VEIL_PQ_H

#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_MLKEM768_EK_BYTES 1184  /* encapsulation key */
#define VEIL_MLKEM768_DK_BYTES 2400  /* decapsulation key */
#define VEIL_MLKEM768_CT_BYTES 1088  /* ciphertext */
#define VEIL_MLKEM768_SS_BYTES 32    /* shared secret */
#define VEIL_MLKEM768_SEED_BYTES 64  /* d || z for key generation */
#define VEIL_MLKEM768_MSG_BYTES 32   /* m for encapsulation */

/* Key generation from the CSPRNG. */
int veil_mlkem768_keygen(uint8_t ek[VEIL_MLKEM768_EK_BYTES], uint8_t dk[VEIL_MLKEM768_DK_BYTES],
                         veil_err *err) VEIL_WARN_UNUSED;
/* ML-KEM.KeyGen_internal(d, z) with seed = d || z. */
int veil_mlkem768_keygen_derand(uint8_t ek[VEIL_MLKEM768_EK_BYTES],
                                uint8_t dk[VEIL_MLKEM768_DK_BYTES],
                                const uint8_t seed[VEIL_MLKEM768_SEED_BYTES],
                                veil_err *err) VEIL_WARN_UNUSED;

/* Encapsulation to `ek` (checked first: VEIL_E_CRYPTO if it fails the
 * modulus check). */
int veil_mlkem768_encaps(uint8_t ct[VEIL_MLKEM768_CT_BYTES], uint8_t ss[VEIL_MLKEM768_SS_BYTES],
                         const uint8_t ek[VEIL_MLKEM768_EK_BYTES], veil_err *err) VEIL_WARN_UNUSED;
/* ML-KEM.Encaps_internal(ek, m), with the same check of ek. */
int veil_mlkem768_encaps_derand(uint8_t ct[VEIL_MLKEM768_CT_BYTES],
                                uint8_t ss[VEIL_MLKEM768_SS_BYTES],
                                const uint8_t ek[VEIL_MLKEM768_EK_BYTES],
                                const uint8_t m[VEIL_MLKEM768_MSG_BYTES],
                                veil_err *err) VEIL_WARN_UNUSED;

/* Decapsulation (checks dk's hash first: VEIL_E_CRYPTO if it fails). An
 * inconsistent ciphertext yields the implicit-rejection secret, not -1. */
int veil_mlkem768_decaps(uint8_t ss[VEIL_MLKEM768_SS_BYTES],
                         const uint8_t ct[VEIL_MLKEM768_CT_BYTES],
                         const uint8_t dk[VEIL_MLKEM768_DK_BYTES], veil_err *err) VEIL_WARN_UNUSED;

/* FIPS 203 7.2 modulus check: every 12-bit coefficient of ek is below q. */
int veil_mlkem768_check_ek(const uint8_t ek[VEIL_MLKEM768_EK_BYTES], veil_err *err) VEIL_WARN_UNUSED;
/* FIPS 203 7.3 hash check: H(dk's embedded ek) equals dk's embedded hash. */
int veil_mlkem768_check_dk(const uint8_t dk[VEIL_MLKEM768_DK_BYTES], veil_err *err) VEIL_WARN_UNUSED;

/* Accepts a key or ciphertext from outside (a file, the wire, the CLI):
 * the exact length for `kind`, then the check FIPS 203 demands for it (the
 * modulus check of an encapsulation key, the hash check of a decapsulation
 * key; a ciphertext has only its length), and copies it to `out`. */
enum veil_mlkem768_blob {
    VEIL_MLKEM768_BLOB_EK,
    VEIL_MLKEM768_BLOB_DK,
    VEIL_MLKEM768_BLOB_CT,
};
int veil_mlkem768_parse(enum veil_mlkem768_blob kind, const uint8_t *in, size_t len, uint8_t *out,
                        size_t out_cap, veil_err *err) VEIL_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* VEIL_PQ_H */
