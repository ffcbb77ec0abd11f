// SPDX-License-Identifier: Apache-2.0
/*
 * anchor.c - assignment commitments and per-epoch Merkle batches, written
 * against a small hash interface (veil_hasher) so that production plugs in
 * Keccak-256 from src/chain and the unit tests use BLAKE2b. The layout is
 * exactly what contracts/src/VeilRegistry.sol verifies (see its header
 * comment, deploymentLeaf and verifyInclusion):
 *   leaf   = H(0x00 || clusterId u64be || jobId || assignmentHash)
 *   parent = H(0x01 || min(a,b) || max(a,b))   (sorted pair, bytes32 order)
 *   an odd level promotes its last node unchanged.
 * It also owns the grouping of assignments into batch epochs, which every
 * node must compute the same way to rebuild an anchored root.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include <veil/node.h>

void veil_hash256_blake2b(uint8_t out[32], const struct veil_hash_iov *parts, size_t n, void *ctx)
{
    (void)ctx;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < n; i++)
        crypto_generichash_update(&st, parts[i].data, parts[i].len);
    crypto_generichash_final(&st, out, 32);
}

static void put_be(uint8_t *out, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

void veil_peer_key(uint8_t out[32], const struct veil_hasher *h, const struct veil_peer_id *peer)
{
    static const uint8_t ed25519_identity[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    if (peer->len == 32) {
        memcpy(out, peer->bytes, 32);
    } else if (peer->len == 38 && memcmp(peer->bytes, ed25519_identity, 6) == 0) {
        memcpy(out, peer->bytes + 6, 32);
    } else {
        struct veil_hash_iov iov = {peer->bytes, peer->len};
        h->fn(out, &iov, 1, h->ctx);
    }
}

void veil_assignment_commitment(uint8_t out[32], const struct veil_hasher *h, uint64_t cluster_id,
                                const uint8_t job_id[32], uint32_t replica,
                                const struct veil_peer_id *node, const uint8_t output_digest[32],
                                uint64_t epoch)
{
    uint8_t cluster[8], rep[4], ep[8], node_key[32] = {0};
    put_be(cluster, cluster_id, 8);
    put_be(rep, replica, 4);
    put_be(ep, epoch, 8);
    if (node)
        veil_peer_key(node_key, h, node);
    struct veil_hash_iov iov[] = {{cluster, 8},   {job_id, 32},        {rep, 4},
                                  {node_key, 32}, {output_digest, 32}, {ep, 8}};
    h->fn(out, iov, VEIL_ARRAY_LEN(iov), h->ctx);
}

void veil_merkle_leaf(uint8_t out[32], const struct veil_hasher *h, uint64_t cluster_id,
                      const uint8_t job_id[32], const uint8_t commitment[32])
{
    uint8_t tag = 0x00, cluster[8];
    put_be(cluster, cluster_id, 8);
    struct veil_hash_iov iov[] = {{&tag, 1}, {cluster, 8}, {job_id, 32}, {commitment, 32}};
    h->fn(out, iov, VEIL_ARRAY_LEN(iov), h->ctx);
}

void veil_merkle_parent(uint8_t out[32], const struct veil_hasher *h, const uint8_t a[32],
                        const uint8_t b[32])
{
    uint8_t tag = 0x01;
    bool a_first = memcmp(a, b, 32) < 0;
    struct veil_hash_iov iov[] = {{&tag, 1}, {a_first ? a : b, 32}, {a_first ? b : a, 32}};
    h->fn(out, iov, VEIL_ARRAY_LEN(iov), h->ctx);
}

/* Builds the tree level by level; calls back with each sibling of `index`. */
static int merkle_walk(uint8_t root[32], uint8_t (*proof)[32], size_t *n_proof,
                       const struct veil_hasher *h, const uint8_t (*leaves)[32], size_t n,
                       size_t index, veil_err *err)
{
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "a Merkle batch needs at least one leaf");
    if (index >= n)
        return veil_err_set(err, VEIL_E_RANGE, "leaf index %zu out of range (%zu leaves)", index,
                            n);
    if (n > ((size_t)1 << 32))
        return veil_err_set(err, VEIL_E_LIMIT, "too many leaves");
    uint8_t(*level)[32] = malloc(n * sizeof *level);
    if (!level)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    memcpy(level, leaves, n * sizeof *level);
    size_t depth = 0;
    while (n > 1) {
        if (proof) {
            size_t sib = index ^ 1;
            if (sib < n) { /* an unpaired last node has no sibling at this level */
                if (depth >= VEIL_MERKLE_MAX_DEPTH) {
                    free(level);
                    return veil_err_set(err, VEIL_E_LIMIT, "tree too deep");
                }
                memcpy(proof[depth++], level[sib], 32);
            }
        }
        size_t m = 0;
        for (size_t i = 0; i + 1 < n; i += 2) {
            uint8_t parent[32]; /* level[m] may alias level[i] */
            veil_merkle_parent(parent, h, level[i], level[i + 1]);
            memcpy(level[m++], parent, 32);
        }
        if (n % 2)
            memcpy(level[m++], level[n - 1], 32);
        n = m;
        index /= 2;
    }
    if (root)
        memcpy(root, level[0], 32);
    if (n_proof)
        *n_proof = depth;
    free(level);
    return 0;
}

int veil_merkle_root(uint8_t root[32], const struct veil_hasher *h, const uint8_t (*leaves)[32],
                     size_t n, veil_err *err)
{
    return merkle_walk(root, NULL, NULL, h, leaves, n, 0, err);
}

int veil_merkle_proof(uint8_t (*proof)[32], size_t *n_proof, const struct veil_hasher *h,
                      const uint8_t (*leaves)[32], size_t n, size_t index, veil_err *err)
{
    return merkle_walk(NULL, proof, n_proof, h, leaves, n, index, err);
}

bool veil_merkle_verify(const struct veil_hasher *h, const uint8_t root[32], const uint8_t leaf[32],
                        const uint8_t (*proof)[32], size_t n_proof)
{
    if (n_proof > VEIL_MERKLE_MAX_DEPTH)
        return false;
    uint8_t cur[32];
    memcpy(cur, leaf, 32);
    for (size_t i = 0; i < n_proof; i++) {
        uint8_t next[32];
        veil_merkle_parent(next, h, cur, proof[i]);
        memcpy(cur, next, 32);
    }
    return memcmp(cur, root, 32) == 0;
}

static int cmp_items(const void *a, const void *b)
{
    const struct veil_anchor_item *x = a, *y = b;
    int c = memcmp(x->job_id, y->job_id, 32);
    return c ? c : memcmp(x->commitment, y->commitment, 32);
}

int veil_anchor_batch_build(const struct veil_hasher *h, uint64_t cluster_id,
                            const struct veil_anchor_item *items, size_t n, uint8_t root[32],
                            char **proof_json, veil_err *err)
{
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "an anchor batch needs at least one item");
    if (n > ((size_t)1 << 24))
        return veil_err_set(err, VEIL_E_LIMIT, "anchor batch of %zu items is too large", n);
    struct veil_anchor_item *sorted = malloc(n * sizeof *sorted);
    uint8_t(*leaves)[32] = malloc(n * sizeof *leaves);
    if (!sorted || !leaves) {
        free(sorted);
        free(leaves);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    memcpy(sorted, items, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_items);
    for (size_t i = 0; i < n; i++)
        veil_merkle_leaf(leaves[i], h, cluster_id, sorted[i].job_id, sorted[i].commitment);
    int rc = veil_merkle_root(root, h, (const uint8_t(*)[32])leaves, n, err);
    for (size_t i = 0; i < n && proof_json; i++)
        proof_json[i] = NULL;
    for (size_t i = 0; rc == 0 && proof_json && i < n; i++) {
        /* position of item i in the sorted order (duplicates: the first) */
        struct veil_anchor_item *pos = bsearch(&items[i], sorted, n, sizeof *sorted, cmp_items);
        size_t at = (size_t)(pos - sorted);
        while (at > 0 && cmp_items(&sorted[at - 1], &items[i]) == 0)
            at--;
        uint8_t proof[VEIL_MERKLE_MAX_DEPTH][32];
        size_t np = 0;
        rc = veil_merkle_proof(proof, &np, h, (const uint8_t(*)[32])leaves, n, at, err);
        json_t *arr = json_array();
        for (size_t k = 0; rc == 0 && k < np; k++) {
            char hex[67] = "0x";
            veil_hex_encode(hex + 2, sizeof hex - 2, proof[k], 32);
            json_array_append_new(arr, json_string(hex));
        }
        proof_json[i] = rc == 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        if (rc == 0 && !proof_json[i])
            rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    if (rc != 0 && proof_json)
        for (size_t i = 0; i < n; i++) {
            free(proof_json[i]);
            proof_json[i] = NULL;
        }
    free(sorted);
    free(leaves);
    return rc;
}

int veil_anchor_verify_json(const struct veil_hasher *h, const uint8_t root[32],
                            uint64_t cluster_id, const uint8_t job_id[32],
                            const uint8_t commitment[32], const char *proof_json, bool *ok,
                            veil_err *err)
{
    *ok = false;
    json_error_t jerr;
    json_t *arr = json_loads(proof_json, 0, &jerr);
    if (!json_is_array(arr) || json_array_size(arr) > VEIL_MERKLE_MAX_DEPTH) {
        json_decref(arr);
        return veil_err_set(err, VEIL_E_PARSE, "inclusion proof is not a JSON array of hashes");
    }
    size_t np = json_array_size(arr);
    uint8_t proof[VEIL_MERKLE_MAX_DEPTH][32];
    for (size_t i = 0; i < np; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || strlen(s) != 66 ||
            veil_hex_decode(proof[i], 32, s, strlen(s), true, NULL) != 32) {
            json_decref(arr);
            return veil_err_set(err, VEIL_E_PARSE, "inclusion proof entry %zu is not 0x + 64 hex",
                                i);
        }
    }
    json_decref(arr);
    uint8_t leaf[32];
    veil_merkle_leaf(leaf, h, cluster_id, job_id, commitment);
    *ok = veil_merkle_verify(h, root, leaf, (const uint8_t(*)[32])proof, np);
    return 0;
}

uint64_t veil_anchor_batch_epoch(uint64_t epoch, uint64_t interval_ms, uint64_t batch_ms)
{
    if (batch_ms == 0 || interval_ms == 0)
        return epoch;
    /* The start of telemetry epoch `epoch` in ms since 1970 (below 2^64 for
     * any epoch of a real clock; saturate rather than wrap on a forged one). */
    if (epoch > UINT64_MAX / interval_ms)
        return UINT64_MAX / batch_ms;
    return epoch * interval_ms / batch_ms;
}
