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

#include <stdbool.h>
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

/* /veil/catch-up/1.0.0 (issue 18): a node asks a member for what it lacks
 * of that member's own jobs, saying what it holds; the member announces
 * again (on the topic) only the jobs the asker lacks and answers the
 * latest assignments of the jobs whose decisions differ:
 *   request: u8 version (1) || u32be n (0..VEIL_CATCHUP_JOBS_MAX)
 *            || n x (job id 32 || decisions digest 32)
 *   answer:  u8 version (1) || u16be jobs announced again
 *            || u16be n (0..VEIL_CATCHUP_ASG_MAX)
 *            || n x (u16be len (1..VEIL_CATCHUP_ASG_LEN) || ASSIGNMENT message)
 * The decisions digest is veil_catchup_digest over the job's latest
 * assignment per replica (all zero: none). */
#define VEIL_CATCHUP_PROTO       "/veil/catch-up/1.0.0"
#define VEIL_CATCHUP_JOBS_MAX    8192
#define VEIL_CATCHUP_ASG_MAX     256
#define VEIL_CATCHUP_ASG_LEN     1024
#define VEIL_CATCHUP_REQUEST_MAX (5 + VEIL_CATCHUP_JOBS_MAX * 64)
#define VEIL_CATCHUP_ANSWER_MAX  (5 + VEIL_CATCHUP_ASG_MAX * (2 + VEIL_CATCHUP_ASG_LEN))

struct veil_catchup_have {
    uint8_t job[32];
    uint8_t digest[32];
};
/* An answer borrows its assignment messages from the decoded bytes. */
struct veil_catchup_answer {
    uint16_t announced;
    size_t n;
    const uint8_t *asg[VEIL_CATCHUP_ASG_MAX];
    size_t asg_len[VEIL_CATCHUP_ASG_MAX];
};

/* Folds one replica's latest assignment (its commitment) into a job's
 * decisions digest; call in replica order on a zeroed state, then final. */
struct veil_catchup_digest {
    uint8_t acc[32];
    bool any;
};
void veil_catchup_digest_add(struct veil_catchup_digest *d, uint32_t replica,
                             const uint8_t commitment[32]);
void veil_catchup_digest_final(const struct veil_catchup_digest *d, uint8_t out[32]);

VEIL_WARN_UNUSED int veil_msg_catchup_request_encode(veil_buf *out,
                                                     const struct veil_catchup_have *h, size_t n,
                                                     veil_err *err);
/* *h is malloc'ed (caller frees; NULL when n is 0). */
VEIL_WARN_UNUSED int veil_msg_catchup_request_decode(const uint8_t *data, size_t len,
                                                     struct veil_catchup_have **h, size_t *n,
                                                     veil_err *err);
VEIL_WARN_UNUSED int
veil_msg_catchup_answer_encode(veil_buf *out, const struct veil_catchup_answer *a, veil_err *err);
VEIL_WARN_UNUSED int veil_msg_catchup_answer_decode(const uint8_t *data, size_t len,
                                                    struct veil_catchup_answer *a, veil_err *err);

#endif /* VEIL_MSG_SYNC_H */
