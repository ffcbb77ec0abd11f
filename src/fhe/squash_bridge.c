/*
 * squash_bridge.c - TEMPORARY: the one accessor squashing still needs into
 * api.c's opaque handles: the shortint server key inside a veil_fhe_server
 * (the client key and ciphertext accessors already exist in api.c and are
 * used directly). The handle is mirrored here with api.c's member order and
 * checked (its parameter-set pointer must be the server key's), so a change
 * of layout in api.c fails loudly instead of reading garbage.
 *
 * To retire this file: add to api.c, beside veil_fhe_client_key_of,
 *   const struct veil_shortint_server_key *veil_fhe_server_key_of(const veil_fhe_server *sk)
 *   { return sk->sk; }
 * declared in the private header with the other accessors, call it from
 * squash.c instead of veil_sq_server_key_of, and delete this file.
 */
#include <stdlib.h>

#include "keys.h"
#include "params.h"
#include "squash_internal.h"

struct veil_fhe_server {
    const struct veil_fhe_params *params;
    struct veil_shortint_server_key *sk;
};

const struct veil_shortint_server_key *veil_sq_server_key_of(const veil_fhe_server *sk)
{
    if (!sk->sk || sk->sk->params != sk->params ||
        veil_fhe_params_by_id(sk->params->id) != sk->params)
        abort(); /* api.c's handle layout changed: see the comment at the top */
    return sk->sk;
}
