// SPDX-License-Identifier: Apache-2.0
/*
 * integer.h - radix integers of Veil's TFHE (private to src/fhe/): FheUint8/16/32/64
 * as 4/8/16/32 blocks of 2-bit messages (least significant block first) and FheBool
 * as one block, built on the shortint layer (shortint.h).
 *
 * Every operation is planned as a small dataflow graph of KS+PBS nodes whose inputs
 * are linear combinations of blocks; nodes nobody reads are pruned, two lookups of the
 * same input below 8 share one two-function PBS, and the graph runs level by level,
 * each level of independent PBS being one veil_shortint_apply_jobs batch on the thread
 * pool. So results are byte-identical for any thread count (each PBS writes only its
 * own slot, and the plan does not depend on the pool).
 *
 * Techniques (after TFHE-rs's integer layer, written fresh here):
 *   - carries: blocks are summed without bootstrapping, each block's carry state
 *     (none / propagate / generate = 0/1/2) is bootstrapped already shifted to its
 *     position in a group of three, so one PBS over "carry_in + s0 + 2 s1 + 4 s2"
 *     resolves a group; group states are resolved the same way recursively, giving
 *     logarithmic depth (carry-lookahead in base 3); a group's first carry and the
 *     last block's carry come free with a neighbouring block's result PBS;
 *   - comparisons (strict x < y only; le/ge negate gt/lt): the lowest block is
 *     resolved to a borrow bit, which absorbs three more block states per PBS while
 *     the higher states are reduced three at a time; comparisons with a constant
 *     take two blocks per lookup;
 *   - eq/ne: per-block equality bits summed five at a time;
 *   - min/max/select: one PBS per block from "8*cond + (a - b + 3)";
 *   - argmin/argmax: a tournament tree of (value, index) pairs; ties keep the
 *     lowest index; the index is carried as bits and only the bits already decided
 *     are selected in each round. A match compares by a borrow ripple (one PBS per
 *     block, every input below 8: the last one gives 8*cond and cond in one
 *     two-function PBS), since a tournament's matches run side by side and PBS,
 *     not depth, bound it; the labelled argmins carry labels packed two bits per
 *     block, two different constant blocks selected linearly with cond.
 *
 * Noise: each block carries shortint's noise_level; inputs whose noise would push a
 * linear combination past params->max_noise_level are first refreshed by an identity
 * PBS (counted like any other PBS).
 */
#ifndef VEIL_FHE_INTEGER_H
#define VEIL_FHE_INTEGER_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#include "shortint.h"

struct veil_threadpool;

/* A radix ciphertext. width is 1 (FheBool) or 8/16/32/64. */
struct veil_radix {
    unsigned width;
    size_t n_blocks;
    struct veil_shortint_ct *blocks; /* n_blocks, least significant first */
};

/* Blocks of a given width (1 -> 1, 8 -> 4, ...), or 0 if the width is unsupported. */
size_t veil_radix_blocks_for_width(unsigned width);

int veil_radix_init(struct veil_radix *r, const struct veil_fhe_params *p, unsigned width,
                    veil_err *err);
void veil_radix_free(struct veil_radix *r);
int veil_radix_copy(struct veil_radix *dst, const struct veil_radix *src,
                    const struct veil_fhe_params *p, veil_err *err);

int veil_radix_encrypt(const struct veil_shortint_client_key *ck, const struct veil_fhe_params *p,
                       unsigned width, uint64_t value, struct veil_radix *out, veil_err *err);
/* Decrypts (each block taken modulo the message modulus). */
uint64_t veil_radix_decrypt(const struct veil_shortint_client_key *ck,
                            const struct veil_fhe_params *p, const struct veil_radix *r);
/* A noiseless encryption of a constant. */
int veil_radix_trivial(const struct veil_fhe_params *p, unsigned width, uint64_t value,
                       struct veil_radix *out, veil_err *err);

/* Serialization in the FHE container (serialize.h, kind VEIL_FHE_KIND_RADIX):
 * payload = u32 width | u32 block count | blocks (veil_fhe_put_shortint), all
 * little-endian. The loader checks the width, the block count for that width,
 * every block (degree and noise within bounds, degree < message_modulus, <= 1 for
 * a bool) and that nothing trails. expect NULL accepts any known parameter set;
 * *params_out (may be NULL) receives the set. out is initialised here. */
int veil_radix_save(const struct veil_fhe_params *p, const struct veil_radix *r, veil_buf *out,
                    veil_err *err);
int veil_radix_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                    struct veil_radix *out, const struct veil_fhe_params **params_out,
                    veil_err *err);

/* Server-side evaluation context: server key, pool, a cache of lookup tables and
 * counters. Not shared between threads (the pool parallelises inside each call). */
struct veil_int_lut_entry;
struct veil_int_lut2_entry;
struct veil_int_server {
    const struct veil_fhe_params *params;
    const struct veil_shortint_server_key *sk;
    struct veil_threadpool *pool; /* may be NULL: single thread */
    uint64_t delta;               /* encoding of plaintext 1 (from a trivial ct) */
    size_t lwe_words;             /* words per block */
    struct veil_int_lut_entry **luts;
    size_t n_luts, cap_luts;
    struct veil_int_lut2_entry **luts2; /* two-function tables */
    size_t n_luts2, cap_luts2;
    uint64_t pbs_count;  /* PBS run since init (for benchmarks) */
    uint64_t pbs_levels; /* batches run since init: the PBS depth */
};

int veil_int_server_init(struct veil_int_server *s, const struct veil_fhe_params *p,
                         const struct veil_shortint_server_key *sk, struct veil_threadpool *pool,
                         veil_err *err);
void veil_int_server_free(struct veil_int_server *s);

/* Binary operations: out must be uninitialised (it is initialised here, and left
 * empty on failure). Operands must have equal widths (checked). */
enum veil_int_binop {
    VEIL_INT_ADD,
    VEIL_INT_SUB,
    VEIL_INT_AND,
    VEIL_INT_OR,
    VEIL_INT_XOR,
    VEIL_INT_MIN,
    VEIL_INT_MAX,
    /* comparisons: result is an FheBool (width 1) */
    VEIL_INT_EQ,
    VEIL_INT_NE,
    VEIL_INT_LT,
    VEIL_INT_LE,
    VEIL_INT_GT,
    VEIL_INT_GE,
};
int veil_int_binop(struct veil_int_server *s, enum veil_int_binop op, const struct veil_radix *a,
                   const struct veil_radix *b, struct veil_radix *out, veil_err *err);

enum veil_int_scalarop {
    VEIL_INT_ADD_SCALAR,
    VEIL_INT_SUB_SCALAR,
    VEIL_INT_MUL_SCALAR,
    VEIL_INT_SHL, /* shift left by a constant number of bits */
    VEIL_INT_SHR, /* logical shift right by a constant */
    /* comparisons with a constant (which must fit the width): an FheBool */
    VEIL_INT_EQ_SCALAR,
    VEIL_INT_NE_SCALAR,
    VEIL_INT_LT_SCALAR,
    VEIL_INT_LE_SCALAR,
    VEIL_INT_GT_SCALAR,
    VEIL_INT_GE_SCALAR,
};
int veil_int_scalarop(struct veil_int_server *s, enum veil_int_scalarop op,
                      const struct veil_radix *a, uint64_t scalar, struct veil_radix *out,
                      veil_err *err);

enum veil_int_unop {
    VEIL_INT_NEG, /* two's complement negation modulo 2^width */
    VEIL_INT_NOT, /* bitwise not (for FheBool: logical not) */
};
int veil_int_unop(struct veil_int_server *s, enum veil_int_unop op, const struct veil_radix *a,
                  struct veil_radix *out, veil_err *err);

/* out = cond ? a : b, cond an FheBool. */
int veil_int_select(struct veil_int_server *s, const struct veil_radix *cond,
                    const struct veil_radix *a, const struct veil_radix *b, struct veil_radix *out,
                    veil_err *err);

/* Index (and value) of the smallest (want_max = 0) or largest element of vals[0..n);
 * ties go to the lowest index. index_out has index_width bits (8/16/32/64, large
 * enough for n - 1); value_out may be NULL. */
int veil_int_argext(struct veil_int_server *s, int want_max, const struct veil_radix *vals,
                    size_t n, unsigned index_width, struct veil_radix *index_out,
                    struct veil_radix *value_out, veil_err *err);

/* Scheduling operations (issue 7). All are exact on any input and give
 * byte-identical results for any pool size.
 *
 * out = sum_i ((vals_i >> shift) mod 2^bits), in vals' width (shift and bits even,
 * 2 <= bits <= width; n (2^bits - 1) must fit the width, so nothing wraps). Only the
 * blocks of the fields are computed: one field is block moves (no PBS), each further
 * operand one carry propagation over the accumulated blocks; the blocks above the
 * result's range are trivially zero (degree 0). masks (NULL, or n booleans): field i
 * counts only where masks[i] is true (one PBS per field block). */
int veil_int_sum_bits(struct veil_int_server *s, const struct veil_radix *vals,
                      const struct veil_radix *masks, size_t n, unsigned shift, unsigned bits,
                      struct veil_radix *out, veil_err *err);
/* out = sum_i weights[i] * (vals_i mod 2^bits), where vals_i is an integer of
 * the operands' one width (8..32 bits) or a boolean (its value): the
 * latency/load cost of the weighted placement. The sum must stay below
 * 2^width (checked on the bound); bits even. One graph: each nonzero base-4
 * digit of a weight adds the field's blocks, scaled, to a column (no PBS),
 * the columns are reduced and propagated once; the result's blocks above its
 * range are trivially zero (degree 0). */
int veil_int_sum_weighted(struct veil_int_server *s, const struct veil_radix *vals,
                          const uint64_t *weights, size_t n, unsigned bits, struct veil_radix *out,
                          veil_err *err);
/* out = val + 2^(width - 2) * min(sum of flags, 3): flags (n <= 15 booleans) set the
 * top block of a value whose top block is known to be zero (degree 0, e.g. from
 * veil_int_sum_bits). No PBS for up to three flags (their sum is the block), one
 * clamp PBS for more, plus one per partial sum that reaches the noise budget (fresh
 * flags: 4-5 flags cost 1, 6-10 cost 2). */
int veil_int_flag_top(struct veil_int_server *s, const struct veil_radix *val,
                      const struct veil_radix *flags, size_t n, struct veil_radix *out,
                      veil_err *err);
/* Argmin over vals[0..n) (the veil_int_argext tournament; ties keep the earlier
 * position) returning labels[position] as an index_width-bit integer, and
 * (found_out, may be NULL) the boolean [min < 2^(width - 2)], i.e. the winner's
 * top block is 0: 2 PBS, where the value output and a comparison take ~13. */
int veil_int_argmin_labeled(struct veil_int_server *s, const struct veil_radix *vals,
                            const uint64_t *labels, size_t n, unsigned index_width,
                            struct veil_radix *index_out, struct veil_radix *found_out,
                            veil_err *err);
/* veil_int_argmin_labeled over node-computed keys (docs/SCHEDULING.md):
 * 16-bit keys that are a score below 2^14 - 1 or 0xFFFF (infeasible), whose
 * low 14 bits order them as the whole keys do, so only the low seven blocks
 * are compared; found = [min < 2^14] from the top block carried along, or,
 * from 16 keys on, [the winner's low bits are not all ones]. Any other key
 * only places its own node wrongly (it is the node's own claim). */
int veil_int_argmin_node_keys(struct veil_int_server *s, const struct veil_radix *vals,
                              const uint64_t *labels, size_t n, unsigned index_width,
                              struct veil_radix *index_out, struct veil_radix *found_out,
                              veil_err *err) VEIL_WARN_UNUSED;
/* Sharded rounds (docs/SCHEDULING.md): the labelled argmin that also hands
 * on the winner's key (key_out, vals' width; may be NULL), and the merge of
 * the shards' (key, encrypted index) winners: the same tournament with
 * encrypted labels (indices, all of one width), so the result equals the
 * unsharded argmin. */
int veil_int_argmin_keyed(struct veil_int_server *s, const struct veil_radix *vals,
                          const uint64_t *labels, size_t n, unsigned index_width,
                          struct veil_radix *index_out, struct veil_radix *found_out,
                          struct veil_radix *key_out, veil_err *err) VEIL_WARN_UNUSED;
int veil_int_argmin_merge(struct veil_int_server *s, const struct veil_radix *keys,
                          const struct veil_radix *indices, size_t n,
                          struct veil_radix *index_out, struct veil_radix *found_out,
                          struct veil_radix *key_out, veil_err *err) VEIL_WARN_UNUSED;
/* k replicas in one evaluation (1..64): index_out[r], found_out[r] are the
 * r-th winner once the earlier winners turned infeasible, equal to k rounds
 * that each exclude the nodes already chosen. key_out (may be NULL; k keys of
 * vals' width): the key the r-th tournament chose, which is the winner's
 * original key whenever it is found (a flagged key is infeasible, so a
 * feasible winner was never flagged) and an infeasible one (>= 2^(width-2))
 * otherwise: a shard's k-list for veil_int_argmin_merge_replicas. */
int veil_int_argmin_replicas(struct veil_int_server *s, const struct veil_radix *vals,
                             const uint64_t *labels, size_t n, unsigned index_width, size_t k,
                             struct veil_radix *index_out, struct veil_radix *found_out,
                             struct veil_radix *key_out, veil_err *err) VEIL_WARN_UNUSED;
/* The merge of S shards' k-lists (n = S k candidates, shard s's r-th winner
 * at position s k + r; n not a multiple of k is refused): k tournaments,
 * tournament j over the candidates of rank <= j (no other can win it), each
 * winner flagged by its position, giving the winners' encrypted indices
 * (indices: one width, 8 or 16 bits) and found bits: exactly the unsharded k
 * replicas (integer.c). */
int veil_int_argmin_merge_replicas(struct veil_int_server *s, const struct veil_radix *keys,
                                   const struct veil_radix *indices, size_t n, size_t k,
                                   struct veil_radix *index_out, struct veil_radix *found_out,
                                   veil_err *err) VEIL_WARN_UNUSED;
/* out = a mod 2^width as a width-bit integer (8..a's width): its low blocks, no PBS. */
int veil_int_truncate(struct veil_int_server *s, const struct veil_radix *a, unsigned width,
                      struct veil_radix *out, veil_err *err);

#endif /* VEIL_FHE_INTEGER_H */
