/*
 * squash_bridge.c - TEMPORARY: the three accessors squashing needs into
 * api.c's opaque handles (squash_internal.h), until api.c (not owned by the
 * squashing work) defines them itself. The handles are mirrored here with
 * api.c's exact member order; each accessor checks what it can (the
 * parameter-set pointers it finds must be the known ones) so that a change
 * of layout in api.c fails loudly instead of reading garbage.
 *
 * To retire this file: add to api.c
 *   const struct veil_shortint_client_key *veil_sq_client_key_of(const veil_fhe_client *ck)
 *   { return ck->ck; }
 *   const struct veil_shortint_server_key *veil_sq_server_key_of(const veil_fhe_server *sk)
 *   { return sk->sk; }
 *   const struct veil_radix *veil_sq_ct_radix_of(const veil_fhe_ct *ct) { return &ct->r; }
 * (including squash_internal.h there), then delete this file.
 */
#include <stdlib.h>

#include "integer.h"
#include "keys.h"
#include "params.h"
#include "squash_internal.h"

struct veil_fhe_client {
    struct veil_shortint_client_key *ck;
};

struct veil_fhe_server {
    const struct veil_fhe_params *params;
    struct veil_shortint_server_key *sk;
};

struct veil_fhe_ct {
    const struct veil_fhe_params *params;
    struct veil_radix r;
};

static void bridge_check(int ok)
{
    if (!ok)
        abort(); /* api.c's handle layout changed: see the comment at the top */
}

const struct veil_shortint_client_key *veil_sq_client_key_of(const veil_fhe_client *ck)
{
    bridge_check(ck->ck && veil_fhe_params_by_id(ck->ck->params->id) == ck->ck->params);
    return ck->ck;
}

const struct veil_shortint_server_key *veil_sq_server_key_of(const veil_fhe_server *sk)
{
    bridge_check(sk->sk && sk->sk->params == sk->params);
    return sk->sk;
}

const struct veil_radix *veil_sq_ct_radix_of(const veil_fhe_ct *ct)
{
    bridge_check(veil_fhe_params_by_id(ct->params->id) == ct->params);
    return &ct->r;
}
