// SPDX-License-Identifier: Apache-2.0
/*
 * params.c - the TFHE parameter sets (see params.h). Values follow TFHE-rs
 * 1.x PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128 (../shared/notes/PROTOCOLS.md).
 */
#include "params.h"

static const struct veil_fhe_params veil_fhe_params_2_2 = {
    .name = "PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128",
    .id = VEIL_FHE_PARAMS_ID_2_2_KS_PBS_TUNIFORM_2M128,
    .lwe_dim = 918,
    .glwe_dim = 1,
    .poly_size = 2048,
    .lwe_noise_log2 = 45,
    .glwe_noise_log2 = 17,
    .pbs_base_log = 23,
    .pbs_level = 1,
    .ks_base_log = 4,
    .ks_level = 4,
    .message_modulus = 4,
    .carry_modulus = 4,
    .max_noise_level = 5,
    .log2_p_fail = -129.6,
};

const struct veil_fhe_params *veil_fhe_params_default(void)
{
    return &veil_fhe_params_2_2;
}

const struct veil_fhe_params *veil_fhe_params_by_id(uint32_t id)
{
    if (id == veil_fhe_params_2_2.id)
        return &veil_fhe_params_2_2;
    return NULL;
}

int veil_fhe_params_lookup(uint32_t id, const struct veil_fhe_params **out, veil_err *err)
{
    const struct veil_fhe_params *p = veil_fhe_params_by_id(id);
    if (!p)
        return veil_err_set(err, VEIL_E_INVALID, "unknown FHE parameter set id %u", id);
    *out = p;
    return 0;
}
