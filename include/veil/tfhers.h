// SPDX-License-Identifier: Apache-2.0
/*
 * veil/tfhers.h - interoperability with Zama's TFHE-rs (and node-tfhe / the
 * `tfhe` npm packages built from it): keys and ciphertexts in TFHE-rs's
 * `safe_serialize` format, so Zama's SDK can encrypt for a Veil cluster and
 * read Veil's results.
 *
 * Covered: TFHE-rs 1.7.x (node-tfhe 1.7.0), versioned safe_serialize
 * (serialization header "0.5", versioning "0.1"), the default parameter set
 * PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128 (what
 * `ConfigBuilder::default()` builds). Objects:
 *   - high_level_api::ClientKey (read: the OPRF key is dropped; written: with a
 *     fresh OPRF key, no compression / noise-squashing / dedicated compact
 *     keys - TFHE-rs's default configuration);
 *   - high_level_api::CompactPublicKey (both ways; one from TFHE-rs has no Veil
 *     mask seed, so it is used as is and cannot be saved in Veil's format);
 *   - high_level_api::FheBool and FheUint (8/16/32/64 bits = 4/8/16/32 blocks);
 *   - high_level_api::CompactCiphertextList (read: every value an FheBool or
 *     an FheUint of a Veil width, at most 2048 stored blocks; written: n values
 *     of one width, unpacked). A packed list (build_packed) needs the server
 *     key to split its blocks: veil_fhe_compact_expand_tfhers_sk reads it, the
 *     key-less readers refuse it with a clear error.
 * Anything else (another header or layout version, unversioned files, other
 * parameter sets, trailing bytes, truncation, more than 16 MiB) is refused
 * with a specific message, never misread.
 *
 * veil_fhe_client_load / _public_load / _ct_load and veil_fhe_compact_expand
 * (include/veil/fhe.h) accept these files by their header, so `veil fhe
 * decrypt/encrypt/eval` and the daemon's confidential requests take them as
 * they come. All functions return 0 / -1 and fill `err`.
 */
#ifndef VEIL_TFHERS_H
#define VEIL_TFHERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/fhe.h>

#ifdef __cplusplus
extern "C" {
#endif

enum veil_tfhers_type {
    VEIL_TFHERS_CLIENT_KEY,
    VEIL_TFHERS_PUBLIC_KEY, /* CompactPublicKey */
    VEIL_TFHERS_FHEBOOL,
    VEIL_TFHERS_FHEUINT,
    VEIL_TFHERS_COMPACT_LIST,
    VEIL_TFHERS_OTHER, /* a valid header naming a type Veil does not read */
};

/* True when data starts like a TFHE-rs safe_serialize header (a short bincode
 * string of digits and dots); says nothing about the rest. */
bool veil_tfhers_detect(const uint8_t *data, size_t len);
/* Checks the header (versions) and names the type it announces. */
VEIL_WARN_UNUSED int veil_tfhers_peek(const uint8_t *data, size_t len, enum veil_tfhers_type *type,
                                      veil_err *err);
VEIL_WARN_UNUSED int veil_tfhers_file_type(const char *path, enum veil_tfhers_type *type,
                                           veil_err *err);
const char *veil_tfhers_type_name(enum veil_tfhers_type type);

/* ---- in memory (out is appended to; deserializers allocate *out) ---- */
VEIL_WARN_UNUSED int veil_fhe_client_serialize_tfhers(const veil_fhe_client *ck, veil_buf *out,
                                                      veil_err *err);
VEIL_WARN_UNUSED int veil_fhe_client_deserialize_tfhers(const uint8_t *data, size_t len,
                                                        veil_fhe_client **out, veil_err *err);
VEIL_WARN_UNUSED int veil_fhe_public_serialize_tfhers(const veil_fhe_public *pk, veil_buf *out,
                                                      veil_err *err);
VEIL_WARN_UNUSED int veil_fhe_public_deserialize_tfhers(const uint8_t *data, size_t len,
                                                        veil_fhe_public **out, veil_err *err);
/* FheBool for width 1, FheUint otherwise (degree and noise level carried). */
VEIL_WARN_UNUSED int veil_fhe_ct_serialize_tfhers(const veil_fhe_ct *ct, veil_buf *out,
                                                  veil_err *err);
VEIL_WARN_UNUSED int veil_fhe_ct_deserialize_tfhers(const uint8_t *data, size_t len,
                                                    veil_fhe_ct **out, veil_err *err);

/* n values of `width` (1 = FheBool) under pk as one unpacked TFHE-rs
 * CompactCiphertextList (what node-tfhe's CompactCiphertextList.builder(pk)
 * .push_u16(...).build() makes). */
VEIL_WARN_UNUSED int veil_fhe_compact_encrypt_tfhers(const veil_fhe_public *pk, unsigned width,
                                                     const uint64_t *values, size_t n,
                                                     veil_buf *out, veil_err *err);
/* The same, packed two blocks per stored block (build_packed(): half the
 * blocks; TFHE-rs needs its server key to expand it). */
VEIL_WARN_UNUSED int veil_fhe_compact_encrypt_tfhers_packed(const veil_fhe_public *pk,
                                                            unsigned width, const uint64_t *values,
                                                            size_t n, veil_buf *out, veil_err *err);
/* Expands a TFHE-rs list that holds exactly n values of `width`. On failure
 * nothing is left in out[]. */
VEIL_WARN_UNUSED int veil_fhe_compact_expand_tfhers(const uint8_t *data, size_t len, unsigned width,
                                                    veil_fhe_ct **out, size_t n, veil_err *err);
/* Expands every value of a TFHE-rs list whatever their widths: *out is an
 * array of *n ciphertexts (free each, then the array). */
VEIL_WARN_UNUSED int veil_fhe_compact_expand_tfhers_all(const uint8_t *data, size_t len,
                                                        veil_fhe_ct ***out, size_t *n,
                                                        veil_err *err);

/* The same for a packed list too (node-tfhe's build_packed(): each stored
 * block holds two radix blocks, split with the server key by two KS+PBS per
 * stored block; sk NULL parses it and then refuses a packed list). */
VEIL_WARN_UNUSED int veil_fhe_compact_expand_tfhers_sk(veil_fhe_server *sk, const uint8_t *data,
                                                       size_t len, veil_fhe_ct ***out, size_t *n,
                                                       veil_err *err);

/* Decrypts every value of a TFHE-rs list, packed or not, with the client
 * key alone (a packed block decrypts to low + 4 * high): *values and *widths
 * (1 for a bool) are arrays of *n, freed by the caller. */
VEIL_WARN_UNUSED int veil_fhe_compact_decrypt_tfhers(const veil_fhe_client *ck, const uint8_t *data,
                                                     size_t len, uint64_t **values,
                                                     unsigned **widths, size_t *n, veil_err *err);

/* ---- the rest of a key set for a client key read from TFHE-rs ----
 * Veil evaluates on TFHE-rs ciphertexts with its own server key generated from
 * the same client key (threads: 0 = VEIL_THREADS or the CPU count). */
VEIL_WARN_UNUSED int veil_fhe_server_keygen_for(const veil_fhe_client *ck, unsigned threads,
                                                veil_fhe_server **out, veil_err *err);
VEIL_WARN_UNUSED int veil_fhe_public_keygen_for(const veil_fhe_client *ck, veil_fhe_public **out,
                                                veil_err *err);

/* ---- files (the client key is written 0600) ---- */
VEIL_WARN_UNUSED int veil_fhe_client_export_tfhers(const veil_fhe_client *ck, const char *path,
                                                   veil_err *err);
/* A cluster's public key for Zama's SDK (written beside public.key). */
VEIL_WARN_UNUSED int veil_fhe_public_export_tfhers(const veil_fhe_public *pk, const char *path,
                                                   veil_err *err);
VEIL_WARN_UNUSED int veil_fhe_ct_export_tfhers(const veil_fhe_ct *ct, const char *path,
                                               veil_err *err);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_TFHERS_H */
