// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_sched.h - the FHE side of scheduling (owned by the veild
 * integration; see daemon_sched.c): telemetry as a compact ciphertext list,
 * its expansion, the circuit over the FHE library, output decryption.
 */
#ifndef VEIL_NODE_DAEMON_SCHED_H
#define VEIL_NODE_DAEMON_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/fhe.h>
#include <veil/node.h>

/* The 7 telemetry words as one compact list under the public key. */
int veil_daemon_telemetry_encrypt(const veil_fhe_public *pk,
                                  const uint16_t words[VEIL_TELEMETRY_WORDS], veil_buf *out,
                                  veil_err *err);
/* Expands a received list into 7 16-bit ciphertexts (caller frees each). */
int veil_daemon_telemetry_expand(const uint8_t *data, size_t len,
                                 veil_fhe_ct *out[VEIL_TELEMETRY_WORDS], veil_err *err);
/* One round over n nodes (node_words: n x 7, row-major; excluded may be
 * NULL). On success *none
 * tells that no node is a candidate (publicly unschedulable, out empty);
 * otherwise out gets u32be len || index ct || u32be len || found ct (index:
 * FheUint8 when n <= 256 and the result is encrypted, else FheUint16; found:
 * FheBool). */
int veil_daemon_schedule(veil_fhe_server *sk, const struct veil_sched_request *req,
                         veil_fhe_ct *const *node_words, size_t n_nodes, const bool *excluded,
                         veil_buf *out, bool *none, struct veil_sched_ops *ops, veil_err *err);
/* k replicas of one job placed by one round (docs/SCHEDULING.md "Replicas in
 * one round"): the circuit with ARGMIN_REPLICAS, public or confidential
 * (req_words: a confidential request's words, else NULL). out gets k pairs
 * u32be len || index ct || u32be len || found ct, replica 0's first; k = 1
 * is exactly veil_daemon_schedule(_confidential)'s output. */
int veil_daemon_schedule_batch(veil_fhe_server *sk, const struct veil_sched_request *req,
                               veil_fhe_ct *const *req_words, veil_fhe_ct *const *node_words,
                               size_t n_nodes, const bool *excluded, size_t k, veil_buf *out,
                               bool *none, struct veil_sched_ops *ops, veil_err *err);
/* ---- node-computed keys (daemon_keys.c) ----
 * A candidate's key (veil_sched_node_key) as a one-value compact list under
 * the public key (~17 KB), its expansion at a scheduler, and the round over
 * the keys alone: the labelled argmin over keys[i] for the candidates not
 * excluded (labels: their index i; 8-bit index when every label is below
 * 256, as the full circuit), or for k > 1 veil_fhe_argmin_replicas (a batch
 * round). out and *none exactly as veil_daemon_schedule_batch's; *pbs: the
 * PBS it ran. */
VEIL_WARN_UNUSED int veil_daemon_key_encrypt(const veil_fhe_public *pk, uint16_t key, veil_buf *out,
                                             veil_err *err);
VEIL_WARN_UNUSED int veil_daemon_key_expand(const uint8_t *data, size_t len, veil_fhe_ct **out,
                                            veil_err *err);
/* A shard of a key-path round: candidates [first, first + n) of `total`
 * (labels: their round-wide indices; index width as
 * veil_daemon_schedule_shard's), the winners' keys kept (k = 1:
 * veil_fhe_argmin_keyed; a batch: the shard's top k,
 * veil_fhe_argmin_replicas_keyed): fhe_out as veil_daemon_schedule_shard's. */
VEIL_WARN_UNUSED int veil_daemon_schedule_shard_keys(veil_fhe_server *sk, veil_fhe_ct *const *keys,
                                                     size_t n, const bool *excluded, size_t first,
                                                     size_t total, size_t k, veil_buf *fhe_out,
                                                     bool *none, uint64_t *pbs, veil_err *err);
VEIL_WARN_UNUSED int veil_daemon_schedule_keys(veil_fhe_server *sk, veil_fhe_ct *const *keys,
                                               size_t n, const bool *excluded, size_t k,
                                               veil_buf *out, bool *none, uint64_t *pbs,
                                               veil_err *err);

/* ---- confidential jobs (issue 7 section 4: --confidential) ----
 * Contract between the submitter, the daemon and the schedulers:
 *   1. The submitter calls veil_daemon_request_encrypt(pk, req, out, err)
 *      with the cluster public key and its quantized request (req->res[0..3],
 *      req->region, req->zone; policy and the confidential flag are public and
 *      not encrypted). It APPENDS to out one compact ciphertext list of the
 *      VEIL_DAEMON_REQUEST_WORDS 16-bit words in this order: cpu, memory, disk,
 *      gpu, region, zone (~17 KB, always < VEIL_DAEMON_REQUEST_MAX bytes). That
 *      blob is the JOB_SUBMIT "request ciphertext blob"; the spec JSON that is
 *      published next to it must not carry the plaintext resources.
 *   2. Each scheduler calls veil_daemon_request_expand(blob, len, words, err):
 *      it refuses anything but exactly such a list (size cap, container,
 *      width, count), and on success fills words[0..5] with new ciphertexts
 *      (caller frees each with veil_fhe_ct_free); on failure words[] is all NULL.
 *   3. The scheduler calls veil_daemon_schedule_confidential() with a request
 *      whose policy is the job's and whose confidential flag is true (its
 *      res/region/zone are ignored: set them to 0), and the expanded words
 *      (borrowed). The output has the same format as veil_daemon_schedule's and
 *      the decryptor reads it with veil_daemon_output_decrypt; it is
 *      byte-identical across schedulers given the same inputs (no fresh
 *      randomness), so digest agreement works as for public requests.
 *   The placement equals veil_sched_round() on the plaintext request (the
 *   oracle does not depend on confidentiality, only the cost does). */
#define VEIL_DAEMON_REQUEST_WORDS (VEIL_RES_COUNT + 2)
#define VEIL_DAEMON_REQUEST_MAX   (64u * 1024u)
int veil_daemon_request_encrypt(const veil_fhe_public *pk, const struct veil_sched_request *req,
                                veil_buf *out, veil_err *err);
int veil_daemon_request_expand(const uint8_t *data, size_t len,
                               veil_fhe_ct *out[VEIL_DAEMON_REQUEST_WORDS], veil_err *err);
int veil_daemon_schedule_confidential(veil_fhe_server *sk, const struct veil_sched_request *req,
                                      veil_fhe_ct *const req_words[VEIL_DAEMON_REQUEST_WORDS],
                                      veil_fhe_ct *const *node_words, size_t n_nodes,
                                      const bool *excluded, veil_buf *out, bool *none,
                                      struct veil_sched_ops *ops, veil_err *err);

/* The decryptor's side: index and found from an output as above. */
int veil_daemon_output_decrypt(const veil_fhe_client *ck, const uint8_t *data, size_t len,
                               uint32_t *index, bool *found, veil_err *err);
/* The same for an output of k pairs (k from the round: 1, or a batch
 * round's replica count): index[0..k), found[0..k). */
int veil_daemon_output_decrypt_k(const veil_fhe_client *ck, const uint8_t *data, size_t len,
                                 size_t k, uint32_t *index, bool *found, veil_err *err);
/* The parsing under it (fuzzed): exactly k pairs of an 8- or 16-bit index and
 * a 1-bit found ciphertext, nothing after; on success the caller frees them
 * with veil_daemon_output_cts_free, on failure they are all NULL. */
int veil_daemon_output_cts_parse(const uint8_t *data, size_t len, size_t k, veil_fhe_ct **index,
                                 veil_fhe_ct **found, veil_err *err);
void veil_daemon_output_cts_free(veil_fhe_ct **index, veil_fhe_ct **found, size_t k);

/* A round's output as schedulers send it to the decryptor:
 *   u32be n || n x (u8 len || peer ID bytes) || u8 none || FHE output
 * (the candidates in circuit order; the FHE output as veil_daemon_schedule
 * writes it, empty when none). *cands is malloc'ed (caller frees); *fhe
 * borrows from data. */
int veil_daemon_output_parse(const uint8_t *data, size_t len, struct veil_peer_id **cands,
                             size_t *n_cands, bool *none, const uint8_t **fhe, size_t *fhe_len,
                             veil_err *err);
/* The /veil/sched-output/1.0.0 message: job id (32) || replica u32be ||
 * epoch u64be || output. */
int veil_daemon_output_msg_parse(const uint8_t *data, size_t len, uint8_t job_id[32],
                                 uint32_t *replica, uint64_t *epoch, const uint8_t **output,
                                 size_t *output_len, veil_err *err);

/* ---- sharded rounds (docs/SCHEDULING.md "Sharded rounds in veild") ----
 * A shard scheduler evaluates the circuit over its shard's candidates
 * [first, first + n) of `total`, labelled with their round-wide indices
 * (index width: 8 bits when total <= 256, else 16, the same in every shard
 * so that the merge can select among them), and keeps the winners'
 * encrypted keys: k = 1, the winner (veil_fhe_argmin_keyed); a batch round's
 * shard (k = the parent's replicas), the shard's top k by k flagged
 * tournaments (veil_fhe_argmin_replicas_keyed). fhe_out gets k triples
 * u32be len || index || u32be len || found || u32be len || key, rank 0's
 * first; *none as veil_daemon_schedule's. req_words: a confidential
 * request's words, else NULL. */
int veil_daemon_schedule_shard(veil_fhe_server *sk, const struct veil_sched_request *req,
                               veil_fhe_ct *const *req_words, veil_fhe_ct *const *node_words,
                               size_t n_nodes, const bool *excluded, size_t first, size_t total,
                               size_t k, veil_buf *fhe_out, bool *none, veil_err *err);

/* A shard round's output, what its digest covers:
 *   u8 'S' || u32be total || u32be first || u32be n || u8 k
 *   || n x (u8 len || peer) || u8 none
 *   || (none: nothing; else k triples of ciphertexts as above)
 * The leading 'S' keeps it from ever parsing as a round's output; k (1 to
 * VEIL_SCHED_MAX_REPLICAS) is the parent round's batch, checked by the
 * decryptor against its own. */
#define VEIL_SHARD_OUTPUT_TAG 0x53
struct veil_shard_ct {
    const uint8_t *data; /* borrowed from the parsed data */
    size_t len;
};
struct veil_shard_output {
    uint32_t total, first, n, k;
    struct veil_peer_id *cands; /* n, malloc'ed */
    bool none;
    struct veil_shard_ct *ct; /* 3 k (none: NULL), malloc'ed: rank r's index, found, key at 3 r */
};
int veil_daemon_shard_output_encode(veil_buf *out, uint32_t total, uint32_t first, uint32_t k,
                                    const struct veil_peer_id *cands, uint32_t n, bool none,
                                    const uint8_t *fhe, size_t fhe_len, veil_err *err);
/* On success the caller frees it with veil_daemon_shard_output_free. */
int veil_daemon_shard_output_parse(const uint8_t *data, size_t len, struct veil_shard_output *out,
                                   veil_err *err);
void veil_daemon_shard_output_free(struct veil_shard_output *o);
/* The decryptor's merge of every shard's k-list (shards in order, each
 * parsed above and vouched for by its own schedulers' digest majority):
 * checks that they tile [0, total) and carry the round's k, and writes the
 * round's output in the unsharded format (u32be total || the candidates ||
 * u8 none || k (index, found) pairs), chosen by veil_fhe_argmin_merge (k = 1,
 * ties: the earlier shard) or veil_fhe_argmin_merge_replicas (a batch: the
 * unsharded batch's k), so that veil_daemon_output_decrypt_k reads it. */
int veil_daemon_shard_merge(veil_fhe_server *sk, const struct veil_shard_output *shards,
                            size_t n_shards, size_t k, veil_buf *out, veil_err *err);

/* ---- sharded rounds in the daemon (daemon_rounds.c, daemon_scheduler.c) ---- */
struct round;
struct veil_daemon;
/* A shard round: planned with its parent, no replica of its own. */
bool veil_daemon_round_is_shard(const struct round *r);
/* The parent's shard rounds of its current plan (kids[s], NULL where this
 * node holds none); returns their count, 0 when the round is not sharded. */
size_t veil_daemon_shard_children(struct veil_daemon *d, const struct round *parent,
                                  struct round *kids[VEIL_ROUND_MAX_SHARDS]);
/* The round a shard round belongs to (NULL: none held here), its shard
 * index and the shard count. */
struct round *veil_daemon_shard_parent(struct veil_daemon *d, const struct round *child,
                                       size_t *shard, size_t *n_shards);
/* The decryptor: once every shard of `parent` has an output its own
 * schedulers' digest majority vouches for, merges them on the worker pool,
 * decrypts only the merged (index, found) and signs the assignment. */
void veil_daemon_shard_try_merge(struct veil_daemon *d, struct round *parent);
/* The decryptor retries a round at once (reason: split), as for schedulers
 * whose digests cannot agree: a shard whose digests split, a sharded round
 * whose vouched shards do not tile one candidate list (their schedulers saw
 * a member die at different times), or a vouched output it cannot read (a
 * batch round's pair count not its own). */
void veil_daemon_shard_retry(struct veil_daemon *d, struct round *r);
/* The decryptor, for a shard round without a digest majority: when the
 * schedulers still alive and silent cannot make one any more (split, or a
 * scheduler died), its round is retried at once; true when it was. */
bool veil_daemon_shard_check(struct veil_daemon *d, struct round *r);
/* TEST ONLY: see daemon_scheduler.c. */
void veil_daemon_shard_test_lie(struct veil_daemon *d, struct round *c);

#endif /* VEIL_NODE_DAEMON_SCHED_H */
