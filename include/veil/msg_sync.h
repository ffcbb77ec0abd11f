// SPDX-License-Identifier: Apache-2.0
/*
 * msg_sync.h - the node-to-node sync messages that travel on direct libp2p
 * streams rather than the cluster topic (src/node/msg_sync.c): the
 * inclusion proofs a node asks its peers for when it holds a batch's
 * assignment but could not rebuild the batch's tree (it missed some of the
 * batch's other assignments: down, cut off, out of disk). An answer is only
 * a hint: the asker checks each proof against the root anchored on chain
 * before it keeps it.
 *
 * /veil/anchor-proof/1.0.0, one length-prefixed message each way:
 *   request: u8 version (1) || u16be n (1..VEIL_PROOF_QUERY_MAX)
 *            || n x (job id 32 || commitment 32)
 *   answer:  u8 version (1) || u16be n (0..VEIL_PROOF_QUERY_MAX)
 *            || n x (job id 32 || commitment 32 || u64be batch epoch
 *                    || root 32 || tx hash 32 || u8 depth (0..VEIL_PROOF_DEPTH_MAX)
 *                    || depth x sibling 32)
 * (the answer lists only the commitments the peer holds an anchor of).
 */
#ifndef VEIL_MSG_SYNC_H
#define VEIL_MSG_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#define VEIL_PROOF_PROTO       "/veil/anchor-proof/1.0.0"
#define VEIL_PROOF_VERSION     1
#define VEIL_PROOF_QUERY_MAX   64 /* commitments per request */
#define VEIL_PROOF_DEPTH_MAX   32 /* siblings: batches of up to 2^32 leaves */
#define VEIL_PROOF_ANSWER_MAX  (3 + VEIL_PROOF_QUERY_MAX * (137 + 32 * VEIL_PROOF_DEPTH_MAX))
#define VEIL_PROOF_REQUEST_MAX (3 + VEIL_PROOF_QUERY_MAX * 64)

struct veil_proof_query {
    uint8_t job[32];
    uint8_t commitment[32];
};

struct veil_proof_answer {
    uint8_t job[32];
    uint8_t commitment[32];
    uint64_t epoch; /* the batch epoch */
    uint8_t root[32];
    uint8_t tx[32];
    uint8_t depth;
    uint8_t proof[VEIL_PROOF_DEPTH_MAX][32];
};

VEIL_WARN_UNUSED int veil_msg_proof_request_encode(veil_buf *out, const struct veil_proof_query *q,
                                                   size_t n, veil_err *err);
/* Fills q[0..*n) (cap >= VEIL_PROOF_QUERY_MAX entries). */
VEIL_WARN_UNUSED int veil_msg_proof_request_decode(const uint8_t *data, size_t len,
                                                   struct veil_proof_query *q, size_t cap,
                                                   size_t *n, veil_err *err);
VEIL_WARN_UNUSED int veil_msg_proof_answer_encode(veil_buf *out, const struct veil_proof_answer *a,
                                                  size_t n, veil_err *err);
/* Fills a[0..*n) (cap >= VEIL_PROOF_QUERY_MAX entries). */
VEIL_WARN_UNUSED int veil_msg_proof_answer_decode(const uint8_t *data, size_t len,
                                                  struct veil_proof_answer *a, size_t cap,
                                                  size_t *n, veil_err *err);

#endif /* VEIL_MSG_SYNC_H */
