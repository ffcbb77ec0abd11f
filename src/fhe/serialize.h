// SPDX-License-Identifier: Apache-2.0
/*
 * serialize.h - the versioned binary container for every TFHE key and
 * ciphertext (private to src/fhe/).
 *
 * Layout (all integers little-endian):
 *   magic "VEILFHE\0" (8) | u16 format version (1) | u16 object kind |
 *   u32 parameter-set id | u64 payload length | payload |
 *   BLAKE2b-256 over everything before it (32)
 * The digest detects corruption (it is not a MAC: anyone can recompute it).
 * Loaders check, in order: size, magic, version, kind, parameter set,
 * payload length (exact: truncated and oversized input both fail), digest,
 * then the payload's own structure, and fail with a specific message.
 *
 * Payloads: client key = lwe_dim + k*N bytes (each 0 or 1); server key =
 * mask seed (32) | KSK bodies (k*N*ks_level u64) | BSK bodies (n*(k+1)*level*N
 * u64); public key = mask seed (32) | b (k*N u64); compact list = u32 count |
 * mask (k*N u64) | body[0..count) (u64); shortint block = u64 degree |
 * u32 noise_level | (k*N+1) u64. The radix layer (integer.c) puts its own
 * payload (width, blocks via veil_fhe_put_shortint) in the same container.
 */
#ifndef VEIL_FHE_SERIALIZE_H
#define VEIL_FHE_SERIALIZE_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#include "keys.h"
#include "params.h"
#include "shortint.h"

struct veil_threadpool;

#define VEIL_FHE_MAGIC          "VEILFHE" /* plus its NUL: 8 bytes */
#define VEIL_FHE_FORMAT_VERSION 1
#define VEIL_FHE_HEADER_LEN     24
#define VEIL_FHE_DIGEST_LEN     32

enum veil_fhe_kind {
    VEIL_FHE_KIND_CLIENT_KEY = 1,
    VEIL_FHE_KIND_SERVER_KEY = 2,
    VEIL_FHE_KIND_PUBLIC_KEY = 3,
    VEIL_FHE_KIND_COMPACT_LIST = 4,
    VEIL_FHE_KIND_SHORTINT = 5,
    VEIL_FHE_KIND_RADIX = 6, /* radix integer / bool (integer.c) */
    /* Noise squashing (squash_io.c), far from the list above. */
    VEIL_FHE_KIND_SQUASH_KEY = 0x5101, /* squashing key (128-bit bootstrapping key) */
    VEIL_FHE_KIND_SQUASHED = 0x5102,   /* squashed ciphertext (LWE mod 2^128) */
};

/* "client key", "server key", ... ("unknown" otherwise). */
const char *veil_fhe_kind_name(uint16_t kind);

/* ---- container helpers (also for the radix layer) ---- */
/* Appends a header to b and returns its offset (pass it to _end). */
size_t veil_fhe_container_begin(veil_buf *b, uint16_t kind, uint32_t param_id);
/* Patches the payload length and appends the digest. Fails if b ran out of
 * memory. */
int veil_fhe_container_end(veil_buf *b, size_t start, veil_err *err);
/* Validates a whole container of the expected kind. expect may be NULL (any
 * known parameter set); otherwise the container's id must equal expect->id.
 * On success *payload reads exactly the payload and *params is its set. */
int veil_fhe_container_open(const uint8_t *data, size_t len, uint16_t expect_kind,
                            const struct veil_fhe_params *expect, veil_reader *payload,
                            const struct veil_fhe_params **params, veil_err *err);
/* Reads the kind and parameter id of a container without validating the
 * rest (for tools that must guess what a file holds). */
int veil_fhe_container_peek(const uint8_t *data, size_t len, uint16_t *kind, uint32_t *param_id,
                            veil_err *err);

/* One block inside a payload: u64 degree | u32 noise_level | (kN+1) u64. */
void veil_fhe_put_shortint(veil_buf *b, const struct veil_fhe_params *p,
                           const struct veil_shortint_ct *ct);
/* ct must be initialised for p; rejects degree >= msg*carry or a noise level
 * above max_noise_level. */
int veil_fhe_read_shortint(veil_reader *r, const struct veil_fhe_params *p,
                           struct veil_shortint_ct *ct, veil_err *err);

/* ---- objects ----
 * save: appends one container to out (check veil_buf_ok or the return).
 * load: expect NULL accepts any known parameter set. */
int veil_fhe_client_key_save(const struct veil_shortint_client_key *ck, veil_buf *out,
                             veil_err *err);
int veil_fhe_client_key_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                             struct veil_shortint_client_key **out, veil_err *err);

int veil_fhe_server_key_save(const struct veil_shortint_server_key *sk, veil_buf *out,
                             veil_err *err);
/* pool: threads for rebuilding the Fourier key (NULL = this thread). */
int veil_fhe_server_key_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                             struct veil_threadpool *pool, struct veil_shortint_server_key **out,
                             veil_err *err);

int veil_fhe_public_key_save(const struct veil_fhe_public_key *pk, veil_buf *out, veil_err *err);
int veil_fhe_public_key_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                             struct veil_fhe_public_key **out, veil_err *err);

int veil_fhe_compact_list_save(const struct veil_fhe_compact_list *list, veil_buf *out,
                               veil_err *err);
int veil_fhe_compact_list_load(const uint8_t *data, size_t len,
                               const struct veil_fhe_params *expect,
                               struct veil_fhe_compact_list **out, veil_err *err);

int veil_fhe_shortint_save(const struct veil_fhe_params *p, const struct veil_shortint_ct *ct,
                           veil_buf *out, veil_err *err);
/* ct is initialised here (free with veil_shortint_ct_free); *params_out
 * (may be NULL) receives the block's parameter set. */
int veil_fhe_shortint_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                           struct veil_shortint_ct *ct, const struct veil_fhe_params **params_out,
                           veil_err *err);

#endif /* VEIL_FHE_SERIALIZE_H */
