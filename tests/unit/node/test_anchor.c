// SPDX-License-Identifier: Apache-2.0
/*
 * test_anchor.c - assignment commitments and Merkle batches: proofs for every
 * leaf of every tree size against an independent recursive reference (with
 * BLAKE2b), and byte-exact agreement with Ethereum Keccak-256 and the
 * VeilRegistry contract's leaf/pair layout, using a test-only Keccak sponge
 * on nettle's sha3_permute whose expected values were computed with foundry's
 * `cast keccak` (commands in the comments).
 */
#include <string.h>

#include <nettle/sha3.h>

#include <veil/node.h>

#include "vtest.h"

static const struct veil_hasher blake = {veil_hash256_blake2b, NULL};

/* Keccak-256 as Ethereum uses it (padding 0x01 ... 0x80, rate 136), test-only:
 * production uses src/chain's implementation through the same interface. */
static void keccak256_iov(uint8_t out[32], const struct veil_hash_iov *parts, size_t n, void *ctx)
{
    (void)ctx;
    struct sha3_state st;
    memset(&st, 0, sizeof st);
    uint8_t block[136];
    size_t fill = 0;
    for (size_t p = 0; p < n; p++) {
        const uint8_t *d = parts[p].data;
        for (size_t i = 0; i < parts[p].len; i++) {
            block[fill++] = d[i];
            if (fill == 136) {
                for (int l = 0; l < 17; l++) {
                    uint64_t lane = 0;
                    for (int b = 7; b >= 0; b--)
                        lane = (lane << 8) | block[l * 8 + b];
                    st.a[l] ^= lane;
                }
                sha3_permute(&st);
                fill = 0;
            }
        }
    }
    memset(block + fill, 0, 136 - fill);
    block[fill] ^= 0x01;
    block[135] ^= 0x80;
    for (int l = 0; l < 17; l++) {
        uint64_t lane = 0;
        for (int b = 7; b >= 0; b--)
            lane = (lane << 8) | block[l * 8 + b];
        st.a[l] ^= lane;
    }
    sha3_permute(&st);
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));
}
static const struct veil_hasher keccak = {keccak256_iov, NULL};

static void from_hex(uint8_t *out, const char *hex)
{
    CHECK(veil_hex_decode(out, 32, hex, strlen(hex), true, NULL) == 32);
}

static struct veil_peer_id ed25519_peer(uint8_t fill)
{
    struct veil_peer_id p = {.len = 38};
    static const uint8_t prefix[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    memcpy(p.bytes, prefix, 6);
    memset(p.bytes + 6, fill, 32);
    return p;
}

static void test_keccak_vectors(void)
{
    uint8_t got[32], want[32];
    keccak256_iov(got, NULL, 0, NULL); /* cast keccak 0x */
    from_hex(want, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    CHECK_EQ_MEM(got, want, 32);
    uint8_t ab[200];
    memset(ab, 0xab, sizeof ab); /* cast keccak 0x(ab x 200): crosses a block */
    struct veil_hash_iov iov[2] = {{ab, 150}, {ab + 150, 50}};
    keccak256_iov(got, iov, 2, NULL);
    from_hex(want, "8ca353cee0a5c5b999a0916e88da37a16293cf14a73c735d6b5197b50c3d6656");
    CHECK_EQ_MEM(got, want, 32);
}

static void test_commitment_matches_contract_layout(void)
{
    uint8_t job[32], digest[32], got[32], want[32];
    memset(job, 0x11, 32);
    memset(digest, 0x66, 32);
    struct veil_peer_id node = ed25519_peer(0x55);
    /* cast keccak 0x0000000000000007 (11 x 32) 00000001 (55 x 32) (66 x 32) 0000000000000009 */
    veil_assignment_commitment(got, &keccak, 7, job, 1, &node, digest, 9);
    from_hex(want, "0dcae07f76a687a6c4d0fa0a9db05a5d8f6b82e1436100157d63f385d543722b");
    CHECK_EQ_MEM(got, want, 32);
    /* Unschedulable: 32 zero bytes for the node. */
    veil_assignment_commitment(got, &keccak, 7, job, 1, NULL, digest, 9);
    from_hex(want, "66542254046df7a6645aa75154585cc02ba0b140c3d54efc7656e574731b5674");
    CHECK_EQ_MEM(got, want, 32);
    /* Peer keys as the contract's _peerKey: bare 32 bytes; other IDs hashed. */
    uint8_t key[32];
    struct veil_peer_id bare = {.len = 32};
    memset(bare.bytes, 0x55, 32);
    veil_peer_key(key, &keccak, &bare);
    CHECK_EQ_MEM(key, bare.bytes, 32);
    veil_peer_key(key, &keccak, &node);
    CHECK_EQ_MEM(key, bare.bytes, 32);
    struct veil_peer_id other = {.len = 3, .bytes = {1, 2, 3}};
    uint8_t h[32];
    struct veil_hash_iov iov = {other.bytes, 3};
    keccak256_iov(h, &iov, 1, NULL);
    veil_peer_key(key, &keccak, &other);
    CHECK_EQ_MEM(key, h, 32);
}

static void test_merkle_matches_contract(void)
{
    /* Leaves and root computed with cast (see the header comment of
     * contracts/src/VeilRegistry.sol for the layout):
     *   Lk = cast keccak 0x00 || 0000000000000007 || job_k || (22 x 32)
     *   P  = cast keccak 0x01 || min(L0,L1) || max(L0,L1);  root = same of (P, L2) */
    uint8_t jobs[3][32], com[32], leaves[3][32], want[32], root[32];
    memset(jobs[0], 0x11, 32);
    memset(jobs[1], 0x33, 32);
    memset(jobs[2], 0x44, 32);
    memset(com, 0x22, 32);
    for (int i = 0; i < 3; i++)
        veil_merkle_leaf(leaves[i], &keccak, 7, jobs[i], com);
    from_hex(want, "4af30fa170d9c3bc4ba309740d3ede8e9b2b319ebe4d3dd7767529ab79efc9dd");
    CHECK_EQ_MEM(leaves[0], want, 32);
    from_hex(want, "4f991cab16c71ab52d584788d4626b890661e0a21b971364fb211e1eb5f85f8c");
    CHECK_EQ_MEM(leaves[2], want, 32);
    CHECK_EQ_INT(veil_merkle_root(root, &keccak, (const uint8_t(*)[32])leaves, 3, NULL), 0);
    from_hex(want, "ee89bb2bf9c329a9b7c163cfa4d6dfd78c1db5c2637ce8d13ab264ea9c5a4a5e");
    CHECK_EQ_MEM(root, want, 32);
    /* Leaf 2 is promoted at level 0: its proof is just P. */
    uint8_t proof[VEIL_MERKLE_MAX_DEPTH][32];
    size_t np;
    CHECK_EQ_INT(veil_merkle_proof(proof, &np, &keccak, (const uint8_t(*)[32])leaves, 3, 2, NULL),
                 0);
    CHECK_EQ_INT(np, 1);
    from_hex(want, "ea8a90b17f97d2a3c78dd538d0427e5acfe9b1dd304cef89f812cfaa8083de39");
    CHECK_EQ_MEM(proof[0], want, 32);
    CHECK(veil_merkle_verify(&keccak, root, leaves[2], (const uint8_t(*)[32])proof, np));
}

/* Independent reference: recursive definition of the same tree. */
static void ref_root(uint8_t out[32], uint8_t (*level)[32], size_t n)
{
    if (n == 1) {
        memcpy(out, level[0], 32);
        return;
    }
    uint8_t next[64][32];
    size_t m = 0;
    for (size_t i = 0; i < n; i += 2) {
        if (i + 1 < n)
            veil_merkle_parent(next[m++], &blake, level[i], level[i + 1]);
        else
            memcpy(next[m++], level[i], 32);
    }
    ref_root(out, next, m);
}

static void test_merkle_all_sizes(void)
{
    uint8_t leaves[64][32];
    for (int i = 0; i < 64; i++) {
        uint8_t job[32] = {(uint8_t)i}, com[32] = {(uint8_t)(i * 7)};
        veil_merkle_leaf(leaves[i], &blake, 42, job, com);
    }
    for (size_t n = 1; n <= 64; n++) {
        uint8_t root[32], ref[32], copy[64][32];
        memcpy(copy, leaves, sizeof copy);
        ref_root(ref, copy, n);
        CHECK_EQ_INT(veil_merkle_root(root, &blake, (const uint8_t(*)[32])leaves, n, NULL), 0);
        CHECK_EQ_MEM(root, ref, 32);
        for (size_t i = 0; i < n; i++) {
            uint8_t proof[VEIL_MERKLE_MAX_DEPTH][32];
            size_t np = 99;
            CHECK_EQ_INT(
                veil_merkle_proof(proof, &np, &blake, (const uint8_t(*)[32])leaves, n, i, NULL), 0);
            CHECK(np <= 6);
            CHECK(veil_merkle_verify(&blake, root, leaves[i], (const uint8_t(*)[32])proof, np));
            /* Another leaf with this proof fails (n > 1). */
            if (n > 1)
                CHECK(!veil_merkle_verify(&blake, root, leaves[(i + 1) % n],
                                          (const uint8_t(*)[32])proof, np));
            if (np > 0) {
                proof[0][5] ^= 1;
                CHECK(
                    !veil_merkle_verify(&blake, root, leaves[i], (const uint8_t(*)[32])proof, np));
            }
        }
    }
    veil_err err = {0};
    uint8_t root[32], proof[VEIL_MERKLE_MAX_DEPTH][32];
    size_t np;
    CHECK_EQ_INT(veil_merkle_root(root, &blake, (const uint8_t(*)[32])leaves, 0, &err), -1);
    CHECK_EQ_INT(veil_merkle_proof(proof, &np, &blake, (const uint8_t(*)[32])leaves, 4, 4, &err),
                 -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
}

static void test_commitment_binds_every_field(void)
{
    uint8_t job[32] = {1}, dig[32] = {2}, base[32], x[32];
    struct veil_peer_id n1 = ed25519_peer(1), n2 = ed25519_peer(2);
    veil_assignment_commitment(base, &blake, 1, job, 0, &n1, dig, 5);
    veil_assignment_commitment(x, &blake, 2, job, 0, &n1, dig, 5);
    CHECK(memcmp(base, x, 32) != 0);
    veil_assignment_commitment(x, &blake, 1, job, 1, &n1, dig, 5);
    CHECK(memcmp(base, x, 32) != 0);
    veil_assignment_commitment(x, &blake, 1, job, 0, &n2, dig, 5);
    CHECK(memcmp(base, x, 32) != 0);
    veil_assignment_commitment(x, &blake, 1, job, 0, NULL, dig, 5);
    CHECK(memcmp(base, x, 32) != 0);
    veil_assignment_commitment(x, &blake, 1, job, 0, &n1, dig, 6);
    CHECK(memcmp(base, x, 32) != 0);
    job[31] = 9;
    veil_assignment_commitment(x, &blake, 1, job, 0, &n1, dig, 5);
    CHECK(memcmp(base, x, 32) != 0);
}

static void test_batch_json(void)
{
    enum { N = 7 };
    struct veil_anchor_item items[N];
    for (int i = 0; i < N; i++) {
        memset(items[i].job_id, 0x70 - i, 32); /* given in descending order */
        memset(items[i].commitment, i, 32);
    }
    uint8_t root[32], root2[32];
    char *proofs[N];
    veil_err err = {0};
    CHECK_EQ_INT(veil_anchor_batch_build(&keccak, 7, items, N, root, proofs, &err), 0);
    for (int i = 0; i < N; i++) {
        bool ok = false;
        CHECK_EQ_INT(veil_anchor_verify_json(&keccak, root, 7, items[i].job_id, items[i].commitment,
                                             proofs[i], &ok, &err),
                     0);
        CHECK(ok);
        /* wrong cluster or commitment: not included */
        CHECK_EQ_INT(veil_anchor_verify_json(&keccak, root, 8, items[i].job_id, items[i].commitment,
                                             proofs[i], &ok, &err),
                     0);
        CHECK(!ok);
        CHECK_EQ_INT(veil_anchor_verify_json(&keccak, root, 7, items[i].job_id,
                                             items[(i + 1) % N].commitment, proofs[i], &ok, &err),
                     0);
        CHECK(!ok);
        free(proofs[i]);
    }
    /* Order of the input does not change the root (every node agrees). */
    struct veil_anchor_item rev[N];
    for (int i = 0; i < N; i++)
        rev[i] = items[N - 1 - i];
    CHECK_EQ_INT(veil_anchor_batch_build(&keccak, 7, rev, N, root2, NULL, &err), 0);
    CHECK_EQ_MEM(root, root2, 32);
    /* Malformed proofs are refused, not crashed on. */
    bool ok;
    CHECK_EQ_INT(veil_anchor_verify_json(&keccak, root, 7, items[0].job_id, items[0].commitment,
                                         "[\"0x12\"]", &ok, &err),
                 -1);
    CHECK_EQ_INT(veil_anchor_verify_json(&keccak, root, 7, items[0].job_id, items[0].commitment,
                                         "{}", &ok, &err),
                 -1);
    CHECK_EQ_INT(veil_anchor_batch_build(&keccak, 7, items, 0, root, NULL, &err), -1);
    /* One item: the root is its leaf and the proof is empty. */
    char *one;
    CHECK_EQ_INT(veil_anchor_batch_build(&keccak, 7, items, 1, root, &one, &err), 0);
    CHECK_EQ_STR(one, "[]");
    free(one);
}

/* Batch epochs: every telemetry epoch falls in exactly one, in order, and
 * the windows are batch_ms long whatever the telemetry interval. */
static void test_batch_epochs(void)
{
    CHECK_EQ_U64(veil_anchor_batch_epoch(12345, 2000, 0), 12345);
    CHECK_EQ_U64(veil_anchor_batch_epoch(12345, 0, 60000), 12345);
    CHECK_EQ_U64(veil_anchor_batch_epoch(12345, 2000, 2000), 12345);
    /* 2 s epochs, 20 s batches: ten epochs per batch */
    for (uint64_t e = 880000000; e < 880000100; e++)
        CHECK_EQ_U64(veil_anchor_batch_epoch(e, 2000, 20000), e / 10);
    uint64_t prev = 0;
    for (uint64_t e = 0; e < 1000; e++) {
        uint64_t b = veil_anchor_batch_epoch(e, 3000, 7000);
        CHECK(b >= prev);
        CHECK(b * 7000 <= e * 3000 && e * 3000 < (b + 1) * 7000);
        prev = b;
    }
    /* a forged huge epoch saturates instead of wrapping to a small batch */
    CHECK(veil_anchor_batch_epoch(UINT64_MAX, 2000, 20000) >= UINT64_MAX / 20000);
}

VTEST_MAIN(VTEST(test_keccak_vectors), VTEST(test_commitment_matches_contract_layout),
           VTEST(test_merkle_matches_contract), VTEST(test_merkle_all_sizes),
           VTEST(test_commitment_binds_every_field), VTEST(test_batch_json),
           VTEST(test_batch_epochs))
