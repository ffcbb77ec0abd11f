// SPDX-License-Identifier: Apache-2.0
/*
 * api_internal.h - the accessors api.c gives the other files of src/fhe/ into
 * its opaque high-level handles (private to src/fhe/): unwrapping a handle to
 * the layer below it, and wrapping a freshly built object into a handle. The
 * handles' layouts stay in api.c; users: the TFHE-rs interop (tfhers*.c) and
 * noise squashing (squash*.c).
 */
#ifndef VEIL_FHE_API_INTERNAL_H
#define VEIL_FHE_API_INTERNAL_H

#include <veil/base.h>
#include <veil/fhe.h>

#include "integer.h"
#include "keys.h"
#include "params.h"

struct veil_threadpool;

const struct veil_shortint_client_key *veil_fhe_client_key_of(const veil_fhe_client *ck);
/* Takes ownership of key (freed on failure). */
VEIL_WARN_UNUSED int veil_fhe_client_wrap(struct veil_shortint_client_key *key,
                                          veil_fhe_client **out, veil_err *err);
const struct veil_fhe_public_key *veil_fhe_public_key_of(const veil_fhe_public *pk);
/* Takes ownership of key; `foreign` marks a key without a Veil mask seed (from
 * TFHE-rs): veil_fhe_public_save refuses it. */
VEIL_WARN_UNUSED int veil_fhe_public_wrap(struct veil_fhe_public_key *key, int foreign,
                                          veil_fhe_public **out, veil_err *err);
/* The shortint server key of a server handle. */
const struct veil_shortint_server_key *veil_fhe_server_key_of(const veil_fhe_server *sk);
/* The shortint server key and the pool of a server handle. */
void veil_fhe_server_parts(const veil_fhe_server *sk, const struct veil_shortint_server_key **key,
                           struct veil_threadpool **pool);
const struct veil_radix *veil_fhe_ct_radix(const veil_fhe_ct *ct,
                                           const struct veil_fhe_params **params);
/* Takes ownership of r's blocks (r is cleared; freed on failure). */
VEIL_WARN_UNUSED int veil_fhe_ct_wrap(const struct veil_fhe_params *p, struct veil_radix *r,
                                      veil_fhe_ct **out, veil_err *err);

#endif /* VEIL_FHE_API_INTERNAL_H */
