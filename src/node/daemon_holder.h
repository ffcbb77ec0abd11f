// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_holder.h - private to veild: the threshold side of a cluster whose
 * policy names key holders instead of a designated decryptor (issue 11; see
 * daemon_holder.c). Every node of such a cluster knows the dealing's public
 * material (the holders' keys and the threshold t) and counts the holders'
 * signed assignments; a key holder also squashes agreed scheduler outputs,
 * publishes its signed partial decryptions and combines everyone's.
 */
#ifndef VEIL_NODE_DAEMON_HOLDER_H
#define VEIL_NODE_DAEMON_HOLDER_H

#include <stdbool.h>
#include <stdint.h>

#include <veil/node.h>
#include <veil/p2p.h>
#include <veil/squash.h>
#include <veil/threshold.h>

#include "daemon.h"

struct round;

/* The cluster's threshold state on this node (veil_daemon.th). */
struct veil_holder {
    bool cluster; /* a threshold cluster (threshold.pub beside the public key) */
    veil_th_public pub;
    veil_p2p_peer_id peers[VEIL_TH_MAX_HOLDERS]; /* holder i is peers[i - 1] */
    veil_th_share *share;                        /* this node holds a share */
    unsigned index;                              /* its holder index, 1..n */
    veil_sq_key *sq;                             /* the squashing key (holders) */
    bool test_wrong;                             /* TEST ONLY: publish wrong partial decryptions */
    bool test_telemetry; /* TEST ONLY: be asked to decrypt a telemetry ciphertext once */
    bool test_telemetry_done;
};

/* One (index, found) pair of a round's agreed output: this holder's
 * squashed ciphertexts of it and the partial decryptions heard for it. A
 * batch round (issue 20) has one per replica it places. */
struct holder_pair {
    veil_sq_ct sq[2];
    /* partials heard, by holder index - 1 (the first per holder and output) */
    struct {
        bool have;
        uint64_t epoch;
        uint8_t output_digest[32];
        veil_th_partial p[2];
    } parts[VEIL_TH_MAX_HOLDERS];
};

/* A round's threshold data (allocated on first use, freed with the round). */
struct holder_round {
    /* this holder's squashed output, of the agreed output `output_digest`
     * (a later output - a retry, or the replica placed again - starts over) */
    bool have_sq;
    uint64_t epoch;
    uint8_t output_digest[32];
    uint32_t k; /* its (index, found) pairs: 1, or the batch round's replicas */
    struct holder_pair *pair[VEIL_SCHED_MAX_REPLICAS]; /* allocated on first use */
    bool none;       /* the agreed output named no candidate: nothing to decrypt */
    bool signed_own; /* this holder signed its assignment(s) of output_digest */
    uint32_t noted;  /* the holders the replica's note names already */
    /* holders' signed assignments, by the body they sign */
    struct {
        uint8_t body[32];
        uint32_t signers; /* bit i-1: holder i */
        struct veil_msg_assignment a;
    } votes[4];
    size_t n_votes;
};
void veil_holder_round_free(struct holder_round *h);

/* The dealing's public material taken by the node (every node of a
 * threshold cluster): its holders' peer IDs, and the rounds' threshold
 * data freed with them. */
void veil_daemon_holder_public(veil_daemon *d, const veil_th_public *pub);

/* The decrypted (index, found) pairs of an output over `nc` candidates ->
 * each replica's node (NULL: unschedulable; `none`: the output named no
 * candidate). -1 when a pair names no candidate of the output or two pairs
 * one node: a lying majority (the round starts over). The rule the
 * designated decryptor and the key holders apply alike. */
VEIL_WARN_UNUSED int veil_daemon_pairs_nodes(const uint32_t *index, const bool *found, size_t k,
                                             bool none, const struct veil_peer_id *cands, size_t nc,
                                             const struct veil_peer_id **nodes, veil_err *err);

/* A key holder's squash of an agreed output's k (index, found) pairs:
 * out[2j] and out[2j + 1] get pair j's index and found bit, exactly as
 * veil_sq_squash_compact gives them, three pairs per pass over the squashing
 * key (the squash batch's limit). Used by the holders' worker and by
 * bench/holder. */
VEIL_WARN_UNUSED int veil_holder_squash_pairs(const veil_sq_key *key, veil_fhe_server *sk,
                                              veil_fhe_ct *const *ci, veil_fhe_ct *const *cf,
                                              uint32_t k, veil_sq_ct *out, veil_err *err);

/* This key holder's squash of round r's agreed output (its digest and
 * epoch; k pairs: pair q's squashed index and found bit at sq[2q] and
 * sq[2q + 1], taken over and zeroed there, and this holder's partials of
 * them at p[2q], p[2q + 1]) kept in the round's threshold data; a batch
 * round also takes the partials of its pairs q > 0 that arrived before
 * this node planned it as a batch (filed with replica q's own round): those
 * of this very output only. Called by the holders' worker once a squash is
 * done (the partials are then published and combined) and by
 * test_node_holder_votes. -1: out of memory. */
VEIL_WARN_UNUSED int veil_holder_keep_own(veil_daemon *d, struct round *r, uint32_t k,
                                          uint64_t epoch, const uint8_t digest[32], veil_sq_ct *sq,
                                          const veil_th_partial *p, veil_err *err);

/* Loads the threshold material at start: the dealing (and its hash against
 * the on-chain policy), and on a key holder its share (opened with the
 * node's identity key) and the squashing key. */
VEIL_WARN_UNUSED int veil_daemon_holder_init(veil_daemon *d, const uint8_t policy_hash[32],
                                             size_t policy_holders, veil_err *err);
void veil_daemon_holder_free(veil_daemon *d);
/* The holder index of a peer (0: not a holder). */
unsigned veil_daemon_holder_of(const veil_daemon *d, const uint8_t *peer, size_t len);

#endif /* VEIL_NODE_DAEMON_HOLDER_H */
