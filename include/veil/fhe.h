// SPDX-License-Identifier: Apache-2.0
/*
 * veil/fhe.h - Veil's fully homomorphic encryption (TFHE), the high-level API.
 *
 * What the rest of Veil uses: nodes encrypt telemetry (with the public key), the
 * scheduler evaluates comparisons, min/max and argmin over ciphertexts (with the
 * server key), and the key holder decrypts (with the client key). Integers are
 * FheUint8/16/32/64 and FheBool (width 1), TFHE-rs's default 128-bit parameter set
 * (message 2 bits + carry 2 bits per block).
 *
 * Files: keys and ciphertexts use one versioned container (magic, version, kind,
 * parameter-set id, length, BLAKE2b-256 checksum); loading rejects truncated,
 * oversized, corrupted or wrong-kind input and mixed parameter sets with a clear
 * error. Results are byte-identical whatever the thread count, so redundant
 * evaluators can compare veil_fhe_ct_digest() values.
 *
 * Threads: a veil_fhe_server handle is used by one caller thread at a time (it
 * caches lookup tables and counts PBS); its own pool runs the independent
 * bootstraps of each operation in parallel. Keys and ciphertexts are read-only
 * during evaluation.
 *
 * All functions return 0 / -1 and fill `err` (veil/base.h convention).
 */
#ifndef VEIL_FHE_H
#define VEIL_FHE_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct veil_fhe_client veil_fhe_client; /* secret: encrypt and decrypt */
typedef struct veil_fhe_server veil_fhe_server; /* evaluation key + thread pool */
typedef struct veil_fhe_public veil_fhe_public; /* compact public key: encrypt only */
typedef struct veil_fhe_ct veil_fhe_ct;         /* an encrypted integer or boolean */

#define VEIL_FHE_DIGEST_SIZE 32

/* ---- keys ---- */
/* Generates a key set in memory. threads: for key generation and for the
 * returned server's pool (0 = VEIL_THREADS or the CPU count). Any out pointer
 * except ck may be NULL. */
int veil_fhe_keygen(veil_fhe_client **ck, veil_fhe_server **sk, veil_fhe_public **pk,
                    unsigned threads, veil_err *err);
/* Writes DIR/client.key (0600), DIR/server.key and DIR/public.key (creating DIR). */
int veil_fhe_keygen_dir(const char *dir, veil_err *err);

int veil_fhe_client_save(const veil_fhe_client *ck, const char *path, veil_err *err);
int veil_fhe_server_save(const veil_fhe_server *sk, const char *path, veil_err *err);
int veil_fhe_public_save(const veil_fhe_public *pk, const char *path, veil_err *err);
int veil_fhe_client_load(const char *path, veil_fhe_client **out, veil_err *err);
/* threads: the evaluation pool size (0 = VEIL_THREADS or the CPU count). */
int veil_fhe_server_load(const char *path, unsigned threads, veil_fhe_server **out, veil_err *err);
int veil_fhe_public_load(const char *path, veil_fhe_public **out, veil_err *err);
void veil_fhe_client_free(veil_fhe_client *ck);
void veil_fhe_server_free(veil_fhe_server *sk);
void veil_fhe_public_free(veil_fhe_public *pk);

/* What a key or ciphertext file holds, from its header. */
enum veil_fhe_file_kind {
    VEIL_FHE_FILE_CLIENT_KEY,
    VEIL_FHE_FILE_SERVER_KEY,
    VEIL_FHE_FILE_PUBLIC_KEY,
    VEIL_FHE_FILE_CIPHERTEXT,
    VEIL_FHE_FILE_OTHER,
};
int veil_fhe_file_kind(const char *path, enum veil_fhe_file_kind *kind, veil_err *err);

/* Threads in the server's pool; PBS run by this server so far. */
unsigned veil_fhe_server_threads(const veil_fhe_server *sk);
/* Replaces the evaluation pool (0 = VEIL_THREADS or the CPU count). Results do
 * not depend on it. */
int veil_fhe_server_set_threads(veil_fhe_server *sk, unsigned threads, veil_err *err);
uint64_t veil_fhe_server_pbs_count(const veil_fhe_server *sk);
/* Rounds of independent PBS (thread-pool batches) run so far: the PBS depth. */
uint64_t veil_fhe_server_pbs_rounds(const veil_fhe_server *sk);
/* Bytes held in memory by a server key / one ciphertext of a width. */
size_t veil_fhe_server_memory(void);
size_t veil_fhe_client_memory(void);
size_t veil_fhe_public_memory(void);
size_t veil_fhe_ct_memory(unsigned width);

/* ---- ciphertexts ---- */
/* width: 1 (bool), 8, 16, 32 or 64; value must fit. */
int veil_fhe_encrypt(const veil_fhe_client *ck, unsigned width, uint64_t value, veil_fhe_ct **out,
                     veil_err *err);
int veil_fhe_encrypt_public(const veil_fhe_public *pk, unsigned width, uint64_t value,
                            veil_fhe_ct **out, veil_err *err);
/* Several values of one width under the public key as ONE compact list (a
 * single RLWE encryption of every block, up to 2048 blocks: ~17 KB for seven
 * FheUint16 where separate ciphertexts take ~900 KB), serialized into out.
 * This is what a node publishes as its telemetry. */
int veil_fhe_compact_encrypt(const veil_fhe_public *pk, unsigned width, const uint64_t *values,
                             size_t n, veil_buf *out, veil_err *err);
/* Expands a serialized compact list of exactly n values of `width` (as made
 * by veil_fhe_compact_encrypt) into n ciphertexts the server key operates
 * on. On failure nothing is left in out[]. */
int veil_fhe_compact_expand(const uint8_t *data, size_t len, unsigned width, veil_fhe_ct **out,
                            size_t n, veil_err *err);
/* A noiseless ("trivial") encryption of a public constant, usable as an operand
 * with this server's ciphertexts (e.g. the scheduler's NONE score or an index). */
int veil_fhe_trivial(const veil_fhe_server *sk, unsigned width, uint64_t value, veil_fhe_ct **out,
                     veil_err *err);
int veil_fhe_decrypt(const veil_fhe_client *ck, const veil_fhe_ct *ct, uint64_t *value,
                     veil_err *err);
unsigned veil_fhe_ct_width(const veil_fhe_ct *ct);
void veil_fhe_ct_free(veil_fhe_ct *ct);

int veil_fhe_ct_serialize(const veil_fhe_ct *ct, veil_buf *out, veil_err *err);
int veil_fhe_ct_deserialize(const uint8_t *data, size_t len, veil_fhe_ct **out, veil_err *err);
int veil_fhe_ct_save(const veil_fhe_ct *ct, const char *path, veil_err *err);
int veil_fhe_ct_load(const char *path, veil_fhe_ct **out, veil_err *err);
/* BLAKE2b-256 of the serialization. */
int veil_fhe_ct_digest(const veil_fhe_ct *ct, uint8_t out[VEIL_FHE_DIGEST_SIZE], veil_err *err);

/* ---- evaluation (server key) ---- */
enum veil_fhe_binop {
    VEIL_FHE_ADD, /* modulo 2^width */
    VEIL_FHE_SUB,
    VEIL_FHE_AND,
    VEIL_FHE_OR,
    VEIL_FHE_XOR,
    VEIL_FHE_MIN,
    VEIL_FHE_MAX,
    VEIL_FHE_EQ, /* comparisons give a bool */
    VEIL_FHE_NE,
    VEIL_FHE_LT,
    VEIL_FHE_LE,
    VEIL_FHE_GT,
    VEIL_FHE_GE,
};
int veil_fhe_binop(veil_fhe_server *sk, enum veil_fhe_binop op, const veil_fhe_ct *a,
                   const veil_fhe_ct *b, veil_fhe_ct **out, veil_err *err);

enum veil_fhe_scalar_op {
    VEIL_FHE_ADD_SCALAR,
    VEIL_FHE_SUB_SCALAR,
    VEIL_FHE_MUL_SCALAR,
    VEIL_FHE_SHL, /* by a constant number of bits */
    VEIL_FHE_SHR,
    /* comparisons with a constant that fits the width: a bool, and about half
     * the PBS of a ciphertext comparison (two blocks per lookup) */
    VEIL_FHE_EQ_SCALAR,
    VEIL_FHE_NE_SCALAR,
    VEIL_FHE_LT_SCALAR,
    VEIL_FHE_LE_SCALAR,
    VEIL_FHE_GT_SCALAR,
    VEIL_FHE_GE_SCALAR,
};
int veil_fhe_scalar(veil_fhe_server *sk, enum veil_fhe_scalar_op op, const veil_fhe_ct *a,
                    uint64_t k, veil_fhe_ct **out, veil_err *err);
int veil_fhe_neg(veil_fhe_server *sk, const veil_fhe_ct *a, veil_fhe_ct **out, veil_err *err);
int veil_fhe_not(veil_fhe_server *sk, const veil_fhe_ct *a, veil_fhe_ct **out, veil_err *err);
/* cond ? a : b, cond a bool. */
int veil_fhe_select(veil_fhe_server *sk, const veil_fhe_ct *cond, const veil_fhe_ct *a,
                    const veil_fhe_ct *b, veil_fhe_ct **out, veil_err *err);
/* Index of the smallest (want_max 0) or largest of vals[0..n): ties go to the
 * lowest index. The index is an FheUint8 (n <= 256) or FheUint16/32; value
 * (optional, may be NULL) receives the chosen value. */
int veil_fhe_argext(veil_fhe_server *sk, int want_max, const veil_fhe_ct *const *vals, size_t n,
                    veil_fhe_ct **index, veil_fhe_ct **value, veil_err *err);

/* ---- scheduling operations (the placement circuit, src/node/schedule.c) ---- */
/* out = sum_i ((vals_i >> shift) mod 2^bits) in the operands' width (8..64, all
 * equal; shift and bits even, 2 <= bits <= width, n (2^bits - 1) < 2^width). Only
 * the fields' blocks cost anything: one operand is free, each further one carry
 * propagation; the result's blocks above its range are trivially zero. */
int veil_fhe_sum_bits(veil_fhe_server *sk, const veil_fhe_ct *const *vals, size_t n, unsigned shift,
                      unsigned bits, veil_fhe_ct **out, veil_err *err);
/* The same sum where field i counts only if the bool masks[i] is true (one PBS
 * per field block): a confidential job's score over the resources it asks for. */
int veil_fhe_sum_bits_masked(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                             const veil_fhe_ct *const *masks, size_t n, unsigned shift,
                             unsigned bits, veil_fhe_ct **out, veil_err *err);
/* out = sum_i weights[i] * (vals_i mod 2^bits) in the integer operands' width
 * (8..32 bits, all equal; a boolean operand counts its value): a cost that
 * weighs fields by public weights (the weighted placement). The bound
 * sum_i weights[i] (2^bits - 1) (1 for a boolean) must be below 2^width;
 * bits even. One carry propagation whatever the weights (~2 PBS per column
 * above 6 plus the propagation); the result's blocks above its range are
 * trivially zero, so veil_fhe_flag_top may follow. */
int veil_fhe_sum_weighted(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                          const uint64_t *weights, size_t n, unsigned bits, veil_fhe_ct **out,
                          veil_err *err);
/* out = val + 2^(width - 2) * min(flags set, 3) for n <= 15 bools: val's top
 * block must be known to be zero (e.g. a veil_fhe_sum_bits result below
 * 2^(width - 2)). Free for up to three flags; 4-5 fresh flags cost one PBS,
 * 6-10 two. */
int veil_fhe_flag_top(veil_fhe_server *sk, const veil_fhe_ct *val, const veil_fhe_ct *const *flags,
                      size_t n, veil_fhe_ct **out, veil_err *err);
/* Argmin over vals[0..n) (one width; ties keep the earlier position) giving
 * labels[position] as an index_width-bit integer (8/16/32/64) and, if found is
 * not NULL, the bool [min < 2^(width - 2)] (the winner's top block is 0). */
int veil_fhe_argmin_labeled(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                            const uint64_t *labels, size_t n, unsigned index_width,
                            veil_fhe_ct **index, veil_fhe_ct **found, veil_err *err);
/* veil_fhe_argmin_labeled over node-computed keys (veil_sched_node_key:
 * 16-bit, a score below 2^14 - 1 or 0xFFFF when infeasible), cheaper: the
 * low 14 bits order such keys, so only they are compared (~2 PBS per key
 * fewer); the same index and found for such keys. */
int veil_fhe_argmin_node_keys(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                              const uint64_t *labels, size_t n, unsigned index_width,
                              veil_fhe_ct **index, veil_fhe_ct **found, veil_err *err);
/* Sharded rounds (src/node/schedule.c): veil_fhe_argmin_labeled that also
 * gives the winner's key (vals' width; a shard's output), and the merge of
 * shards' encrypted winners: the argmin over keys[0..n) (ties keep the
 * earlier shard) giving indices[winner] (all one width), the found bit and the
 * winning key, so merges nest. pbs (may be NULL) receives the PBS the call ran:
 * these run on their own evaluation context, which veil_fhe_server_pbs_count
 * does not see. */
int veil_fhe_argmin_keyed(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                          const uint64_t *labels, size_t n, unsigned index_width,
                          veil_fhe_ct **index, veil_fhe_ct **found, veil_fhe_ct **key,
                          uint64_t *pbs, veil_err *err);
int veil_fhe_argmin_merge(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                          const veil_fhe_ct *const *indices, size_t n, veil_fhe_ct **index,
                          veil_fhe_ct **found, veil_fhe_ct **key, uint64_t *pbs, veil_err *err);
/* k replicas in one evaluation: index[r], found[r] as k successive labelled
 * argmins where each winner's key is flagged infeasible (its top block + 1,
 * clamped) before the next, i.e. exactly k rounds excluding the nodes already
 * chosen; labels below 2^16, index_width 8 or 16, k <= 64. pbs as above. */
int veil_fhe_argmin_replicas(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                             const uint64_t *labels, size_t n, unsigned index_width, size_t k,
                             veil_fhe_ct **index, veil_fhe_ct **found, uint64_t *pbs,
                             veil_err *err);
/* A shard's top k (sharded batch rounds, docs/SCHEDULING.md): as
 * veil_fhe_argmin_replicas, and keys[r] is the key the r-th tournament chose
 * (vals' width): the winner's own key whenever found[r], an infeasible key
 * (>= 2^(width - 2)) otherwise. */
int veil_fhe_argmin_replicas_keyed(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                                   const uint64_t *labels, size_t n, unsigned index_width, size_t k,
                                   veil_fhe_ct **index, veil_fhe_ct **found, veil_fhe_ct **keys,
                                   uint64_t *pbs, veil_err *err);
/* The merge of S shards' k-lists: n = S k candidates, shard s's r-th winner
 * (veil_fhe_argmin_replicas_keyed's keys[r] and index[r]) at position s k + r;
 * index[r], found[r] for r < k are exactly the unsharded k replicas (smallest
 * key, ties to the lowest index, distinct nodes, the rest not found). Replica
 * j compares only the (j + 1) S candidates of rank <= j. indices of one width
 * (8 or 16 bits); k <= 64, n <= 65,536 and a multiple of k. pbs as above. */
int veil_fhe_argmin_merge_replicas(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                                   const veil_fhe_ct *const *indices, size_t n, size_t k,
                                   veil_fhe_ct **index, veil_fhe_ct **found, uint64_t *pbs,
                                   veil_err *err);
/* out = a mod 2^width as a width-bit integer (8, 16 or 32, at most a's width):
 * the low blocks, no PBS (e.g. an 8-bit label code carried in a 16-bit word,
 * compared at 8 bits for half the PBS). */
int veil_fhe_truncate(veil_fhe_server *sk, const veil_fhe_ct *a, unsigned width, veil_fhe_ct **out,
                      veil_err *err);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_FHE_H */
