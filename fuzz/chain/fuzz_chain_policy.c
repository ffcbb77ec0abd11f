// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_chain_policy.c - libFuzzer target: veil_contract_policy_decode on
 * getClusterPolicy's return data (what veild and the CLI read from chain,
 * the shard size and redundancy and the scheduling switches included);
 * whatever decodes must encode and decode again to the same policy.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_abort(const veil_contract_policy *a, const veil_contract_policy *b)
{
    if (a->n_image_digests != b->n_image_digests || a->n_weights != b->n_weights ||
        a->n_decryptors != b->n_decryptors || a->n_guardian_keys != b->n_guardian_keys ||
        strcmp(a->scheduler_policy, b->scheduler_policy) != 0 ||
        memcmp(a->fhe_key_hash, b->fhe_key_hash, 32) != 0 ||
        a->outcomes_per_period != b->outcomes_per_period ||
        a->outcome_period_s != b->outcome_period_s || a->shard_size != b->shard_size ||
        a->shard_redundancy != b->shard_redundancy || a->sched_flags != b->sched_flags ||
        a->version != b->version)
        abort();
    if ((a->n_image_digests &&
         memcmp(a->image_digests, b->image_digests, 32 * a->n_image_digests)) ||
        (a->n_weights && memcmp(a->weights, b->weights, sizeof *a->weights * a->n_weights)) ||
        (a->n_decryptors &&
         memcmp(a->decryptors, b->decryptors, sizeof *a->decryptors * a->n_decryptors)) ||
        (a->n_guardian_keys && memcmp(a->guardian_keys, b->guardian_keys, 32 * a->n_guardian_keys)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_contract_policy p, q;
    if (veil_contract_policy_decode(data, size, &p, NULL) != 0)
        return 0;
    veil_buf out;
    veil_buf_init(&out);
    if (veil_contract_policy_encode(&p, &out, NULL) != 0 ||
        veil_contract_policy_decode(out.data, out.len, &q, NULL) != 0)
        abort();
    same_or_abort(&p, &q);
    veil_contract_policy_clear(&q);
    veil_contract_policy_clear(&p);
    veil_buf_free(&out);
    return 0;
}
