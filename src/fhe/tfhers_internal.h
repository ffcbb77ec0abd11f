// SPDX-License-Identifier: Apache-2.0
/*
 * tfhers_internal.h - shared by the TFHE-rs interop files (private to src/fhe/):
 * the bincode / tfhe-versionable primitives of TFHE-rs's safe_serialize format
 * (tfhers_wire.c), the coefficient maps between TFHE-rs's and Veil's
 * compact-key conventions (tfhers.c). The accessors into api.c's handles
 * that they use are in api_internal.h.
 *
 * The format (TFHE-rs 1.7, utils/tfhe-safe-serialize and utils/tfhe-versionable):
 * bincode 1.3 with fixed-width little-endian integers; a string or Vec is a u64
 * length then its items; an enum is a u32 variant index then the variant's
 * fields; an Option is one byte 0/1 then the value. Every versioned type is
 * wrapped in its "Versions" enum, so each nested object starts with a u32
 * version tag. The file starts with a header: header_version "0.5", the
 * versioning mode (0 = Versioned with versioning_version "0.1"), the type name.
 */
#ifndef VEIL_FHE_TFHERS_INTERNAL_H
#define VEIL_FHE_TFHERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/fhe.h>
#include <veil/tfhers.h>

#include "integer.h"
#include "keys.h"
#include "params.h"
#include "shortint.h"
#include "threadpool.h"

/* Type names in the header (tfhe::named::Named). FheUint is one name for every
 * width: the width is the block count. */
#define TFHERS_NAME_CLIENT_KEY "high_level_api::ClientKey"
#define TFHERS_NAME_PUBLIC_KEY "high_level_api::CompactPublicKey"
#define TFHERS_NAME_FHEUINT    "high_level_api::FheUint"
#define TFHERS_NAME_FHEBOOL    "high_level_api::FheBool"
#define TFHERS_NAME_LIST       "high_level_api::CompactCiphertextList"

/* Longest type name a header may carry (anything longer is not ours). */
#define TFHERS_NAME_MAX 96
/* Largest TFHE-rs object Veil reads: an FheUint64 is ~525 KB. */
#define TFHERS_MAX_BYTES (16u << 20)

/* ---- writing (veil_buf latches allocation failures; check veil_buf_ok) ---- */
void tfhers_put_header(veil_buf *b, const char *type_name);
void tfhers_put_u32(veil_buf *b, uint32_t v);
void tfhers_put_u64(veil_buf *b, uint64_t v);
/* A versioned newtype over a u64 (LweDimension, Degree, MessageModulus, ...). */
void tfhers_put_vu64(veil_buf *b, uint64_t v);
/* The native 2^64 ciphertext modulus: version 0, modulus 0 as u128, 64 bits. */
void tfhers_put_modulus(veil_buf *b);
/* AtomicPatternKind::Standard(PBSOrder::KeyswitchBootstrap), versioned. */
void tfhers_put_ap_kind(veil_buf *b);
/* DynamicDistribution::TUniform(bound_log2), versioned. */
void tfhers_put_tuniform(veil_buf *b, uint32_t bound_log2);
/* An empty high-level Tag or re-randomization metadata (version 0, no bytes). */
void tfhers_put_empty_tag(veil_buf *b);
/* A Vec<u64>; the raw form writes the words alone (no length). */
void tfhers_put_words(veil_buf *b, const uint64_t *w, size_t n);
void tfhers_put_raw_words(veil_buf *b, const uint64_t *w, size_t n);
/* One shortint block (shortint::Ciphertext, version 1). */
void tfhers_put_block(veil_buf *b, const struct veil_fhe_params *p,
                      const struct veil_shortint_ct *ct);

/* ---- reading: each fails with a message naming `what` ---- */
/* Parses and checks the header; *name and *name_len borrow the type name. */
VEIL_WARN_UNUSED int tfhers_read_header(veil_reader *r, const char **name, size_t *name_len,
                                        veil_err *err);
VEIL_WARN_UNUSED int tfhers_expect_u32(veil_reader *r, uint32_t want, const char *what,
                                       veil_err *err);
VEIL_WARN_UNUSED int tfhers_expect_vu64(veil_reader *r, uint64_t want, const char *what,
                                        veil_err *err);
VEIL_WARN_UNUSED int tfhers_read_vu64(veil_reader *r, uint64_t *v, const char *what, veil_err *err);
VEIL_WARN_UNUSED int tfhers_expect_modulus(veil_reader *r, const char *what, veil_err *err);
VEIL_WARN_UNUSED int tfhers_expect_ap_kind(veil_reader *r, const char *what, veil_err *err);
VEIL_WARN_UNUSED int tfhers_expect_tuniform(veil_reader *r, uint32_t bound_log2, const char *what,
                                            veil_err *err);
/* Option<T> marker: *some = 0/1. */
VEIL_WARN_UNUSED int tfhers_read_option(veil_reader *r, int *some, const char *what, veil_err *err);
/* Skips a Tag / re-randomization metadata (version 0, a byte string of at
 * most 4096 bytes). */
VEIL_WARN_UNUSED int tfhers_skip_tag(veil_reader *r, const char *what, veil_err *err);
/* A Vec<u64> of exactly n words into out. */
VEIL_WARN_UNUSED int tfhers_read_words(veil_reader *r, uint64_t *out, size_t n, const char *what,
                                       veil_err *err);
/* n words without a length prefix. */
VEIL_WARN_UNUSED int tfhers_read_raw_words(veil_reader *r, uint64_t *out, size_t n,
                                           const char *what, veil_err *err);
/* A Vec<u64> of exactly n words, each 0 or 1 (a binary secret key). */
VEIL_WARN_UNUSED int tfhers_read_binary_key(veil_reader *r, uint64_t *out, size_t n,
                                            const char *what, veil_err *err);
/* One shortint block into ct (initialised for p); max_degree: 15, or 1 for a
 * boolean. */
VEIL_WARN_UNUSED int tfhers_read_block(veil_reader *r, const struct veil_fhe_params *p,
                                       struct veil_shortint_ct *ct, uint64_t max_degree,
                                       veil_err *err);
/* Fails unless r consumed all of its input. */
VEIL_WARN_UNUSED int tfhers_expect_end(const veil_reader *r, const char *what, veil_err *err);

/* ---- object helpers (tfhers.c) ---- */
/* Checks the size cap and the header, which must name `want` or `alt`;
 * leaves r after the header. got (may be NULL) receives the type. */
VEIL_WARN_UNUSED int tfhers_open_object(veil_reader *r, const uint8_t *data, size_t len,
                                        enum veil_tfhers_type want, enum veil_tfhers_type alt,
                                        enum veil_tfhers_type *got, veil_err *err);
/* A u32 enum variant that must equal want (parameter identification). */
VEIL_WARN_UNUSED int tfhers_expect_variant(veil_reader *r, uint32_t want, const char *what,
                                           veil_err *err);
/* FheUint8/16/32/64 from 4/8/16/32 blocks; anything else is refused. */
VEIL_WARN_UNUSED int tfhers_width_of_blocks(uint64_t nblocks, unsigned *width, veil_err *err);
/* CompactCiphertextListExpansionKind::NoCasting(Standard(KS_PBS)). */
VEIL_WARN_UNUSED int tfhers_read_expansion_kind(veil_reader *r, veil_err *err);

/* ---- coefficient maps over Z/2^64[X]/(X^M + 1) ----
 * sigma(p)(X) = p(X^-1): out[0] = p[0], out[j] = -p[M - j]. It is an
 * involution and a ring automorphism. TFHE-rs's compact public key is
 * b = a * rev(s) + e and rev(s) = X^(M-1) sigma(s); so Veil's (a', b') with
 * b' = a' s + e' is a' = -X sigma(a), b' = sigma(b) (e' = sigma(e) has the same
 * symmetric distribution), and back a = -X sigma(a'), b = sigma(b'). A compact
 * list's mask converts by sigma alone; the bodies are the same words. */
void tfhers_sigma(uint64_t *out, const uint64_t *in, size_t m);
/* out = -X * sigma(in) (both directions of the public key's mask). */
void tfhers_neg_x_sigma(uint64_t *out, const uint64_t *in, size_t m);

#endif /* VEIL_FHE_TFHERS_INTERNAL_H */
