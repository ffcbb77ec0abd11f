// SPDX-License-Identifier: Apache-2.0
/*
 * merkle.c - Merkle batches of deployments, hashed exactly as
 * VeilRegistry.verifyInclusion checks them (see the comment at the top of
 * contracts/src/VeilRegistry.sol):
 *   leaf   = keccak256(0x00 || clusterId (8 bytes BE) || jobId || assignmentHash)
 *   parent = keccak256(0x01 || min(a,b) || max(a,b))
 *   an odd node at the end of a level moves up unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

void veil_chain_merkle_leaf(uint64_t cluster_id, const uint8_t job_id[32],
                            const uint8_t assignment_hash[32], uint8_t out[32])
{
    uint8_t in[73];
    in[0] = 0x00;
    for (int i = 0; i < 8; i++)
        in[1 + i] = (uint8_t)(cluster_id >> (56 - 8 * i));
    memcpy(in + 9, job_id, 32);
    memcpy(in + 41, assignment_hash, 32);
    veil_keccak256(in, sizeof in, out);
}

static void hash_pair(const uint8_t a[32], const uint8_t b[32], uint8_t out[32])
{
    uint8_t in[65];
    in[0] = 0x01;
    bool a_first = memcmp(a, b, 32) < 0;
    memcpy(in + 1, a_first ? a : b, 32);
    memcpy(in + 33, a_first ? b : a, 32);
    veil_keccak256(in, sizeof in, out);
}

/* Walks the tree level by level; records the sibling of `index` if wanted. */
static int build(const uint8_t (*leaves)[32], size_t n, size_t index, uint8_t root[32],
                 uint8_t (*proof)[32], size_t max_proof, size_t *n_proof, veil_err *err)
{
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "merkle: no leaves");
    if (n > (SIZE_MAX / 32))
        return veil_err_set(err, VEIL_E_RANGE, "merkle: too many leaves");
    uint8_t(*level)[32] = malloc(n * 32);
    if (!level)
        return veil_err_set(err, VEIL_E_NOMEM, "merkle: out of memory");
    memcpy(level, leaves, n * 32);
    size_t count = n, depth = 0, pos = index;
    while (count > 1) {
        if (proof) {
            size_t sib = pos ^ 1;
            if (sib < count) {
                if (depth >= max_proof) {
                    free(level);
                    return veil_err_set(err, VEIL_E_RANGE, "merkle: proof longer than %zu",
                                        max_proof);
                }
                memcpy(proof[depth++], level[sib], 32);
            }
        }
        size_t next = 0;
        for (size_t i = 0; i + 1 < count; i += 2)
            hash_pair(level[i], level[i + 1], level[next++]);
        if (count % 2 == 1)
            memcpy(level[next++], level[count - 1], 32);
        count = next;
        pos /= 2;
    }
    memcpy(root, level[0], 32);
    free(level);
    if (n_proof)
        *n_proof = depth;
    return 0;
}

int veil_chain_merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t root[32], veil_err *err)
{
    return build(leaves, n, 0, root, NULL, 0, NULL, err);
}

int veil_chain_merkle_proof(const uint8_t (*leaves)[32], size_t n, size_t index,
                            uint8_t (*proof)[32], size_t max_proof, size_t *n_proof, veil_err *err)
{
    if (index >= n)
        return veil_err_set(err, VEIL_E_RANGE, "merkle: leaf %zu of %zu", index, n);
    uint8_t root[32];
    return build(leaves, n, index, root, proof, max_proof, n_proof, err);
}

bool veil_chain_merkle_verify(const uint8_t root[32], const uint8_t leaf[32],
                              const uint8_t (*proof)[32], size_t n_proof)
{
    uint8_t h[32];
    memcpy(h, leaf, 32);
    for (size_t i = 0; i < n_proof; i++)
        hash_pair(h, proof[i], h);
    return memcmp(h, root, 32) == 0;
}
