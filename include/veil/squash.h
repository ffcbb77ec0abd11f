// SPDX-License-Identifier: Apache-2.0
/* squash.h - noise squashing: a 64-bit TFHE radix ciphertext bootstrapped
 * into LWE ciphertexts modulo 2^128 under a separate binary key, so that
 * threshold key holders can flood their partial decryptions (issue 11).
 *
 * Parameters (TFHE-rs's noise-squashing set for PARAM_MESSAGE_2_CARRY_2_KS_PBS_
 * TUNIFORM_2M128): GLWE dimension 2, N = 2048, GLWE noise TUniform(2^30),
 * decomposition base_log 24, level 3, native modulus 2^128, the same centred
 * modulus switch as the 64-bit PBS. The input block is keyswitched to the
 * small (918) key with the ordinary server key, then blind-rotated with the
 * 128-bit squashing bootstrapping key, then sample-extracted: the output is
 * an LWE ciphertext of dimension k*N = 4096 modulo 2^128.
 *
 * Encoding of a squashed block: b = <a, s> + v * 2^VEIL_SQ_LOG_DELTA + e,
 * where v in [0, 16) is the block's message-and-carry value (one padding bit
 * on top) and |e| < 2^VEIL_SQ_LOG_NOISE_BOUND except with probability below
 * 2^-128 (derived in docs/NOISE_SQUASHING.md: the squashed std is about
 * 2^64.4, so 2^70 is ~50 std; measured by test_fhe_squash).
 * A squashed integer is its blocks least significant first, in one of two
 * encodings recorded in the ciphertext (its files and digests):
 *  - VEIL_SQ_ENC_BLOCKS: one squashed block per 2-bit block; the value is
 *    sum((v_i mod 4) << 2i);
 *  - VEIL_SQ_ENC_PACKED: two clean 2-bit blocks lo, hi packed into one 4-bit
 *    value lo + 4 hi before squashing (a linear operation on the 64-bit
 *    blocks, as TFHE-rs packs its squashed lists), half the squashes; the
 *    value is sum((v_i mod 16) << 4i).
 * Either is truncated to `width` bits (width 1, FheBool: one block).
 *
 * The output is bit-identical on every machine and thread count (exact
 * arithmetic), so redundant parties compare digests of it.
 *
 * Implementation: src/fhe/squash*.c, src/fhe/core/ntt128.c (exact products
 * mod 2^128), src/fhe/core/pbs128.c. Users: src/threshold/ (shares, partial
 * decryption, combine), veil keys, veild's key-holder role. */
#ifndef VEIL_SQUASH_H
#define VEIL_SQUASH_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/fhe.h>

typedef unsigned __int128 veil_u128;

#define VEIL_SQ_LWE_DIM         4096u /* k * N of the squashing GLWE key */
#define VEIL_SQ_LOG_DELTA       123u  /* v * 2^123: 4 bits of value + 1 padding bit */
#define VEIL_SQ_LOG_NOISE_BOUND 70u   /* |e| < 2^70 for a freshly squashed block */
#define VEIL_SQ_MAX_BLOCKS      32u   /* FheUint64 */

/* The squashing secret key: 4096 binary coefficients (the GLWE key flattened,
 * polynomial after polynomial). Secret: wipe with veil_memzero after use. */
typedef struct veil_sq_secret {
    uint8_t s[VEIL_SQ_LWE_DIM];
} veil_sq_secret;

/* One squashed block: b = <a, s> + v * 2^123 + e (mod 2^128). */
typedef struct veil_sq_block {
    veil_u128 a[VEIL_SQ_LWE_DIM];
    veil_u128 b;
} veil_sq_block;

/* How a squashed integer's blocks hold its bits (see the top comment). */
enum veil_sq_encoding {
    VEIL_SQ_ENC_BLOCKS = 0, /* 2 bits per squashed block */
    VEIL_SQ_ENC_PACKED = 1, /* 4 bits per squashed block (pairs of blocks) */
};

/* A squashed integer or boolean: nblocks blocks (LSB first) of a width-bit value. */
typedef struct veil_sq_ct {
    uint32_t width;    /* 1 (FheBool), 8, 16, 32 or 64 */
    uint32_t nblocks;  /* veil_sq_blocks_for(width, encoding) */
    uint32_t encoding; /* enum veil_sq_encoding */
    veil_sq_block *blocks;
} veil_sq_ct;

/* Squashed blocks of a width-bit value in an encoding (1 for FheBool, width/2
 * unpacked, width/4 packed), or 0 if the width or encoding is unsupported. */
uint32_t veil_sq_blocks_for(uint32_t width, uint32_t encoding);

/* The public squashing key: the 128-bit bootstrapping key (918 GGSW
 * ciphertexts of (k+1)*level = 9 rows of 3 polynomials). Large: see
 * veil_sq_key_size. */
typedef struct veil_sq_key veil_sq_key;

/* Generates a fresh squashing secret and its squashing key for the client key
 * ck (the key's small LWE secret is what the bootstrapping key encrypts).
 * Deterministic for a given seed (NULL: fresh randomness), whatever `threads`. */
VEIL_WARN_UNUSED int veil_sq_keygen(const veil_fhe_client *ck, const uint8_t seed[32],
                                    unsigned threads, veil_sq_secret *secret, veil_sq_key **key,
                                    veil_err *err);
VEIL_WARN_UNUSED int veil_sq_key_save(const veil_sq_key *key, const char *path, veil_err *err);
VEIL_WARN_UNUSED int veil_sq_key_load(const char *path, unsigned threads, veil_sq_key **out,
                                      veil_err *err);
/* The same from a whole file image in memory (what veil_sq_key_load parses). */
VEIL_WARN_UNUSED int veil_sq_key_deserialize(const uint8_t *data, size_t len, unsigned threads,
                                             veil_sq_key **out, veil_err *err);
void veil_sq_key_free(veil_sq_key *key);
size_t veil_sq_key_size(const veil_sq_key *key); /* bytes held in memory */
/* The key's pool (squash runs the blocks of a ciphertext on it; results never
 * depend on its size): its size, and replacing it (0 = VEIL_THREADS or the
 * CPU count; not while another thread squashes with the key). Otherwise a
 * key is read-only: several threads may squash with it at once (their
 * squashes take turns on the pool). */
unsigned veil_sq_key_threads(const veil_sq_key *key);
VEIL_WARN_UNUSED int veil_sq_key_set_threads(veil_sq_key *key, unsigned threads, veil_err *err);

/* Squashes every block of ct (keyswitch with sk, then the 128-bit PBS):
 * encoding VEIL_SQ_ENC_BLOCKS. out->blocks is allocated; release with
 * veil_sq_ct_clear. */
VEIL_WARN_UNUSED int veil_sq_squash(const veil_sq_key *key, veil_fhe_server *sk,
                                    const veil_fhe_ct *ct, veil_sq_ct *out, veil_err *err);
/* The same in VEIL_SQ_ENC_PACKED: half the squashes. Needs clean carries
 * (every block of degree < 4 and a packed noise level within the parameter
 * set's maximum, as a PBS output has); fails otherwise. */
VEIL_WARN_UNUSED int veil_sq_squash_packed(const veil_sq_key *key, veil_fhe_server *sk,
                                           const veil_fhe_ct *ct, veil_sq_ct *out, veil_err *err);
/* Packed when the carries allow it, else one block per squash (the encoding
 * is recorded in out). The choice depends only on the ciphertext (its
 * blocks' degrees and noise levels, which its file and digest carry), so
 * parties squashing the same agreed ciphertext choose the same encoding:
 * what a key holder calls on a scheduler output. */
VEIL_WARN_UNUSED int veil_sq_squash_compact(const veil_sq_key *key, veil_fhe_server *sk,
                                            const veil_fhe_ct *ct, veil_sq_ct *out, veil_err *err);
/* veil_sq_squash_compact of n ciphertexts at once: outs[i] gets exactly
 * what veil_sq_squash_compact(cts[i]) gives, but every block of every
 * ciphertext is keyswitched and blind-rotated in one pass over the squashing
 * key (1.6 GB in memory), read once instead of n times. What a key holder
 * calls on a scheduler output (index and found: 3 blocks). At most a few
 * ciphertexts and blocks per call (src/fhe/squash_internal.h); more fail. */
VEIL_WARN_UNUSED int veil_sq_squash_compact_batch(const veil_sq_key *key, veil_fhe_server *sk,
                                                  const veil_fhe_ct *const *cts, size_t n,
                                                  veil_sq_ct *outs, veil_err *err);
void veil_sq_ct_clear(veil_sq_ct *ct);

/* Versioned, digest-checked serialization (the fhe container). */
VEIL_WARN_UNUSED int veil_sq_ct_serialize(const veil_sq_ct *ct, veil_buf *out, veil_err *err);
VEIL_WARN_UNUSED int veil_sq_ct_deserialize(const uint8_t *data, size_t len, veil_sq_ct *out,
                                            veil_err *err);
VEIL_WARN_UNUSED int veil_sq_ct_save(const veil_sq_ct *ct, const char *path, veil_err *err);
VEIL_WARN_UNUSED int veil_sq_ct_load(const char *path, veil_sq_ct *out, veil_err *err);
/* BLAKE2b-256 of the canonical serialization: what parties compare. */
VEIL_WARN_UNUSED int veil_sq_ct_digest(const veil_sq_ct *ct, uint8_t out[32], veil_err *err);

/* Decryption with the whole squashing secret (tests, benchmarks, the dealer's
 * self-check; never in a running cluster). phase = b - <a, s> mod 2^128. */
veil_u128 veil_sq_block_phase(const veil_sq_secret *secret, const veil_sq_block *blk);
/* Rounds a phase to the block value v in [0, 16). */
unsigned veil_sq_decode_block(veil_u128 phase);
/* Recombines decoded block values of an encoding into the integer (mod 2^width). */
uint64_t veil_sq_recompose(const unsigned *block_values, uint32_t nblocks, uint32_t width,
                           uint32_t encoding);
VEIL_WARN_UNUSED int veil_sq_decrypt(const veil_sq_secret *secret, const veil_sq_ct *ct,
                                     uint64_t *value, veil_err *err);

#endif
